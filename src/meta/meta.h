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
    char *subject; /* digest or NULL */
    char *annotations; /* compact JSON object or NULL */
    int64_t size;
    int64_t total_size;
    int64_t pushed_at;
    char *body; /* only when asked for */
    size_t body_len;
};
void berth_meta_manifest_dispose(struct berth_meta_manifest *m);

struct berth_meta_manifest_list {
    struct berth_meta_manifest *items;
    size_t n;
};
void berth_meta_manifest_list_dispose(struct berth_meta_manifest_list *l);

struct berth_meta_upload {
    char id[40];
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

typedef int (*berth_meta_blob_cb)(void *ctx, const char *digest, int64_t size);
typedef int (*berth_meta_dangling_cb)(void *ctx, const struct berth_meta_dangling *d);
typedef int (*berth_meta_upload_cb)(void *ctx, const char *id);
/* fsck: one stored manifest with its bytes. */
typedef int (*berth_meta_manifest_cb)(void *ctx, int64_t repo_id, const char *repo,
                                      const char *digest, const char *body, size_t len);

struct berth_meta_ops {
    int version;
    void (*close)(void *impl);

    int (*repo_get)(void *impl, const char *name, int64_t *out_id);
    /* Creates the repository when create is set; BERTH_ENOTFOUND otherwise. */
    int (*repo_ensure)(void *impl, const char *name, int create, int64_t *out_id);
    /* Names after `last` (NULL: from the start), at most limit, in byte order (names are
     * lower case, so that is also the spec's case-insensitive order). */
    int (*repo_list)(void *impl, const char *last, int limit, struct berth_strlist *out);

    /* Records the blob globally (if new) and links it to the repository; when upload_id is
     * set, the finished upload session is removed in the same transaction. */
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
     * BERTH_ENOTFOUND (what = MANIFEST_REF, subject = the digest) if a reference is missing. */
    int (*manifest_put)(void *impl, int64_t repo_id, const struct berth_meta_manifest *m,
                        const struct berth_manifest_ref *refs, size_t nrefs, const char *tag);
    int (*manifest_get)(void *impl, int64_t repo_id, const char *digest, int with_body,
                        struct berth_meta_manifest *out);
    /* Deletes the manifest and its tags. BERTH_ECONFLICT while an index in the repository
     * still lists it (unless force, used by fsck --repair). */
    int (*manifest_delete)(void *impl, int64_t repo_id, const char *digest, int force);
    int (*referrers)(void *impl, int64_t repo_id, const char *subject, const char *artifact_type,
                     struct berth_meta_manifest_list *out);

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
};

struct berth_meta {
    const struct berth_meta_ops *ops;
    void *impl;
};

/* Opens the SQLite store at path (created and migrated if needed). */
int berth_meta_sqlite_open(struct berth_meta **out, const char *path);
void berth_meta_close(struct berth_meta *m);

#endif
