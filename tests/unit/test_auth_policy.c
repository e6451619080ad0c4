/*
 * IAM policies: validation, statement matching, conditions, principals and the authorization
 * decision (IAM User Guide: policy elements, condition operators, evaluation logic, and the ECR
 * guide's cross-account "hub and spoke" repository policy example).
 *
 * Policies are written with ' for " to keep the tables readable; ` stands for a literal '.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/err.h"
#include "core/limits.h"

#define ACCT1 "111111111111"
#define REPO "arn:aws:ecr:us-east-1:111111111111:repository/shared/app"
#define REPO2 "arn:aws:ecr:us-east-1:111111111111:repository/secret"
#define ALICE "arn:aws:iam::111111111111:user/alice"
#define BOB "arn:aws:iam::111111111111:user/bob"
#define SPOKE "arn:aws:iam::222222222222:user/ci"
#define EVE "arn:aws:iam::333333333333:user/eve"

#define DOC(stmts) "{'Version':'2012-10-17','Statement':[" stmts "]}"
#define ALLOW_ON(actions, resources)                                                               \
    "{'Effect':'Allow','Action':" actions ",'Resource':" resources "}"
#define DENY_ON(actions, resources)                                                                \
    "{'Effect':'Deny','Action':" actions ",'Resource':" resources "}"
/* An identity policy allowing everything, restricted by one Condition block. */
#define WHEN(cond) DOC("{'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':" cond "}")

static char *unquote(const char *src)
{
    size_t n = strlen(src);
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i <= n; i++)
        s[i] = src[i] == '\'' ? '"' : src[i] == '`' ? '\'' : src[i];
    return s;
}

static int parse(const char *src, int resource_policy, struct berth_policy **out)
{
    char *s = unquote(src);
    berth_err_clear();
    int rc = berth_policy_parse(s, strlen(s), resource_policy, out);
    free(s);
    return rc;
}

static struct berth_policy *must_parse(const char *name, const char *src, int resource_policy)
{
    struct berth_policy *p = NULL;
    if (!src)
        return NULL;
    if (parse(src, resource_policy, &p) != 0)
        fail_msg("%s: policy should parse: %s", name, berth_err_detail());
    return p;
}

/* ---- validation ------------------------------------------------------------------------ */

struct pcase {
    const char *policy;
    int resource_policy;
    const char *msg; /* must appear in berth_err_detail() */
};

