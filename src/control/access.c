/*
 * access.c -- who is calling cofferd's management API and what it may do
 * (docs/security.md, "Tenants and roles"): the callers, the one check
 * every route goes through, the service principals, the role assignments
 * and the audit log.
 *
 * Callers. The operator holds the admin token (DIR/admin.token) and may do
 * everything; the portal's in-process calls (mgmt_call) are the operator's
 * too. A tenant calls as a service principal: `Authorization: Bearer
 * APPID.SECRET`, where APPID is the principal's application (client) id and
 * SECRET the password it was given once at creation. Only SHA-256(SECRET)
 * is stored (the secret is 32 random bytes, so a fast hash is enough),
 * compared in constant time; an unknown APPID costs the same comparison
 * against a dummy. A principal belongs to the subscription it was created
 * in, and may do exactly what its role assignments allow (control/authz.h).
 *
 *   GET    /principals                      the visible principals
 *   POST   /principals                      {"displayName","subscriptionId"}:
 *                                           201 with "password", shown once
 *   GET|DELETE /principals/{appId|objectId}
 *   POST   /principals/{id}/resetPassword   a new password (the old one stops)
 *   PUT|GET|DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}
 *   GET    {scope}/providers/Microsoft.Authorization/roleAssignments
 *   GET    [{scope}]/providers/Microsoft.Authorization/roleDefinitions[/{guid}]
 *
 * Creating or deleting a principal, and assigning roles, take
 * Microsoft.Authorization/servicePrincipals/write|delete and
 * Microsoft.Authorization/roleAssignments/write|delete at the scope:
 * Owners have them, Contributors do not. The first principal of a new
 * subscription is the operator's to create (nobody else has a role there).
 *
 * The check (mgmt_route_authorize) runs for every request before its
 * handler: an ARM path is authorized on the path itself, before anything
 * is looked up, so a tenant learns nothing about another's resources: 403
 * AuthorizationFailed naming the action and the scope, as ARM answers
 * whether or not the resource exists. A legacy short path
 * (/registries/NAME) names no scope; it is resolved to the resource's ARM
 * id, and one the caller cannot see is 404 ResourceNotFound, the answer
 * for a missing one. Lists keep what the caller may read.
 *
 * Audit: one JSON line per request handled (mgmt_audit_done), in
 * DIR/mgmt-audit.log (0600, fsynced, base/jsonl.h): time, caller (kind,
 * appId, objectId, name), method, path, action, scope, status, result,
 * error code, request id. Never a token, a password or a body.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/enc.h"
#include "base/jsonl.h"
#include "base/log.h"
#include "control/authz.h"
#include "control/mgmt_int.h"
#include "control/validate.h"

#define SECRET_BYTES 32
#define SECRET_LEN 43 /* base64url of SECRET_BYTES, unpadded */
#define TOKEN_LEN (CTL_UUID_LEN + 1 + SECRET_LEN)
#define MAX_GRANTS 4096 /* the reference allows 4,000 per subscription */
#define AUTHZ_NS "Microsoft.Authorization"

struct mgmt_caller {
    mgmt_caller_kind kind;
    arm_principal p;     /* kind MGMT_CALLER_PRINCIPAL (secret_hash wiped) */
    authz_grant *grants; /* n of cap; their scopes in scopes */
    char (*scopes)[ARM_ID_MAX];
    size_t n, cap;
    int oom;
    /* for the audit line */
    unsigned status;
    char code[64], action[400], scope[ARM_ID_MAX + ARM_REST_MAX];
};

static __thread mgmt_caller *current;
static cf_jsonl *audit_log;

/* ---- callers ---- */

static void sha256_hex(char out[ARM_SECRET_HASH_HEX + 1], const char *s, size_t n)
{
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(s, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        memset(md, 0, sizeof(md));
    cf_hex_encode(out, md, 32);
    out[ARM_SECRET_HASH_HEX] = '\0';
    OPENSSL_cleanse(md, sizeof(md));
}

static int grant_add(void *cls, const arm_role_assignment *a)
{
    mgmt_caller *c = cls;
    const authz_role *role = authz_role_find(a->role_id);
    if (role == NULL)
        return 0;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        void *ng = nc <= MAX_GRANTS ? realloc(c->grants, nc * sizeof(*c->grants)) : NULL;
        if (ng)
            c->grants = ng;
        void *ns = ng ? realloc(c->scopes, nc * sizeof(*c->scopes)) : NULL;
        if (ns)
            c->scopes = ns;
        if (ng == NULL || ns == NULL) {
            c->oom = 1; /* refused below: never a partial set of grants */
            return 1;
        }
        c->cap = nc;
        for (size_t i = 0; i < c->n; i++)
            c->grants[i].scope = c->scopes[i];
    }
    snprintf(c->scopes[c->n], ARM_ID_MAX, "%s", a->scope);
    c->grants[c->n].scope = c->scopes[c->n];
    c->grants[c->n].role = role;
    c->n++;
    return 0;
}

