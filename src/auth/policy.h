/*
 * policy — the IAM policy language: parse, evaluate, and the one authorization decision.
 *
 * Every call on both APIs (ECR JSON and OCI /v2/, whose calls are mapped to ECR actions such
 * as ecr:BatchGetImage) is authorized by berth_authz_decide() and nothing else, so the rules
 * live in one place and one test table. Three kinds of policy feed it: identity policies
 * attached to IAM users, the repository policy and the registry policy (both resource policies,
 * whose statements name a Principal).
 *
 * A parsed policy is immutable and holds no reference to the request, so one copy can be
 * shared by any number of threads evaluating at once. Parsing validates the way AWS does on
 * SetRepositoryPolicy / PutRegistryPolicy / CreatePolicy, and the error message names the
 * element at fault ("Statement[1]: Effect must be Allow or Deny") because it is returned to the
 * client verbatim.
 *
 * Semantics follow the IAM User Guide: "IAM JSON policy elements" (Condition operators,
 * Principal, NotPrincipal, Resource, Variables), "Conditions with multiple context keys or
 * values", "Policy evaluation logic" and "Cross-account policy evaluation logic".
 */
#ifndef BERTH_AUTH_POLICY_H
#define BERTH_AUTH_POLICY_H

#include <stddef.h>

struct berth_policy;

/* One entry of the condition context. Keys compare case-insensitively (aws:SourceIp and
 * aws:sourceip are the same key); a key given more than once is a multivalued key, as
 * ForAnyValue:/ForAllValues: expect. */
struct berth_policy_ctx {
    const char *key;
    const char *value;
};

struct berth_policy_request {
    const char *action;            /* "ecr:BatchGetImage" */
    const char *resource;          /* "arn:aws:ecr:us-east-1:111122223333:repository/app" */
    const char *principal_arn;     /* "arn:aws:iam::111122223333:user/alice"; NULL: anonymous */
    const char *principal_account; /* 12 digits; NULL: taken from principal_arn */
    const struct berth_policy_ctx *ctx; /* aws:SourceIp, aws:SecureTransport, aws:username... */
    size_t nctx;
};

enum berth_policy_effect {
    BERTH_POLICY_NONE = 0, /* no statement applies: an implicit deny */
    BERTH_POLICY_ALLOW,
    BERTH_POLICY_DENY,
};

/*
 * Parses and validates a policy document of len bytes (no NUL needed). resource_policy selects
 * the rules for repository and registry policies (Principal required, Resource optional) over
 * those for identity policies (Principal forbidden, Resource required).
 * On success *out owns the policy; free it with berth_policy_free(). On failure *out is NULL and
 * the return is BERTH_EINVALID (anything malformed, including a document over BERTH_POLICY_MAX
 * bytes) or BERTH_ENOMEM, with the detail in berth_err_detail().
 */
int berth_policy_parse(const char *json, size_t len, int resource_policy,
                       struct berth_policy **out);
void berth_policy_free(struct berth_policy *p); /* NULL-safe */

/*
 * DENY if a Deny statement applies to req, else ALLOW if an Allow statement does, else NONE.
 * In a resource policy a statement applies only if its Principal names the caller: "*" matches
 * everyone including anonymous callers, an account (root ARN or bare id) every principal of that
 * account, a user ARN that user. Never fails: what cannot be evaluated does not apply.
 */
enum berth_policy_effect berth_policy_evaluate(const struct berth_policy *p,
                                               const struct berth_policy_request *req);

struct berth_authz_input {
    const struct berth_policy *const *identity; /* the caller's policies; none when anonymous */
    size_t nidentity;
    const struct berth_policy *resource; /* repository policy or NULL */
    const struct berth_policy *registry; /* registry policy or NULL */
    const char *resource_account;        /* the account that owns the repository */
    /* Account admin: allowed as if by an identity policy; explicit Denies still win. */
    int is_admin;
};

/*
 * The one authorization decision: 1 to allow, 0 to deny. *out_reason (if out_reason is not
 * NULL) is a static string saying why, for logs and AccessDenied messages; on a deny the same
 * reason with the action and resource appended is also left in berth_err_detail() as
 * BERTH_EDENIED, since a static string cannot name them.
 *   - An explicit Deny in any policy that applies wins.
 *   - Anonymous callers are allowed only by a resource or registry policy whose Principal is "*".
 *   - Same account: an Allow in the identity policies or in the repository/registry policy
 *     suffices, but a resource-policy Allow that names only the account (root ARN or bare id)
 *     delegates to the account's identity policies and does not grant by itself.
 *   - Cross-account: the identity side (policies or is_admin) and the repository or registry
 *     policy must both allow.
 */
int berth_authz_decide(const struct berth_authz_input *in, const struct berth_policy_request *req,
                       const char **out_reason);

#endif
