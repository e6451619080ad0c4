/*
 * Metadata store conformance, run through the ops vtable against the SQLite store on a real file
 * in a temporary directory. Another backend must pass the same cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
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

struct fixture {
    char dir[64];
    char path[128];
    struct berth_meta *m;
    const struct berth_meta_ops *ops;
    void *impl;
};

static void reopen(struct fixture *f)
{
    if (f->m)
        berth_meta_close(f->m);
    f->m = NULL;
    assert_int_equal(berth_meta_sqlite_open(&f->m, f->path), 0);
    assert_non_null(f->m);
    assert_int_equal(f->m->ops->version, BERTH_META_OPS_VERSION);
    f->ops = f->m->ops;
    f->impl = f->m->impl;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-meta-XXXXXX");
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

static int64_t repo(struct fixture *f, const char *name)
{
    int64_t id = -1;
    assert_int_equal(f->ops->repo_ensure(f->impl, ACCT, name, 1, &id), 0);
    assert_true(id > 0);
    return id;
}

static void link_blob(struct fixture *f, int64_t r, const char *digest, int64_t size)
{
    assert_int_equal(f->ops->blob_link(f->impl, r, digest, size, NULL), 0);
}

struct mf {
    const char *media_type;
    const char *artifact_type;
    const char *config_media_type;
    const char *subject;
};

static int put_imm(struct fixture *f, int64_t r, const char *digest, const struct mf *x,
                   const struct berth_manifest_ref *refs, size_t nrefs, const char *tag,
                   int immutable)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"x\":\"%s\"}", digest);
    struct berth_meta_manifest m;
    memset(&m, 0, sizeof(m));
    snprintf(m.digest, sizeof(m.digest), "%s", digest);
    m.media_type = (char *)(x && x->media_type ? x->media_type : BERTH_MT_OCI_MANIFEST);
    m.artifact_type = (char *)(x ? x->artifact_type : NULL);
    m.config_media_type = (char *)(x ? x->config_media_type : NULL);
    m.subject = (char *)(x ? x->subject : NULL);
    m.annotations = NULL;
    m.size = (int64_t)strlen(body);
    m.total_size = m.size + 100;
    m.pushed_at = 1700000000;
    m.body = body;
    m.body_len = strlen(body);
    return f->ops->manifest_put(f->impl, r, &m, refs, nrefs, tag, immutable);
}

static int put(struct fixture *f, int64_t r, const char *digest, const struct mf *x,
               const struct berth_manifest_ref *refs, size_t nrefs, const char *tag)
{
    return put_imm(f, r, digest, x, refs, nrefs, tag, 0);
}

static struct berth_manifest_ref blob_ref(const char *digest, int64_t size)
{
    struct berth_manifest_ref r;
    memset(&r, 0, sizeof(r));
    snprintf(r.digest, sizeof(r.digest), "%s", digest);
    r.size = size;
    return r;
}

static struct berth_manifest_ref manifest_ref(const char *digest, int64_t size)
{
    struct berth_manifest_ref r = blob_ref(digest, size);
    r.is_manifest = 1;
    return r;
}

/* The stored size of a manifest written by put(). */
static int64_t put_size(const char *digest)
{
    char body[160];
    return snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"x\":\"%s\"}", digest);
}

static void assert_list(const struct berth_strlist *l, const char *const *want, size_t n)
{
    if (l->n != n)
        fail_msg("list has %zu items, want %zu", l->n, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(l->items[i], want[i]) != 0)
            fail_msg("item %zu is '%s', want '%s'", i, l->items[i], want[i]);
}

/* ---- repositories ---- */

static void repos_ensure_get(void **state)
{
    struct fixture *f = *state;
    int64_t id = 0, id2 = 0, got = 0;
    berth_err_clear();
    assert_int_equal(f->ops->repo_ensure(f->impl, ACCT, "a/b", 0, &id), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_REPO);
    assert_int_equal(f->ops->repo_get(f->impl, ACCT, "a/b", &got), BERTH_ENOTFOUND);

    assert_int_equal(f->ops->repo_ensure(f->impl, ACCT, "a/b", 1, &id), 0);
    assert_true(id > 0);
    assert_int_equal(f->ops->repo_ensure(f->impl, ACCT, "a/b", 1, &id2), 0);
    assert_int_equal(id, id2);
    assert_int_equal(f->ops->repo_ensure(f->impl, ACCT, "a/b", 0, &id2), 0);
    assert_int_equal(id, id2);
    assert_int_equal(f->ops->repo_get(f->impl, ACCT, "a/b", &got), 0);
    assert_int_equal(got, id);

    int64_t other = repo(f, "a");
    assert_true(other != id);
    /* Names are exact: no prefix or case folding. */
    assert_int_equal(f->ops->repo_get(f->impl, ACCT, "a/b/", &got), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->repo_get(f->impl, ACCT, "A/B", &got), BERTH_ENOTFOUND);
}

static void repos_list_paginated(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"b", "a/b", "c", "a", "c/d", "a-b", "ab"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        repo(f, names[i]);
    /* Byte order: '-' < '/' < letters. */
    const char *all[] = {"a", "a-b", "a/b", "ab", "b", "c", "c/d"};

    struct berth_strlist l = {0};
    assert_int_equal(f->ops->repo_list(f->impl, ACCT, NULL, 100, &l), 0);
    assert_list(&l, all, 7);
    berth_strlist_dispose(&l);

    assert_int_equal(f->ops->repo_list(f->impl, ACCT, "", 100, &l), 0);
    assert_list(&l, all, 7);
    berth_strlist_dispose(&l);

    /* Walk the whole catalog two at a time, as a client following Link headers would. */
    const char *last = NULL;
    char lastbuf[64];
    size_t seen = 0;
    for (int page = 0; page < 10; page++) {
        assert_int_equal(f->ops->repo_list(f->impl, ACCT, last, 2, &l), 0);
        assert_true(l.n <= 2);
        if (l.n == 0)
            break;
        for (size_t i = 0; i < l.n; i++)
            assert_string_equal(l.items[i], all[seen + i]);
        seen += l.n;
        snprintf(lastbuf, sizeof(lastbuf), "%s", l.items[l.n - 1]);
        last = lastbuf;
        berth_strlist_dispose(&l);
    }
    berth_strlist_dispose(&l);
    assert_int_equal(seen, 7);

    assert_int_equal(f->ops->repo_list(f->impl, ACCT, "a/b", 2, &l), 0);
    const char *after_ab[] = {"ab", "b"};
    assert_list(&l, after_ab, 2);
    berth_strlist_dispose(&l);

    /* `last` need not exist. */
    assert_int_equal(f->ops->repo_list(f->impl, ACCT, "bb", 100, &l), 0);
    const char *after_bb[] = {"c", "c/d"};
    assert_list(&l, after_bb, 2);
    berth_strlist_dispose(&l);

    assert_int_equal(f->ops->repo_list(f->impl, ACCT, "c/d", 100, &l), 0);
    assert_int_equal(l.n, 0);
    berth_strlist_dispose(&l);

    assert_int_equal(f->ops->repo_list(f->impl, ACCT, NULL, 1, &l), 0);
    assert_list(&l, all, 1);
    berth_strlist_dispose(&l);
}

