/*
 * engine.c -- see engine.h.
 *
 * The cache maps "vault\0name\0version" (lowercased) to a parsed EVP_PKEY:
 * the private key of a software key (unsealed once), or the public key of
 * an HSM key or a public-only import. Entries are reference counted with
 * EVP_PKEY_up_ref, so a purge that evicts a key in use by another thread
 * frees it only when that thread is done. A full cache evicts a random
 * slot: the cache is a speed-up, never a source of truth (the store is),
 * and a key's private material never changes once created.
 */
#define CF_LOG_MOD "vault.engine"
#include "vault/engine.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "crypto/jwk.h"
#include "vault/keyops.h"
#include "vault/token.h"

#define CACHE_SLOTS 512
#define CACHE_KEY_MAX 200

typedef struct slot {
    char key[CACHE_KEY_MAX];
    size_t key_len;
    EVP_PKEY *pkey;
} slot;

struct vault_engine {
    const vault_master *master;
    vault_token *token;
    pthread_mutex_t mu;
    slot slots[CACHE_SLOTS];
};

cf_code vault_engine_new(vault_engine **out, const vault_master *master, vault_token *token,
                         cf_err *e)
{
    vault_engine *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    g->master = master;
    g->token = token;
    pthread_mutex_init(&g->mu, NULL);
    *out = g;
    return CF_OK;
}

void vault_engine_free(vault_engine *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        EVP_PKEY_free(g->slots[i].pkey); /* OpenSSL wipes private key material on free */
    pthread_mutex_destroy(&g->mu);
    OPENSSL_cleanse(g, sizeof(*g));
    free(g);
}

int vault_engine_has_hsm(const vault_engine *g)
{
    return g->token != NULL;
}

/* "vault\0name\0version", lowercased; a prefix "vault\0name\0" matches a key. */
static size_t cache_key(char out[CACHE_KEY_MAX], const char *vault, const char *name,
                        const char *version)
{
    size_t n = 0;
    const char *parts[3] = {vault, name, version};
    for (int i = 0; i < 3 && parts[i]; i++) {
        for (const char *p = parts[i]; *p && n + 1 < CACHE_KEY_MAX; p++)
            out[n++] = (char)tolower((unsigned char)*p);
        if (n + 1 < CACHE_KEY_MAX)
            out[n++] = '\0';
    }
    return n;
}

static uint32_t hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

