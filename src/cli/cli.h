/*
 * cli.h -- what every part of the coffer command-line client shares: the
 * error a command ends with, and the context a command runs in.
 *
 * The client is an HTTP client of two servers (cofferd's management API and
 * keyvaultd). A command either succeeds with a JSON result, which the main
 * loop filters (--query) and prints (-o json|table|tsv), or fails with one
 * cli_err: a usage error (exit 2, the message and the verb's usage on
 * stderr) or an operational error (exit 1, `ERROR: (<Code>) <message>`).
 * Like cf_err, the first failure wins. Tokens never enter an error message:
 * messages name URLs and files, never credentials.
 */
#ifndef CF_CLI_CLI_H
#define CF_CLI_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "cli/config.h"
#include "cli/error.h"

/* The run of one command. */
typedef struct cli_ctx {
    FILE *out, *err;
    cli_config cfg;
    int cfg_loaded;
    char sub[40];     /* cofferd's default subscription, once asked (arm.c) */
    int insecure;     /* --insecure: neither server's certificate is verified */
    long last_status; /* the HTTP status of the last call (0: none answered) */
} cli_ctx;

/* Loads the configuration on first use (commands that fail on their
 * arguments never read it). */
int cli_ctx_config(cli_ctx *c, cli_err *e);

/* One call to cofferd's management API: path relative to `url`. *out gets
 * the parsed body (NULL when empty); HTTP errors become e. */
int cli_mgmt(cli_ctx *c, const char *method, const char *path, const json_t *body, json_t **out,
             cli_err *e);
/* One call to keyvaultd's management API (`/vaults/...`) at vault_url. */
int cli_vault_mgmt(cli_ctx *c, const char *method, const char *path, const json_t *body,
                   json_t **out, cli_err *e);
/* One call to the keys API of vault `vault`; path_query carries api-version. */
int cli_vault_keys(cli_ctx *c, const char *vault, const char *method, const char *path_query,
                   const json_t *body, json_t **out, cli_err *e);
/* GET of a paged keys-API list: follows nextLink (same origin only) and
 * returns one array of every page's items. */
int cli_vault_keys_list(cli_ctx *c, const char *vault, const char *path_query, json_t **out,
                        cli_err *e);

/* Runs the command line; returns the exit code (0, 1 or 2). Output on out,
 * errors and usage on err. */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

#endif
