/*
 * api_int.h -- what the data plane's handler files share: the request
 * context and the response helpers. Not a public header.
 */
#ifndef CF_REGISTRY_API_INT_H
#define CF_REGISTRY_API_INT_H

#include <stdint.h>

#include "crypto/seal.h"
#include "http/server.h"
#include "registry/oci.h"
#include "registry/route.h"
#include "store/meta.h"
#include "store/uploads.h"

#define API_NAME_MAX (OCI_REGISTRY_NAME_MAX + 1 + OCI_NAME_MAX)

/* One per request, in r->user; freed by on_done (rq_done). */
typedef struct rq {
    http_req *r;
    route rt;
    meta_registry reg;
    char repo[OCI_NAME_MAX + 1]; /* repository inside the registry */
    char name[API_NAME_MAX + 1]; /* the name as the client wrote it */
    seal_kek kek;
    int have_kek;
    /* uploads */
    upload *up;
    int has_range;
    uint64_t range_start, range_end;
    uint64_t start_len; /* the upload's length when this request took it */
    uint64_t received;
    uint64_t checkpointed; /* received at the last mid-stream checkpoint */
    int complete;          /* finish the upload at the end of the body */
    int fresh;             /* upload created by this request */
    oci_digest digest;
    int failed; /* a body callback already responded */
    /* manifests */
    oci_reference ref;
    uint64_t mem_reserved; /* bytes of the manifest budget held */
} rq;

/* Responds with the spec's error body; logs the failure once. */
void api_fail(rq *q, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Releases the request's upload, rolling it back (or removing it, when
 * this request created it), before an error answer. */
void api_drop_upload(rq *q);
/* Reserves n bytes of the daemon-wide budget for request bodies held in
 * memory (manifests); released when the request ends. -1 when over. */
int api_mem_reserve(rq *q, uint64_t n);
/* Maps a cf_err from a lower layer to a response (500/503/507...). */
void api_fail_err(rq *q, const cf_err *e, const char *what);
/* Adds the common headers and queues. */
void api_respond(rq *q, http_resp *resp);
/* Requires the KEK (fills q->kek); on failure responds DENIED and
 * returns non-zero. */
int api_need_kek(rq *q);

void api_blob(rq *q);
void api_upload_start(rq *q);
void api_upload(rq *q);
void api_manifest(rq *q);
/* Reads and decrypts the registry's stored manifest d of size bytes
 * (at most MANIFEST_MAX_SIZE) into a fresh buffer (*out, the caller's to
 * wipe and free). Needs q->kek. CF_ENOTFOUND when its file is gone (a
 * concurrent delete); CF_EINTEGRITY when it fails authentication or its
 * size disagrees with the metadata. */
cf_code api_manifest_read(rq *q, const oci_digest *d, int64_t size, unsigned char **out, cf_err *e);

/* Streams the digest's sealed object: 200 (or 206 with range), with
 * Content-Type ctype and Docker-Content-Digest. */
void api_serve_object(rq *q, const oci_digest *d, uint64_t size, const char *ctype, int ranges);

#endif
