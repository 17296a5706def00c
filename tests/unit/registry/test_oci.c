/*
 * test_oci.c -- the OCI grammars: names, tags, references, upload
 * Content-Range and blob Range (digests: tests/unit/crypto/test_digest.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "registry/oci.h"

#define S(x) x, strlen(x)

static const char *H64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
