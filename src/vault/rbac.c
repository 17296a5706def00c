/*
 * rbac.c -- Azure RBAC for key vaults: the built-in roles, their
 * assignments and the check the keys API makes on an RBAC vault (see
 * rbac.h). The roles are data, copied from Azure's published definitions;
 * the check maps the operation's access-policy permission to its data
 * action and asks whether some role assigned to the caller at the vault or
 * the key grants it.
 */
#define CF_LOG_MOD "vault.rbac"
#include "vault/rbac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/armid.h"
#include "base/log.h"
#include "vault/arm.h"
#include "vault/req.h"

/* ---- the built-in roles (Azure's "Security" built-in roles) ---- */

static const char *const KV_READ_ACTIONS[] = {
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
    NULL,
};
static const char *const NONE[] = {NULL};
static const char *const ADMIN_DATA[] = {"Microsoft.KeyVault/vaults/*", NULL};
static const char *const OFFICER_DATA[] = {"Microsoft.KeyVault/vaults/keys/*",
                                           "Microsoft.KeyVault/vaults/keyrotationpolicies/*", NULL};
static const char *const ENCRYPTION_USER_ACTIONS[] = {
    "Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read",
    "Microsoft.EventGrid/eventSubscriptions/delete", NULL};
static const char *const ENCRYPTION_USER_DATA[] = {
    "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
    "Microsoft.KeyVault/vaults/keys/unwrap/action", NULL};
static const char *const CRYPTO_USER_DATA[] = {"Microsoft.KeyVault/vaults/keys/read",
                                               "Microsoft.KeyVault/vaults/keys/update/action",
                                               "Microsoft.KeyVault/vaults/keys/backup/action",
                                               "Microsoft.KeyVault/vaults/keys/encrypt/action",
                                               "Microsoft.KeyVault/vaults/keys/decrypt/action",
                                               "Microsoft.KeyVault/vaults/keys/wrap/action",
                                               "Microsoft.KeyVault/vaults/keys/unwrap/action",
                                               "Microsoft.KeyVault/vaults/keys/sign/action",
                                               "Microsoft.KeyVault/vaults/keys/verify/action",
                                               NULL};
static const char *const READER_DATA[] = {"Microsoft.KeyVault/vaults/*/read",
                                          "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                                          NULL};
static const char *const RELEASE_DATA[] = {"Microsoft.KeyVault/vaults/keys/release/action", NULL};

#define RBAC_ONLY                                                                                  \
    " Only works for key vaults that use the 'Azure role-based access control' permission model."

const vault_role vault_roles[] = {
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator",
     "Perform all data plane operations on a key vault and all objects in it, including "
     "certificates, keys, and secrets. Cannot manage key vault resources or manage role "
     "assignments." RBAC_ONLY,
     KV_READ_ACTIONS, ADMIN_DATA},
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "Key Vault Crypto Officer",
     "Perform any action on the keys of a key vault, except manage permissions." RBAC_ONLY,
     KV_READ_ACTIONS, OFFICER_DATA},
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6", "Key Vault Crypto Service Encryption User",
     "Read metadata of keys and perform wrap/unwrap operations." RBAC_ONLY, ENCRYPTION_USER_ACTIONS,
     ENCRYPTION_USER_DATA},
    {"12338af0-0e69-4776-bea7-57ae8d297424", "Key Vault Crypto User",
     "Perform cryptographic operations using keys." RBAC_ONLY, NONE, CRYPTO_USER_DATA},
    {"21090545-7ca7-4776-b22c-e363652d74d2", "Key Vault Reader",
     "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive "
     "values such as secret contents or key material." RBAC_ONLY,
     KV_READ_ACTIONS, READER_DATA},
    {"08bbd89e-9f13-488c-ac41-acfcb10c90ab", "Key Vault Crypto Service Release User",
     "Release keys." RBAC_ONLY, NONE, RELEASE_DATA},
    {NULL, NULL, NULL, NULL, NULL},
};

