/*
 * hsm.c -- keys in a PKCS#11 token (see hsm.h).
 *
 * Shape:
 *   - the module is dlopen()ed and initialised with CKF_OS_LOCKING_OK (the
 *     module may be called from several threads);
 *   - PKCS#11 login state belongs to the application, not the session: we
 *     log in once on the first session and keep at least that session open
 *     for the life of the handle, so every later session is logged in too;
 *   - a pool of up to POOL_MAX sessions under a mutex + condition variable:
 *     a call borrows one session for its whole operation (an operation's
 *     Init/Final state lives in the session) and returns it;
 *   - keys are found by CKA_ID (+ CKA_CLASS); a token search scans every
 *     object (milliseconds once a token holds hundreds of keys), so the
 *     private key's handle, type and size are cached per id (256 entries,
 *     round robin). hsm_key_destroy evicts; a handle the token no longer
 *     knows (key deleted by someone else) is evicted and looked up again,
 *     which then reports CF_ENOTFOUND.
 *
 * RSA-OAEP-256 fallback. RFC 8017 §7.1.2 decoding of the raw RSA output
 * (EM) from CKM_RSA_X_509, written so that its time and memory access
 * pattern do not depend on EM: masks instead of branches for the checks,
 * a constant-time scan for the 0x01 separator, and a log-time barrel shift
 * to move the message to the front. The only branch on secret data is the
 * final accept/reject, and every reject has the same code and message.
 * Whether the module supports OAEP with SHA-256 is decided by
 * C_DecryptInit (parameter validation, independent of the ciphertext) and
 * remembered in the handle.
 */
#include "vault/hsm.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "base/enc.h"

#define POOL_MAX 8
#define DECRYPT_FAILED "decryption failed"
#define RSA_MAX_BYTES 512 /* 4096 bits */
#define CACHE_MAX 256

struct hsm {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    int finalize; /* we initialised the module */
    CK_SLOT_ID slot;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    CK_SESSION_HANDLE idle[POOL_MAX];
    int n_idle, n_open;
    atomic_int oaep256;          /* -1 unknown, 0 fallback, 1 native */
    pthread_mutex_t master_lock; /* serialises find-or-create of AES keys */
    /* id -> object handle and key facts, under lock: a token lookup costs
     * a scan of every object (milliseconds with a few hundred keys) */
    struct key_entry {
        unsigned char id[HSM_ID_LEN];
        CK_OBJECT_HANDLE o;
        CK_KEY_TYPE kt;
        int curve;  /* EC: index in CURVES, else -1 */
        size_t len; /* RSA modulus bytes / EC field bytes */
        int used;
    } cache[CACHE_MAX];
    unsigned cache_next;
};

static const CK_BBOOL T = CK_TRUE, F = CK_FALSE;

static cf_code p11_err(cf_err *e, cf_code code, CK_RV rv, const char *what)
{
    return cf_err_set(e, code, "PKCS#11 %s failed (CKR 0x%lx)", what, (unsigned long)rv);
}

static void evict(hsm *h, const unsigned char id[HSM_ID_LEN]);

/* ---- curves ---- */

static const struct {
    const char *crv, *group;
    size_t field;
    unsigned char oid[10];
    size_t oid_len;
} CURVES[] = {
    {"P-256", "prime256v1", 32, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 10},
    {"P-384", "secp384r1", 48, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7},
    {"P-521", "secp521r1", 66, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7},
};

static int curve_by_crv(const char *crv)
{
    for (size_t i = 0; crv && i < 3; i++)
        if (strcmp(crv, CURVES[i].crv) == 0)
            return (int)i;
    return -1;
}

static int curve_by_oid(const unsigned char *oid, size_t len)
{
    for (size_t i = 0; i < 3; i++)
        if (len == CURVES[i].oid_len && memcmp(oid, CURVES[i].oid, len) == 0)
            return (int)i;
    return -1;
}

/* ---- open / close / sessions ---- */

static cf_code session_get(CK_SESSION_HANDLE *out, hsm *h, cf_err *e)
{
    pthread_mutex_lock(&h->lock);
    while (h->n_idle == 0 && h->n_open >= POOL_MAX)
        pthread_cond_wait(&h->cond, &h->lock);
    if (h->n_idle > 0) {
        *out = h->idle[--h->n_idle];
        pthread_mutex_unlock(&h->lock);
        return CF_OK;
    }
    h->n_open++;
    pthread_mutex_unlock(&h->lock);
    CK_RV rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, out);
    if (rv != CKR_OK) {
        pthread_mutex_lock(&h->lock);
        h->n_open--;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
        return p11_err(e, CF_EUNAVAIL, rv, "C_OpenSession");
    }
    return CF_OK;
}

