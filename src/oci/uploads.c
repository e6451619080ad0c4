/*
 * Blob uploads: POST (start, monolithic ?digest=, cross-repository ?mount=&from=), PATCH
 * (chunked with Content-Range, or streamed without), PUT (finish, optionally with the last
 * chunk), GET (status) and DELETE (cancel) on /v2/<name>/blobs/uploads/<id>.
 *
 * Bytes are hashed and written as they arrive (registry/upload_write); a chunk is
 * acknowledged only after it is fsynced and its offset and hash state are committed, so a
 * 202 survives a crash and a chunk cut short leaves the session at its previous offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/range.h"
#include "oci/oci.h"

struct upload_state {
    struct berth_upload u;
    int open;     /* u is begun and must be ended, finished or aborted */
    int implicit; /* session created by this request (monolithic POST): discard on failure */
    int has_range;
    uint64_t range_start, range_end;
    uint64_t received;
    int failed;
    struct oci_saved_err err;
};

static struct upload_state *state_new(struct berth_req *req)
{
    struct upload_state *st = calloc(1, sizeof(*st));
    req->state = st;
    return st;
}

static void add_upload_headers(struct berth_req *req, const char *id, uint64_t offset)
{
    char location[512], range[64];
    snprintf(location, sizeof(location), "/v2/%s/blobs/uploads/%s", OCI_NAME(req), id);
    /* IMPLEMENTATION-OF distribution-spec: Range: 0-<offset>, inclusive; 0-0 when empty. */
    snprintf(range, sizeof(range), "0-%llu", (unsigned long long)(offset > 0 ? offset - 1 : 0));
    berth_req_add_header(req, "Location", location);
    berth_req_add_header(req, "Range", range);
    berth_req_add_header(req, "Docker-Upload-UUID", id);
    berth_req_add_header(req, "Blob-Upload-Session-ID", id);
}

static void respond_created(struct berth_req *req, const char *digest)
{
    char location[512];
    snprintf(location, sizeof(location), "/v2/%s/blobs/%s", OCI_NAME(req), digest);
    berth_req_add_header(req, "Location", location);
    berth_req_add_header(req, "Docker-Content-Digest", digest);
    berth_req_respond(req, 201, NULL, NULL, 0);
}

static void abandon(struct berth_req *req, struct upload_state *st)
{
    if (!st->open)
        return;
    struct berth_registry *r = oci_ctx(req)->registry;
    if (st->implicit)
        berth_registry_upload_discard(r, &st->u);
    else
        berth_registry_upload_abort(r, &st->u);
    st->open = 0;
}

/* Parses Content-Range and opens the session for appending. Responds on failure. */
static int begin_chunk(struct berth_req *req, struct upload_state *st)
{
    struct berth_registry *r = oci_ctx(req)->registry;
    const char *id = OCI_ARG(req);
    const char *cr = berth_req_header(req, "Content-Range");
    uint64_t offset = 0;
    int rc;
    if (cr) {
        if (berth_content_range_parse(cr, &st->range_start, &st->range_end) < 0) {
            if ((rc = berth_registry_upload_status(r, OCI_ACCOUNT(req), OCI_NAME(req), id,
                                                   &offset)) < 0) {
                oci_error(req, rc);
                return -1;
            }
            add_upload_headers(req, id, offset);
            berth_err_set(BERTH_EINVALID, BERTH_WHAT_RANGE, "invalid Content-Range %.64s", cr);
            oci_error(req, BERTH_EINVALID);
            return -1;
        }
        st->has_range = 1;
        const char *cl = berth_req_header(req, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) != st->range_end - st->range_start + 1) {
            berth_err_set(BERTH_EINVALID, BERTH_WHAT_SIZE,
                          "Content-Length does not match Content-Range");
            oci_error(req, BERTH_EINVALID);
            return -1;
        }
    }
    rc = berth_registry_upload_begin(r, OCI_ACCOUNT(req), OCI_NAME(req), id,
                                     st->has_range ? &st->range_start : NULL, &st->u, &offset);
    if (rc < 0) {
        if (rc == BERTH_ERANGE)
            add_upload_headers(req, id, offset);
        oci_error(req, rc);
        return -1;
    }
    st->open = 1;
    return 0;
}

