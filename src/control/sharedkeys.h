/*
 * sharedkeys.h -- the keys every node of a cluster must hold the same
 * copy of, checked at start (docs/scale-out.md "Shared keys").
 *
 * Nodes share one database and one object store, so three secrets must be
 * the same on each: the service root key (it unwraps every registry's S),
 * the identity issuer's signing key (a vault trusts one JWKS; a token
 * minted on one node must verify against it) and the admin token (the
 * management API answers the same on every node). They are files given
 * to every node (DIR/keys/srk, DIR/keys/issuer sealed under the SRK,
 * DIR/admin.token): copied from the first node, or mounted from one
 * secret store. None of them goes into the database.
 *
 * What goes into the database is a fingerprint of each (table
 * shared_keys): the first node to start records them; every node that
 * starts later compares its own and refuses to start on a difference
 * (a node with a freshly made SRK would otherwise write registries no
 * other node can read). The fingerprints reveal nothing: the SRK's is an
 * HKDF output of it, the admin token's an HMAC under an SRK-derived key,
 * the issuer's its public key id.
 */
#ifndef CF_CONTROL_SHAREDKEYS_H
#define CF_CONTROL_SHAREDKEYS_H

#include "base/err.h"

/* Compares (or, on the first start, records) the fingerprints of the SRK
 * (from the keyring) and the admin token: before anything is written.
 * CF_ECONFLICT with the key named when this node's copy differs. */
cf_code sharedkeys_check(const char *admin_token, cf_err *e);
/* The same for the issuer's key id, once the issuer is open. */
cf_code sharedkeys_check_issuer(const char *issuer_kid, cf_err *e);

#endif
