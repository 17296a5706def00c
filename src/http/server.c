/*
 * server.c -- see server.h. The MHD access handler is a small state
 * machine per request:
 *
 *   first call (headers)      -> create http_req, run the handler;
 *                                a response given now is queued now
 *   calls with body data      -> on_body / collect / discard
 *   final call (no more data) -> on_end (if the handler waits for the
 *                                body), then queue the stored response
 */
#define CF_LOG_MOD "http"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "base/enc.h"
#include "base/log.h"
#include "base/metrics.h"

struct http_server {
    struct MHD_Daemon *d;
    http_server_opts o;
    char *request_id_header;
    uint16_t port;
};

struct http_resp {
    struct MHD_Response *mr;
    unsigned status;
    uint64_t size;          /* body bytes; a stream counts them as sent */
    struct stream_box *box; /* a stream's reader, or NULL */
};

struct http_internal {
    http_server *s;
    struct MHD_Connection *conn;
    http_resp *pending; /* response waiting for the end of the body */
    int queued;
    int body_stopped;   /* discard remaining body */
    uint64_t discarded; /* body bytes read and thrown away */
    int collecting;
    size_t collect_cap;
    int ended;
    char peer[64];
    /* request metrics (http_server_opts.metrics_name) */
    struct timespec t0;
    unsigned status;
    uint64_t bytes_in, bytes_out;
};

typedef struct {
    http_req req;
    struct http_internal in;
} req_box;

unsigned http_status_for(cf_code code)
{
    switch (code) {
    case CF_OK:
        return 200;
    case CF_EINVAL:
        return 400;
    case CF_EAUTH:
        return 401;
    case CF_EDENIED:
        return 403;
    case CF_ENOTFOUND:
        return 404;
    case CF_EEXISTS:
    case CF_ECONFLICT:
        return 409;
    case CF_ETOOBIG:
        return 413;
    case CF_ERANGE:
        return 416;
    case CF_EUNSUPPORTED:
        return 415;
    case CF_EUNAVAIL:
        return 503;
    case CF_ENOSPACE:
        return 507;
    default:
        return 500;
    }
}

http_resp *http_resp_bytes(unsigned status, const void *data, size_t len, const char *ctype)
{
    http_resp *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->status = status;
    r->size = len;
    r->mr = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (r->mr == NULL) {
        free(r);
        return NULL;
    }
    if (ctype)
        MHD_add_response_header(r->mr, "Content-Type", ctype);
    return r;
}

http_resp *http_resp_new(unsigned status)
{
    return http_resp_bytes(status, "", 0, NULL);
}

typedef struct stream_box {
    http_stream_fn read;
    void *cls;
    void (*free_cls)(void *);
    uint64_t *sent; /* the request's bytes_out once queued */
} stream_box;

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_box *b = cls;
    ssize_t n = b->read(b->cls, pos, buf, max);
    if (n > 0 && b->sent)
        *b->sent += (uint64_t)n;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n;
}

static void stream_free(void *cls)
{
    stream_box *b = cls;
    if (b->free_cls)
        b->free_cls(b->cls);
    free(b);
}

http_resp *http_resp_stream(unsigned status, uint64_t size, size_t block, http_stream_fn read,
                            void *cls, void (*free_cls)(void *cls))
{
    http_resp *r = calloc(1, sizeof(*r));
    stream_box *b = calloc(1, sizeof(*b));
    if (r == NULL || b == NULL) {
        free(r);
        free(b);
        if (free_cls)
            free_cls(cls);
        return NULL;
    }
    b->read = read;
    b->cls = cls;
    b->free_cls = free_cls;
    r->status = status;
    r->box = b;
    r->mr = MHD_create_response_from_callback(size == UINT64_MAX ? MHD_SIZE_UNKNOWN : size,
                                              block ? block : 65536, stream_reader, b, stream_free);
    if (r->mr == NULL) {
        stream_free(b);
        free(r);
        return NULL;
    }
    return r;
}

void http_resp_header(http_resp *resp, const char *name, const char *value)
{
    if (resp && resp->mr)
        MHD_add_response_header(resp->mr, name, value);
}

static void resp_free(http_resp *resp)
{
    if (resp) {
        MHD_destroy_response(resp->mr);
        free(resp);
    }
}

