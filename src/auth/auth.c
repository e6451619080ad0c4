#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/policy.h"
#include "core/digest.h"
#include "core/err.h"
#include "core/log.h"

#define GCM_NONCE 12
#define GCM_TAG 16
#define TOKEN_PREFIX "b1"

/* ---- master key ---- */

static int read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The master key is created once, with O_EXCL so two first starts cannot both win, and
 * fsynced before anything sealed with it is committed. */
static int master_key_load(const char *dir, unsigned char key[32])
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/master.key", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        int ok = fstat(fd, &st) == 0 && st.st_size == 32 && read_full(fd, key, 32) == 0;
        close(fd);
        if (!ok)
            return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE,
                                 "%s is damaged (expected 32 bytes): restore it from backup; "
                                 "without it no access key can be verified",
                                 path);
        return 0;
    }
    if (errno != ENOENT)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot read %s: %s", path,
                             strerror(errno));
    if (RAND_bytes(key, 32) != 1)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "no randomness available");
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot create %s: %s", tmp,
                             strerror(errno));
    int ok = write(fd, key, 32) == 32 && fsync(fd) == 0;
    close(fd);
    if (!ok || link(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot create %s: %s", path, strerror(e));
    }
    unlink(tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ---- sealing secrets (AES-256-GCM, the key id as associated data) ---- */

static int seal(const struct berth_auth *a, const char *key_id, const char *secret,
                unsigned char *out, size_t *out_len)
{
    size_t n = strlen(secret);
    unsigned char *nonce = out, *ct = out + GCM_NONCE, *tag = out + GCM_NONCE + n;
    int len = 0, ok = 0;
    if (RAND_bytes(nonce, GCM_NONCE) != 1)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "no randomness available");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    ok =
        c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, a->master, nonce) == 1 &&
        EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)key_id, (int)strlen(key_id)) == 1 &&
        EVP_EncryptUpdate(c, ct, &len, (const unsigned char *)secret, (int)n) == 1 &&
        EVP_EncryptFinal_ex(c, ct + len, &len) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot seal the access key secret");
    *out_len = GCM_NONCE + n + GCM_TAG;
    return 0;
}

static int unseal(const struct berth_auth *a, const struct berth_meta_key *k, char *out,
                  size_t out_cap)
{
    if (k->sealed_len < GCM_NONCE + GCM_TAG || k->sealed_len - GCM_NONCE - GCM_TAG >= out_cap)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "sealed secret of %s is damaged", k->id);
    size_t n = k->sealed_len - GCM_NONCE - GCM_TAG;
    const unsigned char *nonce = k->sealed, *ct = k->sealed + GCM_NONCE, *tag = ct + n;
    int len = 0, ok;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, a->master, nonce) == 1 &&
         EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)k->id, (int)strlen(k->id)) == 1 &&
         EVP_DecryptUpdate(c, (unsigned char *)out, &len, ct, (int)n) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, (void *)tag) == 1 &&
         EVP_DecryptFinal_ex(c, (unsigned char *)out + len, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        OPENSSL_cleanse(out, out_cap);
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE,
                             "secret of %s does not open with this master key", k->id);
    }
    out[n] = '\0';
    return 0;
}

/* ---- principals ---- */

static void principal_from_user(const struct berth_meta_user *u, const char *key_id,
                                struct berth_principal *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->account, sizeof(out->account), "%s", u->account);
    snprintf(out->user, sizeof(out->user), "%s", u->name);
    out->user_id = u->id;
    out->is_admin = u->is_admin;
    if (key_id)
        snprintf(out->key_id, sizeof(out->key_id), "%s", key_id);
    if (u->is_admin)
        snprintf(out->arn, sizeof(out->arn), "arn:aws:iam::%s:root", u->account);
    else
        snprintf(out->arn, sizeof(out->arn), "arn:aws:iam::%s:user/%s", u->account, u->name);
}

void berth_auth_admin(const struct berth_auth *a, struct berth_principal *out)
{
    struct berth_meta_user u = {.is_admin = 1};
    snprintf(u.account, sizeof(u.account), "%s", a->account);
    snprintf(u.name, sizeof(u.name), "admin");
    principal_from_user(&u, NULL, out);
}

