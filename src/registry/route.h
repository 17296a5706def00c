/*
 * route.h -- the data plane's router: a request path (already
 * percent-decoded by MHD) to an endpoint of the OCI Distribution API.
 *
 *   /v2/                                  base
 *   /v2/_catalog                          catalog
 *   /v2/<name>/tags/list                  tags
 *   /v2/<name>/manifests/<reference>      manifest
 *   /v2/<name>/blobs/<digest>             blob
 *   /v2/<name>/blobs/uploads/             upload start (also without '/')
 *   /v2/<name>/blobs/uploads/<uuid>       upload
 *   /v2/<name>/referrers/<digest>         referrers
 *   /oauth2/token                         token (registry authentication)
 *
 * The endpoint is recognised from the end of the path, so a repository
 * name may itself contain "blobs" or "manifests" components. <name> is
 * then split into the registry and the repository (DESIGN §5): when the
 * Host header is <registry>.<login-domain> the whole name is the
 * repository; otherwise the first component names the registry.
 * Pure functions, no allocation: slices point into the given path.
 */
#ifndef CF_REGISTRY_ROUTE_H
#define CF_REGISTRY_ROUTE_H

#include <stddef.h>

typedef enum {
    ROUTE_NONE = 0, /* not an API path: 404 */
    ROUTE_BASE,
    ROUTE_CATALOG,
    ROUTE_TAGS,
    ROUTE_MANIFEST,
    ROUTE_BLOB,
    ROUTE_UPLOAD_START,
    ROUTE_UPLOAD,
    ROUTE_REFERRERS,
    ROUTE_TOKEN,
} route_kind;

typedef struct route_slice {
    const char *p;
    size_t len;
} route_slice;

typedef struct route {
    route_kind kind;
    route_slice name; /* the client's repository name (all of <name>) */
    route_slice arg;  /* reference, digest or upload uuid */
} route;

/* Fills r; returns r->kind. */
route_kind route_parse(route *r, const char *path);

/* Splits r->name into registry and repository. host may be NULL;
 * login_domain may be NULL (then only path routing). Returns 0 on success,
 * -1 when no registry can be named (path routing with a single-component
 * name). The registry slice may come from host (then it is not part of
 * the name). */
int route_split(const route *r, const char *host, const char *login_domain, route_slice *registry,
                route_slice *repo);

/* Registry named by the Host header alone (for /v2/_catalog); 0 if found. */
int route_host_registry(const char *host, const char *login_domain, route_slice *registry);

#endif
