/*
 * deploy.c -- `coffer deployment group create|what-if|validate`: an ARM
 * template (template.h) deployed to a resource group, as
 * `az deployment group ...` does it (docs/templates.md).
 *
 * Every verb first validates: the template is read and bound, then each
 * resource's body is evaluated with every reference() unknown and checked
 * by its kind (kinds.c), so that no template error is found after
 * something was made. what-if and create then plan each resource in
 * dependency order: read it, compare (deploy.h), and -- create only --
 * apply the difference and read it back, so that a later reference() sees
 * the resource as it now is. what-if applies nothing: a resource it would
 * create has no state yet, and what depends on its values shows the
 * expression instead, as ARM's what-if does.
 *
 * Idempotence: a resource whose comparable shape matches is not touched
 * (NoChange), so a second run of the same file makes no call but reads.
 * Failure: the first refusal stops the deployment; its error carries the
 * template path of the value at fault (the API's code and message), and
 * says which resources were created or changed before it. Each resource
 * is one API call that the server makes whole or not at all (or, for a
 * vault's changed properties and added policies, calls that are each
 * whole), so a rerun after the fix finds what was made, leaves it, and
 * completes the rest.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/deploy.h"
#include "cli/expr.h"

#define MAX_FILE TPL_MAX_BYTES

/* ---- shared with kinds.c ---- */

void deploy_note(deploy *d, const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    size_t i;
    json_t *it;
    json_array_foreach(d->notes, i, it)
    {
        if (strcmp(json_string_value(it), m) == 0)
            return;
    }
    json_array_append_new(d->notes, json_string(m));
}

int deploy_unknown(const dres *x, const char *path)
{
    size_t i;
    json_t *it;
    json_array_foreach(x->unknown, i, it)
    {
        const char *u = json_string_value(it);
        size_t l = strlen(u);
        /* the value itself, or a container of it */
        if (strncasecmp(path, u, l) == 0 && (path[l] == '\0' || path[l] == '.' || path[l] == '['))
            return 1;
    }
    return 0;
}

/* rel ("properties.encryption.keyVaultProperties.keyIdentifier", with
 * [n] indexes) spelled as the template writes it ("KeyIdentifier"): ARM's
 * names are case-insensitive, the path should still be found by a search
 * in the file. */
static void as_written(const json_t *body, const char *rel, char *out, size_t n)
{
    const json_t *at = body;
    size_t l = 0;
    out[0] = '\0';
    for (const char *p = rel; *p && l < n;) {
        size_t seg = strcspn(p, ".["), w;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(seg < 127 ? seg : 127), p);
        const char *k, *spelled = name;
        json_t *v, *next = NULL;
        json_object_foreach((json_t *)at, k, v)
        {
            if (strcasecmp(k, name) == 0) {
                spelled = k;
                next = v;
            }
        }
        w = (size_t)snprintf(out + l, n - l, "%s%s", l ? "." : "", spelled);
        l += w;
        p += seg;
        at = next;
        while (*p == '[' && l < n) { /* indexes */
            const char *end = strchr(p, ']');
            if (end == NULL)
                break;
            long i = strtol(p + 1, NULL, 10);
            l += (size_t)snprintf(out + l, n - l, "%.*s", (int)(end - p + 1), p);
            at = json_array_get(at, (size_t)(i < 0 ? 0 : i));
            p = end + 1;
        }
        if (*p == '.')
            p++;
    }
    if (l >= n)
        out[n - 1] = '\0';
}

int deploy_bad(dres *x, cli_err *e, const char *code, const char *rel, const char *fmt, ...)
{
    char m[768], w[TPL_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    as_written(x->body, rel, w, sizeof(w));
    return cli_fail(e, code, "%s%s%s: %s", x->r->path, w[0] ? "." : "", w, m);
}

int deploy_get_opt(deploy *d, cli_call_fn call, const char *path, json_t **out, cli_err *e)
{
    *out = NULL;
    if (call(d->c, "GET", path, NULL, out, e) == 0)
        return 0;
    if (d->c->last_status != 404)
        return -1;
    memset(e, 0, sizeof(*e));
    *out = NULL;
    return 0;
}

dres *deploy_find(deploy *d, const char *id)
{
    for (size_t i = 0; i < d->n; i++)
        if (arm_eq(d->res[i].r->id, id))
            return &d->res[i];
    return NULL;
}

/* ---- reading the inputs ---- */

static int read_file(const char *opt, const char *path, char **out, size_t *n, cli_err *e)
{
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (f == NULL)
        return cli_usage(e, "argument %s: cannot read '%.300s': %s", opt, path, strerror(errno));
    char *buf = malloc(MAX_FILE + 1);
    size_t got = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return cli_usage(e, "argument %s: cannot read '%.300s'", opt, path);
    }
    if (got > MAX_FILE) {
        free(buf);
        return cli_fail(e, "InvalidTemplate", "'%.300s' is larger than 4 MiB", path);
    }
    buf[got] = '\0';
    *out = buf;
    *n = got;
    return 0;
}

