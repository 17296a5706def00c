/*
 * output.c -- --query evaluation and JSON/TSV printing (see output.h).
 *
 * The query is parsed into a list of steps first, so a malformed query is
 * refused whatever the data; evaluation then walks the steps, and a
 * projection step evaluates the remaining steps once per array element.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
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

/* ---- -o table ---- */

/* A table being built: headers, then rows of cells, every string the
 * table's own (malloc'd). */
typedef struct table {
    size_t ncols, nrows, cap;
    char **hdr;   /* ncols */
    char **cells; /* nrows * ncols, row-major; NULL prints as empty */
    int oom;
} table;

static void table_free(table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->hdr[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->hdr);
    free(t->cells);
}

/* A scalar's cell text: as tsv prints it, control characters (a newline,
 * a tab) as spaces so that a row stays one line. Containers: "". */
static char *cell_text(const json_t *v)
{
    char *s;
    if (json_is_string(v))
        s = strndup(json_string_value(v), json_string_length(v));
    else if (v == NULL || json_is_null(v) || json_is_object(v) || json_is_array(v))
        s = strdup("");
    else
        s = json_dumps(v, JSON_ENCODE_ANY);
    for (char *p = s; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return s;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* The column named `name`, added (the name copied) when new. Columns are
 * all known before the first row: the cells' stride is ncols. */
static size_t table_col(table *t, const char *name)
{
    for (size_t k = 0; k < t->ncols; k++)
        if (strcmp(t->hdr[k], name) == 0)
            return k;
    assert(t->nrows == 0);
    char **h = realloc(t->hdr, (t->ncols + 1) * sizeof(*h));
    char *copy = strdup(name);
    if (h == NULL || copy == NULL) {
        free(copy);
        if (h)
            t->hdr = h;
        t->oom = 1;
        return (size_t)-1;
    }
    t->hdr = h;
    t->hdr[t->ncols] = copy;
    return t->ncols++;
}

/* A new row of empty cells (its index), for the columns known now. */
static size_t table_row(table *t)
{
    if (t->nrows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, nc * t->ncols * sizeof(*c));
        if (c == NULL && t->ncols > 0) {
            t->oom = 1;
            return (size_t)-1;
        }
        t->cells = c;
        t->cap = nc;
    }
    for (size_t k = 0; k < t->ncols; k++)
        t->cells[t->nrows * t->ncols + k] = NULL;
    return t->nrows++;
}

/* Sets a cell (takes ownership of text). */
static void table_set(table *t, size_t row, size_t col, char *text)
{
    if (row == (size_t)-1 || col == (size_t)-1 || text == NULL) {
        free(text);
        t->oom |= text == NULL;
        return;
    }
    free(t->cells[row * t->ncols + col]);
    t->cells[row * t->ncols + col] = text;
}

/* Cells padded to their column's width and two spaces, then the line
 * without trailing blanks (empty last cells leave none). */
static void print_line(FILE *f, char *const *cells, const size_t *wd, size_t ncols)
{
    size_t pending = 0; /* spaces owed before the next non-empty text */
    for (size_t k = 0; k < ncols; k++) {
        const char *s = cells[k] ? cells[k] : "";
        if (*s) {
            for (; pending > 0; pending--)
                fputc(' ', f);
            fputs(s, f);
        }
        pending += wd[k] + 2 - text_width(s);
    }
    fputc('\n', f);
}

static void table_print(FILE *f, const table *t)
{
    if (t->ncols == 0 || t->nrows == 0)
        return;
    size_t *wd = calloc(t->ncols, sizeof(*wd));
    if (wd == NULL)
        return;
    for (size_t k = 0; k < t->ncols; k++) {
        wd[k] = text_width(t->hdr[k]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = text_width(t->cells[r * t->ncols + k]);
            wd[k] = w > wd[k] ? w : wd[k];
        }
    }
    print_line(f, t->hdr, wd, t->ncols);
    for (size_t k = 0; k < t->ncols; k++) {
        for (size_t w = 0; w < wd[k]; w++)
            fputc('-', f);
        if (k + 1 < t->ncols)
            fputs("  ", f);
    }
    fputc('\n', f);
    for (size_t r = 0; r < t->nrows; r++)
        print_line(f, t->cells + r * t->ncols, wd, t->ncols);
    free(wd);
}

static int is_scalar(const json_t *v)
{
    return v != NULL && !json_is_object(v) && !json_is_array(v);
}

/* az's automatic columns skip these */
static int skipped_key(const char *k)
{
    return strcmp(k, "id") == 0 || strcmp(k, "type") == 0 || strcmp(k, "etag") == 0;
}

/* "name" -> "Name" (az's header for a member) */
static char *capitalized(const char *k)
{
    char *h = strdup(k);
    if (h && h[0] >= 'a' && h[0] <= 'z')
        h[0] = (char)(h[0] - 'a' + 'A');
    return h;
}

/* An array, one row per element, with the verb's columns. */
static void rows_by_columns(table *t, const json_t *arr, const cli_column *cols)
{
    for (const cli_column *c = cols; c->header; c++)
        table_col(t, c->header);
    size_t i;
    json_t *el;
    json_array_foreach((json_t *)arr, i, el)
    {
        size_t r = table_row(t);
        size_t k = 0;
        for (const cli_column *c = cols; c->header; c++, k++) {
            json_t *v = NULL;
            if (cli_query_eval(el, c->path, &v, NULL) == 0)
                table_set(t, r, k, cell_text(v));
            json_decref(v);
        }
    }
}

/* An array, az's automatic columns: the scalar members of its objects,
 * "Result" for scalar elements. Columns first, then the rows, so every
 * row has every column. */
static void rows_auto(table *t, const json_t *arr)
{
    size_t i;
    json_t *el, *x;
    const char *k;
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach((json_t *)arr, i, el)
        {
            size_t r = pass ? table_row(t) : 0;
            if (json_is_object(el)) {
                json_object_foreach(el, k, x)
                {
                    if (skipped_key(k) || !is_scalar(x) || json_is_null(x))
                        continue;
                    char *h = capitalized(k);
                    if (h == NULL) {
                        t->oom = 1;
                        continue;
                    }
                    size_t col = table_col(t, h);
                    free(h);
                    if (pass)
                        table_set(t, r, col, cell_text(x));
                }
            } else {
                size_t col = table_col(t, "Result");
                if (pass)
                    table_set(t, r, col, cell_text(el));
            }
        }
    }
}

