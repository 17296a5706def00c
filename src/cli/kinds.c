/*
 * kinds.c -- the resource types a deployment template may hold, each as
 * one deploy_kind (deploy.h): how it is checked, read, compared and
 * applied, through the same client calls its verbs make.
 *
 *   Microsoft.ManagedIdentity/userAssignedIdentities  cofferd   PUT (nothing to change later)
 *   Microsoft.KeyVault/vaults                          keyvaultd PUT; PATCH of changed properties
 *                                                                (networkAcls included)
 *   Microsoft.KeyVault/vaults/accessPolicies           keyvaultd PUT
 * .../accessPolicies/{add|replace|remove} Microsoft.KeyVault/vaults/keys                     keys
 * API  POST /keys/NAME/create; PATCH of ops, enabled Microsoft.ContainerRegistry/registries cofferd
 * PUT; PATCH of what changed
 *
 * ARM property names are case-insensitive: every read of the template's
 * body goes through tpl_json_get, and the request bodies are built here in
 * the APIs' own spelling (the tutorial writes "KeyIdentifier").
 *
 * What a kind does not act on is either accepted and noted (Azure-only
 * settings at their neutral value: locations, tags, network rules that
 * allow everything, disabled policies) or refused with its template path
 * (anything that would promise what coffer does not do). The APIs keep
 * their own rules (CMK only at creation, never below Premium, purge
 * protection never off again): a change they refuse fails with their
 * code and message.
 *
 * A vault's own accessPolicies are sent whole when the vault is created;
 * on an existing vault they are added, never used to remove an entry (the
 * ARM behaviour that wipes every policy a redeploy does not list is the
 * classic way to lock a registry out of its key); a vaults/accessPolicies
 * resource named VAULT/replace or VAULT/remove says so explicitly.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/deploy.h"
#include "cli/expr.h"

#define G(o, k) tpl_json_get((o), (k))

/* ---- helpers ---- */

static int keys_allowed(dres *x, cli_err *e, const json_t *obj, const char *rel,
                        const char *const *allowed, const char *what)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *const *a;
        for (a = allowed; *a && strcasecmp(*a, k) != 0; a++)
            ;
        if (*a == NULL)
            return deploy_bad(x, e, "InvalidTemplate", rel, "'%.64s' is not a property of %s", k,
                              what);
    }
    return 0;
}

static char *join(char *buf, size_t n, const char *a, const char *b)
{
    if (snprintf(buf, n, "%s%s%s", a, a[0] ? "." : "", b) < 0)
        buf[0] = '\0';
    return buf;
}

/* A member's expected JSON type (JSON_TRUE: a boolean). */
typedef struct member_type {
    const char *name;
    json_type type;
} member_type;

/* Each member of obj listed in m must be of its type unless absent or
 * unknown. */
static int typed(dres *x, cli_err *e, const json_t *obj, const char *rel, const member_type *m)
{
    for (; m->name; m++) {
        char p[TPL_PATH_MAX];
        json_t *v = G(obj, m->name);
        join(p, sizeof(p), rel, m->name);
        if (v == NULL || deploy_unknown(x, p) || json_typeof(v) == m->type ||
            (m->type == JSON_TRUE && json_is_boolean(v)))
            continue;
        return deploy_bad(x, e, "InvalidTemplate", p, "must be %s",
                          m->type == JSON_STRING    ? "a string"
                          : m->type == JSON_INTEGER ? "an integer"
                          : m->type == JSON_TRUE    ? "true or false"
                          : m->type == JSON_ARRAY   ? "an array"
                                                    : "an object");
    }
    return 0;
}

static json_t *lower_string(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d == NULL)
        return NULL;
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    json_t *j = json_string(d);
    free(d);
    return j;
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The strings of arr (or the keys of obj), lowercased, sorted, unique. */
static json_t *string_set(const json_t *arr, const json_t *obj)
{
    json_t *items[256], *out = json_array();
    size_t n = 0, i;
    json_t *v;
    const char *k;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && n < 256)
            items[n++] = lower_string(json_string_value(v));
    }
    json_object_foreach((json_t *)obj, k, v)
    {
        if (n < 256)
            items[n++] = lower_string(k);
    }
    qsort(items, n, sizeof(items[0]), cmp_json_str);
    for (i = 0; i < n; i++) {
        json_t *last = json_array_get(out, json_array_size(out) - 1);
        if (last && strcmp(json_string_value(items[i]), json_string_value(last)) == 0)
            json_decref(items[i]);
        else
            json_array_append_new(out, items[i]);
    }
    return out;
}

static int api(deploy *d, cli_call_fn call, const char *method, const char *path,
               const json_t *body, json_t **out, cli_err *e)
{
    json_t *r = NULL;
    int rc = call(d->c, method, path, body, out ? out : &r, e);
    json_decref(r);
    return rc;
}

/* The resource's top-level members checked against top, and its
 * properties (*p, NULL when absent) against props: an object of only
 * those members. */
static int body_checked(dres *x, cli_err *e, const char *const *top, const char *what,
                        const char *const *props, const char *props_what, json_t **p)
{
    *p = G(x->body, "properties");
    if (keys_allowed(x, e, x->body, "", top, what))
        return -1;
    if (*p == NULL)
        return 0;
    if (!json_is_object(*p))
        return deploy_bad(x, e, "InvalidTemplate", "properties", "must be an object");
    return keys_allowed(x, e, *p, "properties", props, props_what);
}

/* Notes tags and location, accepted on every kind. */
static void common_notes(deploy *d, dres *x)
{
    if (G(x->body, "tags") && json_object_size(G(x->body, "tags")))
        deploy_note(d, "tags: accepted and ignored (coffer keeps no tags)");
    if (G(x->body, "location"))
        deploy_note(d, "location: used when a resource is created; coffer never moves one");
}

/* ---- user-assigned identities (cofferd) ---- */

static int ident_check(deploy *d, dres *x, cli_err *e)
{
    static const char *const top[] = {"location", "tags", NULL};
    json_t *props = G(x->body, "properties");
    if (props && json_object_size(props))
        return deploy_bad(x, e, "InvalidTemplate", "properties",
                          "a user-assigned identity has no properties to set");
    common_notes(d, x);
    return keys_allowed(x, e, x->body, "", top, "a user-assigned identity");
}

