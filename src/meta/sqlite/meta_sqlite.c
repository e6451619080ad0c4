/*
 * The SQLite metadata store: one database file in WAL mode, one connection per thread (SQLite
 * connections are not shareable across threads without serialising everything), prepared
 * statements cached per connection. Writes take the write lock up front (BEGIN IMMEDIATE) so
 * two writers never deadlock upgrading a read lock. synchronous=FULL: an acknowledged push
 * survives power loss, not just a crash of the process.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "meta/meta.h"
#include "meta/sqlite/migrations.h"
#include "meta/sqlite/sqlite_int.h"

const char *const msq_stmt_sql[ST_COUNT] = {
    [ST_REPO_GET] = "SELECT id FROM repositories WHERE account_id = ?1 AND name = ?2",
    [ST_REPO_INSERT] = "INSERT INTO repositories(account_id, name, created_at) "
                       "VALUES (?1, ?2, ?3) ON CONFLICT(account_id, name) DO NOTHING",
    [ST_REPO_LIST] = "SELECT name FROM repositories WHERE account_id = ?1 AND name > ?2 "
                     "ORDER BY name LIMIT ?3",
    [ST_BLOB_INSERT] = "INSERT INTO blobs(digest, size, created_at) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT(digest) DO NOTHING",
    /* An existing link is refreshed: garbage collection's grace counts from the last upload or
     * mount (docs/gc.md). */
    [ST_LINK_INSERT] = "INSERT INTO repo_blobs(repo_id, digest, linked_at) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT(repo_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
    [ST_LINK_GET] = "SELECT b.size FROM repo_blobs r JOIN blobs b ON b.digest = r.digest "
                    "WHERE r.repo_id = ?1 AND r.digest = ?2",
    [ST_LINK_DELETE] = "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2",
    [ST_LINK_IN_USE] = "SELECT parent_digest FROM manifest_refs WHERE repo_id = ?1 "
                       "AND child_digest = ?2 AND kind = 0 LIMIT 1",
    [ST_BLOB_GET] = "SELECT size FROM blobs WHERE digest = ?1",
    [ST_UPLOAD_INSERT] = "INSERT INTO uploads(id, repo, offset, hash_state, started_at, "
                         "updated_at, account_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
    [ST_UPLOAD_GET] = "SELECT repo, offset, hash_state, started_at, account_id FROM uploads "
                      "WHERE id = ?1",
    [ST_UPLOAD_UPDATE] = "UPDATE uploads SET offset = ?2, hash_state = ?3, updated_at = ?4 "
                         "WHERE id = ?1",
    [ST_UPLOAD_DELETE] = "DELETE FROM uploads WHERE id = ?1",
    [ST_UPLOAD_COUNT] = "SELECT count(*) FROM uploads",
    [ST_UPLOAD_ALL] = "SELECT id FROM uploads ORDER BY id",
    [ST_MANIFEST_INSERT] =
        "INSERT INTO manifests(repo_id, digest, media_type, artifact_type, config_media_type, "
        "subject_digest, annotations, size, total_size, pushed_at, body) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
        "ON CONFLICT(repo_id, digest) DO NOTHING",
    [ST_MANIFEST_EXISTS] = "SELECT size FROM manifests WHERE repo_id = ?1 AND digest = ?2",
    [ST_MANIFEST_GET] = "SELECT media_type, artifact_type, config_media_type, subject_digest, "
                        "annotations, size, total_size, pushed_at, coalesce(last_pulled_at, 0) "
                        "FROM manifests WHERE repo_id = ?1 AND digest = ?2",
    [ST_MANIFEST_GET_BODY] = "SELECT media_type, artifact_type, config_media_type, "
                             "subject_digest, annotations, size, total_size, pushed_at, "
                             "coalesce(last_pulled_at, 0), body "
                             "FROM manifests WHERE repo_id = ?1 AND digest = ?2",
    [ST_MANIFEST_PULLED] = "UPDATE manifests SET last_pulled_at = ?3 WHERE repo_id = ?1 AND "
                           "digest = ?2",
    [ST_MANIFEST_PARENT] = "SELECT parent_digest FROM manifest_refs WHERE repo_id = ?1 "
                           "AND child_digest = ?2 AND kind = 1 LIMIT 1",
    [ST_MANIFEST_DELETE] = "DELETE FROM manifests WHERE repo_id = ?1 AND digest = ?2",
    [ST_REF_INSERT] = "INSERT INTO manifest_refs(repo_id, parent_digest, child_digest, kind) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    [ST_REFERRERS] = "SELECT digest, media_type, artifact_type, config_media_type, annotations, "
                     "size FROM manifests WHERE repo_id = ?1 AND subject_digest = ?2 AND "
                     "(?3 IS NULL OR coalesce(artifact_type, config_media_type) = ?3) "
                     "ORDER BY digest",
    [ST_TAG_UPSERT] = "INSERT INTO tags(repo_id, name, digest, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(repo_id, name) DO UPDATE SET "
                      "digest = excluded.digest, updated_at = excluded.updated_at",
    [ST_TAG_GET] = "SELECT digest FROM tags WHERE repo_id = ?1 AND name = ?2",
    [ST_TAG_DELETE] = "DELETE FROM tags WHERE repo_id = ?1 AND name = ?2",
    /* IMPLEMENTATION-OF distribution-spec: tags "MUST be in lexical order (i.e.
     * case-insensitive alphanumeric order)"; byte order breaks ties so `last` is exact.
     * `lower(name) >= lower(?2)` follows from the row comparison; it is there because SQLite
     * does not turn a row value over an expression index into a range, so without it a page
     * from the middle of a repository read every tag before `last` (EXPLAIN QUERY PLAN: "SEARCH
     * tags USING COVERING INDEX tags_order (repo_id=?)"; with it, "(repo_id=? AND <expr>>?)"). */
    [ST_TAG_LIST] = "SELECT name FROM tags WHERE repo_id = ?1 AND lower(name) >= lower(?2) "
                    "AND (lower(name), name) > (lower(?2), ?2) "
                    "ORDER BY lower(name), name LIMIT ?3",
    [ST_BLOB_ALL] = "SELECT digest, size FROM blobs ORDER BY digest",
    [ST_BLOB_FORGET_LINKS] = "DELETE FROM repo_blobs WHERE digest = ?1",
    [ST_BLOB_FORGET] = "DELETE FROM blobs WHERE digest = ?1",
    [ST_DANGLING] =
        "SELECT r.repo_id, p.name, r.parent_digest, r.child_digest, r.kind "
        "FROM manifest_refs r JOIN repositories p ON p.id = r.repo_id "
        "WHERE NOT EXISTS (SELECT 1 FROM repo_blobs b WHERE b.repo_id = r.repo_id "
        "                  AND b.digest = r.child_digest) "
        "AND (r.kind = 0 OR NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.repo_id "
        "                  AND m.digest = r.child_digest)) "
        "ORDER BY r.repo_id, r.parent_digest",
    [ST_MANIFEST_ALL] = "SELECT m.repo_id, r.name, m.digest, m.body FROM manifests m "
                        "JOIN repositories r ON r.id = m.repo_id ORDER BY m.repo_id, m.digest",
    [ST_ACCOUNT_INSERT] = "INSERT INTO accounts(id, created_at) VALUES (?1, ?2) "
                          "ON CONFLICT(id) DO NOTHING",
    [ST_ACCOUNT_GET] = "SELECT registry_policy FROM accounts WHERE id = ?1",
    [ST_ACCOUNT_SET_POLICY] = "UPDATE accounts SET registry_policy = ?2 WHERE id = ?1",
    [ST_ADOPT_REPOS] = "UPDATE repositories SET account_id = ?1 WHERE account_id = ''",
    [ST_ADOPT_UPLOADS] = "UPDATE uploads SET account_id = ?1 WHERE account_id = ''",
    [ST_USER_INSERT] = "INSERT INTO users(account_id, name, is_admin, created_at) "
                       "VALUES (?1, ?2, ?3, ?4)",
    [ST_USER_GET] = "SELECT id, is_admin FROM users WHERE account_id = ?1 AND name = ?2",
    [ST_KEY_INSERT] = "INSERT INTO access_keys(id, user_id, secret, active, created_at) "
                      "VALUES (?1, ?2, ?3, 1, ?4)",
    [ST_KEY_GET] = "SELECT k.active, k.created_at, k.secret, u.id, u.account_id, u.name, "
                   "u.is_admin FROM access_keys k JOIN users u ON u.id = k.user_id "
                   "WHERE k.id = ?1",
    [ST_KEY_SET_ACTIVE] = "UPDATE access_keys SET active = ?2 WHERE id = ?1",
    [ST_KEY_COUNT] = "SELECT count(*) FROM access_keys",
    [ST_POLICY_UPSERT] = "INSERT INTO policies(account_id, name, document, created_at) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(account_id, name) "
                         "DO UPDATE SET document = excluded.document",
    [ST_POLICY_ATTACH] = "INSERT INTO user_policies(user_id, policy_id) SELECT ?1, id "
                         "FROM policies WHERE account_id = ?2 AND name = ?3 "
                         "ON CONFLICT DO NOTHING",
    [ST_USER_POLICIES] = "SELECT p.document FROM user_policies up JOIN policies p "
                         "ON p.id = up.policy_id WHERE up.user_id = ?1 ORDER BY p.id",
