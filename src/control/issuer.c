/*
 * issuer.c -- the identity issuer: the EC P-256 signing key sealed under
 * the SRK, its JWKS and OpenID configuration, and ES256 token minting
 * (see issuer.h for the formats and the invariants).
 */
#define CF_LOG_MOD "issuer"
#include "control/issuer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/fs.h"
#include "base/log.h"
#include "crypto/keys.h"
#include "registry/keyring.h"

#define KEY_ID "issuer" /* the SRK binding of the wrapped scalar */
#define POINT_LEN 65    /* 0x04 ‖ x(32) ‖ y(32) */
#define COORD_LEN 32

struct issuer {
    EVP_PKEY *pkey;
    unsigned char point[POINT_LEN];
    char kid[ISSUER_KID_LEN + 1];
    char *url;
    char *tenant;
};

/* ---- the key ---- */

/* The EVP_PKEY for private scalar d (big endian, 32 bytes) and its public
 * point. CF_EINTEGRITY when d is not in [1, n-1]. */
static cf_code key_from_scalar(EVP_PKEY **out, unsigned char point[POINT_LEN],
                               const unsigned char d[KEYS_SECRET_LEN], cf_err *e)
{
    cf_code rc = CF_OK;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *bn = BN_secure_new();
    EC_POINT *p = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    *out = NULL;
    if (g == NULL || bn == NULL || BN_bin2bn(d, KEYS_SECRET_LEN, bn) == NULL) {
        rc = cf_err_ssl(e, "issuer key: bignum");
        goto out;
    }
    if (BN_is_zero(bn) || BN_cmp(bn, EC_GROUP_get0_order(g)) >= 0) {
        rc = cf_err_set(e, CF_EINTEGRITY, "issuer key: scalar out of range");
        goto out;
    }
    p = EC_POINT_new(g);
    if (p == NULL || !EC_POINT_mul(g, p, bn, NULL, NULL, NULL) ||
        EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, point, POINT_LEN, NULL) !=
            POINT_LEN) {
        rc = cf_err_ssl(e, "issuer key: public point");
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, POINT_LEN) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
        rc = cf_err_ssl(e, "issuer key: parameters");
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) <= 0) {
        *out = NULL;
        rc = cf_err_ssl(e, "issuer key: import");
        goto out;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* holds a copy of the scalar: OSSL_PARAM_free clears it */
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(p);
    BN_clear_free(bn);
    EC_GROUP_free(g);
    return rc;
}

/* A fresh scalar in [1, n-1] (rejection sampling: n is just under 2^256). */
static cf_code scalar_new(unsigned char d[KEYS_SECRET_LEN], cf_err *e)
{
    static const unsigned char order[KEYS_SECRET_LEN] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    static const unsigned char zero[KEYS_SECRET_LEN] = {0};
    for (int tries = 0; tries < 64; tries++) {
        cf_code rc = keys_random(d, KEYS_SECRET_LEN, e);
        if (rc != CF_OK)
            return rc;
        if (memcmp(d, order, KEYS_SECRET_LEN) < 0 && memcmp(d, zero, KEYS_SECRET_LEN) != 0)
            return CF_OK;
    }
    keys_wipe(d, KEYS_SECRET_LEN);
    return cf_err_set(e, CF_ECRYPTO, "issuer key: random source keeps failing");
}

/* d from key_path: unwrapped, or created and stored when the file is absent. */
static cf_code scalar_load_or_create(unsigned char d[KEYS_SECRET_LEN], const char *key_path,
                                     cf_err *e)
{
    unsigned char wrapped[KEYS_WRAPPED_LEN];
    struct stat st;
    cf_code rc;
    if (stat(key_path, &st) != 0) {
        if (errno != ENOENT)
            return cf_err_os(e, errno, "issuer key %s", key_path);
        if ((rc = scalar_new(d, e)) != CF_OK)
            return rc;
        rc = keyring_wrap_secret(wrapped, KEY_ID, d, e);
        if (rc == CF_OK)
            rc = cf_fs_write_atomic(key_path, wrapped, sizeof(wrapped), 0600, e);
        if (rc != CF_OK) {
            keys_wipe(d, KEYS_SECRET_LEN);
            return rc;
        }
        cf_log(CF_LOG_INFO, "issuer key created", "path", key_path, NULL);
        return CF_OK;
    }
    if ((rc = cf_fs_check_private(key_path, e)) != CF_OK)
        return rc;
    cf_buf b;
    cf_buf_init(&b, 4096);
    rc = cf_fs_read_all(key_path, 4096, &b, e);
    if (rc == CF_OK && b.len != KEYS_WRAPPED_LEN)
        rc = cf_err_set(e, CF_EINTEGRITY, "issuer key %s: %zu bytes, expected %d", key_path, b.len,
                        KEYS_WRAPPED_LEN);
    if (rc == CF_OK) {
        memcpy(wrapped, b.data, KEYS_WRAPPED_LEN);
        cf_err ue = {0};
        rc = keyring_unwrap_secret(d, KEY_ID, wrapped, &ue);
        if (rc != CF_OK)
            rc = cf_err_set(e, rc == CF_ENOMEM ? CF_ENOMEM : CF_EINTEGRITY,
                            "issuer key %s does not authenticate under the service root key: %s",
                            key_path, ue.msg);
    }
    cf_buf_free(&b);
    return rc;
}