static int mgmt_get(deploy *d, const char *id, const char *name, json_t **cur, cli_err *e)
{
    (void)name;
    return deploy_get_opt(d, cli_mgmt, id, cur, e);
}

static json_t *empty_shape(deploy *d, dres *x)
{
    (void)d;
    (void)x;
    return json_object();
}

static int ident_apply(deploy *d, dres *x, json_t **after, cli_err *e)
{
    json_t *body = json_object();
    json_t *loc = G(x->body, "location");
    if (json_is_string(loc))
        json_object_set(body, "location", loc);
    int rc = api(d, cli_mgmt, "PUT", x->r->id, body, after, e);
    json_decref(body);
    return rc;
}

static json_t *flat_ref(const json_t *s)
{
    return cli_arm_flatten(s);
}

/* ---- access policy entries ---- */

static const char *const perm_kinds[] = {"keys", "secrets", "certificates", "storage", NULL};

static int policies_check(dres *x, cli_err *e, const json_t *list, const char *rel)
{
    char p[TPL_PATH_MAX], q[TPL_PATH_MAX];
    size_t i;
    json_t *it;
    if (deploy_unknown(x, rel))
        return 0;
    if (!json_is_array(list))
        return deploy_bad(x, e, "InvalidTemplate", rel, "must be an array");
    json_array_foreach(list, i, it)
    {
        static const char *const allowed[] = {"tenantId", "objectId", "applicationId",
                                              "permissions", NULL};
        snprintf(p, sizeof(p), "%s[%zu]", rel, i);
        if (!json_is_object(it))
            return deploy_bad(x, e, "InvalidTemplate", p, "must be an object");
        if (keys_allowed(x, e, it, p, allowed, "an access policy") ||
            typed(x, e, it, p,
                  (const member_type[]){{"tenantId", JSON_STRING},
                                        {"applicationId", JSON_STRING},
                                        {NULL, JSON_NULL}}))
            return -1;
        if (!json_is_string(G(it, "objectId")))
            return deploy_bad(x, e, "InvalidTemplate", join(q, sizeof(q), p, "objectId"),
                              "is required (a string)");
        json_t *perms = G(it, "permissions");
        join(q, sizeof(q), p, "permissions");
        if (!json_is_object(perms))
            return deploy_bad(x, e, "InvalidTemplate", q, "is required (an object)");
        if (keys_allowed(x, e, perms, q, perm_kinds, "permissions"))
            return -1;
        for (const char *const *k = perm_kinds; *k; k++) {
            json_t *l = G(perms, *k);
            size_t j;
            json_t *s;
            char r[TPL_PATH_MAX];
            join(r, sizeof(r), q, *k);
            if (l && !json_is_array(l))
                return deploy_bad(x, e, "InvalidTemplate", r, "must be an array of strings");
            json_array_foreach(l, j, s)
            {
                if (!json_is_string(s))
                    return deploy_bad(x, e, "InvalidTemplate", r, "must be an array of strings");
            }
        }
    }
    return 0;
}

static const char *entry_who(const json_t *it, char *buf, size_t n)
{
    const char *o = json_string_value(G(it, "objectId"));
    const char *a = json_string_value(G(it, "applicationId"));
    snprintf(buf, n, "%s|%s", o ? o : "", a ? a : "");
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return buf;
}

/* {who: {kind: set}} of a list of entries, merged into acc. */
static void policies_into(json_t *acc, const json_t *list)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        char who[200];
        entry_who(it, who, sizeof(who));
        json_t *e = json_object_get(acc, who);
        if (e == NULL)
            json_object_set_new(acc, who, e = json_object());
        for (const char *const *k = perm_kinds; *k; k++) {
            json_t *l = G(G(it, "permissions"), *k), *have = json_object_get(e, *k);
            if (json_array_size(l) == 0)
                continue;
            json_t *u = json_array();
            json_array_extend(u, have);
            json_array_extend(u, l);
            json_object_set_new(e, *k, string_set(u, NULL));
            json_decref(u);
        }
    }
}

/* The comparable list: [{who, keys: [...], ...}] sorted by who. */
static json_t *policies_shape(const json_t *acc)
{
    json_t *out = json_array();
    json_t *names = string_set(NULL, acc);
    size_t i;
    json_t *w;
    json_array_foreach(names, i, w)
    {
        const char *k;
        json_t *v, *orig = NULL;
        json_object_foreach((json_t *)acc, k, v)
        {
            if (strcasecmp(k, json_string_value(w)) == 0)
                orig = v;
        }
        if (json_object_size(orig) == 0)
            continue;
        json_t *entry = json_deep_copy(orig);
        char who[200];
        snprintf(who, sizeof(who), "%s", json_string_value(w));
        char *bar = strchr(who, '|');
        if (bar)
            *bar = '\0';
        json_object_set_new(entry, "objectId", json_string(who));
        if (bar && bar[1])
            json_object_set_new(entry, "applicationId", json_string(bar + 1));
        json_array_append_new(out, entry);
    }
    json_decref(names);
    return out;
}

/* cur's policies, + given (add), = given (replace), - given (remove). */
static json_t *policies_combine(const json_t *cur, const json_t *given, const char *op)
{
    json_t *acc = json_object();
    if (strcasecmp(op, "replace") != 0)
        policies_into(acc, cur);
    if (strcasecmp(op, "remove") == 0) {
        size_t i;
        json_t *it;
        json_array_foreach(given, i, it)
        {
            char who[200];
            json_object_del(acc, entry_who(it, who, sizeof(who)));
        }
    } else {
        policies_into(acc, given);
    }
    json_t *out = policies_shape(acc);
    json_decref(acc);
    return out;
}

/* ---- key vaults (keyvaultd) ---- */

static const char *const vault_scalars[] = {"tenantId", "enablePurgeProtection",
                                            "softDeleteRetentionInDays", "enableRbacAuthorization",
                                            NULL};

