/*
 * ociclient.c -- a small OCI Distribution client for benchmarks (libcurl).
 *
 * It speaks the registry API directly, with nothing between the clock and
 * the wire, so two registries measured with it are measured the same way:
 *
 *   bench-ociclient push URL REPO SIZE SEED          one blob: POST, then one PUT ?digest=
 *   bench-ociclient push-many URL REPO COUNT SIZE SEED   COUNT blobs, one after another
 *   bench-ociclient pull URL REPO DIGEST             GET one blob, bytes discarded
 *   bench-ociclient pull-many URL REPO COUNT SIZE SEED   GET the blobs push-many pushed
 *   bench-ociclient concurrent URL REPO N SIZE SEED  N threads push one SIZE blob each
 *   bench-ociclient concurrent-pull URL REPO N SIZE SEED  N threads pull what concurrent pushed
 *   bench-ociclient manifest URL REPO TAG            push a config, a layer and a manifest
 *   bench-ociclient load URL METHOD PATH CONNS SECONDS [ACCEPT]
 *                                                    closed-loop load, CONNS keep-alive
 *                                                    connections: req/s, p50, p99
 *
 * Each prints one JSON object on stdout. MB are 10^6 bytes.
 *
 * Blob content is a deterministic pseudo-random stream of the seed
 * (splitmix64 in counter mode, ~GB/s), generated while it is sent, so a
 * 1 GiB push needs no 1 GiB buffer and no disk, and every blob is
 * distinct: no registry can deduplicate or compress its way through. The
 * digest is computed in an untimed pass before the upload, as a real client
 * (which knows its layer's digest) would. `load` exists because wrk reports
 * no requests for HEAD; it runs one curl multi handle per thread (2
 * threads), re-issuing each request as soon as its previous one completes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK (1u << 20) /* generator block: 1 MiB */
#define URL_MAX 2048
#define HIST_US 10       /* latency histogram resolution */
#define HIST_N (1000000) /* 10 s of 10 µs buckets */
#define LOAD_THREADS 2

/* ---- deterministic content ------------------------------------------------ */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Fills block `k` (CHUNK bytes) of the stream of `seed`. */
static void gen_block(unsigned char *out, uint64_t seed, uint64_t k)
{
    uint64_t base = splitmix64(seed) ^ (k * (CHUNK / 8));
    for (size_t i = 0; i < CHUNK / 8; i++) {
        uint64_t w = splitmix64(base + i);
        memcpy(out + 8 * i, &w, 8);
    }
}

typedef struct {
    uint64_t seed, size, off, block; /* block: index held in buf, UINT64_MAX if none */
    unsigned char *buf;
} gen;

static int gen_init(gen *g, uint64_t seed, uint64_t size)
{
    memset(g, 0, sizeof *g);
    g->seed = seed;
    g->size = size;
    g->block = UINT64_MAX;
    g->buf = malloc(CHUNK);
    return g->buf ? 0 : -1;
}

static void gen_free(gen *g)
{
    free(g->buf);
}

/* Copies up to n next bytes of the stream into out; returns the count. */
static size_t gen_read(gen *g, unsigned char *out, size_t n)
{
    size_t done = 0;
    while (done < n && g->off < g->size) {
        uint64_t k = g->off / CHUNK;
        size_t at = (size_t)(g->off % CHUNK);
        if (k != g->block) {
            gen_block(g->buf, g->seed, k);
            g->block = k;
        }
        size_t take = CHUNK - at;
        if (take > n - done)
            take = n - done;
        if (take > g->size - g->off)
            take = (size_t)(g->size - g->off);
        memcpy(out + done, g->buf + at, take);
        done += take;
        g->off += take;
    }
    return done;
}

