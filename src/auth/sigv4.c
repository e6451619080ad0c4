#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/digest.h"
#include "core/err.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
/* yyyymmddThhmmssZ */
#define AMZ_DATE_LEN 16

/* ---- character classes -------------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_hex_lower(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* IMPLEMENTATION-OF SigV4 "URI-encode every byte except the unreserved characters:
 * 'A'-'Z', 'a'-'z', '0'-'9', '-', '.', '_', and '~'" (pinned by get-unreserved). */
static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 9110 tchar: what header names and methods are made of. */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* SignedHeaders carries names already lower-cased. */
static int is_lower_tchar(char c)
{
    return is_tchar(c) && !(c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- small helpers ------------------------------------------------------------------ */

/* Puts out back to the length it had, so a failed append leaves nothing behind. */
static void truncate_to(struct berth_buf *out, size_t len)
{
    out->len = len;
    if (out->data)
        out->data[len] = '\0';
}

static int append_str(struct berth_buf *out, const char *s)
{
    return berth_buf_append(out, s, strlen(s));
}

/* Percent-encodes one byte the way SigV4 wants: upper-case hex. */
static int append_encoded_byte(struct berth_buf *out, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    if (is_unreserved(c))
        return berth_buf_append(out, &c, 1);
    char e[3] = {'%', hex[c >> 4], hex[c & 15]};
    return berth_buf_append(out, e, 3);
}

static int append_encoded(struct berth_buf *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = append_encoded_byte(out, (unsigned char)s[i]);
    return rc;
}

/* Is name one of the ';'-separated entries of list? */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* ---- Authorization header ----------------------------------------------------------- */

static int validate_signed_headers(const char *s, size_t n)
{
    if (n == 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "SignedHeaders is empty");
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ';') {
            if (i == start)
                return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                     "SignedHeaders has an empty header name");
            start = i + 1;
        } else if (!is_lower_tchar(s[i])) {
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "SignedHeaders must be lower-case header names separated by "
                                 "';' (found '%c')",
                                 s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
        }
    }
    return 0;
}

/* Copies s[0..n) into dst (cap bytes with the NUL), refusing empty or over-long fields. */
static int copy_field(char *dst, size_t cap, const char *s, size_t n, const char *what)
{
    if (n == 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "%s is empty", what);
    if (n >= cap)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "%s is longer than %zu characters",
                             what, cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int scope_part_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* IMPLEMENTATION-OF SigV4 "Credential: your access key ID and the scope:
 * <key>/<yyyymmdd>/<region>/<service>/aws4_request". */
static int parse_credential(struct berth_sigv4_auth *out, const char *s, size_t n)
{
    const char *part[5];
    size_t len[5];
    size_t k = 0;
    const char *p = s, *end = s + n;
    while (k < 5) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        part[k] = p;
        len[k] = slash ? (size_t)(slash - p) : (size_t)(end - p);
        k++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (k != 5 || part[4] + len[4] != end)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "Credential must be <access key>/<yyyymmdd>/<region>/<service>/"
                             "aws4_request");

    int rc;
    if ((rc = copy_field(out->access_key, sizeof(out->access_key), part[0], len[0],
                         "the Credential access key")) < 0)
        return rc;
    for (size_t i = 0; i < len[0]; i++)
        if (part[0][i] <= 0x20 || part[0][i] >= 0x7f || part[0][i] == ',' || part[0][i] == '=')
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "the Credential access key has an invalid character");

    int date_ok = len[1] == 8;
    for (size_t i = 0; date_ok && i < 8; i++)
        date_ok = is_digit(part[1][i]);
    if (date_ok) {
        int month = (part[1][4] - '0') * 10 + (part[1][5] - '0');
        int day = (part[1][6] - '0') * 10 + (part[1][7] - '0');
        date_ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }
    if (!date_ok)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "the Credential scope date '%.*s' is not yyyymmdd",
                             (int)(len[1] > 16 ? 16 : len[1]), part[1]);
    memcpy(out->date, part[1], 8);
    out->date[8] = '\0';

    if ((rc = copy_field(out->region, sizeof(out->region), part[2], len[2],
                         "the Credential region")) < 0)
        return rc;
    if ((rc = copy_field(out->service, sizeof(out->service), part[3], len[3],
                         "the Credential service")) < 0)
        return rc;
    if (!scope_part_ok(part[2], len[2]) || !scope_part_ok(part[3], len[3]))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "the Credential region and service may hold only letters, digits, "
                             "'-' and '_'");
    if (len[4] != strlen(TERMINATOR) || memcmp(part[4], TERMINATOR, len[4]) != 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "the Credential scope must end in aws4_request, not '%.*s'",
                             (int)(len[4] > 32 ? 32 : len[4]), part[4]);
    return 0;
}

