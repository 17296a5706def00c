/*
 * arm.c -- vaults in resource groups, and the ARM paths of the management
 * API (see arm.h). An ARM path is checked here (the vault must live where
 * the path says, or not exist yet for a PUT) and then handed to mgmt.c's
 * handlers as the legacy path it stands for, with the request's
 * subscription and group noted in the kv_req for the listing and the
 * placement of a new vault. Role assignments (paths with
 * /providers/Microsoft.Authorization/) go to rbac.c.
 */
#define CF_LOG_MOD "vault.arm"
#include "vault/arm.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "vault/rbac.h"
#include "vault/req.h"

#define TYPE_VAULT ARM_NS_VAULT "/" ARM_TYPE_VAULT
#define DEFAULT_LOCATION "local"

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS vault_arm("
                             " name TEXT PRIMARY KEY COLLATE NOCASE,"
                             " subscription_id TEXT NOT NULL, resource_group TEXT NOT NULL,"
                             " location TEXT NOT NULL, rbac INTEGER NOT NULL DEFAULT 0);";

cf_code vault_arm_init(vault_app *app, int *migrated, cf_err *e)
{
    int n = 0;
    cf_code rc = vault_store_script(app->store, SCHEMA, e);
    if (rc == CF_OK)
        rc = vault_store_query(app->store, NULL, NULL, NULL, e,
                               "DELETE FROM vault_arm WHERE name NOT IN (SELECT name FROM vaults)",
                               "");
    if (rc == CF_OK)
        rc = vault_store_query(app->store, NULL, NULL, &n, e,
                               "INSERT INTO vault_arm(name,subscription_id,resource_group,location,"
                               "rbac) SELECT name,?1,?2,?3,0 FROM vaults WHERE name NOT IN "
                               "(SELECT name FROM vault_arm)",
                               "ttt", app->cfg->default_subscription,
                               app->cfg->default_resource_group, DEFAULT_LOCATION);
    if (rc == CF_OK && n > 0) {
        char c[16];
        snprintf(c, sizeof(c), "%d", n);
        cf_log(CF_LOG_INFO, "vaults placed in the default resource group", "count", c,
               "subscription", app->cfg->default_subscription, "group",
               app->cfg->default_resource_group, NULL);
    }
    if (migrated)
        *migrated = n;
    return rc;
}

/* A bounded copy (a longer s is cut; the store's values never are). */
static void copy(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap; i++)
        dst[i] = s[i];
    dst[i] = '\0';
}

static int place_row(void *cls, const vault_row *r)
{
    vault_place *p = cls;
    copy(p->sub, sizeof(p->sub), vault_row_text(r, 0));
    copy(p->group, sizeof(p->group), vault_row_text(r, 1));
    copy(p->location, sizeof(p->location), vault_row_text(r, 2));
    p->rbac = (int)vault_row_int(r, 3);
    return 1;
}

void vault_arm_get(vault_app *app, const char *name, vault_place *out)
{
    cf_err e = {0};
    memset(out, 0, sizeof(*out));
    vault_store_query(app->store, place_row, out, NULL, &e,
                      "SELECT subscription_id,resource_group,location,rbac FROM vault_arm "
                      "WHERE name=?1",
                      "t", name);
    if (out->sub[0] == '\0') {
        copy(out->sub, sizeof(out->sub), app->cfg->default_subscription);
        copy(out->group, sizeof(out->group), app->cfg->default_resource_group);
        copy(out->location, sizeof(out->location), DEFAULT_LOCATION);
    }
}

int vault_arm_rbac(vault_app *app, const char *name)
{
    vault_place p;
    vault_arm_get(app, name, &p);
    return p.rbac;
}

void vault_arm_id(vault_app *app, const char *name, char out[ARM_ID_MAX])
{
    vault_place p;
    vault_arm_get(app, name, &p);
    if (arm_id_format(out, ARM_ID_MAX, p.sub, p.group, ARM_NS_VAULT, ARM_TYPE_VAULT, name) != 0)
        snprintf(out, ARM_ID_MAX, "/vaults/%s", name); /* cannot happen: bounded parts */
}

