/* The SQLite store's lifecycle side: policies on repository rows, previews, the expiry
 * cascade and the event log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "meta/sqlite/sqlite_int.h"

int msq_lifecycle_policy_set(void *impl, int64_t repo_id, const char *text)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_LC_POLICY_SET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, text);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    return sqlite3_changes(c->db)
               ? 0
               : berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO, "repository not found");
}

int msq_lifecycle_policy_get(void *impl, int64_t repo_id, char **out_text,
                             int64_t *out_evaluated_at)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    *out_text = NULL;
    *out_evaluated_at = 0;
    int rc = msq_stmt(c, ST_LC_POLICY_GET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *out_text = msq_col_dup(st, 0);
        *out_evaluated_at = sqlite3_column_int64(st, 1);
    }
    msq_done(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return msq_db_error(c->db, "lifecycle policy");
    if (r == SQLITE_DONE)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO, "repository not found");
    if (!*out_text)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_POLICY,
                             "Lifecycle policy does not exist for the repository");
    return 0;
}

int msq_lifecycle_evaluated(void *impl, int64_t repo_id, int64_t when)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_LC_EVALUATED, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    sqlite3_bind_int64(st, 2, when);
    return msq_step_done(c, st);
}

/* Reads (id, account, name) rows. */
static int read_repo_refs(struct conn *c, sqlite3_stmt *st, struct berth_meta_repo_ref_list *out)
{
    int r, rc = 0;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        struct berth_meta_repo_ref *items = realloc(out->items, (out->n + 1) * sizeof(*items));
        if (!items) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            break;
        }
        out->items = items;
        struct berth_meta_repo_ref *ref = &items[out->n++];
        ref->id = sqlite3_column_int64(st, 0);
        snprintf(ref->account, sizeof(ref->account), "%s",
                 (const char *)sqlite3_column_text(st, 1));
        snprintf(ref->name, sizeof(ref->name), "%s", (const char *)sqlite3_column_text(st, 2));
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "repository list");
    return rc;
}

int msq_lifecycle_repos(void *impl, const char *account, struct berth_meta_repo_ref_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_LC_REPOS, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account ? account : "");
    return read_repo_refs(c, st, out);
}

int msq_lifecycle_images(void *impl, int64_t repo_id, struct berth_meta_image_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_LC_IMAGES, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    return msq_read_images(impl, c, st, repo_id, out);
}

/* The digests a statement bound to (repo_id, digest) returns. */
static int digests_of(struct conn *c, enum stmt_id id, int64_t repo_id, const char *digest,
                      struct berth_strlist *out)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    return msq_list_strings(c, st, out);
}

static int count_of(struct conn *c, enum stmt_id id, int64_t repo_id, const char *digest,
                    int64_t *out)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    int r = sqlite3_step(st);
    *out = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    msq_done(st);
    return r == SQLITE_ROW ? 0 : msq_db_error(c->db, "count");
}

static int contains(const struct berth_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i], s))
            return 1;
    return 0;
}

/* Does it still look the way the evaluation saw it: same tags, listed by no index? */
static int unchanged(struct conn *c, int64_t repo_id, const char *digest,
                     const struct berth_strlist *expect_tags)
{
    int64_t size;
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_MANIFEST_EXISTS, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    int r = sqlite3_step(st);
    size = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    msq_done(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return msq_db_error(c->db, "manifest lookup");
    if (size < 0)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST, "image %s is gone", digest);
    struct berth_strlist tags = {0}, parents = {0};
    if ((rc = digests_of(c, ST_IMAGE_TAGS, repo_id, digest, &tags)) == 0 &&
        (rc = digests_of(c, ST_LC_PARENTS_OF, repo_id, digest, &parents)) == 0) {
        int same = tags.n == expect_tags->n && parents.n == 0;
        for (size_t i = 0; same && i < tags.n; i++)
            same = !strcmp(tags.items[i], expect_tags->items[i]);
        if (!same)
            rc = berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_MANIFEST,
                               "image %s changed since the policy was evaluated", digest);
    }
    berth_strlist_dispose(&tags);
    berth_strlist_dispose(&parents);
    return rc;
}

/* Grows the set from each member in turn: its referrers always, its index children when they
 * are untagged and every manifest listing them is in the set. A child with two parents is
 * judged again when the second parent's turn comes, so the order of discovery does not
 * matter. */
