/*
 * test_audit.c -- the audit log (src/vault/audit.c): one JSON line per
 * event with exactly the documented fields, filters, and the "most recent
 * `limit`" window.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "vault/audit.h"

static char dir[64], path[128];
static vault_audit *a;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/vault-audit-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    cr_assert_eq(vault_audit_open(&a, path, NULL), CF_OK);
}

static void teardown(void)
{
    vault_audit_close(a);
    unlink(path);
    rmdir(dir);
}

TestSuite(vault_audit, .init = setup, .fini = teardown);

static void ev(const char *vault, const char *oid, const char *op, unsigned status)
{
    vault_audit_event e = {.vault = vault,
                           .object_id = oid,
                           .app_id = "app",
                           .operation = op,
                           .key = "k",
                           .version = "v",
                           .status = status,
                           .request_id = "rid",
                           .peer = "127.0.0.1"};
    cr_assert_eq(vault_audit_write(a, &e, NULL), CF_OK);
}

static json_t *query(vault_audit_filter f)
{
    json_t *out = NULL;
    cr_assert_eq(vault_audit_query(a, &f, &out, NULL), CF_OK);
    json_t *v = json_incref(json_object_get(out, "value"));
    json_decref(out);
    return v;
}

Test(vault_audit, writes_one_line_with_the_documented_fields)
{
    ev("default", "oid-1", "KeyUnwrap", 200);
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_fs_read_all(path, 1 << 20, &b, NULL), CF_OK);
    cr_assert_eq(b.data[b.len - 1], '\n');
    json_t *j = json_loadb((const char *)b.data, b.len - 1, 0, NULL);
    cr_assert_not_null(j);
    const char *keys[] = {"time",    "vault",  "objectId", "appId",     "operation", "key",
                          "version", "result", "status",   "requestId", "peer"};
    cr_assert_eq(json_object_size(j), sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cr_assert_not_null(json_object_get(j, keys[i]), "%s", keys[i]);
    cr_assert_str_eq(json_string_value(json_object_get(j, "result")), "success");
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 200);
    json_decref(j);
    cf_buf_free(&b);
}

Test(vault_audit, results_by_status)
{
    cr_assert_str_eq(vault_audit_result(204), "success");
    cr_assert_str_eq(vault_audit_result(401), "unauthorized");
    cr_assert_str_eq(vault_audit_result(403), "forbidden");
    cr_assert_str_eq(vault_audit_result(404), "failure");
    cr_assert_str_eq(vault_audit_result(500), "failure");
}

Test(vault_audit, filters_and_keeps_the_most_recent)
{
    ev("default", "a", "KeyGet", 200);
    ev("other", "a", "KeyGet", 403);
    ev("default", "b", "KeyUnwrap", 200);
    ev("default", "a", "KeyUnwrap", 401);
    json_t *v = query((vault_audit_filter){.vault = "DEFAULT"});
    cr_assert_eq(json_array_size(v), 3);
    json_decref(v);
    v = query((vault_audit_filter){.object_id = "a", .operation = "keyunwrap"});
    cr_assert_eq(json_array_size(v), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "result")),
                     "unauthorized");
    json_decref(v);
    v = query((vault_audit_filter){.result = "forbidden"});
    cr_assert_eq(json_array_size(v), 1);
    json_decref(v);
    v = query((vault_audit_filter){.limit = 2});
    cr_assert_eq(json_array_size(v), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "objectId")), "b",
                     "the last two, in time order");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 1), "objectId")), "a");
    json_decref(v);
    v = query((vault_audit_filter){.since = "4102444800"}); /* 2100-01-01 */
    cr_assert_eq(json_array_size(v), 0);
    json_decref(v);
    v = query((vault_audit_filter){.until = "2000-01-01T00:00:00Z"});
    cr_assert_eq(json_array_size(v), 0);
    json_decref(v);
    v = query((vault_audit_filter){.since = "946684800"}); /* 2000-01-01 */
    cr_assert_eq(json_array_size(v), 4);
    json_decref(v);
}

/* Appends raw text to the log, as a damaged or foreign writer might. */
static void raw(const char *text, size_t n)
{
    FILE *fp = fopen(path, "ae");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(text, 1, n, fp), n);
    fclose(fp);
}

Test(vault_audit, streams_past_overlong_and_malformed_lines)
{
    ev("default", "first", "KeyGet", 200);
    /* a 100 KiB line: skipped whole (its tail is not read as a line) */
    size_t big = 100 * 1024;
    char *line = malloc(big + 1);
    cr_assert_not_null(line);
    memset(line, ' ', big);
    const char *fake = "{\"time\":\"2030-01-01T00:00:00.000Z\",\"objectId\":\"inside\"}";
    memcpy(line, "{\"x\":\"", 6);
    memcpy(line + big - 1 - strlen(fake), fake, strlen(fake)); /* a valid-looking tail */
    line[big - 1] = '\n';
    raw(line, big);
    free(line);
    raw("not json\n\n[1,2]\n", 16);
    ev("default", "last", "KeyGet", 200);
    json_t *v = query((vault_audit_filter){0});
    cr_assert_eq(json_array_size(v), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "objectId")), "first");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 1), "objectId")), "last");
    json_decref(v);
    /* a final line without its newline still counts */
    raw("{\"time\":\"2030-01-01T00:00:00.000Z\",\"objectId\":\"torn\"}", 53);
    v = query((vault_audit_filter){.limit = 1});
    cr_assert_eq(json_array_size(v), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "objectId")), "torn");
    json_decref(v);
}

Test(vault_audit, text_query_keeps_the_last_limit_of_a_long_log)
{
    for (int i = 0; i < 300; i++)
        ev(i % 2 ? "odd" : "even", i == 298 ? "marker" : "x", "KeyGet", 200);
    cf_buf b;
    cf_buf_init(&b, 0);
    vault_audit_filter f = {.vault = "even", .limit = 2};
    cr_assert_eq(vault_audit_query_text(a, &f, &b, NULL), CF_OK);
    json_t *o = json_loadb((const char *)b.data, b.len, 0, NULL);
    cr_assert_not_null(o, "the text is one JSON document");
    json_t *v = json_object_get(o, "value");
    cr_assert_eq(json_array_size(v), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 1), "objectId")),
                     "marker");
    json_decref(o);
    cf_buf_free(&b);
}
