/*
 * import.c -- see import.h. One curl easy handle for the whole import
 * (connections reused); the authorization learned from the first 401 is
 * kept for every later request of the same source.
 */
#define CF_LOG_MOD "import"
#include "registry/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "registry/content.h"
#include "registry/manifest.h"
#include "registry/oci.h"
#include "registry/quota.h"
#include "store/objects.h"
#include "store/uploads.h"

#define TOKEN_MAX (64 * 1024)
#define HOST_MAX 256

typedef struct src_ref {
    char base[HOST_MAX + 16]; /* scheme://host[:port] */
    char repo[OCI_NAME_MAX + 1];
    oci_reference ref;
} src_ref;

typedef struct imp {
    CURL *h;
    src_ref src;
    const import_args *a;
    const meta_registry *reg;
    const seal_kek *kek;
    char repo[OCI_NAME_MAX + 1]; /* here */
    char tag[OCI_TAG_MAX + 1];   /* here; "" when none */
    cf_buf *log;
    char *bearer; /* "Authorization: Bearer ..." once learned */
    int basic;    /* Basic auth with the credentials */
    /* the last response's headers */
    char challenge[1024], digest_hdr[OCI_DIGEST_MAX + 1], ctype[MANIFEST_MEDIA_TYPE_MAX + 1];
    long blobs_fetched, blobs_present;
} imp;

static int is_loopback(const char *host, size_t len)
{
    return (len == 9 && strncmp(host, "localhost", 9) == 0) ||
           (len >= 4 && strncmp(host, "127.", 4) == 0) ||
           (len == 5 && strncmp(host, "[::1]", 5) == 0);
}

static cf_code parse_source(src_ref *out, const char *s, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    const char *scheme = NULL;
    if (strncmp(s, "https://", 8) == 0) {
        scheme = "https";
        s += 8;
    } else if (strncmp(s, "http://", 7) == 0) {
        scheme = "http";
        s += 7;
    }
    const char *slash = strchr(s, '/');
    size_t hlen = slash ? (size_t)(slash - s) : 0;
    if (slash == NULL || hlen == 0 || hlen > HOST_MAX)
        return cf_err_set(e, CF_EINVAL, "--source wants HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]");
    for (size_t i = 0; i < hlen; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return cf_err_set(e, CF_EINVAL, "--source: invalid registry host");
    }
    if (scheme == NULL)
        scheme = is_loopback(s, hlen) ? "http" : "https";
    snprintf(out->base, sizeof(out->base), "%s://%.*s", scheme, (int)hlen, s);
    const char *path = slash + 1;
    const char *at = strchr(path, '@');
    const char *last = strrchr(path, '/');
    const char *colon = strrchr(last ? last : path, ':');
    size_t rlen = at ? (size_t)(at - path) : colon ? (size_t)(colon - path) : strlen(path);
    if (rlen == 0 || rlen > OCI_NAME_MAX || !oci_name_valid(path, rlen))
        return cf_err_set(e, CF_EINVAL, "--source: invalid repository name");
    memcpy(out->repo, path, rlen);
    const char *r = at ? at + 1 : colon ? colon + 1 : "latest";
    if (oci_reference_parse(&out->ref, r, strlen(r), e) != CF_OK || (at && !out->ref.is_digest) ||
        (!at && out->ref.is_digest))
        return cf_err_set(e, CF_EINVAL, "--source: invalid tag or digest");
    return CF_OK;
}

