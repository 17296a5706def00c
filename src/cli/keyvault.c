/*
 * keyvault.c -- `coffer keyvault`, `coffer keyvault network-rule`: vaults,
 * their access policies, network rules and soft delete on keyvaultd's
 * management API (at vault_url, admin token), each vault at its ARM path
 * (/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/
 * NAME), a soft-deleted one at /subscriptions/S/providers/
 * Microsoft.KeyVault/locations/L/deletedVaults/NAME. Groups are cofferd's:
 * `create` and `recover` check the group there first
 * (ResourceGroupNotFound, as ARM answers); `create` takes the group's
 * location unless -l says otherwise, as az does.
 *
 * set-policy does what az keyvault set-policy does: it reads the vault and
 * sets the object id's key permissions to exactly the list given (other
 * identities untouched), with one `accessPolicies/replace`. delete-policy
 * removes the object id's entry with one `accessPolicies/remove`, which the
 * vault refuses when there is none (az: "No matching policies found"). Both
 * then print the vault, as az does.
 *
 * delete soft-deletes a whole vault; list-deleted, show-deleted, recover
 * (ARM's PUT with createMode "recover") and purge act on deleted ones.
 * network-rule add|remove read the vault, compute its new ipRules (as az
 * does, client side) and PATCH them; update --default-action/--bypass
 * PATCH those members of properties.networkAcls.
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

/* --NAME's value, one of two words (case-insensitively), canonical; NULL
 * when absent. */
static int choice_of(const cli_args *a, const char *name, const char *w1, const char *w2,
                     const char **out, cli_err *e)
{
    const char *v = cli_args_get(a, name);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (strcasecmp(v, w1) == 0 || strcasecmp(v, w2) == 0) {
        *out = strcasecmp(v, w1) == 0 ? w1 : w2;
        return 0;
    }
    return cli_usage(e, "argument --%s: invalid choice: '%.64s' (choose from '%s', '%s')", name, v,
                     w1, w2);
}

/* The properties object of create/update from the options. */
static int props_of(const cli_args *a, json_t **out, cli_err *e)
{
    long days = 0;
    const char *action, *bypass;
    int pp = cli_args_bool(a, "enable-purge-protection", e);
    int rbac = pp == -2 ? -2 : cli_args_bool(a, "enable-rbac-authorization", e);
    int drc = cli_args_int(a, "retention-days", 7, 90, &days, e);
    *out = NULL;
    if (pp == -2 || rbac == -2 || drc < 0 ||
        choice_of(a, "default-action", "Allow", "Deny", &action, e) ||
        choice_of(a, "bypass", "AzureServices", "None", &bypass, e))
        return -1;
    json_t *props = json_object();
    if (action || bypass) {
        json_t *acls = json_object();
        if (action)
            json_object_set_new(acls, "defaultAction", json_string(action));
        if (bypass)
            json_object_set_new(acls, "bypass", json_string(bypass));
        json_object_set_new(props, "networkAcls", acls);
    }
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
                            "--enable-rbac-authorization, --retention-days, --default-action or "
                            "--bypass");
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

/* The path of the subscription's soft-deleted vaults (ARM: per
 * subscription, each at .../locations/L/deletedVaults/NAME). */
static int deleted_list_path(cli_ctx *c, char *p, size_t n, cli_err *e)
{
    const char *sub;
    if (cli_subscription(c, &sub, e))
        return -1;
    snprintf(p, n, "/subscriptions/%s/providers/%s/deletedVaults", sub, ARM_NS_VAULT);
    return 0;
}

/* The soft-deleted vault of --name: at --location when given, else found
 * among the subscription's (as az looks it up). */
static int deleted_get(cli_ctx *c, const cli_args *a, json_t **out, cli_err *e)
{
    const char *name = cli_args_get(a, "name"), *loc = cli_args_get(a, "location"), *sub;
    char p[1024];
    json_t *list = NULL, *it;
    size_t i;
    *out = NULL;
    if (loc) {
        if (cli_subscription(c, &sub, e))
            return -1;
        snprintf(p, sizeof(p), "/subscriptions/%s/providers/%s", sub, ARM_NS_VAULT);
        if (cli_path_add(p, sizeof(p), "/locations/", loc, e) ||
            cli_path_add(p, sizeof(p), "/deletedVaults/", name, e))
            return -1;
        return cli_vault_mgmt(c, "GET", p, NULL, out, e);
    }
    if (deleted_list_path(c, p, sizeof(p), e) || cli_list_values(c, cli_vault_mgmt, p, &list, e))
        return -1;
    json_array_foreach(list, i, it)
    {
        const char *nm = json_string_value(json_object_get(it, "name"));
        if (*out == NULL && nm && strcasecmp(nm, name) == 0)
            *out = json_incref(it);
    }
    json_decref(list);
    if (*out == NULL)
        return cli_fail(e, "ResourceNotFound",
                        "There is no soft-deleted vault '%.64s' in this subscription (coffer "
                        "keyvault list-deleted).",
                        name);
    return 0;
}

