/*
 * token.c -- `coffer acr token` and `coffer acr token credential`:
 * repository-scoped tokens of a registry (docs/cli.md "acr token"), shaped
 * like az's.
 *
 * `token create -n T -r R --repository REPO ACTION... [--repository ...]`
 * PUTs the token with its scope map inline, then, as `az acr token create`
 * does, generates both passwords and prints them once inside the token's
 * credentials (--no-passwords skips that). Afterwards a password value is
 * only ever shown by `token credential generate`, which replaces it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/verbs.h"

static const char *const ACTIONS[] = {"content/read", "content/write", "content/delete",
                                      "metadata/read"};

json_t *cli_token_scope(const cli_args *a, cli_err *e)
{
    json_t *scope = json_array();
    const char *const *v;
    int n;
    for (int k = 0; cli_args_occurrence(a, "repository", k, &v, &n) == 0; k++) {
        if (n < 2) {
            cli_usage(e, "argument --repository: expected a repository and at least one action "
                         "(content/read, content/write, content/delete, metadata/read)");
            json_decref(scope);
            return NULL;
        }
        json_t *acts = json_array();
        for (int i = 1; i < n; i++) {
            int ok = 0;
            for (size_t j = 0; j < sizeof(ACTIONS) / sizeof(ACTIONS[0]); j++)
                ok |= strcmp(v[i], ACTIONS[j]) == 0;
            if (!ok) {
                cli_usage(e,
                          "argument --repository: invalid action '%.64s' (choose from "
                          "'content/read', 'content/write', 'content/delete', 'metadata/read')",
                          v[i]);
                json_decref(acts);
                json_decref(scope);
                return NULL;
            }
            json_array_append_new(acts, json_string(v[i]));
        }
        json_array_append_new(scope, json_pack("{s:s,s:o}", "repository", v[0], "actions", acts));
    }
    if (json_array_size(scope) == 0) {
        cli_usage(e, "the following arguments are required: --repository");
        json_decref(scope);
        return NULL;
    }
    return scope;
}

/* The token's path below its registry's ARM path (-g, or the default
 * group, else the registry found in the subscription). */
static int token_path(cli_ctx *c, char *p, size_t n, const cli_args *a, const char *suffix,
                      cli_err *e)
{
    if (cli_registry_path(c, a, "registry", 0, "/tokens", p, n, e))
        return -1;
    const char *name = cli_args_get(a, "name");
    if (name && cli_path_add(p, n, "/", name, e))
        return -1;
    return suffix ? cli_path_add(p, n, suffix, NULL, e) : 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024], g[1100];
    json_t *scope = cli_token_scope(a, e);
    if (scope == NULL)
        return -1;
    int nopw = cli_args_bool(a, "no-passwords", e);
    if (nopw == -2 || token_path(c, p, sizeof(p), a, NULL, e) ||
        snprintf(g, sizeof(g), "%s/generateCredentials", p) >= (int)sizeof(g)) {
        json_decref(scope);
        return -1;
    }
    json_t *body = json_pack("{s:{s:s,s:o}}", "properties", "status", "enabled", "scope", scope);
    json_t *tok = NULL, *cred = NULL;
    int rc = cli_mgmt(c, "PUT", p, body, &tok, e);
    json_decref(body);
    if (rc == 0 && nopw != 1) {
        rc = cli_mgmt(c, "POST", g, NULL, &cred, e);
        json_t *props = json_object_get(tok, "properties");
        if (rc == 0 && json_is_object(props) && json_is_object(cred))
            json_object_set(props, "credentials", cred);
    }
    json_decref(cred);
    if (rc != 0) {
        json_decref(tok);
        return -1;
    }
    *res = tok;
    return 0;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (token_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (token_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (token_path(c, p, sizeof(p), a, NULL, e))
        return -1;
    return cli_list_values(c, cli_mgmt, p, res, e);
}

static int run_generate(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    int p1 = cli_args_bool(a, "password1", e), p2 = -2;
    if (p1 != -2)
        p2 = cli_args_bool(a, "password2", e);
    if (p1 == -2 || p2 == -2 || token_path(c, p, sizeof(p), a, "/generateCredentials", e))
        return -1;
    json_t *body = NULL;
    if (p1 == 1 && p2 != 1)
        body = json_pack("{s:s}", "name", "password1");
    else if (p2 == 1 && p1 != 1)
        body = json_pack("{s:s}", "name", "password2");
    int rc = cli_mgmt(c, "POST", p, body, res, e);
    json_decref(body);
    return rc;
}

static const cli_opt create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "TOKEN"},
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"repository", NULL, CLI_OPT_MULTI, 1, "REPO ACTION..."},
    {"no-passwords", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {0},
};
static const cli_opt token_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "TOKEN"},
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt list_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt generate_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "TOKEN"},
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"password1", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {"password2", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {0},
};

/* -o table of `acr token list` */
static const cli_column list_table[] = {
    {"Name", "name"},
    {"Status", "properties.status"},
    {"CreationDate", "properties.creationDate"},
    {0},
};

const cli_verb cli_acr_token_verbs[] = {
    {"create",
     "Create (or replace) a token with its scope: --repository REPO ACTION... per repository "
     "(REPO may be PREFIX/*); prints both passwords once.",
     create_opts, run_create,
     "coffer acr token create -n ci-pull -r myregistry --repository app content/read "
     "metadata/read",
     NULL},
    {"show", "Show a token (never its passwords).", token_opts, run_show,
     "coffer acr token show -n ci-pull -r myregistry", NULL},
    {"list", "List a registry's tokens.", list_opts, run_list,
     "coffer acr token list -r myregistry --query [].name -o tsv", list_table},
    {"delete", "Delete a token (registry tokens issued to it stop working).", token_opts,
     run_delete, "coffer acr token delete -n ci-pull -r myregistry", NULL},
    {0},
};

const cli_verb cli_acr_token_credential_verbs[] = {
    {"generate",
     "Generate a token's passwords (both, or --password1 / --password2); the only time they are "
     "shown.",
     generate_opts, run_generate,
     "coffer acr token credential generate -n ci-pull -r myregistry --password1 --query "
     "passwords[0].value -o tsv",
     NULL},
    {0},
};
