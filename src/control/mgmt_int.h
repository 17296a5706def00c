/*
 * mgmt_int.h -- what the management API's files share: the configuration,
 * the change lock, answers and errors, and the per-resource handlers.
 */
#ifndef CF_CONTROL_MGMT_INT_H
#define CF_CONTROL_MGMT_INT_H

#include <pthread.h>

#include <jansson.h>

#include "control/mgmt.h"
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

/* identities.c */
void identities_handle(http_req *r, const char *name); /* name NULL: the collection */
/* The identity JSON of the contract; new reference. */
json_t *identity_json(const meta_identity *id);

/* registries.c */
void registries_handle(http_req *r, const char *name, int check);
/* POST /registries/{name}/listCredentials | regenerateCredential */
void registries_credentials(http_req *r, const char *name, const char *action);
/* The registry's loginServer (docs/cli.md "loginServer"). */
void registries_login_server(char *out, size_t n, const meta_registry *reg);
/* The registry named; -1 after answering 404 (or the store's error). */
int registries_lookup(http_req *r, const char *name, meta_registry *out);
/* cred_epoch + 1: registry tokens minted before stop working. Called
 * with mgmt_mu held. */
cf_code registries_bump_epoch(const char *registry_id, cf_err *e);

/* tokens.c: /registries/{registry}/tokens[/{name}[/generateCredentials]] */
void tokens_handle(http_req *r, const char *registry, const char *name, const char *action);

/* repositories.c: /registries/{registry}/repositories[/{repo}[/_tags|_manifests[/{ref}]]]
 * and /registries/{registry}/listUsages. rest is the path after
 * "/registries/"; 0 when it is none of these (another handler's). */
int repositories_route(http_req *r, const char *rest);

#endif
