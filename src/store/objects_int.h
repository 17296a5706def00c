/*
 * objects_int.h -- what an object store backend fills (objects.h): the
 * shape of libgit2's git_odb_backend, a struct of function pointers over
 * the backend's own state (`self`), one file per backend
 * (objects_file.c, objects_s3.c). Not a public header.
 *
 * Handles (a reader, a stream) are the backend's own types behind void
 * pointers; each comes with a seal_io the seal layer reads or writes
 * through, its cls the handle. Keys are relative paths (objects.h).
 *
 * Contracts every backend keeps:
 *   - put replaces key atomically and durably (old or new after a crash);
 *   - a stream's bytes are durable after stream_sync, and stream_resume
 *     continues right after what that sync made durable, whatever was
 *     written after it;
 *   - stream_install makes the finished object appear at dst whole, at
 *     once, and the stream disappear (a later resume is CF_ENOTFOUND);
 *   - stream_discard removes everything the stream left, finished or
 *     not, including what a crash left behind;
 *   - absent keys are CF_ENOTFOUND; removing one is a success.
 */
#ifndef CF_STORE_OBJECTS_INT_H
#define CF_STORE_OBJECTS_INT_H

#include "store/objects.h"

typedef struct objects_ops {
    const char *kind; /* "files" | "s3" */
    const char *(*where)(void *self);
    /* Readiness: the store answers and takes writes (cheap, every second). */
    cf_code (*check)(void *self, cf_err *e);
    void (*free)(void *self);
    /* A registry's objects may be created under prefix now (mkdir). */
    cf_code (*prepare)(void *self, const char *prefix, cf_err *e);
    cf_code (*remove_prefix)(void *self, const char *prefix, cf_err *e);

    cf_code (*open)(void *self, const char *key, void **h, seal_io *io, cf_err *e);
    void (*close)(void *h);
    /* 1 when two readers may share one open io at once (pread on a file) */
    int io_shareable;
    /* Small objects worth keeping in memory (objects.c's cache of sealed
     * bytes): the whole object when the open brought it all, else 0.
     * NULL: never (files: the page cache does it). */
    int (*whole)(void *h, const unsigned char **p, size_t *n);
    cf_code (*put)(void *self, const char *key, const void *data, size_t len, cf_err *e);
    cf_code (*stat)(void *self, const char *key, uint64_t *size, int64_t *mtime, cf_err *e);
    cf_code (*remove)(void *self, const char *key, cf_err *e);
    cf_code (*list)(void *self, const char *prefix, objects_list_fn fn, void *cls, cf_err *e);

    int sync_cheap;
    cf_code (*stream_create)(void *self, const char *key, int reuse, void **s, seal_io *io,
                             cf_err *e);
    cf_code (*stream_sync)(void *s, objects_state *st, cf_err *e);
    /* After the checkpoint that holds st is durable: what older
     * checkpoints needed may go (S3: the previous pending bytes). */
    void (*stream_synced)(void *s);
    /* Reopens the stream at plaintext length `durable` and continues the
     * sealed writer there: hdr (NULL when the checkpoint predates it) is
     * the object's header as the checkpoint keeps it. */
    cf_code (*stream_resume)(void *self, const char *key, const seal_kek *kek,
                             const unsigned char *hdr, uint64_t durable, const objects_state *st,
                             void **s, seal_io *io, seal_writer **w, cf_err *e);
    cf_code (*stream_finish)(void *s, cf_err *e);
    cf_code (*stream_open)(void *s, void **h, seal_io *io, cf_err *e);
    cf_code (*stream_install)(void *s, const char *dst, cf_err *e);
    void (*stream_free)(void *s);
    cf_code (*stream_discard)(void *self, const char *key, cf_err *e);
} objects_ops;

struct objects_store {
    const objects_ops *ops;
    void *self;
};

extern const objects_ops objects_file_ops;
extern const objects_ops objects_s3_ops;

cf_code objects_file_new(void **self, const char *dir, cf_err *e);
cf_code objects_s3_new(void **self, const s3_config *c, cf_err *e);

#endif