static const struct pcase parse_errors[] = {
    {"{", 0, "not valid JSON"},
    {"[]", 0, "must be a JSON object"},
    {"{'Version':'2012-10-17','Statement':{'Effect':'Allow','Effect':'Deny','Action':'*',"
     "'Resource':'*'}}",
     0, "duplicate"},
    {"{'Version':'2020-01-01','Statement':[]}", 0, "Version must be"},
    {"{'Version':'2012-10-17'}", 0, "Statement is required"},
    {"{'Statement':'x'}", 0, "Statement must be an object or an array"},
    {"{'Statement':[]}", 0, "Statement must not be an empty array"},
    {"{'Statement':[], 'Extra':1}", 0, "policy: unknown element Extra"},
    {"{'Id':5,'Statement':[" ALLOW_ON("'*'", "'*'") "]}", 0, "Id must be a string"},
    {DOC("7"), 0, "Statement[0] must be an object"},
    {DOC("{'Effects':'Allow','Action':'*','Resource':'*'}"), 0,
     "Statement[0]: unknown element Effects"},
    {DOC("{'Action':'*','Resource':'*'}"), 0, "Statement[0]: Effect is required"},
    {DOC(ALLOW_ON("'*'", "'*'") ",{'Effect':'allow','Action':'*','Resource':'*'}"), 0,
     "Statement[1]: Effect must be Allow or Deny"},
    {DOC("{'Sid':1,'Effect':'Allow','Action':'*','Resource':'*'}"), 0,
     "Statement[0]: Sid must be a string"},
    {DOC("{'Sid':'A','Effect':'Allow','Action':'*','Resource':'*'},"
         "{'Sid':'A','Effect':'Deny','Action':'*','Resource':'*'}"),
     0, "Statement[1]: Sid repeats the Sid of Statement[0]"},
    {DOC("{'Effect':'Allow','Action':'*','NotAction':'ecr:*','Resource':'*'}"), 0,
     "Statement[0]: Action and NotAction cannot both be present"},
    {DOC("{'Effect':'Allow','Resource':'*'}"), 0, "Statement[0]: Action or NotAction is required"},
    {DOC(ALLOW_ON("5", "'*'")), 0, "Statement[0].Action must be a string or an array"},
    {DOC(ALLOW_ON("[]", "'*'")), 0, "Statement[0].Action must not be an empty array"},
    {DOC(ALLOW_ON("['ecr:GetAuthorizationToken', 3]", "'*'")), 0,
     "Statement[0].Action[1] must be a string"},
    {DOC(ALLOW_ON("'BatchGetImage'", "'*'")), 0,
     "Statement[0].Action[0] must be \"*\" or service:action"},
    {DOC("{'Effect':'Allow','NotAction':':x','Resource':'*'}"), 0,
     "Statement[0].NotAction[0] must be"},
    {DOC("{'Effect':'Allow','Action':'*'}"), 0,
     "Statement[0]: Resource or NotResource is required in an identity policy"},
    {DOC("{'Effect':'Allow','Action':'*','Resource':'*','NotResource':'*'}"), 0,
     "Statement[0]: Resource and NotResource cannot both be present"},
    {DOC(ALLOW_ON("'*'", "'repository/app'")), 0,
     "Statement[0].Resource[0] must be \"*\" or an ARN"},
    {DOC(ALLOW_ON("'*'", "{}")), 0, "Statement[0].Resource must be a string or an array"},
    {DOC("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*'}"), 0,
     "Statement[0]: Principal is not allowed in an identity policy"},
    {DOC("{'Effect':'Deny','NotPrincipal':{'AWS':'*'},'Action':'*','Resource':'*'}"), 0,
     "Statement[0]: NotPrincipal is not allowed in an identity policy"},
    {DOC("{'Effect':'Allow','Action':'*'}"), 1,
     "Statement[0]: Principal or NotPrincipal is required in a resource policy"},
    {DOC("{'Effect':'Deny','Principal':'*','NotPrincipal':'*','Action':'*'}"), 1,
     "Statement[0]: Principal and NotPrincipal cannot both be present"},
    {DOC("{'Effect':'Allow','Principal':'" ALICE "','Action':'*'}"), 1,
     "Statement[0].Principal must be \"*\" or an object"},
    {DOC("{'Effect':'Allow','Principal':{},'Action':'*'}"), 1,
     "Statement[0].Principal must be \"*\" or a non-empty object"},
    {DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111111111111:user/*'},"
         "'Action':'*'}"),
     1, "Statement[0].Principal.AWS[0] must be"},
    {DOC("{'Effect':'Allow','Principal':{'AWS':['" ACCT1 "','11111']},'Action':'*'}"), 1,
     "Statement[0].Principal.AWS[1] must be"},
    {DOC("{'Effect':'Allow','Principal':{'AWS':[]},'Action':'*'}"), 1,
     "Statement[0].Principal.AWS must be a string or a non-empty array"},
    {DOC("{'Effect':'Allow','Principal':{'Federated':'cognito-identity.amazonaws.com'},"
         "'Action':'*'}"),
     1, "Statement[0].Principal: principal type Federated is not supported"},
    {DOC("{'Effect':'Allow','NotPrincipal':{'AWS':'" ALICE "'},'Action':'*'}"), 1,
     "Statement[0]: NotPrincipal is only allowed with Effect Deny"},
    {WHEN("'x'"), 0, "Statement[0].Condition must be a non-empty object"},
    {WHEN("{'StringEqualz':{'aws:username':'a'}}"), 0,
     "Statement[0].Condition: unknown condition operator StringEqualz"},
    {WHEN("{'BinaryEquals':{'aws:username':'YQ=='}}"), 0, "unknown condition operator"},
    {WHEN("{'ForSomeValues:StringEquals':{'aws:TagKeys':'a'}}"), 0,
     "unknown condition operator ForSomeValues:StringEquals"},
    {WHEN("{'StringEquals':'alice'}"), 0,
     "Statement[0].Condition.StringEquals must be a non-empty"},
    {WHEN("{'StringEquals':{'username':'alice'}}"), 0,
     "Statement[0].Condition.StringEquals: condition key username must be prefix:name"},
    {WHEN("{'StringEquals':{'aws:username':{'a':1}}}"), 0,
     "Statement[0].Condition.StringEquals.aws:username must be a string, boolean, number"},
    {WHEN("{'StringEquals':{'aws:username':['a',null]}}"), 0,
     "Statement[0].Condition.StringEquals.aws:username[1] must be a string"},
    {WHEN("{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}"), 0,
     "Statement[0].Condition.IpAddress.aws:SourceIp[0] is not a valid IpAddress value"},
    {WHEN("{'IpAddress':{'aws:SourceIp':['10.0.0.0/8','10.0.0.x']}}"), 0,
     "aws:SourceIp[1] is not a valid IpAddress value"},
    {WHEN("{'NotIpAddress':{'aws:SourceIp':'2001:db8::/129'}}"), 0, "not a valid NotIpAddress"},
    {WHEN("{'Bool':{'aws:SecureTransport':'yes'}}"), 0, "not a valid Bool value"},
    {WHEN("{'Null':{'aws:TokenIssueTime':'maybe'}}"), 0, "not a valid Null value"},
    {WHEN("{'NullIfExists':{'aws:TokenIssueTime':'true'}}"), 0,
     "NullIfExists cannot be combined with IfExists"},
    {WHEN("{'NumericLessThan':{'ecr:count':'ten'}}"), 0, "not a valid NumericLessThan value"},
    {WHEN("{'NumericLessThan':{'ecr:count':'nan'}}"), 0, "not a valid NumericLessThan value"},
    {WHEN("{'DateLessThan':{'aws:CurrentTime':'yesterday'}}"), 0, "not a valid DateLessThan"},
};

static void parse_rejects(void **state)
{
    for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++) {
        const struct pcase *c = &parse_errors[i];
        struct berth_policy *p = (struct berth_policy *)1;
        int rc = parse(c->policy, c->resource_policy, &p);
        if (rc != BERTH_EINVALID)
            fail_msg("case %zu (%s): rc %d, want BERTH_EINVALID", i, c->msg, rc);
        if (p != NULL)
            fail_msg("case %zu: out not reset to NULL", i);
        if (!strstr(berth_err_detail(), c->msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, berth_err_detail(), c->msg);
        assert_int_equal(berth_err_what(), BERTH_WHAT_POLICY);
    }
}

static void parse_limits(void **state)
{
    struct berth_policy *p = NULL;
    /* One byte over the size limit, with valid JSON, is refused before parsing. */
    size_t n = BERTH_POLICY_MAX + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"Statement\":[]}", 16);
    big[n] = '\0';
    assert_int_equal(berth_policy_parse(big, n, 0, &p), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "the limit is 10240"));
    free(big);

    const char *deep = "{\"Statement\":[[[[[[[[[[]]]]]]]]]]}";
    assert_int_equal(berth_policy_parse(deep, strlen(deep), 0, &p), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "nests deeper than 8"));
    /* Brackets inside strings do not count. */
    const char *str = "{\"Statement\":{\"Sid\":\"[[[[[[[[[[[\",\"Effect\":\"Allow\","
                      "\"Action\":\"*\",\"Resource\":\"*\"}}";
    assert_int_equal(berth_policy_parse(str, strlen(str), 0, &p), 0);
    berth_policy_free(p);

    assert_int_equal(berth_policy_parse("", 0, 0, &p), BERTH_EINVALID);
    assert_int_equal(berth_policy_parse(NULL, 0, 0, &p), BERTH_EINVALID);
    /* An embedded NUL is caught because the length is explicit. */
    assert_int_equal(berth_policy_parse("{\"a\":\"\0\"}", 9, 0, &p), BERTH_EINVALID);
    berth_policy_free(NULL);
}

