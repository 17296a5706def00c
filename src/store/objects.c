/*
 * objects.c -- see objects.h.
 */
#define CF_LOG_MOD "objects"
#include "store/objects.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/enc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/metrics.h"

#define STRIPES 64

static char *data_dir;
static pthread_mutex_t stripes[STRIPES];
static int stripes_ready;

cf_code objects_init(const char *dir, cf_err *e)
{
    free(data_dir);
    data_dir = strdup(dir);
    if (data_dir == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    if (!stripes_ready) {
        for (int i = 0; i < STRIPES; i++)
            pthread_mutex_init(&stripes[i], NULL);
        stripes_ready = 1;
    }
    return CF_OK;
}

void objects_shutdown(void)
{
    free(data_dir);
    data_dir = NULL;
}

const char *objects_data_dir(void)
{
    return data_dir;
}

cf_code objects_check(cf_err *e)
{
    if (data_dir == NULL)
        return cf_err_set(e, CF_EUNAVAIL, "object store not open");
    char p[OBJECTS_PATH_MAX];
    snprintf(p, sizeof(p), "%s/registries", data_dir);
    struct stat st;
    if (stat(p, &st) != 0)
        return cf_err_os(e, errno, "object store %s", p);
    if (!S_ISDIR(st.st_mode) || access(p, R_OK | W_OK | X_OK) != 0)
        return cf_err_set(e, CF_EIO, "object store %s is not a writable directory", p);
    return CF_OK;
}

cf_code objects_registry_dirs(const char *reg_id, cf_err *e)
{
    char p[OBJECTS_PATH_MAX];
    snprintf(p, sizeof(p), "%s/registries/%s/blobs", data_dir, reg_id);
    cf_code rc = cf_fs_mkdir_p(p, 0700, e);
    if (rc != CF_OK)
        return rc;
    snprintf(p, sizeof(p), "%s/registries/%s/uploads", data_dir, reg_id);
    return cf_fs_mkdir_p(p, 0700, e);
}

void objects_blob_path(char *out, size_t cap, const char *reg_id, const oci_digest *d)
{
    const char *hex = oci_digest_hex(d);
    snprintf(out, cap, "%s/registries/%s/blobs/%s/%.2s/%s", data_dir, reg_id, oci_alg_name(d->alg),
             hex, hex);
}

void objects_upload_path(char *out, size_t cap, const char *reg_id, const char *uuid,
                         const char *suffix)
{
    snprintf(out, cap, "%s/registries/%s/uploads/%s%s", data_dir, reg_id, uuid, suffix);
}

static unsigned stripe_of(const oci_digest *d)
{
    const char *hex = oci_digest_hex(d);
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 16 + (unsigned)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return v % STRIPES;
}

void objects_lock(const oci_digest *d)
{
    pthread_mutex_lock(&stripes[stripe_of(d)]);
}

void objects_unlock(const oci_digest *d)
{
    pthread_mutex_unlock(&stripes[stripe_of(d)]);
}

/* mkdir -p the blob's directory; returns its path in dir. */
static cf_code blob_dir(char *dir, size_t cap, const char *path, cf_err *e)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return cf_fs_mkdir_p(dir, 0700, e);
}

static cf_code install(const char *path, const char *reg_id, const oci_digest *d, cf_err *e)
{
    char dst[OBJECTS_PATH_MAX], dir[OBJECTS_PATH_MAX];
    objects_blob_path(dst, sizeof(dst), reg_id, d);
    struct stat st;
    if (stat(dst, &st) == 0) {
        /* already stored (dedup): the new copy is not needed */
        if (unlink(path) != 0 && errno != ENOENT)
            return cf_err_os(e, errno, "remove duplicate upload");
        return CF_OK;
    }
    cf_code rc = blob_dir(dir, sizeof(dir), dst, e);
    if (rc != CF_OK)
        return rc;
    if (rename(path, dst) != 0)
        return cf_err_os(e, errno, "install blob");
    rc = cf_fs_fsync_dir(dir, e);
    if (rc == CF_OK)
        rc = cf_fs_fsync_parent(path, e);
    return rc;
}

