/*
 * acr.c -- `coffer acr`, `coffer acr encryption`, `coffer acr identity`:
 * registries on cofferd's management API, shaped like az acr.
 *
 * What az does on the client side, this does too: `acr create --identity X
 * --key-encryption-key URI` resolves X to the identity's id and clientId and
 * sends both the registry's identity and keyVaultProperties.identity;
 * `rotate-key --identity` sends a client id (a UUID as given, a name or id
 * resolved, `[system]` as "system"); `acr identity assign|remove` reads the
 * registry, computes the new identity set and PATCHes it whole.
 * `acr credential show|renew` are the admin user's listCredentials and
 * regenerateCredential (docs/cli.md "acr credential", docs/control-plane.md
 * "Registry authentication"). `acr show-usage` and `acr update
 * --storage-limit` are the storage figure and its limit (registry/quota.h);
 * `acr login` writes the registry's credentials where the container tools
 * read them (authfile.h), as `az acr login` has docker do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/authfile.h"
#include "cli/verbs.h"

#define SYSTEM_ID "[system]"

int cli_registry_path(cli_ctx *c, const cli_args *a, const char *opt, int required,
                      const char *suffix, char *p, size_t n, cli_err *e)
{
    if (cli_resource_path(c, a, cli_mgmt, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY, cli_args_get(a, opt),
                          required, p, n, e))
        return -1;
    return suffix ? cli_path_add(p, n, suffix, NULL, e) : 0;
}

/* The registry of --name/-n: in -g (or the default group), else found in
 * the subscription. */
static int reg_path(cli_ctx *c, char *p, size_t n, const cli_args *a, const char *suffix,
                    cli_err *e)
{
    return cli_registry_path(c, a, "name", 0, suffix, p, n, e);
}

/* A registry as az prints it (flattened); takes r. */
static json_t *flat(json_t *r)
{
    json_t *f = cli_arm_flatten(r);
    json_decref(r);
    return f;
}

static int flat_call(cli_ctx *c, const char *method, const char *path, const json_t *body,
                     json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (cli_mgmt(c, method, path, body, &r, e))
        return -1;
    *res = flat(r);
    return 0;
}

/* --sku, case-insensitive, normalized; NULL when absent. */
static int sku_of(const cli_args *a, const char **out, cli_err *e)
{
    static const char *skus[] = {"Basic", "Standard", "Premium"};
    const char *v = cli_args_get(a, "sku");
    *out = NULL;
    if (v == NULL)
        return 0;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, skus[i]) == 0) {
            *out = skus[i];
            return 0;
        }
    }
    return cli_usage(e,
                     "argument --sku: invalid choice: '%.64s' (choose from 'Basic', 'Standard', "
                     "'Premium')",
                     v);
}

/* The member `key` of the result (new reference), releasing r. */
static json_t *member(json_t *r, const char *key)
{
    json_t *v = json_object_get(r, key);
    v = v ? json_incref(v) : NULL;
    json_decref(r);
    return v;
}

static json_t *encryption_of(json_t *r)
{
    json_t *v = json_object_get(json_object_get(r, "properties"), "encryption");
    v = v ? json_incref(v) : NULL;
    json_decref(r);
    return v;
}

/* properties.adminUserEnabled / anonymousPullEnabled into props from
 * --admin-enabled / --anonymous-pull-enabled; *n counts those given. */
