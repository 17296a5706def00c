/*
 * args.c -- az-style option parsing for one coffer verb (see args.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/args.h"

static int find_opt(const cli_opt *spec, const char *word, size_t n)
{
    for (int i = 0; spec[i].name; i++) {
        if (word[0] == '-' && word[1] == '-') {
            if (strlen(spec[i].name) == n - 2 && memcmp(spec[i].name, word + 2, n - 2) == 0)
                return i;
        } else if (spec[i].shrt && strlen(spec[i].shrt) == n - 1 &&
                   memcmp(spec[i].shrt, word + 1, n - 1) == 0) {
            return i;
        }
    }
    return -1;
}

/* An option word: "--x" or "-x" (a lone "-" and negative numbers are values). */
static int is_option(const char *w)
{
    return w[0] == '-' && w[1] != '\0' && !(w[1] >= '0' && w[1] <= '9');
}

static int is_bool_word(const char *w)
{
    return strcasecmp(w, "true") == 0 || strcasecmp(w, "false") == 0;
}

static int add_val(cli_args *a, int i, const char *v, cli_err *e)
{
    if (a->nvals[i] >= CLI_MAX_VALS)
        return cli_usage(e, "argument --%s: too many values", a->spec[i].name);
    a->vals[i][a->nvals[i]++] = v;
    return 0;
}

int cli_args_parse(cli_args *a, const cli_opt *spec, int argc, char **argv, cli_err *e)
{
    memset(a, 0, sizeof(*a));
    a->spec = spec;
    for (int k = 0; k < argc; k++) {
        const char *w = argv[k];
        if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0) {
            a->help = 1;
            return 0;
        }
    }
    for (int k = 0; k < argc; k++) {
        const char *w = argv[k];
        if (!is_option(w))
            return cli_usage(e, "unrecognized arguments: %.200s", w);
        const char *eq = strchr(w, '=');
        size_t n = eq && w[1] == '-' ? (size_t)(eq - w) : strlen(w);
        const char *inline_val = eq && w[1] == '-' ? eq + 1 : NULL;
        const char *val = NULL;
        if (n == 10 && memcmp(w, "--insecure", 10) == 0 && inline_val == NULL) {
            a->insecure = 1; /* by its full name only: no alias, no value, no config key */
            continue;
        }
        int glob = 0;
        if ((n == 7 && memcmp(w, "--query", 7) == 0) || (n == 8 && memcmp(w, "--output", 8) == 0) ||
            (n == 2 && memcmp(w, "-o", 2) == 0))
            glob = 1;
        int i = glob ? -1 : find_opt(spec, w, n);
        if (!glob && i < 0)
            return cli_usage(e, "unrecognized arguments: %.*s", (int)(n > 200 ? 200 : n), w);
        if (glob || spec[i].kind == CLI_OPT_VALUE) {
            if (inline_val) {
                val = inline_val;
            } else if (k + 1 < argc && !is_option(argv[k + 1])) {
                val = argv[++k];
            } else {
                return cli_usage(e, "argument %.*s: expected one argument", (int)(n > 64 ? 64 : n),
                                 w);
            }
            if (glob && w[2] == 'q') {
                a->query = val;
            } else if (glob) {
                if (strcmp(val, "json") == 0)
                    a->output = CLI_OUT_JSON;
                else if (strcmp(val, "tsv") == 0)
                    a->output = CLI_OUT_TSV;
                else if (strcmp(val, "table") == 0)
                    a->output = CLI_OUT_TABLE;
                else
                    return cli_usage(e,
                                     "argument --output/-o: invalid choice: '%.64s' "
                                     "(choose from 'json', 'table', 'tsv')",
                                     val);
            } else {
                if (a->nvals[i] > 0)
                    return cli_usage(e, "argument --%s: given more than once", spec[i].name);
                if (add_val(a, i, val, e))
                    return -1;
            }
        } else if (spec[i].kind == CLI_OPT_BOOL) {
            if (inline_val)
                val = inline_val;
            else if (k + 1 < argc && is_bool_word(argv[k + 1]))
                val = argv[++k];
            else
                val = "true";
            a->nvals[i] = 0;
            if (add_val(a, i, val, e))
                return -1;
        } else { /* multi */
            int before = a->nvals[i];
            if (before < CLI_MAX_VALS)
                a->starts[i][before] = 1;
            if (inline_val && add_val(a, i, inline_val, e))
                return -1;
            while (k + 1 < argc && !is_option(argv[k + 1]))
                if (add_val(a, i, argv[++k], e))
                    return -1;
            if (a->nvals[i] == before)
                return cli_usage(e, "argument --%s: expected at least one argument", spec[i].name);
        }
    }
    for (int i = 0; spec[i].name; i++) {
        if (spec[i].required && a->nvals[i] == 0) {
            if (spec[i].shrt)
                return cli_usage(e, "the following arguments are required: --%s/-%s", spec[i].name,
                                 spec[i].shrt);
            return cli_usage(e, "the following arguments are required: --%s", spec[i].name);
        }
    }
    return 0;
}