void vault_arm_decorate(kv_req *q, const char *name, json_t *vault)
{
    vault_place p;
    char id[ARM_ID_MAX];
    vault_arm_get(q->app, name, &p);
    vault_arm_id(q->app, name, id);
    json_object_set_new(vault, "id", json_string(id));
    json_object_set_new(vault, "location", json_string(p.location));
    json_object_set_new(vault, "resourceGroup", json_string(p.group));
    json_object_set_new(vault, "tags", json_object());
    json_t *props = json_object_get(vault, "properties");
    if (props)
        json_object_set_new(props, "enableRbacAuthorization", json_boolean(p.rbac));
}

/* ARM's DeletedVault id: /subscriptions/S/providers/Microsoft.KeyVault/
 * locations/L/deletedVaults/NAME. */
static void deleted_id(char *out, size_t cap, const vault_place *p, const char *name)
{
    snprintf(out, cap, "/subscriptions/%s/providers/%s/locations/%s/deletedVaults/%s", p->sub,
             ARM_NS_VAULT, p->location, name);
}

void vault_arm_decorate_deleted(kv_req *q, const char *name, json_t *deleted)
{
    vault_place p;
    char id[ARM_ID_MAX + 64], vid[ARM_ID_MAX];
    vault_arm_get(q->app, name, &p);
    vault_arm_id(q->app, name, vid);
    deleted_id(id, sizeof(id), &p, name);
    json_object_set_new(deleted, "id", json_string(id));
    json_t *props = json_object_get(deleted, "properties");
    if (props) {
        json_object_set_new(props, "vaultId", json_string(vid));
        json_object_set_new(props, "location", json_string(p.location));
        json_object_set_new(props, "tags", json_object());
    }
}

int vault_arm_listed(kv_req *q, const char *name, int deleted)
{
    if (q->arm_sub[0] == '\0')
        return 1;
    vault_place p;
    vault_arm_get(q->app, name, &p);
    /* deleted vaults are listed per subscription */
    return arm_eq(p.sub, q->arm_sub) &&
           (deleted || q->arm_group[0] == '\0' || arm_eq(p.group, q->arm_group));
}

cf_code vault_arm_after_put(kv_req *q, const char *name, const json_t *body, int created, cf_err *e)
{
    const json_t *rbac =
        json_object_get(json_object_get(body, "properties"), "enableRbacAuthorization");
    vault_place p;
    vault_arm_get(q->app, name, &p);
    if (created) {
        if (q->arm_sub[0]) {
            copy(p.sub, sizeof(p.sub), q->arm_sub);
            copy(p.group, sizeof(p.group), q->arm_group);
        }
        const char *loc = json_string_value(json_object_get(body, "location"));
        copy(p.location, sizeof(p.location), loc && *loc ? loc : DEFAULT_LOCATION);
        p.rbac = 0;
    }
    if (json_is_boolean(rbac))
        p.rbac = json_is_true(rbac);
    else if (!created)
        return CF_OK;
    cf_code rc = vault_store_query(
        q->app->store, NULL, NULL, NULL, e,
        "INSERT INTO vault_arm(name,subscription_id,resource_group,location,rbac) "
        "VALUES(?1,?2,?3,?4,?5) ON CONFLICT(name) DO UPDATE SET subscription_id=?2,"
        "resource_group=?3,location=?4,rbac=?5",
        "tttti", name, p.sub, p.group, p.location, (int64_t)p.rbac);
    if (rc == CF_OK && json_is_boolean(rbac))
        cf_log(CF_LOG_INFO, "vault permission model", "vault", name, "model",
               p.rbac ? "rbac" : "access policies", "request_id", q->r->request_id, NULL);
    return rc;
}

void vault_arm_deleted(vault_app *app, const char *name)
{
    vault_rbac_forget(app, name);
}

