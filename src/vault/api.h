/*
 * api.h -- keyvaultd's HTTP surface: the Azure Key Vault keys REST API
 * (/keys, /deletedkeys) and the management API (/vaults, /audit), on one
 * TLS listener. vault_api_handle is the http_server handler: it picks the
 * vault from the Host header, authenticates at header time (so the SDK's
 * body-less first request gets its 401 challenge at once), collects the
 * body with a hard cap, then dispatches. Every operation, allowed or
 * refused, leaves one audit line.
 */
#ifndef CF_VAULT_API_H
#define CF_VAULT_API_H

#include <stdint.h>

#include "base/err.h"
#include "http/server.h"
#include "vault/audit.h"
#include "vault/auth.h"
#include "vault/config.h"
#include "vault/engine.h"
#include "vault/store.h"

typedef struct vault_app {
    const vault_config *cfg;
    vault_store *store;
    vault_audit *audit;
    vault_engine *engine;
    vault_auth *auth;
    uint16_t port;
} vault_app;

void vault_api_handle(http_req *r, void *ctx);

/* Creates the default vault when missing. */
cf_code vault_api_ensure_default(vault_app *app, cf_err *e);

/* Adds a new version to a key like its latest one (the rotate operation,
 * also run by the scheduler). out may be NULL. */
cf_code vault_api_rotate(vault_app *app, const char *vault, const char *name, vault_keyver *out,
                         cf_err *e);

/* Purges a soft-deleted key (rows, cached material, HSM objects); the
 * keys API's purge and the scheduler. */
cf_code vault_api_purge_key(vault_app *app, const char *vault, const char *name, cf_err *e);
/* Purges a soft-deleted vault and every key in it, the same way. */
cf_code vault_api_purge_vault(vault_app *app, const char *vault, cf_err *e);

#endif
