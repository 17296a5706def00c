/*
 * export.c -- `coffer group export -n GROUP`: the template (template.h)
 * that recreates a resource group's setup, as `az group export` writes
 * one: its user-assigned identities, vaults (purge protection, retention,
 * access policies, network rules), the vaults' keys (type, size, operations, enabled) and
 * registries (SKU, admin user, anonymous pull, identities, customer-
 * managed key), read with the same calls the show and list verbs make.
 *
 * Each resource's name is a parameter whose default is its name here
 * (`vaults_myvault_name`), so that the same file deploys the same setup
 * under other names, in another group or another coffer; the locations
 * are the target group's. Links between the group's own resources become
 * expressions, so that they follow the new names: an access policy's
 * objectId and a registry's key identity are reference()s to the
 * identity, a registry's key identifier a reference() to the key --
 * keyUri (version-less: automatic rotation) or keyUriWithVersion (a
 * versioned identifier: manual rotation, pinned to the new key's first
 * version). Links outside the group stay literal. Key material never
 * leaves a vault: a redeployed key is a new key of the same shape.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/expr.h"
#include "cli/verbs.h"

#define T_IDENTITY ARM_NS_IDENTITY "/" ARM_TYPE_IDENTITY
#define T_VAULT ARM_NS_VAULT "/" ARM_TYPE_VAULT
#define T_KEY ARM_NS_VAULT "/" ARM_TYPE_VAULT "/keys"
#define T_REGISTRY ARM_NS_REGISTRY "/" ARM_TYPE_REGISTRY

typedef struct exporter {
    cli_ctx *c;
    const char *group;
    const char *tenant;
    json_t *params, *resources;
    json_t *idents; /* the group's identities (GET shapes) */
    json_t *keys;   /* [{vault, name, kid}] of the group's vaults */
} exporter;

/* The parameter of a resource's name: "<type>_<name>_name" ('-' as '_'). */
static void param_name(const char *type, const char *name, char *out, size_t n)
{
    int l = snprintf(out, n, "%s_%s_name", type, name ? name : "");
    for (int i = 0; i < l && (size_t)i < n; i++)
        if (!isalnum((unsigned char)out[i]))
            out[i] = '_';
}

/* The same, declared with the name as its default. */
static void name_param(exporter *x, const char *type, const char *name, char *out, size_t n)
{
    param_name(type, name, out, n);
    json_object_set_new(x->params, out,
                        json_pack("{s:s,s:s}", "type", "string", "defaultValue", name));
}

/* "[parameters('P')]" */
static json_t *param_ref(const char *p)
{
    char buf[600];
    snprintf(buf, sizeof(buf), "[parameters('%s')]", p);
    return json_string(buf);
}

/* The exported identity whose member `field` equals v (a principal or
 * client id), or NULL. */
static const json_t *ident_by(const exporter *x, const char *field, const char *v)
{
    size_t i;
    json_t *it;
    json_array_foreach(x->idents, i, it)
    {
        const char *f = json_string_value(json_object_get(it, field));
        if (v && f && strcasecmp(f, v) == 0)
            return it;
    }
    return NULL;
}

/* "[resourceId(identity, parameters(P))]", or its reference().field. */
static json_t *ident_expr(const json_t *ident, const char *field)
{
    char p[400], e[700];
    param_name("userAssignedIdentities", json_string_value(json_object_get(ident, "name")), p,
               sizeof(p));
    if (field)
        snprintf(e, sizeof(e),
                 "[reference(resourceId('" T_IDENTITY "', parameters('%s')), '2018-11-30').%s]", p,
                 field);
    else
        snprintf(e, sizeof(e), "[resourceId('" T_IDENTITY "', parameters('%s'))]", p);
    return json_string(e);
}

/* The group's resources of ns/type, listed through call (new reference). */
static int group_list(exporter *x, const char *ns, const char *type, cli_call_fn call,
                      json_t **list, cli_err *e)
{
    char p[1024];
    return cli_collection_path(x->c, x->group, ns, type, p, sizeof(p), e) ||
                   cli_list_values(x->c, call, p, list, e)
               ? -1
               : 0;
}

static int export_identities(exporter *x, cli_err *e)
{
    char pn[400];
    if (group_list(x, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, cli_mgmt, &x->idents, e))
        return -1;
    size_t i;
    json_t *it;
    json_array_foreach(x->idents, i, it)
    {
        name_param(x, "userAssignedIdentities", json_string_value(json_object_get(it, "name")), pn,
                   sizeof(pn));
        json_array_append_new(x->resources,
                              json_pack("{s:s,s:s,s:o,s:s}", "type", T_IDENTITY, "apiVersion",
                                        "2018-11-30", "name", param_ref(pn), "location",
                                        "[resourceGroup().location]"));
    }
    return 0;
}

