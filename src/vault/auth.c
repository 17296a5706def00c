/*
 * auth.c -- see auth.h.
 */
#define CF_LOG_MOD "vault.auth"
#include "vault/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/fs.h"
#include "base/log.h"

#define MAX_TOKEN_LEN 16384

struct vault_auth {
    const vault_config *cfg;
    char admin[VAULT_ADMIN_TOKEN_HEX + 1];
};

cf_code vault_admin_token_load(const char *path, char out[VAULT_ADMIN_TOKEN_HEX + 1], cf_err *e)
{
    struct stat st;
    cf_code rc;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return cf_err_os(e, errno, "cannot stat %s", path);
        unsigned char raw[32];
        char line[VAULT_ADMIN_TOKEN_HEX + 2];
        if (RAND_priv_bytes(raw, sizeof(raw)) != 1)
            return cf_err_ssl(e, "no randomness for the admin token");
        cf_hex_encode(line, raw, sizeof(raw));
        OPENSSL_cleanse(raw, sizeof(raw));
        line[VAULT_ADMIN_TOKEN_HEX] = '\n';
        rc = cf_fs_write_atomic(path, line, VAULT_ADMIN_TOKEN_HEX + 1, 0600, e);
        if (rc == CF_OK) {
            memcpy(out, line, VAULT_ADMIN_TOKEN_HEX);
            out[VAULT_ADMIN_TOKEN_HEX] = '\0';
            cf_log(CF_LOG_INFO, "created admin token", "path", path, NULL);
        }
        OPENSSL_cleanse(line, sizeof(line));
        return rc;
    }
    if ((rc = cf_fs_check_private(path, e)) != CF_OK)
        return rc;
    cf_buf b;
    cf_buf_init(&b, 256);
    b.secret = 1;
    rc = cf_fs_read_all(path, 256, &b, e);
    if (rc == CF_OK) {
        size_t n = b.len;
        while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
            n--;
        if (n != VAULT_ADMIN_TOKEN_HEX) {
            rc = cf_err_set(e, CF_EINTEGRITY, "%s: expected %d hex characters", path,
                            VAULT_ADMIN_TOKEN_HEX);
        } else {
            memcpy(out, b.data, n);
            out[n] = '\0';
        }
    }
    cf_buf_free(&b);
    return rc;
}

cf_code vault_auth_new(vault_auth **out, const vault_config *cfg, const char *admin_token,
                       cf_err *e)
{
    vault_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    a->cfg = cfg;
    snprintf(a->admin, sizeof(a->admin), "%s", admin_token);
    *out = a;
    return CF_OK;
}

void vault_auth_free(vault_auth *a)
{
    if (a == NULL)
        return;
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

cf_code vault_auth_check(vault_auth *a, const char *authorization, vault_caller *out, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (authorization == NULL || *authorization == '\0')
        return cf_err_set(e, CF_EAUTH, "AKV10000: Request is missing a Bearer or PoP token.");
    size_t n = strlen(authorization);
    if (n < 7 || strncasecmp(authorization, "Bearer ", 7) != 0)
        return cf_err_set(e, CF_EAUTH, "AKV10001: The authorization scheme must be Bearer.");
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    size_t tl = strlen(tok);
    if (tl == 0 || tl > MAX_TOKEN_LEN)
        return cf_err_set(e, CF_EAUTH, "AKV10000: Request is missing a Bearer or PoP token.");
    if (tl == VAULT_ADMIN_TOKEN_HEX && CRYPTO_memcmp(tok, a->admin, VAULT_ADMIN_TOKEN_HEX) == 0) {
        out->is_admin = 1;
        snprintf(out->oid, sizeof(out->oid), "admin");
        snprintf(out->appid, sizeof(out->appid), "admin");
        return CF_OK;
    }
    return cf_err_set(e, CF_EAUTH, "AKV10032: Invalid issuer or token.");
}
