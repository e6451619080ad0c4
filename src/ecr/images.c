/*
 * ECR images: ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage. PutImage
 * stores through the same registry call as the OCI manifest PUT, so both APIs validate, check
 * references and enforce tag immutability identically.
 */
#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/err.h"
#include "core/name.h"
#include "ecr/ecr.h"

static int page_fail(struct ecr_call *c, int rc)
{
    if (rc == BERTH_ENOTFOUND || rc == BERTH_EINVALID)
        return ecr_fail(c, "RepositoryNotFoundException",
                        "The repository with name '%s' does not exist in the registry with id "
                        "'%s'",
                        json_string_value(json_object_get(c->in, "repositoryName")), c->account);
    return ecr_fail_rc(c, rc);
}

int ecr_list_images(struct ecr_call *c)
{
    const char *repo, *after;
    int max, tagged;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_page(c, &max, &after) < 0 ||
        ecr_in_tag_status(c, &tagged) < 0)
        return -1;
    struct berth_meta_image_list page = {0};
    int rc =
        berth_registry_images(c->ctx->registry, c->account, repo, after, max + 1, tagged, &page);
    if (rc < 0)
        return page_fail(c, rc);
    /* One imageId per tag, an untagged image as its digest alone. A page ends on an image
     * boundary (the token is the last image's digest), so it may hold a few more ids than
     * maxResults when images carry several tags. */
    json_t *ids = json_array();
    size_t shown = page.n > (size_t)max ? (size_t)max : page.n;
    for (size_t i = 0; i < shown; i++) {
        struct berth_meta_image *im = &page.items[i];
        if (im->tags.n == 0)
            json_array_append_new(ids, json_pack("{s:s}", "imageDigest", im->digest));
        for (size_t t = 0; t < im->tags.n; t++)
            json_array_append_new(ids, json_pack("{s:s,s:s}", "imageDigest", im->digest, "imageTag",
                                                 im->tags.items[t]));
    }
    json_object_set_new(c->out, "imageIds", ids);
    if (page.n > (size_t)max)
        json_object_set_new(c->out, "nextToken", json_string(page.items[max - 1].digest));
    berth_meta_image_list_dispose(&page);
    return 0;
}

static json_t *image_detail(struct ecr_call *c, const char *repo, const struct berth_meta_image *im)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "registryId", c->account, "repositoryName",
                          repo, "imageDigest", im->digest, "imageSizeInBytes",
                          (json_int_t)im->total_size, "imagePushedAt", (json_int_t)im->pushed_at,
                          "imageManifestMediaType", im->media_type);
    if (!o)
        return NULL;
    if (im->tags.n) {
        json_t *tags = json_array();
        for (size_t t = 0; t < im->tags.n; t++)
            json_array_append_new(tags, json_string(im->tags.items[t]));
        json_object_set_new(o, "imageTags", tags);
    }
    /* artifactMediaType: the config media type, as ECR reports it for Helm charts and
     * images; an OCI 1.1 artifact's artifactType when its config is the empty one. */
    const char *amt = im->artifact_type ? im->artifact_type : im->config_media_type;
    if (amt)
        json_object_set_new(o, "artifactMediaType", json_string(amt));
    if (im->last_pulled_at > 0)
        json_object_set_new(o, "lastRecordedPullTime", json_integer(im->last_pulled_at));
    if (im->subject)
        json_object_set_new(o, "subjectManifestDigest", json_string(im->subject));
    json_object_set_new(o, "imageStatus", json_string("ACTIVE"));
    return o;
}

static int media_type_accepted(json_t *accepted, const char *mt);

/* Resolves an ImageIdentifier to a digest. 0, or a failure code/reason for the id. With
 * accepted (BatchGetImage's acceptedMediaTypes), an image stored in another media type fails
 * too: Berth never converts between formats. */
