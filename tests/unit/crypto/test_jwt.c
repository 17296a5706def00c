/*
 * test_jwt.c -- bearer token verification. Tokens are built and signed
 * here with OpenSSL (keys from the openssl CLI vectors), then fed to
 * jwt_authenticate as a daemon would.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "../vcrypto_helpers.h"
#include "../vcrypto_vectors.h"
#include "crypto/jwt.h"
#include "vault/keyops.h"

#define ISS "https://issuer.test/"
#define AUD "https://vault.azure.net"
#define NOW ((int64_t)1900000000)

static jwt_jwks *JWKS;
static jwt_issuer ISSUERS[2];

/* kid rsa1 (RSA), ec1 (P-256), ec384 (P-384); plus keys that must be
 * skipped: an encryption key and an oct key. */
static json_t *make_jwks_doc(void)
{
    json_t *keys = json_array();
    json_t *k = vc_json(VEC_RSA_JWK_PUB);
    json_object_set_new(k, "kid", json_string("rsa1"));
    json_object_set_new(k, "use", json_string("sig"));
    json_array_append_new(keys, k);
    k = vc_json(VEC_EC256_JWK_PUB);
    json_object_set_new(k, "kid", json_string("ec1"));
    json_array_append_new(keys, k);
    k = vc_json(VEC_EC384_JWK_PUB);
    json_object_set_new(k, "kid", json_string("ec384"));
    json_object_set_new(k, "alg", json_string("ES384"));
    json_array_append_new(keys, k);
    k = vc_json(VEC_RSA_JWK_PUB);
    json_object_set_new(k, "kid", json_string("enc1"));
    json_object_set_new(k, "use", json_string("enc"));
    json_array_append_new(keys, k);
    json_array_append_new(keys, vc_json("{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}"));
    json_t *doc = json_object();
    json_object_set_new(doc, "keys", keys);
    return doc;
}

static void setup(void)
{
    json_t *doc = make_jwks_doc();
    cf_err e = {0};
    cr_assert_eq(jwt_jwks_parse(&JWKS, doc, &e), CF_OK, "%s", e.msg);
    json_decref(doc);
    ISSUERS[0] = (jwt_issuer){.issuer = "https://other.test/", .audience = AUD, .jwks = JWKS};
    ISSUERS[1] = (jwt_issuer){.issuer = ISS, .audience = AUD, .jwks = JWKS};
}

static void teardown(void)
{
    jwt_jwks_free(JWKS);
    JWKS = NULL;
}

static void b64(cf_buf *out, const void *data, size_t len)
{
    cr_assert_eq(cf_b64url_encode(out, data, len, NULL), CF_OK);
}

static void b64_json(cf_buf *out, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    b64(out, s, strlen(s));
    free(s);
    json_decref(j);
}

/* Standard claims valid at NOW; callers change them. */
static json_t *claims(void)
{
    json_t *c = json_object();
    json_object_set_new(c, "iss", json_string(ISS));
    json_object_set_new(c, "aud", json_string(AUD));
    json_object_set_new(c, "exp", json_integer(NOW + 3600));
    json_object_set_new(c, "nbf", json_integer(NOW - 10));
    json_object_set_new(c, "iat", json_integer(NOW - 10));
    json_object_set_new(c, "oid", json_string("00000000-0000-0000-0000-0000000000aa"));
    json_object_set_new(c, "sub", json_string("subject-1"));
    json_object_set_new(c, "appid", json_string("app-1"));
    json_object_set_new(c, "tid", json_string("tenant-1"));
    return c;
}

static json_t *header(const char *alg, const char *kid)
{
    json_t *h = json_object();
    json_object_set_new(h, "alg", json_string(alg));
    json_object_set_new(h, "typ", json_string("JWT"));
    if (kid)
        json_object_set_new(h, "kid", json_string(kid));
    return h;
}

/* Signs header.payload with pem's key by alg (RS*, ES*) into a fresh
 * token (caller frees the buffer). */
