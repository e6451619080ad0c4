/*
 * Metadata store conformance for storage accounting (usage_add, repo_stored_bytes,
 * usage_repos, usage_registry), through the ops vtable against the SQLite store on a real file.
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

#include "core/digest.h"
#include "core/err.h"
#include "core/log.h"
#include "meta/meta.h"
#include "registry/manifest.h"

#define ACCT "000000000000"
#define OTHER "111111111111"

struct fixture {
    char dir[64];
    char path[128];
    struct berth_meta *m;
    const struct berth_meta_ops *ops;
    void *impl;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-usage-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/meta.db", f->dir);
    if (berth_meta_sqlite_open(&f->m, f->path) < 0) {
        rmdir(f->dir);
        free(f);
        return -1;
    }
    f->ops = f->m->ops;
    f->impl = f->m->impl;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berth_meta_close(f->m);
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void digest_n(char out[BERTH_DIGEST_BUF], unsigned n)
{
    snprintf(out, BERTH_DIGEST_BUF, "sha256:%064x", n);
}

static int64_t repo_in(struct fixture *f, const char *account, const char *name)
{
    int64_t id = -1;
    assert_int_equal(f->ops->account_ensure(f->impl, account), 0);
    assert_int_equal(f->ops->repo_ensure(f->impl, account, name, 1, &id), 0);
    assert_true(id > 0);
    return id;
}

static void link_blob(struct fixture *f, int64_t r, unsigned n, int64_t size)
{
    char d[BERTH_DIGEST_BUF];
    digest_n(d, n);
    assert_int_equal(f->ops->blob_link(f->impl, r, d, size, NULL), 0);
}

/* Stores a manifest of exactly body_len bytes referencing blobs (digest_n of each number, with
 * its size); returns nothing, asserts success. */
static void put_manifest(struct fixture *f, int64_t r, unsigned n, size_t body_len,
                         const unsigned *blobs, const int64_t *sizes, size_t nblobs,
                         const char *tag)
{
    char body[512];
    assert_true(body_len < sizeof(body));
    memset(body, ' ', body_len);
    body[body_len] = '\0';
    struct berth_manifest_ref refs[8];
    assert_true(nblobs <= 8);
    struct berth_meta_manifest m;
    memset(&m, 0, sizeof(m));
    digest_n(m.digest, 0x10000 + n);
    m.media_type = (char *)BERTH_MT_OCI_MANIFEST;
    m.size = (int64_t)body_len;
    m.total_size = m.size;
    for (size_t i = 0; i < nblobs; i++) {
        memset(&refs[i], 0, sizeof(refs[i]));
        digest_n(refs[i].digest, blobs[i]);
        refs[i].size = sizes[i];
        m.total_size += sizes[i];
    }
    m.pushed_at = 1700000000;
    m.body = body;
    m.body_len = body_len;
    assert_int_equal(f->ops->manifest_put(f->impl, r, &m, refs, nblobs, tag, 0), 0);
}

static int64_t stored(struct fixture *f, int64_t r)
{
    int64_t v = -1;
    assert_int_equal(f->ops->repo_stored_bytes(f->impl, r, &v), 0);
    return v;
}

static const struct berth_meta_repo_usage *row(const struct berth_meta_repo_usage_list *l,
                                               const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].name, name))
            return &l->items[i];
    fail_msg("no row for %s", name);
    return NULL;
}

static void empty_registry(void **state)
{
    struct fixture *f = *state;
    struct berth_meta_registry_usage g;
    assert_int_equal(f->ops->usage_registry(f->impl, &g), 0);
    assert_int_equal(g.blob_bytes, 0);
    assert_int_equal(g.manifest_bytes, 0);
    assert_int_equal(g.linked_blob_bytes, 0);
    struct berth_meta_repo_usage_list l;
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 0, 100000, &l), 0);
    assert_int_equal(l.n, 0);
    berth_meta_repo_usage_list_dispose(&l);
    int64_t r = repo_in(f, ACCT, "empty");
    assert_int_equal(stored(f, r), 0);
    int64_t v;
    assert_int_equal(f->ops->repo_stored_bytes(f->impl, r + 1000, &v), BERTH_ENOTFOUND);
}

/* A layer shared by two images of one repository counts once there; a layer in two
 * repositories counts in each of them but once on disk. */
