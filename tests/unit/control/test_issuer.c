/*
 * test_issuer.c -- cofferd's identity issuer: its tokens verify with the
 * project's own JWT verifier against the issuer's own JWKS and carry the
 * contract's claims; the signing key survives a restart (same kid), sits
 * in a 0600 file, and a tampered key file is refused rather than replaced.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../test_tmpdir.h"
#include "base/buf.h"
#include "base/fs.h"
#include "control/issuer.h"
#include "crypto/jwt.h"
#include "registry/keyring.h"

#define URL "http://127.0.0.1:5001"
#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define PRINCIPAL "0b6f6a4e-5f55-4d0e-9b1c-8b7e0f6b2a11"
#define CLIENT "5d1a8f3c-2e4b-4c6d-8e9f-0a1b2c3d4e5f"

static char dir[256];
static char keypath[320];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "issuer");
    char srk[300];
    snprintf(srk, sizeof(srk), "%s/srk", dir);
    snprintf(keypath, sizeof(keypath), "%s/issuer", dir);
    cr_assert_eq(keyring_init(srk, NULL), CF_OK);
}

static void teardown(void)
{
    keyring_shutdown();
    test_tmpdir_remove(dir);
}

TestSuite(control_issuer, .init = setup, .fini = teardown);

static issuer *open_issuer(void)
{
    issuer *is = NULL;
    cf_err e = {0};
    cr_assert_eq(issuer_open(&is, keypath, URL, TENANT, &e), CF_OK, "%s", e.msg);
    return is;
}

/* Verifies token like keyvaultd does, against the issuer's published JWKS. */
static cf_code verify(jwt_claims *c, jwt_fail *fail, const issuer *is, const char *tok,
                      const char *audience, const char *iss)
{
    json_t *doc = issuer_jwks(is);
    cr_assert_not_null(doc);
    jwt_jwks *jwks = NULL;
    cr_assert_eq(jwt_jwks_parse(&jwks, doc, NULL), CF_OK);
    json_decref(doc);
    jwt_issuer ji = {.issuer = iss, .audience = audience, .jwks = jwks};
    cf_err e = {0};
    cf_code rc = jwt_authenticate(c, fail, tok, strlen(tok), &ji, 1, (int64_t)time(NULL),
                                  JWT_DEFAULT_SKEW, &e);
    jwt_jwks_free(jwks);
    return rc;
}

Test(control_issuer, minted_token_verifies_with_its_jwks_and_carries_the_claims)
{
    issuer *is = open_issuer();
    char *tok = NULL;
    int64_t exp = 0;
    cf_err e = {0};
    cr_assert_eq(issuer_mint(&tok, &exp, is, PRINCIPAL, CLIENT, "https://vault.azure.net/.default",
                             3600, &e),
                 CF_OK, "%s", e.msg);
    jwt_claims c = {0};
    jwt_fail fail = JWT_FAIL_NONE;
    cr_assert_eq(verify(&c, &fail, is, tok, "https://vault.azure.net", URL), CF_OK, "fail %s",
                 jwt_fail_name(fail));
    cr_assert_str_eq(c.alg, "ES256");
    cr_assert_str_eq(c.kid, issuer_kid(is));
    cr_assert_str_eq(c.iss, URL);
    cr_assert_str_eq(c.sub, PRINCIPAL);
    cr_assert_str_eq(c.oid, PRINCIPAL);
    cr_assert_str_eq(c.appid, CLIENT);
    cr_assert_str_eq(c.tid, TENANT);
    cr_assert_eq(c.aud_count, 1);
    cr_assert_str_eq(c.aud[0], "https://vault.azure.net"); /* "/.default" removed */
    cr_assert(c.has_iat && c.has_nbf && c.has_exp);
    cr_assert_eq(c.nbf, c.iat);
    cr_assert_eq(c.exp, c.iat + 3600);
    cr_assert_eq(c.exp, exp);
    int64_t now = (int64_t)time(NULL);
    cr_assert(c.iat <= now && c.iat >= now - 5);
    jwt_claims_free(&c);

    /* another audience, another issuer URL: refused, as a vault would */
    cr_assert_eq(verify(&c, &fail, is, tok, "https://other.example", URL), CF_EAUTH);
    cr_assert_eq(fail, JWT_FAIL_AUDIENCE);
    jwt_claims_free(&c);
    cr_assert_eq(verify(&c, &fail, is, tok, "https://vault.azure.net", "http://elsewhere"),
                 CF_EAUTH);
    cr_assert_eq(fail, JWT_FAIL_UNTRUSTED_ISSUER);
    jwt_claims_free(&c);

    /* one flipped bit in the payload breaks the signature */
    char *dot = strchr(tok, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(&c, &fail, is, tok, "https://vault.azure.net", URL), CF_EAUTH);
    cr_assert(fail == JWT_FAIL_SIGNATURE || fail == JWT_FAIL_MALFORMED);
    jwt_claims_free(&c);
    free(tok);
    issuer_free(is);
}

