/*
 * mgmt_int.h -- what the management API's files share: the configuration,
 * the change lock, answers and errors, and the per-resource handlers.
 */
#ifndef CF_CONTROL_MGMT_INT_H
#define CF_CONTROL_MGMT_INT_H

#include <pthread.h>

#include <jansson.h>

#include "control/mgmt.h"
#include "store/arm.h"
#include "store/meta.h"

typedef struct mgmt_state {
    char admin[MGMT_ADMIN_TOKEN_LEN + 1];
    char tenant[40];
    char login_domain[256]; /* "" when none */
    char data_addr[300];
} mgmt_state;

extern mgmt_state mgmt_g;
/* Held by every handler that changes state. */
extern pthread_mutex_t mgmt_mu;

/* {"error":{"code","message"}} with status; logged once. */
void mgmt_fail(http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A store or OS failure: 404 ResourceNotFound, 409, 500 InternalError, ... */
void mgmt_fail_err(http_req *r, const cf_err *e, const char *what);
/* Answers body (taken; NULL answers 500) as JSON; body_json NULL and
 * status 200: an empty body. */
void mgmt_reply(http_req *r, unsigned status, json_t *body);
/* mgmt_reply for an answer that carries passwords: the serialized text
 * is wiped before it is freed. */
void mgmt_reply_secret(http_req *r, unsigned status, json_t *body);
/* The request body as a JSON object ({} when empty); NULL after answering
 * 400 InvalidRequest. */
json_t *mgmt_body(http_req *r);

/* Where a request addresses its resources (groups.c). The legacy paths
 * (/identities/NAME, /registries/NAME) have no scope: they reach a
 * resource in any group, and create in the default group. An ARM path
 * (/subscriptions/S/resourceGroups/G/providers/...) names both; a list
 * at /subscriptions/S/providers/... names only the subscription. */
typedef struct mgmt_scope {
    const char *sub;   /* NULL: legacy path */
    const char *group; /* NULL: every group of sub */
} mgmt_scope;

extern const mgmt_scope mgmt_scope_legacy;

/* groups.c: subscriptions, resource groups and the ARM paths */
/* Routes a path under /subscriptions; called after authentication. */
void groups_dispatch(http_req *r);
/* The placement of resource (kind, name), which must lie in scope: -1
 * after answering 404 ResourceNotFound (ARM's text, with type, the
 * resource type's ARM name) when it does not exist there. */
int mgmt_place_lookup(http_req *r, const mgmt_scope *s, const char *kind, const char *type,
                      const char *name, arm_place *out);
/* The group of scope s where a new resource goes (the default group for
 * the legacy paths): -1 after answering 404 ResourceGroupNotFound. */
int mgmt_scope_group(http_req *r, const mgmt_scope *s, arm_group *out);
/* Whether p is within s (always for the legacy scope). */
int mgmt_scope_has(const mgmt_scope *s, const arm_place *p);
/* The ARM id of a resource placed at p. */
void mgmt_arm_id(char out[ARM_ID_MAX], const arm_place *p, const char *ns, const char *type,
                 const char *name);
/* The id of resource (kind, name) where it lives; its placement into
 * *place (may be NULL). 1 when placed; 0 when it has none (only a crash
 * leaves that, until the next start), and out is its legacy id
 * (/identities/NAME, /registries/NAME). */
int mgmt_resource_id(char out[ARM_ID_MAX], const char *kind, const char *name, arm_place *place);
/* ARM's 404 for a resource absent from scope s. */
void mgmt_not_found(http_req *r, const mgmt_scope *s, const char *type, const char *name);

/* mgmt.c: /registries/{name}[/...] below the legacy or an ARM path; tail
 * is the path after the name, "" or "/seg/..." as it came (a repository
 * name has slashes); name NULL: the collection. 1 when answered, 0 when
 * no route matches (the caller answers 404). */
int mgmt_registry_route(http_req *r, const mgmt_scope *s, const char *name, const char *tail);

/* identities.c */
void identities_handle(http_req *r, const mgmt_scope *s, const char *name); /* name NULL: list */
/* The identity JSON of the contract; new reference. */
json_t *identity_json(const meta_identity *id, const arm_place *p);
/* The identity a reference names: "/identities/NAME" or its ARM id (which
 * must match where it lives). CF_ENOTFOUND otherwise. */
cf_code identity_ref_resolve(const char *ref, meta_identity *out, cf_err *e);
/* Deletes identity `name` and its placement; CF_ECONFLICT while assigned.
 * Called with mgmt_mu held. */
cf_code identities_delete_one(const char *name, cf_err *e);

/* registries.c */
void registries_handle(http_req *r, const mgmt_scope *s, const char *name, int check);
/* POST /registries/{name}/listCredentials | regenerateCredential */
void registries_credentials(http_req *r, const mgmt_scope *s, const char *name, const char *action);
/* The registry's loginServer (docs/cli.md "loginServer"). */
void registries_login_server(char *out, size_t n, const meta_registry *reg);
/* The registry named, within scope s; -1 after answering 404 (or the
 * store's error). */
int registries_lookup(http_req *r, const mgmt_scope *s, const char *name, meta_registry *out);

/* registry_gc.c: the retention policy (properties.policies) and
 * POST .../garbageCollect. */
typedef struct reg_policies {
    int given;    /* a retentionPolicy with days or status was sent */
    int64_t days; /* -1: absent */
    int enabled;  /* -1: absent */
} reg_policies;
/* properties.policies of a PUT or PATCH body (props may be NULL): -1
 * after answering 400. */
int registries_policies_parse(http_req *r, const json_t *props, reg_policies *out);
cf_code registries_policies_apply(const char *reg_id, const reg_policies *p, cf_err *e);
/* The registry's properties.policies (new reference). */
json_t *registries_policies_json(const char *reg_id);
void registries_gc(http_req *r, const mgmt_scope *s, const char *name);
/* cred_epoch + 1: registry tokens minted before stop working. Called
 * with mgmt_mu held. */
cf_code registries_bump_epoch(const char *registry_id, cf_err *e);
/* Deletes a registry: its keys wiped, its rows, objects and placement
 * removed. Called with mgmt_mu held. */
cf_code registries_delete_one(const meta_registry *reg, cf_err *e);

/* access.c: callers, authorization, principals, role assignments and the
 * audit log (see access.c's header). */
typedef enum {
    MGMT_CALLER_ANONYMOUS,
    MGMT_CALLER_ADMIN,
    MGMT_CALLER_PORTAL,
    MGMT_CALLER_PRINCIPAL,
} mgmt_caller_kind;
typedef struct mgmt_caller mgmt_caller;
/* A caller of kind (not a principal); NULL when out of memory. */
mgmt_caller *mgmt_caller_new(mgmt_caller_kind kind);
/* The principal a bearer token "APPID.SECRET" authenticates, with its
 * role assignments; NULL when it does not. */
mgmt_caller *mgmt_caller_principal(const char *token);
/* Whether a token has a principal's shape (not whether it is valid). */
int mgmt_token_is_principal(const char *token);
/* The caller of this thread's request, from enter until leave (which
 * frees it). */
void mgmt_caller_enter(mgmt_caller *c);
void mgmt_caller_leave(mgmt_caller *c);
/* The operator (admin token, portal) may do everything. */
int mgmt_is_operator(void);
/* Whether the caller may do action on scope (an ARM id). */
int mgmt_can(const char *scope, const char *action);
/* Whether the caller may know that scope exists (authz_sees). */
int mgmt_can_see(const char *scope);
/* THE check: 0 when the caller may do action on scope; otherwise -1
 * after answering 403 AuthorizationFailed naming both. A route with an
 * operation of its own beyond what mgmt_route_authorize derives from its
 * path (an identity assigned to a registry) calls it once more. */
int mgmt_authorize(http_req *r, const char *scope, const char *action);
/* Run by dispatch for every authenticated request before its route
 * (seg[0..k): the path's segments): derives the action and scope from the
 * method and path (authz_action_of: a new route below a registry, such as
 * .../registries/R/repositories/X, is covered as
 * Microsoft.ContainerRegistry/registries/repositories/read|write|delete
 * with nothing to add) and calls mgmt_authorize. 0, or -1 after
 * answering. */
int mgmt_route_authorize(http_req *r, int k, const char *const *seg);
/* /principals[/{id}[/{action}]] */
void principals_handle(http_req *r, const char *id, const char *action);
/* {scope}/providers/Microsoft.Authorization/{tail} */
void mgmt_access_route(http_req *r, const char *scope, const char *tail);
/* Drops the role assignments at or below resource (kind, name), which
 * is being deleted (before its placement goes): they go with it. */
void mgmt_roles_forget(const char *kind, const char *name);
/* The audit log (path NULL: none). */
cf_code mgmt_audit_open(const char *path, cf_err *e);
void mgmt_audit_close(void);
/* The answer's status and error code, for the audit line (the first one
 * given per request counts). */
void mgmt_audit_status(unsigned status, const char *code);
/* Writes the request's audit line. */
void mgmt_audit_done(const http_req *r, const mgmt_caller *c);

/* tokens.c: /registries/{registry}/tokens[/{name}[/generateCredentials]] */
void tokens_handle(http_req *r, const mgmt_scope *s, const char *registry, const char *name,
                   const char *action);

/* repositories.c: /registries/{registry}/repositories[/{repo}[/_tags|_manifests[/{ref}]]]
 * and /registries/{registry}/listUsages, below the legacy or an ARM path
 * (registry within scope s). tail is the path after the registry's name;
 * 0 when it is none of these (another handler's). */
int repositories_route(http_req *r, const mgmt_scope *s, const char *registry, const char *tail);
/* tasks.c: /registries/{registry}/tasks[/{t}[/run|runs]], /runs[/{id}[/log]],
 * /scheduleRun; 0 when rest names none of them. */
int tasks_route(http_req *r, const mgmt_scope *s, const char *registry, const char *const *rest,
                int nrest);

#endif
