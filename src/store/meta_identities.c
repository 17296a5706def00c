/*
 * meta_identities.c -- the identities table: user-assigned managed
 * identities (DESIGN §7), meta_identity_* of meta.h. Client, principal
 * and tenant ids are stored lower-case and looked up lower-cased, so any
 * spelling of a GUID finds its identity.
 */
#define CF_LOG_MOD "meta"
#include <string.h>

#include "store/meta_int.h"

#define IDENT_COLS "SELECT name, client_id, principal_id, tenant_id, created_at FROM identities "
static const char SQL_IDENT_BY_NAME[] = IDENT_COLS "WHERE name = ?1";
static const char SQL_IDENT_BY_CLIENT[] = IDENT_COLS "WHERE client_id = lower(?1)";
static const char SQL_IDENT_BY_PRINCIPAL[] = IDENT_COLS "WHERE principal_id = lower(?1)";
static const char SQL_IDENT_ALL[] = IDENT_COLS "ORDER BY name";
static const char SQL_IDENT_INSERT[] =
    "INSERT INTO identities (name, client_id, principal_id, tenant_id, created_at)"
    " VALUES (?1, lower(?2), lower(?3), lower(?4), ?5)";
static const char SQL_IDENT_IN_USE[] =
    "SELECT count(*) FROM registry_identities WHERE identity = ?1";
static const char SQL_IDENT_DELETE[] = "DELETE FROM identities WHERE name = ?1";

static void ident_row(meta_identity *out, db_stmt *st)
{
    memset(out, 0, sizeof(*out));
    db_column_copy(out->name, sizeof(out->name), st, 0);
    db_column_copy(out->client_id, sizeof(out->client_id), st, 1);
    db_column_copy(out->principal_id, sizeof(out->principal_id), st, 2);
    db_column_copy(out->tenant_id, sizeof(out->tenant_id), st, 3);
    out->created_at = db_column_int64(st, 4);
}

static cf_code ident_get(meta_identity *out, const char *sql, const char *key, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, sql);
    db_bind_text(st, 1, key);
    int rc = db_step(st, e);
    cf_code out_rc = CF_OK;
    if (rc == DB_ROW)
        ident_row(out, st);
    else if (rc == DB_DONE)
        out_rc = cf_err_set(e, CF_ENOTFOUND, "identity not found");
    else
        out_rc = (cf_code)rc;
    db_reset(st);
    return out_rc;
}

cf_code meta_identity_get(meta_identity *out, const char *name, cf_err *e)
{
    return ident_get(out, SQL_IDENT_BY_NAME, name, e);
}

cf_code meta_identity_by_client(meta_identity *out, const char *client_id, cf_err *e)
{
    return ident_get(out, SQL_IDENT_BY_CLIENT, client_id, e);
}

cf_code meta_identity_by_principal(meta_identity *out, const char *principal_id, cf_err *e)
{
    return ident_get(out, SQL_IDENT_BY_PRINCIPAL, principal_id, e);
}

cf_code meta_identity_create(const meta_identity *id, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_IDENT_INSERT);
    db_bind_text(st, 1, id->name);
    db_bind_text(st, 2, id->client_id);
    db_bind_text(st, 3, id->principal_id);
    db_bind_text(st, 4, id->tenant_id);
    db_bind_int64(st, 5, id->created_at ? id->created_at : meta_now());
    cf_err ie = {0};
    cf_code rc = db_run(st, &ie);
    if (rc == CF_EEXISTS)
        return cf_err_set(e, CF_EEXISTS, "identity %s already exists", id->name);
    if (rc != CF_OK)
        return cf_err_set(e, rc, "%s", ie.msg);
    return CF_OK;
}

cf_code meta_identity_each(int (*fn)(void *cls, const meta_identity *id), void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_IDENT_ALL);
    meta_identity id;
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        ident_row(&id, st);
        if (fn(cls, &id) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

cf_code meta_identity_delete(const char *name, cf_err *e)
{
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int64_t users = 0;
    db_stmt *st = db_prepare(c, SQL_IDENT_IN_USE, e);
    if (st == NULL)
        return db_end(c, META_FAIL_CODE, e);
    db_bind_text(st, 1, name);
    rc = db_one_int(st, &users, "identity use", e);
    if (rc == CF_OK && users > 0)
        rc = cf_err_set(e, CF_ECONFLICT, "identity %s is assigned to %lld registr%s", name,
                        (long long)users, users == 1 ? "y" : "ies");
    if (rc == CF_OK) {
        db_stmt *d = db_prepare(c, SQL_IDENT_DELETE, e);
        if (d == NULL)
            return db_end(c, META_FAIL_CODE, e);
        db_bind_text(d, 1, name);
        rc = db_run(d, e);
        if (rc == CF_OK && db_changes(d) == 0)
            rc = cf_err_set(e, CF_ENOTFOUND, "identity not found");
    }
    return db_end(c, rc, e);
}