Test(control_issuer, jwks_and_openid_configuration_have_the_contract_shape)
{
    issuer *is = open_issuer();
    json_t *jwks = issuer_jwks(is);
    json_t *keys = json_object_get(jwks, "keys");
    cr_assert_eq(json_array_size(keys), 1);
    json_t *k = json_array_get(keys, 0);
    cr_assert_str_eq(json_string_value(json_object_get(k, "kty")), "EC");
    cr_assert_str_eq(json_string_value(json_object_get(k, "crv")), "P-256");
    cr_assert_str_eq(json_string_value(json_object_get(k, "alg")), "ES256");
    cr_assert_str_eq(json_string_value(json_object_get(k, "use")), "sig");
    cr_assert_str_eq(json_string_value(json_object_get(k, "kid")), issuer_kid(is));
    cr_assert_eq(strlen(json_string_value(json_object_get(k, "x"))), 43);
    cr_assert_eq(strlen(json_string_value(json_object_get(k, "y"))), 43);
    cr_assert_null(json_object_get(k, "d"), "the private scalar is never published");
    cr_assert_eq(strlen(issuer_kid(is)), 16);
    cr_assert_eq(strspn(issuer_kid(is), "0123456789abcdef"), 16);
    json_decref(jwks);

    json_t *oc = issuer_openid_config(is);
    cr_assert_str_eq(json_string_value(json_object_get(oc, "issuer")), URL);
    cr_assert_str_eq(json_string_value(json_object_get(oc, "jwks_uri")), URL "/jwks");
    json_t *algs = json_object_get(oc, "id_token_signing_alg_values_supported");
    cr_assert_eq(json_array_size(algs), 1);
    cr_assert_str_eq(json_string_value(json_array_get(algs, 0)), "ES256");
    json_decref(oc);
    issuer_free(is);

    /* a trailing slash in the URL does not double in jwks_uri or iss */
    cr_assert_eq(issuer_open(&is, keypath, URL "/", TENANT, NULL), CF_OK);
    cr_assert_str_eq(issuer_url(is), URL);
    issuer_free(is);
}

