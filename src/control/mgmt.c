/*
 * mgmt.c -- the management API's front: the admin token, routing,
 * authentication, ARM errors, and the issuer's own routes (the OpenID
 * configuration, the JWKS and the managed identity token endpoint).
 * Identities and registries live in identities.c and registries.c.
 *
 *   GET  /.well-known/openid-configuration, GET /jwks      (no auth)
 *   GET  /msi/token?resource=&client_id=|principal_id=|mi_res_id=
 *                                                      (X-IDENTITY-HEADER)
 *   /subscriptions/...: subscriptions, resource groups, and every resource
 *   at its ARM path (groups.c)                                 (Bearer)
 *   PUT|GET|DELETE /identities/{name}, GET /identities     (Bearer)
 *   PUT|GET|PATCH|DELETE /registries/{name}, GET /registries,
 *   POST /registries/{name}/encryption/check               (Bearer)
 *   POST /registries/{name}/listCredentials|regenerateCredential
 *   PUT|GET|DELETE /registries/{name}/tokens/{token}, GET .../tokens,
 *   POST /registries/{name}/tokens/{token}/generateCredentials (Bearer)
 *   GET /registries/{name}/listUsages, GET|DELETE /registries/{name}/repositories/...
 *                                                  (repositories.c)     (Bearer)
 *   /principals[/{id}[/resetPassword]], {scope}/providers/
 *   Microsoft.Authorization/roleAssignments|roleDefinitions   (access.c)
 * The short paths under /identities and /registries are the legacy form of
 * the ARM paths: they reach a resource in any group and create in the
 * default group.
 *
 * Bearer: the admin token (the operator) or a service principal's
 * "APPID.SECRET" (a tenant, limited to its role assignments). Every
 * request is authorized by one check before its route
 * (mgmt_route_authorize) and leaves one line in the audit log (access.c).
 */
#define CF_LOG_MOD "mgmt"
#include "control/mgmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "base/metrics.h"
#include "control/mgmt_int.h"
#include "control/validate.h"
#include "crypto/keys.h"
#include "portal/portal.h"

mgmt_state mgmt_g;
pthread_mutex_t mgmt_mu = PTHREAD_MUTEX_INITIALIZER;
static issuer *mgmt_issuer;

cf_code mgmt_configure(const mgmt_config *c, cf_err *e)
{
    if (c->admin_token == NULL || strlen(c->admin_token) != MGMT_ADMIN_TOKEN_LEN)
        return cf_err_set(e, CF_EINVAL, "management API: no admin token");
    if (c->tenant == NULL || !ctl_uuid_valid(c->tenant))
        return cf_err_set(e, CF_EINVAL, "management API: the tenant must be a UUID");
    if (c->login_domain && strlen(c->login_domain) >= sizeof(mgmt_g.login_domain))
        return cf_err_set(e, CF_EINVAL, "management API: login domain too long");
    memset(&mgmt_g, 0, sizeof(mgmt_g));
    memcpy(mgmt_g.admin, c->admin_token, MGMT_ADMIN_TOKEN_LEN);
    for (size_t i = 0; c->tenant[i] && i < sizeof(mgmt_g.tenant) - 1; i++)
        mgmt_g.tenant[i] =
            (char)(c->tenant[i] >= 'A' && c->tenant[i] <= 'F' ? c->tenant[i] + 32 : c->tenant[i]);
    snprintf(mgmt_g.login_domain, sizeof(mgmt_g.login_domain), "%s",
             c->login_domain ? c->login_domain : "");
    snprintf(mgmt_g.data_addr, sizeof(mgmt_g.data_addr), "%s", c->data_addr ? c->data_addr : "");
    return mgmt_audit_open(c->audit_path, e);
}

void mgmt_set_issuer(issuer *is)
{
    __atomic_store_n(&mgmt_issuer, is, __ATOMIC_RELEASE);
}

void mgmt_shutdown(void)
{
    mgmt_set_issuer(NULL);
    OPENSSL_cleanse(mgmt_g.admin, sizeof(mgmt_g.admin));
    mgmt_audit_close();
}

