/*
 * Route matching: <name> spans one or more segments and is matched from the end of the path, so
 * a repository may be called "blobs" or contain "manifests" as a component.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/name.h"
#include "http/http.h"

#define HEX64 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

struct match {
    int ok;
    int n;
    char *p[BERTH_MAX_PARAMS];
};

static struct match run(const char *pattern, const char *path)
{
    struct match m;
    memset(&m, 0, sizeof(m));
    m.n = -1;
    m.ok = berth_route_match(pattern, path, m.p, &m.n);
    return m;
}

static void release(struct match *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->p[i]);
}

/* Expects a match with exactly the given parameters (NULL-terminated list). */
static void expect(const char *pattern, const char *path, const char *p0, const char *p1,
                   const char *p2)
{
    const char *want[BERTH_MAX_PARAMS] = {p0, p1, p2};
    int nwant = 0;
    while (nwant < BERTH_MAX_PARAMS && want[nwant])
        nwant++;
    struct match m = run(pattern, path);
    if (!m.ok)
        fail_msg("'%s' should match '%s'", path, pattern);
    if (m.n != nwant)
        fail_msg("'%s' on '%s': %d params, want %d", path, pattern, m.n, nwant);
    for (int i = 0; i < nwant; i++) {
        if (!m.p[i] || strcmp(m.p[i], want[i]) != 0)
            fail_msg("'%s' on '%s': param %d is '%s', want '%s'", path, pattern, i,
                     m.p[i] ? m.p[i] : "(null)", want[i]);
    }
    release(&m);
}

static void expect_no(const char *pattern, const char *path)
{
    struct match m = run(pattern, path);
    if (m.ok) {
        release(&m);
        fail_msg("'%s' should not match '%s'", path, pattern);
    }
    assert_int_equal(m.n, 0);
}

#define MANIFEST "/v2/<name>/manifests/<ref>"
#define BLOB "/v2/<name>/blobs/<digest>"
#define UPLOADS "/v2/<name>/blobs/uploads/"
#define UPLOADS_NOSLASH "/v2/<name>/blobs/uploads"
#define UPLOAD "/v2/<name>/blobs/uploads/<id>"
#define TAGS "/v2/<name>/tags/list"
#define REFERRERS "/v2/<name>/referrers/<digest>"

static void literal_routes(void **state)
{
    expect("/v2/", "/v2/", NULL, NULL, NULL);
    expect("/v2", "/v2", NULL, NULL, NULL);
    expect("/v2/_catalog", "/v2/_catalog", NULL, NULL, NULL);
    expect_no("/v2/", "/v2");
    expect_no("/v2", "/v2/");
    expect_no("/v2/_catalog", "/v2/_catalog/");
    expect_no("/v2/_catalog", "/v2/_catalo");
    expect_no("/v2/_catalog", "/v2/_catalogs");
    expect_no("/v2/_catalog", "/v3/_catalog");
    expect_no("/v2/", "/");
    expect_no("/v2/", "");
}

static void manifest_routes(void **state)
{
    expect(MANIFEST, "/v2/alpine/manifests/latest", "alpine", "latest", NULL);
    expect(MANIFEST, "/v2/mlops/retail-api/manifests/v1.2", "mlops/retail-api", "v1.2", NULL);
    expect(MANIFEST, "/v2/a/b/c/d/manifests/sha256:" HEX64, "a/b/c/d", "sha256:" HEX64, NULL);
    /* Names made of the route's own literal segments. */
    expect(MANIFEST, "/v2/a/manifests/manifests/latest", "a/manifests", "latest", NULL);
    expect(MANIFEST, "/v2/manifests/manifests/manifests", "manifests", "manifests", NULL);
    expect(MANIFEST, "/v2/blobs/manifests/x", "blobs", "x", NULL);
    expect(MANIFEST, "/v2/v2/manifests/x", "v2", "x", NULL);
    expect(MANIFEST, "/v2/a/blobs/uploads/manifests/x", "a/blobs/uploads", "x", NULL);

    expect_no(MANIFEST, "/v2/manifests/latest"); /* no name */
    expect_no(MANIFEST, "/v2/a/manifests/");     /* empty reference */
    expect_no(MANIFEST, "/v2/a/manifests");
    expect_no(MANIFEST, "/v2/a/manifests/x/y"); /* name would have to end in "x" */
    expect_no(MANIFEST, "/v2/a/manifest/x");
    expect_no(MANIFEST, "/v2/a/blobs/x");
    expect_no(MANIFEST, "/v3/a/manifests/x");
    expect_no(MANIFEST, "v2/a/manifests/x");
    expect_no(MANIFEST, "/v2/a/manifests/x/");
}

