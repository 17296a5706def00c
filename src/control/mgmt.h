/*
 * mgmt.h -- cofferd's management API (docs/control-plane.md, its
 * "Authentication and errors" first): the identity issuer's documents, the managed
 * identity token endpoint, user-assigned identities and registries, on a
 * second http_server next to the data plane (default 127.0.0.1:5001).
 *
 * Every route but the issuer's needs `Authorization: Bearer <admin token>`
 * (DIR/admin.token, compared in constant time: the operator) or a service
 * principal's `Bearer APPID.PASSWORD` (a tenant, held to its role
 * assignments; control/access.c); /msi/token takes the admin token in
 * X-IDENTITY-HEADER as App Service's protocol does. Errors are ARM's
 * {"error":{"code","message"}}; a refused request changes nothing.
 * Changes run one at a time (one mutex): a creation checks the customer
 * key in the vault while it holds it, which bounds it by --vault-timeout.
 */
#ifndef CF_CONTROL_MGMT_H
#define CF_CONTROL_MGMT_H

#include <jansson.h>

#include "base/err.h"
#include "control/issuer.h"
#include "crypto/keys.h"
#include "http/server.h"

#define MGMT_ADMIN_TOKEN_LEN KEYS_TOKEN_B64URL_LEN /* DIR/admin.token: keys_token_file_load */
#define MGMT_BODY_MAX (64 * 1024)
#define MGMT_DEFAULT_TENANT "00000000-0000-0000-0000-000000000000"
/* the default subscription, unless `cofferd --subscription` names another
 * (keyvaultd's default_subscription has the same default) */
#define MGMT_DEFAULT_SUBSCRIPTION "00000000-0000-0000-0000-000000000000"

typedef struct mgmt_config {
    const char *admin_token;  /* MGMT_ADMIN_TOKEN_LEN chars */
    const char *tenant;       /* tenantId of new identities */
    const char *login_domain; /* NULL: loginServer is data_addr/<name> */
    const char *data_addr;    /* the data plane's "host:port" */
    const char *audit_path;   /* the audit log (DIR/mgmt-audit.log); NULL: none */
} mgmt_config;

/* Copies the config (strings included). */
cf_code mgmt_configure(const mgmt_config *c, cf_err *e);
/* The issuer behind /jwks, the OpenID configuration and /msi/token
 * (borrowed; until it is set those answer 503). */
void mgmt_set_issuer(issuer *is);
void mgmt_shutdown(void);
/* The http_server handler. */
void mgmt_handle(http_req *r, void *ctx);

/* Runs one management request in process, as the portal does: the same
 * routing and handlers as over HTTP, with the caller's authentication
 * (it must have checked who is asking; no bearer token is looked at).
 * body may be NULL. On CF_OK, *status is the HTTP status and *out the
 * answer's JSON (the caller's; NULL for an empty body; ARM's
 * {"error":{...}} on a refusal). Not for /msi/ (it reads headers). */
cf_code mgmt_call(const char *method, const char *path, const json_t *body, const char *request_id,
                  unsigned *status, json_t **out, cf_err *e);

/* Creates registry `name` (Premium, service-managed encryption, no
 * identity) unless it exists: `cofferd --registry NAME`. *created set to
 * 1 when it was created. */
cf_code registries_ensure(const char *name, int *created, cf_err *e);

#endif
