/*
 * repositories.c -- a registry's content on the management API: what
 * `coffer acr repository ...`, `acr manifest ...` and `acr show-usage` call
 * (docs/control-plane.md "Repositories" and "Usage and the storage limit").
 *
 *   GET    /registries/{r}/repositories?n=&last=              {"repositories":[...]}
 *   GET    /registries/{r}/repositories/{repo}                repository attributes
 *   DELETE /registries/{r}/repositories/{repo}                every manifest, tag and blob link
 *   GET    /registries/{r}/repositories/{repo}/_tags?n=&last= {"registry","imageName","tags"}
 *   GET    /registries/{r}/repositories/{repo}/_tags/{tag}    {"registry","imageName","tag"}
 *   DELETE /registries/{r}/repositories/{repo}/_tags/{tag}    untag
 *   GET    /registries/{r}/repositories/{repo}/_manifests?n=&last=   {"...","manifests"}
 *   GET    /registries/{r}/repositories/{repo}/_manifests/{digest}   {"...","manifest"}
 *   DELETE /registries/{r}/repositories/{repo}/_manifests/{digest}   the manifest and its tags
 *   GET    /registries/{r}/listUsages                         {"value":[{"name":"Size",...}]}
 *
 * /registries/{r} is the legacy path or the registry's ARM id
 * (/subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerRegistry/
 * registries/{r}): mgmt_registry_route hands either here.
 *
 * Why here and not on the data plane: the CLI holds the management API's
 * admin token, not a registry credential, and must work on a registry
 * whose admin user is off, as `az acr repository` works for an Azure
 * administrator through Azure AD; the portal (src/portal/content.c) reads
 * and deletes a registry's content the same way. The bodies are those of
 * ACR's data-plane API (/acr/v1/...: repository, tag and manifest
 * attributes, keys in az's printed order), with a `nextLink` member when a
 * list has another page, as this API's other lists; errors are this API's
 * ARM shape with the distribution spec's codes (NAME_UNKNOWN,
 * MANIFEST_UNKNOWN, ...).
 *
 * Listings come from metadata, so they answer while a CMK registry is
 * locked; what only the content says (a manifest's config media type,
 * architecture and os) is read with the registry's key and left out when
 * it is locked. Deletes need the key, as on the data plane
 * (registry/content.h is the one delete both use): a locked registry
 * answers 409 KeyUnavailable and nothing is deleted.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"
#include "crypto/keys.h"
#include "registry/content.h"
#include "registry/keyring.h"
#include "registry/manifest.h"
#include "registry/oci.h"
#include "registry/quota.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
/* what one repository delete walks per round */
#define DELETE_BATCH 100

/* The request's registry, repository and what it names under it. */
typedef struct rctx {
    http_req *r;
    meta_registry reg;
    char login[400];
    char repo[OCI_NAME_MAX + 1];
} rctx;

static int method_is(const http_req *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

static void not_allowed(http_req *r)
{
    mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
              r->path);
}

static json_t *time_json(int64_t t)
{
    char b[32];
    ctl_rfc3339(b, sizeof(b), t);
    return json_string(b);
}

/* coffer has no per-image locks (az acr repository update): all true */
static json_t *changeable(void)
{
    return json_pack("{s:b,s:b,s:b,s:b}", "deleteEnabled", 1, "listEnabled", 1, "readEnabled", 1,
                     "writeEnabled", 1);
}

/* ?n= (1..PAGE_MAX, default PAGE_DEFAULT) and ?last=; -1 after answering. */
static int page_args(http_req *r, int64_t *n, const char **last)
{
    const char *ns = http_req_query(r, "n");
    *n = PAGE_DEFAULT;
    *last = http_req_query(r, "last");
    if (ns) {
        char *end = NULL;
        long v = strtol(ns, &end, 10);
        if (*ns < '0' || *ns > '9' || end == NULL || *end != '\0' || v < 1 || v > PAGE_MAX) {
            mgmt_fail(r, 400, "InvalidRequest", "n must be a number from 1 to %d.", PAGE_MAX);
            return -1;
        }
        *n = v;
    }
    if (*last && strlen(*last) > OCI_NAME_MAX) {
        mgmt_fail(r, 400, "InvalidRequest", "last is longer than %d bytes.", OCI_NAME_MAX);
        return -1;
    }
    return 0;
}