static void session_put(hsm *h, CK_SESSION_HANDLE s)
{
    pthread_mutex_lock(&h->lock);
    h->idle[h->n_idle++] = s;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static int label_eq(const unsigned char padded[32], const char *label)
{
    size_t n = strlen(label);
    if (n > 32 || memcmp(padded, label, n) != 0)
        return 0;
    for (size_t i = n; i < 32; i++)
        if (padded[i] != ' ')
            return 0;
    return 1;
}

void hsm_close(hsm *h)
{
    if (h == NULL)
        return;
    if (h->f) {
        for (int i = 0; i < h->n_idle; i++)
            h->f->C_CloseSession(h->idle[i]);
        if (h->finalize)
            h->f->C_Finalize(NULL);
    }
    if (h->dl)
        dlclose(h->dl);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->master_lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}

cf_code hsm_open(hsm **out, const char *module_path, const char *token_label, const char *pin,
                 cf_err *e)
{
    *out = NULL;
    if (module_path == NULL || token_label == NULL || pin == NULL)
        return cf_err_set(e, CF_EINVAL, "PKCS#11 module, token label and PIN are required");
    hsm *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->master_lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    atomic_init(&h->oaep256, -1);
    cf_code rc = CF_OK;
    CK_SLOT_ID *slots = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv;

    h->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
    if (h->dl == NULL) {
        rc = cf_err_set(e, CF_EUNAVAIL, "cannot load PKCS#11 module %.120s", module_path);
        goto out;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h->dl, "C_GetFunctionList");
    if (get == NULL || get(&h->f) != CKR_OK || h->f == NULL) {
        h->f = NULL;
        rc = cf_err_set(e, CF_EUNAVAIL, "%.120s is not a PKCS#11 module", module_path);
        goto out;
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = h->f->C_Initialize(&args);
    if (rv == CKR_OK)
        h->finalize = 1;
    else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_Initialize");
        goto out;
    }
    CK_ULONG n = 0;
    if ((rv = h->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_GetSlotList");
        goto out;
    }
    slots = calloc(n ? n : 1, sizeof(*slots));
    if (slots == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rv = h->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_GetSlotList");
        goto out;
    }
    int found = 0;
    for (CK_ULONG i = 0; i < n && !found; i++) {
        CK_TOKEN_INFO ti;
        if (h->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && label_eq(ti.label, token_label)) {
            h->slot = slots[i];
            found = 1;
        }
    }
    if (!found) {
        rc = cf_err_set(e, CF_ENOTFOUND, "no PKCS#11 token labelled '%.32s'", token_label);
        goto out;
    }
    if ((rc = session_get(&s, h, e)) != CF_OK)
        goto out;
    rv = h->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        rc = rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED
                 ? cf_err_set(e, CF_EAUTH, "PKCS#11 login refused (wrong PIN or locked)")
                 : p11_err(e, CF_EUNAVAIL, rv, "C_Login");
        h->f->C_CloseSession(s);
        h->n_open--;
        goto out;
    }
    session_put(h, s);
    *out = h;
    h = NULL;
out:
    free(slots);
    hsm_close(h);
    return rc;
}

int hsm_oaep256_native(const hsm *h)
{
    return atomic_load(&((hsm *)h)->oaep256);
}

/* ---- objects ---- */

static cf_code id_parse(unsigned char id[HSM_ID_LEN], const char *id_hex, cf_err *e)
{
    if (id_hex == NULL || cf_hex_decode(id, HSM_ID_LEN, id_hex, strlen(id_hex), NULL) != CF_OK)
        return cf_err_set(e, CF_EINVAL, "HSM key handle must be %d hex digits", HSM_ID_HEX_LEN);
    return CF_OK;
}

/* Finds one object by class and CKA_ID (or, with id NULL, by label). */
static cf_code find(CK_OBJECT_HANDLE *out, hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                    const unsigned char *id, const char *label, cf_err *e)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        id ? (CK_ATTRIBUTE){CKA_ID, (void *)id, HSM_ID_LEN}
           : (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ULONG n = 0;
    CK_RV rv = h->f->C_FindObjectsInit(s, tmpl, 2);
    if (rv != CKR_OK)
        return p11_err(e, CF_EUNAVAIL, rv, "C_FindObjectsInit");
    rv = h->f->C_FindObjects(s, out, 1, &n);
    h->f->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return p11_err(e, CF_EUNAVAIL, rv, "C_FindObjects");
    if (n == 0)
        return cf_err_set(e, CF_ENOTFOUND, "HSM key not found");
    return CF_OK;
}

/* Reads one variable-length attribute into buf (cap bytes). */
static cf_code get_attr(unsigned char *buf, size_t cap, size_t *out_len, hsm *h,
                        CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, cf_err *e)
{
    CK_ATTRIBUTE a = {type, buf, cap};
    CK_RV rv = h->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > cap)
        return p11_err(e, CF_EUNAVAIL, rv, "C_GetAttributeValue");
    *out_len = a.ulValueLen;
    return CF_OK;
}

