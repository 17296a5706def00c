/*
 * output.c -- --query evaluation and JSON/TSV printing (see output.h).
 *
 * The query is parsed into a list of steps first, so a malformed query is
 * refused whatever the data; evaluation then walks the steps, and a
 * projection step evaluates the remaining steps once per array element.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"

#define MAX_STEPS 32

typedef enum { STEP_KEY, STEP_INDEX, STEP_PROJECT } step_kind;

typedef struct step {
    step_kind kind;
    char *key;
    long index;
} step;

static void steps_free(step *s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i].key);
}

static int bad(cli_err *e, const char *q, const char *why)
{
    return cli_usage(e, "argument --query: invalid query '%.200s': %s", q, why);
}

static int is_ident(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '$' || c == '@';
}

/* Parses q into steps; returns the count or -1. */
static int parse(const char *q, step *s, cli_err *e)
{
    int n = 0;
    const char *p = q;
    if (*p == '\0')
        return bad(e, q, "empty");
    int need_sep = 0; /* after a step, only '.', '[' or the end */
    while (*p) {
        if (n >= MAX_STEPS) {
            steps_free(s, n);
            return bad(e, q, "too many steps");
        }
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (close == NULL)
                goto fail_bracket;
            if (close == p + 1 || (close == p + 2 && p[1] == '*')) {
                s[n++] = (step){.kind = STEP_PROJECT};
            } else {
                char *end;
                errno = 0;
                long v = strtol(p + 1, &end, 10);
                if (errno || end != close || !(isdigit((unsigned char)p[1]) || p[1] == '-'))
                    goto fail_bracket;
                s[n++] = (step){.kind = STEP_INDEX, .index = v};
            }
            p = close + 1;
            need_sep = 1;
            continue;
        }
        if (need_sep) {
            if (*p != '.') {
                steps_free(s, n);
                return bad(e, q, "expected '.' or '[' between steps");
            }
            p++;
        }
        if (*p == '"') {
            const char *close = strchr(p + 1, '"');
            if (close == NULL || close == p + 1) {
                steps_free(s, n);
                return bad(e, q, "unterminated or empty quoted key");
            }
            s[n] = (step){.kind = STEP_KEY, .key = strndup(p + 1, (size_t)(close - p - 1))};
            p = close + 1;
        } else if (*p == '*' && (p[1] == '\0' || p[1] == '.' || p[1] == '[')) {
            s[n] = (step){.kind = STEP_PROJECT};
            p++;
            n++;
            need_sep = 1;
            continue;
        } else {
            const char *b = p;
            while (is_ident((unsigned char)*p))
                p++;
            if (p == b) {
                steps_free(s, n);
                return bad(e, q, "expected a key name");
            }
            s[n] = (step){.kind = STEP_KEY, .key = strndup(b, (size_t)(p - b))};
        }
        if (s[n].key == NULL) {
            steps_free(s, n);
            return cli_fail(e, "OutOfMemory", "out of memory");
        }
        n++;
        need_sep = 1;
    }
    return n;
fail_bracket:
    steps_free(s, n);
    return bad(e, q, "expected [N], [] or [*]");
}

int cli_query_check(const char *q, cli_err *e)
{
    step s[MAX_STEPS];
    int n = parse(q, s, e);
    if (n < 0)
        return -1;
    steps_free(s, n);
    return 0;
}

/* Evaluates steps[0..n) over cur: a new reference or NULL. A projection
 * over an object projects over its values (JMESPath's `*`). */
static json_t *eval(const json_t *cur, const step *s, int n)
{
    for (int i = 0; i < n && cur; i++) {
        switch (s[i].kind) {
        case STEP_KEY:
            if (strcmp(s[i].key, "@") != 0) /* @: the current node */
                cur = json_is_object(cur) ? json_object_get(cur, s[i].key) : NULL;
            break;
        case STEP_INDEX: {
            if (!json_is_array(cur))
                return NULL;
            long len = (long)json_array_size(cur), ix = s[i].index;
            if (ix < 0)
                ix += len;
            cur = ix >= 0 && ix < len ? json_array_get(cur, (size_t)ix) : NULL;
            break;
        }
        case STEP_PROJECT: {
            json_t *res = json_array();
            size_t k;
            json_t *el;
            const char *key;
            if (json_is_array(cur)) {
                json_array_foreach((json_t *)cur, k, el)
                {
                    json_t *r = eval(el, s + i + 1, n - i - 1);
                    if (r && !json_is_null(r))
                        json_array_append(res, r);
                    json_decref(r);
                }
            } else if (json_is_object(cur)) {
                json_object_foreach((json_t *)cur, key, el)
                {
                    json_t *r = eval(el, s + i + 1, n - i - 1);
                    if (r && !json_is_null(r))
                        json_array_append(res, r);
                    json_decref(r);
                }
            } else {
                json_decref(res);
                return NULL;
            }
            return res;
        }
        }
    }
    return cur ? json_incref((json_t *)cur) : NULL;
}

int cli_query_eval(const json_t *root, const char *q, json_t **out, cli_err *e)
{
    step s[MAX_STEPS];
    *out = NULL;
    int n = parse(q, s, e);
    if (n < 0)
        return -1;
    *out = eval(root, s, n);
    steps_free(s, n);
    return 0;
}

static void print_scalar(FILE *f, const json_t *v)
{
    if (json_is_string(v)) {
        fwrite(json_string_value(v), 1, json_string_length(v), f);
    } else if (json_is_null(v)) {
        /* nothing */
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        if (s)
            fputs(s, f);
        free(s);
    }
}

/* One TSV cell of a container's member; members that are containers are
 * left out. */
static void tsv_cell(FILE *f, const json_t *x, int *first)
{
    if (json_is_object(x) || json_is_array(x))
        return;
    if (!*first)
        fputc('\t', f);
    print_scalar(f, x);
    *first = 0;
}

/* One TSV line: a scalar, or the scalar members of an object or array. */
static void tsv_line(FILE *f, const json_t *v)
{
    int first = 1;
    const char *k;
    size_t i;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            tsv_cell(f, x, &first);
        }
    } else if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, x)
        {
            tsv_cell(f, x, &first);
        }
    } else {
        print_scalar(f, v);
    }
    fputc('\n', f);
}

int cli_output_print(FILE *f, const json_t *v, int tsv)
{
    if (v == NULL)
        return 0;
    if (tsv) {
        if (json_is_array(v)) {
            size_t i;
            json_t *x;
            json_array_foreach((json_t *)v, i, x) tsv_line(f, x);
        } else {
            tsv_line(f, v);
        }
        return 0;
    }
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s == NULL)
        return -1;
    fputs(s, f);
    fputc('\n', f);
    free(s);
    return 0;
}
