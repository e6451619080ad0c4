/*
 * Repository names, tags and references (distribution-spec "Pulling manifests" grammars).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/name.h"

#define HEX64 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static int name(const char *s)
{
    return berth_name_valid(s, strlen(s));
}

static int tag(const char *s)
{
    return berth_tag_valid(s, strlen(s));
}

static void names_valid(void **state)
{
    const char *ok[] = {
        "a",
        "alpine",
        "library/alpine",
        "mlops/retail-api",
        "a/b/c",
        "a__b",
        "a--b",
        "a.b",
        "a_b",
        "a---b",
        "0",
        "a0/1b/c2",
        "a.b/c_d/e--f",
        "my.org/team__x/y",
        "x1-2.3_4__5",
        "manifests",
        "a/blobs/tags",
        "v2/v2",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (name(ok[i]) != 0)
            fail_msg("name '%s' should be valid", ok[i]);
    }
}

static void names_invalid(void **state)
{
    const char *bad[] = {
        "",     "../x", "a/../b", "A",    "Alpine", "a..b", "a___b", "-a",   "a-",
        "a/",   "/a",   "a//b",   ".a",   "a.",     "_a",   "a_",    "a._b", "a-.b",
        "a b",  "a:b",  "a@b",    "./a",  "a/./b",  "..",   ".",     "/",    "a\\b",
        "a/-b", "a/B",  "é",      "a\nb", "a/_",    "a/.",  "a%2f",  "a+b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_err_clear();
        if (name(bad[i]) != BERTH_EINVALID)
            fail_msg("name '%s' should be invalid", bad[i]);
        assert_int_equal(berth_err_what(), BERTH_WHAT_NAME);
    }
    assert_int_equal(berth_name_valid(NULL, 0), BERTH_EINVALID);
    /* An embedded NUL is caught because the length is explicit. */
    assert_int_equal(berth_name_valid("ab\0cd", 5), BERTH_EINVALID);
}

static void names_length_limit(void **state)
{
    char s[BERTH_NAME_MAX + 2];
    memset(s, 'a', sizeof(s));
    /* 255 is the most a name may have; 256 is one too many. */
    assert_int_equal(berth_name_valid(s, BERTH_NAME_MAX), 0);
    assert_int_equal(berth_name_valid(s, BERTH_NAME_MAX + 1), BERTH_EINVALID);
    /* With path separators too. */
    for (size_t i = 1; i < sizeof(s); i += 2)
        s[i] = '/';
    s[BERTH_NAME_MAX - 1] = 'a';
    s[BERTH_NAME_MAX] = 'a';
    assert_int_equal(berth_name_valid(s, BERTH_NAME_MAX), 0);
    assert_int_equal(berth_name_valid(s, BERTH_NAME_MAX + 1), BERTH_EINVALID);
}

static void names_respect_len(void **state)
{
    /* Only s[0..len) is validated. */
    assert_int_equal(berth_name_valid("abc/../x", 3), 0);
    assert_int_equal(berth_name_valid("abc/", 4), BERTH_EINVALID);
}

static void tags_valid(void **state)
{
    const char *ok[] = {"latest", "v1.2.3", "1.0",     "_",         "_x",
                        "A",      "Z9",     "a-b_c.d", "v1--rc..1", "0"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (tag(ok[i]) != 0)
            fail_msg("tag '%s' should be valid", ok[i]);
    }
    char s[BERTH_TAG_MAX + 1];
    memset(s, 'x', sizeof(s));
    assert_int_equal(berth_tag_valid(s, BERTH_TAG_MAX), 0);
    assert_int_equal(berth_tag_valid(s, BERTH_TAG_MAX + 1), BERTH_EINVALID);
}

static void tags_invalid(void **state)
{
    const char *bad[] = {"", ".a", "-a", "a/b", "a:b", "a b", "a@b", "a+b", "é", "a\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_err_clear();
        if (tag(bad[i]) != BERTH_EINVALID)
            fail_msg("tag '%s' should be invalid", bad[i]);
        assert_int_equal(berth_err_what(), BERTH_WHAT_TAG);
    }
    assert_int_equal(berth_tag_valid(NULL, 0), BERTH_EINVALID);
}

static void ref_tag(void **state)
{
    struct berth_ref r;
    memset(&r, 0x55, sizeof(r));
    assert_int_equal(berth_ref_parse("latest", &r), 0);
    assert_false(r.is_digest);
    assert_string_equal(r.tag, "latest");
    assert_string_equal(r.digest, "");

    char s[BERTH_TAG_MAX + 1];
    memset(s, 'T', BERTH_TAG_MAX);
    s[BERTH_TAG_MAX] = '\0';
    assert_int_equal(berth_ref_parse(s, &r), 0);
    assert_int_equal(strlen(r.tag), BERTH_TAG_MAX);
    assert_string_equal(r.tag, s);
}

static void ref_digest(void **state)
{
    struct berth_ref r;
    memset(&r, 0x55, sizeof(r));
    assert_int_equal(berth_ref_parse("sha256:" HEX64, &r), 0);
    assert_true(r.is_digest);
    assert_string_equal(r.digest, "sha256:" HEX64);
    assert_string_equal(r.tag, "");
}

static void ref_invalid(void **state)
{
    struct berth_ref r;
    assert_int_equal(berth_ref_parse("", &r), BERTH_EINVALID);
    assert_int_equal(berth_ref_parse("-x", &r), BERTH_EINVALID);
    assert_int_equal(berth_ref_parse("a/b", &r), BERTH_EINVALID);
    /* Anything with a colon is a digest, and judged as one. */
    assert_int_equal(berth_ref_parse("sha256:abc", &r), BERTH_EINVALID);
    assert_int_equal(berth_ref_parse("v1:2", &r), BERTH_EUNSUPPORTED);
    assert_int_equal(berth_ref_parse("SHA256:" HEX64, &r), BERTH_EINVALID);
    assert_int_equal(berth_ref_parse("sha512:" HEX64 HEX64, &r), BERTH_EUNSUPPORTED);

    char s[BERTH_TAG_MAX + 2];
    memset(s, 'x', BERTH_TAG_MAX + 1);
    s[BERTH_TAG_MAX + 1] = '\0';
    assert_int_equal(berth_ref_parse(s, &r), BERTH_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_valid),
        cmocka_unit_test(names_invalid),
        cmocka_unit_test(names_length_limit),
        cmocka_unit_test(names_respect_len),
        cmocka_unit_test(tags_valid),
        cmocka_unit_test(tags_invalid),
        cmocka_unit_test(ref_tag),
        cmocka_unit_test(ref_digest),
        cmocka_unit_test(ref_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
