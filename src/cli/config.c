/*
 * config.c -- reads the coffer client's configuration file and environment
 * (see config.h for the format and the precedence).
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/armid.h"
#include "base/buf.h"
#include "base/fs.h"
#include "cli/config.h"

#define CONFIG_CAP (64 * 1024)
#define TOKEN_CAP 4096

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void cli_config_free(cli_config *c)
{
    if (c == NULL)
        return;
    free(c->url);
    wipe_free(c->token);
    free(c->ca);
    free(c->vault_url);
    wipe_free(c->vault_token);
    free(c->vault_ca);
    free(c->vault_domain);
    free(c->token_file);
    free(c->vault_token_file);
    free(c->subscription);
    free(c->group);
    free(c->location);
    memset(c, 0, sizeof(*c));
}

/* Replaces *slot with a copy of v (the old value wiped when secret). */
static int set_str(char **slot, const char *v, size_t n, int secret, cli_err *e)
{
    char *s = strndup(v, n);
    if (s == NULL)
        return cli_fail(e, "OutOfMemory", "out of memory");
    if (secret)
        wipe_free(*slot);
    else
        free(*slot);
    *slot = s;
    return 0;
}

static int defaults(cli_config *c, cli_err *e)
{
    if (c->url == NULL && set_str(&c->url, CLI_DEFAULT_URL, strlen(CLI_DEFAULT_URL), 0, e))
        return -1;
    if (c->vault_url == NULL &&
        set_str(&c->vault_url, CLI_DEFAULT_VAULT_URL, strlen(CLI_DEFAULT_VAULT_URL), 0, e))
        return -1;
    if (c->vault_domain == NULL &&
        set_str(&c->vault_domain, CLI_DEFAULT_VAULT_DOMAIN, strlen(CLI_DEFAULT_VAULT_DOMAIN), 0, e))
        return -1;
    return 0;
}

/* The setting named key (n bytes): its slot and whether it is a secret. */
static char **slot_of(cli_config *c, const char *key, size_t n, int *secret)
{
    static const struct {
        const char *name;
        size_t off;
        int secret;
    } keys[] = {
        {"url", offsetof(cli_config, url), 0},
        {"token", offsetof(cli_config, token), 1},
        {"token_file", offsetof(cli_config, token_file), 0},
        {"ca", offsetof(cli_config, ca), 0},
        {"vault_url", offsetof(cli_config, vault_url), 0},
        {"vault_token", offsetof(cli_config, vault_token), 1},
        {"vault_token_file", offsetof(cli_config, vault_token_file), 0},
        {"vault_ca", offsetof(cli_config, vault_ca), 0},
        {"vault_domain", offsetof(cli_config, vault_domain), 0},
        {"subscription", offsetof(cli_config, subscription), 0},
        {"group", offsetof(cli_config, group), 0},
        {"location", offsetof(cli_config, location), 0},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].name) == n && memcmp(keys[i].name, key, n) == 0) {
            *secret = keys[i].secret;
            return (char **)((char *)c + keys[i].off);
        }
    }
    return NULL;
}

int cli_config_parse(cli_config *c, const char *text, const char *path, cli_err *e)
{
    int has_token = 0, has_token_file = 0, has_vtoken = 0, has_vtoken_file = 0;
    const char *p = text;
    for (int line = 1; *p; line++) {
        const char *eol = strchr(p, '\n');
        const char *end = eol ? eol : p + strlen(p);
        const char *b = p, *t = end;
        p = eol ? eol + 1 : end;
        while (b < t && isspace((unsigned char)*b))
            b++;
        while (t > b && isspace((unsigned char)t[-1]))
            t--;
        if (b == t || *b == '#')
            continue;
        const char *eq = memchr(b, '=', (size_t)(t - b));
        if (eq == NULL)
            return cli_fail(e, "ConfigError", "%s:%d: expected 'key = value'", path, line);
        const char *ke = eq, *vb = eq + 1;
        while (ke > b && isspace((unsigned char)ke[-1]))
            ke--;
        while (vb < t && isspace((unsigned char)*vb))
            vb++;
        int secret = 0;
        char **slot = slot_of(c, b, (size_t)(ke - b), &secret);
        if (slot == NULL)
            return cli_fail(e, "ConfigError", "%s:%d: unknown key '%.*s'", path, line,
                            (int)(ke - b > 64 ? 64 : ke - b), b);
        if (vb == t)
            return cli_fail(e, "ConfigError", "%s:%d: '%.*s' has no value", path, line,
                            (int)(ke - b), b);
        if (set_str(slot, vb, (size_t)(t - vb), secret, e))
            return -1;
        has_token |= slot == &c->token;
        has_token_file |= slot == &c->token_file;
        has_vtoken |= slot == &c->vault_token;
        has_vtoken_file |= slot == &c->vault_token_file;
    }
    if (has_token && has_token_file)
        return cli_fail(e, "ConfigError", "%s: give token or token_file, not both", path);
    if (has_vtoken && has_vtoken_file)
        return cli_fail(e, "ConfigError", "%s: give vault_token or vault_token_file, not both",
                        path);
    return 0;
}

