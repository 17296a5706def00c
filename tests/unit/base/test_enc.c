#include <criterion/criterion.h>
#include <string.h>

#include "base/enc.h"

static void roundtrip(const unsigned char *in, size_t len, const char *expect)
{
    cf_buf b, d;
    cf_buf_init(&b, 0);
    cf_buf_init(&d, 0);
    cr_assert_eq(cf_b64url_encode(&b, in, len, NULL), CF_OK);
    cr_assert_str_eq((const char *)b.data, expect);
    cr_assert_eq(b.len, cf_b64url_encoded_len(len));
    cr_assert_eq(cf_b64url_decode(&d, (const char *)b.data, b.len, NULL), CF_OK);
    cr_assert_eq(d.len, len);
    cr_assert(len == 0 || memcmp(d.data, in, len) == 0);
    cf_buf_free(&b);
    cf_buf_free(&d);
}

Test(b64url, encodes_rfc4648_vectors_without_padding)
{
    roundtrip((const unsigned char *)"", 0, "");
    roundtrip((const unsigned char *)"f", 1, "Zg");
    roundtrip((const unsigned char *)"fo", 2, "Zm8");
    roundtrip((const unsigned char *)"foo", 3, "Zm9v");
    roundtrip((const unsigned char *)"foob", 4, "Zm9vYg");
    roundtrip((const unsigned char *)"fooba", 5, "Zm9vYmE");
    roundtrip((const unsigned char *)"foobar", 6, "Zm9vYmFy");
    const unsigned char bin[] = {0xfb, 0xff, 0xfe};
    roundtrip(bin, 3, "-__-");
}

Test(b64url, rejects_padding_bad_chars_and_noncanonical_bits)
{
    const char *bad[] = {"Zg==", "Zm9v+A", "Zm9v/A", "Z", "Zh", "Zm9 v", "Zm9vYh"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_buf d;
        cf_buf_init(&d, 0);
        cf_err e = {0};
        cr_assert_eq(cf_b64url_decode(&d, bad[i], strlen(bad[i]), &e), CF_EINVAL, "%s", bad[i]);
        cf_buf_free(&d);
    }
}

Test(hex, roundtrips_and_rejects_bad_digits)
{
    unsigned char in[] = {0x00, 0x7f, 0xab, 0xff}, out[4];
    char h[9];
    cf_hex_encode(h, in, 4);
    cr_assert_str_eq(h, "007fabff");
    cr_assert_eq(cf_hex_decode(out, 4, "007FABff", 8, NULL), CF_OK);
    cr_assert_eq(memcmp(in, out, 4), 0);
    cr_assert_eq(cf_hex_decode(out, 4, "007fabfg", 8, NULL), CF_EINVAL);
    cr_assert_eq(cf_hex_decode(out, 4, "007fab", 6, NULL), CF_EINVAL);
}

Test(buf, append_past_cap_fails_and_keeps_content)
{
    cf_buf b;
    cf_buf_init(&b, 8);
    cf_err e = {0};
    cr_assert_eq(cf_buf_append(&b, "12345", 5, &e), CF_OK);
    cr_assert_eq(cf_buf_append(&b, "6789", 4, &e), CF_ETOOBIG);
    cr_assert_eq(b.len, 5);
    cr_assert_str_eq((const char *)b.data, "12345");
    cr_assert_eq(cf_buf_append(&b, "678", 3, NULL), CF_OK);
    cr_assert_eq(b.len, 8);
    cf_buf_free(&b);
}

Test(err, first_error_wins)
{
    cf_err e = {0};
    cf_err_set(&e, CF_EINTEGRITY, "segment %d failed", 3);
    cf_err_set(&e, CF_EIO, "outer");
    cr_assert_eq(e.code, CF_EINTEGRITY);
    cr_assert_str_eq(e.msg, "segment 3 failed");
}
