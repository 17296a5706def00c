/*
 * locked.h -- a table of entries that hold secrets (the keyring's KEKs,
 * the CMK engine's customer layer secrets): fixed-size elements in chunks
 * that are allocated, zeroed and mlock'ed (best effort: a refused mlock is
 * ignored) only when the table grows into them, and wiped when it goes.
 * A node with ten registries holds one chunk, not room for the maximum
 * faulted in at start (mlock touches every page it locks).
 *
 * Elements never move: a pointer from cf_locked_at or cf_locked_add stays
 * valid until cf_locked_free. Not thread-safe: the owner's mutex guards
 * the table.
 */
#ifndef CF_BASE_LOCKED_H
#define CF_BASE_LOCKED_H

#include <stddef.h>

typedef struct cf_locked {
    size_t elem;      /* sizeof one element */
    size_t per_chunk; /* elements per chunk */
    size_t max;       /* elements at most */
    size_t n;         /* elements handed out so far: indexes 0..n-1 */
    unsigned char **chunks;
} cf_locked;

#define CF_LOCKED_INIT(type, per_chunk, max)                                                       \
    {                                                                                              \
        sizeof(type), (per_chunk), (max), 0, NULL                                                  \
    }

/* Element i (i < t->n). */
void *cf_locked_at(const cf_locked *t, size_t i);
/* A new zeroed element at index t->n (n grows by one); NULL when the
 * table holds max elements or memory ran out. */
void *cf_locked_add(cf_locked *t);
/* Wipes, unlocks and frees every chunk; the table is empty again. */
void cf_locked_free(cf_locked *t);

#endif
