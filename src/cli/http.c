/*
 * http.c -- the coffer client's HTTP exchange (libcurl) and the calls to
 * each server built on it: cofferd's management API, keyvaultd's management
 * API and its keys API (see http.h and cli.h).
 */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/http.h"
#include "http/tls.h"

#define RESPONSE_CAP (32u * 1024 * 1024)
#define KEYS_API_VERSION "api-version=7.4"
#define MAX_PAGES 1000

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    cf_buf *b = ud;
    if (cf_buf_append(b, p, size * n, NULL) != CF_OK)
        return 0; /* past the cap: curl aborts the transfer */
    return size * n;
}

/* "https://host:port/path?query" -> "host:port/path" for messages. */
static void short_url(char *dst, size_t n, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    snprintf(dst, n, "%.*s", (int)strcspn(p, "?"), p);
}

/* The error a server's answer carries. */
static int answer_error(long status, const char *method, const char *url, const cf_buf *b,
                        const json_t *j, cli_err *e)
{
    const json_t *err = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (code && msg)
        return cli_fail(e, code, "%s", msg);
    char where[512];
    short_url(where, sizeof(where), url);
    return cli_fail(e, "HttpError", "%s %s answered %ld%s%.200s", method, where, status,
                    b->len ? ": " : "", b->len ? (const char *)b->data : "");
}

