/*
 * server — the long-lived state of one `berth serve` (or `berth fsck`) process: the validated
 * config, the stores, the registry core and the HTTP daemon. This is the one place with
 * process-wide mutable state; everything below receives what it needs as arguments.
 */
#ifndef BERTH_SERVER_SERVER_H
#define BERTH_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "auth/auth.h"
#include "blob/blob.h"
#include "ecr/ecr.h"
#include "http/http.h"
#include "lifecycle/lifecycle.h"
#include "meta/meta.h"
#include "oci/oci.h"
#include "registry/registry.h"
#include "server/config.h"

struct berth_server {
    struct berth_config cfg;
    int lock_fd;
    struct berth_meta *meta;
    struct berth_blob_store *blobs;
    struct berth_registry registry;
    struct berth_lifecycle_worker lifecycle; /* serve: previews and periodic expiry */
    struct berth_auth auth;
    int auth_ready;
    struct berth_oci_ctx oci;
    struct berth_ecr_ctx ecr;
    struct berth_route_table tables[2];
    struct berth_http http;
    /* storage accounting: the thread that writes the registry's usage counts every
     * BERTH_USAGE_FLUSH_INTERVAL seconds (berth_server_run starts and stops it) */
    pthread_t usage_thread;
    pthread_mutex_t usage_mu; /* guards usage_stop */
    pthread_cond_t usage_cv;
    int usage_stop;
    int usage_running;
    /* background garbage collection (every gc-interval seconds; 0: none) */
    pthread_t gc_thread;
    int gc_started;
    int running_marked;    /* the store records this server as running (gc_state SERVER_START) */
    pthread_mutex_t gc_mu; /* with gc_cv: the wait between runs, cut short at shutdown */
    pthread_cond_t gc_cv;
    atomic_int gc_stop;
};

/* Opens the stores; for serve and fsck first locks the data directory (one such process at a
 * time). gc and lifecycle runs share the directory with a running server. */
int berth_server_open(struct berth_server *s, const struct berth_config *cfg);
/* For `berth admin`: the metadata store and the master key, without the data directory lock
 * (SQLite serialises the writes; the running server sees them at once). */
int berth_server_open_admin(struct berth_server *s, const struct berth_config *cfg);
/* Serves until SIGTERM/SIGINT, then drains. The caller must have blocked those signals in
 * every thread (see main.c). Returns 0 after a clean drain. */
int berth_server_run(struct berth_server *s);
void berth_server_close(struct berth_server *s);

#endif
