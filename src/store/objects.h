/*
 * objects.h -- sealed objects on the filesystem (DESIGN §3, §4).
 *
 *   <data>/registries/<registry_id>/blobs/<alg>/<aa>/<hex>   one per digest
 *   <data>/registries/<registry_id>/uploads/<uuid>           upload in progress
 *   <data>/registries/<registry_id>/uploads/<uuid>.state     its checkpoint
 *
 * A blob file appears only by rename of a finished, fsynced sealed file
 * (then the directory is fsynced): it is complete or absent. Because a
 * blob is shared by every repository of its registry (dedup), installing
 * and removing a digest's file, together with the metadata transaction
 * that goes with it, run under that digest's stripe lock.
 */
#ifndef CF_STORE_OBJECTS_H
#define CF_STORE_OBJECTS_H

#include <stddef.h>

#include "base/err.h"
#include "crypto/seal.h"
#include "crypto/digest.h"

#define OBJECTS_PATH_MAX 1024

cf_code objects_init(const char *data_dir, cf_err *e);
void objects_shutdown(void);
const char *objects_data_dir(void);

/* The store is there and writable (readiness): files, the registries/
 * directory under the objects directory. */
cf_code objects_check(cf_err *e);

cf_code objects_registry_dirs(const char *reg_id, cf_err *e);
void objects_blob_path(char *out, size_t cap, const char *reg_id, const oci_digest *d);
/* suffix: "" for the upload itself, ".state", ".tmp" ... */
void objects_upload_path(char *out, size_t cap, const char *reg_id, const char *uuid,
                         const char *suffix);

void objects_lock(const oci_digest *d);
void objects_unlock(const oci_digest *d);

/* Moves the finished sealed file at path into place as the digest's blob,
 * or removes it when the blob file already exists (dedup). Caller holds
 * the digest's lock. */
cf_code objects_install(const char *path, const char *reg_id, const oci_digest *d, cf_err *e);
/* Seals data (a manifest) as the digest's blob unless present. Caller
 * holds the digest's lock. */
cf_code objects_put_small(const char *reg_id, const oci_digest *d, const seal_kek *kek,
                          const void *data, size_t len, cf_err *e);
/* Opens the digest's blob for reading; *fd is the caller's to close after
 * seal_reader_free. */
cf_code objects_open(seal_reader **out, int *fd, const char *reg_id, const oci_digest *d,
                     const seal_kek *kek, cf_err *e);
/* Removes the digest's blob file (caller holds the lock). */
cf_code objects_remove(const char *reg_id, const oci_digest *d, cf_err *e);

#endif
