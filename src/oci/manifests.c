/* GET/HEAD/PUT/DELETE /v2/<name>/manifests/<ref> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/oci.h"

static void manifest_get_finish(struct berth_req *req)
{
    struct berth_meta_manifest m;
    int head = berth_req_is_head(req);
    /* A GET is a pull (it records lastRecordedPullTime); a HEAD only asks. */
    int rc = head ? berth_registry_manifest_get(oci_ctx(req)->registry, OCI_ACCOUNT(req),
                                                OCI_NAME(req), OCI_ARG(req), 0, &m)
                  : berth_registry_manifest_pull(oci_ctx(req)->registry, OCI_ACCOUNT(req),
                                                 OCI_NAME(req), OCI_ARG(req), 1, &m);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    char etag[BERTH_DIGEST_BUF + 2];
    snprintf(etag, sizeof(etag), "\"%s\"", m.digest);
    berth_req_add_header(req, "Docker-Content-Digest", m.digest);
    berth_req_add_header(req, "ETag", etag);
    if (head) {
        berth_req_respond_length(req, 200, m.media_type, (uint64_t)m.size);
    } else {
        berth_req_respond_owned(req, 200, m.media_type, m.body, m.body_len);
        m.body = NULL;
    }
    berth_meta_manifest_dispose(&m);
}
const struct berth_handler oci_manifest_get = {.finish = manifest_get_finish};

static void manifest_put_start(struct berth_req *req)
{
    size_t max = oci_ctx(req)->manifest_max;
    req->body_max = max;
    const char *cl = berth_req_header(req, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > max) {
        berth_err_set(BERTH_ETOOBIG, BERTH_WHAT_MANIFEST, "manifest is larger than %zu bytes", max);
        oci_error(req, BERTH_ETOOBIG);
    }
}

static void manifest_put_finish(struct berth_req *req)
{
    struct berth_oci_ctx *ctx = oci_ctx(req);
    if (req->body_too_big) {
        berth_err_set(BERTH_ETOOBIG, BERTH_WHAT_MANIFEST, "manifest is larger than %zu bytes",
                      ctx->manifest_max);
        oci_error(req, BERTH_ETOOBIG);
        return;
    }
    struct berth_put_result res;
    int rc = berth_registry_manifest_put(ctx->registry, OCI_ACCOUNT(req), OCI_NAME(req),
                                         OCI_ARG(req), berth_req_header(req, "Content-Type"),
                                         req->body.data ? req->body.data : "", req->body.len, &res);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    char location[512];
    snprintf(location, sizeof(location), "/v2/%s/manifests/%s", OCI_NAME(req), res.digest);
    berth_req_add_header(req, "Location", location);
    berth_req_add_header(req, "Docker-Content-Digest", res.digest);
    if (res.has_subject)
        berth_req_add_header(req, "OCI-Subject", res.subject);
    berth_req_respond(req, 201, NULL, NULL, 0);
}
const struct berth_handler oci_manifest_put = {
    .body = BERTH_BODY_BUFFER, .start = manifest_put_start, .finish = manifest_put_finish};

static void manifest_delete_finish(struct berth_req *req)
{
    int rc = berth_registry_manifest_delete(oci_ctx(req)->registry, OCI_ACCOUNT(req), OCI_NAME(req),
                                            OCI_ARG(req));
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    berth_req_respond(req, 202, NULL, NULL, 0);
}
const struct berth_handler oci_manifest_delete = {.finish = manifest_delete_finish};
