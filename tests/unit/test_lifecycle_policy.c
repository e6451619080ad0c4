/* Lifecycle policies: validation, and evaluation of every worked example of the AWS user
 * guide's "Examples of lifecycle policies" page (docs/lifecycle.md lists them), one test each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "lifecycle/policy.h"

/* The example tables name only the fields an example needs; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define DAY 86400
#define NOW ((int64_t)1800000000)
#define MAXTAGS 4

/* An image of an example: a name (A, B, ...), its tags and how long ago it was pushed. */
struct ex {
    const char *name;
    const char *tags[MAXTAGS];
    int64_t pushed_ago;
    int64_t pulled_ago; /* 0: never pulled */
};

/* Evaluates policy over the images and returns the expired names, in image order
 * ("A,B"), or "" when nothing expires. */
static const char *expired(const char *policy, const struct ex *imgs, size_t n)
{
    static char out[256];
    struct berth_lc_policy p;
    int rc = berth_lc_policy_parse(policy, &p);
    if (rc < 0)
        fail_msg("policy rejected: %s", berth_err_detail());
    struct berth_lc_image li[16];
    long long rule[16];
    size_t ntags[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        ntags[i] = 0;
        while (ntags[i] < MAXTAGS && imgs[i].tags[ntags[i]])
            ntags[i]++;
        li[i] = (struct berth_lc_image){
            .digest = imgs[i].name,
            .tags = (char *const *)imgs[i].tags,
            .ntags = ntags[i],
            .pushed_at = NOW - imgs[i].pushed_ago,
            .last_pulled_at = imgs[i].pulled_ago ? NOW - imgs[i].pulled_ago : 0,
        };
    }
    assert_int_equal(berth_lc_evaluate(&p, li, n, NOW, rule), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (rule[i]) {
            if (out[0])
                strcat(out, ",");
            strcat(out, imgs[i].name);
        }
    berth_lc_policy_dispose(&p);
    return out;
}

#define RULE(prio, sel)                                                                            \
    "{\"rulePriority\":" #prio ",\"selection\":{" sel "},\"action\":{\"type\":\"expire\"}}"
#define POLICY1(r) "{\"rules\":[" r "]}"
#define POLICY2(a, b) "{\"rules\":[" a "," b "]}"
#define POLICY3(a, b, c) "{\"rules\":[" a "," b "," c "]}"

/* "Filtering on image age": tagged prod* older than 14 days. */
static void example_image_age(void **state)
{
    const char *policy =
        POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"prod*\"],"
                        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\","
                        "\"countNumber\":14"));
    struct ex imgs[] = {
        {"A", {"prod-1"}, 20 * DAY}, {"B", {"prod-2"}, 10 * DAY}, {"C", {"dev-1"}, 30 * DAY},
        {"D", {"prod"}, 15 * DAY},   {"E", {NULL}, 40 * DAY},     {"F", {"xprod"}, 20 * DAY},
    };
    assert_string_equal(expired(policy, imgs, 6), "A,D");
}

/* The same page's earlier version: untagged images older than 14 days. */
static void example_image_age_untagged(void **state)
{
    const char *policy = POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":"
                                         "\"sinceImagePushed\",\"countUnit\":\"days\","
                                         "\"countNumber\":14"));
    struct ex imgs[] = {{"A", {NULL}, 15 * DAY}, {"B", {NULL}, 13 * DAY}, {"C", {"v1"}, 30 * DAY}};
    assert_string_equal(expired(policy, imgs, 3), "A");
}

