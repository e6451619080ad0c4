/* ECR repositories: create, describe, delete, settings, resource tags, repository policies. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/err.h"
#include "ecr/ecr.h"

#define MAX_TAGS 50

json_t *ecr_repository_json(struct ecr_call *c, const struct berth_meta_repo *r)
{
    char arn[600], host[400], uri[800];
    berth_auth_repo_arn(c->ctx->auth, r->account, r->name, arn, sizeof(arn));
    ecr_registry_host(c, r->account, host, sizeof(host));
    snprintf(uri, sizeof(uri), "%s/%s", host, r->name);
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:s,s:{s:b},s:{s:s}}", "repositoryArn", arn, "registryId", r->account,
        "repositoryName", r->name, "repositoryUri", uri, "createdAt", (json_int_t)r->created_at,
        "imageTagMutability", r->tag_mutability, "imageScanningConfiguration", "scanOnPush",
        r->scan_on_push, "encryptionConfiguration", "encryptionType", r->encryption_type);
    if (o && r->kms_key)
        json_object_set_new(json_object_get(o, "encryptionConfiguration"), "kmsKey",
                            json_string(r->kms_key));
    if (o && r->tag_mutability_filters) {
        json_t *f = json_loads(r->tag_mutability_filters, 0, NULL);
        if (f)
            json_object_set_new(o, "imageTagMutabilityExclusionFilters", f);
    }
    return o;
}

/* ---- settings validation ---- */

static int filter_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._*-", s[i]))
            return 0;
    return 1;
}

/* imageTagMutability (+ exclusion filters) into rec; absent keeps rec's value. */
static int in_mutability(struct ecr_call *c, struct berth_meta_repo *rec, int required)
{
    const char *m;
    if (ecr_in_str(c, "imageTagMutability", required, &m) < 0)
        return -1;
    if (m) {
        if (strcmp(m, "MUTABLE") && strcmp(m, "IMMUTABLE") &&
            strcmp(m, "IMMUTABLE_WITH_EXCLUSION") && strcmp(m, "MUTABLE_WITH_EXCLUSION"))
            return ecr_fail(c, "InvalidParameterException",
                            "Invalid parameter at 'imageTagMutability' failed to satisfy "
                            "constraint: 'Member must satisfy enum value set: [MUTABLE, "
                            "IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'");
        snprintf(rec->tag_mutability, sizeof(rec->tag_mutability), "%s", m);
    }
    json_t *f = json_object_get(c->in, "imageTagMutabilityExclusionFilters");
    int with_exclusion = strstr(rec->tag_mutability, "_WITH_EXCLUSION") != NULL;
    if (!f || json_is_null(f)) {
        if (with_exclusion)
            return ecr_fail(c, "InvalidParameterException",
                            "imageTagMutabilityExclusionFilters are required with %s",
                            rec->tag_mutability);
        free(rec->tag_mutability_filters);
        rec->tag_mutability_filters = NULL;
        return 0;
    }
    if (!with_exclusion)
        return ecr_fail(c, "InvalidParameterException",
                        "imageTagMutabilityExclusionFilters are only allowed with "
                        "IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION");
    if (!json_is_array(f) || json_array_size(f) < 1 || json_array_size(f) > 5)
        return ecr_fail(c, "InvalidParameterException",
                        "imageTagMutabilityExclusionFilters must list 1 to 5 filters");
    json_t *clean = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(f, i, e)
    {
        json_t *t = json_object_get(e, "filterType"), *v = json_object_get(e, "filter");
        if (!json_is_string(t) || strcmp(json_string_value(t), "WILDCARD") != 0 ||
            !json_is_string(v) || !filter_valid(json_string_value(v))) {
            json_decref(clean);
            return ecr_fail(c, "InvalidParameterException",
                            "imageTagMutabilityExclusionFilters[%zu]: filterType must be "
                            "WILDCARD and filter 1 to 128 of [0-9a-zA-Z._*-]",
                            i);
        }
        json_array_append_new(clean, json_pack("{s:s,s:s}", "filterType", "WILDCARD", "filter",
                                               json_string_value(v)));
    }
    free(rec->tag_mutability_filters);
    rec->tag_mutability_filters = json_dumps(clean, JSON_COMPACT);
    json_decref(clean);
    return 0;
}