static int run_list_deleted(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    (void)a;
    if (deleted_list_path(c, p, sizeof(p), e))
        return -1;
    return cli_list_values(c, cli_vault_mgmt, p, res, e);
}

static int run_show_deleted(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return deleted_get(c, a, res, e);
}

/* az keyvault recover: ARM's PUT of the vault with createMode "recover",
 * at its id (properties.vaultId of the deleted vault) unless -g says
 * where; the group must still exist (cofferd). */
static int run_recover(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    const char *group = cli_args_get(a, "resource-group");
    json_t *d = NULL, *g = NULL;
    arm_path ap;
    int rc = -1;
    if (group) {
        if (cli_collection_path(c, group, ARM_NS_VAULT, ARM_TYPE_VAULT, p, sizeof(p), e) ||
            cli_path_add(p, sizeof(p), "/", cli_args_get(a, "name"), e))
            return -1;
    } else {
        if (deleted_get(c, a, &d, e))
            return -1;
        const char *vid =
            json_string_value(json_object_get(json_object_get(d, "properties"), "vaultId"));
        if (vid == NULL || !cli_arm_id_is(vid, ARM_NS_VAULT, ARM_TYPE_VAULT, &ap)) {
            cli_fail(e, "InvalidResponse", "The deleted vault has no vault id.");
            goto out;
        }
        snprintf(p, sizeof(p), "%s", vid);
        group = ap.group;
    }
    if (cli_group_get(c, group, &g, e))
        goto out;
    json_t *body = json_pack("{s:{s:s}}", "properties", "createMode", "recover");
    const char *loc = cli_args_get(a, "location");
    if (loc)
        json_object_set_new(body, "location", json_string(loc));
    rc = cli_vault_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
out:
    json_decref(d);
    json_decref(g);
    return rc;
}

static int run_purge(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    json_t *d = NULL, *r = NULL;
    if (deleted_get(c, a, &d, e))
        return -1;
    const char *id = json_string_value(json_object_get(d, "id"));
    int rc = id ? 0 : cli_fail(e, "InvalidResponse", "The deleted vault has no id.");
    if (rc == 0)
        snprintf(p, sizeof(p), "%s/purge", id);
    json_decref(d);
    if (rc || cli_vault_mgmt(c, "POST", p, NULL, &r, e))
        return -1;
    json_decref(r);
    *res = NULL;
    return 0;
}

/* "a.b.c.d" and "a.b.c.d/32" are one rule: the vault stores the latter. */
static void rule_canon(char *out, size_t n, const char *ip)
{
    snprintf(out, n, strchr(ip, '/') ? "%s" : "%s/32", ip);
}

/* network-rule add (add = 1) or remove of --ip-address values; prints the
 * vault (unchanged, without a write, when nothing changes: az). */
static int change_rules(cli_ctx *c, const cli_args *a, int add, json_t **res, cli_err *e)
{
    char p[1024];
    int n;
    const char *const *ips = cli_args_multi(a, "ip-address", &n);
    if (vault_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    json_t *v = NULL, *rules = json_array(), *body = NULL;
    int rc = -1, changed = 0;
    if (cli_vault_mgmt(c, "GET", p, NULL, &v, e))
        goto out;
    const json_t *cur = json_object_get(
        json_object_get(json_object_get(v, "properties"), "networkAcls"), "ipRules");
    size_t i;
    json_t *r;
    json_array_foreach((json_t *)cur, i, r)
    {
        const char *val = json_string_value(json_object_get(r, "value"));
        int drop = 0;
        for (int k = 0; !add && val && k < n; k++) {
            char canon[64];
            rule_canon(canon, sizeof(canon), ips[k]);
            drop |= strcmp(canon, val) == 0;
        }
        if (drop)
            changed = 1;
        else
            json_array_append(rules, r);
    }
    for (int k = 0; add && k < n; k++) {
        char canon[64];
        int have = 0;
        rule_canon(canon, sizeof(canon), ips[k]);
        json_array_foreach(rules, i, r)
        {
            const char *val = json_string_value(json_object_get(r, "value"));
            have |= val && strcmp(val, canon) == 0;
        }
        if (!have) {
            json_array_append_new(rules, json_pack("{s:s}", "value", ips[k]));
            changed = 1;
        }
    }
    if (!changed) {
        *res = v;
        v = NULL;
        rc = 0;
        goto out;
    }
    body = json_pack("{s:{s:{s:O}}}", "properties", "networkAcls", "ipRules", rules);
    rc = cli_vault_mgmt(c, "PATCH", p, body, res, e);
out:
    json_decref(v);
    json_decref(rules);
    json_decref(body);
    return rc;
}

static int run_rule_add(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return change_rules(c, a, 1, res, e);
}

static int run_rule_remove(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return change_rules(c, a, 0, res, e);
}

/* az keyvault network-rule list: the vault's properties.networkAcls. */
static int run_rule_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *v = NULL;
    if (run_show(c, a, &v, e))
        return -1;
    json_t *acls = json_object_get(json_object_get(v, "properties"), "networkAcls");
    *res = acls ? json_incref(acls) : json_null();
    json_decref(v);
    return 0;
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

#define NETWORK_OPTS                                                                               \
    {"default-action", NULL, CLI_OPT_VALUE, 0, "Allow|Deny"},                                      \
    {                                                                                              \
        "bypass", NULL, CLI_OPT_VALUE, 0, "AzureServices|None"                                     \
    }
static const cli_opt create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"enable-rbac-authorization", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"retention-days", NULL, CLI_OPT_VALUE, 0, "7..90"},
    {"tenant", NULL, CLI_OPT_VALUE, 0, "TENANT_ID"},
    NETWORK_OPTS,
    {0},
};
static const cli_opt update_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"enable-rbac-authorization", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"retention-days", NULL, CLI_OPT_VALUE, 0, "7..90"},
    NETWORK_OPTS,
    {0},
};
static const cli_opt rule_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"ip-address", NULL, CLI_OPT_MULTI, 1, "IPV4[/PREFIX]"},
    {0},
};
static const cli_opt vault_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt list_opts[] = {CLI_OPT_GROUP, {0}};
static const cli_opt deleted_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {0},
};
static const cli_opt recover_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {0},
};
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

