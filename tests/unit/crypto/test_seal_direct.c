/*
 * test_seal_direct.c -- seal_reader_read_into, the pull path's reader that
 * decrypts whole segments from a mapping of the file straight into the
 * caller's buffer: same plaintext as seal_reader_read for every offset and
 * length, and on tampering it fails with *got counting only the authentic
 * segments before the bad one, whose bytes in the buffer are wiped.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/seal.h"
#include "seal_test_util.h"

#define DSEG 1024
#define DSTRIDE (DSEG + 16)
#define DHDR 96
#define DN (40 * DSEG + 300) /* 40 full segments and a final one of 300 bytes */

static unsigned char ddata[DN];

static int direct_object(const seal_kek *k)
{
    tu_fill(ddata, DN, 4242);
    seal_fixed f = {.log2_segment = 10};
    return tu_seal(k, ddata, DN, &f, 0);
}

Test(seal_direct, reads_match_the_plaintext_at_any_offset_and_length)
{
    seal_kek k;
    tu_kek(&k, 0x31, "direct1");
    int fd = direct_object(&k);
    seal_reader *r = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_reader_open(&r, &k, fd, &e), CF_OK, "%s", e.msg);
    static unsigned char out[DN + 64];
    /* sequential, as an HTTP body reader: aligned blocks of several segments */
    size_t blocks[] = {4 * DSEG, 3 * DSEG + 7, DN, 100};
    for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
        size_t off = 0;
        memset(out, 0, sizeof(out));
        while (off < DN) {
            size_t got = 0;
            cr_assert_eq(seal_reader_read_into(r, off, out + off, blocks[b], &got, &e), CF_OK, "%s",
                         e.msg);
            cr_assert(got > 0);
            off += got;
        }
        cr_assert_eq(off, DN);
        cr_assert_eq(memcmp(out, ddata, DN), 0, "block %zu", blocks[b]);
    }
    /* random offsets and lengths, including unaligned starts and the final segment */
    uint64_t st = 99;
    for (int t = 0; t < 300; t++) {
        size_t off = (size_t)(tu_rand(&st) % DN);
        size_t len = 1 + (size_t)(tu_rand(&st) % (DN - off + 20));
        size_t got = 0;
        cr_assert_eq(seal_reader_read_into(r, off, out, len, &got, &e), CF_OK, "%s", e.msg);
        size_t want = len < DN - off ? len : DN - off;
        cr_assert_eq(got, want, "read %zu+%zu", off, len);
        cr_assert_eq(memcmp(out, ddata + off, got), 0, "read %zu+%zu", off, len);
    }
    size_t got = 1;
    cr_assert_eq(seal_reader_read_into(r, DN, out, 10, &got, &e), CF_OK);
    cr_assert_eq(got, 0);
    seal_reader_free(r);
    close(fd);
}

Test(seal_direct, tampered_segment_stops_the_read_and_is_wiped)
{
    seal_kek k;
    tu_kek(&k, 0x32, "direct2");
    int fd = direct_object(&k);
    /* flip one ciphertext byte in segment 5 */
    tu_pwrite_byte_xor(fd, DHDR + 5 * DSTRIDE + 200, 0x01);
    seal_reader *r = NULL;
    cf_err e = {0};
    cr_assert_eq(seal_reader_open(&r, &k, fd, &e), CF_OK, "%s", e.msg);
    static unsigned char out[DN];
    memset(out, 0xA5, sizeof(out));
    size_t got = 12345;
    cr_assert_eq(seal_reader_read_into(r, 2 * DSEG, out, 8 * DSEG, &got, &e), CF_EINTEGRITY);
    cr_assert_eq(e.code, CF_EINTEGRITY);
    cr_assert_eq(got, 3 * DSEG, "segments 2..4 are authentic, 5 is not");
    cr_assert_eq(memcmp(out, ddata + 2 * DSEG, got), 0);
    for (size_t i = got; i < got + DSEG; i++)
        cr_assert_eq(out[i], 0, "byte %zu of the bad segment survived", i);
    /* reads that do not touch segment 5 still succeed */
    cr_assert_eq(seal_reader_read_into(r, 6 * DSEG, out, 4 * DSEG, &got, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(memcmp(out, ddata + 6 * DSEG, 4 * DSEG), 0);
    seal_reader_free(r);
    close(fd);
}

Test(seal_direct, writer_tail_is_the_unsealed_plaintext)
{
    seal_kek k;
    tu_kek(&k, 0x33, "direct3");
    int fd = tu_memfd();
    seal_writer *w = NULL;
    cf_err e = {0};
    seal_fixed f = {.log2_segment = 10};
    cr_assert_eq(seal_writer_open(&w, &k, fd, &f, &e), CF_OK, "%s", e.msg);
    tu_fill(ddata, DN, 4343);
    size_t len = 0;
    /* chunks that straddle segments, fill one exactly, and seal straight from the caller */
    size_t chunks[] = {100, 1500, 448, 3 * DSEG, 5, DSEG + 1};
    size_t done = 0;
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        cr_assert_eq(seal_writer_write(w, ddata + done, chunks[c], &e), CF_OK, "%s", e.msg);
        done += chunks[c];
        const unsigned char *t = seal_writer_tail(w, &len);
        cr_assert_eq(len, done % DSEG, "after %zu bytes", done);
        cr_assert_eq(seal_writer_length(w) - seal_writer_durable(w), len);
        cr_assert(len == 0 || memcmp(t, ddata + done - len, len) == 0, "after %zu bytes", done);
    }
    cr_assert_eq(seal_writer_finish(w, &e), CF_OK, "%s", e.msg);
    cr_assert_null(seal_writer_tail(w, &len));
    cr_assert_eq(len, 0);
    seal_writer_free(w);
    close(fd);
}