static int in_scanning(struct ecr_call *c, struct berth_meta_repo *rec, int required)
{
    json_t *s = json_object_get(c->in, "imageScanningConfiguration");
    if (!s || json_is_null(s))
        return required ? ecr_fail(c, "InvalidParameterException",
                                   "Missing required parameter in input: "
                                   "\"imageScanningConfiguration\"")
                        : 0;
    json_t *b = json_object_get(s, "scanOnPush");
    if (!json_is_object(s) || (b && !json_is_boolean(b)))
        return ecr_fail(c, "InvalidParameterException",
                        "imageScanningConfiguration.scanOnPush must be a boolean");
    rec->scan_on_push = json_is_true(b);
    return 0;
}

static int in_encryption(struct ecr_call *c, struct berth_meta_repo *rec)
{
    json_t *e = json_object_get(c->in, "encryptionConfiguration");
    snprintf(rec->encryption_type, sizeof(rec->encryption_type), "AES256");
    if (!e || json_is_null(e))
        return 0;
    json_t *t = json_object_get(e, "encryptionType"), *k = json_object_get(e, "kmsKey");
    const char *type = json_is_string(t) ? json_string_value(t) : NULL;
    if (!type || (strcmp(type, "AES256") && strcmp(type, "KMS") && strcmp(type, "KMS_DSSE")))
        return ecr_fail(c, "InvalidParameterException",
                        "encryptionConfiguration.encryptionType must be AES256, KMS or "
                        "KMS_DSSE");
    if (k && !json_is_null(k)) {
        if (!json_is_string(k) || !strcmp(type, "AES256"))
            return ecr_fail(c, "InvalidParameterException",
                            "kmsKey may only be given with encryptionType KMS or KMS_DSSE");
        rec->kms_key = strdup(json_string_value(k));
    }
    snprintf(rec->encryption_type, sizeof(rec->encryption_type), "%s", type);
    return 0;
}

/* Validates a Tag list; returns a normalized copy (new reference) or NULL after failing. */
static json_t *in_tags(struct ecr_call *c, json_t *tags)
{
    if (!json_is_array(tags)) {
        ecr_fail(c, "InvalidParameterException", "tags must be a list of {Key, Value}");
        return NULL;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        json_t *k = json_object_get(t, "Key"), *v = json_object_get(t, "Value");
        if (!json_is_string(k) || json_string_length(k) < 1 || json_string_length(k) > 128 ||
            (v && !json_is_string(v)) || (v && json_string_length(v) > 256) ||
            strncmp(json_string_value(k), "aws:", 4) == 0) {
            ecr_fail(c, "InvalidTagParameterException",
                     "tags[%zu]: Key must be 1 to 128 characters not starting with aws:, "
                     "Value at most 256",
                     i);
            return NULL;
        }
    }
    return json_incref(tags);
}

/* Merges add into the stored tag list (same Key: replaced); NULL after failing. */
static char *merge_tags(struct ecr_call *c, const char *stored, json_t *add)
{
    json_t *cur = stored ? json_loads(stored, 0, NULL) : NULL;
    if (!json_is_array(cur)) {
        json_decref(cur);
        cur = json_array();
    }
    size_t i;
    json_t *t;
    json_array_foreach(add, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        json_t *v = json_object_get(t, "Value");
        size_t j;
        json_t *e;
        int found = 0;
        json_array_foreach(cur, j, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "Key")), k) == 0) {
                json_object_set_new(e, "Value", json_string(v ? json_string_value(v) : ""));
                found = 1;
            }
        }
        if (!found)
            json_array_append_new(
                cur, json_pack("{s:s,s:s}", "Key", k, "Value", v ? json_string_value(v) : ""));
    }
    if (json_array_size(cur) > MAX_TAGS) {
        json_decref(cur);
        ecr_fail(c, "TooManyTagsException", "a repository has at most %d tags", MAX_TAGS);
        return NULL;
    }
    char *s = json_array_size(cur) ? json_dumps(cur, JSON_COMPACT) : NULL;
    json_decref(cur);
    return s;
}

/* ---- operations ---- */

int ecr_create_repository(struct ecr_call *c)
{
    struct berth_meta_repo rec = {0};
    const char *name;
    int rc = -1;
    snprintf(rec.account, sizeof(rec.account), "%s", c->account);
    snprintf(rec.tag_mutability, sizeof(rec.tag_mutability), "MUTABLE");
    if (ecr_in_repo_name(c, &name) < 0 || in_mutability(c, &rec, 0) < 0 ||
        in_scanning(c, &rec, 0) < 0 || in_encryption(c, &rec) < 0)
        goto out;
    json_t *tags = json_object_get(c->in, "tags");
    if (tags && !json_is_null(tags)) {
        json_t *clean = in_tags(c, tags);
        if (!clean)
            goto out;
        json_decref(clean);
        if (!(rec.resource_tags = merge_tags(c, NULL, tags)) && c->status)
            goto out;
    }
    rec.name = strdup(name);
    if ((rc = berth_registry_repo_create(c->ctx->registry, &rec)) < 0) {
        rc = ecr_fail_rc(c, rc);
        goto out;
    }
    berth_meta_repo_dispose(&rec);
    if ((rc = berth_registry_repo_describe(c->ctx->registry, c->account, name, &rec)) < 0) {
        rc = ecr_fail_rc(c, rc);
        goto out;
    }
    json_object_set_new(c->out, "repository", ecr_repository_json(c, &rec));
    rc = 0;
out:
    berth_meta_repo_dispose(&rec);
    return rc;
}

