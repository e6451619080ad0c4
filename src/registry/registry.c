#include "registry/registry.h"

#include <jansson.h>

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/name.h"

struct berth_active_upload {
    char id[BERTH_UPLOAD_ID_BUF];
    struct berth_active_upload *next;
};

int berth_registry_init(struct berth_registry *r, struct berth_meta *meta,
                        struct berth_blob_store *blobs, const struct berth_registry_options *opt)
{
    memset(r, 0, sizeof(*r));
    r->meta = meta;
    r->blobs = blobs;
    r->opt = *opt;
    if (r->opt.manifest_max == 0)
        r->opt.manifest_max = BERTH_MANIFEST_MAX_DEFAULT;
    if (r->opt.max_active_uploads <= 0)
        r->opt.max_active_uploads = BERTH_UPLOADS_MAX_DEFAULT;
    if (opt->clock_file)
        snprintf(r->clock_file, sizeof(r->clock_file), "%s", opt->clock_file);
    r->opt.clock_file = NULL; /* the copy above is the one that lives */
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->usage_mu, NULL);
    return 0;
}

int64_t berth_registry_now(const struct berth_registry *r)
{
    if (r->clock_file[0]) {
        FILE *f = fopen(r->clock_file, "r");
        long long t = 0;
        int ok = f && fscanf(f, "%lld", &t) == 1;
        if (f)
            fclose(f);
        if (ok)
            return (int64_t)t;
    }
    return (int64_t)time(NULL);
}

void berth_registry_dispose(struct berth_registry *r)
{
    while (r->active) {
        struct berth_active_upload *a = r->active;
        r->active = a->next;
        free(a);
    }
    pthread_mutex_destroy(&r->mu);
    berth_usage_table_dispose(&r->usage);
    pthread_mutex_destroy(&r->usage_mu);
}

#define META(r) ((r)->meta->ops)
#define MI(r) ((r)->meta->impl)
#define BLOBS(r) ((r)->blobs->ops)
#define BI(r) ((r)->blobs->impl)

int berth_registry_repo(struct berth_registry *r, const char *account, const char *name,
                        int for_push, int64_t *out_id)
{
    int rc = berth_name_valid(name, strlen(name));
    if (rc < 0)
        return rc;
    rc = META(r)->repo_ensure(MI(r), account, name, for_push && r->opt.auto_create_repos, out_id);
    if (rc == BERTH_ENOTFOUND)
        berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO, "repository %s not known to registry",
                      name);
    return rc;
}

int berth_registry_repo_create(struct berth_registry *r, const struct berth_meta_repo *rec)
{
    int rc = berth_name_valid(rec->name, strlen(rec->name));
    if (rc < 0)
        return rc;
    return META(r)->repo_create(MI(r), rec, NULL);
}

int berth_registry_repo_describe(struct berth_registry *r, const char *account, const char *name,
                                 struct berth_meta_repo *out)
{
    int rc = berth_name_valid(name, strlen(name));
    if (rc < 0)
        return rc;
    return META(r)->repo_describe(MI(r), account, name, out);
}

int berth_registry_repo_describe_list(struct berth_registry *r, const char *account,
                                      const char *after, int limit,
                                      struct berth_meta_repo_list *out)
{
    return META(r)->repo_describe_list(MI(r), account, after, limit, out);
}

int berth_registry_repo_update(struct berth_registry *r, const struct berth_meta_repo *rec)
{
    return META(r)->repo_update(MI(r), rec);
}

int berth_registry_repo_delete(struct berth_registry *r, const char *account, const char *name,
                               int force, struct berth_meta_repo *out_deleted)
{
    int rc = berth_registry_repo_describe(r, account, name, out_deleted);
    if (rc < 0)
        return rc;
    /* The blobs stay on disk: another repository may link them, and reclaiming what nobody
     * links is garbage collection's job. */
    rc = META(r)->repo_delete(MI(r), out_deleted->id, force);
    if (rc < 0)
        berth_meta_repo_dispose(out_deleted);
    return rc;
}

