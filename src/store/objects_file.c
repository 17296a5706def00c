/*
 * objects_file.c -- the files backend of the object store (objects.h,
 * objects_int.h): every key is a file under the data directory, the
 * embedded default.
 *
 * Durability is the filesystem's: a put is temp + fsync + rename + fsync
 * of the directory (cf_fs_write_atomic); a stream is one file appended
 * with write(2), fsynced by stream_sync, truncated back to its durable
 * length on resume (bytes no client was told about), and installed by
 * rename into the blob's directory, then both directories fsynced. A file
 * is complete or absent at its blob key.
 *
 * Readers are pread(2) on one descriptor, so two readers may share it
 * (a helper core decrypts one half of each block, api.c).
 */
#define CF_LOG_MOD "objects"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "store/objects_int.h"
#include "store/offload.h"

#define PATH_CAP (OBJECTS_KEY_MAX + 4096)
/* Writeback of a stream's file is started every this many bytes, and a
 * flush of what it wrote is asked of the syncer every SYNC_AHEAD_EVERY. */
#define WRITEBACK_EVERY (8u * 1024 * 1024)
#define SYNC_AHEAD_EVERY (32u * 1024 * 1024)
/* At most this many flushes wait for the syncer; more are dropped. */
#define SYNC_AHEAD_QUEUE 8

typedef struct fstore {
    char *dir;
} fstore;

static void path_of(const fstore *f, char *out, size_t cap, const char *key)
{
    snprintf(out, cap, "%s/%s", f->dir, key);
}

cf_code objects_file_new(void **self, const char *dir, cf_err *e)
{
    fstore *f = calloc(1, sizeof(*f));
    if (f == NULL || (f->dir = strdup(dir)) == NULL) {
        free(f);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    *self = f;
    return CF_OK;
}

static const char *f_where(void *self)
{
    return ((fstore *)self)->dir;
}

/* Readiness: the directory is there, and writable by this process. */
static cf_code f_check(void *self, cf_err *e)
{
    const char *d = ((fstore *)self)->dir;
    struct stat st;
    if (stat(d, &st) != 0)
        return cf_err_os(e, errno, "object store %s", d);
    if (!S_ISDIR(st.st_mode) || access(d, R_OK | W_OK | X_OK) != 0)
        return cf_err_set(e, CF_EIO, "object store %s is not a writable directory", d);
    return CF_OK;
}

static void f_free(void *self)
{
    fstore *f = self;
    if (f) {
        free(f->dir);
        free(f);
    }
}

static cf_code f_prepare(void *self, const char *prefix, cf_err *e)
{
    char p[PATH_CAP];
    snprintf(p, sizeof(p), "%s/%sblobs", ((fstore *)self)->dir, prefix);
    cf_code rc = cf_fs_mkdir_p(p, 0700, e);
    if (rc != CF_OK)
        return rc;
    snprintf(p, sizeof(p), "%s/%suploads", ((fstore *)self)->dir, prefix);
    return cf_fs_mkdir_p(p, 0700, e);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    if (remove(path) != 0)
        cf_log(CF_LOG_WARN, "cannot remove", "path", path, NULL);
    return 0;
}

static cf_code f_remove_prefix(void *self, const char *prefix, cf_err *e)
{
    (void)e;
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), prefix);
    nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CF_OK;
}

/* ---- readers ---- */

typedef struct freader {
    int fd;
    int owned;
} freader;

static cf_code f_open(void *self, const char *key, void **h, seal_io *io, cf_err *e)
{
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), key);
    freader *r = malloc(sizeof(*r));
    if (r == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    r->fd = open(p, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        cf_code rc = cf_err_os(e, errno, "open %s", key);
        free(r);
        return rc;
    }
    r->owned = 1;
    *io = seal_io_fd(r->fd);
    *h = r;
    return CF_OK;
}

static void f_close(void *h)
{
    freader *r = h;
    if (r == NULL)
        return;
    if (r->owned)
        close(r->fd);
    free(r);
}

static cf_code f_put(void *self, const char *key, const void *data, size_t len, cf_err *e)
{
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), key);
    cf_err e1 = {0};
    cf_code rc = cf_fs_write_atomic(p, data, len, 0600, &e1);
    if (rc == CF_ENOTFOUND) { /* the directory is not there yet (a new blob prefix) */
        char dir[PATH_CAP];
        snprintf(dir, sizeof(dir), "%s", p);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        rc = cf_fs_mkdir_p(dir, 0700, e);
        if (rc == CF_OK)
            rc = cf_fs_write_atomic(p, data, len, 0600, e);
        return rc;
    }
    if (rc != CF_OK)
        cf_err_set(e, rc, "%s", e1.msg);
    return rc;
}

