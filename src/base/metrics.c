/*
 * metrics.c -- see metrics.h. A family is a fixed table of series keyed
 * by their label text ("listener=\"data\",route=\"blob\""), found by an
 * FNV hash with linear probing; the label sets are small and bounded by
 * the code (routes, methods, codes), so the table never fills in
 * practice, and when it does the observation is counted under an
 * overflow series instead of being lost silently.
 */
#include "base/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX 1024
#define LABELS_MAX 200

/* Latency buckets (seconds): from a cached manifest GET to a large push. */
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10,   30};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct series {
    char labels[LABELS_MAX];
    double value; /* counter: the count; histogram: the sum */
    uint64_t count;
    uint64_t bucket[NBUCKETS];
} series;

typedef struct family {
    const char *name, *type, *help;
    pthread_mutex_t mu;
    series *s; /* SERIES_MAX slots, labels[0] == 0 when free */
    size_t used;
} family;

#define FAMILY(n, t, h)                                                                            \
    {                                                                                              \
        n, t, h, PTHREAD_MUTEX_INITIALIZER, NULL, 0                                                \
    }
static family http_requests = FAMILY("coffer_http_requests_total", "counter",
                                     "HTTP requests completed, by listener, route, method and "
                                     "status code.");
static family http_duration =
    FAMILY("coffer_http_request_duration_seconds", "histogram",
           "Time from a request's headers to its last byte sent, by listener and route.");
static family http_in = FAMILY("coffer_http_received_bytes_total", "counter",
                               "Request body bytes received, by listener and route.");
static family http_out = FAMILY("coffer_http_sent_bytes_total", "counter",
                                "Response body bytes sent, by listener and route.");
static family vault_calls = FAMILY("coffer_vault_requests_total", "counter",
                                   "Key vault calls, by operation and outcome (ok, denied, "
                                   "transient, invalid).");
static family vault_duration = FAMILY("coffer_vault_request_duration_seconds", "histogram",
                                      "Key vault call latency, by operation.");
static family db_errors = FAMILY("coffer_database_errors_total", "counter",
                                 "Metadata database calls that failed, by kind.");
static family obj_errors = FAMILY("coffer_object_store_errors_total", "counter",
                                  "Object store operations that failed, by operation.");

static family *const families[] = {&http_requests, &http_duration,  &http_in,   &http_out,
                                   &vault_calls,   &vault_duration, &db_errors, &obj_errors};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static pthread_mutex_t coll_mu = PTHREAD_MUTEX_INITIALIZER;
static metrics_collector_fn collectors[8];
static int ncollectors;

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* The series of labels in f (created when new). Caller holds f->mu. */
static series *find(family *f, const char *labels)
{
    if (f->s == NULL) {
        f->s = calloc(SERIES_MAX, sizeof(series));
        if (f->s == NULL)
            return NULL;
    }
    uint32_t i = hash(labels) % SERIES_MAX;
    for (size_t probe = 0; probe < SERIES_MAX; probe++, i = (i + 1) % SERIES_MAX) {
        series *s = &f->s[i];
        if (s->labels[0] == '\0') {
            if (f->used + 1 >= SERIES_MAX)
                break; /* keep one slot for the overflow series */
            snprintf(s->labels, sizeof(s->labels), "%s", labels);
            f->used++;
            return s;
        }
        if (strcmp(s->labels, labels) == 0)
            return s;
    }
    /* full: the overflow series, which always fits */
    static const char overflow[] = "overflow=\"true\"";
    i = hash(overflow) % SERIES_MAX;
    for (size_t probe = 0; probe < SERIES_MAX; probe++, i = (i + 1) % SERIES_MAX) {
        series *s = &f->s[i];
        if (s->labels[0] == '\0' || strcmp(s->labels, overflow) == 0) {
            if (s->labels[0] == '\0') {
                snprintf(s->labels, sizeof(s->labels), "%s", overflow);
                f->used++;
            }
            return s;
        }
    }
    return NULL;
}

static void add(family *f, const char *labels, double v)
{
    pthread_mutex_lock(&f->mu);
    series *s = find(f, labels);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&f->mu);
}

static void observe(family *f, const char *labels, double v)
{
    pthread_mutex_lock(&f->mu);
    series *s = find(f, labels);
    if (s) {
        s->value += v;
        s->count++;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (v <= buckets[b])
                s->bucket[b]++;
    }
    pthread_mutex_unlock(&f->mu);
}

/* A label value from code: only [a-zA-Z0-9_.-] passes, anything else is
 * '_' (so a value never needs escaping and a caller's mistake cannot
 * break the format). */
static void clean(char *out, size_t cap, const char *v)
{
    size_t o = 0;
    for (const char *p = v ? v : ""; *p && o + 1 < cap; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        out[o++] = ok ? c : '_';
    }
    out[o] = '\0';
}