static int auth_props(const cli_args *a, json_t *props, int *n, cli_err *e)
{
    static const char *const opts[2][2] = {{"admin-enabled", "adminUserEnabled"},
                                           {"anonymous-pull-enabled", "anonymousPullEnabled"}};
    *n = 0;
    for (int i = 0; i < 2; i++) {
        int v = cli_args_bool(a, opts[i][0], e);
        if (v == -2)
            return -1;
        if (v >= 0) {
            json_object_set_new(props, opts[i][1], json_boolean(v));
            (*n)++;
        }
    }
    return 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *sku, *ident = cli_args_get(a, "identity");
    const char *kek = cli_args_get(a, "key-encryption-key"), *group;
    char p[1024];
    if (sku_of(a, &sku, e))
        return -1;
    if ((ident == NULL) != (kek == NULL))
        return cli_usage(e, "Usage error: --identity and --key-encryption-key must be both "
                            "supplied");
    if (cli_resource_group(c, a, 1, &group, e) ||
        cli_collection_path(c, group, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY, p, sizeof(p), e) ||
        cli_path_add(p, sizeof(p), "/", cli_args_get(a, "name"), e))
        return -1;
    json_t *auth = json_object();
    int nauth;
    if (auth_props(a, auth, &nauth, e)) {
        json_decref(auth);
        return -1;
    }
    json_t *body = json_object(), *ij = NULL;
    if (cli_args_get(a, "location"))
        json_object_set_new(body, "location", json_string(cli_args_get(a, "location")));
    int rc = -1;
    if (sku)
        json_object_set_new(body, "sku", json_pack("{s:s}", "name", sku));
    if (ident) {
        const char *client_id;
        if (strcasecmp(ident, SYSTEM_ID) == 0) {
            json_object_set_new(body, "identity", json_pack("{s:s}", "type", "SystemAssigned"));
            client_id = "system";
        } else {
            if (cli_identity_resolve(c, group, ident, &ij, e))
                goto out;
            const char *id = json_string_value(json_object_get(ij, "id"));
            client_id = json_string_value(json_object_get(ij, "clientId"));
            if (id == NULL || client_id == NULL) {
                cli_fail(e, "InvalidResponse", "the identity '%.200s' has no id or clientId",
                         ident);
                goto out;
            }
            json_object_set_new(
                body, "identity",
                json_pack("{s:s,s:{s:{}}}", "type", "UserAssigned", "userAssignedIdentities", id));
        }
        json_object_set_new(body, "properties",
                            json_pack("{s:{s:s,s:{s:s,s:s}}}", "encryption", "status", "enabled",
                                      "keyVaultProperties", "keyIdentifier", kek, "identity",
                                      client_id));
    }
    if (nauth) {
        json_t *props = json_object_get(body, "properties");
        if (props == NULL)
            json_object_set_new(body, "properties", props = json_object());
        json_object_update(props, auth);
    }
    rc = flat_call(c, "PUT", p, body, res, e);
out:
    json_decref(auth);
    json_decref(ij);
    json_decref(body);
    return rc;
}

