/*
 * test_seal.c -- pins the sealed object module: round trips, random-access
 * reads, resume, and that every kind of tampering is CF_EINTEGRITY with no
 * byte of an affected segment returned.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "base/enc.h"
#include "crypto/seal.h"
#include "seal_test_util.h"
#include "seal_vectors.h"

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
static void check_ranges(const seal_kek *k, int fd, const unsigned char *data, size_t n, int count,
                         uint64_t seed)
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

/* ---- tampering ----
 * The object under attack: 1 KiB segments, 3 full segments and a final
 * one of 500 bytes. Segment k starts at plaintext offset k × 1024 and file
 * offset 96 + k × 1040. */

#define TSEG 1024
#define TSTRIDE (TSEG + 16)
#define TN (3 * TSEG + 500)
#define TNSEG 4
#define PATTERN 0xA5

static unsigned char tdata[TN];

/* The object every tamper test starts from: tdata sealed under the kek
 * (key bytes 9, registry "reg") that *k is set to. */
static int tamper_object(seal_kek *k)
{
    tu_kek(k, 9, "reg");
    tu_fill(tdata, TN, 77);
    seal_fixed f = {.log2_segment = 10};
    return tu_seal(k, tdata, TN, &f, 0);
}

static size_t seg_len(int s)
{
    return s == TNSEG - 1 ? 500 : TSEG;
}

/* Reads [off, off+len) expecting CF_EINTEGRITY; the bytes from the first
 * affected segment on must stay PATTERN, the bytes before it must be the
 * authentic plaintext. bad_first is the first plaintext offset that must
 * not be returned. */
static void expect_read_fails(seal_reader *r, size_t off, size_t len, size_t bad_first)
{
    unsigned char out[TN];
    memset(out, PATTERN, sizeof(out));
    size_t got = 12345;
    cf_err e = {0};
    cr_assert_eq(seal_reader_read(r, off, out, len, &got, &e), CF_EINTEGRITY,
                 "read %zu+%zu should fail", off, len);
    cr_assert_eq(e.code, CF_EINTEGRITY);
    cr_assert(got <= bad_first - off, "got %zu bytes past the bad segment", got);
    cr_assert(got == 0 || memcmp(out, tdata + off, got) == 0);
    for (size_t i = got; i < len; i++)
        cr_assert_eq(out[i], PATTERN, "byte %zu of read %zu+%zu was written", i, off, len);
}

static void expect_read_ok(seal_reader *r, size_t off, size_t len)
{
    unsigned char out[TN];
    size_t got = 0;
    cf_err e = {0};
    cr_assert_eq(seal_reader_read(r, off, out, len, &got, &e), CF_OK, "%zu+%zu: %s", off, len,
                 e.msg);
    cr_assert_eq(got, len);
    cr_assert_eq(memcmp(out, tdata + off, len), 0);
}

static void expect_open_fails(const seal_kek *k, int fd)
{
    seal_reader *r = (seal_reader *)1;
    cf_err e = {0};
    cr_assert_eq(seal_reader_open(&r, k, fd, &e), CF_EINTEGRITY, "open should fail");
    cr_assert_null(r);
    cr_assert_neq(e.msg[0], '\0');
}

/* expect_open_fails on a scratch copy c, which it then closes. */
static void expect_copy_fails(const seal_kek *k, int c)
{
    expect_open_fails(k, c);
    close(c);
}

Test(seal_tamper, any_header_byte_fails_open)
{
    seal_kek k;
    int fd = tamper_object(&k);
    for (off_t i = 0; i < HDR; i++) {
        unsigned char bits[] = {0x01, 0x80, 0xff};
        for (size_t b = 0; b < sizeof(bits); b++) {
            tu_pwrite_byte_xor(fd, i, bits[b]);
            expect_open_fails(&k, fd);
            tu_pwrite_byte_xor(fd, i, bits[b]);
        }
    }
    check_full(&k, fd, tdata, TN); /* restored: reads again */
    close(fd);
}

