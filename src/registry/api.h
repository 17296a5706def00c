/*
 * api.h -- the OCI Distribution v1.1 data plane of cofferd (DESIGN §4, §5).
 *
 * registry_api_handle is the http_server handler: it routes the request
 * (route.h), resolves the registry (Host or first path component), fetches
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
} registry_api_config;

/* Copies the config (strings included). */
cf_code registry_api_configure(const registry_api_config *c, cf_err *e);
void registry_api_shutdown(void);
void registry_api_handle(http_req *r, void *ctx);

#endif
