/*
 * s3.c -- see s3.h.
 *
 * Every request goes through one function (s3_request) that builds the
 * URL (path-style or virtual-host), signs with libcurl's SigV4 under the
 * six rules of s3.h, retries what is safe to retry (idempotent methods,
 * on a lost connection or a 5xx: twice, 50 then 200 ms apart), and turns
 * the outcome into a cf_code. Operations above it are a few lines each;
 * the XML they read is scanned by s3_xml_next (no XML library: listings
 * are a handful of flat elements).
 *
 * The streaming reader drives one transfer with a private multi handle:
 * its write callback copies straight into the caller's vectors, keeps at
 * most one callback's worth (the receive buffer, 64 KiB) that the caller
 * did not ask for yet, and pauses the transfer when the caller has all it
 * asked for, so the bytes of an object flow at the pace of the client that
 * pulls them, whatever its size.
 */
#define CF_LOG_MOD "s3"
#include "store/s3.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/enc.h"
#include "base/log.h"

#define RECV_BUFFER (64 * 1024)
#define ERR_BODY_MAX 4096
#define HASH_BODY_MAX (256 * 1024) /* larger bodies are sent UNSIGNED-PAYLOAD */
#define MIN_PART ((uint64_t)5 * 1024 * 1024)
#define LIST_BODY_MAX (8u * 1024 * 1024)
#define STALL_SECONDS 60
#define COPY_PART_MAX ((uint64_t)16 * 1024 * 1024)

static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct s3_client {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    char *bucket, *prefix, *endpoint, *region, *ca_file;
    char *ak, *sk, *token;
    char sigv4[128];
    char name[S3_KEY_MAX];
    char scheme[8];
    char hostport[256];
    int virtual_host;
    uint64_t copy_max;
};

/* ---- the client ---- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
    (void)h;
    (void)a;
    s3_client *c = u;
    pthread_mutex_lock(&c->locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
    (void)h;
    s3_client *c = u;
    pthread_mutex_unlock(&c->locks[d]);
}

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s && *s ? s : dflt);
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void s3_client_free(s3_client *c)
{
    if (c == NULL)
        return;
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->bucket);
    free(c->prefix);
    free(c->endpoint);
    free(c->region);
    free(c->ca_file);
    free_secret(c->ak);
    free_secret(c->sk);
    free_secret(c->token);
    free(c);
}

cf_code s3_client_new(s3_client **out, const s3_config *cfg, cf_err *e)
{
    *out = NULL;
    if (cfg->bucket == NULL || strlen(cfg->bucket) < 3 || strlen(cfg->bucket) > 63)
        return cf_err_set(e, CF_EINVAL, "S3 bucket names have 3 to 63 characters");
    for (const char *p = cfg->bucket; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
            return cf_err_set(e, CF_EINVAL,
                              "S3 bucket name '%s': lower-case letters, digits, "
                              "'-' and '.' only",
                              cfg->bucket);
    if (cfg->access_key == NULL || *cfg->access_key == '\0' || cfg->secret_key == NULL ||
        *cfg->secret_key == '\0')
        return cf_err_set(e, CF_EINVAL, "no S3 credentials");
    s3_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    char aws[300];
    snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", region);
    c->bucket = strdup(cfg->bucket);
    c->prefix = dup_or(cfg->prefix, "");
    c->endpoint = dup_or(cfg->endpoint, aws);
    c->region = strdup(region);
    c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    c->ak = strdup(cfg->access_key);
    c->sk = strdup(cfg->secret_key);
    c->token = cfg->session_token && *cfg->session_token ? strdup(cfg->session_token) : NULL;
    c->virtual_host = cfg->virtual_host;
    c->copy_max = cfg->copy_max ? cfg->copy_max : (uint64_t)5 * 1024 * 1024 * 1024;
    if (!c->bucket || !c->prefix || !c->endpoint || !c->region || !c->ak || !c->sk ||
        (cfg->ca_file && !c->ca_file) || (cfg->session_token && *cfg->session_token && !c->token)) {
        s3_client_free(c);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    size_t el = strlen(c->endpoint);
    while (el > 0 && c->endpoint[el - 1] == '/')
        c->endpoint[--el] = '\0';
    const char *sep = strstr(c->endpoint, "://");
    if (sep == NULL ||
        (strncmp(c->endpoint, "http://", 7) != 0 && strncmp(c->endpoint, "https://", 8) != 0) ||
        strchr(sep + 3, '/') != NULL || strlen(sep + 3) >= sizeof(c->hostport) || sep[3] == '\0') {
        s3_client_free(c);
        return cf_err_set(e, CF_EINVAL, "S3 endpoint must be http(s)://HOST[:PORT]");
    }
    snprintf(c->scheme, sizeof(c->scheme), "%.*s", (int)(sep - c->endpoint), c->endpoint);
    snprintf(c->hostport, sizeof(c->hostport), "%s", sep + 3);
    snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", c->region);
    snprintf(c->name, sizeof(c->name), "s3://%s/%s", c->bucket, c->prefix);
    c->share = curl_share_init();
    if (c->share == NULL) {
        s3_client_free(c);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = c;
    return CF_OK;
}

const char *s3_client_name(const s3_client *c)
{
    return c->name;
}

/* ---- encoding ---- */

