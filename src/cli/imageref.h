/*
 * imageref.h -- image references as az's acr verbs take them, and how a
 * reference names its registry.
 *
 * `--image app:v1`, `--image app@sha256:…`, `acr manifest delete -n
 * team/app:v1`: a name, then a tag after the last '/' (":v1") or a digest
 * ("@sha256:…"); az's parse_image_name, with az's default tag `latest`
 * where az has one. Without `--registry`, the name starts with its
 * registry: `myregistry/team/app@sha256:…`, or the registry's login server
 * as `coffer acr show` prints it, `127.0.0.1:5000/myregistry/team/app`
 * (path routing) or `myregistry.registry.example/team/app` (--login-domain),
 * optionally after https://. A login server is told from a registry name
 * by having a '.' or ':' or being `localhost`, and is matched against the
 * registries' login servers (cli_image_split). Pure functions.
 */
#ifndef CF_CLI_IMAGEREF_H
#define CF_CLI_IMAGEREF_H

#include <stddef.h>

#include "cli/error.h"

typedef struct cli_image {
    char name[512];   /* before the tag or digest */
    char tag[129];    /* "" when none */
    char digest[140]; /* "sha256:<64 hex>" or "sha512:<128 hex>"; "" when none */
} cli_image;

/* Parses s. allow_digest: "@DIGEST" may follow the name (else a usage
 * error); default_latest: no tag and no digest means tag "latest". Usage
 * errors (exit 2) name the option `what` ("--image"). */
int cli_image_parse(cli_image *out, const char *s, int allow_digest, int default_latest,
                    const char *what, cli_err *e);

/* 1 when the first '/'-separated component of name is a host (it has a
 * '.' or ':', or is "localhost"), after an optional https:// or http://. */
int cli_image_has_host(const char *name);

/* The registry and repository a name (without --registry) names:
 * "REG/REPO", or a login server of login_servers[i] followed by "/REPO"
 * (the longest that matches; registry reg_names[i]). *reg and *repo point
 * into name or reg_names. Usage error when there is no repository, or a
 * host that is no registry's login server. */
int cli_image_split(const char *name, const char *const *login_servers,
                    const char *const *reg_names, size_t n, const char **reg, size_t *reg_len,
                    const char **repo, cli_err *e);

#endif