int mgmt_token_is_principal(const char *tok)
{
    return tok && strlen(tok) == TOKEN_LEN && tok[CTL_UUID_LEN] == '.';
}

mgmt_caller *mgmt_caller_principal(const char *tok)
{
    if (!mgmt_token_is_principal(tok))
        return NULL;
    char app[CTL_UUID_LEN + 1], want[ARM_SECRET_HASH_HEX + 1];
    memcpy(app, tok, CTL_UUID_LEN);
    app[CTL_UUID_LEN] = '\0';
    sha256_hex(want, tok + CTL_UUID_LEN + 1, SECRET_LEN);
    mgmt_caller *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    cf_err e = {0};
    int found = ctl_uuid_valid(app) && arm_principal_get(&c->p, app, &e) == CF_OK &&
                arm_eq(c->p.app_id, app);
    /* the same comparison whether or not the principal exists */
    static const char dummy[ARM_SECRET_HASH_HEX + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    const char *have =
        found && strlen(c->p.secret_hash) == ARM_SECRET_HASH_HEX ? c->p.secret_hash : dummy;
    int ok = CRYPTO_memcmp(have, want, ARM_SECRET_HASH_HEX) == 0 && found;
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(c->p.secret_hash, sizeof(c->p.secret_hash));
    if (!ok || arm_role_each(c->p.object_id, grant_add, c, &e) != CF_OK || c->oom) {
        if (ok)
            cf_log(CF_LOG_ERROR, "cannot load a principal's role assignments", "app_id",
                   c->p.app_id, "error", c->oom ? "too many or out of memory" : e.msg, NULL);
        mgmt_caller_leave(c);
        return NULL;
    }
    c->kind = MGMT_CALLER_PRINCIPAL;
    return c;
}

mgmt_caller *mgmt_caller_new(mgmt_caller_kind kind)
{
    mgmt_caller *c = calloc(1, sizeof(*c));
    if (c)
        c->kind = kind;
    return c;
}

void mgmt_caller_enter(mgmt_caller *c)
{
    current = c;
}

void mgmt_caller_leave(mgmt_caller *c)
{
    if (c == NULL)
        return;
    if (current == c)
        current = NULL;
    free(c->grants);
    free(c->scopes);
    free(c);
}

int mgmt_is_operator(void)
{
    return current == NULL || current->kind == MGMT_CALLER_ADMIN ||
           current->kind == MGMT_CALLER_PORTAL;
}

int mgmt_can(const char *scope, const char *action)
{
    if (mgmt_is_operator())
        return 1;
    return current->kind == MGMT_CALLER_PRINCIPAL &&
           authz_allows(current->grants, current->n, scope, action);
}

int mgmt_can_see(const char *scope)
{
    if (mgmt_is_operator())
        return 1;
    return current->kind == MGMT_CALLER_PRINCIPAL && authz_sees(current->grants, current->n, scope);
}

static void note(const char *scope, const char *action)
{
    if (current == NULL)
        return;
    snprintf(current->scope, sizeof(current->scope), "%s", scope);
    snprintf(current->action, sizeof(current->action), "%s", action);
}

int mgmt_authorize(http_req *r, const char *scope, const char *action)
{
    if (current && current->action[0] == '\0')
        note(scope, action);
    if (mgmt_can(scope, action))
        return 0;
    note(scope, action); /* the line names what was refused */
    const char *who = current ? current->p.object_id : "";
    mgmt_fail(r, 403, "AuthorizationFailed",
              "The client '%s' with object id '%s' does not have authorization to perform "
              "action '%s' over scope '%.640s' or the scope is invalid. If access was recently "
              "granted, please refresh your credentials.",
              current ? current->p.app_id : "", who, action, scope);
    return -1;
}

/* ---- the one check of every route ---- */

static const char *res_type_of(const char *kind)
{
    return strcmp(kind, ARM_KIND_REGISTRY) == 0 ? ARM_TYPE_REGISTRY : ARM_TYPE_IDENTITY;
}

/* A legacy path's resource: its ARM id (where it lives, or where a
 * creation would put it: the default group). 1 when it exists. */
static int legacy_id(char out[ARM_ID_MAX], const char *kind, const char *name)
{
    if (mgmt_resource_id(out, kind, name, NULL))
        return 1;
    const char *ns = strcmp(kind, ARM_KIND_REGISTRY) == 0 ? ARM_NS_REGISTRY : ARM_NS_IDENTITY;
    if (arm_id_format(out, ARM_ID_MAX, arm_default_sub(), arm_default_group(), ns,
                      res_type_of(kind), name) != 0)
        snprintf(out, ARM_ID_MAX, "/");
    return 0;
}

static int authorize_arm(http_req *r)
{
    arm_path ap;
    if (arm_path_parse(&ap, r->path, strlen(r->path)) != 0)
        return 0; /* the route answers 404 */
    char scope[ARM_ID_MAX], action[400];
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int del = strcmp(r->method, "DELETE") == 0;
    switch (ap.kind) {
    case ARM_SUBSCRIPTIONS:
        return 0; /* filtered */
    case ARM_SUBSCRIPTION:
    case ARM_GROUPS:
        snprintf(scope, sizeof(scope), "/subscriptions/%s", ap.sub);
        if (get && ap.kind == ARM_SUBSCRIPTION && mgmt_can_see(scope))
            return 0;
        if (ap.kind == ARM_GROUPS && mgmt_can_see(scope))
            return 0; /* the list is filtered */
        return mgmt_authorize(r, scope,
                              get ? "Microsoft.Resources/subscriptions/read"
                                  : "Microsoft.Resources/subscriptions/write");
    case ARM_GROUP:
    case ARM_GROUP_RESOURCES:
        snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/%s", ap.sub, ap.group);
        if (get && mgmt_can_see(scope))
            return 0;
        return mgmt_authorize(r, scope,
                              get   ? "Microsoft.Resources/subscriptions/resourceGroups/read"
                              : del ? "Microsoft.Resources/subscriptions/resourceGroups/delete"
                                    : "Microsoft.Resources/subscriptions/resourceGroups/write");
    case ARM_TYPE_LIST:
        if (ap.group[0])
            snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/%s", ap.sub, ap.group);
        else
            snprintf(scope, sizeof(scope), "/subscriptions/%s", ap.sub);
        if (get && mgmt_can_see(scope))
            return 0; /* filtered */
        snprintf(action, sizeof(action), "%.150s/%.150s/%s", ap.ns, ap.type,
                 get ? "read" : "write");
        return mgmt_authorize(r, scope, action);
    case ARM_RESOURCE:
        if (authz_action_of(action, sizeof(action), ap.ns, ap.type, ap.rest, r->method) != 0)
            snprintf(action, sizeof(action), "%.150s/%.150s/action", ap.ns, ap.type);
        return mgmt_authorize(r, r->path, action);
    }
    return 0;
}

static int authorize_legacy(http_req *r, const char *kind, const char *name, const char *rest)
{
    char id[ARM_ID_MAX], scope[ARM_ID_MAX + ARM_REST_MAX], action[400];
    int exists = legacy_id(id, kind, name);
    const char *ns = strcmp(kind, ARM_KIND_REGISTRY) == 0 ? ARM_NS_REGISTRY : ARM_NS_IDENTITY;
    snprintf(scope, sizeof(scope), "%s%s", id, rest);
    if (authz_action_of(action, sizeof(action), ns, res_type_of(kind), rest, r->method) != 0)
        snprintf(action, sizeof(action), "%s/%s/action", ns, res_type_of(kind));
    if (!exists && strcmp(r->method, "PUT") != 0)
        return 0; /* the handler answers 404, as for an invisible one */
    if (exists && !mgmt_can_see(id)) {
        note(scope, action);
        /* another tenant's resource is, to this caller, a missing one */
        mgmt_not_found(r, &mgmt_scope_legacy,
                       strcmp(kind, ARM_KIND_REGISTRY) == 0 ? ARM_TYPE_REGISTRY : ARM_TYPE_IDENTITY,
                       name);
        return -1;
    }
    return mgmt_authorize(r, scope, action);
}

int mgmt_route_authorize(http_req *r, int k, const char *const *seg)
{
    if (mgmt_is_operator())
        return 0;
    /* the whole service's figures, every tenant's registries in their
     * labels: the operator's (docs/scale-out.md, Metrics) */
    if (k == 1 && strcmp(seg[0], "metrics") == 0)
        return mgmt_authorize(r, "/", "Microsoft.Insights/metrics/read");
    char scope[ARM_ID_MAX];
    const char *tail;
    if (arm_authz_split(r->path, scope, sizeof(scope), &tail) == 0)
        return 0; /* the role routes authorize each operation themselves */
    if (strncasecmp(r->path, "/subscriptions", 14) == 0 &&
        (r->path[14] == '\0' || r->path[14] == '/'))
        return authorize_arm(r);
    if (k >= 1 && (strcmp(seg[0], "identities") == 0 || strcmp(seg[0], "registries") == 0)) {
        if (k == 1)
            return 0; /* filtered */
        const char *kind = seg[0][0] == 'i' ? ARM_KIND_IDENTITY : ARM_KIND_REGISTRY;
        /* the rest of the path after the name */
        const char *rest = r->path + 1 + strlen(seg[0]) + 1 + strlen(seg[1]);
        if (strlen(rest) >= ARM_REST_MAX)
            return 0; /* the route answers 404 */
        return authorize_legacy(r, kind, seg[1], rest);
    }
    return 0; /* /principals checks itself; anything else is 404 */
}

void mgmt_roles_forget(const char *kind, const char *name)
{
    char id[ARM_ID_MAX];
    cf_err e = {0};
    if (mgmt_resource_id(id, kind, name, NULL) && arm_role_forget(id, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "cannot drop the role assignments of a deleted resource", "resource",
               id, "error", e.msg, NULL);
}

/* ---- audit ---- */

cf_code mgmt_audit_open(const char *path, cf_err *e)
{
    mgmt_audit_close();
    if (path == NULL || *path == '\0')
        return CF_OK;
    return cf_jsonl_open(&audit_log, path, e);
}

void mgmt_audit_close(void)
{
    cf_jsonl_close(audit_log);
    audit_log = NULL;
}

void mgmt_audit_status(unsigned status, const char *code)
{
    if (current == NULL || current->status != 0)
        return; /* the first answer is the one sent */
    current->status = status;
    snprintf(current->code, sizeof(current->code), "%s", code ? code : "");
}

void mgmt_audit_done(const http_req *r, const mgmt_caller *c)
{
    if (audit_log == NULL || c == NULL)
        return;
    static const char *const kinds[] = {"anonymous", "admin", "portal", "servicePrincipal"};
    char when[40];
    cf_jsonl_now(when, sizeof(when));
    json_t *o = json_object(), *who = json_object();
    if (o == NULL || who == NULL) {
        json_decref(o);
        json_decref(who);
        return;
    }
    cf_jsonl_set_str(o, "time", when);
    cf_jsonl_set_str(who, "type", kinds[c->kind]);
    if (c->kind == MGMT_CALLER_PRINCIPAL) {
        cf_jsonl_set_str(who, "appId", c->p.app_id);
        cf_jsonl_set_str(who, "objectId", c->p.object_id);
        cf_jsonl_set_str(who, "displayName", c->p.display_name);
        cf_jsonl_set_str(who, "subscriptionId", c->p.sub);
    }
    json_object_set_new(o, "caller", who);
    cf_jsonl_set_str(o, "method", r->method);
    cf_jsonl_set_str(o, "path", r->path);
    cf_jsonl_set_str(o, "action", c->action);
    cf_jsonl_set_str(o, "scope", c->scope);
    json_object_set_new(o, "status", json_integer(c->status));
    cf_jsonl_set_str(o, "result", cf_jsonl_result(c->status));
    cf_jsonl_set_str(o, "code", c->code);
    cf_jsonl_set_str(o, "requestId", r->request_id);
    cf_err e = {0};
    if (cf_jsonl_append(audit_log, o, 1, &e) != CF_OK)
        cf_log(CF_LOG_ERROR, "management audit write failed", "error", e.msg, NULL);
    json_decref(o);
}

/* ---- principals ---- */

static json_t *principal_json(const arm_principal *p)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", p->object_id, "appId", p->app_id,
                     "displayName", p->display_name, "subscriptionId", p->sub, "tenant",
                     mgmt_g.tenant, "servicePrincipalType", "Application", "type",
                     "servicePrincipal");
}

