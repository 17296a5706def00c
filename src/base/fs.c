/*
 * fs.c -- see fs.h.
 */
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cf_code cf_fs_mkdir_p(const char *path, mode_t mode, cf_err *e)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return cf_err_set(e, CF_EINVAL, "bad directory path");
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return cf_err_os(e, errno, "mkdir %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return cf_err_os(e, errno, "mkdir %s", tmp);
    return CF_OK;
}

cf_code cf_fs_fsync_dir(const char *dir, cf_err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cf_err_os(e, errno, "open directory %s", dir);
    cf_code rc = CF_OK;
    if (fsync(fd) != 0)
        rc = cf_err_os(e, errno, "fsync directory %s", dir);
    close(fd);
    return rc;
}

cf_code cf_fs_fsync_parent(const char *path, cf_err *e)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return cf_fs_fsync_dir(".", e);
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n >= sizeof(dir))
        return cf_err_set(e, CF_EINVAL, "path too long");
    memcpy(dir, path, n);
    dir[n] = '\0';
    return cf_fs_fsync_dir(dir, e);
}

cf_code cf_fs_write_full(int fd, const void *data, size_t len, cf_err *e)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return cf_err_os(e, errno, "write");
        }
        p += w;
        len -= (size_t)w;
    }
    return CF_OK;
}

cf_code cf_fs_pread_full(int fd, void *out, size_t len, off_t off, cf_err *e)
{
    unsigned char *p = out;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return cf_err_os(e, errno, "read");
        }
        if (r == 0)
            return cf_err_set(e, CF_EINTEGRITY, "object is truncated");
        p += r;
        len -= (size_t)r;
        off += r;
    }
    return CF_OK;
}

cf_code cf_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, cf_err *e)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return cf_err_set(e, CF_EINVAL, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return cf_err_os(e, errno, "create %s", tmp);
    cf_code rc = CF_OK;
    if (fchmod(fd, mode) != 0)
        rc = cf_err_os(e, errno, "chmod %s", tmp);
    if (rc == CF_OK)
        rc = cf_fs_write_full(fd, data, len, e);
    if (rc == CF_OK && fsync(fd) != 0)
        rc = cf_err_os(e, errno, "fsync %s", tmp);
    if (close(fd) != 0 && rc == CF_OK)
        rc = cf_err_os(e, errno, "close %s", tmp);
    if (rc == CF_OK && rename(tmp, path) != 0)
        rc = cf_err_os(e, errno, "rename to %s", path);
    if (rc != CF_OK) {
        unlink(tmp);
        return rc;
    }
    return cf_fs_fsync_parent(path, e);
}

cf_code cf_fs_read_all(const char *path, size_t cap, cf_buf *out, cf_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_err_os(e, errno, "open %s", path);
    cf_code rc = CF_OK;
    unsigned char chunk[8192];
    size_t total = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = cf_err_os(e, errno, "read %s", path);
            break;
        }
        if (r == 0)
            break;
        total += (size_t)r;
        if (total > cap) {
            rc = cf_err_set(e, CF_ETOOBIG, "%s is larger than %zu bytes", path, cap);
            break;
        }
        rc = cf_buf_append(out, chunk, (size_t)r, e);
        if (rc != CF_OK)
            break;
    }
    close(fd);
    return rc;
}

cf_code cf_fs_check_private(const char *path, cf_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cf_err_os(e, errno, "stat %s", path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return cf_err_set(e, CF_EDENIED,
                          "%s is accessible by group or others (mode %04o); it must be 0600", path,
                          (unsigned)(st.st_mode & 07777));
    return CF_OK;
}
