/*
 * seal.c -- sealed objects: one file = header + STREAM segments (see seal.h,
 * docs/format.md for the bytes).
 *
 * Header (SEAL_HEADER_LEN = 96 bytes, the AAD of every segment):
 *
 *    0  4  magic "CFR1"
 *    4  1  version (1)
 *    5  1  algorithm id (1 = AES-256-GCM)
 *    6  1  log2(segment size), 10..24
 *    7  7  nonce prefix
 *   14 16  object id
 *   30 12  DEK wrap nonce
 *   42 32  wrapped DEK (AES-256-GCM under the KEK, AAD = registry_id ‖ object_id)
 *   74 16  DEK wrap tag
 *   90  6  reserved, zero (checked; also authenticated as part of the AAD)
 *
 * Segment i (file offset 96 + i × (seg + 16)): ciphertext ‖ tag(16), GCM
 * nonce = prefix(7) ‖ i(4, big endian) ‖ last(1: 0x01 final, 0x00 else).
 * Every non-final segment carries exactly seg bytes; the final one carries
 * 0..seg−1, so a file size decodes to exactly one layout: the remainder of
 * (size − 96) modulo (seg + 16) is the final segment and must be ≥ 16.
 *
 * Invariants kept here:
 *  - a plaintext byte leaves a reader only after the tag of its segment
 *    verified; a failed segment is wiped from the internal buffer;
 *  - one EVP_CIPHER_CTX per writer/reader, keyed once; each segment only
 *    sets a new IV (no per-segment allocation);
 *  - one buffer of seg + 16 bytes per writer (tail accumulates in place and
 *    is encrypted in place) and per reader (ciphertext read, decrypted in
 *    place, kept as the cache of the last segment).
 */
#include "crypto/seal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/fs.h"

#define SEAL_TAG_LEN SEAL_TAG_BYTES
#define SEAL_VERSION 1
#define SEAL_ALG_AES256GCM 1
#define SEAL_PREFIX_LEN 7
#define SEAL_NONCE_LEN 12
#define SEAL_MIN_LOG2 10
#define SEAL_MAX_LOG2 24

#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_ALG 5
#define OFF_LOG2 6
#define OFF_PREFIX 7
#define OFF_OBJID 14
#define OFF_WNONCE 30
#define OFF_WCT 42
#define OFF_WTAG 74
#define OFF_RESERVED 90

/* Segment indices are 32 bits: at most 2^32 segments, the last one final. */
#define SEAL_MAX_SEGMENTS ((uint64_t)1 << 32)

enum { ST_OPEN, ST_FINISHED, ST_FAILED };

struct seal_writer {
    EVP_CIPHER_CTX *ctx;
    unsigned char hdr[SEAL_HEADER_LEN];
    seal_io io;
    int state;
    size_t seg;
    uint64_t next_index; /* index of the next segment to seal */
    size_t tail_len;
    unsigned char *buf; /* seg + 16: plaintext tail, encrypted in place */
};

struct seal_reader {
    EVP_CIPHER_CTX *ctx;
    unsigned char hdr[SEAL_HEADER_LEN];
    seal_io io;
    size_t seg;
    unsigned log2;
    uint64_t nseg; /* segments including the final one (≥ 1) */
    size_t final_len;
    uint64_t size;
    uint64_t cached; /* index whose plaintext is in buf, or UINT64_MAX */
    size_t cached_len;
    unsigned char *buf; /* seg + 16 */
};

static const EVP_CIPHER *gcm(void)
{
    return EVP_aes_256_gcm();
}

uint64_t seal_sealed_size(uint64_t n, unsigned log2_segment)
{
    if (log2_segment == 0)
        log2_segment = SEAL_DEFAULT_LOG2_SEGMENT;
    uint64_t seg = (uint64_t)1 << log2_segment;
    return SEAL_HEADER_LEN + (n / seg) * (seg + SEAL_TAG_LEN) + (n % seg) + SEAL_TAG_LEN;
}

