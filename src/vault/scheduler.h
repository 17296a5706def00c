/*
 * scheduler.h -- the background thread of keyvaultd. Every
 * scheduler_interval_s it
 *   - runs the rotation policies: a Rotate action whose trigger has
 *     passed adds a new key version (as POST /keys/{name}/rotate would);
 *     a Notify action writes one "KeyNearExpiry" audit line per version;
 *   - purges soft-deleted keys, and soft-deleted vaults with every key in
 *     them, whose scheduledPurgeDate has passed.
 * Each action is audited with objectId "scheduler". Stopping wakes the
 * thread at once and joins it.
 */
#ifndef CF_VAULT_SCHEDULER_H
#define CF_VAULT_SCHEDULER_H

#include <stdint.h>

#include "base/err.h"
#include "vault/api.h"

typedef struct vault_scheduler vault_scheduler;

cf_code vault_scheduler_start(vault_scheduler **out, vault_app *app, cf_err *e);
void vault_scheduler_stop(vault_scheduler *s);
/* One pass now (tests, and the thread's body). */
void vault_scheduler_run_once(vault_app *app, int64_t now);

#endif
