/*
 * One garbage collection pass (see gc.h for what it removes and docs/gc.md for why that is
 * safe while clients push). Every list is a candidate list only: the metadata store re-checks
 * each candidate in the write transaction that deletes it, and the bytes are removed inside
 * that transaction, so nothing here needs a lock of its own.
 */
#include "gc/gc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

struct run {
    struct berth_registry *r;
    const struct berth_gc_options *o;
    struct berth_gc_report *rep;
    int64_t cutoff;        /* links, blobs and blob files older than this are garbage */
    int64_t upload_cutoff; /* uploads idle since before this are abandoned */
};

#define META(g) ((g)->r->meta->ops)
#define MI(g) ((g)->r->meta->impl)
#define BLOBS(g) ((g)->r->blobs->ops)
#define BI(g) ((g)->r->blobs->impl)

static int stopping(struct run *g)
{
    if (g->o->stop && atomic_load(g->o->stop)) {
        g->rep->stopped = 1;
        return 1;
    }
    return 0;
}

/* ---- 1. links no manifest references ---- */

static int on_link(void *p, int64_t repo_id, const char *digest)
{
    struct run *g = p;
    int deleted = 1;
    if (stopping(g))
        return 0;
    if (!g->o->dry_run) {
        int rc = META(g)->gc_link_delete(MI(g), repo_id, digest, g->cutoff, &deleted);
        if (rc < 0)
            return rc;
    }
    g->rep->links_removed += (uint64_t)deleted;
    return 0;
}

/* ---- 2. blobs nothing links ---- */

/* Inside the blob's delete transaction: the row is re-checked, so the bytes can go. */
static int remove_blob(void *p, const char *digest, int *out_removed)
{
    struct run *g = p;
    int rc = BLOBS(g)->remove(BI(g), digest);
    *out_removed = rc == 0;
    return rc;
}

static int on_blob(void *p, const char *digest, int64_t size)
{
    struct run *g = p;
    if (stopping(g))
        return 0;
    if (!g->o->dry_run) {
        int rc = META(g)->gc_blob_delete(MI(g), digest, g->cutoff, remove_blob, g, &size);
        if (rc < 0)
            return rc;
        if (size < 0) /* linked again since the list was made */
            return 0;
    }
    g->rep->blobs_removed++;
    g->rep->blob_bytes += (uint64_t)size;
    return 0;
}

/* ---- 3. blob files without a row ---- */

/* Old enough to be garbage? An upload commit creates the file before its row, and sets the
 * file's time when it does, so a file younger than the grace may be a commit in progress. */
static int blob_file_old(struct run *g, const char *digest)
{
    int64_t t;
    return BLOBS(g)->mtime(BI(g), digest, &t) == 0 && t < g->cutoff;
}

/* Inside the transaction that found no row: re-check the age under the lock, then remove. */
static int remove_orphan(void *p, const char *digest, int *out_removed)
{
    struct run *g = p;
    *out_removed = 0;
    if (!blob_file_old(g, digest))
        return 0;
    int rc = BLOBS(g)->remove(BI(g), digest);
    *out_removed = rc == 0;
    return rc;
}

static int on_blob_file(void *p, const char *digest, uint64_t size)
{
    struct run *g = p;
    if (stopping(g) || !blob_file_old(g, digest))
        return 0;
    /* A read first, so that the common case (a file with a row) takes no write lock. */
    int rc = META(g)->blob_known(MI(g), digest, NULL);
    if (rc != BERTH_ENOTFOUND)
        return rc < 0 ? rc : 0;
    berth_err_clear();
    int removed = 1;
    if (!g->o->dry_run &&
        (rc = META(g)->gc_orphan_delete(MI(g), digest, remove_orphan, g, &removed)) < 0)
        return rc;
    if (removed) {
        g->rep->orphans_removed++;
        g->rep->orphan_bytes += size;
    }
    return 0;
}

/* ---- 4. abandoned uploads ---- */

/* Idle for the whole ttl: no request of this process on it, and no byte written since the
 * cutoff (a long PATCH writes its file but updates its row only when it ends). */
static int upload_idle(struct run *g, const char *id)
{
    if (berth_registry_upload_active(g->r, id))
        return 0;
    int64_t t;
    int rc = BLOBS(g)->upload_mtime(BI(g), id, &t);
    if (rc == BERTH_ENOTFOUND) {
        berth_err_clear();
        return 1;
    }
    return rc == 0 && t < g->upload_cutoff;
}

static int remove_upload(void *p, const char *id, int *out_removed)
{
    struct run *g = p;
    *out_removed = 0;
    if (!upload_idle(g, id))
        return 0;
    int rc = BLOBS(g)->upload_remove(BI(g), id);
    *out_removed = rc == 0;
    return rc;
}

static int on_upload(void *p, const char *id)
{
    struct run *g = p;
    if (stopping(g) || !upload_idle(g, id))
        return 0;
    int removed = 1;
    if (!g->o->dry_run) {
        int rc = META(g)->gc_upload_delete(MI(g), id, g->upload_cutoff, remove_upload, g, &removed);
        if (rc < 0)
            return rc;
    }
    g->rep->uploads_expired += (uint64_t)removed;
    return 0;
}

