/*
 * principal.c -- the tenant's side of cofferd's management API
 * (docs/cli.md, "Tenants"): subscriptions, service principals, logging in.
 *
 *   coffer account create --display-name NAME [--subscription-id ID]
 *       the operator (admin token) creates a subscription (az's account
 *       extension has `az account create`; its id is new unless given)
 *   coffer ad sp create-for-rbac --name NAME [--role ROLE --scopes SCOPE...]
 *       a service principal in the subscription of its first scope (or the
 *       current one), then its role assignments; prints az's
 *       {appId, displayName, password, tenant}: the password is shown once
 *   coffer ad sp list | show --id ID | delete --id ID
 *   coffer ad sp credential reset --id ID     a new password
 *   coffer login --service-principal -u APPID -p PASSWORD [--tenant T]
 *       checks the credentials, then writes `token = APPID.PASSWORD`
 *       (the bearer cofferd takes) and the first subscription it sees to
 *       the config file (0600), as az login keeps its credentials
 *   coffer logout                             drops the token line
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "cli/config.h"
#include "cli/verbs.h"

/* ---- account create ---- */

int cli_run_account_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *name = cli_args_get(a, "display-name"), *id = cli_args_get(a, "subscription-id");
    char sid[37], path[80];
    if (id && !cli_is_uuid(id))
        return cli_usage(e, "argument --subscription-id: '%.64s' is not a subscription id", id);
    if (id == NULL) {
        if (cli_new_uuid(sid, e))
            return -1;
        id = sid;
    }
    snprintf(path, sizeof(path), "/subscriptions/%s", id);
    json_t *body = json_pack("{s:s}", "displayName", name);
    int rc = cli_mgmt(c, "PUT", path, body, res, e);
    json_decref(body);
    return rc;
}

/* ---- ad sp ---- */

/* The subscription of a scope ("/subscriptions/S/..."), into out. */
static int scope_sub(const char *scope, char out[40], cli_err *e)
{
    arm_path ap;
    if (arm_path_parse(&ap, scope, strlen(scope)) != 0 || ap.sub[0] == '\0')
        return cli_usage(e,
                         "argument --scopes: '%.200s' is not a subscription, resource group or "
                         "resource id",
                         scope);
    snprintf(out, 40, "%s", ap.sub);
    return 0;
}

static int run_sp_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *name = cli_args_get(a, "name"), *role = cli_args_get(a, "role");
    int nscopes;
    const char *const *scopes = cli_args_multi(a, "scopes", &nscopes);
    char sub[40], guid[37], url[1200];
    json_t *sp = NULL, *body = NULL, *r = NULL;
    int rc = -1;
    if ((role == NULL) != (nscopes == 0))
        return cli_usage(e, "usage error: give --role and --scopes together, or neither");
    for (int i = 0; i < nscopes; i++)
        if (scope_sub(scopes[i], sub, e))
            return -1;
    if (nscopes) {
        scope_sub(scopes[0], sub, e);
    } else {
        const char *cur;
        if (cli_subscription(c, &cur, e))
            return -1;
        snprintf(sub, sizeof(sub), "%s", cur);
    }
    body = json_pack("{s:s,s:s}", "displayName", name, "subscriptionId", sub);
    if (cli_mgmt(c, "POST", "/principals", body, &sp, e))
        goto out;
    json_decref(body);
    body = NULL;
    for (int i = 0; i < nscopes; i++) {
        json_t *defs = NULL;
        if (cli_new_uuid(guid, e) ||
            cli_list_values(c, cli_mgmt, "/providers/Microsoft.Authorization/roleDefinitions",
                            &defs, e))
            goto out;
        const char *def_id = NULL;
        size_t k;
        json_t *it;
        json_array_foreach(defs, k, it)
        {
            const char *rn =
                json_string_value(json_object_get(json_object_get(it, "properties"), "roleName"));
            const char *gid = json_string_value(json_object_get(it, "name"));
            if ((rn && strcasecmp(rn, role) == 0) || (gid && strcasecmp(gid, role) == 0))
                def_id = json_string_value(json_object_get(it, "id"));
        }
        if (def_id == NULL) {
            json_decref(defs);
            cli_fail(e, "RoleNotFound",
                     "Role '%.200s' doesn't exist (coffer role definition list).", role);
            goto out;
        }
        body =
            json_pack("{s:{s:s,s:O,s:s}}", "properties", "roleDefinitionId", def_id, "principalId",
                      json_object_get(sp, "id"), "principalType", "ServicePrincipal");
        json_decref(defs);
        snprintf(url, sizeof(url), "%s/providers/Microsoft.Authorization/roleAssignments/%s",
                 scopes[i], guid);
        if (cli_mgmt(c, "PUT", url, body, &r, e))
            goto out;
        json_decref(body);
        json_decref(r);
        body = r = NULL;
    }
    /* az's answer */
    *res = json_pack("{s:O,s:O,s:O,s:O}", "appId", json_object_get(sp, "appId"), "displayName",
                     json_object_get(sp, "displayName"), "password",
                     json_object_get(sp, "password"), "tenant", json_object_get(sp, "tenant"));
    rc = 0;
out:
    json_decref(body);
    json_decref(r);
    json_decref(sp); /* its password text is the printed one's copy */
    return rc;
}

static int sp_path(char out[128], const char *id, const char *suffix, cli_err *e)
{
    if (!cli_is_uuid(id))
        return cli_usage(e, "argument --id: '%.64s' is not an appId or object id", id);
    snprintf(out, 128, "/principals/%s%s", id, suffix ? suffix : "");
    return 0;
}

static int run_sp_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    (void)a;
    return cli_list_values(c, cli_mgmt, "/principals", res, e);
}

