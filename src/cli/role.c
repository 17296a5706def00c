/*
 * role.c -- `coffer role assignment` and `coffer role definition`: Azure
 * RBAC role assignments, shaped like az's, on two planes: the management
 * roles (Owner, Contributor, Reader, Managed Identity Operator), held and
 * enforced by cofferd (docs/security.md, "Tenants and roles"), and the Key
 * Vault roles, held and enforced by keyvaultd (docs/keyvault.md).
 *
 * The plane: a vault's or a key's scope is keyvaultd's; otherwise --role
 * names it (cofferd's roles are control/authz.h's); a list or delete with
 * neither asks cofferd, and keyvaultd too when a vault token is configured.
 * On cofferd's plane --assignee is a service principal's appId, object id
 * or display name (coffer ad sp list).
 *
 * `role assignment create --assignee X --role R --scope S` resolves R (a
 * role name such as "Key Vault Crypto Service Encryption User", its GUID or
 * its definition id) among keyvaultd's role definitions, X to an object id
 * (a UUID as given, or a managed identity's resource id or name to its
 * principalId, as az resolves a service principal), makes a new GUID for
 * the assignment as az does, and PUTs it at
 * S/providers/Microsoft.Authorization/roleAssignments/GUID. S is a vault's
 * resource id or a key's below it (/keys/NAME). Output is az's: the
 * assignment flattened, with its roleDefinitionName.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "cli/verbs.h"
#include "control/authz.h"

#define AUTHZ "/providers/Microsoft.Authorization"

/* A scope: "/" (everything), or a subscription, group, vault or key id.
 * *path: what goes before AUTHZ in the URL ("" for "/"). */
static int scope_check(const char *s, const char **path, cli_err *e)
{
    *path = "";
    if (strcmp(s, "/") == 0)
        return 0;
    arm_path ap;
    size_t n = strlen(s);
    int ok = s[0] == '/' &&
             strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789._()-/") == n &&
             arm_path_parse(&ap, s, n) == 0 &&
             (ap.kind == ARM_SUBSCRIPTION || ap.kind == ARM_GROUP || ap.kind == ARM_RESOURCE);
    if (!ok)
        return cli_usage(e,
                         "argument --scope: '%.200s' is not a resource id (a key vault's "
                         "/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/V, "
                         "a key's below it /keys/K, a group's or a subscription's)",
                         s);
    *path = s;
    return 0;
}

/* The role definitions of a plane (new reference). */
static int definitions(cli_ctx *c, cli_call_fn plane, json_t **out, cli_err *e)
{
    return cli_list_values(c, plane, AUTHZ "/roleDefinitions", out, e);
}

/* Whether a scope is a key vault's or a key's (keyvaultd's plane). */
static int vault_scope(const char *s)
{
    arm_path ap;
    return s && arm_path_parse(&ap, s, strlen(s)) == 0 && ap.kind == ARM_RESOURCE &&
           arm_path_is(&ap, ARM_NS_VAULT, ARM_TYPE_VAULT);
}

/* The plane of a --role (and --scope): cofferd's for its roles. */
static cli_call_fn plane_of(const char *role, const char *scope)
{
    if (vault_scope(scope))
        return cli_vault_mgmt;
    return role && authz_role_find(role) ? cli_mgmt : cli_vault_mgmt;
}

/* A service principal's object id from its appId, object id or display
 * name (cofferd's plane). */
static int principal_oid(cli_ctx *c, const char *who, char out[40], cli_err *e)
{
    json_t *list = NULL;
    if (cli_list_values(c, cli_mgmt, "/principals", &list, e))
        return -1;
    size_t i;
    json_t *it;
    const char *found = NULL;
    json_array_foreach(list, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *app = json_string_value(json_object_get(it, "appId"));
        const char *dn = json_string_value(json_object_get(it, "displayName"));
        if ((id && strcasecmp(id, who) == 0) || (app && strcasecmp(app, who) == 0) ||
            (dn && strcmp(dn, who) == 0))
            found = id;
    }
    int rc = 0;
    if (found)
        snprintf(out, 40, "%s", found);
    else if (cli_is_uuid(who))
        snprintf(out, 40, "%s", who); /* cofferd says whether it exists */
    else
        rc = cli_fail(e, "PrincipalNotFound", "No service principal '%.100s' (coffer ad sp list).",
                      who);
    json_decref(list);
    return rc;
}

