/*
 * store.c -- see store.h. SCHEMA creates the version-1 tables at first
 * open; MIGRATIONS then bring any database, new or old, to the current
 * version, one step per entry, each in its own transaction (PRAGMA
 * user_version records the step reached).
 */
#define CF_LOG_MOD "vault.store"
#include "vault/store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "base/log.h"

struct vault_store {
    pthread_mutex_t mu;
    sqlite3 *db;
};

static const char SCHEMA[] =
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS vaults("
    " name TEXT PRIMARY KEY COLLATE NOCASE,"
    " tenant_id TEXT NOT NULL,"
    " retention_days INTEGER NOT NULL,"
    " purge_protection INTEGER NOT NULL,"
    " policies TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys("
    " id INTEGER PRIMARY KEY,"
    " vault TEXT NOT NULL COLLATE NOCASE REFERENCES vaults(name),"
    " name TEXT NOT NULL COLLATE NOCASE,"
    " created INTEGER NOT NULL,"
    " deleted_date INTEGER, scheduled_purge INTEGER,"
    " rotation_policy TEXT,"
    " UNIQUE(vault, name));"
    "CREATE TABLE IF NOT EXISTS key_versions("
    " key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    " version TEXT NOT NULL COLLATE NOCASE,"
    " seq INTEGER NOT NULL,"
    " kty TEXT NOT NULL, key_ops TEXT NOT NULL,"
    " enabled INTEGER NOT NULL, nbf INTEGER, exp INTEGER,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " tags TEXT, jwk TEXT NOT NULL, sealed BLOB, hsm_id TEXT,"
    " notified INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(key_id, version));"
    "CREATE INDEX IF NOT EXISTS key_versions_seq ON key_versions(key_id, seq);";

/* MIGRATIONS[i] takes the schema from version i+1 to i+2. */
static const char *const MIGRATIONS[] = {
    /* 2: vault-level soft delete and network rules */
    "ALTER TABLE vaults ADD COLUMN network_acls TEXT;"
    "ALTER TABLE vaults ADD COLUMN deleted_date INTEGER;"
    "ALTER TABLE vaults ADD COLUMN scheduled_purge INTEGER;",
};
#define SCHEMA_VERSION (1 + (int)(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0])))

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Brings the schema to SCHEMA_VERSION; a database from a newer keyvaultd
 * is refused rather than guessed at. */
static cf_code migrate(sqlite3 *db, const char *path, cf_err *e)
{
    int v = user_version(db);
    if (v < 0)
        return cf_err_set(e, CF_EIO, "store: %s: cannot read the schema version", path);
    if (v > SCHEMA_VERSION)
        return cf_err_set(e, CF_EUNSUPPORTED,
                          "store: %s has schema version %d; this keyvaultd knows up to %d", path, v,
                          SCHEMA_VERSION);
    for (int step = v < 1 ? 1 : v; step < SCHEMA_VERSION; step++) {
        char sql[1024], *msg = NULL;
        snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE;%sPRAGMA user_version=%d;COMMIT;",
                 MIGRATIONS[step - 1], step + 1);
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            cf_code rc = cf_err_set(e, CF_EIO, "store: %s: migration to schema %d: %s", path,
                                    step + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return CF_OK;
}

static cf_code db_err(cf_err *e, sqlite3 *db, const char *what)
{
    int c = sqlite3_errcode(db);
    cf_code code = c == SQLITE_FULL ? CF_ENOSPACE : c == SQLITE_CONSTRAINT ? CF_ECONFLICT : CF_EIO;
    return cf_err_set(e, code, "store: %s: %s", what, sqlite3_errmsg(db));
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

cf_code vault_store_open(vault_store **out, const char *path, cf_err *e)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        cf_code rc = cf_err_set(e, CF_EIO, "store: cannot open %s: %s", path,
                                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg) !=
            SQLITE_OK ||
        sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        cf_code rc = cf_err_set(e, CF_EIO, "store: schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc;
    }
    cf_code mrc = migrate(db, path, e);
    if (mrc != CF_OK) {
        sqlite3_close(db);
        return mrc;
    }
    vault_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        sqlite3_close(db);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    s->db = db;
    *out = s;
    return CF_OK;
}

void vault_store_close(vault_store *s)
{
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void lock(vault_store *s)
{
    pthread_mutex_lock(&s->mu);
}

static void unlock(vault_store *s)
{
    pthread_mutex_unlock(&s->mu);
}

/* Binds ?1, ?2, ... in order, one per letter of fmt:
 *   't' const char *        text; NULL binds NULL
 *   'j' const json_t *      compact JSON text; NULL binds NULL
 *   'i' int64_t             integer
 *   'o' int64_t             integer, 0 binds NULL (optional nbf/exp)
 *   'b' const void *, size_t  blob; NULL binds NULL
 * Callers pass int64_t for 'i' and 'o' (cast ints): va_arg reads int64_t. */
static void bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 1; *fmt; fmt++, i++) {
        switch (*fmt) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'j': {
            const json_t *v = va_arg(ap, const json_t *);
            char *t = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (t)
                sqlite3_bind_text(st, i, t, -1, free);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'i':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'o': {
            int64_t v = va_arg(ap, int64_t);
            if (v)
                sqlite3_bind_int64(st, i, v);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'b': {
            const void *v = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            if (v)
                sqlite3_bind_blob(st, i, v, (int)n, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        }
    }
}

/* Prepares sql and binds its parameters (see bind_va). Called locked. */
static cf_code prepv(vault_store *s, sqlite3_stmt **st, cf_err *e, const char *sql, const char *fmt,
                     va_list ap)
{
    *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_err(e, s->db, "prepare");
    bind_va(*st, fmt, ap);
    return CF_OK;
}

static cf_code prep(vault_store *s, sqlite3_stmt **st, cf_err *e, const char *sql, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_code rc = prepv(s, st, e, sql, fmt, ap);
    va_end(ap);
    return rc;
}

static cf_code not_found(cf_err *e, const char *vault)
{
    if (vault)
        return cf_err_set(e, CF_ENOTFOUND, "vault '%s' not found", vault);
    return cf_err_set(e, CF_ENOTFOUND, "key not found");
}

/* Steps a write to its end. With must_change, a write that changed no row
 * is ENOTFOUND ("key not found"). */
static cf_code step_write(vault_store *s, sqlite3_stmt *st, const char *what, int must_change,
                          cf_err *e)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(e, s->db, what);
    if (must_change && sqlite3_changes(s->db) == 0)
        return not_found(e, NULL);
    return CF_OK;
}

/* Steps a read that expects one row: CF_OK on a row (columns readable),
 * ENOTFOUND ("vault '<vault>' not found" when vault is set, else "key not
 * found") when there is none. */
static cf_code step_row(vault_store *s, sqlite3_stmt *st, const char *what, const char *vault,
                        cf_err *e)
{
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        return CF_OK;
    if (r == SQLITE_DONE)
        return not_found(e, vault);
    return db_err(e, s->db, what);
}

/* One write statement, whole: lock, prepare, bind, step, finalize, unlock.
 * *changes (when given) receives the number of rows changed. */
static cf_code write1(vault_store *s, const char *what, int must_change, int *changes, cf_err *e,
                      const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    lock(s);
    va_start(ap, fmt);
    cf_code rc = prepv(s, &st, e, sql, fmt, ap);
    va_end(ap);
    if (rc == CF_OK) {
        rc = step_write(s, st, what, must_change, e);
        if (changes)
            *changes = sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (t == NULL)
        return NULL;
    return json_loads((const char *)t, 0, NULL);
}

static void col_copy(char *dst, size_t n, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Appends column 0 of every remaining row (text) to array a. */
static cf_code col_strings(vault_store *s, sqlite3_stmt *st, json_t *a, const char *what, cf_err *e)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
    return r == SQLITE_DONE ? CF_OK : db_err(e, s->db, what);
}

static cf_code exec(vault_store *s, const char *sql, cf_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cf_code rc = cf_err_set(e, CF_EIO, "store: %s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return CF_OK;
}

/* Ends a transaction begun with BEGIN IMMEDIATE: commits when rc is CF_OK,
 * else (or when the commit fails) rolls back. Returns the final code. */
static cf_code tx_end(vault_store *s, cf_code rc, cf_err *e)
{
    if (rc == CF_OK)
        rc = exec(s, "COMMIT", e);
    if (rc != CF_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- vaults ---- */

#define VAULT_COLS                                                                                 \
    "name,tenant_id,retention_days,purge_protection,policies,created,updated,network_acls,"        \
    "deleted_date,scheduled_purge"

void vault_info_clear(vault_info *v)
{
    json_decref(v->policies);
    json_decref(v->network_acls);
    memset(v, 0, sizeof(*v));
}

cf_code vault_store_vault_put(vault_store *s, const vault_info *v, int *created, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    int64_t now = now_s();
    json_t *empty = json_array();
    lock(s);
    *created = 0;
    if ((rc = exec(s, "BEGIN IMMEDIATE", e)) != CF_OK)
        goto out;
    if ((rc = prep(s, &st, e, "SELECT deleted_date FROM vaults WHERE name=?", "t", v->name)) !=
        CF_OK)
        goto tx;
    int r = sqlite3_step(st);
    *created = r != SQLITE_ROW;
    if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        rc = cf_err_set(e, CF_ECONFLICT, "vault '%s' is soft-deleted", v->name);
        goto tx;
    }
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e,
                   "INSERT INTO vaults(name,tenant_id,retention_days,purge_protection,policies,"
                   "network_acls,created,updated) VALUES(?1,?2,?3,?4,?5,?6,?7,?7) "
                   "ON CONFLICT(name) DO UPDATE SET tenant_id=?2,retention_days=?3,"
                   "purge_protection=?4,policies=?5,network_acls=?6,updated=?7",
                   "ttiijji", v->name, v->tenant_id, (int64_t)v->retention_days,
                   (int64_t)v->purge_protection, v->policies ? v->policies : empty, v->network_acls,
                   now)) != CF_OK)
        goto tx;
    rc = step_write(s, st, "vault put", 0, e);
tx:
    rc = tx_end(s, rc, e);
out:
    sqlite3_finalize(st);
    unlock(s);
    json_decref(empty);
    return rc;
}

/* One vault row, live (deleted = 0) or soft-deleted (deleted = 1). */
static cf_code vault_get(vault_store *s, const char *name, int deleted, vault_info *out, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    memset(out, 0, sizeof(*out));
    lock(s);
    if ((rc = prep(s, &st, e,
                   deleted ? "SELECT " VAULT_COLS " FROM vaults WHERE name=? AND deleted_date IS "
                             "NOT NULL"
                           : "SELECT " VAULT_COLS " FROM vaults WHERE name=? AND deleted_date IS "
                             "NULL",
                   "t", name)) != CF_OK ||
        (rc = step_row(s, st, "vault get", name, e)) != CF_OK)
        goto out;
    col_copy(out->name, sizeof(out->name), st, 0);
    col_copy(out->tenant_id, sizeof(out->tenant_id), st, 1);
    out->retention_days = sqlite3_column_int(st, 2);
    out->purge_protection = sqlite3_column_int(st, 3);
    out->policies = col_json(st, 4);
    if (out->policies == NULL)
        out->policies = json_array();
    out->created = sqlite3_column_int64(st, 5);
    out->updated = sqlite3_column_int64(st, 6);
    out->network_acls = col_json(st, 7);
    out->deleted_date = sqlite3_column_int64(st, 8);
    out->scheduled_purge = sqlite3_column_int64(st, 9);
out:
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

cf_code vault_store_vault_get(vault_store *s, const char *name, vault_info *out, cf_err *e)
{
    return vault_get(s, name, 0, out, e);
}

cf_code vault_store_vault_get_deleted(vault_store *s, const char *name, vault_info *out, cf_err *e)
{
    return vault_get(s, name, 1, out, e);
}

/* Column 0 (text) of every row of sql, its parameters bound as bind_va does. */
static cf_code strings_of(vault_store *s, json_t **out, const char *what, cf_err *e,
                          const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    json_t *a = json_array();
    va_list ap;
    lock(s);
    va_start(ap, fmt);
    cf_code rc = prepv(s, &st, e, sql, fmt, ap);
    va_end(ap);
    if (rc == CF_OK)
        rc = col_strings(s, st, a, what, e);
    sqlite3_finalize(st);
    unlock(s);
    if (rc == CF_OK)
        *out = a;
    else
        json_decref(a);
    return rc;
}

cf_code vault_store_vault_list(vault_store *s, json_t **names, cf_err *e)
{
    return strings_of(s, names, "vault list", e,
                      "SELECT name FROM vaults WHERE deleted_date IS NULL ORDER BY name", "");
}

cf_code vault_store_vault_list_deleted(vault_store *s, json_t **names, cf_err *e)
{
    return strings_of(s, names, "deleted vault list", e,
                      "SELECT name FROM vaults WHERE deleted_date IS NOT NULL ORDER BY name", "");
}

cf_code vault_store_vault_purge_due(vault_store *s, int64_t now, json_t **out, cf_err *e)
{
    return strings_of(s, out, "vault purge scan", e,
                      "SELECT name FROM vaults WHERE deleted_date IS NOT NULL AND "
                      "scheduled_purge<=? ORDER BY name LIMIT 1000",
                      "i", now);
}

cf_code vault_store_vault_delete(vault_store *s, const char *name, int64_t now, int64_t purge_at,
                                 cf_err *e)
{
    int changes = 0;
    cf_code rc = write1(s, "vault delete", 0, &changes, e,
                        "UPDATE vaults SET deleted_date=?2,scheduled_purge=?3 WHERE name=?1 AND "
                        "deleted_date IS NULL",
                        "tii", name, now, purge_at);
    if (rc == CF_OK && changes == 0)
        rc = not_found(e, name);
    return rc;
}

cf_code vault_store_vault_recover(vault_store *s, const char *name, cf_err *e)
{
    int changes = 0;
    cf_code rc = write1(s, "vault recover", 0, &changes, e,
                        "UPDATE vaults SET deleted_date=NULL,scheduled_purge=NULL,updated=?2 "
                        "WHERE name=?1 AND deleted_date IS NOT NULL",
                        "ti", name, now_s());
    if (rc == CF_OK && changes == 0)
        rc = not_found(e, name);
    return rc;
}

cf_code vault_store_vault_purge(vault_store *s, const char *name, json_t **key_names,
                                json_t **hsm_ids, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    json_t *names = json_array(), *ids = json_array();
    lock(s);
    if ((rc = exec(s, "BEGIN IMMEDIATE", e)) != CF_OK)
        goto out;
    if ((rc = prep(s, &st, e, "SELECT name FROM keys WHERE vault=?", "t", name)) != CF_OK ||
        (rc = col_strings(s, st, names, "purge: keys", e)) != CF_OK)
        goto tx;
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e,
                   "SELECT v.hsm_id FROM keys k JOIN key_versions v ON v.key_id=k.id "
                   "WHERE k.vault=? AND v.hsm_id IS NOT NULL",
                   "t", name)) != CF_OK ||
        (rc = col_strings(s, st, ids, "purge: hsm ids", e)) != CF_OK)
        goto tx;
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e,
                   "DELETE FROM key_versions WHERE key_id IN (SELECT id FROM keys WHERE vault=?)",
                   "t", name)) != CF_OK ||
        (rc = step_write(s, st, "purge versions", 0, e)) != CF_OK)
        goto tx;
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e, "DELETE FROM keys WHERE vault=?", "t", name)) != CF_OK ||
        (rc = step_write(s, st, "purge keys", 0, e)) != CF_OK)
        goto tx;
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e, "DELETE FROM vaults WHERE name=? AND deleted_date IS NOT NULL", "t",
                   name)) != CF_OK)
        goto tx;
    if ((rc = step_write(s, st, "purge vault", 0, e)) == CF_OK && sqlite3_changes(s->db) == 0)
        rc = not_found(e, name);
