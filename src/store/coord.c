/*
 * coord.c -- see coord.h. Locks and NOTIFY are plain SQL on the calling
 * thread's connection (the metadata store's pool: one per thread); the
 * listener has a connection of its own (db_open_own).
 *
 * Keys: the text key (an upload uuid, "<registry id> <digest>", a
 * registry id) is hashed to 32 bits (FNV-1a). Two keys that collide only
 * serialize work that could have run side by side; they never let two
 * holders in.
 */
#define CF_LOG_MOD "coord"
#include "store/coord.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/enc.h"
#include "base/log.h"
#include "store/meta_int.h"
#include "store/uploads.h"

#define CHANNEL "coffer"
#define MAX_SUBSCRIBERS 4
/* The listener checks its connection after this much silence. */
#define LISTEN_PING_MS 5000
#define LISTEN_WAIT_MS 500

static char node_id[17];
static pthread_once_t node_once = PTHREAD_ONCE_INIT;

static coord_subscriber subs[MAX_SUBSCRIBERS];
static int nsubs;

static pthread_t listener;
static int listener_up;
static atomic_int stopping;

static const char SQL_TRY_LOCK[] = "SELECT pg_try_advisory_lock(CAST(?1 AS INTEGER), "
                                   "CAST(?2 AS INTEGER))";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock(CAST(?1 AS INTEGER), "
                                 "CAST(?2 AS INTEGER))";
static const char SQL_NOTIFY[] = "SELECT pg_notify('" CHANNEL "', CAST(?1 AS TEXT))";
static const char SQL_LISTEN[] = "LISTEN " CHANNEL;
/* names the session in pg_stat_activity (operators; the tests cut it) */
static const char SQL_LISTEN_NAME[] = "SELECT set_config('application_name', ?1, false)";
static const char SQL_PING[] = "SELECT 1";

static void node_init(void)
{
    unsigned char r[8];
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    cf_hex_encode(node_id, r, sizeof(r));
}

const char *coord_node(void)
{
    pthread_once(&node_once, node_init);
    return node_id;
}

int coord_clustered(void)
{
    return meta_store != NULL && db_store_engine(meta_store) == DB_POSTGRES;
}

static int32_t key_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return (int32_t)h;
}

cf_code coord_try_lock(coord_ns ns, const char *key, int *got, coord_hold *h, cf_err *e)
{
    memset(h, 0, sizeof(*h));
    *got = 0;
    h->ns = (int)ns;
    h->key = key_hash(key);
    if (!coord_clustered()) {
        *got = 1;
        h->held = 1;
        return CF_OK;
    }
    META_CONN(c);
    META_STMT(st, c, SQL_TRY_LOCK);
    db_bind_int64(st, 1, h->ns);
    db_bind_int64(st, 2, h->key);
    int rc = db_step(st, e);
    cf_code out = CF_OK;
    if (rc == DB_ROW) {
        const char *v = db_column_text(st, 0);
        *got = v != NULL && (v[0] == 't' || v[0] == '1');
    } else {
        out = rc == DB_DONE ? cf_err_set(e, CF_EIO, "advisory lock: no answer") : (cf_code)rc;
    }
    db_reset(st);
    if (out == CF_OK && *got) {
        h->held = 1;
        h->serial = db_serial(c);
    }
    return out;
}

cf_code coord_lock(coord_ns ns, const char *key, unsigned wait_ms, coord_hold *h, cf_err *e)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned pause_ms = 2;
    for (;;) {
        int got = 0;
        cf_code rc = coord_try_lock(ns, key, &got, h, e);
        if (rc != CF_OK || got)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= (long)wait_ms)
            return cf_err_set(e, CF_ECONFLICT, "busy on another node (waited %u ms)", wait_ms);
        usleep(pause_ms * 1000);
        if (pause_ms < 50)
            pause_ms *= 2;
    }
}

int coord_still_held(const coord_hold *h)
{
    if (!h->held)
        return 0;
    if (!coord_clustered())
        return 1;
    cf_err e = {0};
    db *c = db_get(meta_store, &e);
    return c != NULL && db_serial(c) == h->serial && !db_broken(c);
}

