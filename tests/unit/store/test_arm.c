/*
 * test_arm.c -- subscriptions, resource groups and placements on a real
 * database (a SQLite file, or a database of its own on PostgreSQL when
 * COFFER_TEST_PG is set: test_db.h), and the migration that puts the
 * identities and registries of a database made before resource groups
 * existed into the default group.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "store/arm.h"
#include "store/meta.h"

#define SUB "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
#define TENANT "00000000-0000-0000-0000-000000000000"

static char dir[256];
static char target[512];

static void setup(void)
{
    test_meta_open(dir, sizeof(dir), target, sizeof(target), "arm");
}

static void teardown(void)
{
    test_meta_close(dir, target);
}

TestSuite(store_arm, .init = setup, .fini = teardown);

static const arm_defaults defaults = {SUB, TENANT, ARM_DEFAULT_GROUP, ARM_DEFAULT_LOCATION};

/* What cofferd wrote before resource groups: identities and registries,
 * no placement. */
static void old_rows(void)
{
    meta_identity id = {.name = "mi1",
                        .client_id = "11111111-1111-4111-8111-111111111111",
                        .principal_id = "21111111-1111-4111-8111-111111111111",
                        .tenant_id = TENANT};
    cr_assert_eq(meta_identity_create(&id, NULL), CF_OK);
    meta_registry r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", "0123456789abcdef0123456789abcdef");
    snprintf(r.name, sizeof(r.name), "oldreg");
    snprintf(r.sku, sizeof(r.sku), "Premium");
    snprintf(r.identity_type, sizeof(r.identity_type), "UserAssigned");
    snprintf(r.key_status, sizeof(r.key_status), "available");
    const char *uai[] = {"mi1"};
    cr_assert_eq(meta_registry_create(&r, uai, 1, NULL), CF_OK);
}

Test(store_arm, migration_places_existing_resources_in_the_default_group)
{
    old_rows();
    int migrated = -1;
    cr_assert_eq(arm_store_init(&defaults, &migrated, NULL), CF_OK);
    cr_assert_eq(migrated, 2);
    arm_place p;
    cr_assert_eq(arm_place_get(&p, ARM_KIND_IDENTITY, "mi1", NULL), CF_OK);
    cr_assert_str_eq(p.sub, SUB);
    cr_assert_str_eq(p.group, "default");
    cr_assert_str_eq(p.location, "local");
    cr_assert_eq(arm_place_get(&p, ARM_KIND_REGISTRY, "oldreg", NULL), CF_OK);
    cr_assert_str_eq(p.group, "default");
    /* the default subscription and group exist */
    arm_subscription s;
    cr_assert_eq(arm_sub_get(&s, SUB, NULL), CF_OK);
    cr_assert(s.is_default);
    cr_assert_str_eq(s.tenant_id, TENANT);
    arm_group g;
    cr_assert_eq(arm_group_get(&g, SUB, "DEFAULT", NULL), CF_OK);
    cr_assert_str_eq(g.name, "default");
    /* at the next start there is nothing left to place */
    cr_assert_eq(arm_store_init(&defaults, &migrated, NULL), CF_OK);
    cr_assert_eq(migrated, 0);
}

Test(store_arm, a_new_default_subscription_takes_over_and_keeps_placements)
{
    old_rows();
    cr_assert_eq(arm_store_init(&defaults, NULL, NULL), CF_OK);
    arm_defaults other = defaults;
    other.sub = "bbbb0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e";
    int migrated = -1;
    cr_assert_eq(arm_store_init(&other, &migrated, NULL), CF_OK);
    cr_assert_eq(migrated, 0); /* placed already: they stay where they are */
    arm_subscription s;
    cr_assert_eq(arm_sub_get(&s, SUB, NULL), CF_OK);
    cr_assert_not(s.is_default);
    cr_assert_eq(arm_sub_get(&s, other.sub, NULL), CF_OK);
    cr_assert(s.is_default);
    cr_assert_str_eq(arm_default_sub(), other.sub);
}