static void parse_accepts(void **state)
{
    static const struct {
        const char *policy;
        int resource_policy;
    } ok[] = {
        /* No Version, a single statement object, a Sid, an Id. */
        {"{'Id':'x','Statement':{'Sid':'One','Effect':'Allow','Action':'ecr:*','Resource':'*'}}",
         0},
        {"{'Version':'2008-10-17','Statement':[" ALLOW_ON("['ecr:BatchGetImage','ecr:Get*']",
                                                          "['" REPO "','" REPO2 "']") "]}",
         0},
        /* Resource is optional in a resource policy; every principal form. */
        {DOC("{'Effect':'Allow','Principal':'*','Action':'ecr:*'}"), 1},
        {DOC("{'Effect':'Allow','Principal':{'AWS':['*','" ACCT1 "','arn:aws:iam::" ACCT1
             ":root','" ALICE "','arn:aws:iam::" ACCT1 ":role/r',"
             "'arn:aws:sts::" ACCT1 ":assumed-role/r/s']},'Action':'ecr:*'}"),
         1},
        {DOC("{'Effect':'Allow','Principal':{'Service':'codebuild.amazonaws.com'},"
             "'Action':'ecr:BatchGetImage','Resource':'" REPO "'}"),
         1},
        {DOC("{'Effect':'Deny','NotPrincipal':{'AWS':'" ALICE "'},'Action':'ecr:*'}"), 1},
        /* Unquoted booleans and numbers in conditions. */
        {WHEN("{'Bool':{'aws:SecureTransport':true},'NumericLessThan':{'ecr:n':[1,2.5]},"
              "'ForAllValues:StringLikeIfExists':{'aws:TagKeys':['a*']},"
              "'IpAddress':{'aws:SourceIp':['10.0.0.0/8','2001:db8::/32','192.0.2.1']},"
              "'DateGreaterThan':{'aws:CurrentTime':['2020-01-01T00:00:00Z','1700000000',"
              "'2020-01-01T00:00:00.5+02:00','2020-01-01']}}"),
         0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct berth_policy *p = NULL;
        if (parse(ok[i].policy, ok[i].resource_policy, &p) != 0)
            fail_msg("case %zu should parse: %s", i, berth_err_detail());
        assert_non_null(p);
        berth_policy_free(p);
    }
}

/* ---- evaluation ------------------------------------------------------------------------ */

struct ecase {
    const char *name;
    const char *policy;
    int resource_policy;
    const char *action;
    const char *resource;
    const char *principal;
    const char *ctx[8]; /* key, value, key, value, ... */
    enum berth_policy_effect want;
};

#define N BERTH_POLICY_NONE
#define A BERTH_POLICY_ALLOW
#define D BERTH_POLICY_DENY
#define PULL "ecr:BatchGetImage"

#define P_PULL DOC(ALLOW_ON("'ecr:BatchGetImage'", "'" REPO "'"))
#define P_NOTACTION DOC("{'Effect':'Allow','NotAction':'ecr:Delete*','Resource':'*'}")
#define P_NOTRESOURCE DOC("{'Effect':'Allow','Action':'ecr:*','NotResource':'" REPO2 "'}")
#define P_DENY_WINS DOC(ALLOW_ON("'ecr:*'", "'*'") "," DENY_ON("'ecr:Batch*'", "'" REPO "'"))
#define P_IP4 WHEN("{'IpAddress':{'aws:SourceIp':['10.0.0.0/8','192.0.2.7','198.51.100.0/25']}}")
#define P_IP6N WHEN("{'IpAddress':{'aws:SourceIp':'2001:db8:8000::/33'}}")
#define P_IP6 WHEN("{'IpAddress':{'aws:SourceIp':'2001:db8::/32'}}")
#define P_NOTIP WHEN("{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}")
#define P_TLS WHEN("{'Bool':{'aws:SecureTransport':'true'}}")
#define P_TLSJ WHEN("{'Bool':{'aws:SecureTransport':true}}")
#define P_DENY_PLAIN                                                                               \
    DOC(ALLOW_ON("'*'", "'*'") ",{'Effect':'Deny','Action':'*','Resource':'*','Condition':"        \
                               "{'Bool':{'aws:SecureTransport':'false'}}}")
#define P_NULL_T WHEN("{'Null':{'aws:TokenIssueTime':'true'}}")
#define P_NULL_F WHEN("{'Null':{'aws:TokenIssueTime':'false'}}")
#define P_USER WHEN("{'StringEquals':{'aws:username':'alice'}}")
#define P_USERS WHEN("{'StringEquals':{'aws:username':['alice','bob']}}")
#define P_NOTUSERS WHEN("{'StringNotEquals':{'aws:username':['alice','bob']}}")
#define P_USER_IC WHEN("{'StringEqualsIgnoreCase':{'aws:username':'ALICE'}}")
#define P_USER_IE WHEN("{'StringEqualsIfExists':{'aws:username':'alice'}}")
#define P_USER_NIC WHEN("{'StringNotEqualsIgnoreCase':{'aws:username':'ALICE'}}")
#define P_KEYCASE WHEN("{'StringEquals':{'AWS:UserName':'alice'}}")
#define P_LIKE WHEN("{'StringLike':{'aws:username':'ci-?*'}}")
#define P_NOTLIKE WHEN("{'StringNotLike':{'aws:username':'ci-*'}}")
#define P_AND2                                                                                     \
    WHEN("{'StringEquals':{'aws:username':'alice'},'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}}")
#define P_AND1 WHEN("{'StringEquals':{'aws:username':'alice','aws:PrincipalAccount':'" ACCT1 "'}}")
#define P_ARNEQ WHEN("{'ArnEquals':{'aws:PrincipalArn':'" ALICE "'}}")
#define P_ARNLIKE WHEN("{'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::*:user/ci*'}}")
#define P_ARNNE WHEN("{'ArnNotEquals':{'aws:PrincipalArn':'" ALICE "'}}")
#define P_ARNNL WHEN("{'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::*:user/*'}}")
#define P_NUM WHEN("{'NumericLessThanEquals':{'ecr:maxResults':10}}")
#define P_DATE WHEN("{'DateLessThan':{'aws:CurrentTime':'2030-01-01T00:00:00Z'}}")
#define P_ANY WHEN("{'ForAnyValue:StringEquals':{'aws:TagKeys':['team','owner']}}")
#define P_ALL WHEN("{'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}}")
#define P_VAR                                                                                      \
    DOC(ALLOW_ON("'ecr:*'", "'arn:aws:ecr:us-east-1:111111111111:repository/${aws:username}/*'"))
#define P_VAR08                                                                                    \
    "{'Version':'2008-10-17','Statement':" ALLOW_ON(                                               \
        "'ecr:*'", "'arn:aws:ecr:us-east-1:111111111111:repository/${aws:username}/*'") "}"
#define P_VARDEF                                                                                   \
    DOC(ALLOW_ON("'ecr:*'",                                                                        \
                 "'arn:aws:ecr:us-east-1:111111111111:repository/${aws:username, `guest`}/*'"))
#define P_VARCOND WHEN("{'StringLike':{'aws:PrincipalArn':'*:user/${aws:username}'}}")
#define P_VARSTAR WHEN("{'StringEquals':{'ecr:tag':'a${*}b'}}")

#define R_STMT(effect, principal)                                                                  \
    "{'Effect':'" effect "','Principal':" principal ",'Action':'ecr:*'}"
#define R_ANY DOC(R_STMT("Allow", "'*'"))
#define R_AWSANY DOC(R_STMT("Allow", "{'AWS':'*'}"))
#define R_ROOT DOC(R_STMT("Allow", "{'AWS':'arn:aws:iam::" ACCT1 ":root'}"))
#define R_BARE DOC(R_STMT("Allow", "{'AWS':'" ACCT1 "'}"))
#define R_USER DOC(R_STMT("Allow", "{'AWS':['" ALICE "']}"))
#define R_SVC DOC(R_STMT("Allow", "{'Service':'codebuild.amazonaws.com'}"))
#define R_NOTP_BOTH                                                                                \
    DOC(R_STMT("Allow", "'*'") ",{'Effect':'Deny','NotPrincipal':{'AWS':['" BOB                    \
                               "','arn:aws:iam::" ACCT1 ":root']},'Action':'ecr:*'}")
#define R_NOTP_USER                                                                                \
    DOC(R_STMT("Allow", "'*'") ",{'Effect':'Deny','NotPrincipal':{'AWS':'" BOB                     \
                               "'},'Action':'ecr:*'}")
#define R_RES DOC("{'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'" REPO "'}")

static const struct ecase eval_cases[] = {
    /* Action, NotAction, wildcards: actions are case-insensitive. */
    {"exact action", P_PULL, 0, PULL, REPO, ALICE, {NULL}, A},
    {"other action", P_PULL, 0, "ecr:PutImage", REPO, ALICE, {NULL}, N},
    {"other resource", P_PULL, 0, PULL, REPO2, ALICE, {NULL}, N},
    {"action case", P_PULL, 0, "ECR:batchgetimage", REPO, ALICE, {NULL}, A},
    {"NotAction allows the rest", P_NOTACTION, 0, PULL, REPO, ALICE, {NULL}, A},
    {"NotAction excludes", P_NOTACTION, 0, "ecr:DeleteRepository", REPO, ALICE, {NULL}, N},
    {"ecr:batch* any case", DOC(ALLOW_ON("'ecr:batch*'", "'*'")), 0, PULL, REPO, ALICE, {NULL}, A},
    {"ECR:* any case", DOC(ALLOW_ON("'ECR:*'", "'*'")), 0, "ecr:PutImage", REPO, ALICE, {NULL}, A},
    {"* is every action", DOC(ALLOW_ON("'*'", "'*'")), 0, "ecr:PutImage", REPO, ALICE, {NULL}, A},
    {"? is one char",
     DOC(ALLOW_ON("'ecr:?utImage'", "'*'")),
     0,
     "ecr:PutImage",
     REPO,
     ALICE,
     {NULL},
     A},
    {"? is exactly one",
     DOC(ALLOW_ON("'ecr:?Image'", "'*'")),
     0,
     "ecr:PutImage",
     REPO,
     ALICE,
     {NULL},
     N},
    {"other service", DOC(ALLOW_ON("'s3:*'", "'*'")), 0, PULL, REPO, ALICE, {NULL}, N},
    /* Resources: case-sensitive wildcards; NotResource. */
    {"resource *",
     DOC(ALLOW_ON("'ecr:*'", "'arn:aws:ecr:us-east-1:111111111111:repository/shared/*'")),
     0,
     PULL,
     REPO,
     ALICE,
     {NULL},
     A},
    {"resource case matters",
     DOC(ALLOW_ON("'ecr:*'", "'arn:aws:ecr:us-east-1:111111111111:repository/Shared/*'")),
     0,
     PULL,
     REPO,
     ALICE,
     {NULL},
     N},
    {"resource ?",
     DOC(ALLOW_ON("'ecr:*'", "'arn:aws:ecr:*:111111111111:repository/shared/ap?'")),
     0,
     PULL,
     REPO,
     ALICE,
     {NULL},
     A},
    {"resource ? exactly one",
     DOC(ALLOW_ON("'ecr:*'", "'arn:aws:ecr:*:111111111111:repository/shared/a?'")),
     0,
     PULL,
     REPO,
     ALICE,
     {NULL},
     N},
    {"NotResource allows the rest", P_NOTRESOURCE, 0, PULL, REPO, ALICE, {NULL}, A},
    {"NotResource excludes", P_NOTRESOURCE, 0, PULL, REPO2, ALICE, {NULL}, N},
    /* Deny beats Allow; nothing matching is an implicit deny (NONE). */
    {"deny overrides allow", P_DENY_WINS, 0, PULL, REPO, ALICE, {NULL}, D},
    {"deny elsewhere leaves allow", P_DENY_WINS, 0, "ecr:PutImage", REPO, ALICE, {NULL}, A},
    {"implicit deny",
     DOC(ALLOW_ON("'ecr:PutImage'", "'" REPO2 "'")),
     0,
     PULL,
     REPO,
     ALICE,
     {NULL},
     N},
    /* String operators. */
    {"StringEquals match", P_USER, 0, PULL, REPO, ALICE, {"aws:username", "alice"}, A},
    {"StringEquals case", P_USER, 0, PULL, REPO, ALICE, {"aws:username", "Alice"}, N},
    {"StringEquals absent key", P_USER, 0, PULL, REPO, ALICE, {NULL}, N},
    {"key names ignore case", P_KEYCASE, 0, PULL, REPO, ALICE, {"aws:username", "alice"}, A},
    {"values OR", P_USERS, 0, PULL, REPO, ALICE, {"aws:username", "bob"}, A},
    {"values OR none", P_USERS, 0, PULL, REPO, ALICE, {"aws:username", "carol"}, N},
    {"StringNotEquals NOR passes", P_NOTUSERS, 0, PULL, REPO, ALICE, {"aws:username", "carol"}, A},
    {"StringNotEquals NOR fails", P_NOTUSERS, 0, PULL, REPO, ALICE, {"aws:username", "bob"}, N},
    {"negated operator, absent key", P_NOTUSERS, 0, PULL, REPO, ALICE, {NULL}, A},
    {"StringEqualsIgnoreCase", P_USER_IC, 0, PULL, REPO, ALICE, {"aws:username", "aLiCe"}, A},
    {"StringNotEqualsIgnoreCase", P_USER_NIC, 0, PULL, REPO, ALICE, {"aws:username", "aLiCe"}, N},
    {"IfExists absent", P_USER_IE, 0, PULL, REPO, ALICE, {NULL}, A},
    {"IfExists present, no match", P_USER_IE, 0, PULL, REPO, ALICE, {"aws:username", "bob"}, N},
    {"IfExists present, match", P_USER_IE, 0, PULL, REPO, ALICE, {"aws:username", "alice"}, A},
    {"StringLike", P_LIKE, 0, PULL, REPO, ALICE, {"aws:username", "ci-runner"}, A},
    {"StringLike ? needs a char", P_LIKE, 0, PULL, REPO, ALICE, {"aws:username", "ci-"}, N},
    {"StringNotLike passes", P_NOTLIKE, 0, PULL, REPO, ALICE, {"aws:username", "dev"}, A},
    {"StringNotLike fails", P_NOTLIKE, 0, PULL, REPO, ALICE, {"aws:username", "ci-1"}, N},
    {"two operators AND, both",
     P_AND2,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:username", "alice", "aws:SourceIp", "10.9.8.7"},
     A},
    {"two operators AND, one",
     P_AND2,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:username", "alice", "aws:SourceIp", "11.9.8.7"},
     N},
    {"two keys AND, both",
     P_AND1,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:username", "alice", "aws:PrincipalAccount", ACCT1},
     A},
    {"two keys AND, one missing", P_AND1, 0, PULL, REPO, ALICE, {"aws:username", "alice"}, N},
    /* ARN operators: per component, * does not cross a colon. */
    {"ArnEquals", P_ARNEQ, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", ALICE}, A},
    {"ArnEquals other", P_ARNEQ, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", BOB}, N},
    {"ArnLike", P_ARNLIKE, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", SPOKE}, A},
    {"ArnLike wrong type",
     P_ARNLIKE,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:PrincipalArn", "arn:aws:iam::222222222222:role/ci"},
     N},
    {"ArnLike * stays in its component",
     WHEN("{'ArnLike':{'aws:PrincipalArn':'arn:aws:*:user/ci'}}"),
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:PrincipalArn", SPOKE},
     N},
    {"ArnNotEquals", P_ARNNE, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", BOB}, A},
    {"ArnNotEquals same", P_ARNNE, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", ALICE}, N},
    {"ArnNotLike", P_ARNNL, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", "arn:aws:iam::1:role/x"}, A},
    {"ArnNotLike match", P_ARNNL, 0, PULL, REPO, ALICE, {"aws:PrincipalArn", ALICE}, N},
    /* Addresses. */
    {"IpAddress v4 range", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "10.1.2.3"}, A},
    {"IpAddress v4 single", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "192.0.2.7"}, A},
    {"IpAddress v4 outside", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "192.0.2.8"}, N},
    {"IpAddress /25 inside", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "198.51.100.127"}, A},
    {"IpAddress /25 outside", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "198.51.100.128"}, N},
    {"IpAddress v6 /33 inside",
     P_IP6N,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:SourceIp", "2001:db8:9fff::1"},
     A},
    {"IpAddress v6 /33 outside",
     P_IP6N,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:SourceIp", "2001:db8:7fff::1"},
     N},
    {"IpAddress v4-mapped v6", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "::ffff:10.0.0.1"}, A},
    {"IpAddress absent", P_IP4, 0, PULL, REPO, ALICE, {NULL}, N},
    {"IpAddress garbage", P_IP4, 0, PULL, REPO, ALICE, {"aws:SourceIp", "10.1.2"}, N},
    {"IpAddress v6 range", P_IP6, 0, PULL, REPO, ALICE, {"aws:SourceIp", "2001:db8:ffff::1"}, A},
    {"IpAddress v6 outside", P_IP6, 0, PULL, REPO, ALICE, {"aws:SourceIp", "2001:db9::1"}, N},
    {"IpAddress v6 vs v4", P_IP6, 0, PULL, REPO, ALICE, {"aws:SourceIp", "10.0.0.1"}, N},
    {"NotIpAddress outside", P_NOTIP, 0, PULL, REPO, ALICE, {"aws:SourceIp", "192.0.2.1"}, A},
    {"NotIpAddress inside", P_NOTIP, 0, PULL, REPO, ALICE, {"aws:SourceIp", "10.0.0.1"}, N},
    /* Bool and Null. */
    {"Bool true", P_TLS, 0, PULL, REPO, ALICE, {"aws:SecureTransport", "true"}, A},
    {"Bool false", P_TLS, 0, PULL, REPO, ALICE, {"aws:SecureTransport", "false"}, N},
    {"Bool JSON true", P_TLSJ, 0, PULL, REPO, ALICE, {"aws:SecureTransport", "true"}, A},
    {"Bool absent", P_TLS, 0, PULL, REPO, ALICE, {NULL}, N},
    {"deny plain http", P_DENY_PLAIN, 0, PULL, REPO, ALICE, {"aws:SecureTransport", "false"}, D},
    {"allow https", P_DENY_PLAIN, 0, PULL, REPO, ALICE, {"aws:SecureTransport", "true"}, A},
    {"Null true, absent", P_NULL_T, 0, PULL, REPO, ALICE, {NULL}, A},
    {"Null true, present", P_NULL_T, 0, PULL, REPO, ALICE, {"aws:TokenIssueTime", "x"}, N},
    {"Null false, present", P_NULL_F, 0, PULL, REPO, ALICE, {"aws:TokenIssueTime", "x"}, A},
    {"Null false, absent", P_NULL_F, 0, PULL, REPO, ALICE, {NULL}, N},
    /* Numbers, dates, multivalued keys. */
    {"Numeric <= yes", P_NUM, 0, PULL, REPO, ALICE, {"ecr:maxResults", "10"}, A},
    {"Numeric <= no", P_NUM, 0, PULL, REPO, ALICE, {"ecr:maxResults", "10.5"}, N},
    {"Date before", P_DATE, 0, PULL, REPO, ALICE, {"aws:CurrentTime", "2029-12-31T23:59:59Z"}, A},
    {"Date after (offset)",
     P_DATE,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:CurrentTime", "2029-12-31T23:30:00-01:00"},
     N},
    {"Date epoch", P_DATE, 0, PULL, REPO, ALICE, {"aws:CurrentTime", "1700000000"}, A},
    {"ForAnyValue one hits",
     P_ANY,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:TagKeys", "env", "aws:TagKeys", "team"},
     A},
    {"ForAnyValue none", P_ANY, 0, PULL, REPO, ALICE, {"aws:TagKeys", "env"}, N},
    {"ForAnyValue absent", P_ANY, 0, PULL, REPO, ALICE, {NULL}, N},
    {"ForAllValues all in",
     P_ALL,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:TagKeys", "env", "aws:TagKeys", "team"},
     A},
    {"ForAllValues one out",
     P_ALL,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:TagKeys", "env", "aws:TagKeys", "owner"},
     N},
    {"ForAllValues absent", P_ALL, 0, PULL, REPO, ALICE, {NULL}, A},
    /* Policy variables (2012-10-17 only). */
    {"variable",
     P_VAR,
     0,
     PULL,
     "arn:aws:ecr:us-east-1:111111111111:repository/alice/app",
     ALICE,
     {"aws:username", "alice"},
     A},
    {"variable, other user",
     P_VAR,
     0,
     PULL,
     "arn:aws:ecr:us-east-1:111111111111:repository/alice/app",
     BOB,
     {"aws:username", "bob"},
     N},
    {"variable unresolved",
     P_VAR,
     0,
     PULL,
     "arn:aws:ecr:us-east-1:111111111111:repository/alice/app",
     ALICE,
     {NULL},
     N},
    {"variable value is literal",
     P_VAR,
     0,
     PULL,
     "arn:aws:ecr:us-east-1:111111111111:repository/alice/app",
     ALICE,
     {"aws:username", "*"},
     N},
    {"2008-10-17 has no variables",
     P_VAR08,
     0,
     PULL,
     "arn:aws:ecr:us-east-1:111111111111:repository/alice/app",
     ALICE,
     {"aws:username", "alice"},
     N},
    {"variable default",
     P_VARDEF,
     0,
     PULL,
     "arn:aws:ecr:us-east-1:111111111111:repository/guest/app",
     ALICE,
     {NULL},
     A},
    {"variable in condition",
     P_VARCOND,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:username", "alice", "aws:PrincipalArn", ALICE},
     A},
    {"variable in condition, mismatch",
     P_VARCOND,
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:username", "bob", "aws:PrincipalArn", ALICE},
     N},
    {"unresolved variable voids a negated condition",
     WHEN("{'StringNotEquals':{'aws:username':'x${aws:nokey}'}}"),
     0,
     PULL,
     REPO,
     ALICE,
     {"aws:username", "abc"},
     N},
    {"${*} is a literal star", P_VARSTAR, 0, PULL, REPO, ALICE, {"ecr:tag", "a*b"}, A},
    {"${*} is not a wildcard", P_VARSTAR, 0, PULL, REPO, ALICE, {"ecr:tag", "axb"}, N},
    /* Resource-policy principals. */
    {"* admits anonymous", R_ANY, 1, PULL, REPO, NULL, {NULL}, A},
    {"* admits users", R_ANY, 1, PULL, REPO, EVE, {NULL}, A},
    {"AWS * admits anonymous", R_AWSANY, 1, PULL, REPO, NULL, {NULL}, A},
    {"root: user of the account", R_ROOT, 1, PULL, REPO, BOB, {NULL}, A},
    {"root: other account", R_ROOT, 1, PULL, REPO, SPOKE, {NULL}, N},
    {"root: anonymous", R_ROOT, 1, PULL, REPO, NULL, {NULL}, N},
    {"bare account id", R_BARE, 1, PULL, REPO, ALICE, {NULL}, A},
    {"bare account id, other", R_BARE, 1, PULL, REPO, EVE, {NULL}, N},
    {"user ARN", R_USER, 1, PULL, REPO, ALICE, {NULL}, A},
    {"user ARN, other user", R_USER, 1, PULL, REPO, BOB, {NULL}, N},
    {"Service never a user", R_SVC, 1, PULL, REPO, ALICE, {NULL}, N},
    {"NotPrincipal spares the listed", R_NOTP_BOTH, 1, PULL, REPO, BOB, {NULL}, A},
    {"NotPrincipal denies the rest", R_NOTP_BOTH, 1, PULL, REPO, ALICE, {NULL}, D},
    {"NotPrincipal denies anonymous", R_NOTP_BOTH, 1, PULL, REPO, NULL, {NULL}, D},
    {"NotPrincipal needs the account", R_NOTP_USER, 1, PULL, REPO, BOB, {NULL}, D},
    {"no Resource: the resource itself", R_ANY, 1, PULL, REPO2, ALICE, {NULL}, A},
    {"Resource in a resource policy", R_RES, 1, PULL, REPO2, ALICE, {NULL}, N},
};

static void evaluate(void **state)
{
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct ecase *c = &eval_cases[i];
        struct berth_policy *p = must_parse(c->name, c->policy, c->resource_policy);
        struct berth_policy_ctx ctx[4];
        size_t n = 0;
        for (; n < 4 && c->ctx[2 * n]; n++)
            ctx[n] = (struct berth_policy_ctx){c->ctx[2 * n], c->ctx[2 * n + 1]};
        struct berth_policy_request req = {c->action, c->resource, c->principal, NULL, ctx, n};
        enum berth_policy_effect got = berth_policy_evaluate(p, &req);
        berth_policy_free(p);
        if (got != c->want)
            fail_msg("%s: got %d, want %d", c->name, got, c->want);
    }
}

