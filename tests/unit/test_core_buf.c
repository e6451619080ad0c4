/*
 * The bounded buffer: everything sized by input goes through it, so its maximum must hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

static void append_within_max(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 10);
    assert_int_equal(b.len, 0);
    assert_int_equal(berth_buf_append(&b, "hello", 5), 0);
    assert_int_equal(berth_buf_append(&b, "world", 5), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "helloworld", 10);
    assert_int_equal(b.data[10], '\0'); /* always NUL-terminated */
    berth_buf_dispose(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void append_beyond_max_unchanged(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 8);
    assert_int_equal(berth_buf_append(&b, "abcdef", 6), 0);
    const char *before = b.data;
    size_t cap = b.cap;

    berth_err_clear();
    assert_int_equal(berth_buf_append(&b, "xyz", 3), BERTH_ETOOBIG);
    assert_int_equal(berth_err_what(), BERTH_WHAT_SIZE);
    assert_int_equal(b.len, 6);
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "abcdef");

    /* Exactly up to the maximum is fine, one more byte is not. */
    assert_int_equal(berth_buf_append(&b, "gh", 2), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(berth_buf_append(&b, "i", 1), BERTH_ETOOBIG);
    assert_string_equal(b.data, "abcdefgh");
    /* Appending nothing at the maximum is not growth. */
    assert_int_equal(berth_buf_append(&b, "", 0), 0);
    assert_int_equal(b.len, 8);
    berth_buf_dispose(&b);
}

static void append_huge_length_no_overflow(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 16);
    assert_int_equal(berth_buf_append(&b, "ab", 2), 0);
    /* len + extra would wrap around size_t: must still be refused. */
    assert_int_equal(berth_buf_append(&b, "x", SIZE_MAX), BERTH_ETOOBIG);
    assert_int_equal(berth_buf_append(&b, "x", SIZE_MAX - 1), BERTH_ETOOBIG);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    berth_buf_dispose(&b);
}

static void append_first_too_big_allocates_nothing(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 4);
    assert_int_equal(berth_buf_append(&b, "12345", 5), BERTH_ETOOBIG);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    berth_buf_dispose(&b);
}

static void grows_many_times(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 100000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(berth_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.len, 100000);
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] != (char)('0' + i % 10))
            fail_msg("byte %zu is wrong", i);
    assert_int_equal(berth_buf_append(&b, "x", 1), BERTH_ETOOBIG);
    assert_true(b.cap <= 2 * 100001);
    berth_buf_dispose(&b);
}

static void printf_appends(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 64);
    assert_int_equal(berth_buf_printf(&b, "%s=%d", "n", 42), 0);
    assert_int_equal(berth_buf_printf(&b, ";%05.1f", 2.5), 0);
    assert_string_equal(b.data, "n=42;002.5");
    assert_int_equal(b.len, strlen("n=42;002.5"));
    /* An empty format still leaves a valid string. */
    assert_int_equal(berth_buf_printf(&b, "%s", ""), 0);
    assert_string_equal(b.data, "n=42;002.5");
    berth_buf_dispose(&b);

    berth_buf_init(&b, 4);
    assert_int_equal(berth_buf_printf(&b, "%s", ""), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    berth_buf_dispose(&b);
}

static void printf_beyond_max_unchanged(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 8);
    assert_int_equal(berth_buf_printf(&b, "%d", 1234), 0);
    assert_int_equal(berth_buf_printf(&b, "%d", 56789), BERTH_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "1234");
    assert_int_equal(berth_buf_printf(&b, "%d", 5678), 0);
    assert_string_equal(b.data, "12345678");
    berth_buf_dispose(&b);
}

static void detach_hands_over(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 32);
    assert_int_equal(berth_buf_append(&b, "abc", 3), 0);
    size_t len = 0;
    char *p = berth_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 3);
    assert_string_equal(p, "abc");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 32);

    /* The buffer is reusable and independent of the detached bytes. */
    assert_int_equal(berth_buf_append(&b, "xy", 2), 0);
    assert_string_equal(b.data, "xy");
    assert_string_equal(p, "abc");
    free(p);
    berth_buf_dispose(&b);
}

static void detach_empty(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 32);
    size_t len = 99;
    char *p = berth_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);

    p = berth_buf_detach(&b, NULL);
    assert_non_null(p);
    free(p);
}

static void dispose_twice(void **state)
{
    struct berth_buf b;
    berth_buf_init(&b, 32);
    assert_int_equal(berth_buf_append(&b, "abc", 3), 0);
    berth_buf_dispose(&b);
    berth_buf_dispose(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_within_max),
        cmocka_unit_test(append_beyond_max_unchanged),
        cmocka_unit_test(append_huge_length_no_overflow),
        cmocka_unit_test(append_first_too_big_allocates_nothing),
        cmocka_unit_test(grows_many_times),
        cmocka_unit_test(printf_appends),
        cmocka_unit_test(printf_beyond_max_unchanged),
        cmocka_unit_test(detach_hands_over),
        cmocka_unit_test(detach_empty),
        cmocka_unit_test(dispose_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
