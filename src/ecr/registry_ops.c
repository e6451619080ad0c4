/* ECR registry-level operations: authorization tokens, DescribeRegistry, the registry policy. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/policy.h"
#include "core/err.h"
#include "ecr/ecr.h"

int ecr_get_authorization_token(struct ecr_call *c)
{
    /* registryIds is deprecated in the model; each id gets the same token (a token is good
     * for every registry its key may reach), with that registry's endpoint. */
    json_t *ids = json_object_get(c->in, "registryIds");
    if (ids && !json_is_null(ids) &&
        (!json_is_array(ids) || json_array_size(ids) < 1 || json_array_size(ids) > 10))
        return ecr_fail(c, "InvalidParameterException", "registryIds must list 1 to 10 ids");
    char password[400];
    int64_t expires = 0;
    int rc = berth_auth_token_issue(c->ctx->auth, &c->who, time(NULL), password, sizeof(password),
                                    &expires);
    if (rc < 0)
        return ecr_fail(c, "InvalidParameterException", "%s", berth_err_detail());
    char plain[420];
    int n = snprintf(plain, sizeof(plain), "AWS:%s", password);
    unsigned char b64[600];
    EVP_EncodeBlock(b64, (const unsigned char *)plain, n);
    OPENSSL_cleanse(plain, sizeof(plain));
    OPENSSL_cleanse(password, sizeof(password));
    json_t *data = json_array();
    size_t count = ids && json_is_array(ids) ? json_array_size(ids) : 1;
    for (size_t i = 0; i < count; i++) {
        const char *acct = c->account;
        if (ids && json_is_array(ids)) {
            json_t *id = json_array_get(ids, i);
            if (!json_is_string(id) || json_string_length(id) != 12) {
                json_decref(data);
                return ecr_fail(c, "InvalidParameterException",
                                "registryIds[%zu] must be a 12-digit registry id", i);
            }
            acct = json_string_value(id);
        }
        char host[400], endpoint[420];
        ecr_registry_host(c, acct, host, sizeof(host));
        const char *pub = c->ctx->public_url;
        snprintf(endpoint, sizeof(endpoint), "%s://%s",
                 pub && !strncmp(pub, "https://", 8) ? "https" : "http", host);
        json_array_append_new(data, json_pack("{s:s,s:I,s:s}", "authorizationToken",
                                              (const char *)b64, "expiresAt", (json_int_t)expires,
                                              "proxyEndpoint", endpoint));
    }
    OPENSSL_cleanse(b64, sizeof(b64));
    json_object_set_new(c->out, "authorizationData", data);
    return 0;
}

int ecr_describe_registry(struct ecr_call *c)
{
    json_object_set_new(c->out, "registryId", json_string(c->account));
    json_object_set_new(c->out, "replicationConfiguration", json_pack("{s:[]}", "rules"));
    return 0;
}

static int no_registry_policy(struct ecr_call *c)
{
    return ecr_fail(c, "RegistryPolicyNotFoundException",
                    "Registry policy does not exist in the registry with id '%s'", c->account);
}

int ecr_put_registry_policy(struct ecr_call *c)
{
    const char *text;
    if (ecr_in_str(c, "policyText", 1, &text) < 0)
        return -1;
    struct berth_policy *p = NULL;
    if (strlen(text) > 10240 || berth_policy_parse(text, strlen(text), 1, &p) < 0)
        return ecr_fail(c, "InvalidParameterException",
                        "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                        "'Invalid registry policy provided': %s",
                        strlen(text) > 10240 ? "longer than 10240 characters" : berth_err_detail());
    berth_policy_free(p);
    struct berth_meta *m = c->ctx->registry->meta;
    int rc = m->ops->registry_policy_set(m->impl, c->account, text);
    if (rc < 0)
        return ecr_fail_rc(c, rc);
    json_object_set_new(c->out, "registryId", json_string(c->account));
    json_object_set_new(c->out, "policyText", json_string(text));
    return 0;
}

int ecr_get_registry_policy(struct ecr_call *c)
{
    struct berth_meta *m = c->ctx->registry->meta;
    char *text = NULL;
    int rc = m->ops->registry_policy_get(m->impl, c->account, &text);
    if (rc == BERTH_ENOTFOUND)
        return no_registry_policy(c);
    if (rc < 0)
        return ecr_fail_rc(c, rc);
    json_object_set_new(c->out, "registryId", json_string(c->account));
    json_object_set_new(c->out, "policyText", json_string(text));
    free(text);
    return 0;
}

int ecr_delete_registry_policy(struct ecr_call *c)
{
    struct berth_meta *m = c->ctx->registry->meta;
    char *text = NULL;
    int rc = m->ops->registry_policy_get(m->impl, c->account, &text);
    if (rc == BERTH_ENOTFOUND)
        return no_registry_policy(c);
    if (rc < 0 || (rc = m->ops->registry_policy_set(m->impl, c->account, NULL)) < 0) {
        free(text);
        return ecr_fail_rc(c, rc);
    }
    json_object_set_new(c->out, "registryId", json_string(c->account));
    json_object_set_new(c->out, "policyText", json_string(text));
    free(text);
    return 0;
}
