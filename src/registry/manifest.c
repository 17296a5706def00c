/*
 * manifest.c -- see manifest.h. jansson parses (with a size cap checked
 * by the caller and here); the walk below reads only the fields the
 * registry relies on and refuses a wrong type for any of them.
 */
#include "registry/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const struct {
    const char *mt;
    manifest_kind kind;
} kinds[] = {
    {MT_OCI_MANIFEST, MANIFEST_OCI_MANIFEST},
    {MT_OCI_INDEX, MANIFEST_OCI_INDEX},
    {MT_DOCKER_MANIFEST, MANIFEST_DOCKER_MANIFEST},
    {MT_DOCKER_LIST, MANIFEST_DOCKER_LIST},
};

manifest_kind manifest_kind_of(const char *mt, size_t len)
{
    /* ignore parameters such as "; charset=utf-8" and trailing spaces */
    const char *semi = memchr(mt, ';', len);
    if (semi)
        len = (size_t)(semi - mt);
    while (len > 0 && (mt[len - 1] == ' ' || mt[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strlen(kinds[i].mt) == len && memcmp(kinds[i].mt, mt, len) == 0)
            return kinds[i].kind;
    return 0;
}

int manifest_is_index(manifest_kind k)
{
    return k == MANIFEST_OCI_INDEX || k == MANIFEST_DOCKER_LIST;
}

static const char *kind_media_type(manifest_kind k)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].kind == k)
            return kinds[i].mt;
    return NULL;
}

void manifest_free(manifest *m)
{
    if (m == NULL)
        return;
    free(m->refs);
    free(m->annotations);
    memset(m, 0, sizeof(*m));
}

static int media_type_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MANIFEST_MEDIA_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return 0;
    return memchr(s, '/', n) != NULL;
}

/* A descriptor: {mediaType, digest, size[, urls, artifactType, annotations]}. */
static cf_code descriptor(json_t *d, const char *where, int need_media_type, oci_digest *dg,
                          int64_t *size, int *foreign, cf_err *e)
{
    if (!json_is_object(d))
        return cf_err_set(e, CF_EINVAL, "%s is not a descriptor object", where);
    json_t *mt = json_object_get(d, "mediaType");
    if (mt != NULL && (!json_is_string(mt) || !media_type_ok(json_string_value(mt))))
        return cf_err_set(e, CF_EINVAL, "%s has an invalid mediaType", where);
    if (mt == NULL && need_media_type)
        return cf_err_set(e, CF_EINVAL, "%s has no mediaType", where);
    json_t *dj = json_object_get(d, "digest");
    if (!json_is_string(dj))
        return cf_err_set(e, CF_EINVAL, "%s has no digest", where);
    cf_err de = {0};
    if (oci_digest_parse(dg, json_string_value(dj), json_string_length(dj), &de) != CF_OK)
        return cf_err_set(e, CF_EINVAL, "%s: %s", where, de.msg);
    json_t *sz = json_object_get(d, "size");
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return cf_err_set(e, CF_EINVAL, "%s has no valid size", where);
    *size = json_integer_value(sz);
    json_t *urls = json_object_get(d, "urls");
    if (urls != NULL && !json_is_array(urls))
        return cf_err_set(e, CF_EINVAL, "%s has invalid urls", where);
    if (foreign)
        *foreign = urls != NULL && json_array_size(urls) > 0;
    json_t *at = json_object_get(d, "artifactType");
    if (at != NULL && (!json_is_string(at) || !media_type_ok(json_string_value(at))))
        return cf_err_set(e, CF_EINVAL, "%s has an invalid artifactType", where);
    json_t *an = json_object_get(d, "annotations");
    if (an != NULL && !json_is_object(an))
        return cf_err_set(e, CF_EINVAL, "%s has invalid annotations", where);
    return CF_OK;
}

