/*
 * test_armid.c -- ARM resource ids and paths: what each form parses to, the
 * case-insensitive words ARM allows, and everything refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/armid.h"

#define SUB "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"

static int parse(arm_path *p, const char *s)
{
    return arm_path_parse(p, s, strlen(s));
}

Test(armid, parses_each_form)
{
    arm_path p;
    cr_assert_eq(parse(&p, "/subscriptions"), 0);
    cr_assert_eq(p.kind, ARM_SUBSCRIPTIONS);
    cr_assert_eq(parse(&p, "/subscriptions/" SUB), 0);
    cr_assert_eq(p.kind, ARM_SUBSCRIPTION);
    cr_assert_str_eq(p.sub, SUB);
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/resourceGroups"), 0);
    cr_assert_eq(p.kind, ARM_GROUPS);
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/resourcegroups/my-RG_(1).x"), 0);
    cr_assert_eq(p.kind, ARM_GROUP);
    cr_assert_str_eq(p.group, "my-RG_(1).x");
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/resourceGroups/rg/resources"), 0);
    cr_assert_eq(p.kind, ARM_GROUP_RESOURCES);
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/providers/Microsoft.KeyVault/vaults"), 0);
    cr_assert_eq(p.kind, ARM_TYPE_LIST);
    cr_assert_str_eq(p.group, "");
    cr_assert(arm_path_is(&p, ARM_NS_VAULT, ARM_TYPE_VAULT));
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/resourceGroups/rg/providers/"
                           "Microsoft.ContainerRegistry/registries"),
                 0);
    cr_assert_eq(p.kind, ARM_TYPE_LIST);
    cr_assert_str_eq(p.group, "rg");
}

Test(armid, resource_and_what_follows)
{
    arm_path p;
    /* the reference's own docs write "resourcegroups" in identity ids */
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/resourcegroups/myresourcegroup/providers/"
                           "microsoft.managedidentity/userassignedidentities/myidentity"),
                 0);
    cr_assert_eq(p.kind, ARM_RESOURCE);
    cr_assert(arm_path_is(&p, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY));
    cr_assert_str_eq(p.name, "myidentity");
    cr_assert_str_eq(p.rest, "");
    cr_assert_eq(parse(&p, "/subscriptions/" SUB "/resourceGroups/rg/providers/"
                           "Microsoft.ContainerRegistry/registries/reg1/tokens/t1/"
                           "generateCredentials"),
                 0);
    cr_assert_str_eq(p.name, "reg1");
    cr_assert_str_eq(p.rest, "/tokens/t1/generateCredentials");
    cr_assert_not(arm_path_is(&p, ARM_NS_VAULT, ARM_TYPE_VAULT));
}

Test(armid, refuses_malformed_paths)
{
    arm_path p;
    const char *bad[] = {
        "",
        "subscriptions",
        "/subscription",
        "/subscriptions/",
        "/subscriptions/mysubscription",
        "/subscriptions/" SUB "/",
        "/subscriptions/" SUB "/resourceGroups/",
        "/subscriptions/" SUB "/resourceGroups/rg.",
        "/subscriptions/" SUB "/resourceGroups/r g",
        "/subscriptions/" SUB "/resourceGroups/rg/providers",
        "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault",
        "/subscriptions/" SUB "/providers/Microsoft.KeyVault/vaults/kv1",
        "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/",
        "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1//keys",
        "/subscriptions/" SUB "/resourceGroups//providers/Microsoft.KeyVault/vaults/kv1",
        "/subscriptions/" SUB "/things/x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse(&p, bad[i]), -1, "%s", bad[i]);
        cr_assert_eq(p.sub[0], '\0');
    }
    char longgroup[200] = "/subscriptions/" SUB "/resourceGroups/";
    size_t n = strlen(longgroup);
    memset(longgroup + n, 'g', 91);
    longgroup[n + 91] = '\0';
    cr_assert_eq(parse(&p, longgroup), -1);
    longgroup[n + 90] = '\0';
    cr_assert_eq(parse(&p, longgroup), 0);
}

Test(armid, never_reads_past_its_length)
{
    arm_path p;
    const char s[] = "/subscriptions/" SUB "/resourceGroups/rgXXXX";
    /* the same bytes, cut before "XXXX" */
    cr_assert_eq(arm_path_parse(&p, s, strlen(s) - 4), 0);
    cr_assert_str_eq(p.group, "rg");
}

Test(armid, formats_and_compares)
{
    char id[ARM_ID_MAX];
    cr_assert_eq(arm_id_format(id, sizeof(id), SUB, "rg", ARM_NS_VAULT, ARM_TYPE_VAULT, "kv1"), 0);
    cr_assert_str_eq(id, "/subscriptions/" SUB
                         "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1");
    cr_assert_eq(arm_id_format(id, 20, SUB, "rg", ARM_NS_VAULT, ARM_TYPE_VAULT, "kv1"), -1);
    cr_assert(arm_eq("resourceGroups", "RESOURCEGROUPS"));
    cr_assert_not(arm_eq("rg", "rg1"));
    cr_assert(arm_uuid_valid(SUB));
    cr_assert_not(arm_uuid_valid("aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4"));
    cr_assert_not(arm_uuid_valid("aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4ee"));
    cr_assert(arm_group_name_valid("a"));
    cr_assert_not(arm_group_name_valid(""));
    cr_assert_not(arm_group_name_valid("a/b"));
}

Test(armid, splits_authorization_extensions)
{
    char scope[ARM_ID_MAX];
    const char *tail;
    cr_assert_eq(arm_authz_split("/subscriptions/" SUB "/resourceGroups/rg/providers/"
                                 "Microsoft.KeyVault/vaults/kv/keys/k/providers/"
                                 "microsoft.authorization/roleAssignments/x",
                                 scope, sizeof(scope), &tail),
                 0);
    cr_assert_str_eq(scope, "/subscriptions/" SUB
                            "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k");
    cr_assert_str_eq(tail, "roleAssignments/x");
    cr_assert_eq(arm_authz_split("/providers/Microsoft.Authorization/roleDefinitions", scope,
                                 sizeof(scope), &tail),
                 0);
    cr_assert_str_eq(scope, "");
    cr_assert_str_eq(tail, "roleDefinitions");
    cr_assert_eq(arm_authz_split("/vaults/kv", scope, sizeof(scope), &tail), -1);
}
