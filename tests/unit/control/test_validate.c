/*
 * test_validate.c -- the management API's input rules: what a name, a
 * UUID, a SKU, an identity type or reference and a key identifier may be.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "control/validate.h"

Test(control_validate, identity_names)
{
    cr_assert(ctl_identity_name_valid("mi1"));
    cr_assert(ctl_identity_name_valid("My_identity-2"));
    char longest[129];
    memset(longest, 'a', 128);
    longest[128] = '\0';
    cr_assert(ctl_identity_name_valid(longest));
    longest[127] = '\0';
    cr_assert(ctl_identity_name_valid(longest));
    char too_long[130];
    memset(too_long, 'a', 129);
    too_long[129] = '\0';
    cr_assert_not(ctl_identity_name_valid(too_long));
    cr_assert_not(ctl_identity_name_valid("ab"));
    cr_assert_not(ctl_identity_name_valid("-abc"));
    cr_assert_not(ctl_identity_name_valid("_abc"));
    cr_assert_not(ctl_identity_name_valid("ab c"));
    cr_assert_not(ctl_identity_name_valid("ab/c"));
    cr_assert_not(ctl_identity_name_valid("ab.c"));
    cr_assert_not(ctl_identity_name_valid(""));
    cr_assert_not(ctl_identity_name_valid(NULL));
}

Test(control_validate, registry_names)
{
    cr_assert(ctl_registry_name_valid("myreg"));
    cr_assert(ctl_registry_name_valid("MyRegistry01"));
    cr_assert_not(ctl_registry_name_valid("abcd"));
    cr_assert_not(ctl_registry_name_valid("my-registry"));
    cr_assert_not(ctl_registry_name_valid("my_registry"));
    char n[52];
    memset(n, 'r', 51);
    n[51] = '\0';
    cr_assert_not(ctl_registry_name_valid(n));
    n[50] = '\0';
    cr_assert(ctl_registry_name_valid(n));
}

Test(control_validate, uuids)
{
    cr_assert(ctl_uuid_valid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    cr_assert(ctl_uuid_valid("72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
    cr_assert_not(ctl_uuid_valid("72f988bf86f141af91ab2d7cd011db47"));
    cr_assert_not(ctl_uuid_valid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
    cr_assert_not(ctl_uuid_valid("72f988bf-86f1-41af-91ab-2d7cd011db47a"));
    cr_assert_not(ctl_uuid_valid("g2f988bf-86f1-41af-91ab-2d7cd011db47"));
    cr_assert_not(ctl_uuid_valid("72f988bf-86f1-41af-91ab_2d7cd011db47"));
    char u[CTL_UUID_LEN + 1], v[CTL_UUID_LEN + 1];
    cr_assert_eq(ctl_uuid_v4(u, NULL), CF_OK);
    cr_assert_eq(ctl_uuid_v4(v, NULL), CF_OK);
    cr_assert(ctl_uuid_valid(u));
    cr_assert_str_neq(u, v);
    cr_assert_eq(u[14], '4', "version 4: %s", u);
    cr_assert(strchr("89ab", u[19]) != NULL, "RFC 4122 variant: %s", u);
    for (size_t i = 0; i < CTL_UUID_LEN; i++)
        cr_assert(!(u[i] >= 'A' && u[i] <= 'F'), "lower case: %s", u);
}

Test(control_validate, skus)
{
    cr_assert_str_eq(ctl_sku_canonical("premium"), "Premium");
    cr_assert_str_eq(ctl_sku_canonical("Basic"), "Basic");
    cr_assert_str_eq(ctl_sku_canonical("STANDARD"), "Standard");
    cr_assert_null(ctl_sku_canonical("Classic"));
    cr_assert_null(ctl_sku_canonical("Premium "));
    cr_assert_null(ctl_sku_canonical(""));
    cr_assert_null(ctl_sku_canonical(NULL));
}

Test(control_validate, identity_types)
{
    int f = -1;
    cr_assert_str_eq(ctl_identity_type_canonical("None", &f), "None");
    cr_assert_eq(f, 0);
    cr_assert_str_eq(ctl_identity_type_canonical("userassigned", &f), "UserAssigned");
    cr_assert_eq(f, CTL_ID_USER);
    cr_assert_str_eq(ctl_identity_type_canonical("SystemAssigned", &f), "SystemAssigned");
    cr_assert_eq(f, CTL_ID_SYSTEM);
    cr_assert_str_eq(ctl_identity_type_canonical("SystemAssigned, UserAssigned", &f),
                     "SystemAssigned, UserAssigned");
    cr_assert_eq(f, CTL_ID_SYSTEM | CTL_ID_USER);
    cr_assert_str_eq(ctl_identity_type_canonical("UserAssigned,SystemAssigned", &f),
                     "SystemAssigned, UserAssigned");
    cr_assert_null(ctl_identity_type_canonical("UserAssigned, UserAssigned", &f));
    cr_assert_null(ctl_identity_type_canonical("SystemAssigned,", &f));
    cr_assert_null(ctl_identity_type_canonical("a, b, c", &f));
    cr_assert_null(ctl_identity_type_canonical("Managed", &f));
    cr_assert_null(ctl_identity_type_canonical("", &f));
}

Test(control_validate, identity_references)
{
    cr_assert_str_eq(ctl_identity_ref_name("/identities/mi1"), "mi1");
    cr_assert_str_eq(ctl_identity_ref_name("/Identities/mi1"), "mi1");
    cr_assert_null(ctl_identity_ref_name("mi1"));
    cr_assert_null(ctl_identity_ref_name("/identities/"));
    cr_assert_null(ctl_identity_ref_name("/identities/mi1/x"));
    cr_assert_null(ctl_identity_ref_name("/registries/mi1"));
}

Test(control_validate, key_identifiers)
{
    int v = -1;
    cr_assert(ctl_key_identifier_valid("https://kv1.vault.localhost:8443/keys/k1", &v));
    cr_assert_eq(v, 0);
    cr_assert(ctl_key_identifier_valid(
        "https://myvault.vault.azure.net/keys/my-key/0123456789abcdef0123456789ABCDEF", &v));
    cr_assert_eq(v, 1);
    cr_assert(ctl_key_identifier_valid("https://127.0.0.1/keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("http://kv/keys/k", NULL), "https only");
    cr_assert_not(ctl_key_identifier_valid("https://kv/keys/", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv/keys/k/", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv/keys/k/0123", NULL), "short version");
    cr_assert_not(
        ctl_key_identifier_valid("https://kv/keys/k/0123456789abcdef0123456789abcdef0", NULL),
        "long version");
    cr_assert_not(ctl_key_identifier_valid("https://kv/secrets/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv:0/keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv:65536/keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv:/keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://user@kv/keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv/keys/k?x=1", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://kv/keys/k_1", NULL));
    cr_assert_not(ctl_key_identifier_valid("https:///keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("https://-kv/keys/k", NULL));
    cr_assert_not(ctl_key_identifier_valid("", NULL));
    cr_assert_not(ctl_key_identifier_valid(NULL, NULL));
}

Test(control_validate, rfc3339)
{
    char b[32];
    ctl_rfc3339(b, sizeof(b), 0);
    cr_assert_str_eq(b, "1970-01-01T00:00:00Z");
    ctl_rfc3339(b, sizeof(b), 1795941416);
    cr_assert_str_eq(b, "2026-11-29T08:36:56Z");
}

Test(control_validate, token_names)
{
    cr_assert(ctl_token_name_valid("ci-pull"));
    cr_assert(ctl_token_name_valid("Token1"));
    cr_assert_not(ctl_token_name_valid("tok")); /* < 5 */
    cr_assert_not(ctl_token_name_valid("ci_pull"));
    cr_assert_not(ctl_token_name_valid("ci.pull"));
    cr_assert_not(ctl_token_name_valid(""));
    cr_assert_not(ctl_token_name_valid(NULL));
    char s[52];
    memset(s, 'a', 51);
    s[51] = '\0';
    cr_assert_not(ctl_token_name_valid(s));
    s[50] = '\0';
    cr_assert(ctl_token_name_valid(s));
}

