/*
 * Garbage collection passes against the real stores (SQLite file + filesystem blobs in a
 * temporary directory), driven through the registry as a client would: what a pass removes
 * and keeps, dry runs, refresh on use, upload expiry, and the upload commit protocol when a
 * sweep lands between the bytes and the metadata row (the steps berth_registry_upload_finish
 * takes, run one by one with a pass in between).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/digest.h"
#include "core/err.h"
#include "core/log.h"
#include "gc/gc.h"
#include "registry/registry.h"

#define ACCT "000000000000"
#define GRACE 100
#define TTL 60

struct fixture {
    char dir[64];
    struct berth_meta *meta;
    struct berth_blob_store *blobs;
    struct berth_registry reg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-gc-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    if (berth_meta_sqlite_open(&f->meta, path) < 0 || berth_blob_fs_open(&f->blobs, f->dir) < 0)
        return -1;
    struct berth_registry_options o = {.auto_create_repos = 1, .gc_grace = GRACE};
    berth_registry_init(&f->reg, f->meta, f->blobs, &o);
    *state = f;
    return 0;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berth_registry_dispose(&f->reg);
    berth_meta_close(f->meta);
    berth_blob_close(f->blobs);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* A pass as if `later` seconds had gone by since everything was pushed; walk: walk the blob
 * files whether or not anything asked for it. */
static struct berth_gc_report gc_walk(struct fixture *f, int64_t later, int dry_run, int walk)
{
    struct berth_gc_options o = {.grace = GRACE,
                                 .upload_ttl = TTL,
                                 .dry_run = dry_run,
                                 .walk_files = walk,
                                 .now = (int64_t)time(NULL) + later};
    struct berth_gc_report rep;
    if (berth_gc_run(&f->reg, &o, &rep) < 0)
        fail_msg("gc: %s", berth_err_detail());
    return rep;
}

static struct berth_gc_report gc(struct fixture *f, int64_t later, int dry_run)
{
    return gc_walk(f, later, dry_run, 0);
}

/* Pushes data as one monolithic upload into repo; digest out. */
static void push_blob(struct fixture *f, const char *repo, const char *data,
                      char digest[BERTH_DIGEST_BUF])
{
    char id[BERTH_UPLOAD_ID_BUF];
    struct berth_upload u;
    uint64_t off;
    berth_sha256_oneshot(data, strlen(data), digest);
    assert_int_equal(berth_registry_upload_start(&f->reg, ACCT, repo, id), 0);
    assert_int_equal(berth_registry_upload_begin(&f->reg, ACCT, repo, id, NULL, &u, &off), 0);
    assert_int_equal(berth_registry_upload_write(&f->reg, &u, data, strlen(data)), 0);
    assert_int_equal(berth_registry_upload_finish(&f->reg, &u, digest), 0);
}

/* An image manifest with config cfg and the given layers (already pushed); digest out. */
static void push_image(struct fixture *f, const char *repo, const char *tag, const char *cfg,
                       const char *const *layers, size_t n, char digest[BERTH_DIGEST_BUF])
{
    char body[2048], d[BERTH_DIGEST_BUF];
    size_t len = 0;
    berth_sha256_oneshot(cfg, strlen(cfg), d);
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                            "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                            "\"size\":%zu},\"layers\":[",
                            BERTH_MT_OCI_MANIFEST, d, strlen(cfg));
    for (size_t i = 0; i < n; i++) {
        berth_sha256_oneshot(layers[i], strlen(layers[i]), d);
        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                "\"digest\":\"%s\",\"size\":%zu}",
                                i ? "," : "", d, strlen(layers[i]));
    }
    len += (size_t)snprintf(body + len, sizeof(body) - len, "]}");
    struct berth_put_result res;
    assert_int_equal(berth_registry_manifest_put(&f->reg, ACCT, repo, tag, BERTH_MT_OCI_MANIFEST,
                                                 body, len, &res),
                     0);
    memcpy(digest, res.digest, BERTH_DIGEST_BUF);
}

static int stored(struct fixture *f, const char *data)
{
    char d[BERTH_DIGEST_BUF];
    uint64_t size;
    berth_sha256_oneshot(data, strlen(data), d);
    return f->blobs->ops->stat(f->blobs->impl, d, &size) == 0;
}