static void segment_nonce(unsigned char nonce[SEAL_NONCE_LEN], const unsigned char *hdr,
                          uint64_t index, int last)
{
    memcpy(nonce, hdr + OFF_PREFIX, SEAL_PREFIX_LEN);
    nonce[7] = (unsigned char)(index >> 24);
    nonce[8] = (unsigned char)(index >> 16);
    nonce[9] = (unsigned char)(index >> 8);
    nonce[10] = (unsigned char)index;
    nonce[11] = last ? 1 : 0;
}

/* The DEK wrap AAD: registry_id ‖ object_id (object_id is fixed-length, so
 * the concatenation is unambiguous). */
static cf_code kek_check(const seal_kek *kek, size_t *id_len, cf_err *e)
{
    size_t n = strnlen(kek->registry_id, sizeof(kek->registry_id));
    if (n == 0 || n > SEAL_REGISTRY_ID_MAX)
        return cf_err_set(e, CF_EINVAL, "KEK has no valid registry id");
    *id_len = n;
    return CF_OK;
}

/* Wraps (enc = 1) or unwraps the DEK in the header fields under the KEK. */
static cf_code dek_wrap(const seal_kek *kek, unsigned char *hdr, unsigned char dek[SEAL_KEY_LEN],
                        int enc, cf_err *e)
{
    size_t id_len = 0;
    cf_code rc = kek_check(kek, &id_len, e);
    if (rc != CF_OK)
        return rc;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return cf_err_ssl(e, "cipher context");
    int outl = 0;
    const unsigned char *rid = (const unsigned char *)kek->registry_id;
    if (EVP_CipherInit_ex(ctx, gcm(), NULL, kek->key, hdr + OFF_WNONCE, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, rid, (int)id_len) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, hdr + OFF_OBJID, SEAL_OBJECT_ID_LEN) != 1) {
        rc = cf_err_ssl(e, "DEK wrap setup");
        goto out;
    }
    if (enc) {
        if (EVP_CipherUpdate(ctx, hdr + OFF_WCT, &outl, dek, SEAL_KEY_LEN) != 1 ||
            EVP_CipherFinal_ex(ctx, hdr + OFF_WCT + outl, &outl) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, hdr + OFF_WTAG) != 1)
            rc = cf_err_ssl(e, "DEK wrap");
    } else {
        if (EVP_CipherUpdate(ctx, dek, &outl, hdr + OFF_WCT, SEAL_KEY_LEN) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, hdr + OFF_WTAG) != 1) {
            rc = cf_err_ssl(e, "DEK unwrap");
        } else if (EVP_CipherFinal_ex(ctx, dek + outl, &outl) != 1) {
            OPENSSL_cleanse(dek, SEAL_KEY_LEN);
            rc = cf_err_set(e, CF_EINTEGRITY,
                            "sealed object header does not authenticate under this KEK");
        }
    }
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* A context keyed with the DEK, ready for per-segment IVs. */
/* The direction is set again by every segment_seal/segment_open. */
static cf_code segment_ctx(EVP_CIPHER_CTX **out, const unsigned char dek[SEAL_KEY_LEN], cf_err *e)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return cf_err_ssl(e, "cipher context");
    if (EVP_CipherInit_ex(ctx, gcm(), NULL, dek, NULL, 1) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return cf_err_ssl(e, "segment cipher init");
    }
    *out = ctx;
    return CF_OK;
}

/* Encrypts len bytes of pt into out (may be the same buffer), tag after. */
static cf_code segment_seal(EVP_CIPHER_CTX *ctx, const unsigned char *hdr, uint64_t index, int last,
                            const unsigned char *pt, size_t len, unsigned char *out, cf_err *e)
{
    unsigned char nonce[SEAL_NONCE_LEN];
    segment_nonce(nonce, hdr, index, last);
    int outl = 0, finl = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &outl, hdr, SEAL_HEADER_LEN) != 1 ||
        (len > 0 && EVP_EncryptUpdate(ctx, out, &outl, pt, (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, out + len, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, out + len) != 1)
        return cf_err_ssl(e, "segment seal");
    return CF_OK;
}

/* Decrypts len bytes of buf in place, the tag at buf + len. On failure the
 * buffer is wiped and CF_EINTEGRITY returned. */
