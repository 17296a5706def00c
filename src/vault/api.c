/*
 * api.c -- see api.h. A request reads straight down:
 *
 *   vault_api_handle (headers)   method override, Host -> vault, auth,
 *                                401 at once, else collect the body
 *   on_body_end                  413 past the cap, then route:
 *     /vaults..., /audit         management (admin token only)
 *     /keys..., /deletedkeys...  keys API: api-version, vault, permission,
 *                                key lookup, key state, operation
 *   vault_api_respond()                    JSON body, headers, one audit line
 *
 * Errors use the Key Vault shape {"error":{"code","message","innererror"}}.
 */
#define CF_LOG_MOD "vault.api"
#include "vault/api.h"
#include "vault/api_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "base/enc.h"
#include "base/log.h"
#include "vault/arm.h"
#include "vault/netacl.h"
#include "vault/policy.h"
#include "vault/rbac.h"
#include "vault/req.h"
#include "vault/rotation.h"

#define PAGE_MAX 25

/* ---- responses ---- */

static const char *op_guess(const char *path);

/* Every response is audited, routed or not: a request that named no
 * operation (an unknown path or method, a missing api-version) is
 * recorded under the family its path belongs to (KeyRequest, ...). */
static void audit(kv_req *q, unsigned status)
{
    vault_audit_event ev = {
        .vault = q->vault,
        .object_id = q->authed ? q->caller.oid : "",
        .app_id = q->authed ? q->caller.appid : "",
        .operation = q->operation ? q->operation : op_guess(q->r->path),
        .key = q->key,
        .version = q->version,
        .status = status,
        .request_id = q->r->request_id,
        .peer = http_req_peer(q->r),
    };
    (void)vault_audit_write(q->app->audit, &ev, NULL);
}

/* Takes ownership of body (may be NULL for an empty response). */
void vault_api_respond(kv_req *q, unsigned status, json_t *body)
{
    char *text = NULL;
    size_t len = 0;
    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(body);
        len = text ? strlen(text) : 0;
        if (text == NULL)
            status = 500;
    }
    vault_api_respond_text(q, status, text, len);
}

void vault_api_respond_text(kv_req *q, unsigned status, char *text, size_t len)
{
    audit(q, status);
    if (CF_LOG_DEBUG >= cf_log_threshold) {
        char st[8];
        snprintf(st, sizeof(st), "%u", status);
        cf_log(CF_LOG_DEBUG, "request", "method", q->method, "path", q->r->path, "vault", q->vault,
               "status", st, "oid", q->caller.oid, "request_id", q->r->request_id, NULL);
    }
    http_resp *resp = text ? http_resp_bytes(status, text, len, "application/json; charset=utf-8")
                           : http_resp_new(status);
    free(text);
    http_resp_header(resp, "Cache-Control", "no-cache");
    /* Azure echoes the client's request id (SDK logs correlate with it) */
    const char *crid = http_req_header(q->r, "x-ms-client-request-id");
    if (crid && strlen(crid) <= 64 && strspn(crid, "0123456789abcdefABCDEF-") == strlen(crid))
        http_resp_header(resp, "x-ms-client-request-id", crid);
    http_resp_header(resp, "x-ms-keyvault-service-version", "1.9.0.0");
    if (status == 503)
        http_resp_header(resp, "Retry-After", "1");
    if (status == 401) {
        char chal[1200];
        snprintf(chal, sizeof(chal), "Bearer authorization=\"%s\", resource=\"%s\"",
                 q->app->cfg->authorization, q->app->cfg->resource);
        http_resp_header(resp, "WWW-Authenticate", chal);
    }
    http_req_respond(q->r, resp);
}

void vault_api_error(kv_req *q, unsigned status, const char *code, const char *inner,
                     const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (inner)
        json_object_set_new(err, "innererror", json_pack("{s:s}", "code", inner));
    if (status >= 500)
        cf_log(CF_LOG_ERROR, "request failed", "request_id", q->r->request_id, "error", msg, NULL);
    vault_api_respond(q, status, json_pack("{s:o}", "error", err));
}

/* A cf_err from a lower layer, mapped to a status and Key Vault code. */
void vault_api_error_cf(kv_req *q, const cf_err *e)
{
    switch (e->code) {
    case CF_EINVAL:
    case CF_EUNSUPPORTED:
    case CF_EUNAVAIL:
        vault_api_error(q, 400, "BadParameter", NULL, "%s", e->msg);
        break;
    case CF_ETOOBIG:
        vault_api_error(q, 413, "RequestEntityTooLarge", NULL, "%s", e->msg);
        break;
    case CF_ENOTFOUND:
        vault_api_error(q, 404, "NotFound", NULL, "%s", e->msg);
        break;
    case CF_ECONFLICT:
    case CF_EEXISTS:
        vault_api_error(q, 409, "Conflict", NULL, "%s", e->msg);
        break;
    case CF_EDENIED:
        vault_api_error(q, 403, "Forbidden", NULL, "%s", e->msg);
        break;
    default:
        vault_api_error(q, 500, "InternalServerError", NULL, "%s", e->msg);
    }
}

static void key_not_found(kv_req *q, const char *name)
{
    vault_api_error(q, 404, "KeyNotFound", NULL,
                    "A key with (name/id) %s was not found in this key vault. If you recently "
                    "deleted this key you may be able to recover it using the correct recovery "
                    "command. For help resolving this issue, please see "
                    "https://go.microsoft.com/fwlink/?linkid=2125182",
                    name);
}

/* A lower layer's error about key `name`: 404 KeyNotFound when absent. */
static void key_error(kv_req *q, const char *name, const cf_err *e)
{
    if (e->code == CF_ENOTFOUND)
        key_not_found(q, name);
    else
        vault_api_error_cf(q, e);
}

/* ---- small helpers ---- */

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int ci_eq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

static void new_version(char out[33])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        memset(b, 0, sizeof(b)); /* RAND failing: still unique enough? no: caller rejects */
    cf_hex_encode(out, b, sizeof(b));
}

static const char *recovery_level(const vault_info *v)
{
    int custom = v->retention_days < 90;
    if (v->purge_protection)
        return custom ? "CustomizedRecoverable" : "Recoverable";
    return custom ? "CustomizedRecoverable+Purgeable" : "Recoverable+Purgeable";
}

