/*
 * test_uploads.c -- uploads sealed as they arrive, on real files in a
 * temporary data directory, or in a bucket of a real S3 server with
 * COFFER_TEST_S3 (test_objects.h): checkpoints, rollback of a failed
 * request, reload after the in-memory session is gone (a restart), digest
 * verification and installation as a blob, uploads of many parts; plus
 * the metadata that goes with a completed blob.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "../test_objects.h"
#include "base/fs.h"
#include "../test_tmpdir.h"
#include "store/coord.h"
#include "store/meta.h"
#include "store/objects.h"
#include "store/uploads.h"
#include "registry/janitor.h"

#define REG "0123456789abcdef0123456789abcdef"

static char dir[256];
static seal_kek kek;

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "uploads");
    test_objects_init(dir);
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
    test_objects_fini(dir);
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
    cr_assert_eq(upload_install(u, REG, &want, NULL), CF_OK);
    upload_discard(u);
    /* the blob reads back, sealed */
    objects_reader *obj = NULL;
    cr_assert_eq(objects_open(&obj, REG, &want, &kek, NULL), CF_OK);
    seal_reader *r = objects_reader_seal(obj);
    cr_assert_eq(seal_reader_size(r), n);
    unsigned char *back = malloc(n);
    size_t got = 0;
    cr_assert_eq(seal_reader_read(r, 0, back, n, &got, NULL), CF_OK);
    cr_assert_eq(got, n);
    cr_assert_eq(memcmp(back, data, n), 0);
    objects_reader_free(obj);
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
    /* files: the durable part; S3 makes no mid-stream checkpoint (a sync
     * rewrites up to a part there), so the last one holds: empty */
    cr_assert_eq(len, test_objects_s3() ? 0 : (300007 / 65536) * 65536);
    cr_assert_eq(upload_write(u, data + len, n - len, NULL), CF_OK);
    oci_digest want;
    sha256_of(&want, data, n);
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &want, &kek, &size, NULL), CF_OK);
    upload_discard(u);
    free(data);
}

/* The sealed bytes are written to the file on a helper thread (the write
 * lane, objects_file.c): a write the file system refuses must still fail
 * the upload, at a later write or at the checkpoint, which must not count
 * bytes that were never written.
 * RLIMIT_FSIZE makes the kernel refuse writes past 2 MiB (EFBIG); Criterion
 * runs each test in a process of its own. Files only: a bucket's parts are
 * not written through the file system. */
Test(registry_uploads, a_write_the_file_system_refuses_fails_the_upload)
{
    if (test_objects_s3())
        cr_skip_test("files backend only");
    size_t n = 6u << 20;
    unsigned char *data = malloc(n);
    fill(data, n, 9);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, NULL), CF_OK);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 2u << 20, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    cf_err e = {0};
    cf_code rc = CF_OK;
    for (size_t off = 0; off < n && rc == CF_OK; off += 131072)
        rc = upload_write(u, data + off, 131072, &e);
    /* the checkpoint (its own small file) must not claim what was lost */
    if (rc == CF_OK)
        rc = upload_checkpoint(u, &kek, &e);
    cr_assert_neq(rc, CF_OK, "a checkpoint counted bytes the file could not take");
    cr_assert(strstr(e.msg, "large") != NULL || strstr(e.msg, "EFBIG") != NULL, "error: %s", e.msg);
    upload_release(u, 0);
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

/* Larger than two S3 parts (8 MiB each): checkpoints land before, on and
 * after part boundaries, restarts reload from the parts and the bytes
 * past them, a failed request's extra part is dropped, and the blob
 * reads back whole, also from the middle. 35 MiB: the last request
 * passes 32 MiB, where a file stream asks the syncer for a flush ahead of
 * the completing fsync (objects_file.c). */