int berth_registry_images(struct berth_registry *r, const char *account, const char *repo,
                          const char *after, int limit, int tagged,
                          struct berth_meta_image_list *out)
{
    int64_t id;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    return rc < 0 ? rc : META(r)->image_list(MI(r), id, after, limit, tagged, out);
}

int berth_registry_image_get(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, struct berth_meta_image_list *out)
{
    int64_t id;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    return rc < 0 ? rc : META(r)->image_get(MI(r), id, digest, out);
}

int berth_registry_image_tags(struct berth_registry *r, const char *account, const char *repo,
                              const char *digest, struct berth_strlist *out)
{
    int64_t id;
    int rc = berth_registry_repo(r, account, repo, 0, &id);
    return rc < 0 ? rc : META(r)->image_tags(MI(r), id, digest, out);
}

int berth_registry_tag_immutable(const char *mutability, const char *filters_json, const char *tag)
{
    if (!mutability || !strcmp(mutability, "MUTABLE"))
        return 0;
    if (!strcmp(mutability, "IMMUTABLE"))
        return 1;
    int excluded = 0;
    json_t *filters = filters_json ? json_loads(filters_json, 0, NULL) : NULL;
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f)
    {
        const char *pat = json_string_value(json_object_get(f, "filter"));
        if (pat && berth_wildcard_match(pat, tag))
            excluded = 1;
    }
    json_decref(filters);
    if (!strcmp(mutability, "IMMUTABLE_WITH_EXCLUSION"))
        return !excluded;
    return excluded; /* MUTABLE_WITH_EXCLUSION: the matching tags are the immutable ones */
}

/* May content be pushed to repo? Validates the name and, when the repository does not exist,
 * whether pushes may create it — without creating it: that happens only when content is
 * stored, so a refused push leaves no empty repository behind. */
static int repo_pushable(struct berth_registry *r, const char *account, const char *name,
                         int64_t *out_id)
{
    int rc = berth_name_valid(name, strlen(name));
    if (rc < 0)
        return rc;
    *out_id = 0;
    rc = META(r)->repo_get(MI(r), account, name, out_id);
    if (rc == BERTH_ENOTFOUND) {
        if (!r->opt.auto_create_repos)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_REPO,
                                 "repository %s not known to registry", name);
        return 0;
    }
    return rc;
}

static int digest_arg(const char *digest)
{
    return berth_digest_parse(digest, strlen(digest), NULL);
}

/* ---- blobs ---- */

/* Link times are written by the metadata store's clock (real time), so they are compared
 * with real time here, not with the registry's test clock. */
static int link_use(struct berth_registry *r, int64_t repo_id, const char *digest,
                    int64_t *out_size)
{
    int64_t linked_at = 0;
    int rc = META(r)->blob_link_time(MI(r), repo_id, digest, out_size, &linked_at);
    if (rc < 0)
        return rc;
    int64_t now = (int64_t)time(NULL);
    int64_t every = r->opt.gc_grace / 2 > 0 ? r->opt.gc_grace / 2 : 1;
    if (now - linked_at < every && linked_at <= now)
        return 0;
    rc = META(r)->blob_link_touch(MI(r), repo_id, digest, now);
    if (rc == BERTH_ENOTFOUND) /* swept between the two statements */
        return rc;
    if (rc < 0) {
        /* Answer anyway: a manifest PUT re-checks its links in its own transaction, so a
         * refresh that did not happen can fail that PUT cleanly but never break an image. */
        berth_log(BERTH_LOG_WARN, NULL, "could not refresh the link of %s: %s", digest,
                  berth_err_detail());
        berth_err_clear();
    }
    return 0;
}

static int blob_stat(struct berth_registry *r, const char *account, const char *repo,
                     const char *digest, uint64_t *out_size, int64_t *out_repo_id)
{
    int64_t id, size;
    int rc;
    if ((rc = berth_registry_repo(r, account, repo, 0, &id)) < 0 || (rc = digest_arg(digest)) < 0)
        return rc;
    if ((rc = link_use(r, id, digest, &size)) < 0)
        return rc;
    *out_size = (uint64_t)size;
    if (out_repo_id)
        *out_repo_id = id;
    return 0;
}