static int env_override(char **slot, const char *var, int secret, cli_err *e)
{
    const char *v = getenv(var);
    if (v == NULL || *v == '\0')
        return 0;
    return set_str(slot, v, strlen(v), secret, e);
}

/* Reads a token file into *slot (trailing whitespace dropped). */
static int read_token(char **slot, const char *file, const char *what, cli_err *e)
{
    cf_buf b;
    cf_err ce = {0};
    int rc = 0;
    cf_buf_init(&b, TOKEN_CAP);
    b.secret = 1;
    if (cf_fs_read_all(file, TOKEN_CAP, &b, &ce) != CF_OK) {
        rc = cli_fail(e, "ConfigError", "cannot read the %s file: %s", what, ce.msg);
        goto out;
    }
    size_t n = b.len;
    while (n > 0 && isspace(b.data[n - 1]))
        n--;
    if (n == 0 || memchr(b.data, '\0', n) != NULL) {
        rc = cli_fail(e, "ConfigError", "the %s file %s is empty or not text", what, file);
        goto out;
    }
    rc = set_str(slot, (const char *)b.data, n, 1, e);
out:
    cf_buf_free(&b);
    return rc;
}

static int check_url(const char *v, const char *what, int https_only, cli_err *e)
{
    if (strncmp(v, "https://", 8) == 0 && v[8] != '\0')
        return 0;
    if (!https_only && strncmp(v, "http://", 7) == 0 && v[7] != '\0')
        return 0;
    return cli_fail(e, "ConfigError", "%s '%.200s' is not an %s URL", what, v,
                    https_only ? "https://" : "http:// or https://");
}

/* The config file's path into out ("" when there is none to read);
 * *named = 1 when COFFER_CONFIG names it. */
static void config_path(char *out, size_t cap, int *named)
{
    const char *path = getenv("COFFER_CONFIG");
    *named = path != NULL && *path != '\0';
    out[0] = '\0';
    if (*named) {
        snprintf(out, cap, "%s", path);
    } else {
        const char *home = getenv("HOME");
        if (home && *home)
            snprintf(out, cap, "%s/.config/coffer/config", home);
    }
}

int cli_config_file(char *out, size_t cap, cli_err *e)
{
    int named;
    config_path(out, cap, &named);
    if (out[0] == '\0')
        return cli_fail(e, "ConfigError", "no config file: set COFFER_CONFIG or HOME");
    return 0;
}

int cli_config_write(const char *key, const char *value, cli_err *e)
{
    char path[512];
    int rc = -1;
    if (cli_config_file(path, sizeof(path), e))
        return -1;
    cf_buf in, out;
    cf_err ce = {0};
    cf_buf_init(&in, CONFIG_CAP);
    cf_buf_init(&out, CONFIG_CAP);
    in.secret = out.secret = 1; /* it may hold tokens */
    cf_code frc = cf_fs_read_all(path, CONFIG_CAP, &in, &ce);
    if (frc != CF_OK && frc != CF_ENOTFOUND) {
        cli_fail(e, "ConfigError", "cannot read the config file: %s", ce.msg);
        goto out;
    }
    /* every line but key's, then key's at the end */
    const char *p = in.data ? (const char *)in.data : "", *end = p + in.len;
    size_t kn = strlen(key);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *b = p;
        while (b < le && isspace((unsigned char)*b))
            b++;
        const char *k = b;
        while (k < le && !isspace((unsigned char)*k) && *k != '=')
            k++;
        int is_key = (size_t)(k - b) == kn && memcmp(b, key, kn) == 0;
        if (!is_key && (cf_buf_append(&out, p, (size_t)(le - p), &ce) != CF_OK ||
                        cf_buf_append(&out, "\n", 1, &ce) != CF_OK))
            goto oom;
        p = eol ? eol + 1 : end;
    }
    if (value && *value) {
        if (strchr(value, '\n') != NULL) {
            cli_usage(e, "a value cannot hold a line break");
            goto out;
        }
        if (cf_buf_append(&out, key, kn, &ce) != CF_OK ||
            cf_buf_append(&out, " = ", 3, &ce) != CF_OK ||
            cf_buf_append(&out, value, strlen(value), &ce) != CF_OK ||
            cf_buf_append(&out, "\n", 1, &ce) != CF_OK)
            goto oom;
    }
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (cf_fs_mkdir_p(dir, 0700, &ce) != CF_OK) {
            cli_fail(e, "ConfigError", "cannot create %s: %s", dir, ce.msg);
            goto out;
        }
    }
    if (cf_fs_write_atomic(path, out.data ? out.data : (const unsigned char *)"", out.len, 0600,
                           &ce) != CF_OK) {
        cli_fail(e, "ConfigError", "cannot write the config file: %s", ce.msg);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    cli_fail(e, "OutOfMemory", "out of memory");
out:
    cf_buf_free(&in);
    cf_buf_free(&out);
    return rc;
}

