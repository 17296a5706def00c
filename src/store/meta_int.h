/*
 * meta_int.h -- what the metadata store's files share (meta.c opens the
 * store; meta_<table>.c hold the functions of meta.h, one file per group
 * of tables). Not a public header.
 *
 * Every function of meta.h has the same shape: take this thread's
 * connection (META_CONN), the cached statement (META_STMT), bind, step,
 * copy the columns out, reset; writes that must be atomic run between
 * db_begin and db_end. The SQL is the seam's (db.h): one text for both
 * engines.
 */
#ifndef CF_STORE_META_INT_H
#define CF_STORE_META_INT_H

#include <stdint.h>

#include "store/db.h"
#include "store/meta.h"

/* The open store (meta.c). */
extern db_store *meta_store;

int64_t meta_now(void);
/* Opens another store at target with the schema's migrations applied
 * (the migration's source). */
cf_code meta_store_open(db_store **out, const char *target, cf_err *e);

#define META_FAIL_CODE (e && e->code ? e->code : CF_EIO)

#define META_CONN(c)                                                                               \
    db *c = db_get(meta_store, e);                                                                 \
    if (c == NULL)                                                                                 \
        return META_FAIL_CODE;
#define META_STMT(st, c, sql)                                                                      \
    db_stmt *st = db_prepare(c, sql, e);                                                           \
    if (st == NULL)                                                                                \
        return META_FAIL_CODE;

/* shared between the blob and manifest files (meta_blobs.c) */
cf_code meta_blob_row_insert(db *c, const char *reg, const char *digest, int64_t size, cf_err *e);
cf_code meta_repo_row_insert(db *c, const char *reg, const char *repo, cf_err *e);
/* Deletes the registry's blob row when nothing uses the digest any more;
 * *orphaned (may be NULL) = 1 when it did. */
cf_code meta_blob_gc(db *c, const char *reg, const char *digest, int *orphaned, cf_err *e);
/* Runs a statement whose parameters are three texts; *changed (may be
 * NULL) receives the rows changed. */
cf_code meta_run3(db *c, const char *sql, const char *a, const char *b, const char *d,
                  int64_t *changed, cf_err *e);
/* meta_run3 for a statement that must change a row: CF_ENOTFOUND with
 * the message `missing` when it changed none. */
cf_code meta_run3_one(db *c, const char *sql, const char *a, const char *b, const char *d,
                      const char *missing, cf_err *e);
extern const char META_SQL_UPLOAD_DELETE[];
/* In a transaction: takes the registry's blob row for digest FOR SHARE
 * (PostgreSQL; a plain read on SQLite, whose write transaction holds the
 * database); *exists = 0 when there is none (meta_gc.c). */
cf_code meta_blob_share(db *c, const char *reg, const char *digest, int *exists, cf_err *e);
/* A paginated listing (meta_manifests.c): fn gets column 0 of each row,
 * at most n of them (the statement asks for n + 1); *more when a row
 * past the n-th exists. Resets st. */
cf_code meta_each_text(db_stmt *st, int64_t n, meta_each_fn fn, void *cls, int *more, cf_err *e);
/* meta_each_text of a page of a repository's rows: sql's parameters are
 * registry, repository, `last` ("" for the first page) and a LIMIT (n + 1). */
cf_code meta_each_page(const char *sql, const char *reg, const char *repo, const char *last,
                       int64_t n, meta_each_fn fn, void *cls, int *more, cf_err *e);
/* Runs st (bound by the caller) and reports no row changed as
 * CF_ENOTFOUND "registry not found". */
cf_code meta_update_one(db_stmt *st, cf_err *e);

#endif
