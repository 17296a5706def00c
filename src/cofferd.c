/*
 * cofferd -- the registry service (DESIGN §1). A thin main: parse flags,
 * wire the modules, serve until SIGTERM/SIGINT, then stop cleanly.
 */
#define CF_LOG_MOD "cofferd"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/version.h"
#include "http/server.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cofferd [--data DIR] [--listen HOST:PORT] [--log-level LEVEL]\n"
               "  --data DIR          data directory (default ./cofferd-data)\n"
               "  --listen HOST:PORT  data plane address (default 127.0.0.1:5000)\n"
               "  --log-level LEVEL   debug|info|warn|error (default info)\n");
}

static void handle(http_req *r, void *ctx)
{
    (void)ctx;
    http_resp *resp;
    if (strcmp(r->path, "/v2/") == 0 || strcmp(r->path, "/v2") == 0) {
        resp = http_resp_bytes(200, "{}", 2, "application/json");
    } else {
        static const char body[] =
            "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to "
            "registry\",\"detail\":null}]}";
        resp = http_resp_bytes(404, body, sizeof(body) - 1, "application/json");
    }
    http_resp_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
    http_req_respond(r, resp);
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:5000";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(a, "--data") == 0 && i + 1 < argc) {
            ++i;
        } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
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

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    cf_err e = {0};
    http_server *srv = NULL;
    http_server_opts o = {.listen = listen, .handler = handle, .request_id_header = "X-Request-Id"};
    if (http_server_start(&srv, &o, &e) != CF_OK) {
        cf_log(CF_LOG_ERROR, "cannot start", "error", e.msg, NULL);
        return 1;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", http_server_port(srv));
    cf_log(CF_LOG_INFO, "listening", "listen", listen, "port", port, NULL);
    int sig = 0;
    sigwait(&set, &sig);
    cf_log(CF_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
    http_server_stop(srv);
    return 0;
}
