/*
 * config.c -- see config.h. The parser walks the JSON object once; each
 * known key has a small setter that validates its value. A key that is not
 * in the table is an error naming the key.
 */
#define CF_LOG_MOD "vault.config"
#include "vault/config.h"

#include "base/armid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "http/tls.h"

#define CONFIG_MAX_BYTES (256 * 1024)

static cf_code set_str(char **dst, const char *v, cf_err *e)
{
    char *s = strdup(v);
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    free(*dst);
    *dst = s;
    return CF_OK;
}

cf_code vault_config_init(vault_config *c, cf_err *e)
{
    memset(c, 0, sizeof(*c));
    c->scheduler_interval_s = 60;
    c->rotation_min_s = 7 * 86400;
    c->threads = 8;
    c->max_body = 256 * 1024;
    if (set_str(&c->listen, "127.0.0.1:8443", e) != CF_OK ||
        set_str(&c->vault_domain, "vault.localhost", e) != CF_OK ||
        set_str(&c->default_vault, "default", e) != CF_OK ||
        set_str(&c->default_subscription, "00000000-0000-0000-0000-000000000000", e) != CF_OK ||
        set_str(&c->default_resource_group, "default", e) != CF_OK ||
        set_str(&c->resource, "https://vault.azure.net", e) != CF_OK ||
        set_str(&c->authorization, "https://login.coffer.test/tenant", e) != CF_OK) {
        vault_config_free(c);
        return CF_ENOMEM;
    }
    return CF_OK;
}

static int valid_vault_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 24)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-'))
            return 0;
    }
    return 1;
}

static int valid_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '.'))
            return 0;
    }
    return s[0] != '.' && s[n - 1] != '.';
}

static int is_https_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 && strlen(s) > 8 && strlen(s) < 512;
}

static cf_code want_string(json_t *v, const char *name, const char **out, cf_err *e)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4096 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return cf_err_set(e, CF_EINVAL, "config: '%s' must be a non-empty string", name);
    *out = json_string_value(v);
    return CF_OK;
}

static cf_code parse_tls(vault_config *c, json_t *v, cf_err *e)
{
    if (!json_is_object(v))
        return cf_err_set(e, CF_EINVAL, "config: 'tls' must be an object");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        const char *s;
        if (strcmp(k, "cert") == 0) {
            if (want_string(x, "tls.cert", &s, e) || set_str(&c->tls_cert, s, e))
                return e->code;
        } else if (strcmp(k, "key") == 0) {
            if (want_string(x, "tls.key", &s, e) || set_str(&c->tls_key, s, e))
                return e->code;
        } else {
            return cf_err_set(e, CF_EINVAL, "config: unknown key 'tls.%s'", k);
        }
    }
    if ((c->tls_cert == NULL) != (c->tls_key == NULL))
        return cf_err_set(e, CF_EINVAL, "config: 'tls' needs both 'cert' and 'key'");
    return CF_OK;
}