/* A new secret: its text into out (SECRET_LEN + 1), its hash into hash. */
static cf_code secret_new(char out[SECRET_LEN + 1], char hash[ARM_SECRET_HASH_HEX + 1], cf_err *e)
{
    unsigned char raw[SECRET_BYTES];
    cf_buf b;
    cf_buf_init(&b, 0);
    cf_code rc = RAND_bytes(raw, sizeof(raw)) == 1 ? cf_b64url_encode(&b, raw, sizeof(raw), e)
                                                   : cf_err_set(e, CF_ECRYPTO, "no random bytes");
    if (rc == CF_OK && b.len != SECRET_LEN)
        rc = cf_err_set(e, CF_ECRYPTO, "unexpected secret length");
    if (rc == CF_OK) {
        memcpy(out, b.data, SECRET_LEN);
        out[SECRET_LEN] = '\0';
        sha256_hex(hash, out, SECRET_LEN);
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    cf_buf_free(&b);
    return rc;
}

static void reply_with_password(http_req *r, unsigned status, const arm_principal *p,
                                const char *secret)
{
    json_t *j = principal_json(p);
    json_object_set_new(j, "password", json_string(secret));
    mgmt_reply_secret(r, status, j);
}

static int sub_scope(char out[64], const char *sub)
{
    return snprintf(out, 64, "/subscriptions/%s", sub) >= 64 ? -1 : 0;
}

static void principal_create(http_req *r)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    const char *name = json_string_value(json_object_get(body, "displayName"));
    const char *sub = json_string_value(json_object_get(body, "subscriptionId"));
    char scope[64], secret[SECRET_LEN + 1];
    arm_principal p = {0};
    arm_subscription s;
    cf_err e = {0};
    if (name == NULL || *name == '\0' || strlen(name) >= ARM_PRINCIPAL_NAME_MAX) {
        mgmt_fail(r, 400, "InvalidRequest", "displayName is required: a string of 1-%d characters.",
                  ARM_PRINCIPAL_NAME_MAX - 1);
        goto out;
    }
    if (sub == NULL)
        sub = arm_default_sub();
    if (!ctl_uuid_valid(sub)) {
        mgmt_fail(r, 400, "InvalidRequest", "subscriptionId must be a subscription id (a UUID).");
        goto out;
    }
    sub_scope(scope, sub);
    if (mgmt_authorize(r, scope, AUTHZ_NS "/servicePrincipals/write") != 0)
        goto out;
    if (arm_sub_get(&s, sub, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            mgmt_fail(r, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.",
                      sub);
        else
            mgmt_fail_err(r, &e, "subscription lookup");
        goto out;
    }
    snprintf(p.display_name, sizeof(p.display_name), "%s", name);
    snprintf(p.sub, sizeof(p.sub), "%s", s.id);
    pthread_mutex_lock(&mgmt_mu);
    cf_code rc = ctl_uuid_v4(p.object_id, &e);
    if (rc == CF_OK)
        rc = ctl_uuid_v4(p.app_id, &e);
    if (rc == CF_OK)
        rc = secret_new(secret, p.secret_hash, &e);
    if (rc == CF_OK)
        rc = arm_principal_add(&p, &e);
    pthread_mutex_unlock(&mgmt_mu);
    OPENSSL_cleanse(p.secret_hash, sizeof(p.secret_hash));
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "create principal");
        goto out;
    }
    cf_log(CF_LOG_INFO, "service principal created", "request_id", r->request_id, "app_id",
           p.app_id, "subscription", p.sub, NULL);
    reply_with_password(r, 201, &p, secret);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_decref(body);
}

