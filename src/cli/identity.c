/*
 * identity.c -- `coffer identity`: cofferd's user-assigned managed
 * identities (PUT/GET/DELETE /identities/{name}), and the lookup that turns
 * what a user types (a name, /identities/NAME or a client id) into an
 * identity, used by the acr verbs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/http.h"
#include "cli/verbs.h"

int cli_path_add(char *dst, size_t n, const char *prefix, const char *seg, cli_err *e)
{
    char *x = NULL;
    if (seg && (x = cli_http_escape(seg)) == NULL)
        return cli_fail(e, "OutOfMemory", "out of memory");
    size_t have = strlen(dst);
    int w = snprintf(dst + have, n - have, "%s%s", prefix, x ? x : "");
    free(x);
    if (w < 0 || (size_t)w >= n - have)
        return cli_usage(e, "a name is too long");
    return 0;
}

int cli_is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int cli_identity_resolve(cli_ctx *c, const char *ref, json_t **out, cli_err *e)
{
    json_t *list = NULL;
    *out = NULL;
    if (cli_mgmt(c, "GET", "/identities", NULL, &list, e))
        return -1;
    size_t i;
    json_t *it;
    const json_t *by_principal = NULL;
    json_array_foreach(json_object_get(list, "value"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *cid = json_string_value(json_object_get(it, "clientId"));
        const char *pid = json_string_value(json_object_get(it, "principalId"));
        if ((name && strcmp(name, ref) == 0) || (id && strcmp(id, ref) == 0) ||
            (cid && strcasecmp(cid, ref) == 0)) {
            *out = json_incref(it);
            break;
        }
        if (pid && strcasecmp(pid, ref) == 0)
            by_principal = it;
    }
    if (*out == NULL && by_principal) {
        /* the object id a vault's access policy names, not the identity */
        const char *name = json_string_value(json_object_get(by_principal, "name"));
        const char *cid = json_string_value(json_object_get(by_principal, "clientId"));
        cli_fail(e, "IdentityRequired",
                 "'%.64s' is the principal (object) id of identity '%.128s': expected a client id "
                 "or resource id (its client id is %.64s, its resource id /identities/%.128s).",
                 ref, name ? name : "", cid ? cid : "", name ? name : "");
        json_decref(list);
        return -1;
    }
    json_decref(list);
    if (*out == NULL)
        return cli_fail(e, "ResourceNotFound",
                        "The identity '%.200s' was not found: give its name, /identities/NAME or "
                        "its client id (coffer identity list).",
                        ref);
    return 0;
}

int cli_delete_quiet(cli_ctx *c, cli_call_fn call, const char *path, json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (call(c, "DELETE", path, NULL, &r, e))
        return -1;
    json_decref(r);
    *res = NULL;
    return 0;
}

int cli_list_values(cli_ctx *c, cli_call_fn call, const char *path, json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (call(c, "GET", path, NULL, &r, e))
        return -1;
    json_t *v = json_object_get(r, "value");
    *res = json_is_array(v) ? json_incref(v) : json_array();
    json_decref(r);
    return 0;
}

static int ident_path(char *p, size_t n, const cli_args *a, cli_err *e)
{
    p[0] = '\0';
    return cli_path_add(p, n, "/identities/", cli_args_get(a, "name"), e);
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (ident_path(p, sizeof(p), a, e))
        return -1;
    json_t *body = json_object();
    int rc = cli_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (ident_path(p, sizeof(p), a, e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[512];
    if (ident_path(p, sizeof(p), a, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    (void)a;
    return cli_list_values(c, cli_mgmt, "/identities", res, e);
}

const cli_verb cli_identity_verbs[] = {
    {"create", "Create a user-assigned managed identity (no change if it exists).", cli_name_opts,
     run_create, "coffer identity create -n myidentity --query principalId -o tsv", NULL},
    {"show", "Show an identity: its id, clientId and principalId.", cli_name_opts, run_show,
     "coffer identity show -n myidentity --query clientId -o tsv", NULL},
    {"delete", "Delete an identity (refused while a registry has it assigned).", cli_name_opts,
     run_delete, "coffer identity delete -n myidentity", NULL},
    {"list", "List the identities, by name.", cli_no_opts, run_list,
     "coffer identity list --query [].name -o tsv", NULL},
    {0},
};