const vault_role *vault_role_find(const char *ref)
{
    if (ref == NULL)
        return NULL;
    const char *slash = strrchr(ref, '/');
    const char *guid = ref;
    if (slash) {
        /* .../providers/Microsoft.Authorization/roleDefinitions/GUID */
        static const char marker[] = "/roleDefinitions/";
        size_t mn = sizeof(marker) - 1;
        if ((size_t)(slash - ref) + 1 < mn || strncasecmp(slash + 1 - mn, marker, mn) != 0)
            return NULL;
        guid = slash + 1;
    }
    for (const vault_role *r = vault_roles; r->id; r++)
        if (strcasecmp(r->id, guid) == 0 || (!slash && strcasecmp(r->name, ref) == 0))
            return r;
    return NULL;
}

const char *vault_rbac_action(const char *perm)
{
    static const struct {
        const char *perm, *action;
    } map[] = {
        {"get", "Microsoft.KeyVault/vaults/keys/read"},
        {"list", "Microsoft.KeyVault/vaults/keys/read"},
        {"create", "Microsoft.KeyVault/vaults/keys/create/action"},
        {"import", "Microsoft.KeyVault/vaults/keys/import/action"},
        {"update", "Microsoft.KeyVault/vaults/keys/update/action"},
        {"delete", "Microsoft.KeyVault/vaults/keys/delete"},
        {"recover", "Microsoft.KeyVault/vaults/keys/recover/action"},
        {"purge", "Microsoft.KeyVault/vaults/keys/purge/action"},
        {"backup", "Microsoft.KeyVault/vaults/keys/backup/action"},
        {"restore", "Microsoft.KeyVault/vaults/keys/restore/action"},
        {"encrypt", "Microsoft.KeyVault/vaults/keys/encrypt/action"},
        {"decrypt", "Microsoft.KeyVault/vaults/keys/decrypt/action"},
        {"wrapKey", "Microsoft.KeyVault/vaults/keys/wrap/action"},
        {"unwrapKey", "Microsoft.KeyVault/vaults/keys/unwrap/action"},
        {"sign", "Microsoft.KeyVault/vaults/keys/sign/action"},
        {"verify", "Microsoft.KeyVault/vaults/keys/verify/action"},
        {"release", "Microsoft.KeyVault/vaults/keys/release/action"},
        {"rotate", "Microsoft.KeyVault/vaults/keys/rotate/action"},
        {"getrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/read"},
        {"setrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/write"},
    };
    for (size_t i = 0; perm && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(map[i].perm, perm) == 0)
            return map[i].action;
    return NULL;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int vault_rbac_match(const char *p, const char *s)
{
    return arm_action_match(p, s);
}

int vault_role_allows(const vault_role *r, const char *action)
{
    for (const char *const *a = r->data_actions; action && *a; a++)
        if (vault_rbac_match(*a, action))
            return 1;
    return 0;
}

/* ---- the assignments ---- */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS role_assignments("
    " id TEXT PRIMARY KEY COLLATE NOCASE,"
    " vault TEXT NOT NULL COLLATE NOCASE, key_name TEXT NOT NULL COLLATE NOCASE,"
    " principal_id TEXT NOT NULL COLLATE NOCASE, principal_type TEXT NOT NULL,"
    " role_id TEXT NOT NULL COLLATE NOCASE, description TEXT, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS role_assignments_vault ON role_assignments(vault, principal_id);";

cf_code vault_rbac_init(vault_app *app, cf_err *e)
{
    cf_code rc = vault_store_script(app->store, SCHEMA, e);
    if (rc == CF_OK) /* assignments of vaults deleted while they were being made */
        rc = vault_store_query(app->store, NULL, NULL, NULL, e,
                               "DELETE FROM role_assignments WHERE vault NOT IN "
                               "(SELECT name FROM vaults)",
                               "");
    return rc;
}

typedef struct grant_walk {
    const char *action;
    int allowed;
} grant_walk;

static int grant_row(void *cls, const vault_row *r)
{
    grant_walk *w = cls;
    const vault_role *role = vault_role_find(vault_row_text(r, 0));
    if (role && vault_role_allows(role, w->action)) {
        w->allowed = 1;
        return 1;
    }
    return 0;
}

int vault_rbac_allows(vault_app *app, const char *vault, const char *key, const char *oid,
                      const char *perm)
{
    grant_walk w = {vault_rbac_action(perm), 0};
    cf_err e = {0};
    if (w.action == NULL || oid == NULL || *oid == '\0')
        return 0;
    if (vault_store_query(app->store, grant_row, &w, NULL, &e,
                          "SELECT role_id FROM role_assignments WHERE vault=?1 AND "
                          "principal_id=?2 AND (key_name='' OR key_name=?3)",
                          "ttt", vault, oid, key ? key : "") != CF_OK) {
        cf_log(CF_LOG_ERROR, "role assignments unreadable", "vault", vault, "error", e.msg, NULL);
        return 0;
    }
    return w.allowed;
}

int vault_rbac_authorize(kv_req *q, const char *vault, const char *perm)
{
    if (vault_rbac_allows(q->app, vault, q->key, q->caller.oid, perm))
        return 1;
    char id[ARM_ID_MAX];
    vault_place p;
    vault_arm_id(q->app, vault, id);
    vault_arm_get(q->app, vault, &p);
    const char *action = vault_rbac_action(perm);
    vault_api_error(q, 403, "Forbidden", "ForbiddenByRbac",
                    "Caller is not authorized to perform action on resource. If role "
                    "assignments, deny assignments or role definitions were changed recently, "
                    "please observe propagation time. Caller: appid=%s;oid=%s Action: '%s' "
                    "Resource: '%s%s%s' Assignment: (not found) Vault: %s;location=%s",
                    q->caller.appid, q->caller.oid, action ? action : perm, id,
                    q->key[0] ? "/keys/" : "", q->key, vault, p.location);
    return 0;
}

void vault_rbac_forget(vault_app *app, const char *vault)
{
    cf_err e = {0};
    if (vault_store_query(app->store, NULL, NULL, NULL, &e,
                          "DELETE FROM role_assignments WHERE vault=?1", "t", vault) != CF_OK)
        cf_log(CF_LOG_WARN, "cannot drop the vault's role assignments", "vault", vault, "error",
               e.msg, NULL);
}

/* ---- the management routes ---- */

/* A parsed scope. */
typedef struct rscope {
    enum { SC_ALL, SC_SUB, SC_GROUP, SC_VAULT, SC_KEY } kind;
    char sub[ARM_SUB_MAX + 1];
    char group[ARM_GROUP_MAX + 1];
    char vault[32];
    char key[128];
} rscope;

typedef struct assignment {
    char id[64];
    char vault[32];
    char key[128];
    char principal[64];
    char principal_type[32];
    char role[64];
    char description[256];
    int64_t created;
} assignment;

static void rfc3339(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The ARM scope of an assignment: the vault's id, /keys/NAME below it. */
static void scope_of(vault_app *app, const assignment *a, char *out, size_t cap)
{
    char vid[ARM_ID_MAX];
    vault_arm_id(app, a->vault, vid);
    snprintf(out, cap, "%s%s%s", vid, a->key[0] ? "/keys/" : "", a->key);
}

static json_t *assignment_json(vault_app *app, const assignment *a)
{
    char scope[ARM_ID_MAX + 160], id[ARM_ID_MAX + 320], def[200], created[32];
    vault_place p;
    vault_arm_get(app, a->vault, &p);
    scope_of(app, a, scope, sizeof(scope));
    snprintf(id, sizeof(id), "%s/providers/Microsoft.Authorization/roleAssignments/%s", scope,
             a->id);
    snprintf(def, sizeof(def),
             "/subscriptions/%.36s/providers/Microsoft.Authorization/"
             "roleDefinitions/%.63s",
             p.sub, a->role);
    rfc3339(created, sizeof(created), a->created);
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:s,s:n,s:n}}", "id", id,
                     "name", a->id, "type", "Microsoft.Authorization/roleAssignments", "properties",
                     "roleDefinitionId", def, "principalId", a->principal, "principalType",
                     a->principal_type, "scope", scope, "condition", json_null(),
                     "conditionVersion", json_null(), "description",
                     a->description[0] ? json_string(a->description) : json_null(), "createdOn",
                     created, "updatedOn", created, "createdBy", "updatedBy");
}

