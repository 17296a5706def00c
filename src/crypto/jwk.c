/*
 * jwk.c -- JSON Web Keys <-> EVP_PKEY (see jwk.h).
 *
 * Import builds the key from OSSL_PARAMs (EVP_PKEY_fromdata) and then asks
 * OpenSSL to validate it: EVP_PKEY_public_check for public keys (EC: point
 * on the curve and in the right subgroup; RSA: SP 800-56B public checks),
 * EVP_PKEY_check for key pairs (RSA: primes, n = p*q, d, CRT values; EC:
 * d in range and d*G == Q). Before that we check what OpenSSL would accept
 * but we do not: member types, exact EC coordinate lengths, RSA modulus
 * size and exponent. Every private intermediate (decoded bytes, BIGNUMs)
 * is wiped.
 *
 * Export reads the key's parameters by name, so it works for keys made by
 * keyops (generation), by this module (import) and by DER loading alike.
 * Integers are big-endian minimal for RSA (RFC 7518 §6.3: no leading zero
 * octet) and fixed-size for EC (§6.2: the field size).
 */
#include "crypto/jwk.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "base/enc.h"

/* Largest binary member we decode: a 4096-bit integer with a stray zero. */
#define MEMBER_MAX 520

/* The private members of an RSA JWK and the OpenSSL parameter of each, in
 * the order both directions use. */
static const char *const RSA_PRIV[][2] = {
    {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
    {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
    {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
};
#define RSA_NPRIV (sizeof(RSA_PRIV) / sizeof(RSA_PRIV[0]))

static const struct {
    const char *crv, *group;
    size_t field; /* coordinate size in bytes */
} CURVES[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

#define N_CURVES (sizeof(CURVES) / sizeof(CURVES[0]))

cf_code jwk_kty_parse(jwk_kty *out_kty, int *out_hsm, const char *kty, cf_err *e)
{
    static const struct {
        const char *name;
        jwk_kty kty;
        int hsm;
    } T[] = {{"RSA", JWK_KTY_RSA, 0},
             {"RSA-HSM", JWK_KTY_RSA, 1},
             {"EC", JWK_KTY_EC, 0},
             {"EC-HSM", JWK_KTY_EC, 1}};
    for (size_t i = 0; kty && i < sizeof(T) / sizeof(T[0]); i++) {
        if (strcmp(kty, T[i].name) == 0) {
            *out_kty = T[i].kty;
            if (out_hsm)
                *out_hsm = T[i].hsm;
            return CF_OK;
        }
    }
    return cf_err_set(e, CF_EINVAL, "unsupported key type '%.32s'", kty ? kty : "");
}

const char *jwk_kty_name(jwk_kty kty, int hsm)
{
    if (kty == JWK_KTY_RSA)
        return hsm ? "RSA-HSM" : "RSA";
    if (kty == JWK_KTY_EC)
        return hsm ? "EC-HSM" : "EC";
    return "unknown";
}

static int curve_by_group(const char *group)
{
    for (size_t i = 0; i < N_CURVES; i++)
        if (strcmp(group, CURVES[i].group) == 0)
            return (int)i;
    return -1;
}

static int curve_by_crv(const char *crv)
{
    for (size_t i = 0; crv && i < N_CURVES; i++)
        if (strcmp(crv, CURVES[i].crv) == 0)
            return (int)i;
    return -1;
}

cf_code jwk_pkey_describe(jwk_kty *out_kty, int *out_bits, const char **out_crv,
                          const EVP_PKEY *pkey, cf_err *e)
{
    if (pkey == NULL)
        return cf_err_set(e, CF_EINVAL, "no key");
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (out_kty)
            *out_kty = JWK_KTY_RSA;
        if (out_bits)
            *out_bits = EVP_PKEY_get_bits(pkey);
        if (out_crv)
            *out_crv = NULL;
        return CF_OK;
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t glen = 0;
        if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen)) {
            ERR_clear_error();
            return cf_err_set(e, CF_EUNSUPPORTED, "EC key without a named curve");
        }
        int c = curve_by_group(group);
        if (c < 0)
            return cf_err_set(e, CF_EUNSUPPORTED, "unsupported EC curve %.40s", group);
        if (out_kty)
            *out_kty = JWK_KTY_EC;
        if (out_bits)
            *out_bits = 0;
        if (out_crv)
            *out_crv = CURVES[c].crv;
        return CF_OK;
    }
    return cf_err_set(e, CF_EUNSUPPORTED, "unsupported key type");
}

int jwk_pkey_has_private(const EVP_PKEY *pkey)
{
    BIGNUM *bn = NULL;
    const char *name = EVP_PKEY_is_a(pkey, "RSA")  ? OSSL_PKEY_PARAM_RSA_D
                       : EVP_PKEY_is_a(pkey, "EC") ? OSSL_PKEY_PARAM_PRIV_KEY
                                                   : NULL;
    int has = name && EVP_PKEY_get_bn_param(pkey, name, &bn) && bn != NULL;
    BN_clear_free(bn);
    ERR_clear_error();
    return has;
}

/* ---- export ---- */

/* Sets obj[name] = base64url(bn), minimal (pad == 0) or left-padded to pad
 * bytes. */
static cf_code put_bn(json_t *obj, const char *name, const BIGNUM *bn, size_t pad, int secret,
                      cf_err *e)
{
    unsigned char bin[MEMBER_MAX];
    size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
    cf_code rc = CF_OK;
    cf_buf b;
    cf_buf_init(&b, 0);
    b.secret = secret;
    if (n > sizeof(bin) || BN_bn2binpad(bn, bin, (int)n) < 0) {
        rc = cf_err_set(e, CF_EINVAL, "key member %s too large", name);
        goto out;
    }
    if ((rc = cf_b64url_encode(&b, bin, n, e)) != CF_OK)
        goto out;
    json_t *s = json_stringn((const char *)b.data, b.len);
    if (s == NULL || json_object_set_new(obj, name, s) != 0) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
out:
    OPENSSL_cleanse(bin, sizeof(bin));
    cf_buf_free(&b);
    return rc;
}

/* Reads a BIGNUM parameter and stores it in obj. A missing parameter is
 * CF_ENOTFOUND (no message) so callers can skip optional private parts. */
static cf_code put_param(json_t *obj, const char *member, const EVP_PKEY *pkey, const char *param,
                         size_t pad, int secret, cf_err *e)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn) || bn == NULL) {
        ERR_clear_error();
        return CF_ENOTFOUND;
    }
    cf_code rc = put_bn(obj, member, bn, pad, secret, e);
    BN_clear_free(bn);
    return rc;
}

