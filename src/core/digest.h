/*
 * digest — content digests: parsing the OCI grammar and streaming SHA-256.
 *
 * Berth stores and verifies sha256 only. A well-formed digest with another algorithm
 * (sha512, blake3, ...) parses as BERTH_EUNSUPPORTED so handlers can say so precisely;
 * anything that does not match the image-spec grammar is BERTH_EINVALID.
 *
 * The hasher state can be exported and imported so a chunked upload resumes after a restart
 * without re-reading what it already received. The exported bytes are this build's
 * SHA256_CTX and are only meaningful to the same binary on the same machine.
 */
#ifndef BERTH_CORE_DIGEST_H
#define BERTH_CORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_SHA256_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define BERTH_DIGEST_BUF 72

/* Validates s[0..len) as a digest; on success copies the canonical form into out. */
int berth_digest_parse(const char *s, size_t len, char out[BERTH_DIGEST_BUF]);
/* Writes n bytes as 2n lower-case hex characters and a NUL into out. */
void berth_hex_encode(char *out, const unsigned char *in, size_t n);
/* The 64 hex characters of a parsed sha256 digest. */
const char *berth_digest_hex(const char *digest);

struct berth_sha256 {
    unsigned char state[128]; /* opaque: holds an OpenSSL SHA256_CTX */
};
void berth_sha256_init(struct berth_sha256 *h);
void berth_sha256_update(struct berth_sha256 *h, const void *data, size_t len);
/* Finishes a copy of h, so h can keep hashing. */
void berth_sha256_peek(const struct berth_sha256 *h, char out[BERTH_DIGEST_BUF]);
void berth_sha256_oneshot(const void *data, size_t len, char out[BERTH_DIGEST_BUF]);

#define BERTH_SHA256_STATE_LEN (sizeof(struct berth_sha256) + 8)
/* Serialises the state (with a magic prefix) into out, which must hold STATE_LEN bytes. */
void berth_sha256_export(const struct berth_sha256 *h, unsigned char *out);
int berth_sha256_import(struct berth_sha256 *h, const void *in, size_t len);

#endif