static int vault_check(deploy *d, dres *x, cli_err *e)
{
    static const char *const top[] = {"location", "tags", "properties", NULL};
    static const char *const props_ok[] = {"tenantId",
                                           "sku",
                                           "enableSoftDelete",
                                           "softDeleteRetentionInDays",
                                           "enablePurgeProtection",
                                           "enableRbacAuthorization",
                                           "accessPolicies",
                                           "enabledForDeployment",
                                           "enabledForDiskEncryption",
                                           "enabledForTemplateDeployment",
                                           "publicNetworkAccess",
                                           "createMode",
                                           "networkAcls",
                                           NULL};
    json_t *p;
    common_notes(d, x);
    if (body_checked(x, e, top, "a key vault", props_ok, "coffer's key vaults (docs/templates.md)",
                     &p))
        return -1;
    if (p == NULL)
        return 0;
    static const member_type types[] = {{"tenantId", JSON_STRING},
                                        {"softDeleteRetentionInDays", JSON_INTEGER},
                                        {"enablePurgeProtection", JSON_TRUE},
                                        {"enableRbacAuthorization", JSON_TRUE},
                                        {"enableSoftDelete", JSON_TRUE},
                                        {"networkAcls", JSON_OBJECT},
                                        {NULL, JSON_NULL}};
    if (typed(x, e, p, "properties", types))
        return -1;
    if (json_is_false(G(p, "enableSoftDelete")))
        return deploy_bad(x, e, "BadParameter", "properties.enableSoftDelete",
                          "soft delete is always on in coffer's vaults");
    json_t *cm = G(p, "createMode");
    if (cm && !(json_is_string(cm) && strcasecmp(json_string_value(cm), "default") == 0))
        return deploy_bad(x, e, "InvalidTemplate", "properties.createMode",
                          "only 'default' (recover a vault with coffer's vault API)");
    if (G(p, "sku"))
        deploy_note(d, "Microsoft.KeyVault/vaults properties.sku: accepted and ignored (one kind "
                       "of vault; RSA-HSM keys need no premium SKU)");
    for (const char *const *k =
             (const char *const[]){"enabledForDeployment", "enabledForDiskEncryption",
                                   "enabledForTemplateDeployment", "publicNetworkAccess", NULL};
         *k; k++)
        if (G(p, *k))
            deploy_note(d,
                        "Microsoft.KeyVault/vaults properties.%s: accepted and ignored "
                        "(Azure only)",
                        *k);
    return policies_check(x, e, G(p, "accessPolicies"), "properties.accessPolicies");
}

static int vault_get(deploy *d, const char *id, const char *name, json_t **cur, cli_err *e)
{
    (void)name;
    return deploy_get_opt(d, cli_vault_mgmt, id, cur, e);
}

/* A word in its canonical case among choices, else as given. */
static json_t *word(const json_t *v, const char *const *choices)
{
    for (const char *const *c = choices; json_is_string(v) && *c; c++)
        if (strcasecmp(json_string_value(v), *c) == 0)
            return json_string(*c);
    return v ? json_incref((json_t *)v) : json_null();
}

/* networkAcls as compared: the members the template gives; ipRules as a
 * set of CIDR ranges (an address is its /32, as keyvaultd stores it). */
static json_t *netacl_shape(const json_t *given, const json_t *from)
{
    static const char *const actions[] = {"Allow", "Deny", NULL};
    static const char *const bypass[] = {"AzureServices", "None", NULL};
    json_t *o = json_object();
    if (G(given, "defaultAction"))
        json_object_set_new(o, "defaultAction", word(G(from, "defaultAction"), actions));
    if (G(given, "bypass"))
        json_object_set_new(o, "bypass", word(G(from, "bypass"), bypass));
    if (G(given, "ipRules")) {
        json_t *vals = json_array();
        size_t i;
        json_t *it;
        json_array_foreach(G(from, "ipRules"), i, it)
        {
            const char *v = json_string_value(G(it, "value"));
            char cidr[80];
            if (v == NULL)
                continue;
            snprintf(cidr, sizeof(cidr), "%s%s", v, strchr(v, '/') ? "" : "/32");
            json_array_append_new(vals, json_string(cidr));
        }
        json_object_set_new(o, "ipRules", string_set(vals, NULL));
        json_decref(vals);
    }
    return o;
}

static json_t *vault_shape(dres *x, const json_t *props, int want)
{
    json_t *tp = G(x->body, "properties"), *o = json_object(), *p = json_object();
    for (const char *const *k = vault_scalars; *k; k++) {
        json_t *v = G(tp, *k);
        if (v == NULL)
            continue; /* only what the template says */
        json_t *s = G(want ? tp : props, *k);
        if (strcmp(*k, "tenantId") == 0 && json_is_string(s))
            json_object_set_new(p, *k, lower_string(json_string_value(s)));
        else
            json_object_set(p, *k, s ? s : json_null());
    }
    json_t *acl = G(tp, "networkAcls");
    if (json_is_object(acl))
        json_object_set_new(p, "networkAcls",
                            netacl_shape(acl, want ? acl : G(props, "networkAcls")));
    json_t *given = G(tp, "accessPolicies");
    if (json_array_size(given) > 0) {
        json_t *cur = G(G(x->cur, "properties"), "accessPolicies");
        json_object_set_new(p, "accessPolicies",
                            want ? policies_combine(cur, given, "add")
                                 : policies_combine(cur, NULL, "add"));
    }
    json_object_set_new(o, "properties", p);
    return o;
}

static json_t *vault_want(deploy *d, dres *x)
{
    (void)d;
    return vault_shape(x, NULL, 1);
}

static json_t *vault_have(deploy *d, dres *x)
{
    (void)d;
    return vault_shape(x, G(x->cur, "properties"), 0);
}

/* Whether the delta has a change at path (or below it). */
static int changed(const dres *x, const char *path)
{
    size_t i, l = strlen(path);
    json_t *it;
    json_array_foreach(x->delta, i, it)
    {
        const char *p = json_string_value(json_object_get(it, "path"));
        if (p && strncmp(p, path, l) == 0 && (p[l] == '\0' || p[l] == '.' || p[l] == '['))
            return 1;
    }
    return 0;
}