/* "Filtering on image count": keep one untagged image, expire all others. */
static void example_image_count(void **state)
{
    const char *policy = POLICY1(RULE(
        1, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1"));
    struct ex imgs[] = {{"A", {NULL}, 3 * DAY},
                        {"B", {NULL}, 1 * DAY},
                        {"C", {"v1"}, 9 * DAY},
                        {"D", {NULL}, 2 * DAY}};
    assert_string_equal(expired(policy, imgs, 4), "A,D");
}

static const struct ex multiple_rules_repo[] = {
    {"A", {"beta-1", "prod-1"}, 10 * DAY},
    {"B", {"beta-2", "prod-2"}, 9 * DAY},
    {"C", {"beta-3"}, 8 * DAY},
};

/* "Filtering on multiple rules", example A: prod first, then beta. Only A expires: B is
 * seen by rule 1, so rule 2 may not expire it. */
static void example_multiple_rules_a(void **state)
{
    const char *prefix =
        POLICY2(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"prod\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"),
                RULE(2, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"beta\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(prefix, multiple_rules_repo, 3), "A");
    const char *pattern =
        POLICY2(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"prod*\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"),
                RULE(2, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"beta*\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(pattern, multiple_rules_repo, 3), "A");
}

/* Example B: the same repository with the priorities swapped: A and B expire. */
static void example_multiple_rules_b(void **state)
{
    const char *prefix =
        POLICY2(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"beta\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"),
                RULE(2, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"prod\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(prefix, multiple_rules_repo, 3), "A,B");
    const char *pattern =
        POLICY2(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"beta*\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"),
                RULE(2, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"prod*\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(pattern, multiple_rules_repo, 3), "A,B");
}

/* "Filtering on multiple tags in a single rule", example A: an image must match every
 * listed prefix; C is the only such image older than five days. */
static void example_multiple_tags_a(void **state)
{
    struct ex imgs[] = {
        {"A", {"alpha-1"}, 12 * DAY},
        {"B", {"beta-1"}, 11 * DAY},
        {"C", {"alpha-2", "beta-2"}, 10 * DAY},
        {"D", {"alpha-3"}, 4 * DAY},
        {"E", {"beta-3"}, 3 * DAY},
        {"F", {"alpha-4", "beta-4"}, 2 * DAY},
    };
    const char *prefix = POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"alpha\","
                                         "\"beta\"],\"countType\":\"sinceImagePushed\","
                                         "\"countNumber\":5,\"countUnit\":\"days\""));
    assert_string_equal(expired(prefix, imgs, 6), "C");
    const char *pattern = POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"alpha*\","
                                          "\"beta*\"],\"countType\":\"sinceImagePushed\","
                                          "\"countNumber\":5,\"countUnit\":\"days\""));
    assert_string_equal(expired(pattern, imgs, 6), "C");
}

/* Example B: tags are not exclusive; all three match, the newest is kept. */
static void example_multiple_tags_b(void **state)
{
    struct ex imgs[] = {
        {"A", {"alpha-1", "beta-1", "gamma-1"}, 10 * DAY},
        {"B", {"alpha-2", "beta-2"}, 9 * DAY},
        {"C", {"alpha-3", "beta-3", "gamma-2"}, 8 * DAY},
    };
    const char *policy = POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"alpha\","
                                         "\"beta\"],\"countType\":\"imageCountMoreThan\","
                                         "\"countNumber\":1"));
    assert_string_equal(expired(policy, imgs, 3), "A,B");
}

/* "Filtering on all images", example A: tagStatus any keeps only the newest image. */
static void example_all_images_a(void **state)
{
    struct ex imgs[] = {
        {"A", {"alpha-1"}, 4 * DAY},
        {"B", {"beta-1"}, 3 * DAY},
        {"C", {NULL}, 2 * DAY},
        {"D", {"alpha-2"}, 1 * DAY},
    };
    const char *policy = POLICY1(
        RULE(1, "\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(policy, imgs, 4), "A,B,C");
}

/* Example B: every kind of rule in one policy. E is untagged but not older than a day;
 * rule 3 keeps E (newest) and may only expire D, the one image no earlier rule saw. */
static void example_all_images_b(void **state)
{
    struct ex imgs[] = {
        {"A", {"alpha-1", "beta-1"}, 4 * DAY}, {"B", {NULL}, 3 * DAY}, {"C", {"alpha-2"}, 2 * DAY},
        {"D", {"git hash"}, 1 * DAY + 1},      {"E", {NULL}, 1 * DAY},
    };
    const char *policy = POLICY3(
        RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"alpha\"],\"countType\":"
                "\"imageCountMoreThan\",\"countNumber\":1"),
        RULE(2, "\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":"
                "\"days\",\"countNumber\":1"),
        RULE(3, "\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(policy, imgs, 5), "A,B,D");
}

/* Priorities need not be sequential nor listed in order: evaluation sorts them. */
static void priority_order_not_list_order(void **state)
{
    const char *policy =
        POLICY2(RULE(20, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"prod\"],\"countType\":"
                         "\"imageCountMoreThan\",\"countNumber\":1"),
                RULE(7, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"beta\"],\"countType\":"
                        "\"imageCountMoreThan\",\"countNumber\":1"));
    assert_string_equal(expired(policy, multiple_rules_repo, 3), "A,B"); /* as example B */
}

/* Berth's sinceImagePulled: days since the last recorded pull, push time if never pulled. */
static void since_image_pulled(void **state)
{
    struct ex imgs[] = {
        {"A", {"v1"}, 90 * DAY, 2 * DAY},  /* old but pulled recently: kept */
        {"B", {"v2"}, 90 * DAY, 40 * DAY}, /* not pulled for 40 days: expired */
        {"C", {"v3"}, 40 * DAY, 0},        /* never pulled, pushed 40 days ago: expired */
        {"D", {"v4"}, 5 * DAY, 0},         /* never pulled, young: kept */
    };
    const char *policy = POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"v*\"],"
                                         "\"countType\":\"sinceImagePulled\",\"countUnit\":"
                                         "\"days\",\"countNumber\":30"));
    assert_string_equal(expired(policy, imgs, 4), "B,C");
}

/* A prefix matches the start of a tag; a pattern must match the whole tag. */
static void prefix_versus_pattern(void **state)
{
    struct ex imgs[] = {
        {"A", {"release-1"}, 9 * DAY},
        {"B", {"pre-release-1"}, 8 * DAY},
        {"C", {"release"}, 7 * DAY},
        {"D", {"v1-release"}, 6 * DAY},
    };
    const char *prefix =
        POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"release\"],"
                        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\","
                        "\"countNumber\":1"));
    assert_string_equal(expired(prefix, imgs, 4), "A,C");
    const char *pattern =
        POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*release*\"],"
                        "\"countType\":\"sinceImagePushed\",\"countUnit\":"
                        "\"days\",\"countNumber\":1"));
    assert_string_equal(expired(pattern, imgs, 4), "A,B,C,D");
    const char *exact = POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"release\"],"
                                        "\"countType\":\"sinceImagePushed\",\"countUnit\":"
                                        "\"days\",\"countNumber\":1"));
    assert_string_equal(expired(exact, imgs, 4), "C");
}

