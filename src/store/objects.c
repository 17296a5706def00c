/*
 * objects.c -- the core of the object store seam (objects.h): keys,
 * digest locks, dedup, sealing of small objects, and the dispatch to the
 * backend the daemon runs on (objects_int.h). Nothing here knows whether
 * a key is a file or an object in a bucket.
 *
 * The small-object cache: where a read costs a round trip (S3), the
 * sealed bytes of small blobs (manifests, configs: whatever one opening
 * GET brings whole) are kept in memory, LRU, CACHE_BYTES at most, so a
 * manifest GET is a metadata lookup and a decryption in memory. What is
 * kept is sealed (never plaintext) and every read of it authenticates as
 * from the store. A key's bytes never change (a digest's object); its
 * entry goes when the object is removed or its registry deleted. Only a
 * read fills it, never a write, so damage in the store is seen by the
 * first read and never cached.
 */
#define CF_LOG_MOD "objects"
#include "store/objects.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "base/metrics.h"
#include "store/objects_int.h"

#define STRIPES 64
#define RAW_CHUNK ((size_t)1 << 20)
#define CACHE_BYTES ((size_t)8 << 20)
#define CACHE_BUCKETS 1024

static objects_store *cur;
static void cache_clear(void);
static void cache_forget(const char *key, int prefix);
static pthread_mutex_t stripes[STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void)
{
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
}

/* ---- stores ---- */

static cf_code store_new(objects_store **out, const objects_ops *ops, void *self, cf_err *e)
{
    objects_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ops->free(self);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    s->ops = ops;
    s->self = self;
    *out = s;
    return CF_OK;
}

cf_code objects_store_files(objects_store **out, const char *dir, cf_err *e)
{
    void *self = NULL;
    cf_code rc = objects_file_new(&self, dir, e);
    return rc == CF_OK ? store_new(out, &objects_file_ops, self, e) : rc;
}

cf_code objects_store_s3(objects_store **out, const s3_config *c, cf_err *e)
{
    void *self = NULL;
    cf_code rc = objects_s3_new(&self, c, e);
    return rc == CF_OK ? store_new(out, &objects_s3_ops, self, e) : rc;
}

void objects_store_free(objects_store *s)
{
    if (s == NULL)
        return;
    s->ops->free(s->self);
    free(s);
}

const char *objects_store_kind(const objects_store *s)
{
    return s->ops->kind;
}

const char *objects_store_where(const objects_store *s)
{
    return s->ops->where(s->self);
}

cf_code objects_init(const char *data_dir, cf_err *e)
{
    objects_store *s = NULL;
    cf_code rc = objects_store_files(&s, data_dir, e);
    if (rc == CF_OK)
        objects_init_store(s);
    return rc;
}

void objects_init_store(objects_store *s)
{
    pthread_once(&stripes_once, stripes_init);
    cache_clear();
    objects_store_free(cur);
    cur = s;
}

void objects_shutdown(void)
{
    cache_clear();
    objects_store_free(cur);
    cur = NULL;
}

objects_store *objects_current(void)
{
    return cur;
}

/* A failure of the store itself, counted (base/metrics.h): a key that is
 * not there is an answer, not a failure. */
static cf_code counted(cf_code rc, const char *op)
{
    if (rc != CF_OK && rc != CF_ENOTFOUND)
        metrics_count_objects_error(op);
    return rc;
}

cf_code objects_check(cf_err *e)
{
    if (cur == NULL)
        return cf_err_set(e, CF_EUNAVAIL, "object store not open");
    return cur->ops->check(cur->self, e);
}

/* ---- keys ---- */

void objects_blob_key(char *out, size_t cap, const char *reg_id, const oci_digest *d)
{
    const char *hex = oci_digest_hex(d);
    snprintf(out, cap, "registries/%s/blobs/%s/%.2s/%s", reg_id, oci_alg_name(d->alg), hex, hex);
}

