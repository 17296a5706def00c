/*
 * gc.c -- `coffer acr gc show|run` and `coffer acr config retention
 * show|update` (docs/cli.md "acr gc", docs/operations.md).
 *
 * `gc show` asks cofferd what a collection would free now (a dry run),
 * `gc run` collects (POST .../garbageCollect); --grace takes a duration
 * (0s, 90s, 15m, 24h, 7d) and sends it in seconds; without it cofferd's
 * --gc-grace applies. `config retention` is az's: update PATCHes the
 * registry's properties.policies.retentionPolicy, and both print that
 * policy ({days, lastUpdatedTime, status}).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/duration.h"
#include "cli/verbs.h"

#define GRACE_MAX_S (365LL * 86400)

static int gc_call(cli_ctx *c, const cli_args *a, int dry_run, json_t **res, cli_err *e)
{
    char p[1024];
    if (cli_registry_path(c, a, "name", 0, "/garbageCollect", p, sizeof(p), e))
        return -1;
    json_t *body = json_pack("{s:b}", "dryRun", dry_run);
    const char *g = cli_args_get(a, "grace");
    if (g) {
        int64_t s;
        if (cf_duration_parse(g, GRACE_MAX_S, &s) != 0) {
            json_decref(body);
            return cli_usage(e,
                             "argument --grace: invalid duration '%.64s' (a number with s, m, h "
                             "or d: 0s, 90s, 15m, 24h, 7d; at most 365d)",
                             g);
        }
        json_object_set_new(body, "gracePeriodSeconds", json_integer((json_int_t)s));
    }
    int rc = cli_mgmt(c, "POST", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_gc_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return gc_call(c, a, 1, res, e);
}

static int run_gc_run(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    return gc_call(c, a, 0, res, e);
}

/* properties.policies.retentionPolicy of registry r (new reference);
 * releases r. */
static json_t *retention_of(json_t *r)
{
    json_t *v = json_object_get(json_object_get(json_object_get(r, "properties"), "policies"),
                                "retentionPolicy");
    v = v ? json_incref(v) : json_object();
    json_decref(r);
    return v;
}

static int run_ret_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    json_t *r = NULL;
    if (cli_registry_path(c, a, "registry", 0, NULL, p, sizeof(p), e) ||
        cli_mgmt(c, "GET", p, NULL, &r, e))
        return -1;
    *res = retention_of(r);
    return 0;
}

static int run_ret_update(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *type = cli_args_get(a, "type"), *status = cli_args_get(a, "status");
    const char *days = cli_args_get(a, "days");
    if (strcmp(type, "UntaggedManifests") != 0)
        return cli_usage(e,
                         "argument --type: invalid choice: '%.64s' (choose from "
                         "'UntaggedManifests')",
                         type);
    if (strcasecmp(status, "enabled") != 0 && strcasecmp(status, "disabled") != 0)
        return cli_usage(e,
                         "argument --status: invalid choice: '%.64s' (choose from 'disabled', "
                         "'enabled')",
                         status);
    json_t *pol =
        json_pack("{s:s}", "status", strcasecmp(status, "enabled") == 0 ? "enabled" : "disabled");
    if (days) {
        int64_t d;
        if (cf_duration_parse(days, 365, &d) != 0 || strspn(days, "0123456789") != strlen(days)) {
            json_decref(pol);
            return cli_usage(e,
                             "argument --days: expected a whole number of days from 0 to 365, "
                             "got '%.64s'",
                             days);
        }
        json_object_set_new(pol, "days", json_integer((json_int_t)d));
    }
    char p[1024];
    json_t *r = NULL;
    json_t *body = json_pack("{s:{s:{s:o}}}", "properties", "policies", "retentionPolicy", pol);
    int rc = cli_registry_path(c, a, "registry", 0, NULL, p, sizeof(p), e) ||
             cli_mgmt(c, "PATCH", p, body, &r, e);
    json_decref(body);
    if (rc)
        return -1;
    *res = retention_of(r);
    return 0;
}

static const cli_opt gc_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    CLI_OPT_GROUP,
    {"grace", NULL, CLI_OPT_VALUE, 0, "DURATION"},
    {0},
};
static const cli_opt ret_show_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt ret_update_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"status", NULL, CLI_OPT_VALUE, 1, "enabled|disabled"},
    {"type", NULL, CLI_OPT_VALUE, 1, "UntaggedManifests"},
    {"days", NULL, CLI_OPT_VALUE, 0, "N"},
    {0},
};

const cli_verb cli_acr_gc_verbs[] = {
    {"show",
     "Show what garbage collection would free now: untagged manifests past the retention "
     "policy, blobs no manifest references (count, bytes).",
     gc_opts, run_gc_show, "coffer acr gc show -n myregistry --grace 1h", NULL},
    {"run",
     "Collect the registry now, while it is in use; prints what was freed (--grace 0s: blobs "
     "uploaded a moment ago too).",
     gc_opts, run_gc_run, "coffer acr gc run -n myregistry --grace 0s", NULL},
    {0},
};

const cli_verb cli_acr_config_retention_verbs[] = {
    {"show", "Show the registry's retention policy for untagged manifests.", ret_show_opts,
     run_ret_show, "coffer acr config retention show -r myregistry", NULL},
    {"update",
     "Enable or disable deleting untagged manifests older than --days (0-365) at each garbage "
     "collection.",
     ret_update_opts, run_ret_update,
     "coffer acr config retention update -r myregistry --status enabled --days 30 --type "
     "UntaggedManifests",
     NULL},
    {0},
};
