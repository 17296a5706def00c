/*
 * vaultc.c -- see vaultc.h. One libcurl easy handle per call (calls are
 * rare: a key check per registry per interval, plus creation and
 * rotation), so there is no connection state to share between threads.
 * A call carries secrets (C in wrapKey's request and unwrapKey's answer,
 * the bearer token): its buffers are wiped, ours (cf_buf secret),
 * libcurl's and jansson's (base/wipemem.h) and OpenSSL's (tls_cleanse).
 *
 * URLs are always rebuilt from a parsed vaultc_keyid, never taken from
 * the vault's answers as they are: a kid the vault returns is parsed with
 * the same strict parser before it is used or stored.
 */
#define CF_LOG_MOD "cmk.vaultc"
#include "cmk/vaultc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/metrics.h"
#include "base/wipemem.h"

/* ---- key identifiers ---- */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

cf_code vaultc_keyid_parse(vaultc_keyid *out, const char *s, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0')
        return cf_err_set(e, CF_EINVAL, "the key identifier is empty");
    size_t n = strlen(s);
    if (n >= VAULTC_KID_MAX)
        return cf_err_set(e, CF_EINVAL, "the key identifier is too long");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return cf_err_set(e, CF_EINVAL,
                              "the key identifier contains a space or control "
                              "or non-ASCII character");
        if (c == '?' || c == '#')
            return cf_err_set(e, CF_EINVAL, "the key identifier must not have a query or fragment");
    }
    if (strncasecmp(s, "https://", 8) != 0)
        return cf_err_set(e, CF_EINVAL, "the key identifier must be an https:// URL");
    const char *a = s + 8;
    const char *slash = strchr(a, '/');
    if (slash == NULL)
        return cf_err_set(e, CF_EINVAL, "the key identifier has no /keys/<name> path");
    size_t an = (size_t)(slash - a);
    if (an == 0 || an >= sizeof(out->authority))
        return cf_err_set(e, CF_EINVAL, "the key identifier has no valid host");
    if (memchr(a, '@', an))
        return cf_err_set(e, CF_EINVAL, "the key identifier must not carry user information");
    /* host: a DNS name / IPv4 literal, or [IPv6]; then an optional :port */
    size_t i = 0;
    if (a[0] == '[') {
        for (i = 1; i < an && a[i] != ']'; i++)
            if (!is_hex(a[i]) && a[i] != ':' && a[i] != '.')
                return cf_err_set(e, CF_EINVAL, "the key identifier has an invalid host");
        if (i >= an || i == 1)
            return cf_err_set(e, CF_EINVAL, "the key identifier has an invalid host");
        i++;
    } else {
        while (i < an && host_char(a[i]))
            i++;
        if (i == 0 || a[0] == '.' || a[0] == '-' || a[i - 1] == '.' || a[i - 1] == '-')
            return cf_err_set(e, CF_EINVAL, "the key identifier has an invalid host");
    }
    if (i < an) {
        if (a[i] != ':' || i + 1 == an || an - i - 1 > 5)
            return cf_err_set(e, CF_EINVAL, "the key identifier has an invalid host or port");
        unsigned long port = 0;
        for (size_t j = i + 1; j < an; j++) {
            if (a[j] < '0' || a[j] > '9')
                return cf_err_set(e, CF_EINVAL, "the key identifier has an invalid port");
            port = port * 10 + (unsigned long)(a[j] - '0');
        }
        if (port == 0 || port > 65535)
            return cf_err_set(e, CF_EINVAL, "the key identifier has an invalid port");
    }
    for (size_t j = 0; j < an; j++)
        out->authority[j] = (char)tolower((unsigned char)a[j]);
    out->authority[an] = '\0';

    const char *p = slash;
    if (strncmp(p, "/keys/", 6) != 0)
        return cf_err_set(e, CF_EINVAL, "the key identifier's path must be /keys/<name>");
    p += 6;
    const char *end = strchr(p, '/');
    size_t nn = end ? (size_t)(end - p) : strlen(p);
    if (nn == 0 || nn > 127)
        return cf_err_set(e, CF_EINVAL, "the key name must be 1-127 characters");
    for (size_t j = 0; j < nn; j++)
        if (!isalnum((unsigned char)p[j]) && p[j] != '-')
            return cf_err_set(e, CF_EINVAL,
                              "the key name may contain only letters, digits and dashes");
    memcpy(out->name, p, nn);
    out->name[nn] = '\0';
    if (end == NULL)
        return CF_OK;
    const char *v = end + 1;
    size_t vn = strlen(v);
    if (vn != VAULTC_VERSION_LEN)
        return cf_err_set(e, CF_EINVAL,
                          "the key version must be 32 hexadecimal digits, with nothing after it");
    for (size_t j = 0; j < vn; j++)
        if (!is_hex(v[j]))
            return cf_err_set(e, CF_EINVAL, "the key version must be 32 hexadecimal digits");
    memcpy(out->version, v, vn + 1);
    return CF_OK;
}