int berth_registry_blob_stat(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, uint64_t *out_size)
{
    return blob_stat(r, account, repo, digest, out_size, NULL);
}

int berth_registry_blob_open(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, int *out_fd, uint64_t *out_size,
                             int64_t *out_repo_id)
{
    uint64_t size;
    int rc = blob_stat(r, account, repo, digest, &size, out_repo_id);
    if (rc < 0)
        return rc;
    rc = BLOBS(r)->open_read(BI(r), digest, out_fd, out_size);
    if (rc == BERTH_ENOTFOUND) {
        /* Garbage collection may have taken link and bytes since the check (possible only if
         * this request stalled for half the grace): that is a blob that is gone, a 404. */
        int64_t id;
        if (berth_registry_repo(r, account, repo, 0, &id) == 0 &&
            META(r)->blob_linked(MI(r), id, digest, NULL) == BERTH_ENOTFOUND)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob %s unknown", digest);
        /* Metadata says yes, the disk says no: that is corruption, not a 404. */
        berth_log(BERTH_LOG_ERROR, NULL, "blob %s is linked but missing on disk (run fsck)",
                  digest);
        return berth_err_set(BERTH_EIO, BERTH_WHAT_BLOB, "blob %s is missing from storage", digest);
    }
    return rc;
}

int berth_registry_blob_delete(struct berth_registry *r, const char *account, const char *repo,
                               const char *digest)
{
    int64_t id;
    int rc;
    if ((rc = berth_registry_repo(r, account, repo, 0, &id)) < 0 || (rc = digest_arg(digest)) < 0)
        return rc;
    return META(r)->blob_unlink(MI(r), id, digest);
}

int berth_registry_blob_mount(struct berth_registry *r, const char *account, const char *repo,
                              const char *from, const char *digest)
{
    int64_t to_id, from_id, size;
    int rc;
    if ((rc = digest_arg(digest)) < 0)
        return rc;
    if (berth_name_valid(from, strlen(from)) < 0 ||
        META(r)->repo_get(MI(r), account, from, &from_id) < 0 ||
        META(r)->blob_linked(MI(r), from_id, digest, &size) < 0)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob not mountable");
    if ((rc = berth_registry_repo(r, account, repo, 1, &to_id)) < 0)
        return rc;
    /* The link is created in a transaction that requires the source link: a blob with a link
     * is never swept, so the mounted blob cannot vanish under the mount. */
    rc = META(r)->blob_mount(MI(r), to_id, from_id, digest);
    if (rc == BERTH_ENOTFOUND)
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob not mountable");
    return rc;
}

/* ---- uploads ---- */

static int upload_id_valid(const char *id)
{
    if (strlen(id) != BERTH_UPLOAD_ID_LEN)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static int unknown_upload(const char *id)
{
    return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %.40s unknown", id);
}

int berth_registry_upload_start(struct berth_registry *r, const char *account, const char *repo,
                                char out_id[BERTH_UPLOAD_ID_BUF])
{
    int64_t repo_id;
    int rc = repo_pushable(r, account, repo, &repo_id);
    if (rc < 0)
        return rc;
    unsigned char rnd[BERTH_UPLOAD_ID_LEN / 2];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "no randomness available");
    berth_hex_encode(out_id, rnd, sizeof(rnd));
    struct berth_meta_upload u = {0};
    struct berth_sha256 h;
    berth_sha256_init(&h);
    memcpy(u.id, out_id, BERTH_UPLOAD_ID_BUF);
    snprintf(u.repo, sizeof(u.repo), "%s", repo);
    snprintf(u.account, sizeof(u.account), "%s", account);
    u.offset = 0;
    u.started_at = (int64_t)time(NULL);
    berth_sha256_export(&h, u.state);
    /* Row first, then the file: a crash in between leaves a session at offset 0 whose file the
     * first write creates, never a file nobody knows about. */
    if ((rc = META(r)->upload_create(MI(r), &u)) < 0)
        return rc;
    struct berth_blob_writer *w;
    if ((rc = BLOBS(r)->upload_open(BI(r), out_id, 0, &w)) < 0) {
        META(r)->upload_delete(MI(r), out_id);
        return rc;
    }
    BLOBS(r)->upload_close(w);
    return 0;
}