static cf_code rsa_public(EVP_PKEY **out, const unsigned char *n, size_t n_len,
                          const unsigned char *ex, size_t ex_len, cf_err *e)
{
    cf_code rc = CF_OK;
    BIGNUM *bn = BN_bin2bn(n, (int)n_len, NULL), *be = BN_bin2bn(ex, (int)ex_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn == NULL || be == NULL || bld == NULL || ctx == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        rc = cf_err_ssl(e, "HSM public key: ");
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    BN_free(be);
    return rc;
}

/* CKA_EC_POINT is a DER OCTET STRING holding 04 || x || y. */
static cf_code ec_public(EVP_PKEY **out, int curve, const unsigned char *point, size_t len,
                         cf_err *e)
{
    size_t want = 1 + 2 * CURVES[curve].field, hdr;
    if (len >= 2 && point[0] == 0x04 && point[1] < 0x80)
        hdr = 2;
    else if (len >= 3 && point[0] == 0x04 && point[1] == 0x81)
        hdr = 3;
    else
        return cf_err_set(e, CF_EUNAVAIL, "HSM returned a malformed EC point");
    if (len - hdr != want || point[hdr] != 0x04 || point[hdr - 1] != want)
        return cf_err_set(e, CF_EUNAVAIL, "HSM returned a malformed EC point");
    cf_code rc = CF_OK;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)CURVES[curve].group, 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(point + hdr), want);
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        rc = cf_err_ssl(e, "HSM public key: ");
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static cf_code read_public(EVP_PKEY **out, hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
                           cf_err *e)
{
    CK_KEY_TYPE kt;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
    CK_RV rv = h->f->C_GetAttributeValue(s, pub, &a, 1);
    if (rv != CKR_OK)
        return p11_err(e, CF_EUNAVAIL, rv, "C_GetAttributeValue(CKA_KEY_TYPE)");
    unsigned char b1[RSA_MAX_BYTES + 8], b2[RSA_MAX_BYTES + 8];
    size_t l1, l2;
    cf_code rc;
    if (kt == CKK_RSA) {
        if ((rc = get_attr(b1, sizeof(b1), &l1, h, s, pub, CKA_MODULUS, e)) != CF_OK ||
            (rc = get_attr(b2, sizeof(b2), &l2, h, s, pub, CKA_PUBLIC_EXPONENT, e)) != CF_OK)
            return rc;
        return rsa_public(out, b1, l1, b2, l2, e);
    }
    if (kt == CKK_EC) {
        if ((rc = get_attr(b1, sizeof(b1), &l1, h, s, pub, CKA_EC_PARAMS, e)) != CF_OK ||
            (rc = get_attr(b2, sizeof(b2), &l2, h, s, pub, CKA_EC_POINT, e)) != CF_OK)
            return rc;
        int c = curve_by_oid(b1, l1);
        if (c < 0)
            return cf_err_set(e, CF_EUNSUPPORTED, "HSM key on an unsupported curve");
        return ec_public(out, c, b2, l2, e);
    }
    return cf_err_set(e, CF_EUNSUPPORTED, "HSM key of unsupported type");
}

/* ---- generation ---- */

