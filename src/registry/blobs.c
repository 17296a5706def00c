/*
 * blobs.c -- blob pulls and deletes, and the whole push protocol of
 * blobs: POST (monolithic with ?digest=, cross-repository mount with
 * ?mount=&from=, or a new upload), PATCH (chunked with Content-Range, or
 * streamed), PUT to complete, GET for the status, DELETE to cancel.
 *
 * Every body streams straight into the upload's sealed file (uploads.h);
 * nothing here holds more than MHD's buffer. A request that fails after
 * writing (bad Content-Range, digest mismatch, client gone) releases the
 * upload with ok = 0, which rolls it back to its last checkpoint: a
 * malformed request changes nothing.
 */
#define CF_LOG_MOD "registry"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "registry/api_int.h"
#include "registry/content.h"
#include "registry/gc.h"
#include "registry/quota.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"

/* A streamed PATCH makes its durable part crash-safe every this many bytes. */
#define STREAM_CHECKPOINT (16u * 1024 * 1024)

/* ---- blobs ---- */

static int parse_digest_arg(rq *q, oci_digest *d, unsigned bad_status, const char *bad_code)
{
    cf_err e = {0};
    if (oci_digest_parse(d, q->rt.arg.p, q->rt.arg.len, &e) != CF_OK) {
        api_fail(q, bad_status, bad_code, "%s", e.msg);
        return -1;
    }
    return 0;
}

static void blob_delete(rq *q, const oci_digest *d)
{
    cf_err e = {0};
    cf_code rc = content_blob_unlink(q->reg.id, q->repo, d, &e);
    if (rc == CF_ENOTFOUND) {
        api_fail(q, 404, "BLOB_UNKNOWN", "blob unknown to registry");
        return;
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "delete blob");
        return;
    }
    http_resp *resp = http_resp_new(202);
    api_respond(q, resp);
}

void api_blob(rq *q)
{
    oci_digest d;
    int get = strcmp(q->r->method, "GET") == 0 || q->r->is_head;
    int del = strcmp(q->r->method, "DELETE") == 0;
    if (!get && !del) {
        api_fail(q, 405, "UNSUPPORTED", "method %s not supported on blobs", q->r->method);
        return;
    }
    if (parse_digest_arg(q, &d, 400, "DIGEST_INVALID") != 0)
        return;
    if (del) {
        blob_delete(q, &d);
        return;
    }
    int64_t size = 0;
    cf_err e = {0};
    /* a pusher asks whether the repository has the blob before it skips
     * uploading it: its link's grace period starts again (registry/gc.h),
     * so that a collection leaves it until the manifest comes */
    cf_code rc =
        q->r->is_head ? meta_blob_touch(q->reg.id, q->repo, d.text, gc_touch_fresh(), &e) : CF_OK;
    if (rc == CF_OK)
        rc = meta_blob_stat(q->reg.id, q->repo, d.text, &size, &e);
    if (rc == CF_ENOTFOUND) {
        api_fail(q, 404, "BLOB_UNKNOWN", "blob unknown to registry");
        return;
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "blob lookup");
        return;
    }
    api_serve_object(q, &d, (uint64_t)size, "application/octet-stream", 1);
}

/* ---- upload responses ---- */

static void upload_location(rq *q, http_resp *resp, const char *uuid)
{
    char loc[API_NAME_MAX + 64];
    snprintf(loc, sizeof(loc), "/v2/%s/blobs/uploads/%s", q->name, uuid);
    http_resp_header(resp, "Location", loc);
    http_resp_header(resp, "Docker-Upload-UUID", uuid);
}

static void range_header(http_resp *resp, uint64_t len)
{
    char range[48];
    snprintf(range, sizeof(range), "0-%llu", (unsigned long long)(len ? len - 1 : 0));
    http_resp_header(resp, "Range", range);
}

/* 202/204 with the upload's state. */
static void upload_status(rq *q, unsigned status)
{
    http_resp *resp = http_resp_new(status);
    upload_location(q, resp, upload_uuid(q->up));
    range_header(resp, upload_length(q->up));
    api_respond(q, resp);
}