static int resolve_id(struct ecr_call *c, const char *repo, json_t *id, json_t *accepted,
                      char digest[BERTH_DIGEST_BUF], const char **code, char *reason, size_t rlen)
{
    json_t *dj = json_object_get(id, "imageDigest"), *tj = json_object_get(id, "imageTag");
    const char *d = json_is_string(dj) ? json_string_value(dj) : NULL;
    const char *t = json_is_string(tj) ? json_string_value(tj) : NULL;
    if (!d && !t) {
        *code = "MissingDigestAndTag";
        snprintf(reason, rlen, "Invalid request parameters: image tag and digest cannot be null");
        return -1;
    }
    if (d && berth_digest_parse(d, strlen(d), NULL) < 0) {
        *code = "InvalidImageDigest";
        snprintf(reason, rlen,
                 "Invalid request parameters: image digest should satisfy the "
                 "regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
        return -1;
    }
    if (t && berth_tag_valid(t, strlen(t)) < 0) {
        *code = "InvalidImageTag";
        snprintf(reason, rlen, "Invalid request parameters: invalid image tag");
        return -1;
    }
    struct berth_meta_manifest m = {0};
    int rc = berth_registry_manifest_get(c->ctx->registry, c->account, repo, t ? t : d, 0, &m);
    if (rc < 0) {
        *code = "ImageNotFound";
        snprintf(reason, rlen, "Requested image not found");
        return -1;
    }
    snprintf(digest, BERTH_DIGEST_BUF, "%s", m.digest);
    int refused = accepted && !media_type_accepted(accepted, m.media_type);
    berth_meta_manifest_dispose(&m);
    if (d && t && strcmp(d, digest) != 0) {
        *code = "ImageTagDoesNotMatchDigest";
        snprintf(reason, rlen, "Invalid request parameters: given tag and digest do not match");
        return -1;
    }
    if (refused) {
        *code = "ImageNotFound";
        snprintf(reason, rlen, "Requested image is not stored in an accepted media type");
        return -1;
    }
    return 0;
}

static json_t *failure(json_t *id, const char *code, const char *reason)
{
    return json_pack("{s:O,s:s,s:s}", "imageId", id, "failureCode", code, "failureReason", reason);
}

int ecr_describe_images(struct ecr_call *c)
{
    const char *repo;
    json_t *ids;
    int tagged;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_image_ids(c, 0, &ids) < 0 ||
        ecr_in_tag_status(c, &tagged) < 0)
        return -1;
    json_t *details = json_array();
    json_object_set_new(c->out, "imageDetails", details);
    if (ids) {
        /* By id: an unknown image is an exception here, unlike BatchGetImage. */
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id)
        {
            char digest[BERTH_DIGEST_BUF], reason[200];
            const char *code;
            struct berth_meta_image_list one = {0};
            if (resolve_id(c, repo, id, NULL, digest, &code, reason, sizeof(reason)) < 0) {
                int64_t rid;
                if (berth_registry_repo(c->ctx->registry, c->account, repo, 0, &rid) < 0)
                    return page_fail(c, BERTH_ENOTFOUND);
                return ecr_fail(c,
                                !strcmp(code, "ImageNotFound") ? "ImageNotFoundException"
                                                               : "InvalidParameterException",
                                "The image with imageId %s does not exist within the repository "
                                "with name '%s' in the registry with id '%s'",
                                json_string_value(json_object_get(id, "imageDigest"))
                                    ? json_string_value(json_object_get(id, "imageDigest"))
                                    : json_string_value(json_object_get(id, "imageTag")),
                                repo, c->account);
            }
            int rc = berth_registry_image_get(c->ctx->registry, c->account, repo, digest, &one);
            if (rc < 0)
                return page_fail(c, rc);
            if (one.n == 1)
                json_array_append_new(details, image_detail(c, repo, &one.items[0]));
            berth_meta_image_list_dispose(&one);
        }
        return 0;
    }
    const char *after;
    int max;
    if (ecr_in_page(c, &max, &after) < 0)
        return -1;
    struct berth_meta_image_list page = {0};
    int rc =
        berth_registry_images(c->ctx->registry, c->account, repo, after, max + 1, tagged, &page);
    if (rc < 0)
        return page_fail(c, rc);
    size_t shown = page.n > (size_t)max ? (size_t)max : page.n;
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(details, image_detail(c, repo, &page.items[i]));
    if (page.n > (size_t)max)
        json_object_set_new(c->out, "nextToken", json_string(page.items[max - 1].digest));
    berth_meta_image_list_dispose(&page);
    return 0;
}

