/*
 * route.c -- see route.h.
 */
#include "registry/route.h"

#include <string.h>
#include <strings.h>

static int slice_is(const char *p, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(p, lit, len) == 0;
}

route_kind route_parse(route *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    size_t len = strlen(path);
    if (strcmp(path, "/oauth2/token") == 0)
        return r->kind = ROUTE_TOKEN;
    if (len < 3 || memcmp(path, "/v2", 3) != 0)
        return ROUTE_NONE;
    if (len == 3 || (len == 4 && path[3] == '/'))
        return r->kind = ROUTE_BASE;
    if (path[3] != '/')
        return ROUTE_NONE;
    const char *s = path + 4; /* after "/v2/" */
    size_t n = len - 4;
    if (slice_is(s, n, "_catalog"))
        return r->kind = ROUTE_CATALOG;

    /* Collect the offsets of the last four '/' (enough for every form). */
    size_t slash[4];
    int ns = 0;
    for (size_t i = n; i > 0 && ns < 4; i--)
        if (s[i - 1] == '/')
            slash[ns++] = i - 1;
    if (ns == 0)
        return ROUTE_NONE;
    /* last component: s[slash[0]+1 .. n) */
    const char *last = s + slash[0] + 1;
    size_t last_len = n - slash[0] - 1;
    /* component before it: s[slash[1]+1 .. slash[0]) (or from 0) */
    size_t b1 = ns > 1 ? slash[1] + 1 : 0;
    const char *prev = s + b1;
    size_t prev_len = slash[0] - b1;
    size_t b2 = ns > 2 ? slash[2] + 1 : 0;
    const char *prev2 = s + b2;
    size_t prev2_len = ns > 1 ? slash[1] - b2 : 0;

    /* name ends where the endpoint begins; set below */
    size_t name_end = 0;
    if (ns >= 2 && slice_is(prev, prev_len, "tags") && slice_is(last, last_len, "list")) {
        r->kind = ROUTE_TAGS;
        name_end = slash[1];
    } else if (ns >= 2 && slice_is(prev, prev_len, "manifests")) {
        r->kind = ROUTE_MANIFEST;
        name_end = slash[1];
    } else if (ns >= 2 && slice_is(prev, prev_len, "referrers")) {
        r->kind = ROUTE_REFERRERS;
        name_end = slash[1];
    } else if (ns >= 3 && slice_is(prev2, prev2_len, "blobs") &&
               slice_is(prev, prev_len, "uploads")) {
        r->kind = last_len == 0 ? ROUTE_UPLOAD_START : ROUTE_UPLOAD;
        name_end = slash[2];
    } else if (ns >= 2 && slice_is(prev, prev_len, "blobs")) {
        r->kind = slice_is(last, last_len, "uploads") ? ROUTE_UPLOAD_START : ROUTE_BLOB;
        name_end = slash[1];
    } else {
        return ROUTE_NONE;
    }
    if (r->kind != ROUTE_TAGS && r->kind != ROUTE_UPLOAD_START) {
        r->arg.p = last;
        r->arg.len = last_len;
        if (last_len == 0)
            return r->kind = ROUTE_NONE;
    }
    if (name_end == 0)
        return r->kind = ROUTE_NONE;
    r->name.p = s;
    r->name.len = name_end;
    return r->kind;
}

/* host without ":port", compared case-insensitively with
 * "<registry>.<login_domain>". */
int route_host_registry(const char *host, const char *login_domain, route_slice *registry)
{
    if (host == NULL || login_domain == NULL || *login_domain == '\0')
        return -1;
    size_t hl = strlen(host);
    if (hl > 0 && host[0] != '[') {
        const char *colon = memchr(host, ':', hl);
        if (colon)
            hl = (size_t)(colon - host);
    }
    size_t dl = strlen(login_domain);
    if (hl < dl + 2 || host[hl - dl - 1] != '.' ||
        strncasecmp(host + hl - dl, login_domain, dl) != 0)
        return -1;
    size_t rl = hl - dl - 1;
    if (memchr(host, '.', rl) != NULL)
        return -1;
    registry->p = host;
    registry->len = rl;
    return 0;
}

int route_split(const route *r, const char *host, const char *login_domain, route_slice *registry,
                route_slice *repo)
{
    if (route_host_registry(host, login_domain, registry) == 0) {
        *repo = r->name;
        return 0;
    }
    const char *slash = memchr(r->name.p, '/', r->name.len);
    if (slash == NULL)
        return -1;
    registry->p = r->name.p;
    registry->len = (size_t)(slash - r->name.p);
    repo->p = slash + 1;
    repo->len = r->name.len - registry->len - 1;
    if (registry->len == 0 || repo->len == 0)
        return -1;
    return 0;
}