static cf_code generate(char out_id[HSM_ID_HEX_LEN + 1], EVP_PKEY **out_pub, hsm *h, int bits,
                        int curve, const char *label, cf_err *e)
{
    *out_pub = NULL;
    out_id[0] = '\0';
    unsigned char id[HSM_ID_LEN];
    if (RAND_bytes(id, sizeof(id)) != 1)
        return cf_err_ssl(e, "random key id: ");
    if (label == NULL)
        label = "";
    CK_SESSION_HANDLE s;
    cf_code rc = session_get(&s, h, e);
    if (rc != CF_OK)
        return rc;
    CK_ULONG mod_bits = (CK_ULONG)bits;
    static const unsigned char F4[] = {0x01, 0x00, 0x01};
    CK_ATTRIBUTE pub[8] = {
        {CKA_TOKEN, (void *)&T, sizeof(T)},        {CKA_PRIVATE, (void *)&F, sizeof(F)},
        {CKA_VERIFY, (void *)&T, sizeof(T)},       {CKA_ID, id, sizeof(id)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ULONG n_pub = 5;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    if (curve < 0) {
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        pub[n_pub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &mod_bits, sizeof(mod_bits)};
        pub[n_pub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, (void *)F4, sizeof(F4)};
        pub[n_pub++] = (CK_ATTRIBUTE){CKA_ENCRYPT, (void *)&T, sizeof(T)};
    } else {
        pub[n_pub++] =
            (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)CURVES[curve].oid, CURVES[curve].oid_len};
    }
    CK_ATTRIBUTE priv[9] = {
        {CKA_TOKEN, (void *)&T, sizeof(T)},        {CKA_PRIVATE, (void *)&T, sizeof(T)},
        {CKA_SENSITIVE, (void *)&T, sizeof(T)},    {CKA_EXTRACTABLE, (void *)&F, sizeof(F)},
        {CKA_SIGN, (void *)&T, sizeof(T)},         {CKA_ID, id, sizeof(id)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ULONG n_priv = 7;
    if (curve < 0)
        priv[n_priv++] = (CK_ATTRIBUTE){CKA_DECRYPT, (void *)&T, sizeof(T)};
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_RV rv = h->f->C_GenerateKeyPair(s, &mech, pub, n_pub, priv, n_priv, &hpub, &hpriv);
    if (rv != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_GenerateKeyPair");
        goto out;
    }
    if ((rc = read_public(out_pub, h, s, hpub, e)) != CF_OK) {
        h->f->C_DestroyObject(s, hpriv);
        h->f->C_DestroyObject(s, hpub);
        goto out;
    }
    cf_hex_encode(out_id, id, sizeof(id));
out:
    session_put(h, s);
    return rc;
}

cf_code hsm_key_generate_rsa(char out_id[HSM_ID_HEX_LEN + 1], EVP_PKEY **out_pub, hsm *h, int bits,
                             const char *label, cf_err *e)
{
    if (bits != 2048 && bits != 3072 && bits != 4096) {
        *out_pub = NULL;
        return cf_err_set(e, CF_EINVAL, "RSA key size must be 2048, 3072 or 4096 (got %d)", bits);
    }
    return generate(out_id, out_pub, h, bits, -1, label, e);
}

cf_code hsm_key_generate_ec(char out_id[HSM_ID_HEX_LEN + 1], EVP_PKEY **out_pub, hsm *h,
                            const char *crv, const char *label, cf_err *e)
{
    int c = curve_by_crv(crv);
    if (c < 0) {
        *out_pub = NULL;
        return cf_err_set(e, CF_EINVAL, "EC curve must be P-256, P-384 or P-521");
    }
    return generate(out_id, out_pub, h, 0, c, label, e);
}

cf_code hsm_key_public(EVP_PKEY **out_pub, hsm *h, const char *id_hex, cf_err *e)
{
    *out_pub = NULL;
    unsigned char id[HSM_ID_LEN];
    cf_code rc = id_parse(id, id_hex, e);
    if (rc != CF_OK)
        return rc;
    CK_SESSION_HANDLE s;
    if ((rc = session_get(&s, h, e)) != CF_OK)
        return rc;
    CK_OBJECT_HANDLE priv, pub;
    if ((rc = find(&priv, h, s, CKO_PRIVATE_KEY, id, NULL, e)) == CF_OK &&
        (rc = find(&pub, h, s, CKO_PUBLIC_KEY, id, NULL, e)) == CF_OK)
        rc = read_public(out_pub, h, s, pub, e);
    session_put(h, s);
    return rc;
}

cf_code hsm_key_destroy(hsm *h, const char *id_hex, cf_err *e)
{
    unsigned char id[HSM_ID_LEN];
    cf_code rc = id_parse(id, id_hex, e);
    if (rc != CF_OK)
        return rc;
    CK_SESSION_HANDLE s;
    if ((rc = session_get(&s, h, e)) != CF_OK)
        return rc;
    int destroyed = 0;
    evict(h, id);
    const CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
    for (int i = 0; i < 2 && rc == CF_OK; i++) {
        CK_OBJECT_HANDLE o;
        cf_code fr = find(&o, h, s, classes[i], id, NULL, NULL);
        if (fr == CF_ENOTFOUND)
            continue;
        if (fr != CF_OK) {
            rc = cf_err_set(e, fr, "HSM key lookup failed");
            break;
        }
        CK_RV rv = h->f->C_DestroyObject(s, o);
        if (rv != CKR_OK)
            rc = p11_err(e, CF_EUNAVAIL, rv, "C_DestroyObject");
        destroyed++;
    }
    if (rc == CF_OK && destroyed == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "HSM key not found");
    session_put(h, s);
    return rc;
}

/* ---- constant-time OAEP-SHA-256 decoding (RFC 8017 §7.1.2, steps 3a-3g) ---- */

/* all-ones if a == b else 0, without branches */
static unsigned ct_eq(unsigned a, unsigned b)
{
    uint64_t x = a ^ b;               /* < 2^32 */
    return (unsigned)((x - 1) >> 32); /* only x == 0 borrows into the high half */
}

static unsigned char ct_sel8(unsigned mask, unsigned char a, unsigned char b)
{
    return (unsigned char)((mask & a) | (~mask & b));
}

static unsigned ct_sel(unsigned mask, unsigned a, unsigned b)
{
    return (mask & a) | (~mask & b);
}

static int mgf1_sha256(unsigned char *mask, size_t len, const unsigned char *seed, size_t seed_len)
{
    unsigned char in[RSA_MAX_BYTES + 4], md[32];
    if (seed_len > RSA_MAX_BYTES)
        return 0;
    memcpy(in, seed, seed_len);
    for (uint32_t c = 0; len > 0; c++) {
        in[seed_len] = (unsigned char)(c >> 24);
        in[seed_len + 1] = (unsigned char)(c >> 16);
        in[seed_len + 2] = (unsigned char)(c >> 8);
        in[seed_len + 3] = (unsigned char)c;
        if (!EVP_Digest(in, seed_len + 4, md, NULL, EVP_sha256(), NULL))
            return 0;
        size_t n = len < 32 ? len : 32;
        memcpy(mask, md, n);
        mask += n;
        len -= n;
    }
    OPENSSL_cleanse(in, sizeof(in));
    OPENSSL_cleanse(md, sizeof(md));
    return 1;
}

/* Decodes EM (k bytes) with an empty label. On success appends the message
 * to out and returns CF_OK; every failure is the same CF_EINTEGRITY. */
static cf_code oaep256_decode(cf_buf *out, const unsigned char *em, size_t k, cf_err *e)
{
    enum { HLEN = 32 };
    unsigned char db[RSA_MAX_BYTES], seed[HLEN], lhash[HLEN];
    size_t db_len = k - HLEN - 1;
    cf_code rc = CF_OK;
    if (k < 2 * HLEN + 2 || k > RSA_MAX_BYTES)
        return cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
    /* seed = maskedSeed ^ MGF1(maskedDB); DB = maskedDB ^ MGF1(seed) */
    if (!EVP_Digest("", 0, lhash, NULL, EVP_sha256(), NULL) ||
        !mgf1_sha256(seed, HLEN, em + 1 + HLEN, db_len)) {
        rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
        goto out;
    }
    for (size_t i = 0; i < HLEN; i++)
        seed[i] ^= em[1 + i];
    if (!mgf1_sha256(db, db_len, seed, HLEN)) {
        rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
        goto out;
    }
    for (size_t i = 0; i < db_len; i++)
        db[i] ^= em[1 + HLEN + i];

    unsigned good = ct_eq(em[0], 0);
    unsigned lh = 0;
    for (size_t i = 0; i < HLEN; i++)
        lh |= (unsigned)(db[i] ^ lhash[i]);
    good &= ct_eq(lh, 0);
    /* find the first 0x01 after the PS zeros; any other byte before it is
     * an error */
    unsigned found = 0, index = 0;
    for (size_t i = HLEN; i < db_len; i++) {
        unsigned is1 = ct_eq(db[i], 1), is0 = ct_eq(db[i], 0);
        index = ct_sel(~found & is1, (unsigned)i, index);
        good &= ~(~found & ~is0 & ~is1);
        found |= is1;
    }
    good &= found;
    /* message = db[index+1 .. db_len): shift it to db[0] in log steps */
    unsigned shift = index + 1; /* garbage when !good; only used under masks */
    size_t max_msg = db_len - HLEN - 1;
    for (size_t step = 1; step < db_len; step <<= 1) {
        unsigned m = ct_eq(shift & (unsigned)step, (unsigned)step);
        for (size_t i = 0; i + step < db_len; i++)
            db[i] = ct_sel8(m, db[i + step], db[i]);
    }
    size_t mlen = db_len - (size_t)ct_sel(good, shift, (unsigned)db_len);
    if (!(good & 1) || mlen > max_msg) { /* the one branch: the verdict */
        rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
        goto out;
    }
    rc = cf_buf_append(out, db, mlen, e);
out:
    OPENSSL_cleanse(db, sizeof(db));
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
}

/* ---- decrypt ---- */

static cf_code key_info(CK_KEY_TYPE *out_kt, int *out_curve, size_t *out_len, hsm *h,
                        CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, cf_err *e)
{
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, out_kt, sizeof(*out_kt)};
    CK_RV rv = h->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK)
        return p11_err(e, CF_EUNAVAIL, rv, "C_GetAttributeValue(CKA_KEY_TYPE)");
    unsigned char buf[RSA_MAX_BYTES + 8];
    size_t len = 0;
    cf_code rc;
    *out_curve = -1;
    if (*out_kt == CKK_RSA) {
        if ((rc = get_attr(buf, sizeof(buf), &len, h, s, o, CKA_MODULUS, e)) != CF_OK)
            return rc;
        while (len > 0 && buf[0] == 0) { /* public value: no timing concern */
            memmove(buf, buf + 1, --len);
        }
        *out_len = len;
    } else if (*out_kt == CKK_EC) {
        if ((rc = get_attr(buf, sizeof(buf), &len, h, s, o, CKA_EC_PARAMS, e)) != CF_OK)
            return rc;
        *out_curve = curve_by_oid(buf, len);
        if (*out_curve < 0)
            return cf_err_set(e, CF_EUNSUPPORTED, "HSM key on an unsupported curve");
        *out_len = CURVES[*out_curve].field;
    } else {
        return cf_err_set(e, CF_EUNSUPPORTED, "HSM key of unsupported type");
    }
    return CF_OK;
}

/* The private key with this id and its type, from the cache or the token. */
static cf_code resolve(struct key_entry *out, hsm *h, CK_SESSION_HANDLE s,
                       const unsigned char id[HSM_ID_LEN], cf_err *e)
{
    pthread_mutex_lock(&h->lock);
    for (unsigned i = 0; i < CACHE_MAX; i++) {
        if (h->cache[i].used && memcmp(h->cache[i].id, id, HSM_ID_LEN) == 0) {
            *out = h->cache[i];
            pthread_mutex_unlock(&h->lock);
            return CF_OK;
        }
    }
    pthread_mutex_unlock(&h->lock);
    memset(out, 0, sizeof(*out));
    memcpy(out->id, id, HSM_ID_LEN);
    cf_code rc = find(&out->o, h, s, CKO_PRIVATE_KEY, id, NULL, e);
    if (rc == CF_OK)
        rc = key_info(&out->kt, &out->curve, &out->len, h, s, out->o, e);
    if (rc != CF_OK)
        return rc;
    out->used = 1;
    pthread_mutex_lock(&h->lock);
    h->cache[h->cache_next++ % CACHE_MAX] = *out;
    pthread_mutex_unlock(&h->lock);
    return CF_OK;
}

static void evict(hsm *h, const unsigned char id[HSM_ID_LEN])
{
    pthread_mutex_lock(&h->lock);
    for (unsigned i = 0; i < CACHE_MAX; i++)
        if (h->cache[i].used && memcmp(h->cache[i].id, id, HSM_ID_LEN) == 0)
            h->cache[i].used = 0;
    pthread_mutex_unlock(&h->lock);
}

/* A cached handle that no longer names the object (deleted elsewhere). */
static int handle_stale(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

static int param_refused(CK_RV rv)
{
    return rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
           rv == CKR_MECHANISM_INVALID;
}

cf_code hsm_key_decrypt(cf_buf *out, hsm *h, const char *id_hex, keyops_enc_alg alg,
                        const unsigned char *in, size_t in_len, cf_err *e)
{
    unsigned char id[HSM_ID_LEN];
    cf_code rc = id_parse(id, id_hex, e);
    if (rc != CF_OK)
        return rc;
    if (alg != KEYOPS_RSA_OAEP && alg != KEYOPS_RSA_OAEP_256 && alg != KEYOPS_RSA1_5)
        return cf_err_set(e, CF_EUNSUPPORTED, "unsupported encryption algorithm");
    CK_SESSION_HANDLE s;
    if ((rc = session_get(&s, h, e)) != CF_OK)
        return rc;
    unsigned char buf[RSA_MAX_BYTES];
    CK_ULONG n = sizeof(buf);
    struct key_entry ke;
    CK_RV rv;
    if ((rc = resolve(&ke, h, s, id, e)) != CF_OK)
        goto out;
    size_t k = ke.len;
    if (ke.kt != CKK_RSA) {
        rc = cf_err_set(e, CF_EINVAL, "%s needs an RSA key", keyops_enc_alg_name(alg));
        goto out;
    }
    if (in_len != k || k > sizeof(buf)) {
        rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
        goto out;
    }
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
    int raw = 0;
    if (alg == KEYOPS_RSA_OAEP || alg == KEYOPS_RSA_OAEP_256) {
        mech = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
        if (alg == KEYOPS_RSA_OAEP_256) {
            oaep.hashAlg = CKM_SHA256;
            oaep.mgf = CKG_MGF1_SHA256;
            if (atomic_load(&h->oaep256) == 0) {
                mech = (CK_MECHANISM){CKM_RSA_X_509, NULL, 0};
                raw = 1;
            }
        }
    }
    rv = h->f->C_DecryptInit(s, &mech, ke.o);
    if (handle_stale(rv)) {
        evict(h, id);
        if ((rc = resolve(&ke, h, s, id, e)) != CF_OK)
            goto out;
        rv = h->f->C_DecryptInit(s, &mech, ke.o);
    }
    if (rv != CKR_OK && alg == KEYOPS_RSA_OAEP_256 && !raw && param_refused(rv)) {
        /* the module cannot do OAEP with SHA-256: remember, fall back */
        atomic_store(&h->oaep256, 0);
        mech = (CK_MECHANISM){CKM_RSA_X_509, NULL, 0};
        raw = 1;
        rv = h->f->C_DecryptInit(s, &mech, ke.o);
    }
    if (rv != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_DecryptInit");
        goto out;
    }
    rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, buf, &n);
    if (rv != CKR_OK) {
        rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
        goto out;
    }
    if (alg == KEYOPS_RSA_OAEP_256 && !raw)
        atomic_store(&h->oaep256, 1);
    if (raw) {
        if (n != k) { /* X.509 raw output is always modulus-sized */
            rc = cf_err_set(e, CF_EINTEGRITY, DECRYPT_FAILED);
            goto out;
        }
        rc = oaep256_decode(out, buf, k, e);
    } else {
        rc = cf_buf_append(out, buf, n, e);
    }
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    session_put(h, s);
    return rc;
}

/* ---- sign ---- */

static const unsigned char DI_SHA256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};
static const unsigned char DI_SHA384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x02, 0x05, 0x00, 0x04, 0x30};
static const unsigned char DI_SHA512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x03, 0x05, 0x00, 0x04, 0x40};