/* The repository serves data byte for byte. */
static void serves(struct fixture *f, const char *repo, const char *data)
{
    char d[BERTH_DIGEST_BUF], buf[256];
    int fd = -1;
    uint64_t size = 0;
    berth_sha256_oneshot(data, strlen(data), d);
    assert_int_equal(berth_registry_blob_open(&f->reg, ACCT, repo, d, &fd, &size, NULL), 0);
    assert_int_equal(size, strlen(data));
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_int_equal(n, (ssize_t)strlen(data));
    assert_memory_equal(buf, data, (size_t)n);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static const char CFG_A[] = "{\"config\":\"a\"}", CFG_B[] = "{\"config\":\"b\"}",
                  SHARED[] = "shared base layer bytes", ONLY_A[] = "layer only image a has";

static void reclaims_deleted_image_keeps_shared(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF], ma[BERTH_DIGEST_BUF], mb[BERTH_DIGEST_BUF];
    push_blob(f, "app", CFG_A, d);
    push_blob(f, "app", SHARED, d);
    push_blob(f, "app", ONLY_A, d);
    push_blob(f, "app", CFG_B, d);
    const char *la[] = {SHARED, ONLY_A}, *lb[] = {SHARED};
    push_image(f, "app", "a", CFG_A, la, 2, ma);
    push_image(f, "app", "b", CFG_B, lb, 1, mb);

    /* Nothing is garbage while every image stands, however old. */
    struct berth_gc_report rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.links_removed + rep.blobs_removed + rep.orphans_removed, 0);

    assert_int_equal(berth_registry_manifest_delete(&f->reg, ACCT, "app", ma), 0);
    /* Within the grace nothing goes. */
    rep = gc(f, 0, 0);
    assert_int_equal(rep.links_removed + rep.blobs_removed, 0);

    rep = gc(f, 10 * GRACE, 1);
    assert_int_equal(rep.links_removed, 2);
    assert_int_equal(rep.blobs_removed, 2);
    assert_int_equal(rep.blob_bytes, strlen(CFG_A) + strlen(ONLY_A));
    assert_true(stored(f, CFG_A) && stored(f, ONLY_A));
    char line[256];
    berth_gc_report_format(&rep, 1, line, sizeof(line));
    assert_string_equal(line, "would reclaim 2 blobs (36 bytes), remove 2 unreferenced links, "
                              "expire 0 upload sessions, remove 0 orphaned files");

    rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.links_removed, 2);
    assert_int_equal(rep.blobs_removed, 2);
    assert_int_equal(rep.blob_bytes, strlen(CFG_A) + strlen(ONLY_A));
    assert_false(stored(f, CFG_A));
    assert_false(stored(f, ONLY_A));
    assert_true(stored(f, SHARED) && stored(f, CFG_B));
    serves(f, "app", SHARED);
    serves(f, "app", CFG_B);
    struct berth_meta_manifest m;
    assert_int_equal(berth_registry_manifest_get(&f->reg, ACCT, "app", "b", 1, &m), 0);
    berth_meta_manifest_dispose(&m);

    rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.links_removed + rep.blobs_removed + rep.orphans_removed, 0);
}

static void repository_delete_frees_its_blobs(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    push_blob(f, "keep", CFG_B, d);
    push_blob(f, "keep", SHARED, d);
    push_blob(f, "doomed", CFG_A, d);
    push_blob(f, "doomed", SHARED, d);
    const char *l[] = {SHARED};
    push_image(f, "keep", "v1", CFG_B, l, 1, m);
    push_image(f, "doomed", "v1", CFG_A, l, 1, m);
    struct berth_meta_repo gone;
    assert_int_equal(berth_registry_repo_delete(&f->reg, ACCT, "doomed", 1, &gone), 0);
    berth_meta_repo_dispose(&gone);

    struct berth_gc_report rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.links_removed, 0); /* they went with the repository */
    assert_int_equal(rep.blobs_removed, 1);
    assert_false(stored(f, CFG_A));
    assert_true(stored(f, SHARED));
    serves(f, "keep", SHARED);
}