static cf_buf sign_token(json_t *hdr, json_t *payload, const char *pem, keyops_sig_alg alg)
{
    cf_buf t;
    cf_buf_init(&t, 0);
    b64_json(&t, hdr);
    cr_assert_eq(cf_buf_append(&t, ".", 1, NULL), CF_OK);
    b64_json(&t, payload);
    unsigned char d[64];
    size_t dl = keyops_sig_alg_digest_len(alg);
    vc_sha(d, dl == 32 ? "SHA256" : "SHA384", t.data, t.len);
    EVP_PKEY *k = vc_pem_private(pem);
    cf_buf sig;
    cf_buf_init(&sig, 0);
    cr_assert_eq(keyops_sign(&sig, k, alg, d, dl, NULL), CF_OK);
    cr_assert_eq(cf_buf_append(&t, ".", 1, NULL), CF_OK);
    b64(&t, sig.data, sig.len);
    cf_buf_free(&sig);
    EVP_PKEY_free(k);
    return t;
}

static jwt_fail auth(const cf_buf *t, jwt_claims *c)
{
    jwt_fail f = JWT_FAIL_NONE;
    cf_err e = {0};
    cf_code rc = jwt_authenticate(c, &f, (const char *)t->data, t->len, ISSUERS, 2, NOW,
                                  JWT_DEFAULT_SKEW, &e);
    if (rc == CF_OK) {
        cr_assert_eq(f, JWT_FAIL_NONE);
    } else {
        cr_assert_eq(rc, CF_EAUTH, "rc %d: %s", rc, e.msg);
        cr_assert_neq(f, JWT_FAIL_NONE);
        cr_assert_neq(e.msg[0], '\0');
        cr_assert_null(c->iss, "claims must be cleared on failure");
    }
    return f;
}

static void expect(cf_buf t, jwt_fail want)
{
    jwt_claims c = {0};
    jwt_fail got = auth(&t, &c);
    cr_assert_eq(got, want, "got %s, want %s", jwt_fail_name(got), jwt_fail_name(want));
    jwt_claims_free(&c);
    cf_buf_free(&t);
}

TestSuite(jwt_auth, .init = setup, .fini = teardown);

Test(jwt_auth, accepts_rs256_and_returns_the_identity)
{
    cf_buf t = sign_token(header("RS256", "rsa1"), claims(), VEC_RSA_PEM, KEYOPS_RS256);
    jwt_claims c = {0};
    cr_assert_eq(auth(&t, &c), JWT_FAIL_NONE);
    cr_assert_str_eq(c.iss, ISS);
    cr_assert_str_eq(jwt_claims_object_id(&c), "00000000-0000-0000-0000-0000000000aa");
    cr_assert_str_eq(jwt_claims_app_id(&c), "app-1");
    cr_assert_str_eq(c.tid, "tenant-1");
    cr_assert_eq(c.aud_count, 1);
    cr_assert_str_eq(c.aud[0], AUD);
    cr_assert_eq(c.exp, NOW + 3600);
    cr_assert_str_eq(c.alg, "RS256");
    cr_assert_str_eq(c.kid, "rsa1");
    jwt_claims_free(&c);
    cf_buf_free(&t);
}

Test(jwt_auth, accepts_es256_with_aud_array_and_falls_back_to_sub_and_azp)
{
    json_t *cl = claims();
    json_object_del(cl, "oid");
    json_object_del(cl, "appid");
    json_object_set_new(cl, "azp", json_string("azp-1"));
    json_t *aud = json_array();
    json_array_append_new(aud, json_string("api://other"));
    json_array_append_new(aud, json_string(AUD));
    json_object_set_new(cl, "aud", aud);
    cf_buf t = sign_token(header("ES256", "ec1"), cl, VEC_EC256_PEM, KEYOPS_ES256);
    jwt_claims c = {0};
    cr_assert_eq(auth(&t, &c), JWT_FAIL_NONE);
    cr_assert_str_eq(jwt_claims_object_id(&c), "subject-1");
    cr_assert_str_eq(jwt_claims_app_id(&c), "azp-1");
    cr_assert_eq(c.aud_count, 2);
    jwt_claims_free(&c);
    cf_buf_free(&t);
}

Test(jwt_auth, refuses_expired_but_allows_skew)
{
    json_t *cl = claims();
    json_object_set_new(cl, "exp", json_integer(NOW - 120));
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_EXPIRED);
    cl = claims();
    json_object_set_new(cl, "exp", json_integer(NOW - 30));
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_NONE);
    cl = claims();
    json_object_del(cl, "exp");
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_EXPIRED);
}