static json_t *role_json(const vault_role *r, const char *sub)
{
    char id[200];
    if (sub && *sub)
        snprintf(id, sizeof(id),
                 "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", sub,
                 r->id);
    else
        snprintf(id, sizeof(id), "/providers/Microsoft.Authorization/roleDefinitions/%s", r->id);
    json_t *actions = json_array(), *data = json_array();
    for (const char *const *a = r->actions; *a; a++)
        json_array_append_new(actions, json_string(*a));
    for (const char *const *a = r->data_actions; *a; a++)
        json_array_append_new(data, json_string(*a));
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:[s],s:[{s:o,s:[],s:o,s:[]}]}}", "id", id,
                     "name", r->id, "type", "Microsoft.Authorization/roleDefinitions", "properties",
                     "roleName", r->name, "description", r->description, "type", "BuiltInRole",
                     "assignableScopes", "/", "permissions", "actions", actions, "notActions",
                     "dataActions", data, "notDataActions");
}

static int assignment_row(void *cls, const vault_row *r)
{
    assignment *a = cls;
    snprintf(a->id, sizeof(a->id), "%s", vault_row_text(r, 0));
    snprintf(a->vault, sizeof(a->vault), "%s", vault_row_text(r, 1));
    snprintf(a->key, sizeof(a->key), "%s", vault_row_text(r, 2));
    snprintf(a->principal, sizeof(a->principal), "%s", vault_row_text(r, 3));
    snprintf(a->principal_type, sizeof(a->principal_type), "%s", vault_row_text(r, 4));
    snprintf(a->role, sizeof(a->role), "%s", vault_row_text(r, 5));
    const char *d = vault_row_text(r, 6);
    snprintf(a->description, sizeof(a->description), "%s", d ? d : "");
    a->created = vault_row_int(r, 7);
    return 1;
}

