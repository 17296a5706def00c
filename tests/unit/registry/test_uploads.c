/*
 * test_uploads.c -- uploads sealed as they arrive, on real files in a
 * temporary data directory: checkpoints, rollback of a failed request,
 * reload after the in-memory session is gone (a restart), digest
 * verification and installation as a blob; plus the SQLite metadata
 * that goes with a completed blob.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "../test_tmpdir.h"
#include "store/coord.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"

#define REG "0123456789abcdef0123456789abcdef"

static char dir[256];
static seal_kek kek;

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "uploads");
    cr_assert_eq(objects_init(dir, NULL), CF_OK);
    memset(&kek, 0, sizeof(kek));
    memset(kek.key, 0x42, sizeof(kek.key));
    snprintf(kek.registry_id, sizeof(kek.registry_id), "%s", REG);
    char db[300];
    snprintf(db, sizeof(db), "%s/cofferd.db", dir);
    cr_assert_eq(meta_init(db, NULL), CF_OK);
}

static void teardown(void)
{
    uploads_shutdown();
    meta_shutdown();
    objects_shutdown();
    test_tmpdir_remove(dir);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31 + seed * 7) ^ (i >> 8));
}

static void sha256_of(oci_digest *d, const unsigned char *p, size_t n)
{
    unsigned char raw[32];
    SHA256(p, n, raw);
    oci_digest_from_raw(d, OCI_ALG_SHA256, raw);
}

TestSuite(registry_uploads, .init = setup, .fini = teardown);

Test(registry_uploads, failed_request_rolls_back_to_checkpoint)
{
    size_t n = 200000;
    unsigned char *data = malloc(n);
    fill(data, n, 1);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert(upload_uuid_valid(uuid, strlen(uuid)));
    cr_assert_eq(upload_write(u, data, 100000, NULL), CF_OK);
    cr_assert_eq(upload_checkpoint(u, &kek, NULL), CF_OK);
    upload_release(u, 1);
    /* a request that writes more, then fails */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 100000);
    unsigned char junk[70000];
    memset(junk, 0xee, sizeof(junk));
    cr_assert_eq(upload_write(u, junk, sizeof(junk), NULL), CF_OK);
    upload_release(u, 0);
    /* the next request sees the checkpoint, not the junk */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 100000);
    cr_assert_eq(upload_write(u, data + 100000, n - 100000, NULL), CF_OK);
    oci_digest want;
    sha256_of(&want, data, n);
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &want, &kek, &size, NULL), CF_OK);
    cr_assert_eq(size, n);
    cr_assert_eq(objects_install(upload_path(u), REG, &want, NULL), CF_OK);
    upload_discard(u);
    /* the blob reads back, sealed */
    seal_reader *r = NULL;
    int fd = -1;
    cr_assert_eq(objects_open(&r, &fd, REG, &want, &kek, NULL), CF_OK);
    cr_assert_eq(seal_reader_size(r), n);
    unsigned char *back = malloc(n);
    size_t got = 0;
    cr_assert_eq(seal_reader_read(r, 0, back, n, &got, NULL), CF_OK);
    cr_assert_eq(got, n);
    cr_assert_eq(memcmp(back, data, n), 0);
    seal_reader_free(r);
    close(fd);
    /* the upload is gone */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_ENOTFOUND);
    free(back);
    free(data);
}

Test(registry_uploads, reload_after_restart_keeps_acknowledged_bytes)
{
    size_t n = 300001;
    unsigned char *data = malloc(n);
    fill(data, n, 2);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert_eq(upload_write(u, data, 150003, NULL), CF_OK);
    cr_assert_eq(upload_checkpoint(u, &kek, NULL), CF_OK);
    /* bytes written after the checkpoint, then a crash */
    cr_assert_eq(upload_write(u, data + 150003, 100000, NULL), CF_OK);
    upload_release(u, 1);
    uploads_shutdown(); /* the process is gone: nothing in memory */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 150003);
    cr_assert_eq(upload_write(u, data + 150003, n - 150003, NULL), CF_OK);
    oci_digest want, wrong;
    sha256_of(&want, data, n);
    sha256_of(&wrong, data, n - 1);
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &wrong, &kek, &size, NULL), CF_EINVAL);
    upload_release(u, 0);
    /* the mismatch changed nothing: the body of that request is gone */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 150003);
    cr_assert_eq(upload_write(u, data + 150003, n - 150003, NULL), CF_OK);
    cr_assert_eq(upload_finish(u, &want, &kek, &size, NULL), CF_OK);
    upload_discard(u);
    free(data);
}

Test(registry_uploads, sha512_digest_is_verified_from_the_sealed_file)
{
    unsigned char data[5000];
    fill(data, sizeof(data), 3);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert_eq(upload_write(u, data, sizeof(data), NULL), CF_OK);
    unsigned char raw[64];
    SHA512(data, sizeof(data), raw);
    oci_digest want;
    oci_digest_from_raw(&want, OCI_ALG_SHA512, raw);
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &want, &kek, &size, NULL), CF_OK);
    cr_assert_eq(size, sizeof(data));
    upload_discard(u);
}

