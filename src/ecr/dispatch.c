/*
 * The map of the ECR API: `POST /` with X-Amz-Target names the operation; this table names its
 * handler and the IAM action it is authorized as. `grep PutLifecyclePolicy src/ecr/dispatch.c`
 * leads to the row. Every operation of botocore's ECR model (2015-09-21) has a row; those
 * that belong to later work answer UnsupportedOperationException naming what is missing,
 * never a fake success.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/digest.h"
#include "core/err.h"
#include "core/log.h"
#include "core/name.h"
#include "ecr/ecr.h"

#define TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921."
#define ECR_BODY_MAX (32u * 1024 * 1024) /* UploadLayerPart: 20 MiB of base64 in JSON */
#define STS_BODY_MAX (64u * 1024)

struct ecr_op {
    const char *name;
    int (*fn)(struct ecr_call *c);
    const char *action;  /* IAM action; the repository comes from repositoryName if any */
    const char *missing; /* fn NULL: what Berth does not do yet */
};

#define LATER_SCAN "image scanning is not implemented yet"
#define LATER_REPL "replication is not implemented yet"
#define LATER_PTC "pull-through cache is not implemented yet"
#define LATER_TMPL "repository creation templates are not implemented yet"
#define LATER_SIGN "managed signing is not implemented yet"
#define LATER_ARCHIVE "archive storage is not implemented"
#define LATER_SETTINGS "account settings are not implemented yet"
#define LATER_PULLTIME "pull-time update exclusions are not implemented yet"