/* "REPO[:TAG]" here; defaults from the source. */
static cf_code parse_image(imp *im, cf_err *e)
{
    const char *img = im->a->image;
    if (img == NULL) {
        snprintf(im->repo, sizeof(im->repo), "%s", im->src.repo);
        snprintf(im->tag, sizeof(im->tag), "%s", im->src.ref.is_digest ? "" : im->src.ref.tag);
        return CF_OK;
    }
    const char *last = strrchr(img, '/');
    const char *colon = strrchr(last ? last : img, ':');
    size_t rlen = colon ? (size_t)(colon - img) : strlen(img);
    if (rlen == 0 || rlen > OCI_NAME_MAX || !oci_name_valid(img, rlen))
        return cf_err_set(e, CF_EINVAL, "--image: invalid repository name");
    memcpy(im->repo, img, rlen);
    im->repo[rlen] = '\0';
    if (colon) {
        if (!oci_tag_valid(colon + 1, strlen(colon + 1)))
            return cf_err_set(e, CF_EINVAL, "--image: invalid tag");
        snprintf(im->tag, sizeof(im->tag), "%s", colon + 1);
    } else {
        snprintf(im->tag, sizeof(im->tag), "%s", im->src.ref.is_digest ? "" : im->src.ref.tag);
    }
    return CF_OK;
}

cf_code import_check(const import_args *a, cf_err *e)
{
    if (a->source == NULL)
        return cf_err_set(e, CF_EINVAL, "import needs --source HOST/REPOSITORY:TAG");
    if ((a->username == NULL) != (a->password == NULL))
        return cf_err_set(e, CF_EINVAL, "give --username and --password together");
    imp im;
    memset(&im, 0, sizeof(im));
    im.a = a;
    cf_code rc = parse_source(&im.src, a->source, e);
    if (rc == CF_OK)
        rc = parse_image(&im, e);
    return rc;
}

/* ---- HTTP ---- */

static void header_value(char *dst, size_t cap, const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    const char *v = line + n + 1;
    size_t vl = len - n - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl < cap) {
        memcpy(dst, v, vl);
        dst[vl] = '\0';
    }
}

static size_t on_header(char *buf, size_t size, size_t n, void *cls)
{
    imp *im = cls;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) { /* a new response (a redirect's) */
        im->challenge[0] = im->digest_hdr[0] = im->ctype[0] = '\0';
        return len;
    }
    header_value(im->challenge, sizeof(im->challenge), buf, len, "WWW-Authenticate");
    header_value(im->digest_hdr, sizeof(im->digest_hdr), buf, len, "Docker-Content-Digest");
    header_value(im->ctype, sizeof(im->ctype), buf, len, "Content-Type");
    return len;
}

typedef struct sink {
    CURL *h;
    cf_buf *buf; /* a small body (manifest, token), or */
    upload *up;  /* a blob's upload */
    uint64_t got, max;
    cf_err err;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
    sink *s = cls;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return len; /* an error's body (a 401 before the token): not content */
    if (s->got + len > s->max) {
        cf_err_set(&s->err, CF_ETOOBIG, "the source sent more than %llu bytes",
                   (unsigned long long)s->max);
        return 0;
    }
    s->got += len;
    cf_code rc =
        s->up ? upload_write(s->up, data, len, &s->err) : cf_buf_append(s->buf, data, len, &s->err);
    return rc == CF_OK ? len : 0;
}

/* One GET of url into s; *status the final HTTP status. */
static cf_code get_once(imp *im, const char *url, const char *accept, sink *s, long *status,
                        cf_err *e)
{
    CURL *h = im->h;
    s->h = h;
    struct curl_slist *hd = NULL;
    char acc[512];
    if (accept) {
        snprintf(acc, sizeof(acc), "Accept: %s", accept);
        hd = curl_slist_append(hd, acc);
    }
    if (im->bearer)
        hd = curl_slist_append(hd, im->bearer);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, im);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    if (im->basic) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, im->a->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, im->a->password);
    }
    im->challenge[0] = im->digest_hdr[0] = im->ctype[0] = '\0';
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hd);
    if (s->err.code != CF_OK)
        return cf_err_set(e, s->err.code, "%s", s->err.msg);
    if (cc != CURLE_OK)
        return cf_err_set(e, CF_EUNAVAIL, "cannot reach the source registry %s: %s", im->src.base,
                          curl_easy_strerror(cc));
    return CF_OK;
}

