/*
 * test_keyops.c -- software key operations against vectors made by the
 * openssl CLI (tests/unit/vcrypto_vectors.h) and round trips for every
 * algorithm Key Vault names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "../vcrypto_helpers.h"
#include "../vcrypto_vectors.h"
#include "crypto/jwk.h"
#include "vault/keyops.h"

Test(keyops_algs, parses_protocol_names_exactly)
{
    keyops_enc_alg ea;
    keyops_sig_alg sa;
    cr_assert_eq(keyops_enc_alg_parse(&ea, "RSA-OAEP-256", NULL), CF_OK);
    cr_assert_eq(ea, KEYOPS_RSA_OAEP_256);
    cr_assert_eq(keyops_enc_alg_parse(&ea, "RSA1_5", NULL), CF_OK);
    cr_assert_eq(ea, KEYOPS_RSA1_5);
    cr_assert_eq(keyops_enc_alg_parse(&ea, "rsa-oaep", NULL), CF_EUNSUPPORTED);
    cr_assert_eq(keyops_enc_alg_parse(&ea, "A256KW", NULL), CF_EUNSUPPORTED);
    cr_assert_eq(keyops_sig_alg_parse(&sa, "PS384", NULL), CF_OK);
    cr_assert_eq(sa, KEYOPS_PS384);
    cr_assert_eq(keyops_sig_alg_digest_len(sa), 48);
    cr_assert_eq(keyops_sig_alg_parse(&sa, "ES256K", NULL), CF_EUNSUPPORTED);
    cr_assert_eq(keyops_sig_alg_parse(&sa, "HS256", NULL), CF_EUNSUPPORTED);
    cr_assert_str_eq(keyops_sig_alg_name(KEYOPS_ES512), "ES512");
    cr_assert_str_eq(keyops_enc_alg_name(KEYOPS_RSA_OAEP), "RSA-OAEP");
}

static void decrypt_vector(keyops_enc_alg alg, const char *hex)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM);
    cf_buf ct = vc_hex(hex), pt;
    cf_buf_init(&pt, 0);
    pt.secret = 1;
    cf_err e = {0};
    cr_assert_eq(keyops_unwrap(&pt, k, alg, ct.data, ct.len, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(pt.len, strlen(VEC_SECRET));
    cr_assert(memcmp(pt.data, VEC_SECRET, pt.len) == 0);
    cf_buf_free(&pt);
    cf_buf_free(&ct);
    EVP_PKEY_free(k);
}

Test(keyops_decrypt, opens_openssl_rsa_oaep_256_with_mgf1_sha256)
{
    decrypt_vector(KEYOPS_RSA_OAEP_256, VEC_OAEP256_HEX);
}

Test(keyops_decrypt, opens_openssl_rsa_oaep_sha1)
{
    decrypt_vector(KEYOPS_RSA_OAEP, VEC_OAEP1_HEX);
}

Test(keyops_decrypt, opens_openssl_rsa1_5)
{
    decrypt_vector(KEYOPS_RSA1_5, VEC_PKCS1_HEX);
}

/* Wrong alg, flipped bits, truncation: one code, one message. */
Test(keyops_decrypt, fails_uniformly_on_any_bad_ciphertext)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM);
    struct {
        keyops_enc_alg alg;
        const char *hex;
        int flip;  /* byte index to flip, -1 none */
        int trunc; /* bytes to drop */
    } cases[] = {
        {KEYOPS_RSA_OAEP, VEC_OAEP256_HEX, -1, 0},
        {KEYOPS_RSA_OAEP_256, VEC_OAEP1_HEX, -1, 0},
        {KEYOPS_RSA_OAEP_256, VEC_OAEP256_HEX, 200, 0},
        {KEYOPS_RSA_OAEP, VEC_OAEP1_HEX, 5, 0},
        {KEYOPS_RSA1_5, VEC_PKCS1_HEX, 100, 0},
        {KEYOPS_RSA_OAEP_256, VEC_OAEP256_HEX, -1, 1},
        {KEYOPS_RSA_OAEP_256, VEC_PKCS1_HEX, -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_buf ct = vc_hex(cases[i].hex), pt;
        cf_buf_init(&pt, 0);
        if (cases[i].flip >= 0)
            ct.data[cases[i].flip] ^= 0x40;
        ct.len -= (size_t)cases[i].trunc;
        cf_err e = {0};
        cr_assert_eq(keyops_decrypt(&pt, k, cases[i].alg, ct.data, ct.len, &e), CF_EINTEGRITY,
                     "case %zu", i);
        cr_assert_str_eq(e.msg, "decryption failed", "case %zu", i);
        cr_assert_eq(pt.len, 0);
        cf_buf_free(&pt);
        cf_buf_free(&ct);
    }
    EVP_PKEY_free(k);
}