int cli_http_call(const char *method, const char *url, const char *token, const char *ca,
                  int insecure, const json_t *body, long *status, json_t **out, cli_err *e)
{
    int rc = -1;
    char *payload = NULL;
    char *auth = NULL;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    cf_buf b;
    cf_buf_init(&b, RESPONSE_CAP);
    *out = NULL;
    *status = 0;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        cli_fail(e, "ClientError", "cannot start an HTTP client");
        goto out;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (token) {
        size_t n = strlen(token) + 32;
        auth = malloc(n);
        if (auth == NULL) {
            cli_fail(e, "OutOfMemory", "out of memory");
            goto out;
        }
        snprintf(auth, n, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL) {
            cli_fail(e, "OutOfMemory", "out of memory");
            goto out;
        }
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
               strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    if (insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        char where[512];
        short_url(where, sizeof(where), url);
        cli_fail(e, "ConnectionError", "cannot reach %s: %s", where,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    json_t *j = NULL;
    if (b.len > 0)
        j = json_loadb((const char *)b.data, b.len, 0, NULL);
    if (*status >= 400) {
        answer_error(*status, method, url, &b, j, e);
        json_decref(j);
        goto out;
    }
    if (b.len > 0 && j == NULL) {
        char where[512];
        short_url(where, sizeof(where), url);
        cli_fail(e, "InvalidResponse", "%s %s answered %ld with a body that is not JSON", method,
                 where, *status);
        goto out;
    }
    *out = j;
    rc = 0;
out:
    if (auth) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    curl_slist_free_all(hdrs);
    free(payload);
    cf_buf_free(&b);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

char *cli_http_escape(const char *seg)
{
    char *x = curl_easy_escape(NULL, seg, 0);
    if (x == NULL)
        return NULL;
    char *r = strdup(x);
    curl_free(x);
    return r;
}

int cli_ctx_config(cli_ctx *c, cli_err *e)
{
    if (c->cfg_loaded)
        return 0;
    if (cli_config_load(&c->cfg, e))
        return -1;
    c->cfg_loaded = 1;
    return 0;
}

/* base + path (+ '?'/'&' + extra); caller frees. */
static char *join_url(const char *base, const char *path, const char *extra)
{
    size_t n = strlen(base) + strlen(path) + (extra ? strlen(extra) : 0) + 2;
    char *u = malloc(n);
    if (u == NULL)
        return NULL;
    if (extra)
        snprintf(u, n, "%s%s%c%s", base, path, strchr(path, '?') ? '&' : '?', extra);
    else
        snprintf(u, n, "%s%s", base, path);
    return u;
}

static int call(cli_ctx *c, const char *base, const char *path, const char *extra,
                const char *token, const char *ca, const char *method, const json_t *body,
                json_t **out, cli_err *e)
{
    char *url = join_url(base, path, extra);
    c->last_status = 0;
    if (url == NULL)
        return cli_fail(e, "OutOfMemory", "out of memory");
    int rc = cli_http_call(method, url, token, ca, c->insecure, body, &c->last_status, out, e);
    free(url);
    return rc;
}

static int need_token(const cli_ctx *c, const char *tok, const char *what, const char *keys,
                      const char *env, cli_err *e)
{
    if (tok)
        return 0;
    return cli_fail(e, "ConfigError", "no token for %s: set %s in the config file (%s) or %s", what,
                    keys, c->cfg.path[0] ? c->cfg.path : "none read", env);
}

int cli_mgmt(cli_ctx *c, const char *method, const char *path, const json_t *body, json_t **out,
             cli_err *e)
{
    *out = NULL;
    if (cli_ctx_config(c, e) ||
        need_token(c, c->cfg.token, "the management API", "token or token_file", "COFFER_TOKEN", e))
        return -1;
    /* the admin token must not cross a network in clear */
    if (strncmp(c->cfg.url, "http://", 7) == 0 && !http_url_is_loopback(c->cfg.url) && !c->insecure)
        return cli_fail(e, "ConfigError",
                        "url %.200s is plain http:// to a host that is not loopback: the token "
                        "would cross the network in clear; use https:// (with ca = the CA file "
                        "that signs cofferd's certificate), or --insecure",
                        c->cfg.url);
    return call(c, c->cfg.url, path, NULL, c->cfg.token, c->cfg.ca, method, body, out, e);
}

int cli_vault_mgmt(cli_ctx *c, const char *method, const char *path, const json_t *body,
                   json_t **out, cli_err *e)
{
    *out = NULL;
    if (cli_ctx_config(c, e) ||
        need_token(c, c->cfg.vault_token, "the key vault", "vault_token or vault_token_file",
                   "COFFER_VAULT_TOKEN", e))
        return -1;
    return call(c, c->cfg.vault_url, path, NULL, c->cfg.vault_token, c->cfg.vault_ca, method, body,
                out, e);
}

int cli_vault_keys(cli_ctx *c, const char *vault, const char *method, const char *path,
                   const json_t *body, json_t **out, cli_err *e)
{
    *out = NULL;
    char *base = NULL;
    if (cli_ctx_config(c, e) ||
        need_token(c, c->cfg.vault_token, "the key vault", "vault_token or vault_token_file",
                   "COFFER_VAULT_TOKEN", e) ||
        cli_config_vault_base(&c->cfg, vault, &base, e))
        return -1;
    int rc = call(c, base, path, KEYS_API_VERSION, c->cfg.vault_token, c->cfg.vault_ca, method,
                  body, out, e);
    free(base);
    return rc;
}

int cli_vault_keys_list(cli_ctx *c, const char *vault, const char *path, json_t **out, cli_err *e)
{
    *out = NULL;
    char *base = NULL;
    json_t *all = NULL, *page = NULL;
    int rc = -1;
    if (cli_ctx_config(c, e) ||
        need_token(c, c->cfg.vault_token, "the key vault", "vault_token or vault_token_file",
                   "COFFER_VAULT_TOKEN", e) ||
        cli_config_vault_base(&c->cfg, vault, &base, e))
        return -1;
    all = json_array();
    char *url = join_url(base, path, KEYS_API_VERSION);
    for (int pages = 0; url != NULL; pages++) {
        long status;
        if (pages >= MAX_PAGES) {
            cli_fail(e, "InvalidResponse", "more than %d pages of results", MAX_PAGES);
            goto out;
        }
        if (cli_http_call("GET", url, c->cfg.vault_token, c->cfg.vault_ca, c->insecure, NULL,
                          &status, &page, e))
            goto out;
        json_array_extend(all, json_object_get(page, "value"));
        const char *next = json_string_value(json_object_get(page, "nextLink"));
        free(url);
        url = NULL;
        if (next && *next) {
            /* the token goes only back to the vault it came from */
            size_t bl = strlen(base);
            if (strncasecmp(next, base, bl) != 0 || next[bl] != '/') {
                cli_fail(e, "InvalidResponse", "the vault's nextLink points to another origin");
                goto out;
            }
            url = strdup(next);
            if (url == NULL) {
                cli_fail(e, "OutOfMemory", "out of memory");
                goto out;
            }
        }
        json_decref(page);
        page = NULL;
    }
    *out = all;
    all = NULL;
    rc = 0;
out:
    free(url);
    json_decref(page);
    json_decref(all);
    free(base);
    return rc;
}