cf_code issuer_open(issuer **out, const char *key_path, const char *url, const char *tenant,
                    cf_err *e)
{
    *out = NULL;
    if (url == NULL || *url == '\0' || tenant == NULL || *tenant == '\0')
        return cf_err_set(e, CF_EINVAL, "issuer: url and tenant are required");
    issuer *is = calloc(1, sizeof(*is));
    if (is == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    unsigned char d[KEYS_SECRET_LEN];
    cf_code rc = scalar_load_or_create(d, key_path, e);
    if (rc == CF_OK) {
        rc = key_from_scalar(&is->pkey, is->point, d, e);
        keys_wipe(d, sizeof(d));
    }
    if (rc == CF_OK) {
        unsigned char h[SHA256_DIGEST_LENGTH];
        char hex[2 * SHA256_DIGEST_LENGTH + 1];
        SHA256(is->point, POINT_LEN, h);
        cf_hex_encode(hex, h, sizeof(h));
        memcpy(is->kid, hex, ISSUER_KID_LEN);
        is->kid[ISSUER_KID_LEN] = '\0';
        /* the URL without a trailing slash: jwks_uri is url + "/jwks" */
        size_t n = strlen(url);
        while (n > 1 && url[n - 1] == '/')
            n--;
        is->url = strndup(url, n);
        is->tenant = strdup(tenant);
        if (is->url == NULL || is->tenant == NULL)
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    if (rc != CF_OK) {
        issuer_free(is);
        return rc;
    }
    *out = is;
    return CF_OK;
}

void issuer_free(issuer *is)
{
    if (is == NULL)
        return;
    EVP_PKEY_free(is->pkey);
    free(is->url);
    free(is->tenant);
    free(is);
}

const char *issuer_kid(const issuer *is)
{
    return is->kid;
}

const char *issuer_url(const issuer *is)
{
    return is->url;
}

const char *issuer_tenant(const issuer *is)
{
    return is->tenant;
}

/* ---- published documents ---- */

static json_t *b64url_string(const unsigned char *p, size_t n)
{
    cf_buf b;
    cf_buf_init(&b, 0);
    json_t *s = NULL;
    if (cf_b64url_encode(&b, p, n, NULL) == CF_OK)
        s = json_stringn((const char *)b.data, b.len);
    cf_buf_free(&b);
    return s;
}

json_t *issuer_jwks(const issuer *is)
{
    json_t *x = b64url_string(is->point + 1, COORD_LEN);
    json_t *y = b64url_string(is->point + 1 + COORD_LEN, COORD_LEN);
    if (x == NULL || y == NULL) {
        json_decref(x);
        json_decref(y);
        return NULL;
    }
    return json_pack("{s:[{s:s,s:s,s:o,s:o,s:s,s:s,s:s}]}", "keys", "kty", "EC", "crv", "P-256",
                     "x", x, "y", y, "kid", is->kid, "alg", "ES256", "use", "sig");
}

json_t *issuer_openid_config(const issuer *is)
{
    char jwks[2048];
    snprintf(jwks, sizeof(jwks), "%s/jwks", is->url);
    return json_pack("{s:s,s:s,s:[s]}", "issuer", is->url, "jwks_uri", jwks,
                     "id_token_signing_alg_values_supported", "ES256");
}

/* ---- tokens ---- */

cf_code issuer_audience(char *out, size_t cap, const char *resource, cf_err *e)
{
    static const char suffix[] = "/.default";
    size_t n = resource ? strlen(resource) : 0;
    if (n >= sizeof(suffix) - 1 && strcmp(resource + n - (sizeof(suffix) - 1), suffix) == 0)
        n -= sizeof(suffix) - 1;
    if (n == 0)
        return cf_err_set(e, CF_EINVAL, "the resource is empty");
    if (n >= cap)
        return cf_err_set(e, CF_EINVAL, "the resource is longer than %zu bytes", cap - 1);
    memcpy(out, resource, n);
    out[n] = '\0';
    return CF_OK;
}

static cf_code append_b64_json(cf_buf *out, json_t *obj, cf_err *e)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = cf_b64url_encode(out, (const unsigned char *)s, strlen(s), e);
    free(s);
    return rc;
}

/* ES256 over in: the JOSE signature r ‖ s (RFC 7518 §3.4). */
static cf_code sign_es256(unsigned char sig[2 * COORD_LEN], const issuer *is,
                          const unsigned char *in, size_t len, cf_err *e)
{
    cf_code rc = CF_OK;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t der_len = sizeof(der);
    ECDSA_SIG *s = NULL;
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, is->pkey) <= 0 ||
        EVP_DigestSign(md, der, &der_len, in, len) <= 0) {
        rc = cf_err_ssl(e, "issuer: sign");
        goto out;
    }
    const unsigned char *p = der;
    s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (s == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, COORD_LEN) != COORD_LEN ||
        BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + COORD_LEN, COORD_LEN) != COORD_LEN) {
        rc = cf_err_ssl(e, "issuer: signature encoding");
        goto out;
    }
