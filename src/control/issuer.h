/*
 * issuer.h -- cofferd's identity issuer for managed identities (DESIGN §7).
 *
 * cofferd signs the bearer tokens its identities present to key vaults:
 * ES256 JWTs (RFC 7515/7519) with one EC P-256 key, whose public half it
 * publishes as a JWKS next to an OpenID configuration, so that a vault
 * (keyvaultd, with `issuers: [{issuer, jwks_url: "<mgmt>/jwks"}]`) can
 * verify them.
 *
 * The signing key lives in DIR/keys/issuer (0600): its 32-byte private
 * scalar wrapped under the SRK (keyring_wrap_secret, id "issuer"; the same
 * AES-256-GCM format as a registry's S), written atomically at first
 * start. A file that does not authenticate under the SRK is refused:
 * cofferd does not silently mint a new key (that would change the kid and
 * strand every vault that trusts the old one).
 *
 *   kid  = first 16 hex digits of SHA-256 of the public point (uncompressed,
 *          0x04 ‖ x ‖ y, 65 bytes): stable for the life of the key
 *   JWT  header {"alg":"ES256","typ":"JWT","kid"}; claims {"iss","sub","oid",
 *        "appid","tid","aud","iat","nbf","exp"}; signature r ‖ s (64 bytes)
 *
 * Thread safety: an issuer is immutable after issuer_open; minting from
 * many threads at once is fine.
 */
#ifndef CF_CONTROL_ISSUER_H
#define CF_CONTROL_ISSUER_H

#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

#define ISSUER_KID_LEN 16
#define ISSUER_TOKEN_TTL 3600
/* The audience of tokens cofferd mints for its own vault calls. */
#define ISSUER_VAULT_RESOURCE "https://vault.azure.net"

typedef struct issuer issuer;

/* Loads the signing key from key_path, or creates it there (0600) when the
 * file is absent; the keyring (SRK) must be up. url is the iss claim (and
 * the base of jwks_uri), tenant the tid claim; both are copied.
 * CF_EINTEGRITY when the file does not authenticate under the SRK;
 * CF_EDENIED when it is readable by group or others. */
cf_code issuer_open(issuer **out, const char *key_path, const char *url, const char *tenant,
                    cf_err *e);
void issuer_free(issuer *is);

const char *issuer_kid(const issuer *is);
const char *issuer_url(const issuer *is);
const char *issuer_tenant(const issuer *is);

/* {"keys":[{"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}]}; new reference. */
json_t *issuer_jwks(const issuer *is);
/* {"issuer","jwks_uri","id_token_signing_alg_values_supported":["ES256"]}; new reference. */
json_t *issuer_openid_config(const issuer *is);

/* The audience for `resource`: the resource without a trailing "/.default"
 * (an OAuth scope given where a resource was expected). Writes at most cap
 * bytes; CF_EINVAL when empty or too long. */
cf_code issuer_audience(char *out, size_t cap, const char *resource, cf_err *e);

/* Mints a token for the identity: sub = oid = principal, appid = client,
 * aud = issuer_audience(resource), iat = nbf = now, exp = now + ttl_s.
 * *out is malloc'ed (the caller frees it); *out_exp (may be NULL) receives
 * exp. */
cf_code issuer_mint(char **out, int64_t *out_exp, const issuer *is, const char *principal,
                    const char *client, const char *resource, unsigned ttl_s, cf_err *e);

/* The process-wide issuer behind issuer_token (set by cofferd's main;
 * borrowed, NULL to unset). */
void issuer_set_default(issuer *is);
/* A cmk_token_fn (cmk/cmk.h): mints an ISSUER_TOKEN_TTL token with the
 * default issuer; CF_EUNAVAIL when none is set. */
cf_code issuer_token(const char *principal_id, const char *client_id, const char *resource,
                     char **out, cf_err *e);

#endif
