/*
 * Configuration: one table, four sources, later sources win:
 * defaults < config file < environment < flags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

static const char *const env_vars[] = {
    "BERTH_CONFIG",
    "BERTH_LISTEN",
    "BERTH_DATA_DIR",
    "BERTH_LOG_FORMAT",
    "BERTH_LOG_LEVEL",
    "BERTH_AUTO_CREATE_REPOS",
    "BERTH_MAX_MANIFEST_SIZE",
    "BERTH_MAX_HEADER_SIZE",
    "BERTH_MAX_CONCURRENT_UPLOADS",
    "BERTH_REQUEST_TIMEOUT",
    "BERTH_DRAIN_TIMEOUT",
    "BERTH_THREADS",
    "BERTH_MAX_CONNECTIONS",
    "BERTH_AUTH",
    "BERTH_ACCOUNT_ID",
    "BERTH_REGION",
    "BERTH_PUBLIC_URL",
    "BERTH_ADMIN_ACCESS_KEY_ID",
    "BERTH_ADMIN_SECRET_ACCESS_KEY",
    "BERTH_TOKEN_TTL",
};

struct fixture {
    char dir[64];
    char file[128];
    FILE *err;
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
        unsetenv(env_vars[i]);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-config-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->file, sizeof(f->file), "%s/berth.conf", f->dir);
    f->err = tmpfile();
    if (!f->err) {
        rmdir(f->dir);
        free(f);
        return -1;
    }
    clear_env();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    clear_env();
    fclose(f->err);
    unlink(f->file);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->file, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* What was printed to err so far (static buffer). */
static const char *err_text(struct fixture *f)
{
    static char buf[4096];
    fflush(f->err);
    rewind(f->err);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f->err);
    buf[n] = '\0';
    return buf;
}

static int load(struct fixture *f, struct berth_config *c, enum berth_command cmd, int argc,
                const char **argv)
{
    return berth_config_load(c, cmd, argc, (char **)argv, f->err);
}

static void defaults(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), 0);
    assert_string_equal(c.listen, "127.0.0.1:5000");
    assert_string_equal(c.data_dir, "./berth-data");
    assert_string_equal(c.log_format, "text");
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.config_file, "");
    assert_int_equal(c.auto_create_repos, 0); /* ECR: a push needs an existing repository */
    assert_int_equal(c.auth, 1);              /* secure by default */
    assert_string_equal(c.account_id, "000000000000");
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.public_url, "");
    assert_string_equal(c.admin_access_key_id, "");
    assert_int_equal(c.token_ttl, 43200);
    assert_int_equal(c.max_manifest_size, 4194304);
    assert_int_equal(c.max_header_size, 65536);
    assert_int_equal(c.max_concurrent_uploads, 256);
    assert_int_equal(c.request_timeout, 120);
    assert_int_equal(c.drain_timeout, 30);
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.repair, 0);
    assert_string_equal(err_text(f), "");
}

static void precedence(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    write_file(f, "# comment\n"
                  "\n"
                  "listen = 0.0.0.0:7000\n"
                  "threads = 3\n"
                  "drain-timeout = 5\n"
                  "   data-dir   =   \"/srv/from file\"   \n"
                  "log-level = debug\n");

    /* File over defaults. */
    const char *a1[] = {"--config", f->file};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 2, a1), 0);
    assert_string_equal(c.listen, "0.0.0.0:7000");
    assert_int_equal(c.threads, 3);
    assert_int_equal(c.drain_timeout, 5);
    assert_string_equal(c.data_dir, "/srv/from file");
    assert_string_equal(c.log_level, "debug");
    assert_string_equal(c.config_file, f->file);
    assert_int_equal(c.request_timeout, 120); /* untouched: default */

    /* Environment over file. */
    setenv("BERTH_THREADS", "4", 1);
    setenv("BERTH_LISTEN", "[::1]:6000", 1);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 2, a1), 0);
    assert_int_equal(c.threads, 4);
    assert_string_equal(c.listen, "[::1]:6000");
    assert_int_equal(c.drain_timeout, 5);

    /* Flags over environment, in both spellings. */
    char cfg_flag[200];
    snprintf(cfg_flag, sizeof(cfg_flag), "--config=%s", f->file);
    const char *a3[] = {cfg_flag, "--threads=5", "--listen", ":0", "--drain-timeout", "0"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 6, a3), 0);
    assert_int_equal(c.threads, 5);
    assert_string_equal(c.listen, ":0");
    assert_int_equal(c.drain_timeout, 0);
    assert_string_equal(c.data_dir, "/srv/from file");
    assert_string_equal(c.log_level, "debug");

    /* The config file may also come from the environment. */
    unsetenv("BERTH_THREADS");
    unsetenv("BERTH_LISTEN");
    setenv("BERTH_CONFIG", f->file, 1);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), 0);
    assert_int_equal(c.threads, 3);
    assert_string_equal(c.config_file, f->file);
    assert_string_equal(err_text(f), "");
}