/* ---- blobs ---- */

static void blobs_link_unlink(void **state)
{
    struct fixture *f = *state;
    int64_t r1 = repo(f, "r1"), r2 = repo(f, "r2");
    char d[BERTH_DIGEST_BUF];
    digest_n(d, 1);
    int64_t size = -1;

    berth_err_clear();
    assert_int_equal(f->ops->blob_linked(f->impl, r1, d, &size), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_BLOB);
    assert_int_equal(f->ops->blob_known(f->impl, d, &size), BERTH_ENOTFOUND);

    link_blob(f, r1, d, 1234);
    assert_int_equal(f->ops->blob_linked(f->impl, r1, d, &size), 0);
    assert_int_equal(size, 1234);
    assert_int_equal(f->ops->blob_linked(f->impl, r1, d, NULL), 0);
    size = -1;
    assert_int_equal(f->ops->blob_known(f->impl, d, &size), 0);
    assert_int_equal(size, 1234);
    /* The link is per repository: r2 may not serve it yet. */
    assert_int_equal(f->ops->blob_linked(f->impl, r2, d, &size), BERTH_ENOTFOUND);

    /* Linking again (a second push or a mount) is idempotent. */
    link_blob(f, r1, d, 1234);
    link_blob(f, r2, d, 1234);
    assert_int_equal(f->ops->blob_linked(f->impl, r2, d, &size), 0);

    assert_int_equal(f->ops->blob_unlink(f->impl, r1, d), 0);
    assert_int_equal(f->ops->blob_linked(f->impl, r1, d, &size), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->blob_linked(f->impl, r2, d, &size), 0);
    assert_int_equal(f->ops->blob_known(f->impl, d, &size), 0);
    assert_int_equal(f->ops->blob_unlink(f->impl, r1, d), BERTH_ENOTFOUND);

    char d2[BERTH_DIGEST_BUF];
    digest_n(d2, 2);
    assert_int_equal(f->ops->blob_unlink(f->impl, r1, d2), BERTH_ENOTFOUND);
}

static void blob_link_finishes_upload(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    struct berth_meta_upload u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "0123456789abcdef0123456789abcdef");
    snprintf(u.repo, sizeof(u.repo), "r");
    u.started_at = 1;
    assert_int_equal(f->ops->upload_create(f->impl, &u), 0);

    char d[BERTH_DIGEST_BUF];
    digest_n(d, 7);
    assert_int_equal(f->ops->blob_link(f->impl, r, d, 10, u.id), 0);
    struct berth_meta_upload got;
    assert_int_equal(f->ops->upload_get(f->impl, u.id, &got), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->blob_linked(f->impl, r, d, NULL), 0);
}

static void blob_unlink_refused_while_referenced(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r"), other = repo(f, "other");
    char cfg[BERTH_DIGEST_BUF], layer[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    digest_n(cfg, 1);
    digest_n(layer, 2);
    digest_n(m, 100);
    link_blob(f, r, cfg, 10);
    link_blob(f, r, layer, 20);
    link_blob(f, other, layer, 20);
    struct berth_manifest_ref refs[] = {blob_ref(cfg, 10), blob_ref(layer, 20)};
    assert_int_equal(put(f, r, m, NULL, refs, 2, NULL), 0);

    berth_err_clear();
    assert_int_equal(f->ops->blob_unlink(f->impl, r, layer), BERTH_ECONFLICT);
    assert_int_equal(berth_err_what(), BERTH_WHAT_BLOB);
    assert_int_equal(f->ops->blob_linked(f->impl, r, layer, NULL), 0);
    /* Another repository's link is independent of r's manifest. */
    assert_int_equal(f->ops->blob_unlink(f->impl, other, layer), 0);

    assert_int_equal(f->ops->manifest_delete(f->impl, r, m, 0), 0);
    assert_int_equal(f->ops->blob_unlink(f->impl, r, layer), 0);
    assert_int_equal(f->ops->blob_linked(f->impl, r, layer, NULL), BERTH_ENOTFOUND);
}

/* ---- manifests ---- */

static void manifest_put_get(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char cfg[BERTH_DIGEST_BUF], layer[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    digest_n(cfg, 1);
    digest_n(layer, 2);
    digest_n(m, 100);
    link_blob(f, r, cfg, 10);
    link_blob(f, r, layer, 20);
    struct berth_manifest_ref refs[] = {blob_ref(cfg, 10), blob_ref(layer, 20)};
    struct mf x = {BERTH_MT_OCI_MANIFEST, "application/vnd.example", "application/vnd.cfg", NULL};
    assert_int_equal(put(f, r, m, &x, refs, 2, "latest"), 0);

    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m, 1, &got), 0);
    assert_string_equal(got.digest, m);
    assert_string_equal(got.media_type, BERTH_MT_OCI_MANIFEST);
    assert_string_equal(got.artifact_type, "application/vnd.example");
    assert_string_equal(got.config_media_type, "application/vnd.cfg");
    assert_null(got.subject);
    assert_null(got.annotations);
    assert_int_equal(got.size, put_size(m));
    assert_int_equal(got.total_size, put_size(m) + 100);
    assert_int_equal(got.pushed_at, 1700000000);
    assert_non_null(got.body);
    assert_int_equal(got.body_len, (size_t)put_size(m));
    assert_int_equal(strlen(got.body), got.body_len);
    assert_non_null(strstr(got.body, m));
    berth_meta_manifest_dispose(&got);

    assert_int_equal(f->ops->manifest_get(f->impl, r, m, 0, &got), 0);
    assert_null(got.body);
    assert_string_equal(got.media_type, BERTH_MT_OCI_MANIFEST);
    berth_meta_manifest_dispose(&got);

    char tagged[BERTH_DIGEST_BUF];
    assert_int_equal(f->ops->tag_get(f->impl, r, "latest", tagged), 0);
    assert_string_equal(tagged, m);

    /* Manifests are per repository. */
    int64_t r2 = repo(f, "r2");
    berth_err_clear();
    assert_int_equal(f->ops->manifest_get(f->impl, r2, m, 0, &got), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_MANIFEST);

    /* Putting the same manifest again is idempotent and may add a tag. */
    assert_int_equal(put(f, r, m, &x, refs, 2, "v1"), 0);
    assert_int_equal(f->ops->tag_get(f->impl, r, "v1", tagged), 0);
    assert_string_equal(tagged, m);
    assert_int_equal(f->ops->tag_get(f->impl, r, "latest", tagged), 0);
}