cf_code hsm_key_sign(cf_buf *out, hsm *h, const char *id_hex, keyops_sig_alg alg,
                     const unsigned char *digest, size_t digest_len, cf_err *e)
{
    unsigned char id[HSM_ID_LEN];
    cf_code rc = id_parse(id, id_hex, e);
    if (rc != CF_OK)
        return rc;
    size_t dl = keyops_sig_alg_digest_len(alg);
    if (dl == 0)
        return cf_err_set(e, CF_EUNSUPPORTED, "unsupported signature algorithm");
    if (digest_len != dl)
        return cf_err_set(e, CF_EINVAL, "%s needs a %zu-byte digest (got %zu)",
                          keyops_sig_alg_name(alg), dl, digest_len);
    CK_SESSION_HANDLE s;
    if ((rc = session_get(&s, h, e)) != CF_OK)
        return rc;
    unsigned char in[19 + 64], sig[RSA_MAX_BYTES];
    CK_ULONG in_len = 0, sig_len = sizeof(sig);
    struct key_entry ke;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM mech;
    CK_RV rv;
    if ((rc = resolve(&ke, h, s, id, e)) != CF_OK)
        goto out;
    CK_KEY_TYPE kt = ke.kt;
    int curve = ke.curve;
    size_t k = ke.len;
    if (keyops_sig_alg_is_ec(alg)) {
        static const char *const need[] = {"P-256", "P-384", "P-521"};
        int want = alg == KEYOPS_ES256 ? 0 : alg == KEYOPS_ES384 ? 1 : 2;
        if (kt != CKK_EC || curve != want) {
            rc = cf_err_set(e, CF_EINVAL, "%s needs an EC %s key", keyops_sig_alg_name(alg),
                            need[want]);
            goto out;
        }
        mech = (CK_MECHANISM){CKM_ECDSA, NULL, 0};
        memcpy(in, digest, dl);
        in_len = dl;
    } else {
        if (kt != CKK_RSA) {
            rc = cf_err_set(e, CF_EINVAL, "%s needs an RSA key", keyops_sig_alg_name(alg));
            goto out;
        }
        CK_MECHANISM_TYPE hash = dl == 32 ? CKM_SHA256 : dl == 48 ? CKM_SHA384 : CKM_SHA512;
        CK_RSA_PKCS_MGF_TYPE mgf = dl == 32   ? CKG_MGF1_SHA256
                                   : dl == 48 ? CKG_MGF1_SHA384
                                              : CKG_MGF1_SHA512;
        if (alg == KEYOPS_PS256 || alg == KEYOPS_PS384 || alg == KEYOPS_PS512) {
            pss = (CK_RSA_PKCS_PSS_PARAMS){hash, mgf, dl};
            mech = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
            memcpy(in, digest, dl);
            in_len = dl;
        } else {
            const unsigned char *di = dl == 32 ? DI_SHA256 : dl == 48 ? DI_SHA384 : DI_SHA512;
            memcpy(in, di, 19);
            memcpy(in + 19, digest, dl);
            in_len = 19 + dl;
            mech = (CK_MECHANISM){CKM_RSA_PKCS, NULL, 0};
        }
    }
    rv = h->f->C_SignInit(s, &mech, ke.o);
    if (handle_stale(rv)) {
        evict(h, id);
        if ((rc = resolve(&ke, h, s, id, e)) != CF_OK)
            goto out;
        rv = h->f->C_SignInit(s, &mech, ke.o);
    }
    if (rv != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_SignInit");
        goto out;
    }
    if ((rv = h->f->C_Sign(s, in, in_len, sig, &sig_len)) != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_Sign");
        goto out;
    }
    if (kt == CKK_EC && sig_len != 2 * k) {
        rc = cf_err_set(e, CF_EUNAVAIL, "HSM returned a malformed ECDSA signature");
        goto out;
    }
    rc = cf_buf_append(out, sig, sig_len, e);
out:
    session_put(h, s);
    return rc;
}

