/*
 * template.c -- ARM deployment templates read, bound and evaluated
 * (template.h): the template's own functions (parameters, variables,
 * resourceId, reference, resourceGroup, subscription) on top of expr.c's
 * language, parameter binding with ARM's checks, and the dependency order.
 *
 * Parameters and variables are evaluated lazily and once (a state per
 * entry: unbound, binding, bound), so that a default or a variable may use
 * another in any order, a cycle is caught (the entry met again while
 * binding), and a chain of variables each doubling the last costs one
 * evaluation each, not 2^n. reference() is refused where ARM refuses it
 * (names, types, dependsOn, parameters, variables).
 *
 * Dependencies: dependsOn names resources of the template by id or name;
 * tpl_bind then evaluates every resource once in "scan" mode, where
 * reference() to a resource of the template only records the dependency
 * and answers "unknown", so implicit dependencies are found, and every
 * expression error is reported, before anything is deployed. The order is
 * Kahn's algorithm taking the lowest index ready, so independent resources
 * keep the template's order.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/armid.h"
#include "cli/expr.h"
#include "cli/template.h"

enum { UNBOUND, BINDING, BOUND };
enum { MODE_STATIC, MODE_SCAN, MODE_EVAL };

typedef struct entry {
    const char *name; /* key in the document (borrowed) */
    json_t *decl;     /* borrowed */
    json_t *value;    /* owned once bound */
    int state;
    const char *type; /* parameters: canonical type */
} entry;

typedef struct res {
    tpl_resource pub;
    json_t *decl;
    size_t *deps;
    size_t ndeps;
} res;

struct tpl {
    json_t *doc;
    entry params[TPL_MAX_ITEMS], vars[TPL_MAX_ITEMS];
    size_t nparams, nvars;
    res *res;
    size_t nres;
    size_t *order;
    const json_t *typed, *text; /* the given parameters, while binding */
    tpl_site site;
    int mode;        /* what reference() may do now */
    size_t cur;      /* the resource being scanned or evaluated */
    int no_vars;     /* in a parameter's default: variables() refused */
    size_t unk_skip; /* unknown paths are recorded from this offset of the path */
};

void tpl_err_prefix(cli_err *e, const char *prefix)
{
    char tmp[sizeof(e->msg)];
    if (!e->set || prefix == NULL || prefix[0] == '\0')
        return;
    size_t pl = strnlen(prefix, sizeof(tmp) / 2), ml = strlen(e->msg);
    if (pl + 2 + ml >= sizeof(tmp))
        ml = sizeof(tmp) - pl - 3;
    memcpy(tmp, prefix, pl);
    memcpy(tmp + pl, ": ", 2);
    memcpy(tmp + pl + 2, e->msg, ml);
    tmp[pl + 2 + ml] = '\0';
    memcpy(e->msg, tmp, sizeof(e->msg));
}

static int bad(cli_err *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(cli_err *e, const char *path, const char *fmt, ...)
{
    char m[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    return cli_fail(e, "InvalidTemplate", "%s: %s", path, m);
}

static int oom(cli_err *e)
{
    return cli_fail(e, "OutOfMemory", "out of memory");
}

/* ---- shape ---- */

static int one_of(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(k, *list) == 0)
            return 1;
    return 0;
}

static const char *const top_keys[] = {
    "$schema", "contentVersion", "parameters", "variables",  "resources",
    "outputs", "metadata",       "functions",  "apiProfile", NULL};
static const char *const res_keys[] = {"type",       "apiVersion", "name", "location", "dependsOn",
                                       "properties", "identity",   "sku",  "tags",     "kind",
                                       "comments",   "metadata",   NULL};
static const char *const res_unsupported[] = {
    "copy",      "resources",        "scope",     "zones", "plan",
    "condition", "extendedLocation", "managedBy", "scale", NULL};
static const char *const param_keys[] = {"type",      "defaultValue", "allowedValues",
                                         "minLength", "maxLength",    "minValue",
                                         "maxValue",  "metadata",     NULL};
static const char *const types[] = {"string", "securestring", "int",   "bool",
                                    "object", "secureObject", "array", NULL};

/* The canonical spelling of a parameter type, or NULL. */
static const char *type_canonical(const char *t)
{
    for (const char *const *x = types; t && *x; x++)
        if (strcasecmp(t, *x) == 0)
            return *x;
    return NULL;
}

static int type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "string") == 0 || strcmp(type, "securestring") == 0)
        return json_is_string(v);
    if (strcmp(type, "int") == 0)
        return json_is_integer(v);
    if (strcmp(type, "bool") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    return json_is_object(v);
}

static int is_secure(const char *type)
{
    return strcmp(type, "securestring") == 0 || strcmp(type, "secureObject") == 0;
}