static void flag_spellings(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    const char *a[] = {"--data-dir=/a=b", "--max-manifest-size", "2048", "--log-format=json"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 4, a), 0);
    assert_string_equal(c.data_dir, "/a=b"); /* only the first '=' splits */
    assert_int_equal(c.max_manifest_size, 2048);
    assert_string_equal(c.log_format, "json");

    /* The last occurrence wins. */
    const char *b[] = {"--threads=2", "--threads", "9"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 3, b), 0);
    assert_int_equal(c.threads, 9);

    /* A value may start with "--" when given with '='. */
    const char *d[] = {"--data-dir=--weird"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, d), 0);
    assert_string_equal(c.data_dir, "--weird");

    /* An address that cannot be bound is refused before anything touches the data dir. */
    const char *e[] = {"--listen=--weird"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, e), -1);
    const char *g[] = {"--listen=[:5000"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, g), -1);
    const char *h[] = {"--listen=127.0.0.1:"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, h), -1);
    const char *acct[] = {"--account-id=12345"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, acct), -1);
    assert_non_null(strstr(err_text(f), "account-id must be 12 digits"));
    const char *acct2[] = {"--account-id", "12345678901a"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 2, acct2), -1);
    const char *acct3[] = {"--account-id", "111122223333", "--region", "eu-west-1"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 4, acct3), 0);
    assert_string_equal(c.account_id, "111122223333");
    assert_string_equal(c.region, "eu-west-1");
}

static void bool_flags(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    const char *a[] = {"--auto-create-repos=false"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, a), 0);
    assert_int_equal(c.auto_create_repos, 0);

    const char *b[] = {"--auto-create-repos", "no", "--threads", "2"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 4, b), 0);
    assert_int_equal(c.auto_create_repos, 0);
    assert_int_equal(c.threads, 2);

    /* A bare bool flag means true and does not swallow the next option. */
    setenv("BERTH_AUTO_CREATE_REPOS", "off", 1);
    const char *d[] = {"--auto-create-repos", "--threads", "3"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 3, d), 0);
    assert_int_equal(c.auto_create_repos, 1);
    assert_int_equal(c.threads, 3);

    /* Environment alone. */
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), 0);
    assert_int_equal(c.auto_create_repos, 0);
    setenv("BERTH_AUTO_CREATE_REPOS", "1", 1);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), 0);
    assert_int_equal(c.auto_create_repos, 1);

    const char *forms_true[] = {"true", "1", "yes", "on"};
    const char *forms_false[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--auto-create-repos=%s", forms_false[i]);
        const char *x[] = {flag};
        assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, x), 0);
        assert_int_equal(c.auto_create_repos, 0);
        snprintf(flag, sizeof(flag), "--auto-create-repos=%s", forms_true[i]);
        assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, x), 0);
        assert_int_equal(c.auto_create_repos, 1);
    }

    /* fsck's --repair. */
    const char *r[] = {"--repair"};
    assert_int_equal(load(f, &c, BERTH_CMD_FSCK, 1, r), 0);
    assert_int_equal(c.repair, 1);
}