/* Returns a new reference or NULL. Linear probe over 8 slots. */
static EVP_PKEY *cache_get(vault_engine *g, const char *k, size_t n)
{
    EVP_PKEY *p = NULL;
    uint32_t h = hash(k, n);
    pthread_mutex_lock(&g->mu);
    for (uint32_t i = 0; i < 8; i++) {
        slot *s = &g->slots[(h + i) % CACHE_SLOTS];
        if (s->pkey && s->key_len == n && memcmp(s->key, k, n) == 0) {
            if (EVP_PKEY_up_ref(s->pkey))
                p = s->pkey;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return p;
}

static void cache_put(vault_engine *g, const char *k, size_t n, EVP_PKEY *pkey)
{
    uint32_t h = hash(k, n);
    if (!EVP_PKEY_up_ref(pkey))
        return;
    pthread_mutex_lock(&g->mu);
    slot *victim = NULL;
    for (uint32_t i = 0; i < 8; i++) {
        slot *s = &g->slots[(h + i) % CACHE_SLOTS];
        if (s->pkey && s->key_len == n && memcmp(s->key, k, n) == 0) {
            victim = s; /* another thread loaded it too */
            break;
        }
        if (s->pkey == NULL && victim == NULL)
            victim = s;
    }
    if (victim == NULL) {
        unsigned char r = 0;
        (void)RAND_bytes(&r, 1);
        victim = &g->slots[(h + (r % 8)) % CACHE_SLOTS];
    }
    EVP_PKEY *old = victim->pkey;
    memcpy(victim->key, k, n);
    victim->key_len = n;
    victim->pkey = pkey;
    pthread_mutex_unlock(&g->mu);
    EVP_PKEY_free(old);
}

void vault_engine_forget(vault_engine *g, const char *vault, const char *name)
{
    char prefix[CACHE_KEY_MAX];
    size_t n = cache_key(prefix, vault, name, NULL);
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &g->slots[i];
        if (s->pkey && s->key_len > n && memcmp(s->key, prefix, n) == 0) {
            EVP_PKEY_free(s->pkey);
            memset(s, 0, sizeof(*s));
        }
    }
    pthread_mutex_unlock(&g->mu);
}

static const char *label_of(char *out, size_t n, const vault_keyver *kv)
{
    snprintf(out, n, "keyvaultd/%s/%s/%s", kv->vault, kv->name, kv->version);
    return out;
}

static cf_code seal_private(vault_engine *g, vault_keyver *kv, const EVP_PKEY *pkey, cf_err *e)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    cf_buf sealed;
    cf_buf_init(&sealed, 0);
    cf_code rc = jwk_pkey_to_der(&der, &der_len, pkey, 1, e);
    if (rc == CF_OK)
        rc = vault_master_seal(g->master, kv->vault, kv->name, kv->version, der, der_len, &sealed,
                               e);
    if (der)
        OPENSSL_clear_free(der, der_len);
    if (rc == CF_OK) {
        kv->sealed = cf_buf_detach(&sealed, &kv->sealed_len);
        if (kv->sealed == NULL)
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    cf_buf_free(&sealed);
    return rc;
}

cf_code vault_engine_generate(vault_engine *g, vault_keyver *kv, int key_size, long public_exponent,
                              const char *crv, cf_err *e)
{
    EVP_PKEY *pkey = NULL;
    cf_code rc;
    int is_rsa = strncmp(kv->kty, "RSA", 3) == 0;
    int is_hsm = strstr(kv->kty, "-HSM") != NULL;
    char label[300];
    if (is_hsm) {
        if (g->token == NULL)
            return cf_err_set(e, CF_EUNAVAIL, "%s keys need an HSM: no PKCS#11 token is configured",
                              kv->kty);
        if (is_rsa && public_exponent != 65537)
            return cf_err_set(e, CF_EINVAL, "RSA-HSM keys use the public exponent 65537");
        char id[VAULT_TOKEN_ID_MAX];
        rc = vault_token_generate(id, &pkey, g->token, is_rsa, key_size, crv ? crv : "P-256",
                                  label_of(label, sizeof(label), kv), e);
        if (rc != CF_OK)
            return rc;
        snprintf(kv->hsm_id, sizeof(kv->hsm_id), "%s", id);
    } else {
        rc = is_rsa ? keyops_generate_rsa(&pkey, key_size, (unsigned long)public_exponent, e)
                    : keyops_generate_ec(&pkey, crv ? crv : "P-256", e);
        if (rc != CF_OK)
            return rc;
    }
    if ((rc = jwk_from_pkey(&kv->jwk, pkey, 0, e)) != CF_OK)
        goto out;
    if (!is_hsm && (rc = seal_private(g, kv, pkey, e)) != CF_OK)
        goto out;
    char ck[CACHE_KEY_MAX];
    size_t n = cache_key(ck, kv->vault, kv->name, kv->version);
    cache_put(g, ck, n, pkey);
out:
    if (rc != CF_OK && is_hsm && kv->hsm_id[0]) {
        (void)vault_token_destroy(g->token, kv->hsm_id, NULL);
        kv->hsm_id[0] = '\0';
    }
    EVP_PKEY_free(pkey);
    return rc;
}

cf_code vault_engine_import(vault_engine *g, vault_keyver *kv, const json_t *jwk, int *has_private,
                            cf_err *e)
{
    EVP_PKEY *pkey = NULL;
    jwk_kty kty;
    cf_code rc = jwk_to_pkey(&pkey, jwk, JWK_PRIVATE_OPTIONAL, e);
    if (rc != CF_OK)
        return rc;
    if ((rc = jwk_pkey_describe(&kty, NULL, NULL, pkey, e)) != CF_OK)
        goto out;
    snprintf(kv->kty, sizeof(kv->kty), "%s", jwk_kty_name(kty, 0));
    *has_private = jwk_pkey_has_private(pkey);
    if ((rc = jwk_from_pkey(&kv->jwk, pkey, 0, e)) != CF_OK)
        goto out;
    if (*has_private && (rc = seal_private(g, kv, pkey, e)) != CF_OK)
        goto out;
out:
    EVP_PKEY_free(pkey);
    return rc;
}

/* The EVP_PKEY to use for kv: cached, unsealed or built from the JWK. */
static cf_code load_pkey(vault_engine *g, const vault_keyver *kv, EVP_PKEY **out, cf_err *e)
{
    char ck[CACHE_KEY_MAX];
    size_t n = cache_key(ck, kv->vault, kv->name, kv->version);
    EVP_PKEY *p = cache_get(g, ck, n);
    if (p) {
        *out = p;
        return CF_OK;
    }
    cf_code rc;
    if (kv->sealed) {
        cf_buf der;
        cf_buf_init(&der, 0);
        der.secret = 1;
        rc = vault_master_unseal(g->master, kv->vault, kv->name, kv->version, kv->sealed,
                                 kv->sealed_len, &der, e);
        if (rc == CF_OK)
            rc = jwk_pkey_from_der(&p, der.data, der.len, 1, e);
        cf_buf_free(&der);
        if (rc != CF_OK) {
            cf_log(CF_LOG_ERROR, "sealed key does not open", "key", kv->name, "version",
                   kv->version, NULL);
            return cf_err_set(e, CF_ECRYPTO, "the stored key could not be opened");
        }
    } else {
        rc = jwk_to_pkey(&p, kv->jwk, JWK_PUBLIC_ONLY, e);
        if (rc != CF_OK)
            return rc;
    }
    cache_put(g, ck, n, p);
    *out = p;
    return CF_OK;
}

static cf_code uniform_decrypt_error(cf_code rc, cf_err *e)
{
    if (rc == CF_EINTEGRITY) {
        cf_err_clear(e);
        return cf_err_set(e, CF_EINVAL, "The ciphertext could not be decrypted with this key.");
    }
    return rc;
}

cf_code vault_engine_op(vault_engine *g, const vault_keyver *kv, vault_op op, const char *alg,
                        const unsigned char *in, size_t in_len, const unsigned char *sig,
                        size_t sig_len, cf_buf *out, int *verified, cf_err *e)
{
    EVP_PKEY *pkey = NULL;
    cf_code rc;
    int is_hsm = kv->hsm_id[0] != '\0';
    keyops_enc_alg ea = 0;
    keyops_sig_alg sa = 0;
    int enc = op == VAULT_OP_ENCRYPT || op == VAULT_OP_DECRYPT || op == VAULT_OP_WRAP ||
              op == VAULT_OP_UNWRAP;
    rc = enc ? keyops_enc_alg_parse(&ea, alg, e) : keyops_sig_alg_parse(&sa, alg, e);
    if (rc != CF_OK) {
        cf_err_clear(e);
        return cf_err_set(e, CF_EINVAL, "Invalid algorithm '%.20s' for this operation.", alg);
    }
    int private_op = op == VAULT_OP_DECRYPT || op == VAULT_OP_UNWRAP || op == VAULT_OP_SIGN;
    if (private_op && is_hsm) {
        if (g->token == NULL)
            return cf_err_set(e, CF_EUNAVAIL, "this key lives in an HSM that is not configured");
        if (op == VAULT_OP_SIGN)
            return vault_token_sign(out, g->token, kv->hsm_id, sa, in, in_len, e);
        out->secret = 1;
        return uniform_decrypt_error(
            vault_token_decrypt(out, g->token, kv->hsm_id, ea, in, in_len, e), e);
    }
    if (private_op && kv->sealed == NULL)
        return cf_err_set(e, CF_EINVAL, "This key has no private part (imported public key).");
    if ((rc = load_pkey(g, kv, &pkey, e)) != CF_OK)
        return rc;
    switch (op) {
    case VAULT_OP_ENCRYPT:
        rc = keyops_encrypt(out, pkey, ea, in, in_len, e);
        break;
    case VAULT_OP_WRAP:
        rc = keyops_wrap(out, pkey, ea, in, in_len, e);
        break;
    case VAULT_OP_DECRYPT:
        out->secret = 1;
        rc = uniform_decrypt_error(keyops_decrypt(out, pkey, ea, in, in_len, e), e);
        break;
    case VAULT_OP_UNWRAP:
        out->secret = 1;
        rc = uniform_decrypt_error(keyops_unwrap(out, pkey, ea, in, in_len, e), e);
        break;
    case VAULT_OP_SIGN:
        rc = keyops_sign(out, pkey, sa, in, in_len, e);
        break;
    case VAULT_OP_VERIFY:
        rc = keyops_verify(verified, pkey, sa, in, in_len, sig, sig_len, e);
        break;
    }
    EVP_PKEY_free(pkey);
    return rc;
}

cf_code vault_engine_destroy_hsm(vault_engine *g, const char *hsm_id, cf_err *e)
{
    if (g->token == NULL)
        return cf_err_set(e, CF_EUNAVAIL, "no HSM configured");
    return vault_token_destroy(g->token, hsm_id, e);
}

int vault_engine_rsa_bits(const json_t *jwk)
{
    const char *n = json_string_value(json_object_get(jwk, "n"));
    if (n == NULL)
        return 0;
    /* base64url without padding: 4 chars per 3 bytes */
    size_t bytes = strlen(n) * 3 / 4;
    return (int)bytes * 8;
}
