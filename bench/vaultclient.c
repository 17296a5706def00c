/*
 * vaultclient.c -- load generator for keyvaultd's unwrapkey (bench/vault).
 *
 * N client threads, each with its own libcurl easy handle, so each holds
 * one keep-alive TLS connection for the whole run (a CMK registry talks to
 * its vault the same way). Every thread POSTs the same request body (a
 * wrapped 32-byte secret) to one unwrapkey URL until the deadline, and
 * counts a request as done only when the status is 200 and the body
 * contains the expected plaintext (--expect), so a vault that answers fast
 * with errors scores zero, not high.
 *
 * Output: one JSON line on stdout,
 *   {"clients":8,"seconds":10.0,"ok":N,"errors":N,"ops_per_s":X,
 *    "p50_ms":X,"p99_ms":X}
 * Latencies are kept per thread in a capped array (the first 1M samples
 * each), merged and sorted at the end.
 *
 * Usage:
 *   bench-vaultclient --url URL --token-file F --cacert PEM --body JSON
 *                     [--expect STR] [--clients 8] [--seconds 10]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#define MAX_CLIENTS 256
#define MAX_SAMPLES (1u << 20)
#define MAX_BODY (64u * 1024u)

typedef struct opts {
    const char *url;
    const char *cacert;
    const char *body;
    const char *expect;
    char auth[1024];
    long clients;
    double seconds;
} opts;

typedef struct worker {
    const opts *o;
    double deadline;
    pthread_t tid;
    unsigned long ok;
    unsigned long errors;
    double *lat_ms;
    size_t nlat;
    char first_error[256];
    char resp[MAX_BODY];
    size_t resp_len;
    int resp_overflow;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    worker *w = userdata;
    size_t n = size * nmemb;
    if (w->resp_len + n >= sizeof(w->resp)) {
        w->resp_overflow = 1;
        return n; /* keep reading; the request counts as an error */
    }
    memcpy(w->resp + w->resp_len, ptr, n);
    w->resp_len += n;
    w->resp[w->resp_len] = '\0';
    return n;
}

static void note_error(worker *w, const char *what)
{
    w->errors++;
    if (w->first_error[0] == '\0')
        snprintf(w->first_error, sizeof(w->first_error), "%s", what);
}

static void *run(void *arg)
{
    worker *w = arg;
    const opts *o = w->o;
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        note_error(w, "curl_easy_init failed");
        return NULL;
    }
    hdrs = curl_slist_append(hdrs, o->auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(o->body));
    curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);

    while (now_s() < w->deadline) {
        w->resp_len = 0;
        w->resp_overflow = 0;
        w->resp[0] = '\0';
        double t0 = now_s();
        CURLcode rc = curl_easy_perform(c);
        double ms = (now_s() - t0) * 1000.0;
        long status = 0;
        if (rc != CURLE_OK) {
            note_error(w, curl_easy_strerror(rc));
            continue;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200 || w->resp_overflow ||
            (o->expect != NULL && strstr(w->resp, o->expect) == NULL)) {
            char what[256];
            snprintf(what, sizeof(what), "status %ld: %.200s", status, w->resp);
            note_error(w, what);
            continue;
        }
        w->ok++;
        if (w->nlat < MAX_SAMPLES)
            w->lat_ms[w->nlat++] = ms;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int read_token(char *out, size_t cap, const char *path)
{
    char tok[512];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "vaultclient: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(tok, 1, sizeof(tok) - 1, f);
    fclose(f);
    while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
        n--;
    tok[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "vaultclient: %s is empty\n", path);
        return -1;
    }
    snprintf(out, cap, "Authorization: Bearer %s", tok);
    memset(tok, 0, sizeof(tok));
    return 0;
}

static int parse_args(opts *o, int argc, char **argv)
{
    const char *token_file = NULL;
    o->clients = 8;
    o->seconds = 10.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            goto usage;
        char *end = NULL;
        if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--token-file") == 0)
            token_file = v;
        else if (strcmp(a, "--cacert") == 0)
            o->cacert = v;
        else if (strcmp(a, "--body") == 0)
            o->body = v;
        else if (strcmp(a, "--expect") == 0)
            o->expect = v;
        else if (strcmp(a, "--clients") == 0) {
            o->clients = strtol(v, &end, 10);
            if (*end != '\0' || o->clients < 1 || o->clients > MAX_CLIENTS)
                goto usage;
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = strtod(v, &end);
            if (*end != '\0' || o->seconds <= 0 || o->seconds > 3600)
                goto usage;
        } else
            goto usage;
        i++;
    }
    if (o->url == NULL || token_file == NULL || o->cacert == NULL || o->body == NULL)
        goto usage;
    return read_token(o->auth, sizeof(o->auth), token_file);
usage:
    fprintf(stderr,
            "usage: %s --url URL --token-file F --cacert PEM --body JSON "
            "[--expect STR] [--clients 1..%d] [--seconds S]\n",
            argv[0], MAX_CLIENTS);
    return -1;
}

int main(int argc, char **argv)
{
    opts o = {0};
    worker *ws = NULL;
    double *all = NULL;
    int rc = 1;
    if (parse_args(&o, argc, argv) != 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "vaultclient: curl_global_init failed\n");
        return 1;
    }
    ws = calloc((size_t)o.clients, sizeof(*ws));
    if (ws == NULL)
        goto out;
    double start = now_s();
    for (long i = 0; i < o.clients; i++) {
        ws[i].o = &o;
        ws[i].deadline = start + o.seconds;
        ws[i].lat_ms = malloc(MAX_SAMPLES * sizeof(double));
        if (ws[i].lat_ms == NULL)
            goto out;
    }
    long started = 0;
    for (; started < o.clients; started++) {
        if (pthread_create(&ws[started].tid, NULL, run, &ws[started]) != 0) {
            fprintf(stderr, "vaultclient: pthread_create failed\n");
            break;
        }
    }
    unsigned long ok = 0, errors = 0;
    size_t nall = 0;
    for (long i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        ok += ws[i].ok;
        errors += ws[i].errors;
        nall += ws[i].nlat;
    }
    double elapsed = now_s() - start;
    all = malloc((nall ? nall : 1) * sizeof(double));
    if (all == NULL)
        goto out;
    size_t k = 0;
    for (long i = 0; i < started; i++) {
        memcpy(all + k, ws[i].lat_ms, ws[i].nlat * sizeof(double));
        k += ws[i].nlat;
        if (ws[i].first_error[0] != '\0')
            fprintf(stderr, "vaultclient: client %ld: %lu errors, first: %s\n", i, ws[i].errors,
                    ws[i].first_error);
    }
    qsort(all, nall, sizeof(double), cmp_double);
    double p50 = nall ? all[nall / 2] : 0, p99 = nall ? all[(nall * 99) / 100] : 0;
    printf("{\"clients\":%ld,\"seconds\":%.2f,\"ok\":%lu,\"errors\":%lu,\"ops_per_s\":%.1f,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
           started, elapsed, ok, errors, (double)ok / elapsed, p50, p99);
    rc = (ok > 0 && errors == 0 && started == o.clients) ? 0 : 1;
out:
    if (ws != NULL)
        for (long i = 0; i < o.clients; i++)
            free(ws[i].lat_ms);
    free(ws);
    free(all);
    OPENSSL_cleanse(o.auth, sizeof(o.auth));
    curl_global_cleanup();
    return rc;
}