Test(jwt_auth, refuses_not_yet_valid_but_allows_skew)
{
    json_t *cl = claims();
    json_object_set_new(cl, "nbf", json_integer(NOW + 300));
    expect(sign_token(header("ES256", "ec1"), cl, VEC_EC256_PEM, KEYOPS_ES256),
           JWT_FAIL_NOT_YET_VALID);
    cl = claims();
    json_object_set_new(cl, "nbf", json_integer(NOW + 30));
    expect(sign_token(header("ES256", "ec1"), cl, VEC_EC256_PEM, KEYOPS_ES256), JWT_FAIL_NONE);
}

Test(jwt_auth, refuses_wrong_audience_and_untrusted_issuer)
{
    json_t *cl = claims();
    json_object_set_new(cl, "aud", json_string("https://management.azure.com"));
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_AUDIENCE);
    cl = claims();
    json_object_del(cl, "aud");
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_AUDIENCE);
    cl = claims();
    json_object_set_new(cl, "iss", json_string("https://evil.test/"));
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256),
           JWT_FAIL_UNTRUSTED_ISSUER);
    cl = claims();
    json_object_del(cl, "iss");
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256),
           JWT_FAIL_UNTRUSTED_ISSUER);
}

Test(jwt_auth, refuses_alg_none)
{
    cf_buf t;
    cf_buf_init(&t, 0);
    b64_json(&t, header("none", "rsa1"));
    cf_buf_append(&t, ".", 1, NULL);
    b64_json(&t, claims());
    cf_buf_append(&t, ".", 1, NULL);
    expect(t, JWT_FAIL_ALG);
}

/* The classic confusion: HS256 keyed with bytes of the RSA public key. */
Test(jwt_auth, refuses_hs256_keyed_with_the_public_key)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM);
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(k, &spki);
    cr_assert_gt(spki_len, 0);
    const void *secrets[] = {spki, VEC_RSA_JWK_PUB};
    size_t secret_lens[] = {(size_t)spki_len, strlen(VEC_RSA_JWK_PUB)};
    for (int i = 0; i < 2; i++) {
        cf_buf t;
        cf_buf_init(&t, 0);
        b64_json(&t, header("HS256", "rsa1"));
        cf_buf_append(&t, ".", 1, NULL);
        b64_json(&t, claims());
        unsigned char mac[32];
        size_t mac_len = 0;
        cr_assert_not_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secrets[i], secret_lens[i],
                                     t.data, t.len, mac, sizeof(mac), &mac_len));
        cf_buf_append(&t, ".", 1, NULL);
        b64(&t, mac, mac_len);
        expect(t, JWT_FAIL_ALG);
    }
    OPENSSL_free(spki);
    EVP_PKEY_free(k);
}

