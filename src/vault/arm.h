/*
 * arm.h -- where keyvaultd's vaults live in the Azure Resource Manager
 * hierarchy, and the ARM paths of its management API (docs/keyvault.md,
 * "Resource groups and ARM ids").
 *
 * Subscriptions and resource groups belong to cofferd. A vault records the
 * subscription and group it was created under (table vault_arm in
 * keyvault.db: name -> subscription, group, location, and whether the
 * vault uses Azure RBAC instead of access policies), and is addressed at
 *
 *   /subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/NAME
 *
 * (GET, PUT, PATCH, DELETE, .../accessPolicies/{add|remove|replace}), the
 * lists at .../providers/Microsoft.KeyVault/vaults below a group or a
 * subscription. keyvaultd does not know which groups exist: the coffer
 * client checks the group on cofferd before it creates a vault in it.
 * Soft-deleted vaults are at /subscriptions/S/providers/Microsoft.KeyVault/
 * deletedVaults (the subscription's list) and .../locations/L/
 * deletedVaults/NAME[/purge]; a soft-deleted vault keeps its placement
 * until it is purged, and is recovered where it was. The legacy
 * /vaults/NAME paths still work and put a new vault in the default
 * subscription and group of the config (default_subscription,
 * default_resource_group), which is where vault_arm_init also puts every
 * vault made before groups existed. Vault names stay unique across the
 * service (they are DNS labels): a PUT of a name that lives in another
 * group is 409 VaultAlreadyExists.
 */
#ifndef CF_VAULT_ARM_H
#define CF_VAULT_ARM_H

#include <jansson.h>

#include "base/armid.h"
#include "vault/api_int.h"

typedef struct vault_place {
    char sub[ARM_SUB_MAX + 1];
    char group[ARM_GROUP_MAX + 1];
    char location[64];
    int rbac; /* enableRbacAuthorization */
} vault_place;

/* The table, then the migration: every vault without a placement goes to
 * the default group; placements of vanished vaults are dropped. *migrated
 * (may be NULL): how many were placed. */
cf_code vault_arm_init(vault_app *app, int *migrated, cf_err *e);

/* The vault's placement; a vault without one (only a crash can leave it)
 * is in the default group. */
void vault_arm_get(vault_app *app, const char *name, vault_place *out);
/* Whether the vault authorizes by role assignments (rbac.h) instead of
 * its access policies. */
int vault_arm_rbac(vault_app *app, const char *name);
/* The vault's ARM id into out. */
void vault_arm_id(vault_app *app, const char *name, char out[ARM_ID_MAX]);

/* Routes an ARM path (/subscriptions/..., /providers/...); 0 when the
 * path is not one, and the caller routes it. */
int vault_arm_route(kv_req *q);

/* mgmt.c's hooks. */
/* Sets the vault JSON's id, location, resourceGroup and
 * properties.enableRbacAuthorization. */
void vault_arm_decorate(kv_req *q, const char *name, json_t *vault);
/* Sets a soft-deleted vault's id (/subscriptions/S/providers/
 * Microsoft.KeyVault/locations/L/deletedVaults/NAME), properties.vaultId
 * (its ARM id), properties.location and tags. */
void vault_arm_decorate_deleted(kv_req *q, const char *name, json_t *deleted);
/* Whether a vault belongs in this request's listing (its ARM scope; a
 * deleted one: its subscription). */
int vault_arm_listed(kv_req *q, const char *name, int deleted);
/* After a vault PUT or PATCH was stored: a new vault's placement (the
 * request's group, else the default; body.location, else "local") and
 * properties.enableRbacAuthorization when the body gives it. */
cf_code vault_arm_after_put(kv_req *q, const char *name, const json_t *body, int created,
                            cf_err *e);
/* After a vault was soft-deleted: its role assignments (Azure drops them;
 * a recovered vault does not get them back). Its placement stays. */
void vault_arm_deleted(vault_app *app, const char *name);
/* After a vault was purged: its placement and role assignments. */
void vault_arm_forget(vault_app *app, const char *name);

#endif
