/* Storage accounting's pure parts: the pending-counts table, days and windows, the cost
 * estimate and the report's totals (registry/usage.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "registry/usage.h"

static int add(struct berth_usage_table *t, int64_t repo, int64_t day, int64_t pulls, int64_t bytes)
{
    struct berth_meta_usage_delta d = {
        .repo_id = repo, .day = day, .pulls = pulls, .bytes_served = bytes};
    return berth_usage_table_add(t, &d);
}

static const struct berth_meta_usage_delta *find(const struct berth_meta_usage_delta *d, size_t n,
                                                 int64_t repo, int64_t day)
{
    for (size_t i = 0; i < n; i++)
        if (d[i].repo_id == repo && d[i].day == day)
            return &d[i];
    return NULL;
}

static void counts_add_up_per_repository_and_day(void **state)
{
    struct berth_usage_table t = {0};
    assert_int_equal(add(&t, 1, 100, 1, 500), 0);
    assert_int_equal(add(&t, 1, 100, 0, 2000), 0); /* a blob of the same repository, same day */
    assert_int_equal(add(&t, 1, 100, 1, 500), 0);
    assert_int_equal(add(&t, 1, 101, 1, 7), 0); /* the next day is its own row */
    assert_int_equal(add(&t, 2, 100, 0, 3), 0); /* another repository */
    assert_int_equal(t.n, 3);

    struct berth_meta_usage_delta *d;
    size_t n;
    berth_usage_table_take(&t, &d, &n);
    assert_int_equal(n, 3);
    const struct berth_meta_usage_delta *e = find(d, n, 1, 100);
    assert_non_null(e);
    assert_int_equal(e->pulls, 2);
    assert_int_equal(e->bytes_served, 3000);
    e = find(d, n, 1, 101);
    assert_non_null(e);
    assert_int_equal(e->pulls, 1);
    assert_int_equal(e->bytes_served, 7);
    e = find(d, n, 2, 100);
    assert_non_null(e);
    assert_int_equal(e->pulls, 0);
    assert_int_equal(e->bytes_served, 3);
    free(d);

    /* take leaves an empty table that counts again from zero */
    assert_int_equal(t.n, 0);
    berth_usage_table_take(&t, &d, &n);
    assert_int_equal(n, 0);
    assert_null(d);
    assert_int_equal(add(&t, 1, 100, 1, 1), 0);
    berth_usage_table_take(&t, &d, &n);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].pulls, 1);
    assert_int_equal(d[0].bytes_served, 1);
    free(d);
    berth_usage_table_dispose(&t);
}

static void grows_and_keeps_every_entry(void **state)
{
    struct berth_usage_table t = {0};
    /* far past the first allocation, with colliding-looking keys (same day, consecutive ids,
     * and one id over many days) */
    for (int64_t r = 1; r <= 3000; r++)
        assert_int_equal(add(&t, r, 20000, 1, r), 0);
    for (int64_t day = 0; day < 500; day++)
        assert_int_equal(add(&t, 7, day, 2, 10), 0);
    for (int64_t r = 1; r <= 3000; r++)
        assert_int_equal(add(&t, r, 20000, 1, r), 0);
    assert_int_equal(t.n, 3500);
    assert_true(t.cap >= 2 * t.n); /* at most half full */

    struct berth_meta_usage_delta *d;
    size_t n;
    berth_usage_table_take(&t, &d, &n);
    assert_int_equal(n, 3500);
    int64_t pulls = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        pulls += d[i].pulls;
        bytes += d[i].bytes_served;
    }
    assert_int_equal(pulls, 3000 * 2 + 500 * 2);
    assert_int_equal(bytes, 2 * (3000 * 3001 / 2) + 500 * 10);
    const struct berth_meta_usage_delta *e = find(d, n, 2999, 20000);
    assert_non_null(e);
    assert_int_equal(e->pulls, 2);
    assert_int_equal(e->bytes_served, 2 * 2999);
    e = find(d, n, 7, 499);
    assert_non_null(e);
    assert_int_equal(e->pulls, 2);
    free(d);
    berth_usage_table_dispose(&t);
}