#define REPO_COLS                                                                                  \
    "id, account_id, name, created_at, tag_mutability, tag_mutability_filters, "                   \
    "scan_on_push, encryption_type, kms_key, policy, resource_tags"
    [ST_AUTH_EPOCH] = "SELECT n FROM auth_epoch WHERE id = 1",
    [ST_REPO_DESCRIBE] = "SELECT " REPO_COLS " FROM repositories "
                         "WHERE account_id = ?1 AND name = ?2",
    [ST_REPO_DESCRIBE_LIST] = "SELECT " REPO_COLS " FROM repositories WHERE account_id = ?1 "
                              "AND name > ?2 ORDER BY name LIMIT ?3",
    [ST_REPO_CREATE] = "INSERT INTO repositories(account_id, name, created_at, tag_mutability, "
                       "tag_mutability_filters, scan_on_push, encryption_type, kms_key, policy, "
                       "resource_tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                       "ON CONFLICT(account_id, name) DO NOTHING",
    [ST_REPO_UPDATE] = "UPDATE repositories SET tag_mutability = ?2, tag_mutability_filters = ?3, "
                       "scan_on_push = ?4, policy = ?5, resource_tags = ?6 WHERE id = ?1",
    /* Whether any image is left, not how many: counting read every image of the repository. */
    [ST_REPO_COUNT_IMAGES] = "SELECT EXISTS (SELECT 1 FROM manifests WHERE repo_id = ?1)",
    [ST_REPO_DELETE] = "DELETE FROM repositories WHERE id = ?1",
    [ST_REPO_DELETE_UPLOADS] = "DELETE FROM uploads WHERE account_id = ?1 AND repo = ?2",
    [ST_IMAGE_LIST] =
        "SELECT m.digest, m.media_type, m.artifact_type, m.config_media_type, m.subject_digest, "
        "m.total_size, m.pushed_at, m.last_pulled_at FROM manifests m "
        "WHERE m.repo_id = ?1 AND m.digest > ?2 AND (?3 < 0 OR "
        "EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest) = ?3) "
        "ORDER BY m.digest LIMIT ?4",
    [ST_IMAGE_GET] =
        "SELECT m.digest, m.media_type, m.artifact_type, m.config_media_type, m.subject_digest, "
        "m.total_size, m.pushed_at, m.last_pulled_at FROM manifests m "
        "WHERE m.repo_id = ?1 AND m.digest = ?2",
    [ST_IMAGE_TAGS] = "SELECT name FROM tags WHERE repo_id = ?1 AND digest = ?2 "
                      "ORDER BY lower(name), name",
    /* lifecycle (lifecycle.c) */
    [ST_LC_POLICY_SET] = "UPDATE repositories SET lifecycle_policy = ?2 WHERE id = ?1",
    [ST_LC_POLICY_GET] = "SELECT lifecycle_policy, coalesce(lifecycle_evaluated_at, 0) "
                         "FROM repositories WHERE id = ?1",
    [ST_LC_EVALUATED] = "UPDATE repositories SET lifecycle_evaluated_at = ?2 WHERE id = ?1",
    [ST_LC_REPOS] = "SELECT id, account_id, name FROM repositories WHERE lifecycle_policy IS NOT "
                    "NULL AND (?1 = '' OR account_id = ?1) ORDER BY account_id, name",
    [ST_LC_IMAGES] =
        "SELECT m.digest, m.media_type, m.artifact_type, m.config_media_type, m.subject_digest, "
        "m.total_size, m.pushed_at, m.last_pulled_at FROM manifests m WHERE m.repo_id = ?1 "
        "AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repo_id = m.repo_id "
        "                AND r.child_digest = m.digest AND r.kind = 1) "
        "AND NOT (m.subject_digest IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s "
        "         WHERE s.repo_id = m.repo_id AND s.digest = m.subject_digest)) "
        "ORDER BY m.digest",
    [ST_LC_REFERRERS_OF] = "SELECT digest FROM manifests WHERE repo_id = ?1 AND "
                           "subject_digest = ?2 ORDER BY digest",
    [ST_LC_CHILDREN_OF] = "SELECT child_digest FROM manifest_refs WHERE repo_id = ?1 AND "
                          "parent_digest = ?2 AND kind = 1 ORDER BY child_digest",
    [ST_LC_PARENTS_OF] = "SELECT parent_digest FROM manifest_refs WHERE repo_id = ?1 AND "
                         "child_digest = ?2 AND kind = 1 ORDER BY parent_digest",
    [ST_LC_TAGGED] = "SELECT count(*) FROM tags WHERE repo_id = ?1 AND digest = ?2",
    [ST_EVENT_INSERT] = "INSERT INTO events(at, account_id, repository, kind, digest, actor, "
                        "detail) SELECT ?2, account_id, name, ?3, ?4, ?5, ?6 FROM repositories "
                        "WHERE id = ?1",
    [ST_PREVIEW_START] = "INSERT INTO lifecycle_previews(repo_id, policy, status, started_at) "
                         "VALUES (?1, ?2, 'IN_PROGRESS', ?3) ON CONFLICT(repo_id) DO UPDATE SET "
                         "policy = excluded.policy, status = 'IN_PROGRESS', results = NULL, "
                         "started_at = excluded.started_at, finished_at = NULL "
                         "WHERE lifecycle_previews.status <> 'IN_PROGRESS'",
    [ST_PREVIEW_GET] = "SELECT status, policy, results, started_at FROM lifecycle_previews "
                       "WHERE repo_id = ?1",
    [ST_PREVIEW_FINISH] = "UPDATE lifecycle_previews SET status = ?2, results = ?3, "
                          "finished_at = ?4 WHERE repo_id = ?1 AND status = 'IN_PROGRESS'",
    [ST_PREVIEW_PENDING] = "SELECT p.repo_id, r.account_id, r.name FROM lifecycle_previews p "
                           "JOIN repositories r ON r.id = p.repo_id "
                           "WHERE p.status = 'IN_PROGRESS' ORDER BY p.started_at",
    /* garbage collection (gc.c) */
    [ST_GC_LINK_TIME] = "SELECT b.size, r.linked_at FROM repo_blobs r JOIN blobs b "
                        "ON b.digest = r.digest WHERE r.repo_id = ?1 AND r.digest = ?2",
    [ST_GC_LINK_TOUCH] = "UPDATE repo_blobs SET linked_at = ?3 WHERE repo_id = ?1 AND digest = ?2",
    /* Any kind of reference keeps a link: an index entry (kind 1) may be satisfied by a blob
     * link (ref_exists falls back to it). */
    /* CROSS JOIN keeps the candidates the outer loop: otherwise SQLite scans every link. */
    [ST_GC_LINKS] = "SELECT c.repo_id, c.digest FROM gc_link_candidates c CROSS JOIN repo_blobs l "
                    "ON l.repo_id = c.repo_id AND l.digest = c.digest WHERE l.linked_at < ?1 "
                    "AND NOT EXISTS (SELECT 1 FROM manifest_refs m WHERE m.repo_id = c.repo_id "
                    "AND m.child_digest = c.digest) ORDER BY c.repo_id, c.digest",
    [ST_GC_LINK_DELETE] = "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2 "
                          "AND linked_at < ?3 AND NOT EXISTS (SELECT 1 FROM manifest_refs m "
                          "WHERE m.repo_id = ?1 AND m.child_digest = ?2)",
    [ST_GC_BLOBS] = "SELECT b.digest, b.size FROM blobs b WHERE b.digest IN "
                    "(SELECT digest FROM gc_blob_candidates UNION "
                    "SELECT digest FROM gc_link_candidates) AND b.created_at < ?1 "
                    "AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest "
                    "AND (l.linked_at >= ?1 OR EXISTS (SELECT 1 FROM manifest_refs m "
                    "WHERE m.repo_id = l.repo_id AND m.child_digest = l.digest))) "
                    "ORDER BY b.digest",
    [ST_GC_BLOB_CHECK] = "SELECT b.size FROM blobs b WHERE b.digest = ?1 AND b.created_at < ?2 "
                         "AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = ?1)",
    [ST_GC_UPLOADS] = "SELECT id FROM uploads WHERE updated_at < ?1 ORDER BY id",
    [ST_GC_UPLOAD_CHECK] = "SELECT 1 FROM uploads WHERE id = ?1 AND updated_at < ?2",
    [ST_GC_UPLOAD_EXISTS] = "SELECT 1 FROM uploads WHERE id = ?1",
    /* Pruning goes by rowid ranges, a bounded number of candidates per write transaction. */
    [ST_GC_PRUNE_LINKS_UPTO] = "SELECT max(rowid) FROM (SELECT rowid FROM gc_link_candidates "
                               "WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
    [ST_GC_PRUNE_LINKS] = "DELETE FROM gc_link_candidates WHERE rowid > ?1 AND rowid <= ?2 AND "
                          "(NOT EXISTS (SELECT 1 FROM repo_blobs l "
                          "WHERE l.repo_id = gc_link_candidates.repo_id "
                          "AND l.digest = gc_link_candidates.digest) "
                          "OR EXISTS (SELECT 1 FROM manifest_refs m "
                          "WHERE m.repo_id = gc_link_candidates.repo_id "
                          "AND m.child_digest = gc_link_candidates.digest))",
    [ST_GC_PRUNE_BLOBS_UPTO] = "SELECT max(rowid) FROM (SELECT rowid FROM gc_blob_candidates "
                               "WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
    [ST_GC_PRUNE_BLOBS] = "DELETE FROM gc_blob_candidates WHERE rowid > ?1 AND rowid <= ?2 AND "
                          "(NOT EXISTS (SELECT 1 FROM blobs b "
                          "WHERE b.digest = gc_blob_candidates.digest) "
                          "OR EXISTS (SELECT 1 FROM repo_blobs l "
                          "WHERE l.digest = gc_blob_candidates.digest))",
    [ST_GC_STATE_GET] = "SELECT walk_files, server_running FROM gc_state WHERE id = 1",
    [ST_GC_WALK_TAKE] = "UPDATE gc_state SET walk_files = 0 WHERE id = 1 AND walk_files <> 0",
    [ST_GC_WALK_REQUEST] = "UPDATE gc_state SET walk_files = 1 WHERE id = 1",
    [ST_GC_SERVER_START] = "UPDATE gc_state SET walk_files = (walk_files OR server_running), "
                           "server_running = 1 WHERE id = 1",
    [ST_GC_SERVER_STOP] = "UPDATE gc_state SET server_running = 0 WHERE id = 1",
    /* storage accounting (usage.c) */
    /* Counts add up; the SELECT drops counts of a repository deleted since they were taken
     * (its rows went with it, and the foreign key would fail the whole batch). */
    [ST_USAGE_ADD] =
        "INSERT INTO usage_daily(repo_id, day, pulls, bytes_served) "
        "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM repositories WHERE id = ?1) "
        "ON CONFLICT(repo_id, day) DO UPDATE SET pulls = pulls + excluded.pulls, "
        "bytes_served = bytes_served + excluded.bytes_served",