#define ASSIGNMENT_COLS                                                                            \
    "SELECT id,vault,key_name,principal_id,principal_type,role_id,description,created FROM "       \
    "role_assignments "

/* Parses a scope; -1 after answering. For_write: only a vault or a key. */
static int parse_scope(kv_req *q, const char *scope, rscope *out, int for_write)
{
    memset(out, 0, sizeof(*out));
    if (*scope == '\0') {
        out->kind = SC_ALL;
        goto check;
    }
    arm_path ap;
    if (arm_path_parse(&ap, scope, strlen(scope)) != 0)
        goto bad;
    snprintf(out->sub, sizeof(out->sub), "%s", ap.sub);
    snprintf(out->group, sizeof(out->group), "%s", ap.group);
    if (ap.kind == ARM_SUBSCRIPTION) {
        out->kind = SC_SUB;
    } else if (ap.kind == ARM_GROUP) {
        out->kind = SC_GROUP;
    } else if (ap.kind == ARM_RESOURCE && arm_path_is(&ap, ARM_NS_VAULT, ARM_TYPE_VAULT) &&
               vault_name_valid_vault(ap.name)) {
        snprintf(out->vault, sizeof(out->vault), "%.31s", ap.name);
        snprintf(q->vault, sizeof(q->vault), "%.24s", ap.name);
        out->kind = SC_VAULT;
        if (ap.rest[0]) {
            const char *k = ap.rest;
            if (strncasecmp(k, "/keys/", 6) != 0 || !vault_name_valid_key(k + 6))
                goto bad;
            snprintf(out->key, sizeof(out->key), "%.127s", k + 6);
            out->kind = SC_KEY;
        }
        /* the vault must live where the scope says */
        vault_info v = {0};
        cf_err e = {0};
        int exists = vault_store_vault_get(q->app->store, ap.name, &v, &e) == CF_OK;
        if (exists)
            snprintf(out->vault, sizeof(out->vault), "%s", v.name);
        vault_info_clear(&v);
        vault_place p;
        vault_arm_get(q->app, ap.name, &p);
        if (!exists || !arm_eq(p.sub, ap.sub) || !arm_eq(p.group, ap.group)) {
            vault_api_error(q, 404, "ResourceNotFound", NULL,
                            "The Resource 'Microsoft.KeyVault/vaults/%s' under resource group "
                            "'%s' was not found.",
                            ap.name, ap.group);
            return -1;
        }
    } else {
        goto bad;
    }
check:
    if (for_write && out->kind != SC_VAULT && out->kind != SC_KEY) {
        vault_api_error(q, 400, "InvalidScope", NULL,
                        "keyvaultd takes role assignments at a key vault's scope or a "
                        "key's (/subscriptions/S/resourceGroups/G/providers/"
                        "Microsoft.KeyVault/vaults/V[/keys/K]), not at '%.300s'.",
                        *scope ? scope : "/");
        return -1;
    }
    return 0;
bad:
    vault_api_error(q, 400, "InvalidScope", NULL,
                    "The scope '%.300s' is not a subscription, resource group, key vault or key "
                    "id.",
                    scope);
    return -1;
}

