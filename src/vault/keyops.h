/*
 * keyops.h -- software key operations of the key vault, by Key Vault
 * algorithm name (Azure Key Vault keys protocol, JWA RFC 7518).
 *
 *   encrypt/decrypt, wrapKey/unwrapKey  RSA-OAEP (SHA-1, MGF1-SHA-1),
 *                                       RSA-OAEP-256 (SHA-256, MGF1-SHA-256),
 *                                       RSA1_5 (PKCS#1 v1.5)
 *   sign/verify over a digest           RS256/384/512 (PKCS#1 v1.5),
 *                                       PS256/384/512 (PSS, MGF1 same hash,
 *                                       salt length = hash length),
 *                                       ES256/384/512 (ECDSA on P-256/P-384/P-521;
 *                                       JOSE raw r||s, each left-padded)
 *   generate                            RSA 2048/3072/4096, EC P-256/P-384/P-521
 *
 * Key Vault signs a digest the client computed: the digest length must
 * equal the algorithm's hash length, and ES256/ES384/ES512 need P-256/
 * P-384/P-521 keys respectively (CF_EINVAL otherwise).
 *
 * Decryption failure is reported uniformly: CF_EINTEGRITY with the fixed
 * message "decryption failed" whatever went wrong inside (padding, length,
 * label), so an HTTP answer built from it is no padding oracle.
 *
 * Outputs are appended to a cf_buf the caller owns (set buf.secret = 1
 * for decrypt/unwrap output so it is wiped). The EVP_PKEY is borrowed and
 * only read: the vault keeps one parsed EVP_PKEY per key version in memory
 * and calls these concurrently from many threads (each call makes its own
 * EVP_PKEY_CTX); that is safe with OpenSSL 3.
 */
#ifndef CF_VAULT_KEYOPS_H
#define CF_VAULT_KEYOPS_H

#include <stddef.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/err.h"

typedef enum {
    KEYOPS_RSA_OAEP = 1,
    KEYOPS_RSA_OAEP_256,
    KEYOPS_RSA1_5,
} keyops_enc_alg;

typedef enum {
    KEYOPS_RS256 = 1,
    KEYOPS_RS384,
    KEYOPS_RS512,
    KEYOPS_PS256,
    KEYOPS_PS384,
    KEYOPS_PS512,
    KEYOPS_ES256,
    KEYOPS_ES384,
    KEYOPS_ES512,
} keyops_sig_alg;

/* "RSA-OAEP", "RSA-OAEP-256", "RSA1_5" (exact). CF_EUNSUPPORTED otherwise
 * (the message names the algorithm). */
cf_code keyops_enc_alg_parse(keyops_enc_alg *out, const char *name, cf_err *e);
/* "RS256" ... "ES512" (exact; "ES256K" and others: CF_EUNSUPPORTED). */
cf_code keyops_sig_alg_parse(keyops_sig_alg *out, const char *name, cf_err *e);
const char *keyops_enc_alg_name(keyops_enc_alg alg); /* static storage */
const char *keyops_sig_alg_name(keyops_sig_alg alg);
/* Hash length in bytes of a signature algorithm (32, 48, 64). */
size_t keyops_sig_alg_digest_len(keyops_sig_alg alg);
/* The OpenSSL digest of a signature algorithm (static, not to be freed). */
const EVP_MD *keyops_sig_alg_md(keyops_sig_alg alg);
/* 1 if the alg is an ES* algorithm. */
int keyops_sig_alg_is_ec(keyops_sig_alg alg);

/* bits: 2048, 3072 or 4096 (CF_EINVAL otherwise). public_exponent 0 means
 * 65537; otherwise it must be odd and >= 3 (Azure's public_exponent). */
cf_code keyops_generate_rsa(EVP_PKEY **out, int bits, unsigned long public_exponent, cf_err *e);
/* crv: "P-256", "P-384", "P-521" (CF_EINVAL otherwise; "P-256K" refused). */
cf_code keyops_generate_ec(EVP_PKEY **out, const char *crv, cf_err *e);

/* Public-key encryption with an RSA key (public or private EVP_PKEY).
 * CF_EINVAL for an EC key or a plaintext too long for the key and padding. */
cf_code keyops_encrypt(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg,
                       const unsigned char *in, size_t in_len, cf_err *e);
/* Private-key decryption; needs a private RSA key (CF_EINVAL if public only
 * or EC). Any failure on the ciphertext: CF_EINTEGRITY "decryption failed". */
cf_code keyops_decrypt(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg,
                       const unsigned char *in, size_t in_len, cf_err *e);
/* wrapKey / unwrapKey: the same operations under the protocol's names. */
cf_code keyops_wrap(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg, const unsigned char *in,
                    size_t in_len, cf_err *e);
cf_code keyops_unwrap(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg,
                      const unsigned char *in, size_t in_len, cf_err *e);

/* Signs a digest (length must be keyops_sig_alg_digest_len(alg)); needs a
 * private key of the alg's family (ES*: the matching curve). ES* output is
 * raw r||s (64, 96 or 132 bytes), RS/PS output is modulus-sized. */
cf_code keyops_sign(cf_buf *out, const EVP_PKEY *pkey, keyops_sig_alg alg,
                    const unsigned char *digest, size_t digest_len, cf_err *e);
/* Verifies; *out_valid = 1 when the signature is good, 0 when it is not
 * (a wrong-length or malformed signature is "not valid", not an error).
 * Errors (CF_EINVAL) only for a wrong digest length or key/alg mismatch. */
cf_code keyops_verify(int *out_valid, const EVP_PKEY *pkey, keyops_sig_alg alg,
                      const unsigned char *digest, size_t digest_len, const unsigned char *sig,
                      size_t sig_len, cf_err *e);

/* JOSE raw r||s <-> DER ECDSA-Sig-Value, for a curve of field size
 * field_len bytes (32, 48, 66). Used by jwt.c and hsm.c too. */
cf_code keyops_ecdsa_der_to_raw(unsigned char *out, size_t field_len, const unsigned char *der,
                                size_t der_len, cf_err *e);
cf_code keyops_ecdsa_raw_to_der(unsigned char **out, size_t *out_len, const unsigned char *raw,
                                size_t raw_len, cf_err *e); /* *out: OPENSSL_free */

#endif