static void manifest_put_repeated_layer(void **state)
{
    /* The same layer may appear twice in one image (identical empty layers do in real images). */
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char cfg[BERTH_DIGEST_BUF], layer[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    digest_n(cfg, 1);
    digest_n(layer, 2);
    digest_n(m, 100);
    link_blob(f, r, cfg, 10);
    link_blob(f, r, layer, 32);
    struct berth_manifest_ref refs[] = {blob_ref(cfg, 10), blob_ref(layer, 32),
                                        blob_ref(layer, 32)};
    assert_int_equal(put(f, r, m, NULL, refs, 3, "dup"), 0);
    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m, 0, &got), 0);
    berth_meta_manifest_dispose(&got);
    assert_int_equal(f->ops->blob_unlink(f->impl, r, layer), BERTH_ECONFLICT);
}

static void manifest_put_missing_ref_stores_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r"), other = repo(f, "other");
    char cfg[BERTH_DIGEST_BUF], layer[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    digest_n(cfg, 1);
    digest_n(layer, 2);
    digest_n(m, 100);
    link_blob(f, r, cfg, 10);
    /* The layer exists, but only in another repository. */
    link_blob(f, other, layer, 20);
    struct berth_manifest_ref refs[] = {blob_ref(cfg, 10), blob_ref(layer, 20)};

    berth_err_clear();
    assert_int_equal(put(f, r, m, NULL, refs, 2, "latest"), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_MANIFEST_REF);
    assert_non_null(berth_err_subject());
    assert_string_equal(berth_err_subject(), layer);

    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m, 0, &got), BERTH_ENOTFOUND);
    char tagged[BERTH_DIGEST_BUF];
    assert_int_equal(f->ops->tag_get(f->impl, r, "latest", tagged), BERTH_ENOTFOUND);
    struct berth_strlist l = {0};
    assert_int_equal(f->ops->tag_list(f->impl, r, NULL, 100, &l), 0);
    assert_int_equal(l.n, 0);
    berth_strlist_dispose(&l);
    /* The config blob is not held by a half-stored manifest. */
    assert_int_equal(f->ops->blob_unlink(f->impl, r, cfg), 0);

    /* Once the layer is linked here too, the same push succeeds. */
    link_blob(f, r, cfg, 10);
    link_blob(f, r, layer, 20);
    assert_int_equal(put(f, r, m, NULL, refs, 2, "latest"), 0);
}

static void manifest_put_missing_child_manifest(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char child[BERTH_DIGEST_BUF], idx[BERTH_DIGEST_BUF];
    digest_n(child, 50);
    digest_n(idx, 200);
    struct berth_manifest_ref refs[] = {manifest_ref(child, put_size(child))};
    struct mf x = {BERTH_MT_OCI_INDEX, NULL, NULL, NULL};
    berth_err_clear();
    assert_int_equal(put(f, r, idx, &x, refs, 1, "multi"), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_MANIFEST_REF);
    assert_string_equal(berth_err_subject(), child);
    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, idx, 0, &got), BERTH_ENOTFOUND);

    assert_int_equal(put(f, r, child, NULL, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, idx, &x, refs, 1, "multi"), 0);
}

static void manifest_put_size_mismatch(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char cfg[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF], child[BERTH_DIGEST_BUF];
    char idx[BERTH_DIGEST_BUF];
    digest_n(cfg, 1);
    digest_n(m, 100);
    digest_n(child, 50);
    digest_n(idx, 200);
    link_blob(f, r, cfg, 10);
    struct berth_manifest_ref refs[] = {blob_ref(cfg, 11)};
    berth_err_clear();
    assert_int_equal(put(f, r, m, NULL, refs, 1, "t"), BERTH_EINVALID);
    assert_int_equal(berth_err_what(), BERTH_WHAT_MANIFEST);
    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m, 0, &got), BERTH_ENOTFOUND);
    char tagged[BERTH_DIGEST_BUF];
    assert_int_equal(f->ops->tag_get(f->impl, r, "t", tagged), BERTH_ENOTFOUND);

    /* The same for an index entry whose size is not the child manifest's. */
    assert_int_equal(put(f, r, child, NULL, NULL, 0, NULL), 0);
    struct berth_manifest_ref crefs[] = {manifest_ref(child, put_size(child) + 1)};
    struct mf x = {BERTH_MT_OCI_INDEX, NULL, NULL, NULL};
    assert_int_equal(put(f, r, idx, &x, crefs, 1, NULL), BERTH_EINVALID);
    assert_int_equal(f->ops->manifest_get(f->impl, r, idx, 0, &got), BERTH_ENOTFOUND);
}

