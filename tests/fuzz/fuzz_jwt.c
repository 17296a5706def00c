/*
 * fuzz_jwt.c -- libFuzzer target: a bearer token through jwt_authenticate
 * against a fixed JWKS (the unit tests' RSA and P-256 keys, kids rsa1 and
 * ec1) and a fixed clock, as keyvaultd would see it on the wire. Seeds in
 * corpus/jwt are valid RS256/ES256 tokens for these keys plus malformed
 * shapes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../unit/vcrypto_vectors.h"
#include "crypto/jwt.h"

static jwt_jwks *JWKS;

static void init(void)
{
    json_t *keys = json_array();
    json_t *k = json_loads(VEC_RSA_JWK_PUB, 0, NULL);
    json_object_set_new(k, "kid", json_string("rsa1"));
    json_array_append_new(keys, k);
    k = json_loads(VEC_EC256_JWK_PUB, 0, NULL);
    json_object_set_new(k, "kid", json_string("ec1"));
    json_array_append_new(keys, k);
    json_t *doc = json_object();
    json_object_set_new(doc, "keys", keys);
    if (jwt_jwks_parse(&JWKS, doc, NULL) != CF_OK)
        __builtin_trap();
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (JWKS == NULL)
        init();
    jwt_issuer issuers[] = {{"https://issuer.test/", "https://vault.azure.net", JWKS}};
    jwt_claims c;
    jwt_fail f;
    cf_err e = {0};
    if (jwt_authenticate(&c, &f, (const char *)data, size, issuers, 1, 1900000000, 60, &e) ==
        CF_OK) {
        /* an accepted token has an issuer and an audience we configured */
        if (c.iss == NULL || strcmp(c.iss, "https://issuer.test/") != 0)
            __builtin_trap();
        jwt_claims_free(&c);
    }
    jwt_claims d;
    cf_err e2 = {0};
    (void)jwt_token_decode(&d, (const char *)data, size, &e2);
    jwt_claims_free(&d);
    return 0;
}
