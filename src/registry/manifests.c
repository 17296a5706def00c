/*
 * manifests.c -- GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>.
 *
 * A pushed manifest is collected (at most 4 MiB), validated (manifest.h),
 * its digest computed (sha256, or the algorithm of the digest it was
 * pushed by), every blob or child manifest it references checked in this
 * repository, then sealed as a blob of the registry and recorded with its
 * media type, subject and artifact type in one transaction. Pulls serve
 * the stored bytes with the stored media type: the digest a client
 * computes is always the one it pushed.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#define CF_LOG_MOD "registry"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "base/log.h"
#include "registry/api_int.h"
#include "registry/quota.h"
#include "registry/content.h"
#include "registry/manifest.h"
#include "store/meta.h"
#include "store/objects.h"

/* ---- content negotiation ----
 * Stored manifests are served as pushed. The one conversion: a client
 * that asks for a tag holding an index or manifest list but accepts only
 * image manifests (an old Docker client) receives the linux/amd64 image, as
 * Distribution does. Everything else (no Accept, wildcards, or a type the
 * client did not list) receives the stored bytes: a client always receives
 * the digest it asked for. */

typedef struct accepts {
    unsigned n;
    int any;
    int kind[5]; /* by manifest_kind */
} accepts;

static int accept_value(void *cls, const char *v)
{
    accepts *a = cls;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0)
            continue;
        manifest_kind k = manifest_kind_of(start, len);
        if (k)
            a->kind[k] = 1;
        else if (len >= 3 && memcmp(start, "*/*", 3) == 0)
            a->any = 1;
        else if (len >= 13 && memcmp(start, "application/*", 13) == 0)
            a->any = 1;
    }
    return 0;
}

static int accepted(const accepts *a, manifest_kind k)
{
    return a->n == 0 || a->any || a->kind[k];
}

cf_code api_manifest_read(rq *q, const oci_digest *d, int64_t size, unsigned char **out, cf_err *e)
{
    return content_manifest_read(q->reg.id, &q->kek, d, size, out, e);
}

/* The linux/amd64 child of the stored index m, when the client wants an
 * image rather than an index. 0 with *child filled, else -1. */
static int negotiate(rq *q, const meta_manifest *m, const oci_digest *d, meta_manifest *child)
{
    accepts a = {0};
    a.n = http_req_header_each(q->r, "Accept", accept_value, &a);
    manifest_kind k = manifest_kind_of(m->media_type, strlen(m->media_type));
    if (q->ref.is_digest || !manifest_is_index(k) || accepted(&a, k))
        return -1;
    if (!a.kind[MANIFEST_OCI_MANIFEST] && !a.kind[MANIFEST_DOCKER_MANIFEST])
        return -1;
    unsigned char *buf = NULL;
    int rc = -1;
    if (api_manifest_read(q, d, m->size, &buf, NULL) != CF_OK)
        return -1;
    oci_digest cd;
    if (manifest_index_pick(&cd, buf, (size_t)m->size, "linux", "amd64", NULL) != CF_OK)
        goto out;
    if (meta_manifest_get(child, q->reg.id, q->repo, cd.text, NULL) != CF_OK)
        goto out;
    manifest_kind ck = manifest_kind_of(child->media_type, strlen(child->media_type));
    if (!a.kind[ck])
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(buf, (size_t)m->size);
    free(buf);
    return rc;
}

static void manifest_get(rq *q)
{
    meta_manifest m;
    cf_err e = {0};
    cf_code rc = q->ref.is_digest
                     ? meta_manifest_get(&m, q->reg.id, q->repo, q->ref.digest.text, &e)
                     : meta_tag_get(&m, q->reg.id, q->repo, q->ref.tag, &e);
    if (rc == CF_ENOTFOUND) {
        api_fail(q, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
        return;
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "manifest lookup");
        return;
    }
    oci_digest d;
    if (oci_digest_parse(&d, m.digest, strlen(m.digest), &e) != CF_OK) {
        api_fail(q, 500, "UNKNOWN", "stored manifest digest is malformed");
        return;
    }
    meta_manifest child;
    if (negotiate(q, &m, &d, &child) == 0 &&
        oci_digest_parse(&d, child.digest, strlen(child.digest), NULL) == CF_OK)
        m = child;
    api_serve_object(q, &d, (uint64_t)m.size, m.media_type, 0);
}

