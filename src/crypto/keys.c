/*
 * keys.c -- the service side of the key hierarchy (see keys.h, DESIGN §2,
 * docs/format.md).
 *
 * SRK file: exactly 32 raw bytes, mode 0600. It is created by writing a
 * temporary file (O_CREAT|O_EXCL, 0600, fsync) and publishing it with
 * link(2), which fails if the name exists: two processes starting at once
 * cannot both create a key, and nobody ever sees a half-written one. The
 * loser of the race loads the winner's key.
 *
 * Wrapped S: nonce(12) ‖ ciphertext(32) ‖ tag(16), AES-256-GCM under the
 * SRK with AAD = "coffer/v1/S" ‖ registry_id (the prefix is fixed, so the
 * concatenation is unambiguous).
 *
 * KEK: HKDF-SHA256 (RFC 5869, extract then expand) through EVP_KDF, ikm =
 * S ‖ C (S alone without CMK), salt = registry_id, info = "coffer/v1/kek",
 * 32 bytes.
 */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base/enc.h"
#include "base/fs.h"

#define S_AAD_PREFIX "coffer/v1/S"
#define KEK_INFO "coffer/v1/kek"
#define GCM_NONCE 12
#define GCM_TAG 16

void keys_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        OPENSSL_cleanse(p, len);
}

cf_code keys_random(unsigned char *out, size_t len, cf_err *e)
{
    if (len > (size_t)INT32_MAX)
        return cf_err_set(e, CF_EINVAL, "random request too large");
    if (RAND_bytes(out, (int)len) != 1)
        return cf_err_ssl(e, "random bytes");
    return CF_OK;
}

static cf_code registry_id_check(const char *registry_id, size_t *len, cf_err *e)
{
    size_t n = registry_id ? strnlen(registry_id, SEAL_REGISTRY_ID_MAX + 1) : 0;
    if (n == 0 || n > SEAL_REGISTRY_ID_MAX)
        return cf_err_set(e, CF_EINVAL, "registry id must be 1..%d bytes", SEAL_REGISTRY_ID_MAX);
    *len = n;
    return CF_OK;
}

/* ---- SRK file ---- */

/* Reads the key from an open file after checking its mode and size. */
static cf_code srk_read(int fd, const char *path, unsigned char srk[KEYS_SECRET_LEN], cf_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cf_err_os(e, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return cf_err_set(e, CF_EINVAL, "%s is not a regular file", path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return cf_err_set(e, CF_EDENIED,
                          "%s is accessible by group or others (mode %04o); it must be 0600", path,
                          (unsigned)(st.st_mode & 07777));
    if (st.st_size != KEYS_SECRET_LEN)
        return cf_err_set(e, CF_EINTEGRITY, "%s is %lld bytes, a service root key is %d", path,
                          (long long)st.st_size, KEYS_SECRET_LEN);
    return cf_fs_pread_full(fd, srk, KEYS_SECRET_LEN, 0, e);
}

static cf_code srk_load(const char *path, unsigned char srk[KEYS_SECRET_LEN], cf_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_err_os(e, errno, "open %s", path);
    cf_code rc = srk_read(fd, path, srk, e);
    close(fd);
    if (rc != CF_OK)
        OPENSSL_cleanse(srk, KEYS_SECRET_LEN);
    return rc;
}

static cf_code srk_create(const char *path, unsigned char srk[KEYS_SECRET_LEN], cf_err *e)
{
    char tmp[4096];
    unsigned char r[8];
    char rhex[17];
    cf_code rc = keys_random(r, sizeof(r), e);
    if (rc != CF_OK)
        return rc;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(rhex + 2 * i, 3, "%02x", r[i]);
    if (snprintf(tmp, sizeof(tmp), "%s.new.%s", path, rhex) >= (int)sizeof(tmp))
        return cf_err_set(e, CF_EINVAL, "path too long");
    rc = keys_random(srk, KEYS_SECRET_LEN, e);
    if (rc != CF_OK)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = cf_err_os(e, errno, "create %s", tmp);
        goto out;
    }
    if (fchmod(fd, 0600) != 0)
        rc = cf_err_os(e, errno, "chmod %s", tmp);
    if (rc == CF_OK)
        rc = cf_fs_write_full(fd, srk, KEYS_SECRET_LEN, e);
    if (rc == CF_OK && fsync(fd) != 0)
        rc = cf_err_os(e, errno, "fsync %s", tmp);
    if (close(fd) != 0 && rc == CF_OK)
        rc = cf_err_os(e, errno, "close %s", tmp);
    if (rc == CF_OK && link(tmp, path) != 0) {
        if (errno == EEXIST) /* another starter won: use its key */
            rc = CF_EEXISTS;
        else
            rc = cf_err_os(e, errno, "create %s", path);
    }
    unlink(tmp);
    if (rc == CF_OK)
        rc = cf_fs_fsync_parent(path, e);
out:
    if (rc != CF_OK)
        OPENSSL_cleanse(srk, KEYS_SECRET_LEN);
    return rc;
}

cf_code keys_srk_load_or_create(const char *path, unsigned char srk[KEYS_SECRET_LEN], cf_err *e)
{
    cf_err local = {0};
    cf_code rc = srk_load(path, srk, &local);
    if (rc == CF_ENOTFOUND) {
        rc = srk_create(path, srk, e);
        if (rc == CF_EEXISTS)
            rc = srk_load(path, srk, e);
        return rc;
    }
    if (rc != CF_OK)
        return cf_err_set(e, local.code, "%s", local.msg);
    return CF_OK;
}

/* ---- S under the SRK ---- */

static cf_code s_crypt(const unsigned char srk[32], const char *registry_id,
                       const unsigned char nonce[GCM_NONCE], const unsigned char *in,
                       unsigned char *out, unsigned char tag[GCM_TAG], int enc, cf_err *e)
{
    size_t id_len = 0;
    cf_code rc = registry_id_check(registry_id, &id_len, e);
    if (rc != CF_OK)
        return rc;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return cf_err_ssl(e, "cipher context");
    int outl = 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, srk, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)S_AAD_PREFIX,
                         (int)strlen(S_AAD_PREFIX)) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)registry_id, (int)id_len) != 1 ||
        (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) != 1) ||
        EVP_CipherUpdate(ctx, out, &outl, in, KEYS_SECRET_LEN) != 1) {
        rc = cf_err_ssl(e, "secret wrap");
        goto out;
    }
    if (EVP_CipherFinal_ex(ctx, out + outl, &outl) != 1) {
        if (enc) {
            rc = cf_err_ssl(e, "secret wrap");
        } else {
            rc = cf_err_set(e, CF_EINTEGRITY,
                            "wrapped secret does not authenticate under this root key "
                            "for registry %s",
                            registry_id);
        }
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) != 1)
        rc = cf_err_ssl(e, "secret wrap tag");
