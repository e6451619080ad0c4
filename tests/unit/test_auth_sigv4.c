/*
 * SigV4 verification against AWS's own test suite (aws-sig-v4-test-suite, 2015 edition),
 * stored under tests/data/sigv4/<case>/<case>.{req,creq,sts,authz}, plus a request signed by
 * botocore the way the AWS CLI signs ECR calls. A client and Berth that disagree by one byte
 * of canonical form lock that client out, so every case checks each stage byte for byte and
 * then that verify() refuses the request once anything signed has changed.
 *
 * Suite cases left out, with the reason:
 *   get-header-value-multiline  obs-fold continuation lines ("value1\n  value2"), which the
 *                               suite canonicalises as "value1,value2,value3". RFC 9110
 *                               forbids obs-fold; libmicrohttpd unfolds it to spaces or
 *                               refuses the request, so Berth never sees the header the
 *                               suite expects and the case cannot describe a real request.
 *   the pre-signed (query-string) variants of each case: Berth takes header auth only.
 * Everything else in the suite is included, the two post-sts-token cases among them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sigv4.h"
#include "core/buf.h"
#include "core/digest.h"
#include "core/err.h"

#ifndef BERTH_SIGV4_VECTORS
#define BERTH_SIGV4_VECTORS "tests/data/sigv4"
#endif

/* The suite's credentials and clock: 2015-08-30T12:36:00Z. */
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_NOW ((time_t)1440938160)
#define SKEW BERTH_SIGV4_SKEW_DEFAULT

static const char *const suite_cases[] = {
    "get-header-key-duplicate",
    "get-header-value-order",
    "get-header-value-trim",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    /* normalize-path/ */
    "get-relative",
    "get-relative-relative",
    "get-slash",
    "get-slash-dot-slash",
    "get-slash-pointless-dot",
    "get-slashes",
    "get-space",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    /* post-sts-token/ */
    "post-sts-header-after",
    "post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
};
#define NCASES (sizeof(suite_cases) / sizeof(suite_cases[0]))

#define MAX_HEADERS 16

/* One .req file taken apart; every pointer is into text. */
struct parsed {
    char *text;
    char *method, *path, *query;
    struct berth_sigv4_header headers[MAX_HEADERS];
    size_t nheaders;
    char payload[BERTH_SHA256_HEX_LEN + 1];
};

static char *slurp(const char *name, const char *ext)
{
    const char *dir = getenv("BERTH_SIGV4_VECTORS");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s.%s", dir ? dir : BERTH_SIGV4_VECTORS, name, name, ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *data = malloc(1 << 16);
    assert_non_null(data);
    size_t n = fread(data, 1, (1 << 16) - 1, f);
    assert_true(feof(f));
    fclose(f);
    data[n] = '\0';
    return data;
}

static void set_payload(struct parsed *p, const char *body, size_t len)
{
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(body, len, digest);
    memcpy(p->payload, berth_digest_hex(digest), BERTH_SHA256_HEX_LEN + 1);
}

/* "METHOD target HTTP/1.1\nName:value\n...[\n\nbody]": the target may hold spaces
 * (get-space), so the version is whatever follows the last space of the first line. */
static void parse_req(struct parsed *p, char *text)
{
    memset(p, 0, sizeof(*p));
    p->text = text;
    char *line_end = strchr(text, '\n');
    char *rest = NULL;
    if (line_end) {
        *line_end = '\0';
        rest = line_end + 1;
    }
    char *sp = strchr(text, ' ');
    char *last = strrchr(text, ' ');
    assert_non_null(sp);
    assert_true(last > sp);
    *sp = '\0';
    *last = '\0';
    p->method = text;
    p->path = sp + 1;
    char *q = strchr(p->path, '?');
    if (q) {
        *q = '\0';
        p->query = q + 1;
    }
    const char *body = "";
    while (rest && *rest) {
        if (*rest == '\n') {
            body = rest + 1;
            break;
        }
        char *nl = strchr(rest, '\n');
        if (nl)
            *nl = '\0';
        char *colon = strchr(rest, ':');
        assert_non_null(colon);
        *colon = '\0';
        assert_true(p->nheaders < MAX_HEADERS);
        p->headers[p->nheaders].name = rest;
        p->headers[p->nheaders].value = colon + 1;
        p->nheaders++;
        rest = nl ? nl + 1 : NULL;
    }
    set_payload(p, body, strlen(body));
}

