/*
 * key.c -- `coffer keyvault key`: keys on a vault's keys REST API (the
 * Azure Key Vault protocol, api-version 7.4), reached at
 * https://VAULT.<vault_domain>:<port> (vault_url itself for "default").
 *
 * Output is what az prints (keyshape.h: the wire's KeyBundle reshaped by
 * the SDK and the CLI, `key.keyOps`, `key.kid` the versioned key id, times
 * in ISO 8601), for single keys and for lists, which follow nextLink until
 * the last page.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/keyshape.h"
#include "cli/verbs.h"

/* "/keys/NAME[/VERSION]" (prefix "/keys/" or "/deletedkeys/") + suffix. */
static int key_path(char *p, size_t n, const char *prefix, const cli_args *a, int with_version,
                    const char *suffix, cli_err *e)
{
    const char *ver = with_version ? cli_args_get(a, "version") : NULL;
    p[0] = '\0';
    if (cli_config_vault_name_check(cli_args_get(a, "vault-name"), e) ||
        cli_path_add(p, n, prefix, cli_args_get(a, "name"), e) ||
        (ver && cli_path_add(p, n, "/", ver, e)))
        return -1;
    return suffix ? cli_path_add(p, n, suffix, NULL, e) : 0;
}

static const char *vault_of(const cli_args *a)
{
    return cli_args_get(a, "vault-name");
}

/* One key call whose answer is a (Deleted)KeyBundle, printed as az does. */
static int key_call(cli_ctx *c, const cli_args *a, const char *method, const char *path,
                    const json_t *body, json_t **res, cli_err *e)
{
    json_t *w = NULL;
    if (cli_vault_keys(c, vault_of(a), method, path, body, &w, e))
        return -1;
    *res = cli_key_az(w);
    json_decref(w);
    return 0;
}