int berth_sigv4_parse_authorization(struct berth_sigv4_auth *out, const char *header_value)
{
    int rc = 0;
    int seen_cred = 0, seen_signed = 0, seen_sig = 0;
    memset(out, 0, sizeof(*out));
    if (!header_value) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "no Authorization header");
        goto out;
    }

    const char *p = header_value;
    while (is_space(*p))
        p++;
    size_t alg_len = strcspn(p, " \t");
    if (alg_len != strlen(ALGORITHM) || memcmp(p, ALGORITHM, alg_len) != 0) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "unsupported Authorization algorithm '%.*s' (only " ALGORITHM ")",
                           (int)(alg_len > 32 ? 32 : alg_len), p);
        goto out;
    }
    p += alg_len;

    /* Components are "key=value" separated by ',' with optional spaces either side: the SDKs
     * write ", ", but hand-rolled signers do not all add the space and AWS takes both. */
    for (int after_comma = 0;; after_comma = 1) {
        while (is_space(*p))
            p++;
        if (*p == '\0') {
            if (after_comma) {
                rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                   "the Authorization header ends with ','");
                goto out;
            }
            break; /* no components at all: reported below as a missing Credential */
        }
        const char *start = p;
        const char *end = p + strcspn(p, ",");
        const char *next = *end ? end + 1 : end;
        int comma = *end == ',';
        while (end > start && is_space(end[-1]))
            end--;
        if (end == start) {
            rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                               "the Authorization header has an empty component");
            goto out;
        }
        const char *eq = memchr(start, '=', (size_t)(end - start));
        if (!eq) {
            rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                               "Authorization component '%.*s' is not key=value",
                               (int)(end - start > 32 ? 32 : end - start), start);
            goto out;
        }
        size_t klen = (size_t)(eq - start);
        const char *v = eq + 1;
        size_t vlen = (size_t)(end - v);
        if (klen == 10 && memcmp(start, "Credential", 10) == 0) {
            if (seen_cred++) {
                rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "Credential appears twice");
                goto out;
            }
            if ((rc = parse_credential(out, v, vlen)) < 0)
                goto out;
        } else if (klen == 13 && memcmp(start, "SignedHeaders", 13) == 0) {
            if (seen_signed++) {
                rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "SignedHeaders appears twice");
                goto out;
            }
            if ((rc = copy_field(out->signed_headers, sizeof(out->signed_headers), v, vlen,
                                 "SignedHeaders")) < 0 ||
                (rc = validate_signed_headers(v, vlen)) < 0)
                goto out;
        } else if (klen == 9 && memcmp(start, "Signature", 9) == 0) {
            if (seen_sig++) {
                rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "Signature appears twice");
                goto out;
            }
            int ok = vlen == BERTH_SIGV4_SIG_HEX;
            for (size_t i = 0; ok && i < vlen; i++)
                ok = is_hex_lower(v[i]);
            if (!ok) {
                rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                   "Signature must be %d lower-case hex digits",
                                   BERTH_SIGV4_SIG_HEX);
                goto out;
            }
            memcpy(out->signature, v, vlen);
            out->signature[vlen] = '\0';
        } else {
            rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                               "unknown Authorization component '%.*s'",
                               (int)(klen > 32 ? 32 : klen), start);
            goto out;
        }
        p = next;
        if (!comma)
            break;
    }

    if (!seen_cred)
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "Authorization header requires a Credential component");
    else if (!seen_signed)
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "Authorization header requires a SignedHeaders component");
    else if (!seen_sig)
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "Authorization header requires a Signature component");
out:
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- canonical request -------------------------------------------------------------- */

