/*
 * The decision cache (auth/cache.c) and the auth epoch it trusts (migration 005's triggers),
 * against a real SQLite store in a temporary directory: which changes move the epoch, and
 * which questions the cache answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/err.h"
#include "meta/meta.h"

#define ACCT "000000000000"
#define TOKEN "b1.AKIAEXAMPLE000000001.2000000000.0123"

struct fixture {
    char dir[64];
    struct berth_meta *m;
    struct berth_auth a;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-authcache-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    if (berth_meta_sqlite_open(&f->m, path) < 0)
        return -1;
    struct berth_auth_options o = {
        .account = ACCT,
        .region = "us-east-1",
        .data_dir = f->dir,
        .enabled = 1,
        .admin_key_id = "AKIABERTHUNITADMIN01",
        .admin_secret = "unitAdminSecret0123456789abcdefghijklmno",
    };
    if (berth_auth_init(&f->a, f->m, &o, NULL) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    berth_auth_dispose(&f->a);
    berth_meta_close(f->m);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static int64_t epoch(struct fixture *f)
{
    int64_t e = -1;
    assert_int_equal(f->m->ops->auth_epoch(f->m->impl, &e), 0);
    return e;
}

/* Runs the change and asserts whether it moved the epoch. */
#define EXPECT_MOVES(f, moves, call)                                                               \
    do {                                                                                           \
        int64_t before_ = epoch(f);                                                                \
        assert_int_equal((call), 0);                                                               \
        if (moves)                                                                                 \
            assert_true(epoch(f) > before_);                                                       \
        else                                                                                       \
            assert_int_equal(epoch(f), before_);                                                   \
    } while (0)

static void epoch_moves_with_what_decisions_read(void **state)
{
    struct fixture *f = *state;
    const struct berth_meta_ops *o = f->m->ops;
    void *im = f->m->impl;
    int64_t uid, rid, rid2;
    char kid[BERTH_KEY_ID_LEN + 1], sec[BERTH_SECRET_LEN + 1];

    EXPECT_MOVES(f, 1, o->account_ensure(im, "111111111111"));
    EXPECT_MOVES(f, 1, o->user_create(im, ACCT, "dev", 0, &uid));
    EXPECT_MOVES(f, 1,
                 berth_auth_key_create(&f->a, uid, NULL, NULL, kid, sizeof(kid), sec, sizeof(sec)));
    EXPECT_MOVES(f, 1, o->key_set_active(im, kid, 0));
    EXPECT_MOVES(f, 1, o->policy_put(im, ACCT, "p", "{\"Statement\":[]}"));
    EXPECT_MOVES(f, 1, o->policy_attach(im, uid, ACCT, "p"));
    EXPECT_MOVES(f, 1, o->policy_put(im, ACCT, "p", "{\"Statement\":[{}]}")); /* replaced */
    EXPECT_MOVES(f, 1, o->registry_policy_set(im, ACCT, "{\"Statement\":[]}"));

    /* Creating repositories (push or API, no policy) leaves cached answers alone... */
    EXPECT_MOVES(f, 0, o->repo_ensure(im, ACCT, "plain", 1, &rid));
    struct berth_meta_repo r = {.name = "api/repo"};
    snprintf(r.account, sizeof(r.account), "%s", ACCT);
    EXPECT_MOVES(f, 0, o->repo_create(im, &r, &rid2));
    /* ...as do settings other than the policy... */
    struct berth_meta_repo d = {0};
    assert_int_equal(o->repo_describe(im, ACCT, "api/repo", &d), 0);
    free(d.tag_mutability_filters);
    d.tag_mutability_filters = NULL;
    snprintf(d.tag_mutability, sizeof(d.tag_mutability), "IMMUTABLE");
    EXPECT_MOVES(f, 0, o->repo_update(im, &d));
    /* ...but a repository policy set, changed or removed, and a repository deleted, do not. */
    d.policy = strdup("{\"Statement\":[]}");
    EXPECT_MOVES(f, 1, o->repo_update(im, &d));
    EXPECT_MOVES(f, 0, o->repo_update(im, &d)); /* the same text again */
    free(d.policy);
    d.policy = NULL;
    EXPECT_MOVES(f, 1, o->repo_update(im, &d));
    berth_meta_repo_dispose(&d);
    EXPECT_MOVES(f, 1, o->repo_delete(im, rid, 1));
}

