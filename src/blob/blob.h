/*
 * blob — the content-addressed blob store interface.
 *
 * A vtable with a version field so the filesystem driver now and an S3 driver later share one
 * conformance suite. Blobs are immutable once committed; uploads are written to a temporary
 * object named by the upload id, then committed under their digest. The registry hashes the
 * bytes as they stream in and asks the store to commit only after the digest matched, so a
 * store never contains a blob whose name lies about its content.
 *
 * Garbage collection (src/gc, docs/gc.md) removes blobs while uploads complete, so a commit is
 * two steps: upload_commit places the bytes and keeps the upload, upload_release (after the
 * metadata row is committed) restores the blob if a sweep removed it in between and only then
 * drops the upload.
 */
#ifndef BERTH_BLOB_BLOB_H
#define BERTH_BLOB_BLOB_H

#include <stddef.h>
#include <stdint.h>

/* 2: upload_commit keeps the upload until upload_release; mtime and upload_mtime. */
#define BERTH_BLOB_OPS_VERSION 2

struct berth_blob_writer; /* an open upload being appended to */

typedef int (*berth_blob_iter_cb)(void *ctx, const char *digest, uint64_t size);

struct berth_blob_ops {
    int version;
    void (*close)(void *impl);
    int (*stat)(void *impl, const char *digest, uint64_t *out_size);
    /* A read-only fd positioned at 0 (the caller closes it): lets the HTTP layer sendfile. */
    int (*open_read)(void *impl, const char *digest, int *out_fd, uint64_t *out_size);
    /* Not an error when the blob is already gone (a repeated garbage collection pass). */
    int (*remove)(void *impl, const char *digest);
    int (*iterate)(void *impl, berth_blob_iter_cb cb, void *ctx);
    /* When the blob's bytes were last written or committed (epoch seconds): garbage
     * collection leaves files younger than its grace alone. BERTH_ENOTFOUND when not stored. */
    int (*mtime)(void *impl, const char *digest, int64_t *out_mtime);

    /* Opens upload `id` for appending at `offset`, creating it when offset is 0 and discarding
     * any bytes past offset (left by a chunk that was never acknowledged). BERTH_ENOTFOUND when
     * the upload has fewer than `offset` bytes (lost in a power failure). */
    int (*upload_open)(void *impl, const char *id, uint64_t offset, struct berth_blob_writer **out);
    int (*upload_write)(struct berth_blob_writer *w, const void *data, size_t len);
    /* Makes everything written so far durable (commit does it anyway; for callers that need
     * a durable point in the middle of an upload). */
    int (*upload_sync)(struct berth_blob_writer *w);
    void (*upload_close)(struct berth_blob_writer *w);
    /* Durably stores the upload's bytes under `digest` and KEEPS the upload: garbage collection
     * may remove a blob that no metadata row records yet, which is exactly the state between
     * this call and the commit of the row, so the bytes must stay recoverable until then. If
     * the blob already exists it is left as it is: a committed blob is never rewritten.
     * BERTH_ENOTFOUND (what UPLOAD) when the upload has no bytes (it expired). */
    int (*upload_commit)(void *impl, const char *id, const char *digest);
    /* Called once the metadata row that makes `digest` visible is committed: stores the blob
     * again from the upload if a garbage collection removed it after upload_commit (durably),
     * then removes the upload. From then on the row protects the blob. */
    int (*upload_release)(void *impl, const char *id, const char *digest);
    int (*upload_remove)(void *impl, const char *id);
    int (*upload_size)(void *impl, const char *id, uint64_t *out_size);
    /* When the upload's bytes were last written (epoch seconds); BERTH_ENOTFOUND without a
     * file. A long PATCH keeps this fresh while its session row stays untouched. */
    int (*upload_mtime)(void *impl, const char *id, int64_t *out_mtime);
    int (*upload_iterate)(void *impl, int (*cb)(void *ctx, const char *id), void *ctx);
};

struct berth_blob_store {
    const struct berth_blob_ops *ops;
    void *impl;
};

/* The filesystem driver rooted at dir (created if missing). */
int berth_blob_fs_open(struct berth_blob_store **out, const char *dir);
void berth_blob_close(struct berth_blob_store *s);

/* Re-hashes a stored blob: 0 and *out_ok set when the blob could be read. */
int berth_blob_verify(struct berth_blob_store *s, const char *digest, uint64_t *out_size,
                      int *out_ok);

#endif
