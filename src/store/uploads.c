/*
 * uploads.c -- see uploads.h. The upload's sealed bytes go to an object
 * store stream (objects.h: a file, or parts in a bucket); what is here
 * is the same on every backend.
 *
 * Checkpoint plaintext (sealed under the registry's KEK like everything):
 *   "CFUPLD02" | D (u64 BE) | hash state length (u32 BE) | SHA256_CTX bytes
 *   | the object's header (SEAL_HEADER_LEN) | backend state length (u32 BE)
 *   | backend state (objects_state: S3's parts and upload id; files: none)
 *   | tail length (u32 BE) | tail
 * ("CFUPLD01", written before the object store had backends, lacks the
 * header and the backend state; the files backend reads it still.)
 * The hash state is the SHA-256 of the first D bytes; loading replays the
 * tail into it.
 * The SHA256_CTX bytes are the in-memory struct of this OpenSSL build: a
 * checkpoint is only read back by the same binary on the same machine
 * (uploads expire after an idle hour), and a mismatch in length is refused.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#define CF_LOG_MOD "uploads"
#include "store/uploads.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/enc.h"
#include "base/log.h"
#include "base/metrics.h"
#include "store/objects.h"
#include "store/offload.h"

#define CKPT_MAGIC "CFUPLD02"
#define CKPT_MAGIC_V1 "CFUPLD01"
#define SEG ((size_t)1 << SEAL_DEFAULT_LOG2_SEGMENT)
#define CKPT_FIXED (8 + 8 + 4 + sizeof(SHA256_CTX))
#define CKPT_MAX (CKPT_FIXED + SEAL_HEADER_LEN + 4 + OBJECTS_STATE_MAX + 4 + SEG)

struct upload {
    char uuid[UPLOAD_UUID_LEN + 1];
    char reg_id[SEAL_REGISTRY_ID_MAX + 1];
    char key[OBJECTS_KEY_MAX];
    objects_stream *stream;
    seal_writer *w;
    SHA256_CTX sha;         /* over every accepted byte */
    SHA256_CTX sha_durable; /* over the durable bytes (a segment boundary) */
    uint64_t hashed;        /* bytes in sha */
    offload_lane hash;      /* the hash on a helper (hash_bytes); the two hash
                             * states and hashed are its while it is not drained */
    int busy;
    int finished; /* writer finished: only rollback or install remain */
    time_t last_used;
    int64_t gen; /* the claim generation this state is current for */
    void *hold;  /* the coordinator's claim while busy; NULL: none */
    struct upload *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static upload *sessions;
static unsigned max_idle = 32;
static const upload_coord *coord;

void uploads_configure(unsigned n)
{
    max_idle = n;
}

void uploads_set_coord(const upload_coord *c)
{
    coord = c;
}

static void unclaim(upload *u)
{
    if (u->hold != NULL && coord != NULL)
        coord->unclaim(u->hold);
    u->hold = NULL;
}

/* Before a checkpoint replaces the stored state: the claim must still be
 * this request's. */
static cf_code claim_check(upload *u, cf_err *e)
{
    if (coord == NULL || u->hold == NULL)
        return CF_OK;
    cf_err ce = {0};
    cf_code rc = coord->check(u->uuid, u->gen, u->hold, &ce);
    if (rc != CF_OK)
        return cf_err_set(e, CF_EUNAVAIL, "upload %s: the claim on it was lost (%s)", u->uuid,
                          ce.msg);
    return CF_OK;
}

/*
 * The running hash is computed on a helper (an offload lane): the request
 * thread hands each piece to it before it seals the piece, so receiving
 * and sealing go on while the helper hashes. Everything that reads the
 * hash (a checkpoint, the finish) and the end of a request drain the lane
 * first. Without an idle helper a piece is hashed inline.
 */
#define HASH_RING ((size_t)256 * 1024)

/* Adds the next len bytes of the upload to the hash, in pieces that stop
 * at every segment boundary, so the state at the durable length (the
 * writer seals each segment as soon as it is full) is at hand for a
 * checkpoint. */
static void hash_bytes(void *cls, const unsigned char *p, size_t len)
{
    upload *u = cls;
    while (len > 0) {
        size_t room = SEG - (size_t)(u->hashed % SEG);
        size_t n = len < room ? len : room;
        SHA256_Update(&u->sha, p, n);
        p += n;
        len -= n;
        u->hashed += n;
        if (u->hashed % SEG == 0)
            u->sha_durable = u->sha;
    }
}