static int unreserved(unsigned char ch)
{
    return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static void pct_encode(char *out, size_t cap, const char *v, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p && o + 4 < cap; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

void s3_query_encode(char *out, size_t cap, const char *v)
{
    pct_encode(out, cap, v, 0);
}

/* The URL of key (NULL: the bucket) with the query. */
static cf_code build_url(s3_client *c, char *out, size_t cap, const char *key, const char *query,
                         cf_err *e)
{
    char full[S3_KEY_MAX], enc[3 * S3_KEY_MAX + 1];
    enc[0] = '\0';
    if (key) {
        if ((size_t)snprintf(full, sizeof(full), "%s%s", c->prefix, key) >= sizeof(full))
            return cf_err_set(e, CF_EINVAL, "object key too long");
        pct_encode(enc, sizeof(enc), full, 1);
    }
    int n;
    if (c->virtual_host)
        n = snprintf(out, cap, "%s://%s.%s/%s%s%s", c->scheme, c->bucket, c->hostport, enc,
                     query ? "?" : "", query ? query : "");
    else
        n = snprintf(out, cap, "%s/%s%s%s%s%s", c->endpoint, c->bucket, key ? "/" : "", enc,
                     query ? "?" : "", query ? query : "");
    if (n < 0 || (size_t)n >= cap)
        return cf_err_set(e, CF_EINVAL, "object URL too long");
    return CF_OK;
}

/* ---- one request ---- */

typedef struct xfer {
    s3_resp *resp;
    cf_buf *out;
    cf_buf err;
    int too_big;
    /* the body sent */
    const unsigned char *body;
    size_t body_len, body_off;
    size_t (*read)(void *cls, char *buf, size_t n);
    void *read_cls;
} xfer;

static int header_is(const char *p, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return 0;
    const char *v = p + nl + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return 1;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t len = sz * nm;
    const char *v;
    size_t vl;
    char tmp[128];
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new header block (after a 100 Continue): start over */
        x->resp->etag[0] = '\0';
        x->resp->length = x->resp->total = 0;
        x->resp->mtime = 0;
    } else if (header_is(p, len, "ETag", &v, &vl)) {
        snprintf(x->resp->etag, sizeof(x->resp->etag), "%.*s", (int)vl, v);
    } else if (header_is(p, len, "Content-Length", &v, &vl)) {
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(vl < 100 ? vl : 100), v);
        x->resp->length = strtoull(tmp, NULL, 10);
        if (x->resp->total == 0)
            x->resp->total = x->resp->length;
    } else if (header_is(p, len, "Content-Range", &v, &vl)) {
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(vl < 100 ? vl : 100), v);
        const char *slash = strchr(tmp, '/');
        if (slash && slash[1] != '*')
            x->resp->total = strtoull(slash + 1, NULL, 10);
    } else if (header_is(p, len, "Last-Modified", &v, &vl)) {
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(vl < 100 ? vl : 100), v);
        time_t t = curl_getdate(tmp, NULL);
        x->resp->mtime = t > 0 ? (int64_t)t : 0;
    }
    return len;
}

static size_t on_read(char *buf, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    if (x->read)
        return x->read(x->read_cls, buf, n);
    size_t left = x->body_len - x->body_off;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, x->body + x->body_off, n);
    x->body_off += n;
    return n;
}

/* The body of a response goes to out (2xx) or to the error buffer. */
typedef struct body_ctx {
    xfer *x;
    CURL *h;
} body_ctx;

static size_t on_body_real(char *p, size_t sz, size_t nm, void *ud)
{
    body_ctx *b = ud;
    size_t len = sz * nm;
    long code = 0;
    curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
        if (b->x->out == NULL)
            return len;
        if (cf_buf_append(b->x->out, p, len, NULL) != CF_OK) {
            b->x->too_big = 1;
            return 0;
        }
        return len;
    }
    if (b->x->err.len + len <= ERR_BODY_MAX)
        cf_buf_append(&b->x->err, p, len, NULL);
    return len;
}

static void sha256_hex(char out[65], const void *p, size_t n)
{
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(p, n, h, &hl, EVP_sha256(), NULL);
    cf_hex_encode(out, h, sizeof(h));
}

static int transient_curl(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
           rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_PARTIAL_FILE || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SSL_CONNECT_ERROR;
}

/* The outcome of a finished response as a cf_code. */
static cf_code map_status(const s3_resp *r, const char *method, const char *what, cf_err *e)
{
    long s = r->status;
    if (s >= 200 && s < 300)
        return CF_OK;
    const char *code = r->code[0] ? r->code : "";
    if (s == 404)
        return cf_err_set(e, CF_ENOTFOUND, "%s %s: not found %s", method, what, code);
    if (s == 412)
        return cf_err_set(e, CF_EEXISTS, "%s %s: precondition failed", method, what);
    if (s >= 500 || s == 429 || strcmp(code, "SlowDown") == 0)
        return cf_err_set(e, CF_EUNAVAIL, "object store unavailable: %s %s answered %ld %s", method,
                          what, s, code);
    if (strcmp(code, "QuotaExceeded") == 0 || s == 507)
        return cf_err_set(e, CF_ENOSPACE, "object store full: %s %s answered %ld %s", method, what,
                          s, code);
    return cf_err_set(e, CF_EIO, "object store refused %s %s: %ld %s", method, what, s, code);
}

static void xml_code(const cf_buf *b, char *out, size_t cap)
{
    size_t pos = 0;
    out[0] = '\0';
    if (b->len && s3_xml_next((const char *)b->data, b->len, &pos, b->len, "Code", out, cap) != 1)
        out[0] = '\0';
}