/* A parameters document ({"parameters": {NAME: {"value": V}}} or the inner
 * object) into typed. */
static int params_doc(const char *what, const char *text, size_t n, json_t *typed, cli_err *e)
{
    json_error_t je;
    json_t *doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je), *ps;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return cli_fail(e, "InvalidTemplate", "%.300s is not a JSON object: %s", what, je.text);
    }
    ps = json_object_get(doc, "parameters");
    if (!json_is_object(ps))
        ps = doc;
    const char *k;
    json_t *v;
    json_object_foreach(ps, k, v)
    {
        if (k[0] == '$' || strcmp(k, "contentVersion") == 0)
            continue;
        json_t *val = json_object_get(v, "value");
        if (val == NULL) {
            int ref = json_object_get(v, "reference") != NULL;
            json_decref(doc);
            return cli_fail(e, "InvalidTemplate", "%.300s: parameters.%.100s: %s", what, k,
                            ref ? "Key Vault secret references are not supported by coffer"
                                : "must be {\"value\": ...}");
        }
        json_object_set(typed, k, val);
    }
    json_decref(doc);
    return 0;
}

/* --parameters words: @FILE, inline JSON, NAME=VALUE. */
static int read_params(const cli_args *a, json_t *typed, json_t *text, cli_err *e)
{
    int n;
    const char *const *w = cli_args_multi(a, "parameters", &n);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(w[i], '=');
        if (w[i][0] == '@') {
            char *buf;
            size_t len;
            if (read_file("--parameters", w[i] + 1, &buf, &len, e))
                return -1;
            int rc = params_doc(w[i] + 1, buf, len, typed, e);
            free(buf);
            if (rc)
                return -1;
        } else if (w[i][0] == '{') {
            if (params_doc("--parameters", w[i], strlen(w[i]), typed, e))
                return -1;
        } else if (eq && eq != w[i]) {
            json_t *name = json_stringn(w[i], (size_t)(eq - w[i]));
            if (name == NULL)
                return cli_usage(e, "argument --parameters: '%.100s' is not valid", w[i]);
            json_object_set_new(text, json_string_value(name), json_string(eq + 1));
            json_decref(name);
        } else {
            return cli_usage(e,
                             "argument --parameters: '%.100s' is not NAME=VALUE, @FILE or a JSON "
                             "object",
                             w[i]);
        }
    }
    return 0;
}

/* The deployment's name: --name, else the template file's name without
 * its extension (as az). */
static int deployment_name(const cli_args *a, char *out, size_t n, cli_err *e)
{
    const char *nm = cli_args_get(a, "name"), *f = cli_args_get(a, "template-file");
    if (nm == NULL) {
        const char *slash = strrchr(f, '/');
        nm = slash ? slash + 1 : f;
    }
    snprintf(out, n, "%s", nm);
    char *dot = cli_args_get(a, "name") ? NULL : strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
    size_t l = strlen(out);
    for (size_t i = 0; i < l; i++) {
        char c = out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '(' || c == ')'))
            l = 0;
    }
    if (l == 0 || l > 64)
        return cli_usage(e,
                         "argument --name/-n: '%.100s' is not a deployment name (1-64 of letters, "
                         "digits, '-', '_', '.', '(' and ')')",
                         nm);
    return 0;
}

/* ---- reference() ---- */

