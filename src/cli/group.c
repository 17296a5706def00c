/*
 * group.c -- `coffer group`, `coffer account`, `coffer configure`: the
 * resource groups and subscriptions of cofferd's management API, and the
 * client's defaults, as az's `az group`, `az account` and `az configure`.
 *
 * `group delete` deletes what the group holds, in keyvaultd (its vaults,
 * first) and in cofferd (its registries and identities, with the group),
 * and asks before it does, as az does: on a terminal it asks; otherwise
 * (a script) a group that holds resources is only deleted with --yes, and
 * an empty one without. `account set` and `configure --defaults` write the
 * config file (0600, atomically) that every later command reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/verbs.h"

/* ---- group ---- */

static int group_path(cli_ctx *c, const char *name, char *p, size_t n, cli_err *e)
{
    const char *sub;
    if (!arm_group_name_valid(name))
        return cli_usage(e,
                         "argument --name/-n: '%.100s' is not a resource group name (1-90 of "
                         "letters, digits, '.', '_', '-', '(' and ')', not ending with '.')",
                         name);
    if (cli_subscription(c, &sub, e))
        return -1;
    snprintf(p, n, "/subscriptions/%s/resourcegroups/%s", sub, name);
    return 0;
}

/* --name/-n or --resource-group/-g (az group show takes either). */
static const char *group_name(const cli_args *a, cli_err *e)
{
    const char *n = cli_args_get(a, "name"), *g = cli_args_get(a, "resource-group");
    if (n && g) {
        cli_usage(e, "give --name/-n or --resource-group/-g, not both");
        return NULL;
    }
    if (n == NULL && g == NULL)
        cli_usage(e, "the following arguments are required: --name/-n");
    return n ? n : g;
}

static int run_group_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *name = group_name(a, e), *loc = cli_args_get(a, "location");
    char p[512];
    if (name == NULL)
        return -1;
    if (loc == NULL) {
        if (cli_ctx_config(c, e))
            return -1;
        loc = c->cfg.location;
    }
    if (loc == NULL)
        return cli_usage(e, "the following arguments are required: --location/-l (or set a "
                            "default: coffer configure --defaults location=NAME)");
    if (group_path(c, name, p, sizeof(p), e))
        return -1;
    json_t *body = json_pack("{s:s}", "location", loc);
    int rc = cli_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_group_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *name = group_name(a, e);
    char p[512];
    if (name == NULL || group_path(c, name, p, sizeof(p), e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_group_exists(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *g = NULL;
    const char *name = group_name(a, e);
    char p[512];
    if (name == NULL || group_path(c, name, p, sizeof(p), e))
        return -1;
    if (cli_mgmt(c, "GET", p, NULL, &g, e)) {
        if (strcmp(e->code, "ResourceGroupNotFound") != 0)
            return -1;
        memset(e, 0, sizeof(*e));
        *res = json_false();
        return 0;
    }
    json_decref(g);
    *res = json_true();
    return 0;
}

static int run_group_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *sub;
    char p[128];
    (void)a;
    if (cli_subscription(c, &sub, e))
        return -1;
    snprintf(p, sizeof(p), "/subscriptions/%s/resourcegroups", sub);
    return cli_list_values(c, cli_mgmt, p, res, e);
}

static int run_group_export(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *name = group_name(a, e);
    char p[512];
    if (name == NULL || group_path(c, name, p, sizeof(p), e))
        return -1;
    return cli_group_export(c, name, res, e);
}

/* Asks on a terminal; 1 when the answer is yes. */
static int confirm(cli_ctx *c)
{
    if (!isatty(STDIN_FILENO))
        return 0;
    fputs("Are you sure you want to perform this operation? (y/n): ", c->err);
    fflush(c->err);
    char line[16];
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static int run_group_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *name = group_name(a, e);
    int yes = cli_args_bool(a, "yes", e);
    char p[512], vp[640];
    json_t *g = NULL, *held = NULL, *vaults = NULL;
    int rc = -1;
    if (name == NULL || yes == -2 || group_path(c, name, p, sizeof(p), e))
        return -1;
    /* the group, what cofferd holds in it, and its vaults in keyvaultd */
    snprintf(vp, sizeof(vp), "%s/resources", p);
    if (cli_mgmt(c, "GET", p, NULL, &g, e) || cli_list_values(c, cli_mgmt, vp, &held, e) ||
        cli_collection_path(c, name, ARM_NS_VAULT, ARM_TYPE_VAULT, vp, sizeof(vp), e) ||
        cli_list_values(c, cli_vault_mgmt, vp, &vaults, e))
        goto out;
    size_t n = json_array_size(held) + json_array_size(vaults);
    if (n > 0 && yes != 1 && !confirm(c)) {
        char list[600] = "";
        size_t i, used = 0;
        json_t *it;
        json_t *both[2] = {vaults, held};
        for (int k = 0; k < 2; k++) {
            json_array_foreach(both[k], i, it)
            {
                const char *t = json_string_value(json_object_get(it, "type"));
                int w =
                    snprintf(list + used, sizeof(list) - used, "%s%s/%s", used ? ", " : "",
                             t ? t : "resource", json_string_value(json_object_get(it, "name")));
                if (w > 0 && (size_t)w < sizeof(list) - used)
                    used += (size_t)w;
            }
        }
        cli_fail(e, "ConfirmationRequired",
                 "Resource group '%s' holds %zu resource%s (%s): deleting it deletes them all. "
                 "Run again with --yes to confirm.",
                 name, n, n == 1 ? "" : "s", list);
        goto out;
    }
    size_t i;
    json_t *it;
    json_array_foreach(vaults, i, it)
    {
        json_t *r = NULL;
        const char *id = json_string_value(json_object_get(it, "id"));
        arm_path ap;
        if (!cli_arm_id_is(id, ARM_NS_VAULT, ARM_TYPE_VAULT, &ap)) {
            cli_fail(e, "InvalidResponse", "keyvaultd listed a vault without a resource id");
            goto out;
        }
        if (cli_vault_mgmt(c, "DELETE", id, NULL, &r, e))
            goto out;
        json_decref(r);
    }
    json_t *r = NULL;
    if (cli_mgmt(c, "DELETE", p, NULL, &r, e))
        goto out;
    json_decref(r);
    *res = NULL;
    rc = 0;
out:
    json_decref(g);
    json_decref(held);
    json_decref(vaults);
    return rc;
}

/* ---- account ---- */

/* A subscription as az account shows it. */
static json_t *account_json(const json_t *s, const char *current)
{
    const char *id = json_string_value(json_object_get(s, "subscriptionId"));
    const char *name = json_string_value(json_object_get(s, "displayName"));
    return json_pack("{s:s,s:s,s:b,s:s,s:O,s:O}", "environmentName", "coffer", "id", id ? id : "",
                     "isDefault", id && current && strcasecmp(id, current) == 0, "name",
                     name ? name : "", "state", json_object_get(s, "state"), "tenantId",
                     json_object_get(s, "tenantId"));
}

static int run_account_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *sub;
    char p[128];
    json_t *s = NULL;
    (void)a;
    if (cli_subscription(c, &sub, e))
        return -1;
    snprintf(p, sizeof(p), "/subscriptions/%s", sub);
    if (cli_mgmt(c, "GET", p, NULL, &s, e))
        return -1;
    *res = account_json(s, sub);
    json_decref(s);
    return 0;
}

