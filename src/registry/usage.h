/*
 * usage — the pure parts of storage accounting: the in-memory table that counts pulls and
 * bytes served per (repository, day) between two writes to the metadata store, and the storage
 * cost estimate. No locking and no I/O here: the registry owns one table behind its own mutex
 * (berth_registry_usage_note) and the server flushes it (berth_registry_usage_flush).
 */
#ifndef BERTH_REGISTRY_USAGE_H
#define BERTH_REGISTRY_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

/* Open addressing with linear probing: a note costs a hash and a probe or two, and the table
 * never holds more than `max` entries, so memory is bounded whatever the request rate. */
struct berth_usage_table {
    struct berth_meta_usage_delta *slots; /* repo_id 0 marks a free slot (ids start at 1) */
    size_t cap;                           /* slots: a power of two, 0 before the first add */
    size_t n;                             /* slots in use */
    size_t max;                           /* most entries held; 0 means BERTH_USAGE_PENDING_MAX */
    uint64_t dropped;                     /* notes refused because the table was full */
};

/* Adds d's counts to the entry of (d->repo_id, d->day), creating it if needed. A full table
 * refuses a new entry with BERTH_ETOOBIG and counts it in t->dropped; BERTH_ENOMEM; 0. */
int berth_usage_table_add(struct berth_usage_table *t, const struct berth_meta_usage_delta *d);
/* Moves every entry out: *out (the caller frees it; NULL when there are none) holds *n of
 * them, in no particular order. The table is empty afterwards; t->dropped is kept. */
void berth_usage_table_take(struct berth_usage_table *t, struct berth_meta_usage_delta **out,
                            size_t *n);
void berth_usage_table_dispose(struct berth_usage_table *t);

/* AWS prices storage per GB-month and bills a GB as 2^30 bytes (the S3 FAQ's billing example
 * converts 107,374,182,400 bytes to 100 GB); the estimate does the same. */
#define BERTH_USAGE_GB_BYTES 1073741824.0

/* The monthly storage cost, in dollars, of bytes at price dollars per GB-month. */
double berth_usage_cost(int64_t bytes, double price);

/* The days (since the epoch, UTC) of the `days` days that end with the day of now (epoch
 * seconds), both ends included: today and the days - 1 before it. */
void berth_usage_window(int64_t now, int days, int64_t *from_day, int64_t *to_day);

/* What `berth admin usage` shows: one account's repositories over a window of days, their
 * totals, and the registry as a whole (every account). */
struct berth_usage_report {
    int64_t from_day, to_day; /* the window, both included */
    struct berth_meta_repo_usage_list repos;
    struct berth_meta_repo_usage total; /* the sums of repos (name "TOTAL") */
    struct berth_meta_registry_usage registry;
    int64_t physical_bytes; /* on disk: every blob once, every manifest */
    int64_t stored_bytes;   /* what every repository of every account is billed for */
    /* stored_bytes - physical_bytes: what sharing blobs between repositories saves. Negative
     * while blobs no repository links (deleted repositories, before garbage collection) are
     * still on disk. */
    int64_t dedup_saving;
};
/* Fills total and the registry-wide figures from repos and registry. */
void berth_usage_report_sum(struct berth_usage_report *rep);
void berth_usage_report_dispose(struct berth_usage_report *rep);

/* The day (since the epoch, UTC) of an instant in epoch seconds; days before 1970 are
 * negative (floor, not truncation). */
int64_t berth_usage_day(int64_t now);

#endif
