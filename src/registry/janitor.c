/*
 * janitor.c -- see janitor.h. Wakes every ttl/4 (at least 1 s, at most
 * 60 s); stops promptly on janitor_stop through a condition variable.
 */
#define CF_LOG_MOD "janitor"
#include "registry/janitor.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "registry/oci.h"
#include "store/coord.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"

static pthread_t thread;
static int running;
static int stopping;
static unsigned ttl;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

typedef struct pass {
    time_t idle_before;
    unsigned removed;
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

/* Files in a registry's uploads/ directory that no upload row owns (a
 * crash between creating the file and recording it, a checkpoint's temp
 * file) are removed once they are as old as the idle timeout. */
static int sweep_registry(void *cls, const meta_registry *r)
{
    pass *p = cls;
    char dir[OBJECTS_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/registries/%s/uploads", objects_data_dir(), r->id);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.' || strlen(n) < UPLOAD_UUID_LEN || !upload_uuid_valid(n, UPLOAD_UUID_LEN))
            continue;
        char uuid[UPLOAD_UUID_LEN + 1], reg[META_ID_LEN + 1], repo[OCI_NAME_MAX + 1];
        snprintf(uuid, sizeof(uuid), "%.*s", UPLOAD_UUID_LEN, n);
        if (meta_upload_get(uuid, reg, repo, sizeof(repo), NULL) != CF_ENOTFOUND ||
            upload_active(uuid))
            continue; /* recorded, or a monolithic push in progress */
        char path[OBJECTS_PATH_MAX + 300];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, n);
        if (stat(path, &st) == 0 && st.st_mtime < p->idle_before && unlink(path) == 0) {
            p->removed++;
            cf_log(CF_LOG_INFO, "orphan upload file removed", "file", n, NULL);
        }
    }
    closedir(d);
    return 0;
}

unsigned janitor_run_once(unsigned upload_ttl_s)
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
    if (objects_data_dir() != NULL && meta_registry_each(sweep_registry, &p, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "janitor sweep failed", "error", e.msg, NULL);
    coord_unlock(&h);
    return p.removed;
}

static void *loop(void *arg)
{
    (void)arg;
    unsigned period = ttl / 4;
    if (period < 1)
        period = 1;
    if (period > 60)
        period = 60;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period;
        pthread_cond_timedwait(&cv, &mu, &ts);
        if (stopping)
            break;
        pthread_mutex_unlock(&mu);
        janitor_run_once(ttl);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

cf_code janitor_start(unsigned upload_ttl_s, cf_err *e)
{
    ttl = upload_ttl_s;
    stopping = 0;
    if (pthread_create(&thread, NULL, loop, NULL) != 0)
        return cf_err_set(e, CF_EIO, "cannot start the janitor thread");
    running = 1;
    return CF_OK;
}

void janitor_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = 0;
}
