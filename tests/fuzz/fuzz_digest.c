/*
 * fuzz_digest.c -- oci_digest_parse (crypto/digest.h) on arbitrary bytes
 * (no NUL assumed).
 * Invariants: an accepted digest round-trips through its text and its
 * hex part has the algorithm's length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oci_digest d;
    if (oci_digest_parse(&d, (const char *)data, size, NULL) != CF_OK)
        return 0;
    if (d.len != size || memcmp(d.text, data, size) != 0)
        abort();
    if (strlen(oci_digest_hex(&d)) != 2 * oci_alg_raw_len(d.alg))
        abort();
    oci_digest again;
    if (oci_digest_parse(&again, d.text, d.len, NULL) != CF_OK || again.alg != d.alg)
        abort();
    return 0;
}