/* "sha256:<hex>" of the whole stream (an untimed pass). */
static int gen_digest(char out[72], uint64_t seed, uint64_t size)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    int rc = -1;
    unsigned char *buf = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (uint64_t off = 0; off < size; off += CHUNK) {
        gen_block(buf, seed, off / CHUNK);
        size_t take = (size_t)(size - off < CHUNK ? size - off : CHUNK);
        if (EVP_DigestUpdate(ctx, buf, take) != 1)
            goto out;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        goto out;
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

/* ---- HTTP ------------------------------------------------------------------- */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds (user + system, every thread) this process has used: the
 * client's share of the machine over a timed section, which the untimed
 * digest pass before it must not count (bench/lib.sh cpu_run). */
static double cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static size_t discard_cb(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    *(uint64_t *)ud += sz * n;
    return sz * n;
}

static size_t read_cb(char *p, size_t sz, size_t n, void *ud)
{
    return gen_read(ud, (unsigned char *)p, sz * n);
}

/* A client: one curl handle, reused so the connection stays open. */
typedef struct {
    CURL *h;
    const char *base; /* http://host:port */
    const char *repo;
    char err[CURL_ERROR_SIZE];
} client;

static int client_init(client *c, const char *base, const char *repo)
{
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    c->base = base;
    c->repo = repo;
    return c->h ? 0 : -1;
}

/* Credentials for every request, from the environment (bench/run with
 * BENCH_AUTH=1): BENCH_BEARER, a registry token (cofferd's default auth,
 * as skopeo and podman use it), or BENCH_BASIC, user:password
 * (docker-registry's htpasswd auth, checked against bcrypt per request). */
static void apply_auth(CURL *h)
{
    const char *bearer = getenv("BENCH_BEARER"), *basic = getenv("BENCH_BASIC");
    if (bearer && *bearer) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, bearer);
    } else if (basic && *basic) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, basic);
    }
}

static void client_reset(client *c)
{
    curl_easy_reset(c->h);
    apply_auth(c->h);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->err);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
}

/* POST an upload; writes its absolute URL (with any query) to loc. */
static int upload_start(client *c, char *loc, size_t loc_len)
{
    char url[URL_MAX];
    long status = 0;
    uint64_t sink = 0;
    struct curl_header *hdr = NULL;
    snprintf(url, sizeof url, "%s/v2/%s/blobs/uploads/", c->base, c->repo);
    client_reset(c);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POST, 1L);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &sink);
    if (curl_easy_perform(c->h) != CURLE_OK) {
        fprintf(stderr, "POST %s: %s\n", url, c->err);
        return -1;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 202 ||
        curl_easy_header(c->h, "Location", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK) {
        fprintf(stderr, "POST %s: status %ld\n", url, status);
        return -1;
    }
    /* Resolve a relative Location against the URL we posted to. */
    CURLU *u = curl_url();
    char *full = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, hdr->value, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK && strlen(full) < loc_len) {
        memcpy(loc, full, strlen(full) + 1);
        rc = 0;
    }
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

