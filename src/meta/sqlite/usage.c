/*
 * SQLite store: storage accounting. Stored and physical bytes are sums computed when asked
 * (repo_blobs, blobs and manifests are indexed by repository and digest, so each repository
 * costs a few index range scans); pulls and bytes served are the per-day rows of usage_daily,
 * which the server adds to in batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "meta/sqlite/sqlite_int.h"

int msq_usage_add(void *impl, const struct berth_meta_usage_delta *d, size_t n)
{
    if (n == 0)
        return 0;
    CONN(impl, c);
    sqlite3_stmt *st;
    /* One transaction for the batch: one fsync per flush, however many repositories. */
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = msq_stmt(c, ST_USAGE_ADD, &st)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, d[i].repo_id);
        sqlite3_bind_int64(st, 2, d[i].day);
        sqlite3_bind_int64(st, 3, d[i].pulls);
        sqlite3_bind_int64(st, 4, d[i].bytes_served);
        if ((rc = msq_step_done(c, st)) < 0)
            goto fail;
    }
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

int msq_repo_stored_bytes(void *impl, int64_t repo_id, int64_t *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_USAGE_REPO_STORED, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO, "repository not found");
    } else {
        rc = msq_db_error(c->db, "repository size");
    }
    msq_done(st);
    return rc;
}

int msq_usage_repos(void *impl, const char *account, int64_t from_day, int64_t to_day,
                    struct berth_meta_repo_usage_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_USAGE_REPOS, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    sqlite3_bind_int64(st, 2, from_day);
    sqlite3_bind_int64(st, 3, to_day);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(out->items, ncap * sizeof(*out->items));
            if (!p) {
                rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
                break;
            }
            out->items = p;
            cap = ncap;
        }
        struct berth_meta_repo_usage *u = &out->items[out->n++];
        memset(u, 0, sizeof(*u));
        snprintf(u->name, sizeof(u->name), "%s", (const char *)sqlite3_column_text(st, 0));
        u->stored_bytes = sqlite3_column_int64(st, 1);
        u->images = sqlite3_column_int64(st, 2);
        u->untagged = sqlite3_column_int64(st, 3);
        u->pulls = sqlite3_column_int64(st, 4);
        u->bytes_served = sqlite3_column_int64(st, 5);
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "repository usage");
    if (rc < 0)
        berth_meta_repo_usage_list_dispose(out);
    return rc;
}

int msq_usage_registry(void *impl, struct berth_meta_registry_usage *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_USAGE_REGISTRY, &st);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        out->blob_bytes = sqlite3_column_int64(st, 0);
        out->manifest_bytes = sqlite3_column_int64(st, 1);
        out->linked_blob_bytes = sqlite3_column_int64(st, 2);
    }
    msq_done(st);
    return r == SQLITE_ROW ? 0 : msq_db_error(c->db, "registry usage");
}