/* ---- the decision -------------------------------------------------------------------- */

struct dcase {
    const char *name;
    const char *identity; /* one identity policy, or NULL */
    const char *repo;
    const char *registry;
    int is_admin;
    const char *principal;
    const char *principal_account;
    const char *action;
    int want;
    const char *reason; /* must appear in the reason */
};

/* The ECR guide's cross-account example: account 111111111111 shares shared/app for pulls. */
#define HUB_REPO                                                                                   \
    DOC("{'Sid':'AllowCrossAccountPull','Effect':'Allow','Principal':{'AWS':'arn:aws:iam::"        \
        "222222222222:root'},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer',"          \
        "'ecr:BatchCheckLayerAvailability']}")
#define SPOKE_ID                                                                                   \
    DOC(ALLOW_ON("['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer',"                              \
                 "'ecr:BatchCheckLayerAvailability']",                                             \
                 "'arn:aws:ecr:us-east-1:111111111111:repository/*'"))
#define ID_ALL DOC(ALLOW_ON("'ecr:*'", "'*'"))
#define ID_DENY_PUSH DOC(ALLOW_ON("'ecr:*'", "'*'") "," DENY_ON("'ecr:PutImage'", "'*'"))
#define REPO_DENY_ALL DOC("{'Effect':'Deny','Principal':'*','Action':'ecr:*'}")
#define REPO_ALICE DOC(R_STMT("Allow", "{'AWS':'" ALICE "'}"))
#define REG_SPOKE                                                                                  \
    DOC("{'Effect':'Allow','Principal':{'AWS':'222222222222'},'Action':'ecr:*',"                   \
        "'Resource':'arn:aws:ecr:us-east-1:111111111111:repository/*'}")