tx:
    rc = tx_end(s, rc, e);
out:
    sqlite3_finalize(st);
    unlock(s);
    if (rc == CF_OK && key_names)
        *key_names = names;
    else
        json_decref(names);
    if (rc == CF_OK && hsm_ids)
        *hsm_ids = ids;
    else
        json_decref(ids);
    return rc;
}

/* ---- key versions ---- */

#define KV_COLS                                                                                    \
    "k.id,k.vault,k.name,v.version,v.kty,v.key_ops,v.enabled,v.nbf,v.exp,v.created,v.updated,"     \
    "v.tags,v.jwk,v.sealed,v.hsm_id,k.deleted_date,k.scheduled_purge,v.seq"

void vault_keyver_clear(vault_keyver *kv)
{
    json_decref(kv->key_ops);
    json_decref(kv->tags);
    json_decref(kv->jwk);
    if (kv->sealed) {
        OPENSSL_cleanse(kv->sealed, kv->sealed_len);
        free(kv->sealed);
    }
    memset(kv, 0, sizeof(*kv));
}

void vault_keyvers_free(vault_keyver *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        vault_keyver_clear(&a[i]);
    free(a);
}

static void row_to_kv(sqlite3_stmt *st, vault_keyver *kv, int with_secret)
{
    memset(kv, 0, sizeof(*kv));
    kv->key_id = sqlite3_column_int64(st, 0);
    col_copy(kv->vault, sizeof(kv->vault), st, 1);
    col_copy(kv->name, sizeof(kv->name), st, 2);
    col_copy(kv->version, sizeof(kv->version), st, 3);
    col_copy(kv->kty, sizeof(kv->kty), st, 4);
    kv->key_ops = col_json(st, 5);
    if (kv->key_ops == NULL)
        kv->key_ops = json_array();
    kv->enabled = sqlite3_column_int(st, 6);
    kv->nbf = sqlite3_column_int64(st, 7);
    kv->exp = sqlite3_column_int64(st, 8);
    kv->created = sqlite3_column_int64(st, 9);
    kv->updated = sqlite3_column_int64(st, 10);
    kv->tags = col_json(st, 11);
    kv->jwk = col_json(st, 12);
    if (with_secret && sqlite3_column_type(st, 13) == SQLITE_BLOB) {
        int n = sqlite3_column_bytes(st, 13);
        kv->sealed = malloc((size_t)n);
        if (kv->sealed) {
            memcpy(kv->sealed, sqlite3_column_blob(st, 13), (size_t)n);
            kv->sealed_len = (size_t)n;
        }
    }
    col_copy(kv->hsm_id, sizeof(kv->hsm_id), st, 14);
    kv->deleted_date = sqlite3_column_int64(st, 15);
    kv->scheduled_purge = sqlite3_column_int64(st, 16);
    kv->seq = sqlite3_column_int64(st, 17);
}