Test(registry_uploads, one_request_at_a_time)
{
    upload *u = NULL, *v = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert_eq(upload_acquire(&v, uuid, REG, &kek, NULL), CF_ECONFLICT);
    upload_release(u, 1);
    cr_assert_eq(upload_acquire(&v, uuid, "ffffffffffffffffffffffffffffffff", &kek, NULL),
                 CF_ENOTFOUND);
    cr_assert_eq(upload_acquire(&v, uuid, REG, &kek, NULL), CF_OK);
    upload_discard(v);
}

Test(registry_uploads, expired_upload_loses_its_files)
{
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert_eq(upload_expire(uuid, REG, time(NULL) + 10), 0); /* busy */
    upload_release(u, 1);
    cr_assert_eq(upload_expire(uuid, REG, time(NULL) - 100), 0); /* not idle long enough */
    cr_assert_eq(upload_expire(uuid, REG, time(NULL) + 10), 1);
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_ENOTFOUND);
}

Test(registry_uploads, blob_metadata_dedup_and_unlink)
{
    const char *d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    int64_t size = 0;
    int orphaned = -1;
    cr_assert_eq(meta_blob_stat(REG, "app", d, &size, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_blob_commit(REG, "app", d, 42, NULL, NULL), CF_OK);
    cr_assert_eq(meta_blob_commit(REG, "other", d, 42, NULL, NULL), CF_OK);
    cr_assert_eq(meta_blob_stat(REG, "app", d, &size, NULL), CF_OK);
    cr_assert_eq(size, 42);
    cr_assert_eq(meta_blob_unlink(REG, "app", d, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 0); /* "other" still links it */
    cr_assert_eq(meta_blob_stat(REG, "app", d, &size, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_blob_unlink(REG, "app", d, &orphaned, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_blob_unlink(REG, "other", d, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 1);
    cr_assert_eq(meta_blob_stat(REG, NULL, d, &size, NULL), CF_ENOTFOUND);
}

Test(registry_uploads, durable_checkpoint_mid_stream_resumes_at_a_segment_boundary)
{
    size_t n = 500000;
    unsigned char *data = malloc(n);
    fill(data, n, 4);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    /* odd-sized writes, as a network stream delivers them */
    size_t off = 0;
    while (off < 300007) {
        size_t k = 1237 < 300007 - off ? 1237 : 300007 - off;
        cr_assert_eq(upload_write(u, data + off, k, NULL), CF_OK);
        off += k;
    }
    cr_assert_eq(upload_checkpoint_durable(u, &kek, NULL), CF_OK);
    upload_release(u, 1);
    uploads_shutdown(); /* crash */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    uint64_t len = upload_length(u);
    cr_assert_eq(len, (300007 / 65536) * 65536);
    cr_assert_eq(upload_write(u, data + len, n - len, NULL), CF_OK);
    oci_digest want;
    sha256_of(&want, data, n);
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &want, &kek, &size, NULL), CF_OK);
    upload_discard(u);
    free(data);
}

/* Several nodes (docs/scale-out.md "Uploads across nodes"): with the
 * cluster-wide claim (store/coord.h, here on SQLite), a node's copy of an
 * upload is used only while no other node claimed the upload since. A
 * "node" that claims is meta_upload_claim, which is what it does. */
Test(registry_uploads, a_copy_another_node_made_stale_is_reloaded)
{
    uploads_set_coord(coord_uploads());
    size_t n = 105000;
    unsigned char *data = malloc(n);
    fill(data, n, 9);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert_eq(meta_upload_create(uuid, REG, "app", NULL), CF_OK);
    upload_release(u, 1);
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_write(u, data, 100000, NULL), CF_OK);
    cr_assert_eq(upload_checkpoint(u, &kek, NULL), CF_OK);
    upload_release(u, 1);
    /* bytes this node holds that its checkpoint does not */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_write(u, data + 100000, 5000, NULL), CF_OK);
    upload_release(u, 1);
    /* nobody else took it: this node's copy is used */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 105000);
    upload_release(u, 1);
    /* another node claims it: the checkpoint is the truth again */
    int64_t g = 0;
    cr_assert_eq(meta_upload_claim(uuid, &g, NULL), CF_OK);
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 100000);
    upload_release(u, 1);
    uploads_set_coord(NULL);
    free(data);
}

Test(registry_uploads, a_request_whose_claim_was_taken_does_not_checkpoint)
{
    uploads_set_coord(coord_uploads());
    unsigned char data[70000];
    fill(data, sizeof(data), 3);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    cr_assert_eq(meta_upload_create(uuid, REG, "app", NULL), CF_OK);
    upload_release(u, 1);
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_write(u, data, sizeof(data), NULL), CF_OK);
    /* meanwhile another node took the upload (this one lost its session) */
    int64_t g = 0;
    cr_assert_eq(meta_upload_claim(uuid, &g, NULL), CF_OK);
    cf_err e = {0};
    cr_assert_eq(upload_checkpoint(u, &kek, &e), CF_EUNAVAIL);
    cr_assert(strstr(e.msg, "claim") != NULL, "%s", e.msg);
    oci_digest d;
    sha256_of(&d, data, sizeof(data));
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &d, &kek, &size, NULL), CF_EUNAVAIL, "nor completes");
    upload_release(u, 0);
    /* what is stored is what the last good checkpoint said: nothing */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_OK);
    cr_assert_eq(upload_length(u), 0);
    upload_release(u, 1);
    uploads_set_coord(NULL);
}
