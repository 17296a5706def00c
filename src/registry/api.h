/*
 * api.h -- the OCI Distribution v1.1 data plane of cofferd (DESIGN §4, §5).
 *
 * registry_api_handle is the http_server handler: it routes the request
 * (route.h), resolves the registry (Host or first path component),
 * authenticates the request and checks the action it needs (access.c,
 * auth.h; before anything else, a locked registry included), fetches
 * its KEK through the keyring (the one place a locked registry is
 * refused), and runs the endpoint's handler (blobs.c, uploads.c,
 * manifests.c, api.c for the rest). Every failure is answered in the
 * spec's JSON error format and logged once, here, with the request id.
 */
#ifndef CF_REGISTRY_API_H
#define CF_REGISTRY_API_H

#include "base/err.h"
#include "http/server.h"

typedef struct registry_api_config {
    const char *login_domain; /* NULL: path routing only */
    /* 1: every request is allowed every action without credentials
     * (--insecure-no-auth); 0: authentication (docs/registry.md) */
    int insecure_no_auth;
    int tls; /* the data plane speaks HTTPS: the challenge's realm says so */
    /* host:port clients reach the data plane at: the challenge's realm when
     * a request's Host header is missing or malformed */
    const char *data_addr;
    /* the token service name (the challenge's service, the aud of every
     * registry token minted and accepted), fixed at start: auth_service_valid;
     * NULL: data_addr, as set by registry_api_set_address */
    const char *service;
} registry_api_config;

/* Copies the config (strings included); derives the registry token key
 * (keyring_init first). */
cf_code registry_api_configure(const registry_api_config *c, cf_err *e);
void registry_api_shutdown(void);
/* The data plane's host:port once bound (port 0 resolved): the
 * challenge's fallback when a request's Host is missing or malformed, and
 * the service name unless the config fixed one. */
void registry_api_set_address(const char *data_addr);
void registry_api_handle(http_req *r, void *ctx);

#endif
