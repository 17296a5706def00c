/*
 * fuzz_jwk.c -- libFuzzer target: JSON text -> jwk_to_pkey (the import
 * path of the Key Vault API, attacker-supplied) and, when a key comes
 * out, back to a JWK, which, when it imports again, is an equal key.
 *
 * "When": OpenSSL's RSA public-key check (SP 800-56B, run by
 * EVP_PKEY_public_check) tests n with Miller-Rabin on random bases, so a
 * fuzzed modulus that is not a product of two primes can pass one import
 * and fail the next (seen: 4 refusals in 300 imports of the same JWK;
 * real moduli pass every time, tests/unit/crypto/test_jwk.c). A refusal
 * is a clean answer; a different key would be a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL)
        return 0;
    EVP_PKEY *k = NULL, *k2 = NULL;
    json_t *out = NULL;
    cf_err e = {0};
    if (jwk_to_pkey(&k, j, JWK_PRIVATE_OPTIONAL, &e) == CF_OK) {
        if (jwk_from_pkey(&out, k, 1, NULL) != CF_OK)
            __builtin_trap();
        if (jwk_to_pkey(&k2, out, JWK_PRIVATE_OPTIONAL, NULL) == CF_OK && EVP_PKEY_eq(k, k2) != 1)
            __builtin_trap();
    }
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    json_decref(out);
    json_decref(j);
    return 0;
}