/* key="value" of a challenge into out ("" when absent). */
static void challenge_param(char *out, size_t cap, const char *ch, const char *key)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = ch; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p != ch && p[-1] != ' ' && p[-1] != ',') || p[kl] != '=' || p[kl + 1] != '"')
            continue;
        const char *v = p + kl + 2, *end = strchr(v, '"');
        if (end && (size_t)(end - v) < cap) {
            memcpy(out, v, (size_t)(end - v));
            out[end - v] = '\0';
        }
        return;
    }
}

static void url_add_escaped(char *dst, size_t cap, const char *key, const char *v, CURL *h)
{
    char *x = curl_easy_escape(h, v, 0);
    size_t used = strlen(dst);
    if (x)
        snprintf(dst + used, cap - used, "%s%s=%s", strchr(dst, '?') ? "&" : "?", key, x);
    curl_free(x);
}

/* After a 401: learn how to authenticate from its challenge. */
static cf_code authenticate(imp *im, cf_err *e)
{
    char ch[1024];
    snprintf(ch, sizeof(ch), "%s", im->challenge);
    if (strncasecmp(ch, "Basic", 5) == 0) {
        if (im->a->username == NULL || im->basic)
            return cf_err_set(e, CF_EDENIED,
                              "the source registry wants credentials (--username, --password)");
        im->basic = 1;
        return CF_OK;
    }
    if (strncasecmp(ch, "Bearer ", 7) != 0 || im->bearer)
        return cf_err_set(e, CF_EDENIED, "the source registry refused access to %s", im->src.repo);
    char realm[512], service[256], scope[600], url[2048];
    challenge_param(realm, sizeof(realm), ch + 7, "realm");
    challenge_param(service, sizeof(service), ch + 7, "service");
    challenge_param(scope, sizeof(scope), ch + 7, "scope");
    if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)
        return cf_err_set(e, CF_EDENIED, "the source registry's token realm is not an http(s) URL");
    if (scope[0] == '\0')
        snprintf(scope, sizeof(scope), "repository:%s:pull", im->src.repo);
    snprintf(url, sizeof(url), "%s", realm);
    if (service[0])
        url_add_escaped(url, sizeof(url), "service", service, im->h);
    url_add_escaped(url, sizeof(url), "scope", scope, im->h);
    cf_buf b;
    cf_buf_init(&b, TOKEN_MAX);
    b.secret = 1;
    sink s = {.buf = &b, .max = TOKEN_MAX};
    long status = 0;
    im->basic = im->a->username != NULL; /* the token endpoint takes Basic credentials */
    cf_code rc = get_once(im, url, "application/json", &s, &status, e);
    im->basic = 0;
    if (rc == CF_OK && status != 200)
        rc = cf_err_set(e, CF_EDENIED, "the source registry's token service answered HTTP %ld%s",
                        status, im->a->username ? " (check --username and --password)" : "");
    json_t *j = NULL;
    if (rc == CF_OK) {
        j = json_loadb((const char *)b.data, b.len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "token"));
        if (t == NULL)
            t = json_string_value(json_object_get(j, "access_token"));
        if (t == NULL || strlen(t) > TOKEN_MAX - 64 || strpbrk(t, "\r\n"))
            rc = cf_err_set(e, CF_EDENIED, "the source registry's token service gave no token");
        else if ((im->bearer = malloc(strlen(t) + 32)) == NULL)
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        else
            snprintf(im->bearer, strlen(t) + 32, "Authorization: Bearer %s", t);
    }
    if (j) {
        const char *t = json_string_value(json_object_get(j, "token"));
        if (t)
            OPENSSL_cleanse((void *)t, strlen(t));
        t = json_string_value(json_object_get(j, "access_token"));
        if (t)
            OPENSSL_cleanse((void *)t, strlen(t));
        json_decref(j);
    }
    cf_buf_free(&b);
    return rc;
}

/* GET path (below the source's /v2/REPO/) into s, authenticating once. A
 * blob's upload is rolled back and retried from its start after a 401. */
