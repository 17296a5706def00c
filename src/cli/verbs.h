/*
 * verbs.h -- the table of coffer's commands.
 *
 * A group ("acr", "acr encryption", "keyvault key", ...) holds verbs; each
 * verb names its options (args.h) and a run function that makes its HTTP
 * calls and hands back the JSON to print (NULL: print nothing). A run
 * function checks everything it can about its arguments before the first
 * call, so a usage error never needs the config or a server.
 */
#ifndef CF_CLI_VERBS_H
#define CF_CLI_VERBS_H

#include <jansson.h>

#include "base/armid.h"
#include "cli/args.h"
#include "cli/cli.h"

typedef int (*cli_run_fn)(cli_ctx *c, const cli_args *a, json_t **result, cli_err *e);

typedef struct cli_verb {
    const char *name;
    const char *summary;
    const cli_opt *opts;
    cli_run_fn run;
    const char *example;
    /* -o table of a list: its columns (az's table transformer); NULL:
     * the automatic columns (output.h) */
    const cli_column *table;
} cli_verb;

typedef struct cli_group {
    const char *name; /* words separated by one space */
    const char *summary;
    const cli_verb *verbs; /* terminated by a NULL name */
} cli_group;

extern const cli_verb cli_identity_verbs[];
extern const cli_verb cli_acr_verbs[];
extern const cli_verb cli_acr_encryption_verbs[];
extern const cli_verb cli_acr_identity_verbs[];
extern const cli_verb cli_acr_credential_verbs[];
extern const cli_verb cli_acr_token_verbs[];
extern const cli_verb cli_acr_token_credential_verbs[];
extern const cli_verb cli_acr_gc_verbs[];
extern const cli_verb cli_acr_config_retention_verbs[];
extern const cli_verb cli_acr_repository_verbs[];
extern const cli_verb cli_acr_manifest_verbs[];
extern const cli_verb cli_acr_task_verbs[];
/* task.c: `acr run` (in the acr group's table) */
extern const cli_opt cli_acr_run_opts[];
int cli_acr_run(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e);
/* task.c: `acr import` (a quick run of the import command) */
extern const cli_opt cli_acr_import_opts[];
int cli_acr_import(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e);
extern const cli_verb cli_keyvault_verbs[];
extern const cli_verb cli_keyvault_key_verbs[];
extern const cli_verb cli_keyvault_network_rule_verbs[];
extern const cli_verb cli_group_verbs[];
extern const cli_verb cli_account_verbs[];
extern const cli_verb cli_configure_verbs[];
extern const cli_verb cli_role_assignment_verbs[];
extern const cli_verb cli_role_definition_verbs[];
extern const cli_verb cli_deployment_group_verbs[];
extern const cli_verb cli_ad_sp_verbs[];
extern const cli_verb cli_ad_sp_credential_verbs[];
extern const cli_verb cli_login_verbs[];
extern const cli_verb cli_logout_verbs[];
/* `coffer account create` (principal.c), listed with group.c's verbs */
extern const cli_opt cli_account_create_opts[];
int cli_run_account_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e);
/* A random (version 4) UUID, lower case (role.c). */
int cli_new_uuid(char out[37], cli_err *e);

/* Appends prefix then the percent-encoded seg (if not NULL) to dst. */
int cli_path_add(char *dst, size_t n, const char *prefix, const char *seg, cli_err *e);
/* 8-4-4-4-12 hex digits. */
int cli_is_uuid(const char *s);
/* Resolves an identity given as its resource id (or the legacy
 * /identities/NAME), a name (in `group` when not NULL, else the
 * subscription's) or a client id; *out is the identity JSON (new
 * reference). */
int cli_identity_resolve(cli_ctx *c, const char *group, const char *ref, json_t **out, cli_err *e);

/* The scope of `acr token create`: one {"repository","actions"} per
 * --repository REPO ACTION... occurrence (new reference); NULL after a
 * usage error. */
json_t *cli_token_scope(const cli_args *a, cli_err *e);

/* The calls of cli.h that reach a server's management API. */
typedef int (*cli_call_fn)(cli_ctx *c, const char *method, const char *path, const json_t *body,
                           json_t **out, cli_err *e);
/* DELETE path; on success *res = NULL: a delete prints nothing, as az. */
int cli_delete_quiet(cli_ctx *c, cli_call_fn call, const char *path, json_t **res, cli_err *e);
/* GET path, a {"value":[...]} listing; *res = the array ([] when absent). */
int cli_list_values(cli_ctx *c, cli_call_fn call, const char *path, json_t **res, cli_err *e);

/* ---- arm.c: subscriptions, groups and ARM paths ---- */

/* -g/--resource-group, as every verb with a group spells it. */
#define CLI_OPT_GROUP                                                                              \
    {                                                                                              \
        "resource-group", "g", CLI_OPT_VALUE, 0, "GROUP"                                           \
    }
/* The current subscription: the config's `subscription` (or
 * COFFER_SUBSCRIPTION), else cofferd's default one (asked once). */
int cli_subscription(cli_ctx *c, const char **out, cli_err *e);
/* The command's group: -g, else the configured default (`group`,
 * COFFER_DEFAULTS_GROUP); *out NULL when neither and not required (a
 * usage error when required, as az's). */
int cli_resource_group(cli_ctx *c, const cli_args *a, int required, const char **out, cli_err *e);
/* GET of resource group `group` on cofferd (404 ResourceGroupNotFound). */
int cli_group_get(cli_ctx *c, const char *group, json_t **out, cli_err *e);
/* The path of the ns/type collection of group (NULL: the subscription's). */
int cli_collection_path(cli_ctx *c, const char *group, const char *ns, const char *type, char *out,
                        size_t cap, cli_err *e);
/* The ARM path of resource `name` of ns/type: below the command's group
 * (required: as for cli_group), else found by name among the
 * subscription's through call (ResourceNotFound when none). */
int cli_resource_path(cli_ctx *c, const cli_args *a, cli_call_fn call, const char *ns,
                      const char *type, const char *name, int required, char *out, size_t cap,
                      cli_err *e);
/* export.c: the template that recreates group's setup (new reference). */
int cli_group_export(cli_ctx *c, const char *group, json_t **res, cli_err *e);
/* acr.c: the ARM path of the registry named by option opt ("name",
 * "registry"), + suffix. */
int cli_registry_path(cli_ctx *c, const cli_args *a, const char *opt, int required,
                      const char *suffix, char *p, size_t n, cli_err *e);
/* Whether s is the ARM id of a resource of ns/type (its parts in *p). */
int cli_arm_id_is(const char *s, const char *ns, const char *type, arm_path *p);
/* An ARM resource as az prints it: properties' members beside the
 * others, keys sorted (new reference). */
json_t *cli_arm_flatten(const json_t *r);

#endif