static int vault_apply(deploy *d, dres *x, json_t **after, cli_err *e)
{
    json_t *tp = G(x->body, "properties"), *props = json_object(), *body = NULL;
    char pp[TPL_ID_MAX + 32];
    int rc = -1;
    for (const char *const *k = vault_scalars; *k; k++) {
        json_t *v = G(tp, *k);
        if (v && (x->cur == NULL || changed(x, join(pp, sizeof(pp), "properties", *k))))
            json_object_set(props, *k, v);
    }
    json_t *acl = G(tp, "networkAcls");
    if (acl && (x->cur == NULL || changed(x, "properties.networkAcls")))
        json_object_set(props, "networkAcls", acl);
    json_t *given = G(tp, "accessPolicies");
    if (x->cur == NULL) {
        if (given)
            json_object_set(props, "accessPolicies", given);
        body = json_pack("{s:O}", "properties", props);
        json_t *loc = G(x->body, "location");
        if (json_is_string(loc))
            json_object_set(body, "location", loc);
        rc = api(d, cli_vault_mgmt, "PUT", x->r->id, body, after, e);
        goto out;
    }
    if (json_object_size(props)) {
        body = json_pack("{s:O}", "properties", props);
        if (api(d, cli_vault_mgmt, "PATCH", x->r->id, body, NULL, e))
            goto out;
    }
    if (changed(x, "properties.accessPolicies")) {
        json_decref(body);
        body = json_pack("{s:{s:O}}", "properties", "accessPolicies", given);
        snprintf(pp, sizeof(pp), "%s/accessPolicies/add", x->r->id);
        if (api(d, cli_vault_mgmt, "PUT", pp, body, NULL, e))
            goto out;
    }
    rc = vault_get(d, x->r->id, NULL, after, e);
out:
    json_decref(props);
    json_decref(body);
    return rc;
}

/* ---- access policies (keyvaultd) ---- */

static const char *policy_op(const dres *x)
{
    const char *slash = strrchr(x->r->name, '/');
    return slash ? slash + 1 : "";
}

/* The vault's id: the policy's id without "/accessPolicies/OP". */
static void parent_id(const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s", id);
    for (int k = 0; k < 2; k++) {
        char *s = strrchr(out, '/');
        if (s)
            *s = '\0';
    }
}

static int policy_check(deploy *d, dres *x, cli_err *e)
{
    static const char *const top[] = {"properties", "location", "tags", NULL};
    const char *op = policy_op(x);
    (void)d;
    if (strcasecmp(op, "add") && strcasecmp(op, "replace") && strcasecmp(op, "remove"))
        return deploy_bad(x, e, "InvalidTemplate", "name",
                          "an access policy resource is named VAULT/add, VAULT/replace or "
                          "VAULT/remove (not '%.64s')",
                          op);
    json_t *p = G(x->body, "properties");
    if (keys_allowed(x, e, x->body, "", top, "vaults/accessPolicies"))
        return -1;
    if (!json_is_object(p))
        return deploy_bad(x, e, "InvalidTemplate", "properties",
                          "is required: {\"accessPolicies\": [...]}");
    static const char *const props_ok[] = {"accessPolicies", NULL};
    if (keys_allowed(x, e, p, "properties", props_ok, "vaults/accessPolicies"))
        return -1;
    return policies_check(x, e, G(p, "accessPolicies"), "properties.accessPolicies");
}

static int policy_get(deploy *d, const char *id, const char *name, json_t **cur, cli_err *e)
{
    char vid[TPL_ID_MAX];
    (void)name;
    parent_id(id, vid, sizeof(vid));
    return deploy_get_opt(d, cli_vault_mgmt, vid, cur, e);
}

static json_t *policy_want(deploy *d, dres *x)
{
    (void)d;
    json_t *given = G(G(x->body, "properties"), "accessPolicies");
    json_t *cur = G(G(x->cur, "properties"), "accessPolicies");
    return json_pack("{s:{s:o}}", "properties", "accessPolicies",
                     policies_combine(cur, given, policy_op(x)));
}

static json_t *policy_have(deploy *d, dres *x)
{
    (void)d;
    json_t *cur = G(G(x->cur, "properties"), "accessPolicies");
    return json_pack("{s:{s:o}}", "properties", "accessPolicies",
                     policies_combine(cur, NULL, "add"));
}

