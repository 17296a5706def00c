/*
 * keyops.c -- software key operations by Key Vault algorithm name (see
 * keyops.h).
 *
 * Shape: one parsed EVP_PKEY per key version lives in the vault's memory;
 * every call builds a fresh EVP_PKEY_CTX on it (cheap: no key parsing, a
 * reference count and a few parameters), sets padding and digests for the
 * algorithm, and runs one operation. Nothing here keeps state between
 * calls, so calls from many threads run in parallel.
 *
 * Two protocol details worth knowing:
 *   - ES* signatures travel as JOSE raw r||s (RFC 7518 §3.4), each integer
 *     left-padded to the curve's field size; OpenSSL speaks DER
 *     ECDSA-Sig-Value, so we convert both ways.
 *   - Decryption errors are collapsed into one code and one message, and the
 *     OpenSSL error queue is cleared, so neither the HTTP answer nor a log
 *     line can tell a padding error from a length error (Bleichenbacher,
 *     Manger).
 */
#include "vault/keyops.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "crypto/jwk.h"

#define DECRYPT_FAILED "decryption failed"

static const struct {
    keyops_enc_alg alg;
    const char *name;
} ENC_ALGS[] = {
    {KEYOPS_RSA_OAEP, "RSA-OAEP"},
    {KEYOPS_RSA_OAEP_256, "RSA-OAEP-256"},
    {KEYOPS_RSA1_5, "RSA1_5"},
};

static const struct {
    keyops_sig_alg alg;
    const char *name;
    const char *md;  /* OpenSSL digest name */
    size_t hash_len; /* digest length in bytes */
    const char *crv; /* ES*: the required curve */
} SIG_ALGS[] = {
    {KEYOPS_RS256, "RS256", "SHA256", 32, NULL},    {KEYOPS_RS384, "RS384", "SHA384", 48, NULL},
    {KEYOPS_RS512, "RS512", "SHA512", 64, NULL},    {KEYOPS_PS256, "PS256", "SHA256", 32, NULL},
    {KEYOPS_PS384, "PS384", "SHA384", 48, NULL},    {KEYOPS_PS512, "PS512", "SHA512", 64, NULL},
    {KEYOPS_ES256, "ES256", "SHA256", 32, "P-256"}, {KEYOPS_ES384, "ES384", "SHA384", 48, "P-384"},
    {KEYOPS_ES512, "ES512", "SHA512", 64, "P-521"},
};

#define N_SIG_ALGS (sizeof(SIG_ALGS) / sizeof(SIG_ALGS[0]))

static int sig_index(keyops_sig_alg alg)
{
    for (size_t i = 0; i < N_SIG_ALGS; i++)
        if (SIG_ALGS[i].alg == alg)
            return (int)i;
    return -1;
}

cf_code keyops_enc_alg_parse(keyops_enc_alg *out, const char *name, cf_err *e)
{
    for (size_t i = 0; name && i < sizeof(ENC_ALGS) / sizeof(ENC_ALGS[0]); i++) {
        if (strcmp(name, ENC_ALGS[i].name) == 0) {
            *out = ENC_ALGS[i].alg;
            return CF_OK;
        }
    }
    return cf_err_set(e, CF_EUNSUPPORTED, "unsupported encryption algorithm '%.64s'",
                      name ? name : "");
}

cf_code keyops_sig_alg_parse(keyops_sig_alg *out, const char *name, cf_err *e)
{
    for (size_t i = 0; name && i < N_SIG_ALGS; i++) {
        if (strcmp(name, SIG_ALGS[i].name) == 0) {
            *out = SIG_ALGS[i].alg;
            return CF_OK;
        }
    }
    return cf_err_set(e, CF_EUNSUPPORTED, "unsupported signature algorithm '%.64s'",
                      name ? name : "");
}

const char *keyops_enc_alg_name(keyops_enc_alg alg)
{
    for (size_t i = 0; i < sizeof(ENC_ALGS) / sizeof(ENC_ALGS[0]); i++)
        if (ENC_ALGS[i].alg == alg)
            return ENC_ALGS[i].name;
    return "unknown";
}

const char *keyops_sig_alg_name(keyops_sig_alg alg)
{
    int i = sig_index(alg);
    return i < 0 ? "unknown" : SIG_ALGS[i].name;
}

size_t keyops_sig_alg_digest_len(keyops_sig_alg alg)
{
    int i = sig_index(alg);
    return i < 0 ? 0 : SIG_ALGS[i].hash_len;
}

