/*
 * api_int.h -- what the data plane's handler files share: the request
 * context and the response helpers. Not a public header.
 */
#ifndef CF_REGISTRY_API_INT_H
#define CF_REGISTRY_API_INT_H

#include <stdint.h>

#include "crypto/seal.h"
#include "http/server.h"
#include "registry/api.h"
#include "registry/auth.h"
#include "registry/oci.h"
#include "registry/route.h"
#include "store/meta.h"
#include "store/uploads.h"

#define API_NAME_MAX (OCI_REGISTRY_NAME_MAX + 1 + OCI_NAME_MAX)

/* Who is asking (access.c fills it before any handler runs). */
typedef enum { VIA_NONE = 0, VIA_BEARER, VIA_BASIC } rq_via;
typedef struct rq_auth {
    int via;                 /* rq_via */
    int kind;                /* auth_kind: AUTH_ADMIN also under --insecure-no-auth */
    unsigned allowed;        /* actions on q->name */
    char sub[AUTH_USER_MAX]; /* VIA_BASIC: the user as authenticated */
    auth_claims claims;      /* VIA_BEARER */
    char scope[4096];        /* VIA_BASIC with a token: its scope map */
} rq_auth;

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
    /* cross-repository mount (POST ?mount=D&from=R): R when it names a
     * repository of this registry, as the client wrote it and inside the
     * registry; from_given: a `from` was sent, usable or not */
    char mount_from[API_NAME_MAX + 1];
    char mount_from_repo[OCI_NAME_MAX + 1];
    int mount_from_given;
    /* manifests */
    oci_reference ref;
    uint64_t mem_reserved; /* bytes of the manifest budget held */
    /* storage limit (quota.h): sealed bytes this request's upload may
     * reach, when quota_on */
    int quota_on;
    int64_t quota_room;
    rq_auth auth;
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
/* The same with one extra response header (name, value). */
void api_fail_hdr(rq *q, unsigned status, const char *code, const char *hname, const char *hval,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Maps a cf_err from a lower layer to a response (500/503/507...). */
void api_fail_err(rq *q, const cf_err *e, const char *what);
/* Adds the common headers and queues. */
void api_respond(rq *q, http_resp *resp);
/* Requires the KEK (fills q->kek); on failure responds DENIED and
 * returns non-zero. */
int api_need_kek(rq *q);
/* The registry's storage limit (quota.h) for a write adding `adding`
 * sealed bytes (0: refused only when the registry is already full): 0 when
 * it may go on, -1 after answering 403 DENIED (or the store's failure).
 * Sets q->quota_on and q->quota_room for a body that follows. */
int api_quota(rq *q, int64_t adding);

/* ---- access.c: authentication and authorization (auth.h) ---- */

/* Copies what access needs from the API config. */
cf_code api_access_configure(const registry_api_config *c, cf_err *e);
void api_access_shutdown(void);
/* 1 under --insecure-no-auth. */
int api_access_open(void);
/* The request's credentials against q->reg (q->name, q->repo set): 0 when
 * they allow every action of `need` on q->name; otherwise responds (401
 * with the challenge, 403 DENIED for valid credentials without the right,
 * 5xx when they cannot be checked) and returns -1. */
int api_access(rq *q, unsigned need);
/* 401 with the challenge for q->name (no credentials could be valid: the
 * registry named does not exist). */
void api_access_unknown_registry(rq *q, unsigned need);
/* The actions the request's credentials (already checked by api_access)
 * have on another repository of q->reg: `name` as the client writes it,
 * `repo` inside the registry. */
unsigned api_access_on(rq *q, const char *name, const char *repo);
/* Whether the request's credentials may mount (q->mount_from*, set by
 * api_mount_source): a mount reads its source, so they need pull there: 1
 * may; 0 may not (the caller falls back to an upload); -1 responded (401
 * insufficient_scope: a bearer token without pull on `from` whose
 * credentials have it; the challenge names both scopes). */
int api_access_mount(rq *q);
/* GET /v2/: 0 with any valid credentials (responds 401 otherwise). */
int api_access_base(rq *q);
/* GET /v2/_catalog: fills q->reg with the registry the credentials belong
 * to (host_reg: the Host's registry) and returns 0, or responds and
 * returns -1. */
int api_access_catalog(rq *q, const char *host_reg);
/* 1 when the catalog may list the repository `repo` of q->reg. */
int api_access_lists(rq *q, const char *repo);
/* GET /oauth2/token. */
void api_token(rq *q);
/* The login domain (NULL when none). */
const char *api_login_domain(void);

void api_blob(rq *q);
/* For POST .../blobs/uploads/?mount=D&from=R (q->name and q->repo set):
 * fills q->mount_from* when R is a repository of the same registry, so the
 * 401 challenge can ask for pull on it too. */
void api_mount_source(rq *q);
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