static int upload_data(struct berth_req *req, const char *data, size_t len)
{
    struct upload_state *st = req->state;
    if (!st || !st->open || st->failed)
        return -1;
    st->received += len;
    if (st->has_range && st->received > st->range_end - st->range_start + 1) {
        berth_err_set(BERTH_EINVALID, BERTH_WHAT_SIZE, "more bytes than Content-Range announced");
        oci_err_save(&st->err, BERTH_EINVALID);
        st->failed = 1;
        return -1;
    }
    int rc = berth_registry_upload_write(oci_ctx(req)->registry, &st->u, data, len);
    if (rc < 0) {
        oci_err_save(&st->err, rc);
        st->failed = 1;
        return -1;
    }
    return 0;
}

/* Common checks once the body is in. Responds and returns -1 on failure. */
static int body_complete(struct berth_req *req, struct upload_state *st)
{
    if (!st || !st->open)
        return -1;
    if (st->failed) {
        abandon(req, st);
        oci_err_restore(&st->err);
        oci_error(req, st->err.rc);
        return -1;
    }
    if (st->has_range && st->received != st->range_end - st->range_start + 1) {
        abandon(req, st);
        berth_err_set(BERTH_EINVALID, BERTH_WHAT_SIZE,
                      "received %llu bytes, Content-Range says %llu",
                      (unsigned long long)st->received,
                      (unsigned long long)(st->range_end - st->range_start + 1));
        oci_error(req, BERTH_EINVALID);
        return -1;
    }
    return 0;
}

static void upload_cleanup(struct berth_req *req, int ok)
{
    struct upload_state *st = req->state;
    if (!st)
        return;
    abandon(req, st); /* the client went away mid-body, or an error path left it open */
    free(st);
    req->state = NULL;
}

/* ---- POST /v2/<name>/blobs/uploads/ ---- */

static void post_start(struct berth_req *req)
{
    struct berth_registry *r = oci_ctx(req)->registry;
    const char *mount = berth_req_query(req, "mount");
    const char *from = berth_req_query(req, "from");
    const char *digest = berth_req_query(req, "digest");
    char id[BERTH_UPLOAD_ID_BUF];
    int rc;

    /* Mounting reads the source repository: the caller must be allowed to pull from it, or
     * the mount quietly becomes an ordinary upload (no hint that the blob exists there). */
    if (mount && from && oci_authorize(req, "ecr:GetDownloadUrlForLayer", from) == 0) {
        rc = berth_registry_blob_mount(r, OCI_ACCOUNT(req), OCI_NAME(req), from, mount);
        if (rc == 0) {
            respond_created(req, mount);
            return;
        }
        if (rc != BERTH_ENOTFOUND && berth_err_what() != BERTH_WHAT_DIGEST) {
            oci_error(req, rc);
            return;
        }
        /* IMPLEMENTATION-OF distribution-spec: a mount that cannot be done falls back to a
         * normal upload session (202). */
    }
    if ((rc = berth_registry_upload_start(r, OCI_ACCOUNT(req), OCI_NAME(req), id)) < 0) {
        oci_error(req, rc);
        return;
    }
    if (!digest) {
        add_upload_headers(req, id, 0);
        berth_req_respond(req, 202, NULL, NULL, 0);
        return;
    }
    /* Monolithic upload: the body is the whole blob. */
    struct upload_state *st = state_new(req);
    uint64_t offset;
    if (!st) {
        oci_error(req, BERTH_ENOMEM);
        return;
    }
    st->implicit = 1;
    rc = berth_registry_upload_begin(r, OCI_ACCOUNT(req), OCI_NAME(req), id, NULL, &st->u, &offset);
    if (rc < 0) {
        /* Discard directly: cancel would ask for an upload slot, which may be what ran out. */
        struct oci_saved_err e;
        struct berth_upload gone = {0};
        oci_err_save(&e, rc);
        memcpy(gone.id, id, BERTH_UPLOAD_ID_BUF);
        berth_registry_upload_discard(r, &gone);
        oci_err_restore(&e);
        oci_error(req, rc);
        return;
    }
    st->open = 1;
}