typedef struct principal_list {
    json_t *arr;
} principal_list;

static int principal_add_visible(void *cls, const arm_principal *p)
{
    principal_list *l = cls;
    char scope[64];
    sub_scope(scope, p->sub);
    int self = current && current->kind == MGMT_CALLER_PRINCIPAL &&
               arm_eq(current->p.object_id, p->object_id);
    if (self || mgmt_can(scope, AUTHZ_NS "/servicePrincipals/read"))
        json_array_append_new(l->arr, principal_json(p));
    return 0;
}

void principals_handle(http_req *r, const char *id, const char *action)
{
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    cf_err e = {0};
    if (id == NULL) {
        if (strcmp(r->method, "POST") == 0)
            return principal_create(r);
        if (!get)
            return mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.",
                             r->method, r->path);
        principal_list l = {json_array()};
        if (arm_principal_each(NULL, principal_add_visible, &l, &e) != CF_OK) {
            json_decref(l.arr);
            return mgmt_fail_err(r, &e, "list principals");
        }
        return mgmt_reply(r, 200, json_pack("{s:o}", "value", l.arr));
    }
    arm_principal p;
    char scope[64];
    int found = ctl_uuid_valid(id) && arm_principal_get(&p, id, &e) == CF_OK;
    if (found) {
        OPENSSL_cleanse(p.secret_hash, sizeof(p.secret_hash));
        sub_scope(scope, p.sub);
    }
    int self = found && current && current->kind == MGMT_CALLER_PRINCIPAL &&
               arm_eq(current->p.object_id, p.object_id);
    if (!found || !(self || mgmt_can(scope, AUTHZ_NS "/servicePrincipals/read"))) {
        if (e.code != CF_OK && e.code != CF_ENOTFOUND)
            return mgmt_fail_err(r, &e, "principal lookup");
        return mgmt_fail(r, 404, "ResourceNotFound", "The service principal '%.64s' was not found.",
                         id);
    }
    if (action == NULL && get)
        return mgmt_reply(r, 200, principal_json(&p));
    if (action == NULL && strcmp(r->method, "DELETE") == 0) {
        if (mgmt_authorize(r, scope, AUTHZ_NS "/servicePrincipals/delete") != 0)
            return;
        pthread_mutex_lock(&mgmt_mu);
        cf_code rc = arm_principal_delete(p.object_id, &e);
        pthread_mutex_unlock(&mgmt_mu);
        if (rc != CF_OK)
            return mgmt_fail_err(r, &e, "delete principal");
        cf_log(CF_LOG_INFO, "service principal deleted", "request_id", r->request_id, "app_id",
               p.app_id, NULL);
        return mgmt_reply(r, 200, NULL);
    }
    if (action && strcmp(action, "resetPassword") == 0 && strcmp(r->method, "POST") == 0) {
        if (mgmt_authorize(r, scope, AUTHZ_NS "/servicePrincipals/write") != 0)
            return;
        char secret[SECRET_LEN + 1];
        pthread_mutex_lock(&mgmt_mu);
        cf_code rc = secret_new(secret, p.secret_hash, &e);
        if (rc == CF_OK)
            rc = arm_principal_secret_set(p.object_id, p.secret_hash, &e);
        pthread_mutex_unlock(&mgmt_mu);
        OPENSSL_cleanse(p.secret_hash, sizeof(p.secret_hash));
        if (rc != CF_OK) {
            OPENSSL_cleanse(secret, sizeof(secret));
            return mgmt_fail_err(r, &e, "reset password");
        }
        cf_log(CF_LOG_INFO, "service principal password reset", "request_id", r->request_id,
               "app_id", p.app_id, NULL);
        reply_with_password(r, 200, &p, secret);
        OPENSSL_cleanse(secret, sizeof(secret));
        return;
    }
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}

