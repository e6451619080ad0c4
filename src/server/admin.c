/*
 * `berth admin`: accounts, IAM users, access keys and identity policies, written straight
 * into the data directory's metadata store, and the storage accounting report (`usage`). It
 * does not take the server's lock, so it works while the server runs; the server reads
 * identity per request, so a deactivated key stops working at once.
 */
#include "server/admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/err.h"
#include "core/limits.h"
#include "server/server.h"

/* A usage mistake, already explained on stderr (distinct from every BERTH_E* code). */
#define BAD (-1000)

struct admin_args {
    const char *account, *user, *name, *document, *key, *format;
};

/* Splits the command's own flags from the settings (which go to the config loader). */
static int split_args(int argc, char **argv, struct admin_args *a, char **rest, int *nrest,
                      const char **positional)
{
    static const char *const own[] = {"--account",  "--user", "--name",
                                      "--document", "--key",  "--format"};
    const char **slot[] = {&a->account, &a->user, &a->name, &a->document, &a->key, &a->format};
    *nrest = 0;
    for (int i = 0; i < argc; i++) {
        int matched = 0;
        for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
            size_t n = strlen(own[k]);
            if (!strncmp(argv[i], own[k], n) && argv[i][n] == '=') {
                *slot[k] = argv[i] + n + 1;
                matched = 1;
            } else if (!strcmp(argv[i], own[k])) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "berth admin: %s needs a value\n", own[k]);
                    return -1;
                }
                *slot[k] = argv[++i];
                matched = 1;
            }
        }
        if (matched)
            continue;
        if (strncmp(argv[i], "--", 2) != 0 && !*positional) {
            *positional = argv[i];
            continue;
        }
        rest[(*nrest)++] = argv[i];
        /* every admin setting takes a value: keep `--data-dir DIR` together */
        if (!strchr(argv[i], '=') && strcmp(argv[i], "--help") && strcmp(argv[i], "-h") &&
            i + 1 < argc)
            rest[(*nrest)++] = argv[++i];
    }
    return 0;
}

static int need(const char *v, const char *flag)
{
    if (v && *v)
        return 0;
    fprintf(stderr, "berth admin: %s is required\n", flag);
    return BAD;
}

static int account_valid(const char *a)
{
    size_t n = strlen(a);
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)a[i]))
            return 0;
    return n == 12;
}

/* IAM's user and policy name grammar: [\w+=,.@-], 1 to 64 characters. */
static int iam_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_+=,.@-", s[i]))
            return 0;
    return 1;
}