static void queue(http_req *r, http_resp *resp)
{
    struct http_internal *in = r->in;
    if (in->s->request_id_header)
        MHD_add_response_header(resp->mr, in->s->request_id_header, r->request_id);
    in->status = resp->status;
    if (resp->box)
        resp->box->sent = r->is_head ? NULL : &in->bytes_out;
    else if (!r->is_head)
        in->bytes_out = resp->size;
    if (MHD_queue_response(in->conn, resp->status, resp->mr) != MHD_YES)
        cf_log(CF_LOG_WARN, "queue response failed", "request_id", r->request_id, NULL);
    in->queued = 1;
    resp_free(resp);
}

void http_req_respond(http_req *r, http_resp *resp)
{
    struct http_internal *in = r->in;
    if (resp == NULL) {
        /* out of memory building the response: a bare 500 */
        resp = http_resp_new(500);
        if (resp == NULL)
            return;
    }
    if (in->queued || in->pending) {
        resp_free(resp);
        return;
    }
    in->body_stopped = 1;
    in->pending = resp;
}

int http_req_responded(const http_req *r)
{
    return r->in->queued || r->in->pending != NULL;
}

const char *http_req_header(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->in->conn, MHD_HEADER_KIND, name);
}

typedef struct each_box {
    const char *name;
    int (*fn)(void *cls, const char *value);
    void *cls;
    unsigned count;
    int stopped;
} each_box;

static enum MHD_Result each_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    each_box *b = cls;
    if (b->stopped || key == NULL || strcasecmp(key, b->name) != 0)
        return MHD_YES;
    b->count++;
    if (b->fn(b->cls, value ? value : "") != 0)
        b->stopped = 1;
    return MHD_YES;
}

unsigned http_req_header_each(http_req *r, const char *name,
                              int (*fn)(void *cls, const char *value), void *cls)
{
    each_box b = {.name = name, .fn = fn, .cls = cls};
    MHD_get_connection_values(r->in->conn, MHD_HEADER_KIND, each_cb, &b);
    return b.count;
}

unsigned http_req_query_each(http_req *r, const char *name, int (*fn)(void *cls, const char *value),
                             void *cls)
{
    each_box b = {.name = name, .fn = fn, .cls = cls};
    MHD_get_connection_values(r->in->conn, MHD_GET_ARGUMENT_KIND, each_cb, &b);
    return b.count;
}

const char *http_req_query(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->in->conn, MHD_GET_ARGUMENT_KIND, name);
}

int64_t http_req_content_length(http_req *r)
{
    const char *v = http_req_header(r, "Content-Length");
    if (v == NULL || *v == '\0')
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end != '\0' || n < 0)
        return -1;
    return n;
}

const char *http_req_peer(http_req *r)
{
    return r->in->peer;
}

int http_req_tls(const http_req *r)
{
    return r->in != NULL && r->in->s->o.tls != NULL;
}

void http_req_collect(http_req *r, size_t cap, http_end_fn on_end)
{
    r->in->collecting = 1;
    r->in->collect_cap = cap;
    cf_buf_init(&r->body, cap);
    r->on_end = on_end;
}

static uint64_t drain_max(const http_server *s)
{
    return s->o.drain_max ? s->o.drain_max : 64ull * 1024 * 1024;
}