Test(seal_tamper, any_segment_byte_fails_exactly_the_reads_touching_it)
{
    seal_kek k;
    int fd = tamper_object(&k);
    for (int s = 0; s < TNSEG; s++) {
        size_t ct_len = seg_len(s) + 16;
        for (size_t j = 0; j < ct_len; j++) {
            off_t pos = HDR + (off_t)s * TSTRIDE + (off_t)j;
            tu_pwrite_byte_xor(fd, pos, 0x01 << (j % 8));
            if (s == TNSEG - 1) {
                /* The final segment is authenticated at open. */
                expect_open_fails(&k, fd);
            } else {
                seal_reader *r = NULL;
                cf_err e = {0};
                cr_assert_eq(seal_reader_open(&r, &k, fd, &e), CF_OK, "%s", e.msg);
                size_t a = (size_t)s * TSEG;
                expect_read_fails(r, 0, TN, a);          /* everything */
                expect_read_fails(r, a, seg_len(s), a);  /* exactly segment s */
                expect_read_fails(r, a + 17, 1, a + 17); /* one byte inside */
                expect_read_fails(r, a + 17, 1, a + 17); /* again: never cached */
                if (s > 0)
                    expect_read_fails(r, a - 10, 20, a); /* straddles into s */
                for (int o = 0; o < TNSEG; o++)          /* the others still read */
                    if (o != s)
                        expect_read_ok(r, (size_t)o * TSEG, seg_len(o));
                seal_reader_free(r);
            }
            tu_pwrite_byte_xor(fd, pos, 0x01 << (j % 8));
        }
    }
    check_full(&k, fd, tdata, TN);
    close(fd);
}

Test(seal_tamper, truncation_at_every_length_fails_open)
{
    seal_kek k;
    int fd = tamper_object(&k);
    off_t n = tu_fsize(fd);
    for (off_t len = 0; len < n; len++) {
        int c = tu_clone(fd);
        cr_assert_eq(ftruncate(c, len), 0);
        expect_copy_fails(&k, c);
    }
    close(fd);
}

Test(seal_tamper, dropping_a_segment_before_an_empty_final_fails)
{
    /* 3 full segments + empty final: removing whole segments keeps a
     * well-formed length, and must still fail. */
    seal_kek k;
    tu_kek(&k, 9, "reg");
    unsigned char d[3 * TSEG];
    tu_fill(d, sizeof(d), 4);
    seal_fixed f = {.log2_segment = 10};
    int fd = tu_seal(&k, d, sizeof(d), &f, 0);
    unsigned char all[HDR + 3 * TSTRIDE + 16];
    cr_assert_eq(pread(fd, all, sizeof(all), 0), (ssize_t)sizeof(all));
    for (int drop = 0; drop < 3; drop++) {
        int c = tu_memfd();
        cr_assert_eq(write(c, all, HDR), HDR);
        for (int s = 0; s < 3; s++)
            if (s != drop)
                cr_assert_eq(write(c, all + HDR + s * TSTRIDE, TSTRIDE), TSTRIDE);
        cr_assert_eq(write(c, all + HDR + 3 * TSTRIDE, 16), 16);
        expect_copy_fails(&k, c);
    }
    /* Dropping the final segment of this object leaves a multiple of the
     * stride: no final segment, refused as truncated. */
    int c = tu_memfd();
    cr_assert_eq(write(c, all, HDR + 3 * TSTRIDE), HDR + 3 * TSTRIDE);
    expect_copy_fails(&k, c);
    close(fd);
}

Test(seal_tamper, appending_fails_open)
{
    seal_kek k;
    int fd = tamper_object(&k);
    off_t n = tu_fsize(fd);
    unsigned char seg1[TSTRIDE], fin[516], junk[TSTRIDE];
    cr_assert_eq(pread(fd, seg1, TSTRIDE, HDR + TSTRIDE), TSTRIDE);
    cr_assert_eq(pread(fd, fin, sizeof(fin), HDR + 3 * TSTRIDE), (ssize_t)sizeof(fin));
    tu_fill(junk, sizeof(junk), 3);
    struct {
        const unsigned char *p;
        size_t len;
    } tails[] = {{seg1, TSTRIDE}, {fin, sizeof(fin)}, {junk, TSTRIDE},
                 {junk, 16},      {junk, 1},          {fin, 16}};
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        int c = tu_clone(fd);
        cr_assert_eq(pwrite(c, tails[t].p, tails[t].len, n), (ssize_t)tails[t].len);
        expect_copy_fails(&k, c);
    }
    close(fd);
}

