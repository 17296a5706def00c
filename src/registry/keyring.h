/*
 * keyring.h -- the one door through which the data plane obtains a
 * registry's KEK (DESIGN §2, §6).
 *
 * The keyring holds the SRK and, per registry, the derived KEK in memory
 * (mlock'ed where the OS allows), or the reason it cannot: a registry is
 * either available or locked with a human reason ("customer key disabled
 * in the vault", ...). keyring_kek() copies the KEK out for the caller's
 * short use (wipe it with keys_wipe after opening the sealed object) or
 * fails with CF_EUNAVAIL and that reason: the data plane turns it into a
 * clear error, nothing is deleted.
 *
 * Service-managed registries (no CMK) derive KEK = HKDF(S) on first use
 * from the wrapped S in the registry row. CMK registries (a later issue)
 * need C: the key manager supplies it with keyring_set_cmk() after it
 * unwrapped C in the vault, and calls keyring_lock() on revocation, which
 * wipes the KEK; until C is set a CMK registry answers "locked".
 *
 * Thread-safe (one mutex; the critical sections are memcpy-sized).
 */
#ifndef CF_REGISTRY_KEYRING_H
#define CF_REGISTRY_KEYRING_H

#include "base/err.h"
#include "crypto/keys.h"
#include "crypto/seal.h"
#include "store/meta.h"

/* Loads (or creates) the SRK at srk_path. */
cf_code keyring_init(const char *srk_path, cf_err *e);
/* Wipes the SRK and every KEK. */
void keyring_shutdown(void);

/* The registry's KEK, copied into *out. CF_EUNAVAIL (message: the reason)
 * when the registry is locked. */
cf_code keyring_kek(seal_kek *out, const meta_registry *reg, cf_err *e);

/* A fresh S for a new registry, wrapped under the SRK for registry_id. */
cf_code keyring_new_secret(unsigned char wrapped[KEYS_WRAPPED_LEN], const char *registry_id,
                           cf_err *e);

/* CMK hooks for the key manager. keyring_set_cmk derives and caches the
 * KEK from S and C (C is copied; the caller wipes its own). */
cf_code keyring_set_cmk(const meta_registry *reg, const unsigned char c[KEYS_SECRET_LEN],
                        cf_err *e);
/* Wipes the registry's KEK; keyring_kek then fails with `why`
 * (CF_EDENIED: the vault refused the key; CF_EUNAVAIL: not loaded or the
 * vault unreachable) and the reason as message. */
void keyring_lock(const char *registry_id, cf_code why, const char *reason);
/* The full reason a locked registry gives (keyring_kek's message holds at
 * most a cf_err's 255 characters); 0 when it is not locked. */
size_t keyring_reason(const char *registry_id, char *out, size_t cap);
/* Wraps / unwraps another 32-byte service secret under the SRK, bound to
 * `id` (the issuer's signing key: id "issuer"); same format as S. */
cf_code keyring_wrap_secret(unsigned char wrapped[KEYS_WRAPPED_LEN], const char *id,
                            const unsigned char secret[KEYS_SECRET_LEN], cf_err *e);
cf_code keyring_unwrap_secret(unsigned char secret[KEYS_SECRET_LEN], const char *id,
                              const unsigned char wrapped[KEYS_WRAPPED_LEN], cf_err *e);
/* A 32-byte service key derived from the SRK for one purpose:
 * HKDF-SHA256(SRK, salt "coffer", info), e.g. "coffer/v1/registry-token". */
cf_code keyring_derive(unsigned char out[KEYS_SECRET_LEN], const char *info, cf_err *e);
/* Called (outside the keyring's lock) when a CMK registry's KEK is asked
 * for and this node never loaded it (a registry another node created, or
 * a request before this node's first round of checks): the key engine
 * loads it then and there (one vault call; a KEK that is loaded never
 * waits for a vault), and keyring_kek looks again. NULL: none. */
void keyring_set_miss_hook(void (*fn)(const char *registry_id));
/* 1 when the registry has an entry, available or locked. */
int keyring_known(const char *registry_id);
/* Forgets a registry entirely (deletion). */
void keyring_forget(const char *registry_id);

#endif