/* Pushes `size` bytes of `seed`'s stream as one blob; digest precomputed. */
static int push_blob(client *c, uint64_t seed, uint64_t size, const char *digest)
{
    char loc[URL_MAX], url[URL_MAX + 128];
    long status = 0;
    uint64_t sink = 0;
    gen g;
    int rc = -1;
    struct curl_slist *hs = NULL;
    if (upload_start(c, loc, sizeof loc) != 0)
        return -1;
    snprintf(url, sizeof url, "%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
    if (gen_init(&g, seed, size) != 0)
        return -1;
    client_reset(c);
    hs = curl_slist_append(hs, "Content-Type: application/octet-stream");
    hs = curl_slist_append(hs, "Expect:");
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    curl_easy_setopt(c->h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c->h, CURLOPT_READDATA, &g);
    curl_easy_setopt(c->h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &sink);
    if (curl_easy_perform(c->h) != CURLE_OK) {
        fprintf(stderr, "PUT blob: %s\n", c->err);
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 201) {
        fprintf(stderr, "PUT blob: status %ld\n", status);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(hs);
    gen_free(&g);
    return rc;
}

/* GETs a blob, discarding it; *bytes receives the body length. */
static int pull_blob(client *c, const char *digest, uint64_t *bytes)
{
    char url[URL_MAX];
    long status = 0;
    *bytes = 0;
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", c->base, c->repo, digest);
    client_reset(c);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c->h, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, bytes);
    if (curl_easy_perform(c->h) != CURLE_OK) {
        fprintf(stderr, "GET %s: %s\n", url, c->err);
        return -1;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fprintf(stderr, "GET %s: status %ld\n", url, status);
        return -1;
    }
    return 0;
}

/* PUTs bytes (a manifest) to /v2/REPO/manifests/REF. */
static int put_manifest(client *c, const char *ref, const char *body, const char *ctype)
{
    char url[URL_MAX], ct[256];
    long status = 0;
    uint64_t sink = 0;
    struct curl_slist *hs = NULL;
    snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", c->base, c->repo, ref);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    client_reset(c);
    hs = curl_slist_append(hs, ct);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &sink);
    CURLcode cc = curl_easy_perform(c->h);
    curl_slist_free_all(hs);
    if (cc != CURLE_OK) {
        fprintf(stderr, "PUT %s: %s\n", url, c->err);
        return -1;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 201) {
        fprintf(stderr, "PUT %s: status %ld\n", url, status);
        return -1;
    }
    return 0;
}

/* ---- commands --------------------------------------------------------------- */

static uint64_t parse_u64(const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || end == s) {
        fprintf(stderr, "not a number: %s\n", s);
        exit(2);
    }
    /* Suffixes K, M, G (binary). */
    if (*end == 'K' || *end == 'k')
        v <<= 10;
    else if (*end == 'M' || *end == 'm')
        v <<= 20;
    else if (*end == 'G' || *end == 'g')
        v <<= 30;
    return (uint64_t)v;
}

static uint64_t blob_seed(uint64_t seed, uint64_t i)
{
    return splitmix64(seed * 1000003ull + i);
}

static int cmd_push(const char *base, const char *repo, uint64_t size, uint64_t seed)
{
    client c;
    char digest[72];
    if (client_init(&c, base, repo) != 0 || gen_digest(digest, seed, size) != 0)
        return 1;
    double t0 = now_s(), c0 = cpu_s();
    int rc = push_blob(&c, seed, size, digest);
    double dt = now_s() - t0, dc = cpu_s() - c0;
    curl_easy_cleanup(c.h);
    if (rc != 0)
        return 1;
    printf("{\"op\":\"push\",\"bytes\":%" PRIu64
           ",\"seconds\":%.4f,\"mb_s\":%.1f,\"cpu_s\":%.3f,\"digest\":\"%s\"}\n",
           size, dt, (double)size / dt / 1e6, dc, digest);
    return 0;
}

static int cmd_pull(const char *base, const char *repo, const char *digest)
{
    client c;
    uint64_t n = 0;
    if (client_init(&c, base, repo) != 0)
        return 1;
    double t0 = now_s(), c0 = cpu_s();
    int rc = pull_blob(&c, digest, &n);
    double dt = now_s() - t0, dc = cpu_s() - c0;
    curl_easy_cleanup(c.h);
    if (rc != 0)
        return 1;
    printf("{\"op\":\"pull\",\"bytes\":%" PRIu64
           ",\"seconds\":%.4f,\"mb_s\":%.1f,\"cpu_s\":%.3f}\n",
           n, dt, (double)n / dt / 1e6, dc);
    return 0;
}

