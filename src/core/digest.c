#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_CTX is the only OpenSSL hash state we can save */
#include "core/digest.h"

#include <openssl/sha.h>
#include <string.h>

#include "core/err.h"

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct berth_sha256 *)0)->state),
               "SHA256_CTX must fit in berth_sha256");

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_hex_lower(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

static int is_encoded_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' ||
           c == '_' || c == '-';
}

/* IMPLEMENTATION-OF image-spec descriptor.md: algorithm ::= component (separator component)*,
 * component ::= [a-z0-9]+, separator ::= [+._-], encoded ::= [a-zA-Z0-9=_-]+ */
int berth_digest_parse(const char *s, size_t len, char out[BERTH_DIGEST_BUF])
{
    if (!s || len == 0 || len > 255)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST, "invalid digest");
    size_t i = 0;
    int need_component = 1;
    for (; i < len && s[i] != ':'; i++) {
        if (is_lower_alnum(s[i])) {
            need_component = 0;
        } else if (s[i] != '\0' && strchr("+._-", s[i]) && !need_component) {
            need_component = 1;
        } else {
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST, "invalid digest algorithm");
        }
    }
    if (i == len || i == 0 || need_component)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST, "invalid digest");
    size_t alg_len = i;
    const char *enc = s + i + 1;
    size_t enc_len = len - i - 1;
    if (enc_len == 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST, "digest has no encoded part");
    for (size_t j = 0; j < enc_len; j++)
        if (!is_encoded_char(enc[j]))
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST, "invalid digest encoding");

    if (alg_len == 6 && memcmp(s, "sha256", 6) == 0) {
        if (enc_len != BERTH_SHA256_HEX_LEN)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST,
                                 "sha256 digest must have 64 hex characters");
        for (size_t j = 0; j < enc_len; j++)
            if (!is_hex_lower(enc[j]))
                return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST,
                                     "sha256 digest must be lower-case hex");
        if (out) {
            memcpy(out, s, len);
            out[len] = '\0';
        }
        return 0;
    }
    if (alg_len == 6 && memcmp(s, "sha512", 6) == 0) {
        if (enc_len != 128)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST,
                                 "sha512 digest must have 128 hex characters");
        for (size_t j = 0; j < enc_len; j++)
            if (!is_hex_lower(enc[j]))
                return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST,
                                     "sha512 digest must be lower-case hex");
    }
    return berth_err_set(BERTH_EUNSUPPORTED, BERTH_WHAT_DIGEST,
                         "digest algorithm %.*s is not supported (only sha256)", (int)alg_len, s);
}

const char *berth_digest_hex(const char *digest)
{
    return digest + 7;
}

static SHA256_CTX *ctx(struct berth_sha256 *h)
{
    return (SHA256_CTX *)(void *)h->state;
}

void berth_sha256_init(struct berth_sha256 *h)
{
    memset(h, 0, sizeof(*h));
    SHA256_Init(ctx(h));
}

void berth_sha256_update(struct berth_sha256 *h, const void *data, size_t len)
{
    SHA256_Update(ctx(h), data, len);
}

void berth_hex_encode(char *out, const unsigned char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void to_digest(const unsigned char md[SHA256_DIGEST_LENGTH], char out[BERTH_DIGEST_BUF])
{
    memcpy(out, "sha256:", 7);
    berth_hex_encode(out + 7, md, SHA256_DIGEST_LENGTH);
}

void berth_sha256_peek(const struct berth_sha256 *h, char out[BERTH_DIGEST_BUF])
{
    struct berth_sha256 copy = *h;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Final(md, ctx(&copy));
    to_digest(md, out);
}

void berth_sha256_oneshot(const void *data, size_t len, char out[BERTH_DIGEST_BUF])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    to_digest(md, out);
}

static const unsigned char state_magic[8] = {'B', 'S', 'H', 'A', '2', '5', '6', 1};

void berth_sha256_export(const struct berth_sha256 *h, unsigned char *out)
{
    memcpy(out, state_magic, 8);
    memcpy(out + 8, h->state, sizeof(h->state));
}

int berth_sha256_import(struct berth_sha256 *h, const void *in, size_t len)
{
    if (len != BERTH_SHA256_STATE_LEN || memcmp(in, state_magic, 8) != 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "corrupt upload hash state");
    memcpy(h->state, (const unsigned char *)in + 8, sizeof(h->state));
    return 0;
}
