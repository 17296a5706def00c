/*
 * buf.h -- a growable byte buffer with a hard cap.
 *
 * Everything the network can grow goes through a cf_buf with a cap: an
 * append that would pass the cap fails with CF_ETOOBIG and leaves the
 * buffer as it was. The data is always NUL-terminated (not counted in len)
 * so a buffer of text can be handed to a parser that wants a C string,
 * while binary users keep using (data, len).
 */
#ifndef CF_BASE_BUF_H
#define CF_BASE_BUF_H

#include <stddef.h>

#include "base/err.h"

typedef struct cf_buf {
    unsigned char *data;
    size_t len;
    size_t alloc;
    size_t cap; /* hard limit on len; 0 means SIZE_MAX */
    int secret; /* wipe with OPENSSL_cleanse on growth and free */
} cf_buf;

void cf_buf_init(cf_buf *b, size_t cap);
cf_code cf_buf_append(cf_buf *b, const void *data, size_t len, cf_err *e);
cf_code cf_buf_appendf(cf_buf *b, cf_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
cf_code cf_buf_reserve(cf_buf *b, size_t extra, cf_err *e);
void cf_buf_reset(cf_buf *b);
void cf_buf_free(cf_buf *b);
/* Takes the data out of the buffer (caller frees); the buffer is emptied. */
unsigned char *cf_buf_detach(cf_buf *b, size_t *len_out);

#endif