static void blob_routes(void **state)
{
    expect(BLOB, "/v2/a/blobs/sha256:" HEX64, "a", "sha256:" HEX64, NULL);
    expect(BLOB, "/v2/x/blobs/blobs/blobs/d", "x/blobs/blobs", "d", NULL);
    expect(BLOB, "/v2/a/manifests/blobs/d", "a/manifests", "d", NULL);
    expect_no(BLOB, "/v2/a/blobs/");
    expect_no(BLOB, "/v2/blobs/d");
    /* The uploads collection is not a blob route: "uploads" followed by an empty segment. */
    expect_no(BLOB, "/v2/a/blobs/uploads/");
}

static void upload_routes(void **state)
{
    expect(UPLOADS, "/v2/a/blobs/uploads/", "a", NULL, NULL);
    expect(UPLOADS, "/v2/org/team/app/blobs/uploads/", "org/team/app", NULL, NULL);
    expect(UPLOADS_NOSLASH, "/v2/a/blobs/uploads", "a", NULL, NULL);
    expect_no(UPLOADS, "/v2/a/blobs/uploads");
    expect_no(UPLOADS_NOSLASH, "/v2/a/blobs/uploads/");
    expect_no(UPLOADS, "/v2/a/blobs/uploads/abc");

    const char *id = "0123456789abcdef0123456789abcdef";
    char path[200];
    snprintf(path, sizeof(path), "/v2/a/b/blobs/uploads/%s", id);
    expect(UPLOAD, path, "a/b", id, NULL);
    /* The trailing-slash collection is not an upload with an empty id. */
    expect_no(UPLOAD, "/v2/a/blobs/uploads/");
    expect_no(UPLOAD, "/v2/a/blobs/uploads");
    /* The upload route applied to a repository literally named ".../blobs/uploads". */
    expect(UPLOAD, "/v2/a/blobs/uploads/blobs/uploads/x", "a/blobs/uploads", "x", NULL);
    /* An upload status URL is not a blob GET on repository "a/blobs": the segment before the
     * digest would have to be "blobs". */
    expect_no(BLOB, "/v2/a/blobs/uploads/x");
}

static void tags_and_referrers(void **state)
{
    expect(TAGS, "/v2/a/b/tags/list", "a/b", NULL, NULL);
    expect(TAGS, "/v2/tags/tags/list", "tags", NULL, NULL);
    expect_no(TAGS, "/v2/tags/list");
    expect_no(TAGS, "/v2/a/tags/list/");
    expect_no(TAGS, "/v2/a/tags/lists");
    expect(REFERRERS, "/v2/a/referrers/sha256:" HEX64, "a", "sha256:" HEX64, NULL);
    expect_no(REFERRERS, "/v2/a/referrers/");
}

static void empty_name_segments(void **state)
{
    /* Empty segments may reach the handler as part of <name> (the matcher does not collapse
     * them), but then the name is never valid, so they cannot alias another repository. */
    const char *paths[] = {"/v2//manifests/x", "/v2/a//b/manifests/x", "/v2/a/b//manifests/x",
                           "/v2//a/manifests/x"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct match m = run(MANIFEST, paths[i]);
        if (m.ok) {
            assert_int_equal(m.n, 2);
            assert_string_equal(m.p[1], "x");
            if (berth_name_valid(m.p[0], strlen(m.p[0])) == 0)
                fail_msg("'%s' yields the valid name '%s'", paths[i], m.p[0]);
        }
        release(&m);
    }
    expect(MANIFEST, "/v2//manifests/x", "", "x", NULL);
    expect(MANIFEST, "/v2/a//b/manifests/x", "a//b", "x", NULL);
}

static void params_freed_on_miss(void **state)
{
    /* A miss after a parameter was captured must leave nparams at 0 and leak nothing (the ASan
     * build checks the leak). */
    struct match m = run("/x/<a>/<b>/end", "/x/1/2/nope");
    assert_false(m.ok);
    assert_int_equal(m.n, 0);
    m = run(MANIFEST, "/v2/a/b/manifests/");
    assert_false(m.ok);
    assert_int_equal(m.n, 0);
    m = run("/v2/<name>/<x>/tail", "/v2/a/b/c/nottail");
    assert_false(m.ok);
    assert_int_equal(m.n, 0);
}

static void param_count(void **state)
{
    expect("/<a>/<b>/<c>", "/1/2/3", "1", "2", "3");
    expect("/v2/<name>/<x>/<y>", "/v2/n/m/x/y", "n/m", "x", "y");
    struct match m = run("/<a>", "/one");
    assert_true(m.ok);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.p[0], "one");
    release(&m);
    /* Parameters do not span segments. */
    expect_no("/<a>", "/one/two");
    expect_no("/<a>", "/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_routes),       cmocka_unit_test(manifest_routes),
        cmocka_unit_test(blob_routes),          cmocka_unit_test(upload_routes),
        cmocka_unit_test(tags_and_referrers),   cmocka_unit_test(empty_name_segments),
        cmocka_unit_test(params_freed_on_miss), cmocka_unit_test(param_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