cf_code vault_store_version_add(vault_store *s, vault_keyver *kv, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    int64_t now = now_s();
    json_t *empty = json_array();
    lock(s);
    if ((rc = exec(s, "BEGIN IMMEDIATE", e)) != CF_OK)
        goto out;
    if ((rc = prep(s, &st, e, "SELECT id,deleted_date,name FROM keys WHERE vault=? AND name=?",
                   "tt", kv->vault, kv->name)) != CF_OK)
        goto tx;
    int r = sqlite3_step(st);
    int64_t key_id = 0;
    if (r == SQLITE_ROW) {
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            rc = cf_err_set(e, CF_ECONFLICT,
                            "Key %s is currently in a deleted but recoverable state, and its name "
                            "cannot be reused; in this state, the key can only be recovered or "
                            "purged.",
                            kv->name);
            goto tx;
        }
        key_id = sqlite3_column_int64(st, 0);
        col_copy(kv->name, sizeof(kv->name), st, 2);
    } else if (r != SQLITE_DONE) {
        rc = db_err(e, s->db, "key lookup");
        goto tx;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (key_id == 0) {
        if ((rc = prep(s, &st, e, "INSERT INTO keys(vault,name,created) VALUES(?,?,?)", "tti",
                       kv->vault, kv->name, now)) != CF_OK ||
            (rc = step_write(s, st, "key insert", 0, e)) != CF_OK)
            goto tx;
        key_id = sqlite3_last_insert_rowid(s->db);
        sqlite3_finalize(st);
        st = NULL;
    }
    if ((rc = prep(s, &st, e,
                   "INSERT INTO key_versions(key_id,version,seq,kty,key_ops,enabled,nbf,exp,"
                   "created,updated,tags,jwk,sealed,hsm_id) VALUES(?1,?2,"
                   "(SELECT coalesce(max(seq),0)+1 FROM key_versions WHERE key_id=?1),"
                   "?3,?4,?5,?6,?7,?8,?8,?9,?10,?11,?12)",
                   "ittjiooijjbt", key_id, kv->version, kv->kty, kv->key_ops ? kv->key_ops : empty,
                   (int64_t)kv->enabled, kv->nbf, kv->exp, now, kv->tags, kv->jwk,
                   (const void *)kv->sealed, kv->sealed_len, kv->hsm_id[0] ? kv->hsm_id : NULL)) !=
            CF_OK ||
        (rc = step_write(s, st, "version insert", 0, e)) != CF_OK)
        goto tx;
    kv->key_id = key_id;
    kv->created = kv->updated = now;
tx:
    rc = tx_end(s, rc, e);
out:
    sqlite3_finalize(st);
    unlock(s);
    json_decref(empty);
    return rc;
}

