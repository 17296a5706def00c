/*
 * test_jwk.c -- JWK <-> EVP_PKEY. Expected JWKs come from node's crypto
 * (an independent implementation), keys from the openssl CLI.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/bn.h>

#include "../vcrypto_helpers.h"
#include "../vcrypto_vectors.h"
#include "crypto/jwk.h"
#include "vault/keyops.h"

/* Every member of want is in got with the same value, and got has nothing
 * else. */
static void assert_same_jwk(const json_t *got, const json_t *want)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)want, key, v)
    {
        json_t *g = json_object_get(got, key);
        cr_assert_not_null(g, "member %s missing", key);
        cr_assert_str_eq(json_string_value(g), json_string_value(v), "member %s", key);
    }
    cr_assert_eq(json_object_size(got), json_object_size(want));
}

static void export_matches_node(const char *pem, const char *want_priv, const char *want_pub)
{
    EVP_PKEY *k = vc_pem_private(pem);
    json_t *got = NULL, *want = vc_json(want_priv);
    cr_assert_eq(jwk_from_pkey(&got, k, 1, NULL), CF_OK);
    assert_same_jwk(got, want);
    json_decref(got);
    json_decref(want);
    want = vc_json(want_pub);
    cr_assert_eq(jwk_from_pkey(&got, k, 0, NULL), CF_OK);
    assert_same_jwk(got, want);
    cr_assert_null(json_object_get(got, "d"));
    json_decref(got);
    json_decref(want);
    EVP_PKEY_free(k);
}

Test(jwk_export, rsa_matches_node_private_and_public)
{
    export_matches_node(VEC_RSA_PEM, VEC_RSA_JWK_PRIV, VEC_RSA_JWK_PUB);
}

Test(jwk_export, ec_p256_matches_node_private_and_public)
{
    export_matches_node(VEC_EC256_PEM, VEC_EC256_JWK_PRIV, VEC_EC256_JWK_PUB);
}