static json_t *attributes_json(const vault_keyver *kv, const vault_info *v)
{
    json_t *a = json_object();
    json_object_set_new(a, "enabled", json_boolean(kv->enabled));
    if (kv->nbf)
        json_object_set_new(a, "nbf", json_integer(kv->nbf));
    if (kv->exp)
        json_object_set_new(a, "exp", json_integer(kv->exp));
    json_object_set_new(a, "created", json_integer(kv->created));
    json_object_set_new(a, "updated", json_integer(kv->updated));
    json_object_set_new(a, "recoveryLevel", json_string(recovery_level(v)));
    json_object_set_new(a, "recoverableDays", json_integer(v->retention_days));
    json_object_set_new(a, "exportable", json_false());
    return a;
}

static void kid_base(kv_req *q, char *out, size_t n, const char *name)
{
    snprintf(out, n, "https://%s/keys/%s", q->host, name);
}

static json_t *key_bundle(kv_req *q, const vault_keyver *kv, const vault_info *v)
{
    char kid[512];
    snprintf(kid, sizeof(kid), "https://%s/keys/%s/%s", q->host, kv->name, kv->version);
    json_t *key = json_object();
    json_object_set_new(key, "kid", json_string(kid));
    json_object_set_new(key, "kty", json_string(kv->kty));
    json_object_set(key, "key_ops", kv->key_ops);
    const char *k;
    json_t *x;
    json_object_foreach(kv->jwk, k, x)
    {
        if (strcmp(k, "kty") != 0 && strcmp(k, "kid") != 0 && strcmp(k, "key_ops") != 0)
            json_object_set(key, k, x);
    }
    json_t *b = json_object();
    json_object_set_new(b, "key", key);
    json_object_set_new(b, "attributes", attributes_json(kv, v));
    if (kv->tags && json_object_size(kv->tags) > 0)
        json_object_set(b, "tags", kv->tags);
    return b;
}

static void add_deleted_fields(kv_req *q, json_t *b, const vault_keyver *kv)
{
    char rid[512];
    snprintf(rid, sizeof(rid), "https://%s/deletedkeys/%s", q->host, kv->name);
    json_object_set_new(b, "recoveryId", json_string(rid));
    json_object_set_new(b, "deletedDate", json_integer(kv->deleted_date));
    json_object_set_new(b, "scheduledPurgeDate", json_integer(kv->scheduled_purge));
}

/* A deleted key bundle: the bundle plus recoveryId and the dates. */
static void respond_deleted(kv_req *q, const vault_keyver *kv, const vault_info *v)
{
    json_t *b = key_bundle(q, kv, v);
    add_deleted_fields(q, b, kv);
    vault_api_respond(q, 200, b);
}

static json_t *key_item(kv_req *q, const vault_keyver *kv, const vault_info *v, int versioned)
{
    char kid[512];
    if (versioned)
        snprintf(kid, sizeof(kid), "https://%s/keys/%s/%s", q->host, kv->name, kv->version);
    else
        kid_base(q, kid, sizeof(kid), kv->name);
    json_t *o = json_object();
    json_object_set_new(o, "kid", json_string(kid));
    json_object_set_new(o, "attributes", attributes_json(kv, v));
    if (kv->tags && json_object_size(kv->tags) > 0)
        json_object_set(o, "tags", kv->tags);
    return o;
}

/* ---- api-version ---- */

static int api_version_ok(const char *v)
{
    if (v == NULL)
        return 0;
    static const char *const known[] = {"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t n = strlen(known[i]);
        if (strncmp(v, known[i], n) == 0 && (v[n] == '\0' || strncmp(v + n, "-preview", 8) == 0))
            return v[n] == '\0' || strcmp(v + n, "-preview") == 0 ||
                   (strncmp(v + n, "-preview.", 9) == 0 && strlen(v) < 24);
    }
    /* dated: YYYY-MM-DD[-preview] from 2016 on */
    if (strlen(v) >= 10 && isdigit((unsigned char)v[0]) && isdigit((unsigned char)v[1]) &&
        isdigit((unsigned char)v[2]) && isdigit((unsigned char)v[3]) && v[4] == '-' &&
        isdigit((unsigned char)v[5]) && isdigit((unsigned char)v[6]) && v[7] == '-' &&
        isdigit((unsigned char)v[8]) && isdigit((unsigned char)v[9]) &&
        (v[10] == '\0' || strcmp(v + 10, "-preview") == 0))
        return strncmp(v, "2016", 4) >= 0 && strncmp(v, "2099", 4) <= 0;
    return 0;
}

static int require_api_version(kv_req *q)
{
    const char *v = http_req_query(q->r, "api-version");
    if (v == NULL || *v == '\0') {
        vault_api_error(q, 400, "BadParameter", NULL,
                        "The request URI contains an invalid or missing api-version parameter.");
        return 0;
    }
    if (!api_version_ok(v)) {
        vault_api_error(
            q, 400, "BadParameter", NULL,
            "The specified version (%.32s) is not recognized. Consider using the latest "
            "supported version (7.6).",
            v);
        return 0;
    }
    return 1;
}

/* ---- authorization ---- */

/* Loads the vault and checks that the caller holds perm; responds on
 * failure. Returns 1 when allowed. */
/* 404 VaultNotFound for the Host's vault; a soft-deleted one says so and
 * how to get it back (what a CMK registry's lastError then quotes). */
static void vault_missing(kv_req *q)
{
    vault_info d = {0};
    if (vault_store_vault_get_deleted(q->app->store, q->vault, &d, NULL) == CF_OK) {
        char deleted[32], purge[32];
        cf_rfc3339(deleted, sizeof(deleted), d.deleted_date);
        cf_rfc3339(purge, sizeof(purge), d.scheduled_purge);
        vault_api_error(q, 404, "VaultNotFound", NULL,
                        "The vault '%s' is soft-deleted (deleted at %s, purged at %s): recover "
                        "it with `coffer keyvault recover -n %s`.",
                        d.name, deleted, purge, d.name);
        vault_info_clear(&d);
        return;
    }
    vault_api_error(q, 404, "VaultNotFound", NULL, "The vault '%s' does not exist.", q->vault);
}