/* Loads the session row and checks it belongs to repo. */
static int upload_load(struct berth_registry *r, const char *account, const char *repo,
                       const char *id, struct berth_meta_upload *out)
{
    int rc = berth_name_valid(repo, strlen(repo));
    if (rc < 0)
        return rc;
    if (!upload_id_valid(id))
        return unknown_upload(id);
    if ((rc = META(r)->upload_get(MI(r), id, out)) < 0)
        return rc;
    if (strcmp(out->repo, repo) != 0 || strcmp(out->account, account) != 0)
        return unknown_upload(id);
    return 0;
}

int berth_registry_upload_status(struct berth_registry *r, const char *account, const char *repo,
                                 const char *id, uint64_t *out_offset)
{
    struct berth_meta_upload mu;
    int rc = upload_load(r, account, repo, id, &mu);
    if (rc < 0)
        return rc;
    *out_offset = (uint64_t)mu.offset;
    return 0;
}

static int active_add(struct berth_registry *r, const char *id)
{
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    for (struct berth_active_upload *a = r->active; a; a = a->next) {
        if (strcmp(a->id, id) == 0) {
            rc = berth_err_set(BERTH_ECONFLICT, BERTH_WHAT_UPLOAD,
                               "another request is writing upload %s", id);
            goto out;
        }
    }
    if (r->nactive >= r->opt.max_active_uploads) {
        rc = berth_err_set(BERTH_EUNAVAILABLE, BERTH_WHAT_UPLOAD,
                           "too many concurrent uploads (limit %d)", r->opt.max_active_uploads);
        goto out;
    }
    struct berth_active_upload *a = calloc(1, sizeof(*a));
    if (!a) {
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        goto out;
    }
    memcpy(a->id, id, BERTH_UPLOAD_ID_BUF);
    a->next = r->active;
    r->active = a;
    r->nactive++;
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int berth_registry_upload_active(struct berth_registry *r, const char *id)
{
    int found = 0;
    pthread_mutex_lock(&r->mu);
    for (struct berth_active_upload *a = r->active; a && !found; a = a->next)
        found = strcmp(a->id, id) == 0;
    pthread_mutex_unlock(&r->mu);
    return found;
}

static void active_remove(struct berth_registry *r, struct berth_upload *u)
{
    if (!u->registered)
        return;
    pthread_mutex_lock(&r->mu);
    for (struct berth_active_upload **pp = &r->active; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, u->id) == 0) {
            struct berth_active_upload *a = *pp;
            *pp = a->next;
            free(a);
            r->nactive--;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    u->registered = 0;
}

int berth_registry_upload_begin(struct berth_registry *r, const char *account, const char *repo,
                                const char *id, const uint64_t *expect_start,
                                struct berth_upload *u, uint64_t *out_offset)
{
    struct berth_meta_upload mu;
    memset(u, 0, sizeof(*u));
    int rc = upload_load(r, account, repo, id, &mu);
    if (rc < 0)
        return rc;
    *out_offset = (uint64_t)mu.offset;
    if (expect_start && *expect_start != (uint64_t)mu.offset)
        return berth_err_set(BERTH_ERANGE, BERTH_WHAT_RANGE,
                             "chunk starts at %llu but the upload is at %lld",
                             (unsigned long long)*expect_start, (long long)mu.offset);
    if ((rc = active_add(r, id)) < 0)
        return rc;
    memcpy(u->id, id, BERTH_UPLOAD_ID_BUF);
    u->registered = 1;
    snprintf(u->repo, sizeof(u->repo), "%s", mu.repo);
    snprintf(u->account, sizeof(u->account), "%s", mu.account);
    u->offset = (uint64_t)mu.offset;
    if ((rc = berth_sha256_import(&u->hash, mu.state, sizeof(mu.state))) < 0 ||
        (rc = BLOBS(r)->upload_open(BI(r), id, u->offset, &u->w)) < 0) {
        if (rc == BERTH_ENOTFOUND) {
            /* Acknowledged bytes are gone (a power loss): the session cannot continue; drop it
             * so the client's retry starts a new one. */
            char why[256];
            snprintf(why, sizeof(why), "%s", berth_err_detail());
            berth_registry_upload_discard(r, u);
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "%s", why);
        }
        active_remove(r, u);
        return rc;
    }
    return 0;
}

