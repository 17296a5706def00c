/*
 * meta_registries.c -- the registries table and registry_identities (a
 * registry's user-assigned identities): meta_registry_* of meta.h.
 *
 * A registry row carries its secrets wrapped (S under the SRK, C under
 * the customer's key, the admin passwords under the SRK). Deleting a
 * registry overwrites them in place first, so the page images the engine
 * writes hold zeros too, then deletes every row of the registry, then
 * asks the engine to scrub (db_scrub).
 */
#define CF_LOG_MOD "meta"
#include <stdio.h>
#include <string.h>

#include "store/meta_int.h"

#define REG_COLS                                                                                   \
    "SELECT id, name, sku, created_at, wrapped_s, identity, system_client_id,"                     \
    " system_principal_id, encryption_status, wrapped_c, key_identifier,"                          \
    " versioned_key_identifier, key_identity, key_rotation_enabled, last_key_rotation,"            \
    " key_status, last_key_check, last_error, admin_enabled, anonymous_pull, admin_pw1,"           \
    " admin_pw2, cred_epoch, key_checked_by, storage_limit FROM registries "
static const char SQL_REG_BY_NAME[] = REG_COLS "WHERE name = lower(?1)";
static const char SQL_REG_BY_ID[] = REG_COLS "WHERE id = ?1";
static const char SQL_REG_ALL[] = REG_COLS "ORDER BY name";

static cf_code reg_row(meta_registry *out, db_stmt *st, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    db_column_copy(out->id, sizeof(out->id), st, 0);
    db_column_copy(out->name, sizeof(out->name), st, 1);
    db_column_copy(out->sku, sizeof(out->sku), st, 2);
    out->created_at = db_column_int64(st, 3);
    size_t n = 0;
    const void *b = db_column_blob(st, 4, &n);
    if (n != sizeof(out->wrapped_s))
        return cf_err_set(e, CF_EINTEGRITY, "registry %s has a malformed wrapped key", out->name);
    memcpy(out->wrapped_s, b, sizeof(out->wrapped_s));
    db_column_copy(out->identity_type, sizeof(out->identity_type), st, 5);
    if (out->identity_type[0] == '\0')
        snprintf(out->identity_type, sizeof(out->identity_type), "None");
    db_column_copy(out->system_client_id, sizeof(out->system_client_id), st, 6);
    db_column_copy(out->system_principal_id, sizeof(out->system_principal_id), st, 7);
    const char *es = db_column_text(st, 8);
    out->cmk = es != NULL && strcmp(es, "enabled") == 0;
    b = db_column_blob(st, 9, &n);
    if (n > META_WRAPPED_MAX || (out->cmk && n == 0))
        return cf_err_set(e, CF_EINTEGRITY, "registry %s has a malformed wrapped key", out->name);
    if (n > 0) {
        memcpy(out->wrapped_c, b, n);
        out->wrapped_c_len = n;
    }
    db_column_copy(out->key_identifier, sizeof(out->key_identifier), st, 10);
    db_column_copy(out->versioned_key_identifier, sizeof(out->versioned_key_identifier), st, 11);
    db_column_copy(out->key_identity, sizeof(out->key_identity), st, 12);
    out->key_rotation_enabled = db_column_int64(st, 13) != 0;
    out->last_key_rotation = db_column_int64(st, 14);
    db_column_copy(out->key_status, sizeof(out->key_status), st, 15);
    out->last_key_check = db_column_int64(st, 16);
    db_column_copy(out->last_error, sizeof(out->last_error), st, 17);
    out->admin_enabled = db_column_int64(st, 18) != 0;
    out->anonymous_pull = db_column_int64(st, 19) != 0;
    for (int i = 0; i < 2; i++) {
        b = db_column_blob(st, 20 + i, &n);
        if (n == 0)
            continue;
        if (n != sizeof(out->admin_pw[i]))
            return cf_err_set(e, CF_EINTEGRITY, "registry %s has a malformed admin password",
                              out->name);
        memcpy(out->admin_pw[i], b, sizeof(out->admin_pw[i]));
        out->admin_pw_set[i] = 1;
    }
    out->cred_epoch = db_column_int64(st, 22);
    db_column_copy(out->key_checked_by, sizeof(out->key_checked_by), st, 23);
    out->storage_limit = db_column_int64(st, 24);
    return CF_OK;
}

