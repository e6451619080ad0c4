/*
 * Internal to the SQLite metadata store: the per-thread connection, the statement cache and
 * the helpers the store's files share (meta_sqlite.c: content; identity.c: accounts, users,
 * keys, policies; repos.c: ECR repository records). Not an interface for anything else.
 */
#ifndef BERTH_META_SQLITE_INT_H
#define BERTH_META_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "meta/meta.h"

enum stmt_id {
    ST_REPO_GET,
    ST_REPO_INSERT,
    ST_REPO_LIST,
    ST_BLOB_INSERT,
    ST_LINK_INSERT,
    ST_LINK_GET,
    ST_LINK_DELETE,
    ST_LINK_IN_USE,
    ST_BLOB_GET,
    ST_UPLOAD_INSERT,
    ST_UPLOAD_GET,
    ST_UPLOAD_UPDATE,
    ST_UPLOAD_DELETE,
    ST_UPLOAD_COUNT,
    ST_UPLOAD_ALL,
    ST_MANIFEST_INSERT,
    ST_MANIFEST_EXISTS,
    ST_MANIFEST_GET,
    ST_MANIFEST_GET_BODY,
    ST_MANIFEST_PULLED,
    ST_MANIFEST_PARENT,
    ST_MANIFEST_DELETE,
    ST_REF_INSERT,
    ST_REFERRERS,
    ST_TAG_UPSERT,
    ST_TAG_GET,
    ST_TAG_DELETE,
    ST_TAG_LIST,
    ST_BLOB_ALL,
    ST_BLOB_FORGET_LINKS,
    ST_BLOB_FORGET,
    ST_DANGLING,
    ST_MANIFEST_ALL,
    /* identity (identity.c) */
    ST_ACCOUNT_INSERT,
    ST_ACCOUNT_GET,
    ST_ACCOUNT_SET_POLICY,
    ST_ADOPT_REPOS,
    ST_ADOPT_UPLOADS,
    ST_USER_INSERT,
    ST_USER_GET,
    ST_KEY_INSERT,
    ST_KEY_GET,
    ST_KEY_SET_ACTIVE,
    ST_KEY_COUNT,
    ST_POLICY_UPSERT,
    ST_POLICY_ATTACH,
    ST_USER_POLICIES,
    ST_AUTH_EPOCH,
    /* ECR repository records (repos.c) */
    ST_REPO_DESCRIBE,
    ST_REPO_DESCRIBE_LIST,
    ST_REPO_CREATE,
    ST_REPO_UPDATE,
    ST_REPO_COUNT_IMAGES,
    ST_REPO_DELETE,
    ST_REPO_DELETE_UPLOADS,
    /* ECR images (repos.c) */
    ST_IMAGE_LIST,
    ST_IMAGE_GET,
    ST_IMAGE_TAGS,
    /* lifecycle policies, previews and the event log (lifecycle.c) */
    ST_LC_POLICY_SET,
    ST_LC_POLICY_GET,
    ST_LC_EVALUATED,
    ST_LC_REPOS,
    ST_LC_IMAGES,
    ST_LC_REFERRERS_OF,
    ST_LC_CHILDREN_OF,
    ST_LC_PARENTS_OF,
    ST_LC_TAGGED,
    ST_EVENT_INSERT,
    ST_PREVIEW_START,
    ST_PREVIEW_GET,
    ST_PREVIEW_FINISH,
    ST_PREVIEW_PENDING,
    /* garbage collection (gc.c) */
    ST_GC_LINK_TIME,
    ST_GC_LINK_TOUCH,
    ST_GC_LINKS,
    ST_GC_LINK_DELETE,
    ST_GC_BLOBS,
    ST_GC_BLOB_CHECK,
    ST_GC_UPLOADS,
    ST_GC_UPLOAD_CHECK,
    ST_GC_UPLOAD_EXISTS,
    ST_GC_PRUNE_LINKS_UPTO,
    ST_GC_PRUNE_LINKS,
    ST_GC_PRUNE_BLOBS_UPTO,
    ST_GC_PRUNE_BLOBS,
    ST_GC_STATE_GET,
    ST_GC_WALK_TAKE,
    ST_GC_WALK_REQUEST,
    ST_GC_SERVER_START,
    ST_GC_SERVER_STOP,
    /* storage accounting (usage.c) */
    ST_USAGE_ADD,
    ST_USAGE_REPO_STORED,
    ST_USAGE_REPOS,
    ST_USAGE_REGISTRY,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

extern const char *const msq_stmt_sql[ST_COUNT];

struct store;

struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct store *store;
    struct conn *next;
    int writing; /* inside msq_begin .. msq_commit/msq_rollback: holds store->write_mu */
};

struct store {
    char *path;
    pthread_key_t key;
    pthread_mutex_t mu;
    struct conn *all;
    /* Write transactions of this process queue here rather than in SQLite's busy handler,
     * which sleeps in whole milliseconds (see msq_begin). */
    pthread_mutex_t write_mu;
};

int64_t msq_now_s(void);
int msq_db_error(sqlite3 *db, const char *what);
int msq_get_conn(struct store *s, struct conn **out);
/* A reset statement from the per-connection cache, ready for binding. */
int msq_stmt(struct conn *c, enum stmt_id id, sqlite3_stmt **out);
void msq_done(sqlite3_stmt *st);
/* Runs a statement that returns no rows. */
int msq_step_done(struct conn *c, sqlite3_stmt *st);
int msq_begin(struct conn *c);
int msq_commit(struct conn *c);
void msq_rollback(struct conn *c);
void msq_bind_text(sqlite3_stmt *st, int i, const char *s);
char *msq_col_dup(sqlite3_stmt *st, int i);
int msq_list_strings(struct conn *c, sqlite3_stmt *st, struct berth_strlist *out);

