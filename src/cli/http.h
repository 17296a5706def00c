/*
 * http.h -- one JSON request/response exchange over libcurl, for the coffer
 * client.
 *
 * The body is JSON (or none); the answer is parsed as JSON when it is not
 * empty. A status of 400 or more becomes an error whose code and message
 * come from the server's `{"error":{"code","message"}}` body (both cofferd
 * and keyvaultd answer that way); a connection or TLS failure becomes
 * `ConnectionError` with curl's reason. The bearer token goes only into the
 * Authorization header, never into a message. TLS 1.2 or newer; peers are
 * verified (a CA file may replace the system bundle) unless `insecure`
 * (the --insecure option); redirects are not followed.
 */
#ifndef CF_CLI_HTTP_H
#define CF_CLI_HTTP_H

#include <jansson.h>

#include "cli/error.h"

int cli_http_call(const char *method, const char *url, const char *token, const char *ca,
                  int insecure, const json_t *body, long *status, json_t **out, cli_err *e);

/* A path segment percent-encoded (caller frees), so a name can never change
 * the path or query; NULL when out of memory. */
char *cli_http_escape(const char *seg);

#endif
