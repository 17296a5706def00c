/*
 * arm.h -- where cofferd's resources live in the Azure Resource Manager
 * hierarchy: subscriptions, their resource groups, and the group of each
 * identity and registry (DESIGN §5, docs/control-plane.md).
 *
 *   subscriptions        id (UUID, lower case), displayName, tenant, state,
 *                        is_default (the one `cofferd --subscription` names;
 *                        unqualified requests and the migration use it)
 *   resource_groups      (subscription, lower-cased name) -> name as given,
 *                        location
 *   resource_placements  (kind, name) -> subscription, group, location:
 *                        kind "identity" or "registry"; names are unique
 *                        per kind across the installation (a registry name
 *                        is its DNS label, as in ACR; identity names follow)
 *
 * Kept apart from the other tables (its own file and statements, on the
 * store's SQL seam, db.h), in SQL that SQLite and PostgreSQL both accept;
 * the tables are the metadata store's migration 2 (meta.c). Placements
 * are written before a resource is created and removed after it is
 * deleted, so a crash between the two leaves at most a placement without
 * its resource, which arm_store_init sweeps. Vaults live in keyvaultd,
 * which records their group itself; the coffer client checks the group
 * here before it creates one (docs/keyvault.md).
 *
 * Migration: arm_store_init puts every identity and registry that has no
 * placement (created before resource groups existed) into the default
 * group of the default subscription, which it creates when missing. It is
 * idempotent and runs at every start.
 */
#ifndef CF_STORE_ARM_H
#define CF_STORE_ARM_H

#include <stdint.h>

#include "base/armid.h"
#include "base/err.h"

#define ARM_KIND_IDENTITY "identity"
#define ARM_KIND_REGISTRY "registry"
#define ARM_LOCATION_MAX 64
#define ARM_DEFAULT_GROUP "default"
#define ARM_DEFAULT_LOCATION "local"

/* The DDL of the tables, per engine: meta.c's migration 2. */
extern const char arm_schema_sqlite[];
extern const char arm_schema_postgres[];

typedef struct arm_subscription {
    char id[ARM_SUB_MAX + 1];
    char display_name[128];
    char tenant_id[40];
    char state[16]; /* Enabled */
    int is_default;
    int64_t created_at;
} arm_subscription;

typedef struct arm_group {
    char sub[ARM_SUB_MAX + 1];
    char name[ARM_GROUP_MAX + 1];
    char location[ARM_LOCATION_MAX];
    int64_t created_at;
} arm_group;

typedef struct arm_place {
    char sub[ARM_SUB_MAX + 1];
    char group[ARM_GROUP_MAX + 1]; /* the group's name as created */
    char location[ARM_LOCATION_MAX];
} arm_place;

typedef struct arm_defaults {
    const char *sub;      /* UUID */
    const char *tenant;   /* UUID */
    const char *group;    /* ARM_DEFAULT_GROUP unless configured */
    const char *location; /* ARM_DEFAULT_LOCATION unless configured */
} arm_defaults;

/* Makes d->sub the default subscription (created when
 * missing) with group d->group in it, places every unplaced identity and
 * registry there and drops placements whose resource is gone, in one
 * transaction. *migrated (may be NULL): the number of resources placed.
 * Call after meta_init (which made the tables). */
cf_code arm_store_init(const arm_defaults *d, int *migrated, cf_err *e);
/* The default subscription and group (copied at arm_store_init). */
const char *arm_default_sub(void);
const char *arm_default_group(void);

/* Subscriptions; ids compared case-insensitively. CF_ENOTFOUND. */
cf_code arm_sub_put(const arm_subscription *s, int *created, cf_err *e);
cf_code arm_sub_get(arm_subscription *out, const char *id, cf_err *e);
/* Every subscription, by id; fn must not call the store (as for
 * arm_place_each) and stops the walk by returning non-zero. */
cf_code arm_sub_each(int (*fn)(void *cls, const arm_subscription *s), void *cls, cf_err *e);

/* Resource groups; names compared case-insensitively. put: *created = 1
 * when new; an existing group keeps its location (CF_ECONFLICT when
 * another is asked for, as ARM refuses). */