static cf_code f_stat(void *self, const char *key, uint64_t *size, int64_t *mtime, cf_err *e)
{
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), key);
    struct stat st;
    if (stat(p, &st) != 0)
        return cf_err_os(e, errno, "stat %s", key);
    if (size)
        *size = (uint64_t)st.st_size;
    if (mtime)
        *mtime = (int64_t)st.st_mtime;
    return CF_OK;
}

static cf_code f_remove(void *self, const char *key, cf_err *e)
{
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), key);
    if (unlink(p) != 0) {
        if (errno == ENOENT)
            return CF_OK;
        return cf_err_os(e, errno, "remove %s", key);
    }
    return cf_fs_fsync_parent(p, e);
}

/* Calls fn for every regular file under dir (key prefix `key`), depth
 * first, to `depth` levels. */
static int walk(const char *dir, const char *key, int depth, objects_list_fn fn, void *cls)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *de;
    int stop = 0;
    while (!stop && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        char p[PATH_CAP], k[OBJECTS_KEY_MAX];
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, n) >= sizeof(p) ||
            (size_t)snprintf(k, sizeof(k), "%s%s", key, n) >= sizeof(k))
            continue;
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0) {
            char kd[OBJECTS_KEY_MAX + 1];
            if ((size_t)snprintf(kd, sizeof(kd), "%s/", k) < OBJECTS_KEY_MAX)
                stop = walk(p, kd, depth - 1, fn, cls);
        } else if (S_ISREG(st.st_mode)) {
            stop = fn(cls, k, (uint64_t)st.st_size, (int64_t)st.st_mtime, 0) != 0;
        }
    }
    closedir(d);
    return stop;
}

static cf_code f_list(void *self, const char *prefix, objects_list_fn fn, void *cls, cf_err *e)
{
    (void)e;
    /* prefix is a directory ("registries/<id>/uploads/") */
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), prefix);
    size_t n = strlen(p);
    if (n > 0 && p[n - 1] == '/')
        p[n - 1] = '\0';
    walk(p, prefix, 6, fn, cls);
    return CF_OK;
}

/* ---- the syncer ----
 *
 * The fsync that completes an upload must wait for the device to make
 * durable whatever it still holds in its write cache. Starting writeback
 * as the stream grows (sync_file_range, below) empties the page cache but
 * not that cache: measured on a VM whose disk caches in the host, the
 * final fsync of a 1 GiB push waited 0.2-0.7 s, 20-30% of the push. So
 * a stream also hands its file to this thread every SYNC_AHEAD_EVERY
 * bytes, which fdatasyncs it while the request goes on
 * receiving: the completing fsync then finds little left (about 40 ms).
 * Nothing depends on these flushes: when the queue is full one is
 * dropped, and the completing fsync still makes everything durable. */

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
    int fds[SYNC_AHEAD_QUEUE];
    unsigned head, count;
} syncer = {
    .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *syncer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&syncer.mu);
    for (;;) {
        while (syncer.count == 0)
            pthread_cond_wait(&syncer.cv, &syncer.mu);
        int fd = syncer.fds[syncer.head];
        syncer.head = (syncer.head + 1) % SYNC_AHEAD_QUEUE;
        syncer.count--;
        pthread_mutex_unlock(&syncer.mu);
        fdatasync(fd); /* advisory: an error shows again at the stream's own fsync */
        close(fd);
        pthread_mutex_lock(&syncer.mu);
    }
    return NULL;
}

static void syncer_start(void)
{
    pthread_attr_t at;
    pthread_t t;
    if (pthread_attr_init(&at) != 0)
        return;
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    syncer.started = pthread_create(&t, &at, syncer_main, NULL) == 0;
    pthread_attr_destroy(&at);
}

/* Asks for an fdatasync of the file at path soon, without waiting for it.
 * The syncer gets a descriptor of its own, not a dup(2): a writeback
 * error is reported once per open file description, and the stream's own
 * fsync must still see one that the syncer's flush met first. */
static void sync_ahead(const char *path)
{
    pthread_once(&syncer.once, syncer_start);
    if (!syncer.started)
        return;
    pthread_mutex_lock(&syncer.mu);
    if (syncer.count < SYNC_AHEAD_QUEUE) {
        int d = open(path, O_RDONLY | O_CLOEXEC);
        if (d >= 0) {
            syncer.fds[(syncer.head + syncer.count) % SYNC_AHEAD_QUEUE] = d;
            syncer.count++;
            pthread_cond_signal(&syncer.cv);
        }
    }
    pthread_mutex_unlock(&syncer.mu);
}

/* ---- streams ---- */

typedef struct fstream {
    const fstore *f;
    char path[PATH_CAP];
    int fd;
    uint64_t written, kicked;
    offload_lane lane; /* the writes on a helper (see fs_write) */
    atomic_int wrc;    /* the first write the lane could not make */
    cf_err werr;       /* its error, set before wrc */
} fstream;

