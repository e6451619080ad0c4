#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/digest.h"
#include "core/err.h"

static void sha256_valid(void **state)
{
    char out[BERTH_DIGEST_BUF];
    const char *d = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    assert_int_equal(berth_digest_parse(d, strlen(d), out), 0);
    assert_string_equal(out, d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(sha256_valid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