/*
 * IMPLEMENTATION-OF SigV4 canonical URI for services other than S3: "normalize URI paths
 * according to RFC 3986. Remove redundant and relative path components", then URI-encode
 * each segment. Pinned by get-slash, get-slashes, get-slash-dot-slash,
 * get-slash-pointless-dot, get-relative, get-relative-relative, get-space and get-utf8.
 *
 * The path is encoded as received, without decoding first: the SDKs sign the encoding of
 * the path they put on the wire, so "/a%20b" signs as "/a%2520b". A trailing '/' survives
 * only when the raw path ends in one, as botocore (the AWS CLI) computes it.
 */
static int append_canonical_uri(struct berth_buf *out, const char *path)
{
    int rc = 0;
    size_t base = out->len;
    if (!path || !*path)
        return berth_buf_append(out, "/", 1);
    size_t n = strlen(path);
    const char *p = path, *end = path + n;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (len == 0 || (len == 1 && p[0] == '.')) {
            /* empty segments and "." vanish */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            /* Segments never hold a raw '/' once encoded, so the last '/' written is where
             * the previous segment began; ".." above the root stays at the root. */
            size_t cut = out->len;
            while (cut > base && out->data[cut - 1] != '/')
                cut--;
            truncate_to(out, cut > base ? cut - 1 : base);
        } else {
            if ((rc = berth_buf_append(out, "/", 1)) < 0 || (rc = append_encoded(out, p, len)) < 0)
                return rc;
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    if (out->len == base)
        return berth_buf_append(out, "/", 1);
    if (path[n - 1] == '/')
        return berth_buf_append(out, "/", 1);
    return rc;
}

/* Decodes s[0..n) (percent escapes and '+' as space) and appends it re-encoded, NUL-ended. */
static int append_reencoded(struct berth_buf *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                     "the query string has a bad percent escape");
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            /* Form encoding, as the Go SDK reads queries: '+' is a space. */
            c = ' ';
        }
        rc = append_encoded_byte(out, c);
    }
    if (rc == 0)
        rc = berth_buf_append(out, "", 1);
    return rc;
}

struct qparam {
    size_t key_off, value_off; /* into the scratch buffer while it may still move */
    const char *key, *value;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/*
 * IMPLEMENTATION-OF SigV4 canonical query string: "URI-encode each parameter name and
 * value ... Sort the parameter names by character code point in ascending order.
 * Parameters with duplicate names should be sorted by value." A name without '=' has an
 * empty value. Pinned by the get-vanilla-query* and get-vanilla-utf8-query cases.
 */
static int append_canonical_query(struct berth_buf *out, const char *query)
{
    int rc = 0;
    struct berth_buf scratch;
    struct qparam *params = NULL;
    size_t qlen = query ? strlen(query) : 0;
    /* Every byte re-encodes to at most three, and each parameter adds two NULs. */
    berth_buf_init(&scratch, 3 * qlen + 2 * (qlen + 1) + 16);
    if (qlen == 0)
        goto out;

    size_t count = 0;
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        if (len > 0)
            count++;
        p += len;
        if (*p == '&')
            p++;
    }
    if (count == 0)
        goto out;
    if (count > BERTH_SIGV4_QUERY_PARAMS_MAX) {
        rc = berth_err_set(BERTH_ETOOBIG, BERTH_WHAT_NONE,
                           "the query string has more than %d parameters",
                           BERTH_SIGV4_QUERY_PARAMS_MAX);
        goto out;
    }
    params = calloc(count, sizeof(*params));
    if (!params) {
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        goto out;
    }

