/*
 * test_policy.c -- access policy logic (src/vault/policy.c): normalization
 * of permissions, add/remove/replace, and the permission check.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "vault/policy.h"

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_not_null(j, "bad test JSON: %s", text);
    return j;
}

static json_t *norm(const char *text)
{
    json_t *in = parse(text), *out = NULL;
    cf_err e = {0};
    cr_assert_eq(vault_policy_normalize(&out, in, &e), CF_OK, "%s", e.msg);
    json_decref(in);
    return out;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

Test(vault_policy, canonicalizes_permission_names_case_insensitively)
{
    cr_assert_str_eq(vault_perm_canonical("WRAPKEY"), "wrapKey");
    cr_assert_str_eq(vault_perm_canonical("GetRotationPolicy"), "getrotationpolicy");
    cr_assert_null(vault_perm_canonical("wrap"));
    cr_assert_null(vault_perm_canonical(""));
}

Test(vault_policy, normalize_sorts_and_dedups_permissions)
{
    json_t *p = norm("[{\"tenantId\":\"t\",\"objectId\":\"o1\",\"permissions\":{\"keys\":"
                     "[\"unwrapkey\",\"GET\",\"wrapKey\",\"get\"]}}]");
    char *s = dump(p);
    cr_assert_str_eq(s, "[{\"tenantId\":\"t\",\"objectId\":\"o1\",\"permissions\":{\"keys\":"
                        "[\"wrapKey\",\"unwrapKey\",\"get\"]}}]");
    free(s);
    json_decref(p);
}

Test(vault_policy, normalize_rejects_unknown_permission_and_missing_object_id)
{
    json_t *out = NULL;
    cf_err e = {0};
    json_t *bad = parse("[{\"objectId\":\"o\",\"permissions\":{\"keys\":[\"steal\"]}}]");
    cr_assert_eq(vault_policy_normalize(&out, bad, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "unknown key permission") != NULL, "%s", e.msg);
    json_decref(bad);
    cf_err_clear(&e);
    bad = parse("[{\"permissions\":{\"keys\":[\"get\"]}}]");
    cr_assert_eq(vault_policy_normalize(&out, bad, &e), CF_EINVAL);
    json_decref(bad);
    cf_err_clear(&e);
    bad = parse("[{\"objectId\":\"o\",\"extra\":1}]");
    cr_assert_eq(vault_policy_normalize(&out, bad, &e), CF_EINVAL);
    json_decref(bad);
    cf_err_clear(&e);
    bad = parse("{\"objectId\":\"o\"}");
    cr_assert_eq(vault_policy_normalize(&out, bad, &e), CF_EINVAL);
    json_decref(bad);
}

Test(vault_policy, allows_only_granted_permissions_for_the_object_id)
{
    json_t *p = norm("[{\"objectId\":\"ABC\",\"permissions\":{\"keys\":[\"get\",\"unwrapKey\"]}}]");
    cr_assert(vault_policy_allows(p, "abc", NULL, "unwrapkey"));
    cr_assert(vault_policy_allows(p, "ABC", "any-app", "get"));
    cr_assert_not(vault_policy_allows(p, "ABC", NULL, "wrapKey"));
    cr_assert_not(vault_policy_allows(p, "other", NULL, "get"));
    cr_assert_not(vault_policy_allows(p, "", NULL, "get"));
    cr_assert_not(vault_policy_allows(p, "ABC", NULL, "bogus"));
    json_decref(p);
}

Test(vault_policy, all_grants_every_permission)
{
    json_t *p = norm("[{\"objectId\":\"o\",\"permissions\":{\"keys\":[\"All\"]}}]");
    cr_assert(vault_policy_allows(p, "o", NULL, "purge"));
    cr_assert(vault_policy_allows(p, "o", NULL, "setrotationpolicy"));
    json_decref(p);
}

Test(vault_policy, compound_identity_needs_matching_application)
{
    json_t *p = norm("[{\"objectId\":\"o\",\"applicationId\":\"app1\",\"permissions\":{\"keys\":"
                     "[\"get\"]}}]");
    cr_assert(vault_policy_allows(p, "o", "APP1", "get"));
    cr_assert_not(vault_policy_allows(p, "o", "app2", "get"));
    cr_assert_not(vault_policy_allows(p, "o", NULL, "get"));
    json_decref(p);
}

Test(vault_policy, add_merges_permissions_per_identity)
{
    json_t *cur = norm("[{\"objectId\":\"o1\",\"permissions\":{\"keys\":[\"get\"]}}]");
    json_t *chg = norm("[{\"objectId\":\"O1\",\"permissions\":{\"keys\":[\"wrapKey\"]}},"
                       "{\"objectId\":\"o2\",\"permissions\":{\"keys\":[\"list\"]}}]");
    json_t *out = NULL;
    cf_err e = {0};
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_ADD, &e), CF_OK);
    cr_assert_eq(json_array_size(out), 2);
    cr_assert(vault_policy_allows(out, "o1", NULL, "get"));
    cr_assert(vault_policy_allows(out, "o1", NULL, "wrapKey"));
    cr_assert(vault_policy_allows(out, "o2", NULL, "list"));
    cr_assert_not(vault_policy_allows(out, "o2", NULL, "get"));
    /* the input is not modified */
    cr_assert_not(vault_policy_allows(cur, "o1", NULL, "wrapKey"));
    json_decref(out);
    json_decref(chg);
    json_decref(cur);
}