static void rejected(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    const char *cases[][2] = {
        {"--threads=abc", NULL},
        {"--threads=", NULL},
        {"--threads=5x", NULL},
        {"--threads=0", NULL},    /* below the minimum */
        {"--threads=1025", NULL}, /* above the maximum */
        {"--threads=-1", NULL},
        {"--threads=99999999999999999999999", NULL}, /* overflows long long */
        {"--max-manifest-size=1023", NULL},
        {"--auto-create-repos=maybe", NULL},
        {"--log-format=xml", NULL},
        {"--log-level=trace", NULL},
        {"--data-dir=", NULL},
        {"--no-such-option", NULL},
        {"--no-such-option=1", NULL},
        {"--repair", NULL}, /* fsck only */
        {"serve", NULL},    /* positional arguments are not options */
        {"-t", NULL},
        {"--threads", NULL}, /* value missing */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rewind(f->err);
        int argc = cases[i][1] ? 2 : 1;
        if (load(f, &c, BERTH_CMD_SERVE, argc, cases[i]) != -1)
            fail_msg("'%s' should be rejected", cases[i][0]);
        if (!*err_text(f))
            fail_msg("'%s': nothing printed to err", cases[i][0]);
    }

    /* Serve-only settings are unknown to fsck. */
    const char *l[] = {"--listen=:1"};
    assert_int_equal(load(f, &c, BERTH_CMD_FSCK, 1, l), -1);

    /* Too long for the field. */
    char longdir[1100];
    memset(longdir, 'd', sizeof(longdir));
    memcpy(longdir, "--data-dir=", 11);
    longdir[sizeof(longdir) - 1] = '\0';
    const char *ld[] = {longdir};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, ld), -1);
}

static void env_rejected(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    setenv("BERTH_THREADS", "many", 1);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), -1);
    assert_non_null(strstr(err_text(f), "BERTH_THREADS"));
    /* A flag does not rescue a bad environment value: every source is validated. */
    const char *a[] = {"--threads=2"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, a), -1);
    unsetenv("BERTH_THREADS");
    setenv("BERTH_REQUEST_TIMEOUT", "86401", 1);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), -1);
    setenv("BERTH_REQUEST_TIMEOUT", "86400", 1);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 0, NULL), 0);
    assert_int_equal(c.request_timeout, 86400);
}

static void file_rejected(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    const char *a[] = {"--config", f->file};
    const char *bad[] = {
        "nope = 1\n",            /* unknown key */
        "threads = lots\n",      /* bad int */
        "threads = 2000\n",      /* out of range */
        "just some words\n",     /* no '=' */
        "config = other.conf\n", /* no nesting */
        "repair = true\n",       /* fsck only */
        "listen = :1\nthreads = 2\nbogus = x\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(f, bad[i]);
        if (load(f, &c, BERTH_CMD_SERVE, 2, a) != -1)
            fail_msg("config file '%s' should be rejected", bad[i]);
    }
    /* The error names the file and line. */
    write_file(f, "listen = :1\n\nbogus = x\n");
    rewind(f->err);
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 2, a), -1);
    assert_non_null(strstr(err_text(f), ":3"));

    /* A missing file is an error, not silently ignored. */
    const char *m[] = {"--config=/nonexistent/berth.conf"};
    assert_int_equal(load(f, &c, BERTH_CMD_SERVE, 1, m), -1);
}

static void help(void **state)
{
    struct fixture *f = *state;
    struct berth_config c;
    /* --help wins even after a bad option would have been reported. */
    const char *a[] = {"--help"};
    const char *b[] = {"--threads=2", "-h"};
    const char *d[] = {"--no-such-option", "--help"};
    /* The help goes to stdout; keep it out of the test log. */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && devnull >= 0);
    dup2(devnull, STDOUT_FILENO);
    int r1 = load(f, &c, BERTH_CMD_SERVE, 1, a);
    int r2 = load(f, &c, BERTH_CMD_SERVE, 2, b);
    int r3 = load(f, &c, BERTH_CMD_FSCK, 2, d);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(devnull);
    assert_int_equal(r1, 1);
    assert_int_equal(r2, 1);
    assert_int_equal(r3, 1);

    /* The help text is generated from the table: every flag and env var appears. */
    FILE *out = tmpfile();
    assert_non_null(out);
    berth_config_help(out, BERTH_CMD_SERVE);
    fflush(out);
    rewind(out);
    static char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    fclose(out);
    const char *want[] = {"--listen",      "--data-dir",
                          "--threads",     "--max-connections",
                          "BERTH_THREADS", "BERTH_MAX_MANIFEST_SIZE",
                          "--help",        "127.0.0.1:5000"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("help lacks '%s'", want[i]);
    assert_null(strstr(text, "--repair"));

    out = tmpfile();
    assert_non_null(out);
    berth_config_help(out, BERTH_CMD_FSCK);
    fflush(out);
    rewind(out);
    n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    fclose(out);
    assert_non_null(strstr(text, "--repair"));
    assert_null(strstr(text, "--listen"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(defaults), T(precedence),   T(flag_spellings), T(bool_flags),
        T(rejected), T(env_rejected), T(file_rejected),  T(help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
