/*
 * groups.c -- subscriptions and resource groups in cofferd's management
 * API, and the ARM paths of every resource (docs/control-plane.md):
 *
 *   GET  /subscriptions                          the subscriptions
 *   GET|PUT /subscriptions/{s}                   one ({"displayName"})
 *   GET  /subscriptions/{s}/resourceGroups       its groups
 *   PUT|GET|HEAD|DELETE /subscriptions/{s}/resourceGroups/{g}
 *   GET  /subscriptions/{s}/resourceGroups/{g}/resources
 *   .../providers/Microsoft.ManagedIdentity/userAssignedIdentities[/{name}]
 *   .../providers/Microsoft.ContainerRegistry/registries[/{name}[/...]]
 *     (below a group, or a subscription for the lists)
 *
 * cofferd owns subscriptions and groups; keyvaultd records the group each
 * vault was created in, and the coffer client checks a group here before
 * it creates a vault there (docs/keyvault.md). A group is a container: a
 * resource is created in one (the default group for the legacy paths) and
 * addressed there; the same resource at another group's path is 404, as
 * in ARM. Deleting a group deletes what cofferd holds in it, registries
 * first (their keys wiped, as `acr delete` does), then identities; it is
 * refused while an identity of the group is assigned to a registry of
 * another group, and for the default group (the legacy paths create there). The coffer client
 * deletes the group's vaults first and asks before any of it (`group delete --yes`).
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"

#define TYPE_GROUP "Microsoft.Resources/resourceGroups"

const mgmt_scope mgmt_scope_legacy = {NULL, NULL};

/* ---- helpers shared with identities.c and registries.c ---- */

void mgmt_arm_id(char out[ARM_ID_MAX], const arm_place *p, const char *ns, const char *type,
                 const char *name)
{
    if (arm_id_format(out, ARM_ID_MAX, p->sub, p->group, ns, type, name) != 0)
        snprintf(out, ARM_ID_MAX, "/%s", name); /* cannot happen: every part is bounded */
}

int mgmt_resource_id(char out[ARM_ID_MAX], const char *kind, const char *name, arm_place *place)
{
    int reg = strcmp(kind, ARM_KIND_REGISTRY) == 0;
    arm_place own;
    cf_err e = {0};
    if (place == NULL)
        place = &own;
    if (arm_place_get(place, kind, name, &e) == CF_OK) {
        mgmt_arm_id(out, place, reg ? ARM_NS_REGISTRY : ARM_NS_IDENTITY,
                    reg ? ARM_TYPE_REGISTRY : ARM_TYPE_IDENTITY, name);
        return 1;
    }
    snprintf(out, ARM_ID_MAX, "%s%s", reg ? "/registries/" : CTL_IDENTITY_PREFIX, name);
    return 0;
}

int mgmt_scope_has(const mgmt_scope *s, const arm_place *p)
{
    return s->sub == NULL || arm_place_in(p, s->sub, s->group);
}

