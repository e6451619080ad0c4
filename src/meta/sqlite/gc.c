/*
 * Garbage collection in the SQLite store: the link times that refresh-on-use reads and writes,
 * the mount that needs its source link, the candidate lists, and the deletes.
 *
 * Every delete is one BEGIN IMMEDIATE transaction that re-checks, under the write lock, the
 * condition the candidate list was built with, and removes the bytes (through the caller's
 * callback) before it commits. SQLite's write lock is a lock on the database file, so this
 * holds across processes: a `berth gc` beside a running server serialises with the server's
 * writes exactly as the server's own threads do. The protocol and its races: docs/gc.md.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "meta/meta.h"
#include "meta/sqlite/sqlite_int.h"

int msq_blob_link_time(void *impl, int64_t repo_id, const char *digest, int64_t *out_size,
                       int64_t *out_linked_at)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_GC_LINK_TIME, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        if (out_size)
            *out_size = sqlite3_column_int64(st, 0);
        if (out_linked_at)
            *out_linked_at = sqlite3_column_int64(st, 1);
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "%s unknown", digest);
        berth_err_set_subject(digest);
    } else {
        rc = msq_db_error(c->db, "link lookup");
    }
    msq_done(st);
    return rc;
}

int msq_blob_link_touch(void *impl, int64_t repo_id, const char *digest, int64_t now)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_GC_LINK_TOUCH, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, now);
    /* One statement is one write transaction: the update and its "is the link still there"
     * are atomic against a sweep. */
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) == 0) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "%s unknown", digest);
        berth_err_set_subject(digest);
    }
    return rc;
}

int msq_blob_mount(void *impl, int64_t repo_id, int64_t from_id, const char *digest)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = msq_stmt(c, ST_LINK_GET, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, from_id);
    msq_bind_text(st, 2, digest);
    int r = sqlite3_step(st);
    msq_done(st);
    if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob %s not mountable", digest);
        goto fail;
    }
    if (r != SQLITE_ROW) {
        rc = msq_db_error(c->db, "mount");
        goto fail;
    }
    if ((rc = msq_stmt(c, ST_LINK_INSERT, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, msq_now_s());
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

/* ---- candidate lists ---- */

/* Candidates pruned per write transaction: the write lock is held for one chunk's probes (a
 * few milliseconds), so pushes wait at most that long behind a prune. */
#define PRUNE_CHUNK 1000

/* Drops the candidates `del` finds in use or gone, chunk by chunk in rowid order. */
static int prune_table(struct conn *c, enum stmt_id upto, enum stmt_id del, uint64_t *pruned)
{
    int64_t after = 0;
    for (;;) {
        sqlite3_stmt *st;
        int rc = msq_begin(c);
        if (rc < 0)
            return rc;
        if ((rc = msq_stmt(c, upto, &st)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int(st, 2, PRUNE_CHUNK);
        int r = sqlite3_step(st);
        int empty = r == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL;
        int64_t last = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        msq_done(st);
        if (r != SQLITE_ROW) {
            rc = msq_db_error(c->db, "gc prune");
            goto fail;
        }
        if (empty) {
            msq_rollback(c);
            return 0;
        }
        if ((rc = msq_stmt(c, del, &st)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, last);
        if ((rc = msq_step_done(c, st)) < 0)
            goto fail;
        uint64_t n = (uint64_t)sqlite3_changes(c->db);
        if ((rc = msq_commit(c)) < 0)
            return rc;
        *pruned += n;
        after = last;
        continue;
    fail:
        msq_rollback(c);
        return rc;
    }
}

int msq_gc_prune(void *impl, uint64_t *out_pruned)
{
    CONN(impl, c);
    uint64_t n = 0;
    int rc = prune_table(c, ST_GC_PRUNE_LINKS_UPTO, ST_GC_PRUNE_LINKS, &n);
    if (rc == 0)
        rc = prune_table(c, ST_GC_PRUNE_BLOBS_UPTO, ST_GC_PRUNE_BLOBS, &n);
    if (out_pruned)
        *out_pruned = n;
    return rc;
}

/* Runs a statement of gc_state's; PEEK and SERVER_START read the row first, in the same
 * transaction for SERVER_START. */
int msq_gc_state(void *impl, enum berth_meta_gc_state op, int *out_walk)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int walk = 0, running = 0, rc;
    if (op == BERTH_GC_WALK_PEEK || op == BERTH_GC_SERVER_START) {
        if (op == BERTH_GC_SERVER_START && (rc = msq_begin(c)) < 0)
            return rc;
        if ((rc = msq_stmt(c, ST_GC_STATE_GET, &st)) < 0)
            goto fail;
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            walk = sqlite3_column_int(st, 0);
            running = sqlite3_column_int(st, 1);
        }
        msq_done(st);
        if (r != SQLITE_ROW) {
            rc = msq_db_error(c->db, "gc state");
            goto fail;
        }
        if (op == BERTH_GC_WALK_PEEK) {
            if (out_walk)
                *out_walk = walk;
            return 0;
        }
    }
    enum stmt_id id = op == BERTH_GC_WALK_TAKE      ? ST_GC_WALK_TAKE
                      : op == BERTH_GC_WALK_REQUEST ? ST_GC_WALK_REQUEST
                      : op == BERTH_GC_SERVER_START ? ST_GC_SERVER_START
                                                    : ST_GC_SERVER_STOP;
    if ((rc = msq_stmt(c, id, &st)) < 0)
        goto fail;
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    if (op == BERTH_GC_WALK_TAKE)
        walk = sqlite3_changes(c->db) > 0;
    if (op == BERTH_GC_SERVER_START) {
        if ((rc = msq_commit(c)) < 0)
            return rc;
        walk = running;
    }
    if (out_walk)
        *out_walk = walk;
    return 0;
fail:
    if (op == BERTH_GC_SERVER_START)
        msq_rollback(c);
    return rc;
}

/* Runs a candidate query bound to `before` and collects its (digest, number) rows, so the
 * callbacks run after the statement is done and may write through the store. */
static int collect(struct conn *c, enum stmt_id id, int64_t before, int digest_col, int num_col,
                   struct berth_strlist *digests, int64_t **nums, const char *what)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, before);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (digests->n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *p = realloc(*nums, cap * sizeof(**nums));
            if (!p) {
                rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
                break;
            }
            *nums = p;
        }
        (*nums)[digests->n] = sqlite3_column_int64(st, num_col);
        if (berth_strlist_push(digests, (const char *)sqlite3_column_text(st, digest_col)) < 0) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            break;
        }
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, what);
    return rc;
}

