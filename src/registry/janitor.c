/*
 * janitor.c -- see janitor.h. Wakes every ttl/4 (at least 1 s, at most
 * 60 s); stops promptly on janitor_stop through a condition variable.
 * Works through the object store seam (objects.h): the same on files and
 * in a bucket.
 */
#define CF_LOG_MOD "janitor"
#include "registry/janitor.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/ticker.h"
#include "registry/content.h"
#include "registry/gc.h"
#include "registry/oci.h"
#include "store/coord.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"

static cf_ticker *ticker;
static unsigned ttl;
static unsigned long passes;

typedef struct pass {
    time_t idle_before;
    unsigned removed;
    const char *what;   /* the registry's folder swept: "uploads" | "blobs" */
    objects_list_fn fn; /* what is done with each object there */
} pass;

static int expire_one(void *cls, const char *uuid, const char *reg)
{
    pass *p = cls;
    if (upload_expire(uuid, reg, p->idle_before)) {
        meta_upload_delete(uuid, NULL);
        p->removed++;
        cf_log(CF_LOG_INFO, "abandoned upload removed", "upload", uuid, NULL);
    }
    return 0;
}

/* What a registry's uploads/ holds that no upload row owns (a crash
 * between creating an upload's stream and recording it, a checkpoint's
 * temp file, an S3 multipart upload whose upload is gone) is removed once
 * it is as old as the idle timeout. */
typedef struct sweep {
    pass *p;
    const char *reg;
} sweep;

static int sweep_upload(void *cls, const char *key, uint64_t size, int64_t mtime, int unfinished)
{
    (void)size;
    sweep *w = cls;
    const char *n = strrchr(key, '/');
    n = n ? n + 1 : key;
    if (strlen(n) < UPLOAD_UUID_LEN || !upload_uuid_valid(n, UPLOAD_UUID_LEN))
        return 0;
    char uuid[UPLOAD_UUID_LEN + 1], reg[META_ID_LEN + 1], repo[OCI_NAME_MAX + 1];
    snprintf(uuid, sizeof(uuid), "%.*s", UPLOAD_UUID_LEN, n);
    if (mtime >= (int64_t)w->p->idle_before ||
        meta_upload_get(uuid, reg, repo, sizeof(repo), NULL) != CF_ENOTFOUND || upload_active(uuid))
        return 0; /* recent, recorded, or a monolithic push in progress */
    cf_err e = {0};
    cf_code rc = unfinished ? objects_stream_discard(key, &e) : objects_remove_key(key, &e);
    if (rc == CF_OK) {
        w->p->removed++;
        cf_log(CF_LOG_INFO, "orphan upload object removed", "key", key, NULL);
    }
    return 0;
}

/* A blob object no row points at: a completion cut by a crash between
 * the install of the object and the metadata commit, or a removal that
 * failed after the row went. Removed when older than the idle timeout,
 * under the digest's lock and after a second look at the metadata (a
 * completion holds the lock from install to commit). */
static int sweep_blob(void *cls, const char *key, uint64_t size, int64_t mtime, int unfinished)
{
    (void)size;
    sweep *w = cls;
    oci_digest d;
    if (unfinished || mtime >= (int64_t)w->p->idle_before || objects_key_digest(&d, key) != 0)
        return 0;
    if (meta_blob_stat(w->reg, NULL, d.text, NULL, NULL) != CF_ENOTFOUND)
        return 0;
    cf_err e = {0};
    coord_hold h;
    if (content_lock(w->reg, &d, &h, &e) != CF_OK)
        return 0; /* another node's request has it: the next pass looks again */
    if (meta_blob_stat(w->reg, NULL, d.text, NULL, NULL) == CF_ENOTFOUND &&
        objects_remove_key(key, &e) == CF_OK) {
        w->p->removed++;
        cf_log(CF_LOG_INFO, "orphan blob object removed", "digest", d.text, NULL);
    }
    content_unlock(&d, &h);
    return 0;
}

/* One registry's folder p->what, each object through p->fn. */
static int sweep_registry(void *cls, const meta_registry *r)
{
    pass *p = cls;
    char prefix[OBJECTS_KEY_MAX];
    snprintf(prefix, sizeof(prefix), "registries/%s/%s/", r->id, p->what);
    sweep w = {p, r->id};
    cf_err e = {0};
    if (objects_list(prefix, p->fn, &w, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "janitor cannot list objects", "registry", r->name, "folder", p->what,
               "error", e.msg, NULL);
    return 0;
}

unsigned janitor_run_once(unsigned upload_ttl_s, int blobs)
{
    pass p = {.idle_before = time(NULL) - (time_t)upload_ttl_s};
    cf_err e = {0};
    /* one pass at a time in the whole cluster: the node that has the lock
     * runs it, the others skip this round */
    coord_hold h;
    int got = 0;
    if (coord_try_lock(COORD_JANITOR, "janitor", &got, &h, &e) != CF_OK || !got)
        return 0;
    if (meta_upload_each_older((int64_t)p.idle_before, expire_one, &p, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "janitor pass failed", "error", e.msg, NULL);
    p.what = "uploads";
    p.fn = sweep_upload;
    if (objects_current() != NULL && meta_registry_each(sweep_registry, &p, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "janitor sweep failed", "error", e.msg, NULL);
    p.what = "blobs";
    p.fn = sweep_blob;
    if (blobs && objects_current() != NULL && meta_registry_each(sweep_registry, &p, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "janitor blob sweep failed", "error", e.msg, NULL);
    coord_unlock(&h);
    /* the collections (gc.h), each under its registry's lock: a node
     * whose pass this was collects, another node's collection of a
     * registry (an operator's run) makes it skip that one */
    if (blobs)
        p.removed += gc_collect_all();
    return p.removed;
}

static void janitor_tick(void *arg)
{
    (void)arg;
    /* blobs every fourth pass (about once per idle timeout): that walk
     * lists every object of every registry */
    janitor_run_once(ttl, passes++ % 4 == 3);
}

cf_code janitor_start(unsigned upload_ttl_s, cf_err *e)
{
    ttl = upload_ttl_s;
    passes = 0;
    unsigned period = ttl / 4;
    if (period < 1)
        period = 1;
    if (period > 60)
        period = 60;
    return cf_ticker_start(&ticker, "janitor", period * 1000, 0, janitor_tick, NULL, e);
}

void janitor_stop(void)
{
    cf_ticker_stop(ticker);
    ticker = NULL;
}