int berth_registry_upload_write(struct berth_registry *r, struct berth_upload *u, const void *data,
                                size_t len)
{
    int rc = BLOBS(r)->upload_write(u->w, data, len);
    if (rc < 0)
        return rc;
    berth_sha256_update(&u->hash, data, len);
    u->offset += len;
    return 0;
}

static void writer_close(struct berth_registry *r, struct berth_upload *u)
{
    if (u->w) {
        BLOBS(r)->upload_close(u->w);
        u->w = NULL;
    }
}

/* No fsync here: a chunk's bytes are in the page cache before its offset is committed, so a
 * crash of the process loses nothing acknowledged, and the blob is fsynced as a whole before
 * it is renamed into place. Only a power loss can cut an unfinished upload short; the next
 * request then finds the session unusable and the client restarts it (fsck reports it too).
 * Syncing every PATCH cost a 256 MiB chunked push a fifth of its speed. */
int berth_registry_upload_end(struct berth_registry *r, struct berth_upload *u)
{
    struct berth_meta_upload mu = {0};
    memcpy(mu.id, u->id, BERTH_UPLOAD_ID_BUF);
    snprintf(mu.repo, sizeof(mu.repo), "%s", u->repo);
    snprintf(mu.account, sizeof(mu.account), "%s", u->account);
    mu.offset = (int64_t)u->offset;
    berth_sha256_export(&u->hash, mu.state);
    int rc = META(r)->upload_update(MI(r), &mu);
    writer_close(r, u);
    active_remove(r, u);
    return rc;
}

int berth_registry_upload_discard(struct berth_registry *r, struct berth_upload *u)
{
    writer_close(r, u);
    int rc = META(r)->upload_delete(MI(r), u->id);
    BLOBS(r)->upload_remove(BI(r), u->id);
    active_remove(r, u);
    return rc == BERTH_ENOTFOUND ? 0 : rc;
}

int berth_registry_upload_finish(struct berth_registry *r, struct berth_upload *u,
                                 const char *digest)
{
    char got[BERTH_DIGEST_BUF], want[BERTH_DIGEST_BUF];
    int rc = berth_digest_parse(digest, strlen(digest), want);
    if (rc < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", berth_err_detail());
        berth_registry_upload_discard(r, u);
        return berth_err_set(rc, BERTH_WHAT_DIGEST, "digest parameter: %s", why);
    }
    berth_sha256_peek(&u->hash, got);
    if (strcmp(got, want) != 0) {
        berth_registry_upload_discard(r, u);
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST,
                           "uploaded content has digest %s, not %s", got, want);
        berth_err_set_subject(want);
        return rc;
    }
    writer_close(r, u);
    /* Bytes durable and in place first; only then the row that makes them visible. The upload
     * file is kept until after the row is committed: a garbage collection may remove a blob
     * nobody links in between, and release puts it back (docs/gc.md). */
    if ((rc = BLOBS(r)->upload_commit(BI(r), u->id, want)) < 0)
        goto fail;
    /* The first stored blob is what creates the repository of an auto-created push. */
    int64_t repo_id;
    if ((rc = berth_registry_repo(r, u->account, u->repo, 1, &repo_id)) < 0)
        goto unrecorded;
    if ((rc = META(r)->blob_link(MI(r), repo_id, want, (int64_t)u->offset, u->id)) < 0) {
        /* A session that expired under this request links nothing; its bytes go too. */
        if (rc == BERTH_ENOTFOUND && berth_err_what() == BERTH_WHAT_UPLOAD)
            BLOBS(r)->upload_remove(BI(r), u->id);
        goto unrecorded;
    }
    if ((rc = BLOBS(r)->upload_release(BI(r), u->id, want)) < 0)
        berth_log(BERTH_LOG_ERROR, NULL, "blob %s is linked but could not be stored (run fsck)",
                  want);
    goto fail;
