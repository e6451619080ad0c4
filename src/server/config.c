#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "http/http.h"

enum type { T_STR, T_INT, T_BOOL };

struct setting {
    const char *name; /* flag and config-file key */
    const char *env;
    enum type type;
    size_t offset;
    size_t size; /* strings: buffer size */
    long long min, max;
    const char *def;
    unsigned commands;
    const char *help;
};

#define STR(f) T_STR, offsetof(struct berth_config, f), sizeof(((struct berth_config *)0)->f)
#define INT(f) T_INT, offsetof(struct berth_config, f), 0
#define BOOL(f) T_BOOL, offsetof(struct berth_config, f), 0
#define ALL_CMDS                                                                                   \
    (BERTH_CMD_SERVE | BERTH_CMD_FSCK | BERTH_CMD_ADMIN | BERTH_CMD_GC | BERTH_CMD_LIFECYCLE)
#define GC_CMDS (BERTH_CMD_SERVE | BERTH_CMD_GC)
#define LC_CMDS (BERTH_CMD_SERVE | BERTH_CMD_LIFECYCLE)
#define SERVE_ADMIN (BERTH_CMD_SERVE | BERTH_CMD_ADMIN)
#define SERVE BERTH_CMD_SERVE
#define XSTR(x) #x
#define NUM(x) XSTR(x)

