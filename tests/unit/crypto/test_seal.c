/*
 * test_seal.c -- pins the sealed object module: round trips, random-access
 * reads, resume, and that every kind of tampering is CF_EINTEGRITY with no
 * byte of an affected segment returned.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/seal.h"
#include "seal_test_util.h"

#define HDR 96

/* Reads the whole object back in one call and compares. */
static void check_full(const seal_kek *k, int fd, const unsigned char *data, size_t n)
{
    seal_reader *r = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_reader_open(&r, k, fd, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(seal_reader_size(r), n);
    unsigned char *out = malloc(n + 1);
    size_t got = 99;
    cr_assert_eq(seal_reader_read(r, 0, out, n + 1, &got, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(got, n);
    cr_assert(n == 0 || memcmp(out, data, n) == 0);
    cr_assert_eq(seal_reader_read(r, n, out, 1, &got, &e), CF_OK);
    cr_assert_eq(got, 0);
    free(out);
    seal_reader_free(r);
}

/* Random ranges, each compared with the plaintext. */
static void check_ranges(const seal_kek *k, int fd, const unsigned char *data, size_t n,
                         int count, uint64_t seed)
{
    seal_reader *r = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_reader_open(&r, k, fd, &e), CF_OK, "%s", e.msg);
    unsigned char *out = malloc(n + 2);
    uint64_t st = seed | 1;
    for (int t = 0; t < count; t++) {
        size_t off = (size_t)(tu_rand(&st) % (n + 2));
        size_t len = (size_t)(tu_rand(&st) % (n + 2 - off));
        size_t got = 0;
        cr_assert_eq(seal_reader_read(r, off, out, len, &got, &e), CF_OK, "%s", e.msg);
        size_t want = off >= n ? 0 : (len < n - off ? len : n - off);
        cr_assert_eq(got, want, "off %zu len %zu", off, len);
        cr_assert(want == 0 || memcmp(out, data + off, want) == 0, "off %zu len %zu", off, len);
    }
    free(out);
    seal_reader_free(r);
}

static void roundtrip(size_t n, unsigned log2, size_t chunk)
{
    seal_kek k;
    tu_kek(&k, 0x42, "reg1");
    unsigned char *data = malloc(n + 1);
    tu_fill(data, n, n + log2);
    seal_fixed f = {.log2_segment = log2};
    int fd = tu_seal(&k, data, n, &f, chunk);
    cr_assert_eq((uint64_t)tu_fsize(fd), seal_sealed_size(n, log2), "n=%zu", n);
    check_full(&k, fd, data, n);
    check_ranges(&k, fd, data, n, 64, n * 31 + 7);
    close(fd);
    free(data);
}

Test(seal_roundtrip, small_segments_edge_sizes)
{
    size_t seg = 1024;
    size_t sizes[] = {0, 1, seg - 1, seg, seg + 1, 3 * seg - 1, 3 * seg, 3 * seg + 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        roundtrip(sizes[i], 10, 0);
        roundtrip(sizes[i], 10, 7);   /* odd chunks fill the tail */
        roundtrip(sizes[i], 10, seg); /* exact segments go straight through */
    }
}

Test(seal_roundtrip, default_segment_edge_sizes)
{
    size_t seg = (size_t)1 << SEAL_DEFAULT_LOG2_SEGMENT;
    size_t sizes[] = {0, 1, seg - 1, seg, seg + 1, 3 * seg};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        roundtrip(sizes[i], 0, 4000);
}

Test(seal_roundtrip, ten_mib_default_segment)
{
    roundtrip(10u << 20, 0, 100000);
}

Test(seal_roundtrip, ten_mib_small_segments)
{
    roundtrip(10u << 20, 12, 0);
}

Test(seal_writer, header_layout_and_object_ids)
{
    seal_kek k;
    tu_kek(&k, 1, "reg");
    int fd = tu_memfd();
    seal_writer *w = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_writer_open(&w, &k, fd, NULL, &e), CF_OK);
    unsigned char oid[SEAL_OBJECT_ID_LEN];
    memcpy(oid, seal_writer_object_id(w), sizeof(oid));
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    unsigned char h[HDR];
    cr_assert_eq(pread(fd, h, HDR, 0), HDR);
    cr_assert_eq(memcmp(h, "CFR1", 4), 0);
    cr_assert_eq(h[4], 1);
    cr_assert_eq(h[5], 1);
    cr_assert_eq(h[6], 16);
    cr_assert_eq(memcmp(h + 14, oid, 16), 0);
    for (int i = 90; i < 96; i++)
        cr_assert_eq(h[i], 0);
    cr_assert_eq(tu_fsize(fd), HDR + 16);
    seal_reader *r = NULL;
    cr_assert_eq(seal_reader_open(&r, &k, fd, &e), CF_OK);
    cr_assert_eq(memcmp(seal_reader_object_id(r), oid, 16), 0);
    seal_reader_free(r);
    /* Two objects never share an object id or nonce prefix. */
    int fd2 = tu_seal(&k, NULL, 0, NULL, 0);
    unsigned char h2[HDR];
    cr_assert_eq(pread(fd2, h2, HDR, 0), HDR);
    cr_assert_neq(memcmp(h + 7, h2 + 7, 7 + 16), 0);
    close(fd);
    close(fd2);
}

Test(seal_writer, durable_is_segment_boundary)
{
    seal_kek k;
    tu_kek(&k, 1, "reg");
    int fd = tu_memfd();
    seal_writer *w = NULL;
    cf_err e = {0};
    seal_fixed f = {.log2_segment = 10};
    cr_assert_eq(seal_writer_open(&w, &k, fd, &f, &e), CF_OK);
    unsigned char d[3000];
    tu_fill(d, sizeof(d), 5);
    cr_assert_eq(seal_writer_write(w, d, 1500, &e), CF_OK);
    cr_assert_eq(seal_writer_durable(w), 1024);
    cr_assert_eq(seal_writer_length(w), 1500);
    cr_assert_eq(tu_fsize(fd), HDR + 1040);
    cr_assert_eq(seal_writer_write(w, d + 1500, 548, &e), CF_OK);
    cr_assert_eq(seal_writer_durable(w), 2048);
    cr_assert_eq(tu_fsize(fd), HDR + 2 * 1040);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    cr_assert_eq(seal_writer_durable(w), 2048);
    cr_assert_eq(tu_fsize(fd), HDR + 2 * 1040 + 16);
    cr_assert_eq(seal_writer_write(w, d, 1, &e), CF_ECONFLICT);
    cr_assert_eq(seal_writer_finish(w, NULL), CF_ECONFLICT);
    seal_writer_free(w);
    close(fd);
}

Test(seal_writer, rejects_bad_segment_size_and_registry_id)
{
    seal_kek k;
    tu_kek(&k, 1, "reg");
    seal_writer *w = NULL;
    seal_fixed f = {.log2_segment = 9};
    cr_assert_eq(seal_writer_open(&w, &k, -1, &f, NULL), CF_EINVAL);
    f.log2_segment = 25;
    cr_assert_eq(seal_writer_open(&w, &k, -1, &f, NULL), CF_EINVAL);
    tu_kek(&k, 1, "");
    cr_assert_eq(seal_writer_open(&w, &k, -1, NULL, NULL), CF_EINVAL);
    cr_assert_null(w);
}

/* ---- resume ---- */

static int partial_upload(const seal_kek *k, const unsigned char *d, size_t n, unsigned log2)
{
    int fd = tu_memfd();
    seal_writer *w = NULL;
    cf_err e = {0};
    seal_fixed f = {.log2_segment = log2};
    cr_assert_eq(seal_writer_open(&w, k, fd, &f, &e), CF_OK);
    cr_assert_eq(seal_writer_write(w, d, n, &e), CF_OK);
    seal_writer_free(w); /* crash: the tail in memory is lost */
    return fd;
}

Test(seal_resume, continues_after_restart_and_truncates_torn_tail)
{
    seal_kek k;
    tu_kek(&k, 3, "reg");
    size_t n = 5000;
    unsigned char d[5000];
    tu_fill(d, n, 9);
    int fd = partial_upload(&k, d, 2500, 10); /* 2 segments durable */
    /* A torn write of the third segment. */
    unsigned char junk[700];
    tu_fill(junk, sizeof(junk), 1);
    cr_assert_eq(pwrite(fd, junk, sizeof(junk), HDR + 2 * 1040), (ssize_t)sizeof(junk));
    seal_writer *w = NULL;
    cf_err e = {0};
    uint64_t durable = 0;
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(durable, 2048);
    cr_assert_eq(seal_writer_durable(w), 2048);
    cr_assert_eq(tu_fsize(fd), HDR + 2 * 1040);
    cr_assert_eq(seal_writer_write(w, d + 2048, n - 2048, &e), CF_OK);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    check_full(&k, fd, d, n);
    /* Finished now: resume refuses. */
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, NULL), CF_ECONFLICT);
    close(fd);
}

