/*
 * fuzz_seal.c -- libFuzzer target for the sealed reader (and resume).
 *
 * Input: a sealed file, opened with the fixed KEK of the known-answer
 * vectors (key 00..1f, registry "vector-registry"), so the seeds in
 * corpus/seal/ are real objects (gen_seal_vectors.py --corpus writes them).
 *
 * Properties checked (abort on violation, so libFuzzer reports them):
 *  - open either fails or reports a size consistent with the file length;
 *  - every read returns CF_OK with exactly min(len, size − off) bytes, or
 *    CF_EINTEGRITY; reads past the end return 0 bytes;
 *  - resume either fails or leaves a file that, once finished, opens with
 *    the durable length + what was appended and reads without error.
 * No crash, leak or sanitizer report on any input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;

static void kek_init(seal_kek *k)
{
    memset(k, 0, sizeof(*k));
    for (int i = 0; i < 32; i++)
        k->key[i] = (unsigned char)i;
    memcpy(k->registry_id, "vector-registry", 15);
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void load(const uint8_t *data, size_t size)
{
    if (memfd < 0)
        memfd = memfd_create("fuzz-seal", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, 0) != 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(memfd, data + off, size - off, (off_t)off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
}

/* Reads a few ranges; returns the plaintext size or -1 if open failed.
 * strict: the object is known good (resumed and finished), reads must
 * all succeed. */
static int64_t read_ranges(const seal_kek *k, uint64_t seed, uint64_t file_size, int strict)
{
    seal_reader *r = NULL;
    if (seal_reader_open(&r, k, memfd, NULL) != CF_OK) {
        if (r != NULL)
            abort();
        return -1;
    }
    uint64_t n = seal_reader_size(r);
    if (n > file_size)
        abort();
    static unsigned char out[1 << 17];
    uint64_t s = seed | 1;
    for (int t = 0; t < 8; t++) {
        uint64_t off = next(&s) % (n + 2);
        size_t len = (size_t)(next(&s) % sizeof(out));
        size_t got = 0;
        cf_err e = {0};
        cf_code rc = seal_reader_read(r, off, out, len, &got, &e);
        size_t want = off >= n ? 0 : (size_t)(len < n - off ? len : n - off);
        if (rc == CF_OK && got != want)
            abort();
        if (rc != CF_OK &&
            (strict || rc != CF_EINTEGRITY || e.code != CF_EINTEGRITY || got >= want))
            abort();
    }
    seal_reader_free(r);
    return (int64_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seal_kek k;
    kek_init(&k);
    load(data, size);
    uint64_t seed = size;
    for (size_t i = 0; i < size && i < 8; i++)
        seed = seed * 131 + data[size - 1 - i];
    read_ranges(&k, seed, size, 0);

    /* Resume treats the same bytes as an unfinished upload. */
    seal_writer *w = NULL;
    uint64_t durable = 0;
    if (seal_writer_resume(&w, &k, memfd, &durable, NULL) == CF_OK) {
        if (seal_writer_durable(w) != durable)
            abort();
        if (seal_writer_write(w, "tail", 4, NULL) != CF_OK || seal_writer_finish(w, NULL) != CF_OK)
            abort();
        seal_writer_free(w);
        int64_t n = read_ranges(&k, seed + 1, (uint64_t)lseek(memfd, 0, SEEK_END), 1);
        if (n != (int64_t)(durable + 4))
            abort();
    } else if (w != NULL) {
        abort();
    }
    return 0;
}
