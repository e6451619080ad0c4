/*
 * ECR lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy,
 * StartLifecyclePolicyPreview, GetLifecyclePolicyPreview. The language and the runs live in
 * lifecycle/; this file shapes the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ecr/ecr.h"

#define PREVIEW_PAGE_MAX 100

/* The lifecycle errors of the model, by what went wrong. */
static int fail(struct ecr_call *c, int rc, const char *repo, int preview)
{
    if (rc == BERTH_ENOTFOUND && berth_err_what() == BERTH_WHAT_POLICY)
        return preview ? ecr_fail(c, "LifecyclePolicyPreviewNotFoundException",
                                  "There is no dry run for the repository with name '%s' in "
                                  "the registry with id '%s'",
                                  repo, c->account)
                       : ecr_fail(c, "LifecyclePolicyNotFoundException",
                                  "Lifecycle policy does not exist for the repository with name "
                                  "'%s' in the registry with id '%s'",
                                  repo, c->account);
    if (rc == BERTH_ECONFLICT && berth_err_what() == BERTH_WHAT_POLICY)
        return ecr_fail(c, "LifecyclePolicyPreviewInProgressException",
                        "Previous lifecycle policy preview request has not been completed for "
                        "the repository with name '%s' in the registry with id '%s'",
                        repo, c->account);
    if (rc == BERTH_EINVALID && berth_err_what() == BERTH_WHAT_POLICY)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                        "constraint: '%s'",
                        berth_err_detail());
    if (rc == BERTH_ENOTFOUND)
        return ecr_fail(c, "RepositoryNotFoundException",
                        "The repository with name '%s' does not exist in the registry with id "
                        "'%s'",
                        repo, c->account);
    return ecr_fail_rc(c, rc);
}

static void policy_out(struct ecr_call *c, const char *repo, const char *text, int64_t evaluated_at)
{
    json_object_set_new(c->out, "registryId", json_string(c->account));
    json_object_set_new(c->out, "repositoryName", json_string(repo));
    json_object_set_new(c->out, "lifecyclePolicyText", json_string(text));
    if (evaluated_at > 0)
        json_object_set_new(c->out, "lastEvaluatedAt", json_integer(evaluated_at));
}

int ecr_put_lifecycle_policy(struct ecr_call *c)
{
    const char *repo, *text;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_str(c, "lifecyclePolicyText", 1, &text) < 0)
        return -1;
    int rc = berth_lifecycle_policy_put(c->ctx->registry, c->account, repo, text);
    if (rc < 0)
        return fail(c, rc, repo, 0);
    policy_out(c, repo, text, 0);
    return 0;
}

int ecr_get_lifecycle_policy(struct ecr_call *c)
{
    const char *repo;
    char *text;
    int64_t evaluated;
    if (ecr_in_repo_name(c, &repo) < 0)
        return -1;
    int rc = berth_lifecycle_policy_get(c->ctx->registry, c->account, repo, &text, &evaluated);
    if (rc < 0)
        return fail(c, rc, repo, 0);
    policy_out(c, repo, text, evaluated);
    free(text);
    return 0;
}

int ecr_delete_lifecycle_policy(struct ecr_call *c)
{
    const char *repo;
    char *text;
    int64_t evaluated;
    if (ecr_in_repo_name(c, &repo) < 0)
        return -1;
    int rc = berth_lifecycle_policy_delete(c->ctx->registry, c->account, repo, &text, &evaluated);
    if (rc < 0)
        return fail(c, rc, repo, 0);
    policy_out(c, repo, text, evaluated);
    free(text);
    return 0;
}

int ecr_start_lifecycle_policy_preview(struct ecr_call *c)
{
    const char *repo, *text;
    char *previewed;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_str(c, "lifecyclePolicyText", 0, &text) < 0)
        return -1;
    int rc = berth_lifecycle_preview_start(c->ctx->registry, c->account, repo, text, &previewed);
    if (rc < 0)
        return fail(c, rc, repo, 0);
    berth_lifecycle_worker_wake(c->ctx->lifecycle);
    policy_out(c, repo, previewed, 0);
    json_object_set_new(c->out, "status", json_string("IN_PROGRESS"));
    free(previewed);
    return 0;
}

/* Is the preview result one of the requested imageIds? */
static int wanted(json_t *ids, json_t *result)
{
    if (!ids)
        return 1;
    const char *digest = json_string_value(json_object_get(result, "imageDigest"));
    json_t *tags = json_object_get(result, "imageTags");
    size_t i, k;
    json_t *id, *t;
    json_array_foreach(ids, i, id)
    {
        const char *d = json_string_value(json_object_get(id, "imageDigest"));
        const char *tag = json_string_value(json_object_get(id, "imageTag"));
        int match = d || tag;
        if (d && (!digest || strcmp(d, digest) != 0))
            match = 0;
        if (match && tag) {
            int has = 0;
            json_array_foreach(tags, k, t) has |= !strcmp(json_string_value(t), tag);
            match = has;
        }
        if (match)
            return 1;
    }
    return 0;
}

int ecr_get_lifecycle_policy_preview(struct ecr_call *c)
{
    const char *repo, *after;
    long long max = PREVIEW_PAGE_MAX;
    int tagged;
    json_t *ids;
    if (ecr_in_repo_name(c, &repo) < 0 || ecr_in_image_ids(c, 0, &ids) < 0 ||
        ecr_in_int(c, "maxResults", 1, PREVIEW_PAGE_MAX, &max) < 0 ||
        ecr_in_str(c, "nextToken", 0, &after) < 0 || ecr_in_tag_status(c, &tagged) < 0)
        return -1;
    struct berth_meta_lc_preview pv;
    int rc = berth_lifecycle_preview_get(c->ctx->registry, c->account, repo, &pv);
    if (rc < 0)
        return fail(c, rc, repo, 1);
    policy_out(c, repo, pv.policy, 0);
    json_object_set_new(c->out, "status", json_string(pv.status));
    json_t *all = pv.results ? json_loads(pv.results, 0, NULL) : NULL;
    json_t *page = json_array();
    size_t total = 0, i;
    json_t *res;
    /* Results are in digest order; the token is the last digest of the page. */
    json_array_foreach(all, i, res)
    {
        int has_tags = json_array_size(json_object_get(res, "imageTags")) > 0;
        if ((tagged >= 0 && has_tags != tagged) || !wanted(ids, res))
            continue;
        total++;
        const char *digest = json_string_value(json_object_get(res, "imageDigest"));
        if (after && strcmp(digest, after) <= 0)
            continue;
        if (json_array_size(page) == (size_t)max) {
            if (!json_object_get(c->out, "nextToken"))
                json_object_set(
                    c->out, "nextToken",
                    json_object_get(json_array_get(page, (size_t)max - 1), "imageDigest"));
            continue;
        }
        json_array_append(page, res);
    }
    json_object_set_new(c->out, "previewResults", page);
    if (all)
        json_object_set_new(c->out, "summary",
                            json_pack("{s:I}", "expiringImageTotalCount", (json_int_t)total));
    json_decref(all);
    berth_meta_lc_preview_dispose(&pv);
    return 0;
}
