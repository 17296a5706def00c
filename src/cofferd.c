/*
 * cofferd -- the registry service (DESIGN §1). A thin main: parse flags,
 * open the stores (SQLite metadata, the SRK, the sealed object tree),
 * create the registries named with --registry, serve the OCI data plane
 * until SIGTERM/SIGINT, then stop cleanly: stop accepting and abort
 * in-flight requests, stop the janitor, wipe every key.
 *
 *   cofferd --data DIR --listen HOST:PORT [--registry NAME]...
 *           [--login-domain DOMAIN] [--upload-ttl SECONDS] [--threads N]
 *           [--idle-timeout SECONDS] [--log-level L]
 */
#define CF_LOG_MOD "cofferd"
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "http/server.h"
#include "registry/api.h"
#include "registry/janitor.h"
#include "registry/keyring.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"

#define MAX_REGISTRIES 64

static void usage(FILE *f)
{
    fprintf(f, "usage: cofferd [--data DIR] [--listen HOST:PORT] [--registry NAME]...\n"
               "               [--login-domain DOMAIN] [--upload-ttl SECONDS] [--threads N]\n"
               "               [--idle-timeout SECONDS] [--log-level LEVEL]\n"
               "  --data DIR            data directory (default ./cofferd-data)\n"
               "  --listen HOST:PORT    data plane address (default 127.0.0.1:5000)\n"
               "  --registry NAME       create registry NAME (5-50 letters and digits) with\n"
               "                        service-managed encryption if absent; repeatable\n"
               "  --login-domain DOMAIN route Host <registry>.DOMAIN to that registry\n"
               "  --upload-ttl SECONDS  remove uploads idle this long (default 3600)\n"
               "  --threads N           worker threads (default 8)\n"
               "  --idle-timeout SECONDS close connections idle this long (default 300)\n"
               "  --log-level LEVEL     debug|info|warn|error (default info)\n");
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    /* Memory (docs/performance.md): buffers of 128 KiB and more (stream
     * blocks, MHD pools) come from mmap and go back on free, with no
     * dynamic threshold creeping up after the first free; two malloc
     * arenas instead of one per worker thread. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_ARENA_MAX, 2);
    const char *listen = "127.0.0.1:5000";
    const char *data = "./cofferd-data";
    const char *login_domain = NULL;
    const char *registries[MAX_REGISTRIES];
    int nreg = 0;
    unsigned long ttl = 3600, threads = 8, idle = 300;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--listen") == 0 && has) {
            listen = argv[++i];
        } else if (strcmp(a, "--data") == 0 && has) {
            data = argv[++i];
        } else if (strcmp(a, "--registry") == 0 && has) {
            if (nreg == MAX_REGISTRIES) {
                fprintf(stderr, "cofferd: too many --registry flags\n");
                return 2;
            }
            registries[nreg++] = argv[++i];
        } else if (strcmp(a, "--login-domain") == 0 && has) {
            login_domain = argv[++i];
        } else if (strcmp(a, "--upload-ttl") == 0 && has) {
            if (parse_uint(argv[++i], 1, 30UL * 24 * 3600, &ttl) != 0) {
                fprintf(stderr, "cofferd: --upload-ttl wants 1..2592000 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0 && has) {
            if (parse_uint(argv[++i], 1, 256, &threads) != 0) {
                fprintf(stderr, "cofferd: --threads wants 1..256\n");
                return 2;
            }
        } else if (strcmp(a, "--idle-timeout") == 0 && has) {
            if (parse_uint(argv[++i], 1, 3600, &idle) != 0) {
                fprintf(stderr, "cofferd: --idle-timeout wants 1..3600 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--log-level") == 0 && has) {
            if (cf_log_level_parse(argv[++i], &cf_log_threshold) != 0) {
                fprintf(stderr, "cofferd: unknown log level '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--version") == 0) {
            printf("cofferd %s\n", COFFER_VERSION);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "cofferd: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    umask(077); /* everything under --data is the service's alone */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    cf_err e = {0};
    http_server *srv = NULL;
    char path[4096];
    int keys_up = 0, meta_up = 0, janitor_up = 0;
    snprintf(path, sizeof(path), "%s/keys", data);
    if (cf_fs_mkdir_p(path, 0700, &e) != CF_OK)
        goto out;
    snprintf(path, sizeof(path), "%s/registries", data);
    if (cf_fs_mkdir_p(path, 0700, &e) != CF_OK)
        goto out;
    snprintf(path, sizeof(path), "%s/keys/srk", data);
    if (keyring_init(path, &e) != CF_OK)
        goto out;
    keys_up = 1;
    snprintf(path, sizeof(path), "%s/cofferd.db", data);
    if (meta_init(path, &e) != CF_OK)
        goto out;
    meta_up = 1;
    if (objects_init(data, &e) != CF_OK)
        goto out;
    registry_api_config rc = {.login_domain = login_domain};
    if (registry_api_configure(&rc, &e) != CF_OK)
        goto out;
    for (int i = 0; i < nreg; i++) {
        int created = 0;
        if (registry_ensure(registries[i], &created, &e) != CF_OK)
            goto out;
        if (created)
            cf_log(CF_LOG_INFO, "registry created", "registry", registries[i], "encryption",
                   "service-managed", NULL);
    }
    if (janitor_start((unsigned)ttl, &e) != CF_OK)
        goto out;
    janitor_up = 1;

    http_server_opts o = {
        .listen = listen,
        .handler = registry_api_handle,
        .request_id_header = "X-Request-Id",
        .threads = (unsigned)threads,
        .idle_timeout_s = (unsigned)idle,
    };
    if (http_server_start(&srv, &o, &e) != CF_OK)
        goto out;
    char port[8];
    snprintf(port, sizeof(port), "%u", http_server_port(srv));
    cf_log(CF_LOG_INFO, "listening", "listen", listen, "port", port, NULL);
    int sig = 0;
    sigwait(&set, &sig);
    cf_log(CF_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
    status = 0;
out:
    if (status != 0)
        cf_log(CF_LOG_ERROR, "cannot start", "error", e.msg, NULL);
    http_server_stop(srv);
    if (janitor_up)
        janitor_stop();
    uploads_shutdown();
    registry_api_shutdown();
    objects_shutdown();
    if (meta_up)
        meta_shutdown();
    if (keys_up)
        keyring_shutdown();
    if (status == 0)
        cf_log(CF_LOG_INFO, "stopped", NULL);
    return status;
}