/* A repository's stored bytes: its distinct blobs once each (repo_blobs has one row per
 * digest), plus its manifests. */
#define REPO_STORED_BYTES                                                                          \
    "(coalesce((SELECT sum(b.size) FROM repo_blobs l JOIN blobs b ON b.digest = l.digest "         \
    "WHERE l.repo_id = r.id), 0) + "                                                               \
    "coalesce((SELECT sum(m.size) FROM manifests m WHERE m.repo_id = r.id), 0))"
    [ST_USAGE_REPO_STORED] = "SELECT " REPO_STORED_BYTES " FROM repositories r WHERE r.id = ?1",
    [ST_USAGE_REPOS] =
        "SELECT r.name, " REPO_STORED_BYTES ", "
        "(SELECT count(*) FROM manifests m WHERE m.repo_id = r.id), "
        "(SELECT count(*) FROM manifests m WHERE m.repo_id = r.id AND NOT EXISTS "
        " (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest)), "
        "coalesce((SELECT sum(u.pulls) FROM usage_daily u WHERE u.repo_id = r.id "
        " AND u.day BETWEEN ?2 AND ?3), 0), "
        "coalesce((SELECT sum(u.bytes_served) FROM usage_daily u WHERE u.repo_id = r.id "
        " AND u.day BETWEEN ?2 AND ?3), 0) "
        "FROM repositories r WHERE r.account_id = ?1 ORDER BY r.name",
    [ST_USAGE_REGISTRY] =
        "SELECT coalesce((SELECT sum(size) FROM blobs), 0), "
        "coalesce((SELECT sum(size) FROM manifests), 0), "
        "coalesce((SELECT sum(b.size) FROM repo_blobs l JOIN blobs b ON b.digest = l.digest), 0)",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