Test(seal_tamper, swapped_segments_fail_the_reads_touching_them)
{
    seal_kek k;
    int fd = tamper_object(&k);
    int pairs[][2] = {{0, 1}, {1, 2}, {0, 2}};
    for (size_t p = 0; p < 3; p++) {
        int a = pairs[p][0], b = pairs[p][1];
        int c = tu_clone(fd);
        unsigned char sa[TSTRIDE], sb[TSTRIDE];
        cr_assert_eq(pread(c, sa, TSTRIDE, HDR + a * TSTRIDE), TSTRIDE);
        cr_assert_eq(pread(c, sb, TSTRIDE, HDR + b * TSTRIDE), TSTRIDE);
        cr_assert_eq(pwrite(c, sb, TSTRIDE, HDR + a * TSTRIDE), TSTRIDE);
        cr_assert_eq(pwrite(c, sa, TSTRIDE, HDR + b * TSTRIDE), TSTRIDE);
        seal_reader *r = NULL;
        cr_assert_eq(seal_reader_open(&r, &k, c, NULL), CF_OK);
        expect_read_fails(r, (size_t)a * TSEG, TSEG, (size_t)a * TSEG);
        expect_read_fails(r, (size_t)b * TSEG, TSEG, (size_t)b * TSEG);
        expect_read_fails(r, 0, TN, (size_t)a * TSEG);
        expect_read_ok(r, 3 * TSEG, 500);
        seal_reader_free(r);
        close(c);
    }
    close(fd);
}

Test(seal_tamper, other_registry_or_key_fails_open)
{
    seal_kek k;
    int fd = tamper_object(&k);
    seal_kek other;
    tu_kek(&other, 9, "reg2"); /* same key bytes, other registry: AAD differs */
    expect_open_fails(&other, fd);
    tu_kek(&other, 9, "re");
    expect_open_fails(&other, fd);
    tu_kek(&other, 8, "reg"); /* other key */
    expect_open_fails(&other, fd);
    uint64_t durable;
    seal_writer *w = NULL;
    cr_assert_eq(seal_writer_resume(&w, &other, fd, &durable, NULL), CF_EINTEGRITY);
    close(fd);
}

/* Splices the header of b onto the segments of a. */
static int splice_header(int a, int b)
{
    int c = tu_clone(a);
    unsigned char h[HDR];
    cr_assert_eq(pread(b, h, HDR, 0), HDR);
    cr_assert_eq(pwrite(c, h, HDR, 0), HDR);
    return c;
}

Test(seal_tamper, segments_under_another_objects_header_fail)
{
    seal_kek k;
    int a = tamper_object(&k);
    /* A random other object: its header authenticates, our segments not. */
    int b = tamper_object(&k);
    int c = splice_header(a, b);
    expect_copy_fails(&k, c);
    close(b);

    /* Even with the same DEK and nonce prefix, only the object id
     * differing: the header is the AAD of every segment. */
    unsigned char dek[32], prefix[7], id1[16], id2[16], wn[12];
    memset(dek, 1, 32);
    memset(prefix, 2, 7);
    memset(id1, 3, 16);
    memset(id2, 4, 16);
    memset(wn, 5, 12);
    seal_fixed f1 = {dek, prefix, id1, wn, 10}, f2 = {dek, prefix, id2, wn, 10};
    int x = tu_seal(&k, tdata, TN, &f1, 0);
    int y = tu_seal(&k, tdata, TN, &f2, 0);
    c = splice_header(x, y);
    expect_copy_fails(&k, c);
    /* The same splice for a multi-segment read after a valid final: put
     * y's final segment in place so open passes, then every other segment
     * fails. */
    c = splice_header(x, y);
    unsigned char fin[516];
    cr_assert_eq(pread(y, fin, sizeof(fin), HDR + 3 * TSTRIDE), (ssize_t)sizeof(fin));
    cr_assert_eq(pwrite(c, fin, sizeof(fin), HDR + 3 * TSTRIDE), (ssize_t)sizeof(fin));
    seal_reader *r = NULL;
    cr_assert_eq(seal_reader_open(&r, &k, c, NULL), CF_OK);
    for (int s = 0; s < 3; s++)
        expect_read_fails(r, (size_t)s * TSEG, TSEG, (size_t)s * TSEG);
    seal_reader_free(r);
    close(c);
    close(x);
    close(y);
    close(a);
}

