/*
 * test_objects.h -- the object store under test: files in the test's
 * directory, or, when COFFER_TEST_S3 names an S3 endpoint
 * (tests/fixtures/rgw-fixture: COFFER_TEST_S3, COFFER_TEST_S3_KEY,
 * COFFER_TEST_S3_SECRET), a fresh bucket on it per test, emptied and
 * deleted at teardown. The same tests then run on both backends
 * (scripts/test-all runs them twice).
 */
#ifndef COFFER_TEST_OBJECTS_H
#define COFFER_TEST_OBJECTS_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/objects.h"
#include "store/s3.h"

/* 1 when the tests run on S3. */
static inline int test_objects_s3(void)
{
    const char *u = getenv("COFFER_TEST_S3");
    return u != NULL && *u != '\0';
}

/* The fixture's endpoint and keys, bucket (cap ≥ 40) named from dir. */
static inline s3_config test_objects_s3_config(char *bucket, size_t cap, const char *dir)
{
    snprintf(bucket, cap, "t%d-%s", (int)getpid(), strrchr(dir, '-') + 1);
    for (char *p = bucket; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    s3_config c = {.bucket = bucket,
                   .endpoint = getenv("COFFER_TEST_S3"),
                   .access_key = getenv("COFFER_TEST_S3_KEY"),
                   .secret_key = getenv("COFFER_TEST_S3_SECRET")};
    return c;
}

/* objects_init for this test: dir's files, or a new bucket. */
static inline void test_objects_init(const char *dir)
{
    if (!test_objects_s3()) {
        cr_assert_eq(objects_init(dir, NULL), CF_OK);
        return;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static char bucket[64];
    s3_config c = test_objects_s3_config(bucket, sizeof(bucket), dir);
    objects_store *s = NULL;
    cf_err e = {0};
    cr_assert_eq(objects_store_s3(&s, &c, &e), CF_OK, "%s", e.msg);
    objects_init_store(s);
}

static int test_objects_rm(void *cls, const char *key, uint64_t size, int64_t mtime, int unfinished)
{
    (void)cls;
    (void)size;
    (void)mtime;
    if (unfinished)
        objects_stream_discard(key, NULL);
    else
        objects_remove_key(key, NULL);
    return 0;
}

/* Empties and deletes the test's bucket, then objects_shutdown. */
static inline void test_objects_fini(const char *dir)
{
    if (test_objects_s3() && objects_current() != NULL) {
        objects_list("", test_objects_rm, NULL, NULL);
        char bucket[64];
        s3_config c = test_objects_s3_config(bucket, sizeof(bucket), dir);
        s3_client *cl = NULL;
        if (s3_client_new(&cl, &c, NULL) == CF_OK) {
            s3_req r = {.method = "DELETE"};
            s3_request(cl, &r, NULL, NULL);
            s3_client_free(cl);
        }
    }
    objects_shutdown();
}

#endif