static int policy_apply(deploy *d, dres *x, json_t **after, cli_err *e)
{
    char op[16];
    snprintf(op, sizeof(op), "%s", policy_op(x));
    for (char *p = op; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    json_t *given = G(G(x->body, "properties"), "accessPolicies");
    json_t *body = json_pack("{s:{s:O}}", "properties", "accessPolicies", given);
    char path[TPL_ID_MAX + 32], vid[TPL_ID_MAX];
    parent_id(x->r->id, vid, sizeof(vid));
    snprintf(path, sizeof(path), "%s/accessPolicies/%s", vid, op);
    int rc = api(d, cli_vault_mgmt, "PUT", path, body, NULL, e);
    json_decref(body);
    return rc ? -1 : policy_get(d, x->r->id, NULL, after, e);
}

/* ---- keys (the vault's keys API) ---- */

/* "VAULT/KEY" split into vault and key. */
static int key_names(const char *name, char *vault, size_t vn, char *key, size_t kn)
{
    const char *slash = strchr(name, '/');
    if (slash == NULL || (size_t)(slash - name) >= vn)
        return -1;
    snprintf(vault, vn, "%.*s", (int)(slash - name), name);
    snprintf(key, kn, "%s", slash + 1);
    return 0;
}

static int key_check(deploy *d, dres *x, cli_err *e)
{
    static const char *const top[] = {"properties", "tags", "location", NULL};
    static const char *const props_ok[] = {"kty",       "keySize",    "keyOps",
                                           "curveName", "attributes", NULL};
    static const char *const attrs_ok[] = {"enabled", NULL};
    static const char *const ktys[] = {"RSA", "RSA-HSM", "EC", "EC-HSM", NULL};
    char vault[128], key[400];
    cli_err ve = {0};
    common_notes(d, x);
    if (key_names(x->r->name, vault, sizeof(vault), key, sizeof(key)) ||
        cli_config_vault_name_check(vault, &ve))
        return deploy_bad(x, e, "InvalidTemplate", "name", "'%.100s' is not VAULT/KEY", x->r->name);
    json_t *p;
    if (G(G(x->body, "properties"), "rotationPolicy"))
        return deploy_bad(x, e, "InvalidTemplate", "properties.rotationPolicy",
                          "is not supported in templates: set it with the keys API "
                          "(docs/keyvault.md)");
    if (body_checked(x, e, top, "a key", props_ok, "a key", &p))
        return -1;
    if (p == NULL)
        return 0;
    static const member_type types[] = {{"kty", JSON_STRING},        {"keySize", JSON_INTEGER},
                                        {"keyOps", JSON_ARRAY},      {"curveName", JSON_STRING},
                                        {"attributes", JSON_OBJECT}, {NULL, JSON_NULL}};
    if (typed(x, e, p, "properties", types))
        return -1;
    json_t *kty = G(p, "kty");
    if (json_is_string(kty) && !deploy_unknown(x, "properties.kty")) {
        const char *const *k;
        for (k = ktys; *k && strcasecmp(*k, json_string_value(kty)) != 0; k++)
            ;
        if (*k == NULL)
            return deploy_bad(x, e, "InvalidTemplate", "properties.kty",
                              "'%.32s' is not RSA, RSA-HSM, EC or EC-HSM", json_string_value(kty));
    }
    json_t *a = G(p, "attributes");
    if (a && (keys_allowed(x, e, a, "properties.attributes", attrs_ok, "a key's attributes") ||
              typed(x, e, a, "properties.attributes",
                    (const member_type[]){{"enabled", JSON_TRUE}, {NULL, JSON_NULL}})))
        return -1;
    return 0;
}

static int key_path(const char *name, char *vault, size_t vn, char *p, size_t pn,
                    const char *suffix, cli_err *e)
{
    char key[400];
    p[0] = '\0';
    if (key_names(name, vault, vn, key, sizeof(key)))
        return cli_fail(e, "InvalidTemplate", "'%.100s' is not VAULT/KEY", name);
    return cli_path_add(p, pn, "/keys/", key, e) ||
           (suffix && cli_path_add(p, pn, suffix, NULL, e));
}

static int key_get(deploy *d, const char *id, const char *name, json_t **cur, cli_err *e)
{
    char vault[128], p[512];
    (void)id;
    *cur = NULL;
    if (key_path(name, vault, sizeof(vault), p, sizeof(p), NULL, e))
        return -1;
    if (cli_vault_keys(d->c, vault, "GET", p, NULL, cur, e) == 0)
        return 0;
    if (d->c->last_status == 404) {
        memset(e, 0, sizeof(*e));
        *cur = NULL;
        return 0;
    }
    return -1;
}

/* The size in bits of an RSA key's modulus (base64url n), 0 if none. */
static json_int_t modulus_bits(const json_t *n)
{
    size_t l = json_string_length(n);
    if (!json_is_string(n) || l == 0)
        return 0;
    return (json_int_t)(l * 6 / 8) * 8;
}

static json_t *key_shape(dres *x, int want)
{
    json_t *tp = G(x->body, "properties"), *p = json_object();
    json_t *k = G(x->cur, "key");
    if (want) {
        json_t *kty = G(tp, "kty");
        char up[32];
        snprintf(up, sizeof(up), "%s", json_is_string(kty) ? json_string_value(kty) : "RSA");
        for (char *s = up; *s; s++)
            *s = (char)toupper((unsigned char)*s);
        json_object_set_new(p, "kty", json_string(up));
    } else {
        json_object_set(p, "kty", G(k, "kty") ? G(k, "kty") : json_null());
    }
    if (G(tp, "keySize"))
        json_object_set_new(p, "keySize",
                            want ? json_incref(G(tp, "keySize"))
                                 : json_integer(modulus_bits(G(k, "n"))));
    if (G(tp, "curveName"))
        json_object_set(p, "curveName",
                        want ? G(tp, "curveName") : (G(k, "crv") ? G(k, "crv") : json_null()));
    if (G(tp, "keyOps"))
        json_object_set_new(p, "keyOps",
                            string_set(want ? G(tp, "keyOps") : G(k, "key_ops"), NULL));
    json_t *en = G(G(tp, "attributes"), "enabled");
    if (en)
        json_object_set_new(
            p, "attributes",
            json_pack("{s:O}", "enabled",
                      want ? en
                           : json_boolean(json_is_true(G(G(x->cur, "attributes"), "enabled")))));
    return json_pack("{s:o}", "properties", p);
}

static json_t *key_want(deploy *d, dres *x)
{
    (void)d;
    return key_shape(x, 1);
}

static json_t *key_have(deploy *d, dres *x)
{
    (void)d;
    return key_shape(x, 0);
}

static int key_apply(deploy *d, dres *x, json_t **after, cli_err *e)
{
    json_t *tp = G(x->body, "properties"), *body = json_object();
    char vault[128], p[512];
    int rc = -1;
    static const char *const fixed[] = {"properties.kty", "properties.keySize",
                                        "properties.curveName", NULL};
    for (const char *const *f = fixed; x->cur && *f; f++) {
        if (changed(x, *f)) {
            deploy_bad(x, e, "Conflict", *f,
                       "the key '%s' exists with another %s: a key's type, size and curve never "
                       "change (ARM does not update an existing key); give another key name, or "
                       "add a version with coffer keyvault key create",
                       x->r->name, strrchr(*f, '.') + 1);
            goto out;
        }
    }
    json_t *ops = G(tp, "keyOps"), *en = G(G(tp, "attributes"), "enabled");
    if (ops)
        json_object_set(body, "key_ops", ops);
    if (en)
        json_object_set_new(body, "attributes", json_pack("{s:O}", "enabled", en));
    if (x->cur == NULL) {
        json_t *kty = G(tp, "kty");
        json_object_set_new(body, "kty",
                            json_string(json_is_string(kty) ? json_string_value(kty) : "RSA"));
        if (G(tp, "keySize"))
            json_object_set(body, "key_size", G(tp, "keySize"));
        if (G(tp, "curveName"))
            json_object_set(body, "crv", G(tp, "curveName"));
        if (key_path(x->r->name, vault, sizeof(vault), p, sizeof(p), "/create", e))
            goto out;
        rc = cli_vault_keys(d->c, vault, "POST", p, body, after, e);
        goto out;
    }
    if (key_path(x->r->name, vault, sizeof(vault), p, sizeof(p), NULL, e))
        goto out;
    rc = cli_vault_keys(d->c, vault, "PATCH", p, body, after, e);
out:
    json_decref(body);
    return rc;
}

/* What ARM's reference() gives of a key: its properties. */
static json_t *key_ref(const json_t *s)
{
    const char *kid = json_string_value(G(G(s, "key"), "kid"));
    char uri[1024] = "";
    if (kid) {
        snprintf(uri, sizeof(uri), "%s", kid);
        char *v = strstr(uri, "/keys/");
        v = v ? strchr(v + 6, '/') : NULL;
        if (v)
            *v = '\0';
    }
    json_t *k = G(s, "key");
    json_t *o =
        json_pack("{s:s,s:s?,s:O?,s:O?,s:O?}", "keyUri", uri, "keyUriWithVersion", kid, "kty",
                  G(k, "kty"), "keyOps", G(k, "key_ops"), "attributes", G(s, "attributes"));
    if (o && G(k, "n"))
        json_object_set_new(o, "keySize", json_integer(modulus_bits(G(k, "n"))));
    if (o && G(k, "crv"))
        json_object_set(o, "curveName", G(k, "crv"));
    return o;
}

/* ---- registries (cofferd) ---- */

static const char *sku_canonical(const char *s)
{
    static const char *const skus[] = {"Basic", "Standard", "Premium", NULL};
    for (const char *const *k = skus; s && *k; k++)
        if (strcasecmp(*k, s) == 0)
            return *k;
    return NULL;
}

/* identity.type's canonical spelling; NULL when not one ARM knows. */
static const char *ident_type_canonical(const char *t)
{
    int sys = 0, user = 0, none = 0;
    char w[64];
    if (t == NULL)
        return "None";
    for (const char *p = t; *p;) {
        size_t n = strcspn(p, ",");
        size_t a = 0, b = n;
        while (a < b && isspace((unsigned char)p[a]))
            a++;
        while (b > a && isspace((unsigned char)p[b - 1]))
            b--;
        if (b - a >= sizeof(w))
            return NULL;
        snprintf(w, sizeof(w), "%.*s", (int)(b - a), p + a);
        if (strcasecmp(w, "SystemAssigned") == 0)
            sys = 1;
        else if (strcasecmp(w, "UserAssigned") == 0)
            user = 1;
        else if (strcasecmp(w, "None") == 0)
            none = 1;
        else
            return NULL;
        p += n + (p[n] == ',');
    }
    if (none && (sys || user))
        return NULL;
    return sys && user ? "SystemAssigned, UserAssigned"
           : sys       ? "SystemAssigned"
           : user      ? "UserAssigned"
                       : "None";
}

/* https://host[:port]/keys/NAME[/VERSION] */
static int key_uri_ok(const char *s)
{
    if (strncasecmp(s, "https://", 8) != 0)
        return 0;
    const char *k = strstr(s + 8, "/keys/");
    if (k == NULL || k == s + 8)
        return 0;
    const char *name = k + 6, *slash = strchr(name, '/');
    if (*name == '\0' || name == slash)
        return 0;
    return slash == NULL || (slash[1] != '\0' && strchr(slash + 1, '/') == NULL);
}

static int reg_policies_check(deploy *d, dres *x, const json_t *pol, cli_err *e)
{
    const char *k;
    json_t *v;
    if (!json_is_object(pol))
        return deploy_bad(x, e, "InvalidTemplate", "properties.policies", "must be an object");
    json_object_foreach((json_t *)pol, k, v)
    {
        char p[TPL_PATH_MAX];
        snprintf(p, sizeof(p), "properties.policies.%.64s", k);
        const char *st = json_string_value(G(v, "status"));
        int export = strcasecmp(k, "exportPolicy") == 0;
        if (strcasecmp(k, "quarantinePolicy") && strcasecmp(k, "trustPolicy") &&
            strcasecmp(k, "retentionPolicy") && !export)
            return deploy_bad(x, e, "InvalidTemplate", p, "is not a policy coffer knows");
        if (st == NULL || strcasecmp(st, export ? "enabled" : "disabled") != 0)
            return deploy_bad(
                x, e, "InvalidTemplate", p, "coffer has %s: only status '%s' is accepted",
                export ? "export always on" : "no such policy", export ? "enabled" : "disabled");
    }
    deploy_note(d, "Microsoft.ContainerRegistry/registries properties.policies: accepted (coffer "
                   "has no quarantine, content trust or retention policy: each is disabled)");
    return 0;
}

static int reg_check(deploy *d, dres *x, cli_err *e)
{
    static const char *const top[] = {"location", "tags", "sku", "identity", "properties", NULL};
    static const char *const props_ok[] = {"adminUserEnabled",
                                           "anonymousPullEnabled",
                                           "encryption",
                                           "networkRuleSet",
                                           "policies",
                                           "publicNetworkAccess",
                                           "zoneRedundancy",
                                           "dataEndpointEnabled",
                                           "networkRuleBypassOptions",
                                           NULL};
    static const char *const enc_ok[] = {"status", "keyVaultProperties", NULL};
    static const char *const kvp_ok[] = {"keyIdentifier", "identity", NULL};
    json_t *p;
    common_notes(d, x);
    if (body_checked(x, e, top, "a registry", props_ok, "coffer's registries (docs/templates.md)",
                     &p))
        return -1;
    json_t *sku = G(G(x->body, "sku"), "name");
    if (!deploy_unknown(x, "sku.name") &&
        (!json_is_string(sku) || sku_canonical(json_string_value(sku)) == NULL))
        return deploy_bad(x, e, "InvalidSku", "sku.name",
                          "a registry needs sku.name: Basic, Standard or Premium");
    json_t *id = G(x->body, "identity");
    if (id) {
        json_t *t = G(id, "type"), *uai = G(id, "userAssignedIdentities");
        if (!json_is_object(id))
            return deploy_bad(x, e, "InvalidTemplate", "identity", "must be an object");
        if (t && (!json_is_string(t) || ident_type_canonical(json_string_value(t)) == NULL))
            return deploy_bad(x, e, "InvalidTemplate", "identity.type",
                              "must be None, SystemAssigned, UserAssigned or 'SystemAssigned, "
                              "UserAssigned'");
        if (uai && !json_is_object(uai))
            return deploy_bad(x, e, "InvalidTemplate", "identity.userAssignedIdentities",
                              "must be an object: {IDENTITY_RESOURCE_ID: {}}");
        const char *k;
        json_t *v;
        json_object_foreach(uai, k, v)
        {
            arm_path ap;
            if (!cli_arm_id_is(k, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, &ap))
                return deploy_bad(x, e, "InvalidTemplate", "identity.userAssignedIdentities",
                                  "'%.200s' is not the resource id of a user-assigned identity "
                                  "(resourceId('Microsoft.ManagedIdentity/"
                                  "userAssignedIdentities', NAME))",
                                  k);
        }
    }
    if (p == NULL)
        return 0;
    static const member_type types[] = {{"adminUserEnabled", JSON_TRUE},
                                        {"anonymousPullEnabled", JSON_TRUE},
                                        {"encryption", JSON_OBJECT},
                                        {NULL, JSON_NULL}};
    if (typed(x, e, p, "properties", types))
        return -1;
    json_t *enc = G(p, "encryption");
    if (enc) {
        json_t *st = G(enc, "status"), *kvp = G(enc, "keyVaultProperties");
        if (keys_allowed(x, e, enc, "properties.encryption", enc_ok, "encryption"))
            return -1;
        if (st && !deploy_unknown(x, "properties.encryption.status") &&
            !(json_is_string(st) && (strcasecmp(json_string_value(st), "enabled") == 0 ||
                                     strcasecmp(json_string_value(st), "disabled") == 0)))
            return deploy_bad(x, e, "InvalidTemplate", "properties.encryption.status",
                              "must be 'enabled' or 'disabled'");
        if (kvp) {
            const char *rel = "properties.encryption.keyVaultProperties";
            if (!json_is_object(kvp))
                return deploy_bad(x, e, "InvalidTemplate", rel, "must be an object");
            if (keys_allowed(x, e, kvp, rel, kvp_ok, "keyVaultProperties") ||
                typed(x, e, kvp, rel,
                      (const member_type[]){{"keyIdentifier", JSON_STRING},
                                            {"identity", JSON_STRING},
                                            {NULL, JSON_NULL}}))
                return -1;
            json_t *kid = G(kvp, "keyIdentifier");
            if (kid &&
                !deploy_unknown(x, "properties.encryption.keyVaultProperties.keyIdentifier") &&
                !key_uri_ok(json_string_value(kid)))
                return deploy_bad(x, e, "InvalidKeyIdentifier",
                                  "properties.encryption.keyVaultProperties.keyIdentifier",
                                  "'%.300s' is not a key identifier: "
                                  "https://host[:port]/keys/<name>[/<version>]",
                                  json_string_value(kid));
        }
    }
    json_t *nrs = G(p, "networkRuleSet");
    if (nrs) {
        const char *da = json_string_value(G(nrs, "defaultAction"));
        if (!json_is_object(nrs) || (da && strcasecmp(da, "Allow") != 0) ||
            json_array_size(G(nrs, "virtualNetworkRules")) || json_array_size(G(nrs, "ipRules")))
            return deploy_bad(x, e, "InvalidTemplate", "properties.networkRuleSet",
                              "coffer has no network rules: only defaultAction 'Allow' without "
                              "rules is accepted");
        deploy_note(d, "Microsoft.ContainerRegistry/registries properties.networkRuleSet: "
                       "accepted (defaultAction Allow, no rules: what coffer does)");
    }
    if (G(p, "policies") && reg_policies_check(d, x, G(p, "policies"), e))
        return -1;
    static const char *const neutral[][2] = {{"publicNetworkAccess", "Enabled"},
                                             {"zoneRedundancy", "Disabled"}};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = G(p, neutral[i][0]);
        char rel[64];
        snprintf(rel, sizeof(rel), "properties.%s", neutral[i][0]);
        if (v && !(json_is_string(v) && strcasecmp(json_string_value(v), neutral[i][1]) == 0))
            return deploy_bad(x, e, "InvalidTemplate", rel, "only '%s' is accepted by coffer",
                              neutral[i][1]);
    }
    json_t *de = G(p, "dataEndpointEnabled");
    if (de && !json_is_false(de))
        return deploy_bad(x, e, "InvalidTemplate", "properties.dataEndpointEnabled",
                          "only false is accepted by coffer (one endpoint serves data)");
    if (G(p, "networkRuleBypassOptions"))
        deploy_note(d, "Microsoft.ContainerRegistry/registries "
                       "properties.networkRuleBypassOptions: accepted and ignored");
    return 0;
}