static void stored_bytes_dedup_within_repository(void **state)
{
    struct fixture *f = *state;
    int64_t a = repo_in(f, ACCT, "team/a"), b = repo_in(f, ACCT, "team/b");
    /* blobs: 1 shared base layer (1000), 2 and 3 app layers (200, 300), 4 config (50) */
    link_blob(f, a, 1, 1000);
    link_blob(f, a, 2, 200);
    link_blob(f, a, 3, 300);
    link_blob(f, a, 4, 50);
    const unsigned img1[] = {4, 1, 2}, img2[] = {4, 1, 3};
    const int64_t s1[] = {50, 1000, 200}, s2[] = {50, 1000, 300};
    put_manifest(f, a, 1, 100, img1, s1, 3, "v1");
    put_manifest(f, a, 2, 120, img2, s2, 3, NULL); /* untagged */
    /* b: the same base layer and config, mounted */
    link_blob(f, b, 1, 1000);
    link_blob(f, b, 4, 50);
    const unsigned img3[] = {4, 1};
    const int64_t s3[] = {50, 1000};
    put_manifest(f, b, 3, 90, img3, s3, 2, "latest");

    assert_int_equal(stored(f, a), 1000 + 200 + 300 + 50 + 100 + 120);
    assert_int_equal(stored(f, b), 1000 + 50 + 90);

    struct berth_meta_registry_usage g;
    assert_int_equal(f->ops->usage_registry(f->impl, &g), 0);
    assert_int_equal(g.blob_bytes, 1000 + 200 + 300 + 50);
    assert_int_equal(g.manifest_bytes, 100 + 120 + 90);
    assert_int_equal(g.linked_blob_bytes, (1000 + 200 + 300 + 50) + (1000 + 50));

    struct berth_meta_repo_usage_list l;
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 0, 100000, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "team/a"); /* name order */
    assert_string_equal(l.items[1].name, "team/b");
    assert_int_equal(l.items[0].stored_bytes, stored(f, a));
    assert_int_equal(l.items[0].images, 2);
    assert_int_equal(l.items[0].untagged, 1);
    assert_int_equal(l.items[1].images, 1);
    assert_int_equal(l.items[1].untagged, 0);
    berth_meta_repo_usage_list_dispose(&l);

    /* untagging makes an image untagged; deleting it takes its bytes away */
    assert_int_equal(f->ops->tag_delete(f->impl, a, "v1"), 0);
    char d2[BERTH_DIGEST_BUF];
    digest_n(d2, 0x10000 + 2);
    assert_int_equal(f->ops->manifest_delete(f->impl, a, d2, 0), 0);
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 0, 100000, &l), 0);
    assert_int_equal(row(&l, "team/a")->images, 1);
    assert_int_equal(row(&l, "team/a")->untagged, 1);
    /* the blobs stay linked (garbage collection's business), the manifest bytes go */
    assert_int_equal(row(&l, "team/a")->stored_bytes, 1000 + 200 + 300 + 50 + 100);
    berth_meta_repo_usage_list_dispose(&l);
}

static void usage_add_sums_per_day_and_window(void **state)
{
    struct fixture *f = *state;
    int64_t a = repo_in(f, ACCT, "a"), b = repo_in(f, ACCT, "b");
    int64_t o = repo_in(f, OTHER, "a");
    struct berth_meta_usage_delta d1[] = {
        {.repo_id = a, .day = 100, .pulls = 2, .bytes_served = 1000},
        {.repo_id = a, .day = 70, .pulls = 1, .bytes_served = 5}, /* before the window */
        {.repo_id = b, .day = 100, .pulls = 0, .bytes_served = 77},
        {.repo_id = o, .day = 100, .pulls = 9, .bytes_served = 9}, /* another account */
    };
    assert_int_equal(f->ops->usage_add(f->impl, d1, 4), 0);
    /* a second flush adds to the same day's row */
    struct berth_meta_usage_delta d2[] = {
        {.repo_id = a, .day = 100, .pulls = 3, .bytes_served = 24},
        {.repo_id = a, .day = 71, .pulls = 1, .bytes_served = 6}, /* the window's first day */
    };
    assert_int_equal(f->ops->usage_add(f->impl, d2, 2), 0);
    assert_int_equal(f->ops->usage_add(f->impl, NULL, 0), 0);

    struct berth_meta_repo_usage_list l;
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 71, 100, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(row(&l, "a")->pulls, 2 + 3 + 1);
    assert_int_equal(row(&l, "a")->bytes_served, 1000 + 24 + 6);
    assert_int_equal(row(&l, "b")->pulls, 0);
    assert_int_equal(row(&l, "b")->bytes_served, 77);
    berth_meta_repo_usage_list_dispose(&l);

    /* thirty-one days later the old days are outside the window */
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 101, 130, &l), 0);
    assert_int_equal(row(&l, "a")->pulls, 0);
    assert_int_equal(row(&l, "a")->bytes_served, 0);
    berth_meta_repo_usage_list_dispose(&l);

    assert_int_equal(f->ops->usage_repos(f->impl, OTHER, 71, 100, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(row(&l, "a")->pulls, 9);
    berth_meta_repo_usage_list_dispose(&l);
}

/* Counts of a repository deleted between the count and the flush are dropped, and do not
 * fail the rest of the batch; deleting a repository takes its history with it. */
static void deleted_repository(void **state)
{
    struct fixture *f = *state;
    int64_t a = repo_in(f, ACCT, "a"), b = repo_in(f, ACCT, "b");
    struct berth_meta_usage_delta d[] = {
        {.repo_id = a, .day = 5, .pulls = 1, .bytes_served = 10},
        {.repo_id = b, .day = 5, .pulls = 1, .bytes_served = 10},
    };
    assert_int_equal(f->ops->usage_add(f->impl, d, 2), 0);
    assert_int_equal(f->ops->repo_delete(f->impl, a, 1), 0);
    d[1].pulls = 4;
    assert_int_equal(f->ops->usage_add(f->impl, d, 2), 0);
    struct berth_meta_repo_usage_list l;
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 0, 10, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].name, "b");
    assert_int_equal(l.items[0].pulls, 5);
    assert_int_equal(l.items[0].bytes_served, 20);
    berth_meta_repo_usage_list_dispose(&l);
    /* a new repository under the old name starts with no history */
    int64_t a2 = repo_in(f, ACCT, "a");
    (void)a2;
    assert_int_equal(f->ops->usage_repos(f->impl, ACCT, 0, 10, &l), 0);
    assert_int_equal(row(&l, "a")->pulls, 0);
    berth_meta_repo_usage_list_dispose(&l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    berth_log_setup(BERTH_LOG_WARN, BERTH_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        T(empty_registry),
        T(stored_bytes_dedup_within_repository),
        T(usage_add_sums_per_day_and_window),
        T(deleted_repository),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
