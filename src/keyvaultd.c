/*
 * keyvaultd -- the key vault service (DESIGN §1, §7, §9; docs/keyvault.md).
 * A thin main: parse flags, load the frozen config, open the data
 * directory (TLS certificate, admin token, master key, SQLite store, audit
 * log), wire the modules, serve until SIGTERM/SIGINT, then stop cleanly:
 * the scheduler and the listener stop, then every key in memory is wiped.
 * TLS only (TLS 1.2 and 1.3, docs/tls.md); SIGHUP, or a change of the
 * certificate or key file, loads a renewed certificate without a restart.
 *
 *   keyvaultd --data DIR --listen HOST:PORT [--config FILE] [--log-level L]
 *
 * The listen address may also come from the config ("listen"); the flag
 * wins. The systemd unit names only --data and --config (docs/install.md).
 */
#define CF_LOG_MOD "keyvaultd"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "base/wipemem.h"
#include "http/server.h"
#include "http/tls.h"
#include "vault/api.h"
#include "vault/arm.h"
#include "vault/audit.h"
#include "vault/auth.h"
#include "vault/config.h"
#include "vault/engine.h"
#include "vault/master.h"
#include "vault/rbac.h"
#include "vault/scheduler.h"
#include "vault/store.h"
#include "vault/tls.h"
#include "vault/token.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: keyvaultd --data DIR --listen HOST:PORT [--config FILE] [--log-level L]\n"
               "  --data DIR          data directory (created 0700; default ./keyvaultd-data)\n"
               "  --listen HOST:PORT  TLS listener (default: the config's \"listen\", else\n"
               "                      127.0.0.1:8443; port 0 picks one)\n"
               "  --config FILE       JSON config (docs/keyvault.md); unknown keys are refused\n"
               "  --log-level LEVEL   debug|info|warn|error (default info)\n");
}

static void path_join(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
    const char *data = "./keyvaultd-data", *listen = NULL, *config = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
            if (cf_log_level_parse(argv[++i], &cf_log_threshold) != 0) {
                fprintf(stderr, "keyvaultd: unknown log level '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--version") == 0) {
            printf("keyvaultd %s\n", COFFER_VERSION);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "keyvaultd: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);                /* reloads the TLS certificate (http/tls.h) */
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    umask(077); /* the database, audit log and keys are private */

    /* before any thread (JWKS URL fetches) and any JSON: jansson's buffers
     * hold key material from requests, wiped when freed (base/wipemem.h) */
    cf_wipe_install();
    int status = 1;
    cf_err e = {0};
    vault_config cfg;
    char admin[VAULT_ADMIN_TOKEN_HEX + 1] = {0};
    char path[4096], path2[4096];
    vault_token *hsm = NULL;
    vault_master *master = NULL;
    vault_store *store = NULL;
    vault_audit *audit = NULL;
    vault_engine *engine = NULL;
    vault_auth *auth = NULL;
    http_server *srv = NULL;
    http_tls *tls = NULL;
    vault_scheduler *sched = NULL;

    if (vault_config_init(&cfg, &e) != CF_OK)
        goto fail;
    if (config && vault_config_load(&cfg, config, &e) != CF_OK)
        goto fail;
    if (listen == NULL)
        listen = cfg.listen;
    vault_config_log(&cfg);
    if (cf_fs_mkdir_p(data, 0700, &e) != CF_OK)
        goto fail;

    if (cfg.tls_cert) {
        if (http_tls_open(&tls, "keyvaultd", cfg.tls_cert, cfg.tls_key, &e) != CF_OK)
            goto fail;
    } else {
        path_join(path, sizeof(path), data, "tls/cert.pem");
        path_join(path2, sizeof(path2), data, "tls/key.pem");
        if (vault_tls_ensure(data, cfg.vault_domain, &e) != CF_OK ||
            http_tls_open(&tls, "keyvaultd", path, path2, &e) != CF_OK)
            goto fail;
    }
    path_join(path, sizeof(path), data, "admin.token");
    int token_created = 0;
    if (keys_token_file_load(path, KEYS_TOKEN_HEX, admin, sizeof(admin), &token_created, &e) !=
        CF_OK)
        goto fail;
    if (token_created)
        cf_log(CF_LOG_INFO, "created admin token", "path", path, NULL);
    if (cfg.has_pkcs11 && vault_token_open(&hsm, &cfg, &e) != CF_OK)
        goto fail;
    if (cfg.master_key_pkcs11) {
        path_join(path, sizeof(path), data, "master.key.wrapped");
        if (vault_token_master(&master, hsm, path, &e) != CF_OK)
            goto fail;
    } else {
        path_join(path, sizeof(path), data, "master.key");
        if (vault_master_file(&master, path, &e) != CF_OK)
            goto fail;
    }
    path_join(path, sizeof(path), data, "keyvault.db");
    if (vault_store_open(&store, path, &e) != CF_OK)
        goto fail;
    path_join(path, sizeof(path), data, "audit.log");
    if (vault_audit_open(&audit, path, &e) != CF_OK)
        goto fail;
    if (vault_engine_new(&engine, master, hsm, &e) != CF_OK)
        goto fail;
    if (vault_auth_new(&auth, &cfg, admin, &e) != CF_OK)
        goto fail;
    OPENSSL_cleanse(admin, sizeof(admin));

    vault_app app = {.cfg = &cfg, .store = store, .audit = audit, .engine = engine, .auth = auth};
    if (vault_api_ensure_default(&app, &e) != CF_OK || vault_arm_init(&app, NULL, &e) != CF_OK ||
        vault_rbac_init(&app, &e) != CF_OK)
        goto fail;
    http_server_opts o = {.listen = listen,
                          .tls = tls,
                          .threads = cfg.threads,
                          .request_id_header = "x-ms-request-id",
                          .handler = vault_api_handle,
                          .ctx = &app};
    if (http_server_start(&srv, &o, &e) != CF_OK)
        goto fail;
    app.port = http_server_port(srv);
    if (vault_scheduler_start(&sched, &app, &e) != CF_OK)
        goto fail;
    char port[8];
    snprintf(port, sizeof(port), "%u", app.port);
    cf_log_emit(CF_LOG_INFO, CF_LOG_MOD, "listening", "listen", listen, "port", port, "data", data,
                NULL);
    int sig = http_tls_wait_stop(&set, &tls, 1);
    cf_log(CF_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
    status = 0;
    goto out;
fail:
    cf_log(CF_LOG_ERROR, "cannot start", "error", e.msg, "code", cf_code_name(e.code), NULL);
out:
    vault_scheduler_stop(sched);
    http_server_stop(srv);
    http_tls_free(tls); /* after the server: its connections hold the certificate */
    vault_auth_free(auth);
    vault_engine_free(engine); /* wipes cached keys */
    vault_audit_close(audit);
    vault_store_close(store);
    vault_master_free(master); /* wipes the master key */
    vault_token_close(hsm);
    OPENSSL_cleanse(admin, sizeof(admin));
    vault_config_free(&cfg);
    curl_global_cleanup();
    if (status == 0)
        cf_log(CF_LOG_INFO, "stopped", NULL);
    return status;
}