#define CONN(s, c)                                                                                 \
    struct conn *c;                                                                                \
    do {                                                                                           \
        int rc_ = msq_get_conn((s), &c);                                                           \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

/* repos.c */
int msq_repo_create(void *impl, const struct berth_meta_repo *r, int64_t *out_id);
int msq_repo_describe(void *impl, const char *account, const char *name,
                      struct berth_meta_repo *out);
int msq_repo_describe_list(void *impl, const char *account, const char *last, int limit,
                           struct berth_meta_repo_list *out);
int msq_repo_update(void *impl, const struct berth_meta_repo *r);
int msq_repo_delete(void *impl, int64_t id, int force);
int msq_image_list(void *impl, int64_t repo_id, const char *after, int limit, int tagged,
                   struct berth_meta_image_list *out);
int msq_image_get(void *impl, int64_t repo_id, const char *digest,
                  struct berth_meta_image_list *out);
int msq_image_tags(void *impl, int64_t repo_id, const char *digest, struct berth_strlist *out);
/* Reads the rows of a prepared statement selecting IMAGE_COLS, then each image's tags. */
int msq_read_images(void *impl, struct conn *c, sqlite3_stmt *st, int64_t repo_id,
                    struct berth_meta_image_list *out);

/* identity.c */
int msq_account_ensure(void *impl, const char *account);
int msq_account_exists(void *impl, const char *account);
int msq_account_adopt(void *impl, const char *account);
int msq_registry_policy_set(void *impl, const char *account, const char *policy);
int msq_registry_policy_get(void *impl, const char *account, char **out);
int msq_user_create(void *impl, const char *account, const char *name, int is_admin,
                    int64_t *out_id);
int msq_user_get(void *impl, const char *account, const char *name, struct berth_meta_user *out);
int msq_key_create(void *impl, int64_t user_id, const char *key_id, const void *sealed,
                   size_t sealed_len);
int msq_key_get(void *impl, const char *key_id, struct berth_meta_key *out);
int msq_key_set_active(void *impl, const char *key_id, int active);
int msq_key_count(void *impl, int64_t *out);
int msq_auth_epoch(void *impl, int64_t *out);
int msq_policy_put(void *impl, const char *account, const char *name, const char *document);
int msq_policy_attach(void *impl, int64_t user_id, const char *account, const char *name);
int msq_user_policies(void *impl, int64_t user_id, struct berth_strlist *out);

/* lifecycle.c */
int msq_lifecycle_policy_set(void *impl, int64_t repo_id, const char *text);
int msq_lifecycle_policy_get(void *impl, int64_t repo_id, char **out_text,
                             int64_t *out_evaluated_at);
int msq_lifecycle_evaluated(void *impl, int64_t repo_id, int64_t when);
int msq_lifecycle_repos(void *impl, const char *account, struct berth_meta_repo_ref_list *out);
int msq_lifecycle_images(void *impl, int64_t repo_id, struct berth_meta_image_list *out);
int msq_image_expire(void *impl, int64_t repo_id, const char *digest,
                     const struct berth_strlist *expect_tags, const struct berth_meta_event *ev,
                     struct berth_strlist *out_deleted);
int msq_lc_preview_start(void *impl, int64_t repo_id, const char *policy, int64_t now);
int msq_lc_preview_get(void *impl, int64_t repo_id, struct berth_meta_lc_preview *out);
int msq_lc_preview_finish(void *impl, int64_t repo_id, const char *status, const char *results,
                          int64_t now);
int msq_lc_preview_pending(void *impl, struct berth_meta_repo_ref_list *out);

/* gc.c */
int msq_blob_link_time(void *impl, int64_t repo_id, const char *digest, int64_t *out_size,
                       int64_t *out_linked_at);
int msq_blob_link_touch(void *impl, int64_t repo_id, const char *digest, int64_t now);
int msq_blob_mount(void *impl, int64_t repo_id, int64_t from_id, const char *digest);
int msq_gc_prune(void *impl, uint64_t *out_pruned);
int msq_gc_state(void *impl, enum berth_meta_gc_state op, int *out_walk);
int msq_gc_links(void *impl, int64_t before, berth_meta_link_cb cb, void *ctx);
int msq_gc_link_delete(void *impl, int64_t repo_id, const char *digest, int64_t before,
                       int *out_deleted);
int msq_gc_blobs(void *impl, int64_t before, berth_meta_blob_cb cb, void *ctx);
int msq_gc_blob_delete(void *impl, const char *digest, int64_t before,
                       berth_meta_gc_remove_cb remove, void *ctx, int64_t *out_size);
int msq_gc_orphan_delete(void *impl, const char *digest, berth_meta_gc_remove_cb remove, void *ctx,
                         int *out_removed);
int msq_gc_uploads(void *impl, int64_t before, berth_meta_upload_cb cb, void *ctx);
int msq_gc_upload_delete(void *impl, const char *id, int64_t before, berth_meta_gc_remove_cb remove,
                         void *ctx, int *out_removed);
int msq_gc_upload_orphan_delete(void *impl, const char *id, berth_meta_gc_remove_cb remove,
                                void *ctx, int *out_removed);

/* usage.c */
int msq_usage_add(void *impl, const struct berth_meta_usage_delta *d, size_t n);
int msq_repo_stored_bytes(void *impl, int64_t repo_id, int64_t *out);
int msq_usage_repos(void *impl, const char *account, int64_t from_day, int64_t to_day,
                    struct berth_meta_repo_usage_list *out);
int msq_usage_registry(void *impl, struct berth_meta_registry_usage *out);

#endif
