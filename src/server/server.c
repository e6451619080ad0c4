#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "gc/gc.h"

static int mkdir_p(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return (mkdir(buf, 0755) < 0 && errno != EEXIST) ? -1 : 0;
}

int berth_server_open(struct berth_server *s, const struct berth_config *cfg)
{
    char path[1200];
    int rc;
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->lock_fd = -1;
    if (mkdir_p(cfg->data_dir) < 0)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot create data directory %s: %s",
                             cfg->data_dir, strerror(errno));
    /* Two servers on one data dir would each believe they own the uploads directory, and
     * fsck needs the data at rest. gc and lifecycle runs are built to work beside a server. */
    int exclusive = cfg->command == BERTH_CMD_SERVE || cfg->command == BERTH_CMD_FSCK;
    snprintf(path, sizeof(path), "%s/berth.lock", cfg->data_dir);
    if (exclusive && (s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot open %s: %s", path,
                             strerror(errno));
    if (exclusive && flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return berth_err_set(BERTH_EUNAVAILABLE, BERTH_WHAT_NONE,
                             "data directory %s is in use by another berth process", cfg->data_dir);
    snprintf(path, sizeof(path), "%s/meta.db", cfg->data_dir);
    if ((rc = berth_meta_sqlite_open(&s->meta, path)) < 0)
        return rc;
    if ((rc = berth_blob_fs_open(&s->blobs, cfg->data_dir)) < 0)
        return rc;
    struct berth_registry_options ro = {
        .auto_create_repos = cfg->auto_create_repos,
        .manifest_max = (size_t)cfg->max_manifest_size,
        .max_active_uploads = (int)cfg->max_concurrent_uploads,
        .clock_file = cfg->test_clock_file,
        .gc_grace = cfg->gc_grace,
    };
    berth_registry_init(&s->registry, s->meta, s->blobs, &ro);
    if (cfg->command != BERTH_CMD_SERVE) /* fsck, gc, lifecycle: no identity needed */
        return 0;
    /* A server killed between an upload's hard link and its row leaves a blob file without a
     * row, which only a walk of the files finds; so the store remembers that a server runs, and
     * the next one asks for that walk when its predecessor never said it stopped. */
    int unclean = 0;
    if ((rc = s->meta->ops->gc_state(s->meta->impl, BERTH_GC_SERVER_START, &unclean)) < 0)
        return rc;
    s->running_marked = 1;
    if (unclean)
        berth_log(BERTH_LOG_INFO, NULL,
                  "the previous server did not stop cleanly: the next gc pass walks the blob "
                  "files");
    struct berth_auth_options ao = {
        .account = cfg->account_id,
        .region = cfg->region,
        .data_dir = cfg->data_dir,
        .enabled = cfg->auth,
        .admin_key_id = cfg->admin_access_key_id,
        .admin_secret = cfg->admin_secret_access_key,
        .public_url = cfg->public_url[0] ? cfg->public_url : cfg->listen,
        .token_ttl = cfg->token_ttl,
    };
    if ((rc = berth_auth_init(&s->auth, s->meta, &ao, stdout)) < 0)
        return rc;
    s->auth_ready = 1;
    if (!cfg->auth)
        berth_log(BERTH_LOG_WARN, NULL,
                  "authentication is OFF: every caller acts as the admin of account %s",
                  cfg->account_id);
    s->oci.registry = &s->registry;
    s->oci.auth = &s->auth;
    s->oci.manifest_max = (size_t)cfg->max_manifest_size;
    snprintf(s->oci.realm, sizeof(s->oci.realm), "%s",
             cfg->public_url[0] ? cfg->public_url : "berth");
    s->ecr.registry = &s->registry;
    s->ecr.auth = &s->auth;
    s->ecr.public_url = s->cfg.public_url;
    s->ecr.lifecycle = &s->lifecycle;
    return 0;
}

int berth_server_open_admin(struct berth_server *s, const struct berth_config *cfg)
{
    char path[1200];
    int rc;
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->lock_fd = -1;
    if (mkdir_p(cfg->data_dir) < 0)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot create data directory %s: %s",
                             cfg->data_dir, strerror(errno));
    snprintf(path, sizeof(path), "%s/meta.db", cfg->data_dir);
    if ((rc = berth_meta_sqlite_open(&s->meta, path)) < 0)
        return rc;
    struct berth_auth_options ao = {
        .account = cfg->account_id,
        .region = cfg->region,
        .data_dir = cfg->data_dir,
        .enabled = 1,
    };
    if ((rc = berth_auth_init(&s->auth, s->meta, &ao, stdout)) < 0)
        return rc;
    s->auth_ready = 1;
    return 0;
}

