/*
 * health.c -- see health.h. One monitor thread probes the database and
 * the object store every second; the key state comes from the key engine
 * (cmk_keys_ready) at each answer, it is in memory.
 */
#define CF_LOG_MOD "health"
#include "control/health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <stdlib.h>

#include <jansson.h>

#include "base/log.h"
#include "base/ticker.h"
#include "base/metrics.h"
#include "cmk/cmk.h"
#include "store/db.h"
#include "store/meta.h"
#include "store/objects.h"

#define PROBE_EVERY_MS 1000
#define PROBE_TIMEOUT_MS 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* the probes' results */
static cf_ticker *ticker;
static atomic_int stopping_srv;

/* the last probes: 1 ok; the error text otherwise */
static int db_ok, obj_ok;
static char db_err[256], obj_err[256];

static void probe_once(void)
{
    cf_err de = {0}, oe = {0};
    int dok = meta_ping(&de) == CF_OK;
    int ook = objects_check(&oe) == CF_OK;
    pthread_mutex_lock(&mu);
    if (dok != db_ok)
        cf_log(dok ? CF_LOG_INFO : CF_LOG_WARN,
               dok ? "database reachable again" : "database unreachable: not ready", "error",
               de.msg, NULL);
    if (ook != obj_ok)
        cf_log(ook ? CF_LOG_INFO : CF_LOG_WARN,
               ook ? "object store reachable again" : "object store unusable: not ready", "error",
               oe.msg, NULL);
    db_ok = dok;
    obj_ok = ook;
    snprintf(db_err, sizeof(db_err), "%s", dok ? "" : de.msg);
    snprintf(obj_err, sizeof(obj_err), "%s", ook ? "" : oe.msg);
    pthread_mutex_unlock(&mu);
    if (!ook)
        metrics_count_objects_error("check");
}

/* a probe that hangs (a partitioned database) gives up after
 * PROBE_TIMEOUT_MS: the node turns unready instead of hanging with it */
static void probe_bounded(void *arg)
{
    (void)arg;
    db_set_timeout(PROBE_TIMEOUT_MS);
    probe_once();
    db_set_timeout(0);
}

cf_code health_start(cf_err *e)
{
    /* the first probe before anything is announced: the node starts ready
     * when it is, not one period later */
    pthread_mutex_lock(&mu);
    db_ok = obj_ok = 1;
    pthread_mutex_unlock(&mu);
    atomic_store(&stopping_srv, 0);
    probe_bounded(NULL);
    return cf_ticker_start(&ticker, "health monitor", PROBE_EVERY_MS, 0, probe_bounded, NULL, e);
}

void health_stop(void)
{
    cf_ticker_stop(ticker);
    ticker = NULL;
}

void health_set_stopping(void)
{
    atomic_store(&stopping_srv, 1);
}

/* Fills checks (may be NULL) and returns readiness; why: the first
 * failing check's text. keys: the customer-managed keys count (the data
 * plane's readiness; the management listener's leaves them out, health.h). */
static int evaluate(json_t *checks, char *why, size_t cap, int keys)
{
    char keys_why[512] = "";
    int kok = keys ? cmk_keys_ready(keys_why, sizeof(keys_why)) : 1;
    pthread_mutex_lock(&mu);
    int dok = db_ok, ook = obj_ok;
    char de[256], oe[256];
    snprintf(de, sizeof(de), "%s", db_err);
    snprintf(oe, sizeof(oe), "%s", obj_err);
    pthread_mutex_unlock(&mu);
    int stop = atomic_load(&stopping_srv);
    if (checks) {
        json_object_set_new(checks, "database", json_string(dok ? "ok" : de));
        json_object_set_new(checks, "objects", json_string(ook ? "ok" : oe));
        if (keys)
            json_object_set_new(checks, "keys", json_string(kok ? "ok" : keys_why));
        if (stop)
            json_object_set_new(checks, "stopping", json_string("SIGTERM received"));
    }
    const char *first = stop   ? "stopping"
                        : !dok ? "database"
                        : !ook ? "objects"
                        : !kok ? "keys"
                               : NULL;
    if (why && cap)
        snprintf(why, cap, "%s", first ? first : "");
    return first == NULL;
}

int health_ready(char *why, size_t cap)
{
    return evaluate(NULL, why, cap, 1);
}

static void reply(http_req *r, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    http_resp *resp =
        http_resp_bytes(status, text ? text : "{}", text ? strlen(text) : 2, "application/json");
    free(text);
    http_resp_header(resp, "Cache-Control", "no-store");
    http_req_respond(r, resp);
}

int health_handle(http_req *r, int keys)
{
    int live = strcmp(r->path, "/healthz") == 0;
    if (!live && strcmp(r->path, "/readyz") != 0)
        return 0;
    r->route = live ? "healthz" : "readyz";
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        http_resp *resp = http_resp_new(405);
        http_resp_header(resp, "Allow", "GET, HEAD");
        http_req_respond(r, resp);
        return 1;
    }
    if (live) {
        reply(r, 200, json_pack("{s:s}", "status", "alive"));
        return 1;
    }
    json_t *checks = json_object();
    int ok = evaluate(checks, NULL, 0, keys);
    reply(r, ok ? 200 : 503,
          json_pack("{s:s,s:o}", "status", ok ? "ready" : "not ready", "checks", checks));
    return 1;
}
