/*
 * meta — the metadata store interface: repositories, blob links, manifests, tags, uploads.
 *
 * A vtable with a version field (SQLite's VFS, libgit2's odb backends) so SQLite now and
 * PostgreSQL later run the same registry code. Everything above this interface speaks in
 * repository ids, digests and records; nothing above it knows SQL.
 *
 * Consistency: every mutating call is one transaction. manifest_put re-checks inside its
 * transaction that every reference exists, so a manifest row never points at nothing even
 * when deletes race the push.
 *
 * Ownership: records filled by the store are owned by the caller and released with the
 * matching _dispose function. All calls are safe from any thread.
 */
#ifndef BERTH_META_META_H
#define BERTH_META_META_H

#include <stddef.h>
#include <stdint.h>

#include "core/digest.h"
#include "registry/manifest.h"

#define BERTH_META_OPS_VERSION 1

struct berth_strlist {
    char **items;
    size_t n;
};
void berth_strlist_dispose(struct berth_strlist *l);
int berth_strlist_push(struct berth_strlist *l, const char *s);

struct berth_meta_manifest {
    char digest[BERTH_DIGEST_BUF];
    char *media_type;
    char *artifact_type;
    char *config_media_type;
    char *subject;     /* digest or NULL */
    char *annotations; /* compact JSON object or NULL */
    int64_t size;
    int64_t total_size;
    int64_t pushed_at;
    int64_t last_pulled_at; /* 0: never */
    char *body;             /* only when asked for */
    size_t body_len;
};
void berth_meta_manifest_dispose(struct berth_meta_manifest *m);

struct berth_meta_manifest_list {
    struct berth_meta_manifest *items;
    size_t n;
};
void berth_meta_manifest_list_dispose(struct berth_meta_manifest_list *l);

#define BERTH_ACCOUNT_BUF 13 /* 12 digits */

struct berth_meta_upload {
    char id[40];
    char account[BERTH_ACCOUNT_BUF];
    char repo[256]; /* repository name; the repository may not exist yet */
    int64_t offset;
    unsigned char state[BERTH_SHA256_STATE_LEN];
    int64_t started_at;
};

/* fsck: a manifest reference whose target is missing. */
struct berth_meta_dangling {
    int64_t repo_id;
    char repo[256];
    char parent[BERTH_DIGEST_BUF];
    char child[BERTH_DIGEST_BUF];
    int kind; /* 0 blob, 1 manifest */
};

/* A repository that has a lifecycle policy. */
struct berth_meta_repo_ref {
    int64_t id;
    char account[BERTH_ACCOUNT_BUF];
    char name[256];
};
struct berth_meta_repo_ref_list {
    struct berth_meta_repo_ref *items;
    size_t n;
};
void berth_meta_repo_ref_list_dispose(struct berth_meta_repo_ref_list *l);

/* A lifecycle policy preview (one per repository). */
struct berth_meta_lc_preview {
    char status[16]; /* IN_PROGRESS, COMPLETE, FAILED */
    char *policy;
    char *results; /* JSON array, NULL while in progress */
    int64_t started_at;
};
void berth_meta_lc_preview_dispose(struct berth_meta_lc_preview *p);

/* An entry of the event log: what happened, who did it, why (JSON). */
struct berth_meta_event {
    int64_t at;
    const char *kind;   /* IMAGE_EXPIRED */
    const char *actor;  /* lifecycle-policy */
    const char *detail; /* JSON object or NULL */
};

typedef int (*berth_meta_blob_cb)(void *ctx, const char *digest, int64_t size);
typedef int (*berth_meta_dangling_cb)(void *ctx, const struct berth_meta_dangling *d);
typedef int (*berth_meta_upload_cb)(void *ctx, const char *id);
/* garbage collection: one repository link */
typedef int (*berth_meta_link_cb)(void *ctx, int64_t repo_id, const char *digest);
/* gc_state's operations. *out_walk: PEEK and TAKE the flag's value (TAKE also clears it);
 * SERVER_START 1 when the previous server of this store did not stop cleanly (the flag is then
 * set); REQUEST and SERVER_STOP leave it alone. */
enum berth_meta_gc_state {
    BERTH_GC_WALK_PEEK,
    BERTH_GC_WALK_TAKE,
    BERTH_GC_WALK_REQUEST, /* a commit may have left a blob file without a row */
    BERTH_GC_SERVER_START, /* a crash of the previous server may have */
    BERTH_GC_SERVER_STOP,  /* this server stops cleanly */
};

