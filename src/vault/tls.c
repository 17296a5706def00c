/*
 * tls.c -- see tls.h. The certificate is built with OpenSSL's X509 API;
 * the files are written with cf_fs_write_atomic (key first, 0600), so a
 * crash leaves either no certificate or a complete pair.
 */
#define CF_LOG_MOD "vault.tls"
#include "vault/tls.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/fs.h"
#include "base/log.h"

static cf_code add_ext(X509 *x, int nid, const char *value, cf_err *e)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return cf_err_ssl(e, "tls: bad extension %s", value);
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? CF_OK : cf_err_ssl(e, "tls: cannot add extension");
}

static cf_code bio_to_buf(BIO *bio, cf_buf *out, cf_err *e)
{
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    if (n <= 0)
        return cf_err_set(e, CF_ECRYPTO, "tls: empty PEM");
    return cf_buf_append(out, p, (size_t)n, e);
}

static cf_code create(const char *cert_path, const char *key_path, const char *domain, cf_err *e)
{
    cf_code rc = CF_OK;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
    cf_buf kbuf, cbuf;
    cf_buf_init(&kbuf, 0);
    cf_buf_init(&cbuf, 0);
    kbuf.secret = 1;
    if (pk == NULL || x == NULL || kb == NULL || cb == NULL) {
        rc = cf_err_ssl(e, "tls: cannot generate a key");
        goto out;
    }
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof(serial)) != 1) {
        rc = cf_err_ssl(e, "tls: no randomness");
        goto out;
    }
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
        BN_free(bn);
        rc = cf_err_ssl(e, "tls: serial");
        goto out;
    }
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"coffer", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"keyvaultd", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    char san[512];
    snprintf(san, sizeof(san), "DNS:localhost,DNS:*.%s,DNS:%s,IP:127.0.0.1,IP:::1", domain, domain);
    if ((rc = add_ext(x, NID_basic_constraints, "critical,CA:TRUE", e)) != CF_OK ||
        (rc = add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign", e)) != CF_OK ||
        (rc = add_ext(x, NID_ext_key_usage, "serverAuth", e)) != CF_OK ||
        (rc = add_ext(x, NID_subject_key_identifier, "hash", e)) != CF_OK ||
        (rc = add_ext(x, NID_subject_alt_name, san, e)) != CF_OK)
        goto out;
    if (X509_sign(x, pk, EVP_sha256()) == 0) {
        rc = cf_err_ssl(e, "tls: cannot sign the certificate");
        goto out;
    }
    if (!PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cb, x)) {
        rc = cf_err_ssl(e, "tls: cannot encode PEM");
        goto out;
    }
    if ((rc = bio_to_buf(kb, &kbuf, e)) != CF_OK || (rc = bio_to_buf(cb, &cbuf, e)) != CF_OK)
        goto out;
    if ((rc = cf_fs_write_atomic(key_path, kbuf.data, kbuf.len, 0600, e)) != CF_OK ||
        (rc = cf_fs_write_atomic(cert_path, cbuf.data, cbuf.len, 0644, e)) != CF_OK)
        goto out;
    (void)chmod(cert_path, 0644); /* the CA file clients trust: public */
    cf_log(CF_LOG_INFO, "created self-signed TLS certificate", "cert", cert_path, NULL);
out:
    cf_buf_free(&kbuf);
    cf_buf_free(&cbuf);
    BIO_free(kb); /* secure-heap BIO: wiped on free */
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}

cf_code vault_tls_ensure(const char *dir, const char *domain, cf_err *e)
{
    char tdir[4096], cert[4200], key[4200];
    snprintf(tdir, sizeof(tdir), "%s/tls", dir);
    snprintf(cert, sizeof(cert), "%s/cert.pem", tdir);
    snprintf(key, sizeof(key), "%s/key.pem", tdir);
    struct stat st;
    if (stat(cert, &st) == 0 && stat(key, &st) == 0)
        return CF_OK;
    cf_code rc = cf_fs_mkdir_p(tdir, 0700, e);
    if (rc != CF_OK)
        return rc;
    return create(cert, key, domain, e);
}