/* The definition a --role names (borrowed from defs); NULL after failing. */
static const json_t *role_find(const json_t *defs, const char *ref, cli_err *e)
{
    size_t i;
    const json_t *it;
    json_array_foreach(defs, i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *rn =
            json_string_value(json_object_get(json_object_get(it, "properties"), "roleName"));
        const char *slash = strrchr(ref, '/');
        if ((rn && strcasecmp(rn, ref) == 0) || (name && strcasecmp(name, ref) == 0) ||
            (id && strcasecmp(id, ref) == 0) || (slash && name && strcasecmp(slash + 1, name) == 0))
            return it;
    }
    cli_fail(e, "RoleNotFound", "Role '%.200s' doesn't exist (coffer role definition list).", ref);
    return NULL;
}

/* The role name of a definition id, from defs. */
static const char *role_name_of(const json_t *defs, const char *def_id)
{
    const char *slash = def_id ? strrchr(def_id, '/') : NULL;
    size_t i;
    const json_t *it;
    json_array_foreach(defs, i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        if (slash && name && strcasecmp(slash + 1, name) == 0)
            return json_string_value(
                json_object_get(json_object_get(it, "properties"), "roleName"));
    }
    return NULL;
}

/* An assignment as az prints it: flattened, with roleDefinitionName. */
static json_t *assignment_out(const json_t *a, const json_t *defs)
{
    json_t *copy = json_copy((json_t *)a);
    const char *rn = role_name_of(defs, json_string_value(json_object_get(
                                            json_object_get(a, "properties"), "roleDefinitionId")));
    if (copy && rn)
        json_object_set_new(copy, "roleDefinitionName", json_string(rn));
    json_t *f = cli_arm_flatten(copy);
    json_decref(copy);
    return f;
}

/* The object id an --assignee names. */
static int assignee_oid(cli_ctx *c, const char *who, char out[40], cli_err *e)
{
    if (cli_is_uuid(who)) {
        snprintf(out, 40, "%s", who);
        return 0;
    }
    json_t *id = NULL;
    if (cli_identity_resolve(c, NULL, who, &id, e))
        return -1;
    const char *p = json_string_value(json_object_get(id, "principalId"));
    int rc = p && cli_is_uuid(p) ? 0 : cli_fail(e, "InvalidResponse", "no principalId");
    if (rc == 0)
        snprintf(out, 40, "%s", p);
    json_decref(id);
    return rc;
}

