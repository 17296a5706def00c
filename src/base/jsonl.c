/*
 * jsonl.c -- see jsonl.h.
 */
#define CF_LOG_MOD "jsonl"
#include "base/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"

struct cf_jsonl {
    pthread_mutex_t mu;
    int fd;
    char *path;
};

cf_code cf_jsonl_open(cf_jsonl **out, const char *path, cf_err *e)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cf_err_os(e, errno, "cannot open log %s", path);
    cf_jsonl *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        close(fd);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    l->fd = fd;
    *out = l;
    return CF_OK;
}

void cf_jsonl_close(cf_jsonl *l)
{
    if (l == NULL)
        return;
    close(l->fd);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}

const char *cf_jsonl_path(const cf_jsonl *l)
{
    return l->path;
}

void cf_jsonl_now(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + w, n - w, ".%03ldZ", ts.tv_nsec / 1000000);
}

cf_code cf_jsonl_append(cf_jsonl *l, const json_t *o, int sync, cf_err *e)
{
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    size_t n = strlen(line);
    line[n] = '\n'; /* replace the NUL: written by length below */
    /* The write is serialized (lines never interleave); the fsync is not:
     * a thread's fdatasync covers its own line and every earlier one, and
     * concurrent fsyncs of one file coalesce in the kernel (group commit). */
    pthread_mutex_lock(&l->mu);
    cf_code rc = cf_fs_write_full(l->fd, line, n + 1, e);
    pthread_mutex_unlock(&l->mu);
    if (rc == CF_OK && sync && fdatasync(l->fd) != 0)
        rc = cf_err_os(e, errno, "log fsync");
    free(line);
    return rc;
}

/* Reads the next line of fp into buf (n bytes) without its newline, never
 * growing: a line that does not fit is consumed and skipped. Returns the
 * line's length, or -1 at the end of the file. */
static ssize_t next_line(FILE *fp, char *buf, size_t n)
{
    for (;;) {
        if (fgets(buf, (int)n, fp) == NULL)
            return -1;
        size_t len = strlen(buf);
        if (len > 0 && buf[len - 1] == '\n') {
            buf[--len] = '\0';
            return (ssize_t)len;
        }
        if (feof(fp))
            return (ssize_t)len; /* a last line without newline */
        /* too long: drop the rest of it, then read on */
        int c;
        while ((c = fgetc(fp)) != EOF && c != '\n')
            ;
    }
}

static int line_matches(const char *line, size_t len, cf_jsonl_match_fn match, void *cls)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    if (o == NULL)
        return 0;
    int ok = json_is_object(o) && json_is_string(json_object_get(o, "time")) &&
             (match == NULL || match(cls, o));
    json_decref(o);
    return ok;
}

cf_code cf_jsonl_tail(const char *path, cf_jsonl_match_fn match, void *cls, size_t limit,
                      cf_buf *out, cf_err *e)
{
    if (limit == 0)
        limit = 100;
    if (limit > CF_JSONL_MAX_LIMIT)
        limit = CF_JSONL_MAX_LIMIT;
    FILE *fp = fopen(path, "re");
    if (fp == NULL && errno == ENOENT)
        return cf_buf_append(out, "{\"value\":[]}", 12, e);
    if (fp == NULL)
        return cf_err_os(e, errno, "cannot read the log %s", path);
    char **ring = calloc(limit, sizeof(*ring));
    char *line = malloc(CF_JSONL_MAX_LINE + 1);
    cf_code rc = CF_OK;
    if (ring == NULL || line == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    size_t count = 0;
    ssize_t n;
    while ((n = next_line(fp, line, CF_JSONL_MAX_LINE + 1)) >= 0) {
        if (n == 0 || !line_matches(line, (size_t)n, match, cls))
            continue;
        char *copy = strdup(line);
        if (copy == NULL) {
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
            goto out;
        }
        free(ring[count % limit]);
        ring[count % limit] = copy;
        count++;
    }
    size_t first = count > limit ? count - limit : 0;
    if ((rc = cf_buf_append(out, "{\"value\":[", 10, e)) != CF_OK)
        goto out;
    for (size_t i = first; i < count; i++) {
        const char *l = ring[i % limit];
        if ((i > first && (rc = cf_buf_append(out, ",", 1, e)) != CF_OK) ||
            (rc = cf_buf_append(out, l, strlen(l), e)) != CF_OK)
            goto out;
    }
    rc = cf_buf_append(out, "]}", 2, e);
out:
    for (size_t i = 0; ring && i < limit; i++)
        free(ring[i]);
    free(ring);
    free(line);
    fclose(fp);
    return rc;
}

const char *cf_jsonl_result(unsigned status)
{
    if (status < 400)
        return "success";
    if (status == 401)
        return "unauthorized";
    if (status == 403)
        return "forbidden";
    return "failure";
}

void cf_jsonl_set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v ? v : ""));
}