cf_code vault_store_version_get(vault_store *s, const char *vault, const char *name,
                                const char *version, int want_deleted, vault_keyver *out, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    int latest = version == NULL || *version == '\0';
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT " KV_COLS " FROM keys k JOIN key_versions v ON v.key_id=k.id "
             "WHERE k.vault=?1 AND k.name=?2 AND k.deleted_date IS %s AND %s",
             want_deleted ? "NOT NULL" : "NULL",
             latest ? "v.seq=(SELECT max(seq) FROM key_versions WHERE key_id=k.id)"
                    : "v.version=?3");
    lock(s);
    if ((rc = prep(s, &st, e, sql, latest ? "tt" : "ttt", vault, name, version)) == CF_OK &&
        (rc = step_row(s, st, "key get", NULL, e)) == CF_OK)
        row_to_kv(st, out, 1);
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

cf_code vault_store_version_update(vault_store *s, vault_keyver *kv, cf_err *e)
{
    int64_t now = now_s();
    json_t *empty = json_array();
    cf_code rc = write1(s, "key update", 1, NULL, e,
                        "UPDATE key_versions SET enabled=?1,nbf=?2,exp=?3,key_ops=?4,tags=?5,"
                        "updated=?6 WHERE key_id=?7 AND version=?8",
                        "ioojjiit", (int64_t)kv->enabled, kv->nbf, kv->exp,
                        kv->key_ops ? kv->key_ops : empty, kv->tags, now, kv->key_id, kv->version);
    json_decref(empty);
    if (rc == CF_OK)
        kv->updated = now;
    return rc;
}

