/* Tag immutability with ECR's exclusion filters (berth_registry_tag_immutable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "registry/registry.h"

static const char *filters = "[{\"filterType\":\"WILDCARD\",\"filter\":\"dev-*\"},"
                             "{\"filterType\":\"WILDCARD\",\"filter\":\"latest\"},"
                             "{\"filterType\":\"WILDCARD\",\"filter\":\"*-rc*\"}]";

static void plain_settings(void **state)
{
    assert_false(berth_registry_tag_immutable("MUTABLE", NULL, "v1"));
    assert_false(berth_registry_tag_immutable(NULL, NULL, "v1"));
    assert_true(berth_registry_tag_immutable("IMMUTABLE", NULL, "v1"));
    assert_true(berth_registry_tag_immutable("IMMUTABLE", NULL, "latest"));
}

static void immutable_with_exclusion(void **state)
{
    const char *m = "IMMUTABLE_WITH_EXCLUSION";
    /* excluded (so mutable): matches a filter over the whole tag */
    assert_false(berth_registry_tag_immutable(m, filters, "dev-1"));
    assert_false(berth_registry_tag_immutable(m, filters, "dev-"));
    assert_false(berth_registry_tag_immutable(m, filters, "latest"));
    assert_false(berth_registry_tag_immutable(m, filters, "2.0-rc1"));
    assert_false(berth_registry_tag_immutable(m, filters, "2.0-rc"));
    /* not excluded: immutable. A filter without '*' is an exact match, not a substring. */
    assert_true(berth_registry_tag_immutable(m, filters, "v1.0"));
    assert_true(berth_registry_tag_immutable(m, filters, "latest-1"));
    assert_true(berth_registry_tag_immutable(m, filters, "xdev-1"));
    assert_true(berth_registry_tag_immutable(m, filters, "2.0-r"));
}

static void mutable_with_exclusion(void **state)
{
    const char *m = "MUTABLE_WITH_EXCLUSION";
    assert_true(berth_registry_tag_immutable(m, filters, "dev-7"));
    assert_true(berth_registry_tag_immutable(m, filters, "latest"));
    assert_false(berth_registry_tag_immutable(m, filters, "v1"));
    /* a damaged filter list excludes nothing */
    assert_false(berth_registry_tag_immutable(m, "not json", "dev-7"));
    assert_true(berth_registry_tag_immutable("IMMUTABLE_WITH_EXCLUSION", "not json", "dev-7"));
}

static void wildcards_do_not_blow_up(void **state)
{
    const char *f = "[{\"filterType\":\"WILDCARD\",\"filter\":\"*a*a*a*a*a*a*a*b\"}]";
    char tag[129];
    for (int i = 0; i < 128; i++)
        tag[i] = 'a';
    tag[128] = '\0';
    assert_true(berth_registry_tag_immutable("IMMUTABLE_WITH_EXCLUSION", f, tag));
    tag[127] = 'b';
    assert_false(berth_registry_tag_immutable("IMMUTABLE_WITH_EXCLUSION", f, tag));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_settings),
        cmocka_unit_test(immutable_with_exclusion),
        cmocka_unit_test(mutable_with_exclusion),
        cmocka_unit_test(wildcards_do_not_blow_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
