/*
 * meta.c -- see meta.h. Every statement's text is a static string; the
 * per-thread cache is keyed by that pointer, so a statement is prepared
 * once per thread and reset after each use.
 */
#define CF_LOG_MOD "meta"
#include "store/meta.h"
#include "store/meta_sql.h"

#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define STMT_CACHE 160

typedef struct conn {
    sqlite3 *db;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE];
    int n;
    struct conn *next;
} conn;

static char *db_path;
static pthread_key_t conn_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static conn *conns; /* every open connection, for meta_shutdown */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS registries ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, sku TEXT NOT NULL DEFAULT 'Premium',"
    " login_server TEXT, created_at INTEGER NOT NULL,"
    " identity TEXT,"
    " encryption_status TEXT NOT NULL DEFAULT 'disabled',"
    " key_identifier TEXT, versioned_key_identifier TEXT, key_identity TEXT,"
    " key_rotation_enabled INTEGER NOT NULL DEFAULT 0, last_key_rotation INTEGER,"
    " key_status TEXT NOT NULL DEFAULT 'available', last_key_check INTEGER, last_error TEXT,"
    " wrapped_s BLOB NOT NULL, wrapped_c BLOB);"
    "CREATE TABLE IF NOT EXISTS identities ("
    " name TEXT PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, principal_id TEXT NOT NULL UNIQUE,"
    " tenant_id TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS registry_identities ("
    " registry_id TEXT NOT NULL, identity TEXT NOT NULL,"
    " PRIMARY KEY (registry_id, identity)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS registry_identities_identity ON registry_identities (identity);"
    "CREATE TABLE IF NOT EXISTS repositories ("
    " registry_id TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blobs ("
    " registry_id TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, PRIMARY KEY (registry_id, digest)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS repo_blobs ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs (registry_id, digest);"
    "CREATE TABLE IF NOT EXISTS manifests ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " media_type TEXT NOT NULL, size INTEGER NOT NULL, artifact_type TEXT,"
    " subject TEXT, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifests_subject ON manifests (registry_id, repo, subject);"
    "CREATE INDEX IF NOT EXISTS manifests_digest ON manifests (registry_id, digest);"
    "CREATE TABLE IF NOT EXISTS manifest_refs ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " ref TEXT NOT NULL, is_manifest INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest, ref)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifest_refs_ref ON manifest_refs (registry_id, ref);"
    "CREATE TABLE IF NOT EXISTS tags ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY (registry_id, repo, tag)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tokens ("
    " registry_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, scope TEXT NOT NULL,"
    " pw1_hmac BLOB, pw2_hmac BLOB, pw1_created INTEGER, pw2_created INTEGER,"
    " created_at INTEGER NOT NULL, PRIMARY KEY (registry_id, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS uploads ("
    " uuid TEXT PRIMARY KEY, registry_id TEXT NOT NULL, repo TEXT NOT NULL,"
    " created_at INTEGER NOT NULL) WITHOUT ROWID;";

static cf_code sql_err(cf_err *e, sqlite3 *db, const char *what)
{
    int rc = sqlite3_errcode(db);
    cf_code code = (rc == SQLITE_FULL) ? CF_ENOSPACE : CF_EIO;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        code = CF_EUNAVAIL;
    return cf_err_set(e, code, "sqlite %s: %s", what, sqlite3_errmsg(db));
}

static void conn_close(conn *c)
{
    for (int i = 0; i < c->n; i++)
        sqlite3_finalize(c->cache[i].st);
    sqlite3_close(c->db);
    free(c);
}

static void conn_destroy(void *p)
{
    conn *c = p;
    pthread_mutex_lock(&conns_mu);
    for (conn **pp = &conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&conns_mu);
    conn_close(c);
}

static void make_key(void)
{
    pthread_key_create(&conn_key, conn_destroy);
}

static cf_code conn_open(sqlite3 **out, cf_err *e)
{
    sqlite3 *db = NULL;
    if (db_path == NULL)
        return cf_err_set(e, CF_EINVAL, "metadata store not initialised");
    int rc = sqlite3_open_v2(
        db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        cf_code c = cf_err_set(e, CF_EIO, "open %s: %s", db_path,
                               db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return c;
    }
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                     " PRAGMA secure_delete=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        cf_code c = cf_err_set(e, CF_EIO, "configure database: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return c;
    }
    *out = db;
    return CF_OK;
}

static conn *get_conn(cf_err *e)
{
    pthread_once(&key_once, make_key);
    conn *c = pthread_getspecific(conn_key);
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cf_err_set(e, CF_ENOMEM, "out of memory");
        return NULL;
    }
    if (conn_open(&c->db, e) != CF_OK) {
        free(c);
        return NULL;
    }
    pthread_setspecific(conn_key, c);
    pthread_mutex_lock(&conns_mu);
    c->next = conns;
    conns = c;
    pthread_mutex_unlock(&conns_mu);
    return c;
}

/* The cached statement for sql (a static string), reset and unbound. */
static sqlite3_stmt *stmt(conn *c, const char *sql, cf_err *e)
{
    for (int i = 0; i < c->n; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].st);
            sqlite3_clear_bindings(c->cache[i].st);
            return c->cache[i].st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sql_err(e, c->db, "prepare");
        return NULL;
    }
    if (c->n < STMT_CACHE) {
        c->cache[c->n].sql = sql;
        c->cache[c->n].st = st;
        c->n++;
    } else {
        /* cannot happen with the fixed set below; keep it correct anyway */
        sqlite3_finalize(st);
        cf_err_set(e, CF_EIO, "statement cache full");
        return NULL;
    }
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
static cf_code run(conn *c, sqlite3_stmt *st, cf_err *e)
{
    int rc = sqlite3_step(st);
    cf_code out = CF_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = sql_err(e, c->db, "step");
    sqlite3_reset(st);
    return out;
}