/* garbage collection: called inside the write transaction that re-checked `key` (a digest or
 * an upload id) is garbage, to remove its bytes before the commit. Sets *out_removed to 0 to
 * keep it after all (the transaction is then rolled back); a negative return rolls back too. */
typedef int (*berth_meta_gc_remove_cb)(void *ctx, const char *key, int *out_removed);
/* fsck: one stored manifest with its bytes. */
typedef int (*berth_meta_manifest_cb)(void *ctx, int64_t repo_id, const char *repo,
                                      const char *digest, const char *body, size_t len);

/* ---- identity ---- */
struct berth_meta_user {
    int64_t id;
    char account[BERTH_ACCOUNT_BUF];
    char name[65];
    int is_admin; /* the account's root user */
};

struct berth_meta_key {
    char id[129];
    int active;
    int64_t created_at;
    struct berth_meta_user user;
    unsigned char *sealed; /* the secret, sealed with the master key (auth/ opens it) */
    size_t sealed_len;
};
void berth_meta_key_dispose(struct berth_meta_key *k);

/* An ECR repository record: what DescribeRepositories reports and the settings behind it. */
struct berth_meta_repo {
    int64_t id;
    char account[BERTH_ACCOUNT_BUF];
    char *name;
    int64_t created_at;
    char tag_mutability[32];      /* MUTABLE, IMMUTABLE, *_WITH_EXCLUSION */
    char *tag_mutability_filters; /* JSON array or NULL */
    int scan_on_push;
    char encryption_type[16]; /* AES256, KMS, KMS_DSSE */
    char *kms_key;
    char *policy;        /* repository policy or NULL */
    char *resource_tags; /* JSON array of {Key, Value} or NULL */
};
void berth_meta_repo_dispose(struct berth_meta_repo *r);

struct berth_meta_repo_list {
    struct berth_meta_repo *items;
    size_t n;
};
void berth_meta_repo_list_dispose(struct berth_meta_repo_list *l);

/* Storage accounting: pulls and bytes served by one repository on one day (days since the
 * epoch, UTC, on the registry's clock), as counted in memory and then added to the store. */
struct berth_meta_usage_delta {
    int64_t repo_id;
    int64_t day;
    int64_t pulls;
    int64_t bytes_served;
};

/* One repository's storage and traffic (`berth admin usage`). */
struct berth_meta_repo_usage {
    char name[256];       /* names are at most BERTH_NAME_MAX */
    int64_t stored_bytes; /* its distinct linked blobs once each, plus its manifests */
    int64_t images;       /* manifests, tagged or not (what DescribeImages lists) */
    int64_t untagged;
    int64_t pulls;        /* over the day range asked for */
    int64_t bytes_served; /* idem */
};
struct berth_meta_repo_usage_list {
    struct berth_meta_repo_usage *items;
    size_t n;
};
void berth_meta_repo_usage_list_dispose(struct berth_meta_repo_usage_list *l);

/* The registry as a whole: what is on disk against what the repositories are billed for. */
struct berth_meta_registry_usage {
    int64_t blob_bytes;        /* every blob once (the blob store is deduplicated globally) */
    int64_t manifest_bytes;    /* every stored manifest (kept per repository) */
    int64_t linked_blob_bytes; /* blobs once per repository linking them */
};

/* An image (a manifest in a repository) with its tags, for the ECR image operations. */
struct berth_meta_image {
    char digest[BERTH_DIGEST_BUF];
    char *media_type;
    char *artifact_type;
    char *config_media_type;
    char *subject;
    int64_t total_size;
    int64_t pushed_at;
    int64_t last_pulled_at; /* 0: never */
    struct berth_strlist tags;
};
struct berth_meta_image_list {
    struct berth_meta_image *items;
    size_t n;
};
void berth_meta_image_list_dispose(struct berth_meta_image_list *l);

struct berth_meta_ops {
    int version;
    void (*close)(void *impl);

    /* Repositories belong to an account; names are unique within it. */
    int (*repo_get)(void *impl, const char *account, const char *name, int64_t *out_id);
    /* Creates the repository when create is set; BERTH_ENOTFOUND otherwise. */
    int (*repo_ensure)(void *impl, const char *account, const char *name, int create,
                       int64_t *out_id);
    /* Names after `last` (NULL: from the start), at most limit, in byte order (names are
     * lower case, so that is also the spec's case-insensitive order). */
    int (*repo_list)(void *impl, const char *account, const char *last, int limit,
                     struct berth_strlist *out);