static void sub_not_found(http_req *r, const char *sub)
{
    mgmt_fail(r, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.", sub);
}

static void group_not_found(http_req *r, const char *group)
{
    mgmt_fail(r, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", group);
}

/* The scope's subscription, and its group when it names one, exist; else
 * -1 after answering 404. */
static int scope_exists(http_req *r, const mgmt_scope *s, arm_group *g)
{
    arm_subscription sub;
    cf_err e = {0};
    if (s->sub == NULL)
        return 0;
    if (arm_sub_get(&sub, s->sub, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            sub_not_found(r, s->sub);
        else
            mgmt_fail_err(r, &e, "subscription lookup");
        return -1;
    }
    if (s->group == NULL)
        return 0;
    arm_group own;
    if (arm_group_get(g ? g : &own, s->sub, s->group, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            group_not_found(r, s->group);
        else
            mgmt_fail_err(r, &e, "resource group lookup");
        return -1;
    }
    return 0;
}

int mgmt_scope_group(http_req *r, const mgmt_scope *s, arm_group *out)
{
    if (s->sub == NULL) {
        cf_err e = {0};
        if (arm_group_get(out, arm_default_sub(), arm_default_group(), &e) != CF_OK) {
            mgmt_fail_err(r, &e, "default resource group");
            return -1;
        }
        return 0;
    }
    return scope_exists(r, s, out);
}

void mgmt_not_found(http_req *r, const mgmt_scope *s, const char *type, const char *name)
{
    if (s->sub && s->group) {
        mgmt_fail(r, 404, "ResourceNotFound",
                  "The Resource '%s/%.130s' under resource group '%s' was not found.", type, name,
                  s->group);
        return;
    }
    const char *noun = strstr(type, "registries") ? "registry" : "identity";
    mgmt_fail(r, 404, "ResourceNotFound", "The %s '%.130s' was not found.", noun, name);
}

int mgmt_place_lookup(http_req *r, const mgmt_scope *s, const char *kind, const char *type,
                      const char *name, arm_place *out)
{
    cf_err e = {0};
    memset(out, 0, sizeof(*out));
    if (s->sub && scope_exists(r, s, NULL) != 0)
        return -1;
    cf_code rc = arm_place_get(out, kind, name, &e);
    if (rc != CF_OK && rc != CF_ENOTFOUND) {
        mgmt_fail_err(r, &e, "resource group lookup");
        return -1;
    }
    if (s->sub == NULL)
        return 0; /* the legacy paths reach every group */
    if (rc == CF_ENOTFOUND || !mgmt_scope_has(s, out)) {
        mgmt_not_found(r, s, type, name);
        return -1;
    }
    return 0;
}

/* ---- subscriptions ---- */

static json_t *sub_json(const arm_subscription *s)
{
    char id[64];
    snprintf(id, sizeof(id), "/subscriptions/%s", s->id);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "id", id, "subscriptionId", s->id, "tenantId",
                     s->tenant_id, "displayName", s->display_name, "state", s->state, "isDefault",
                     s->is_default);
}

static int sub_add(void *cls, const arm_subscription *s)
{
    char scope[64];
    snprintf(scope, sizeof(scope), "/subscriptions/%s", s->id);
    if (mgmt_can_see(scope))
        json_array_append_new(cls, sub_json(s));
    return 0;
}

static void subscription_put(http_req *r, const char *id)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    json_t *dn = json_object_get(body, "displayName");
    if (dn && !json_is_string(dn)) {
        json_decref(body);
        mgmt_fail(r, 400, "InvalidRequest", "displayName must be a string.");
        return;
    }
    arm_subscription s = {0}, cur;
    cf_err e = {0};
    pthread_mutex_lock(&mgmt_mu);
    int exists = arm_sub_get(&cur, id, &e) == CF_OK;
    if (exists)
        s = cur;
    snprintf(s.id, sizeof(s.id), "%s", id);
    if (dn || !exists)
        snprintf(s.display_name, sizeof(s.display_name), "%s",
                 dn ? json_string_value(dn) : "coffer");
    if (!exists)
        snprintf(s.tenant_id, sizeof(s.tenant_id), "%s", mgmt_g.tenant);
    int created = 0;
    cf_code rc = arm_sub_put(&s, &created, &e);
    if (rc == CF_OK)
        rc = arm_sub_get(&cur, id, &e);
    pthread_mutex_unlock(&mgmt_mu);
    json_decref(body);
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "subscription");
        return;
    }
    if (created)
        cf_log(CF_LOG_INFO, "subscription created", "request_id", r->request_id, "subscription",
               cur.id, NULL);
    mgmt_reply(r, created ? 201 : 200, sub_json(&cur));
}

/* ---- resource groups ---- */

static json_t *group_json(const arm_group *g)
{
    char id[ARM_ID_MAX];
    snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s", g->sub, g->name);
    return json_pack("{s:s,s:s,s:s,s:s,s:n,s:n,s:{s:s}}", "id", id, "name", g->name, "type",
                     TYPE_GROUP, "location", g->location, "managedBy", "tags", "properties",
                     "provisioningState", "Succeeded");
}

static int group_add(void *cls, const arm_group *g)
{
    char scope[ARM_ID_MAX];
    snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/%s", g->sub, g->name);
    if (mgmt_can_see(scope))
        json_array_append_new(cls, group_json(g));
    return 0;
}