const EVP_MD *keyops_sig_alg_md(keyops_sig_alg alg)
{
    switch (alg) {
    case KEYOPS_RS256:
    case KEYOPS_PS256:
    case KEYOPS_ES256:
        return EVP_sha256();
    case KEYOPS_RS384:
    case KEYOPS_PS384:
    case KEYOPS_ES384:
        return EVP_sha384();
    case KEYOPS_RS512:
    case KEYOPS_PS512:
    case KEYOPS_ES512:
        return EVP_sha512();
    }
    return NULL;
}

int keyops_sig_alg_is_ec(keyops_sig_alg alg)
{
    return alg == KEYOPS_ES256 || alg == KEYOPS_ES384 || alg == KEYOPS_ES512;
}

static int sig_is_pss(keyops_sig_alg alg)
{
    return alg == KEYOPS_PS256 || alg == KEYOPS_PS384 || alg == KEYOPS_PS512;
}

/* ---- generation ---- */

cf_code keyops_generate_rsa(EVP_PKEY **out, int bits, unsigned long public_exponent, cf_err *e)
{
    *out = NULL;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return cf_err_set(e, CF_EINVAL, "RSA key size must be 2048, 3072 or 4096 (got %d)", bits);
    if (public_exponent == 0)
        public_exponent = 65537;
    if (public_exponent < 3 || (public_exponent & 1) == 0)
        return cf_err_set(e, CF_EINVAL, "RSA public exponent must be odd and at least 3");
    cf_code rc = CF_OK;
    BIGNUM *bn = BN_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn == NULL || ctx == NULL || !BN_set_word(bn, public_exponent)) {
        rc = cf_err_ssl(e, "RSA key generation setup: ");
        goto out;
    }
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn) <= 0 || EVP_PKEY_generate(ctx, out) <= 0) {
        rc = cf_err_ssl(e, "RSA key generation: ");
        goto out;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    return rc;
}

static const char *curve_group(const char *crv)
{
    if (crv == NULL)
        return NULL;
    if (strcmp(crv, "P-256") == 0)
        return "prime256v1";
    if (strcmp(crv, "P-384") == 0)
        return "secp384r1";
    if (strcmp(crv, "P-521") == 0)
        return "secp521r1";
    return NULL;
}

cf_code keyops_generate_ec(EVP_PKEY **out, const char *crv, cf_err *e)
{
    *out = NULL;
    const char *group = curve_group(crv);
    if (group == NULL)
        return cf_err_set(e, CF_EINVAL, "EC curve must be P-256, P-384 or P-521");
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    if (*out == NULL)
        return cf_err_ssl(e, "EC key generation: ");
    return CF_OK;
}

/* ---- encryption ---- */

static int is_rsa(const EVP_PKEY *pkey)
{
    return EVP_PKEY_is_a(pkey, "RSA");
}

/* Sets padding and digests of an initialised encrypt/decrypt ctx. */
static int set_enc_padding(EVP_PKEY_CTX *ctx, keyops_enc_alg alg)
{
    switch (alg) {
    case KEYOPS_RSA_OAEP:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
               EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0;
    case KEYOPS_RSA_OAEP_256:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
               EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0;
    case KEYOPS_RSA1_5:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
    }
    return 0;
}

static size_t max_plaintext(const EVP_PKEY *pkey, keyops_enc_alg alg)
{
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    size_t overhead = alg == KEYOPS_RSA_OAEP       ? 2 * 20 + 2
                      : alg == KEYOPS_RSA_OAEP_256 ? 2 * 32 + 2
                                                   : 11;
    return k > overhead ? k - overhead : 0;
}

cf_code keyops_encrypt(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg,
                       const unsigned char *in, size_t in_len, cf_err *e)
{
    if (!is_rsa(pkey))
        return cf_err_set(e, CF_EINVAL, "%s needs an RSA key", keyops_enc_alg_name(alg));
    if (alg != KEYOPS_RSA_OAEP && alg != KEYOPS_RSA_OAEP_256 && alg != KEYOPS_RSA1_5)
        return cf_err_set(e, CF_EUNSUPPORTED, "unsupported encryption algorithm");
    if (in_len > max_plaintext(pkey, alg))
        return cf_err_set(e, CF_EINVAL, "plaintext too long for %s with this key (max %zu bytes)",
                          keyops_enc_alg_name(alg), max_plaintext(pkey, alg));
    cf_code rc = CF_OK;
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pkey, NULL);
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) <= 0 || !set_enc_padding(ctx, alg)) {
        rc = cf_err_ssl(e, "encryption setup: ");
        goto out;
    }
    if ((rc = cf_buf_reserve(out, k, e)) != CF_OK)
        goto out;
    size_t n = k;
    if (EVP_PKEY_encrypt(ctx, out->data + out->len, &n, in, in_len) <= 0) {
        rc = cf_err_ssl(e, "encryption: ");
        goto out;
    }
    out->len += n;
    out->data[out->len] = '\0';
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