/* Constant time in the token's bytes (the length is public). */
static int admin_ok(const char *tok)
{
    return tok != NULL && strlen(tok) == MGMT_ADMIN_TOKEN_LEN &&
           CRYPTO_memcmp(tok, mgmt_g.admin, MGMT_ADMIN_TOKEN_LEN) == 0;
}

static const char *bearer_of(http_req *r)
{
    const char *h = http_req_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static int bearer_ok(http_req *r)
{
    return admin_ok(bearer_of(r));
}

/* Who is calling: the admin (operator), a service principal, or NULL
 * (no valid credentials). */
static mgmt_caller *authenticate(http_req *r)
{
    const char *tok = bearer_of(r);
    if (admin_ok(tok))
        return mgmt_caller_new(MGMT_CALLER_ADMIN);
    return mgmt_token_is_principal(tok) ? mgmt_caller_principal(tok) : NULL;
}

#define UNAUTHORIZED_TEXT                                                                          \
    "The request needs 'Authorization: Bearer <admin token>' (DIR/admin.token) or a service "      \
    "principal's 'Bearer APPID.PASSWORD' (coffer login --service-principal)."

/* ---- answers ---- */

/* An in-process call (mgmt_call, the portal's): the answer is kept here
 * instead of being sent. Thread-local: a call runs on its caller's thread
 * from start to end. */
typedef struct mgmt_capture {
    unsigned status;
    json_t *body;
} mgmt_capture;
static __thread mgmt_capture *capture;

void mgmt_fail(http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char st[8];
    snprintf(st, sizeof(st), "%u", status);
    cf_log(status >= 500 ? CF_LOG_ERROR : CF_LOG_WARN, "request failed", "request_id",
           r->request_id, "method", r->method, "path", r->path, "status", st, "code", code, "error",
           msg, NULL);
    mgmt_audit_status(status, code);
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (capture) {
        capture->status = status;
        capture->body = body;
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    http_resp *resp =
        text ? http_resp_bytes(status, text, strlen(text), "application/json") : http_resp_new(500);
    free(text);
    if (status == 401)
        http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"coffer\"");
    http_req_respond(r, resp);
}

void mgmt_fail_err(http_req *r, const cf_err *e, const char *what)
{
    const char *msg = e->msg[0] ? e->msg : cf_code_name(e->code);
    switch (e->code) {
    case CF_ENOTFOUND:
        mgmt_fail(r, 404, "ResourceNotFound", "%s: %s", what, msg);
        break;
    case CF_EEXISTS:
        mgmt_fail(r, 409, "AlreadyExists", "%s: %s", what, msg);
        break;
    case CF_ECONFLICT:
        mgmt_fail(r, 409, "Conflict", "%s: %s", what, msg);
        break;
    case CF_EINVAL:
        mgmt_fail(r, 400, "InvalidRequest", "%s: %s", what, msg);
        break;
    case CF_EUNAVAIL:
        mgmt_fail(r, 503, "ServiceUnavailable", "%s: %s", what, msg);
        break;
    case CF_ENOSPACE:
        mgmt_fail(r, 507, "InsufficientStorage", "%s: storage full", what);
        break;
    default:
        mgmt_fail(r, 500, "InternalError", "%s: %s", what, msg);
        break;
    }
}

void mgmt_reply(http_req *r, unsigned status, json_t *body)
{
    mgmt_audit_status(status, NULL);
    if (capture) {
        capture->status = status;
        capture->body = body;
        return;
    }
    if (body == NULL && status == 200) {
        http_req_respond(r, http_resp_bytes(200, "", 0, NULL));
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        return;
    }
    http_req_respond(r, http_resp_bytes(status, text, strlen(text), "application/json"));
    free(text);
}

void mgmt_reply_secret(http_req *r, unsigned status, json_t *body)
{
    mgmt_audit_status(status, NULL);
    if (capture) { /* the caller wipes what it shows (mgmt_call) */
        capture->status = status;
        capture->body = body;
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        return;
    }
    size_t n = strlen(text);
    http_req_respond(r, http_resp_bytes(status, text, n, "application/json"));
    OPENSSL_cleanse(text, n);
    free(text);
}

json_t *mgmt_body(http_req *r)
{
    if (r->body.len == 0)
        return json_object();
    json_error_t je;
    json_t *b = json_loadb((const char *)r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (b == NULL) {
        mgmt_fail(r, 400, "InvalidRequest", "The request body is not valid JSON: %s (line %d)",
                  je.text, je.line);
        return NULL;
    }
    if (!json_is_object(b)) {
        json_decref(b);
        mgmt_fail(r, 400, "InvalidRequest", "The request body must be a JSON object.");
        return NULL;
    }
    return b;
}

/* ---- the issuer's routes ---- */

static issuer *current_issuer(http_req *r)
{
    issuer *is = __atomic_load_n(&mgmt_issuer, __ATOMIC_ACQUIRE);
    if (is == NULL)
        mgmt_fail(r, 503, "ServiceUnavailable", "The identity issuer is starting.");
    return is;
}

/* An identity for /msi/token: a user-assigned identity, or a registry's
 * system-assigned one. */
typedef struct find_system {
    const char *client, *principal;
    meta_identity *out;
    int found;
} find_system;

static int system_match(void *cls, const meta_registry *reg)
{
    find_system *f = cls;
    if (reg->system_client_id[0] == '\0')
        return 0;
    if ((f->client && strcasecmp(f->client, reg->system_client_id) == 0) ||
        (f->principal && strcasecmp(f->principal, reg->system_principal_id) == 0)) {
        memset(f->out, 0, sizeof(*f->out));
        snprintf(f->out->name, sizeof(f->out->name), "registry %s (system)", reg->name);
        snprintf(f->out->client_id, sizeof(f->out->client_id), "%s", reg->system_client_id);
        snprintf(f->out->principal_id, sizeof(f->out->principal_id), "%s",
                 reg->system_principal_id);
        f->found = 1;
        return 1;
    }
    return 0;
}

static void msi_token(http_req *r)
{
    const char *h = http_req_header(r, "X-IDENTITY-HEADER");
    if (!(h ? admin_ok(h) : bearer_ok(r))) {
        mgmt_fail(r, 401, "Unauthorized",
                  "The X-IDENTITY-HEADER header is missing or does not hold the admin token.");
        return;
    }
    issuer *is = current_issuer(r);
    if (is == NULL)
        return;
    const char *resource = http_req_query(r, "resource");
    const char *client = http_req_query(r, "client_id");
    const char *principal = http_req_query(r, "principal_id");
    const char *res_id = http_req_query(r, "mi_res_id");
    if (principal == NULL)
        principal = http_req_query(r, "object_id");
    char aud[1024];
    cf_err e = {0};
    if (resource == NULL || issuer_audience(aud, sizeof(aud), resource, &e) != CF_OK) {
        mgmt_fail(r, 400, "InvalidRequest", "The 'resource' query parameter is required%s%s.",
                  resource ? ": " : "", resource ? e.msg : "");
        return;
    }
    int given = (client && *client) + (principal && *principal) + (res_id && *res_id);
    if (given != 1) {
        mgmt_fail(r, 400, "InvalidRequest",
                  "Name exactly one identity: client_id, principal_id or mi_res_id.");
        return;
    }
    meta_identity id;
    cf_code rc;
    const char *what;
    if (client && *client) {
        what = client;
        rc = ctl_uuid_valid(client) ? meta_identity_by_client(&id, client, &e)
                                    : cf_err_set(&e, CF_ENOTFOUND, "not a UUID");
    } else if (principal && *principal) {
        what = principal;
        rc = ctl_uuid_valid(principal) ? meta_identity_by_principal(&id, principal, &e)
                                       : cf_err_set(&e, CF_ENOTFOUND, "not a UUID");
    } else {
        what = res_id;
        rc = identity_ref_resolve(res_id, &id, &e);
    }
    if (rc == CF_ENOTFOUND && (client || principal) && ctl_uuid_valid(what)) {
        find_system f = {.client = client, .principal = principal, .out = &id};
        cf_err le = {0};
        if (meta_registry_each(system_match, &f, &le) == CF_OK && f.found)
            rc = CF_OK;
    }
    if (rc == CF_ENOTFOUND) {
        mgmt_fail(r, 400, "InvalidRequest", "No managed identity '%s' is known.", what);
        return;
    }
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "identity lookup");
        return;
    }
    char *tok = NULL;
    int64_t exp = 0;
    if (issuer_mint(&tok, &exp, is, id.principal_id, id.client_id, aud, ISSUER_TOKEN_TTL, &e) !=
        CF_OK) {
        mgmt_fail_err(r, &e, "token");
        return;
    }
    char exps[24];
    snprintf(exps, sizeof(exps), "%lld", (long long)exp);
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "access_token", tok, "expires_on", exps,
                             "resource", aud, "token_type", "Bearer", "client_id", id.client_id);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    cf_log(CF_LOG_INFO, "token issued", "request_id", r->request_id, "identity", id.name,
           "client_id", id.client_id, "audience", aud, NULL);
    mgmt_reply(r, 200, body);
}

