/*
 * content.h -- what a registry's stored content offers to more than one
 * caller: reading a stored manifest and deleting one. The data plane's
 * handlers (manifests.c) and the portal (src/portal/content.c) both go
 * through these, so a delete is the same operation whoever asks.
 *
 * Both need the registry's KEK (keyring_kek): a locked registry's content
 * can be neither read nor deleted, whoever asks.
 */
#ifndef CF_REGISTRY_CONTENT_H
#define CF_REGISTRY_CONTENT_H

#include <stdint.h>

#include "base/err.h"
#include "crypto/seal.h"
#include "registry/oci.h"
#include "store/coord.h"
#include "store/meta.h"

/* The digest's lock around installing or removing its object together
 * with the metadata that goes with it: this process's stripe lock, and
 * on a cluster the digest's advisory lock (a node deleting the last link
 * must not remove the object another node just found there and linked
 * to). CF_EUNAVAIL / CF_ECONFLICT when the cluster lock cannot be had
 * (then nothing is held). */
cf_code content_lock(const char *reg_id, const oci_digest *d, coord_hold *h, cf_err *e);
void content_unlock(const oci_digest *d, coord_hold *h);

/* Reads and decrypts the registry's stored manifest d of size bytes (at
 * most MANIFEST_MAX_SIZE) into a fresh buffer (*out, the caller's to wipe
 * and free). CF_ENOTFOUND when its file is gone (a concurrent delete);
 * CF_EINTEGRITY when it fails authentication or its size disagrees with
 * the metadata. */
cf_code content_manifest_read(const char *reg_id, const seal_kek *kek, const oci_digest *d,
                              int64_t size, unsigned char **out, cf_err *e);

/* Deletes manifest d of repo: its row, tags and references, and its
 * sealed file when nothing else uses the bytes. CF_ENOTFOUND when the
 * repository has no such manifest. */
cf_code content_manifest_delete(const char *reg_id, const char *repo, const oci_digest *d,
                                cf_err *e);

/* Unlinks blob d from repo, and removes its sealed file when nothing else
 * in the registry uses it. CF_ENOTFOUND when repo does not link it. */
cf_code content_blob_unlink(const char *reg_id, const char *repo, const oci_digest *d, cf_err *e);
/* Storing a manifest's bytes as repo's manifest (tag may be NULL): parse
 * and validate, check its digest (want, when not NULL: the bytes must
 * hash to it), check that what it references is in the repository, seal
 * it and record it. The data plane's PUT and a task's import both go
 * through here. On failure *fail says what the client did wrong. */
typedef enum {
    CONTENT_FAIL_NONE = 0,
    CONTENT_FAIL_INVALID, /* not a manifest coffer accepts (e: CF_EINVAL / CF_ETOOBIG) */
    CONTENT_FAIL_DIGEST,  /* the bytes do not hash to want */
    CONTENT_FAIL_REF,     /* a blob or manifest it references is unknown */
    CONTENT_FAIL_QUOTA,   /* new to the registry, past its storage limit (e: CF_EDENIED) */
    CONTENT_FAIL_STORE,   /* the store failed (e) */
} content_fail;
typedef struct content_manifest_stored {
    oci_digest digest;
    int has_subject;
    oci_digest subject;
} content_manifest_stored;
cf_code content_manifest_store(content_manifest_stored *out, content_fail *fail,
                               const meta_registry *reg, const char *repo, const char *tag,
                               const seal_kek *kek, const void *data, size_t len,
                               const char *content_type, const oci_digest *want, cf_err *e);

#endif
