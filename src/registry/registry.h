/*
 * registry — the domain core: repositories, blobs, uploads, manifests, tags, referrers.
 *
 * Both wire APIs call these functions (OCI PUT manifest now, ECR PutImage later), so both
 * behave identically. Functions take already-routed strings, validate them, and return a
 * BERTH_E* code with berth_err_what() naming the object, which the handlers map to wire errors.
 *
 * Durability order (DESIGN "Consistency rules"): bytes are fsynced and renamed into the blob
 * store before the metadata row that makes them visible is committed; a manifest row is written
 * in the same transaction that re-checks its references.
 */
#ifndef BERTH_REGISTRY_REGISTRY_H
#define BERTH_REGISTRY_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "blob/blob.h"
#include "core/digest.h"
#include "core/limits.h"
#include "meta/meta.h"
#include "registry/usage.h"

struct berth_registry_options {
    int auto_create_repos;  /* a push to a missing repository creates it */
    size_t manifest_max;    /* bytes */
    int max_active_uploads; /* upload requests streaming at once */
    const char *clock_file; /* tests: "now" comes from this file (NULL/"": real time) */
    int64_t gc_grace;       /* seconds garbage collection spares an unreferenced blob link */
};

struct berth_active_upload;

struct berth_registry {
    struct berth_meta *meta;        /* borrowed */
    struct berth_blob_store *blobs; /* borrowed */
    struct berth_registry_options opt;
    char clock_file[1024];
    pthread_mutex_t mu; /* guards active */
    struct berth_active_upload *active;
    int nactive;
    /* storage accounting: pulls and bytes served since the last flush */
    pthread_mutex_t usage_mu; /* guards usage */
    struct berth_usage_table usage;
    /* Set when an upload commit failed after its hard link: a blob file may have no row, so
     * the next garbage collection pass walks the blob files (gc.h). */
    atomic_int walk_files;
};

int berth_registry_init(struct berth_registry *r, struct berth_meta *meta,
                        struct berth_blob_store *blobs, const struct berth_registry_options *opt);
void berth_registry_dispose(struct berth_registry *r);

/* The registry's clock: what push and pull times record and lifecycle ages count from. Real
 * time, unless the test-only clock file names another instant (epoch seconds). */
int64_t berth_registry_now(const struct berth_registry *r);

/* Every repository belongs to an account (a 12-digit registry id); functions that take a
 * repository name take its account first. */

/* Resolves a repository name: BERTH_EINVALID (NAME) for a bad name, BERTH_ENOTFOUND (REPO)
 * when it does not exist and may not be created. for_push creates it if allowed. */
int berth_registry_repo(struct berth_registry *r, const char *account, const char *name,
                        int for_push, int64_t *out_id);

/* ---- repository records (the ECR control plane) ---- */
/* Creates the repository with r's settings (name validated): BERTH_EEXISTS when taken. */
int berth_registry_repo_create(struct berth_registry *r, const struct berth_meta_repo *rec);
int berth_registry_repo_describe(struct berth_registry *r, const char *account, const char *name,
                                 struct berth_meta_repo *out);
int berth_registry_repo_describe_list(struct berth_registry *r, const char *account,
                                      const char *after, int limit,
                                      struct berth_meta_repo_list *out);
/* Writes mutability, filters, scan-on-push, policy and resource tags of rec->id. */
int berth_registry_repo_update(struct berth_registry *r, const struct berth_meta_repo *rec);
/* Deletes the repository; with force also its images (BERTH_ECONFLICT otherwise). */
int berth_registry_repo_delete(struct berth_registry *r, const char *account, const char *name,
                               int force, struct berth_meta_repo *out_deleted);

/* A page of a repository's images with their tags (tagged: 1, 0 or -1 for both). */
int berth_registry_images(struct berth_registry *r, const char *account, const char *repo,
                          const char *after, int limit, int tagged,
                          struct berth_meta_image_list *out);
/* The image with this digest, with its tags (out->n is 0 when there is none). */
int berth_registry_image_get(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, struct berth_meta_image_list *out);
int berth_registry_image_tags(struct berth_registry *r, const char *account, const char *repo,
                              const char *digest, struct berth_strlist *out);

