/*
 * token.h -- keyvaultd's use of the PKCS#11 token (hsm.h does the PKCS#11
 * work): opening the token named in the config, and the "master_key":
 * "pkcs11" mode, where the 32-byte master key is random, stored only
 * wrapped (AES key wrap by an AES-256 key that never leaves the token) in
 * DIR/master.key.wrapped (0600), and unwrapped into memory at start.
 */
#ifndef CF_VAULT_TOKEN_H
#define CF_VAULT_TOKEN_H

#include "base/err.h"
#include "vault/config.h"
#include "vault/master.h"

typedef struct vault_token vault_token;

cf_code vault_token_open(vault_token **out, const vault_config *cfg, cf_err *e);
void vault_token_close(vault_token *t);
cf_code vault_token_master(vault_master **out, vault_token *t, const char *wrapped_path,
                           cf_err *e);
/* The hsm.h context inside (for the engine). */
struct hsm_ctx *vault_token_hsm(vault_token *t);

#endif