cf_code arm_group_put(const arm_group *g, int *created, cf_err *e);
cf_code arm_group_get(arm_group *out, const char *sub, const char *name, cf_err *e);
/* The groups of a subscription, by name (fn as for arm_sub_each). */
cf_code arm_group_each(const char *sub, int (*fn)(void *cls, const arm_group *g), void *cls,
                       cf_err *e);
/* Removes the group row; CF_ECONFLICT while a resource is placed in it,
 * CF_ENOTFOUND. */
cf_code arm_group_delete(const char *sub, const char *name, cf_err *e);

/* Placements. put replaces; get: CF_ENOTFOUND when the resource has none. */
cf_code arm_place_put(const char *kind, const char *name, const char *sub, const char *group,
                      const char *location, cf_err *e);
cf_code arm_place_get(arm_place *out, const char *kind, const char *name, cf_err *e);
cf_code arm_place_delete(const char *kind, const char *name, cf_err *e);
/* The resources placed in sub (group NULL: every group of it) of kind
 * (NULL: both), ordered by kind then name. fn must not call the store;
 * it stops the walk by returning non-zero. */
cf_code arm_place_each(const char *sub, const char *group, const char *kind,
                       int (*fn)(void *cls, const char *kind, const char *name, const arm_place *p),
                       void *cls, cf_err *e);

/* ---- principals and role assignments (migration 6: docs/security.md) ----
 *
 *   mgmt_principals        object_id (UUID) -> app_id (UUID, unique),
 *                          subscription, display name, SHA-256 of the
 *                          secret (hex; the secret itself is never stored)
 *   mgmt_role_assignments  id (GUID) -> scope (an ARM id as given, and
 *                          lower-cased for matching), principal, role id
 */
extern const char arm_authz_schema_sqlite[];
extern const char arm_authz_schema_postgres[];

#define ARM_PRINCIPAL_NAME_MAX 128
#define ARM_SECRET_HASH_HEX 64

typedef struct arm_principal {
    char object_id[ARM_SUB_MAX + 1];
    char app_id[ARM_SUB_MAX + 1];
    char sub[ARM_SUB_MAX + 1];
    char display_name[ARM_PRINCIPAL_NAME_MAX];
    char secret_hash[ARM_SECRET_HASH_HEX + 1];
    int64_t created_at;
} arm_principal;

typedef struct arm_role_assignment {
    char id[ARM_SUB_MAX + 1];
    char scope[ARM_ID_MAX];
    char principal_id[ARM_SUB_MAX + 1];
    char role_id[ARM_SUB_MAX + 1];
    char created_by[ARM_PRINCIPAL_NAME_MAX];
    int64_t created_at;
} arm_role_assignment;

/* CF_EEXISTS when the app id or object id is taken. */
cf_code arm_principal_add(const arm_principal *p, cf_err *e);
/* By object id or app id (either, case-insensitive); CF_ENOTFOUND. */
cf_code arm_principal_get(arm_principal *out, const char *id, cf_err *e);
/* Replaces the principal's secret hash; CF_ENOTFOUND. */
cf_code arm_principal_secret_set(const char *object_id, const char *secret_hash, cf_err *e);
/* Deletes the principal and its role assignments; CF_ENOTFOUND. */
cf_code arm_principal_delete(const char *object_id, cf_err *e);
/* Every principal (sub NULL) or those of sub, by display name. */
cf_code arm_principal_each(const char *sub, int (*fn)(void *cls, const arm_principal *p), void *cls,
                           cf_err *e);

/* CF_EEXISTS when the id is taken or the same (scope, principal, role)
 * is assigned already. */
cf_code arm_role_add(const arm_role_assignment *a, cf_err *e);
/* CF_ENOTFOUND. */
cf_code arm_role_get(arm_role_assignment *out, const char *id, cf_err *e);
cf_code arm_role_delete(const char *id, cf_err *e);
/* Every assignment (principal NULL) or a principal's, by scope then id;
 * fn as for arm_place_each. */
cf_code arm_role_each(const char *principal, int (*fn)(void *cls, const arm_role_assignment *a),
                      void *cls, cf_err *e);
/* Drops the assignments at or below scope (a deleted resource or group):
 * an assignment follows what it is on, as in ARM. */
cf_code arm_role_forget(const char *scope, cf_err *e);

/* Whether a placement is in sub (and group, when not NULL), compared as
 * ARM compares: case-insensitively. */
int arm_place_in(const arm_place *p, const char *sub, const char *group);

#endif