static cf_code list_rows(vault_store *s, sqlite3_stmt *st, size_t limit, vault_keyver **out,
                         size_t *n, int *more, cf_err *e)
{
    vault_keyver *a = calloc(limit ? limit : 1, sizeof(*a));
    size_t k = 0;
    int r;
    *more = 0;
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == limit) {
            *more = 1;
            break;
        }
        row_to_kv(st, &a[k++], 0);
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        vault_keyvers_free(a, k);
        return db_err(e, s->db, "list");
    }
    *out = a;
    *n = k;
    return CF_OK;
}

cf_code vault_store_key_list(vault_store *s, const char *vault, int deleted, const char *after,
                             size_t limit, vault_keyver **out, size_t *n, int *more, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    char sql[512];
    /* k.name is COLLATE NOCASE: the > of the cursor and the ORDER BY agree */
    snprintf(sql, sizeof(sql),
             "SELECT " KV_COLS " FROM keys k JOIN key_versions v ON v.key_id=k.id "
             "WHERE k.vault=?1 AND k.deleted_date IS %s AND (?2 IS NULL OR k.name>?2) AND "
             "v.seq=(SELECT max(seq) FROM key_versions WHERE key_id=k.id) "
             "ORDER BY k.name LIMIT ?3",
             deleted ? "NOT NULL" : "NULL");
    lock(s);
    if ((rc = prep(s, &st, e, sql, "tti", vault, after && *after ? after : NULL,
                   (int64_t)limit + 1)) == CF_OK)
        rc = list_rows(s, st, limit, out, n, more, e);
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

cf_code vault_store_version_list(vault_store *s, const char *vault, const char *name,
                                 const char *after, size_t limit, vault_keyver **out, size_t *n,
                                 int *more, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    lock(s);
    if ((rc = prep(s, &st, e,
                   "SELECT " KV_COLS " FROM keys k JOIN key_versions v ON v.key_id=k.id "
                   "WHERE k.vault=?1 AND k.name=?2 AND k.deleted_date IS NULL AND (?3 IS NULL OR "
                   "v.seq>(SELECT seq FROM key_versions WHERE key_id=k.id AND version=?3)) "
                   "ORDER BY v.seq LIMIT ?4",
                   "ttti", vault, name, after && *after ? after : NULL, (int64_t)limit + 1)) ==
        CF_OK)
        rc = list_rows(s, st, limit, out, n, more, e);
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

cf_code vault_store_key_delete(vault_store *s, const char *vault, const char *name, int64_t now,
                               int64_t purge_at, cf_err *e)
{
    return write1(s, "key delete/recover", 1, NULL, e,
                  "UPDATE keys SET deleted_date=?3,scheduled_purge=?4 "
                  "WHERE vault=?1 AND name=?2 AND deleted_date IS NULL",
                  "ttii", vault, name, now, purge_at);
}

cf_code vault_store_key_recover(vault_store *s, const char *vault, const char *name, cf_err *e)
{
    return write1(s, "key delete/recover", 1, NULL, e,
                  "UPDATE keys SET deleted_date=NULL,scheduled_purge=NULL "
                  "WHERE vault=?1 AND name=?2 AND deleted_date IS NOT NULL",
                  "tt", vault, name);
}

cf_code vault_store_key_purge(vault_store *s, const char *vault, const char *name, json_t **hsm_ids,
                              cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    json_t *ids = json_array();
    lock(s);
    if ((rc = exec(s, "BEGIN IMMEDIATE", e)) != CF_OK)
        goto out;
    if ((rc = prep(s, &st, e,
                   "SELECT v.hsm_id FROM keys k JOIN key_versions v ON v.key_id=k.id "
                   "WHERE k.vault=? AND k.name=? AND v.hsm_id IS NOT NULL",
                   "tt", vault, name)) != CF_OK)
        goto tx;
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e,
                   "DELETE FROM key_versions WHERE key_id=(SELECT id FROM keys WHERE vault=?1 "
                   "AND name=?2)",
                   "tt", vault, name)) != CF_OK ||
        (rc = step_write(s, st, "purge versions", 0, e)) != CF_OK)
        goto tx;
    sqlite3_finalize(st);
    if ((rc = prep(s, &st, e, "DELETE FROM keys WHERE vault=? AND name=?", "tt", vault, name)) !=
        CF_OK)
        goto tx;
    rc = step_write(s, st, "purge key", 1, e);