/* ---- role definitions and assignments ---- */

static json_t *definition_json(const char *scope, const authz_role *role)
{
    char id[ARM_ID_MAX + 128];
    snprintf(id, sizeof(id), "%s/providers/" AUTHZ_NS "/roleDefinitions/%s", scope, role->id);
    json_t *acts = json_array(), *nacts = json_array();
    for (const char *const *a = role->actions; *a; a++)
        json_array_append_new(acts, json_string(*a));
    for (const char *const *a = role->not_actions; *a; a++)
        json_array_append_new(nacts, json_string(*a));
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:[{s:o,s:o,s:[],s:[]}],s:[s]}}", "id", id,
                     "name", role->id, "type", AUTHZ_NS "/roleDefinitions", "properties",
                     "roleName", role->name, "type", "BuiltInRole", "description",
                     role->description, "permissions", "actions", acts, "notActions", nacts,
                     "dataActions", "notDataActions", "assignableScopes", "/");
}

static json_t *assignment_json(const arm_role_assignment *a)
{
    const authz_role *role = authz_role_find(a->role_id);
    char id[ARM_ID_MAX + 128], def[ARM_ID_MAX + 128], sub[64] = "", when[40];
    arm_path ap;
    if (arm_path_parse(&ap, a->scope, strlen(a->scope)) == 0 && ap.sub[0])
        sub_scope(sub, ap.sub);
    snprintf(id, sizeof(id), "%s/providers/" AUTHZ_NS "/roleAssignments/%s", a->scope, a->id);
    snprintf(def, sizeof(def), "%s/providers/" AUTHZ_NS "/roleDefinitions/%s", sub, a->role_id);
    cf_rfc3339(when, sizeof(when), a->created_at);
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}", "id", id, "name", a->id,
                     "type", AUTHZ_NS "/roleAssignments", "properties", "roleDefinitionId", def,
                     "roleDefinitionName", role ? role->name : "", "principalId", a->principal_id,
                     "principalType", "ServicePrincipal", "scope", a->scope, "createdOn", when,
                     "createdBy", a->created_by);
}

