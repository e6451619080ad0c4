/*
 * The decision cache: allowed OCI requests by registry token, so a client pulling many
 * manifests pays for the token's HMAC, the key lookup and the policy evaluation once, not per
 * request (see docs/performance.md for the profile that asked for it).
 *
 * An entry is the whole question (token, action, account, repository, source address) and the
 * principal the answer was for. It is used only while
 *   - the metadata's auth epoch is the one it was made under: the epoch moves in the same
 *     transaction as any change to keys, users, policies or repository/registry policies,
 *     whichever process makes it, so a revoked key or a narrowed policy takes effect on the
 *     next request; the epoch is read before the decision is made, so a change that races the
 *     decision leaves an entry that is already stale;
 *   - the token has not expired.
 * Decisions depend on nothing else: the policy context holds no time (see berth_auth_authorize).
 * Denials are never cached, so every refusal is recomputed and explains itself.
 *
 * Slots are direct-mapped by a hash of the question; the question is stored whole and compared
 * in constant time (it holds the token), so a hash collision is only ever a miss.
 */
#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/err.h"

#define CACHE_SLOTS 256
#define KEY_MAX 1024 /* longer questions (long repository names) are not cached */

struct entry {
    uint64_t hash;
    int64_t epoch;
    long long expires;
    size_t keylen; /* 0: empty slot */
    char *key;
    struct berth_principal p;
};

struct berth_auth_cache {
    pthread_mutex_t mu;
    struct entry slot[CACHE_SLOTS];
};

int berth_auth_cache_new(struct berth_auth_cache **out)
{
    /* Large enough that calloc maps fresh pages: nothing is resident until entries are used. */
    struct berth_auth_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void berth_auth_cache_free(struct berth_auth_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (c->slot[i].key) {
            OPENSSL_cleanse(c->slot[i].key, c->slot[i].keylen);
            free(c->slot[i].key);
        }
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Appends one field, length first, so no two questions encode alike whatever their bytes;
 * NULL (no repository: a registry-wide action) is distinct from "". */
static int put_field(char *key, size_t *n, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (*n + 3 + len > KEY_MAX)
        return -1;
    key[(*n)++] = s ? 1 : 0;
    key[(*n)++] = (char)(len >> 8);
    key[(*n)++] = (char)(len & 0xff);
    memcpy(key + *n, s ? s : "", len);
    *n += len;
    return 0;
}

static int question(char *key, size_t *n, const char *token, const char *action,
                    const char *account, const char *repo, const char *ip)
{
    *n = 0;
    return put_field(key, n, token) < 0 || put_field(key, n, action) < 0 ||
                   put_field(key, n, account) < 0 || put_field(key, n, repo) < 0 ||
                   put_field(key, n, ip) < 0
               ? -1
               : 0;
}

/* FNV-1a: picks the slot only; equality is decided by the full comparison. */
static uint64_t hash_of(const char *key, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int berth_auth_cache_get(struct berth_auth *a, const char *token, const char *action,
                         const char *account, const char *repo, const char *ip, time_t now,
                         struct berth_principal *out, int64_t *epoch)
{
    struct berth_auth_cache *c = a->cache;
    struct berth_meta *m = a->meta;
    *epoch = -1;
    if (!c || !m->ops->auth_epoch || m->ops->auth_epoch(m->impl, epoch) < 0) {
        *epoch = -1;
        return 0;
    }
    char key[KEY_MAX];
    size_t n;
    if (question(key, &n, token, action, account, repo, ip) < 0)
        return 0;
    uint64_t h = hash_of(key, n);
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    struct entry *e = &c->slot[h % CACHE_SLOTS];
    if (e->keylen == n && e->hash == h && e->epoch == *epoch && (long long)now < e->expires &&
        CRYPTO_memcmp(e->key, key, n) == 0) {
        *out = e->p;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    OPENSSL_cleanse(key, n);
    return hit;
}

void berth_auth_cache_put(struct berth_auth *a, const char *token, const char *action,
                          const char *account, const char *repo, const char *ip, int64_t epoch,
                          const struct berth_principal *p)
{
    struct berth_auth_cache *c = a->cache;
    long long expires = p->anonymous ? LLONG_MAX : p->expires;
    if (!c || epoch < 0 || expires <= 0)
        return;
    char key[KEY_MAX];
    size_t n;
    if (question(key, &n, token, action, account, repo, ip) < 0)
        return;
    char *copy = malloc(n);
    if (!copy) {
        OPENSSL_cleanse(key, n);
        return;
    }
    memcpy(copy, key, n);
    OPENSSL_cleanse(key, n);
    uint64_t h = hash_of(copy, n);
    pthread_mutex_lock(&c->mu);
    struct entry *e = &c->slot[h % CACHE_SLOTS];
    char *old = e->key;
    size_t oldlen = e->keylen;
    *e = (struct entry){
        .hash = h, .epoch = epoch, .expires = expires, .keylen = n, .key = copy, .p = *p};
    pthread_mutex_unlock(&c->mu);
    if (old) {
        OPENSSL_cleanse(old, oldlen);
        free(old);
    }
}
