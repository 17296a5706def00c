/*
 * janitor.h -- a background thread that removes abandoned uploads: an
 * upload whose last checkpoint is older than the idle timeout (default one
 * hour) and that no request is using loses its objects (an S3 upload's
 * multipart parts are aborted) and its row. It also removes what a crash
 * left without a row: upload objects, and blob objects whose completion
 * never reached the metadata (a crash between install and commit).
 *
 * On several nodes (docs/scale-out.md) every node runs the thread, but a
 * pass runs on one node at a time: it takes the janitor's advisory lock
 * without waiting, and a node that does not get it skips its round. An
 * upload a request of any node holds is not expired (its claim), and an
 * orphan blob object is removed under the digest's cluster-wide lock.
 *
 * Every fourth pass (about once per idle timeout) also collects every
 * registry (gc.h) with cofferd's default grace period.
 */
#ifndef CF_REGISTRY_JANITOR_H
#define CF_REGISTRY_JANITOR_H

#include "base/err.h"

cf_code janitor_start(unsigned upload_ttl_s, cf_err *e);
/* One pass now (tests, and the thread's loop); blobs = 1 also sweeps blob
 * objects without a row and collects every registry (gc.h). Returns the
 * objects, manifests and uploads removed. */
unsigned janitor_run_once(unsigned upload_ttl_s, int blobs);
void janitor_stop(void);

#endif