out:
    ECDSA_SIG_free(s);
    EVP_MD_CTX_free(md);
    return rc;
}

cf_code issuer_mint(char **out, int64_t *out_exp, const issuer *is, const char *principal,
                    const char *client, const char *resource, unsigned ttl_s, cf_err *e)
{
    *out = NULL;
    char aud[1024];
    if (principal == NULL || *principal == '\0' || client == NULL || *client == '\0')
        return cf_err_set(e, CF_EINVAL, "a token needs a principal id and a client id");
    if (ttl_s == 0 || ttl_s > 24 * 3600)
        return cf_err_set(e, CF_EINVAL, "token lifetime out of range");
    cf_code rc = issuer_audience(aud, sizeof(aud), resource, e);
    if (rc != CF_OK)
        return rc;
    json_int_t now = (json_int_t)time(NULL);
    json_int_t exp = now + (json_int_t)ttl_s;
    cf_buf b;
    cf_buf_init(&b, 0);
    rc = append_b64_json(
        &b, json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "JWT", "kid", is->kid), e);
    if (rc == CF_OK)
        rc = cf_buf_append(&b, ".", 1, e);
    if (rc == CF_OK)
        rc = append_b64_json(&b,
                             json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "iss", is->url,
                                       "sub", principal, "oid", principal, "appid", client, "tid",
                                       is->tenant, "aud", aud, "iat", now, "nbf", now, "exp", exp),
                             e);
    unsigned char sig[2 * COORD_LEN];
    if (rc == CF_OK)
        rc = sign_es256(sig, is, b.data, b.len, e);
    if (rc == CF_OK)
        rc = cf_buf_append(&b, ".", 1, e);
    if (rc == CF_OK)
        rc = cf_b64url_encode(&b, sig, sizeof(sig), e);
    if (rc != CF_OK) {
        cf_buf_free(&b);
        return rc;
    }
    size_t len;
    *out = (char *)cf_buf_detach(&b, &len);
    if (out_exp)
        *out_exp = (int64_t)exp;
    return CF_OK;
}

/* ---- the process-wide issuer ---- */

static issuer *default_issuer;

void issuer_set_default(issuer *is)
{
    __atomic_store_n(&default_issuer, is, __ATOMIC_RELEASE);
}

cf_code issuer_token(const char *principal_id, const char *client_id, const char *resource,
                     char **out, cf_err *e)
{
    issuer *is = __atomic_load_n(&default_issuer, __ATOMIC_ACQUIRE);
    if (is == NULL) {
        *out = NULL;
        return cf_err_set(e, CF_EUNAVAIL, "the identity issuer is not running");
    }
    return issuer_mint(out, NULL, is, principal_id, client_id,
                       resource ? resource : ISSUER_VAULT_RESOURCE, ISSUER_TOKEN_TTL, e);
}
