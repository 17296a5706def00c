/*
 * vaultc.h -- a small client of the Azure Key Vault keys REST protocol
 * (api-version 7.4), just what a customer-managed key needs: read a key's
 * properties, wrapKey and unwrapKey with RSA-OAEP-256.
 *
 * Every call ends in one of four outcomes, because the key engine acts on
 * the kind of failure, not on its details:
 *
 *   VAULTC_OK         the vault answered 2xx with a well-formed body;
 *   VAULTC_DENIED     the vault refused: 401, 403 (no permission, disabled
 *                     key, operation not allowed), 404 (key or version
 *                     gone). The customer revoked access: lock the registry;
 *   VAULTC_TRANSIENT  no answer (DNS, connect, TLS, timeout), 429 or 5xx:
 *                     keep serving from a loaded key and try again later;
 *   VAULTC_INVALID    an answer that makes no sense (malformed JSON, a
 *                     wrong-sized key, an unexpected status such as 400).
 *
 * The vaultc_result keeps the HTTP status, the vault's error code and its
 * message (or libcurl's), so a lastError can quote the vault exactly.
 *
 * Transport: HTTPS only, TLS verification always on (ca_file or the
 * system bundle), no redirects, a total timeout per call, response
 * bodies capped at VAULTC_MAX_BODY. The bearer token is passed per call
 * and never logged or kept.
 *
 * Key identifiers are parsed strictly: https://host[:port]/keys/<name>
 * with an optional /<version> of exactly 32 hex digits; no userinfo,
 * query, fragment or other path.
 *
 * The response parsers (vaultc_parse_*) take untrusted bytes and are the
 * target of tests/fuzz/fuzz_vault_response.c.
 */
#ifndef CF_CMK_VAULTC_H
#define CF_CMK_VAULTC_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define VAULTC_MAX_BODY (64 * 1024)
#define VAULTC_API_VERSION "7.4"
#define VAULTC_KID_MAX 512
#define VAULTC_VERSION_LEN 32
#define VAULTC_SECRET_LEN 32 /* the size of what we wrap (C) */

typedef enum {
    VAULTC_OK = 0,
    VAULTC_DENIED,
    VAULTC_TRANSIENT,
    VAULTC_INVALID,
} vaultc_class;

typedef struct vaultc_result {
    vaultc_class cls;
    long status;         /* HTTP status; 0 when no answer came */
    char code[64];       /* the vault's error code ("Forbidden", "KeyNotFound"), or "" */
    char inner[64];      /* its innererror code ("KeyDisabled", ...), or "" */
    char message[384];   /* the vault's message, or the transport/parse error */
    char request_id[64]; /* the vault's x-ms-request-id (its audit line's requestId), or "" */
} vaultc_result;

/* A parsed key identifier. */
typedef struct vaultc_keyid {
    char authority[256]; /* host[:port], as written (lower-cased host) */
    char name[128];
    char version[VAULTC_VERSION_LEN + 1]; /* "" when not versioned */
} vaultc_keyid;

/* Parses s strictly (see the header). CF_EINVAL with a reason otherwise. */
cf_code vaultc_keyid_parse(vaultc_keyid *out, const char *s, cf_err *e);
/* "https://authority/keys/name" (+ "/version" when with_version and set)
 * into out (n bytes); CF_ETOOBIG when it does not fit. */
cf_code vaultc_keyid_format(char *out, size_t n, const vaultc_keyid *id, int with_version,
                            cf_err *e);

/* What a CMK needs to know of a key (GET /keys/{name}[/{version}]). */
typedef struct vaultc_key {
    char kid[VAULTC_KID_MAX]; /* versioned */
    char kty[16];             /* RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM */
    int enabled;
    int op_wrap, op_unwrap; /* key_ops allows wrapKey / unwrapKey */
    char recovery_level[64];
} vaultc_key;

typedef struct vaultc_opts {
    const char *ca_file; /* NULL: system bundle */
    unsigned timeout_s;  /* total per call; 0: 10 */
    /* polled during a call; nonzero aborts it (transient, "cancelled"):
     * lets a stopping daemon leave a slow vault call at once. May be NULL. */
    int (*cancelled)(void);
} vaultc_opts;

/* Must be called once before threads start (curl_global_init); cheap to
 * call again. */
void vaultc_global_init(void);

/* GET key_url (a key identifier, versioned or not). On VAULTC_OK fills
 * *out. The return code: CF_OK when r->cls is VAULTC_OK, else CF_EDENIED
 * (denied), CF_EUNAVAIL (transient) or CF_EINVAL (invalid), with r's
 * message in e. */
cf_code vaultc_get_key(vaultc_key *out, vaultc_result *r, const vaultc_opts *o, const char *token,
                       const char *key_url, cf_err *e);

/* POST {kid}/wrapkey, RSA-OAEP-256, of the 32-byte secret; the wrapped
 * bytes are appended to *wrapped (cap: the caller's) and the vault's kid
 * (versioned) copied to kid_out (VAULTC_KID_MAX) when not NULL. */
cf_code vaultc_wrap(unsigned char *wrapped, size_t wrapped_cap, size_t *wrapped_len, char *kid_out,
                    vaultc_result *r, const vaultc_opts *o, const char *token, const char *kid,
                    const unsigned char secret[VAULTC_SECRET_LEN], cf_err *e);

/* POST {kid}/unwrapkey; the answer must be exactly 32 bytes (secret). */
cf_code vaultc_unwrap(unsigned char secret[VAULTC_SECRET_LEN], vaultc_result *r,
                      const vaultc_opts *o, const char *token, const char *kid,
                      const unsigned char *wrapped, size_t wrapped_len, cf_err *e);

/* GET url (any path of the vault's API) with the bearer token: the body
 * of the answer appended to *resp (its cap is the caller's), r classified
 * as for the calls above. The portal lists vaults, keys and audit lines
 * with it. */
cf_code vaultc_get(cf_buf *resp, vaultc_result *r, const vaultc_opts *o, const char *token,
                   const char *url, cf_err *e);

/* ---- pure parts, exposed for tests and the fuzzer ---- */

/* Classifies an HTTP answer: status with its body (error JSON parsed for
 * code and message when not 2xx). A 2xx leaves cls VAULTC_OK; the caller
 * then parses the body. */
void vaultc_classify(vaultc_result *r, long status, const char *body, size_t len);

/* A key bundle {"key":{"kid","kty","key_ops"},"attributes":{"enabled","recoveryLevel"}}.
 * CF_EINVAL when anything needed is missing or of the wrong type. */
cf_code vaultc_parse_key(vaultc_key *out, const char *body, size_t len, cf_err *e);

/* A key operation result {"kid","value":b64url}: value decoded into out
 * (at most cap bytes, else CF_ETOOBIG), kid copied to kid_out when not NULL. */
cf_code vaultc_parse_op(unsigned char *out, size_t cap, size_t *out_len, char *kid_out,
                        const char *body, size_t len, cf_err *e);

/* An error body {"error":{"code","message","innererror":{"code"}}} into
 * r->code, r->inner and r->message ("" when absent). */
void vaultc_parse_error(vaultc_result *r, const char *body, size_t len);

const char *vaultc_class_name(vaultc_class c);

#endif