static struct berth_sigv4_request as_request(const struct parsed *p)
{
    struct berth_sigv4_request r = {
        .method = p->method,
        .path = p->path,
        .query = p->query,
        .headers = p->headers,
        .nheaders = p->nheaders,
        .payload_sha256_hex = p->payload,
    };
    return r;
}

static const char *header(const struct parsed *p, const char *name)
{
    for (size_t i = 0; i < p->nheaders; i++)
        if (strcasecmp(p->headers[i].name, name) == 0)
            return p->headers[i].value;
    return NULL;
}

static int signed_list_has(const char *list, const char *name, size_t n)
{
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ";");
        if (len == n && strncasecmp(s, name, n) == 0)
            return 1;
        s += len;
        if (*s == ';')
            s++;
    }
    return 0;
}

/* ---- the suite ---------------------------------------------------------------------- */

static void suite_case(void **state)
{
    const char *name = *state;
    struct parsed p;
    char *creq_want = slurp(name, "creq");
    char *sts_want = slurp(name, "sts");
    char *authz = slurp(name, "authz");
    parse_req(&p, slurp(name, "req"));
    struct berth_sigv4_request req = as_request(&p);

    struct berth_sigv4_auth auth;
    assert_int_equal(berth_sigv4_parse_authorization(&auth, authz), 0);
    assert_string_equal(auth.access_key, "AKIDEXAMPLE");
    assert_string_equal(auth.date, "20150830");
    assert_string_equal(auth.region, "us-east-1");
    assert_string_equal(auth.service, "service");

    /* Stage by stage, byte for byte. */
    struct berth_buf creq, sts;
    berth_buf_init(&creq, BERTH_SIGV4_CANONICAL_MAX);
    berth_buf_init(&sts, BERTH_SIGV4_CANONICAL_MAX);
    assert_int_equal(berth_sigv4_canonical_request(&creq, &req, auth.signed_headers), 0);
    assert_string_equal(creq.data, creq_want);
    assert_int_equal(creq.len, strlen(creq_want));

    const char *amz = header(&p, "X-Amz-Date");
    assert_non_null(amz);
    assert_int_equal(berth_sigv4_string_to_sign(
                         &sts, amz, "20150830/us-east-1/service/aws4_request", creq.data, creq.len),
                     0);
    assert_string_equal(sts.data, sts_want);

    char sig[BERTH_SIGV4_SIG_HEX + 1];
    assert_int_equal(
        berth_sigv4_sign(sig, SUITE_SECRET, "20150830", "us-east-1", "service", sts.data, sts.len),
        0);
    assert_string_equal(sig, auth.signature);

    /* The whole decision, then each way the request can go wrong. */
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, SUITE_NOW, SKEW), 0);
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, SUITE_NOW - SKEW, SKEW), 0);
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, SUITE_NOW + SKEW, SKEW), 0);

    struct berth_sigv4_auth bad = auth;
    bad.signature[17] = bad.signature[17] == '0' ? '1' : '0';
    assert_int_equal(berth_sigv4_verify(&req, &bad, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EDENIED);
    assert_null(strstr(berth_err_detail(), SUITE_SECRET));

    assert_int_equal(berth_sigv4_verify(&req, &auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz",
                                        SUITE_NOW, SKEW),
                     BERTH_EDENIED);

    /* Change each signed header in turn (the first copy, when it repeats). */
    for (size_t i = 0; i < p.nheaders; i++) {
        const char *n = p.headers[i].name;
        if (!signed_list_has(auth.signed_headers, n, strlen(n)) ||
            header(&p, n) != p.headers[i].value)
            continue;
        struct parsed changed = p;
        char value[4096];
        if (strcasecmp(n, "x-amz-date") == 0)
            snprintf(value, sizeof(value), "20150830T123601Z"); /* same day, one second on */
        else
            snprintf(value, sizeof(value), "%sx", p.headers[i].value);
        changed.headers[i].value = value;
        struct berth_sigv4_request r = as_request(&changed);
        assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW),
                         BERTH_EDENIED);
    }

    /* A header nobody signed may come and go. */
    struct parsed extra = p;
    assert_true(extra.nheaders < MAX_HEADERS);
    extra.headers[extra.nheaders].name = "X-Unsigned";
    extra.headers[extra.nheaders].value = "anything";
    extra.nheaders++;
    struct berth_sigv4_request r_extra = as_request(&extra);
    assert_int_equal(berth_sigv4_verify(&r_extra, &auth, SUITE_SECRET, SUITE_NOW, SKEW), 0);

    struct parsed body = p;
    set_payload(&body, "tampered", 8);
    struct berth_sigv4_request r_body = as_request(&body);
    assert_int_equal(berth_sigv4_verify(&r_body, &auth, SUITE_SECRET, SUITE_NOW, SKEW),
                     BERTH_EDENIED);

    /* 16 minutes either way is outside AWS's 15. */
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, SUITE_NOW + 16 * 60, SKEW),
                     BERTH_ERANGE);
    assert_non_null(strstr(berth_err_detail(), "Signature expired: 20150830T123600Z is now "
                                               "earlier than 20150830T123700Z "
                                               "(20150830T125200Z - 15 min.)"));
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, SUITE_NOW - 16 * 60, SKEW),
                     BERTH_ERANGE);
    assert_non_null(strstr(berth_err_detail(), "Signature not yet current"));
    /* A forged signature is a mismatch whatever the clock says. */
    assert_int_equal(berth_sigv4_verify(&req, &bad, SUITE_SECRET, SUITE_NOW + 16 * 60, SKEW),
                     BERTH_EDENIED);

    berth_buf_dispose(&creq);
    berth_buf_dispose(&sts);
    free(p.text);
    free(creq_want);
    free(sts_want);
    free(authz);
}

