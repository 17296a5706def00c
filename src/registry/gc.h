/*
 * gc.h -- online garbage collection of one registry, while it is pushed
 * to and pulled from, on SQLite or on several nodes sharing PostgreSQL
 * (docs/operations.md "Garbage collection" is the operator's side).
 *
 * What goes:
 *   1. when the registry's retention policy is enabled, untagged
 *      manifests older than its days (no tag, no index of the repository
 *      referencing them, no subject still there): their rows, references
 *      and, when nothing else uses the bytes, their sealed object;
 *   2. every repository link to a blob that no manifest of that
 *      repository references and that is older than the grace period,
 *      then the blob's row and its sealed object when no link, manifest
 *      or reference of the registry uses the digest any more.
 * An upload in progress has no link yet (its bytes are under uploads/,
 * the janitor's business), so it is never collected; the grace period
 * protects the window between a layer's upload and the manifest that
 * references it.
 *
 * The protocol (each step is what makes one race safe):
 *   - one collection per registry at a time: this process's mutex and,
 *     on a cluster, the registry's advisory lock (COORD_GC);
 *   - each digest is collected under its lock (content_lock: the stripe
 *     lock and the digest's advisory lock), the lock an upload completion
 *     holds from installing the object to committing the link, a mount
 *     holds from its second look at the blob to committing its link, and
 *     a manifest PUT holds (for the manifest's own digest) from writing
 *     its object to committing its rows. So a completion or a mount of
 *     a digest being collected waits, then installs or finds nothing and
 *     answers accordingly; never links to an object just removed;
 *   - the candidates are listed without a lock, then each one is looked
 *     at again in the transaction that removes it (meta_gc_collect,
 *     meta_untagged_delete), its blob row locked first (FOR UPDATE on
 *     PostgreSQL). A manifest PUT checks its references in its own
 *     transaction after taking each referenced blob row FOR SHARE
 *     (meta_manifest_put): whichever comes second sees what the first
 *     committed (store/meta_gc.c). On SQLite, write transactions are
 *     serial (BEGIN IMMEDIATE);
 *   - the object is removed after the row's removal committed, still
 *     under the digest's lock; a removal that fails leaves an object
 *     without a row, which the janitor's orphan sweep removes later;
 *   - a link's grace period starts when it is made (upload, mount) and
 *     again when a pusher HEADs the blob (meta_blob_touch, when older than
 *     gc_touch_fresh: a quarter of the default grace, at most a minute),
 *     so that a push that finds a layer already there and skips
 *     it is protected too. A push whose manifest comes later than the
 *     grace period after its layers (or a collection with --grace 0s
 *     during a push) may get MANIFEST_BLOB_UNKNOWN and push again; a
 *     manifest the registry acknowledged never loses a blob.
 *
 * A registry whose customer-managed key is unavailable is not collected:
 * its content can be neither read nor deleted while the key is away.
 */
#ifndef CF_REGISTRY_GC_H
#define CF_REGISTRY_GC_H

#include <stdint.h>

#include "base/err.h"

/* The default grace period (cofferd --gc-grace). */
#define GC_GRACE_DEFAULT_S (24 * 3600)

typedef struct gc_report {
    int dry_run;
    int64_t grace_s;
    int retention_enabled;
    int64_t retention_days;
    int64_t manifests;      /* untagged manifests deleted (would be) */
    int64_t manifest_bytes; /* their sizes */
    int64_t links;          /* repository links removed (would be) */
    int64_t blobs;          /* blob objects removed (would be) */
    int64_t bytes;          /* their sizes (plaintext bytes) */
} gc_report;

/* The grace period a collection uses when it is given none (cofferd's
 * setting). */
void gc_set_default_grace(int64_t seconds);
int64_t gc_default_grace(void);
/* A pusher's HEAD refreshes a link older than this many seconds: a
 * quarter of the default grace period, at most a minute (at least 1 s). */
int64_t gc_touch_fresh(void);

/* Collects registry reg_id (see above); grace_s < 0: the default. With
 * dry_run, removes nothing and reports what a collection would remove
 * now (the blobs that the retention's deletes would free come in only at
 * the run itself). Waits up to wait_ms for another collection of the
 * registry (0: does not wait; CF_ECONFLICT when one runs).
 * CF_ECONFLICT too when the registry's key is unavailable. */
cf_code gc_registry_collect(const char *reg_id, int64_t grace_s, int dry_run, unsigned wait_ms,
                            gc_report *out, cf_err *e);

/* Every registry, the default grace, no waiting (the janitor's pass).
 * Returns the objects removed. */
unsigned gc_collect_all(void);

#endif