/* Writes len bytes at the end of the file, then starts writeback. */
static cf_code write_now(fstream *s, const void *data, size_t len, cf_err *e)
{
    cf_code rc = cf_fs_write_full(s->fd, data, len, e);
    if (rc != CF_OK)
        return rc;
    s->written += len;
    /* Start writeback without waiting for it, so that the fsync completing
     * the upload finds little left to write (a 1 GiB push otherwise waits
     * ~1 s in that fsync). Advisory only. */
    if (s->written - s->kicked >= WRITEBACK_EVERY) {
        sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        if (s->written / SYNC_AHEAD_EVERY != s->kicked / SYNC_AHEAD_EVERY)
            sync_ahead(s->path);
        s->kicked = s->written;
    }
    return CF_OK;
}

/*
 * The write lane. Writing into the page cache is the largest cost of a
 * push on a machine whose memory is new to it (docs/performance.md), and
 * it was the request thread's. fs_write hands the sealed bytes to an
 * offload lane, whose helper writes them while the request thread
 * receives and seals the next piece. A write the helper could not make is
 * kept and returned by the next write, sync or finish; what was queued
 * after it is dropped (the writer is dead then, and the caller drops the
 * upload). Everything that needs the file as written drains the lane
 * first (lane_drain).
 */
#define LANE_RING ((size_t)512 * 1024)

/* The kept failure, if any, into e. */
static cf_code lane_failed(fstream *s, cf_err *e)
{
    cf_code rc = atomic_load_explicit(&s->wrc, memory_order_acquire);
    if (rc != CF_OK && e != NULL)
        *e = s->werr;
    return rc;
}

static void lane_write(void *cls, const unsigned char *p, size_t len)
{
    fstream *s = cls;
    if (lane_failed(s, NULL) != CF_OK)
        return;
    cf_code rc = write_now(s, p, len, &s->werr);
    if (rc != CF_OK)
        atomic_store_explicit(&s->wrc, rc, memory_order_release);
}

/* Waits until everything queued is written; the first failure, if any. */
static cf_code lane_drain(fstream *s, cf_err *e)
{
    offload_lane_drain(&s->lane);
    return lane_failed(s, e);
}

static cf_code fs_write(void *cls, const void *data, size_t len, cf_err *e)
{
    fstream *s = cls;
    cf_code rc = lane_failed(s, e);
    if (rc != CF_OK)
        return rc;
    size_t queued = offload_lane_feed(&s->lane, data, len);
    if (queued == len)
        return CF_OK;
    rc = lane_failed(s, e); /* the lane is idle: the rest is written here */
    if (rc != CF_OK)
        return rc;
    return write_now(s, (const unsigned char *)data + queued, len - queued, e);
}

static void stream_io(fstream *s, seal_io *io)
{
    *io = seal_io_fd(s->fd);
    io->cls = s;
    io->size = NULL;
    io->readv = NULL;
    io->write = fs_write;
}

static void fs_free(void *p)
{
    fstream *s = p;
    if (s == NULL)
        return;
    offload_lane_destroy(&s->lane);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

static fstream *fs_new(void *self, const char *key)
{
    fstream *s = calloc(1, sizeof(*s));
    if (s) {
        s->f = self;
        s->fd = -1;
        offload_lane_init(&s->lane, LANE_RING, lane_write, s);
        path_of(self, s->path, sizeof(s->path), key);
    }
    return s;
}

static cf_code fs_create(void *self, const char *key, int reuse, void **out, seal_io *io, cf_err *e)
{
    fstream *s = fs_new(self, key);
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = CF_OK;
    if (reuse) {
        s->fd = open(s->path, O_RDWR | O_CLOEXEC);
        if (s->fd < 0)
            rc = cf_err_os(e, errno, "upload %s", key);
        else if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0)
            rc = cf_err_os(e, errno, "reset upload");
    } else {
        s->fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (s->fd < 0)
            rc = cf_err_os(e, errno, "create upload");
    }
    if (rc != CF_OK) {
        fs_free(s);
        return rc;
    }
    stream_io(s, io);
    *out = s;
    return CF_OK;
}

static cf_code fs_sync(void *p, objects_state *st, cf_err *e)
{
    fstream *s = p;
    st->len = 0; /* the file is all there is */
    cf_code rc = lane_drain(s, e);
    if (rc != CF_OK)
        return rc;
    if (fsync(s->fd) != 0)
        return cf_err_os(e, errno, "fsync upload");
    return CF_OK;
}

static void fs_synced(void *p)
{
    (void)p;
}