static cf_code get(imp *im, const char *path, const char *accept, sink *s, cf_err *e)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s/v2/%s/%s", im->src.base, im->src.repo, path);
    for (int attempt = 0;; attempt++) {
        long status = 0;
        cf_code rc = get_once(im, url, accept, s, &status, e);
        if (rc != CF_OK)
            return rc;
        if (status == 200)
            return CF_OK;
        if (status == 401 && attempt == 0 && s->got == 0) {
            if ((rc = authenticate(im, e)) != CF_OK)
                return rc;
            continue;
        }
        if (status == 404)
            return cf_err_set(e, CF_ENOTFOUND, "the source registry has no %s in %s", path,
                              im->src.repo);
        return cf_err_set(e, status == 401 || status == 403 ? CF_EDENIED : CF_EIO,
                          "the source registry answered HTTP %ld for %s of %s", status, path,
                          im->src.repo);
    }
}

/* ---- content ---- */

static cf_code import_blob(imp *im, const manifest_ref *r, cf_err *e)
{
    const char *d = r->digest.text;
    int64_t size = 0;
    if (meta_blob_stat(im->reg->id, im->repo, d, NULL, NULL) == CF_OK) {
        im->blobs_present++;
        return CF_OK;
    }
    if (meta_blob_stat(im->reg->id, NULL, d, &size, NULL) == CF_OK) {
        /* the registry has it in another repository: link it, as a mount,
         * under the digest's lock and looked at again there (a collection,
         * registry/gc.h, may have removed it since) */
        coord_hold h;
        cf_code rc = content_lock(im->reg->id, &r->digest, &h, e);
        if (rc != CF_OK)
            return rc;
        rc = meta_blob_stat(im->reg->id, NULL, d, &size, e);
        if (rc == CF_OK)
            rc = meta_blob_commit(im->reg->id, im->repo, d, size, NULL, e);
        content_unlock(&r->digest, &h);
        if (rc != CF_ENOTFOUND) {
            im->blobs_present++;
            return rc;
        }
        /* collected meanwhile: fetch it as a new one */
    }
    upload *up = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cf_code rc = upload_create(&up, uuid, im->reg->id, im->kek, 0, e);
    if (rc != CF_OK)
        return rc;
    sink s = {.up = up, .max = r->size >= 0 ? (uint64_t)r->size : 0};
    char path[OCI_DIGEST_MAX + 8];
    snprintf(path, sizeof(path), "blobs/%s", d);
    rc = get(im, path, NULL, &s, e);
    uint64_t got = 0;
    if (rc == CF_OK && s.got != (uint64_t)r->size)
        rc = cf_err_set(e, CF_EINTEGRITY,
                        "blob %s: the source sent %llu bytes, the manifest says %lld", d,
                        (unsigned long long)s.got, (long long)r->size);
    if (rc == CF_OK && (rc = upload_finish(up, &r->digest, im->kek, &got, e)) == CF_EINVAL)
        rc = cf_err_set(e, CF_EINTEGRITY, "blob %s: the bytes do not match the digest", d);
    /* a blob new to the registry must fit in its storage limit */
    if (rc == CF_OK && im->reg->storage_limit > 0) {
        int64_t room = 0;
        rc = quota_room(&room, im->reg, quota_sealed_size((int64_t)got), e);
    }
    if (rc == CF_OK) {
        coord_hold h;
        rc = content_lock(im->reg->id, &r->digest, &h, e);
        if (rc == CF_OK) {
            rc = upload_install(up, im->reg->id, &r->digest, e);
            if (rc == CF_OK)
                rc = meta_blob_commit(im->reg->id, im->repo, d, (int64_t)got, NULL, e);
            content_unlock(&r->digest, &h);
        }
    }
    upload_discard(up);
    if (rc == CF_OK) {
        im->blobs_fetched++;
        cf_buf_appendf(im->log, NULL, "Copied blob %s (%lld bytes)\n", d, (long long)got);
    }
    return rc;
}

static const char ACCEPT[] =
    MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST;

/* Imports the manifest `ref` (a tag or digest text) and what it
 * references; tag: where to tag it here (NULL: by digest only). */