/* "system" for "[system]" (any case), else the client id lowercased. */
static json_t *key_identity_norm(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s && (strcasecmp(s, "[system]") == 0 || strcasecmp(s, "system") == 0))
        return json_string("system");
    return s ? lower_string(s) : json_null();
}

static json_t *reg_want(deploy *d, dres *x)
{
    (void)d;
    json_t *b = x->body, *p = G(b, "properties"), *enc = G(p, "encryption");
    json_t *kvp = G(enc, "keyVaultProperties"), *id = G(b, "identity");
    const char *st = json_string_value(G(enc, "status"));
    int cmk = st ? strcasecmp(st, "enabled") == 0 : kvp != NULL;
    json_t *e = json_pack("{s:s}", "status", cmk ? "enabled" : "disabled");
    if (cmk)
        json_object_set_new(
            e, "keyVaultProperties",
            json_pack("{s:O,s:o}", "keyIdentifier",
                      G(kvp, "keyIdentifier") ? G(kvp, "keyIdentifier") : json_null(), "identity",
                      deploy_unknown(x, "properties.encryption.keyVaultProperties.identity")
                          ? json_incref(G(kvp, "identity"))
                          : key_identity_norm(G(kvp, "identity"))));
    const char *t = ident_type_canonical(json_string_value(G(id, "type")));
    if (G(id, "type") == NULL && json_object_size(G(id, "userAssignedIdentities")))
        t = "UserAssigned";
    return json_pack("{s:{s:s},s:{s:s,s:o},s:{s:b,s:b,s:o}}", "sku", "name",
                     sku_canonical(json_string_value(G(G(b, "sku"), "name"))), "identity", "type",
                     t, "userAssignedIdentities", string_set(NULL, G(id, "userAssignedIdentities")),
                     "properties", "adminUserEnabled", json_is_true(G(p, "adminUserEnabled")),
                     "anonymousPullEnabled", json_is_true(G(p, "anonymousPullEnabled")),
                     "encryption", e);
}