/* A client that finds a blob (HEAD) and then references it without uploading: finding it
 * refreshes an old link, so the sweep leaves it for the manifest that follows. */
static void finding_a_blob_refreshes_its_link(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF];
    push_blob(f, "app", CFG_A, d);
    int64_t repo_id, t = 0;
    assert_int_equal(berth_registry_repo(&f->reg, ACCT, "app", 0, &repo_id), 0);
    const struct berth_meta_ops *ops = f->meta->ops;

    /* Young link: a HEAD does not write. */
    assert_int_equal(ops->blob_link_touch(f->meta->impl, repo_id, d, time(NULL) - GRACE / 4), 0);
    uint64_t size;
    assert_int_equal(berth_registry_blob_stat(&f->reg, ACCT, "app", d, &size), 0);
    assert_int_equal(ops->blob_link_time(f->meta->impl, repo_id, d, NULL, &t), 0);
    assert_true(t < time(NULL) - GRACE / 4 + 2);

    /* Older than half the grace: the HEAD refreshes it before answering. */
    assert_int_equal(ops->blob_link_touch(f->meta->impl, repo_id, d, time(NULL) - GRACE), 0);
    assert_int_equal(berth_registry_blob_stat(&f->reg, ACCT, "app", d, &size), 0);
    assert_int_equal(ops->blob_link_time(f->meta->impl, repo_id, d, NULL, &t), 0);
    assert_true(t >= time(NULL) - 1);
    struct berth_gc_report rep = gc(f, 0, 0);
    assert_int_equal(rep.links_removed, 0);
    push_image(f, "app", "v1", CFG_A, NULL, 0, m);

    /* A link the sweep took is not found, by HEAD or GET. */
    push_blob(f, "app", ONLY_A, d);
    assert_int_equal(ops->blob_link_touch(f->meta->impl, repo_id, d, time(NULL) - GRACE - 5), 0);
    rep = gc(f, 0, 0);
    assert_int_equal(rep.links_removed, 1);
    assert_int_equal(rep.blobs_removed, 0); /* the row itself is younger than the grace */
    assert_int_equal(berth_registry_blob_stat(&f->reg, ACCT, "app", d, &size), BERTH_ENOTFOUND);
    int fd = -1;
    assert_int_equal(berth_registry_blob_open(&f->reg, ACCT, "app", d, &fd, &size, NULL),
                     BERTH_ENOTFOUND);
}

/* The steps of berth_registry_upload_finish with a pass between the bytes and the row. */
static void sweep_between_commit_and_row(const struct fixture *f, const char *id,
                                         const char *digest, int64_t size, int64_t repo_id,
                                         struct berth_gc_report *rep)
{
    const struct berth_blob_ops *b = f->blobs->ops;
    assert_int_equal(b->upload_commit(f->blobs->impl, id, digest), 0);
    *rep = gc_walk((struct fixture *)f, 10 * GRACE, 0, 1);
    uint64_t got;
    assert_int_equal(b->stat(f->blobs->impl, digest, &got), BERTH_ENOTFOUND);
    assert_int_equal(f->meta->ops->blob_link(f->meta->impl, repo_id, digest, size, id), 0);
    assert_int_equal(b->upload_release(f->blobs->impl, id, digest), 0);
}

/* Opens a session in repo and writes data as the request that will finish it; the session
 * stays registered as active (the request is still on it), with its writer closed. */
static void upload_in_progress(struct fixture *f, const char *repo, const char *data,
                               char id[BERTH_UPLOAD_ID_BUF], struct berth_upload *u)
{
    uint64_t off;
    assert_int_equal(berth_registry_upload_start(&f->reg, ACCT, repo, id), 0);
    assert_int_equal(berth_registry_upload_begin(&f->reg, ACCT, repo, id, NULL, u, &off), 0);
    assert_int_equal(berth_registry_upload_write(&f->reg, u, data, strlen(data)), 0);
    f->blobs->ops->upload_close(u->w);
    u->w = NULL;
}