static void group_put(http_req *r, const char *sub, const char *name)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    json_t *loc = json_object_get(body, "location");
    const char *l = json_string_value(loc);
    if (l == NULL || *l == '\0' || strlen(l) >= ARM_LOCATION_MAX) {
        json_decref(body);
        mgmt_fail(r, 400, "LocationRequired",
                  "The location property is required for this definition: a string of at most "
                  "%d characters.",
                  ARM_LOCATION_MAX - 1);
        return;
    }
    arm_group g = {0};
    snprintf(g.sub, sizeof(g.sub), "%s", sub);
    snprintf(g.name, sizeof(g.name), "%s", name);
    snprintf(g.location, sizeof(g.location), "%s", l);
    json_decref(body);
    mgmt_scope s = {sub, NULL};
    cf_err e = {0};
    int created = 0;
    pthread_mutex_lock(&mgmt_mu);
    if (scope_exists(r, &s, NULL) != 0) {
        pthread_mutex_unlock(&mgmt_mu);
        return;
    }
    cf_code rc = arm_group_put(&g, &created, &e);
    if (rc == CF_OK)
        rc = arm_group_get(&g, sub, name, &e);
    pthread_mutex_unlock(&mgmt_mu);
    if (rc == CF_ECONFLICT) {
        mgmt_fail(r, 409, "InvalidResourceGroupLocation", "%s", e.msg);
        return;
    }
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "resource group");
        return;
    }
    if (created)
        cf_log(CF_LOG_INFO, "resource group created", "request_id", r->request_id, "subscription",
               g.sub, "group", g.name, "location", g.location, NULL);
    mgmt_reply(r, created ? 201 : 200, group_json(&g));
}

typedef struct res_list {
    json_t *arr;
} res_list;

static int res_add(void *cls, const char *kind, const char *name, const arm_place *p)
{
    res_list *l = cls;
    int reg = strcmp(kind, ARM_KIND_REGISTRY) == 0;
    const char *ns = reg ? ARM_NS_REGISTRY : ARM_NS_IDENTITY;
    const char *type = reg ? ARM_TYPE_REGISTRY : ARM_TYPE_IDENTITY;
    char id[ARM_ID_MAX], full[ARM_SEG_MAX * 2];
    mgmt_arm_id(id, p, ns, type, name);
    if (!mgmt_can_see(id))
        return 0;
    snprintf(full, sizeof(full), "%s/%s", ns, type);
    json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:s}", "id", id, "name", name, "type",
                                            full, "location", p->location));
    return 0;
}

/* What a group deletion removes, collected before anything is removed. */
typedef struct doomed {
    char (*names)[160];
    int *is_registry;
    size_t n, cap;
    int oom;
} doomed;

static int doomed_add(void *cls, const char *kind, const char *name, const arm_place *p)
{
    (void)p;
    doomed *d = cls;
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        void *nn = realloc(d->names, nc * sizeof(*d->names));
        if (nn)
            d->names = nn;
        void *nr = nn ? realloc(d->is_registry, nc * sizeof(*d->is_registry)) : NULL;
        if (nr)
            d->is_registry = nr;
        if (nn == NULL || nr == NULL) {
            d->oom = 1;
            return 1;
        }
        d->cap = nc;
    }
    snprintf(d->names[d->n], sizeof(d->names[d->n]), "%s", name);
    d->is_registry[d->n] = strcmp(kind, ARM_KIND_REGISTRY) == 0;
    d->n++;
    return 0;
}

static int doomed_has_identity(const doomed *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (!d->is_registry[i] && strcmp(d->names[i], name) == 0)
            return 1;
    return 0;
}

static int doomed_has_registry(const doomed *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->is_registry[i] && strcmp(d->names[i], name) == 0)
            return 1;
    return 0;
}

/* An identity of the group assigned to a registry that stays. */
typedef struct keeper_check {
    const doomed *d;
    const char *registry; /* the registry being walked */
    char identity[160], kept_registry[64];
    int found;
} keeper_check;

static int keeper_identity(void *cls, const char *name)
{
    keeper_check *k = cls;
    if (doomed_has_identity(k->d, name)) {
        snprintf(k->identity, sizeof(k->identity), "%s", name);
        snprintf(k->kept_registry, sizeof(k->kept_registry), "%s", k->registry);
        k->found = 1;
        return 1;
    }
    return 0;
}

typedef struct reg_names {
    char (*names)[64];
    size_t n, cap;
    int oom;
} reg_names;

static int reg_name_add(void *cls, const meta_registry *reg)
{
    reg_names *l = cls;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        void *nn = realloc(l->names, nc * sizeof(*l->names));
        if (nn == NULL) {
            l->oom = 1;
            return 1;
        }
        l->names = nn;
        l->cap = nc;
    }
    snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", reg->name);
    return 0;
}

