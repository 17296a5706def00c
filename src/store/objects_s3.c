/*
 * objects_s3.c -- the S3 backend of the object store (objects.h,
 * objects_int.h): every key is an object in one bucket (s3.h), for
 * sealed bytes only.
 *
 * Reads: a reader is an s3_reader whose first GET brings the header and
 * the first two segments (a manifest or a checkpoint whole, in one
 * request); the final segment, which the seal layer authenticates at
 * open, is one more small ranged GET; the range a client asked for then
 * streams from its first segment in one GET, paced by the client.
 *
 * Streams (uploads) follow CNCF Distribution's S3 driver
 * (registry/storage/driver/s3-aws: a part buffer, multipart parts of a
 * fixed size, the upload found again by key after a restart), with what
 * coffer's checkpoints need on top:
 *
 *   - sealed bytes collect in one buffer of PART_SIZE; a full buffer is
 *     the next part of a multipart upload at the stream's key (created at
 *     the first full part: a blob smaller than a part never makes one);
 *   - stream_sync (an acknowledged chunk) writes the bytes past the last
 *     part as the object <key>.p<n> (n = parts so far) and returns the
 *     state {n, their length, upload id}, which the upload's sealed
 *     checkpoint keeps. Within one n the bytes only grow, so an older
 *     checkpoint still finds its prefix in <key>.p<n>; once the newer
 *     checkpoint is durable the older .p<m> goes (stream_synced);
 *   - resume checks that parts 1..n are there (ListParts: gone means the
 *     upload was completed, i.e. installed), reads .p<n> back into the
 *     buffer and continues the sealed writer after them, from the header
 *     the checkpoint kept (parts of an unfinished upload cannot be read);
 *   - finish: a stream that never filled a part stays in memory and is
 *     installed with one PUT at the blob's key; a longer one uploads its
 *     last part and completes (the object appears at once), then is
 *     installed by a server-side copy (radosgw copies by reference) and
 *     the delete of its own key;
 *   - discard aborts the multipart upload(s) at the key and deletes the
 *     key's objects; the janitor does the same for abandoned uploads, so
 *     no part outlives its upload.
 *
 * Memory: PART_SIZE per upload in progress, whatever the blob's size.
 */
#define CF_LOG_MOD "objects"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/enc.h"
#include "base/log.h"
#include "store/objects_int.h"

#define PART_SIZE ((size_t)8 * 1024 * 1024)
/* the header and two segments: a small object read whole at open */
#define READ_WINDOW (SEAL_HEADER_LEN + 2 * (((size_t)1 << SEAL_DEFAULT_LOG2_SEGMENT) + 16))

typedef struct s3store {
    s3_client *c;
} s3store;

cf_code objects_s3_new(void **self, const s3_config *cfg, cf_err *e)
{
    s3store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = s3_client_new(&s->c, cfg, e);
    if (rc == CF_OK)
        rc = s3_bucket_ensure(s->c, e);
    if (rc != CF_OK) {
        s3_client_free(s->c);
        free(s);
        return rc;
    }
    *self = s;
    return CF_OK;
}

static const char *b_where(void *self)
{
    return s3_client_name(((s3store *)self)->c);
}

/* Readiness: the bucket answers a HEAD (one signed request) within the
 * probe's time, as the database's probe (control/health.c). */
#define CHECK_TIMEOUT_MS 2000

static cf_code b_check(void *self, cf_err *e)
{
    s3_req r = {.method = "HEAD", .timeout_ms = CHECK_TIMEOUT_MS};
    return s3_request(((s3store *)self)->c, &r, NULL, e);
}

static void b_free(void *self)
{
    s3store *s = self;
    if (s) {
        s3_client_free(s->c);
        free(s);
    }
}

static cf_code b_prepare(void *self, const char *prefix, cf_err *e)
{
    (void)self;
    (void)prefix;
    (void)e;
    return CF_OK; /* keys need no directories */
}

typedef struct abort_ctx {
    s3_client *c;
    const char *exact; /* only uploads at this key; NULL: all */
    cf_err *e;
    cf_code rc;
} abort_ctx;

static int abort_one(void *cls, const char *key, const char *upload_id, int64_t initiated)
{
    (void)initiated;
    abort_ctx *a = cls;
    if (a->exact && strcmp(a->exact, key) != 0)
        return 0;
    cf_code rc = s3_mpu_abort(a->c, key, upload_id, a->e);
    if (rc != CF_OK && a->rc == CF_OK)
        a->rc = rc;
    return 0;
}

typedef struct delete_ctx {
    s3_client *c;
    const char *stream; /* only this key and its ".suffix" objects; NULL: all */
    cf_err *e;
    cf_code rc;
} delete_ctx;