unrecorded:
    /* The blob file may now have no row (unless another push recorded the same content). */
    atomic_store(&r->walk_files, 1);
fail:
    active_remove(r, u);
    return rc;
}

void berth_registry_upload_abort(struct berth_registry *r, struct berth_upload *u)
{
    writer_close(r, u);
    active_remove(r, u);
}

int berth_registry_upload_cancel(struct berth_registry *r, const char *account, const char *repo,
                                 const char *id)
{
    struct berth_meta_upload mu;
    int rc = upload_load(r, account, repo, id, &mu);
    if (rc < 0)
        return rc;
    if ((rc = active_add(r, id)) < 0)
        return rc;
    struct berth_upload u = {.registered = 1};
    memcpy(u.id, id, BERTH_UPLOAD_ID_BUF);
    snprintf(u.repo, sizeof(u.repo), "%s", mu.repo);
    snprintf(u.account, sizeof(u.account), "%s", mu.account);
    return berth_registry_upload_discard(r, &u);
}

/* ---- manifests ---- */

int berth_registry_manifest_put(struct berth_registry *r, const char *account, const char *repo,
                                const char *ref, const char *content_type, const char *body,
                                size_t len, struct berth_put_result *out)
{
    struct berth_ref pref;
    struct berth_manifest m;
    int64_t repo_id;
    int rc;
    memset(out, 0, sizeof(*out));
    if (len > r->opt.manifest_max)
        return berth_err_set(BERTH_ETOOBIG, BERTH_WHAT_MANIFEST,
                             "manifest is larger than %zu bytes", r->opt.manifest_max);
    if ((rc = berth_name_valid(repo, strlen(repo))) < 0)
        return rc;
    if ((rc = berth_ref_parse(ref, &pref)) < 0)
        return rc;
    berth_sha256_oneshot(body, len, out->digest);
    if (pref.is_digest && strcmp(pref.digest, out->digest) != 0) {
        rc = berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST,
                           "manifest content has digest %s, not %s", out->digest, pref.digest);
        berth_err_set_subject(pref.digest);
        return rc;
    }
    if ((rc = berth_manifest_parse(body, len, content_type, &m)) < 0)
        return rc;
    if ((rc = repo_pushable(r, account, repo, &repo_id)) < 0)
        goto out;
    if (repo_id == 0) {
        /* A new repository holds nothing a reference could point at: refuse without creating
         * it. Only a manifest with no references (an empty index) creates the repository. */
        if (m.nrefs > 0) {
            rc = berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_MANIFEST_REF,
                               "%s %s is not in this repository",
                               m.refs[0].is_manifest ? "manifest" : "blob", m.refs[0].digest);
            berth_err_set_subject(m.refs[0].digest);
            goto out;
        }
        if ((rc = berth_registry_repo(r, account, repo, 1, &repo_id)) < 0)
            goto out;
    }
    struct berth_meta_manifest rec = {0};
    memcpy(rec.digest, out->digest, sizeof(rec.digest));
    rec.media_type = m.media_type;
    rec.artifact_type = m.artifact_type;
    rec.config_media_type = m.config_media_type;
    rec.subject = m.has_subject ? m.subject : NULL;
    rec.annotations = m.annotations;
    rec.size = (int64_t)len;
    rec.total_size = (int64_t)len;
    for (size_t i = 0; i < m.nrefs; i++)
        rec.total_size += m.refs[i].size;
    rec.pushed_at = berth_registry_now(r);
    rec.body = (char *)body;
    rec.body_len = len;
    int immutable = 0;
    if (!pref.is_digest) {
        struct berth_meta_repo settings;
        if (META(r)->repo_describe(MI(r), account, repo, &settings) == 0) {
            immutable = berth_registry_tag_immutable(settings.tag_mutability,
                                                     settings.tag_mutability_filters, pref.tag);
            berth_meta_repo_dispose(&settings);
        }
    }
    rc = META(r)->manifest_put(MI(r), repo_id, &rec, m.refs, m.nrefs,
                               pref.is_digest ? NULL : pref.tag, immutable);
    if (rc == 0 && m.has_subject) {
        out->has_subject = 1;
        memcpy(out->subject, m.subject, sizeof(out->subject));
    }
