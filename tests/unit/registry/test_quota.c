/*
 * test_quota.c -- the storage figure is exactly the sealed size of what a
 * registry stores (quota_sealed_total against seal_sealed_size, at the
 * segment boundaries), and the limit refuses what would not fit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "crypto/seal.h"
#include "registry/quota.h"
#include "store/meta.h"

#define SEG 65536

Test(quota, sealed_total_is_the_sum_of_sealed_sizes)
{
    static const int64_t sizes[] = {0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 5 * SEG + 7, 123456789};
    meta_usage u = {0};
    int64_t want = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        u.blobs++;
        u.bytes += sizes[i];
        u.full_segments += sizes[i] / SEG;
        want += (int64_t)seal_sealed_size((uint64_t)sizes[i], 0);
        cr_assert_eq(quota_sealed_total(&u), want, "after %zu objects", i + 1);
        cr_assert_eq(quota_sealed_size(sizes[i]), (int64_t)seal_sealed_size((uint64_t)sizes[i], 0));
    }
}

static char dir[256];
static char target[512];

static void setup(void)
{
    test_meta_open(dir, sizeof(dir), target, sizeof(target), "quota");
}

static void teardown(void)
{
    test_meta_close(dir, target);
}

Test(quota, a_limit_refuses_what_would_not_fit, .init = setup, .fini = teardown)
{
    meta_registry reg = {0};
    snprintf(reg.id, sizeof(reg.id), "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    snprintf(reg.name, sizeof(reg.name), "quota1");
    int64_t room = 0;
    cr_assert_eq(quota_room(&room, &reg, 1 << 30, NULL), CF_OK, "no limit");
    cr_assert_eq(room, INT64_MAX);
    cr_assert_eq(
        meta_blob_commit(reg.id, "app",
                         "sha256:5555555555555555555555555555555555555555555555555555555555555555",
                         1000, NULL, NULL),
        CF_OK);
    int64_t used = quota_sealed_size(1000);
    reg.storage_limit = used + 500;
    cr_assert_eq(quota_room(&room, &reg, 0, NULL), CF_OK);
    cr_assert_eq(room, 500);
    cr_assert_eq(quota_room(NULL, &reg, 500, NULL), CF_OK);
    cf_err e = {0};
    cr_assert_eq(quota_room(NULL, &reg, 501, &e), CF_EDENIED);
    cr_assert(strstr(e.msg, "storage limit reached: registry quota1") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "this push adds 501") != NULL, "%s", e.msg);
    reg.storage_limit = used; /* full: even a write of unknown size is refused */
    cr_assert_eq(quota_room(&room, &reg, 0, NULL), CF_EDENIED);
    cr_assert_eq(room, 0);
}
