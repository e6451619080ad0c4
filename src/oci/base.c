/* GET /v2/ (version check), GET /v2/_catalog, and the answer for paths no route knows. */
#include <jansson.h>
#include <string.h>

#include "oci/oci.h"

static void base_finish(struct berth_req *req)
{
    berth_req_respond(req, 200, "application/json", "{}", 2);
}
const struct berth_handler oci_base = {.finish = base_finish};

static void fallback_finish(struct berth_req *req)
{
    if (req->route_miss == 431)
        oci_error_code(req, 431, "UNSUPPORTED", "request headers are too large");
    else if (req->route_miss == 405)
        oci_error_code(req, 405, "UNSUPPORTED", "method not allowed on this endpoint");
    else
        oci_error_code(req, 404, "UNSUPPORTED", "no such endpoint");
}
/* Answers in start, so a body sent to an unknown endpoint is never read. */
const struct berth_handler berth_oci_fallback = {.start = fallback_finish};

static void catalog_finish(struct berth_req *req)
{
    int n;
    if (oci_page_size(req, &n) < 0)
        return;
    struct berth_strlist names = {0};
    const char *last = berth_req_query(req, "last");
    /* one more than asked, to know whether a next page exists */
    int rc = berth_registry_catalog(oci_ctx(req)->registry, OCI_ACCOUNT(req), last, n + 1, &names);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    json_t *arr = json_array();
    size_t shown = names.n > (size_t)n ? (size_t)n : names.n;
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(arr, json_string(names.items[i]));
    if (names.n > (size_t)n && n > 0)
        oci_link_next(req, "/v2/_catalog", names.items[n - 1], n);
    json_t *root = json_pack("{s:o}", "repositories", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    berth_strlist_dispose(&names);
    berth_req_respond_owned(req, 200, "application/json", s, strlen(s));
}
const struct berth_handler oci_catalog = {.finish = catalog_finish};
