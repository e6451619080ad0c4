#include "lifecycle/policy.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/name.h"

#define SECONDS_PER_DAY 86400

/* ---- parsing ---- */

static int invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int invalid(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return berth_err_set(BERTH_EINVALID, BERTH_WHAT_POLICY,
                         "Lifecycle policy validation failure: %s", msg);
}

/* Every member of obj must be one of names (a NULL-terminated list). */
static int only_members(json_t *obj, const char *const *names, const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int known = 0;
        for (const char *const *n = names; *n; n++)
            known |= !strcmp(key, *n);
        if (!known)
            return invalid("%s: unknown field \"%s\"", where, key);
    }
    return 0;
}

static int parse_tags(json_t *list, const char *name, struct berth_lc_rule *rule, const char *where)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return invalid("%s: %s must be a non-empty list of strings", where, name);
    if (json_array_size(list) > BERTH_LC_TAGS_MAX)
        return invalid("%s: %s has %zu entries, at most %d are allowed", where, name,
                       json_array_size(list), BERTH_LC_TAGS_MAX);
    rule->tags = calloc(json_array_size(list), sizeof(char *));
    if (!rule->tags)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        const char *s = json_string_value(t);
        if (!s || !*s)
            return invalid("%s: %s entries must be non-empty strings", where, name);
        if (strlen(s) > BERTH_LC_TAG_LEN_MAX)
            return invalid("%s: %s entry is longer than %d characters", where, name,
                           BERTH_LC_TAG_LEN_MAX);
        if (rule->patterns) {
            int stars = 0;
            for (const char *p = s; *p; p++)
                stars += *p == '*';
            if (stars > BERTH_LC_WILDCARDS_MAX)
                return invalid("%s: tag pattern \"%s\" has %d wildcards, at most %d are allowed",
                               where, s, stars, BERTH_LC_WILDCARDS_MAX);
        }
        if (!(rule->tags[rule->ntags] = strdup(s)))
            return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        rule->ntags++;
    }
    return 0;
}

static int parse_selection(json_t *sel, struct berth_lc_rule *rule, const char *where)
{
    static const char *const members[] = {
        "tagStatus", "tagPrefixList", "tagPatternList", "countType",
        "countUnit", "countNumber",   "storageClass",   NULL};
    if (!json_is_object(sel))
        return invalid("%s: selection must be an object", where);
    int rc = only_members(sel, members, where);
    if (rc < 0)
        return rc;

    const char *status = json_string_value(json_object_get(sel, "tagStatus"));
    if (!status)
        return invalid("%s: selection.tagStatus is required (tagged, untagged or any)", where);
    if (!strcmp(status, "tagged"))
        rule->tag_status = BERTH_LC_TAGGED;
    else if (!strcmp(status, "untagged"))
        rule->tag_status = BERTH_LC_UNTAGGED;
    else if (!strcmp(status, "any"))
        rule->tag_status = BERTH_LC_ANY;
    else
        return invalid("%s: tagStatus \"%s\" is not tagged, untagged or any", where, status);

    json_t *prefixes = json_object_get(sel, "tagPrefixList");
    json_t *patterns = json_object_get(sel, "tagPatternList");
    if (prefixes && patterns)
        return invalid("%s: tagPrefixList and tagPatternList cannot be used together in one rule",
                       where);
    if (rule->tag_status == BERTH_LC_TAGGED && !prefixes && !patterns)
        return invalid("%s: tagStatus \"tagged\" needs a tagPrefixList or a tagPatternList", where);
    if (rule->tag_status != BERTH_LC_TAGGED && (prefixes || patterns))
        return invalid("%s: tagStatus \"%s\" must not have a %s", where, status,
                       prefixes ? "tagPrefixList" : "tagPatternList");
    if (prefixes && (rc = parse_tags(prefixes, "tagPrefixList", rule, where)) < 0)
        return rc;
    if (patterns) {
        rule->patterns = 1;
        if ((rc = parse_tags(patterns, "tagPatternList", rule, where)) < 0)
            return rc;
    }

    json_t *storage = json_object_get(sel, "storageClass");
    if (storage && !(json_is_string(storage) && !strcmp(json_string_value(storage), "standard")))
        return invalid("%s: storageClass must be \"standard\" (Berth has no archive storage)",
                       where);

    const char *type = json_string_value(json_object_get(sel, "countType"));
    if (!type)
        return invalid("%s: selection.countType is required (imageCountMoreThan, "
                       "sinceImagePushed or sinceImagePulled)",
                       where);
    if (!strcmp(type, "imageCountMoreThan"))
        rule->count_type = BERTH_LC_COUNT_MORE_THAN;
    else if (!strcmp(type, "sinceImagePushed"))
        rule->count_type = BERTH_LC_SINCE_PUSHED;
    else if (!strcmp(type, "sinceImagePulled"))
        rule->count_type = BERTH_LC_SINCE_PULLED;
    else if (!strcmp(type, "sinceImageTransitioned"))
        return invalid("%s: countType sinceImageTransitioned needs archive storage, which Berth "
                       "does not have",
                       where);
    else
        return invalid("%s: countType \"%s\" is not imageCountMoreThan, sinceImagePushed or "
                       "sinceImagePulled",
                       where, type);

    json_t *unit = json_object_get(sel, "countUnit");
    if (rule->count_type == BERTH_LC_COUNT_MORE_THAN && unit)
        return invalid("%s: countUnit must not be given with countType imageCountMoreThan", where);
    if (rule->count_type != BERTH_LC_COUNT_MORE_THAN) {
        if (!unit)
            return invalid("%s: countType %s needs countUnit \"days\"", where, type);
        if (!json_is_string(unit) || strcmp(json_string_value(unit), "days") != 0)
            return invalid("%s: countUnit must be \"days\"", where);
    }

    json_t *num = json_object_get(sel, "countNumber");
    if (!num)
        return invalid("%s: selection.countNumber is required", where);
    if (!json_is_integer(num) || json_integer_value(num) < 1 ||
        json_integer_value(num) > BERTH_LC_COUNT_MAX)
        return invalid("%s: countNumber must be an integer from 1 to %d", where,
                       BERTH_LC_COUNT_MAX);
    rule->count = json_integer_value(num);
    return 0;
}