void coord_unlock(coord_hold *h)
{
    if (!h->held)
        return;
    h->held = 0;
    if (!coord_clustered())
        return;
    cf_err e = {0};
    db *c = db_get(meta_store, &e);
    if (c == NULL || db_serial(c) != h->serial)
        return; /* the session that held it is gone, and the lock with it */
    db_stmt *st = db_prepare(c, SQL_UNLOCK, &e);
    if (st == NULL)
        return;
    db_bind_int64(st, 1, h->ns);
    db_bind_int64(st, 2, h->key);
    if (db_run(st, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "advisory unlock failed", "error", e.msg, NULL);
}

/* ---- the uploads' claim ---- */

static cf_code up_lock(const char *uuid, void **hold, cf_err *e)
{
    coord_hold *h = malloc(sizeof(*h));
    if (h == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    int got = 0;
    cf_code rc = coord_try_lock(COORD_UPLOAD, uuid, &got, h, e);
    if (rc == CF_OK && !got)
        rc = cf_err_set(e, CF_ECONFLICT, "upload is in use by a request on another node");
    if (rc != CF_OK) {
        free(h);
        return rc;
    }
    *hold = h;
    return CF_OK;
}

static cf_code up_claim(const char *uuid, int64_t *gen, void **hold, cf_err *e)
{
    cf_code rc = up_lock(uuid, hold, e);
    if (rc == CF_OK && (rc = meta_upload_claim(uuid, gen, e)) != CF_OK) {
        coord_unlock(*hold);
        free(*hold);
        *hold = NULL;
    }
    return rc;
}

static cf_code up_check(const char *uuid, int64_t gen, void *hold, cf_err *e)
{
    if (!coord_still_held(hold))
        return cf_err_set(e, CF_ECONFLICT, "the database session holding it was lost");
    int64_t now = 0;
    cf_code rc = meta_upload_gen(uuid, &now, e);
    if (rc == CF_OK && now != gen)
        rc = cf_err_set(e, CF_ECONFLICT, "another request took it since");
    return rc;
}

static void up_unclaim(void *hold)
{
    coord_unlock(hold);
    free(hold);
}

static const upload_coord up_coord = {up_claim, up_lock, up_check, up_unclaim};

const struct upload_coord *coord_uploads(void)
{
    return &up_coord;
}

void coord_notify(const char *event, const char *arg)
{
    if (!coord_clustered())
        return;
    char payload[256];
    snprintf(payload, sizeof(payload), "%s %s %s", coord_node(), event, arg ? arg : "-");
    cf_err e = {0};
    db *c = db_get(meta_store, &e);
    db_stmt *st = c ? db_prepare(c, SQL_NOTIFY, &e) : NULL;
    if (st != NULL) {
        db_bind_text(st, 1, payload);
        if (db_run(st, &e) == CF_OK)
            return;
    }
    cf_log(CF_LOG_WARN, "cannot notify the other nodes; they catch up at their next poll", "event",
           event, "error", e.msg, NULL);
}

void coord_subscribe(const coord_subscriber *s)
{
    if (nsubs < MAX_SUBSCRIBERS)
        subs[nsubs++] = *s;
}

/* "<node> <event> <arg>" from another node: to every subscriber. */
static void dispatch(void *cls, const char *channel, const char *payload)
{
    (void)cls;
    if (channel == NULL || strcmp(channel, CHANNEL) != 0 || payload == NULL)
        return;
    char node[17], event[32], arg[160];
    if (sscanf(payload, "%16s %31s %159s", node, event, arg) != 3)
        return;
    if (strcmp(node, coord_node()) == 0)
        return; /* our own: this node acted already */
    for (int i = 0; i < nsubs; i++)
        if (subs[i].on_event)
            subs[i].on_event(event, arg);
}

static long ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static cf_code name_session(db *c, cf_err *e)
{
    char name[64];
    snprintf(name, sizeof(name), "cofferd-listener-%s", meta_node());
    db_stmt *st = db_prepare(c, SQL_LISTEN_NAME, e);
    if (st == NULL)
        return e && e->code ? e->code : CF_EIO;
    db_bind_text(st, 1, name);
    return db_run(st, e);
}

static void *listen_loop(void *arg)
{
    (void)arg;
    db_set_timeout(2000);
    db *c = NULL;
    int connected_once = 0, warned = 0;
    struct timespec quiet;
    clock_gettime(CLOCK_MONOTONIC, &quiet);
    while (!atomic_load(&stopping)) {
        cf_err e = {0};
        if (c == NULL) {
            c = db_open_own(meta_store, &e);
            if (c != NULL &&
                (db_exec(c, SQL_LISTEN, &e) != CF_OK || name_session(c, &e) != CF_OK)) {
                db_close(c);
                c = NULL;
            }
            if (c == NULL) {
                if (!warned)
                    cf_log(CF_LOG_WARN, "cannot listen for the other nodes' notifications", "error",
                           e.msg, NULL);
                warned = 1;
                usleep(LISTEN_WAIT_MS * 1000);
                continue;
            }
            if (warned)
                cf_log(CF_LOG_INFO, "listening for the other nodes' notifications again", NULL);
            warned = 0;
            clock_gettime(CLOCK_MONOTONIC, &quiet);
            /* what was sent while nobody listened is lost: re-read */
            if (connected_once)
                for (int i = 0; i < nsubs; i++)
                    if (subs[i].on_resync)
                        subs[i].on_resync();
            connected_once = 1;
        }
        cf_code rc = db_wait_notify(c, LISTEN_WAIT_MS, dispatch, NULL, &e);
        if (rc == CF_OK && ms_since(&quiet) >= LISTEN_PING_MS) {
            /* a partition sends no reset: ask, with a timeout */
            rc = db_exec(c, SQL_PING, &e);
            clock_gettime(CLOCK_MONOTONIC, &quiet);
        }
        if (rc != CF_OK) {
            cf_log(CF_LOG_WARN, "lost the notification connection; reconnecting", "error", e.msg,
                   NULL);
            warned = 1;
            db_close(c);
            c = NULL;
        }
    }
    db_close(c);
    return NULL;
}

cf_code coord_start(cf_err *e)
{
    coord_node();
    if (!coord_clustered() || listener_up)
        return CF_OK;
    atomic_store(&stopping, 0);
    if (pthread_create(&listener, NULL, listen_loop, NULL) != 0)
        return cf_err_set(e, CF_EIO, "cannot start the notification listener");
    listener_up = 1;
    return CF_OK;
}

void coord_stop(void)
{
    if (!listener_up)
        return;
    atomic_store(&stopping, 1);
    pthread_join(listener, NULL);
    listener_up = 0;
    nsubs = 0;
}