/* ---- AES master key ---- */

static cf_code master_key(CK_OBJECT_HANDLE *out, hsm *h, CK_SESSION_HANDLE s, const char *label,
                          int create, cf_err *e)
{
    if (label == NULL || label[0] == '\0')
        return cf_err_set(e, CF_EINVAL, "master key label required");
    pthread_mutex_lock(&h->master_lock);
    cf_err sub = {0};
    cf_code rc = find(out, h, s, CKO_SECRET_KEY, NULL, label, &sub);
    if (rc == CF_ENOTFOUND && create) {
        CK_ULONG len = 32;
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &cls, sizeof(cls)},           {CKA_KEY_TYPE, &kt, sizeof(kt)},
            {CKA_VALUE_LEN, &len, sizeof(len)},       {CKA_TOKEN, (void *)&T, sizeof(T)},
            {CKA_PRIVATE, (void *)&T, sizeof(T)},     {CKA_SENSITIVE, (void *)&T, sizeof(T)},
            {CKA_EXTRACTABLE, (void *)&F, sizeof(F)}, {CKA_ENCRYPT, (void *)&T, sizeof(T)},
            {CKA_DECRYPT, (void *)&T, sizeof(T)},     {CKA_LABEL, (void *)label, strlen(label)},
        };
        CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
        CK_RV rv = h->f->C_GenerateKey(s, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), out);
        rc = rv == CKR_OK ? CF_OK : p11_err(e, CF_EUNAVAIL, rv, "C_GenerateKey(AES)");
    } else if (rc == CF_ENOTFOUND) {
        rc = cf_err_set(e, CF_ENOTFOUND, "no AES key labelled '%.64s' in the token", label);
    } else if (rc != CF_OK) {
        rc = cf_err_set(e, rc, "%s", sub.msg);
    }
    pthread_mutex_unlock(&h->master_lock);
    return rc;
}

