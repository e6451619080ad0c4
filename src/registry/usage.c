#include "registry/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/limits.h"

static size_t slot_of(const struct berth_usage_table *t, int64_t repo_id, int64_t day)
{
    /* Fibonacci hashing of both keys: repository ids are small consecutive integers and days
     * nearly constant, so the multiply spreads them over the high bits. */
    uint64_t h = (uint64_t)repo_id * 0x9E3779B97F4A7C15ull ^ (uint64_t)day * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)h & (t->cap - 1);
}

static struct berth_meta_usage_delta *probe(const struct berth_usage_table *t, int64_t repo_id,
                                            int64_t day)
{
    size_t i = slot_of(t, repo_id, day);
    while (t->slots[i].repo_id != 0 && (t->slots[i].repo_id != repo_id || t->slots[i].day != day))
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static int grow(struct berth_usage_table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    struct berth_meta_usage_delta *old = t->slots;
    size_t ocap = t->cap;
    struct berth_meta_usage_delta *slots = calloc(ncap, sizeof(*slots));
    if (!slots)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    t->slots = slots;
    t->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].repo_id != 0)
            *probe(t, old[i].repo_id, old[i].day) = old[i];
    free(old);
    return 0;
}

int berth_usage_table_add(struct berth_usage_table *t, const struct berth_meta_usage_delta *d)
{
    if (d->repo_id <= 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "no repository to count for");
    struct berth_meta_usage_delta *e = t->cap ? probe(t, d->repo_id, d->day) : NULL;
    if (!e || e->repo_id == 0) {
        size_t max = t->max ? t->max : BERTH_USAGE_PENDING_MAX;
        if (t->n >= max) {
            t->dropped++;
            return berth_err_set(BERTH_ETOOBIG, BERTH_WHAT_NONE,
                                 "more than %zu repository-days counted since the last flush", max);
        }
        /* at most half full, so probes stay short and always find a free slot */
        if ((t->n + 1) * 2 > t->cap) {
            int rc = grow(t);
            if (rc < 0)
                return rc;
        }
        e = probe(t, d->repo_id, d->day);
        e->repo_id = d->repo_id;
        e->day = d->day;
        t->n++;
    }
    e->pulls += d->pulls;
    e->bytes_served += d->bytes_served;
    return 0;
}

void berth_usage_table_take(struct berth_usage_table *t, struct berth_meta_usage_delta **out,
                            size_t *n)
{
    size_t j = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].repo_id != 0)
            t->slots[j++] = t->slots[i];
    if (j == 0) {
        free(t->slots);
        t->slots = NULL;
    }
    *out = t->slots;
    *n = j;
    t->slots = NULL;
    t->cap = 0;
    t->n = 0;
}

void berth_usage_table_dispose(struct berth_usage_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = 0;
    t->n = 0;
}

double berth_usage_cost(int64_t bytes, double price)
{
    return (double)bytes / BERTH_USAGE_GB_BYTES * price;
}

int64_t berth_usage_day(int64_t now)
{
    int64_t d = now / 86400;
    return (now % 86400 < 0) ? d - 1 : d;
}

void berth_usage_window(int64_t now, int days, int64_t *from_day, int64_t *to_day)
{
    *to_day = berth_usage_day(now);
    *from_day = *to_day - (days > 0 ? days - 1 : 0);
}

void berth_usage_report_sum(struct berth_usage_report *rep)
{
    struct berth_meta_repo_usage *t = &rep->total;
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "TOTAL");
    for (size_t i = 0; i < rep->repos.n; i++) {
        const struct berth_meta_repo_usage *u = &rep->repos.items[i];
        t->stored_bytes += u->stored_bytes;
        t->images += u->images;
        t->untagged += u->untagged;
        t->pulls += u->pulls;
        t->bytes_served += u->bytes_served;
    }
    const struct berth_meta_registry_usage *g = &rep->registry;
    rep->physical_bytes = g->blob_bytes + g->manifest_bytes;
    rep->stored_bytes = g->linked_blob_bytes + g->manifest_bytes;
    rep->dedup_saving = rep->stored_bytes - rep->physical_bytes;
}

void berth_usage_report_dispose(struct berth_usage_report *rep)
{
    berth_meta_repo_usage_list_dispose(&rep->repos);
}