Test(keyops_decrypt, needs_a_private_rsa_key)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM), *pub = vc_public_of(k);
    EVP_PKEY *ec = vc_pem_private(VEC_EC256_PEM);
    cf_buf ct = vc_hex(VEC_OAEP256_HEX), pt;
    cf_buf_init(&pt, 0);
    cf_err e = {0};
    cr_assert_eq(keyops_decrypt(&pt, pub, KEYOPS_RSA_OAEP_256, ct.data, ct.len, &e), CF_EINVAL);
    cf_err_clear(&e);
    cr_assert_eq(keyops_decrypt(&pt, ec, KEYOPS_RSA_OAEP_256, ct.data, ct.len, &e), CF_EINVAL);
    cr_assert_eq(keyops_encrypt(&pt, ec, KEYOPS_RSA_OAEP_256, ct.data, 16, NULL), CF_EINVAL);
    cf_buf_free(&pt);
    cf_buf_free(&ct);
    EVP_PKEY_free(k);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ec);
}

Test(keyops_encrypt, round_trips_every_alg_through_the_public_key)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM), *pub = vc_public_of(k);
    const keyops_enc_alg algs[] = {KEYOPS_RSA_OAEP, KEYOPS_RSA_OAEP_256, KEYOPS_RSA1_5};
    const unsigned char secret[32] = "a 32-byte content encryption key";
    for (size_t i = 0; i < 3; i++) {
        cf_buf ct, ct2, pt;
        cf_buf_init(&ct, 0);
        cf_buf_init(&ct2, 0);
        cf_buf_init(&pt, 0);
        cr_assert_eq(keyops_wrap(&ct, pub, algs[i], secret, 32, NULL), CF_OK);
        cr_assert_eq(ct.len, 256);
        cr_assert_eq(keyops_encrypt(&ct2, pub, algs[i], secret, 32, NULL), CF_OK);
        cr_assert(memcmp(ct.data, ct2.data, 256) != 0, "encryption must be randomised");
        cr_assert_eq(keyops_unwrap(&pt, k, algs[i], ct.data, ct.len, NULL), CF_OK);
        cr_assert_eq(pt.len, 32);
        cr_assert(memcmp(pt.data, secret, 32) == 0);
        cf_buf_free(&ct);
        cf_buf_free(&ct2);
        cf_buf_free(&pt);
    }
    EVP_PKEY_free(k);
    EVP_PKEY_free(pub);
}

Test(keyops_encrypt, refuses_plaintext_too_long_for_the_padding)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM);
    unsigned char big[256] = {0};
    cf_buf ct;
    cf_buf_init(&ct, 0);
    cr_assert_eq(keyops_encrypt(&ct, k, KEYOPS_RSA_OAEP_256, big, 256 - 66 + 1, NULL), CF_EINVAL);
    cr_assert_eq(keyops_encrypt(&ct, k, KEYOPS_RSA_OAEP_256, big, 256 - 66, NULL), CF_OK);
    cr_assert_eq(keyops_encrypt(&ct, k, KEYOPS_RSA_OAEP, big, 256 - 42 + 1, NULL), CF_EINVAL);
    cr_assert_eq(keyops_encrypt(&ct, k, KEYOPS_RSA1_5, big, 256 - 11 + 1, NULL), CF_EINVAL);
    cf_buf_free(&ct);
    EVP_PKEY_free(k);
}

Test(keyops_sign, rs256_matches_the_openssl_signature)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM);
    cf_buf d = vc_hex(VEC_D256_HEX), want = vc_hex(VEC_RS256_HEX), sig;
    cf_buf_init(&sig, 0);
    cr_assert_eq(keyops_sign(&sig, k, KEYOPS_RS256, d.data, d.len, NULL), CF_OK);
    cr_assert_eq(sig.len, want.len);
    cr_assert(memcmp(sig.data, want.data, want.len) == 0);
    cf_buf_free(&sig);
    cf_buf_free(&d);
    cf_buf_free(&want);
    EVP_PKEY_free(k);
}

