/*
 * fuzz_vault_response.c -- libFuzzer target for what cofferd reads from a
 * key vault (src/cmk/vaultc.c): the same bytes go through the key bundle
 * parser, the key operation result parser (with and without a kid), the
 * error body parser behind every status class, and the key identifier
 * parser (the kid a vault returns is parsed before it is used). Each must
 * accept or refuse cleanly, never crash, leak or read out of bounds.
 * Seeds: tests/fuzz/corpus/vault_response/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmk/vaultc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cf_err e = {0};

    vaultc_key k;
    if (vaultc_parse_key(&k, text, size, &e) == CF_OK) {
        vaultc_keyid id;
        char again[VAULTC_KID_MAX];
        cf_err_clear(&e);
        if (vaultc_keyid_parse(&id, k.kid, &e) == CF_OK) {
            /* what parses formats back to a string that parses the same */
            if (vaultc_keyid_format(again, sizeof(again), &id, 1, NULL) == CF_OK) {
                vaultc_keyid id2;
                if (vaultc_keyid_parse(&id2, again, NULL) != CF_OK ||
                    strcmp(id.authority, id2.authority) != 0 || strcmp(id.name, id2.name) != 0 ||
                    strcmp(id.version, id2.version) != 0)
                    abort();
            }
        }
    }

    unsigned char out[600];
    size_t n = 0;
    char kid[VAULTC_KID_MAX];
    cf_err_clear(&e);
    if (vaultc_parse_op(out, sizeof(out), &n, kid, text, size, &e) == CF_OK && n > sizeof(out))
        abort();
    cf_err_clear(&e);
    if (vaultc_parse_op(out, 32, &n, NULL, text, size, &e) == CF_OK && n > 32)
        abort();

    static const long statuses[] = {200, 301, 400, 401, 403, 404, 409, 429, 500, 503, 0};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        vaultc_result r;
        vaultc_classify(&r, statuses[i], text, size);
        if (strlen(r.message) >= sizeof(r.message) || strchr(r.message, '\n'))
            abort();
    }

    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        vaultc_keyid id;
        (void)vaultc_keyid_parse(&id, s, NULL);
        free(s);
    }
    return 0;
}
