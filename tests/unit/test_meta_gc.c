/*
 * The metadata store's garbage collection operations, through the ops vtable against the
 * SQLite store on a real file: link times and their refresh, the mount that needs its source,
 * the candidate lists, and the deletes that re-check their condition under the write lock.
 * Another backend must pass the same cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/digest.h"
#include "core/err.h"
#include "core/log.h"
#include "meta/meta.h"
#include "registry/manifest.h"

#define ACCT "000000000000"
#define UP1 "0123456789abcdef0123456789abcdef"
#define UP2 "fedcba9876543210fedcba9876543210"

struct fixture {
    char dir[64];
    char path[128];
    struct berth_meta *m;
    const struct berth_meta_ops *ops;
    void *impl;
    int64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-metagc-XXXXXX");
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
    f->now = (int64_t)time(NULL);
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

static int64_t repo(struct fixture *f, const char *name)
{
    int64_t id = -1;
    assert_int_equal(f->ops->repo_ensure(f->impl, ACCT, name, 1, &id), 0);
    return id;
}

/* Links digest into r and dates the link `age` seconds back. */
static void link_aged(struct fixture *f, int64_t r, const char *digest, int64_t size, int64_t age)
{
    assert_int_equal(f->ops->blob_link(f->impl, r, digest, size, NULL), 0);
    assert_int_equal(f->ops->blob_link_touch(f->impl, r, digest, f->now - age), 0);
}

static int64_t linked_at(struct fixture *f, int64_t r, const char *digest)
{
    int64_t size = -1, t = -1;
    assert_int_equal(f->ops->blob_link_time(f->impl, r, digest, &size, &t), 0);
    return t;
}

static int put_manifest(struct fixture *f, int64_t r, const char *digest,
                        const struct berth_manifest_ref *refs, size_t nrefs)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"x\":\"%s\"}", digest);
    struct berth_meta_manifest m;
    memset(&m, 0, sizeof(m));
    snprintf(m.digest, sizeof(m.digest), "%s", digest);
    m.media_type =
        (char *)(nrefs && refs[0].is_manifest ? BERTH_MT_OCI_INDEX : BERTH_MT_OCI_MANIFEST);
    m.size = m.total_size = (int64_t)strlen(body);
    m.pushed_at = f->now;
    m.body = body;
    m.body_len = strlen(body);
    return f->ops->manifest_put(f->impl, r, &m, refs, nrefs, NULL, 0);
}

static struct berth_manifest_ref ref(const char *digest, int64_t size, int is_manifest)
{
    struct berth_manifest_ref x;
    memset(&x, 0, sizeof(x));
    snprintf(x.digest, sizeof(x.digest), "%s", digest);
    x.size = size;
    x.is_manifest = is_manifest;
    return x;
}

/* ---- collecting what the lists call back with ---- */

struct seen {
    int n;
    char key[16][BERTH_DIGEST_BUF];
    int64_t num[16]; /* repo id or size */
};

static int on_link(void *ctx, int64_t repo_id, const char *digest)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        snprintf(s->key[s->n], BERTH_DIGEST_BUF, "%s", digest);
        s->num[s->n] = repo_id;
    }
    s->n++;
    return 0;
}

static int on_blob(void *ctx, const char *digest, int64_t size)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        snprintf(s->key[s->n], BERTH_DIGEST_BUF, "%s", digest);
        s->num[s->n] = size;
    }
    s->n++;
    return 0;
}

static int on_id(void *ctx, const char *id)
{
    return on_blob(ctx, id, 0);
}

static int has(const struct seen *s, const char *key, int64_t num)
{
    for (int i = 0; i < s->n && i < 16; i++)
        if (!strcmp(s->key[i], key) && s->num[i] == num)
            return 1;
    return 0;
}

/* The removal callback: records that it ran (under the write lock) and does what it is told. */
struct remover {
    int calls;
    int keep; /* answer "not removed after all" */
    int fail;
    char last[BERTH_DIGEST_BUF];
};

static int do_remove(void *ctx, const char *key, int *out_removed)
{
    struct remover *x = ctx;
    x->calls++;
    snprintf(x->last, sizeof(x->last), "%s", key);
    *out_removed = !x->keep;
    return x->fail ? berth_err_set(BERTH_EIO, BERTH_WHAT_BLOB, "disk says no") : 0;
}

/* ---- link times ---- */