static void manifest_delete_refused_while_listed(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char a[BERTH_DIGEST_BUF], b[BERTH_DIGEST_BUF], idx[BERTH_DIGEST_BUF];
    digest_n(a, 10);
    digest_n(b, 11);
    digest_n(idx, 12);
    assert_int_equal(put(f, r, a, NULL, NULL, 0, "a"), 0);
    assert_int_equal(put(f, r, b, NULL, NULL, 0, NULL), 0);
    struct berth_manifest_ref refs[] = {manifest_ref(a, put_size(a))};
    struct mf x = {BERTH_MT_OCI_INDEX, NULL, NULL, NULL};
    assert_int_equal(put(f, r, idx, &x, refs, 1, "multi"), 0);

    berth_err_clear();
    assert_int_equal(f->ops->manifest_delete(f->impl, r, a, 0), BERTH_ECONFLICT);
    assert_int_equal(berth_err_what(), BERTH_WHAT_MANIFEST);
    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, a, 0, &got), 0);
    berth_meta_manifest_dispose(&got);
    char tagged[BERTH_DIGEST_BUF];
    assert_int_equal(f->ops->tag_get(f->impl, r, "a", tagged), 0);

    /* b is not listed and goes. */
    assert_int_equal(f->ops->manifest_delete(f->impl, r, b, 0), 0);
    assert_int_equal(f->ops->manifest_get(f->impl, r, b, 0, &got), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->manifest_delete(f->impl, r, b, 0), BERTH_ENOTFOUND);

    /* Deleting the index releases a, and takes the index's tag with it. */
    assert_int_equal(f->ops->manifest_delete(f->impl, r, idx, 0), 0);
    assert_int_equal(f->ops->tag_get(f->impl, r, "multi", tagged), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->manifest_delete(f->impl, r, a, 0), 0);
    assert_int_equal(f->ops->tag_get(f->impl, r, "a", tagged), BERTH_ENOTFOUND);
}

/* image_expire re-checks inside its transaction what the evaluation saw: a tag added or an
 * index listing the image since then saves it; the cascade takes referrers and orphaned
 * untagged children, never a tagged child or one another index lists. */
static void image_expire_rechecks_and_cascades(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "lc");
    char a[BERTH_DIGEST_BUF], b[BERTH_DIGEST_BUF], c[BERTH_DIGEST_BUF], idx[BERTH_DIGEST_BUF],
        idx2[BERTH_DIGEST_BUF], sig[BERTH_DIGEST_BUF], img[BERTH_DIGEST_BUF];
    digest_n(a, 40);
    digest_n(b, 41);
    digest_n(c, 42);
    digest_n(idx, 43);
    digest_n(idx2, 44);
    digest_n(sig, 45);
    digest_n(img, 46);
    assert_int_equal(put(f, r, a, NULL, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, b, NULL, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, c, NULL, NULL, 0, "c"), 0);
    struct berth_manifest_ref kids[] = {manifest_ref(a, put_size(a)), manifest_ref(b, put_size(b)),
                                        manifest_ref(c, put_size(c))};
    struct mf ix = {BERTH_MT_OCI_INDEX, NULL, NULL, NULL};
    assert_int_equal(put(f, r, idx, &ix, kids, 3, "old"), 0);
    assert_int_equal(put(f, r, idx2, &ix, &kids[1], 1, "new"), 0);
    struct mf sx = {NULL, "application/vnd.example.sig", NULL, idx};
    assert_int_equal(put(f, r, sig, &sx, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, img, NULL, NULL, 0, "v1"), 0);

    /* lifecycle judges idx, idx2 and img only: children and referrers follow */
    struct berth_meta_image_list judged;
    assert_int_equal(f->ops->lifecycle_images(f->impl, r, &judged), 0);
    assert_int_equal(judged.n, 3);
    berth_meta_image_list_dispose(&judged);

    struct berth_meta_event ev = {
        .at = 1900000000, .kind = "IMAGE_EXPIRED", .actor = "test", .detail = "{}"};
    struct berth_strlist tags = {0}, deleted;
    /* judged untagged, tagged meanwhile: kept */
    berth_strlist_push(&tags, "v0");
    assert_int_equal(f->ops->image_expire(f->impl, r, img, &tags, &ev, &deleted), BERTH_ECONFLICT);
    berth_strlist_dispose(&tags);
    /* a child an index lists: kept */
    assert_int_equal(f->ops->image_expire(f->impl, r, a, &tags, &ev, &deleted), BERTH_ECONFLICT);
    /* gone: ENOTFOUND */
    char none[BERTH_DIGEST_BUF];
    digest_n(none, 47);
    assert_int_equal(f->ops->image_expire(f->impl, r, none, &tags, &ev, &deleted), BERTH_ENOTFOUND);

    berth_strlist_push(&tags, "old");
    assert_int_equal(f->ops->image_expire(f->impl, r, idx, &tags, &ev, &deleted), 0);
    berth_strlist_dispose(&tags);
    const char *want[] = {idx, sig, a};
    assert_list(&deleted, want, 3);
    berth_strlist_dispose(&deleted);
    struct berth_meta_manifest got;
    assert_int_equal(f->ops->manifest_get(f->impl, r, b, 0, &got), 0); /* idx2 lists it */
    berth_meta_manifest_dispose(&got);
    assert_int_equal(f->ops->manifest_get(f->impl, r, c, 0, &got), 0); /* tagged */
    berth_meta_manifest_dispose(&got);
    assert_int_equal(f->ops->manifest_get(f->impl, r, a, 0, &got), BERTH_ENOTFOUND);
}

/* One preview per repository: a second start while one runs is refused; once finished it may
 * start again. */
static void lifecycle_preview_one_at_a_time(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "pv");
    struct berth_meta_lc_preview pv;
    assert_int_equal(f->ops->lc_preview_get(f->impl, r, &pv), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->lc_preview_start(f->impl, r, "{\"rules\":1}", 100), 0);
    assert_int_equal(f->ops->lc_preview_start(f->impl, r, "{\"rules\":2}", 101), BERTH_ECONFLICT);
    assert_int_equal(berth_err_what(), BERTH_WHAT_POLICY);
    struct berth_meta_repo_ref_list pending;
    assert_int_equal(f->ops->lc_preview_pending(f->impl, &pending), 0);
    assert_int_equal(pending.n, 1);
    assert_int_equal(pending.items[0].id, r);
    berth_meta_repo_ref_list_dispose(&pending);
    assert_int_equal(f->ops->lc_preview_get(f->impl, r, &pv), 0);
    assert_string_equal(pv.status, "IN_PROGRESS");
    assert_string_equal(pv.policy, "{\"rules\":1}");
    assert_null(pv.results);
    berth_meta_lc_preview_dispose(&pv);
    assert_int_equal(f->ops->lc_preview_finish(f->impl, r, "COMPLETE", "[]", 102), 0);
    assert_int_equal(f->ops->lc_preview_get(f->impl, r, &pv), 0);
    assert_string_equal(pv.status, "COMPLETE");
    assert_string_equal(pv.results, "[]");
    berth_meta_lc_preview_dispose(&pv);
    assert_int_equal(f->ops->lc_preview_start(f->impl, r, "{\"rules\":3}", 103), 0);
}

