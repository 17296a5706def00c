/*
 * test_manifest.c -- manifest validation and what the registry extracts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "registry/manifest.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char oci_image[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D1
    "\",\"size\":10},"
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2
    "\",\"size\":20}],\"annotations\":{\"b\":\"2\",\"a\":\"1\"}}";

static cf_code parse(manifest *m, const char *json, const char *ct)
{
    return manifest_parse(m, json, strlen(json), ct, NULL);
}

Test(registry_manifest, oci_image_manifest_references)
{
    manifest m;
    cr_assert_eq(parse(&m, oci_image, MT_OCI_MANIFEST), CF_OK);
    cr_assert_eq(m.kind, MANIFEST_OCI_MANIFEST);
    cr_assert_str_eq(m.media_type, MT_OCI_MANIFEST);
    cr_assert_eq(m.nrefs, 2);
    cr_assert_str_eq(m.refs[0].digest.text, D1);
    cr_assert_eq(m.refs[0].size, 10);
    cr_assert_not(m.refs[0].is_manifest);
    cr_assert_str_eq(m.refs[1].digest.text, D2);
    /* no artifactType: the config's media type stands in (referrers) */
    cr_assert_str_eq(m.artifact_type, "application/vnd.oci.image.config.v1+json");
    cr_assert_str_eq(m.annotations, "{\"a\":\"1\",\"b\":\"2\"}");
    cr_assert_not(m.has_subject);
    manifest_free(&m);
}

Test(registry_manifest, kind_from_body_when_no_content_type)
{
    manifest m;
    cr_assert_eq(parse(&m, oci_image, NULL), CF_OK);
    cr_assert_eq(m.kind, MANIFEST_OCI_MANIFEST);
    manifest_free(&m);
    cr_assert_eq(parse(&m, oci_image, "application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
                 CF_OK);
    manifest_free(&m);
}

Test(registry_manifest, content_type_must_match_body)
{
    manifest m;
    cr_assert_eq(parse(&m, oci_image, MT_OCI_INDEX), CF_EINVAL);
    manifest_free(&m);
    cr_assert_eq(parse(&m, oci_image, MT_DOCKER_MANIFEST), CF_EINVAL);
    manifest_free(&m);
}

Test(registry_manifest, index_with_subject_and_artifact_type)
{
    const char *j =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        "\"artifactType\":\"application/vnd.example.sbom\","
        "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"" D1 "\",\"size\":5,\"platform\":{\"os\":\"linux\"}}],"
        "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"" D3 "\",\"size\":7}}";
    manifest m;
    cr_assert_eq(parse(&m, j, MT_OCI_INDEX), CF_OK);
    cr_assert_eq(m.kind, MANIFEST_OCI_INDEX);
    cr_assert_eq(m.nrefs, 1);
    cr_assert(m.refs[0].is_manifest);
    cr_assert(m.has_subject);
    cr_assert_str_eq(m.subject.text, D3);
    cr_assert_str_eq(m.artifact_type, "application/vnd.example.sbom");
    manifest_free(&m);
}

Test(registry_manifest, docker_schema2_and_list)
{
    const char *img =
        "{\"schemaVersion\":2,\"mediaType\":"
        "\"application/vnd.docker.distribution.manifest.v2+json\","
        "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
        "\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{\"mediaType\":"
        "\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"" D2
        "\",\"size\":2,\"urls\":[\"https://example.com/l\"]}]}";
    manifest m;
    cr_assert_eq(parse(&m, img, MT_DOCKER_MANIFEST), CF_OK);
    cr_assert_eq(m.kind, MANIFEST_DOCKER_MANIFEST);
    cr_assert_eq(m.nrefs, 2);
    cr_assert_not(m.refs[0].foreign);
    cr_assert(m.refs[1].foreign);
    cr_assert_str_eq(m.artifact_type, ""); /* only OCI manifests have one */
    manifest_free(&m);
    const char *list =
        "{\"schemaVersion\":2,\"mediaType\":"
        "\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":"
        "[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
        "\"digest\":\"" D1 "\",\"size\":3}]}";
    cr_assert_eq(parse(&m, list, NULL), CF_OK);
    cr_assert_eq(m.kind, MANIFEST_DOCKER_LIST);
    cr_assert(m.refs[0].is_manifest);
    manifest_free(&m);
}

Test(registry_manifest, rejects_invalid_manifests)
{
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"schemaVersion\":1,\"config\":{},\"layers\":[]}",
        "{\"schemaVersion\":2}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1}}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:zz\","
        "\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
        "\",\"size\":-1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
        "\",\"size\":1},\"layers\":[5]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/x-unknown\",\"manifests\":[]}",
        "{\"schemaVersion\":2,\"manifests\":{}}",
        "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":1}}",
        "{\"schemaVersion\":2,\"manifests\":[],\"subject\":{\"digest\":\"" D1 "\"}}",
        "{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}",
        /* Docker types need mediaType in the body */
        "{\"schemaVersion\":2,\"manifests\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        manifest m;
        const char *ct = i == sizeof(bad) / sizeof(bad[0]) - 1 ? MT_DOCKER_LIST : NULL;
        cf_err e = {0};
        cf_code rc = manifest_parse(&m, bad[i], strlen(bad[i]), ct, &e);
        cr_assert_eq(rc, CF_EINVAL, "input %zu accepted: %s", i, bad[i]);
        cr_assert_eq(m.nrefs, 0);
        cr_assert_null(m.refs);
        manifest_free(&m);
    }
}

Test(registry_manifest, refuses_more_than_4_mib)
{
    manifest m;
    cr_assert_eq(manifest_parse(&m, oci_image, MANIFEST_MAX_SIZE + 1, NULL, NULL), CF_ETOOBIG);
}

Test(registry_manifest, empty_index_is_valid)
{
    manifest m;
    cr_assert_eq(parse(&m, "{\"schemaVersion\":2,\"manifests\":[]}", NULL), CF_OK);
    cr_assert_eq(m.kind, MANIFEST_OCI_INDEX);
    cr_assert_eq(m.nrefs, 0);
    manifest_free(&m);
}

Test(registry_manifest, index_pick_finds_the_platform)
{
    const char *j =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"digest\":\"" D1 "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
        "{\"digest\":\"" D2 "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
    oci_digest d;
    cr_assert_eq(manifest_index_pick(&d, j, strlen(j), "linux", "amd64", NULL), CF_OK);
    cr_assert_str_eq(d.text, D2);
    cr_assert_eq(manifest_index_pick(&d, j, strlen(j), "windows", "amd64", NULL), CF_ENOTFOUND);
    cr_assert_eq(manifest_index_pick(&d, oci_image, strlen(oci_image), "linux", "amd64", NULL),
                 CF_EINVAL);
}
