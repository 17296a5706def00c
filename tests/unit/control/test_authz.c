/*
 * test_authz.c -- the management plane's role evaluation (control/authz.h):
 * scopes reach what lies at or below them on whole segments, compared
 * case-insensitively as ARM ids are; each built-in role grants what the
 * reference's does (Reader reads, Contributor cannot assign roles, Managed
 * Identity Operator may assign an identity and nothing else); the action
 * of a request derived from its method and path.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/armid.h"
#include "control/authz.h"

#define SUB "/subscriptions/11111111-aaaa-4aaa-8aaa-111111111111"
#define SUB2 "/subscriptions/22222222-bbbb-4bbb-8bbb-222222222222"
#define RG SUB "/resourceGroups/rg"
#define MI RG "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"
#define REG RG "/providers/Microsoft.ContainerRegistry/registries/reg"

static const authz_role *role(const char *name)
{
    const authz_role *r = authz_role_find(name);
    cr_assert_not_null(r, "%s", name);
    return r;
}

Test(authz, scope_covers_on_segment_boundaries)
{
    cr_assert(arm_scope_covers(SUB, SUB));
    cr_assert(arm_scope_covers(SUB, RG));
    cr_assert(arm_scope_covers(RG, REG "/tokens/t1"));
    cr_assert(arm_scope_covers(SUB "/", RG), "a trailing slash is ignored");
    cr_assert(arm_scope_covers("/", REG), "the root reaches everything");
    cr_assert(arm_scope_covers("", REG));
    /* a prefix that is not a whole segment reaches nothing */
    cr_assert_not(arm_scope_covers(RG, SUB "/resourceGroups/rg2"));
    cr_assert_not(arm_scope_covers(RG, SUB "/resourceGroups/rg-b/providers/x/y/z"));
    cr_assert_not(arm_scope_covers(MI, MI "2"));
    cr_assert_not(arm_scope_covers(SUB, SUB2));
    cr_assert_not(arm_scope_covers(RG, SUB), "not above itself");
    /* ARM ids compare case-insensitively */
    cr_assert(arm_scope_covers(
        "/SUBSCRIPTIONS/11111111-AAAA-4AAA-8AAA-111111111111/resourcegroups/RG", REG));
    cr_assert(arm_scope_covers(REG, "/subscriptions/11111111-aaaa-4aaa-8aaa-111111111111/"
                                    "resourceGroups/rg/providers/microsoft.containerregistry/"
                                    "REGISTRIES/Reg"));
}