int cli_config_load(cli_config *c, cli_err *e)
{
    memset(c, 0, sizeof(*c));
    int named;
    config_path(c->path, sizeof(c->path), &named);
    if (c->path[0]) {
        cf_buf b;
        cf_err ce = {0};
        cf_buf_init(&b, CONFIG_CAP);
        b.secret = 1; /* it may hold tokens */
        cf_code rc = cf_fs_read_all(c->path, CONFIG_CAP, &b, &ce);
        if (rc == CF_OK) {
            int prc = cli_config_parse(c, b.data ? (const char *)b.data : "", c->path, e);
            cf_buf_free(&b);
            if (prc)
                goto fail;
        } else {
            cf_buf_free(&b);
            if (named || rc != CF_ENOTFOUND) {
                cli_fail(e, "ConfigError", "cannot read the config file: %s", ce.msg);
                goto fail;
            }
            c->path[0] = '\0';
        }
    }
    if (env_override(&c->url, "COFFER_URL", 0, e) ||
        env_override(&c->token, "COFFER_TOKEN", 1, e) || env_override(&c->ca, "COFFER_CA", 0, e) ||
        env_override(&c->vault_url, "COFFER_VAULT_URL", 0, e) ||
        env_override(&c->vault_token, "COFFER_VAULT_TOKEN", 1, e) ||
        env_override(&c->vault_ca, "COFFER_VAULT_CA", 0, e) ||
        env_override(&c->vault_domain, "COFFER_VAULT_DOMAIN", 0, e) ||
        env_override(&c->subscription, "COFFER_SUBSCRIPTION", 0, e) ||
        env_override(&c->group, "COFFER_DEFAULTS_GROUP", 0, e) ||
        env_override(&c->location, "COFFER_DEFAULTS_LOCATION", 0, e) || defaults(c, e))
        goto fail;
    if (c->subscription && !arm_uuid_valid(c->subscription)) {
        cli_fail(e, "ConfigError", "subscription '%.64s' is not a subscription id (a UUID)",
                 c->subscription);
        goto fail;
    }
    if (c->group && !arm_group_name_valid(c->group)) {
        cli_fail(e, "ConfigError", "group '%.100s' is not a resource group name", c->group);
        goto fail;
    }
    if (c->token == NULL && c->token_file && read_token(&c->token, c->token_file, "token", e))
        goto fail;
    if (c->vault_token == NULL && c->vault_token_file &&
        read_token(&c->vault_token, c->vault_token_file, "vault token", e))
        goto fail;
    if (check_url(c->url, "url", 0, e) || check_url(c->vault_url, "vault_url", 1, e))
        goto fail;
    /* no trailing slash: paths are appended */
    for (char *u = c->url; *u && u[strlen(u) - 1] == '/';)
        u[strlen(u) - 1] = '\0';
    for (char *u = c->vault_url; *u && u[strlen(u) - 1] == '/';)
        u[strlen(u) - 1] = '\0';
    return 0;
fail:
    cli_config_free(c);
    return -1;
}

static int vault_name_ok(const char *s)
{
    if (*s == '\0' || strlen(s) > 63)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-')
            return 0;
    return 1;
}

int cli_config_vault_name_check(const char *name, cli_err *e)
{
    if (!vault_name_ok(name))
        return cli_usage(e,
                         "argument --vault-name: '%.64s' is not a vault name "
                         "(letters, digits and '-')",
                         name);
    return 0;
}

int cli_config_vault_base(const cli_config *c, const char *name, char **out, cli_err *e)
{
    *out = NULL;
    if (cli_config_vault_name_check(name, e))
        return -1;
    if (strcasecmp(name, "default") == 0) {
        *out = strdup(c->vault_url);
        return *out ? 0 : cli_fail(e, "OutOfMemory", "out of memory");
    }
    /* https://host[:port][/...] with host possibly [v6] */
    const char *h = c->vault_url + strlen("https://");
    const char *port = NULL;
    size_t port_len = 0;
    const char *p = h;
    if (*p == '[') {
        p = strchr(p, ']');
        p = p ? p + 1 : h + strlen(h);
    } else {
        p += strcspn(p, ":/");
    }
    if (*p == ':') {
        port = p + 1;
        port_len = strcspn(port, "/");
    }
    size_t n = strlen(name) + strlen(c->vault_domain) + port_len + 16;
    char *u = malloc(n);
    if (u == NULL)
        return cli_fail(e, "OutOfMemory", "out of memory");
    if (port && port_len)
        snprintf(u, n, "https://%s.%s:%.*s", name, c->vault_domain, (int)port_len, port);
    else
        snprintf(u, n, "https://%s.%s", name, c->vault_domain);
    *out = u;
    return 0;
}