cf_code vaultc_keyid_format(char *out, size_t n, const vaultc_keyid *id, int with_version,
                            cf_err *e)
{
    int w;
    if (with_version && id->version[0])
        w = snprintf(out, n, "https://%s/keys/%s/%s", id->authority, id->name, id->version);
    else
        w = snprintf(out, n, "https://%s/keys/%s", id->authority, id->name);
    if (w < 0 || (size_t)w >= n)
        return cf_err_set(e, CF_ETOOBIG, "key identifier too long");
    return CF_OK;
}

/* ---- answers ---- */

const char *vaultc_class_name(vaultc_class c)
{
    switch (c) {
    case VAULTC_OK:
        return "ok";
    case VAULTC_DENIED:
        return "denied";
    case VAULTC_TRANSIENT:
        return "transient";
    case VAULTC_INVALID:
        return "invalid";
    }
    return "?";
}

static void copy_str(char *dst, size_t n, const json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    snprintf(dst, n, "%s", s ? s : "");
    /* a log line or lastError must stay one line */
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

void vaultc_parse_error(vaultc_result *r, const char *body, size_t len)
{
    r->code[0] = r->inner[0] = r->message[0] = '\0';
    if (body == NULL || len == 0)
        return;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *err = json_is_object(j) ? json_object_get(j, "error") : NULL;
    if (json_is_object(err)) {
        copy_str(r->code, sizeof(r->code), json_object_get(err, "code"));
        copy_str(r->message, sizeof(r->message), json_object_get(err, "message"));
        const json_t *inner = json_object_get(err, "innererror");
        if (json_is_object(inner))
            copy_str(r->inner, sizeof(r->inner), json_object_get(inner, "code"));
    }
    json_decref(j);
}

static const char *reason_phrase(long status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 409:
        return "Conflict";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalServerError";
    case 502:
        return "BadGateway";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "GatewayTimeout";
    }
    return "Error";
}

void vaultc_classify(vaultc_result *r, long status, const char *body, size_t len)
{
    r->status = status;
    r->code[0] = r->inner[0] = r->message[0] = '\0';
    if (status >= 200 && status < 300) {
        r->cls = VAULTC_OK;
        return;
    }
    vaultc_parse_error(r, body, len);
    if (r->code[0] == '\0')
        snprintf(r->code, sizeof(r->code), "%s", reason_phrase(status));
    if (r->message[0] == '\0')
        snprintf(r->message, sizeof(r->message), "HTTP %ld without an error body", status);
    if (status == 401 || status == 403 || status == 404)
        r->cls = VAULTC_DENIED;
    else if (status == 429 || (status >= 500 && status <= 599))
        r->cls = VAULTC_TRANSIENT;
    else
        r->cls = VAULTC_INVALID;
}

static void set_invalid(vaultc_result *r, const char *msg)
{
    r->cls = VAULTC_INVALID;
    snprintf(r->message, sizeof(r->message), "%s", msg);
}