Test(seal_tamper, segment_of_same_object_at_other_index_or_flag_fails)
{
    /* Copying segment 0 over segment 1 (same DEK, header, wrong index). */
    seal_kek k;
    int fd = tamper_object(&k);
    unsigned char s0[TSTRIDE];
    cr_assert_eq(pread(fd, s0, TSTRIDE, HDR), TSTRIDE);
    cr_assert_eq(pwrite(fd, s0, TSTRIDE, HDR + TSTRIDE), TSTRIDE);
    seal_reader *r = NULL;
    cr_assert_eq(seal_reader_open(&r, &k, fd, NULL), CF_OK);
    expect_read_ok(r, 0, TSEG);
    expect_read_fails(r, TSEG, TSEG, TSEG);
    seal_reader_free(r);
    close(fd);
}

/* ---- known-answer vectors (seal_vectors.h, generated independently) ---- */

static unsigned char vk_dek[32], vk_prefix[7], vk_oid[16], vk_wn[12];

static void vector_inputs(seal_kek *k, seal_fixed *f, unsigned log2)
{
    memset(k, 0, sizeof(*k));
    for (int i = 0; i < 32; i++) {
        k->key[i] = (unsigned char)i;
        vk_dek[i] = (unsigned char)(0x20 + i);
    }
    for (int i = 0; i < 7; i++)
        vk_prefix[i] = (unsigned char)(0xa0 + i);
    for (int i = 0; i < 16; i++)
        vk_oid[i] = (unsigned char)(0xb0 + i);
    for (int i = 0; i < 12; i++)
        vk_wn[i] = (unsigned char)(0xc0 + i);
    memcpy(k->registry_id, VEC_REGISTRY, strlen(VEC_REGISTRY));
    seal_fixed v = {vk_dek, vk_prefix, vk_oid, vk_wn, log2};
    *f = v;
}

static unsigned char *file_bytes(int fd, size_t *n)
{
    *n = (size_t)tu_fsize(fd);
    unsigned char *b = malloc(*n + 1);
    cr_assert_eq(pread(fd, b, *n, 0), (ssize_t)*n);
    return b;
}

static void check_hex_vector(const char *hex, size_t sealed_len, const unsigned char *plain,
                             size_t n, unsigned log2)
{
    seal_kek k;
    seal_fixed f;
    vector_inputs(&k, &f, log2);
    int fd = tu_seal(&k, plain, n, &f, 100);
    size_t got_len;
    unsigned char *got = file_bytes(fd, &got_len);
    cr_assert_eq(got_len, sealed_len);
    char *got_hex = malloc(2 * got_len + 1);
    cf_hex_encode(got_hex, got, got_len);
    cr_assert_str_eq(got_hex, hex, "sealed bytes drifted from the vector");
    /* And the vector file reads back. */
    unsigned char *vec = malloc(sealed_len);
    cr_assert_eq(cf_hex_decode(vec, sealed_len, hex, strlen(hex), NULL), CF_OK);
    int v = tu_memfd();
    cr_assert_eq(write(v, vec, sealed_len), (ssize_t)sealed_len);
    check_full(&k, v, plain, n);
    close(v);
    close(fd);
    free(vec);
    free(got_hex);
    free(got);
}

Test(seal_vectors, small_object_exact_bytes)
{
    unsigned char plain[1030];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (unsigned char)((i * 7 + 3) & 0xff);
    check_hex_vector(vec_small_hex, VEC_SMALL_LEN, plain, sizeof(plain), 10);
}

Test(seal_vectors, empty_object_exact_bytes)
{
    check_hex_vector(vec_empty_hex, VEC_EMPTY_LEN, NULL, 0, 0);
}

Test(seal_vectors, default_segment_object_sha256)
{
    size_t n = 200000;
    unsigned char *plain = malloc(n);
    for (size_t i = 0; i < n; i++)
        plain[i] = (unsigned char)(i % 251);
    seal_kek k;
    seal_fixed f;
    vector_inputs(&k, &f, 0);
    int fd = tu_seal(&k, plain, n, &f, 4096);
    size_t len;
    unsigned char *b = file_bytes(fd, &len);
    cr_assert_eq(len, VEC_BIG_LEN);
    unsigned char md[32];
    char hex[65];
    cr_assert_not_null(SHA256(b, len, md));
    cf_hex_encode(hex, md, 32);
    cr_assert_str_eq(hex, vec_big_sha256);
    check_ranges(&k, fd, plain, n, 32, 5);
    close(fd);
    free(b);
    free(plain);
}

