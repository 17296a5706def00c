/*
 * s3.h -- a small S3 client: SigV4-signed requests over libcurl
 * (CURLOPT_AWS_SIGV4), enough for the object store (objects_s3.c) and the
 * migration: buckets, objects (PUT, ranged GET, HEAD, DELETE, copy),
 * listings, and multipart uploads.
 *
 * libcurl 7.88 (Debian 12) signs, but leaves six things to the caller;
 * each is handled in s3.c, once (the reasons and what failed without
 * them: ../shared/reference/scale-out-field-notes.md §3):
 *   1. x-amz-content-sha256 is always sent: the body's SHA-256 for small
 *      bodies, UNSIGNED-PAYLOAD for sealed data (the seal authenticates it
 *      end to end; hashing 8 MiB parts twice would cost more than sending
 *      them);
 *   2. a PUT always has a Content-Length (CURLOPT_INFILESIZE_LARGE):
 *      S3 and radosgw refuse chunked bodies (411);
 *   3. query strings are written sorted, `key=` for empty values, values
 *      percent-encoded with upper-case hex (curl signs them as written);
 *   4. no header is ever removed with "Name:" (curl would sign it anyway);
 *   5. credentials go through CURLOPT_USERNAME/PASSWORD, never user:pass;
 *   6. the signing scope names the region and "s3" explicitly;
 * and a seventh found here: 7.88 sorts the signed headers as "name:value"
 * lines, so of two headers where one name begins the other
 * (x-amz-copy-source, x-amz-copy-source-range) the longer comes first and
 * the signature never matches; no request sends two such headers.
 *
 * Connections: one libcurl share object holds the connection cache, DNS
 * and TLS sessions for every request of the client, on every thread, so a
 * request reuses a kept-alive connection whoever made it.
 *
 * Errors: unreachable, timed out, 5xx and SlowDown are CF_EUNAVAIL (the
 * data plane answers 503); 404 is CF_ENOTFOUND; 412 CF_EEXISTS; a full
 * store CF_ENOSPACE; anything else CF_EIO with S3's error code in the
 * message. Credentials never appear in a message or a log.
 */
#ifndef CF_STORE_S3_H
#define CF_STORE_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/err.h"

#define S3_KEY_MAX 1024
#define S3_UPLOAD_ID_MAX 400
#define S3_ETAG_MAX 130

typedef struct s3_config {
    const char *bucket;
    const char *prefix;   /* prepended to every key ("" or "a/b/"); may be NULL */
    const char *endpoint; /* "http(s)://host[:port]"; NULL: https://s3.<region>.amazonaws.com */
    const char *region;   /* NULL: us-east-1 */
    int virtual_host;     /* 1: https://<bucket>.host/key; 0: https://host/<bucket>/key */
    const char *ca_file;  /* PEM bundle for https; NULL: the system's */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* may be NULL */
    /* Objects larger than this are copied in parts (ranged GETs uploaded
     * as parts: see rule 7 above); 0 means S3's limit for one CopyObject,
     * 5 GiB. */
    uint64_t copy_max;
} s3_config;

typedef struct s3_client s3_client;

/* Copies c (secrets into locked, wiped-on-free memory). curl_global_init
 * must have run. */
cf_code s3_client_new(s3_client **out, const s3_config *c, cf_err *e);
void s3_client_free(s3_client *c);
/* "s3://bucket/prefix" for logs (no endpoint, no credential). */
const char *s3_client_name(const s3_client *c);

/* What a response said. */
typedef struct s3_resp {
    long status;
    char etag[S3_ETAG_MAX];
    uint64_t length; /* Content-Length */
    uint64_t total;  /* from Content-Range "bytes a-b/total", else length */
    int64_t mtime;   /* Last-Modified, unix seconds; 0 when absent */
    char code[64];   /* S3 error code ("NoSuchKey") of a failed request */
} s3_resp;

/* One request. key NULL addresses the bucket. query: sorted, already
 * encoded (s3_query_encode for values), without '?'. A body either from
 * memory (body, body_len) or streamed from read (read_len bytes exactly).
 * headers: up to 4 extra "Name: value" lines, NULL-terminated list.
 * out (may be NULL): the body of a 2xx response, within out's cap. */
typedef struct s3_req {
    const char *method;
    const char *key;
    const char *query;
    const void *body;
    size_t body_len;
    size_t (*read)(void *cls, char *buf, size_t n);
    void *read_cls;
    uint64_t read_len;
    const char *headers[5];
    cf_buf *out;
    /* the whole request, in one attempt (no retry); 0: no limit but the
     * stall and connect timeouts (a readiness probe must answer soon) */
    long timeout_ms;
} s3_req;

cf_code s3_request(s3_client *c, const s3_req *r, s3_resp *resp, cf_err *e);

