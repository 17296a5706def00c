/*
 * janitor.h -- a background thread that removes abandoned uploads: an
 * upload whose last checkpoint is older than the idle timeout (default one
 * hour) and that no request is using loses its files and its row.
 *
 * On several nodes (docs/scale-out.md) every node runs the thread, but a
 * pass runs on one node at a time: it takes the janitor's advisory lock
 * without waiting, and a node that does not get it skips its round. An
 * upload a request of any node holds is not expired (its claim).
 */
#ifndef CF_REGISTRY_JANITOR_H
#define CF_REGISTRY_JANITOR_H

#include "base/err.h"

cf_code janitor_start(unsigned upload_ttl_s, cf_err *e);
/* One pass now (tests, and the thread's loop); returns uploads removed. */
unsigned janitor_run_once(unsigned upload_ttl_s);
void janitor_stop(void);

#endif