/* post-sts-header-after: the session token is added after signing and is not signed. */
static void sts_token_added_after_signing(void **state)
{
    struct parsed p;
    char *authz = slurp("post-sts-header-after", "authz");
    parse_req(&p, slurp("post-sts-header-after", "req"));
    p.headers[p.nheaders].name = "X-Amz-Security-Token";
    p.headers[p.nheaders].value = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4F"
                                  "ZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/q"
                                  "kPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYw"
                                  "T7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xV"
                                  "qr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKT"
                                  "r4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
    p.nheaders++;
    struct berth_sigv4_request req = as_request(&p);
    struct berth_sigv4_auth auth;
    assert_int_equal(berth_sigv4_parse_authorization(&auth, authz), 0);
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, SUITE_NOW, SKEW), 0);
    free(p.text);
    free(authz);
}

/* ---- an ECR call as the AWS CLI signs it -------------------------------------------- */

/*
 * Expected signature produced by botocore 1.43.11, not by this code:
 *
 *   python3 -c '
 *   import datetime; from unittest import mock; import botocore.auth
 *   from botocore.auth import SigV4Auth; from botocore.awsrequest import AWSRequest
 *   from botocore.credentials import Credentials
 *   r = AWSRequest(method="POST", url="https://api.ecr.us-west-2.amazonaws.com/",
 *       data=b"{\"registryId\":\"123456789012\",\"maxResults\":10}",
 *       headers={"Content-Type": "application/x-amz-json-1.1",
 *                "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"})
 *   with mock.patch.object(botocore.auth, "get_current_datetime",
 *                          return_value=datetime.datetime(2024, 5, 17, 9, 30, 0)):
 *       SigV4Auth(Credentials("AKIAIOSFODNN7EXAMPLE",
 *                 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "ecr", "us-west-2").add_auth(r)
 *   print(r.headers["Authorization"])'
 */
#define ECR_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define ECR_NOW ((time_t)1715938200) /* 2024-05-17T09:30:00Z */
#define ECR_BODY "{\"registryId\":\"123456789012\",\"maxResults\":10}"
#define ECR_AUTHZ                                                                                  \
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240517/us-west-2/ecr/aws4_request, "       \
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                    \
    "Signature=95bfbd2dbc7a3984d52d5a56faeefdee75dc2ba689b4bdaa552577ade0f0549e"

