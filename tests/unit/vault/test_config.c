/*
 * test_config.c -- keyvaultd's config file (src/vault/config.c): defaults,
 * every documented key, unknown keys and bad values refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vault/config.h"

static cf_code parse(vault_config *c, const char *text, cf_err *e)
{
    cr_assert_eq(vault_config_init(c, NULL), CF_OK);
    return vault_config_parse(c, text, strlen(text), e);
}

Test(vault_config, defaults_match_the_contract)
{
    vault_config c;
    cr_assert_eq(vault_config_init(&c, NULL), CF_OK);
    cr_assert_str_eq(c.listen, "127.0.0.1:8443");
    cr_assert_str_eq(c.vault_domain, "vault.localhost");
    cr_assert_str_eq(c.default_vault, "default");
    cr_assert_str_eq(c.resource, "https://vault.azure.net");
    cr_assert_eq(c.scheduler_interval_s, 60);
    cr_assert_eq(c.master_key_pkcs11, 0);
    cr_assert_eq(c.max_body, 256 * 1024);
    cr_assert_null(c.tls_cert);
    vault_config_free(&c);
}

Test(vault_config, reads_every_documented_key)
{
    vault_config c;
    cf_err e = {0};
    cr_assert_eq(
        parse(&c,
              "{\"listen\":\"0.0.0.0:9443\",\"vault_domain\":\"kv.example\","
              "\"default_vault\":\"main-vault\","
              "\"tls\":{\"cert\":\"/c.pem\",\"key\":\"/k.pem\"},"
              "\"resource\":\"https://vault.coffer.test\","
              "\"authorization\":\"https://login.coffer.test/t1\","
              "\"issuers\":[{\"issuer\":\"https://issuer.test/\",\"jwks_file\":\"/j.json\"},"
              "{\"issuer\":\"https://i2/\",\"jwks_url\":\"http://127.0.0.1:1/jwks\","
              "\"audience\":\"api://x\",\"ca_file\":\"/ca.pem\",\"trusted_service\":true}],"
              "\"pkcs11\":{\"module\":\"/usr/lib/softhsm/libsofthsm2.so\",\"token_label\":"
              "\"coffer\",\"pin\":\"1234\"},\"master_key\":\"pkcs11\","
              "\"scheduler_interval_s\":5,\"rotation_min_s\":1}",
              &e),
        CF_OK, "%s", e.msg);
    cr_assert_str_eq(c.listen, "0.0.0.0:9443");
    cr_assert_str_eq(c.vault_domain, "kv.example");
    cr_assert_str_eq(c.tls_key, "/k.pem");
    cr_assert_eq(c.n_issuers, 2);
    cr_assert_str_eq(c.issuers[0].audience, "https://vault.coffer.test", "defaults to resource");
    cr_assert_str_eq(c.issuers[1].audience, "api://x");
    cr_assert_str_eq(c.issuers[1].ca_file, "/ca.pem");
    cr_assert_not(c.issuers[0].trusted_service, "an issuer is no trusted service by default");
    cr_assert(c.issuers[1].trusted_service);
    cr_assert(c.has_pkcs11);
    cr_assert(c.master_key_pkcs11);
    cr_assert_eq(c.scheduler_interval_s, 5);
    char pin[32];
    cr_assert_eq(vault_config_pin(&c, pin, sizeof(pin), NULL), CF_OK);
    cr_assert_str_eq(pin, "1234");
    vault_config_free(&c);
}

Test(vault_config, refuses_unknown_keys_and_bad_values)
{
    const char *bad[] = {
        "{\"vault_domian\":\"x\"}",
        "{\"tls\":{\"cert\":\"/c.pem\"}}",
        "{\"tls\":{\"cert\":\"/c\",\"key\":\"/k\",\"ca\":\"/x\"}}",
        "{\"default_vault\":\"ab\"}",
        "{\"vault_domain\":\"bad domain\"}",
        "{\"resource\":\"http://vault.azure.net\"}",
        "{\"issuers\":[{\"issuer\":\"x\"}]}",
        "{\"issuers\":[{\"issuer\":\"x\",\"jwks_file\":\"/a\",\"jwks_url\":\"https://b\"}]}",
        "{\"issuers\":[{\"jwks_file\":\"/a\"}]}",
        "{\"issuers\":[{\"issuer\":\"x\",\"jwks_file\":\"/a\",\"trusted_service\":\"yes\"}]}",
        "{\"pkcs11\":{\"module\":\"/m.so\",\"token_label\":\"t\"}}",
        "{\"pkcs11\":{\"module\":\"/m.so\",\"token_label\":\"t\",\"pin\":\"1\",\"slot\":0}}",
        "{\"master_key\":\"pkcs11\"}",
        "{\"master_key\":\"tpm\"}",
        "{\"scheduler_interval_s\":0}",
        "{\"scheduler_interval_s\":\"60\"}",
        "{\"threads\":1000}",
        "{\"listen\":8443}",
        "{\"listen\":\"8443\"}",
        "[1]",
        "{\"vault_domain\":\"a\",\"vault_domain\":\"b\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vault_config c;
        cf_err e = {0};
        cr_assert_eq(parse(&c, bad[i], &e), CF_EINVAL, "accepted %s", bad[i]);
        cr_assert(strstr(e.msg, "config") != NULL, "%s", e.msg);
        vault_config_free(&c);
    }
}

Test(vault_config, unknown_key_error_names_the_key)
{
    vault_config c;
    cf_err e = {0};
    cr_assert_eq(parse(&c, "{\"schedule_interval\":3}", &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "schedule_interval") != NULL, "%s", e.msg);
    vault_config_free(&c);
}

/* Whoever answers a plain-HTTP JWKS fetch can mint tokens: http:// only on
 * loopback (docs/tls.md). */
Test(vault_config, refuses_a_plain_http_jwks_url_off_loopback)
{
    static const struct {
        const char *url;
        int ok;
    } cases[] = {
        {"http://192.0.2.10:5001/jwks", 0},
        {"http://cofferd.example/jwks", 0},
        {"http://127.0.0.1@evil.example/jwks", 0},
        {"http://[::]/jwks", 0},
        {"http://127.0.0.1:5001/jwks", 1},
        {"http://localhost:5001/jwks", 1},
        {"http://[::1]:5001/jwks", 1},
        {"https://cofferd.example/jwks", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"issuers\":[{\"issuer\":\"https://i/\",\"jwks_url\":\"%s\"}]}", cases[i].url);
        vault_config c;
        cf_err e = {0};
        cf_code rc = parse(&c, text, &e);
        if (cases[i].ok) {
            cr_assert_eq(rc, CF_OK, "%s: %s", cases[i].url, e.msg);
        } else {
            cr_assert_eq(rc, CF_EINVAL, "accepted %s", cases[i].url);
            cr_assert(strstr(e.msg, "is plain http:// to a host that is not loopback") != NULL,
                      "%s", e.msg);
        }
        vault_config_free(&c);
    }
}