cf_code s3_request(s3_client *c, const s3_req *r, s3_resp *resp, cf_err *e)
{
    char url[4 * S3_KEY_MAX];
    s3_resp local;
    if (resp == NULL)
        resp = &local;
    memset(resp, 0, sizeof(*resp));
    cf_code rc = build_url(c, url, sizeof(url), r->key, r->query, e);
    if (rc != CF_OK)
        return rc;
    const char *what = r->key ? r->key : c->bucket;
    int is_put = strcmp(r->method, "PUT") == 0, is_post = strcmp(r->method, "POST") == 0;
    int has_body = r->body != NULL || r->read != NULL || is_put || is_post;
    uint64_t blen = r->read ? r->read_len : r->body_len;
    char hash_hdr[96];
    if (!has_body || (r->read == NULL && r->body_len == 0))
        snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: %s", EMPTY_SHA256);
    else if (r->read == NULL && r->body_len <= HASH_BODY_MAX) {
        char hex[65];
        sha256_hex(hex, r->body, r->body_len);
        snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: %s", hex);
    } else
        snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    struct curl_slist *hs = curl_slist_append(NULL, hash_hdr);
    char tok[4096];
    if (c->token) {
        snprintf(tok, sizeof(tok), "x-amz-security-token: %s", c->token);
        hs = curl_slist_append(hs, tok);
        OPENSSL_cleanse(tok, sizeof(tok));
    }
    for (int i = 0; i < 5 && r->headers[i]; i++)
        hs = curl_slist_append(hs, r->headers[i]);
    /* POST (CompleteMultipartUpload) is not safe to repeat; a streamed
     * body cannot be rewound */
    int attempts = (is_post || r->read || r->timeout_ms > 0) ? 1 : 3;
    xfer x = {.resp = resp,
              .out = r->out,
              .body = r->body,
              .body_len = r->body_len,
              .read = r->read,
              .read_cls = r->read_cls};
    cf_buf_init(&x.err, ERR_BODY_MAX);
    size_t out_start = r->out ? r->out->len : 0;
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0)
            usleep(attempt == 1 ? 50000 : 200000);
        memset(resp, 0, sizeof(*resp));
        cf_buf_reset(&x.err);
        if (r->out)
            r->out->len = out_start;
        x.body_off = 0;
        x.too_big = 0;
        CURL *h = curl_easy_init();
        if (h == NULL) {
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
            break;
        }
        body_ctx bc = {&x, h};
        curl_easy_setopt(h, CURLOPT_SHARE, c->share);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->ak);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->sk);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
        if (r->timeout_ms > 0)
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
        if (c->ca_file)
            curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_real);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &bc);
        if (is_put) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &x);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
        } else if (is_post) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &x);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        } else if (strcmp(r->method, "HEAD") == 0) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (strcmp(r->method, "GET") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        }
        CURLcode cr = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_cleanup(h);
        if (x.too_big) {
            rc = cf_err_set(e, CF_ETOOBIG, "%s %s: response too large", r->method, what);
            break;
        }
        if (cr != CURLE_OK) {
            rc = cf_err_set(e, CF_EUNAVAIL, "object store unreachable: %s %s: %s", r->method, what,
                            curl_easy_strerror(cr));
            if (transient_curl(cr) && attempt + 1 < attempts) {
                cf_err_clear(e);
                continue;
            }
            break;
        }
        xml_code(&x.err, resp->code, sizeof(resp->code));
        if (resp->status >= 500 && attempt + 1 < attempts)
            continue;
        rc = map_status(resp, r->method, what, e);
        break;
    }
    curl_slist_free_all(hs);
    cf_buf_free(&x.err);
    return rc;
}

/* ---- operations ---- */

cf_code s3_bucket_ensure(s3_client *c, cf_err *e)
{
    s3_req r = {.method = "HEAD"};
    cf_code rc = s3_request(c, &r, NULL, e);
    if (rc != CF_ENOTFOUND)
        return rc;
    cf_err_clear(e);
    char body[256];
    s3_req put = {.method = "PUT"};
    if (strcmp(c->region, "us-east-1") != 0) {
        int n = snprintf(body, sizeof(body),
                         "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                         "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                         "</CreateBucketConfiguration>",
                         c->region);
        put.body = body;
        put.body_len = (size_t)n;
    }
    s3_resp resp;
    rc = s3_request(c, &put, &resp, e);
    if (rc == CF_EIO && strcmp(resp.code, "BucketAlreadyOwnedByYou") == 0) {
        cf_err_clear(e);
        return CF_OK;
    }
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "bucket created", "bucket", c->bucket, NULL);
    return rc;
}

cf_code s3_put(s3_client *c, const char *key, const void *data, size_t len, cf_err *e)
{
    s3_req r = {.method = "PUT", .key = key, .body = data ? data : "", .body_len = len};
    return s3_request(c, &r, NULL, e);
}

cf_code s3_put_stream(s3_client *c, const char *key, size_t (*read)(void *, char *, size_t),
                      void *cls, uint64_t len, cf_err *e)
{
    s3_req r = {.method = "PUT", .key = key, .read = read, .read_cls = cls, .read_len = len};
    return s3_request(c, &r, NULL, e);
}

cf_code s3_get(s3_client *c, const char *key, uint64_t off, uint64_t len, cf_buf *out,
               s3_resp *resp, cf_err *e)
{
    char range[80];
    s3_req r = {.method = "GET", .key = key, .out = out};
    if (off > 0 || len > 0) {
        if (len > 0)
            snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + len - 1));
        else
            snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)off);
        r.headers[0] = range;
    }
    return s3_request(c, &r, resp, e);
}

cf_code s3_head(s3_client *c, const char *key, uint64_t *size, int64_t *mtime, cf_err *e)
{
    s3_req r = {.method = "HEAD", .key = key};
    s3_resp resp;
    cf_code rc = s3_request(c, &r, &resp, e);
    if (rc == CF_OK) {
        if (size)
            *size = resp.length;
        if (mtime)
            *mtime = resp.mtime;
    }
    return rc;
}

cf_code s3_delete(s3_client *c, const char *key, cf_err *e)
{
    s3_req r = {.method = "DELETE", .key = key};
    cf_code rc = s3_request(c, &r, NULL, e);
    if (rc == CF_ENOTFOUND) {
        cf_err_clear(e);
        rc = CF_OK;
    }
    return rc;
}

/* 1 when a 200 answer carries an <Error> (S3 may report a failed copy or
 * completion that way). */
static int body_is_error(const cf_buf *b)
{
    return b->len > 0 && strstr((const char *)b->data, "<Error>") != NULL;
}

static cf_code copy_source(s3_client *c, char *out, size_t cap, const char *src, cf_err *e)
{
    char full[S3_KEY_MAX], enc[3 * S3_KEY_MAX + 1];
    if ((size_t)snprintf(full, sizeof(full), "%s%s", c->prefix, src) >= sizeof(full))
        return cf_err_set(e, CF_EINVAL, "object key too long");
    pct_encode(enc, sizeof(enc), full, 1);
    if ((size_t)snprintf(out, cap, "x-amz-copy-source: /%s/%s", c->bucket, enc) >= cap)
        return cf_err_set(e, CF_EINVAL, "object key too long");
    return CF_OK;
}