int cli_new_uuid(char out[37], cli_err *e)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return cli_fail(e, "RandomError", "no random bytes");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *who = cli_args_get(a, "assignee"), *oid = cli_args_get(a, "assignee-object-id");
    const char *role = cli_args_get(a, "role"), *scope = cli_args_get(a, "scope"), *path;
    const char *ptype = cli_args_get(a, "assignee-principal-type");
    const char *desc = cli_args_get(a, "description");
    char principal[40], guid[37], sub_scope[80], url[1024];
    json_t *defs = NULL, *body = NULL, *r = NULL;
    int rc = -1;
    if ((who == NULL) == (oid == NULL))
        return cli_usage(e, "usage error: give --assignee or --assignee-object-id");
    if (oid && !cli_is_uuid(oid))
        return cli_usage(e, "argument --assignee-object-id: '%.64s' is not an object id", oid);
    if (scope && scope_check(scope, &path, e))
        return -1;
    if (scope == NULL) { /* az's default: the subscription */
        const char *sub;
        if (cli_subscription(c, &sub, e))
            return -1;
        snprintf(sub_scope, sizeof(sub_scope), "/subscriptions/%s", sub);
        path = sub_scope;
    }
    cli_call_fn plane = plane_of(role, scope);
    if (definitions(c, plane, &defs, e))
        goto out;
    const json_t *def = role_find(defs, role, e);
    if (def == NULL || cli_new_uuid(guid, e) ||
        (plane == cli_mgmt ? principal_oid(c, oid ? oid : who, principal, e)
                           : assignee_oid(c, oid ? oid : who, principal, e)))
        goto out;
    body = json_pack("{s:{s:O,s:s}}", "properties", "roleDefinitionId", json_object_get(def, "id"),
                     "principalId", principal);
    json_t *props = json_object_get(body, "properties");
    if (ptype)
        json_object_set_new(props, "principalType", json_string(ptype));
    if (desc)
        json_object_set_new(props, "description", json_string(desc));
    if (snprintf(url, sizeof(url), "%s" AUTHZ "/roleAssignments/%s", path, guid) >=
        (int)sizeof(url)) {
        cli_usage(e, "argument --scope: too long");
        goto out;
    }
    if (plane(c, "PUT", url, body, &r, e))
        goto out;
    *res = assignment_out(r, defs);
    rc = 0;
out:
    json_decref(defs);
    json_decref(body);
    json_decref(r);
    return rc;
}

/* The assignments at, above or below a scope (all of the subscription
 * when none), of --assignee and --role when given, on one plane. */
static int matching_on(cli_ctx *c, const cli_args *a, cli_call_fn plane, json_t *out,
                       const json_t *defs, cli_err *e)
{
    const char *scope = cli_args_get(a, "scope"), *path;
    const char *who = cli_args_get(a, "assignee"), *role = cli_args_get(a, "role");
    char principal[40] = "", url[1100];
    json_t *list = NULL;
    if (scope && scope_check(scope, &path, e))
        return -1;
    if (scope == NULL) {
        const char *sub;
        if (cli_subscription(c, &sub, e))
            return -1;
        snprintf(url, sizeof(url), "/subscriptions/%s" AUTHZ "/roleAssignments", sub);
    } else {
        snprintf(url, sizeof(url), "%s" AUTHZ "/roleAssignments", path);
    }
    if (who && (plane == cli_mgmt ? principal_oid(c, who, principal, e)
                                  : assignee_oid(c, who, principal, e)))
        return -1;
    const json_t *def = role ? role_find(defs, role, e) : NULL;
    if (role && def == NULL)
        return -1;
    if (principal[0]) {
        size_t u = strlen(url);
        snprintf(url + u, sizeof(url) - u, "?$filter=principalId%%20eq%%20'%s'", principal);
    }
    if (cli_list_values(c, plane, url, &list, e))
        return -1;
    size_t i;
    json_t *it;
    const char *def_name = def ? json_string_value(json_object_get(def, "name")) : NULL;
    json_array_foreach(list, i, it)
    {
        const json_t *p = json_object_get(it, "properties");
        const char *rd = json_string_value(json_object_get(p, "roleDefinitionId"));
        const char *slash = rd ? strrchr(rd, '/') : NULL;
        if (def_name && !(slash && strcasecmp(slash + 1, def_name) == 0))
            continue;
        json_t *copy = assignment_out(it, defs);
        /* where it lives, for delete; dropped before printing */
        json_object_set_new(copy, "_plane", json_integer(plane == cli_mgmt));
        json_array_append_new(out, copy);
    }
    json_decref(list);
    return 0;
}

/* The matching assignments of every plane that applies (az's shape,
 * flattened, each with "_plane"). */
