/*
 * err.h -- errors as values (libgit2's rule, curl's first-error-wins).
 *
 * Every fallible function returns 0 (CF_OK) or a negative cf_code and, when
 * the caller passed a cf_err, leaves a one-line human message in it. The
 * first failure wins: cf_err_set() does nothing once a code is recorded, so
 * the deepest, most specific message survives the unwinding. Library
 * modules never print; the edge (an HTTP handler, a main) logs once.
 */
#ifndef CF_BASE_ERR_H
#define CF_BASE_ERR_H

#include <stdarg.h>

typedef enum {
    CF_OK = 0,
    CF_ENOMEM = -1,
    CF_EINVAL = -2, /* malformed input */
    CF_ENOTFOUND = -3,
    CF_EEXISTS = -4,
    CF_ETOOBIG = -5,
    CF_EIO = -6,        /* filesystem / OS */
    CF_ECRYPTO = -7,    /* libcrypto failed (not the data) */
    CF_EINTEGRITY = -8, /* authentication of stored or received data failed */
    CF_ERANGE = -9,     /* requested range not satisfiable / out of order */
    CF_EUNSUPPORTED = -10,
    CF_EDENIED = -11,   /* authenticated but not allowed */
    CF_EUNAVAIL = -12,  /* a dependency (vault, key) is unavailable */
    CF_EAUTH = -13,     /* not authenticated */
    CF_ENOSPACE = -14,  /* disk full */
    CF_ECONFLICT = -15, /* state does not allow the operation */
} cf_code;

typedef struct cf_err {
    cf_code code;
    char msg[256];
} cf_err;

/* Records code and message unless e is NULL or already holds an error.
 * Returns code, so callers can write `return cf_err_set(e, CF_EINVAL, ...)`. */
cf_code cf_err_set(cf_err *e, cf_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
cf_code cf_err_vset(cf_err *e, cf_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like cf_err_set, appending ": <strerror(errno_value)>". Maps ENOSPC/EDQUOT
 * to CF_ENOSPACE and ENOENT to CF_ENOTFOUND. */
cf_code cf_err_os(cf_err *e, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cf_err_set with CF_ECRYPTO, appending the first queued OpenSSL error
 * (and clearing the queue). */
cf_code cf_err_ssl(cf_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void cf_err_clear(cf_err *e);

/* A stable short name for a code ("EINVAL"), for logs and tests. */
const char *cf_code_name(cf_code code);

#endif
