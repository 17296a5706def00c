/*
 * mgmt.c -- the management API (docs/keyvault.md, "Management API"): ARM-like
 * vault resources and their access policies, and the audit query. Admin
 * token only: a JWT caller gets 403 whatever its access policies say (they
 * govern keys, not vaults).
 *
 *   PUT/PATCH/GET/DELETE /vaults/{name}, GET /vaults
 *   PUT /vaults/{name}/accessPolicies/{add|remove|replace}
 *   GET /deletedVaults, GET /deletedVaults/{name}, POST /deletedVaults/{name}/purge
 *   (the same at their ARM paths and role assignments: arm.c, rbac.c)
 *   GET /audit?vault=&operation=&objectId=&result=&since=&until=&limit=
 *
 * Deleting a vault soft-deletes it with everything in it, as Azure does:
 * its keys API answers VaultNotFound (saying it is deleted), its name
 * cannot be reused, and until its scheduled purge date (retention days
 * later) it can be recovered unchanged, with PUT /vaults/{name}
 * {"properties":{"createMode":"recover"}} (ARM's way), or purged, unless
 * purge protection forbids that before the date. The scheduler purges it
 * once the date has passed.
 */
#define CF_LOG_MOD "vault.mgmt"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/enc.h"
#include "vault/api_int.h"
#include "vault/arm.h"
#include "vault/netacl.h"
#include "vault/policy.h"
#include "vault/req.h"

#define DEFAULT_TENANT VAULT_TENANT_NONE

static void vault_not_found(kv_req *q, const char *name)
{
    vault_api_error(q, 404, "ResourceNotFound", NULL, "The vault '%s' does not exist.", name);
}

/* A store error about vault `name`: 404 ResourceNotFound when absent. */
static void vault_error(kv_req *q, const char *name, const cf_err *e)
{
    if (e->code == CF_ENOTFOUND)
        vault_not_found(q, name);
    else
        vault_api_error_cf(q, e);
}

/* Vault changes are read-modify-write (load, apply, store): one at a time,
 * so two concurrent policy additions never lose one another. */
static pthread_mutex_t mutate_mu = PTHREAD_MUTEX_INITIALIZER;

static json_t *vault_json(kv_req *q, const vault_info *v)
{
    char uri[512], id[128];
    snprintf(uri, sizeof(uri), "https://%s.%s:%u/", v->name, q->app->cfg->vault_domain,
             q->app->port);
    snprintf(id, sizeof(id), "/vaults/%s", v->name);
    json_t *acls = v->network_acls ? json_incref(v->network_acls) : vault_netacl_default();
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:{s:s,s:s,s:b,s:i,s:b,s:O,s:o,s:I,s:I}}", "id", id, "name", v->name, "type",
        "Microsoft.KeyVault/vaults", "properties", "vaultUri", uri, "tenantId", v->tenant_id,
        "enableSoftDelete", 1, "softDeleteRetentionInDays", v->retention_days,
        "enablePurgeProtection", v->purge_protection, "accessPolicies", v->policies, "networkAcls",
        acls, "createdTime", (json_int_t)v->created, "updatedTime", (json_int_t)v->updated);
    if (j)
        vault_arm_decorate(q, v->name, j); /* its ARM id, group, permission model */
    return j;
}

/* ARM's DeletedVault. */
static json_t *deleted_vault_json(kv_req *q, const vault_info *v)
{
    char id[128], vid[128], deleted[32], purge[32];
    snprintf(id, sizeof(id), "/deletedVaults/%s", v->name);
    snprintf(vid, sizeof(vid), "/vaults/%s", v->name);
    cf_rfc3339(deleted, sizeof(deleted), v->deleted_date);
    cf_rfc3339(purge, sizeof(purge), v->scheduled_purge);
    json_t *j = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:b}}", "id", id, "name", v->name, "type",
                          "Microsoft.KeyVault/deletedVaults", "properties", "vaultId", vid,
                          "deletionDate", deleted, "scheduledPurgeDate", purge,
                          "purgeProtectionEnabled", v->purge_protection);
    if (j)
        vault_arm_decorate_deleted(q, v->name, j); /* ARM ids, location */
    return j;
}