/* Exactly the count is kept; the boundary of an age rule is "older than", not "as old as". */
static void boundaries(void **state)
{
    struct ex imgs[] = {{"A", {"v1"}, 3 * DAY}, {"B", {"v2"}, 2 * DAY}, {"C", {"v3"}, 1 * DAY}};
    const char *keep3 = POLICY1(RULE(1, "\"tagStatus\":\"any\",\"countType\":"
                                        "\"imageCountMoreThan\",\"countNumber\":3"));
    assert_string_equal(expired(keep3, imgs, 3), "");
    const char *age2 = POLICY1(RULE(1, "\"tagStatus\":\"any\",\"countType\":\"sinceImagePushed\","
                                       "\"countUnit\":\"days\",\"countNumber\":2"));
    assert_string_equal(expired(age2, imgs, 3), "A");
}

/* Bad policies: each rejected with a message naming the rule and the reason. */
static void rejects(const char *policy, const char *want)
{
    struct berth_lc_policy p;
    int rc = berth_lc_policy_parse(policy, &p);
    if (rc != BERTH_EINVALID)
        fail_msg("accepted: %s", policy);
    if (!strstr(berth_err_detail(), want))
        fail_msg("message \"%s\" lacks \"%s\"", berth_err_detail(), want);
}

static void bad_policies(void **state)
{
    const char *count1 = "\"countType\":\"imageCountMoreThan\",\"countNumber\":1";
    char buf[1024];
    /* duplicate priorities */
    rejects(POLICY2(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"a\"],"
                            "\"countType\":\"imageCountMoreThan\",\"countNumber\":1"),
                    RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"b\"],"
                            "\"countType\":\"imageCountMoreThan\",\"countNumber\":1")),
            "rulePriority 1 is used by more than one rule");
    /* tagStatus any not last */
    rejects(POLICY2(RULE(1, "\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1"),
                    RULE(2, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1")),
            "rule with rulePriority 1 has tagStatus \"any\", so it must have the highest");
    /* tagged without prefix or pattern */
    rejects(POLICY1(RULE(3, "\"tagStatus\":\"tagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1")),
            "rule with rulePriority 3: tagStatus \"tagged\" needs a tagPrefixList or a "
            "tagPatternList");
    /* countUnit with imageCountMoreThan */
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countUnit\":\"days\",\"countNumber\":1")),
            "countUnit must not be given with countType imageCountMoreThan");
    /* unknown fields, at every level */
    rejects("{\"rules\":[" RULE(1, "\"tagStatus\":\"untagged\",\"countType\":"
                                   "\"imageCountMoreThan\",\"countNumber\":1") "],\"extra\":1}",
            "policy: unknown field \"extra\"");
    rejects(POLICY1("{\"rulePriority\":2,\"selection\":{\"tagStatus\":\"untagged\","
                    "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":"
                    "{\"type\":\"expire\"},\"priority\":2}"),
            "rule with rulePriority 2: unknown field \"priority\"");
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1,\"tagPrefix\":\"x\"")),
            "unknown field \"tagPrefix\"");
    /* both lists in one rule */
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"a\"],"
                            "\"tagPatternList\":[\"b*\"],\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1")),
            "cannot be used together");
    /* more than four wildcards; four are fine */
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"test*1*2*3*4*5*6\"],"
                            "\"countType\":\"imageCountMoreThan\",\"countNumber\":1")),
            "has 6 wildcards, at most 4");
    assert_string_equal(
        expired(POLICY1(RULE(1, "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*test*1*2*3\","
                                "\"test*1*2*3*\"],\"countType\":\"imageCountMoreThan\","
                                "\"countNumber\":1")),
                (struct ex[]){{"A", {"xtest112233"}, 1}}, 1),
        "");
    /* untagged (or any) with a tag list */
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"tagPrefixList\":[\"a\"],"
                            "\"countType\":\"imageCountMoreThan\",\"countNumber\":1")),
            "tagStatus \"untagged\" must not have a tagPrefixList");
    /* two rules selecting untagged images */
    rejects(POLICY2(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1"),
                    RULE(2, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":5")),
            "both select untagged images");
    /* the same tag prefixes twice (in any order) */
    rejects(POLICY2(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"a\",\"b\"],"
                            "\"countType\":\"imageCountMoreThan\",\"countNumber\":1"),
                    RULE(2, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"b\",\"a\"],"
                            "\"countType\":\"imageCountMoreThan\",\"countNumber\":3")),
            "select the same tags");
    /* missing or wrong counts */
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\","
                            "\"countNumber\":1")),
            "needs countUnit \"days\"");
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\","
                            "\"countUnit\":\"hours\",\"countNumber\":1")),
            "countUnit must be \"days\"");
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":0")),
            "countNumber must be an integer from 1");
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":\"5\"")),
            "countNumber must be an integer");
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"untagged\",\"countType\":\"newest\","
                            "\"countNumber\":1")),
            "countType \"newest\" is not");
    rejects(POLICY1(RULE(1, "\"tagStatus\":\"some\",\"countType\":\"imageCountMoreThan\","
                            "\"countNumber\":1")),
            "tagStatus \"some\" is not tagged, untagged or any");
    rejects(POLICY1("{\"rulePriority\":0,\"selection\":{\"tagStatus\":\"untagged\","
                    "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":"
                    "{\"type\":\"expire\"}}"),
            "rules[0]: rulePriority must be an integer from 1");
    rejects(POLICY1("{\"selection\":{\"tagStatus\":\"untagged\",\"countType\":"
                    "\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}"),
            "rules[0]: rulePriority is required");
    /* actions */
    rejects(POLICY1("{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"untagged\","
                    "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":"
                    "{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}"),
            "transition needs archive storage");
    rejects(POLICY1("{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"untagged\","
                    "\"countType\":\"imageCountMoreThan\",\"countNumber\":1}}"),
            "action is required");
    /* not JSON, duplicate keys, empty rules */
    rejects("{\"rules\": [", "invalid JSON");
    rejects("{\"rules\":[],\"rules\":[]}", "invalid JSON");
    rejects("{\"rules\":[]}", "\"rules\" must be a non-empty list");
    rejects("[1,2]", "must be a JSON object");
    /* 51 rules */
    size_t off = (size_t)snprintf(buf, sizeof(buf), "{\"rules\":[");
    char *big = malloc(51 * 200 + 64);
    assert_non_null(big);
    memcpy(big, buf, off);
    for (int i = 1; i <= 51; i++)
        off += (size_t)sprintf(big + off,
                               "%s{\"rulePriority\":%d,\"selection\":{\"tagStatus\":\"tagged\","
                               "\"tagPrefixList\":[\"t%d\"],%s},\"action\":{\"type\":"
                               "\"expire\"}}",
                               i > 1 ? "," : "", i, i, count1);
    strcpy(big + off, "]}");
    rejects(big, "the policy has 51 rules, at most 50");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_image_age),
        cmocka_unit_test(example_image_age_untagged),
        cmocka_unit_test(example_image_count),
        cmocka_unit_test(example_multiple_rules_a),
        cmocka_unit_test(example_multiple_rules_b),
        cmocka_unit_test(example_multiple_tags_a),
        cmocka_unit_test(example_multiple_tags_b),
        cmocka_unit_test(example_all_images_a),
        cmocka_unit_test(example_all_images_b),
        cmocka_unit_test(priority_order_not_list_order),
        cmocka_unit_test(since_image_pulled),
        cmocka_unit_test(prefix_versus_pattern),
        cmocka_unit_test(boundaries),
        cmocka_unit_test(bad_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
