#include "lifecycle/lifecycle.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "lifecycle/policy.h"

#define META(r) ((r)->meta->ops)
#define MI(r) ((r)->meta->impl)

#define ACTOR "lifecycle-policy"

void berth_lc_results_dispose(struct berth_lc_results *l)
{
    for (size_t i = 0; i < l->n; i++)
        berth_strlist_dispose(&l->items[i].tags);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- policies ---- */

static int validate(const char *text)
{
    size_t len = strlen(text);
    if (len < BERTH_LC_TEXT_MIN || len > BERTH_LC_TEXT_MAX)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_POLICY,
                             "lifecycle policy text must be %d to %d characters long, not %zu",
                             BERTH_LC_TEXT_MIN, BERTH_LC_TEXT_MAX, len);
    struct berth_lc_policy p;
    int rc = berth_lc_policy_parse(text, &p);
    if (rc == 0)
        berth_lc_policy_dispose(&p);
    return rc;
}

int berth_lifecycle_policy_put(struct berth_registry *r, const char *account, const char *repo,
                               const char *text)
{
    int64_t id;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    if (rc < 0 || (rc = validate(text)) < 0)
        return rc;
    return META(r)->lifecycle_policy_set(MI(r), id, text);
}

int berth_lifecycle_policy_get(struct berth_registry *r, const char *account, const char *repo,
                               char **out_text, int64_t *out_evaluated_at)
{
    int64_t id;
    *out_text = NULL;
    *out_evaluated_at = 0;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    return rc < 0 ? rc : META(r)->lifecycle_policy_get(MI(r), id, out_text, out_evaluated_at);
}

int berth_lifecycle_policy_delete(struct berth_registry *r, const char *account, const char *repo,
                                  char **out_text, int64_t *out_evaluated_at)
{
    int64_t id;
    *out_text = NULL;
    *out_evaluated_at = 0;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    if (rc < 0 || (rc = META(r)->lifecycle_policy_get(MI(r), id, out_text, out_evaluated_at)) < 0)
        return rc;
    if ((rc = META(r)->lifecycle_policy_set(MI(r), id, NULL)) < 0) {
        free(*out_text);
        *out_text = NULL;
    }
    return rc;
}

/* ---- evaluation ---- */

int berth_lifecycle_evaluate(struct berth_registry *r, int64_t repo_id, const char *policy_text,
                             int64_t now, struct berth_lc_results *out)
{
    struct berth_lc_policy p;
    struct berth_meta_image_list imgs = {0};
    struct berth_lc_image *li = NULL;
    long long *rule = NULL;
    memset(out, 0, sizeof(*out));
    int rc = berth_lc_policy_parse(policy_text, &p);
    if (rc < 0)
        return rc;
    if ((rc = META(r)->lifecycle_images(MI(r), repo_id, &imgs)) < 0)
        goto out;
    size_t n = imgs.n ? imgs.n : 1;
    li = calloc(n, sizeof(*li));
    rule = calloc(n, sizeof(*rule));
    out->items = calloc(n, sizeof(*out->items));
    if (!li || !rule || !out->items) {
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < imgs.n; i++)
        li[i] = (struct berth_lc_image){
            .digest = imgs.items[i].digest,
            .tags = imgs.items[i].tags.items,
            .ntags = imgs.items[i].tags.n,
            .pushed_at = imgs.items[i].pushed_at,
            .last_pulled_at = imgs.items[i].last_pulled_at,
        };
    if ((rc = berth_lc_evaluate(&p, li, imgs.n, now, rule)) < 0)
        goto out;
    for (size_t i = 0; i < imgs.n; i++) {
        if (!rule[i])
            continue;
        struct berth_lc_result *res = &out->items[out->n++];
        memcpy(res->digest, imgs.items[i].digest, sizeof(res->digest));
        res->tags = imgs.items[i].tags; /* moved */
        imgs.items[i].tags = (struct berth_strlist){0};
        res->pushed_at = imgs.items[i].pushed_at;
        res->rule = rule[i];
    }
out:
    if (rc < 0)
        berth_lc_results_dispose(out);
    berth_lc_policy_dispose(&p);
    berth_meta_image_list_dispose(&imgs);
    free(li);
    free(rule);
    return rc;
}

/* ---- previews ---- */

int berth_lifecycle_preview_start(struct berth_registry *r, const char *account, const char *repo,
                                  const char *text, char **out_text)
{
    int64_t id, evaluated;
    char *stored = NULL;
    *out_text = NULL;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    if (rc < 0)
        return rc;
    if (text)
        rc = validate(text);
    else
        rc = META(r)->lifecycle_policy_get(MI(r), id, &stored, &evaluated);
    if (rc < 0)
        return rc;
    const char *policy = text ? text : stored;
    if ((rc = META(r)->lc_preview_start(MI(r), id, policy, berth_registry_now(r))) == 0 &&
        !(*out_text = strdup(policy)))
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    free(stored);
    return rc;
}

int berth_lifecycle_preview_get(struct berth_registry *r, const char *account, const char *repo,
                                struct berth_meta_lc_preview *out)
{
    int64_t id;
    memset(out, 0, sizeof(*out));
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    return rc < 0 ? rc : META(r)->lc_preview_get(MI(r), id, out);
}

/* previewResults as ECR shapes them (LifecyclePolicyPreviewResult). */
static char *results_json(const struct berth_lc_results *res)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < res->n; i++) {
        const struct berth_lc_result *x = &res->items[i];
        json_t *tags = json_array();
        for (size_t k = 0; k < x->tags.n; k++)
            json_array_append_new(tags, json_string(x->tags.items[k]));
        json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:{s:s}, s:I}", "imageDigest",
                                             x->digest, "imageTags", tags, "imagePushedAt",
                                             (json_int_t)x->pushed_at, "action", "type", "EXPIRE",
                                             "appliedRulePriority", (json_int_t)x->rule));
    }
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

