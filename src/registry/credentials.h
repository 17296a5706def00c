/*
 * credentials.h -- the secrets of registry credentials (docs/control-plane.md
 * "Registry authentication", docs/registry.md "Authentication", DESIGN §5
 * "Auth"): the admin user's two passwords and the passwords of
 * repository-scoped tokens, and the one check of user:password against a
 * registry that the data plane's Basic authentication and /oauth2/token
 * use.
 *
 * Every password is base64url (no padding) of 32 random bytes: 43
 * characters. At rest:
 *   - admin passwords are wrapped under the SRK (keyring_wrap_secret, id
 *     "admin:<registry_id>:<1|2>") so that `coffer acr credential show`
 *     can return them, as ACR does;
 *   - token passwords are shown once and stored as HMAC-SHA256(K_cred,
 *     password), K_cred = keyring_derive("coffer/v1/credential-hmac").
 * Comparisons are constant-time (CRYPTO_memcmp on HMACs), and a wrong user
 * and a wrong password give the same answer (CF_EAUTH, same message).
 *
 * They also cost the same (docs/security.md): every check does the same
 * work whatever is wrong, so the time of a 401 tells nothing about which
 * registries and users exist. A check always HMACs the password, reveals
 * and HMACs two admin passwords (the registry's, or dummies wrapped at
 * cred_init for a registry id that does not exist), looks the user up
 * among the registry's tokens, and compares every candidate; a registry
 * that does not exist is checked the same way (reg NULL).
 */
#ifndef CF_REGISTRY_CREDENTIALS_H
#define CF_REGISTRY_CREDENTIALS_H

#include <stddef.h>

#include "base/err.h"
#include "crypto/keys.h"
#include "store/meta.h"

#define CRED_PW_LEN 43 /* base64url of 32 bytes, without the NUL */

enum { CRED_ADMIN = 1, CRED_TOKEN = 2 };

/* A fresh admin password into pw (43 chars + NUL) and its form at rest,
 * wrapped for registry_id and which (1: "password", 2: "password2"). */
cf_code cred_admin_new(char pw[44], unsigned char wrapped[KEYS_WRAPPED_LEN],
                       const char *registry_id, int which, cf_err *e);
/* The admin password back from its wrapped form. CF_EINTEGRITY when it
 * was wrapped for another registry or slot (or tampered with). */
cf_code cred_admin_reveal(char pw[44], const unsigned char wrapped[KEYS_WRAPPED_LEN],
                          const char *registry_id, int which, cf_err *e);
/* HMAC-SHA256(K_cred, password). */
cf_code cred_hmac(unsigned char out[32], const char *password, size_t len, cf_err *e);
/* A fresh token password into pw and its HMAC. */
cf_code cred_token_password_new(char pw[44], unsigned char hmac[32], cf_err *e);

/* Prepares the dummies the checks of absent registries and users use
 * (after keyring_init). */
cf_code cred_init(cf_err *e);

typedef struct cred_who {
    int kind;         /* CRED_ADMIN or CRED_TOKEN */
    char name[64];    /* the user: registry name or token name */
    char scope[4096]; /* tokens: the scope map JSON as stored; "" for the admin */
} cred_who;
/* Checks user:password against reg: the admin user (when enabled, either
 * password) or an enabled token of reg (either password). CF_EAUTH with
 * the one message "invalid username or password" when wrong, whatever
 * was wrong; other codes for a failure to check (store, keys). reg NULL:
 * a registry that does not exist, checked at the same cost (always
 * CF_EAUTH). */
cf_code cred_check(cred_who *who, const meta_registry *reg, const char *user, const char *password,
                   cf_err *e);

#endif
