/*
 * test_req.c -- keys API request bodies (src/vault/req.c): what a client
 * may send, and every malformed body refused with a clear error.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "vault/req.h"

#define S(x) x, strlen(x)

Test(vault_req, create_defaults_to_rsa_2048)
{
    vault_create_req r;
    cr_assert_eq(vault_req_create(&r, S("{\"kty\":\"RSA\"}"), NULL), CF_OK);
    cr_assert_str_eq(r.kty, "RSA");
    cr_assert_eq(r.key_size, 2048);
    cr_assert_eq(r.public_exponent, 65537);
    cr_assert_null(r.key_ops);
    cr_assert_eq(r.attrs.has_enabled, 0);
    vault_create_req_free(&r);
}

Test(vault_req, create_reads_what_the_sdk_sends)
{
    vault_create_req r;
    cf_err e = {0};
    cr_assert_eq(vault_req_create(&r,
                                  S("{\"kty\":\"RSA-HSM\",\"key_size\":3072,\"key_ops\":"
                                    "[\"wrapkey\",\"unwrapKey\"],\"attributes\":{\"enabled\":"
                                    "false,\"exp\":2000000000,\"nbf\":null},\"tags\":{\"a\":"
                                    "\"b\"},\"release_policy\":null}"),
                                  &e),
                 CF_OK, "%s", e.msg);
    cr_assert_eq(r.key_size, 3072);
    cr_assert_eq(json_array_size(r.key_ops), 2);
    cr_assert_str_eq(json_string_value(json_array_get(r.key_ops, 0)), "wrapKey");
    cr_assert(r.attrs.has_enabled && !r.attrs.enabled);
    cr_assert(r.attrs.has_exp && r.attrs.exp == 2000000000);
    cr_assert_str_eq(json_string_value(json_object_get(r.tags, "a")), "b");
    vault_create_req_free(&r);
    cr_assert_eq(vault_req_create(&r, S("{\"kty\":\"EC\",\"crv\":\"P-384\"}"), NULL), CF_OK);
    cr_assert_str_eq(r.crv, "P-384");
    vault_create_req_free(&r);
}

Test(vault_req, create_refuses_bad_bodies)
{
    const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"kty\":\"oct\"}",
        "{\"kty\":\"rsa\"}",
        "{\"kty\":\"RSA\",\"key_size\":1024}",
        "{\"kty\":\"RSA\",\"key_size\":\"2048\"}",
        "{\"kty\":\"RSA\",\"crv\":\"P-256\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256K\"}",
        "{\"kty\":\"EC\",\"key_size\":2048}",
        "{\"kty\":\"RSA\",\"key_ops\":[\"launch\"]}",
        "{\"kty\":\"RSA\",\"key_ops\":\"sign\"}",
        "{\"kty\":\"RSA\",\"attributes\":{\"enabled\":1}}",
        "{\"kty\":\"RSA\",\"attributes\":{\"exp\":-5}}",
        "{\"kty\":\"RSA\",\"attributes\":{\"nbf\":20,\"exp\":10}}",
        "{\"kty\":\"RSA\",\"attributes\":{\"exportable\":true}}",
        "{\"kty\":\"RSA\",\"tags\":{\"a\":1}}",
        "{\"kty\":\"RSA\",\"tags\":[]}",
        "{\"kty\":\"RSA\",\"kty\":\"EC\"}",
        "{\"kty\":\"RSA\",\"release_policy\":{\"data\":\"x\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vault_create_req r;
        cf_err e = {0};
        cr_assert_eq(vault_req_create(&r, bad[i], strlen(bad[i]), &e), CF_EINVAL, "accepted %s",
                     bad[i]);
        cr_assert(e.msg[0] != '\0');
        vault_create_req_free(&r);
    }
}

Test(vault_req, too_many_tags_refused)
{
    char body[2048];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"kty\":\"RSA\",\"tags\":{");
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"t%d\":\"v\"", i ? "," : "", i);
    snprintf(body + n, sizeof(body) - n, "}}");
    vault_create_req r;
    cr_assert_eq(vault_req_create(&r, body, strlen(body), NULL), CF_EINVAL);
    vault_create_req_free(&r);
}

Test(vault_req, import_takes_key_ops_from_the_jwk)
{
    vault_import_req r;
    cr_assert_eq(vault_req_import(&r,
                                  S("{\"key\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\","
                                    "\"key_ops\":[\"unwrapKey\"],\"kid\":\"x\"},\"Hsm\":false}"),
                                  NULL),
                 CF_OK);
    cr_assert_eq(json_array_size(r.key_ops), 1);
    cr_assert_null(json_object_get(r.jwk, "key_ops"));
    cr_assert_null(json_object_get(r.jwk, "kid"));
    cr_assert_eq(r.hsm, 0);
    vault_import_req_free(&r);
    cr_assert_eq(vault_req_import(&r, S("{\"Hsm\":true}"), NULL), CF_EINVAL);
    vault_import_req_free(&r);
    cr_assert_eq(vault_req_import(&r, S("{\"key\":{},\"Hsm\":\"yes\"}"), NULL), CF_EINVAL);
    vault_import_req_free(&r);
}

Test(vault_req, update_distinguishes_absent_and_null_tags)
{
    vault_update_req r;
    cr_assert_eq(vault_req_update(&r, S("{\"attributes\":{\"enabled\":false}}"), NULL), CF_OK);
    cr_assert_eq(r.has_tags, 0);
    cr_assert(r.attrs.has_enabled && !r.attrs.enabled);
    vault_update_req_free(&r);
    cr_assert_eq(vault_req_update(&r, S("{\"tags\":null}"), NULL), CF_OK);
    cr_assert_eq(r.has_tags, 1);
    cr_assert_null(r.tags);
    vault_update_req_free(&r);
}

Test(vault_req, op_decodes_base64url_values)
{
    vault_op_req r;
    cr_assert_eq(vault_req_op(&r, S("{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAEC_w\"}"), 0, NULL),
                 CF_OK);
    cr_assert_str_eq(r.alg, "RSA-OAEP-256");
    cr_assert_eq(r.value.len, 4);
    cr_assert_eq(r.value.data[3], 0xff);
    vault_op_req_free(&r);
    cr_assert_eq(
        vault_req_op(&r, S("{\"alg\":\"RS256\",\"value\":\"AA\",\"digest\":\"AQ\"}"), 1, NULL),
        CF_OK);
    cr_assert_eq(r.digest.len, 1);
    vault_op_req_free(&r);
}

Test(vault_req, op_refuses_bad_bodies)
{
    const char *bad[] = {"{\"value\":\"AA\"}",
                         "{\"alg\":\"RSA-OAEP\"}",
                         "{\"alg\":\"RSA-OAEP\",\"value\":\"A===\"}",
                         "{\"alg\":\"RSA-OAEP\",\"value\":\"AA==\"}",
                         "{\"alg\":\"RSA-OAEP\",\"value\":7}",
                         "{\"alg\":\"A256GCM\",\"value\":\"AA\",\"iv\":\"AA\"}",
                         "{\"alg\":\"RSA-OAEP-256-AND-MORE\",\"value\":\"AA\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vault_op_req r;
        cr_assert_eq(vault_req_op(&r, bad[i], strlen(bad[i]), 0, NULL), CF_EINVAL, "accepted %s",
                     bad[i]);
        vault_op_req_free(&r);
    }
}

Test(vault_req, validates_names_and_versions)
{
    cr_assert(vault_name_valid_key("cmk-1"));
    cr_assert_not(vault_name_valid_key(""));
    cr_assert_not(vault_name_valid_key("a_b"));
    cr_assert_not(vault_name_valid_key("a/b"));
    char longname[200];
    memset(longname, 'a', 128);
    longname[128] = '\0';
    cr_assert_not(vault_name_valid_key(longname));
    cr_assert(vault_name_valid_vault("abc"));
    cr_assert_not(vault_name_valid_vault("ab"));
    cr_assert(vault_version_valid("78deebed173b48e48f55abf87ed4cf71"));
    cr_assert_not(vault_version_valid("78deebed173b48e48f55abf87ed4cf7"));
    cr_assert_not(vault_version_valid("78deebed173b48e48f55abf87ed4cf7g"));
}

Test(vault_req, skiptoken_round_trips_and_refuses_other_kinds_and_junk)
{
    char tok[VAULT_SKIPTOKEN_MAX + 1], last[160];
    cr_assert_eq(vault_skiptoken_encode(tok, sizeof(tok), "keys", "my-Key-7", NULL), CF_OK);
    cr_assert(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                  strlen(tok),
              "not base64url: %s", tok);
    cr_assert_eq(vault_skiptoken_decode(last, sizeof(last), "keys", tok, NULL), CF_OK);
    cr_assert_str_eq(last, "my-Key-7");
    /* a token of the keys list does not page the deleted keys or versions */
    cf_err e = {0};
    cr_assert_eq(vault_skiptoken_decode(last, sizeof(last), "deletedkeys", tok, &e), CF_EINVAL);
    cr_assert_str_eq(e.msg, "invalid $skiptoken");
    cr_assert_eq(vault_skiptoken_decode(last, sizeof(last), "versions", tok, NULL), CF_EINVAL);
    cr_assert_eq(vault_skiptoken_encode(tok, sizeof(tok), "versions",
                                        "0123456789abcdef0123456789ABCDEF", NULL),
                 CF_OK);
    cr_assert_eq(vault_skiptoken_decode(last, sizeof(last), "versions", tok, NULL), CF_OK);
    cr_assert_str_eq(last, "0123456789abcdef0123456789ABCDEF");
    /* old offsets, junk, names the vault would refuse */
    const char *bad[] = {"25",
                         "",
                         "!!",
                         "a2V5czo",           /* "keys:" */
                         "a2V5czphIGI",       /* "keys:a b" */
                         "dmVyc2lvbnM6eHl6"}; /* "versions:xyz" */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *kind = i == 5 ? "versions" : "keys";
        cr_assert_eq(vault_skiptoken_decode(last, sizeof(last), kind, bad[i], NULL), CF_EINVAL,
                     "%s", bad[i]);
        cr_assert_str_eq(last, "");
    }
}