cf_code vaultc_parse_key(vaultc_key *out, const char *body, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    cf_code rc = CF_OK;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        rc = cf_err_set(e, CF_EINVAL, "the key bundle is not a JSON object");
        goto out;
    }
    const json_t *key = json_object_get(j, "key");
    const json_t *attrs = json_object_get(j, "attributes");
    if (!json_is_object(key) || !json_is_object(attrs)) {
        rc = cf_err_set(e, CF_EINVAL, "the key bundle has no key or attributes object");
        goto out;
    }
    const json_t *kid = json_object_get(key, "kid"), *kty = json_object_get(key, "kty");
    const json_t *ops = json_object_get(key, "key_ops");
    const json_t *en = json_object_get(attrs, "enabled");
    const json_t *rl = json_object_get(attrs, "recoveryLevel");
    if (!json_is_string(kid) || !json_is_string(kty) || !json_is_boolean(en)) {
        rc = cf_err_set(e, CF_EINVAL,
                        "the key bundle lacks key.kid, key.kty or "
                        "attributes.enabled");
        goto out;
    }
    if (json_string_length(kid) >= sizeof(out->kid) ||
        json_string_length(kty) >= sizeof(out->kty)) {
        rc = cf_err_set(e, CF_EINVAL, "the key bundle's kid or kty is too long");
        goto out;
    }
    if (ops != NULL && !json_is_array(ops)) {
        rc = cf_err_set(e, CF_EINVAL, "the key bundle's key_ops is not an array");
        goto out;
    }
    if (rl != NULL && !json_is_string(rl)) {
        rc = cf_err_set(e, CF_EINVAL, "the key bundle's recoveryLevel is not a string");
        goto out;
    }
    memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
    memcpy(out->kty, json_string_value(kty), json_string_length(kty) + 1);
    if (strlen(out->kid) != json_string_length(kid) ||
        strlen(out->kty) != json_string_length(kty)) {
        rc = cf_err_set(e, CF_EINVAL, "the key bundle's kid or kty contains NUL");
        goto out;
    }
    out->enabled = json_is_true(en);
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *s = json_string_value(op);
        if (s && strcmp(s, "wrapKey") == 0)
            out->op_wrap = 1;
        else if (s && strcmp(s, "unwrapKey") == 0)
            out->op_unwrap = 1;
    }
    copy_str(out->recovery_level, sizeof(out->recovery_level), rl);
out:
    json_decref(j);
    return rc;
}

cf_code vaultc_parse_op(unsigned char *out, size_t cap, size_t *out_len, char *kid_out,
                        const char *body, size_t len, cf_err *e)
{
    *out_len = 0;
    cf_code rc = CF_OK;
    cf_buf b;
    cf_buf_init(&b, cap + 3); /* room to notice "too big" */
    b.secret = 1;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *kid = json_is_object(j) ? json_object_get(j, "kid") : NULL;
    const json_t *val = json_is_object(j) ? json_object_get(j, "value") : NULL;
    if (!json_is_string(val)) {
        rc = cf_err_set(e, CF_EINVAL, "the key operation result has no value");
        goto out;
    }
    if (kid_out) {
        if (!json_is_string(kid) || json_string_length(kid) >= VAULTC_KID_MAX ||
            strlen(json_string_value(kid)) != json_string_length(kid)) {
            rc = cf_err_set(e, CF_EINVAL, "the key operation result has no valid kid");
            goto out;
        }
        memcpy(kid_out, json_string_value(kid), json_string_length(kid) + 1);
    }
    if (json_string_length(val) > cf_b64url_encoded_len(cap)) {
        rc = cf_err_set(e, CF_ETOOBIG, "the key operation result is larger than %zu bytes", cap);
        goto out;
    }
    if (cf_b64url_decode(&b, json_string_value(val), json_string_length(val), NULL) != CF_OK) {
        rc = cf_err_set(e, CF_EINVAL, "the key operation result is not base64url");
        goto out;
    }
    if (b.len > cap) {
        rc = cf_err_set(e, CF_ETOOBIG, "the key operation result is larger than %zu bytes", cap);
        goto out;
    }
    memcpy(out, b.data, b.len);
    *out_len = b.len;
out:
    if (j) {
        /* the string may be the unwrapped secret in base64url */
        if (json_is_string(val))
            OPENSSL_cleanse((void *)json_string_value(val), json_string_length(val));
        json_decref(j);
    }
    cf_buf_free(&b);
    return rc;
}

