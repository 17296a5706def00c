/*
 * test_uploads_lazy.c -- an upload created without its first checkpoint
 * (what POST does now: one fsync and one checkpoint fewer per push) on
 * real files: after a restart it comes back empty and completes normally;
 * bytes written without a checkpoint are not acknowledged and are gone
 * after a restart; it expires by the age of its file; without its file it
 * is unknown. Files only: in a bucket nothing marks an upload but its
 * checkpoint, so an upload a client comes back to gets its first one at
 * creation (blobs.c), and these cases do not arise.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "../test_objects.h"
#include "../test_tmpdir.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"

#define LREG "fedcba9876543210fedcba9876543210"

static char ldir[256];
static seal_kek lkek;

static void lsetup(void)
{
    if (test_objects_s3())
        cr_skip_test("files only (see the header comment)");
    test_tmpdir_make(ldir, sizeof(ldir), "uplazy");
    test_objects_init(ldir);
    memset(&lkek, 0, sizeof(lkek));
    memset(lkek.key, 0x24, sizeof(lkek.key));
    snprintf(lkek.registry_id, sizeof(lkek.registry_id), "%s", LREG);
}

static void lteardown(void)
{
    uploads_shutdown();
    test_objects_fini(ldir);
    test_tmpdir_remove(ldir);
}

static void lfill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 17 + seed * 5) ^ (i >> 9));
}

static void lsha(oci_digest *d, const unsigned char *p, size_t n)
{
    unsigned char raw[32];
    SHA256(p, n, raw);
    oci_digest_from_raw(d, OCI_ALG_SHA256, raw);
}

TestSuite(uploads_lazy, .init = lsetup, .fini = lteardown);

Test(uploads_lazy, new_upload_without_checkpoint_reloads_empty_and_completes)
{
    size_t n = 200003;
    unsigned char *data = malloc(n);
    lfill(data, n, 1);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, LREG, &lkek, 0, NULL), CF_OK);
    upload_release(u, 1);
    uploads_shutdown(); /* a restart: nothing in memory, no checkpoint on disk */
    cr_assert_eq(upload_acquire(&u, uuid, LREG, &lkek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 0);
    /* bytes written, then a crash before any checkpoint: not acknowledged */
    cr_assert_eq(upload_write(u, data, 150000, NULL), CF_OK);
    upload_release(u, 1);
    uploads_shutdown();
    cr_assert_eq(upload_acquire(&u, uuid, LREG, &lkek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 0, "unacknowledged bytes must not survive a restart");
    cr_assert_eq(upload_write(u, data, n, NULL), CF_OK);
    oci_digest want;
    lsha(&want, data, n);
    uint64_t size = 0;
    cf_err e = {0};
    cr_assert_eq(upload_finish(u, &want, &lkek, &size, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(size, n);
    upload_discard(u);
    free(data);
}

Test(uploads_lazy, expires_by_the_age_of_its_file_and_is_then_unknown)
{
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, LREG, &lkek, 0, NULL), CF_OK);
    upload_release(u, 1);
    cr_assert_eq(upload_expire(uuid, LREG, time(NULL) - 100), 0); /* not idle long enough */
    cr_assert_eq(upload_expire(uuid, LREG, time(NULL) + 10), 1);
    cr_assert_eq(upload_acquire(&u, uuid, LREG, &lkek, NULL), CF_ENOTFOUND);
}