Test(registry_uploads, upload_of_many_parts_survives_restarts, .timeout = 120)
{
    size_t n = 35 * 1024 * 1024 + 12345;
    unsigned char *data = malloc(n);
    fill(data, n, 5);
    upload *u = NULL;
    char uuid[UPLOAD_UUID_LEN + 1];
    cf_err e = {0};
    cr_assert_eq(upload_create(&u, uuid, REG, &kek, 1, &e), CF_OK, "%s", e.msg);
    size_t steps[] = {3 * 1024 * 1024 + 7, 9 * 1024 * 1024, 17 * 1024 * 1024 + 99};
    size_t off = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        cr_assert_eq(upload_write(u, data + off, steps[i] - off, &e), CF_OK, "%s", e.msg);
        off = steps[i];
        cr_assert_eq(upload_checkpoint(u, &kek, &e), CF_OK, "%s", e.msg);
        upload_release(u, 1);
        uploads_shutdown(); /* a restart */
        cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, &e), CF_OK, "%s", e.msg);
        cr_assert_eq(upload_length(u), off);
    }
    /* a completion with the wrong digest changes nothing (in a bucket the
     * multipart upload must not have been completed) */
    oci_digest wrong;
    sha256_of(&wrong, data, off - 1);
    uint64_t wsize = 0;
    cr_assert_eq(upload_finish(u, &wrong, &kek, &wsize, NULL), CF_EINVAL);
    upload_release(u, 0);
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(upload_length(u), off);
    /* a request that writes a part's worth more, then fails */
    cr_assert_eq(upload_write(u, data + off, 8 * 1024 * 1024 + 5, &e), CF_OK, "%s", e.msg);
    upload_release(u, 0);
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(upload_length(u), off);
    cr_assert_eq(upload_write(u, data + off, n - off, &e), CF_OK, "%s", e.msg);
    oci_digest want;
    sha256_of(&want, data, n);
    uint64_t size = 0;
    cr_assert_eq(upload_finish(u, &want, &kek, &size, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(size, n);
    cr_assert_eq(upload_install(u, REG, &want, &e), CF_OK, "%s", e.msg);
    upload_discard(u);
    /* installed: the upload is gone, the blob is whole */
    cr_assert_eq(upload_acquire(&u, uuid, REG, &kek, NULL), CF_ENOTFOUND);
    objects_reader *obj = NULL;
    cr_assert_eq(objects_open(&obj, REG, &want, &kek, &e), CF_OK, "%s", e.msg);
    seal_reader *r = objects_reader_seal(obj);
    cr_assert_eq(seal_reader_size(r), n);
    size_t chunk = 1 << 20, got = 0;
    unsigned char *back = malloc(chunk);
    for (size_t at = 0; at < n; at += got) {
        cr_assert_eq(seal_reader_read_into(r, at, back, chunk, &got, &e), CF_OK, "%s", e.msg);
        cr_assert(got > 0);
        cr_assert_eq(memcmp(back, data + at, got), 0, "at %zu", at);
    }
    /* a jump back into the middle (a Range request) */
    size_t mid = 13 * 1024 * 1024 + 3;
    cr_assert_eq(seal_reader_read(r, mid, back, 100000, &got, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(got, 100000);
    cr_assert_eq(memcmp(back, data + mid, got), 0);
    objects_reader_free(obj);
    free(back);
    free(data);
}

/* The raw stored bytes of key (files, or the test's bucket). */
static void stored_bytes(const char *key, cf_buf *out, const unsigned char *put, size_t put_len)
{
    if (test_objects_s3()) {
        char bucket[64];
        s3_config c = test_objects_s3_config(bucket, sizeof(bucket), dir);
        s3_client *cl = NULL;
        cr_assert_eq(s3_client_new(&cl, &c, NULL), CF_OK);
        if (put)
            cr_assert_eq(s3_put(cl, key, put, put_len, NULL), CF_OK);
        else
            cr_assert_eq(s3_get(cl, key, 0, 0, out, NULL, NULL), CF_OK);
        s3_client_free(cl);
        return;
    }
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, key);
    if (put) {
        FILE *f = fopen(p, "w");
        cr_assert_eq(fwrite(put, 1, put_len, f), put_len);
        fclose(f);
    } else {
        cr_assert_eq(cf_fs_read_all(p, 1 << 20, out, NULL), CF_OK);
    }
}

/* Where reads of small objects are served from memory (S3), a write never
 * fills the cache (damage in the store is seen by the first read), a read
 * does, and a removed object is gone for every reader after it. */
Test(registry_uploads, small_objects_damage_is_seen_and_a_removed_one_is_gone)
{
    const char *body = "{\"schemaVersion\":2,\"mediaType\":\"x\"}";
    oci_digest d;
    sha256_of(&d, (const unsigned char *)body, strlen(body));
    cf_err e = {0};
    cr_assert_eq(objects_put_small(REG, &d, &kek, body, strlen(body), &e), CF_OK, "%s", e.msg);
    char key[OBJECTS_KEY_MAX];
    objects_blob_key(key, sizeof(key), REG, &d);
    cf_buf orig, bad;
    cf_buf_init(&orig, 0);
    cf_buf_init(&bad, 0);
    stored_bytes(key, &orig, NULL, 0);
    cr_assert_eq(cf_buf_append(&bad, orig.data, orig.len, NULL), CF_OK);
    bad.data[bad.len - 20] ^= 1;
    stored_bytes(key, NULL, bad.data, bad.len);
    objects_reader *obj = NULL;
    cr_assert_eq(objects_open(&obj, REG, &d, &kek, NULL), CF_EINTEGRITY, "damage is seen");
    stored_bytes(key, NULL, orig.data, orig.len);
    for (int i = 0; i < 2; i++) { /* read from the store, then (S3) from memory */
        cr_assert_eq(objects_open(&obj, REG, &d, &kek, &e), CF_OK, "%s", e.msg);
        char back[64];
        size_t got = 0;
        cr_assert_eq(seal_reader_read(objects_reader_seal(obj), 0, back, sizeof(back), &got, NULL),
                     CF_OK);
        cr_assert_eq(got, strlen(body));
        cr_assert_eq(memcmp(back, body, got), 0);
        objects_reader_free(obj);
    }
    cr_assert_eq(objects_remove(REG, &d, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(objects_open(&obj, REG, &d, &kek, NULL), CF_ENOTFOUND);
    cf_buf_free(&orig);
    cf_buf_free(&bad);
}

/* The janitor removes what a crash left without a row, and nothing else:
 * a blob object no row points at (a completion cut between install and
 * commit) and an upload object without an upload row, once they are older
 * than the idle timeout; a blob with its row and a recorded upload stay. */
Test(registry_uploads, the_janitor_removes_objects_no_row_points_at, .timeout = 60)
{
    meta_registry r = {0};
    snprintf(r.id, sizeof(r.id), "%s", REG);
    snprintf(r.name, sizeof(r.name), "janitor1");
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    const char *kept = "{\"kept\":1}", *orphan = "{\"orphan\":1}";
    oci_digest dk, dor;
    sha256_of(&dk, (const unsigned char *)kept, strlen(kept));
    sha256_of(&dor, (const unsigned char *)orphan, strlen(orphan));
    cf_err e = {0};
    cr_assert_eq(objects_put_small(REG, &dk, &kek, kept, strlen(kept), &e), CF_OK, "%s", e.msg);
    cr_assert_eq(meta_blob_commit(REG, "app", dk.text, (int64_t)strlen(kept), NULL, &e), CF_OK);
    cr_assert_eq(objects_put_small(REG, &dor, &kek, orphan, strlen(orphan), &e), CF_OK);
    /* an upload with its row, and one whose row never came */
    upload *u = NULL;
    char recorded[UPLOAD_UUID_LEN + 1], lost[UPLOAD_UUID_LEN + 1];
    cr_assert_eq(upload_create(&u, recorded, REG, &kek, 1, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(meta_upload_create(recorded, REG, "app", &e), CF_OK);
    upload_release(u, 1);
    cr_assert_eq(upload_create(&u, lost, REG, &kek, 1, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(upload_write(u, kept, 5, &e), CF_OK);
    cr_assert_eq(upload_checkpoint(u, &kek, &e), CF_OK);
    upload_release(u, 1);
    uploads_shutdown();
    cr_assert_eq(janitor_run_once(3600, 1), 0, "nothing is old enough");
    sleep(2); /* mtimes have a one-second grain */
    janitor_run_once(1, 1);
    cr_assert_eq(objects_blob_exists(REG, &dk, NULL), CF_OK, "a blob with its row stays");
    cr_assert_eq(objects_blob_exists(REG, &dor, NULL), CF_ENOTFOUND, "an orphan blob goes");
    char k[OBJECTS_KEY_MAX];
    objects_upload_key(k, sizeof(k), REG, lost, ".state");
    cr_assert_eq(objects_stat(k, NULL, NULL, NULL), CF_ENOTFOUND, "an upload without a row goes");
    /* the recorded one is the expiry's business (its row is old too): it
     * is gone with its row, not as an orphan */
    char reg[META_ID_LEN + 1], repo[64];
    cr_assert_eq(meta_upload_get(recorded, reg, repo, sizeof(repo), NULL), CF_ENOTFOUND);
    objects_upload_key(k, sizeof(k), REG, recorded, ".state");
    cr_assert_eq(objects_stat(k, NULL, NULL, NULL), CF_ENOTFOUND);
}