static int matching(cli_ctx *c, const cli_args *a, json_t **out, cli_err *e)
{
    const char *scope = cli_args_get(a, "scope"), *role = cli_args_get(a, "role");
    cli_call_fn planes[2];
    int n = 0;
    if (vault_scope(scope) || role) {
        planes[n++] = plane_of(role, scope);
    } else {
        if (cli_ctx_config(c, e))
            return -1;
        planes[n++] = cli_mgmt;
        if (c->cfg.vault_token)
            planes[n++] = cli_vault_mgmt;
    }
    *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *defs = NULL;
        int rc = definitions(c, planes[i], &defs, e) || matching_on(c, a, planes[i], *out, defs, e);
        json_decref(defs);
        if (rc) {
            json_decref(*out);
            *out = NULL;
            return -1;
        }
    }
    return 0;
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    if (matching(c, a, res, e))
        return -1;
    size_t i;
    json_t *it;
    json_array_foreach(*res, i, it) json_object_del(it, "_plane");
    return 0;
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    int nids;
    const char *const *ids = cli_args_multi(a, "ids", &nids);
    const char *scope = cli_args_get(a, "scope");
    json_t *list = NULL, *defs = NULL, *r = NULL;
    int rc = -1;
    *res = NULL;
    if (nids == 0 && !cli_args_get(a, "assignee") && !cli_args_get(a, "role") && !scope)
        return cli_usage(e, "usage error: give --ids, or at least one of --assignee, --role, "
                            "--scope");
    for (int i = 0; i < nids; i++) {
        const char *at = strstr(ids[i], AUTHZ "/roleAssignments/");
        const char *p;
        char sc[1024];
        size_t sn = at ? (size_t)(at - ids[i]) : 0;
        if (at == NULL || sn >= sizeof(sc))
            return cli_usage(e, "argument --ids: '%.200s' is not a role assignment id", ids[i]);
        snprintf(sc, sizeof(sc), "%.*s", (int)sn, ids[i]);
        if ((sn && scope_check(sc, &p, e)) || !cli_is_uuid(at + strlen(AUTHZ "/roleAssignments/")))
            return e->set ? -1
                          : cli_usage(e, "argument --ids: '%.200s' is not a role assignment id",
                                      ids[i]);
    }
    for (int i = 0; i < nids; i++) {
        /* an id at a vault's scope is keyvaultd's; any other, cofferd's */
        const char *at = strstr(ids[i], AUTHZ "/roleAssignments/");
        char sc[1024];
        snprintf(sc, sizeof(sc), "%.*s", (int)(at - ids[i]), ids[i]);
        cli_call_fn plane = vault_scope(sc) ? cli_vault_mgmt : cli_mgmt;
        if (plane(c, "DELETE", ids[i], NULL, &r, e))
            goto out;
        json_decref(r);
        r = NULL;
    }
    if (nids)
        return 0;
    if (matching(c, a, &list, e))
        goto out;
    size_t i, deleted = 0;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        /* at exactly the scope given (az leaves inherited ones alone) */
        const char *sc = json_string_value(json_object_get(it, "scope")); /* flattened */
        if (scope && !(sc && arm_eq(sc, scope)))
            continue;
        cli_call_fn plane =
            json_integer_value(json_object_get(it, "_plane")) ? cli_mgmt : cli_vault_mgmt;
        if (plane(c, "DELETE", json_string_value(json_object_get(it, "id")), NULL, &r, e))
            goto out;
        json_decref(r);
        r = NULL;
        deleted++;
    }
    if (deleted == 0) {
        cli_fail(e, "RoleAssignmentNotFound", "No matched assignments were found to delete.");
        goto out;
    }
    rc = 0;
out:
    json_decref(list);
    json_decref(defs);
    return rc;
}

