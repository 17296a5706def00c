/*
 * db.h -- the SQL seam under the metadata store: one small interface, one
 * driver per engine (db_sqlite.c, db_pg.c), and the store's functions
 * (meta_*.c) written once above it.
 *
 * The shape is libgit2's git_odb_backend and SQLite's VFS: a driver is a
 * struct of function pointers (db_driver) that its file fills; the core
 * (db.c) never knows which engine it talks to. What the core keeps for
 * every engine:
 *
 *   - a store (db_store) opened on a target: a file path (SQLite) or a
 *     libpq URI "postgres://..." / "postgresql://..." (PostgreSQL);
 *   - one connection per thread that uses the store, opened on first use
 *     and kept (the pool is the set of threads: its size is the number of
 *     worker threads, no lock on the hot path, a connection never crosses
 *     threads, which libpq requires). A connection found broken (the
 *     server restarted) answers CF_EUNAVAIL once and is replaced on the
 *     thread's next call;
 *   - prepared statements cached per connection, keyed by the address of
 *     their static SQL text: prepared once per connection, reset per use;
 *   - transactions (db_begin / db_end) with one exit that commits or rolls
 *     back;
 *   - versioned schema migrations applied at open (db_migration), each in
 *     the transaction that records it, serialized across processes
 *     (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL).
 *
 * SQL is written once, in the dialect both engines accept (SQLite 3.40 and
 * PostgreSQL 15): numbered parameters "?1".."?N" (the PostgreSQL driver
 * turns them into "$1".."$N"), INSERT ... ON CONFLICT, RETURNING, CAST(?N
 * AS TEXT) where a parameter's type could not be inferred otherwise. Text
 * compares bytewise on both (PostgreSQL columns are COLLATE "C"). Only DDL
 * differs by engine, in the migrations.
 */
#ifndef CF_STORE_DB_H
#define CF_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum { DB_SQLITE = 1, DB_POSTGRES = 2 } db_engine;

enum { DB_DONE = 0, DB_ROW = 1 };

/* What a driver fills (db_sqlite.c, db_pg.c). Connections and statements
 * are the driver's own types behind void pointers. Column and parameter
 * indexes: parameters from 1 (?1), columns from 0. */
typedef struct db_driver {
    const char *name; /* "sqlite" | "postgres" */
    db_engine engine;
    /* The statement that opens a write transaction. */
    const char *begin_sql;
    cf_code (*connect)(void **out, const char *target, cf_err *e);
    void (*disconnect)(void *conn);
    /* Runs a script of statements without parameters (schema). */
    cf_code (*exec)(void *conn, const char *sql, cf_err *e);
    /* Serializes schema migrations across processes: called inside the
     * migration transaction (NULL: begin_sql already does). */
    cf_code (*migration_lock)(void *conn, cf_err *e);
    /* Makes the bytes of deleted rows unrecoverable from the engine's
     * files as far as the engine allows (after a registry's secrets were
     * deleted); best effort, outside any transaction. */
    void (*scrub)(void *conn);
    /* 1 once the connection is lost for good (replace it). */
    int (*broken)(void *conn);
    /* Waits up to ms for notifications on a connection that LISTENs and
     * calls fn for each (NULL: the engine has none, SQLite). */
    cf_code (*wait_notify)(void *conn, unsigned ms,
                           void (*fn)(void *cls, const char *channel, const char *payload),
                           void *cls, cf_err *e);
    cf_code (*prepare)(void **out, void *conn, const char *sql, cf_err *e);
    void (*finalize)(void *st);
    /* Borrowed values: they must stay valid until the statement's first
     * step (SQLITE_STATIC). NULL binds SQL NULL. */
    void (*bind_text)(void *st, int i, const char *v);
    void (*bind_int64)(void *st, int i, int64_t v);
    void (*bind_blob)(void *st, int i, const void *p, size_t n);
    /* DB_ROW, DB_DONE, or a negative cf_code: CF_EEXISTS for a uniqueness
     * violation, CF_EUNAVAIL when the engine is unreachable or busy,
     * CF_ENOSPACE when it is full, CF_EIO otherwise (message in e). */
    int (*step)(void *st, cf_err *e);
    /* Ready to bind and run again (bindings cleared). */
    void (*reset)(void *st);
    /* NULL for SQL NULL; valid until the next step or reset. */
    const char *(*column_text)(void *st, int i);
    int64_t (*column_int64)(void *st, int i); /* 0 for NULL */
    /* NULL and *n = 0 for NULL or empty. */
    const void *(*column_blob)(void *st, int i, size_t *n);
    /* Rows changed by the statement's last completed run. */
    int64_t (*changes)(void *st);
} db_driver;

extern const db_driver db_sqlite_driver;
extern const db_driver db_pg_driver;