static cf_code parse_issuer(vault_issuer *is, json_t *v, size_t idx, cf_err *e)
{
    if (!json_is_object(v))
        return cf_err_set(e, CF_EINVAL, "config: issuers[%zu] must be an object", idx);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        const char *s;
        char **dst;
        if (strcmp(k, "trusted_service") == 0) {
            if (!json_is_boolean(x))
                return cf_err_set(e, CF_EINVAL,
                                  "config: issuers[%zu].trusted_service must be true or false",
                                  idx);
            is->trusted_service = json_is_true(x);
            continue;
        }
        if (strcmp(k, "issuer") == 0)
            dst = &is->issuer;
        else if (strcmp(k, "jwks_file") == 0)
            dst = &is->jwks_file;
        else if (strcmp(k, "jwks_url") == 0)
            dst = &is->jwks_url;
        else if (strcmp(k, "audience") == 0)
            dst = &is->audience;
        else if (strcmp(k, "ca_file") == 0)
            dst = &is->ca_file;
        else
            return cf_err_set(e, CF_EINVAL, "config: unknown key 'issuers[%zu].%s'", idx, k);
        if (want_string(x, k, &s, e) || set_str(dst, s, e))
            return e->code;
    }
    if (is->issuer == NULL)
        return cf_err_set(e, CF_EINVAL, "config: issuers[%zu] needs 'issuer'", idx);
    if ((is->jwks_file == NULL) == (is->jwks_url == NULL))
        return cf_err_set(e, CF_EINVAL,
                          "config: issuers[%zu] needs exactly one of 'jwks_file', 'jwks_url'", idx);
    if (is->jwks_url && strncmp(is->jwks_url, "https://", 8) != 0 &&
        strncmp(is->jwks_url, "http://", 7) != 0)
        return cf_err_set(e, CF_EINVAL, "config: issuers[%zu].jwks_url must be an http(s) URL",
                          idx);
    /* Whoever answers the JWKS fetch can mint tokens the vault accepts
     * (docs/tls.md): plain HTTP only where no one else is on the path. */
    if (is->jwks_url && strncmp(is->jwks_url, "http://", 7) == 0 &&
        !http_url_is_loopback(is->jwks_url))
        return cf_err_set(e, CF_EINVAL,
                          "config: issuers[%zu].jwks_url '%.200s' is plain http:// to a host that "
                          "is not loopback: anyone on the path could answer with their own keys "
                          "and mint tokens; use https:// (with 'ca_file' for a private CA)",
                          idx, is->jwks_url);
    if (is->ca_file && is->jwks_url == NULL)
        return cf_err_set(e, CF_EINVAL, "config: issuers[%zu].ca_file goes with an https jwks_url",
                          idx);
    return CF_OK;
}

static cf_code parse_pkcs11(vault_config *c, json_t *v, cf_err *e)
{
    if (!json_is_object(v))
        return cf_err_set(e, CF_EINVAL, "config: 'pkcs11' must be an object");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        const char *s;
        char **dst;
        if (strcmp(k, "module") == 0)
            dst = &c->pkcs11_module;
        else if (strcmp(k, "token_label") == 0)
            dst = &c->pkcs11_token_label;
        else if (strcmp(k, "pin") == 0)
            dst = &c->pkcs11_pin;
        else if (strcmp(k, "pin_file") == 0)
            dst = &c->pkcs11_pin_file;
        else
            return cf_err_set(e, CF_EINVAL, "config: unknown key 'pkcs11.%s'", k);
        if (want_string(x, k, &s, e) || set_str(dst, s, e))
            return e->code;
    }
    if (c->pkcs11_module == NULL || c->pkcs11_token_label == NULL)
        return cf_err_set(e, CF_EINVAL, "config: 'pkcs11' needs 'module' and 'token_label'");
    if ((c->pkcs11_pin == NULL) == (c->pkcs11_pin_file == NULL))
        return cf_err_set(e, CF_EINVAL, "config: 'pkcs11' needs exactly one of 'pin', 'pin_file'");
    c->has_pkcs11 = 1;
    return CF_OK;
}

static cf_code want_uint(json_t *v, const char *name, json_int_t min, json_int_t max, unsigned *out,
                         cf_err *e)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return cf_err_set(e, CF_EINVAL, "config: '%s' must be an integer in %lld..%lld", name,
                          (long long)min, (long long)max);
    *out = (unsigned)json_integer_value(v);
    return CF_OK;
}

