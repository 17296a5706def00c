/*
 * rbac.h -- Azure role-based access control for key vaults, beside access
 * policies (docs/keyvault.md, "Authorization: Azure RBAC").
 *
 * A vault created with properties.enableRbacAuthorization = true (the
 * "Azure role-based access control" permission model) ignores its access
 * policies: a caller may do a key operation when one of its role
 * assignments, at the vault's scope or at the key's
 * (<vault id>/keys/<name>), grants the operation's data action
 * (Microsoft.KeyVault/vaults/keys/unwrap/action, ...). The roles are
 * Azure's built-in Key Vault roles with their published ids and
 * permission sets, dataActions matched as ARM matches them (wildcards,
 * case-insensitive):
 *
 *   Key Vault Administrator                   00482a5a-…  vaults/(anything)
 *   Key Vault Crypto Officer                  14b46e9e-…  vaults/keys/(anything),
 *                                                         vaults/keyrotationpolicies/(anything)
 *   Key Vault Crypto Service Encryption User  e147488a-…  keys/read, keys/wrap/action,
 *                                                         keys/unwrap/action
 *   Key Vault Crypto User                     12338af0-…  keys/read, update, backup, encrypt,
 *                                                         decrypt, wrap, unwrap, sign, verify
 *   Key Vault Reader                          21090545-…  vaults/(anything)/read,
 *                                                         secrets/readMetadata/action
 *   Key Vault Crypto Service Release User     08bbd89e-…  keys/release/action
 * ("(anything)" is ARM's wildcard, the role data's '*'.)
 *
 * Role assignments are ARM resources of the management API (admin token):
 *
 *   PUT|GET|DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}
 *   GET {scope}/providers/Microsoft.Authorization/roleAssignments[?$filter=principalId eq '…']
 *   GET [{scope}]/providers/Microsoft.Authorization/roleDefinitions[/{guid}][?$filter=roleName eq
 * '…']
 *
 * where the scope of a PUT is a vault's ARM id or a key's below it, and a
 * listing's may also be a subscription, a group or nothing (every vault).
 * They live in keyvault.db (table role_assignments: scope as vault and key
 * names, so an assignment follows its vault), and go with their vault.
 * An assignment on a vault that uses access policies is kept and has no
 * effect until the vault moves to RBAC, as in Azure.
 */
#ifndef CF_VAULT_RBAC_H
#define CF_VAULT_RBAC_H

#include "vault/api_int.h"

typedef struct vault_role {
    const char *id; /* the role definition's GUID */
    const char *name;
    const char *description;
    const char *const *actions;      /* NULL-terminated */
    const char *const *data_actions; /* NULL-terminated */
} vault_role;

/* The built-in roles, NULL-terminated by a role with a NULL id. */
extern const vault_role vault_roles[];

/* The role a reference names: its name (any case), its GUID or a role
 * definition id ending in /roleDefinitions/GUID. NULL when unknown. */
const vault_role *vault_role_find(const char *ref);
/* The data action a key permission (policy.h's canonical name) stands
 * for; NULL for an unknown permission. */
const char *vault_rbac_action(const char *perm);
/* ARM's match of an action pattern ('*' matches any run of characters,
 * '/' included; case-insensitive). */
int vault_rbac_match(const char *pattern, const char *action);
/* Whether role r grants data action `action`. */
int vault_role_allows(const vault_role *r, const char *action);

/* Creates the role assignments table. */
cf_code vault_rbac_init(vault_app *app, cf_err *e);
/* 1 when a role assignment of principal oid on vault (or on its key
 * `key`, when not empty) grants perm. */
int vault_rbac_allows(vault_app *app, const char *vault, const char *key, const char *oid,
                      const char *perm);
/* The keys API's check on an RBAC vault: 1 when q's caller holds perm at
 * the vault or q->key; otherwise 403 Forbidden / ForbiddenByRbac has been
 * answered. */
int vault_rbac_authorize(kv_req *q, const char *vault, const char *perm);
/* The management API's role routes (arm.c): scope is the path before
 * /providers/Microsoft.Authorization/, tail what follows it. */
void vault_rbac_route(kv_req *q, const char *scope, const char *tail);
/* Drops every role assignment of a deleted vault. */
void vault_rbac_forget(vault_app *app, const char *vault);

#endif
