/*
 * fuzz_expr.c -- one template string from arbitrary bytes through
 * tpl_expr_eval, with caller functions that answer parameters('x') with a
 * nested object and unknown() with "not known yet". Invariants: no crash,
 * no leak; a failure has a message and no value; an unknown value is the
 * string itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/expr.h"

static int call(void *cls, const char *name, json_t *const *a, size_t n, json_t **out, cli_err *e)
{
    (void)cls;
    (void)a;
    *out = NULL;
    if (strcmp(name, "parameters") == 0 && n == 1) {
        *out = json_pack("{s:s,s:[i,s,{s:b}],s:i}", "s", "v", "a", 1, "x", "k", 1, "n", 7);
        return 0;
    }
    if (strcmp(name, "unknown") == 0)
        return 0;
    if (strcmp(name, "fail") == 0)
        return cli_fail(e, "InvalidTemplate", "fail()");
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tpl_expr_env env = {call, NULL};
    json_t *v = NULL;
    cli_err e = {0};
    int unknown = 0;
    if (memchr(data, '\0', size))
        return 0; /* template strings reach here NUL-free from jansson's keys */
    if (tpl_expr_eval((const char *)data, size, &env, &v, &unknown, &e) != 0) {
        if (v != NULL || e.msg[0] == '\0')
            abort();
        return 0;
    }
    if (v == NULL)
        abort();
    if (unknown && (!json_is_string(v) || json_string_length(v) != size ||
                    memcmp(json_string_value(v), data, size) != 0))
        abort();
    json_decref(v);
    return 0;
}