static void link_upsert_refreshes(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char d[BERTH_DIGEST_BUF];
    digest_n(d, 1);
    link_aged(f, r, d, 10, 5000);
    assert_int_equal(linked_at(f, r, d), f->now - 5000);
    /* Uploading or mounting an existing link is a use: its time starts again. */
    assert_int_equal(f->ops->blob_link(f->impl, r, d, 10, NULL), 0);
    assert_true(linked_at(f, r, d) >= f->now);

    assert_int_equal(f->ops->blob_link_touch(f->impl, r, d, 42), 0);
    assert_int_equal(linked_at(f, r, d), 42);
    int64_t size = 0;
    assert_int_equal(f->ops->blob_link_time(f->impl, r, d, &size, NULL), 0);
    assert_int_equal(size, 10);

    char missing[BERTH_DIGEST_BUF];
    digest_n(missing, 2);
    berth_err_clear();
    assert_int_equal(f->ops->blob_link_touch(f->impl, r, missing, 1), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_BLOB);
    assert_int_equal(f->ops->blob_link_time(f->impl, r, missing, &size, NULL), BERTH_ENOTFOUND);
    /* A touch never creates a link. */
    assert_int_equal(f->ops->blob_linked(f->impl, r, missing, NULL), BERTH_ENOTFOUND);
}

static void blob_link_of_expired_upload_links_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char d[BERTH_DIGEST_BUF];
    digest_n(d, 3);
    berth_err_clear();
    assert_int_equal(f->ops->blob_link(f->impl, r, d, 10, UP1), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_UPLOAD);
    assert_int_equal(f->ops->blob_linked(f->impl, r, d, NULL), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->blob_known(f->impl, d, NULL), BERTH_ENOTFOUND);
}

static void mount_needs_source_link(void **state)
{
    struct fixture *f = *state;
    int64_t a = repo(f, "a"), b = repo(f, "b");
    char d[BERTH_DIGEST_BUF];
    digest_n(d, 4);
    berth_err_clear();
    assert_int_equal(f->ops->blob_mount(f->impl, b, a, d), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_BLOB);

    link_aged(f, a, d, 77, 10);
    assert_int_equal(f->ops->blob_mount(f->impl, b, a, d), 0);
    int64_t size = 0;
    assert_int_equal(f->ops->blob_linked(f->impl, b, d, &size), 0);
    assert_int_equal(size, 77);
    /* Mounting again refreshes the target link. */
    assert_int_equal(f->ops->blob_link_touch(f->impl, b, d, 5), 0);
    assert_int_equal(f->ops->blob_mount(f->impl, b, a, d), 0);
    assert_true(linked_at(f, b, d) >= f->now);

    /* Once the source link is gone (swept), the mount fails and creates nothing. */
    int64_t c = repo(f, "c");
    assert_int_equal(f->ops->blob_unlink(f->impl, a, d), 0);
    assert_int_equal(f->ops->blob_mount(f->impl, c, a, d), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->blob_linked(f->impl, c, d, NULL), BERTH_ENOTFOUND);
}

/* ---- links ---- */