static json_t *reg_have(deploy *d, dres *x)
{
    (void)d;
    json_t *c = x->cur, *p = G(c, "properties"), *enc = G(p, "encryption");
    json_t *kvp = G(enc, "keyVaultProperties"), *id = G(c, "identity");
    const char *st = json_string_value(G(enc, "status"));
    int cmk = st && strcasecmp(st, "enabled") == 0;
    json_t *e = json_pack("{s:s}", "status", cmk ? "enabled" : "disabled");
    if (cmk)
        json_object_set_new(
            e, "keyVaultProperties",
            json_pack("{s:O,s:o}", "keyIdentifier",
                      G(kvp, "keyIdentifier") ? G(kvp, "keyIdentifier") : json_null(), "identity",
                      key_identity_norm(G(kvp, "identity"))));
    const char *t = ident_type_canonical(json_string_value(G(id, "type")));
    const char *sku = json_string_value(G(G(c, "sku"), "name"));
    return json_pack(
        "{s:{s:s},s:{s:s,s:o},s:{s:b,s:b,s:o}}", "sku", "name", sku ? sku : "", "identity", "type",
        t ? t : "None", "userAssignedIdentities", string_set(NULL, G(id, "userAssignedIdentities")),
        "properties", "adminUserEnabled", json_is_true(G(p, "adminUserEnabled")),
        "anonymousPullEnabled", json_is_true(G(p, "anonymousPullEnabled")), "encryption", e);
}

