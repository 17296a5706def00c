/*
 * test_cli_expr.c -- pins the template expression language (expr.h): the
 * literal and escape rules, the built-in functions, property access, what
 * the caller's functions see, unknown values, and the errors on malformed
 * input.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/expr.h"

/* The caller's functions for these tests: parameters('x') gives
 * {"x":"mi1","n":3,"o":{"Id":"abc","list":[1,2]}}[x]; unknown() is a
 * value not known yet. */
static int env_call(void *cls, const char *name, json_t *const *a, size_t n, json_t **out,
                    cli_err *e)
{
    (void)cls;
    if (strcmp(name, "parameters") == 0) {
        json_t *all = json_pack("{s:s,s:i,s:{s:s,s:[i,i]}}", "x", "mi1", "n", 3, "o", "Id", "abc",
                                "list", 1, 2);
        json_t *v = n == 1 ? json_object_get(all, json_string_value(a[0])) : NULL;
        *out = v ? json_incref(v) : NULL;
        json_decref(all);
        return v ? 0 : cli_fail(e, "InvalidTemplate", "no such parameter");
    }
    if (strcmp(name, "unknown") == 0) {
        *out = NULL;
        return 0;
    }
    return 1;
}

static const tpl_expr_env env = {env_call, NULL};

/* Evaluates s; the value as compact JSON (malloc'd). */
static char *eval(const char *s, int *unknown)
{
    json_t *v = NULL;
    cli_err e = {0};
    int rc = tpl_expr_eval(s, strlen(s), &env, &v, unknown, &e);
    cr_assert_eq(rc, 0, "%s: %s", s, e.msg);
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return t;
}

static void expect(const char *s, const char *json)
{
    int u = 0;
    char *t = eval(s, &u);
    cr_expect_str_eq(t, json, "%s", s);
    cr_expect_eq(u, 0);
    free(t);
}

/* The error message evaluating s gives. */
static void expect_error(const char *s, const char *part)
{
    json_t *v = NULL;
    cli_err e = {0};
    int u;
    cr_assert_eq(tpl_expr_eval(s, strlen(s), &env, &v, &u, &e), -1, "%s evaluated", s);
    cr_expect_null(v);
    cr_expect_str_eq(e.code, "InvalidTemplate");
    cr_expect(strstr(e.msg, part) != NULL, "%s: '%s' lacks '%s'", s, e.msg, part);
}

Test(cli_expr, plain_strings_and_escaped_brackets_are_literals)
{
    expect("mi1", "\"mi1\"");
    expect("[[not an expression]", "\"[not an expression]\"");
    expect("[", "\"[\"");
    expect("a]", "\"a]\"");
}

Test(cli_expr, literals_quotes_and_numbers)
{
    expect("['it''s']", "\"it's\"");
    expect("[42]", "42");
    expect("[ -7 ]", "-7");
    expect("[true()]", "true");
}

Test(cli_expr, functions_are_case_insensitive_and_nest)
{
    expect("[concat('a-', parameters('x'), '-', 3)]", "\"a-mi1-3\"");
    expect("[CONCAT(toUpper(parameters('x')), toLower('B'))]", "\"MI1b\"");
    expect("[concat(parameters('o').list, parameters('o').list)]", "[1,2,1,2]");
}

Test(cli_expr, format_places_arguments_and_escapes_braces)
{
    expect("[format('{0}/{1}-{{x}}', 'v', parameters('n'))]", "\"v/3-{x}\"");
    expect("[format('{0}', true())]", "\"True\"");
    expect_error("[format('{1}', 'a')]", "beyond its arguments");
    expect_error("[format('{0:D4}', 1)]", "no alignment or format specifier");
    expect_error("[format('a}b')]", "not a placeholder");
}

Test(cli_expr, property_access_is_case_insensitive_and_indexes)
{
    expect("[parameters('o').id]", "\"abc\"");
    expect("[parameters('o')['ID']]", "\"abc\"");
    expect("[parameters('o').list[1]]", "2");
    expect("[length(parameters('o').list)]", "2");
    expect_error("[parameters('o').nope]", "the available properties are 'Id, list'");
    expect_error("[parameters('o').list[2]]", "index out of range");
}

Test(cli_expr, unknown_values_make_the_expression_its_own_text)
{
    int u = 0;
    char *t = eval("[concat(unknown().clientId, '-x')]", &u);
    cr_expect_eq(u, 1);
    cr_expect_str_eq(t, "\"[concat(unknown().clientId, '-x')]\"");
    free(t);
    /* where nothing may be unknown, it is an error */
    json_t *v = NULL;
    cli_err e = {0};
    const char *s = "[unknown()]";
    cr_expect_eq(tpl_expr_eval(s, strlen(s), &env, &v, NULL, &e), -1);
    cr_expect(strstr(e.msg, "cannot be evaluated before deployment") != NULL, "%s", e.msg);
}

Test(cli_expr, malformed_expressions_say_where)
{
    expect_error("[concat('a']", "expected ',' or ')' at character");
    expect_error("['open]", "unterminated string literal");
    expect_error("[]", "unexpected end");
    expect_error("[concat('a') x]", "unexpected text after the expression");
    expect_error("[nosuch()]", "the template function 'nosuch' is not supported");
    expect_error("[99999999999999999999]", "number out of range");
    expect_error("[concat('a', ['b'])]", "unexpected character");
}

Test(cli_expr, nesting_and_sizes_are_bounded)
{
    char deep[400];
    size_t l = 0;
    deep[l++] = '[';
    for (int i = 0; i < 40; i++)
        l += (size_t)snprintf(deep + l, sizeof(deep) - l, "string(");
    deep[l++] = '1';
    for (int i = 0; i < 40; i++)
        deep[l++] = ')';
    deep[l++] = ']';
    deep[l] = '\0';
    expect_error(deep, "nested too deeply");
    /* a string built past the cap is refused, not grown: 1000 copies of
     * 2000 bytes */
    char *big = malloc(8000);
    l = (size_t)snprintf(big, 8000, "[format('");
    for (int i = 0; i < 1000; i++)
        l += (size_t)snprintf(big + l, 8000 - l, "{0}");
    l += (size_t)snprintf(big + l, 8000 - l, "', '");
    memset(big + l, 'a', 2000);
    l += 2000;
    snprintf(big + l, 8000 - l, "')]");
    expect_error(big, "longer than 262144 bytes");
    free(big);
}
