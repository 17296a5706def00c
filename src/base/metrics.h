/*
 * metrics.h -- cofferd's Prometheus metrics (docs/scale-out.md
 * "Metrics"), served as text exposition format 0.0.4 at GET /metrics on
 * the management listener.
 *
 * Names and labels follow the Prometheus conventions: a "coffer_"
 * prefix, base units (seconds, bytes), "_total" on counters, a label
 * for each dimension with a small fixed set of values (a route, never a
 * path; a status code, never a message). Per-registry series exist only
 * for customer-managed key registries (their key state), which is the
 * one place a label grows with the data: docs/scale-out.md says what that
 * costs.
 *
 * Counters and histograms live here (observe functions, one mutex per
 * family, a fixed table of series); gauges that other modules own (the
 * uploads in progress, the key states, readiness) are written at scrape
 * time by the collectors they register.
 */
#ifndef CF_BASE_METRICS_H
#define CF_BASE_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* One HTTP request, when it completed: listener "data" | "management",
 * route a fixed word ("manifest", "blob", "upload", ...), the status
 * sent, its duration, and the body bytes received and sent. */
void metrics_http_observe(const char *listener, const char *route, const char *method,
                          unsigned status, double seconds, uint64_t bytes_in, uint64_t bytes_out);
/* One key vault call: operation "get" | "wrapKey" | "unwrapKey", outcome
 * "ok" | "denied" | "transient" | "invalid". */
void metrics_vault_observe(const char *operation, const char *outcome, double seconds);
/* A failed metadata call ("unavailable", "timeout", "error") and a failed
 * object store operation ("read", "write", "check", ...). */
void metrics_count_db_error(const char *kind);
void metrics_count_objects_error(const char *operation);

/* A collector appends its families (HELP, TYPE and samples) to out. */
typedef void (*metrics_collector_fn)(cf_buf *out);
/* At most 8; before serving. */
void metrics_add_collector(metrics_collector_fn fn);

/* The whole exposition into out. */
cf_code metrics_render(cf_buf *out, cf_err *e);

/* Helpers for collectors: a family header, and a label value escaped as
 * the format wants (backslash, quote, newline). */
void metrics_family(cf_buf *out, const char *name, const char *type, const char *help);
void metrics_label_value(cf_buf *out, const char *v);

/* Forgets every series (unit tests). */
void metrics_reset(void);

#endif
