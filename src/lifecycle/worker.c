/* The lifecycle worker: one thread that completes previews as soon as they are asked for and
 * applies every policy each `lifecycle-interval` seconds. Never on a request thread. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "lifecycle/lifecycle.h"

static void run_all(struct berth_lifecycle_worker *w)
{
    struct berth_lc_run_report rep;
    if (berth_lifecycle_run(w->registry, NULL, NULL, 0, NULL, NULL, &rep) < 0) {
        berth_log(BERTH_LOG_ERROR, NULL, "lifecycle run failed: %s", berth_err_detail());
        return;
    }
    berth_log(BERTH_LOG_INFO, NULL,
              "lifecycle run: %llu policies, %llu images expired (%llu manifests), %llu kept "
              "because they changed",
              (unsigned long long)rep.repositories, (unsigned long long)rep.images_expired,
              (unsigned long long)rep.manifests_deleted, (unsigned long long)rep.skipped);
}

static void *loop(void *arg)
{
    struct berth_lifecycle_worker *w = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    next.tv_sec += w->interval;
    pthread_mutex_lock(&w->mu);
    /* previews left in progress by a previous process are finished first */
    w->woken = 1;
    while (!w->stop) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int due = w->interval > 0 && (now.tv_sec > next.tv_sec ||
                                      (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec));
        if (w->woken || due) {
            w->woken = 0;
            pthread_mutex_unlock(&w->mu);
            if (berth_lifecycle_previews_run(w->registry) < 0)
                berth_log(BERTH_LOG_ERROR, NULL, "lifecycle previews failed: %s",
                          berth_err_detail());
            if (due) {
                run_all(w);
                clock_gettime(CLOCK_MONOTONIC, &next);
                next.tv_sec += w->interval;
            }
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->interval > 0)
            pthread_cond_timedwait(&w->cond, &w->mu, &next);
        else
            pthread_cond_wait(&w->cond, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int berth_lifecycle_worker_start(struct berth_lifecycle_worker *w, struct berth_registry *r,
                                 long long interval)
{
    pthread_condattr_t attr;
    w->registry = r;
    w->interval = interval;
    w->stop = w->woken = 0;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    int e = pthread_create(&w->thread, NULL, loop, w);
    if (e != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot start the lifecycle worker: %s",
                             strerror(e));
    }
    w->started = 1;
    return 0;
}

void berth_lifecycle_worker_wake(struct berth_lifecycle_worker *w)
{
    if (!w || !w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->woken = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void berth_lifecycle_worker_stop(struct berth_lifecycle_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    w->started = 0;
}