void objects_upload_key(char *out, size_t cap, const char *reg_id, const char *uuid,
                        const char *suffix)
{
    snprintf(out, cap, "registries/%s/uploads/%s%s", reg_id, uuid, suffix);
}

void objects_registry_key(char *out, size_t cap, const char *reg_id)
{
    snprintf(out, cap, "registries/%s/", reg_id);
}

int objects_key_digest(oci_digest *out, const char *key)
{
    /* registries/<reg>/blobs/<alg>/<aa>/<hex> */
    const char *b = strstr(key, "/blobs/");
    if (strncmp(key, "registries/", 11) != 0 || b == NULL)
        return -1;
    const char *alg = b + 7, *slash = strchr(alg, '/');
    if (slash == NULL || strlen(slash) < 4 || slash[3] != '/')
        return -1;
    const char *hex = slash + 4;
    if (strncmp(slash + 1, hex, 2) != 0)
        return -1;
    char text[OCI_DIGEST_MAX + 1];
    int n = snprintf(text, sizeof(text), "%.*s:%s", (int)(slash - alg), alg, hex);
    if (n < 0 || (size_t)n >= sizeof(text))
        return -1;
    return oci_digest_parse(out, text, (size_t)n, NULL) == CF_OK ? 0 : -1;
}

/* ---- registries ---- */

cf_code objects_registry_prepare(const char *reg_id, cf_err *e)
{
    char k[OBJECTS_KEY_MAX];
    objects_registry_key(k, sizeof(k), reg_id);
    return cur->ops->prepare(cur->self, k, e);
}

cf_code objects_registry_remove(const char *reg_id, cf_err *e)
{
    /* never remove anything but a registry's own objects */
    if (strlen(reg_id) != 32 || strspn(reg_id, "0123456789abcdef") != 32)
        return cf_err_set(e, CF_EINVAL, "not a registry id");
    char k[OBJECTS_KEY_MAX];
    objects_registry_key(k, sizeof(k), reg_id);
    cache_forget(k, 1);
    return cur->ops->remove_prefix(cur->self, k, e);
}

/* ---- locks ---- */

static unsigned stripe_of(const oci_digest *d)
{
    const char *hex = oci_digest_hex(d);
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 16 + (unsigned)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return v % STRIPES;
}

void objects_lock(const oci_digest *d)
{
    pthread_once(&stripes_once, stripes_init);
    pthread_mutex_lock(&stripes[stripe_of(d)]);
}

void objects_unlock(const oci_digest *d)
{
    pthread_mutex_unlock(&stripes[stripe_of(d)]);
}

/* ---- the small-object cache ---- */

typedef struct centry {
    char key[OBJECTS_KEY_MAX];
    unsigned char *p;
    size_t n;
    struct centry *hnext;       /* hash chain */
    struct centry *prev, *next; /* LRU: head is the newest */
} centry;

static centry *cbucket[CACHE_BUCKETS];
static centry *lru_head, *lru_tail;
static size_t cache_used;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned key_hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h % CACHE_BUCKETS;
}

