/*
 * gc — online garbage collection: reclaims what deleted images, deleted repositories and
 * abandoned pushes leave behind, while pushes and pulls go on.
 *
 * Manifests are images (ECR semantics: untagged images stay until deleted), so garbage
 * collection never deletes one. It removes, in this order:
 *   1. repository links to blobs that no manifest of the repository references, linked (or
 *      last uploaded, mounted or found by a client) longer than the grace ago;
 *   2. blobs that no repository links any more, with their bytes;
 *   3. blob files without a metadata row (a crash between commit and row), older than grace;
 *      this one walks every blob file, so a pass does it only when a file without a row may
 *      exist: after an unclean server stop, after a failed upload commit, or when asked;
 *   4. upload sessions idle longer than the upload ttl (row and file), and upload files
 *      without a session, unless a request of this process is working on them.
 * Steps 1 and 2 look only at the candidates the writes recorded (new links and blobs, links
 * and blobs that lost their last use) and first drop those still in use, so a pass costs what
 * changed since the previous one, not what the registry holds.
 * Each removal is one metadata transaction that re-checks its condition under the write lock
 * and removes the bytes before it commits; together with the upload commit protocol in blob.h
 * that is what keeps a racing push whole. docs/gc.md has the protocol and every race.
 *
 * Runs from any thread but a request thread: the server's background thread and `berth gc`
 * (possibly a separate process beside the server; the metadata store's transactions are the
 * only synchronisation the protocol relies on).
 */
#ifndef BERTH_GC_GC_H
#define BERTH_GC_GC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

struct berth_gc_options {
    int64_t grace;      /* seconds an unreferenced link or a rowless blob file is spared */
    int64_t upload_ttl; /* seconds an upload session may stay idle */
    int dry_run;        /* count what would be removed, remove nothing */
    int walk_files;     /* walk every blob file (step 3) even when nothing asked for it */
    int64_t now;        /* epoch seconds the ages count from; 0: the current time */
    atomic_int *stop;   /* optional: set to non-zero to end a run early (shutdown) */
};

/* What a run removed (or, dry, would remove). */
struct berth_gc_report {
    uint64_t links_removed;
    uint64_t blobs_removed;
    uint64_t blob_bytes; /* bytes of the removed blobs */
    uint64_t orphans_removed;
    uint64_t orphan_bytes;
    uint64_t uploads_expired;
    uint64_t orphan_uploads_removed; /* upload files without a session */
    uint64_t candidates_pruned;      /* candidates found in use and dropped (not dry) */
    int walked_files;                /* step 3 ran */
    int stopped;                     /* ended early by *stop */
};

/* One full pass. The report is filled even when an error ends the run part-way (it counts
 * what was removed until then). */
int berth_gc_run(struct berth_registry *r, const struct berth_gc_options *o,
                 struct berth_gc_report *out);

/* The one-line summary `berth gc` prints and the server logs, e.g. "reclaimed 3 blobs (12345
 * bytes), removed 4 unreferenced links, expired 1 upload session, removed 0 orphaned files".
 * Orphaned files counts blob files without a row and upload files without a session. */
void berth_gc_report_format(const struct berth_gc_report *rep, int dry_run, char *buf, size_t n);

#endif