static int media_type_accepted(json_t *accepted, const char *mt)
{
    if (!json_is_array(accepted) || json_array_size(accepted) == 0)
        return 1;
    size_t i;
    json_t *a;
    json_array_foreach(accepted, i, a)
    {
        if (json_is_string(a) && mt && !strcmp(json_string_value(a), mt))
            return 1;
    }
    return 0;
}

/* repositoryName (of an existing repository) and the required imageIds of a batch call. */
static int batch_args(struct ecr_call *c, const char **repo, json_t **ids)
{
    int64_t rid;
    if (ecr_in_repo_name(c, repo) < 0 || ecr_in_image_ids(c, 1, ids) < 0)
        return -1;
    if (berth_registry_repo(c->ctx->registry, c->account, *repo, 0, &rid) < 0)
        return page_fail(c, BERTH_ENOTFOUND);
    return 0;
}

int ecr_batch_get_image(struct ecr_call *c)
{
    const char *repo;
    json_t *ids;
    if (batch_args(c, &repo, &ids) < 0)
        return -1;
    json_t *accepted = json_object_get(c->in, "acceptedMediaTypes");
    json_t *images = json_array(), *failures = json_array();
    json_object_set_new(c->out, "images", images);
    json_object_set_new(c->out, "failures", failures);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        char digest[BERTH_DIGEST_BUF], reason[200];
        const char *code;
        /* The media type is checked first, so a refused image is not counted as pulled. */
        if (resolve_id(c, repo, id, accepted, digest, &code, reason, sizeof(reason)) < 0) {
            json_array_append_new(failures, failure(id, code, reason));
            continue;
        }
        struct berth_meta_manifest m = {0};
        /* "When an image is pulled, the BatchGetImage API is called once": it is a pull */
        if (berth_registry_manifest_pull(c->ctx->registry, c->account, repo, digest, 1, &m) < 0) {
            json_array_append_new(failures,
                                  failure(id, "ImageNotFound", "Requested image not found"));
            continue;
        }
        json_t *image_id = json_pack("{s:s}", "imageDigest", m.digest);
        json_t *tag = json_object_get(id, "imageTag");
        if (json_is_string(tag))
            json_object_set(image_id, "imageTag", tag);
        json_array_append_new(images, json_pack("{s:s,s:s,s:o,s:s%,s:s}", "registryId", c->account,
                                                "repositoryName", repo, "imageId", image_id,
                                                "imageManifest", m.body, m.body_len,
                                                "imageManifestMediaType", m.media_type));
        berth_meta_manifest_dispose(&m);
    }
    return 0;
}