/* Applies a "properties" object onto v. creating: PUT of a new vault. */
static int apply_props(kv_req *q, vault_info *v, const json_t *props, int replace_policies)
{
    cf_err e = {0};
    if (props == NULL)
        return 1;
    if (!json_is_object(props)) {
        vault_api_error(q, 400, "BadParameter", NULL, "properties must be an object");
        return 0;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)props, k, x)
    {
        if (strcmp(k, "tenantId") == 0) {
            const char *t = json_string_value(x);
            if (t == NULL || *t == '\0' || strlen(t) >= sizeof(v->tenant_id)) {
                vault_api_error(q, 400, "BadParameter", NULL, "properties.tenantId is invalid");
                return 0;
            }
            snprintf(v->tenant_id, sizeof(v->tenant_id), "%s", t);
        } else if (strcmp(k, "softDeleteRetentionInDays") == 0) {
            json_int_t d = json_is_integer(x) ? json_integer_value(x) : -1;
            if (d < 7 || d > 90) {
                vault_api_error(q, 400, "BadParameter", NULL,
                                "properties.softDeleteRetentionInDays must be between 7 and 90");
                return 0;
            }
            v->retention_days = (int)d;
        } else if (strcmp(k, "enablePurgeProtection") == 0) {
            if (json_is_null(x))
                continue;
            if (!json_is_boolean(x)) {
                vault_api_error(q, 400, "BadParameter", NULL,
                                "properties.enablePurgeProtection must be a boolean");
                return 0;
            }
            if (v->purge_protection && !json_is_true(x)) {
                vault_api_error(q, 409, "Conflict", NULL,
                                "Purge protection cannot be disabled once it has been enabled on "
                                "vault '%s'.",
                                v->name);
                return 0;
            }
            v->purge_protection = json_is_true(x);
        } else if (strcmp(k, "enableSoftDelete") == 0) {
            if (!json_is_null(x) && !json_is_true(x)) {
                vault_api_error(q, 400, "BadParameter", NULL,
                                "Soft delete is always enabled on this vault service.");
                return 0;
            }
        } else if (strcmp(k, "networkAcls") == 0) {
            json_t *n = NULL;
            if (vault_netacl_apply(&n, v->network_acls, x, &e) != CF_OK) {
                vault_api_error(q, 400, "BadParameter", NULL, "properties.%s", e.msg);
                return 0;
            }
            json_decref(v->network_acls);
            v->network_acls = n;
        } else if (strcmp(k, "createMode") == 0) {
            /* "recover" is handled before (h_vault_put); "default" is a plain put */
            const char *m = json_string_value(x);
            if (!json_is_null(x) &&
                (m == NULL || (strcasecmp(m, "default") != 0 && strcasecmp(m, "recover") != 0))) {
                vault_api_error(q, 400, "BadParameter", NULL,
                                "properties.createMode must be 'default' or 'recover'");
                return 0;
            }
        } else if (strcmp(k, "accessPolicies") == 0) {
            json_t *n = NULL;
            if (vault_policy_normalize(&n, x, &e) != CF_OK) {
                vault_api_error_cf(q, &e);
                return 0;
            }
            if (replace_policies) {
                json_decref(v->policies);
                v->policies = n;
            } else {
                json_decref(n);
                vault_api_error(q, 400, "BadParameter", NULL,
                                "Use /vaults/{name}/accessPolicies/{add|remove|replace} to "
                                "change access policies with PATCH.");
                return 0;
            }
        } else if (strcmp(k, "enableRbacAuthorization") == 0) {
            /* recorded by vault_arm_after_put once the vault is stored */
            if (!json_is_null(x) && !json_is_boolean(x)) {
                vault_api_error(q, 400, "BadParameter", NULL,
                                "properties.enableRbacAuthorization must be a boolean");
                return 0;
            }
        } else if (strcmp(k, "vaultUri") == 0 || strcmp(k, "sku") == 0 ||
                   strcmp(k, "createdTime") == 0 || strcmp(k, "updatedTime") == 0) {
        } else {
            vault_api_error(q, 400, "BadParameter", NULL, "Unknown vault property '%.64s'", k);
            return 0;
        }
    }
    return 1;
}

