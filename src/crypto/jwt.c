/*
 * jwt.c -- bearer JWT verification against trusted issuers (see jwt.h).
 *
 * The order of the checks is the point of this file:
 *   1. shape: size cap, exactly two dots, three strict base64url parts,
 *      header and payload JSON objects without duplicate members, claim
 *      types and sizes, no "crit" header (we implement no extension);
 *   2. alg: an allowlist of asymmetric algorithms, checked before any key is
 *      touched (so "none" and "HS256 keyed with the public key" never get a
 *      chance);
 *   3. issuer: iss (still unverified) selects the trusted issuer and thereby
 *      the JWKS; an unknown iss ends here;
 *   4. key: kid selects one JWKS key; its kty/crv (and alg, if the JWKS says)
 *      must fit the token's alg;
 *   5. signature over the ASCII "header.payload", ES* in JOSE r||s form;
 *   6. claims: exp (required), nbf, aud, with a clock skew.
 * Only after 5 does anything in the payload count as true; 3 uses iss only
 * to choose which keys to try.
 */
#include "crypto/jwt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "base/enc.h"
#include "base/fs.h"
#include "crypto/jwk.h"

#define KID_MAX 256

struct jwks_key {
    char kid[KID_MAX + 1];
    jwk_kty kty;
    const char *crv; /* EC: "P-256"...; static storage */
    char alg[16];    /* "" when the JWKS does not say */
    EVP_PKEY *pkey;
};

struct jwt_jwks {
    size_t n;
    struct jwks_key keys[JWT_MAX_JWKS_KEYS];
};

/* ---- JWKS ---- */

void jwt_jwks_free(jwt_jwks *jwks)
{
    if (jwks == NULL)
        return;
    for (size_t i = 0; i < jwks->n; i++)
        EVP_PKEY_free(jwks->keys[i].pkey);
    free(jwks);
}

size_t jwt_jwks_count(const jwt_jwks *jwks)
{
    return jwks ? jwks->n : 0;
}

cf_code jwt_jwks_parse(jwt_jwks **out, const json_t *doc, cf_err *e)
{
    *out = NULL;
    json_t *keys = json_is_object(doc) ? json_object_get(doc, "keys") : NULL;
    if (!json_is_array(keys))
        return cf_err_set(e, CF_EINVAL, "JWKS must be an object with a 'keys' array");
    jwt_jwks *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = CF_OK;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        if (!json_is_object(k)) {
            rc = cf_err_set(e, CF_EINVAL, "JWKS key %zu is not an object", i);
            goto out;
        }
        const char *kty = json_string_value(json_object_get(k, "kty"));
        json_t *use = json_object_get(k, "use");
        json_t *kid = json_object_get(k, "kid");
        json_t *alg = json_object_get(k, "alg");
        /* Keys we would never use are skipped: encryption keys, oct keys,
         * keys nobody can select. */
        if (kty == NULL || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0))
            continue;
        if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
            continue;
        if (!json_is_string(kid) || json_string_length(kid) == 0)
            continue;
        if (json_string_length(kid) > KID_MAX ||
            strlen(json_string_value(kid)) != json_string_length(kid)) {
            rc = cf_err_set(e, CF_EINVAL, "JWKS key %zu: kid too long or not text", i);
            goto out;
        }
        if (alg != NULL &&
            (!json_is_string(alg) || json_string_length(alg) >= sizeof(j->keys[0].alg))) {
            rc = cf_err_set(e, CF_EINVAL, "JWKS key %zu: bad alg", i);
            goto out;
        }
        for (size_t m = 0; m < j->n; m++) {
            if (strcmp(j->keys[m].kid, json_string_value(kid)) == 0) {
                rc = cf_err_set(e, CF_EINVAL, "JWKS has two keys with kid '%.64s'",
                                json_string_value(kid));
                goto out;
            }
        }
        if (j->n == JWT_MAX_JWKS_KEYS) {
            rc = cf_err_set(e, CF_ETOOBIG, "JWKS has more than %d usable keys", JWT_MAX_JWKS_KEYS);
            goto out;
        }
        struct jwks_key *dst = &j->keys[j->n];
        cf_err sub = {0};
        if (jwk_to_pkey(&dst->pkey, k, JWK_PUBLIC_ONLY, &sub) != CF_OK) {
            rc = cf_err_set(e, CF_EINVAL, "JWKS key '%.64s': %s", json_string_value(kid), sub.msg);
            goto out;
        }
        j->n++;
        memcpy(dst->kid, json_string_value(kid), json_string_length(kid) + 1);
        if (alg != NULL)
            memcpy(dst->alg, json_string_value(alg), json_string_length(alg) + 1);
        if ((rc = jwk_pkey_describe(&dst->kty, NULL, &dst->crv, dst->pkey, e)) != CF_OK)
            goto out;
    }
    *out = j;
    j = NULL;
