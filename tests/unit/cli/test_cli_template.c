/*
 * test_cli_template.c -- pins the template reader (template.h) on the
 * shipped CMK template (docs/templates/cmk-registry.json) and on small
 * broken ones: parameter binding and its checks, resource ids, explicit
 * and implicit (reference()) dependencies and the order they give,
 * evaluation with known and unknown references, and errors that start
 * with the template path of the value at fault.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/template.h"

#define SUB "00000000-0000-0000-0000-000000000000"
#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define RG "/subscriptions/" SUB "/resourceGroups/rg1/providers/"

/* reference(): the identity and the key exist (known), unless `absent`. */
static int ref_cb(void *cls, long index, const char *id, int full, json_t **out, cli_err *e)
{
    (void)full;
    (void)e;
    *out = NULL;
    if (*(int *)cls)
        return 0;
    if (strstr(id, "userAssignedIdentities"))
        *out = json_pack("{s:s,s:s}", "clientId", "11111111-1111-1111-1111-111111111111",
                         "principalId", "22222222-2222-2222-2222-222222222222");
    else if (strstr(id, "/keys/"))
        *out = json_pack("{s:s}", "keyUri", "https://kv1.vault.localhost:8443/keys/cmkreg1-key");
    else if (strstr(id, "registries"))
        *out = json_pack("{s:s}", "loginServer", "cmkreg1.localhost");
    cr_assert(index >= 0, "%s is a resource of the template", id);
    return 0;
}

static int absent;
static const tpl_site site = {SUB, "sub", TENANT, "rg1", "eastus", ref_cb, &absent};

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s (run the tests from the repository root)", path);
    char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* The CMK template bound with these name=value parameters. */
static tpl *cmk(const char *params_json, cli_err *e, int *rc)
{
    size_t n;
    char *text = slurp("docs/templates/cmk-registry.json", &n);
    tpl *t = NULL;
    cr_assert_eq(tpl_parse(&t, text, n, e), 0, "%s", e->msg);
    free(text);
    json_t *p = json_loads(params_json, 0, NULL);
    *rc = tpl_bind(t, NULL, p, &site, e);
    json_decref(p);
    return t;
}

static const char *names = "{\"registry_name\":\"cmkreg1\",\"identity_name\":\"mi1\","
                           "\"vault_name\":\"kv1\"}";

Test(cli_template, binds_ids_and_orders_by_explicit_and_implicit_dependencies)
{
    cli_err e = {0};
    int rc;
    tpl *t = cmk(names, &e, &rc);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_assert_eq(tpl_resource_count(t), 5);
    cr_expect_str_eq(tpl_resource_at(t, 3)->id,
                     RG "Microsoft.KeyVault/vaults/kv1/keys/cmkreg1-key");
    cr_expect_str_eq(tpl_resource_at(t, 2)->id,
                     RG "Microsoft.KeyVault/vaults/kv1/accessPolicies/add");
    cr_expect_str_eq(tpl_resource_at(t, 4)->path, "resources[4]");
    size_t nd;
    const size_t *d = tpl_resource_deps(t, 4, &nd);
    int seen[5] = {0};
    for (size_t i = 0; i < nd; i++)
        seen[d[i]] = 1;
    /* dependsOn names the policy; reference() adds the identity and key */
    cr_expect(seen[0] && seen[2] && seen[3] && !seen[1], "deps of the registry");
    const size_t *o = tpl_order(t);
    size_t pos[5];
    for (size_t i = 0; i < 5; i++)
        pos[o[i]] = i;
    cr_expect(pos[4] > pos[0] && pos[4] > pos[2] && pos[4] > pos[3] && pos[2] > pos[1]);
    json_t *ps = tpl_parameters(t);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(ps, "key_size"), "value")),
                 3072);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(ps, "location"), "value")),
                     "eastus");
    json_decref(ps);
    tpl_free(t);
}