/* Percent-encodes v (upper-case hex, all but A-Za-z0-9-._~) into out. */
void s3_query_encode(char *out, size_t cap, const char *v);

/* ---- operations ---- */

/* HEAD the bucket; create it when it does not exist. */
cf_code s3_bucket_ensure(s3_client *c, cf_err *e);
cf_code s3_put(s3_client *c, const char *key, const void *data, size_t len, cf_err *e);
/* PUT streamed from read (exactly len bytes). */
cf_code s3_put_stream(s3_client *c, const char *key, size_t (*read)(void *, char *, size_t),
                      void *cls, uint64_t len, cf_err *e);
/* GET bytes [off, off + len) of key into out (len 0: the whole object). */
cf_code s3_get(s3_client *c, const char *key, uint64_t off, uint64_t len, cf_buf *out,
               s3_resp *resp, cf_err *e);
/* CF_ENOTFOUND when absent. */
cf_code s3_head(s3_client *c, const char *key, uint64_t *size, int64_t *mtime, cf_err *e);
/* Absent is success. */
cf_code s3_delete(s3_client *c, const char *key, cf_err *e);
/* Server-side copy of src to dst; above copy_max, in parts through this
 * process (one part, at most 16 MiB, in memory). */
cf_code s3_copy(s3_client *c, const char *src, const char *dst, cf_err *e);

/* Every object under prefix (keys without the client's prefix), in key
 * order; fn returns non-zero to stop. */
typedef int (*s3_list_fn)(void *cls, const char *key, uint64_t size, int64_t mtime);
cf_code s3_list(s3_client *c, const char *prefix, s3_list_fn fn, void *cls, cf_err *e);
/* Every unfinished multipart upload under prefix: fn gets its key, its
 * upload id, and when it was started. */
typedef int (*s3_uploads_fn)(void *cls, const char *key, const char *upload_id, int64_t initiated);
cf_code s3_list_uploads(s3_client *c, const char *prefix, s3_uploads_fn fn, void *cls, cf_err *e);

/* Multipart uploads: parts are numbered from 1. */
cf_code s3_mpu_create(s3_client *c, const char *key, char upload_id[S3_UPLOAD_ID_MAX], cf_err *e);
cf_code s3_mpu_part(s3_client *c, const char *key, const char *upload_id, unsigned part,
                    const void *data, size_t len, cf_err *e);
/* Completes with parts 1..nparts as the store lists them; each must have
 * size part_size except the last. CF_ENOTFOUND when the upload is gone
 * (completed or aborted). */
cf_code s3_mpu_complete(s3_client *c, const char *key, const char *upload_id, unsigned nparts,
                        uint64_t part_size, cf_err *e);
/* CF_OK when parts 1..nparts exist with size part_size; CF_ENOTFOUND when
 * the upload is gone; CF_EINTEGRITY when a part is missing or wrong. */
cf_code s3_mpu_check(s3_client *c, const char *key, const char *upload_id, unsigned nparts,
                     uint64_t part_size, cf_err *e);
cf_code s3_mpu_abort(s3_client *c, const char *key, const char *upload_id, cf_err *e);

/* ---- streaming reads ---- */

/* A reader of one object: the first `window` bytes come with the open
 * (one ranged GET, which also tells the size: a small object is read
 * whole right there), further reads stream with one ranged GET from the
 * offset asked to the end, read on as the caller reads on (libcurl's
 * pause: constant memory whatever the object size), and start again
 * elsewhere when the caller jumps. */
typedef struct s3_reader s3_reader;
cf_code s3_reader_open(s3_reader **out, s3_client *c, const char *key, size_t window, cf_err *e);
uint64_t s3_reader_size(const s3_reader *r);
/* 1 with the whole object's bytes when the opening GET brought them all
 * (an object no larger than the window). */
int s3_reader_whole(const s3_reader *r, const unsigned char **p, size_t *n);
/* Fills every vector from off (see seal_io.readv). */
cf_code s3_reader_readv(s3_reader *r, const struct iovec *iov, int n, uint64_t off, cf_err *e);
void s3_reader_free(s3_reader *r);

/* ---- XML of listings (untrusted input: tests/fuzz/fuzz_s3_xml.c) ---- */

/* Finds the next <tag>...</tag> at or after *pos in xml[0..len) and
 * copies its text, entities decoded (&amp; &lt; &gt; &quot; &apos;), into
 * out. Returns 1 with *pos past the element, 0 when there is none, -1
 * when the text does not fit or is malformed. An element is searched
 * only within [*pos, limit). */
int s3_xml_next(const char *xml, size_t len, size_t *pos, size_t limit, const char *tag, char *out,
                size_t cap);
/* The end (offset past "</tag>") of the next element <tag>, or 0. *start
 * gets the offset of its content. Used to walk <Contents> and <Upload>. */
size_t s3_xml_element(const char *xml, size_t len, size_t pos, const char *tag, size_t *start);

#endif