/* The vault's network rules (netacl.h) for this caller; responds 403
 * ForbiddenByFirewall, in Azure's words, when they refuse it. */
static int network_allows(kv_req *q, const vault_info *v)
{
    const char *peer = http_req_peer(q->r);
    if (vault_netacl_allows(v->network_acls, peer, q->caller.trusted_service))
        return 1;
    vault_api_error(q, 403, "Forbidden", "ForbiddenByFirewall",
                    "Client address is not authorized and caller is not a trusted "
                    "service.\r\nClient address: %s\r\nCaller: appid=%s;oid=%s;iss=%s\r\n"
                    "Vault: %s",
                    peer, q->caller.appid, q->caller.oid, q->caller.iss, v->name);
    return 0;
}

static int authorize(kv_req *q, vault_info *v, const char *perm)
{
    cf_err e = {0};
    if (vault_store_vault_get(q->app->store, q->vault, v, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            vault_missing(q);
        else
            vault_api_error_cf(q, &e);
        return 0;
    }
    if (!q->caller.is_admin && !vault_tenant_allows(v->tenant_id, q->caller.tid)) {
        vault_api_error(q, 401, "Unauthorized", NULL,
                        "AKV10032: Invalid issuer. The token's tenant '%.64s' is not the tenant "
                        "'%.64s' of key vault '%s'.",
                        q->caller.tid, v->tenant_id, v->name);
        return 0;
    }
    if (!network_allows(q, v))
        return 0;
    if (!q->caller.is_admin && vault_arm_rbac(q->app, v->name)) /* Azure RBAC: rbac.h */
        return vault_rbac_authorize(q, v->name, perm);
    if (q->caller.is_admin ||
        vault_policy_allows(v->policies, q->caller.oid, q->caller.appid, perm))
        return 1;
    char msg[1024];
    snprintf(msg, sizeof(msg),
             "The user, group or application 'appid=%s;oid=%s' does not have keys %s permission "
             "on key vault '%s'. For help resolving this issue, please see "
             "https://go.microsoft.com/fwlink/?linkid=2125287",
             q->caller.appid, q->caller.oid, perm, v->name);
    json_t *err = json_pack("{s:s,s:s,s:{s:s}}", "code", "Forbidden", "message", msg, "innererror",
                            "code", "ForbiddenByPolicy");
    vault_api_respond(q, 403, json_pack("{s:o}", "error", err));
    return 0;
}

/* ---- keys API handlers ---- */

static void set_key(kv_req *q, const char *name, const char *version)
{
    snprintf(q->key, sizeof(q->key), "%s", name ? name : "");
    snprintf(q->version, sizeof(q->version), "%s", version ? version : "");
}

static int check_name(kv_req *q, const char *name)
{
    if (vault_name_valid_key(name))
        return 1;
    vault_api_error(q, 400, "BadParameter", NULL,
                    "The key name '%.140s' is invalid: 1-127 characters of 0-9, a-z, A-Z and -.",
                    name);
    return 0;
}

static int check_version(kv_req *q, const char *name, const char *version)
{
    if (version == NULL || *version == '\0' || vault_version_valid(version))
        return 1;
    key_not_found(q, name);
    return 0;
}

static cf_code default_key_ops(json_t **out, const char *kty, int has_private)
{
    const char *rsa[] = {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"};
    const char *rsa_pub[] = {"encrypt", "verify", "wrapKey"};
    const char *ec[] = {"sign", "verify"};
    const char *ec_pub[] = {"verify"};
    const char **ops;
    size_t n;
    if (strncmp(kty, "RSA", 3) == 0) {
        ops = has_private ? rsa : rsa_pub;
        n = has_private ? 6 : 3;
    } else {
        ops = has_private ? ec : ec_pub;
        n = has_private ? 2 : 1;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(ops[i]));
    *out = a;
    return CF_OK;
}

static void apply_attrs(vault_keyver *kv, const vault_attrs *a)
{
    if (a->has_enabled)
        kv->enabled = a->enabled;
    if (a->has_nbf)
        kv->nbf = a->nbf;
    if (a->has_exp)
        kv->exp = a->exp;
}

/* A new version of key `name` in vault v: fresh version id, enabled, the
 * request's attributes. */
static void new_keyver(vault_keyver *kv, const vault_info *v, const char *name,
                       const vault_attrs *a)
{
    snprintf(kv->vault, sizeof(kv->vault), "%s", v->name);
    snprintf(kv->name, sizeof(kv->name), "%s", name);
    new_version(kv->version);
    kv->enabled = 1;
    apply_attrs(kv, a);
}

/* Moves the request's key_ops (else the defaults for kty) and tags into kv. */
static void take_ops_tags(vault_keyver *kv, json_t **key_ops, json_t **tags, const char *kty,
                          int has_private)
{
    if (*key_ops) {
        kv->key_ops = *key_ops;
        *key_ops = NULL;
    } else {
        default_key_ops(&kv->key_ops, kty, has_private);
    }
    kv->tags = *tags;
    *tags = NULL;
}

/* Answers a new version (create, import, rotate) once stored. */
static void respond_new_version(kv_req *q, const vault_keyver *kv, const vault_info *v)
{
    set_key(q, kv->name, kv->version);
    vault_api_respond(q, 200, key_bundle(q, kv, v));
}

/* Stores a new version (create, import) and answers it; when the store
 * refuses, the HSM key generated for it (if any) is destroyed. */
static void store_new_version(kv_req *q, vault_keyver *kv, const vault_info *v)
{
    cf_err e = {0};
    if (vault_store_version_add(q->app->store, kv, &e) != CF_OK) {
        if (kv->hsm_id[0])
            (void)vault_engine_destroy_hsm(q->app->engine, kv->hsm_id, NULL);
        vault_api_error_cf(q, &e);
        return;
    }
    respond_new_version(q, kv, v);
}

/* The start of every keys handler: names the audit operation and the key,
 * checks the key name (and version, when given), then loads the vault into
 * v and checks that the caller holds perm. Returns 1 to go on; otherwise
 * the response has been sent. */
static int key_begin(kv_req *q, const char *op, const char *name, const char *version,
                     const char *perm, vault_info *v)
{
    q->operation = op;
    set_key(q, name, version);
    return check_name(q, name) && check_version(q, name, version) && authorize(q, v, perm);
}

static void h_create(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_create_req cr = {0};
    vault_keyver kv = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyCreate", name, NULL, "create", &v))
        goto out;
    if (vault_req_create(&cr, (const char *)q->r->body.data, q->r->body.len, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    int hsm = strstr(cr.kty, "-HSM") != NULL;
    if (hsm && !vault_engine_has_hsm(q->app->engine)) {
        vault_api_error(q, 400, "BadParameter", NULL,
                        "%s keys need an HSM: this vault has no PKCS#11 token configured "
                        "(\"pkcs11\" in the keyvaultd config).",
                        cr.kty);
        goto out;
    }
    new_keyver(&kv, &v, name, &cr.attrs);
    snprintf(kv.kty, sizeof(kv.kty), "%s", cr.kty);
    take_ops_tags(&kv, &cr.key_ops, &cr.tags, cr.kty, 1);
    if (vault_engine_generate(q->app->engine, &kv, cr.key_size, cr.public_exponent, cr.crv, &e) !=
        CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    store_new_version(q, &kv, &v);
out:
    vault_keyver_clear(&kv);
    vault_create_req_free(&cr);
    vault_info_clear(&v);
}

static void h_import(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_import_req ir = {0};
    vault_keyver kv = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyImport", name, NULL, "import", &v))
        goto out;
    if (vault_req_import(&ir, (const char *)q->r->body.data, q->r->body.len, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (ir.hsm) {
        vault_api_error(q, 400, "BadParameter", NULL,
                        "Importing a key into the HSM is not supported by this vault; import it as "
                        "a software key (Hsm: false) or create an RSA-HSM key.");
        goto out;
    }
    new_keyver(&kv, &v, name, &ir.attrs);
    int has_private = 0;
    if (vault_engine_import(q->app->engine, &kv, ir.jwk, &has_private, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    take_ops_tags(&kv, &ir.key_ops, &ir.tags, kv.kty, has_private);
    store_new_version(q, &kv, &v);
out:
    vault_keyver_clear(&kv);
    vault_import_req_free(&ir);
    vault_info_clear(&v);
}

/* Loads a live key version; responds 404 when absent. */
static int load_key(kv_req *q, const char *name, const char *version, vault_keyver *kv)
{
    cf_err e = {0};
    if (vault_store_version_get(q->app->store, q->vault, name, version, 0, kv, &e) == CF_OK) {
        set_key(q, kv->name, kv->version);
        return 1;
    }
    key_error(q, name, &e);
    return 0;
}

static void h_get(kv_req *q, const char *name, const char *version)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    if (key_begin(q, "KeyGet", name, version, "get", &v) && load_key(q, name, version, &kv))
        vault_api_respond(q, 200, key_bundle(q, &kv, &v));
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

static void h_update(kv_req *q, const char *name, const char *version)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    vault_update_req ur = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyUpdate", name, version, "update", &v))
        goto out;
    if (vault_req_update(&ur, (const char *)q->r->body.data, q->r->body.len, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (!load_key(q, name, version, &kv))
        goto out;
    apply_attrs(&kv, &ur.attrs);
    if (kv.nbf && kv.exp && kv.exp <= kv.nbf) {
        vault_api_error(q, 400, "BadParameter", NULL,
                        "attributes.exp must be after attributes.nbf");
        goto out;
    }
    if (ur.key_ops) {
        json_decref(kv.key_ops);
        kv.key_ops = ur.key_ops;
        ur.key_ops = NULL;
    }
    if (ur.has_tags) {
        json_decref(kv.tags);
        kv.tags = ur.tags;
        ur.tags = NULL;
    }
    if (vault_store_version_update(q->app->store, &kv, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    vault_api_respond(q, 200, key_bundle(q, &kv, &v));
out:
    vault_update_req_free(&ur);
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

/* Paging: maxresults 1..25; $skiptoken a keyset cursor of this kind
 * (vault_skiptoken_decode): *after is the last item of the page before, ""
 * for the first page. */
static int page_params(kv_req *q, const char *kind, char after[160], size_t *limit)
{
    const char *mr = http_req_query(q->r, "maxresults");
    const char *st = http_req_query(q->r, "$skiptoken");
    *limit = PAGE_MAX;
    after[0] = '\0';
    if (mr && *mr) {
        char *end;
        long n = strtol(mr, &end, 10);
        if (*end != '\0' || n < 1 || n > PAGE_MAX) {
            vault_api_error(q, 400, "BadParameter", NULL, "maxresults must be between 1 and %d",
                            PAGE_MAX);
            return 0;
        }
        *limit = (size_t)n;
    }
    cf_err e = {0};
    if (st && *st && vault_skiptoken_decode(after, 160, kind, st, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        return 0;
    }
    return 1;
}

/* Answers a page: {"value": items, "nextLink": URL with the cursor after
 * `last` when more follow, else null}. Takes ownership of items. */
static void respond_page(kv_req *q, json_t *items, const char *path, const char *kind, int more,
                         const char *last, size_t limit)
{
    json_t *next = json_null();
    char tok[VAULT_SKIPTOKEN_MAX + 1];
    cf_err e = {0};
    if (more) {
        if (vault_skiptoken_encode(tok, sizeof(tok), kind, last, &e) != CF_OK) {
            json_decref(items);
            vault_api_error_cf(q, &e);
            return;
        }
        const char *av = http_req_query(q->r, "api-version");
        char link[1024];
        snprintf(link, sizeof(link), "https://%s%s?api-version=%s&$skiptoken=%s&maxresults=%zu",
                 q->host, path, av ? av : "7.4", tok, limit);
        next = json_string(link);
    }
    vault_api_respond(q, 200, json_pack("{s:o,s:o}", "value", items, "nextLink", next));
}

static void h_list(kv_req *q, int deleted)
{
    q->operation = deleted ? "KeyListDeleted" : "KeyList";
    const char *kind = deleted ? "deletedkeys" : "keys";
    vault_info v = {0};
    vault_keyver *rows = NULL;
    size_t n = 0, limit;
    char after[160];
    int more = 0;
    cf_err e = {0};
    if (!page_params(q, kind, after, &limit) || !authorize(q, &v, "list"))
        goto out;
    if (vault_store_key_list(q->app->store, q->vault, deleted, after, limit, &rows, &n, &more,
                             &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *it = key_item(q, &rows[i], &v, 0);
        if (deleted)
            add_deleted_fields(q, it, &rows[i]);
        json_array_append_new(arr, it);
    }
    respond_page(q, arr, deleted ? "/deletedkeys" : "/keys", kind, more && n > 0,
                 n ? rows[n - 1].name : "", limit);
out:
    vault_keyvers_free(rows, n);
    vault_info_clear(&v);
}

static void h_versions(kv_req *q, const char *name)
{
    q->operation = "KeyListVersions";
    set_key(q, name, NULL);
    vault_info v = {0};
    vault_keyver *rows = NULL;
    size_t n = 0, limit;
    char after[160];
    int more = 0;
    cf_err e = {0};
    if (!check_name(q, name) || !page_params(q, "versions", after, &limit) ||
        !authorize(q, &v, "list"))
        goto out;
    if (vault_store_version_list(q->app->store, q->vault, name, after, limit, &rows, &n, &more,
                                 &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (n == 0 && after[0] == '\0') {
        key_not_found(q, name);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, key_item(q, &rows[i], &v, 1));
    char path[256];
    snprintf(path, sizeof(path), "/keys/%s/versions", name);
    respond_page(q, arr, path, "versions", more && n > 0, n ? rows[n - 1].version : "", limit);
out:
    vault_keyvers_free(rows, n);
    vault_info_clear(&v);
}

static void h_delete(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyDelete", name, NULL, "delete", &v) || !load_key(q, name, NULL, &kv))
        goto out;
    int64_t now = now_s();
    int64_t purge_at = now + (int64_t)v.retention_days * 86400;
    if (vault_store_key_delete(q->app->store, q->vault, name, now, purge_at, &e) != CF_OK) {
        key_error(q, name, &e);
        goto out;
    }
    kv.deleted_date = now;
    kv.scheduled_purge = purge_at;
    respond_deleted(q, &kv, &v);
out:
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

static int load_deleted(kv_req *q, const char *name, vault_keyver *kv)
{
    cf_err e = {0};
    if (vault_store_version_get(q->app->store, q->vault, name, NULL, 1, kv, &e) == CF_OK) {
        set_key(q, kv->name, kv->version);
        return 1;
    }
    if (e.code == CF_ENOTFOUND)
        vault_api_error(q, 404, "KeyNotFound", NULL, "Deleted Key not found: %s", name);
    else
        vault_api_error_cf(q, &e);
    return 0;
}

static void h_get_deleted(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    if (key_begin(q, "KeyGetDeleted", name, NULL, "get", &v) && load_deleted(q, name, &kv)) {
        respond_deleted(q, &kv, &v);
    }
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

static void h_recover(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyRecover", name, NULL, "recover", &v) || !load_deleted(q, name, &kv))
        goto out;
    if (vault_store_key_recover(q->app->store, q->vault, name, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    kv.deleted_date = kv.scheduled_purge = 0;
    vault_api_respond(q, 200, key_bundle(q, &kv, &v));
out:
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

/* After rows are purged: forgets the cached material of keys `names` of
 * vault and destroys the HSM objects `ids`. */
static void drop_material(vault_app *app, const char *vault, const json_t *names, const json_t *ids)
{
    size_t i;
    json_t *x;
    json_array_foreach((json_t *)names, i, x)
        vault_engine_forget(app->engine, vault, json_string_value(x));
    json_array_foreach((json_t *)ids, i, x)
    {
        cf_err he = {0};
        if (vault_engine_destroy_hsm(app->engine, json_string_value(x), &he) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot destroy HSM key object", "id", json_string_value(x),
                   "error", he.msg, NULL);
    }
}

cf_code vault_api_purge_key(vault_app *app, const char *vault, const char *name, cf_err *e)
{
    json_t *ids = NULL, *names = json_pack("[s]", name);
    cf_code rc = vault_store_key_purge(app->store, vault, name, &ids, e);
    if (rc == CF_OK)
        drop_material(app, vault, names, ids);
    json_decref(ids);
    json_decref(names);
    return rc;
}

cf_code vault_api_purge_vault(vault_app *app, const char *vault, cf_err *e)
{
    json_t *ids = NULL, *names = NULL;
    cf_code rc = vault_store_vault_purge(app->store, vault, &names, &ids, e);
    if (rc == CF_OK) {
        drop_material(app, vault, names, ids);
        vault_arm_forget(app, vault); /* its resource group placement */
    }
    json_decref(ids);
    json_decref(names);
    return rc;
}

static void h_purge(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyPurge", name, NULL, "purge", &v) || !load_deleted(q, name, &kv))
        goto out;
    if (v.purge_protection && now_s() < kv.scheduled_purge) {
        vault_api_error(
            q, 403, "Forbidden", "PurgeProtectionEnabled",
            "Operation \"purge\" is not allowed because purge protection is enabled for "
            "this vault. Key Vault service will automatically purge it after the "
            "retention period has passed.");
        goto out;
    }
    if (vault_api_purge_key(q->app, q->vault, name, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    vault_api_respond(q, 204, NULL);
out:
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

cf_code vault_api_rotate(vault_app *app, const char *vault, const char *name, vault_keyver *out,
                         cf_err *e)
{
    vault_keyver cur = {0}, kv = {0};
    json_t *policy = NULL;
    cf_code rc = vault_store_version_get(app->store, vault, name, NULL, 0, &cur, e);
    if (rc != CF_OK)
        return rc;
    if ((rc = vault_store_rotation_get(app->store, vault, name, &policy, e)) != CF_OK)
        goto out;
    snprintf(kv.vault, sizeof(kv.vault), "%s", cur.vault);
    snprintf(kv.name, sizeof(kv.name), "%s", cur.name);
    snprintf(kv.kty, sizeof(kv.kty), "%s", cur.kty);
    new_version(kv.version);
    kv.enabled = 1;
    kv.key_ops = json_deep_copy(cur.key_ops);
    kv.tags = cur.tags ? json_deep_copy(cur.tags) : NULL;
    int64_t expiry = policy ? vault_rotation_expiry(policy) : 0;
    if (expiry)
        kv.exp = now_s() + expiry;
    const char *crv = json_string_value(json_object_get(cur.jwk, "crv"));
    int bits = vault_engine_rsa_bits(cur.jwk);
    if (strncmp(cur.kty, "RSA", 3) == 0 && bits != 2048 && bits != 3072 && bits != 4096)
        bits = bits < 2048 ? 2048 : bits <= 3072 ? 3072 : 4096;
    if ((rc = vault_engine_generate(app->engine, &kv, bits, 65537, crv, e)) != CF_OK)
        goto out;
    if ((rc = vault_store_version_add(app->store, &kv, e)) != CF_OK) {
        if (kv.hsm_id[0])
            (void)vault_engine_destroy_hsm(app->engine, kv.hsm_id, NULL);
        goto out;
    }
    if (out) {
        *out = kv;
        memset(&kv, 0, sizeof(kv));
    }
out:
    json_decref(policy);
    vault_keyver_clear(&cur);
    vault_keyver_clear(&kv);
    return rc;
}

static void h_rotate(kv_req *q, const char *name)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    cf_err e = {0};
    if (!key_begin(q, "KeyRotate", name, NULL, "rotate", &v))
        goto out;
    if (vault_api_rotate(q->app, q->vault, name, &kv, &e) != CF_OK) {
        key_error(q, name, &e);
        goto out;
    }
    respond_new_version(q, &kv, &v);
out:
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

static json_t *policy_out(kv_req *q, const char *name, json_t *policy /* stolen */)
{
    char id[512];
    snprintf(id, sizeof(id), "https://%s/keys/%s/rotationpolicy", q->host, name);
    json_object_set_new(policy, "id", json_string(id));
    return policy;
}

static void h_rotation_get(kv_req *q, const char *name)
{
    vault_info v = {0};
    json_t *p = NULL;
    cf_err e = {0};
    if (!key_begin(q, "KeyGetRotationPolicy", name, NULL, "getrotationpolicy", &v))
        goto out;
    if (vault_store_rotation_get(q->app->store, q->vault, name, &p, &e) != CF_OK) {
        key_error(q, name, &e);
        goto out;
    }
    if (p == NULL)
        p = vault_rotation_default();
    vault_api_respond(q, 200, policy_out(q, name, p));
    p = NULL;
out:
    json_decref(p);
    vault_info_clear(&v);
}

static void h_rotation_set(kv_req *q, const char *name)
{
    vault_info v = {0};
    json_t *body = NULL, *p = NULL, *old = NULL;
    cf_err e = {0};
    if (!key_begin(q, "KeySetRotationPolicy", name, NULL, "setrotationpolicy", &v))
        goto out;
    body = json_loadb((const char *)q->r->body.data, q->r->body.len, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL) {
        vault_api_error(q, 400, "BadParameter", NULL, "The request body is not valid JSON");
        goto out;
    }
    if (vault_rotation_normalize(&p, body, q->app->cfg->rotation_min_s, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (vault_store_rotation_get(q->app->store, q->vault, name, &old, &e) != CF_OK) {
        key_error(q, name, &e);
        goto out;
    }
    int64_t now = now_s();
    json_t *attrs = json_object_get(p, "attributes");
    json_int_t created =
        json_integer_value(json_object_get(json_object_get(old, "attributes"), "created"));
    json_object_set_new(attrs, "created", json_integer(created ? created : now));
    json_object_set_new(attrs, "updated", json_integer(now));
    if (vault_store_rotation_set(q->app->store, q->vault, name, p, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    vault_api_respond(q, 200, policy_out(q, name, p));
    p = NULL;
out:
    json_decref(body);
    json_decref(p);
    json_decref(old);
    vault_info_clear(&v);
}

typedef struct op_desc {
    const char *path; /* path segment, case-insensitive */
    vault_op op;
    const char *perm;   /* access policy permission */
    const char *key_op; /* key_ops entry */
    const char *audit_op;
    int outside_window_ok; /* decrypt, unwrap, verify work outside nbf/exp */
} op_desc;

static const op_desc OPS[] = {
    {"encrypt", VAULT_OP_ENCRYPT, "encrypt", "encrypt", "KeyEncrypt", 0},
    {"decrypt", VAULT_OP_DECRYPT, "decrypt", "decrypt", "KeyDecrypt", 1},
    {"wrapkey", VAULT_OP_WRAP, "wrapKey", "wrapKey", "KeyWrap", 0},
    {"unwrapkey", VAULT_OP_UNWRAP, "unwrapKey", "unwrapKey", "KeyUnwrap", 1},
    {"sign", VAULT_OP_SIGN, "sign", "sign", "KeySign", 0},
    {"verify", VAULT_OP_VERIFY, "verify", "verify", "KeyVerify", 1},
};

static const op_desc *find_op(const char *seg)
{
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        if (ci_eq(seg, OPS[i].path))
            return &OPS[i];
    return NULL;
}

/* The key-state gate of every cryptographic operation. */
static int key_usable(kv_req *q, const vault_keyver *kv, const op_desc *d)
{
    if (!kv->enabled) {
        vault_api_error(q, 403, "Forbidden", "KeyDisabled",
                        "Operation %s is not allowed on a disabled key.", d->key_op);
        return 0;
    }
    int64_t now = now_s();
    if (!d->outside_window_ok && kv->nbf && now < kv->nbf) {
        vault_api_error(q, 403, "Forbidden", "KeyNotYetValid",
                        "Operation %s is not allowed on a key that is not yet valid (nbf).",
                        d->key_op);
        return 0;
    }
    if (!d->outside_window_ok && kv->exp && now >= kv->exp) {
        vault_api_error(q, 403, "Forbidden", "KeyExpired",
                        "Operation %s is not allowed on an expired key (exp).", d->key_op);
        return 0;
    }
    if (!vault_key_ops_has(kv->key_ops, d->key_op)) {
        vault_api_error(q, 403, "Forbidden", "KeyOperationForbidden",
                        "Operation %s is not permitted on this key.", d->key_op);
        return 0;
    }
    return 1;
}

static void h_op(kv_req *q, const char *name, const char *version, const op_desc *d)
{
    vault_info v = {0};
    vault_keyver kv = {0};
    vault_op_req opr = {0};
    cf_buf out;
    cf_buf_init(&out, 1 << 16);
    cf_err e = {0};
    int verified = 0;
    if (!key_begin(q, d->audit_op, name, version, d->perm, &v))
        goto out;
    if (vault_req_op(&opr, (const char *)q->r->body.data, q->r->body.len, d->op == VAULT_OP_VERIFY,
                     &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (!load_key(q, name, version, &kv) || !key_usable(q, &kv, d))
        goto out;
    const unsigned char *in = opr.value.data;
    size_t in_len = opr.value.len;
    const unsigned char *sig = NULL;
    size_t sig_len = 0;
    if (d->op == VAULT_OP_VERIFY) {
        in = opr.digest.data;
        in_len = opr.digest.len;
        sig = opr.value.data;
        sig_len = opr.value.len;
    }
    if (vault_engine_op(q->app->engine, &kv, d->op, opr.alg, in, in_len, sig, sig_len, &out,
                        &verified, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (d->op == VAULT_OP_VERIFY) {
        vault_api_respond(q, 200, json_pack("{s:b}", "value", verified));
        goto out;
    }
    cf_buf b64;
    cf_buf_init(&b64, 0);
    if (cf_b64url_encode(&b64, out.data, out.len, &e) != CF_OK) {
        cf_buf_free(&b64);
        vault_api_error_cf(q, &e);
        goto out;
    }
    char kid[512];
    snprintf(kid, sizeof(kid), "https://%s/keys/%s/%s", q->host, kv.name, kv.version);
    json_t *res = json_pack("{s:s,s:s}", "kid", kid, "value", (const char *)b64.data);
    if (d->op == VAULT_OP_UNWRAP || d->op == VAULT_OP_DECRYPT) {
        b64.secret = 1;
        OPENSSL_cleanse(b64.data, b64.len);
    }
    cf_buf_free(&b64);
    vault_api_respond(q, 200, res);
out:
    cf_buf_free(&out);
    vault_op_req_free(&opr);
    vault_keyver_clear(&kv);
    vault_info_clear(&v);
}

static void method_not_allowed(kv_req *q)
{
    vault_api_error(q, 405, "MethodNotAllowed", NULL, "The method %s is not allowed on %s.",
                    q->method, q->r->path);
}

static void not_found_path(kv_req *q)
{
    vault_api_error(q, 404, "NotFound", NULL, "No such operation: %s %s", q->method, q->r->path);
}

/* Splits path (after the leading '/') into segments; empty ones kept. */
static int split(const char *path, char segs[MAX_SEGS][160], int *n)
{
    *n = 0;
    if (path[0] != '/')
        return 0;
    const char *p = path + 1;
    for (;;) {
        const char *s = strchr(p, '/');
        size_t len = s ? (size_t)(s - p) : strlen(p);
        if (*n == MAX_SEGS || len >= 160)
            return 0;
        memcpy(segs[*n], p, len);
        segs[*n][len] = '\0';
        (*n)++;
        if (s == NULL)
            break;
        p = s + 1;
    }
    return 1;
}

static void route_keys(kv_req *q, char segs[MAX_SEGS][160], int n)
{
    const char *m = q->method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    int post = strcmp(m, "POST") == 0, put = strcmp(m, "PUT") == 0;
    int patch = strcmp(m, "PATCH") == 0, del = strcmp(m, "DELETE") == 0;
    if (!require_api_version(q))
        return;
    if (ci_eq(segs[0], "keys")) {
        if (n == 1 || (n == 2 && segs[1][0] == '\0')) {
            if (get)
                return h_list(q, 0);
            return method_not_allowed(q);
        }
        const char *name = segs[1];
        if (n == 2) {
            if (ci_eq(name, "restore") && post)
                return (
                    void)(q->operation = "KeyRestore",
                          vault_api_error(q, 400, "BadParameter", NULL,
                                          "Backup and restore are not supported by this vault."));
            if (put)
                return h_import(q, name);
            if (get)
                return h_get(q, name, NULL);
            if (del)
                return h_delete(q, name);
            if (patch)
                return h_update(q, name, NULL);
            return method_not_allowed(q);
        }
        const char *third = segs[2];
        if (n == 3) {
            if (ci_eq(third, "create")) {
                if (post)
                    return h_create(q, name);
                return method_not_allowed(q);
            }
            if (ci_eq(third, "versions")) {
                if (get)
                    return h_versions(q, name);
                return method_not_allowed(q);
            }
            if (ci_eq(third, "rotate")) {
                if (post)
                    return h_rotate(q, name);
                return method_not_allowed(q);
            }
            if (ci_eq(third, "rotationpolicy")) {
                if (get)
                    return h_rotation_get(q, name);
                if (put)
                    return h_rotation_set(q, name);
                return method_not_allowed(q);
            }
            if (ci_eq(third, "backup")) {
                q->operation = "KeyBackup";
                return vault_api_error(q, 400, "BadParameter", NULL,
                                       "Backup and restore are not supported by this vault.");
            }
            /* A crypto operation without the version segment
             * (/keys/{name}/wrapkey) works on the latest version, as Azure
             * Key Vault does: @azure/keyvault-keys 4.10 sends this form for
             * a non-versioned key identifier, older SDKs /keys/{name}//op. */
            const op_desc *d = find_op(third);
            if (d != NULL && post)
                return h_op(q, name, "", d);
            if (get)
                return h_get(q, name, third);
            if (patch)
                return h_update(q, name, third);
            return method_not_allowed(q);
        }
        if (n == 4) {
            const op_desc *d = find_op(segs[3]);
            if (d == NULL)
                return not_found_path(q);
            if (!post)
                return method_not_allowed(q);
            return h_op(q, name, third, d);
        }
        return not_found_path(q);
    }
    /* deletedkeys */
    if (n == 1 || (n == 2 && segs[1][0] == '\0')) {
        if (get)
            return h_list(q, 1);
        return method_not_allowed(q);
    }
    if (n == 2) {
        if (get)
            return h_get_deleted(q, segs[1]);
        if (del)
            return h_purge(q, segs[1]);
        return method_not_allowed(q);
    }
    if (n == 3 && ci_eq(segs[2], "recover")) {
        if (post)
            return h_recover(q, segs[1]);
        return method_not_allowed(q);
    }
    not_found_path(q);
}

static void on_body_end(http_req *r)
{
    kv_req *q = r->user;
    if (r->body_too_big) {
        vault_api_error(q, 413, "RequestEntityTooLarge", NULL,
                        "The request body is larger than %zu bytes.", q->app->cfg->max_body);
        return;
    }
    char segs[MAX_SEGS][160];
    int n;
    if (vault_arm_route(q)) /* /subscriptions/..., /providers/... */
        return;
    if (!split(r->path, segs, &n) || n == 0) {
        not_found_path(q);
        return;
    }
    if (ci_eq(segs[0], "keys") || ci_eq(segs[0], "deletedkeys"))
        route_keys(q, segs, n);
    else
        vault_mgmt_route(q, segs, n);
}

static void on_done(http_req *r, int ok)
{
    (void)ok;
    free(r->user);
    r->user = NULL;
}

/* Host -> vault name and the authority used in ids. */
static int parse_host(kv_req *q)
{
    const vault_config *cfg = q->app->cfg;
    const char *h = http_req_header(q->r, "Host");
    char fallback[64];
    if (h == NULL || *h == '\0') {
        snprintf(fallback, sizeof(fallback), "localhost:%u", q->app->port);
        h = fallback;
    }
    size_t n = strlen(h);
    if (n >= sizeof(q->host))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!(isalnum((unsigned char)c) || c == '.' || c == '-' || c == ':' || c == '[' ||
              c == ']'))
            return 0;
    }
    memcpy(q->host, h, n + 1);
    snprintf(q->vault, sizeof(q->vault), "%s", cfg->default_vault);
    /* strip the port (not inside an IPv6 literal) */
    size_t hn = n;
    const char *colon = strrchr(h, ':');
    if (colon && (h[0] != '[' || strchr(colon, ']') == NULL) && strchr(h, ']') < colon)
        hn = (size_t)(colon - h);
    const char *dot = memchr(h, '.', hn);
    size_t dn = strlen(cfg->vault_domain);
    if (dot && (size_t)(h + hn - (dot + 1)) == dn &&
        strncasecmp(dot + 1, cfg->vault_domain, dn) == 0) {
        size_t vn = (size_t)(dot - h);
        char name[32];
        if (vn < sizeof(name)) {
            memcpy(name, h, vn);
            name[vn] = '\0';
            if (vault_name_valid_vault(name)) {
                memcpy(q->vault, name, vn + 1);
                q->vault_from_host = 1;
            }
        }
    }
    return 1;
}

static const char *op_guess(const char *path)
{
    /* the audit operation of a request refused before routing, or that
     * matched no route */
    if (strncasecmp(path, "/vaults", 7) == 0 || strncasecmp(path, "/deletedVaults", 14) == 0 ||
        strncasecmp(path, "/subscriptions", 14) == 0 || strncasecmp(path, "/providers/", 11) == 0)
        return "VaultRequest";
    if (strncasecmp(path, "/audit", 6) == 0)
        return "AuditQuery";
    return "KeyRequest";
}

void vault_api_handle(http_req *r, void *ctx)
{
    vault_app *app = ctx;
    kv_req *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        http_req_respond(r, http_resp_new(500));
        return;
    }
    q->app = app;
    q->r = r;
    r->user = q;
    r->on_done = on_done;
    const char *m = r->method;
    const char *ovr = http_req_header(r, "X-HTTP-METHOD");
    if (ovr && *ovr && strcmp(m, "POST") == 0) {
        if (ci_eq(ovr, "PATCH") || ci_eq(ovr, "DELETE") || ci_eq(ovr, "PUT") || ci_eq(ovr, "GET"))
            m = ovr;
    }
    for (size_t i = 0; i + 1 < sizeof(q->method) && m[i]; i++)
        q->method[i] = (char)toupper((unsigned char)m[i]);
    if (!parse_host(q)) {
        snprintf(q->host, sizeof(q->host), "localhost");
        vault_api_error(q, 400, "BadParameter", NULL, "Invalid Host header.");
        return;
    }
    cf_err e = {0};
    const char *authz = http_req_header(r, "Authorization");
    if (vault_auth_check(app->auth, authz, &q->caller, &e) != CF_OK) {
        if (e.code == CF_EUNAVAIL)
            vault_api_error(q, 503, "ServiceUnavailable", NULL, "%s", e.msg);
        else
            vault_api_error(q, 401, "Unauthorized", NULL, "%s",
                            authz ? e.msg : "AKV10000: Request is missing a Bearer or PoP token.");
        return;
    }
    q->authed = 1;
    int64_t cl = http_req_content_length(r);
    if (cl > (int64_t)app->cfg->max_body) {
        /* refused before reading a byte of it; the connection then closes */
        vault_api_error(q, 413, "RequestEntityTooLarge", NULL,
                        "The request body is larger than %zu bytes.", app->cfg->max_body);
        return;
    }
    http_req_collect(r, app->cfg->max_body, on_body_end);
}

cf_code vault_api_ensure_default(vault_app *app, cf_err *e)
{
    vault_info v = {0};
    cf_err ge = {0};
    cf_code rc = vault_store_vault_get(app->store, app->cfg->default_vault, &v, &ge);
    if (rc == CF_OK) {
        vault_info_clear(&v);
        return CF_OK;
    }
    if (rc != CF_ENOTFOUND)
        return cf_err_set(e, rc, "%s", ge.msg);
    snprintf(v.name, sizeof(v.name), "%s", app->cfg->default_vault);
    snprintf(v.tenant_id, sizeof(v.tenant_id), "%s", VAULT_TENANT_NONE);
    v.retention_days = 90;
    v.policies = json_array();
    int created = 0;
    rc = vault_store_vault_put(app->store, &v, &created, e);
    vault_info_clear(&v);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "created the default vault", "vault", app->cfg->default_vault, NULL);
    return rc;
}