cf_code vault_config_parse(vault_config *c, const char *text, size_t len, cf_err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    cf_code rc = CF_OK;
    if (root == NULL)
        return cf_err_set(e, CF_EINVAL, "config: invalid JSON at line %d: %s", je.line, je.text);
    if (!json_is_object(root)) {
        rc = cf_err_set(e, CF_EINVAL, "config: the top level must be an object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        const char *s;
        unsigned u;
        if (strcmp(k, "listen") == 0) {
            /* host:port; the listener checks it (a bad one fails the start) */
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (strchr(s, ':') == NULL) {
                rc = cf_err_set(e, CF_EINVAL, "config: 'listen' must be HOST:PORT");
                goto out;
            }
            if ((rc = set_str(&c->listen, s, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "vault_domain") == 0) {
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (!valid_domain(s)) {
                rc = cf_err_set(e, CF_EINVAL, "config: 'vault_domain' is not a DNS name");
                goto out;
            }
            if ((rc = set_str(&c->vault_domain, s, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "default_vault") == 0) {
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (!valid_vault_name(s)) {
                rc = cf_err_set(e, CF_EINVAL,
                                "config: 'default_vault' must be 3-24 of [0-9a-zA-Z-]");
                goto out;
            }
            if ((rc = set_str(&c->default_vault, s, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "default_subscription") == 0) {
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (!arm_uuid_valid(s)) {
                rc = cf_err_set(e, CF_EINVAL, "config: 'default_subscription' must be a UUID");
                goto out;
            }
            if ((rc = set_str(&c->default_subscription, s, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "default_resource_group") == 0) {
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (!arm_group_name_valid(s)) {
                rc = cf_err_set(e, CF_EINVAL,
                                "config: 'default_resource_group' must be 1-90 of letters, "
                                "digits, '.', '_', '-', '(' and ')', not ending with '.'");
                goto out;
            }
            if ((rc = set_str(&c->default_resource_group, s, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "tls") == 0) {
            if ((rc = parse_tls(c, v, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "resource") == 0 || strcmp(k, "authorization") == 0) {
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (!is_https_url(s) || strchr(s, '"') != NULL) {
                rc = cf_err_set(e, CF_EINVAL, "config: '%s' must be an https URL", k);
                goto out;
            }
            if ((rc = set_str(k[0] == 'r' ? &c->resource : &c->authorization, s, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "issuers") == 0) {
            if (!json_is_array(v) || json_array_size(v) > VAULT_CONFIG_MAX_ISSUERS) {
                rc = cf_err_set(e, CF_EINVAL, "config: 'issuers' must be an array of at most %d",
                                VAULT_CONFIG_MAX_ISSUERS);
                goto out;
            }
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
                if ((rc = parse_issuer(&c->issuers[c->n_issuers], x, i, e)) != CF_OK) {
                    c->n_issuers++; /* so free() releases the partial entry */
                    goto out;
                }
                c->n_issuers++;
            }
        } else if (strcmp(k, "pkcs11") == 0) {
            if ((rc = parse_pkcs11(c, v, e)) != CF_OK)
                goto out;
        } else if (strcmp(k, "master_key") == 0) {
            if ((rc = want_string(v, k, &s, e)) != CF_OK)
                goto out;
            if (strcmp(s, "file") == 0) {
                c->master_key_pkcs11 = 0;
            } else if (strcmp(s, "pkcs11") == 0) {
                c->master_key_pkcs11 = 1;
            } else {
                rc =
                    cf_err_set(e, CF_EINVAL, "config: 'master_key' must be \"file\" or \"pkcs11\"");
                goto out;
            }
        } else if (strcmp(k, "scheduler_interval_s") == 0) {
            if ((rc = want_uint(v, k, 1, 86400, &u, e)) != CF_OK)
                goto out;
            c->scheduler_interval_s = u;
        } else if (strcmp(k, "rotation_min_s") == 0) {
            if ((rc = want_uint(v, k, 0, 365 * 86400, &u, e)) != CF_OK)
                goto out;
            c->rotation_min_s = u;
        } else if (strcmp(k, "threads") == 0) {
            if ((rc = want_uint(v, k, 1, 64, &u, e)) != CF_OK)
                goto out;
            c->threads = u;
        } else if (strcmp(k, "max_body") == 0) {
            if ((rc = want_uint(v, k, 1024, 16 * 1024 * 1024, &u, e)) != CF_OK)
                goto out;
            c->max_body = u;
        } else {
            rc = cf_err_set(e, CF_EINVAL, "config: unknown key '%s'", k);
            goto out;
        }
    }
    if (c->master_key_pkcs11 && !c->has_pkcs11)
        rc =
            cf_err_set(e, CF_EINVAL, "config: \"master_key\": \"pkcs11\" needs a 'pkcs11' section");
    for (size_t i = 0; rc == CF_OK && i < c->n_issuers; i++)
        if (c->issuers[i].audience == NULL)
            rc = set_str(&c->issuers[i].audience, c->resource, e);
out:
    json_decref(root);
    return rc;
}

cf_code vault_config_load(vault_config *c, const char *path, cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, CONFIG_MAX_BYTES);
    cf_code rc = cf_fs_read_all(path, CONFIG_MAX_BYTES, &b, e);
    if (rc == CF_OK)
        rc = vault_config_parse(c, (const char *)b.data, b.len, e);
    cf_buf_free(&b);
    return rc;
}

cf_code vault_config_pin(const vault_config *c, char *out, size_t out_len, cf_err *e)
{
    if (c->pkcs11_pin) {
        if (strlen(c->pkcs11_pin) >= out_len)
            return cf_err_set(e, CF_EINVAL, "pkcs11 pin too long");
        memcpy(out, c->pkcs11_pin, strlen(c->pkcs11_pin) + 1);
        return CF_OK;
    }
    if (c->pkcs11_pin_file == NULL)
        return cf_err_set(e, CF_EINVAL, "no pkcs11 pin configured");
    cf_buf b;
    cf_buf_init(&b, 4096);
    b.secret = 1;
    cf_code rc = cf_fs_read_all(c->pkcs11_pin_file, 4096, &b, e);
    if (rc == CF_OK) {
        size_t n = b.len;
        while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' '))
            n--;
        if (n == 0 || n >= out_len) {
            rc = cf_err_set(e, CF_EINVAL, "pkcs11 pin_file: empty or too long");
        } else {
            memcpy(out, b.data, n);
            out[n] = '\0';
        }
    }
    cf_buf_free(&b);
    return rc;
}

void vault_config_log(const vault_config *c)
{
    char interval[16], nissuers[16];
    snprintf(interval, sizeof(interval), "%u", c->scheduler_interval_s);
    snprintf(nissuers, sizeof(nissuers), "%zu", c->n_issuers);
    cf_log(CF_LOG_INFO, "config", "vault_domain", c->vault_domain, "default_vault",
           c->default_vault, "default_subscription", c->default_subscription,
           "default_resource_group", c->default_resource_group, "resource", c->resource,
           "authorization", c->authorization, "tls", c->tls_cert ? c->tls_cert : "self-signed",
           "issuers", nissuers, "pkcs11", c->has_pkcs11 ? c->pkcs11_module : "none", "pkcs11_pin",
           c->has_pkcs11 ? "(redacted)" : "", "master_key",
           c->master_key_pkcs11 ? "pkcs11" : "file", "scheduler_interval_s", interval, NULL);
    for (size_t i = 0; i < c->n_issuers; i++)
        cf_log(CF_LOG_INFO, "trusted issuer", "issuer", c->issuers[i].issuer, "audience",
               c->issuers[i].audience, "jwks",
               c->issuers[i].jwks_file ? c->issuers[i].jwks_file : c->issuers[i].jwks_url,
               "trusted_service", c->issuers[i].trusted_service ? "true" : "false", NULL);
}

void vault_config_free(vault_config *c)
{
    if (c == NULL)
        return;
    free(c->listen);
    free(c->vault_domain);
    free(c->default_vault);
    free(c->default_subscription);
    free(c->default_resource_group);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->resource);
    free(c->authorization);
    for (size_t i = 0; i < c->n_issuers; i++) {
        free(c->issuers[i].issuer);
        free(c->issuers[i].jwks_file);
        free(c->issuers[i].jwks_url);
        free(c->issuers[i].audience);
        free(c->issuers[i].ca_file);
    }
    free(c->pkcs11_module);
    free(c->pkcs11_token_label);
    if (c->pkcs11_pin) {
        OPENSSL_cleanse(c->pkcs11_pin, strlen(c->pkcs11_pin));
        free(c->pkcs11_pin);
    }
    free(c->pkcs11_pin_file);
    memset(c, 0, sizeof(*c));
}