Test(vault_policy, remove_drops_listed_permissions_then_empty_entries)
{
    json_t *cur = norm("[{\"objectId\":\"o1\",\"permissions\":{\"keys\":[\"get\",\"unwrapKey\"]}},"
                       "{\"objectId\":\"o2\",\"permissions\":{\"keys\":[\"get\"]}}]");
    json_t *chg = norm("[{\"objectId\":\"o1\",\"permissions\":{\"keys\":[\"unwrapKey\"]}},"
                       "{\"objectId\":\"o2\",\"permissions\":{\"keys\":[\"get\"]}}]");
    json_t *out = NULL;
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_REMOVE, NULL), CF_OK);
    cr_assert_eq(json_array_size(out), 1);
    cr_assert(vault_policy_allows(out, "o1", NULL, "get"));
    cr_assert_not(vault_policy_allows(out, "o1", NULL, "unwrapKey"));
    cr_assert_not(vault_policy_allows(out, "o2", NULL, "get"));
    json_decref(out);
    json_decref(chg);
    /* an entry listing no permissions removes the whole identity */
    chg = norm("[{\"objectId\":\"o1\"}]");
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_REMOVE, NULL), CF_OK);
    cr_assert_eq(json_array_size(out), 1);
    cr_assert_not(vault_policy_allows(out, "o1", NULL, "get"));
    cr_assert(vault_policy_allows(out, "o2", NULL, "get"));
    json_decref(out);
    json_decref(chg);
    json_decref(cur);
}

/* az keyvault delete-policy fails with "No matching policies found": a
 * revocation with a wrong object id must not report success */
Test(vault_policy, remove_of_an_identity_without_an_entry_fails_and_changes_nothing)
{
    json_t *cur = norm("[{\"objectId\":\"o1\",\"permissions\":{\"keys\":[\"get\"]}},"
                       "{\"objectId\":\"o2\",\"applicationId\":\"a2\","
                       "\"permissions\":{\"keys\":[\"get\"]}}]");
    cf_err e = {0};
    json_t *out = NULL;
    json_t *chg = norm("[{\"objectId\":\"o1\"},{\"objectId\":\"nobody\"}]");
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_REMOVE, &e), CF_ENOTFOUND);
    cr_assert_null(out);
    cr_assert(strstr(e.msg, "No matching policies found") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "'nobody'") != NULL, "%s", e.msg);
    cr_assert(vault_policy_allows(cur, "o1", NULL, "get"), "the current list is untouched");
    json_decref(chg);
    /* o2 without its application id is another identity: no match either */
    memset(&e, 0, sizeof(e));
    chg = norm("[{\"objectId\":\"O2\"}]");
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_REMOVE, &e), CF_ENOTFOUND);
    json_decref(chg);
    /* with it (any case), the entry goes */
    chg = norm("[{\"objectId\":\"O2\",\"applicationId\":\"A2\"}]");
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_REMOVE, NULL), CF_OK);
    cr_assert_eq(json_array_size(out), 1);
    json_decref(out);
    json_decref(chg);
    json_decref(cur);
}

Test(vault_policy, replace_takes_the_new_list)
{
    json_t *cur = norm("[{\"objectId\":\"o1\",\"permissions\":{\"keys\":[\"all\"]}}]");
    json_t *chg = norm("[{\"objectId\":\"o3\",\"permissions\":{\"keys\":[\"get\"]}}]");
    json_t *out = NULL;
    cr_assert_eq(vault_policy_apply(&out, cur, chg, VAULT_POLICY_REPLACE, NULL), CF_OK);
    cr_assert_not(vault_policy_allows(out, "o1", NULL, "get"));
    cr_assert(vault_policy_allows(out, "o3", NULL, "get"));
    json_decref(out);
    json_decref(chg);
    json_decref(cur);
}

Test(vault_policy, tenant_is_checked_only_when_vault_and_token_both_name_one)
{
    const char *t1 = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    cr_assert(vault_tenant_allows(t1, t1));
    cr_assert(vault_tenant_allows(t1, "72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
    cr_assert_not(vault_tenant_allows(t1, "11111111-1111-1111-1111-111111111111"));
    cr_assert_not(vault_tenant_allows("t1", "t2"));
    /* a token without tid, or a vault without a tenant: not checked */
    cr_assert(vault_tenant_allows(t1, ""));
    cr_assert(vault_tenant_allows(t1, NULL));
    cr_assert(vault_tenant_allows("", "11111111-1111-1111-1111-111111111111"));
    cr_assert(vault_tenant_allows(VAULT_TENANT_NONE, "11111111-1111-1111-1111-111111111111"));
    cr_assert(vault_tenant_allows(NULL, t1));
}