static cf_code put_small(const char *reg_id, const oci_digest *d, const seal_kek *kek,
                         const void *data, size_t len, cf_err *e)
{
    char dst[OBJECTS_PATH_MAX], dir[OBJECTS_PATH_MAX], tmp[OBJECTS_PATH_MAX + 40];
    objects_blob_path(dst, sizeof(dst), reg_id, d);
    struct stat st;
    if (stat(dst, &st) == 0)
        return CF_OK;
    cf_code rc = blob_dir(dir, sizeof(dir), dst, e);
    if (rc != CF_OK)
        return rc;
    unsigned char rnd[8];
    char rhex[17];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return cf_err_ssl(e, "random");
    cf_hex_encode(rhex, rnd, sizeof(rnd));
    snprintf(tmp, sizeof(tmp), "%s.%s.tmp", dst, rhex);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return cf_err_os(e, errno, "create object");
    seal_writer *w = NULL;
    rc = seal_writer_open(&w, kek, fd, NULL, e);
    if (rc == CF_OK)
        rc = seal_writer_write(w, data, len, e);
    if (rc == CF_OK)
        rc = seal_writer_finish(w, e);
    seal_writer_free(w);
    if (rc == CF_OK && fsync(fd) != 0)
        rc = cf_err_os(e, errno, "fsync object");
    if (close(fd) != 0 && rc == CF_OK)
        rc = cf_err_os(e, errno, "close object");
    if (rc == CF_OK && rename(tmp, dst) != 0)
        rc = cf_err_os(e, errno, "install object");
    if (rc != CF_OK) {
        unlink(tmp);
        return rc;
    }
    return cf_fs_fsync_dir(dir, e);
}

static cf_code open_blob(seal_reader **out, int *fd_out, const char *reg_id, const oci_digest *d,
                         const seal_kek *kek, cf_err *e)
{
    char p[OBJECTS_PATH_MAX];
    objects_blob_path(p, sizeof(p), reg_id, d);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_err_os(e, errno, "open blob %s", d->text);
    cf_code rc = seal_reader_open(out, kek, fd, e);
    if (rc != CF_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return CF_OK;
}

static cf_code remove_blob(const char *reg_id, const oci_digest *d, cf_err *e)
{
    char p[OBJECTS_PATH_MAX];
    objects_blob_path(p, sizeof(p), reg_id, d);
    if (unlink(p) != 0 && errno != ENOENT)
        return cf_err_os(e, errno, "remove blob");
    return cf_fs_fsync_parent(p, e);
}

/* ---- the entry points, counting failures (base/metrics.h) ---- */

static cf_code counted(cf_code rc, const char *op)
{
    /* a blob that is not there is an answer, not a failure of the store */
    if (rc != CF_OK && rc != CF_ENOTFOUND)
        metrics_count_objects_error(op);
    return rc;
}

cf_code objects_install(const char *path, const char *reg_id, const oci_digest *d, cf_err *e)
{
    return counted(install(path, reg_id, d, e), "install");
}

cf_code objects_put_small(const char *reg_id, const oci_digest *d, const seal_kek *kek,
                          const void *data, size_t len, cf_err *e)
{
    return counted(put_small(reg_id, d, kek, data, len, e), "write");
}

cf_code objects_open(seal_reader **out, int *fd_out, const char *reg_id, const oci_digest *d,
                     const seal_kek *kek, cf_err *e)
{
    return counted(open_blob(out, fd_out, reg_id, d, kek, e), "read");
}

cf_code objects_remove(const char *reg_id, const oci_digest *d, cf_err *e)
{
    return counted(remove_blob(reg_id, d, e), "remove");
}
