/*
 * test_db.c -- the schema migration runner of the database seam (db.h) on
 * a real database: a SQLite file, or a database of its own on a real
 * PostgreSQL server when COFFER_TEST_PG is set (test_db.h). A step runs
 * once, and a step a database has not recorded runs even when a later one
 * has (branches that each add a step land in either order).
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "store/db.h"

static char dir[256];
static char target[512];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "db");
    test_db_make(target, sizeof(target), dir);
}

static void teardown(void)
{
    test_db_drop(target);
    test_tmpdir_remove(dir);
}

TestSuite(store_db, .init = setup, .fini = teardown);

/* CREATE TABLE without IF NOT EXISTS: a step run twice fails the open */
#define STEP(v, t)                                                                                 \
    {                                                                                              \
        .version = v, .sqlite = "CREATE TABLE " t " (x INTEGER)",                                  \
        .postgres = "CREATE TABLE " t " (x BIGINT)"                                                \
    }

static int64_t count(db_store *s, const char *sql)
{
    cf_err e = {0};
    db *c = db_get(s, &e);
    cr_assert_not_null(c, "%s", e.msg);
    db_stmt *st = db_prepare(c, sql, &e);
    cr_assert_not_null(st, "%s: %s", sql, e.msg);
    int64_t v = -1;
    cr_assert_eq(db_one_int(st, &v, "count", &e), CF_OK, "%s", e.msg);
    return v;
}

Test(store_db, a_step_missing_below_the_newest_recorded_one_runs_and_only_it)
{
    static const db_migration first[] = {STEP(1, "t1"), STEP(3, "t3")};
    static const db_migration all[] = {STEP(1, "t1"), STEP(2, "t2"), STEP(3, "t3")};
    db_store *s = NULL;
    cf_err e = {0};
    cr_assert_eq(db_store_open(&s, target, first, 2, &e), CF_OK, "%s", e.msg);
    int v = 0;
    cr_assert_eq(db_store_version(s, &v, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(v, 3);
    db_store_close(s);

    s = NULL;
    cr_assert_eq(db_store_open(&s, target, all, 3, &e), CF_OK, "step 1 or 3 ran again: %s", e.msg);
    cr_assert_eq(count(s, "SELECT count(*) FROM t2"), 0, "step 2 made its table");
    cr_assert_eq(count(s, "SELECT count(*) FROM schema_version"), 3);
    cr_assert_eq(db_store_version(s, &v, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(v, 3);
    db_store_close(s);

    /* a third open has nothing left to do */
    s = NULL;
    cr_assert_eq(db_store_open(&s, target, all, 3, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(count(s, "SELECT count(*) FROM schema_version"), 3);
    db_store_close(s);
}