/* Looks up an active key and opens its secret. */
static int key_lookup(struct berth_auth *a, const char *key_id, struct berth_principal *p,
                      char *secret, size_t secret_cap)
{
    struct berth_meta_key k;
    int rc = a->meta->ops->key_get(a->meta->impl, key_id, &k);
    if (rc == BERTH_ENOTFOUND || (rc == 0 && !k.active)) {
        berth_meta_key_dispose(&k);
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_NONE,
                             "The security token included in the request is invalid.");
    }
    if (rc < 0)
        return rc;
    if (secret && (rc = unseal(a, &k, secret, secret_cap)) < 0) {
        berth_meta_key_dispose(&k);
        return rc;
    }
    principal_from_user(&k.user, key_id, p);
    berth_meta_key_dispose(&k);
    return 0;
}

/* ---- keys ---- */

static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t m = strlen(alphabet);
    unsigned char rnd[64];
    RAND_bytes(rnd, (int)n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % m];
    out[n] = '\0';
}

static int key_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n < 16 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
            return 0;
    return 1;
}

int berth_auth_key_create(struct berth_auth *a, int64_t user_id, const char *key_id,
                          const char *secret, char *out_id, size_t id_len, char *out_secret,
                          size_t secret_len)
{
    char id[129], sec[129];
    if (key_id && *key_id) {
        if (!key_id_valid(key_id))
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "access key id must be 16 to 128 upper-case letters and digits");
        snprintf(id, sizeof(id), "%s", key_id);
    } else {
        memcpy(id, "AKIA", 4);
        random_chars(id + 4, BERTH_KEY_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    }
    if (secret && *secret) {
        if (strlen(secret) < 16 || strlen(secret) > 128)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "secret access key must be 16 to 128 characters");
        snprintf(sec, sizeof(sec), "%s", secret);
    } else {
        random_chars(sec, BERTH_SECRET_LEN,
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    }
    unsigned char sealed[GCM_NONCE + 129 + GCM_TAG];
    size_t sealed_len = 0;
    int rc = seal(a, id, sec, sealed, &sealed_len);
    if (rc == 0)
        rc = a->meta->ops->key_create(a->meta->impl, user_id, id, sealed, sealed_len);
    if (rc == 0) {
        if (out_id)
            snprintf(out_id, id_len, "%s", id);
        if (out_secret)
            snprintf(out_secret, secret_len, "%s", sec);
    }
    OPENSSL_cleanse(sec, sizeof(sec));
    return rc;
}

/* ---- bootstrap ---- */

