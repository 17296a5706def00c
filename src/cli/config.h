/*
 * config.h -- the coffer client's configuration: where the two servers are
 * and the credentials to use with them.
 *
 * A file of `key = value` lines (`#` starts a comment line; blank lines
 * ignored), read from $COFFER_CONFIG or ~/.config/coffer/config (that
 * default may be absent; a named file must exist). Keys: url, token,
 * token_file, ca, vault_url, vault_token, vault_token_file, vault_ca,
 * vault_domain, and the defaults of az's `az configure --defaults` and
 * `az account set`: subscription, group, location; any other key is
 * refused. Then the environment overrides: COFFER_URL, COFFER_TOKEN,
 * COFFER_CA, COFFER_VAULT_URL, COFFER_VAULT_TOKEN, COFFER_VAULT_CA,
 * COFFER_VAULT_DOMAIN, COFFER_SUBSCRIPTION, COFFER_DEFAULTS_GROUP,
 * COFFER_DEFAULTS_LOCATION (an empty variable counts as unset).
 * ca and vault_ca are the CA files that sign cofferd's management API's and
 * keyvaultd's certificates (NULL: the system bundle); there is no setting
 * that turns verification off (only the --insecure option, by name).
 * A token set directly (file or environment) wins over a token file; a file
 * giving both `token` and `token_file` is refused. Token files are read
 * once everything else is settled, with trailing whitespace dropped.
 * Tokens are wiped when the config is freed.
 */
#ifndef CF_CLI_CONFIG_H
#define CF_CLI_CONFIG_H

#include "cli/error.h"

#define CLI_DEFAULT_URL "http://127.0.0.1:5001"
#define CLI_DEFAULT_VAULT_URL "https://127.0.0.1:8443"
#define CLI_DEFAULT_VAULT_DOMAIN "vault.localhost"

typedef struct cli_config {
    char *url;
    char *token; /* NULL: none configured */
    char *ca;    /* NULL: the system bundle */
    char *vault_url;
    char *vault_token;
    char *vault_ca; /* NULL: the system bundle */
    char *vault_domain;
    char *token_file, *vault_token_file;
    char *subscription; /* NULL: cofferd's default subscription */
    char *group;        /* the default resource group (-g), or NULL */
    char *location;     /* the default location (-l), or NULL */
    char path[512];     /* the file read ("" when none) */
} cli_config;

/* Defaults, the file (COFFER_CONFIG or the default path), the environment,
 * then the token files. On failure the config is freed. */
int cli_config_load(cli_config *c, cli_err *e);
/* Applies `text` (the contents of file `path`, for messages) over c. */
int cli_config_parse(cli_config *c, const char *text, const char *path, cli_err *e);
void cli_config_free(cli_config *c);

/* The config file `coffer configure` and `coffer account set` write:
 * $COFFER_CONFIG, else ~/.config/coffer/config. */
int cli_config_file(char *out, size_t cap, cli_err *e);
/* Sets key = value in the config file (value NULL or "": the line goes),
 * keeping every other line; the file is written atomically, 0600. */
int cli_config_write(const char *key, const char *value, cli_err *e);

/* The base URL (no trailing slash) of vault `name`'s keys API:
 * https://NAME.<vault_domain>:<port of vault_url>, or vault_url itself for
 * "default". Caller frees. A name outside [0-9A-Za-z-] is a usage error. */
int cli_config_vault_base(const cli_config *c, const char *name, char **out, cli_err *e);

/* A usage error unless name can be a vault's host label. */
int cli_config_vault_name_check(const char *name, cli_err *e);

#endif
