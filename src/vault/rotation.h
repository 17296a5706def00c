/*
 * rotation.h -- key rotation policies: ISO 8601 durations and the
 * lifetimeActions rules of Azure Key Vault (docs/keyvault.md).
 *
 *   {"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},"action":{"type":"Rotate"}},
 *                       {"trigger":{"timeBeforeExpiry":"P30D"},"action":{"type":"Notify"}}],
 *    "attributes":{"expiryTime":"P2Y"}}
 *
 * At most one Rotate and one Notify action; each has exactly one trigger;
 * timeAfterCreate is for Rotate only. Triggers must be at least `min_s`
 * (7 days by default, "rotation_min_s" in the config) and expiryTime at
 * least 4 × min_s (28 days by default). Durations: PnYnMnWnDTnHnMnS with
 * a year of 365 days and a month of 30 days. Pure functions.
 */
#ifndef CF_VAULT_ROTATION_H
#define CF_VAULT_ROTATION_H

#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

cf_code vault_duration_parse(const char *s, int64_t *out_s, cf_err *e);

/* Validates a policy from a request; *out is the normalized policy
 * (action types spelled "Rotate"/"Notify", no id, no timestamps). */
cf_code vault_rotation_normalize(json_t **out, const json_t *in, unsigned min_s, cf_err *e);

/* The policy a key has when none was set (Notify 30 days before expiry). */
json_t *vault_rotation_default(void);

/* expiryTime in seconds, 0 when the policy sets none. */
int64_t vault_rotation_expiry(const json_t *policy);

typedef struct vault_rotation_due {
    int rotate;
    int notify;
} vault_rotation_due;

/* What the policy asks for now, for a latest version created at `created`
 * and expiring at `exp` (0: never). */
vault_rotation_due vault_rotation_decide(const json_t *policy, int64_t created, int64_t exp,
                                         int64_t now);

#endif
