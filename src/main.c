/* berth: argv -> config -> server; signals; nothing else. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "gc/gc.h"
#include "lifecycle/lifecycle.h"
#include "server/admin.h"
#include "server/config.h"
#include "server/server.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: berth <command> [options]\n\n"
                 "Commands:\n"
                 "  serve     run the registry (see berth serve --help)\n"
                 "  fsck      check (and with --repair fix) a data directory\n"
                 "  gc        reclaim unreferenced blobs and abandoned uploads (online)\n"
                 "  admin     manage accounts, users, access keys and policies\n"
                 "  lifecycle run the repositories' lifecycle policies now (lifecycle run)\n"
                 "  version   print the version\n"
                 "  help      show this help\n");
}

static void setup_logging(const struct berth_config *cfg)
{
    enum berth_log_level level = BERTH_LOG_INFO;
    enum berth_log_format format = BERTH_LOG_TEXT;
    berth_log_level_parse(cfg->log_level, &level);
    berth_log_format_parse(cfg->log_format, &format);
    berth_log_setup(level, format);
}

static int cmd_serve(int argc, char **argv)
{
    struct berth_config cfg;
    int rc = berth_config_load(&cfg, BERTH_CMD_SERVE, argc, argv, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    setup_logging(&cfg);
    /* Block the shutdown signals before any thread exists, so every thread inherits the mask
     * and the main thread alone receives them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct berth_server s;
    if ((rc = berth_server_open(&s, &cfg)) < 0 || (rc = berth_server_run(&s)) < 0) {
        berth_log(BERTH_LOG_ERROR, NULL, "%s", berth_err_detail());
        berth_server_close(&s);
        return 1;
    }
    berth_server_close(&s);
    return 0;
}

static int cmd_fsck(int argc, char **argv)
{
    struct berth_config cfg;
    int rc = berth_config_load(&cfg, BERTH_CMD_FSCK, argc, argv, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    setup_logging(&cfg);
    struct berth_server s;
    struct berth_fsck_report rep;
    if ((rc = berth_server_open(&s, &cfg)) < 0 ||
        (rc = berth_registry_fsck(&s.registry, cfg.repair, stdout, &rep)) < 0) {
        fprintf(stderr, "berth fsck: %s\n", berth_err_detail());
        berth_server_close(&s);
        return 2;
    }
    berth_server_close(&s);
    uint64_t problems = berth_fsck_problems(&rep), garbage = berth_fsck_garbage(&rep);
    printf("fsck: %llu blobs and %llu manifests checked; %llu missing and %llu corrupt blobs, "
           "%llu corrupt manifests, %llu dangling references, %llu broken uploads; "
           "%llu orphaned blobs and %llu orphaned upload files; %llu repaired\n",
           (unsigned long long)rep.blobs_checked, (unsigned long long)rep.manifests_checked,
           (unsigned long long)rep.blobs_missing, (unsigned long long)rep.blobs_corrupt,
           (unsigned long long)rep.manifests_corrupt, (unsigned long long)rep.refs_dangling,
           (unsigned long long)rep.uploads_broken, (unsigned long long)rep.orphan_blobs,
           (unsigned long long)rep.orphan_uploads, (unsigned long long)rep.repaired);
    if (problems > 0 && cfg.repair) {
        printf("fsck: repaired %llu problems\n", (unsigned long long)problems);
        return 0;
    }
    if (problems == 0) {
        if (garbage && !cfg.repair)
            printf("fsck: clean (%llu orphaned files are reclaimable with --repair)\n",
                   (unsigned long long)garbage);
        else
            printf("fsck: clean\n");
        return 0;
    }
    printf("fsck: %llu problems found; run with --repair to remove them\n",
           (unsigned long long)problems);
    return 1;
}

static int cmd_gc(int argc, char **argv)
{
    struct berth_config cfg;
    int rc = berth_config_load(&cfg, BERTH_CMD_GC, argc, argv, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    setup_logging(&cfg);
    struct berth_server s;
    struct berth_gc_report rep;
    struct berth_gc_options o = {
        .grace = cfg.gc_grace,
        .upload_ttl = cfg.upload_ttl,
        .dry_run = cfg.dry_run,
        .walk_files = cfg.walk_files,
    };
    if ((rc = berth_server_open(&s, &cfg)) < 0 || (rc = berth_gc_run(&s.registry, &o, &rep)) < 0) {
        fprintf(stderr, "berth gc: %s\n", berth_err_detail());
        berth_server_close(&s);
        return 2;
    }
    berth_server_close(&s);
    char line[256];
    berth_gc_report_format(&rep, cfg.dry_run, line, sizeof(line));
    printf("gc%s: %s\n", cfg.dry_run ? " (dry run)" : "", line);
    return 0;
}

static void print_expired(void *ctx, const char *account, const char *repo,
                          const struct berth_lc_result *res, const struct berth_strlist *deleted)
{
    (void)ctx;
    printf("%s %s/%s@%s rule %lld tags [", deleted ? "expired" : "would expire", account, repo,
           res->digest, res->rule);
    for (size_t i = 0; i < res->tags.n; i++)
        printf("%s%s", i ? "," : "", res->tags.items[i]);
    printf("]");
    for (size_t i = 1; deleted && i < deleted->n; i++)
        printf("%s%s", i == 1 ? " with " : ",", deleted->items[i]);
    printf("\n");
}

static int cmd_lifecycle(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "run") != 0) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            berth_config_help(stdout, BERTH_CMD_LIFECYCLE);
            return 0;
        }
        fprintf(stderr, "Usage: berth lifecycle run [options] (see berth lifecycle --help)\n");
        return 2;
    }
    struct berth_config cfg;
    int rc = berth_config_load(&cfg, BERTH_CMD_LIFECYCLE, argc - 1, argv + 1, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    setup_logging(&cfg);
    struct berth_server s;
    struct berth_lc_run_report rep;
    if ((rc = berth_server_open(&s, &cfg)) < 0 ||
        (rc = berth_lifecycle_run(&s.registry, cfg.repository[0] ? cfg.account_id : NULL,
                                  cfg.repository[0] ? cfg.repository : NULL, cfg.dry_run,
                                  print_expired, NULL, &rep)) < 0) {
        fprintf(stderr, "berth lifecycle: %s\n", berth_err_detail());
        berth_server_close(&s);
        return 2;
    }
    berth_server_close(&s);
    if (cfg.repository[0] && rep.repositories == 0)
        printf("lifecycle: repository %s has no lifecycle policy\n", cfg.repository);
    printf("lifecycle%s: %llu policies evaluated, %llu images %s (%llu manifests deleted), %llu "
           "kept because they changed meanwhile\n",
           cfg.dry_run ? " (dry run)" : "", (unsigned long long)rep.repositories,
           (unsigned long long)rep.images_expired, cfg.dry_run ? "would expire" : "expired",
           (unsigned long long)rep.manifests_deleted, (unsigned long long)rep.skipped);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "fsck"))
        return cmd_fsck(argc - 2, argv + 2);
    if (!strcmp(cmd, "gc"))
        return cmd_gc(argc - 2, argv + 2);
    if (!strcmp(cmd, "lifecycle"))
        return cmd_lifecycle(argc - 2, argv + 2);
    if (!strcmp(cmd, "admin"))
        return berth_admin_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("berth %s\n", BERTH_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "berth: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