/* The scope of a role route: "" (the root), a subscription, a group or a
 * resource that exists. 0, or -1 after answering. */
static int scope_valid(http_req *r, const char *scope)
{
    if (*scope == '\0')
        return 0;
    arm_path ap;
    if (arm_path_parse(&ap, scope, strlen(scope)) != 0 ||
        !(ap.kind == ARM_SUBSCRIPTION || ap.kind == ARM_GROUP || ap.kind == ARM_RESOURCE)) {
        mgmt_fail(r, 400, "InvalidRoleAssignmentScope",
                  "The scope '%.300s' is not a subscription, resource group or resource id.",
                  scope);
        return -1;
    }
    return 0;
}

/* Whether a role assignment scope exists: 0, or -1 after answering 404. */
static int scope_exists_for_write(http_req *r, const char *scope)
{
    arm_path ap;
    cf_err e = {0};
    if (*scope == '\0' || arm_path_parse(&ap, scope, strlen(scope)) != 0)
        return 0;
    arm_subscription s;
    arm_group g;
    if (arm_sub_get(&s, ap.sub, &e) != CF_OK) {
        mgmt_fail(r, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.",
                  ap.sub);
        return -1;
    }
    if (ap.kind != ARM_SUBSCRIPTION && arm_group_get(&g, ap.sub, ap.group, &e) != CF_OK) {
        mgmt_fail(r, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.",
                  ap.group);
        return -1;
    }
    if (ap.kind == ARM_RESOURCE) {
        const char *kind = arm_path_is(&ap, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY) ? ARM_KIND_REGISTRY
                           : arm_path_is(&ap, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY)
                               ? ARM_KIND_IDENTITY
                               : NULL;
        arm_place p;
        if (kind == NULL || ap.rest[0] || arm_place_get(&p, kind, ap.name, &e) != CF_OK ||
            !arm_place_in(&p, ap.sub, ap.group)) {
            mgmt_fail(r, 404, "ResourceNotFound",
                      "The Resource '%.64s/%.64s/%.130s' under resource group '%s' was not found.",
                      ap.ns, ap.type, ap.name, ap.group);
            return -1;
        }
    }
    return 0;
}

