/*
 * test_vaultc.c -- the key vault client's pure parts: the strict key
 * identifier parser (what a registry's keyIdentifier may be), the
 * classification of the vault's answers into ok / denied / transient /
 * invalid (what decides between locking a registry and serving on), and
 * the parsers of key bundles and key operation results.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cmk/vaultc.h"

#define V32 "0123456789abcdef0123456789ABCDEF"

static void accepts(const char *s, const char *authority, const char *name, const char *version)
{
    vaultc_keyid id;
    cf_err e = {0};
    cr_assert_eq(vaultc_keyid_parse(&id, s, &e), CF_OK, "%s: %s", s, e.msg);
    cr_assert_str_eq(id.authority, authority);
    cr_assert_str_eq(id.name, name);
    cr_assert_str_eq(id.version, version);
}

static void rejects(const char *s, const char *why)
{
    vaultc_keyid id;
    cf_err e = {0};
    cr_assert_eq(vaultc_keyid_parse(&id, s, &e), CF_EINVAL, "accepted %s", s);
    cr_assert(strstr(e.msg, why) != NULL, "%s: message '%s' lacks '%s'", s, e.msg, why);
}

Test(cmk_vaultc, keyid_accepts_versioned_and_not)
{
    accepts("https://myvault.vault.azure.net/keys/mykey", "myvault.vault.azure.net", "mykey", "");
    accepts("https://myvault.vault.azure.net/keys/my-key/" V32, "myvault.vault.azure.net", "my-key",
            V32);
    accepts("https://127.0.0.1:8443/keys/k", "127.0.0.1:8443", "k", "");
    accepts("https://Default.Vault.Localhost:8443/keys/K1", "default.vault.localhost:8443", "K1",
            "");
    accepts("HTTPS://[::1]:8443/keys/k/" V32, "[::1]:8443", "k", V32);
}

Test(cmk_vaultc, keyid_rejects_everything_else)
{
    rejects("http://v.vault.azure.net/keys/k", "https");
    rejects("https://v.vault.azure.net/keys/k?api-version=7.4", "query");
    rejects("https://v.vault.azure.net/keys/k#frag", "fragment");
    rejects("https://user:pw@v.vault.azure.net/keys/k", "user information");
    rejects("https://v.vault.azure.net/secrets/k", "/keys/");
    rejects("https://v.vault.azure.net/keys/", "1-127");
    rejects("https://v.vault.azure.net/keys/k/", "32 hexadecimal");
    rejects("https://v.vault.azure.net/keys/k/123", "32 hexadecimal");
    rejects("https://v.vault.azure.net/keys/k/" V32 "/wrapkey", "32 hexadecimal");
    rejects("https://v.vault.azure.net/keys/k/0123456789abcdef0123456789abcdeg", "hexadecimal");
    rejects("https://v.vault.azure.net/keys/k_1", "letters, digits and dashes");
    rejects("https://v.vault.azure.net:0/keys/k", "port");
    rejects("https://v.vault.azure.net:65536/keys/k", "port");
    rejects("https://v.vault.azure.net:/keys/k", "port");
    rejects("https:///keys/k", "host");
    rejects("https://-v.example/keys/k", "host");
    rejects("https://v.example /keys/k", "space");
    rejects("", "empty");
    rejects("https://v.vault.azure.net/keys/k\n", "control");
}

Test(cmk_vaultc, keyid_formats_back)
{
    vaultc_keyid id;
    char out[VAULTC_KID_MAX];
    cr_assert_eq(vaultc_keyid_parse(&id, "https://V.example:1/keys/k/" V32, NULL), CF_OK);
    cr_assert_eq(vaultc_keyid_format(out, sizeof(out), &id, 1, NULL), CF_OK);
    cr_assert_str_eq(out, "https://v.example:1/keys/k/" V32);
    cr_assert_eq(vaultc_keyid_format(out, sizeof(out), &id, 0, NULL), CF_OK);
    cr_assert_str_eq(out, "https://v.example:1/keys/k");
    cr_assert_eq(vaultc_keyid_format(out, 10, &id, 0, NULL), CF_ETOOBIG);
}

static vaultc_result classify(long status, const char *body)
{
    vaultc_result r;
    vaultc_classify(&r, status, body, body ? strlen(body) : 0);
    return r;
}

Test(cmk_vaultc, classifies_refusals_as_denied)
{
    vaultc_result r = classify(
        403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation unwrapKey is not allowed "
             "on a disabled key.\",\"innererror\":{\"code\":\"KeyDisabled\"}}}");
    cr_assert_eq(r.cls, VAULTC_DENIED);
    cr_assert_eq(r.status, 403);
    cr_assert_str_eq(r.code, "Forbidden");
    cr_assert_str_eq(r.inner, "KeyDisabled");
    cr_assert_str_eq(r.message, "Operation unwrapKey is not allowed on a disabled key.");

    r = classify(404, "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"gone\"}}");
    cr_assert_eq(r.cls, VAULTC_DENIED);
    cr_assert_str_eq(r.code, "KeyNotFound");
    r = classify(401, "");
    cr_assert_eq(r.cls, VAULTC_DENIED);
    cr_assert_str_eq(r.code, "Unauthorized");
    cr_assert_str_eq(r.message, "HTTP 401 without an error body");
}

Test(cmk_vaultc, classifies_outages_as_transient)
{
    cr_assert_eq(classify(429, "{}").cls, VAULTC_TRANSIENT);
    cr_assert_eq(classify(500, "oops").cls, VAULTC_TRANSIENT);
    vaultc_result r = classify(503, "<html>busy</html>");
    cr_assert_eq(r.cls, VAULTC_TRANSIENT);
    cr_assert_str_eq(r.code, "ServiceUnavailable");
}

Test(cmk_vaultc, classifies_other_answers_as_invalid)
{
    cr_assert_eq(classify(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"x\"}}").cls,
                 VAULTC_INVALID);
    cr_assert_eq(classify(302, "").cls, VAULTC_INVALID);
    cr_assert_eq(classify(409, "").cls, VAULTC_INVALID);
    cr_assert_eq(classify(200, "").cls, VAULTC_OK);
}

Test(cmk_vaultc, error_text_stays_one_line)
{
    vaultc_result r =
        classify(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"line one\\nline two\"}}");
    cr_assert_str_eq(r.message, "line one line two");
}

Test(cmk_vaultc, parses_key_bundle)
{
    const char *b =
        "{\"key\":{\"kid\":\"https://v.example/keys/k/" V32 "\",\"kty\":\"RSA-HSM\",\"key_ops\":"
        "[\"wrapKey\",\"unwrapKey\",\"sign\"],\"n\":\"AQAB\",\"e\":\"AQAB\"},\"attributes\":"
        "{\"enabled\":true,\"recoveryLevel\":\"Recoverable\"}}";
    vaultc_key k;
    cr_assert_eq(vaultc_parse_key(&k, b, strlen(b), NULL), CF_OK);
    cr_assert_str_eq(k.kid, "https://v.example/keys/k/" V32);
    cr_assert_str_eq(k.kty, "RSA-HSM");
    cr_assert_eq(k.enabled, 1);
    cr_assert_eq(k.op_wrap, 1);
    cr_assert_eq(k.op_unwrap, 1);
    cr_assert_str_eq(k.recovery_level, "Recoverable");

    const char *d = "{\"key\":{\"kid\":\"x\",\"kty\":\"EC\",\"key_ops\":[\"sign\"]},"
                    "\"attributes\":{\"enabled\":false}}";
    cr_assert_eq(vaultc_parse_key(&k, d, strlen(d), NULL), CF_OK);
    cr_assert_eq(k.enabled, 0);
    cr_assert_eq(k.op_wrap, 0);
    cr_assert_str_eq(k.recovery_level, "");
}

Test(cmk_vaultc, refuses_malformed_key_bundles)
{
    const char *bad[] = {
        "",
        "[]",
        "{\"key\":{}}",
        "{\"key\":{\"kid\":\"x\",\"kty\":\"RSA\"},\"attributes\":{\"enabled\":\"yes\"}}",
        "{\"key\":{\"kid\":1,\"kty\":\"RSA\"},\"attributes\":{\"enabled\":true}}",
        "{\"key\":{\"kid\":\"x\",\"kty\":\"RSA\",\"key_ops\":\"wrapKey\"},"
        "\"attributes\":{\"enabled\":true}}",
        "{\"key\":{\"kid\":\"x\",\"kid\":\"y\",\"kty\":\"RSA\"},\"attributes\":{\"enabled\":true}}",
        "{\"key\":{\"kid\":\"x\\u0000y\",\"kty\":\"RSA\"},\"attributes\":{\"enabled\":true}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vaultc_key k;
        cf_err e = {0};
        cr_assert_eq(vaultc_parse_key(&k, bad[i], strlen(bad[i]), &e), CF_EINVAL, "#%zu", i);
    }
}

Test(cmk_vaultc, parses_operation_results)
{
    unsigned char out[64];
    size_t n = 0;
    char kid[VAULTC_KID_MAX];
    /* 32 bytes 0x00..0x1f */
    const char *ok = "{\"kid\":\"https://v.example/keys/k/" V32 "\",\"value\":"
                     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}";
    cr_assert_eq(vaultc_parse_op(out, sizeof(out), &n, kid, ok, strlen(ok), NULL), CF_OK);
    cr_assert_eq(n, 32);
    cr_assert_eq(out[0], 0);
    cr_assert_eq(out[31], 31);
    cr_assert_str_eq(kid, "https://v.example/keys/k/" V32);
    cr_assert_eq(vaultc_parse_op(out, 16, &n, NULL, ok, strlen(ok), NULL), CF_ETOOBIG);

    const char *nokid = "{\"value\":\"AAEC\"}";
    cr_assert_eq(vaultc_parse_op(out, sizeof(out), &n, NULL, nokid, strlen(nokid), NULL), CF_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(vaultc_parse_op(out, sizeof(out), &n, kid, nokid, strlen(nokid), NULL), CF_EINVAL);
    const char *pad = "{\"value\":\"AAE=\"}";
    cr_assert_eq(vaultc_parse_op(out, sizeof(out), &n, NULL, pad, strlen(pad), NULL), CF_EINVAL);
    const char *num = "{\"value\":5}";
    cr_assert_eq(vaultc_parse_op(out, sizeof(out), &n, NULL, num, strlen(num), NULL), CF_EINVAL);
}

Test(cmk_vaultc, transport_failure_is_transient)
{
    /* nothing listens on port 1 of loopback */
    vaultc_opts o = {NULL, 5, NULL};
    vaultc_result r;
    vaultc_key k;
    cf_err e = {0};
    cr_assert_eq(vaultc_get_key(&k, &r, &o, "tok", "https://127.0.0.1:1/keys/k", &e), CF_EUNAVAIL);
    cr_assert_eq(r.cls, VAULTC_TRANSIENT);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.message, "onnect") != NULL, "%s", r.message);
}

Test(cmk_vaultc, refuses_to_call_with_a_bad_identifier_or_token)
{
    vaultc_opts o = {NULL, 5, NULL};
    vaultc_result r;
    vaultc_key k;
    cr_assert_eq(vaultc_get_key(&k, &r, &o, "tok", "http://127.0.0.1:1/keys/k", NULL), CF_EINVAL);
    cr_assert_eq(r.cls, VAULTC_INVALID);
    cr_assert_eq(vaultc_get_key(&k, &r, &o, "a\r\nX-Evil: 1", "https://127.0.0.1:1/keys/k", NULL),
                 CF_EINVAL);
    cr_assert_eq(r.cls, VAULTC_INVALID);
}