cf_code jwk_from_pkey(json_t **out, const EVP_PKEY *pkey, int include_private, cf_err *e)
{
    *out = NULL;
    jwk_kty kty;
    const char *crv = NULL;
    cf_code rc = jwk_pkey_describe(&kty, NULL, &crv, pkey, e);
    if (rc != CF_OK)
        return rc;
    json_t *o = json_object();
    if (o == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    if (json_object_set_new(o, "kty", json_string(jwk_kty_name(kty, 0))) != 0) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    if (kty == JWK_KTY_RSA) {
        if ((rc = put_param(o, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0, 0, e)) != CF_OK ||
            (rc = put_param(o, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0, 0, e)) != CF_OK) {
            if (rc == CF_ENOTFOUND)
                rc = cf_err_set(e, CF_EINVAL, "RSA key without n or e");
            goto out;
        }
        if (include_private) {
            for (size_t i = 0; i < RSA_NPRIV; i++) {
                rc = put_param(o, RSA_PRIV[i][0], pkey, RSA_PRIV[i][1], 0, 1, e);
                if (rc == CF_ENOTFOUND && i == 0) { /* a public key: nothing more */
                    rc = CF_OK;
                    break;
                }
                if (rc == CF_ENOTFOUND)
                    rc = cf_err_set(e, CF_EUNSUPPORTED, "RSA private key without CRT values");
                if (rc != CF_OK)
                    goto out;
            }
        }
    } else {
        size_t field = CURVES[curve_by_crv(crv)].field;
        if (json_object_set_new(o, "crv", json_string(crv)) != 0) {
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = put_param(o, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, field, 0, e)) != CF_OK ||
            (rc = put_param(o, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, field, 0, e)) != CF_OK) {
            if (rc == CF_ENOTFOUND)
                rc = cf_err_set(e, CF_EINVAL, "EC key without a public point");
            goto out;
        }
        if (include_private) {
            rc = put_param(o, "d", pkey, OSSL_PKEY_PARAM_PRIV_KEY, field, 1, e);
            if (rc == CF_ENOTFOUND)
                rc = CF_OK;
            if (rc != CF_OK)
                goto out;
        }
    }
    *out = o;
    o = NULL;
out:
    json_decref(o);
    return rc;
}

/* ---- import ---- */

/* Decodes member name of obj into b. Absent: CF_ENOTFOUND without a
 * message when !required. */
static cf_code get_member(cf_buf *b, const json_t *obj, const char *name, int required, cf_err *e)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        if (!required)
            return CF_ENOTFOUND;
        return cf_err_set(e, CF_EINVAL, "JWK member '%s' missing", name);
    }
    if (!json_is_string(v))
        return cf_err_set(e, CF_EINVAL, "JWK member '%s' must be a string", name);
    size_t len = json_string_length(v);
    if (len == 0 || len > (MEMBER_MAX * 4 + 2) / 3)
        return cf_err_set(e, CF_EINVAL, "JWK member '%s' has a bad length", name);
    cf_buf_reset(b);
    cf_err sub = {0};
    if (cf_b64url_decode(b, json_string_value(v), len, &sub) != CF_OK)
        return cf_err_set(e, CF_EINVAL, "JWK member '%s': %s", name, sub.msg);
    return CF_OK;
}