static void upload_commit_survives_a_sweep(void **state)
{
    struct fixture *f = *state;
    char id[BERTH_UPLOAD_ID_BUF], d[BERTH_DIGEST_BUF];
    struct berth_upload u;
    int64_t repo_id;
    struct berth_gc_report rep;
    assert_int_equal(berth_registry_repo(&f->reg, ACCT, "app", 1, &repo_id), 0);

    /* 1. A new blob: its file exists without a row, and is old by the pass's clock. */
    berth_sha256_oneshot(ONLY_A, strlen(ONLY_A), d);
    upload_in_progress(f, "app", ONLY_A, id, &u);
    sweep_between_commit_and_row(f, id, d, (int64_t)strlen(ONLY_A), repo_id, &rep);
    assert_int_equal(rep.orphans_removed, 1);
    assert_int_equal(rep.uploads_expired, 0); /* the request is on it */
    berth_registry_upload_abort(&f->reg, &u);
    serves(f, "app", ONLY_A);

    /* 2. A blob that exists with a row but no link: the pass deletes row and file. */
    char d2[BERTH_DIGEST_BUF];
    push_blob(f, "app", SHARED, d2);
    assert_int_equal(berth_registry_blob_delete(&f->reg, ACCT, "app", d2), 0);
    upload_in_progress(f, "app", SHARED, id, &u);
    sweep_between_commit_and_row(f, id, d2, (int64_t)strlen(SHARED), repo_id, &rep);
    /* SHARED, and ONLY_A of step 1: no manifest references it, and by the pass's clock its
     * link is long past the grace. */
    assert_int_equal(rep.blobs_removed, 2);
    assert_false(stored(f, ONLY_A));
    berth_registry_upload_abort(&f->reg, &u);
    serves(f, "app", SHARED);
    uint64_t size;
    int ok = 0;
    assert_int_equal(berth_blob_verify(f->blobs, d2, &size, &ok), 0);
    assert_true(ok);

    /* Nothing is left behind in uploads/. */
    char up[128];
    snprintf(up, sizeof(up), "%s/uploads", f->dir);
    assert_int_equal(count_files(up), 0);

    /* 3. A session abandoned long enough to expire while its finish was under way (no request
     * of this process on it): the finish links nothing and reports the session unknown. */
    char d3[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(CFG_B, strlen(CFG_B), d3);
    upload_in_progress(f, "app", CFG_B, id, &u);
    berth_registry_upload_abort(&f->reg, &u);
    assert_int_equal(f->blobs->ops->upload_commit(f->blobs->impl, id, d3), 0);
    rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.uploads_expired, 1);
    berth_err_clear();
    assert_int_equal(f->meta->ops->blob_link(f->meta->impl, repo_id, d3, 14, id), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_UPLOAD);
    assert_int_equal(berth_registry_blob_stat(&f->reg, ACCT, "app", d3, &size), BERTH_ENOTFOUND);
}

static void abandoned_uploads_expire(void **state)
{
    struct fixture *f = *state;
    char idle[BERTH_UPLOAD_ID_BUF], busy[BERTH_UPLOAD_ID_BUF];
    struct berth_upload u;
    uint64_t off;
    assert_int_equal(berth_registry_upload_start(&f->reg, ACCT, "app", idle), 0);
    assert_int_equal(berth_registry_upload_start(&f->reg, ACCT, "app", busy), 0);
    /* A request of this process is on `busy` right now. */
    assert_int_equal(berth_registry_upload_begin(&f->reg, ACCT, "app", busy, NULL, &u, &off), 0);
    /* An upload file nobody knows (a crash between file and row cannot make one, but a
     * removed row can). */
    struct berth_blob_writer *w;
    const char *stray = "00000000000000000000000000000abc";
    assert_int_equal(f->blobs->ops->upload_open(f->blobs->impl, stray, 0, &w), 0);
    f->blobs->ops->upload_close(w);

    struct berth_gc_report rep = gc(f, 0, 0);
    assert_int_equal(rep.uploads_expired + rep.orphan_uploads_removed, 0);

    rep = gc(f, 10 * TTL, 1);
    assert_int_equal(rep.uploads_expired, 1);
    assert_int_equal(rep.orphan_uploads_removed, 1);
    uint64_t status;
    assert_int_equal(berth_registry_upload_status(&f->reg, ACCT, "app", idle, &status), 0);

    rep = gc(f, 10 * TTL, 0);
    assert_int_equal(rep.uploads_expired, 1);
    assert_int_equal(rep.orphan_uploads_removed, 1);
    char line[256];
    berth_gc_report_format(&rep, 0, line, sizeof(line));
    assert_string_equal(line, "reclaimed 0 blobs (0 bytes), removed 0 unreferenced links, "
                              "expired 1 upload session, removed 1 orphaned file");
    assert_int_equal(berth_registry_upload_status(&f->reg, ACCT, "app", idle, &status),
                     BERTH_ENOTFOUND);
    assert_int_equal(berth_registry_upload_status(&f->reg, ACCT, "app", busy, &status), 0);
    assert_int_equal(f->blobs->ops->upload_size(f->blobs->impl, busy, &status), 0);

    /* Once the request ends, the busy session is as idle as the other was. */
    assert_int_equal(berth_registry_upload_end(&f->reg, &u), 0);
    rep = gc(f, 10 * TTL, 0);
    assert_int_equal(rep.uploads_expired, 1);
    char up[128];
    snprintf(up, sizeof(up), "%s/uploads", f->dir);
    assert_int_equal(count_files(up), 0);
}

