/*
 * test_cli_output.c -- pins --query evaluation (the JMESPath subset az
 * users script with) and the json, tsv and table printers.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"

static json_t *doc(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    return j;
}

/* The query's result printed as tsv (or json), as a malloc'd string. */
static char *run(const char *json_text, const char *q, int tsv)
{
    json_t *root = doc(json_text), *r = NULL;
    cli_err e = {0};
    cr_assert_eq(cli_query_eval(root, q, &r, &e), 0, "%s", e.msg);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cli_output_print(f, r, tsv, NULL);
    fclose(f);
    json_decref(r);
    json_decref(root);
    return buf;
}

static const char *bundle =
    "{\"key\":{\"kid\":\"https://v.vault.localhost:8443/keys/k/abc\",\"kty\":\"RSA\","
    "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]},\"attributes\":{\"enabled\":true,\"created\":17},"
    "\"tags\":null}";

static const char *registry =
    "{\"name\":\"reg1\",\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":"
    "{\"/identities/mi\":{\"principalId\":\"p-1\",\"clientId\":\"c-1\"}}},\"properties\":"
    "{\"encryption\":{\"status\":\"enabled\",\"keyVaultProperties\":{\"keyStatus\":"
    "\"available\",\"lastError\":null}}}}";

static void expect(char *got, const char *want)
{
    cr_assert_str_eq(got, want);
    free(got);
}

Test(cli_query, dotted_paths)
{
    expect(run(bundle, "key.kid", 1), "https://v.vault.localhost:8443/keys/k/abc\n");
    expect(run(registry, "properties.encryption.keyVaultProperties.keyStatus", 1), "available\n");
    expect(run(registry, "properties.encryption.keyVaultProperties.keyStatus", 0),
           "\"available\"\n");
    expect(run(bundle, "attributes.enabled", 1), "true\n");
    expect(run(bundle, "attributes.created", 1), "17\n");
}

Test(cli_query, indexes_and_negative_indexes)
{
    const char *list = "[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]";
    expect(run(list, "[0].name", 1), "a\n");
    expect(run(list, "[2].name", 1), "c\n");
    expect(run(list, "[-1].name", 1), "c\n");
    expect(run(bundle, "key.key_ops[1]", 1), "unwrapKey\n");
    expect(run(list, "[3].name", 1), ""); /* out of range: nothing */
}

Test(cli_query, projections)
{
    const char *list = "[{\"name\":\"a\",\"x\":1},{\"x\":2},{\"name\":\"c\"}]";
    expect(run(list, "[].name", 1), "a\nc\n"); /* elements without it are dropped */
    expect(run(list, "[*].x", 0), "[\n  1,\n  2\n]\n");
    expect(run(registry, "identity.userAssignedIdentities.*.clientId", 1), "c-1\n");
}

Test(cli_query, quoted_keys)
{
    expect(run(registry, "identity.userAssignedIdentities.\"/identities/mi\".principalId", 1),
           "p-1\n");
}

Test(cli_query, missing_paths_yield_nothing)
{
    expect(run(bundle, "key.nothere", 1), "");
    expect(run(bundle, "key.kid.deeper", 0), "");
    expect(run(bundle, "[0]", 0), "");
    expect(run(registry, "properties.encryption.keyVaultProperties.lastError", 0), "null\n");
}

Test(cli_query, malformed_queries_are_usage_errors)
{
    static const char *bad[] = {"",    "a..b",           ".a",  "a.",    "a[",  "a[x]", "a[1",
                                "a]b", "\"unterminated", "a b", "a[0]b", "[1-]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cli_err e = {0};
        cr_assert_eq(cli_query_check(bad[i], &e), -1, "accepted '%s'", bad[i]);
        cr_assert_eq(e.usage, 1, "'%s'", bad[i]);
        cr_assert_not_null(strstr(e.msg, "argument --query"), "%s", e.msg);
    }
    static const char *good[] = {"a",     "a.b",   "[0]", "[-2].x",    "[]",
                                 "[*].x", "a[].b", "*",   "\"k/v\".x", "a-b.c_d"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cli_err e = {0};
        cr_assert_eq(cli_query_check(good[i], &e), 0, "refused '%s': %s", good[i], e.msg);
    }
}

Test(cli_tsv, scalars_are_bare)
{
    expect(run("{\"s\":\"text with space\",\"n\":42,\"b\":false,\"z\":null}", "s", 1),
           "text with space\n");
    expect(run("{\"n\":42}", "n", 1), "42\n");
    expect(run("{\"b\":false}", "b", 1), "false\n");
    expect(run("{\"z\":null}", "z", 1), "\n");
}