/* A repository as DescribeRepositories shows it: with the Berth extension member
 * repositorySizeInBytes, its stored bytes (distinct blobs once, plus manifests; what ECR bills
 * storage for). botocore ignores members its model does not list, so SDKs and the CLI are
 * unaffected. NULL after failing. */
static json_t *described(struct ecr_call *c, const struct berth_meta_repo *r)
{
    int64_t bytes;
    int rc = berth_registry_repo_stored_bytes(c->ctx->registry, r->id, &bytes);
    if (rc < 0) {
        ecr_fail_rc(c, rc);
        return NULL;
    }
    json_t *o = ecr_repository_json(c, r);
    if (!o) {
        ecr_fail(c, "ServerException", "out of memory");
        return NULL;
    }
    json_object_set_new(o, "repositorySizeInBytes", json_integer(bytes));
    return o;
}

int ecr_describe_repositories(struct ecr_call *c)
{
    json_t *names = json_object_get(c->in, "repositoryNames");
    json_t *list = json_array();
    json_object_set_new(c->out, "repositories", list);
    if (names && !json_is_null(names)) {
        if (!json_is_array(names) || json_array_size(names) < 1 || json_array_size(names) > 100)
            return ecr_fail(c, "InvalidParameterException",
                            "repositoryNames must list 1 to 100 names");
        if (json_object_get(c->in, "nextToken") || json_object_get(c->in, "maxResults"))
            return ecr_fail(c, "InvalidParameterException",
                            "maxResults and nextToken cannot be used with repositoryNames");
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
        {
            if (!json_is_string(n))
                return ecr_fail(c, "InvalidParameterException",
                                "repositoryNames[%zu] must be a string", i);
            const char *name = json_string_value(n);
            /* permission first: a refused caller learns nothing about which names exist */
            if (ecr_authorize(c, "ecr:DescribeRepositories", name) < 0)
                return -1;
            struct berth_meta_repo rec;
            int rc = berth_registry_repo_describe(c->ctx->registry, c->account, name, &rec);
            if (rc == BERTH_EINVALID || rc == BERTH_ENOTFOUND)
                return ecr_fail(c, "RepositoryNotFoundException",
                                "The repository with name '%s' does not exist in the registry "
                                "with id '%s'",
                                name, c->account);
            if (rc < 0)
                return ecr_fail_rc(c, rc);
            json_t *o = described(c, &rec);
            berth_meta_repo_dispose(&rec);
            if (!o)
                return -1;
            json_array_append_new(list, o);
        }
        return 0;
    }
    int max;
    const char *after;
    if (ecr_in_page(c, &max, &after) < 0 || ecr_authorize(c, "ecr:DescribeRepositories", NULL) < 0)
        return -1;
    struct berth_meta_repo_list page = {0};
    int rc = berth_registry_repo_describe_list(c->ctx->registry, c->account, after, max + 1, &page);
    if (rc < 0)
        return ecr_fail_rc(c, rc);
    size_t shown = page.n > (size_t)max ? (size_t)max : page.n;
    for (size_t i = 0; i < shown; i++) {
        json_t *o = described(c, &page.items[i]);
        if (!o) {
            berth_meta_repo_list_dispose(&page);
            return -1;
        }
        json_array_append_new(list, o);
    }
    if (page.n > (size_t)max)
        json_object_set_new(c->out, "nextToken", json_string(page.items[max - 1].name));
    berth_meta_repo_list_dispose(&page);
    return 0;
}

int ecr_delete_repository(struct ecr_call *c)
{
    const char *name;
    int force = 0;
    if (ecr_in_repo_name(c, &name) < 0 || ecr_in_bool(c, "force", &force) < 0)
        return -1;
    struct berth_meta_repo rec;
    int rc = berth_registry_repo_delete(c->ctx->registry, c->account, name, force, &rec);
    if (rc == BERTH_ECONFLICT)
        return ecr_fail(c, "RepositoryNotEmptyException",
                        "The repository with name '%s' in registry with id '%s' cannot be "
                        "deleted because it still contains images",
                        name, c->account);
    if (rc < 0)
        return ecr_fail_rc(c, rc);
    json_object_set_new(c->out, "repository", ecr_repository_json(c, &rec));
    berth_meta_repo_dispose(&rec);
    return 0;
}

