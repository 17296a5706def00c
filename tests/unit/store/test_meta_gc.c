/*
 * test_meta_gc.c -- the reachability rules of garbage collection and
 * retention (store/meta_gc.c, registry/gc.h) on a real database: SQLite,
 * or PostgreSQL when COFFER_TEST_PG is set (test_db.h; scripts/test-all
 * runs this suite on both). What a collection may remove: a repository's
 * link no manifest of that repository references, past the cutoff; the
 * blob row once nothing of the registry uses the digest. What retention
 * may delete: a manifest without a tag, not in an index of its
 * repository, and not a referrer of a manifest still there. And the
 * manifest PUT's own check of its references.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "store/meta.h"

#define REG "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define M1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define M2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define IX "sha256:4444444444444444444444444444444444444444444444444444444444444444"
#define RF "sha256:5555555555555555555555555555555555555555555555555555555555555555"
#define LX "sha256:aaaa333333333333333333333333333333333333333333333333333333333333"
#define LY "sha256:bbbb333333333333333333333333333333333333333333333333333333333333"

static char dir[256];
static char target[512];

static void setup(void)
{
    test_meta_open(dir, sizeof(dir), target, sizeof(target), "metagc");
}

static void teardown(void)
{
    test_meta_close(dir, target);
}

TestSuite(store_meta_gc, .init = setup, .fini = teardown);

/* every link made so far is older than this */
static int64_t later(void)
{
    return (int64_t)time(NULL) + 10;
}

static cf_code put(const char *repo, const char *digest, const char *tag, const char *subject,
                   const char *ref, int ref_is_manifest)
{
    const char *refs[] = {ref};
    const int ism[] = {ref_is_manifest};
    const int req[] = {1};
    meta_manifest_put_args a = {
        .reg = REG,
        .repo = repo,
        .digest = digest,
        .media_type = ref_is_manifest ? "application/vnd.oci.image.index.v1+json"
                                      : "application/vnd.oci.image.manifest.v1+json",
        .subject = subject,
        .size = 100,
        .tag = tag,
        .nrefs = ref ? 1 : 0,
        .ref_digests = refs,
        .ref_is_manifest = ism,
        .ref_required = req,
    };
    return meta_manifest_put(&a, NULL);
}

static int count_digest(void *cls, const char *d)
{
    (void)d;
    (*(int *)cls)++;
    return 0;
}

static int digests(int64_t cutoff)
{
    int n = 0, more = 0;
    cr_assert_eq(meta_gc_digests(REG, cutoff, NULL, 100, count_digest, &n, &more, NULL), CF_OK);
    return n;
}