static json_t *export_policies(exporter *x, const json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        json_t *c = json_deep_copy(it);
        const json_t *mi =
            ident_by(x, "principalId", json_string_value(json_object_get(it, "objectId")));
        if (mi)
            json_object_set_new(c, "objectId", ident_expr(mi, "principalId"));
        const char *t = json_string_value(json_object_get(it, "tenantId"));
        if (t && x->tenant && strcasecmp(t, x->tenant) == 0)
            json_object_set_new(c, "tenantId", json_string("[subscription().tenantId]"));
        json_array_append_new(out, c);
    }
    return out;
}

static int export_keys(exporter *x, const char *vault, const char *vparam, cli_err *e)
{
    json_t *list = NULL;
    if (cli_vault_keys_list(x->c, vault, "/keys", &list, e))
        return -1;
    size_t i;
    json_t *it;
    int rc = 0;
    json_array_foreach(list, i, it)
    {
        const char *kid = json_string_value(json_object_get(it, "kid"));
        const char *slash = kid ? strrchr(kid, '/') : NULL;
        char p[512] = "";
        json_t *b = NULL;
        if (slash == NULL || cli_path_add(p, sizeof(p), "/keys/", slash + 1, e) ||
            cli_vault_keys(x->c, vault, "GET", p, NULL, &b, e)) {
            rc = -1;
            break;
        }
        const json_t *k = json_object_get(b, "key");
        json_t *props = json_pack("{s:O?,s:O?,s:{s:O?}}", "kty", json_object_get(k, "kty"),
                                  "keyOps", json_object_get(k, "key_ops"), "attributes", "enabled",
                                  json_object_get(json_object_get(b, "attributes"), "enabled"));
        const char *n = json_string_value(json_object_get(k, "n"));
        if (n)
            json_object_set_new(props, "keySize",
                                json_integer((json_int_t)(strlen(n) * 6 / 8) * 8));
        if (json_object_get(k, "crv"))
            json_object_set(props, "curveName", json_object_get(k, "crv"));
        char name[600], dep[600];
        snprintf(name, sizeof(name), "[concat(parameters('%s'), '/%s')]", vparam, slash + 1);
        snprintf(dep, sizeof(dep), "[resourceId('" T_VAULT "', parameters('%s'))]", vparam);
        json_array_append_new(x->resources, json_pack("{s:s,s:s,s:s,s:[s],s:o}", "type", T_KEY,
                                                      "apiVersion", "2019-09-01", "name", name,
                                                      "dependsOn", dep, "properties", props));
        json_array_append_new(x->keys, json_pack("{s:s,s:s,s:s,s:s}", "vault", vault, "vparam",
                                                 vparam, "name", slash + 1, "kid", kid));
        json_decref(b);
    }
    json_decref(list);
    return rc;
}

static int export_vaults(exporter *x, cli_err *e)
{
    char pn[400];
    json_t *list = NULL;
    if (group_list(x, ARM_NS_VAULT, ARM_TYPE_VAULT, cli_vault_mgmt, &list, e))
        return -1;
    size_t i;
    json_t *it;
    int rc = 0;
    json_array_foreach(list, i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const json_t *vp = json_object_get(it, "properties");
        name_param(x, "vaults", name, pn, sizeof(pn));
        json_t *props =
            json_pack("{s:O?,s:O?,s:O?}", "enablePurgeProtection",
                      json_object_get(vp, "enablePurgeProtection"), "softDeleteRetentionInDays",
                      json_object_get(vp, "softDeleteRetentionInDays"), "enableRbacAuthorization",
                      json_object_get(vp, "enableRbacAuthorization"));
        const char *t = json_string_value(json_object_get(vp, "tenantId"));
        json_object_set_new(props, "tenantId",
                            t && x->tenant && strcasecmp(t, x->tenant) != 0
                                ? json_string(t)
                                : json_string("[subscription().tenantId]"));
        json_object_set_new(props, "accessPolicies",
                            export_policies(x, json_object_get(vp, "accessPolicies")));
        if (json_object_get(vp, "networkAcls"))
            json_object_set(props, "networkAcls", json_object_get(vp, "networkAcls"));
        json_array_append_new(x->resources,
                              json_pack("{s:s,s:s,s:o,s:s,s:o}", "type", T_VAULT, "apiVersion",
                                        "2019-09-01", "name", param_ref(pn), "location",
                                        "[resourceGroup().location]", "properties", props));
        if (export_keys(x, name, pn, e)) {
            rc = -1;
            break;
        }
    }
    json_decref(list);
    return rc;
}