/* nextLink of a list whose last item was `last`: the request's own path
 * (legacy or ARM) and query (names and digests need no escaping: their
 * grammars are URL-safe). */
static void set_next(json_t *body, const http_req *r, const char *last, int64_t n)
{
    char link[2048];
    snprintf(link, sizeof(link), "%s?last=%s&n=%lld", r->path, last, (long long)n);
    json_object_set_new(body, "nextLink", json_string(link));
}

/* The registry's KEK, or 409 KeyUnavailable naming why. */
static int need_kek(rctx *x, seal_kek *kek)
{
    cf_err e = {0};
    if (keyring_kek(kek, &x->reg, &e) == CF_OK)
        return 0;
    char why[1100];
    if (keyring_reason(x->reg.id, why, sizeof(why)) == 0)
        snprintf(why, sizeof(why), "%s", e.msg);
    mgmt_fail(x->r, 409, "KeyUnavailable",
              "Registry '%s' is locked: %s Its content can be neither read nor deleted until "
              "its key is available again.",
              x->reg.name, why);
    return -1;
}

/* ---- repositories ---- */

static int repo_add(void *cls, const char *name)
{
    return json_array_append_new(cls, json_string(name)) ? 1 : 0;
}

static void repo_list(rctx *x)
{
    int64_t n;
    const char *last;
    if (page_args(x->r, &n, &last))
        return;
    json_t *names = json_array();
    int more = 0;
    cf_err e = {0};
    if (meta_catalog(x->reg.id, last, n, repo_add, names, &more, &e) != CF_OK) {
        json_decref(names);
        mgmt_fail_err(x->r, &e, "list repositories");
        return;
    }
    json_t *body = json_object();
    json_object_set_new(body, "repositories", names);
    if (more && json_array_size(names) > 0) {
        set_next(body, x->r, json_string_value(json_array_get(names, json_array_size(names) - 1)),
                 n);
    }
    mgmt_reply(x->r, 200, body);
}

static int repo_unknown(rctx *x)
{
    mgmt_fail(x->r, 404, "NAME_UNKNOWN", "The repository '%s' does not exist in registry '%s'.",
              x->repo, x->reg.name);
    return -1;
}

/* The repository's figures; -1 after answering 404 (or the store's error). */
static int repo_info(rctx *x, meta_repo_info *info)
{
    cf_err e = {0};
    cf_code rc = meta_repo_info_get(info, x->reg.id, x->repo, &e);
    if (rc == CF_ENOTFOUND)
        return repo_unknown(x);
    if (rc != CF_OK) {
        mgmt_fail_err(x->r, &e, "repository");
        return -1;
    }
    return 0;
}

static void repo_show(rctx *x)
{
    meta_repo_info info;
    if (repo_info(x, &info))
        return;
    mgmt_reply(x->r, 200,
               json_pack("{s:o,s:o,s:s,s:o,s:I,s:s,s:I}", "changeableAttributes", changeable(),
                         "createdTime", time_json(info.created_at), "imageName", x->repo,
                         "lastUpdateTime", time_json(info.last_update), "manifestCount",
                         (json_int_t)info.manifest_count, "registry", x->login, "tagCount",
                         (json_int_t)info.tag_count));
}

static int digest_add(void *cls, const char *d)
{
    return json_array_append_new(cls, json_string(d)) ? 1 : 0;
}

/* Deletes the repository's manifests (an index before its children), or
 * its blob links, a batch at a time until none is left; *count counts
 * them. Another request deleting the same thing meanwhile is no error. */
