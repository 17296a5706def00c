/*
 * expr.c -- ARM template expressions (expr.h): a recursive-descent parser
 * that evaluates as it parses. There is no syntax tree: a call's arguments
 * are evaluated left to right, then the function runs on their values, so
 * memory is the values alive on the current path and nothing else.
 *
 * Values are jansson values; NULL is "not known yet" (expr.h). Every
 * function of an unknown argument, and every property of an unknown
 * object, is unknown, so one reference() to a resource a what-if would
 * create makes the whole expression unknown, which then prints as its own
 * text.
 *
 * Bounds: the expression's length (TPL_EXPR_MAX_LEN), nesting depth
 * (TPL_EXPR_MAX_DEPTH), a call's argument count (TPL_EXPR_MAX_ARGS) and
 * the length of any string built (TPL_EXPR_MAX_STRING); integer literals
 * are checked for overflow. A failure sets one InvalidTemplate error that
 * quotes the expression (shortened) and the character it stopped at.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/expr.h"

#define MAX_NAME 64

typedef struct parser {
    const char *s; /* the expression, between '[' and ']' */
    size_t n, i;
    const char *text; /* the whole template string, for messages */
    size_t text_n;
    const tpl_expr_env *env;
    cli_err *e;
    int depth;
    int unknown;
} parser;

static int fail_at(parser *p, const char *what)
{
    int shown = p->text_n > 200 ? 200 : (int)p->text_n;
    return cli_fail(p->e, "InvalidTemplate",
                    "the expression '%.*s%s' is not valid: %s at character %zu", shown, p->text,
                    p->text_n > 200 ? "..." : "", what, p->i + 2);
}

/* An error about a function's arguments or result (no position). */
static int fail_fn(parser *p, const char *fn, const char *what)
{
    return cli_fail(p->e, "InvalidTemplate", "the template function '%s' %s", fn, what);
}

json_t *tpl_json_get(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v || !json_is_object(obj))
        return v;
    const char *k;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

int tpl_expr_is(const char *s, size_t n)
{
    return n >= 2 && s[0] == '[' && s[n - 1] == ']' && s[1] != '[';
}

