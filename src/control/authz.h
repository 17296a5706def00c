/*
 * authz.h -- who may do what in cofferd's management API: the built-in
 * roles of the reference's RBAC and their evaluation over a caller's role
 * assignments (docs/security.md, "Tenants and roles"). Pure functions: no
 * store, no I/O, so the rules are unit-tested as they are.
 *
 * An operation is an action ("Microsoft.ContainerRegistry/registries/write")
 * on a scope (an ARM id: "/subscriptions/S/resourceGroups/G/providers/
 * Microsoft.ContainerRegistry/registries/R"). A caller may do it when one
 * of its assignments is at the scope or above it (arm_scope_covers: whole
 * segments, case-insensitive) and its role grants the action: one of the
 * role's actions matches it (arm_action_match) and none of its notActions
 * does. The roles, with the reference's published ids and permissions
 * (those cofferd has operations for):
 *
 *   Owner                      8e3af657-…  *
 *   Contributor                b24988ac-…  * but Microsoft.Authorization/(anything)/write|delete
 *   Reader                     acdd72a7-…  (anything)/read
 *   Managed Identity Operator  f1a07417-…  Microsoft.ManagedIdentity/userAssignedIdentities/
 *                                          (anything)/read and (anything)/assign/action
 */
#ifndef CF_CONTROL_AUTHZ_H
#define CF_CONTROL_AUTHZ_H

#include <stddef.h>

#define AUTHZ_ASSIGN_IDENTITY "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"

typedef struct authz_role {
    const char *id; /* the role definition's GUID */
    const char *name;
    const char *description;
    const char *const *actions;     /* NULL-terminated */
    const char *const *not_actions; /* NULL-terminated */
} authz_role;

/* The built-in roles, ended by one with a NULL id. */
extern const authz_role authz_roles[];

/* One role assignment of a caller, as evaluated. */
typedef struct authz_grant {
    const char *scope; /* an ARM id, or "" / "/" for everything */
    const authz_role *role;
} authz_grant;

/* The role a reference names: its name (any case), its GUID or a role
 * definition id ending in /roleDefinitions/GUID. NULL when unknown. */
const authz_role *authz_role_find(const char *ref);
/* Whether role r grants action. */
int authz_role_allows(const authz_role *r, const char *action);
/* Whether grants g[0..n) allow action on scope. */
int authz_allows(const authz_grant *g, size_t n, const char *scope, const char *action);
/* Whether the caller may see that scope exists: it may read it, or one of
 * its assignments lies below it (a Reader of one registry sees the
 * registry's group and subscription in their lists, as in ARM). */
int authz_sees(const authz_grant *g, size_t n, const char *scope);

/* The action of a management request on an ARM resource path: the
 * namespace/type, the child type when rest names one ("/tokens/T" adds
 * "/tokens"; "/repositories/a/b" adds "/repositories"), then read (GET,
 * HEAD), write (PUT, PATCH), delete (DELETE) or, for POST, the path's
 * last segment and "/action" ("registries/listCredentials/action",
 * "registries/tokens/generateCredentials/action"). 0, or -1 when it does
 * not fit. */
int authz_action_of(char *out, size_t cap, const char *ns, const char *type, const char *rest,
                    const char *method);

#endif
