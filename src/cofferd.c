/*
 * cofferd -- the registry service (DESIGN §1). A thin main: parse flags,
 * open the stores (the metadata on SQLite or PostgreSQL, the SRK, the
 * sealed objects in files or an S3 bucket), the
 * admin token and the identity issuer's key, create the registries named
 * with --registry, serve the OCI data plane and the management API, run
 * the customer-managed key checks, until SIGTERM/SIGINT; then stop
 * cleanly: stop accepting and abort in-flight requests (both listeners),
 * stop the key checks (wiping every C), the janitor, and wipe every key.
 *
 *   cofferd --data DIR --listen HOST:PORT --mgmt-listen HOST:PORT
 *           [--database postgresql://...]
 *           [--objects s3://BUCKET[/PREFIX] [--s3-endpoint URL] [--s3-region R]
 *            [--s3-url-style path|virtual] [--s3-ca FILE] [--s3-credentials FILE]]
 *           [--issuer URL] [--tenant UUID] [--subscription UUID] [--default-group NAME]
 *           [--vault-ca FILE] [--key-check-interval SECONDS] [--vault-timeout SECONDS]
 *           [--registry NAME]... [--login-domain DOMAIN] [--service NAME]
 *           [--upload-ttl SECONDS] [--gc-grace DURATION] [--task-tick SECONDS]
 *           [--test-clock-file FILE]
 *           [--threads N] [--idle-timeout SECONDS] [--log-level L]
 *           [--tls-cert FILE --tls-key FILE] [--data-tls-cert FILE --data-tls-key FILE]
 *           [--mgmt-tls-cert FILE --mgmt-tls-key FILE] [--insecure-plain-http]
 *           [--insecure-no-auth] [--config FILE]
 *
 * TLS (docs/tls.md): --tls-cert/--tls-key serve both listeners, the
 * --data-/--mgmt- pairs one each (and win over the shared pair). A
 * listener off loopback without TLS refuses to start unless
 * --insecure-plain-http says a proxy in front terminates TLS; that is
 * warned at every start. SIGHUP, or a change of a certificate or key file,
 * loads renewed certificates without a restart.
 *
 * --config FILE: a JSON object whose keys are these flags' long names
 * without "--" ({"listen": "127.0.0.1:5000", "registry": ["demo1"],
 * "key-check-interval": 60, "insecure-no-auth": false}); it is read first
 * and turned into the same flags, so one parser checks both, and flags on
 * the command line come after it (the last value of a flag wins).
 *
 * The order of the start matters: the data plane is bound first (its
 * address is the loginServer of registries without a login domain), then
 * the management API (the issuer URL defaults to its bound port), then the
 * issuer, then the key checks (they mint tokens with it). "listening" is
 * logged for both listeners only after all of that succeeded: a failure
 * anywhere (a port taken) ends the start with "cannot start" and exit 1,
 * never after an announcement.
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

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "base/armid.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/version.h"
#include "base/wipemem.h"
#include "cmk/cmk.h"
#include "base/metrics.h"
#include "control/health.h"
#include "control/issuer.h"
#include "control/mgmt.h"
#include "control/sharedkeys.h"
#include "control/validate.h"
#include "http/server.h"
#include "http/tls.h"
#include "portal/portal.h"
#include "registry/api.h"
#include "registry/gc.h"
#include "registry/janitor.h"
#include "registry/keyring.h"
#include "registry/tasks.h"
#include "store/arm.h"
#include "store/coord.h"
#include "store/db.h"
#include "store/meta.h"
#include "store/migrate.h"
#include "store/objects.h"
#include "store/s3_opts.h"
#include "store/uploads.h"

#define MAX_REGISTRIES 64

/* Both listeners answer the load balancers' /healthz and /readyz; the
 * management listener's readiness leaves the customer keys out (health.h). */
static void data_handle(http_req *r, void *ctx)
{
    if (!health_handle(r, 1))
        registry_api_handle(r, ctx);
}

static void mgmt_entry(http_req *r, void *ctx)
{
    if (!health_handle(r, 0))
        mgmt_handle(r, ctx);
}