    size_t i = 0;
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            params[i].key_off = scratch.len;
            if ((rc = append_reencoded(&scratch, p, klen)) < 0)
                goto out;
            params[i].value_off = scratch.len;
            if ((rc = append_reencoded(&scratch, eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0)) <
                0)
                goto out;
            i++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    /* The scratch buffer is complete, so pointers into it are stable from here on. */
    for (i = 0; i < count; i++) {
        params[i].key = scratch.data + params[i].key_off;
        params[i].value = scratch.data + params[i].value_off;
    }
    qsort(params, count, sizeof(*params), qparam_cmp);
    for (i = 0; i < count && rc == 0; i++) {
        if (i > 0)
            rc = berth_buf_append(out, "&", 1);
        if (rc == 0)
            rc = append_str(out, params[i].key);
        if (rc == 0)
            rc = berth_buf_append(out, "=", 1);
        if (rc == 0)
            rc = append_str(out, params[i].value);
    }
out:
    free(params);
    berth_buf_dispose(&scratch);
    return rc;
}

/* Appends value with leading and trailing whitespace dropped and inner runs folded to one
 * space (get-header-value-trim: `"a   b   c"` signs as `"a b c"`, quotes notwithstanding). */
static int append_folded_value(struct berth_buf *out, const char *v)
{
    int rc = 0;
    int pending = 0, wrote = 0;
    for (; v && *v && rc == 0; v++) {
        if (is_space(*v) || *v == '\r' || *v == '\n') {
            pending = 1;
            continue;
        }
        if (pending && wrote)
            rc = berth_buf_append(out, " ", 1);
        if (rc == 0)
            rc = berth_buf_append(out, v, 1);
        pending = 0;
        wrote = 1;
    }
    return rc;
}

/*
 * IMPLEMENTATION-OF SigV4 canonical headers: "lowercase header name, colon, trimmed value,
 * newline", with repeated headers joined by ',' in the order received
 * (get-header-key-duplicate, get-header-value-order).
 */
static int append_canonical_headers(struct berth_buf *out, const struct berth_sigv4_request *req,
                                    const char *signed_headers)
{
    int rc = 0;
    for (const char *p = signed_headers; *p && rc == 0;) {
        size_t len = strcspn(p, ";");
        if ((rc = berth_buf_append(out, p, len)) < 0 || (rc = berth_buf_append(out, ":", 1)) < 0)
            return rc;
        int found = 0;
        for (size_t i = 0; i < req->nheaders && rc == 0; i++) {
            const char *name = req->headers[i].name;
            if (!name || strlen(name) != len || strncasecmp(name, p, len) != 0)
                continue;
            if (found++)
                rc = berth_buf_append(out, ",", 1);
            if (rc == 0)
                rc = append_folded_value(out, req->headers[i].value);
        }
        if (rc < 0)
            return rc;
        if (!found)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "signed header '%.*s' is not in the request",
                                 (int)(len > 64 ? 64 : len), p);
        rc = berth_buf_append(out, "\n", 1);
        p += len;
        if (*p == ';')
            p++;
    }
    return rc;
}

static int payload_hash_ok(const char *h)
{
    if (!h || strlen(h) != BERTH_SHA256_HEX_LEN)
        return 0;
    for (size_t i = 0; i < BERTH_SHA256_HEX_LEN; i++)
        if (!is_hex_lower(h[i]))
            return 0;
    return 1;
}

int berth_sigv4_canonical_request(struct berth_buf *out, const struct berth_sigv4_request *req,
                                  const char *signed_headers)
{
    int rc = 0;
    size_t base = out->len;
    if (!req || !req->method || !*req->method || !signed_headers ||
        (req->nheaders && !req->headers)) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "SigV4 needs a method, the headers and SignedHeaders");
        goto out;
    }
    for (const char *m = req->method; *m; m++)
        if (!is_tchar(*m)) {
            rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "the request method is invalid");
            goto out;
        }
    if (!payload_hash_ok(req->payload_sha256_hex)) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "the payload hash must be %d lower-case hex digits",
                           BERTH_SHA256_HEX_LEN);
        goto out;
    }
    if ((rc = validate_signed_headers(signed_headers, strlen(signed_headers))) < 0)
        goto out;

    /* CanonicalRequest = Method \n URI \n Query \n Headers \n SignedHeaders \n PayloadHash,
     * where Headers ends with its own \n, hence the blank line before SignedHeaders. */
    if ((rc = append_str(out, req->method)) < 0 || (rc = berth_buf_append(out, "\n", 1)) < 0 ||
        (rc = append_canonical_uri(out, req->path)) < 0 ||
        (rc = berth_buf_append(out, "\n", 1)) < 0 ||
        (rc = append_canonical_query(out, req->query)) < 0 ||
        (rc = berth_buf_append(out, "\n", 1)) < 0 ||
        (rc = append_canonical_headers(out, req, signed_headers)) < 0 ||
        (rc = berth_buf_append(out, "\n", 1)) < 0 || (rc = append_str(out, signed_headers)) < 0 ||
        (rc = berth_buf_append(out, "\n", 1)) < 0 ||
        (rc = append_str(out, req->payload_sha256_hex)) < 0)
        goto out;
