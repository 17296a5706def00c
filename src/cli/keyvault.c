/*
 * keyvault.c -- `coffer keyvault`, `coffer keyvault network-rule`: vaults,
 * their access policies and network rules on keyvaultd's management API
 * (`/vaults/...`, `/deletedVaults/...` at vault_url, admin token).
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

static int vault_path(char *p, size_t n, const cli_args *a, const char *suffix, cli_err *e)
{
    p[0] = '\0';
    if (cli_path_add(p, n, "/vaults/", cli_args_get(a, "name"), e))
        return -1;
    return suffix ? cli_path_add(p, n, suffix, NULL, e) : 0;
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
    int drc = cli_args_int(a, "retention-days", 7, 90, &days, e);
    *out = NULL;
    if (pp == -2 || drc < 0 || choice_of(a, "default-action", "Allow", "Deny", &action, e) ||
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
    *out = props;
    return 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    json_t *props;
    if (vault_path(p, sizeof(p), a, NULL, e) || props_of(a, &props, e))
        return -1;
    json_t *body = json_pack("{s:o}", "properties", props);
    int rc = cli_vault_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_update(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    json_t *props;
    if (vault_path(p, sizeof(p), a, NULL, e) || props_of(a, &props, e))
        return -1;
    if (json_object_size(props) == 0) {
        json_decref(props);
        return cli_usage(e, "usage error: give --enable-purge-protection, --retention-days, "
                            "--default-action or --bypass");
    }
    json_t *body = json_pack("{s:o}", "properties", props);
    int rc = cli_vault_mgmt(c, "PATCH", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (vault_path(p, sizeof(p), a, NULL, e))
        return -1;
    return cli_vault_mgmt(c, "GET", p, NULL, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (vault_path(p, sizeof(p), a, NULL, e))
        return -1;
    return cli_delete_quiet(c, cli_vault_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    (void)a;
    return cli_list_values(c, cli_vault_mgmt, "/vaults", res, e);
}

static int deleted_path(char *p, size_t n, const cli_args *a, const char *suffix, cli_err *e)
{
    p[0] = '\0';
    if (cli_path_add(p, n, "/deletedVaults/", cli_args_get(a, "name"), e))
        return -1;
    return suffix ? cli_path_add(p, n, suffix, NULL, e) : 0;
}

static int run_list_deleted(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    (void)a;
    return cli_list_values(c, cli_vault_mgmt, "/deletedVaults", res, e);
}

static int run_show_deleted(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (deleted_path(p, sizeof(p), a, NULL, e))
        return -1;
    return cli_vault_mgmt(c, "GET", p, NULL, res, e);
}

/* az keyvault recover: ARM's PUT of the vault with createMode "recover". */
static int run_recover(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (vault_path(p, sizeof(p), a, NULL, e))
        return -1;
    json_t *body = json_pack("{s:{s:s}}", "properties", "createMode", "recover");
    int rc = cli_vault_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_purge(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    json_t *r = NULL;
    if (deleted_path(p, sizeof(p), a, "/purge", e) || cli_vault_mgmt(c, "POST", p, NULL, &r, e))
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
    char p[512];
    int n;
    const char *const *ips = cli_args_multi(a, "ip-address", &n);
    if (vault_path(p, sizeof(p), a, NULL, e))
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
    char p[512], pp[512];
    int n;
    const char *oid = cli_args_get(a, "object-id");
    const char *const *perms = cli_args_multi(a, "key-permissions", &n);
    if (vault_path(p, sizeof(p), a, NULL, e) ||
        vault_path(pp, sizeof(pp), a, "/accessPolicies/replace", e))
        return -1;
    json_t *v = NULL, *list = json_array(), *keys = json_array(), *body = NULL, *r = NULL;
    int rc = -1;
    for (int i = 0; i < n; i++)
        json_array_append_new(keys, json_string(perms[i]));
    if (cli_vault_mgmt(c, "GET", p, NULL, &v, e))
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
    char p[512], pp[512];
    json_t *r = NULL;
    if (vault_path(p, sizeof(p), a, NULL, e) ||
        vault_path(pp, sizeof(pp), a, "/accessPolicies/remove", e))
        return -1;
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
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"retention-days", NULL, CLI_OPT_VALUE, 0, "7..90"},
    {"tenant", NULL, CLI_OPT_VALUE, 0, "TENANT_ID"},
    NETWORK_OPTS,
    {0},
};
static const cli_opt update_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"retention-days", NULL, CLI_OPT_VALUE, 0, "7..90"},
    NETWORK_OPTS,
    {0},
};
static const cli_opt rule_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"ip-address", NULL, CLI_OPT_MULTI, 1, "IPV4[/PREFIX]"},
    {0},
};
static const cli_opt set_policy_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"object-id", NULL, CLI_OPT_VALUE, 1, "OBJECT_ID"},
    {"key-permissions", NULL, CLI_OPT_MULTI, 1, "PERM"},
    {0},
};
static const cli_opt delete_policy_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"object-id", NULL, CLI_OPT_VALUE, 1, "OBJECT_ID"},
    {0},
};

/* -o table of `keyvault list` and `keyvault list-deleted` */
static const cli_column list_table[] = {
    {"Name", "name"},
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
    {"create", "Create a vault (or update it when it exists).", create_opts, run_create,
     "coffer keyvault create -n myvault --enable-purge-protection --retention-days 7", NULL},
    {"show", "Show a vault.", cli_name_opts, run_show,
     "coffer keyvault show -n myvault --query properties.vaultUri -o tsv", NULL},
    {"delete",
     "Delete a vault and everything in it (soft: recoverable until its scheduled purge date).",
     cli_name_opts, run_delete, "coffer keyvault delete -n myvault", NULL},
    {"list", "List the vaults.", cli_no_opts, run_list,
     "coffer keyvault list --query [].name -o tsv", list_table},
    {"list-deleted", "List the soft-deleted vaults.", cli_no_opts, run_list_deleted,
     "coffer keyvault list-deleted --query [].name -o tsv", deleted_table},
    {"show-deleted", "Show a soft-deleted vault (deletion and scheduled purge dates).",
     cli_name_opts, run_show_deleted,
     "coffer keyvault show-deleted -n myvault --query properties.scheduledPurgeDate -o tsv", NULL},
    {"recover", "Recover a soft-deleted vault with everything in it.", cli_name_opts, run_recover,
     "coffer keyvault recover -n myvault", NULL},
    {"purge",
     "Purge a soft-deleted vault for good, with every key in it (refused under purge protection "
     "before the scheduled date). Registries encrypted under its keys are destroyed with it.",
     cli_name_opts, run_purge, "coffer keyvault purge -n myvault", NULL},
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
    {"list", "Show a vault's network rules (properties.networkAcls).", cli_name_opts, run_rule_list,
     "coffer keyvault network-rule list -n myvault --query ipRules[].value -o tsv", NULL},
    {0},
};