struct dangling_seen {
    struct berth_meta_dangling last;
    int n;
};

static int collect_dangling(void *ctx, const struct berth_meta_dangling *d)
{
    struct dangling_seen *s = ctx;
    s->last = *d;
    s->n++;
    return 0;
}

static void manifest_force_delete_leaves_dangling(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "fsck/r");
    char a[BERTH_DIGEST_BUF], idx[BERTH_DIGEST_BUF];
    digest_n(a, 10);
    digest_n(idx, 12);
    assert_int_equal(put(f, r, a, NULL, NULL, 0, NULL), 0);
    struct berth_manifest_ref refs[] = {manifest_ref(a, put_size(a))};
    struct mf x = {BERTH_MT_OCI_INDEX, NULL, NULL, NULL};
    assert_int_equal(put(f, r, idx, &x, refs, 1, NULL), 0);

    struct dangling_seen found;
    memset(&found, 0, sizeof(found));
    assert_int_equal(f->ops->dangling_iterate(f->impl, collect_dangling, &found), 0);
    assert_int_equal(found.n, 0);

    assert_int_equal(f->ops->manifest_delete(f->impl, r, a, 1), 0);
    memset(&found, 0, sizeof(found));
    assert_int_equal(f->ops->dangling_iterate(f->impl, collect_dangling, &found), 0);
    assert_int_equal(found.n, 1);
    assert_int_equal(found.last.repo_id, r);
    assert_string_equal(found.last.repo, "fsck/r");
    assert_string_equal(found.last.parent, idx);
    assert_string_equal(found.last.child, a);
    assert_int_equal(found.last.kind, 1);
}

static void blob_forget_leaves_dangling(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char cfg[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    digest_n(cfg, 1);
    digest_n(m, 100);
    link_blob(f, r, cfg, 10);
    struct berth_manifest_ref refs[] = {blob_ref(cfg, 10)};
    assert_int_equal(put(f, r, m, NULL, refs, 1, NULL), 0);

    assert_int_equal(f->ops->blob_forget(f->impl, cfg), 0);
    assert_int_equal(f->ops->blob_known(f->impl, cfg, NULL), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->blob_linked(f->impl, r, cfg, NULL), BERTH_ENOTFOUND);
    struct dangling_seen found;
    memset(&found, 0, sizeof(found));
    assert_int_equal(f->ops->dangling_iterate(f->impl, collect_dangling, &found), 0);
    assert_int_equal(found.n, 1);
    assert_string_equal(found.last.parent, m);
    assert_string_equal(found.last.child, cfg);
    assert_int_equal(found.last.kind, 0);
}

struct blobs_seen {
    char digest[4][BERTH_DIGEST_BUF];
    int64_t size[4];
    int n;
};

static int collect_blob(void *ctx, const char *digest, int64_t size)
{
    struct blobs_seen *s = ctx;
    if (s->n < 4) {
        snprintf(s->digest[s->n], BERTH_DIGEST_BUF, "%s", digest);
        s->size[s->n] = size;
    }
    s->n++;
    return 0;
}

static int stop_blob(void *ctx, const char *digest, int64_t size)
{
    (*(int *)ctx)++;
    return BERTH_EIO;
}

static void blob_iterate_all(void **state)
{
    struct fixture *f = *state;
    int64_t r1 = repo(f, "r1"), r2 = repo(f, "r2");
    char d1[BERTH_DIGEST_BUF], d2[BERTH_DIGEST_BUF];
    digest_n(d1, 9);
    digest_n(d2, 3);
    link_blob(f, r1, d1, 90);
    link_blob(f, r2, d1, 90);
    link_blob(f, r2, d2, 30);
    struct blobs_seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->blob_iterate(f->impl, collect_blob, &s), 0);
    assert_int_equal(s.n, 2); /* deduplicated across repositories */
    assert_string_equal(s.digest[0], d2);
    assert_int_equal(s.size[0], 30);
    assert_string_equal(s.digest[1], d1);
    assert_int_equal(s.size[1], 90);

    int calls = 0;
    assert_int_equal(f->ops->blob_iterate(f->impl, stop_blob, &calls), BERTH_EIO);
    assert_int_equal(calls, 1);
}

struct manifests_seen {
    int n;
    int bodies_ok;
    char repo[4][32];
    char digest[4][BERTH_DIGEST_BUF];
};

static int collect_manifest(void *ctx, int64_t repo_id, const char *repo, const char *digest,
                            const char *body, size_t len)
{
    struct manifests_seen *s = ctx;
    char want[160];
    int n = snprintf(want, sizeof(want), "{\"schemaVersion\":2,\"x\":\"%s\"}", digest);
    if (repo_id > 0 && len == (size_t)n && memcmp(body, want, len) == 0)
        s->bodies_ok++;
    if (s->n < 4) {
        snprintf(s->repo[s->n], sizeof(s->repo[0]), "%s", repo);
        snprintf(s->digest[s->n], BERTH_DIGEST_BUF, "%s", digest);
    }
    s->n++;
    return 0;
}

static int stop_manifest(void *ctx, int64_t repo_id, const char *repo, const char *digest,
                         const char *body, size_t len)
{
    (*(int *)ctx)++;
    return BERTH_ECONFLICT;
}

static void manifest_iterate_all(void **state)
{
    struct fixture *f = *state;
    int64_t r1 = repo(f, "one"), r2 = repo(f, "two");
    char a[BERTH_DIGEST_BUF], b[BERTH_DIGEST_BUF];
    digest_n(a, 1);
    digest_n(b, 2);
    assert_int_equal(put(f, r1, a, NULL, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r2, a, NULL, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r2, b, NULL, NULL, 0, "t"), 0);

    struct manifests_seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->manifest_iterate(f->impl, collect_manifest, &s), 0);
    /* Every (repository, manifest) pair once, with the stored body. */
    assert_int_equal(s.n, 3);
    assert_int_equal(s.bodies_ok, 3);
    int one_a = 0, two_a = 0, two_b = 0;
    for (int i = 0; i < 3; i++) {
        one_a += !strcmp(s.repo[i], "one") && !strcmp(s.digest[i], a);
        two_a += !strcmp(s.repo[i], "two") && !strcmp(s.digest[i], a);
        two_b += !strcmp(s.repo[i], "two") && !strcmp(s.digest[i], b);
    }
    assert_int_equal(one_a + two_a + two_b, 3);
    assert_true(one_a == 1 && two_a == 1 && two_b == 1);

    int calls = 0;
    assert_int_equal(f->ops->manifest_iterate(f->impl, stop_manifest, &calls), BERTH_ECONFLICT);
    assert_int_equal(calls, 1);
}