static void skip_ws(parser *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int peek(parser *p)
{
    skip_ws(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

/* NAME into out (NUL-terminated); -1 when there is none or it is too long. */
static int read_name(parser *p, char out[MAX_NAME])
{
    size_t k = 0;
    skip_ws(p);
    if (p->i >= p->n || !(isalpha((unsigned char)p->s[p->i]) || p->s[p->i] == '_'))
        return fail_at(p, "expected a name");
    while (p->i < p->n && (isalnum((unsigned char)p->s[p->i]) || p->s[p->i] == '_')) {
        if (k + 1 >= MAX_NAME)
            return fail_at(p, "name too long");
        out[k++] = p->s[p->i++];
    }
    out[k] = '\0';
    return 0;
}

/* ---- a growing string with a cap ---- */

typedef struct sbuf {
    char *d;
    size_t len, cap;
    int over;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->over)
        return;
    if (b->len + n > TPL_EXPR_MAX_STRING) {
        b->over = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *d = realloc(b->d, nc);
        if (d == NULL) {
            b->over = 2;
            return;
        }
        b->d = d;
        b->cap = nc;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
}

/* The string of b as a json string (NULL with e set when over the cap). */
static json_t *sb_take(sbuf *b, parser *p, const char *fn)
{
    json_t *j = NULL;
    if (b->over == 1)
        fail_fn(p, fn, "built a string longer than 262144 bytes");
    else if (b->over)
        cli_fail(p->e, "OutOfMemory", "out of memory");
    else if ((j = json_stringn(b->d ? b->d : "", b->len)) == NULL)
        fail_fn(p, fn, "built a string that is not valid UTF-8");
    free(b->d);
    return j;
}

/* How string() and format() write a value (ARM's .NET formatting:
 * booleans as True and False). */
static void sb_value(sbuf *b, const json_t *v)
{
    char num[32];
    if (json_is_string(v)) {
        sb_add(b, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        int w = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_add(b, num, (size_t)w);
    } else if (json_is_boolean(v)) {
        sb_add(b, json_is_true(v) ? "True" : "False", json_is_true(v) ? 4 : 5);
    } else if (json_is_real(v)) {
        int w = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        sb_add(b, num, (size_t)w);
    } else if (json_is_object(v) || json_is_array(v)) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (t == NULL) {
            b->over = 2;
            return;
        }
        sb_add(b, t, strlen(t));
        free(t);
    }
}

/* ---- built-in functions ---- */

static int fn_concat(parser *p, json_t *const *a, size_t n, json_t **out)
{
    int arrays = n > 0 && json_is_array(a[0]);
    for (size_t i = 0; i < n; i++) {
        if (arrays ? !json_is_array(a[i])
                   : !(json_is_string(a[i]) || json_is_integer(a[i]) || json_is_boolean(a[i])))
            return fail_fn(p, "concat",
                           "takes strings (and numbers) or arrays, not a mix of the two");
    }
    if (arrays) {
        json_t *r = json_array();
        for (size_t i = 0; r && i < n; i++) {
            if (json_array_size(r) + json_array_size(a[i]) > 4096) {
                json_decref(r);
                return fail_fn(p, "concat", "built an array of more than 4096 items");
            }
            json_array_extend(r, a[i]);
        }
        if (r == NULL)
            return cli_fail(p->e, "OutOfMemory", "out of memory");
        *out = r;
        return 0;
    }
    sbuf b = {0};
    for (size_t i = 0; i < n; i++)
        sb_value(&b, a[i]);
    *out = sb_take(&b, p, "concat");
    return *out ? 0 : -1;
}

static int fn_format(parser *p, json_t *const *a, size_t n, json_t **out)
{
    if (n < 1 || !json_is_string(a[0]))
        return fail_fn(p, "format", "takes a format string first");
    const char *f = json_string_value(a[0]);
    size_t fl = json_string_length(a[0]);
    sbuf b = {0};
    for (size_t i = 0; i < fl; i++) {
        if ((f[i] == '{' || f[i] == '}') && i + 1 < fl && f[i + 1] == f[i]) {
            sb_add(&b, f + i, 1);
            i++;
            continue;
        }
        if (f[i] == '}')
            goto bad;
        if (f[i] != '{') {
            sb_add(&b, f + i, 1);
            continue;
        }
        size_t j = i + 1, idx = 0;
        if (j >= fl || !isdigit((unsigned char)f[j]))
            goto bad;
        while (j < fl && isdigit((unsigned char)f[j]) && idx < 1000)
            idx = idx * 10 + (size_t)(f[j++] - '0');
        if (j >= fl || f[j] != '}') {
            free(b.d);
            return fail_fn(p, "format",
                           "takes only plain placeholders ({0}, {1}, ...): no alignment or "
                           "format specifier");
        }
        if (idx + 1 >= n) {
            free(b.d);
            return fail_fn(p, "format", "has a placeholder beyond its arguments");
        }
        sb_value(&b, a[idx + 1]);
        i = j;
    }
    *out = sb_take(&b, p, "format");
    return *out ? 0 : -1;
bad:
    free(b.d);
    return fail_fn(p, "format", "has a '{' or '}' that is not a placeholder (write {{ or }})");
}

static int fn_case(parser *p, const char *fn, json_t *const *a, size_t n, int upper, json_t **out)
{
    if (n != 1 || !json_is_string(a[0]))
        return fail_fn(p, fn, "takes one string");
    size_t l = json_string_length(a[0]);
    char *d = malloc(l + 1);
    if (d == NULL)
        return cli_fail(p->e, "OutOfMemory", "out of memory");
    const char *s = json_string_value(a[0]);
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)s[i];
        d[i] = (char)(c < 0x80 ? (upper ? toupper(c) : tolower(c)) : c);
    }
    *out = json_stringn(d, l);
    free(d);
    return *out ? 0 : cli_fail(p->e, "OutOfMemory", "out of memory");
}

static int fn_string(parser *p, json_t *const *a, size_t n, json_t **out)
{
    if (n != 1)
        return fail_fn(p, "string", "takes one argument");
    if (json_is_string(a[0])) {
        *out = json_incref(a[0]);
        return 0;
    }
    sbuf b = {0};
    sb_value(&b, a[0]);
    *out = sb_take(&b, p, "string");
    return *out ? 0 : -1;
}

static int fn_length(parser *p, json_t *const *a, size_t n, json_t **out)
{
    if (n != 1)
        return fail_fn(p, "length", "takes one argument");
    json_int_t len;
    if (json_is_string(a[0])) {
        len = 0; /* characters (UTF-8 lead bytes) */
        const char *s = json_string_value(a[0]);
        for (size_t i = 0; i < json_string_length(a[0]); i++)
            len += ((unsigned char)s[i] & 0xC0) != 0x80;
    } else if (json_is_array(a[0])) {
        len = (json_int_t)json_array_size(a[0]);
    } else if (json_is_object(a[0])) {
        len = (json_int_t)json_object_size(a[0]);
    } else {
        return fail_fn(p, "length", "takes a string, an array or an object");
    }
    *out = json_integer(len);
    return 0;
}

/* Runs function `name`; 0 and *out (NULL when an argument is unknown). */
static int call(parser *p, const char *name, json_t *const *a, size_t n, json_t **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == NULL)
            return 0; /* a function of something unknown is unknown */
    if (strcasecmp(name, "concat") == 0)
        return fn_concat(p, a, n, out);
    if (strcasecmp(name, "format") == 0)
        return fn_format(p, a, n, out);
    if (strcasecmp(name, "toLower") == 0)
        return fn_case(p, "toLower", a, n, 0, out);
    if (strcasecmp(name, "toUpper") == 0)
        return fn_case(p, "toUpper", a, n, 1, out);
    if (strcasecmp(name, "string") == 0)
        return fn_string(p, a, n, out);
    if (strcasecmp(name, "length") == 0)
        return fn_length(p, a, n, out);
    if (strcasecmp(name, "true") == 0 || strcasecmp(name, "false") == 0) {
        if (n != 0)
            return fail_fn(p, name, "takes no arguments");
        *out = json_boolean(name[0] == 't' || name[0] == 'T');
        return 0;
    }
    int rc = p->env && p->env->call ? p->env->call(p->env->cls, name, a, n, out, p->e) : 1;
    if (rc == 1)
        return cli_fail(p->e, "InvalidTemplate",
                        "the template function '%s' is not supported (docs/templates.md lists "
                        "the functions coffer knows)",
                        name);
    if (rc == 0 && *out == NULL)
        p->unknown = 1;
    return rc < 0 ? -1 : 0;
}