/* This node's own gauges for /metrics. */
static void node_collect(cf_buf *out)
{
    metrics_family(out, "coffer_uploads_in_progress", "gauge",
                   "Blob uploads a request of this node is writing now.");
    cf_buf_appendf(out, NULL, "coffer_uploads_in_progress %u\n", uploads_in_progress());
    char why[64];
    int ready = health_ready(why, sizeof(why));
    metrics_family(out, "coffer_ready", "gauge",
                   "1 when /readyz answers 200 (database, object store and keys ready).");
    cf_buf_appendf(out, NULL, "coffer_ready %d\n", ready);
    metrics_family(out, "coffer_node_info", "gauge",
                   "This cofferd node: its id (DIR/node.id) and metadata engine.");
    cf_buf_appendf(out, NULL, "coffer_node_info{node=\"%s\",engine=\"%s\"} 1\n", meta_node(),
                   meta_engine());
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cofferd [--data DIR] [--listen HOST:PORT] [--mgmt-listen HOST:PORT]\n"
            "               [--database URI] [--objects s3://BUCKET[/PREFIX]]\n"
            "               [--s3-endpoint URL] [--s3-region REGION] [--s3-url-style STYLE]\n"
            "               [--s3-ca FILE] [--s3-credentials FILE]\n"
            "               [--issuer URL] [--tenant UUID] [--subscription UUID]\n"
            "               [--default-group NAME] [--vault-ca FILE]\n"
            "               [--key-check-interval SECONDS] [--vault-timeout SECONDS]\n"
            "               [--registry NAME]... [--login-domain DOMAIN] [--service NAME]\n"
            "               [--upload-ttl SECONDS] [--gc-grace DURATION] [--task-tick SECONDS]\n"
            "               [--threads N] [--idle-timeout SECONDS] [--log-level LEVEL]\n"
            "               [--tls-cert FILE --tls-key FILE] [--insecure-plain-http]\n"
            "               [--data-tls-cert FILE --data-tls-key FILE]\n"
            "               [--mgmt-tls-cert FILE --mgmt-tls-key FILE]\n"
            "               [--insecure-no-auth] [--config FILE]\n"
            "  --config FILE         JSON object of these flags by long name, read first\n"
            "  --data DIR            data directory (default ./cofferd-data)\n"
            "  --database URI        metadata database: postgresql://USER@HOST:PORT/DB (a\n"
            "                        password from ~/.pgpass or PGPASSFILE, never here) or\n"
            "                        a SQLite file (default DIR/cofferd.db)\n"
            "  --objects s3://BUCKET[/PREFIX] sealed objects in an S3 bucket (created if\n"
            "                        missing) instead of files under DIR/registries\n"
            "  --s3-endpoint URL     S3 endpoint, http(s)://HOST[:PORT] (default AWS)\n"
            "  --s3-region REGION    signing region (default us-east-1)\n"
            "  --s3-url-style path|virtual  bucket in the path or in the host name\n"
            "                        (default: path with --s3-endpoint, else virtual)\n"
            "  --s3-ca FILE          CA bundle (PEM) for an https endpoint\n"
            "  --s3-credentials FILE AWS credentials file (0600; profile AWS_PROFILE or\n"
            "                        default); else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,\n"
            "                        else ~/.aws/credentials. Never on the command line\n"
            "  --listen HOST:PORT    data plane address (default 127.0.0.1:5000)\n"
            "  --mgmt-listen HOST:PORT management API and identity issuer address (default\n"
            "                        127.0.0.1:5001); bearer: DIR/admin.token\n"
            "  --tls-cert FILE       TLS certificate (PEM, then its intermediates) of both\n"
            "  --tls-key FILE        listeners, and its key (PEM, mode 0600); TLS 1.2+ only\n"
            "  --data-tls-cert FILE, --data-tls-key FILE   the data plane's own\n"
            "  --mgmt-tls-cert FILE, --mgmt-tls-key FILE   the management API's own\n"
            "                        (SIGHUP or a changed file reloads them; docs/tls.md)\n"
            "  --insecure-plain-http allow a listener off loopback without TLS (a proxy in\n"
            "                        front terminates TLS); warned at every start\n"
            "  --issuer URL          iss of the identity tokens cofferd signs (default\n"
            "                        http(s)://127.0.0.1:<management port>); http:// only\n"
            "                        for a loopback host\n"
            "  --tenant UUID         tenant of identities and tokens (default\n"
            "                        00000000-0000-0000-0000-000000000000)\n"
            "  --subscription UUID   the default subscription, created if absent (default\n"
            "                        00000000-0000-0000-0000-000000000000)\n"
            "  --default-group NAME  its resource group for resources created without one,\n"
            "                        and for those made before groups existed (default\n"
            "                        \"default\")\n"
            "  --vault-ca FILE       CA bundle (PEM) for HTTPS to key vaults (default: system)\n"
            "  --key-check-interval SECONDS check each customer-managed key this often\n"
            "                        (1..86400, default 60)\n"
            "  --vault-timeout SECONDS total timeout of one key vault call (1..300, default 10)\n"
            "  --registry NAME       create registry NAME (5-50 letters and digits) with\n"
            "                        service-managed encryption if absent; repeatable\n"
            "  --login-domain DOMAIN route Host <registry>.DOMAIN to that registry\n"
            "  --service NAME        the registry token service (the challenge's service, the\n"
            "                        only aud minted and accepted; default: the data plane's\n"
            "                        address, e.g. 127.0.0.1:5000)\n"
            "  --upload-ttl SECONDS  remove uploads idle this long (default 3600)\n"
            "  --gc-grace DURATION   garbage collection leaves blobs linked this recently\n"
            "                        (90s, 15m, 24h, 7d; default 24h; docs/operations.md)\n"
            "  --task-tick SECONDS   look for due scheduled tasks and expired task logs this\n"
            "                        often (1..3600, default 10; docs/tasks.md)\n"
            "  --test-clock-file FILE TEST ONLY: the tasks' clock (schedules, log retention)\n"
            "                        is now + the seconds written in FILE\n"
            "  --threads N           worker threads (default 8)\n"
            "  --idle-timeout SECONDS close connections idle this long (default 300)\n"
            "  --log-level LEVEL     debug|info|warn|error (default info)\n"
            "  --insecure-no-auth    data plane without authentication: anyone may pull,\n"
            "                        push and delete (protocol tests and benchmarks only)\n");
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

