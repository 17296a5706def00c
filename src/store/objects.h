/*
 * objects.h -- where sealed objects live (DESIGN §3, §4): the object store
 * seam, and the one place the rest of cofferd asks for object bytes.
 *
 * A store holds objects by key, a relative path:
 *
 *   registries/<registry_id>/blobs/<alg>/<aa>/<hex>    one per digest
 *   registries/<registry_id>/uploads/<uuid>            an upload's sealed stream
 *   registries/<registry_id>/uploads/<uuid>.state      its checkpoint
 *   registries/<registry_id>/uploads/<uuid>.p<n>       (S3) its sealed bytes past part n
 *
 * and comes in two backends, chosen at start (libgit2's git_odb_backend
 * shape: a struct of function pointers, objects_int.h, one file each):
 * local files under the data directory (objects_file.c, the default) and
 * an S3 bucket (objects_s3.c). The core here never knows which: it names
 * keys, takes the digest locks, does dedup, and seals what it stores.
 * Only sealed bytes ever reach a backend.
 *
 * Reads stream: a reader authenticates the header and the final segment
 * at open, then the range asked for, in order (seal.h; on S3, ranged GETs
 * at segment boundaries). Writes stream: an upload is an appendable
 * stream whose durable part survives a restart (files: fsync; S3: parts
 * of a multipart upload plus the bytes past the last part), finished, then
 * installed at its digest's key. A blob appears at its key only complete
 * (rename; S3's completion and copy are atomic), before the metadata that
 * points at it; a crash leaves at most an object no row points at, which
 * the janitor removes.
 *
 * Because a blob is shared by every repository of its registry (dedup),
 * installing and removing a digest's object, with the metadata
 * transaction that goes with it, run under that digest's stripe lock.
 */
#ifndef CF_STORE_OBJECTS_H
#define CF_STORE_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/seal.h"
#include "crypto/digest.h"
#include "store/s3.h"

#define OBJECTS_KEY_MAX 512
/* What a backend keeps of a stream to resume it (objects_stream_sync). */
#define OBJECTS_STATE_MAX 512

typedef struct objects_store objects_store;

/* ---- stores ---- */

/* The files backend rooted at dir (keys are paths under it). */
cf_code objects_store_files(objects_store **out, const char *dir, cf_err *e);
/* The S3 backend; the bucket is created when it does not exist. */
cf_code objects_store_s3(objects_store **out, const s3_config *c, cf_err *e);
void objects_store_free(objects_store *s);
/* "files" | "s3" */
const char *objects_store_kind(const objects_store *s);
/* Where: the directory, or s3://bucket/prefix. */
const char *objects_store_where(const objects_store *s);

/* The store the daemon serves from. objects_init: files under data_dir
 * (the embedded default); objects_init_store takes ownership of s. */
cf_code objects_init(const char *data_dir, cf_err *e);
void objects_init_store(objects_store *s);
void objects_shutdown(void);
objects_store *objects_current(void);
/* Readiness: the current store answers and takes writes (files: its
 * directory is writable; S3: the bucket answers a HEAD). Its failures are
 * counted in coffer_object_store_errors_total like every other. */
cf_code objects_check(cf_err *e);

/* ---- keys ---- */

void objects_blob_key(char *out, size_t cap, const char *reg_id, const oci_digest *d);
/* suffix: "" for the upload's stream, ".state" for its checkpoint */
void objects_upload_key(char *out, size_t cap, const char *reg_id, const char *uuid,
                        const char *suffix);
/* "registries/<reg_id>/" */
void objects_registry_key(char *out, size_t cap, const char *reg_id);
/* The digest of a blob key ("registries/<reg>/blobs/sha256/aa/<hex>");
 * -1 when key is not one. */
int objects_key_digest(oci_digest *out, const char *key);

/* ---- registries ---- */

cf_code objects_registry_prepare(const char *reg_id, cf_err *e);
/* Removes every object of the registry (its deletion). */
cf_code objects_registry_remove(const char *reg_id, cf_err *e);

/* ---- blobs (the digest's lock held around install and remove) ---- */

void objects_lock(const oci_digest *d);
void objects_unlock(const oci_digest *d);

typedef struct objects_reader objects_reader;
/* Opens the digest's blob for reading (header and final segment
 * authenticated: seal_reader_size is authentic). */
cf_code objects_open(objects_reader **out, const char *reg_id, const oci_digest *d,
                     const seal_kek *kek, cf_err *e);
seal_reader *objects_reader_seal(objects_reader *r);
/* Readers of the same object besides r's own, one per helper core (i in
 * [0, OBJECTS_READER_EXTRA)), or NULL (the backend's reads are a stream:
 * one reader per object). Opened on first use, freed with r. */
#define OBJECTS_READER_EXTRA 2
seal_reader *objects_reader_extra(objects_reader *r, const seal_kek *kek, int i);
void objects_reader_free(objects_reader *r);
/* Seals data (a manifest) as the digest's blob unless present. */
cf_code objects_put_small(const char *reg_id, const oci_digest *d, const seal_kek *kek,
                          const void *data, size_t len, cf_err *e);
