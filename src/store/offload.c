/*
 * offload.c -- see offload.h.
 *
 * Each helper is a detached thread with its own mutex and condition
 * variables, started on first use and kept for the life of the process
 * (it sleeps on its condition variable when idle; a small stack). A caller
 * claims an idle helper with an atomic flag, so claiming never blocks.
 */
#include "store/offload.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HELPER_STACK (256 * 1024)

enum { H_IDLE, H_JOB, H_DONE };

struct offload_helper {
    atomic_int claimed;
    int state;
    int started; /* 1 running, -1 could not start */
    void (*fn)(void *);
    void *arg;
    int posted;    /* the helper releases itself when fn returns */
    void *scratch; /* the claimer's: see offload_scratch */
    size_t scratch_len;
    pthread_mutex_t mu;
    pthread_cond_t job_cv;
    pthread_cond_t done_cv;
};

static offload_helper helpers[OFFLOAD_HELPERS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Under h->mu: the job is over, and the helper free to be claimed. */
static void release(offload_helper *h)
{
    h->state = H_IDLE;
    h->fn = NULL;
    h->arg = NULL;
    h->posted = 0;
    atomic_store(&h->claimed, 0);
}

static void *helper_main(void *p)
{
    offload_helper *h = p;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->state != H_JOB)
            pthread_cond_wait(&h->job_cv, &h->mu);
        pthread_mutex_unlock(&h->mu);
        h->fn(h->arg);
        pthread_mutex_lock(&h->mu);
        if (h->posted) {
            release(h);
            continue;
        }
        h->state = H_DONE;
        pthread_cond_signal(&h->done_cv);
    }
    return NULL;
}

static void helpers_init(void)
{
    pthread_attr_t at;
    int attr_ok = pthread_attr_init(&at) == 0;
    if (attr_ok) {
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, HELPER_STACK);
    }
    for (int i = 0; i < OFFLOAD_HELPERS; i++) {
        offload_helper *h = &helpers[i];
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->job_cv, NULL);
        pthread_cond_init(&h->done_cv, NULL);
        h->state = H_IDLE;
        pthread_t t;
        h->started = (attr_ok && pthread_create(&t, &at, helper_main, h) == 0) ? 1 : -1;
    }
    if (attr_ok)
        pthread_attr_destroy(&at);
}

static offload_helper *offload_claim(void)
{
    pthread_once(&once, helpers_init);
    for (int i = 0; i < OFFLOAD_HELPERS; i++) {
        offload_helper *h = &helpers[i];
        if (h->started != 1 || atomic_load_explicit(&h->claimed, memory_order_relaxed))
            continue;
        if (atomic_exchange(&h->claimed, 1))
            continue;
        return h;
    }
    return NULL;
}

static void offload_unclaim(offload_helper *h)
{
    atomic_store(&h->claimed, 0);
}

static void run(offload_helper *h, void (*fn)(void *arg), void *arg, int posted)
{
    pthread_mutex_lock(&h->mu);
    h->fn = fn;
    h->arg = arg;
    h->posted = posted;
    h->state = H_JOB;
    pthread_cond_signal(&h->job_cv);
    pthread_mutex_unlock(&h->mu);
}

offload_helper *offload_start(void (*fn)(void *arg), void *arg)
{
    offload_helper *h = offload_claim();
    if (h != NULL)
        run(h, fn, arg, 0);
    return h;
}

static void offload_post(offload_helper *h, void (*fn)(void *arg), void *arg)
{
    run(h, fn, arg, 1);
}

/* A buffer of at least len bytes that goes with the claim of h: the
 * claimer's until offload_post, then the posted fn's. It is kept with the
 * helper for the life of the process, so the next claim reuses it; NULL
 * when it cannot be had. */
static void *offload_scratch(offload_helper *h, size_t len)
{
    if (h->scratch_len < len) {
        free(h->scratch);
        h->scratch = malloc(len);
        h->scratch_len = h->scratch ? len : 0;
    }
    return h->scratch;
}

void offload_wait(offload_helper *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->state != H_DONE)
        pthread_cond_wait(&h->done_cv, &h->mu);
    release(h);
    pthread_mutex_unlock(&h->mu);
}

/* ---- lanes ---- */

void offload_lane_init(offload_lane *l, size_t cap,
                       void (*consume)(void *cls, const unsigned char *p, size_t len), void *cls)
{
    *l = (offload_lane){.consume = consume, .cls = cls, .cap = cap};
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

void offload_lane_destroy(offload_lane *l)
{
    offload_lane_drain(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

static void lane_run(void *arg)
{
    offload_lane *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        if (l->head == l->tail) {
            if (!l->copying)
                break;
            pthread_cond_wait(&l->cv, &l->mu); /* the piece being copied */
            continue;
        }
        size_t at = l->tail % l->cap;
        size_t n = l->head - l->tail;
        if (n > l->cap - at)
            n = l->cap - at;
        pthread_mutex_unlock(&l->mu);
        l->consume(l->cls, l->ring + at, n);
        pthread_mutex_lock(&l->mu);
        l->tail += n;
        pthread_cond_broadcast(&l->cv); /* room for the feeder */
    }
    explicit_bzero(l->ring, l->head < l->cap ? l->head : l->cap);
    l->running = 0; /* empty: the ring goes back with the helper */
    l->ring = NULL;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void offload_lane_drain(offload_lane *l)
{
    pthread_mutex_lock(&l->mu);
    while (l->running)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

size_t offload_lane_feed(offload_lane *l, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t taken = 0;
    pthread_mutex_lock(&l->mu);
    while (taken < len) {
        size_t left = len - taken;
        if (!l->running) {
            pthread_mutex_unlock(&l->mu);
            offload_helper *h = left >= OFFLOAD_LANE_MIN ? offload_claim() : NULL;
            unsigned char *ring = h ? offload_scratch(h, l->cap) : NULL;
            if (ring == NULL) {
                if (h != NULL)
                    offload_unclaim(h);
                return taken; /* idle: the feeder consumes the rest */
            }
            size_t n = left < l->cap ? left : l->cap;
            memcpy(ring, p + taken, n);
            pthread_mutex_lock(&l->mu);
            l->ring = ring;
            l->head = n;
            l->tail = 0;
            l->running = 1;
            offload_post(h, lane_run, l);
            taken += n;
            continue;
        }
        size_t used = l->head - l->tail;
        if (used == l->cap) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        size_t at = l->head % l->cap;
        size_t n = l->cap - used;
        if (n > l->cap - at)
            n = l->cap - at;
        if (n > left)
            n = left;
        l->copying = 1; /* the helper cannot leave while this copies past head */
        unsigned char *dst = l->ring + at;
        pthread_mutex_unlock(&l->mu);
        memcpy(dst, p + taken, n);
        pthread_mutex_lock(&l->mu);
        l->head += n;
        l->copying = 0;
        pthread_cond_broadcast(&l->cv);
        taken += n;
    }
    pthread_mutex_unlock(&l->mu);
    return taken;
}