static cf_code delete_batches(rctx *x, int manifests, int64_t *count, cf_err *e)
{
    json_t *batch = json_array();
    cf_code rc = CF_OK;
    for (;;) {
        json_array_clear(batch);
        int more = 0;
        rc = manifests
                 ? meta_repo_manifest_roots(x->reg.id, x->repo, DELETE_BATCH, digest_add, batch, e)
                 : meta_repo_blobs(x->reg.id, x->repo, NULL, DELETE_BATCH, digest_add, batch, &more,
                                   e);
        if (rc != CF_OK || json_array_size(batch) == 0)
            break;
        size_t i;
        json_t *v;
        json_array_foreach(batch, i, v)
        {
            oci_digest d;
            const char *s = json_string_value(v);
            if (oci_digest_parse(&d, s, strlen(s), e) != CF_OK) {
                rc = cf_err_set(e, CF_EINTEGRITY, "stored digest %s is malformed", s);
                break;
            }
            rc = manifests ? content_manifest_delete(x->reg.id, x->repo, &d, e)
                           : content_blob_unlink(x->reg.id, x->repo, &d, e);
            if (rc == CF_ENOTFOUND)
                rc = CF_OK;
            if (rc != CF_OK)
                break;
            (*count)++;
        }
        if (rc != CF_OK)
            break;
    }
    json_decref(batch);
    return rc;
}

/* Deletes every manifest (an index before its children, so nothing it
 * references is left behind), then every blob link, then the
 * repository's row. A push that lands meanwhile keeps the repository:
 * 409, and what it pushed is left. */
static void repo_delete(rctx *x)
{
    meta_repo_info info;
    cf_err e = {0};
    if (repo_info(x, &info))
        return;
    /* as on the data plane: a locked registry's content is not deleted */
    seal_kek kek;
    if (need_kek(x, &kek) != 0)
        return;
    keys_wipe(&kek, sizeof(kek));
    int64_t manifests = 0, links = 0;
    cf_code rc = delete_batches(x, 1, &manifests, &e);
    if (rc == CF_OK)
        rc = delete_batches(x, 0, &links, &e);
    if (rc == CF_OK)
        rc = meta_repo_delete_if_empty(x->reg.id, x->repo, &e);
    if (rc == CF_ECONFLICT) {
        mgmt_fail(x->r, 409, "Conflict",
                  "The repository '%s' received a push while it was being deleted; what was "
                  "pushed is kept. Delete it again to remove that too.",
                  x->repo);
        return;
    }
    if (rc != CF_OK) {
        mgmt_fail_err(x->r, &e, "delete repository");
        return;
    }
    char nm[24], nl[24];
    snprintf(nm, sizeof(nm), "%lld", (long long)manifests);
    snprintf(nl, sizeof(nl), "%lld", (long long)links);
    cf_log(CF_LOG_INFO, "repository deleted", "request_id", x->r->request_id, "registry",
           x->reg.name, "repository", x->repo, "manifests", nm, "blob_links", nl, NULL);
    mgmt_reply(x->r, 200, NULL);
}

/* ---- the listings of a repository ---- */

/* ?n=, ?last= and the repository's existence; -1 after answering. */
static int list_begin(rctx *x, int64_t *n, const char **last)
{
    if (page_args(x->r, n, last))
        return -1;
    cf_err e = {0};
    if (meta_repo_exists(x->reg.id, x->repo, &e) == CF_OK)
        return 0;
    if (e.code == CF_ENOTFOUND)
        return repo_unknown(x);
    mgmt_fail_err(x->r, &e, "repository");
    return -1;
}

static json_t *repo_body(rctx *x)
{
    return json_pack("{s:s,s:s}", "imageName", x->repo, "registry", x->login);
}

/* {"imageName","registry",member:arr} with a nextLink after the last
 * item's `key` when there is more (arr taken). */
static void list_reply(rctx *x, const char *member, json_t *arr, int more, int64_t n,
                       const char *key)
{
    json_t *body = repo_body(x);
    json_object_set_new(body, member, arr);
    if (more && json_array_size(arr) > 0) {
        json_t *lt = json_array_get(arr, json_array_size(arr) - 1);
        set_next(body, x->r, json_string_value(json_object_get(lt, key)), n);
    }
    mgmt_reply(x->r, 200, body);
}

/* ---- tags ---- */

static int tag_add(void *cls, const meta_tag_info *t)
{
    json_t *j = json_pack("{s:o,s:o,s:s,s:o,s:s,s:b}", "changeableAttributes", changeable(),
                          "createdTime", time_json(t->created_at), "digest", t->digest,
                          "lastUpdateTime", time_json(t->updated_at), "name", t->tag, "signed", 0);
    return json_array_append_new(cls, j) ? 1 : 0;
}

