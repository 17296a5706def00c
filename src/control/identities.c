/*
 * identities.c -- user-assigned managed identities (DESIGN §7): PUT, GET,
 * list and DELETE of /identities/{name}. An identity is a name and two
 * random UUIDs, its client id (what a registry's encryption settings
 * name) and its principal id (the object id a vault's access policy
 * grants, the oid of the tokens the issuer mints for it). PUT of an
 * existing identity changes nothing (200), so scripts may repeat it.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"

json_t *identity_json(const meta_identity *id)
{
    char rid[160];
    snprintf(rid, sizeof(rid), CTL_IDENTITY_PREFIX "%s", id->name);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", rid, "name", id->name, "type",
                     "Microsoft.ManagedIdentity/userAssignedIdentities", "clientId", id->client_id,
                     "principalId", id->principal_id, "tenantId", id->tenant_id);
}

static void not_found(http_req *r, const char *name)
{
    mgmt_fail(r, 404, "ResourceNotFound", "The identity '%.128s' was not found.", name);
}

static void identity_put(http_req *r, const char *name)
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
    json_decref(body); /* an identity has no settable property */
    meta_identity id;
    cf_err e = {0};
    pthread_mutex_lock(&mgmt_mu);
    cf_code rc = meta_identity_get(&id, name, &e);
    if (rc == CF_OK) {
        pthread_mutex_unlock(&mgmt_mu);
        mgmt_reply(r, 200, identity_json(&id));
        return;
    }
    if (rc != CF_ENOTFOUND) {
        pthread_mutex_unlock(&mgmt_mu);
        mgmt_fail_err(r, &e, "identity lookup");
        return;
    }
    cf_err_clear(&e);
    memset(&id, 0, sizeof(id));
    snprintf(id.name, sizeof(id.name), "%s", name);
    snprintf(id.tenant_id, sizeof(id.tenant_id), "%s", mgmt_g.tenant);
    rc = ctl_uuid_v4(id.client_id, &e);
    if (rc == CF_OK)
        rc = ctl_uuid_v4(id.principal_id, &e);
    if (rc == CF_OK)
        rc = meta_identity_create(&id, &e);
    pthread_mutex_unlock(&mgmt_mu);
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "create identity");
        return;
    }
    cf_log(CF_LOG_INFO, "identity created", "request_id", r->request_id, "identity", id.name,
           "client_id", id.client_id, "principal_id", id.principal_id, NULL);
    mgmt_reply(r, 201, identity_json(&id));
}

static int list_add(void *cls, const meta_identity *id)
{
    json_array_append_new(cls, identity_json(id));
    return 0;
}

void identities_handle(http_req *r, const char *name)
{
    cf_err e = {0};
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (name == NULL) {
        if (!get) {
            mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                      r->path);
            return;
        }
        json_t *arr = json_array();
        if (arr == NULL || meta_identity_each(list_add, arr, &e) != CF_OK) {
            json_decref(arr);
            mgmt_fail_err(r, &e, "list identities");
            return;
        }
        mgmt_reply(r, 200, json_pack("{s:o}", "value", arr));
        return;
    }
    if (strcmp(r->method, "PUT") == 0) {
        identity_put(r, name);
        return;
    }
    if (get || strcmp(r->method, "DELETE") == 0) {
        meta_identity id;
        if (!ctl_identity_name_valid(name)) {
            not_found(r, name);
            return;
        }
        if (get) {
            if (meta_identity_get(&id, name, &e) != CF_OK) {
                if (e.code == CF_ENOTFOUND)
                    not_found(r, name);
                else
                    mgmt_fail_err(r, &e, "identity lookup");
                return;
            }
            mgmt_reply(r, 200, identity_json(&id));
            return;
        }
        pthread_mutex_lock(&mgmt_mu);
        cf_code rc = meta_identity_delete(name, &e);
        pthread_mutex_unlock(&mgmt_mu);
        if (rc == CF_ENOTFOUND) {
            not_found(r, name);
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