static int run_account_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *sub;
    json_t *list = NULL;
    (void)a;
    if (cli_subscription(c, &sub, e) || cli_list_values(c, cli_mgmt, "/subscriptions", &list, e))
        return -1;
    *res = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) json_array_append_new(*res, account_json(it, sub));
    json_decref(list);
    return 0;
}

static int run_account_set(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *want = cli_args_get(a, "subscription");
    json_t *list = NULL;
    if (cli_list_values(c, cli_mgmt, "/subscriptions", &list, e))
        return -1;
    const char *found = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "subscriptionId"));
        const char *dn = json_string_value(json_object_get(it, "displayName"));
        if ((id && strcasecmp(id, want) == 0) || (dn && strcmp(dn, want) == 0))
            found = id;
    }
    int rc = found ? cli_config_write("subscription", found, e)
                   : cli_fail(e, "SubscriptionNotFound",
                              "The subscription of name or id '%.100s' doesn't exist (coffer "
                              "account list).",
                              want);
    json_decref(list);
    *res = NULL;
    return rc;
}

/* ---- configure ---- */

static int run_configure(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    int n, list = cli_args_bool(a, "list-defaults", e);
    const char *const *d = cli_args_multi(a, "defaults", &n);
    static const char *const keys[] = {"group", "location"};
    if (list == -2)
        return -1;
    if (n == 0 && list != 1)
        return cli_usage(e, "give --defaults KEY=VALUE... (group, location) or --list-defaults");
    for (int i = 0; i < n; i++) { /* check them all before writing any */
        const char *eq = strchr(d[i], '=');
        size_t kn = eq ? (size_t)(eq - d[i]) : 0;
        int known = 0;
        for (size_t k = 0; eq && k < sizeof(keys) / sizeof(keys[0]); k++)
            known |= strlen(keys[k]) == kn && strncmp(keys[k], d[i], kn) == 0;
        if (!known)
            return cli_usage(e,
                             "argument --defaults: '%.64s' is not KEY=VALUE with KEY one of "
                             "group, location",
                             d[i]);
        if (kn == 5 && eq[1] && !arm_group_name_valid(eq + 1))
            return cli_usage(e, "argument --defaults: '%.100s' is not a resource group name",
                             eq + 1);
    }
    for (int i = 0; i < n; i++) {
        char key[16];
        const char *eq = strchr(d[i], '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - d[i]), d[i]);
        if (cli_config_write(key, eq + 1, e))
            return -1;
    }
    *res = NULL;
    if (list != 1)
        return 0;
    /* what is set now, as az configure --list-defaults shows it */
    cli_config cfg;
    char path[512];
    if (cli_config_file(path, sizeof(path), e) || cli_config_load(&cfg, e))
        return -1;
    json_t *arr = json_array();
    const char *vals[] = {cfg.group, cfg.location};
    for (size_t k = 0; k < 2; k++)
        if (vals[k])
            json_array_append_new(
                arr, json_pack("{s:s,s:s,s:s}", "name", keys[k], "source", path, "value", vals[k]));
    cli_config_free(&cfg);
    *res = arr;
    (void)c;
    return 0;
}

static const cli_opt group_create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 0, "NAME"},
    {"resource-group", "g", CLI_OPT_VALUE, 0, "NAME"},
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {0},
};
static const cli_opt group_name_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 0, "NAME"},
    {"resource-group", "g", CLI_OPT_VALUE, 0, "NAME"},
    {0},
};
static const cli_opt group_delete_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 0, "NAME"},
    {"resource-group", "g", CLI_OPT_VALUE, 0, "NAME"},
    {"yes", "y", CLI_OPT_BOOL, 0, "true|false"},
    {0},
};
static const cli_opt account_set_opts[] = {
    {"subscription", "s", CLI_OPT_VALUE, 1, "ID|NAME"},
    {0},
};
static const cli_opt configure_opts[] = {
    {"defaults", "d", CLI_OPT_MULTI, 0, "KEY=VALUE"},
    {"list-defaults", "l", CLI_OPT_BOOL, 0, "true|false"},
    {0},
};