/* Type "NS/t1/t2" and name "n1/n2" of an ARM id. */
static int split_id(const char *id, char *type, size_t tn, char *name, size_t nn)
{
    arm_path ap;
    if (arm_path_parse(&ap, id, strlen(id)) != 0 || ap.kind != ARM_RESOURCE)
        return -1;
    if (snprintf(type, tn, "%s/%s", ap.ns, ap.type) >= (int)tn ||
        snprintf(name, nn, "%s", ap.name) >= (int)nn)
        return -1;
    for (const char *r = ap.rest; *r == '/';) {
        const char *t = r + 1, *s = strchr(t, '/');
        if (s == NULL)
            return -1;
        const char *m = s + 1, *end = strchr(m, '/');
        size_t tl = (size_t)(s - t), ml = end ? (size_t)(end - m) : strlen(m);
        size_t have = strlen(type), nh = strlen(name);
        if (ml == 0 || have + tl + 2 > tn || nh + ml + 2 > nn)
            return -1;
        snprintf(type + have, tn - have, "/%.*s", (int)tl, t);
        snprintf(name + nh, nn - nh, "/%.*s", (int)ml, m);
        r = m + ml;
    }
    return 0;
}

static int ref_cb(void *cls, long index, const char *id, int full, json_t **out, cli_err *e)
{
    deploy *d = cls;
    const json_t *state = NULL;
    json_t *ext = NULL;
    const deploy_kind *k;
    *out = NULL;
    if (d->planning)
        return 0;
    if (index >= 0) {
        dres *x = &d->res[index];
        state = x->after;
        k = x->k;
    } else {
        char type[256], name[512];
        if (split_id(id, type, sizeof(type), name, sizeof(name)) ||
            (k = deploy_kind_find(type)) == NULL)
            return cli_fail(e, "InvalidTemplate",
                            "reference('%.300s'): not the id of a resource coffer has", id);
        if (k->get(d, id, name, &ext, e))
            return -1;
        if (ext == NULL)
            return cli_fail(e, "ResourceNotFound",
                            "reference('%.300s'): the resource does not exist", id);
        state = ext;
    }
    if (state)
        *out = full ? json_incref((json_t *)state) : k->ref(state);
    json_decref(ext);
    return 0;
}

/* ---- planning and applying ---- */

static void delta_add(json_t *delta, const char *path, json_t *before, json_t *after)
{
    json_array_append_new(delta, json_pack("{s:s,s:s,s:O,s:O}", "path", path, "propertyChangeType",
                                           before ? "Modify" : "Create", "before",
                                           before ? before : json_null(), "after", after));
}

/* The leaves of want that differ from have. */
static void diff(const json_t *want, const json_t *have, char *path, size_t cap, json_t *delta)
{
    size_t pl = strlen(path);
    const char *k;
    json_t *w;
    json_object_foreach((json_t *)want, k, w)
    {
        json_t *h = json_object_get(have, k);
        snprintf(path + pl, cap - pl, "%s%s", pl ? "." : "", k);
        if (json_is_object(w) && json_is_object(h))
            diff(w, h, path, cap, delta);
        else if (!json_equal(w, h))
            delta_add(delta, path, h, w);
        path[pl] = '\0';
    }
}

/* The template path an API refusal is about, by its code. */
static const char *refusal_path(const dres *x, const cli_err *e)
{
    static const char *const map[][2] = {
        {"InvalidSku", "sku.name"},
        {"CmkRequiresPremium", "sku.name"},
        {"CmkOnlyAtCreation", "properties.encryption"},
        {"CmkCannotBeDisabled", "properties.encryption.status"},
        {"InvalidKeyIdentifier", "properties.encryption.keyVaultProperties.keyIdentifier"},
        {"IdentityRequired", "properties.encryption.keyVaultProperties.identity"},
        {"IdentityNotFound", "identity.userAssignedIdentities"},
        {"IdentityInUse", "identity"},
        {"AnonymousPullNotSupported", "properties.anonymousPullEnabled"},
    };
    if (strcmp(x->k->type, "Microsoft.ContainerRegistry/registries") == 0) {
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcmp(e->code, map[i][0]) == 0)
                return map[i][1];
        if (strncmp(e->code, "Key", 3) == 0)
            return "properties.encryption.keyVaultProperties.keyIdentifier";
    }
    if (strcmp(x->k->type, "Microsoft.KeyVault/vaults") == 0) {
        if (strcasestr(e->msg, "purge protection"))
            return "properties.enablePurgeProtection";
        if (strcasestr(e->msg, "retention"))
            return "properties.softDeleteRetentionInDays";
        if (strcasestr(e->msg, "tenantId"))
            return "properties.tenantId";
        if (strcasestr(e->msg, "accessPolicies") || strcasestr(e->msg, "objectId"))
            return "properties.accessPolicies";
    }
    if (strstr(x->k->type, "accessPolicies"))
        return "properties.accessPolicies";
    return "";
}

