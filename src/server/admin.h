/* admin — the `berth admin` command: accounts, users, access keys, identity policies, and the
 * storage accounting report. */
#ifndef BERTH_SERVER_ADMIN_H
#define BERTH_SERVER_ADMIN_H

#include <stdio.h>

#include "registry/usage.h"

/* argv[0] is the admin subcommand; returns the process exit status. */
int berth_admin_main(int argc, char **argv);

/* `berth admin usage`: prints the report as a fixed-width table with a TOTAL row and the
 * registry's physical bytes, or (json) as one JSON object. price_text is the validated
 * storage-price setting, dollars per GB-month. */
int berth_admin_usage_print(FILE *out, const char *account, const struct berth_usage_report *rep,
                            const char *price_text, int json);

#endif
