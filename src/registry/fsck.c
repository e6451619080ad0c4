/*
 * fsck: the registry's own consistency check, meant to run with the server stopped.
 *
 *  1. every blob row has bytes on disk that hash to its digest and have its size;
 *  2. every stored manifest hashes to its digest;
 *  3. every manifest reference points at a blob linked to, or a manifest in, its repository;
 *  4. every upload session still has the bytes it acknowledged.
 * It also finds garbage: blob files without a row (a crash between link and commit) and
 * upload files without a session. Clients cannot see either; they only take space.
 * With repair, bad blobs are forgotten and removed, manifests that depend on missing content
 * are removed (repeatedly, so an index whose child went goes too), and orphans are deleted.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "registry/registry.h"

struct bad_manifest {
    int64_t repo_id;
    char digest[BERTH_DIGEST_BUF];
};

struct fsck_ctx {
    struct berth_registry *r;
    int repair;
    FILE *out;
    struct berth_fsck_report *rep;
    struct berth_strlist known; /* digests with rows, sorted (blob_iterate orders by digest) */
    struct bad_manifest *bad;   /* corrupt manifests, repaired after the scan */
    size_t nbad;
};

static int check_manifest(void *p, int64_t repo_id, const char *repo, const char *digest,
                          const char *body, size_t len)
{
    struct fsck_ctx *c = p;
    char got[BERTH_DIGEST_BUF];
    c->rep->manifests_checked++;
    berth_sha256_oneshot(body, len, got);
    if (strcmp(got, digest) == 0)
        return 0;
    c->rep->manifests_corrupt++;
    fprintf(c->out, "corrupt manifest in %s: %s is stored with bytes hashing to %s\n", repo, digest,
            got);
    struct bad_manifest *nb = realloc(c->bad, (c->nbad + 1) * sizeof(*nb));
    if (!nb)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    c->bad = nb;
    nb[c->nbad].repo_id = repo_id;
    snprintf(nb[c->nbad].digest, sizeof(nb[c->nbad].digest), "%s", digest);
    c->nbad++;
    return 0;
}

static int check_blob_row(void *p, const char *digest, int64_t size)
{
    struct fsck_ctx *c = p;
    uint64_t got_size;
    int ok = 0;
    c->rep->blobs_checked++;
    berth_strlist_push(&c->known, digest);
    int rc = berth_blob_verify(c->r->blobs, digest, &got_size, &ok);
    if (rc == BERTH_ENOTFOUND) {
        c->rep->blobs_missing++;
        fprintf(c->out, "missing blob %s: recorded in metadata but not in storage\n", digest);
    } else if (rc < 0) {
        return rc;
    } else if (!ok || (int64_t)got_size != size) {
        c->rep->blobs_corrupt++;
        fprintf(c->out, "corrupt blob %s: content does not match its digest or size\n", digest);
    } else {
        return 0;
    }
    if (c->repair) {
        c->r->blobs->ops->remove(c->r->blobs->impl, digest);
        if ((rc = c->r->meta->ops->blob_forget(c->r->meta->impl, digest)) < 0)
            return rc;
        c->rep->repaired++;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_blob_file(void *p, const char *digest, uint64_t size)
{
    struct fsck_ctx *c = p;
    const char *key = digest;
    if (bsearch(&key, c->known.items, c->known.n, sizeof(char *), cmp_str))
        return 0;
    c->rep->orphan_blobs++;
    fprintf(c->out, "orphaned blob %s: %llu bytes stored but never recorded\n", digest,
            (unsigned long long)size);
    if (c->repair) {
        c->r->blobs->ops->remove(c->r->blobs->impl, digest);
        c->rep->repaired++;
    }
    return 0;
}

static int check_dangling(void *p, const struct berth_meta_dangling *d)
{
    struct fsck_ctx *c = p;
    c->rep->refs_dangling++;
    fprintf(c->out, "dangling reference in %s: manifest %s needs %s %s\n", d->repo, d->parent,
            d->kind ? "manifest" : "blob", d->child);
    if (c->repair) {
        int rc = c->r->meta->ops->manifest_delete(c->r->meta->impl, d->repo_id, d->parent, 1);
        if (rc < 0 && rc != BERTH_ENOTFOUND)
            return rc;
        c->rep->repaired++;
    }
    return 0;
}

static int check_upload_row(void *p, const char *id)
{
    struct fsck_ctx *c = p;
    struct berth_meta_upload u;
    uint64_t size;
    int rc = c->r->meta->ops->upload_get(c->r->meta->impl, id, &u);
    if (rc < 0)
        return rc;
    if ((rc = c->r->blobs->ops->upload_size(c->r->blobs->impl, id, &size)) < 0)
        return rc;
    /* A file longer than the row's offset is a chunk never acknowledged: the next PATCH
     * truncates it, so it is not a problem. Shorter means acknowledged bytes were lost. */
    if (size >= (uint64_t)u.offset)
        return 0;
    c->rep->uploads_broken++;
    fprintf(c->out, "broken upload %s: %lld bytes acknowledged, %llu on disk\n", id,
            (long long)u.offset, (unsigned long long)size);
    if (c->repair) {
        c->r->meta->ops->upload_delete(c->r->meta->impl, id);
        c->r->blobs->ops->upload_remove(c->r->blobs->impl, id);
        c->rep->repaired++;
    }
    return 0;
}

static int check_upload_file(void *p, const char *id)
{
    struct fsck_ctx *c = p;
    struct berth_meta_upload u;
    int rc = c->r->meta->ops->upload_get(c->r->meta->impl, id, &u);
    if (rc == 0)
        return 0;
    if (rc != BERTH_ENOTFOUND)
        return rc;
    c->rep->orphan_uploads++;
    fprintf(c->out, "orphaned upload file %s: no upload session records it\n", id);
    if (c->repair) {
        c->r->blobs->ops->upload_remove(c->r->blobs->impl, id);
        c->rep->repaired++;
    }
    return 0;
}

int berth_registry_fsck(struct berth_registry *r, int repair, FILE *out,
                        struct berth_fsck_report *report)
{
    struct fsck_ctx c = {.r = r, .repair = repair, .out = out, .rep = report};
    memset(report, 0, sizeof(*report));
    int rc = r->meta->ops->blob_iterate(r->meta->impl, check_blob_row, &c);
    if (rc == 0)
        rc = r->blobs->ops->iterate(r->blobs->impl, check_blob_file, &c);
    if (rc == 0)
        rc = r->meta->ops->manifest_iterate(r->meta->impl, check_manifest, &c);
    for (size_t i = 0; rc == 0 && repair && i < c.nbad; i++) {
        rc = r->meta->ops->manifest_delete(r->meta->impl, c.bad[i].repo_id, c.bad[i].digest, 1);
        if (rc == BERTH_ENOTFOUND)
            rc = 0;
        report->repaired++;
    }
    /* Removing a manifest can leave its parent index dangling: repeat until nothing moves. */
    for (int round = 0; rc == 0 && round < 16; round++) {
        uint64_t before = report->refs_dangling;
        rc = r->meta->ops->dangling_iterate(r->meta->impl, check_dangling, &c);
        if (!repair || report->refs_dangling == before)
            break;
    }
    if (rc == 0)
        rc = r->meta->ops->upload_iterate(r->meta->impl, check_upload_row, &c);
    if (rc == 0)
        rc = r->blobs->ops->upload_iterate(r->blobs->impl, check_upload_file, &c);
    berth_strlist_dispose(&c.known);
    free(c.bad);
    return rc;
}
