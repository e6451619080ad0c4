/*
 * sigv4 — checking AWS Signature Version 4 on requests that arrive with header auth.
 *
 * ECR clients (the AWS CLI, SDKs, docker-credential-ecr-login) authenticate every API call
 * by signing it with SigV4, so Berth has to re-derive, byte for byte, the canonical request
 * the client hashed and compare signatures. Any disagreement in canonicalisation is a
 * rejected client, so the rules here follow AWS's published test suite (tests/data/sigv4)
 * rather than a reading of the prose, and each rule names the case that pins it.
 *
 * Only the server side lives here: parsing the Authorization header, rebuilding the
 * canonical request and string to sign, deriving the signing key, and the decision. Looking
 * up the secret for an access key, choosing the region and service Berth answers for, and
 * turning codes into wire errors belong to the caller. Pre-signed (query-string) auth and
 * chunked (streaming) payload signing are not supported.
 *
 * The module keeps no state; every function is safe to call from any thread. The secret is
 * never copied into error messages, and derived keys are wiped before returning.
 */
#ifndef BERTH_AUTH_SIGV4_H
#define BERTH_AUTH_SIGV4_H

#include <stddef.h>
#include <time.h>

struct berth_buf;

/* AWS rejects requests whose time is more than 15 minutes from its clock. */
#define BERTH_SIGV4_SKEW_DEFAULT (15 * 60)

/* A canonical request is the request line, the signed headers and a hash; the HTTP layer
 * already caps the request line plus headers at BERTH_HEADER_MAX_DEFAULT (64 KiB), and
 * re-encoding can triple the query. 256 KiB covers the worst case with room to spare. */
#define BERTH_SIGV4_CANONICAL_MAX (256u * 1024)

/* Query parameters sorted for the canonical query. Real ECR and OCI calls send a handful;
 * the cap keeps the sort's scratch array bounded whatever the request line holds. */
#define BERTH_SIGV4_QUERY_PARAMS_MAX 1024

/* Secrets are 40 characters for AWS-issued keys; anything past 256 is not a secret Berth
 * issued and would only be an unbounded stack copy. */
#define BERTH_SIGV4_SECRET_MAX 256

#define BERTH_SIGV4_SIG_HEX 64

struct berth_sigv4_header {
    const char *name;  /* any case */
    const char *value; /* as received; surrounding and repeated spaces are folded here */
};

struct berth_sigv4_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* raw, as sent (still percent-encoded), without the query */
    const char *query;  /* raw, without '?'; NULL or "" for none */
    const struct berth_sigv4_header *headers; /* every header as received, duplicates kept */
    size_t nheaders;
    const char *payload_sha256_hex; /* 64 lower-case hex of the body Berth received */
};

/* The fields of an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
 * header. Sizes are the largest values accepted; anything longer is BERTH_EINVALID. */
struct berth_sigv4_auth {
    char access_key[129];
    char date[9]; /* yyyymmdd of the credential scope */
    char region[64];
    char service[64];
    char signed_headers[1024]; /* lower-case names joined by ';', as sent */
    char signature[BERTH_SIGV4_SIG_HEX + 1];
};

/*
 * Parses an Authorization header value into out. Spaces around the commas between the
 * components are allowed, as AWS allows them; the components may come in any order.
 * Returns 0, or BERTH_EINVALID (with a message naming the problem) for another algorithm,
 * a missing, repeated or unknown component, a credential scope that is not
 * key/yyyymmdd/region/service/aws4_request, an empty or upper-case signed header name, a
 * signature that is not 64 lower-case hex digits, or a field longer than out can hold.
 * out is zeroed on failure.
 */
int berth_sigv4_parse_authorization(struct berth_sigv4_auth *out, const char *header_value);

/*
 * Appends the canonical request for req to out (initialised by the caller with its own
 * maximum; BERTH_SIGV4_CANONICAL_MAX is enough for anything the HTTP layer accepts).
 * signed_headers is the ';'-separated list from the Authorization header; the canonical
 * headers follow its order. The path is normalised as for every service but S3 (dot
 * segments resolved, empty segments dropped) and then encoded as received, so a "%20" on
 * the wire becomes "%2520", which is what the SDKs sign. The query is decoded ('+' as a
 * space) and re-encoded, then sorted by key and value.
 * Returns 0; BERTH_EINVALID for a bad percent escape in the query, a malformed list or a
 * signed header absent from the request; BERTH_ETOOBIG past out's maximum or
 * BERTH_SIGV4_QUERY_PARAMS_MAX; BERTH_ENOMEM. On failure out is as it was before.
 */
int berth_sigv4_canonical_request(struct berth_buf *out, const struct berth_sigv4_request *req,
                                  const char *signed_headers);

/*
 * Appends "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>" to out.
 * amz_date is the ISO 8601 basic form (20150830T123600Z); scope is
 * 20150830/us-east-1/service/aws4_request. Returns 0, BERTH_EINVALID for a malformed
 * amz_date, or what berth_buf_append returns (out unchanged then).
 */
int berth_sigv4_string_to_sign(struct berth_buf *out, const char *amz_date, const char *scope,
                               const char *canonical_request, size_t len);

/*
 * Writes the lower-case hex HMAC-SHA256 of string_to_sign under the key derived from
 * "AWS4" + secret, date8, region, service and "aws4_request" into out (NUL-terminated).
 * Returns 0, BERTH_EINVALID for an empty or over-long secret or a missing argument, or
 * BERTH_EIO if OpenSSL fails. out is all NULs on failure.
 */
int berth_sigv4_sign(char out[BERTH_SIGV4_SIG_HEX + 1], const char *secret, const char *date8,
                     const char *region, const char *service, const char *string_to_sign,
                     size_t len);

/*
 * Decides whether req carries a valid signature by the holder of secret, made within
 * skew_seconds of now. The caller has already parsed auth, found secret for
 * auth->access_key, and must itself check that auth->region and auth->service are ones
 * Berth answers for: a signature is only as narrow as the scope the client chose.
 *
 * The request time is X-Amz-Date (yyyymmddThhmmssZ), or Date in IMF-fixdate form
 * ("Sun, 30 Aug 2015 12:36:00 GMT") when there is no X-Amz-Date. Whichever is used must be
 * signed, as must Host, or an attacker could replay the request under another host or time.
 *
 * Returns:
 *   0              the signature is valid and the request is within the window.
 *   BERTH_EINVALID the request cannot be checked: no usable date, the date or host not
 *                  signed, a signed header absent, the scope date not the request's date,
 *                  a malformed payload hash, auth fields out of shape.
 *   BERTH_EDENIED  the signature does not match (wrong secret, or the request was changed).
 *   BERTH_ERANGE   the signature matches but the request time is more than skew_seconds
 *                  before or after now ("Signature expired: ..." or "Signature not yet
 *                  current: ..." in the detail). The signature is checked first, so this
 *                  code means the named key really sent it and its clock or a replay is
 *                  the problem.
 *   BERTH_ETOOBIG, BERTH_ENOMEM, BERTH_EIO as for the functions above.
 * Signatures are compared in constant time.
 */
int berth_sigv4_verify(const struct berth_sigv4_request *req, const struct berth_sigv4_auth *auth,
                       const char *secret, time_t now, int skew_seconds);

#endif
