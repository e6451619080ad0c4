/*
 * Fuzzes the small parsers of untrusted header and URL text: Content-Range, Range, digests,
 * repository names, tags and references.
 *
 * Input: 8 bytes that pick the blob size for Range (little endian; the low bit chooses between a
 * small size and the full 63-bit range), then the text every parser gets. Each parser is checked
 * against an independent oracle built from the grammar with POSIX regular expressions, so the
 * fuzzer finds wrong answers as well as memory errors.
 */
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/name.h"
#include "core/range.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

enum {
    RE_NAME,
    RE_TAG,
    RE_DIGEST,
    RE_SHA256,
    RE_SHA512,
    RE_CONTENT_RANGE,
    RE_RANGE,
    RE_SUFFIX,
    RE_COUNT
};

static const char *const patterns[RE_COUNT] = {
    /* distribution-spec <name> */
    [RE_NAME] = "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$",
    [RE_TAG] = "^[a-zA-Z0-9_][a-zA-Z0-9._-]*$",
    /* image-spec descriptor digest */
    [RE_DIGEST] = "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$",
    [RE_SHA256] = "^sha256:[a-f0-9]{64}$",
    [RE_SHA512] = "^sha512:[a-f0-9]{128}$",
    [RE_CONTENT_RANGE] = "^(bytes[ =])?([0-9]{1,19})-([0-9]{1,19})$",
    [RE_RANGE] = "^bytes=([0-9]{1,19})-([0-9]{0,19})$",
    [RE_SUFFIX] = "^bytes=-([0-9]{1,19})$",
};

static regex_t re[RE_COUNT];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < RE_COUNT; i++) {
        /* Only the range patterns report their groups. */
        int groups = i == RE_CONTENT_RANGE || i == RE_RANGE || i == RE_SUFFIX;
        if (regcomp(&re[i], patterns[i], REG_EXTENDED | (groups ? 0 : REG_NOSUB)) != 0)
            abort();
    }
    return 0;
}

/* s is NUL-terminated; callers pass only strings without embedded NULs. */
static int matches(int which, const char *s, regmatch_t *m, size_t nm)
{
    return regexec(&re[which], s, nm, m, 0) == 0;
}

