/*
 * credentials.c -- see credentials.h. Passwords only ever live in
 * caller-provided buffers and short-lived locals that are wiped; K_cred is
 * derived per call (an HKDF, cheap; once per check) and wiped, never
 * cached or stored.
 */
#define CF_LOG_MOD "credentials"
#include "registry/credentials.h"

#include "base/buf.h"
#include "base/enc.h"
#include "registry/keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static const char K_CRED_INFO[] = "coffer/v1/credential-hmac";

/* base64url of 32 bytes into pw (43 chars + NUL). */
static cf_code encode_pw(char pw[44], const unsigned char raw[KEYS_SECRET_LEN], cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, 64);
    cf_code rc = cf_b64url_encode(&b, raw, KEYS_SECRET_LEN, e);
    if (rc == CF_OK && b.len != CRED_PW_LEN)
        rc = cf_err_set(e, CF_EINVAL, "unexpected password encoding length");
    if (rc == CF_OK) {
        memcpy(pw, b.data, CRED_PW_LEN);
        pw[CRED_PW_LEN] = '\0';
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    cf_buf_free(&b);
    return rc;
}

static cf_code wrap_id(char *out, size_t cap, const char *registry_id, int which, cf_err *e)
{
    if (which != 1 && which != 2)
        return cf_err_set(e, CF_EINVAL, "admin password slot must be 1 or 2");
    snprintf(out, cap, "admin:%s:%d", registry_id, which);
    return CF_OK;
}

cf_code cred_admin_new(char pw[44], unsigned char wrapped[KEYS_WRAPPED_LEN],
                       const char *registry_id, int which, cf_err *e)
{
    char id[META_ID_LEN + 16];
    cf_code rc = wrap_id(id, sizeof(id), registry_id, which, e);
    if (rc != CF_OK)
        return rc;
    unsigned char raw[KEYS_SECRET_LEN];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return cf_err_ssl(e, "random password");
    rc = keyring_wrap_secret(wrapped, id, raw, e);
    if (rc == CF_OK)
        rc = encode_pw(pw, raw, e);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

cf_code cred_admin_reveal(char pw[44], const unsigned char wrapped[KEYS_WRAPPED_LEN],
                          const char *registry_id, int which, cf_err *e)
{
    char id[META_ID_LEN + 16];
    cf_code rc = wrap_id(id, sizeof(id), registry_id, which, e);
    if (rc != CF_OK)
        return rc;
    unsigned char raw[KEYS_SECRET_LEN];
    rc = keyring_unwrap_secret(raw, id, wrapped, e);
    if (rc == CF_OK)
        rc = encode_pw(pw, raw, e);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

static cf_code hmac_with(unsigned char out[32], const unsigned char k[KEYS_SECRET_LEN],
                         const char *password, size_t len, cf_err *e)
{
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), k, KEYS_SECRET_LEN, (const unsigned char *)password, len, out, &n) ==
            NULL ||
        n != 32)
        return cf_err_ssl(e, "credential HMAC");
    return CF_OK;
}

cf_code cred_hmac(unsigned char out[32], const char *password, size_t len, cf_err *e)
{
    unsigned char k[KEYS_SECRET_LEN];
    cf_code rc = keyring_derive(k, K_CRED_INFO, e);
    if (rc == CF_OK)
        rc = hmac_with(out, k, password, len, e);
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

cf_code cred_token_password_new(char pw[44], unsigned char hmac[32], cf_err *e)
{
    unsigned char raw[KEYS_SECRET_LEN];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return cf_err_ssl(e, "random password");
    cf_code rc = encode_pw(pw, raw, e);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc == CF_OK)
        rc = cred_hmac(hmac, pw, CRED_PW_LEN, e);
    if (rc != CF_OK)
        OPENSSL_cleanse(pw, 44);
    return rc;
}

static cf_code denied(cf_err *e)
{
    return cf_err_set(e, CF_EAUTH, "invalid username or password");
}

/* 1 when mac equals one of the set candidates; every candidate is
 * compared, set or not (no early exit, no skipped work). */
static int match_any(const unsigned char mac[32], const unsigned char cand[2][32], const int set[2])
{
    int ok = 0;
    for (int i = 0; i < 2; i++)
        ok |= set[i] & (CRYPTO_memcmp(mac, cand[i], 32) == 0);
    return ok;
}

/* ---- equal cost ----
 * What a check of an absent registry, or of a registry without admin
 * passwords, reveals instead: two admin passwords wrapped under the SRK
 * for a registry id no registry has (random, made at cred_init). Revealing
 * them is the same work as revealing real ones; they match nothing. */