out:
    if (rc < 0)
        truncate_to(out, base);
    return rc;
}

/* ---- string to sign and signature --------------------------------------------------- */

static int amz_date_shape_ok(const char *s)
{
    if (!s || strlen(s) != AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !is_digit(s[i]))
            return 0;
    return 1;
}

int berth_sigv4_string_to_sign(struct berth_buf *out, const char *amz_date, const char *scope,
                               const char *canonical_request, size_t len)
{
    if (!amz_date_shape_ok(amz_date))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "the request date must be yyyymmddThhmmssZ");
    if (!scope || !*scope || strchr(scope, '\n') || (!canonical_request && len))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "the string to sign needs a scope and a canonical request");
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(canonical_request ? canonical_request : "", len, digest);
    /* One printf so the buffer either gets the whole string or nothing. */
    return berth_buf_printf(out, ALGORITHM "\n%s\n%s\n%s", amz_date, scope,
                            berth_digest_hex(digest));
}

static int hmac_sha256(unsigned char out[32], const void *key, size_t klen, const void *data,
                       size_t dlen)
{
    unsigned int olen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &olen) || olen != 32)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "HMAC-SHA256 failed in OpenSSL");
    return 0;
}

int berth_sigv4_sign(char out[BERTH_SIGV4_SIG_HEX + 1], const char *secret, const char *date8,
                     const char *region, const char *service, const char *string_to_sign,
                     size_t len)
{
    int rc = 0;
    unsigned char seed[4 + BERTH_SIGV4_SECRET_MAX];
    unsigned char k[32], md[32];
    size_t slen = secret ? strnlen(secret, BERTH_SIGV4_SECRET_MAX + 1) : 0;
    memset(out, 0, BERTH_SIGV4_SIG_HEX + 1);

    if (slen == 0 || slen > BERTH_SIGV4_SECRET_MAX) {
        /* Says nothing about the secret but its length class. */
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "the secret key must be 1 to %d characters", BERTH_SIGV4_SECRET_MAX);
        goto out;
    }
    if (!date8 || strlen(date8) != 8 || !region || !*region || !service || !*service ||
        (!string_to_sign && len)) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "signing needs a yyyymmdd date, a region, a service and a string");
        goto out;
    }

    /* IMPLEMENTATION-OF SigV4 signing key: kDate = HMAC("AWS4" + secret, date),
     * kRegion = HMAC(kDate, region), kService = HMAC(kRegion, service),
     * kSigning = HMAC(kService, "aws4_request"); signature = hex(HMAC(kSigning, sts)). */
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, slen);
    if ((rc = hmac_sha256(k, seed, 4 + slen, date8, 8)) < 0 ||
        (rc = hmac_sha256(k, k, sizeof(k), region, strlen(region))) < 0 ||
        (rc = hmac_sha256(k, k, sizeof(k), service, strlen(service))) < 0 ||
        (rc = hmac_sha256(k, k, sizeof(k), TERMINATOR, strlen(TERMINATOR))) < 0 ||
        (rc = hmac_sha256(md, k, sizeof(k), string_to_sign ? string_to_sign : "", len)) < 0)
        goto out;
    berth_hex_encode(out, md, sizeof(md));
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(md, sizeof(md));
    if (rc < 0)
        memset(out, 0, BERTH_SIGV4_SIG_HEX + 1);
    return rc;
}

