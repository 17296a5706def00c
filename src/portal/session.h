/*
 * session.h -- the portal's sign-in sessions, held in cofferd's memory.
 *
 * Signing in (the admin token, or a registry's admin user) makes a
 * session: its id is 32 random bytes (base64url, the cookie's value), of
 * which only SHA-256 is kept, compared in constant time; its CSRF token
 * is 32 more random bytes, put in every form and checked on every POST.
 * A session ends at sign-out, after PORTAL_IDLE_S without a request, or
 * PORTAL_LIFETIME_S after sign-in; a restart of cofferd ends them all
 * (sign in again). At most PORTAL_SESSIONS live at once: the oldest goes.
 *
 * A session may also hold a key vault connection (the vault's URL and
 * the admin token its user typed), which the portal uses to list vaults
 * and keys and to read the vault's audit lines: in memory only, wiped
 * at sign-out and expiry, never written anywhere.
 *
 * Thread-safe (one mutex); callers get copies.
 */
#ifndef CF_PORTAL_SESSION_H
#define CF_PORTAL_SESSION_H

#include <stdint.h>

#include "base/err.h"

#define PORTAL_SESSIONS 256
#define PORTAL_IDLE_S (30 * 60)
#define PORTAL_LIFETIME_S (12 * 3600)
#define PORTAL_SID_LEN 43 /* base64url of 32 bytes */

enum { PORTAL_OPERATOR = 1, PORTAL_REGISTRY_ADMIN = 2 };

typedef struct portal_who {
    int role;
    char registry[64];    /* PORTAL_REGISTRY_ADMIN: the registry it may see */
    char registry_id[40]; /* and its id and credential epoch when signed in: */
    int64_t cred_epoch;   /* a change of either ends the session */
    char csrf[PORTAL_SID_LEN + 1];
    char vault_url[256]; /* "" when no vault is connected */
    char vault_token[128];
    char flash[600]; /* a message for the next page, taken once */
} portal_who;

/* A new session for w (its csrf, vault and flash are set here); the
 * cookie value into sid. */
cf_code session_create(char sid[PORTAL_SID_LEN + 1], const portal_who *w, cf_err *e);
/* The session of cookie value sid, copied to out (touching it); -1 when
 * unknown or expired. The flash is taken (cleared in the session). */
int session_get(portal_who *out, const char *sid);
void session_destroy(const char *sid);
/* Sets or clears (url NULL) the session's vault connection. */
void session_set_vault(const char *sid, const char *url, const char *token);
void session_set_flash(const char *sid, const char *msg);
/* Wipes every session (shutdown). */
void session_clear_all(void);

#endif