static void tags_list(rctx *x)
{
    int64_t n;
    const char *last;
    if (list_begin(x, &n, &last))
        return;
    json_t *tags = json_array();
    int more = 0;
    cf_err e = {0};
    if (meta_tags_info(x->reg.id, x->repo, NULL, last, n, tag_add, tags, &more, &e) != CF_OK) {
        json_decref(tags);
        mgmt_fail_err(x->r, &e, "list tags");
        return;
    }
    list_reply(x, "tags", tags, more, n, "name");
}

/* ---- manifests ---- */

static int manifest_add(void *cls, const meta_manifest_info *m)
{
    json_t *j = json_pack("{s:o,s:o,s:s,s:I,s:o,s:s}", "changeableAttributes", changeable(),
                          "createdTime", time_json(m->created_at), "digest", m->digest, "imageSize",
                          (json_int_t)(m->size + m->refs_size), "lastUpdateTime",
                          time_json(m->last_update), "mediaType", m->media_type);
    return j && json_array_append_new(cls, j) == 0 ? 0 : 1;
}

/* A small stored object (a manifest, or a config of at most
 * MANIFEST_MAX_SIZE) decrypted and parsed; NULL when it cannot be. */
static json_t *stored_json(rctx *x, const seal_kek *kek, const char *digest, int64_t size)
{
    oci_digest d;
    cf_err e = {0};
    unsigned char *buf = NULL;
    if (size <= 0 || size > (int64_t)MANIFEST_MAX_SIZE ||
        oci_digest_parse(&d, digest, strlen(digest), &e) != CF_OK ||
        content_manifest_read(x->reg.id, kek, &d, size, &buf, &e) != CF_OK)
        return NULL;
    json_t *j = json_loadb((const char *)buf, (size_t)size, 0, NULL);
    OPENSSL_cleanse(buf, (size_t)size);
    free(buf);
    return j;
}

static int tag_name_add(void *cls, const char *tag)
{
    return json_array_append_new(cls, json_string(tag)) ? 1 : 0;
}

/* What a manifest's content and tags add to its row: `tags`, and with the
 * key, configMediaType, architecture and os (an image's config). */
static int manifest_enrich(rctx *x, json_t *m, const seal_kek *kek, cf_err *e)
{
    const char *digest = json_string_value(json_object_get(m, "digest"));
    json_t *tags = json_array();
    if (meta_manifest_tags(x->reg.id, x->repo, digest, tag_name_add, tags, e) != CF_OK) {
        json_decref(tags);
        return -1;
    }
    json_object_set_new(m, "tags", tags);
    if (kek == NULL)
        return 0;
    meta_manifest mm;
    if (meta_manifest_get(&mm, x->reg.id, x->repo, digest, NULL) != CF_OK)
        return 0; /* deleted meanwhile */
    json_t *body = stored_json(x, kek, digest, mm.size);
    json_t *config = json_object_get(body, "config");
    const char *cmt = json_string_value(json_object_get(config, "mediaType"));
    const char *cd = json_string_value(json_object_get(config, "digest"));
    if (cmt)
        json_object_set_new(m, "configMediaType", json_string(cmt));
    int64_t csize = 0;
    if (cd && meta_blob_stat(x->reg.id, x->repo, cd, &csize, NULL) == CF_OK) {
        json_t *cj = stored_json(x, kek, cd, csize);
        const char *arch = json_string_value(json_object_get(cj, "architecture"));
        const char *os = json_string_value(json_object_get(cj, "os"));
        if (arch)
            json_object_set_new(m, "architecture", json_string(arch));
        if (os)
            json_object_set_new(m, "os", json_string(os));
        json_decref(cj);
    }
    json_decref(body);
    return 0;
}

/* Adds tags (and what the key reads) to each manifest of arr, after the
 * listing's statement is done. */
