/*
 * seal.h -- sealed objects (DESIGN §3; byte layout in docs/format.md).
 *
 * A sealed object is one file: a header that carries a fresh per-object
 * DEK wrapped under the registry's KEK, then segments of plaintext sealed
 * with AES-256-GCM in the STREAM construction (nonce = prefix(7) ‖ index(4,
 * big endian) ‖ last-flag(1)), the header as AAD of every segment.
 * Reordering, truncation, extension and any flipped bit are integrity
 * errors (CF_EINTEGRITY); a reader never returns a byte of a segment that
 * did not authenticate.
 *
 * Writer: append any number of bytes; full segments are sealed and written
 * as they fill (so an upload's durable length is always a multiple of the
 * segment size), the partial tail stays in memory; finish seals the final
 * segment (possibly empty) with the last flag. The writer never fsyncs:
 * durability is the caller's (fsync, rename, fsync dir).
 *
 * Reader: random access; reads decrypt only the segments they touch, and
 * keep the last one decrypted so sequential reads decrypt each once.
 * Opening authenticates the header (DEK unwrap) and the final segment, so
 * the plaintext size it reports is authentic.
 *
 * Memory: a writer or reader holds one buffer of segment + 16 bytes (the
 * tail is encrypted in place; a segment is read and decrypted in place),
 * whatever the object size. Key material and plaintext buffers are wiped
 * with OPENSSL_cleanse on free.
 *
 * The header is at offset 0 of the file: open the writer on an empty file.
 * A writer or reader is used by one thread at a time; many readers may
 * share one file. Byte layout, checks and vectors: docs/format.md.
 */
#ifndef CF_CRYPTO_SEAL_H
#define CF_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/err.h"

#define SEAL_KEY_LEN 32
#define SEAL_OBJECT_ID_LEN 16
#define SEAL_DEFAULT_LOG2_SEGMENT 16 /* 64 KiB */
#define SEAL_REGISTRY_ID_MAX 64
#define SEAL_HEADER_LEN 96
#define SEAL_TAG_BYTES 16
/* The most vectors a reader passes to seal_io.readv at once. */
#define SEAL_IO_MAX_IOV 128

/* The registry's key-encryption key and the registry id it is bound to
 * (the AAD of every DEK wrap: registry_id ‖ object_id). */
typedef struct seal_kek {
    unsigned char key[SEAL_KEY_LEN];
    char registry_id[SEAL_REGISTRY_ID_MAX + 1];
} seal_kek;

typedef struct seal_writer seal_writer;
typedef struct seal_reader seal_reader;

/* The bytes under a sealed object (the I/O seam): a file descriptor
 * (seal_io_fd) or an object store's stream (objects.h: an object in a
 * bucket, read with ranged GETs, written in parts). A reader calls size and
 * readv, a writer calls write; the seal layer never knows which it has.
 *
 * readv fills every vector (their total, in order) from sealed offset off;
 * an object that ends first is CF_EINTEGRITY (truncated), a failing store
 * is its own code (CF_EIO, CF_EUNAVAIL). Reads are mostly sequential: a
 * reader asks for the header, the final segment, then the range it serves
 * in order. write appends; it either takes every byte or fails. */
typedef struct seal_io {
    void *cls;
    cf_code (*size)(void *cls, uint64_t *out, cf_err *e);
    cf_code (*readv)(void *cls, const struct iovec *iov, int iovcnt, uint64_t off, cf_err *e);
    cf_code (*write)(void *cls, const void *data, size_t len, cf_err *e);
} seal_io;

/* pread/preadv/write(2) on fd (the writer appends at its position). */
seal_io seal_io_fd(int fd);

/* Options for deterministic output (known-answer tests only): NULL means
 * random DEK, nonces and object id and the default segment size. */
typedef struct seal_fixed {
    const unsigned char *dek;          /* 32 bytes */
    const unsigned char *nonce_prefix; /* 7 bytes */
    const unsigned char *object_id;    /* 16 bytes */
    const unsigned char *wrap_nonce;   /* 12 bytes */
    unsigned log2_segment;             /* 0 = default; 10..24 */
} seal_fixed;