static int on_upload_file(void *p, const char *id)
{
    struct run *g = p;
    int64_t t;
    if (stopping(g))
        return 0;
    /* Names the server did not generate are not uploads: leave them alone. */
    if (BLOBS(g)->upload_mtime(BI(g), id, &t) < 0) {
        berth_err_clear();
        return 0;
    }
    if (!upload_idle(g, id))
        return 0;
    struct berth_meta_upload u;
    int rc = META(g)->upload_get(MI(g), id, &u);
    if (rc != BERTH_ENOTFOUND) /* a session: step 4 judged it */
        return rc < 0 && rc != BERTH_EIO ? rc : 0;
    berth_err_clear();
    int removed = 1;
    if (!g->o->dry_run &&
        (rc = META(g)->gc_upload_orphan_delete(MI(g), id, remove_upload, g, &removed)) < 0)
        return rc;
    g->rep->orphan_uploads_removed += (uint64_t)removed;
    return 0;
}

/* Step 3 reads every blob file, so it runs only when one without a row may exist: the store's
 * flag (set by a server that found its predecessor had not stopped cleanly, or by one that
 * stopped with its own flag set), this process's flag (an upload commit that failed after its
 * hard link), or the caller's option. A real pass takes the flags before it walks; a walk cut
 * short (error or stop) sets them again so the next pass walks. */
static int orphan_files(struct run *g)
{
    int dry = g->o->dry_run, asked = g->o->walk_files, stored = 0;
    if (dry ? atomic_load(&g->r->walk_files) : atomic_exchange(&g->r->walk_files, 0))
        asked = 1;
    int rc = META(g)->gc_state(MI(g), dry ? BERTH_GC_WALK_PEEK : BERTH_GC_WALK_TAKE, &stored);
    if (rc < 0 || !(asked || stored)) {
        if (rc < 0 && asked && !dry)
            atomic_store(&g->r->walk_files, 1);
        return rc;
    }
    g->rep->walked_files = 1;
    rc = BLOBS(g)->iterate(BI(g), on_blob_file, g);
    if (!dry && (rc < 0 || g->rep->stopped)) {
        atomic_store(&g->r->walk_files, 1);
        if (stored)
            META(g)->gc_state(MI(g), BERTH_GC_WALK_REQUEST, NULL);
    }
    return rc;
}

int berth_gc_run(struct berth_registry *r, const struct berth_gc_options *o,
                 struct berth_gc_report *out)
{
    memset(out, 0, sizeof(*out));
    int64_t now = o->now ? o->now : (int64_t)time(NULL);
    struct run g = {
        .r = r,
        .o = o,
        .rep = out,
        .cutoff = now - (o->grace > 0 ? o->grace : 0),
        .upload_cutoff = now - (o->upload_ttl > 0 ? o->upload_ttl : 0),
    };
    /* Links before blobs: removing a repository's last link is what makes a blob garbage.
     * A dry run lists the same blobs because gc_blobs treats collectable links as gone. */
    int rc = META(&g)->gc_links(MI(&g), g.cutoff, on_link, &g);
    if (rc == 0 && !stopping(&g))
        rc = META(&g)->gc_blobs(MI(&g), g.cutoff, on_blob, &g);
    /* Last, so that the blobs the link sweep made candidates and found still linked elsewhere
     * go too. A dry run writes nothing, candidates included. */
    if (rc == 0 && !stopping(&g) && !o->dry_run)
        rc = META(&g)->gc_prune(MI(&g), &out->candidates_pruned);
    if (rc == 0 && !stopping(&g))
        rc = orphan_files(&g);
    if (rc == 0 && !stopping(&g))
        rc = META(&g)->gc_uploads(MI(&g), g.upload_cutoff, on_upload, &g);
    if (rc == 0 && !stopping(&g))
        rc = BLOBS(&g)->upload_iterate(BI(&g), on_upload_file, &g);
    return rc;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void berth_gc_report_format(const struct berth_gc_report *rep, int dry_run, char *buf, size_t n)
{
    uint64_t files = rep->orphans_removed + rep->orphan_uploads_removed;
    snprintf(buf, n,
             "%s %llu %s (%llu bytes), %s %llu unreferenced %s, %s %llu upload %s, %s %llu "
             "orphaned %s%s",
             dry_run ? "would reclaim" : "reclaimed", (unsigned long long)rep->blobs_removed,
             plural(rep->blobs_removed, "blob", "blobs"), (unsigned long long)rep->blob_bytes,
             dry_run ? "remove" : "removed", (unsigned long long)rep->links_removed,
             plural(rep->links_removed, "link", "links"), dry_run ? "expire" : "expired",
             (unsigned long long)rep->uploads_expired,
             plural(rep->uploads_expired, "session", "sessions"), dry_run ? "remove" : "removed",
             (unsigned long long)files, plural(files, "file", "files"),
             rep->stopped ? " (stopped early)" : "");
}