static void group_delete(http_req *r, const char *sub, const char *name)
{
    mgmt_scope s = {sub, name};
    doomed d = {0};
    reg_names all = {0};
    keeper_check k = {.d = &d};
    cf_err e = {0};
    size_t gone = 0;
    pthread_mutex_lock(&mgmt_mu);
    if (scope_exists(r, &s, NULL) != 0)
        goto out;
    if (arm_eq(sub, arm_default_sub()) && arm_eq(name, arm_default_group())) {
        /* the legacy paths and `cofferd --registry` create there */
        mgmt_fail(r, 409, "Conflict",
                  "The default resource group '%s' cannot be deleted (cofferd --default-group).",
                  name);
        goto out;
    }
    if (arm_place_each(sub, name, NULL, doomed_add, &d, &e) != CF_OK || d.oom ||
        meta_registry_each(reg_name_add, &all, &e) != CF_OK || all.oom) {
        if (e.code == CF_OK)
            cf_err_set(&e, CF_ENOMEM, "out of memory");
        mgmt_fail_err(r, &e, "resource group contents");
        goto out;
    }
    /* refuse before removing anything: an identity that a registry of
     * another group still uses */
    for (size_t i = 0; i < all.n && !k.found; i++) {
        if (doomed_has_registry(&d, all.names[i]))
            continue;
        meta_registry reg;
        if (meta_registry_get(&reg, all.names[i], &e) == CF_OK) {
            k.registry = reg.name;
            meta_registry_identities(reg.id, keeper_identity, &k, &e);
        }
        OPENSSL_cleanse(&reg, sizeof(reg));
    }
    if (k.found) {
        mgmt_fail(r, 409, "IdentityInUse",
                  "The identity '%s' of resource group '%s' is assigned to registry '%s' of "
                  "another group: remove it from that registry first.",
                  k.identity, name, k.kept_registry);
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) { /* registries, then identities */
        for (size_t i = 0; i < d.n; i++) {
            if (d.is_registry[i] != (pass == 0))
                continue;
            cf_code rc;
            if (pass == 0) {
                meta_registry reg;
                rc = meta_registry_get(&reg, d.names[i], &e);
                if (rc == CF_OK)
                    rc = registries_delete_one(&reg, &e);
                OPENSSL_cleanse(&reg, sizeof(reg));
            } else {
                rc = identities_delete_one(d.names[i], &e);
            }
            if (rc == CF_ENOTFOUND) {
                cf_err pe = {0};
                arm_place_delete(pass == 0 ? ARM_KIND_REGISTRY : ARM_KIND_IDENTITY, d.names[i],
                                 &pe);
                cf_err_clear(&e);
                continue;
            }
            if (rc != CF_OK) {
                mgmt_fail_err(r, &e, d.names[i]);
                goto out;
            }
            gone++;
        }
    }
    if (arm_group_delete(sub, name, &e) != CF_OK) {
        mgmt_fail_err(r, &e, "delete resource group");
        goto out;
    }
    char gid[ARM_ID_MAX];
    snprintf(gid, sizeof(gid), "/subscriptions/%s/resourceGroups/%s", sub, name);
    cf_err fe = {0};
    if (arm_role_forget(gid, &fe) != CF_OK) /* they go with it, as in ARM */
        cf_log(CF_LOG_WARN, "cannot drop the group's role assignments", "group", name, "error",
               fe.msg, NULL);
    char n[16];
    snprintf(n, sizeof(n), "%zu", gone);
    cf_log(CF_LOG_INFO, "resource group deleted", "request_id", r->request_id, "subscription", sub,
           "group", name, "resources_deleted", n, NULL);
    mgmt_reply(r, 200, NULL);
out:
    pthread_mutex_unlock(&mgmt_mu);
    free(d.names);
    free(d.is_registry);
    free(all.names);
}

