/*
 * test_db.h -- the metadata store under test: a SQLite file in the test's
 * directory, or, when COFFER_TEST_PG names a PostgreSQL server (a libpq
 * URI of its "postgres" database, tests/fixtures/pg-fixture), a fresh
 * database on it per test, dropped at teardown. The same tests then run
 * on both engines (scripts/test-all runs them twice).
 */
#ifndef COFFER_TEST_DB_H
#define COFFER_TEST_DB_H

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/meta.h"
#include "test_tmpdir.h"

/* 1 when the tests run on PostgreSQL. */
static inline int test_db_pg(void)
{
    const char *u = getenv("COFFER_TEST_PG");
    return u != NULL && *u != '\0';
}

static inline void test_db_admin(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("COFFER_TEST_PG"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "COFFER_TEST_PG: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* target (cap bytes) receives what meta_init opens for this test: dir's
 * cofferd.db, or a new database on the PostgreSQL server. */
static inline void test_db_make(char *target, size_t cap, const char *dir)
{
    if (!test_db_pg()) {
        snprintf(target, cap, "%s/cofferd.db", dir);
        return;
    }
    const char *base = getenv("COFFER_TEST_PG");
    const char *slash = strrchr(base, '/');
    cr_assert(slash != NULL && slash > base + 12, "COFFER_TEST_PG: want postgresql://.../DB");
    char name[64], sql[128];
    snprintf(name, sizeof(name), "t%d_%s", (int)getpid(), strrchr(dir, '-') + 1);
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    test_db_admin(sql);
    snprintf(target, cap, "%.*s/%s", (int)(slash - base), base, name);
}

static inline void test_db_drop(const char *target)
{
    if (!test_db_pg())
        return;
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", strrchr(target, '/') + 1);
    test_db_admin(sql);
}

/* A test's own metadata store, opened by meta_init: a fresh directory
 * (dir) named after the test, and the store in it or in a new database on
 * the PostgreSQL server (target). test_meta_close undoes it. */
static inline void test_meta_open(char *dir, size_t dcap, char *target, size_t tcap,
                                  const char *name)
{
    test_tmpdir_make(dir, dcap, name);
    test_db_make(target, tcap, dir);
    cf_err e = {0};
    cr_assert_eq(meta_init(target, &e), CF_OK, "%s", e.msg);
}

static inline void test_meta_close(const char *dir, const char *target)
{
    meta_shutdown();
    test_db_drop(target);
    test_tmpdir_remove(dir);
}

#endif