cf_code s3_copy(s3_client *c, const char *src, const char *dst, cf_err *e)
{
    uint64_t size = 0;
    cf_code rc = s3_head(c, src, &size, NULL, e);
    if (rc != CF_OK)
        return rc;
    char hdr[4 * S3_KEY_MAX];
    rc = copy_source(c, hdr, sizeof(hdr), src, e);
    if (rc != CF_OK)
        return rc;
    cf_buf body;
    cf_buf_init(&body, 64 * 1024);
    if (size <= c->copy_max) {
        s3_req r = {.method = "PUT", .key = dst, .headers = {hdr}, .out = &body};
        rc = s3_request(c, &r, NULL, e);
        if (rc == CF_OK && body_is_error(&body))
            rc = cf_err_set(e, CF_EUNAVAIL, "object store failed the copy of %s", src);
        cf_buf_free(&body);
        return rc;
    }
    /* In parts, through this process: ranged GETs, each uploaded as a
     * part. (UploadPartCopy needs x-amz-copy-source and
     * x-amz-copy-source-range, and curl 7.88 sorts the signed headers as
     * "name:value" lines, so the longer name comes first and the
     * signature never matches: radosgw answers 403.) One part in memory. */
    cf_buf_free(&body);
    uint64_t part = c->copy_max < MIN_PART ? MIN_PART : c->copy_max;
    if (part > COPY_PART_MAX)
        part = COPY_PART_MAX;
    char uid[S3_UPLOAD_ID_MAX];
    rc = s3_mpu_create(c, dst, uid, e);
    if (rc != CF_OK)
        return rc;
    cf_buf chunk;
    cf_buf_init(&chunk, (size_t)part);
    unsigned n = (unsigned)((size + part - 1) / part);
    for (unsigned i = 0; rc == CF_OK && i < n; i++) {
        uint64_t a = i * part, len = size - a < part ? size - a : part;
        cf_buf_reset(&chunk);
        rc = s3_get(c, src, a, len, &chunk, NULL, e);
        if (rc == CF_OK && chunk.len != len)
            rc = cf_err_set(e, CF_EIO, "object %s changed during its copy", src);
        if (rc == CF_OK)
            rc = s3_mpu_part(c, dst, uid, i + 1, chunk.data, chunk.len, e);
    }
    cf_buf_free(&chunk);
    if (rc == CF_OK)
        rc = s3_mpu_complete(c, dst, uid, n, part, e);
    if (rc != CF_OK)
        s3_mpu_abort(c, dst, uid, NULL);
    return rc;
}

/* ---- XML ---- */

static int decode_entities(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '&') {
            static const struct {
                const char *name;
                char ch;
            } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
            size_t k;
            for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
                size_t el = strlen(ents[k].name);
                if (n - i - 1 >= el && memcmp(p + i + 1, ents[k].name, el) == 0) {
                    ch = ents[k].ch;
                    i += el;
                    break;
                }
            }
            if (k == sizeof(ents) / sizeof(ents[0]))
                return -1;
        } else if (ch == '<' || ch == '\0') {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 1;
}

/* Offset of needle in hay[from, limit), or (size_t)-1. */
static size_t find(const char *hay, size_t limit, size_t from, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0 || limit < nl)
        return (size_t)-1;
    for (size_t i = from; i + nl <= limit; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0)
            return i;
    return (size_t)-1;
}

size_t s3_xml_element(const char *xml, size_t len, size_t pos, const char *tag, size_t *start)
{
    char open[80], close[80];
    if (strlen(tag) > 64)
        return 0;
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    size_t a = find(xml, len, pos, open);
    if (a == (size_t)-1)
        return 0;
    size_t s = a + strlen(open);
    size_t b = find(xml, len, s, close);
    if (b == (size_t)-1)
        return 0;
    *start = s;
    return b + strlen(close);
}

int s3_xml_next(const char *xml, size_t len, size_t *pos, size_t limit, const char *tag, char *out,
                size_t cap)
{
    if (limit > len)
        limit = len;
    if (*pos >= limit || cap == 0)
        return 0;
    size_t s = 0;
    size_t end = s3_xml_element(xml, limit, *pos, tag, &s);
    if (end == 0)
        return 0;
    size_t close_len = strlen(tag) + 3;
    if (decode_entities(xml + s, end - close_len - s, out, cap) != 1)
        return -1;
    *pos = end;
    return 1;
}

/* "2026-12-04T05:59:21.000Z" as unix seconds; 0 when malformed. */
static int64_t iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h, mi, sec;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return 0;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t;
}

/* The key without the client's prefix (NULL when it lacks it). */
static const char *strip_prefix(const s3_client *c, const char *key)
{
    size_t pl = strlen(c->prefix);
    return strncmp(key, c->prefix, pl) == 0 ? key + pl : NULL;
}

/* One paged listing (ListObjectsV2, ListMultipartUploads, ListParts):
 * query() writes each page's query from the markers the context keeps;
 * every <item> element of a page goes to item() (its content's bounds),
 * which answers 0 to go on, 1 to stop, -1 on malformed XML; next() reads
 * the next page's markers and answers 1 for another page. */
typedef struct pager {
    const char *key; /* NULL: the bucket */
    const char *item;
    void (*query)(void *ctx, char *q, size_t cap);
    int (*item_fn)(void *ctx, const char *x, size_t len, size_t start, size_t end);
    int (*next)(void *ctx, const char *x, size_t len);
    void *ctx;
    const char *what; /* for messages */
} pager;

