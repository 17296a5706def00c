/*
 * gc.c -- see gc.h (the protocol is written there). The candidates are
 * read a page at a time into a fixed buffer (constant memory), and the
 * page is worked through after its statement is done: each digest under
 * its lock, in a transaction of its own that looks again.
 */
#define CF_LOG_MOD "gc"
#include "registry/gc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "registry/content.h"
#include "registry/oci.h"
#include "store/coord.h"
#include "store/meta.h"
#include "store/objects.h"

#define PAGE 128
/* retention deletes an index first, its children at the next round */
#define RETENTION_ROUNDS 8

static int64_t default_grace = GC_GRACE_DEFAULT_S;
/* one collection at a time in this process (on SQLite, the only node,
 * coord's locks are granted at once) */
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;

void gc_set_default_grace(int64_t seconds)
{
    default_grace = seconds;
}

int64_t gc_default_grace(void)
{
    return default_grace;
}

int64_t gc_touch_fresh(void)
{
    int64_t f = default_grace / 4;
    return f < 1 ? 1 : f > 60 ? 60 : f;
}

typedef struct page {
    size_t n;
    char repo[PAGE][OCI_NAME_MAX + 1];
    char digest[PAGE][OCI_DIGEST_MAX + 1];
    int64_t size[PAGE];
} page;

static int page_digest(void *cls, const char *digest)
{
    page *p = cls;
    snprintf(p->digest[p->n], sizeof(p->digest[0]), "%s", digest);
    p->repo[p->n][0] = '\0';
    p->n++;
    return 0;
}

static int page_manifest(void *cls, const char *repo, const char *digest, int64_t size)
{
    page *p = cls;
    snprintf(p->repo[p->n], sizeof(p->repo[0]), "%s", repo);
    snprintf(p->digest[p->n], sizeof(p->digest[0]), "%s", digest);
    p->size[p->n] = size;
    p->n++;
    return 0;
}

/* Removes the object of d (its row just went), logging a failure: the
 * janitor's orphan sweep removes it later. */
static void object_remove(const char *reg_id, const oci_digest *d)
{
    cf_err fe = {0};
    if (objects_current() != NULL && objects_remove(reg_id, d, &fe) != CF_OK &&
        fe.code != CF_ENOTFOUND)
        cf_log(CF_LOG_WARN, "cannot remove collected object", "digest", d->text, "error", fe.msg,
               NULL);
}

/* The lock of digest text (content_lock): 0 when held; -1 when text is
 * no digest or another request holds it long. */
static int digest_lock(const char *reg_id, const char *text, oci_digest *d, coord_hold *h)
{
    cf_err e = {0};
    if (oci_digest_parse(d, text, strlen(text), NULL) != CF_OK)
        return -1;
    return content_lock(reg_id, d, h, &e) == CF_OK ? 0 : -1;
}

/* One round over the untagged manifests older than cutoff; *deleted
 * counts this round's. */
static cf_code retention_round(const char *reg_id, int64_t cutoff, int dry_run, page *p,
                               gc_report *out, int64_t *deleted, cf_err *e)
{
    char after_repo[OCI_NAME_MAX + 1] = "", after_digest[OCI_DIGEST_MAX + 1] = "";
    *deleted = 0;
    int more = 1;
    while (more) {
        p->n = 0;
        cf_code rc = meta_untagged_each(reg_id, cutoff, after_repo, after_digest, PAGE,
                                        page_manifest, p, &more, e);
        if (rc != CF_OK)
            return rc;
        for (size_t i = 0; i < p->n; i++) {
            if (dry_run) {
                out->manifests++;
                out->manifest_bytes += p->size[i];
                continue;
            }
            oci_digest d;
            coord_hold h;
            if (digest_lock(reg_id, p->digest[i], &d, &h) != 0)
                continue; /* busy: the next collection looks again */
            int del = 0, orphaned = 0;
            rc = meta_untagged_delete(reg_id, p->repo[i], d.text, cutoff, &del, &orphaned, e);
            if (rc == CF_OK && orphaned)
                object_remove(reg_id, &d);
            content_unlock(&d, &h);
            if (rc != CF_OK)
                return rc;
            if (del) {
                out->manifests++;
                out->manifest_bytes += p->size[i];
                (*deleted)++;
                cf_log(CF_LOG_INFO, "untagged manifest deleted by retention", "registry", reg_id,
                       "repository", p->repo[i], "digest", d.text, NULL);
            }
        }
        if (p->n > 0) {
            snprintf(after_repo, sizeof(after_repo), "%s", p->repo[p->n - 1]);
            snprintf(after_digest, sizeof(after_digest), "%s", p->digest[p->n - 1]);
        }
    }
    return CF_OK;
}