/* Fills entries from an object section ("parameters", "variables"). */
static int load_section(tpl *t, const char *section, entry *ents, size_t *n, cli_err *e)
{
    json_t *sec = json_object_get(t->doc, section);
    const char *k;
    json_t *v;
    if (sec == NULL)
        return 0;
    if (!json_is_object(sec))
        return bad(e, section, "must be an object");
    if (json_object_size(sec) > TPL_MAX_ITEMS)
        return bad(e, section, "has more than 256 entries");
    json_object_foreach(sec, k, v)
    {
        char path[TPL_PATH_MAX];
        snprintf(path, sizeof(path), "%s.%.200s", section, k);
        if (strcmp(section, "variables") == 0 && strcasecmp(k, "copy") == 0)
            return bad(e, path, "variable loops (copy) are not supported by coffer");
        for (size_t i = 0; i < *n; i++)
            if (strcasecmp(ents[i].name, k) == 0)
                return bad(e, path, "is declared twice (names are case-insensitive)");
        ents[*n] = (entry){.name = k, .decl = v};
        if (strcmp(section, "parameters") == 0) {
            const char *pk;
            json_t *pv;
            if (!json_is_object(v))
                return bad(e, path, "must be an object with a type");
            json_object_foreach(v, pk, pv)
            {
                if (!one_of(pk, param_keys)) {
                    snprintf(path, sizeof(path), "parameters.%.200s.%.64s", k, pk);
                    return bad(e, path, "is not a parameter property coffer knows");
                }
            }
            snprintf(path, sizeof(path), "parameters.%.200s.type", k);
            if ((ents[*n].type = type_canonical(json_string_value(json_object_get(v, "type")))) ==
                NULL)
                return bad(e, path,
                           "must be one of string, securestring, int, bool, object, secureObject, "
                           "array");
            json_t *av = json_object_get(v, "allowedValues");
            snprintf(path, sizeof(path), "parameters.%.200s.allowedValues", k);
            if (av && (!json_is_array(av) || json_array_size(av) == 0))
                return bad(e, path, "must be a non-empty array");
        }
        (*n)++;
    }
    return 0;
}

int tpl_parse(tpl **out, const char *text, size_t n, cli_err *e)
{
    json_error_t je;
    *out = NULL;
    if (n > TPL_MAX_BYTES)
        return cli_fail(e, "InvalidTemplate", "the template is larger than 4 MiB");
    tpl *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return oom(e);
    t->doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (t->doc == NULL) {
        cli_fail(e, "InvalidTemplate", "the template is not valid JSON: %s (line %d, column %d)",
                 je.text, je.line, je.column);
        goto fail;
    }
    if (!json_is_object(t->doc)) {
        cli_fail(e, "InvalidTemplate", "the template must be a JSON object");
        goto fail;
    }
    const char *k;
    json_t *v;
    json_object_foreach(t->doc, k, v)
    {
        if (!one_of(k, top_keys)) {
            bad(e, k, "is not a template property (docs/templates.md)");
            goto fail;
        }
    }
    json_t *fns = json_object_get(t->doc, "functions");
    if (fns && !(json_is_array(fns) && json_array_size(fns) == 0)) {
        bad(e, "functions", "user-defined functions are not supported by coffer");
        goto fail;
    }
    if (load_section(t, "parameters", t->params, &t->nparams, e) ||
        load_section(t, "variables", t->vars, &t->nvars, e))
        goto fail;
    json_t *rs = json_object_get(t->doc, "resources");
    if (!json_is_array(rs)) {
        bad(e, "resources", "must be an array");
        goto fail;
    }
    if (json_array_size(rs) > TPL_MAX_ITEMS) {
        bad(e, "resources", "has more than 256 resources");
        goto fail;
    }
    json_t *outs = json_object_get(t->doc, "outputs");
    if (outs && (!json_is_object(outs) || json_object_size(outs) > TPL_MAX_ITEMS)) {
        bad(e, "outputs", "must be an object of at most 256 outputs");
        goto fail;
    }
    json_object_foreach(outs, k, v)
    {
        char path[TPL_PATH_MAX];
        snprintf(path, sizeof(path), "outputs.%.200s", k);
        if (!json_is_object(v) ||
            type_canonical(json_string_value(json_object_get(v, "type"))) == NULL ||
            json_object_get(v, "value") == NULL) {
            bad(e, path, "must be an object with a type and a value");
            goto fail;
        }
    }
    t->nres = json_array_size(rs);
    t->res = calloc(t->nres ? t->nres : 1, sizeof(*t->res));
    t->order = calloc(t->nres ? t->nres : 1, sizeof(*t->order));
    if (t->res == NULL || t->order == NULL) {
        oom(e);
        goto fail;
    }
    size_t i;
    json_array_foreach(rs, i, v)
    {
        res *r = &t->res[i];
        r->decl = v;
        snprintf(r->pub.path, sizeof(r->pub.path), "resources[%zu]", i);
        if (!json_is_object(v)) {
            bad(e, r->pub.path, "must be an object");
            goto fail;
        }
        json_t *x;
        json_object_foreach(v, k, x)
        {
            char path[TPL_PATH_MAX];
            snprintf(path, sizeof(path), "%s.%.64s", r->pub.path, k);
            if (one_of(k, res_unsupported)) {
                bad(e, path, "is not supported by coffer (docs/templates.md)");
                goto fail;
            }
            if (!one_of(k, res_keys)) {
                bad(e, path, "is not a resource property");
                goto fail;
            }
        }
        static const char *const required[] = {"type", "apiVersion", "name"};
        for (size_t q = 0; q < 3; q++) {
            if (!json_is_string(json_object_get(v, required[q]))) {
                char path[TPL_PATH_MAX];
                snprintf(path, sizeof(path), "%s.%s", r->pub.path, required[q]);
                bad(e, path, "is required (a string)");
                goto fail;
            }
        }
        r->pub.api_version = json_string_value(json_object_get(v, "apiVersion"));
    }
    *out = t;
    return 0;
fail:
    tpl_free(t);
    return -1;
}