#define REG_DENY DOC("{'Effect':'Deny','Principal':'*','Action':'ecr:DeleteRepository'}")

static const struct dcase decide_cases[] = {
    {"hub and spoke: spoke user with identity policy pulls", SPOKE_ID, HUB_REPO, NULL, 0, SPOKE,
     NULL, PULL, 1, "cross-account: allowed"},
    {"hub and spoke: layer download too", SPOKE_ID, HUB_REPO, NULL, 0, SPOKE, "222222222222",
     "ecr:GetDownloadUrlForLayer", 1, "cross-account"},
    {"hub and spoke: no identity policy", NULL, HUB_REPO, NULL, 0, SPOKE, NULL, PULL, 0,
     "cross-account: no identity policy allows"},
    {"hub and spoke: push not shared", ID_ALL, HUB_REPO, NULL, 0, SPOKE, NULL, "ecr:PutImage", 0,
     "cross-account: no repository or registry policy allows"},
    {"hub and spoke: third account", SPOKE_ID, HUB_REPO, NULL, 0, EVE, NULL, PULL, 0,
     "cross-account: no repository or registry policy allows"},
    {"cross-account: nothing at all", NULL, NULL, NULL, 0, EVE, NULL, PULL, 0, "neither"},
    {"cross-account via registry policy", SPOKE_ID, NULL, REG_SPOKE, 0, SPOKE, NULL, PULL, 1,
     "cross-account: allowed"},
    {"cross-account admin still needs the resource side", NULL, NULL, NULL, 1, SPOKE, NULL, PULL, 0,
     "no repository or registry policy"},
    {"cross-account admin with resource allow", NULL, HUB_REPO, NULL, 1, SPOKE, NULL, PULL, 1,
     "cross-account"},
    {"same account: identity policy", ID_ALL, NULL, NULL, 0, ALICE, NULL, PULL, 1,
     "allowed by identity policy"},
    {"same account: nothing allows", NULL, NULL, NULL, 0, ALICE, NULL, PULL, 0,
     "no identity, repository or registry policy allows"},
    {"same account: repository policy names the user", NULL, REPO_ALICE, NULL, 0, ALICE, NULL, PULL,
     1, "allowed by repository policy"},
    {"same account: repository policy names another user", NULL, REPO_ALICE, NULL, 0, BOB, NULL,
     PULL, 0, "no identity"},
    {"same account: repository policy names only the account", NULL, R_ROOT, NULL, 0, ALICE, NULL,
     PULL, 0, "grants only the account"},
    {"same account: account grant plus identity policy", ID_ALL, R_ROOT, NULL, 0, ALICE, NULL, PULL,
     1, "allowed by identity policy"},
    {"same account: registry policy with *", NULL, NULL, R_ANY, 0, ALICE, NULL, PULL, 1,
     "allowed by registry policy"},
    {"explicit deny in identity policy", ID_DENY_PUSH, R_ANY, NULL, 0, ALICE, NULL, "ecr:PutImage",
     0, "explicit deny in identity policy"},
    {"explicit deny in repository policy", ID_ALL, REPO_DENY_ALL, NULL, 0, ALICE, NULL, PULL, 0,
     "explicit deny in repository policy"},
    {"explicit deny in registry policy", ID_ALL, NULL, REG_DENY, 0, ALICE, NULL,
     "ecr:DeleteRepository", 0, "explicit deny in registry policy"},
    {"admin: implicit allow", NULL, NULL, NULL, 1, ALICE, NULL, "ecr:DeleteRepository", 1,
     "account admin"},
    {"admin: loses to repository Deny", NULL, REPO_DENY_ALL, NULL, 1, ALICE, NULL, PULL, 0,
     "explicit deny in repository policy"},
    {"admin: loses to NotPrincipal Deny", NULL, R_NOTP_BOTH, NULL, 1, ALICE, NULL, PULL, 0,
     "explicit deny in repository policy"},
    {"anonymous: Principal *", NULL, R_ANY, NULL, 0, NULL, NULL, PULL, 1,
     "anonymous access allowed by repository policy"},
    {"anonymous: Principal AWS *", NULL, R_AWSANY, NULL, 0, NULL, NULL, PULL, 1, "anonymous"},
    {"anonymous: registry Principal *", NULL, NULL, R_ANY, 0, NULL, NULL, PULL, 1,
     "anonymous access allowed by registry policy"},
    {"anonymous: account principal is not enough", NULL, R_ROOT, NULL, 0, NULL, NULL, PULL, 0,
     "anonymous access needs"},
    {"anonymous: no policy", NULL, NULL, NULL, 0, NULL, NULL, PULL, 0, "anonymous access needs"},
    {"anonymous: identity policies do not count", ID_ALL, NULL, NULL, 1, NULL, NULL, PULL, 0,
     "anonymous access needs"},
    {"bad principal_account is never the same account", ID_ALL, NULL, NULL, 0, ALICE, "1111", PULL,
     0, "cross-account: no repository"},
};