Test(cli_template, evaluates_references_when_known_and_keeps_the_text_when_not)
{
    cli_err e = {0};
    int rc;
    tpl *t = cmk(names, &e, &rc);
    cr_assert_eq(rc, 0, "%s", e.msg);
    json_t *b, *u;
    cr_assert_eq(tpl_resource_eval(t, 4, &b, &u, &e), 0, "%s", e.msg);
    json_t *kvp = json_object_get(json_object_get(json_object_get(b, "properties"), "encryption"),
                                  "keyVaultProperties");
    cr_expect_str_eq(json_string_value(json_object_get(kvp, "KeyIdentifier")),
                     "https://kv1.vault.localhost:8443/keys/cmkreg1-key");
    cr_expect_str_eq(json_string_value(json_object_get(kvp, "identity")),
                     "11111111-1111-1111-1111-111111111111");
    cr_expect_not_null(
        json_object_get(json_object_get(json_object_get(b, "identity"), "userAssignedIdentities"),
                        RG "Microsoft.ManagedIdentity/userAssignedIdentities/mi1"));
    cr_expect_eq(json_array_size(u), 0);
    json_decref(b);
    json_decref(u);
    absent = 1;
    cr_assert_eq(tpl_resource_eval(t, 4, &b, &u, &e), 0, "%s", e.msg);
    absent = 0;
    cr_expect_eq(json_array_size(u), 2);
    cr_expect_str_eq(json_string_value(json_array_get(u, 0)),
                     "properties.encryption.keyVaultProperties.identity");
    kvp = json_object_get(json_object_get(json_object_get(b, "properties"), "encryption"),
                          "keyVaultProperties");
    cr_expect_str_eq(json_string_value(json_object_get(kvp, "identity")),
                     "[reference(variables('identity_id'), '2018-11-30').clientId]");
    json_decref(b);
    json_decref(u);
    json_t *outs;
    cr_assert_eq(tpl_outputs(t, &outs, &e), 0, "%s", e.msg);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(outs, "loginServer"), "value")),
        "cmkreg1.localhost");
    json_decref(outs);
    tpl_free(t);
}

/* Binding the CMK template with these parameters fails with msg. */
static void cmk_fails(const char *params, const char *msg)
{
    cli_err e = {0};
    int rc;
    tpl *t = cmk(params, &e, &rc);
    cr_expect_eq(rc, -1, "%s bound", params);
    cr_expect_str_eq(e.code, "InvalidTemplate");
    cr_expect(strstr(e.msg, msg) != NULL, "'%s' lacks '%s'", e.msg, msg);
    tpl_free(t);
}

Test(cli_template, parameters_are_checked_as_arm_checks_them)
{
    cmk_fails("{\"identity_name\":\"mi1\",\"vault_name\":\"kv1\"}",
              "parameters.registry_name: no value given (--parameters registry_name=VALUE)");
    cmk_fails("{\"registry_name\":\"cmkreg1\",\"identity_name\":\"mi1\",\"vault_name\":\"kv1\","
              "\"sku\":\"Gold\"}",
              "parameters.sku: the value \"Gold\" is not one of the allowed values "
              "[\"Basic\",\"Standard\",\"Premium\"]");
    cmk_fails("{\"registry_name\":\"cmkreg1\",\"identity_name\":\"mi1\",\"vault_name\":\"kv1\","
              "\"key_size\":\"big\"}",
              "parameters.key_size: 'big' is not an integer");
    cmk_fails("{\"registry_name\":\"reg\",\"identity_name\":\"mi1\",\"vault_name\":\"kv1\"}",
              "parameters.registry_name: the value is outside minLength");
    /* the tutorial's own quirk: its command passes key_id to a kek_id template */
    cmk_fails("{\"registry_name\":\"cmkreg1\",\"identity_name\":\"mi1\",\"vault_name\":\"kv1\","
              "\"key_id\":\"x\"}",
              "the parameter 'key_id' is given but the template has no such parameter; its "
              "parameters are: registry_name, identity_name, vault_name, key_name");
}

/* tpl_parse + tpl_bind of text fails with msg. */
static void fails(const char *text, const char *msg)
{
    cli_err e = {0};
    tpl *t = NULL;
    int rc = tpl_parse(&t, text, strlen(text), &e);
    if (rc == 0)
        rc = tpl_bind(t, NULL, NULL, &site, &e);
    cr_expect_eq(rc, -1, "%s accepted", text);
    cr_expect(strstr(e.msg, msg) != NULL, "'%s' lacks '%s'", e.msg, msg);
    tpl_free(t);
}

#define ID "\"type\":\"Microsoft.ManagedIdentity/userAssignedIdentities\",\"apiVersion\":\"1\""

