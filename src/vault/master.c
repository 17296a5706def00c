/*
 * master.c -- see master.h.
 */
#define CF_LOG_MOD "vault.master"
#include "vault/master.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/fs.h"
#include "base/log.h"

#define SEAL_MAGIC "KVS1"
#define NONCE_LEN 12
#define TAG_LEN 16

static vault_master *master_alloc(void)
{
    vault_master *m = calloc(1, sizeof(*m));
    if (m)
        (void)mlock(m, sizeof(*m));
    return m;
}

cf_code vault_master_from_bytes(vault_master **out, const unsigned char key[VAULT_MASTER_LEN],
                                cf_err *e)
{
    vault_master *m = master_alloc();
    if (m == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    memcpy(m->key, key, VAULT_MASTER_LEN);
    *out = m;
    return CF_OK;
}

cf_code vault_master_file(vault_master **out, const char *path, cf_err *e)
{
    struct stat st;
    cf_code rc;
    unsigned char key[VAULT_MASTER_LEN];
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return cf_err_os(e, errno, "cannot stat %s", path);
        if (RAND_priv_bytes(key, sizeof(key)) != 1)
            return cf_err_ssl(e, "no randomness for the master key");
        rc = cf_fs_write_atomic(path, key, sizeof(key), 0600, e);
        if (rc == CF_OK) {
            cf_log(CF_LOG_INFO, "created master key", "path", path, NULL);
            rc = vault_master_from_bytes(out, key, e);
        }
        OPENSSL_cleanse(key, sizeof(key));
        return rc;
    }
    if ((rc = cf_fs_check_private(path, e)) != CF_OK)
        return rc;
    cf_buf b;
    cf_buf_init(&b, 64);
    b.secret = 1;
    rc = cf_fs_read_all(path, 64, &b, e);
    if (rc == CF_OK && b.len != VAULT_MASTER_LEN)
        rc = cf_err_set(e, CF_EINTEGRITY, "%s: expected %d bytes, found %zu", path,
                        VAULT_MASTER_LEN, b.len);
    if (rc == CF_OK)
        rc = vault_master_from_bytes(out, b.data, e);
    cf_buf_free(&b);
    return rc;
}

void vault_master_free(vault_master *m)
{
    if (m == NULL)
        return;
    OPENSSL_cleanse(m, sizeof(*m));
    (void)munlock(m, sizeof(*m));
    free(m);
}

static cf_code build_aad(cf_buf *aad, const char *vault, const char *name, const char *version,
                         cf_err *e)
{
    static const char prefix[] = "keyvaultd/v1/key";
    const char *parts[3] = {vault, name, version};
    cf_code rc = cf_buf_append(aad, prefix, sizeof(prefix) - 1, e);
    for (int i = 0; rc == CF_OK && i < 3; i++) {
        rc = cf_buf_append(aad, "", 1, e); /* the 0x00 separator */
        for (const char *p = parts[i]; rc == CF_OK && *p; p++) {
            char c = (char)tolower((unsigned char)*p);
            rc = cf_buf_append(aad, &c, 1, e);
        }
    }
    return rc;
}

cf_code vault_master_seal(const vault_master *m, const char *vault, const char *name,
                          const char *version, const unsigned char *pt, size_t pt_len, cf_buf *out,
                          cf_err *e)
{
    cf_buf aad;
    cf_buf_init(&aad, 4096);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
    cf_code rc = build_aad(&aad, vault, name, version, e);
    int n = 0;
    if (rc != CF_OK)
        goto out;
    if (c == NULL || pt_len > (1u << 20)) {
        rc = cf_err_set(e, CF_ECRYPTO, "seal: bad input");
        goto out;
    }
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        rc = cf_err_ssl(e, "seal: no randomness");
        goto out;
    }
    if ((rc = cf_buf_append(out, SEAL_MAGIC, 4, e)) != CF_OK ||
        (rc = cf_buf_append(out, nonce, NONCE_LEN, e)) != CF_OK ||
        (rc = cf_buf_reserve(out, pt_len + TAG_LEN, e)) != CF_OK)
        goto out;
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, m->key, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &n, aad.data, (int)aad.len) != 1 ||
        EVP_EncryptUpdate(c, out->data + out->len, &n, pt, (int)pt_len) != 1 ||
        EVP_EncryptFinal_ex(c, out->data + out->len + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        rc = cf_err_ssl(e, "seal: AES-GCM failed");
        goto out;
    }
    out->len += pt_len;
    rc = cf_buf_append(out, tag, TAG_LEN, e);
out:
    EVP_CIPHER_CTX_free(c);
    cf_buf_free(&aad);
    return rc;
}

cf_code vault_master_unseal(const vault_master *m, const char *vault, const char *name,
                            const char *version, const unsigned char *sealed, size_t sealed_len,
                            cf_buf *out, cf_err *e)
{
    cf_buf aad;
    cf_buf_init(&aad, 4096);
    EVP_CIPHER_CTX *c = NULL;
    cf_code rc = build_aad(&aad, vault, name, version, e);
    int n = 0;
    if (rc != CF_OK)
        goto out;
    if (sealed_len < 4 + NONCE_LEN + TAG_LEN || memcmp(sealed, SEAL_MAGIC, 4) != 0) {
        rc = cf_err_set(e, CF_EINTEGRITY, "sealed key: bad format");
        goto out;
    }
    size_t ct_len = sealed_len - 4 - NONCE_LEN - TAG_LEN;
    const unsigned char *nonce = sealed + 4, *ct = sealed + 4 + NONCE_LEN;
    unsigned char tag[TAG_LEN];
    memcpy(tag, ct + ct_len, TAG_LEN);
    if ((rc = cf_buf_reserve(out, ct_len, e)) != CF_OK)
        goto out;
    c = EVP_CIPHER_CTX_new();
    if (c == NULL || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, m->key, nonce) != 1 ||
        EVP_DecryptUpdate(c, NULL, &n, aad.data, (int)aad.len) != 1 ||
        EVP_DecryptUpdate(c, out->data + out->len, &n, ct, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1) {
        rc = cf_err_ssl(e, "unseal: AES-GCM failed");
        goto out;
    }
    if (EVP_DecryptFinal_ex(c, out->data + out->len + n, &n) != 1) {
        OPENSSL_cleanse(out->data + out->len, ct_len);
        rc = cf_err_set(e, CF_EINTEGRITY, "sealed key does not open under the master key");
        goto out;
    }
    out->len += ct_len;
    out->data[out->len] = '\0';
out:
    EVP_CIPHER_CTX_free(c);
    cf_buf_free(&aad);
    return rc;
}
