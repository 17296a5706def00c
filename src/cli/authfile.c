/*
 * authfile.c -- credentials into the containers auth file and docker's
 * config (see authfile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "base/fs.h"
#include "cli/authfile.h"

/* an auth file larger than this is not one */
#define AUTHFILE_MAX (4u << 20)

int cli_authfile_path(char *out, size_t n)
{
    const char *f = getenv("REGISTRY_AUTH_FILE");
    const char *x = getenv("XDG_RUNTIME_DIR");
    int w;
    if (f && *f)
        w = snprintf(out, n, "%s", f);
    else if (x && *x)
        w = snprintf(out, n, "%s/containers/auth.json", x);
    else
        w = snprintf(out, n, "/run/containers/%u/auth.json", (unsigned)getuid());
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int cli_docker_config_path(char *out, size_t n)
{
    const char *d = getenv("DOCKER_CONFIG");
    const char *h = getenv("HOME");
    int w;
    if (d && *d)
        w = snprintf(out, n, "%s/config.json", d);
    else if (h && *h)
        w = snprintf(out, n, "%s/.docker/config.json", h);
    else
        return 0;
    if (w < 0 || (size_t)w >= n)
        return -1;
    struct stat st;
    return stat(out, &st) == 0 ? 1 : 0;
}

/* The directory of path, made (0700) when missing. */
static int make_parent(const char *path, cli_err *e)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof(dir))
        return cli_fail(e, "ConfigError", "the path %.200s is too long", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    cf_err fe = {0};
    if (cf_fs_mkdir_p(dir, 0700, &fe) != CF_OK)
        return cli_fail(e, "ConfigError", "cannot create %s: %s", dir, fe.msg);
    return 0;
}

/* The file's JSON object, or a new one when it does not exist. */
static json_t *load(const char *path, cli_err *e)
{
    cf_buf b;
    cf_buf_init(&b, AUTHFILE_MAX);
    cf_err fe = {0};
    if (cf_fs_read_all(path, AUTHFILE_MAX, &b, &fe) != CF_OK) {
        cf_buf_free(&b);
        if (fe.code == CF_ENOTFOUND)
            return json_object();
        cli_fail(e, "ConfigError", "cannot read %s: %s", path, fe.msg);
        return NULL;
    }
    json_error_t je;
    json_t *j = b.len ? json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &je)
                      : json_object();
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    cf_buf_free(&b);
    if (!json_is_object(j) ||
        (json_object_get(j, "auths") && !json_is_object(json_object_get(j, "auths")))) {
        json_decref(j);
        cli_fail(e, "ConfigError",
                 "%s is not an auth file (a JSON object whose \"auths\" is an object); it was "
                 "left unchanged",
                 path);
        return NULL;
    }
    return j;
}

int cli_authfile_store(const char *path, const char *key, const char *user, const char *password,
                       char *creds_store, size_t creds_store_n, cli_err *e)
{
    if (creds_store && creds_store_n)
        creds_store[0] = '\0';
    size_t ul = strlen(user), pl = strlen(password);
    if (ul + 1 + pl > 4096)
        return cli_fail(e, "InvalidRequest", "the credentials are too long");
    if (make_parent(path, e))
        return -1;
    json_t *root = load(path, e);
    if (root == NULL)
        return -1;
    const char *cs = json_string_value(json_object_get(root, "credsStore"));
    if (cs && creds_store && creds_store_n)
        snprintf(creds_store, creds_store_n, "%s", cs);
    unsigned char plain[4097];
    char b64[4 * (sizeof(plain) / 3) + 8];
    memcpy(plain, user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, password, pl);
    EVP_EncodeBlock((unsigned char *)b64, plain, (int)(ul + 1 + pl));
    OPENSSL_cleanse(plain, sizeof(plain));
    json_t *auths = json_object_get(root, "auths");
    if (auths == NULL)
        json_object_set_new(root, "auths", auths = json_object());
    json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64));
    OPENSSL_cleanse(b64, sizeof(b64));
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return cli_fail(e, "OutOfMemory", "out of memory");
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps's NUL becomes the final newline */
    cf_err fe = {0};
    cf_code rc = cf_fs_write_atomic(path, text, len + 1, 0600, &fe);
    OPENSSL_cleanse(text, len + 1);
    free(text);
    if (rc != CF_OK)
        return cli_fail(e, "ConfigError", "cannot write %s: %s", path, fe.msg);
    return 0;
}