Test(authz, action_patterns_match_as_arm)
{
    cr_assert(arm_action_match("*", "Microsoft.ContainerRegistry/registries/write"));
    cr_assert(arm_action_match("*/read", "Microsoft.ContainerRegistry/registries/read"));
    cr_assert_not(arm_action_match("*/read", "Microsoft.ContainerRegistry/registries/write"));
    cr_assert(arm_action_match("microsoft.authorization/*/write",
                               "Microsoft.Authorization/roleAssignments/write"));
    cr_assert(arm_action_match("Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                               AUTHZ_ASSIGN_IDENTITY),
              "a lone-star segment stands for none");
    cr_assert(arm_action_match("Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                               "Microsoft.ManagedIdentity/userAssignedIdentities/read"));
    cr_assert_not(
        arm_action_match("Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                         "Microsoft.ManagedIdentity/userAssignedIdentities/write"));
    cr_assert_not(arm_action_match("Microsoft.ManagedIdentity/*", "Microsoft.ContainerRegistry/x"));
}

Test(authz, roles_grant_what_the_reference_grants)
{
    const authz_role *owner = role("Owner"), *contrib = role("contributor"),
                     *reader = role("Reader"), *mio = role("Managed Identity Operator");
    cr_assert(authz_role_allows(owner, "Microsoft.Authorization/roleAssignments/write"));
    cr_assert(authz_role_allows(contrib, "Microsoft.ContainerRegistry/registries/write"));
    cr_assert(authz_role_allows(contrib, AUTHZ_ASSIGN_IDENTITY));
    cr_assert_not(authz_role_allows(contrib, "Microsoft.Authorization/roleAssignments/write"));
    cr_assert_not(authz_role_allows(contrib, "Microsoft.Authorization/roleAssignments/delete"));
    cr_assert(authz_role_allows(contrib, "Microsoft.Authorization/roleAssignments/read"));
    cr_assert(authz_role_allows(reader, "Microsoft.ContainerRegistry/registries/read"));
    cr_assert_not(authz_role_allows(reader, "Microsoft.ContainerRegistry/registries/write"));
    cr_assert_not(
        authz_role_allows(reader, "Microsoft.ContainerRegistry/registries/listCredentials/action"));
    cr_assert_not(authz_role_allows(reader, AUTHZ_ASSIGN_IDENTITY));
    cr_assert(authz_role_allows(mio, AUTHZ_ASSIGN_IDENTITY));
    cr_assert(authz_role_allows(mio, "Microsoft.ManagedIdentity/userAssignedIdentities/read"));
    cr_assert_not(authz_role_allows(mio, "Microsoft.ManagedIdentity/userAssignedIdentities/write"));
    cr_assert_not(authz_role_allows(mio, "Microsoft.ContainerRegistry/registries/write"));
}

Test(authz, roles_found_by_name_guid_or_definition_id)
{
    cr_assert_eq(authz_role_find("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"), role("Owner"));
    cr_assert_eq(authz_role_find(SUB "/providers/Microsoft.Authorization/roleDefinitions/"
                                     "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
                 role("Reader"));
    cr_assert_null(authz_role_find("Key Vault Crypto User"), "keyvaultd's roles are not here");
    cr_assert_null(authz_role_find("/x/Owner"));
    cr_assert_null(authz_role_find(""));
    cr_assert_null(authz_role_find(NULL));
}

Test(authz, grants_are_evaluated_on_scope_and_role)
{
    authz_grant g[] = {{RG, role("Reader")}, {MI, role("Managed Identity Operator")}};
    cr_assert(authz_allows(g, 2, REG, "Microsoft.ContainerRegistry/registries/read"));
    cr_assert_not(authz_allows(g, 2, REG, "Microsoft.ContainerRegistry/registries/write"));
    cr_assert(authz_allows(g, 2, MI, AUTHZ_ASSIGN_IDENTITY));
    cr_assert_not(authz_allows(g, 2,
                               RG "/providers/Microsoft.ManagedIdentity/"
                                  "userAssignedIdentities/other",
                               AUTHZ_ASSIGN_IDENTITY));
    cr_assert_not(authz_allows(g, 2, SUB "/resourceGroups/rg2", "x/read"));
    cr_assert_not(authz_allows(NULL, 0, REG, "Microsoft.ContainerRegistry/registries/read"));
    /* what a caller may know exists: what it reads, and what holds its assignments */
    cr_assert(authz_sees(g, 2, SUB), "the subscription of its group");
    cr_assert(authz_sees(g, 2, REG));
    cr_assert_not(authz_sees(g, 2, SUB2));
    cr_assert_not(authz_sees(g, 2, SUB "/resourceGroups/rg2"));
    authz_grant only_mi[] = {{MI, role("Managed Identity Operator")}};
    cr_assert(authz_sees(only_mi, 1, MI));
    cr_assert(authz_sees(only_mi, 1, RG));
    cr_assert_not(authz_sees(only_mi, 1, REG), "a sibling is not seen");
}

Test(authz, action_of_a_request)
{
    char a[256];
    const char *ns = "Microsoft.ContainerRegistry", *t = "registries";
    cr_assert_eq(authz_action_of(a, sizeof(a), ns, t, "", "GET"), 0);
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/read");
    authz_action_of(a, sizeof(a), ns, t, "", "PATCH");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/write");
    authz_action_of(a, sizeof(a), ns, t, "", "DELETE");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/delete");
    authz_action_of(a, sizeof(a), ns, t, "/listCredentials", "POST");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/listCredentials/action");
    authz_action_of(a, sizeof(a), ns, t, "/tokens/t1", "PUT");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/tokens/write");
    authz_action_of(a, sizeof(a), ns, t, "/tokens", "GET");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/tokens/read");
    authz_action_of(a, sizeof(a), ns, t, "/tokens/t1/generateCredentials", "POST");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/tokens/generateCredentials/action");
    authz_action_of(a, sizeof(a), ns, t, "/repositories/app/x", "DELETE");
    cr_assert_str_eq(a, "Microsoft.ContainerRegistry/registries/repositories/delete");
    cr_assert_eq(authz_action_of(a, 20, ns, t, "", "GET"), -1, "too long for the buffer");
}
