/*
 * offload.h -- run one piece of CPU work on a helper thread, in parallel
 * with the caller, when a helper is idle.
 *
 * A push must hash (SHA-256) and seal (AES-256-GCM) every byte; on one
 * thread that is bounded by the sum of both costs. Handing the hash of a
 * chunk to a helper while the request thread seals the same chunk bounds it
 * by the slower of the two instead. Helpers are few (OFFLOAD_HELPERS) and
 * never queue: when all are busy (many concurrent pushes, every core
 * already working) offload_start returns 0 and the caller does the work
 * itself, so offloading never adds waiting under load.
 *
 * The caller must call offload_wait before it touches anything fn uses and
 * before the data fn reads goes away.
 *
 * A lane (offload_lane) is work on a stream of bytes that must be done in
 * order: a push's hash (uploads.c) and its file writes (objects_file.c).
 * offload_lane_feed copies the bytes into a ring, the scratch buffer of a
 * helper it claims, and the helper consumes them while the caller goes
 * on; the caller waits only when the ring is full, and in
 * offload_lane_drain before anything that needs every byte consumed. The
 * helper leaves as soon as the ring is empty, so a lane holds none while
 * its caller waits for anything else (the next request, a slow client),
 * and wipes what the ring held then: no plaintext stays in a helper.
 */
#ifndef CF_STORE_OFFLOAD_H
#define CF_STORE_OFFLOAD_H

#include <pthread.h>
#include <stddef.h>

#define OFFLOAD_HELPERS 2
/* An idle lane leaves a piece smaller than this to its feeder: handing it
 * over costs more than the work. */
#define OFFLOAD_LANE_MIN ((size_t)32 * 1024)

typedef struct offload_helper offload_helper;

/* Starts fn(arg) on an idle helper and returns it, or NULL when none is
 * idle (or none could be started): then the caller runs fn itself. */
offload_helper *offload_start(void (*fn)(void *arg), void *arg);
/* Waits until the helper's fn returned; the helper is idle again. */
void offload_wait(offload_helper *h);

typedef struct offload_lane {
    /* set by offload_lane_init */
    void (*consume)(void *cls, const unsigned char *p, size_t len);
    void *cls;
    size_t cap; /* the ring's bytes */
    /* the lane's own */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running;         /* a helper consumes from ring */
    int copying;         /* the feeder is copying into ring past head */
    unsigned char *ring; /* the helper's scratch while running */
    size_t head, tail;   /* bytes put into ring / consumed, since it was taken */
} offload_lane;

/* consume(cls, p, len) is called with the bytes fed, in order, on a helper
 * or (see offload_lane_feed) by the feeder itself. */
void offload_lane_init(offload_lane *l, size_t cap,
                       void (*consume)(void *cls, const unsigned char *p, size_t len), void *cls);
/* Drains the lane and frees what init made. */
void offload_lane_destroy(offload_lane *l);
/* Queues bytes of p for consume on a helper and returns how many: len, or
 * fewer when the lane went idle and no helper could be had (or fewer than
 * OFFLOAD_LANE_MIN bytes were left): the feeder consumes the rest itself, in order,
 * since nothing is queued then. One thread feeds a lane. */
size_t offload_lane_feed(offload_lane *l, const void *p, size_t len);
/* Waits until everything fed is consumed. */
void offload_lane_drain(offload_lane *l);

#endif