static void ecr_request_signed_by_botocore(void **state)
{
    /* As libmicrohttpd hands them over: wire case and order, with the unsigned extras an SDK
     * also sends. */
    struct berth_sigv4_header h[] = {
        {"Host", "api.ecr.us-west-2.amazonaws.com"},
        {"Accept-Encoding", "identity"},
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"},
        {"User-Agent", "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.4.5"},
        {"X-Amz-Date", "20240517T093000Z"},
        {"Authorization", ECR_AUTHZ},
        {"Content-Length", "44"},
    };
    struct parsed body;
    set_payload(&body, ECR_BODY, strlen(ECR_BODY));
    struct berth_sigv4_request req = {
        .method = "POST",
        .path = "/",
        .query = NULL,
        .headers = h,
        .nheaders = sizeof(h) / sizeof(h[0]),
        .payload_sha256_hex = body.payload,
    };
    struct berth_sigv4_auth auth;
    assert_int_equal(berth_sigv4_parse_authorization(&auth, ECR_AUTHZ), 0);
    assert_string_equal(auth.access_key, "AKIAIOSFODNN7EXAMPLE");
    assert_string_equal(auth.region, "us-west-2");
    assert_string_equal(auth.service, "ecr");
    assert_int_equal(berth_sigv4_verify(&req, &auth, ECR_SECRET, ECR_NOW, SKEW), 0);

    /* Another API behind the same signature is a different request. */
    h[3].value = "AmazonEC2ContainerRegistry_V20150921.DeleteRepository";
    assert_int_equal(berth_sigv4_verify(&req, &auth, ECR_SECRET, ECR_NOW, SKEW), BERTH_EDENIED);
    h[3].value = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories";
    assert_int_equal(berth_sigv4_verify(&req, &auth, SUITE_SECRET, ECR_NOW, SKEW), BERTH_EDENIED);
    assert_int_equal(berth_sigv4_verify(&req, &auth, ECR_SECRET, ECR_NOW + 15 * 60 + 1, SKEW),
                     BERTH_ERANGE);
}

/* ---- Authorization parsing ---------------------------------------------------------- */

#define CRED "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
#define SH "SignedHeaders=host;x-amz-date"
#define SIG "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"