/* Whether assignment a falls within listing scope s (at, above or below). */
static int in_scope(vault_app *app, const assignment *a, const rscope *s)
{
    if (s->kind == SC_ALL)
        return 1;
    vault_place p;
    vault_arm_get(app, a->vault, &p);
    if (!arm_eq(p.sub, s->sub))
        return 0;
    if (s->kind == SC_SUB)
        return 1;
    if (!arm_eq(p.group, s->group))
        return 0;
    if (s->kind == SC_GROUP)
        return 1;
    if (strcasecmp(a->vault, s->vault) != 0)
        return 0;
    return s->kind == SC_VAULT || a->key[0] == '\0' || strcasecmp(a->key, s->key) == 0;
}

typedef struct list_walk {
    assignment *rows;
    size_t n, cap;
    int oom;
} list_walk;

static int list_row(void *cls, const vault_row *r)
{
    list_walk *w = cls;
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        assignment *na = realloc(w->rows, nc * sizeof(*na));
        if (na == NULL) {
            w->oom = 1;
            return 1;
        }
        w->rows = na;
        w->cap = nc;
    }
    assignment_row(&w->rows[w->n++], r);
    return 0;
}

/* "principalId eq '<uuid>'" (the only $filter besides atScope(), which
 * changes nothing here); *out "" when there is none. -1 after answering. */
static int principal_filter(kv_req *q, char out[64])
{
    const char *f = http_req_query(q->r, "$filter");
    out[0] = '\0';
    if (f == NULL || *f == '\0' || strcasecmp(f, "atScope()") == 0)
        return 0;
    static const char pre[] = "principalId eq '";
    size_t pn = sizeof(pre) - 1, n = strlen(f);
    if (n > pn + 1 && strncasecmp(f, pre, pn) == 0 && f[n - 1] == '\'' && n - pn - 1 < 64) {
        memcpy(out, f + pn, n - pn - 1);
        out[n - pn - 1] = '\0';
        if (arm_uuid_valid(out))
            return 0;
    }
    vault_api_error(q, 400, "BadRequest", NULL,
                    "Unsupported $filter '%.200s': use principalId eq '<object id>' or "
                    "atScope().",
                    f);
    return -1;
}