Test(keyops_verify, accepts_openssl_ps256_and_es256_signatures)
{
    EVP_PKEY *rsa = vc_pem_private(VEC_RSA_PEM), *ec = vc_pem_private(VEC_EC256_PEM);
    EVP_PKEY *rpub = vc_public_of(rsa), *epub = vc_public_of(ec);
    cf_buf d = vc_hex(VEC_D256_HEX), ps = vc_hex(VEC_PS256_HEX), der = vc_hex(VEC_ES256_DER_HEX);
    int ok = 0;
    cr_assert_eq(keyops_verify(&ok, rpub, KEYOPS_PS256, d.data, d.len, ps.data, ps.len, NULL),
                 CF_OK);
    cr_assert_eq(ok, 1);
    /* PSS is not PKCS#1 v1.5 */
    cr_assert_eq(keyops_verify(&ok, rpub, KEYOPS_RS256, d.data, d.len, ps.data, ps.len, NULL),
                 CF_OK);
    cr_assert_eq(ok, 0);
    unsigned char raw[64];
    cr_assert_eq(keyops_ecdsa_der_to_raw(raw, 32, der.data, der.len, NULL), CF_OK);
    cr_assert_eq(keyops_verify(&ok, epub, KEYOPS_ES256, d.data, d.len, raw, 64, NULL), CF_OK);
    cr_assert_eq(ok, 1);
    /* DER is not the JOSE form */
    cr_assert_eq(keyops_verify(&ok, epub, KEYOPS_ES256, d.data, d.len, der.data, der.len, NULL),
                 CF_OK);
    cr_assert_eq(ok, 0);
    cf_buf_free(&d);
    cf_buf_free(&ps);
    cf_buf_free(&der);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rpub);
    EVP_PKEY_free(epub);
}

static void sign_round_trip(EVP_PKEY *k, keyops_sig_alg alg, size_t want_len)
{
    EVP_PKEY *pub = vc_public_of(k);
    unsigned char d[64];
    size_t dl = keyops_sig_alg_digest_len(alg);
    vc_sha(d, dl == 32 ? "SHA256" : dl == 48 ? "SHA384" : "SHA512", "msg", 3);
    cf_buf sig;
    cf_buf_init(&sig, 0);
    cf_err e = {0};
    cr_assert_eq(keyops_sign(&sig, k, alg, d, dl, &e), CF_OK, "%s: %s", keyops_sig_alg_name(alg),
                 e.msg);
    cr_assert_eq(sig.len, want_len, "%s", keyops_sig_alg_name(alg));
    int ok = 0;
    cr_assert_eq(keyops_verify(&ok, pub, alg, d, dl, sig.data, sig.len, NULL), CF_OK);
    cr_assert_eq(ok, 1, "%s", keyops_sig_alg_name(alg));
    sig.data[sig.len / 2] ^= 1;
    cr_assert_eq(keyops_verify(&ok, pub, alg, d, dl, sig.data, sig.len, NULL), CF_OK);
    cr_assert_eq(ok, 0, "tampered %s", keyops_sig_alg_name(alg));
    sig.data[sig.len / 2] ^= 1;
    d[0] ^= 1;
    cr_assert_eq(keyops_verify(&ok, pub, alg, d, dl, sig.data, sig.len, NULL), CF_OK);
    cr_assert_eq(ok, 0, "other digest %s", keyops_sig_alg_name(alg));
    cr_assert_eq(keyops_verify(&ok, pub, alg, d, dl, sig.data, sig.len - 1, NULL), CF_OK);
    cr_assert_eq(ok, 0, "short %s", keyops_sig_alg_name(alg));
    cf_buf_free(&sig);
    EVP_PKEY_free(pub);
}

Test(keyops_sign, round_trips_rs_and_ps_algs)
{
    EVP_PKEY *k = vc_pem_private(VEC_RSA_PEM);
    const keyops_sig_alg algs[] = {KEYOPS_RS256, KEYOPS_RS384, KEYOPS_RS512,
                                   KEYOPS_PS256, KEYOPS_PS384, KEYOPS_PS512};
    for (size_t i = 0; i < 6; i++)
        sign_round_trip(k, algs[i], 256);
    EVP_PKEY_free(k);
}

Test(keyops_sign, round_trips_es_algs_in_jose_form)
{
    EVP_PKEY *k = NULL;
    const char *crv[] = {"P-256", "P-384", "P-521"};
    const keyops_sig_alg algs[] = {KEYOPS_ES256, KEYOPS_ES384, KEYOPS_ES512};
    const size_t lens[] = {64, 96, 132};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(keyops_generate_ec(&k, crv[i], NULL), CF_OK);
        sign_round_trip(k, algs[i], lens[i]);
        EVP_PKEY_free(k);
    }
}