static void stops_when_asked(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF];
    push_blob(f, "app", CFG_A, d);
    atomic_int stop = 1;
    struct berth_gc_options o = {
        .grace = GRACE, .upload_ttl = TTL, .now = (int64_t)time(NULL) + 10 * GRACE, .stop = &stop};
    struct berth_gc_report rep;
    assert_int_equal(berth_gc_run(&f->reg, &o, &rep), 0);
    assert_true(rep.stopped);
    assert_int_equal(rep.links_removed, 0);
    assert_true(stored(f, CFG_A));
}

/* ---- what a pass looks at ---- */

/* Rows of a table of the store, read on a connection of our own. */
static int count_rows(struct fixture *f, const char *table)
{
    char path[128], sql[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int candidates(struct fixture *f)
{
    return count_rows(f, "gc_link_candidates") + count_rows(f, "gc_blob_candidates");
}

static void pass_prunes_what_is_in_use(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF], ma[BERTH_DIGEST_BUF], mb[BERTH_DIGEST_BUF];
    push_blob(f, "app", CFG_A, d);
    push_blob(f, "app", SHARED, d);
    push_blob(f, "app", ONLY_A, d);
    push_blob(f, "other", CFG_B, d);
    push_blob(f, "other", SHARED, d);
    const char *la[] = {SHARED, ONLY_A}, *lb[] = {SHARED};
    push_image(f, "app", "a", CFG_A, la, 2, ma);
    push_image(f, "other", "b", CFG_B, lb, 1, mb);
    /* Every new link and blob is a candidate until a pass finds it in use. */
    assert_int_equal(count_rows(f, "gc_link_candidates"), 5);
    assert_int_equal(count_rows(f, "gc_blob_candidates"), 4);
    /* A dry run writes nothing, candidates included. */
    struct berth_gc_report rep = gc(f, 10 * GRACE, 1);
    assert_int_equal(rep.links_removed + rep.blobs_removed, 0);
    assert_int_equal(candidates(f), 9);
    rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.links_removed + rep.blobs_removed, 0);
    assert_int_equal(rep.candidates_pruned, 9);
    /* So the next pass over an unchanged registry looks at nothing. */
    assert_int_equal(candidates(f), 0);

    /* Deleting image a makes its three references' links candidates; within the grace they
     * stay candidates (not garbage yet, and nothing else would bring them back). */
    assert_int_equal(berth_registry_manifest_delete(&f->reg, ACCT, "app", ma), 0);
    assert_int_equal(count_rows(f, "gc_link_candidates"), 3);
    rep = gc(f, 0, 0);
    assert_int_equal(rep.links_removed + rep.blobs_removed, 0);
    assert_int_equal(count_rows(f, "gc_link_candidates"), 3);
    /* Past it: three links go; CFG_A and ONLY_A with them, SHARED stays (linked by other). */
    rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.links_removed, 3);
    assert_int_equal(rep.blobs_removed, 2);
    assert_true(stored(f, SHARED));
    serves(f, "other", SHARED);
    assert_int_equal(candidates(f), 0);

    /* A repository delete: its links go with it, its blobs become candidates. */
    struct berth_meta_repo gone;
    assert_int_equal(berth_registry_repo_delete(&f->reg, ACCT, "other", 1, &gone), 0);
    berth_meta_repo_dispose(&gone);
    assert_int_equal(count_rows(f, "gc_link_candidates"), 0);
    assert_int_equal(count_rows(f, "gc_blob_candidates"), 2);
    rep = gc(f, 10 * GRACE, 0);
    assert_int_equal(rep.blobs_removed, 2);
    assert_false(stored(f, SHARED));
    assert_int_equal(candidates(f), 0);
}