int msq_gc_links(void *impl, int64_t before, berth_meta_link_cb cb, void *ctx)
{
    CONN(impl, c);
    struct berth_strlist digests = {0};
    int64_t *repos = NULL;
    int rc = collect(c, ST_GC_LINKS, before, 1, 0, &digests, &repos, "gc links");
    for (size_t i = 0; rc == 0 && i < digests.n; i++)
        rc = cb(ctx, repos[i], digests.items[i]);
    free(repos);
    berth_strlist_dispose(&digests);
    return rc;
}

int msq_gc_blobs(void *impl, int64_t before, berth_meta_blob_cb cb, void *ctx)
{
    CONN(impl, c);
    struct berth_strlist digests = {0};
    int64_t *sizes = NULL;
    int rc = collect(c, ST_GC_BLOBS, before, 0, 1, &digests, &sizes, "gc blobs");
    for (size_t i = 0; rc == 0 && i < digests.n; i++)
        rc = cb(ctx, digests.items[i], sizes[i]);
    free(sizes);
    berth_strlist_dispose(&digests);
    return rc;
}

int msq_gc_uploads(void *impl, int64_t before, berth_meta_upload_cb cb, void *ctx)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_GC_UPLOADS, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, before);
    struct berth_strlist ids = {0};
    if ((rc = msq_list_strings(c, st, &ids)) < 0)
        goto out;
    for (size_t i = 0; rc == 0 && i < ids.n; i++)
        rc = cb(ctx, ids.items[i]);
out:
    berth_strlist_dispose(&ids);
    return rc;
}

/* ---- deletes: re-check under the write lock, remove the bytes, then commit ---- */

/* Runs a one-row existence query with up to two bindings (text, then an optional time);
 * *out_found 1 when it returned a row, and *out_col0 its first column. */