static int delete_one(void *cls, const char *key, uint64_t size, int64_t mtime)
{
    (void)size;
    (void)mtime;
    delete_ctx *d = cls;
    if (d->stream) {
        size_t n = strlen(d->stream);
        if (strncmp(key, d->stream, n) != 0 || (key[n] != '\0' && key[n] != '.'))
            return 0;
    }
    cf_code rc = s3_delete(d->c, key, d->e);
    if (rc != CF_OK && d->rc == CF_OK)
        d->rc = rc;
    return 0;
}

static cf_code b_remove_prefix(void *self, const char *prefix, cf_err *e)
{
    s3store *s = self;
    abort_ctx a = {.c = s->c, .e = e};
    cf_code rc = s3_list_uploads(s->c, prefix, abort_one, &a, e);
    if (rc == CF_OK)
        rc = a.rc;
    delete_ctx d = {.c = s->c, .e = e};
    if (rc == CF_OK)
        rc = s3_list(s->c, prefix, delete_one, &d, e);
    return rc == CF_OK ? d.rc : rc;
}

/* ---- readers ---- */

static cf_code rd_size(void *cls, uint64_t *out, cf_err *e)
{
    (void)e;
    *out = s3_reader_size(cls);
    return CF_OK;
}

static cf_code rd_readv(void *cls, const struct iovec *iov, int n, uint64_t off, cf_err *e)
{
    return s3_reader_readv(cls, iov, n, off, e);
}

static cf_code b_open(void *self, const char *key, void **h, seal_io *io, cf_err *e)
{
    s3_reader *r = NULL;
    cf_code rc = s3_reader_open(&r, ((s3store *)self)->c, key, READ_WINDOW, e);
    if (rc != CF_OK)
        return rc;
    *io = (seal_io){.cls = r, .size = rd_size, .readv = rd_readv};
    *h = r;
    return CF_OK;
}

static void b_close(void *h)
{
    s3_reader_free(h);
}

static int b_whole(void *h, const unsigned char **p, size_t *n)
{
    return s3_reader_whole(h, p, n);
}

static cf_code b_put(void *self, const char *key, const void *data, size_t len, cf_err *e)
{
    return s3_put(((s3store *)self)->c, key, data, len, e);
}

static cf_code b_stat(void *self, const char *key, uint64_t *size, int64_t *mtime, cf_err *e)
{
    return s3_head(((s3store *)self)->c, key, size, mtime, e);
}

static cf_code b_remove(void *self, const char *key, cf_err *e)
{
    return s3_delete(((s3store *)self)->c, key, e);
}

typedef struct list_ctx {
    objects_list_fn fn;
    void *cls;
} list_ctx;

static int list_obj(void *cls, const char *key, uint64_t size, int64_t mtime)
{
    list_ctx *l = cls;
    return l->fn(l->cls, key, size, mtime, 0);
}

static int list_upl(void *cls, const char *key, const char *upload_id, int64_t initiated)
{
    (void)upload_id;
    list_ctx *l = cls;
    return l->fn(l->cls, key, 0, initiated, 1);
}

static cf_code b_list(void *self, const char *prefix, objects_list_fn fn, void *cls, cf_err *e)
{
    s3store *s = self;
    list_ctx l = {fn, cls};
    cf_code rc = s3_list(s->c, prefix, list_obj, &l, e);
    if (rc == CF_OK)
        rc = s3_list_uploads(s->c, prefix, list_upl, &l, e);
    return rc;
}

/* ---- streams ---- */

typedef struct s3stream {
    s3store *st;
    char key[OBJECTS_KEY_MAX];
    unsigned char *buf; /* PART_SIZE: sealed bytes past the last part */
    size_t len;
    char upload_id[S3_UPLOAD_ID_MAX];
    unsigned nparts;  /* parts uploaded */
    long pending_n;   /* n of the .p<n> the last durable checkpoint names; -1 none */
    long pending_new; /* n of the .p<n> the last sync wrote; -1 none */
    int in_memory;    /* finished without a multipart upload: the object is buf */
    int completed;    /* the multipart upload is complete at key */
} s3stream;

static void pending_key(char *out, size_t cap, const char *key, unsigned n)
{
    snprintf(out, cap, "%s.p%u", key, n);
}

static cf_code part_flush(s3stream *s, cf_err *e)
{
    s3_client *c = s->st->c;
    cf_code rc = CF_OK;
    if (s->upload_id[0] == '\0')
        rc = s3_mpu_create(c, s->key, s->upload_id, e);
    if (rc == CF_OK)
        rc = s3_mpu_part(c, s->key, s->upload_id, s->nparts + 1, s->buf, s->len, e);
    if (rc == CF_OK) {
        s->nparts++;
        s->len = 0;
    }
    return rc;
}