static int bootstrap_admin(struct berth_auth *a, const struct berth_auth_options *o, FILE *announce)
{
    struct berth_meta *m = a->meta;
    struct berth_meta_user admin;
    int rc = m->ops->user_get(m->impl, a->account, "admin", &admin);
    if (rc == BERTH_ENOTFOUND) {
        if ((rc = m->ops->user_create(m->impl, a->account, "admin", 1, &admin.id)) < 0)
            return rc;
    } else if (rc < 0) {
        return rc;
    }
    int given = o->admin_key_id && *o->admin_key_id;
    if (given) {
        if (!o->admin_secret || !*o->admin_secret)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "admin-access-key-id needs admin-secret-access-key");
        struct berth_principal p;
        char secret[129];
        rc = key_lookup(a, o->admin_key_id, &p, secret, sizeof(secret));
        if (rc == 0) {
            /* The operator's key exists: it must still be the same key. */
            int same = strlen(secret) == strlen(o->admin_secret) &&
                       CRYPTO_memcmp(secret, o->admin_secret, strlen(secret)) == 0;
            OPENSSL_cleanse(secret, sizeof(secret));
            if (!same)
                return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                     "access key %s already exists with a different secret",
                                     o->admin_key_id);
            return 0;
        }
        if (rc != BERTH_ENOTFOUND)
            return rc;
        return berth_auth_key_create(a, admin.id, o->admin_key_id, o->admin_secret, NULL, 0, NULL,
                                     0);
    }
    /* With authentication off nobody needs a key yet; the first start with it on makes one. */
    int64_t nkeys = 0;
    if (!a->enabled || (rc = m->ops->key_count(m->impl, &nkeys)) < 0 || nkeys > 0)
        return rc;
    char id[BERTH_KEY_ID_LEN + 1], secret[BERTH_SECRET_LEN + 1];
    if ((rc = berth_auth_key_create(a, admin.id, NULL, NULL, id, sizeof(id), secret,
                                    sizeof(secret))) < 0)
        return rc;
    /* Shown once, on the terminal of whoever started the registry, never in the log. */
    if (announce) {
        const char *url = o->public_url && *o->public_url ? o->public_url : "localhost:5000";
        fprintf(announce,
                "\nBerth created the admin access key of account %s. It is shown only now:\n\n"
                "  aws configure set aws_access_key_id %s\n"
                "  aws configure set aws_secret_access_key %s\n"
                "  aws configure set region %s\n\n"
                "  aws ecr get-login-password --endpoint-url http://%s | \\\n"
                "      docker login --username AWS --password-stdin %s\n\n",
                a->account, id, secret, a->region, url, url);
        fflush(announce);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

int berth_auth_init(struct berth_auth *a, struct berth_meta *meta,
                    const struct berth_auth_options *o, FILE *announce)
{
    memset(a, 0, sizeof(*a));
    a->meta = meta;
    a->enabled = o->enabled;
    a->token_ttl = o->token_ttl > 0 ? o->token_ttl : BERTH_TOKEN_TTL;
    snprintf(a->account, sizeof(a->account), "%s", o->account);
    snprintf(a->region, sizeof(a->region), "%s", o->region);
    int rc = berth_auth_cache_new(&a->cache);
    if (rc < 0)
        return rc;
    if ((rc = master_key_load(o->data_dir, a->master)) < 0)
        goto fail;
    /* Tokens get their own key, derived so a token never doubles as a sealing key. */
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), a->master, 32, (const unsigned char *)"berth registry tokens", 21,
              a->token_key, &n)) {
        rc = berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot derive the token key");
        goto fail;
    }
    if ((rc = meta->ops->account_ensure(meta->impl, a->account)) < 0 ||
        (rc = meta->ops->account_adopt(meta->impl, a->account)) < 0 ||
        (rc = bootstrap_admin(a, o, announce)) < 0)
        goto fail;
    return 0;
fail:
    berth_auth_dispose(a);
    return rc;
}

void berth_auth_dispose(struct berth_auth *a)
{
    berth_auth_cache_free(a->cache);
    a->cache = NULL;
    OPENSSL_cleanse(a->master, sizeof(a->master));
    OPENSSL_cleanse(a->token_key, sizeof(a->token_key));
}

/* ---- SigV4 ---- */

static const char *find_header(const struct berth_sigv4_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

int berth_auth_sigv4(struct berth_auth *a, const struct berth_sigv4_request *req,
                     const char *service, time_t now, struct berth_principal *out)
{
    const char *hdr = find_header(req, "Authorization");
    if (!hdr)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "Missing Authentication Token");
    struct berth_sigv4_auth sa;
    int rc = berth_sigv4_parse_authorization(&sa, hdr);
    if (rc < 0)
        return rc;
    if (strcmp(sa.service, service) != 0 || strcmp(sa.region, a->region) != 0)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE,
                             "Credential should be scoped to a valid region and service: "
                             "expected %s/%s, got %s/%s",
                             a->region, service, sa.region, sa.service);
    char secret[129];
    if ((rc = key_lookup(a, sa.access_key, out, secret, sizeof(secret))) < 0)
        return rc;
    rc = berth_sigv4_verify(req, &sa, secret, now, 15 * 60);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int berth_auth_sigv4_precheck(struct berth_auth *a, const char *authorization)
{
    if (!authorization)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "Missing Authentication Token");
    struct berth_sigv4_auth sa;
    struct berth_principal p;
    int rc = berth_sigv4_parse_authorization(&sa, authorization);
    return rc < 0 ? rc : key_lookup(a, sa.access_key, &p, NULL, 0);
}