/* GET of the registry as the server sends it (properties nested). */
static int get_registry(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (reg_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (get_registry(c, a, &r, e))
        return -1;
    *res = flat(r);
    return 0;
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (reg_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *group;
    char p[1024];
    json_t *list = NULL;
    if (cli_resource_group(c, a, 0, &group, e) ||
        cli_collection_path(c, group, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY, p, sizeof(p), e) ||
        cli_list_values(c, cli_mgmt, p, &list, e))
        return -1;
    *res = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) json_array_append_new(*res, cli_arm_flatten(it));
    json_decref(list);
    return 0;
}

static int run_update(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *sku;
    char p[1024];
    json_t *body = json_object(), *props = json_object();
    int nauth, rc = -1;
    if (sku_of(a, &sku, e) || auth_props(a, props, &nauth, e))
        goto out;
    const char *limit = cli_args_get(a, "storage-limit");
    if (limit) {
        int64_t bytes;
        if (cli_size_parse(limit, &bytes) != 0) {
            cli_usage(e,
                      "argument --storage-limit: '%.64s' is not a size: bytes, or a number with "
                      "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB (none or 0: no limit)",
                      limit);
            goto out;
        }
        json_object_set_new(props, "storageLimit", json_integer((json_int_t)bytes));
        nauth++;
    }
    if (sku == NULL && nauth == 0) {
        cli_usage(e, "usage error: give --sku, --admin-enabled, --anonymous-pull-enabled or "
                     "--storage-limit");
        goto out;
    }
    if (reg_path(c, p, sizeof(p), a, NULL, e))
        goto out;
    if (sku)
        json_object_set_new(body, "sku", json_pack("{s:s}", "name", sku));
    if (nauth)
        json_object_set(body, "properties", props);
    rc = flat_call(c, "PATCH", p, body, res, e);
out:
    json_decref(props);
    json_decref(body);
    return rc;
}

static int run_show_usage(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (reg_path(c, p, sizeof(p), a, "/listUsages", e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

/* `acr login`: the registry's credentials (-u/-p as given, else the admin
 * user's) into the containers auth file under the loginServer, and into
 * docker's config under its host when that file exists (authfile.h). */
static int run_login(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *user = cli_args_get(a, "username"), *pass = cli_args_get(a, "password");
    const char *name = cli_args_get(a, "name");
    char p[1024], path[4096], store[128];
    json_t *reg = NULL, *cred = NULL;
    int rc = -1;
    *res = NULL;
    if ((user == NULL) != (pass == NULL))
        return cli_usage(e, "Usage error: --username and --password must be both supplied");
    if (reg_path(c, p, sizeof(p), a, NULL, e) || cli_mgmt(c, "GET", p, NULL, &reg, e))
        return -1;
    json_t *props = json_object_get(reg, "properties");
    const char *ls = json_string_value(json_object_get(props, "loginServer"));
    if (ls == NULL || *ls == '\0') {
        cli_fail(e, "InvalidResponse", "the registry '%.64s' has no loginServer", name);
        goto out;
    }
    if (user == NULL) {
        if (!json_is_true(json_object_get(props, "adminUserEnabled"))) {
            cli_fail(e, "AdminUserDisabled",
                     "The admin user of registry '%.64s' is disabled: enable it (coffer acr update "
                     "-n %.64s --admin-enabled true), or log in with a token's credentials "
                     "(--username TOKEN --password PASSWORD, coffer acr token create)",
                     name, name);
            goto out;
        }
        if (cli_path_add(p, sizeof(p), "/listCredentials", NULL, e) ||
            cli_mgmt(c, "POST", p, NULL, &cred, e))
            goto out;
        user = json_string_value(json_object_get(cred, "username"));
        pass = json_string_value(
            json_object_get(json_array_get(json_object_get(cred, "passwords"), 0), "value"));
        if (user == NULL || pass == NULL) {
            cli_fail(e, "InvalidResponse", "the admin user's credentials are incomplete");
            goto out;
        }
    }
    if (cli_authfile_path(path, sizeof(path)) != 0) {
        cli_fail(e, "ConfigError", "the auth file's path is too long");
        goto out;
    }
    if (cli_authfile_store(path, ls, user, pass, NULL, 0, e))
        goto out;
    int docker = cli_docker_config_path(path, sizeof(path));
    if (docker == 1) {
        /* docker keys by host alone: HOST[:PORT] of HOST[:PORT]/REGISTRY */
        char host[400];
        const char *slash = strchr(ls, '/');
        size_t hl = slash ? (size_t)(slash - ls) : strlen(ls);
        snprintf(host, sizeof(host), "%.*s", (int)(hl < sizeof(host) ? hl : sizeof(host) - 1), ls);
        if (cli_authfile_store(path, host, user, pass, store, sizeof(store), e))
            goto out;
        if (store[0])
            fprintf(c->err,
                    "WARNING: %s names the credential helper '%s' (credsStore): docker reads "
                    "credentials from it, not from the file; run docker login %s\n",
                    path, store, host);
    }
    fputs("Login Succeeded\n", c->out);
    rc = 0;
out:
    json_decref(cred);
    json_decref(reg);
    return rc;
}

static int run_cred_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (reg_path(c, p, sizeof(p), a, "/listCredentials", e))
        return -1;
    return cli_mgmt(c, "POST", p, NULL, res, e);
}

static int run_cred_renew(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *which = cli_args_get(a, "password-name");
    char p[1024];
    if (strcmp(which, "password") != 0 && strcmp(which, "password2") != 0)
        return cli_usage(e,
                         "argument --password-name: invalid choice: '%.64s' (choose from "
                         "'password', 'password2')",
                         which);
    if (reg_path(c, p, sizeof(p), a, "/regenerateCredential", e))
        return -1;
    json_t *body = json_pack("{s:s}", "name", which);
    int rc = cli_mgmt(c, "POST", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_enc_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (get_registry(c, a, &r, e))
        return -1;
    *res = encryption_of(r);
    return 0;
}

static int run_enc_check(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    json_t *r = NULL;
    if (reg_path(c, p, sizeof(p), a, "/encryption/check", e) || cli_mgmt(c, "POST", p, NULL, &r, e))
        return -1;
    *res = encryption_of(r);
    return 0;
}

/* The resource group a registry lives in (where an identity name given
 * without its resource id is looked for, as az does). */
static const char *reg_group(const json_t *reg)
{
    return json_string_value(json_object_get(reg, "resourceGroup"));
}

static int run_rotate(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *ident = cli_args_get(a, "identity");
    const char *kek = cli_args_get(a, "key-encryption-key");
    char p[1024];
    if (ident == NULL && kek == NULL)
        return cli_usage(e, "usage error: give --key-encryption-key, --identity or both");
    if (reg_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    json_t *reg = NULL, *ij = NULL, *body = NULL;
    int rc = -1;
    if (cli_mgmt(c, "GET", p, NULL, &reg, e))
        goto out;
    const json_t *kvp = json_object_get(
        json_object_get(json_object_get(reg, "properties"), "encryption"), "keyVaultProperties");
    if (!json_is_object(kvp)) {
        cli_fail(e, "CmkNotEnabled",
                 "key rotation is only applicable to registries with CMK enabled ('%.64s' has no "
                 "customer-managed key)",
                 cli_args_get(a, "name"));
        goto out;
    }
    json_t *nk = json_object();
    if (kek)
        json_object_set_new(nk, "keyIdentifier", json_string(kek));
    if (ident) {
        if (strcasecmp(ident, SYSTEM_ID) == 0) {
            json_object_set_new(nk, "identity", json_string("system"));
        } else if (cli_is_uuid(ident)) {
            json_object_set_new(nk, "identity", json_string(ident)); /* a client id, as az */
        } else {
            if (cli_identity_resolve(c, reg_group(reg), ident, &ij, e)) {
                json_decref(nk);
                goto out;
            }
            json_object_set(nk, "identity", json_object_get(ij, "clientId"));
        }
    }
    body = json_pack("{s:{s:{s:o}}}", "properties", "encryption", "keyVaultProperties", nk);
    rc = flat_call(c, "PATCH", p, body, res, e);
out:
    json_decref(reg);
    json_decref(ij);
    json_decref(body);
    return rc;
}

static int run_ident_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (get_registry(c, a, &r, e))
        return -1;
    *res = member(r, "identity");
    return 0;
}

/* Finds the key of the registry's user-assigned identity that ref names
 * (its resource id, compared as ARM compares ids; its name; its client
 * id); NULL when none. */
static const char *assigned_key(const json_t *uai, const char *ref)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)uai, k, v)
    {
        const char *cid = json_string_value(json_object_get(v, "clientId"));
        const char *slash = strrchr(k, '/');
        const char *legacy = strncmp(ref, "/identities/", 12) == 0 ? ref + 12 : NULL;
        if (arm_eq(k, ref) || (slash && strcmp(slash + 1, legacy ? legacy : ref) == 0) ||
            (cid && strcasecmp(cid, ref) == 0))
            return k;
    }
    return NULL;
}

/* assign (add = 1) or remove the --identities of a registry. */
static int change_identities(cli_ctx *c, const cli_args *a, int add, json_t **res, cli_err *e)
{
    char p[1024];
    int n;
    const char *const *ids = cli_args_multi(a, "identities", &n);
    if (reg_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    json_t *reg = NULL, *users = json_object(), *body = NULL, *r = NULL;
    int rc = -1;
    if (cli_mgmt(c, "GET", p, NULL, &reg, e))
        goto out;
    const json_t *cur = json_object_get(reg, "identity");
    const char *type = json_string_value(json_object_get(cur, "type"));
    int sys = type && strcasestr(type, "SystemAssigned") != NULL;
    const json_t *uai = json_object_get(cur, "userAssignedIdentities");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)uai, k, v) json_object_set_new(users, k, json_object());
    for (int i = 0; i < n; i++) {
        if (strcasecmp(ids[i], SYSTEM_ID) == 0) {
            if (!add && !sys) {
                cli_fail(e, "IdentityNotAssigned",
                         "Registry '%.64s' has no system-assigned identity.",
                         cli_args_get(a, "name"));
                goto out;
            }
            sys = add;
        } else if (add) {
            json_t *ij = NULL;
            if (cli_identity_resolve(c, reg_group(reg), ids[i], &ij, e))
                goto out;
            const char *id = json_string_value(json_object_get(ij, "id"));
            if (id)
                json_object_set_new(users, id, json_object());
            json_decref(ij);
        } else {
            const char *key = assigned_key(uai, ids[i]);
            if (key == NULL) {
                cli_fail(e, "IdentityNotAssigned",
                         "The identity '%.200s' is not assigned to registry '%.64s'.", ids[i],
                         cli_args_get(a, "name"));
                goto out;
            }
            json_object_del(users, key);
        }
    }
    int nu = json_object_size(users) > 0;
    const char *nt = sys && nu ? "SystemAssigned, UserAssigned"
                     : sys     ? "SystemAssigned"
                     : nu      ? "UserAssigned"
                               : "None";
    body = json_pack("{s:{s:s,s:O}}", "identity", "type", nt, "userAssignedIdentities", users);
    if (cli_mgmt(c, "PATCH", p, body, &r, e))
        goto out;
    *res = member(r, "identity");
    rc = 0;
out:
    json_decref(reg);
    json_decref(users);
    json_decref(body);
    return rc;
}

