/*
 * fuzz_s3_xml.c -- the XML an S3 server answers (listings of objects,
 * uploads and parts: s3_xml_element, s3_xml_next) on arbitrary bytes, as
 * s3.c walks it. Invariants: an element's content lies inside the input
 * and before its end; a value read fits its buffer, NUL-terminated, with
 * no '<' left in it (entities decoded, markup refused); the walk always
 * advances.
 * A '<' in a value can only come from an "&lt;" in the input (the
 * decoder refuses a raw one): a value holds no more '<' than there are
 * "&lt;" between where the search began and where it ended.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3.h"

static size_t count_char(const char *v, char c)
{
    size_t n = 0;
    for (; *v; v++)
        n += *v == c;
    return n;
}

static size_t count_lt_entities(const char *x, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i + 4 <= to; i++)
        n += memcmp(x + i, "&lt;", 4) == 0;
    return n;
}

static void walk(const char *x, size_t len, const char *outer, const char *const *inner, size_t n)
{
    size_t pos = 0, s = 0, end;
    int guard = 0;
    while ((end = s3_xml_element(x, len, pos, outer, &s)) != 0) {
        if (end <= pos || end > len || s > end || s < pos)
            abort();
        for (size_t i = 0; i < n; i++) {
            char v[96];
            size_t p = s;
            int r = s3_xml_next(x, len, &p, end, inner[i], v, sizeof(v));
            if (r == 1 && (strlen(v) >= sizeof(v) || p > end ||
                           count_char(v, '<') > count_lt_entities(x, s, p)))
                abort();
        }
        pos = end;
        if (++guard > 100000)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *x = (const char *)data;
    static const char *const contents[] = {"Key", "Size", "LastModified"};
    static const char *const upload[] = {"Key", "UploadId", "Initiated"};
    static const char *const part[] = {"PartNumber", "ETag", "Size"};
    walk(x, size, "Contents", contents, 3);
    walk(x, size, "Upload", upload, 3);
    walk(x, size, "Part", part, 3);
    char v[64];
    size_t p = 0;
    (void)s3_xml_next(x, size, &p, size, "IsTruncated", v, sizeof(v));
    p = 0;
    (void)s3_xml_next(x, size, &p, size, "Code", v, sizeof(v));
    return 0;
}
