/*
 * meta_tokens.c -- the tokens table: a registry's tokens (ACR's tokens
 * with an inline scope map), meta_token_* of meta.h. A token row holds
 * the HMACs of its two passwords, never the passwords.
 */
#define CF_LOG_MOD "meta"
#include <stdlib.h>
#include <string.h>

#include "store/meta_int.h"

#define TOKEN_COLS                                                                                 \
    "SELECT registry_id, name, status, scope, pw1_hmac, pw2_hmac, pw1_created, pw2_created,"       \
    " created_at FROM tokens "
static const char SQL_TOKEN_GET[] = TOKEN_COLS "WHERE registry_id = ?1 AND name = ?2";
static const char SQL_TOKEN_ALL[] = TOKEN_COLS "WHERE registry_id = ?1 ORDER BY name";
static const char SQL_TOKEN_EXISTS[] =
    "SELECT count(*) FROM tokens WHERE registry_id = ?1 AND name = ?2";
static const char SQL_TOKEN_PUT[] =
    "INSERT INTO tokens (registry_id, name, status, scope, pw1_hmac, pw2_hmac,"
    " pw1_created, pw2_created, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (registry_id, name) DO UPDATE SET status = excluded.status,"
    " scope = excluded.scope, pw1_hmac = excluded.pw1_hmac, pw2_hmac = excluded.pw2_hmac,"
    " pw1_created = excluded.pw1_created, pw2_created = excluded.pw2_created,"
    " created_at = excluded.created_at";
static const char SQL_TOKEN_DELETE[] = "DELETE FROM tokens WHERE registry_id = ?1 AND name = ?2";

static cf_code token_row(meta_token *out, db_stmt *st, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    db_column_copy(out->registry_id, sizeof(out->registry_id), st, 0);
    db_column_copy(out->name, sizeof(out->name), st, 1);
    const char *status = db_column_text(st, 2);
    out->enabled = status != NULL && strcmp(status, "enabled") == 0;
    const char *scope = db_column_text(st, 3);
    if (scope && strlen(scope) >= sizeof(out->scope))
        return cf_err_set(e, CF_EINTEGRITY, "token %s has an oversized scope", out->name);
    db_column_copy(out->scope, sizeof(out->scope), st, 3);
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        const void *b = db_column_blob(st, 4 + i, &n);
        if (n == 0)
            continue;
        if (n != sizeof(out->pw_hmac[i]))
            return cf_err_set(e, CF_EINTEGRITY, "token %s has a malformed password hash",
                              out->name);
        memcpy(out->pw_hmac[i], b, sizeof(out->pw_hmac[i]));
        out->pw_set[i] = 1;
        out->pw_created[i] = db_column_int64(st, 6 + i);
    }
    out->created_at = db_column_int64(st, 8);
    return CF_OK;
}

cf_code meta_token_put(const meta_token *t, int *created, cf_err *e)
{
    if (strlen(t->scope) >= sizeof(t->scope) - 1)
        return cf_err_set(e, CF_ETOOBIG, "token scope too large");
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int64_t n = 0;
    db_stmt *st = db_prepare(c, SQL_TOKEN_EXISTS, e);
    if (st == NULL)
        return db_end(c, META_FAIL_CODE, e);
    db_bind_text(st, 1, t->registry_id);
    db_bind_text(st, 2, t->name);
    rc = db_one_int(st, &n, "token lookup", e);
    if (rc == CF_OK) {
        st = db_prepare(c, SQL_TOKEN_PUT, e);
        if (st == NULL)
            return db_end(c, META_FAIL_CODE, e);
        int64_t now = meta_now();
        db_bind_text(st, 1, t->registry_id);
        db_bind_text(st, 2, t->name);
        db_bind_text(st, 3, t->enabled ? "enabled" : "disabled");
        db_bind_text(st, 4, t->scope[0] ? t->scope : "[]");
        for (int i = 0; i < 2; i++) {
            if (t->pw_set[i]) {
                db_bind_blob(st, 5 + i, t->pw_hmac[i], sizeof(t->pw_hmac[i]));
                db_bind_int64(st, 7 + i, t->pw_created[i] ? t->pw_created[i] : now);
            } else {
                db_bind_blob(st, 5 + i, NULL, 0);
                db_bind_text(st, 7 + i, NULL);
            }
        }
        db_bind_int64(st, 9, t->created_at ? t->created_at : now);
        rc = db_run(st, e);
    }
    rc = db_end(c, rc, e);
    if (rc == CF_OK && created)
        *created = n == 0;
    return rc;
}

cf_code meta_token_get(meta_token *out, const char *registry_id, const char *name, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TOKEN_GET);
    db_bind_text(st, 1, registry_id);
    db_bind_text(st, 2, name);
    int rc = db_step(st, e);
    cf_code out_rc;
    if (rc == DB_ROW)
        out_rc = token_row(out, st, e);
    else if (rc == DB_DONE)
        out_rc = cf_err_set(e, CF_ENOTFOUND, "token not found");
    else
        out_rc = (cf_code)rc;
    db_reset(st);
    return out_rc;
}

cf_code meta_token_each(const char *registry_id, int (*fn)(void *cls, const meta_token *t),
                        void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TOKEN_ALL);
    db_bind_text(st, 1, registry_id);
    meta_token *t = malloc(sizeof(*t));
    if (t == NULL) {
        db_reset(st);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (token_row(t, st, NULL) == CF_OK && fn(cls, t) != 0)
            break;
    }
    db_reset(st);
    free(t);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

cf_code meta_token_delete(const char *registry_id, const char *name, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TOKEN_DELETE);
    db_bind_text(st, 1, registry_id);
    db_bind_text(st, 2, name);
    cf_code rc = db_run(st, e);
    if (rc == CF_OK && db_changes(st) == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "token not found");
    return rc;
}