/* "resources[0] created, resources[1] unchanged, ..." of what ran. */
static void progress(const deploy *d, char *out, size_t n)
{
    size_t l = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->n; i++) {
        const dres *x = &d->res[tpl_order(d->t)[i]];
        if (x->change == NULL || (!x->applied && strcmp(x->change, "NoChange") != 0))
            continue;
        const char *what = strcmp(x->change, "Create") == 0   ? "created"
                           : strcmp(x->change, "Modify") == 0 ? "changed"
                                                              : "unchanged";
        int w = snprintf(out + l, n - l, "%s%s %s", l ? ", " : "", x->r->path, what);
        if (w < 0 || (size_t)w >= n - l)
            break;
        l += (size_t)w;
    }
    if (l == 0)
        snprintf(out, n, "nothing");
}

static int plan_one(deploy *d, dres *x, cli_err *e)
{
    json_decref(x->body);
    json_decref(x->unknown);
    x->body = x->unknown = NULL;
    if (tpl_resource_eval(d->t, x->idx, &x->body, &x->unknown, e) || x->k->check(d, x, e))
        return -1;
    if (d->planning)
        return 0;
    /* a child of a resource this what-if would create does not exist yet */
    dres *parent = NULL;
    char pid[TPL_ID_MAX];
    snprintf(pid, sizeof(pid), "%s", x->r->id);
    for (char *s; (s = strrchr(pid, '/')) && parent == NULL && strchr(x->r->name, '/');) {
        *s = '\0';
        parent = deploy_find(d, pid);
    }
    int parent_created =
        parent && parent != x && parent->change && strcmp(parent->change, "Create") == 0;
    if (parent_created && !parent->applied)
        x->cur = NULL;
    else if (x->k->get(d, x->r->id, x->r->name, &x->cur, e)) {
        tpl_err_prefix(e, x->r->path);
        return -1;
    }
    x->want = x->k->want(d, x);
    x->have = x->cur ? x->k->have(d, x) : NULL;
    x->delta = json_array();
    char path[TPL_PATH_MAX] = "";
    if (x->cur)
        diff(x->want, x->have, path, sizeof(path), x->delta);
    x->change = x->cur == NULL                  ? "Create"
                : json_array_size(x->delta) > 0 ? (parent_created ? "Create" : "Modify")
                                                : "NoChange";
    x->after = x->cur ? json_incref(x->cur) : NULL;
    return 0;
}

static int apply_one(deploy *d, dres *x, cli_err *e)
{
    json_t *after = NULL;
    if (strcmp(x->change, "NoChange") == 0)
        return 0;
    if (x->k->apply(d, x, &after, e)) {
        const char *rel = refusal_path(x, e);
        char done[400], pre[TPL_PATH_MAX + 40];
        if (strncmp(e->msg, "resources[", 10) != 0) {
            char w[TPL_PATH_MAX];
            as_written(x->body, rel, w, sizeof(w));
            snprintf(pre, sizeof(pre), "%s%s%s", x->r->path, w[0] ? "." : "", w);
            tpl_err_prefix(e, pre);
        }
        progress(d, done, sizeof(done));
        size_t l = strlen(e->msg);
        snprintf(e->msg + l, sizeof(e->msg) - l,
                 " [the deployment stopped at %s (%s '%s'); done before it: %s; run it again "
                 "after the fix to complete it]",
                 x->r->path, x->r->type, x->r->name, done);
        return -1;
    }
    json_decref(x->after);
    x->after = after;
    x->applied = 1;
    return 0;
}

/* ---- the verbs ---- */

static void deploy_free(deploy *d)
{
    for (size_t i = 0; d->res && i < d->n; i++) {
        dres *x = &d->res[i];
        json_decref(x->body);
        json_decref(x->unknown);
        json_decref(x->cur);
        json_decref(x->want);
        json_decref(x->have);
        json_decref(x->delta);
        json_decref(x->after);
    }
    free(d->res);
    tpl_free(d->t);
    json_decref(d->notes);
    json_decref(d->keep);
}

