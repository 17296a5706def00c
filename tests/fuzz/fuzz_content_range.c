/*
 * fuzz_content_range.c -- the upload Content-Range and the blob Range
 * parsers on arbitrary bytes. Invariants: an accepted Content-Range has
 * start <= end; an accepted Range lies inside the object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint64_t a, b;
    if (oci_content_range_parse(&a, &b, s, size, NULL) == CF_OK && a > b)
        abort();
    static const uint64_t sizes[] = {0, 1, 100, 65536, UINT64_C(1) << 40};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (oci_range_parse(&a, &b, s, size, sizes[i], NULL) == CF_OK) {
            if (a > b || b >= sizes[i])
                abort();
        }
    }
    return 0;
}
