/*
 * imageref.c -- image references of the acr verbs (see imageref.h).
 */
#include <string.h>

#include "cli/imageref.h"

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int digest_ok(const char *d)
{
    size_t n = strlen(d);
    if (strncmp(d, "sha256:", 7) == 0)
        return n == 7 + 64 && is_hex(d + 7, 64);
    if (strncmp(d, "sha512:", 7) == 0)
        return n == 7 + 128 && is_hex(d + 7, 128);
    return 0;
}

static int tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok)
            return 0;
    }
    return 1;
}

int cli_image_parse(cli_image *out, const char *s, int allow_digest, int default_latest,
                    const char *what, cli_err *e)
{
    memset(out, 0, sizeof(*out));
    if (!allow_digest && strchr(s, '@'))
        return cli_usage(e, "argument %s: a digest is not allowed here: '%.200s'", what, s);
    const char *at = allow_digest ? strchr(s, '@') : NULL;
    const char *slash = strrchr(s, '/');
    const char *colon = strrchr(s, ':');
    size_t name_len;
    if (at) {
        name_len = (size_t)(at - s);
        if (strlen(at + 1) >= sizeof(out->digest) || !digest_ok(at + 1))
            return cli_usage(e,
                             "argument %s: '%.200s' is not NAME@DIGEST with a digest "
                             "sha256:<64 hex digits>",
                             what, s);
        memcpy(out->digest, at + 1, strlen(at + 1) + 1);
    } else if (colon && (slash == NULL || colon > slash)) {
        name_len = (size_t)(colon - s);
        if (!tag_ok(colon + 1))
            return cli_usage(e, "argument %s: '%.200s' has no valid tag after ':'", what, s);
        memcpy(out->tag, colon + 1, strlen(colon + 1) + 1);
    } else {
        name_len = strlen(s);
        if (default_latest)
            memcpy(out->tag, "latest", 7);
    }
    if (name_len == 0 || name_len >= sizeof(out->name) || s[name_len - 1] == '/')
        return cli_usage(e, "argument %s: '%.200s' names no repository", what, s);
    memcpy(out->name, s, name_len);
    out->name[name_len] = '\0';
    return 0;
}

static const char *skip_scheme(const char *name)
{
    if (strncmp(name, "https://", 8) == 0)
        return name + 8;
    if (strncmp(name, "http://", 7) == 0)
        return name + 7;
    return name;
}

int cli_image_has_host(const char *name)
{
    name = skip_scheme(name);
    const char *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name);
    if (n == 9 && strncmp(name, "localhost", 9) == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '.' || name[i] == ':')
            return 1;
    return 0;
}

int cli_image_split(const char *name, const char *const *login_servers,
                    const char *const *reg_names, size_t n, const char **reg, size_t *reg_len,
                    const char **repo, cli_err *e)
{
    const char *s = skip_scheme(name);
    if (!cli_image_has_host(s)) {
        const char *slash = strchr(s, '/');
        if (slash == NULL || slash == s || slash[1] == '\0')
            return cli_usage(
                e,
                "'%.200s' names no registry: give --registry/-r, or REGISTRY/REPOSITORY, "
                "or the registry's login server then /REPOSITORY",
                name);
        *reg = s;
        *reg_len = (size_t)(slash - s);
        *repo = slash + 1;
        return 0;
    }
    size_t best = 0, which = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(login_servers[i]);
        if (l > best && strncmp(s, login_servers[i], l) == 0 && s[l] == '/' && s[l + 1] != '\0') {
            best = l;
            which = i;
        }
    }
    if (best == 0)
        return cli_fail(e, "RegistryNotFound",
                        "'%.200s' starts with no registry's login server (coffer acr list "
                        "--query [].properties.loginServer)",
                        name);
    *reg = reg_names[which];
    *reg_len = strlen(reg_names[which]);
    *repo = s + best + 1;
    return 0;
}