void tpl_free(tpl *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nparams; i++)
        json_decref(t->params[i].value);
    for (size_t i = 0; i < t->nvars; i++)
        json_decref(t->vars[i].value);
    for (size_t i = 0; t->res && i < t->nres; i++)
        free(t->res[i].deps);
    free(t->res);
    free(t->order);
    json_decref(t->doc);
    free(t);
}

/* ---- evaluation ---- */

static int fn_call(void *cls, const char *name, json_t *const *a, size_t n, json_t **out,
                   cli_err *e);

/* Evaluates v (a template value) into *out; path is its template path
 * (extended in place, up to cap); unknown paths are appended to unk (may
 * be NULL: then nothing may be unknown). */
static int eval_tree(tpl *t, const json_t *v, char *path, size_t cap, int depth, json_t *unk,
                     json_t **out, cli_err *e)
{
    size_t pl = strlen(path);
    *out = NULL;
    if (depth > TPL_MAX_DEPTH)
        return bad(e, path, "is nested more than 64 levels deep");
    if (json_is_string(v)) {
        tpl_expr_env env = {fn_call, t};
        int u = 0;
        if (tpl_expr_eval(json_string_value(v), json_string_length(v), &env, out, unk ? &u : NULL,
                          e)) {
            tpl_err_prefix(e, path);
            return -1;
        }
        if (u && json_array_append_new(unk, json_string(path + t->unk_skip)))
            return oom(e);
        return 0;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        if (a == NULL)
            return oom(e);
        json_array_foreach(v, i, x)
        {
            json_t *y;
            snprintf(path + pl, cap - pl, "[%zu]", i);
            int rc = eval_tree(t, x, path, cap, depth + 1, unk, &y, e);
            path[pl] = '\0';
            if (rc || json_array_append_new(a, y)) {
                json_decref(a);
                return rc ? -1 : oom(e);
            }
        }
        *out = a;
        return 0;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        if (o == NULL)
            return oom(e);
        json_object_foreach((json_t *)v, k, x)
        {
            json_t *key = NULL, *y = NULL;
            tpl_expr_env env = {fn_call, t};
            int u = 0, rc = 0;
            snprintf(path + pl, cap - pl, "%s%.200s", pl ? "." : "", k);
            if (tpl_expr_eval(k, strlen(k), &env, &key, unk ? &u : NULL, e)) {
                tpl_err_prefix(e, path);
                rc = -1;
            } else if (!json_is_string(key)) {
                rc = bad(e, path, "a property name must evaluate to a string");
            } else if (json_object_get(o, json_string_value(key))) {
                rc = bad(e, path, "a property name evaluates to one already given");
            } else {
                snprintf(path + pl, cap - pl, "%s%.200s", pl ? "." : "", json_string_value(key));
                if (u)
                    json_array_append_new(unk, json_string(path + t->unk_skip));
                rc = eval_tree(t, x, path, cap, depth + 1, unk, &y, e);
            }
            path[pl] = '\0';
            if (rc == 0 && json_object_set_new(o, json_string_value(key), y))
                rc = oom(e);
            json_decref(key);
            if (rc) {
                json_decref(o);
                return -1;
            }
        }
        *out = o;
        return 0;
    }
    *out = json_incref((json_t *)v);
    return 0;
}

static entry *find(entry *ents, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(ents[i].name, name) == 0)
            return &ents[i];
    return NULL;
}

/* A given value for parameter p (typed, else converted text); NULL when
 * none; -1 on a conversion error. */