static int cascade(struct conn *c, int64_t repo_id, struct berth_strlist *set,
                   struct berth_strlist *via, struct berth_strlist *relation)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < set->n; i++) {
        struct berth_strlist refs = {0}, kids = {0};
        if ((rc = digests_of(c, ST_LC_REFERRERS_OF, repo_id, set->items[i], &refs)) == 0)
            rc = digests_of(c, ST_LC_CHILDREN_OF, repo_id, set->items[i], &kids);
        for (size_t k = 0; rc == 0 && k < refs.n; k++)
            if (!contains(set, refs.items[k]) &&
                (rc = berth_strlist_push(set, refs.items[k])) == 0 &&
                (rc = berth_strlist_push(via, set->items[i])) == 0)
                rc = berth_strlist_push(relation, "referrer");
        for (size_t k = 0; rc == 0 && k < kids.n; k++) {
            int64_t ntags = 0;
            struct berth_strlist parents = {0};
            if (contains(set, kids.items[k]))
                continue;
            if ((rc = count_of(c, ST_LC_TAGGED, repo_id, kids.items[k], &ntags)) < 0 ||
                (rc = digests_of(c, ST_LC_PARENTS_OF, repo_id, kids.items[k], &parents)) < 0) {
                berth_strlist_dispose(&parents);
                break;
            }
            int orphan = ntags == 0;
            for (size_t p = 0; orphan && p < parents.n; p++)
                orphan = contains(set, parents.items[p]);
            berth_strlist_dispose(&parents);
            if (orphan && (rc = berth_strlist_push(set, kids.items[k])) == 0 &&
                (rc = berth_strlist_push(via, set->items[i])) == 0)
                rc = berth_strlist_push(relation, "child");
        }
        berth_strlist_dispose(&refs);
        berth_strlist_dispose(&kids);
    }
    return rc;
}

static int event_insert(struct conn *c, int64_t repo_id, const struct berth_meta_event *ev,
                        const char *digest, const char *detail)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_EVENT_INSERT, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    sqlite3_bind_int64(st, 2, ev->at);
    msq_bind_text(st, 3, ev->kind);
    msq_bind_text(st, 4, digest);
    msq_bind_text(st, 5, ev->actor);
    msq_bind_text(st, 6, detail);
    return msq_step_done(c, st);
}

int msq_image_expire(void *impl, int64_t repo_id, const char *digest,
                     const struct berth_strlist *expect_tags, const struct berth_meta_event *ev,
                     struct berth_strlist *out_deleted)
{
    CONN(impl, c);
    struct berth_strlist via = {0}, relation = {0};
    memset(out_deleted, 0, sizeof(*out_deleted));
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = unchanged(c, repo_id, digest, expect_tags)) < 0 ||
        (rc = berth_strlist_push(out_deleted, digest)) < 0 ||
        (rc = berth_strlist_push(&via, "")) < 0 || (rc = berth_strlist_push(&relation, "")) < 0 ||
        (rc = cascade(c, repo_id, out_deleted, &via, &relation)) < 0)
        goto fail;
    for (size_t i = 0; i < out_deleted->n; i++) {
        sqlite3_stmt *st;
        if ((rc = msq_stmt(c, ST_MANIFEST_DELETE, &st)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, repo_id);
        msq_bind_text(st, 2, out_deleted->items[i]);
        if ((rc = msq_step_done(c, st)) < 0)
            goto fail;
        char detail[512];
        if (i == 0)
            rc = event_insert(c, repo_id, ev, digest, ev->detail);
        else {
            /* digests are [a-z0-9:]: nothing to escape */
            snprintf(detail, sizeof(detail),
                     "{\"expiredWith\":\"%s\",\"relation\":\"%s\",\"of\":\"%s\"}", digest,
                     relation.items[i], via.items[i]);
            rc = event_insert(c, repo_id, ev, out_deleted->items[i], detail);
        }
        if (rc < 0)
            goto fail;
    }
    if ((rc = msq_commit(c)) < 0)
        goto fail_committed;
    berth_strlist_dispose(&via);
    berth_strlist_dispose(&relation);
    return 0;
fail:
    msq_rollback(c);
fail_committed:
    berth_strlist_dispose(out_deleted);
    berth_strlist_dispose(&via);
    berth_strlist_dispose(&relation);
    return rc;
}

int msq_lc_preview_start(void *impl, int64_t repo_id, const char *policy, int64_t now)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_PREVIEW_START, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, policy);
    sqlite3_bind_int64(st, 3, now);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    return sqlite3_changes(c->db)
               ? 0
               : berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_POLICY,
                               "a lifecycle policy preview is already in progress");
}

int msq_lc_preview_get(void *impl, int64_t repo_id, struct berth_meta_lc_preview *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_PREVIEW_GET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        snprintf(out->status, sizeof(out->status), "%s", (const char *)sqlite3_column_text(st, 0));
        out->policy = msq_col_dup(st, 1);
        out->results = msq_col_dup(st, 2);
        out->started_at = sqlite3_column_int64(st, 3);
    }
    msq_done(st);
    if (r == SQLITE_DONE)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_POLICY,
                             "There is no preview for the repository");
    return r == SQLITE_ROW ? 0 : msq_db_error(c->db, "preview");
}

int msq_lc_preview_finish(void *impl, int64_t repo_id, const char *status, const char *results,
                          int64_t now)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_PREVIEW_FINISH, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, status);
    msq_bind_text(st, 3, results);
    sqlite3_bind_int64(st, 4, now);
    return msq_step_done(c, st);
}

int msq_lc_preview_pending(void *impl, struct berth_meta_repo_ref_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_PREVIEW_PENDING, &st);
    return rc < 0 ? rc : read_repo_refs(c, st, out);
}