Test(store_arm, sweeps_placements_of_resources_that_are_gone)
{
    cr_assert_eq(arm_store_init(&defaults, NULL, NULL), CF_OK);
    /* a crash between the placement and the resource leaves this */
    cr_assert_eq(arm_place_put(ARM_KIND_IDENTITY, "ghost", SUB, "default", "local", NULL), CF_OK);
    cr_assert_eq(arm_store_init(&defaults, NULL, NULL), CF_OK);
    arm_place p;
    cf_err e = {0};
    cr_assert_eq(arm_place_get(&p, ARM_KIND_IDENTITY, "ghost", &e), CF_ENOTFOUND);
}

Test(store_arm, groups_are_case_insensitive_and_keep_their_location)
{
    cr_assert_eq(arm_store_init(&defaults, NULL, NULL), CF_OK);
    arm_group g = {.sub = SUB, .name = "MyRG", .location = "eastus"};
    int created = 0;
    cr_assert_eq(arm_group_put(&g, &created, NULL), CF_OK);
    cr_assert(created);
    arm_group again = {
        .sub = "AAAA0A0A-BB1B-CC2C-DD3D-EEEEEE4E4E4E", .name = "myrg", .location = "EastUS"};
    cr_assert_eq(arm_group_put(&again, &created, NULL), CF_OK);
    cr_assert_not(created);
    arm_group moved = {.sub = SUB, .name = "myrg", .location = "westus"};
    cf_err e = {0};
    cr_assert_eq(arm_group_put(&moved, NULL, &e), CF_ECONFLICT);
    cr_assert_not_null(strstr(e.msg, "already exists in location 'eastus'"));
    arm_group out;
    cr_assert_eq(arm_group_get(&out, SUB, "MYRG", NULL), CF_OK);
    cr_assert_str_eq(out.name, "MyRG"); /* as created */
    cr_assert_str_eq(out.location, "eastus");
}

static int count_place(void *cls, const char *kind, const char *name, const arm_place *p)
{
    (void)kind;
    (void)name;
    cr_assert_str_eq(p->group, "MyRG");
    (*(int *)cls)++;
    return 0;
}

Test(store_arm, a_group_is_deleted_only_when_empty)
{
    cr_assert_eq(arm_store_init(&defaults, NULL, NULL), CF_OK);
    arm_group g = {.sub = SUB, .name = "MyRG", .location = "eastus"};
    cr_assert_eq(arm_group_put(&g, NULL, NULL), CF_OK);
    cr_assert_eq(arm_place_put(ARM_KIND_REGISTRY, "reg1", SUB, "myrg", "eastus", NULL), CF_OK);
    cr_assert_eq(arm_place_put(ARM_KIND_IDENTITY, "mi9", SUB, "MYRG", "eastus", NULL), CF_OK);
    int n = 0;
    cr_assert_eq(arm_place_each(SUB, "myrg", NULL, count_place, &n, NULL), CF_OK);
    cr_assert_eq(n, 2);
    n = 0;
    cr_assert_eq(arm_place_each(SUB, "myrg", ARM_KIND_IDENTITY, count_place, &n, NULL), CF_OK);
    cr_assert_eq(n, 1);
    cf_err e = {0};
    cr_assert_eq(arm_group_delete(SUB, "myrg", &e), CF_ECONFLICT);
    cr_assert_eq(arm_place_delete(ARM_KIND_REGISTRY, "reg1", NULL), CF_OK);
    cr_assert_eq(arm_place_delete(ARM_KIND_IDENTITY, "mi9", NULL), CF_OK);
    cr_assert_eq(arm_group_delete(SUB, "myrg", NULL), CF_OK);
    cf_err e2 = {0};
    cr_assert_eq(arm_group_get(&g, SUB, "myrg", &e2), CF_ENOTFOUND);
    cr_assert_eq(arm_group_delete(SUB, "myrg", &e2), CF_ENOTFOUND);
}