/* Is tag immutable under this mutability setting (MUTABLE, IMMUTABLE, *_WITH_EXCLUSION) and
 * its exclusion filters (JSON array of {filterType: WILDCARD, filter})? A filter matches the
 * whole tag; `*` stands for any run of characters, including none. */
int berth_registry_tag_immutable(const char *mutability, const char *filters_json, const char *tag);

/* ---- blobs ---- */
/* A client that finds a blob here may reference it in a manifest without uploading it again.
 * So finding it also refreshes the link's time when it is older than half the garbage
 * collection grace (at most one write per link per grace/2), which keeps the link from the
 * sweep until the manifest arrives; a link the sweep took first is not found. */
int berth_registry_blob_stat(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, uint64_t *out_size);
/* A readable fd (caller closes) of a blob the repository may serve, and the repository's id
 * (for berth_registry_usage_note once the caller knows how many bytes it sends). */
int berth_registry_blob_open(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, int *out_fd, uint64_t *out_size,
                             int64_t *out_repo_id);
int berth_registry_blob_delete(struct berth_registry *r, const char *account, const char *repo,
                               const char *digest);
/* Links digest from repository `from` into repo. BERTH_ENOTFOUND when `from` cannot serve it
 * (the caller then starts a normal upload, as the spec says). */
int berth_registry_blob_mount(struct berth_registry *r, const char *account, const char *repo,
                              const char *from, const char *digest);

/* ---- uploads ---- */
#define BERTH_UPLOAD_ID_BUF (BERTH_UPLOAD_ID_LEN + 1)

/* One request's view of an upload session: load, append, then end or abort. */
struct berth_upload {
    char id[BERTH_UPLOAD_ID_BUF];
    char account[BERTH_ACCOUNT_BUF];
    char repo[256];
    uint64_t offset; /* bytes acknowledged plus bytes appended by this request */
    struct berth_sha256 hash;
    struct berth_blob_writer *w;
    int registered; /* counted in the active-uploads limit */
};

int berth_registry_upload_start(struct berth_registry *r, const char *account, const char *repo,
                                char out_id[BERTH_UPLOAD_ID_BUF]);
int berth_registry_upload_status(struct berth_registry *r, const char *account, const char *repo,
                                 const char *id, uint64_t *out_offset);
/* Opens the session for appending. If expect_start is not NULL the chunk must start at the
 * current offset: BERTH_ERANGE (with *out_offset) otherwise. BERTH_EUNAVAILABLE when the
 * active-uploads limit is reached, BERTH_ECONFLICT when another request is writing it. */
int berth_registry_upload_begin(struct berth_registry *r, const char *account, const char *repo,
                                const char *id, const uint64_t *expect_start,
                                struct berth_upload *u, uint64_t *out_offset);
int berth_registry_upload_write(struct berth_registry *r, struct berth_upload *u, const void *data,
                                size_t len);
/* Makes the appended bytes durable and records the new offset and hash state: after this the
 * chunk is acknowledged and survives a restart. */
int berth_registry_upload_end(struct berth_registry *r, struct berth_upload *u);
/* Verifies digest (and *expect_size if given), commits the blob and closes the session. On a
 * mismatch nothing is stored and the session is removed (BERTH_EINVALID, what DIGEST/SIZE). */
int berth_registry_upload_finish(struct berth_registry *r, struct berth_upload *u,
                                 const char *digest);
/* Drops what this request appended (the acknowledged offset stays). Safe to call twice. */
void berth_registry_upload_abort(struct berth_registry *r, struct berth_upload *u);
/* Is a request of this process writing or finishing the upload now? (Garbage collection
 * leaves those sessions alone whatever their age.) */
int berth_registry_upload_active(struct berth_registry *r, const char *id);
/* Removes the session and its bytes. */
int berth_registry_upload_cancel(struct berth_registry *r, const char *account, const char *repo,
                                 const char *id);
int berth_registry_upload_discard(struct berth_registry *r, struct berth_upload *u);

