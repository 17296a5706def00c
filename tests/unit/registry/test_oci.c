/*
 * test_oci.c -- the OCI grammars: digests, names, tags, references,
 * upload Content-Range and blob Range.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "registry/oci.h"

#define S(x) x, strlen(x)

static const char *H64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Test(registry_digest, accepts_sha256_and_sha512)
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

Test(registry_digest, rejects_malformed_digests)
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

Test(registry_digest, unknown_algorithm_is_unsupported)
{
    oci_digest d;
    cr_assert_eq(oci_digest_parse(&d, S("md5:d41d8cd98f00b204e9800998ecf8427e"), NULL),
                 CF_EUNSUPPORTED);
    cr_assert_eq(
        oci_digest_parse(&d, S("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"),
                         NULL),
        CF_EUNSUPPORTED);
}

Test(registry_digest, respects_length_without_nul)
{
    char buf[200];
    oci_digest d;
    snprintf(buf, sizeof(buf), "sha256:%sXYZ", H64);
    cr_assert_eq(oci_digest_parse(&d, buf, 7 + 64, NULL), CF_OK);
    cr_assert_eq(strlen(d.text), 71);
}

Test(registry_digest, from_raw_round_trips)
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

Test(registry_name, follows_the_spec_regex)
{
    cr_assert(oci_name_valid(S("a")));
    cr_assert(oci_name_valid(S("library/ubuntu")));
    cr_assert(oci_name_valid(S("a.b_c__d-e---f/g0")));
    cr_assert(oci_name_valid(S("demo/x/y/z")));
    cr_assert_not(oci_name_valid(S("")));
    cr_assert_not(oci_name_valid(S("Upper")));
    cr_assert_not(oci_name_valid(S("a//b")));
    cr_assert_not(oci_name_valid(S("/a")));
    cr_assert_not(oci_name_valid(S("a/")));
    cr_assert_not(oci_name_valid(S("a___b")));
    cr_assert_not(oci_name_valid(S("a..b")));
    cr_assert_not(oci_name_valid(S("-a")));
    cr_assert_not(oci_name_valid(S("a-")));
    cr_assert_not(oci_name_valid(S("a_.b")));
    cr_assert_not(oci_name_valid(S("a b")));
    cr_assert_not(oci_name_valid(S("a/../b")));
}

Test(registry_name, caps_length_at_255)
{
    char buf[300];
    memset(buf, 'a', sizeof(buf));
    cr_assert(oci_name_valid(buf, 255));
    cr_assert_not(oci_name_valid(buf, 256));
}

Test(registry_tag, follows_the_spec_regex)
{
    char buf[200];
    cr_assert(oci_tag_valid(S("latest")));
    cr_assert(oci_tag_valid(S("_x")));
    cr_assert(oci_tag_valid(S("V1.2.3-rc_1")));
    cr_assert_not(oci_tag_valid(S("")));
    cr_assert_not(oci_tag_valid(S(".x")));
    cr_assert_not(oci_tag_valid(S("-x")));
    cr_assert_not(oci_tag_valid(S("a:b")));
    cr_assert_not(oci_tag_valid(S("a/b")));
    memset(buf, 'a', sizeof(buf));
    cr_assert(oci_tag_valid(buf, 128));
    cr_assert_not(oci_tag_valid(buf, 129));
}

Test(registry_name, registry_names_are_5_to_50_alphanumerics)
{
    cr_assert(oci_registry_name_valid(S("demo1")));
    cr_assert(oci_registry_name_valid(S("MyRegistry")));
    cr_assert_not(oci_registry_name_valid(S("demo")));
    cr_assert_not(oci_registry_name_valid(S("my-registry")));
    char buf[60];
    memset(buf, 'a', sizeof(buf));
    cr_assert(oci_registry_name_valid(buf, 50));
    cr_assert_not(oci_registry_name_valid(buf, 51));
}

Test(registry_reference, tag_or_digest)
{
    oci_reference r;
    char buf[200];
    cr_assert_eq(oci_reference_parse(&r, S("v1"), NULL), CF_OK);
    cr_assert_not(r.is_digest);
    cr_assert_str_eq(r.tag, "v1");
    snprintf(buf, sizeof(buf), "sha256:%s", H64);
    cr_assert_eq(oci_reference_parse(&r, S(buf), NULL), CF_OK);
    cr_assert(r.is_digest);
    cr_assert_str_eq(r.digest.text, buf);
    cr_assert_eq(oci_reference_parse(&r, S("sha256:nothex"), NULL), CF_EINVAL);
    cr_assert(r.is_digest);
    cr_assert_eq(oci_reference_parse(&r, S("bad tag"), NULL), CF_EINVAL);
    cr_assert_not(r.is_digest);
}

Test(registry_content_range, parses_start_end)
{
    uint64_t a, b;
    cr_assert_eq(oci_content_range_parse(&a, &b, S("0-99"), NULL), CF_OK);
    cr_assert_eq(a, 0);
    cr_assert_eq(b, 99);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("bytes 100-199"), NULL), CF_OK);
    cr_assert_eq(a, 100);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("bytes=5-5"), NULL), CF_OK);
    cr_assert_eq(b, 5);
}

Test(registry_content_range, rejects_malformed)
{
    uint64_t a, b;
    cr_assert_eq(oci_content_range_parse(&a, &b, S(""), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("5"), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("5-"), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("-5"), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("9-5"), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("1-2x"), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("1 -2"), NULL), CF_EINVAL);
    cr_assert_eq(oci_content_range_parse(&a, &b, S("0-99999999999999999999"), NULL), CF_EINVAL);
}

Test(registry_range, satisfiable_forms)
{
    uint64_t a, b;
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=0-9"), 100, NULL), CF_OK);
    cr_assert_eq(a, 0);
    cr_assert_eq(b, 9);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=90-"), 100, NULL), CF_OK);
    cr_assert_eq(a, 90);
    cr_assert_eq(b, 99);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=-10"), 100, NULL), CF_OK);
    cr_assert_eq(a, 90);
    cr_assert_eq(b, 99);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=-1000"), 100, NULL), CF_OK);
    cr_assert_eq(a, 0);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=50-1000"), 100, NULL), CF_OK);
    cr_assert_eq(b, 99);
}

Test(registry_range, unsatisfiable_and_malformed)
{
    uint64_t a, b;
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=100-"), 100, NULL), CF_ERANGE);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=0-0"), 0, NULL), CF_ERANGE);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=-0"), 100, NULL), CF_ERANGE);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=9-5"), 100, NULL), CF_EINVAL);
    cr_assert_eq(oci_range_parse(&a, &b, S("items=0-5"), 100, NULL), CF_EINVAL);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=x-5"), 100, NULL), CF_EINVAL);
    cr_assert_eq(oci_range_parse(&a, &b, S("bytes=0-1,5-6"), 100, NULL), CF_EUNSUPPORTED);
}
