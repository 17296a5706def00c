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
 *               keys      the SRK is loaded and every customer-managed key
 *                         this node checked is loaded, or was refused by
 *                         its vault (a refusal locks the registry on every
 *                         node alike); a key this node could not load
 *                         because its vault did not answer makes it
 *                         unready, so a load balancer sends its requests
 *                         to the nodes that have the key;
 *               stopping  SIGTERM received.
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
/* Answers r when its path is /healthz or /readyz (GET or HEAD): 1. */
int health_handle(http_req *r);

#endif