out:
    jwt_jwks_free(j);
    return rc;
}

cf_code jwt_jwks_parse_text(jwt_jwks **out, const char *text, size_t len, cf_err *e)
{
    *out = NULL;
    if (len > JWT_MAX_JWKS_FILE)
        return cf_err_set(e, CF_ETOOBIG, "JWKS larger than %d bytes", JWT_MAX_JWKS_FILE);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return cf_err_set(e, CF_EINVAL, "JWKS is not JSON: %.80s", je.text);
    cf_code rc = jwt_jwks_parse(out, doc, e);
    json_decref(doc);
    return rc;
}

cf_code jwt_jwks_load_file(jwt_jwks **out, const char *path, cf_err *e)
{
    *out = NULL;
    cf_buf b;
    cf_buf_init(&b, JWT_MAX_JWKS_FILE);
    cf_code rc = cf_fs_read_all(path, JWT_MAX_JWKS_FILE, &b, e);
    if (rc == CF_OK)
        rc = jwt_jwks_parse_text(out, (const char *)b.data, b.len, e);
    cf_buf_free(&b);
    return rc;
}

static const struct jwks_key *jwks_find(const jwt_jwks *j, const char *kid)
{
    for (size_t i = 0; j && kid && i < j->n; i++)
        if (strcmp(j->keys[i].kid, kid) == 0)
            return &j->keys[i];
    return NULL;
}

/* ---- claims ---- */

void jwt_claims_free(jwt_claims *c)
{
    if (c == NULL)
        return;
    free(c->iss);
    free(c->sub);
    free(c->oid);
    free(c->appid);
    free(c->azp);
    free(c->tid);
    free(c->kid);
    for (size_t i = 0; i < c->aud_count; i++)
        free(c->aud[i]);
    memset(c, 0, sizeof(*c));
}

const char *jwt_claims_object_id(const jwt_claims *c)
{
    return c->oid ? c->oid : c->sub;
}

const char *jwt_claims_app_id(const jwt_claims *c)
{
    return c->appid ? c->appid : c->azp;
}

const char *jwt_fail_name(jwt_fail f)
{
    static const char *const N[] = {"none",          "malformed", "alg",
                                    "kid",           "signature", "expired",
                                    "not_yet_valid", "audience",  "untrusted_issuer"};
    return (unsigned)f < sizeof(N) / sizeof(N[0]) ? N[f] : "unknown";
}

static cf_code fail(jwt_fail *out_fail, jwt_fail why, cf_err *e, const char *msg)
{
    if (out_fail && *out_fail == JWT_FAIL_NONE)
        *out_fail = why;
    return cf_err_set(e, CF_EAUTH, "%s", msg);
}

/* A string claim: absent is fine; present must be a string without NULs
 * and within the cap. */
static int copy_string(char **out, const json_t *v)
{
    if (v == NULL)
        return 1;
    if (!json_is_string(v))
        return 0;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len > JWT_MAX_CLAIM || strlen(s) != len)
        return 0;
    *out = strndup(s, len);
    return *out != NULL;
}

