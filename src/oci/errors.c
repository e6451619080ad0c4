/*
 * The one table that turns Berth error codes into OCI wire errors (distribution's errcode
 * registry). docs/errors.md lists the same mapping for operators.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "oci/oci.h"

struct oci_error_row {
    int rc;
    enum berth_what what; /* BERTH_WHAT_NONE matches any */
    int status;
    const char *code;
};

/* First match wins; rows with a specific `what` come before the catch-alls. Every code is one
 * of the spec's fourteen ("the code field MUST be one of the following"); where none fits
 * exactly (a busy store, an internal error) the HTTP status carries the meaning. */
static const struct oci_error_row table[] = {
    {BERTH_EINVALID, BERTH_WHAT_NAME, 400, "NAME_INVALID"},
    {BERTH_ENOTFOUND, BERTH_WHAT_REPO, 404, "NAME_UNKNOWN"},
    {BERTH_ENOTFOUND, BERTH_WHAT_BLOB, 404, "BLOB_UNKNOWN"},
    {BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST, 404, "MANIFEST_UNKNOWN"},
    {BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST_REF, 400, "MANIFEST_BLOB_UNKNOWN"},
    {BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, 404, "BLOB_UPLOAD_UNKNOWN"},
    {BERTH_EINVALID, BERTH_WHAT_DIGEST, 400, "DIGEST_INVALID"},
    {BERTH_EUNSUPPORTED, BERTH_WHAT_DIGEST, 400, "DIGEST_INVALID"},
    {BERTH_EINVALID, BERTH_WHAT_TAG, 400, "MANIFEST_INVALID"},
    {BERTH_EINVALID, BERTH_WHAT_MANIFEST, 400, "MANIFEST_INVALID"},
    {BERTH_EUNSUPPORTED, BERTH_WHAT_MANIFEST, 400, "MANIFEST_INVALID"},
    {BERTH_ETOOBIG, BERTH_WHAT_MANIFEST, 413, "MANIFEST_INVALID"},
    {BERTH_ETOOBIG, BERTH_WHAT_SIZE, 413, "SIZE_INVALID"},
    {BERTH_EINVALID, BERTH_WHAT_SIZE, 400, "SIZE_INVALID"},
    {BERTH_EINVALID, BERTH_WHAT_RANGE, 416, "BLOB_UPLOAD_INVALID"},
    {BERTH_ERANGE, BERTH_WHAT_RANGE, 416, "BLOB_UPLOAD_INVALID"},
    {BERTH_EINVALID, BERTH_WHAT_UPLOAD, 400, "BLOB_UPLOAD_INVALID"},
    {BERTH_ECONFLICT, BERTH_WHAT_UPLOAD, 409, "BLOB_UPLOAD_INVALID"},
    {BERTH_EUNAVAILABLE, BERTH_WHAT_UPLOAD, 429, "TOOMANYREQUESTS"},
    {BERTH_ECONFLICT, BERTH_WHAT_NONE, 409, "DENIED"},
    {BERTH_EDENIED, BERTH_WHAT_NONE, 403, "DENIED"},
    {BERTH_ENOTFOUND, BERTH_WHAT_NONE, 404, "NAME_UNKNOWN"},
    {BERTH_EINVALID, BERTH_WHAT_NONE, 400, "UNSUPPORTED"},
    {BERTH_EUNSUPPORTED, BERTH_WHAT_NONE, 400, "UNSUPPORTED"},
    {BERTH_EUNAVAILABLE, BERTH_WHAT_NONE, 503, "TOOMANYREQUESTS"},
};

struct berth_oci_ctx *oci_ctx(struct berth_req *req)
{
    return req->app;
}

void oci_err_save(struct oci_saved_err *e, int rc)
{
    e->rc = rc;
    e->what = berth_err_what();
    snprintf(e->detail, sizeof(e->detail), "%s", berth_err_detail());
    snprintf(e->subject, sizeof(e->subject), "%s", berth_err_subject());
}

void oci_err_restore(const struct oci_saved_err *e)
{
    berth_err_set(e->rc, e->what, "%s", e->detail);
    if (e->subject[0])
        berth_err_set_subject(e->subject);
}

static void respond_error(struct berth_req *req, int status, const char *code, const char *message,
                          const char *digest)
{
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", message);
    if (digest && *digest)
        json_object_set_new(err, "detail", json_pack("{s:s}", "digest", digest));
    json_t *root = json_pack("{s:[o]}", "errors", err);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s) {
        berth_req_respond(req, 500, NULL, NULL, 0);
        return;
    }
    berth_req_respond_owned(req, status, "application/json", s, strlen(s));
}

void oci_error_code(struct berth_req *req, int status, const char *code, const char *message)
{
    respond_error(req, status, code, message, NULL);
}

void oci_error(struct berth_req *req, int rc)
{
    enum berth_what what = berth_err_what();
    const char *detail = berth_err_detail();
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct oci_error_row *row = &table[i];
        if (row->rc == rc && (row->what == BERTH_WHAT_NONE || row->what == what)) {
            respond_error(req, row->status, row->code, *detail ? detail : berth_err_name(rc),
                          berth_err_subject());
            return;
        }
    }
    /* I/O, memory and anything unexpected: the detail goes to the log, not the client. */
    berth_log(BERTH_LOG_ERROR, req->id, "%s %s failed: %s (%s)", req->method, req->path,
              berth_err_name(rc), detail);
    respond_error(req, 500, "UNSUPPORTED", "internal error; see the server log", NULL);
}

int oci_page_size(struct berth_req *req, int *out_n)
{
    const char *n = berth_req_query(req, "n");
    *out_n = BERTH_PAGE_DEFAULT;
    if (!n)
        return 0;
    char *end;
    long v = strtol(n, &end, 10);
    if (*n == '\0' || *end != '\0' || v < 0) {
        /* The spec's list of codes has none for a bad parameter; UNSUPPORTED is the closest. */
        oci_error_code(req, 400, "UNSUPPORTED", "n must be a non-negative integer");
        return -1;
    }
    *out_n = v > BERTH_PAGE_MAX ? BERTH_PAGE_MAX : (int)v;
    return 0;
}

void oci_link_next(struct berth_req *req, const char *path, const char *last, int n)
{
    char link[1024];
    snprintf(link, sizeof(link), "<%s?last=%s&n=%d>; rel=\"next\"", path, last, n);
    berth_req_add_header(req, "Link", link);
}