static void assignment_put(http_req *r, const char *scope, const char *id)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    json_t *props = json_object_get(body, "properties");
    const char *def = json_string_value(json_object_get(props, "roleDefinitionId"));
    const char *pid = json_string_value(json_object_get(props, "principalId"));
    const authz_role *role = authz_role_find(def);
    arm_principal p;
    cf_err e = {0};
    if (!ctl_uuid_valid(id)) {
        mgmt_fail(r, 400, "InvalidRoleAssignmentId",
                  "The role assignment ID '%.64s' is not valid: it must be a GUID.", id);
        goto out;
    }
    if (role == NULL) {
        mgmt_fail(r, 400, "RoleDefinitionDoesNotExist",
                  "The specified role definition with ID '%.200s' does not exist.", def ? def : "");
        goto out;
    }
    /* its object id, or its appId (az resolves one to the other) */
    if (pid == NULL || !ctl_uuid_valid(pid) || arm_principal_get(&p, pid, &e) != CF_OK) {
        mgmt_fail(r, 400, "PrincipalNotFound", "Principal %.64s does not exist in the directory.",
                  pid ? pid : "");
        goto out;
    }
    OPENSSL_cleanse(p.secret_hash, sizeof(p.secret_hash));
    if (scope_exists_for_write(r, scope) != 0)
        goto out;
    arm_role_assignment a = {0};
    snprintf(a.id, sizeof(a.id), "%s", id);
    snprintf(a.scope, sizeof(a.scope), "%s", *scope ? scope : "/");
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", p.object_id);
    snprintf(a.role_id, sizeof(a.role_id), "%s", role->id);
    snprintf(a.created_by, sizeof(a.created_by), "%s",
             current && current->kind == MGMT_CALLER_PRINCIPAL ? current->p.object_id : "operator");
    pthread_mutex_lock(&mgmt_mu);
    cf_code rc = arm_role_add(&a, &e);
    if (rc == CF_OK)
        rc = arm_role_get(&a, id, &e);
    pthread_mutex_unlock(&mgmt_mu);
    if (rc == CF_EEXISTS) {
        mgmt_fail(r, 409, "RoleAssignmentExists", "The role assignment already exists.");
        goto out;
    }
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "role assignment");
        goto out;
    }
    cf_log(CF_LOG_INFO, "role assignment created", "request_id", r->request_id, "principal",
           a.principal_id, "role", role->name, "scope", a.scope, NULL);
    mgmt_reply(r, 201, assignment_json(&a));
out:
    json_decref(body);
}

typedef struct assignment_list {
    const char *scope;
    const char *principal; /* NULL: all */
    json_t *arr;
} assignment_list;

static int assignment_visible(const arm_role_assignment *a)
{
    if (current && current->kind == MGMT_CALLER_PRINCIPAL &&
        arm_eq(current->p.object_id, a->principal_id))
        return 1; /* one's own */
    return mgmt_can(a->scope, AUTHZ_NS "/roleAssignments/read");
}

static int assignment_add(void *cls, const arm_role_assignment *a)
{
    assignment_list *l = cls;
    int related = arm_scope_covers(l->scope, a->scope) || arm_scope_covers(a->scope, l->scope);
    if (related && assignment_visible(a) &&
        (l->principal == NULL || arm_eq(l->principal, a->principal_id)))
        json_array_append_new(l->arr, assignment_json(a));
    return 0;
}