/* A NumericDate: integer or real seconds, within a sane range. */
static int get_date(int64_t *out, int *has, const json_t *v)
{
    if (v == NULL)
        return 1;
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return 0;
    if (!isfinite(d) || d < 0 || d > 1e12)
        return 0;
    *out = (int64_t)d; /* d >= 0: truncation is floor */
    *has = 1;
    return 1;
}

/* The three parts of a compact JWS. */
typedef struct {
    const char *part[3];
    size_t len[3];
    json_t *header, *payload;
} parsed;

static void parsed_free(parsed *p)
{
    json_decref(p->header);
    json_decref(p->payload);
}

static cf_code decode_json(json_t **out, const char *b64, size_t len, cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, JWT_MAX_TOKEN);
    cf_code rc = cf_b64url_decode(&b, b64, len, NULL);
    if (rc != CF_OK) {
        rc = cf_err_set(e, CF_EAUTH, "token malformed: bad base64url");
        goto out;
    }
    *out = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = cf_err_set(e, CF_EAUTH, "token malformed: not a JSON object");
    }
out:
    cf_buf_free(&b);
    return rc;
}

static cf_code parse(parsed *p, jwt_claims *c, const char *token, size_t len, jwt_fail *out_fail,
                     cf_err *e)
{
    memset(p, 0, sizeof(*p));
    if (token == NULL || len == 0 || len > JWT_MAX_TOKEN)
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: empty or too long");
    const char *cur = token, *end = token + len;
    for (int i = 0; i < 3; i++) {
        const char *dot = i < 2 ? memchr(cur, '.', (size_t)(end - cur)) : end;
        if (dot == NULL)
            return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: expected three parts");
        p->part[i] = cur;
        p->len[i] = (size_t)(dot - cur);
        cur = dot + (i < 2);
    }
    if (memchr(p->part[2], '.', p->len[2]) != NULL || p->len[0] == 0 || p->len[1] == 0)
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: expected three parts");
    if (decode_json(&p->header, p->part[0], p->len[0], e) != CF_OK ||
        decode_json(&p->payload, p->part[1], p->len[1], e) != CF_OK)
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed");

    json_t *alg = json_object_get(p->header, "alg");
    if (!json_is_string(alg))
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: header alg");
    if (json_string_length(alg) < sizeof(c->alg) &&
        strlen(json_string_value(alg)) == json_string_length(alg))
        memcpy(c->alg, json_string_value(alg), json_string_length(alg) + 1);
    else
        memcpy(c->alg, "?", 2); /* no allowed alg is that long: refused later */
    if (json_object_get(p->header, "crit") != NULL)
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: unsupported crit header");
    if (!copy_string(&c->kid, json_object_get(p->header, "kid")))
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: header kid");

    const json_t *pl = p->payload;
    if (!copy_string(&c->iss, json_object_get(pl, "iss")) ||
        !copy_string(&c->sub, json_object_get(pl, "sub")) ||
        !copy_string(&c->oid, json_object_get(pl, "oid")) ||
        !copy_string(&c->appid, json_object_get(pl, "appid")) ||
        !copy_string(&c->azp, json_object_get(pl, "azp")) ||
        !copy_string(&c->tid, json_object_get(pl, "tid")))
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: string claim");
    if (!get_date(&c->exp, &c->has_exp, json_object_get(pl, "exp")) ||
        !get_date(&c->nbf, &c->has_nbf, json_object_get(pl, "nbf")) ||
        !get_date(&c->iat, &c->has_iat, json_object_get(pl, "iat")))
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: date claim");
    json_t *aud = json_object_get(pl, "aud");
    if (json_is_string(aud)) {
        if (!copy_string(&c->aud[0], aud))
            return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: aud");
        c->aud_count = 1;
    } else if (json_is_array(aud)) {
        if (json_array_size(aud) > JWT_MAX_AUD)
            return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: too many audiences");
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (!json_is_string(v) || !copy_string(&c->aud[c->aud_count], v))
                return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: aud");
            c->aud_count++;
        }
    } else if (aud != NULL) {
        return fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: aud");
    }
    return CF_OK;
}