static cf_code exec(conn *c, const char *sql, cf_err *e)
{
    sqlite3_stmt *st = stmt(c, sql, e);
    if (st == NULL)
        return e ? e->code : CF_EIO;
    return run(c, st, e);
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

static cf_code tx_begin(conn *c, cf_err *e)
{
    return exec(c, SQL_BEGIN, e);
}

static cf_code tx_end(conn *c, cf_code rc, cf_err *e)
{
    if (rc == CF_OK)
        rc = exec(c, SQL_COMMIT, e);
    if (rc != CF_OK && sqlite3_get_autocommit(c->db) == 0)
        exec(c, SQL_ROLLBACK, NULL);
    return rc;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

#define CONN_OR_FAIL(c)                                                                            \
    conn *c = get_conn(e);                                                                         \
    if (c == NULL)                                                                                 \
        return e && e->code ? e->code : CF_EIO;
#define STMT_OR_FAIL(st, c, sql)                                                                   \
    sqlite3_stmt *st = stmt(c, sql, e);                                                            \
    if (st == NULL)                                                                                \
        return e && e->code ? e->code : CF_EIO;

cf_code meta_init(const char *path, cf_err *e)
{
    free(db_path);
    db_path = strdup(path);
    if (db_path == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    sqlite3 *db = NULL;
    cf_code rc = conn_open(&db, e);
    if (rc != CF_OK)
        return rc;
    char *msg = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        rc = cf_err_set(e, CF_EIO, "create schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
    }
    /* columns added after the first schema: add them to older databases
     * ("duplicate column" is the expected answer on a current one) */
    static const char *const added[] = {
        "ALTER TABLE registries ADD COLUMN system_client_id TEXT",
        "ALTER TABLE registries ADD COLUMN system_principal_id TEXT",
        "ALTER TABLE registries ADD COLUMN admin_enabled INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE registries ADD COLUMN anonymous_pull INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE registries ADD COLUMN admin_pw1 BLOB",
        "ALTER TABLE registries ADD COLUMN admin_pw2 BLOB",
        "ALTER TABLE registries ADD COLUMN cred_epoch INTEGER NOT NULL DEFAULT 0",
    };
    for (size_t i = 0; rc == CF_OK && i < sizeof(added) / sizeof(added[0]); i++) {
        if (sqlite3_exec(db, added[i], NULL, NULL, &msg) != SQLITE_OK) {
            if (msg == NULL || strstr(msg, "duplicate column") == NULL)
                rc = cf_err_set(e, CF_EIO, "upgrade schema: %s", msg ? msg : "?");
            sqlite3_free(msg);
            msg = NULL;
        }
    }
    sqlite3_close(db);
    return rc;
}

void meta_shutdown(void)
{
    pthread_mutex_lock(&conns_mu);
    conn *c = conns;
    conns = NULL;
    pthread_mutex_unlock(&conns_mu);
    while (c) {
        conn *next = c->next;
        /* this thread's own key still points at it: clear so the
         * destructor does not run twice */
        if (pthread_getspecific(conn_key) == c)
            pthread_setspecific(conn_key, NULL);
        conn_close(c);
        c = next;
    }
    free(db_path);
    db_path = NULL;
}

/* ---- registries ---- */

static cf_code one_int(conn *c, sqlite3_stmt *st, int64_t *v, const char *what, cf_err *e);

#define REG_COLS                                                                                   \
    "SELECT id, name, sku, created_at, wrapped_s, identity, system_client_id,"                     \
    " system_principal_id, encryption_status, wrapped_c, key_identifier,"                          \
    " versioned_key_identifier, key_identity, key_rotation_enabled, last_key_rotation,"            \
    " key_status, last_key_check, last_error, admin_enabled, anonymous_pull, admin_pw1,"           \
    " admin_pw2, cred_epoch FROM registries "
static const char SQL_REG_BY_NAME[] = REG_COLS "WHERE name = lower(?1)";
static const char SQL_REG_BY_ID[] = REG_COLS "WHERE id = ?1";
static const char SQL_REG_ALL[] = REG_COLS "ORDER BY name";

static void col_text(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static cf_code reg_row(meta_registry *out, sqlite3_stmt *st, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    col_text(out->id, sizeof(out->id), st, 0);
    col_text(out->name, sizeof(out->name), st, 1);
    col_text(out->sku, sizeof(out->sku), st, 2);
    out->created_at = sqlite3_column_int64(st, 3);
    if (sqlite3_column_bytes(st, 4) != (int)sizeof(out->wrapped_s))
        return cf_err_set(e, CF_EINTEGRITY, "registry %s has a malformed wrapped key", out->name);
    memcpy(out->wrapped_s, sqlite3_column_blob(st, 4), sizeof(out->wrapped_s));
    col_text(out->identity_type, sizeof(out->identity_type), st, 5);
    if (out->identity_type[0] == '\0')
        snprintf(out->identity_type, sizeof(out->identity_type), "None");
    col_text(out->system_client_id, sizeof(out->system_client_id), st, 6);
    col_text(out->system_principal_id, sizeof(out->system_principal_id), st, 7);
    const unsigned char *es = sqlite3_column_text(st, 8);
    out->cmk = es != NULL && strcmp((const char *)es, "enabled") == 0;
    int cl = sqlite3_column_bytes(st, 9);
    if (cl > META_WRAPPED_MAX || (out->cmk && cl == 0))
        return cf_err_set(e, CF_EINTEGRITY, "registry %s has a malformed wrapped key", out->name);
    if (cl > 0) {
        memcpy(out->wrapped_c, sqlite3_column_blob(st, 9), (size_t)cl);
        out->wrapped_c_len = (size_t)cl;
    }
    col_text(out->key_identifier, sizeof(out->key_identifier), st, 10);
    col_text(out->versioned_key_identifier, sizeof(out->versioned_key_identifier), st, 11);
    col_text(out->key_identity, sizeof(out->key_identity), st, 12);
    out->key_rotation_enabled = sqlite3_column_int(st, 13) != 0;
    out->last_key_rotation = sqlite3_column_int64(st, 14);
    col_text(out->key_status, sizeof(out->key_status), st, 15);
    out->last_key_check = sqlite3_column_int64(st, 16);
    col_text(out->last_error, sizeof(out->last_error), st, 17);
    out->admin_enabled = sqlite3_column_int(st, 18) != 0;
    out->anonymous_pull = sqlite3_column_int(st, 19) != 0;
    for (int i = 0; i < 2; i++) {
        int n = sqlite3_column_bytes(st, 20 + i);
        if (n == 0)
            continue;
        if (n != (int)sizeof(out->admin_pw[i]))
            return cf_err_set(e, CF_EINTEGRITY, "registry %s has a malformed admin password",
                              out->name);
        memcpy(out->admin_pw[i], sqlite3_column_blob(st, 20 + i), sizeof(out->admin_pw[i]));
        out->admin_pw_set[i] = 1;
    }
    out->cred_epoch = sqlite3_column_int64(st, 22);
    return CF_OK;
}

static cf_code reg_get(meta_registry *out, const char *sql, const char *key, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, sql);
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    cf_code out_rc;
    if (rc == SQLITE_ROW)
        out_rc = reg_row(out, st, e);
    else if (rc == SQLITE_DONE)
        out_rc = cf_err_set(e, CF_ENOTFOUND, "registry not found");
    else
        out_rc = sql_err(e, c->db, "registry lookup");
    sqlite3_reset(st);
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

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    bind_text(st, i, v && v[0] ? v : NULL);
}

static const char SQL_REG_INSERT[] =
    "INSERT INTO registries (id, name, sku, created_at, wrapped_s, identity, system_client_id,"
    " system_principal_id, encryption_status, wrapped_c, key_identifier,"
    " versioned_key_identifier, key_identity, key_rotation_enabled, last_key_rotation,"
    " key_status, last_key_check, last_error, admin_enabled, anonymous_pull, admin_pw1,"
    " admin_pw2, cred_epoch)"
    " VALUES (?1, lower(?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
    " ?18, ?19, ?20, ?21, ?22, ?23)";
static const char SQL_REG_IDENT_INSERT[] =
    "INSERT OR IGNORE INTO registry_identities (registry_id, identity) VALUES (?1, ?2)";
static const char SQL_REG_IDENT_CLEAR[] = "DELETE FROM registry_identities WHERE registry_id = ?1";

static cf_code reg_identities_insert(conn *c, const char *reg, const char *const *names, size_t n,
                                     cf_err *e)
{
    cf_code rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        STMT_OR_FAIL(st, c, SQL_REG_IDENT_INSERT);
        bind_text(st, 1, reg);
        bind_text(st, 2, names[i]);
        rc = run(c, st, e);
    }
    return rc;
}

/* Binds admin_enabled, anonymous_pull, admin_pw1, admin_pw2, cred_epoch
 * at i..i+4. */
static void bind_auth(sqlite3_stmt *st, int i, const meta_registry *r)
{
    sqlite3_bind_int(st, i, r->admin_enabled != 0);
    sqlite3_bind_int(st, i + 1, r->anonymous_pull != 0);
    for (int k = 0; k < 2; k++) {
        if (r->admin_pw_set[k])
            sqlite3_bind_blob(st, i + 2 + k, r->admin_pw[k], sizeof(r->admin_pw[k]), SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 2 + k);
    }
    sqlite3_bind_int64(st, i + 4, r->cred_epoch);
}

cf_code meta_registry_create(const meta_registry *r, const char *const *identities, size_t n,
                             cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code out = tx_begin(c, e);
    if (out != CF_OK)
        return out;
    sqlite3_stmt *st = stmt(c, SQL_REG_INSERT, e);
    if (st == NULL)
        return tx_end(c, e && e->code ? e->code : CF_EIO, e);
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->sku[0] ? r->sku : "Premium");
    sqlite3_bind_int64(st, 4, r->created_at ? r->created_at : now_s());
    sqlite3_bind_blob(st, 5, r->wrapped_s, sizeof(r->wrapped_s), SQLITE_STATIC);
    bind_text(st, 6, r->identity_type[0] ? r->identity_type : "None");
    bind_opt_text(st, 7, r->system_client_id);
    bind_opt_text(st, 8, r->system_principal_id);
    bind_text(st, 9, r->cmk ? "enabled" : "disabled");
    if (r->cmk)
        sqlite3_bind_blob(st, 10, r->wrapped_c, (int)r->wrapped_c_len, SQLITE_STATIC);
    bind_opt_text(st, 11, r->key_identifier);
    bind_opt_text(st, 12, r->versioned_key_identifier);
    bind_opt_text(st, 13, r->key_identity);
    sqlite3_bind_int(st, 14, r->key_rotation_enabled);
    sqlite3_bind_int64(st, 15, r->last_key_rotation);
    bind_text(st, 16, r->key_status[0] ? r->key_status : "available");
    sqlite3_bind_int64(st, 17, r->last_key_check);
    bind_opt_text(st, 18, r->last_error);
    bind_auth(st, 19, r);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT)
        out = cf_err_set(e, CF_EEXISTS, "registry %s already exists", r->name);
    else if (rc != SQLITE_DONE)
        out = sql_err(e, c->db, "create registry");
    sqlite3_reset(st);
    if (out == CF_OK)
        out = reg_identities_insert(c, r->id, identities, n, e);
    return tx_end(c, out, e);
}

