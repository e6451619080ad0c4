/*
 * Query plans of the SQLite store's statements whose cost must not grow with the registry:
 * pages (tags/list, catalog, ListImages/DescribeImages), an image's tags (asked once per image
 * of a page and of a lifecycle evaluation), who references a manifest or blob (asked by
 * deletes and per image by lifecycle), a subject's referrers, and the list of repositories
 * with a lifecycle policy. Berth never runs ANALYZE, so SQLite plans from the schema alone and the
 * plan of an empty database is the plan at any size. bench/scale measures the same thing with a
 * clock (docs/performance-scale.md); this catches a schema or statement change that loses an index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "meta/meta.h"
#include "meta/sqlite/sqlite_int.h"

struct fixture {
    char dir[64];
    char path[128];
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct berth_meta *m = NULL;
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-plans-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/meta.db", f->dir);
    /* The store creates the schema (every migration); the plans are read on a connection of
     * our own. */
    if (berth_meta_sqlite_open(&m, f->path) < 0 ||
        sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        berth_meta_close(m);
        free(f);
        return -1;
    }
    berth_meta_close(m);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sqlite3_close(f->db);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The EXPLAIN QUERY PLAN lines of a statement, joined by '\n'. */
static void plan_of(struct fixture *f, enum stmt_id id, char *out, size_t len)
{
    char sql[4096];
    sqlite3_stmt *st = NULL;
    size_t used = 0;
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", msq_stmt_sql[id]);
    assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL), SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        int n = snprintf(out + used, len - used, "%s\n", (const char *)sqlite3_column_text(st, 3));
        assert_true(n > 0 && (size_t)n < len - used);
        used += (size_t)n;
    }
    sqlite3_finalize(st);
}

static void assert_plan(struct fixture *f, enum stmt_id id, const char *want)
{
    char plan[2048];
    plan_of(f, id, plan, sizeof(plan));
    if (!strstr(plan, want))
        fail_msg("statement %d: plan has no \"%s\":\n%s", (int)id, want, plan);
    /* A page read in index order, never sorted: a sort means reading every candidate row. */
    if (strstr(plan, "TEMP B-TREE"))
        fail_msg("statement %d sorts:\n%s", (int)id, plan);
}

static void tags_page_starts_at_last(void **state)
{
    /* Before the explicit lower(name) bound: "(repo_id=?)", every tag before `last` read. */
    assert_plan(*state, ST_TAG_LIST, "USING COVERING INDEX tags_order (repo_id=? AND <expr>>?)");
}

static void image_tags_by_digest(void **state)
{
    /* Before tags_digest_order: "USING INDEX tags_order (repo_id=?)", every tag of the
     * repository filtered for each image. */
    assert_plan(*state, ST_IMAGE_TAGS,
                "USING COVERING INDEX tags_digest_order (repo_id=? AND digest=?)");
    assert_plan(*state, ST_LC_TAGGED,
                "USING COVERING INDEX tags_digest_order (repo_id=? AND digest=?)");
}

static void catalog_and_image_pages_start_at_last(void **state)
{
    assert_plan(*state, ST_REPO_LIST, "(account_id=? AND name>?)");
    assert_plan(*state, ST_REPO_DESCRIBE_LIST, "(account_id=? AND name>?)");
    assert_plan(*state, ST_IMAGE_LIST, "(repo_id=? AND digest>?)");
}

static void references_by_child_and_kind(void **state)
{
    /* Before manifest_refs_child_kind: "USING PRIMARY KEY (repo_id=?)", every reference of
     * the repository read per question (manifest_refs_child lacked `kind`). */
    const char *want =
        "USING COVERING INDEX manifest_refs_child_kind (repo_id=? AND child_digest=? AND kind=?)";
    assert_plan(*state, ST_LINK_IN_USE, want);
    assert_plan(*state, ST_MANIFEST_PARENT, want);
    assert_plan(*state, ST_LC_PARENTS_OF, want);
    assert_plan(*state, ST_LC_IMAGES, want);
    assert_plan(*state, ST_GC_LINK_DELETE,
                "manifest_refs_child_kind (repo_id=? AND child_digest=?)");
}

static void referrers_by_subject(void **state)
{
    /* Before manifests_subject_digest: "USING INDEX sqlite_autoindex_manifests_1 (repo_id=?)",
     * every manifest of the repository read in digest order to skip the sort. */
    assert_plan(*state, ST_REFERRERS, "manifests_subject_digest (repo_id=? AND subject_digest=?)");
    assert_plan(*state, ST_LC_REFERRERS_OF,
                "manifests_subject_digest (repo_id=? AND subject_digest=?)");
}

static void lifecycle_repos_from_their_index(void **state)
{
    /* Before repositories_lifecycle: "SCAN repositories USING INDEX
     * sqlite_autoindex_repositories_1", every repository read. */
    assert_plan(*state, ST_LC_REPOS, "USING INDEX repositories_lifecycle");
}

/* Garbage collection reads its candidates and probes the registry's tables by key: a plan
 * that scans links, blobs or references would make a pass cost the registry's size again. */
static void assert_gc_plan(struct fixture *f, enum stmt_id id, const char *want)
{
    char plan[2048];
    plan_of(f, id, plan, sizeof(plan));
    if (!strstr(plan, want))
        fail_msg("statement %d: plan has no \"%s\":\n%s", (int)id, want, plan);
    const char *scans[] = {"SCAN l",          "SCAN b",     "SCAN m",
                           "SCAN repo_blobs", "SCAN blobs", "SCAN manifest_refs"};
    for (size_t i = 0; i < sizeof(scans) / sizeof(scans[0]); i++)
        if (strstr(plan, scans[i]))
            fail_msg("statement %d scans a registry table:\n%s", (int)id, plan);
}

static void gc_reads_candidates(void **state)
{
    /* With a plain JOIN SQLite chose "SCAN l": every link, each looked up among the
     * candidates. */
    assert_gc_plan(*state, ST_GC_LINKS,
                   "SCAN c USING COVERING INDEX sqlite_autoindex_gc_link_candidates_1");
    assert_gc_plan(*state, ST_GC_BLOBS, "SEARCH b USING PRIMARY KEY (digest=?)");
    assert_gc_plan(*state, ST_GC_BLOBS, "SCAN gc_blob_candidates");
    assert_gc_plan(*state, ST_GC_PRUNE_LINKS,
                   "SEARCH gc_link_candidates USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)");
    assert_gc_plan(*state, ST_GC_PRUNE_BLOBS,
                   "SEARCH gc_blob_candidates USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)");
    assert_gc_plan(*state, ST_GC_PRUNE_LINKS_UPTO, "(rowid>?)");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    berth_log_setup(BERTH_LOG_WARN, BERTH_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        T(tags_page_starts_at_last),
        T(image_tags_by_digest),
        T(catalog_and_image_pages_start_at_last),
        T(references_by_child_and_kind),
        T(referrers_by_subject),
        T(lifecycle_repos_from_their_index),
        T(gc_reads_candidates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
