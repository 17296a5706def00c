/*
 * test_jsonl.c -- JSON-lines logs: appended whole, read back as the last
 * `limit` lines that pass a filter, in file order; junk lines skipped.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonl.h"

static int even(void *cls, const json_t *o)
{
    (void)cls;
    return json_integer_value(json_object_get(o, "n")) % 2 == 0;
}

Test(base_jsonl, tail_keeps_the_last_matches_in_order)
{
    char path[] = "/tmp/coffer-jsonl-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cf_jsonl *l = NULL;
    cr_assert_eq(cf_jsonl_open(&l, path, NULL), CF_OK);
    for (int i = 0; i < 10; i++) {
        json_t *o = json_pack("{s:s,s:i}", "time", "2026-01-01T00:00:00.000Z", "n", i);
        cr_assert_eq(cf_jsonl_append(l, o, i == 9, NULL), CF_OK);
        json_decref(o);
    }
    FILE *fp = fopen(path, "a");
    fputs("not json\n{\"n\":12}\n", fp); /* no time: skipped */
    fclose(fp);
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_jsonl_tail(path, even, NULL, 3, &b, NULL), CF_OK);
    json_t *v = json_loadb((const char *)b.data, b.len, 0, NULL);
    cr_assert_not_null(v);
    json_t *arr = json_object_get(v, "value");
    cr_assert_eq(json_array_size(arr), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(arr, 0), "n")), 4);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(arr, 2), "n")), 8);
    json_decref(v);
    cf_buf_free(&b);
    cf_jsonl_close(l);
    unlink(path);
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_jsonl_tail(path, NULL, NULL, 0, &b, NULL), CF_OK, "a missing log is empty");
    cr_assert_eq(b.len, 12);
    cr_assert_eq(memcmp(b.data, "{\"value\":[]}", 12), 0);
    cf_buf_free(&b);
}
