/*
 * db_sqlite.c -- the SQLite driver of the SQL seam (db.h): the embedded
 * default, one database file.
 *
 * Every connection runs WAL with synchronous=FULL (a write acknowledged
 * to a client has been through an fsync of the WAL), foreign keys on, and
 * secure_delete (freed pages are zeroed, so a deleted registry's wrapped
 * secrets do not linger in the file). Write transactions are BEGIN
 * IMMEDIATE: they take the write lock up front, so two of them never
 * deadlock on an upgrade; a busy database waits up to 10 s and then
 * answers CF_EUNAVAIL.
 */
#define CF_LOG_MOD "db"
#include "store/db.h"

#include <stdlib.h>

#include <sqlite3.h>

#include "base/log.h"

static cf_code sqlite_fail(cf_err *e, sqlite3 *h, const char *what)
{
    int rc = sqlite3_errcode(h);
    cf_code code = CF_EIO;
    if (rc == SQLITE_FULL)
        code = CF_ENOSPACE;
    else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        code = CF_EUNAVAIL;
    else if (rc == SQLITE_CONSTRAINT)
        code = CF_EEXISTS;
    return cf_err_set(e, code, "sqlite %s: %s", what, sqlite3_errmsg(h));
}

static cf_code lite_connect(void **out, const char *path, cf_err *e)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(
        path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        cf_code c =
            cf_err_set(e, CF_EIO, "open %s: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return c;
    }
    sqlite3_busy_timeout(h, 10000);
    char *msg = NULL;
    if (sqlite3_exec(h,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                     " PRAGMA secure_delete=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        cf_code c = cf_err_set(e, CF_EIO, "configure database: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(h);
        return c;
    }
    *out = h;
    return CF_OK;
}

static void lite_disconnect(void *conn)
{
    sqlite3_close(conn);
}

static cf_code lite_exec(void *conn, const char *sql, cf_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(conn, sql, NULL, NULL, &msg) == SQLITE_OK)
        return CF_OK;
    cf_code rc = sqlite_fail(e, conn, "exec");
    sqlite3_free(msg);
    return rc;
}

static void lite_scrub(void *conn)
{
    /* move the zeroed pages into the main file and truncate the WAL, so
     * the page images of the deleted rows do not stay in it */
    if (sqlite3_exec(conn, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
        cf_log(CF_LOG_WARN, "checkpoint after a deletion failed", "error", sqlite3_errmsg(conn),
               NULL);
}

static int lite_broken(void *conn)
{
    (void)conn;
    return 0;
}

static cf_code lite_prepare(void **out, void *conn, const char *sql, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail(e, conn, "prepare");
    *out = st;
    return CF_OK;
}

static void lite_finalize(void *st)
{
    sqlite3_finalize(st);
}

static void lite_bind_text(void *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void lite_bind_int64(void *st, int i, int64_t v)
{
    sqlite3_bind_int64(st, i, v);
}

static void lite_bind_blob(void *st, int i, const void *p, size_t n)
{
    if (p)
        sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int lite_step(void *st, cf_err *e)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return DB_ROW;
    if (rc == SQLITE_DONE)
        return DB_DONE;
    return sqlite_fail(e, sqlite3_db_handle(st), "step");
}

static void lite_reset(void *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static const char *lite_column_text(void *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int64_t lite_column_int64(void *st, int i)
{
    return sqlite3_column_int64(st, i);
}

static const void *lite_column_blob(void *st, int i, size_t *n)
{
    const void *p = sqlite3_column_blob(st, i);
    *n = p ? (size_t)sqlite3_column_bytes(st, i) : 0;
    return p;
}

static int64_t lite_changes(void *st)
{
    return sqlite3_changes(sqlite3_db_handle(st));
}

const db_driver db_sqlite_driver = {
    .name = "sqlite",
    .engine = DB_SQLITE,
    .begin_sql = "BEGIN IMMEDIATE",
    .connect = lite_connect,
    .disconnect = lite_disconnect,
    .exec = lite_exec,
    .migration_lock = NULL, /* BEGIN IMMEDIATE holds the write lock */
    .scrub = lite_scrub,
    .broken = lite_broken,
    .prepare = lite_prepare,
    .finalize = lite_finalize,
    .bind_text = lite_bind_text,
    .bind_int64 = lite_bind_int64,
    .bind_blob = lite_bind_blob,
    .step = lite_step,
    .reset = lite_reset,
    .column_text = lite_column_text,
    .column_int64 = lite_column_int64,
    .column_blob = lite_column_blob,
    .changes = lite_changes,
};