/* ---- resume at every crash point, dead writers ---- */

Test(seal_resume, every_torn_length_resumes_at_the_last_complete_segment)
{
    seal_kek k;
    tu_kek(&k, 6, "reg");
    unsigned char d[4000];
    tu_fill(d, sizeof(d), 12);
    int full = partial_upload(&k, d, 3 * TSEG, 10); /* header + 3 segments */
    off_t n = tu_fsize(full);
    cr_assert_eq(n, HDR + 3 * TSTRIDE);
    for (off_t len = HDR; len <= n; len++) {
        int c = tu_clone(full);
        cr_assert_eq(ftruncate(c, len), 0);
        seal_writer *w = NULL;
        uint64_t durable = 99;
        cf_err e = {0};
        cr_assert_eq(seal_writer_resume(&w, &k, c, &durable, &e), CF_OK, "len %lld: %s",
                     (long long)len, e.msg);
        uint64_t want = (uint64_t)((len - HDR) / TSTRIDE) * TSEG;
        cr_assert_eq(durable, want, "len %lld", (long long)len);
        cr_assert_eq(tu_fsize(c), HDR + (off_t)(want / TSEG) * TSTRIDE);
        cr_assert_eq(seal_writer_write(w, d + want, sizeof(d) - want, &e), CF_OK);
        cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
        seal_writer_free(w);
        check_full(&k, c, d, sizeof(d));
        close(c);
    }
    close(full);
}

Test(seal_resume, refuses_header_less_file)
{
    seal_kek k;
    tu_kek(&k, 6, "reg");
    int fd = tu_memfd();
    seal_writer *w = NULL;
    uint64_t durable;
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, NULL), CF_EINTEGRITY);
    cr_assert_eq(write(fd, "CFR1", 4), 4);
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, NULL), CF_EINTEGRITY);
    cr_assert_null(w);
    close(fd);
}