static cf_code get_bn(BIGNUM **out, const json_t *obj, const char *name, int required, int secret,
                      cf_err *e)
{
    *out = NULL;
    cf_buf b;
    cf_buf_init(&b, 0);
    b.secret = secret;
    cf_code rc = get_member(&b, obj, name, required, e);
    if (rc == CF_OK) {
        *out = secret ? BN_secure_new() : BN_new();
        if (*out == NULL || BN_bin2bn(b.data, (int)b.len, *out) == NULL) {
            BN_clear_free(*out);
            *out = NULL;
            rc = cf_err_ssl(e, "JWK member '%s': ", name);
        }
    }
    cf_buf_free(&b);
    return rc;
}

/* Builds a key of type name from the params and validates it. */
static cf_code build_key(EVP_PKEY **out, const char *type, OSSL_PARAM_BLD *bld, int priv, cf_err *e)
{
    cf_code rc = CF_OK;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0) {
        rc = cf_err_ssl(e, "JWK import setup: ");
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        ERR_clear_error();
        rc = cf_err_set(e, CF_EINVAL, "JWK is not a valid %s key", type);
        goto out;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL) {
        rc = cf_err_ssl(e, "JWK check setup: ");
        goto out;
    }
    if ((priv ? EVP_PKEY_check(check) : EVP_PKEY_public_check(check)) != 1) {
        ERR_clear_error();
        rc = cf_err_set(e, CF_EINVAL,
                        priv ? "JWK private key is inconsistent or invalid"
                             : "JWK public key is invalid");
        goto out;
    }
    *out = pkey;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* private values were copied; BLD wipes its own */
    return rc;
}

static cf_code rsa_from_jwk(EVP_PKEY **out, const json_t *jwk, jwk_private_mode mode, cf_err *e)
{
    BIGNUM *n = NULL, *ex = NULL, *priv[6] = {0};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    cf_code rc;
    int want_priv = 0;
    if (bld == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    if ((rc = get_bn(&n, jwk, "n", 1, 0, e)) != CF_OK || (rc = get_bn(&ex, jwk, "e", 1, 0, e)))
        goto out;
    int bits = BN_num_bits(n);
    if (bits < JWK_RSA_MIN_BITS || bits > JWK_RSA_MAX_BITS) {
        rc = cf_err_set(e, CF_EINVAL, "RSA modulus of %d bits (accepted: %d to %d)", bits,
                        JWK_RSA_MIN_BITS, JWK_RSA_MAX_BITS);
        goto out;
    }
    if (!BN_is_odd(ex) || BN_num_bits(ex) < 2 || BN_num_bits(ex) > 64 || !BN_is_odd(n)) {
        rc = cf_err_set(e, CF_EINVAL, "RSA public exponent or modulus is invalid");
        goto out;
    }
    if (mode != JWK_PUBLIC_ONLY && json_object_get(jwk, "d") != NULL) {
        want_priv = 1;
        if (json_object_get(jwk, "oth") != NULL) {
            rc = cf_err_set(e, CF_EUNSUPPORTED, "multi-prime RSA keys (oth) are not supported");
            goto out;
        }
        for (size_t i = 0; i < 6; i++)
            if ((rc = get_bn(&priv[i], jwk, RSA_PRIV[i][0], 1, 1, e)) != CF_OK)
                goto out;
    } else if (mode == JWK_PRIVATE_REQUIRED) {
        rc = cf_err_set(e, CF_EINVAL, "JWK member 'd' missing: a private key is required");
        goto out;
    }
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex)) {
        rc = cf_err_ssl(e, "JWK import: ");
        goto out;
    }
    for (size_t i = 0; want_priv && i < 6; i++) {
        if (!OSSL_PARAM_BLD_push_BN(bld, RSA_PRIV[i][1], priv[i])) {
            rc = cf_err_ssl(e, "JWK import: ");
            goto out;
        }
    }
    rc = build_key(out, "RSA", bld, want_priv, e);
out:
    BN_free(n);
    BN_free(ex);
    for (size_t i = 0; i < 6; i++)
        BN_clear_free(priv[i]);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