out:
    berth_manifest_dispose(&m);
    return rc;
}

static int resolve(struct berth_registry *r, const char *account, const char *repo, const char *ref,
                   int64_t *repo_id, struct berth_ref *pref)
{
    int rc;
    if ((rc = berth_registry_repo(r, account, repo, 0, repo_id)) < 0)
        return rc;
    if ((rc = berth_ref_parse(ref, pref)) < 0)
        return rc;
    if (!pref->is_digest && (rc = META(r)->tag_get(MI(r), *repo_id, pref->tag, pref->digest)) < 0)
        return rc;
    return 0;
}

int berth_registry_manifest_get(struct berth_registry *r, const char *account, const char *repo,
                                const char *ref, int with_body, struct berth_meta_manifest *out)
{
    struct berth_ref pref;
    int64_t repo_id;
    memset(out, 0, sizeof(*out));
    int rc = resolve(r, account, repo, ref, &repo_id, &pref);
    if (rc < 0)
        return rc;
    return META(r)->manifest_get(MI(r), repo_id, pref.digest, with_body, out);
}

static void usage_note_at(struct berth_registry *r, int64_t repo_id, int64_t now, int64_t pulls,
                          int64_t bytes)
{
    struct berth_meta_usage_delta d = {
        .repo_id = repo_id, .day = berth_usage_day(now), .pulls = pulls, .bytes_served = bytes};
    pthread_mutex_lock(&r->usage_mu);
    int rc = berth_usage_table_add(&r->usage, &d);
    pthread_mutex_unlock(&r->usage_mu);
    /* a full table is reported by the next flush; the request itself goes on */
    if (rc < 0)
        berth_err_clear();
}

void berth_registry_usage_note(struct berth_registry *r, int64_t repo_id, int64_t pulls,
                               int64_t bytes)
{
    usage_note_at(r, repo_id, berth_registry_now(r), pulls, bytes);
}

int berth_registry_manifest_pull(struct berth_registry *r, const char *account, const char *repo,
                                 const char *ref, int with_body, struct berth_meta_manifest *out)
{
    struct berth_ref pref;
    int64_t repo_id;
    memset(out, 0, sizeof(*out));
    int rc = resolve(r, account, repo, ref, &repo_id, &pref);
    if (rc < 0 || (rc = META(r)->manifest_get(MI(r), repo_id, pref.digest, with_body, out)) < 0)
        return rc;
    int64_t now = berth_registry_now(r);
    usage_note_at(r, repo_id, now, 1, with_body ? (int64_t)out->body_len : 0);
    if (out->last_pulled_at <= now - BERTH_PULL_RECORD_INTERVAL || out->last_pulled_at > now) {
        /* best effort: a pull never fails because its time could not be recorded */
        if (META(r)->manifest_pulled(MI(r), repo_id, out->digest, now) == 0)
            out->last_pulled_at = now;
        berth_err_clear();
    }
    return 0;
}

