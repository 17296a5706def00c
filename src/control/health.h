/*
 * health.h -- liveness and readiness, where load balancers look: GET
 * /healthz and GET /readyz on both listeners (the data plane and the
 * management API), without authentication (docs/scale-out.md "Health").
 *
 *   /healthz  200 {"status":"alive"} while the process serves requests;
 *   /readyz   200 {"status":"ready","checks":{...}} when the node can serve
 *             every request another node could, else 503 with the same
 *             body naming what is not ready:
 *               database  the metadata store answers (a probe every second
 *                         with a 2 s timeout, on a thread of its own);
 *               objects   the object store is there and writable;
 *               keys      (the data plane only) the first round of key
 *                         checks has run and every customer-managed key
 *                         this node checked is loaded, or was refused by
 *                         its vault (a refusal locks the registry on every
 *                         node alike); a key this node could not load
 *                         because its vault did not answer makes it
 *                         unready, so a load balancer sends its requests
 *                         to the nodes that have the key;
 *               stopping  SIGTERM received.
 *
 * The management listener's readiness leaves the keys out: the management
 * API and the identity issuer do not need them, and the vault needs the
 * issuer's JWKS, which it fetches through the load balancer's management
 * address, before any node can load them. With the keys in, a cluster
 * restarted as a whole had no ready management node, so the vault could
 * not check the nodes' tokens and no node could load its keys.
 *
 * The monitor thread keeps the state; the handlers only read it, so a
 * probe costs no database call and answers at once even when the
 * database does not.
 */
#ifndef CF_CONTROL_HEALTH_H
#define CF_CONTROL_HEALTH_H

#include "base/err.h"
#include "http/server.h"

cf_code health_start(cf_err *e);
void health_stop(void);
/* From now on /readyz answers 503 "stopping". */
void health_set_stopping(void);
/* 1 when ready; *why names the first check that is not (may be NULL). */
int health_ready(char *why, size_t cap);
/* Answers r when its path is /healthz or /readyz (GET or HEAD): 1.
 * keys: 1 on the data plane, 0 on the management listener (above). */
int health_handle(http_req *r, int keys);

#endif
