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
extern const cli_verb cli_acr_repository_verbs[];
extern const cli_verb cli_acr_manifest_verbs[];
extern const cli_verb cli_keyvault_verbs[];
extern const cli_verb cli_keyvault_key_verbs[];
extern const cli_verb cli_keyvault_network_rule_verbs[];

/* Appends prefix then the percent-encoded seg (if not NULL) to dst. */
int cli_path_add(char *dst, size_t n, const char *prefix, const char *seg, cli_err *e);
/* 8-4-4-4-12 hex digits. */
int cli_is_uuid(const char *s);
/* Resolves an identity given as NAME, /identities/NAME or client id through
 * GET /identities; *out is the identity JSON (new reference). */
int cli_identity_resolve(cli_ctx *c, const char *ref, json_t **out, cli_err *e);

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

#endif