static const struct ecr_op ops[] = {
    /* repositories */
    {"CreateRepository", ecr_create_repository, "ecr:CreateRepository", NULL},
    /* DescribeRepositories authorizes each named repository (or repository/ * for a listing) */
    {"DescribeRepositories", ecr_describe_repositories, NULL, NULL},
    {"DeleteRepository", ecr_delete_repository, "ecr:DeleteRepository", NULL},
    {"PutImageTagMutability", ecr_put_image_tag_mutability, "ecr:PutImageTagMutability", NULL},
    {"PutImageScanningConfiguration", ecr_put_image_scanning_configuration,
     "ecr:PutImageScanningConfiguration", NULL},
    /* the tag operations authorize against the repository named by resourceArn */
    {"TagResource", ecr_tag_resource, NULL, NULL},
    {"UntagResource", ecr_untag_resource, NULL, NULL},
    {"ListTagsForResource", ecr_list_tags_for_resource, NULL, NULL},
    {"CreateRepositoryCreationTemplate", NULL, NULL, LATER_TMPL},
    {"DescribeRepositoryCreationTemplates", NULL, NULL, LATER_TMPL},
    {"UpdateRepositoryCreationTemplate", NULL, NULL, LATER_TMPL},
    {"DeleteRepositoryCreationTemplate", NULL, NULL, LATER_TMPL},
    /* images */
    {"PutImage", ecr_put_image, "ecr:PutImage", NULL},
    {"BatchGetImage", ecr_batch_get_image, "ecr:BatchGetImage", NULL},
    {"BatchDeleteImage", ecr_batch_delete_image, "ecr:BatchDeleteImage", NULL},
    {"ListImages", ecr_list_images, "ecr:ListImages", NULL},
    {"DescribeImages", ecr_describe_images, "ecr:DescribeImages", NULL},
    {"ListImageReferrers", ecr_list_image_referrers, "ecr:ListImageReferrers", NULL},
    {"UpdateImageStorageClass", NULL, NULL, LATER_ARCHIVE},
    /* layers */
    {"InitiateLayerUpload", ecr_initiate_layer_upload, "ecr:InitiateLayerUpload", NULL},
    {"UploadLayerPart", ecr_upload_layer_part, "ecr:UploadLayerPart", NULL},
    {"CompleteLayerUpload", ecr_complete_layer_upload, "ecr:CompleteLayerUpload", NULL},
    {"BatchCheckLayerAvailability", ecr_batch_check_layer_availability,
     "ecr:BatchCheckLayerAvailability", NULL},
    {"GetDownloadUrlForLayer", ecr_get_download_url_for_layer, "ecr:GetDownloadUrlForLayer", NULL},
    /* authentication and policies */
    {"GetAuthorizationToken", ecr_get_authorization_token, "ecr:GetAuthorizationToken", NULL},
    {"SetRepositoryPolicy", ecr_set_repository_policy, "ecr:SetRepositoryPolicy", NULL},
    {"GetRepositoryPolicy", ecr_get_repository_policy, "ecr:GetRepositoryPolicy", NULL},
    {"DeleteRepositoryPolicy", ecr_delete_repository_policy, "ecr:DeleteRepositoryPolicy", NULL},
    {"PutRegistryPolicy", ecr_put_registry_policy, "ecr:PutRegistryPolicy", NULL},
    {"GetRegistryPolicy", ecr_get_registry_policy, "ecr:GetRegistryPolicy", NULL},
    {"DeleteRegistryPolicy", ecr_delete_registry_policy, "ecr:DeleteRegistryPolicy", NULL},
    {"DescribeRegistry", ecr_describe_registry, "ecr:DescribeRegistry", NULL},
    /* lifecycle */
    {"PutLifecyclePolicy", ecr_put_lifecycle_policy, "ecr:PutLifecyclePolicy", NULL},
    {"GetLifecyclePolicy", ecr_get_lifecycle_policy, "ecr:GetLifecyclePolicy", NULL},
    {"DeleteLifecyclePolicy", ecr_delete_lifecycle_policy, "ecr:DeleteLifecyclePolicy", NULL},
    {"StartLifecyclePolicyPreview", ecr_start_lifecycle_policy_preview,
     "ecr:StartLifecyclePolicyPreview", NULL},
    {"GetLifecyclePolicyPreview", ecr_get_lifecycle_policy_preview, "ecr:GetLifecyclePolicyPreview",
     NULL},
    /* scanning */
    {"StartImageScan", NULL, NULL, LATER_SCAN},
    {"DescribeImageScanFindings", NULL, NULL, LATER_SCAN},
    {"PutRegistryScanningConfiguration", NULL, NULL, LATER_SCAN},
    {"GetRegistryScanningConfiguration", NULL, NULL, LATER_SCAN},
    {"BatchGetRepositoryScanningConfiguration", NULL, NULL, LATER_SCAN},
    /* replication */
    {"PutReplicationConfiguration", NULL, NULL, LATER_REPL},
    {"DescribeImageReplicationStatus", NULL, NULL, LATER_REPL},
    /* pull-through cache */
    {"CreatePullThroughCacheRule", NULL, NULL, LATER_PTC},
    {"DescribePullThroughCacheRules", NULL, NULL, LATER_PTC},
    {"DeletePullThroughCacheRule", NULL, NULL, LATER_PTC},
    {"UpdatePullThroughCacheRule", NULL, NULL, LATER_PTC},
    {"ValidatePullThroughCacheRule", NULL, NULL, LATER_PTC},
    {"GetAccountSetting", NULL, NULL, LATER_SETTINGS},
    {"PutAccountSetting", NULL, NULL, LATER_SETTINGS},
    {"RegisterPullTimeUpdateExclusion", NULL, NULL, LATER_PULLTIME},
    {"DeregisterPullTimeUpdateExclusion", NULL, NULL, LATER_PULLTIME},
    {"ListPullTimeUpdateExclusions", NULL, NULL, LATER_PULLTIME},
    /* signing */
    {"PutSigningConfiguration", NULL, NULL, LATER_SIGN},
    {"GetSigningConfiguration", NULL, NULL, LATER_SIGN},
    {"DeleteSigningConfiguration", NULL, NULL, LATER_SIGN},
    {"DescribeImageSigningStatus", NULL, NULL, LATER_SIGN},
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* ---- errors ---- */

int ecr_fail(struct ecr_call *c, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
    va_end(ap);
    snprintf(c->err_type, sizeof(c->err_type), "%s", type);
    c->status = strcmp(type, "ServerException") == 0 ? 500 : 400;
    return -1;
}

/* The one table from Berth codes to ECR exceptions (docs/errors.md lists it). */
struct ecr_error_row {
    int rc;
    enum berth_what what; /* BERTH_WHAT_NONE matches any */
    const char *type;
};
static const struct ecr_error_row error_table[] = {
    {BERTH_ENOTFOUND, BERTH_WHAT_REPO, "RepositoryNotFoundException"},
    {BERTH_EEXISTS, BERTH_WHAT_REPO, "RepositoryAlreadyExistsException"},
    {BERTH_ECONFLICT, BERTH_WHAT_REPO, "RepositoryNotEmptyException"},
    {BERTH_EINVALID, BERTH_WHAT_NAME, "InvalidParameterException"},
    {BERTH_EDENIED, BERTH_WHAT_NONE, "AccessDeniedException"},
    {BERTH_EINVALID, BERTH_WHAT_NONE, "InvalidParameterException"},
    {BERTH_EUNAVAILABLE, BERTH_WHAT_NONE, "LimitExceededException"},
};

int ecr_fail_rc(struct ecr_call *c, int rc)
{
    enum berth_what what = berth_err_what();
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++) {
        const struct ecr_error_row *row = &error_table[i];
        if (row->rc == rc && (row->what == BERTH_WHAT_NONE || row->what == what))
            return ecr_fail(c, row->type, "%s", berth_err_detail());
    }
    berth_log(BERTH_LOG_ERROR, c->req->id, "%s failed: %s (%s)", c->op, berth_err_name(rc),
              berth_err_detail());
    return ecr_fail(c, "ServerException", "internal error; see the server log");
}

