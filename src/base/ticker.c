/*
 * ticker.c -- see ticker.h. The wait is on CLOCK_MONOTONIC, so a change
 * of the wall clock neither stalls nor hurries the work.
 */
#include "base/ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct cf_ticker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    unsigned period_ms;
    int now;
    void (*fn)(void *arg);
    void *arg;
};

static void deadline(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *run(void *arg)
{
    cf_ticker *t = arg;
    int call = t->now;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        if (call) {
            pthread_mutex_unlock(&t->mu);
            t->fn(t->arg);
            pthread_mutex_lock(&t->mu);
        }
        call = 1;
        struct timespec until;
        deadline(&until, t->period_ms);
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

cf_code cf_ticker_start(cf_ticker **out, const char *what, unsigned period_ms, int now,
                        void (*fn)(void *arg), void *arg, cf_err *e)
{
    *out = NULL;
    cf_ticker *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    t->period_ms = period_ms ? period_ms : 1;
    t->now = now;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return cf_err_set(e, CF_EIO, "cannot start the %s thread", what);
    }
    *out = t;
    return CF_OK;
}

void cf_ticker_stop(cf_ticker *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