static int has_body(http_req *r)
{
    const char *te = http_req_header(r, "Transfer-Encoding");
    return http_req_content_length(r) > 0 || (te != NULL && *te != '\0');
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    http_server *s = cls;
    req_box *box = *con_cls;
    if (box == NULL) {
        box = calloc(1, sizeof(*box));
        if (box == NULL)
            return MHD_NO;
        *con_cls = box;
        http_req *r = &box->req;
        r->in = &box->in;
        r->method = method;
        r->path = url;
        r->version = version;
        r->is_head = strcmp(method, "HEAD") == 0;
        box->in.s = s;
        box->in.conn = conn;
        clock_gettime(CLOCK_MONOTONIC, &box->in.t0);
        unsigned char id[16];
        if (RAND_bytes(id, sizeof(id)) != 1)
            memset(id, 0, sizeof(id));
        cf_hex_encode(r->request_id, id, sizeof(id));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, box->in.peer,
                          sizeof(box->in.peer));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, box->in.peer,
                          sizeof(box->in.peer));
        }
        s->o.handler(r, s->o.ctx);
        /* Queued on this first call, MHD closes the connection afterwards
         * (a client still writing its body may then see a reset before it
         * reads the answer). So an early answer waits for the body to be
         * read and discarded, unless the body is declared too large to be
         * worth reading; a body-less request is answered on the next call
         * and keeps its connection. */
        int64_t cl = http_req_content_length(r);
        if (box->in.pending && has_body(r) && cl >= 0 && (uint64_t)cl > drain_max(s)) {
            http_resp *p = box->in.pending;
            box->in.pending = NULL;
            queue(r, p);
        }
        return MHD_YES;
    }

    http_req *r = &box->req;
    struct http_internal *in = &box->in;
    if (in->queued) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        in->bytes_in += n;
        if (in->body_stopped || (in->collecting && r->body_too_big)) {
            in->discarded += n;
            /* no answer can be queued mid-body: past the cap, close */
            return in->discarded > drain_max(s) ? MHD_NO : MHD_YES;
        }
        if (in->collecting) {
            if (cf_buf_append(&r->body, upload_data, n, NULL) != CF_OK) {
                r->body_too_big = 1;
                cf_buf_free(&r->body);
            }
            return MHD_YES;
        }
        if (r->on_body && r->on_body(r, upload_data, n) != 0 && !in->pending) {
            /* the callback must respond when it stops; keep the promise */
            http_req_respond(r, http_resp_new(500));
        }
        return MHD_YES;
    }
    /* end of body */
    if (!in->ended) {
        in->ended = 1;
        if (!in->pending && r->on_end)
            r->on_end(r);
        if (!in->pending) {
            cf_log(CF_LOG_ERROR, "handler did not respond", "path", r->path, "request_id",
                   r->request_id, NULL);
            http_req_respond(r, http_resp_new(500));
        }
    }
    if (in->pending) {
        http_resp *p = in->pending;
        in->pending = NULL;
        queue(r, p);
    }
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    req_box *box = *con_cls;
    if (box == NULL)
        return;
    http_req *r = &box->req;
    http_server *s = box->in.s;
    if (s->o.metrics_name && box->in.status) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - box->in.t0.tv_sec) +
                      (double)(t1.tv_nsec - box->in.t0.tv_nsec) / 1e9;
        metrics_http_observe(s->o.metrics_name, r->route, r->method, box->in.status, secs,
                             box->in.bytes_in, box->in.bytes_out);
    }
    if (r->on_done)
        r->on_done(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    resp_free(box->in.pending);
    cf_buf_free(&r->body);
    free(box);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    cf_log(CF_LOG_WARN, msg, NULL);
}

static cf_code parse_listen(const char *listen, struct sockaddr_storage *ss, cf_err *e)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL)
        return cf_err_set(e, CF_EINVAL, "listen address '%s' is not HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return cf_err_set(e, CF_EINVAL, "listen host too long");
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || end == colon + 1)
        return cf_err_set(e, CF_EINVAL, "bad port in listen address '%s'", listen);
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return cf_err_set(e, CF_EINVAL, "bad IPv6 address in '%s'", listen);
        return CF_OK;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (hl == 0 || strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return cf_err_set(e, CF_EINVAL, "bad IPv4 address in '%s'", listen);
    return CF_OK;
}

int http_listen_is_loopback(const char *listen)
{
    struct sockaddr_storage ss;
    if (parse_listen(listen, &ss, NULL) != CF_OK)
        return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&ss)->sin6_addr);
}

cf_code http_server_start(http_server **out, const http_server_opts *o, cf_err *e)
{
    struct sockaddr_storage ss;
    cf_code rc = parse_listen(o->listen, &ss, e);
    if (rc != CF_OK)
        return rc;
    http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    s->o = *o;
    s->request_id_header = o->request_id_header ? strdup(o->request_id_header) : NULL;
    /* MHD_USE_ITC: each worker gets an eventfd that MHD_stop_daemon
     * signals. Without it the stop wakes workers only through the
     * listening socket, which a worker at its share of the connection
     * limit no longer watches: it slept in epoll_wait until a connection
     * timed out while the main thread waited to join it (a SIGTERM hang,
     * tests/e2e/cofferd-basics). */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem ops[16];
    int n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    ops[n++] =
        (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 4, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                       o->idle_timeout_s ? o->idle_timeout_s : 60, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                       o->max_connections ? o->max_connections : 1024, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, NULL};
    if (o->tls)
        n += http_tls_mhd_options(o->tls, ops + n);
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->d =
        MHD_start_daemon(flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (s->d == NULL) {
        free(s->request_id_header);
        free(s);
        return cf_err_set(e, CF_EIO, "cannot listen on %s (address in use or not permitted)",
                          o->listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return CF_OK;
}

uint16_t http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_stop(http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->d);
    free(s->request_id_header);
    free(s);
}