static const char SQL_REG_SET_IDENTITY[] =
    "UPDATE registries SET identity = ?2, system_client_id = ?3, system_principal_id = ?4"
    " WHERE id = ?1";

/* Runs st (bound by the caller, ?1 = registry id) and reports a missing
 * registry as CF_ENOTFOUND. */
static cf_code reg_update(conn *c, sqlite3_stmt *st, cf_err *e)
{
    cf_code rc = run(c, st, e);
    if (rc == CF_OK && sqlite3_changes(c->db) == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "registry not found");
    return rc;
}

cf_code meta_registry_set_identities(const meta_registry *r, const char *const *identities,
                                     size_t n, cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    sqlite3_stmt *st = stmt(c, SQL_REG_SET_IDENTITY, e);
    if (st == NULL)
        return tx_end(c, e && e->code ? e->code : CF_EIO, e);
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->identity_type[0] ? r->identity_type : "None");
    bind_opt_text(st, 3, r->system_client_id);
    bind_opt_text(st, 4, r->system_principal_id);
    rc = reg_update(c, st, e);
    if (rc == CF_OK) {
        sqlite3_stmt *cl = stmt(c, SQL_REG_IDENT_CLEAR, e);
        if (cl == NULL)
            return tx_end(c, e && e->code ? e->code : CF_EIO, e);
        bind_text(cl, 1, r->id);
        rc = run(c, cl, e);
    }
    if (rc == CF_OK)
        rc = reg_identities_insert(c, r->id, identities, n, e);
    return tx_end(c, rc, e);
}

static const char SQL_REG_IDENTS[] =
    "SELECT identity FROM registry_identities WHERE registry_id = ?1 ORDER BY identity";

cf_code meta_registry_identities(const char *registry_id, int (*fn)(void *cls, const char *name),
                                 void *cls, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REG_IDENTS);
    bind_text(st, 1, registry_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(cls, (const char *)sqlite3_column_text(st, 0)) != 0)
            break;
    }
    cf_code out = CF_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "list registry identities");
    sqlite3_reset(st);
    return out;
}

static const char SQL_REG_SET_SKU[] = "UPDATE registries SET sku = ?2 WHERE id = ?1";

cf_code meta_registry_set_sku(const char *registry_id, const char *sku, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REG_SET_SKU);
    bind_text(st, 1, registry_id);
    bind_text(st, 2, sku);
    return reg_update(c, st, e);
}

static const char SQL_REG_SET_KEY[] =
    "UPDATE registries SET key_identifier = ?2, versioned_key_identifier = ?3,"
    " key_identity = ?4, key_rotation_enabled = ?5, last_key_rotation = ?6, wrapped_c = ?7"
    " WHERE id = ?1 AND encryption_status = 'enabled'";

