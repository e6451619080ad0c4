/* admin — the `berth admin` command: accounts, users, access keys, identity policies. */
#ifndef BERTH_SERVER_ADMIN_H
#define BERTH_SERVER_ADMIN_H

/* argv[0] is the admin subcommand; returns the process exit status. */
int berth_admin_main(int argc, char **argv);

#endif
