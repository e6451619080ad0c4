/*
 * Content-Range on upload PATCH and Range on blob GET (RFC 9110 section 14).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "core/range.h"

static void content_range_forms(void **state)
{
    const char *forms[] = {"0-99", "bytes 0-99", "bytes=0-99"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        uint64_t s = 7, e = 7;
        assert_int_equal(berth_content_range_parse(forms[i], &s, &e), 0);
        assert_int_equal(s, 0);
        assert_int_equal(e, 99);
    }
    uint64_t s, e;
    assert_int_equal(berth_content_range_parse("5-5", &s, &e), 0);
    assert_int_equal(s, 5);
    assert_int_equal(e, 5);
    assert_int_equal(berth_content_range_parse("100-65635", &s, &e), 0);
    assert_int_equal(s, 100);
    assert_int_equal(e, 65635);
    /* 19 digits is the most accepted and does not overflow. */
    assert_int_equal(berth_content_range_parse("0-9999999999999999999", &s, &e), 0);
    assert_true(e == UINT64_C(9999999999999999999));
    assert_int_equal(berth_content_range_parse("0000-0010", &s, &e), 0);
    assert_int_equal(s, 0);
    assert_int_equal(e, 10);
}

static void content_range_junk(void **state)
{
    const char *bad[] = {
        "",
        "abc",
        "5-3",
        "-1-3",
        "1-",
        "-",
        "-5",
        "99999999999999999999-1",
        "0-99999999999999999999",
        " 0-1",
        "0-1 ",
        "0 -1",
        "0- 1",
        "+0-1",
        "0-+1",
        "0x1-2",
        "1-2-3",
        "0-1,2-3",
        "bytes=",
        "bytes 0-",
        "bytes:0-1",
        "Bytes=0-1",
        "bytes=bytes=0-1",
        "bytes= 0-1",
        "bytes\t0-1",
        "1.0-2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t s, e;
        berth_err_clear();
        if (berth_content_range_parse(bad[i], &s, &e) != BERTH_EINVALID)
            fail_msg("Content-Range '%s' should be invalid", bad[i]);
        assert_int_equal(berth_err_what(), BERTH_WHAT_RANGE);
    }
    uint64_t s, e;
    assert_int_equal(berth_content_range_parse(NULL, &s, &e), BERTH_EINVALID);
}

struct rcase {
    const char *hdr;
    uint64_t size;
    int rc;
    uint64_t start, end;
};

static void range_cases(void **state)
{
    const struct rcase cases[] = {
        {"bytes=0-9", 100, 0, 0, 9},
        {"bytes=0-0", 1, 0, 0, 0},
        {"bytes=5-", 100, 0, 5, 99},
        {"bytes=99-", 100, 0, 99, 99},
        {"bytes=-3", 100, 0, 97, 99},
        {"bytes=-100", 100, 0, 0, 99},
        {"bytes=-1000", 100, 0, 0, 99},   /* suffix longer than the blob: the whole blob */
        {"bytes=90-200", 100, 0, 90, 99}, /* end clamped to size-1 */
        {"bytes=0-99", 100, 0, 0, 99},
        {"bytes=0-100", 100, 0, 0, 99},
        {"bytes=0-18446744073709551615", 10, BERTH_EINVALID, 0, 0}, /* 20 digits */
        {"bytes=0-9999999999999999999", 10, 0, 0, 9},
        {"bytes=100-", 100, BERTH_ERANGE, 0, 0},
        {"bytes=100-200", 100, BERTH_ERANGE, 0, 0},
        {"bytes=101-", 100, BERTH_ERANGE, 0, 0},
        {"bytes=-0", 100, BERTH_ERANGE, 0, 0},
        {"bytes=0-", 0, BERTH_ERANGE, 0, 0},
        {"bytes=0-0", 0, BERTH_ERANGE, 0, 0},
        {"bytes=-1", 0, BERTH_ERANGE, 0, 0},
        {"bytes=9-5", 100, BERTH_EINVALID, 0, 0},
        {"bytes=", 100, BERTH_EINVALID, 0, 0},
        {"bytes=-", 100, BERTH_EINVALID, 0, 0},
        {"bytes=--1", 100, BERTH_EINVALID, 0, 0},
        {"bytes=a-b", 100, BERTH_EINVALID, 0, 0},
        {"bytes=0-1,5-6", 100, BERTH_EINVALID, 0, 0}, /* multipart: serve the whole blob */
        {"bytes=0-1 ", 100, BERTH_EINVALID, 0, 0},
        {"bytes= 0-1", 100, BERTH_EINVALID, 0, 0},
        {"bytes=1", 100, BERTH_EINVALID, 0, 0},
        {"bytes 0-1", 100, BERTH_EINVALID, 0, 0},
        {"0-1", 100, BERTH_EINVALID, 0, 0},
        {"items=0-1", 100, BERTH_EINVALID, 0, 0},
        {"", 100, BERTH_EINVALID, 0, 0},
        {"bytes=-3x", 100, BERTH_EINVALID, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rcase *c = &cases[i];
        uint64_t s = 12345, e = 12345;
        int rc = berth_range_parse(c->hdr, c->size, &s, &e);
        if (rc != c->rc)
            fail_msg("Range '%s' size %llu: rc %d, want %d", c->hdr, (unsigned long long)c->size,
                     rc, c->rc);
        if (rc == 0 && (s != c->start || e != c->end))
            fail_msg("Range '%s' size %llu: [%llu, %llu], want [%llu, %llu]", c->hdr,
                     (unsigned long long)c->size, (unsigned long long)s, (unsigned long long)e,
                     (unsigned long long)c->start, (unsigned long long)c->end);
        if (rc == 0)
            assert_true(s <= e && e < c->size);
    }
    uint64_t s, e;
    assert_int_equal(berth_range_parse(NULL, 10, &s, &e), BERTH_EINVALID);
}

static void range_huge_blob(void **state)
{
    uint64_t s, e;
    const uint64_t size = UINT64_C(1) << 40;
    assert_int_equal(berth_range_parse("bytes=1099511627775-", size, &s, &e), 0);
    assert_true(s == size - 1 && e == size - 1);
    assert_int_equal(berth_range_parse("bytes=-1", size, &s, &e), 0);
    assert_true(s == size - 1 && e == size - 1);
    assert_int_equal(berth_range_parse("bytes=1099511627776-", size, &s, &e), BERTH_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_range_forms),
        cmocka_unit_test(content_range_junk),
        cmocka_unit_test(range_cases),
        cmocka_unit_test(range_huge_blob),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