static int run_ident_assign(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return change_identities(c, a, 1, res, e);
}

static int run_ident_remove(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return change_identities(c, a, 0, res, e);
}

static const cli_opt create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"sku", NULL, CLI_OPT_VALUE, 0, "Basic|Standard|Premium"},
    {"identity", NULL, CLI_OPT_VALUE, 0, "ID|NAME|CLIENTID"},
    {"key-encryption-key", NULL, CLI_OPT_VALUE, 0, "KEY_URI"},
    {"admin-enabled", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {0},
};
static const cli_opt reg_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt list_opts[] = {CLI_OPT_GROUP, {0}};
static const cli_opt update_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"sku", NULL, CLI_OPT_VALUE, 0, "Basic|Standard|Premium"},
    {"admin-enabled", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"anonymous-pull-enabled", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"storage-limit", NULL, CLI_OPT_VALUE, 0, "SIZE|none"},
    {0},
};
static const cli_opt login_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"username", "u", CLI_OPT_VALUE, 0, "USERNAME"},
    {"password", "p", CLI_OPT_VALUE, 0, "PASSWORD"},
    {0},
};
static const cli_opt renew_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"password-name", NULL, CLI_OPT_VALUE, 1, "password|password2"},
    {0},
};
static const cli_opt rotate_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"key-encryption-key", NULL, CLI_OPT_VALUE, 0, "KEY_URI"},
    {"identity", NULL, CLI_OPT_VALUE, 0, "ID|NAME|CLIENTID|[system]"},
    {0},
};
static const cli_opt idents_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"identities", NULL, CLI_OPT_MULTI, 1, "ID"},
    {0},
};