/* ---- input members ---- */

int ecr_in_str(struct ecr_call *c, const char *member, int required, const char **out)
{
    json_t *v = json_object_get(c->in, member);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return ecr_fail(c, "InvalidParameterException",
                            "Missing required parameter in input: \"%s\"", member);
        return 0;
    }
    if (!json_is_string(v))
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid type for parameter %s, value must be a string", member);
    *out = json_string_value(v);
    return 0;
}

int ecr_in_bool(struct ecr_call *c, const char *member, int *out)
{
    json_t *v = json_object_get(c->in, member);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid type for parameter %s, value must be a boolean", member);
    *out = json_is_true(v);
    return 0;
}

int ecr_in_int(struct ecr_call *c, const char *member, long long min, long long max, long long *out)
{
    json_t *v = json_object_get(c->in, member);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid type for parameter %s, value must be an integer", member);
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at '%s' failed to satisfy constraint: 'Member must "
                        "have value between %lld and %lld'",
                        member, min, max);
    *out = n;
    return 0;
}

int ecr_in_repo_name(struct ecr_call *c, const char **out)
{
    if (ecr_in_str(c, "repositoryName", 1, out) < 0)
        return -1;
    size_t n = strlen(*out);
    if (n < 2 || n > 256 || berth_name_valid(*out, n) < 0)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
                        "'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*"
                        "[a-z0-9]+(?:[._-][a-z0-9]+)*' and be 2 to 256 characters'");
    return 0;
}

/* Page tokens are the last name of the previous page; opaque to clients. */
/* filter.tagStatus -> 1 tagged, 0 untagged, -1 any */
int ecr_in_tag_status(struct ecr_call *c, int *out)
{
    *out = -1;
    json_t *f = json_object_get(c->in, "filter");
    if (!f || json_is_null(f))
        return 0;
    json_t *t = json_object_get(f, "tagStatus");
    if (!t || json_is_null(t))
        return 0;
    const char *s = json_string_value(t);
    if (s && !strcmp(s, "TAGGED"))
        *out = 1;
    else if (s && !strcmp(s, "UNTAGGED"))
        *out = 0;
    else if (s && !strcmp(s, "ANY"))
        *out = -1;
    else
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: "
                        "'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'");
    return 0;
}

/* imageIds: a list of 1..100 ImageIdentifiers, or NULL when absent and optional. */
int ecr_in_image_ids(struct ecr_call *c, int required, json_t **out)
{
    json_t *ids = json_object_get(c->in, "imageIds");
    *out = NULL;
    if (!ids || json_is_null(ids)) {
        if (required)
            return ecr_fail(c, "InvalidParameterException",
                            "Missing required parameter in input: \"imageIds\"");
        return 0;
    }
    if (!json_is_array(ids) || json_array_size(ids) < 1 || json_array_size(ids) > ECR_IMAGE_IDS_MAX)
        return ecr_fail(c, "InvalidParameterException",
                        "imageIds must list 1 to %d image identifiers", ECR_IMAGE_IDS_MAX);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (!json_is_object(id))
            return ecr_fail(c, "InvalidParameterException",
                            "imageIds[%zu] must be an object with imageDigest and/or imageTag", i);
    }
    *out = ids;
    return 0;
}