cf_code jwt_token_decode(jwt_claims *out, const char *token, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    parsed p;
    cf_code rc = parse(&p, out, token, len, NULL, e);
    parsed_free(&p);
    return rc;
}

/* ---- signature ---- */

static const struct {
    const char *alg;
    jwk_kty kty;
    const char *crv;
    const char *md;
} ALGS[] = {
    {"RS256", JWK_KTY_RSA, NULL, "SHA256"},
    {"RS384", JWK_KTY_RSA, NULL, "SHA384"},
    {"ES256", JWK_KTY_EC, "P-256", "SHA256"},
    {"ES384", JWK_KTY_EC, "P-384", "SHA384"},
};

/* JOSE r||s to DER (caller OPENSSL_free), or NULL. */
static unsigned char *ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len, size_t *out_len)
{
    unsigned char *der = NULL;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(raw_len / 2), NULL);
    BIGNUM *s = BN_bin2bn(raw + raw_len / 2, (int)(raw_len / 2), NULL);
    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    int n = i2d_ECDSA_SIG(sig, &der);
    if (n <= 0)
        der = NULL;
    else
        *out_len = (size_t)n;
out:
    ECDSA_SIG_free(sig);
    return der;
}

static cf_code verify_parsed(const parsed *p, const jwt_claims *c, const jwt_jwks *jwks,
                             jwt_fail *out_fail, cf_err *e)
{
    int a = -1;
    for (size_t i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++)
        if (strcmp(c->alg, ALGS[i].alg) == 0)
            a = (int)i;
    if (a < 0)
        return fail(out_fail, JWT_FAIL_ALG, e, "token algorithm not allowed");
    const struct jwks_key *k = jwks_find(jwks, c->kid);
    if (k == NULL)
        return fail(out_fail, JWT_FAIL_KID, e, "token key id unknown");
    if (k->kty != ALGS[a].kty || (ALGS[a].crv && strcmp(ALGS[a].crv, k->crv) != 0) ||
        (k->alg[0] && strcmp(k->alg, c->alg) != 0))
        return fail(out_fail, JWT_FAIL_ALG, e, "token algorithm does not match its key");

    cf_code rc = CF_OK;
    cf_buf sig;
    cf_buf_init(&sig, 1024);
    unsigned char *der = NULL;
    size_t der_len = 0;
    EVP_MD_CTX *md = NULL;
    const unsigned char *s;
    size_t s_len;
    if (cf_b64url_decode(&sig, p->part[2], p->len[2], NULL) != CF_OK) {
        rc = fail(out_fail, JWT_FAIL_MALFORMED, e, "token malformed: signature encoding");
        goto out;
    }
    s = sig.data;
    s_len = sig.len;
    if (k->kty == JWK_KTY_EC) {
        size_t field = strcmp(k->crv, "P-256") == 0 ? 32 : 48;
        if (s_len != 2 * field || (der = ecdsa_raw_to_der(s, s_len, &der_len)) == NULL) {
            rc = fail(out_fail, JWT_FAIL_SIGNATURE, e, "token signature invalid");
            goto out;
        }
        s = der;
        s_len = der_len;
    } else if (s_len != (size_t)EVP_PKEY_get_size(k->pkey)) {
        rc = fail(out_fail, JWT_FAIL_SIGNATURE, e, "token signature invalid");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL ||
        EVP_DigestVerifyInit_ex(md, NULL, ALGS[a].md, NULL, NULL, k->pkey, NULL) != 1) {
        rc = cf_err_ssl(e, "token verification setup: ");
        goto out;
    }
    /* signing input: the ASCII bytes "header.payload" as they came */
    size_t in_len = (size_t)(p->part[1] + p->len[1] - p->part[0]);
    if (EVP_DigestVerify(md, s, s_len, (const unsigned char *)p->part[0], in_len) != 1)
        rc = fail(out_fail, JWT_FAIL_SIGNATURE, e, "token signature invalid");
out:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    cf_buf_free(&sig);
    return rc;
}

