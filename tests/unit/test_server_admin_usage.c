/* The `berth admin usage` output (berth_admin_usage_print): the table's columns, alignment,
 * TOTAL row and footer, and the JSON form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/admin.h"

struct fixture {
    struct berth_meta_repo_usage items[2];
    struct berth_usage_report rep;
};

static void fill(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    struct berth_meta_repo_usage a = {.name = "team/a-long-name",
                                      .stored_bytes = 3221225472, /* 3 GB (2^30) */
                                      .images = 12,
                                      .untagged = 3,
                                      .pulls = 41,
                                      .bytes_served = 123456789};
    struct berth_meta_repo_usage b = {.name = "b", .stored_bytes = 1073741824, .images = 1};
    f->items[0] = a;
    f->items[1] = b;
    f->rep.repos.items = f->items;
    f->rep.repos.n = 2;
    f->rep.from_day = 20254 - 29;
    f->rep.to_day = 20254;
    f->rep.registry.blob_bytes = 3000000000;
    f->rep.registry.linked_blob_bytes = 4294967000;
    f->rep.registry.manifest_bytes = 296;
    berth_usage_report_sum(&f->rep);
}

static char *print(struct fixture *f, const char *price, int json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_int_equal(berth_admin_usage_print(out, "000000000000", &f->rep, price, json), 0);
    fclose(out);
    return buf;
}

static void table(void **state)
{
    struct fixture f;
    fill(&f);
    char *s = print(&f, "0.10", 0);
    const char *want =
        "REPOSITORY        STORED_BYTES  IMAGES  UNTAGGED  PULLS_30D  SERVED_BYTES_30D  "
        "USD_PER_MONTH\n"
        "team/a-long-name    3221225472      12         3         41         123456789  "
        "         0.30\n"
        "b                   1073741824       1         0          0                 0  "
        "         0.10\n"
        "TOTAL               4294967296      13         3         41         123456789  "
        "         0.40\n"
        "registry: 3000000296 physical bytes (every blob once, every manifest); 4294967296 bytes "
        "stored by all repositories of all accounts; deduplication saves 1294967000 bytes\n"
        "account 000000000000: pulls and served bytes from 2025-05-17 to 2025-06-15 (UTC); "
        "storage at $0.10 per GB-month (1 GB = 2^30 bytes)\n";
    assert_string_equal(s, want);
    free(s);
}

static void table_with_no_repositories(void **state)
{
    struct fixture f;
    fill(&f);
    f.rep.repos.n = 0;
    berth_usage_report_sum(&f.rep);
    char *s = print(&f, "0.10", 0);
    /* the header and TOTAL row are there, sized by the headers */
    const char *want = "REPOSITORY  STORED_BYTES  IMAGES  UNTAGGED  PULLS_30D  SERVED_BYTES_30D  "
                       "USD_PER_MONTH\n"
                       "TOTAL                  0       0         0          0                 0  "
                       "         0.00\n";
    assert_memory_equal(s, want, strlen(want));
    free(s);
}

static void json_form(void **state)
{
    struct fixture f;
    fill(&f);
    char *s = print(&f, "2.5", 1);
    json_error_t err;
    json_t *o = json_loads(s, 0, &err);
    if (!o)
        fail_msg("not JSON (%s): %s", err.text, s);
    assert_string_equal(json_string_value(json_object_get(o, "account")), "000000000000");
    json_t *w = json_object_get(o, "window");
    assert_string_equal(json_string_value(json_object_get(w, "from")), "2025-05-17");
    assert_string_equal(json_string_value(json_object_get(w, "to")), "2025-06-15");
    assert_int_equal(json_integer_value(json_object_get(w, "days")), 30);
    assert_true(json_real_value(json_object_get(o, "storage_price_usd_per_gb_month")) == 2.5);
    json_t *repos = json_object_get(o, "repositories");
    assert_int_equal(json_array_size(repos), 2);
    json_t *a = json_array_get(repos, 0);
    assert_string_equal(json_string_value(json_object_get(a, "name")), "team/a-long-name");
    assert_int_equal(json_integer_value(json_object_get(a, "stored_bytes")), 3221225472);
    assert_int_equal(json_integer_value(json_object_get(a, "images")), 12);
    assert_int_equal(json_integer_value(json_object_get(a, "untagged")), 3);
    assert_int_equal(json_integer_value(json_object_get(a, "pulls_30d")), 41);
    assert_int_equal(json_integer_value(json_object_get(a, "served_bytes_30d")), 123456789);
    assert_true(json_real_value(json_object_get(a, "usd_per_month")) == 7.5);
    json_t *t = json_object_get(o, "total");
    assert_null(json_object_get(t, "name"));
    assert_int_equal(json_integer_value(json_object_get(t, "stored_bytes")), 4294967296);
    assert_true(json_real_value(json_object_get(t, "usd_per_month")) == 10.0);
    json_t *g = json_object_get(o, "registry");
    assert_int_equal(json_integer_value(json_object_get(g, "physical_bytes")), 3000000296);
    assert_int_equal(json_integer_value(json_object_get(g, "blob_bytes")), 3000000000);
    assert_int_equal(json_integer_value(json_object_get(g, "manifest_bytes")), 296);
    assert_int_equal(json_integer_value(json_object_get(g, "stored_bytes")), 4294967296);
    assert_int_equal(json_integer_value(json_object_get(g, "dedup_saving_bytes")), 1294967000);
    json_decref(o);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(table_with_no_repositories),
        cmocka_unit_test(json_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