static cf_code reg_get(meta_registry *out, const char *sql, const char *key, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, sql);
    db_bind_text(st, 1, key);
    int rc = db_step(st, e);
    cf_code out_rc;
    if (rc == DB_ROW)
        out_rc = reg_row(out, st, e);
    else if (rc == DB_DONE)
        out_rc = cf_err_set(e, CF_ENOTFOUND, "registry not found");
    else
        out_rc = (cf_code)rc;
    db_reset(st);
    return out_rc;
}

cf_code meta_registry_get(meta_registry *out, const char *name, cf_err *e)
{
    return reg_get(out, SQL_REG_BY_NAME, name, e);
}

cf_code meta_registry_get_id(meta_registry *out, const char *id, cf_err *e)
{
    return reg_get(out, SQL_REG_BY_ID, id, e);
}

static const char SQL_REG_INSERT[] =
    "INSERT INTO registries (id, name, sku, created_at, wrapped_s, identity, system_client_id,"
    " system_principal_id, encryption_status, wrapped_c, key_identifier,"
    " versioned_key_identifier, key_identity, key_rotation_enabled, last_key_rotation,"
    " key_status, last_key_check, last_error, admin_enabled, anonymous_pull, admin_pw1,"
    " admin_pw2, cred_epoch, storage_limit)"
    " VALUES (?1, lower(?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
    " ?18, ?19, ?20, ?21, ?22, ?23, ?24)";
static const char SQL_REG_IDENT_INSERT[] =
    "INSERT INTO registry_identities (registry_id, identity) VALUES (?1, ?2)"
    " ON CONFLICT DO NOTHING";
static const char SQL_REG_IDENT_CLEAR[] = "DELETE FROM registry_identities WHERE registry_id = ?1";

static cf_code reg_identities_insert(db *c, const char *reg, const char *const *names, size_t n,
                                     cf_err *e)
{
    cf_code rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        META_STMT(st, c, SQL_REG_IDENT_INSERT);
        db_bind_text(st, 1, reg);
        db_bind_text(st, 2, names[i]);
        rc = db_run(st, e);
    }
    return rc;
}

/* Binds admin_enabled, anonymous_pull, admin_pw1, admin_pw2, cred_epoch
 * at i..i+4. */
static void bind_auth(db_stmt *st, int i, const meta_registry *r)
{
    db_bind_int64(st, i, r->admin_enabled != 0);
    db_bind_int64(st, i + 1, r->anonymous_pull != 0);
    for (int k = 0; k < 2; k++)
        db_bind_blob(st, i + 2 + k, r->admin_pw_set[k] ? r->admin_pw[k] : NULL,
                     r->admin_pw_set[k] ? sizeof(r->admin_pw[k]) : 0);
    db_bind_int64(st, i + 4, r->cred_epoch);
}

