/*
 * audit.c -- see audit.h. Queries read the file from the start with their
 * own descriptor (appends are whole lines, so a reader never sees half of
 * one that matters), a line at a time through one fixed buffer (a line
 * over AUDIT_MAX_LINE is skipped, never buffered), and keep the text of the
 * last `limit` matches only: memory is bounded by limit, not by the log.
 */
#define CF_LOG_MOD "vault.audit"
#include "vault/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"

#define AUDIT_MAX_LIMIT 10000
#define AUDIT_MAX_LINE 8192

struct vault_audit {
    pthread_mutex_t mu;
    int fd;
    char *path;
};

cf_code vault_audit_open(vault_audit **out, const char *path, cf_err *e)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cf_err_os(e, errno, "cannot open audit log %s", path);
    vault_audit *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->path = strdup(path)) == NULL) {
        free(a);
        close(fd);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    a->fd = fd;
    *out = a;
    return CF_OK;
}

void vault_audit_close(vault_audit *a)
{
    if (a == NULL)
        return;
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a->path);
    free(a);
}

const char *vault_audit_result(unsigned status)
{
    if (status < 400)
        return "success";
    if (status == 401)
        return "unauthorized";
    if (status == 403)
        return "forbidden";
    return "failure";
}

static void now_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + w, n - w, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v ? v : ""));
}

cf_code vault_audit_write(vault_audit *a, const vault_audit_event *ev, cf_err *e)
{
    char when[40];
    now_rfc3339(when, sizeof(when));
    json_t *o = json_object();
    if (o == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    set_str(o, "time", when);
    set_str(o, "vault", ev->vault);
    set_str(o, "objectId", ev->object_id);
    set_str(o, "appId", ev->app_id);
    set_str(o, "operation", ev->operation);
    set_str(o, "key", ev->key);
    set_str(o, "version", ev->version);
    set_str(o, "result", vault_audit_result(ev->status));
    json_object_set_new(o, "status", json_integer(ev->status));
    set_str(o, "requestId", ev->request_id);
    set_str(o, "peer", ev->peer);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    size_t n = strlen(line);
    line[n] = '\n'; /* replace the NUL: written by length below */
    /* The write is serialized (lines never interleave); the fsync is not:
     * a thread's fdatasync covers its own line and every earlier one, and
     * concurrent fsyncs of one file coalesce in the kernel (group commit). */
    pthread_mutex_lock(&a->mu);
    cf_code rc = cf_fs_write_full(a->fd, line, n + 1, e);
    pthread_mutex_unlock(&a->mu);
    if (rc == CF_OK && fdatasync(a->fd) != 0)
        rc = cf_err_os(e, errno, "audit log fsync");
    free(line);
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

/* Reads the next line of fp into buf (n bytes) without its newline, never
 * growing: a line that does not fit is consumed and skipped. Returns the
 * line's length, or -1 at the end of the file. */
static ssize_t next_line(FILE *fp, char *buf, size_t n)
{
    for (;;) {
        if (fgets(buf, (int)n, fp) == NULL)
            return -1;
        size_t len = strlen(buf);
        if (len > 0 && buf[len - 1] == '\n') {
            buf[--len] = '\0';
            return (ssize_t)len;
        }
        if (feof(fp))
            return (ssize_t)len; /* a last line without newline */
        /* too long: drop the rest of it, then read on */
        int c;
        while ((c = fgetc(fp)) != EOF && c != '\n')
            ;
    }
}

/* Does the audit line (text) pass filter f? since/until already bounds. */
static int line_matches(const char *line, size_t len, const vault_audit_filter *f,
                        const char *since, const char *until)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    if (o == NULL)
        return 0;
    const char *t = json_string_value(json_object_get(o, "time"));
    int ok = t && match_str(o, "vault", f->vault) && match_str(o, "operation", f->operation) &&
             match_str(o, "objectId", f->object_id) && match_str(o, "result", f->result) &&
             (since[0] == '\0' || strcmp(t, since) >= 0) &&
             (until[0] == '\0' || strcmp(t, until) <= 0);
    json_decref(o);
    return ok;
}

cf_code vault_audit_query_text(vault_audit *a, const vault_audit_filter *f, cf_buf *out, cf_err *e)
{
    size_t limit = f->limit ? f->limit : 100;
    if (limit > AUDIT_MAX_LIMIT)
        limit = AUDIT_MAX_LIMIT;
    char since[64], until[64];
    time_bound(f->since, since, sizeof(since));
    time_bound(f->until, until, sizeof(until));
    FILE *fp = fopen(a->path, "re");
    if (fp == NULL)
        return cf_err_os(e, errno, "cannot read the audit log");
    char **ring = calloc(limit, sizeof(*ring));
    char *line = malloc(AUDIT_MAX_LINE + 1);
    cf_code rc = CF_OK;
    if (ring == NULL || line == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    size_t count = 0;
    ssize_t n;
    while ((n = next_line(fp, line, AUDIT_MAX_LINE + 1)) >= 0) {
        if (n == 0 || !line_matches(line, (size_t)n, f, since, until))
            continue;
        char *copy = strdup(line);
        if (copy == NULL) {
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
            goto out;
        }
        free(ring[count % limit]);
        ring[count % limit] = copy;
        count++;
    }
    size_t first = count > limit ? count - limit : 0;
    if ((rc = cf_buf_append(out, "{\"value\":[", 10, e)) != CF_OK)
        goto out;
    for (size_t i = first; i < count; i++) {
        const char *l = ring[i % limit];
        if ((i > first && (rc = cf_buf_append(out, ",", 1, e)) != CF_OK) ||
            (rc = cf_buf_append(out, l, strlen(l), e)) != CF_OK)
            goto out;
    }
    rc = cf_buf_append(out, "]}", 2, e);
out:
    for (size_t i = 0; ring && i < limit; i++)
        free(ring[i]);
    free(ring);
    free(line);
    fclose(fp);
    return rc;
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