/* The data plane's "host:port" as clients reach it: a wildcard host
 * becomes localhost. */
static void data_address(char *out, size_t cap, const char *listen, const char *port)
{
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    if (hl == 0 || (hl == 7 && strncmp(listen, "0.0.0.0", 7) == 0) ||
        (hl == 4 && strncmp(listen, "[::]", 4) == 0))
        snprintf(out, cap, "localhost:%s", port);
    else
        snprintf(out, cap, "%.*s:%s", (int)hl, listen, port);
}

/* Flags that take no value (JSON true sets them, false leaves them out). */
static int flag_is_switch(const char *name)
{
    return strcmp(name, "insecure-no-auth") == 0 || strcmp(name, "insecure-plain-http") == 0;
}

/* The TLS files of one listener: its own pair, else the shared one. */
typedef struct tls_files {
    const char *cert, *key;
} tls_files;

static int tls_pair_check(const tls_files *f, const char *prefix)
{
    if ((f->cert == NULL) != (f->key == NULL)) {
        fprintf(stderr, "cofferd: --%stls-cert and --%stls-key go together\n", prefix, prefix);
        return -1;
    }
    return 0;
}

/* A listener without TLS off loopback: refused, unless the operator says
 * by name that TLS ends in front of it (then warned at every start). */
static int plain_check(const char *listen, const tls_files *f, const char *flag, int allow)
{
    if (f->cert || http_listen_is_loopback(listen))
        return 0;
    if (allow) {
        cf_log(CF_LOG_WARN,
               "plain HTTP on a non-loopback address (--insecure-plain-http): credentials and "
               "tokens cross the network in clear unless a proxy in front terminates TLS",
               "listen", listen, NULL);
        return 1;
    }
    fprintf(stderr,
            "cofferd: %s %s is not a loopback address and has no TLS certificate: give "
            "--tls-cert and --tls-key (docs/tls.md), or --insecure-plain-http if a proxy in "
            "front of cofferd terminates TLS\n",
            flag, listen);
    return -1;
}

static int push_arg(char ***v, int *n, int *cap, const char *s)
{
    if (*n + 1 >= *cap) {
        int nc = *cap ? *cap * 2 : 32;
        char **nv = realloc(*v, (size_t)nc * sizeof(**v));
        if (nv == NULL)
            return -1;
        *v = nv;
        *cap = nc;
    }
    if (((*v)[(*n)++] = strdup(s)) == NULL)
        return -1;
    (*v)[*n] = NULL;
    return 0;
}

