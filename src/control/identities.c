/*
 * identities.c -- user-assigned managed identities (DESIGN §7): PUT, GET,
 * list and DELETE, at their ARM path
 * /subscriptions/S/resourceGroups/G/providers/Microsoft.ManagedIdentity/
 * userAssignedIdentities/{name} or the legacy /identities/{name}. An
 * identity is a name and two random UUIDs, its client id (what a
 * registry's encryption settings name) and its principal id (the object id
 * a vault's access policy or role assignment grants, the oid of the tokens
 * the issuer mints for it). PUT of an existing identity changes nothing
 * (200), so scripts may repeat it; names are unique across the
 * installation, so a PUT of a name that lives in another group is 409.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"

#define TYPE_IDENTITY ARM_NS_IDENTITY "/" ARM_TYPE_IDENTITY

json_t *identity_json(const meta_identity *id, const arm_place *p)
{
    char rid[ARM_ID_MAX];
    arm_place own;
    if (p)
        mgmt_arm_id(rid, p, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, id->name);
    else if (mgmt_resource_id(rid, ARM_KIND_IDENTITY, id->name, &own))
        p = &own;
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", rid, "name", id->name, "type",
                          TYPE_IDENTITY, "clientId", id->client_id, "principalId", id->principal_id,
                          "tenantId", id->tenant_id);
    if (j && p) {
        json_object_set_new(j, "location", json_string(p->location));
        json_object_set_new(j, "resourceGroup", json_string(p->group));
    }
    return j;
}

cf_code identity_ref_resolve(const char *ref, meta_identity *out, cf_err *e)
{
    const char *name = ctl_identity_ref_name(ref);
    arm_path ap;
    if (name == NULL) {
        if (arm_path_parse(&ap, ref, strlen(ref)) != 0 || ap.kind != ARM_RESOURCE ||
            !arm_path_is(&ap, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY) || ap.rest[0] ||
            !ctl_identity_name_valid(ap.name))
            return cf_err_set(e, CF_ENOTFOUND, "not an identity id");
        arm_place p;
        cf_code rc = arm_place_get(&p, ARM_KIND_IDENTITY, ap.name, e);
        if (rc != CF_OK)
            return rc;
        if (!arm_place_in(&p, ap.sub, ap.group))
            return cf_err_set(e, CF_ENOTFOUND, "identity %s is not in resource group %s", ap.name,
                              ap.group);
        name = ap.name;
    }
    return meta_identity_get(out, name, e);
}

static void identity_put(http_req *r, const mgmt_scope *s, const char *name)
{
    if (!ctl_identity_name_valid(name)) {
        mgmt_fail(r, 400, "InvalidName",
                  "The identity name '%.130s' is invalid: it must be 3-128 letters, digits, "
                  "'-' and '_', starting with a letter or digit.",
                  name);
        return;
    }
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    const char *location = json_string_value(json_object_get(body, "location"));
    char loc[ARM_LOCATION_MAX];
    snprintf(loc, sizeof(loc), "%s", location ? location : "");
    json_decref(body); /* an identity has no other settable property */
    meta_identity id;
    arm_group g;
    arm_place p;
    cf_err e = {0};
    pthread_mutex_lock(&mgmt_mu);
    if (mgmt_scope_group(r, s, &g) != 0)
        goto out;
    cf_code rc = meta_identity_get(&id, name, &e);
    if (rc == CF_OK) {
        cf_err pe = {0};
        if (arm_place_get(&p, ARM_KIND_IDENTITY, name, &pe) == CF_OK &&
            !arm_place_in(&p, g.sub, g.name)) {
            mgmt_fail(r, 409, "Conflict",
                      "The identity name '%s' is already used in resource group '%s': identity "
                      "names are unique across this coffer installation.",
                      name, p.group);
            goto out;
        }
        mgmt_reply(r, 200, identity_json(&id, NULL));
        goto out;
    }
    if (rc != CF_ENOTFOUND) {
        mgmt_fail_err(r, &e, "identity lookup");
        goto out;
    }
    cf_err_clear(&e);
    memset(&id, 0, sizeof(id));
    snprintf(id.name, sizeof(id.name), "%s", name);
    snprintf(id.tenant_id, sizeof(id.tenant_id), "%s", mgmt_g.tenant);
    rc = ctl_uuid_v4(id.client_id, &e);
    if (rc == CF_OK)
        rc = ctl_uuid_v4(id.principal_id, &e);
    /* the placement first: a crash before the identity leaves only a
     * placement, which the next start sweeps */
    if (rc == CF_OK)
        rc = arm_place_put(ARM_KIND_IDENTITY, name, g.sub, g.name, loc[0] ? loc : g.location, &e);
    if (rc == CF_OK)
        rc = meta_identity_create(&id, &e);
    if (rc != CF_OK) {
        cf_err de = {0};
        arm_place_delete(ARM_KIND_IDENTITY, name, &de);
        mgmt_fail_err(r, &e, "create identity");
        goto out;
    }
    cf_log(CF_LOG_INFO, "identity created", "request_id", r->request_id, "identity", id.name,
           "resource_group", g.name, "client_id", id.client_id, "principal_id", id.principal_id,
           NULL);
    mgmt_reply(r, 201, identity_json(&id, NULL));
