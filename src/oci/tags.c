/* GET /v2/<name>/tags/list with n/last pagination. */
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
    size_t shown = tags.n > (size_t)n ? (size_t)n : tags.n;
    if (tags.n > (size_t)n && n > 0) {
        char path[512];
        snprintf(path, sizeof(path), "/v2/%s/tags/list", OCI_NAME(req));
        oci_link_next(req, path, tags.items[n - 1], n);
    }
    oci_respond_list(req, OCI_NAME(req), "tags", tags.items, shown);
    berth_strlist_dispose(&tags);
}
const struct berth_handler oci_tags_list = {.finish = tags_finish};
