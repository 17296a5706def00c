/*
 * session.c -- see session.h.
 */
#include "portal/session.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "base/buf.h"
#include "base/enc.h"
#include "crypto/keys.h"

typedef struct slot {
    int used;
    unsigned char id_hash[32];
    int64_t created, seen;
    portal_who who;
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot slots[PORTAL_SESSIONS];

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void slot_wipe(slot *s)
{
    OPENSSL_cleanse(s, sizeof(*s));
}

static cf_code random_b64(char out[PORTAL_SID_LEN + 1], cf_err *e)
{
    unsigned char raw[32];
    cf_buf b;
    cf_buf_init(&b, 0);
    b.secret = 1;
    cf_code rc = keys_random(raw, sizeof(raw), e);
    if (rc == CF_OK)
        rc = cf_b64url_encode(&b, raw, sizeof(raw), e);
    if (rc == CF_OK && b.len != PORTAL_SID_LEN)
        rc = cf_err_set(e, CF_ECRYPTO, "unexpected encoding length");
    if (rc == CF_OK) {
        memcpy(out, b.data, PORTAL_SID_LEN);
        out[PORTAL_SID_LEN] = '\0';
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    cf_buf_free(&b);
    return rc;
}

static int expired(const slot *s, int64_t now)
{
    return now - s->seen > PORTAL_IDLE_S || now - s->created > PORTAL_LIFETIME_S;
}

/* The live slot of sid, under mu; NULL when none. Every slot is compared
 * (constant time in the hash), whether or not an earlier one matched. */
static slot *find(const char *sid)
{
    if (sid == NULL || strlen(sid) != PORTAL_SID_LEN)
        return NULL;
    unsigned char h[32];
    SHA256((const unsigned char *)sid, PORTAL_SID_LEN, h);
    slot *hit = NULL;
    int64_t now = now_s();
    for (size_t i = 0; i < PORTAL_SESSIONS; i++) {
        slot *s = &slots[i];
        if (!s->used)
            continue;
        if (expired(s, now)) {
            slot_wipe(s);
            continue;
        }
        if (CRYPTO_memcmp(s->id_hash, h, sizeof(h)) == 0)
            hit = s;
    }
    return hit;
}

cf_code session_create(char sid[PORTAL_SID_LEN + 1], const portal_who *w, cf_err *e)
{
    portal_who nw = *w;
    cf_code rc = random_b64(sid, e);
    if (rc == CF_OK)
        rc = random_b64(nw.csrf, e);
    if (rc != CF_OK) {
        OPENSSL_cleanse(&nw, sizeof(nw));
        return rc;
    }
    nw.vault_url[0] = nw.vault_token[0] = nw.flash[0] = '\0';
    pthread_mutex_lock(&mu);
    int64_t now = now_s();
    slot *s = NULL, *oldest = NULL;
    for (size_t i = 0; i < PORTAL_SESSIONS; i++) {
        slot *c = &slots[i];
        if (c->used && expired(c, now))
            slot_wipe(c);
        if (!c->used) {
            if (s == NULL)
                s = c;
        } else if (oldest == NULL || c->seen < oldest->seen) {
            oldest = c;
        }
    }
    if (s == NULL) {
        slot_wipe(oldest);
        s = oldest;
    }
    s->used = 1;
    SHA256((const unsigned char *)sid, PORTAL_SID_LEN, s->id_hash);
    s->created = s->seen = now;
    s->who = nw;
    pthread_mutex_unlock(&mu);
    OPENSSL_cleanse(&nw, sizeof(nw));
    return CF_OK;
}

int session_get(portal_who *out, const char *sid)
{
    pthread_mutex_lock(&mu);
    slot *s = find(sid);
    if (s) {
        s->seen = now_s();
        *out = s->who;
        s->who.flash[0] = '\0';
    }
    pthread_mutex_unlock(&mu);
    return s ? 0 : -1;
}

void session_destroy(const char *sid)
{
    pthread_mutex_lock(&mu);
    slot *s = find(sid);
    if (s)
        slot_wipe(s);
    pthread_mutex_unlock(&mu);
}

void session_set_vault(const char *sid, const char *url, const char *token)
{
    pthread_mutex_lock(&mu);
    slot *s = find(sid);
    if (s) {
        OPENSSL_cleanse(s->who.vault_token, sizeof(s->who.vault_token));
        s->who.vault_url[0] = '\0';
        if (url && token) {
            snprintf(s->who.vault_url, sizeof(s->who.vault_url), "%s", url);
            snprintf(s->who.vault_token, sizeof(s->who.vault_token), "%s", token);
        }
    }
    pthread_mutex_unlock(&mu);
}

void session_set_flash(const char *sid, const char *msg)
{
    pthread_mutex_lock(&mu);
    slot *s = find(sid);
    if (s)
        snprintf(s->who.flash, sizeof(s->who.flash), "%s", msg ? msg : "");
    pthread_mutex_unlock(&mu);
}

void session_clear_all(void)
{
    pthread_mutex_lock(&mu);
    OPENSSL_cleanse(slots, sizeof(slots));
    pthread_mutex_unlock(&mu);
}