static void post_finish(struct berth_req *req)
{
    struct upload_state *st = req->state;
    if (body_complete(req, st) < 0)
        return;
    const char *digest = berth_req_query(req, "digest");
    st->open = 0;
    int rc = berth_registry_upload_finish(oci_ctx(req)->registry, &st->u, digest);
    if (rc < 0) {
        /* The session was implicit: whatever failed, nothing of it may stay behind. */
        struct oci_saved_err e;
        oci_err_save(&e, rc);
        berth_registry_upload_discard(oci_ctx(req)->registry, &st->u);
        oci_err_restore(&e);
        oci_error(req, rc);
        return;
    }
    respond_created(req, digest);
}

const struct berth_handler oci_upload_post = {.body = BERTH_BODY_STREAM,
                                              .start = post_start,
                                              .data = upload_data,
                                              .finish = post_finish,
                                              .cleanup = upload_cleanup};

/* ---- PATCH /v2/<name>/blobs/uploads/<id> ---- */

static void patch_start(struct berth_req *req)
{
    struct upload_state *st = state_new(req);
    if (!st) {
        oci_error(req, BERTH_ENOMEM);
        return;
    }
    begin_chunk(req, st);
}

static void patch_finish(struct berth_req *req)
{
    struct upload_state *st = req->state;
    if (body_complete(req, st) < 0)
        return;
    st->open = 0;
    int rc = berth_registry_upload_end(oci_ctx(req)->registry, &st->u);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    add_upload_headers(req, st->u.id, st->u.offset);
    berth_req_respond(req, 202, NULL, NULL, 0);
}

const struct berth_handler oci_upload_patch = {.body = BERTH_BODY_STREAM,
                                               .start = patch_start,
                                               .data = upload_data,
                                               .finish = patch_finish,
                                               .cleanup = upload_cleanup};

/* ---- PUT /v2/<name>/blobs/uploads/<id>?digest= ---- */

static void put_start(struct berth_req *req)
{
    const char *digest = berth_req_query(req, "digest");
    if (!digest || !*digest) {
        oci_error_code(req, 400, "DIGEST_INVALID", "the digest query parameter is required");
        return;
    }
    struct upload_state *st = state_new(req);
    if (!st) {
        oci_error(req, BERTH_ENOMEM);
        return;
    }
    begin_chunk(req, st);
}

static void put_finish(struct berth_req *req)
{
    struct upload_state *st = req->state;
    if (body_complete(req, st) < 0)
        return;
    const char *digest = berth_req_query(req, "digest");
    st->open = 0;
    int rc = berth_registry_upload_finish(oci_ctx(req)->registry, &st->u, digest);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    respond_created(req, digest);
}

const struct berth_handler oci_upload_put = {.body = BERTH_BODY_STREAM,
                                             .start = put_start,
                                             .data = upload_data,
                                             .finish = put_finish,
                                             .cleanup = upload_cleanup};

/* ---- GET and DELETE /v2/<name>/blobs/uploads/<id> ---- */

static void status_finish(struct berth_req *req)
{
    uint64_t offset;
    int rc = berth_registry_upload_status(oci_ctx(req)->registry, OCI_ACCOUNT(req), OCI_NAME(req),
                                          OCI_ARG(req), &offset);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    add_upload_headers(req, OCI_ARG(req), offset);
    berth_req_respond(req, 204, NULL, NULL, 0);
}
const struct berth_handler oci_upload_status = {.finish = status_finish};

static void cancel_finish(struct berth_req *req)
{
    int rc = berth_registry_upload_cancel(oci_ctx(req)->registry, OCI_ACCOUNT(req), OCI_NAME(req),
                                          OCI_ARG(req));
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    berth_req_respond(req, 204, NULL, NULL, 0);
}
const struct berth_handler oci_upload_cancel = {.finish = cancel_finish};
