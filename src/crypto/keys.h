/*
 * keys.h -- the service side of the key hierarchy (DESIGN §2).
 *
 *   SRK  service root key, 32 bytes, <data>/keys/srk (0600; refused if
 *        group/world accessible), created on first start
 *   S    32 random bytes per registry, stored wrapped under the SRK with
 *        AES-256-GCM, AAD = "coffer/v1/S" ‖ registry_id
 *   C    32 random bytes per CMK registry, wrapped by the customer's vault
 *        key (the vault does that; this module only consumes C)
 *   KEK  HKDF-SHA256(ikm = S ‖ C (S alone without CMK), salt = registry_id,
 *        info = "coffer/v1/kek")
 *
 * All secrets are wiped by the caller with keys_wipe()/OPENSSL_cleanse.
 */
#ifndef CF_CRYPTO_KEYS_H
#define CF_CRYPTO_KEYS_H

#include <stddef.h>

#include "base/err.h"
#include "crypto/seal.h"

#define KEYS_SECRET_LEN 32
/* nonce(12) ‖ ciphertext(32) ‖ tag(16) */
#define KEYS_WRAPPED_LEN 60

/* Loads the SRK from path, or creates it (0600, fsynced) when absent; the
 * directory must exist. Creation is atomic and race-free (temp file +
 * link(2)): two processes starting together end up with the same key.
 * CF_EDENIED when the file is group/world accessible; CF_EINTEGRITY when
 * its size is wrong. */
cf_code keys_srk_load_or_create(const char *path, unsigned char srk[KEYS_SECRET_LEN], cf_err *e);

cf_code keys_random(unsigned char *out, size_t len, cf_err *e);

/* S (or any 32-byte registry secret) under the SRK, bound to registry_id. */
cf_code keys_secret_wrap(unsigned char out[KEYS_WRAPPED_LEN], const unsigned char srk[32],
                         const char *registry_id, const unsigned char secret[32], cf_err *e);
/* keys_secret_wrap with a given nonce: for known-answer tests only (a
 * nonce must never repeat under one SRK). */
cf_code keys_secret_wrap_nonce(unsigned char out[KEYS_WRAPPED_LEN], const unsigned char srk[32],
                               const char *registry_id, const unsigned char secret[32],
                               const unsigned char nonce[12], cf_err *e);
cf_code keys_secret_unwrap(unsigned char out[KEYS_SECRET_LEN], const unsigned char srk[32],
                           const char *registry_id, const unsigned char wrapped[KEYS_WRAPPED_LEN],
                           cf_err *e);

/* c may be NULL (no CMK). */
/* HKDF-SHA256(ikm, salt, info) into out (out_len bytes). */
cf_code keys_hkdf(unsigned char *out, size_t out_len, const unsigned char *ikm, size_t ikm_len,
                  const void *salt, size_t salt_len, const char *info, cf_err *e);
cf_code keys_kek_derive(seal_kek *out, const unsigned char s[32], const unsigned char *c,
                        const char *registry_id, cf_err *e);

void keys_wipe(void *p, size_t len);

/* A daemon's admin credential file (cofferd's and keyvaultd's
 * DIR/admin.token, DESIGN §9): 32 random bytes written once, on first
 * start, as one line of text in `enc` (0600, atomically), then read back
 * on every start. A token is the file's first line without its line end.
 * CF_EDENIED when the file is group/world accessible; CF_EINVAL when it
 * holds anything but one token of that encoding. out receives the token
 * and a NUL (cap at least keys_token_len(enc) + 1); *created (may be
 * NULL) says whether this call made the file. */
typedef enum { KEYS_TOKEN_B64URL = 1, KEYS_TOKEN_HEX = 2 } keys_token_enc;
#define KEYS_TOKEN_B64URL_LEN 43 /* base64url (no padding) of 32 bytes */
#define KEYS_TOKEN_HEX_LEN 64    /* lowercase hex of 32 bytes */
size_t keys_token_len(keys_token_enc enc);
cf_code keys_token_file_load(const char *path, keys_token_enc enc, char *out, size_t cap,
                             int *created, cf_err *e);

#endif
