/*
 * test_s3.c -- the S3 client (s3.h) and its configuration (s3_opts.h).
 *
 * Always: the listing XML reader (entities, bounds, malformed input), query
 * encoding, the `--objects` URL and the credentials' sources (a 0600 AWS
 * credentials file and its profiles, the environment; never the URL).
 * With COFFER_TEST_S3 (tests/fixtures/rgw-fixture, a real radosgw): a
 * bucket created when missing, ranged reads, a copy in parts, a multipart
 * upload checked part by part, virtual-host URLs, https with the CA file
 * (and refused without it), and a wrong secret refused without the secret
 * in the message.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../test_objects.h"
#include "../test_tmpdir.h"
#include "store/s3.h"
#include "store/s3_opts.h"

/* ---- XML ---- */

Test(store_s3, xml_reads_elements_and_decodes_entities)
{
    const char *x = "<R><Contents><Key>a&amp;b&lt;c&gt;&quot;&apos;</Key><Size>12</Size></Contents>"
                    "<Contents><Key>z</Key></Contents><IsTruncated>false</IsTruncated></R>";
    size_t len = strlen(x), pos = 0, s = 0;
    char out[64];
    size_t end = s3_xml_element(x, len, 0, "Contents", &s);
    cr_assert(end > 0);
    cr_assert_eq(s3_xml_next(x, len, &pos, end, "Key", out, sizeof(out)), 1);
    cr_assert_str_eq(out, "a&b<c>\"'");
    cr_assert_eq(s3_xml_next(x, len, &pos, end, "Key", out, sizeof(out)), 0,
                 "the limit stops the search at the element's end");
    pos = end;
    cr_assert_eq(s3_xml_next(x, len, &pos, len, "Key", out, sizeof(out)), 1);
    cr_assert_str_eq(out, "z");
    pos = 0;
    cr_assert_eq(s3_xml_next(x, len, &pos, len, "IsTruncated", out, sizeof(out)), 1);
    cr_assert_str_eq(out, "false");
}

Test(store_s3, xml_refuses_what_does_not_fit_or_is_malformed)
{
    char out[4];
    size_t pos = 0;
    const char *big = "<Key>abcdef</Key>";
    cr_assert_eq(s3_xml_next(big, strlen(big), &pos, strlen(big), "Key", out, sizeof(out)), -1);
    const char *ent = "<Key>a&bogus;</Key>";
    pos = 0;
    cr_assert_eq(s3_xml_next(ent, strlen(ent), &pos, strlen(ent), "Key", out, sizeof(out)), -1);
    const char *open = "<Key>never closed";
    pos = 0;
    cr_assert_eq(s3_xml_next(open, strlen(open), &pos, strlen(open), "Key", out, sizeof(out)), 0);
    /* not NUL-terminated: the length is the bound */
    const char raw[] = {'<', 'K', '>', 'x', '<', '/', 'K', '>'};
    pos = 0;
    cr_assert_eq(s3_xml_next(raw, 7, &pos, 7, "K", out, sizeof(out)), 0);
    cr_assert_eq(s3_xml_next(raw, 8, &pos, 8, "K", out, sizeof(out)), 1);
}

Test(store_s3, query_values_are_encoded_upper_case)
{
    char out[64];
    s3_query_encode(out, sizeof(out), "2~a+b/c=d e");
    cr_assert_str_eq(out, "2~a%2Bb%2Fc%3Dd%20e");
}

/* ---- configuration ---- */

static char dir[256];

static void cfg_setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "s3opts");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
}

static void cfg_teardown(void)
{
    test_tmpdir_remove(dir);
}

static void write_creds(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

TestSuite(store_s3_opts, .init = cfg_setup, .fini = cfg_teardown);

Test(store_s3_opts, credentials_file_profiles_and_its_mode)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/creds", dir);
    write_creds(path,
                "# comment\n[other]\naws_access_key_id = OTHER\naws_secret_access_key = o\n"
                "[default]\naws_access_key_id=AKDEFAULT\n  aws_secret_access_key = s3cr3t \n"
                "[profile work]\naws_access_key_id = AKWORK\naws_secret_access_key = w\n"
                "aws_session_token = tok\n",
                0600);
    s3_opts o = {.objects = "s3://mybucket/some/prefix", .credentials = path};
    s3_loaded l;
    cf_err e = {0};
    cr_assert_eq(s3_opts_load(&l, &o, &e), CF_OK, "%s", e.msg);
    cr_assert_str_eq(l.cfg.bucket, "mybucket");
    cr_assert_str_eq(l.cfg.prefix, "some/prefix/");
    cr_assert_str_eq(l.cfg.access_key, "AKDEFAULT");
    cr_assert_str_eq(l.cfg.secret_key, "s3cr3t");
    cr_assert_null(l.cfg.session_token);
    cr_assert_eq(l.cfg.virtual_host, 1, "AWS (no endpoint): virtual-host URLs");
    s3_opts_free(&l);
    setenv("AWS_PROFILE", "work", 1);
    o.endpoint = "http://127.0.0.1:9000";
    cr_assert_eq(s3_opts_load(&l, &o, &e), CF_OK, "%s", e.msg);
    cr_assert_str_eq(l.cfg.access_key, "AKWORK");
    cr_assert_str_eq(l.cfg.session_token, "tok");
    cr_assert_eq(l.cfg.virtual_host, 0, "an endpoint: path-style URLs");
    s3_opts_free(&l);
    /* readable by others: refused */
    chmod(path, 0644);
    cf_err_clear(&e);
    cr_assert_eq(s3_opts_load(&l, &o, &e), CF_EDENIED);
    cr_assert(strstr(e.msg, "0600") != NULL, "%s", e.msg);
}

