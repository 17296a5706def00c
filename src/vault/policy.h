/*
 * policy.h -- access policies of a vault (the Azure Key Vault access-policy
 * model, keys only).
 *
 * A vault's policies are a JSON array kept in the store exactly as this
 * module normalizes it:
 *
 *   [{"tenantId":"…","objectId":"…","applicationId":"…"?,
 *     "permissions":{"keys":["get","wrapKey",…]}}]
 *
 * Permission names are compared case-insensitively and stored in their
 * canonical spelling (the ARM enum: "wrapKey", "getrotationpolicy", …), in
 * the enum's order, without duplicates. An entry is identified by
 * (objectId, applicationId), both compared case-insensitively; an entry
 * with an applicationId is a compound identity that only matches a caller
 * presenting both. Pure functions over jansson values: no I/O, no locks.
 */
#ifndef CF_VAULT_POLICY_H
#define CF_VAULT_POLICY_H

#include <jansson.h>

#include "base/err.h"

#define VAULT_POLICY_MAX_ENTRIES 1024

typedef enum { VAULT_POLICY_ADD, VAULT_POLICY_REMOVE, VAULT_POLICY_REPLACE } vault_policy_op;

/* The canonical spelling of a key permission, or NULL when unknown. */
const char *vault_perm_canonical(const char *name);

/* Validates an array of access policy entries from a request; *out is a
 * new normalized array. */
cf_code vault_policy_normalize(json_t **out, const json_t *in, cf_err *e);

/* Applies add (merge permissions per identity), remove (drop the given
 * permissions; an entry listing none, or left with none, is removed) or
 * replace to `current`; *out is a new normalized array. `change` must be
 * normalized already. A remove naming an identity that has no entry is
 * CF_ENOTFOUND ("No matching policies found…", as az keyvault
 * delete-policy says) and changes nothing. */
cf_code vault_policy_apply(json_t **out, const json_t *current, const json_t *change,
                           vault_policy_op op, cf_err *e);

/* 1 when some entry for (oid, appid) grants perm (or "all"). */
int vault_policy_allows(const json_t *policies, const char *oid, const char *appid,
                        const char *perm);

/* The vault tenant a vault gets when none is given (mgmt.c): "no tenant". */
#define VAULT_TENANT_NONE "00000000-0000-0000-0000-000000000000"

/* 1 when a token of tenant token_tid (its tid claim) may be used on a vault
 * of tenant vault_tid. Checked only when both are set: a token without tid,
 * or a vault without a tenant (empty or VAULT_TENANT_NONE), passes; else the
 * two must be equal (case-insensitively, as GUIDs). Azure refuses a token
 * of another tenant with 401 and the challenge. */
int vault_tenant_allows(const char *vault_tid, const char *token_tid);

#endif