cf_code meta_registry_create(const meta_registry *r, const char *const *identities, size_t n,
                             cf_err *e)
{
    META_CONN(c);
    cf_code out = db_begin(c, e);
    if (out != CF_OK)
        return out;
    db_stmt *st = db_prepare(c, SQL_REG_INSERT, e);
    if (st == NULL)
        return db_end(c, META_FAIL_CODE, e);
    db_bind_text(st, 1, r->id);
    db_bind_text(st, 2, r->name);
    db_bind_text(st, 3, r->sku[0] ? r->sku : "Premium");
    db_bind_int64(st, 4, r->created_at ? r->created_at : meta_now());
    db_bind_blob(st, 5, r->wrapped_s, sizeof(r->wrapped_s));
    db_bind_text(st, 6, r->identity_type[0] ? r->identity_type : "None");
    db_bind_opt_text(st, 7, r->system_client_id);
    db_bind_opt_text(st, 8, r->system_principal_id);
    db_bind_text(st, 9, r->cmk ? "enabled" : "disabled");
    db_bind_blob(st, 10, r->cmk ? r->wrapped_c : NULL, r->cmk ? r->wrapped_c_len : 0);
    db_bind_opt_text(st, 11, r->key_identifier);
    db_bind_opt_text(st, 12, r->versioned_key_identifier);
    db_bind_opt_text(st, 13, r->key_identity);
    db_bind_int64(st, 14, r->key_rotation_enabled);
    db_bind_int64(st, 15, r->last_key_rotation);
    db_bind_text(st, 16, r->key_status[0] ? r->key_status : "available");
    db_bind_int64(st, 17, r->last_key_check);
    db_bind_opt_text(st, 18, r->last_error);
    bind_auth(st, 19, r);
    db_bind_int64(st, 24, r->storage_limit > 0 ? r->storage_limit : 0);
    cf_err ie = {0};
    out = db_run(st, &ie);
    if (out == CF_EEXISTS)
        cf_err_set(e, CF_EEXISTS, "registry %s already exists", r->name);
    else if (out != CF_OK)
        cf_err_set(e, out, "%s", ie.msg);
    if (out == CF_OK)
        out = reg_identities_insert(c, r->id, identities, n, e);
    return db_end(c, out, e);
}

cf_code meta_update_one(db_stmt *st, cf_err *e)
{
    cf_code rc = db_run(st, e);
    if (rc == CF_OK && db_changes(st) == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "registry not found");
    return rc;
}

static const char SQL_REG_SET_IDENTITY[] =
    "UPDATE registries SET identity = ?2, system_client_id = ?3, system_principal_id = ?4"
    " WHERE id = ?1";

cf_code meta_registry_set_identities(const meta_registry *r, const char *const *identities,
                                     size_t n, cf_err *e)
{
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    db_stmt *st = db_prepare(c, SQL_REG_SET_IDENTITY, e);
    if (st == NULL)
        return db_end(c, META_FAIL_CODE, e);
    db_bind_text(st, 1, r->id);
    db_bind_text(st, 2, r->identity_type[0] ? r->identity_type : "None");
    db_bind_opt_text(st, 3, r->system_client_id);
    db_bind_opt_text(st, 4, r->system_principal_id);
    rc = meta_update_one(st, e);
    if (rc == CF_OK) {
        db_stmt *cl = db_prepare(c, SQL_REG_IDENT_CLEAR, e);
        if (cl == NULL)
            return db_end(c, META_FAIL_CODE, e);
        db_bind_text(cl, 1, r->id);
        rc = db_run(cl, e);
    }
    if (rc == CF_OK)
        rc = reg_identities_insert(c, r->id, identities, n, e);
    return db_end(c, rc, e);
}

static const char SQL_REG_IDENTS[] =
    "SELECT identity FROM registry_identities WHERE registry_id = ?1 ORDER BY identity";

cf_code meta_registry_identities(const char *registry_id, int (*fn)(void *cls, const char *name),
                                 void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REG_IDENTS);
    db_bind_text(st, 1, registry_id);
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (fn(cls, db_column_text(st, 0)) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static const char SQL_REG_SET_SKU[] = "UPDATE registries SET sku = ?2 WHERE id = ?1";

cf_code meta_registry_set_sku(const char *registry_id, const char *sku, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REG_SET_SKU);
    db_bind_text(st, 1, registry_id);
    db_bind_text(st, 2, sku);
    return meta_update_one(st, e);
}

static const char SQL_REG_SET_KEY[] =
    "UPDATE registries SET key_identifier = ?2, versioned_key_identifier = ?3,"
    " key_identity = ?4, key_rotation_enabled = ?5, last_key_rotation = ?6, wrapped_c = ?7"
    " WHERE id = ?1 AND encryption_status = 'enabled'";

