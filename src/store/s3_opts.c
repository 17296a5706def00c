/*
 * s3_opts.c -- see s3_opts.h. The credentials file is read whole (64 KiB
 * at most), refused unless 0600, and parsed line by line: "[profile]"
 * sections of "key = value" pairs, '#' and ';' comments. Its buffer and
 * every copy of a secret are wiped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define CF_LOG_MOD "objects"
#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "store/objects.h"
#include "store/s3_opts.h"

int s3_opts_is_s3(const char *v)
{
    return v != NULL && strncmp(v, "s3://", 5) == 0;
}

static char *dup_secret(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static void trim(const char **a, const char **b)
{
    while (*a < *b && isspace((unsigned char)**a))
        (*a)++;
    while (*b > *a && isspace((unsigned char)(*b)[-1]))
        (*b)--;
}

/* Reads the profile's keys from the file at path into l. */
static cf_code load_file(s3_loaded *l, const char *path, cf_err *e)
{
    cf_code rc = cf_fs_check_private(path, e);
    if (rc != CF_OK)
        return rc;
    cf_buf b;
    cf_buf_init(&b, 64 * 1024);
    b.secret = 1;
    rc = cf_fs_read_all(path, 64 * 1024, &b, e);
    if (rc != CF_OK) {
        cf_buf_free(&b);
        return rc;
    }
    const char *profile = getenv("AWS_PROFILE");
    if (profile == NULL || *profile == '\0')
        profile = "default";
    int in = 0;
    const char *p = (const char *)b.data, *end = p + b.len;
    while (p < end && rc == CF_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *a = p, *z = nl ? nl : end;
        p = nl ? nl + 1 : end;
        trim(&a, &z);
        if (a == z || *a == '#' || *a == ';')
            continue;
        if (*a == '[') {
            const char *c = memchr(a, ']', (size_t)(z - a));
            if (c == NULL) {
                rc = cf_err_set(e, CF_EINVAL, "%s: malformed section line", path);
                break;
            }
            const char *na = a + 1, *nz = c;
            trim(&na, &nz);
            /* "[profile x]" (the config file's spelling) names x too */
            if ((size_t)(nz - na) > 8 && strncmp(na, "profile ", 8) == 0) {
                na += 8;
                trim(&na, &nz);
            }
            in = (size_t)(nz - na) == strlen(profile) && strncmp(na, profile, strlen(profile)) == 0;
            continue;
        }
        const char *eq = memchr(a, '=', (size_t)(z - a));
        if (!in || eq == NULL)
            continue;
        const char *ka = a, *kz = eq, *va = eq + 1, *vz = z;
        trim(&ka, &kz);
        trim(&va, &vz);
        char **dst = NULL;
        size_t kl = (size_t)(kz - ka);
        if (kl == 17 && strncmp(ka, "aws_access_key_id", kl) == 0)
            dst = &l->ak;
        else if (kl == 21 && strncmp(ka, "aws_secret_access_key", kl) == 0)
            dst = &l->sk;
        else if (kl == 17 && strncmp(ka, "aws_session_token", kl) == 0)
            dst = &l->token;
        if (dst == NULL)
            continue;
        if (*dst) {
            OPENSSL_cleanse(*dst, strlen(*dst));
            free(*dst);
        }
        if ((*dst = dup_secret(va, (size_t)(vz - va))) == NULL)
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    cf_buf_free(&b);
    if (rc == CF_OK && (l->ak == NULL || l->sk == NULL || !*l->ak || !*l->sk))
        rc = cf_err_set(e, CF_EINVAL,
                        "%s: profile [%s] lacks aws_access_key_id or aws_secret_access_key", path,
                        profile);
    if (rc == CF_OK)
        snprintf(l->source, sizeof(l->source), "%s", path);
    return rc;
}

static cf_code load_credentials(s3_loaded *l, const char *file, cf_err *e)
{
    if (file)
        return load_file(l, file, e);
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        const char *tok = getenv("AWS_SESSION_TOKEN");
        l->ak = dup_secret(ak, strlen(ak));
        l->sk = dup_secret(sk, strlen(sk));
        if (tok && *tok)
            l->token = dup_secret(tok, strlen(tok));
        if (!l->ak || !l->sk || (tok && *tok && !l->token))
            return cf_err_set(e, CF_ENOMEM, "out of memory");
        snprintf(l->source, sizeof(l->source), "environment");
        return CF_OK;
    }
    char path[512];
    const char *shared = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    if (shared && *shared)
        snprintf(path, sizeof(path), "%s", shared);
    else if (home && *home)
        snprintf(path, sizeof(path), "%s/.aws/credentials", home);
    else
        path[0] = '\0';
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (f == NULL)
        return cf_err_set(e, CF_EINVAL,
                          "no S3 credentials: give --s3-credentials FILE, or set "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    fclose(f);
    return load_file(l, path, e);
}

cf_code s3_opts_load(s3_loaded *l, const s3_opts *o, cf_err *e)
{
    memset(l, 0, sizeof(*l));
    if (!s3_opts_is_s3(o->objects))
        return cf_err_set(e, CF_EINVAL, "--objects wants s3://BUCKET[/PREFIX]");
    const char *b = o->objects + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (memchr(b, '@', bl) != NULL || memchr(b, ':', bl) != NULL)
        return cf_err_set(e, CF_EINVAL,
                          "--objects: no credentials in the URL (use "
                          "--s3-credentials or the environment)");
    if (bl == 0 || bl >= sizeof(l->bucket))
        return cf_err_set(e, CF_EINVAL, "--objects: bad bucket name");
    memcpy(l->bucket, b, bl);
    l->bucket[bl] = '\0';
    if (slash && slash[1]) {
        size_t pl = strlen(slash + 1);
        if (pl + 2 > sizeof(l->prefix))
            return cf_err_set(e, CF_EINVAL, "--objects: prefix too long");
        snprintf(l->prefix, sizeof(l->prefix), "%s%s", slash + 1, slash[pl] == '/' ? "" : "/");
    }
    int virtual_host = o->endpoint == NULL;
    if (o->url_style) {
        if (strcmp(o->url_style, "path") == 0)
            virtual_host = 0;
        else if (strcmp(o->url_style, "virtual") == 0)
            virtual_host = 1;
        else
            return cf_err_set(e, CF_EINVAL, "--s3-url-style wants path or virtual");
    }
    cf_code rc = load_credentials(l, o->credentials, e);
    if (rc != CF_OK) {
        s3_opts_free(l);
        return rc;
    }
    l->cfg = (s3_config){.bucket = l->bucket,
                         .prefix = l->prefix,
                         .endpoint = o->endpoint,
                         .region = o->region,
                         .virtual_host = virtual_host,
                         .ca_file = o->ca_file,
                         .access_key = l->ak,
                         .secret_key = l->sk,
                         .session_token = l->token};
    return CF_OK;
}

static void wipe(char **s)
{
    if (*s) {
        OPENSSL_cleanse(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void s3_opts_free(s3_loaded *l)
{
    wipe(&l->ak);
    wipe(&l->sk);
    wipe(&l->token);
}

cf_code s3_opts_store(objects_store **out, const char *data_dir, const s3_opts *o, cf_err *e)
{
    if (o->objects == NULL) {
        cf_code rc = objects_store_files(out, data_dir, e);
        if (rc == CF_OK)
            cf_log(CF_LOG_INFO, "object store open", "backend", "files", "where", data_dir, NULL);
        return rc;
    }
    s3_loaded l;
    cf_code rc = s3_opts_load(&l, o, e);
    if (rc != CF_OK)
        return rc;
    rc = objects_store_s3(out, &l.cfg, e);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "object store open", "backend", "s3", "where",
               objects_store_where(*out), "endpoint", l.cfg.endpoint ? l.cfg.endpoint : "aws",
               "url_style", l.cfg.virtual_host ? "virtual" : "path", "credentials", l.source, NULL);
    s3_opts_free(&l);
    return rc;
}