cf_code objects_remove(const char *reg_id, const oci_digest *d, cf_err *e);
/* CF_OK when the digest's blob object exists, CF_ENOTFOUND when not. */
cf_code objects_blob_exists(const char *reg_id, const oci_digest *d, cf_err *e);

/* ---- small sealed objects (checkpoints) ---- */

/* Seals data into key, atomically and durably replacing what was there. */
cf_code objects_put_sealed(const char *key, const seal_kek *kek, const void *data, size_t len,
                           cf_err *e);
/* The plaintext of key (at most cap bytes) appended to out (a secret
 * buffer: wiped on free). CF_ENOTFOUND when absent. */
cf_code objects_get_sealed(const char *key, const seal_kek *kek, size_t cap, cf_buf *out,
                           cf_err *e);
/* size and mtime (unix seconds) of key; CF_ENOTFOUND when absent. */
cf_code objects_stat(const char *key, uint64_t *size, int64_t *mtime, cf_err *e);
cf_code objects_remove_key(const char *key, cf_err *e);
/* Every key under prefix, with its size and mtime; unfinished streams
 * (an S3 multipart upload) are listed too, with unfinished = 1. fn
 * returns non-zero to stop. */
typedef int (*objects_list_fn)(void *cls, const char *key, uint64_t size, int64_t mtime,
                               int unfinished);
cf_code objects_list(const char *prefix, objects_list_fn fn, void *cls, cf_err *e);

/* ---- streams: an upload's sealed bytes as they arrive ---- */

typedef struct objects_state {
    unsigned char b[OBJECTS_STATE_MAX];
    size_t len;
} objects_state;

typedef struct objects_stream objects_stream;
/* A new empty stream at key; the writer is opened on it (header written).
 * reuse = 1: the stream exists and starts over (files: the file must be
 * there, CF_ENOTFOUND otherwise). */
cf_code objects_stream_create(objects_stream **out, seal_writer **w, const char *key,
                              const seal_kek *kek, int reuse, cf_err *e);
/* Makes every byte written so far durable; st receives what the backend
 * needs to resume the stream there (kept in the upload's checkpoint). */
cf_code objects_stream_sync(objects_stream *s, objects_state *st, cf_err *e);
/* 1 when objects_stream_sync is cheap enough to run in the middle of a
 * streamed request (files); 0 where it rewrites up to a part (S3). */
int objects_stream_sync_cheap(void);
/* After the checkpoint holding st is durable (older ones' leftovers go). */
void objects_stream_synced(objects_stream *s);
/* Reopens the stream at key at plaintext length `durable` (a segment
 * boundary) as left by a sync that returned st; hdr is the object's
 * header (seal_writer_header) and w continues writing after it.
 * CF_ENOTFOUND when the stream is gone (it was installed). */
cf_code objects_stream_resume(objects_stream **out, seal_writer **w, const char *key,
                              const seal_kek *kek, const unsigned char *hdr, uint64_t durable,
                              const objects_state *st, cf_err *e);
/* After seal_writer_finish: the object is complete and readable. */
cf_code objects_stream_finish(objects_stream *s, cf_err *e);
/* Reads the finished stream (a sha512 check). */
cf_code objects_stream_open(objects_stream *s, objects_reader **out, const seal_kek *kek,
                            cf_err *e);
/* Installs the finished stream as the digest's blob, or drops it when the
 * blob exists (dedup). Caller holds the digest's lock. */
cf_code objects_stream_install(objects_stream *s, const char *reg_id, const oci_digest *d,
                               cf_err *e);
/* Installs the finished stream at exactly key `dst` (migration). */
cf_code objects_stream_install_key(objects_stream *s, const char *dst, cf_err *e);
/* Frees the in-memory stream (what is in the store stays). */
void objects_stream_free(objects_stream *s);
/* Removes every trace of the stream at key (and its checkpoint). */
cf_code objects_stream_discard(const char *key, cf_err *e);

/* ---- raw bytes, for the migration (sealed bytes moved as they are) ---- */

/* A raw reader of key on store s: its size and its bytes. */
typedef struct objects_raw objects_raw;
cf_code objects_raw_open(objects_raw **out, objects_store *s, const char *key, cf_err *e);
uint64_t objects_raw_size(const objects_raw *r);
cf_code objects_raw_read(objects_raw *r, uint64_t off, void *buf, size_t len, cf_err *e);
void objects_raw_free(objects_raw *r);
/* Writes len raw bytes from read() at key on s (a new object: streamed,
 * in parts when large). */
cf_code objects_raw_put(objects_store *s, const char *key, objects_raw *src, cf_err *e);
cf_code objects_store_list(objects_store *s, const char *prefix, objects_list_fn fn, void *cls,
                           cf_err *e);
cf_code objects_store_stat(objects_store *s, const char *key, uint64_t *size, int64_t *mtime,
                           cf_err *e);
cf_code objects_store_remove(objects_store *s, const char *key, cf_err *e);

#endif
