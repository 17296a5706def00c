/*
 * hsm.h -- keys that live in a PKCS#11 token (SoftHSM2 in tests).
 *
 * The module is dlopen()ed from a path (C_GetFunctionList); the token is
 * found by its label and the user logs in with the PIN once, at open. Key
 * pairs are generated inside the token: the private half has CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE = true and CKA_EXTRACTABLE = false, so its
 * value never leaves the token; both halves carry CKA_ID = 16 random bytes
 * and the caller's CKA_LABEL. The vault stores the CKA_ID as 32 lowercase
 * hex characters (the "handle") and keeps the public key as an EVP_PKEY.
 *
 * Only private-key operations go to the token: decrypt/unwrap and sign.
 * Encrypt/wrap and verify use the public EVP_PKEY with keyops.
 *
 * RSA-OAEP-256: the token's CKM_RSA_PKCS_OAEP with SHA-256/MGF1-SHA-256 is
 * tried first; when the module rejects it (Debian's SoftHSM2 2.6.1 answers
 * CKR_ARGUMENTS_BAD / CKR_MECHANISM_PARAM_INVALID), hsm falls back to raw
 * RSA in the token (CKM_RSA_X_509) and OAEP decoding (RFC 8017 §7.1.2) in
 * software, in constant time. The probe result is remembered per hsm
 * handle. Every decryption failure, in the token or in the decoding, is
 * CF_EINTEGRITY "decryption failed".
 *
 * Master key: an AES-256 secret key in the token (CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE, !CKA_EXTRACTABLE), found by label or created, wraps
 * 32-byte secrets with CKM_AES_GCM (96-bit random nonce, 128-bit tag):
 * wrapped = nonce(12) || ciphertext(32) || tag(16).
 *
 * Thread safety: an hsm handle may be used from any number of threads.
 * It keeps a small pool of logged-in sessions guarded by a mutex; each
 * call takes one session for its duration (PKCS#11 sessions are not
 * shareable between concurrent operations), so calls run in parallel up to
 * the pool size and wait beyond it. hsm_close must not race other calls.
 */
#ifndef CF_VAULT_HSM_H
#define CF_VAULT_HSM_H

#include <stddef.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/err.h"
#include "vault/keyops.h"

#define HSM_ID_LEN 16
#define HSM_ID_HEX_LEN 32 /* plus a NUL in buffers: char id[HSM_ID_HEX_LEN + 1] */
#define HSM_SECRET_LEN 32
#define HSM_WRAPPED_LEN 60 /* nonce(12) || ciphertext(32) || tag(16) */

typedef struct hsm hsm;

/* Loads the module, initialises it (CKF_OS_LOCKING_OK), finds the token
 * with the given label (CF_ENOTFOUND if none) and logs in as user with pin
 * (CF_EAUTH if refused). *out is the caller's; free with hsm_close. */
cf_code hsm_open(hsm **out, const char *module_path, const char *token_label, const char *pin,
                 cf_err *e);
/* Logs out, finalises and unloads the module. NULL is a no-op. */
void hsm_close(hsm *h);

/* Generates an RSA key pair (bits 2048/3072/4096, e = 65537) in the token.
 * out_id receives the CKA_ID as hex; *out_pub the public key (caller's). */
cf_code hsm_key_generate_rsa(char out_id[HSM_ID_HEX_LEN + 1], EVP_PKEY **out_pub, hsm *h, int bits,
                             const char *label, cf_err *e);
/* Same for EC; crv "P-256", "P-384" or "P-521". */
cf_code hsm_key_generate_ec(char out_id[HSM_ID_HEX_LEN + 1], EVP_PKEY **out_pub, hsm *h,
                            const char *crv, const char *label, cf_err *e);

/* Finds the key pair by id and returns its public key (CF_ENOTFOUND when
 * no private key with that CKA_ID exists). */
cf_code hsm_key_public(EVP_PKEY **out_pub, hsm *h, const char *id_hex, cf_err *e);

/* Decrypts (unwrapKey/decrypt) with the private key in the token; appends
 * the plaintext to out (set out->secret = 1). CF_EINTEGRITY "decryption
 * failed" for any bad ciphertext; CF_ENOTFOUND for an unknown id;
 * CF_EINVAL for an EC key. */
cf_code hsm_key_decrypt(cf_buf *out, hsm *h, const char *id_hex, keyops_enc_alg alg,
                        const unsigned char *in, size_t in_len, cf_err *e);

/* Signs a digest in the token (rules of keyops_sign: digest length, curve
 * per ES alg; ES* output is raw r||s). */
cf_code hsm_key_sign(cf_buf *out, hsm *h, const char *id_hex, keyops_sig_alg alg,
                     const unsigned char *digest, size_t digest_len, cf_err *e);

/* Destroys both halves of the key pair (CF_ENOTFOUND if neither exists). */
cf_code hsm_key_destroy(hsm *h, const char *id_hex, cf_err *e);

/* 1 if the token did RSA-OAEP-256 natively, 0 if hsm uses the raw-RSA
 * fallback, -1 if not probed yet. For logs, docs and tests. */
int hsm_oaep256_native(const hsm *h);

/* AES-GCM wrap/unwrap of a 32-byte secret under the token's AES-256 key
 * with the given label (found, or created on first wrap and on unwrap
 * CF_ENOTFOUND if absent). aad (may be NULL when aad_len is 0) is bound as
 * GCM additional data. Unwrap failure: CF_EINTEGRITY. */
cf_code hsm_master_wrap(unsigned char out[HSM_WRAPPED_LEN], hsm *h, const char *label,
                        const unsigned char *aad, size_t aad_len,
                        const unsigned char secret[HSM_SECRET_LEN], cf_err *e);
cf_code hsm_master_unwrap(unsigned char out[HSM_SECRET_LEN], hsm *h, const char *label,
                          const unsigned char *aad, size_t aad_len,
                          const unsigned char wrapped[HSM_WRAPPED_LEN], cf_err *e);

#endif