typedef struct db_store db_store;
typedef struct db db;           /* one connection; one thread's */
typedef struct db_stmt db_stmt; /* one cached statement of a connection */

/* A schema step: the DDL per engine (a script; NULL when the step has
 * nothing to do on that engine). add_columns (SQLite only, may be NULL):
 * "ALTER TABLE ... ADD COLUMN" statements run one by one after the
 * script, where "duplicate column" is a success (databases made before
 * migrations were versioned already have some). */
typedef struct db_migration {
    int version;
    const char *sqlite;
    const char *postgres;
    const char *const *add_columns;
    size_t n_add_columns;
} db_migration;

/* 1 when target names a PostgreSQL database (a libpq URI). */
int db_target_is_postgres(const char *target);
/* 1 when a libpq URI carries a password ("user:password@" or a
 * password= parameter): on a command line, every local user would see it. */
int db_uri_has_password(const char *uri);

/* Opens the store at target with the engine it names and applies every
 * migration of the list whose version the database has not recorded (in
 * the list's order: a step skipped by an earlier build runs too). CF_EUNAVAIL when a server cannot
 * be reached. */
cf_code db_store_open(db_store **out, const char *target, const db_migration *migrations, size_t n,
                      cf_err *e);
/* Closes every connection of the store (the caller makes sure no thread
 * still uses it) and frees it. NULL is a no-op. */
void db_store_close(db_store *s);
db_engine db_store_engine(const db_store *s);
/* The schema version the database has. */
cf_code db_store_version(db_store *s, int *out, cf_err *e);

/* This thread's connection to s (opened on first use, or again after it
 * broke); NULL with e set when it cannot be opened. */
db *db_get(db_store *s, cf_err *e);

/* The calling thread's statement timeout on PostgreSQL (0: the default,
 * 30 s): a server that stops answering gives CF_EUNAVAIL after it. */
void db_set_timeout(unsigned ms);
void db_pg_set_timeout(unsigned ms); /* db_pg.c */

/* A connection of its own, bound to no thread (e.g. one that LISTENs),
 * until db_close. Its statements are cached like a thread's. */
db *db_open_own(db_store *s, cf_err *e);
void db_close(db *c);
/* 1 once c is lost (a thread's own is replaced by db_get; replace an own
 * one with db_close + db_open_own). */
int db_broken(db *c);
/* A number that changes whenever the thread's connection is replaced:
 * a session-level lock taken on an earlier serial is gone. */
uint64_t db_serial(const db *c);
db_engine db_engine_of(const db *c);
/* Notifications on c (which ran LISTEN): waits up to ms, calls fn for
 * each one. CF_EUNSUPPORTED on SQLite; CF_EUNAVAIL when c is lost. */
cf_code db_wait_notify(db *c, unsigned ms,
                       void (*fn)(void *cls, const char *channel, const char *payload), void *cls,
                       cf_err *e);

/* The connection's statement for sql (a string with static storage: the
 * cache is keyed by its address), reset and unbound; NULL with e set. */
db_stmt *db_prepare(db *c, const char *sql, cf_err *e);
void db_bind_text(db_stmt *st, int i, const char *v);
/* Binds v, or NULL when v is NULL or empty. */
void db_bind_opt_text(db_stmt *st, int i, const char *v);
void db_bind_int64(db_stmt *st, int i, int64_t v);
void db_bind_blob(db_stmt *st, int i, const void *p, size_t n);
/* DB_ROW, DB_DONE or a negative cf_code (see db_driver.step). */
int db_step(db_stmt *st, cf_err *e);
void db_reset(db_stmt *st);
const char *db_column_text(db_stmt *st, int i);
int64_t db_column_int64(db_stmt *st, int i);
const void *db_column_blob(db_stmt *st, int i, size_t *n);
/* Copies column i into dst (cap bytes, NUL-terminated; "" for NULL). */
void db_column_copy(char *dst, size_t cap, db_stmt *st, int i);
int64_t db_changes(db_stmt *st);

/* Runs st to completion (rows are ignored) and resets it. */
cf_code db_run(db_stmt *st, cf_err *e);
/* Runs st for one row: its first column into *v (may be NULL);
 * CF_ENOTFOUND "<what> not found" without a row. Resets st. */
cf_code db_one_int(db_stmt *st, int64_t *v, const char *what, cf_err *e);
/* Runs a statement without parameters (sql static, as db_prepare). */
cf_code db_exec(db *c, const char *sql, cf_err *e);

/* A write transaction on c. db_end commits when rc is CF_OK, else rolls
 * back, and returns the outcome (the commit's failure, or rc). */
cf_code db_begin(db *c, cf_err *e);
cf_code db_end(db *c, cf_code rc, cf_err *e);
/* See db_driver.scrub. */
void db_scrub(db *c);

#endif
