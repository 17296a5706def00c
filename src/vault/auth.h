/*
 * auth.h -- who is calling. `Authorization: Bearer <token>` carries either
 * the admin token (DIR/admin.token, 64 hex characters, compared in
 * constant time; caller object id "admin", every permission) or a JWT from
 * a configured issuer, verified by jwt.h against the issuer's JWKS (file,
 * or URL fetched and cached). Anything else is unauthenticated: the API
 * answers 401 with the Key Vault challenge.
 */
#ifndef CF_VAULT_AUTH_H
#define CF_VAULT_AUTH_H

#include "base/err.h"
#include "crypto/keys.h"
#include "vault/config.h"

#define VAULT_ADMIN_TOKEN_HEX KEYS_TOKEN_HEX_LEN /* DIR/admin.token: keys_token_file_load */

typedef struct vault_caller {
    int is_admin;
    char oid[130];
    char appid[130];
    char tid[130];
    char iss[260];       /* the token's issuer ("" for the admin token) */
    int trusted_service; /* its issuer is configured "trusted_service" (netacl.h) */
} vault_caller;

typedef struct vault_auth vault_auth;

/* Borrows cfg; copies the token. Loads JWKS files now (a bad file fails
 * the start); JWKS URLs are fetched on first use and refreshed hourly. */
cf_code vault_auth_new(vault_auth **out, const vault_config *cfg, const char *admin_token,
                       cf_err *e);
void vault_auth_free(vault_auth *a);

/* CF_EAUTH with a reason (safe to show the caller) when not authenticated;
 * CF_EUNAVAIL when the token names a trusted issuer whose key set has not
 * been fetched yet (the vault cannot check it now: 503, try again). */
cf_code vault_auth_check(vault_auth *a, const char *authorization, vault_caller *out, cf_err *e);

#endif