static int given(tpl *t, entry *p, json_t **out, cli_err *e)
{
    char path[TPL_PATH_MAX];
    const char *k;
    json_t *v;
    *out = NULL;
    snprintf(path, sizeof(path), "parameters.%.200s", p->name);
    json_object_foreach((json_t *)t->typed, k, v)
    {
        if (strcasecmp(k, p->name) == 0)
            *out = json_incref(v);
    }
    json_object_foreach((json_t *)t->text, k, v)
    {
        if (strcasecmp(k, p->name) != 0 || !json_is_string(v))
            continue;
        const char *s = json_string_value(v);
        json_decref(*out);
        *out = NULL;
        if (strcmp(p->type, "int") == 0) {
            char *end;
            errno = 0;
            long long n = strtoll(s, &end, 10);
            if (*s == '\0' || *end != '\0' || errno == ERANGE)
                return bad(e, path, "'%.100s' is not an integer", s);
            *out = json_integer((json_int_t)n);
        } else if (strcmp(p->type, "bool") == 0) {
            if (strcasecmp(s, "true") != 0 && strcasecmp(s, "false") != 0)
                return bad(e, path, "'%.100s' is not true or false", s);
            *out = json_boolean(strcasecmp(s, "true") == 0);
        } else if (strcmp(p->type, "array") == 0 || strstr(p->type, "bject")) {
            json_error_t je;
            if ((*out = json_loads(s, JSON_REJECT_DUPLICATES, &je)) == NULL)
                return bad(e, path, "the value is not JSON: %.200s", je.text);
        } else {
            *out = json_incref(v);
        }
    }
    return 0;
}

static int check_param(entry *p, const json_t *v, cli_err *e)
{
    char path[TPL_PATH_MAX];
    snprintf(path, sizeof(path), "parameters.%.200s", p->name);
    if (!type_matches(p->type, v))
        return bad(e, path, "the value is not of the parameter's type (%s)", p->type);
    json_t *av = json_object_get(p->decl, "allowedValues");
    if (av) {
        size_t i;
        json_t *x;
        int ok = 0;
        json_array_foreach(av, i, x) ok |= json_equal(x, v);
        if (!ok) {
            char *allowed = json_dumps(av, JSON_COMPACT), *given_s = json_dumps(v, JSON_ENCODE_ANY);
            char m[600];
            /* a secure parameter's value never enters a message */
            snprintf(m, sizeof(m), "the value %.100s is not one of the allowed values %.300s",
                     is_secure(p->type) ? "given"
                     : given_s          ? given_s
                                        : "?",
                     is_secure(p->type) ? ""
                     : allowed          ? allowed
                                        : "?");
            free(allowed);
            free(given_s);
            return bad(e, path, "%s", m);
        }
    }
    static const char *const lims[] = {"minLength", "maxLength", "minValue", "maxValue"};
    for (int l = 0; l < 4; l++) {
        json_t *lim = json_object_get(p->decl, lims[l]);
        if (lim == NULL)
            continue;
        if (!json_is_integer(lim)) {
            snprintf(path, sizeof(path), "parameters.%.200s.%s", p->name, lims[l]);
            return bad(e, path, "must be an integer");
        }
        json_int_t have = l < 2 ? (json_is_string(v)  ? (json_int_t)json_string_length(v)
                                   : json_is_array(v) ? (json_int_t)json_array_size(v)
                                                      : -1)
                                : (json_is_integer(v) ? json_integer_value(v) : -1);
        json_int_t want = json_integer_value(lim);
        if (have < 0)
            continue;
        if ((l % 2 == 0 && have < want) || (l % 2 == 1 && have > want))
            return bad(e, path, "the value is outside %s", lims[l]);
    }
    return 0;
}

static int param_value(tpl *t, entry *p, json_t **out, cli_err *e)
{
    char path[TPL_PATH_MAX];
    *out = NULL;
    if (p->state == BOUND) {
        *out = json_incref(p->value);
        return 0;
    }
    snprintf(path, sizeof(path), "parameters.%.200s", p->name);
    if (p->state == BINDING)
        return bad(e, path, "its defaultValue depends on itself");
    p->state = BINDING;
    json_t *v = NULL;
    if (given(t, p, &v, e))
        return -1;
    if (v == NULL) {
        json_t *d = json_object_get(p->decl, "defaultValue");
        if (d == NULL)
            return bad(e, path,
                       "no value given (--parameters %s=VALUE) and the parameter has no "
                       "defaultValue",
                       p->name);
        int saved_mode = t->mode, saved_nv = t->no_vars;
        t->mode = MODE_STATIC;
        t->no_vars = 1;
        snprintf(path, sizeof(path), "parameters.%.200s.defaultValue", p->name);
        int rc = eval_tree(t, d, path, sizeof(path), 0, NULL, &v, e);
        t->mode = saved_mode;
        t->no_vars = saved_nv;
        if (rc)
            return -1;
    }
    if (check_param(p, v, e)) {
        json_decref(v);
        return -1;
    }
    p->value = v;
    p->state = BOUND;
    *out = json_incref(v);
    return 0;
}

