/*
 * The OCI API's gate: who is calling (a registry token as HTTP Basic credentials, as
 * `docker login` and `skopeo login` send it, or nobody), which account's registry the request
 * addresses (the Host header's leading account id, else the default account), and whether
 * the route's ECR action is allowed. 401 asks for credentials; 403 refuses the ones given.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oci/oci.h"

static void ident_free(void *p)
{
    free(p);
}

/* <12 digits>.<host> addresses that account's registry, as <account>.dkr.ecr.<region>... does
 * in AWS; anything else is the default account. */
static void scope_from_host(struct berth_oci_ctx *ctx, struct berth_req *req, char *out, size_t len)
{
    const char *host = berth_req_header(req, "Host");
    snprintf(out, len, "%s", ctx->auth->account);
    if (!host)
        return;
    size_t i = 0;
    while (i < 12 && isdigit((unsigned char)host[i]))
        i++;
    if (i == 12 && host[12] == '.') {
        char acct[BERTH_ACCOUNT_BUF];
        memcpy(acct, host, 12);
        acct[12] = '\0';
        struct berth_meta *m = ctx->registry->meta;
        if (m->ops->account_exists(m->impl, acct) == 0)
            snprintf(out, len, "%s", acct);
    }
}

static void unauthorized(struct berth_req *req, const char *message)
{
    struct berth_oci_ctx *ctx = oci_ctx(req);
    char challenge[300];
    snprintf(challenge, sizeof(challenge), "Basic realm=\"%s\"", ctx->realm);
    berth_req_add_header(req, "WWW-Authenticate", challenge);
    oci_error_code(req, 401, "UNAUTHORIZED", message);
}

/* Authorization: Basic base64(AWS:<token>) -> the token in tok (cap >= 800), or ""
 * when the request carries no credentials. 0, or -1 after responding. */
static int basic_token(struct berth_req *req, char *tok, size_t cap)
{
    const char *h = berth_req_header(req, "Authorization");
    tok[0] = '\0';
    if (!h)
        return 0;
    if (strncasecmp(h, "Basic ", 6) != 0) {
        unauthorized(req, "use Basic credentials: the user AWS and a registry token");
        return -1;
    }
    const char *b64 = h + 6;
    while (*b64 == ' ')
        b64++;
    size_t n = strlen(b64);
    if (n == 0 || n > 1024 || n % 4 != 0) {
        unauthorized(req, "malformed Basic credentials");
        return -1;
    }
    unsigned char dec[800];
    int dl = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
    if (dl < 0) {
        unauthorized(req, "malformed Basic credentials");
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes */
    while (dl > 0 && b64[n - 1] == '=' && dec[dl - 1] == '\0') {
        dl--;
        n--;
    }
    dec[dl] = '\0';
    char *colon = strchr((char *)dec, ':');
    int ok = colon && colon - (char *)dec == 3 && memcmp(dec, "AWS", 3) == 0;
    int empty = ok && !colon[1];
    if (ok && !empty)
        snprintf(tok, cap, "%s", colon + 1); /* fits: dec is no larger than tok */
    OPENSSL_cleanse(dec, sizeof(dec));
    if (!ok || empty) {
        unauthorized(req, empty ? "not a Berth registry token"
                                : "the user name must be AWS and the password a registry token");
        return -1;
    }
    return 0;
}

/* The token (or none) -> principal. 0, or -1 after responding. */
static int authenticate(struct berth_req *req, const char *tok, struct berth_principal *p)
{
    struct berth_oci_ctx *ctx = oci_ctx(req);
    memset(p, 0, sizeof(*p));
    if (!tok[0]) {
        p->anonymous = 1;
        return 0;
    }
    if (berth_auth_token_verify(ctx->auth, tok, time(NULL), p) < 0) {
        unauthorized(req, berth_err_detail());
        return -1;
    }
    return 0;
}

int oci_authorize(struct berth_req *req, const char *action, const char *repo)
{
    struct berth_oci_ctx *ctx = oci_ctx(req);
    if (!ctx->auth->enabled)
        return 0;
    const struct berth_principal *p = req->ident;
    char ip[64];
    berth_req_remote(req, ip, sizeof(ip));
    return berth_auth_authorize(ctx->auth, p, action, req->scope, repo, ip);
}

/* Authenticates the token and authorizes the route's action, through the decision cache. */
static int gate_token(struct berth_req *req, const struct berth_route *rt, const char *tok,
                      struct berth_principal *p)
{
    struct berth_oci_ctx *ctx = oci_ctx(req);
    /* <name> is the first parameter of every route that has one */
    const char *repo = req->nparam > 0 ? req->param[0] : NULL;
    char ip[64];
    berth_req_remote(req, ip, sizeof(ip));
    int64_t epoch = -1;
    if (rt->action && berth_auth_cache_get(ctx->auth, tok, rt->action, req->scope, repo, ip,
                                           time(NULL), p, &epoch) == 1)
        return 0;
    if (authenticate(req, tok, p) < 0)
        return -1;
    if (!rt->action) /* the version check: any valid credentials */
        return p->anonymous ? (unauthorized(req, "authentication required"), -1) : 0;
    if (berth_auth_authorize(ctx->auth, p, rt->action, req->scope, repo, ip) == 0) {
        berth_auth_cache_put(ctx->auth, tok, rt->action, req->scope, repo, ip, epoch, p);
        return 0;
    }
    if (p->anonymous)
        unauthorized(req, "authentication required");
    else
        oci_error_code(req, 403, "DENIED", berth_err_detail());
    return -1;
}

int berth_oci_gate(struct berth_req *req, const struct berth_route *rt)
{
    struct berth_oci_ctx *ctx = oci_ctx(req);
    struct berth_principal *p = calloc(1, sizeof(*p));
    if (!p) {
        oci_error_code(req, 500, "UNSUPPORTED", "out of memory");
        return -1;
    }
    req->ident = p;
    req->ident_free = ident_free;
    scope_from_host(ctx, req, req->scope, sizeof(req->scope));
    if (!ctx->auth->enabled) {
        berth_auth_admin(ctx->auth, p);
        return 0;
    }
    /* A GetDownloadUrlForLayer URL: the signature is the permission, for that blob only. */
    const char *pexp = berth_req_query(req, "X-Berth-Expires");
    const char *psig = berth_req_query(req, "X-Berth-Signature");
    if (pexp && psig && rt->action && !strcmp(rt->action, "ecr:GetDownloadUrlForLayer") &&
        req->nparam == 2) {
        if (berth_auth_presigned_ok(ctx->auth, req->scope, req->param[0], req->param[1], pexp, psig,
                                    time(NULL)) == 0) {
            p->anonymous = 1;
            return 0;
        }
        oci_error_code(req, 403, "DENIED", berth_err_detail());
        return -1;
    }
    char tok[800];
    if (basic_token(req, tok, sizeof(tok)) < 0)
        return -1;
    int rc = gate_token(req, rt, tok, p);
    OPENSSL_cleanse(tok, sizeof(tok));
    return rc;
}