tx:
    rc = tx_end(s, rc, e);
out:
    sqlite3_finalize(st);
    unlock(s);
    if (rc == CF_OK && hsm_ids)
        *hsm_ids = ids;
    else
        json_decref(ids);
    return rc;
}

/* ---- rotation policies, scheduler queries ---- */

cf_code vault_store_rotation_get(vault_store *s, const char *vault, const char *name,
                                 json_t **policy, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    *policy = NULL;
    lock(s);
    if ((rc = prep(s, &st, e,
                   "SELECT rotation_policy FROM keys WHERE vault=? AND name=? AND deleted_date IS "
                   "NULL",
                   "tt", vault, name)) == CF_OK &&
        (rc = step_row(s, st, "rotation get", NULL, e)) == CF_OK)
        *policy = col_json(st, 0);
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}

cf_code vault_store_rotation_set(vault_store *s, const char *vault, const char *name,
                                 const json_t *policy, cf_err *e)
{
    return write1(s, "rotation set", 1, NULL, e,
                  "UPDATE keys SET rotation_policy=? WHERE vault=? AND name=? AND deleted_date "
                  "IS NULL",
                  "jtt", policy, vault, name);
}

void vault_rotations_free(vault_rotation *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        json_decref(a[i].policy);
    free(a);
}