/* -o table, az's columns */
static const cli_column group_table[] = {
    {"Name", "name"},
    {"Location", "location"},
    {"Status", "properties.provisioningState"},
    {0},
};
static const cli_column account_table[] = {
    {"Name", "name"},   {"SubscriptionId", "id"},   {"TenantId", "tenantId"},
    {"State", "state"}, {"IsDefault", "isDefault"}, {0},
};

const cli_verb cli_group_verbs[] = {
    {"create", "Create a resource group (no change when it exists in that location).",
     group_create_opts, run_group_create,
     "coffer group create --name myresourcegroup --location local", NULL},
    {"show", "Show a resource group.", group_name_opts, run_group_show,
     "coffer group show -n myresourcegroup --query location -o tsv", NULL},
    {"exists", "Print whether a resource group exists (true or false).", group_name_opts,
     run_group_exists, "coffer group exists -n myresourcegroup", NULL},
    {"list", "List the subscription's resource groups.", cli_no_opts, run_group_list,
     "coffer group list -o table", group_table},
    {"delete",
     "Delete a resource group and everything in it: vaults, registries (their keys wiped) and "
     "identities; asks first, or --yes.",
     group_delete_opts, run_group_delete, "coffer group delete -n myresourcegroup --yes", NULL},
    {"export",
     "Write the ARM template that recreates the group's identities, vaults, keys and registries "
     "(names are parameters).",
     group_name_opts, run_group_export,
     "coffer group export -n myresourcegroup > setup.json && coffer deployment group create -g "
     "othergroup -f setup.json",
     NULL},
    {0},
};

const cli_verb cli_account_verbs[] = {
    {"create", "Create a subscription (the operator's admin token).", cli_account_create_opts,
     cli_run_account_create, "coffer account create --display-name contoso", NULL},
    {"show", "Show the current subscription.", cli_no_opts, run_account_show,
     "coffer account show --query id -o tsv", NULL},
    {"list", "List the subscriptions.", cli_no_opts, run_account_list,
     "coffer account list -o table", account_table},
    {"set", "Make a subscription the current one (written to the config file).", account_set_opts,
     run_account_set, "coffer account set --subscription 00000000-0000-0000-0000-000000000000",
     NULL},
    {0},
};

/* `coffer configure --defaults ...`: the group's verb without a word */
const cli_verb cli_configure_verbs[] = {
    {"", "Set defaults (group, location) for every later command, as az configure.", configure_opts,
     run_configure, "coffer configure --defaults group=myresourcegroup", NULL},
    {0},
};
