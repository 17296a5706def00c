/*
 * authz.c -- the built-in roles and their evaluation (see authz.h).
 */
#include "control/authz.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/armid.h"

static const char *const ALL[] = {"*", NULL};
static const char *const NONE[] = {NULL};
static const char *const CONTRIBUTOR_NOT[] = {"Microsoft.Authorization/*/Delete",
                                              "Microsoft.Authorization/*/Write",
                                              "Microsoft.Authorization/elevateAccess/Action", NULL};
static const char *const READ[] = {"*/read", NULL};
static const char *const MI_OPERATOR[] = {
    "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
    "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
    "Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read",
    NULL};

const authz_role authz_roles[] = {
    {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner",
     "Grants full access to manage all resources, including the ability to assign roles in "
     "Azure RBAC.",
     ALL, NONE},
    {"b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor",
     "Grants full access to manage all resources, but does not allow you to assign roles in "
     "Azure RBAC.",
     ALL, CONTRIBUTOR_NOT},
    {"acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader",
     "View all resources, but does not allow you to make any changes.", READ, NONE},
    {"f1a07417-d97a-45cb-824c-7a7467783830", "Managed Identity Operator",
     "Read and Assign User Assigned Identity", MI_OPERATOR, NONE},
    {NULL, NULL, NULL, NULL, NULL},
};

const authz_role *authz_role_find(const char *ref)
{
    if (ref == NULL || *ref == '\0')
        return NULL;
    const char *slash = strrchr(ref, '/');
    const char *guid = slash ? slash + 1 : ref;
    for (const authz_role *r = authz_roles; r->id; r++) {
        if (strcasecmp(r->id, guid) == 0 &&
            (slash == NULL || strstr(ref, "/roleDefinitions/") || strstr(ref, "/roledefinitions/")))
            return r;
        if (slash == NULL && strcasecmp(r->name, ref) == 0)
            return r;
    }
    return NULL;
}

int authz_role_allows(const authz_role *r, const char *action)
{
    if (r == NULL || action == NULL)
        return 0;
    for (const char *const *n = r->not_actions; *n; n++)
        if (arm_action_match(*n, action))
            return 0;
    for (const char *const *a = r->actions; *a; a++)
        if (arm_action_match(*a, action))
            return 1;
    return 0;
}

int authz_allows(const authz_grant *g, size_t n, const char *scope, const char *action)
{
    for (size_t i = 0; i < n; i++)
        if (arm_scope_covers(g[i].scope, scope) && authz_role_allows(g[i].role, action))
            return 1;
    return 0;
}

int authz_sees(const authz_grant *g, size_t n, const char *scope)
{
    for (size_t i = 0; i < n; i++) {
        if (arm_scope_covers(scope, g[i].scope))
            return 1; /* an assignment at or below it */
        if (arm_scope_covers(g[i].scope, scope) && authz_role_allows(g[i].role, "x/read"))
            return 1; /* read granted above it */
    }
    return 0;
}

int authz_action_of(char *out, size_t cap, const char *ns, const char *type, const char *rest,
                    const char *method)
{
    int post = strcmp(method, "POST") == 0;
    const char *verb = post                                                           ? "action"
                       : strcmp(method, "DELETE") == 0                                ? "delete"
                       : (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) ? "write"
                                                                                      : "read";
    size_t w = (size_t)snprintf(out, cap, "%s/%s", ns, type);
    if (w >= cap)
        return -1;
    /* the child resource type (rest's first segment: a child's name may
     * hold slashes, as a repository's does), then a POST's operation (its
     * last segment) */
    const char *p = rest ? rest : "";
    if (*p == '/') {
        size_t first = strcspn(p + 1, "/");
        const char *last = strrchr(p, '/') + 1;
        int only = last == p + 1;
        int n = post && only ? snprintf(out + w, cap - w, "/%.*s", (int)first, p + 1)
                : post       ? snprintf(out + w, cap - w, "/%.*s/%s", (int)first, p + 1, last)
                             : snprintf(out + w, cap - w, "/%.*s", (int)first, p + 1);
        if (n < 0 || (size_t)n >= cap - w)
            return -1;
        w += (size_t)n;
    }
    int n = snprintf(out + w, cap - w, "/%s", verb);
    return n < 0 || (size_t)n >= cap - w ? -1 : 0;
}
