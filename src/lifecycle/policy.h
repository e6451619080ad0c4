/*
 * lifecycle/policy — ECR lifecycle policies: the rule language and its evaluation, as pure
 * functions (no store, no clock) so every documented example is a unit test.
 *
 * Evaluation follows the AWS user guide ("Lifecycle policy evaluation rules" and the worked
 * examples in docs/lifecycle.md):
 *   - rules run in ascending rulePriority;
 *   - a rule selects the images matching its tag filter; imageCountMoreThan keeps the newest
 *     countNumber of them by push time, the since* counts keep the younger ones;
 *   - an image selected by a higher-priority rule is never expired by a lower one, but it
 *     still counts inside the lower rule's window ("identified as if not expired");
 *   - an image is expired by at most one rule.
 */
#ifndef BERTH_LIFECYCLE_POLICY_H
#define BERTH_LIFECYCLE_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum berth_lc_tag_status { BERTH_LC_TAGGED, BERTH_LC_UNTAGGED, BERTH_LC_ANY };

enum berth_lc_count_type {
    BERTH_LC_COUNT_MORE_THAN, /* imageCountMoreThan */
    BERTH_LC_SINCE_PUSHED,    /* sinceImagePushed, days */
    BERTH_LC_SINCE_PULLED,    /* sinceImagePulled, days (last pull, else push) */
};

struct berth_lc_rule {
    long long priority;
    enum berth_lc_tag_status tag_status;
    int patterns; /* tags is a tagPatternList (1) or a tagPrefixList (0) */
    char **tags;
    size_t ntags;
    enum berth_lc_count_type count_type;
    long long count; /* images to keep, or days */
};

/* Rules sorted by ascending priority. */
struct berth_lc_policy {
    struct berth_lc_rule *rules;
    size_t n;
};

/* Parses and validates a policy text. BERTH_EINVALID with berth_err_detail() saying which
 * rule is wrong and why (the text of InvalidParameterException); nothing is allocated then. */
int berth_lc_policy_parse(const char *text, struct berth_lc_policy *out);
void berth_lc_policy_dispose(struct berth_lc_policy *p);

/* One image as the evaluation sees it. */
struct berth_lc_image {
    const char *digest;
    char *const *tags;
    size_t ntags;
    int64_t pushed_at;
    int64_t last_pulled_at; /* 0: never pulled */
};

/* Does the rule's tag filter select this image? */
int berth_lc_rule_selects(const struct berth_lc_rule *rule, const struct berth_lc_image *img);

/* Fills out_rule[i] with the priority of the rule that expires images[i], or 0 when the policy
 * keeps it. now is the evaluation time (epoch seconds). */
int berth_lc_evaluate(const struct berth_lc_policy *p, const struct berth_lc_image *images,
                      size_t n, int64_t now, long long *out_rule);

#endif