static cf_code add_ref(manifest *m, json_t *d, const char *where, int is_manifest, cf_err *e)
{
    if (m->nrefs >= MANIFEST_MAX_REFS)
        return cf_err_set(e, CF_EINVAL, "too many descriptors (max %d)", MANIFEST_MAX_REFS);
    manifest_ref *r = &m->refs[m->nrefs];
    memset(r, 0, sizeof(*r));
    cf_code rc = descriptor(d, where, 1, &r->digest, &r->size, &r->foreign, e);
    if (rc != CF_OK)
        return rc;
    r->is_manifest = is_manifest;
    if (is_manifest)
        r->foreign = 0;
    m->nrefs++;
    return CF_OK;
}

static cf_code parse_tree(manifest *m, json_t *root, const char *content_type, cf_err *e)
{
    if (!json_is_object(root))
        return cf_err_set(e, CF_EINVAL, "manifest is not a JSON object");
    json_t *sv = json_object_get(root, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2)
        return cf_err_set(e, CF_EINVAL, "schemaVersion must be 2");
    json_t *mtj = json_object_get(root, "mediaType");
    if (mtj != NULL && !json_is_string(mtj))
        return cf_err_set(e, CF_EINVAL, "mediaType is not a string");
    manifest_kind body_kind = 0, header_kind = 0;
    if (mtj != NULL) {
        body_kind = manifest_kind_of(json_string_value(mtj), json_string_length(mtj));
        if (body_kind == 0)
            return cf_err_set(e, CF_EINVAL, "unsupported manifest mediaType");
    }
    if (content_type != NULL && *content_type != '\0') {
        header_kind = manifest_kind_of(content_type, strlen(content_type));
        if (header_kind == 0 && body_kind == 0)
            return cf_err_set(e, CF_EINVAL, "unsupported manifest media type");
    }
    if (header_kind && body_kind && header_kind != body_kind)
        return cf_err_set(e, CF_EINVAL, "Content-Type does not match the manifest's mediaType");
    m->kind = header_kind ? header_kind : body_kind;
    json_t *manifests = json_object_get(root, "manifests");
    json_t *config = json_object_get(root, "config");
    json_t *layers = json_object_get(root, "layers");
    if (m->kind == 0)
        m->kind = manifests != NULL ? MANIFEST_OCI_INDEX : MANIFEST_OCI_MANIFEST;
    m->media_type = kind_media_type(m->kind);
    /* Docker types require mediaType in the body */
    if ((m->kind == MANIFEST_DOCKER_MANIFEST || m->kind == MANIFEST_DOCKER_LIST) && body_kind == 0)
        return cf_err_set(e, CF_EINVAL, "Docker manifest without mediaType");

    size_t cap = 0;
    if (manifest_is_index(m->kind)) {
        if (!json_is_array(manifests))
            return cf_err_set(e, CF_EINVAL, "index has no manifests array");
        if (config != NULL || layers != NULL)
            return cf_err_set(e, CF_EINVAL, "index has config or layers");
        cap = json_array_size(manifests);
    } else {
        if (!json_is_object(config))
            return cf_err_set(e, CF_EINVAL, "manifest has no config descriptor");
        if (!json_is_array(layers))
            return cf_err_set(e, CF_EINVAL, "manifest has no layers array");
        if (manifests != NULL)
            return cf_err_set(e, CF_EINVAL, "image manifest has a manifests field");
        cap = 1 + json_array_size(layers);
    }
    if (cap > MANIFEST_MAX_REFS)
        return cf_err_set(e, CF_EINVAL, "too many descriptors (max %d)", MANIFEST_MAX_REFS);
    m->refs = calloc(cap ? cap : 1, sizeof(*m->refs));
    if (m->refs == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = CF_OK;
    size_t i;
    json_t *d;
    if (manifest_is_index(m->kind)) {
        json_array_foreach(manifests, i, d)
        {
            if ((rc = add_ref(m, d, "manifests[]", 1, e)) != CF_OK)
                return rc;
        }
    } else {
        if ((rc = add_ref(m, config, "config", 0, e)) != CF_OK)
            return rc;
        json_array_foreach(layers, i, d)
        {
            if ((rc = add_ref(m, d, "layers[]", 0, e)) != CF_OK)
                return rc;
        }
    }
    json_t *subject = json_object_get(root, "subject");
    if (subject != NULL) {
        int64_t ssize;
        if ((rc = descriptor(subject, "subject", 1, &m->subject, &ssize, NULL, e)) != CF_OK)
            return rc;
        m->has_subject = 1;
    }
    json_t *at = json_object_get(root, "artifactType");
    if (at != NULL) {
        if (!json_is_string(at) || !media_type_ok(json_string_value(at)))
            return cf_err_set(e, CF_EINVAL, "invalid artifactType");
        snprintf(m->artifact_type, sizeof(m->artifact_type), "%s", json_string_value(at));
    } else if (m->kind == MANIFEST_OCI_MANIFEST) {
        json_t *cmt = json_object_get(config, "mediaType");
        if (json_is_string(cmt))
            snprintf(m->artifact_type, sizeof(m->artifact_type), "%s", json_string_value(cmt));
    }
    json_t *an = json_object_get(root, "annotations");
    if (an != NULL) {
        if (!json_is_object(an))
            return cf_err_set(e, CF_EINVAL, "annotations is not an object");
        const char *k;
        json_t *v;
        json_object_foreach(an, k, v)
        {
            if (!json_is_string(v))
                return cf_err_set(e, CF_EINVAL, "annotation values must be strings");
        }
        if (json_object_size(an) > 0) {
            m->annotations = json_dumps(an, JSON_COMPACT | JSON_SORT_KEYS);
            if (m->annotations == NULL)
                return cf_err_set(e, CF_ENOMEM, "out of memory");
        }
    }
    return CF_OK;
}

cf_code manifest_parse(manifest *out, const void *data, size_t len, const char *content_type,
                       cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (len > MANIFEST_MAX_SIZE)
        return cf_err_set(e, CF_ETOOBIG, "manifest larger than %u bytes", MANIFEST_MAX_SIZE);
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return cf_err_set(e, CF_EINVAL, "manifest is not valid JSON: %s", je.text);
    cf_code rc = parse_tree(out, root, content_type, e);
    json_decref(root);
    if (rc != CF_OK)
        manifest_free(out);
    return rc;
}

cf_code manifest_index_pick(oci_digest *out, const void *data, size_t len, const char *os,
                            const char *arch, cf_err *e)
{
    if (len > MANIFEST_MAX_SIZE)
        return cf_err_set(e, CF_ETOOBIG, "manifest too large");
    json_t *root = json_loadb(data, len, 0, NULL);
    json_t *ms = root ? json_object_get(root, "manifests") : NULL;
    cf_code rc = cf_err_set(e, CF_ENOTFOUND, "no manifest for %s/%s", os, arch);
    if (!json_is_array(ms)) {
        json_decref(root);
        return CF_EINVAL;
    }
    size_t i;
    json_t *d;
    json_array_foreach(ms, i, d)
    {
        json_t *pl = json_object_get(d, "platform");
        json_t *o = json_object_get(pl, "os"), *a = json_object_get(pl, "architecture");
        json_t *dg = json_object_get(d, "digest");
        if (!json_is_string(o) || !json_is_string(a) || !json_is_string(dg))
            continue;
        if (strcmp(json_string_value(o), os) != 0 || strcmp(json_string_value(a), arch) != 0)
            continue;
        if (oci_digest_parse(out, json_string_value(dg), json_string_length(dg), NULL) == CF_OK) {
            rc = CF_OK;
            if (e)
                cf_err_clear(e);
            break;
        }
    }
    json_decref(root);
    return rc;
}