static void manifest_delete(rq *q)
{
    cf_err e = {0};
    cf_code rc;
    if (q->ref.is_digest) {
        rc = content_manifest_delete(q->reg.id, q->repo, &q->ref.digest, &e);
    } else {
        rc = meta_tag_delete(q->reg.id, q->repo, q->ref.tag, &e);
    }
    if (rc == CF_ENOTFOUND) {
        api_fail(q, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
        return;
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "delete manifest");
        return;
    }
    api_respond(q, http_resp_new(202));
}

static void manifest_put_end(http_req *r)
{
    rq *q = r->user;
    if (r->body_too_big) {
        api_fail(q, 413, "MANIFEST_INVALID", "manifest larger than %u bytes", MANIFEST_MAX_SIZE);
        return;
    }
    cf_err e = {0};
    content_fail fail;
    content_manifest_stored st;
    if (content_manifest_store(&st, &fail, &q->reg, q->repo, q->ref.is_digest ? NULL : q->ref.tag,
                               &q->kek, r->body.data, r->body.len,
                               http_req_header(r, "Content-Type"),
                               q->ref.is_digest ? &q->ref.digest : NULL, &e) != CF_OK) {
        if (fail == CONTENT_FAIL_INVALID)
            api_fail(q, e.code == CF_ETOOBIG ? 413 : 400, "MANIFEST_INVALID", "%s", e.msg);
        else if (fail == CONTENT_FAIL_DIGEST)
            api_fail(q, 400, "DIGEST_INVALID", "%s", e.msg);
        else if (fail == CONTENT_FAIL_REF)
            api_fail(q, 400, "MANIFEST_BLOB_UNKNOWN", "%s", e.msg);
        else if (fail == CONTENT_FAIL_QUOTA)
            api_fail(q, 403, "DENIED", "%s", e.msg);
        else
            api_fail_err(q, &e, "store manifest");
        return;
    }
    http_resp *resp = http_resp_new(201);
    char loc[API_NAME_MAX + OCI_DIGEST_MAX + 24];
    snprintf(loc, sizeof(loc), "/v2/%s/manifests/%s", q->name, st.digest.text);
    http_resp_header(resp, "Location", loc);
    http_resp_header(resp, "Docker-Content-Digest", st.digest.text);
    if (st.has_subject)
        http_resp_header(resp, "OCI-Subject", st.subject.text);
    api_respond(q, resp);
}

void api_manifest(rq *q)
{
    const char *m = q->r->method;
    int get = strcmp(m, "GET") == 0 || q->r->is_head;
    int put = strcmp(m, "PUT") == 0;
    int del = strcmp(m, "DELETE") == 0;
    if (!get && !put && !del) {
        api_fail(q, 405, "UNSUPPORTED", "method %s not supported on manifests", m);
        return;
    }
    cf_err e = {0};
    if (oci_reference_parse(&q->ref, q->rt.arg.p, q->rt.arg.len, &e) != CF_OK) {
        /* A reference that is no tag can name no manifest: reads and
         * deletes answer 404, as CNCF Distribution does and the spec's
         * conformance suite expects (".INVALID_MANIFEST_NAME"); a PUT names
         * the tag it would create, so it is told the tag is invalid. A
         * malformed digest stays DIGEST_INVALID, as on blobs. */
        if (q->ref.is_digest)
            api_fail(q, 400, "DIGEST_INVALID", "%s", e.msg);
        else if (!put)
            api_fail(q, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry");
        else
            api_fail(q, 400, "TAG_INVALID", "invalid tag");
        return;
    }
    if (get) {
        manifest_get(q);
        return;
    }
    if (del) {
        manifest_delete(q);
        return;
    }
    int64_t cl = http_req_content_length(q->r);
    if (cl > (int64_t)MANIFEST_MAX_SIZE) {
        /* answered once the body is drained (or at once past 64 MiB) */
        api_fail(q, 413, "MANIFEST_INVALID", "manifest larger than %u bytes", MANIFEST_MAX_SIZE);
        return;
    }
    /* Manifests are the one body held in memory: bound their total over
     * all connections (a chunked body reserves the maximum). */
    uint64_t want = cl >= 0 ? (uint64_t)cl : MANIFEST_MAX_SIZE;
    if (api_mem_reserve(q, want) != 0) {
        api_fail(q, 429, "TOOMANYREQUESTS", "too many manifest uploads in progress; retry");
        return;
    }
    http_req_collect(q->r, MANIFEST_MAX_SIZE, manifest_put_end);
}