    /* ECR repository records. repo_create: BERTH_EEXISTS when the name is taken. */
    int (*repo_create)(void *impl, const struct berth_meta_repo *r, int64_t *out_id);
    int (*repo_describe)(void *impl, const char *account, const char *name,
                         struct berth_meta_repo *out);
    /* Records after `last` in name order, at most limit. */
    int (*repo_describe_list)(void *impl, const char *account, const char *last, int limit,
                              struct berth_meta_repo_list *out);
    /* Writes the settings (mutability, filters, scan, policy, tags) of r->id. */
    int (*repo_update)(void *impl, const struct berth_meta_repo *r);
    /* Deletes the repository with its images, tags, links and upload sessions.
     * BERTH_ECONFLICT (what REPO) when it still has images and force is not set. */
    int (*repo_delete)(void *impl, int64_t id, int force);

    /* Identity. account_ensure creates the account if missing. */
    int (*account_ensure)(void *impl, const char *account);
    int (*account_exists)(void *impl, const char *account);
    /* Gives repositories and uploads from before accounts existed to this account. */
    int (*account_adopt)(void *impl, const char *account);
    /* NULL policy: none. registry_policy_get: BERTH_ENOTFOUND when there is none. */
    int (*registry_policy_set)(void *impl, const char *account, const char *policy);
    int (*registry_policy_get)(void *impl, const char *account, char **out);
    int (*user_create)(void *impl, const char *account, const char *name, int is_admin,
                       int64_t *out_id);
    int (*user_get)(void *impl, const char *account, const char *name, struct berth_meta_user *out);
    int (*key_create)(void *impl, int64_t user_id, const char *key_id, const void *sealed,
                      size_t sealed_len);
    int (*key_get)(void *impl, const char *key_id, struct berth_meta_key *out);
    int (*key_set_active)(void *impl, const char *key_id, int active);
    int (*key_count)(void *impl, int64_t *out);
    /* Creates or replaces the named identity policy of the account. */
    int (*policy_put)(void *impl, const char *account, const char *name, const char *document);
    int (*policy_attach)(void *impl, int64_t user_id, const char *account, const char *name);
    /* The documents of every policy attached to the user. */
    int (*user_policies)(void *impl, int64_t user_id, struct berth_strlist *out);
    /* A counter that moves (in the same transaction) whenever anything an access decision
     * reads changes: accounts, users, keys, identity policies and attachments, repository and
     * registry policies, repositories removed. Decisions cached under one value stay right
     * while it holds. NULL in a store that keeps none: nothing may be cached. */
    int (*auth_epoch)(void *impl, int64_t *out);

    /* Records the blob globally (if new) and links it to the repository, or refreshes the
     * link's time when it exists (garbage collection counts its grace from there); when
     * upload_id is set, the finished upload session is removed in the same transaction, and
     * BERTH_ENOTFOUND (what UPLOAD) with nothing linked when the session is gone (expired). */
    int (*blob_link)(void *impl, int64_t repo_id, const char *digest, int64_t size,
                     const char *upload_id);
    int (*blob_linked)(void *impl, int64_t repo_id, const char *digest, int64_t *out_size);
    int (*blob_unlink)(void *impl, int64_t repo_id, const char *digest);
    /* Known anywhere in the registry (for mounts and deduplicated uploads). */
    int (*blob_known)(void *impl, const char *digest, int64_t *out_size);

    int (*upload_create)(void *impl, const struct berth_meta_upload *u);
    int (*upload_get)(void *impl, const char *id, struct berth_meta_upload *out);
    int (*upload_update)(void *impl, const struct berth_meta_upload *u);
    int (*upload_delete)(void *impl, const char *id);
    int (*upload_count)(void *impl, int64_t *out);

    /* Stores the manifest, its references and (if tag) the tag, in one transaction.
     * BERTH_ENOTFOUND (what = MANIFEST_REF, subject = the digest) if a reference is missing;
     * with tag_immutable, BERTH_ECONFLICT (what TAG) if the tag names another digest. */
    int (*manifest_put)(void *impl, int64_t repo_id, const struct berth_meta_manifest *m,
                        const struct berth_manifest_ref *refs, size_t nrefs, const char *tag,
                        int tag_immutable);
    int (*manifest_get)(void *impl, int64_t repo_id, const char *digest, int with_body,
                        struct berth_meta_manifest *out);
    /* Deletes the manifest and its tags. BERTH_ECONFLICT while an index in the repository
     * still lists it (unless force, used by fsck --repair). */
    int (*manifest_delete)(void *impl, int64_t repo_id, const char *digest, int force);
    /* Records when the manifest was last pulled. */
    int (*manifest_pulled)(void *impl, int64_t repo_id, const char *digest, int64_t when);
    int (*referrers)(void *impl, int64_t repo_id, const char *subject, const char *artifact_type,
                     struct berth_meta_manifest_list *out);