static void upload_range_error(rq *q, const char *detail)
{
    /* what the upload holds once this request is rolled back */
    uint64_t len = q->up ? q->start_len : 0;
    char range[48];
    snprintf(range, sizeof(range), "0-%llu", (unsigned long long)(len ? len - 1 : 0));
    cf_log(CF_LOG_WARN, "request failed", "request_id", q->r->request_id, "method", q->r->method,
           "path", q->r->path, "status", "416", "code", "BLOB_UPLOAD_INVALID", "error", detail,
           NULL);
    static const char body[] = "{\"errors\":[{\"code\":\"BLOB_UPLOAD_INVALID\",\"message\":"
                               "\"requested range not satisfiable\",\"detail\":null}]}";
    http_resp *resp = http_resp_bytes(416, body, sizeof(body) - 1, "application/json");
    if (q->up)
        upload_location(q, resp, upload_uuid(q->up));
    http_resp_header(resp, "Range", range);
    q->failed = 1;
    api_drop_upload(q);
    api_respond(q, resp);
}

static void blob_created(rq *q, const oci_digest *d)
{
    http_resp *resp = http_resp_new(201);
    char loc[API_NAME_MAX + OCI_DIGEST_MAX + 16];
    snprintf(loc, sizeof(loc), "/v2/%s/blobs/%s", q->name, d->text);
    http_resp_header(resp, "Location", loc);
    http_resp_header(resp, "Docker-Content-Digest", d->text);
    api_respond(q, resp);
}

/* ---- body streaming ---- */

static int upload_body(http_req *r, const char *data, size_t len)
{
    rq *q = r->user;
    if (q->failed || q->up == NULL)
        return 0;
    if (q->has_range && q->received + len > q->range_end - q->range_start + 1) {
        upload_range_error(q, "body longer than Content-Range");
        return 1;
    }
    cf_err e = {0};
    /* the storage limit: what the upload would take sealed, against the
     * room the registry had when this request began */
    if (q->quota_on &&
        quota_sealed_size((int64_t)(q->start_len + q->received + len)) > q->quota_room) {
        int64_t adding = quota_sealed_size((int64_t)(q->start_len + q->received + len));
        quota_deny(&q->reg, q->reg.storage_limit - q->quota_room, adding, &e);
        api_fail(q, 403, "DENIED", "%s", e.msg);
        return 1;
    }
    if (upload_write(q->up, data, len, &e) != CF_OK) {
        api_fail_err(q, &e, "write upload");
        return 1;
    }
    q->received += len;
    /* a long streamed PATCH (no Content-Range, so no promise about its
     * length to keep) checkpoints its durable part as it goes */
    if (!q->has_range && !q->complete && q->received - q->checkpointed >= STREAM_CHECKPOINT) {
        if (upload_checkpoint_durable(q->up, &q->kek, &e) != CF_OK) {
            api_fail_err(q, &e, "checkpoint upload");
            return 1;
        }
        q->checkpointed = q->received;
    }
    return 0;
}

/* Completes q->up as blob q->digest: finish, verify, install, commit. */
static void upload_complete(rq *q)
{
    cf_err e = {0};
    uint64_t size = 0;
    cf_code rc = upload_finish(q->up, &q->digest, &q->kek, &size, &e);
    if (rc == CF_EINVAL) {
        api_fail(q, 400, "DIGEST_INVALID", "provided digest did not match uploaded content");
        return; /* rq_done releases with ok = 0: the upload rolls back */
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "complete upload");
        return;
    }
    /* a blob new to the registry must fit in its storage limit */
    if (q->reg.storage_limit > 0 &&
        meta_blob_stat(q->reg.id, NULL, q->digest.text, NULL, &e) == CF_ENOTFOUND &&
        api_quota(q, quota_sealed_size((int64_t)size)) != 0)
        return; /* the upload rolls back, as for a digest mismatch */
    coord_hold h;
    rc = content_lock(q->reg.id, &q->digest, &h, &e);
    if (rc != CF_OK) {
        api_fail_err(q, &e, "store blob");
        return;
    }
    rc = upload_install(q->up, q->reg.id, &q->digest, &e);
    if (rc == CF_OK)
        rc = meta_blob_commit(q->reg.id, q->repo, q->digest.text, (int64_t)size, upload_uuid(q->up),
                              &e);
    content_unlock(&q->digest, &h);
    if (rc != CF_OK) {
        api_fail_err(q, &e, "store blob");
        return;
    }
    upload_discard(q->up);
    q->up = NULL;
    blob_created(q, &q->digest);
}

static void upload_end(http_req *r)
{
    rq *q = r->user;
    if (q->failed || http_req_responded(r))
        return;
    if (q->has_range && q->received != q->range_end - q->range_start + 1) {
        upload_range_error(q, "body shorter than Content-Range");
        return;
    }
    if (q->complete) {
        upload_complete(q);
        return;
    }
    cf_err e = {0};
    if (upload_checkpoint(q->up, &q->kek, &e) != CF_OK) {
        api_fail_err(q, &e, "checkpoint upload");
        return;
    }
    upload_status(q, 202);
    upload_release(q->up, 1);
    q->up = NULL;
}