/* Reads, binds and validates the template of a verb's arguments. */
static int deploy_open(cli_ctx *c, const cli_args *a, deploy *d, char *dname, size_t dn, cli_err *e)
{
    char *text = NULL;
    size_t len;
    json_t *typed = json_object(), *ptext = json_object(), *grp = NULL, *sub = NULL;
    const char *subid;
    char sp[128];
    int rc = -1;
    memset(d, 0, sizeof(*d));
    d->c = c;
    d->notes = json_array();
    if (cli_args_get(a, "mode") && strcasecmp(cli_args_get(a, "mode"), "Incremental") != 0) {
        cli_usage(e, "argument --mode: only Incremental (coffer never deletes what a template "
                     "leaves out)");
        goto out;
    }
    if (deployment_name(a, dname, dn, e) || read_params(a, typed, ptext, e) ||
        cli_resource_group(c, a, 1, &d->group, e) ||
        read_file("--template-file/-f", cli_args_get(a, "template-file"), &text, &len, e) ||
        tpl_parse(&d->t, text, len, e) || cli_subscription(c, &subid, e) ||
        cli_group_get(c, d->group, &grp, e))
        goto out;
    snprintf(sp, sizeof(sp), "/subscriptions/%s", subid);
    if (cli_mgmt(c, "GET", sp, NULL, &sub, e))
        goto out;
    tpl_site site = {subid,
                     json_string_value(json_object_get(sub, "displayName")),
                     json_string_value(json_object_get(sub, "tenantId")),
                     d->group,
                     json_string_value(json_object_get(grp, "location")),
                     ref_cb,
                     d};
    if (tpl_bind(d->t, typed, ptext, &site, e))
        goto out;
    d->n = tpl_resource_count(d->t);
    d->res = calloc(d->n ? d->n : 1, sizeof(*d->res));
    if (d->res == NULL) {
        cli_fail(e, "OutOfMemory", "out of memory");
        goto out;
    }
    int apiv = 0;
    for (size_t i = 0; i < d->n; i++) {
        dres *x = &d->res[i];
        x->idx = i;
        x->r = tpl_resource_at(d->t, i);
        if ((x->k = deploy_kind_find(x->r->type)) == NULL) {
            cli_fail(e, "InvalidTemplate",
                     "%s.type: '%.200s' is not a resource type coffer deploys (docs/templates.md)",
                     x->r->path, x->r->type);
            goto out;
        }
        apiv |= x->r->api_version != NULL;
    }
    if (apiv)
        deploy_note(d, "apiVersion: accepted and not interpreted (coffer's APIs have one version)");
    /* validation: every body evaluated and checked before anything else */
    d->planning = 1;
    for (size_t i = 0; i < d->n; i++)
        if (plan_one(d, &d->res[tpl_order(d->t)[i]], e))
            goto out;
    d->planning = 0;
    rc = 0;
out:
    d->keep = json_pack("{s:o?,s:o?}", "group", grp, "subscription", sub); /* the site's strings */
    json_decref(typed);
    json_decref(ptext);
    free(text);
    return rc;
}

/* The deployment's id, as ARM writes it. */
static json_t *deployment_id(const deploy *d, const char *name)
{
    char id[600];
    const char *sub = json_string_value(
        json_object_get(json_object_get(d->keep, "subscription"), "subscriptionId"));
    snprintf(id, sizeof(id),
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Resources/deployments/%s",
             sub ? sub : "", d->group, name);
    return json_string(id);
}

static json_t *change_json(const dres *x, int whatif)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "resourceId", x->r->id, "templatePath", x->r->path,
                          "changeType", x->change);
    if (whatif) {
        json_object_set(o, "before", x->have ? x->have : json_null());
        json_object_set(o, "after", x->want ? x->want : json_null());
    }
    if (strcmp(x->change, "Modify") == 0)
        json_object_set(o, "delta", x->delta);
    return o;
}

