/*
 * audit.h -- the vault's audit log: DIR/audit.log, one JSON object per line,
 * appended and fsynced before the response leaves (so an acknowledged
 * operation is always on record):
 *
 *   {"time":"2026-11-29T02:30:00.123Z","vault":"default","objectId":"…",
 *    "appId":"…","operation":"KeyUnwrap","key":"cmk","version":"…",
 *    "result":"success","status":200,"requestId":"…","peer":"127.0.0.1"}
 *
 * result is one of success, unauthorized (401), forbidden (403), failure
 * (any other 4xx/5xx). Never key material: the writer takes only these
 * fields. Lines are written with one write(2) under a mutex.
 */
#ifndef CF_VAULT_AUDIT_H
#define CF_VAULT_AUDIT_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct vault_audit vault_audit;

typedef struct vault_audit_event {
    const char *vault;
    const char *object_id;
    const char *app_id;
    const char *operation;
    const char *key;
    const char *version;
    unsigned status;
    const char *request_id;
    const char *peer;
} vault_audit_event;

typedef struct vault_audit_filter {
    const char *vault;
    const char *operation;
    const char *object_id;
    const char *result;
    const char *since; /* RFC 3339 prefix compare, or epoch seconds */
    const char *until;
    size_t limit; /* the most recent `limit` matches; 0 means 100 */
} vault_audit_filter;

cf_code vault_audit_open(vault_audit **out, const char *path, cf_err *e);
void vault_audit_close(vault_audit *a);
/* Appends and fsyncs one line. */
cf_code vault_audit_write(vault_audit *a, const vault_audit_event *ev, cf_err *e);
/* Streams the log once, a line at a time, keeping only the last `limit`
 * matching lines: memory is bounded by limit (at most 10000 lines of at
 * most 8 KiB), whatever the size of the log. Appends the JSON text
 * {"value":[events…]} (time order, lines as written) to out. */
cf_code vault_audit_query_text(vault_audit *a, const vault_audit_filter *f, cf_buf *out, cf_err *e);
/* The same, parsed: *out is {"value":[events…]}. */
cf_code vault_audit_query(vault_audit *a, const vault_audit_filter *f, json_t **out, cf_err *e);
const char *vault_audit_result(unsigned status);

#endif