static void full_table_drops_new_keys_only(void **state)
{
    struct berth_usage_table t = {.max = 4};
    for (int64_t r = 1; r <= 4; r++)
        assert_int_equal(add(&t, r, 1, 1, 1), 0);
    /* a fifth repository-day does not fit: refused and counted */
    assert_int_equal(add(&t, 5, 1, 1, 1), BERTH_ETOOBIG);
    assert_int_equal(add(&t, 1, 2, 1, 1), BERTH_ETOOBIG);
    assert_int_equal(t.dropped, 2);
    /* the ones already there still count */
    assert_int_equal(add(&t, 3, 1, 1, 100), 0);
    assert_int_equal(t.n, 4);
    struct berth_meta_usage_delta *d;
    size_t n;
    berth_usage_table_take(&t, &d, &n);
    assert_int_equal(n, 4);
    assert_null(find(d, n, 5, 1));
    assert_int_equal(find(d, n, 3, 1)->bytes_served, 101);
    free(d);
    /* after the take there is room again; dropped stays until the flush reports it */
    assert_int_equal(add(&t, 5, 1, 1, 1), 0);
    assert_int_equal(t.dropped, 2);
    berth_usage_table_dispose(&t);
}

static void no_repository_is_refused(void **state)
{
    struct berth_usage_table t = {0};
    assert_int_equal(add(&t, 0, 1, 1, 1), BERTH_EINVALID);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.dropped, 0);
    berth_usage_table_dispose(&t);
}

static void days_and_window(void **state)
{
    assert_int_equal(berth_usage_day(0), 0);
    assert_int_equal(berth_usage_day(86399), 0);
    assert_int_equal(berth_usage_day(86400), 1);
    assert_int_equal(berth_usage_day(1750000000), 20254); /* 2025-06-15 */
    assert_int_equal(berth_usage_day(-1), -1);            /* floor, not truncation */
    int64_t from, to;
    berth_usage_window(1750000000, 30, &from, &to);
    assert_int_equal(to, 20254);
    assert_int_equal(from, 20254 - 29); /* today and the 29 days before: 30 days */
    berth_usage_window(1750000000, 1, &from, &to);
    assert_int_equal(from, to);
}

static void cost_is_per_binary_gigabyte_month(void **state)
{
    /* 2^30 bytes for a month at ECR's $0.10 per GB-month */
    assert_true(berth_usage_cost(1073741824, 0.10) == 0.10);
    assert_true(berth_usage_cost(0, 0.10) == 0.0);
    assert_true(berth_usage_cost(5 * 1073741824LL, 0.10) == 5 * 1073741824.0 / 1073741824.0 * 0.10);
    /* a decimal gigabyte is a little less than one billed GB */
    assert_true(berth_usage_cost(1000000000, 1.0) < 1.0);
    assert_true(berth_usage_cost(1000000000, 1.0) > 0.93);
}

static void report_totals_and_dedup(void **state)
{
    struct berth_usage_report rep = {0};
    struct berth_meta_repo_usage items[2] = {
        {.name = "a",
         .stored_bytes = 1000,
         .images = 2,
         .untagged = 1,
         .pulls = 5,
         .bytes_served = 700},
        {.name = "b",
         .stored_bytes = 300,
         .images = 1,
         .untagged = 0,
         .pulls = 1,
         .bytes_served = 40},
    };
    rep.repos.items = items;
    rep.repos.n = 2;
    /* two repositories share a 200-byte blob; 50 bytes of manifests */
    rep.registry.blob_bytes = 1050;
    rep.registry.linked_blob_bytes = 1250;
    rep.registry.manifest_bytes = 50;
    berth_usage_report_sum(&rep);
    assert_string_equal(rep.total.name, "TOTAL");
    assert_int_equal(rep.total.stored_bytes, 1300);
    assert_int_equal(rep.total.images, 3);
    assert_int_equal(rep.total.untagged, 1);
    assert_int_equal(rep.total.pulls, 6);
    assert_int_equal(rep.total.bytes_served, 740);
    assert_int_equal(rep.physical_bytes, 1100);
    assert_int_equal(rep.stored_bytes, 1300);
    assert_int_equal(rep.dedup_saving, 200);
    /* blobs no repository links any more are on disk but billed to nobody */
    rep.registry.blob_bytes = 1500;
    berth_usage_report_sum(&rep);
    assert_int_equal(rep.dedup_saving, -250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_add_up_per_repository_and_day),
        cmocka_unit_test(grows_and_keeps_every_entry),
        cmocka_unit_test(full_table_drops_new_keys_only),
        cmocka_unit_test(no_repository_is_refused),
        cmocka_unit_test(days_and_window),
        cmocka_unit_test(cost_is_per_binary_gigabyte_month),
        cmocka_unit_test(report_totals_and_dedup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