static cf_code list_pages(s3_client *c, const pager *pg, cf_err *e)
{
    char q[12 * S3_KEY_MAX], val[16];
    cf_buf body;
    cf_buf_init(&body, LIST_BODY_MAX);
    cf_code rc = CF_OK;
    for (;;) {
        pg->query(pg->ctx, q, sizeof(q));
        cf_buf_reset(&body);
        s3_req r = {.method = "GET", .key = pg->key, .query = q, .out = &body};
        rc = s3_request(c, &r, NULL, e);
        if (rc != CF_OK)
            break;
        const char *x = (const char *)body.data;
        size_t len = body.len, pos = 0, s = 0, end;
        int stop = 0;
        while (!stop && (end = s3_xml_element(x, len, pos, pg->item, &s)) != 0) {
            stop = pg->item_fn(pg->ctx, x, len, s, end);
            pos = end;
        }
        if (stop < 0)
            rc = cf_err_set(e, CF_EIO, "object store %s listing is malformed", pg->what);
        if (stop)
            break;
        size_t p = 0;
        if (s3_xml_next(x, len, &p, len, "IsTruncated", val, sizeof(val)) != 1 ||
            strcmp(val, "true") != 0)
            break;
        if (pg->next(pg->ctx, x, len) != 1) {
            rc = cf_err_set(e, CF_EIO, "object store %s listing is truncated without a marker",
                            pg->what);
            break;
        }
    }
    cf_buf_free(&body);
    return rc;
}

typedef struct objects_page {
    s3_client *c;
    char eprefix[3 * S3_KEY_MAX];
    char token[1024];
    s3_list_fn fn;
    void *cls;
} objects_page;

static void objects_query(void *ctx, char *q, size_t cap)
{
    objects_page *o = ctx;
    char etoken[3 * sizeof(o->token)];
    if (o->token[0]) {
        s3_query_encode(etoken, sizeof(etoken), o->token);
        snprintf(q, cap, "continuation-token=%s&list-type=2&prefix=%s", etoken, o->eprefix);
    } else {
        snprintf(q, cap, "list-type=2&prefix=%s", o->eprefix);
    }
}

static int objects_item(void *ctx, const char *x, size_t len, size_t s, size_t end)
{
    objects_page *o = ctx;
    char key[S3_KEY_MAX], val[64];
    size_t p1 = s, p2 = s, p3 = s;
    uint64_t size = 0;
    int64_t mtime = 0;
    if (s3_xml_next(x, len, &p1, end, "Key", key, sizeof(key)) != 1)
        return -1;
    if (s3_xml_next(x, len, &p2, end, "Size", val, sizeof(val)) == 1)
        size = strtoull(val, NULL, 10);
    if (s3_xml_next(x, len, &p3, end, "LastModified", val, sizeof(val)) == 1)
        mtime = iso8601(val);
    const char *k = strip_prefix(o->c, key);
    return k && o->fn(o->cls, k, size, mtime) != 0 ? 1 : 0;
}

static int objects_next(void *ctx, const char *x, size_t len)
{
    objects_page *o = ctx;
    size_t p = 0;
    return s3_xml_next(x, len, &p, len, "NextContinuationToken", o->token, sizeof(o->token));
}

cf_code s3_list(s3_client *c, const char *prefix, s3_list_fn fn, void *cls, cf_err *e)
{
    objects_page o = {.c = c, .fn = fn, .cls = cls};
    char full[S3_KEY_MAX];
    snprintf(full, sizeof(full), "%s%s", c->prefix, prefix);
    s3_query_encode(o.eprefix, sizeof(o.eprefix), full);
    pager pg = {.item = "Contents",
                .query = objects_query,
                .item_fn = objects_item,
                .next = objects_next,
                .ctx = &o,
                .what = "object"};
    return list_pages(c, &pg, e);
}

typedef struct uploads_page {
    s3_client *c;
    char eprefix[3 * S3_KEY_MAX];
    char kmark[S3_KEY_MAX], umark[S3_UPLOAD_ID_MAX];
    s3_uploads_fn fn;
    void *cls;
} uploads_page;

static void uploads_query(void *ctx, char *q, size_t cap)
{
    uploads_page *u = ctx;
    char ekm[3 * S3_KEY_MAX], eum[3 * S3_UPLOAD_ID_MAX];
    if (u->kmark[0]) {
        s3_query_encode(ekm, sizeof(ekm), u->kmark);
        s3_query_encode(eum, sizeof(eum), u->umark);
        snprintf(q, cap, "key-marker=%s&prefix=%s&upload-id-marker=%s&uploads=", ekm, u->eprefix,
                 eum);
    } else {
        snprintf(q, cap, "prefix=%s&uploads=", u->eprefix);
    }
}

static int uploads_item(void *ctx, const char *x, size_t len, size_t s, size_t end)
{
    uploads_page *u = ctx;
    char key[S3_KEY_MAX], uid[S3_UPLOAD_ID_MAX], val[64];
    size_t p1 = s, p2 = s, p3 = s;
    int64_t t = 0;
    if (s3_xml_next(x, len, &p1, end, "Key", key, sizeof(key)) != 1 ||
        s3_xml_next(x, len, &p2, end, "UploadId", uid, sizeof(uid)) != 1)
        return -1;
    if (s3_xml_next(x, len, &p3, end, "Initiated", val, sizeof(val)) == 1)
        t = iso8601(val);
    const char *k = strip_prefix(u->c, key);
    return k && u->fn(u->cls, k, uid, t) != 0 ? 1 : 0;
}

static int uploads_next(void *ctx, const char *x, size_t len)
{
    uploads_page *u = ctx;
    size_t pk = 0, pu = 0;
    return s3_xml_next(x, len, &pk, len, "NextKeyMarker", u->kmark, sizeof(u->kmark)) == 1 &&
           s3_xml_next(x, len, &pu, len, "NextUploadIdMarker", u->umark, sizeof(u->umark)) == 1 &&
           u->kmark[0] != '\0';
}

cf_code s3_list_uploads(s3_client *c, const char *prefix, s3_uploads_fn fn, void *cls, cf_err *e)
{
    uploads_page u = {.c = c, .fn = fn, .cls = cls};
    char full[S3_KEY_MAX];
    snprintf(full, sizeof(full), "%s%s", c->prefix, prefix);
    s3_query_encode(u.eprefix, sizeof(u.eprefix), full);
    pager pg = {.item = "Upload",
                .query = uploads_query,
                .item_fn = uploads_item,
                .next = uploads_next,
                .ctx = &u,
                .what = "upload"};
    return list_pages(c, &pg, e);
}

