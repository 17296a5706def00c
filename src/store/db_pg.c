/*
 * db_pg.c -- the PostgreSQL driver of the SQL seam (db.h), over libpq.
 *
 * Target: a libpq URI, "postgresql://USER@HOST:PORT/DB?sslmode=..." (the
 * password, if any, from ~/.pgpass or PGPASSFILE, never from a flag, so it
 * is never in a process listing or a log line; a password in the URI
 * works too but is discouraged, docs/storage.md).
 *
 * Statements: the SQL is the seam's ("?N" parameters), rewritten once at
 * prepare time into "$N" and prepared on the server under a name of this
 * connection ("s0", "s1", ...). Parameters go as text (integers printed
 * in decimal, the server infers their types from the statement) except
 * blobs, which go in binary format. Results come back as text; a bytea
 * column is decoded (PQunescapeBytea) when the caller asks for it, and
 * wiped when the row changes. A statement's whole result is fetched by
 * its first step: every statement of the store returns few rows (lists
 * are paginated or bounded), so memory stays bounded.
 *
 * Errors: SQLSTATE class 23 (integrity constraint) is CF_EEXISTS; 53 (out
 * of resources) CF_ENOSPACE; a lost connection, class 08, 57P0x (the
 * server shutting down or starting) and 40xxx (serialization, deadlock)
 * CF_EUNAVAIL, which the data plane answers 503 (the client retries; the
 * thread's connection is replaced on its next call).
 *
 * Notices (e.g. "relation already exists, skipping") are dropped instead
 * of libpq's default of printing them on stderr, which is the daemon's
 * JSON log.
 *
 * Bounded waits: a server that stops answering (a network partition: the
 * packets vanish, no reset ever comes) must not hold a worker thread
 * forever, so no call blocks in libpq. Connecting has connect_timeout (5 s
 * unless the URI says otherwise) and TCP keepalives on both ends (the
 * server's set by the session's options, so it drops the session of a
 * node that vanished, and its advisory locks, within ~25 s); a statement is sent
 * with the asynchronous API and waited for with poll() up to the
 * statement timeout (db_set_timeout: 30 s by default, per thread; the
 * health probe uses 2 s). A wait that runs out gives CF_EUNAVAIL and
 * leaves the connection marked dead (the server aborts its transaction
 * when it notices; PQcancel is not used, it would block on the same dead
 * network), so the thread gets a fresh one on its next call. A session
 * the server ended while the connection sat idle is noticed before the
 * connection is used (pg_broken), and replaced then.
 *
 * Notifications (LISTEN/NOTIFY) are read on a connection of their own
 * (db_wait_notify): poll() on its socket, PQconsumeInput, PQnotifies.
 */
#define CF_LOG_MOD "db"
#include "store/db.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "base/log.h"

#define PG_MAX_PARAMS 32
#define PG_MAX_COLS 32

/* pg_advisory_xact_lock key of schema migrations: "coffer" in ASCII */
#define MIGRATION_LOCK_KEY "109103509939570"

typedef struct pgc {
    PGconn *pg;
    unsigned next_name;
    int dead; /* a wait ran out: replace the connection */
} pgc;

/* The statement timeout of this thread's calls, in ms (db_set_timeout). */
static __thread unsigned tl_timeout_ms;
#define DEFAULT_TIMEOUT_MS 30000u

static unsigned timeout_ms(void)
{
    return tl_timeout_ms ? tl_timeout_ms : DEFAULT_TIMEOUT_MS;
}

typedef struct pgst {
    pgc *c;
    char name[16];
    int nparams;
    const char *vals[PG_MAX_PARAMS];
    int lens[PG_MAX_PARAMS];
    int fmts[PG_MAX_PARAMS];
    char nums[PG_MAX_PARAMS][24];
    PGresult *res;
    int row, nrows;
    int64_t changes;
    unsigned char *blob[PG_MAX_COLS];
    size_t blob_len[PG_MAX_COLS];
} pgst;