cf_code vault_store_rotation_list(vault_store *s, vault_rotation **out, size_t *n, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    size_t cap = 16, k = 0;
    vault_rotation *a = calloc(cap, sizeof(*a));
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    lock(s);
    if ((rc = prep(s, &st, e,
                   "SELECT id,vault,name,rotation_policy FROM keys WHERE rotation_policy IS NOT "
                   "NULL AND deleted_date IS NULL AND vault IN (SELECT name FROM vaults WHERE "
                   "deleted_date IS NULL) ORDER BY id",
                   "")) != CF_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (k == cap) {
            vault_rotation *na = realloc(a, 2 * cap * sizeof(*a));
            if (na == NULL) {
                rc = cf_err_set(e, CF_ENOMEM, "out of memory");
                goto out;
            }
            a = na;
            cap *= 2;
        }
        memset(&a[k], 0, sizeof(a[k]));
        a[k].key_id = sqlite3_column_int64(st, 0);
        col_copy(a[k].vault, sizeof(a[k].vault), st, 1);
        col_copy(a[k].name, sizeof(a[k].name), st, 2);
        a[k].policy = col_json(st, 3);
        k++;
    }
out:
    sqlite3_finalize(st);
    unlock(s);
    if (rc != CF_OK) {
        vault_rotations_free(a, k);
        return rc;
    }
    *out = a;
    *n = k;
    return CF_OK;
}

