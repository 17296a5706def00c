/*
 * test_ticker.c -- the periodic thread under cofferd's janitor, tasks and
 * health probe and keyvaultd's scheduler: it calls its work again and
 * again, at once when asked to, never two calls at a time, and a stop
 * ends it while it waits out a long period instead of after it.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "base/ticker.h"

typedef struct {
    atomic_int calls, inside, overlapped;
} counter;

static void work(void *arg)
{
    counter *c = arg;
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_store(&c->overlapped, 1);
    usleep(2000);
    atomic_fetch_sub(&c->inside, 1);
    atomic_fetch_add(&c->calls, 1);
}

/* polls for up to 10 s: a guard against a hang, not a timing assertion */
static int wait_calls(counter *c, int n)
{
    for (int i = 0; i < 1000 && atomic_load(&c->calls) < n; i++)
        usleep(10000);
    return atomic_load(&c->calls);
}

Test(ticker, calls_its_work_every_period_one_call_at_a_time)
{
    counter c = {0};
    cf_ticker *t = NULL;
    cf_err e = {0};
    cr_assert_eq(cf_ticker_start(&t, "test", 1, 0, work, &c, &e), CF_OK, "%s", e.msg);
    cr_assert_geq(wait_calls(&c, 20), 20);
    cf_ticker_stop(t);
    int after = atomic_load(&c.calls);
    usleep(20000);
    cr_assert_eq(atomic_load(&c.calls), after, "no call after the stop returned");
    cr_assert_eq(atomic_load(&c.overlapped), 0);
}

Test(ticker, now_calls_at_once_and_a_stop_cuts_a_long_wait, .timeout = 30)
{
    counter c = {0};
    cf_ticker *t = NULL;
    cf_err e = {0};
    /* a period of an hour: the first call can only come from `now`, and
     * the stop can only return promptly by waking the wait */
    cr_assert_eq(cf_ticker_start(&t, "test", 3600 * 1000, 1, work, &c, &e), CF_OK);
    cr_assert_eq(wait_calls(&c, 1), 1);
    cf_ticker_stop(t);
    cr_assert_eq(atomic_load(&c.calls), 1);
}

Test(ticker, without_now_nothing_happens_before_the_first_period, .timeout = 30)
{
    counter c = {0};
    cf_ticker *t = NULL;
    cf_err e = {0};
    cr_assert_eq(cf_ticker_start(&t, "test", 3600 * 1000, 0, work, &c, &e), CF_OK);
    usleep(50000);
    cf_ticker_stop(t);
    cr_assert_eq(atomic_load(&c.calls), 0);
    cf_ticker_stop(NULL);
}
