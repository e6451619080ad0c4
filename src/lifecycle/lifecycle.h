/*
 * lifecycle — ECR lifecycle policies applied to a registry: storing them (Put/Get/Delete),
 * previews, expiry runs (`berth lifecycle run` and the server's background worker) and the
 * event log entries they leave. The rule language itself is lifecycle/policy.h.
 *
 * What an expiry run judges and deletes (docs/lifecycle.md):
 *   - the images a policy judges are a repository's manifests except the children of its
 *     indexes and the referrers of its manifests: those live and die with their index or
 *     subject;
 *   - an expired image takes its referrers (signatures, SBOMs) with it, and the children of
 *     an expired index that are untagged and listed by no other manifest;
 *   - each deletion re-checks, in its own transaction, that the image still has the tags it
 *     was judged with, so a tag pushed during a run saves the image;
 *   - tag immutability does not protect an image from expiry (as in ECR).
 * Blobs the deleted manifests referenced are reclaimed later by garbage collection.
 */
#ifndef BERTH_LIFECYCLE_LIFECYCLE_H
#define BERTH_LIFECYCLE_LIFECYCLE_H

#include <pthread.h>
#include <stdint.h>

#include "meta/meta.h"
#include "registry/registry.h"

/* One image a policy expires. */
struct berth_lc_result {
    char digest[BERTH_DIGEST_BUF];
    struct berth_strlist tags;
    int64_t pushed_at;
    long long rule; /* appliedRulePriority */
};
struct berth_lc_results {
    struct berth_lc_result *items;
    size_t n;
};
void berth_lc_results_dispose(struct berth_lc_results *l);

/* ---- policies (ECR Put/Get/DeleteLifecyclePolicy) ---- */

/* Validates and stores the policy text: BERTH_EINVALID (what POLICY) with the reason. */
int berth_lifecycle_policy_put(struct berth_registry *r, const char *account, const char *repo,
                               const char *text);
/* BERTH_ENOTFOUND (what POLICY) when the repository has none. */
int berth_lifecycle_policy_get(struct berth_registry *r, const char *account, const char *repo,
                               char **out_text, int64_t *out_evaluated_at);
/* Removes the policy and returns what it was. */
int berth_lifecycle_policy_delete(struct berth_registry *r, const char *account, const char *repo,
                                  char **out_text, int64_t *out_evaluated_at);

/* ---- evaluation and previews ---- */

/* What policy_text would expire in the repository at `now`; changes nothing. */
int berth_lifecycle_evaluate(struct berth_registry *r, int64_t repo_id, const char *policy_text,
                             int64_t now, struct berth_lc_results *out);
/* Records a preview of text (NULL: the stored policy) as in progress; *out_text is the policy
 * previewed. BERTH_ECONFLICT while one runs; BERTH_ENOTFOUND (POLICY) without any policy. */
int berth_lifecycle_preview_start(struct berth_registry *r, const char *account, const char *repo,
                                  const char *text, char **out_text);
int berth_lifecycle_preview_get(struct berth_registry *r, const char *account, const char *repo,
                                struct berth_meta_lc_preview *out);
/* Completes every preview in progress (the worker calls it when woken). */
int berth_lifecycle_previews_run(struct berth_registry *r);

/* ---- expiry runs ---- */

struct berth_lc_run_report {
    uint64_t repositories;      /* policies evaluated */
    uint64_t images_expired;    /* images the policies expired */
    uint64_t manifests_deleted; /* with the referrers and index children that went with them */
    uint64_t skipped;           /* changed or gone between evaluation and deletion */
};

/* Called for each expired image; deleted lists the manifests removed (the image first), or
 * is NULL in a dry run. */
typedef void (*berth_lc_expired_cb)(void *ctx, const char *account, const char *repo,
                                    const struct berth_lc_result *res,
                                    const struct berth_strlist *deleted);

/* Applies the policies of one repository (repo set), of one account (account set), or of
 * every repository. */
int berth_lifecycle_run(struct berth_registry *r, const char *account, const char *repo,
                        int dry_run, berth_lc_expired_cb cb, void *ctx,
                        struct berth_lc_run_report *out);

/* ---- the background worker (owned by the server) ---- */

struct berth_lifecycle_worker {
    struct berth_registry *registry;
    long long interval; /* seconds between runs; 0: previews only */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int started, stop, woken;
};

int berth_lifecycle_worker_start(struct berth_lifecycle_worker *w, struct berth_registry *r,
                                 long long interval);
/* Asks the worker to look for previews now. */
void berth_lifecycle_worker_wake(struct berth_lifecycle_worker *w);
void berth_lifecycle_worker_stop(struct berth_lifecycle_worker *w);

#endif
