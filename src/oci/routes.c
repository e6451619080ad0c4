/*
 * The map of the OCI Distribution API v1.1: one line per endpoint, in the spec's end-N order.
 * `grep manifests src/oci/routes.c` leads to the handler. The last column is the ECR action the
 * gate (auth.c) authorizes, as ECR maps registry calls to IAM actions; NULL: any valid
 * credentials.
 */
#include "oci/oci.h"

extern const struct berth_handler oci_base;
extern const struct berth_handler oci_catalog;
extern const struct berth_handler oci_blob_get;
extern const struct berth_handler oci_blob_delete;
extern const struct berth_handler oci_upload_post;
extern const struct berth_handler oci_upload_status;
extern const struct berth_handler oci_upload_patch;
extern const struct berth_handler oci_upload_put;
extern const struct berth_handler oci_upload_cancel;
extern const struct berth_handler oci_manifest_get;
extern const struct berth_handler oci_manifest_put;
extern const struct berth_handler oci_manifest_delete;
extern const struct berth_handler oci_tags_list;
extern const struct berth_handler oci_referrers;

const struct berth_route berth_oci_routes[] = {
    /* end-1  */ {"GET", "/v2/", &oci_base, NULL},
    /* end-1  */ {"GET", "/v2", &oci_base, NULL},
    /*        */ {"GET", "/v2/_catalog", &oci_catalog, "ecr:DescribeRepositories"},
    /* end-2  */ {"GET", "/v2/<name>/blobs/<digest>", &oci_blob_get, "ecr:GetDownloadUrlForLayer"},
    /* end-2  */
    {"HEAD", "/v2/<name>/blobs/<digest>", &oci_blob_get, "ecr:BatchCheckLayerAvailability"},
    /* end-3  */ {"GET", "/v2/<name>/manifests/<ref>", &oci_manifest_get, "ecr:BatchGetImage"},
    /* end-3  */ {"HEAD", "/v2/<name>/manifests/<ref>", &oci_manifest_get, "ecr:BatchGetImage"},
    /* end-4a */ {"POST", "/v2/<name>/blobs/uploads/", &oci_upload_post, "ecr:InitiateLayerUpload"},
    /* end-4a */ {"POST", "/v2/<name>/blobs/uploads", &oci_upload_post, "ecr:InitiateLayerUpload"},
    /* end-4b */ /* POST ?digest= (monolithic) is the same route */
                 /* end-5  */
    {"PATCH", "/v2/<name>/blobs/uploads/<id>", &oci_upload_patch, "ecr:UploadLayerPart"},
    /* end-6  */
    {"PUT", "/v2/<name>/blobs/uploads/<id>", &oci_upload_put, "ecr:CompleteLayerUpload"},
    /* end-7  */ {"PUT", "/v2/<name>/manifests/<ref>", &oci_manifest_put, "ecr:PutImage"},
    /* end-8  */ {"GET", "/v2/<name>/tags/list", &oci_tags_list, "ecr:ListImages"},
    /* end-9  */
    {"DELETE", "/v2/<name>/manifests/<ref>", &oci_manifest_delete, "ecr:BatchDeleteImage"},
    /* end-10 */ {"DELETE", "/v2/<name>/blobs/<digest>", &oci_blob_delete, "ecr:BatchDeleteImage"},
    /* end-11 */ /* POST ?mount=&from= is the upload route */
    /* end-12 */ {"GET", "/v2/<name>/referrers/<digest>", &oci_referrers, "ecr:BatchGetImage"},
    /* end-13 */
    {"GET", "/v2/<name>/blobs/uploads/<id>", &oci_upload_status, "ecr:UploadLayerPart"},
    /*        */
    {"DELETE", "/v2/<name>/blobs/uploads/<id>", &oci_upload_cancel, "ecr:UploadLayerPart"},
};
const size_t berth_oci_nroutes = sizeof(berth_oci_routes) / sizeof(berth_oci_routes[0]);
