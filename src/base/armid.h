/*
 * armid.h -- Azure Resource Manager resource ids and request paths, parsed
 * and built. Shared by cofferd's management API, keyvaultd's and the coffer
 * client, so that the three read an id the same way.
 *
 * A resource lives in a resource group of a subscription, and its id (and
 * the path of its management API) says so:
 *
 *   /subscriptions/{sub}/resourceGroups/{group}/providers/{namespace}/{type}/{name}
 *
 * e.g. .../providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi1,
 * .../providers/Microsoft.KeyVault/vaults/kv1, .../providers/
 * Microsoft.ContainerRegistry/registries/reg1. The fixed words
 * (subscriptions, resourceGroups, providers), the namespace and the type
 * are compared case-insensitively, as ARM does: the reference's own
 * documents write both "resourceGroups" and "resourcegroups". Ids that
 * coffer writes always use the canonical spelling.
 *
 * Rules: a subscription id is a UUID (8-4-4-4-12 hex digits); a group name
 * is 1-90 of [A-Za-z0-9._()-], not ending with '.' (ARM also allows other
 * Unicode letters; coffer does not). Resource names are the resource
 * type's business and are only bounded here. Pure functions over
 * (pointer, length) cursors: no allocation, no I/O; a fuzz target
 * (tests/fuzz/fuzz_armid.c) holds them to that.
 */
#ifndef CF_BASE_ARMID_H
#define CF_BASE_ARMID_H

#include <stddef.h>

#define ARM_SUB_MAX 36   /* a UUID */
#define ARM_GROUP_MAX 90 /* ARM's limit */
#define ARM_SEG_MAX 160  /* one path segment (namespace, type, name) */
#define ARM_REST_MAX 512 /* what follows a resource's name */
#define ARM_ID_MAX 640   /* a formatted id */

#define ARM_NS_IDENTITY "Microsoft.ManagedIdentity"
#define ARM_TYPE_IDENTITY "userAssignedIdentities"
#define ARM_NS_REGISTRY "Microsoft.ContainerRegistry"
#define ARM_TYPE_REGISTRY "registries"
#define ARM_NS_VAULT "Microsoft.KeyVault"
#define ARM_TYPE_VAULT "vaults"

/* What a path addresses. */
typedef enum {
    ARM_SUBSCRIPTIONS,   /* /subscriptions */
    ARM_SUBSCRIPTION,    /* /subscriptions/S */
    ARM_GROUPS,          /* /subscriptions/S/resourceGroups */
    ARM_GROUP,           /* /subscriptions/S/resourceGroups/G */
    ARM_GROUP_RESOURCES, /* /subscriptions/S/resourceGroups/G/resources */
    ARM_TYPE_LIST,       /* /subscriptions/S[/resourceGroups/G]/providers/NS/TYPE */
    ARM_RESOURCE,        /* /subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME[REST] */
} arm_kind;

typedef struct arm_path {
    arm_kind kind;
    char sub[ARM_SUB_MAX + 1];     /* "" for ARM_SUBSCRIPTIONS */
    char group[ARM_GROUP_MAX + 1]; /* "" when the path names none */
    char ns[ARM_SEG_MAX];          /* namespace, as written */
    char type[ARM_SEG_MAX];        /* resource type, as written */
    char name[ARM_SEG_MAX];        /* "" unless ARM_RESOURCE */
    char rest[ARM_REST_MAX];       /* after the name: "" or "/seg/..." */
} arm_path;

/* Parses a path (or an id) of n bytes. 0 when it is one of the forms
 * above with a valid subscription id and group name and no empty segment;
 * -1 otherwise (then *out is zeroed). A trailing '/' is refused. */
int arm_path_parse(arm_path *out, const char *path, size_t n);

/* Whether p names a resource (or a list) of namespace ns and type type
 * (case-insensitively). */
int arm_path_is(const arm_path *p, const char *ns, const char *type);

/* 8-4-4-4-12 hex digits, either case. */
int arm_uuid_valid(const char *s);
/* 1-90 of [A-Za-z0-9._()-], not ending with '.'. */
int arm_group_name_valid(const char *s);

/* "/subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME" into out;
 * -1 when it does not fit. */
int arm_id_format(char *out, size_t cap, const char *sub, const char *group, const char *ns,
                  const char *type, const char *name);

/* ASCII case-insensitive equality of two NUL-terminated strings. */
int arm_eq(const char *a, const char *b);

/* Splits "{scope}/providers/Microsoft.Authorization/{tail}" (the marker in
 * any case) at the marker: the scope (n bytes, without the marker) into
 * scope (cap bytes), *tail to what follows the marker's last '/'. -1 when
 * there is no marker or the scope does not fit. The scope may be empty
 * (tenant-wide calls such as /providers/Microsoft.Authorization/...). */
int arm_authz_split(const char *path, char *scope, size_t cap, const char **tail);

/* ARM's match of a role's action pattern against an operation's action,
 * case-insensitively: '*' matches any run of characters, '/' included,
 * and a whole segment "*" between two slashes also matches none (so the
 * reference's "Microsoft.ManagedIdentity/userAssignedIdentities/ * /assign/action"
 * (without the spaces)
 * covers "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
 * as ARM applies it). Shared by keyvaultd's RBAC and cofferd's. */
int arm_action_match(const char *pattern, const char *action);
/* Whether an assignment at `scope` reaches resource id `id`: the same id,
 * or one below it on a segment boundary ("/subscriptions/S/resourceGroups/g"
 * reaches ".../g/providers/..." but not ".../g2"), compared
 * case-insensitively as ARM compares ids; "/" and "" reach everything. A
 * trailing '/' on either side is ignored. */
int arm_scope_covers(const char *scope, const char *id);

#endif
