/*
 * access.c -- who is asking the data plane, and may they (DESIGN §5,
 * docs/registry.md "Authentication"): the request-level half of registry
 * authentication over the protocol pieces in auth.c and the credential
 * store in credentials.c.
 *
 * Every data-plane request carries one of: nothing (anonymous), a
 * registry token (`Authorization: Bearer`, minted by GET /oauth2/token
 * here), or `Authorization: Basic user:password` (the admin user or a
 * repository-scoped token, checked by cred_check). The registry a request
 * is for is routed first (api.c); the credentials are then checked against
 * that registry: a bearer token must be minted for this data plane's
 * service (aud, fixed at start) and bound to the registry (rid) at its
 * current credential epoch (cep), which costs one HMAC and no database
 * write; the registry row the router read anyway carries the epoch. A
 * registry that does not exist is answered after the same checks, against
 * ABSENT (equal cost, credentials.h), so a 401 tells nothing about names.
 *
 * Answers: no or invalid credentials -> 401 UNAUTHORIZED with the
 * WWW-Authenticate challenge (the client fetches a token and retries);
 * a valid token lacking an action its credentials would grant -> 401 with
 * error="insufficient_scope" (fetch a wider token); valid credentials that
 * do not allow the action at all -> 403 DENIED.
 *
 * Names: access entries of tokens carry the repository name as the client
 * writes it (q->name, "<registry>/<repo>" with path routing); scope maps
 * name repositories inside the registry (q->repo). scope_route() is the
 * one place a client-visible name becomes (registry, repository).
 */
#define CF_LOG_MOD "registry"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "base/log.h"
#include "registry/api_int.h"
#include "registry/auth.h"
#include "registry/credentials.h"
#include "registry/route.h"

static int open_mode;
static char scheme[8] = "http";
static pthread_mutex_t addr_mu = PTHREAD_MUTEX_INITIALIZER;
static char fallback_host[AUTH_SERVICE_MAX] = "localhost";
/* The service name (the challenge's service, the only aud minted and
 * accepted): --service, else the data plane's address once bound. */
static char service[AUTH_SERVICE_MAX] = "localhost";
static int service_fixed;

void registry_api_set_address(const char *data_addr)
{
    pthread_mutex_lock(&addr_mu);
    if (data_addr && auth_host_valid(data_addr)) {
        snprintf(fallback_host, sizeof(fallback_host), "%s", data_addr);
        if (!service_fixed)
            snprintf(service, sizeof(service), "%s", data_addr);
    }
    pthread_mutex_unlock(&addr_mu);
}

cf_code api_access_configure(const registry_api_config *c, cf_err *e)
{
    open_mode = c->insecure_no_auth;
    snprintf(scheme, sizeof(scheme), "%s", c->tls ? "https" : "http");
    if (c->service != NULL) {
        if (!auth_service_valid(c->service))
            return cf_err_set(e, CF_EINVAL,
                              "service name '%.64s' is invalid: 1-255 letters, digits and . - _ : "
                              "[ ] (e.g. registry.example.com)",
                              c->service);
        pthread_mutex_lock(&addr_mu);
        snprintf(service, sizeof(service), "%s", c->service);
        service_fixed = 1;
        pthread_mutex_unlock(&addr_mu);
    }
    registry_api_set_address(c->data_addr);
    /* also with --insecure-no-auth: the data plane then checks nothing,
     * but the portal's sign-in of a registry's admin user still does */
    cf_code rc = auth_init(e);
    if (rc == CF_OK)
        rc = cred_init(e);
    return rc;
}

/* The service name, copied (it is set once the data plane is bound). */
static const char *service_name(char buf[AUTH_SERVICE_MAX])
{
    pthread_mutex_lock(&addr_mu);
    memcpy(buf, service, AUTH_SERVICE_MAX);
    pthread_mutex_unlock(&addr_mu);
    return buf;
}

void api_access_shutdown(void)
{
    auth_shutdown();
}