static void parse_tolerates_spacing_and_order(void **state)
{
    static const char *const ok[] = {
        "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG,
        "AWS4-HMAC-SHA256 " CRED "," SH "," SIG,
        "  AWS4-HMAC-SHA256   " CRED " ,   " SH ",\t" SIG "  ",
        "AWS4-HMAC-SHA256 " SIG ", " CRED ", " SH,
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct berth_sigv4_auth a;
        assert_int_equal(berth_sigv4_parse_authorization(&a, ok[i]), 0);
        assert_string_equal(a.access_key, "AKIDEXAMPLE");
        assert_string_equal(a.date, "20150830");
        assert_string_equal(a.region, "us-east-1");
        assert_string_equal(a.service, "service");
        assert_string_equal(a.signed_headers, "host;x-amz-date");
        assert_string_equal(a.signature,
                            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }
}

static void parse_rejects_malformed(void **state)
{
    char long_key[200], long_sh[1100], long_region[100];
    memset(long_key, 'A', 129);
    long_key[129] = '\0';
    memset(long_region, 'r', 64);
    long_region[64] = '\0';
    memset(long_sh, 'a', 1024);
    long_sh[1024] = '\0';
    char oversize_key[400], oversize_sh[1300], oversize_region[300];
    snprintf(oversize_key, sizeof(oversize_key),
             "AWS4-HMAC-SHA256 Credential=%s/20150830/us-east-1/service/aws4_request, " SH ", " SIG,
             long_key);
    snprintf(oversize_sh, sizeof(oversize_sh), "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=%s, " SIG,
             long_sh);
    snprintf(oversize_region, sizeof(oversize_region),
             "AWS4-HMAC-SHA256 Credential=AKID/20150830/%s/service/aws4_request, " SH ", " SIG,
             long_region);

    static const struct {
        const char *header, *why;
    } bad[] = {
        {"", "algorithm"},
        {"Bearer abc", "algorithm"},
        {"AWS4-HMAC-SHA1 " CRED ", " SH ", " SIG, "algorithm"},
        {"aws4-hmac-sha256 " CRED ", " SH ", " SIG, "algorithm"},
        {"AWS4-HMAC-SHA256" CRED ", " SH ", " SIG, "algorithm"},
        {"AWS4-HMAC-SHA256", "Credential"},
        {"AWS4-HMAC-SHA256 " SH ", " SIG, "Credential"},
        {"AWS4-HMAC-SHA256 " CRED ", " SIG, "SignedHeaders"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH, "Signature"},
        {"AWS4-HMAC-SHA256 " CRED ", " CRED ", " SH ", " SIG, "twice"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ",", "ends with"},
        {"AWS4-HMAC-SHA256 " CRED ", , " SH ", " SIG, "empty component"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ", Extra=1", "unknown"},
        {"AWS4-HMAC-SHA256 " CRED " " SH ", " SIG, "aws4_request"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", Signature", "key=value"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_reques, " SH ", " SIG,
         "aws4_request"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws5_request, " SH ", " SIG,
         "aws4_request"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service, " SH ", " SIG,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request/x, " SH ", " SIG,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, " SH ", " SIG,
         "access key is empty"},
        {"AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/service/aws4_request, " SH ", " SIG,
         "yyyymmdd"},
        {"AWS4-HMAC-SHA256 Credential=AKID/2015O830/us-east-1/service/aws4_request, " SH ", " SIG,
         "yyyymmdd"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20151330/us-east-1/service/aws4_request, " SH ", " SIG,
         "yyyymmdd"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20150830//service/aws4_request, " SH ", " SIG,
         "region is empty"},
        {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us east/service/aws4_request, " SH ", " SIG,
         "letters"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, " SIG, "SignedHeaders is empty"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x-amz-date, " SIG, "empty header"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, " SIG, "lower-case"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",
         "hex digits"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf311",
         "hex digits"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
         "hex digits"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=zfa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
         "hex digits"},
    };
    struct berth_sigv4_auth a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&a, 'x', sizeof(a));
        berth_err_clear();
        int rc = berth_sigv4_parse_authorization(&a, bad[i].header);
        if (rc != BERTH_EINVALID || !strstr(berth_err_detail(), bad[i].why))
            fail_msg("case %zu \"%s\": rc %d, detail \"%s\", wanted \"%s\"", i, bad[i].header, rc,
                     berth_err_detail(), bad[i].why);
        assert_int_equal(a.signature[0], '\0'); /* nothing half-filled */
        assert_int_equal(a.access_key[0], '\0');
    }
    assert_int_equal(berth_sigv4_parse_authorization(&a, NULL), BERTH_EINVALID);
    assert_int_equal(berth_sigv4_parse_authorization(&a, oversize_key), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "longer than 128"));
    assert_int_equal(berth_sigv4_parse_authorization(&a, oversize_sh), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "longer than 1023"));
    assert_int_equal(berth_sigv4_parse_authorization(&a, oversize_region), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "longer than 63"));

    /* Exactly at the limits is fine. */
    long_key[128] = '\0';
    snprintf(oversize_key, sizeof(oversize_key),
             "AWS4-HMAC-SHA256 Credential=%s/20150830/us-east-1/service/aws4_request, " SH ", " SIG,
             long_key);
    assert_int_equal(berth_sigv4_parse_authorization(&a, oversize_key), 0);
    assert_int_equal(strlen(a.access_key), 128);
}

/* ---- verify()'s contract beyond the suite ------------------------------------------- */

static struct berth_sigv4_request vanilla(struct berth_sigv4_header *h, size_t n)
{
    struct berth_sigv4_request r = {
        .method = "GET",
        .path = "/",
        .headers = h,
        .nheaders = n,
        .payload_sha256_hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    return r;
}

static void verify_refuses_unverifiable_requests(void **state)
{
    struct berth_sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"},
        {"X-Amz-Date", "20150830T123600Z"},
    };
    struct berth_sigv4_auth auth;
    assert_int_equal(
        berth_sigv4_parse_authorization(&auth, "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG), 0);
    struct berth_sigv4_request r = vanilla(h, 2);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), 0);

    /* Host unsigned: the signature would hold for any virtual host. */
    struct berth_sigv4_auth a = auth;
    strcpy(a.signed_headers, "x-amz-date");
    assert_int_equal(berth_sigv4_verify(&r, &a, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "host header must be signed"));

    /* Date unsigned: the request could be replayed under a fresh date forever. */
    strcpy(a.signed_headers, "host");
    assert_int_equal(berth_sigv4_verify(&r, &a, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "x-amz-date header must be signed"));

    /* A signed header the request does not carry. */
    strcpy(a.signed_headers, "host;my-header1;x-amz-date");
    assert_int_equal(berth_sigv4_verify(&r, &a, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "'my-header1' is not in the request"));

