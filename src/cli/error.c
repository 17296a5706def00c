/*
 * error.c -- records the first failure of a command (see error.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli/error.h"

/* An error is one line: a server's message may hold line breaks (Key
 * Vault's firewall refusal is "…service.\r\nClient address: …"); each
 * CRLF, CR, LF or other control character becomes one space. */
static void one_line(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if ((unsigned char)*r >= 0x20) {
            *w++ = *r;
        } else {
            if (*r == '\r' && r[1] == '\n')
                r++;
            *w++ = ' ';
        }
    }
    *w = '\0';
}

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
    one_line(e->code);
    one_line(e->msg);
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