static cf_code segment_open(EVP_CIPHER_CTX *ctx, const unsigned char *hdr, uint64_t index, int last,
                            unsigned char *buf, size_t len, cf_err *e)
{
    unsigned char nonce[SEAL_NONCE_LEN];
    segment_nonce(nonce, hdr, index, last);
    int outl = 0, finl = 0;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &outl, hdr, SEAL_HEADER_LEN) != 1 ||
        (len > 0 && EVP_DecryptUpdate(ctx, buf, &outl, buf, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, buf + len) != 1) {
        OPENSSL_cleanse(buf, len);
        return cf_err_ssl(e, "segment open");
    }
    if (EVP_DecryptFinal_ex(ctx, buf + len, &finl) != 1) {
        OPENSSL_cleanse(buf, len);
        return cf_err_set(e, CF_EINTEGRITY, "segment %llu%s does not authenticate",
                          (unsigned long long)index, last ? " (final)" : "");
    }
    return CF_OK;
}

/* Decrypts the len bytes at buf in place against tag. On failure buf is
 * wiped and CF_EINTEGRITY returned. */
static cf_code segment_open_inplace(EVP_CIPHER_CTX *ctx, const unsigned char *hdr, uint64_t index,
                                    int last, unsigned char *buf, size_t len,
                                    const unsigned char tag[SEAL_TAG_LEN], cf_err *e)
{
    unsigned char nonce[SEAL_NONCE_LEN];
    segment_nonce(nonce, hdr, index, last);
    int outl = 0, finl = 0;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &outl, hdr, SEAL_HEADER_LEN) != 1 ||
        (len > 0 && EVP_DecryptUpdate(ctx, buf, &outl, buf, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, (void *)tag) != 1) {
        OPENSSL_cleanse(buf, len);
        return cf_err_ssl(e, "segment open");
    }
    if (EVP_DecryptFinal_ex(ctx, buf + len, &finl) != 1) {
        OPENSSL_cleanse(buf, len);
        return cf_err_set(e, CF_EINTEGRITY, "segment %llu%s does not authenticate",
                          (unsigned long long)index, last ? " (final)" : "");
    }
    return CF_OK;
}

/* Checks the unauthenticated header fields we must trust before the DEK
 * unwrap and the segment tags authenticate them. */
static cf_code header_parse(const unsigned char *hdr, size_t *seg, cf_err *e)
{
    if (memcmp(hdr + OFF_MAGIC, "CFR1", 4) != 0)
        return cf_err_set(e, CF_EINTEGRITY, "not a sealed object (bad magic)");
    if (hdr[OFF_VERSION] != SEAL_VERSION)
        return cf_err_set(e, CF_EINTEGRITY, "unknown sealed format version %u",
                          (unsigned)hdr[OFF_VERSION]);
    if (hdr[OFF_ALG] != SEAL_ALG_AES256GCM)
        return cf_err_set(e, CF_EINTEGRITY, "unknown sealed algorithm %u", (unsigned)hdr[OFF_ALG]);
    unsigned l = hdr[OFF_LOG2];
    if (l < SEAL_MIN_LOG2 || l > SEAL_MAX_LOG2)
        return cf_err_set(e, CF_EINTEGRITY, "bad segment size 2^%u", l);
    for (size_t i = OFF_RESERVED; i < SEAL_HEADER_LEN; i++)
        if (hdr[i] != 0)
            return cf_err_set(e, CF_EINTEGRITY, "reserved header bytes are not zero");
    *seg = (size_t)1 << l;
    return CF_OK;
}

/* ---- the bytes underneath: a file descriptor, or a caller's seal_io ---- */

static cf_code fd_size(void *cls, uint64_t *out, cf_err *e)
{
    struct stat st;
    if (fstat((int)(intptr_t)cls, &st) != 0)
        return cf_err_os(e, errno, "stat sealed object");
    *out = (uint64_t)st.st_size;
    return CF_OK;
}