/* The registry's identity as the API takes it (the ids as written). */
static json_t *reg_identity_body(const json_t *want, const json_t *id)
{
    const char *t = json_string_value(json_object_get(json_object_get(want, "identity"), "type"));
    json_t *users = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(G(id, "userAssignedIdentities"), k, v)
    {
        json_object_set_new(users, k, json_object());
    }
    return json_pack("{s:s,s:o}", "type", t, "userAssignedIdentities", users);
}

static int reg_apply(deploy *d, dres *x, json_t **after, cli_err *e)
{
    json_t *w = x->want, *wp = json_object_get(w, "properties");
    json_t *tp = G(x->body, "properties"), *kvp = G(G(tp, "encryption"), "keyVaultProperties");
    json_t *body = json_object(), *props = json_object();
    const char *t = json_string_value(json_object_get(json_object_get(w, "identity"), "type"));
    int create = x->cur == NULL, rc;
    if (create || changed(x, "sku"))
        json_object_set(body, "sku", json_object_get(w, "sku"));
    if ((create && strcmp(t, "None") != 0) || (!create && changed(x, "identity")))
        json_object_set_new(body, "identity", reg_identity_body(w, G(x->body, "identity")));
    static const char *const flags[] = {"adminUserEnabled", "anonymousPullEnabled", NULL};
    for (const char *const *f = flags; *f; f++) {
        char p[64];
        snprintf(p, sizeof(p), "properties.%s", *f);
        if ((create && json_is_true(json_object_get(wp, *f))) || (!create && changed(x, p)))
            json_object_set(props, *f, json_object_get(wp, *f));
    }
    json_t *we = json_object_get(wp, "encryption");
    int cmk = strcmp(json_string_value(json_object_get(we, "status")), "enabled") == 0;
    json_t *kb = NULL;
    if (cmk)
        kb = json_pack("{s:O?,s:O?}", "keyIdentifier", G(kvp, "keyIdentifier"), "identity",
                       G(kvp, "identity"));
    if ((create && cmk) || (!create && changed(x, "properties.encryption.status"))) {
        json_t *enc = json_pack("{s:s}", "status", cmk ? "enabled" : "disabled");
        if (kb)
            json_object_set(enc, "keyVaultProperties", kb);
        json_object_set_new(props, "encryption", enc);
    } else if (!create && changed(x, "properties.encryption.keyVaultProperties")) {
        json_t *nk = json_object();
        if (changed(x, "properties.encryption.keyVaultProperties.keyIdentifier"))
            json_object_set(nk, "keyIdentifier", json_object_get(kb, "keyIdentifier"));
        if (changed(x, "properties.encryption.keyVaultProperties.identity"))
            json_object_set(nk, "identity", json_object_get(kb, "identity"));
        json_object_set_new(props, "encryption", json_pack("{s:o}", "keyVaultProperties", nk));
    }
    json_decref(kb);
    if (json_object_size(props))
        json_object_set(body, "properties", props);
    json_t *loc = G(x->body, "location");
    if (create && json_is_string(loc))
        json_object_set(body, "location", loc);
    rc = api(d, cli_mgmt, create ? "PUT" : "PATCH", x->r->id, body, after, e);
    json_decref(props);
    json_decref(body);
    return rc;
}

static const deploy_kind kinds[] = {
    {"Microsoft.ManagedIdentity/userAssignedIdentities", ident_check, mgmt_get, empty_shape,
     empty_shape, ident_apply, flat_ref},
    {"Microsoft.KeyVault/vaults", vault_check, vault_get, vault_want, vault_have, vault_apply,
     flat_ref},
    {"Microsoft.KeyVault/vaults/accessPolicies", policy_check, policy_get, policy_want, policy_have,
     policy_apply, flat_ref},
    {"Microsoft.KeyVault/vaults/keys", key_check, key_get, key_want, key_have, key_apply, key_ref},
    {"Microsoft.ContainerRegistry/registries", reg_check, mgmt_get, reg_want, reg_have, reg_apply,
     flat_ref},
};

const deploy_kind *deploy_kind_find(const char *type)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcasecmp(kinds[i].type, type) == 0)
            return &kinds[i];
    return NULL;
}
