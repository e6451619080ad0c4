/* SQLite store: ECR repository records (settings, policy, resource tags) and deletion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "meta/sqlite/sqlite_int.h"

static int read_repo(sqlite3_stmt *st, struct berth_meta_repo *out)
{
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(st, 0);
    snprintf(out->account, sizeof(out->account), "%s", (const char *)sqlite3_column_text(st, 1));
    out->name = msq_col_dup(st, 2);
    out->created_at = sqlite3_column_int64(st, 3);
    snprintf(out->tag_mutability, sizeof(out->tag_mutability), "%s",
             (const char *)sqlite3_column_text(st, 4));
    out->tag_mutability_filters = msq_col_dup(st, 5);
    out->scan_on_push = sqlite3_column_int(st, 6);
    snprintf(out->encryption_type, sizeof(out->encryption_type), "%s",
             (const char *)sqlite3_column_text(st, 7));
    out->kms_key = msq_col_dup(st, 8);
    out->policy = msq_col_dup(st, 9);
    out->resource_tags = msq_col_dup(st, 10);
    if (!out->name) {
        berth_meta_repo_dispose(out);
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    }
    return 0;
}

int msq_repo_create(void *impl, const struct berth_meta_repo *r, int64_t *out_id)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_REPO_CREATE, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, r->account);
    msq_bind_text(st, 2, r->name);
    sqlite3_bind_int64(st, 3, msq_now_s());
    msq_bind_text(st, 4, r->tag_mutability[0] ? r->tag_mutability : "MUTABLE");
    msq_bind_text(st, 5, r->tag_mutability_filters);
    sqlite3_bind_int(st, 6, r->scan_on_push);
    msq_bind_text(st, 7, r->encryption_type[0] ? r->encryption_type : "AES256");
    msq_bind_text(st, 8, r->kms_key);
    msq_bind_text(st, 9, r->policy);
    msq_bind_text(st, 10, r->resource_tags);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return berth_err_set(BERTH_EEXISTS, BERTH_WHAT_REPO,
                             "The repository with name '%s' already exists in the registry "
                             "with id '%s'",
                             r->name, r->account);
    if (out_id)
        *out_id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

int msq_repo_describe(void *impl, const char *account, const char *name,
                      struct berth_meta_repo *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_REPO_DESCRIBE, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        rc = read_repo(st, out);
    else if (r == SQLITE_DONE)
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO,
                           "The repository with name '%s' does not exist in the registry with "
                           "id '%s'",
                           name, account);
    else
        rc = msq_db_error(c->db, "repo describe");
    msq_done(st);
    return rc;
}

int msq_repo_describe_list(void *impl, const char *account, const char *last, int limit,
                           struct berth_meta_repo_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_REPO_DESCRIBE_LIST, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, last ? last : "");
    sqlite3_bind_int(st, 3, limit);
    int r;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        struct berth_meta_repo *items = realloc(out->items, (out->n + 1) * sizeof(*items));
        if (!items) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            break;
        }
        out->items = items;
        if ((rc = read_repo(st, &items[out->n])) == 0)
            out->n++;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "repo list");
    msq_done(st);
    return rc;
}

int msq_repo_update(void *impl, const struct berth_meta_repo *r)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_REPO_UPDATE, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, r->id);
    msq_bind_text(st, 2, r->tag_mutability);
    msq_bind_text(st, 3, r->tag_mutability_filters);
    sqlite3_bind_int(st, 4, r->scan_on_push);
    msq_bind_text(st, 5, r->policy);
    msq_bind_text(st, 6, r->resource_tags);
    return msq_step_done(c, st);
}

int msq_repo_delete(void *impl, int64_t id, int force)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if (!force) {
        if ((rc = msq_stmt(c, ST_REPO_COUNT_IMAGES, &st)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, id);
        int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        msq_done(st);
        if (n < 0) {
            rc = msq_db_error(c->db, "repo image count");
            goto fail;
        }
        if (n > 0) {
            rc = berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_REPO,
                               "The repository cannot be deleted because it still contains "
                               "images");
            goto fail;
        }
    }
    /* Upload sessions name their repository; they go with it (their files become garbage
     * that fsck and the upload expiry reclaim). */
    char account[BERTH_ACCOUNT_BUF] = "", *name = NULL;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(c->db, "SELECT account_id, name FROM repositories WHERE id = ?1", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = msq_db_error(c->db, "repo lookup");
        goto fail;
    }
    sqlite3_bind_int64(q, 1, id);
    if (sqlite3_step(q) == SQLITE_ROW) {
        snprintf(account, sizeof(account), "%s", (const char *)sqlite3_column_text(q, 0));
        name = msq_col_dup(q, 1);
    }
    sqlite3_finalize(q);
    if (!name) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO, "repository not found");
        goto fail;
    }
    if ((rc = msq_stmt(c, ST_REPO_DELETE_UPLOADS, &st)) == 0) {
        msq_bind_text(st, 1, account);
        msq_bind_text(st, 2, name);
        rc = msq_step_done(c, st);
    }
    free(name);
    if (rc < 0)
        goto fail;
    if ((rc = msq_stmt(c, ST_REPO_DELETE, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

int msq_image_tags(void *impl, int64_t repo_id, const char *digest, struct berth_strlist *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_IMAGE_TAGS, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    return msq_list_strings(c, st, out);
}

int msq_read_images(void *impl, struct conn *c, sqlite3_stmt *st, int64_t repo_id,
                    struct berth_meta_image_list *out)
{
    int rc = 0, r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        struct berth_meta_image *items = realloc(out->items, (out->n + 1) * sizeof(*items));
        if (!items) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            break;
        }
        out->items = items;
        struct berth_meta_image *im = &items[out->n++];
        memset(im, 0, sizeof(*im));
        snprintf(im->digest, sizeof(im->digest), "%s", (const char *)sqlite3_column_text(st, 0));
        im->media_type = msq_col_dup(st, 1);
        im->artifact_type = msq_col_dup(st, 2);
        im->config_media_type = msq_col_dup(st, 3);
        im->subject = msq_col_dup(st, 4);
        im->total_size = sqlite3_column_int64(st, 5);
        im->pushed_at = sqlite3_column_int64(st, 6);
        im->last_pulled_at = sqlite3_column_int64(st, 7);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "image list");
    msq_done(st);
    /* Tags per image: a second statement, run after the first is reset (one connection). */
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = msq_image_tags(impl, repo_id, out->items[i].digest, &out->items[i].tags);
    return rc;
}

int msq_image_list(void *impl, int64_t repo_id, const char *after, int limit, int tagged,
                   struct berth_meta_image_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_IMAGE_LIST, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, tagged);
    sqlite3_bind_int(st, 4, limit);
    return msq_read_images(impl, c, st, repo_id, out);
}

int msq_image_get(void *impl, int64_t repo_id, const char *digest,
                  struct berth_meta_image_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_IMAGE_GET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    return msq_read_images(impl, c, st, repo_id, out);
}
