/*
 * token.c -- see token.h.
 */
#define CF_LOG_MOD "vault.token"
#include "vault/token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "vault/hsm.h"

#define MASTER_LABEL "keyvaultd-master"
#define MASTER_AAD "keyvaultd/v1/master"

struct vault_token {
    hsm *h;
};

cf_code vault_token_open(vault_token **out, const vault_config *cfg, cf_err *e)
{
    char pin[256];
    cf_code rc = vault_config_pin(cfg, pin, sizeof(pin), e);
    if (rc != CF_OK)
        return rc;
    vault_token *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        OPENSSL_cleanse(pin, sizeof(pin));
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    rc = hsm_open(&t->h, cfg->pkcs11_module, cfg->pkcs11_token_label, pin, e);
    OPENSSL_cleanse(pin, sizeof(pin));
    if (rc != CF_OK) {
        free(t);
        return rc;
    }
    cf_log(CF_LOG_INFO, "PKCS#11 token open", "module", cfg->pkcs11_module, "token",
           cfg->pkcs11_token_label, NULL);
    *out = t;
    return CF_OK;
}

void vault_token_close(vault_token *t)
{
    if (t == NULL)
        return;
    hsm_close(t->h);
    free(t);
}

cf_code vault_token_generate(char id[VAULT_TOKEN_ID_MAX], EVP_PKEY **pub, vault_token *t,
                             int is_rsa, int bits, const char *crv, const char *label, cf_err *e)
{
    char hid[HSM_ID_HEX_LEN + 1];
    cf_code rc = is_rsa ? hsm_key_generate_rsa(hid, pub, t->h, bits, label, e)
                        : hsm_key_generate_ec(hid, pub, t->h, crv, label, e);
    if (rc == CF_OK)
        snprintf(id, VAULT_TOKEN_ID_MAX, "%s", hid);
    return rc;
}

cf_code vault_token_decrypt(cf_buf *out, vault_token *t, const char *id, keyops_enc_alg alg,
                            const unsigned char *in, size_t in_len, cf_err *e)
{
    return hsm_key_decrypt(out, t->h, id, alg, in, in_len, e);
}

cf_code vault_token_sign(cf_buf *out, vault_token *t, const char *id, keyops_sig_alg alg,
                         const unsigned char *digest, size_t digest_len, cf_err *e)
{
    return hsm_key_sign(out, t->h, id, alg, digest, digest_len, e);
}

cf_code vault_token_destroy(vault_token *t, const char *id, cf_err *e)
{
    return hsm_key_destroy(t->h, id, e);
}

cf_code vault_token_master(vault_master **out, vault_token *t, const char *path, cf_err *e)
{
    unsigned char secret[HSM_SECRET_LEN], wrapped[HSM_WRAPPED_LEN];
    struct stat st;
    cf_code rc;
    if (t == NULL)
        return cf_err_set(e, CF_EINVAL, "\"master_key\": \"pkcs11\" needs a PKCS#11 token");
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return cf_err_os(e, errno, "cannot stat %s", path);
        if (RAND_priv_bytes(secret, sizeof(secret)) != 1)
            return cf_err_ssl(e, "no randomness for the master key");
        rc = hsm_master_wrap(wrapped, t->h, MASTER_LABEL, (const unsigned char *)MASTER_AAD,
                             strlen(MASTER_AAD), secret, e);
        if (rc == CF_OK)
            rc = cf_fs_write_atomic(path, wrapped, sizeof(wrapped), 0600, e);
        if (rc == CF_OK)
            cf_log(CF_LOG_INFO, "created master key wrapped by the token", "path", path, NULL);
    } else {
        cf_buf b;
        cf_buf_init(&b, 256);
        rc = cf_fs_check_private(path, e);
        if (rc == CF_OK)
            rc = cf_fs_read_all(path, 256, &b, e);
        if (rc == CF_OK && b.len != HSM_WRAPPED_LEN)
            rc = cf_err_set(e, CF_EINTEGRITY, "%s: expected %d bytes", path, HSM_WRAPPED_LEN);
        if (rc == CF_OK)
            rc = hsm_master_unwrap(secret, t->h, MASTER_LABEL, (const unsigned char *)MASTER_AAD,
                                   strlen(MASTER_AAD), b.data, e);
        cf_buf_free(&b);
    }
    if (rc == CF_OK)
        rc = vault_master_from_bytes(out, secret, e);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}