static void list_assignments(kv_req *q, const char *scope)
{
    q->operation = "RoleAssignmentList";
    rscope s;
    char principal[64];
    if (parse_scope(q, scope, &s, 0) != 0 || principal_filter(q, principal) != 0)
        return;
    list_walk w = {0};
    cf_err e = {0};
    if (vault_store_query(q->app->store, list_row, &w, NULL, &e,
                          ASSIGNMENT_COLS "ORDER BY vault, key_name, created, id", "") != CF_OK ||
        w.oom) {
        free(w.rows);
        if (e.code == CF_OK)
            cf_err_set(&e, CF_ENOMEM, "out of memory");
        vault_api_error_cf(q, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < w.n; i++)
        if (in_scope(q->app, &w.rows[i], &s) &&
            (principal[0] == '\0' || strcasecmp(principal, w.rows[i].principal) == 0))
            json_array_append_new(arr, assignment_json(q->app, &w.rows[i]));
    free(w.rows);
    vault_api_respond(q, 200, json_pack("{s:o}", "value", arr));
}

/* The assignment named id at scope s; 0 found, 1 absent, -1 after
 * answering an error. */
static int find_assignment(kv_req *q, const rscope *s, const char *id, assignment *out)
{
    cf_err e = {0};
    memset(out, 0, sizeof(*out));
    if (vault_store_query(q->app->store, assignment_row, out, NULL, &e,
                          ASSIGNMENT_COLS "WHERE id=?1", "t", id) != CF_OK) {
        vault_api_error_cf(q, &e);
        return -1;
    }
    if (out->id[0] == '\0' || strcasecmp(out->vault, s->vault) != 0 ||
        strcasecmp(out->key, s->key) != 0)
        return 1;
    return 0;
}

static void put_assignment(kv_req *q, const rscope *s, const char *id)
{
    q->operation = "RoleAssignmentPut";
    json_t *body = NULL;
    if (q->r->body.len)
        body =
            json_loadb((const char *)q->r->body.data, q->r->body.len, JSON_REJECT_DUPLICATES, NULL);
    json_t *props = json_object_get(body, "properties");
    const char *def = json_string_value(json_object_get(props, "roleDefinitionId"));
    const char *principal = json_string_value(json_object_get(props, "principalId"));
    const char *ptype = json_string_value(json_object_get(props, "principalType"));
    const char *desc = json_string_value(json_object_get(props, "description"));
    const vault_role *role = vault_role_find(def);
    if (!json_is_object(props) || def == NULL || principal == NULL) {
        vault_api_error(q, 400, "InvalidRoleAssignmentRequest", NULL,
                        "The body must be {\"properties\": {\"roleDefinitionId\": \"…\", "
                        "\"principalId\": \"…\"}}.");
        goto out;
    }
    if (role == NULL) {
        vault_api_error(q, 400, "RoleDefinitionDoesNotExist", NULL,
                        "The specified role definition with ID '%.200s' does not exist: "
                        "keyvaultd has Azure's built-in Key Vault roles.",
                        def);
        goto out;
    }
    if (!arm_uuid_valid(principal)) {
        vault_api_error(q, 400, "InvalidPrincipalId", NULL,
                        "A valid principal ID must be provided for role assignment: '%.64s'.",
                        principal);
        goto out;
    }
    if (ptype && (strlen(ptype) >= 32 || *ptype == '\0')) {
        vault_api_error(q, 400, "InvalidRoleAssignmentRequest", NULL, "principalType is invalid.");
        goto out;
    }
    if (desc && strlen(desc) >= 256) {
        vault_api_error(q, 400, "InvalidRoleAssignmentRequest", NULL,
                        "description is longer than 255 characters.");
        goto out;
    }
    if (s->kind == SC_KEY) {
        vault_keyver kv = {0};
        cf_err ke = {0};
        cf_code krc = vault_store_version_get(q->app->store, s->vault, s->key, NULL, 0, &kv, &ke);
        vault_keyver_clear(&kv);
        if (krc != CF_OK) {
            vault_api_error(q, 404, "ResourceNotFound", NULL,
                            "The key '%s' of vault '%s' does not exist: a key scope names a key.",
                            s->key, s->vault);
            goto out;
        }
    }
    assignment cur;
    int f = find_assignment(q, s, id, &cur);
    if (f < 0)
        goto out;
    if (f == 0 || cur.id[0]) {
        /* the name is taken: the same assignment again is a no-op */
        int same = f == 0 && strcasecmp(cur.principal, principal) == 0 &&
                   strcasecmp(cur.role, role->id) == 0;
        if (same) {
            vault_api_respond(q, 200, assignment_json(q->app, &cur));
        } else {
            vault_api_error(q, 409, "RoleAssignmentUpdateNotPermitted", NULL,
                            "Tenant ID, application ID, principal ID, and scope are not allowed "
                            "to be updated: the role assignment '%s' exists.",
                            id);
        }
        goto out;
    }
    /* one assignment per (scope, principal, role) */
    assignment dup = {0};
    cf_err e = {0};
    if (vault_store_query(q->app->store, assignment_row, &dup, NULL, &e,
                          ASSIGNMENT_COLS "WHERE vault=?1 AND key_name=?2 AND principal_id=?3 "
                                          "AND role_id=?4",
                          "tttt", s->vault, s->key, principal, role->id) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    if (dup.id[0]) {
        vault_api_error(q, 409, "RoleAssignmentExists", NULL,
                        "The role assignment already exists (%s).", dup.id);
        goto out;
    }
    assignment a = {0};
    snprintf(a.id, sizeof(a.id), "%s", id);
    for (char *c = a.id; *c; c++)
        *c = (char)lower((unsigned char)*c);
    snprintf(a.vault, sizeof(a.vault), "%s", s->vault);
    snprintf(a.key, sizeof(a.key), "%s", s->key);
    snprintf(a.principal, sizeof(a.principal), "%s", principal);
    for (char *c = a.principal; *c; c++)
        *c = (char)lower((unsigned char)*c);
    snprintf(a.principal_type, sizeof(a.principal_type), "%s", ptype ? ptype : "ServicePrincipal");
    snprintf(a.role, sizeof(a.role), "%s", role->id);
    snprintf(a.description, sizeof(a.description), "%s", desc ? desc : "");
    a.created = (int64_t)time(NULL);
    if (vault_store_query(q->app->store, NULL, NULL, NULL, &e,
                          "INSERT INTO role_assignments(id,vault,key_name,principal_id,"
                          "principal_type,role_id,description,created) "
                          "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                          "ttttttti", a.id, a.vault, a.key, a.principal, a.principal_type, a.role,
                          a.description[0] ? a.description : NULL, a.created) != CF_OK) {
        vault_api_error_cf(q, &e);
        goto out;
    }
    cf_log(CF_LOG_INFO, "role assignment created", "vault", a.vault, "key", a.key, "principal",
           a.principal, "role", role->name, "request_id", q->r->request_id, NULL);
    vault_api_respond(q, 201, assignment_json(q->app, &a));
out:
    json_decref(body);
}

static void assignment_by_name(kv_req *q, const char *scope, const char *id)
{
    int del = strcmp(q->method, "DELETE") == 0;
    int put = strcmp(q->method, "PUT") == 0;
    q->operation = del ? "RoleAssignmentDelete" : put ? "RoleAssignmentPut" : "RoleAssignmentGet";
    if (!del && !put && strcmp(q->method, "GET") != 0) {
        vault_api_error(q, 405, "MethodNotAllowed", NULL, "The method %s is not allowed on %s.",
                        q->method, q->r->path);
        return;
    }
    if (!arm_uuid_valid(id)) {
        vault_api_error(q, 400, "InvalidRoleAssignmentId", NULL,
                        "The role assignment ID '%.64s' is not valid: it must be a GUID.", id);
        return;
    }
    rscope s;
    if (parse_scope(q, scope, &s, 1) != 0)
        return;
    if (put) {
        put_assignment(q, &s, id);
        return;
    }
    assignment a;
    int f = find_assignment(q, &s, id, &a);
    if (f < 0)
        return;
    if (f == 1) {
        if (del) /* ARM: deleting what is not there is 204 */
            vault_api_respond(q, 204, NULL);
        else
            vault_api_error(q, 404, "RoleAssignmentNotFound", NULL,
                            "The role assignment '%s' is not found.", id);
        return;
    }
    if (del) {
        cf_err e = {0};
        if (vault_store_query(q->app->store, NULL, NULL, NULL, &e,
                              "DELETE FROM role_assignments WHERE id=?1", "t", a.id) != CF_OK) {
            vault_api_error_cf(q, &e);
            return;
        }
        cf_log(CF_LOG_INFO, "role assignment deleted", "vault", a.vault, "key", a.key, "principal",
               a.principal, "request_id", q->r->request_id, NULL);
    }
    vault_api_respond(q, 200, assignment_json(q->app, &a));
}

static void role_definitions(kv_req *q, const char *scope, const char *id)
{
    q->operation = "RoleDefinitionList";
    if (strcmp(q->method, "GET") != 0) {
        vault_api_error(q, 405, "MethodNotAllowed", NULL, "The method %s is not allowed on %s.",
                        q->method, q->r->path);
        return;
    }
    rscope s;
    if (parse_scope(q, scope, &s, 0) != 0)
        return;
    if (id) {
        const vault_role *r = vault_role_find(id);
        if (r == NULL || !arm_uuid_valid(id)) {
            vault_api_error(q, 404, "RoleDefinitionDoesNotExist", NULL,
                            "The role definition '%.64s' does not exist.", id);
            return;
        }
        vault_api_respond(q, 200, role_json(r, s.sub));
        return;
    }
    /* $filter=roleName eq 'NAME' */
    const char *f = http_req_query(q->r, "$filter");
    char name[128] = "";
    if (f && *f) {
        static const char pre[] = "roleName eq '";
        size_t pn = sizeof(pre) - 1, n = strlen(f);
        if (n <= pn + 1 || strncasecmp(f, pre, pn) != 0 || f[n - 1] != '\'' ||
            n - pn - 1 >= sizeof(name)) {
            vault_api_error(q, 400, "BadRequest", NULL,
                            "Unsupported $filter '%.200s': use roleName eq '<role name>'.", f);
            return;
        }
        memcpy(name, f + pn, n - pn - 1);
        name[n - pn - 1] = '\0';
    }
    json_t *arr = json_array();
    for (const vault_role *r = vault_roles; r->id; r++)
        if (name[0] == '\0' || strcasecmp(name, r->name) == 0)
            json_array_append_new(arr, role_json(r, s.sub));
    vault_api_respond(q, 200, json_pack("{s:o}", "value", arr));
}

void vault_rbac_route(kv_req *q, const char *scope, const char *tail)
{
    const char *slash = strchr(tail, '/');
    size_t head = slash ? (size_t)(slash - tail) : strlen(tail);
    const char *id = slash ? slash + 1 : NULL;
    if (id && (*id == '\0' || strchr(id, '/'))) {
        q->operation = "VaultRequest";
        vault_api_error(q, 404, "NotFound", NULL, "No such operation: %s %.300s", q->method,
                        q->r->path);
        return;
    }
    if (head == strlen("roleAssignments") && strncasecmp(tail, "roleAssignments", head) == 0) {
        if (id)
            return assignment_by_name(q, scope, id);
        if (strcmp(q->method, "GET") != 0) {
            q->operation = "RoleAssignmentList";
            vault_api_error(q, 405, "MethodNotAllowed", NULL, "The method %s is not allowed on %s.",
                            q->method, q->r->path);
            return;
        }
        return list_assignments(q, scope);
    }
    if (head == strlen("roleDefinitions") && strncasecmp(tail, "roleDefinitions", head) == 0)
        return role_definitions(q, scope, id);
    q->operation = "VaultRequest";
    vault_api_error(q, 404, "NotFound", NULL,
                    "No such operation: %s %.300s (keyvaultd serves roleAssignments and "
                    "roleDefinitions of Microsoft.Authorization)",
                    q->method, q->r->path);
}