int berth_registry_manifest_delete(struct berth_registry *r, const char *account, const char *repo,
                                   const char *ref)
{
    struct berth_ref pref;
    int64_t repo_id;
    int rc;
    if ((rc = berth_registry_repo(r, account, repo, 0, &repo_id)) < 0)
        return rc;
    if ((rc = berth_ref_parse(ref, &pref)) < 0)
        return rc;
    if (pref.is_digest)
        return META(r)->manifest_delete(MI(r), repo_id, pref.digest, 0);
    return META(r)->tag_delete(MI(r), repo_id, pref.tag);
}

int berth_registry_tags(struct berth_registry *r, const char *account, const char *repo,
                        const char *last, int n, struct berth_strlist *out)
{
    int64_t repo_id;
    int rc = berth_registry_repo(r, account, repo, 0, &repo_id);
    if (rc < 0)
        return rc;
    return META(r)->tag_list(MI(r), repo_id, last, n, out);
}

int berth_registry_catalog(struct berth_registry *r, const char *account, const char *last, int n,
                           struct berth_strlist *out)
{
    return META(r)->repo_list(MI(r), account, last, n, out);
}

int berth_registry_referrers(struct berth_registry *r, const char *account, const char *repo,
                             const char *digest, const char *artifact_type,
                             struct berth_meta_manifest_list *out)
{
    int64_t repo_id;
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = berth_name_valid(repo, strlen(repo))) < 0 || (rc = digest_arg(digest)) < 0)
        return rc;
    /* IMPLEMENTATION-OF distribution-spec "Listing Referrers": a registry that supports the API
     * must not answer 404, so an unknown repository has no referrers rather than no name. */
    if (META(r)->repo_get(MI(r), account, repo, &repo_id) < 0)
        return 0;
    return META(r)->referrers(MI(r), repo_id, digest, artifact_type, out);
}

/* ---- storage accounting ---- */

int berth_registry_usage_flush(struct berth_registry *r)
{
    struct berth_meta_usage_delta *d = NULL;
    size_t n = 0;
    pthread_mutex_lock(&r->usage_mu);
    berth_usage_table_take(&r->usage, &d, &n);
    uint64_t dropped = r->usage.dropped;
    r->usage.dropped = 0;
    pthread_mutex_unlock(&r->usage_mu);
    if (dropped)
        berth_log(BERTH_LOG_WARN, NULL,
                  "usage: %llu pull or download counts dropped (more than %d repository-days "
                  "counted within one flush interval)",
                  (unsigned long long)dropped, BERTH_USAGE_PENDING_MAX);
    if (n == 0)
        return 0;
    /* The write happens outside the mutex, so requests keep counting into a fresh table. */
    int rc = META(r)->usage_add(MI(r), d, n);
    if (rc < 0) {
        /* Put the counts back for the next flush; what no longer fits is counted as dropped. */
        char why[256];
        snprintf(why, sizeof(why), "%s", berth_err_detail());
        pthread_mutex_lock(&r->usage_mu);
        for (size_t i = 0; i < n; i++)
            berth_usage_table_add(&r->usage, &d[i]);
        pthread_mutex_unlock(&r->usage_mu);
        rc = berth_err_set(rc, BERTH_WHAT_NONE, "%s", why);
    }
    free(d);
    return rc;
}

int berth_registry_repo_stored_bytes(struct berth_registry *r, int64_t repo_id, int64_t *out)
{
    return META(r)->repo_stored_bytes(MI(r), repo_id, out);
}

int berth_registry_usage_report(struct berth_registry *r, const char *account,
                                struct berth_usage_report *out)
{
    memset(out, 0, sizeof(*out));
    berth_usage_window(berth_registry_now(r), BERTH_USAGE_WINDOW_DAYS, &out->from_day,
                       &out->to_day);
    int rc = META(r)->usage_repos(MI(r), account, out->from_day, out->to_day, &out->repos);
    if (rc == 0)
        rc = META(r)->usage_registry(MI(r), &out->registry);
    if (rc < 0) {
        berth_usage_report_dispose(out);
        return rc;
    }
    berth_usage_report_sum(out);
    return 0;
}