static void session_free(upload *u)
{
    if (u == NULL)
        return;
    offload_lane_destroy(&u->hash);
    unclaim(u);
    seal_writer_free(u->w);
    objects_stream_free(u->stream);
    OPENSSL_cleanse(&u->sha, sizeof(u->sha));
    OPENSSL_cleanse(&u->sha_durable, sizeof(u->sha_durable));
    free(u);
}

void uploads_shutdown(void)
{
    pthread_mutex_lock(&mu);
    upload *u = sessions;
    sessions = NULL;
    pthread_mutex_unlock(&mu);
    while (u) {
        upload *n = u->next;
        session_free(u);
        u = n;
    }
}

int upload_uuid_valid(const char *s, size_t len)
{
    if (len != UPLOAD_UUID_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

static void unlink_list(upload *u)
{
    for (upload **pp = &sessions; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            return;
        }
    }
}

/* Evicts idle sessions beyond max_idle, oldest first. Caller holds mu;
 * the evicted ones are returned in a list to free outside the lock. */
static upload *evict_locked(void)
{
    upload *out = NULL;
    for (;;) {
        unsigned idle = 0;
        upload *oldest = NULL;
        for (upload *u = sessions; u; u = u->next) {
            if (u->busy)
                continue;
            idle++;
            if (oldest == NULL || u->last_used < oldest->last_used)
                oldest = u;
        }
        if (idle <= max_idle || oldest == NULL)
            return out;
        unlink_list(oldest);
        oldest->next = out;
        out = oldest;
    }
}

static void free_list(upload *u)
{
    while (u) {
        upload *n = u->next;
        session_free(u);
        u = n;
    }
}

/* Writes the checkpoint (sealed) for D = durable, the hash state, the
 * backend's state and the tail bytes given; atomic (objects.h). */
static cf_code checkpoint_write(const upload *u, const seal_kek *kek, uint64_t durable,
                                const objects_state *st, const unsigned char *tail, size_t tail_len,
                                cf_err *e)
{
    char key[OBJECTS_KEY_MAX];
    objects_upload_key(key, sizeof(key), u->reg_id, u->uuid, ".state");
    size_t n = 0, cap = CKPT_FIXED + SEAL_HEADER_LEN + 4 + st->len + 4 + tail_len;
    unsigned char *b = malloc(cap);
    if (b == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    memcpy(b, CKPT_MAGIC, 8);
    n = 8;
    for (int i = 7; i >= 0; i--)
        b[n++] = (unsigned char)(durable >> (8 * i));
    cf_be32_put(b + n, (uint32_t)sizeof(SHA256_CTX));
    n += 4;
    memcpy(b + n, &u->sha_durable, sizeof(SHA256_CTX));
    n += sizeof(SHA256_CTX);
    memcpy(b + n, seal_writer_header(u->w), SEAL_HEADER_LEN);
    n += SEAL_HEADER_LEN;
    cf_be32_put(b + n, (uint32_t)st->len);
    n += 4;
    memcpy(b + n, st->b, st->len);
    n += st->len;
    cf_be32_put(b + n, (uint32_t)tail_len);
    n += 4;
    if (tail_len > 0)
        memcpy(b + n, tail, tail_len);
    n += tail_len;
    cf_code rc = objects_put_sealed(key, kek, b, n, e);
    OPENSSL_cleanse(b, cap);
    free(b);
    return rc;
}

/* An upload without a checkpoint: a new upload (upload_create does not
 * checkpoint an empty upload) or one whose requests all failed or were
 * cut by a crash before their first checkpoint. Its acknowledged length is
 * 0, so it starts over with a fresh header. On files, without the file
 * itself the upload is unknown (CF_ENOTFOUND); in a bucket nothing is
 * stored before the first checkpoint, so its row alone says it exists. */
static cf_code load_empty(upload *u, const seal_kek *kek, cf_err *e)
{
    SHA256_Init(&u->sha);
    u->sha_durable = u->sha;
    u->hashed = 0;
    return objects_stream_create(&u->stream, &u->w, u->key, kek, 1, e);
}

/* Loads u (key, reg_id, uuid set; no stream) from its checkpoint. */
static cf_code load(upload *u, const seal_kek *kek, cf_err *e)
{
    char sk[OBJECTS_KEY_MAX];
    objects_upload_key(sk, sizeof(sk), u->reg_id, u->uuid, ".state");
    cf_buf b;
    cf_buf_init(&b, CKPT_MAX);
    b.secret = 1;
    cf_err le = {0};
    cf_code rc = objects_get_sealed(sk, kek, CKPT_MAX, &b, &le);
    if (rc == CF_ENOTFOUND) {
        cf_buf_free(&b);
        return load_empty(u, kek, e);
    }
    if (rc != CF_OK) {
        cf_buf_free(&b);
        return cf_err_set(e, rc, "upload %s: %s", u->uuid, le.msg);
    }
    const unsigned char *p = b.data;
    size_t sz = b.len;
    int v2 = sz >= 8 && memcmp(p, CKPT_MAGIC, 8) == 0;
    int v1 = sz >= 8 && memcmp(p, CKPT_MAGIC_V1, 8) == 0;
    const unsigned char *hdr = NULL, *tail = NULL;
    objects_state st = {.len = 0};
    uint64_t durable = 0;
    uint32_t tail_len = 0;
    size_t at = CKPT_FIXED;
    if ((!v1 && !v2) || sz < CKPT_FIXED + 4 || cf_be32_get(p + 16) != sizeof(SHA256_CTX)) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint is malformed");
        goto out;
    }
    for (int i = 0; i < 8; i++)
        durable = durable << 8 | p[8 + i];
    memcpy(&u->sha_durable, p + 20, sizeof(SHA256_CTX));
    u->sha = u->sha_durable;
    u->hashed = durable;
    if (v2) {
        if (sz < at + SEAL_HEADER_LEN + 4) {
            rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint is malformed");
            goto out;
        }
        hdr = p + at;
        at += SEAL_HEADER_LEN;
        st.len = cf_be32_get(p + at);
        at += 4;
        if (st.len > sizeof(st.b) || sz < at + st.len + 4) {
            rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint is malformed");
            goto out;
        }
        memcpy(st.b, p + at, st.len);
        at += st.len;
    }
    tail_len = cf_be32_get(p + at);
    at += 4;
    tail = p + at;
    if (tail_len != sz - at || tail_len >= SEG || durable % SEG != 0) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint is inconsistent");
        goto out;
    }
    rc = objects_stream_resume(&u->stream, &u->w, u->key, kek, hdr, durable, &st, e);
    if (rc == CF_OK && tail_len > 0)
        rc = seal_writer_write(u->w, tail, tail_len, e);
    if (rc == CF_OK)
        hash_bytes(u, tail, tail_len);
out:
    cf_buf_free(&b);
    return rc;
}

