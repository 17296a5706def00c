/*
 * jsonl.h -- append-only logs of JSON objects, one per line, and the one
 * way they are read back: the last `limit` lines that pass a filter.
 *
 * keyvaultd's audit log (vault/audit.c) and cofferd's key events
 * (cmk/events.c) are such logs. Appends are whole lines written with one
 * write(2) under a mutex, so lines never interleave and a reader never
 * sees half of one that matters. A query reads the file from the start
 * with its own descriptor, a line at a time through one fixed buffer (a
 * line over CF_JSONL_MAX_LINE is skipped, never buffered), and keeps the
 * text of the last `limit` matches only: memory is bounded by limit, not
 * by the size of the log; its time still grows with the log.
 */
#ifndef CF_BASE_JSONL_H
#define CF_BASE_JSONL_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

#define CF_JSONL_MAX_LINE 8192
#define CF_JSONL_MAX_LIMIT 10000

typedef struct cf_jsonl cf_jsonl;

/* Opens (creating, 0600) the log at path for appending. */
cf_code cf_jsonl_open(cf_jsonl **out, const char *path, cf_err *e);
void cf_jsonl_close(cf_jsonl *l);
const char *cf_jsonl_path(const cf_jsonl *l);
/* Appends o as one compact line (members in insertion order); with sync,
 * fdatasync before returning (an acknowledged operation is on record). */
cf_code cf_jsonl_append(cf_jsonl *l, const json_t *o, int sync, cf_err *e);

/* The filter of a query: 1 to keep the line (o: the line parsed). */
typedef int (*cf_jsonl_match_fn)(void *cls, const json_t *o);
/* Appends {"value":[lines…]} to out: the last `limit` (0: 100; at most
 * CF_JSONL_MAX_LIMIT) lines of the log at path that are JSON objects with
 * a string "time" and pass match (NULL: all), in file order, as written.
 * A missing file is an empty log. */
cf_code cf_jsonl_tail(const char *path, cf_jsonl_match_fn match, void *cls, size_t limit,
                      cf_buf *out, cf_err *e);

/* o[k] = v as a string ("" for NULL): an audit line's fields. */
void cf_jsonl_set_str(json_t *o, const char *k, const char *v);

/* An audit line's "result" for an HTTP status: success (below 400),
 * unauthorized (401), forbidden (403), failure (any other). */
const char *cf_jsonl_result(unsigned status);

/* Now as RFC 3339 with milliseconds, UTC ("2026-11-29T02:30:00.123Z"):
 * the "time" of a line; such times sort as text. */
void cf_jsonl_now(char *out, size_t n);

#endif
