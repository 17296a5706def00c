/*
 * db.c -- see db.h: the engine-independent core. A store keeps its
 * driver, its target, a thread-specific key for each thread's connection
 * and the list of every connection (to close them all). A connection keeps
 * its statement cache; a statement is a (connection, driver statement)
 * pair inside that cache, so a db_stmt pointer stays valid for the life of
 * its connection.
 */
#define CF_LOG_MOD "db"
#include "store/db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"

#include <openssl/crypto.h>

#define STMT_CACHE 192

struct db_stmt {
    db *c;
    const char *sql;
    void *st;
};

struct db {
    db_store *s;
    void *conn;
    db_stmt cache[STMT_CACHE];
    int n;
    int in_tx;
    int own; /* db_open_own: bound to no thread */
    uint64_t serial;
    struct db *next;
};

static uint64_t next_serial;

struct db_store {
    const db_driver *drv;
    char *target;
    pthread_key_t key;
    pthread_mutex_t mu;
    db *conns; /* every open connection */
};

int db_target_is_postgres(const char *t)
{
    return strncmp(t, "postgres://", 11) == 0 || strncmp(t, "postgresql://", 13) == 0;
}

/* 1 when a libpq URI carries a password ("user:password@" or a
 * password= parameter): it would be in the process listing. */
int db_uri_has_password(const char *uri)
{
    if (strncmp(uri, "postgres://", 11) != 0 && strncmp(uri, "postgresql://", 13) != 0)
        return 0;
    const char *auth = strstr(uri, "://") + 3;
    const char *end = auth + strcspn(auth, "/?");
    const char *at = memchr(auth, '@', (size_t)(end - auth));
    if (at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL)
        return 1;
    return strstr(uri, "password=") != NULL;
}

static void conn_free(db *c)
{
    for (int i = 0; i < c->n; i++)
        c->s->drv->finalize(c->cache[i].st);
    c->s->drv->disconnect(c->conn);
    free(c);
}

/* Takes c out of its store's list (a thread exiting, or a broken one). */
static void conn_unlist(db *c)
{
    db_store *s = c->s;
    pthread_mutex_lock(&s->mu);
    for (db **pp = &s->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void conn_destroy(void *p)
{
    db *c = p;
    conn_unlist(c);
    conn_free(c);
}

db *db_get(db_store *s, cf_err *e)
{
    if (s == NULL) {
        cf_err_set(e, CF_EINVAL, "metadata store not initialised");
        return NULL;
    }
    db *c = pthread_getspecific(s->key);
    if (c != NULL && !c->in_tx && s->drv->broken(c->conn)) {
        /* lost (a server restart): this call gets a fresh one */
        pthread_setspecific(s->key, NULL);
        conn_destroy(c);
        c = NULL;
    }
    if (c != NULL)
        return c;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cf_err_set(e, CF_ENOMEM, "out of memory");
        return NULL;
    }
    c->s = s;
    c->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
    if (s->drv->connect(&c->conn, s->target, e) != CF_OK) {
        free(c);
        return NULL;
    }
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->mu);
    return c;
}

db *db_open_own(db_store *s, cf_err *e)
{
    db *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cf_err_set(e, CF_ENOMEM, "out of memory");
        return NULL;
    }
    c->s = s;
    c->own = 1;
    c->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
    if (s->drv->connect(&c->conn, s->target, e) != CF_OK) {
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->mu);
    return c;
}

void db_close(db *c)
{
    if (c == NULL)
        return;
    conn_unlist(c);
    conn_free(c);
}

int db_broken(db *c)
{
    return c->s->drv->broken(c->conn);
}

uint64_t db_serial(const db *c)
{
    return c->serial;
}

db_engine db_engine_of(const db *c)
{
    return c->s->drv->engine;
}

void db_set_timeout(unsigned ms)
{
    db_pg_set_timeout(ms);
}

cf_code db_wait_notify(db *c, unsigned ms,
                       void (*fn)(void *cls, const char *channel, const char *payload), void *cls,
                       cf_err *e)
{
    if (c->s->drv->wait_notify == NULL)
        return cf_err_set(e, CF_EUNSUPPORTED, "%s has no notifications", c->s->drv->name);
    return c->s->drv->wait_notify(c->conn, ms, fn, cls, e);
}

