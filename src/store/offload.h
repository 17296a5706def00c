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
 */
#ifndef CF_STORE_OFFLOAD_H
#define CF_STORE_OFFLOAD_H

#define OFFLOAD_HELPERS 2

typedef struct offload_helper offload_helper;

/* Starts fn(arg) on an idle helper and returns it, or NULL when none is
 * idle (or none could be started): then the caller runs fn itself. */
offload_helper *offload_start(void (*fn)(void *arg), void *arg);
/* Waits until the helper's fn returned; the helper is idle again. */
void offload_wait(offload_helper *h);

#endif
