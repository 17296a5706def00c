/*
 * jwk.h -- JSON Web Keys (RFC 7517/7518) <-> OpenSSL EVP_PKEY.
 *
 * The Key Vault protocol carries keys as JWKs: RSA {kty, n, e} plus the
 * private members {d, p, q, dp, dq, qi}; EC {kty, crv, x, y} plus {d}.
 * Every binary member is base64url without padding (base/enc.h), big-endian,
 * EC coordinates left-padded to the field size.
 *
 * Import is strict, because a JWK is attacker-supplied bytes on the import
 * path: unknown kty or crv, bad base64url, wrong coordinate lengths, points
 * not on the curve, RSA moduli outside 2048..4096 bits, even or tiny public
 * exponents, and private parts inconsistent with the public part (checked
 * with EVP_PKEY_check / a pairwise test) are all CF_EINVAL. Export of a
 * public key never emits a private member, whatever the EVP_PKEY holds.
 *
 * kty strings: the JWK itself says "RSA" or "EC"; Key Vault adds "RSA-HSM"
 * and "EC-HSM" for keys that live in an HSM. This module only builds and
 * reads "RSA"/"EC" objects; jwk_kty_parse() maps all four names so that
 * callers (the vault API) decide what "-HSM" means.
 *
 * Thread safety: every function is reentrant; EVP_PKEYs handed in are only
 * read.
 */
#ifndef CF_CRYPTO_JWK_H
#define CF_CRYPTO_JWK_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "base/err.h"

typedef enum { JWK_KTY_RSA = 1, JWK_KTY_EC = 2 } jwk_kty;

/* RSA moduli accepted on import (generation is limited to 2048/3072/4096
 * by keyops). */
#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 4096

/* What jwk_to_pkey() requires of the private members. */
typedef enum {
    JWK_PUBLIC_ONLY = 0,      /* ignore private members; build a public key */
    JWK_PRIVATE_OPTIONAL = 1, /* private key if members present, else public */
    JWK_PRIVATE_REQUIRED = 2, /* CF_EINVAL unless a complete private key */
} jwk_private_mode;

/* Maps "RSA", "RSA-HSM", "EC", "EC-HSM" (exact, case-sensitive as in the
 * protocol) to the family and whether the -HSM suffix was given.
 * out_hsm may be NULL. CF_EINVAL for any other name ("oct" included). */
cf_code jwk_kty_parse(jwk_kty *out_kty, int *out_hsm, const char *kty, cf_err *e);

/* The kty string for a family, with or without "-HSM"; static storage. */
const char *jwk_kty_name(jwk_kty kty, int hsm);

/* Family, RSA modulus bits (0 for EC) and JWK curve name ("P-256",
 * "P-384", "P-521"; NULL for RSA, static storage) of a key. Any output may
 * be NULL. CF_EUNSUPPORTED for other key types or curves. */
cf_code jwk_pkey_describe(jwk_kty *out_kty, int *out_bits, const char **out_crv,
                          const EVP_PKEY *pkey, cf_err *e);

/* 1 if the EVP_PKEY holds private key material, else 0. */
int jwk_pkey_has_private(const EVP_PKEY *pkey);

/* Builds a new JSON object for pkey: {"kty","n","e"} or {"kty","crv","x","y"}
 * and, when include_private is nonzero and the key has them, the private
 * members. kty is "RSA"/"EC": the caller overwrites it (json_object_set)
 * for -HSM keys and adds kid/key_ops. *out is the caller's (json_decref).
 * With include_private the returned object holds secrets: the caller
 * should not log it and should free it promptly. */
cf_code jwk_from_pkey(json_t **out, const EVP_PKEY *pkey, int include_private, cf_err *e);

/* Builds a new EVP_PKEY from a JWK object (borrowed). kty may be "RSA",
 * "RSA-HSM", "EC" or "EC-HSM"; other members (kid, key_ops, use, alg, ...)
 * are ignored. Strict validation as described above; CF_EINVAL with a
 * message naming the bad member. *out is the caller's (EVP_PKEY_free). */
cf_code jwk_to_pkey(EVP_PKEY **out, const json_t *jwk, jwk_private_mode mode, cf_err *e);

/* Serialises a private (or public) key to DER for storage (sealed by the
 * caller): PKCS#8 PrivateKeyInfo for private keys, SubjectPublicKeyInfo for
 * public ones. *out is the caller's, allocated with OPENSSL_malloc; wipe
 * with OPENSSL_clear_free(*out, *out_len). */
cf_code jwk_pkey_to_der(unsigned char **out, size_t *out_len, const EVP_PKEY *pkey,
                        int private_part, cf_err *e);

/* Inverse of jwk_pkey_to_der (private_part selects the expected form).
 * Meant for the vault's own sealed storage: it checks the key type and size
 * but not RSA private-part consistency (slow; the key was checked when it
 * was generated or imported). CF_EINVAL on malformed DER. */
cf_code jwk_pkey_from_der(EVP_PKEY **out, const unsigned char *der, size_t der_len,
                          int private_part, cf_err *e);

#endif