static int var_value(tpl *t, entry *x, json_t **out, cli_err *e)
{
    char path[TPL_PATH_MAX];
    *out = NULL;
    if (x->state == BOUND) {
        *out = json_incref(x->value);
        return 0;
    }
    snprintf(path, sizeof(path), "variables.%.200s", x->name);
    if (x->state == BINDING)
        return bad(e, path, "the variable depends on itself");
    x->state = BINDING;
    int saved = t->mode;
    t->mode = MODE_STATIC;
    int rc = eval_tree(t, x->decl, path, sizeof(path), 0, NULL, &x->value, e);
    t->mode = saved;
    if (rc)
        return -1;
    x->state = BOUND;
    *out = json_incref(x->value);
    return 0;
}

/* "NS/t1/t2" and names n1, n2 into out: /subscriptions/S/resourceGroups/
 * G/providers/NS/t1/n1/t2/n2. */
static int build_id(char *out, size_t cap, const char *sub, const char *group, const char *type,
                    const char *const *names, size_t nnames, cli_err *e)
{
    const char *slash = strchr(type, '/');
    size_t ntypes = 0;
    for (const char *c = type; *c; c++)
        ntypes += *c == '/';
    if (slash == NULL || slash == type || type[strlen(type) - 1] == '/' || strstr(type, "//"))
        return cli_fail(e, "InvalidTemplate",
                        "'%.200s' is not a resource type (Namespace/type[/childType])", type);
    if (ntypes != nnames)
        return cli_fail(e, "InvalidTemplate",
                        "the resource type '%.200s' needs %zu name segment(s), got %zu", type,
                        ntypes, nnames);
    if (!arm_uuid_valid(sub))
        return cli_fail(e, "InvalidTemplate", "'%.64s' is not a subscription id", sub);
    if (!arm_group_name_valid(group))
        return cli_fail(e, "InvalidTemplate", "'%.100s' is not a resource group name", group);
    int w = snprintf(out, cap, "/subscriptions/%s/resourceGroups/%s/providers/%.*s", sub, group,
                     (int)(slash - type), type);
    const char *tp = slash + 1;
    for (size_t i = 0; i < nnames; i++) {
        const char *end = strchr(tp, '/');
        int tl = end ? (int)(end - tp) : (int)strlen(tp);
        if (names[i][0] == '\0' || strchr(names[i], '/'))
            return cli_fail(e, "InvalidTemplate", "the resource name '%.200s' is not valid",
                            names[i]);
        if (w >= 0 && (size_t)w < cap)
            w += snprintf(out + w, cap - (size_t)w, "/%.*s/%s", tl, tp, names[i]);
        tp = end ? end + 1 : tp + tl;
    }
    if (w < 0 || (size_t)w >= cap)
        return cli_fail(e, "InvalidTemplate", "a resource id is too long");
    return 0;
}

static int fn_resource_id(tpl *t, json_t *const *a, size_t n, json_t **out, cli_err *e)
{
    size_t k = 0;
    const char *names[8];
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(a[i]))
            return cli_fail(e, "InvalidTemplate", "resourceId() takes strings");
    while (k < n && k < 3 && strchr(json_string_value(a[k]), '/') == NULL)
        k++;
    if (k == n || k > 2)
        return cli_fail(e, "InvalidTemplate",
                        "resourceId() takes [subscriptionId,] [resourceGroupName,] "
                        "resourceType, resourceName...");
    const char *sub = k == 2 ? json_string_value(a[0]) : t->site.sub;
    const char *group = k >= 1 ? json_string_value(a[k - 1]) : t->site.group;
    if (n - k - 1 > 8)
        return cli_fail(e, "InvalidTemplate", "resourceId(): too many names");
    for (size_t i = k + 1; i < n; i++)
        names[i - k - 1] = json_string_value(a[i]);
    char id[TPL_ID_MAX];
    if (build_id(id, sizeof(id), sub, group, json_string_value(a[k]), names, n - k - 1, e))
        return -1;
    *out = json_string(id);
    return 0;
}

static int add_dep(res *r, size_t d)
{
    for (size_t i = 0; i < r->ndeps; i++)
        if (r->deps[i] == d)
            return 0;
    size_t *n = realloc(r->deps, (r->ndeps + 1) * sizeof(*n));
    if (n == NULL)
        return -1;
    r->deps = n;
    r->deps[r->ndeps++] = d;
    return 0;
}

/* The template resource a dependsOn or reference() string names: its id
 * (compared as ARM compares ids), or its name (unique among the
 * template's); -1 when none, -2 when a name is ambiguous. */
static long lookup(const tpl *t, const char *s)
{
    long hit = -1;
    for (size_t i = 0; i < t->nres; i++) {
        const tpl_resource *r = &t->res[i].pub;
        char tn[800];
        snprintf(tn, sizeof(tn), "%s/%s", r->type, r->name);
        if (arm_eq(r->id, s) || arm_eq(tn, s))
            return (long)i;
        if (arm_eq(r->name, s))
            hit = hit == -1 ? (long)i : -2;
    }
    return hit;
}