int berth_lifecycle_previews_run(struct berth_registry *r)
{
    struct berth_meta_repo_ref_list pending;
    int rc = META(r)->lc_preview_pending(MI(r), &pending);
    for (size_t i = 0; rc == 0 && i < pending.n; i++) {
        struct berth_meta_repo_ref *ref = &pending.items[i];
        struct berth_meta_lc_preview pv;
        struct berth_lc_results res;
        if (META(r)->lc_preview_get(MI(r), ref->id, &pv) < 0)
            continue; /* deleted meanwhile */
        int64_t now = berth_registry_now(r);
        char *json = NULL;
        if (berth_lifecycle_evaluate(r, ref->id, pv.policy, now, &res) == 0) {
            json = results_json(&res);
            berth_lc_results_dispose(&res);
        }
        if (!json)
            berth_log(BERTH_LOG_WARN, NULL, "lifecycle preview of %s/%s failed: %s", ref->account,
                      ref->name, berth_err_detail());
        rc = META(r)->lc_preview_finish(MI(r), ref->id, json ? "COMPLETE" : "FAILED", json, now);
        free(json);
        berth_meta_lc_preview_dispose(&pv);
    }
    berth_meta_repo_ref_list_dispose(&pending);
    return rc;
}

/* ---- expiry runs ---- */

static char *event_detail(const struct berth_lc_result *x)
{
    json_t *tags = json_array();
    for (size_t k = 0; k < x->tags.n; k++)
        json_array_append_new(tags, json_string(x->tags.items[k]));
    json_t *d = json_pack("{s:I, s:o, s:I}", "rulePriority", (json_int_t)x->rule, "imageTags", tags,
                          "imagePushedAt", (json_int_t)x->pushed_at);
    char *s = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return s;
}

static int run_repo(struct berth_registry *r, const struct berth_meta_repo_ref *ref, int dry_run,
                    berth_lc_expired_cb cb, void *ctx, struct berth_lc_run_report *out)
{
    char *text = NULL;
    int64_t evaluated;
    struct berth_lc_results res;
    int rc = META(r)->lifecycle_policy_get(MI(r), ref->id, &text, &evaluated);
    if (rc < 0)
        return rc == BERTH_ENOTFOUND ? (berth_err_clear(), 0) : rc;
    int64_t now = berth_registry_now(r);
    rc = berth_lifecycle_evaluate(r, ref->id, text, now, &res);
    free(text);
    if (rc == BERTH_EINVALID) { /* stored before a stricter check: report it, run the others */
        berth_log(BERTH_LOG_WARN, NULL, "lifecycle: policy of %s/%s not applied: %s", ref->account,
                  ref->name, berth_err_detail());
        berth_err_clear();
        return 0;
    }
    if (rc < 0)
        return rc;
    out->repositories++;
    for (size_t i = 0; i < res.n; i++) {
        struct berth_lc_result *x = &res.items[i];
        if (dry_run) {
            out->images_expired++;
            if (cb)
                cb(ctx, ref->account, ref->name, x, NULL);
            continue;
        }
        char *detail = event_detail(x);
        struct berth_meta_event ev = {
            .at = now, .kind = "IMAGE_EXPIRED", .actor = ACTOR, .detail = detail};
        struct berth_strlist deleted;
        int erc = META(r)->image_expire(MI(r), ref->id, x->digest, &x->tags, &ev, &deleted);
        free(detail);
        if (erc == BERTH_ECONFLICT || erc == BERTH_ENOTFOUND) {
            berth_log(BERTH_LOG_INFO, NULL, "lifecycle: kept %s/%s@%s: %s", ref->account, ref->name,
                      x->digest, berth_err_detail());
            berth_err_clear();
            out->skipped++;
            continue;
        }
        if (erc < 0) {
            rc = erc;
            break;
        }
        out->images_expired++;
        out->manifests_deleted += deleted.n;
        berth_log(BERTH_LOG_INFO, NULL,
                  "lifecycle: expired %s/%s@%s by rule %lld (%zu manifests deleted)", ref->account,
                  ref->name, x->digest, x->rule, deleted.n);
        if (cb)
            cb(ctx, ref->account, ref->name, x, &deleted);
        berth_strlist_dispose(&deleted);
    }
    berth_lc_results_dispose(&res);
    if (rc == 0 && !dry_run)
        rc = META(r)->lifecycle_evaluated(MI(r), ref->id, now);
    return rc;
}

int berth_lifecycle_run(struct berth_registry *r, const char *account, const char *repo,
                        int dry_run, berth_lc_expired_cb cb, void *ctx,
                        struct berth_lc_run_report *out)
{
    memset(out, 0, sizeof(*out));
    int rc;
    if (repo) {
        struct berth_meta_repo_ref ref = {0};
        if ((rc = berth_registry_repo(r, account, repo, 0, &ref.id)) < 0)
            return rc;
        snprintf(ref.account, sizeof(ref.account), "%s", account);
        snprintf(ref.name, sizeof(ref.name), "%s", repo);
        return run_repo(r, &ref, dry_run, cb, ctx, out);
    }
    struct berth_meta_repo_ref_list repos;
    if ((rc = META(r)->lifecycle_repos(MI(r), account, &repos)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < repos.n; i++)
        rc = run_repo(r, &repos.items[i], dry_run, cb, ctx, out);
    berth_meta_repo_ref_list_dispose(&repos);
    return rc;
}