static upload *session_new(const char *uuid, const char *reg_id)
{
    upload *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
    snprintf(u->reg_id, sizeof(u->reg_id), "%s", reg_id);
    objects_upload_key(u->key, sizeof(u->key), reg_id, uuid, "");
    u->busy = 1;
    offload_lane_init(&u->hash, HASH_RING, hash_bytes, u);
    return u;
}

static void uuid_new(char out[UPLOAD_UUID_LEN + 1], const unsigned char r[16])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[o] = '\0';
}

cf_code upload_create(upload **out, char uuid[UPLOAD_UUID_LEN + 1], const char *reg_id,
                      const seal_kek *kek, int durable, cf_err *e)
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return cf_err_ssl(e, "random");
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    uuid_new(uuid, r);
    cf_code rc = objects_registry_prepare(reg_id, e);
    if (rc != CF_OK)
        return rc;
    upload *u = session_new(uuid, reg_id);
    if (u == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    SHA256_Init(&u->sha);
    u->sha_durable = u->sha;
    u->hashed = 0;
    rc = objects_stream_create(&u->stream, &u->w, u->key, kek, 0, e);
    if (rc == CF_OK && durable)
        rc = upload_checkpoint(u, kek, e);
    if (rc != CF_OK) {
        if (u->stream)
            objects_stream_discard(u->key, NULL);
        session_free(u);
        return rc;
    }
    pthread_mutex_lock(&mu);
    u->next = sessions;
    sessions = u;
    pthread_mutex_unlock(&mu);
    *out = u;
    return CF_OK;
}