static int fn_reference(tpl *t, json_t *const *a, size_t n, json_t **out, cli_err *e)
{
    *out = NULL;
    if (n < 1 || n > 3 || !json_is_string(a[0]) || (n > 1 && !json_is_string(a[1])) ||
        (n > 2 && !json_is_string(a[2])))
        return cli_fail(e, "InvalidTemplate",
                        "reference() takes a resource id or name, [an apiVersion] and ['Full']");
    if (t->mode == MODE_STATIC)
        return cli_fail(e, "InvalidTemplate",
                        "reference() cannot be used here (only in a resource's body and in "
                        "outputs)");
    const char *s = json_string_value(a[0]);
    int full = n == 3 && strcasecmp(json_string_value(a[2]), "Full") == 0;
    long idx = lookup(t, s);
    if (idx == -2)
        return cli_fail(e, "InvalidTemplate",
                        "reference('%.200s'): several resources of the template have that name; "
                        "give its resourceId()",
                        s);
    if (idx < 0 && s[0] != '/')
        return cli_fail(e, "InvalidTemplate",
                        "reference('%.200s'): no resource of the template has that name", s);
    if (t->mode == MODE_SCAN) {
        if (idx >= 0) {
            if ((size_t)idx == t->cur)
                return cli_fail(e, "InvalidTemplate", "a resource cannot reference() itself");
            if (add_dep(&t->res[t->cur], (size_t)idx))
                return oom(e);
        }
        return 0; /* unknown while scanning */
    }
    const char *id = idx >= 0 ? t->res[idx].pub.id : s;
    if (t->site.reference == NULL)
        return 0;
    return t->site.reference(t->site.cls, idx, id, full, out, e) ? -1 : 0;
}

static int fn_call(void *cls, const char *name, json_t *const *a, size_t n, json_t **out,
                   cli_err *e)
{
    tpl *t = cls;
    *out = NULL;
    if (strcasecmp(name, "parameters") == 0 || strcasecmp(name, "variables") == 0) {
        int vars = name[0] == 'v' || name[0] == 'V';
        if (n != 1 || !json_is_string(a[0]))
            return cli_fail(e, "InvalidTemplate", "%s() takes one name", name);
        if (vars && t->no_vars)
            return cli_fail(e, "InvalidTemplate", "variables() cannot be used in a parameter");
        const char *k = json_string_value(a[0]);
        entry *x = vars ? find(t->vars, t->nvars, k) : find(t->params, t->nparams, k);
        if (x == NULL)
            return cli_fail(e, "InvalidTemplate", "the template has no %s '%.200s'",
                            vars ? "variable" : "parameter", k);
        return vars ? var_value(t, x, out, e) : param_value(t, x, out, e);
    }
    if (strcasecmp(name, "resourceGroup") == 0) {
        char id[256];
        if (n != 0)
            return cli_fail(e, "InvalidTemplate", "resourceGroup() takes no arguments");
        snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s", t->site.sub, t->site.group);
        *out = json_pack("{s:s,s:s,s:s,s:s?,s:{s:s}}", "id", id, "name", t->site.group, "type",
                         "Microsoft.Resources/resourceGroups", "location", t->site.location,
                         "properties", "provisioningState", "Succeeded");
        return *out ? 0 : oom(e);
    }
    if (strcasecmp(name, "subscription") == 0) {
        char id[64];
        if (n != 0)
            return cli_fail(e, "InvalidTemplate", "subscription() takes no arguments");
        snprintf(id, sizeof(id), "/subscriptions/%s", t->site.sub);
        *out = json_pack("{s:s,s:s,s:s?,s:s?}", "id", id, "subscriptionId", t->site.sub, "tenantId",
                         t->site.tenant, "displayName", t->site.sub_name);
        return *out ? 0 : oom(e);
    }
    if (strcasecmp(name, "resourceId") == 0)
        return fn_resource_id(t, a, n, out, e);
    if (strcasecmp(name, "reference") == 0)
        return fn_reference(t, a, n, out, e);
    return 1;
}

/* A string member evaluated statically into buf. */
static int static_string(tpl *t, const json_t *decl, const char *key, const char *rpath, char *buf,
                         size_t cap, cli_err *e)
{
    char path[TPL_PATH_MAX];
    json_t *v = NULL;
    snprintf(path, sizeof(path), "%s.%s", rpath, key);
    if (eval_tree(t, json_object_get(decl, key), path, sizeof(path), 0, NULL, &v, e))
        return -1;
    int rc = 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        rc = bad(e, path, "must evaluate to a non-empty string");
    else if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
        rc = bad(e, path, "is too long");
    else
        snprintf(buf, cap, "%s", json_string_value(v));
    json_decref(v);
    return rc;
}