static void group_handle(http_req *r, const char *sub, const char *name)
{
    const char *m = r->method;
    if (strcmp(m, "PUT") == 0) {
        group_put(r, sub, name);
        return;
    }
    if (strcmp(m, "DELETE") == 0) {
        group_delete(r, sub, name);
        return;
    }
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", m, r->path);
        return;
    }
    mgmt_scope s = {sub, name};
    arm_group g;
    if (strcmp(m, "HEAD") == 0) { /* az group exists */
        cf_err e = {0};
        int there = arm_group_get(&g, sub, name, &e) == CF_OK;
        mgmt_audit_status(there ? 204 : 404, NULL);
        http_req_respond(r, http_resp_bytes(there ? 204 : 404, "", 0, NULL));
        return;
    }
    if (scope_exists(r, &s, &g) == 0)
        mgmt_reply(r, 200, group_json(&g));
}

/* ---- routing ---- */

static void not_allowed(http_req *r)
{
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}

void groups_dispatch(http_req *r)
{
    arm_path ap;
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (arm_path_parse(&ap, r->path, strlen(r->path)) != 0) {
        mgmt_fail(r, 404, "NotFound",
                  "No management endpoint at %.300s (a subscription id is a UUID; a resource "
                  "group name is 1-90 of letters, digits, '.', '_', '-', '(' and ')').",
                  r->path);
        return;
    }
    cf_err e = {0};
    mgmt_scope s = {ap.sub, ap.group[0] ? ap.group : NULL};
    switch (ap.kind) {
    case ARM_SUBSCRIPTIONS: {
        if (!get)
            return not_allowed(r);
        json_t *arr = json_array();
        if (arm_sub_each(sub_add, arr, &e) != CF_OK) {
            json_decref(arr);
            return mgmt_fail_err(r, &e, "list subscriptions");
        }
        return mgmt_reply(r, 200, json_pack("{s:o}", "value", arr));
    }
    case ARM_SUBSCRIPTION: {
        if (strcmp(r->method, "PUT") == 0)
            return subscription_put(r, ap.sub);
        if (!get)
            return not_allowed(r);
        arm_subscription sub;
        if (arm_sub_get(&sub, ap.sub, &e) != CF_OK)
            return e.code == CF_ENOTFOUND ? sub_not_found(r, ap.sub)
                                          : mgmt_fail_err(r, &e, "subscription");
        return mgmt_reply(r, 200, sub_json(&sub));
    }
    case ARM_GROUPS: {
        if (!get)
            return not_allowed(r);
        if (scope_exists(r, &s, NULL) != 0)
            return;
        json_t *arr = json_array();
        if (arm_group_each(ap.sub, group_add, arr, &e) != CF_OK) {
            json_decref(arr);
            return mgmt_fail_err(r, &e, "list resource groups");
        }
        return mgmt_reply(r, 200, json_pack("{s:o}", "value", arr));
    }
    case ARM_GROUP:
        return group_handle(r, ap.sub, ap.group);
    case ARM_GROUP_RESOURCES: {
        if (!get)
            return not_allowed(r);
        if (scope_exists(r, &s, NULL) != 0)
            return;
        res_list l = {json_array()};
        if (arm_place_each(ap.sub, ap.group, NULL, res_add, &l, &e) != CF_OK) {
            json_decref(l.arr);
            return mgmt_fail_err(r, &e, "list resources");
        }
        return mgmt_reply(r, 200, json_pack("{s:o}", "value", l.arr));
    }
    case ARM_TYPE_LIST:
    case ARM_RESOURCE:
        break;
    }
    int resource = ap.kind == ARM_RESOURCE;
    if (arm_path_is(&ap, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY)) {
        if (resource && ap.rest[0])
            return mgmt_fail(r, 404, "NotFound", "No management endpoint at %.300s.", r->path);
        if (!resource && scope_exists(r, &s, NULL) != 0)
            return;
        return identities_handle(r, &s, resource ? ap.name : NULL);
    }
    if (arm_path_is(&ap, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY)) {
        if (!resource && scope_exists(r, &s, NULL) != 0)
            return;
        if (mgmt_registry_route(r, &s, resource ? ap.name : NULL, ap.rest))
            return;
        return mgmt_fail(r, 404, "NotFound", "No management endpoint at %.300s.", r->path);
    }
    mgmt_fail(r, 404, "InvalidResourceType",
              "The resource type '%.64s' could not be found in the namespace '%.64s' of cofferd "
              "(it serves %s/%s and %s/%s; key vaults are keyvaultd's).",
              ap.type, ap.ns, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY, ARM_NS_REGISTRY,
              ARM_TYPE_REGISTRY);
}