Test(control_validate, repository_names_follow_the_oci_grammar)
{
    const char *good[] = {"app",    "a",       "team/app", "a/b/c", "my-app", "my--app",
                          "my_app", "my__app", "my.app",   "v1.2",  "0ab/9z"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(ctl_repository_name_valid(good[i]), "%s", good[i]);
    const char *bad[] = {"",     "App",  "-app", "app-",   "a___b", "a..b", "a._b",
                         "/app", "app/", "a//b", "team/*", "*",     "a b",  "app:tag",
                         "_app", "app_", ".app", "a/B",    "ä"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(ctl_repository_name_valid(bad[i]), "%s", bad[i]);
    char longest[257];
    memset(longest, 'a', 256);
    longest[256] = '\0';
    cr_assert_not(ctl_repository_name_valid(longest));
    longest[255] = '\0';
    cr_assert(ctl_repository_name_valid(longest));
}

Test(control_validate, scope_repositories_are_names_or_prefix_wildcards)
{
    cr_assert(ctl_scope_repository_valid("app"));
    cr_assert(ctl_scope_repository_valid("team/*"));
    cr_assert(ctl_scope_repository_valid("team/sub/*"));
    cr_assert_not(ctl_scope_repository_valid("*"));
    cr_assert_not(ctl_scope_repository_valid("/*"));
    cr_assert_not(ctl_scope_repository_valid("team*"));
    cr_assert_not(ctl_scope_repository_valid("team/a*"));
    cr_assert_not(ctl_scope_repository_valid("team/*/x"));
    cr_assert_not(ctl_scope_repository_valid("Team/*"));
    cr_assert_not(ctl_scope_repository_valid(NULL));
}

Test(control_validate, token_actions_are_the_four_of_acr)
{
    cr_assert(ctl_token_action_valid("content/read"));
    cr_assert(ctl_token_action_valid("content/write"));
    cr_assert(ctl_token_action_valid("content/delete"));
    cr_assert(ctl_token_action_valid("metadata/read"));
    cr_assert_not(ctl_token_action_valid("metadata/write"));
    cr_assert_not(ctl_token_action_valid("pull"));
    cr_assert_not(ctl_token_action_valid("Content/Read"));
    cr_assert_not(ctl_token_action_valid(""));
}