Test(store_s3_opts, environment_then_nothing_and_never_the_url)
{
    s3_opts o = {.objects = "s3://mybucket", .url_style = "virtual"};
    s3_loaded l;
    cf_err e = {0};
    cr_assert_eq(s3_opts_load(&l, &o, &e), CF_EINVAL, "no credentials anywhere");
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    cf_err_clear(&e);
    cr_assert_eq(s3_opts_load(&l, &o, &e), CF_OK, "%s", e.msg);
    cr_assert_str_eq(l.cfg.access_key, "AKENV");
    cr_assert_str_eq(l.source, "environment");
    cr_assert_str_eq(l.cfg.prefix, "");
    s3_opts_free(&l);
    s3_opts bad = {.objects = "s3://AKID:secret@mybucket"};
    cf_err_clear(&e);
    cr_assert_eq(s3_opts_load(&l, &bad, &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "secret") == NULL, "the message does not repeat it: %s", e.msg);
    s3_opts style = {.objects = "s3://mybucket", .url_style = "sideways"};
    cr_assert_eq(s3_opts_load(&l, &style, NULL), CF_EINVAL);
}

/* ---- against a real S3 server ---- */

static s3_client *live(const char *bucket, const char *endpoint, int virtual_host, const char *ca,
                       const char *secret, uint64_t copy_max)
{
    if (!test_objects_s3())
        cr_skip_test("needs COFFER_TEST_S3 (tests/fixtures/rgw-fixture)");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s3_config c = {.bucket = bucket,
                   .endpoint = endpoint ? endpoint : getenv("COFFER_TEST_S3"),
                   .virtual_host = virtual_host,
                   .ca_file = ca,
                   .access_key = getenv("COFFER_TEST_S3_KEY"),
                   .secret_key = secret ? secret : getenv("COFFER_TEST_S3_SECRET"),
                   .copy_max = copy_max};
    s3_client *cl = NULL;
    cf_err e = {0};
    cr_assert_eq(s3_client_new(&cl, &c, &e), CF_OK, "%s", e.msg);
    return cl;
}

static int count_key(void *cls, const char *key, uint64_t size, int64_t mtime)
{
    (void)key;
    (void)size;
    cr_assert(mtime > 0);
    (*(int *)cls)++;
    return 0;
}