    /* Images with digest > after (NULL: from the start) in digest order, at most limit;
     * tagged: 1 only tagged images, 0 only untagged, -1 both. */
    int (*image_list)(void *impl, int64_t repo_id, const char *after, int limit, int tagged,
                      struct berth_meta_image_list *out);
    /* The one image with this digest (out->n is 0 when there is none). */
    int (*image_get)(void *impl, int64_t repo_id, const char *digest,
                     struct berth_meta_image_list *out);
    /* The tags naming digest, in tag order. */
    int (*image_tags)(void *impl, int64_t repo_id, const char *digest, struct berth_strlist *out);

    int (*tag_get)(void *impl, int64_t repo_id, const char *tag, char out[BERTH_DIGEST_BUF]);
    int (*tag_delete)(void *impl, int64_t repo_id, const char *tag);
    int (*tag_list)(void *impl, int64_t repo_id, const char *last, int limit,
                    struct berth_strlist *out);

    /* fsck */
    int (*blob_iterate)(void *impl, berth_meta_blob_cb cb, void *ctx);
    /* Removes a blob row and every link to it. */
    int (*blob_forget)(void *impl, const char *digest);
    int (*dangling_iterate)(void *impl, berth_meta_dangling_cb cb, void *ctx);
    int (*upload_iterate)(void *impl, berth_meta_upload_cb cb, void *ctx);
    int (*manifest_iterate)(void *impl, berth_meta_manifest_cb cb, void *ctx);

    /* ---- lifecycle policies, previews and the event log ---- */
    /* text NULL removes the policy. get: BERTH_ENOTFOUND (what POLICY) when there is none;
     * *out_evaluated_at is 0 until a run evaluated it. */
    int (*lifecycle_policy_set)(void *impl, int64_t repo_id, const char *text);
    int (*lifecycle_policy_get)(void *impl, int64_t repo_id, char **out_text,
                                int64_t *out_evaluated_at);
    int (*lifecycle_evaluated)(void *impl, int64_t repo_id, int64_t when);
    /* Repositories with a policy, of one account ("" or NULL: every account). */
    int (*lifecycle_repos)(void *impl, const char *account, struct berth_meta_repo_ref_list *out);
    /* The images a policy judges, with their tags: every manifest except those an index of the
     * repository lists and those whose subject is in the repository (they live and die with
     * that index or subject). */
    int (*lifecycle_images)(void *impl, int64_t repo_id, struct berth_meta_image_list *out);
    /* Deletes an expired image in one transaction, after re-checking that it still has exactly
     * the tags it was judged with (sorted as image_tags sorts them) and that no index lists it
     * now: BERTH_ECONFLICT otherwise, BERTH_ENOTFOUND when it is gone. With it go its referrers
     * (recursively) and the child manifests of an index that are untagged and listed by no
     * other manifest. Records one event per deleted manifest; out_deleted lists them, the
     * image first. */
    int (*image_expire)(void *impl, int64_t repo_id, const char *digest,
                        const struct berth_strlist *expect_tags, const struct berth_meta_event *ev,
                        struct berth_strlist *out_deleted);
    /* Previews. start: BERTH_ECONFLICT while one is in progress for the repository. */
    int (*lc_preview_start)(void *impl, int64_t repo_id, const char *policy, int64_t now);
    int (*lc_preview_get)(void *impl, int64_t repo_id, struct berth_meta_lc_preview *out);
    int (*lc_preview_finish)(void *impl, int64_t repo_id, const char *status, const char *results,
                             int64_t now);
    /* Repositories whose preview is in progress. */
    int (*lc_preview_pending)(void *impl, struct berth_meta_repo_ref_list *out);

    /* ---- garbage collection ---- */
    /* Every time is epoch seconds; `before` is the cutoff: only what is older is garbage.
     * The list calls collect first and then call back, so callbacks may use the store. The
     * *_delete calls each run one write transaction that re-checks the condition the list
     * used, so a push that raced the list wins (docs/gc.md). */

