/*
 * tokens.c -- registry tokens in the management API (docs/control-plane.md
 * "Registry authentication"; ACR's "tokens" with the scope map inline):
 * repository-scoped credentials for the data plane.
 *
 * (below the registry's ARM path, or the legacy /registries/{r}):
 *   PUT    /registries/{r}/tokens/{t}   {"properties":{"status","scope":[...]}}
 *   GET    /registries/{r}/tokens/{t} ; GET /registries/{r}/tokens
 *   DELETE /registries/{r}/tokens/{t}
 *   POST   /registries/{r}/tokens/{t}/generateCredentials {"name":"password1"|"password2"}
 *
 * A scope entry is {"repository": NAME or PREFIX/+"*", "actions": [...]} with
 * the four actions of ACR (content/read, content/write, content/delete,
 * metadata/read); it is validated in full and stored normalized (compact
 * JSON, each action once). A token's JSON never carries a password: the
 * values are shown once, in generateCredentials' answer, and only their
 * HMACs are kept (credentials.h).
 *
 * Revocation: deleting a token, disabling it, changing its scope or
 * replacing one of its passwords bumps the registry's credential epoch,
 * so registry tokens (JWTs) minted before stop working at once.
 */
#define CF_LOG_MOD "mgmt"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"
#include "registry/credentials.h"

static const char *const PW_NAMES[2] = {"password1", "password2"};

static void fail405(http_req *r)
{
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}

static json_t *token_json(const meta_registry *reg, const meta_token *t)
{
    char id[ARM_ID_MAX + 80], rid[ARM_ID_MAX], created[32];
    mgmt_resource_id(rid, ARM_KIND_REGISTRY, reg->name, NULL);
    snprintf(id, sizeof(id), "%s/tokens/%s", rid, t->name);
    ctl_rfc3339(created, sizeof(created), t->created_at);
    json_t *scope = json_loads(t->scope, 0, NULL);
    if (scope == NULL)
        scope = json_array();
    json_t *pws = json_array();
    for (int i = 0; pws && i < 2; i++) {
        if (!t->pw_set[i])
            continue;
        char ct[32];
        ctl_rfc3339(ct, sizeof(ct), t->pw_created[i]);
        json_array_append_new(pws, json_pack("{s:s,s:s}", "name", PW_NAMES[i], "creationTime", ct));
    }
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:o,s:s,s:s,s:{s:o}}}", "id", id, "name", t->name, "type",
                     "Microsoft.ContainerRegistry/registries/tokens", "properties", "status",
                     t->enabled ? "enabled" : "disabled", "scope", scope, "creationDate", created,
                     "provisioningState", "Succeeded", "credentials", "passwords", pws);
}

