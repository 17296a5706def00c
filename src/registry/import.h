/*
 * import.h -- a task's `import` command (ACR's az acr import): copies an
 * image from another OCI registry into this one, over HTTP(S) with
 * libcurl, as a registry client does (the token flow of a 401 Bearer
 * challenge, with --username/--password when given, or Basic auth).
 *
 * The source is [http://|https://]HOST[:PORT]/REPO[:TAG|@DIGEST]; without
 * a scheme it is https, except for a loopback host (localhost, 127.x,
 * [::1]), as container clients treat those. Another coffer registry is one
 * such source (HOST:PORT/REGISTRY/REPO:TAG). An image manifest is copied
 * with its config and layers; an index with each child manifest and theirs.
 *
 * Every blob is verified by digest and size, and its bytes go from the
 * network straight into the registry's sealed upload path (uploads.h):
 * sealed segment by segment as they arrive, constant memory, never at
 * rest in plaintext; only a verified blob is installed. A blob the
 * repository has is not fetched; one another repository of the registry
 * has is linked. Manifests are stored through content_manifest_store, as
 * a push stores them, after their digest was checked against the
 * reference (by digest) or the source's Docker-Content-Digest.
 */
#ifndef CF_REGISTRY_IMPORT_H
#define CF_REGISTRY_IMPORT_H

#include "base/buf.h"
#include "base/err.h"
#include "crypto/seal.h"
#include "store/meta.h"

typedef struct import_args {
    const char *source;
    const char *image;    /* REPO[:TAG] here; NULL: the source's repository and tag */
    const char *username; /* NULL: anonymous */
    const char *password;
} import_args;

/* Checks the arguments without any network access (a task's command is
 * checked when stored). */
cf_code import_check(const import_args *a, cf_err *e);

/* Runs the import into reg (whose KEK is kek), writing what it does to
 * log (never a credential). */
cf_code import_run(const meta_registry *reg, const seal_kek *kek, const import_args *a, cf_buf *log,
                   cf_err *e);

#endif