int ecr_batch_delete_image(struct ecr_call *c)
{
    const char *repo;
    json_t *ids;
    if (batch_args(c, &repo, &ids) < 0)
        return -1;
    json_t *done = json_array(), *failures = json_array();
    json_object_set_new(c->out, "imageIds", done);
    json_object_set_new(c->out, "failures", failures);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        char digest[BERTH_DIGEST_BUF], reason[200];
        const char *code;
        if (resolve_id(c, repo, id, NULL, digest, &code, reason, sizeof(reason)) < 0) {
            json_array_append_new(failures, failure(id, code, reason));
            continue;
        }
        json_t *tag = json_object_get(id, "imageTag");
        int rc = 0;
        if (json_is_string(tag)) {
            /* By tag: untag; the image goes with its last tag, as in ECR. */
            struct berth_strlist tags = {0};
            rc = berth_registry_manifest_delete(c->ctx->registry, c->account, repo,
                                                json_string_value(tag));
            if (rc == 0 &&
                berth_registry_image_tags(c->ctx->registry, c->account, repo, digest, &tags) == 0 &&
                tags.n == 0) {
                int drc =
                    berth_registry_manifest_delete(c->ctx->registry, c->account, repo, digest);
                (void)drc; /* still listed by an index: it stays, untagged */
            }
            berth_strlist_dispose(&tags);
        } else {
            rc = berth_registry_manifest_delete(c->ctx->registry, c->account, repo, digest);
        }
        if (rc == BERTH_ECONFLICT) {
            json_array_append_new(failures,
                                  failure(id, "ImageReferencedByManifestList",
                                          "Requested image is referenced by an image index"));
            continue;
        }
        if (rc < 0) {
            json_array_append_new(failures,
                                  failure(id, "ImageNotFound", "Requested image not found"));
            continue;
        }
        json_t *out_id = json_pack("{s:s}", "imageDigest", digest);
        if (json_is_string(tag))
            json_object_set(out_id, "imageTag", tag);
        json_array_append_new(done, out_id);
    }
    return 0;
}

int ecr_put_image(struct ecr_call *c)
{
    const char *repo, *manifest, *tag, *want, *mt;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_str(c, "imageManifest", 1, &manifest) < 0 ||
        ecr_in_str(c, "imageTag", 0, &tag) < 0 || ecr_in_str(c, "imageDigest", 0, &want) < 0 ||
        ecr_in_str(c, "imageManifestMediaType", 0, &mt) < 0)
        return -1;
    size_t len = json_string_length(json_object_get(c->in, "imageManifest"));
    if (tag && berth_tag_valid(tag, strlen(tag)) < 0)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'imageTag' failed to satisfy constraint: 'must "
                        "be 1 to 128 of [A-Za-z0-9_.-], not starting with . or -'");
    struct berth_meta_repo rec;
    int rc = berth_registry_repo_describe(c->ctx->registry, c->account, repo, &rec);
    if (rc < 0)
        return page_fail(c, rc);
    berth_meta_repo_dispose(&rec);
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(manifest, len, digest);
    if (want && strcmp(want, digest) != 0)
        return ecr_fail(c, "ImageDigestDoesNotMatchException",
                        "Invalid parameter at 'imageDigest': the manifest's digest is %s, not %s",
                        digest, want);
    if (tag) {
        /* ECR refuses a no-op retag rather than succeeding silently. */
        struct berth_meta_manifest cur = {0};
        if (berth_registry_manifest_get(c->ctx->registry, c->account, repo, tag, 0, &cur) == 0) {
            int same = !strcmp(cur.digest, digest);
            berth_meta_manifest_dispose(&cur);
            if (same)
                return ecr_fail(c, "ImageAlreadyExistsException",
                                "Image with digest '%s' and tag '%s' already exists in the "
                                "repository with name '%s' in registry with id '%s'",
                                digest, tag, repo, c->account);
        }
    }
    struct berth_put_result res;
    rc = berth_registry_manifest_put(c->ctx->registry, c->account, repo, tag ? tag : digest, mt,
                                     manifest, len, &res);
    if (rc == BERTH_ECONFLICT && berth_err_what() == BERTH_WHAT_TAG)
        return ecr_fail(c, "ImageTagAlreadyExistsException",
                        "The image tag '%s' already exists in the '%s' repository and cannot be "
                        "overwritten because the repository is immutable.",
                        tag, repo);
    if (rc == BERTH_ENOTFOUND && berth_err_what() == BERTH_WHAT_MANIFEST_REF)
        return ecr_fail(c,
                        !strncmp(berth_err_detail(), "manifest", 8)
                            ? "ReferencedImagesNotFoundException"
                            : "LayersNotFoundException",
                        "%s", berth_err_detail());
    if (rc == BERTH_ETOOBIG)
        return ecr_fail(c, "InvalidParameterException", "%s", berth_err_detail());
    if (rc == BERTH_EINVALID || rc == BERTH_EUNSUPPORTED)
        return ecr_fail(c, "InvalidParameterException", "Invalid parameter at 'imageManifest': %s",
                        berth_err_detail());
    if (rc < 0)
        return ecr_fail_rc(c, rc);
    struct berth_meta_manifest m = {0};
    if ((rc = berth_registry_manifest_get(c->ctx->registry, c->account, repo, res.digest, 0, &m)) <
        0)
        return ecr_fail_rc(c, rc);
    json_t *image_id = json_pack("{s:s}", "imageDigest", res.digest);
    if (tag)
        json_object_set_new(image_id, "imageTag", json_string(tag));
    json_object_set_new(c->out, "image",
                        json_pack("{s:s,s:s,s:o,s:s%,s:s}", "registryId", c->account,
                                  "repositoryName", repo, "imageId", image_id, "imageManifest",
                                  manifest, len, "imageManifestMediaType", m.media_type));
    berth_meta_manifest_dispose(&m);
    return 0;
}