    /* Credential scope of another day. */
    a = auth;
    strcpy(a.date, "20150829");
    assert_int_equal(berth_sigv4_verify(&r, &a, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    assert_non_null(strstr(berth_err_detail(), "20150829 is not the request date 20150830"));

    /* Two dates, no date, impossible dates. */
    r = vanilla(h, 3);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    r = vanilla(h, 1);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    static const char *const dates[] = {"20150230T123600Z", "20150830T243600Z", "20150830T1236Z",
                                        "2015-08-30T12:36:00Z", ""};
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        h[1].value = dates[i];
        r = vanilla(h, 2);
        assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW),
                         BERTH_EINVALID);
    }
    h[1].value = "  20150830T123600Z "; /* surrounding whitespace is not part of the value */
    r = vanilla(h, 2);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), 0);

    /* The payload hash is Berth's own, so anything but 64 lower-case hex is a caller bug. */
    r.payload_sha256_hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    r.payload_sha256_hex = NULL;
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);

    r = vanilla(h, 2);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, -1), BERTH_EINVALID);
    assert_int_equal(berth_sigv4_verify(&r, &auth, NULL, SUITE_NOW, SKEW), BERTH_EINVALID);
    assert_int_equal(berth_sigv4_verify(&r, &auth, "", SUITE_NOW, SKEW), BERTH_EINVALID);
}

/*
 * Date instead of X-Amz-Date. Expected signature from an independent Python computation
 * (hashlib + hmac, following the SigV4 spec), not from this code: canonical request
 * "GET\n/\n\ndate:Sun, 30 Aug 2015 12:36:00 GMT\nhost:example.amazonaws.com\n\ndate;host\n"
 * + sha256(""), string to sign with 20150830T123600Z and the suite's scope and secret.
 */
static void verify_accepts_http_date(void **state)
{
    struct berth_sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"Date", "Sun, 30 Aug 2015 12:36:00 GMT"},
    };
    struct berth_sigv4_auth auth;
    assert_int_equal(
        berth_sigv4_parse_authorization(
            &auth, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=date;host, "
                   "Signature=1262aceaf1a79c7f0b69fda81cd744572fcbe2e4c23b647b4de183cd5a0f1075"),
        0);
    struct berth_sigv4_request r = vanilla(h, 2);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), 0);
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW - 16 * 60, SKEW),
                     BERTH_ERANGE);

    h[1].value = "Sunday, 30-Aug-15 12:36:00 GMT"; /* RFC 850: obsolete, refused */
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
    h[1].value = "Sun, 31 Sep 2015 12:36:00 GMT";
    assert_int_equal(berth_sigv4_verify(&r, &auth, SUITE_SECRET, SUITE_NOW, SKEW), BERTH_EINVALID);
}

/* ---- canonical pieces the suite does not reach -------------------------------------- */

static void canonical(const char *path, const char *query, const char *want)
{
    struct berth_sigv4_header h[] = {{"Host", "h"}};
    struct berth_sigv4_request r = vanilla(h, 1);
    r.path = path;
    r.query = query;
    struct berth_buf b;
    berth_buf_init(&b, BERTH_SIGV4_CANONICAL_MAX);
    assert_int_equal(berth_sigv4_canonical_request(&b, &r, "host"), 0);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "GET\n%s\nhost:h\n\nhost\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             want);
    assert_string_equal(b.data, expect);
    berth_buf_dispose(&b);
}

static void canonical_path_and_query(void **state)
{
    /* Path as botocore computes it for URL path "/a%20b/../c%2Fd/./e//":
     * SigV4Auth(...).canonical_request(AWSRequest(...)) gives "/c%252Fd/e/". The path is
     * encoded as sent, so its escapes are escaped again. */
    canonical("/a%20b/../c%2Fd/./e//", NULL, "/c%252Fd/e/\n");
    canonical("", "", "/\n");
    canonical(NULL, NULL, "/\n");
    canonical("/..", NULL, "/\n");
    canonical("/../../a", NULL, "/a\n");
    canonical("/a/b/..", NULL, "/a\n");
    canonical("/a/b/../", NULL, "/a/\n");
    canonical("/v2/library/alpine/manifests/3.20", NULL, "/v2/library/alpine/manifests/3.20\n");

    /* Decoded, re-encoded with upper-case hex, '+' read as a space, then sorted. */
    canonical("/", "b=2&a=x+y&c=%7e&a=%41&d&&e=%2f%3D", "/\na=A&a=x%20y&b=2&c=~&d=&e=%2F%3D");
    canonical("/", "&", "/\n");
    canonical("/", "k=", "/\nk=");
    canonical("/", "=v", "/\n=v");

    struct berth_sigv4_header h[] = {{"Host", "h"}};
    struct berth_sigv4_request r = vanilla(h, 1);
    static const char *const bad_queries[] = {"a=%zz", "a=%4", "a=%", "%G1=b"};
    for (size_t i = 0; i < sizeof(bad_queries) / sizeof(bad_queries[0]); i++) {
        struct berth_buf b;
        berth_buf_init(&b, 1024);
        assert_int_equal(berth_buf_append(&b, "keep", 4), 0);
        r.query = bad_queries[i];
        assert_int_equal(berth_sigv4_canonical_request(&b, &r, "host"), BERTH_EINVALID);
        assert_string_equal(b.data, "keep"); /* nothing left behind */
        berth_buf_dispose(&b);
    }
}

