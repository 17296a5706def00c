/*
 * jwt.h -- verification of bearer JWTs (compact JWS, RFC 7515/7519)
 * against trusted issuers' JWKS.
 *
 * A token is header.payload.signature, each base64url without padding. We
 * accept only asymmetric algorithms: RS256, RS384, ES256, ES384. "none",
 * HS* and everything else are refused before any key is looked at, so an
 * attacker cannot make us use a public key as an HMAC secret. The key is
 * chosen by the header's kid in the JWKS of the issuer named by the
 * (not yet verified) iss claim; the JWKS key's kty must match the alg
 * family (and its crv the ES curve); if the JWKS key has "alg" it must
 * equal the token's alg.
 *
 * Caps: a token is at most JWT_MAX_TOKEN bytes; each claim string at most
 * JWT_MAX_CLAIM bytes; aud arrays at most JWT_MAX_AUD entries; a JWKS at
 * most JWT_MAX_JWKS_KEYS keys (JWKS files at most 1 MiB).
 *
 * Claim checks (jwt_claims_check) with a clock skew (JWT_DEFAULT_SKEW):
 *   exp required, now >= exp + skew           -> JWT_FAIL_EXPIRED
 *   nbf optional, now + skew < nbf            -> JWT_FAIL_NOT_YET_VALID
 *   iss must be one of the trusted issuers    -> JWT_FAIL_UNTRUSTED_ISSUER
 *   aud (string or any array entry) == that issuer's audience
 *                                             -> JWT_FAIL_AUDIENCE
 * Every refusal is CF_EAUTH with a short message naming the failed check
 * ("token expired", "token not yet valid", "token audience not accepted",
 * "token issuer not trusted", "token signature invalid", "token key id
 * unknown", "token algorithm not allowed", "token malformed: ...").
 *
 * Thread safety: a jwt_jwks is immutable once built and may be shared by
 * threads; replace it wholesale (build a new one, swap the pointer under the
 * caller's lock) to refresh keys.
 */
#ifndef CF_CRYPTO_JWT_H
#define CF_CRYPTO_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

#define JWT_MAX_TOKEN (16 * 1024)
#define JWT_MAX_CLAIM 1024
#define JWT_MAX_AUD 16
#define JWT_MAX_JWKS_KEYS 64
#define JWT_MAX_JWKS_FILE (1024 * 1024)
#define JWT_DEFAULT_SKEW 60

typedef enum {
    JWT_FAIL_NONE = 0,
    JWT_FAIL_MALFORMED,        /* bad structure, base64url, JSON, types, sizes */
    JWT_FAIL_ALG,              /* alg none, HS*, unknown alg, kty/alg mismatch */
    JWT_FAIL_KID,              /* no kid, or kid not in the issuer's JWKS */
    JWT_FAIL_SIGNATURE,        /* signature does not verify */
    JWT_FAIL_EXPIRED,          /* exp missing or passed */
    JWT_FAIL_NOT_YET_VALID,    /* nbf in the future */
    JWT_FAIL_AUDIENCE,         /* aud does not contain the issuer's audience */
    JWT_FAIL_UNTRUSTED_ISSUER, /* iss missing or not configured */
} jwt_fail;

/* A parsed JWKS: the usable signing keys (kty RSA or EC, with a kid, "use"
 * absent or "sig"). Keys with other kty/use are skipped, not errors; a
 * malformed key that claims to be usable is an error. */
typedef struct jwt_jwks jwt_jwks;

/* From a JSON object {"keys":[...]} (borrowed). */
cf_code jwt_jwks_parse(jwt_jwks **out, const json_t *jwks, cf_err *e);
/* From JSON text (e.g. a body fetched from jwks_url). */
cf_code jwt_jwks_parse_text(jwt_jwks **out, const char *text, size_t len, cf_err *e);
/* From a file (at most JWT_MAX_JWKS_FILE bytes). */
cf_code jwt_jwks_load_file(jwt_jwks **out, const char *path, cf_err *e);
/* Number of usable keys. */
size_t jwt_jwks_count(const jwt_jwks *jwks);
void jwt_jwks_free(jwt_jwks *jwks);

/* A trusted issuer: all pointers borrowed, must outlive the calls. */
typedef struct jwt_issuer {
    const char *issuer;   /* exact match against iss */
    const char *audience; /* required aud value */
    const jwt_jwks *jwks;
} jwt_issuer;

/* Claims of an accepted token. Strings are NUL-terminated copies owned by
 * the struct (NULL when the claim is absent); numeric dates are seconds
 * since the epoch, meaningful only when the matching has_ flag is set. */
typedef struct jwt_claims {
    char *iss, *sub, *oid, *appid, *azp, *tid;
    char *aud[JWT_MAX_AUD];
    size_t aud_count;
    int64_t exp, nbf, iat;
    int has_exp, has_nbf, has_iat;
    char alg[8]; /* header alg, e.g. "RS256" */
    char *kid;   /* header kid */
} jwt_claims;

/* Frees the strings inside (not the struct itself) and zeroes it; safe on a
 * zeroed struct. */
void jwt_claims_free(jwt_claims *c);

/* The caller identity Key Vault uses: oid else sub, appid else azp (NULL
 * when absent); pointers into c. */
const char *jwt_claims_object_id(const jwt_claims *c);
const char *jwt_claims_app_id(const jwt_claims *c);

/* Parses a compact token WITHOUT verifying anything but its shape: header
 * alg/kid and the claims land in *out (caller frees with jwt_claims_free,
 * also on error). For diagnostics and tests; authentication uses
 * jwt_authenticate. */
cf_code jwt_token_decode(jwt_claims *out, const char *token, size_t len, cf_err *e);

/* Checks a decoded token's signature with the JWKS (alg and kid rules
 * above). */
cf_code jwt_token_verify(const char *token, size_t len, const jwt_jwks *jwks, jwt_fail *out_fail,
                         cf_err *e);

/* Claim checks only (exp, nbf, iss, aud) at time now with skew seconds.
 * *out_issuer (may be NULL) receives the matching trusted issuer. */
cf_code jwt_claims_check(const jwt_issuer **out_issuer, jwt_fail *out_fail, const jwt_claims *c,
                         const jwt_issuer *issuers, size_t n_issuers, int64_t now, int64_t skew,
                         cf_err *e);

/* Everything: decode, find the issuer by iss, verify the signature with its
 * JWKS, check exp/nbf/aud. On success *out holds the claims (caller frees
 * with jwt_claims_free); on failure *out is zeroed/freed, *out_fail (may be
 * NULL) says which check failed and e holds CF_EAUTH and the message. */
cf_code jwt_authenticate(jwt_claims *out, jwt_fail *out_fail, const char *token, size_t len,
                         const jwt_issuer *issuers, size_t n_issuers, int64_t now, int64_t skew,
                         cf_err *e);

/* Short stable name of a failure ("expired", "audience", ...). */
const char *jwt_fail_name(jwt_fail f);

#endif