static cf_code st_write(void *cls, const void *data, size_t len, cf_err *e)
{
    s3stream *s = cls;
    const unsigned char *p = data;
    if (s->buf == NULL && (s->buf = malloc(PART_SIZE + 1)) == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    while (len > 0) {
        size_t n = PART_SIZE - s->len;
        if (n > len)
            n = len;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        p += n;
        len -= n;
        if (s->len == PART_SIZE) {
            cf_code rc = part_flush(s, e);
            if (rc != CF_OK)
                return rc;
        }
    }
    return CF_OK;
}

static cf_code st_size(void *cls, uint64_t *out, cf_err *e)
{
    (void)e;
    *out = ((s3stream *)cls)->len;
    return CF_OK;
}

/* Reads of a finished stream that stayed in memory. */
static cf_code st_readv(void *cls, const struct iovec *iov, int n, uint64_t off, cf_err *e)
{
    s3stream *s = cls;
    for (int i = 0; i < n; i++) {
        if (off > s->len || iov[i].iov_len > s->len - off)
            return cf_err_set(e, CF_EINTEGRITY, "sealed object is truncated");
        memcpy(iov[i].iov_base, s->buf + off, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    return CF_OK;
}

static void st_io(s3stream *s, seal_io *io)
{
    *io = (seal_io){.cls = s, .size = st_size, .readv = st_readv, .write = st_write};
}

static void st_free(void *p)
{
    s3stream *s = p;
    if (s == NULL)
        return;
    free(s->buf);
    free(s);
}

static s3stream *st_new(s3store *st, const char *key)
{
    s3stream *s = calloc(1, sizeof(*s));
    if (s) {
        s->st = st;
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->pending_n = s->pending_new = -1;
    }
    return s;
}

static cf_code st_create(void *self, const char *key, int reuse, void **out, seal_io *io, cf_err *e)
{
    /* a stream starting over without a checkpoint: in a bucket nothing
     * marks an upload but its checkpoint (uploads get one at creation) */
    if (reuse)
        return cf_err_set(e, CF_ENOTFOUND, "upload %s unknown", key);
    s3stream *s = st_new(self, key);
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    st_io(s, io);
    *out = s;
    return CF_OK;
}

/* state: "S3S1" | parts (u32 BE) | pending length (u32 BE) | upload id */

static cf_code st_sync(void *p, objects_state *state, cf_err *e)
{
    s3stream *s = p;
    size_t ul = strlen(s->upload_id);
    if (12 + ul > sizeof(state->b))
        return cf_err_set(e, CF_ETOOBIG, "upload id too long");
    if (s->len > 0) {
        char k[OBJECTS_KEY_MAX + 16];
        pending_key(k, sizeof(k), s->key, s->nparts);
        cf_code rc = s3_put(s->st->c, k, s->buf, s->len, e);
        if (rc != CF_OK)
            return rc;
        s->pending_new = (long)s->nparts;
    } else {
        s->pending_new = -1;
    }
    memcpy(state->b, "S3S1", 4);
    cf_be32_put(state->b + 4, s->nparts);
    cf_be32_put(state->b + 8, (uint32_t)s->len);
    memcpy(state->b + 12, s->upload_id, ul);
    state->len = 12 + ul;
    return CF_OK;
}

static void st_synced(void *p)
{
    s3stream *s = p;
    if (s->pending_n >= 0 && s->pending_n != s->pending_new) {
        char k[OBJECTS_KEY_MAX + 16];
        pending_key(k, sizeof(k), s->key, (unsigned)s->pending_n);
        s3_delete(s->st->c, k, NULL); /* best effort: discard sweeps the rest */
    }
    s->pending_n = s->pending_new;
}

static cf_code st_resume(void *self, const char *key, const seal_kek *kek, const unsigned char *hdr,
                         uint64_t durable, const objects_state *state, void **out, seal_io *io,
                         seal_writer **w, cf_err *e)
{
    *w = NULL;
    s3store *st = self;
    if (hdr == NULL || state->len < 12 || memcmp(state->b, "S3S1", 4) != 0 ||
        state->len - 12 >= S3_UPLOAD_ID_MAX)
        return cf_err_set(e, CF_EINTEGRITY, "upload checkpoint has no S3 state");
    s3stream *s = st_new(st, key);
    if (s == NULL || (s->buf = malloc(PART_SIZE + 1)) == NULL) {
        st_free(s);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    s->nparts = cf_be32_get(state->b + 4);
    uint32_t plen = cf_be32_get(state->b + 8);
    memcpy(s->upload_id, state->b + 12, state->len - 12);
    s->upload_id[state->len - 12] = '\0';
    cf_code rc = CF_OK;
    uint64_t sealed = seal_sealed_size(durable, 0) - SEAL_TAG_BYTES;
    if (plen >= PART_SIZE || (uint64_t)s->nparts * PART_SIZE + plen != sealed ||
        (s->nparts > 0 && s->upload_id[0] == '\0') || (s->nparts == 0 && plen == 0)) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint does not match its parts");
        goto out;
    }
    if (s->nparts > 0) {
        rc = s3_mpu_check(st->c, key, s->upload_id, s->nparts, PART_SIZE, e);
        if (rc != CF_OK)
            goto out; /* CF_ENOTFOUND: completed (installed) or aborted */
    }
    if (plen > 0) {
        char k[OBJECTS_KEY_MAX + 16];
        pending_key(k, sizeof(k), key, s->nparts);
        /* straight into the part buffer (one byte more: cf_buf's NUL) */
        cf_buf b = {.data = s->buf, .alloc = PART_SIZE + 1, .cap = PART_SIZE};
        rc = s3_get(st->c, k, 0, plen, &b, NULL, e);
        if (rc != CF_OK)
            goto out; /* CF_ENOTFOUND: installed from memory */
        if (b.len != plen) {
            rc = cf_err_set(e, CF_EINTEGRITY, "upload's pending bytes are short");
            goto out;
        }
        s->len = plen;
        s->pending_n = (long)s->nparts;
        if (s->nparts == 0 && memcmp(s->buf, hdr, SEAL_HEADER_LEN) != 0) {
            rc = cf_err_set(e, CF_EINTEGRITY, "upload does not match its checkpoint");
            goto out;
        }
    }
    st_io(s, io);
    rc = seal_writer_continue(w, kek, hdr, durable >> SEAL_DEFAULT_LOG2_SEGMENT, io, e);
out:
    if (rc != CF_OK) {
        st_free(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

static cf_code st_finish(void *p, cf_err *e)
{
    s3stream *s = p;
    if (s->upload_id[0] == '\0') {
        s->in_memory = 1;
        return CF_OK;
    }
    cf_code rc = CF_OK;
    if (s->len > 0)
        rc = part_flush(s, e);
    if (rc == CF_OK)
        rc = s3_mpu_complete(s->st->c, s->key, s->upload_id, s->nparts, PART_SIZE, e);
    if (rc == CF_OK)
        s->completed = 1;
    return rc;
}

static cf_code st_open(void *p, void **h, seal_io *io, cf_err *e)
{
    s3stream *s = p;
    if (s->in_memory) {
        st_io(s, io);
        *h = NULL;
        return CF_OK;
    }
    return b_open(s->st, s->key, h, io, e);
}

static cf_code st_install(void *p, const char *dst, cf_err *e)
{
    s3stream *s = p;
    s3_client *c = s->st->c;
    if (s->in_memory) {
        cf_code rc = s3_put(c, dst, s->buf, s->len, e);
        /* the bytes a resume would read go: the upload is now unknown */
        if (rc == CF_OK && s->pending_n >= 0) {
            char k[OBJECTS_KEY_MAX + 16];
            pending_key(k, sizeof(k), s->key, (unsigned)s->pending_n);
            rc = s3_delete(c, k, e);
        }
        return rc;
    }
    if (!s->completed)
        return cf_err_set(e, CF_ECONFLICT, "stream is not finished");
    if (strcmp(dst, s->key) == 0)
        return CF_OK;
    cf_code rc = s3_copy(c, s->key, dst, e);
    if (rc == CF_OK)
        rc = s3_delete(c, s->key, e);
    return rc;
}

static cf_code st_discard(void *self, const char *key, cf_err *e)
{
    s3store *st = self;
    abort_ctx a = {.c = st->c, .exact = key, .e = e};
    cf_code rc = s3_list_uploads(st->c, key, abort_one, &a, e);
    if (rc == CF_OK)
        rc = a.rc;
    delete_ctx d = {.c = st->c, .stream = key, .e = e};
    if (rc == CF_OK)
        rc = s3_list(st->c, key, delete_one, &d, e);
    return rc == CF_OK ? d.rc : rc;
}

const objects_ops objects_s3_ops = {
    .kind = "s3",
    .where = b_where,
    .check = b_check,
    .free = b_free,
    .prepare = b_prepare,
    .remove_prefix = b_remove_prefix,
    .open = b_open,
    .close = b_close,
    .io_shareable = 0,
    .whole = b_whole,
    .put = b_put,
    .stat = b_stat,
    .remove = b_remove,
    .list = b_list,
    .sync_cheap = 0,
    .stream_create = st_create,
    .stream_sync = st_sync,
    .stream_synced = st_synced,
    .stream_resume = st_resume,
    .stream_finish = st_finish,
    .stream_open = st_open,
    .stream_install = st_install,
    .stream_free = st_free,
    .stream_discard = st_discard,
};
