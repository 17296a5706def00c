/*
 * auth.h -- the protocol pieces of registry authentication (DESIGN §5,
 * docs/registry.md "Authentication"): the registry's own bearer tokens,
 * Docker scope strings, the Basic header, scope maps, and the
 * WWW-Authenticate challenge. Pure functions over bytes (plus one key held
 * in memory); the request-level decisions (which registry, which
 * credentials, 401 or 403) live in access.c.
 *
 * Registry tokens are JWTs signed with HMAC-SHA256 under K_token =
 * keyring_derive("coffer/v1/registry-token"), derived at start and never
 * stored. Only cofferd mints and verifies them, so the verifier accepts
 * exactly one header, {"alg":"HS256","typ":"JWT"}, byte for byte: "none",
 * other algorithms, extra header fields (kid, jku, ...) are refused before
 * any key is used. The HMAC is compared in constant time, then the claims:
 * iss "coffer", aud the data plane's service name (fixed at start: a token
 * minted for another service is refused), exp and nbf with AUTH_SKEW
 * seconds of skew. The registry
 * binding (rid) and the credential epoch (cep) are checked against the
 * routed registry by auth_claims_check.
 *
 * Actions are bit sets: AUTH_PULL (content/read, "pull"), AUTH_PUSH
 * (content/write, "push"), AUTH_DELETE (content/delete, "delete"),
 * AUTH_META (metadata/read: tags list and catalog; in tokens
 * "metadata_read").
 *
 * Names: a token's access entries carry the repository name as the client
 * writes it (with path routing "<registry>/<repo>"); a scope map names
 * repositories inside their registry ("app", or "team/" followed by a star). access.c maps one
 * to the other in one place.
 */
#ifndef CF_REGISTRY_AUTH_H
#define CF_REGISTRY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "registry/oci.h"
#include "store/meta.h"

#define AUTH_PULL 0x1u
#define AUTH_PUSH 0x2u
#define AUTH_DELETE 0x4u
#define AUTH_META 0x8u
#define AUTH_ALL (AUTH_PULL | AUTH_PUSH | AUTH_DELETE | AUTH_META)

#define AUTH_TOKEN_TTL 3600
#define AUTH_SKEW 60
#define AUTH_TOKEN_MAX 8192  /* a token longer than this is refused unread */
#define AUTH_HEADER_MAX 8192 /* Authorization headers longer than this: refused */
#define AUTH_MAX_ACCESS 8    /* access entries per token */
#define AUTH_USER_MAX 64     /* user names: < 64 bytes */
#define AUTH_PASS_MAX 256    /* passwords: < 256 bytes */
#define AUTH_SERVICE_MAX 256 /* aud / service / Host: < 256 bytes */
#define AUTH_NAME_MAX (OCI_REGISTRY_NAME_MAX + 1 + OCI_NAME_MAX)

typedef enum { AUTH_ANONYMOUS = 0, AUTH_ADMIN = 1, AUTH_TOKEN = 2 } auth_kind;

typedef struct auth_access {
    char name[AUTH_NAME_MAX + 1];
    unsigned actions;
} auth_access;

typedef struct auth_claims {
    char sub[AUTH_USER_MAX];
    char aud[AUTH_SERVICE_MAX];
    char rid[META_ID_LEN + 1]; /* "" when no registry (anonymous, no scope) */
    int kind;                  /* auth_kind */
    int64_t cep;               /* the registry's cred_epoch at minting */
    int64_t iat, nbf, exp;
    size_t naccess;
    auth_access access[AUTH_MAX_ACCESS];
} auth_claims;

/* K_token from the keyring (after keyring_init). */
cf_code auth_init(cf_err *e);
/* Sets K_token directly (unit tests, fuzzing). */
void auth_set_key(const unsigned char key[32]);
/* Wipes K_token. */
void auth_shutdown(void);

/* Mints a token for c (sub, aud, rid, kind, cep, access; iat/nbf/exp are
 * set from now, exp = now + AUTH_TOKEN_TTL). *out is NUL-terminated, the
 * caller's to free. */
