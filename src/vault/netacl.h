/*
 * netacl.h -- a vault's network rules: the Azure Key Vault firewall
 * (ARM's properties.networkAcls), enforced on the keys data plane.
 *
 * A vault's rules are one JSON object, kept in the store exactly as this
 * module normalizes it:
 *
 *   {"bypass":"AzureServices"|"None","defaultAction":"Allow"|"Deny",
 *    "ipRules":[{"value":"10.1.0.0/16"},{"value":"192.0.2.7/32"}],
 *    "virtualNetworkRules":[]}
 *
 * defaultAction Allow lets every client address through (the rules are
 * then kept but unused, as in Azure). Deny lets through only a client
 * address inside one of ipRules, or, when bypass is AzureServices, a
 * trusted service. In coffer the trusted services are the callers whose
 * token comes from an issuer that keyvaultd's config marks
 * "trusted_service": true: the registry service cofferd, whose managed
 * identities are what a CMK registry unwraps its key with. The management
 * API (/vaults) is never subject to these rules, like ARM in Azure.
 *
 * IP rules are IPv4 addresses or CIDR ranges, as in Azure Key Vault: an
 * address is stored as a /32, a range must have no host bits set. A peer
 * on an IPv4-mapped IPv6 socket counts as its IPv4 address; any other
 * IPv6 peer matches no rule. Virtual network rules have no meaning here
 * (coffer has no virtual networks): a non-empty list is refused. Pure
 * functions over jansson values: no I/O, no locks.
 */
#ifndef CF_VAULT_NETACL_H
#define CF_VAULT_NETACL_H

#include <jansson.h>

#include "base/err.h"

#define VAULT_NETACL_MAX_IP_RULES 1000

/* The rules of a vault that has none set: Allow, bypass AzureServices
 * (what az keyvault create sends). New reference. */
json_t *vault_netacl_default(void);

/* Applies `change` (a networkAcls object from a request; members absent
 * keep their value in `current`, NULL current meaning the defaults) and
 * validates the result: *out is a new normalized object. CF_EINVAL with a
 * message naming the bad member. */
cf_code vault_netacl_apply(json_t **out, const json_t *current, const json_t *change, cf_err *e);

/* 1 when a caller at address peer (inet_ntop text) may use the keys data
 * plane of a vault with rules acls (NULL: the defaults); trusted: the
 * caller is a trusted service (see the header). */
int vault_netacl_allows(const json_t *acls, const char *peer, int trusted);

#endif