/* ---- routing ---- */

static int method_is(const http_req *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

static void not_allowed(http_req *r)
{
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}

/* Splits path into at most 5 segments (copied into buf); -1 when it has
 * more, an empty segment, or is too long. */
static int split(const char *path, char buf[512], const char *seg[5])
{
    size_t n = strlen(path);
    if (n == 0 || n >= 512 || path[0] != '/')
        return -1;
    memcpy(buf, path + 1, n);
    int k = 0;
    char *p = buf;
    while (*p) {
        if (k == 5)
            return -1;
        seg[k++] = p;
        char *s = strchr(p, '/');
        if (s == NULL)
            break;
        *s = '\0';
        p = s + 1;
        if (*p == '\0')
            return -1; /* trailing slash */
    }
    for (int i = 0; i < k; i++)
        if (*seg[i] == '\0')
            return -1;
    return k;
}

/* GET /metrics (bearer): the Prometheus exposition. */
static void metrics_get(http_req *r)
{
    cf_buf b;
    cf_buf_init(&b, 0);
    cf_err e = {0};
    if (metrics_render(&b, &e) != CF_OK) {
        cf_buf_free(&b);
        mgmt_fail(r, 500, "InternalServerError", "%s", e.msg);
        return;
    }
    http_resp *resp = http_resp_bytes(200, b.data ? (const char *)b.data : "", b.len,
                                      "text/plain; version=0.0.4; charset=utf-8");
    cf_buf_free(&b);
    http_req_respond(r, resp);
}

/* Splits tail ("" or "/a/b...") into at most 4 segments of buf: their
 * count, -1 for more, an empty one or a trailing '/'. */
static int split_tail(const char *tail, char buf[512], const char *seg[4])
{
    int k = 0;
    if (tail[0] != '\0' && tail[0] != '/')
        return -1;
    if (snprintf(buf, 512, "%s", tail) >= 512)
        return -1;
    for (char *p = buf; *p == '/';) {
        if (k == 4)
            return -1;
        *p++ = '\0';
        if (*p == '\0' || *p == '/')
            return -1;
        seg[k++] = p;
        p += strcspn(p, "/");
    }
    return k;
}

int mgmt_registry_route(http_req *r, const mgmt_scope *s, const char *name, const char *tail)
{
    char buf[512];
    const char *rest[4] = {0};
    int nrest = split_tail(tail, buf, rest);
    if (name == NULL) {
        if (nrest != 0)
            return 0;
        registries_handle(r, s, NULL, 0);
        return 1;
    }
    /* a registry's content: a repository name has slashes, so its routes
     * take the tail as it is */
    if (repositories_route(r, s, name, tail))
        return 1;
    if (nrest < 0)
        return 0;
    if (nrest == 0) {
        registries_handle(r, s, name, 0);
        return 1;
    }
    if (nrest == 2 && strcmp(rest[0], "encryption") == 0 && strcmp(rest[1], "check") == 0) {
        registries_handle(r, s, name, 1);
        return 1;
    }
    if (nrest == 1 &&
        (strcmp(rest[0], "listCredentials") == 0 || strcmp(rest[0], "regenerateCredential") == 0)) {
        registries_credentials(r, s, name, rest[0]);
        return 1;
    }
    if (nrest == 1 && strcmp(rest[0], "garbageCollect") == 0) {
        registries_gc(r, s, name);
        return 1;
    }
    if (nrest <= 3 && strcmp(rest[0], "tokens") == 0 &&
        (nrest < 3 || strcmp(rest[2], "generateCredentials") == 0)) {
        tokens_handle(r, s, name, nrest >= 2 ? rest[1] : NULL, nrest == 3 ? rest[2] : NULL);
        return 1;
    }
    return tasks_route(r, s, name, rest, nrest);
}

static void route(http_req *r)
{
    char buf[512];
    const char *seg[5] = {0};
    int k = split(r->path, buf, seg);
    int get = method_is(r, "GET") || method_is(r, "HEAD");
    if (k == 2 && strcmp(seg[0], ".well-known") == 0 &&
        strcmp(seg[1], "openid-configuration") == 0) {
        issuer *is = get ? current_issuer(r) : NULL;
        if (!get)
            not_allowed(r);
        else if (is)
            mgmt_reply(r, 200, issuer_openid_config(is));
        return;
    }
    if (k == 1 && strcmp(seg[0], "jwks") == 0) {
        issuer *is = get ? current_issuer(r) : NULL;
        if (!get)
            not_allowed(r);
        else if (is)
            mgmt_reply(r, 200, issuer_jwks(is));
        return;
    }
    if (k == 2 && strcmp(seg[0], "msi") == 0 && strcmp(seg[1], "token") == 0) {
        if (!get)
            not_allowed(r);
        else
            msi_token(r);
        return;
    }
    if (mgmt_route_authorize(r, k, seg) != 0)
        return;
    char scope[ARM_ID_MAX];
    const char *tail;
    if (arm_authz_split(r->path, scope, sizeof(scope), &tail) == 0) {
        mgmt_access_route(r, scope, tail);
        return;
    }
    if (k >= 1 && k <= 3 && strcmp(seg[0], "principals") == 0) {
        principals_handle(r, k >= 2 ? seg[1] : NULL, k == 3 ? seg[2] : NULL);
        return;
    }
    if (k == 1 && strcmp(seg[0], "metrics") == 0 && capture == NULL) {
        if (!get)
            not_allowed(r);
        else
            metrics_get(r);
        return;
    }
    if (strncasecmp(r->path, "/subscriptions", 14) == 0 &&
        (r->path[14] == '\0' || r->path[14] == '/')) {
        groups_dispatch(r);
        return;
    }
    const mgmt_scope *ls = &mgmt_scope_legacy;
    if (k >= 1 && k <= 2 && strcmp(seg[0], "identities") == 0) {
        identities_handle(r, ls, k == 2 ? seg[1] : NULL);
        return;
    }
    /* /registries[/NAME[TAIL]], not split: a repository name has slashes */
    if (strncmp(r->path, "/registries", 11) == 0 && (r->path[11] == '\0' || r->path[11] == '/')) {
        const char *p = r->path + 11;
        char name[512];
        size_t n = *p ? strcspn(p + 1, "/") : 0;
        if (*p && n > 0 && n < sizeof(name)) {
            memcpy(name, p + 1, n);
            name[n] = '\0';
        }
        if ((*p == '\0' || (n > 0 && n < sizeof(name))) &&
            mgmt_registry_route(r, ls, *p ? name : NULL, *p ? p + 1 + n : ""))
            return;
    }
    mgmt_fail(r, 404, "NotFound", "No management endpoint at %s.", r->path);
}

/* Authenticates (an in-process call was authenticated by its caller:
 * mgmt_call, the portal's), routes, and writes the audit line. */
static void dispatch(http_req *r)
{
    int public = strcmp(r->path, "/jwks") == 0 ||
                 strcmp(r->path, "/.well-known/openid-configuration") == 0 ||
                 strcmp(r->path, "/msi/token") == 0;
    mgmt_caller *c =
        capture  ? mgmt_caller_new(MGMT_CALLER_PORTAL)
        : public ? mgmt_caller_new(bearer_ok(r) || admin_ok(http_req_header(r, "X-IDENTITY-HEADER"))
                                       ? MGMT_CALLER_ADMIN
                                       : MGMT_CALLER_ANONYMOUS)
                 : authenticate(r);
    int authenticated = c != NULL;
    if (c == NULL)
        c = mgmt_caller_new(MGMT_CALLER_ANONYMOUS);
    if (c == NULL) {
        mgmt_fail(r, 503, "ServiceUnavailable", "out of memory");
        return;
    }
    mgmt_caller_enter(c);
    if (!authenticated)
        mgmt_fail(r, 401, "Unauthorized", UNAUTHORIZED_TEXT);
    else
        route(r);
    mgmt_audit_done(r, c);
    mgmt_caller_leave(c);
}

static void body_end(http_req *r)
{
    if (r->body_too_big) {
        mgmt_fail(r, 413, "RequestTooLarge", "The request body exceeds %d bytes.", MGMT_BODY_MAX);
        return;
    }
    dispatch(r);
}

cf_code mgmt_call(const char *method, const char *path, const json_t *body, const char *request_id,
                  unsigned *status, json_t **out, cf_err *e)
{
    *status = 0;
    *out = NULL;
    if (capture != NULL)
        return cf_err_set(e, CF_ECONFLICT, "management calls do not nest");
    if (path == NULL || path[0] != '/' || strncmp(path, "/msi/", 5) == 0)
        return cf_err_set(e, CF_EINVAL, "not a management resource path");
    http_req r = {.method = method, .path = path, .version = "HTTP/1.1"};
    snprintf(r.request_id, sizeof(r.request_id), "%s", request_id ? request_id : "");
    cf_buf_init(&r.body, MGMT_BODY_MAX);
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        cf_code rc = text ? cf_buf_append(&r.body, text, strlen(text), e)
                          : cf_err_set(e, CF_ENOMEM, "out of memory");
        free(text);
        if (rc != CF_OK) {
            cf_buf_free(&r.body);
            return rc;
        }
    }
    mgmt_capture cap = {0};
    capture = &cap;
    dispatch(&r);
    capture = NULL;
    cf_buf_free(&r.body);
    if (cap.status == 0)
        return cf_err_set(e, CF_EIO, "the management API gave no answer to %s %s", method, path);
    *status = cap.status;
    *out = cap.body;
    return CF_OK;
}