/* The key identifier: a reference() to an exported key when it is one. */
static json_t *key_identifier(exporter *x, const char *kid)
{
    size_t i;
    json_t *it;
    json_array_foreach(x->keys, i, it)
    {
        const char *base = json_string_value(json_object_get(it, "kid"));
        size_t l = strlen(base);
        if (strncasecmp(kid, base, l) != 0 || (kid[l] != '\0' && kid[l] != '/'))
            continue;
        char e[800];
        snprintf(e, sizeof(e), "[reference(resourceId('" T_KEY "', parameters('%s'), '%s')).%s]",
                 json_string_value(json_object_get(it, "vparam")),
                 json_string_value(json_object_get(it, "name")),
                 kid[l] == '/' && kid[l + 1] ? "keyUriWithVersion" : "keyUri");
        return json_string(e);
    }
    return json_string(kid);
}

static int export_registries(exporter *x, cli_err *e)
{
    char pn[400];
    json_t *list = NULL;
    if (group_list(x, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY, cli_mgmt, &list, e))
        return -1;
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const json_t *rp = json_object_get(it, "properties"), *id = json_object_get(it, "identity");
        name_param(x, "registries", json_string_value(json_object_get(it, "name")), pn, sizeof(pn));
        json_t *props =
            json_pack("{s:O?,s:O?}", "adminUserEnabled", json_object_get(rp, "adminUserEnabled"),
                      "anonymousPullEnabled", json_object_get(rp, "anonymousPullEnabled"));
        const json_t *enc = json_object_get(rp, "encryption");
        const json_t *kvp = json_object_get(enc, "keyVaultProperties");
        const char *st = json_string_value(json_object_get(enc, "status"));
        if (st && strcasecmp(st, "enabled") == 0) {
            const char *cid = json_string_value(json_object_get(kvp, "identity"));
            const json_t *mi = ident_by(x, "clientId", cid);
            json_object_set_new(
                props, "encryption",
                json_pack(
                    "{s:s,s:{s:o,s:o}}", "status", "enabled", "keyVaultProperties", "identity",
                    mi ? ident_expr(mi, "clientId") : json_string(cid ? cid : ""), "keyIdentifier",
                    key_identifier(x, json_string_value(json_object_get(kvp, "keyIdentifier")))));
        }
        json_t *users = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(id, "userAssignedIdentities"), k, v)
        {
            const json_t *mi = ident_by(x, "id", k);
            json_t *ke = mi ? ident_expr(mi, NULL) : json_string(k);
            char key[700];
            snprintf(key, sizeof(key), "%s", json_string_value(ke));
            json_decref(ke);
            json_object_set_new(users, key, json_object());
        }
        const char *type = json_string_value(json_object_get(id, "type"));
        json_t *res = json_pack(
            "{s:s,s:s,s:o,s:s,s:{s:O},s:{s:s,s:o},s:o}", "type", T_REGISTRY, "apiVersion",
            "2019-12-01-preview", "name", param_ref(pn), "location", "[resourceGroup().location]",
            "sku", "name", json_object_get(json_object_get(it, "sku"), "name"), "identity", "type",
            type ? type : "None", "userAssignedIdentities", users, "properties", props);
        json_array_append_new(x->resources, res);
    }
    json_decref(list);
    return 0;
}

int cli_group_export(cli_ctx *c, const char *group, json_t **res, cli_err *e)
{
    exporter x = {.c = c, .group = group};
    json_t *g = NULL, *sub = NULL;
    const char *sid;
    char sp[128];
    int rc = -1;
    x.params = json_object();
    x.resources = json_array();
    x.keys = json_array();
    if (cli_group_get(c, group, &g, e) || cli_subscription(c, &sid, e))
        goto out;
    snprintf(sp, sizeof(sp), "/subscriptions/%s", sid);
    if (cli_mgmt(c, "GET", sp, NULL, &sub, e))
        goto out;
    x.tenant = json_string_value(json_object_get(sub, "tenantId"));
    if (export_identities(&x, e) || export_vaults(&x, e) || export_registries(&x, e))
        goto out;
    *res = json_pack("{s:s,s:s,s:O,s:{},s:O}", "$schema",
                     "https://schema.management.azure.com/schemas/2019-04-01/"
                     "deploymentTemplate.json#",
                     "contentVersion", "1.0.0.0", "parameters", x.params, "variables", "resources",
                     x.resources);
    rc = 0;
out:
    json_decref(g);
    json_decref(sub);
    json_decref(x.params);
    json_decref(x.resources);
    json_decref(x.idents);
    json_decref(x.keys);
    return rc;
}
