/*
 * content.c -- see content.h.
 */
#define CF_LOG_MOD "registry"
#include "registry/content.h"

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

cf_code content_manifest_delete(const char *reg_id, const char *repo, const oci_digest *d,
                                cf_err *e)
{
    int orphaned = 0;
    objects_lock(d);
    cf_code rc = meta_manifest_delete(reg_id, repo, d->text, &orphaned, e);
    if (rc == CF_OK && orphaned) {
        cf_err fe = {0};
        if (objects_remove(reg_id, d, &fe) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove manifest file", "error", fe.msg, NULL);
    }
    objects_unlock(d);
    return rc;
}

cf_code content_blob_unlink(const char *reg_id, const char *repo, const oci_digest *d, cf_err *e)
{
    int orphaned = 0;
    objects_lock(d);
    cf_code rc = meta_blob_unlink(reg_id, repo, d->text, &orphaned, e);
    if (rc == CF_OK && orphaned) {
        cf_err fe = {0};
        if (objects_remove(reg_id, d, &fe) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove blob file", "digest", d->text, "error", fe.msg,
                   NULL);
    }
    objects_unlock(d);
    return rc;
}