/* Loads the repository named in the input (RepositoryNotFoundException otherwise). */
static int load_repo(struct ecr_call *c, struct berth_meta_repo *rec)
{
    const char *name;
    if (ecr_in_repo_name(c, &name) < 0)
        return -1;
    int rc = berth_registry_repo_describe(c->ctx->registry, c->account, name, rec);
    return rc < 0 ? ecr_fail_rc(c, rc) : 0;
}

static int save_repo(struct ecr_call *c, struct berth_meta_repo *rec)
{
    int rc = berth_registry_repo_update(c->ctx->registry, rec);
    return rc < 0 ? ecr_fail_rc(c, rc) : 0;
}

int ecr_put_image_tag_mutability(struct ecr_call *c)
{
    struct berth_meta_repo rec;
    if (load_repo(c, &rec) < 0)
        return -1;
    int rc = in_mutability(c, &rec, 1);
    if (rc == 0)
        rc = save_repo(c, &rec);
    if (rc == 0) {
        json_object_set_new(c->out, "registryId", json_string(rec.account));
        json_object_set_new(c->out, "repositoryName", json_string(rec.name));
        json_object_set_new(c->out, "imageTagMutability", json_string(rec.tag_mutability));
        if (rec.tag_mutability_filters)
            json_object_set_new(c->out, "imageTagMutabilityExclusionFilters",
                                json_loads(rec.tag_mutability_filters, 0, NULL));
    }
    berth_meta_repo_dispose(&rec);
    return rc;
}

int ecr_put_image_scanning_configuration(struct ecr_call *c)
{
    struct berth_meta_repo rec;
    if (load_repo(c, &rec) < 0)
        return -1;
    int rc = in_scanning(c, &rec, 1);
    if (rc == 0)
        rc = save_repo(c, &rec);
    if (rc == 0) {
        json_object_set_new(c->out, "registryId", json_string(rec.account));
        json_object_set_new(c->out, "repositoryName", json_string(rec.name));
        json_object_set_new(c->out, "imageScanningConfiguration",
                            json_pack("{s:b}", "scanOnPush", rec.scan_on_push));
    }
    berth_meta_repo_dispose(&rec);
    return rc;
}

/* ---- resource tags: the repository comes from resourceArn ---- */

static int repo_from_arn(struct ecr_call *c, const char *action, struct berth_meta_repo *rec)
{
    const char *arn;
    if (ecr_in_str(c, "resourceArn", 1, &arn) < 0)
        return -1;
    /* arn:aws:ecr:<region>:<account>:repository/<name> */
    char region[64], account[16];
    const char *name = NULL;
    if (sscanf(arn, "arn:aws:ecr:%63[^:]:%15[0-9]:repository/", region, account) == 2) {
        name = strstr(arn, ":repository/");
        name = name ? name + strlen(":repository/") : NULL;
    }
    if (!name || strcmp(region, c->ctx->auth->region) != 0 || strlen(account) != 12)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'resourceArn': expected "
                        "arn:aws:ecr:%s:<account>:repository/<name>",
                        c->ctx->auth->region);
    memcpy(c->account, account, 13); /* 12 digits and the NUL, checked above */
    if (ecr_authorize(c, action, name) < 0)
        return -1;
    int rc = berth_registry_repo_describe(c->ctx->registry, account, name, rec);
    if (rc == BERTH_EINVALID || rc == BERTH_ENOTFOUND)
        return ecr_fail(c, "RepositoryNotFoundException",
                        "The repository with name '%s' does not exist in the registry with id "
                        "'%s'",
                        name, account);
    return rc < 0 ? ecr_fail_rc(c, rc) : 0;
}

int ecr_tag_resource(struct ecr_call *c)
{
    struct berth_meta_repo rec;
    json_t *tags = json_object_get(c->in, "tags");
    if (!tags)
        return ecr_fail(c, "InvalidParameterException",
                        "Missing required parameter in input: \"tags\"");
    json_t *clean = in_tags(c, tags);
    if (!clean)
        return -1;
    json_decref(clean);
    if (repo_from_arn(c, "ecr:TagResource", &rec) < 0)
        return -1;
    char *merged = merge_tags(c, rec.resource_tags, tags);
    int rc = c->status ? -1 : 0;
    if (rc == 0) {
        free(rec.resource_tags);
        rec.resource_tags = merged;
        rc = save_repo(c, &rec);
    }
    berth_meta_repo_dispose(&rec);
    return rc;
}