static int parse_action(json_t *action, const char *where)
{
    static const char *const members[] = {"type", "targetStorageClass", NULL};
    if (!json_is_object(action))
        return invalid("%s: action must be an object", where);
    int rc = only_members(action, members, where);
    if (rc < 0)
        return rc;
    const char *type = json_string_value(json_object_get(action, "type"));
    if (!type)
        return invalid("%s: action.type is required (expire)", where);
    if (!strcmp(type, "transition"))
        return invalid("%s: action type transition needs archive storage, which Berth does not "
                       "have",
                       where);
    if (strcmp(type, "expire") != 0)
        return invalid("%s: action type \"%s\" is not expire", where, type);
    if (json_object_get(action, "targetStorageClass"))
        return invalid("%s: targetStorageClass goes only with action type transition", where);
    return 0;
}

static int parse_rule(json_t *j, size_t index, struct berth_lc_rule *rule)
{
    static const char *const members[] = {"rulePriority", "description", "selection", "action",
                                          NULL};
    char where[64];
    snprintf(where, sizeof(where), "rules[%zu]", index);
    if (!json_is_object(j))
        return invalid("%s must be an object", where);
    json_t *prio = json_object_get(j, "rulePriority");
    if (!prio)
        return invalid("%s: rulePriority is required", where);
    if (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
        json_integer_value(prio) > BERTH_LC_COUNT_MAX)
        return invalid("%s: rulePriority must be an integer from 1 to %d", where,
                       BERTH_LC_COUNT_MAX);
    rule->priority = json_integer_value(prio);
    snprintf(where, sizeof(where), "rule with rulePriority %lld", rule->priority);
    int rc = only_members(j, members, where);
    if (rc < 0)
        return rc;
    json_t *desc = json_object_get(j, "description");
    if (desc && !json_is_string(desc))
        return invalid("%s: description must be a string", where);
    if (!json_object_get(j, "selection"))
        return invalid("%s: selection is required", where);
    if ((rc = parse_selection(json_object_get(j, "selection"), rule, where)) < 0)
        return rc;
    if (!json_object_get(j, "action"))
        return invalid("%s: action is required", where);
    return parse_action(json_object_get(j, "action"), where);
}

static int by_priority(const void *a, const void *b)
{
    const struct berth_lc_rule *x = a, *y = b;
    return (x->priority > y->priority) - (x->priority < y->priority);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same kind of list with the same entries, in any order. */
static int same_tag_set(const struct berth_lc_rule *a, const struct berth_lc_rule *b)
{
    if (a->patterns != b->patterns || a->ntags != b->ntags)
        return 0;
    for (size_t i = 0; i < a->ntags; i++)
        if (strcmp(a->tags[i], b->tags[i]) != 0)
            return 0;
    return 1;
}

/* The rules among rules: the checks that need the whole policy. */
static int check_policy(const struct berth_lc_policy *p)
{
    const struct berth_lc_rule *untagged = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const struct berth_lc_rule *r = &p->rules[i];
        if (i > 0 && r->priority == p->rules[i - 1].priority)
            return invalid("rulePriority %lld is used by more than one rule; each rule needs "
                           "a unique rulePriority",
                           r->priority);
        if (r->tag_status == BERTH_LC_ANY && i + 1 < p->n)
            return invalid("rule with rulePriority %lld has tagStatus \"any\", so it must have "
                           "the highest rulePriority (%lld is higher)",
                           r->priority, p->rules[p->n - 1].priority);
        if (r->tag_status == BERTH_LC_UNTAGGED) {
            if (untagged)
                return invalid("rules with rulePriority %lld and %lld both select untagged "
                               "images; only one rule may",
                               untagged->priority, r->priority);
            untagged = r;
        }
        for (size_t k = 0; r->tag_status == BERTH_LC_TAGGED && k < i; k++)
            if (p->rules[k].tag_status == BERTH_LC_TAGGED && same_tag_set(&p->rules[k], r))
                return invalid("rules with rulePriority %lld and %lld select the same tags; "
                               "each rule needs a unique set of tag filters",
                               p->rules[k].priority, r->priority);
    }
    return 0;
}

