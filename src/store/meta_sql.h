/*
 * meta_sql.h -- a narrow door into the metadata database for the store
 * modules that keep tables of their own next to meta.c's (arm.c:
 * subscriptions, resource groups and where each resource lives).
 *
 * Statements are static strings (their prepared form is cached per thread,
 * keyed by the pointer) written in the SQL that SQLite and PostgreSQL both
 * accept: standard types (TEXT, BIGINT, INTEGER), INSERT ... ON CONFLICT,
 * no engine-only functions, and $1..$n placeholders (SQLite reads "$1" as
 * a named parameter; this door binds it by that name). Parameters are text
 * (NULL binds SQL NULL) or 64-bit integers; columns are read back the same
 * way. A row callback must not call back into the store (copy what it
 * needs): the statement it reads is the one a nested call would reuse.
 */
#ifndef CF_STORE_META_SQL_H
#define CF_STORE_META_SQL_H

#include <stdint.h>

#include "base/err.h"

typedef struct meta_sql_param {
    int is_int;
    const char *text;
    int64_t i;
} meta_sql_param;

#define MSQL_T(s) ((meta_sql_param){0, (s), 0})
#define MSQL_I(v) ((meta_sql_param){1, NULL, (int64_t)(v)})

typedef struct meta_sql_row meta_sql_row;

/* Column col of the row: text (NULL for SQL NULL), integer (0 for NULL). */
const char *meta_sql_text(const meta_sql_row *r, int col);
int64_t meta_sql_int(const meta_sql_row *r, int col);

/* Runs sql with params p[0..n) ($1..$n); fn (may be NULL) is called for
 * each row and stops the walk by returning non-zero; *changes (may be
 * NULL) receives the number of rows a write changed. */
cf_code meta_sql_run(const char *sql, const meta_sql_param *p, int n,
                     int (*fn)(void *cls, const meta_sql_row *r), void *cls, int *changes,
                     cf_err *e);
/* Runs fn in one transaction: committed when it returns CF_OK, else
 * rolled back. Everything fn runs through this door (on this thread) is
 * part of it. */
cf_code meta_sql_tx(cf_code (*fn)(void *cls, cf_err *e), void *cls, cf_err *e);
/* Runs a script of several statements without parameters (a schema). */
cf_code meta_sql_script(const char *sql, cf_err *e);

#endif
