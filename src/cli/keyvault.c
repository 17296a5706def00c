/*
 * keyvault.c -- `coffer keyvault`: vaults and their access policies on
 * keyvaultd's management API (at vault_url, admin token), each vault at its
 * ARM path (/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/
 * vaults/NAME). Groups are cofferd's: `create` checks the group there first
 * (ResourceGroupNotFound, as ARM answers) and takes its location unless -l
 * says otherwise, as az does.
 *
 * set-policy does what az keyvault set-policy does: it reads the vault and
 * sets the object id's key permissions to exactly the list given (other
 * identities untouched), with one `accessPolicies/replace`. delete-policy
 * removes the object id's entry with one `accessPolicies/remove`. Both then
 * print the vault, as az does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/verbs.h"

/* The vault of --name/-n: in -g (or the default group), else found in the
 * subscription; + suffix. */
static int vault_path(cli_ctx *c, char *p, size_t n, const cli_args *a, const char *suffix,
                      cli_err *e)
{
    if (cli_resource_path(c, a, cli_vault_mgmt, ARM_NS_VAULT, ARM_TYPE_VAULT,
                          cli_args_get(a, "name"), 0, p, n, e))
        return -1;
    return suffix ? cli_path_add(p, n, suffix, NULL, e) : 0;
}

/* The vault at path p, refused when it uses Azure RBAC (as az refuses). */
static int get_policy_vault(cli_ctx *c, const char *p, json_t **v, cli_err *e)
{
    if (cli_vault_mgmt(c, "GET", p, NULL, v, e))
        return -1;
    if (json_is_true(json_object_get(json_object_get(*v, "properties"), "enableRbacAuthorization")))
        return cli_fail(e, "BadRequest",
                        "Cannot set policies to a vault with '--enable-rbac-authorization' "
                        "specified");
    return 0;
}

/* The properties object of create/update from the options. */
static int props_of(const cli_args *a, json_t **out, cli_err *e)
{
    long days = 0;
    int pp = cli_args_bool(a, "enable-purge-protection", e);
    int rbac = pp == -2 ? -2 : cli_args_bool(a, "enable-rbac-authorization", e);
    int drc = cli_args_int(a, "retention-days", 7, 90, &days, e);
    *out = NULL;
    if (pp == -2 || rbac == -2 || drc < 0)
        return -1;
    json_t *props = json_object();
    const char *tenant = cli_args_get(a, "tenant");
    if (tenant)
        json_object_set_new(props, "tenantId", json_string(tenant));
    if (drc == 0)
        json_object_set_new(props, "softDeleteRetentionInDays", json_integer(days));
    if (pp >= 0)
        json_object_set_new(props, "enablePurgeProtection", json_boolean(pp));
    if (rbac >= 0)
        json_object_set_new(props, "enableRbacAuthorization", json_boolean(rbac));
    *out = props;
    return 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    const char *group;
    json_t *props, *g = NULL;
    if (props_of(a, &props, e))
        return -1;
    if (cli_resource_group(c, a, 1, &group, e) || cli_group_get(c, group, &g, e) ||
        cli_collection_path(c, group, ARM_NS_VAULT, ARM_TYPE_VAULT, p, sizeof(p), e) ||
        cli_path_add(p, sizeof(p), "/", cli_args_get(a, "name"), e)) {
        json_decref(props);
        json_decref(g);
        return -1;
    }
    const char *loc = cli_args_get(a, "location");
    if (loc == NULL)
        loc = json_string_value(json_object_get(g, "location"));
    json_t *body = json_pack("{s:o}", "properties", props);
    if (loc)
        json_object_set_new(body, "location", json_string(loc));
    int rc = cli_vault_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    json_decref(g);
    return rc;
}