static const struct setting settings[] = {
    {"config", "BERTH_CONFIG", STR(config_file), 0, 0, "", ALL_CMDS,
     "Read settings from this file (lines of `name = value`)"},
    {"listen", "BERTH_LISTEN", STR(listen), 0, 0, "127.0.0.1:5000", SERVE,
     "Address to listen on, HOST:PORT (IPv6 as [::1]:5000; port 0 picks a free port). "
     "Loopback by default: expose it deliberately with 0.0.0.0:5000"},
    {"data-dir", "BERTH_DATA_DIR", STR(data_dir), 0, 0, "./berth-data", ALL_CMDS,
     "Directory for metadata (meta.db) and blobs"},
    {"log-format", "BERTH_LOG_FORMAT", STR(log_format), 0, 0, "text", ALL_CMDS,
     "Log format: text or json"},
    {"log-level", "BERTH_LOG_LEVEL", STR(log_level), 0, 0, "info", ALL_CMDS,
     "Log level: debug, info, warn or error"},
    {"auto-create-repos", "BERTH_AUTO_CREATE_REPOS", BOOL(auto_create_repos), 0, 1, "false", SERVE,
     "Create a repository on its first push (ECR does not: a push to a missing repository "
     "fails with NAME_UNKNOWN)"},
    {"auth", "BERTH_AUTH", BOOL(auth), 0, 1, "true", SERVE,
     "Require credentials: SigV4 on the ECR API, registry tokens on /v2/. Turning it off "
     "makes every caller the default account's admin"},
    {"account-id", "BERTH_ACCOUNT_ID", STR(account_id), 0, 0, "000000000000",
     SERVE_ADMIN | BERTH_CMD_LIFECYCLE,
     "The default account (12 digits): its registry is served at the plain host name"},
    {"region", "BERTH_REGION", STR(region), 0, 0, "us-east-1", SERVE_ADMIN,
     "The region clients sign requests for and ARNs name"},
    {"public-url", "BERTH_PUBLIC_URL", STR(public_url), 0, 0, "", SERVE,
     "Registry address reported as proxyEndpoint and repositoryUri (default: the Host the "
     "client used)"},
    {"token-ttl", "BERTH_TOKEN_TTL", INT(token_ttl), 1, 7 * 24 * 3600, "43200", SERVE,
     "Seconds a registry token from GetAuthorizationToken stays valid (ECR: 12 hours)"},
    {"admin-access-key-id", "BERTH_ADMIN_ACCESS_KEY_ID", STR(admin_access_key_id), 0, 0, "", SERVE,
     "Bootstrap admin access key id (instead of a generated one printed at first start)"},
    {"admin-secret-access-key", "BERTH_ADMIN_SECRET_ACCESS_KEY", STR(admin_secret_access_key), 0, 0,
     "", SERVE, "Secret of the bootstrap admin access key"},
    {"max-manifest-size", "BERTH_MAX_MANIFEST_SIZE", INT(max_manifest_size), 1024, 64 * 1024 * 1024,
     NUM(4194304), SERVE, "Largest manifest accepted, in bytes"},
    {"max-header-size", "BERTH_MAX_HEADER_SIZE", INT(max_header_size), 4096, 1024 * 1024,
     NUM(65536), SERVE, "Largest request line plus headers accepted, in bytes (431 beyond)"},
    {"connection-buffer", "BERTH_CONNECTION_BUFFER", INT(connection_buffer), 16384,
     16 * 1024 * 1024, NUM(131072), SERVE,
     "Memory per connection for headers and receive buffering, in bytes; larger buffers "
     "read big pushes in fewer calls but cost every request on a kept-alive connection "
     "(at most max-connections times this)"},
    {"max-concurrent-uploads", "BERTH_MAX_CONCURRENT_UPLOADS", INT(max_concurrent_uploads), 1,
     100000, "256", SERVE, "Upload requests streaming at once; more get 429"},
    {"request-timeout", "BERTH_REQUEST_TIMEOUT", INT(request_timeout), 1, 86400, "120", SERVE,
     "Seconds a connection may stay silent before it is closed"},
    {"drain-timeout", "BERTH_DRAIN_TIMEOUT", INT(drain_timeout), 0, 3600, "30", SERVE,
     "Seconds SIGTERM/SIGINT wait for in-flight requests"},
    {"threads", "BERTH_THREADS", INT(threads), 1, 1024, "8", SERVE,
     "Worker threads serving connections"},
    {"max-connections", "BERTH_MAX_CONNECTIONS", INT(max_connections), 1, 100000, "1024", SERVE,
     "Connections open at once"},
    {"repair", NULL, BOOL(repair), 0, 1, "false", BERTH_CMD_FSCK,
     "Remove what is inconsistent instead of only reporting it"},
    {"lifecycle-interval", "BERTH_LIFECYCLE_INTERVAL", INT(lifecycle_interval), 0, 30 * 86400,
     "3600", SERVE, "Seconds between background lifecycle policy runs (0: only on demand)"},
    {"gc-interval", "BERTH_GC_INTERVAL", INT(gc_interval), 0, 30 * 86400, "3600", SERVE,
     "Seconds between background garbage collection runs (0: only on demand)"},
    {"gc-grace", "BERTH_GC_GRACE", INT(gc_grace), 0, 365 * 86400, "86400", GC_CMDS,
     "Seconds a blob stays after it was last uploaded, mounted or checked for, even when no "
     "manifest references it (protects pushes in progress)"},
    {"upload-ttl", "BERTH_UPLOAD_TTL", INT(upload_ttl), 60, 365 * 86400, "86400", GC_CMDS,
     "Seconds an upload session may stay idle before garbage collection removes it"},
    {"storage-price", "BERTH_STORAGE_PRICE", STR(storage_price), 0, 0, "0.10", BERTH_CMD_ADMIN,
     "Storage price in dollars per GB-month for `berth admin usage` (ECR: 0.10)"},
    {"dry-run", NULL, BOOL(dry_run), 0, 1, "false", BERTH_CMD_GC | BERTH_CMD_LIFECYCLE,
     "Report what would be removed without removing anything"},
    {"walk-files", NULL, BOOL(walk_files), 0, 1, "false", BERTH_CMD_GC,
     "Also look at every blob file for one without a metadata row (otherwise done only after "
     "an unclean server stop or a failed upload commit)"},
    {"repository", NULL, STR(repository), 0, 0, "", BERTH_CMD_LIFECYCLE,
     "Run only this repository's policy, in --account-id's registry (default: every "
     "repository with a policy, in every account)"},
    {"test-clock-file", "BERTH_TEST_CLOCK_FILE", STR(test_clock_file), 0, 0, "",
     LC_CMDS | BERTH_CMD_ADMIN,
     "For tests: read the registry's clock (push and pull times, lifecycle age, usage days) "
     "as epoch seconds from this file; real time when it is missing or empty"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].name) == len && memcmp(settings[i].name, name, len) == 0)
            return &settings[i];
    return NULL;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int set(struct berth_config *c, const struct setting *s, const char *v, const char *src,
               FILE *err)
{
    char *field = (char *)c + s->offset;
    switch (s->type) {
    case T_STR:
        if (strlen(v) >= s->size) {
            fprintf(err, "berth: %s (from %s) is too long\n", s->name, src);
            return -1;
        }
        strcpy(field, v);
        return 0;
    case T_BOOL:
        if (parse_bool(v, (int *)(void *)field) < 0) {
            fprintf(err, "berth: %s (from %s) must be true or false, not '%s'\n", s->name, src, v);
            return -1;
        }
        return 0;
    case T_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < s->min || n > s->max) {
            fprintf(err, "berth: %s (from %s) must be an integer from %lld to %lld, not '%s'\n",
                    s->name, src, s->min, s->max, v);
            return -1;
        }
        *(long long *)(void *)field = n;
        return 0;
    }
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int load_file(struct berth_config *c, enum berth_command cmd, const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(err, "berth: cannot read config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = trim(line);
        if (*p == '\0' || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(err, "berth: %s:%d: expected `name = value`\n", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(p), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        const struct setting *s = find(key, strlen(key));
        if (!s || !(s->commands & cmd) || !strcmp(key, "config")) {
            fprintf(err, "berth: %s:%d: unknown setting '%s'\n", path, lineno, key);
            rc = -1;
            break;
        }
        char src[1100];
        snprintf(src, sizeof(src), "%s:%d", path, lineno);
        rc = set(c, s, val, src, err);
    }
    fclose(f);
    return rc;
}

int berth_config_load(struct berth_config *out, enum berth_command cmd, int argc, char **argv,
                      FILE *err)
{
    memset(out, 0, sizeof(*out));
    out->command = cmd;
    for (size_t i = 0; i < NSETTINGS; i++)
        if (set(out, &settings[i], settings[i].def, "default", err) < 0)
            return -1;

    /* The config file is named first (flag or env) so the other sources can override it. */
    const char *file = getenv("BERTH_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            berth_config_help(stdout, cmd);
            return 1;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && load_file(out, cmd, file, err) < 0)
        return -1;

    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *v = s->env ? getenv(s->env) : NULL;
        if (v && (s->commands & cmd) && set(out, s, v, s->env, err) < 0)
            return -1;
    }

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(err, "berth: unexpected argument '%s' (see --help)\n", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = find(name, nlen);
        if (!s || !(s->commands & cmd)) {
            fprintf(err, "berth: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        const char *v;
        int dummy;
        if (eq) {
            v = eq + 1;
        } else if (s->type == T_BOOL) {
            if (i + 1 < argc && parse_bool(argv[i + 1], &dummy) == 0)
                v = argv[++i];
            else
                v = "true";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            fprintf(err, "berth: option --%s needs a value\n", s->name);
            return -1;
        }
        if (set(out, s, v, "command line", err) < 0)
            return -1;
    }

    if (strcmp(out->log_format, "text") && strcmp(out->log_format, "json")) {
        fprintf(err, "berth: log-format must be text or json\n");
        return -1;
    }
    if (strcmp(out->log_level, "debug") && strcmp(out->log_level, "info") &&
        strcmp(out->log_level, "warn") && strcmp(out->log_level, "error")) {
        fprintf(err, "berth: log-level must be debug, info, warn or error\n");
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if ((cmd & BERTH_CMD_SERVE) && berth_http_parse_listen(out->listen, &ss, &sl) < 0) {
        fprintf(err,
                "berth: listen must be HOST:PORT with a numeric IP, localhost or [IPv6], "
                "not '%s'\n",
                out->listen);
        return -1;
    }
    size_t al = strlen(out->account_id);
    int digits = al == 12;
    for (size_t i = 0; i < al; i++)
        digits &= isdigit((unsigned char)out->account_id[i]) != 0;
    if ((cmd & (BERTH_CMD_SERVE | BERTH_CMD_ADMIN | BERTH_CMD_LIFECYCLE)) && !digits) {
        fprintf(err, "berth: account-id must be 12 digits, not '%s'\n", out->account_id);
        return -1;
    }
    if ((cmd & (BERTH_CMD_SERVE | BERTH_CMD_ADMIN)) && !out->region[0]) {
        fprintf(err, "berth: region must not be empty\n");
        return -1;
    }
    char *end = NULL;
    double price = strtod(out->storage_price, &end);
    if (end == out->storage_price || *end || !(price >= 0)) {
        fprintf(err, "berth: storage-price must be a non-negative number, not '%s'\n",
                out->storage_price);
        return -1;
    }
    if (!out->data_dir[0]) {
        fprintf(err, "berth: data-dir must not be empty\n");
        return -1;
    }
    return 0;
}

void berth_config_help(FILE *out, enum berth_command cmd)
{
    if (cmd == BERTH_CMD_SERVE)
        fprintf(out, "Usage: berth serve [options]\n\n"
                     "Serves the OCI Distribution API (/v2/) and the Amazon ECR API (POST /,\n"
                     "SigV4) on one port, with SQLite metadata and filesystem blobs under\n"
                     "--data-dir.\n\n");
    else if (cmd == BERTH_CMD_ADMIN)
        fprintf(out, "Usage: berth admin <command> [arguments] [options]\n\n"
                     "Manages accounts, IAM users, access keys and identity policies in\n"
                     "--data-dir (also while the server runs). Commands:\n"
                     "  create-account ACCOUNT_ID\n"
                     "  create-user --account ID --user NAME\n"
                     "  create-access-key --account ID --user NAME   (prints id and secret)\n"
                     "  deactivate-access-key --key KEY_ID           (revokes its tokens too)\n"
                     "  activate-access-key --key KEY_ID\n"
                     "  put-policy --account ID --name NAME --document JSON|@FILE\n"
                     "  attach-policy --account ID --user NAME --name POLICY\n"
                     "  usage [--account ID] [--format text|json]\n"
                     "      per repository of the account (default: --account-id): stored\n"
                     "      bytes, images, untagged images, pulls and bytes served in the last\n"
                     "      30 days, estimated storage cost at --storage-price; then the\n"
                     "      registry's physical bytes and the deduplication saving\n\n");
    else if (cmd == BERTH_CMD_GC)
        fprintf(out, "Usage: berth gc [options]\n\n"
                     "Reclaims blobs no manifest references any more and removes abandoned\n"
                     "upload sessions in --data-dir, while the server keeps serving (see\n"
                     "docs/gc.md). Prints what it reclaimed.\n\n");
    else if (cmd == BERTH_CMD_LIFECYCLE)
        fprintf(out, "Usage: berth lifecycle run [options]\n\n"
                     "Applies the repositories' lifecycle policies now (the server also does\n"
                     "it every --lifecycle-interval seconds) and prints each expired image.\n\n");
    else
        fprintf(out, "Usage: berth fsck [options]\n\n"
                     "Re-hashes every blob and checks every manifest reference in --data-dir.\n"
                     "Run it with the server stopped. Exit status: 0 consistent (or repaired),\n"
                     "1 problems found, 2 the check could not run.\n\n");
    fprintf(out, "Every option is also an environment variable and a config-file key.\n"
                 "Precedence: flag > environment > config file > default.\n\nOptions:\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (!(s->commands & cmd))
            continue;
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", s->name,
                 s->type == T_BOOL  ? "[BOOL]"
                 : s->type == T_INT ? "N"
                                    : "VALUE");
        fprintf(out, "  %-34s %s\n", flag, s->help);
        if (s->env)
            fprintf(out, "  %-34s env %s, default: %s\n", "", s->env, *s->def ? s->def : "(none)");
        else
            fprintf(out, "  %-34s default: %s\n", "", s->def);
    }
    fprintf(out, "  %-34s %s\n", "--help", "Show this help");
}