/* -o table of `acr show-usage` (az's columns, over its "value") */
static const cli_column usage_table[] = {
    {"Name", "name"}, {"Limit", "limit"}, {"CurrentValue", "currentValue"}, {"Unit", "unit"}, {0},
};

/* -o table of `acr list` (az's columns; a registry is printed flattened) */
static const cli_column list_table[] = {
    {"Name", "name"},
    {"ResourceGroup", "resourceGroup"},
    {"Location", "location"},
    {"Sku", "sku.name"},
    {"LoginServer", "loginServer"},
    {"CreationDate", "creationDate"},
    {"AdminUserEnabled", "adminUserEnabled"},
    {"Encryption", "encryption.status"},
    {0},
};

const cli_verb cli_acr_verbs[] = {
    {"create",
     "Create a registry; with --identity and --key-encryption-key, encrypted under a "
     "customer-managed key (Premium).",
     create_opts, run_create,
     "coffer acr create -g myresourcegroup -n myregistry --sku Premium --identity myidentity "
     "--key-encryption-key https://myvault.vault.localhost:8443/keys/mykey",
     NULL},
    {"show", "Show a registry.", reg_opts, run_show,
     "coffer acr show -n myregistry --query loginServer -o tsv", NULL},
    {"delete", "Delete a registry and everything in it (its keys are wiped).", reg_opts, run_delete,
     "coffer acr delete -n myregistry", NULL},
    {"list", "List the registries of a resource group, or of the subscription.", list_opts,
     run_list, "coffer acr list --query [].name -o tsv", list_table},
    {"update",
     "Change a registry's SKU, enable or disable its admin user or anonymous pull (Standard and "
     "Premium), set or remove its storage limit.",
     update_opts, run_update, "coffer acr update -n myregistry --admin-enabled true", NULL},
    {"show-usage",
     "Show the registry's storage (sealed bytes of its unique blobs and manifests) against its "
     "limit, and its token count.",
     reg_opts, run_show_usage, "coffer acr show-usage -n myregistry -o table", usage_table},
    {"login",
     "Store the registry's credentials (the admin user's, or --username/--password) where "
     "podman, skopeo, buildah and docker read them.",
     login_opts, run_login, "coffer acr login -n myregistry", NULL},
    {"run", "Run a built-in command (purge) on a registry now and wait for it (docs/tasks.md).",
     cli_acr_run_opts, cli_acr_run,
     "coffer acr run -r myregistry --cmd \"acr purge --filter 'app:.*' --ago 7d --dry-run\"", NULL},
    {"import",
     "Import an image from another registry (verified by digest, sealed as it arrives) and wait "
     "for it.",
     cli_acr_import_opts, cli_acr_import,
     "coffer acr import -n myregistry --source registry.example.com/library/app:1.0 --image "
     "app:1.0",
     NULL},
    {0},
};

