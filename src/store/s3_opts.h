/*
 * s3_opts.h -- from cofferd's flags to an S3 configuration (s3.h): the
 * `--objects s3://BUCKET[/PREFIX]` URL, the endpoint, region, URL style
 * and CA file, and the credentials, which never come from the command
 * line: a credentials file (the AWS shared format, 0600:
 * "[default]\naws_access_key_id = ...\naws_secret_access_key = ...", the
 * profile AWS_PROFILE or "default"), else the standard environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), else
 * AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.
 */
#ifndef CF_STORE_S3_OPTS_H
#define CF_STORE_S3_OPTS_H

#include "base/err.h"
#include "store/s3.h"

typedef struct s3_opts {
    const char *objects;     /* "s3://bucket[/prefix]" */
    const char *endpoint;    /* --s3-endpoint */
    const char *region;      /* --s3-region */
    const char *url_style;   /* --s3-url-style path|virtual (NULL: path with an endpoint) */
    const char *ca_file;     /* --s3-ca */
    const char *credentials; /* --s3-credentials FILE */
} s3_opts;

/* What s3_opts_load fills: the config points into it (owned; secrets
 * wiped by s3_opts_free). */
typedef struct s3_loaded {
    s3_config cfg;
    char bucket[64];
    char prefix[512];
    char *ak, *sk, *token;
    char source[600]; /* where the credentials came from (a path or "environment") */
} s3_loaded;

/* 1 when v names an S3 store ("s3://..."). */
int s3_opts_is_s3(const char *v);
cf_code s3_opts_load(s3_loaded *out, const s3_opts *o, cf_err *e);
void s3_opts_free(s3_loaded *l);

typedef struct objects_store objects_store;
/* The object store the flags name: the S3 bucket of o->objects (logged
 * with where its credentials came from, never them), or, without it,
 * files under data_dir. */
cf_code s3_opts_store(objects_store **out, const char *data_dir, const s3_opts *o, cf_err *e);

#endif
