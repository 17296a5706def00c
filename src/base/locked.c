/*
 * locked.c -- see locked.h.
 */
#include "base/locked.h"

#include <stdlib.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

void *cf_locked_at(const cf_locked *t, size_t i)
{
    return t->chunks[i / t->per_chunk] + (i % t->per_chunk) * t->elem;
}

void *cf_locked_add(cf_locked *t)
{
    if (t->n >= t->max)
        return NULL;
    size_t nchunks = (t->max + t->per_chunk - 1) / t->per_chunk;
    if (t->chunks == NULL && (t->chunks = calloc(nchunks, sizeof(*t->chunks))) == NULL)
        return NULL;
    size_t c = t->n / t->per_chunk;
    if (t->chunks[c] == NULL) {
        if ((t->chunks[c] = calloc(t->per_chunk, t->elem)) == NULL)
            return NULL;
        (void)mlock(t->chunks[c], t->per_chunk * t->elem);
    }
    return cf_locked_at(t, t->n++);
}

void cf_locked_free(cf_locked *t)
{
    size_t nchunks = (t->max + t->per_chunk - 1) / t->per_chunk;
    for (size_t c = 0; t->chunks && c < nchunks; c++) {
        if (t->chunks[c] == NULL)
            continue;
        OPENSSL_cleanse(t->chunks[c], t->per_chunk * t->elem);
        munlock(t->chunks[c], t->per_chunk * t->elem);
        free(t->chunks[c]);
    }
    free(t->chunks);
    t->chunks = NULL;
    t->n = 0;
}