static int index_of(const cli_args *a, const char *name)
{
    for (int i = 0; a->spec && a->spec[i].name; i++)
        if (strcmp(a->spec[i].name, name) == 0)
            return i;
    return -1;
}

const char *cli_args_get(const cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return i >= 0 && a->nvals[i] > 0 ? a->vals[i][0] : NULL;
}

const char *const *cli_args_multi(const cli_args *a, const char *name, int *n)
{
    int i = index_of(a, name);
    *n = i >= 0 ? a->nvals[i] : 0;
    return i >= 0 ? a->vals[i] : NULL;
}

int cli_args_occurrence(const cli_args *a, const char *name, int k, const char *const **vals,
                        int *n)
{
    int i = index_of(a, name);
    *vals = NULL;
    *n = 0;
    if (i < 0)
        return -1;
    int seen = -1;
    for (int j = 0; j < a->nvals[i]; j++) {
        if (a->starts[i][j])
            seen++;
        if (seen == k) {
            int m = j + 1;
            while (m < a->nvals[i] && !a->starts[i][m])
                m++;
            *vals = a->vals[i] + j;
            *n = m - j;
            return 0;
        }
    }
    return -1;
}

int cli_args_bool(const cli_args *a, const char *name, cli_err *e)
{
    const char *v = cli_args_get(a, name);
    if (v == NULL)
        return -1;
    if (strcasecmp(v, "true") == 0)
        return 1;
    if (strcasecmp(v, "false") == 0)
        return 0;
    cli_usage(e, "argument --%s: invalid value '%.64s' (choose from 'true', 'false')", name, v);
    return -2;
}

int cli_args_int(const cli_args *a, const char *name, long min, long max, long *out, cli_err *e)
{
    const char *v = cli_args_get(a, name);
    if (v == NULL)
        return 1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < min || x > max)
        return cli_usage(e, "argument --%s: '%.64s' is not an integer in %ld..%ld", name, v, min,
                         max);
    *out = x;
    return 0;
}

int cli_size_parse(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1000},
        {"kb", 1000},
        {"kib", (int64_t)1 << 10},
        {"m", 1000000},
        {"mb", 1000000},
        {"mib", (int64_t)1 << 20},
        {"g", 1000000000},
        {"gb", 1000000000},
        {"gib", (int64_t)1 << 30},
        {"t", 1000000000000},
        {"tb", 1000000000000},
        {"tib", (int64_t)1 << 40},
    };
    if (s == NULL)
        return -1;
    if (strcasecmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    int64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (CLI_SIZE_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(p, units[i].unit) != 0)
            continue;
        if (v > CLI_SIZE_MAX / units[i].mult)
            return -1;
        *out = v * units[i].mult;
        return 0;
    }
    return -1;
}

const cli_opt cli_name_opts[] = {{"name", "n", CLI_OPT_VALUE, 1, "NAME"}, {0}};
const cli_opt cli_no_opts[] = {{0}};