static int expire_claimed(const char *uuid, const char *reg_id, time_t idle_before);

/* Drops the in-memory state of u (kept: identity, busy flag, claim) so
 * that load() can refill it. */
static void session_reset(upload *u)
{
    offload_lane_drain(&u->hash);
    seal_writer_free(u->w);
    u->w = NULL;
    objects_stream_free(u->stream);
    u->stream = NULL;
    OPENSSL_cleanse(&u->sha, sizeof(u->sha));
    OPENSSL_cleanse(&u->sha_durable, sizeof(u->sha_durable));
    u->finished = 0;
}

/* Local busy flag first (requests of this node), then the cluster-wide
 * claim; *fresh = 1 when u must be (re)loaded from its checkpoint. */
static cf_code claim(upload *u, int cached, int *fresh, cf_err *e)
{
    *fresh = !cached;
    if (coord == NULL)
        return CF_OK;
    int64_t gen = 0;
    void *hold = NULL;
    cf_code rc = coord->claim(u->uuid, &gen, &hold, e);
    if (rc != CF_OK)
        return rc;
    u->hold = hold;
    if (cached && gen != u->gen + 1)
        *fresh = 1; /* another node took it since: its checkpoint is the truth */
    u->gen = gen;
    return CF_OK;
}

cf_code upload_acquire(upload **out, const char *uuid, const char *reg_id, const seal_kek *kek,
                       cf_err *e)
{
    pthread_mutex_lock(&mu);
    upload *u;
    for (u = sessions; u; u = u->next)
        if (strcmp(u->uuid, uuid) == 0)
            break;
    int cached = u != NULL;
    if (u) {
        int busy = u->busy;
        if (!busy)
            u->busy = 1;
        pthread_mutex_unlock(&mu);
        if (busy)
            return cf_err_set(e, CF_ECONFLICT, "upload is in use by another request");
        if (strcmp(u->reg_id, reg_id) != 0) {
            upload_release(u, 1);
            return cf_err_set(e, CF_ENOTFOUND, "upload unknown");
        }
    } else {
        u = session_new(uuid, reg_id);
        if (u == NULL) {
            pthread_mutex_unlock(&mu);
            return cf_err_set(e, CF_ENOMEM, "out of memory");
        }
        u->next = sessions;
        sessions = u; /* busy: others wait for the load */
        pthread_mutex_unlock(&mu);
    }
    int fresh = 0;
    cf_code rc = claim(u, cached, &fresh, e);
    if (rc == CF_OK && fresh) {
        session_reset(u);
        rc = load(u, kek, e);
    }
    if (rc != CF_OK) {
        if (cached && rc == CF_ECONFLICT && u->w != NULL && !fresh) {
            upload_release(u, 1); /* another node's request: our copy stays */
            return rc;
        }
        pthread_mutex_lock(&mu);
        unlink_list(u);
        pthread_mutex_unlock(&mu);
        session_free(u);
        return rc;
    }
    *out = u;
    return CF_OK;
}

const char *upload_uuid(const upload *u)
{
    return u->uuid;
}

uint64_t upload_length(const upload *u)
{
    return seal_writer_length(u->w);
}

cf_code upload_write(upload *u, const void *data, size_t len, cf_err *e)
{
    if (u->finished)
        return cf_err_set(e, CF_ECONFLICT, "upload already finished");
    /* the hash first, so that a helper hashes while this thread seals */
    size_t queued = offload_lane_feed(&u->hash, data, len);
    if (queued < len)
        hash_bytes(u, (const unsigned char *)data + queued, len - queued);
    cf_code rc = seal_writer_write(u->w, data, len, e);
    if (rc != CF_OK)
        metrics_count_objects_error("upload_write");
    return rc; /* on failure the writer is dead: the caller drops the session */
}

static cf_code checkpoint(upload *u, const seal_kek *kek, int with_tail, cf_err *e)
{
    offload_lane_drain(&u->hash);
    objects_state st;
    cf_code rc = objects_stream_sync(u->stream, &st, e);
    size_t tail_len = 0;
    const unsigned char *tail = with_tail ? seal_writer_tail(u->w, &tail_len) : NULL;
    if (rc == CF_OK)
        rc = checkpoint_write(u, kek, seal_writer_durable(u->w), &st, tail, tail_len, e);
    if (rc == CF_OK)
        objects_stream_synced(u->stream);
    return rc;
}

