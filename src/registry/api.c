/*
 * api.c -- the data plane's front: routing, the registry lookup, the
 * access check every route passes first (access.c), errors, object
 * streaming, and the read-only endpoints (base, catalog, tags list,
 * referrers). Pushes and pulls of blobs and manifests live in blobs.c,
 * uploads.c and manifests.c; /oauth2/token in access.c.
 */
#define CF_LOG_MOD "registry"
#include "registry/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/log.h"
#include "registry/api_int.h"
#include "registry/keyring.h"
#include "registry/quota.h"
#include "registry/manifest.h"
#include "store/objects.h"
#include "store/offload.h"

#define LIST_DEFAULT_N 1000
#define LIST_MAX_N 10000

static char *login_domain;

cf_code registry_api_configure(const registry_api_config *c, cf_err *e)
{
    free(login_domain);
    login_domain = NULL;
    if (c->login_domain && *c->login_domain) {
        login_domain = strdup(c->login_domain);
        if (login_domain == NULL)
            return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    return api_access_configure(c, e);
}

void registry_api_shutdown(void)
{
    free(login_domain);
    login_domain = NULL;
    api_access_shutdown();
}

const char *api_login_domain(void)
{
    return login_domain;
}

/* ---- memory held by request bodies ---- */

#define BODY_BUDGET (64ull * 1024 * 1024)
static pthread_mutex_t budget_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t budget_used;

int api_mem_reserve(rq *q, uint64_t n)
{
    int rc = -1;
    pthread_mutex_lock(&budget_mu);
    if (budget_used + n <= BODY_BUDGET) {
        budget_used += n;
        q->mem_reserved += n;
        rc = 0;
    }
    pthread_mutex_unlock(&budget_mu);
    return rc;
}

static void mem_release(rq *q)
{
    pthread_mutex_lock(&budget_mu);
    budget_used -= q->mem_reserved;
    q->mem_reserved = 0;
    pthread_mutex_unlock(&budget_mu);
}

/* ---- responses ---- */

void api_drop_upload(rq *q)
{
    if (q->up && q->fresh) {
        /* a monolithic push that failed leaves no upload behind */
        meta_upload_delete(upload_uuid(q->up), NULL);
        upload_discard(q->up);
    } else if (q->up) {
        upload_release(q->up, 0); /* unfinished business rolls back */
    }
    q->up = NULL;
}

/* Bodies up to this size are read and dropped before an early answer, so
 * the client sees the answer rather than a connection reset. */
void api_respond(rq *q, http_resp *resp)
{
    http_resp_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
    /* an answer given before the body is read is sent once the server has
     * drained the body (http_server_opts.drain_max) */
    http_req_respond(q->r, resp);
}

static void fail_v(rq *q, unsigned status, const char *code, const char *hname, const char *hval,
                   const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

void api_fail(rq *q, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(q, status, code, NULL, NULL, fmt, ap);
    va_end(ap);
}

void api_fail_hdr(rq *q, unsigned status, const char *code, const char *hname, const char *hval,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(q, status, code, hname, hval, fmt, ap);
    va_end(ap);
}

static void fail_v(rq *q, unsigned status, const char *code, const char *hname, const char *hval,
                   const char *fmt, va_list ap)
{
    char msg[1400];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    q->failed = 1;
    json_t *err = json_pack("{s:s,s:s,s:n}", "code", code, "message", msg, "detail");
    json_t *root = json_pack("{s:[o]}", "errors", err);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    http_resp *resp =
        http_resp_bytes(status, body ? body : "", body ? strlen(body) : 0, "application/json");
    free(body);
    if (hname)
        http_resp_header(resp, hname, hval);
    char st[8];
    snprintf(st, sizeof(st), "%u", status);
    /* let go of the upload before the client can see the answer, so its
     * next request finds it free (rolled back to the last checkpoint) */
    api_drop_upload(q);
    cf_log(status >= 500 ? CF_LOG_ERROR : CF_LOG_WARN, "request failed", "request_id",
           q->r->request_id, "method", q->r->method, "path", q->r->path, "status", st, "code", code,
           "error", msg, NULL);
    api_respond(q, resp);
}

void api_fail_err(rq *q, const cf_err *e, const char *what)
{
    switch (e->code) {
    case CF_EDENIED: /* the vault refused the registry's key (DESIGN §6) */
        api_fail(q, 403, "DENIED", "%s: %s", what, e->msg);
        break;
    case CF_EUNAVAIL:
        api_fail(q, 503, "UNAVAILABLE", "%s: %s", what, e->msg);
        break;
    case CF_ENOSPACE:
        api_fail(q, 507, "UNAVAILABLE", "%s: storage full", what);
        break;
    case CF_EINTEGRITY:
        api_fail(q, 500, "UNKNOWN", "%s: stored data failed authentication", what);
        break;
    default:
        api_fail(q, 500, "UNKNOWN", "%s: %s", what, e->msg[0] ? e->msg : cf_code_name(e->code));
        break;
    }
}

int api_need_kek(rq *q)
{
    if (q->have_kek)
        return 0;
    cf_err e = {0};
    if (keyring_kek(&q->kek, &q->reg, &e) != CF_OK) {
        if (e.code == CF_EINTEGRITY) {
            /* a tampered or corrupted wrapped secret is damage, not a
             * revoked key: report it as the storage failure it is */
            cf_log(CF_LOG_ERROR, "registry key failed authentication", "registry", q->reg.name,
                   "error", e.msg, NULL);
            api_fail_err(q, &e, "registry key");
            return -1;
        }
        /* locked: 403 when the vault refused the key, 503 while it is not
         * loaded (DESIGN §6); the reason in full, not cut to a cf_err */
        char why[1100];
        int denied = e.code == CF_EDENIED;
        if (keyring_reason(q->reg.id, why, sizeof(why)) > 0)
            api_fail(q, denied ? 403 : 503, denied ? "DENIED" : "UNAVAILABLE",
                     "registry %s is locked: %s", q->reg.name, why);
        else
            api_fail(q, denied ? 403 : 503, denied ? "DENIED" : "UNAVAILABLE", "%s", e.msg);
        return -1;
    }
    q->have_kek = 1;
    return 0;
}

int api_quota(rq *q, int64_t adding)
{
    q->quota_on = q->reg.storage_limit > 0;
    if (!q->quota_on)
        return 0;
    cf_err e = {0};
    if (quota_room(&q->quota_room, &q->reg, adding, &e) == CF_OK)
        return 0;
    if (e.code == CF_EDENIED)
        api_fail(q, 403, "DENIED", "%s", e.msg);
    else
        api_fail_err(q, &e, "storage usage");
    return -1;
}

/* ---- object streaming ---- */

typedef struct half_job {
    seal_reader *rd;
    uint64_t off;
    unsigned char *buf;
    size_t len, got;
    cf_code rc;
    cf_err e;
} half_job;

/* One block of the read-ahead: [job.off, job.off + job.got) authentic
 * bytes once the helper h is waited for, then job.rc (a failure past
 * them); used counts what the response has taken of them. */
typedef struct ahead_slot {
    unsigned char *buf;
    offload_helper *h; /* in flight */
    half_job job;
    size_t used;
} ahead_slot;

/* Blocks read ahead of the response, each on a helper of its own. */
#define STREAM_AHEAD OBJECTS_READER_EXTRA

typedef struct stream {
    objects_reader *obj;
    seal_reader *rd;
    /* more readers of the same file, one per read-ahead slot (slot i reads
     * with rdh[i]); rdh[0] also reads half of a block read_split reads,
     * which it does only when no slot is in flight */
    seal_reader *rdh[STREAM_AHEAD];
    uint64_t base; /* plaintext offset of the response's first byte */
    uint64_t len;
    char digest[OCI_DIGEST_MAX + 1];
    /* The read-ahead: a ring of `count` slots from `head`, holding the
     * blocks that follow what the response has taken, in order. Helpers
     * decrypt them while MHD sends what came before. */
    ahead_slot ahead[STREAM_AHEAD];
    unsigned head, count;
} stream;

/* Bytes MHD asks for per reader call: several 64 KiB segments, which the
 * sealed reader decrypts straight into MHD's buffer. 1 MiB rather than
 * 256 KiB makes the hand-offs to a helper four times rarer (a 1 GiB pull:
 * 1,450-1,500 -> 1,750-2,250 MB/s, 0.9 -> 0.65 s of CPU; 2 MiB gained
 * nothing more), for 0.75 MiB more per pull in flight. */
#define STREAM_BLOCK (1024u * 1024)
/* Responses at least this long get readers for helper cores, one per
 * read-ahead slot: while MHD sends one block, helpers decrypt the next two
 * into buffers of the stream's own, and the next calls copy them into
 * MHD's buffer. Without an idle helper (or for the first block) a call
 * reads its block itself, the second half on a helper when one is idle.
 * One block ahead rather than each call waiting for the helper's half
 * before MHD sent anything: a 1 GiB pull 5-10% faster in paired A/Bs, 0.6
 * rather than 0.7 s of CPU. Two blocks ahead, on both helpers, rather than
 * one: another 5-10% (2026-12-05: 1,543 -> 1,625 and 1,642 -> 1,802 MB/s,
 * medians of 25 and 15 paired pulls), as the two cores stay busier; each
 * large pull holds 3 MiB (two slots and MHD's block). */
#define STREAM_SPLIT_MIN (4u * 1024 * 1024)
#define STREAM_ALIGN ((uint64_t)1 << SEAL_DEFAULT_LOG2_SEGMENT)

static void half_read(void *arg)
{
    half_job *j = arg;
    j->rc = seal_reader_read_into(j->rd, j->off, j->buf, j->len, &j->got, &j->e);
}

/* Reads [at, at + want) into buf on this thread, the second half on a
 * helper when one is idle. */
static cf_code read_split(stream *s, uint64_t at, unsigned char *buf, size_t want, size_t *got,
                          cf_err *e)
{
    /* the split point: a segment boundary near the middle */
    size_t mid = 0;
    if (s->rdh[0] != NULL && want >= 2 * STREAM_ALIGN) {
        uint64_t m = (at + want / 2) & ~(STREAM_ALIGN - 1);
        if (m > at && m < at + want)
            mid = (size_t)(m - at);
    }
    half_job j = {.rd = s->rdh[0], .off = at + mid, .buf = buf + mid, .len = want - mid};
    offload_helper *h = mid ? offload_start(half_read, &j) : NULL;
    cf_code rc = seal_reader_read_into(s->rd, at, buf, h ? mid : want, got, e);
    if (h != NULL) {
        offload_wait(h);
        if (rc == CF_OK && *got == mid) {
            rc = j.rc;
            *e = j.e;
            *got += j.got;
        }
    }
    return rc;
}

/* Waits for every slot in flight and forgets what the read-ahead holds. */
static void ahead_drop(stream *s)
{
    for (unsigned i = 0; i < STREAM_AHEAD; i++) {
        if (s->ahead[i].h != NULL) {
            offload_wait(s->ahead[i].h);
            s->ahead[i].h = NULL;
        }
    }
    s->count = 0;
}

/* What the read-ahead holds from `at` on, copied into buf (at most want
 * bytes); *rc: a slot's failure when buf reaches it. */
static size_t take_ahead(stream *s, uint64_t at, char *buf, size_t want, cf_code *rc, cf_err *e)
{
    size_t got = 0;
    while (got < want && s->count > 0) {
        ahead_slot *a = &s->ahead[s->head];
        if (a->h != NULL) {
            offload_wait(a->h);
            a->h = NULL;
        }
        if (at + got != a->job.off + a->used) {
            ahead_drop(s);
            break;
        }
        size_t left = a->job.got - a->used;
        size_t n = left < want - got ? left : want - got;
        memcpy(buf + got, a->buf + a->used, n);
        a->used += n;
        got += n;
        if (a->used < a->job.got)
            break;
        s->head = (s->head + 1) % STREAM_AHEAD;
        s->count--;
        if (a->job.rc != CF_OK) {
            *rc = a->job.rc;
            *e = a->job.e;
            ahead_drop(s);
            break;
        }
    }
    return got;
}

/* Starts helpers on the blocks after `next` (the response's next byte)
 * into the free slots, while one is idle. */
static void ahead_fill(stream *s, uint64_t next, uint64_t end)
{
    while (s->count < STREAM_AHEAD) {
        /* the block after the last one scheduled */
        if (s->count > 0) {
            const half_job *last = &s->ahead[(s->head + s->count - 1) % STREAM_AHEAD].job;
            next = last->off + last->len;
        }
        if (next >= end)
            return;
        unsigned i = (s->head + s->count) % STREAM_AHEAD;
        ahead_slot *a = &s->ahead[i];
        if (s->rdh[i] == NULL || (a->buf == NULL && (a->buf = malloc(STREAM_BLOCK)) == NULL))
            return;
        uint64_t rest = end - next;
        a->job = (half_job){.rd = s->rdh[i],
                            .off = next,
                            .buf = a->buf,
                            .len = rest < STREAM_BLOCK ? (size_t)rest : STREAM_BLOCK};
        a->used = 0;
        a->h = offload_start(half_read, &a->job);
        if (a->h == NULL)
            return; /* none idle: the next call reads it itself */
        s->count++;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    if (pos >= s->len)
        return 0;
    uint64_t left = s->len - pos;
    size_t want = left < max ? (size_t)left : max;
    uint64_t at = s->base + pos;
    cf_err e = {0};
    cf_code rc = CF_OK;
    size_t got = take_ahead(s, at, buf, want, &rc, &e);
    if (rc == CF_OK && got < want) {
        size_t more = 0;
        rc = read_split(s, at + got, (unsigned char *)buf + got, want - got, &more, &e);
        got += more;
    }
    /* the next blocks, on helpers while MHD sends this one; none idle:
     * the next call reads its block here, split */
    if (rc == CF_OK)
        ahead_fill(s, at + got, s->base + s->len);
    /* A failure after authentic bytes (got counts only those): send them
     * now; the next call starts at the failed segment and aborts there. So
     * a damaged segment cuts the body at its own start, whatever the
     * block size. */
    if (rc != CF_OK && got > 0)
        return (ssize_t)got;
    if (rc != CF_OK || got == 0) {
        cf_log(CF_LOG_ERROR, "object read failed; response aborted", "digest", s->digest, "error",
               e.msg, NULL);
        return -1;
    }
    return (ssize_t)got;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    ahead_drop(s);               /* a client gone mid-body: helpers still read */
    objects_reader_free(s->obj); /* and its readers */
    for (unsigned i = 0; i < STREAM_AHEAD; i++)
        free(s->ahead[i].buf);
    free(s);
}

static ssize_t head_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return -1; /* HEAD: never asked for a body */
}

void api_serve_object(rq *q, const oci_digest *d, uint64_t size, const char *ctype, int ranges)
{
    uint64_t start = 0, end = size ? size - 1 : 0;
    unsigned status = 200;
    char cr[96];
    const char *range = ranges ? http_req_header(q->r, "Range") : NULL;
    if (range != NULL) {
        cf_err re = {0};
        cf_code rc = oci_range_parse(&start, &end, range, strlen(range), size, &re);
        if (rc == CF_ERANGE) {
            snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
            q->failed = 1;
            http_resp *resp = http_resp_bytes(416, "", 0, NULL);
            http_resp_header(resp, "Content-Range", cr);
            cf_log(CF_LOG_WARN, "request failed", "request_id", q->r->request_id, "method",
                   q->r->method, "path", q->r->path, "status", "416", "error", re.msg, NULL);
            api_respond(q, resp);
            return;
        }
        if (rc == CF_OK) {
            status = 206;
            snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
                     (unsigned long long)end, (unsigned long long)size);
        } else {
            start = 0; /* malformed or multiple ranges: the whole object */
            end = size ? size - 1 : 0;
        }
    }
    uint64_t len = size ? end - start + 1 : 0;
    http_resp *resp;
    if (q->r->is_head) {
        resp = http_resp_stream(status, len, 0, head_read, NULL, NULL);
    } else {
        if (api_need_kek(q) != 0)
            return;
        stream *s = calloc(1, sizeof(*s));
        if (s == NULL) {
            api_fail(q, 500, "UNKNOWN", "out of memory");
            return;
        }
        cf_err e = {0};
        cf_code rc = objects_open(&s->obj, q->reg.id, d, &q->kek, &e);
        if (rc == CF_OK)
            s->rd = objects_reader_seal(s->obj);
        if (rc == CF_OK && seal_reader_size(s->rd) != size)
            rc = cf_err_set(&e, CF_EINTEGRITY, "stored size differs from metadata");
        if (rc != CF_OK) {
            cf_log(CF_LOG_ERROR, "cannot open object", "digest", d->text, "error", e.msg, NULL);
            stream_free(s);
            api_fail_err(q, &e, "read object");
            return;
        }
        s->base = start;
        s->len = len;
        /* optional: without the extra readers the response is served by this
         * thread alone (always, when the object is a stream from a bucket) */
        if (len >= STREAM_SPLIT_MIN)
            for (int i = 0; i < STREAM_AHEAD; i++)
                s->rdh[i] = objects_reader_extra(s->obj, &q->kek, i);
        snprintf(s->digest, sizeof(s->digest), "%s", d->text);
        /* MHD allocates the block for every response: a manifest's few
         * hundred bytes get a buffer of their size, not STREAM_BLOCK, which
         * is above malloc's mmap threshold and cost an mmap, a munmap and a
         * TLB shootdown across the worker threads per request */
        size_t block = len == 0 ? 1 : len < STREAM_BLOCK ? (size_t)len : STREAM_BLOCK;
        resp = http_resp_stream(status, len, block, stream_read, s, stream_free);
    }
    if (resp == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        return;
    }
    http_resp_header(resp, "Content-Type", ctype);
    http_resp_header(resp, "Docker-Content-Digest", d->text);
    char etag[OCI_DIGEST_MAX + 3];
    snprintf(etag, sizeof(etag), "\"%s\"", d->text);
    http_resp_header(resp, "ETag", etag);
    if (ranges)
        http_resp_header(resp, "Accept-Ranges", "bytes");
    if (status == 206)
        http_resp_header(resp, "Content-Range", cr);
    api_respond(q, resp);
}

/* ---- listings ---- */

/* n and last from the query; -1 (after responding) when malformed. */
static int pagination(rq *q, int64_t *n, const char **last)
{
    *n = LIST_DEFAULT_N;
    *last = http_req_query(q->r, "last");
    const char *ns = http_req_query(q->r, "n");
    if (ns != NULL) {
        char *end;
        errno = 0;
        long long v = strtoll(ns, &end, 10);
        if (errno || end == ns || *end != '\0' || v < 0) {
            api_fail(q, 400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested");
            return -1;
        }
        *n = v > LIST_MAX_N ? LIST_MAX_N : v;
    }
    return 0;
}

typedef struct list_ctx {
    json_t *arr;
    char last[API_NAME_MAX + 1];
    /* the catalog under authentication: names get `prefix`, only those
     * the credentials may list are kept, at most n of them */
    rq *q;
    const char *prefix;
    int64_t n, count;
    int over;                      /* a listable name past the n-th: there is a next page */
    char cursor[API_NAME_MAX + 1]; /* the last name read from the store */
} list_ctx;

static int list_add(void *cls, const char *v)
{
    list_ctx *l = cls;
    json_array_append_new(l->arr, json_string(v));
    snprintf(l->last, sizeof(l->last), "%s", v);
    return 0;
}

static int catalog_add(void *cls, const char *repo)
{
    list_ctx *l = cls;
    snprintf(l->cursor, sizeof(l->cursor), "%s", repo);
    if (!api_access_lists(l->q, repo))
        return 0;
    if (l->count == l->n) {
        l->over = 1;
        return 1;
    }
    char full[API_NAME_MAX + 1];
    snprintf(full, sizeof(full), "%s%s", l->prefix, repo);
    l->count++;
    return list_add(l, full);
}

static void respond_json(rq *q, unsigned status, json_t *root, const char *ctype, const char *link)
{
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (body == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        return;
    }
    http_resp *resp = http_resp_bytes(status, body, strlen(body), ctype);
    free(body);
    if (link)
        http_resp_header(resp, "Link", link);
    api_respond(q, resp);
}

/* The catalog with authentication: the repositories of the registry the
 * credentials belong to that they may list, as the client names them
 * ("<registry>/<repo>" with path routing). */
static void catalog_scoped(rq *q, const char *host_reg, int64_t n, const char *last)
{
    char prefix[sizeof(q->reg.name) + 1] = "";
    if (host_reg == NULL)
        snprintf(prefix, sizeof(prefix), "%s/", q->reg.name);
    size_t pl = strlen(prefix);
    list_ctx l = {.arr = json_array(), .q = q, .prefix = prefix, .n = n};
    /* `last` is a client-visible name: back to a repository name */
    int done = 0;
    if (last && pl && strncmp(last, prefix, pl) != 0)
        done = strcmp(last, prefix) > 0; /* past this registry's names: nothing */
    else if (last)
        snprintf(l.cursor, sizeof(l.cursor), "%s", last + pl);
    cf_err e = {0};
    int more = 1;
    /* read on until n listable names and one more (a next page) are seen */
    while (!done && !l.over && more) {
        more = 0;
        if (l.arr == NULL ||
            meta_catalog(q->reg.id, l.cursor, LIST_MAX_N, catalog_add, &l, &more, &e) != CF_OK) {
            json_decref(l.arr);
            if (l.arr == NULL)
                api_fail(q, 500, "UNKNOWN", "out of memory");
            else
                api_fail_err(q, &e, "catalog");
            return;
        }
    }
    char link[API_NAME_MAX + 96];
    if (l.over && n > 0)
        snprintf(link, sizeof(link), "</v2/_catalog?last=%s&n=%lld>; rel=\"next\"", l.last,
                 (long long)n);
    respond_json(q, 200, json_pack("{s:o}", "repositories", l.arr), "application/json",
                 l.over && n > 0 ? link : NULL);
}

static void api_catalog(rq *q, const route_slice *host_reg)
{
    int64_t n;
    const char *last;
    if (pagination(q, &n, &last) != 0)
        return;
    if (!api_access_open()) {
        char hname[OCI_REGISTRY_NAME_MAX + 1];
        if (host_reg)
            snprintf(hname, sizeof(hname), "%.*s", (int)host_reg->len, host_reg->p);
        if (api_access_catalog(q, host_reg ? hname : NULL) != 0)
            return;
        catalog_scoped(q, host_reg ? hname : NULL, n, last);
        return;
    }
    const char *reg_id = NULL;
    if (host_reg) {
        char name[OCI_REGISTRY_NAME_MAX + 1];
        snprintf(name, sizeof(name), "%.*s", (int)host_reg->len, host_reg->p);
        cf_err e = {0};
        if (meta_registry_get(&q->reg, name, &e) != CF_OK) {
            if (e.code == CF_ENOTFOUND)
                api_fail(q, 404, "NAME_UNKNOWN", "registry unknown");
            else
                api_fail_err(q, &e, "registry lookup"); /* 503 while the database is down */
            return;
        }
        reg_id = q->reg.id;
    }
    list_ctx l = {.arr = json_array()};
    int more = 0;
    cf_err e = {0};
    if (meta_catalog(reg_id, last, n, list_add, &l, &more, &e) != CF_OK) {
        json_decref(l.arr);
        api_fail_err(q, &e, "catalog");
        return;
    }
    char link[API_NAME_MAX + 96];
    if (more && n > 0)
        snprintf(link, sizeof(link), "</v2/_catalog?last=%s&n=%lld>; rel=\"next\"", l.last,
                 (long long)n);
    respond_json(q, 200, json_pack("{s:o}", "repositories", l.arr), "application/json",
                 more && n > 0 ? link : NULL);
}

static void api_tags(rq *q)
{
    int64_t n;
    const char *last;
    if (pagination(q, &n, &last) != 0)
        return;
    cf_err e = {0};
    if (meta_repo_exists(q->reg.id, q->repo, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            api_fail(q, 404, "NAME_UNKNOWN", "repository name not known to registry");
        else
            api_fail_err(q, &e, "tags");
        return;
    }
    list_ctx l = {.arr = json_array()};
    int more = 0;
    if (meta_tags_list(q->reg.id, q->repo, last, n, list_add, &l, &more, &e) != CF_OK) {
        json_decref(l.arr);
        api_fail_err(q, &e, "tags");
        return;
    }
    char link[2 * API_NAME_MAX + 96];
    if (more && n > 0)
        snprintf(link, sizeof(link), "</v2/%s/tags/list?last=%s&n=%lld>; rel=\"next\"", q->name,
                 l.last, (long long)n);
    respond_json(q, 200, json_pack("{s:s,s:o}", "name", q->name, "tags", l.arr), "application/json",
                 more && n > 0 ? link : NULL);
}

/* Annotations are customer content: the metadata holds none (DESIGN §8),
 * so each referrer's annotations come from its sealed manifest, opened
 * under the registry's KEK (a locked registry never gets here). */
typedef struct referrers_ctx {
    rq *q;
    json_t *arr;
    cf_err e; /* set when a stored manifest cannot be read: the answer fails */
} referrers_ctx;

/* The referrer's top-level annotations as the push recorded them (sorted
 * compact JSON, reparsed), NULL when it has none; -1 on failure. */
static int referrer_annotations(referrers_ctx *x, const meta_referrer *m, json_t **out)
{
    *out = NULL;
    oci_digest d;
    if (m->digest == NULL || oci_digest_parse(&d, m->digest, strlen(m->digest), &x->e) != CF_OK) {
        cf_err_set(&x->e, CF_EINTEGRITY, "stored referrer digest is malformed");
        return -1;
    }
    unsigned char *buf = NULL;
    cf_code rc = api_manifest_read(x->q, &d, m->size, &buf, &x->e);
    if (rc == CF_ENOTFOUND) /* deleted while we list: skip it */
        return 1;
    if (rc != CF_OK)
        return -1;
    manifest mf;
    rc = manifest_parse(&mf, buf, (size_t)m->size, m->media_type, &x->e);
    OPENSSL_cleanse(buf, (size_t)m->size);
    free(buf);
    if (rc == CF_OK && mf.annotations) {
        *out = json_loads(mf.annotations, 0, NULL);
        if (*out == NULL)
            rc = cf_err_set(&x->e, CF_ENOMEM, "out of memory");
    }
    manifest_free(&mf);
    if (rc != CF_OK) {
        if (rc == CF_EINVAL) /* it was valid when pushed */
            cf_err_set(&x->e, CF_EINTEGRITY, "stored manifest %s no longer parses", d.text);
        return -1;
    }
    return 0;
}

static int referrer_add(void *cls, const meta_referrer *m)
{
    referrers_ctx *x = cls;
    json_t *an = NULL;
    int rc = referrer_annotations(x, m, &an);
    if (rc < 0)
        return 1; /* stop; x->e says why */
    if (rc > 0)
        return 0;
    json_t *d = json_pack("{s:s,s:I,s:s}", "mediaType", m->media_type ? m->media_type : "", "size",
                          (json_int_t)m->size, "digest", m->digest ? m->digest : "");
    if (d == NULL) {
        json_decref(an);
        cf_err_set(&x->e, CF_ENOMEM, "out of memory");
        return 1;
    }
    if (m->artifact_type)
        json_object_set_new(d, "artifactType", json_string(m->artifact_type));
    if (an)
        json_object_set_new(d, "annotations", an);
    json_array_append_new(x->arr, d);
    return 0;
}

static void api_referrers(rq *q)
{
    oci_digest d;
    cf_err e = {0};
    if (oci_digest_parse(&d, q->rt.arg.p, q->rt.arg.len, &e) != CF_OK) {
        api_fail(q, 400, "DIGEST_INVALID", "%s", e.msg);
        return;
    }
    const char *at = http_req_query(q->r, "artifactType");
    if (at && *at == '\0')
        at = NULL;
    json_t *arr = json_array();
    referrers_ctx x = {.q = q, .arr = arr};
    if (arr == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        return;
    }
    if (meta_referrers(q->reg.id, q->repo, d.text, at, referrer_add, &x, &e) != CF_OK) {
        json_decref(arr);
        api_fail_err(q, &e, "referrers");
        return;
    }
    if (x.e.code != CF_OK) {
        json_decref(arr);
        if (x.e.code == CF_EINTEGRITY)
            cf_log(CF_LOG_ERROR, "stored referrer failed authentication", "registry", q->reg.name,
                   "error", x.e.msg, NULL);
        api_fail_err(q, &x.e, "referrers");
        return;
    }
    json_t *root = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType",
                             "application/vnd.oci.image.index.v1+json", "manifests", arr);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (body == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        return;
    }
    http_resp *resp =
        http_resp_bytes(200, body, strlen(body), "application/vnd.oci.image.index.v1+json");
    free(body);
    if (at)
        http_resp_header(resp, "OCI-Filters-Applied", "artifactType");
    api_respond(q, resp);
}

/* ---- dispatch ---- */

static void rq_done(http_req *r, int ok)
{
    (void)ok;
    rq *q = r->user;
    if (q == NULL)
        return;
    api_drop_upload(q);
    if (q->mem_reserved)
        mem_release(q);
    OPENSSL_cleanse(&q->kek, sizeof(q->kek));
    free(q);
    r->user = NULL;
}

static int method_is(const http_req *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

static void not_allowed(rq *q)
{
    api_fail(q, 405, "UNSUPPORTED", "method %s not supported here", q->r->method);
}

static void handle(rq *q);

/* The action a route needs: reads pull (the tags list: metadata/read or
 * content/read), DELETE delete, every other method (uploads included,
 * their status GET and cancel too) push. */
static unsigned required_action(route_kind k, const http_req *r)
{
    int get = method_is(r, "GET") || method_is(r, "HEAD");
    int del = method_is(r, "DELETE");
    switch (k) {
    case ROUTE_TAGS:
        return get ? AUTH_META : AUTH_PUSH;
    case ROUTE_MANIFEST:
    case ROUTE_BLOB:
        return get ? AUTH_PULL : del ? AUTH_DELETE : AUTH_PUSH;
    case ROUTE_REFERRERS:
        return get ? AUTH_PULL : AUTH_PUSH;
    default: /* uploads */
        return AUTH_PUSH;
    }
}

void registry_api_handle(http_req *r, void *ctx)
{
    (void)ctx;
    rq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        http_req_respond(r, http_resp_new(500));
        return;
    }
    q->r = r;
    r->user = q;
    r->on_done = rq_done;
    handle(q);
}

static void handle(rq *q)
{
    http_req *r = q->r;
    int get = method_is(r, "GET") || method_is(r, "HEAD");
    route_kind k = route_parse(&q->rt, r->path);
    static const char *const route_names[] = {
        [ROUTE_NONE] = "none",
        [ROUTE_BASE] = "base",
        [ROUTE_CATALOG] = "catalog",
        [ROUTE_TAGS] = "tags",
        [ROUTE_MANIFEST] = "manifest",
        [ROUTE_BLOB] = "blob",
        [ROUTE_UPLOAD_START] = "upload_start",
        [ROUTE_UPLOAD] = "upload",
        [ROUTE_REFERRERS] = "referrers",
        [ROUTE_TOKEN] = "token",
    };
    if ((size_t)k < sizeof(route_names) / sizeof(route_names[0]))
        r->route = route_names[k];
    const char *host = http_req_header(r, "Host");
    if (k == ROUTE_NONE) {
        api_fail(q, 404, "NOT_FOUND", "no such endpoint");
        return;
    }
    if (k == ROUTE_TOKEN) {
        api_token(q);
        return;
    }
    if (k == ROUTE_BASE) {
        if (!get) {
            not_allowed(q);
            return;
        }
        if (api_access_base(q) != 0)
            return;
        api_respond(q, http_resp_bytes(200, "{}", 2, "application/json"));
        return;
    }
    if (k == ROUTE_CATALOG) {
        if (!get) {
            not_allowed(q);
            return;
        }
        route_slice hr;
        api_catalog(q, route_host_registry(host, login_domain, &hr) == 0 ? &hr : NULL);
        return;
    }
    /* <name>: registry and repository */
    if (!oci_name_valid(q->rt.name.p, q->rt.name.len)) {
        api_fail(q, 400, "NAME_INVALID", "invalid repository name");
        return;
    }
    snprintf(q->name, sizeof(q->name), "%.*s", (int)q->rt.name.len, q->rt.name.p);
    route_slice regs, repos;
    if (route_split(&q->rt, host, login_domain, &regs, &repos) != 0 ||
        !oci_registry_name_valid(regs.p, regs.len)) {
        api_fail(q, 404, "NAME_UNKNOWN", "no registry named in the repository name");
        return;
    }
    char regname[OCI_REGISTRY_NAME_MAX + 1];
    snprintf(regname, sizeof(regname), "%.*s", (int)regs.len, regs.p);
    snprintf(q->repo, sizeof(q->repo), "%.*s", (int)repos.len, repos.p);
    unsigned need = required_action(k, r);
    if (k == ROUTE_UPLOAD_START && method_is(r, "POST"))
        api_mount_source(q); /* the challenge asks for pull on a mount's source */
    cf_err e = {0};
    if (meta_registry_get(&q->reg, regname, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND && !api_access_open())
            api_access_unknown_registry(q, need); /* no credentials can be valid */
        else if (e.code == CF_ENOTFOUND)
            api_fail(q, 404, "NAME_UNKNOWN", "registry %s unknown", regname);
        else
            api_fail_err(q, &e, "registry lookup");
        return;
    }
    /* authentication first: even a locked registry answers its lock only
     * to callers allowed to know */
    if (api_access(q, need) != 0)
        return;
    /* the tags list is metadata and needs no key: it stays readable while
     * the registry is locked (nothing is lost, docs/cmk.md) */
    if (k == ROUTE_TAGS) {
        if (!get)
            not_allowed(q);
        else
            api_tags(q);
        return;
    }
    /* a locked registry refuses every other request, reads included */
    if (api_need_kek(q) != 0)
        return;
    switch (k) {
    case ROUTE_REFERRERS:
        if (!get) {
            not_allowed(q);
            return;
        }
        api_referrers(q);
        return;
    case ROUTE_BLOB:
        api_blob(q);
        return;
    case ROUTE_UPLOAD_START:
        if (!method_is(r, "POST")) {
            not_allowed(q);
            return;
        }
        api_upload_start(q);
        return;
    case ROUTE_UPLOAD:
        api_upload(q);
        return;
    case ROUTE_MANIFEST:
        api_manifest(q);
        return;
    default:
        api_fail(q, 404, "NOT_FOUND", "no such endpoint");
        return;
    }
}