/* The route label of the request metrics: the first path segment. */
static const char *route_of(const char *path)
{
    static const char *const known[] = {"registries", "identities", "jwks",   ".well-known",
                                        "msi",        "portal",     "metrics"};
    const char *p = path[0] == '/' ? path + 1 : path;
    size_t n = strcspn(p, "/");
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i]) == n && strncmp(p, known[i], n) == 0)
            return known[i][0] == '.' ? "openid" : known[i];
    return "other";
}

void mgmt_handle(http_req *r, void *ctx)
{
    (void)ctx;
    r->route = route_of(r->path);
    if (portal_path(r->path)) {
        portal_handle(r);
        return;
    }
    int with_body = method_is(r, "PUT") || method_is(r, "PATCH") || method_is(r, "POST");
    if (!with_body) {
        dispatch(r);
        return;
    }
    /* refuse before reading a body: wrong credentials, or a declared size
     * past the cap */
    if (strncmp(r->path, "/msi/", 5) != 0 && strcmp(r->path, "/jwks") != 0 &&
        strncmp(r->path, "/.well-known/", 13) != 0) {
        mgmt_caller *c = authenticate(r);
        if (c == NULL) {
            mgmt_caller *anon = mgmt_caller_new(MGMT_CALLER_ANONYMOUS);
            mgmt_caller_enter(anon);
            mgmt_fail(r, 401, "Unauthorized", UNAUTHORIZED_TEXT);
            mgmt_audit_done(r, anon);
            mgmt_caller_leave(anon);
            return;
        }
        mgmt_caller_leave(c);
    }
    if (http_req_content_length(r) > MGMT_BODY_MAX) {
        mgmt_fail(r, 413, "RequestTooLarge", "The request body exceeds %d bytes.", MGMT_BODY_MAX);
        return;
    }
    http_req_collect(r, MGMT_BODY_MAX, body_end);
}