/* ---- transport ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int cleanse_tls; /* libcurl's TLS is OpenSSL's: SSL_CTX_FUNCTION gets an SSL_CTX */

static void curl_init_once(void)
{
    cf_wipe_install();
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    cleanse_tls = v && v->ssl_version && strncmp(v->ssl_version, "OpenSSL/", 8) == 0;
}

void vaultc_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

/* OpenSSL keeps the last record it decrypted in its read buffer until the
 * next one overwrites it (an unwrapKey answer: C); with this option it
 * wipes the plaintext once handed to libcurl, whose own buffers are wiped
 * when freed (base/wipemem.h). */
static CURLcode tls_cleanse(CURL *c, void *ssl_ctx, void *ud)
{
    (void)c;
    (void)ud;
    SSL_CTX_set_options((SSL_CTX *)ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
    return CURLE_OK;
}

typedef struct sink_ctx {
    cf_buf *b;
    int overflow;
} sink_ctx;

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    sink_ctx *s = ud;
    if (cf_buf_append(s->b, p, size * n, NULL) != CF_OK) {
        s->overflow = 1;
        return 0; /* past the cap: abort the transfer */
    }
    return size * n;
}

/* Keeps the vault's x-ms-request-id: the requestId of its audit line for
 * this call, so a key event can name the vault's record of it. */
static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    vaultc_result *r = ud;
    size_t len = size * n;
    static const char name[] = "x-ms-request-id:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        size_t i = sizeof(name) - 1, j = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < len && j + 1 < sizeof(r->request_id) && p[i] > 0x20 && p[i] < 0x7f)
            r->request_id[j++] = p[i++];
        r->request_id[j] = '\0';
    }
    return len;
}

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const vaultc_opts *o = ud;
    return o->cancelled() ? 1 : 0;
}

/* A bearer token goes into a header line: visible ASCII only. */
static int token_ok(const char *t)
{
    if (t == NULL || *t == '\0')
        return 0;
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
            return 0;
    return 1;
}

static cf_code code_of(const vaultc_result *r)
{
    switch (r->cls) {
    case VAULTC_OK:
        return CF_OK;
    case VAULTC_DENIED:
        return CF_EDENIED;
    case VAULTC_TRANSIENT:
        return CF_EUNAVAIL;
    case VAULTC_INVALID:
        break;
    }
    return CF_EINVAL;
}

/* The outcome as a cf_err: "<status> <code>: <message>" or the message. */
static cf_code fail(const vaultc_result *r, cf_err *e)
{
    if (r->status)
        return cf_err_set(e, code_of(r), "%ld %s: %s", r->status, r->code, r->message);
    return cf_err_set(e, code_of(r), "%s", r->message);
}

/* One HTTPS call; the body of the answer in *resp (capped), r classified
 * from the transport and the status. resp->secret is the caller's. */
