/*
 * authfile.h -- where `coffer acr login` leaves a registry's credentials:
 * the containers auth file that podman, skopeo and buildah read
 * (containers-auth.json(5)), and docker's config.json when there is one.
 *
 * Both are one JSON object with an "auths" object, keyed by registry:
 * {"auths":{"127.0.0.1:5000/myregistry":{"auth":"<base64 of user:password>"}}}.
 * The containers file accepts a key with a path, which then serves only
 * image references under it: a login to `HOST:PORT/REGISTRY` (coffer's
 * path routing) does not leak to another registry on the same host.
 * docker keys credentials by host alone.
 *
 * A file is changed by writing a whole new one beside it (mode 0600,
 * fsync) and renaming it over the old; every other member and entry is
 * kept as it was. A file that is not a JSON object is refused and left
 * alone. Base64 of the credentials is wiped from memory after use.
 */
#ifndef CF_CLI_AUTHFILE_H
#define CF_CLI_AUTHFILE_H

#include <stddef.h>

#include "cli/error.h"

/* The containers auth file: $REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json, else
 * /run/containers/<uid>/auth.json (what podman and skopeo use). 0, or -1
 * when the path does not fit. */
int cli_authfile_path(char *out, size_t n);

/* docker's config: $DOCKER_CONFIG/config.json, else
 * $HOME/.docker/config.json. 1 when that file exists, 0 when not, -1 when
 * the path does not fit. */
int cli_docker_config_path(char *out, size_t n);

/* Sets auths[key] to user:password in the file at path (created, with its
 * directory 0700, when missing). creds_store (may be NULL, n >= 1)
 * receives the file's "credsStore" ("" when none): docker then reads
 * credentials from that helper, not from the file. */
int cli_authfile_store(const char *path, const char *key, const char *user, const char *password,
                       char *creds_store, size_t creds_store_n, cli_err *e);

#endif