static cf_code blobs_collect(const char *reg_id, int64_t cutoff, page *p, gc_report *out, cf_err *e)
{
    char after[OCI_DIGEST_MAX + 1] = "";
    int more = 1;
    while (more) {
        p->n = 0;
        cf_code rc = meta_gc_digests(reg_id, cutoff, after, PAGE, page_digest, p, &more, e);
        if (rc != CF_OK)
            return rc;
        for (size_t i = 0; i < p->n; i++) {
            oci_digest d;
            coord_hold h;
            if (digest_lock(reg_id, p->digest[i], &d, &h) != 0)
                continue; /* busy: the next collection looks again */
            int64_t links = 0, size = 0;
            int orphaned = 0;
            rc = meta_gc_collect(reg_id, d.text, cutoff, &links, &orphaned, &size, e);
            if (rc == CF_OK && orphaned)
                object_remove(reg_id, &d);
            content_unlock(&d, &h);
            if (rc != CF_OK)
                return rc;
            out->links += links;
            if (orphaned) {
                out->blobs++;
                out->bytes += size;
            }
        }
        if (p->n > 0)
            snprintf(after, sizeof(after), "%s", p->digest[p->n - 1]);
    }
    return CF_OK;
}

static int run_lock(unsigned wait_ms)
{
    if (wait_ms == 0)
        return pthread_mutex_trylock(&run_mu) == 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(&run_mu, &ts) == 0;
}

cf_code gc_registry_collect(const char *reg_id, int64_t grace_s, int dry_run, unsigned wait_ms,
                            gc_report *out, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    out->dry_run = dry_run;
    out->grace_s = grace_s < 0 ? default_grace : grace_s;
    meta_registry reg;
    memset(&reg, 0, sizeof(reg));
    cf_code rc = meta_registry_get_id(&reg, reg_id, e);
    int unavailable = rc == CF_OK && reg.cmk && strcmp(reg.key_status, "available") != 0;
    OPENSSL_cleanse(&reg, sizeof(reg)); /* its wrapped keys are of no use here */
    if (rc != CF_OK)
        return rc;
    if (unavailable)
        return cf_err_set(e, CF_ECONFLICT,
                          "the registry's customer-managed key is unavailable: its content cannot "
                          "be collected until the key is back");
    meta_retention pol;
    if ((rc = meta_retention_get(reg_id, &pol, e)) != CF_OK)
        return rc;
    out->retention_enabled = pol.enabled;
    out->retention_days = pol.days;
    if (!run_lock(wait_ms))
        return cf_err_set(e, CF_ECONFLICT, "a collection of this registry is running");
    coord_hold h;
    rc = coord_lock(COORD_GC, reg_id, wait_ms, &h, e);
    if (rc != CF_OK) {
        pthread_mutex_unlock(&run_mu);
        return rc == CF_ECONFLICT
                   ? cf_err_set(e, CF_ECONFLICT, "a collection of this registry is running")
                   : rc;
    }
    page *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    if (pol.enabled) {
        int64_t cutoff = now - pol.days * 86400;
        for (int round = 0; round < (dry_run ? 1 : RETENTION_ROUNDS); round++) {
            int64_t deleted = 0;
            rc = retention_round(reg_id, cutoff, dry_run, p, out, &deleted, e);
            if (rc != CF_OK || deleted == 0)
                break;
        }
        if (rc != CF_OK)
            goto out;
    }
    /* links made at or before now - grace: with --grace 0s, this very
     * second's too */
    int64_t cutoff = now - out->grace_s + 1;
    if (dry_run)
        rc = meta_gc_estimate(reg_id, cutoff, &out->links, &out->blobs, &out->bytes, e);
    else
        rc = blobs_collect(reg_id, cutoff, p, out, e);
    if (rc == CF_OK && !dry_run && (out->manifests || out->blobs)) {
        char m[24], b[24], by[24];
        snprintf(m, sizeof(m), "%lld", (long long)out->manifests);
        snprintf(b, sizeof(b), "%lld", (long long)out->blobs);
        snprintf(by, sizeof(by), "%lld", (long long)out->bytes);
        cf_log(CF_LOG_INFO, "registry collected", "registry", reg_id, "manifests", m, "blobs", b,
               "bytes", by, NULL);
    }
out:
    free(p);
    coord_unlock(&h);
    pthread_mutex_unlock(&run_mu);
    return rc;
}

/* The registries' ids, read first: no collection runs while the
 * listing's statement is open on the connection. */
typedef struct all_ctx {
    size_t n, cap;
    char (*ids)[META_ID_LEN + 1];
} all_ctx;

static int id_add(void *cls, const meta_registry *r)
{
    all_ctx *a = cls;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        void *p = realloc(a->ids, cap * sizeof(*a->ids));
        if (p == NULL)
            return 1;
        a->ids = p;
        a->cap = cap;
    }
    snprintf(a->ids[a->n++], sizeof(a->ids[0]), "%s", r->id);
    return 0;
}

unsigned gc_collect_all(void)
{
    all_ctx a = {0};
    cf_err e = {0};
    unsigned removed = 0;
    if (meta_registry_each(id_add, &a, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "collection pass failed", "error", e.msg, NULL);
    for (size_t i = 0; i < a.n; i++) {
        gc_report rep;
        cf_err ge = {0};
        cf_code rc = gc_registry_collect(a.ids[i], -1, 0, 0, &rep, &ge);
        if (rc == CF_OK)
            removed += (unsigned)(rep.blobs + rep.manifests);
        else if (rc != CF_ECONFLICT && rc != CF_ENOTFOUND)
            cf_log(CF_LOG_WARN, "collection failed", "registry", a.ids[i], "error", ge.msg, NULL);
    }
    free(a.ids);
    return removed;
}
