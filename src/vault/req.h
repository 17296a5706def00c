/*
 * req.h -- the keys API's request bodies, parsed and validated before any
 * state is touched (Key Vault 7.x JSON; docs/keyvault.md):
 *
 *   create  {"kty","key_size"?,"public_exponent"?,"crv"?,"key_ops"?,"attributes"?,"tags"?}
 *   import  {"key": JWK, "Hsm"?, "attributes"?, "tags"?}
 *   update  {"key_ops"?, "attributes"?, "tags"?}
 *   op      {"alg", "value"}  (encrypt/decrypt/wrapkey/unwrapkey/sign)
 *   verify  {"alg", "digest", "value"}
 *
 * Unknown top-level fields are ignored, as the service does (SDKs send
 * fields such as release_policy set to null); known fields are type
 * checked strictly. key_ops are canonicalized ("wrapkey" -> "wrapKey").
 * Names: key names 1-127 of [0-9a-zA-Z-]; vault names 3-24 of the same.
 * Also the fuzz target's entry points (tests/fuzz/fuzz_vault_body.c).
 */
#ifndef CF_VAULT_REQ_H
#define CF_VAULT_REQ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

#define VAULT_MAX_TAGS 15

typedef struct vault_attrs {
    int has_enabled, enabled;
    int has_nbf;
    int64_t nbf; /* 0 with has_nbf: cleared */
    int has_exp;
    int64_t exp;
} vault_attrs;

typedef struct vault_create_req {
    char kty[16];         /* RSA, RSA-HSM, EC, EC-HSM (oct refused) */
    int key_size;         /* RSA: 2048/3072/4096, default 2048 */
    long public_exponent; /* 65537 or 3; default 65537 */
    char crv[8];          /* EC: P-256 (default), P-384, P-521 */
    json_t *key_ops;      /* owned; NULL: the default set for the kty */
    vault_attrs attrs;
    json_t *tags; /* owned or NULL */
} vault_create_req;

typedef struct vault_import_req {
    json_t *jwk; /* owned */
    int hsm;
    json_t *key_ops; /* from the JWK's key_ops; owned or NULL */
    vault_attrs attrs;
    json_t *tags;
} vault_import_req;

typedef struct vault_update_req {
    json_t *key_ops; /* NULL: unchanged */
    vault_attrs attrs;
    int has_tags;
    json_t *tags; /* NULL with has_tags: cleared */
} vault_update_req;

typedef struct vault_op_req {
    char alg[16];
    cf_buf value;  /* decoded bytes (secret) */
    cf_buf digest; /* verify only */
} vault_op_req;

int vault_name_valid_key(const char *s);
int vault_name_valid_vault(const char *s);
int vault_version_valid(const char *s);

/* $skiptoken of the list operations: a keyset cursor, opaque to clients:
 * base64url of "<kind>:<last>", kind "keys", "deletedkeys" or "versions",
 * last the name (or, for versions, the version id) of the last item of the
 * page before. The next page starts after it, so deleting or adding keys
 * between pages never skips nor repeats an item. */
#define VAULT_SKIPTOKEN_MAX 256
/* out: at least VAULT_SKIPTOKEN_MAX + 1 bytes. */
cf_code vault_skiptoken_encode(char *out, size_t n, const char *kind, const char *last, cf_err *e);
/* CF_EINVAL unless token is a well-formed token of this kind whose last
 * is a valid key name (version id for "versions"); last: n >= 128. */
cf_code vault_skiptoken_decode(char *last, size_t n, const char *kind, const char *token,
                               cf_err *e);

/* Each parses a JSON text; the output is cleared by *_free even on failure. */
cf_code vault_req_create(vault_create_req *out, const char *json, size_t len, cf_err *e);
cf_code vault_req_import(vault_import_req *out, const char *json, size_t len, cf_err *e);
cf_code vault_req_update(vault_update_req *out, const char *json, size_t len, cf_err *e);
/* verify: 1 for the verify body shape. */
cf_code vault_req_op(vault_op_req *out, const char *json, size_t len, int verify, cf_err *e);

void vault_create_req_free(vault_create_req *r);
void vault_import_req_free(vault_import_req *r);
void vault_update_req_free(vault_update_req *r);
void vault_op_req_free(vault_op_req *r);

/* Canonical key_ops array from JSON (also used for defaults); NULL on error. */
cf_code vault_key_ops_parse(json_t **out, const json_t *in, cf_err *e);
/* 1 when op (canonical) is in key_ops. */
int vault_key_ops_has(const json_t *key_ops, const char *op);

#endif