cf_code meta_registry_set_key(const meta_registry *r, cf_err *e)
{
    if (r->wrapped_c_len == 0 || r->wrapped_c_len > META_WRAPPED_MAX)
        return cf_err_set(e, CF_EINVAL, "no wrapped key to store");
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REG_SET_KEY);
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->key_identifier);
    bind_text(st, 3, r->versioned_key_identifier);
    bind_text(st, 4, r->key_identity);
    sqlite3_bind_int(st, 5, r->key_rotation_enabled);
    sqlite3_bind_int64(st, 6, r->last_key_rotation);
    sqlite3_bind_blob(st, 7, r->wrapped_c, (int)r->wrapped_c_len, SQLITE_STATIC);
    return reg_update(c, st, e);
}

static const char SQL_REG_SET_KEY_STATE[] =
    "UPDATE registries SET key_status = ?2, last_key_check = ?3, last_error = ?4 WHERE id = ?1";

cf_code meta_registry_set_key_state(const char *registry_id, const char *key_status,
                                    int64_t checked, const char *last_error, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REG_SET_KEY_STATE);
    bind_text(st, 1, registry_id);
    bind_text(st, 2, key_status);
    sqlite3_bind_int64(st, 3, checked);
    bind_opt_text(st, 4, last_error);
    return reg_update(c, st, e);
}

static const char SQL_REG_SET_AUTH[] =
    "UPDATE registries SET admin_enabled = ?2, anonymous_pull = ?3, admin_pw1 = ?4,"
    " admin_pw2 = ?5, cred_epoch = ?6 WHERE id = ?1";

cf_code meta_registry_set_auth(const meta_registry *r, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REG_SET_AUTH);
    bind_text(st, 1, r->id);
    bind_auth(st, 2, r);
    return reg_update(c, st, e);
}

/* Deletion: the wrapped secrets are overwritten in place first (so the
 * page images in the WAL hold zeros too), then every row of the registry
 * goes; secure_delete zeroes freed pages, the checkpoint moves the result
 * into the main file and truncates the WAL. */
static const char SQL_REG_WIPE[] =
    "UPDATE registries SET wrapped_s = zeroblob(60), wrapped_c = NULL, admin_pw1 = NULL,"
    " admin_pw2 = NULL WHERE id = ?1";
static const char *const SQL_REG_DELETE[] = {
    "UPDATE tokens SET pw1_hmac = NULL, pw2_hmac = NULL WHERE registry_id = ?1",
    "DELETE FROM tokens WHERE registry_id = ?1",
    "DELETE FROM tags WHERE registry_id = ?1",
    "DELETE FROM manifest_refs WHERE registry_id = ?1",
    "DELETE FROM manifests WHERE registry_id = ?1",
    "DELETE FROM repo_blobs WHERE registry_id = ?1",
    "DELETE FROM blobs WHERE registry_id = ?1",
    "DELETE FROM repositories WHERE registry_id = ?1",
    "DELETE FROM uploads WHERE registry_id = ?1",
    "DELETE FROM registry_identities WHERE registry_id = ?1",
    "DELETE FROM registries WHERE id = ?1",
};

cf_code meta_registry_delete(const char *registry_id, cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    sqlite3_stmt *st = stmt(c, SQL_REG_WIPE, e);
    if (st == NULL)
        return tx_end(c, e && e->code ? e->code : CF_EIO, e);
    bind_text(st, 1, registry_id);
    rc = reg_update(c, st, e);
    for (size_t i = 0; rc == CF_OK && i < sizeof(SQL_REG_DELETE) / sizeof(SQL_REG_DELETE[0]); i++) {
        sqlite3_stmt *d = stmt(c, SQL_REG_DELETE[i], e);
        if (d == NULL)
            return tx_end(c, e && e->code ? e->code : CF_EIO, e);
        bind_text(d, 1, registry_id);
        rc = run(c, d, e);
    }
    rc = tx_end(c, rc, e);
    if (rc == CF_OK &&
        sqlite3_exec(c->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
        cf_log(CF_LOG_WARN, "checkpoint after registry deletion failed", "error",
               sqlite3_errmsg(c->db), NULL);
    return rc;
}

cf_code meta_registry_each(int (*fn)(void *cls, const meta_registry *r), void *cls, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REG_ALL);
    cf_code out = CF_OK;
    meta_registry r;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (reg_row(&r, st, NULL) == CF_OK && fn(cls, &r) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "list registries");
    sqlite3_reset(st);
    return out;
}

/* ---- tokens ---- */

#define TOKEN_COLS                                                                                 \
    "SELECT registry_id, name, status, scope, pw1_hmac, pw2_hmac, pw1_created, pw2_created,"       \
    " created_at FROM tokens "
static const char SQL_TOKEN_GET[] = TOKEN_COLS "WHERE registry_id = ?1 AND name = ?2";
static const char SQL_TOKEN_ALL[] = TOKEN_COLS "WHERE registry_id = ?1 ORDER BY name";
static const char SQL_TOKEN_EXISTS[] =
    "SELECT count(*) FROM tokens WHERE registry_id = ?1 AND name = ?2";
static const char SQL_TOKEN_PUT[] =
    "INSERT OR REPLACE INTO tokens (registry_id, name, status, scope, pw1_hmac, pw2_hmac,"
    " pw1_created, pw2_created, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_TOKEN_DELETE[] = "DELETE FROM tokens WHERE registry_id = ?1 AND name = ?2";

static cf_code token_row(meta_token *out, sqlite3_stmt *st, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    col_text(out->registry_id, sizeof(out->registry_id), st, 0);
    col_text(out->name, sizeof(out->name), st, 1);
    const unsigned char *status = sqlite3_column_text(st, 2);
    out->enabled = status != NULL && strcmp((const char *)status, "enabled") == 0;
    if (sqlite3_column_bytes(st, 3) >= (int)sizeof(out->scope))
        return cf_err_set(e, CF_EINTEGRITY, "token %s has an oversized scope", out->name);
    col_text(out->scope, sizeof(out->scope), st, 3);
    for (int i = 0; i < 2; i++) {
        int n = sqlite3_column_bytes(st, 4 + i);
        if (n == 0)
            continue;
        if (n != (int)sizeof(out->pw_hmac[i]))
            return cf_err_set(e, CF_EINTEGRITY, "token %s has a malformed password hash",
                              out->name);
        memcpy(out->pw_hmac[i], sqlite3_column_blob(st, 4 + i), sizeof(out->pw_hmac[i]));
        out->pw_set[i] = 1;
        out->pw_created[i] = sqlite3_column_int64(st, 6 + i);
    }
    out->created_at = sqlite3_column_int64(st, 8);
    return CF_OK;
}

cf_code meta_token_put(const meta_token *t, int *created, cf_err *e)
{
    if (strlen(t->scope) >= sizeof(t->scope) - 1)
        return cf_err_set(e, CF_ETOOBIG, "token scope too large");
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int64_t n = 0;
    sqlite3_stmt *st = stmt(c, SQL_TOKEN_EXISTS, e);
    if (st == NULL)
        return tx_end(c, e && e->code ? e->code : CF_EIO, e);
    bind_text(st, 1, t->registry_id);
    bind_text(st, 2, t->name);
    rc = one_int(c, st, &n, "token lookup", e);
    if (rc == CF_OK) {
        st = stmt(c, SQL_TOKEN_PUT, e);
        if (st == NULL)
            return tx_end(c, e && e->code ? e->code : CF_EIO, e);
        bind_text(st, 1, t->registry_id);
        bind_text(st, 2, t->name);
        bind_text(st, 3, t->enabled ? "enabled" : "disabled");
        bind_text(st, 4, t->scope[0] ? t->scope : "[]");
        for (int i = 0; i < 2; i++) {
            if (t->pw_set[i]) {
                sqlite3_bind_blob(st, 5 + i, t->pw_hmac[i], sizeof(t->pw_hmac[i]), SQLITE_STATIC);
                sqlite3_bind_int64(st, 7 + i, t->pw_created[i] ? t->pw_created[i] : now_s());
            } else {
                sqlite3_bind_null(st, 5 + i);
                sqlite3_bind_null(st, 7 + i);
            }
        }
        sqlite3_bind_int64(st, 9, t->created_at ? t->created_at : now_s());
        rc = run(c, st, e);
    }
    rc = tx_end(c, rc, e);
    if (rc == CF_OK && created)
        *created = n == 0;
    return rc;
}

cf_code meta_token_get(meta_token *out, const char *registry_id, const char *name, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_TOKEN_GET);
    bind_text(st, 1, registry_id);
    bind_text(st, 2, name);
    int rc = sqlite3_step(st);
    cf_code out_rc;
    if (rc == SQLITE_ROW)
        out_rc = token_row(out, st, e);
    else if (rc == SQLITE_DONE)
        out_rc = cf_err_set(e, CF_ENOTFOUND, "token not found");
    else
        out_rc = sql_err(e, c->db, "token lookup");
    sqlite3_reset(st);
    return out_rc;
}