void metrics_http_observe(const char *listener, const char *route, const char *method,
                          unsigned status, double seconds, uint64_t bytes_in, uint64_t bytes_out)
{
    char l[24], r[32], m[16], labels[LABELS_MAX];
    clean(l, sizeof(l), listener);
    clean(r, sizeof(r), route ? route : "other");
    clean(m, sizeof(m), method);
    /* a method outside HTTP's own is one series, not one per word */
    if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "PUT") && strcmp(m, "POST") &&
        strcmp(m, "PATCH") && strcmp(m, "DELETE") && strcmp(m, "OPTIONS"))
        snprintf(m, sizeof(m), "other");
    snprintf(labels, sizeof(labels), "listener=\"%s\",route=\"%s\",method=\"%s\",code=\"%u\"", l, r,
             m, status);
    add(&http_requests, labels, 1);
    snprintf(labels, sizeof(labels), "listener=\"%s\",route=\"%s\"", l, r);
    observe(&http_duration, labels, seconds);
    if (bytes_in)
        add(&http_in, labels, (double)bytes_in);
    if (bytes_out)
        add(&http_out, labels, (double)bytes_out);
}

void metrics_vault_observe(const char *operation, const char *outcome, double seconds)
{
    char op[24], oc[24], labels[LABELS_MAX];
    clean(op, sizeof(op), operation);
    clean(oc, sizeof(oc), outcome);
    snprintf(labels, sizeof(labels), "operation=\"%s\",outcome=\"%s\"", op, oc);
    add(&vault_calls, labels, 1);
    snprintf(labels, sizeof(labels), "operation=\"%s\"", op);
    observe(&vault_duration, labels, seconds);
}

void metrics_count_db_error(const char *kind)
{
    char k[24], labels[LABELS_MAX];
    clean(k, sizeof(k), kind);
    snprintf(labels, sizeof(labels), "kind=\"%s\"", k);
    add(&db_errors, labels, 1);
}

void metrics_count_objects_error(const char *operation)
{
    char k[24], labels[LABELS_MAX];
    clean(k, sizeof(k), operation);
    snprintf(labels, sizeof(labels), "operation=\"%s\"", k);
    add(&obj_errors, labels, 1);
}

void metrics_add_collector(metrics_collector_fn fn)
{
    pthread_mutex_lock(&coll_mu);
    if (ncollectors < (int)(sizeof(collectors) / sizeof(collectors[0])))
        collectors[ncollectors++] = fn;
    pthread_mutex_unlock(&coll_mu);
}

void metrics_family(cf_buf *out, const char *name, const char *type, const char *help)
{
    cf_buf_appendf(out, NULL, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_label_value(cf_buf *out, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            cf_buf_appendf(out, NULL, "\\%c", *p);
        else if (*p == '\n')
            cf_buf_append(out, "\\n", 2, NULL);
        else
            cf_buf_append(out, p, 1, NULL);
    }
}

/* Integers (counts, byte totals) print as integers up to 2^53; other
 * values with 15 significant digits. */
static void num(cf_buf *out, double v)
{
    if (v == (double)(int64_t)v && v < 9007199254740992.0 && v > -9007199254740992.0)
        cf_buf_appendf(out, NULL, "%lld", (long long)v);
    else
        cf_buf_appendf(out, NULL, "%.15g", v);
}

static void render_family(cf_buf *out, family *f)
{
    metrics_family(out, f->name, f->type, f->help);
    pthread_mutex_lock(&f->mu);
    int hist = strcmp(f->type, "histogram") == 0;
    for (size_t i = 0; f->s && i < SERIES_MAX; i++) {
        const series *s = &f->s[i];
        if (s->labels[0] == '\0')
            continue;
        if (!hist) {
            cf_buf_appendf(out, NULL, "%s{%s} ", f->name, s->labels);
            num(out, s->value);
            cf_buf_append(out, "\n", 1, NULL);
            continue;
        }
        for (size_t b = 0; b < NBUCKETS; b++)
            cf_buf_appendf(out, NULL, "%s_bucket{%s,le=\"%g\"} %llu\n", f->name, s->labels,
                           buckets[b], (unsigned long long)s->bucket[b]);
        cf_buf_appendf(out, NULL, "%s_bucket{%s,le=\"+Inf\"} %llu\n", f->name, s->labels,
                       (unsigned long long)s->count);
        cf_buf_appendf(out, NULL, "%s_sum{%s} ", f->name, s->labels);
        num(out, s->value);
        cf_buf_appendf(out, NULL, "\n%s_count{%s} %llu\n", f->name, s->labels,
                       (unsigned long long)s->count);
    }
    pthread_mutex_unlock(&f->mu);
}

cf_code metrics_render(cf_buf *out, cf_err *e)
{
    for (size_t i = 0; i < NFAMILIES; i++)
        render_family(out, families[i]);
    pthread_mutex_lock(&coll_mu);
    int n = ncollectors;
    pthread_mutex_unlock(&coll_mu);
    for (int i = 0; i < n; i++)
        collectors[i](out);
    (void)e;
    return CF_OK;
}

void metrics_reset(void)
{
    for (size_t i = 0; i < NFAMILIES; i++) {
        family *f = families[i];
        pthread_mutex_lock(&f->mu);
        free(f->s);
        f->s = NULL;
        f->used = 0;
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_lock(&coll_mu);
    ncollectors = 0;
    pthread_mutex_unlock(&coll_mu);
}
