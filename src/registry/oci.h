/*
 * oci.h -- the small grammars of the OCI Distribution Spec v1.1:
 * repository names, tags, references (tag or digest), the upload
 * Content-Range and the blob GET Range; digests come from crypto/digest.h.
 *
 * Every parser takes (pointer, length): wire data is never assumed to be
 * NUL-terminated and never scanned past its length. Every function is
 * pure (no allocation, no global state), so each is a fuzz target.
 *
 *   digest     algorithm ":" encoded: crypto/digest.h (the store needs
 *              digests too, so they live below both)
 *   name       [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 *              at most 255 bytes
 *   tag        [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
 *   registry   5-50 ASCII alphanumerics (ACR's rule); compared lowercase
 */
#ifndef CF_REGISTRY_OCI_H
#define CF_REGISTRY_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/digest.h"

#define OCI_NAME_MAX 255
#define OCI_TAG_MAX 128
#define OCI_REGISTRY_NAME_MIN 5
#define OCI_REGISTRY_NAME_MAX 50

int oci_name_valid(const char *s, size_t len);
int oci_tag_valid(const char *s, size_t len);
int oci_registry_name_valid(const char *s, size_t len);

typedef struct oci_reference {
    int is_digest;
    oci_digest digest;         /* when is_digest */
    char tag[OCI_TAG_MAX + 1]; /* otherwise */
} oci_reference;

/* A manifest reference: a digest when it contains ':', else a tag. */
cf_code oci_reference_parse(oci_reference *out, const char *s, size_t len, cf_err *e);

/* Upload Content-Range: "START-END" (inclusive), also accepted with a
 * "bytes " or "bytes=" prefix as some clients send. END >= START. */
cf_code oci_content_range_parse(uint64_t *start, uint64_t *end, const char *s, size_t len,
                                cf_err *e);

/* Blob GET Range against an object of `size` bytes: "bytes=A-B",
 * "bytes=A-", "bytes=-N". On CF_OK, [*start, *end] (inclusive) is the
 * satisfiable range. CF_ERANGE: well-formed but unsatisfiable (416).
 * CF_EINVAL: malformed; CF_EUNSUPPORTED: several ranges; in both the
 * server ignores the header and sends the whole object (RFC 9110). */
cf_code oci_range_parse(uint64_t *start, uint64_t *end, const char *s, size_t len, uint64_t size,
                        cf_err *e);

#endif