cf_code keyops_decrypt(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg,
                       const unsigned char *in, size_t in_len, cf_err *e)
{
    if (!is_rsa(pkey))
        return cf_err_set(e, CF_EINVAL, "%s needs an RSA key", keyops_enc_alg_name(alg));
    if (alg != KEYOPS_RSA_OAEP && alg != KEYOPS_RSA_OAEP_256 && alg != KEYOPS_RSA1_5)
        return cf_err_set(e, CF_EUNSUPPORTED, "unsupported encryption algorithm");
    cf_code rc = CF_OK;
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    /* Decrypt into a private scratch block and copy only on success, so a
     * failure leaves nothing behind in out. */
    unsigned char tmp[4096 / 8 + 64];
    size_t n = sizeof(tmp);
    if (k > sizeof(tmp))
        return cf_err_set(e, CF_EINVAL, "RSA key too large");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pkey, NULL);
    if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) <= 0 || !set_enc_padding(ctx, alg)) {
        rc = cf_err_ssl(e, "decryption setup: ");
        goto out;
    }
    if (in_len > k || EVP_PKEY_decrypt(ctx, tmp, &n, in, in_len) <= 0) {
        ERR_clear_error();
        if (!jwk_pkey_has_private(pkey)) {
            rc = cf_err_set(e, CF_EINVAL, "key has no private part");
            goto out;
        }
        rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
        goto out;
    }
    rc = cf_buf_append(out, tmp, n, e);
out:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

cf_code keyops_wrap(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg, const unsigned char *in,
                    size_t in_len, cf_err *e)
{
    return keyops_encrypt(out, pkey, alg, in, in_len, e);
}

cf_code keyops_unwrap(cf_buf *out, const EVP_PKEY *pkey, keyops_enc_alg alg,
                      const unsigned char *in, size_t in_len, cf_err *e)
{
    return keyops_decrypt(out, pkey, alg, in, in_len, e);
}

/* ---- ECDSA signature encodings ---- */

cf_code keyops_ecdsa_der_to_raw(unsigned char *out, size_t field_len, const unsigned char *der,
                                size_t der_len, cf_err *e)
{
    cf_code rc = CF_OK;
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL || p != der + der_len) {
        ERR_clear_error();
        rc = cf_err_set(e, CF_EINVAL, "malformed ECDSA signature");
        goto out;
    }
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, out, (int)field_len) < 0 ||
        BN_bn2binpad(s, out + field_len, (int)field_len) < 0) {
        ERR_clear_error();
        rc = cf_err_set(e, CF_EINVAL, "ECDSA signature too large for the curve");
        goto out;
    }
out:
    ECDSA_SIG_free(sig);
    return rc;
}

cf_code keyops_ecdsa_raw_to_der(unsigned char **out, size_t *out_len, const unsigned char *raw,
                                size_t raw_len, cf_err *e)
{
    *out = NULL;
    *out_len = 0;
    if (raw_len == 0 || raw_len % 2 != 0 || raw_len > 2 * 66)
        return cf_err_set(e, CF_EINVAL, "malformed ECDSA signature");
    cf_code rc = CF_OK;
    size_t h = raw_len / 2;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)h, NULL), *s = BN_bin2bn(raw + h, (int)h, NULL);
    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        rc = cf_err_ssl(e, "ECDSA signature: ");
        goto out;
    }
    int n = i2d_ECDSA_SIG(sig, out);
    if (n <= 0) {
        *out = NULL;
        rc = cf_err_ssl(e, "ECDSA signature encoding: ");
        goto out;
    }
    *out_len = (size_t)n;
out:
    ECDSA_SIG_free(sig);
    return rc;
}

/* ---- signatures ---- */

static size_t ec_field_len(const char *crv)
{
    return strcmp(crv, "P-256") == 0 ? 32 : strcmp(crv, "P-384") == 0 ? 48 : 66;
}