/* ---- multipart uploads ---- */

cf_code s3_mpu_create(s3_client *c, const char *key, char upload_id[S3_UPLOAD_ID_MAX], cf_err *e)
{
    cf_buf body;
    cf_buf_init(&body, 64 * 1024);
    s3_req r = {.method = "POST", .key = key, .query = "uploads=", .out = &body};
    cf_code rc = s3_request(c, &r, NULL, e);
    size_t pos = 0;
    if (rc == CF_OK && s3_xml_next((const char *)body.data, body.len, &pos, body.len, "UploadId",
                                   upload_id, S3_UPLOAD_ID_MAX) != 1)
        rc = cf_err_set(e, CF_EIO, "object store gave no upload id");
    cf_buf_free(&body);
    return rc;
}

cf_code s3_mpu_part(s3_client *c, const char *key, const char *upload_id, unsigned part,
                    const void *data, size_t len, cf_err *e)
{
    char euid[3 * S3_UPLOAD_ID_MAX], q[3 * S3_UPLOAD_ID_MAX + 64];
    s3_query_encode(euid, sizeof(euid), upload_id);
    snprintf(q, sizeof(q), "partNumber=%u&uploadId=%s", part, euid);
    s3_req r = {.method = "PUT", .key = key, .query = q, .body = data ? data : "", .body_len = len};
    return s3_request(c, &r, NULL, e);
}

typedef int (*part_fn)(void *cls, unsigned number, const char *etag, uint64_t size);

typedef struct parts_page {
    char euid[3 * S3_UPLOAD_ID_MAX];
    unsigned marker;
    part_fn fn;
    void *cls;
} parts_page;

static void parts_query(void *ctx, char *q, size_t cap)
{
    parts_page *pp = ctx;
    if (pp->marker)
        snprintf(q, cap, "part-number-marker=%u&uploadId=%s", pp->marker, pp->euid);
    else
        snprintf(q, cap, "uploadId=%s", pp->euid);
}

static int parts_item(void *ctx, const char *x, size_t len, size_t s, size_t end)
{
    parts_page *pp = ctx;
    char num[32], size[32], etag[S3_ETAG_MAX];
    size_t p1 = s, p2 = s, p3 = s;
    if (s3_xml_next(x, len, &p1, end, "PartNumber", num, sizeof(num)) != 1 ||
        s3_xml_next(x, len, &p2, end, "ETag", etag, sizeof(etag)) != 1 ||
        s3_xml_next(x, len, &p3, end, "Size", size, sizeof(size)) != 1)
        return -1;
    pp->marker = (unsigned)strtoul(num, NULL, 10);
    return pp->fn(pp->cls, pp->marker, etag, strtoull(size, NULL, 10)) != 0 ? 1 : 0;
}

static int parts_next(void *ctx, const char *x, size_t len)
{
    parts_page *pp = ctx;
    char num[32];
    size_t p = 0;
    if (s3_xml_next(x, len, &p, len, "NextPartNumberMarker", num, sizeof(num)) == 1)
        pp->marker = (unsigned)strtoul(num, NULL, 10);
    return pp->marker > 0;
}

/* Walks the parts of an upload in order (ListParts, 1000 a page). */
static cf_code list_parts(s3_client *c, const char *key, const char *upload_id, part_fn fn,
                          void *cls, cf_err *e)
{
    parts_page pp = {.fn = fn, .cls = cls};
    s3_query_encode(pp.euid, sizeof(pp.euid), upload_id);
    pager pg = {.key = key,
                .item = "Part",
                .query = parts_query,
                .item_fn = parts_item,
                .next = parts_next,
                .ctx = &pp,
                .what = "part"};
    return list_pages(c, &pg, e);
}

typedef struct parts_ctx {
    unsigned want, next;
    uint64_t part_size;
    cf_buf *xml; /* NULL: check only */
    cf_code rc;
    cf_err *e;
} parts_ctx;

static int part_seen(void *cls, unsigned number, const char *etag, uint64_t size)
{
    parts_ctx *p = cls;
    if (number > p->want)
        return 1; /* parts past the last one counted (a failed request's) */
    int last = number == p->want;
    if (number != p->next + 1 || (!last && size != p->part_size) || (last && size > p->part_size)) {
        p->rc = cf_err_set(p->e, CF_EINTEGRITY,
                           "multipart upload part %u is missing or has the "
                           "wrong size",
                           p->next + 1);
        return 1;
    }
    p->next = number;
    if (p->xml &&
        cf_buf_appendf(p->xml, NULL, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
                       number, etag) != CF_OK) {
        p->rc = cf_err_set(p->e, CF_ENOMEM, "out of memory");
        return 1;
    }
    return 0;
}

static cf_code parts_walk(s3_client *c, const char *key, const char *upload_id, parts_ctx *p,
                          cf_err *e)
{
    cf_code rc = list_parts(c, key, upload_id, part_seen, p, e);
    if (rc == CF_OK && p->rc != CF_OK)
        rc = p->rc;
    if (rc == CF_OK && p->next != p->want)
        rc = cf_err_set(e, CF_EINTEGRITY, "multipart upload has %u of %u parts", p->next, p->want);
    return rc;
}

cf_code s3_mpu_check(s3_client *c, const char *key, const char *upload_id, unsigned nparts,
                     uint64_t part_size, cf_err *e)
{
    parts_ctx p = {.want = nparts, .part_size = part_size, .e = e};
    return parts_walk(c, key, upload_id, &p, e);
}