/* $filter=principalId eq '{id}' (az's), or none. */
static const char *principal_filter(http_req *r, char out[40])
{
    const char *f = http_req_query(r, "$filter");
    const char *q = f ? strchr(f, '\'') : NULL;
    if (q == NULL || strncasecmp(f, "principalId eq ", 15) != 0 ||
        strlen(q + 1) < CTL_UUID_LEN + 1 || q[1 + CTL_UUID_LEN] != '\'')
        return NULL;
    memcpy(out, q + 1, CTL_UUID_LEN);
    out[CTL_UUID_LEN] = '\0';
    /* an appId stands for its principal's object id, as in create */
    arm_principal p;
    cf_err e = {0};
    if (ctl_uuid_valid(out) && arm_principal_get(&p, out, &e) == CF_OK) {
        snprintf(out, CTL_UUID_LEN + 1, "%s", p.object_id);
        OPENSSL_cleanse(p.secret_hash, sizeof(p.secret_hash));
    }
    return out;
}

static void assignment_one(http_req *r, const char *scope, const char *id)
{
    arm_role_assignment a;
    cf_err e = {0};
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int found = ctl_uuid_valid(id) && arm_role_get(&a, id, &e) == CF_OK &&
                arm_eq(*scope ? scope : "/", a.scope);
    if (get || strcmp(r->method, "DELETE") == 0) {
        if (!found || !assignment_visible(&a))
            return mgmt_fail(r, 404, "RoleAssignmentNotFound",
                             "The role assignment '%.64s' is not found.", id);
        if (get)
            return mgmt_reply(r, 200, assignment_json(&a));
        if (mgmt_authorize(r, a.scope, AUTHZ_NS "/roleAssignments/delete") != 0)
            return;
        pthread_mutex_lock(&mgmt_mu);
        cf_code rc = arm_role_delete(a.id, &e);
        pthread_mutex_unlock(&mgmt_mu);
        if (rc != CF_OK)
            return mgmt_fail_err(r, &e, "delete role assignment");
        cf_log(CF_LOG_INFO, "role assignment deleted", "request_id", r->request_id, "id", a.id,
               NULL);
        return mgmt_reply(r, 200, assignment_json(&a));
    }
    if (strcmp(r->method, "PUT") == 0) {
        if (mgmt_authorize(r, *scope ? scope : "/", AUTHZ_NS "/roleAssignments/write") != 0)
            return;
        return assignment_put(r, scope, id);
    }
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}

void mgmt_access_route(http_req *r, const char *scope, const char *tail)
{
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (scope_valid(r, scope) != 0)
        return;
    note(*scope ? scope : "/", AUTHZ_NS "/roleAssignments/read");
    if (strncasecmp(tail, "roleAssignments", 15) == 0 && (tail[15] == '\0' || tail[15] == '/')) {
        if (tail[15] == '/' && tail[16] && strchr(tail + 16, '/') == NULL) {
            if (current)
                current->action[0] = '\0';
            return assignment_one(r, scope, tail + 16);
        }
        if (tail[15] != '\0')
            return mgmt_fail(r, 404, "NotFound", "No management endpoint at %.300s.", r->path);
        if (!get)
            return mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.",
                             r->method, r->path);
        char pbuf[40];
        assignment_list l = {*scope ? scope : "/", principal_filter(r, pbuf), json_array()};
        cf_err e = {0};
        if (arm_role_each(NULL, assignment_add, &l, &e) != CF_OK) {
            json_decref(l.arr);
            return mgmt_fail_err(r, &e, "list role assignments");
        }
        return mgmt_reply(r, 200, json_pack("{s:o}", "value", l.arr));
    }
    if (strncasecmp(tail, "roleDefinitions", 15) == 0 && (tail[15] == '\0' || tail[15] == '/')) {
        if (!get)
            return mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.",
                             r->method, r->path);
        note(*scope ? scope : "/", AUTHZ_NS "/roleDefinitions/read");
        arm_path ap;
        char sub[64] = "";
        if (*scope && arm_path_parse(&ap, scope, strlen(scope)) == 0)
            sub_scope(sub, ap.sub);
        if (tail[15] == '/') {
            const authz_role *role = authz_role_find(tail + 16);
            if (role == NULL || strchr(tail + 16, '/'))
                return mgmt_fail(r, 404, "RoleDefinitionDoesNotExist",
                                 "The specified role definition with ID '%.64s' does not exist.",
                                 tail + 16);
            return mgmt_reply(r, 200, definition_json(sub, role));
        }
        json_t *arr = json_array();
        for (const authz_role *role = authz_roles; role->id; role++)
            json_array_append_new(arr, definition_json(sub, role));
        return mgmt_reply(r, 200, json_pack("{s:o}", "value", arr));
    }
    mgmt_fail(r, 404, "NotFound", "No management endpoint at %.300s.", r->path);
}
