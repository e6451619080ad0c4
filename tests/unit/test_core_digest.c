/*
 * Digest grammar (image-spec descriptor.md) and the streaming SHA-256 with its resumable state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/digest.h"
#include "core/err.h"

#define HEX64 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define HEX128 HEX64 HEX64

/* sha256("") and sha256("abc"), from FIPS 180-2. */
#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static int parse(const char *s)
{
    char out[BERTH_DIGEST_BUF];
    return berth_digest_parse(s, strlen(s), out);
}

static void sha256_valid(void **state)
{
    char out[BERTH_DIGEST_BUF];
    const char *d = "sha256:" HEX64;
    memset(out, 'x', sizeof(out));
    assert_int_equal(berth_digest_parse(d, strlen(d), out), 0);
    assert_string_equal(out, d);
    assert_string_equal(berth_digest_hex(out), HEX64);
    /* The output buffer is optional. */
    assert_int_equal(berth_digest_parse(d, strlen(d), NULL), 0);
}

static void sha256_uses_len_not_nul(void **state)
{
    /* Only s[0..len) is looked at: a trailing byte past len does not matter, and a prefix is
     * too short. */
    char out[BERTH_DIGEST_BUF];
    const char *d = "sha256:" HEX64 "zz";
    assert_int_equal(berth_digest_parse(d, 71, out), 0);
    assert_string_equal(out, "sha256:" HEX64);
    assert_int_equal(berth_digest_parse(d, 70, out), BERTH_EINVALID);
    assert_int_equal(berth_digest_parse(d, 73, out), BERTH_EINVALID);
}

static void sha256_invalid(void **state)
{
    assert_int_equal(
        parse("sha256:5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03"),
        BERTH_EINVALID);
    assert_int_equal(
        parse("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0A"),
        BERTH_EINVALID);
    assert_int_equal(parse("sha256:" HEX64 "0"), BERTH_EINVALID);
    assert_int_equal(
        parse("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0"),
        BERTH_EINVALID);
    /* Right length, but 'g' is not hex. */
    assert_int_equal(
        parse("sha256:g891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"),
        BERTH_EINVALID);
    assert_int_equal(parse(""), BERTH_EINVALID);
    assert_int_equal(berth_digest_parse(NULL, 0, NULL), BERTH_EINVALID);
    assert_int_equal(parse("sha256"), BERTH_EINVALID);
    assert_int_equal(parse("sha256" HEX64), BERTH_EINVALID);
    assert_int_equal(parse("sha256:"), BERTH_EINVALID);
    assert_int_equal(parse(":" HEX64), BERTH_EINVALID);
    assert_int_equal(parse(":abc"), BERTH_EINVALID);
    assert_int_equal(parse("SHA256:" HEX64), BERTH_EINVALID);
    assert_int_equal(parse("sha256+:" HEX64), BERTH_EINVALID);
    assert_int_equal(parse("+sha256:" HEX64), BERTH_EINVALID);
    assert_int_equal(parse("sha+-256:" HEX64), BERTH_EINVALID);
    assert_int_equal(parse("sha 256:" HEX64), BERTH_EINVALID);
    /* The encoded part has its own alphabet; ':' and '/' are outside it. */
    assert_int_equal(parse("blake3:ab:cd"), BERTH_EINVALID);
    assert_int_equal(parse("blake3:ab/cd"), BERTH_EINVALID);
    assert_int_equal(parse("blake3:"), BERTH_EINVALID);
    /* An embedded NUL is not part of any grammar. */
    assert_int_equal(berth_digest_parse("sha256:\0" HEX64, 72, NULL), BERTH_EINVALID);
    assert_int_equal(berth_digest_parse("sha256\0:" HEX64, 72, NULL), BERTH_EINVALID);
}

static void nul_in_algorithm_invalid(void **state)
{
    /* A NUL byte is not a separator ([+._-]) of the algorithm grammar: the digest is malformed,
     * not a well-formed digest of an unsupported algorithm. */
    assert_int_equal(berth_digest_parse("a\0b:abcd", 8, NULL), BERTH_EINVALID);
    assert_int_equal(berth_digest_parse("sha\0256:abcd", 12, NULL), BERTH_EINVALID);
}

static void invalid_sets_detail(void **state)
{
    berth_err_clear();
    assert_int_equal(parse("sha256:xyz"), BERTH_EINVALID);
    assert_int_equal(berth_err_what(), BERTH_WHAT_DIGEST);
    assert_non_null(berth_err_detail());
    assert_true(strlen(berth_err_detail()) > 0);
}

static void other_algorithms_unsupported(void **state)
{
    assert_int_equal(parse("sha512:" HEX128), BERTH_EUNSUPPORTED);
    assert_int_equal(parse("blake3:abcd"), BERTH_EUNSUPPORTED);
    assert_int_equal(parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"),
                     BERTH_EUNSUPPORTED);
    assert_int_equal(parse("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"),
                     BERTH_EUNSUPPORTED);
    assert_int_equal(parse("a.b_c-d:Zm9v=="), BERTH_EUNSUPPORTED);
    berth_err_clear();
    assert_int_equal(parse("blake3:abcd"), BERTH_EUNSUPPORTED);
    assert_int_equal(berth_err_what(), BERTH_WHAT_DIGEST);
}

static void sha512_malformed_invalid(void **state)
{
    /* sha512 is a registered algorithm: its encoding is checked even though it is not
     * supported, so a malformed one is a bad digest rather than an unsupported one. */
    assert_int_equal(parse("sha512:" HEX64), BERTH_EINVALID);
    assert_int_equal(parse("sha512:" HEX128 "0"), BERTH_EINVALID);
    char upper[7 + 128 + 1];
    snprintf(upper, sizeof(upper), "sha512:%s", HEX128);
    upper[7] = 'A';
    assert_int_equal(parse(upper), BERTH_EINVALID);
}

