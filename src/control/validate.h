/*
 * validate.h -- the management API's input rules, as pure functions (so
 * that every refusal is unit-tested apart from HTTP): resource names,
 * UUIDs, SKUs, identity types and references, key identifiers, and the
 * RFC 3339 timestamps of the answers.
 */
#ifndef CF_CONTROL_VALIDATE_H
#define CF_CONTROL_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CTL_IDENTITY_NAME_MIN 3
#define CTL_IDENTITY_NAME_MAX 128
#define CTL_UUID_LEN 36
#define CTL_KEY_ID_MAX 500 /* fits meta_registry.key_identifier */
#define CTL_IDENTITY_PREFIX "/identities/"

/* 3-128 of [A-Za-z0-9_-], the first alphanumeric. */
int ctl_identity_name_valid(const char *s);
/* 5-50 ASCII letters and digits (ACR's rule). */
int ctl_registry_name_valid(const char *s);
/* The rule as every refusal of a registry name states it, with an example. */
#define CTL_REGISTRY_NAME_RULE                                                                     \
    "a registry name is 5-50 letters and digits only (no dashes, dots or underscores), "           \
    "for example 'myregistry1'"
/* 8-4-4-4-12 hex digits, either case. */
int ctl_uuid_valid(const char *s);
/* A random (version 4) UUID, lower case. */
cf_code ctl_uuid_v4(char out[CTL_UUID_LEN + 1], cf_err *e);

/* "Basic" | "Standard" | "Premium" in any case -> the canonical spelling;
 * NULL otherwise. */
const char *ctl_sku_canonical(const char *s);

#define CTL_ID_SYSTEM 1
#define CTL_ID_USER 2
/* "None" | "SystemAssigned" | "UserAssigned" | "SystemAssigned, UserAssigned"
 * (any case, any spaces around the comma, either order) -> the canonical
 * spelling, *flags the CTL_ID_* bits; NULL otherwise. */
const char *ctl_identity_type_canonical(const char *s, int *flags);
/* The canonical type for the bits. */
const char *ctl_identity_type_name(int flags);

/* The identity name in a reference "/identities/NAME" (the prefix in any
 * case); NULL when the reference is malformed or the name invalid. */
const char *ctl_identity_ref_name(const char *ref);

/* https://host[:port]/keys/<name>[/<version>]: host of letters, digits,
 * dots and dashes; port 1-65535; name 1-127 of [A-Za-z0-9-]; version 32 hex
 * digits. *versioned (may be NULL) set when the version is present. */
int ctl_key_identifier_valid(const char *s, int *versioned);

/* Registry tokens (docs/control-plane.md "Registry authentication"): a
 * name is 5-50 of [A-Za-z0-9-]. */
int ctl_token_name_valid(const char *s);
/* A repository name by the OCI distribution grammar: components
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* separated by '/', at most 255 chars. */
int ctl_repository_name_valid(const char *s);
/* A token scope's repository: a repository name, or PREFIX/ followed by
 * '*' (every repository under PREFIX, a repository name). */
int ctl_scope_repository_valid(const char *s);
/* content/read | content/write | content/delete | metadata/read. */
int ctl_token_action_valid(const char *s);

/* "2026-11-29T08:36:56Z"; out of at least 21 bytes. */
void ctl_rfc3339(char *out, size_t cap, int64_t unix_s);

#endif
