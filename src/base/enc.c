/*
 * enc.c -- see enc.h.
 */
#include "base/enc.h"

#include <stdio.h>
#include <time.h>

static const char HEX[] = "0123456789abcdef";
static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cf_hex_encode(char *out, const unsigned char *in, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = HEX[in[i] >> 4];
        out[2 * i + 1] = HEX[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int cf_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cf_code cf_hex_decode(unsigned char *out, size_t out_len, const char *in, size_t in_len, cf_err *e)
{
    if (in_len != 2 * out_len)
        return cf_err_set(e, CF_EINVAL, "expected %zu hex digits", 2 * out_len);
    for (size_t i = 0; i < out_len; i++) {
        int hi = cf_hexval(in[2 * i]), lo = cf_hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return cf_err_set(e, CF_EINVAL, "invalid hex digit");
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return CF_OK;
}

size_t cf_b64url_encoded_len(size_t len)
{
    return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

cf_code cf_b64url_encode(cf_buf *out, const unsigned char *in, size_t len, cf_err *e)
{
    cf_code rc = cf_buf_reserve(out, cf_b64url_encoded_len(len), e);
    if (rc != CF_OK)
        return rc;
    char *o = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *o++ = B64U[v >> 18];
        *o++ = B64U[(v >> 12) & 63];
        *o++ = B64U[(v >> 6) & 63];
        *o++ = B64U[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        *o++ = B64U[v >> 18];
        *o++ = B64U[(v >> 12) & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        *o++ = B64U[v >> 18];
        *o++ = B64U[(v >> 12) & 63];
        *o++ = B64U[(v >> 6) & 63];
    }
    out->len = (size_t)((unsigned char *)o - out->data);
    out->data[out->len] = '\0';
    return CF_OK;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

cf_code cf_b64url_decode(cf_buf *out, const char *in, size_t len, cf_err *e)
{
    if (len % 4 == 1)
        return cf_err_set(e, CF_EINVAL, "invalid base64url length");
    cf_code rc = cf_buf_reserve(out, len / 4 * 3 + 2, e);
    if (rc != CF_OK)
        return rc;
    unsigned char *o = out->data + out->len;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return cf_err_set(e, CF_EINVAL, "invalid base64url character");
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)(acc >> bits);
        }
    }
    /* leftover bits must be zero for a canonical encoding */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return cf_err_set(e, CF_EINVAL, "non-canonical base64url");
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return CF_OK;
}

void cf_be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t cf_be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void cf_rfc3339(char *out, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, n, "1970-01-01T00:00:00Z");
}
