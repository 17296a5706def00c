/*
 * audit.c -- see audit.h. The log is a cf_jsonl (base/jsonl.h): whole
 * lines appended under a mutex, fsynced; queries stream the file and keep
 * the text of the last `limit` matches only, so memory is bounded by
 * limit, not by the log.
 */
#define CF_LOG_MOD "vault.audit"
#include "vault/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/jsonl.h"
#include "base/log.h"

struct vault_audit {
    cf_jsonl *log;
};

cf_code vault_audit_open(vault_audit **out, const char *path, cf_err *e)
{
    vault_audit *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = cf_jsonl_open(&a->log, path, e);
    if (rc != CF_OK) {
        free(a);
        return rc;
    }
    *out = a;
    return CF_OK;
}

void vault_audit_close(vault_audit *a)
{
    if (a == NULL)
        return;
    cf_jsonl_close(a->log);
    free(a);
}

const char *vault_audit_result(unsigned status)
{
    return cf_jsonl_result(status);
}

cf_code vault_audit_write(vault_audit *a, const vault_audit_event *ev, cf_err *e)
{
    char when[40];
    cf_jsonl_now(when, sizeof(when));
    json_t *o = json_object();
    if (o == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_jsonl_set_str(o, "time", when);
    cf_jsonl_set_str(o, "vault", ev->vault);
    cf_jsonl_set_str(o, "objectId", ev->object_id);
    cf_jsonl_set_str(o, "appId", ev->app_id);
    cf_jsonl_set_str(o, "operation", ev->operation);
    cf_jsonl_set_str(o, "key", ev->key);
    cf_jsonl_set_str(o, "version", ev->version);
    cf_jsonl_set_str(o, "result", vault_audit_result(ev->status));
    json_object_set_new(o, "status", json_integer(ev->status));
    cf_jsonl_set_str(o, "requestId", ev->request_id);
    cf_jsonl_set_str(o, "peer", ev->peer);
    cf_code rc = cf_jsonl_append(a->log, o, 1, e);
    json_decref(o);
    if (rc != CF_OK)
        cf_log(CF_LOG_ERROR, "audit write failed", "error", e ? e->msg : "", NULL);
    return rc;
}

static int match_str(const json_t *o, const char *k, const char *want)
{
    if (want == NULL || *want == '\0')
        return 1;
    const char *v = json_string_value(json_object_get(o, k));
    return v && strcasecmp(v, want) == 0;
}

/* since/until: epoch seconds become RFC 3339 text; anything else is
 * compared as text against "time" (RFC 3339 sorts lexicographically). */
static void time_bound(const char *in, char *out, size_t n)
{
    out[0] = '\0';
    if (in == NULL || *in == '\0')
        return;
    int digits = 1;
    for (const char *p = in; *p; p++)
        if (*p < '0' || *p > '9')
            digits = 0;
    if (digits && strlen(in) <= 12) {
        time_t t = (time_t)strtoll(in, NULL, 10);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, n, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    } else {
        snprintf(out, n, "%s", in);
    }
}

typedef struct audit_match {
    const vault_audit_filter *f;
    char since[64], until[64];
} audit_match;

static int line_matches(void *cls, const json_t *o)
{
    const audit_match *m = cls;
    const vault_audit_filter *f = m->f;
    const char *t = json_string_value(json_object_get(o, "time"));
    return match_str(o, "vault", f->vault) && match_str(o, "operation", f->operation) &&
           match_str(o, "objectId", f->object_id) && match_str(o, "result", f->result) &&
           (m->since[0] == '\0' || strcmp(t, m->since) >= 0) &&
           (m->until[0] == '\0' || strcmp(t, m->until) <= 0);
}

cf_code vault_audit_query_text(vault_audit *a, const vault_audit_filter *f, cf_buf *out, cf_err *e)
{
    audit_match m = {.f = f};
    time_bound(f->since, m.since, sizeof(m.since));
    time_bound(f->until, m.until, sizeof(m.until));
    return cf_jsonl_tail(cf_jsonl_path(a->log), line_matches, &m, f->limit, out, e);
}

cf_code vault_audit_query(vault_audit *a, const vault_audit_filter *f, json_t **out, cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, 0);
    cf_code rc = vault_audit_query_text(a, f, &b, e);
    if (rc == CF_OK) {
        *out = json_loadb((const char *)b.data, b.len, 0, NULL);
        if (*out == NULL)
            rc = cf_err_set(e, CF_EIO, "audit query: malformed result");
    }
    cf_buf_free(&b);
    return rc;
}
