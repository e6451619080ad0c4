/* GET /v2/<name>/referrers/<digest>[?artifactType=] — an image index of the manifests whose
 * subject is <digest>. */
#include <jansson.h>
#include <string.h>

#include "oci/oci.h"

static void referrers_finish(struct berth_req *req)
{
    const char *filter = berth_req_query(req, "artifactType");
    if (filter && !*filter)
        filter = NULL;
    struct berth_meta_manifest_list list;
    int rc = berth_registry_referrers(oci_ctx(req)->registry, OCI_ACCOUNT(req), OCI_NAME(req),
                                      OCI_ARG(req), filter, &list);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < list.n; i++) {
        struct berth_meta_manifest *m = &list.items[i];
        json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", m->media_type, "digest", m->digest,
                              "size", (json_int_t)m->size);
        /* IMPLEMENTATION-OF distribution-spec: artifactType is the manifest's artifactType, or
         * its config.mediaType when it has none. */
        const char *at = m->artifact_type ? m->artifact_type : m->config_media_type;
        if (at)
            json_object_set_new(d, "artifactType", json_string(at));
        if (m->annotations) {
            json_t *ann = json_loads(m->annotations, 0, NULL);
            if (ann)
                json_object_set_new(d, "annotations", ann);
        }
        json_array_append_new(arr, d);
    }
    berth_meta_manifest_list_dispose(&list);
    json_t *root = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", BERTH_MT_OCI_INDEX,
                             "manifests", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (filter)
        berth_req_add_header(req, "OCI-Filters-Applied", "artifactType");
    berth_req_respond_owned(req, 200, BERTH_MT_OCI_INDEX, s, strlen(s));
}
const struct berth_handler oci_referrers = {.finish = referrers_finish};