cf_code meta_token_each(const char *registry_id, int (*fn)(void *cls, const meta_token *t),
                        void *cls, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_TOKEN_ALL);
    bind_text(st, 1, registry_id);
    meta_token *t = malloc(sizeof(*t));
    if (t == NULL) {
        sqlite3_reset(st);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    cf_code out = CF_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (token_row(t, st, NULL) == CF_OK && fn(cls, t) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "list tokens");
    sqlite3_reset(st);
    free(t);
    return out;
}

cf_code meta_token_delete(const char *registry_id, const char *name, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_TOKEN_DELETE);
    bind_text(st, 1, registry_id);
    bind_text(st, 2, name);
    cf_code rc = run(c, st, e);
    if (rc == CF_OK && sqlite3_changes(c->db) == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "token not found");
    return rc;
}

/* ---- identities ---- */

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

static void ident_row(meta_identity *out, sqlite3_stmt *st)
{
    memset(out, 0, sizeof(*out));
    col_text(out->name, sizeof(out->name), st, 0);
    col_text(out->client_id, sizeof(out->client_id), st, 1);
    col_text(out->principal_id, sizeof(out->principal_id), st, 2);
    col_text(out->tenant_id, sizeof(out->tenant_id), st, 3);
    out->created_at = sqlite3_column_int64(st, 4);
}

static cf_code ident_get(meta_identity *out, const char *sql, const char *key, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, sql);
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    cf_code out_rc = CF_OK;
    if (rc == SQLITE_ROW)
        ident_row(out, st);
    else if (rc == SQLITE_DONE)
        out_rc = cf_err_set(e, CF_ENOTFOUND, "identity not found");
    else
        out_rc = sql_err(e, c->db, "identity lookup");
    sqlite3_reset(st);
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
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_IDENT_INSERT);
    bind_text(st, 1, id->name);
    bind_text(st, 2, id->client_id);
    bind_text(st, 3, id->principal_id);
    bind_text(st, 4, id->tenant_id);
    sqlite3_bind_int64(st, 5, id->created_at ? id->created_at : now_s());
    int rc = sqlite3_step(st);
    cf_code out = CF_OK;
    if (rc == SQLITE_CONSTRAINT)
        out = cf_err_set(e, CF_EEXISTS, "identity %s already exists", id->name);
    else if (rc != SQLITE_DONE)
        out = sql_err(e, c->db, "create identity");
    sqlite3_reset(st);
    return out;
}

cf_code meta_identity_each(int (*fn)(void *cls, const meta_identity *id), void *cls, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_IDENT_ALL);
    meta_identity id;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ident_row(&id, st);
        if (fn(cls, &id) != 0)
            break;
    }
    cf_code out = CF_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "list identities");
    sqlite3_reset(st);
    return out;
}

cf_code meta_identity_delete(const char *name, cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int64_t users = 0;
    sqlite3_stmt *st = stmt(c, SQL_IDENT_IN_USE, e);
    if (st == NULL)
        return tx_end(c, e && e->code ? e->code : CF_EIO, e);
    bind_text(st, 1, name);
    rc = one_int(c, st, &users, "identity use", e);
    if (rc == CF_OK && users > 0)
        rc = cf_err_set(e, CF_ECONFLICT, "identity %s is assigned to %lld registr%s", name,
                        (long long)users, users == 1 ? "y" : "ies");
    if (rc == CF_OK) {
        sqlite3_stmt *d = stmt(c, SQL_IDENT_DELETE, e);
        if (d == NULL)
            return tx_end(c, e && e->code ? e->code : CF_EIO, e);
        bind_text(d, 1, name);
        rc = reg_update(c, d, e);
        if (rc == CF_ENOTFOUND)
            cf_err_set(e, CF_ENOTFOUND, "identity not found");
    }
    return tx_end(c, rc, e);
}

/* ---- blobs ---- */

static const char SQL_BLOB_IN_REPO[] =
    "SELECT b.size FROM repo_blobs l JOIN blobs b ON b.registry_id = l.registry_id AND"
    " b.digest = l.digest WHERE l.registry_id = ?1 AND l.repo = ?2 AND l.digest = ?3";
