/*
 * oci.c -- see oci.h. Hand-written matchers for the spec's regular
 * expressions: each walks the bytes once, with no backtracking, so input
 * size bounds the work.
 */
#include "registry/oci.h"

#include <string.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static int component_valid(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || !is_lower_alnum(s[0]))
        return 0;
    while (i < len) {
        while (i < len && is_lower_alnum(s[i]))
            i++;
        if (i == len)
            return 1;
        /* a separator, then at least one alnum */
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < len && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < len && s[i] == '-')
                i++;
        } else {
            return 0;
        }
        if (i == len || !is_lower_alnum(s[i]))
            return 0;
    }
    return 1;
}

int oci_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > OCI_NAME_MAX)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (!component_valid(s + start, i - start))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

int oci_tag_valid(const char *s, size_t len)
{
    if (len == 0 || len > OCI_TAG_MAX)
        return 0;
    if (!is_alnum(s[0]) && s[0] != '_')
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

int oci_registry_name_valid(const char *s, size_t len)
{
    if (len < OCI_REGISTRY_NAME_MIN || len > OCI_REGISTRY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]))
            return 0;
    return 1;
}

cf_code oci_reference_parse(oci_reference *out, const char *s, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (memchr(s, ':', len) != NULL) {
        out->is_digest = 1;
        return oci_digest_parse(&out->digest, s, len, e);
    }
    if (!oci_tag_valid(s, len))
        return cf_err_set(e, CF_EINVAL, "invalid tag");
    memcpy(out->tag, s, len);
    out->tag[len] = '\0';
    return CF_OK;
}

/* Parses decimal digits at s[*i..len) into *v; at least one digit, no
 * overflow past 2^63. */
static int parse_u64(const char *s, size_t len, size_t *i, uint64_t *v)
{
    size_t start = *i;
    uint64_t n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (n > (UINT64_C(1) << 62) / 5)
            return 0; /* n * 10 would pass 2^63 */
        n = n * 10 + (uint64_t)(s[*i] - '0');
        (*i)++;
    }
    if (*i == start || *i - start > 19)
        return 0;
    *v = n;
    return 1;
}

static size_t skip_bytes_prefix(const char *s, size_t len, int allow_space)
{
    if (len >= 6 && memcmp(s, "bytes=", 6) == 0)
        return 6;
    if (allow_space && len >= 6 && memcmp(s, "bytes ", 6) == 0)
        return 6;
    return 0;
}

cf_code oci_content_range_parse(uint64_t *start, uint64_t *end, const char *s, size_t len,
                                cf_err *e)
{
    size_t i = skip_bytes_prefix(s, len, 1);
    uint64_t a, b;
    if (!parse_u64(s, len, &i, &a) || i >= len || s[i] != '-')
        return cf_err_set(e, CF_EINVAL, "malformed Content-Range");
    i++;
    if (!parse_u64(s, len, &i, &b) || i != len)
        return cf_err_set(e, CF_EINVAL, "malformed Content-Range");
    if (b < a)
        return cf_err_set(e, CF_EINVAL, "Content-Range ends before it starts");
    *start = a;
    *end = b;
    return CF_OK;
}

cf_code oci_range_parse(uint64_t *start, uint64_t *end, const char *s, size_t len, uint64_t size,
                        cf_err *e)
{
    size_t i = skip_bytes_prefix(s, len, 0);
    if (i == 0)
        return cf_err_set(e, CF_EINVAL, "Range unit is not bytes");
    if (memchr(s + i, ',', len - i) != NULL)
        return cf_err_set(e, CF_EUNSUPPORTED, "multiple ranges");
    uint64_t a = 0, b = 0;
    if (i < len && s[i] == '-') {
        /* suffix: the last N bytes */
        i++;
        if (!parse_u64(s, len, &i, &b) || i != len)
            return cf_err_set(e, CF_EINVAL, "malformed Range");
        if (b == 0 || size == 0)
            return cf_err_set(e, CF_ERANGE, "range not satisfiable");
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return CF_OK;
    }
    if (!parse_u64(s, len, &i, &a) || i >= len || s[i] != '-')
        return cf_err_set(e, CF_EINVAL, "malformed Range");
    i++;
    int open_end = i == len;
    if (!open_end) {
        if (!parse_u64(s, len, &i, &b) || i != len)
            return cf_err_set(e, CF_EINVAL, "malformed Range");
        if (b < a)
            return cf_err_set(e, CF_EINVAL, "Range ends before it starts");
    }
    if (a >= size)
        return cf_err_set(e, CF_ERANGE, "range not satisfiable");
    *start = a;
    *end = (open_end || b >= size) ? size - 1 : b;
    return CF_OK;
}