Test(store_arm, refuses_a_bad_default)
{
    arm_defaults bad = defaults;
    bad.sub = "mysubscription";
    cf_err e = {0};
    cr_assert_eq(arm_store_init(&bad, NULL, &e), CF_EINVAL);
    bad = defaults;
    bad.group = "a/b";
    cr_assert_eq(arm_store_init(&bad, NULL, &e), CF_EINVAL);
}

/* ---- principals and role assignments (migration 6) ---- */

#define OID "31111111-1111-4111-8111-111111111111"
#define APP "41111111-1111-4111-8111-111111111111"
#define RG_SCOPE "/subscriptions/" SUB "/resourceGroups/rg"

static int count_roles(void *cls, const arm_role_assignment *a)
{
    (void)a;
    (*(int *)cls)++;
    return 0;
}

Test(store_arm, principals_and_role_assignments)
{
    cf_err e = {0};
    arm_principal p = {.object_id = OID, .app_id = APP, .sub = SUB, .display_name = "ci"};
    memset(p.secret_hash, 'a', ARM_SECRET_HASH_HEX);
    cr_assert_eq(arm_principal_add(&p, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(arm_principal_add(&p, &e), CF_EEXISTS);
    arm_principal got;
    cr_assert_eq(arm_principal_get(&got, APP, &e), CF_OK, "by appId");
    cr_assert_str_eq(got.object_id, OID);
    cr_assert_eq(arm_principal_get(&got, "31111111-1111-4111-8111-111111111111", &e), CF_OK);
    cr_assert_str_eq(got.secret_hash, p.secret_hash);
    char other[ARM_SECRET_HASH_HEX + 1];
    memset(other, 'b', ARM_SECRET_HASH_HEX);
    other[ARM_SECRET_HASH_HEX] = '\0';
    cr_assert_eq(arm_principal_secret_set(OID, other, &e), CF_OK);
    cr_assert_eq(arm_principal_get(&got, OID, &e), CF_OK);
    cr_assert_str_eq(got.secret_hash, other);

    arm_role_assignment a = {.id = "51111111-1111-4111-8111-111111111111",
                             .scope = RG_SCOPE,
                             .principal_id = OID,
                             .role_id = "acdd72a7-3385-48ef-bd42-f606fba81ae7",
                             .created_by = "operator"};
    cr_assert_eq(arm_role_add(&a, &e), CF_OK, "%s", e.msg);
    snprintf(a.id, sizeof(a.id), "61111111-1111-4111-8111-111111111111");
    snprintf(a.scope, sizeof(a.scope), "/SUBSCRIPTIONS/%s/resourcegroups/RG", SUB);
    cr_assert_eq(arm_role_add(&a, &e), CF_EEXISTS,
                 "the same scope in another case, role, principal");
    snprintf(a.scope, sizeof(a.scope), RG_SCOPE "2");
    cr_assert_eq(arm_role_add(&a, &e), CF_OK, "rg2 is another scope");
    int n = 0;
    cr_assert_eq(arm_role_each(OID, count_roles, &n, &e), CF_OK);
    cr_assert_eq(n, 2);
    /* deleting rg drops its assignments, not rg2's */
    cr_assert_eq(arm_role_forget(RG_SCOPE, &e), CF_OK);
    n = 0;
    arm_role_each(NULL, count_roles, &n, &e);
    cr_assert_eq(n, 1);
    arm_role_assignment left;
    cr_assert_eq(arm_role_get(&left, "61111111-1111-4111-8111-111111111111", &e), CF_OK);
    /* a deleted principal takes its assignments along */
    cr_assert_eq(arm_principal_delete(OID, &e), CF_OK);
    cr_assert_eq(arm_principal_get(&got, APP, &e), CF_ENOTFOUND);
    cr_assert_eq(arm_role_get(&left, "61111111-1111-4111-8111-111111111111", &e), CF_ENOTFOUND);
    cr_assert_eq(arm_role_delete("61111111-1111-4111-8111-111111111111", &e), CF_ENOTFOUND);
}
