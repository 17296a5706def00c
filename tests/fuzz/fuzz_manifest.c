/*
 * fuzz_manifest.c -- manifest_parse on arbitrary bytes. The first byte
 * picks the Content-Type given (none, or one of the four kinds); the rest
 * is the body. Invariants: no crash or leak; on success every reference
 * is a digest that parses again and the kind matches the media type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *cts[] = {NULL, MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST,
                                MT_DOCKER_LIST};
    if (size == 0)
        return 0;
    const char *ct = cts[data[0] % 5];
    manifest m;
    if (manifest_parse(&m, data + 1, size - 1, ct, NULL) == CF_OK) {
        if (manifest_kind_of(m.media_type, strlen(m.media_type)) != m.kind)
            abort();
        for (size_t i = 0; i < m.nrefs; i++) {
            oci_digest d;
            if (oci_digest_parse(&d, m.refs[i].digest.text, m.refs[i].digest.len, NULL) != CF_OK)
                abort();
            if (m.refs[i].size < 0)
                abort();
        }
    }
    manifest_free(&m);
    return 0;
}