static void notice_drop(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* The error of a failed call on c (res may be NULL) as a cf_code. */
static cf_code pg_fail(cf_err *e, PGconn *pg, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if ((msg == NULL || *msg == '\0') && pg != NULL)
        msg = PQerrorMessage(pg);
    cf_code code = CF_EIO;
    if (pg == NULL || PQstatus(pg) == CONNECTION_BAD)
        code = CF_EUNAVAIL;
    else if (state && strncmp(state, "23", 2) == 0)
        code = CF_EEXISTS;
    else if (state && strncmp(state, "53", 2) == 0)
        code = CF_ENOSPACE;
    else if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
                       strncmp(state, "40", 2) == 0))
        code = CF_EUNAVAIL;
    /* one line: libpq messages end with a newline and may have several */
    char line[200];
    snprintf(line, sizeof(line), "%s", msg ? msg : "");
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    return cf_err_set(e, code, "postgres %s: %s", what, line);
}

static cf_code pg_connect(void **out, const char *target, cf_err *e)
{
    pgc *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    /* defaults first: the target's own parameters (a URI's query) are
     * expanded after them and win */
    static const char *const keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "application_name", "dbname",          NULL};
    const char *vals[] = {"5", "1", "10", "5", "3", "cofferd", target, NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (c->pg == NULL) {
        free(c);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        cf_code rc = pg_fail(e, c->pg, NULL, "connect");
        PQfinish(c->pg);
        free(c);
        return cf_err_set(e, rc == CF_EIO ? CF_EUNAVAIL : rc, "database unavailable");
    }
    PQsetNoticeProcessor(c->pg, notice_drop, NULL);
    *out = c;
    return CF_OK;
}

static void pg_disconnect(void *conn)
{
    pgc *c = conn;
    if (c == NULL)
        return;
    PQfinish(c->pg);
    free(c);
}

static int result_ok(const PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* Waits (bounded) until the statement sent on c has its results, and
 * returns the first failed one or else the last one (NULL after a
 * timeout or a lost connection, with *timed_out set for the former). */
static PGresult *await(pgc *c, unsigned ms, int *timed_out)
{
    *timed_out = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(c->pg)) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (spent >= (long)ms) {
                *timed_out = 1;
                c->dead = 1;
                PQclear(keep);
                return NULL;
            }
            struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
            if (pfd.fd < 0)
                goto lost;
            int n = poll(&pfd, 1, (int)((long)ms - spent));
            if (n < 0 && errno != EINTR)
                goto lost;
            if (n > 0 && PQconsumeInput(c->pg) == 0)
                goto lost;
        }
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL)
            return keep;
        if (keep != NULL && !result_ok(keep)) {
            PQclear(r); /* the first failure is the one to report */
        } else {
            PQclear(keep);
            keep = r;
        }
    }
lost:
    PQclear(keep);
    return NULL;
}

/* The failure of an await() that gave no result. */
static cf_code await_fail(cf_err *e, pgc *c, int timed_out, const char *what, unsigned ms)
{
    if (timed_out)
        return cf_err_set(e, CF_EUNAVAIL, "postgres %s: no answer within %u ms", what, ms);
    return pg_fail(e, c->pg, NULL, what);
}

static cf_code pg_exec(void *conn, const char *sql, cf_err *e)
{
    pgc *c = conn;
    /* scripts (migrations, which may wait for another node's) get longer */
    unsigned ms = timeout_ms() * 10;
    if (c->dead)
        return cf_err_set(e, CF_EUNAVAIL, "postgres exec: connection lost");
    if (PQsendQuery(c->pg, sql) == 0)
        return pg_fail(e, c->pg, NULL, "exec");
    int to = 0;
    PGresult *res = await(c, ms, &to);
    if (res == NULL)
        return await_fail(e, c, to, "exec", ms);
    ExecStatusType s = PQresultStatus(res);
    cf_code rc = CF_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = pg_fail(e, c->pg, res, "exec");
    PQclear(res);
    return rc;
}

static cf_code pg_migration_lock(void *conn, cf_err *e)
{
    return pg_exec(conn, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")", e);
}

static void pg_scrub(void *conn)
{
    /* Dead row versions keep their bytes until VACUUM reclaims the space
     * and later writes reuse it; this reclaims it now. PostgreSQL has no
     * secure_delete: docs/storage.md says what remains. */
    cf_err e = {0};
    if (pg_exec(conn, "VACUUM registries, tokens", &e) != CF_OK)
        cf_log(CF_LOG_WARN, "vacuum after a deletion failed", "error", e.msg, NULL);
}