/* ---- manifests and tags ---- */
struct berth_put_result {
    char digest[BERTH_DIGEST_BUF];
    int has_subject;
    char subject[BERTH_DIGEST_BUF];
};
int berth_registry_manifest_put(struct berth_registry *r, const char *account, const char *repo,
                                const char *ref, const char *content_type, const char *body,
                                size_t len, struct berth_put_result *out);
/* Resolves ref (tag or digest) and returns the manifest with its body. */
int berth_registry_manifest_get(struct berth_registry *r, const char *account, const char *repo,
                                const char *ref, int with_body, struct berth_meta_manifest *out);
/* As manifest_get, for a client pulling it: also records the pull time (lastRecordedPullTime),
 * at most once per BERTH_PULL_RECORD_INTERVAL, and counts the pull and the manifest's bytes
 * for storage accounting. */
int berth_registry_manifest_pull(struct berth_registry *r, const char *account, const char *repo,
                                 const char *ref, int with_body, struct berth_meta_manifest *out);
/* ref is a tag: untag; ref is a digest: delete the manifest and every tag pointing at it. */
int berth_registry_manifest_delete(struct berth_registry *r, const char *account, const char *repo,
                                   const char *ref);
int berth_registry_tags(struct berth_registry *r, const char *account, const char *repo,
                        const char *last, int n, struct berth_strlist *out);
int berth_registry_catalog(struct berth_registry *r, const char *account, const char *last, int n,
                           struct berth_strlist *out);
int berth_registry_referrers(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, const char *artifact_type,
                             struct berth_meta_manifest_list *out);

/* ---- storage accounting ---- */
/* Counts pulls and bytes served by the repository today (the registry clock's day). Memory
 * only, under a mutex: the read paths call it and never wait for the store. */
void berth_registry_usage_note(struct berth_registry *r, int64_t repo_id, int64_t pulls,
                               int64_t bytes);
/* Adds what was counted since the last flush to the store (the server calls it every
 * BERTH_USAGE_FLUSH_INTERVAL seconds and at shutdown). When the write fails the counts are
 * kept for the next flush. Does nothing, and touches nothing, when there is nothing to add. */
int berth_registry_usage_flush(struct berth_registry *r);
/* Stored bytes of a repository: its distinct blobs once each plus its manifests. */
int berth_registry_repo_stored_bytes(struct berth_registry *r, int64_t repo_id, int64_t *out);
/* Every repository of the account with its storage and its traffic over the last
 * BERTH_USAGE_WINDOW_DAYS days of the registry clock, the account's totals and the registry's
 * physical bytes (release with berth_usage_report_dispose). */
int berth_registry_usage_report(struct berth_registry *r, const char *account,
                                struct berth_usage_report *out);

/* ---- fsck ---- */
struct berth_fsck_report {
    /* inconsistencies: what a client could trip over */
    uint64_t blobs_checked;
    uint64_t blobs_missing; /* metadata row without bytes */
    uint64_t blobs_corrupt; /* bytes that do not hash to their name or size */
    uint64_t manifests_checked;
    uint64_t manifests_corrupt; /* stored bytes that do not hash to the manifest's digest */
    uint64_t refs_dangling;     /* manifest references to content that is gone */
    uint64_t uploads_broken;    /* sessions whose acknowledged bytes are gone */
    /* garbage: invisible to clients, left by a crash at the wrong moment; reclaimable */
    uint64_t orphan_blobs;   /* bytes without a metadata row */
    uint64_t orphan_uploads; /* upload files without a session */
    uint64_t repaired;
};
/* Re-hashes every blob and manifest and checks every manifest reference; prints each finding
 * to out. With repair, removes what is inconsistent (and manifests that depend on it) and the
 * garbage. Meant to run with the server stopped (the data directory lock enforces it). */
int berth_registry_fsck(struct berth_registry *r, int repair, FILE *out,
                        struct berth_fsck_report *report);
static inline uint64_t berth_fsck_problems(const struct berth_fsck_report *f)
{
    return f->blobs_missing + f->blobs_corrupt + f->manifests_corrupt + f->refs_dangling +
           f->uploads_broken;
}
static inline uint64_t berth_fsck_garbage(const struct berth_fsck_report *f)
{
    return f->orphan_blobs + f->orphan_uploads;
}

#endif