/* ---- request time ------------------------------------------------------------------- */

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Builds a time from broken-down UTC fields, refusing what timegm would quietly normalise
 * (30 February, 25 o'clock). */
static int make_time(time_t *out, int year, int mon, int day, int hour, int min, int sec)
{
    struct tm tm = {0}, back;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_year != tm.tm_year ||
        back.tm_mon != tm.tm_mon || back.tm_mday != day || back.tm_hour != hour ||
        back.tm_min != min || back.tm_sec != sec)
        return -1;
    *out = t;
    return 0;
}

static int parse_amz_date(time_t *out, const char *s)
{
    if (!amz_date_shape_ok(s))
        return -1;
    return make_time(out, two(s) * 100 + two(s + 2), two(s + 4), two(s + 6), two(s + 9),
                     two(s + 11), two(s + 13));
}

/* RFC 9110 IMF-fixdate: "Sun, 30 Aug 2015 12:36:00 GMT". The obsolete RFC 850 and asctime
 * forms are not accepted; no SDK sends them. */
static int parse_http_date(time_t *out, const char *s)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    static const int digits[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
    for (size_t i = 0; i < sizeof(digits) / sizeof(digits[0]); i++)
        if (!is_digit(s[digits[i]]))
            return -1;
    int wday = -1, mon = -1;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, days + 3 * i, 3) == 0)
            wday = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            mon = i + 1;
    if (wday < 0 || mon < 0)
        return -1;
    return make_time(out, two(s + 12) * 100 + two(s + 14), mon, two(s + 5), two(s + 17),
                     two(s + 20), two(s + 23));
}

static void format_amz(char out[AMZ_DATE_LEN + 1], time_t t)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(out, AMZ_DATE_LEN + 1, "?");
}

/* Copies a header value without surrounding whitespace into dst; 0 if it does not fit. */
static int trimmed_copy(char *dst, size_t cap, const char *v)
{
    while (v && is_space(*v))
        v++;
    size_t n = v ? strlen(v) : 0;
    while (n > 0 && is_space(v[n - 1]))
        n--;
    if (n >= cap)
        return 0;
    if (n)
        memcpy(dst, v, n);
    dst[n] = '\0';
    return 1;
}

/* Finds the request time: X-Amz-Date, else Date. Writes the header used and the time in
 * the ISO 8601 basic form that goes into the string to sign. */
static int request_time(const struct berth_sigv4_request *req, time_t *t,
                        char amz[AMZ_DATE_LEN + 1], const char **used)
{
    const char *xamz = NULL, *date = NULL;
    int nxamz = 0, ndate = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name;
        if (!name)
            continue;
        if (strcasecmp(name, "x-amz-date") == 0) {
            nxamz++;
            xamz = req->headers[i].value;
        } else if (strcasecmp(name, "date") == 0) {
            ndate++;
            date = req->headers[i].value;
        }
    }
    char v[64];
    if (nxamz > 1 || (nxamz == 0 && ndate > 1))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "the request has more than one %s header",
                             nxamz > 1 ? "X-Amz-Date" : "Date");
    if (nxamz == 1) {
        if (!trimmed_copy(v, sizeof(v), xamz) || parse_amz_date(t, v) < 0)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "X-Amz-Date must be yyyymmddThhmmssZ");
        *used = "x-amz-date";
    } else if (ndate == 1) {
        if (!trimmed_copy(v, sizeof(v), date) || parse_http_date(t, v) < 0)
            return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                                 "Date must be like 'Sun, 30 Aug 2015 12:36:00 GMT' when there "
                                 "is no X-Amz-Date");
        *used = "date";
    } else {
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "a signed request needs an X-Amz-Date or Date header");
    }
    format_amz(amz, *t);
    return 0;
}

/* ---- the decision ------------------------------------------------------------------- */