static void perform(vaultc_result *r, cf_buf *resp, const vaultc_opts *o, const char *token,
                    const char *url, const char *post, size_t post_len)
{
    memset(r, 0, sizeof(*r));
    if (!token_ok(token)) {
        set_invalid(r, "no usable bearer token for the vault");
        return;
    }
    vaultc_global_init();
    CURL *c = curl_easy_init();
    if (c == NULL) {
        r->cls = VAULTC_TRANSIENT;
        snprintf(r->message, sizeof(r->message), "cannot create an HTTP client (out of memory)");
        return;
    }
    struct curl_slist *h = NULL;
    char *auth = NULL;
    size_t auth_len = strlen("Authorization: Bearer ") + strlen(token) + 1;
    auth = malloc(auth_len);
    if (auth == NULL) {
        r->cls = VAULTC_TRANSIENT;
        snprintf(r->message, sizeof(r->message), "out of memory");
        curl_easy_cleanup(c);
        return;
    }
    snprintf(auth, auth_len, "Authorization: Bearer %s", token);
    struct curl_slist *t;
    if ((t = curl_slist_append(h, auth)) != NULL)
        h = t;
    if ((t = curl_slist_append(h, "Accept: application/json")) != NULL)
        h = t;
    if (post && (t = curl_slist_append(h, "Content-Type: application/json")) != NULL)
        h = t;
    if ((t = curl_slist_append(h, "Expect:")) != NULL)
        h = t;
    char errbuf[CURL_ERROR_SIZE] = "";
    sink_ctx sc = {resp, 0};
    long timeout = o && o->timeout_s ? (long)o->timeout_s : 10L;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2); /* docs/tls.md */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o && o->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sc);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cofferd-cmk/1");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (cleanse_tls)
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, tls_cleanse);
    if (o && o->cancelled) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (post) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)post_len);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CURLcode cc = curl_easy_perform(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    const char *op = post == NULL                        ? "get"
                     : strstr(url, "/unwrapkey") != NULL ? "unwrapKey"
                     : strstr(url, "/wrapkey") != NULL   ? "wrapKey"
                                                         : "other";
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    OPENSSL_cleanse(auth, auth_len);
    free(auth);
    curl_easy_cleanup(c);
    if (cc == CURLE_WRITE_ERROR && sc.overflow) {
        r->status = status;
        set_invalid(r, "the vault's answer is larger than 64 KiB");
    } else if (cc != CURLE_OK) {
        r->cls = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? VAULTC_INVALID
                                                                               : VAULTC_TRANSIENT;
        snprintf(r->message, sizeof(r->message), "%s%s%s", curl_easy_strerror(cc),
                 errbuf[0] ? ": " : "", errbuf);
    } else {
        vaultc_classify(r, status, (const char *)resp->data, resp->len);
    }
    metrics_vault_observe(op,
                          r->cls == VAULTC_OK        ? "ok"
                          : r->cls == VAULTC_DENIED  ? "denied"
                          : r->cls == VAULTC_INVALID ? "invalid"
                                                     : "transient",
                          secs);
}

cf_code vaultc_get(cf_buf *resp, vaultc_result *r, const vaultc_opts *o, const char *token,
                   const char *url, cf_err *e)
{
    perform(r, resp, o, token, url, NULL, 0);
    return r->cls == VAULTC_OK ? CF_OK : fail(r, e);
}

static cf_code keyid_url(char *url, size_t n, const char *key_url, const char *suffix,
                         vaultc_result *r, cf_err *e)
{
    vaultc_keyid id;
    cf_err pe = {0};
    char base[VAULTC_KID_MAX];
    if (vaultc_keyid_parse(&id, key_url, &pe) != CF_OK ||
        vaultc_keyid_format(base, sizeof(base), &id, 1, &pe) != CF_OK) {
        memset(r, 0, sizeof(*r));
        set_invalid(r, pe.msg);
        return cf_err_set(e, CF_EINVAL, "invalid key identifier: %s", pe.msg);
    }
    int w = snprintf(url, n, "%s%s?api-version=" VAULTC_API_VERSION, base, suffix);
    if (w < 0 || (size_t)w >= n) {
        memset(r, 0, sizeof(*r));
        set_invalid(r, "key identifier too long");
        return cf_err_set(e, CF_EINVAL, "key identifier too long");
    }
    return CF_OK;
}

cf_code vaultc_get_key(vaultc_key *out, vaultc_result *r, const vaultc_opts *o, const char *token,
                       const char *key_url, cf_err *e)
{
    char url[VAULTC_KID_MAX + 64];
    memset(out, 0, sizeof(*out));
    cf_code rc = keyid_url(url, sizeof(url), key_url, "", r, e);
    if (rc != CF_OK)
        return rc;
    cf_buf b;
    cf_buf_init(&b, VAULTC_MAX_BODY);
    perform(r, &b, o, token, url, NULL, 0);
    if (r->cls == VAULTC_OK) {
        cf_err pe = {0};
        if (vaultc_parse_key(out, (const char *)b.data, b.len, &pe) != CF_OK)
            set_invalid(r, pe.msg);
    }
    cf_buf_free(&b);
    return r->cls == VAULTC_OK ? CF_OK : fail(r, e);
}