static int cmd_many(int pull, const char *base, const char *repo, uint64_t count, uint64_t size,
                    uint64_t seed)
{
    client c;
    char(*digests)[72] = calloc(count ? count : 1, 72);
    int rc = 1;
    if (!digests || client_init(&c, base, repo) != 0)
        goto out;
    for (uint64_t i = 0; i < count; i++)
        if (gen_digest(digests[i], blob_seed(seed, i), size) != 0)
            goto out_c;
    double t0 = now_s();
    uint64_t total = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t n = size;
        int r = pull ? pull_blob(&c, digests[i], &n)
                     : push_blob(&c, blob_seed(seed, i), size, digests[i]);
        if (r != 0 || n != size)
            goto out_c;
        total += n;
    }
    double dt = now_s() - t0;
    printf("{\"op\":\"%s\",\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"seconds\":%.4f,\"mb_s\":%.2f,\"blobs_s\":%.1f}\n",
           pull ? "pull-many" : "push-many", count, total, dt, (double)total / dt / 1e6,
           (double)count / dt);
    rc = 0;
out_c:
    curl_easy_cleanup(c.h);
out:
    free(digests);
    return rc;
}

typedef struct {
    const char *base, *repo;
    uint64_t seed, size;
    char digest[72];
    pthread_barrier_t *go;
    int pull; /* pull the blob instead */
    int rc;
    double done;
} pusher;

static void *pusher_run(void *arg)
{
    pusher *p = arg;
    client c;
    p->rc = -1;
    if (client_init(&c, p->base, p->repo) != 0) {
        pthread_barrier_wait(p->go);
        return NULL;
    }
    pthread_barrier_wait(p->go);
    if (p->pull) {
        uint64_t n = 0;
        p->rc = pull_blob(&c, p->digest, &n);
        if (p->rc == 0 && n != p->size)
            p->rc = -1;
    } else {
        p->rc = push_blob(&c, p->seed, p->size, p->digest);
    }
    p->done = now_s();
    curl_easy_cleanup(c.h);
    return NULL;
}

static int cmd_concurrent(int pull, const char *base, const char *repo, unsigned n, uint64_t size,
                          uint64_t seed)
{
    pusher *ps = calloc(n, sizeof *ps);
    pthread_t *ts = calloc(n, sizeof *ts);
    pthread_barrier_t go;
    int rc = 1;
    if (!ps || !ts || n == 0)
        goto out;
    pthread_barrier_init(&go, NULL, n + 1);
    for (unsigned i = 0; i < n; i++) {
        ps[i] = (pusher){.base = base,
                         .repo = repo,
                         .seed = blob_seed(seed, i),
                         .size = size,
                         .go = &go,
                         .pull = pull};
        if (gen_digest(ps[i].digest, ps[i].seed, size) != 0)
            goto out; /* before any thread */
    }
    for (unsigned i = 0; i < n; i++)
        pthread_create(&ts[i], NULL, pusher_run, &ps[i]);
    pthread_barrier_wait(&go);
    double t0 = now_s(), c0 = cpu_s();
    for (unsigned i = 0; i < n; i++)
        pthread_join(ts[i], NULL);
    double dc = cpu_s() - c0;
    double end = t0;
    int failed = 0;
    for (unsigned i = 0; i < n; i++) {
        if (ps[i].rc != 0)
            failed++;
        if (ps[i].done > end)
            end = ps[i].done;
    }
    pthread_barrier_destroy(&go);
    if (failed) {
        fprintf(stderr, "%d of %u %s failed\n", failed, n, pull ? "pulls" : "pushes");
        goto out;
    }
    double dt = end - t0;
    printf("{\"op\":\"%s\",\"clients\":%u,\"bytes\":%" PRIu64
           ",\"seconds\":%.4f,\"mb_s\":%.1f,\"cpu_s\":%.3f}\n",
           pull ? "concurrent-pull" : "concurrent", n, size * n, dt, (double)(size * n) / dt / 1e6,
           dc);
    rc = 0;
out:
    free(ps);
    free(ts);
    return rc;
}