/* ---- registry tokens: b1.<key id>.<expiry>.<hex hmac> ---- */

/* HMAC-SHA256 under the token key, in hex: what tokens and presigned URLs carry. A message
 * that did not fit (n out of range) is MACed as empty, which never matches a real one. */
static void mac_hex(const struct berth_auth *a, const char *msg, int n, size_t cap,
                    char out_hex[65])
{
    unsigned char mac[32];
    unsigned int len = 0;
    if (n < 0 || (size_t)n >= cap)
        n = 0;
    HMAC(EVP_sha256(), a->token_key, 32, (const unsigned char *)msg, (size_t)n, mac, &len);
    berth_hex_encode(out_hex, mac, sizeof(mac));
}

static void token_mac(const struct berth_auth *a, const char *key_id, long long exp,
                      char out_hex[65])
{
    char msg[200];
    int n = snprintf(msg, sizeof(msg), TOKEN_PREFIX "|%s|%lld", key_id, exp);
    mac_hex(a, msg, n, sizeof(msg), out_hex);
}

int berth_auth_token_issue(struct berth_auth *a, const struct berth_principal *p, time_t now,
                           char *out, size_t len, int64_t *out_expires)
{
    if (!p->key_id[0])
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "a registry token needs an access key to bind to");
    long long exp = (long long)now + a->token_ttl;
    char mac[65];
    token_mac(a, p->key_id, exp, mac);
    if ((size_t)snprintf(out, len, TOKEN_PREFIX ".%s.%lld.%s", p->key_id, exp, mac) >= len)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "token buffer too small");
    *out_expires = exp;
    return 0;
}

int berth_auth_token_verify(struct berth_auth *a, const char *password, time_t now,
                            struct berth_principal *out)
{
    char buf[400];
    if (strlen(password) >= sizeof(buf) || strncmp(password, TOKEN_PREFIX ".", 3) != 0)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "not a Berth registry token");
    snprintf(buf, sizeof(buf), "%s", password + 3);
    char *key_id = buf, *exp_s = strchr(buf, '.');
    char *mac = exp_s ? strchr(exp_s + 1, '.') : NULL;
    if (!exp_s || !mac)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "malformed registry token");
    *exp_s++ = '\0';
    *mac++ = '\0';
    char *end;
    long long exp = strtoll(exp_s, &end, 10);
    if (*end || !key_id_valid(key_id) || strlen(mac) != 64)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "malformed registry token");
    char want[65];
    token_mac(a, key_id, exp, want);
    if (CRYPTO_memcmp(want, mac, 64) != 0)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "invalid registry token");
    if ((long long)now >= exp)
        return berth_err_set(BERTH_ERANGE, BERTH_WHAT_NONE,
                             "registry token expired; run get-login-password again");
    /* The token lives only as long as its key: a revoked key revokes its tokens. */
    int rc = key_lookup(a, key_id, out, NULL, 0);
    if (rc == BERTH_ENOTFOUND)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE,
                             "the access key behind this token was revoked");
    if (rc == 0)
        out->expires = exp;
    return rc;
}

/* ---- presigned blob URLs ---- */

static void presign_mac(const struct berth_auth *a, const char *account, const char *repo,
                        const char *digest, long long expires, char out_hex[65])
{
    char msg[800];
    int n = snprintf(msg, sizeof(msg), "blob|%s|%s|%s|%lld", account, repo, digest, expires);
    mac_hex(a, msg, n, sizeof(msg), out_hex);
}

void berth_auth_presign(const struct berth_auth *a, const char *account, const char *repo,
                        const char *digest, time_t expires, char *out, size_t len)
{
    char mac[65];
    presign_mac(a, account, repo, digest, (long long)expires, mac);
    snprintf(out, len, "X-Berth-Expires=%lld&X-Berth-Signature=%s", (long long)expires, mac);
}