cf_code hsm_master_wrap(unsigned char out[HSM_WRAPPED_LEN], hsm *h, const char *label,
                        const unsigned char *aad, size_t aad_len,
                        const unsigned char secret[HSM_SECRET_LEN], cf_err *e)
{
    CK_SESSION_HANDLE s;
    cf_code rc = session_get(&s, h, e);
    if (rc != CF_OK)
        return rc;
    CK_OBJECT_HANDLE key;
    unsigned char nonce[12];
    CK_ULONG n = HSM_WRAPPED_LEN - 12;
    CK_RV rv;
    if ((rc = master_key(&key, h, s, label, 1, e)) != CF_OK)
        goto out;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        rc = cf_err_ssl(e, "GCM nonce: ");
        goto out;
    }
    CK_GCM_PARAMS gcm = {nonce, 12, 96, (CK_BYTE_PTR)aad, aad_len, 128};
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    if ((rv = h->f->C_EncryptInit(s, &mech, key)) != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_EncryptInit(AES-GCM)");
        goto out;
    }
    if ((rv = h->f->C_Encrypt(s, (CK_BYTE_PTR)secret, HSM_SECRET_LEN, out + 12, &n)) != CKR_OK ||
        n != HSM_WRAPPED_LEN - 12) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_Encrypt(AES-GCM)");
        goto out;
    }
    memcpy(out, nonce, 12);