int api_access_open(void)
{
    return open_mode;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* The host the client called us by, for the challenge and a token's aud:
 * the Host header when it is a well-formed host[:port], else our own
 * address (never a client's arbitrary text in a header we send back). */
static const char *client_host(rq *q, char buf[AUTH_SERVICE_MAX])
{
    const char *h = http_req_header(q->r, "Host");
    if (auth_host_valid(h))
        return h;
    pthread_mutex_lock(&addr_mu);
    memcpy(buf, fallback_host, AUTH_SERVICE_MAX);
    pthread_mutex_unlock(&addr_mu);
    return buf;
}

/* The scheme the client used: behind a proxy that terminates TLS
 * (docs/install.md) the proxy's, which it says with X-Forwarded-Proto. Only
 * "https" is taken: it sends the token fetch, and a Basic password with it,
 * over TLS; nothing a header says turns https into http. */
static const char *client_scheme(rq *q)
{
    const char *fp = http_req_header(q->r, "X-Forwarded-Proto");
    return fp != NULL && strcasecmp(fp, "https") == 0 ? "https" : scheme;
}

static void unauthorized(rq *q, const char *name, unsigned need, const char *error, const char *why)
{
    char ch[2 * AUTH_SERVICE_MAX + 2 * AUTH_NAME_MAX + 160];
    char hb[AUTH_SERVICE_MAX], sb[AUTH_SERVICE_MAX];
    auth_challenge_args a = {
        .scheme = client_scheme(q),
        .host = client_host(q, hb),
        .service = service_name(sb),
        .name = name,
        .need = need,
        /* a mount reads its source: ask for both scopes, as Distribution
         * does, so a client that fetches exactly this scope can mount */
        .from = name && q->mount_from[0] ? q->mount_from : NULL,
        .error = error,
    };
    auth_challenge(ch, sizeof(ch), &a);
    if (why)
        cf_log(CF_LOG_INFO, "credentials refused", "request_id", q->r->request_id, "reason", why,
               NULL);
    api_fail_hdr(q, 401, "UNAUTHORIZED", "WWW-Authenticate", ch, "authentication required");
}

/* anonymous pull, when the registry allows it */
static unsigned anonymous_actions(const meta_registry *reg)
{
    return reg->anonymous_pull ? AUTH_PULL | AUTH_META : 0;
}

/* content/read covers the tags list and the catalog */
static unsigned with_meta(unsigned a)
{
    return (a & AUTH_PULL) ? a | AUTH_META : a;
}

/* What a token's scope map allows on repo; admin everything. */
static unsigned cred_actions(int kind, const char *scope, const char *repo)
{
    if (kind == AUTH_ADMIN)
        return AUTH_ALL;
    if (kind == AUTH_TOKEN)
        return with_meta(auth_scope_map_actions(scope, repo));
    return 0;
}

/* Returns the header's value when it starts with the scheme (case-insensitive). */
static const char *scheme_value(const char *h, const char *scheme_name)
{
    size_t n = strlen(scheme_name);
    if (strncasecmp(h, scheme_name, n) != 0 || h[n] != ' ')
        return NULL;
    h += n;
    while (*h == ' ')
        h++;
    return h;
}

typedef enum { CRED_OK = 0, CRED_BAD = -1, CRED_FAIL = -2 } cred_rc;

/* A registry that does not exist, as credentials are checked against it:
 * at the cost of a real one (credentials.h), so that a 401's timing does
 * not tell which registries exist. */
static const meta_registry ABSENT;

/* Basic user:password against reg (&ABSENT: none): fills q->auth.
 * CRED_FAIL has responded (the check itself failed: store, keys). */
static cred_rc basic_check(rq *q, const meta_registry *reg, const char *user, const char *pass)
{
    cred_who *who = malloc(sizeof(*who));
    if (who == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        return CRED_FAIL;
    }
    cf_err e = {0};
    cf_code rc = cred_check(who, reg == &ABSENT ? NULL : reg, user, pass, &e);
    cred_rc out = CRED_OK;
    if (rc == CF_EAUTH) {
        out = CRED_BAD;
    } else if (rc != CF_OK) {
        api_fail_err(q, &e, "credential check");
        out = CRED_FAIL;
    } else {
        q->auth.via = VIA_BASIC;
        q->auth.kind = who->kind == CRED_ADMIN ? AUTH_ADMIN : AUTH_TOKEN;
        snprintf(q->auth.sub, sizeof(q->auth.sub), "%s", who->name);
        snprintf(q->auth.scope, sizeof(q->auth.scope), "%s",
                 who->kind == CRED_ADMIN ? "" : who->scope);
    }
    OPENSSL_cleanse(who, sizeof(*who));
    free(who);
    return out;
}

typedef struct finder {
    rq *q;
    const char *user, *pass;
    meta_registry *out;
    cred_rc rc;
    int found;
} finder;

static int find_one(void *cls, const meta_registry *r)
{
    finder *f = cls;
    f->rc = basic_check(f->q, r, f->user, f->pass);
    if (f->rc == CRED_OK) {
        *f->out = *r;
        f->found = 1;
    }
    return f->rc != CRED_BAD; /* stop on success or failure to check */
}

/* The registry user:password belongs to, when no request names one
 * (docker login, the catalog with path routing): the admin user is named
 * after its registry; a token name is looked for in every registry. */
static cred_rc basic_find(rq *q, meta_registry *out, const char *user, const char *pass)
{
    cf_err e = {0};
    /* the admin user's registry, or as much work when there is none */
    int named = meta_registry_get(out, user, &e) == CF_OK;
    cred_rc rc = basic_check(q, named ? out : &ABSENT, user, pass);
    if (rc != CRED_BAD)
        return rc;
    finder f = {.q = q, .user = user, .pass = pass, .out = out, .rc = CRED_BAD};
    cf_err_clear(&e);
    if (meta_registry_each(find_one, &f, &e) != CF_OK && f.rc != CRED_FAIL) {
        api_fail_err(q, &e, "credential check");
        return CRED_FAIL;
    }
    return f.found ? CRED_OK : f.rc;
}

/* Reads the Authorization header into q->auth (via, kind, claims or scope
 * map). reg: the registry to check Basic credentials against (&ABSENT:
 * one that does not exist; NULL: find it, then *found is filled). Bearer
 * tokens are verified (signature, service, time) but not bound to a
 * registry here. */
static cred_rc read_credentials(rq *q, const meta_registry *reg, meta_registry *found)
{
    q->auth.via = VIA_NONE;
    q->auth.kind = AUTH_ANONYMOUS;
    const char *h = http_req_header(q->r, "Authorization");
    if (h == NULL)
        return CRED_OK;
    size_t hl = strnlen(h, AUTH_HEADER_MAX + 1);
    if (hl > AUTH_HEADER_MAX)
        return CRED_BAD;
    const char *v;
    if ((v = scheme_value(h, "Bearer")) != NULL) {
        cf_err e = {0};
        char sb[AUTH_SERVICE_MAX];
        /* a bearer token, valid or not: a refusal says invalid_token */
        q->auth.via = VIA_BEARER;
        if (auth_token_verify(&q->auth.claims, v, strlen(v), now_s(), service_name(sb), &e) !=
            CF_OK)
            return CRED_BAD;
        q->auth.kind = q->auth.claims.kind;
        return CRED_OK;
    }
    char user[AUTH_USER_MAX], pass[AUTH_PASS_MAX];
    if (auth_basic_parse(user, pass, h, hl, NULL) != CF_OK) {
        OPENSSL_cleanse(pass, sizeof(pass));
        return CRED_BAD;
    }
    cred_rc rc = reg ? basic_check(q, reg, user, pass) : basic_find(q, found, user, pass);
    OPENSSL_cleanse(pass, sizeof(pass));
    return rc;
}

/* A verified bearer token against the routed registry: its binding, and
 * for anonymous tokens the registry's current setting. */
static unsigned bearer_actions(rq *q, const char *name)
{
    unsigned a = auth_claims_actions(&q->auth.claims, name);
    if (q->auth.kind == AUTH_ANONYMOUS)
        a &= anonymous_actions(&q->reg);
    return with_meta(a);
}

unsigned api_access_on(rq *q, const char *name, const char *repo)
{
    if (open_mode)
        return AUTH_ALL;
    switch (q->auth.via) {
    case VIA_BEARER:
        return bearer_actions(q, name);
    case VIA_BASIC:
        return cred_actions(q->auth.kind, q->auth.scope, repo);
    default:
        return anonymous_actions(&q->reg);
    }
}

/* The same work, and the same answer, as credentials refused by a
 * registry that exists (api_access): Basic credentials checked in full, a
 * bearer token verified and found bound elsewhere; nothing in the 401 or
 * its timing tells that the registry does not exist. */
void api_access_unknown_registry(rq *q, unsigned need)
{
    cred_rc rc = read_credentials(q, &ABSENT, NULL);
    if (rc == CRED_FAIL)
        return;
    if (rc == CRED_OK && q->auth.via == VIA_BEARER)
        (void)auth_claims_check(&q->auth.claims, ABSENT.id, ABSENT.cred_epoch, NULL);
    int anonymous = rc == CRED_OK && q->auth.via == VIA_NONE;
    unauthorized(q, q->name, need, q->auth.via == VIA_NONE ? NULL : "invalid_token",
                 anonymous ? NULL : "unknown registry");
}

/* What the credentials behind a bearer token could be granted on repo
 * (a database read, only on the refusal path). */
static unsigned bearer_could(rq *q, const char *repo)
{
    if (q->auth.kind == AUTH_ADMIN)
        return AUTH_ALL;
    if (q->auth.kind == AUTH_ANONYMOUS)
        return anonymous_actions(&q->reg);
    meta_token *t = malloc(sizeof(*t));
    unsigned a = 0;
    if (t && meta_token_get(t, q->reg.id, q->auth.claims.sub, NULL) == CF_OK && t->enabled)
        a = cred_actions(AUTH_TOKEN, t->scope, repo);
    free(t);
    return a;
}

int api_access(rq *q, unsigned need)
{
    if (open_mode) {
        q->auth.kind = AUTH_ADMIN;
        q->auth.allowed = AUTH_ALL;
        return 0;
    }
    cred_rc rc = read_credentials(q, &q->reg, NULL);
    if (rc == CRED_FAIL)
        return -1;
    if (rc == CRED_BAD) {
        unauthorized(q, q->name, need, q->auth.via == VIA_NONE ? NULL : "invalid_token",
                     "invalid credentials");
        return -1;
    }
    if (q->auth.via == VIA_BEARER) {
        cf_err e = {0};
        if (auth_claims_check(&q->auth.claims, q->reg.id, q->reg.cred_epoch, &e) != CF_OK) {
            unauthorized(q, q->name, need, "invalid_token", e.msg);
            return -1;
        }
    }
    q->auth.allowed = api_access_on(q, q->name, q->repo);
    if ((q->auth.allowed & need) == need)
        return 0;
    switch (q->auth.via) {
    case VIA_NONE:
        unauthorized(q, q->name, need, NULL, NULL);
        return -1;
    case VIA_BEARER:
        if ((bearer_could(q, q->repo) & need) == need || q->auth.kind == AUTH_ANONYMOUS) {
            /* the credentials would allow it: a wider token will do (an
             * anonymous caller may still log in) */
            unauthorized(q, q->name, need,
                         q->auth.kind == AUTH_ANONYMOUS ? NULL : "insufficient_scope", NULL);
            return -1;
        }
        break;
    default:
        break;
    }
    api_fail(q, 403, "DENIED", "requested access to the resource is denied");
    return -1;
}

/* A mount reads its source, so the request's own grant must include pull
 * there: for Basic credentials what they allow, for a bearer token the
 * scopes it names. With `from`, a bearer token without pull on it whose
 * credentials have it is told to fetch a wider token (401
 * insufficient_scope naming both scopes, as Distribution answers); other
 * requests fall back to an upload. Without `from` the source is every
 * repository of the registry: only the admin user's own (Basic)
 * credentials cover that; no token scope names every repository, so a
 * bearer token, even the admin user's, falls back to an upload. */
int api_access_mount(rq *q)
{
    if (open_mode)
        return 1;
    if (!q->mount_from_given)
        return q->auth.via == VIA_BASIC && q->auth.kind == AUTH_ADMIN;
    if (api_access_on(q, q->mount_from, q->mount_from_repo) & AUTH_PULL)
        return 1;
    if (q->auth.via == VIA_BEARER && q->auth.kind != AUTH_ANONYMOUS &&
        (bearer_could(q, q->mount_from_repo) & AUTH_PULL)) {
        unauthorized(q, q->name, AUTH_PUSH, "insufficient_scope", NULL);
        return -1;
    }
    return 0;
}

int api_access_base(rq *q)
{
    if (open_mode)
        return 0;
    meta_registry *reg = malloc(sizeof(*reg));
    if (reg == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        return -1;
    }
    cred_rc rc = read_credentials(q, NULL, reg);
    int ok = 0;
    if (rc == CRED_OK && q->auth.via == VIA_BASIC)
        ok = 1;
    if (rc == CRED_OK && q->auth.via == VIA_BEARER) {
        cf_err e = {0};
        ok = q->auth.claims.rid[0] != '\0' &&
             meta_registry_get_id(reg, q->auth.claims.rid, &e) == CF_OK &&
             auth_claims_check(&q->auth.claims, reg->id, reg->cred_epoch, NULL) == CF_OK;
    }
    free(reg);
    if (rc == CRED_FAIL)
        return -1;
    if (!ok) {
        unauthorized(q, NULL, 0, q->auth.via == VIA_NONE && rc == CRED_OK ? NULL : "invalid_token",
                     rc == CRED_OK && q->auth.via == VIA_NONE ? NULL : "invalid credentials");
        return -1;
    }
    return 0;
}

int api_access_catalog(rq *q, const char *host_reg)
{
    if (open_mode)
        return 0;
    cf_err e = {0};
    int have_reg = 0;
    if (host_reg) {
        if (meta_registry_get(&q->reg, host_reg, &e) == CF_OK)
            have_reg = 1;
        else if (e.code != CF_ENOTFOUND) {
            api_fail_err(q, &e, "registry lookup");
            return -1;
        }
    }
    meta_registry found;
    cred_rc rc = read_credentials(q, have_reg ? &q->reg : NULL, &found);
    if (rc == CRED_FAIL)
        return -1;
    if (rc == CRED_OK && q->auth.via == VIA_BASIC && !have_reg) {
        q->reg = found;
        have_reg = 1;
    }
    if (rc == CRED_OK && q->auth.via == VIA_BEARER) {
        if (!have_reg && q->auth.claims.rid[0] != '\0' &&
            meta_registry_get_id(&q->reg, q->auth.claims.rid, &e) == CF_OK)
            have_reg = 1;
        if (have_reg &&
            auth_claims_check(&q->auth.claims, q->reg.id, q->reg.cred_epoch, NULL) != CF_OK)
            rc = CRED_BAD;
        if (rc == CRED_OK && q->auth.kind == AUTH_TOKEN) {
            /* the catalog lists what the token's scope map reads */
            meta_token *t = malloc(sizeof(*t));
            if (t && have_reg && meta_token_get(t, q->reg.id, q->auth.claims.sub, NULL) == CF_OK &&
                t->enabled)
                snprintf(q->auth.scope, sizeof(q->auth.scope), "%s", t->scope);
            free(t);
        }
    }
    if (rc != CRED_OK || !have_reg || q->auth.kind == AUTH_ANONYMOUS) {
        unauthorized(q, NULL, 0, rc == CRED_OK && q->auth.via == VIA_NONE ? NULL : "invalid_token",
                     rc == CRED_OK && q->auth.via == VIA_NONE ? NULL : "invalid credentials");
        return -1;
    }
    return 0;
}

int api_access_lists(rq *q, const char *repo)
{
    if (open_mode || q->auth.kind == AUTH_ADMIN)
        return 1;
    return (cred_actions(q->auth.kind, q->auth.scope, repo) & AUTH_META) != 0;
}

/* ---- GET /oauth2/token ---- */

typedef struct token_req {
    rq *q;
    auth_scope scopes[AUTH_MAX_ACCESS];
    size_t n;
} token_req;

static void add_scope(token_req *t, const char *s, size_t len)
{
    if (len == 0 || t->n == AUTH_MAX_ACCESS)
        return;
    /* a malformed scope grants nothing; never an error (the spec's rule:
     * the token carries what may be granted) */
    if (auth_scope_parse(&t->scopes[t->n], s, len, NULL) == CF_OK &&
        t->scopes[t->n].type == AUTH_SCOPE_REPOSITORY)
        t->n++;
}

static int scope_param(void *cls, const char *v)
{
    token_req *t = cls;
    /* one parameter may hold several scopes separated by spaces (OAuth2) */
    while (*v) {
        const char *sp = strchr(v, ' ');
        size_t len = sp ? (size_t)(sp - v) : strlen(v);
        add_scope(t, v, len);
        v += len;
        while (*v == ' ')
            v++;
    }
    return 0;
}

/* The one place a client-visible name becomes (registry, repository):
 * the data plane's own routing (Host, else the first component). */
static int scope_route(rq *q, const char *name, char reg[OCI_REGISTRY_NAME_MAX + 1],
                       char repo[OCI_NAME_MAX + 1])
{
    route rt = {.kind = ROUTE_TAGS, .name = {name, strlen(name)}};
    route_slice rs, ps;
    if (route_split(&rt, http_req_header(q->r, "Host"), api_login_domain(), &rs, &ps) != 0 ||
        !oci_registry_name_valid(rs.p, rs.len) || ps.len > OCI_NAME_MAX)
        return -1;
    snprintf(reg, OCI_REGISTRY_NAME_MAX + 1, "%.*s", (int)rs.len, rs.p);
    snprintf(repo, OCI_NAME_MAX + 1, "%.*s", (int)ps.len, ps.p);
    return 0;
}

static void token_refused(rq *q)
{
    api_fail_hdr(q, 401, "UNAUTHORIZED", "WWW-Authenticate", "Basic realm=\"coffer\"",
                 "authentication required");
}

void api_token(rq *q)
{
    if (strcmp(q->r->method, "GET") != 0) {
        api_fail(q, 405, "UNSUPPORTED", "method %s not supported here", q->r->method);
        return;
    }
    /* tokens are minted for this data plane's service only (their aud);
     * a token asked for another service would be refused here anyway */
    char sb[AUTH_SERVICE_MAX];
    const char *svc = service_name(sb);
    const char *asked = http_req_query(q->r, "service");
    if (asked != NULL && strcmp(asked, svc) != 0) {
        /* the client's text is not echoed (it may not even be UTF-8) */
        api_fail(q, 400, "UNSUPPORTED_VALUE",
                 "unsupported value: service; tokens are issued for service \"%s\" only (the "
                 "challenge's)",
                 svc);
        return;
    }
    token_req *t = calloc(1, sizeof(*t));
    auth_claims *c = calloc(1, sizeof(*c));
    char *jwt = NULL;
    if (t == NULL || c == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        goto out;
    }
    t->q = q;
    http_req_query_each(q->r, "scope", scope_param, t);
    /* the registry: that of the first scope asking to push (a push may
     * also ask to pull the source of a mount), else of the first scope;
     * scopes naming another registry get nothing */
    char regname[OCI_REGISTRY_NAME_MAX + 1] = "", repo[OCI_NAME_MAX + 1];
    for (int pass = 0; pass < 2 && regname[0] == '\0'; pass++)
        for (size_t i = 0; i < t->n && regname[0] == '\0'; i++)
            if (pass == 1 || (t->scopes[i].actions & AUTH_PUSH))
                if (scope_route(q, t->scopes[i].name, regname, repo) != 0)
                    regname[0] = '\0';
    route_slice hr;
    if (regname[0] == '\0' &&
        route_host_registry(http_req_header(q->r, "Host"), api_login_domain(), &hr) == 0 &&
        hr.len <= OCI_REGISTRY_NAME_MAX)
        snprintf(regname, sizeof(regname), "%.*s", (int)hr.len, hr.p);
    int have_reg = 0;
    cf_err e = {0};
    if (regname[0] != '\0') {
        if (meta_registry_get(&q->reg, regname, &e) == CF_OK) {
            have_reg = 1;
        } else if (e.code != CF_ENOTFOUND) {
            api_fail_err(q, &e, "registry lookup");
            goto out;
        }
    }
    const char *h = http_req_header(q->r, "Authorization");
    if (h != NULL && scheme_value(h, "Basic") == NULL) {
        token_refused(q); /* only Basic (or nothing) is accepted here */
        goto out;
    }
    /* credentials for a registry that does not exist are checked all the
     * same (equal cost), and refused */
    cred_rc rc = read_credentials(q, have_reg ? &q->reg : regname[0] ? &ABSENT : NULL, &q->reg);
    if (rc == CRED_FAIL)
        goto out;
    if (rc == CRED_BAD) {
        token_refused(q);
        goto out;
    }
    if (q->auth.via == VIA_BASIC)
        have_reg = 1; /* read_credentials found it when no scope named it */
    /* what to grant */
    c->kind = q->auth.kind;
    if (have_reg) {
        snprintf(c->rid, sizeof(c->rid), "%s", q->reg.id);
        c->cep = q->reg.cred_epoch;
    }
    for (size_t i = 0; have_reg && i < t->n && c->naccess < AUTH_MAX_ACCESS; i++) {
        char rn[OCI_REGISTRY_NAME_MAX + 1];
        if (scope_route(q, t->scopes[i].name, rn, repo) != 0 || strcmp(rn, q->reg.name) != 0)
            continue;
        unsigned allowed = q->auth.via == VIA_BASIC
                               ? cred_actions(q->auth.kind, q->auth.scope, repo)
                               : anonymous_actions(&q->reg);
        unsigned g = auth_grant(t->scopes[i].actions, allowed);
        if (g == 0)
            continue;
        size_t k = 0;
        while (k < c->naccess && strcmp(c->access[k].name, t->scopes[i].name) != 0)
            k++;
        if (k == c->naccess) {
            snprintf(c->access[k].name, sizeof(c->access[k].name), "%s", t->scopes[i].name);
            c->naccess++;
        }
        c->access[k].actions |= g;
    }
    snprintf(c->sub, sizeof(c->sub), "%s", q->auth.sub);
    snprintf(c->aud, sizeof(c->aud), "%s", svc);
    int64_t now = now_s();
    if (auth_token_mint(&jwt, c, now, &e) != CF_OK) {
        api_fail_err(q, &e, "mint token");
        goto out;
    }
    char issued[32];
    time_t tt = (time_t)now;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *root = json_pack("{s:s,s:s,s:i,s:s}", "token", jwt, "access_token", jwt, "expires_in",
                             AUTH_TOKEN_TTL, "issued_at", issued);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (body == NULL) {
        api_fail(q, 500, "UNKNOWN", "out of memory");
        goto out;
    }
    http_resp *resp = http_resp_bytes(200, body, strlen(body), "application/json");
    OPENSSL_cleanse(body, strlen(body));
    free(body);
    http_resp_header(resp, "Cache-Control", "no-store");
    api_respond(q, resp);
out:
    if (jwt) {
        OPENSSL_cleanse(jwt, strlen(jwt));
        free(jwt);
    }
    free(t);
    free(c);
}