static cf_code fd_readv(void *cls, const struct iovec *iov, int n, uint64_t off, cf_err *e)
{
    int fd = (int)(intptr_t)cls;
    struct iovec v[SEAL_IO_MAX_IOV];
    if (n < 1 || n > SEAL_IO_MAX_IOV)
        return cf_err_set(e, CF_EINVAL, "bad read vector count");
    memcpy(v, iov, (size_t)n * sizeof(*v));
    struct iovec *p = v;
    while (n > 0) {
        ssize_t got = preadv(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return cf_err_os(e, errno, "read sealed object");
        if (got == 0)
            return cf_err_set(e, CF_EINTEGRITY, "sealed object is truncated");
        off += (uint64_t)got;
        /* a short read: skip what was filled, go on with the rest */
        while (n > 0 && (size_t)got >= p->iov_len) {
            got -= (ssize_t)p->iov_len;
            p++;
            n--;
        }
        if (n > 0) {
            p->iov_base = (char *)p->iov_base + got;
            p->iov_len -= (size_t)got;
        }
    }
    return CF_OK;
}

static cf_code fd_write(void *cls, const void *data, size_t len, cf_err *e)
{
    return cf_fs_write_full((int)(intptr_t)cls, data, len, e);
}

seal_io seal_io_fd(int fd)
{
    return (seal_io){
        .cls = (void *)(intptr_t)fd, .size = fd_size, .readv = fd_readv, .write = fd_write};
}

static cf_code io_read(const seal_io *io, void *buf, size_t len, uint64_t off, cf_err *e)
{
    struct iovec v = {buf, len};
    return io->readv(io->cls, &v, 1, off, e);
}

/* Unwraps the DEK of a parsed header and returns a keyed segment context. */
static cf_code header_key(unsigned char *hdr, const seal_kek *kek, EVP_CIPHER_CTX **ctx, cf_err *e)
{
    unsigned char dek[SEAL_KEY_LEN];
    cf_code rc = dek_wrap(kek, hdr, dek, 0, e);
    if (rc == CF_OK)
        rc = segment_ctx(ctx, dek, e);
    OPENSSL_cleanse(dek, sizeof(dek));
    return rc;
}

/* Reads and checks the header at offset 0 of the object, unwraps the DEK
 * and returns a keyed segment context. */
static cf_code header_load(const seal_io *io, const seal_kek *kek, unsigned char *hdr, size_t *seg,
                           uint64_t *file_size, EVP_CIPHER_CTX **ctx, cf_err *e)
{
    cf_code rc = io->size(io->cls, file_size, e);
    if (rc != CF_OK)
        return rc;
    if (*file_size < SEAL_HEADER_LEN)
        return cf_err_set(e, CF_EINTEGRITY, "sealed object is truncated (no header)");
    rc = io_read(io, hdr, SEAL_HEADER_LEN, 0, e);
    if (rc == CF_OK)
        rc = header_parse(hdr, seg, e);
    if (rc != CF_OK)
        return rc;
    return header_key(hdr, kek, ctx, e);
}

/* ---- writer ---- */

static cf_code writer_alloc(seal_writer **out, const seal_io *io, size_t seg, cf_err *e)
{
    seal_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    w->buf = malloc(seg + SEAL_TAG_LEN);
    if (w->buf == NULL) {
        free(w);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    w->io = *io;
    w->seg = seg;
    w->state = ST_OPEN;
    *out = w;
    return CF_OK;
}

/* A header field: the fixed value when given, else random. */
static int field(unsigned char *dst, const unsigned char *fixed, int n)
{
    if (fixed != NULL) {
        memcpy(dst, fixed, (size_t)n);
        return 1;
    }
    return RAND_bytes(dst, n) == 1;
}

cf_code seal_writer_open(seal_writer **out, const seal_kek *kek, int fd, const seal_fixed *fixed,
                         cf_err *e)
{
    seal_io io = seal_io_fd(fd);
    return seal_writer_open_io(out, kek, &io, fixed, e);
}

cf_code seal_writer_open_io(seal_writer **out, const seal_kek *kek, const seal_io *io,
                            const seal_fixed *fixed, cf_err *e)
{
    *out = NULL;
    unsigned l = (fixed && fixed->log2_segment) ? fixed->log2_segment : SEAL_DEFAULT_LOG2_SEGMENT;
    if (l < SEAL_MIN_LOG2 || l > SEAL_MAX_LOG2)
        return cf_err_set(e, CF_EINVAL, "segment size 2^%u out of range", l);
    size_t id_len = 0;
    cf_code rc = kek_check(kek, &id_len, e);
    if (rc != CF_OK)
        return rc;
    seal_writer *w = NULL;
    rc = writer_alloc(&w, io, (size_t)1 << l, e);
    if (rc != CF_OK)
        return rc;

    unsigned char dek[SEAL_KEY_LEN];
    unsigned char *h = w->hdr;
    memcpy(h + OFF_MAGIC, "CFR1", 4);
    h[OFF_VERSION] = SEAL_VERSION;
    h[OFF_ALG] = SEAL_ALG_AES256GCM;
    h[OFF_LOG2] = (unsigned char)l;
    const seal_fixed none = {0};
    const seal_fixed *f = fixed ? fixed : &none;
    int ok = field(dek, f->dek, SEAL_KEY_LEN) &&
             field(h + OFF_PREFIX, f->nonce_prefix, SEAL_PREFIX_LEN) &&
             field(h + OFF_OBJID, f->object_id, SEAL_OBJECT_ID_LEN) &&
             field(h + OFF_WNONCE, f->wrap_nonce, SEAL_NONCE_LEN);
    if (!ok) {
        rc = cf_err_ssl(e, "random bytes");
        goto out;
    }
    rc = dek_wrap(kek, h, dek, 1, e);
    if (rc == CF_OK)
        rc = segment_ctx(&w->ctx, dek, e);
    if (rc == CF_OK)
        rc = io->write(io->cls, h, SEAL_HEADER_LEN, e);
out:
    OPENSSL_cleanse(dek, sizeof(dek));
    if (rc != CF_OK) {
        seal_writer_free(w);
        return rc;
    }
    *out = w;
    return CF_OK;
}

/* Seals src (seg bytes, may be w->buf) as the next non-final segment. */
static cf_code writer_emit(seal_writer *w, const unsigned char *src, size_t len, int last,
                           cf_err *e)
{
    /* The final segment needs an index too: non-final ones stop one short. */
    if (w->next_index >= SEAL_MAX_SEGMENTS - (last ? 0 : 1)) {
        w->state = ST_FAILED;
        return cf_err_set(e, CF_ETOOBIG, "sealed object too large");
    }
    cf_code rc = segment_seal(w->ctx, w->hdr, w->next_index, last, src, len, w->buf, e);
    if (rc == CF_OK)
        rc = w->io.write(w->io.cls, w->buf, len + SEAL_TAG_LEN, e);
    if (rc != CF_OK) {
        w->state = ST_FAILED; /* the file's tail is unknown now */
        return rc;
    }
    w->next_index++;
    return CF_OK;
}

cf_code seal_writer_write(seal_writer *w, const void *data, size_t len, cf_err *e)
{
    if (w->state != ST_OPEN)
        return cf_err_set(e, CF_ECONFLICT, "sealed writer is %s",
                          w->state == ST_FINISHED ? "finished" : "failed");
    const unsigned char *p = data;
    while (len > 0) {
        if (w->tail_len == 0 && len >= w->seg) {
            /* Whole segment straight from the caller: no copy into the tail. */
            cf_code rc = writer_emit(w, p, w->seg, 0, e);
            if (rc != CF_OK)
                return rc;
            p += w->seg;
            len -= w->seg;
            continue;
        }
        size_t n = w->seg - w->tail_len;
        if (n > len)
            n = len;
        memcpy(w->buf + w->tail_len, p, n);
        w->tail_len += n;
        p += n;
        len -= n;
        if (w->tail_len == w->seg) {
            cf_code rc = writer_emit(w, w->buf, w->seg, 0, e);
            if (rc != CF_OK)
                return rc;
            w->tail_len = 0;
        }
    }
    return CF_OK;
}

uint64_t seal_writer_durable(const seal_writer *w)
{
    if (w->state == ST_FINISHED)
        return (w->next_index - 1) * (uint64_t)w->seg + w->tail_len;
    return w->next_index * (uint64_t)w->seg;
}

uint64_t seal_writer_length(const seal_writer *w)
{
    if (w->state == ST_FINISHED)
        return seal_writer_durable(w);
    return w->next_index * (uint64_t)w->seg + w->tail_len;
}

const unsigned char *seal_writer_tail(const seal_writer *w, size_t *len)
{
    if (w->state != ST_OPEN) {
        *len = 0;
        return NULL;
    }
    /* the tail always starts at buf[0]: a segment sealed from buf leaves
     * it empty, and one sealed straight from the caller needs it empty */
    *len = w->tail_len;
    return w->buf;
}

cf_code seal_writer_finish(seal_writer *w, cf_err *e)
{
    if (w->state != ST_OPEN)
        return cf_err_set(e, CF_ECONFLICT, "sealed writer is %s",
                          w->state == ST_FINISHED ? "finished" : "failed");
    cf_code rc = writer_emit(w, w->buf, w->tail_len, 1, e);
    if (rc != CF_OK)
        return rc;
    w->state = ST_FINISHED;
    return CF_OK;
}

void seal_writer_free(seal_writer *w)
{
    if (w == NULL)
        return;
    EVP_CIPHER_CTX_free(w->ctx);
    if (w->buf) {
        OPENSSL_cleanse(w->buf, w->seg + SEAL_TAG_LEN);
        free(w->buf);
    }
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}

const unsigned char *seal_writer_object_id(const seal_writer *w)
{
    return w->hdr + OFF_OBJID;
}

cf_code seal_writer_resume(seal_writer **out, const seal_kek *kek, int fd, uint64_t *durable,
                           cf_err *e)
{
    *out = NULL;
    unsigned char hdr[SEAL_HEADER_LEN];
    size_t seg = 0;
    uint64_t fsize = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    seal_io io = seal_io_fd(fd);
    cf_code rc = header_load(&io, kek, hdr, &seg, &fsize, &ctx, e);
    if (rc != CF_OK)
        return rc;
    seal_writer *w = NULL;
    rc = writer_alloc(&w, &io, seg, e);
    if (rc != CF_OK) {
        EVP_CIPHER_CTX_free(ctx);
        return rc;
    }
    w->ctx = ctx;
    memcpy(w->hdr, hdr, SEAL_HEADER_LEN);

    uint64_t body = fsize - SEAL_HEADER_LEN;
    uint64_t stride = seg + SEAL_TAG_LEN;
    uint64_t nfull = body / stride, rem = body % stride;
    if (nfull >= SEAL_MAX_SEGMENTS) {
        rc = cf_err_set(e, CF_EINTEGRITY, "sealed object too large");
        goto out;
    }
    /* A finished object ends with a final segment that authenticates with
     * the last flag (its length is rem − 16, 0..seg−1). */
    if (rem >= SEAL_TAG_LEN) {
        size_t tl = (size_t)rem - SEAL_TAG_LEN;
        off_t at = (off_t)(SEAL_HEADER_LEN + nfull * stride);
        rc = cf_fs_pread_full(fd, w->buf, (size_t)rem, at, e);
        if (rc != CF_OK)
            goto out;
        if (segment_open(ctx, hdr, nfull, 1, w->buf, tl, NULL) == CF_OK) {
            rc = cf_err_set(e, CF_ECONFLICT, "sealed object is already finished");
            goto out;
        }
    }
    for (uint64_t i = 0; i < nfull; i++) {
        rc = cf_fs_pread_full(fd, w->buf, (size_t)stride, (off_t)(SEAL_HEADER_LEN + i * stride), e);
        if (rc == CF_OK)
            rc = segment_open(ctx, hdr, i, 0, w->buf, seg, e);
        if (rc != CF_OK)
            goto out;
    }
    OPENSSL_cleanse(w->buf, seg + SEAL_TAG_LEN);
    uint64_t keep = SEAL_HEADER_LEN + nfull * stride;
    if (rem != 0 && ftruncate(fd, (off_t)keep) != 0) {
        rc = cf_err_os(e, errno, "truncate torn segment");
        goto out;
    }
    if (lseek(fd, (off_t)keep, SEEK_SET) < 0) {
        rc = cf_err_os(e, errno, "seek");
        goto out;
    }
    w->next_index = nfull;
    *durable = nfull * seg;
out:
    OPENSSL_cleanse(hdr, sizeof(hdr));
    if (rc != CF_OK) {
        seal_writer_free(w);
        return rc;
    }
    *out = w;
    return CF_OK;
}

cf_code seal_writer_continue(seal_writer **out, const seal_kek *kek, const unsigned char *header,
                             uint64_t next_index, const seal_io *io, cf_err *e)
{
    *out = NULL;
    unsigned char hdr[SEAL_HEADER_LEN];
    memcpy(hdr, header, SEAL_HEADER_LEN);
    size_t seg = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    cf_code rc = header_parse(hdr, &seg, e);
    if (rc == CF_OK && next_index >= SEAL_MAX_SEGMENTS)
        rc = cf_err_set(e, CF_EINTEGRITY, "sealed object too large");
    if (rc == CF_OK)
        rc = header_key(hdr, kek, &ctx, e); /* authenticates the header's DEK wrap */
    seal_writer *w = NULL;
    if (rc == CF_OK)
        rc = writer_alloc(&w, io, seg, e);
    if (rc != CF_OK) {
        EVP_CIPHER_CTX_free(ctx);
        return rc;
    }
    w->ctx = ctx;
    memcpy(w->hdr, hdr, SEAL_HEADER_LEN);
    w->next_index = next_index;
    *out = w;
    return CF_OK;
}

const unsigned char *seal_writer_header(const seal_writer *w)
{
    return w->hdr;
}

void seal_writer_set_io(seal_writer *w, const seal_io *io)
{
    w->io = *io;
}

size_t seal_writer_segment(const seal_writer *w)
{
    return w->seg;
}

/* ---- reader ---- */

/* Brings segment i into r->buf (authenticated), or fails with nothing kept. */
static cf_code reader_load(seal_reader *r, uint64_t i, cf_err *e)
{
    if (r->cached == i)
        return CF_OK;
    r->cached = UINT64_MAX;
    int last = (i == r->nseg - 1);
    size_t len = last ? r->final_len : r->seg;
    uint64_t off = SEAL_HEADER_LEN + i * (uint64_t)(r->seg + SEAL_TAG_LEN);
    cf_code rc = io_read(&r->io, r->buf, len + SEAL_TAG_LEN, off, e);
    if (rc == CF_OK)
        rc = segment_open(r->ctx, r->hdr, i, last, r->buf, len, e);
    if (rc != CF_OK)
        return rc;
    r->cached = i;
    r->cached_len = len;
    return CF_OK;
}

/* Most segments one direct read covers (1 MiB of 64 KiB segments). */
#define DIRECT_MAX_BYTES ((size_t)1 << 20)
#define DIRECT_MAX_SEGS 64

/* Decrypts the whole segments i, i+1, ... that fit in cap bytes of dst
 * straight into dst: one preadv(2) scatters each segment's ciphertext into
 * its place in dst and its tag into a small array, then each segment is
 * decrypted in place. No copy out of r->buf, no mapping (a file truncated
 * behind our back is a short read, i.e. an integrity error, never a
 * SIGBUS). *n is the plaintext written (0: nothing fits; the caller takes
 * the buffered path). On an authentication failure every byte of dst
 * past the authentic segments is wiped and *n counts the authentic ones. */
static cf_code reader_direct(seal_reader *r, uint64_t i, unsigned char *dst, size_t cap, size_t *n,
                             cf_err *e)
{
    *n = 0;
    uint64_t stride = r->seg + SEAL_TAG_LEN;
    uint64_t k = 0;
    size_t pt = 0;
    while (i + k < r->nseg && k < DIRECT_MAX_SEGS) {
        size_t sl = (i + k == r->nseg - 1) ? r->final_len : r->seg;
        if (pt + sl > cap || (k > 0 && pt + sl > DIRECT_MAX_BYTES) || (sl == 0 && k > 0))
            break;
        pt += sl;
        k++;
        if (sl == 0)
            break;
    }
    if (k == 0 || pt == 0)
        return CF_OK;
    unsigned char tags[DIRECT_MAX_SEGS][SEAL_TAG_LEN];
    struct iovec iov[2 * DIRECT_MAX_SEGS];
    size_t off = 0;
    for (uint64_t j = 0; j < k; j++) {
        size_t sl = (i + j == r->nseg - 1) ? r->final_len : r->seg;
        iov[2 * j] = (struct iovec){dst + off, sl};
        iov[2 * j + 1] = (struct iovec){tags[j], SEAL_TAG_LEN};
        off += sl;
    }
    cf_code rc = r->io.readv(r->io.cls, iov, (int)(2 * k), SEAL_HEADER_LEN + i * stride, e);
    if (rc != CF_OK) {
        OPENSSL_cleanse(dst, pt);
        return rc;
    }
    for (uint64_t j = 0; j < k; j++) {
        uint64_t idx = i + j;
        int last = (idx == r->nseg - 1);
        size_t sl = last ? r->final_len : r->seg;
        rc = segment_open_inplace(r->ctx, r->hdr, idx, last, dst + *n, sl, tags[j], e);
        if (rc != CF_OK) {
            OPENSSL_cleanse(dst + *n, pt - *n);
            break;
        }
        *n += sl;
    }
    return rc;
}

cf_code seal_reader_open(seal_reader **out, const seal_kek *kek, int fd, cf_err *e)
{
    seal_io io = seal_io_fd(fd);
    return seal_reader_open_io(out, kek, &io, e);
}

cf_code seal_reader_open_io(seal_reader **out, const seal_kek *kek, const seal_io *io, cf_err *e)
{
    *out = NULL;
    seal_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    r->io = *io;
    r->cached = UINT64_MAX;
    uint64_t fsize = 0;
    cf_code rc = header_load(io, kek, r->hdr, &r->seg, &fsize, &r->ctx, e);
    if (rc != CF_OK)
        goto out;
    r->log2 = r->hdr[OFF_LOG2];
    uint64_t stride = r->seg + SEAL_TAG_LEN;
    uint64_t body = fsize - SEAL_HEADER_LEN;
    uint64_t nfull = body / stride, rem = body % stride;
    if (rem < SEAL_TAG_LEN) {
        rc = cf_err_set(e, CF_EINTEGRITY, "sealed object is truncated (no final segment)");
        goto out;
    }
    if (nfull >= SEAL_MAX_SEGMENTS) {
        rc = cf_err_set(e, CF_EINTEGRITY, "sealed object too large");
        goto out;
    }
    r->nseg = nfull + 1;
    r->final_len = (size_t)rem - SEAL_TAG_LEN;
    r->size = nfull * r->seg + r->final_len;
    r->buf = malloc(stride);
    if (r->buf == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    rc = reader_load(r, nfull, e);
out:
    if (rc != CF_OK) {
        seal_reader_free(r);
        return rc;
    }
    *out = r;
    return CF_OK;
}

uint64_t seal_reader_size(const seal_reader *r)
{
    return r->size;
}

static cf_code reader_read(seal_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                           int direct, cf_err *e)
{
    *got = 0;
    if (off >= r->size || len == 0)
        return CF_OK;
    if (len > r->size - off)
        len = (size_t)(r->size - off);
    unsigned char *dst = buf;
    size_t done = 0;
    while (done < len) {
        uint64_t pos = off + done;
        uint64_t i = pos >> r->log2;
        size_t in = (size_t)(pos - i * r->seg);
        if (direct && in == 0 && r->cached != i) {
            /* whole segments straight from the page cache into dst */
            size_t n = 0;
            cf_code rc = reader_direct(r, i, dst + done, len - done, &n, e);
            done += n;
            *got = done;
            if (rc != CF_OK)
                return rc;
            if (n > 0)
                continue;
        }
        cf_code rc = reader_load(r, i, e);
        if (rc != CF_OK)
            return rc; /* *got counts the authentic bytes already copied */
        size_t n = r->cached_len - in;
        if (n > len - done)
            n = len - done;
        memcpy(dst + done, r->buf + in, n);
        done += n;
        *got = done;
    }
    return CF_OK;
}

cf_code seal_reader_read(seal_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                         cf_err *e)
{
    return reader_read(r, off, buf, len, got, 0, e);
}

cf_code seal_reader_read_into(seal_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                              cf_err *e)
{
    return reader_read(r, off, buf, len, got, 1, e);
}

void seal_reader_free(seal_reader *r)
{
    if (r == NULL)
        return;
    EVP_CIPHER_CTX_free(r->ctx);
    if (r->buf) {
        OPENSSL_cleanse(r->buf, r->seg + SEAL_TAG_LEN);
        free(r->buf);
    }
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}

const unsigned char *seal_reader_object_id(const seal_reader *r)
{
    return r->hdr + OFF_OBJID;
}
