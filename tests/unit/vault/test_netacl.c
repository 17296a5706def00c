/*
 * test_netacl.c -- a vault's network rules (src/vault/netacl.c): how a
 * networkAcls change is validated and merged, and who the rules let
 * through.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "vault/netacl.h"

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_not_null(j, "bad test JSON: %s", text);
    return j;
}

/* current (NULL: defaults) + change text -> normalized rules */
static json_t *apply(const json_t *current, const char *change)
{
    json_t *c = parse(change), *out = NULL;
    cf_err e = {0};
    cr_assert_eq(vault_netacl_apply(&out, current, c, &e), CF_OK, "%s", e.msg);
    json_decref(c);
    return out;
}

static cf_code refuse(const char *change, const char *needle)
{
    json_t *c = parse(change), *out = NULL;
    cf_err e = {0};
    cf_code rc = vault_netacl_apply(&out, NULL, c, &e);
    cr_assert_null(out);
    cr_assert(strstr(e.msg, needle) != NULL, "'%s' not in '%s'", needle, e.msg);
    json_decref(c);
    return rc;
}

Test(vault_netacl, defaults_allow_everyone)
{
    json_t *d = vault_netacl_default();
    cr_assert_str_eq(json_string_value(json_object_get(d, "defaultAction")), "Allow");
    cr_assert_str_eq(json_string_value(json_object_get(d, "bypass")), "AzureServices");
    cr_assert(vault_netacl_allows(d, "203.0.113.9", 0));
    cr_assert(vault_netacl_allows(NULL, "::1", 0));
    json_decref(d);
}

Test(vault_netacl, apply_canonicalizes_words_and_addresses_and_keeps_absent_members)
{
    json_t *r = apply(NULL, "{\"defaultAction\":\"deny\",\"bypass\":\"none\","
                            "\"ipRules\":[{\"value\":\"192.0.2.7\"},{\"value\":\"10.1.0.0/16\"},"
                            "{\"value\":\"192.0.2.7/32\"}]}");
    char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_str_eq(text,
                     "{\"bypass\":\"None\",\"defaultAction\":\"Deny\",\"ipRules\":[{\"value\":"
                     "\"192.0.2.7/32\"},{\"value\":\"10.1.0.0/16\"}],"
                     "\"virtualNetworkRules\":[]}");
    free(text);
    /* a later change of one member keeps the others */
    json_t *r2 = apply(r, "{\"bypass\":\"AzureServices\"}");
    cr_assert_str_eq(json_string_value(json_object_get(r2, "defaultAction")), "Deny");
    cr_assert_eq(json_array_size(json_object_get(r2, "ipRules")), 2);
    json_t *r3 = apply(r2, "{\"ipRules\":[],\"defaultAction\":null}");
    cr_assert_eq(json_array_size(json_object_get(r3, "ipRules")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r3, "defaultAction")), "Deny");
    json_decref(r);
    json_decref(r2);
    json_decref(r3);
}

Test(vault_netacl, apply_refuses_what_it_cannot_enforce)
{
    cr_assert_eq(refuse("{\"defaultAction\":\"Block\"}", "defaultAction"), CF_EINVAL);
    cr_assert_eq(refuse("{\"bypass\":\"Everyone\"}", "bypass"), CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":[{\"value\":\"256.0.0.1\"}]}", "ipRules[0]"), CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":[{\"value\":\"10.0.0.1/8\"}]}", "host bits"), CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":[{\"value\":\"10.0.0.0/33\"}]}", "ipRules[0]"), CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":[{\"value\":\"2001:db8::/32\"}]}", "IPv4"), CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":[{\"value\":\" 10.0.0.1\"}]}", "ipRules[0]"), CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":[{\"value\":\"10.0.0.1\",\"x\":1}]}", "ipRules[0]"),
                 CF_EINVAL);
    cr_assert_eq(refuse("{\"ipRules\":\"10.0.0.1\"}", "array"), CF_EINVAL);
    cr_assert_eq(refuse("{\"virtualNetworkRules\":[{\"id\":\"/subnets/a\"}]}", "virtual"),
                 CF_EINVAL);
    cr_assert_eq(refuse("{\"firewall\":true}", "unknown"), CF_EINVAL);
    cr_assert_eq(refuse("[]", "object"), CF_EINVAL);
}

Test(vault_netacl, deny_lets_through_listed_addresses_only)
{
    json_t *r = apply(NULL, "{\"defaultAction\":\"Deny\",\"bypass\":\"None\","
                            "\"ipRules\":[{\"value\":\"10.1.0.0/16\"},{\"value\":\"127.0.0.1\"}]}");
    cr_assert(vault_netacl_allows(r, "10.1.255.3", 0));
    cr_assert(vault_netacl_allows(r, "127.0.0.1", 0));
    cr_assert(vault_netacl_allows(r, "::ffff:127.0.0.1", 0), "IPv4-mapped IPv6 peer");
    cr_assert_not(vault_netacl_allows(r, "10.2.0.1", 0));
    cr_assert_not(vault_netacl_allows(r, "127.0.0.2", 0));
    cr_assert_not(vault_netacl_allows(r, "::1", 0), "an IPv6 peer matches no IPv4 rule");
    cr_assert_not(vault_netacl_allows(r, "", 0));
    cr_assert_not(vault_netacl_allows(r, NULL, 0));
    cr_assert_not(vault_netacl_allows(r, "10.9.9.9", 1), "bypass None: a trusted service too");
    json_decref(r);
}

Test(vault_netacl, bypass_azure_services_lets_trusted_services_through_deny)
{
    json_t *r = apply(NULL, "{\"defaultAction\":\"Deny\"}");
    cr_assert(vault_netacl_allows(r, "198.51.100.1", 1));
    cr_assert_not(vault_netacl_allows(r, "198.51.100.1", 0));
    json_t *all =
        apply(NULL, "{\"defaultAction\":\"Deny\",\"ipRules\":[{\"value\":\"0.0.0.0/0\"}]}");
    cr_assert(vault_netacl_allows(all, "198.51.100.1", 0), "/0 covers every IPv4 address");
    json_decref(r);
    json_decref(all);
}