/* ---- tags ---- */

/* An immutable tag is created once and never moved, checked inside the push transaction;
 * the refused push stores nothing (not even the untagged manifest). */
static void tags_immutable(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "imm");
    char m1[BERTH_DIGEST_BUF], m2[BERTH_DIGEST_BUF], got[BERTH_DIGEST_BUF];
    digest_n(m1, 1);
    digest_n(m2, 2);
    assert_int_equal(put_imm(f, r, m1, NULL, NULL, 0, "v1", 1), 0);
    assert_int_equal(put_imm(f, r, m1, NULL, NULL, 0, "v1", 1), 0); /* same digest: fine */
    assert_int_equal(put_imm(f, r, m2, NULL, NULL, 0, "v1", 1), BERTH_ECONFLICT);
    assert_int_equal(berth_err_what(), BERTH_WHAT_TAG);
    assert_int_equal(f->ops->tag_get(f->impl, r, "v1", got), 0);
    assert_string_equal(got, m1);
    struct berth_meta_manifest mm;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m2, 0, &mm), BERTH_ENOTFOUND);
    /* a mutable push may still move it (the caller decides per tag) */
    assert_int_equal(put_imm(f, r, m2, NULL, NULL, 0, "v1", 0), 0);
    assert_int_equal(f->ops->tag_get(f->impl, r, "v1", got), 0);
    assert_string_equal(got, m2);
}

/* The pull time is recorded per manifest and read back; 0 means never pulled. */
static void manifest_pull_time(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "pulls");
    char m1[BERTH_DIGEST_BUF];
    digest_n(m1, 1);
    assert_int_equal(put(f, r, m1, NULL, NULL, 0, "v1"), 0);
    struct berth_meta_manifest m;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m1, 0, &m), 0);
    assert_int_equal(m.last_pulled_at, 0);
    berth_meta_manifest_dispose(&m);
    assert_int_equal(f->ops->manifest_pulled(f->impl, r, m1, 1800000000), 0);
    assert_int_equal(f->ops->manifest_get(f->impl, r, m1, 1, &m), 0);
    assert_int_equal(m.last_pulled_at, 1800000000);
    assert_non_null(m.body); /* the body column still lines up after the new column */
    assert_int_equal(m.body[0], '{');
    berth_meta_manifest_dispose(&m);
    struct berth_meta_image_list l = {0};
    assert_int_equal(f->ops->image_list(f->impl, r, NULL, 10, -1, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].last_pulled_at, 1800000000);
    assert_int_equal(l.items[0].tags.n, 1);
    assert_string_equal(l.items[0].tags.items[0], "v1");
    berth_meta_image_list_dispose(&l);
}

static void tags_upsert_list_delete(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r"), r2 = repo(f, "r2");
    char m1[BERTH_DIGEST_BUF], m2[BERTH_DIGEST_BUF];
    digest_n(m1, 1);
    digest_n(m2, 2);
    assert_int_equal(put(f, r, m1, NULL, NULL, 0, "latest"), 0);
    assert_int_equal(put(f, r, m2, NULL, NULL, 0, "latest"), 0);
    char got[BERTH_DIGEST_BUF];
    assert_int_equal(f->ops->tag_get(f->impl, r, "latest", got), 0);
    assert_string_equal(got, m2); /* moved */
    /* The previously tagged manifest is still there, untagged. */
    struct berth_meta_manifest mm;
    assert_int_equal(f->ops->manifest_get(f->impl, r, m1, 0, &mm), 0);
    berth_meta_manifest_dispose(&mm);

    const char *tags[] = {"v2", "v10", "V1", "a", "_x", "v1.0", "v1-rc"};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        assert_int_equal(put(f, r, m1, NULL, NULL, 0, tags[i]), 0);
    assert_int_equal(put(f, r2, m1, NULL, NULL, 0, "other-repo"), 0);

    /* Case-insensitive order, as the distribution spec requires. */
    const char *all[] = {"_x", "a", "latest", "V1", "v1-rc", "v1.0", "v10", "v2"};
    struct berth_strlist l = {0};
    assert_int_equal(f->ops->tag_list(f->impl, r, NULL, 1000, &l), 0);
    assert_list(&l, all, 8);
    berth_strlist_dispose(&l);

    assert_int_equal(f->ops->tag_list(f->impl, r, NULL, 3, &l), 0);
    assert_list(&l, all, 3);
    berth_strlist_dispose(&l);
    assert_int_equal(f->ops->tag_list(f->impl, r, "latest", 3, &l), 0);
    assert_list(&l, all + 3, 3);
    berth_strlist_dispose(&l);
    assert_int_equal(f->ops->tag_list(f->impl, r, "v1.0", 3, &l), 0);
    assert_list(&l, all + 6, 2);
    berth_strlist_dispose(&l);
    assert_int_equal(f->ops->tag_list(f->impl, r, "v2", 3, &l), 0);
    assert_int_equal(l.n, 0);
    berth_strlist_dispose(&l);

    berth_err_clear();
    assert_int_equal(f->ops->tag_delete(f->impl, r, "v10"), 0);
    assert_int_equal(f->ops->tag_get(f->impl, r, "v10", got), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->tag_delete(f->impl, r, "v10"), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->tag_delete(f->impl, r, "other-repo"), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->tag_get(f->impl, r2, "other-repo", got), 0);
    /* Deleting a tag keeps its manifest. */
    assert_int_equal(f->ops->manifest_get(f->impl, r, m1, 0, &mm), 0);
    berth_meta_manifest_dispose(&mm);

    assert_int_equal(f->ops->tag_list(f->impl, r, "v1.0", 3, &l), 0);
    const char *tail[] = {"v2"};
    assert_list(&l, tail, 1);
    berth_strlist_dispose(&l);
}

/* Tags equal but for case: `last` is exact on the tie (byte order), and a `last` that is no
 * tag starts the page where it would sort. The statement bounds lower(name) separately so the
 * page starts at `last` in the index (test_meta_plans.c); the answers must not change. */