cf_code s3_mpu_complete(s3_client *c, const char *key, const char *upload_id, unsigned nparts,
                        uint64_t part_size, cf_err *e)
{
    cf_buf xml;
    cf_buf_init(&xml, (size_t)nparts * 200 + 1024);
    parts_ctx p = {.want = nparts, .part_size = part_size, .xml = &xml, .e = e};
    cf_code rc = cf_buf_appendf(&xml, e, "<CompleteMultipartUpload>");
    if (rc == CF_OK)
        rc = parts_walk(c, key, upload_id, &p, e);
    if (rc == CF_OK)
        rc = cf_buf_appendf(&xml, e, "</CompleteMultipartUpload>");
    if (rc == CF_OK) {
        char euid[3 * S3_UPLOAD_ID_MAX], q[3 * S3_UPLOAD_ID_MAX + 16];
        s3_query_encode(euid, sizeof(euid), upload_id);
        snprintf(q, sizeof(q), "uploadId=%s", euid);
        cf_buf body;
        cf_buf_init(&body, 64 * 1024);
        s3_req r = {.method = "POST",
                    .key = key,
                    .query = q,
                    .body = xml.data,
                    .body_len = xml.len,
                    .headers = {"Content-Type: application/xml"},
                    .out = &body};
        rc = s3_request(c, &r, NULL, e);
        if (rc == CF_OK && body_is_error(&body))
            rc =
                cf_err_set(e, CF_EUNAVAIL, "object store failed to complete the upload of %s", key);
        cf_buf_free(&body);
    }
    cf_buf_free(&xml);
    return rc;
}

cf_code s3_mpu_abort(s3_client *c, const char *key, const char *upload_id, cf_err *e)
{
    char euid[3 * S3_UPLOAD_ID_MAX], q[3 * S3_UPLOAD_ID_MAX + 16];
    s3_query_encode(euid, sizeof(euid), upload_id);
    snprintf(q, sizeof(q), "uploadId=%s", euid);
    s3_req r = {.method = "DELETE", .key = key, .query = q};
    cf_code rc = s3_request(c, &r, NULL, e);
    if (rc == CF_ENOTFOUND) {
        cf_err_clear(e);
        rc = CF_OK;
    }
    return rc;
}

/* ---- streaming reader ---- */

struct s3_reader {
    s3_client *c;
    char key[S3_KEY_MAX];
    uint64_t size;
    cf_buf head; /* bytes [0, head.len) */
    cf_buf tail; /* bytes [tail_off, tail_off + tail.len) */
    uint64_t tail_off;
    /* the transfer */
    CURLM *m;
    CURL *h;
    struct curl_slist *hs;
    char url[4 * S3_KEY_MAX];
    int paused, done;
    CURLcode result;
    uint64_t pos; /* offset of the first byte not yet given to the caller */
    unsigned char spill[RECV_BUFFER];
    size_t spill_len, spill_off;
    cf_buf err;
    /* where the current read goes */
    const struct iovec *iov;
    int iovcnt, vi;
    size_t voff;
    uint64_t want;
};

/* Copies n bytes into the caller's vectors. */
static void cursor_put(s3_reader *r, const unsigned char *p, size_t n)
{
    while (n > 0 && r->vi < r->iovcnt) {
        size_t room = r->iov[r->vi].iov_len - r->voff;
        size_t k = n < room ? n : room;
        memcpy((unsigned char *)r->iov[r->vi].iov_base + r->voff, p, k);
        p += k;
        n -= k;
        r->voff += k;
        r->want -= k;
        r->pos += k;
        if (r->voff == r->iov[r->vi].iov_len) {
            r->vi++;
            r->voff = 0;
        }
    }
}

static size_t rd_write(char *p, size_t sz, size_t nm, void *ud)
{
    s3_reader *r = ud;
    size_t len = sz * nm;
    long code = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 206 && code != 200) {
        if (r->err.len + len <= ERR_BODY_MAX)
            cf_buf_append(&r->err, p, len, NULL);
        return len;
    }
    if (r->want == 0 || r->spill_len > r->spill_off) {
        r->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    size_t take = len < r->want ? len : (size_t)r->want;
    cursor_put(r, (const unsigned char *)p, take);
    if (take < len) {
        size_t rest = len - take;
        if (rest > sizeof(r->spill))
            return 0; /* cannot happen: callbacks carry at most RECV_BUFFER */
        memcpy(r->spill, p + take, rest);
        r->spill_len = rest;
        r->spill_off = 0;
    }
    return len;
}

static void stream_stop(s3_reader *r)
{
    if (r->h) {
        curl_multi_remove_handle(r->m, r->h);
        curl_easy_cleanup(r->h);
        r->h = NULL;
    }
    curl_slist_free_all(r->hs);
    r->hs = NULL;
    if (r->spill_len)
        OPENSSL_cleanse(r->spill, r->spill_len);
    r->spill_len = r->spill_off = 0;
    r->paused = r->done = 0;
}

static cf_code stream_start(s3_reader *r, uint64_t off, cf_err *e)
{
    stream_stop(r);
    cf_buf_reset(&r->err);
    char range[80];
    snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)off);
    char hash[96];
    snprintf(hash, sizeof(hash), "x-amz-content-sha256: %s", EMPTY_SHA256);
    r->hs = curl_slist_append(NULL, hash);
    r->hs = curl_slist_append(r->hs, range);
    char tok[4096];
    if (r->c->token) {
        snprintf(tok, sizeof(tok), "x-amz-security-token: %s", r->c->token);
        r->hs = curl_slist_append(r->hs, tok);
        OPENSSL_cleanse(tok, sizeof(tok));
    }
    r->h = curl_easy_init();
    if (r->h == NULL || r->hs == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    CURL *h = r->h;
    curl_easy_setopt(h, CURLOPT_SHARE, r->c->share);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r->c->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, r->c->ak);
    curl_easy_setopt(h, CURLOPT_PASSWORD, r->c->sk);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
    if (r->c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, r->c->ca_file);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rd_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    if (curl_multi_add_handle(r->m, h) != CURLM_OK)
        return cf_err_set(e, CF_ENOMEM, "cannot start a transfer");
    r->pos = off;
    return CF_OK;
}

