/*
 * arm.c -- what the coffer client knows of Azure Resource Manager: the
 * current subscription, the resource group of a command (-g, else the
 * configured default, as `az configure --defaults group=` does), the ARM
 * path of the resource a command names, and az's flattened output.
 *
 * A resource is addressed at its ARM path on the server that holds it
 * (cofferd for identities and registries, keyvaultd for vaults). With a
 * group, the path is built; without one (where az makes -g optional) the
 * resource is found by name among the subscription's, as az does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/verbs.h"

int cli_subscription(cli_ctx *c, const char **out, cli_err *e)
{
    *out = NULL;
    if (cli_ctx_config(c, e))
        return -1;
    if (c->cfg.subscription) {
        *out = c->cfg.subscription;
        return 0;
    }
    if (c->sub[0]) {
        *out = c->sub;
        return 0;
    }
    json_t *list = NULL;
    if (cli_mgmt(c, "GET", "/subscriptions", NULL, &list, e))
        return -1;
    size_t i;
    json_t *it;
    const char *pick = NULL;
    json_array_foreach(json_object_get(list, "value"), i, it)
    {
        const char *id = json_string_value(json_object_get(it, "subscriptionId"));
        if (id && (pick == NULL || json_is_true(json_object_get(it, "isDefault"))))
            pick = id;
    }
    if (pick && arm_uuid_valid(pick))
        snprintf(c->sub, sizeof(c->sub), "%s", pick);
    json_decref(list);
    if (c->sub[0] == '\0')
        return cli_fail(e, "SubscriptionNotFound",
                        "cofferd has no subscription (coffer account list).");
    *out = c->sub;
    return 0;
}

int cli_resource_group(cli_ctx *c, const cli_args *a, int required, const char **out, cli_err *e)
{
    const char *g = cli_args_get(a, "resource-group");
    *out = NULL;
    if (g == NULL) {
        if (cli_ctx_config(c, e))
            return -1;
        g = c->cfg.group;
    }
    if (g == NULL) {
        if (required)
            return cli_usage(e, "the following arguments are required: --resource-group/-g "
                                "(or set a default: coffer configure --defaults group=NAME)");
        return 0;
    }
    if (!arm_group_name_valid(g))
        return cli_usage(e,
                         "argument --resource-group/-g: '%.100s' is not a resource group name "
                         "(1-90 of letters, digits, '.', '_', '-', '(' and ')')",
                         g);
    *out = g;
    return 0;
}

int cli_group_get(cli_ctx *c, const char *group, json_t **out, cli_err *e)
{
    const char *sub;
    char p[512];
    *out = NULL;
    if (cli_subscription(c, &sub, e))
        return -1;
    snprintf(p, sizeof(p), "/subscriptions/%s/resourcegroups/", sub);
    return cli_path_add(p, sizeof(p), "", group, e) || cli_mgmt(c, "GET", p, NULL, out, e);
}

int cli_collection_path(cli_ctx *c, const char *group, const char *ns, const char *type, char *out,
                        size_t cap, cli_err *e)
{
    const char *sub;
    if (cli_subscription(c, &sub, e))
        return -1;
    int w = group ? snprintf(out, cap, "/subscriptions/%s/resourceGroups/%s/providers/%s/%s", sub,
                             group, ns, type)
                  : snprintf(out, cap, "/subscriptions/%s/providers/%s/%s", sub, ns, type);
    if (w < 0 || (size_t)w >= cap)
        return cli_usage(e, "a name is too long");
    return 0;
}

int cli_resource_path(cli_ctx *c, const cli_args *a, cli_call_fn call, const char *ns,
                      const char *type, const char *name, int required, char *out, size_t cap,
                      cli_err *e)
{
    const char *group;
    if (cli_resource_group(c, a, required, &group, e) ||
        cli_collection_path(c, group, ns, type, out, cap, e))
        return -1;
    if (group)
        return cli_path_add(out, cap, "/", name, e);
    /* no group: the subscription's resource of that name */
    json_t *list = NULL;
    if (cli_list_values(c, call, out, &list, e))
        return -1;
    size_t i;
    json_t *it;
    const char *id = NULL;
    json_array_foreach(list, i, it)
    {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && strcasecmp(n, name) == 0)
            id = json_string_value(json_object_get(it, "id"));
    }
    arm_path ap;
    int rc = 0;
    if (id == NULL || arm_path_parse(&ap, id, strlen(id)) != 0 || strlen(id) >= cap) {
        const char *sub;
        cli_subscription(c, &sub, e);
        rc = cli_fail(e, "ResourceNotFound",
                      "The Resource '%s/%s/%.130s' was not found in subscription '%s'.", ns, type,
                      name, sub ? sub : "");
    } else {
        snprintf(out, cap, "%s", id);
    }
    json_decref(list);
    return rc;
}

int cli_arm_id_is(const char *s, const char *ns, const char *type, arm_path *p)
{
    return s && s[0] == '/' && arm_path_parse(p, s, strlen(s)) == 0 && p->kind == ARM_RESOURCE &&
           p->rest[0] == '\0' && arm_path_is(p, ns, type);
}

static int key_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

json_t *cli_arm_flatten(const json_t *r)
{
    if (!json_is_object(r))
        return r ? json_incref((json_t *)r) : NULL;
    json_t *all = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)r, k, v)
    {
        if (strcmp(k, "properties") != 0)
            json_object_set(all, k, v);
    }
    json_object_foreach(json_object_get(r, "properties"), k, v)
    {
        if (json_object_get(all, k) == NULL)
            json_object_set(all, k, v);
    }
    /* az prints the flattened model's members sorted */
    size_t n = json_object_size(all), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    json_t *out = json_object();
    if (keys == NULL) {
        json_decref(out);
        return all;
    }
    json_object_foreach(all, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(all, keys[i]));
    free(keys);
    json_decref(all);
    return out;
}