/* ---- the parser ---- */

static int parse_expr(parser *p, json_t **out);

static int parse_string(parser *p, json_t **out)
{
    sbuf b = {0};
    p->i++; /* the opening quote */
    for (;;) {
        if (p->i >= p->n) {
            free(b.d);
            return fail_at(p, "unterminated string literal");
        }
        char c = p->s[p->i++];
        if (c == '\'') {
            if (p->i < p->n && p->s[p->i] == '\'') {
                p->i++;
                sb_add(&b, "'", 1);
                continue;
            }
            break;
        }
        sb_add(&b, &c, 1);
    }
    *out = sb_take(&b, p, "(string literal)");
    return *out ? 0 : -1;
}

static int parse_int(parser *p, json_t **out)
{
    size_t start = p->i;
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n || !isdigit((unsigned char)p->s[p->i]))
        return fail_at(p, "expected a number");
    while (p->i < p->n && isdigit((unsigned char)p->s[p->i]))
        p->i++;
    char num[32];
    if (p->i - start >= sizeof(num))
        return fail_at(p, "number out of range");
    memcpy(num, p->s + start, p->i - start);
    num[p->i - start] = '\0';
    errno = 0;
    long long v = strtoll(num, NULL, 10);
    if (errno == ERANGE)
        return fail_at(p, "number out of range");
    *out = json_integer((json_int_t)v);
    return 0;
}

static int parse_call(parser *p, json_t **out)
{
    char name[MAX_NAME];
    json_t *args[TPL_EXPR_MAX_ARGS];
    size_t n = 0;
    int rc = -1;
    if (read_name(p, name))
        return -1;
    if (peek(p) != '(')
        return fail_at(p, "expected '(' after a function name");
    p->i++;
    if (peek(p) == ')') {
        p->i++;
    } else {
        for (;;) {
            if (n == TPL_EXPR_MAX_ARGS) {
                fail_at(p, "too many arguments");
                goto out;
            }
            if (parse_expr(p, &args[n]))
                goto out;
            n++;
            int c = peek(p);
            p->i += c == ',' || c == ')';
            if (c == ')')
                break;
            if (c != ',') {
                fail_at(p, "expected ',' or ')'");
                goto out;
            }
        }
    }
    rc = call(p, name, args, n, out);
out:
    for (size_t i = 0; i < n; i++)
        json_decref(args[i]);
    return rc;
}

