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
#include "vault/keyops.h"
#include "vault/master.h"

typedef struct vault_token vault_token;

cf_code vault_token_open(vault_token **out, const vault_config *cfg, cf_err *e);
void vault_token_close(vault_token *t);
cf_code vault_token_master(vault_master **out, vault_token *t, const char *wrapped_path, cf_err *e);
/* Key pairs in the token (engine.c's only way to the HSM). id receives
 * the object's CKA_ID as hex; *pub the public key. */
#define VAULT_TOKEN_ID_MAX 65
cf_code vault_token_generate(char id[VAULT_TOKEN_ID_MAX], EVP_PKEY **pub, vault_token *t,
                             int is_rsa, int bits, const char *crv, const char *label, cf_err *e);
cf_code vault_token_decrypt(cf_buf *out, vault_token *t, const char *id, keyops_enc_alg alg,
                            const unsigned char *in, size_t in_len, cf_err *e);
cf_code vault_token_sign(cf_buf *out, vault_token *t, const char *id, keyops_sig_alg alg,
                         const unsigned char *digest, size_t digest_len, cf_err *e);
cf_code vault_token_destroy(vault_token *t, const char *id, cf_err *e);

#endif
