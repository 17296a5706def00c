/*
 * tls.c -- see tls.h. GnuTLS for the certificate (libmicrohttpd's TLS
 * library), stat(2) for noticing renewed files.
 *
 * Locking: t->mu guards t->cur and the moment a connection takes its
 * reference; references are counted with atomics, so a connection that
 * closes drops its reference without the lock. Only the thread that calls
 * http_tls_open/reload/check (the main thread) parses files and touches the
 * recorded file signatures.
 */
#define CF_LOG_MOD "tls"
#include "http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/fs.h"
#include "base/log.h"

#define PEM_CAP (1 << 20)
#define EXPIRY_WARN_S (14 * 86400)

/* One loaded certificate chain and its key; freed by its last user. */
typedef struct tls_gen {
    gnutls_pcert_st pcerts[HTTP_TLS_MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    unsigned refs;
    char fpr[HTTP_TLS_FPR_LEN + 1];
    time_t expires;
    char not_after[32];
    char subject[256];
} tls_gen;

/* What a file looked like when it was last read. */
typedef struct file_sig {
    int ok; /* 0: stat failed */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
} file_sig;

struct http_tls {
    char name[32];
    char *cert_file, *key_file;
    pthread_mutex_t mu;
    tls_gen *cur;
    file_sig cert_sig, key_sig;
};

static void gen_free(tls_gen *g)
{
    if (g == NULL)
        return;
    for (unsigned i = 0; i < g->n; i++)
        gnutls_pcert_deinit(&g->pcerts[i]);
    gnutls_privkey_deinit(g->key); /* GnuTLS wipes the key material */
    free(g);
}

static void gen_release(tls_gen *g)
{
    if (g && __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) == 0)
        gen_free(g);
}

static tls_gen *gen_acquire(http_tls *t)
{
    pthread_mutex_lock(&t->mu);
    tls_gen *g = t->cur;
    __atomic_add_fetch(&g->refs, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&t->mu);
    return g;
}

static void sig_of(const char *path, file_sig *s)
{
    struct stat st;
    memset(s, 0, sizeof(*s));
    if (stat(path, &st) != 0)
        return;
    s->ok = 1;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtim = st.st_mtim;
}

static int sig_same(const file_sig *a, const file_sig *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec;
}

/* cf_err_set with GnuTLS's reason for rc appended. */
__attribute__((format(printf, 3, 4))) static cf_code gnutls_fail(cf_err *e, int rc, const char *fmt,
                                                                 ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cf_err_set(e, CF_EINVAL, "%s (%s)", what, gnutls_strerror(rc));
}

/* Whether the key's public half is the leaf certificate's. */
static cf_code key_matches(tls_gen *g, const char *key_file, cf_err *e)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {0}, b = {0};
    cf_code rc = CF_OK;
    int r;
    if ((r = gnutls_pubkey_init(&pub)) < 0 ||
        (r = gnutls_pubkey_import_privkey(pub, g->key, 0, 0)) < 0 ||
        (r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a)) < 0 ||
        (r = gnutls_pubkey_export2(g->pcerts[0].pubkey, GNUTLS_X509_FMT_DER, &b)) < 0) {
        rc = gnutls_fail(e, r, "%s: cannot read the key's public half", key_file);
        goto out;
    }
    if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0)
        rc = cf_err_set(e, CF_EINVAL,
                        "%s is not the private key of the certificate (the first one in the "
                        "certificate file)",
                        key_file);
out:
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pub);
    return rc;
}