out:
    session_put(h, s);
    return rc;
}

cf_code hsm_master_unwrap(unsigned char out[HSM_SECRET_LEN], hsm *h, const char *label,
                          const unsigned char *aad, size_t aad_len,
                          const unsigned char wrapped[HSM_WRAPPED_LEN], cf_err *e)
{
    CK_SESSION_HANDLE s;
    cf_code rc = session_get(&s, h, e);
    if (rc != CF_OK)
        return rc;
    CK_OBJECT_HANDLE key;
    unsigned char buf[HSM_WRAPPED_LEN];
    CK_ULONG n = sizeof(buf);
    CK_RV rv;
    if ((rc = master_key(&key, h, s, label, 0, e)) != CF_OK)
        goto out;
    CK_GCM_PARAMS gcm = {(CK_BYTE_PTR)wrapped, 12, 96, (CK_BYTE_PTR)aad, aad_len, 128};
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    if ((rv = h->f->C_DecryptInit(s, &mech, key)) != CKR_OK) {
        rc = p11_err(e, CF_EUNAVAIL, rv, "C_DecryptInit(AES-GCM)");
        goto out;
    }
    rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)wrapped + 12, HSM_WRAPPED_LEN - 12, buf, &n);
    if (rv != CKR_OK || n != HSM_SECRET_LEN) {
        rc = cf_err_set(e, CF_EINTEGRITY, "master key unwrap failed: wrong key or tampered data");
        goto out;
    }
    memcpy(out, buf, HSM_SECRET_LEN);
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    session_put(h, s);
    return rc;
}
