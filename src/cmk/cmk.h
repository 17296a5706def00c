/*
 * cmk.h -- the customer-managed key engine of cofferd (DESIGN §2, §6).
 *
 * It is the only part of cofferd that talks to key vaults. Per CMK
 * registry it holds C (32 bytes, mlocked, wiped on revocation, deletion
 * and shutdown) and feeds the keyring (keyring_set_cmk / keyring_lock):
 *
 *   - creation: cmk_prepare() checks the key the way the identity sees
 *     it (RSA or RSA-HSM, enabled, wrapKey+unwrapKey, purge protection),
 *     makes C, wraps it under the key's current version (RSA-OAEP-256)
 *     and proves one unwrap; the caller inserts the row, then
 *     cmk_commit() loads the KEK (cmk_abort() wipes C if the insert failed);
 *   - rotation: cmk_rotate() re-wraps the cached C under another key or
 *     version and/or for another identity (O(1), no data re-encrypted);
 *   - checks: one background thread, every check_interval_s, unwraps each
 *     CMK registry's C, follows the newest key version when rotation is
 *     automatic, and classifies failures: denied (401/403/404/disabled)
 *     wipes C and the KEK and locks the registry; transient (connection,
 *     timeout, 429, 5xx) keeps serving from the loaded KEK and reports the
 *     fault in lastError. Data-plane requests never wait for a vault.
 *
 * The management API maps a failed call to an HTTP answer with the
 * cmk_fail it fills: status and ARM error code (docs/control-plane.md
 * "Customer-managed keys (rules checked by the management API)").
 */
#ifndef CF_CMK_CMK_H
#define CF_CMK_CMK_H

#include "base/err.h"
#include "store/meta.h"

/* Mints a bearer token for the identity (principal_id, client_id) and the
 * audience `resource`; *out is malloc'ed. Set by cofferd's main (the
 * identity issuer); tests may pass their own. */
typedef cf_code (*cmk_token_fn)(const char *principal_id, const char *client_id,
                                const char *resource, char **out, cf_err *e);

typedef struct cmk_config {
    const char *ca_file;       /* PEM bundle for vault TLS; NULL: system bundle */
    const char *resource;      /* token audience; NULL: "https://vault.azure.net" */
    unsigned check_interval_s; /* 1..86400 */
    unsigned timeout_s;        /* one vault call, total */
    cmk_token_fn token;
    const char *events_path; /* the key events log (events.h); NULL: none */
} cmk_config;

/* A refusal for the management API: HTTP status and ARM error code;
 * the message is in the cf_err, and in full in `message` (a cf_err holds
 * 255 characters; ACR's KeyVaultAccessDenied text with two key ids and
 * the vault's own message is often longer). */
typedef struct cmk_fail {
    int status;
    char code[48];
    char message[1024];
} cmk_fail;

/* Starts the checker thread; the first check of every CMK registry runs
 * in the background right away. */
cf_code cmk_start(const cmk_config *cfg, cf_err *e);
/* Stops the thread and wipes every cached C. */
void cmk_stop(void);

/* Creation (reg: the row about to be inserted, id and system identity
 * set; identity: a client id, or "system"). On success fills
 * reg->wrapped_c, key_identifier, versioned_key_identifier, key_identity,
 * key_rotation_enabled, key_status, last_key_check and keeps C pending. */
cf_code cmk_prepare(meta_registry *reg, const char *key_identifier, const char *identity,
                    cmk_fail *f, cf_err *e);
void cmk_commit(const meta_registry *reg);
void cmk_abort(const char *registry_id);

/* rotate-key: new_key_identifier and/or new_identity (NULL: keep). Writes
 * the row. 409 KeyUnavailable when C is not in memory. */
cf_code cmk_rotate(const char *registry_id, const char *new_key_identifier,
                   const char *new_identity, cmk_fail *f, cf_err *e);

/* Runs one key check of the registry now (synchronously) and stores its
 * outcome in the row. */
cf_code cmk_check_now(const char *registry_id, cf_err *e);

/* Deletion: wipes C and forgets the KEK. */
void cmk_forget(const char *registry_id);

/* Several nodes (docs/scale-out.md): asks for a check of the registry
 * before the next round (another node created it, rotated its key or saw
 * its key's state change; or a request found its key not loaded here).
 * Returns at once; the checker thread does the vault call. */
void cmk_poke(const char *registry_id);
/* A whole round now (after missed notifications). */
void cmk_poke_all(void);
/* Readiness (control/health.h): 0 with *why until the first round of
 * checks finished, and while this node lacks a key that another node
 * serves (it could not reach the vault); a key the vault refused does
 * not count (every node refuses it alike). */
int cmk_keys_ready(char *why, size_t cap);

#endif