static uint64_t group_u64(const char *s, const regmatch_t *g)
{
    uint64_t v = 0;
    for (regoff_t i = g->rm_so; i < g->rm_eo; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* Each check runs the parser on buf[0..len) (exactly len bytes, not terminated) and the oracle
 * on text, the same bytes NUL-terminated; has_nul says the bytes contain a NUL. */

static void check_name(const char *buf, const char *text, size_t len, int has_nul)
{
    int rc = berth_name_valid(buf, len);
    int want = !has_nul && len > 0 && len <= BERTH_NAME_MAX && matches(RE_NAME, text, NULL, 0);
    CHECK(rc == (want ? 0 : BERTH_EINVALID));
}

static void check_tag(const char *buf, const char *text, size_t len, int has_nul)
{
    int rc = berth_tag_valid(buf, len);
    int want = !has_nul && len > 0 && len <= BERTH_TAG_MAX && matches(RE_TAG, text, NULL, 0);
    CHECK(rc == (want ? 0 : BERTH_EINVALID));
}

/* What berth_digest_parse must answer for text (len bytes). */
static int digest_want(const char *text, size_t len, int has_nul)
{
    if (has_nul || len == 0 || len > 255 || !matches(RE_DIGEST, text, NULL, 0))
        return BERTH_EINVALID;
    if (strncmp(text, "sha256:", 7) == 0)
        return matches(RE_SHA256, text, NULL, 0) ? 0 : BERTH_EINVALID;
    if (strncmp(text, "sha512:", 7) == 0)
        return matches(RE_SHA512, text, NULL, 0) ? BERTH_EUNSUPPORTED : BERTH_EINVALID;
    return BERTH_EUNSUPPORTED;
}

static void check_digest(const char *buf, const char *text, size_t len, int has_nul)
{
    char out[BERTH_DIGEST_BUF];
    memset(out, 0x7f, sizeof(out));
    int rc = berth_digest_parse(buf, len, out);
    CHECK(rc == digest_want(text, len, has_nul));
    if (rc == 0) {
        CHECK(strlen(out) == 7 + BERTH_SHA256_HEX_LEN);
        CHECK(strcmp(out, text) == 0);
        CHECK(strcmp(berth_digest_hex(out), text + 7) == 0);
    }
    /* The output buffer is optional and does not change the answer. */
    CHECK(berth_digest_parse(buf, len, NULL) == rc);
}

/* A reference arrives as a C string: the parser sees the text up to the first NUL. */
static void check_ref(const char *s)
{
    size_t len = strlen(s);
    struct berth_ref r;
    int rc = berth_ref_parse(s, &r);
    int want;
    if (memchr(s, ':', len))
        want = digest_want(s, len, 0);
    else
        want =
            (len > 0 && len <= BERTH_TAG_MAX && matches(RE_TAG, s, NULL, 0)) ? 0 : BERTH_EINVALID;
    CHECK(rc == want);
    if (rc == 0) {
        if (r.is_digest) {
            CHECK(strcmp(r.digest, s) == 0);
            CHECK(r.tag[0] == '\0');
        } else {
            CHECK(strcmp(r.tag, s) == 0);
            CHECK(r.digest[0] == '\0');
        }
    }
}

static void check_content_range(const char *s)
{
    uint64_t start = 1, end = 0;
    int rc = berth_content_range_parse(s, &start, &end);
    regmatch_t g[4];
    if (!matches(RE_CONTENT_RANGE, s, g, 4)) {
        CHECK(rc == BERTH_EINVALID);
        return;
    }
    uint64_t a = group_u64(s, &g[2]), b = group_u64(s, &g[3]);
    if (b < a) {
        CHECK(rc == BERTH_EINVALID);
        return;
    }
    CHECK(rc == 0);
    CHECK(start == a && end == b);
}

static void check_range(const char *s, uint64_t size)
{
    uint64_t start = 7, end = 3;
    int rc = berth_range_parse(s, size, &start, &end);
    regmatch_t g[3];
    if (matches(RE_SUFFIX, s, g, 2)) {
        uint64_t n = group_u64(s, &g[1]);
        if (n == 0 || size == 0) {
            CHECK(rc == BERTH_ERANGE);
            return;
        }
        CHECK(rc == 0);
        CHECK(start == (n >= size ? 0 : size - n) && end == size - 1);
        return;
    }
    if (matches(RE_RANGE, s, g, 3)) {
        uint64_t a = group_u64(s, &g[1]);
        int open = g[2].rm_eo == g[2].rm_so;
        uint64_t b = open ? UINT64_MAX : group_u64(s, &g[2]);
        if (!open && b < a) {
            CHECK(rc == BERTH_EINVALID);
            return;
        }
        if (a >= size) {
            CHECK(rc == BERTH_ERANGE);
            return;
        }
        CHECK(rc == 0);
        CHECK(start == a && end == (b >= size ? size - 1 : b));
        CHECK(start <= end && end < size);
        return;
    }
    CHECK(rc == BERTH_EINVALID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t raw = 0;
    size_t hdr = size < 8 ? size : 8;
    for (size_t i = 0; i < hdr; i++)
        raw |= (uint64_t)data[i] << (8 * i);
    uint64_t blob_size = (raw & 1) ? raw >> 1 : (raw >> 1) % 4096;

    size_t len = size - hdr;
    if (len > 4096)
        return 0;
    /* Exactly len bytes for the length-taking parsers, so reads past the end are caught... */
    char *exact = malloc(len ? len : 1);
    /* ... and a NUL-terminated copy for the C-string ones. */
    char *cstr = malloc(len + 1);
    if (!exact || !cstr) {
        free(exact);
        free(cstr);
        return 0;
    }
    memcpy(exact, data + hdr, len);
    memcpy(cstr, data + hdr, len);
    cstr[len] = '\0';
    int has_nul = memchr(cstr, '\0', len) != NULL;

    check_name(exact, cstr, len, has_nul);
    check_tag(exact, cstr, len, has_nul);
    check_digest(exact, cstr, len, has_nul);
    check_ref(cstr);
    check_content_range(cstr);
    check_range(cstr, blob_size);

    free(exact);
    free(cstr);
    return 0;
}
