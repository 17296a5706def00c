/*
 * err.c -- see err.h. Messages are truncated to fit cf_err.msg; a truncated
 * message is still a valid NUL-terminated string.
 */
#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

cf_code cf_err_vset(cf_err *e, cf_code code, const char *fmt, va_list ap)
{
    if (e == NULL || e->code != CF_OK)
        return code;
    e->code = code;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    return code;
}

cf_code cf_err_set(cf_err *e, cf_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

static void append(cf_err *e, const char *suffix)
{
    size_t n = strlen(e->msg);
    if (n < sizeof(e->msg) - 1)
        snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", suffix);
}

cf_code cf_err_os(cf_err *e, int errno_value, const char *fmt, ...)
{
    cf_code code = CF_EIO;
    if (errno_value == ENOSPC || errno_value == EDQUOT)
        code = CF_ENOSPACE;
    else if (errno_value == ENOENT)
        code = CF_ENOTFOUND;
    else if (errno_value == ENOMEM)
        code = CF_ENOMEM;
    if (e == NULL || e->code != CF_OK)
        return code;
    va_list ap;
    va_start(ap, fmt);
    cf_err_vset(e, code, fmt, ap);
    va_end(ap);
    char buf[128];
    append(e, strerror_r(errno_value, buf, sizeof(buf))); /* GNU variant: returns the text */
    return code;
}

cf_code cf_err_ssl(cf_err *e, const char *fmt, ...)
{
    unsigned long l = ERR_get_error();
    ERR_clear_error();
    if (e == NULL || e->code != CF_OK)
        return CF_ECRYPTO;
    va_list ap;
    va_start(ap, fmt);
    cf_err_vset(e, CF_ECRYPTO, fmt, ap);
    va_end(ap);
    if (l != 0) {
        char buf[128];
        ERR_error_string_n(l, buf, sizeof(buf));
        append(e, buf);
    }
    return CF_ECRYPTO;
}

void cf_err_clear(cf_err *e)
{
    if (e) {
        e->code = CF_OK;
        e->msg[0] = '\0';
    }
}

const char *cf_code_name(cf_code code)
{
    switch (code) {
    case CF_OK:
        return "OK";
    case CF_ENOMEM:
        return "ENOMEM";
    case CF_EINVAL:
        return "EINVAL";
    case CF_ENOTFOUND:
        return "ENOTFOUND";
    case CF_EEXISTS:
        return "EEXISTS";
    case CF_ETOOBIG:
        return "ETOOBIG";
    case CF_EIO:
        return "EIO";
    case CF_ECRYPTO:
        return "ECRYPTO";
    case CF_EINTEGRITY:
        return "EINTEGRITY";
    case CF_ERANGE:
        return "ERANGE";
    case CF_EUNSUPPORTED:
        return "EUNSUPPORTED";
    case CF_EDENIED:
        return "EDENIED";
    case CF_EUNAVAIL:
        return "EUNAVAIL";
    case CF_EAUTH:
        return "EAUTH";
    case CF_ENOSPACE:
        return "ENOSPACE";
    case CF_ECONFLICT:
        return "ECONFLICT";
    }
    return "EUNKNOWN";
}