/* Reads r->want bytes from the transfer at r->pos into the cursor. */
static cf_code stream_read(s3_reader *r, cf_err *e)
{
    /* what the last callback brought beyond the previous read */
    if (r->spill_off < r->spill_len && r->want > 0) {
        size_t k = r->spill_len - r->spill_off;
        if (k > r->want)
            k = (size_t)r->want;
        cursor_put(r, r->spill + r->spill_off, k);
        r->spill_off += k;
        if (r->spill_off == r->spill_len)
            r->spill_len = r->spill_off = 0;
    }
    time_t last = time(NULL);
    while (r->want > 0) {
        if (r->done) {
            long code = 0;
            curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
            if (r->result != CURLE_OK)
                return cf_err_set(e, CF_EUNAVAIL, "object store unreachable: GET %s: %s", r->key,
                                  curl_easy_strerror(r->result));
            if (code != 206 && code != 200) {
                s3_resp resp = {.status = code};
                xml_code(&r->err, resp.code, sizeof(resp.code));
                return map_status(&resp, "GET", r->key, e);
            }
            return cf_err_set(e, CF_EINTEGRITY, "object %s ended early", r->key);
        }
        if (r->paused) {
            r->paused = 0;
            curl_easy_pause(r->h, CURLPAUSE_CONT); /* may deliver at once */
            if (r->want == 0)
                break;
        }
        uint64_t before = r->want;
        int running = 0;
        if (curl_multi_perform(r->m, &running) != CURLM_OK)
            return cf_err_set(e, CF_EIO, "transfer failed");
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(r->m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) {
                r->done = 1;
                r->result = msg->data.result;
            }
        if (r->want < before)
            last = time(NULL);
        if (r->want > 0 && !r->done && !r->paused) {
            int nfd = 0;
            curl_multi_poll(r->m, NULL, 0, 200, &nfd);
            if (time(NULL) - last > STALL_SECONDS)
                return cf_err_set(e, CF_EUNAVAIL, "object store stalled: GET %s", r->key);
        }
    }
    return CF_OK;
}

cf_code s3_reader_open(s3_reader **out, s3_client *c, const char *key, size_t window, cf_err *e)
{
    *out = NULL;
    s3_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    r->c = c;
    snprintf(r->key, sizeof(r->key), "%s", key);
    cf_buf_init(&r->head, window ? window : 1);
    cf_buf_init(&r->tail, 256 * 1024);
    cf_buf_init(&r->err, ERR_BODY_MAX);
    r->head.secret = r->tail.secret = 1; /* sealed, but keep the habit */
    cf_code rc = build_url(c, r->url, sizeof(r->url), key, NULL, e);
    if (rc == CF_OK) {
        s3_resp resp;
        rc = s3_get(c, key, 0, window ? window : 1, &r->head, &resp, e);
        if (rc == CF_OK)
            r->size = resp.total;
        else if (resp.status == 416) { /* an empty object */
            cf_err_clear(e);
            rc = CF_OK;
            r->size = 0;
        }
        if (rc == CF_OK && r->head.len > r->size)
            rc = cf_err_set(e, CF_EIO, "object store sent more than the object holds");
    }
    if (rc == CF_OK) {
        r->m = curl_multi_init();
        if (r->m == NULL)
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    if (rc != CF_OK) {
        s3_reader_free(r);
        return rc;
    }
    *out = r;
    return CF_OK;
}

uint64_t s3_reader_size(const s3_reader *r)
{
    return r->size;
}

int s3_reader_whole(const s3_reader *r, const unsigned char **p, size_t *n)
{
    if (r->head.len != r->size)
        return 0;
    *p = r->head.data;
    *n = r->head.len;
    return 1;
}

cf_code s3_reader_readv(s3_reader *r, const struct iovec *iov, int n, uint64_t off, cf_err *e)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (off > r->size || total > r->size - off)
        return cf_err_set(e, CF_EINTEGRITY, "object %s is truncated", r->key);
    /* the final segment, read alone when the object is opened: one small GET */
    if (off >= r->head.len && off + total == r->size && total <= r->tail.cap &&
        !(r->tail.len && off >= r->tail_off) && (r->h == NULL || r->pos != off)) {
        cf_buf_reset(&r->tail);
        cf_code rc = s3_get(r->c, r->key, off, total, &r->tail, NULL, e);
        if (rc != CF_OK)
            return rc;
        if (r->tail.len != total)
            return cf_err_set(e, CF_EINTEGRITY, "object %s is truncated", r->key);
        r->tail_off = off;
    }
    /* saved cursor state (the stream's own `pos` moves with it) */
    r->iov = iov;
    r->iovcnt = n;
    r->vi = 0;
    r->voff = 0;
    uint64_t at = off;
    uint64_t left = total;
    while (left > 0) {
        size_t k = 0;
        const unsigned char *src = NULL;
        if (at < r->head.len) {
            src = r->head.data + at;
            k = (size_t)(r->head.len - at);
        } else if (r->tail.len && at >= r->tail_off && at < r->tail_off + r->tail.len) {
            src = r->tail.data + (at - r->tail_off);
            k = (size_t)(r->tail_off + r->tail.len - at);
        }
        if (src) {
            if (k > left)
                k = (size_t)left;
            uint64_t keep = r->pos;
            r->want = k;
            cursor_put(r, src, k);
            r->pos = keep;
            at += k;
            left -= k;
            continue;
        }
        /* from the transfer: continue it, or start one here */
        if (r->h == NULL || r->pos != at || r->done) {
            cf_code rc = stream_start(r, at, e);
            if (rc != CF_OK)
                return rc;
        }
        r->want = left;
        uint64_t start = r->pos;
        cf_code rc = stream_read(r, e);
        if (rc == CF_EUNAVAIL && r->pos > start) {
            /* a kept connection dropped after progress: try once more from here */
            cf_err_clear(e);
            rc = stream_start(r, r->pos, e);
            if (rc == CF_OK)
                rc = stream_read(r, e);
        }
        if (rc != CF_OK) {
            stream_stop(r);
            return rc;
        }
        at += left;
        left = 0;
    }
    return CF_OK;
}

void s3_reader_free(s3_reader *r)
{
    if (r == NULL)
        return;
    stream_stop(r);
    if (r->m)
        curl_multi_cleanup(r->m);
    cf_buf_free(&r->head);
    cf_buf_free(&r->tail);
    cf_buf_free(&r->err);
    free(r);
}
