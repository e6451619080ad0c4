/*
 * ECR layers: InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload (the same upload
 * sessions as the OCI API: hashed while written, fsynced and renamed at completion),
 * BatchCheckLayerAvailability, and GetDownloadUrlForLayer (a presigned /v2/ blob URL).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/digest.h"
#include "core/err.h"
#include "ecr/ecr.h"

#define PART_MAX (20u * 1024 * 1024) /* the model's LayerPartBlob limit */
#define DOWNLOAD_URL_TTL 3600

/* ECR's UploadId is a UUID; Berth's upload ids are 32 hex digits: the same 128 bits. */
static void id_to_uuid(const char *id, char out[37])
{
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16, id + 20);
}

static int uuid_to_id(struct ecr_call *c, const char *uuid, char out[BERTH_UPLOAD_ID_BUF])
{
    size_t n = 0;
    for (const char *p = uuid; *p; p++) {
        if (*p == '-')
            continue;
        if (n == BERTH_UPLOAD_ID_LEN)
            break;
        out[n++] = *p;
    }
    out[n] = '\0';
    if (n != BERTH_UPLOAD_ID_LEN || strlen(uuid) != 36)
        return ecr_fail(c, "UploadNotFoundException", "The upload with id '%s' does not exist",
                        uuid);
    return 0;
}

static int repo_fail(struct ecr_call *c, int rc, const char *repo)
{
    if ((rc == BERTH_ENOTFOUND && berth_err_what() == BERTH_WHAT_REPO) || rc == BERTH_EINVALID)
        return ecr_fail(c, "RepositoryNotFoundException",
                        "The repository with name '%s' does not exist in the registry with id "
                        "'%s'",
                        repo, c->account);
    if (rc == BERTH_ENOTFOUND && berth_err_what() == BERTH_WHAT_UPLOAD)
        return ecr_fail(c, "UploadNotFoundException", "%s", berth_err_detail());
    if (rc == BERTH_EUNAVAILABLE)
        return ecr_fail(c, "LimitExceededException", "%s", berth_err_detail());
    return ecr_fail_rc(c, rc);
}

static void echo_ids(struct ecr_call *c, const char *repo, const char *uuid)
{
    json_object_set_new(c->out, "registryId", json_string(c->account));
    json_object_set_new(c->out, "repositoryName", json_string(repo));
    json_object_set_new(c->out, "uploadId", json_string(uuid));
}

int ecr_initiate_layer_upload(struct ecr_call *c)
{
    const char *repo;
    if (ecr_in_repo_name(c, &repo) < 0)
        return -1;
    struct berth_meta_repo rec;
    int rc = berth_registry_repo_describe(c->ctx->registry, c->account, repo, &rec);
    if (rc < 0)
        return repo_fail(c, rc, repo);
    berth_meta_repo_dispose(&rec);
    char id[BERTH_UPLOAD_ID_BUF], uuid[37];
    if ((rc = berth_registry_upload_start(c->ctx->registry, c->account, repo, id)) < 0)
        return repo_fail(c, rc, repo);
    id_to_uuid(id, uuid);
    json_object_set_new(c->out, "uploadId", json_string(uuid));
    json_object_set_new(c->out, "partSize", json_integer(PART_MAX));
    return 0;
}

int ecr_upload_layer_part(struct ecr_call *c)
{
    const char *repo, *uuid, *b64;
    long long first = -1, last = -1;
    char id[BERTH_UPLOAD_ID_BUF];
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_str(c, "uploadId", 1, &uuid) < 0 ||
        ecr_in_int(c, "partFirstByte", 0, (1LL << 50), &first) < 0 ||
        ecr_in_int(c, "partLastByte", 0, (1LL << 50), &last) < 0 ||
        ecr_in_str(c, "layerPartBlob", 1, &b64) < 0 || uuid_to_id(c, uuid, id) < 0)
        return -1;
    if (first < 0 || last < 0)
        return ecr_fail(c, "InvalidParameterException",
                        "partFirstByte and partLastByte are required");
    size_t n = strlen(b64);
    if (n % 4 != 0 || n / 4 * 3 > PART_MAX + 3)
        return ecr_fail(c, "InvalidParameterException",
                        "layerPartBlob must be base64 of at most %u bytes", PART_MAX);
    unsigned char *data = malloc(n / 4 * 3 + 1);
    if (!data)
        return ecr_fail(c, "ServerException", "out of memory");
    int len = n ? EVP_DecodeBlock(data, (const unsigned char *)b64, (int)n) : 0;
    if (len < 0) {
        free(data);
        return ecr_fail(c, "InvalidParameterException", "layerPartBlob is not valid base64");
    }
    /* EVP_DecodeBlock counts '=' padding as zero bytes */
    for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
        len--;
    struct berth_upload u;
    uint64_t offset = 0, start = (uint64_t)first;
    int rc =
        berth_registry_upload_begin(c->ctx->registry, c->account, repo, id, &start, &u, &offset);
    if (rc == BERTH_ERANGE || (rc == 0 && last - first + 1 != len)) {
        if (rc == 0)
            berth_registry_upload_abort(c->ctx->registry, &u);
        free(data);
        ecr_fail(c, "InvalidLayerPartException",
                 "The part (%lld-%lld, %d bytes) does not continue the upload: the last valid "
                 "byte received is %lld",
                 first, last, len, (long long)offset - 1);
        return -1;
    }
    if (rc < 0) {
        free(data);
        return repo_fail(c, rc, repo);
    }
    rc = berth_registry_upload_write(c->ctx->registry, &u, data, (size_t)len);
    free(data);
    if (rc == 0)
        rc = berth_registry_upload_end(c->ctx->registry, &u);
    else
        berth_registry_upload_abort(c->ctx->registry, &u);
    if (rc < 0)
        return repo_fail(c, rc, repo);
    echo_ids(c, repo, uuid);
    json_object_set_new(c->out, "lastByteReceived", json_integer(last));
    return 0;
}

