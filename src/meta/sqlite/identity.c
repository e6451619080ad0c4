/* SQLite store: accounts, IAM users, access keys and identity policies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "meta/sqlite/sqlite_int.h"

static int run_text(void *impl, enum stmt_id id, const char *a, const char *b)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, a);
    msq_bind_text(st, 2, b);
    return msq_step_done(c, st);
}

int msq_account_ensure(void *impl, const char *account)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_ACCOUNT_INSERT, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    sqlite3_bind_int64(st, 2, msq_now_s());
    return msq_step_done(c, st);
}

/* Reads the account row: BERTH_ENOTFOUND (what REPO's sibling NONE) when it does not exist. */
static int account_row(void *impl, const char *account, char **out_policy)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_ACCOUNT_GET, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = 0;
        if (out_policy) {
            *out_policy = msq_col_dup(st, 0);
            if (!*out_policy)
                rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE,
                                   "registry %s has no registry policy", account);
        }
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE, "account %s does not exist", account);
    } else {
        rc = msq_db_error(c->db, "account lookup");
    }
    msq_done(st);
    return rc;
}

int msq_account_exists(void *impl, const char *account)
{
    return account_row(impl, account, NULL);
}

int msq_account_adopt(void *impl, const char *account)
{
    int rc = run_text(impl, ST_ADOPT_REPOS, account, NULL);
    return rc < 0 ? rc : run_text(impl, ST_ADOPT_UPLOADS, account, NULL);
}

int msq_registry_policy_set(void *impl, const char *account, const char *policy)
{
    return run_text(impl, ST_ACCOUNT_SET_POLICY, account, policy);
}

int msq_registry_policy_get(void *impl, const char *account, char **out)
{
    *out = NULL;
    return account_row(impl, account, out);
}

int msq_user_create(void *impl, const char *account, const char *name, int is_admin,
                    int64_t *out_id)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_USER_INSERT, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, name);
    sqlite3_bind_int(st, 3, is_admin);
    sqlite3_bind_int64(st, 4, msq_now_s());
    int r = sqlite3_step(st);
    msq_done(st);
    if (r == SQLITE_CONSTRAINT)
        return berth_err_set(BERTH_EEXISTS, BERTH_WHAT_NONE,
                             "user %s already exists in account %s (or the account does not)", name,
                             account);
    if (r != SQLITE_DONE)
        return msq_db_error(c->db, "user insert");
    if (out_id)
        *out_id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

int msq_user_get(void *impl, const char *account, const char *name, struct berth_meta_user *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_USER_GET, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->id = sqlite3_column_int64(st, 0);
        out->is_admin = sqlite3_column_int(st, 1);
        snprintf(out->account, sizeof(out->account), "%s", account);
        snprintf(out->name, sizeof(out->name), "%s", name);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE, "user %s not found in account %s",
                           name, account);
    } else {
        rc = msq_db_error(c->db, "user lookup");
    }
    msq_done(st);
    return rc;
}

int msq_key_create(void *impl, int64_t user_id, const char *key_id, const void *sealed,
                   size_t sealed_len)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_KEY_INSERT, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, key_id);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_blob(st, 3, sealed, (int)sealed_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, msq_now_s());
    int r = sqlite3_step(st);
    msq_done(st);
    if (r == SQLITE_CONSTRAINT)
        return berth_err_set(BERTH_EEXISTS, BERTH_WHAT_NONE, "access key %s already exists",
                             key_id);
    return r == SQLITE_DONE ? 0 : msq_db_error(c->db, "key insert");
}

int msq_key_get(void *impl, const char *key_id, struct berth_meta_key *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_KEY_GET, &st);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    msq_bind_text(st, 1, key_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        snprintf(out->id, sizeof(out->id), "%s", key_id);
        out->active = sqlite3_column_int(st, 0);
        out->created_at = sqlite3_column_int64(st, 1);
        int n = sqlite3_column_bytes(st, 2);
        out->sealed = malloc(n > 0 ? (size_t)n : 1);
        if (!out->sealed) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        } else {
            memcpy(out->sealed, sqlite3_column_blob(st, 2), (size_t)n);
            out->sealed_len = (size_t)n;
            out->user.id = sqlite3_column_int64(st, 3);
            snprintf(out->user.account, sizeof(out->user.account), "%s",
                     (const char *)sqlite3_column_text(st, 4));
            snprintf(out->user.name, sizeof(out->user.name), "%s",
                     (const char *)sqlite3_column_text(st, 5));
            out->user.is_admin = sqlite3_column_int(st, 6);
            rc = 0;
        }
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE, "unknown access key");
    } else {
        rc = msq_db_error(c->db, "key lookup");
    }
    msq_done(st);
    return rc;
}

int msq_key_set_active(void *impl, const char *key_id, int active)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_KEY_SET_ACTIVE, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, key_id);
    sqlite3_bind_int(st, 2, active);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE, "access key %s not found", key_id);
    return 0;
}

int msq_key_count(void *impl, int64_t *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_KEY_COUNT, &st);
    if (rc < 0)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = msq_db_error(c->db, "key count");
    msq_done(st);
    return rc;
}

int msq_auth_epoch(void *impl, int64_t *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_AUTH_EPOCH, &st);
    if (rc < 0)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = msq_db_error(c->db, "auth epoch");
    msq_done(st);
    return rc;
}

int msq_policy_put(void *impl, const char *account, const char *name, const char *document)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_POLICY_UPSERT, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, name);
    msq_bind_text(st, 3, document);
    sqlite3_bind_int64(st, 4, msq_now_s());
    return msq_step_done(c, st);
}

int msq_policy_attach(void *impl, int64_t user_id, const char *account, const char *name)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_POLICY_ATTACH, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, user_id);
    msq_bind_text(st, 2, account);
    msq_bind_text(st, 3, name);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) > 0)
        return 0;
    /* No row: either already attached (ON CONFLICT) or no such policy. An admin-only path,
     * so an uncached query is fine. */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM policies WHERE account_id = ?1 AND name = ?2", -1,
                           &q, NULL) != SQLITE_OK)
        return msq_db_error(c->db, "policy lookup");
    msq_bind_text(q, 1, account);
    msq_bind_text(q, 2, name);
    int r = sqlite3_step(q);
    sqlite3_finalize(q);
    if (r == SQLITE_ROW)
        return 0;
    return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE, "policy %s not found in account %s",
                         name, account);
}

int msq_user_policies(void *impl, int64_t user_id, struct berth_strlist *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_USER_POLICIES, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, user_id);
    return msq_list_strings(c, st, out);
}