static void free_args(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* One JSON value of key `name` as flags appended to *v. */
static int config_value(char ***v, int *n, int *cap, const char *name, const json_t *val)
{
    char flag[64], num[32];
    if (strlen(name) + 3 > sizeof(flag) || strncmp(name, "-", 1) == 0 ||
        strcmp(name, "config") == 0) {
        fprintf(stderr, "cofferd: config: key '%.60s' is not allowed\n", name);
        return -1;
    }
    snprintf(flag, sizeof(flag), "--%s", name);
    if (flag_is_switch(name)) {
        if (!json_is_boolean(val)) {
            fprintf(stderr, "cofferd: config: '%s' wants true or false\n", name);
            return -1;
        }
        return json_is_true(val) ? push_arg(v, n, cap, flag) : 0;
    }
    if (json_is_array(val) && strcmp(name, "registry") == 0) {
        size_t i;
        const json_t *x;
        json_array_foreach(val, i, x)
        {
            if (config_value(v, n, cap, name, x) != 0)
                return -1;
        }
        return 0;
    }
    const char *text = NULL;
    if (json_is_string(val)) {
        text = json_string_value(val);
    } else if (json_is_integer(val)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(val));
        text = num;
    } else {
        fprintf(stderr, "cofferd: config: '%s' wants a %s\n", name,
                strcmp(name, "registry") == 0 ? "string or an array of strings"
                                              : "string or an integer");
        return -1;
    }
    return push_arg(v, n, cap, flag) != 0 || push_arg(v, n, cap, text) != 0 ? -1 : 0;
}

/* argv with the flags of --config FILE first: *out (NULL-terminated,
 * out[0] the program name), *outc. Returns 2 on a bad file. */
static int expand_config(int argc, char **argv, char ***out, int *outc)
{
    char **v = NULL;
    int n = 0, cap = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
    if (push_arg(&v, &n, &cap, argv[0]) != 0)
        goto oom;
    if (path) {
        json_error_t je;
        json_t *cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (cfg == NULL || !json_is_object(cfg)) {
            fprintf(stderr, "cofferd: --config %s: %s\n", path,
                    cfg ? "not a JSON object" : je.text);
            json_decref(cfg);
            goto fail;
        }
        const char *k;
        json_t *val;
        json_object_foreach(cfg, k, val)
        {
            if (config_value(&v, &n, &cap, k, val) != 0) {
                json_decref(cfg);
                goto fail;
            }
        }
        json_decref(cfg);
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        if (push_arg(&v, &n, &cap, argv[i]) != 0)
            goto oom;
    }
    *out = v;
    *outc = n;
    return 0;
oom:
    fprintf(stderr, "cofferd: out of memory\n");
fail:
    free_args(v, n);
    return 2;
}