static int manifests_enrich(rctx *x, json_t *arr, cf_err *e)
{
    seal_kek kek;
    cf_err ke = {0};
    int have = keyring_kek(&kek, &x->reg, &ke) == CF_OK;
    size_t i;
    json_t *m;
    int rc = 0;
    json_array_foreach(arr, i, m)
    {
        if ((rc = manifest_enrich(x, m, have ? &kek : NULL, e)) != 0)
            break;
    }
    if (have)
        keys_wipe(&kek, sizeof(kek));
    /* az prints an object's keys sorted */
    static const char *const order[] = {
        "architecture", "changeableAttributes", "configMediaType", "createdTime", "digest",
        "imageSize",    "lastUpdateTime",       "mediaType",       "os",          "tags"};
    json_array_foreach(arr, i, m)
    {
        json_t *sorted = json_object();
        for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
            json_t *v = json_object_get(m, order[k]);
            if (v)
                json_object_set(sorted, order[k], v);
        }
        json_array_set_new(arr, i, sorted);
    }
    return rc;
}

static void manifests_list(rctx *x)
{
    int64_t n;
    const char *last;
    if (list_begin(x, &n, &last))
        return;
    json_t *arr = json_array();
    int more = 0;
    cf_err e = {0};
    if (meta_manifests_info(x->reg.id, x->repo, NULL, last, n, manifest_add, arr, &more, &e) !=
            CF_OK ||
        manifests_enrich(x, arr, &e) != 0) {
        json_decref(arr);
        mgmt_fail_err(x->r, &e, "list manifests");
        return;
    }
    list_reply(x, "manifests", arr, more, n, "digest");
}

/* ---- one tag or manifest: GET its attributes, DELETE it ---- */

static void item_unknown(rctx *x, int is_tag, const char *ref)
{
    mgmt_fail(x->r, 404, is_tag ? "TAG_UNKNOWN" : "MANIFEST_UNKNOWN",
              "The %s '%s' does not exist in repository '%s'.", is_tag ? "tag" : "manifest", ref,
              x->repo);
}

/* DELETE: a tag (the manifest stays) or a manifest with its tags; needs
 * the key, as the data plane's deletes. */
static void item_delete(rctx *x, int is_tag, const char *ref, const oci_digest *d)
{
    seal_kek kek;
    cf_err e = {0};
    if (need_kek(x, &kek) != 0)
        return;
    keys_wipe(&kek, sizeof(kek));
    cf_code rc = is_tag ? meta_tag_delete(x->reg.id, x->repo, ref, &e)
                        : content_manifest_delete(x->reg.id, x->repo, d, &e);
    if (rc == CF_ENOTFOUND) {
        item_unknown(x, is_tag, ref);
        return;
    }
    if (rc != CF_OK) {
        mgmt_fail_err(x->r, &e, is_tag ? "untag" : "delete manifest");
        return;
    }
    cf_log(CF_LOG_INFO, is_tag ? "tag deleted" : "manifest deleted", "request_id", x->r->request_id,
           "registry", x->reg.name, "repository", x->repo, is_tag ? "tag" : "digest", ref, NULL);
    mgmt_reply(x->r, 200, NULL);
}

/* GET|DELETE .../_tags/{tag} and .../_manifests/{digest} */
static void item(rctx *x, int is_tag, const char *ref)
{
    oci_digest d;
    cf_err e = {0};
    if (is_tag && !oci_tag_valid(ref, strlen(ref))) {
        mgmt_fail(x->r, 400, "TAG_INVALID", "'%.200s' is not a valid tag.", ref);
        return;
    }
    if (!is_tag && oci_digest_parse(&d, ref, strlen(ref), &e) != CF_OK) {
        mgmt_fail(x->r, 400, "DIGEST_INVALID", "'%.200s' is not a valid digest: %s", ref, e.msg);
        return;
    }
    if (!is_tag)
        ref = d.text;
    if (method_is(x->r, "DELETE")) {
        item_delete(x, is_tag, ref, &d);
        return;
    }
    json_t *one = json_array();
    cf_code rc =
        is_tag ? meta_tags_info(x->reg.id, x->repo, ref, NULL, 1, tag_add, one, NULL, &e)
               : meta_manifests_info(x->reg.id, x->repo, ref, NULL, 1, manifest_add, one, NULL, &e);
    if (rc == CF_OK && !is_tag && manifests_enrich(x, one, &e) != 0)
        rc = e.code ? e.code : CF_EIO;
    if (rc != CF_OK) {
        json_decref(one);
        if (rc == CF_ENOTFOUND)
            item_unknown(x, is_tag, ref);
        else
            mgmt_fail_err(x->r, &e, is_tag ? "tag" : "manifest");
        return;
    }
    json_t *body = repo_body(x);
    json_object_set(body, is_tag ? "tag" : "manifest", json_array_get(one, 0));
    json_decref(one);
    mgmt_reply(x->r, 200, body);
}