static int run_definition_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *defs = NULL;
    const char *name = cli_args_get(a, "name");
    /* cofferd's roles first, then keyvaultd's when a vault token is set */
    if (definitions(c, cli_mgmt, &defs, e))
        return -1;
    if (c->cfg.vault_token) {
        json_t *vdefs = NULL;
        if (definitions(c, cli_vault_mgmt, &vdefs, e)) {
            json_decref(defs);
            return -1;
        }
        json_array_extend(defs, vdefs);
        json_decref(vdefs);
    }
    *res = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(defs, i, it)
    {
        const json_t *p = json_object_get(it, "properties");
        const char *rn = json_string_value(json_object_get(p, "roleName"));
        const char *id = json_string_value(json_object_get(it, "name"));
        if (name && !((rn && strcasecmp(rn, name) == 0) || (id && strcasecmp(id, name) == 0)))
            continue;
        json_t *f = cli_arm_flatten(it);
        json_object_set(f, "roleType", json_object_get(p, "type")); /* az's name for it */
        json_array_append_new(*res, f);
    }
    json_decref(defs);
    return 0;
}

static const cli_opt create_opts[] = {
    {"assignee", NULL, CLI_OPT_VALUE, 0, "OBJECT_ID|APP_ID|IDENTITY_ID"},
    {"assignee-object-id", NULL, CLI_OPT_VALUE, 0, "OBJECT_ID"},
    {"assignee-principal-type", NULL, CLI_OPT_VALUE, 0, "TYPE"},
    {"role", NULL, CLI_OPT_VALUE, 1, "NAME|ID"},
    {"scope", NULL, CLI_OPT_VALUE, 0, "SCOPE"},
    {"description", NULL, CLI_OPT_VALUE, 0, "TEXT"},
    {0},
};
static const cli_opt list_opts[] = {
    {"assignee", NULL, CLI_OPT_VALUE, 0, "OBJECT_ID|APP_ID|IDENTITY_ID"},
    {"role", NULL, CLI_OPT_VALUE, 0, "NAME|ID"},
    {"scope", NULL, CLI_OPT_VALUE, 0, "SCOPE"},
    {"all", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {0},
};
static const cli_opt delete_opts[] = {
    {"ids", NULL, CLI_OPT_MULTI, 0, "ID"},
    {"assignee", NULL, CLI_OPT_VALUE, 0, "OBJECT_ID|APP_ID|IDENTITY_ID"},
    {"role", NULL, CLI_OPT_VALUE, 0, "NAME|ID"},
    {"scope", NULL, CLI_OPT_VALUE, 0, "SCOPE"},
    {"yes", "y", CLI_OPT_BOOL, 0, "true|false"},
    {0},
};
static const cli_opt definition_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 0, "NAME|ID"},
    {0},
};

/* -o table, az's columns */
static const cli_column assignment_table[] = {
    {"Principal", "principalId"},
    {"Role", "roleDefinitionName"},
    {"Scope", "scope"},
    {0},
};
static const cli_column definition_table[] = {
    {"Name", "roleName"},
    {"Type", "roleType"},
    {"Description", "description"},
    {0},
};

const cli_verb cli_role_assignment_verbs[] = {
    {"create",
     "Assign a role: a management role (Owner, Contributor, Reader, Managed Identity Operator) "
     "to a service principal at a subscription, group or resource (cofferd), or a Key Vault "
     "role at a vault's scope or a key's (keyvaultd).",
     create_opts, run_create,
     "coffer role assignment create --assignee PRINCIPAL_ID --role \"Key Vault Crypto Service "
     "Encryption User\" --scope VAULT_ID",
     NULL},
    {"list", "List role assignments (at, above or below --scope; the subscription's without).",
     list_opts, run_list, "coffer role assignment list --scope VAULT_ID -o table",
     assignment_table},
    {"delete", "Delete role assignments: --ids, or those matching --assignee/--role at --scope.",
     delete_opts, run_delete,
     "coffer role assignment delete --assignee PRINCIPAL_ID --role \"Key Vault Crypto Service "
     "Encryption User\" --scope VAULT_ID",
     NULL},
    {0},
};

const cli_verb cli_role_definition_verbs[] = {
    {"list", "List the built-in Key Vault roles and their permissions.", definition_opts,
     run_definition_list,
     "coffer role definition list --name \"Key Vault Crypto Officer\" --query [].permissions",
     definition_table},
    {0},
};