/* Writes the header to fd (at its current position: offset 0 of an empty
 * file) and returns a writer. Writes go through write(2). */
cf_code seal_writer_open(seal_writer **out, const seal_kek *kek, int fd, const seal_fixed *fixed,
                         cf_err *e);
/* The same over any seal_io (its write is the only call used). */
cf_code seal_writer_open_io(seal_writer **out, const seal_kek *kek, const seal_io *io,
                            const seal_fixed *fixed, cf_err *e);
/* Reopens an unfinished object (an upload after a restart): authenticates
 * the header and every complete segment, truncates anything after the
 * last complete segment, and positions the writer there. The plaintext
 * length kept is returned in *durable. A finished object is refused. */
cf_code seal_writer_resume(seal_writer **out, const seal_kek *kek, int fd, uint64_t *durable,
                           cf_err *e);
/* Continues an unfinished object whose bytes cannot be read back (parts
 * of a multipart upload): the caller kept its header (seal_writer_header,
 * SEAL_HEADER_LEN bytes) and knows how many complete segments it holds;
 * the next write seals segment next_index. The header must authenticate
 * under kek (CF_EINTEGRITY otherwise). Writes go to io. */
cf_code seal_writer_continue(seal_writer **out, const seal_kek *kek, const unsigned char *header,
                             uint64_t next_index, const seal_io *io, cf_err *e);
const unsigned char *seal_writer_header(const seal_writer *w);
/* Sends the writer's further output through io instead (the same bytes
 * by another path: a backend's wrapper of the fd it resumed on). */
void seal_writer_set_io(seal_writer *w, const seal_io *io);
/* The writer's plaintext segment size. */
size_t seal_writer_segment(const seal_writer *w);
cf_code seal_writer_write(seal_writer *w, const void *data, size_t len, cf_err *e);
/* Plaintext bytes written to the file in complete segments. */
uint64_t seal_writer_durable(const seal_writer *w);
/* Plaintext bytes accepted so far (durable + the tail in memory). */
uint64_t seal_writer_length(const seal_writer *w);
/* The plaintext accepted but not yet sealed (the tail in memory,
 * seal_writer_length − seal_writer_durable bytes), for a caller that must
 * checkpoint it; valid until the next write, finish or free. *len is 0
 * (and the pointer NULL) when the writer is not open. */
const unsigned char *seal_writer_tail(const seal_writer *w, size_t *len);
/* Seals the tail as the final segment. No fsync. After any failed write
 * or finish the writer is dead (CF_ECONFLICT): the file's tail is unknown;
 * resume from the file instead. */
cf_code seal_writer_finish(seal_writer *w, cf_err *e);
void seal_writer_free(seal_writer *w);
const unsigned char *seal_writer_object_id(const seal_writer *w);

cf_code seal_reader_open(seal_reader **out, const seal_kek *kek, int fd, cf_err *e);
/* The same over any seal_io (size and readv are used). */
cf_code seal_reader_open_io(seal_reader **out, const seal_kek *kek, const seal_io *io, cf_err *e);
uint64_t seal_reader_size(const seal_reader *r);
/* Reads up to len plaintext bytes at off into buf; *got is the count (0 at
 * or past the end). Any authentication failure is CF_EINTEGRITY and
 * nothing of that segment is copied: on failure *got counts the bytes of
 * earlier (authentic) segments of the range already copied. */
cf_code seal_reader_read(seal_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                         cf_err *e);
/* As seal_reader_read, but faster for long sequential reads: whole
 * segments are read with one preadv(2) straight into buf and decrypted
 * there in place (no copy through the reader's own buffer). The
 * difference: on an authentication failure, buf past the *got authentic
 * bytes may have been written (it is wiped to zeros), so the caller must
 * discard everything of buf past *got -- e.g. an HTTP body reader that
 * aborts the response. A file truncated while read is an integrity
 * error, as with seal_reader_read. */
cf_code seal_reader_read_into(seal_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                              cf_err *e);
void seal_reader_free(seal_reader *r);
const unsigned char *seal_reader_object_id(const seal_reader *r);

/* Size of the sealed file for a plaintext of n bytes (for tests, quotas). */
uint64_t seal_sealed_size(uint64_t n, unsigned log2_segment);

#endif
