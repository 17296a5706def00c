/*
 * events.c -- see events.h.
 */
#define CF_LOG_MOD "cmk.events"
#include "cmk/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/jsonl.h"
#include "base/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cf_jsonl *events_log;

cf_code cmk_events_open(const char *path, cf_err *e)
{
    if (path == NULL)
        return CF_OK;
    cf_jsonl *l = NULL;
    cf_code rc = cf_jsonl_open(&l, path, e);
    if (rc != CF_OK)
        return rc;
    pthread_mutex_lock(&mu);
    cf_jsonl_close(events_log);
    events_log = l;
    pthread_mutex_unlock(&mu);
    return CF_OK;
}

void cmk_events_close(void)
{
    pthread_mutex_lock(&mu);
    cf_jsonl_close(events_log);
    events_log = NULL;
    pthread_mutex_unlock(&mu);
}

static void set_opt(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v && *v ? json_string(v) : json_null());
}

void cmk_events_record(const cmk_event *ev)
{
    char when[40];
    cf_jsonl_now(when, sizeof(when));
    json_t *o = json_object();
    json_t *ids = json_array();
    if (o == NULL || ids == NULL) {
        json_decref(o);
        json_decref(ids);
        return;
    }
    json_object_set_new(o, "time", json_string(when));
    set_opt(o, "registryId", ev->registry_id);
    set_opt(o, "registry", ev->registry);
    set_opt(o, "event", ev->event);
    set_opt(o, "state", ev->state);
    set_opt(o, "key", ev->key);
    set_opt(o, "identity", ev->identity);
    set_opt(o, "message", ev->message);
    for (const char *p = ev->request_ids; p && *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0)
            json_array_append_new(ids, json_stringn(p, n));
        p += n;
        p += strspn(p, " ");
    }
    json_object_set_new(o, "vaultRequestIds", ids);
    cf_err e = {0};
    pthread_mutex_lock(&mu);
    cf_code rc = events_log ? cf_jsonl_append(events_log, o, 0, &e) : CF_OK;
    pthread_mutex_unlock(&mu);
    json_decref(o);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "cannot record a key event", "registry", ev->registry, "error", e.msg,
               NULL);
}

static int of_registry(void *cls, const json_t *o)
{
    const char *id = json_string_value(json_object_get(o, "registryId"));
    return id && strcmp(id, (const char *)cls) == 0;
}

cf_code cmk_events_query(const char *registry_id, size_t limit, json_t **out, cf_err *e)
{
    *out = NULL;
    char path[4096];
    pthread_mutex_lock(&mu);
    int open = events_log != NULL;
    if (open)
        snprintf(path, sizeof(path), "%s", cf_jsonl_path(events_log));
    pthread_mutex_unlock(&mu);
    if (!open) {
        *out = json_pack("{s:[]}", "value");
        return *out ? CF_OK : cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    cf_buf b;
    cf_buf_init(&b, 0);
    cf_code rc = cf_jsonl_tail(path, of_registry, (void *)registry_id, limit, &b, e);
    if (rc == CF_OK) {
        *out = json_loadb((const char *)b.data, b.len, 0, NULL);
        if (*out == NULL)
            rc = cf_err_set(e, CF_EIO, "key events: malformed log");
    }
    cf_buf_free(&b);
    return rc;
}

void cmk_request_ids_add(char *ids, size_t n, const char *rid)
{
    size_t rl = rid ? strlen(rid) : 0;
    if (rl == 0)
        return;
    for (const char *p = ids; *p;) {
        size_t l = strcspn(p, " ");
        if (l == rl && strncmp(p, rid, rl) == 0)
            return;
        p += l;
        p += strspn(p, " ");
    }
    size_t used = strlen(ids);
    if (used + (used ? 1 : 0) + rl + 1 > n)
        return;
    if (used)
        ids[used++] = ' ';
    memcpy(ids + used, rid, rl + 1);
}
