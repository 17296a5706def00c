/*
 * test_tls.c -- the listeners' TLS (src/http/tls.c): what a certificate
 * pair must be to be served, reloads that change the certificate only when
 * the new files are whole and match, the protocol and cipher policy, and
 * where plain HTTP is allowed. Certificates are made here with OpenSSL
 * (ECDSA P-256, self-signed), with chosen validity.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../test_tmpdir.h"
#include "http/server.h"
#include "http/tls.h"

static char dir[128];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "tls");
}

static void teardown(void)
{
    test_tmpdir_remove(dir);
}

TestSuite(http_tls, .init = setup, .fini = teardown);

typedef struct pair {
    char cert[256], key[256];
    char fpr[HTTP_TLS_FPR_LEN + 1]; /* SHA-256 of the certificate's DER */
} pair;

/* DIR/<name>.pem and DIR/<name>.key (0600), valid from `from` to `to`
 * seconds around now. */
static void make_pair(pair *p, const char *name, long from, long to)
{
    snprintf(p->cert, sizeof(p->cert), "%s/%s.pem", dir, name);
    snprintf(p->key, sizeof(p->key), "%s/%s.key", dir, name);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    cr_assert(pk && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)name, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    cr_assert(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *f = fopen(p->cert, "w");
    cr_assert(f && PEM_write_X509(f, x));
    fclose(f);
    f = fopen(p->key, "w");
    cr_assert(f && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    chmod(p->key, 0600);
    unsigned char md[32];
    unsigned n = sizeof(md);
    cr_assert(X509_digest(x, EVP_sha256(), md, &n) && n == 32);
    for (unsigned i = 0; i < n; i++)
        snprintf(p->fpr + 2 * i, 3, "%02x", md[i]);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* Puts src's files at dst's paths by rename (a renewal). */
static void swap_in(const pair *dst, const pair *src)
{
    cr_assert_eq(rename(src->key, dst->key), 0);
    cr_assert_eq(rename(src->cert, dst->cert), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(http_tls, serves_a_pair_and_reports_its_fingerprint)
{
    pair a;
    make_pair(&a, "a", -60, 86400 * 90);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", a.cert, a.key, &e), CF_OK, "%s", e.msg);
    char fpr[HTTP_TLS_FPR_LEN + 1];
    http_tls_fingerprint(t, fpr);
    cr_assert_str_eq(fpr, a.fpr);
    cr_assert_eq(http_tls_check(t, &e), 0, "unchanged files are not read again");
    http_tls_free(t);
}

Test(http_tls, refuses_a_key_that_is_not_the_certificates)
{
    pair a, b;
    make_pair(&a, "a", -60, 86400);
    make_pair(&b, "b", -60, 86400);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", a.cert, b.key, &e), CF_EINVAL);
    cr_assert_null(t);
    cr_assert(strstr(e.msg, "is not the private key of the certificate") != NULL, "%s", e.msg);
}

Test(http_tls, refuses_a_key_readable_by_others)
{
    pair a;
    make_pair(&a, "a", -60, 86400);
    chmod(a.key, 0644);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", a.cert, a.key, &e), CF_EDENIED);
    cr_assert(strstr(e.msg, "must be 0600") != NULL, "%s", e.msg);
}

Test(http_tls, refuses_files_that_are_not_pem_or_absent)
{
    pair a;
    make_pair(&a, "a", -60, 86400);
    char junk[256];
    snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
    write_text(junk, "not a certificate\n");
    chmod(junk, 0644);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", junk, a.key, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "not a PEM certificate chain") != NULL, "%s", e.msg);
    cf_err e2 = {0};
    cr_assert_eq(http_tls_open(&t, "test", a.cert, junk, &e2), CF_EDENIED, "%s", e2.msg);
    chmod(junk, 0600);
    cf_err e3 = {0};
    cr_assert_eq(http_tls_open(&t, "test", a.cert, junk, &e3), CF_EINVAL);
    cr_assert(strstr(e3.msg, "not a PEM private key") != NULL, "%s", e3.msg);
    cf_err e4 = {0};
    char missing[256];
    snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
    cr_assert_eq(http_tls_open(&t, "test", missing, a.key, &e4), CF_ENOTFOUND, "%s", e4.msg);
}

Test(http_tls, refuses_an_expired_certificate)
{
    pair old;
    make_pair(&old, "old", -86400 * 30, -60);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", old.cert, old.key, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "expired") != NULL, "%s", e.msg);
}

Test(http_tls, a_changed_pair_is_reloaded_once)
{
    pair live, next;
    make_pair(&live, "live", -60, 86400);
    make_pair(&next, "next", -60, 86400);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", live.cert, live.key, &e), CF_OK, "%s", e.msg);
    swap_in(&live, &next);
    cr_assert_eq(http_tls_check(t, &e), 1, "%s", e.msg);
    char fpr[HTTP_TLS_FPR_LEN + 1];
    http_tls_fingerprint(t, fpr);
    cr_assert_str_eq(fpr, next.fpr);
    cr_assert_eq(http_tls_check(t, &e), 0);
    http_tls_free(t);
}

Test(http_tls, a_broken_renewal_keeps_the_current_certificate)
{
    pair live, other;
    make_pair(&live, "live", -60, 86400);
    make_pair(&other, "other", -60, 86400);
    http_tls *t = NULL;
    cf_err e = {0};
    cr_assert_eq(http_tls_open(&t, "test", live.cert, live.key, &e), CF_OK, "%s", e.msg);
    /* a renewal half done: the new key, the old certificate */
    cr_assert_eq(rename(other.key, live.key), 0);
    cr_assert_eq(http_tls_check(t, &e), -1);
    cr_assert(strstr(e.msg, "is not the private key") != NULL, "%s", e.msg);
    char fpr[HTTP_TLS_FPR_LEN + 1];
    http_tls_fingerprint(t, fpr);
    cr_assert_str_eq(fpr, live.fpr, "the served certificate stays");
    cf_err e2 = {0};
    cr_assert_eq(http_tls_check(t, &e2), 0, "the same files are not tried again");
    /* the renewal completes: the certificate follows */
    cr_assert_eq(rename(other.cert, live.cert), 0);
    cr_assert_eq(http_tls_check(t, &e2), 1, "%s", e2.msg);
    http_tls_fingerprint(t, fpr);
    cr_assert_str_eq(fpr, other.fpr);
    /* an explicit reload of a broken file fails and keeps it too */
    write_text(live.cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    cf_err e3 = {0};
    cr_assert_eq(http_tls_reload(t, &e3), CF_EINVAL);
    http_tls_fingerprint(t, fpr);
    cr_assert_str_eq(fpr, other.fpr);
    http_tls_free(t);
}

/* The policy string: GnuTLS accepts it, and every suite it enables is TLS
 * 1.2 or 1.3 with an AEAD cipher and (at 1.2) ECDHE key exchange. */
Test(http_tls, the_policy_is_tls12_and_up_with_forward_secret_aead_only)
{
    gnutls_priority_t p;
    const char *where = NULL;
    cr_assert_eq(gnutls_priority_init(&p, HTTP_TLS_PRIORITIES, &where), 0, "at %s", where);
    unsigned n = 0, tls13 = 0;
    for (unsigned i = 0;; i++) {
        unsigned idx;
        int r = gnutls_priority_get_cipher_suite_index(p, i, &idx);
        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (r < 0)
            continue;
        unsigned char id[2];
        gnutls_kx_algorithm_t kx;
        gnutls_cipher_algorithm_t cipher;
        gnutls_protocol_t min;
        const char *name = gnutls_cipher_suite_info(idx, id, &kx, &cipher, NULL, &min);
        cr_assert_not_null(name);
        n++;
        cr_assert(min == GNUTLS_TLS1_2 || min == GNUTLS_TLS1_3, "%s", name);
        cr_assert(cipher == GNUTLS_CIPHER_AES_128_GCM || cipher == GNUTLS_CIPHER_AES_256_GCM ||
                      cipher == GNUTLS_CIPHER_CHACHA20_POLY1305,
                  "%s", name);
        if (min == GNUTLS_TLS1_3)
            tls13++;
        else
            cr_assert(kx == GNUTLS_KX_ECDHE_ECDSA || kx == GNUTLS_KX_ECDHE_RSA, "%s", name);
    }
    cr_assert_geq(tls13, 3);
    cr_assert_geq(n, 9);
    const unsigned *protos;
    int np = gnutls_priority_protocol_list(p, &protos);
    for (int i = 0; i < np; i++)
        cr_assert(protos[i] == GNUTLS_TLS1_2 || protos[i] == GNUTLS_TLS1_3, "protocol %u",
                  protos[i]);
    gnutls_priority_deinit(p);
}

Test(http_tls, loopback_hosts_urls_and_listen_addresses)
{
    const char *yes[] = {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        cr_assert(http_host_is_loopback(yes[i], strlen(yes[i])), "%s", yes[i]);
    const char *no[] = {"",         "0.0.0.0", "10.0.0.1",       "128.0.0.1",       "::",
                        "[::ffff]", "[::1",    "localhost.evil", "127.0.0.1.nip.io"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        cr_assert(!http_host_is_loopback(no[i], strlen(no[i])), "%s", no[i]);

    cr_assert(http_url_is_loopback("http://127.0.0.1:5001/jwks"));
    cr_assert(http_url_is_loopback("http://localhost/jwks"));
    cr_assert(http_url_is_loopback("https://[::1]:8443/x?y"));
    cr_assert(http_url_is_loopback("http://user@127.0.0.1/"));
    cr_assert(!http_url_is_loopback("http://127.0.0.1@evil.example/jwks"));
    cr_assert(!http_url_is_loopback("http://evil.example/127.0.0.1"));
    cr_assert(!http_url_is_loopback("http://192.0.2.10:5001/jwks"));
    cr_assert(!http_url_is_loopback("ftp://127.0.0.1/"));
    cr_assert(!http_url_is_loopback("http://[::1/"));

    cr_assert(http_listen_is_loopback("127.0.0.1:5000"));
    cr_assert(http_listen_is_loopback("localhost:0"));
    cr_assert(http_listen_is_loopback(":5000"), "an empty host means 127.0.0.1");
    cr_assert(http_listen_is_loopback("[::1]:5000"));
    cr_assert(!http_listen_is_loopback("0.0.0.0:5000"));
    cr_assert(!http_listen_is_loopback("*:5000"));
    cr_assert(!http_listen_is_loopback("[::]:5000"));
    cr_assert(!http_listen_is_loopback("192.0.2.1:5000"));
    cr_assert(!http_listen_is_loopback("nonsense"));
}