Test(seal_resume, clean_boundary_and_empty)
{
    seal_kek k;
    tu_kek(&k, 3, "reg");
    unsigned char d[2048];
    tu_fill(d, sizeof(d), 2);
    int fd = partial_upload(&k, d, 2048, 10);
    seal_writer *w = NULL;
    uint64_t durable = 1;
    cf_err e = {0};
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(durable, 2048);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    check_full(&k, fd, d, 2048);
    close(fd);

    fd = partial_upload(&k, d, 0, 10);
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(durable, 0);
    cr_assert_eq(seal_writer_write(w, d, 100, &e), CF_OK);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    check_full(&k, fd, d, 100);
    close(fd);
}

Test(seal_resume, finished_empty_final_is_refused)
{
    seal_kek k;
    tu_kek(&k, 3, "reg");
    unsigned char d[2048];
    tu_fill(d, sizeof(d), 2);
    seal_fixed f = {.log2_segment = 10};
    int fd = tu_seal(&k, d, 2048, &f, 0);
    seal_writer *w = NULL;
    uint64_t durable = 0;
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, NULL), CF_ECONFLICT);
    cr_assert_null(w);
    close(fd);
}

Test(seal_resume, tampered_complete_segment_is_integrity_error)
{
    seal_kek k;
    tu_kek(&k, 3, "reg");
    unsigned char d[3072];
    tu_fill(d, sizeof(d), 2);
    int fd = partial_upload(&k, d, 3072, 10);
    tu_pwrite_byte_xor(fd, HDR + 1040 + 5, 0x01);
    seal_writer *w = NULL;
    uint64_t durable = 0;
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, NULL), CF_EINTEGRITY);
    seal_kek other;
    tu_kek(&other, 4, "reg");
    cr_assert_eq(seal_writer_resume(&w, &other, fd, &durable, NULL), CF_EINTEGRITY);
    cr_assert_null(w);
    close(fd);
}
