/*
 * vcrypto_helpers.h -- small helpers shared by the jwk, jwt, keyops and
 * hsm unit tests (static inline so a test file may ignore any of them).
 */
#ifndef VCRYPTO_HELPERS_H
#define VCRYPTO_HELPERS_H

#include <criterion/criterion.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/enc.h"

/* Decodes a hex vector into a fresh cf_buf (caller frees). */
static inline cf_buf vc_hex(const char *hex)
{
    cf_buf b;
    cf_buf_init(&b, 0);
    size_t n = strlen(hex) / 2;
    cr_assert_eq(cf_buf_reserve(&b, n, NULL), CF_OK);
    cr_assert_eq(cf_hex_decode(b.data, n, hex, 2 * n, NULL), CF_OK);
    b.len = n;
    return b;
}

static inline EVP_PKEY *vc_pem_private(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    cr_assert_not_null(bio);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    cr_assert_not_null(k);
    return k;
}

static inline json_t *vc_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "bad test JSON: %s", je.text);
    return j;
}

/* The public half of a key, as a fresh EVP_PKEY. */
static inline EVP_PKEY *vc_public_of(const EVP_PKEY *k)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    cr_assert_gt(n, 0);
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, n);
    OPENSSL_free(der);
    cr_assert_not_null(pub);
    return pub;
}

static inline void vc_sha(unsigned char *out, const char *md, const void *data, size_t len)
{
    size_t n = 0;
    cr_assert(EVP_Q_digest(NULL, md, NULL, data, len, out, &n));
}

#endif