static int run_sp_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[128];
    return sp_path(p, cli_args_get(a, "id"), NULL, e) || cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_sp_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[128];
    if (sp_path(p, cli_args_get(a, "id"), NULL, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_sp_reset(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[128];
    json_t *sp = NULL;
    if (sp_path(p, cli_args_get(a, "id"), "/resetPassword", e) ||
        cli_mgmt(c, "POST", p, NULL, &sp, e))
        return -1;
    *res = json_pack("{s:O,s:O,s:O}", "appId", json_object_get(sp, "appId"), "password",
                     json_object_get(sp, "password"), "tenant", json_object_get(sp, "tenant"));
    json_decref(sp);
    return 0;
}

/* ---- login, logout ---- */

static int run_login(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *user = cli_args_get(a, "username"), *pw = cli_args_get(a, "password");
    const char *sp = cli_args_get(a, "service-principal");
    char *tok = NULL;
    json_t *list = NULL;
    int rc = -1;
    if (sp == NULL || strcmp(sp, "true") != 0)
        return cli_usage(e, "usage error: coffer logs in as a service principal only: "
                            "--service-principal -u APPID -p PASSWORD");
    if (user == NULL || pw == NULL)
        return cli_usage(e, "usage error: --service-principal needs -u APPID and -p PASSWORD");
    if (!cli_is_uuid(user))
        return cli_usage(e, "argument --username/-u: '%.64s' is not an appId", user);
    if (cli_ctx_config(c, e))
        return -1;
    if (asprintf(&tok, "%s.%s", user, pw) < 0)
        return cli_fail(e, "OutOfMemory", "out of memory");
    /* the new credentials answer, or nothing is written */
    char *old = c->cfg.token;
    c->cfg.token = tok;
    c->sub[0] = '\0';
    int bad = cli_list_values(c, cli_mgmt, "/subscriptions", &list, e);
    c->cfg.token = old;
    if (bad)
        goto out;
    const char *first = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) if (first == NULL) first =
        json_string_value(json_object_get(it, "subscriptionId"));
    if (cli_config_write("token_file", NULL, e) || cli_config_write("token", tok, e) ||
        cli_config_write("subscription", first, e))
        goto out;
    *res = json_array();
    json_array_foreach(list, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "subscriptionId"));
        json_array_append_new(*res,
                              json_pack("{s:s,s:s,s:b,s:O,s:O,s:O,s:{s:s,s:s}}", "cloudName",
                                        "coffer", "id", id ? id : "", "isDefault", id == first,
                                        "name", json_object_get(it, "displayName"), "state",
                                        json_object_get(it, "state"), "tenantId",
                                        json_object_get(it, "tenantId"), "user", "name", user,
                                        "type", "servicePrincipal"));
    }
    rc = 0;
out:
    if (tok) {
        OPENSSL_cleanse(tok, strlen(tok));
        free(tok);
    }
    json_decref(list);
    return rc;
}

static int run_logout(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    (void)c;
    (void)a;
    *res = NULL;
    return cli_config_write("token", NULL, e) || cli_config_write("subscription", NULL, e);
}

const cli_opt cli_account_create_opts[] = {
    {"display-name", NULL, CLI_OPT_VALUE, 1, "NAME"},
    {"subscription-id", NULL, CLI_OPT_VALUE, 0, "ID"},
    {0},
};
static const cli_opt sp_create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"role", NULL, CLI_OPT_VALUE, 0, "ROLE"},
    {"scopes", NULL, CLI_OPT_MULTI, 0, "SCOPE"},
    {0},
};
static const cli_opt sp_id_opts[] = {
    {"id", NULL, CLI_OPT_VALUE, 1, "APP_ID|OBJECT_ID"},
    {0},
};
static const cli_opt login_opts[] = {
    {"service-principal", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"username", "u", CLI_OPT_VALUE, 0, "APPID"},
    {"password", "p", CLI_OPT_VALUE, 0, "PASSWORD"},
    {"tenant", "t", CLI_OPT_VALUE, 0, "TENANT"},
    {0},
};

static const cli_column sp_table[] = {
    {"DisplayName", "displayName"},
    {"AppId", "appId"},
    {"Subscription", "subscriptionId"},
    {0},
};

const cli_verb cli_ad_sp_verbs[] = {
    {"create-for-rbac",
     "Create a service principal (a tenant's management credentials) and its role "
     "assignments; the password is shown once.",
     sp_create_opts, run_sp_create,
     "coffer ad sp create-for-rbac --name contoso-admin --role Owner --scopes "
     "/subscriptions/SUBSCRIPTION_ID",
     NULL},
    {"list", "List the service principals you may see.", cli_no_opts, run_sp_list,
     "coffer ad sp list -o table", sp_table},
    {"show", "Show a service principal.", sp_id_opts, run_sp_show, "coffer ad sp show --id APP_ID",
     NULL},
    {"delete", "Delete a service principal and its role assignments.", sp_id_opts, run_sp_delete,
     "coffer ad sp delete --id APP_ID", NULL},
    {0},
};

const cli_verb cli_ad_sp_credential_verbs[] = {
    {"reset", "Give a service principal a new password (the old one stops working).", sp_id_opts,
     run_sp_reset, "coffer ad sp credential reset --id APP_ID", NULL},
    {0},
};

const cli_verb cli_login_verbs[] = {
    {"", "Log in to cofferd as a service principal (the token goes to the config file).",
     login_opts, run_login,
     "coffer login --service-principal -u APP_ID -p PASSWORD --tenant TENANT_ID", NULL},
    {0},
};

const cli_verb cli_logout_verbs[] = {
    {"", "Forget the credentials of coffer login.", cli_no_opts, run_logout, "coffer logout", NULL},
    {0},
};