static void lru_unlink(centry *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_push(centry *c)
{
    c->next = lru_head;
    c->prev = NULL;
    if (lru_head)
        lru_head->prev = c;
    lru_head = c;
    if (lru_tail == NULL)
        lru_tail = c;
}

/* Removes c from the hash and the LRU and frees it; cache_mu held. */
static void centry_drop(centry *c)
{
    for (centry **pp = &cbucket[key_hash(c->key)]; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    lru_unlink(c);
    cache_used -= c->n;
    free(c->p);
    free(c);
}

static centry *cache_find(const char *key)
{
    for (centry *c = cbucket[key_hash(key)]; c; c = c->hnext)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

/* A copy of key's cached bytes (the caller's), or NULL. */
static unsigned char *cache_get(const char *key, size_t *n)
{
    unsigned char *copy = NULL;
    pthread_mutex_lock(&cache_mu);
    centry *c = cache_find(key);
    if (c && (copy = malloc(c->n ? c->n : 1)) != NULL) {
        memcpy(copy, c->p, c->n);
        *n = c->n;
        lru_unlink(c);
        lru_push(c);
    }
    pthread_mutex_unlock(&cache_mu);
    return copy;
}

static void cache_put(const char *key, const unsigned char *p, size_t n)
{
    if (n > CACHE_BYTES / 16)
        return;
    centry *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->p = malloc(n ? n : 1)) == NULL) {
        free(c);
        return;
    }
    snprintf(c->key, sizeof(c->key), "%s", key);
    memcpy(c->p, p, n);
    c->n = n;
    pthread_mutex_lock(&cache_mu);
    centry *old = cache_find(key);
    if (old)
        centry_drop(old);
    while (cache_used + n > CACHE_BYTES && lru_tail)
        centry_drop(lru_tail);
    unsigned h = key_hash(key);
    c->hnext = cbucket[h];
    cbucket[h] = c;
    lru_push(c);
    cache_used += n;
    pthread_mutex_unlock(&cache_mu);
}

/* Drops key's entry, or (prefix = 1) every entry whose key begins so. */
static void cache_forget(const char *key, int prefix)
{
    size_t kl = strlen(key);
    pthread_mutex_lock(&cache_mu);
    for (centry *c = lru_head, *next; c; c = next) {
        next = c->next;
        if (prefix ? strncmp(c->key, key, kl) == 0 : strcmp(c->key, key) == 0)
            centry_drop(c);
    }
    pthread_mutex_unlock(&cache_mu);
}

static void cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    while (lru_head)
        centry_drop(lru_head);
    pthread_mutex_unlock(&cache_mu);
}

/* ---- readers ---- */

struct objects_reader {
    const objects_ops *ops;
    void *h;
    seal_io io;
    seal_reader *rd;
    seal_reader *extra[OBJECTS_READER_EXTRA];
    unsigned char *mem; /* the bytes, when read from the cache */
    size_t mem_len;
};

static cf_code mem_size(void *cls, uint64_t *out, cf_err *e)
{
    (void)e;
    *out = ((objects_reader *)cls)->mem_len;
    return CF_OK;
}