static void empty_bucket(s3_client *c, const char *bucket)
{
    (void)bucket;
    const char *keys[] = {"a/one", "a/two", "big", "copy"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        s3_delete(c, keys[i], NULL);
    s3_req r = {.method = "DELETE"};
    s3_request(c, &r, NULL, NULL);
}

Test(store_s3, objects_ranges_listing_and_a_copy_in_parts, .timeout = 120)
{
    char bucket[64];
    snprintf(bucket, sizeof(bucket), "s3t-%d-a", (int)getpid());
    s3_client *c = live(bucket, NULL, 0, NULL, NULL, 6 * 1024 * 1024);
    cf_err e = {0};
    cr_assert_eq(s3_bucket_ensure(c, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_bucket_ensure(c, &e), CF_OK, "already there: fine");
    cr_assert_eq(s3_put(c, "a/one", "hello world", 11, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_put(c, "a/two", "", 0, &e), CF_OK, "%s", e.msg);
    cf_buf b;
    cf_buf_init(&b, 1024);
    s3_resp resp;
    cr_assert_eq(s3_get(c, "a/one", 6, 5, &b, &resp, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(b.len, 5);
    cr_assert_eq(memcmp(b.data, "world", 5), 0);
    cr_assert_eq(resp.total, 11, "the size comes with a ranged read");
    uint64_t size = 0;
    int64_t mtime = 0;
    cr_assert_eq(s3_head(c, "a/one", &size, &mtime, &e), CF_OK);
    cr_assert_eq(size, 11);
    cr_assert(mtime > 0);
    cr_assert_eq(s3_head(c, "a/none", &size, NULL, NULL), CF_ENOTFOUND);
    int n = 0;
    cr_assert_eq(s3_list(c, "a/", count_key, &n, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(n, 2);
    /* 13 MiB in parts of 8 (multipart), copied in parts (copy_max 6 MiB) */
    size_t big = 13 * 1024 * 1024 + 7, part = 8 * 1024 * 1024;
    unsigned char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 12));
    char uid[S3_UPLOAD_ID_MAX];
    cr_assert_eq(s3_mpu_create(c, "big", uid, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_mpu_part(c, "big", uid, 1, data, part, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_mpu_check(c, "big", uid, 2, part, &e), CF_EINTEGRITY, "part 2 is missing");
    cf_err_clear(&e);
    cr_assert_eq(s3_mpu_check(c, "big", uid, 1, part, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_mpu_part(c, "big", uid, 2, data + part, big - part, &e), CF_OK);
    cr_assert_eq(s3_mpu_complete(c, "big", uid, 2, part, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_mpu_check(c, "big", uid, 2, part, &e), CF_ENOTFOUND, "completed: gone");
    cf_err_clear(&e);
    cr_assert_eq(s3_copy(c, "big", "copy", &e), CF_OK, "%s", e.msg);
    cf_buf_free(&b);
    cf_buf_init(&b, big);
    cr_assert_eq(s3_get(c, "copy", 0, 0, &b, NULL, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(b.len, big);
    cr_assert_eq(memcmp(b.data, data, big), 0);
    /* the streaming reader: a window, a jump, the end */
    s3_reader *r = NULL;
    cr_assert_eq(s3_reader_open(&r, c, "copy", 4096, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_reader_size(r), big);
    unsigned char got[100000];
    struct iovec v = {got, sizeof(got)};
    uint64_t offs[] = {
        0, 4000, 9 * 1024 * 1024, 9 * 1024 * 1024 + sizeof(got), 100, big - sizeof(got)};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        cr_assert_eq(s3_reader_readv(r, &v, 1, offs[i], &e), CF_OK, "%s", e.msg);
        cr_assert_eq(memcmp(got, data + offs[i], sizeof(got)), 0, "at %llu",
                     (unsigned long long)offs[i]);
    }
    cr_assert_eq(s3_reader_readv(r, &v, 1, big - 10, &e), CF_EINTEGRITY, "past the end");
    s3_reader_free(r);
    free(data);
    cf_buf_free(&b);
    empty_bucket(c, bucket);
    s3_client_free(c);
}

Test(store_s3, virtual_host_urls_and_https_with_the_ca_file, .timeout = 60)
{
    char bucket[64], ep[256];
    snprintf(bucket, sizeof(bucket), "s3t-%d-v", (int)getpid());
    if (!test_objects_s3())
        cr_skip_test("needs COFFER_TEST_S3 (tests/fixtures/rgw-fixture)");
    /* http://<bucket>.localhost:PORT/key */
    const char *s3 = getenv("COFFER_TEST_S3");
    snprintf(ep, sizeof(ep), "http://localhost:%s", strrchr(s3, ':') + 1);
    s3_client *c = live(bucket, ep, 1, NULL, NULL, 0);
    cf_err e = {0};
    cr_assert_eq(s3_bucket_ensure(c, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(s3_put(c, "a/one", "virtual", 7, &e), CF_OK, "%s", e.msg);
    s3_client_free(c);
    /* the same object over https, path-style, trusting the fixture's CA */
    const char *tls = getenv("COFFER_TEST_S3_TLS"), *ca = getenv("COFFER_TEST_S3_CA");
    cr_assert(tls && ca, "the fixture gives an https endpoint");
    c = live(bucket, tls, 0, ca, NULL, 0);
    cf_buf b;
    cf_buf_init(&b, 64);
    cr_assert_eq(s3_get(c, "a/one", 0, 0, &b, NULL, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(b.len, 7);
    cr_assert_eq(memcmp(b.data, "virtual", 7), 0);
    cf_buf_free(&b);
    s3_client_free(c);
    /* without the CA file the certificate does not verify: unavailable */
    char sys_ca[300];
    snprintf(sys_ca, sizeof(sys_ca), "/etc/ssl/certs/ca-certificates.crt");
    c = live(bucket, tls, 0, sys_ca, NULL, 0);
    cf_err_clear(&e);
    cr_assert_eq(s3_head(c, "a/one", NULL, NULL, &e), CF_EUNAVAIL);
    s3_client_free(c);
    c = live(bucket, NULL, 0, NULL, NULL, 0);
    empty_bucket(c, bucket);
    s3_client_free(c);
}

Test(store_s3, a_wrong_secret_is_refused_and_never_shown)
{
    char bucket[64];
    snprintf(bucket, sizeof(bucket), "s3t-%d-w", (int)getpid());
    s3_client *c = live(bucket, NULL, 0, NULL, "not-the-secret-xyz", 0);
    cf_err e = {0};
    cr_assert_eq(s3_put(c, "k", "x", 1, &e), CF_EIO);
    cr_assert(strstr(e.msg, "SignatureDoesNotMatch") || strstr(e.msg, "AccessDenied") ||
                  strstr(e.msg, "NoSuchBucket") || strstr(e.msg, "InvalidAccessKeyId"),
              "%s", e.msg);
    cr_assert(strstr(e.msg, "not-the-secret") == NULL, "%s", e.msg);
    s3_client_free(c);
}
