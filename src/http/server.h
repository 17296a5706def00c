/*
 * server.h -- a small request/response layer over libmicrohttpd.
 *
 * A request's life (h2o's shape, MHD underneath):
 *
 *   1. headers arrive: the server allocates an http_req (the request
 *      context, stored in MHD's con_cls) and calls the handler once;
 *   2. the handler either responds at once (http_req_respond) or installs
 *      body callbacks: on_body for each chunk as it arrives (streaming, so
 *      a 2 GiB upload never sits in memory) and on_end when the body is
 *      complete; or it asks the server to collect a small body into
 *      r->body with a hard cap (http_req_collect);
 *   3. on_end must respond;
 *   4. when MHD reports the request completed (sent, or the client went
 *      away), on_done runs (success flag) and the context is freed. That is
 *      the only place request memory is released.
 *
 * A response given while headers are all we have is sent at once when no
 * body comes (or a body larger than drain_max is declared: MHD then
 * closes); otherwise, like a response given in on_body, it stops the body
 * callbacks, the rest of the body is read and discarded (up to
 * drain_max), and the response is sent when the body ends.
 *
 * Threads: a pool of MHD worker threads (epoll); one request runs on one
 * thread from start to end, so per-thread resources (a SQLite connection)
 * can be reached through thread-local storage.
 */
#ifndef CF_HTTP_SERVER_H
#define CF_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/tls.h"

typedef struct http_server http_server;
typedef struct http_req http_req;
typedef struct http_resp http_resp;

typedef void (*http_handler_fn)(http_req *r, void *ctx);

/* Return 0 to go on; non-zero stops the body (the callback must have
 * responded). */
typedef int (*http_body_fn)(http_req *r, const char *data, size_t len);
typedef void (*http_end_fn)(http_req *r);
typedef void (*http_done_fn)(http_req *r, int completed_ok);

struct http_req {
    const char *method;  /* "GET", ... */
    const char *path;    /* percent-decoded by MHD, without the query */
    const char *version; /* "HTTP/1.1" */
    char request_id[33]; /* random hex, echoed in the response */
    int is_head;
    /* what the handler routed it to, a fixed word ("manifest", ...):
     * the route label of the request metrics; NULL: "other" */
    const char *route;
    /* set by the handler */
    http_body_fn on_body;
    http_end_fn on_end;
    http_done_fn on_done;
    void *user;       /* handler state; freed by on_done */
    cf_buf body;      /* filled by http_req_collect */
    int body_too_big; /* collect passed its cap; body discarded */
    /* internal */
    struct http_internal *in;
};

typedef struct http_server_opts {
    const char *listen;       /* "HOST:PORT", "[::1]:PORT"; port 0 picks a free one */
    http_tls *tls;            /* borrowed, outlives the server; NULL for plain HTTP */
    unsigned threads;         /* worker threads; 0 means 4 */
    unsigned idle_timeout_s;  /* close idle connections; 0 means 60 */
    unsigned max_connections; /* 0 means 1024 */
    /* A response given before the body is read (an early error) is sent
     * once the body has been read and discarded, so the client, still
     * writing, sees the answer on a kept connection instead of a reset.
     * Bodies declared larger than this are not read (the answer goes out
     * at once, then MHD closes); a body that keeps coming past it while
     * discarded closes the connection. 0 means 64 MiB. */
    uint64_t drain_max;
    const char *request_id_header; /* e.g. "X-Request-Id"; NULL for none */
    /* the listener label of every request's metrics (base/metrics.h):
     * "data", "management"; NULL: none recorded */
    const char *metrics_name;
    http_handler_fn handler;
    void *ctx;
} http_server_opts;

cf_code http_server_start(http_server **out, const http_server_opts *o, cf_err *e);
/* Whether a listen address ("HOST:PORT") is on loopback (127.0.0.0/8,
 * ::1, localhost, or an empty host, which means 127.0.0.1): where plain
 * HTTP is allowed without --insecure-plain-http (docs/tls.md). */
int http_listen_is_loopback(const char *listen);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const http_server *s);
/* Stops accepting, aborts in-flight requests, joins threads, frees. */
void http_server_stop(http_server *s);

const char *http_req_header(http_req *r, const char *name);
const char *http_req_query(http_req *r, const char *name);
/* Calls fn for every value of a header that may repeat (Accept), in
 * order; stops when fn returns non-zero. Returns the number of values. */
unsigned http_req_header_each(http_req *r, const char *name,
                              int (*fn)(void *cls, const char *value), void *cls);
/* The same for a query parameter that may repeat (?scope=a&scope=b). */
unsigned http_req_query_each(http_req *r, const char *name, int (*fn)(void *cls, const char *value),
                             void *cls);
/* Content-Length of the request, or -1 when absent (chunked or none). */
int64_t http_req_content_length(http_req *r);
/* Peer address as text ("127.0.0.1"). */
const char *http_req_peer(http_req *r);
/* 1 when the request came over TLS (the listener has a certificate). */
int http_req_tls(const http_req *r);
/* Collect the body into r->body up to cap bytes, then call on_end. Past
 * the cap the rest is discarded, r->body_too_big is set, on_end still runs. */
void http_req_collect(http_req *r, size_t cap, http_end_fn on_end);
int http_req_responded(const http_req *r);

/* Responses. Header names and values are copied. */
http_resp *http_resp_new(unsigned status);
/* Body copied from memory. */
http_resp *http_resp_bytes(unsigned status, const void *data, size_t len, const char *content_type);
/* Streams `size` bytes produced by read(cls, pos, buf, max): it returns the
 * bytes written (>0), 0 at the end, or -1 to abort the connection (an
 * integrity error mid-stream: the client sees a short body, never bad
 * bytes). free_cls runs when the response is destroyed. size may be
 * UINT64_MAX for unknown (chunked). */
typedef ssize_t (*http_stream_fn)(void *cls, uint64_t pos, char *buf, size_t max);
http_resp *http_resp_stream(unsigned status, uint64_t size, size_t block, http_stream_fn read,
                            void *cls, void (*free_cls)(void *cls));
void http_resp_header(http_resp *resp, const char *name, const char *value);
/* Queues (or schedules) the response; takes ownership of resp. A second
 * response for the same request is dropped. */
void http_req_respond(http_req *r, http_resp *resp);

/* A cf_code's default HTTP status (400, 404, 413, 500, 503, ...). */
unsigned http_status_for(cf_code code);

#endif