/* Content-Range against the upload's length; -1 after responding. */
static int check_content_range(rq *q)
{
    const char *cr = http_req_header(q->r, "Content-Range");
    int64_t cl = http_req_content_length(q->r);
    if (cr == NULL || *cr == '\0')
        return 0;
    cf_err e = {0};
    if (oci_content_range_parse(&q->range_start, &q->range_end, cr, strlen(cr), &e) != CF_OK) {
        upload_range_error(q, e.msg);
        return -1;
    }
    q->has_range = 1;
    if (q->range_start != upload_length(q->up)) {
        upload_range_error(q, "Content-Range does not continue the upload");
        return -1;
    }
    if (cl >= 0 && (uint64_t)cl != q->range_end - q->range_start + 1) {
        upload_range_error(q, "Content-Length does not match Content-Range");
        return -1;
    }
    return 0;
}

static int acquire(rq *q, const char *uuid)
{
    cf_err e = {0};
    cf_code rc = upload_acquire(&q->up, uuid, q->reg.id, &q->kek, &e);
    if (rc == CF_ENOTFOUND) {
        /* The row outlived the upload's stream: a completion cut by a crash
         * between the install of the sealed object as a blob and the commit.
         * Nothing can resume it (the client, never answered 201, pushes
         * again and reuses the file), so drop the checkpoint and the row
         * now rather than at expiry: no row points at a missing file. */
        if (upload_expire(uuid, q->reg.id, (time_t)1 << 40))
            meta_upload_delete(uuid, NULL);
        api_fail(q, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
        return -1;
    }
    if (rc == CF_ECONFLICT) {
        upload_range_error(q, "upload in use by another request");
        return -1;
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "open upload");
        return -1;
    }
    q->start_len = upload_length(q->up);
    return 0;
}

/* ---- POST ---- */

void api_mount_source(rq *q)
{
    const char *mount = http_req_query(q->r, "mount");
    const char *from = http_req_query(q->r, "from");
    if (mount == NULL || from == NULL || *from == '\0')
        return;
    q->mount_from_given = 1;
    oci_digest d;
    size_t fl = strlen(from);
    if (oci_digest_parse(&d, mount, strlen(mount), NULL) != CF_OK || !oci_name_valid(from, fl) ||
        fl > API_NAME_MAX)
        return;
    /* same routing as the target: with path routing `from` carries the
     * registry as its first component, which must be this registry */
    size_t tl = q->rt.name.len - strlen(q->repo); /* prefix length incl. '/' */
    if (tl > 0 && (fl <= tl || strncmp(from, q->name, tl) != 0))
        return;
    snprintf(q->mount_from, sizeof(q->mount_from), "%s", from);
    snprintf(q->mount_from_repo, sizeof(q->mount_from_repo), "%s", from + tl);
}

/* Cross-repository mount: 0 when answered (mounted, or refused with 401),
 * 1 to fall back to an upload. Without `from`, any blob of the registry
 * may be mounted (OCI 1.1), for credentials that read every repository. */
static int try_mount(rq *q, const char *mount)
{
    oci_digest d;
    cf_err e = {0};
    if (oci_digest_parse(&d, mount, strlen(mount), &e) != CF_OK)
        return 1;
    if (q->mount_from_given && q->mount_from[0] == '\0')
        return 1; /* another registry, or not a repository name */
    int may = api_access_mount(q);
    if (may < 0)
        return 0;
    if (may == 0)
        return 1;
    int64_t size = 0;
    if (meta_blob_stat(q->reg.id, q->mount_from_given ? q->mount_from_repo : NULL, d.text, &size,
                       &e) != CF_OK)
        return 1;
    coord_hold h;
    cf_code rc = content_lock(q->reg.id, &d, &h, &e);
    if (rc != CF_OK)
        return 1;
    /* again under the digest's lock: a collection (registry/gc.h) may have
     * removed the blob since, and committing the link would then bring
     * back a row whose object is gone */
    rc = meta_blob_stat(q->reg.id, q->mount_from_given ? q->mount_from_repo : NULL, d.text, &size,
                        &e);
    if (rc == CF_OK)
        rc = meta_blob_commit(q->reg.id, q->repo, d.text, size, NULL, &e);
    content_unlock(&d, &h);
    if (rc != CF_OK)
        return 1;
    blob_created(q, &d);
    return 0;
}