/* The control-plane twin of GET /v2/<name>/referrers/<digest>. */
int ecr_list_image_referrers(struct ecr_call *c)
{
    const char *repo, *after;
    long long max = 20;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_int(c, "maxResults", 1, 50, &max) < 0 ||
        ecr_in_str(c, "nextToken", 0, &after) < 0)
        return -1;
    json_t *subject = json_object_get(c->in, "subjectId");
    json_t *sd = json_object_get(subject, "imageDigest");
    if (!json_is_string(sd) ||
        berth_digest_parse(json_string_value(sd), json_string_length(sd), NULL) < 0)
        return ecr_fail(c, "InvalidParameterException",
                        "subjectId.imageDigest must be a valid image digest");
    json_t *types = json_object_get(json_object_get(c->in, "filter"), "artifactTypes");
    if (types && (!json_is_array(types) || json_array_size(types) > 5))
        return ecr_fail(c, "InvalidParameterException",
                        "filter.artifactTypes must list at most 5 artifact types");
    struct berth_meta_manifest_list refs = {0};
    int rc = berth_registry_referrers(c->ctx->registry, c->account, repo, json_string_value(sd),
                                      NULL, &refs);
    if (rc < 0)
        return page_fail(c, rc);
    json_t *list = json_array();
    json_object_set_new(c->out, "referrers", list);
    size_t shown = 0;
    for (size_t i = 0; i < refs.n; i++) {
        struct berth_meta_manifest *m = &refs.items[i];
        const char *at = m->artifact_type ? m->artifact_type : m->config_media_type;
        if (after && strcmp(m->digest, after) <= 0)
            continue;
        if (json_array_size(types) > 0 && !media_type_accepted(types, at))
            continue;
        if (shown == (size_t)max) {
            json_object_set_new(c->out, "nextToken",
                                json_string(json_string_value(
                                    json_object_get(json_array_get(list, shown - 1), "digest"))));
            break;
        }
        json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "digest", m->digest, "mediaType", m->media_type,
                              "size", (json_int_t)m->size, "artifactStatus", "ACTIVE");
        if (at)
            json_object_set_new(o, "artifactType", json_string(at));
        json_t *ann = m->annotations ? json_loads(m->annotations, 0, NULL) : NULL;
        if (json_is_object(ann))
            json_object_set_new(o, "annotations", ann);
        else
            json_decref(ann);
        json_array_append_new(list, o);
        shown++;
    }
    berth_meta_manifest_list_dispose(&refs);
    return 0;
}
