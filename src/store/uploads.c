/*
 * uploads.c -- see uploads.h.
 *
 * Checkpoint plaintext (sealed under the registry's KEK like everything):
 *   "CFUPLD01" | D (u64 BE) | hash state length (u32 BE) | SHA256_CTX bytes
 *   | tail length (u32 BE) | tail
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

#include "base/fs.h"
#include "base/log.h"
#include "base/metrics.h"
#include "store/objects.h"
#include "store/offload.h"

#define CKPT_MAGIC "CFUPLD01"
#define SEG ((size_t)1 << SEAL_DEFAULT_LOG2_SEGMENT)
#define CKPT_MAX (8 + 8 + 4 + sizeof(SHA256_CTX) + 4 + SEG)

struct upload {
    char uuid[UPLOAD_UUID_LEN + 1];
    char reg_id[SEAL_REGISTRY_ID_MAX + 1];
    char path[OBJECTS_PATH_MAX];
    int fd;
    seal_writer *w;
    SHA256_CTX sha;         /* over every accepted byte */
    SHA256_CTX sha_durable; /* over the durable bytes (a segment boundary) */
    uint64_t kicked;        /* durable length when writeback was last started */
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

static void session_free(upload *u)
{
    if (u == NULL)
        return;
    unclaim(u);
    seal_writer_free(u->w);
    if (u->fd >= 0)
        close(u->fd);
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

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes the checkpoint (sealed) for D = durable, the hash state, and the
 * tail bytes given. Atomic: temp, fsync, rename, fsync dir. */
static cf_code checkpoint_write(const upload *u, const seal_kek *kek, uint64_t durable,
                                const unsigned char *tail, size_t tail_len, cf_err *e)
{
    char tmp[OBJECTS_PATH_MAX + 16], dst[OBJECTS_PATH_MAX + 16];
    objects_upload_path(tmp, sizeof(tmp), u->reg_id, u->uuid, ".state.tmp");
    objects_upload_path(dst, sizeof(dst), u->reg_id, u->uuid, ".state");
    unsigned char hdr[8 + 8 + 4 + sizeof(SHA256_CTX) + 4];
    size_t n = 0;
    memcpy(hdr, CKPT_MAGIC, 8);
    n = 8;
    for (int i = 7; i >= 0; i--)
        hdr[n++] = (unsigned char)(durable >> (8 * i));
    put_u32(hdr + n, (uint32_t)sizeof(SHA256_CTX));
    n += 4;
    memcpy(hdr + n, &u->sha_durable, sizeof(SHA256_CTX));
    n += sizeof(SHA256_CTX);
    put_u32(hdr + n, (uint32_t)tail_len);
    n += 4;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return cf_err_os(e, errno, "create upload checkpoint");
    seal_writer *w = NULL;
    cf_code rc = seal_writer_open(&w, kek, fd, NULL, e);
    if (rc == CF_OK)
        rc = seal_writer_write(w, hdr, n, e);
    if (rc == CF_OK && tail_len > 0)
        rc = seal_writer_write(w, tail, tail_len, e);
    if (rc == CF_OK)
        rc = seal_writer_finish(w, e);
    seal_writer_free(w);
    OPENSSL_cleanse(hdr, sizeof(hdr));
    if (rc == CF_OK && fsync(fd) != 0)
        rc = cf_err_os(e, errno, "fsync upload checkpoint");
    if (close(fd) != 0 && rc == CF_OK)
        rc = cf_err_os(e, errno, "close upload checkpoint");
    if (rc == CF_OK && rename(tmp, dst) != 0)
        rc = cf_err_os(e, errno, "install upload checkpoint");
    if (rc == CF_OK)
        rc = cf_fs_fsync_parent(dst, e);
    if (rc != CF_OK) {
        unlink(tmp);
        metrics_count_objects_error("upload_checkpoint");
    }
    return rc;
}

/* An upload file without a checkpoint: a new upload (upload_create does
 * not checkpoint an empty upload) or one whose requests all failed or were
 * cut by a crash before their first checkpoint. Its acknowledged length is
 * 0, so it starts over: the file is truncated and gets a fresh header.
 * Without the file itself the upload is unknown (CF_ENOTFOUND). */
static cf_code load_empty(upload *u, const seal_kek *kek, cf_err *e)
{
    u->fd = open(u->path, O_RDWR | O_CLOEXEC);
    if (u->fd < 0)
        return cf_err_os(e, errno, "upload %s", u->uuid);
    if (ftruncate(u->fd, 0) != 0 || lseek(u->fd, 0, SEEK_SET) != 0)
        return cf_err_os(e, errno, "reset upload");
    SHA256_Init(&u->sha);
    u->sha_durable = u->sha;
    return seal_writer_open(&u->w, kek, u->fd, NULL, e);
}

/* Loads u (path, reg_id, uuid set; fd closed) from its checkpoint. */
static cf_code load(upload *u, const seal_kek *kek, cf_err *e)
{
    char sp[OBJECTS_PATH_MAX + 16];
    objects_upload_path(sp, sizeof(sp), u->reg_id, u->uuid, ".state");
    unsigned char *buf = NULL;
    seal_reader *r = NULL;
    cf_code rc = CF_OK;
    int sfd = open(sp, O_RDONLY | O_CLOEXEC);
    if (sfd < 0 && errno == ENOENT)
        return load_empty(u, kek, e);
    if (sfd < 0)
        return cf_err_os(e, errno, "upload %s", u->uuid);
    rc = seal_reader_open(&r, kek, sfd, e);
    if (rc != CF_OK)
        goto out;
    uint64_t sz = seal_reader_size(r);
    const size_t fixed = 8 + 8 + 4 + sizeof(SHA256_CTX) + 4;
    if (sz < fixed || sz > CKPT_MAX) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint has a bad size");
        goto out;
    }
    buf = malloc((size_t)sz);
    size_t got = 0;
    if (buf == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    rc = seal_reader_read(r, 0, buf, (size_t)sz, &got, e);
    if (rc != CF_OK)
        goto out;
    if (got != sz || memcmp(buf, CKPT_MAGIC, 8) != 0 || get_u32(buf + 16) != sizeof(SHA256_CTX)) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint is malformed");
        goto out;
    }
    uint64_t durable = 0;
    for (int i = 0; i < 8; i++)
        durable = durable << 8 | buf[8 + i];
    memcpy(&u->sha_durable, buf + 20, sizeof(SHA256_CTX));
    u->sha = u->sha_durable;
    uint32_t tail_len = get_u32(buf + 20 + sizeof(SHA256_CTX));
    if (tail_len != sz - fixed || tail_len >= SEG || durable % SEG != 0) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload checkpoint is inconsistent");
        goto out;
    }
    u->fd = open(u->path, O_RDWR | O_CLOEXEC);
    if (u->fd < 0) {
        rc = cf_err_os(e, errno, "upload %s", u->uuid);
        goto out;
    }
    /* drop whatever was appended after the checkpoint */
    uint64_t keep = seal_sealed_size(durable, 0) - 16;
    struct stat st;
    if (fstat(u->fd, &st) != 0) {
        rc = cf_err_os(e, errno, "stat upload");
        goto out;
    }
    if ((uint64_t)st.st_size < keep) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload file is shorter than its checkpoint");
        goto out;
    }
    if ((uint64_t)st.st_size > keep && ftruncate(u->fd, (off_t)keep) != 0) {
        rc = cf_err_os(e, errno, "truncate upload");
        goto out;
    }
    uint64_t d2 = 0;
    rc = seal_writer_resume(&u->w, kek, u->fd, &d2, e);
    if (rc != CF_OK)
        goto out;
    if (d2 != durable) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload file does not match its checkpoint");
        goto out;
    }
    if (tail_len > 0)
        rc = seal_writer_write(u->w, buf + fixed, tail_len, e);
    if (rc == CF_OK) {
        SHA256_Update(&u->sha, buf + fixed, tail_len);
    }
