/*
 * events.h -- the key events of cofferd: what happened to each CMK
 * registry's key, as a log of JSON lines (DIR/key-events.log, 0600,
 * base/jsonl.h), read back by the portal's activity page:
 *
 *   {"time":"2026-11-29T02:30:00.123Z","registryId":"…","registry":"myreg1",
 *    "event":"check","state":"denied","key":"https://…/keys/k1/<version>",
 *    "identity":"<client id>","message":"The vault refused unwrapKey …",
 *    "vaultRequestIds":["<x-ms-request-id>", …]}
 *
 * Events: "enabled" (a registry created with the key), "check" (a key
 * check whose state changed, or any check asked for with check-now),
 * "rotated" (manual or automatic), "rotation-failed" (automatic rotation
 * could not move to a newer version). state: available, denied,
 * unavailable, degraded (vault unreachable, serving from the loaded key).
 * vaultRequestIds are the x-ms-request-id of the vault calls that decided
 * the event: each is the requestId of one line of the vault's audit log,
 * which is how the two are correlated. Never key material.
 *
 * Recording is best effort (a failure is logged, never fails the key
 * operation): the registry row stays the source of truth for the state.
 */
#ifndef CF_CMK_EVENTS_H
#define CF_CMK_EVENTS_H

#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

typedef struct cmk_event {
    const char *registry_id;
    const char *registry;
    const char *event;
    const char *state;       /* may be NULL */
    const char *key;         /* the versioned key identifier */
    const char *identity;    /* client id, or "system" */
    const char *message;     /* may be NULL */
    const char *request_ids; /* the vault's request ids, space separated; may be NULL */
} cmk_event;

/* Opens the log (path NULL: events are not recorded). */
cf_code cmk_events_open(const char *path, cf_err *e);
void cmk_events_close(void);
void cmk_events_record(const cmk_event *ev);
/* {"value":[events…]}: the registry's last `limit` events in time order. */
cf_code cmk_events_query(const char *registry_id, size_t limit, json_t **out, cf_err *e);

/* Appends request id rid to the space-separated list ids (n bytes),
 * skipping "" and ids already there; a list that is full stays as it is. */
void cmk_request_ids_add(char *ids, size_t n, const char *rid);

#endif
