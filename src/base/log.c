/*
 * log.c -- see log.h. A line is formatted into a stack buffer and written
 * with one write(2), so concurrent threads never interleave within a line.
 * Overlong lines are cut and still closed as valid JSON.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

cf_log_level cf_log_threshold = CF_LOG_INFO;

static const char *level_name(cf_log_level l)
{
    switch (l) {
    case CF_LOG_DEBUG:
        return "debug";
    case CF_LOG_INFO:
        return "info";
    case CF_LOG_WARN:
        return "warn";
    case CF_LOG_ERROR:
        return "error";
    default:
        return "off";
    }
}

int cf_log_level_parse(const char *name, cf_log_level *out)
{
    for (int l = CF_LOG_DEBUG; l <= CF_LOG_OFF; l++) {
        if (strcmp(name, level_name((cf_log_level)l)) == 0) {
            *out = (cf_log_level)l;
            return 0;
        }
    }
    return -1;
}

typedef struct {
    char *p;
    size_t len, cap;
} line;

static void put(line *b, const char *s, size_t n)
{
    if (n > b->cap - b->len)
        n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_str(line *b, const char *s)
{
    put(b, s, strlen(s));
}

/* JSON string body; control characters and non-ASCII bytes that are not
 * part of the string are escaped so the line stays one valid JSON object. */
static void put_json(line *b, const char *s)
{
    put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            put(b, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *c);
            put_str(b, esc);
        } else {
            put(b, (const char *)c, 1);
        }
    }
    put(b, "\"", 1);
}

void cf_log_emit(cf_log_level level, const char *mod, const char *msg, ...)
{
    char buf[4096];
    /* reserve room for the closing "}\n" */
    line b = {buf, 0, sizeof(buf) - 2};
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%03ldZ", ts.tv_nsec / 1000000);

    put_str(&b, "{\"ts\":");
    put_json(&b, when);
    put_str(&b, ",\"level\":");
    put_json(&b, level_name(level));
    put_str(&b, ",\"mod\":");
    put_json(&b, mod);
    put_str(&b, ",\"msg\":");
    put_json(&b, msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        put_str(&b, ",");
        put_json(&b, k);
        put_str(&b, ":");
        put_json(&b, v ? v : "");
    }
    va_end(ap);
    b.cap += 2;
    put(&b, "}\n", 2);
    ssize_t r = write(STDERR_FILENO, buf, b.len);
    (void)r;
}
