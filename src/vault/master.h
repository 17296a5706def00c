/*
 * master.h -- the vault's master key and the sealing of private keys.
 *
 * Software keys' private parts (PKCS#8 DER) are stored in SQLite only
 * sealed: AES-256-GCM under the 32-byte master key, with a fresh 12-byte
 * nonce and AAD binding the blob to its place:
 *
 *     sealed = "KVS1" ‖ nonce(12) ‖ ciphertext ‖ tag(16)
 *     AAD    = "keyvaultd/v1/key" 0x00 vault 0x00 name 0x00 version   (lowercased)
 *
 * so a sealed blob copied to another key, version or vault fails to open.
 * The master key is DIR/master.key (0600, 32 raw bytes, refused when group
 * or world can read it), created at first start; or, with "master_key":
 * "pkcs11", a random data key stored in DIR/master.key.wrapped wrapped by
 * an AES key that never leaves the token (hsm.h). It lives in memory
 * locked with mlock where possible and is wiped at shutdown.
 */
#ifndef CF_VAULT_MASTER_H
#define CF_VAULT_MASTER_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define VAULT_MASTER_LEN 32

typedef struct vault_master {
    unsigned char key[VAULT_MASTER_LEN];
} vault_master;

/* DIR/master.key: load, or create when absent. */
cf_code vault_master_file(vault_master **out, const char *path, cf_err *e);
/* From 32 bytes held by the caller (the PKCS#11 path). */
cf_code vault_master_from_bytes(vault_master **out, const unsigned char key[VAULT_MASTER_LEN],
                                cf_err *e);
void vault_master_free(vault_master *m);

/* out receives the sealed blob (appended). */
cf_code vault_master_seal(const vault_master *m, const char *vault, const char *name,
                          const char *version, const unsigned char *pt, size_t pt_len, cf_buf *out,
                          cf_err *e);
/* out (set secret by the caller) receives the plaintext; CF_EINTEGRITY
 * when the blob does not open under this key and place. */
cf_code vault_master_unseal(const vault_master *m, const char *vault, const char *name,
                            const char *version, const unsigned char *sealed, size_t sealed_len,
                            cf_buf *out, cf_err *e);

#endif