static void cache_answers_only_the_same_question(void **state)
{
    struct fixture *f = *state;
    struct berth_principal p = {.user_id = 7, .expires = 2000000000}, got;
    int64_t e;
    snprintf(p.arn, sizeof(p.arn), "arn:aws:iam::%s:user/dev", ACCT);
    const time_t now = 1900000000;

    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.1", now, &got, &e),
                     0);
    assert_int_equal(e, epoch(f));
    berth_auth_cache_put(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app", "127.0.0.1", e, &p);
    memset(&got, 0, sizeof(got));
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.1", now, &got, &e),
                     1);
    assert_int_equal(got.user_id, 7);
    assert_string_equal(got.arn, p.arn);

    /* any field different: a miss */
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN "4", "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.1", now, &got, &e),
                     0);
    assert_int_equal(
        berth_auth_cache_get(&f->a, TOKEN, "ecr:PutImage", ACCT, "app", "127.0.0.1", now, &got, &e),
        0);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", "111111111111", "app",
                                          "127.0.0.1", now, &got, &e),
                     0);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app2",
                                          "127.0.0.1", now, &got, &e),
                     0);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.2", now, &got, &e),
                     0);
    /* fields cannot run into each other: ("ab", "c") is not ("a", "bc") */
    berth_auth_cache_put(&f->a, TOKEN, "ecr:X", ACCT, "ab", "c", e, &p);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:X", ACCT, "a", "bc", now, &got, &e),
                     0);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:X", ACCT, "ab", "c", now, &got, &e),
                     1);
    /* a registry-wide action (no repository) is not the repository "" */
    berth_auth_cache_put(&f->a, TOKEN, "ecr:DescribeRepositories", ACCT, NULL, "c", e, &p);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:DescribeRepositories", ACCT, "", "c",
                                          now, &got, &e),
                     0);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:DescribeRepositories", ACCT, NULL, "c",
                                          now, &got, &e),
                     1);

    /* the token's expiry ends the entry */
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.1", 2000000000, &got, &e),
                     0);
    /* an epoch move ends every entry */
    int64_t uid;
    assert_int_equal(f->m->ops->user_create(f->m->impl, ACCT, "other", 0, &uid), 0);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.1", now, &got, &e),
                     0);
    /* an entry put under a stale epoch is never answered */
    berth_auth_cache_put(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app", "127.0.0.1", e - 1, &p);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "app",
                                          "127.0.0.1", now, &got, &e),
                     0);
}

static void cache_keeps_what_it_cannot_vouch_for_out(void **state)
{
    struct fixture *f = *state;
    struct berth_principal p = {.user_id = 7, .expires = 2000000000}, got, anon = {.anonymous = 1};
    int64_t e;
    const time_t now = 1900000000;

    /* no expiry known (not a token): not cached */
    struct berth_principal noexp = p;
    noexp.expires = 0;
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:A", ACCT, "r", "ip", now, &got, &e),
                     0);
    berth_auth_cache_put(&f->a, TOKEN, "ecr:A", ACCT, "r", "ip", e, &noexp);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:A", ACCT, "r", "ip", now, &got, &e),
                     0);
    /* epoch unknown: not cached */
    berth_auth_cache_put(&f->a, TOKEN, "ecr:A", ACCT, "r", "ip", -1, &p);
    assert_int_equal(berth_auth_cache_get(&f->a, TOKEN, "ecr:A", ACCT, "r", "ip", now, &got, &e),
                     0);
    /* a question too long to keep */
    char *longname = malloc(2000);
    assert_non_null(longname);
    memset(longname, 'a', 1999);
    longname[1999] = '\0';
    berth_auth_cache_put(&f->a, TOKEN, "ecr:A", ACCT, longname, "ip", e, &p);
    assert_int_equal(
        berth_auth_cache_get(&f->a, TOKEN, "ecr:A", ACCT, longname, "ip", now, &got, &e), 0);
    free(longname);
    /* anonymous callers (token "") are cached, apart from any token */
    berth_auth_cache_put(&f->a, "", "ecr:BatchGetImage", ACCT, "pub", "ip", e, &anon);
    assert_int_equal(
        berth_auth_cache_get(&f->a, "", "ecr:BatchGetImage", ACCT, "pub", "ip", now, &got, &e), 1);
    assert_true(got.anonymous);
    assert_int_equal(
        berth_auth_cache_get(&f->a, TOKEN, "ecr:BatchGetImage", ACCT, "pub", "ip", now, &got, &e),
        0);
    /* a store without an epoch: nothing is ever cached */
    struct berth_meta_ops ops = *f->m->ops;
    ops.auth_epoch = NULL;
    const struct berth_meta_ops *real = f->m->ops;
    f->m->ops = &ops;
    assert_int_equal(
        berth_auth_cache_get(&f->a, "", "ecr:BatchGetImage", ACCT, "pub", "ip", now, &got, &e), 0);
    assert_int_equal(e, -1);
    f->m->ops = real;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(epoch_moves_with_what_decisions_read, setup, teardown),
        cmocka_unit_test_setup_teardown(cache_answers_only_the_same_question, setup, teardown),
        cmocka_unit_test_setup_teardown(cache_keeps_what_it_cannot_vouch_for_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