Test(jwt_auth, refuses_unknown_missing_and_skipped_kids)
{
    expect(sign_token(header("RS256", "nope"), claims(), VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_KID);
    expect(sign_token(header("RS256", NULL), claims(), VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_KID);
    /* an encryption key is not a signing key */
    expect(sign_token(header("RS256", "enc1"), claims(), VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_KID);
}

Test(jwt_auth, refuses_kty_alg_mismatch)
{
    expect(sign_token(header("ES256", "rsa1"), claims(), VEC_EC256_PEM, KEYOPS_ES256),
           JWT_FAIL_ALG);
    expect(sign_token(header("RS256", "ec1"), claims(), VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_ALG);
    /* P-256 key named by an ES384 token */
    expect(sign_token(header("ES384", "ec1"), claims(), VEC_EC256_PEM, KEYOPS_ES256), JWT_FAIL_ALG);
    /* the JWKS pins ES384 for ec384 */
    expect(sign_token(header("ES256", "ec384"), claims(), VEC_EC256_PEM, KEYOPS_ES256),
           JWT_FAIL_ALG);
    /* PS256 is not on the allowlist */
    expect(sign_token(header("PS256", "rsa1"), claims(), VEC_RSA_PEM, KEYOPS_PS256), JWT_FAIL_ALG);
}

Test(jwt_auth, accepts_rs384)
{
    expect(sign_token(header("RS384", "rsa1"), claims(), VEC_RSA_PEM, KEYOPS_RS384), JWT_FAIL_NONE);
}

Test(jwt_auth, refuses_tampered_payload_and_signature)
{
    cf_buf good = sign_token(header("RS256", "rsa1"), claims(), VEC_RSA_PEM, KEYOPS_RS256);
    const char *s = (const char *)good.data;
    const char *d1 = strchr(s, '.'), *d2 = strchr(d1 + 1, '.');
    /* same header and signature, payload with another oid */
    json_t *cl = claims();
    json_object_set_new(cl, "oid", json_string("00000000-0000-0000-0000-0000000000bb"));
    cf_buf t;
    cf_buf_init(&t, 0);
    cf_buf_append(&t, s, (size_t)(d1 - s + 1), NULL);
    b64_json(&t, cl);
    cf_buf_append(&t, d2, strlen(d2), NULL);
    expect(t, JWT_FAIL_SIGNATURE);
    /* flipped signature bit (stays canonical base64url: change 'A'<->'B' in the middle) */
    cf_buf_init(&t, 0);
    cf_buf_append(&t, good.data, good.len, NULL);
    size_t pos = (size_t)(d2 - s) + 10;
    t.data[pos] = t.data[pos] == 'A' ? 'B' : 'A';
    expect(t, JWT_FAIL_SIGNATURE);
    /* signature short by 3 bytes (canonical base64url of a shorter value) */
    cf_buf sig;
    cf_buf_init(&sig, 0);
    cr_assert_eq(cf_b64url_decode(&sig, d2 + 1, strlen(d2 + 1), NULL), CF_OK);
    cf_buf_init(&t, 0);
    cf_buf_append(&t, s, (size_t)(d2 - s + 1), NULL);
    b64(&t, sig.data, sig.len - 3);
    cf_buf_free(&sig);
    expect(t, JWT_FAIL_SIGNATURE);
    cf_buf_free(&good);
}

Test(jwt_auth, refuses_es256_signature_in_der_form)
{
    cf_buf t;
    cf_buf_init(&t, 0);
    b64_json(&t, header("ES256", "ec1"));
    cf_buf_append(&t, ".", 1, NULL);
    b64_json(&t, claims());
    EVP_PKEY *k = vc_pem_private(VEC_EC256_PEM);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t der_len = sizeof(der);
    cr_assert_eq(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL), 1);
    cr_assert_eq(EVP_DigestSign(md, der, &der_len, t.data, t.len), 1);
    cf_buf_append(&t, ".", 1, NULL);
    b64(&t, der, der_len);
    expect(t, JWT_FAIL_SIGNATURE);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
}

static cf_buf text(const char *s)
{
    cf_buf t;
    cf_buf_init(&t, 0);
    cf_buf_append(&t, s, strlen(s), NULL);
    return t;
}

Test(jwt_auth, refuses_malformed_tokens)
{
    expect(text(""), JWT_FAIL_MALFORMED);
    expect(text("abc"), JWT_FAIL_MALFORMED);
    expect(text("a.b"), JWT_FAIL_MALFORMED);
    expect(text("a.b.c.d"), JWT_FAIL_MALFORMED);
    expect(text("e30=.e30.AA"), JWT_FAIL_MALFORMED);       /* padded base64url */
    expect(text("bm90anNvbg.e30.AA"), JWT_FAIL_MALFORMED); /* "notjson" */
    expect(text("W10.e30.AA"), JWT_FAIL_MALFORMED);        /* "[]" header */
    /* duplicate claim names */
    expect(text("eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJhIiwib2lkIjoiYiJ9.AA"), JWT_FAIL_MALFORMED);
    /* a valid token with a crit header */
    json_t *h = header("RS256", "rsa1");
    json_object_set_new(h, "crit", json_pack("[s]", "exp"));
    expect(sign_token(h, claims(), VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_MALFORMED);
    /* numeric oid */
    json_t *cl = claims();
    json_object_set_new(cl, "oid", json_integer(5));
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_MALFORMED);
    /* oversize: a 17 KiB claim */
    cl = claims();
    char *big = malloc(17 * 1024);
    memset(big, 'x', 17 * 1024 - 1);
    big[17 * 1024 - 1] = '\0';
    json_object_set_new(cl, "pad", json_string(big));
    free(big);
    expect(sign_token(header("RS256", "rsa1"), cl, VEC_RSA_PEM, KEYOPS_RS256), JWT_FAIL_MALFORMED);
}

Test(jwt_jwks, keeps_only_usable_signing_keys)
{
    json_t *doc = make_jwks_doc();
    jwt_jwks *j = NULL;
    cr_assert_eq(jwt_jwks_parse(&j, doc, NULL), CF_OK);
    cr_assert_eq(jwt_jwks_count(j), 3);
    jwt_jwks_free(j);
    json_decref(doc);
}

Test(jwt_jwks, refuses_duplicate_kids_bad_keys_and_bad_shapes)
{
    json_t *doc = make_jwks_doc();
    json_t *k = vc_json(VEC_EC256_JWK_PUB);
    json_object_set_new(k, "kid", json_string("rsa1"));
    json_array_append_new(json_object_get(doc, "keys"), k);
    jwt_jwks *j = NULL;
    cr_assert_eq(jwt_jwks_parse(&j, doc, NULL), CF_EINVAL);
    cr_assert_null(j);
    json_decref(doc);

    doc = make_jwks_doc();
    k = vc_json(VEC_EC256_JWK_PUB);
    json_object_set_new(k, "kid", json_string("broken"));
    json_object_set_new(k, "x", json_string("AAAA"));
    json_array_append_new(json_object_get(doc, "keys"), k);
    cf_err e = {0};
    cr_assert_eq(jwt_jwks_parse(&j, doc, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "broken") != NULL, "%s", e.msg);
    json_decref(doc);

    cr_assert_eq(jwt_jwks_parse_text(&j, "{\"keys\":{}}", 11, NULL), CF_EINVAL);
    cr_assert_eq(jwt_jwks_parse_text(&j, "[]", 2, NULL), CF_EINVAL);
    cr_assert_eq(jwt_jwks_parse_text(&j, "{\"keys\":[", 9, NULL), CF_EINVAL);
}

Test(jwt_jwks, loads_from_a_file)
{
    char path[] = "/tmp/coffer-jwks-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    json_t *doc = make_jwks_doc();
    char *s = json_dumps(doc, 0);
    cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
    free(s);
    json_decref(doc);
    jwt_jwks *j = NULL;
    cr_assert_eq(jwt_jwks_load_file(&j, path, NULL), CF_OK);
    cr_assert_eq(jwt_jwks_count(j), 3);
    jwt_jwks_free(j);
    unlink(path);
    cr_assert_eq(jwt_jwks_load_file(&j, path, NULL), CF_ENOTFOUND);
}

Test(jwt_claims, check_reports_each_failure)
{
    jwt_claims c = {0};
    c.iss = (char *)ISS;
    c.aud[0] = (char *)AUD;
    c.aud_count = 1;
    c.exp = NOW + 10;
    c.has_exp = 1;
    jwt_issuer is = {.issuer = ISS, .audience = AUD, .jwks = NULL};
    const jwt_issuer *got = NULL;
    jwt_fail f = JWT_FAIL_NONE;
    cf_err e = {0};
    cr_assert_eq(jwt_claims_check(&got, &f, &c, &is, 1, NOW, 60, &e), CF_OK);
    cr_assert_eq(got, &is);
    c.exp = NOW - 61;
    cr_assert_eq(jwt_claims_check(&got, &f, &c, &is, 1, NOW, 60, &e), CF_EAUTH);
    cr_assert_eq(f, JWT_FAIL_EXPIRED);
    cr_assert_str_eq(e.msg, "token expired");
    c.exp = NOW + 10;
    c.nbf = NOW + 61;
    c.has_nbf = 1;
    f = JWT_FAIL_NONE;
    cf_err_clear(&e);
    cr_assert_eq(jwt_claims_check(&got, &f, &c, &is, 1, NOW, 60, &e), CF_EAUTH);
    cr_assert_eq(f, JWT_FAIL_NOT_YET_VALID);
    cr_assert_str_eq(e.msg, "token not yet valid");
}