cf_code auth_token_mint(char **out, const auth_claims *c, int64_t now, cf_err *e);
/* Verifies signature, audience (aud must equal `aud`, the data plane's
 * service) and time; fills *out. CF_EAUTH on every refusal (message names
 * the check: "token malformed", "token algorithm not allowed", "token
 * signature invalid", "token is for another service", "token expired",
 * "token not yet valid"). */
cf_code auth_token_verify(auth_claims *out, const char *tok, size_t len, int64_t now,
                          const char *aud, cf_err *e);
/* CF_EAUTH unless the token is bound to registry rid at epoch cep. */
cf_code auth_claims_check(const auth_claims *c, const char *rid, int64_t cep, cf_err *e);
/* The actions the token grants on the client-visible name. */
unsigned auth_claims_actions(const auth_claims *c, const char *name);

/* A Docker scope: "repository:NAME:ACTIONS" (ACTIONS: pull, push, delete,
 * "*", comma-separated; unknown ones ignored) or "registry:catalog:*". */
typedef enum { AUTH_SCOPE_REPOSITORY = 1, AUTH_SCOPE_CATALOG = 2 } auth_scope_type;
typedef struct auth_scope {
    int type;
    char name[AUTH_NAME_MAX + 1];
    unsigned actions;
} auth_scope;
cf_code auth_scope_parse(auth_scope *out, const char *s, size_t len, cf_err *e);

/* What to grant for `requested` when the credentials allow `allowed`:
 * the intersection; a requested pull also grants metadata/read when that
 * is all the credentials have (the tags list needs either). */
unsigned auth_grant(unsigned requested, unsigned allowed);

/* "Basic base64(user:password)" (scheme case-insensitive, standard base64
 * with padding, the user up to the first ':'). CF_EINVAL when malformed,
 * CF_ETOOBIG past the caps. user and pass are NUL-terminated; pass is
 * wiped by the caller. */
cf_code auth_basic_parse(char user[AUTH_USER_MAX], char pass[AUTH_PASS_MAX], const char *hdr,
                         size_t len, cf_err *e);

/* The actions a stored scope map (JSON array of {"repository": NAME or
 * PREFIX/ followed by *, "actions": [...]}) allows on `repo` (the name inside the
 * registry). A malformed map allows nothing. */
unsigned auth_scope_map_actions(const char *scope_json, const char *repo);

/* 1 when host is "host[:port]" with host a DNS name, an IPv4 address or
 * a bracketed IPv6 address, shorter than AUTH_SERVICE_MAX. */
int auth_host_valid(const char *host);

/* 1 when s can be a service name (the challenge's service, a token's
 * aud): 1 to AUTH_SERVICE_MAX - 1 characters of letters, digits and
 * . - _ : [ ] (a host[:port] is one), nothing a quoted header value would
 * have to escape. */
int auth_service_valid(const char *s);

/* What a challenge says. */
typedef struct auth_challenge_args {
    const char *scheme;  /* "http" or "https": the realm's */
    const char *host;    /* the realm's host[:port]; auth_host_valid */
    const char *service; /* the data plane's service; auth_service_valid */
    const char *name;    /* the repository of the scope; NULL: no scope */
    unsigned need;       /* AUTH_PUSH: "pull,push"; AUTH_DELETE: "delete"; else "pull" */
    const char *from;    /* a mount's source repository, asked "pull" too; NULL: none */
    const char *error;   /* "invalid_token", "insufficient_scope"; NULL: none */
} auth_challenge_args;

/* The WWW-Authenticate value: Bearer realm="<scheme>://<host>/oauth2/token",
 * service="<service>"[,scope="repository:<name>:<actions>[ repository:<from>:pull]"]
 * [,error="<error>"] (several scopes space-separated in one parameter, as
 * CNCF Distribution writes them). name and from must be oci_name_valid. */
void auth_challenge(char *out, size_t cap, const auth_challenge_args *a);

#endif
