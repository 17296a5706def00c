/*
 * error.h -- the one error a coffer command ends with.
 *
 * A usage error (exit 2: the message and the verb's usage go to stderr) or
 * an operational error (exit 1: `ERROR: (<Code>) <message>`, where Code is
 * the server's error code when a server answered). The first failure wins,
 * as with cf_err. Messages never carry a token.
 */
#ifndef CF_CLI_ERROR_H
#define CF_CLI_ERROR_H

typedef struct cli_err {
    int set;
    int usage; /* 1: usage error (exit 2) */
    char code[64];
    char msg[1024];
} cli_err;

/* Records an operational error (exit 1) unless one is recorded; returns -1. */
int cli_fail(cli_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a usage error (exit 2) unless one is recorded; returns -1. */
int cli_usage(cli_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