/* The daemon, from its flags (argv: --config already expanded). */
static int serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:5000";
    const char *mgmt_listen = "127.0.0.1:5001";
    const char *data = "./cofferd-data";
    const char *database = NULL;
    const char *issuer_arg = NULL, *tenant = MGMT_DEFAULT_TENANT, *vault_ca = NULL;
    const char *subscription = MGMT_DEFAULT_SUBSCRIPTION, *default_group = ARM_DEFAULT_GROUP;
    unsigned long check_interval = 60, vault_timeout = 10;
    const char *login_domain = NULL, *service = NULL;
    const char *registries[MAX_REGISTRIES];
    int nreg = 0;
    unsigned long ttl = 3600, threads = 8, idle = 300, task_tick = 10;
    const char *test_clock = NULL;
    int no_auth = 0, plain_ok = 0;
    tls_files shared = {0}, dtls = {0}, mtls = {0};
    s3_opts so = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--listen") == 0 && has) {
            listen = argv[++i];
        } else if (strcmp(a, "--data") == 0 && has) {
            data = argv[++i];
        } else if (strcmp(a, "--database") == 0 && has) {
            database = argv[++i];
            if (db_uri_has_password(database)) {
                fprintf(stderr, "cofferd: --database: no password on the command line; put it in"
                                " ~/.pgpass or the file PGPASSFILE names\n");
                return 2;
            }
        } else if (strcmp(a, "--objects") == 0 && has) {
            so.objects = argv[++i];
            if (strcmp(so.objects, "files") == 0) {
                so.objects = NULL;
            } else if (!s3_opts_is_s3(so.objects)) {
                fprintf(stderr, "cofferd: --objects wants s3://BUCKET[/PREFIX] or files\n");
                return 2;
            }
        } else if (strcmp(a, "--s3-endpoint") == 0 && has) {
            so.endpoint = argv[++i];
        } else if (strcmp(a, "--s3-region") == 0 && has) {
            so.region = argv[++i];
        } else if (strcmp(a, "--s3-url-style") == 0 && has) {
            so.url_style = argv[++i];
        } else if (strcmp(a, "--s3-ca") == 0 && has) {
            so.ca_file = argv[++i];
        } else if (strcmp(a, "--s3-credentials") == 0 && has) {
            so.credentials = argv[++i];
        } else if (strcmp(a, "--mgmt-listen") == 0 && has) {
            mgmt_listen = argv[++i];
        } else if (strcmp(a, "--issuer") == 0 && has) {
            issuer_arg = argv[++i];
            if (strncmp(issuer_arg, "http://", 7) != 0 && strncmp(issuer_arg, "https://", 8) != 0) {
                fprintf(stderr, "cofferd: --issuer wants an http:// or https:// URL\n");
                return 2;
            }
        } else if (strcmp(a, "--tenant") == 0 && has) {
            tenant = argv[++i];
            if (!ctl_uuid_valid(tenant)) {
                fprintf(stderr, "cofferd: --tenant wants a UUID\n");
                return 2;
            }
        } else if (strcmp(a, "--subscription") == 0 && has) {
            subscription = argv[++i];
            if (!arm_uuid_valid(subscription)) {
                fprintf(stderr, "cofferd: --subscription wants a UUID\n");
                return 2;
            }
        } else if (strcmp(a, "--default-group") == 0 && has) {
            default_group = argv[++i];
            if (!arm_group_name_valid(default_group)) {
                fprintf(stderr, "cofferd: --default-group wants 1-90 of letters, digits, '.', "
                                "'_', '-', '(' and ')', not ending with '.'\n");
                return 2;
            }
        } else if (strcmp(a, "--vault-ca") == 0 && has) {
            vault_ca = argv[++i];
            FILE *ca = fopen(vault_ca, "r");
            if (ca == NULL) {
                fprintf(stderr, "cofferd: --vault-ca %s: %s\n", vault_ca, strerror(errno));
                return 2;
            }
            fclose(ca);
        } else if (strcmp(a, "--key-check-interval") == 0 && has) {
            if (parse_uint(argv[++i], 1, 86400, &check_interval) != 0) {
                fprintf(stderr, "cofferd: --key-check-interval wants 1..86400 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--vault-timeout") == 0 && has) {
            if (parse_uint(argv[++i], 1, 300, &vault_timeout) != 0) {
                fprintf(stderr, "cofferd: --vault-timeout wants 1..300 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--registry") == 0 && has) {
            if (nreg == MAX_REGISTRIES) {
                fprintf(stderr, "cofferd: too many --registry flags\n");
                return 2;
            }
            registries[nreg++] = argv[++i];
            if (!ctl_registry_name_valid(argv[i])) {
                fprintf(stderr, "cofferd: --registry '%.64s': " CTL_REGISTRY_NAME_RULE "\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--login-domain") == 0 && has) {
            login_domain = argv[++i];
        } else if (strcmp(a, "--service") == 0 && has) {
            service = argv[++i];
        } else if (strcmp(a, "--upload-ttl") == 0 && has) {
            if (parse_uint(argv[++i], 1, 30UL * 24 * 3600, &ttl) != 0) {
                fprintf(stderr, "cofferd: --upload-ttl wants 1..2592000 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--gc-grace") == 0 && has) {
            int64_t g;
            if (cf_duration_parse(argv[++i], 365 * 86400, &g) != 0) {
                fprintf(stderr, "cofferd: --gc-grace wants a duration of at most 365d (90s, 15m, "
                                "24h, 7d)\n");
                return 2;
            }
            gc_set_default_grace(g);
        } else if (strcmp(a, "--task-tick") == 0 && has) {
            if (parse_uint(argv[++i], 1, 3600, &task_tick) != 0) {
                fprintf(stderr, "cofferd: --task-tick wants 1..3600 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--test-clock-file") == 0 && has) {
            test_clock = argv[++i];
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
        } else if (strcmp(a, "--tls-cert") == 0 && has) {
            shared.cert = argv[++i];
        } else if (strcmp(a, "--tls-key") == 0 && has) {
            shared.key = argv[++i];
        } else if (strcmp(a, "--data-tls-cert") == 0 && has) {
            dtls.cert = argv[++i];
        } else if (strcmp(a, "--data-tls-key") == 0 && has) {
            dtls.key = argv[++i];
        } else if (strcmp(a, "--mgmt-tls-cert") == 0 && has) {
            mtls.cert = argv[++i];
        } else if (strcmp(a, "--mgmt-tls-key") == 0 && has) {
            mtls.key = argv[++i];
        } else if (strcmp(a, "--insecure-plain-http") == 0) {
            plain_ok = 1;
        } else if (strcmp(a, "--insecure-no-auth") == 0) {
            no_auth = 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("cofferd %s\n", COFFER_VERSION);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr,
                    "cofferd: unknown argument '%s' (flags, and --config keys, are listed below)\n",
                    a);
            usage(stderr);
            return 2;
        }
    }

    if (tls_pair_check(&shared, "") || tls_pair_check(&dtls, "data-") ||
        tls_pair_check(&mtls, "mgmt-"))
        return 2;
    if (dtls.cert == NULL)
        dtls = shared;
    if (mtls.cert == NULL)
        mtls = shared;
    if (issuer_arg && strncmp(issuer_arg, "http://", 7) == 0 && !http_url_is_loopback(issuer_arg)) {
        fprintf(stderr,
                "cofferd: --issuer %s is plain http:// to a host that is not loopback: vaults "
                "fetch the issuer's keys from it, so it must be https:// (docs/tls.md)\n",
                issuer_arg);
        return 2;
    }
    int plain_data = plain_check(listen, &dtls, "--listen", plain_ok);
    int plain_mgmt = plain_check(mgmt_listen, &mtls, "--mgmt-listen", plain_ok);
    if (plain_data < 0 || plain_mgmt < 0)
        return 2;
    if (plain_ok && !plain_data && !plain_mgmt)
        cf_log(CF_LOG_WARN,
               "--insecure-plain-http is set; every listener is on loopback or has TLS", NULL);

    umask(077); /* everything under --data is the service's alone */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);                /* reloads the TLS certificates (http/tls.h) */
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    cf_err e = {0};
    http_server *srv = NULL, *msrv = NULL;
    http_tls *tls[2] = {NULL, NULL}; /* data, management (the same one when shared) */
    issuer *iss = NULL;
    char path[4096];
    char admin[MGMT_ADMIN_TOKEN_LEN + 1] = {0};
    int keys_up = 0, meta_up = 0, janitor_up = 0, cmk_up = 0, tasks_up = 0;
    if (dtls.cert && http_tls_open(&tls[0], "data", dtls.cert, dtls.key, &e) != CF_OK)
        goto out;
    if (mtls.cert && dtls.cert == mtls.cert && dtls.key == mtls.key)
        tls[1] = tls[0];
    else if (mtls.cert && http_tls_open(&tls[1], "management", mtls.cert, mtls.key, &e) != CF_OK)
        goto out;
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
    /* this node's name among several sharing the database: made once,
     * kept in the data directory (not copied to other nodes) */
    char node[KEYS_TOKEN_HEX_LEN + 1];
    snprintf(path, sizeof(path), "%s/node.id", data);
    if (keys_token_file_load(path, KEYS_TOKEN_HEX, node, sizeof(node), NULL, &e) != CF_OK)
        goto out;
    node[16] = '\0';
    meta_set_node(node);
    snprintf(path, sizeof(path), "%s/cofferd.db", data);
    if (meta_init(database ? database : path, &e) != CF_OK)
        goto out;
    meta_up = 1;
    cf_log(CF_LOG_INFO, "metadata store open", "engine", meta_engine(), "node", node, NULL);
    arm_defaults ad = {.sub = subscription,
                       .tenant = tenant,
                       .group = default_group,
                       .location = ARM_DEFAULT_LOCATION};
    if (arm_store_init(&ad, NULL, &e) != CF_OK)
        goto out;
    objects_store *ost = NULL;
    if (s3_opts_store(&ost, data, &so, &e) != CF_OK)
        goto out;
    objects_init_store(ost);
    /* an upload on S3 holds a part buffer (8 MiB) while it stays in
     * memory between requests: fewer idle ones (the rest reload from
     * their checkpoint) */
    if (strcmp(objects_store_kind(ost), "s3") == 0)
        uploads_configure(4);
    if (no_auth)
        cf_log(CF_LOG_WARN, "data plane authentication is OFF (--insecure-no-auth)", NULL);
    /* the address clients reach the data plane at, known before the bind
     * unless the port is 0: the service name (and the challenge's
     * fallback) is then right from the first request */
    char port[8], mport[8], data_addr[300], url[512];
    const char *lport = strrchr(listen, ':');
    data_address(data_addr, sizeof(data_addr), listen, lport ? lport + 1 : "0");
    registry_api_config rc = {.login_domain = login_domain,
                              .insecure_no_auth = no_auth,
                              .service = service,
                              .data_addr = lport && strcmp(lport + 1, "0") != 0 ? data_addr : NULL};
    if (registry_api_configure(&rc, &e) != CF_OK)
        goto out;
    snprintf(path, sizeof(path), "%s/admin.token", data);
    int token_created = 0;
    if (keys_token_file_load(path, KEYS_TOKEN_B64URL, admin, sizeof(admin), &token_created, &e) !=
        CF_OK)
        goto out;
    if (token_created)
        cf_log(CF_LOG_INFO, "admin token created", "path", path, NULL);
    /* several nodes on one database: refuse a copy of the keys that is not
     * the others' before anything is written with it */
    if (sharedkeys_check(admin, &e) != CF_OK)
        goto out;
    for (int i = 0; i < nreg; i++) {
        int created = 0;
        if (registries_ensure(registries[i], &created, &e) != CF_OK)
            goto out;
        if (created)
            cf_log(CF_LOG_INFO, "registry created", "registry", registries[i], "encryption",
                   "service-managed", NULL);
    }
    /* several nodes may share the database: uploads are claimed
     * cluster-wide, and the other nodes' notifications are listened to */
    if (coord_clustered())
        uploads_set_coord(coord_uploads());
    if (janitor_start((unsigned)ttl, &e) != CF_OK)
        goto out;
    janitor_up = 1;
    if (test_clock)
        cf_log(CF_LOG_WARN, "tasks run on a test clock (--test-clock-file): not for production",
               "file", test_clock, NULL);
    if (tasks_start((unsigned)task_tick, test_clock, &e) != CF_OK)
        goto out;
    tasks_up = 1;

    http_server_opts o = {
        .listen = listen,
        .tls = tls[0],
        .handler = data_handle,
        .request_id_header = "X-Request-Id",
        .metrics_name = "data",
        .threads = (unsigned)threads,
        .idle_timeout_s = (unsigned)idle,
    };
    if (http_server_start(&srv, &o, &e) != CF_OK)
        goto out;
    snprintf(port, sizeof(port), "%u", http_server_port(srv));
    data_address(data_addr, sizeof(data_addr), listen, port);
    registry_api_set_address(data_addr);

    char audit_path[4096];
    snprintf(audit_path, sizeof(audit_path), "%s/mgmt-audit.log", data);
    mgmt_config mc = {.admin_token = admin,
                      .tenant = tenant,
                      .login_domain = login_domain,
                      .data_addr = data_addr,
                      .audit_path = audit_path};
    if (mgmt_configure(&mc, &e) != CF_OK)
        goto out;
    http_server_opts mo = {
        .listen = mgmt_listen,
        .tls = tls[1],
        .handler = mgmt_entry,
        .request_id_header = "X-Request-Id",
        .metrics_name = "management",
        .threads = 2,
        .idle_timeout_s = (unsigned)idle,
        .max_connections = 256,
        .drain_max = 1024 * 1024,
    };
    if (http_server_start(&msrv, &mo, &e) != CF_OK)
        goto out;
    snprintf(mport, sizeof(mport), "%u", http_server_port(msrv));
    if (issuer_arg)
        snprintf(url, sizeof(url), "%s", issuer_arg);
    else
        snprintf(url, sizeof(url), "%s://127.0.0.1:%s", tls[1] ? "https" : "http", mport);
    snprintf(path, sizeof(path), "%s/keys/issuer", data);
    if (issuer_open(&iss, path, url, tenant, &e) != CF_OK)
        goto out;
    if (sharedkeys_check_issuer(issuer_kid(iss), &e) != CF_OK)
        goto out;
    mgmt_set_issuer(iss);
    issuer_set_default(iss);
    char events_path[4096];
    snprintf(events_path, sizeof(events_path), "%s/key-events.log", data);
    portal_config pc = {.vault_ca = vault_ca, .vault_timeout_s = (unsigned)vault_timeout};
    if (portal_configure(&pc, &e) != CF_OK)
        goto out;
    cmk_config cc = {.ca_file = vault_ca,
                     .events_path = events_path,
                     .resource = ISSUER_VAULT_RESOURCE,
                     .check_interval_s = (unsigned)check_interval,
                     .timeout_s = (unsigned)vault_timeout,
                     .token = issuer_token};
    if (cmk_start(&cc, &e) != CF_OK)
        goto out;
    cmk_up = 1;
    /* the other nodes' news (after cmk_start: it subscribes), and the
     * readiness the load balancers ask for */
    if (coord_start(&e) != CF_OK)
        goto out;
    metrics_add_collector(node_collect);
    if (health_start(&e) != CF_OK)
        goto out;
    /* every listener is bound: only now is the start announced (a script
     * waiting for these lines never goes ahead with a daemon about to exit
     * because its second port was taken) */
    cf_log(CF_LOG_INFO, "listening", "listen", listen, "port", port, "api", "data", "scheme",
           tls[0] ? "https" : "http", "service", service ? service : data_addr, NULL);
    char maddr[300], portal_url[400];
    data_address(maddr, sizeof(maddr), mgmt_listen, mport);
    snprintf(portal_url, sizeof(portal_url), "%s://%s/portal/", tls[1] ? "https" : "http", maddr);
    cf_log(CF_LOG_INFO, "listening", "listen", mgmt_listen, "port", mport, "api", "management",
           "scheme", tls[1] ? "https" : "http", "issuer", issuer_url(iss), "kid", issuer_kid(iss),
           "portal", portal_url, NULL);
    http_tls *reload[2]; /* each certificate once */
    size_t nreload = 0;
    if (tls[0])
        reload[nreload++] = tls[0];
    if (tls[1] && tls[1] != tls[0])
        reload[nreload++] = tls[1];
    int sig = http_tls_wait_stop(&set, reload, nreload);
    health_set_stopping();
    cf_log(CF_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
    status = 0;
out:
    if (status != 0)
        cf_log(CF_LOG_ERROR, "cannot start", "error", e.msg, NULL);
    http_server_stop(srv);
    http_server_stop(msrv);
    health_stop();
    coord_stop();
    if (tls[1] != tls[0])
        http_tls_free(tls[1]);
    http_tls_free(tls[0]); /* after the servers: their connections hold certificates */
    if (cmk_up)
        cmk_stop();
    mgmt_shutdown();
    portal_shutdown();
    issuer_set_default(NULL);
    issuer_free(iss);
    OPENSSL_cleanse(admin, sizeof(admin));
    if (tasks_up)
        tasks_stop();
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

int main(int argc, char **argv)
{
    /* Memory (docs/performance.md): buffers of 128 KiB and more (stream
     * blocks, MHD pools) come from mmap and go back on free, with no
     * dynamic threshold creeping up after the first free; two malloc
     * arenas instead of one per worker thread. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_ARENA_MAX, 2);
    /* before any thread (S3, vault clients) and any JSON: libcurl's and
     * jansson's buffers are wiped when freed (base/wipemem.h) */
    cf_wipe_install();
    if (argc > 1 && strcmp(argv[1], "migrate") == 0)
        return migrate_main(argc - 1, argv + 1);
    char **args = NULL;
    int nargs = 0;
    int status = expand_config(argc, argv, &args, &nargs);
    if (status == 0)
        status = serve(nargs, args);
    free_args(args, nargs);
    return status;
}