static const char SQL_BLOB_IN_REG[] =
    "SELECT size FROM blobs WHERE registry_id = ?1 AND digest = ?2";

static cf_code one_int(conn *c, sqlite3_stmt *st, int64_t *v, const char *what, cf_err *e)
{
    int rc = sqlite3_step(st);
    cf_code out = CF_OK;
    if (rc == SQLITE_ROW) {
        if (v)
            *v = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        out = cf_err_set(e, CF_ENOTFOUND, "%s not found", what);
    } else {
        out = sql_err(e, c->db, what);
    }
    sqlite3_reset(st);
    return out;
}

cf_code meta_blob_stat(const char *reg, const char *repo, const char *digest, int64_t *size,
                       cf_err *e)
{
    CONN_OR_FAIL(c);
    if (repo) {
        STMT_OR_FAIL(st, c, SQL_BLOB_IN_REPO);
        bind_text(st, 1, reg);
        bind_text(st, 2, repo);
        bind_text(st, 3, digest);
        return one_int(c, st, size, "blob", e);
    }
    STMT_OR_FAIL(st, c, SQL_BLOB_IN_REG);
    bind_text(st, 1, reg);
    bind_text(st, 2, digest);
    return one_int(c, st, size, "blob", e);
}

static const char SQL_BLOB_INSERT[] = "INSERT OR IGNORE INTO blobs (registry_id, digest, size,"
                                      " created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_REPO_INSERT[] =
    "INSERT OR IGNORE INTO repositories (registry_id, name, created_at) VALUES (?1, ?2, ?3)";
static const char SQL_LINK_INSERT[] =
    "INSERT OR IGNORE INTO repo_blobs (registry_id, repo, digest) VALUES (?1, ?2, ?3)";
static const char SQL_UPLOAD_DELETE[] = "DELETE FROM uploads WHERE uuid = ?1";

static cf_code blob_insert(conn *c, const char *reg, const char *digest, int64_t size, cf_err *e)
{
    STMT_OR_FAIL(st, c, SQL_BLOB_INSERT);
    bind_text(st, 1, reg);
    bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, size);
    sqlite3_bind_int64(st, 4, now_s());
    return run(c, st, e);
}

static cf_code repo_insert(conn *c, const char *reg, const char *repo, cf_err *e)
{
    STMT_OR_FAIL(st, c, SQL_REPO_INSERT);
    bind_text(st, 1, reg);
    bind_text(st, 2, repo);
    sqlite3_bind_int64(st, 3, now_s());
    return run(c, st, e);
}

cf_code meta_blob_commit(const char *reg, const char *repo, const char *digest, int64_t size,
                         const char *upload, cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = blob_insert(c, reg, digest, size, e);
    if (rc == CF_OK)
        rc = repo_insert(c, reg, repo, e);
    if (rc == CF_OK) {
        sqlite3_stmt *st = stmt(c, SQL_LINK_INSERT, e);
        if (st == NULL) {
            rc = CF_EIO;
        } else {
            bind_text(st, 1, reg);
            bind_text(st, 2, repo);
            bind_text(st, 3, digest);
            rc = run(c, st, e);
        }
    }
    if (rc == CF_OK && upload) {
        sqlite3_stmt *st = stmt(c, SQL_UPLOAD_DELETE, e);
        if (st == NULL) {
            rc = CF_EIO;
        } else {
            bind_text(st, 1, upload);
            rc = run(c, st, e);
        }
    }
    return tx_end(c, rc, e);
}

static const char SQL_LINK_DELETE[] =
    "DELETE FROM repo_blobs WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
/* the blob row goes when nothing in the registry uses the digest */
static const char SQL_BLOB_DELETE_IF_UNUSED[] =
    "DELETE FROM blobs WHERE registry_id = ?1 AND digest = ?2"
    " AND NOT EXISTS (SELECT 1 FROM repo_blobs WHERE registry_id = ?1 AND digest = ?2)"
    " AND NOT EXISTS (SELECT 1 FROM manifests WHERE registry_id = ?1 AND digest = ?2)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_refs WHERE registry_id = ?1 AND ref = ?2)";

/* Runs a DELETE whose parameters are (registry, repository, digest); *changed
 * (may be NULL) receives the rows removed. */
static cf_code del3(conn *c, const char *sql, const char *a, const char *b, const char *d,
                    int *changed, cf_err *e)
{
    STMT_OR_FAIL(st, c, sql);
    bind_text(st, 1, a);
    bind_text(st, 2, b);
    bind_text(st, 3, d);
    cf_code rc = run(c, st, e);
    if (changed)
        *changed = sqlite3_changes(c->db);
    return rc;
}

static cf_code blob_gc(conn *c, const char *reg, const char *digest, int *orphaned, cf_err *e)
{
    STMT_OR_FAIL(st, c, SQL_BLOB_DELETE_IF_UNUSED);
    bind_text(st, 1, reg);
    bind_text(st, 2, digest);
    cf_code rc = run(c, st, e);
    if (rc == CF_OK && orphaned)
        *orphaned = sqlite3_changes(c->db) > 0;
    return rc;
}

cf_code meta_blob_unlink(const char *reg, const char *repo, const char *digest, int *orphaned,
                         cf_err *e)
{
    *orphaned = 0;
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int changed = 0;
    rc = del3(c, SQL_LINK_DELETE, reg, repo, digest, &changed, e);
    if (rc == CF_OK && changed == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "blob not found");
    if (rc == CF_OK)
        rc = blob_gc(c, reg, digest, orphaned, e);
    return tx_end(c, rc, e);
}

/* ---- manifests and tags ---- */

static const char SQL_MANIFEST_GET[] = "SELECT media_type, size, digest FROM manifests"
                                       " WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_TAG_GET[] =
    "SELECT m.media_type, m.size, m.digest FROM tags t JOIN manifests m ON"
    " m.registry_id = t.registry_id AND m.repo = t.repo AND m.digest = t.digest"
    " WHERE t.registry_id = ?1 AND t.repo = ?2 AND t.tag = ?3";

static cf_code manifest_row(meta_manifest *out, conn *c, sqlite3_stmt *st, cf_err *e)
{
    int rc = sqlite3_step(st);
    cf_code r = CF_OK;
    memset(out, 0, sizeof(*out));
    if (rc == SQLITE_ROW) {
        col_text(out->media_type, sizeof(out->media_type), st, 0);
        out->size = sqlite3_column_int64(st, 1);
        col_text(out->digest, sizeof(out->digest), st, 2);
    } else if (rc == SQLITE_DONE) {
        r = cf_err_set(e, CF_ENOTFOUND, "manifest unknown");
    } else {
        r = sql_err(e, c->db, "manifest lookup");
    }
    sqlite3_reset(st);
    return r;
}