/* Property `name` (or index value idx) of v; v is released. */
static int member(parser *p, json_t *v, const char *name, const json_t *idx, json_t **out)
{
    json_t *r = NULL;
    *out = NULL;
    if (v == NULL || (idx == NULL && name == NULL)) {
        json_decref(v);
        return 0; /* unknown */
    }
    if (idx && json_is_integer(idx)) {
        json_int_t k = json_integer_value(idx);
        if (!json_is_array(v) || k < 0 || (size_t)k >= json_array_size(v)) {
            const char *why = json_is_array(v) ? "index out of range" : "indexing a non-array";
            json_decref(v);
            return fail_at(p, why);
        }
        r = json_array_get(v, (size_t)k);
    } else {
        const char *key = idx ? json_string_value(idx) : name;
        if (key == NULL || !json_is_object(v)) {
            json_decref(v);
            return fail_at(p, "a property of something that is not an object");
        }
        if ((r = tpl_json_get(v, key)) == NULL) {
            char have[200] = "";
            size_t hl = 0;
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x)
            {
                int w = snprintf(have + hl, sizeof(have) - hl, "%s%s", hl ? ", " : "", k);
                if (w < 0 || (size_t)w >= sizeof(have) - hl)
                    break;
                hl += (size_t)w;
            }
            cli_fail(p->e, "InvalidTemplate",
                     "the property '%.64s' does not exist; the available properties are '%s'", key,
                     have);
            json_decref(v);
            return -1;
        }
    }
    *out = json_incref(r);
    json_decref(v);
    return 0;
}

static int parse_expr(parser *p, json_t **out)
{
    json_t *v = NULL;
    *out = NULL;
    if (++p->depth > TPL_EXPR_MAX_DEPTH)
        return fail_at(p, "nested too deeply");
    int c = peek(p), rc = -1;
    if (c == '\'')
        rc = parse_string(p, &v);
    else if (c == '-' || (c >= '0' && c <= '9'))
        rc = parse_int(p, &v);
    else if (c >= 0 && (isalpha(c) || c == '_'))
        rc = parse_call(p, &v);
    else
        rc = fail_at(p, c < 0 ? "unexpected end" : "unexpected character");
    while (rc == 0) {
        c = peek(p);
        if (c == '.') {
            char name[MAX_NAME];
            p->i++;
            if (read_name(p, name)) {
                rc = -1;
                break;
            }
            rc = member(p, v, name, NULL, &v);
        } else if (c == '[') {
            json_t *idx = NULL;
            p->i++;
            if (parse_expr(p, &idx)) {
                rc = -1;
                break;
            }
            if (peek(p) != ']') {
                json_decref(idx);
                rc = fail_at(p, "expected ']'");
                break;
            }
            p->i++;
            if (idx && !json_is_integer(idx) && !json_is_string(idx)) {
                json_decref(idx);
                rc = fail_at(p, "an index must be a number or a string");
                break;
            }
            /* an unknown index makes the value unknown */
            rc = member(p, idx ? v : (json_decref(v), NULL), NULL, idx, &v);
            json_decref(idx);
        } else {
            break;
        }
        if (rc)
            v = NULL; /* member() released it */
    }
    p->depth--;
    if (rc) {
        json_decref(v);
        return -1;
    }
    *out = v;
    return 0;
}

int tpl_expr_eval(const char *s, size_t n, const tpl_expr_env *env, json_t **out, int *unknown,
                  cli_err *e)
{
    *out = NULL;
    if (unknown)
        *unknown = 0;
    if (n >= 2 && s[0] == '[' && s[1] == '[') {
        *out = json_stringn(s + 1, n - 1);
        return *out ? 0 : cli_fail(e, "InvalidTemplate", "a string is not valid UTF-8");
    }
    if (!tpl_expr_is(s, n)) {
        *out = json_stringn(s, n);
        return *out ? 0 : cli_fail(e, "InvalidTemplate", "a string is not valid UTF-8");
    }
    parser p = {.s = s + 1, .n = n - 2, .text = s, .text_n = n, .env = env, .e = e};
    if (n > TPL_EXPR_MAX_LEN)
        return cli_fail(e, "InvalidTemplate", "an expression is longer than %d characters",
                        TPL_EXPR_MAX_LEN);
    json_t *v = NULL;
    if (parse_expr(&p, &v))
        return -1;
    if (peek(&p) != -1) {
        json_decref(v);
        return fail_at(&p, "unexpected text after the expression");
    }
    if (v == NULL || p.unknown) {
        json_decref(v);
        if (unknown == NULL)
            return cli_fail(e, "InvalidTemplate",
                            "the expression '%.200s' cannot be evaluated before deployment "
                            "(reference() is not allowed here)",
                            s);
        *unknown = 1;
        *out = json_stringn(s, n);
        return 0;
    }
    *out = v;
    return 0;
}
