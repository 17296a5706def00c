/*
 * test_meta_repos.c -- a repository's details from the metadata store
 * (meta_repos.c) and a registry's storage figure (meta_registry_usage), on
 * SQLite or PostgreSQL (test_db.h): counts and times of a repository, a
 * tag that keeps its creation time when it moves, a manifest's tags and
 * the sizes it references, an index deleted before its children, and a
 * repository row that goes only when nothing is left in it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "store/meta.h"

#define REG "cccccccccccccccccccccccccccccccc"
#define IDX "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define IMG "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define CFG "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define LAY "sha256:4444444444444444444444444444444444444444444444444444444444444444"

static char dir[256];
static char target[512];

static void setup(void)
{
    test_meta_open(dir, sizeof(dir), target, sizeof(target), "metarepos");
}

static void teardown(void)
{
    test_meta_close(dir, target);
}

TestSuite(store_meta_repos, .init = setup, .fini = teardown);

/* an image (config + layer) tagged `tag`, and an index over it */
static void push_image(const char *repo, const char *tag)
{
    cr_assert_eq(meta_blob_commit(REG, repo, CFG, 300, NULL, NULL), CF_OK);
    cr_assert_eq(meta_blob_commit(REG, repo, LAY, 70000, NULL, NULL), CF_OK);
    const char *refs[] = {CFG, LAY};
    const int ism[] = {0, 0};
    meta_manifest_put_args a = {.reg = REG,
                                .repo = repo,
                                .digest = IMG,
                                .media_type = "application/vnd.oci.image.manifest.v1+json",
                                .size = 500,
                                .tag = tag,
                                .nrefs = 2,
                                .ref_digests = refs,
                                .ref_is_manifest = ism};
    cr_assert_eq(meta_manifest_put(&a, NULL), CF_OK);
}

static void push_index(const char *repo, const char *tag)
{
    const char *refs[] = {IMG};
    const int ism[] = {1};
    meta_manifest_put_args a = {.reg = REG,
                                .repo = repo,
                                .digest = IDX,
                                .media_type = "application/vnd.oci.image.index.v1+json",
                                .size = 200,
                                .tag = tag,
                                .nrefs = 1,
                                .ref_digests = refs,
                                .ref_is_manifest = ism};
    cr_assert_eq(meta_manifest_put(&a, NULL), CF_OK);
}

typedef struct {
    char v[8][80];
    int64_t created[8], updated[8], refs[8], size[8];
    int n;
} rows;

static int tag_row(void *cls, const meta_tag_info *t)
{
    rows *r = cls;
    snprintf(r->v[r->n], 80, "%s=%s", t->tag, t->digest);
    r->created[r->n] = t->created_at;
    r->updated[r->n] = t->updated_at;
    r->n++;
    return 0;
}

static int manifest_row(void *cls, const meta_manifest_info *m)
{
    rows *r = cls;
    snprintf(r->v[r->n], 80, "%s", m->digest);
    r->refs[r->n] = m->refs_size;
    r->size[r->n] = m->size;
    r->created[r->n] = m->created_at;
    r->updated[r->n] = m->last_update;
    r->n++;
    return 0;
}

static int text_row(void *cls, const char *v)
{
    rows *r = cls;
    snprintf(r->v[r->n++], 80, "%s", v);
    return 0;
}

Test(store_meta_repos, repository_counts_manifests_and_tags)
{
    meta_repo_info info;
    cr_assert_eq(meta_repo_info_get(&info, REG, "app", NULL), CF_ENOTFOUND);
    push_image("app", "v1");
    push_index("app", "multi");
    cf_err e = {0};
    cr_assert_eq(meta_repo_info_get(&info, REG, "app", &e), CF_OK, "%s", e.msg);
    cr_assert_eq(info.manifest_count, 2);
    cr_assert_eq(info.tag_count, 2);
    cr_assert_gt(info.created_at, 0);
    cr_assert_geq(info.last_update, info.created_at);
}

Test(store_meta_repos, a_moved_tag_keeps_its_creation_time)
{
    push_image("app", "v1");
    rows r = {0};
    cr_assert_eq(meta_tags_info(REG, "app", "v1", NULL, 1, tag_row, &r, NULL, NULL), CF_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0], "v1=" IMG);
    int64_t created = r.created[0];
    /* the store's clock has seconds: wait for the next one, then move the tag */
    for (time_t t0 = time(NULL); time(NULL) == t0;)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    push_index("app", "v1");
    memset(&r, 0, sizeof(r));
    cr_assert_eq(meta_tags_info(REG, "app", "v1", NULL, 1, tag_row, &r, NULL, NULL), CF_OK);
    cr_assert_str_eq(r.v[0], "v1=" IDX);
    cr_assert_eq(r.created[0], created);
    cr_assert_gt(r.updated[0], created);
    cr_assert_eq(meta_tags_info(REG, "app", "nope", NULL, 1, tag_row, &r, NULL, NULL),
                 CF_ENOTFOUND);
}