static void import_export_identity(const char *jwk_text, jwk_private_mode mode, int priv)
{
    json_t *in = vc_json(jwk_text), *out = NULL;
    EVP_PKEY *k = NULL;
    cf_err e = {0};
    cr_assert_eq(jwk_to_pkey(&k, in, mode, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(jwk_pkey_has_private(k), priv);
    cr_assert_eq(jwk_from_pkey(&out, k, 1, NULL), CF_OK);
    assert_same_jwk(out, in);
    json_decref(in);
    json_decref(out);
    EVP_PKEY_free(k);
}

Test(jwk_import, round_trips_rsa_and_ec_private_and_public)
{
    import_export_identity(VEC_RSA_JWK_PRIV, JWK_PRIVATE_REQUIRED, 1);
    import_export_identity(VEC_RSA_JWK_PUB, JWK_PRIVATE_OPTIONAL, 0);
    import_export_identity(VEC_EC256_JWK_PRIV, JWK_PRIVATE_OPTIONAL, 1);
    import_export_identity(VEC_EC256_JWK_PUB, JWK_PUBLIC_ONLY, 0);
    import_export_identity(VEC_EC384_JWK_PRIV, JWK_PRIVATE_REQUIRED, 1);
    import_export_identity(VEC_EC384_JWK_PUB, JWK_PUBLIC_ONLY, 0);
}

Test(jwk_import, imported_rsa_key_signs_like_openssl)
{
    json_t *in = vc_json(VEC_RSA_JWK_PRIV);
    json_object_set_new(in, "kty", json_string("RSA-HSM")); /* the protocol's name works too */
    EVP_PKEY *k = NULL;
    cr_assert_eq(jwk_to_pkey(&k, in, JWK_PRIVATE_REQUIRED, NULL), CF_OK);
    cf_buf d = vc_hex(VEC_D256_HEX), want = vc_hex(VEC_RS256_HEX), sig;
    cf_buf_init(&sig, 0);
    cr_assert_eq(keyops_sign(&sig, k, KEYOPS_RS256, d.data, d.len, NULL), CF_OK);
    cr_assert_eq(sig.len, want.len);
    cr_assert(memcmp(sig.data, want.data, sig.len) == 0);
    cf_buf_free(&sig);
    cf_buf_free(&d);
    cf_buf_free(&want);
    json_decref(in);
    EVP_PKEY_free(k);
}

Test(jwk_import, public_only_mode_drops_private_parts)
{
    json_t *in = vc_json(VEC_EC256_JWK_PRIV), *out = NULL;
    EVP_PKEY *k = NULL;
    cr_assert_eq(jwk_to_pkey(&k, in, JWK_PUBLIC_ONLY, NULL), CF_OK);
    cr_assert_eq(jwk_pkey_has_private(k), 0);
    cr_assert_eq(jwk_from_pkey(&out, k, 1, NULL), CF_OK);
    cr_assert_null(json_object_get(out, "d"));
    json_decref(out);
    json_decref(in);
    EVP_PKEY_free(k);
}

Test(jwk_import, private_required_refuses_a_public_jwk)
{
    json_t *in = vc_json(VEC_RSA_JWK_PUB);
    EVP_PKEY *k = NULL;
    cf_err e = {0};
    cr_assert_eq(jwk_to_pkey(&k, in, JWK_PRIVATE_REQUIRED, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "'d'") != NULL, "%s", e.msg);
    cr_assert_null(k);
    json_decref(in);
}

/* Replaces member name of jwk by the base64url of f(decoded bytes). */
static void mutate(json_t *jwk, const char *name, void (*f)(cf_buf *))
{
    json_t *v = json_object_get(jwk, name);
    cf_buf b, enc;
    cf_buf_init(&b, 0);
    cf_buf_init(&enc, 0);
    cr_assert_eq(cf_b64url_decode(&b, json_string_value(v), json_string_length(v), NULL), CF_OK);
    f(&b);
    cr_assert_eq(cf_b64url_encode(&enc, b.data, b.len, NULL), CF_OK);
    json_object_set_new(jwk, name, json_string((const char *)enc.data));
    cf_buf_free(&b);
    cf_buf_free(&enc);
}

static void flip_last(cf_buf *b)
{
    b->data[b->len - 1] ^= 0x02;
}
static void drop_first(cf_buf *b)
{
    memmove(b->data, b->data + 1, --b->len);
}
static void half(cf_buf *b)
{
    b->len /= 2;
    b->data[b->len - 1] |= 1;
}
static void make_even(cf_buf *b)
{
    b->data[b->len - 1] &= 0xfe;
}
static void grow(cf_buf *b)
{
    unsigned char ff[260]; /* 2048 + 2080 bits: over the 4096 limit */
    memset(ff, 0xff, sizeof(ff));
    cr_assert_eq(cf_buf_append(b, ff, sizeof(ff), NULL), CF_OK);
}

static void refuse(json_t *jwk, jwk_private_mode mode, const char *why)
{
    EVP_PKEY *k = NULL;
    cf_err e = {0};
    cf_code rc = jwk_to_pkey(&k, jwk, mode, &e);
    cr_assert(rc == CF_EINVAL || rc == CF_EUNSUPPORTED, "%s: accepted (rc %d)", why, rc);
    cr_assert_null(k, "%s", why);
    cr_assert_neq(e.msg[0], '\0', "%s: no message", why);
    json_decref(jwk);
}

/* One malformed JWK: vector vec with member edited (by f on its decoded
 * bytes when f is set, else replaced by the JSON text set when that is
 * set, else deleted), refused under mode. */
typedef struct bad_jwk {
    const char *vec;
    const char *member;
    void (*f)(cf_buf *);
    const char *set;
    jwk_private_mode mode;
    const char *why;
} bad_jwk;

static void refuse_each(const bad_jwk *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *j = vc_json(c[i].vec);
        if (c[i].f)
            mutate(j, c[i].member, c[i].f);
        else if (c[i].set) {
            json_t *v = json_loads(c[i].set, JSON_DECODE_ANY, NULL);
            cr_assert_not_null(v, "bad test JSON: %s", c[i].set);
            json_object_set_new(j, c[i].member, v);
        } else
            json_object_del(j, c[i].member);
        refuse(j, c[i].mode, c[i].why);
    }
}

#define OPT JWK_PRIVATE_OPTIONAL

Test(jwk_import, refuses_malformed_rsa_keys)
{
    const bad_jwk cases[] = {
        {VEC_RSA_JWK_PUB, "n", NULL, NULL, OPT, "missing n"},
        {VEC_RSA_JWK_PUB, "n", half, NULL, OPT, "1024-bit modulus"},
        {VEC_RSA_JWK_PUB, "n", grow, NULL, OPT, "modulus over 4096 bits"},
        {VEC_RSA_JWK_PUB, "e", make_even, NULL, OPT, "even exponent"},
        {VEC_RSA_JWK_PUB, "n", make_even, NULL, OPT, "even modulus"},
        {VEC_RSA_JWK_PUB, "n", NULL, "5", OPT, "n not a string"},
        {VEC_RSA_JWK_PUB, "e", NULL, "\"AQAB==\"", OPT, "padded base64"},
        {VEC_RSA_JWK_PUB, "e", NULL, "\"AQ AB\"", OPT, "space in base64"},
    };
    refuse_each(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(jwk_import, refuses_inconsistent_rsa_private_parts)
{
    const char *members[] = {"d", "p", "q", "dp", "dq", "qi"};
    for (size_t i = 0; i < 6; i++) {
        const bad_jwk c = {VEC_RSA_JWK_PRIV,     members[i], flip_last, NULL,
                           JWK_PRIVATE_REQUIRED, members[i]};
        refuse_each(&c, 1);
    }
    const bad_jwk cases[] = {
        {VEC_RSA_JWK_PRIV, "qi", NULL, NULL, OPT, "missing qi"},
        {VEC_RSA_JWK_PRIV, "oth", NULL, "[]", OPT, "multi-prime"},
    };
    refuse_each(cases, sizeof(cases) / sizeof(cases[0]));
    json_t *j = vc_json(VEC_RSA_JWK_PRIV);
    json_object_set(j, "p", json_object_get(j, "q"));
    refuse(j, OPT, "p == q");
}

Test(jwk_import, refuses_malformed_ec_keys)
{
    const bad_jwk cases[] = {
        {VEC_EC256_JWK_PUB, "y", flip_last, NULL, JWK_PUBLIC_ONLY, "point not on the curve"},
        {VEC_EC256_JWK_PUB, "x", drop_first, NULL, JWK_PUBLIC_ONLY, "short x"},
        {VEC_EC256_JWK_PUB, "crv", NULL, "\"P-256K\"", JWK_PUBLIC_ONLY, "secp256k1"},
        {VEC_EC256_JWK_PUB, "crv", NULL, NULL, JWK_PUBLIC_ONLY, "no crv"},
        {VEC_EC256_JWK_PUB, "crv", NULL, "\"P-384\"", JWK_PUBLIC_ONLY,
         "P-256 coordinates under P-384"},
        {VEC_EC256_JWK_PRIV, "d", flip_last, NULL, OPT, "d does not match the point"},
        {VEC_EC256_JWK_PRIV, "d", drop_first, NULL, OPT, "short d"},
    };
    refuse_each(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(jwk_import, refuses_other_kty_and_non_objects)
{
    refuse(vc_json("{\"kty\":\"oct\",\"k\":\"AAAA\"}"), JWK_PRIVATE_OPTIONAL, "oct");
    refuse(vc_json("{\"n\":\"AQAB\",\"e\":\"AQAB\"}"), JWK_PRIVATE_OPTIONAL, "no kty");
    refuse(vc_json("{\"kty\":\"rsa\"}"), JWK_PRIVATE_OPTIONAL, "lowercase kty");
    refuse(vc_json("[1]"), JWK_PRIVATE_OPTIONAL, "array");
    refuse(vc_json("{\"kty\":7}"), JWK_PRIVATE_OPTIONAL, "numeric kty");
}

Test(jwk_kty, parses_the_four_protocol_names)
{
    jwk_kty k;
    int hsm = -1;
    cr_assert_eq(jwk_kty_parse(&k, &hsm, "RSA-HSM", NULL), CF_OK);
    cr_assert_eq(k, JWK_KTY_RSA);
    cr_assert_eq(hsm, 1);
    cr_assert_eq(jwk_kty_parse(&k, &hsm, "EC", NULL), CF_OK);
    cr_assert_eq(k, JWK_KTY_EC);
    cr_assert_eq(hsm, 0);
    cr_assert_eq(jwk_kty_parse(&k, NULL, "EC-HSM", NULL), CF_OK);
    cr_assert_eq(jwk_kty_parse(&k, NULL, "oct-HSM", NULL), CF_EINVAL);
    cr_assert_str_eq(jwk_kty_name(JWK_KTY_EC, 1), "EC-HSM");
    cr_assert_str_eq(jwk_kty_name(JWK_KTY_RSA, 0), "RSA");
}

Test(jwk_der, round_trips_private_and_public_keys)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM), *back = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    cr_assert_eq(jwk_pkey_to_der(&der, &len, k, 1, NULL), CF_OK);
    cr_assert_eq(jwk_pkey_from_der(&back, der, len, 1, NULL), CF_OK);
    cr_assert_eq(EVP_PKEY_eq(k, back), 1);
    cr_assert(jwk_pkey_has_private(back));
    EVP_PKEY_free(back);
    cr_assert_eq(jwk_pkey_from_der(&back, der, len - 1, 1, NULL), CF_EINVAL);
    cr_assert_eq(jwk_pkey_from_der(&back, der, len, 0, NULL), CF_EINVAL);
    OPENSSL_clear_free(der, len);
    cr_assert_eq(jwk_pkey_to_der(&der, &len, k, 0, NULL), CF_OK);
    cr_assert_eq(jwk_pkey_from_der(&back, der, len, 0, NULL), CF_OK);
    cr_assert_eq(jwk_pkey_has_private(back), 0);
    cr_assert_eq(EVP_PKEY_eq(k, back), 1);
    EVP_PKEY_free(back);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}

Test(jwk_describe, reports_family_bits_and_curve)
{
    EVP_PKEY *r = vc_pem_private(VEC_RSA_PEM), *ec = vc_pem_private(VEC_EC256_PEM);
    jwk_kty kty;
    int bits = 0;
    const char *crv = "x";
    cr_assert_eq(jwk_pkey_describe(&kty, &bits, &crv, r, NULL), CF_OK);
    cr_assert_eq(kty, JWK_KTY_RSA);
    cr_assert_eq(bits, 2048);
    cr_assert_null(crv);
    cr_assert_eq(jwk_pkey_describe(&kty, &bits, &crv, ec, NULL), CF_OK);
    cr_assert_eq(kty, JWK_KTY_EC);
    cr_assert_str_eq(crv, "P-256");
    EVP_PKEY_free(r);
    EVP_PKEY_free(ec);
}

/* OpenSSL's RSA public check runs Miller-Rabin on n with random bases
 * (tests/fuzz/fuzz_jwk.c): a real modulus, p*q, must pass it every time, or
 * a vault would now and then refuse a trusted issuer's key. */
Test(jwk_import, a_real_rsa_public_key_imports_every_time)
{
    json_t *in = vc_json(VEC_RSA_JWK_PUB);
    for (int i = 0; i < 200; i++) {
        EVP_PKEY *k = NULL;
        cf_err e = {0};
        cr_assert_eq(jwk_to_pkey(&k, in, JWK_PRIVATE_OPTIONAL, &e), CF_OK, "import %d: %s", i,
                     e.msg);
        EVP_PKEY_free(k);
    }
    json_decref(in);
}
