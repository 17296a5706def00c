/*
 * content.c -- see content.h.
 */
#define CF_LOG_MOD "registry"
#include "registry/content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "base/log.h"
#include "registry/manifest.h"
#include "registry/quota.h"
#include "store/meta.h"
#include "store/objects.h"

cf_code content_manifest_read(const char *reg_id, const seal_kek *kek, const oci_digest *d,
                              int64_t size, unsigned char **out, cf_err *e)
{
    *out = NULL;
    if (size <= 0 || size > (int64_t)MANIFEST_MAX_SIZE)
        return cf_err_set(e, CF_EINTEGRITY, "stored manifest %s has an invalid size", d->text);
    objects_reader *obj = NULL;
    unsigned char *buf = malloc((size_t)size);
    cf_code rc;
    if (buf == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    rc = objects_open(&obj, reg_id, d, kek, e);
    if (rc != CF_OK)
        goto out;
    seal_reader *rd = objects_reader_seal(obj);
    size_t got = 0;
    rc = seal_reader_read(rd, 0, buf, (size_t)size, &got, e);
    if (rc == CF_OK && (got != (size_t)size || seal_reader_size(rd) != (uint64_t)size))
        rc = cf_err_set(e, CF_EINTEGRITY, "stored manifest %s has the wrong size", d->text);
out:
    objects_reader_free(obj);
    if (rc != CF_OK) {
        if (buf)
            OPENSSL_cleanse(buf, (size_t)size);
        free(buf);
        return rc;
    }
    *out = buf;
    return CF_OK;
}

/* How long a request waits for a digest another node is installing or
 * removing (milliseconds of file and metadata work, normally). */
#define DIGEST_LOCK_WAIT_MS 15000

cf_code content_lock(const char *reg_id, const oci_digest *d, coord_hold *h, cf_err *e)
{
    objects_lock(d);
    char key[META_ID_LEN + OCI_DIGEST_MAX + 2];
    snprintf(key, sizeof(key), "%s %s", reg_id, d->text);
    cf_code rc = coord_lock(COORD_DIGEST, key, DIGEST_LOCK_WAIT_MS, h, e);
    if (rc != CF_OK)
        objects_unlock(d);
    return rc;
}

void content_unlock(const oci_digest *d, coord_hold *h)
{
    coord_unlock(h);
    objects_unlock(d);
}

cf_code content_manifest_delete(const char *reg_id, const char *repo, const oci_digest *d,
                                cf_err *e)
{
    int orphaned = 0;
    coord_hold h;
    cf_code rc = content_lock(reg_id, d, &h, e);
    if (rc != CF_OK)
        return rc;
    rc = meta_manifest_delete(reg_id, repo, d->text, &orphaned, e);
    if (rc == CF_OK && orphaned) {
        cf_err fe = {0};
        if (objects_remove(reg_id, d, &fe) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove manifest file", "error", fe.msg, NULL);
    }
    content_unlock(d, &h);
    return rc;
}

cf_code content_blob_unlink(const char *reg_id, const char *repo, const oci_digest *d, cf_err *e)
{
    int orphaned = 0;
    coord_hold h;
    cf_code rc = content_lock(reg_id, d, &h, e);
    if (rc != CF_OK)
        return rc;
    rc = meta_blob_unlink(reg_id, repo, d->text, &orphaned, e);
    if (rc == CF_OK && orphaned) {
        cf_err fe = {0};
        if (objects_remove(reg_id, d, &fe) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove blob file", "digest", d->text, "error", fe.msg,
                   NULL);
    }
    content_unlock(d, &h);
    return rc;
}

static void digest_of(oci_digest *out, oci_alg alg, const void *data, size_t len)
{
    unsigned char raw[64];
    if (alg == OCI_ALG_SHA512)
        SHA512(data, len, raw);
    else
        SHA256(data, len, raw);
    oci_digest_from_raw(out, alg, raw);
}

cf_code content_manifest_store(content_manifest_stored *out, content_fail *fail,
                               const meta_registry *reg, const char *repo, const char *tag,
                               const seal_kek *kek, const void *data, size_t len,
                               const char *content_type, const oci_digest *want, cf_err *e)
{
    const char *reg_id = reg->id;
    manifest m;
    memset(out, 0, sizeof(*out));
    *fail = CONTENT_FAIL_INVALID;
    cf_code rc = manifest_parse(&m, data, len, content_type, e);
    if (rc != CF_OK) {
        manifest_free(&m);
        return rc;
    }
    oci_digest *d = &out->digest;
    digest_of(d, want ? want->alg : OCI_ALG_SHA256, data, len);
    if (want && strcmp(d->text, want->text) != 0) {
        manifest_free(&m);
        *fail = CONTENT_FAIL_DIGEST;
        return cf_err_set(e, CF_EINVAL, "manifest digest does not match the reference");
    }
    *fail = CONTENT_FAIL_STORE;
    size_t cap = m.nrefs ? m.nrefs : 1;
    const char **refs = calloc(cap, sizeof(*refs));
    int *is_manifest = calloc(cap, sizeof(*is_manifest));
    int *required = calloc(cap, sizeof(*required));
    if (refs == NULL || is_manifest == NULL || required == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m.nrefs; i++) {
        const manifest_ref *mr = &m.refs[i];
        refs[i] = mr->digest.text;
        is_manifest[i] = mr->is_manifest;
        required[i] = !mr->foreign;
        if (mr->foreign)
            continue;
        cf_err re = {0};
        if (mr->is_manifest) {
            meta_manifest mm;
            rc = meta_manifest_get(&mm, reg_id, repo, mr->digest.text, &re);
        } else {
            rc = meta_blob_stat(reg_id, repo, mr->digest.text, NULL, &re);
        }
        if (rc == CF_ENOTFOUND) {
            *fail = CONTENT_FAIL_REF;
            rc = cf_err_set(e, CF_ENOTFOUND, "%s %s unknown to the repository",
                            mr->is_manifest ? "manifest" : "blob", mr->digest.text);
            goto out;
        }
        if (rc != CF_OK) {
            rc = cf_err_set(e, re.code, "%s", re.msg);
            goto out;
        }
    }
    /* a manifest new to the registry must fit in its storage limit (a tag
     * moved to a stored one adds nothing) */
    if (reg->storage_limit > 0 &&
        meta_blob_stat(reg_id, NULL, d->text, NULL, NULL) == CF_ENOTFOUND) {
        int64_t room = 0;
        rc = quota_room(&room, reg, quota_sealed_size((int64_t)len), e);
        if (rc != CF_OK) {
            if (rc == CF_EDENIED)
                *fail = CONTENT_FAIL_QUOTA;
            goto out;
        }
    }
    coord_hold h;
    if ((rc = content_lock(reg_id, d, &h, e)) != CF_OK)
        goto out;
    rc = objects_put_small(reg_id, d, kek, data, len, e);
    if (rc == CF_OK) {
        meta_manifest_put_args a = {
            .reg = reg_id,
            .repo = repo,
            .digest = d->text,
            .media_type = m.media_type,
            .artifact_type = m.artifact_type,
            .subject = m.has_subject ? m.subject.text : NULL,
            .size = (int64_t)len,
            .tag = tag,
            .nrefs = m.nrefs,
            .ref_digests = refs,
            .ref_is_manifest = is_manifest,
            .ref_required = required,
        };
        /* checks the references again, in its transaction: a collection
         * may have removed one since the look above (registry/gc.h) */
        rc = meta_manifest_put(&a, e);
        /* refused: the object just written has no row unless the registry
         * had these bytes already */
        cf_err se = {0};
        if (rc == CF_ENOTFOUND &&
            meta_blob_stat(reg_id, NULL, d->text, NULL, &se) == CF_ENOTFOUND &&
            objects_remove(reg_id, d, &se) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove a refused manifest's object", "digest", d->text,
                   "error", se.msg, NULL);
        if (rc == CF_ENOTFOUND)
            *fail = CONTENT_FAIL_REF;
    }
    content_unlock(d, &h);
    if (rc == CF_OK) {
        *fail = CONTENT_FAIL_NONE;
        out->has_subject = m.has_subject;
        if (m.has_subject)
            out->subject = m.subject;
    }
out:
    free(refs);
    free(is_manifest);
    free(required);
    manifest_free(&m);
    return rc;
}
