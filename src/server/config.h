/*
 * config — every setting in one table (Redis config.c): name, type, bounds, default, env var,
 * help. Each setting is a flag (--name VALUE or --name=VALUE), an environment variable
 * (BERTH_NAME) and a config-file key (name = value); later sources win:
 * defaults < config file < environment < flags. --help is generated from the table.
 * The result is validated once at start and never changes afterwards.
 */
#ifndef BERTH_SERVER_CONFIG_H
#define BERTH_SERVER_CONFIG_H

#include <stdio.h>

enum berth_command {
    BERTH_CMD_SERVE = 1,
    BERTH_CMD_FSCK = 2,
    BERTH_CMD_ADMIN = 4,
    BERTH_CMD_GC = 8,
    BERTH_CMD_LIFECYCLE = 16,
};

struct berth_config {
    enum berth_command command; /* which command the settings were loaded for */
    char config_file[1024];
    char listen[256];
    char data_dir[1024];
    char log_format[8];
    char log_level[8];
    int auto_create_repos;
    int auth;
    char account_id[16];
    char region[32];
    char public_url[256];
    long long token_ttl;
    char admin_access_key_id[130];
    char admin_secret_access_key[130];
    long long max_manifest_size;
    long long max_header_size;
    long long connection_buffer;
    long long max_concurrent_uploads;
    long long request_timeout;
    long long drain_timeout;
    long long threads;
    long long max_connections;
    int repair; /* fsck only */
    long long lifecycle_interval;
    long long gc_interval;
    long long gc_grace;
    long long upload_ttl;
    char storage_price[32]; /* $ per GB-month, decimal */
    char test_clock_file[1024];
    int dry_run;          /* gc, lifecycle run */
    int walk_files;       /* gc: walk every blob file */
    char repository[256]; /* lifecycle run */
};

/* Fills out from defaults, file, environment and argv (argv[0] is the first option).
 * Returns 0, 1 when --help was printed, or -1 after printing the problem to err. */
int berth_config_load(struct berth_config *out, enum berth_command cmd, int argc, char **argv,
                      FILE *err);
void berth_config_help(FILE *out, enum berth_command cmd);

#endif