static int auth_shape_ok(const struct berth_sigv4_auth *a)
{
    /* auth may have been filled by hand: make sure every field ends inside its array. */
    return memchr(a->access_key, '\0', sizeof(a->access_key)) &&
           memchr(a->region, '\0', sizeof(a->region)) && a->region[0] &&
           memchr(a->service, '\0', sizeof(a->service)) && a->service[0] &&
           memchr(a->signed_headers, '\0', sizeof(a->signed_headers)) &&
           strnlen(a->date, sizeof(a->date)) == 8 &&
           strnlen(a->signature, sizeof(a->signature)) == BERTH_SIGV4_SIG_HEX;
}

static void window_text(char *dst, size_t cap, int skew)
{
    if (skew % 60 == 0)
        snprintf(dst, cap, "%d min.", skew / 60);
    else
        snprintf(dst, cap, "%d s.", skew);
}

int berth_sigv4_verify(const struct berth_sigv4_request *req, const struct berth_sigv4_auth *auth,
                       const char *secret, time_t now, int skew_seconds)
{
    int rc = 0;
    struct berth_buf creq, sts;
    char amz[AMZ_DATE_LEN + 1];
    char scope[8 + 1 + sizeof(auth->region) + sizeof(auth->service) + sizeof(TERMINATOR) + 1];
    char sig[BERTH_SIGV4_SIG_HEX + 1] = {0};
    const char *date_header = NULL;
    time_t t = 0;
    berth_buf_init(&creq, BERTH_SIGV4_CANONICAL_MAX);
    berth_buf_init(&sts, BERTH_SIGV4_CANONICAL_MAX);

    if (!req || !auth || !secret || skew_seconds < 0 || !auth_shape_ok(auth)) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "SigV4 verification needs a request, parsed credentials, a secret "
                           "and a non-negative skew");
        goto out;
    }
    if ((rc = request_time(req, &t, amz, &date_header)) < 0)
        goto out;

    /* Without these in the signature, the same signature would hold for another host or,
     * with a fresh date, forever. */
    if (!list_has(auth->signed_headers, "host")) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "the host header must be signed");
        goto out;
    }
    if (!list_has(auth->signed_headers, date_header)) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "the %s header must be signed",
                           date_header);
        goto out;
    }
    if (memcmp(amz, auth->date, 8) != 0) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                           "the Credential scope date %s is not the request date %.8s (from %s)",
                           auth->date, amz, amz);
        goto out;
    }

    snprintf(scope, sizeof(scope), "%s/%s/%s/" TERMINATOR, auth->date, auth->region, auth->service);
    if ((rc = berth_sigv4_canonical_request(&creq, req, auth->signed_headers)) < 0 ||
        (rc = berth_sigv4_string_to_sign(&sts, amz, scope, creq.data, creq.len)) < 0 ||
        (rc = berth_sigv4_sign(sig, secret, auth->date, auth->region, auth->service, sts.data,
                               sts.len)) < 0)
        goto out;

    if (CRYPTO_memcmp(sig, auth->signature, BERTH_SIGV4_SIG_HEX) != 0) {
        rc = berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE,
                           "the request signature does not match the one calculated for access "
                           "key %s; check the secret key and signing method",
                           auth->access_key);
        goto out;
    }

    /* Wording as AWS's, which the SDKs look for to correct their clock and retry. */
    long long diff = (long long)now - (long long)t;
    if (diff > skew_seconds || diff < -(long long)skew_seconds) {
        char bound[AMZ_DATE_LEN + 1], current[AMZ_DATE_LEN + 1], window[32];
        int late = diff > 0;
        format_amz(bound, late ? now - skew_seconds : now + skew_seconds);
        format_amz(current, now);
        window_text(window, sizeof(window), skew_seconds);
        rc = berth_err_set(BERTH_ERANGE, BERTH_WHAT_NONE,
                           late ? "Signature expired: %s is now earlier than %s (%s - %s)"
                                : "Signature not yet current: %s is still later than %s (%s + %s)",
                           amz, bound, current, window);
        goto out;
    }
out:
    OPENSSL_cleanse(sig, sizeof(sig));
    berth_buf_dispose(&creq);
    berth_buf_dispose(&sts);
    return rc;
}