Test(store_meta_gc, an_unreferenced_link_is_garbage_only_past_the_cutoff)
{
    cr_assert_eq(meta_blob_commit(REG, "app", LX, 1000, NULL, NULL), CF_OK);
    cr_assert_eq(meta_blob_commit(REG, "app", LY, 20, NULL, NULL), CF_OK);
    cr_assert_eq(put("app", M1, "v1", NULL, LX, 0), CF_OK);
    int64_t links, blobs, bytes;
    /* within the grace period: nothing */
    cr_assert_eq(meta_gc_estimate(REG, (int64_t)time(NULL) - 3600, &links, &blobs, &bytes, NULL),
                 CF_OK);
    cr_assert_eq(links + blobs + bytes, 0);
    cr_assert_eq(digests((int64_t)time(NULL) - 3600), 0);
    /* past it: LY only (LX is referenced) */
    cr_assert_eq(meta_gc_estimate(REG, later(), &links, &blobs, &bytes, NULL), CF_OK);
    cr_assert_eq(links, 1);
    cr_assert_eq(blobs, 1);
    cr_assert_eq(bytes, 20);
    cr_assert_eq(digests(later()), 1);
    int orphaned;
    int64_t size;
    cr_assert_eq(meta_gc_collect(REG, LX, later(), &links, &orphaned, &size, NULL), CF_OK);
    cr_assert_eq(links, 0, "a referenced link stays");
    cr_assert_eq(orphaned, 0);
    cr_assert_eq(meta_gc_collect(REG, LY, later(), &links, &orphaned, &size, NULL), CF_OK);
    cr_assert_eq(links, 1);
    cr_assert_eq(orphaned, 1);
    cr_assert_eq(size, 20);
    cr_assert_eq(meta_blob_stat(REG, NULL, LY, NULL, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_blob_stat(REG, "app", LX, NULL, NULL), CF_OK);
    cr_assert_eq(digests(later()), 0);
}

Test(store_meta_gc, reachability_is_per_repository_and_the_blob_stays_while_one_uses_it)
{
    cr_assert_eq(meta_blob_commit(REG, "app", LX, 1000, NULL, NULL), CF_OK);
    cr_assert_eq(meta_blob_commit(REG, "other", LX, 1000, NULL, NULL), CF_OK);
    cr_assert_eq(put("app", M1, "v1", NULL, LX, 0), CF_OK);
    int64_t links, size;
    int orphaned;
    cr_assert_eq(meta_gc_collect(REG, LX, later(), &links, &orphaned, &size, NULL), CF_OK);
    cr_assert_eq(links, 1, "other's link: no manifest of other references LX");
    cr_assert_eq(orphaned, 0, "app's manifest still uses it");
    cr_assert_eq(meta_blob_stat(REG, "other", LX, NULL, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_blob_stat(REG, "app", LX, NULL, NULL), CF_OK);
    /* the manifest goes: the blob follows at the next collection */
    cr_assert_eq(meta_manifest_delete(REG, "app", M1, &orphaned, NULL), CF_OK);
    cr_assert_eq(meta_gc_collect(REG, LX, later(), &links, &orphaned, &size, NULL), CF_OK);
    cr_assert_eq(links, 1);
    cr_assert_eq(orphaned, 1);
}

Test(store_meta_gc, a_link_made_again_starts_its_grace_period_again)
{
    cr_assert_eq(meta_blob_commit(REG, "app", LX, 1000, NULL, NULL), CF_OK);
    int64_t now = (int64_t)time(NULL);
    /* a cutoff just past the first link's second, before the second's */
    struct timespec ts = {1, 100000000};
    nanosleep(&ts, NULL);
    cr_assert_eq(meta_blob_commit(REG, "app", LX, 1000, NULL, NULL), CF_OK);
    cr_assert_eq(digests(now + 1), 0, "made again after the cutoff");
    cr_assert_eq(meta_blob_touch(REG, "app", LX, 60, NULL), CF_OK);
    cr_assert_eq(meta_blob_touch(REG, "app", LY, 60, NULL), CF_ENOTFOUND);
}

Test(store_meta_gc, a_manifest_put_checks_its_references_in_its_transaction)
{
    cr_assert_eq(put("app", M1, "v1", NULL, LX, 0), CF_ENOTFOUND, "no such blob");
    cr_assert_eq(meta_blob_commit(REG, "other", LX, 1000, NULL, NULL), CF_OK);
    cf_err e = {0};
    const char *refs[] = {LX};
    const int ism[] = {0}, req[] = {1};
    meta_manifest_put_args a = {.reg = REG,
                                .repo = "app",
                                .digest = M1,
                                .media_type = "application/vnd.oci.image.manifest.v1+json",
                                .size = 100,
                                .tag = "v1",
                                .nrefs = 1,
                                .ref_digests = refs,
                                .ref_is_manifest = ism,
                                .ref_required = req};
    cr_assert_eq(meta_manifest_put(&a, &e), CF_ENOTFOUND, "linked in another repository only");
    cr_assert(strstr(e.msg, LX) != NULL, "%s", e.msg);
    meta_manifest m;
    cr_assert_eq(meta_manifest_get(&m, REG, "app", M1, NULL), CF_ENOTFOUND, "nothing written");
    cr_assert_eq(meta_blob_commit(REG, "app", LX, 1000, NULL, NULL), CF_OK);
    cr_assert_eq(meta_manifest_put(&a, NULL), CF_OK);
    /* an index needs its child manifest in the repository */
    cr_assert_eq(put("app", IX, "multi", NULL, M2, 1), CF_ENOTFOUND);
    cr_assert_eq(put("app", IX, "multi", NULL, M1, 1), CF_OK);
}

typedef struct seen {
    int n;
    char digest[4][80];
} seen;

static int see(void *cls, const char *repo, const char *digest, int64_t size)
{
    (void)repo;
    (void)size;
    seen *s = cls;
    if (s->n < 4)
        snprintf(s->digest[s->n], sizeof(s->digest[0]), "%s", digest);
    s->n++;
    return 0;
}

static seen untagged(int64_t cutoff)
{
    seen s = {0};
    int more = 0;
    cr_assert_eq(meta_untagged_each(REG, cutoff, NULL, NULL, 100, see, &s, &more, NULL), CF_OK);
    return s;
}

Test(store_meta_gc, retention_deletes_untagged_manifests_not_in_an_index_nor_attached)
{
    cr_assert_eq(meta_blob_commit(REG, "app", LX, 1000, NULL, NULL), CF_OK);
    cr_assert_eq(put("app", M1, "v1", NULL, LX, 0), CF_OK);    /* tagged */
    cr_assert_eq(put("app", M2, NULL, NULL, LX, 0), CF_OK);    /* untagged, in the index */
    cr_assert_eq(put("app", IX, "multi", NULL, M2, 1), CF_OK); /* tagged index */
    cr_assert_eq(put("app", RF, NULL, M1, LX, 0), CF_OK);      /* a referrer of M1 */
    cr_assert_eq(untagged(later()).n, 0);
    cr_assert_eq(untagged((int64_t)time(NULL) - 3600).n, 0);
    /* the index loses its tag: it goes, then its child */
    cr_assert_eq(meta_tag_delete(REG, "app", "multi", NULL), CF_OK);
    seen s = untagged(later());
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.digest[0], IX);
    cr_assert_eq(untagged((int64_t)time(NULL) - 3600).n, 0, "younger than the policy's days");
    int del, orphaned;
    cr_assert_eq(meta_untagged_delete(REG, "app", IX, later(), &del, &orphaned, NULL), CF_OK);
    cr_assert_eq(del, 1);
    cr_assert_eq(orphaned, 1);
    s = untagged(later());
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.digest[0], M2);
    /* tagged meanwhile: the delete looks again and leaves it */
    cr_assert_eq(put("app", M2, "again", NULL, LX, 0), CF_OK);
    cr_assert_eq(meta_untagged_delete(REG, "app", M2, later(), &del, &orphaned, NULL), CF_OK);
    cr_assert_eq(del, 0);
    /* the subject goes: its referrer is untagged now */
    cr_assert_eq(meta_manifest_delete(REG, "app", M1, &orphaned, NULL), CF_OK);
    s = untagged(later());
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.digest[0], RF);
}

Test(store_meta_gc, the_retention_policy_defaults_to_disabled_7_days)
{
    meta_retention p;
    cr_assert_eq(meta_retention_get(REG, &p, NULL), CF_OK);
    cr_assert_eq(p.enabled, 0);
    cr_assert_eq(p.days, 7);
    cr_assert_eq(p.updated_at, 0);
    meta_retention n = {.enabled = 1, .days = 30};
    cr_assert_eq(meta_retention_set(REG, &n, NULL), CF_OK);
    cr_assert_eq(meta_retention_get(REG, &p, NULL), CF_OK);
    cr_assert_eq(p.enabled, 1);
    cr_assert_eq(p.days, 30);
    cr_assert_gt(p.updated_at, 0);
}
