/*
 * janitor.c -- see janitor.h. Wakes every ttl/4 (at least 1 s, at most
 * 60 s); stops promptly on janitor_stop through a condition variable.
 */
#define CF_LOG_MOD "janitor"
#include "registry/janitor.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "base/log.h"
#include "store/meta.h"
#include "store/uploads.h"

static pthread_t thread;
static int running;
static int stopping;
static unsigned ttl;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

typedef struct pass {
    time_t idle_before;
    unsigned removed;
} pass;

static int expire_one(void *cls, const char *uuid, const char *reg)
{
    pass *p = cls;
    if (upload_expire(uuid, reg, p->idle_before)) {
        meta_upload_delete(uuid, NULL);
        p->removed++;
        cf_log(CF_LOG_INFO, "abandoned upload removed", "upload", uuid, NULL);
    }
    return 0;
}

unsigned janitor_run_once(unsigned upload_ttl_s)
{
    pass p = {.idle_before = time(NULL) - (time_t)upload_ttl_s};
    cf_err e = {0};
    if (meta_upload_each_older((int64_t)p.idle_before, expire_one, &p, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "janitor pass failed", "error", e.msg, NULL);
    return p.removed;
}

static void *loop(void *arg)
{
    (void)arg;
    unsigned period = ttl / 4;
    if (period < 1)
        period = 1;
    if (period > 60)
        period = 60;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period;
        pthread_cond_timedwait(&cv, &mu, &ts);
        if (stopping)
            break;
        pthread_mutex_unlock(&mu);
        janitor_run_once(ttl);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

cf_code janitor_start(unsigned upload_ttl_s, cf_err *e)
{
    ttl = upload_ttl_s;
    stopping = 0;
    if (pthread_create(&thread, NULL, loop, NULL) != 0)
        return cf_err_set(e, CF_EIO, "cannot start the janitor thread");
    running = 1;
    return CF_OK;
}

void janitor_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = 0;
}