int ecr_untag_resource(struct ecr_call *c)
{
    json_t *keys = json_object_get(c->in, "tagKeys");
    if (!json_is_array(keys))
        return ecr_fail(c, "InvalidParameterException",
                        "Missing required parameter in input: \"tagKeys\"");
    struct berth_meta_repo rec;
    if (repo_from_arn(c, "ecr:UntagResource", &rec) < 0)
        return -1;
    json_t *cur = rec.resource_tags ? json_loads(rec.resource_tags, 0, NULL) : json_array();
    json_t *keep = json_array();
    size_t i, j;
    json_t *t, *k;
    json_array_foreach(cur, i, t)
    {
        int drop = 0;
        json_array_foreach(keys, j, k) drop |=
            json_is_string(k) &&
            strcmp(json_string_value(k), json_string_value(json_object_get(t, "Key"))) == 0;
        if (!drop)
            json_array_append(keep, t);
    }
    free(rec.resource_tags);
    rec.resource_tags = json_array_size(keep) ? json_dumps(keep, JSON_COMPACT) : NULL;
    json_decref(cur);
    json_decref(keep);
    int rc = save_repo(c, &rec);
    berth_meta_repo_dispose(&rec);
    return rc;
}

int ecr_list_tags_for_resource(struct ecr_call *c)
{
    struct berth_meta_repo rec;
    if (repo_from_arn(c, "ecr:ListTagsForResource", &rec) < 0)
        return -1;
    json_t *tags = rec.resource_tags ? json_loads(rec.resource_tags, 0, NULL) : NULL;
    json_object_set_new(c->out, "tags", tags ? tags : json_array());
    berth_meta_repo_dispose(&rec);
    return 0;
}

/* ---- repository policies ---- */

/* Parses a policy document the way the evaluator will read it; 0 or -1 (error recorded). */
static int policy_valid(struct ecr_call *c, const char *text)
{
    struct berth_policy *p = NULL;
    if (strlen(text) > 10240)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'policyText' failed to satisfy constraint: "
                        "'Member must have length less than or equal to 10240'");
    int rc = berth_policy_parse(text, strlen(text), 1, &p);
    berth_policy_free(p);
    return rc < 0 ? ecr_fail(c, "InvalidParameterException",
                             "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                             "'Invalid repository policy provided': %s",
                             berth_err_detail())
                  : 0;
}

static void policy_out(struct ecr_call *c, const struct berth_meta_repo *rec, const char *text)
{
    json_object_set_new(c->out, "registryId", json_string(rec->account));
    json_object_set_new(c->out, "repositoryName", json_string(rec->name));
    json_object_set_new(c->out, "policyText", json_string(text));
}

int ecr_set_repository_policy(struct ecr_call *c)
{
    const char *text;
    struct berth_meta_repo rec;
    if (ecr_in_str(c, "policyText", 1, &text) < 0 || policy_valid(c, text) < 0 ||
        load_repo(c, &rec) < 0)
        return -1;
    free(rec.policy);
    rec.policy = strdup(text);
    int rc = save_repo(c, &rec);
    if (rc == 0)
        policy_out(c, &rec, text);
    berth_meta_repo_dispose(&rec);
    return rc;
}

static int no_policy(struct ecr_call *c, const struct berth_meta_repo *rec)
{
    return ecr_fail(c, "RepositoryPolicyNotFoundException",
                    "Repository policy does not exist for the repository with name '%s' in the "
                    "registry with id '%s'",
                    rec->name, rec->account);
}

int ecr_get_repository_policy(struct ecr_call *c)
{
    struct berth_meta_repo rec;
    if (load_repo(c, &rec) < 0)
        return -1;
    int rc = rec.policy ? (policy_out(c, &rec, rec.policy), 0) : no_policy(c, &rec);
    berth_meta_repo_dispose(&rec);
    return rc;
}

int ecr_delete_repository_policy(struct ecr_call *c)
{
    struct berth_meta_repo rec;
    if (load_repo(c, &rec) < 0)
        return -1;
    if (!rec.policy) {
        int rc = no_policy(c, &rec);
        berth_meta_repo_dispose(&rec);
        return rc;
    }
    char *old = rec.policy;
    rec.policy = NULL;
    int rc = save_repo(c, &rec);
    if (rc == 0)
        policy_out(c, &rec, old);
    free(old);
    berth_meta_repo_dispose(&rec);
    return rc;
}