static cf_code fs_resume(void *self, const char *key, const seal_kek *kek, const unsigned char *hdr,
                         uint64_t durable, const objects_state *st, void **out, seal_io *io,
                         seal_writer **w, cf_err *e)
{
    (void)st;
    *w = NULL;
    fstream *s = fs_new(self, key);
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = CF_OK;
    s->fd = open(s->path, O_RDWR | O_CLOEXEC);
    if (s->fd < 0) {
        rc = cf_err_os(e, errno, "upload %s", key);
        goto out;
    }
    /* drop whatever was appended after the checkpoint */
    uint64_t keep = seal_sealed_size(durable, 0) - SEAL_TAG_BYTES;
    struct stat stt;
    if (fstat(s->fd, &stt) != 0) {
        rc = cf_err_os(e, errno, "stat upload");
        goto out;
    }
    if ((uint64_t)stt.st_size < keep) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload file is shorter than its checkpoint");
        goto out;
    }
    if ((uint64_t)stt.st_size > keep && ftruncate(s->fd, (off_t)keep) != 0) {
        rc = cf_err_os(e, errno, "truncate upload");
        goto out;
    }
    /* authenticates the header and every complete segment on disk */
    uint64_t d2 = 0;
    rc = seal_writer_resume(w, kek, s->fd, &d2, e);
    if (rc != CF_OK)
        goto out;
    if (d2 != durable || (hdr && memcmp(hdr, seal_writer_header(*w), SEAL_HEADER_LEN) != 0)) {
        rc = cf_err_set(e, CF_EINTEGRITY, "upload file does not match its checkpoint");
        goto out;
    }
    s->written = s->kicked = keep;
    stream_io(s, io);
    seal_writer_set_io(*w, io);
out:
    if (rc != CF_OK) {
        seal_writer_free(*w);
        *w = NULL;
        fs_free(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

static cf_code fs_finish(void *p, cf_err *e)
{
    fstream *s = p;
    cf_code rc = lane_drain(s, e);
    if (rc != CF_OK)
        return rc;
    if (fsync(s->fd) != 0)
        return cf_err_os(e, errno, "fsync upload");
    return CF_OK;
}

static cf_code fs_open(void *p, void **h, seal_io *io, cf_err *e)
{
    fstream *s = p;
    cf_code rc = lane_drain(s, e);
    if (rc != CF_OK)
        return rc;
    freader *r = malloc(sizeof(*r));
    if (r == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    r->fd = s->fd;
    r->owned = 0;
    *io = seal_io_fd(s->fd);
    *h = r;
    return CF_OK;
}

static cf_code fs_install(void *p, const char *dst, cf_err *e)
{
    fstream *s = p;
    cf_code lrc = lane_drain(s, e);
    if (lrc != CF_OK)
        return lrc;
    char to[PATH_CAP], dir[PATH_CAP];
    path_of(s->f, to, sizeof(to), dst);
    if (strcmp(to, s->path) == 0)
        return CF_OK;
    snprintf(dir, sizeof(dir), "%s", to);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    cf_code rc = cf_fs_mkdir_p(dir, 0700, e);
    if (rc != CF_OK)
        return rc;
    if (rename(s->path, to) != 0)
        return cf_err_os(e, errno, "install blob");
    rc = cf_fs_fsync_dir(dir, e);
    if (rc == CF_OK)
        rc = cf_fs_fsync_parent(s->path, e);
    snprintf(s->path, sizeof(s->path), "%s", to);
    return rc;
}

static cf_code fs_discard(void *self, const char *key, cf_err *e)
{
    (void)e;
    char p[PATH_CAP];
    path_of(self, p, sizeof(p), key);
    unlink(p);
    char q[PATH_CAP + 8];
    snprintf(q, sizeof(q), "%s.state", p);
    unlink(q);
    /* No fsync of the directory: the removal need not be durable. Should
     * a crash bring the files back, their upload row is gone (or goes with
     * the caller's next transaction) and the janitor sweeps them as
     * orphans; one fsync fewer per pushed blob. */
    return CF_OK;
}

const objects_ops objects_file_ops = {
    .kind = "files",
    .where = f_where,
    .check = f_check,
    .free = f_free,
    .prepare = f_prepare,
    .remove_prefix = f_remove_prefix,
    .open = f_open,
    .close = f_close,
    .io_shareable = 1,
    .put = f_put,
    .stat = f_stat,
    .remove = f_remove,
    .list = f_list,
    .sync_cheap = 1,
    .stream_create = fs_create,
    .stream_sync = fs_sync,
    .stream_synced = fs_synced,
    .stream_resume = fs_resume,
    .stream_finish = fs_finish,
    .stream_open = fs_open,
    .stream_install = fs_install,
    .stream_free = fs_free,
    .stream_discard = fs_discard,
};