/* POSTs {"alg":"RSA-OAEP-256","value":b64url(in)} to kid + op; the answer
 * lands in *b (initialised by the caller). secret_in: the request carries
 * the secret (wrap), else the answer does (unwrap); that buffer is wiped. */
static cf_code op_post(cf_buf *b, vaultc_result *r, const vaultc_opts *o, const char *token,
                       const char *kid, const char *op, const unsigned char *in, size_t in_len,
                       int secret_in, cf_err *e)
{
    char url[VAULTC_KID_MAX + 64];
    cf_code rc = keyid_url(url, sizeof(url), kid, op, r, e);
    if (rc != CF_OK)
        return rc;
    cf_buf req;
    cf_buf_init(&req, 0);
    req.secret = secret_in;
    b->secret = !secret_in;
    if (cf_buf_append(&req, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"", 31, e) != CF_OK ||
        cf_b64url_encode(&req, in, in_len, e) != CF_OK ||
        cf_buf_append(&req, "\"}", 2, e) != CF_OK) {
        memset(r, 0, sizeof(*r));
        set_invalid(r, "out of memory");
        rc = CF_ENOMEM;
    } else {
        perform(r, b, o, token, url, (const char *)req.data, req.len);
    }
    cf_buf_free(&req);
    return rc;
}

cf_code vaultc_wrap(unsigned char *wrapped, size_t wrapped_cap, size_t *wrapped_len, char *kid_out,
                    vaultc_result *r, const vaultc_opts *o, const char *token, const char *kid,
                    const unsigned char secret[VAULTC_SECRET_LEN], cf_err *e)
{
    *wrapped_len = 0;
    cf_buf b;
    cf_buf_init(&b, VAULTC_MAX_BODY);
    cf_code rc = op_post(&b, r, o, token, kid, "/wrapkey", secret, VAULTC_SECRET_LEN, 1, e);
    if (rc == CF_OK && r->cls == VAULTC_OK) {
        cf_err pe = {0};
        if (vaultc_parse_op(wrapped, wrapped_cap, wrapped_len, kid_out, (const char *)b.data, b.len,
                            &pe) != CF_OK)
            set_invalid(r, pe.msg);
        else if (*wrapped_len == 0)
            set_invalid(r, "the vault wrapped the key into nothing");
    }
    if (rc == CF_OK)
        rc = r->cls == VAULTC_OK ? CF_OK : fail(r, e);
    cf_buf_free(&b);
    return rc;
}

cf_code vaultc_unwrap(unsigned char secret[VAULTC_SECRET_LEN], vaultc_result *r,
                      const vaultc_opts *o, const char *token, const char *kid,
                      const unsigned char *wrapped, size_t wrapped_len, cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, VAULTC_MAX_BODY);
    cf_code rc = op_post(&b, r, o, token, kid, "/unwrapkey", wrapped, wrapped_len, 0, e);
    if (rc == CF_OK && r->cls == VAULTC_OK) {
        cf_err pe = {0};
        unsigned char tmp[VAULTC_SECRET_LEN + 1];
        size_t n = 0;
        if (vaultc_parse_op(tmp, sizeof(tmp), &n, NULL, (const char *)b.data, b.len, &pe) != CF_OK)
            set_invalid(r, pe.msg);
        else if (n != VAULTC_SECRET_LEN)
            set_invalid(r, "the vault unwrapped a key of the wrong size");
        else
            memcpy(secret, tmp, VAULTC_SECRET_LEN);
        OPENSSL_cleanse(tmp, sizeof(tmp));
    }
    if (rc == CF_OK)
        rc = r->cls == VAULTC_OK ? CF_OK : fail(r, e);
    cf_buf_free(&b);
    return rc;
}
