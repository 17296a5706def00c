/*
 * expr.h -- the expression language of ARM templates (template.h), the
 * subset coffer's templates need: a template string that starts with '['
 * and ends with ']' is an expression (`[concat(parameters('a'), '-x')]`);
 * one that starts with "[[" is the literal string with one '[' less;
 * anything else is itself.
 *
 * Grammar (docs/templates.md "Expressions"):
 *
 *   expr    := primary { '.' NAME | '[' expr ']' }
 *   primary := 'string' ('' is a quote) | integer | NAME '(' [expr {',' expr}] ')'
 *
 * Function and property names are case-insensitive, as ARM's. The pure
 * functions are built in (concat, format, toLower, toUpper, string, length,
 * true, false); the others (parameters, variables, resourceId, reference,
 * resourceGroup, subscription) belong to the template and are asked of
 * the caller through tpl_expr_env.call.
 *
 * A value may not be known yet: reference() to a resource that a what-if
 * would create. The caller says so by returning 0 with *out NULL; whatever
 * is computed from it is unknown too, and the whole expression then
 * evaluates to its own text, with *unknown set (what ARM's what-if shows).
 *
 * The input is untrusted (a template file): the parser walks a (pointer,
 * length) cursor, bounds its nesting, and every string it builds
 * (concat, format) is capped; errors are values (cli_err) that quote the
 * expression and the character where it went wrong.
 */
#ifndef CF_CLI_EXPR_H
#define CF_CLI_EXPR_H

#include <jansson.h>
#include <stddef.h>

#include "cli/error.h"

#define TPL_EXPR_MAX_LEN 24576     /* ARM's limit on one expression */
#define TPL_EXPR_MAX_DEPTH 32      /* nested calls and indexes */
#define TPL_EXPR_MAX_ARGS 64       /* arguments of one call */
#define TPL_EXPR_MAX_STRING 262144 /* a string an expression builds */

typedef struct tpl_expr_env {
    /* A function that is not built in: name as written, its evaluated
     * arguments (none NULL). Returns 0 with *out set (NULL: not known
     * yet), 1 when it has no such function, -1 on error (e set). */
    int (*call)(void *cls, const char *name, json_t *const *args, size_t nargs, json_t **out,
                cli_err *e);
    void *cls;
} tpl_expr_env;

/* 1 when s[0..n) is an expression ("[...]", not "[[..."). */
int tpl_expr_is(const char *s, size_t n);

/* The value of the template string s[0..n): an expression's value, the
 * "[[" literal unescaped, else the string itself (new reference in *out).
 * *unknown (may be NULL) is set to 1 when the value is not known yet (then
 * *out is the string s). -1 on error (e set, *out NULL). */
int tpl_expr_eval(const char *s, size_t n, const tpl_expr_env *env, json_t **out, int *unknown,
                  cli_err *e);

/* Case-insensitive member of an object (ARM's property access). */
json_t *tpl_json_get(const json_t *obj, const char *key);

#endif