db_stmt *db_prepare(db *c, const char *sql, cf_err *e)
{
    const db_driver *d = c->s->drv;
    for (int i = 0; i < c->n; i++) {
        if (c->cache[i].sql == sql) {
            d->reset(c->cache[i].st);
            return &c->cache[i];
        }
    }
    if (c->n == STMT_CACHE) {
        /* cannot happen with the fixed set of statements; stay correct */
        cf_err_set(e, CF_EIO, "statement cache full");
        return NULL;
    }
    void *st = NULL;
    if (d->prepare(&st, c->conn, sql, e) != CF_OK)
        return NULL;
    db_stmt *s = &c->cache[c->n++];
    s->c = c;
    s->sql = sql;
    s->st = st;
    return s;
}

void db_bind_text(db_stmt *st, int i, const char *v)
{
    st->c->s->drv->bind_text(st->st, i, v);
}

void db_bind_opt_text(db_stmt *st, int i, const char *v)
{
    st->c->s->drv->bind_text(st->st, i, v && v[0] ? v : NULL);
}

void db_bind_int64(db_stmt *st, int i, int64_t v)
{
    st->c->s->drv->bind_int64(st->st, i, v);
}

void db_bind_blob(db_stmt *st, int i, const void *p, size_t n)
{
    st->c->s->drv->bind_blob(st->st, i, p, n);
}

int db_step(db_stmt *st, cf_err *e)
{
    int rc = st->c->s->drv->step(st->st, e);
    /* a uniqueness conflict is an answer the store expects, not a failure */
    if (rc < 0 && rc != CF_EEXISTS)
        metrics_count_db_error(rc == CF_EUNAVAIL   ? "unavailable"
                               : rc == CF_ENOSPACE ? "full"
                                                   : "error");
    return rc;
}

void db_reset(db_stmt *st)
{
    st->c->s->drv->reset(st->st);
}

const char *db_column_text(db_stmt *st, int i)
{
    return st->c->s->drv->column_text(st->st, i);
}

int64_t db_column_int64(db_stmt *st, int i)
{
    return st->c->s->drv->column_int64(st->st, i);
}

const void *db_column_blob(db_stmt *st, int i, size_t *n)
{
    return st->c->s->drv->column_blob(st->st, i, n);
}

void db_column_copy(char *dst, size_t cap, db_stmt *st, int i)
{
    const char *t = db_column_text(st, i);
    snprintf(dst, cap, "%s", t ? t : "");
}

int64_t db_changes(db_stmt *st)
{
    return st->c->s->drv->changes(st->st);
}

cf_code db_run(db_stmt *st, cf_err *e)
{
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW)
        ;
    db_reset(st);
    return rc == DB_DONE ? CF_OK : (cf_code)rc;
}

cf_code db_one_int(db_stmt *st, int64_t *v, const char *what, cf_err *e)
{
    int rc = db_step(st, e);
    cf_code out = CF_OK;
    if (rc == DB_ROW) {
        if (v)
            *v = db_column_int64(st, 0);
    } else if (rc == DB_DONE) {
        out = cf_err_set(e, CF_ENOTFOUND, "%s not found", what);
    } else {
        out = (cf_code)rc;
    }
    db_reset(st);
    return out;
}

cf_code db_exec(db *c, const char *sql, cf_err *e)
{
    db_stmt *st = db_prepare(c, sql, e);
    if (st == NULL)
        return e && e->code ? e->code : CF_EIO;
    return db_run(st, e);
}

static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

cf_code db_begin(db *c, cf_err *e)
{
    cf_code rc = db_exec(c, c->s->drv->begin_sql, e);
    if (rc == CF_OK)
        c->in_tx = 1;
    return rc;
}

cf_code db_end(db *c, cf_code rc, cf_err *e)
{
    if (!c->in_tx)
        return rc;
    if (rc == CF_OK)
        rc = db_exec(c, SQL_COMMIT, e);
    if (rc != CF_OK)
        db_exec(c, SQL_ROLLBACK, NULL); /* after a failed COMMIT too */
    c->in_tx = 0;
    return rc;
}

void db_scrub(db *c)
{
    if (c->s->drv->scrub)
        c->s->drv->scrub(c->conn);
}

db_engine db_store_engine(const db_store *s)
{
    return s->drv->engine;
}

/* ---- migrations ---- */