Test(cli_tsv, objects_are_one_line_of_their_scalars)
{
    expect(run("{\"a\":\"x\",\"nested\":{\"k\":1},\"b\":2,\"arr\":[1],\"c\":true}", "@", 1),
           "x\t2\ttrue\n");
}

Test(cli_tsv, arrays_are_one_line_per_element)
{
    expect(
        run("{\"v\":[{\"name\":\"a\",\"id\":\"/i/a\"},{\"name\":\"b\",\"id\":\"/i/b\"}]}", "v", 1),
        "a\t/i/a\nb\t/i/b\n");
    expect(run("{\"v\":[\"x\",\"y\"]}", "v", 1), "x\ny\n");
}

Test(cli_json, two_space_indent)
{
    json_t *j = doc("{\"a\":{\"b\":[1,\"x\"]}}");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cli_output_print(f, j, CLI_OUT_JSON, NULL);
    fclose(f);
    cr_assert_str_eq(buf, "{\n  \"a\": {\n    \"b\": [\n      1,\n      \"x\"\n    ]\n  }\n}\n");
    free(buf);
    json_decref(j);
}

/* ---- -o table ---- */

/* text printed as a table (with the verb's columns cols), malloc'd */
static char *table_of(const char *json_text, const cli_column *cols)
{
    json_error_t je;
    json_t *v = json_loads(json_text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(v, "%s", je.text);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cr_assert_eq(cli_output_print(f, v, CLI_OUT_TABLE, cols), 0);
    fclose(f);
    json_decref(v);
    return buf;
}

Test(cli_table, a_list_gets_azs_automatic_columns)
{
    /* the scalar members in the order first seen, id/type/etag and nested
     * values left out, headers capitalized; a missing member is an empty
     * cell; the last column is not padded */
    expect(table_of("[{\"id\":\"/identities/mi1\",\"name\":\"mi1\",\"type\":\"t\","
                    "\"clientId\":\"c-1\",\"props\":{\"x\":1}},"
                    "{\"name\":\"longer-name\",\"principalId\":\"p-2\",\"clientId\":null}]",
                    NULL),
           "Name         ClientId  PrincipalId\n"
           "-----------  --------  -----------\n"
           "mi1          c-1\n"
           "longer-name            p-2\n");
}

Test(cli_table, a_list_with_the_verbs_columns)
{
    static const cli_column cols[] = {
        {"Name", "name"},
        {"LoginServer", "properties.loginServer"},
        {"AdminUserEnabled", "properties.adminUserEnabled"},
        {0},
    };
    expect(table_of("[{\"name\":\"reg1\",\"properties\":{\"loginServer\":\"127.0.0.1:5000/reg1\","
                    "\"adminUserEnabled\":true}},{\"name\":\"registry2\",\"properties\":{}}]",
                    cols),
           "Name       LoginServer          AdminUserEnabled\n"
           "---------  -------------------  ----------------\n"
           "reg1       127.0.0.1:5000/reg1  true\n"
           "registry2\n");
}

Test(cli_table, a_single_object_is_a_property_value_table_of_query_paths)
{
    /* every leaf, named by its --query path (quoted where it is no
     * identifier), arrays of scalars joined, arrays of objects indexed */
    expect(
        table_of(
            "{\"name\":\"reg1\",\"sku\":{\"name\":\"Premium\"},"
            "\"identity\":{\"userAssignedIdentities\":{\"/identities/mi\":{\"clientId\":\"c-1\"}}},"
            "\"ops\":[\"wrapKey\",\"unwrapKey\"],"
            "\"passwords\":[{\"name\":\"password\",\"value\":\"pw\"}],\"lastError\":null}",
            NULL),
        "Property                                                   Value\n"
        "---------------------------------------------------------  ------------------\n"
        "name                                                       reg1\n"
        "sku.name                                                   Premium\n"
        "identity.userAssignedIdentities.\"/identities/mi\".clientId  c-1\n"
        "ops                                                        wrapKey, unwrapKey\n"
        "passwords[0].name                                          password\n"
        "passwords[0].value                                         pw\n"
        "lastError\n");
}

Test(cli_table, scalars_are_one_result_column_and_cells_stay_on_one_line)
{
    expect(table_of("[\"a\",\"b\\tc\\nd\",3]", NULL), "Result\n------\na\nb c d\n3\n");
    expect(table_of("\"x\"", NULL), "Result\n------\nx\n");
    expect(table_of("[]", NULL), "");
    expect(table_of("{}", NULL), "");
}

Test(cli_table, widths_count_characters_not_bytes)
{
    /* "é" is two bytes of UTF-8 but one column */
    expect(table_of("[{\"name\":\"caf\\u00e9\",\"n\":1},{\"name\":\"x\",\"n\":2}]", NULL),
           "Name  N\n"
           "----  -\n"
           "caf\xc3\xa9  1\n"
           "x     2\n");
}