int64_t msq_now_s(void)
{
    return (int64_t)time(NULL);
}

int msq_db_error(sqlite3 *db, const char *what)
{
    int code = sqlite3_errcode(db);
    int rc = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? BERTH_EUNAVAILABLE : BERTH_EIO;
    return berth_err_set(rc, BERTH_WHAT_NONE, "metadata %s: %s", what, sqlite3_errmsg(db));
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

static void conn_unlink(struct store *s, struct conn *c)
{
    pthread_mutex_lock(&s->mu);
    for (struct conn **pp = &s->all; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void conn_destructor(void *p)
{
    struct conn *c = p;
    conn_unlink(c->store, c);
    conn_close(c);
}

/* SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, so a writer that
 * finds the lock taken for a millisecond waits much longer. Short waits first, then 1 ms,
 * about 10 s in all before SQLITE_BUSY. */
#define BUSY_SHORT_TRIES 200 /* 100 us apart: the first 20 ms */
#define BUSY_TRIES_MAX 10000 /* then 1 ms apart */
static int busy_wait(void *arg, int tries)
{
    (void)arg;
    if (tries >= BUSY_TRIES_MAX)
        return 0;
    struct timespec ts = {0, tries < BUSY_SHORT_TRIES ? 100000L : 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

static int conn_open_db(const char *path, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        int rc = berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot open %s: %s", path,
                               db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_handler(db, busy_wait, NULL);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                     "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        int rc = berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot configure %s: %s", path,
                               msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int msq_get_conn(struct store *s, struct conn **out)
{
    struct conn *c = pthread_getspecific(s->key);
    if (c) {
        *out = c;
        return 0;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    int rc = conn_open_db(s->path, &c->db);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->store = s;
    pthread_mutex_lock(&s->mu);
    c->next = s->all;
    s->all = c;
    pthread_mutex_unlock(&s->mu);
    pthread_setspecific(s->key, c);
    *out = c;
    return 0;
}

/* A reset statement from the per-connection cache, ready for binding. */
int msq_stmt(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    if (!c->st[id]) {
        if (sqlite3_prepare_v3(c->db, msq_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                               NULL) != SQLITE_OK)
            return msq_db_error(c->db, "prepare");
    } else {
        sqlite3_reset(c->st[id]);
        sqlite3_clear_bindings(c->st[id]);
    }
    *out = c->st[id];
    return 0;
}

void msq_done(sqlite3_stmt *st)
{
    if (st)
        sqlite3_reset(st);
}

static int exec_simple(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = NULL;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    msq_done(st);
    return r == SQLITE_DONE ? 0 : msq_db_error(c->db, msq_stmt_sql[id]);
}

/* Writers of this process take turns on a mutex before BEGIN IMMEDIATE: the one waiting is
 * woken the moment the lock is free. Left to SQLite, eight pushing threads spent their time
 * asleep in its busy handler (3.5 ms per wait on average, measured with strace) and pushed
 * tags more slowly than one thread did. Other processes (berth admin, berth gc) still meet
 * this one in the busy handler. */
int msq_begin(struct conn *c)
{
    pthread_mutex_lock(&c->store->write_mu);
    int rc = exec_simple(c, ST_BEGIN);
    if (rc < 0) {
        pthread_mutex_unlock(&c->store->write_mu);
        return rc;
    }
    c->writing = 1;
    return 0;
}

static void write_done(struct conn *c)
{
    if (c->writing) {
        c->writing = 0;
        pthread_mutex_unlock(&c->store->write_mu);
    }
}

int msq_commit(struct conn *c)
{
    int rc = exec_simple(c, ST_COMMIT);
    if (rc < 0)
        exec_simple(c, ST_ROLLBACK);
    write_done(c);
    return rc;
}

void msq_rollback(struct conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        exec_simple(c, ST_ROLLBACK);
    write_done(c);
}

void msq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

char *msq_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

/* Runs a statement that returns no rows. */
int msq_step_done(struct conn *c, sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    msq_done(st);
    return r == SQLITE_DONE ? 0 : msq_db_error(c->db, "write");
}

/* ---- repositories ---- */

static int repo_get(void *impl, const char *account, const char *name, int64_t *out_id)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_REPO_GET, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *out_id = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO, "repository %s not known", name);
    } else {
        rc = msq_db_error(c->db, "repo lookup");
    }
    msq_done(st);
    return rc;
}

static int repo_ensure(void *impl, const char *account, const char *name, int create,
                       int64_t *out_id)
{
    int rc = repo_get(impl, account, name, out_id);
    if (rc != BERTH_ENOTFOUND || !create)
        return rc;
    CONN(impl, c);
    sqlite3_stmt *st;
    if ((rc = msq_stmt(c, ST_REPO_INSERT, &st)) < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, msq_now_s());
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    return repo_get(impl, account, name, out_id);
}

int msq_list_strings(struct conn *c, sqlite3_stmt *st, struct berth_strlist *out)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (berth_strlist_push(out, (const char *)sqlite3_column_text(st, 0)) < 0) {
            msq_done(st);
            return BERTH_ENOMEM;
        }
    }
    msq_done(st);
    return r == SQLITE_DONE ? 0 : msq_db_error(c->db, "list");
}

static int repo_list(void *impl, const char *account, const char *last, int limit,
                     struct berth_strlist *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_REPO_LIST, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, account);
    msq_bind_text(st, 2, last ? last : "");
    sqlite3_bind_int(st, 3, limit);
    return msq_list_strings(c, st, out);
}

/* ---- blobs ---- */

static int blob_link(void *impl, int64_t repo_id, const char *digest, int64_t size,
                     const char *upload_id)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = msq_stmt(c, ST_BLOB_INSERT, &st)) < 0)
        goto fail;
    msq_bind_text(st, 1, digest);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, msq_now_s());
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    if ((rc = msq_stmt(c, ST_LINK_INSERT, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, msq_now_s());
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    if (upload_id) {
        if ((rc = msq_stmt(c, ST_UPLOAD_DELETE, &st)) < 0)
            goto fail;
        msq_bind_text(st, 1, upload_id);
        if ((rc = msq_step_done(c, st)) < 0)
            goto fail;
        /* Expired under the request: its bytes may be gone with it, so link nothing. */
        if (sqlite3_changes(c->db) == 0) {
            rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s expired", upload_id);
            goto fail;
        }
    }
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

static int lookup_size(struct conn *c, enum stmt_id id, int64_t repo_id, const char *digest,
                       int64_t *out_size, enum berth_what what)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, id, &st);
    if (rc < 0)
        return rc;
    int bi = 1;
    if (repo_id >= 0)
        sqlite3_bind_int64(st, bi++, repo_id);
    msq_bind_text(st, bi, digest);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        if (out_size)
            *out_size = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, what, "%s unknown", digest);
        berth_err_set_subject(digest);
    } else {
        rc = msq_db_error(c->db, "lookup");
    }
    msq_done(st);
    return rc;
}

