/*
 * fs.h -- the filesystem primitives every durable write goes through.
 *
 * Invariant: a file written with cf_fs_write_atomic() is either absent/old
 * or complete/new after a crash at any instant: write to a temp name in the
 * same directory, fsync, rename over the target, fsync the directory.
 */
#ifndef CF_BASE_FS_H
#define CF_BASE_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"

/* mkdir -p with the given mode for every directory it creates. */
cf_code cf_fs_mkdir_p(const char *path, mode_t mode, cf_err *e);
cf_code cf_fs_fsync_dir(const char *dir, cf_err *e);
/* fsync the directory that contains path. */
cf_code cf_fs_fsync_parent(const char *path, cf_err *e);
cf_code cf_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, cf_err *e);
/* Reads a whole file into out (appended), failing with CF_ETOOBIG past cap. */
cf_code cf_fs_read_all(const char *path, size_t cap, cf_buf *out, cf_err *e);
/* CF_EDENIED when the file is readable or writable by group or others. */
cf_code cf_fs_check_private(const char *path, cf_err *e);
/* write(2) all of it, retrying on EINTR and short writes. */
cf_code cf_fs_write_full(int fd, const void *data, size_t len, cf_err *e);
/* pread(2) exactly len bytes at off; CF_EINTEGRITY on a short file. */
cf_code cf_fs_pread_full(int fd, void *out, size_t len, off_t off, cf_err *e);

#endif
