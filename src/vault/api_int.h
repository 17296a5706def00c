/*
 * api_int.h -- what api.c (keys API) and mgmt.c (management API) share: the
 * per-request context and the response helpers, which also write the
 * audit line. Internal to src/vault/.
 */
#ifndef CF_VAULT_API_INT_H
#define CF_VAULT_API_INT_H

#include <jansson.h>

#include "vault/api.h"

#define MAX_SEGS 8

typedef struct kv_req {
    vault_app *app;
    http_req *r;
    char method[8]; /* after the X-HTTP-METHOD override, upper case */
    char host[256]; /* the Host header: authority of every id */
    char vault[32]; /* picked by Host, else the default vault */
    int vault_from_host;
    vault_caller caller;
    int authed;
    const char *operation; /* audit name; NULL: not audited */
    char key[128];
    char version[40];
    /* a request that came by an ARM path (arm.c): its subscription and
     * group ("" when the path names none) */
    char arm_sub[40];
    char arm_group[96];
} kv_req;

/* Takes ownership of body (NULL: empty). Writes the audit line. */
void vault_api_respond(kv_req *q, unsigned status, json_t *body);
/* The same with a body already JSON text (malloc'd, taken and freed; NULL:
 * empty). */
void vault_api_respond_text(kv_req *q, unsigned status, char *text, size_t len);
/* {"error":{"code","message","innererror":{"code":inner}}} */
void vault_api_error(kv_req *q, unsigned status, const char *code, const char *inner,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void vault_api_error_cf(kv_req *q, const cf_err *e);

void vault_mgmt_route(kv_req *q, char segs[MAX_SEGS][160], int n);

#endif