cf_code meta_manifest_get(meta_manifest *out, const char *reg, const char *repo, const char *digest,
                          cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_MANIFEST_GET);
    bind_text(st, 1, reg);
    bind_text(st, 2, repo);
    bind_text(st, 3, digest);
    return manifest_row(out, c, st, e);
}

cf_code meta_tag_get(meta_manifest *out, const char *reg, const char *repo, const char *tag,
                     cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_TAG_GET);
    bind_text(st, 1, reg);
    bind_text(st, 2, repo);
    bind_text(st, 3, tag);
    return manifest_row(out, c, st, e);
}

static const char SQL_MANIFEST_UPSERT[] =
    "INSERT INTO manifests (registry_id, repo, digest, media_type, size, artifact_type, subject,"
    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (registry_id, repo, digest) DO NOTHING";
static const char SQL_REF_INSERT[] = "INSERT OR IGNORE INTO manifest_refs (registry_id, repo,"
                                     " digest, ref, is_manifest) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_TAG_UPSERT[] =
    "INSERT INTO tags (registry_id, repo, tag, digest, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (registry_id, repo, tag) DO UPDATE SET digest = excluded.digest,"
    " updated_at = excluded.updated_at";

cf_code meta_manifest_put(const meta_manifest_put_args *a, cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = blob_insert(c, a->reg, a->digest, a->size, e);
    if (rc == CF_OK)
        rc = repo_insert(c, a->reg, a->repo, e);
    if (rc == CF_OK) {
        sqlite3_stmt *st = stmt(c, SQL_MANIFEST_UPSERT, e);
        if (st == NULL) {
            rc = CF_EIO;
        } else {
            bind_text(st, 1, a->reg);
            bind_text(st, 2, a->repo);
            bind_text(st, 3, a->digest);
            bind_text(st, 4, a->media_type);
            sqlite3_bind_int64(st, 5, a->size);
            bind_text(st, 6, a->artifact_type && *a->artifact_type ? a->artifact_type : NULL);
            bind_text(st, 7, a->subject);
            sqlite3_bind_int64(st, 8, now_s());
            rc = run(c, st, e);
        }
    }
    for (size_t i = 0; rc == CF_OK && i < a->nrefs; i++) {
        sqlite3_stmt *st = stmt(c, SQL_REF_INSERT, e);
        if (st == NULL) {
            rc = CF_EIO;
            break;
        }
        bind_text(st, 1, a->reg);
        bind_text(st, 2, a->repo);
        bind_text(st, 3, a->digest);
        bind_text(st, 4, a->ref_digests[i]);
        sqlite3_bind_int(st, 5, a->ref_is_manifest[i]);
        rc = run(c, st, e);
    }
    if (rc == CF_OK && a->tag) {
        sqlite3_stmt *st = stmt(c, SQL_TAG_UPSERT, e);
        if (st == NULL) {
            rc = CF_EIO;
        } else {
            bind_text(st, 1, a->reg);
            bind_text(st, 2, a->repo);
            bind_text(st, 3, a->tag);
            bind_text(st, 4, a->digest);
            sqlite3_bind_int64(st, 5, now_s());
            rc = run(c, st, e);
        }
    }
    return tx_end(c, rc, e);
}

static const char SQL_MANIFEST_DELETE[] =
    "DELETE FROM manifests WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_TAGS_OF_DELETE[] =
    "DELETE FROM tags WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_REFS_OF_DELETE[] =
    "DELETE FROM manifest_refs WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";

cf_code meta_manifest_delete(const char *reg, const char *repo, const char *digest, int *orphaned,
                             cf_err *e)
{
    *orphaned = 0;
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int changed = 0;
    rc = del3(c, SQL_MANIFEST_DELETE, reg, repo, digest, &changed, e);
    if (rc == CF_OK && changed == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "manifest unknown");
    if (rc == CF_OK)
        rc = del3(c, SQL_TAGS_OF_DELETE, reg, repo, digest, NULL, e);
    if (rc == CF_OK)
        rc = del3(c, SQL_REFS_OF_DELETE, reg, repo, digest, NULL, e);
    if (rc == CF_OK)
        rc = blob_gc(c, reg, digest, orphaned, e);
    return tx_end(c, rc, e);
}

static const char SQL_TAG_DELETE[] =
    "DELETE FROM tags WHERE registry_id = ?1 AND repo = ?2 AND tag = ?3";

cf_code meta_tag_delete(const char *reg, const char *repo, const char *tag, cf_err *e)
{
    CONN_OR_FAIL(c);
    int changed = 0;
    cf_code rc = del3(c, SQL_TAG_DELETE, reg, repo, tag, &changed, e);
    if (rc == CF_OK && changed == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "tag unknown");
    return rc;
}

/* ---- listings ---- */

static cf_code each_text(conn *c, sqlite3_stmt *st, int64_t n, meta_each_fn fn, void *cls,
                         int *more, cf_err *e)
{
    int rc;
    int64_t got = 0;
    *more = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (got == n) {
            *more = 1;
            break;
        }
        const unsigned char *t = sqlite3_column_text(st, 0);
        got++;
        if (fn(cls, t ? (const char *)t : "") != 0)
            break;
    }
    cf_code out = CF_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "list");
    sqlite3_reset(st);
    return out;
}

static const char SQL_TAGS_LIST[] = "SELECT tag FROM tags WHERE registry_id = ?1 AND repo = ?2"
                                    " AND tag > ?3 ORDER BY tag LIMIT ?4";

cf_code meta_tags_list(const char *reg, const char *repo, const char *last, int64_t n,
                       meta_each_fn fn, void *cls, int *more, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_TAGS_LIST);
    bind_text(st, 1, reg);
    bind_text(st, 2, repo);
    bind_text(st, 3, last ? last : "");
    sqlite3_bind_int64(st, 4, n + 1);
    return each_text(c, st, n, fn, cls, more, e);
}

static const char SQL_CATALOG_REG[] = "SELECT name FROM repositories WHERE registry_id = ?1"
                                      " AND name > ?2 ORDER BY name LIMIT ?3";
static const char SQL_CATALOG_ALL[] =
    "SELECT g.name || '/' || p.name AS full FROM repositories p JOIN registries g"
    " ON g.id = p.registry_id WHERE full > ?1 ORDER BY full LIMIT ?2";