static int invalid_scope(http_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int invalid_scope(http_req *r, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mgmt_fail(r, 400, "InvalidScope", "%s", msg);
    return -1;
}

/* Validates properties.scope and writes its normalized form into out;
 * -1 after answering 400. */
static int parse_scope(http_req *r, const json_t *scope, char out[4096])
{
    if (!json_is_array(scope) || json_array_size(scope) == 0)
        return invalid_scope(r, "properties.scope must be a non-empty array of "
                                "{\"repository\":NAME or PREFIX/*,\"actions\":[...]}.");
    json_t *norm = json_array();
    size_t i;
    json_t *el;
    json_array_foreach(scope, i, el)
    {
        json_t *repo = json_object_get(el, "repository");
        json_t *acts = json_object_get(el, "actions");
        if (!json_is_object(el) || !json_is_string(repo)) {
            json_decref(norm);
            return invalid_scope(r, "Each scope entry needs a \"repository\" string.");
        }
        const char *name = json_string_value(repo);
        if (!ctl_scope_repository_valid(name)) {
            json_decref(norm);
            return invalid_scope(r,
                                 "The repository '%.200s' is not valid: a repository name "
                                 "(lower-case letters, digits, separators '.', '_', '__', '-', "
                                 "components joined by '/') or PREFIX/* .",
                                 name);
        }
        if (!json_is_array(acts) || json_array_size(acts) == 0) {
            json_decref(norm);
            return invalid_scope(
                r, "The scope entry for '%.200s' needs a non-empty \"actions\" array.", name);
        }
        json_t *na = json_array();
        size_t j;
        json_t *a;
        json_array_foreach(acts, j, a)
        {
            const char *v = json_is_string(a) ? json_string_value(a) : "";
            if (!ctl_token_action_valid(v)) {
                json_decref(na);
                json_decref(norm);
                return invalid_scope(r,
                                     "The action '%.100s' is not valid: use content/read, "
                                     "content/write, content/delete or metadata/read.",
                                     json_is_string(a) ? v : "(not a string)");
            }
            int dup = 0;
            for (size_t k = 0; k < json_array_size(na); k++)
                dup |= strcmp(json_string_value(json_array_get(na, k)), v) == 0;
            if (!dup)
                json_array_append_new(na, json_string(v));
        }
        json_array_append_new(norm, json_pack("{s:s,s:o}", "repository", name, "actions", na));
    }
    char *text = json_dumps(norm, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(norm);
    if (text == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        return -1;
    }
    size_t n = strlen(text);
    if (n >= 4096) {
        free(text);
        return invalid_scope(r, "properties.scope is too large (at most 4095 bytes as JSON).");
    }
    memcpy(out, text, n + 1);
    free(text);
    return 0;
}

static int token_name_ok(http_req *r, const char *name)
{
    if (ctl_token_name_valid(name))
        return 1;
    mgmt_fail(r, 400, "InvalidName",
              "The token name '%.64s' is invalid: it must be 5-50 letters, digits and dashes.",
              name);
    return 0;
}

/* The token, or -1 after answering 404 (or the store's error). */
static int token_lookup(http_req *r, meta_token *t, const meta_registry *reg, const char *name)
{
    cf_err e = {0};
    if (!ctl_token_name_valid(name) || meta_token_get(t, reg->id, name, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND || e.code == CF_OK)
            mgmt_fail(r, 404, "ResourceNotFound",
                      "The token '%.64s' was not found in registry '%s'.", name, reg->name);
        else
            mgmt_fail_err(r, &e, "token lookup");
        return -1;
    }
    return 0;
}

static void reply_token(http_req *r, unsigned status, const meta_registry *reg, const meta_token *t)
{
    json_t *j = token_json(reg, t);
    if (j == NULL)
        mgmt_fail(r, 500, "InternalError", "out of memory");
    else
        mgmt_reply(r, status, j);
}

static void token_put(http_req *r, const meta_registry *reg, const char *name)
{
    if (!token_name_ok(r, name))
        return;
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    meta_token *t = calloc(1, sizeof(*t));
    char *scope = malloc(4096);
    json_t *props = json_object_get(body, "properties");
    json_t *status = props ? json_object_get(props, "status") : NULL;
    json_t *sc = props ? json_object_get(props, "scope") : NULL;
    int enabled = -1;
    cf_err e = {0};
    if (t == NULL || scope == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        goto out;
    }
    if (props && !json_is_object(props) && !json_is_null(props)) {
        mgmt_fail(r, 400, "InvalidRequest", "properties must be an object.");
        goto out;
    }
    if (status && !json_is_null(status)) {
        const char *v = json_is_string(status) ? json_string_value(status) : "";
        if (strcasecmp(v, "enabled") == 0)
            enabled = 1;
        else if (strcasecmp(v, "disabled") == 0)
            enabled = 0;
        else {
            mgmt_fail(r, 400, "InvalidRequest",
                      "properties.status must be 'enabled' or 'disabled'.");
            goto out;
        }
    }
    if (sc && json_is_null(sc))
        sc = NULL;
    if (sc && parse_scope(r, sc, scope) != 0)
        goto out;
    int exists = meta_token_get(t, reg->id, name, &e) == CF_OK;
    if (!exists && e.code != CF_ENOTFOUND) {
        mgmt_fail_err(r, &e, "token lookup");
        goto out;
    }
    cf_err_clear(&e);
    if (!exists) {
        if (sc == NULL) {
            mgmt_fail(r, 400, "InvalidScope",
                      "A new token needs properties.scope: [{\"repository\":NAME or PREFIX/*,"
                      "\"actions\":[...]}].");
            goto out;
        }
        memset(t, 0, sizeof(*t));
        snprintf(t->registry_id, sizeof(t->registry_id), "%s", reg->id);
        snprintf(t->name, sizeof(t->name), "%s", name);
        t->created_at = (int64_t)time(NULL);
        t->enabled = 1;
    }
    /* revoke what was minted under the old rights when they shrink */
    int revoke = exists && ((enabled == 0 && t->enabled) || (sc && strcmp(scope, t->scope) != 0));
    if (enabled != -1)
        t->enabled = enabled;
    if (sc)
        snprintf(t->scope, sizeof(t->scope), "%s", scope);
    int created = 0;
    if (meta_token_put(t, &created, &e) != CF_OK ||
        (revoke && registries_bump_epoch(reg->id, &e) != CF_OK)) {
        mgmt_fail_err(r, &e, "store token");
        goto out;
    }
    cf_log(CF_LOG_INFO, created ? "token created" : "token updated", "request_id", r->request_id,
           "registry", reg->name, "token", t->name, "status", t->enabled ? "enabled" : "disabled",
           NULL);
    reply_token(r, created ? 201 : 200, reg, t);
out:
    if (t)
        OPENSSL_cleanse(t->pw_hmac, sizeof(t->pw_hmac));
    free(t);
    free(scope);
    json_decref(body);
}

static void token_generate(http_req *r, const meta_registry *reg, const char *name)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    json_t *n = json_object_get(body, "name");
    int want[2] = {1, 1};
    if (n && !json_is_null(n)) {
        const char *v = json_is_string(n) ? json_string_value(n) : "";
        want[0] = strcmp(v, "password1") == 0;
        want[1] = strcmp(v, "password2") == 0;
        if (!want[0] && !want[1]) {
            json_decref(body);
            mgmt_fail(r, 400, "InvalidRequest", "name must be 'password1' or 'password2'.");
            return;
        }
    }
    json_decref(body);
    meta_token *t = calloc(1, sizeof(*t));
    char pw[2][44];
    memset(pw, 0, sizeof(pw));
    cf_err e = {0};
    if (t == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        return;
    }
    if (token_lookup(r, t, reg, name) != 0)
        goto out;
    int revoke = 0;
    for (int i = 0; i < 2; i++) {
        if (!want[i])
            continue;
        revoke |= t->pw_set[i];
        if (cred_token_password_new(pw[i], t->pw_hmac[i], &e) != CF_OK) {
            mgmt_fail_err(r, &e, "generate password");
            goto out;
        }
        t->pw_set[i] = 1;
        t->pw_created[i] = (int64_t)time(NULL);
    }
    if (meta_token_put(t, NULL, &e) != CF_OK ||
        (revoke && registries_bump_epoch(reg->id, &e) != CF_OK)) {
        mgmt_fail_err(r, &e, "store token");
        goto out;
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < 2; i++)
        if (want[i])
            json_array_append_new(arr, json_pack("{s:s,s:s}", "name", PW_NAMES[i], "value", pw[i]));
    cf_log(CF_LOG_INFO, "token password generated", "request_id", r->request_id, "registry",
           reg->name, "token", t->name, "password",
           want[0] && want[1] ? "password1,password2"
           : want[0]          ? "password1"
                              : "password2",
           NULL);
    mgmt_reply_secret(r, 200, json_pack("{s:s,s:o}", "username", t->name, "passwords", arr));
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(t->pw_hmac, sizeof(t->pw_hmac));
    free(t);
}

static void token_delete(http_req *r, const meta_registry *reg, const char *name)
{
    cf_err e = {0};
    if (!ctl_token_name_valid(name) || meta_token_delete(reg->id, name, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND || e.code == CF_OK)
            mgmt_fail(r, 404, "ResourceNotFound",
                      "The token '%.64s' was not found in registry '%s'.", name, reg->name);
        else
            mgmt_fail_err(r, &e, "delete token");
        return;
    }
    if (registries_bump_epoch(reg->id, &e) != CF_OK) {
        mgmt_fail_err(r, &e, "revoke token");
        return;
    }
    cf_log(CF_LOG_INFO, "token deleted", "request_id", r->request_id, "registry", reg->name,
           "token", name, NULL);
    mgmt_reply(r, 200, NULL);
}

typedef struct list_ctx {
    const meta_registry *reg;
    json_t *arr;
    int failed;
} list_ctx;

static int list_add(void *cls, const meta_token *t)
{
    list_ctx *l = cls;
    json_t *j = token_json(l->reg, t);
    if (j == NULL || json_array_append_new(l->arr, j) != 0) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

void tokens_handle(http_req *r, const mgmt_scope *s, const char *registry, const char *name,
                   const char *action)
{
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int put = strcmp(r->method, "PUT") == 0, del = strcmp(r->method, "DELETE") == 0;
    int post = strcmp(r->method, "POST") == 0;
    if ((name == NULL && !get) || (action && !post) || (name && !action && !(get || put || del))) {
        fail405(r);
        return;
    }
    meta_registry reg;
    pthread_mutex_lock(&mgmt_mu);
    if (registries_lookup(r, s, registry, &reg) != 0)
        goto out;
    if (name == NULL) {
        list_ctx l = {.reg = &reg, .arr = json_array()};
        cf_err e = {0};
        if (l.arr == NULL || meta_token_each(reg.id, list_add, &l, &e) != CF_OK || l.failed) {
            json_decref(l.arr);
            if (e.code == CF_OK)
                cf_err_set(&e, CF_ENOMEM, "out of memory");
            mgmt_fail_err(r, &e, "list tokens");
            goto out;
        }
        mgmt_reply(r, 200, json_pack("{s:o}", "value", l.arr));
    } else if (action) {
        token_generate(r, &reg, name);
    } else if (get) {
        meta_token *t = calloc(1, sizeof(*t));
        if (t == NULL)
            mgmt_fail(r, 500, "InternalError", "out of memory");
        else if (token_lookup(r, t, &reg, name) == 0)
            reply_token(r, 200, &reg, t);
        free(t);
    } else if (put) {
        token_put(r, &reg, name);
    } else {
        token_delete(r, &reg, name);
    }
out:
    pthread_mutex_unlock(&mgmt_mu);
    OPENSSL_cleanse(&reg, sizeof(reg));
}