static const char SQL_VERSION_TABLE[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
static const char SQL_VERSION_GET[] = "SELECT coalesce(max(version), 0) FROM schema_version";
static const char SQL_VERSION_ADD[] = "INSERT INTO schema_version (version) VALUES (?1)";
static const char SQL_VERSION_HAS[] = "SELECT count(*) FROM schema_version WHERE version = ?1";

cf_code db_store_version(db_store *s, int *out, cf_err *e)
{
    db *c = db_get(s, e);
    if (c == NULL)
        return e && e->code ? e->code : CF_EUNAVAIL;
    db_stmt *st = db_prepare(c, SQL_VERSION_GET, e);
    if (st == NULL)
        return e && e->code ? e->code : CF_EIO;
    int64_t v = 0;
    cf_code rc = db_one_int(st, &v, "schema version", e);
    *out = (int)v;
    return rc;
}

static cf_code add_columns(db_store *s, db *c, const db_migration *m, cf_err *e)
{
    for (size_t i = 0; i < m->n_add_columns; i++) {
        cf_err ae = {0};
        if (s->drv->exec(c->conn, m->add_columns[i], &ae) != CF_OK &&
            strstr(ae.msg, "duplicate column") == NULL)
            return cf_err_set(e, ae.code, "%s", ae.msg);
    }
    return CF_OK;
}

static cf_code migrate(db_store *s, const db_migration *ms, size_t n, cf_err *e)
{
    db *c = db_get(s, e);
    if (c == NULL)
        return e && e->code ? e->code : CF_EUNAVAIL;
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    if (s->drv->migration_lock)
        rc = s->drv->migration_lock(c->conn, e);
    if (rc == CF_OK)
        rc = s->drv->exec(c->conn, SQL_VERSION_TABLE, e);
    int64_t have = 0;
    if (rc == CF_OK) {
        db_stmt *st = db_prepare(c, SQL_VERSION_GET, e);
        rc = st ? db_one_int(st, &have, "schema version", e) : CF_EIO;
    }
    /* A step runs when its version is not recorded, not when it is above
     * the highest recorded one: a step that was skipped (a database
     * written by a build that had a later step but not this one) still
     * runs, and only it. */
    int applied = 0;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        const db_migration *m = &ms[i];
        int64_t done = 0;
        db_stmt *hs = db_prepare(c, SQL_VERSION_HAS, e);
        if (hs == NULL) {
            rc = e && e->code ? e->code : CF_EIO;
            break;
        }
        db_bind_int64(hs, 1, m->version);
        rc = db_one_int(hs, &done, "schema version", e);
        if (rc != CF_OK || done > 0)
            continue;
        const char *sql = s->drv->engine == DB_SQLITE ? m->sqlite : m->postgres;
        if (sql)
            rc = s->drv->exec(c->conn, sql, e);
        if (rc == CF_OK && s->drv->engine == DB_SQLITE)
            rc = add_columns(s, c, m, e);
        if (rc == CF_OK) {
            db_stmt *st = db_prepare(c, SQL_VERSION_ADD, e);
            if (st == NULL) {
                rc = e && e->code ? e->code : CF_EIO;
            } else {
                db_bind_int64(st, 1, m->version);
                rc = db_run(st, e);
            }
        }
        if (rc == CF_OK) {
            if (m->version > have)
                have = m->version;
            applied++;
        }
    }
    rc = db_end(c, rc, e);
    if (rc == CF_OK && applied > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%lld", (long long)have);
        cf_log(CF_LOG_INFO, "schema migrated", "engine", s->drv->name, "version", v, NULL);
    }
    return rc;
}

cf_code db_store_open(db_store **out, const char *target, const db_migration *migrations, size_t n,
                      cf_err *e)
{
    db_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    s->drv = db_target_is_postgres(target) ? &db_pg_driver : &db_sqlite_driver;
    s->target = strdup(target);
    if (s->target == NULL) {
        free(s);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    if (pthread_key_create(&s->key, conn_destroy) != 0) {
        free(s->target);
        free(s);
        return cf_err_set(e, CF_ENOMEM, "no thread-specific key left");
    }
    pthread_mutex_init(&s->mu, NULL);
    cf_code rc = migrate(s, migrations, n, e);
    if (rc != CF_OK) {
        db_store_close(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

void db_store_close(db_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    db *c = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->mu);
    /* this thread's key still points at its own: clear it so the
     * destructor does not run on a freed connection */
    pthread_setspecific(s->key, NULL);
    while (c) {
        db *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->mu);
    /* the target may carry a password (a libpq URI): wipe it */
    OPENSSL_cleanse(s->target, strlen(s->target));
    free(s->target);
    free(s);
}