/* Fingerprint, subject and expiry of the leaf; refuses an expired one. */
static cf_code describe(tls_gen *g, const char *cert_file, cf_err *e)
{
    unsigned char fpr[32];
    size_t fl = sizeof(fpr);
    int r = gnutls_fingerprint(GNUTLS_DIG_SHA256, &g->pcerts[0].cert, fpr, &fl);
    if (r < 0 || fl != sizeof(fpr))
        return gnutls_fail(e, r, "%s: cannot fingerprint the certificate", cert_file);
    cf_hex_encode(g->fpr, fpr, sizeof(fpr));
    gnutls_x509_crt_t x = NULL;
    cf_code rc = CF_OK;
    if ((r = gnutls_x509_crt_init(&x)) < 0 ||
        (r = gnutls_x509_crt_import(x, &g->pcerts[0].cert, GNUTLS_X509_FMT_DER)) < 0) {
        rc = gnutls_fail(e, r, "%s: cannot parse the certificate", cert_file);
        goto out;
    }
    size_t sl = sizeof(g->subject);
    if (gnutls_x509_crt_get_dn(x, g->subject, &sl) < 0)
        snprintf(g->subject, sizeof(g->subject), "?");
    time_t na = g->expires = gnutls_x509_crt_get_expiration_time(x);
    struct tm tm;
    if (na == (time_t)-1 || gmtime_r(&na, &tm) == NULL)
        snprintf(g->not_after, sizeof(g->not_after), "?");
    else
        strftime(g->not_after, sizeof(g->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (na != (time_t)-1 && na < time(NULL))
        rc = cf_err_set(e, CF_EINVAL, "%s: the certificate expired at %s", cert_file, g->not_after);
out:
    gnutls_x509_crt_deinit(x);
    return rc;
}

/* Parses the files into a new generation (one reference, the caller's). */
static cf_code gen_load(tls_gen **out, const char *cert_file, const char *key_file, cf_err *e)
{
    cf_buf cb, kb;
    cf_buf_init(&cb, PEM_CAP);
    cf_buf_init(&kb, PEM_CAP);
    kb.secret = 1;
    tls_gen *g = calloc(1, sizeof(*g));
    cf_code rc = CF_OK;
    int r;
    if (g == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    g->refs = 1;
    if ((rc = cf_fs_read_all(cert_file, PEM_CAP, &cb, e)) != CF_OK ||
        (rc = cf_fs_check_private(key_file, e)) != CF_OK ||
        (rc = cf_fs_read_all(key_file, PEM_CAP, &kb, e)) != CF_OK)
        goto out;
    gnutls_datum_t cd = {cb.data, (unsigned)cb.len}, kd = {kb.data, (unsigned)kb.len};
    unsigned n = HTTP_TLS_MAX_CHAIN;
    if (cb.len == 0 ||
        (r = gnutls_pcert_list_import_x509_raw(g->pcerts, &n, &cd, GNUTLS_X509_FMT_PEM,
                                               GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED)) < 0) {
        rc = cb.len == 0 ? cf_err_set(e, CF_EINVAL, "%s is empty", cert_file)
                         : gnutls_fail(e, r,
                                       "%s: not a PEM certificate chain (server certificate "
                                       "first, then its issuers)",
                                       cert_file);
        goto out;
    }
    g->n = n;
    if ((r = gnutls_privkey_init(&g->key)) < 0 ||
        (r = gnutls_privkey_import_x509_raw(g->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        rc = gnutls_fail(e, r, "%s: not a PEM private key (unencrypted)", key_file);
        goto out;
    }
    if ((rc = key_matches(g, key_file, e)) != CF_OK || (rc = describe(g, cert_file, e)) != CF_OK)
        goto out;
    *out = g;
    g = NULL;
out:
    gen_free(g);
    cf_buf_free(&cb);
    cf_buf_free(&kb); /* secret: wiped */
    return rc;
}

static void log_loaded(const http_tls *t, const tls_gen *g, const char *what)
{
    cf_log(CF_LOG_INFO, what, "listener", t->name, "cert", t->cert_file, "subject", g->subject,
           "not_after", g->not_after, "sha256", g->fpr, NULL);
    if (g->expires != (time_t)-1 && g->expires - time(NULL) < EXPIRY_WARN_S)
        cf_log(CF_LOG_WARN, "TLS certificate expires within 14 days", "listener", t->name, "cert",
               t->cert_file, "not_after", g->not_after, NULL);
}

cf_code http_tls_open(http_tls **out, const char *name, const char *cert_file, const char *key_file,
                      cf_err *e)
{
    http_tls *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    snprintf(t->name, sizeof(t->name), "%s", name);
    pthread_mutex_init(&t->mu, NULL);
    t->cert_file = strdup(cert_file);
    t->key_file = strdup(key_file);
    cf_code rc;
    if (t->cert_file == NULL || t->key_file == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto fail;
    }
    sig_of(cert_file, &t->cert_sig);
    sig_of(key_file, &t->key_sig);
    if ((rc = gen_load(&t->cur, cert_file, key_file, e)) != CF_OK)
        goto fail;
    log_loaded(t, t->cur, "TLS certificate loaded");
    *out = t;
    return CF_OK;
fail:
    http_tls_free(t);
    return rc;
}

cf_code http_tls_reload(http_tls *t, cf_err *e)
{
    sig_of(t->cert_file, &t->cert_sig);
    sig_of(t->key_file, &t->key_sig);
    tls_gen *g = NULL;
    cf_code rc = gen_load(&g, t->cert_file, t->key_file, e);
    if (rc != CF_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    tls_gen *old = t->cur;
    t->cur = g;
    pthread_mutex_unlock(&t->mu);
    log_loaded(t, g, "TLS certificate reloaded");
    gen_release(old); /* freed when its last connection closes */
    return CF_OK;
}

int http_tls_check(http_tls *t, cf_err *e)
{
    file_sig c, k;
    sig_of(t->cert_file, &c);
    sig_of(t->key_file, &k);
    if (sig_same(&c, &t->cert_sig) && sig_same(&k, &t->key_sig))
        return 0;
    return http_tls_reload(t, e) == CF_OK ? 1 : -1;
}

void http_tls_fingerprint(http_tls *t, char out[HTTP_TLS_FPR_LEN + 1])
{
    pthread_mutex_lock(&t->mu);
    memcpy(out, t->cur->fpr, HTTP_TLS_FPR_LEN + 1);
    pthread_mutex_unlock(&t->mu);
}

void http_tls_free(http_tls *t)
{
    if (t == NULL)
        return;
    gen_release(t->cur);
    pthread_mutex_destroy(&t->mu);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}

/* MHD: a connection takes the current generation when it is accepted and
 * gives it back when it closes (after MHD has freed its TLS session). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = gen_acquire(cls);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        gen_release(*socket_context);
        *socket_context = NULL;
    }
}

/* GnuTLS, during a handshake: the certificate of this connection's
 * generation. MHD keeps its connection as the session's pointer. */
static int retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct MHD_Connection *c = gnutls_session_get_ptr(s);
    const union MHD_ConnectionInfo *ci =
        c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    tls_gen *g = ci ? ci->socket_context : NULL;
    if (g == NULL)
        return -1; /* aborts the handshake */
    *pcert = g->pcerts;
    *pcert_length = g->n;
    *pkey = g->key;
    return 0;
}

int http_tls_mhd_options(http_tls *t, struct MHD_OptionItem *ops)
{
    int n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)retrieve};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, t};
    return n;
}

static void reload_failed(const http_tls *t, const cf_err *e)
{
    cf_log(CF_LOG_WARN, "TLS certificate reload failed; the current certificate stays", "listener",
           t->name, "error", e->msg, NULL);
}

int http_tls_wait_stop(const sigset_t *set, http_tls *const *ts, size_t n)
{
    for (;;) {
        struct timespec poll = {HTTP_TLS_POLL_S, 0};
        int sig = n ? sigtimedwait(set, NULL, &poll) : sigwaitinfo(set, NULL);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGHUP && n == 0)
            cf_log(CF_LOG_INFO, "SIGHUP: no TLS certificate to reload", NULL);
        for (size_t i = 0; i < n; i++) {
            cf_err e = {0};
            if (sig == SIGHUP ? http_tls_reload(ts[i], &e) != CF_OK : http_tls_check(ts[i], &e) < 0)
                reload_failed(ts[i], &e);
        }
    }
}

int http_host_is_loopback(const char *host, size_t len)
{
    char h[64];
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(h) || memchr(host, '\0', len) != NULL)
        return 0;
    memcpy(h, host, len);
    h[len] = '\0';
    if (strcasecmp(h, "localhost") == 0)
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int http_url_is_loopback(const char *url)
{
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else
        return 0;
    size_t alen = strcspn(p, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) {
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hlen;
    if (alen > 0 && p[0] == '[') {
        const char *rb = memchr(p, ']', alen);
        if (rb == NULL)
            return 0;
        hlen = (size_t)(rb - p) + 1;
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
    }
    return http_host_is_loopback(p, hlen);
}