static json_t *load_body(kv_req *q)
{
    http_req *r = q->r;
    if (r->body.len == 0)
        return json_object();
    json_t *b = json_loadb((const char *)r->body.data, r->body.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(b)) {
        json_decref(b);
        vault_api_error(q, 400, "BadParameter", NULL, "The request body must be a JSON object");
        return NULL;
    }
    return b;
}

/* PUT {"properties":{"createMode":"recover"}}: a soft-deleted vault made
 * live again, unchanged (az keyvault recover). */
static void h_vault_recover(kv_req *q, const char *name)
{
    q->operation = "VaultRecover";
    vault_info v = {0};
    cf_err e = {0};
    if (vault_store_vault_recover(q->app->store, name, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            vault_api_error(q, 404, "ResourceNotFound", NULL,
                            "There is no soft-deleted vault '%s' to recover.", name);
        else
            vault_api_error_cf(q, &e);
        return;
    }
    if (vault_store_vault_get(q->app->store, name, &v, &e) != CF_OK)
        vault_api_error_cf(q, &e);
    else
        vault_api_respond(q, 200, vault_json(q, &v));
    vault_info_clear(&v);
}

static int wants_recover(const json_t *body)
{
    const char *m =
        json_string_value(json_object_get(json_object_get(body, "properties"), "createMode"));
    return m && strcasecmp(m, "recover") == 0;
}

static void h_vault_put(kv_req *q, const char *name, int patch)
{
    q->operation = patch ? "VaultPatch" : "VaultPut";
    vault_info v = {0};
    cf_err e = {0};
    json_t *body = NULL;
    if ((body = load_body(q)) == NULL)
        goto out;
    if (!patch && wants_recover(body)) {
        h_vault_recover(q, name);
        goto out;
    }
    int exists = vault_store_vault_get(q->app->store, name, &v, &e) == CF_OK;
    if (!exists && e.code != CF_ENOTFOUND) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (!exists) {
        vault_info d = {0};
        if (vault_store_vault_get_deleted(q->app->store, name, &d, NULL) == CF_OK) {
            vault_info_clear(&d);
            vault_api_error(q, 409, "ConflictError", NULL,
                            "A vault with the same name already exists in deleted state: "
                            "recover it (coffer keyvault recover -n %s) or purge it (coffer "
                            "keyvault purge -n %s) before reusing the name.",
                            name, name);
            goto out;
        }
        if (patch) {
            vault_not_found(q, name);
            goto out;
        }
        memset(&v, 0, sizeof(v));
        snprintf(v.name, sizeof(v.name), "%s", name);
        snprintf(v.tenant_id, sizeof(v.tenant_id), DEFAULT_TENANT);
        v.retention_days = 90;
        v.policies = json_array();
    }
    const char *k;
    json_t *x;
    json_object_foreach(body, k, x)
    {
        if (strcmp(k, "properties") != 0 && strcmp(k, "location") != 0 && strcmp(k, "tags") != 0 &&
            strcmp(k, "name") != 0 && strcmp(k, "id") != 0 && strcmp(k, "type") != 0) {
            vault_api_error(q, 400, "BadParameter", NULL, "Unknown vault field '%.64s'", k);
            goto out;
        }
    }
    if (!apply_props(q, &v, json_object_get(body, "properties"), !patch))
        goto out;
    int created = 0;
    if (vault_store_vault_put(q->app->store, &v, &created, &e) != CF_OK ||
        vault_arm_after_put(q, v.name, body, created, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    vault_info_clear(&v);
    if (vault_store_vault_get(q->app->store, name, &v, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    vault_api_respond(q, created ? 201 : 200, vault_json(q, &v));
out:
    json_decref(body);
    vault_info_clear(&v);
}

static void h_vault_get(kv_req *q, const char *name)
{
    q->operation = "VaultGet";
    vault_info v = {0};
    cf_err e = {0};
    if (vault_store_vault_get(q->app->store, name, &v, &e) != CF_OK) {
        vault_error(q, name, &e);
    } else {
        vault_api_respond(q, 200, vault_json(q, &v));
    }
    vault_info_clear(&v);
}

/* GET /vaults (deleted = 0) or /deletedVaults (deleted = 1). */
static void h_list(kv_req *q, int deleted)
{
    q->operation = deleted ? "VaultListDeleted" : "VaultList";
    json_t *names = NULL;
    cf_err e = {0};
    if ((deleted ? vault_store_vault_list_deleted : vault_store_vault_list)(q->app->store, &names,
                                                                            &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        return;
    }
    json_t *arr = json_array();
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm)
    {
        vault_info v = {0};
        if (vault_arm_listed(q, json_string_value(nm), deleted) &&
            (deleted ? vault_store_vault_get_deleted : vault_store_vault_get)(
                q->app->store, json_string_value(nm), &v, NULL) == CF_OK)
            json_array_append_new(arr, deleted ? deleted_vault_json(q, &v) : vault_json(q, &v));
        vault_info_clear(&v);
    }
    json_decref(names);
    vault_api_respond(q, 200, json_pack("{s:o}", "value", arr));
}

/* Soft delete: the vault and everything in it, recoverable until the
 * scheduled purge date. */
static void h_vault_delete(kv_req *q, const char *name)
{
    q->operation = "VaultDelete";
    vault_info v = {0};
    cf_err e = {0};
    if (strcasecmp(name, q->app->cfg->default_vault) == 0) {
        vault_api_error(q, 409, "Conflict", NULL, "The default vault '%s' cannot be deleted.",
                        name);
        return;
    }
    if (vault_store_vault_get(q->app->store, name, &v, &e) != CF_OK) {
        vault_error(q, name, &e);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    if (vault_store_vault_delete(q->app->store, name, now, now + (int64_t)v.retention_days * 86400,
                                 &e) != CF_OK)
        vault_error(q, name, &e);
    else {
        vault_arm_deleted(q->app, name); /* its role assignments, as Azure drops them */
        vault_api_respond(q, 200, NULL);
    }
    vault_info_clear(&v);
}

static void deleted_not_found(kv_req *q, const char *name)
{
    vault_api_error(q, 404, "ResourceNotFound", NULL, "There is no soft-deleted vault '%s'.", name);
}

static void h_deleted_get(kv_req *q, const char *name)
{
    q->operation = "VaultGetDeleted";
    vault_info v = {0};
    cf_err e = {0};
    if (vault_store_vault_get_deleted(q->app->store, name, &v, &e) == CF_OK)
        vault_api_respond(q, 200, deleted_vault_json(q, &v));
    else if (e.code == CF_ENOTFOUND)
        deleted_not_found(q, name);
    else
        vault_api_error_cf(q, &e);
    vault_info_clear(&v);
}

static void h_deleted_purge(kv_req *q, const char *name)
{
    q->operation = "VaultPurge";
    vault_info v = {0};
    cf_err e = {0};
    if (vault_store_vault_get_deleted(q->app->store, name, &v, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            deleted_not_found(q, name);
        else
            vault_api_error_cf(q, &e);
        goto out;
    }
    if (v.purge_protection && (int64_t)time(NULL) < v.scheduled_purge) {
        char when[32];
        cf_rfc3339(when, sizeof(when), v.scheduled_purge);
        vault_api_error(q, 405, "MethodNotAllowed", NULL,
                        "Operation 'DeletedVaultPurge' is not allowed: vault '%s' has purge "
                        "protection; it is purged automatically at %s.",
                        v.name, when);
        goto out;
    }
    if (vault_api_purge_vault(q->app, v.name, &e) != CF_OK) {
        vault_error(q, name, &e);
        goto out;
    }
    vault_api_respond(q, 200, NULL);
out:
    vault_info_clear(&v);
}

static void h_policies(kv_req *q, const char *name, const char *kind)
{
    q->operation = "VaultAccessPolicy";
    vault_policy_op op;
    if (strcasecmp(kind, "add") == 0)
        op = VAULT_POLICY_ADD;
    else if (strcasecmp(kind, "remove") == 0)
        op = VAULT_POLICY_REMOVE;
    else if (strcasecmp(kind, "replace") == 0)
        op = VAULT_POLICY_REPLACE;
    else {
        vault_api_error(q, 400, "BadParameter", NULL,
                        "The access policy operation must be add, remove or replace.");
        return;
    }
    vault_info v = {0};
    cf_err e = {0};
    json_t *body = NULL, *change = NULL, *result = NULL;
    if (vault_store_vault_get(q->app->store, name, &v, &e) != CF_OK) {
        vault_error(q, name, &e);
        goto out;
    }
    if ((body = load_body(q)) == NULL)
        goto out;
    const json_t *aps = json_object_get(json_object_get(body, "properties"), "accessPolicies");
    if (aps == NULL) {
        vault_api_error(q, 400, "BadParameter", NULL, "properties.accessPolicies is required");
        goto out;
    }
    if (vault_policy_normalize(&change, aps, &e) != CF_OK ||
        vault_policy_apply(&result, v.policies, change, op, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND) /* a remove that matched nothing */
            vault_api_error(q, 404, "AccessPolicyNotFound", NULL, "%s in vault '%s'.", e.msg,
                            v.name);
        else
            vault_api_error_cf(q, &e);
        goto out;
    }
    json_decref(v.policies);
    v.policies = result;
    result = NULL;
    int created = 0;
    if (vault_store_vault_put(q->app->store, &v, &created, &e) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    char vid[ARM_ID_MAX], id[ARM_ID_MAX + 40];
    vault_arm_id(q->app, v.name, vid);
    snprintf(id, sizeof(id), "%s/accessPolicies/%s", vid, kind);
    vault_api_respond(q, 200,
                      json_pack("{s:s,s:s,s:s,s:{s:O}}", "id", id, "name", kind, "type",
                                "Microsoft.KeyVault/vaults/accessPolicies", "properties",
                                "accessPolicies", v.policies));
out:
    json_decref(body);
    json_decref(change);
    json_decref(result);
    vault_info_clear(&v);
}

static void h_audit(kv_req *q)
{
    q->operation = "AuditQuery";
    http_req *r = q->r;
    vault_audit_filter f = {
        .vault = http_req_query(r, "vault"),
        .operation = http_req_query(r, "operation"),
        .object_id = http_req_query(r, "objectId"),
        .result = http_req_query(r, "result"),
        .since = http_req_query(r, "since"),
        .until = http_req_query(r, "until"),
    };
    const char *lim = http_req_query(r, "limit");
    if (lim && *lim) {
        char *end;
        long n = strtol(lim, &end, 10);
        if (*end != '\0' || n < 1 || n > 10000) {
            vault_api_error(q, 400, "BadParameter", NULL, "limit must be between 1 and 10000");
            return;
        }
        f.limit = (size_t)n;
    }
    cf_buf body;
    cf_buf_init(&body, 0);
    cf_err e = {0};
    if (vault_audit_query_text(q->app->audit, &f, &body, &e) != CF_OK) {
        cf_buf_free(&body);
        vault_api_error_cf(q, &e);
        return;
    }
    size_t len = 0;
    char *text = (char *)cf_buf_detach(&body, &len); /* freed by the responder */
    vault_api_respond_text(q, 200, text, len);
}

/* /deletedVaults[/{name}[/purge]] (admin checked). */
static void route_deleted(kv_req *q, char segs[MAX_SEGS][160], int n)
{
    const char *m = q->method;
    int list = n == 1 || (n == 2 && segs[1][0] == '\0');
    q->operation = "VaultRequest";
    if (!list && !vault_name_valid_vault(segs[1])) {
        vault_api_error(q, 400, "BadParameter", NULL, "The vault name '%.40s' is invalid.",
                        segs[1]);
        return;
    }
    if (list && strcmp(m, "GET") == 0)
        return h_list(q, 1);
    if (n == 2 && !list && strcmp(m, "GET") == 0)
        return h_deleted_get(q, segs[1]);
    if (n == 3 && strcasecmp(segs[2], "purge") == 0 && strcmp(m, "POST") == 0) {
        pthread_mutex_lock(&mutate_mu);
        h_deleted_purge(q, segs[1]);
        pthread_mutex_unlock(&mutate_mu);
        return;
    }
    if (n <= 2 || (n == 3 && strcasecmp(segs[2], "purge") == 0))
        vault_api_error(q, 405, "MethodNotAllowed", NULL, "The method %s is not allowed on %s.", m,
                        q->r->path);
    else
        vault_api_error(q, 404, "NotFound", NULL, "No such operation: %s %s", m, q->r->path);
}

void vault_mgmt_route(kv_req *q, char segs[MAX_SEGS][160], int n)
{
    const char *m = q->method;
    int is_vaults = strcasecmp(segs[0], "vaults") == 0;
    int is_deleted = strcasecmp(segs[0], "deletedVaults") == 0;
    int is_audit = strcasecmp(segs[0], "audit") == 0 && n == 1;
    if (!is_vaults && !is_deleted && !is_audit) {
        vault_api_error(q, 404, "NotFound", NULL, "No such operation: %s %s", m, q->r->path);
        return;
    }
    if ((is_vaults || is_deleted) && n >= 2 && segs[1][0] != '\0')
        snprintf(q->vault, sizeof(q->vault), "%.24s", segs[1]);
    if (!q->caller.is_admin) {
        q->operation = is_audit ? "AuditQuery" : "VaultRequest";
        vault_api_error(q, 403, "Forbidden", "AdminTokenRequired",
                        "The management API needs the admin token of this keyvaultd.");
        return;
    }
    if (is_audit) {
        if (strcmp(m, "GET") != 0)
            goto not_allowed;
        return h_audit(q);
    }
    if (is_deleted)
        return route_deleted(q, segs, n);
    if (n == 1 || (n == 2 && segs[1][0] == '\0')) {
        if (strcmp(m, "GET") != 0)
            goto not_allowed;
        return h_list(q, 0);
    }
    const char *name = segs[1];
    if (!vault_name_valid_vault(name)) {
        q->operation = "VaultRequest";
        vault_api_error(q, 400, "BadParameter", NULL,
                        "The vault name '%.40s' is invalid: 3-24 characters of 0-9, a-z, A-Z "
                        "and -.",
                        name);
        return;
    }
    if (n == 2) {
        if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
            pthread_mutex_lock(&mutate_mu);
            h_vault_put(q, name, m[1] == 'A');
            pthread_mutex_unlock(&mutate_mu);
            return;
        }
        if (strcmp(m, "GET") == 0)
            return h_vault_get(q, name);
        if (strcmp(m, "DELETE") == 0) {
            pthread_mutex_lock(&mutate_mu);
            h_vault_delete(q, name);
            pthread_mutex_unlock(&mutate_mu);
            return;
        }
        goto not_allowed;
    }
    if (n == 4 && strcasecmp(segs[2], "accessPolicies") == 0) {
        if (strcmp(m, "PUT") != 0 && strcmp(m, "POST") != 0)
            goto not_allowed;
        pthread_mutex_lock(&mutate_mu);
        h_policies(q, name, segs[3]);
        pthread_mutex_unlock(&mutate_mu);
        return;
    }
    q->operation = "VaultRequest";
    vault_api_error(q, 404, "NotFound", NULL, "No such operation: %s %s", m, q->r->path);
    return;
not_allowed:
    q->operation = is_audit ? "AuditQuery" : "VaultRequest";
    vault_api_error(q, 405, "MethodNotAllowed", NULL, "The method %s is not allowed on %s.", m,
                    q->r->path);
}