/* -o table of `keyvault list` and `keyvault list-deleted` */
static const cli_column list_table[] = {
    {"Name", "name"},
    {"ResourceGroup", "resourceGroup"},
    {"Location", "location"},
    {"VaultUri", "properties.vaultUri"},
    {"PurgeProtection", "properties.enablePurgeProtection"},
    {"RetentionDays", "properties.softDeleteRetentionInDays"},
    {0},
};
static const cli_column deleted_table[] = {
    {"Name", "name"},
    {"DeletionDate", "properties.deletionDate"},
    {"ScheduledPurgeDate", "properties.scheduledPurgeDate"},
    {"PurgeProtection", "properties.purgeProtectionEnabled"},
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
    {"delete",
     "Delete a vault and everything in it (soft: recoverable until its scheduled purge date).",
     vault_opts, run_delete, "coffer keyvault delete -n myvault", NULL},
    {"list", "List the vaults of a resource group, or of the subscription.", list_opts, run_list,
     "coffer keyvault list --query [].name -o tsv", list_table},
    {"list-deleted", "List the subscription's soft-deleted vaults.", cli_no_opts, run_list_deleted,
     "coffer keyvault list-deleted --query [].name -o tsv", deleted_table},
    {"show-deleted", "Show a soft-deleted vault (deletion and scheduled purge dates).",
     deleted_opts, run_show_deleted,
     "coffer keyvault show-deleted -n myvault --query properties.scheduledPurgeDate -o tsv", NULL},
    {"recover",
     "Recover a soft-deleted vault with everything in it, in its resource group (which must "
     "exist).",
     recover_opts, run_recover, "coffer keyvault recover -n myvault", NULL},
    {"purge",
     "Purge a soft-deleted vault for good, with every key in it (refused under purge protection "
     "before the scheduled date). Registries encrypted under its keys are destroyed with it.",
     deleted_opts, run_purge, "coffer keyvault purge -n myvault", NULL},
    {"update",
     "Change a vault's purge protection (never off again), retention or network rules' default "
     "action and bypass.",
     update_opts, run_update,
     "coffer keyvault update -n myvault --default-action Deny --bypass None", NULL},
    {"set-policy", "Set an identity's key permissions on a vault (exactly the list given).",
     set_policy_opts, run_set_policy,
     "coffer keyvault set-policy -n myvault --object-id PRINCIPAL_ID --key-permissions get "
     "wrapKey unwrapKey",
     NULL},
    {"delete-policy", "Remove an identity's access policy from a vault.", delete_policy_opts,
     run_delete_policy, "coffer keyvault delete-policy -n myvault --object-id PRINCIPAL_ID", NULL},
    {0},
};

const cli_verb cli_keyvault_network_rule_verbs[] = {
    {"add", "Allow client addresses (IPv4 or CIDR) through a vault's network rules.", rule_opts,
     run_rule_add, "coffer keyvault network-rule add -n myvault --ip-address 192.0.2.7 10.1.0.0/16",
     NULL},
    {"remove", "Remove client addresses from a vault's network rules.", rule_opts, run_rule_remove,
     "coffer keyvault network-rule remove -n myvault --ip-address 192.0.2.7", NULL},
    {"list", "Show a vault's network rules (properties.networkAcls).", vault_opts, run_rule_list,
     "coffer keyvault network-rule list -n myvault --query ipRules[].value -o tsv", NULL},
    {0},
};