static void canonical_respects_buffer_limits(void **state)
{
    struct berth_sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    struct berth_sigv4_request r = vanilla(h, 1);
    struct berth_buf b;
    berth_buf_init(&b, 40);
    assert_int_equal(berth_buf_append(&b, "keep", 4), 0);
    assert_int_equal(berth_sigv4_canonical_request(&b, &r, "host"), BERTH_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    berth_buf_dispose(&b);

    /* More parameters than the sort will take. */
    size_t n = BERTH_SIGV4_QUERY_PARAMS_MAX + 1;
    char *q = malloc(n * 2 + 1);
    assert_non_null(q);
    for (size_t i = 0; i < n; i++) {
        q[2 * i] = 'a';
        q[2 * i + 1] = '&';
    }
    q[2 * n - 1] = '\0';
    r.query = q;
    berth_buf_init(&b, BERTH_SIGV4_CANONICAL_MAX);
    assert_int_equal(berth_sigv4_canonical_request(&b, &r, "host"), BERTH_ETOOBIG);
    assert_int_equal(b.len, 0);
    berth_buf_dispose(&b);
    free(q);
}

static void sign_and_string_to_sign_arguments(void **state)
{
    char sig[BERTH_SIGV4_SIG_HEX + 1];
    assert_int_equal(berth_sigv4_sign(sig, "", "20150830", "us-east-1", "service", "x", 1),
                     BERTH_EINVALID);
    assert_int_equal(sig[0], '\0');
    char huge[BERTH_SIGV4_SECRET_MAX + 2];
    memset(huge, 's', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(berth_sigv4_sign(sig, huge, "20150830", "us-east-1", "service", "x", 1),
                     BERTH_EINVALID);
    assert_null(strstr(berth_err_detail(), "sss"));
    assert_int_equal(berth_sigv4_sign(sig, SUITE_SECRET, "2015083", "us-east-1", "service", "x", 1),
                     BERTH_EINVALID);

    struct berth_buf b;
    berth_buf_init(&b, 1024);
    assert_int_equal(berth_sigv4_string_to_sign(&b, "20150830 123600Z", "s", "", 0),
                     BERTH_EINVALID);
    assert_int_equal(berth_sigv4_string_to_sign(&b, NULL, "s", "", 0), BERTH_EINVALID);
    assert_int_equal(b.len, 0);
    berth_buf_dispose(&b);
}

int main(void)
{
    struct CMUnitTest suite[NCASES];
    for (size_t i = 0; i < NCASES; i++) {
        suite[i] = (struct CMUnitTest){
            .name = suite_cases[i],
            .test_func = suite_case,
            .initial_state = (void *)suite_cases[i],
        };
    }
    const struct CMUnitTest others[] = {
        cmocka_unit_test(sts_token_added_after_signing),
        cmocka_unit_test(ecr_request_signed_by_botocore),
        cmocka_unit_test(parse_tolerates_spacing_and_order),
        cmocka_unit_test(parse_rejects_malformed),
        cmocka_unit_test(verify_refuses_unverifiable_requests),
        cmocka_unit_test(verify_accepts_http_date),
        cmocka_unit_test(canonical_path_and_query),
        cmocka_unit_test(canonical_respects_buffer_limits),
        cmocka_unit_test(sign_and_string_to_sign_arguments),
    };
    int failed = _cmocka_run_group_tests("aws-sig-v4-test-suite", suite, NCASES, NULL, NULL);
    failed += cmocka_run_group_tests_name("sigv4", others, NULL, NULL);
    return failed;
}