static int blob_linked(void *impl, int64_t repo_id, const char *digest, int64_t *out_size)
{
    CONN(impl, c);
    return lookup_size(c, ST_LINK_GET, repo_id, digest, out_size, BERTH_WHAT_BLOB);
}

static int blob_known(void *impl, const char *digest, int64_t *out_size)
{
    CONN(impl, c);
    return lookup_size(c, ST_BLOB_GET, -1, digest, out_size, BERTH_WHAT_BLOB);
}

static int blob_unlink(void *impl, int64_t repo_id, const char *digest)
{
    CONN(impl, c);
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = lookup_size(c, ST_LINK_GET, repo_id, digest, NULL, BERTH_WHAT_BLOB)) < 0)
        goto fail;
    sqlite3_stmt *st;
    if ((rc = msq_stmt(c, ST_LINK_IN_USE, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_BLOB,
                           "blob %s is referenced by manifest %s; delete the manifest first",
                           digest, (const char *)sqlite3_column_text(st, 0));
        msq_done(st);
        goto fail;
    }
    msq_done(st);
    if (r != SQLITE_DONE) {
        rc = msq_db_error(c->db, "blob unlink");
        goto fail;
    }
    if ((rc = msq_stmt(c, ST_LINK_DELETE, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

/* ---- uploads ---- */

static int upload_create(void *impl, const struct berth_meta_upload *u)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_UPLOAD_INSERT, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, u->id);
    msq_bind_text(st, 2, u->repo);
    sqlite3_bind_int64(st, 3, u->offset);
    sqlite3_bind_blob(st, 4, u->state, sizeof(u->state), SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, u->started_at);
    msq_bind_text(st, 6, u->account);
    return msq_step_done(c, st);
}

static int upload_get(void *impl, const char *id, struct berth_meta_upload *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_UPLOAD_GET, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", id);
        snprintf(out->repo, sizeof(out->repo), "%s", (const char *)sqlite3_column_text(st, 0));
        out->offset = sqlite3_column_int64(st, 1);
        int n = sqlite3_column_bytes(st, 2);
        if (n == (int)sizeof(out->state)) {
            memcpy(out->state, sqlite3_column_blob(st, 2), sizeof(out->state));
            out->started_at = sqlite3_column_int64(st, 3);
            snprintf(out->account, sizeof(out->account), "%s",
                     (const char *)sqlite3_column_text(st, 4));
            rc = 0;
        } else {
            rc = berth_err_set(BERTH_EIO, BERTH_WHAT_UPLOAD, "upload %s has corrupt state", id);
        }
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s unknown", id);
    } else {
        rc = msq_db_error(c->db, "upload lookup");
    }
    msq_done(st);
    return rc;
}

static int upload_update(void *impl, const struct berth_meta_upload *u)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_UPLOAD_UPDATE, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, u->id);
    sqlite3_bind_int64(st, 2, u->offset);
    sqlite3_bind_blob(st, 3, u->state, sizeof(u->state), SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, msq_now_s());
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s unknown", u->id);
    return 0;
}

