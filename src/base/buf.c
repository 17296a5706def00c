/*
 * buf.c -- see buf.h. Growth doubles, bounded by the cap. Secret buffers
 * never use realloc (which could leave a copy behind): they allocate,
 * copy, and wipe the old block.
 */
#include "base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void cf_buf_init(cf_buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap ? cap : SIZE_MAX - 1;
}

cf_code cf_buf_reserve(cf_buf *b, size_t extra, cf_err *e)
{
    if (extra > b->cap - b->len)
        return cf_err_set(e, CF_ETOOBIG, "buffer limit of %zu bytes exceeded", b->cap);
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return CF_OK;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    unsigned char *p;
    if (b->secret) {
        p = malloc(n);
        if (p && b->data) {
            memcpy(p, b->data, b->len + 1);
            OPENSSL_cleanse(b->data, b->alloc);
            free(b->data);
        }
    } else {
        p = realloc(b->data, n);
    }
    if (p == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    b->data = p;
    b->alloc = n;
    return CF_OK;
}

cf_code cf_buf_append(cf_buf *b, const void *data, size_t len, cf_err *e)
{
    cf_code rc = cf_buf_reserve(b, len, e);
    if (rc != CF_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return CF_OK;
}

cf_code cf_buf_appendf(cf_buf *b, cf_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return cf_err_set(e, CF_EINVAL, "bad format");
    cf_code rc = cf_buf_reserve(b, (size_t)n, e);
    if (rc != CF_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CF_OK;
}

void cf_buf_reset(cf_buf *b)
{
    if (b->data) {
        if (b->secret)
            OPENSSL_cleanse(b->data, b->len);
        b->data[0] = '\0';
    }
    b->len = 0;
}

void cf_buf_free(cf_buf *b)
{
    if (b->data && b->secret)
        OPENSSL_cleanse(b->data, b->alloc);
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

unsigned char *cf_buf_detach(cf_buf *b, size_t *len_out)
{
    unsigned char *p = b->data;
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}