cf_code meta_catalog(const char *reg, const char *last, int64_t n, meta_each_fn fn, void *cls,
                     int *more, cf_err *e)
{
    CONN_OR_FAIL(c);
    if (reg) {
        STMT_OR_FAIL(st, c, SQL_CATALOG_REG);
        bind_text(st, 1, reg);
        bind_text(st, 2, last ? last : "");
        sqlite3_bind_int64(st, 3, n + 1);
        return each_text(c, st, n, fn, cls, more, e);
    }
    STMT_OR_FAIL(st, c, SQL_CATALOG_ALL);
    bind_text(st, 1, last ? last : "");
    sqlite3_bind_int64(st, 2, n + 1);
    return each_text(c, st, n, fn, cls, more, e);
}

static const char SQL_REPO_EXISTS[] =
    "SELECT 1 FROM repositories WHERE registry_id = ?1 AND name = ?2";

cf_code meta_repo_exists(const char *reg, const char *repo, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REPO_EXISTS);
    bind_text(st, 1, reg);
    bind_text(st, 2, repo);
    return one_int(c, st, NULL, "repository", e);
}

static const char SQL_REFERRERS[] =
    "SELECT digest, media_type, artifact_type, size FROM manifests"
    " WHERE registry_id = ?1 AND repo = ?2 AND subject = ?3"
    " AND (?4 IS NULL OR artifact_type = ?4) ORDER BY created_at, digest LIMIT 10000";

cf_code meta_referrers(const char *reg, const char *repo, const char *subject,
                       const char *artifact_type, int (*fn)(void *cls, const meta_referrer *r),
                       void *cls, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_REFERRERS);
    bind_text(st, 1, reg);
    bind_text(st, 2, repo);
    bind_text(st, 3, subject);
    bind_text(st, 4, artifact_type);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        meta_referrer r = {
            .digest = (const char *)sqlite3_column_text(st, 0),
            .media_type = (const char *)sqlite3_column_text(st, 1),
            .artifact_type = (const char *)sqlite3_column_text(st, 2),
            .size = sqlite3_column_int64(st, 3),
        };
        if (fn(cls, &r) != 0)
            break;
    }
    cf_code out = CF_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "referrers");
    sqlite3_reset(st);
    return out;
}

/* ---- uploads ---- */

static const char SQL_UPLOAD_INSERT[] =
    "INSERT INTO uploads (uuid, registry_id, repo, created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_UPLOAD_GET[] = "SELECT registry_id, repo FROM uploads WHERE uuid = ?1";
static const char SQL_UPLOAD_OLDER[] =
    "SELECT uuid, registry_id FROM uploads WHERE created_at < ?1 LIMIT 1000";

cf_code meta_upload_create(const char *uuid, const char *reg, const char *repo, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_UPLOAD_INSERT);
    bind_text(st, 1, uuid);
    bind_text(st, 2, reg);
    bind_text(st, 3, repo);
    sqlite3_bind_int64(st, 4, now_s());
    return run(c, st, e);
}

cf_code meta_upload_get(const char *uuid, char reg[META_ID_LEN + 1], char *repo, size_t repo_cap,
                        cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_UPLOAD_GET);
    bind_text(st, 1, uuid);
    int rc = sqlite3_step(st);
    cf_code out = CF_OK;
    if (rc == SQLITE_ROW) {
        col_text(reg, META_ID_LEN + 1, st, 0);
        col_text(repo, repo_cap, st, 1);
    } else if (rc == SQLITE_DONE) {
        out = cf_err_set(e, CF_ENOTFOUND, "upload unknown");
    } else {
        out = sql_err(e, c->db, "upload lookup");
    }
    sqlite3_reset(st);
    return out;
}

cf_code meta_upload_delete(const char *uuid, cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_UPLOAD_DELETE);
    bind_text(st, 1, uuid);
    return run(c, st, e);
}

cf_code meta_upload_each_older(int64_t before,
                               int (*fn)(void *cls, const char *uuid, const char *reg), void *cls,
                               cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, SQL_UPLOAD_OLDER);
    sqlite3_bind_int64(st, 1, before);
    /* copy the rows out first: fn may write to the same table */
    char(*rows)[2][META_ID_LEN + 8] = NULL;
    size_t n = 0, cap = 0;
    int rc;
    cf_code out = CF_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            void *nr = realloc(rows, nc * sizeof(*rows));
            if (nr == NULL) {
                out = cf_err_set(e, CF_ENOMEM, "out of memory");
                break;
            }
            rows = nr;
            cap = nc;
        }
        col_text(rows[n][0], sizeof(rows[n][0]), st, 0);
        col_text(rows[n][1], sizeof(rows[n][1]), st, 1);
        n++;
    }
    if (out == CF_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "list uploads");
    sqlite3_reset(st);
    for (size_t i = 0; out == CF_OK && i < n; i++)
        if (fn(cls, rows[i][0], rows[i][1]) != 0)
            break;
    free(rows);
    return out;
}

/* ---- meta_sql.h: the door for the store modules with tables of their own ---- */

struct meta_sql_row {
    sqlite3_stmt *st;
};

const char *meta_sql_text(const meta_sql_row *r, int col)
{
    return (const char *)sqlite3_column_text(r->st, col);
}

int64_t meta_sql_int(const meta_sql_row *r, int col)
{
    return sqlite3_column_int64(r->st, col);
}

cf_code meta_sql_run(const char *sql, const meta_sql_param *p, int n,
                     int (*fn)(void *cls, const meta_sql_row *r), void *cls, int *changes,
                     cf_err *e)
{
    CONN_OR_FAIL(c);
    STMT_OR_FAIL(st, c, sql);
    for (int i = 0; i < n && i < 99; i++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", i + 1);
        int at = sqlite3_bind_parameter_index(st, name);
        if (at == 0)
            continue; /* a parameter the statement does not use */
        if (p[i].is_int)
            sqlite3_bind_int64(st, at, p[i].i);
        else
            bind_text(st, at, p[i].text);
    }
    meta_sql_row row = {st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn && fn(cls, &row) != 0)
            break;
    cf_code out = CF_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = sql_err(e, c->db, "step");
    else if (changes)
        *changes = sqlite3_changes(c->db);
    sqlite3_reset(st);
    return out;
}

cf_code meta_sql_tx(cf_code (*fn)(void *cls, cf_err *e), void *cls, cf_err *e)
{
    CONN_OR_FAIL(c);
    cf_code rc = tx_begin(c, e);
    if (rc != CF_OK)
        return rc;
    return tx_end(c, fn(cls, e), e);
}

cf_code meta_sql_script(const char *sql, cf_err *e)
{
    CONN_OR_FAIL(c);
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cf_code rc = cf_err_set(e, CF_EIO, "schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return CF_OK;
}
