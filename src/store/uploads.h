/*
 * uploads.h -- blob uploads in progress, sealed as they arrive (DESIGN §3).
 *
 * An upload is the sealed stream uploads/<uuid> in the object store
 * (objects.h: a file, or parts of a multipart upload in a bucket;
 * complete segments only) plus a checkpoint uploads/<uuid>.state: a small
 * sealed object holding the durable length D of the stream (a segment
 * boundary), the SHA-256 state over those D bytes, the object's header and
 * what the backend needs to resume (S3: its parts), and the accepted bytes
 * past D (the partial segment, < 64 KiB). A request that ends well calls
 * upload_checkpoint: make the stream durable (fsync; S3: the bytes past
 * the last part written as an object), then atomically replace the
 * checkpoint. So every acknowledged byte survives kill -9, and the stored
 * state is always "the stream up to D, plus the tail": loading an upload
 * drops whatever a crashed or failed request appended past D (bytes no
 * client was told about) and resumes there. That is also how a bad
 * request "changes nothing": release it with ok = 0 and the next use
 * reloads the last checkpoint.
 *
 * Between requests an upload stays in memory (writer, hash, open fd) so a
 * chunked push does not re-read its file for each chunk; idle sessions
 * beyond a small number are evicted (they reload from the checkpoint).
 * One request uses an upload at a time: upload_acquire answers
 * CF_ECONFLICT while another holds it.
 *
 * Several nodes (docs/scale-out.md "Uploads across nodes"): the
 * checkpoint in the shared object store is the upload's state, so any
 * node continues an upload another one started (the partial segment
 * travels in it, sealed). With a coordinator (uploads_set_coord), a
 * request first claims the upload cluster-wide: one request at a time in
 * the whole cluster (CF_ECONFLICT otherwise), and a generation bumped by
 * every claim. A node's in-memory copy is used only when its generation
 * is the one just before the claim's (no other node took the upload
 * since); otherwise the upload is reloaded from its checkpoint. Before a
 * checkpoint is written the claim is verified again (a node that lost its
 * database session meanwhile may have lost the claim: it fails the
 * request instead of overwriting another node's checkpoint).
 *
 * The running hash is SHA-256 (what every client uses); a sha512 digest
 * is verified by reading the finished sealed file once.
 */
#ifndef CF_STORE_UPLOADS_H
#define CF_STORE_UPLOADS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "crypto/seal.h"
#include "crypto/digest.h"

#define UPLOAD_UUID_LEN 36

typedef struct upload upload;

/* Idle sessions kept in memory. */
void uploads_configure(unsigned max_idle);

/* The cluster-wide claim of an upload (store/coord.h and the uploads
 * table give it in cofferd). claim: CF_OK with *gen and *hold (the
 * coordinator's, given back to check and unclaim), CF_ECONFLICT while
 * another node's request holds it, CF_ENOTFOUND when the upload has no
 * row. check: CF_OK while the claim is still this request's. Called on
 * the request's thread. */
typedef struct upload_coord {
    cf_code (*claim)(const char *uuid, int64_t *gen, void **hold, cf_err *e);
    /* the claim's exclusion without a new generation (the janitor looks
     * at an upload; it bumps nothing unless it removes it) */
    cf_code (*lock)(const char *uuid, void **hold, cf_err *e);
    cf_code (*check)(const char *uuid, int64_t gen, void *hold, cf_err *e);
    void (*unclaim)(void *hold);
} upload_coord;
/* NULL: one node (the in-process flag is the claim). Before serving. */
void uploads_set_coord(const upload_coord *c);
/* Frees every in-memory session (files stay). */
void uploads_shutdown(void);

int upload_uuid_valid(const char *s, size_t len);

/* Creates the file and, when durable, fsyncs it and writes its first
 * checkpoint (an upload a client will come back to); a monolithic push
 * completed in the same request passes 0 and skips both. The upload comes
 * back acquired. */
cf_code upload_create(upload **out, char uuid[UPLOAD_UUID_LEN + 1], const char *reg_id,
                      const seal_kek *kek, int durable, cf_err *e);
/* CF_ENOTFOUND: no such upload in the store (files: no file; any store:
 * its stream was installed); CF_ECONFLICT: in use. An upload without a
 * checkpoint (created with durable = 0, or a crash before its first
 * checkpoint) comes back empty: its acknowledged length is 0. */
cf_code upload_acquire(upload **out, const char *uuid, const char *reg_id, const seal_kek *kek,
                       cf_err *e);
const char *upload_uuid(const upload *u);
uint64_t upload_length(const upload *u);
cf_code upload_write(upload *u, const void *data, size_t len, cf_err *e);
cf_code upload_checkpoint(upload *u, const seal_kek *kek, cf_err *e);
/* A checkpoint of the durable part only (the segment boundary), taken
 * during a long streamed PATCH so a crash mid-stream keeps what is
 * durable; if the request then fails, it rolls back to here. Only where
 * a sync is cheap (files); elsewhere a no-op (the request's bytes are not
 * acknowledged before its end anyway). */
cf_code upload_checkpoint_durable(upload *u, const seal_kek *kek, cf_err *e);
/* Seals the final segment, makes the object complete, and checks the
 * content against want. CF_EINVAL on a mismatch (the upload then rolls
 * back on release). On CF_OK *size is the content's length. */
cf_code upload_finish(upload *u, const oci_digest *want, const seal_kek *kek, uint64_t *size,
                      cf_err *e);
/* Installs the finished upload as the digest's blob, or leaves it when
 * the blob exists (dedup); then upload_discard. Caller holds the
 * digest's lock (objects.h). */
cf_code upload_install(upload *u, const char *reg_id, const oci_digest *d, cf_err *e);
/* ok = 1: keep the in-memory state; ok = 0: drop it (next use reloads the
 * last checkpoint). */
void upload_release(upload *u, int ok);
/* Removes the upload's files and forgets it (after completion, cancel).
 * The upload must be acquired by the caller; it is freed. */
void upload_discard(upload *u);
/* Uploads a request of this node is writing now (metrics). */
unsigned uploads_in_progress(void);
/* 1 while a request is using upload uuid. */
int upload_active(const char *uuid);
/* Janitor: removes what upload uuid stored when it is not in use and
 * its checkpoint is older than idle_before (an S3 upload's parts are
 * aborted). Returns 1 when removed. */
int upload_expire(const char *uuid, const char *reg_id, time_t idle_before);

#endif