static char dummy_id[META_ID_LEN + 1];
static unsigned char dummy_wrapped[2][KEYS_WRAPPED_LEN];
static int dummy_ready;

cf_code cred_init(cf_err *e)
{
    unsigned char raw[16];
    char id[META_ID_LEN + 1];
    unsigned char w[2][KEYS_WRAPPED_LEN];
    char pw[44];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return cf_err_ssl(e, "random dummy registry id");
    cf_hex_encode(id, raw, sizeof(raw));
    cf_code rc = CF_OK;
    for (int i = 0; rc == CF_OK && i < 2; i++) {
        rc = cred_admin_new(pw, w[i], id, i + 1, e);
        OPENSSL_cleanse(pw, sizeof(pw));
    }
    if (rc != CF_OK)
        return rc;
    memcpy(dummy_id, id, sizeof(dummy_id));
    memcpy(dummy_wrapped, w, sizeof(dummy_wrapped));
    dummy_ready = 1;
    return CF_OK;
}

cf_code cred_check(cred_who *who, const meta_registry *reg, const char *user, const char *password,
                   cf_err *e)
{
    memset(who, 0, sizeof(*who));
    if (user == NULL || password == NULL || user[0] == '\0')
        return denied(e);
    if (!dummy_ready)
        return cf_err_set(e, CF_EUNAVAIL, "credential checks not initialized");
    unsigned char k[KEYS_SECRET_LEN], mac[32];
    cf_code rc = keyring_derive(k, K_CRED_INFO, e);
    if (rc == CF_OK)
        rc = hmac_with(mac, k, password, strlen(password), e);
    if (rc != CF_OK) {
        OPENSSL_cleanse(k, sizeof(k));
        return rc;
    }
    const char *rid = reg ? reg->id : dummy_id;
    int is_admin = reg != NULL && strcasecmp(user, reg->name) == 0;
    /* the admin user's passwords, or the dummies: two reveals and HMACs
     * (compared by HMAC so that the compare is constant-time whatever the
     * given length) */
    unsigned char acand[2][32];
    int aset[2] = {0, 0};
    memset(acand, 0, sizeof(acand));
    for (int i = 0; rc == CF_OK && i < 2; i++) {
        int real = is_admin && reg->admin_pw_set[i];
        char pw[44];
        rc = cred_admin_reveal(pw, real ? reg->admin_pw[i] : dummy_wrapped[i],
                               real ? reg->id : dummy_id, i + 1, e);
        if (rc == CF_OK)
            rc = hmac_with(acand[i], k, pw, CRED_PW_LEN, e);
        OPENSSL_cleanse(pw, sizeof(pw));
        aset[i] = real && rc == CF_OK;
    }
    /* the user among the registry's tokens, always (the admin user's name
     * too; an unknown token compares against zeros, as much work) */
    unsigned char tcand[2][32];
    int tset[2] = {0, 0};
    memset(tcand, 0, sizeof(tcand));
    meta_token *t = calloc(1, sizeof(*t));
    cf_code g = CF_ENOTFOUND;
    if (t == NULL && rc == CF_OK) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    } else if (t != NULL) {
        cf_err le = {0};
        g = strlen(user) < sizeof(t->name) ? meta_token_get(t, rid, user, &le) : CF_ENOTFOUND;
        if (g == CF_OK && !is_admin) {
            memcpy(tcand, t->pw_hmac, sizeof(tcand));
            tset[0] = t->pw_set[0];
            tset[1] = t->pw_set[1];
        } else if (g != CF_OK && g != CF_ENOTFOUND && rc == CF_OK) {
            rc = cf_err_set(e, g, "%s", le.msg);
        }
    }
    int admin_ok = match_any(mac, acand, aset);
    int token_ok = match_any(mac, tcand, tset);
    int ok = rc == CF_OK && ((is_admin && admin_ok && reg->admin_enabled) ||
                             (!is_admin && token_ok && g == CF_OK && t->enabled));
    if (ok && is_admin) {
        who->kind = CRED_ADMIN;
        snprintf(who->name, sizeof(who->name), "%s", reg->name);
    } else if (ok) {
        who->kind = CRED_TOKEN;
        snprintf(who->name, sizeof(who->name), "%s", t->name);
        snprintf(who->scope, sizeof(who->scope), "%s", t->scope);
    }
    if (t) {
        OPENSSL_cleanse(t->pw_hmac, sizeof(t->pw_hmac));
        free(t);
    }
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(acand, sizeof(acand));
    OPENSSL_cleanse(tcand, sizeof(tcand));
    if (rc != CF_OK)
        return rc;
    return ok ? CF_OK : denied(e);
}