static void too_long_invalid(void **state)
{
    char s[400];
    memcpy(s, "blake3:", 7);
    memset(s + 7, 'a', sizeof(s) - 8);
    s[sizeof(s) - 1] = '\0';
    assert_int_equal(parse(s), BERTH_EINVALID);
}

static void sha256_known_vectors(void **state)
{
    char out[BERTH_DIGEST_BUF];
    berth_sha256_oneshot("", 0, out);
    assert_string_equal(out, SHA256_EMPTY);
    berth_sha256_oneshot("abc", 3, out);
    assert_string_equal(out, SHA256_ABC);

    struct berth_sha256 h;
    berth_sha256_init(&h);
    berth_sha256_peek(&h, out);
    assert_string_equal(out, SHA256_EMPTY);
    /* Every produced digest parses. */
    assert_int_equal(berth_digest_parse(out, strlen(out), NULL), 0);
}

static void fill(unsigned char *p, size_t n)
{
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static void sha256_streaming_equals_oneshot(void **state)
{
    static unsigned char data[10000];
    fill(data, sizeof(data));
    char want[BERTH_DIGEST_BUF], got[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(data, sizeof(data), want);

    /* Splits around the 64-byte block boundary and odd sizes. */
    const size_t steps[] = {1, 3, 63, 64, 65, 127, 1000, 4096, 9999};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct berth_sha256 h;
        berth_sha256_init(&h);
        for (size_t off = 0; off < sizeof(data); off += steps[k]) {
            size_t n = sizeof(data) - off < steps[k] ? sizeof(data) - off : steps[k];
            berth_sha256_update(&h, data + off, n);
        }
        berth_sha256_peek(&h, got);
        assert_string_equal(got, want);
    }
}

static void sha256_peek_does_not_finish(void **state)
{
    struct berth_sha256 h;
    char out[BERTH_DIGEST_BUF];
    berth_sha256_init(&h);
    berth_sha256_update(&h, "a", 1);
    berth_sha256_peek(&h, out);
    berth_sha256_peek(&h, out); /* twice: still the same state */
    berth_sha256_update(&h, "bc", 2);
    berth_sha256_peek(&h, out);
    assert_string_equal(out, SHA256_ABC);
}

static void sha256_export_import_resumes(void **state)
{
    static unsigned char data[5000];
    fill(data, sizeof(data));
    char want[BERTH_DIGEST_BUF], got[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(data, sizeof(data), want);

    const size_t cuts[] = {0, 1, 64, 1234, 4999, 5000};
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        struct berth_sha256 a, b;
        unsigned char saved[BERTH_SHA256_STATE_LEN];
        berth_sha256_init(&a);
        berth_sha256_update(&a, data, cuts[k]);
        berth_sha256_export(&a, saved);

        memset(&b, 0xa5, sizeof(b));
        assert_int_equal(berth_sha256_import(&b, saved, sizeof(saved)), 0);
        berth_sha256_update(&b, data + cuts[k], sizeof(data) - cuts[k]);
        berth_sha256_peek(&b, got);
        assert_string_equal(got, want);
    }
}

static void sha256_import_rejects(void **state)
{
    struct berth_sha256 a, b;
    unsigned char saved[BERTH_SHA256_STATE_LEN + 1];
    berth_sha256_init(&a);
    berth_sha256_update(&a, "abc", 3);
    berth_sha256_export(&a, saved);

    assert_int_equal(berth_sha256_import(&b, saved, BERTH_SHA256_STATE_LEN - 1), BERTH_EINVALID);
    assert_int_equal(berth_sha256_import(&b, saved, BERTH_SHA256_STATE_LEN + 1), BERTH_EINVALID);
    assert_int_equal(berth_sha256_import(&b, saved, 0), BERTH_EINVALID);

    for (size_t i = 0; i < 8; i++) {
        unsigned char bad[BERTH_SHA256_STATE_LEN];
        memcpy(bad, saved, sizeof(bad));
        bad[i] ^= 0x01;
        assert_int_equal(berth_sha256_import(&b, bad, sizeof(bad)), BERTH_EINVALID);
    }

    /* The intact state still imports and still hashes "abc". */
    char out[BERTH_DIGEST_BUF];
    assert_int_equal(berth_sha256_import(&b, saved, BERTH_SHA256_STATE_LEN), 0);
    berth_sha256_peek(&b, out);
    assert_string_equal(out, SHA256_ABC);
}

static void hex_encode(void **state)
{
    const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    memset(out, 'x', sizeof(out));
    berth_hex_encode(out, in, sizeof(in));
    assert_string_equal(out, "000fa5ff");
    berth_hex_encode(out, in, 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_encode),
        cmocka_unit_test(sha256_valid),
        cmocka_unit_test(sha256_uses_len_not_nul),
        cmocka_unit_test(sha256_invalid),
        cmocka_unit_test(nul_in_algorithm_invalid),
        cmocka_unit_test(invalid_sets_detail),
        cmocka_unit_test(other_algorithms_unsupported),
        cmocka_unit_test(sha512_malformed_invalid),
        cmocka_unit_test(too_long_invalid),
        cmocka_unit_test(sha256_known_vectors),
        cmocka_unit_test(sha256_streaming_equals_oneshot),
        cmocka_unit_test(sha256_peek_does_not_finish),
        cmocka_unit_test(sha256_export_import_resumes),
        cmocka_unit_test(sha256_import_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