cf_code upload_checkpoint(upload *u, const seal_kek *kek, cf_err *e)
{
    cf_code rc = claim_check(u, e);
    if (rc != CF_OK)
        return rc;
    return checkpoint(u, kek, 1, e);
}

cf_code upload_checkpoint_durable(upload *u, const seal_kek *kek, cf_err *e)
{
    /* in a bucket a sync rewrites up to a part: only at the request's end */
    if (!objects_stream_sync_cheap())
        return CF_OK;
    cf_code rc = claim_check(u, e);
    if (rc != CF_OK)
        return rc;
    return checkpoint(u, kek, 0, e);
}

static cf_code hash_file_sha512(upload *u, const seal_kek *kek, unsigned char out[64],
                                uint64_t *size, cf_err *e)
{
    objects_reader *obj = NULL;
    cf_code rc = objects_stream_open(u->stream, &obj, kek, e);
    if (rc != CF_OK)
        return rc;
    seal_reader *r = objects_reader_seal(obj);
    unsigned char *buf = malloc(SEG);
    if (buf == NULL) {
        objects_reader_free(obj);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    SHA512_CTX c;
    SHA512_Init(&c);
    uint64_t off = 0, total = seal_reader_size(r);
    while (rc == CF_OK && off < total) {
        size_t got = 0;
        rc = seal_reader_read(r, off, buf, SEG, &got, e);
        if (rc == CF_OK && got == 0)
            rc = cf_err_set(e, CF_EINTEGRITY, "short sealed upload");
        if (rc == CF_OK) {
            SHA512_Update(&c, buf, got);
            off += got;
        }
    }
    SHA512_Final(out, &c);
    OPENSSL_cleanse(buf, SEG);
    free(buf);
    objects_reader_free(obj);
    *size = total;
    return rc;
}

cf_code upload_finish(upload *u, const oci_digest *want, const seal_kek *kek, uint64_t *size,
                      cf_err *e)
{
    if (u->finished)
        return cf_err_set(e, CF_ECONFLICT, "upload already finished");
    cf_code rc = claim_check(u, e);
    if (rc != CF_OK)
        return rc;
    offload_lane_drain(&u->hash);
    uint64_t len = seal_writer_length(u->w);
    unsigned char raw[64];
    oci_digest got;
    /* SHA-256, the running hash: checked before anything is sealed or
     * completed, so a wrong digest changes nothing (in a bucket the
     * completion of the multipart upload could not be undone) */
    if (want->alg == OCI_ALG_SHA256) {
        SHA256_CTX c = u->sha;
        SHA256_Final(raw, &c);
        OPENSSL_cleanse(&c, sizeof(c));
        oci_digest_from_raw(&got, want->alg, raw);
        if (strcmp(got.text, want->text) != 0)
            return cf_err_set(e, CF_EINVAL, "digest does not match the uploaded content");
    }
    u->finished = 1; /* from here the in-memory state is not resumable */
    rc = seal_writer_finish(u->w, e);
    if (rc == CF_OK)
        rc = objects_stream_finish(u->stream, e);
    if (rc != CF_OK)
        return rc;
    if (want->alg != OCI_ALG_SHA256) {
        /* a sha512 digest: the finished object read once (in a bucket, a
         * mismatch here leaves an upload that cannot be resumed) */
        uint64_t n = 0;
        rc = hash_file_sha512(u, kek, raw, &n, e);
        if (rc != CF_OK)
            return rc;
        if (n != len)
            return cf_err_set(e, CF_EINTEGRITY, "sealed upload has the wrong length");
        oci_digest_from_raw(&got, want->alg, raw);
        if (strcmp(got.text, want->text) != 0)
            return cf_err_set(e, CF_EINVAL, "digest does not match the uploaded content");
    }
    *size = len;
    return CF_OK;
}

cf_code upload_install(upload *u, const char *reg_id, const oci_digest *d, cf_err *e)
{
    if (!u->finished)
        return cf_err_set(e, CF_ECONFLICT, "upload is not finished");
    return objects_stream_install(u->stream, reg_id, d, e);
}

void upload_release(upload *u, int ok)
{
    upload *evicted = NULL;
    offload_lane_drain(&u->hash); /* no helper at work on u between requests */
    unclaim(u);                   /* outside mu: it may wait for the database */
    pthread_mutex_lock(&mu);
    if (!ok || u->finished) {
        unlink_list(u);
        pthread_mutex_unlock(&mu);
        session_free(u);
        return;
    }
    u->busy = 0;
    u->last_used = time(NULL);
    evicted = evict_locked();
    pthread_mutex_unlock(&mu);
    free_list(evicted);
}

static void remove_files(const char *reg_id, const char *uuid)
{
    char k[OBJECTS_KEY_MAX];
    objects_upload_key(k, sizeof(k), reg_id, uuid, "");
    cf_err e = {0};
    if (objects_stream_discard(k, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "cannot remove upload", "upload", uuid, "error", e.msg, NULL);
}

void upload_discard(upload *u)
{
    pthread_mutex_lock(&mu);
    unlink_list(u);
    pthread_mutex_unlock(&mu);
    remove_files(u->reg_id, u->uuid);
    session_free(u);
}

unsigned uploads_in_progress(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&mu);
    for (upload *u = sessions; u; u = u->next)
        n += u->busy != 0;
    pthread_mutex_unlock(&mu);
    return n;
}

int upload_active(const char *uuid)
{
    pthread_mutex_lock(&mu);
    upload *u;
    for (u = sessions; u; u = u->next)
        if (strcmp(u->uuid, uuid) == 0)
            break;
    int busy = u != NULL && u->busy;
    pthread_mutex_unlock(&mu);
    return busy;
}

/* The upload's last activity: its checkpoint's time obj, without one,
 * its stream's (files: the file's; S3: nothing stored, 0). -1 when the
 * store cannot say. */
static int64_t last_activity(const char *reg_id, const char *uuid)
{
    char k[OBJECTS_KEY_MAX];
    int64_t mtime = 0;
    objects_upload_key(k, sizeof(k), reg_id, uuid, ".state");
    cf_code rc = objects_stat(k, NULL, &mtime, NULL);
    if (rc == CF_ENOTFOUND) {
        objects_upload_key(k, sizeof(k), reg_id, uuid, "");
        rc = objects_stat(k, NULL, &mtime, NULL);
        if (rc == CF_ENOTFOUND)
            return 0;
    }
    return rc == CF_OK ? mtime : -1;
}

int upload_expire(const char *uuid, const char *reg_id, time_t idle_before)
{
    /* not while a request of any node has it (a long streamed PATCH);
     * looking does not bump its generation (a node's copy stays valid) */
    void *hold = NULL;
    cf_err ce = {0};
    if (coord != NULL && coord->lock(uuid, &hold, &ce) != CF_OK)
        return 0;
    int removed = expire_claimed(uuid, reg_id, idle_before);
    if (hold != NULL)
        coord->unclaim(hold);
    return removed;
}

static int expire_claimed(const char *uuid, const char *reg_id, time_t idle_before)
{
    /* Hold the upload busy (not the lock: the store may be remote and
     * slow) while deciding and removing, so no request of this node
     * reloads it. */
    pthread_mutex_lock(&mu);
    upload *u;
    for (u = sessions; u; u = u->next)
        if (strcmp(u->uuid, uuid) == 0)
            break;
    if (u && u->busy) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    int placeholder = u == NULL;
    if (placeholder) {
        u = session_new(uuid, reg_id);
        if (u == NULL) {
            pthread_mutex_unlock(&mu);
            return 0;
        }
        u->next = sessions;
        sessions = u;
    }
    u->busy = 1;
    pthread_mutex_unlock(&mu);
    int64_t t = last_activity(reg_id, uuid);
    int expired = t >= 0 && t < (int64_t)idle_before;
    if (expired)
        remove_files(reg_id, uuid);
    pthread_mutex_lock(&mu);
    if (expired || placeholder) {
        unlink_list(u);
    } else {
        /* still in use now and then: a cached session stays cached (a
         * reload would start a lazy upload's file over, making it young) */
        u->busy = 0;
        u = NULL;
    }
    pthread_mutex_unlock(&mu);
    session_free(u);
    return expired;
}
