/*
 * content.c -- see content.h.
 */
#define CF_LOG_MOD "registry"
#include "registry/content.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "registry/manifest.h"
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