static int upload_delete(void *impl, const char *id)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_UPLOAD_DELETE, &st);
    if (rc < 0)
        return rc;
    msq_bind_text(st, 1, id);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s unknown", id);
    return 0;
}

static int upload_count(void *impl, int64_t *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_UPLOAD_COUNT, &st);
    if (rc < 0)
        return rc;
    int r = sqlite3_step(st);
    *out = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    msq_done(st);
    return r == SQLITE_ROW ? 0 : msq_db_error(c->db, "upload count");
}

static int upload_iterate(void *impl, berth_meta_upload_cb cb, void *ctx)
{
    CONN(impl, c);
    struct berth_strlist ids = {0};
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_UPLOAD_ALL, &st);
    if (rc < 0)
        return rc;
    if ((rc = msq_list_strings(c, st, &ids)) < 0)
        goto out;
    for (size_t i = 0; i < ids.n && rc == 0; i++)
        rc = cb(ctx, ids.items[i]);
out:
    berth_strlist_dispose(&ids);
    return rc;
}

/* ---- manifests and tags ---- */

/* The reference must exist in the repository with the size its descriptor claims: a wrong size
 * would make every client fail the pull, so it is refused at push time. */
static int ref_exists(struct conn *c, int64_t repo_id, const struct berth_manifest_ref *r)
{
    int rc = BERTH_ENOTFOUND;
    int64_t size = -1;
    if (r->is_manifest)
        rc = lookup_size(c, ST_MANIFEST_EXISTS, repo_id, r->digest, &size, BERTH_WHAT_MANIFEST_REF);
    if (rc == BERTH_ENOTFOUND)
        rc = lookup_size(c, ST_LINK_GET, repo_id, r->digest, &size, BERTH_WHAT_MANIFEST_REF);
    if (rc == BERTH_ENOTFOUND) {
        berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST_REF, "%s %s is not in this repository",
                      r->is_manifest ? "manifest" : "blob", r->digest);
        berth_err_set_subject(r->digest);
        return rc;
    }
    if (rc == 0 && size != r->size)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_MANIFEST,
                             "descriptor of %s says size %lld but the stored content has %lld",
                             r->digest, (long long)r->size, (long long)size);
    return rc;
}

static int tag_set(struct conn *c, int64_t repo_id, const char *tag, const char *digest)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_TAG_UPSERT, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, tag);
    msq_bind_text(st, 3, digest);
    sqlite3_bind_int64(st, 4, msq_now_s());
    return msq_step_done(c, st);
}

/* In an immutable tag's transaction: the tag may be created, or re-pointed at the digest it
 * already names, never moved. */
static int tag_check_immutable(struct conn *c, int64_t repo_id, const char *tag, const char *digest)
{
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_TAG_GET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, tag);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), digest) != 0)
        rc = berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_TAG,
                           "The image tag '%s' already exists in the repository and cannot be "
                           "overwritten because the tag is immutable.",
                           tag);
    else if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "tag lookup");
    msq_done(st);
    return rc;
}

static int manifest_put(void *impl, int64_t repo_id, const struct berth_meta_manifest *m,
                        const struct berth_manifest_ref *refs, size_t nrefs, const char *tag,
                        int tag_immutable)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nrefs; i++)
        if ((rc = ref_exists(c, repo_id, &refs[i])) < 0)
            goto fail;
    if (tag && tag_immutable && (rc = tag_check_immutable(c, repo_id, tag, m->digest)) < 0)
        goto fail;
    if ((rc = msq_stmt(c, ST_MANIFEST_INSERT, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, m->digest);
    msq_bind_text(st, 3, m->media_type);
    msq_bind_text(st, 4, m->artifact_type);
    msq_bind_text(st, 5, m->config_media_type);
    msq_bind_text(st, 6, m->subject);
    msq_bind_text(st, 7, m->annotations);
    sqlite3_bind_int64(st, 8, m->size);
    sqlite3_bind_int64(st, 9, m->total_size);
    sqlite3_bind_int64(st, 10, m->pushed_at);
    sqlite3_bind_blob(st, 11, m->body, (int)m->body_len, SQLITE_STATIC);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    if (sqlite3_changes(c->db) > 0) {
        for (size_t i = 0; i < nrefs; i++) {
            if ((rc = msq_stmt(c, ST_REF_INSERT, &st)) < 0)
                goto fail;
            sqlite3_bind_int64(st, 1, repo_id);
            msq_bind_text(st, 2, m->digest);
            msq_bind_text(st, 3, refs[i].digest);
            sqlite3_bind_int(st, 4, refs[i].is_manifest);
            if ((rc = msq_step_done(c, st)) < 0)
                goto fail;
        }
    }
    if (tag && (rc = tag_set(c, repo_id, tag, m->digest)) < 0)
        goto fail;
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

static void read_manifest_row(sqlite3_stmt *st, int with_body, struct berth_meta_manifest *out)
{
    out->media_type = msq_col_dup(st, 0);
    out->artifact_type = msq_col_dup(st, 1);
    out->config_media_type = msq_col_dup(st, 2);
    out->subject = msq_col_dup(st, 3);
    out->annotations = msq_col_dup(st, 4);
    out->size = sqlite3_column_int64(st, 5);
    out->total_size = sqlite3_column_int64(st, 6);
    out->pushed_at = sqlite3_column_int64(st, 7);
    out->last_pulled_at = sqlite3_column_int64(st, 8);
    if (with_body) {
        int n = sqlite3_column_bytes(st, 9);
        out->body = malloc((size_t)n + 1);
        if (out->body) {
            memcpy(out->body, sqlite3_column_blob(st, 9), (size_t)n);
            out->body[n] = '\0';
            out->body_len = (size_t)n;
        }
    }
}

static int manifest_pulled(void *impl, int64_t repo_id, const char *digest, int64_t when)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_MANIFEST_PULLED, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, when);
    return msq_step_done(c, st);
}

static int manifest_get(void *impl, int64_t repo_id, const char *digest, int with_body,
                        struct berth_meta_manifest *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, with_body ? ST_MANIFEST_GET_BODY : ST_MANIFEST_GET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        snprintf(out->digest, sizeof(out->digest), "%s", digest);
        read_manifest_row(st, with_body, out);
        rc = (with_body && !out->body) ? BERTH_ENOMEM : 0;
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST, "manifest %s unknown", digest);
    } else {
        rc = msq_db_error(c->db, "manifest lookup");
    }
    msq_done(st);
    if (rc < 0)
        berth_meta_manifest_dispose(out);
    return rc;
}

