/*
 * auth — who is calling, and may they do it. One module for both APIs:
 *   - access keys: an id and a secret per IAM user; the secret is kept (SigV4 needs it) but
 *     sealed at rest with the server's master key (<data-dir>/master.key, AES-256-GCM);
 *   - SigV4 (sigv4.h) turns a signed ECR request into a principal;
 *   - registry tokens: the password GetAuthorizationToken hands out, an HMAC over the key id
 *     and the expiry, so a token dies with its key (revocation) or its 12 hours;
 *   - berth_auth_authorize: the one decision for (principal, action, repository), evaluating
 *     identity, repository and registry policies (policy.h).
 * Secrets never reach a log line or an error message.
 */
#ifndef BERTH_AUTH_AUTH_H
#define BERTH_AUTH_AUTH_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "auth/sigv4.h"
#include "meta/meta.h"

#define BERTH_KEY_ID_LEN 20 /* AKIA + 16 */
#define BERTH_SECRET_LEN 40
#define BERTH_TOKEN_TTL (12 * 3600) /* ECR: authorization tokens last 12 hours */
#define BERTH_REGION_BUF 32

struct berth_auth_options {
    const char *account; /* the default account, 12 digits */
    const char *region;
    const char *data_dir;     /* where master.key lives */
    int enabled;              /* 0: every request acts as the default account's admin */
    const char *admin_key_id; /* bootstrap key from the operator, or NULL/"" to generate */
    const char *admin_secret;
    const char *public_url; /* for the first-start message */
    long long token_ttl;    /* seconds; 0: BERTH_TOKEN_TTL */
};

struct berth_auth_cache;

struct berth_auth {
    struct berth_meta *meta;        /* borrowed */
    struct berth_auth_cache *cache; /* owned; allowed OCI decisions (cache.c) */
    char account[BERTH_ACCOUNT_BUF];
    char region[BERTH_REGION_BUF];
    int enabled;
    long long token_ttl;
    unsigned char master[32];
    unsigned char token_key[32];
};

struct berth_principal {
    int anonymous;
    char account[BERTH_ACCOUNT_BUF];
    char user[65];
    int64_t user_id;
    int is_admin;
    char key_id[129];
    char arn[160];     /* arn:aws:iam::<account>:user/<name> (root for the admin) */
    long long expires; /* a registry token's expiry (epoch seconds); 0 for other credentials */
};

/* Loads (or on first start creates) the master key, the default account and its admin key.
 * On first start, prints how to use the generated key to announce (once). */
int berth_auth_init(struct berth_auth *a, struct berth_meta *meta,
                    const struct berth_auth_options *o, FILE *announce);
void berth_auth_dispose(struct berth_auth *a);

/* The admin principal of the default account (what every request is when auth is off). */
void berth_auth_admin(const struct berth_auth *a, struct berth_principal *out);

/* ---- keys ---- */
/* Creates an access key for the user; key_id/secret NULL generates them. Fills the chosen
 * values (out buffers of BERTH_KEY_ID_LEN + 1 and BERTH_SECRET_LEN + 1 at least). */
int berth_auth_key_create(struct berth_auth *a, int64_t user_id, const char *key_id,
                          const char *secret, char *out_id, size_t id_len, char *out_secret,
                          size_t secret_len);

/* ---- SigV4 ---- */
/* Authenticates a signed request. Errors (with a message fit for the client):
 *   BERTH_EINVALID   no or malformed Authorization (MissingAuthenticationToken/IncompleteSignature)
 *   BERTH_ENOTFOUND  unknown or inactive key (UnrecognizedClient)
 *   BERTH_ERANGE     request time outside the 15-minute window (signature expired)
 *   BERTH_EDENIED    signature mismatch, wrong region or service (InvalidSignature) */
int berth_auth_sigv4(struct berth_auth *a, const struct berth_sigv4_request *req,
                     const char *service, time_t now, struct berth_principal *out);

/* The part of the SigV4 check that needs no body: the Authorization header parses and names an
 * active key. Lets a server refuse a stranger before buffering a large body. Codes as above. */
int berth_auth_sigv4_precheck(struct berth_auth *a, const char *authorization);

/* ---- registry tokens ---- */
/* The password part of an authorization token (no ':' in it, as `get-login-password` needs). */
int berth_auth_token_issue(struct berth_auth *a, const struct berth_principal *p, time_t now,
                           char *out, size_t len, int64_t *out_expires);
/* BERTH_EDENIED for a forged, malformed or revoked token, BERTH_ERANGE for an expired one. */
int berth_auth_token_verify(struct berth_auth *a, const char *password, time_t now,
                            struct berth_principal *out);

/* ---- presigned blob URLs (GetDownloadUrlForLayer) ---- */
/* Fills out with the query string "X-Berth-Expires=<t>&X-Berth-Signature=<hex>" that lets anyone
 * GET that one blob of that repository until expires. */
void berth_auth_presign(const struct berth_auth *a, const char *account, const char *repo,
                        const char *digest, time_t expires, char *out, size_t len);
/* 0 when the signature covers exactly this blob and has not expired; BERTH_EDENIED otherwise. */
int berth_auth_presigned_ok(const struct berth_auth *a, const char *account, const char *repo,
                            const char *digest, const char *expires, const char *signature,
                            time_t now);

/* ---- authorization ---- */
/* May p do action on repository repo_name of repo_account (repo_name NULL: the registry
 * itself)? 0 or BERTH_EDENIED with a message naming the action and resource. */
int berth_auth_authorize(struct berth_auth *a, const struct berth_principal *p, const char *action,
                         const char *repo_account, const char *repo_name, const char *source_ip);

/* ---- cached decisions (cache.c) ---- */
/* The OCI gate's fast path for registry tokens (token "" for anonymous callers). get: 1 and
 * *out filled when an allowed answer to exactly this question is cached, was made under the
 * current auth epoch and its token has not expired; 0 otherwise. Either way *epoch is the
 * epoch read before any decision, which put needs (-1: nothing may be cached). put: remember
 * that p was allowed; call it only after berth_auth_authorize allowed p. */
int berth_auth_cache_new(struct berth_auth_cache **out);
void berth_auth_cache_free(struct berth_auth_cache *c);
int berth_auth_cache_get(struct berth_auth *a, const char *token, const char *action,
                         const char *account, const char *repo, const char *ip, time_t now,
                         struct berth_principal *out, int64_t *epoch);
void berth_auth_cache_put(struct berth_auth *a, const char *token, const char *action,
                          const char *account, const char *repo, const char *ip, int64_t epoch,
                          const struct berth_principal *p);

/* arn:aws:ecr:<region>:<account>:repository/<name> */
void berth_auth_repo_arn(const struct berth_auth *a, const char *account, const char *name,
                         char *out, size_t len);

#endif
