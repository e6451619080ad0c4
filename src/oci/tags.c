/* GET /v2/<name>/tags/list with n/last pagination. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "oci/oci.h"

static void tags_finish(struct berth_req *req)
{
    int n;
    if (oci_page_size(req, &n) < 0)
        return;
    struct berth_strlist tags = {0};
    const char *last = berth_req_query(req, "last");
    int rc = berth_registry_tags(oci_ctx(req)->registry, OCI_ACCOUNT(req), OCI_NAME(req), last,
                                 n + 1, &tags);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    json_t *arr = json_array();
    size_t shown = tags.n > (size_t)n ? (size_t)n : tags.n;
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(arr, json_string(tags.items[i]));
    if (tags.n > (size_t)n && n > 0) {
        char path[512];
        snprintf(path, sizeof(path), "/v2/%s/tags/list", OCI_NAME(req));
        oci_link_next(req, path, tags.items[n - 1], n);
    }
    json_t *root = json_pack("{s:s,s:o}", "name", OCI_NAME(req), "tags", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    berth_strlist_dispose(&tags);
    berth_req_respond_owned(req, 200, "application/json", s, strlen(s));
}
const struct berth_handler oci_tags_list = {.finish = tags_finish};