Test(keyops_sign, refuses_wrong_digest_length_and_key_mismatch)
{
    EVP_PKEY *rsa = vc_pem_private(VEC_RSA_PEM), *ec = vc_pem_private(VEC_EC256_PEM);
    EVP_PKEY *pub = vc_public_of(rsa);
    unsigned char d[64] = {1};
    cf_buf sig;
    cf_buf_init(&sig, 0);
    cf_err e = {0};
    cr_assert_eq(keyops_sign(&sig, rsa, KEYOPS_RS256, d, 48, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "32-byte digest") != NULL, "%s", e.msg);
    cr_assert_eq(keyops_sign(&sig, ec, KEYOPS_ES384, d, 48, NULL), CF_EINVAL);
    cr_assert_eq(keyops_sign(&sig, ec, KEYOPS_RS256, d, 32, NULL), CF_EINVAL);
    cr_assert_eq(keyops_sign(&sig, rsa, KEYOPS_ES256, d, 32, NULL), CF_EINVAL);
    cr_assert_eq(keyops_sign(&sig, pub, KEYOPS_RS256, d, 32, NULL), CF_EINVAL);
    int ok = 1;
    cr_assert_eq(keyops_verify(&ok, ec, KEYOPS_ES256, d, 31, d, 64, NULL), CF_EINVAL);
    cr_assert_eq(ok, 0);
    cr_assert_eq(sig.len, 0);
    cf_buf_free(&sig);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(pub);
}

Test(keyops_generate, makes_rsa_keys_with_the_requested_size_and_exponent)
{
    EVP_PKEY *k = NULL;
    cr_assert_eq(keyops_generate_rsa(&k, 2048, 0, NULL), CF_OK);
    cr_assert_eq(EVP_PKEY_get_bits(k), 2048);
    BIGNUM *ex = NULL;
    cr_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &ex));
    cr_assert_eq(BN_get_word(ex), 65537);
    BN_free(ex);
    EVP_PKEY_free(k);
    cr_assert_eq(keyops_generate_rsa(&k, 2048, 3, NULL), CF_OK);
    ex = NULL;
    cr_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &ex));
    cr_assert_eq(BN_get_word(ex), 3);
    BN_free(ex);
    EVP_PKEY_free(k);
    cr_assert_eq(keyops_generate_rsa(&k, 1024, 0, NULL), CF_EINVAL);
    cr_assert_null(k);
    cr_assert_eq(keyops_generate_rsa(&k, 2049, 0, NULL), CF_EINVAL);
    cr_assert_eq(keyops_generate_rsa(&k, 2048, 65536, NULL), CF_EINVAL);
}

Test(keyops_generate, makes_ec_keys_on_the_three_nist_curves_only)
{
    const char *crv[] = {"P-256", "P-384", "P-521"};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = NULL;
        const char *got = NULL;
        cr_assert_eq(keyops_generate_ec(&k, crv[i], NULL), CF_OK);
        cr_assert_eq(jwk_pkey_describe(NULL, NULL, &got, k, NULL), CF_OK);
        cr_assert_str_eq(got, crv[i]);
        cr_assert(jwk_pkey_has_private(k));
        EVP_PKEY_free(k);
    }
    EVP_PKEY *k = NULL;
    cr_assert_eq(keyops_generate_ec(&k, "P-256K", NULL), CF_EINVAL);
    cr_assert_eq(keyops_generate_ec(&k, "secp256k1", NULL), CF_EINVAL);
    cr_assert_null(k);
}

Test(keyops_ecdsa, converts_between_der_and_raw)
{
    cf_buf der = vc_hex(VEC_ES256_DER_HEX);
    unsigned char raw[64];
    unsigned char *back = NULL;
    size_t back_len = 0;
    cr_assert_eq(keyops_ecdsa_der_to_raw(raw, 32, der.data, der.len, NULL), CF_OK);
    cr_assert_eq(keyops_ecdsa_raw_to_der(&back, &back_len, raw, 64, NULL), CF_OK);
    cr_assert_eq(back_len, der.len);
    cr_assert(memcmp(back, der.data, der.len) == 0);
    OPENSSL_free(back);
    /* trailing garbage and truncation are refused */
    cr_assert_eq(keyops_ecdsa_der_to_raw(raw, 32, der.data, der.len - 1, NULL), CF_EINVAL);
    cr_assert_eq(keyops_ecdsa_raw_to_der(&back, &back_len, raw, 63, NULL), CF_EINVAL);
    cf_buf_free(&der);
}
