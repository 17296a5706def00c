/*
 * config.h -- keyvaultd's configuration (docs/keyvault.md, "Config").
 *
 * One JSON file, parsed in one pass: every key is looked up in a table of
 * known names, unknown keys are refused (a typo must not silently fall back
 * to a default), every value is validated, then the struct is treated as
 * frozen: the daemon hands out `const vault_config *` only. Defaults apply
 * when no file is given. Secrets (the PKCS#11 PIN) never reach the log:
 * vault_config_log() redacts them.
 */
#ifndef CF_VAULT_CONFIG_H
#define CF_VAULT_CONFIG_H

#include <stddef.h>

#include "base/err.h"

#define VAULT_CONFIG_MAX_ISSUERS 16

typedef struct vault_issuer {
    char *issuer;
    char *jwks_file; /* one of jwks_file / jwks_url */
    char *jwks_url;
    char *audience;      /* defaults to the config's resource */
    char *ca_file;       /* CA bundle for an https jwks_url; default: the system's.
                          * An http:// jwks_url is refused unless its host is loopback. */
    int trusted_service; /* its callers bypass network rules with bypass AzureServices (netacl.h) */
} vault_issuer;

typedef struct vault_config {
    char *listen;        /* "127.0.0.1:8443"; --listen on the command line wins */
    char *vault_domain;  /* "vault.localhost" */
    char *default_vault; /* "default" */
    /* where vaults made without a resource group live (the legacy /vaults
     * paths, and those from before groups): cofferd's --subscription and
     * --default-group (docs/keyvault.md, "Resource groups") */
    char *default_subscription;   /* "00000000-0000-0000-0000-000000000000" */
    char *default_resource_group; /* "default" */
    char *tls_cert;               /* both or neither; NULL: self-signed in DIR/tls/ */
    char *tls_key;
    char *resource;      /* "https://vault.azure.net" */
    char *authorization; /* "https://login.coffer.test/tenant" */
    vault_issuer issuers[VAULT_CONFIG_MAX_ISSUERS];
    size_t n_issuers;
    int has_pkcs11;
    char *pkcs11_module;
    char *pkcs11_token_label;
    char *pkcs11_pin; /* secret */
    char *pkcs11_pin_file;
    int master_key_pkcs11;         /* "master_key": "pkcs11" */
    unsigned scheduler_interval_s; /* rotation / purge checks; 1..86400, default 60 */
    unsigned rotation_min_s;       /* shortest rotation trigger; default 7 days */
    unsigned threads;              /* HTTP worker threads; default 8 */
    size_t max_body;               /* request body cap; default 256 KiB */
} vault_config;

/* Fills c with the defaults (all strings allocated). */
cf_code vault_config_init(vault_config *c, cf_err *e);
/* Applies a JSON document over the defaults; CF_EINVAL names the bad key. */
cf_code vault_config_parse(vault_config *c, const char *json, size_t len, cf_err *e);
cf_code vault_config_load(vault_config *c, const char *path, cf_err *e);
/* Reads the PIN from pin_file when pin is not given. */
cf_code vault_config_pin(const vault_config *c, char *out, size_t out_len, cf_err *e);
void vault_config_log(const vault_config *c);
void vault_config_free(vault_config *c);

#endif