/* manifest: a small config and layer, then an OCI image manifest at TAG. */
static int cmd_manifest(const char *base, const char *repo, const char *tag, uint64_t seed)
{
    client c;
    char cfgd[72], layd[72], body[1024];
    const uint64_t cfg_size = 512, lay_size = 4096;
    if (client_init(&c, base, repo) != 0)
        return 1;
    int rc = 1;
    if (gen_digest(cfgd, seed, cfg_size) != 0 || gen_digest(layd, seed + 1, lay_size) != 0)
        goto out;
    /* The config's bytes are random, not JSON: registries do not parse configs. */
    if (push_blob(&c, seed, cfg_size, cfgd) != 0 || push_blob(&c, seed + 1, lay_size, layd) != 0)
        goto out;
    snprintf(
        body, sizeof body,
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
        "\"size\":%" PRIu64
        "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
        "\"digest\":\"%s\",\"size\":%" PRIu64 "}]}",
        cfgd, cfg_size, layd, lay_size);
    if (put_manifest(&c, tag, body, "application/vnd.oci.image.manifest.v1+json") != 0)
        goto out;
    printf("{\"op\":\"manifest\",\"tag\":\"%s\",\"config\":\"%s\",\"layer\":\"%s\"}\n", tag, cfgd,
           layd);
    rc = 0;
out:
    curl_easy_cleanup(c.h);
    return rc;
}

typedef struct {
    const char *url, *method, *accept;
    unsigned conns;
    double deadline;
    uint32_t *hist; /* HIST_N buckets of HIST_US */
    uint64_t ok, errors, over;
} loader;

static CURL *load_handle(loader *l, struct curl_slist *hs, uint64_t *sink)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, l->url);
    apply_auth(h);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (strcmp(l->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    return h;
}

static void *loader_run(void *arg)
{
    loader *l = arg;
    CURLM *m = curl_multi_init();
    CURL **hs = calloc(l->conns, sizeof *hs);
    uint64_t sink = 0;
    char accept[512];
    struct curl_slist *hdrs = NULL;
    if (l->accept) {
        snprintf(accept, sizeof accept, "Accept: %s", l->accept);
        hdrs = curl_slist_append(hdrs, accept);
    }
    /* One connection per handle: no pipelining, no sharing. */
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)l->conns);
    for (unsigned i = 0; i < l->conns; i++) {
        hs[i] = load_handle(l, hdrs, &sink);
        curl_multi_add_handle(m, hs[i]);
    }
    unsigned active = l->conns; /* handles still cycling */
    while (active > 0) {
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            long status = 0;
            curl_off_t us = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &us);
            if (msg->data.result == CURLE_OK && status == 200) {
                l->ok++;
                uint64_t b = (uint64_t)us / HIST_US;
                if (b >= HIST_N) {
                    b = HIST_N - 1;
                    l->over++;
                }
                l->hist[b]++;
            } else {
                l->errors++;
            }
            curl_multi_remove_handle(m, h);
            if (now_s() < l->deadline)
                curl_multi_add_handle(m, h); /* the next request, on the same connection */
            else
                active--;
        }
        if (active > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (unsigned i = 0; i < l->conns; i++) {
        curl_multi_remove_handle(m, hs[i]);
        curl_easy_cleanup(hs[i]);
    }
    free(hs);
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    return NULL;
}

static double hist_pct(const uint32_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)((double)total * p + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < HIST_N; i++) {
        seen += h[i];
        if (seen >= want)
            return (double)(i * HIST_US + HIST_US / 2) / 1000.0;
    }
    return (double)HIST_N * HIST_US / 1000.0;
}