static cf_code mem_readv(void *cls, const struct iovec *iov, int n, uint64_t off, cf_err *e)
{
    objects_reader *r = cls;
    for (int i = 0; i < n; i++) {
        if (off > r->mem_len || iov[i].iov_len > r->mem_len - off)
            return cf_err_set(e, CF_EINTEGRITY, "sealed object is truncated");
        memcpy(iov[i].iov_base, r->mem + off, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    return CF_OK;
}

static cf_code reader_open(objects_reader **out, const objects_ops *ops, void *h, const seal_io *io,
                           const seal_kek *kek, cf_err *e)
{
    objects_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        ops->close(h);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    r->ops = ops;
    r->h = h;
    r->io = *io;
    cf_code rc = seal_reader_open_io(&r->rd, kek, &r->io, e);
    if (rc != CF_OK) {
        objects_reader_free(r);
        return rc;
    }
    *out = r;
    return CF_OK;
}

cf_code objects_open(objects_reader **out, const char *reg_id, const oci_digest *d,
                     const seal_kek *kek, cf_err *e)
{
    char k[OBJECTS_KEY_MAX];
    objects_blob_key(k, sizeof(k), reg_id, d);
    if (cur->ops->whole) {
        size_t n = 0;
        unsigned char *mem = cache_get(k, &n);
        if (mem) {
            objects_reader *r = calloc(1, sizeof(*r));
            if (r == NULL) {
                free(mem);
                return cf_err_set(e, CF_ENOMEM, "out of memory");
            }
            r->mem = mem;
            r->mem_len = n;
            r->io = (seal_io){.cls = r, .size = mem_size, .readv = mem_readv};
            cf_code rc = seal_reader_open_io(&r->rd, kek, &r->io, e);
            if (rc != CF_OK) {
                objects_reader_free(r);
                return rc;
            }
            *out = r;
            return CF_OK;
        }
    }
    void *h = NULL;
    seal_io io;
    cf_code rc = cur->ops->open(cur->self, k, &h, &io, e);
    if (rc != CF_OK)
        return counted(rc, "read");
    rc = counted(reader_open(out, cur->ops, h, &io, kek, e), "read");
    const unsigned char *p;
    size_t n;
    if (rc == CF_OK && cur->ops->whole && cur->ops->whole(h, &p, &n))
        cache_put(k, p, n); /* the header and final segment authenticated */
    return rc;
}

seal_reader *objects_reader_seal(objects_reader *r)
{
    return r->rd;
}

seal_reader *objects_reader_extra(objects_reader *r, const seal_kek *kek, int i)
{
    if (r->mem || !r->ops->io_shareable || i < 0 || i >= OBJECTS_READER_EXTRA)
        return NULL;
    if (r->extra[i] == NULL && seal_reader_open_io(&r->extra[i], kek, &r->io, NULL) != CF_OK)
        r->extra[i] = NULL;
    return r->extra[i];
}

void objects_reader_free(objects_reader *r)
{
    if (r == NULL)
        return;
    seal_reader_free(r->rd);
    for (int i = 0; i < OBJECTS_READER_EXTRA; i++)
        seal_reader_free(r->extra[i]);
    if (r->mem)
        free(r->mem);
    else
        r->ops->close(r->h);
    free(r);
}

/* ---- small sealed objects ---- */

static cf_code buf_write(void *cls, const void *data, size_t len, cf_err *e)
{
    return cf_buf_append(cls, data, len, e);
}

cf_code objects_put_sealed(const char *key, const seal_kek *kek, const void *data, size_t len,
                           cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, 0);
    seal_io io = {.cls = &b, .write = buf_write};
    seal_writer *w = NULL;
    cf_code rc = cf_buf_reserve(&b, (size_t)seal_sealed_size(len, 0), e);
    if (rc == CF_OK)
        rc = seal_writer_open_io(&w, kek, &io, NULL, e);
    if (rc == CF_OK)
        rc = seal_writer_write(w, data, len, e);
    if (rc == CF_OK)
        rc = seal_writer_finish(w, e);
    seal_writer_free(w);
    if (rc == CF_OK)
        rc = counted(cur->ops->put(cur->self, key, b.data, b.len, e), "write");
    cf_buf_free(&b);
    return rc;
}

cf_code objects_get_sealed(const char *key, const seal_kek *kek, size_t cap, cf_buf *out, cf_err *e)
{
    void *h = NULL;
    seal_io io;
    cf_code rc = cur->ops->open(cur->self, key, &h, &io, e);
    if (rc != CF_OK)
        return counted(rc, "read");
    objects_reader *r = NULL;
    rc = reader_open(&r, cur->ops, h, &io, kek, e);
    if (rc != CF_OK)
        return counted(rc, "read");
    uint64_t size = seal_reader_size(r->rd);
    if (size > cap)
        rc = cf_err_set(e, CF_ETOOBIG, "%s is larger than expected", key);
    out->secret = 1;
    if (rc == CF_OK)
        rc = cf_buf_reserve(out, (size_t)size, e);
    if (rc == CF_OK) {
        size_t got = 0;
        rc = seal_reader_read(r->rd, 0, out->data + out->len, (size_t)size, &got, e);
        if (rc == CF_OK && got != size)
            rc = cf_err_set(e, CF_EINTEGRITY, "%s is short", key);
        if (rc == CF_OK)
            out->len += got;
    }
    objects_reader_free(r);
    return rc;
}

cf_code objects_put_small(const char *reg_id, const oci_digest *d, const seal_kek *kek,
                          const void *data, size_t len, cf_err *e)
{
    char k[OBJECTS_KEY_MAX];
    objects_blob_key(k, sizeof(k), reg_id, d);
    cf_err se = {0};
    cf_code rc = cur->ops->stat(cur->self, k, NULL, NULL, &se);
    if (rc == CF_OK)
        return CF_OK; /* stored already */
    if (rc != CF_ENOTFOUND)
        return cf_err_set(e, rc, "%s", se.msg);
    return objects_put_sealed(k, kek, data, len, e);
}

cf_code objects_remove(const char *reg_id, const oci_digest *d, cf_err *e)
{
    char k[OBJECTS_KEY_MAX];
    objects_blob_key(k, sizeof(k), reg_id, d);
    cache_forget(k, 0);
    return counted(cur->ops->remove(cur->self, k, e), "remove");
}

cf_code objects_blob_exists(const char *reg_id, const oci_digest *d, cf_err *e)
{
    char k[OBJECTS_KEY_MAX];
    objects_blob_key(k, sizeof(k), reg_id, d);
    return cur->ops->stat(cur->self, k, NULL, NULL, e);
}

cf_code objects_stat(const char *key, uint64_t *size, int64_t *mtime, cf_err *e)
{
    return cur->ops->stat(cur->self, key, size, mtime, e);
}

cf_code objects_remove_key(const char *key, cf_err *e)
{
    cache_forget(key, 0);
    return counted(cur->ops->remove(cur->self, key, e), "remove");
}

cf_code objects_list(const char *prefix, objects_list_fn fn, void *cls, cf_err *e)
{
    return cur->ops->list(cur->self, prefix, fn, cls, e);
}

/* ---- streams ---- */

struct objects_stream {
    const objects_ops *ops;
    void *self;
    void *s;
    seal_io io;
};

static objects_stream *stream_new(void)
{
    objects_stream *s = calloc(1, sizeof(*s));
    if (s) {
        s->ops = cur->ops;
        s->self = cur->self;
    }
    return s;
}

cf_code objects_stream_create(objects_stream **out, seal_writer **w, const char *key,
                              const seal_kek *kek, int reuse, cf_err *e)
{
    *w = NULL;
    objects_stream *s = stream_new();
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = counted(s->ops->stream_create(s->self, key, reuse, &s->s, &s->io, e), "upload");
    if (rc == CF_OK)
        rc = seal_writer_open_io(w, kek, &s->io, NULL, e);
    if (rc != CF_OK) {
        objects_stream_free(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

cf_code objects_stream_sync(objects_stream *s, objects_state *st, cf_err *e)
{
    st->len = 0;
    return counted(s->ops->stream_sync(s->s, st, e), "upload_checkpoint");
}

void objects_stream_synced(objects_stream *s)
{
    s->ops->stream_synced(s->s);
}

int objects_stream_sync_cheap(void)
{
    return cur->ops->sync_cheap;
}

cf_code objects_stream_resume(objects_stream **out, seal_writer **w, const char *key,
                              const seal_kek *kek, const unsigned char *hdr, uint64_t durable,
                              const objects_state *st, cf_err *e)
{
    *w = NULL;
    objects_stream *s = stream_new();
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = counted(
        s->ops->stream_resume(s->self, key, kek, hdr, durable, st, &s->s, &s->io, w, e), "upload");
    if (rc != CF_OK) {
        objects_stream_free(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

cf_code objects_stream_finish(objects_stream *s, cf_err *e)
{
    return counted(s->ops->stream_finish(s->s, e), "upload_finish");
}

cf_code objects_stream_open(objects_stream *s, objects_reader **out, const seal_kek *kek, cf_err *e)
{
    void *h = NULL;
    seal_io io;
    cf_code rc = s->ops->stream_open(s->s, &h, &io, e);
    if (rc != CF_OK)
        return rc;
    return reader_open(out, s->ops, h, &io, kek, e);
}

cf_code objects_stream_install(objects_stream *s, const char *reg_id, const oci_digest *d,
                               cf_err *e)
{
    char k[OBJECTS_KEY_MAX];
    objects_blob_key(k, sizeof(k), reg_id, d);
    cf_err se = {0};
    cf_code rc = s->ops->stat(s->self, k, NULL, NULL, &se);
    if (rc == CF_OK)
        return CF_OK; /* already stored (dedup): the caller discards this copy */
    if (rc != CF_ENOTFOUND)
        return counted(cf_err_set(e, rc, "%s", se.msg), "install");
    return counted(s->ops->stream_install(s->s, k, e), "install");
}

cf_code objects_stream_install_key(objects_stream *s, const char *dst, cf_err *e)
{
    return s->ops->stream_install(s->s, dst, e);
}

void objects_stream_free(objects_stream *s)
{
    if (s == NULL)
        return;
    if (s->s)
        s->ops->stream_free(s->s);
    free(s);
}

cf_code objects_stream_discard(const char *key, cf_err *e)
{
    return cur->ops->stream_discard(cur->self, key, e);
}

/* ---- raw bytes ---- */

struct objects_raw {
    const objects_ops *ops;
    void *h;
    seal_io io;
    uint64_t size;
};

cf_code objects_raw_open(objects_raw **out, objects_store *s, const char *key, cf_err *e)
{
    objects_raw *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    r->ops = s->ops;
    cf_code rc = s->ops->open(s->self, key, &r->h, &r->io, e);
    if (rc == CF_OK)
        rc = r->io.size(r->io.cls, &r->size, e);
    if (rc != CF_OK) {
        objects_raw_free(r);
        return rc;
    }
    *out = r;
    return CF_OK;
}

uint64_t objects_raw_size(const objects_raw *r)
{
    return r->size;
}

cf_code objects_raw_read(objects_raw *r, uint64_t off, void *buf, size_t len, cf_err *e)
{
    struct iovec v = {buf, len};
    return r->io.readv(r->io.cls, &v, 1, off, e);
}

void objects_raw_free(objects_raw *r)
{
    if (r == NULL)
        return;
    if (r->h)
        r->ops->close(r->h);
    free(r);
}

cf_code objects_raw_put(objects_store *st, const char *key, objects_raw *src, cf_err *e)
{
    unsigned char *buf = malloc(RAW_CHUNK);
    if (buf == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    void *s = NULL;
    seal_io io;
    cf_code rc = st->ops->stream_create(st->self, key, 0, &s, &io, e);
    for (uint64_t off = 0; rc == CF_OK && off < src->size;) {
        size_t n = src->size - off < RAW_CHUNK ? (size_t)(src->size - off) : RAW_CHUNK;
        rc = objects_raw_read(src, off, buf, n, e);
        if (rc == CF_OK)
            rc = io.write(io.cls, buf, n, e);
        off += n;
    }
    if (rc == CF_OK)
        rc = st->ops->stream_finish(s, e);
    if (rc == CF_OK)
        rc = st->ops->stream_install(s, key, e);
    if (s)
        st->ops->stream_free(s);
    if (rc != CF_OK && s)
        st->ops->stream_discard(st->self, key, NULL);
    free(buf);
    return rc;
}

cf_code objects_store_list(objects_store *s, const char *prefix, objects_list_fn fn, void *cls,
                           cf_err *e)
{
    return s->ops->list(s->self, prefix, fn, cls, e);
}

cf_code objects_store_stat(objects_store *s, const char *key, uint64_t *size, int64_t *mtime,
                           cf_err *e)
{
    return s->ops->stat(s->self, key, size, mtime, e);
}

cf_code objects_store_remove(objects_store *s, const char *key, cf_err *e)
{
    return s->ops->remove(s->self, key, e);
}