Test(store_meta_repos, tags_page_in_name_order)
{
    push_image("app", "c");
    push_image("app", "a");
    push_image("app", "b");
    rows r = {0};
    int more = 0;
    cr_assert_eq(meta_tags_info(REG, "app", NULL, NULL, 2, tag_row, &r, &more, NULL), CF_OK);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.v[0], "a=" IMG);
    cr_assert_str_eq(r.v[1], "b=" IMG);
    cr_assert_eq(more, 1);
    memset(&r, 0, sizeof(r));
    cr_assert_eq(meta_tags_info(REG, "app", NULL, "b", 2, tag_row, &r, &more, NULL), CF_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0], "c=" IMG);
    cr_assert_eq(more, 0);
    cr_assert_geq(r.updated[0], r.created[0]);
}

Test(store_meta_repos, manifests_carry_what_they_reference_and_their_tags)
{
    push_image("app", "v1");
    push_index("app", NULL);
    rows r = {0};
    int more = 0;
    cr_assert_eq(meta_manifests_info(REG, "app", NULL, NULL, 10, manifest_row, &r, &more, NULL),
                 CF_OK);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.v[0], IDX); /* by digest */
    cr_assert_eq(r.refs[0], 500);  /* the image manifest it lists */
    cr_assert_str_eq(r.v[1], IMG);
    cr_assert_eq(r.refs[1], 70300); /* config and layer */
    cr_assert_eq(r.size[1], 500);
    rows t = {0};
    cr_assert_eq(meta_manifest_tags(REG, "app", IMG, text_row, &t, NULL), CF_OK);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.v[0], "v1");
    memset(&r, 0, sizeof(r));
    cr_assert_eq(meta_manifests_info(REG, "app", CFG, NULL, 1, manifest_row, &r, NULL, NULL),
                 CF_ENOTFOUND);
}

Test(store_meta_repos, an_index_is_deleted_before_its_children)
{
    push_image("app", "v1");
    push_index("app", "multi");
    rows r = {0};
    cr_assert_eq(meta_repo_manifest_roots(REG, "app", 10, text_row, &r, NULL), CF_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0], IDX);
    int orphaned = 0;
    cr_assert_eq(meta_manifest_delete(REG, "app", IDX, &orphaned, NULL), CF_OK);
    memset(&r, 0, sizeof(r));
    cr_assert_eq(meta_repo_manifest_roots(REG, "app", 10, text_row, &r, NULL), CF_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0], IMG);
}

Test(store_meta_repos, a_repository_row_goes_only_when_empty)
{
    push_image("app", "v1");
    cr_assert_eq(meta_repo_delete_if_empty(REG, "app", NULL), CF_ECONFLICT);
    int orphaned = 0;
    cr_assert_eq(meta_manifest_delete(REG, "app", IMG, &orphaned, NULL), CF_OK);
    cr_assert_eq(meta_repo_delete_if_empty(REG, "app", NULL), CF_ECONFLICT); /* blob links */
    rows r = {0};
    int more = 0;
    cr_assert_eq(meta_repo_blobs(REG, "app", NULL, 10, text_row, &r, &more, NULL), CF_OK);
    cr_assert_eq(r.n, 2);
    for (int i = 0; i < r.n; i++)
        cr_assert_eq(meta_blob_unlink(REG, "app", r.v[i], &orphaned, NULL), CF_OK);
    cr_assert_eq(meta_repo_delete_if_empty(REG, "app", NULL), CF_OK);
    cr_assert_eq(meta_repo_exists(REG, "app", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_repo_delete_if_empty(REG, "app", NULL), CF_ENOTFOUND);
}

Test(store_meta_repos, usage_counts_each_digest_once)
{
    meta_usage u;
    cr_assert_eq(meta_registry_usage(&u, REG, 65536, NULL), CF_OK);
    cr_assert_eq(u.blobs, 0);
    cr_assert_eq(u.bytes, 0);
    push_image("app", "v1");
    push_image("other", "v1"); /* the same digests in another repository */
    cr_assert_eq(meta_registry_usage(&u, REG, 65536, NULL), CF_OK);
    cr_assert_eq(u.blobs, 3);
    cr_assert_eq(u.bytes, 300 + 70000 + 500);
    cr_assert_eq(u.full_segments, 1); /* 70000 / 65536 */
    cr_assert_eq(meta_registry_usage(&u, "dddddddddddddddddddddddddddddddd", 65536, NULL), CF_OK);
    cr_assert_eq(u.blobs, 0);
}

Test(store_meta_repos, storage_limit_round_trips)
{
    meta_registry r = {0}, g;
    snprintf(r.id, sizeof(r.id), "%s", REG);
    snprintf(r.name, sizeof(r.name), "limited1");
    r.storage_limit = 1 << 20;
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    cr_assert_eq(meta_registry_get(&g, "limited1", NULL), CF_OK);
    cr_assert_eq(g.storage_limit, 1 << 20);
    cr_assert_eq(meta_registry_set_storage_limit(REG, 0, NULL), CF_OK);
    cr_assert_eq(meta_registry_get(&g, "limited1", NULL), CF_OK);
    cr_assert_eq(g.storage_limit, 0);
    cr_assert_eq(meta_registry_set_storage_limit("dddddddddddddddddddddddddddddddd", 5, NULL),
                 CF_ENOTFOUND);
}