static int probe(struct conn *c, enum stmt_id id, const char *key, int64_t t, int bind_t,
                 int *out_found, int64_t *out_col0)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, key);
    if (bind_t)
        sqlite3_bind_int64(st, 2, t);
    int r = sqlite3_step(st);
    *out_found = r == SQLITE_ROW;
    if (r == SQLITE_ROW && out_col0)
        *out_col0 = sqlite3_column_int64(st, 0);
    msq_done(st);
    return (r == SQLITE_ROW || r == SQLITE_DONE) ? 0 : msq_db_error(c->db, "gc check");
}

/* Deletes the row that `del` (bound to key) names, then has remove() take the bytes away;
 * a remove that kept them leaves *out_removed 0 and the caller rolls back. */
static int delete_with_bytes(struct conn *c, enum stmt_id del, const char *key,
                             berth_meta_gc_remove_cb remove, void *ctx, int *out_removed)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, del, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, key);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    return remove(ctx, key, out_removed);
}

int msq_gc_link_delete(void *impl, int64_t repo_id, const char *digest, int64_t before,
                       int *out_deleted)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    *out_deleted = 0;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = msq_stmt(c, ST_GC_LINK_DELETE, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, before);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    int n = sqlite3_changes(c->db);
    if ((rc = msq_commit(c)) < 0)
        return rc;
    *out_deleted = n > 0;
    return 0;
fail:
    msq_rollback(c);
    return rc;
}

int msq_gc_blob_delete(void *impl, const char *digest, int64_t before,
                       berth_meta_gc_remove_cb remove, void *ctx, int64_t *out_size)
{
    CONN(impl, c);
    *out_size = -1;
    int found = 0, removed = 0;
    int64_t size = 0;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = probe(c, ST_GC_BLOB_CHECK, digest, before, 1, &found, &size)) < 0)
        goto fail;
    if (!found) /* linked (or re-created) since the list was made */
        goto fail;
    if ((rc = delete_with_bytes(c, ST_BLOB_FORGET, digest, remove, ctx, &removed)) < 0 || !removed)
        goto fail;
    /* The file is gone before the commit: if the commit fails, a row without links or bytes
     * stays, invisible to clients, and the next run deletes it. */
    if ((rc = msq_commit(c)) < 0)
        return rc;
    *out_size = size;
    return 0;
fail:
    msq_rollback(c);
    return rc;
}

/* Removes the bytes named `key` when the statement finds no row for it, in one transaction so
 * no writer can add the row between the check and the removal. */
static int orphan_delete(void *impl, enum stmt_id exists, const char *key,
                         berth_meta_gc_remove_cb remove, void *ctx, int *out_removed)
{
    CONN(impl, c);
    *out_removed = 0;
    int found = 0, removed = 0;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = probe(c, exists, key, 0, 0, &found, NULL)) < 0 || found)
        goto fail;
    if ((rc = remove(ctx, key, &removed)) < 0 || !removed)
        goto fail;
    if ((rc = msq_commit(c)) < 0)
        return rc;
    *out_removed = 1;
    return 0;
fail:
    msq_rollback(c);
    return rc;
}

int msq_gc_orphan_delete(void *impl, const char *digest, berth_meta_gc_remove_cb remove, void *ctx,
                         int *out_removed)
{
    return orphan_delete(impl, ST_BLOB_GET, digest, remove, ctx, out_removed);
}

int msq_gc_upload_delete(void *impl, const char *id, int64_t before, berth_meta_gc_remove_cb remove,
                         void *ctx, int *out_removed)
{
    CONN(impl, c);
    *out_removed = 0;
    int found = 0, removed = 0;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = probe(c, ST_GC_UPLOAD_CHECK, id, before, 1, &found, NULL)) < 0 || !found)
        goto fail;
    if ((rc = delete_with_bytes(c, ST_UPLOAD_DELETE, id, remove, ctx, &removed)) < 0 || !removed)
        goto fail;
    if ((rc = msq_commit(c)) < 0)
        return rc;
    *out_removed = 1;
    return 0;
fail:
    msq_rollback(c);
    return rc;
}

int msq_gc_upload_orphan_delete(void *impl, const char *id, berth_meta_gc_remove_cb remove,
                                void *ctx, int *out_removed)
{
    return orphan_delete(impl, ST_GC_UPLOAD_EXISTS, id, remove, ctx, out_removed);
}