cf_code jwt_token_verify(const char *token, size_t len, const jwt_jwks *jwks, jwt_fail *out_fail,
                         cf_err *e)
{
    if (out_fail)
        *out_fail = JWT_FAIL_NONE;
    jwt_claims c = {0};
    parsed p;
    cf_code rc = parse(&p, &c, token, len, out_fail, e);
    if (rc == CF_OK)
        rc = verify_parsed(&p, &c, jwks, out_fail, e);
    parsed_free(&p);
    jwt_claims_free(&c);
    return rc;
}

/* ---- claim checks ---- */

static int has_aud(const jwt_claims *c, const char *aud)
{
    for (size_t i = 0; aud && i < c->aud_count; i++)
        if (strcmp(c->aud[i], aud) == 0)
            return 1;
    return 0;
}

cf_code jwt_claims_check(const jwt_issuer **out_issuer, jwt_fail *out_fail, const jwt_claims *c,
                         const jwt_issuer *issuers, size_t n_issuers, int64_t now, int64_t skew,
                         cf_err *e)
{
    if (out_issuer)
        *out_issuer = NULL;
    const jwt_issuer *match = NULL;
    int known = 0;
    for (size_t i = 0; c->iss && i < n_issuers; i++) {
        if (issuers[i].issuer && strcmp(issuers[i].issuer, c->iss) == 0) {
            known = 1;
            if (match == NULL && has_aud(c, issuers[i].audience))
                match = &issuers[i];
        }
    }
    if (!known)
        return fail(out_fail, JWT_FAIL_UNTRUSTED_ISSUER, e, "token issuer not trusted");
    if (!c->has_exp || now >= c->exp + skew)
        return fail(out_fail, JWT_FAIL_EXPIRED, e, "token expired");
    if (c->has_nbf && now + skew < c->nbf)
        return fail(out_fail, JWT_FAIL_NOT_YET_VALID, e, "token not yet valid");
    if (match == NULL)
        return fail(out_fail, JWT_FAIL_AUDIENCE, e, "token audience not accepted");
    if (out_issuer)
        *out_issuer = match;
    return CF_OK;
}

cf_code jwt_authenticate(jwt_claims *out, jwt_fail *out_fail, const char *token, size_t len,
                         const jwt_issuer *issuers, size_t n_issuers, int64_t now, int64_t skew,
                         cf_err *e)
{
    jwt_fail f = JWT_FAIL_NONE;
    memset(out, 0, sizeof(*out));
    parsed p;
    cf_code rc = parse(&p, out, token, len, &f, e);
    if (rc != CF_OK)
        goto out;
    /* The signature must verify with the keys of an issuer named by iss;
     * several configured entries may share an issuer (different audiences
     * or key sets): any one whose JWKS verifies the signature will do. */
    int tried = 0;
    cf_err first = {0};
    jwt_fail first_fail = JWT_FAIL_NONE;
    rc = CF_EAUTH;
    for (size_t i = 0; out->iss && i < n_issuers && rc != CF_OK; i++) {
        if (issuers[i].issuer == NULL || strcmp(issuers[i].issuer, out->iss) != 0)
            continue;
        cf_err sub = {0};
        jwt_fail sf = JWT_FAIL_NONE;
        rc = verify_parsed(&p, out, issuers[i].jwks, &sf, &sub);
        if (rc != CF_OK && !tried) {
            first = sub;
            first_fail = sf;
        }
        tried = 1;
    }
    if (!tried) {
        rc = fail(&f, JWT_FAIL_UNTRUSTED_ISSUER, e, "token issuer not trusted");
        goto out;
    }
    if (rc != CF_OK) {
        f = first_fail;
        rc = cf_err_set(e, first.code ? first.code : CF_EAUTH, "%s", first.msg);
        goto out;
    }
    rc = jwt_claims_check(NULL, &f, out, issuers, n_issuers, now, skew, e);
out:
    parsed_free(&p);
    if (rc != CF_OK)
        jwt_claims_free(out);
    if (out_fail)
        *out_fail = rc == CF_OK ? JWT_FAIL_NONE : f;
    return rc;
}