int ecr_in_page(struct ecr_call *c, int *out_max, const char **out_after)
{
    long long max = 100;
    if (ecr_in_int(c, "maxResults", 1, 1000, &max) < 0 ||
        ecr_in_str(c, "nextToken", 0, out_after) < 0)
        return -1;
    *out_max = (int)max;
    return 0;
}

int ecr_authorize(struct ecr_call *c, const char *action, const char *repo)
{
    if (!c->ctx->auth->enabled)
        return 0;
    char ip[64];
    berth_req_remote(c->req, ip, sizeof(ip));
    int rc = berth_auth_authorize(c->ctx->auth, &c->who, action, c->account, repo, ip);
    return rc < 0 ? ecr_fail(c, "AccessDeniedException", "%s", berth_err_detail()) : 0;
}

void ecr_registry_host(struct ecr_call *c, const char *account, char *out, size_t len)
{
    const char *base = c->ctx->public_url;
    char host[300];
    if (base && *base) {
        const char *p = strstr(base, "://");
        snprintf(host, sizeof(host), "%s", p ? p + 3 : base);
        size_t n = strlen(host);
        if (n && host[n - 1] == '/')
            host[n - 1] = '\0';
    } else {
        const char *h = berth_req_header(c->req, "Host");
        snprintf(host, sizeof(host), "%s", h ? h : "localhost");
    }
    /* Another account's registry is <account>.<host>, as the data plane resolves it. */
    if (strcmp(account, c->ctx->auth->account) != 0)
        snprintf(out, len, "%s.%s", account, host);
    else
        snprintf(out, len, "%s", host);
}

/* ---- the wire ---- */

struct hdr_vec {
    struct berth_sigv4_header h[64];
    size_t n;
};

static int collect_header(void *ctx, const char *name, const char *value)
{
    struct hdr_vec *v = ctx;
    if (v->n < sizeof(v->h) / sizeof(v->h[0]))
        v->h[v->n++] = (struct berth_sigv4_header){name, value};
    return 0;
}

/* Authenticates with SigV4 for the given service; 0 or -1 with the error recorded. */
int ecr_authenticate(struct ecr_call *c, const char *service)
{
    if (!c->ctx->auth->enabled) {
        berth_auth_admin(c->ctx->auth, &c->who);
        return 0;
    }
    struct hdr_vec hv = {.n = 0};
    berth_req_each_header(c->req, collect_header, &hv);
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(c->req->body.data ? c->req->body.data : "", c->req->body.len, digest);
    struct berth_sigv4_request sr = {
        .method = c->req->method,
        .path = c->req->path,
        .query = "",
        .headers = hv.h,
        .nheaders = hv.n,
        .payload_sha256_hex = berth_digest_hex(digest),
    };
    int rc = berth_auth_sigv4(c->ctx->auth, &sr, service, time(NULL), &c->who);
    if (rc == 0)
        return 0;
    const char *detail = berth_err_detail();
    switch (rc) {
    case BERTH_ENOTFOUND:
        return ecr_fail(c, "UnrecognizedClientException", "%s", detail);
    case BERTH_ERANGE:
        return ecr_fail(c, "InvalidSignatureException", "%s", detail);
    case BERTH_EINVALID:
        return ecr_fail(c,
                        berth_req_header(c->req, "Authorization")
                            ? "IncompleteSignatureException"
                            : "MissingAuthenticationTokenException",
                        "%s", detail);
    case BERTH_EDENIED:
        return ecr_fail(c, "InvalidSignatureException", "%s", detail);
    default:
        return ecr_fail_rc(c, rc);
    }
}

static void respond(struct ecr_call *c)
{
    berth_req_add_header(c->req, "x-amzn-RequestId", c->req->id);
    char *s;
    int status = 200;
    if (c->status) {
        json_t *e = json_pack("{s:s,s:s}", "__type", c->err_type, "message", c->err_msg);
        s = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        status = c->status;
    } else {
        s = json_dumps(c->out ? c->out : json_object(), JSON_COMPACT);
    }
    if (!s) {
        berth_req_respond(c->req, 500, NULL, NULL, 0);
        return;
    }
    berth_req_respond_owned(c->req, status, "application/x-amz-json-1.1", s, strlen(s));
}

