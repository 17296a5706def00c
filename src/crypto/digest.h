/*
 * digest.h -- content digests as the OCI Distribution Spec writes them:
 * "<algorithm>:<encoded>", the name of every blob and manifest.
 *
 * Both the registry (which parses the digests clients send) and the store
 * (which names sealed files by digest and checks the digest of what an
 * upload received) need them, so they live here, below both: the store
 * never reaches up into the registry's grammar (registry/oci.h).
 *
 * coffer implements sha256 (64 lowercase hex) and sha512 (128 lowercase
 * hex); any other well-formed algorithm is "unsupported", anything else
 * malformed. The names keep the spec's prefix (oci_digest, as in the
 * spec's "digest" production) so callers read the same in every layer.
 *
 * Every function is pure (no allocation, no global state) and takes
 * (pointer, length): wire data is never assumed to be NUL-terminated.
 */
#ifndef CF_CRYPTO_DIGEST_H
#define CF_CRYPTO_DIGEST_H

#include <stddef.h>

#include "base/err.h"

#define OCI_DIGEST_MAX (7 + 128) /* "sha512:" + 128 hex */

typedef enum { OCI_ALG_SHA256 = 1, OCI_ALG_SHA512 = 2 } oci_alg;

typedef struct oci_digest {
    oci_alg alg;
    char text[OCI_DIGEST_MAX + 1]; /* "sha256:<hex>", NUL-terminated */
    size_t len;                    /* strlen(text) */
} oci_digest;

/* CF_EINVAL for a malformed digest, CF_EUNSUPPORTED for a well-formed one
 * with an algorithm coffer does not implement. */
cf_code oci_digest_parse(oci_digest *out, const char *s, size_t len, cf_err *e);
/* Builds a digest from raw hash bytes (32 for sha256, 64 for sha512). */
void oci_digest_from_raw(oci_digest *out, oci_alg alg, const unsigned char *raw);
/* The hex part (after the colon) and the algorithm's name. */
const char *oci_digest_hex(const oci_digest *d);
const char *oci_alg_name(oci_alg alg);
size_t oci_alg_raw_len(oci_alg alg);

#endif
