/*
 * quota.h -- a registry's storage figure and its optional limit
 * (`coffer acr show-usage`, `acr update --storage-limit`).
 *
 * What is counted: the sealed bytes of the registry's unique stored
 * objects, every blob and manifest digest once however many repositories
 * link it (blobs are deduplicated within a registry, DESIGN §4), as they
 * lie on disk: each object's header and per-segment tags included
 * (seal_sealed_size). Uploads in progress are not counted until they
 * complete; nor are files no row owns (a crash's leftovers, which the
 * janitor removes).
 *
 * The limit is checked before every write that adds bytes (a new upload,
 * a chunk, a completed blob, a new manifest); a write that would take the
 * registry past it is refused with DENIED and changes nothing. Writes
 * running at the same moment are checked against the same figure, so
 * concurrent pushes may pass the limit by what they were completing.
 */
#ifndef CF_REGISTRY_QUOTA_H
#define CF_REGISTRY_QUOTA_H

#include <stdint.h>

#include "base/err.h"
#include "store/meta.h"

typedef struct quota_usage {
    int64_t objects; /* unique blobs and manifests */
    int64_t bytes;   /* their plaintext size */
    int64_t sealed;  /* what they take on disk, sealed */
} quota_usage;

/* The sealed total of what the store counted (meta_usage): exactly the sum
 * of seal_sealed_size over the registry's objects. Pure. */
int64_t quota_sealed_total(const meta_usage *u);

/* The registry's figures now. */
cf_code quota_usage_get(quota_usage *out, const char *registry_id, cf_err *e);

/* The sealed bytes reg may still take: *room (may be NULL) = its limit
 * minus its usage now, INT64_MAX without a limit. CF_EDENIED (with
 * quota_deny's message) when `adding` sealed bytes would not fit, or,
 * adding 0, when the registry is already at or past its limit. */
cf_code quota_room(int64_t *room, const meta_registry *reg, int64_t adding, cf_err *e);

/* CF_EDENIED with the message a client sees: reg stores `used` sealed
 * bytes of its limit, and a write would add `adding` (0: not said). */
cf_code quota_deny(const meta_registry *reg, int64_t used, int64_t adding, cf_err *e);

/* The sealed size of an object of n plaintext bytes. */
int64_t quota_sealed_size(int64_t n);

#endif
