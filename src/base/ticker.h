/*
 * ticker.h -- a thread that does one piece of periodic work: fn(arg) every
 * period until stopped. cofferd's janitor, its tasks thread and its health
 * probe, and keyvaultd's scheduler each run on one.
 *
 * Calls never overlap: the next wait starts when fn returns, so a slow
 * pass delays the following one rather than piling up. A stop wakes a
 * waiting ticker at once; one that is inside fn stops when fn returns.
 */
#ifndef CF_BASE_TICKER_H
#define CF_BASE_TICKER_H

#include "base/err.h"

typedef struct cf_ticker cf_ticker;

/* Starts the thread: fn(arg) at once when `now`, then every period_ms.
 * `what` names the thread in the error when it cannot be started. */
cf_code cf_ticker_start(cf_ticker **out, const char *what, unsigned period_ms, int now,
                        void (*fn)(void *arg), void *arg, cf_err *e);

/* Stops and joins the thread; frees t. NULL: nothing. */
void cf_ticker_stop(cf_ticker *t);

#endif