/* Every page of a key listing, each item printed as az does. */
static int list_call(cli_ctx *c, const cli_args *a, const char *path, json_t **res, cli_err *e)
{
    json_t *w = NULL;
    if (cli_vault_keys_list(c, vault_of(a), path, &w, e))
        return -1;
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(w, i, it) json_array_append_new(out, cli_key_item_az(it));
    json_decref(w);
    *res = out;
    return 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    static const char *ktys[] = {"RSA", "RSA-HSM", "EC", "EC-HSM"};
    const char *kty = cli_args_get(a, "kty"), *curve = cli_args_get(a, "curve");
    long size = 0;
    int n, src;
    const char *const *ops = cli_args_multi(a, "ops", &n);
    char p[512];
    if (kty == NULL) {
        kty = "RSA";
    } else {
        size_t i;
        for (i = 0; i < 4 && strcasecmp(kty, ktys[i]) != 0; i++)
            ;
        if (i == 4)
            return cli_usage(e,
                             "argument --kty: invalid choice: '%.64s' (choose from 'RSA', "
                             "'RSA-HSM', 'EC', 'EC-HSM')",
                             kty);
        kty = ktys[i];
    }
    if ((src = cli_args_int(a, "size", 1, 16384, &size, e)) < 0 ||
        key_path(p, sizeof(p), "/keys/", a, 0, "/create", e))
        return -1;
    json_t *body = json_pack("{s:s}", "kty", kty);
    if (src == 0)
        json_object_set_new(body, "key_size", json_integer(size));
    if (curve)
        json_object_set_new(body, "crv", json_string(curve));
    if (n > 0) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, json_string(ops[i]));
        json_object_set_new(body, "key_ops", arr);
    }
    int rc = key_call(c, a, "POST", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (key_path(p, sizeof(p), "/keys/", a, 1, NULL, e))
        return -1;
    return key_call(c, a, "GET", p, NULL, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    if (cli_config_vault_name_check(vault_of(a), e))
        return -1;
    return list_call(c, a, "/keys", res, e);
}

static int run_list_deleted(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    if (cli_config_vault_name_check(vault_of(a), e))
        return -1;
    return list_call(c, a, "/deletedkeys", res, e);
}

static int run_list_versions(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (key_path(p, sizeof(p), "/keys/", a, 0, "/versions", e))
        return -1;
    return list_call(c, a, p, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (key_path(p, sizeof(p), "/keys/", a, 0, NULL, e))
        return -1;
    return key_call(c, a, "DELETE", p, NULL, res, e);
}

static int run_recover(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (key_path(p, sizeof(p), "/deletedkeys/", a, 0, "/recover", e))
        return -1;
    return key_call(c, a, "POST", p, NULL, res, e);
}

static int run_purge(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    json_t *r = NULL;
    if (key_path(p, sizeof(p), "/deletedkeys/", a, 0, NULL, e) ||
        cli_vault_keys(c, vault_of(a), "DELETE", p, NULL, &r, e))
        return -1;
    json_decref(r);
    *res = NULL;
    return 0;
}

static int run_set_attributes(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    int en = cli_args_bool(a, "enabled", e);
    if (en < 0 || key_path(p, sizeof(p), "/keys/", a, 1, NULL, e))
        return -1;
    json_t *body = json_pack("{s:{s:b}}", "attributes", "enabled", en);
    int rc = key_call(c, a, "PATCH", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_rotate(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (key_path(p, sizeof(p), "/keys/", a, 0, "/rotate", e))
        return -1;
    return key_call(c, a, "POST", p, NULL, res, e);
}

#define VAULT_OPT                                                                                  \
    {                                                                                              \
        "vault-name", NULL, CLI_OPT_VALUE, 1, "VAULT"                                              \
    }
#define NAME_OPT                                                                                   \
    {                                                                                              \
        "name", "n", CLI_OPT_VALUE, 1, "KEY"                                                       \
    }

static const cli_opt vault_opts[] = {VAULT_OPT, {0}};
static const cli_opt key_opts[] = {VAULT_OPT, NAME_OPT, {0}};
static const cli_opt show_opts[] = {
    VAULT_OPT, NAME_OPT, {"version", NULL, CLI_OPT_VALUE, 0, "VERSION"}, {0}};
static const cli_opt create_opts[] = {
    VAULT_OPT,
    NAME_OPT,
    {"kty", NULL, CLI_OPT_VALUE, 0, "RSA|RSA-HSM|EC|EC-HSM"},
    {"size", NULL, CLI_OPT_VALUE, 0, "BITS"},
    {"curve", NULL, CLI_OPT_VALUE, 0, "P-256|P-384|P-521"},
    {"ops", NULL, CLI_OPT_MULTI, 0, "OP"},
    {0},
};
static const cli_opt attr_opts[] = {
    VAULT_OPT,
    NAME_OPT,
    {"version", NULL, CLI_OPT_VALUE, 0, "VERSION"},
    {"enabled", NULL, CLI_OPT_VALUE, 1, "true|false"},
    {0},
};

/* -o table of the key lists */
static const cli_column list_table[] = {
    {"Kid", "kid"},
    {"Enabled", "attributes.enabled"},
    {"Created", "attributes.created"},
    {"Updated", "attributes.updated"},
    {"RecoveryLevel", "attributes.recoveryLevel"},
    {0},
};
static const cli_column deleted_table[] = {
    {"Kid", "kid"},
    {"RecoveryId", "recoveryId"},
    {"DeletedDate", "deletedDate"},
    {"ScheduledPurgeDate", "scheduledPurgeDate"},
    {0},
};

const cli_verb cli_keyvault_key_verbs[] = {
    {"create", "Create a key, or a new version of it (default: RSA 2048).", create_opts, run_create,
     "coffer keyvault key create --vault-name myvault -n mykey --kty RSA --size 3072 --query "
     "key.kid -o tsv",
     NULL},
    {"show", "Show a key's latest version, or the version given.", show_opts, run_show,
     "coffer keyvault key show --vault-name myvault -n mykey --query key.kid -o tsv", NULL},
    {"list", "List a vault's keys.", vault_opts, run_list,
     "coffer keyvault key list --vault-name myvault --query [].kid -o tsv", list_table},
    {"list-deleted", "List a vault's deleted (recoverable) keys.", vault_opts, run_list_deleted,
     "coffer keyvault key list-deleted --vault-name myvault", deleted_table},
    {"list-versions", "List a key's versions.", key_opts, run_list_versions,
     "coffer keyvault key list-versions --vault-name myvault -n mykey", list_table},
    {"delete", "Delete a key (soft: recoverable until purged).", key_opts, run_delete,
     "coffer keyvault key delete --vault-name myvault -n mykey", NULL},
    {"recover", "Recover a deleted key, all its versions.", key_opts, run_recover,
     "coffer keyvault key recover --vault-name myvault -n mykey", NULL},
    {"purge", "Purge a deleted key for good. A registry encrypted under it is destroyed with it.",
     key_opts, run_purge, "coffer keyvault key purge --vault-name myvault -n mykey", NULL},
    {"set-attributes", "Enable or disable a key (its latest version, or the version given).",
     attr_opts, run_set_attributes,
     "coffer keyvault key set-attributes --vault-name myvault -n mykey --enabled false", NULL},
    {"rotate", "Add a new version of a key (same type and size).", key_opts, run_rotate,
     "coffer keyvault key rotate --vault-name myvault -n mykey", NULL},
    {0},
};