static void links_listed_and_deleted(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r"), other = repo(f, "other");
    char cfg[BERTH_DIGEST_BUF], layer[BERTH_DIGEST_BUF], loose[BERTH_DIGEST_BUF],
        young[BERTH_DIGEST_BUF], child[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF],
        idx[BERTH_DIGEST_BUF];
    digest_n(cfg, 10);
    digest_n(layer, 11);
    digest_n(loose, 12);
    digest_n(young, 13);
    digest_n(child, 14);
    digest_n(m, 100);
    digest_n(idx, 101);
    link_aged(f, r, cfg, 1, 1000);
    link_aged(f, r, layer, 2, 1000);
    link_aged(f, r, loose, 3, 1000);
    link_aged(f, r, young, 4, 10);
    link_aged(f, r, child, 5, 1000);
    /* The same layer unreferenced in another repository: links are per repository. */
    link_aged(f, other, layer, 2, 1000);
    struct berth_manifest_ref refs[] = {ref(cfg, 1, 0), ref(layer, 2, 0)};
    assert_int_equal(put_manifest(f, r, m, refs, 2), 0);
    /* An index entry satisfied by a blob link (kind 1) keeps that link too. */
    struct berth_manifest_ref irefs[] = {ref(child, 5, 1)};
    assert_int_equal(put_manifest(f, r, idx, irefs, 1), 0);

    struct seen s = {0};
    assert_int_equal(f->ops->gc_links(f->impl, f->now - 100, on_link, &s), 0);
    assert_int_equal(s.n, 2);
    assert_true(has(&s, loose, r));
    assert_true(has(&s, layer, other));

    /* With a later cutoff the young link is old enough too. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->gc_links(f->impl, f->now, on_link, &s), 0);
    assert_int_equal(s.n, 3);
    assert_true(has(&s, young, r));

    int deleted = -1;
    assert_int_equal(f->ops->gc_link_delete(f->impl, r, loose, f->now - 100, &deleted), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(f->ops->blob_linked(f->impl, r, loose, NULL), BERTH_ENOTFOUND);
    /* Repeating it is harmless. */
    assert_int_equal(f->ops->gc_link_delete(f->impl, r, loose, f->now - 100, &deleted), 0);
    assert_int_equal(deleted, 0);

    /* The delete re-checks both conditions: referenced, or young, or refreshed since the
     * list was made, the link stays. */
    assert_int_equal(f->ops->gc_link_delete(f->impl, r, layer, f->now, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(f->ops->gc_link_delete(f->impl, r, young, f->now - 100, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(f->ops->blob_link_touch(f->impl, other, layer, f->now), 0);
    assert_int_equal(f->ops->gc_link_delete(f->impl, other, layer, f->now - 100, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(f->ops->blob_linked(f->impl, other, layer, NULL), 0);

    /* A manifest that raced the list and now references the link keeps it. */
    char m2[BERTH_DIGEST_BUF];
    digest_n(m2, 102);
    struct berth_manifest_ref yrefs[] = {ref(young, 4, 0)};
    assert_int_equal(put_manifest(f, r, m2, yrefs, 1), 0);
    assert_int_equal(f->ops->gc_link_delete(f->impl, r, young, f->now + 100, &deleted), 0);
    assert_int_equal(deleted, 0);

    /* Deleting the manifest makes its links garbage (after the grace). */
    assert_int_equal(f->ops->manifest_delete(f->impl, r, m, 0), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->gc_links(f->impl, f->now - 100, on_link, &s), 0);
    assert_int_equal(s.n, 2);
    assert_true(has(&s, cfg, r));
    assert_true(has(&s, layer, r));
}

/* ---- blobs ---- */

static void blobs_listed_with_collectable_links(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r"), keep = repo(f, "keep");
    char gone[BERTH_DIGEST_BUF], shared[BERTH_DIGEST_BUF], fresh[BERTH_DIGEST_BUF],
        used[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    digest_n(gone, 20);
    digest_n(shared, 21);
    digest_n(fresh, 22);
    digest_n(used, 23);
    digest_n(m, 200);
    /* Blob rows are created at the store's clock (now), so "old" below means a cutoff in the
     * future, and a link that must count as young is dated after that cutoff. */
    link_aged(f, r, gone, 100, 1000);      /* only an old unreferenced link: collectable */
    link_aged(f, r, shared, 200, 1000);    /* old link here, ... */
    link_aged(f, keep, shared, 200, -100); /* ... but a young one elsewhere */
    link_aged(f, r, fresh, 300, -5);
    link_aged(f, r, used, 400, 1000);
    struct berth_manifest_ref refs[] = {ref(used, 400, 0)};
    assert_int_equal(put_manifest(f, r, m, refs, 1), 0);

    /* Rows younger than the cutoff are never listed. */
    struct seen s = {0};
    assert_int_equal(f->ops->gc_blobs(f->impl, f->now - 100, on_blob, &s), 0);
    assert_int_equal(s.n, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->gc_blobs(f->impl, f->now + 2, on_blob, &s), 0);
    assert_int_equal(s.n, 1);
    assert_true(has(&s, gone, 100));
    /* With a later cutoff the young links count as collectable too; a referenced one never. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->gc_blobs(f->impl, f->now + 200, on_blob, &s), 0);
    assert_int_equal(s.n, 3);
    assert_true(has(&s, gone, 100));
    assert_true(has(&s, shared, 200));
    assert_true(has(&s, fresh, 300));
    assert_false(has(&s, used, 400));
}

static void blob_delete_rechecks_and_removes_inside(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char d[BERTH_DIGEST_BUF];
    digest_n(d, 30);
    link_aged(f, r, d, 123, 1000);
    struct remover x = {0};
    int64_t size = 0;

    /* Still linked: kept, and the bytes are not touched. */
    assert_int_equal(f->ops->gc_blob_delete(f->impl, d, f->now + 10, do_remove, &x, &size), 0);
    assert_int_equal(size, -1);
    assert_int_equal(x.calls, 0);

    int deleted = 0;
    assert_int_equal(f->ops->gc_link_delete(f->impl, r, d, f->now, &deleted), 0);
    assert_int_equal(deleted, 1);

    /* Too young (a cutoff before the row was created): kept. */
    assert_int_equal(f->ops->gc_blob_delete(f->impl, d, f->now - 100, do_remove, &x, &size), 0);
    assert_int_equal(size, -1);
    assert_int_equal(x.calls, 0);

    /* The bytes could not be removed: the row stays (rolled back) for the next run. */
    x.fail = 1;
    assert_int_equal(f->ops->gc_blob_delete(f->impl, d, f->now + 10, do_remove, &x, &size),
                     BERTH_EIO);
    assert_int_equal(x.calls, 1);
    assert_int_equal(f->ops->blob_known(f->impl, d, NULL), 0);
    x.fail = 0;
    x.keep = 1;
    assert_int_equal(f->ops->gc_blob_delete(f->impl, d, f->now + 10, do_remove, &x, &size), 0);
    assert_int_equal(size, -1);
    assert_int_equal(f->ops->blob_known(f->impl, d, NULL), 0);

    x.keep = 0;
    assert_int_equal(f->ops->gc_blob_delete(f->impl, d, f->now + 10, do_remove, &x, &size), 0);
    assert_int_equal(size, 123);
    assert_int_equal(x.calls, 3);
    assert_string_equal(x.last, d);
    assert_int_equal(f->ops->blob_known(f->impl, d, NULL), BERTH_ENOTFOUND);

    /* Gone: nothing to do, and the same content can be linked again afterwards. */
    assert_int_equal(f->ops->gc_blob_delete(f->impl, d, f->now + 10, do_remove, &x, &size), 0);
    assert_int_equal(size, -1);
    assert_int_equal(x.calls, 3);
    assert_int_equal(f->ops->blob_link(f->impl, r, d, 123, NULL), 0);
    assert_int_equal(f->ops->blob_linked(f->impl, r, d, NULL), 0);
}

static void orphan_delete_only_without_row(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char d[BERTH_DIGEST_BUF], orphan[BERTH_DIGEST_BUF];
    digest_n(d, 40);
    digest_n(orphan, 41);
    link_aged(f, r, d, 1, 1000);
    struct remover x = {0};
    int removed = -1;
    assert_int_equal(f->ops->gc_orphan_delete(f->impl, d, do_remove, &x, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(x.calls, 0);

    assert_int_equal(f->ops->gc_orphan_delete(f->impl, orphan, do_remove, &x, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(x.calls, 1);
    assert_string_equal(x.last, orphan);
    x.keep = 1;
    assert_int_equal(f->ops->gc_orphan_delete(f->impl, orphan, do_remove, &x, &removed), 0);
    assert_int_equal(removed, 0);
}

/* ---- uploads ---- */

static void create_upload(struct fixture *f, const char *id)
{
    struct berth_meta_upload u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "%s", id);
    snprintf(u.repo, sizeof(u.repo), "r");
    snprintf(u.account, sizeof(u.account), ACCT);
    u.started_at = f->now;
    assert_int_equal(f->ops->upload_create(f->impl, &u), 0);
}

static void uploads_expire(void **state)
{
    struct fixture *f = *state;
    create_upload(f, UP1);
    struct seen s = {0};
    assert_int_equal(f->ops->gc_uploads(f->impl, f->now - 60, on_id, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(f->ops->gc_uploads(f->impl, f->now + 60, on_id, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.key[0], UP1);

    struct remover x = {0};
    int removed = -1;
    /* Updated since the cutoff: kept. */
    assert_int_equal(f->ops->gc_upload_delete(f->impl, UP1, f->now - 60, do_remove, &x, &removed),
                     0);
    assert_int_equal(removed, 0);
    assert_int_equal(x.calls, 0);
    /* The file was written recently (the callback says keep): kept, row and all. */
    x.keep = 1;
    assert_int_equal(f->ops->gc_upload_delete(f->impl, UP1, f->now + 60, do_remove, &x, &removed),
                     0);
    assert_int_equal(removed, 0);
    struct berth_meta_upload got;
    assert_int_equal(f->ops->upload_get(f->impl, UP1, &got), 0);
    x.keep = 0;
    assert_int_equal(f->ops->gc_upload_delete(f->impl, UP1, f->now + 60, do_remove, &x, &removed),
                     0);
    assert_int_equal(removed, 1);
    assert_string_equal(x.last, UP1);
    assert_int_equal(f->ops->upload_get(f->impl, UP1, &got), BERTH_ENOTFOUND);

    /* An upload file with no session is removed only while no session has its id. */
    create_upload(f, UP2);
    x.calls = 0;
    assert_int_equal(f->ops->gc_upload_orphan_delete(f->impl, UP2, do_remove, &x, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(x.calls, 0);
    assert_int_equal(f->ops->gc_upload_orphan_delete(f->impl, UP1, do_remove, &x, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(x.calls, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    berth_log_setup(BERTH_LOG_WARN, BERTH_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        T(link_upsert_refreshes),
        T(blob_link_of_expired_upload_links_nothing),
        T(mount_needs_source_link),
        T(links_listed_and_deleted),
        T(blobs_listed_with_collectable_links),
        T(blob_delete_rechecks_and_removes_inside),
        T(orphan_delete_only_without_row),
        T(uploads_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