Test(seal_resume, default_segment_size)
{
    seal_kek k;
    tu_kek(&k, 6, "reg");
    size_t seg = (size_t)1 << SEAL_DEFAULT_LOG2_SEGMENT, n = 3 * seg + 123;
    unsigned char *d = malloc(n);
    tu_fill(d, n, 8);
    int fd = partial_upload(&k, d, 2 * seg + 10, 0);
    seal_writer *w = NULL;
    uint64_t durable = 0;
    cf_err e = {0};
    cr_assert_eq(seal_writer_resume(&w, &k, fd, &durable, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(durable, 2 * seg);
    cr_assert_eq(seal_writer_write(w, d + durable, n - durable, &e), CF_OK);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    check_full(&k, fd, d, n);
    close(fd);
    free(d);
}

Test(seal_writer, io_failure_kills_the_writer)
{
    seal_kek k;
    tu_kek(&k, 6, "reg");
    int fd = memfd_create("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    cr_assert(fd >= 0);
    seal_writer *w = NULL;
    seal_fixed f = {.log2_segment = 10};
    cf_err e = {0};
    cr_assert_eq(seal_writer_open(&w, &k, fd, &f, &e), CF_OK);
    unsigned char d[2 * TSEG];
    tu_fill(d, sizeof(d), 1);
    cr_assert_eq(seal_writer_write(w, d, 100, &e), CF_OK);
    cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW), 0);
    cr_assert_eq(seal_writer_write(w, d, sizeof(d), &e), CF_EIO);
    cr_assert_eq(seal_writer_write(w, d, 1, NULL), CF_ECONFLICT);
    cr_assert_eq(seal_writer_finish(w, NULL), CF_ECONFLICT);
    seal_writer_free(w);
    close(fd);
}

Test(seal_reader, zero_length_and_past_end_reads)
{
    seal_kek k;
    tu_kek(&k, 6, "reg");
    unsigned char d[10] = "0123456789";
    int fd = tu_seal(&k, d, 10, NULL, 0);
    seal_reader *r = NULL;
    cr_assert_eq(seal_reader_open(&r, &k, fd, NULL), CF_OK);
    unsigned char out[4] = {PATTERN, PATTERN, PATTERN, PATTERN};
    size_t got = 7;
    cr_assert_eq(seal_reader_read(r, 3, out, 0, &got, NULL), CF_OK);
    cr_assert_eq(got, 0);
    cr_assert_eq(seal_reader_read(r, 10, out, 4, &got, NULL), CF_OK);
    cr_assert_eq(got, 0);
    cr_assert_eq(seal_reader_read(r, UINT64_MAX, out, 4, &got, NULL), CF_OK);
    cr_assert_eq(got, 0);
    cr_assert_eq(out[0], PATTERN);
    cr_assert_eq(seal_reader_read(r, 8, out, 4, &got, NULL), CF_OK);
    cr_assert_eq(got, 2);
    cr_assert_eq(memcmp(out, "89", 2), 0);
    seal_reader_free(r);
    close(fd);
}

/* ---- the I/O seam: a writer continued from its header alone ---- */

static cf_code mem_write(void *cls, const void *data, size_t len, cf_err *e)
{
    (void)e;
    int fd = (int)(intptr_t)cls;
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    return CF_OK;
}

/* What an object store does with an upload's parts: the bytes already
 * sent cannot be read back, so the writer is continued from the header
 * kept in the checkpoint and the count of complete segments. The result
 * is the object one pass would have written, byte for byte. */
Test(seal_writer, continued_from_its_header_writes_the_same_object)
{
    seal_kek k;
    tu_kek(&k, 0x31, "0123456789abcdef0123456789abcdef");
    size_t seg = 1024, n = 7 * seg + 333;
    unsigned char *data = malloc(n);
    tu_fill(data, n, 9);
    unsigned char dek[32], prefix[7], oid[16], wn[12];
    memset(dek, 1, sizeof(dek));
    memset(prefix, 2, sizeof(prefix));
    memset(oid, 3, sizeof(oid));
    memset(wn, 4, sizeof(wn));
    seal_fixed fx = {dek, prefix, oid, wn, 10};
    int one = tu_memfd(), two = tu_memfd();
    seal_io io1 = {.cls = (void *)(intptr_t)one, .write = mem_write};
    seal_io io2 = {.cls = (void *)(intptr_t)two, .write = mem_write};
    seal_writer *w = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_writer_open_io(&w, &k, &io1, &fx, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(seal_writer_write(w, data, n, &e), CF_OK);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    /* the same object in two halves: 3 segments, then a "restart" */
    cr_assert_eq(seal_writer_open_io(&w, &k, &io2, &fx, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(seal_writer_write(w, data, 3 * seg + 100, &e), CF_OK);
    unsigned char hdr[SEAL_HEADER_LEN];
    memcpy(hdr, seal_writer_header(w), sizeof(hdr));
    cr_assert_eq(seal_writer_durable(w), 3 * seg);
    seal_writer_free(w); /* the tail (100 bytes) is lost: not durable */
    cr_assert_eq(seal_writer_continue(&w, &k, hdr, 3, &io2, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(seal_writer_length(w), 3 * seg);
    cr_assert_eq(seal_writer_write(w, data + 3 * seg, n - 3 * seg, &e), CF_OK);
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK);
    seal_writer_free(w);
    off_t s1 = tu_fsize(one), s2 = tu_fsize(two);
    cr_assert_eq(s1, s2);
    unsigned char *b1 = malloc((size_t)s1), *b2 = malloc((size_t)s2);
    cr_assert_eq(pread(one, b1, (size_t)s1, 0), s1);
    cr_assert_eq(pread(two, b2, (size_t)s2, 0), s2);
    cr_assert_eq(memcmp(b1, b2, (size_t)s1), 0);
    check_full(&k, two, data, n);
    /* a header that does not authenticate under the KEK is refused */
    hdr[50] ^= 1;
    cr_assert_eq(seal_writer_continue(&w, &k, hdr, 3, &io2, &e), CF_EINTEGRITY);
    cr_assert_null(w);
    free(b1);
    free(b2);
    free(data);
    close(one);
    close(two);
}