/* Checks alg against key and digest length; returns the SIG_ALGS index. */
static cf_code sig_check(int *out_idx, size_t *out_field, const EVP_PKEY *pkey, keyops_sig_alg alg,
                         size_t digest_len, cf_err *e)
{
    int i = sig_index(alg);
    if (i < 0)
        return cf_err_set(e, CF_EUNSUPPORTED, "unsupported signature algorithm");
    if (digest_len != SIG_ALGS[i].hash_len)
        return cf_err_set(e, CF_EINVAL, "%s needs a %zu-byte digest (got %zu)", SIG_ALGS[i].name,
                          SIG_ALGS[i].hash_len, digest_len);
    *out_field = 0;
    if (SIG_ALGS[i].crv != NULL) {
        const char *crv = NULL;
        jwk_kty kty;
        if (jwk_pkey_describe(&kty, NULL, &crv, pkey, NULL) != CF_OK || kty != JWK_KTY_EC ||
            strcmp(crv, SIG_ALGS[i].crv) != 0)
            return cf_err_set(e, CF_EINVAL, "%s needs an EC %s key", SIG_ALGS[i].name,
                              SIG_ALGS[i].crv);
        *out_field = ec_field_len(crv);
    } else if (!is_rsa(pkey)) {
        return cf_err_set(e, CF_EINVAL, "%s needs an RSA key", SIG_ALGS[i].name);
    }
    *out_idx = i;
    return CF_OK;
}

static int set_sig_params(EVP_PKEY_CTX *ctx, keyops_sig_alg alg)
{
    const EVP_MD *md = keyops_sig_alg_md(alg);
    if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
        return 0;
    if (keyops_sig_alg_is_ec(alg))
        return 1;
    if (sig_is_pss(alg))
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) > 0;
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
}

cf_code keyops_sign(cf_buf *out, const EVP_PKEY *pkey, keyops_sig_alg alg,
                    const unsigned char *digest, size_t digest_len, cf_err *e)
{
    int idx;
    size_t field;
    cf_code rc = sig_check(&idx, &field, pkey, alg, digest_len, e);
    if (rc != CF_OK)
        return rc;
    unsigned char der[160];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pkey, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 || !set_sig_params(ctx, alg)) {
        rc = cf_err_ssl(e, "signing setup: ");
        goto out;
    }
    size_t n = (size_t)EVP_PKEY_get_size(pkey);
    if (field == 0) {
        if ((rc = cf_buf_reserve(out, n, e)) != CF_OK)
            goto out;
        if (EVP_PKEY_sign(ctx, out->data + out->len, &n, digest, digest_len) <= 0) {
            rc = jwk_pkey_has_private(pkey) ? cf_err_ssl(e, "signing: ")
                                            : cf_err_set(e, CF_EINVAL, "key has no private part");
            ERR_clear_error();
            goto out;
        }
        out->len += n;
        out->data[out->len] = '\0';
    } else {
        n = sizeof(der);
        unsigned char raw[2 * 66];
        if (EVP_PKEY_sign(ctx, der, &n, digest, digest_len) <= 0) {
            rc = jwk_pkey_has_private(pkey) ? cf_err_ssl(e, "signing: ")
                                            : cf_err_set(e, CF_EINVAL, "key has no private part");
            ERR_clear_error();
            goto out;
        }
        if ((rc = keyops_ecdsa_der_to_raw(raw, field, der, n, e)) != CF_OK)
            goto out;
        rc = cf_buf_append(out, raw, 2 * field, e);
    }
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

cf_code keyops_verify(int *out_valid, const EVP_PKEY *pkey, keyops_sig_alg alg,
                      const unsigned char *digest, size_t digest_len, const unsigned char *sig,
                      size_t sig_len, cf_err *e)
{
    *out_valid = 0;
    int idx;
    size_t field;
    cf_code rc = sig_check(&idx, &field, pkey, alg, digest_len, e);
    if (rc != CF_OK)
        return rc;
    unsigned char *der = NULL;
    size_t der_len = 0;
    EVP_PKEY_CTX *ctx = NULL;
    if (field != 0) {
        /* JOSE fixes the length; anything else is simply not a signature. */
        if (sig_len != 2 * field || keyops_ecdsa_raw_to_der(&der, &der_len, sig, sig_len, NULL))
            goto out;
        sig = der;
        sig_len = der_len;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(pkey)) {
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pkey, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0 || !set_sig_params(ctx, alg)) {
        rc = cf_err_ssl(e, "verification setup: ");
        goto out;
    }
    *out_valid = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
out:
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    return rc;
}