static int registry_id(struct ecr_call *c)
{
    const char *rid;
    if (ecr_in_str(c, "registryId", 0, &rid) < 0)
        return -1;
    if (!rid) {
        snprintf(c->account, sizeof(c->account), "%s", c->who.account);
        return 0;
    }
    size_t n = strlen(rid);
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)rid[i]))
            n = 0;
    if (n != 12)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'registryId' failed to satisfy constraint: "
                        "'must satisfy regular expression '[0-9]{12}''");
    struct berth_meta *m = c->ctx->registry->meta;
    if (m->ops->account_exists(m->impl, rid) < 0)
        return ecr_fail(c, "RepositoryNotFoundException",
                        "The registry with id '%s' does not exist", rid);
    snprintf(c->account, sizeof(c->account), "%s", rid);
    return 0;
}

static int run_op(struct ecr_call *c, const char *target)
{
    const struct ecr_op *op = NULL;
    for (size_t i = 0; i < NOPS; i++)
        if (strcmp(ops[i].name, target) == 0)
            op = &ops[i];
    if (!op)
        return ecr_fail(c, "UnknownOperationException", "Unknown operation %s", target);
    c->op = op->name;
    if (ecr_authenticate(c, "ecr") < 0)
        return -1;
    json_error_t jerr;
    const char *body = c->req->body.data ? c->req->body.data : "";
    c->in = c->req->body.len ? json_loadb(body, c->req->body.len, JSON_REJECT_DUPLICATES, &jerr)
                             : json_object();
    if (!c->in || !json_is_object(c->in))
        return ecr_fail(c, "SerializationException", "The request body is not a JSON object%s%s",
                        c->in ? "" : ": ", c->in ? "" : jerr.text);
    if (!op->fn)
        return ecr_fail(c, "UnsupportedOperationException", "%s: %s", op->name, op->missing);
    if (registry_id(c) < 0)
        return -1;
    json_t *rn = json_object_get(c->in, "repositoryName");
    const char *repo = json_is_string(rn) ? json_string_value(rn) : NULL;
    if (op->action && ecr_authorize(c, op->action, repo) < 0)
        return -1;
    c->out = json_object();
    return op->fn(c);
}

static void api_start(struct berth_req *req)
{
    struct berth_ecr_ctx *ctx = req->app;
    if (!berth_req_header(req, "X-Amz-Target")) {
        req->body_max = STS_BODY_MAX; /* GetCallerIdentity's form body is a few bytes */
        return;
    }
    req->body_max = ECR_BODY_MAX;
    /* Refuse strangers before buffering up to 32 MiB: the signature itself can only be checked
     * once the body is in, but the header must parse and name an active key. */
    if (!ctx->auth->enabled)
        return;
    const char *authz = berth_req_header(req, "Authorization");
    int rc = berth_auth_sigv4_precheck(ctx->auth, authz);
    if (rc == 0)
        return;
    struct ecr_call c = {.req = req, .ctx = ctx};
    if (rc == BERTH_ENOTFOUND)
        ecr_fail(&c, "UnrecognizedClientException", "%s", berth_err_detail());
    else if (rc == BERTH_EINVALID)
        ecr_fail(&c, authz ? "IncompleteSignatureException" : "MissingAuthenticationTokenException",
                 "%s", berth_err_detail());
    else
        ecr_fail_rc(&c, rc);
    respond(&c);
}

static void api_finish(struct berth_req *req)
{
    struct ecr_call c = {.req = req, .ctx = req->app};
    if (req->body_too_big) {
        ecr_fail(&c, "InvalidParameterException", "request body exceeds %u bytes", ECR_BODY_MAX);
        respond(&c);
        return;
    }
    const char *target = berth_req_header(req, "X-Amz-Target");
    if (!target) {
        ecr_sts(req, req->app);
        return;
    }
    if (strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) != 0)
        ecr_fail(&c, "UnknownOperationException", "Unknown service target %s", target);
    else
        run_op(&c, target + strlen(TARGET_PREFIX));
    respond(&c);
    json_decref(c.in);
    json_decref(c.out);
}

static const struct berth_handler ecr_api = {
    .body = BERTH_BODY_BUFFER,
    .start = api_start,
    .finish = api_finish,
};

const struct berth_route berth_ecr_routes[] = {
    {"POST", "/", &ecr_api, NULL},
};
const size_t berth_ecr_nroutes = sizeof(berth_ecr_routes) / sizeof(berth_ecr_routes[0]);