static cf_code import_manifest(imp *im, const char *ref, const oci_digest *want, const char *tag,
                               int depth, cf_err *e)
{
    cf_buf b;
    cf_buf_init(&b, MANIFEST_MAX_SIZE);
    b.secret = 1;
    sink s = {.buf = &b, .max = MANIFEST_MAX_SIZE};
    char path[OCI_DIGEST_MAX + 16];
    snprintf(path, sizeof(path), "manifests/%s", ref);
    manifest m;
    memset(&m, 0, sizeof(m));
    oci_digest hdr;
    cf_code rc = get(im, path, ACCEPT, &s, e);
    char ctype[sizeof(im->ctype)];
    snprintf(ctype, sizeof(ctype), "%s", im->ctype);
    char *semi = strchr(ctype, ';');
    if (semi)
        *semi = '\0';
    /* the digest to check the bytes against: the reference's, else the
     * source's header (the store checks the bytes hash to it) */
    if (rc == CF_OK && want == NULL && im->digest_hdr[0] &&
        oci_digest_parse(&hdr, im->digest_hdr, strlen(im->digest_hdr), NULL) == CF_OK)
        want = &hdr;
    if (rc == CF_OK)
        rc = manifest_parse(&m, b.data, b.len, ctype[0] ? ctype : NULL, e);
    if (rc == CF_OK && manifest_is_index(m.kind) && depth > 0)
        rc = cf_err_set(e, CF_EINVAL, "an index inside an index is not imported");
    for (size_t i = 0; rc == CF_OK && i < m.nrefs; i++) {
        const manifest_ref *r = &m.refs[i];
        if (r->foreign)
            continue;
        rc = r->is_manifest ? import_manifest(im, r->digest.text, &r->digest, NULL, depth + 1, e)
                            : import_blob(im, r, e);
    }
    if (rc == CF_OK) {
        content_fail fail;
        content_manifest_stored st;
        rc = content_manifest_store(&st, &fail, im->reg, im->repo, tag, im->kek, b.data, b.len,
                                    ctype[0] ? ctype : NULL, want, e);
        if (rc != CF_OK && fail == CONTENT_FAIL_DIGEST)
            rc =
                cf_err_set(e, CF_EINTEGRITY, "manifest %s: the bytes do not match its digest", ref);
        if (rc == CF_OK)
            cf_buf_appendf(im->log, NULL, "Stored manifest %s@%s%s%s\n", im->repo, st.digest.text,
                           tag ? " as tag " : "", tag ? tag : "");
    }
    manifest_free(&m);
    cf_buf_free(&b);
    return rc;
}

cf_code import_run(const meta_registry *reg, const seal_kek *kek, const import_args *a, cf_buf *log,
                   cf_err *e)
{
    imp im;
    memset(&im, 0, sizeof(im));
    im.a = a;
    im.reg = reg;
    im.kek = kek;
    im.log = log;
    cf_code rc = import_check(a, e);
    if (rc != CF_OK)
        return rc;
    parse_source(&im.src, a->source, NULL);
    parse_image(&im, NULL);
    if ((im.h = curl_easy_init()) == NULL)
        return cf_err_set(e, CF_ENOMEM, "cannot start an HTTP client");
    const char *ref = im.src.ref.is_digest ? im.src.ref.digest.text : im.src.ref.tag;
    cf_buf_appendf(log, NULL, "import: %s/%s %s %s into %s%s%s%s\n", im.src.base, im.src.repo,
                   im.src.ref.is_digest ? "@" : ":", ref, im.repo, im.tag[0] ? ":" : "", im.tag,
                   a->username ? " (with credentials)" : "");
    rc = import_manifest(&im, ref, im.src.ref.is_digest ? &im.src.ref.digest : NULL,
                         im.tag[0] ? im.tag : NULL, 0, e);
    cf_buf_appendf(log, NULL, "Blobs copied: %ld, already present: %ld\n", im.blobs_fetched,
                   im.blobs_present);
    curl_easy_cleanup(im.h);
    if (im.bearer) {
        OPENSSL_cleanse(im.bearer, strlen(im.bearer));
        free(im.bearer);
    }
    return rc;
}
