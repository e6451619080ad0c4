/* GET/HEAD/DELETE /v2/<name>/blobs/<digest> — downloads go out with sendfile and honour a
 * single Range. */
#include <stdio.h>
#include <unistd.h>

#include "core/range.h"
#include "oci/oci.h"

static void blob_get_finish(struct berth_req *req)
{
    struct berth_registry *r = oci_ctx(req)->registry;
    const char *digest = OCI_ARG(req);
    char etag[BERTH_DIGEST_BUF + 2];
    uint64_t size;
    int rc;
    if (berth_req_is_head(req)) {
        if ((rc = berth_registry_blob_stat(r, OCI_ACCOUNT(req), OCI_NAME(req), digest, &size)) <
            0) {
            oci_error(req, rc);
            return;
        }
        berth_req_add_header(req, "Docker-Content-Digest", digest);
        berth_req_add_header(req, "Accept-Ranges", "bytes");
        berth_req_respond_length(req, 200, "application/octet-stream", size);
        return;
    }
    int fd;
    int64_t repo_id;
    if ((rc = berth_registry_blob_open(r, OCI_ACCOUNT(req), OCI_NAME(req), digest, &fd, &size,
                                       &repo_id)) < 0) {
        oci_error(req, rc);
        return;
    }
    snprintf(etag, sizeof(etag), "\"%s\"", digest);
    berth_req_add_header(req, "Docker-Content-Digest", digest);
    berth_req_add_header(req, "ETag", etag);
    berth_req_add_header(req, "Accept-Ranges", "bytes");
    berth_req_add_header(req, "Cache-Control", "max-age=31536000");
    uint64_t start, end;
    rc = berth_range_parse(berth_req_header(req, "Range"), size, &start, &end);
    if (rc == BERTH_ERANGE) {
        char cr[64];
        close(fd);
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
        berth_req_add_header(req, "Content-Range", cr);
        berth_req_respond(req, 416, NULL, NULL, 0);
        return;
    }
    /* Bytes served are counted when the response is queued (a download the client abandons
     * counts in full); a HEAD or a 416 serves nothing. */
    if (rc == 0) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
                 (unsigned long long)end, (unsigned long long)size);
        berth_req_add_header(req, "Content-Range", cr);
        berth_req_respond_fd(req, 206, "application/octet-stream", fd, start, end - start + 1);
        berth_registry_usage_note(r, repo_id, 0, (int64_t)(end - start + 1));
        return;
    }
    berth_req_respond_fd(req, 200, "application/octet-stream", fd, 0, size);
    berth_registry_usage_note(r, repo_id, 0, (int64_t)size);
}
const struct berth_handler oci_blob_get = {.finish = blob_get_finish};

static void blob_delete_finish(struct berth_req *req)
{
    int rc = berth_registry_blob_delete(oci_ctx(req)->registry, OCI_ACCOUNT(req), OCI_NAME(req),
                                        OCI_ARG(req));
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    berth_req_respond(req, 202, NULL, NULL, 0);
}
const struct berth_handler oci_blob_delete = {.finish = blob_delete_finish};