/* ---- background garbage collection ---- */

static void *gc_main(void *arg)
{
    struct berth_server *s = arg;
    struct berth_gc_options o = {
        .grace = s->cfg.gc_grace,
        .upload_ttl = s->cfg.upload_ttl,
        .stop = &s->gc_stop,
    };
    struct timespec next;
    pthread_mutex_lock(&s->gc_mu);
    while (!atomic_load(&s->gc_stop)) {
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_sec += (time_t)s->cfg.gc_interval;
        int w = 0;
        while (!atomic_load(&s->gc_stop) && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&s->gc_cv, &s->gc_mu, &next);
        if (atomic_load(&s->gc_stop))
            break;
        pthread_mutex_unlock(&s->gc_mu);
        struct berth_gc_report rep;
        char line[256];
        int rc = berth_gc_run(&s->registry, &o, &rep);
        berth_gc_report_format(&rep, 0, line, sizeof(line));
        if (rc < 0)
            berth_log(BERTH_LOG_WARN, NULL, "gc: run failed (%s) after it %s", berth_err_detail(),
                      line);
        else
            berth_log(BERTH_LOG_INFO, NULL, "gc: %s", line);
        berth_err_clear();
        pthread_mutex_lock(&s->gc_mu);
    }
    pthread_mutex_unlock(&s->gc_mu);
    return NULL;
}

static int gc_start(struct berth_server *s)
{
    if (s->cfg.gc_interval <= 0)
        return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->gc_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->gc_mu, NULL);
    atomic_store(&s->gc_stop, 0);
    int e = pthread_create(&s->gc_thread, NULL, gc_main, s);
    if (e != 0) {
        pthread_cond_destroy(&s->gc_cv);
        pthread_mutex_destroy(&s->gc_mu);
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot start the gc thread: %s",
                             strerror(e));
    }
    s->gc_started = 1;
    return 0;
}

/* Asks a running pass to end and the wait to stop; the thread is joined in close. */
static void gc_signal_stop(struct berth_server *s)
{
    if (!s->gc_started)
        return;
    pthread_mutex_lock(&s->gc_mu);
    atomic_store(&s->gc_stop, 1);
    pthread_cond_broadcast(&s->gc_cv);
    pthread_mutex_unlock(&s->gc_mu);
}

static void gc_join(struct berth_server *s)
{
    if (!s->gc_started)
        return;
    gc_signal_stop(s);
    pthread_join(s->gc_thread, NULL);
    pthread_cond_destroy(&s->gc_cv);
    pthread_mutex_destroy(&s->gc_mu);
    s->gc_started = 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- storage accounting ---- */

static void usage_flush(struct berth_server *s)
{
    if (berth_registry_usage_flush(&s->registry) < 0)
        berth_log(BERTH_LOG_WARN, NULL,
                  "usage: cannot record pulls and bytes served (kept for the next try): %s",
                  berth_err_detail());
}

/* Writes the counts every BERTH_USAGE_FLUSH_INTERVAL seconds, off the request threads, until
 * told to stop (usage_thread_stop flushes the last ones). */
static void *usage_thread_main(void *arg)
{
    struct berth_server *s = arg;
    pthread_mutex_lock(&s->usage_mu);
    while (!s->usage_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += BERTH_USAGE_FLUSH_INTERVAL;
        int r = 0;
        while (!s->usage_stop && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&s->usage_cv, &s->usage_mu, &until);
        if (s->usage_stop)
            break;
        pthread_mutex_unlock(&s->usage_mu);
        usage_flush(s);
        pthread_mutex_lock(&s->usage_mu);
    }
    pthread_mutex_unlock(&s->usage_mu);
    return NULL;
}

static int usage_thread_start(struct berth_server *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->usage_mu, NULL);
    pthread_cond_init(&s->usage_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->usage_stop = 0;
    int e = pthread_create(&s->usage_thread, NULL, usage_thread_main, s);
    if (e != 0) {
        pthread_cond_destroy(&s->usage_cv);
        pthread_mutex_destroy(&s->usage_mu);
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot start the usage thread: %s",
                             strerror(e));
    }
    s->usage_running = 1;
    return 0;
}

/* Stops the thread and writes what was counted since its last flush: after the drain, so
 * every request's counts are in. */
