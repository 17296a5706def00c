/*
 * keyring.c -- see keyring.h. A table of entries under one mutex, in
 * mlock'ed chunks (base/locked.h) so KEKs are not swapped out.
 */
#define CF_LOG_MOD "keyring"
#include "registry/keyring.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "base/locked.h"
#include "base/log.h"

#define KEYRING_MAX 4096

typedef struct entry {
    char id[META_ID_LEN + 1];
    int state; /* 0 free, 1 available, 2 locked */
    seal_kek kek;
    cf_code why; /* locked: CF_EDENIED or CF_EUNAVAIL */
    char reason[1024];
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char srk[KEYS_SECRET_LEN];
static int have_srk;
static cf_locked entries = CF_LOCKED_INIT(entry, 64, KEYRING_MAX);

static entry *at(size_t i)
{
    return cf_locked_at(&entries, i);
}
static void (*_Atomic miss_hook)(const char *registry_id);

void keyring_set_miss_hook(void (*fn)(const char *registry_id))
{
    miss_hook = fn;
}

cf_code keyring_init(const char *srk_path, cf_err *e)
{
    cf_code rc = keys_srk_load_or_create(srk_path, srk, e);
    if (rc != CF_OK)
        return rc;
    if (mlock(srk, sizeof(srk)) != 0)
        cf_log(CF_LOG_DEBUG, "mlock of key memory failed; keys may be swapped", NULL);
    have_srk = 1;
    return CF_OK;
}

void keyring_shutdown(void)
{
    pthread_mutex_lock(&mu);
    keys_wipe(srk, sizeof(srk));
    have_srk = 0;
    cf_locked_free(&entries);
    pthread_mutex_unlock(&mu);
}

static entry *find(const char *id)
{
    for (size_t i = 0; i < entries.n; i++)
        if (at(i)->state != 0 && strcmp(at(i)->id, id) == 0)
            return at(i);
    return NULL;
}

static entry *slot(const char *id)
{
    entry *en = find(id);
    if (en)
        return en;
    for (size_t i = 0; i < entries.n; i++)
        if (at(i)->state == 0)
            return at(i);
    return cf_locked_add(&entries);
}

/* S from the row, unwrapped under the SRK; the KEK derived with c (may be
 * NULL). Caller holds mu. */
static cf_code derive(entry *en, const meta_registry *reg, const unsigned char *c, cf_err *e)
{
    unsigned char s[KEYS_SECRET_LEN];
    cf_code rc = keys_secret_unwrap(s, srk, reg->id, reg->wrapped_s, e);
    if (rc == CF_OK)
        rc = keys_kek_derive(&en->kek, s, c, reg->id, e);
    keys_wipe(s, sizeof(s));
    if (rc == CF_OK) {
        snprintf(en->id, sizeof(en->id), "%s", reg->id);
        en->state = 1;
        en->reason[0] = '\0';
    }
    return rc;
}

/* One lookup; *missed = 1 when a CMK registry has no entry at all. */
static cf_code kek_once(seal_kek *out, const meta_registry *reg, int *missed, cf_err *e)
{
    cf_code rc = CF_OK;
    *missed = 0;
    pthread_mutex_lock(&mu);
    if (!have_srk) {
        rc = cf_err_set(e, CF_EUNAVAIL, "keys are not loaded (service stopping)");
        goto out;
    }
    entry *en = find(reg->id);
    if (en && en->state == 2) {
        rc = cf_err_set(e, en->why, "registry %s is locked: %s", reg->name, en->reason);
        goto out;
    }
    if (en == NULL) {
        if (reg->cmk) {
            rc =
                cf_err_set(e, CF_EUNAVAIL,
                           "registry %s is locked: customer-managed key not loaded yet", reg->name);
            *missed = 1;
            goto out;
        }
        en = slot(reg->id);
        if (en == NULL) {
            rc = cf_err_set(e, CF_EUNAVAIL, "too many registries with keys in memory");
            goto out;
        }
        rc = derive(en, reg, NULL, e);
        if (rc != CF_OK) {
            memset(en, 0, sizeof(*en));
            goto out;
        }
    }
    *out = en->kek;
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

cf_code keyring_kek(seal_kek *out, const meta_registry *reg, cf_err *e)
{
    int missed = 0;
    cf_err first = {0};
    cf_code rc = kek_once(out, reg, &missed, &first);
    void (*hook)(const char *) = miss_hook;
    if (missed && hook) {
        /* never loaded here (created on another node, or before this
         * node's first round): the key engine loads it now, then again */
        hook(reg->id);
        rc = kek_once(out, reg, &missed, e);
    } else if (rc != CF_OK) {
        cf_err_set(e, first.code, "%s", first.msg);
    }
    return rc;
}

int keyring_known(const char *registry_id)
{
    pthread_mutex_lock(&mu);
    int known = have_srk && find(registry_id) != NULL;
    pthread_mutex_unlock(&mu);
    return known;
}

static cf_code with_srk(int wrap, unsigned char *out, const char *id, const unsigned char *in,
                        cf_err *e);

cf_code keyring_new_secret(unsigned char wrapped[KEYS_WRAPPED_LEN], const char *registry_id,
                           cf_err *e)
{
    unsigned char s[KEYS_SECRET_LEN];
    cf_code rc = keys_random(s, sizeof(s), e);
    if (rc == CF_OK)
        rc = keyring_wrap_secret(wrapped, registry_id, s, e);
    keys_wipe(s, sizeof(s));
    return rc;
}

cf_code keyring_set_cmk(const meta_registry *reg, const unsigned char c[KEYS_SECRET_LEN], cf_err *e)
{
    pthread_mutex_lock(&mu);
    cf_code rc = CF_OK;
    entry *en = have_srk ? slot(reg->id) : NULL;
    if (en == NULL)
        rc = cf_err_set(e, CF_EUNAVAIL, "keyring unavailable");
    else
        rc = derive(en, reg, c, e);
    if (rc != CF_OK && en)
        memset(en, 0, sizeof(*en));
    pthread_mutex_unlock(&mu);
    return rc;
}

void keyring_lock(const char *registry_id, cf_code why, const char *reason)
{
    pthread_mutex_lock(&mu);
    entry *en = have_srk ? slot(registry_id) : NULL;
    if (en) {
        OPENSSL_cleanse(&en->kek, sizeof(en->kek));
        snprintf(en->id, sizeof(en->id), "%s", registry_id);
        snprintf(en->reason, sizeof(en->reason), "%s", reason ? reason : "key unavailable");
        en->why = why == CF_EDENIED ? CF_EDENIED : CF_EUNAVAIL;
        en->state = 2;
    }
    pthread_mutex_unlock(&mu);
}

size_t keyring_reason(const char *registry_id, char *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    entry *en = have_srk ? find(registry_id) : NULL;
    if (en && en->state == 2 && cap > 0) {
        snprintf(out, cap, "%s", en->reason);
        n = strlen(out);
    }
    pthread_mutex_unlock(&mu);
    return n;
}

/* The SRK under mu, or CF_EUNAVAIL; wrap or unwrap one secret with it. */
static cf_code with_srk(int wrap, unsigned char *out, const char *id, const unsigned char *in,
                        cf_err *e)
{
    pthread_mutex_lock(&mu);
    cf_code rc;
    if (!have_srk)
        rc = cf_err_set(e, CF_EUNAVAIL, "keys are not loaded");
    else if (wrap)
        rc = keys_secret_wrap(out, srk, id, in, e);
    else
        rc = keys_secret_unwrap(out, srk, id, in, e);
    pthread_mutex_unlock(&mu);
    return rc;
}

cf_code keyring_wrap_secret(unsigned char wrapped[KEYS_WRAPPED_LEN], const char *id,
                            const unsigned char secret[KEYS_SECRET_LEN], cf_err *e)
{
    return with_srk(1, wrapped, id, secret, e);
}

cf_code keyring_unwrap_secret(unsigned char secret[KEYS_SECRET_LEN], const char *id,
                              const unsigned char wrapped[KEYS_WRAPPED_LEN], cf_err *e)
{
    return with_srk(0, secret, id, wrapped, e);
}

cf_code keyring_derive(unsigned char out[KEYS_SECRET_LEN], const char *info, cf_err *e)
{
    pthread_mutex_lock(&mu);
    cf_code rc = have_srk ? keys_hkdf(out, KEYS_SECRET_LEN, srk, sizeof(srk), "coffer", 6, info, e)
                          : cf_err_set(e, CF_EUNAVAIL, "keys are not loaded");
    pthread_mutex_unlock(&mu);
    return rc;
}

void keyring_forget(const char *registry_id)
{
    pthread_mutex_lock(&mu);
    entry *en = have_srk ? find(registry_id) : NULL;
    if (en)
        OPENSSL_cleanse(en, sizeof(*en));
    pthread_mutex_unlock(&mu);
}