static void tags_page_case_ties(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "ties");
    char m[BERTH_DIGEST_BUF];
    digest_n(m, 1);
    const char *tags[] = {"b1", "B", "a", "b", "A"};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        assert_int_equal(put(f, r, m, NULL, NULL, 0, tags[i]), 0);
    const char *all[] = {"A", "a", "B", "b", "b1"};
    struct {
        const char *last;
        size_t from, n;
    } pages[] = {
        {NULL, 0, 2}, {"A", 1, 2},  {"a", 2, 2}, {"B", 3, 2}, {"b", 4, 1},
        {"b1", 5, 0}, {"Aa", 2, 2}, {"", 0, 2},  {"c", 5, 0},
    };
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        struct berth_strlist l = {0};
        assert_int_equal(f->ops->tag_list(f->impl, r, pages[i].last, 2, &l), 0);
        assert_list(&l, all + pages[i].from, pages[i].n);
        berth_strlist_dispose(&l);
    }
}

/* ---- referrers ---- */

static void referrers_filtered(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "r");
    char subject[BERTH_DIGEST_BUF], other[BERTH_DIGEST_BUF];
    char a1[BERTH_DIGEST_BUF], a2[BERTH_DIGEST_BUF], a3[BERTH_DIGEST_BUF], a4[BERTH_DIGEST_BUF];
    digest_n(subject, 1000);
    digest_n(other, 1001);
    digest_n(a1, 30);
    digest_n(a2, 20);
    digest_n(a3, 10);
    digest_n(a4, 40);

    /* The subject need not exist (referrers may be pushed first). */
    struct mf x1 = {BERTH_MT_OCI_MANIFEST, "application/vnd.sig",
                    "application/vnd.oci.empty.v1+json", subject};
    struct mf x2 = {BERTH_MT_OCI_MANIFEST, NULL, "application/vnd.sbom.config", subject};
    struct mf x3 = {BERTH_MT_OCI_MANIFEST, "application/vnd.sig", NULL, other};
    struct mf x4 = {BERTH_MT_OCI_INDEX, "application/vnd.sig", NULL, subject};
    assert_int_equal(put(f, r, a1, &x1, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, a2, &x2, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, a3, &x3, NULL, 0, NULL), 0);
    assert_int_equal(put(f, r, a4, &x4, NULL, 0, NULL), 0);

    struct berth_meta_manifest_list l;
    assert_int_equal(f->ops->referrers(f->impl, r, subject, NULL, &l), 0);
    assert_int_equal(l.n, 3);
    /* Ordered by digest: a2 (20) < a1 (30) < a4 (40). */
    assert_string_equal(l.items[0].digest, a2);
    assert_string_equal(l.items[1].digest, a1);
    assert_string_equal(l.items[2].digest, a4);
    assert_null(l.items[0].artifact_type);
    assert_string_equal(l.items[0].config_media_type, "application/vnd.sbom.config");
    assert_string_equal(l.items[1].artifact_type, "application/vnd.sig");
    assert_string_equal(l.items[1].media_type, BERTH_MT_OCI_MANIFEST);
    assert_string_equal(l.items[2].media_type, BERTH_MT_OCI_INDEX);
    assert_int_equal(l.items[1].size, put_size(a1));
    berth_meta_manifest_list_dispose(&l);

    assert_int_equal(f->ops->referrers(f->impl, r, subject, "application/vnd.sig", &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].digest, a1);
    assert_string_equal(l.items[1].digest, a4);
    berth_meta_manifest_list_dispose(&l);

    /* Without artifactType, the config media type is the artifact type. */
    assert_int_equal(f->ops->referrers(f->impl, r, subject, "application/vnd.sbom.config", &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].digest, a2);
    berth_meta_manifest_list_dispose(&l);

    /* artifactType wins over the config media type. */
    assert_int_equal(
        f->ops->referrers(f->impl, r, subject, "application/vnd.oci.empty.v1+json", &l), 0);
    assert_int_equal(l.n, 0);
    berth_meta_manifest_list_dispose(&l);

    assert_int_equal(f->ops->referrers(f->impl, r, subject, "application/none", &l), 0);
    assert_int_equal(l.n, 0);
    berth_meta_manifest_list_dispose(&l);

    /* Referrers are per repository. */
    int64_t r2 = repo(f, "r2");
    assert_int_equal(f->ops->referrers(f->impl, r2, subject, NULL, &l), 0);
    assert_int_equal(l.n, 0);
    berth_meta_manifest_list_dispose(&l);

    /* A deleted referrer is no longer listed. */
    assert_int_equal(f->ops->manifest_delete(f->impl, r, a1, 0), 0);
    assert_int_equal(f->ops->referrers(f->impl, r, subject, NULL, &l), 0);
    assert_int_equal(l.n, 2);
    berth_meta_manifest_list_dispose(&l);
}

/* ---- uploads ---- */