static void decide(void **state)
{
    for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
        const struct dcase *c = &decide_cases[i];
        struct berth_policy *id = must_parse(c->name, c->identity, 0);
        struct berth_policy *repo = must_parse(c->name, c->repo, 1);
        struct berth_policy *reg = must_parse(c->name, c->registry, 1);
        const struct berth_policy *ids[1] = {id};
        struct berth_authz_input in = {ids, id ? 1 : 0, repo, reg, ACCT1, c->is_admin};
        struct berth_policy_request req = {c->action, REPO, c->principal, c->principal_account,
                                           NULL,      0};
        const char *reason = NULL;
        berth_err_clear();
        int got = berth_authz_decide(&in, &req, &reason);
        berth_policy_free(id);
        berth_policy_free(repo);
        berth_policy_free(reg);
        if (got != c->want)
            fail_msg("%s: got %d (%s), want %d", c->name, got, reason ? reason : "-", c->want);
        if (!reason || !strstr(reason, c->reason))
            fail_msg("%s: reason '%s' lacks '%s'", c->name, reason ? reason : "-", c->reason);
        if (!got && !strstr(berth_err_detail(), c->action))
            fail_msg("%s: detail '%s' does not name the action", c->name, berth_err_detail());
    }
}

static void decide_malformed(void **state)
{
    const char *reason = NULL;
    struct berth_authz_input in = {NULL, 0, NULL, NULL, ACCT1, 1};
    struct berth_policy_request req = {NULL, REPO, ALICE, NULL, NULL, 0};
    assert_int_equal(berth_authz_decide(&in, &req, &reason), 0);
    assert_non_null(strstr(reason, "malformed"));
    assert_int_equal(berth_authz_decide(NULL, &req, NULL), 0);
    req.action = PULL;
    in.nidentity = 1; /* a count with no array */
    assert_int_equal(berth_authz_decide(&in, &req, &reason), 0);
    assert_int_equal(berth_err_detail()[0] != '\0', 1);
    /* Evaluation of a NULL policy or request is simply NONE. */
    assert_int_equal(berth_policy_evaluate(NULL, &req), BERTH_POLICY_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rejects), cmocka_unit_test(parse_limits),
        cmocka_unit_test(parse_accepts), cmocka_unit_test(evaluate),
        cmocka_unit_test(decide),        cmocka_unit_test(decide_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