int berth_auth_presigned_ok(const struct berth_auth *a, const char *account, const char *repo,
                            const char *digest, const char *expires, const char *signature,
                            time_t now)
{
    char *end;
    long long exp = strtoll(expires, &end, 10);
    if (*expires == '\0' || *end || strlen(signature) != 64 ||
        strlen(account) + strlen(repo) + strlen(digest) > 700)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "malformed presigned URL");
    char want[65];
    presign_mac(a, account, repo, digest, exp, want);
    if (CRYPTO_memcmp(want, signature, 64) != 0)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "invalid presigned URL");
    if ((long long)now >= exp)
        return berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "presigned URL expired");
    return 0;
}

/* ---- authorization ---- */

void berth_auth_repo_arn(const struct berth_auth *a, const char *account, const char *name,
                         char *out, size_t len)
{
    snprintf(out, len, "arn:aws:ecr:%s:%s:repository/%s", a->region, account, name ? name : "*");
}

static int parse_doc(const char *doc, int resource, struct berth_policy **out, const char *what)
{
    int rc = berth_policy_parse(doc, strlen(doc), resource, out);
    if (rc < 0)
        berth_log(BERTH_LOG_WARN, NULL, "ignoring unparsable %s: %s", what, berth_err_detail());
    return rc;
}

int berth_auth_authorize(struct berth_auth *a, const struct berth_principal *p, const char *action,
                         const char *repo_account, const char *repo_name, const char *source_ip)
{
    struct berth_meta *m = a->meta;
    struct berth_strlist docs = {0};
    struct berth_policy **identity = NULL, *resource = NULL, *registry = NULL;
    size_t nidentity = 0;
    char *registry_doc = NULL;
    struct berth_meta_repo repo = {0};
    int rc = 0, allowed = 0;
    const char *reason = "denied";

    if (!p->anonymous && !p->is_admin) {
        if ((rc = m->ops->user_policies(m->impl, p->user_id, &docs)) < 0)
            goto out;
        identity = calloc(docs.n ? docs.n : 1, sizeof(*identity));
        if (!identity) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < docs.n; i++)
            if (parse_doc(docs.items[i], 0, &identity[nidentity], "identity policy") == 0)
                nidentity++;
    }
    /* Resource-side policies: the repository's and the registry's. */
    if (repo_name && m->ops->repo_describe(m->impl, repo_account, repo_name, &repo) == 0 &&
        repo.policy)
        parse_doc(repo.policy, 1, &resource, "repository policy");
    if (m->ops->registry_policy_get(m->impl, repo_account, &registry_doc) == 0 && registry_doc)
        parse_doc(registry_doc, 1, &registry, "registry policy");
    berth_err_clear();

    char arn[600];
    berth_auth_repo_arn(a, repo_account, repo_name, arn, sizeof(arn));
    struct berth_policy_ctx ctx[4];
    size_t nctx = 0;
    ctx[nctx++] = (struct berth_policy_ctx){"aws:SecureTransport", "false"};
    if (source_ip)
        ctx[nctx++] = (struct berth_policy_ctx){"aws:SourceIp", source_ip};
    if (!p->anonymous) {
        ctx[nctx++] = (struct berth_policy_ctx){"aws:username", p->user};
        ctx[nctx++] = (struct berth_policy_ctx){"aws:PrincipalAccount", p->account};
    }
    struct berth_policy_request req = {
        .action = action,
        .resource = arn,
        .principal_arn = p->anonymous ? NULL : p->arn,
        .principal_account = p->anonymous ? NULL : p->account,
        .ctx = ctx,
        .nctx = nctx,
    };
    struct berth_authz_input in = {
        .identity = (const struct berth_policy *const *)identity,
        .nidentity = nidentity,
        .resource = resource,
        .registry = registry,
        .resource_account = repo_account,
        .is_admin = p->is_admin,
    };
    allowed = berth_authz_decide(&in, &req, &reason);
    if (!allowed)
        rc = berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE,
                           "User: %s is not authorized to perform: %s on resource: %s (%s)",
                           p->anonymous ? "anonymous" : p->arn, action, arn, reason);
out:
    for (size_t i = 0; i < nidentity; i++)
        berth_policy_free(identity[i]);
    free(identity);
    berth_policy_free(resource);
    berth_policy_free(registry);
    free(registry_doc);
    berth_meta_repo_dispose(&repo);
    berth_strlist_dispose(&docs);
    return rc;
}