static int ident_key(const char *k)
{
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
        return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

/* One Property/Value row per leaf of v under path (a --query path). */
static void rows_flat(table *t, const json_t *v, const char *path)
{
    char *sub = NULL;
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_object(v) && json_object_size(v) > 0) {
        json_object_foreach((json_t *)v, k, x)
        {
            const char *q = ident_key(k) ? "" : "\"";
            if (asprintf(&sub, "%s%s%s%s%s", path, path[0] ? "." : "", q, k, q) < 0) {
                t->oom = 1;
                return;
            }
            rows_flat(t, x, sub);
            free(sub);
        }
        return;
    }
    int scalars = json_is_array(v);
    json_array_foreach((json_t *)v, i, x) scalars &= is_scalar(x);
    if (json_is_array(v) && !scalars) {
        json_array_foreach((json_t *)v, i, x)
        {
            if (asprintf(&sub, "%s[%zu]", path, i) < 0) {
                t->oom = 1;
                return;
            }
            rows_flat(t, x, sub);
            free(sub);
        }
        return;
    }
    char *text = NULL;
    if (json_is_array(v)) {
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        json_array_foreach((json_t *)v, i, x)
        {
            char *c = cell_text(x);
            if (m && c)
                fprintf(m, "%s%s", i ? ", " : "", c);
            free(c);
        }
        if (m)
            fclose(m);
    } else {
        text = cell_text(v);
    }
    size_t r = table_row(t);
    table_set(t, r, 0, strdup(path[0] ? path : "@"));
    table_set(t, r, 1, text);
}

static int table_out(FILE *f, const json_t *v, const cli_column *cols)
{
    table t = {0};
    /* as az's table transformers: a {"value":[...]} answer (acr
     * show-usage) is the list it holds */
    const json_t *inner = json_object_get(v, "value");
    if (json_is_object(v) && cols && cols[0].header && json_is_array(inner))
        v = inner;
    if (json_is_array(v) && cols && cols[0].header) {
        rows_by_columns(&t, v, cols);
    } else if (json_is_array(v)) {
        rows_auto(&t, v);
    } else if (json_is_object(v)) {
        if (json_object_size(v) == 0)
            return 0;
        table_col(&t, "Property");
        table_col(&t, "Value");
        rows_flat(&t, v, "");
    } else {
        table_col(&t, "Result");
        table_set(&t, table_row(&t), 0, cell_text(v));
    }
    int rc = t.oom ? -1 : 0;
    if (rc == 0)
        table_print(f, &t);
    table_free(&t);
    return rc;
}

int cli_output_print(FILE *f, const json_t *v, cli_format fmt, const cli_column *cols)
{
    if (v == NULL)
        return 0;
    if (fmt == CLI_OUT_TABLE)
        return table_out(f, v, cols);
    if (fmt == CLI_OUT_TSV) {
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