Test(cli_template, errors_name_the_template_path)
{
    fails("{\"resources\":[{" ID ",\"name\":\"a\"},{" ID
          ",\"name\":\"b\",\"properties\":{\"x\":[1,\"[nosuch()]\"]}}]}",
          "resources[1].properties.x[1]: the template function 'nosuch' is not supported");
    fails("{\"resources\":[{" ID ",\"name\":\"[reference('x').name]\"}]}",
          "resources[0].name: reference() cannot be used here");
    fails("{\"resources\":[{\"type\":\"Microsoft.KeyVault/vaults/keys\",\"apiVersion\":\"1\","
          "\"name\":\"kv1\"}]}",
          "resources[0].name: the resource type 'Microsoft.KeyVault/vaults/keys' needs 2 name "
          "segment(s), got 1");
    fails("{\"resources\":[{" ID ",\"name\":\"a\",\"copy\":{}}]}",
          "resources[0].copy: is not supported by coffer");
    fails("{\"resources\":[{" ID ",\"name\":\"a\",\"dependsOn\":[\"zz\"]}]}",
          "resources[0].dependsOn[0]: 'zz' is not a resource of this template");
    fails("{\"resources\":[{" ID "}]}", "resources[0].name: is required");
    fails("{\"resources\":[], \"outputs\":{\"o\":{\"type\":\"int\"}}}",
          "outputs.o: must be an object with a type and a value");
    fails("{\"resources\":[{" ID ",\"name\":\"a\"},{" ID ",\"name\":\"A\"}]}",
          "resources[1].name: the same resource is declared twice (as resources[0])");
    fails("{\"resources\":[", "the template is not valid JSON");
    fails("{\"parameters\":{\"p\":{\"type\":\"text\"}},\"resources\":[]}",
          "parameters.p.type: must be one of string");
}

Test(cli_template, cycles_are_refused)
{
    fails("{\"resources\":[{" ID ",\"name\":\"a\",\"dependsOn\":[\"b\"]},{" ID
          ",\"name\":\"b\",\"properties\":{\"p\":\"[reference('a').clientId]\"}}]}",
          "circular dependency among resources[0], resources[1]");
    fails("{\"variables\":{\"a\":\"[variables('b')]\",\"b\":\"[variables('a')]\"},"
          "\"resources\":[]}",
          "variables.a: variables.b: variables.a: the variable depends on itself");
    fails("{\"parameters\":{\"a\":{\"type\":\"string\",\"defaultValue\":\"[parameters('a')]\"}},"
          "\"resources\":[]}",
          "its defaultValue depends on itself");
}

Test(cli_template, expressions_in_property_names_and_escapes)
{
    const char *text =
        "{\"variables\":{\"v\":{\"[concat('k', '1')]\":\"[[literal]\"}},"
        "\"resources\":[{" ID ",\"name\":\"[concat('mi', string(length(variables('v'))))]\","
        "\"tags\":\"[variables('v')]\"}]}";
    cli_err e = {0};
    tpl *t = NULL;
    cr_assert_eq(tpl_parse(&t, text, strlen(text), &e), 0, "%s", e.msg);
    cr_assert_eq(tpl_bind(t, NULL, NULL, &site, &e), 0, "%s", e.msg);
    cr_expect_str_eq(tpl_resource_at(t, 0)->name, "mi1");
    json_t *b, *u;
    cr_assert_eq(tpl_resource_eval(t, 0, &b, &u, &e), 0, "%s", e.msg);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(b, "tags"), "k1")),
                     "[literal]");
    json_decref(b);
    json_decref(u);
    tpl_free(t);
}

Test(cli_template, secure_values_never_leave_the_template)
{
    const char *text = "{\"parameters\":{\"pw\":{\"type\":\"securestring\","
                       "\"allowedValues\":[\"s3cret-a\",\"s3cret-b\"]}},\"resources\":[],"
                       "\"outputs\":{\"o\":{\"type\":\"securestring\","
                       "\"value\":\"[parameters('pw')]\"}}}";
    cli_err e = {0};
    tpl *t = NULL;
    json_t *bad = json_pack("{s:s}", "pw", "typed-s3cret"),
           *good = json_pack("{s:s}", "pw", "s3cret-a");
    cr_assert_eq(tpl_parse(&t, text, strlen(text), &e), 0, "%s", e.msg);
    cr_assert_eq(tpl_bind(t, NULL, bad, &site, &e), -1);
    cr_expect(strstr(e.msg, "s3cret") == NULL, "the error shows a secure value: %s", e.msg);
    tpl_free(t);
    memset(&e, 0, sizeof(e));
    cr_assert_eq(tpl_parse(&t, text, strlen(text), &e), 0, "%s", e.msg);
    cr_assert_eq(tpl_bind(t, NULL, good, &site, &e), 0, "%s", e.msg);
    json_t *ps = tpl_parameters(t), *outs = NULL;
    char *dump = json_dumps(ps, 0);
    cr_expect(strstr(dump, "s3cret") == NULL, "parameters show it: %s", dump);
    free(dump);
    cr_assert_eq(tpl_outputs(t, &outs, &e), 0, "%s", e.msg);
    dump = json_dumps(outs, 0);
    cr_expect_str_eq(dump, "{\"o\": {\"type\": \"securestring\"}}");
    free(dump);
    json_decref(ps);
    json_decref(outs);
    json_decref(bad);
    json_decref(good);
    tpl_free(t);
}