static int cmd_load(const char *base, const char *method, const char *path, unsigned conns,
                    double seconds, const char *accept)
{
    char url[URL_MAX];
    loader ls[LOAD_THREADS];
    pthread_t ts[LOAD_THREADS];
    uint32_t *all = calloc(HIST_N, sizeof *all);
    if (!all || conns < LOAD_THREADS)
        return 1;
    snprintf(url, sizeof url, "%s%s", base, path);
    double t0 = now_s();
    for (int i = 0; i < LOAD_THREADS; i++) {
        ls[i] = (loader){.url = url,
                         .method = method,
                         .accept = accept,
                         .conns = conns / LOAD_THREADS + (i < (int)(conns % LOAD_THREADS)),
                         .deadline = t0 + seconds,
                         .hist = calloc(HIST_N, sizeof(uint32_t))};
        if (!ls[i].hist)
            return 1;
        pthread_create(&ts[i], NULL, loader_run, &ls[i]);
    }
    uint64_t ok = 0, errors = 0, over = 0;
    for (int i = 0; i < LOAD_THREADS; i++) {
        pthread_join(ts[i], NULL);
        ok += ls[i].ok;
        errors += ls[i].errors;
        over += ls[i].over;
        for (size_t b = 0; b < HIST_N; b++)
            all[b] += ls[i].hist[b];
        free(ls[i].hist);
    }
    double dt = now_s() - t0;
    printf("{\"op\":\"load\",\"method\":\"%s\",\"conns\":%u,\"requests\":%" PRIu64
           ",\"errors\":%" PRIu64
           ",\"seconds\":%.2f,\"rps\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"over_10s\":%" PRIu64
           "}\n",
           method, conns, ok, errors, dt, (double)ok / dt, hist_pct(all, ok, 0.50),
           hist_pct(all, ok, 0.99), over);
    free(all);
    return errors > 0 && ok == 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-ociclient push URL REPO SIZE SEED\n"
                    "       bench-ociclient push-many URL REPO COUNT SIZE SEED\n"
                    "       bench-ociclient pull URL REPO DIGEST\n"
                    "       bench-ociclient pull-many URL REPO COUNT SIZE SEED\n"
                    "       bench-ociclient concurrent URL REPO N SIZE SEED\n"
                    "       bench-ociclient concurrent-pull URL REPO N SIZE SEED\n"
                    "       bench-ociclient manifest URL REPO TAG SEED\n"
                    "       bench-ociclient load URL METHOD PATH CONNS SECONDS [ACCEPT]\n"
                    "  SIZE accepts K, M, G suffixes (binary); URL is http://host:port\n"
                    "  credentials: BENCH_BEARER=TOKEN or BENCH_BASIC=USER:PASSWORD\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    int rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(cmd, "push") == 0 && argc == 6)
        rc = cmd_push(argv[2], argv[3], parse_u64(argv[4]), parse_u64(argv[5]));
    else if (strcmp(cmd, "pull") == 0 && argc == 5)
        rc = cmd_pull(argv[2], argv[3], argv[4]);
    else if ((strcmp(cmd, "push-many") == 0 || strcmp(cmd, "pull-many") == 0) && argc == 7)
        rc = cmd_many(strcmp(cmd, "pull-many") == 0, argv[2], argv[3], parse_u64(argv[4]),
                      parse_u64(argv[5]), parse_u64(argv[6]));
    else if ((strcmp(cmd, "concurrent") == 0 || strcmp(cmd, "concurrent-pull") == 0) && argc == 7)
        rc = cmd_concurrent(strcmp(cmd, "concurrent-pull") == 0, argv[2], argv[3],
                            (unsigned)parse_u64(argv[4]), parse_u64(argv[5]), parse_u64(argv[6]));
    else if (strcmp(cmd, "manifest") == 0 && argc == 6)
        rc = cmd_manifest(argv[2], argv[3], argv[4], parse_u64(argv[5]));
    else if (strcmp(cmd, "load") == 0 && (argc == 7 || argc == 8))
        rc = cmd_load(argv[2], argv[3], argv[4], (unsigned)parse_u64(argv[5]),
                      (double)parse_u64(argv[6]), argc == 8 ? argv[7] : NULL);
    else
        rc = usage();
    curl_global_cleanup();
    return rc;
}
