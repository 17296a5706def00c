/*
 * identity.c -- `coffer identity`: cofferd's user-assigned managed
 * identities at their ARM paths (/subscriptions/S/resourceGroups/G/providers/
 * Microsoft.ManagedIdentity/userAssignedIdentities/NAME), -g required as in
 * az, and the lookup that turns what a user types (a resource id, a name in
 * the command's group, or a client id) into an identity, used by the acr
 * verbs.
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

int cli_identity_resolve(cli_ctx *c, const char *group, const char *ref, json_t **out, cli_err *e)
{
    json_t *list = NULL;
    arm_path ap;
    char p[1024];
    *out = NULL;
    if (cli_arm_id_is(ref, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, &ap) ||
        (strncmp(ref, "/identities/", 12) == 0 && strchr(ref + 12, '/') == NULL && ref[12])) {
        /* its resource id (or the legacy short one): ask for it */
        p[0] = '\0';
        if (ref[1] == 'i')
            cli_path_add(p, sizeof(p), "/identities/", ref + 12, e);
        else
            snprintf(p, sizeof(p), "%s", ref);
        return p[0] ? cli_mgmt(c, "GET", p, NULL, out, e) : -1;
    }
    if (!cli_is_uuid(ref) && group) { /* a name: in the group of the command */
        if (cli_collection_path(c, group, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, p, sizeof(p), e) ||
            cli_path_add(p, sizeof(p), "/", ref, e))
            return -1;
        return cli_mgmt(c, "GET", p, NULL, out, e);
    }
    /* a client id, or a name without a group: the subscription's */
    if (cli_collection_path(c, NULL, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, p, sizeof(p), e) ||
        cli_mgmt(c, "GET", p, NULL, &list, e))
        return -1;
    size_t i;
    json_t *it;
    const json_t *by_principal = NULL;
    json_array_foreach(json_object_get(list, "value"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *cid = json_string_value(json_object_get(it, "clientId"));
        const char *pid = json_string_value(json_object_get(it, "principalId"));
        if ((name && strcmp(name, ref) == 0) || (cid && strcasecmp(cid, ref) == 0)) {
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
        const char *rid = json_string_value(json_object_get(by_principal, "id"));
        cli_fail(e, "IdentityRequired",
                 "'%.64s' is the principal (object) id of identity '%.128s': expected a client id "
                 "or resource id (its client id is %.64s, its resource id %.512s).",
                 ref, name ? name : "", cid ? cid : "", rid ? rid : "");
        json_decref(list);
        return -1;
    }
    json_decref(list);
    if (*out == NULL)
        return cli_fail(e, "ResourceNotFound",
                        "The identity '%.200s' was not found: give its resource id, its name "
                        "(in the command's resource group) or its client id (coffer identity "
                        "list).",
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

/* The identity's ARM path: its group (-g, or the default) is required, as
 * az's. */
static int ident_path(cli_ctx *c, char *p, size_t n, const cli_args *a, cli_err *e)
{
    const char *group;
    if (cli_resource_group(c, a, 1, &group, e) ||
        cli_collection_path(c, group, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, p, n, e))
        return -1;
    return cli_path_add(p, n, "/", cli_args_get(a, "name"), e);
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (ident_path(c, p, sizeof(p), a, e))
        return -1;
    json_t *body = json_object();
    const char *loc = cli_args_get(a, "location");
    if (loc)
        json_object_set_new(body, "location", json_string(loc));
    int rc = cli_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (ident_path(c, p, sizeof(p), a, e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (ident_path(c, p, sizeof(p), a, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *group;
    char p[1024];
    if (cli_resource_group(c, a, 0, &group, e) ||
        cli_collection_path(c, group, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, p, sizeof(p), e))
        return -1;
    return cli_list_values(c, cli_mgmt, p, res, e);
}

static const cli_opt create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"location", "l", CLI_OPT_VALUE, 0, "LOCATION"},
    {0},
};
static const cli_opt name_group_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt group_opts[] = {CLI_OPT_GROUP, {0}};

const cli_verb cli_identity_verbs[] = {
    {"create",
     "Create a user-assigned managed identity in a resource group (no change if it "
     "exists).",
     create_opts, run_create,
     "coffer identity create -g myresourcegroup -n myidentity --query principalId -o tsv", NULL},
    {"show", "Show an identity: its id, clientId and principalId.", name_group_opts, run_show,
     "coffer identity show -g myresourcegroup -n myidentity --query id -o tsv", NULL},
    {"delete", "Delete an identity (refused while a registry has it assigned).", name_group_opts,
     run_delete, "coffer identity delete -g myresourcegroup -n myidentity", NULL},
    {"list", "List the identities of a resource group, or of the subscription.", group_opts,
     run_list, "coffer identity list --query [].name -o tsv", NULL},
    {0},
};