int ecr_complete_layer_upload(struct ecr_call *c)
{
    const char *repo, *uuid;
    char id[BERTH_UPLOAD_ID_BUF];
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_str(c, "uploadId", 1, &uuid) < 0 ||
        uuid_to_id(c, uuid, id) < 0)
        return -1;
    json_t *digests = json_object_get(c->in, "layerDigests");
    if (!json_is_array(digests) || json_array_size(digests) != 1 ||
        !json_is_string(json_array_get(digests, 0)))
        return ecr_fail(c, "InvalidParameterException",
                        "layerDigests must list the one digest of the uploaded layer");
    const char *digest = json_string_value(json_array_get(digests, 0));
    uint64_t size;
    if (berth_registry_blob_stat(c->ctx->registry, c->account, repo, digest, &size) == 0) {
        berth_registry_upload_cancel(c->ctx->registry, c->account, repo, id);
        return ecr_fail(c, "LayerAlreadyExistsException",
                        "The layer with digest '%s' already exists in the repository with name "
                        "'%s' in registry with id '%s'",
                        digest, repo, c->account);
    }
    struct berth_upload u;
    uint64_t offset = 0;
    int rc = berth_registry_upload_begin(c->ctx->registry, c->account, repo, id, NULL, &u, &offset);
    if (rc < 0)
        return repo_fail(c, rc, repo);
    if (u.offset == 0) {
        berth_registry_upload_abort(c->ctx->registry, &u);
        return ecr_fail(c, "EmptyUploadException", "The upload with id '%s' contains no data",
                        uuid);
    }
    rc = berth_registry_upload_finish(c->ctx->registry, &u, digest);
    if (rc < 0 && berth_err_what() == BERTH_WHAT_DIGEST)
        return ecr_fail(c, "InvalidLayerException", "%s", berth_err_detail());
    if (rc < 0)
        return repo_fail(c, rc, repo);
    echo_ids(c, repo, uuid);
    json_object_set_new(c->out, "layerDigest", json_string(digest));
    return 0;
}

int ecr_batch_check_layer_availability(struct ecr_call *c)
{
    const char *repo;
    if (ecr_in_repo_name(c, &repo) < 0)
        return -1;
    json_t *digests = json_object_get(c->in, "layerDigests");
    if (!json_is_array(digests) || json_array_size(digests) < 1 || json_array_size(digests) > 100)
        return ecr_fail(c, "InvalidParameterException", "layerDigests must list 1 to 100 digests");
    int64_t rid;
    int rc = berth_registry_repo(c->ctx->registry, c->account, repo, 0, &rid);
    if (rc < 0)
        return repo_fail(c, rc, repo);
    json_t *layers = json_array(), *failures = json_array();
    json_object_set_new(c->out, "layers", layers);
    json_object_set_new(c->out, "failures", failures);
    size_t i;
    json_t *d;
    json_array_foreach(digests, i, d)
    {
        const char *digest = json_string_value(d);
        uint64_t size;
        if (!digest || berth_digest_parse(digest, strlen(digest), NULL) < 0) {
            json_array_append_new(failures,
                                  json_pack("{s:s,s:s,s:s}", "layerDigest", digest ? digest : "",
                                            "failureCode", "InvalidLayerDigest", "failureReason",
                                            "Invalid layer digest"));
        } else if (berth_registry_blob_stat(c->ctx->registry, c->account, repo, digest, &size) <
                   0) {
            json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "layerDigest", digest,
                                                      "failureCode", "MissingLayerDigest",
                                                      "failureReason", "Layer not found"));
        } else {
            json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "layerDigest", digest,
                                                    "layerAvailability", "AVAILABLE", "layerSize",
                                                    (json_int_t)size));
        }
    }
    return 0;
}

int ecr_get_download_url_for_layer(struct ecr_call *c)
{
    const char *repo, *digest;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_str(c, "layerDigest", 1, &digest) < 0)
        return -1;
    if (berth_digest_parse(digest, strlen(digest), NULL) < 0)
        return ecr_fail(c, "InvalidParameterException", "layerDigest is not a valid digest");
    uint64_t size;
    int rc = berth_registry_blob_stat(c->ctx->registry, c->account, repo, digest, &size);
    if (rc < 0 && berth_err_what() == BERTH_WHAT_REPO)
        return repo_fail(c, rc, repo);
    if (rc < 0)
        return ecr_fail(c, "LayersNotFoundException",
                        "The layer with digest '%s' does not exist in the repository with name "
                        "'%s' in registry with id '%s'",
                        digest, repo, c->account);
    /* Like ECR's presigned object-store URL: it works without credentials until it expires. */
    char host[400], query[300];
    ecr_registry_host(c, c->account, host, sizeof(host));
    berth_auth_presign(c->ctx->auth, c->account, repo, digest, time(NULL) + DOWNLOAD_URL_TTL, query,
                       sizeof(query));
    const char *pub = c->ctx->public_url;
    size_t len = strlen(host) + strlen(repo) + strlen(digest) + strlen(query) + 40;
    char *url = malloc(len);
    if (!url)
        return ecr_fail(c, "ServerException", "out of memory");
    snprintf(url, len, "%s://%s/v2/%s/blobs/%s?%s",
             pub && !strncmp(pub, "https://", 8) ? "https" : "http", host, repo, digest, query);
    json_object_set_new(c->out, "downloadUrl", json_string(url));
    json_object_set_new(c->out, "layerDigest", json_string(digest));
    free(url);
    return 0;
}