/* ---- usage ---- */

static int token_count(void *cls, const meta_token *t)
{
    (void)t;
    (*(int64_t *)cls)++;
    return 0;
}

static void usage(rctx *x)
{
    quota_usage u;
    int64_t tokens = 0;
    cf_err e = {0};
    if (quota_usage_get(&u, x->reg.id, &e) != CF_OK ||
        meta_token_each(x->reg.id, token_count, &tokens, &e) != CF_OK) {
        mgmt_fail_err(x->r, &e, "usage");
        return;
    }
    json_t *limit = x->reg.storage_limit > 0 ? json_integer(x->reg.storage_limit) : json_null();
    mgmt_reply(x->r, 200,
               json_pack("{s:[{s:I,s:o,s:s,s:s},{s:I,s:n,s:s,s:s}]}", "value", "currentValue",
                         (json_int_t)u.sealed, "limit", limit, "name", "Size", "unit", "Bytes",
                         "currentValue", (json_int_t)tokens, "limit", "name", "Tokens", "unit",
                         "Count"));
}

/* ---- routing ---- */

static void dispatch(rctx *x, const char *tail)
{
    http_req *r = x->r;
    int get = method_is(r, "GET") || method_is(r, "HEAD");
    int del = method_is(r, "DELETE");
    if (strcmp(tail, "listUsages") == 0) {
        if (!get)
            not_allowed(r);
        else
            usage(x);
        return;
    }
    /* tail is "repositories" or "repositories/REPO[/_tags[/TAG]|/_manifests[/DIGEST]]": no
     * component of a repository name starts with '_' */
    if (tail[12] == '\0') {
        if (!get)
            not_allowed(r);
        else
            repo_list(x);
        return;
    }
    const char *name = tail + 13, *sub = strstr(name, "/_");
    size_t len = sub ? (size_t)(sub - name) : strlen(name);
    if (len == 0 || len > OCI_NAME_MAX || !oci_name_valid(name, len)) {
        mgmt_fail(r, 400, "NAME_INVALID", "'%.*s' is not a valid repository name.",
                  (int)(len > 300 ? 300 : len), name);
        return;
    }
    memcpy(x->repo, name, len);
    x->repo[len] = '\0';
    if (sub == NULL) {
        if (get)
            repo_show(x);
        else if (del)
            repo_delete(x);
        else
            not_allowed(r);
        return;
    }
    sub++;
    if (strcmp(sub, "_tags") == 0 || strcmp(sub, "_manifests") == 0) {
        if (!get)
            not_allowed(r);
        else if (sub[1] == 't')
            tags_list(x);
        else
            manifests_list(x);
        return;
    }
    if (strncmp(sub, "_tags/", 6) == 0 || strncmp(sub, "_manifests/", 11) == 0) {
        int is_tag = sub[1] == 't';
        if (!get && !del)
            not_allowed(r);
        else
            item(x, is_tag, sub + (is_tag ? 6 : 11));
        return;
    }
    mgmt_fail(r, 404, "NotFound", "No management endpoint at %s.", r->path);
}

int repositories_route(http_req *r, const mgmt_scope *s, const char *registry, const char *tail)
{
    if (tail[0] != '/')
        return 0;
    tail++;
    if (strcmp(tail, "listUsages") != 0 &&
        !(strncmp(tail, "repositories", 12) == 0 && (tail[12] == '\0' || tail[12] == '/')))
        return 0;
    rctx *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        return 1;
    }
    x->r = r;
    if (registries_lookup(r, s, registry, &x->reg) == 0) {
        registries_login_server(x->login, sizeof(x->login), &x->reg);
        dispatch(x, tail);
    }
    OPENSSL_cleanse(x, sizeof(*x));
    free(x);
    return 1;
}