void api_upload_start(rq *q)
{
    const char *mount = http_req_query(q->r, "mount");
    if (mount != NULL && try_mount(q, mount) == 0)
        return;
    const char *dg = http_req_query(q->r, "digest");
    if (dg != NULL) {
        cf_err e = {0};
        if (oci_digest_parse(&q->digest, dg, strlen(dg), &e) != CF_OK) {
            api_fail(q, 400, "DIGEST_INVALID", "%s", e.msg);
            return;
        }
        q->complete = 1;
    }
    /* a full registry takes no new upload; a monolithic one says its size */
    int64_t cl = http_req_content_length(q->r);
    if (api_quota(q, q->complete && cl > 0 ? quota_sealed_size(cl) : 0) != 0)
        return;
    if (api_need_kek(q) != 0)
        return;
    char uuid[UPLOAD_UUID_LEN + 1];
    cf_err e = {0};
    /* A monolithic push needs no upload row: it completes or vanishes
     * within this request (a crash leaves an object the janitor sweeps).
     * On files no upload needs a first checkpoint: an upload file without
     * one reloads as empty (uploads.h), which is all a new upload holds.
     * In a bucket nothing marks an upload but its checkpoint: one a
     * client comes back to gets its first one now. */
    int durable = !q->complete && !objects_stream_sync_cheap();
    cf_code rc = upload_create(&q->up, uuid, q->reg.id, &q->kek, durable, &e);
    if (rc == CF_OK && !q->complete)
        rc = meta_upload_create(uuid, q->reg.id, q->repo, &e);
    if (rc != CF_OK) {
        if (q->up) {
            upload_discard(q->up);
            q->up = NULL;
        }
        api_fail_err(q, &e, "create upload");
        return;
    }
    q->fresh = 1;
    if (!q->complete) {
        /* a new upload; any body of a POST without digest is ignored */
        upload_status(q, 202);
        upload_release(q->up, 1);
        q->up = NULL;
        return;
    }
    q->r->on_body = upload_body;
    q->r->on_end = upload_end;
}

/* ---- PATCH / PUT / GET / DELETE on an upload ---- */

void api_upload(rq *q)
{
    char uuid[UPLOAD_UUID_LEN + 1];
    if (!upload_uuid_valid(q->rt.arg.p, q->rt.arg.len)) {
        api_fail(q, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
        return;
    }
    snprintf(uuid, sizeof(uuid), "%.*s", (int)q->rt.arg.len, q->rt.arg.p);
    /* the upload must belong to this registry and repository */
    char reg[META_ID_LEN + 1], repo[OCI_NAME_MAX + 1];
    cf_err e = {0};
    cf_code rc = meta_upload_get(uuid, reg, repo, sizeof(repo), &e);
    if (rc == CF_OK && (strcmp(reg, q->reg.id) != 0 || strcmp(repo, q->repo) != 0))
        rc = CF_ENOTFOUND;
    if (rc == CF_ENOTFOUND) {
        api_fail(q, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
        return;
    }
    if (rc != CF_OK) {
        api_fail_err(q, &e, "upload lookup");
        return;
    }
    const char *m = q->r->method;
    if (strcmp(m, "PUT") == 0) {
        const char *dg = http_req_query(q->r, "digest");
        if (dg == NULL || oci_digest_parse(&q->digest, dg, strlen(dg), &e) != CF_OK) {
            api_fail(q, 400, "DIGEST_INVALID", "%s", dg ? e.msg : "digest parameter missing");
            return;
        }
        q->complete = 1;
    } else if (strcmp(m, "PATCH") != 0 && strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0) {
        api_fail(q, 405, "UNSUPPORTED", "method %s not supported on uploads", m);
        return;
    }
    if (acquire(q, uuid) != 0)
        return;
    if (strcmp(m, "GET") == 0) {
        upload_status(q, 204);
        upload_release(q->up, 1);
        q->up = NULL;
        return;
    }
    if (strcmp(m, "DELETE") == 0) {
        upload_discard(q->up);
        q->up = NULL;
        meta_upload_delete(uuid, NULL);
        api_respond(q, http_resp_new(204));
        return;
    }
    if (check_content_range(q) != 0)
        return;
    /* a chunk: refused when the registry is full, or when the upload would
     * not fit with it (Content-Range says how long it becomes); a PUT is
     * checked when it completes the blob, which may already be stored */
    if (strcmp(m, "PATCH") == 0 &&
        api_quota(q, q->has_range ? quota_sealed_size((int64_t)q->range_end + 1) : 0) != 0)
        return;
    q->r->on_body = upload_body;
    q->r->on_end = upload_end;
}