void vault_arm_forget(vault_app *app, const char *name)
{
    cf_err e = {0};
    if (vault_store_query(app->store, NULL, NULL, NULL, &e, "DELETE FROM vault_arm WHERE name=?1",
                          "t", name) != CF_OK)
        cf_log(CF_LOG_WARN, "cannot forget the vault's placement", "vault", name, "error", e.msg,
               NULL);
    vault_rbac_forget(app, name);
}

/* ---- routing ---- */

static int admin_only(kv_req *q)
{
    if (q->caller.is_admin)
        return 1;
    q->operation = "VaultRequest";
    vault_api_error(q, 403, "Forbidden", "AdminTokenRequired",
                    "The management API needs the admin token of this keyvaultd.");
    return 0;
}

/* Splits p at '/' into at most max segments of segs (each < 160 bytes);
 * the count, or -1 when there are more, one is empty or too long. */
static int split(const char *p, char segs[][160], int max)
{
    int n = 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == max || len == 0 || len >= 160)
            return -1;
        memcpy(segs[n], p, len);
        segs[n++][len] = '\0';
        p += len;
        if (*p == '/' && *++p == '\0')
            return -1;
    }
    return n;
}

/* The soft-deleted vaults' ARM paths (ARM's Vaults - List Deleted, Get
 * Deleted, Purge Deleted):
 *   GET  /subscriptions/S/providers/Microsoft.KeyVault/deletedVaults
 *   GET  /subscriptions/S/providers/Microsoft.KeyVault/locations/L/deletedVaults/NAME
 *   POST .../locations/L/deletedVaults/NAME/purge
 * 0 when the path is not one of them. */
static int deleted_route(kv_req *q, const char *path)
{
    static const char pfx[] = "/subscriptions/", prov[] = "/providers/" ARM_NS_VAULT "/";
    char sub[ARM_SUB_MAX + 1], segs[MAX_SEGS][160];
    const char *p = path + strlen(pfx), *slash = strchr(p, '/');
    if (slash == NULL || (size_t)(slash - p) != ARM_SUB_MAX ||
        strncasecmp(slash, prov, strlen(prov)) != 0)
        return 0;
    copy(sub, sizeof(sub), p);
    sub[ARM_SUB_MAX] = '\0';
    memset(segs, 0, sizeof(segs));
    int n = split(slash + strlen(prov), segs + 1, MAX_SEGS - 1);
    int list = n == 1 && strcasecmp(segs[1], "deletedVaults") == 0;
    int one = (n == 4 || (n == 5 && strcasecmp(segs[5], "purge") == 0)) &&
              strcasecmp(segs[1], "locations") == 0 && strcasecmp(segs[3], "deletedVaults") == 0;
    if (!arm_uuid_valid(sub) || (!list && !one))
        return 0;
    copy(q->arm_sub, sizeof(q->arm_sub), sub);
    snprintf(segs[0], sizeof(segs[0]), "deletedVaults");
    if (list) {
        vault_mgmt_route(q, segs, 1);
        return 1;
    }
    const char *name = segs[4];
    vault_info v = {0};
    vault_place pl;
    int gone = vault_name_valid_vault(name) &&
               vault_store_vault_get_deleted(q->app->store, name, &v, NULL) == CF_OK;
    vault_info_clear(&v);
    vault_arm_get(q->app, name, &pl);
    if (gone && (!arm_eq(pl.sub, sub) || !arm_eq(pl.location, segs[2]))) {
        snprintf(q->vault, sizeof(q->vault), "%.24s", name);
        q->operation = "VaultRequest";
        vault_api_error(q, 404, "ResourceNotFound", NULL,
                        "There is no soft-deleted vault '%s' in subscription '%s', location "
                        "'%.64s'.",
                        name, sub, segs[2]);
        return 1;
    }
    snprintf(segs[1], sizeof(segs[1]), "%s", name);
    if (n == 5)
        snprintf(segs[2], sizeof(segs[2]), "purge");
    vault_mgmt_route(q, segs, n - 2);
    return 1;
}