/* Type, name, id of resource i. */
static int bind_resource(tpl *t, size_t i, cli_err *e)
{
    res *r = &t->res[i];
    const char *names[8];
    char nb[512], path[TPL_PATH_MAX];
    if (static_string(t, r->decl, "type", r->pub.path, r->pub.type, sizeof(r->pub.type), e) ||
        static_string(t, r->decl, "name", r->pub.path, r->pub.name, sizeof(r->pub.name), e))
        return -1;
    size_t n = 0;
    snprintf(nb, sizeof(nb), "%s", r->pub.name);
    for (char *s = nb, *slash; n < 8; s = slash + 1) {
        names[n++] = s;
        if ((slash = strchr(s, '/')) == NULL)
            break;
        *slash = '\0';
    }
    snprintf(path, sizeof(path), "%s.name", r->pub.path);
    if (build_id(r->pub.id, sizeof(r->pub.id), t->site.sub, t->site.group, r->pub.type, names, n,
                 e)) {
        tpl_err_prefix(e, path);
        return -1;
    }
    for (size_t j = 0; j < i; j++) {
        if (arm_eq(t->res[j].pub.id, r->pub.id))
            return bad(e, path, "the same resource is declared twice (as %s)", t->res[j].pub.path);
    }
    return 0;
}

static int bind_deps(tpl *t, size_t i, cli_err *e)
{
    res *r = &t->res[i];
    char path[TPL_PATH_MAX];
    json_t *d = json_object_get(r->decl, "dependsOn"), *v = NULL;
    if (d == NULL)
        return 0;
    snprintf(path, sizeof(path), "%s.dependsOn", r->pub.path);
    if (!json_is_array(d))
        return bad(e, path, "must be an array");
    if (eval_tree(t, d, path, sizeof(path), 0, NULL, &v, e))
        return -1;
    size_t k;
    json_t *x;
    int rc = 0;
    json_array_foreach(v, k, x)
    {
        snprintf(path, sizeof(path), "%s.dependsOn[%zu]", r->pub.path, k);
        long j = json_is_string(x) ? lookup(t, json_string_value(x)) : -1;
        if (!json_is_string(x))
            rc = bad(e, path, "must be a string");
        else if (j == -2)
            rc = bad(e, path, "'%.200s' names several resources; give its resourceId()",
                     json_string_value(x));
        else if (j < 0)
            rc = bad(e, path, "'%.200s' is not a resource of this template", json_string_value(x));
        else if ((size_t)j == i)
            rc = bad(e, path, "a resource cannot depend on itself");
        else if (add_dep(r, (size_t)j))
            rc = oom(e);
        if (rc)
            break;
    }
    json_decref(v);
    return rc;
}

static const char *const body_keys[] = {"location", "sku",  "identity", "properties",
                                        "tags",     "kind", NULL};

/* Evaluates resource i's body in the current mode. */
static int eval_body(tpl *t, size_t i, json_t **body, json_t **unknown, cli_err *e)
{
    res *r = &t->res[i];
    json_t *b = json_object(), *unk = json_array();
    *body = *unknown = NULL;
    if (b == NULL || unk == NULL)
        goto nomem;
    t->cur = i;
    for (const char *const *k = body_keys; *k; k++) {
        json_t *d = json_object_get(r->decl, *k), *v = NULL;
        char path[TPL_PATH_MAX];
        if (d == NULL)
            continue;
        snprintf(path, sizeof(path), "%s.%s", r->pub.path, *k);
        t->unk_skip = strlen(r->pub.path) + 1;
        int rc = eval_tree(t, d, path, sizeof(path), 0, unk, &v, e);
        t->unk_skip = 0;
        if (rc)
            goto fail;
        json_object_set_new(b, *k, v);
    }
    *body = b;
    *unknown = unk;
    return 0;
nomem:
    oom(e);
fail:
    json_decref(b);
    json_decref(unk);
    return -1;
}

static int order(tpl *t, cli_err *e)
{
    size_t done = 0;
    unsigned char *placed = calloc(t->nres ? t->nres : 1, 1);
    if (placed == NULL)
        return oom(e);
    while (done < t->nres) {
        size_t pick = t->nres;
        for (size_t i = 0; i < t->nres && pick == t->nres; i++) {
            if (placed[i])
                continue;
            int ready = 1;
            for (size_t d = 0; d < t->res[i].ndeps; d++)
                ready &= placed[t->res[i].deps[d]];
            if (ready)
                pick = i;
        }
        if (pick == t->nres) {
            char m[600] = "";
            size_t ml = 0;
            for (size_t i = 0; i < t->nres; i++) {
                if (placed[i])
                    continue;
                int w =
                    snprintf(m + ml, sizeof(m) - ml, "%s%s", ml ? ", " : "", t->res[i].pub.path);
                if (w < 0 || (size_t)w >= sizeof(m) - ml)
                    break;
                ml += (size_t)w;
            }
            free(placed);
            return cli_fail(e, "InvalidTemplate",
                            "circular dependency among %s (dependsOn and reference())", m);
        }
        placed[pick] = 1;
        t->order[done++] = pick;
    }
    free(placed);
    return 0;
}