static int run(cli_ctx *c, const cli_args *a, int mode, json_t **res, cli_err *e)
{
    deploy d;
    char name[80];
    int rc = -1;
    json_t *outputs = NULL;
    if (deploy_open(c, a, &d, name, sizeof(name), e))
        goto out;
    d.mode = mode;
    const size_t *order = tpl_order(d.t);
    if (mode != DEPLOY_VALIDATE) {
        for (size_t i = 0; i < d.n; i++) {
            dres *x = &d.res[order[i]];
            if (plan_one(&d, x, e) || (mode == DEPLOY_CREATE && apply_one(&d, x, e)))
                goto out;
        }
    }
    json_t *changes = json_array(), *ids = json_array();
    int counts[3] = {0};
    for (size_t i = 0; i < d.n; i++) {
        dres *x = &d.res[i];
        json_array_append_new(ids, json_pack("{s:s}", "id", x->r->id));
        if (x->change == NULL)
            continue;
        counts[x->change[0] == 'C' ? 0 : x->change[0] == 'M' ? 1 : 2]++;
        json_array_append_new(changes, change_json(x, mode == DEPLOY_WHATIF));
    }
    json_t *summary =
        json_pack("{s:i,s:i,s:i}", "create", counts[0], "modify", counts[1], "noChange", counts[2]);
    if (mode == DEPLOY_WHATIF) {
        *res = json_pack("{s:s,s:o,s:o,s:O,s:n}", "status", "Succeeded", "changes", changes,
                         "changeSummary", summary, "notes", d.notes, "error");
        json_decref(ids);
        rc = 0;
        goto out;
    }
    json_t *props = json_pack("{s:s,s:s,s:o,s:O}", "provisioningState", "Succeeded", "mode",
                              "Incremental", "parameters", tpl_parameters(d.t), "notes", d.notes);
    if (mode == DEPLOY_VALIDATE) {
        json_object_set_new(props, "validatedResources", ids);
        json_decref(changes);
        json_decref(summary);
    } else {
        if (tpl_outputs(d.t, &outputs, e)) {
            json_decref(props);
            json_decref(ids);
            json_decref(changes);
            json_decref(summary);
            goto out;
        }
        json_object_set(props, "outputs", outputs);
        json_object_set_new(props, "outputResources", ids);
        json_object_set_new(props, "changes", changes);
        json_object_set_new(props, "changeSummary", summary);
    }
    *res =
        json_pack("{s:o,s:s,s:s,s:s,s:o}", "id", deployment_id(&d, name), "name", name, "type",
                  "Microsoft.Resources/deployments", "resourceGroup", d.group, "properties", props);
    rc = 0;
out:
    json_decref(outputs);
    deploy_free(&d);
    return rc;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return run(c, a, DEPLOY_CREATE, res, e);
}

static int run_what_if(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return run(c, a, DEPLOY_WHATIF, res, e);
}

static int run_validate(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return run(c, a, DEPLOY_VALIDATE, res, e);
}

static const cli_opt deploy_opts[] = {
    CLI_OPT_GROUP,
    {"template-file", "f", CLI_OPT_VALUE, 1, "FILE"},
    {"parameters", "p", CLI_OPT_MULTI, 0, "NAME=VALUE|@FILE"},
    {"name", "n", CLI_OPT_VALUE, 0, "NAME"},
    {"mode", NULL, CLI_OPT_VALUE, 0, "Incremental"},
    {0},
};

/* -o table of what-if and create: one row per resource */
static const cli_column create_table[] = {
    {"Name", "name"},
    {"ResourceGroup", "resourceGroup"},
    {"State", "properties.provisioningState"},
    {0},
};

const cli_verb cli_deployment_group_verbs[] = {
    {"create",
     "Deploy an ARM template to a resource group: create what is missing, change what differs, "
     "leave the rest (a rerun changes nothing).",
     deploy_opts, run_create,
     "coffer deployment group create -g myresourcegroup --template-file cmk-registry.json "
     "--parameters registry_name=myregistry identity_name=myidentity vault_name=myvault",
     create_table},
    {"what-if",
     "Show what a deployment would create, change or leave alone, without changing anything.",
     deploy_opts, run_what_if,
     "coffer deployment group what-if -g myresourcegroup -f cmk-registry.json -p @params.json "
     "--query changes[].changeType",
     NULL},
    {"validate", "Check a template and its parameters without reading or changing a resource.",
     deploy_opts, run_validate,
     "coffer deployment group validate -g myresourcegroup -f cmk-registry.json -p @params.json",
     create_table},
    {0},
};