static int manifest_delete(void *impl, int64_t repo_id, const char *digest, int force)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = lookup_size(c, ST_MANIFEST_EXISTS, repo_id, digest, NULL, BERTH_WHAT_MANIFEST)) < 0)
        goto fail;
    if (!force) {
        if ((rc = msq_stmt(c, ST_MANIFEST_PARENT, &st)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, repo_id);
        msq_bind_text(st, 2, digest);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            rc = berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_MANIFEST,
                               "manifest %s is listed by image index %s; delete the index first",
                               digest, (const char *)sqlite3_column_text(st, 0));
            msq_done(st);
            goto fail;
        }
        msq_done(st);
        if (r != SQLITE_DONE) {
            rc = msq_db_error(c->db, "manifest delete");
            goto fail;
        }
    }
    if ((rc = msq_stmt(c, ST_MANIFEST_DELETE, &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, digest);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

static int referrers(void *impl, int64_t repo_id, const char *subject, const char *artifact_type,
                     struct berth_meta_manifest_list *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int rc = msq_stmt(c, ST_REFERRERS, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, subject);
    msq_bind_text(st, 3, artifact_type);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            void *p = realloc(out->items, ncap * sizeof(*out->items));
            if (!p) {
                rc = BERTH_ENOMEM;
                break;
            }
            out->items = p;
            cap = ncap;
        }
        struct berth_meta_manifest *m = &out->items[out->n++];
        memset(m, 0, sizeof(*m));
        snprintf(m->digest, sizeof(m->digest), "%s", (const char *)sqlite3_column_text(st, 0));
        m->media_type = msq_col_dup(st, 1);
        m->artifact_type = msq_col_dup(st, 2);
        m->config_media_type = msq_col_dup(st, 3);
        m->annotations = msq_col_dup(st, 4);
        m->size = sqlite3_column_int64(st, 5);
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "referrers");
    if (rc < 0)
        berth_meta_manifest_list_dispose(out);
    return rc;
}

static int tag_get(void *impl, int64_t repo_id, const char *tag, char out[BERTH_DIGEST_BUF])
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_TAG_GET, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, tag);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        snprintf(out, BERTH_DIGEST_BUF, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST, "tag %s unknown", tag);
    } else {
        rc = msq_db_error(c->db, "tag lookup");
    }
    msq_done(st);
    return rc;
}

static int tag_delete(void *impl, int64_t repo_id, const char *tag)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_TAG_DELETE, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, tag);
    if ((rc = msq_step_done(c, st)) < 0)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST, "tag %s unknown", tag);
    return 0;
}

static int tag_list(void *impl, int64_t repo_id, const char *last, int limit,
                    struct berth_strlist *out)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_TAG_LIST, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, repo_id);
    msq_bind_text(st, 2, last ? last : "");
    sqlite3_bind_int(st, 3, limit);
    return msq_list_strings(c, st, out);
}

/* ---- fsck ---- */

static int blob_iterate(void *impl, berth_meta_blob_cb cb, void *ctx)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_BLOB_ALL, &st);
    if (rc < 0)
        return rc;
    /* Collect first: the callback may call back into the store on this connection. */
    struct berth_strlist digests = {0};
    int64_t *sizes = NULL;
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (digests.n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *p = realloc(sizes, cap * sizeof(*sizes));
            if (!p) {
                rc = BERTH_ENOMEM;
                break;
            }
            sizes = p;
        }
        sizes[digests.n] = sqlite3_column_int64(st, 1);
        if (berth_strlist_push(&digests, (const char *)sqlite3_column_text(st, 0)) < 0) {
            rc = BERTH_ENOMEM;
            break;
        }
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "blob iterate");
    for (size_t i = 0; rc == 0 && i < digests.n; i++)
        rc = cb(ctx, digests.items[i], sizes[i]);
    free(sizes);
    berth_strlist_dispose(&digests);
    return rc;
}

static int blob_forget(void *impl, const char *digest)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_begin(c);
    if (rc < 0)
        return rc;
    if ((rc = msq_stmt(c, ST_BLOB_FORGET_LINKS, &st)) < 0)
        goto fail;
    msq_bind_text(st, 1, digest);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    if ((rc = msq_stmt(c, ST_BLOB_FORGET, &st)) < 0)
        goto fail;
    msq_bind_text(st, 1, digest);
    if ((rc = msq_step_done(c, st)) < 0)
        goto fail;
    return msq_commit(c);
fail:
    msq_rollback(c);
    return rc;
}

static int dangling_iterate(void *impl, berth_meta_dangling_cb cb, void *ctx)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_DANGLING, &st);
    if (rc < 0)
        return rc;
    struct berth_meta_dangling *items = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            void *p = realloc(items, cap * sizeof(*items));
            if (!p) {
                rc = BERTH_ENOMEM;
                break;
            }
            items = p;
        }
        struct berth_meta_dangling *d = &items[n++];
        d->repo_id = sqlite3_column_int64(st, 0);
        snprintf(d->repo, sizeof(d->repo), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(d->parent, sizeof(d->parent), "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(d->child, sizeof(d->child), "%s", (const char *)sqlite3_column_text(st, 3));
        d->kind = sqlite3_column_int(st, 4);
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "dangling");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = cb(ctx, &items[i]);
    free(items);
    return rc;
}

/* Runs cb for every manifest, reading one row at a time so memory stays flat. The callback
 * must not write through this connection (fsck collects what to repair and acts afterwards). */
static int manifest_iterate(void *impl, berth_meta_manifest_cb cb, void *ctx)
{
    CONN(impl, c);
    sqlite3_stmt *st;
    int rc = msq_stmt(c, ST_MANIFEST_ALL, &st);
    if (rc < 0)
        return rc;
    int r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = cb(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                (const char *)sqlite3_column_text(st, 2), sqlite3_column_blob(st, 3),
                (size_t)sqlite3_column_bytes(st, 3));
    }
    msq_done(st);
    if (rc == 0 && r != SQLITE_DONE)
        rc = msq_db_error(c->db, "manifest iterate");
    return rc;
}

/* ---- lifecycle ---- */

