/*
 * test_meta.c -- the SQLite metadata store on a real database file:
 * manifests and tags, pagination, referrers with the artifactType
 * filter, deletes and what they leave for the blob store to remove.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../test_tmpdir.h"
#include "store/meta.h"

#define REG "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define M1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define M2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define L1 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static char dir[256];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "meta");
    char db[300];
    snprintf(db, sizeof(db), "%s/cofferd.db", dir);
    cr_assert_eq(meta_init(db, NULL), CF_OK);
}

static void teardown(void)
{
    meta_shutdown();
    test_tmpdir_remove(dir);
}

TestSuite(store_meta, .init = setup, .fini = teardown);

static void put(const char *repo, const char *digest, const char *tag, const char *subject,
                const char *artifact_type)
{
    const char *refs[] = {L1};
    const int ism[] = {0};
    meta_manifest_put_args a = {
        .reg = REG,
        .repo = repo,
        .digest = digest,
        .media_type = "application/vnd.oci.image.manifest.v1+json",
        .artifact_type = artifact_type,
        .subject = subject,
        .size = 100,
        .tag = tag,
        .nrefs = 1,
        .ref_digests = refs,
        .ref_is_manifest = ism,
    };
    cr_assert_eq(meta_manifest_put(&a, NULL), CF_OK);
}

typedef struct {
    char v[8][64];
    int n;
} list;

static int collect(void *cls, const char *value)
{
    list *l = cls;
    if (l->n < 8)
        snprintf(l->v[l->n++], 64, "%s", value);
    return 0;
}

static int count(void *cls, const meta_referrer *r)
{
    cr_assert_str_eq(r->digest, M2);
    (*(int *)cls)++;
    return 0;
}

static int seen(void *cls, const char *uuid, const char *r)
{
    (void)uuid;
    (void)r;
    (*(int *)cls)++;
    return 0;
}

Test(store_meta, registry_names_are_unique_and_case_insensitive)
{
    meta_registry r = {0}, g;
    snprintf(r.id, sizeof(r.id), "%s", REG);
    snprintf(r.name, sizeof(r.name), "Demo1");
    cr_assert_eq(meta_registry_create(&r, NULL), CF_OK);
    cr_assert_eq(meta_registry_get(&g, "demo1", NULL), CF_OK);
    cr_assert_str_eq(g.id, REG);
    cr_assert_str_eq(g.name, "demo1");
    cr_assert_eq(g.cmk, 0);
    cr_assert_str_eq(g.sku, "Premium");
    cr_assert_eq(meta_registry_get(&g, "DEMO1", NULL), CF_OK);
    snprintf(r.id, sizeof(r.id), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    cr_assert_eq(meta_registry_create(&r, NULL), CF_EEXISTS);
    cr_assert_eq(meta_registry_get(&g, "other", NULL), CF_ENOTFOUND);
}

Test(store_meta, tags_paginate_in_order)
{
    put("app", M1, "b", NULL, NULL);
    put("app", M1, "a", NULL, NULL);
    put("app", M1, "c", NULL, NULL);
    list l = {0};
    int more = 0;
    cr_assert_eq(meta_tags_list(REG, "app", NULL, 2, collect, &l, &more, NULL), CF_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.v[0], "a");
    cr_assert_str_eq(l.v[1], "b");
    cr_assert_eq(more, 1);
    list l2 = {0};
    cr_assert_eq(meta_tags_list(REG, "app", "b", 2, collect, &l2, &more, NULL), CF_OK);
    cr_assert_eq(l2.n, 1);
    cr_assert_str_eq(l2.v[0], "c");
    cr_assert_eq(more, 0);
    meta_manifest m;
    cr_assert_eq(meta_tag_get(&m, REG, "app", "c", NULL), CF_OK);
    cr_assert_str_eq(m.digest, M1);
    cr_assert_eq(m.size, 100);
}

Test(store_meta, referrers_filter_by_artifact_type)
{
    put("app", M1, "v1", NULL, NULL);
    put("app", M2, NULL, M1, "application/vnd.example.sbom");
    int n = 0;
    cr_assert_eq(meta_referrers(REG, "app", M1, NULL, count, &n, NULL), CF_OK);
    cr_assert_eq(n, 1);
    n = 0;
    cr_assert_eq(meta_referrers(REG, "app", M1, "application/vnd.example.sbom", count, &n, NULL),
                 CF_OK);
    cr_assert_eq(n, 1);
    n = 0;
    cr_assert_eq(meta_referrers(REG, "app", M1, "application/other", count, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
    n = 0;
    cr_assert_eq(meta_referrers(REG, "other", M1, NULL, count, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
}

Test(store_meta, manifest_delete_takes_tags_and_frees_unused_bytes)
{
    put("app", M1, "v1", NULL, NULL);
    put("other", M1, "v1", NULL, NULL);
    int orphaned = -1;
    cr_assert_eq(meta_manifest_delete(REG, "app", M1, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 0); /* "other" still has it */
    meta_manifest m;
    cr_assert_eq(meta_tag_get(&m, REG, "app", "v1", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_manifest_delete(REG, "app", M1, &orphaned, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_manifest_delete(REG, "other", M1, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 1);
    cr_assert_eq(meta_blob_stat(REG, NULL, M1, NULL, NULL), CF_ENOTFOUND);
}

Test(store_meta, tag_delete_keeps_the_manifest)
{
    put("app", M1, "v1", NULL, NULL);
    cr_assert_eq(meta_tag_delete(REG, "app", "v1", NULL), CF_OK);
    cr_assert_eq(meta_tag_delete(REG, "app", "v1", NULL), CF_ENOTFOUND);
    meta_manifest m;
    cr_assert_eq(meta_manifest_get(&m, REG, "app", M1, NULL), CF_OK);
}

Test(store_meta, a_referenced_layer_outlives_its_link)
{
    cr_assert_eq(meta_blob_commit(REG, "app", L1, 5, NULL, NULL), CF_OK);
    put("app", M1, "v1", NULL, NULL); /* references L1 */
    int orphaned = -1;
    cr_assert_eq(meta_blob_unlink(REG, "app", L1, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 0);
    cr_assert_eq(meta_blob_stat(REG, NULL, L1, NULL, NULL), CF_OK);
}

Test(store_meta, uploads_are_found_and_listed_by_age)
{
    cr_assert_eq(meta_upload_create("u1", REG, "app", NULL), CF_OK);
    char reg[META_ID_LEN + 1], repo[64];
    cr_assert_eq(meta_upload_get("u1", reg, repo, sizeof(repo), NULL), CF_OK);
    cr_assert_str_eq(repo, "app");
    cr_assert_eq(meta_upload_get("u2", reg, repo, sizeof(repo), NULL), CF_ENOTFOUND);
    int n = 0;
    cr_assert_eq(meta_upload_each_older(time(NULL) + 10, seen, &n, NULL), CF_OK);
    cr_assert_eq(n, 1);
    n = 0;
    cr_assert_eq(meta_upload_each_older(time(NULL) - 10, seen, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
}