int tpl_bind(tpl *t, const json_t *typed, const json_t *text, const tpl_site *site, cli_err *e)
{
    const char *k;
    json_t *v;
    t->site = *site;
    t->typed = typed;
    t->text = text;
    t->mode = MODE_STATIC;
    for (int pass = 0; pass < 2; pass++) {
        json_object_foreach((json_t *)(pass ? text : typed), k, v)
        {
            if (find(t->params, t->nparams, k) == NULL) {
                char have[300] = "";
                size_t hl = 0;
                for (size_t i = 0; i < t->nparams; i++) {
                    int w = snprintf(have + hl, sizeof(have) - hl, "%s%s", i ? ", " : "",
                                     t->params[i].name);
                    if (w < 0 || (size_t)w >= sizeof(have) - hl)
                        break;
                    hl += (size_t)w;
                }
                return cli_fail(e, "InvalidTemplate",
                                "the parameter '%.100s' is given but the template has no such "
                                "parameter; its parameters are: %s",
                                k, t->nparams ? have : "(none)");
            }
        }
    }
    for (size_t i = 0; i < t->nparams; i++) {
        json_t *x;
        if (param_value(t, &t->params[i], &x, e))
            return -1;
        json_decref(x);
    }
    for (size_t i = 0; i < t->nvars; i++) {
        json_t *x;
        if (var_value(t, &t->vars[i], &x, e))
            return -1;
        json_decref(x);
    }
    t->typed = t->text = NULL;
    for (size_t i = 0; i < t->nres; i++)
        if (bind_resource(t, i, e))
            return -1;
    for (size_t i = 0; i < t->nres; i++)
        if (bind_deps(t, i, e))
            return -1;
    t->mode = MODE_SCAN;
    for (size_t i = 0; i < t->nres; i++) {
        json_t *b, *u;
        if (eval_body(t, i, &b, &u, e))
            return -1;
        json_decref(b);
        json_decref(u);
    }
    t->mode = MODE_EVAL;
    return order(t, e);
}

size_t tpl_resource_count(const tpl *t)
{
    return t->nres;
}

const tpl_resource *tpl_resource_at(const tpl *t, size_t i)
{
    return i < t->nres ? &t->res[i].pub : NULL;
}

const size_t *tpl_order(const tpl *t)
{
    return t->order;
}

const size_t *tpl_resource_deps(const tpl *t, size_t i, size_t *n)
{
    *n = i < t->nres ? t->res[i].ndeps : 0;
    return i < t->nres ? t->res[i].deps : NULL;
}

int tpl_resource_eval(tpl *t, size_t i, json_t **body, json_t **unknown, cli_err *e)
{
    *body = *unknown = NULL;
    if (i >= t->nres || t->mode != MODE_EVAL)
        return cli_fail(e, "InvalidTemplate", "no such resource (the template is not bound)");
    return eval_body(t, i, body, unknown, e);
}

int tpl_outputs(tpl *t, json_t **out, cli_err *e)
{
    json_t *o = json_object(), *outs = json_object_get(t->doc, "outputs");
    const char *k;
    json_t *v;
    *out = NULL;
    if (o == NULL)
        return oom(e);
    json_object_foreach(outs, k, v)
    {
        char path[TPL_PATH_MAX];
        json_t *val = NULL, *unk = json_array();
        const char *type = type_canonical(json_string_value(json_object_get(v, "type")));
        snprintf(path, sizeof(path), "outputs.%.200s.value", k);
        t->cur = t->nres;
        int rc = eval_tree(t, json_object_get(v, "value"), path, sizeof(path), 0, unk, &val, e);
        size_t nunk = json_array_size(unk);
        json_decref(unk);
        if (rc == 0 && nunk == 0 && !type_matches(type, val))
            rc = bad(e, path, "the value is not of the output's type (%s)", type);
        if (rc) {
            json_decref(val);
            json_decref(o);
            return -1;
        }
        json_t *one = json_pack("{s:s}", "type", type);
        if (!is_secure(type)) /* as ARM: a secure output's value is not returned */
            json_object_set(one, "value", val);
        json_decref(val);
        json_object_set_new(o, k, one);
    }
    *out = o;
    return 0;
}

json_t *tpl_parameters(const tpl *t)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < t->nparams; i++) {
        const entry *p = &t->params[i];
        json_t *x = json_pack("{s:s}", "type", p->type);
        if (x && p->value && !is_secure(p->type))
            json_object_set(x, "value", p->value);
        json_object_set_new(o, p->name, x);
    }
    return o;
}