out:
    pthread_mutex_unlock(&mgmt_mu);
}

typedef struct list_ctx {
    const mgmt_scope *s;
    json_t *arr;
} list_ctx;

static int list_add(void *cls, const meta_identity *id)
{
    list_ctx *l = cls;
    arm_place p;
    char rid[ARM_ID_MAX];
    int placed = mgmt_resource_id(rid, ARM_KIND_IDENTITY, id->name, &p);
    if ((l->s->sub && !(placed && mgmt_scope_has(l->s, &p))) || !mgmt_can_see(rid))
        return 0;
    json_array_append_new(l->arr, identity_json(id, placed ? &p : NULL));
    return 0;
}

cf_code identities_delete_one(const char *name, cf_err *e)
{
    cf_code rc = meta_identity_delete(name, e);
    if (rc == CF_OK) {
        mgmt_roles_forget(ARM_KIND_IDENTITY, name);
        cf_err pe = {0};
        if (arm_place_delete(ARM_KIND_IDENTITY, name, &pe) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove the identity's placement", "identity", name, "error",
                   pe.msg, NULL);
    }
    return rc;
}

void identities_handle(http_req *r, const mgmt_scope *s, const char *name)
{
    cf_err e = {0};
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (name == NULL) {
        if (!get) {
            mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                      r->path);
            return;
        }
        list_ctx l = {.s = s, .arr = json_array()};
        if (l.arr == NULL || meta_identity_each(list_add, &l, &e) != CF_OK) {
            json_decref(l.arr);
            mgmt_fail_err(r, &e, "list identities");
            return;
        }
        mgmt_reply(r, 200, json_pack("{s:o}", "value", l.arr));
        return;
    }
    if (strcmp(r->method, "PUT") == 0) {
        identity_put(r, s, name);
        return;
    }
    if (get || strcmp(r->method, "DELETE") == 0) {
        meta_identity id;
        arm_place p;
        if (!ctl_identity_name_valid(name)) {
            mgmt_not_found(r, s, TYPE_IDENTITY, name);
            return;
        }
        if (get) {
            if (meta_identity_get(&id, name, &e) != CF_OK) {
                if (e.code == CF_ENOTFOUND)
                    mgmt_not_found(r, s, TYPE_IDENTITY, name);
                else
                    mgmt_fail_err(r, &e, "identity lookup");
                return;
            }
            if (mgmt_place_lookup(r, s, ARM_KIND_IDENTITY, TYPE_IDENTITY, name, &p) != 0)
                return;
            mgmt_reply(r, 200, identity_json(&id, &p));
            return;
        }
        pthread_mutex_lock(&mgmt_mu);
        cf_code rc = CF_OK;
        if (meta_identity_get(&id, name, &e) != CF_OK) {
            rc = e.code;
        } else if (mgmt_place_lookup(r, s, ARM_KIND_IDENTITY, TYPE_IDENTITY, name, &p) != 0) {
            pthread_mutex_unlock(&mgmt_mu);
            return;
        } else {
            rc = identities_delete_one(name, &e);
        }
        pthread_mutex_unlock(&mgmt_mu);
        if (rc == CF_ENOTFOUND) {
            mgmt_not_found(r, s, TYPE_IDENTITY, name);
        } else if (rc == CF_ECONFLICT) {
            mgmt_fail(r, 409, "IdentityInUse",
                      "The identity '%s' is assigned to a registry (%s). Remove it from the "
                      "registry's identities first.",
                      name, e.msg);
        } else if (rc != CF_OK) {
            mgmt_fail_err(r, &e, "delete identity");
        } else {
            cf_log(CF_LOG_INFO, "identity deleted", "request_id", r->request_id, "identity", name,
                   NULL);
            mgmt_reply(r, 200, NULL);
        }
        return;
    }
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}
