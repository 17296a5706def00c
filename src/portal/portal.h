/*
 * portal.h -- the portal: a web console served by cofferd on the
 * management listener under /portal/ (docs/portal.md).
 *
 * Server-rendered HTML, forms that POST, no script: every page is one
 * GET that reads through the management API's own handlers (mgmt_call)
 * or the store, and every change is one POST that goes through the same
 * handlers as `coffer` does, so the portal and the API cannot disagree.
 * Its assets (one stylesheet) are compiled in: nothing is fetched at run
 * time, from anywhere.
 *
 * Sign-in with the admin token (the operator) or a registry's admin user
 * (who sees only that registry) makes a session cookie: HttpOnly,
 * SameSite=Strict, Secure when the listener speaks TLS. Every POST must
 * carry the session's CSRF token and come from the portal's own origin
 * (Origin / Sec-Fetch-Site); credentials are never taken from a URL.
 */
#ifndef CF_PORTAL_PORTAL_H
#define CF_PORTAL_PORTAL_H

#include "base/err.h"
#include "http/server.h"

typedef struct portal_config {
    const char *vault_ca;     /* CA bundle for the key vaults (NULL: the system's) */
    unsigned vault_timeout_s; /* one vault call; 0: 10 */
} portal_config;

cf_code portal_configure(const portal_config *c, cf_err *e);
/* Ends every session (wiping any vault token they hold). */
void portal_shutdown(void);
/* 1 when the path is the portal's ("/portal" or under "/portal/"). */
int portal_path(const char *path);
/* The handler for those paths (the management listener's). */
void portal_handle(http_req *r);

#endif
