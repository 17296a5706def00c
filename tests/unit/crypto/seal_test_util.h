/*
 * seal_test_util.h -- helpers shared by the crypto unit tests: sealing a
 * buffer into an in-memory file (memfd), deterministic data, fixed keys.
 */
#ifndef CF_TEST_SEAL_UTIL_H
#define CF_TEST_SEAL_UTIL_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/seal.h"

static inline void tu_kek(seal_kek *k, unsigned char fill, const char *registry_id)
{
    memset(k, 0, sizeof(*k));
    memset(k->key, fill, sizeof(k->key));
    strncpy(k->registry_id, registry_id, SEAL_REGISTRY_ID_MAX);
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static inline void tu_fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static inline uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static inline int tu_memfd(void)
{
    int fd = memfd_create("sealed", MFD_CLOEXEC);
    cr_assert(fd >= 0);
    return fd;
}

static inline off_t tu_fsize(int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    return st.st_size;
}

/* Seals data (written in chunks of `chunk` bytes, 0 = all at once). */
static inline int tu_seal(const seal_kek *k, const unsigned char *data, size_t n,
                          const seal_fixed *fixed, size_t chunk)
{
    int fd = tu_memfd();
    seal_writer *w = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_writer_open(&w, k, fd, fixed, &e), CF_OK, "%s", e.msg);
    size_t done = 0;
    while (done < n) {
        size_t c = chunk && chunk < n - done ? chunk : n - done;
        cr_assert_eq(seal_writer_write(w, data + done, c, &e), CF_OK, "%s", e.msg);
        done += c;
    }
    cr_assert_eq(seal_writer_length(w), n);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(seal_writer_durable(w), n);
    seal_writer_free(w);
    return fd;
}

static inline void tu_pwrite_byte_xor(int fd, off_t off, unsigned char x)
{
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= x;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
}

/* A copy of fd's contents in a fresh memfd. */
static inline int tu_clone(int fd)
{
    off_t n = tu_fsize(fd);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert(b != NULL);
    cr_assert_eq(pread(fd, b, (size_t)n, 0), n);
    int c = tu_memfd();
    cr_assert_eq(write(c, b, (size_t)n), n);
    free(b);
    return c;
}

#endif
