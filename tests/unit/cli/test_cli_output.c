/*
 * test_cli_output.c -- pins --query evaluation (the JMESPath subset az
 * users script with) and the json/tsv printers.
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
    cli_output_print(f, r, tsv);
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
    cli_output_print(f, j, 0);
    fclose(f);
    cr_assert_str_eq(buf, "{\n  \"a\": {\n    \"b\": [\n      1,\n      \"x\"\n    ]\n  }\n}\n");
    free(buf);
    json_decref(j);
}