/* Before a thread's idle connection is used (db_get): the server may
 * have ended the session meanwhile (pg_terminate_backend, a restart, the
 * reset of a healed partition), which libpq learns only by reading. An
 * idle session has nothing to say, so anything readable on its socket is
 * its goodbye or an error: read it now (no wait) rather than fail the
 * next statement. */
static int pg_broken(void *conn)
{
    pgc *c = conn;
    if (c->dead || PQstatus(c->pg) == CONNECTION_BAD)
        return 1;
    /* the goodbye (an ErrorResponse) and the end of the stream may take
     * two reads */
    struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
    for (int i = 0; i < 4 && poll(&p, 1, 0) > 0; i++)
        if (PQconsumeInput(c->pg) == 0 || PQstatus(c->pg) == CONNECTION_BAD)
            return 1;
    return 0;
}

static cf_code pg_wait_notify(void *conn, unsigned ms,
                              void (*fn)(void *cls, const char *channel, const char *payload),
                              void *cls, cf_err *e)
{
    pgc *c = conn;
    if (c->dead || PQstatus(c->pg) == CONNECTION_BAD)
        return cf_err_set(e, CF_EUNAVAIL, "postgres listen: connection lost");
    PGnotify *n;
    int got = 0;
    while ((n = PQnotifies(c->pg)) != NULL) {
        fn(cls, n->relname, n->extra);
        PQfreemem(n);
        got = 1;
    }
    if (got)
        return CF_OK;
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (pfd.fd < 0)
        return cf_err_set(e, CF_EUNAVAIL, "postgres listen: no socket");
    int r = poll(&pfd, 1, (int)ms);
    if (r < 0 && errno != EINTR)
        return cf_err_os(e, errno, "postgres listen: poll");
    if (r > 0 && PQconsumeInput(c->pg) == 0)
        return pg_fail(e, c->pg, NULL, "listen");
    while ((n = PQnotifies(c->pg)) != NULL) {
        fn(cls, n->relname, n->extra);
        PQfreemem(n);
    }
    return CF_OK;
}

