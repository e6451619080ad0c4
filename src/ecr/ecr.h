/*
 * ecr — the Amazon ECR control-plane API (AWS JSON 1.1 on `POST /`, X-Amz-Target
 * AmazonEC2ContainerRegistry_V20150921.<Operation>) and STS GetCallerIdentity (query protocol,
 * XML), on the same port as /v2/. dispatch.c is the map: one row per operation of botocore's
 * model, naming the handler and the IAM action it is authorized as. Handlers parse and format
 * the wire; semantics live in registry/ and auth/.
 */
#ifndef BERTH_ECR_ECR_H
#define BERTH_ECR_ECR_H

#include <jansson.h>
#include <stddef.h>

#include "auth/auth.h"
#include "http/http.h"
#include "lifecycle/lifecycle.h"
#include "registry/registry.h"

struct berth_ecr_ctx {
    struct berth_registry *registry;
    struct berth_auth *auth;
    const char *public_url;                   /* "" : derived from the request's Host */
    struct berth_lifecycle_worker *lifecycle; /* woken by StartLifecyclePolicyPreview */
};

extern const struct berth_route berth_ecr_routes[];
extern const size_t berth_ecr_nroutes;

/* ---- shared by the handler files ---- */

/* One ECR call: who, which registry, the input and the output being built. */
struct ecr_call {
    struct berth_req *req;
    struct berth_ecr_ctx *ctx;
    struct berth_principal who;
    const char *op;
    json_t *in;
    json_t *out;
    char account[BERTH_ACCOUNT_BUF]; /* the registry addressed: registryId or the caller's */
    int status;                      /* set with the error */
    char err_type[96];
    char err_msg[1024];
};

/* Records an error response (HTTP 400 unless it is ServerException); returns -1. */
int ecr_fail(struct ecr_call *c, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a Berth error code (with berth_err_what) to the ECR exception; returns -1. */
int ecr_fail_rc(struct ecr_call *c, int rc);

/* Input members. Each returns 0 (value or NULL/default when absent and optional) or -1 after
 * recording InvalidParameterException. */
int ecr_in_str(struct ecr_call *c, const char *member, int required, const char **out);
int ecr_in_bool(struct ecr_call *c, const char *member, int *out);
int ecr_in_int(struct ecr_call *c, const char *member, long long min, long long max,
               long long *out);
/* repositoryName, validated against ECR's pattern and length. */
int ecr_in_repo_name(struct ecr_call *c, const char **out);
/* filter.tagStatus: 1 TAGGED, 0 UNTAGGED, -1 ANY or absent. */
int ecr_in_tag_status(struct ecr_call *c, int *out);
/* imageIds: 1..ECR_IMAGE_IDS_MAX ImageIdentifier objects, or NULL when absent and optional. */
#define ECR_IMAGE_IDS_MAX 100
int ecr_in_image_ids(struct ecr_call *c, int required, json_t **out);
/* maxResults and nextToken for a page of names: 0 or -1. */
int ecr_in_page(struct ecr_call *c, int *out_max, const char **out_after);

/* Authenticates the request with SigV4 for service ("ecr", "sts") into c->who; 0 or -1 with
 * the AWS error recorded. */
int ecr_authenticate(struct ecr_call *c, const char *service);

/* Authorizes one more action (e.g. per repository of a listing); 0 or -1 (error recorded). */
int ecr_authorize(struct ecr_call *c, const char *action, const char *repo);

/* repositoryUri / proxyEndpoint host part: public-url or the request's Host. */
void ecr_registry_host(struct ecr_call *c, const char *account, char *out, size_t len);

/* JSON for a Repository shape. */
json_t *ecr_repository_json(struct ecr_call *c, const struct berth_meta_repo *r);

/* ---- operations (one file per API area) ---- */
int ecr_create_repository(struct ecr_call *c);
int ecr_describe_repositories(struct ecr_call *c);
int ecr_delete_repository(struct ecr_call *c);
int ecr_put_image_tag_mutability(struct ecr_call *c);
int ecr_put_image_scanning_configuration(struct ecr_call *c);
int ecr_tag_resource(struct ecr_call *c);
int ecr_untag_resource(struct ecr_call *c);
int ecr_list_tags_for_resource(struct ecr_call *c);
int ecr_set_repository_policy(struct ecr_call *c);
int ecr_get_repository_policy(struct ecr_call *c);
int ecr_delete_repository_policy(struct ecr_call *c);

int ecr_list_images(struct ecr_call *c);
int ecr_describe_images(struct ecr_call *c);
int ecr_batch_get_image(struct ecr_call *c);
int ecr_batch_delete_image(struct ecr_call *c);
int ecr_put_image(struct ecr_call *c);
int ecr_list_image_referrers(struct ecr_call *c);

int ecr_initiate_layer_upload(struct ecr_call *c);
int ecr_upload_layer_part(struct ecr_call *c);
int ecr_complete_layer_upload(struct ecr_call *c);
int ecr_batch_check_layer_availability(struct ecr_call *c);
int ecr_get_download_url_for_layer(struct ecr_call *c);

int ecr_put_lifecycle_policy(struct ecr_call *c);
int ecr_get_lifecycle_policy(struct ecr_call *c);
int ecr_delete_lifecycle_policy(struct ecr_call *c);
int ecr_start_lifecycle_policy_preview(struct ecr_call *c);
int ecr_get_lifecycle_policy_preview(struct ecr_call *c);

int ecr_get_authorization_token(struct ecr_call *c);
int ecr_describe_registry(struct ecr_call *c);
int ecr_put_registry_policy(struct ecr_call *c);
int ecr_get_registry_policy(struct ecr_call *c);
int ecr_delete_registry_policy(struct ecr_call *c);

/* STS GetCallerIdentity (query protocol): answers the request itself. */
void ecr_sts(struct berth_req *req, struct berth_ecr_ctx *ctx);

#endif