    /* As blob_linked, plus when the link was last made or refreshed. */
    int (*blob_link_time)(void *impl, int64_t repo_id, const char *digest, int64_t *out_size,
                          int64_t *out_linked_at);
    /* Sets the link's time to now: BERTH_ENOTFOUND (what BLOB) when the link is gone. */
    int (*blob_link_touch)(void *impl, int64_t repo_id, const char *digest, int64_t now);
    /* Links digest into repo_id in one transaction that requires from_id to link it (so a
     * sweep cannot remove the blob under the mount); refreshes an existing link. BERTH_ENOTFOUND
     * (what BLOB) when from_id does not link it. */
    int (*blob_mount)(void *impl, int64_t repo_id, int64_t from_id, const char *digest);
    /* The candidates the writes recorded (migration 007's triggers) are what gc_links and
     * gc_blobs look at. gc_prune drops, in short write transactions that re-check under the
     * lock, the candidates that are in use (a referenced link, a linked blob) or gone: until
     * they change again nothing can make them garbage. Candidates not yet old enough stay.
     * *out_pruned (may be NULL) counts the dropped ones. */
    int (*gc_prune)(void *impl, uint64_t *out_pruned);
    /* Links no manifest of their repository references, linked before `before` (among the
     * candidates). */
    int (*gc_links)(void *impl, int64_t before, berth_meta_link_cb cb, void *ctx);
    /* Deletes the link if it is still unreferenced and older than before; *out_deleted 0/1. */
    int (*gc_link_delete)(void *impl, int64_t repo_id, const char *digest, int64_t before,
                          int *out_deleted);
    /* Blobs recorded before `before` whose every link is one gc_links would list (or that
     * have none): what a sweep removes once those links are gone (among the candidates, and
     * the digests of the link candidates). */
    int (*gc_blobs)(void *impl, int64_t before, berth_meta_blob_cb cb, void *ctx);
    /* If the blob still has no link and was recorded before `before`: remove(digest), then
     * the row is deleted. *out_size is the size of the deleted blob, -1 when it was kept. */
    int (*gc_blob_delete)(void *impl, const char *digest, int64_t before,
                          berth_meta_gc_remove_cb remove, void *ctx, int64_t *out_size);
    /* Whether the next pass must walk every blob file: a row cannot say that a file without
     * a row exists, so the processes that may have left one say so here. See the enum. */
    int (*gc_state)(void *impl, enum berth_meta_gc_state op, int *out_walk);
    /* If no blob row records digest: remove(digest). *out_removed 0/1. */
    int (*gc_orphan_delete)(void *impl, const char *digest, berth_meta_gc_remove_cb remove,
                            void *ctx, int *out_removed);
    /* Upload sessions last updated before `before`. */
    int (*gc_uploads)(void *impl, int64_t before, berth_meta_upload_cb cb, void *ctx);
    /* If the session was still last updated before `before`: remove(id), then the row is
     * deleted. *out_removed 0/1. */
    int (*gc_upload_delete)(void *impl, const char *id, int64_t before,
                            berth_meta_gc_remove_cb remove, void *ctx, int *out_removed);
    /* If no session has this id: remove(id) (an upload file nobody knows). */
    int (*gc_upload_orphan_delete)(void *impl, const char *id, berth_meta_gc_remove_cb remove,
                                   void *ctx, int *out_removed);

    /* ---- storage accounting ---- */
    /* Adds the counts to the per-day totals in one transaction. Counts of a repository that
     * was deleted meanwhile are dropped (its history went with it). */
    int (*usage_add)(void *impl, const struct berth_meta_usage_delta *d, size_t n);
    /* Stored bytes of one repository (DescribeRepositories' repositorySizeInBytes). */
    int (*repo_stored_bytes)(void *impl, int64_t repo_id, int64_t *out);
    /* Every repository of the account in name order, with pulls and bytes served summed over
     * days from_day..to_day (inclusive). */
    int (*usage_repos)(void *impl, const char *account, int64_t from_day, int64_t to_day,
                       struct berth_meta_repo_usage_list *out);
    int (*usage_registry)(void *impl, struct berth_meta_registry_usage *out);
};

struct berth_meta {
    const struct berth_meta_ops *ops;
    void *impl;
};

/* Opens the SQLite store at path (created and migrated if needed). */
int berth_meta_sqlite_open(struct berth_meta **out, const char *path);
void berth_meta_close(struct berth_meta *m);

#endif