static int foreign_key_violations(sqlite3 *db)
{
    sqlite3_stmt *st;
    int bad = 1;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) == SQLITE_OK) {
        bad = sqlite3_step(st) != SQLITE_DONE;
        sqlite3_finalize(st);
    }
    return bad;
}

/* Every pending migration in one transaction: one commit (and fsync) instead of one each,
 * which is most of a first start's time on an empty data directory, and a failure leaves the
 * schema at the version it had. */
static int migrate(sqlite3 *db)
{
    sqlite3_stmt *st;
    int current = 0, target = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            current = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    for (const struct berth_migration *m = berth_migrations; m->sql; m++)
        if (m->version > target)
            target = m->version;
    if (target <= current)
        return 0;
    char *msg = NULL;
    int failed = 0, fk_bad = 0;
    /* SQLite's procedure for rebuilding a table: foreign keys off outside the transaction (a
     * DROP would otherwise cascade), and checked before the commit. */
    if (sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
        failed = current + 1;
    for (const struct berth_migration *m = berth_migrations; !failed && m->sql; m++) {
        if (m->version <= current)
            continue;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;", m->version);
        if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK)
            failed = m->version;
    }
    if (!failed && ((fk_bad = foreign_key_violations(db)) != 0 ||
                    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK))
        failed = target;
    if (failed) {
        int rc = berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "migration %d failed: %s", failed,
                               fk_bad ? "foreign key violations"
                               : msg  ? msg
                                      : "?");
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    if (current == 0)
        berth_log(BERTH_LOG_INFO, NULL, "metadata schema created at version %d", target);
    else
        berth_log(BERTH_LOG_INFO, NULL, "metadata schema migrated from version %d to %d", current,
                  target);
    return 0;
}

static void store_close(void *impl)
{
    struct store *s = impl;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    struct conn *c = s->all;
    s->all = NULL;
    pthread_mutex_unlock(&s->mu);
    while (c) {
        struct conn *next = c->next;
        conn_close(c);
        c = next;
    }
    pthread_setspecific(s->key, NULL);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
    free(s->path);
    free(s);
}

static const struct berth_meta_ops sqlite_ops = {
    .version = BERTH_META_OPS_VERSION,
    .close = store_close,
    .repo_get = repo_get,
    .repo_ensure = repo_ensure,
    .repo_list = repo_list,
    .repo_create = msq_repo_create,
    .repo_describe = msq_repo_describe,
    .repo_describe_list = msq_repo_describe_list,
    .repo_update = msq_repo_update,
    .repo_delete = msq_repo_delete,
    .account_ensure = msq_account_ensure,
    .account_exists = msq_account_exists,
    .account_adopt = msq_account_adopt,
    .registry_policy_set = msq_registry_policy_set,
    .registry_policy_get = msq_registry_policy_get,
    .user_create = msq_user_create,
    .user_get = msq_user_get,
    .key_create = msq_key_create,
    .key_get = msq_key_get,
    .key_set_active = msq_key_set_active,
    .key_count = msq_key_count,
    .policy_put = msq_policy_put,
    .policy_attach = msq_policy_attach,
    .user_policies = msq_user_policies,
    .auth_epoch = msq_auth_epoch,
    .blob_link = blob_link,
    .blob_linked = blob_linked,
    .blob_unlink = blob_unlink,
    .blob_known = blob_known,
    .upload_create = upload_create,
    .upload_get = upload_get,
    .upload_update = upload_update,
    .upload_delete = upload_delete,
    .upload_count = upload_count,
    .manifest_put = manifest_put,
    .manifest_get = manifest_get,
    .manifest_delete = manifest_delete,
    .manifest_pulled = manifest_pulled,
    .referrers = referrers,
    .image_list = msq_image_list,
    .image_tags = msq_image_tags,
    .image_get = msq_image_get,
    .tag_get = tag_get,
    .tag_delete = tag_delete,
    .tag_list = tag_list,
    .blob_iterate = blob_iterate,
    .blob_forget = blob_forget,
    .dangling_iterate = dangling_iterate,
    .upload_iterate = upload_iterate,
    .manifest_iterate = manifest_iterate,
    /* lifecycle */
    .lifecycle_policy_set = msq_lifecycle_policy_set,
    .lifecycle_policy_get = msq_lifecycle_policy_get,
    .lifecycle_evaluated = msq_lifecycle_evaluated,
    .lifecycle_repos = msq_lifecycle_repos,
    .lifecycle_images = msq_lifecycle_images,
    .image_expire = msq_image_expire,
    .lc_preview_start = msq_lc_preview_start,
    .lc_preview_get = msq_lc_preview_get,
    .lc_preview_finish = msq_lc_preview_finish,
    .lc_preview_pending = msq_lc_preview_pending,
    /* garbage collection */
    .blob_link_time = msq_blob_link_time,
    .blob_link_touch = msq_blob_link_touch,
    .blob_mount = msq_blob_mount,
    .gc_prune = msq_gc_prune,
    .gc_state = msq_gc_state,
    .gc_links = msq_gc_links,
    .gc_link_delete = msq_gc_link_delete,
    .gc_blobs = msq_gc_blobs,
    .gc_blob_delete = msq_gc_blob_delete,
    .gc_orphan_delete = msq_gc_orphan_delete,
    .gc_uploads = msq_gc_uploads,
    .gc_upload_delete = msq_gc_upload_delete,
    .gc_upload_orphan_delete = msq_gc_upload_orphan_delete,
    /* storage accounting */
    .usage_add = msq_usage_add,
    .repo_stored_bytes = msq_repo_stored_bytes,
    .usage_repos = msq_usage_repos,
    .usage_registry = msq_usage_registry,
};

int berth_meta_sqlite_open(struct berth_meta **out, const char *path)
{
    struct berth_meta *m = calloc(1, sizeof(*m));
    struct store *s = calloc(1, sizeof(*s));
    sqlite3 *db = NULL;
    int rc;
    if (!m || !s || !(s->path = strdup(path))) {
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        goto fail;
    }
    if ((rc = conn_open_db(path, &db)) < 0)
        goto fail;
    rc = migrate(db);
    sqlite3_close(db);
    if (rc < 0)
        goto fail;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_key_create(&s->key, conn_destructor);
    m->ops = &sqlite_ops;
    m->impl = s;
    *out = m;
    return 0;
fail:
    if (s)
        free(s->path);
    free(s);
    free(m);
    return rc;
}