/* "?N" -> "$N" outside quoted strings; *nparams = the largest N. */
static char *translate(const char *sql, int *nparams)
{
    size_t n = strlen(sql);
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    int quote = 0, maxp = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = sql[i];
        if (ch == '\'')
            quote = !quote;
        if (!quote && ch == '?' && i + 1 < n && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            out[o++] = '$';
            int v = 0;
            size_t j = i + 1;
            while (j < n && sql[j] >= '0' && sql[j] <= '9' && v < 1000) {
                v = v * 10 + (sql[j] - '0');
                out[o++] = sql[j++];
            }
            if (v > maxp)
                maxp = v;
            i = j - 1;
            continue;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    *nparams = maxp;
    return out;
}

static void blobs_free(pgst *s)
{
    for (int i = 0; i < PG_MAX_COLS; i++) {
        if (s->blob[i]) {
            OPENSSL_cleanse(s->blob[i], s->blob_len[i]);
            PQfreemem(s->blob[i]);
            s->blob[i] = NULL;
        }
    }
}

static cf_code pg_prepare(void **out, void *conn, const char *sql, cf_err *e)
{
    pgc *c = conn;
    int np = 0;
    char *q = translate(sql, &np);
    if (q == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    if (np > PG_MAX_PARAMS) {
        free(q);
        return cf_err_set(e, CF_EINVAL, "statement has too many parameters");
    }
    pgst *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        free(q);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    s->c = c;
    s->nparams = np;
    snprintf(s->name, sizeof(s->name), "s%u", c->next_name++);
    cf_code rc = CF_OK;
    PGresult *res = NULL;
    int to = 0;
    if (c->dead)
        rc = cf_err_set(e, CF_EUNAVAIL, "postgres prepare: connection lost");
    else if (PQsendPrepare(c->pg, s->name, q, np, NULL) == 0)
        rc = pg_fail(e, c->pg, NULL, "prepare");
    else if ((res = await(c, timeout_ms(), &to)) == NULL)
        rc = await_fail(e, c, to, "prepare", timeout_ms());
    else if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_fail(e, c->pg, res, "prepare");
    free(q);
    PQclear(res);
    if (rc != CF_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

static void pg_reset(void *st)
{
    pgst *s = st;
    blobs_free(s);
    PQclear(s->res);
    s->res = NULL;
    s->row = s->nrows = 0;
    for (int i = 0; i < s->nparams; i++) {
        s->vals[i] = NULL;
        s->lens[i] = 0;
        s->fmts[i] = 0;
    }
}

static void pg_finalize(void *st)
{
    /* the server forgets the statement with its session */
    pg_reset(st);
    free(st);
}

static void pg_bind_text(void *st, int i, const char *v)
{
    pgst *s = st;
    if (i < 1 || i > s->nparams)
        return;
    s->vals[i - 1] = v;
    s->fmts[i - 1] = 0;
}

static void pg_bind_int64(void *st, int i, int64_t v)
{
    pgst *s = st;
    if (i < 1 || i > s->nparams)
        return;
    snprintf(s->nums[i - 1], sizeof(s->nums[i - 1]), "%lld", (long long)v);
    s->vals[i - 1] = s->nums[i - 1];
    s->fmts[i - 1] = 0;
}

static void pg_bind_blob(void *st, int i, const void *p, size_t n)
{
    pgst *s = st;
    if (i < 1 || i > s->nparams)
        return;
    /* an empty blob is not NULL: point at something */
    s->vals[i - 1] = p ? (n ? (const char *)p : "") : NULL;
    s->lens[i - 1] = (int)n;
    s->fmts[i - 1] = 1;
}

static int pg_step(void *st, cf_err *e)
{
    pgst *s = st;
    blobs_free(s);
    if (s->res == NULL) {
        unsigned ms = timeout_ms();
        if (s->c->dead)
            return cf_err_set(e, CF_EUNAVAIL, "postgres step: connection lost");
        if (PQsendQueryPrepared(s->c->pg, s->name, s->nparams, s->vals, s->lens, s->fmts, 0) == 0)
            return pg_fail(e, s->c->pg, NULL, "step");
        int to = 0;
        s->res = await(s->c, ms, &to);
        if (s->res == NULL)
            return await_fail(e, s->c, to, "step", ms);
        ExecStatusType t = PQresultStatus(s->res);
        if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
            const char *ct = PQcmdTuples(s->res);
            s->changes = (ct && *ct) ? strtoll(ct, NULL, 10) : 0;
            s->nrows = t == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
            s->row = -1;
        } else {
            cf_code rc = pg_fail(e, s->c->pg, s->res, "step");
            PQclear(s->res);
            s->res = NULL;
            return rc;
        }
    }
    if (s->row + 1 < s->nrows) {
        s->row++;
        return DB_ROW;
    }
    s->row = s->nrows;
    return DB_DONE;
}

static const char *pg_column_text(void *st, int i)
{
    pgst *s = st;
    if (s->res == NULL || s->row < 0 || s->row >= s->nrows || i >= PQnfields(s->res) ||
        PQgetisnull(s->res, s->row, i))
        return NULL;
    return PQgetvalue(s->res, s->row, i);
}

static int64_t pg_column_int64(void *st, int i)
{
    const char *t = pg_column_text(st, i);
    return t ? strtoll(t, NULL, 10) : 0;
}

static const void *pg_column_blob(void *st, int i, size_t *n)
{
    pgst *s = st;
    *n = 0;
    const char *t = pg_column_text(st, i);
    if (t == NULL || i >= PG_MAX_COLS)
        return NULL;
    if (s->blob[i] == NULL) {
        size_t len = 0;
        s->blob[i] = PQunescapeBytea((const unsigned char *)t, &len);
        if (s->blob[i] == NULL)
            return NULL;
        s->blob_len[i] = len;
    }
    *n = s->blob_len[i];
    return *n ? s->blob[i] : NULL;
}

void db_pg_set_timeout(unsigned ms)
{
    tl_timeout_ms = ms;
}

static int64_t pg_changes(void *st)
{
    return ((pgst *)st)->changes;
}

const db_driver db_pg_driver = {
    .name = "postgres",
    .engine = DB_POSTGRES,
    .begin_sql = "BEGIN",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .migration_lock = pg_migration_lock,
    .scrub = pg_scrub,
    .broken = pg_broken,
    .wait_notify = pg_wait_notify,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .reset = pg_reset,
    .column_text = pg_column_text,
    .column_int64 = pg_column_int64,
    .column_blob = pg_column_blob,
    .changes = pg_changes,
};
