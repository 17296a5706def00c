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
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/log.h"
#include "crypto/jwt.h"

#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

#define MAX_TOKEN_LEN 16384
#define JWKS_REFRESH_S 3600
#define JWKS_RETRY_S 30
/* While an issuer has no key set at all, every token it issued is refused
 * ("token issuer not trusted"): try again after a second, not 30 (a
 * cluster restarted as a whole has the issuer's JWKS behind a load
 * balancer that sends nowhere until the nodes are up, and a 30 s wait
 * then kept every CMK registry locked for 30 s after they were). */
#define JWKS_FIRST_RETRY_S 1
#define MAX_RETIRED 64

/* One trusted issuer. jwks is replaced wholesale on refresh (URL issuers);
 * the replaced one is retired, not freed, until shutdown, because another
 * thread may be verifying with it (jwt.h: immutable, shared). */
typedef struct issuer_state {
    const vault_issuer *conf;
    jwt_jwks *jwks;
    int64_t fetched_at;
    int64_t tried_at;
} issuer_state;

struct vault_auth {
    const vault_config *cfg;
    char admin[VAULT_ADMIN_TOKEN_HEX + 1];
    pthread_mutex_t mu;
    issuer_state issuers[VAULT_CONFIG_MAX_ISSUERS];
    size_t n;
    jwt_jwks *retired[MAX_RETIRED];
    size_t n_retired;
};

static size_t curl_sink(char *p, size_t size, size_t n, void *ud)
{
    cf_buf *b = ud;
    if (cf_buf_append(b, p, size * n, NULL) != CF_OK)
        return 0; /* past the cap: abort the transfer */
    return size * n;
}

static cf_code fetch_jwks(jwt_jwks **out, const char *url, const char *ca_file, cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, JWT_MAX_JWKS_FILE);
    CURL *c = curl_easy_init();
    cf_code rc = CF_OK;
    if (c == NULL)
        return cf_err_set(e, CF_ENOMEM, "curl init failed");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        rc = cf_err_set(e, CF_EUNAVAIL, "JWKS fetch from %s failed: %s", url,
                        curl_easy_strerror(cc));
    else if (status != 200)
        rc = cf_err_set(e, CF_EUNAVAIL, "JWKS fetch from %s: HTTP %ld", url, status);
    else
        rc = jwt_jwks_parse_text(out, (const char *)b.data, b.len, e);
    curl_easy_cleanup(c);
    cf_buf_free(&b);
    return rc;
}

/* Under a->mu. Refreshes a URL issuer when stale (or forced by an unknown
 * kid), at most once per JWKS_RETRY_S (JWKS_FIRST_RETRY_S until it has
 * fetched a key set once). */
static void refresh_locked(vault_auth *a, issuer_state *is, int64_t now, int force)
{
    if (is->conf->jwks_url == NULL)
        return;
    int stale = is->jwks == NULL || now - is->fetched_at >= JWKS_REFRESH_S || force;
    int64_t retry = is->jwks == NULL ? JWKS_FIRST_RETRY_S : JWKS_RETRY_S;
    if (!stale || now - is->tried_at < retry)
        return;
    is->tried_at = now;
    jwt_jwks *k = NULL;
    cf_err e = {0};
    if (fetch_jwks(&k, is->conf->jwks_url, is->conf->ca_file, &e) != CF_OK) {
        cf_log(CF_LOG_WARN, "JWKS refresh failed", "issuer", is->conf->issuer, "error", e.msg,
               NULL);
        return;
    }
    if (is->jwks) {
        if (a->n_retired == MAX_RETIRED) {
            /* the oldest retired set has been out of use for hours */
            jwt_jwks_free(a->retired[0]);
            memmove(a->retired, a->retired + 1, (MAX_RETIRED - 1) * sizeof(a->retired[0]));
            a->n_retired--;
        }
        a->retired[a->n_retired++] = is->jwks;
    }
    is->jwks = k;
    is->fetched_at = now;
}

/* The configured issuer (its name) that the token's unverified iss names
 * when that is a URL issuer whose key set has never been fetched (every
 * fetch since the start failed); NULL otherwise. */
static const char *unfetched(vault_auth *a, const char *tok, size_t tl)
{
    jwt_claims c = {0};
    cf_err de = {0};
    const char *r = NULL;
    if (jwt_token_decode(&c, tok, tl, &de) == CF_OK && c.iss) {
        pthread_mutex_lock(&a->mu);
        for (size_t i = 0; i < a->n && r == NULL; i++)
            if (strcmp(a->issuers[i].conf->issuer, c.iss) == 0 && a->issuers[i].conf->jwks_url &&
                a->issuers[i].jwks == NULL)
                r = a->issuers[i].conf->issuer;
        pthread_mutex_unlock(&a->mu);
    }
    jwt_claims_free(&c);
    return r;
}