out:
    if (buf) {
        OPENSSL_cleanse(buf, (size_t)sz);
        free(buf);
    }
    seal_reader_free(r);
    close(sfd);
    return rc;
}

static upload *session_new(const char *uuid, const char *reg_id)
{
    upload *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->fd = -1;
    snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
    snprintf(u->reg_id, sizeof(u->reg_id), "%s", reg_id);
    objects_upload_path(u->path, sizeof(u->path), reg_id, uuid, "");
    u->busy = 1;
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
    cf_code rc = objects_registry_dirs(reg_id, e);
    if (rc != CF_OK)
        return rc;
    upload *u = session_new(uuid, reg_id);
    if (u == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    SHA256_Init(&u->sha);
    u->sha_durable = u->sha;
    u->fd = open(u->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        rc = cf_err_os(e, errno, "create upload");
        session_free(u);
        return rc;
    }
    rc = seal_writer_open(&u->w, kek, u->fd, NULL, e);
    if (rc == CF_OK && durable && fsync(u->fd) != 0)
        rc = cf_err_os(e, errno, "fsync upload");
    if (rc == CF_OK && durable)
        rc = checkpoint_write(u, kek, 0, NULL, 0, e);
    if (rc != CF_OK) {
        unlink(u->path);
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
    seal_writer_free(u->w);
    u->w = NULL;
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    OPENSSL_cleanse(&u->sha, sizeof(u->sha));
    OPENSSL_cleanse(&u->sha_durable, sizeof(u->sha_durable));
    u->kicked = 0;
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

const char *upload_path(const upload *u)
{
    return u->path;
}

uint64_t upload_length(const upload *u)
{
    return seal_writer_length(u->w);
}

/* The SHA-256 of one chunk of an upload, in pieces that stop at every
 * segment boundary of the total length, so the state at the durable
 * length (the writer seals each segment as soon as it is full) is at hand
 * for a checkpoint. Touches only u->sha and u->sha_durable. */
typedef struct hash_job {
    upload *u;
    const unsigned char *p;
    size_t len;
    uint64_t pos; /* upload length before this chunk */
} hash_job;

static void hash_chunk(void *arg)
{
    hash_job *j = arg;
    uint64_t pos = j->pos;
    const unsigned char *p = j->p;
    size_t left = j->len;
    while (left > 0) {
        size_t room = SEG - (size_t)(pos % SEG);
        size_t n = left < room ? left : room;
        SHA256_Update(&j->u->sha, p, n);
        p += n;
        left -= n;
        pos += n;
        if (pos % SEG == 0)
            j->u->sha_durable = j->u->sha;
    }
}

/* Writeback of an upload's file is started every this many bytes. */
#define WRITEBACK_EVERY (8u * 1024 * 1024)

/* Below this a chunk is hashed inline: handing it over costs more. */
#define OFFLOAD_MIN (32u * 1024)

cf_code upload_write(upload *u, const void *data, size_t len, cf_err *e)
{
    if (u->finished)
        return cf_err_set(e, CF_ECONFLICT, "upload already finished");
    /* hash on a helper core while this thread seals the same bytes */
    hash_job job = {u, data, len, seal_writer_length(u->w)};
    offload_helper *h = len >= OFFLOAD_MIN ? offload_start(hash_chunk, &job) : NULL;
    cf_code rc = seal_writer_write(u->w, data, len, e);
    if (h != NULL)
        offload_wait(h);
    else if (rc == CF_OK)
        hash_chunk(&job);
    if (rc != CF_OK) {
        metrics_count_objects_error("upload_write");
        return rc; /* the writer is dead: the caller drops the session */
    }
    /* Start writeback of what was sealed so far without waiting for it, so
     * that the fsync completing the upload finds little left to write (a
     * 1 GiB push otherwise waits ~1 s in that fsync). Advisory only. */
    uint64_t durable = seal_writer_durable(u->w);
    if (durable - u->kicked >= WRITEBACK_EVERY) {
        sync_file_range(u->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        u->kicked = durable;
    }
    return CF_OK;
}

cf_code upload_checkpoint(upload *u, const seal_kek *kek, cf_err *e)
{
    cf_code rc = claim_check(u, e);
    if (rc != CF_OK)
        return rc;
    if (fsync(u->fd) != 0)
        return cf_err_os(e, errno, "fsync upload");
    size_t tail_len = 0;
    const unsigned char *tail = seal_writer_tail(u->w, &tail_len);
    return checkpoint_write(u, kek, seal_writer_durable(u->w), tail, tail_len, e);
}

cf_code upload_checkpoint_durable(upload *u, const seal_kek *kek, cf_err *e)
{
    cf_code rc = claim_check(u, e);
    if (rc != CF_OK)
        return rc;
    if (fsync(u->fd) != 0)
        return cf_err_os(e, errno, "fsync upload");
    return checkpoint_write(u, kek, seal_writer_durable(u->w), NULL, 0, e);
}

static cf_code hash_file_sha512(upload *u, const seal_kek *kek, unsigned char out[64],
                                uint64_t *size, cf_err *e)
{
    seal_reader *r = NULL;
    cf_code rc = seal_reader_open(&r, kek, u->fd, e);
    if (rc != CF_OK)
        return rc;
    unsigned char *buf = malloc(SEG);
    if (buf == NULL) {
        seal_reader_free(r);
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
    seal_reader_free(r);
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
    uint64_t len = seal_writer_length(u->w);
    u->finished = 1; /* from here the in-memory state is not resumable */
    rc = seal_writer_finish(u->w, e);
    if (rc == CF_OK && fsync(u->fd) != 0)
        rc = cf_err_os(e, errno, "fsync upload");
    if (rc != CF_OK)
        return rc;
    unsigned char raw[64];
    oci_digest got;
    if (want->alg == OCI_ALG_SHA256) {
        SHA256_CTX c = u->sha;
        SHA256_Final(raw, &c);
        OPENSSL_cleanse(&c, sizeof(c));
    } else {
        uint64_t n = 0;
        rc = hash_file_sha512(u, kek, raw, &n, e);
        if (rc != CF_OK)
            return rc;
        if (n != len)
            return cf_err_set(e, CF_EINTEGRITY, "sealed upload has the wrong length");
    }
    oci_digest_from_raw(&got, want->alg, raw);
    if (strcmp(got.text, want->text) != 0)
        return cf_err_set(e, CF_EINVAL, "digest does not match the uploaded content");
    *size = len;
    return CF_OK;
}

void upload_release(upload *u, int ok)
{
    upload *evicted = NULL;
    unclaim(u); /* outside mu: it may wait for the database */
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
    char p[OBJECTS_PATH_MAX + 16];
    objects_upload_path(p, sizeof(p), reg_id, uuid, ".state");
    unlink(p);
    objects_upload_path(p, sizeof(p), reg_id, uuid, ".state.tmp");
    unlink(p);
    objects_upload_path(p, sizeof(p), reg_id, uuid, "");
    unlink(p);
    /* No fsync of the directory: the removal need not be durable. Should
     * a crash bring the files back, their upload row is gone (or goes with
     * the caller's next transaction) and the janitor sweeps them as
     * orphans; one fsync fewer per pushed blob. */
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
    char sp[OBJECTS_PATH_MAX + 16];
    objects_upload_path(sp, sizeof(sp), reg_id, uuid, ".state");
    upload *victim = NULL;
    pthread_mutex_lock(&mu);
    upload *u;
    for (u = sessions; u; u = u->next)
        if (strcmp(u->uuid, uuid) == 0)
            break;
    if (u && u->busy) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    /* idle since its last checkpoint or, without one, its creation */
    char fp[OBJECTS_PATH_MAX + 16];
    objects_upload_path(fp, sizeof(fp), reg_id, uuid, "");
    struct stat st;
    if ((stat(sp, &st) == 0 || stat(fp, &st) == 0) && st.st_mtime >= idle_before) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    if (u) {
        unlink_list(u);
        victim = u;
    }
    /* remove while holding the lock so no request reloads it meanwhile */
    remove_files(reg_id, uuid);
    pthread_mutex_unlock(&mu);
    session_free(victim);
    return 1;
}