static void uploads_lifecycle(void **state)
{
    struct fixture *f = *state;
    int64_t count = -1;
    assert_int_equal(f->ops->upload_count(f->impl, &count), 0);
    assert_int_equal(count, 0);

    struct berth_sha256 h;
    berth_sha256_init(&h);
    berth_sha256_update(&h, "abc", 3);

    struct berth_meta_upload u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(u.repo, sizeof(u.repo), "r");
    u.offset = 0;
    berth_sha256_export(&h, u.state);
    u.started_at = 1700000001;
    assert_int_equal(f->ops->upload_create(f->impl, &u), 0);
    /* Ids are unique. */
    assert_true(f->ops->upload_create(f->impl, &u) < 0);

    struct berth_meta_upload got;
    memset(&got, 0x77, sizeof(got));
    assert_int_equal(f->ops->upload_get(f->impl, u.id, &got), 0);
    assert_string_equal(got.id, u.id);
    assert_string_equal(got.repo, "r");
    assert_int_equal(got.offset, 0);
    assert_int_equal(got.started_at, 1700000001);
    assert_memory_equal(got.state, u.state, sizeof(u.state));

    /* The stored state resumes the hash. */
    struct berth_sha256 h2;
    assert_int_equal(berth_sha256_import(&h2, got.state, sizeof(got.state)), 0);
    berth_sha256_update(&h2, "def", 3);
    berth_sha256_update(&h, "def", 3);
    char want[BERTH_DIGEST_BUF], have[BERTH_DIGEST_BUF];
    berth_sha256_peek(&h, want);
    berth_sha256_peek(&h2, have);
    assert_string_equal(have, want);

    u.offset = 3;
    berth_sha256_export(&h, u.state);
    assert_int_equal(f->ops->upload_update(f->impl, &u), 0);
    assert_int_equal(f->ops->upload_get(f->impl, u.id, &got), 0);
    assert_int_equal(got.offset, 3);
    assert_memory_equal(got.state, u.state, sizeof(u.state));
    assert_int_equal(got.started_at, 1700000001);

    struct berth_meta_upload u2 = u;
    snprintf(u2.id, sizeof(u2.id), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(f->ops->upload_create(f->impl, &u2), 0);
    assert_int_equal(f->ops->upload_count(f->impl, &count), 0);
    assert_int_equal(count, 2);

    berth_err_clear();
    assert_int_equal(f->ops->upload_delete(f->impl, u.id), 0);
    assert_int_equal(f->ops->upload_get(f->impl, u.id, &got), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_UPLOAD);
    assert_int_equal(f->ops->upload_delete(f->impl, u.id), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->upload_update(f->impl, &u), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->upload_count(f->impl, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(f->ops->upload_get(f->impl, u2.id, &got), 0);
}

static int collect_upload(void *ctx, const char *id)
{
    struct berth_strlist *l = ctx;
    return berth_strlist_push(l, id);
}

static void uploads_iterate(void **state)
{
    struct fixture *f = *state;
    const char *ids[] = {"cc", "aa", "bb"};
    for (size_t i = 0; i < 3; i++) {
        struct berth_meta_upload u;
        memset(&u, 0, sizeof(u));
        snprintf(u.id, sizeof(u.id), "%s", ids[i]);
        snprintf(u.repo, sizeof(u.repo), "r");
        assert_int_equal(f->ops->upload_create(f->impl, &u), 0);
    }
    struct berth_strlist l = {0};
    assert_int_equal(f->ops->upload_iterate(f->impl, collect_upload, &l), 0);
    const char *want[] = {"aa", "bb", "cc"};
    assert_list(&l, want, 3);
    berth_strlist_dispose(&l);
}

/* ---- lifecycle ---- */

static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void migrations_idempotent(void **state)
{
    struct fixture *f = *state;
    int64_t r = repo(f, "persist/me");
    char m[BERTH_DIGEST_BUF];
    digest_n(m, 5);
    assert_int_equal(put(f, r, m, NULL, NULL, 0, "keep"), 0);
    int v1 = user_version(f->path);
    assert_true(v1 >= 1);

    for (int i = 0; i < 3; i++) {
        reopen(f);
        assert_int_equal(user_version(f->path), v1);
        int64_t id = 0;
        assert_int_equal(f->ops->repo_get(f->impl, ACCT, "persist/me", &id), 0);
        assert_int_equal(id, r);
        char tagged[BERTH_DIGEST_BUF];
        assert_int_equal(f->ops->tag_get(f->impl, r, "keep", tagged), 0);
        assert_string_equal(tagged, m);
    }
    /* Still writable after reopening. */
    repo(f, "after/reopen");
}

static void open_bad_path_fails(void **state)
{
    struct berth_meta *m = NULL;
    assert_true(berth_meta_sqlite_open(&m, "/nonexistent-dir-for-berth/x/meta.db") < 0);
    assert_null(m);
    berth_meta_close(NULL);
}

/* ---- threads ---- */

struct worker {
    struct fixture *f;
    int n;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 40; i++) {
        char name[32], d[BERTH_DIGEST_BUF];
        int64_t id;
        snprintf(name, sizeof(name), "shared/%d", i % 5);
        if (w->f->ops->repo_ensure(w->f->impl, ACCT, name, 1, &id) < 0) {
            w->failures++;
            continue;
        }
        digest_n(d, (unsigned)(w->n * 1000 + i));
        if (w->f->ops->blob_link(w->f->impl, id, d, i, NULL) < 0 ||
            w->f->ops->blob_linked(w->f->impl, id, d, NULL) < 0)
            w->failures++;
    }
    return NULL;
}

static void concurrent_writers(void **state)
{
    struct fixture *f = *state;
    enum { N = 4 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){f, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    struct berth_strlist l = {0};
    assert_int_equal(f->ops->repo_list(f->impl, ACCT, NULL, 100, &l), 0);
    assert_int_equal(l.n, 5);
    berth_strlist_dispose(&l);
    struct blobs_seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->blob_iterate(f->impl, collect_blob, &s), 0);
    assert_int_equal(s.n, N * 40);
}

static void strlist_push(void **state)
{
    struct berth_strlist l = {0};
    for (int i = 0; i < 100; i++) {
        char s[8];
        snprintf(s, sizeof(s), "%d", i);
        assert_int_equal(berth_strlist_push(&l, s), 0);
    }
    assert_int_equal(berth_strlist_push(&l, NULL), 0);
    assert_int_equal(l.n, 101);
    assert_string_equal(l.items[0], "0");
    assert_string_equal(l.items[99], "99");
    assert_string_equal(l.items[100], "");
    berth_strlist_dispose(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.items);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    berth_log_setup(BERTH_LOG_WARN, BERTH_LOG_TEXT); /* no "schema migrated" line per case */
    const struct CMUnitTest tests[] = {
        T(repos_ensure_get),
        T(repos_list_paginated),
        T(tags_immutable),
        T(manifest_pull_time),
        T(blobs_link_unlink),
        T(blob_link_finishes_upload),
        T(blob_unlink_refused_while_referenced),
        T(manifest_put_get),
        T(manifest_put_repeated_layer),
        T(manifest_put_missing_ref_stores_nothing),
        T(manifest_put_missing_child_manifest),
        T(manifest_put_size_mismatch),
        T(manifest_delete_refused_while_listed),
        T(manifest_force_delete_leaves_dangling),
        T(blob_forget_leaves_dangling),
        T(blob_iterate_all),
        T(manifest_iterate_all),
        T(tags_upsert_list_delete),
        T(tags_page_case_ties),
        T(referrers_filtered),
        T(image_expire_rechecks_and_cascades),
        T(lifecycle_preview_one_at_a_time),
        T(uploads_lifecycle),
        T(uploads_iterate),
        T(migrations_idempotent),
        cmocka_unit_test(open_bad_path_fails),
        T(concurrent_writers),
        cmocka_unit_test(strlist_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