cf_code vault_auth_new(vault_auth **out, const vault_config *cfg, const char *admin_token,
                       cf_err *e)
{
    vault_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    a->cfg = cfg;
    snprintf(a->admin, sizeof(a->admin), "%s", admin_token);
    pthread_mutex_init(&a->mu, NULL);
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        issuer_state *is = &a->issuers[a->n++];
        is->conf = &cfg->issuers[i];
        if (is->conf->ca_file && access(is->conf->ca_file, R_OK) != 0) {
            cf_code rc =
                cf_err_os(e, errno, "issuer %s: ca_file %s", is->conf->issuer, is->conf->ca_file);
            vault_auth_free(a);
            return rc;
        }
        if (is->conf->jwks_file) {
            cf_code rc = jwt_jwks_load_file(&is->jwks, is->conf->jwks_file, e);
            if (rc != CF_OK) {
                vault_auth_free(a);
                return rc;
            }
        }
    }
    *out = a;
    return CF_OK;
}

void vault_auth_free(vault_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        jwt_jwks_free(a->issuers[i].jwks);
    for (size_t i = 0; i < a->n_retired; i++)
        jwt_jwks_free(a->retired[i]);
    pthread_mutex_destroy(&a->mu);
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
    if (a->n == 0)
        return cf_err_set(e, CF_EAUTH, "AKV10032: Invalid issuer: no token issuer is trusted.");
    int64_t now = (int64_t)time(NULL);
    for (int attempt = 0; attempt < 2; attempt++) {
        jwt_issuer iss[VAULT_CONFIG_MAX_ISSUERS];
        size_t k = 0;
        pthread_mutex_lock(&a->mu);
        for (size_t i = 0; i < a->n; i++) {
            refresh_locked(a, &a->issuers[i], now, attempt == 1);
            if (a->issuers[i].jwks)
                iss[k++] = (jwt_issuer){.issuer = a->issuers[i].conf->issuer,
                                        .audience = a->issuers[i].conf->audience,
                                        .jwks = a->issuers[i].jwks};
        }
        pthread_mutex_unlock(&a->mu);
        jwt_claims c = {0};
        jwt_fail fail = JWT_FAIL_NONE;
        cf_err je = {0};
        cf_code rc = jwt_authenticate(&c, &fail, tok, tl, iss, k, now, JWT_DEFAULT_SKEW, &je);
        if (rc == CF_OK) {
            const char *oid = jwt_claims_object_id(&c), *app = jwt_claims_app_id(&c);
            snprintf(out->oid, sizeof(out->oid), "%s", oid ? oid : "");
            snprintf(out->appid, sizeof(out->appid), "%s", app ? app : "");
            snprintf(out->tid, sizeof(out->tid), "%s", c.tid ? c.tid : "");
            snprintf(out->iss, sizeof(out->iss), "%s", c.iss ? c.iss : "");
            for (size_t i = 0; c.iss && i < a->n; i++)
                if (strcmp(a->issuers[i].conf->issuer, c.iss) == 0)
                    out->trusted_service = a->issuers[i].conf->trusted_service;
            jwt_claims_free(&c);
            if (out->oid[0] == '\0')
                return cf_err_set(e, CF_EAUTH, "AKV10032: the token names no oid or sub.");
            return CF_OK;
        }
        jwt_claims_free(&c);
        /* an unknown kid may mean the issuer rotated its keys: refetch once */
        if (fail == JWT_FAIL_KID && attempt == 0)
            continue;
        const char *waiting = fail == JWT_FAIL_UNTRUSTED_ISSUER ? unfetched(a, tok, tl) : NULL;
        if (waiting)
            /* a trusted issuer whose keys this vault has not fetched yet:
             * the vault cannot check the token now, which says nothing
             * about the token (503, not 401: a key check that met a 401
             * would lock the caller's registry as if its access were
             * revoked) */
            return cf_err_set(e, CF_EUNAVAIL,
                              "The signing keys of token issuer %s could not be fetched yet; "
                              "try again shortly.",
                              waiting);
        return cf_err_set(e, CF_EAUTH, "AKV10032: %s", je.msg);
    }
    return cf_err_set(e, CF_EAUTH, "AKV10032: Invalid token.");
}