const cli_verb cli_acr_credential_verbs[] = {
    {"show", "Show the admin user's name and passwords (the admin user must be enabled).", reg_opts,
     run_cred_show, "coffer acr credential show -n myregistry --query passwords[0].value -o tsv",
     NULL},
    {"renew", "Regenerate one of the admin user's passwords (tokens issued with it stop working).",
     renew_opts, run_cred_renew,
     "coffer acr credential renew -n myregistry --password-name password2", NULL},
    {0},
};

const cli_verb cli_acr_encryption_verbs[] = {
    {"show", "Show a registry's encryption (properties.encryption).", reg_opts, run_enc_show,
     "coffer acr encryption show -n myregistry --query keyVaultProperties.keyStatus -o tsv", NULL},
    {"rotate-key",
     "Move a CMK registry to another key, key version or identity (versioned key URI: manual "
     "rotation; version-less: automatic).",
     rotate_opts, run_rotate,
     "coffer acr encryption rotate-key -n myregistry --key-encryption-key "
     "https://127.0.0.1:8443/keys/mykey --identity [system]",
     NULL},
    {"check", "Check the registry's key now; prints properties.encryption.", reg_opts,
     run_enc_check, "coffer acr encryption check -n myregistry", NULL},
    {0},
};

const cli_verb cli_acr_identity_verbs[] = {
    {"show", "Show a registry's identities.", reg_opts, run_ident_show,
     "coffer acr identity show -n myregistry", NULL},
    {"assign", "Assign identities to a registry ([system]: the system-assigned identity).",
     idents_opts, run_ident_assign,
     "coffer acr identity assign -n myregistry --identities [system]", NULL},
    {"remove", "Remove identities from a registry ([system]: the system-assigned identity).",
     idents_opts, run_ident_remove,
     "coffer acr identity remove -n myregistry --identities myidentity", NULL},
    {0},
};