cf_code vault_store_purge_due(vault_store *s, int64_t now, json_t **out, cf_err *e)
{
    sqlite3_stmt *st = NULL;
    cf_code rc;
    json_t *a = json_array();
    lock(s);
    if ((rc = prep(s, &st, e,
                   "SELECT vault,name FROM keys WHERE deleted_date IS NOT NULL AND "
                   "scheduled_purge<=? ORDER BY id LIMIT 1000",
                   "i", now)) == CF_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(a, json_pack("[ss]", (const char *)sqlite3_column_text(st, 0),
                                               (const char *)sqlite3_column_text(st, 1)));
    }
    sqlite3_finalize(st);
    unlock(s);
    if (rc == CF_OK)
        *out = a;
    else
        json_decref(a);
    return rc;
}

cf_code vault_store_version_notified(vault_store *s, int64_t key_id, const char *version,
                                     int *was_notified, cf_err *e)
{
    int changes = 0;
    cf_code rc = write1(s, "notified", 0, &changes, e,
                        "UPDATE key_versions SET notified=1 WHERE key_id=? AND version=? AND "
                        "notified=0",
                        "it", key_id, version);
    if (rc == CF_OK)
        *was_notified = changes == 0;
    return rc;
}

/* ---- store.h's door for the modules with tables of their own ---- */

struct vault_row {
    sqlite3_stmt *st;
};

const char *vault_row_text(const vault_row *r, int col)
{
    return (const char *)sqlite3_column_text(r->st, col);
}

int64_t vault_row_int(const vault_row *r, int col)
{
    return sqlite3_column_int64(r->st, col);
}

cf_code vault_store_script(vault_store *s, const char *sql, cf_err *e)
{
    lock(s);
    cf_code rc = exec(s, sql, e);
    unlock(s);
    return rc;
}

cf_code vault_store_query(vault_store *s, int (*fn)(void *cls, const vault_row *r), void *cls,
                          int *changes, cf_err *e, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    cf_code rc = CF_OK;
    lock(s);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_err(e, s->db, "prepare");
        goto out;
    }
    va_list ap;
    va_start(ap, fmt);
    bind_va(st, fmt, ap);
    va_end(ap);
    vault_row row = {st};
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (fn && fn(cls, &row) != 0)
            break;
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_err(e, s->db, "query");
    else if (changes)
        *changes = sqlite3_changes(s->db);
out:
    sqlite3_finalize(st);
    unlock(s);
    return rc;
}