static int run_update(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    json_t *props;
    if (props_of(a, &props, e))
        return -1;
    if (json_object_size(props) == 0) {
        json_decref(props);
        return cli_usage(e, "usage error: give --enable-purge-protection, "
                            "--enable-rbac-authorization or --retention-days");
    }
    if (vault_path(c, p, sizeof(p), a, NULL, e)) {
        json_decref(props);
        return -1;
    }
    json_t *body = json_pack("{s:o}", "properties", props);
    int rc = cli_vault_mgmt(c, "PATCH", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (vault_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_vault_mgmt(c, "GET", p, NULL, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (vault_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_delete_quiet(c, cli_vault_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *group;
    char p[1024];
    if (cli_resource_group(c, a, 0, &group, e) ||
        cli_collection_path(c, group, ARM_NS_VAULT, ARM_TYPE_VAULT, p, sizeof(p), e))
        return -1;
    return cli_list_values(c, cli_vault_mgmt, p, res, e);
}

static int run_set_policy(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024], pp[1100];
    int n;
    const char *oid = cli_args_get(a, "object-id");
    const char *const *perms = cli_args_multi(a, "key-permissions", &n);
    if (vault_path(c, p, sizeof(p), a, NULL, e) ||
        snprintf(pp, sizeof(pp), "%s/accessPolicies/replace", p) >= (int)sizeof(pp))
        return -1;
    json_t *v = NULL, *list = json_array(), *keys = json_array(), *body = NULL, *r = NULL;
    int rc = -1;
    for (int i = 0; i < n; i++)
        json_array_append_new(keys, json_string(perms[i]));
    if (get_policy_vault(c, p, &v, e))
        goto out;
    const json_t *props = json_object_get(v, "properties");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(props, "accessPolicies"), i, it)
    {
        const char *o = json_string_value(json_object_get(it, "objectId"));
        const char *app = json_string_value(json_object_get(it, "applicationId"));
        if (o && strcasecmp(o, oid) == 0 && (app == NULL || *app == '\0'))
            continue; /* replaced below */
        json_array_append(list, it);
    }
    json_t *entry = json_pack("{s:s,s:{s:O}}", "objectId", oid, "permissions", "keys", keys);
    const json_t *tenant = json_object_get(props, "tenantId");
    if (json_is_string(tenant))
        json_object_set(entry, "tenantId", (json_t *)tenant);
    json_array_append_new(list, entry);
    body = json_pack("{s:{s:O}}", "properties", "accessPolicies", list);
    if (cli_vault_mgmt(c, "PUT", pp, body, &r, e))
        goto out;
    rc = cli_vault_mgmt(c, "GET", p, NULL, res, e);
out:
    json_decref(v);
    json_decref(list);
    json_decref(keys);
    json_decref(body);
    json_decref(r);
    return rc;
}

static int run_delete_policy(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024], pp[1100];
    json_t *r = NULL;
    if (vault_path(c, p, sizeof(p), a, NULL, e) ||
        snprintf(pp, sizeof(pp), "%s/accessPolicies/remove", p) >= (int)sizeof(pp) ||
        get_policy_vault(c, p, &r, e)) {
        json_decref(r);
        return -1;
    }
    json_decref(r);
    r = NULL;
    json_t *body = json_pack("{s:{s:[{s:s,s:{s:[]}}]}}", "properties", "accessPolicies", "objectId",
                             cli_args_get(a, "object-id"), "permissions", "keys");
    int rc = cli_vault_mgmt(c, "PUT", pp, body, &r, e);
    json_decref(body);
    json_decref(r);
    if (rc)
        return -1;
    return cli_vault_mgmt(c, "GET", p, NULL, res, e);
}

static const cli_opt create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"enable-rbac-authorization", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"retention-days", NULL, CLI_OPT_VALUE, 0, "7..90"},
    {"tenant", NULL, CLI_OPT_VALUE, 0, "TENANT_ID"},
    {0},
};
static const cli_opt update_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"enable-rbac-authorization", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"retention-days", NULL, CLI_OPT_VALUE, 0, "7..90"},
    {0},
};
static const cli_opt vault_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt list_opts[] = {CLI_OPT_GROUP, {0}};
static const cli_opt set_policy_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"object-id", NULL, CLI_OPT_VALUE, 1, "OBJECT_ID"},
    {"key-permissions", NULL, CLI_OPT_MULTI, 1, "PERM"},
    {0},
};
static const cli_opt delete_policy_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"object-id", NULL, CLI_OPT_VALUE, 1, "OBJECT_ID"},
    {0},
};

/* -o table of `keyvault list` */
static const cli_column list_table[] = {
    {"Name", "name"},
    {"ResourceGroup", "resourceGroup"},
    {"Location", "location"},
    {"VaultUri", "properties.vaultUri"},
    {"PurgeProtection", "properties.enablePurgeProtection"},
    {"RetentionDays", "properties.softDeleteRetentionInDays"},
    {0},
};

const cli_verb cli_keyvault_verbs[] = {
    {"create",
     "Create a vault in a resource group (or update it when it exists); "
     "--enable-rbac-authorization: Azure RBAC instead of access policies.",
     create_opts, run_create,
     "coffer keyvault create -g myresourcegroup -n myvault --enable-purge-protection", NULL},
    {"show", "Show a vault.", vault_opts, run_show,
     "coffer keyvault show -n myvault --query properties.vaultUri -o tsv", NULL},
    {"delete", "Delete a vault (refused while it holds keys, live or deleted).", vault_opts,
     run_delete, "coffer keyvault delete -n myvault", NULL},
    {"list", "List the vaults of a resource group, or of the subscription.", list_opts, run_list,
     "coffer keyvault list --query [].name -o tsv", list_table},
    {"update", "Change a vault's purge protection (never off again) or retention.", update_opts,
     run_update, "coffer keyvault update -n default --enable-purge-protection true", NULL},
    {"set-policy", "Set an identity's key permissions on a vault (exactly the list given).",
     set_policy_opts, run_set_policy,
     "coffer keyvault set-policy -n myvault --object-id PRINCIPAL_ID --key-permissions get "
     "wrapKey unwrapKey",
     NULL},
    {"delete-policy", "Remove an identity's access policy from a vault.", delete_policy_opts,
     run_delete_policy, "coffer keyvault delete-policy -n myvault --object-id PRINCIPAL_ID", NULL},
    {0},
};