out:
    EVP_CIPHER_CTX_free(ctx);
    if (rc != CF_OK)
        OPENSSL_cleanse(out, KEYS_SECRET_LEN);
    return rc;
}

cf_code keys_secret_wrap(unsigned char out[KEYS_WRAPPED_LEN], const unsigned char srk[32],
                         const char *registry_id, const unsigned char secret[32], cf_err *e)
{
    cf_code rc = keys_random(out, GCM_NONCE, e);
    if (rc != CF_OK)
        return rc;
    return s_crypt(srk, registry_id, out, secret, out + GCM_NONCE,
                   out + GCM_NONCE + KEYS_SECRET_LEN, 1, e);
}

cf_code keys_secret_wrap_nonce(unsigned char out[KEYS_WRAPPED_LEN], const unsigned char srk[32],
                               const char *registry_id, const unsigned char secret[32],
                               const unsigned char nonce[12], cf_err *e)
{
    memcpy(out, nonce, GCM_NONCE);
    return s_crypt(srk, registry_id, out, secret, out + GCM_NONCE,
                   out + GCM_NONCE + KEYS_SECRET_LEN, 1, e);
}

cf_code keys_secret_unwrap(unsigned char out[KEYS_SECRET_LEN], const unsigned char srk[32],
                           const char *registry_id, const unsigned char wrapped[KEYS_WRAPPED_LEN],
                           cf_err *e)
{
    unsigned char tag[GCM_TAG];
    memcpy(tag, wrapped + GCM_NONCE + KEYS_SECRET_LEN, GCM_TAG);
    return s_crypt(srk, registry_id, wrapped, wrapped + GCM_NONCE, out, tag, 0, e);
}

/* ---- KEK ---- */

cf_code keys_hkdf(unsigned char *out, size_t out_len, const unsigned char *ikm, size_t ikm_len,
                  const void *salt, size_t salt_len, const char *info, cf_err *e)
{
    cf_code rc = CF_OK;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx == NULL) {
        rc = cf_err_ssl(e, "HKDF unavailable");
        goto out;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
        rc = cf_err_ssl(e, "HKDF derive");
        OPENSSL_cleanse(out, out_len);
    }
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rc;
}

