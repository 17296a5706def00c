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
 * A posted job (offload_claim, offload_post) is not waited for: the helper
 * releases itself when fn returns, and fn tells its caller it is done. A
 * push's hash works so (uploads.c): fn hashes from a ring in the helper's
 * scratch buffer for as long as the request thread keeps it filled.
 */
#ifndef CF_STORE_OFFLOAD_H
#define CF_STORE_OFFLOAD_H

#include <stddef.h>

#define OFFLOAD_HELPERS 2

typedef struct offload_helper offload_helper;

/* Starts fn(arg) on an idle helper and returns it, or NULL when none is
 * idle (or none could be started): then the caller runs fn itself. */
offload_helper *offload_start(void (*fn)(void *arg), void *arg);
/* Claims an idle helper without giving it work yet, or returns NULL when
 * none is idle; offload_post or offload_unclaim must follow. */
offload_helper *offload_claim(void);
void offload_unclaim(offload_helper *h);
/* A buffer of at least len bytes that goes with the claim of h: the
 * claimer's until offload_post, then the posted fn's. It is kept with the
 * helper for the life of the process, so the next claim reuses it; NULL
 * when it cannot be had. */
void *offload_scratch(offload_helper *h, size_t len);
/* Runs fn(arg) on the claimed helper, which releases itself when fn
 * returns (no offload_wait): the caller learns of the end through arg. */
void offload_post(offload_helper *h, void (*fn)(void *arg), void *arg);
/* Waits until the helper's fn returned; the helper is idle again. */
void offload_wait(offload_helper *h);

#endif
