/*
 * engine.h -- where a key version's cryptography happens. The API layer
 * hands the engine a stored key version; the engine knows whether its
 * private half is a sealed software key (unsealed with the master key and
 * used through keyops.h) or an object inside the PKCS#11 token (hsm.h),
 * and keeps a small cache of unsealed software keys so the hot path
 * (unwrapKey) does one RSA operation, not a parse per request.
 *
 * Error codes for the API layer: CF_EINVAL (bad alg or input: 400),
 * CF_EUNSUPPORTED (operation impossible on this key type: 400),
 * CF_EUNAVAIL (no HSM configured: 400 with a clear message),
 * CF_ECRYPTO / CF_EINTEGRITY (500: the sealed key does not open).
 */
#ifndef CF_VAULT_ENGINE_H
#define CF_VAULT_ENGINE_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "vault/master.h"
#include "vault/req.h"
#include "vault/store.h"

typedef struct vault_engine vault_engine;
typedef struct vault_token vault_token;

/* hsm may be NULL (no token configured). Borrows master and hsm. */
cf_code vault_engine_new(vault_engine **out, const vault_master *master, vault_token *hsm,
                         cf_err *e);
void vault_engine_free(vault_engine *g);
int vault_engine_has_hsm(const vault_engine *g);

/* Generates a key for kv (kv->vault/name/version/kty set by the caller):
 * fills kv->jwk (public JWK), and kv->sealed or kv->hsm_id.
 * key_size for RSA, crv for EC. */
cf_code vault_engine_generate(vault_engine *g, vault_keyver *kv, int key_size, long public_exponent,
                              const char *crv, cf_err *e);
/* Imports a JWK (public, or with the private part): fills kv->jwk, kv->kty
 * and kv->sealed (when private). *has_private tells which. */
cf_code vault_engine_import(vault_engine *g, vault_keyver *kv, const json_t *jwk, int *has_private,
                            cf_err *e);

typedef enum {
    VAULT_OP_ENCRYPT,
    VAULT_OP_DECRYPT,
    VAULT_OP_WRAP,
    VAULT_OP_UNWRAP,
    VAULT_OP_SIGN,
    VAULT_OP_VERIFY,
} vault_op;

/* Runs op with alg on in (value; digest for verify). out: the result bytes
 * (set secret for decrypt/unwrap by the engine); verify sets *verified. */
cf_code vault_engine_op(vault_engine *g, const vault_keyver *kv, vault_op op, const char *alg,
                        const unsigned char *in, size_t in_len, const unsigned char *sig,
                        size_t sig_len, cf_buf *out, int *verified, cf_err *e);

/* Forgets cached material of a key (purge) and destroys HSM objects. */
void vault_engine_forget(vault_engine *g, const char *vault, const char *name);
cf_code vault_engine_destroy_hsm(vault_engine *g, const char *hsm_id, cf_err *e);

/* RSA modulus bits / EC curve of a stored public JWK, for rotation. */
int vault_engine_rsa_bits(const json_t *jwk);

#endif