int vault_arm_route(kv_req *q)
{
    const char *path = q->r->path;
    if (strncasecmp(path, "/subscriptions", 14) != 0 && strncasecmp(path, "/providers/", 11) != 0)
        return 0;
    if (!admin_only(q))
        return 1;
    char scope[ARM_ID_MAX];
    const char *tail;
    if (arm_authz_split(path, scope, sizeof(scope), &tail) == 0) {
        vault_rbac_route(q, scope, tail);
        return 1;
    }
    if (strncasecmp(path, "/subscriptions/", 15) == 0 && deleted_route(q, path))
        return 1;
    arm_path ap;
    q->operation = "VaultRequest";
    if (arm_path_parse(&ap, path, strlen(path)) != 0 ||
        !arm_path_is(&ap, ARM_NS_VAULT, ARM_TYPE_VAULT)) {
        vault_api_error(q, 404, "NotFound", NULL,
                        "No such operation: %s %.300s (keyvaultd serves %s below a resource "
                        "group and role assignments; subscriptions and groups are cofferd's)",
                        q->method, path, TYPE_VAULT);
        return 1;
    }
    copy(q->arm_sub, sizeof(q->arm_sub), ap.sub);
    copy(q->arm_group, sizeof(q->arm_group), ap.group);
    char segs[MAX_SEGS][160];
    memset(segs, 0, sizeof(segs));
    snprintf(segs[0], sizeof(segs[0]), "vaults");
    if (ap.kind == ARM_TYPE_LIST) {
        vault_mgmt_route(q, segs, 1);
        return 1;
    }
    /* the vault's own path, or .../accessPolicies/{op} */
    int n = 2;
    snprintf(segs[1], sizeof(segs[1]), "%s", ap.name);
    if (ap.rest[0]) {
        const char *op = ap.rest + 1;
        const char *slash = strchr(op, '/');
        if (slash == NULL || strchr(slash + 1, '/') != NULL ||
            (size_t)(slash - op) != strlen("accessPolicies") ||
            strncasecmp(op, "accessPolicies", (size_t)(slash - op)) != 0 ||
            strlen(slash + 1) >= sizeof(segs[3])) {
            vault_api_error(q, 404, "NotFound", NULL, "No such operation: %s %.300s", q->method,
                            path);
            return 1;
        }
        snprintf(segs[2], sizeof(segs[2]), "accessPolicies");
        snprintf(segs[3], sizeof(segs[3]), "%s", slash + 1);
        n = 4;
    }
    if (vault_name_valid_vault(ap.name)) {
        /* a soft-deleted vault keeps its placement: it is recovered (PUT
         * createMode recover) where it was, and its name stays taken */
        vault_info v = {0};
        int live = vault_store_vault_get(q->app->store, ap.name, &v, NULL) == CF_OK;
        vault_info_clear(&v);
        int gone =
            !live && vault_store_vault_get_deleted(q->app->store, ap.name, &v, NULL) == CF_OK;
        vault_info_clear(&v);
        vault_place p;
        vault_arm_get(q->app, ap.name, &p);
        int placed = arm_eq(p.sub, ap.sub) && arm_eq(p.group, ap.group);
        int here = live && placed;
        int put = n == 2 && strcmp(q->method, "PUT") == 0;
        if ((live || gone) && !placed && put) {
            snprintf(q->vault, sizeof(q->vault), "%.24s", ap.name);
            vault_api_error(q, 409, "VaultAlreadyExists", NULL,
                            "The vault name '%s' is already in use (%sin resource group '%s'): "
                            "vault names are unique across this keyvaultd.",
                            ap.name, gone ? "soft-deleted, " : "", p.group);
            return 1;
        }
        if (!here && !put) {
            snprintf(q->vault, sizeof(q->vault), "%.24s", ap.name);
            vault_api_error(q, 404, "ResourceNotFound", NULL,
                            "The Resource '%s/%s' under resource group '%s' was not found.",
                            TYPE_VAULT, ap.name, ap.group);
            return 1;
        }
    }
    vault_mgmt_route(q, segs, n);
    return 1;
}