cf_code meta_registry_set_key(const meta_registry *r, cf_err *e)
{
    if (r->wrapped_c_len == 0 || r->wrapped_c_len > META_WRAPPED_MAX)
        return cf_err_set(e, CF_EINVAL, "no wrapped key to store");
    META_CONN(c);
    META_STMT(st, c, SQL_REG_SET_KEY);
    db_bind_text(st, 1, r->id);
    db_bind_text(st, 2, r->key_identifier);
    db_bind_text(st, 3, r->versioned_key_identifier);
    db_bind_text(st, 4, r->key_identity);
    db_bind_int64(st, 5, r->key_rotation_enabled);
    db_bind_int64(st, 6, r->last_key_rotation);
    db_bind_blob(st, 7, r->wrapped_c, r->wrapped_c_len);
    return meta_update_one(st, e);
}

static const char SQL_REG_SWAP_KEY[] =
    "UPDATE registries SET key_identifier = ?2, versioned_key_identifier = ?3,"
    " key_identity = ?4, key_rotation_enabled = ?5, last_key_rotation = ?6, wrapped_c = ?7"
    " WHERE id = ?1 AND encryption_status = 'enabled' AND versioned_key_identifier = ?8"
    " AND key_identity = ?9";

cf_code meta_registry_swap_key(const meta_registry *r, const char *expect_versioned,
                               const char *expect_identity, cf_err *e)
{
    if (r->wrapped_c_len == 0 || r->wrapped_c_len > META_WRAPPED_MAX)
        return cf_err_set(e, CF_EINVAL, "no wrapped key to store");
    META_CONN(c);
    META_STMT(st, c, SQL_REG_SWAP_KEY);
    db_bind_text(st, 1, r->id);
    db_bind_text(st, 2, r->key_identifier);
    db_bind_text(st, 3, r->versioned_key_identifier);
    db_bind_text(st, 4, r->key_identity);
    db_bind_int64(st, 5, r->key_rotation_enabled);
    db_bind_int64(st, 6, r->last_key_rotation);
    db_bind_blob(st, 7, r->wrapped_c, r->wrapped_c_len);
    db_bind_text(st, 8, expect_versioned);
    db_bind_text(st, 9, expect_identity);
    int rc = db_step(st, e);
    int64_t n = rc == DB_DONE ? db_changes(st) : 0;
    db_reset(st);
    if (rc < 0)
        return (cf_code)rc;
    if (n == 0)
        return cf_err_set(e, CF_ECONFLICT, "the registry's key changed meanwhile");
    return CF_OK;
}

static const char SQL_REG_SET_KEY_STATE[] =
    "UPDATE registries SET key_status = ?2, last_key_check = ?3, last_error = ?4,"
    " key_checked_by = ?5 WHERE id = ?1";

cf_code meta_registry_set_key_state(const char *registry_id, const char *key_status,
                                    int64_t checked, const char *last_error, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REG_SET_KEY_STATE);
    db_bind_text(st, 1, registry_id);
    db_bind_text(st, 2, key_status);
    db_bind_int64(st, 3, checked);
    db_bind_opt_text(st, 4, last_error);
    db_bind_opt_text(st, 5, meta_node());
    return meta_update_one(st, e);
}

static const char SQL_REG_SET_AUTH[] =
    "UPDATE registries SET admin_enabled = ?2, anonymous_pull = ?3, admin_pw1 = ?4,"
    " admin_pw2 = ?5, cred_epoch = ?6 WHERE id = ?1";

cf_code meta_registry_set_auth(const meta_registry *r, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REG_SET_AUTH);
    db_bind_text(st, 1, r->id);
    bind_auth(st, 2, r);
    return meta_update_one(st, e);
}

static const char SQL_REG_SET_LIMIT[] = "UPDATE registries SET storage_limit = ?2 WHERE id = ?1";