static void usage_thread_stop(struct berth_server *s)
{
    if (!s->usage_running)
        return;
    pthread_mutex_lock(&s->usage_mu);
    s->usage_stop = 1;
    pthread_cond_signal(&s->usage_cv);
    pthread_mutex_unlock(&s->usage_mu);
    pthread_join(s->usage_thread, NULL);
    pthread_cond_destroy(&s->usage_cv);
    pthread_mutex_destroy(&s->usage_mu);
    s->usage_running = 0;
    usage_flush(s);
}

int berth_server_run(struct berth_server *s)
{
    s->tables[0] =
        (struct berth_route_table){berth_oci_routes, berth_oci_nroutes, &s->oci, berth_oci_gate};
    /* no gate: SigV4 covers the body, so the ECR handler authenticates once it has it */
    s->tables[1] = (struct berth_route_table){berth_ecr_routes, berth_ecr_nroutes, &s->ecr, NULL};
    struct berth_http_options ho = {
        .listen = s->cfg.listen,
        .tables = s->tables,
        .ntables = 2,
        .fallback = &berth_oci_fallback,
        .fallback_app = &s->oci,
        .threads = (unsigned)s->cfg.threads,
        .max_connections = (unsigned)s->cfg.max_connections,
        .timeout_s = (unsigned)s->cfg.request_timeout,
        .header_max = (size_t)s->cfg.max_header_size,
        .conn_mem = (size_t)s->cfg.connection_buffer,
        .always_header_name = "Docker-Distribution-API-Version",
        .always_header_value = "registry/2.0",
    };
    int rc = usage_thread_start(s);
    if (rc < 0)
        return rc;
    if ((rc = berth_http_start(&s->http, &ho)) < 0) {
        usage_thread_stop(s);
        return rc;
    }
    if ((rc = berth_lifecycle_worker_start(&s->lifecycle, &s->registry,
                                           s->cfg.lifecycle_interval)) < 0)
        return rc;
    if ((rc = gc_start(s)) < 0)
        return rc;
    char addr[300];
    snprintf(addr, sizeof(addr), "%s", s->cfg.listen);
    char *colon = strrchr(addr, ':');
    if (colon)
        snprintf(colon + 1, sizeof(addr) - (size_t)(colon + 1 - addr), "%u", s->http.port);
    berth_log(BERTH_LOG_INFO, NULL, "berth %s listening on %s (data dir %s)", BERTH_VERSION, addr,
              s->cfg.data_dir);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    berth_log(BERTH_LOG_INFO, NULL, "%s: draining %d in-flight requests (up to %llds)",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", atomic_load(&s->http.in_flight),
              s->cfg.drain_timeout);
    berth_http_quiesce(&s->http);
    gc_signal_stop(s);
    double deadline = now_s() + (double)s->cfg.drain_timeout;
    while (atomic_load(&s->http.in_flight) > 0 && now_s() < deadline) {
        struct timespec tick = {0, 20 * 1000 * 1000};
        if (sigtimedwait(&set, NULL, &tick) > 0) {
            berth_log(BERTH_LOG_WARN, NULL, "second signal: exiting without draining");
            _exit(1);
        }
    }
    int left = atomic_load(&s->http.in_flight);
    if (left > 0)
        berth_log(BERTH_LOG_WARN, NULL, "drain timeout: abandoning %d requests", left);
    berth_http_stop(&s->http);
    berth_lifecycle_worker_stop(&s->lifecycle);
    usage_thread_stop(s);
    berth_log(BERTH_LOG_INFO, NULL, "stopped");
    return 0;
}

void berth_server_close(struct berth_server *s)
{
    berth_http_stop(&s->http);
    berth_lifecycle_worker_stop(&s->lifecycle);
    usage_thread_stop(s);
    gc_join(s);
    if (s->running_marked) {
        /* Every request and pass has ended: what this server left for a walk is recorded. */
        const struct berth_meta_ops *m = s->meta->ops;
        if (atomic_load(&s->registry.walk_files))
            m->gc_state(s->meta->impl, BERTH_GC_WALK_REQUEST, NULL);
        if (m->gc_state(s->meta->impl, BERTH_GC_SERVER_STOP, NULL) < 0)
            berth_log(BERTH_LOG_WARN, NULL, "could not record the clean stop: %s",
                      berth_err_detail());
        s->running_marked = 0;
    }
    if (s->auth_ready)
        berth_auth_dispose(&s->auth);
    s->auth_ready = 0;
    if (s->meta) {
        if (s->blobs)
            berth_registry_dispose(&s->registry);
        berth_meta_close(s->meta);
    }
    berth_blob_close(s->blobs);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    s->meta = NULL;
    s->blobs = NULL;
    s->lock_fd = -1;
}