Test(control_issuer, key_survives_a_restart_with_the_same_kid_in_a_0600_file)
{
    issuer *a = open_issuer();
    char kid[32];
    snprintf(kid, sizeof(kid), "%s", issuer_kid(a));
    char *tok = NULL;
    cr_assert_eq(issuer_mint(&tok, NULL, a, PRINCIPAL, CLIENT, "https://vault.azure.net", 60, NULL),
                 CF_OK);
    issuer_free(a);

    struct stat st;
    cr_assert_eq(stat(keypath, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(st.st_size, KEYS_WRAPPED_LEN);

    /* the SRK reloaded too, as after a real restart */
    keyring_shutdown();
    char srk[300];
    snprintf(srk, sizeof(srk), "%s/srk", dir);
    cr_assert_eq(keyring_init(srk, NULL), CF_OK);
    issuer *b = open_issuer();
    cr_assert_str_eq(issuer_kid(b), kid);
    /* a token minted before the restart still verifies with the new JWKS */
    jwt_claims c = {0};
    cr_assert_eq(verify(&c, NULL, b, tok, "https://vault.azure.net", URL), CF_OK);
    jwt_claims_free(&c);
    free(tok);
    issuer_free(b);
}

Test(control_issuer, two_keys_in_two_directories_differ)
{
    issuer *a = open_issuer();
    char other[320];
    snprintf(other, sizeof(other), "%s/issuer2", dir);
    issuer *b = NULL;
    cr_assert_eq(issuer_open(&b, other, URL, TENANT, NULL), CF_OK);
    cr_assert_str_neq(issuer_kid(a), issuer_kid(b));
    /* a token of one is not accepted with the other's JWKS */
    char *tok = NULL;
    cr_assert_eq(issuer_mint(&tok, NULL, a, PRINCIPAL, CLIENT, "https://vault.azure.net", 60, NULL),
                 CF_OK);
    jwt_claims c = {0};
    jwt_fail fail = JWT_FAIL_NONE;
    cr_assert_eq(verify(&c, &fail, b, tok, "https://vault.azure.net", URL), CF_EAUTH);
    cr_assert_eq(fail, JWT_FAIL_KID);
    jwt_claims_free(&c);
    free(tok);
    issuer_free(a);
    issuer_free(b);
}

Test(control_issuer, tampered_key_file_is_refused_not_replaced)
{
    issuer *a = open_issuer();
    issuer_free(a);
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_fs_read_all(keypath, 4096, &b, NULL), CF_OK);
    b.data[20] ^= 0x01;
    cr_assert_eq(cf_fs_write_atomic(keypath, b.data, b.len, 0600, NULL), CF_OK);
    issuer *x = NULL;
    cf_err e = {0};
    cr_assert_eq(issuer_open(&x, keypath, URL, TENANT, &e), CF_EINTEGRITY);
    cr_assert_null(x);
    cr_assert_not_null(strstr(e.msg, "does not authenticate"), "%s", e.msg);
    /* the file is left as it was, for the operator to look at */
    cf_buf after;
    cf_buf_init(&after, 0);
    cr_assert_eq(cf_fs_read_all(keypath, 4096, &after, NULL), CF_OK);
    cr_assert_eq(after.len, b.len);
    cr_assert_eq(memcmp(after.data, b.data, b.len), 0);
    cf_buf_free(&after);

    /* truncated: refused too */
    cr_assert_eq(cf_fs_write_atomic(keypath, b.data, b.len - 1, 0600, NULL), CF_OK);
    cf_err_clear(&e);
    cr_assert_eq(issuer_open(&x, keypath, URL, TENANT, &e), CF_EINTEGRITY);
    cf_buf_free(&b);
}

Test(control_issuer, key_under_another_srk_is_refused)
{
    issuer *a = open_issuer();
    issuer_free(a);
    keyring_shutdown();
    char srk2[300];
    snprintf(srk2, sizeof(srk2), "%s/srk2", dir);
    cr_assert_eq(keyring_init(srk2, NULL), CF_OK);
    issuer *x = NULL;
    cr_assert_eq(issuer_open(&x, keypath, URL, TENANT, NULL), CF_EINTEGRITY);
}

Test(control_issuer, world_readable_key_file_is_refused)
{
    issuer *a = open_issuer();
    issuer_free(a);
    cr_assert_eq(chmod(keypath, 0644), 0);
    issuer *x = NULL;
    cr_assert_eq(issuer_open(&x, keypath, URL, TENANT, NULL), CF_EDENIED);
}

Test(control_issuer, mint_refuses_missing_identity_or_resource)
{
    issuer *is = open_issuer();
    char *tok = NULL;
    cr_assert_eq(issuer_mint(&tok, NULL, is, "", CLIENT, "https://vault.azure.net", 60, NULL),
                 CF_EINVAL);
    cr_assert_eq(issuer_mint(&tok, NULL, is, PRINCIPAL, NULL, "https://vault.azure.net", 60, NULL),
                 CF_EINVAL);
    cr_assert_eq(issuer_mint(&tok, NULL, is, PRINCIPAL, CLIENT, "/.default", 60, NULL), CF_EINVAL);
    cr_assert_eq(issuer_mint(&tok, NULL, is, PRINCIPAL, CLIENT, "", 60, NULL), CF_EINVAL);
    cr_assert_null(tok);
    issuer_free(is);
}

Test(control_issuer, token_fn_uses_the_default_issuer_and_the_vault_audience)
{
    char *tok = NULL;
    cr_assert_eq(issuer_token(PRINCIPAL, CLIENT, NULL, &tok, NULL), CF_EUNAVAIL);
    issuer *is = open_issuer();
    issuer_set_default(is);
    cr_assert_eq(issuer_token(PRINCIPAL, CLIENT, NULL, &tok, NULL), CF_OK);
    jwt_claims c = {0};
    cr_assert_eq(verify(&c, NULL, is, tok, ISSUER_VAULT_RESOURCE, URL), CF_OK);
    cr_assert_eq(c.exp - c.iat, ISSUER_TOKEN_TTL);
    jwt_claims_free(&c);
    free(tok);
    issuer_set_default(NULL);
    issuer_free(is);
}