cf_code meta_registry_set_storage_limit(const char *registry_id, int64_t limit, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REG_SET_LIMIT);
    db_bind_text(st, 1, registry_id);
    db_bind_int64(st, 2, limit > 0 ? limit : 0);
    return meta_update_one(st, e);
}

/* One range scan of the registry's blob rows (the primary key's prefix);
 * integer division on both engines. */
static const char SQL_REG_USAGE[] =
    "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(size / ?2), 0) FROM blobs"
    " WHERE registry_id = ?1";

cf_code meta_registry_usage(meta_usage *out, const char *registry_id, int64_t segment, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (segment <= 0)
        return cf_err_set(e, CF_EINVAL, "segment size must be positive");
    META_CONN(c);
    META_STMT(st, c, SQL_REG_USAGE);
    db_bind_text(st, 1, registry_id);
    db_bind_int64(st, 2, segment);
    int rc = db_step(st, e);
    if (rc == DB_ROW) {
        out->blobs = db_column_int64(st, 0);
        out->bytes = db_column_int64(st, 1);
        out->full_segments = db_column_int64(st, 2);
    }
    db_reset(st);
    return rc == DB_ROW ? CF_OK : rc < 0 ? (cf_code)rc : cf_err_set(e, CF_EIO, "no usage row");
}

/* Deletion: the wrapped secrets are overwritten in place first (so the
 * page images the engine writes hold zeros too), then every row of the
 * registry goes; then the engine scrubs (SQLite: secure_delete has zeroed
 * the freed pages, a checkpoint moves them into the main file and
 * truncates the WAL). */
static const char SQL_REG_WIPE[] =
    "UPDATE registries SET wrapped_s = ?2, wrapped_c = NULL, admin_pw1 = NULL,"
    " admin_pw2 = NULL WHERE id = ?1";
static const char *const SQL_REG_DELETE[] = {
    "UPDATE tokens SET pw1_hmac = NULL, pw2_hmac = NULL WHERE registry_id = ?1",
    "DELETE FROM tokens WHERE registry_id = ?1",
    "DELETE FROM retention_policies WHERE registry_id = ?1",
    "DELETE FROM tags WHERE registry_id = ?1",
    "DELETE FROM manifest_refs WHERE registry_id = ?1",
    "DELETE FROM manifests WHERE registry_id = ?1",
    "DELETE FROM repo_blobs WHERE registry_id = ?1",
    "DELETE FROM blobs WHERE registry_id = ?1",
    "DELETE FROM repositories WHERE registry_id = ?1",
    "DELETE FROM uploads WHERE registry_id = ?1",
    "DELETE FROM tasks WHERE registry_id = ?1",
    "DELETE FROM task_runs WHERE registry_id = ?1",
    "DELETE FROM registry_identities WHERE registry_id = ?1",
    "DELETE FROM registries WHERE id = ?1",
};

cf_code meta_registry_delete(const char *registry_id, cf_err *e)
{
    static const unsigned char zeros[sizeof(((meta_registry *)0)->wrapped_s)];
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    db_stmt *st = db_prepare(c, SQL_REG_WIPE, e);
    if (st == NULL)
        return db_end(c, META_FAIL_CODE, e);
    db_bind_text(st, 1, registry_id);
    db_bind_blob(st, 2, zeros, sizeof(zeros));
    rc = meta_update_one(st, e);
    for (size_t i = 0; rc == CF_OK && i < sizeof(SQL_REG_DELETE) / sizeof(SQL_REG_DELETE[0]); i++) {
        db_stmt *d = db_prepare(c, SQL_REG_DELETE[i], e);
        if (d == NULL)
            return db_end(c, META_FAIL_CODE, e);
        db_bind_text(d, 1, registry_id);
        rc = db_run(d, e);
    }
    rc = db_end(c, rc, e);
    if (rc == CF_OK)
        db_scrub(c);
    return rc;
}

cf_code meta_registry_each(int (*fn)(void *cls, const meta_registry *r), void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REG_ALL);
    meta_registry r;
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (reg_row(&r, st, NULL) == CF_OK && fn(cls, &r) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}