/* An orphaned blob file: bytes under their digest with no row, dated long ago. */
static void plant_orphan(struct fixture *f, const char *data, char path[256])
{
    char d[BERTH_DIGEST_BUF], dir[160];
    berth_sha256_oneshot(data, strlen(data), d);
    snprintf(dir, sizeof(dir), "%s/blobs/sha256/%.2s", f->dir, d + 7);
    mkdir(dir, 0700);
    snprintf(path, 256, "%s/%s", dir, d + 7);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(data, fp);
    fclose(fp);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void files_walked_only_when_one_may_lack_a_row(void **state)
{
    struct fixture *f = *state;
    const struct berth_meta_ops *m = f->meta->ops;
    char path[256];
    int unclean = -1;
    /* A new (or migrated) store walks once. */
    struct berth_gc_report rep = gc(f, 0, 0);
    assert_true(rep.walked_files);
    rep = gc(f, 0, 0);
    assert_false(rep.walked_files);

    plant_orphan(f, "bytes nobody recorded", path);
    rep = gc(f, 10 * GRACE, 0);
    assert_false(rep.walked_files);
    assert_int_equal(rep.orphans_removed, 0);
    assert_true(exists(path));
    /* Asked for by the caller (berth gc --walk-files). */
    rep = gc_walk(f, 10 * GRACE, 1, 1);
    assert_true(rep.walked_files);
    assert_int_equal(rep.orphans_removed, 1);
    assert_true(exists(path));

    /* Asked for through the store (another process): a dry run leaves the request. */
    assert_int_equal(m->gc_state(f->meta->impl, BERTH_GC_WALK_REQUEST, NULL), 0);
    rep = gc(f, 10 * GRACE, 1);
    assert_true(rep.walked_files);
    rep = gc(f, 10 * GRACE, 0);
    assert_true(rep.walked_files);
    assert_int_equal(rep.orphans_removed, 1);
    assert_false(exists(path));
    assert_false(gc(f, 10 * GRACE, 0).walked_files);

    /* A server that starts after one that never stopped. */
    assert_int_equal(m->gc_state(f->meta->impl, BERTH_GC_SERVER_START, &unclean), 0);
    assert_int_equal(unclean, 0);
    assert_false(gc(f, 0, 0).walked_files);
    assert_int_equal(m->gc_state(f->meta->impl, BERTH_GC_SERVER_START, &unclean), 0);
    assert_int_equal(unclean, 1);
    plant_orphan(f, "left by a crash", path);
    rep = gc(f, 10 * GRACE, 0);
    assert_true(rep.walked_files);
    assert_int_equal(rep.orphans_removed, 1);
    /* ...and one that starts after a clean stop. */
    assert_int_equal(m->gc_state(f->meta->impl, BERTH_GC_SERVER_STOP, NULL), 0);
    assert_int_equal(m->gc_state(f->meta->impl, BERTH_GC_SERVER_START, &unclean), 0);
    assert_int_equal(unclean, 0);
    assert_false(gc(f, 0, 0).walked_files);

    /* A pass stopped before its walk leaves the request for the next one. */
    assert_int_equal(m->gc_state(f->meta->impl, BERTH_GC_WALK_REQUEST, NULL), 0);
    atomic_int stop = 0;
    struct berth_gc_options o = {.grace = GRACE, .upload_ttl = TTL, .stop = &stop};
    plant_orphan(f, "found by the second walk", path);
    stop = 1;
    assert_int_equal(berth_gc_run(&f->reg, &o, &rep), 0);
    assert_true(rep.stopped);
    rep = gc(f, 10 * GRACE, 0);
    assert_true(rep.walked_files);
    assert_int_equal(rep.orphans_removed, 1);
}

static void failed_commit_asks_for_a_walk(void **state)
{
    struct fixture *f = *state;
    char id[BERTH_UPLOAD_ID_BUF], d[BERTH_DIGEST_BUF];
    struct berth_upload u;
    uint64_t off, size;
    assert_true(gc(f, 0, 0).walked_files); /* the new store's walk */
    berth_sha256_oneshot(ONLY_A, strlen(ONLY_A), d);
    assert_int_equal(berth_registry_upload_start(&f->reg, ACCT, "app", id), 0);
    assert_int_equal(berth_registry_upload_begin(&f->reg, ACCT, "app", id, NULL, &u, &off), 0);
    assert_int_equal(berth_registry_upload_write(&f->reg, &u, ONLY_A, strlen(ONLY_A)), 0);
    /* The session expires (another process's pass) while the request finishes it: the blob
     * file is in place, the metadata transaction finds no session and links nothing. */
    assert_int_equal(f->meta->ops->upload_delete(f->meta->impl, id), 0);
    assert_int_equal(berth_registry_upload_finish(&f->reg, &u, d), BERTH_ENOTFOUND);
    berth_err_clear();
    assert_int_equal(f->blobs->ops->stat(f->blobs->impl, d, &size), 0);
    assert_int_equal(atomic_load(&f->reg.walk_files), 1);
    struct berth_gc_report rep = gc(f, 10 * GRACE, 0);
    assert_true(rep.walked_files);
    assert_int_equal(rep.orphans_removed, 1);
    assert_false(stored(f, ONLY_A));
    assert_int_equal(atomic_load(&f->reg.walk_files), 0);
    assert_false(gc(f, 10 * GRACE, 0).walked_files);
}

/* A store made before migration 007 (its tables dropped and the version set back, as an older
 * Berth left it): the upgrade makes everything a candidate once, and the first pass walks. */
static void upgrade_finds_existing_garbage(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF], m[BERTH_DIGEST_BUF], path[128];
    push_blob(f, "app", CFG_A, d);
    push_blob(f, "app", SHARED, d);
    push_blob(f, "app", ONLY_A, d); /* never referenced: garbage */
    const char *l[] = {SHARED};
    push_image(f, "app", "v1", CFG_A, l, 1, m);
    berth_registry_dispose(&f->reg);
    berth_meta_close(f->meta);
    f->meta = NULL;
    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TRIGGER gc_link_insert; DROP TRIGGER gc_link_delete; "
                                  "DROP TRIGGER gc_ref_delete; DROP TRIGGER gc_blob_insert; "
                                  "DROP TRIGGER gc_blob_delete; DROP TABLE gc_link_candidates; "
                                  "DROP TABLE gc_blob_candidates; DROP TABLE gc_state; "
                                  "PRAGMA user_version = 6;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    if (berth_meta_sqlite_open(&f->meta, path) < 0)
        fail_msg("reopen: %s", berth_err_detail());
    struct berth_registry_options o = {.auto_create_repos = 1, .gc_grace = GRACE};
    berth_registry_init(&f->reg, f->meta, f->blobs, &o);
    assert_int_equal(count_rows(f, "gc_link_candidates"), 3);
    assert_int_equal(count_rows(f, "gc_blob_candidates"), 3);
    struct berth_gc_report rep = gc(f, 10 * GRACE, 0);
    assert_true(rep.walked_files);
    assert_int_equal(rep.links_removed, 1);
    assert_int_equal(rep.blobs_removed, 1);
    assert_false(stored(f, ONLY_A));
    serves(f, "app", SHARED);
    assert_int_equal(candidates(f), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    berth_log_setup(BERTH_LOG_ERROR, BERTH_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        T(reclaims_deleted_image_keeps_shared),
        T(pass_prunes_what_is_in_use),
        T(files_walked_only_when_one_may_lack_a_row),
        T(failed_commit_asks_for_a_walk),
        T(upgrade_finds_existing_garbage),
        T(repository_delete_frees_its_blobs),
        T(finding_a_blob_refreshes_its_link),
        T(upload_commit_survives_a_sweep),
        T(abandoned_uploads_expire),
        T(stops_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
