/*
 * test_meta_tasks.c -- tasks and runs in the metadata store (meta_tasks.h)
 * on a real database: SQLite, or PostgreSQL when COFFER_TEST_PG is set.
 * The tests are in suite store_meta, whose setup (test_meta.c) opens a
 * fresh store for each, so scripts/test-all runs them on both engines.
 * The claim is what keeps one run per task, once in a cluster: pinned
 * here with the interleavings that matter.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store/meta_tasks.h"

#define TREG "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void put_task(const char *name, int64_t next_run)
{
    meta_task t;
    memset(&t, 0, sizeof(t));
    snprintf(t.registry_id, sizeof(t.registry_id), "%s", TREG);
    snprintf(t.name, sizeof(t.name), "%s", name);
    snprintf(t.cmd, sizeof(t.cmd), "purge --filter 'a:.*' --ago 1d");
    snprintf(t.schedule, sizeof(t.schedule), "* * * * *");
    t.enabled = 1;
    t.created_at = 1;
    t.next_run = next_run;
    int created = 0;
    cf_err e = {0};
    cr_assert_eq(meta_task_put(&t, &created, &e), CF_OK, "%s", e.msg);
}

static int count_due(void *cls, const meta_task *t)
{
    (void)t;
    (*(int *)cls)++;
    return 0;
}

Test(store_meta, task_scheduled_tick_is_claimed_once)
{
    put_task("nightly", 100);
    cf_err e = {0};
    int due = 0;
    cr_assert_eq(meta_task_each_due(99, count_due, &due, &e), CF_OK);
    cr_assert_eq(due, 0);
    cr_assert_eq(meta_task_each_due(100, count_due, &due, &e), CF_OK);
    cr_assert_eq(due, 1);
    /* not due yet */
    cr_assert_eq(meta_task_claim(TREG, "nightly", "cf1", 99, 0, 1, 160, NULL), CF_ECONFLICT);
    /* two nodes see the tick: one wins it */
    cr_assert_eq(meta_task_claim(TREG, "nightly", "cf1", 100, 0, 1, 160, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(meta_task_claim(TREG, "nightly", "cf2", 100, 0, 1, 160, NULL), CF_ECONFLICT);
    meta_task t;
    cr_assert_eq(meta_task_get(&t, TREG, "nightly", &e), CF_OK);
    cr_assert_eq(t.next_run, 160);
    cr_assert_str_eq(t.run_id, "cf1");
    /* released, the tick is still gone: the next one is at 160 */
    cr_assert_eq(meta_task_release(TREG, "nightly", "cf1", &e), CF_OK);
    cr_assert_eq(meta_task_claim(TREG, "nightly", "cf2", 100, 0, 1, 160, NULL), CF_ECONFLICT);
    cr_assert_eq(meta_task_claim(TREG, "nightly", "cf2", 160, 0, 1, 220, &e), CF_OK, "%s", e.msg);
}

Test(store_meta, task_one_run_at_a_time_until_release_or_lease)
{
    put_task("manual", 0);
    cf_err e = {0};
    cr_assert_eq(meta_task_claim(TREG, "manual", "cfa", 1000, 0, 0, 0, &e), CF_OK, "%s", e.msg);
    cf_err c = {0};
    cr_assert_eq(meta_task_claim(TREG, "manual", "cfb", 1001, 0, 0, 0, &c), CF_ECONFLICT);
    cr_assert(strstr(c.msg, "cfa") != NULL, "%s", c.msg);
    /* a release by another run changes nothing */
    cr_assert_eq(meta_task_release(TREG, "manual", "cfb", &e), CF_OK);
    cr_assert_eq(meta_task_claim(TREG, "manual", "cfb", 1001, 0, 0, 0, NULL), CF_ECONFLICT);
    /* a claim older than the lease belongs to a dead node */
    cr_assert_eq(meta_task_claim(TREG, "manual", "cfb", 5000, 1001, 0, 0, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(meta_task_release(TREG, "manual", "cfb", &e), CF_OK);
    cr_assert_eq(meta_task_claim(TREG, "manual", "cfc", 5001, 0, 0, 0, &e), CF_OK, "%s", e.msg);
    /* a task that is gone */
    cr_assert_eq(meta_task_claim(TREG, "absent", "cfd", 5001, 0, 0, 0, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_task_delete(TREG, "manual", &e), CF_OK);
    cr_assert_eq(meta_task_delete(TREG, "manual", NULL), CF_ENOTFOUND);
}

typedef struct seen {
    char ids[8][META_RUN_ID_MAX];
    int n;
} seen;

static int collect_run(void *cls, const meta_task_run *r)
{
    seen *s = cls;
    if (s->n < 8)
        snprintf(s->ids[s->n++], META_RUN_ID_MAX, "%s", r->run_id);
    return 0;
}

Test(store_meta, task_runs_newest_first_and_older_than_a_cutoff)
{
    cf_err e = {0};
    for (int i = 1; i <= 3; i++) {
        meta_task_run r;
        memset(&r, 0, sizeof(r));
        snprintf(r.registry_id, sizeof(r.registry_id), "%s", TREG);
        snprintf(r.run_id, sizeof(r.run_id), "cf%d", i);
        snprintf(r.task, sizeof(r.task), "%s", i == 2 ? "" : "nightly");
        snprintf(r.cmd, sizeof(r.cmd), "purge");
        snprintf(r.trigger, sizeof(r.trigger), "Manual");
        snprintf(r.status, sizeof(r.status), "Succeeded");
        r.created_at = i * 10;
        cr_assert_eq(meta_task_run_put(&r, &e), CF_OK, "%s", e.msg);
    }
    seen s = {0};
    cr_assert_eq(meta_task_run_each(TREG, NULL, 10, collect_run, &s, &e), CF_OK);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.ids[0], "cf3");
    cr_assert_str_eq(s.ids[2], "cf1");
    memset(&s, 0, sizeof(s));
    cr_assert_eq(meta_task_run_each(TREG, "nightly", 10, collect_run, &s, &e), CF_OK);
    cr_assert_eq(s.n, 2, "a quick run belongs to no task");
    memset(&s, 0, sizeof(s));
    cr_assert_eq(meta_task_run_each_older(TREG, 25, 10, collect_run, &s, &e), CF_OK);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.ids[0], "cf1");
    cr_assert_eq(meta_task_run_delete(TREG, "cf1", &e), CF_OK);
    meta_task_run r;
    cr_assert_eq(meta_task_run_get(&r, TREG, "cf1", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_task_run_get(&r, TREG, "cf2", &e), CF_OK);
    cr_assert_str_eq(r.task, "");
}
