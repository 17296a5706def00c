/*
 * error.c -- records the first failure of a command (see error.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli/error.h"

int cli_fail(cli_err *e, const char *code, const char *fmt, ...)
{
    if (e == NULL || e->set)
        return -1;
    e->set = 1;
    e->usage = 0;
    snprintf(e->code, sizeof(e->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int cli_usage(cli_err *e, const char *fmt, ...)
{
    if (e == NULL || e->set)
        return -1;
    e->set = 1;
    e->usage = 1;
    snprintf(e->code, sizeof(e->code), "UsageError");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}