void berth_lc_policy_dispose(struct berth_lc_policy *p)
{
    for (size_t i = 0; p->rules && i < p->n; i++) {
        for (size_t k = 0; k < p->rules[i].ntags; k++)
            free(p->rules[i].tags[k]);
        free(p->rules[i].tags);
    }
    free(p->rules);
    p->rules = NULL;
    p->n = 0;
}

int berth_lc_policy_parse(const char *text, struct berth_lc_policy *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return invalid("invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    static const char *const members[] = {"rules", NULL};
    json_t *rules = json_object_get(root, "rules");
    int rc;
    if (!json_is_object(root)) {
        rc = invalid("the policy must be a JSON object with a \"rules\" list");
        goto out;
    }
    if ((rc = only_members(root, members, "policy")) < 0)
        goto out;
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        rc = invalid("\"rules\" must be a non-empty list");
        goto out;
    }
    if (json_array_size(rules) > BERTH_LC_RULES_MAX) {
        rc = invalid("the policy has %zu rules, at most %d are allowed", json_array_size(rules),
                     BERTH_LC_RULES_MAX);
        goto out;
    }
    out->rules = calloc(json_array_size(rules), sizeof(*out->rules));
    if (!out->rules) {
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        goto out;
    }
    size_t i;
    json_t *j;
    json_array_foreach(rules, i, j)
    {
        out->n++;
        if ((rc = parse_rule(j, i, &out->rules[i])) < 0)
            goto out;
        if (out->rules[i].ntags > 1)
            qsort(out->rules[i].tags, out->rules[i].ntags, sizeof(char *), cmp_str);
    }
    qsort(out->rules, out->n, sizeof(*out->rules), by_priority);
    rc = check_policy(out);
out:
    json_decref(root);
    if (rc < 0)
        berth_lc_policy_dispose(out);
    return rc;
}

/* ---- evaluation ---- */

/* Every entry of the rule's list must match at least one of the image's tags. */
int berth_lc_rule_selects(const struct berth_lc_rule *rule, const struct berth_lc_image *img)
{
    switch (rule->tag_status) {
    case BERTH_LC_ANY:
        return 1;
    case BERTH_LC_UNTAGGED:
        return img->ntags == 0;
    case BERTH_LC_TAGGED:
        break;
    }
    if (img->ntags == 0)
        return 0;
    for (size_t k = 0; k < rule->ntags; k++) {
        const char *want = rule->tags[k];
        size_t wl = strlen(want);
        int found = 0;
        for (size_t t = 0; t < img->ntags && !found; t++)
            found = rule->patterns ? berth_wildcard_match(want, img->tags[t])
                                   : strncmp(img->tags[t], want, wl) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

struct ranked {
    int64_t pushed_at;
    const char *digest;
    size_t index;
};

/* Newest first; equal push times fall back to the digest so the order is stable. */
static int newest_first(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->pushed_at != y->pushed_at)
        return x->pushed_at < y->pushed_at ? 1 : -1;
    return strcmp(y->digest, x->digest);
}

int berth_lc_evaluate(const struct berth_lc_policy *p, const struct berth_lc_image *images,
                      size_t n, int64_t now, long long *out_rule)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    struct ranked *sel = calloc(n ? n : 1, sizeof(*sel));
    if (!seen || !sel) {
        free(seen);
        free(sel);
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    }
    if (n)
        memset(out_rule, 0, n * sizeof(*out_rule));
    for (size_t r = 0; r < p->n; r++) {
        const struct berth_lc_rule *rule = &p->rules[r];
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (berth_lc_rule_selects(rule, &images[i]))
                sel[m++] = (struct ranked){images[i].pushed_at, images[i].digest, i};
        size_t first = 0; /* sel[first..m) are this rule's candidates */
        if (rule->count_type == BERTH_LC_COUNT_MORE_THAN) {
            qsort(sel, m, sizeof(*sel), newest_first);
            first = (size_t)rule->count < m ? (size_t)rule->count : m;
        }
        int64_t cutoff = now - (int64_t)rule->count * SECONDS_PER_DAY;
        for (size_t k = first; k < m; k++) {
            const struct berth_lc_image *img = &images[sel[k].index];
            if (rule->count_type != BERTH_LC_COUNT_MORE_THAN) {
                int64_t t = img->pushed_at;
                if (rule->count_type == BERTH_LC_SINCE_PULLED && img->last_pulled_at > 0)
                    t = img->last_pulled_at;
                if (t >= cutoff)
                    continue;
            }
            if (!seen[sel[k].index])
                out_rule[sel[k].index] = rule->priority;
        }
        for (size_t k = 0; k < m; k++)
            seen[sel[k].index] = 1;
    }
    free(seen);
    free(sel);
    return 0;
}
