/*
 * test_digest.c -- content digests (crypto/digest.h): sha256 and sha512
 * accepted in their one canonical spelling, other algorithms unsupported,
 * everything else malformed; raw bytes round-trip to text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto/digest.h"

#define S(x) x, strlen(x)

static const char *H64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Test(crypto_digest, accepts_sha256_and_sha512)
{
    char buf[200];
    oci_digest d;
    snprintf(buf, sizeof(buf), "sha256:%s", H64);
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_OK);
    cr_assert_eq(d.alg, OCI_ALG_SHA256);
    cr_assert_str_eq(d.text, buf);
    cr_assert_str_eq(oci_digest_hex(&d), H64);
    snprintf(buf, sizeof(buf), "sha512:%s%s", H64, H64);
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_OK);
    cr_assert_eq(d.alg, OCI_ALG_SHA512);
    cr_assert_eq(d.len, 7 + 128);
}

Test(crypto_digest, rejects_malformed_digests)
{
    char buf[200];
    oci_digest d;
    cr_assert_eq(oci_digest_parse(&d, S("sha256"), NULL), CF_EINVAL);
    cr_assert_eq(oci_digest_parse(&d, S("sha256:"), NULL), CF_EINVAL);
    cr_assert_eq(oci_digest_parse(&d, S(":abc"), NULL), CF_EINVAL);
    snprintf(buf, sizeof(buf), "sha256:%.63s", H64); /* too short */
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_EINVAL);
    snprintf(buf, sizeof(buf), "sha256:%sa", H64); /* too long */
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_EINVAL);
    snprintf(buf, sizeof(buf), "sha256:%s", H64);
    buf[10] = 'A'; /* uppercase hex is not canonical */
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_EINVAL);
    snprintf(buf, sizeof(buf), "SHA256:%s", H64);
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_EINVAL);
    snprintf(buf, sizeof(buf), "sha256:%s", H64);
    buf[20] = 'g';
    cr_assert_eq(oci_digest_parse(&d, S(buf), NULL), CF_EINVAL);
}

Test(crypto_digest, unknown_algorithm_is_unsupported)
{
    oci_digest d;
    cr_assert_eq(oci_digest_parse(&d, S("md5:d41d8cd98f00b204e9800998ecf8427e"), NULL),
                 CF_EUNSUPPORTED);
    cr_assert_eq(
        oci_digest_parse(&d, S("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"),
                         NULL),
        CF_EUNSUPPORTED);
}

Test(crypto_digest, respects_length_without_nul)
{
    char buf[200];
    oci_digest d;
    snprintf(buf, sizeof(buf), "sha256:%sXYZ", H64);
    cr_assert_eq(oci_digest_parse(&d, buf, 7 + 64, NULL), CF_OK);
    cr_assert_eq(strlen(d.text), 71);
}

Test(crypto_digest, from_raw_round_trips)
{
    unsigned char raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)(i * 7);
    oci_digest d, p;
    oci_digest_from_raw(&d, OCI_ALG_SHA256, raw);
    cr_assert_eq(oci_digest_parse(&p, d.text, d.len, NULL), CF_OK);
    cr_assert_str_eq(p.text, d.text);
    cr_assert_eq(strncmp(d.text, "sha256:00070e15", 15), 0);
}