static cf_code ec_from_jwk(EVP_PKEY **out, const json_t *jwk, jwk_private_mode mode, cf_err *e)
{
    json_t *crv = json_object_get(jwk, "crv");
    if (!json_is_string(crv))
        return cf_err_set(e, CF_EINVAL, "JWK member 'crv' missing or not a string");
    int c = curve_by_crv(json_string_value(crv));
    if (c < 0)
        return cf_err_set(e, CF_EINVAL, "unsupported curve '%.32s' (P-256, P-384, P-521)",
                          json_string_value(crv));
    size_t field = CURVES[c].field;
    unsigned char pub[1 + 2 * 66];
    cf_buf b, d;
    cf_buf_init(&b, 0);
    cf_buf_init(&d, 0);
    d.secret = 1;
    BIGNUM *dbn = NULL;
    int want_priv = 0;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    cf_code rc = CF_OK;
    if (bld == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    pub[0] = 0x04;
    if ((rc = get_member(&b, jwk, "x", 1, e)) != CF_OK)
        goto out;
    if (b.len != field) {
        rc = cf_err_set(e, CF_EINVAL, "JWK member 'x' must be %zu bytes for %s", field,
                        CURVES[c].crv);
        goto out;
    }
    memcpy(pub + 1, b.data, field);
    if ((rc = get_member(&b, jwk, "y", 1, e)) != CF_OK)
        goto out;
    if (b.len != field) {
        rc = cf_err_set(e, CF_EINVAL, "JWK member 'y' must be %zu bytes for %s", field,
                        CURVES[c].crv);
        goto out;
    }
    memcpy(pub + 1 + field, b.data, field);
    if (mode != JWK_PUBLIC_ONLY && json_object_get(jwk, "d") != NULL) {
        want_priv = 1;
        if ((rc = get_member(&d, jwk, "d", 1, e)) != CF_OK)
            goto out;
        if (d.len != field) {
            rc = cf_err_set(e, CF_EINVAL, "JWK member 'd' must be %zu bytes for %s", field,
                            CURVES[c].crv);
            goto out;
        }
        dbn = BN_secure_new();
        if (dbn == NULL || BN_bin2bn(d.data, (int)d.len, dbn) == NULL) {
            rc = cf_err_ssl(e, "JWK import: ");
            goto out;
        }
    } else if (mode == JWK_PRIVATE_REQUIRED) {
        rc = cf_err_set(e, CF_EINVAL, "JWK member 'd' missing: a private key is required");
        goto out;
    }
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, CURVES[c].group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * field) ||
        (want_priv && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn))) {
        rc = cf_err_ssl(e, "JWK import: ");
        goto out;
    }
    rc = build_key(out, "EC", bld, want_priv, e);
out:
    BN_clear_free(dbn);
    cf_buf_free(&b);
    cf_buf_free(&d);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

cf_code jwk_to_pkey(EVP_PKEY **out, const json_t *jwk, jwk_private_mode mode, cf_err *e)
{
    *out = NULL;
    if (!json_is_object(jwk))
        return cf_err_set(e, CF_EINVAL, "JWK must be a JSON object");
    json_t *kty = json_object_get(jwk, "kty");
    if (!json_is_string(kty))
        return cf_err_set(e, CF_EINVAL, "JWK member 'kty' missing or not a string");
    jwk_kty k;
    cf_code rc = jwk_kty_parse(&k, NULL, json_string_value(kty), e);
    if (rc != CF_OK)
        return rc;
    rc = k == JWK_KTY_RSA ? rsa_from_jwk(out, jwk, mode, e) : ec_from_jwk(out, jwk, mode, e);
    ERR_clear_error();
    return rc;
}

/* ---- DER for storage ---- */

cf_code jwk_pkey_to_der(unsigned char **out, size_t *out_len, const EVP_PKEY *pkey,
                        int private_part, cf_err *e)
{
    *out = NULL;
    *out_len = 0;
    int n;
    if (private_part) {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
        if (p8 == NULL)
            return cf_err_ssl(e, "private key encoding: ");
        n = i2d_PKCS8_PRIV_KEY_INFO(p8, out);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        n = i2d_PUBKEY(pkey, out);
    }
    if (n <= 0) {
        *out = NULL;
        return cf_err_ssl(e, "key encoding: ");
    }
    *out_len = (size_t)n;
    return CF_OK;
}

cf_code jwk_pkey_from_der(EVP_PKEY **out, const unsigned char *der, size_t der_len,
                          int private_part, cf_err *e)
{
    *out = NULL;
    const unsigned char *p = der;
    EVP_PKEY *pkey = NULL;
    if (der_len > 1u << 16)
        return cf_err_set(e, CF_EINVAL, "key encoding too large");
    if (private_part) {
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
        if (p8 != NULL && p == der + der_len)
            pkey = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        pkey = d2i_PUBKEY(NULL, &p, (long)der_len);
        if (pkey != NULL && p != der + der_len) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    ERR_clear_error();
    if (pkey == NULL)
        return cf_err_set(e, CF_EINVAL, "malformed key encoding");
    cf_code rc = jwk_pkey_describe(NULL, NULL, NULL, pkey, e);
    if (rc != CF_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    *out = pkey;
    return CF_OK;
}