static char *read_document(const char *arg)
{
    if (arg[0] != '@')
        return strdup(arg);
    FILE *f = fopen(arg + 1, "r");
    if (!f) {
        fprintf(stderr, "berth admin: cannot read %s: %s\n", arg + 1, strerror(errno));
        return NULL;
    }
    char *buf = malloc(BERTH_POLICY_MAX + 2);
    size_t n = buf ? fread(buf, 1, BERTH_POLICY_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > BERTH_POLICY_MAX) {
        fprintf(stderr, "berth admin: %s is larger than %d bytes\n", arg + 1, BERTH_POLICY_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* usage [--account ID] [--format text|json]: storage and traffic per repository. */
static int usage(struct berth_server *s, const struct admin_args *a)
{
    const char *account = a->account ? a->account : s->cfg.account_id;
    const char *format = a->format ? a->format : "text";
    if (strcmp(format, "text") && strcmp(format, "json")) {
        fprintf(stderr, "berth admin: --format must be text or json\n");
        return BAD;
    }
    int rc = s->meta->ops->account_exists(s->meta->impl, account);
    if (rc < 0)
        return rc;
    /* A registry core over the store alone, for its clock (the one the server counted days
     * with, including a test clock) and the report; it serves nothing. */
    struct berth_registry reg;
    struct berth_registry_options ro = {.clock_file = s->cfg.test_clock_file};
    struct berth_usage_report rep;
    berth_registry_init(&reg, s->meta, NULL, &ro);
    rc = berth_registry_usage_report(&reg, account, &rep);
    berth_registry_dispose(&reg);
    if (rc < 0)
        return rc;
    rc = berth_admin_usage_print(stdout, account, &rep, s->cfg.storage_price,
                                 !strcmp(format, "json"));
    berth_usage_report_dispose(&rep);
    return rc;
}

static int run(struct berth_server *s, const char *cmd, const char *arg, const struct admin_args *a)
{
    struct berth_meta *m = s->meta;
    struct berth_meta_user u;
    int rc;
    if (a->account && !account_valid(a->account)) {
        fprintf(stderr, "berth admin: --account must be 12 digits\n");
        return BAD;
    }
    if (!strcmp(cmd, "create-account")) {
        if (!arg || !account_valid(arg)) {
            fprintf(stderr, "berth admin: create-account needs a 12-digit account id\n");
            return BAD;
        }
        if ((rc = m->ops->account_ensure(m->impl, arg)) < 0 ||
            (rc = m->ops->user_create(m->impl, arg, "admin", 1, NULL)) < 0)
            return rc;
        printf("created account %s (with its admin user)\n", arg);
        return 0;
    }
    if (!strcmp(cmd, "create-user")) {
        if (need(a->account, "--account") || need(a->user, "--user"))
            return BAD;
        if (!iam_name_valid(a->user)) {
            fprintf(stderr, "berth admin: user names are 1 to 64 of [A-Za-z0-9_+=,.@-]\n");
            return BAD;
        }
        if ((rc = m->ops->account_exists(m->impl, a->account)) < 0 ||
            (rc = m->ops->user_create(m->impl, a->account, a->user, 0, NULL)) < 0)
            return rc;
        printf("created user arn:aws:iam::%s:user/%s\n", a->account, a->user);
        return 0;
    }
    if (!strcmp(cmd, "create-access-key")) {
        if (need(a->account, "--account") || need(a->user, "--user"))
            return BAD;
        char id[BERTH_KEY_ID_LEN + 1], secret[BERTH_SECRET_LEN + 1];
        if ((rc = m->ops->user_get(m->impl, a->account, a->user, &u)) < 0 ||
            (rc = berth_auth_key_create(&s->auth, u.id, NULL, NULL, id, sizeof(id), secret,
                                        sizeof(secret))) < 0)
            return rc;
        /* the one time the secret is shown: to the operator who asked for it */
        printf("AccessKeyId %s\nSecretAccessKey %s\n", id, secret);
        return 0;
    }
    if (!strcmp(cmd, "deactivate-access-key") || !strcmp(cmd, "activate-access-key")) {
        if (need(a->key, "--key"))
            return BAD;
        int on = !strcmp(cmd, "activate-access-key");
        if ((rc = m->ops->key_set_active(m->impl, a->key, on)) < 0)
            return rc;
        printf("access key %s is now %s\n", a->key, on ? "active" : "inactive");
        return 0;
    }
    if (!strcmp(cmd, "put-policy")) {
        if (need(a->account, "--account") || need(a->name, "--name") ||
            need(a->document, "--document"))
            return BAD;
        if (!iam_name_valid(a->name)) {
            fprintf(stderr, "berth admin: policy names are 1 to 64 of [A-Za-z0-9_+=,.@-]\n");
            return BAD;
        }
        char *doc = read_document(a->document);
        if (!doc)
            return BAD;
        struct berth_policy *p = NULL;
        rc = berth_policy_parse(doc, strlen(doc), 0, &p);
        berth_policy_free(p);
        if (rc == 0 && (rc = m->ops->account_exists(m->impl, a->account)) == 0)
            rc = m->ops->policy_put(m->impl, a->account, a->name, doc);
        free(doc);
        if (rc == 0)
            printf("stored policy %s in account %s\n", a->name, a->account);
        return rc;
    }
    if (!strcmp(cmd, "attach-policy")) {
        if (need(a->account, "--account") || need(a->user, "--user") || need(a->name, "--name"))
            return BAD;
        if ((rc = m->ops->user_get(m->impl, a->account, a->user, &u)) < 0 ||
            (rc = m->ops->policy_attach(m->impl, u.id, a->account, a->name)) < 0)
            return rc;
        printf("attached %s to user %s\n", a->name, a->user);
        return 0;
    }
    if (!strcmp(cmd, "usage"))
        return usage(s, a);
    fprintf(stderr, "berth admin: unknown command '%s' (see berth admin --help)\n", cmd);
    return BAD;
}

int berth_admin_main(int argc, char **argv)
{
    struct admin_args a = {0};
    const char *cmd = NULL, *arg = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    int nrest = 0, rc = 2;
    if (!rest)
        return 2;
    if (argc > 0 && strncmp(argv[0], "--", 2) != 0) {
        cmd = argv[0];
        argc--;
        argv++;
    }
    if (split_args(argc, argv, &a, rest, &nrest, &arg) < 0)
        goto out;
    struct berth_config cfg;
    int lr = berth_config_load(&cfg, BERTH_CMD_ADMIN, nrest, rest, stderr);
    if (lr != 0) {
        rc = lr > 0 ? 0 : 2;
        goto out;
    }
    if (!cmd) {
        berth_config_help(stderr, BERTH_CMD_ADMIN);
        goto out;
    }
    struct berth_server s;
    berth_err_clear();
    int r = berth_server_open_admin(&s, &cfg);
    if (r == 0)
        r = run(&s, cmd, arg, &a);
    if (r < 0 && r != BAD)
        fprintf(stderr, "berth admin: %s\n", berth_err_detail());
    berth_server_close(&s);
    rc = r < 0 ? 1 : 0;
out:
    free(rest);
    return rc;
}