cf_code keys_kek_derive(seal_kek *out, const unsigned char s[32], const unsigned char *c,
                        const char *registry_id, cf_err *e)
{
    size_t id_len = 0;
    cf_code rc = registry_id_check(registry_id, &id_len, e);
    if (rc != CF_OK)
        return rc;
    unsigned char ikm[2 * KEYS_SECRET_LEN];
    size_t ikm_len = KEYS_SECRET_LEN;
    memcpy(ikm, s, KEYS_SECRET_LEN);
    if (c != NULL) {
        memcpy(ikm + KEYS_SECRET_LEN, c, KEYS_SECRET_LEN);
        ikm_len += KEYS_SECRET_LEN;
    }
    rc = keys_hkdf(out->key, SEAL_KEY_LEN, ikm, ikm_len, registry_id, id_len, KEK_INFO, e);
    OPENSSL_cleanse(ikm, sizeof(ikm));
    if (rc == CF_OK) {
        memset(out->registry_id, 0, sizeof(out->registry_id));
        memcpy(out->registry_id, registry_id, id_len);
    }
    return rc;
}

/* ---- admin credential files ---- */

size_t keys_token_len(keys_token_enc enc)
{
    return enc == KEYS_TOKEN_HEX ? KEYS_TOKEN_HEX_LEN : KEYS_TOKEN_B64URL_LEN;
}

static int token_char(keys_token_enc enc, char c)
{
    if (enc == KEYS_TOKEN_HEX)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static cf_code token_file_create(const char *path, keys_token_enc enc, char *out, cf_err *e)
{
    size_t n = keys_token_len(enc);
    unsigned char raw[32];
    cf_buf b;
    cf_buf_init(&b, 0);
    b.secret = 1;
    cf_code rc = keys_random(raw, sizeof(raw), e);
    if (rc == CF_OK && enc == KEYS_TOKEN_HEX) {
        char hex[KEYS_TOKEN_HEX_LEN + 1];
        cf_hex_encode(hex, raw, sizeof(raw));
        rc = cf_buf_append(&b, hex, KEYS_TOKEN_HEX_LEN, e);
        OPENSSL_cleanse(hex, sizeof(hex));
    } else if (rc == CF_OK) {
        rc = cf_b64url_encode(&b, raw, sizeof(raw), e);
    }
    keys_wipe(raw, sizeof(raw));
    if (rc == CF_OK && b.len != n)
        rc = cf_err_set(e, CF_ECRYPTO, "admin token: unexpected encoding length");
    if (rc == CF_OK) {
        memcpy(out, b.data, n);
        out[n] = '\0';
        rc = cf_buf_append(&b, "\n", 1, e);
    }
    if (rc == CF_OK)
        rc = cf_fs_write_atomic(path, b.data, b.len, 0600, e);
    if (rc != CF_OK)
        OPENSSL_cleanse(out, n + 1);
    cf_buf_free(&b);
    return rc;
}

cf_code keys_token_file_load(const char *path, keys_token_enc enc, char *out, size_t cap,
                             int *created, cf_err *e)
{
    size_t want = keys_token_len(enc);
    if (created)
        *created = 0;
    if (cap < want + 1)
        return cf_err_set(e, CF_EINVAL, "admin token: buffer too small");
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return cf_err_os(e, errno, "admin token %s", path);
        cf_code rc = token_file_create(path, enc, out, e);
        if (rc == CF_OK && created)
            *created = 1;
        return rc;
    }
    cf_code rc = cf_fs_check_private(path, e);
    if (rc != CF_OK)
        return rc;
    cf_buf b;
    cf_buf_init(&b, 0);
    b.secret = 1;
    rc = cf_fs_read_all(path, 256, &b, e);
    size_t n = b.len;
    while (rc == CF_OK && n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
        n--;
    if (rc == CF_OK && n != want)
        rc = cf_err_set(e, CF_EINVAL, "admin token %s: expected %zu %s characters", path, want,
                        enc == KEYS_TOKEN_HEX ? "hex" : "base64url");
    for (size_t i = 0; rc == CF_OK && i < n; i++)
        if (!token_char(enc, (char)b.data[i]))
            rc = cf_err_set(e, CF_EINVAL, "admin token %s: not %s", path,
                            enc == KEYS_TOKEN_HEX ? "lowercase hex" : "base64url");
    if (rc == CF_OK) {
        memcpy(out, b.data, want);
        out[want] = '\0';
    }
    cf_buf_free(&b);
    return rc;
}
