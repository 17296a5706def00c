/*
 * test_fs.c -- pins the filesystem primitives: private-file checks, atomic
 * writes (content, mode, no temp file left), exact reads.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cf-fs-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* Removes every file of the test directory, then the directory. */
static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int count_entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

TestSuite(fs_private, .init = setup, .fini = teardown);
TestSuite(fs_atomic, .init = setup, .fini = teardown);

Test(fs_private, accepts_owner_only_modes_refuses_group_or_world)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/secret", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    close(fd);
    mode_t ok[] = {0600, 0400, 0700, 0200};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(chmod(p, ok[i]), 0);
        cr_assert_eq(cf_fs_check_private(p, NULL), CF_OK, "mode %o", ok[i]);
    }
    mode_t bad[] = {0640, 0604, 0610, 0601, 0620, 0602, 0644, 0666};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(chmod(p, bad[i]), 0);
        cf_err e = {0};
        cr_assert_eq(cf_fs_check_private(p, &e), CF_EDENIED, "mode %o", bad[i]);
        cr_assert_neq(strstr(e.msg, "0600"), NULL, "%s", e.msg);
    }
}

Test(fs_private, missing_file_is_not_found)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/absent", dir);
    cr_assert_eq(cf_fs_check_private(p, NULL), CF_ENOTFOUND);
}

Test(fs_atomic, writes_content_and_mode_and_leaves_no_temp)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/file", dir);
    mode_t old = umask(0);
    cf_err e = {0};
    cr_assert_eq(cf_fs_write_atomic(p, "hello", 5, 0600, &e), CF_OK, "%s", e.msg);
    umask(old);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600);
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_fs_read_all(p, 100, &b, NULL), CF_OK);
    cr_assert_eq(b.len, 5);
    cr_assert_eq(memcmp(b.data, "hello", 5), 0);
    cf_buf_free(&b);
    cr_assert_eq(count_entries(), 1);
}

Test(fs_atomic, replaces_existing_file_and_applies_mode)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/file", dir);
    cr_assert_eq(cf_fs_write_atomic(p, "first version", 13, 0644, NULL), CF_OK);
    cr_assert_eq(cf_fs_write_atomic(p, "second", 6, 0600, NULL), CF_OK);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600); /* fchmod: independent of umask */
    cr_assert_eq(st.st_size, 6);
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_fs_read_all(p, 100, &b, NULL), CF_OK);
    cr_assert_eq(memcmp(b.data, "second", 6), 0);
    cf_buf_free(&b);
    cr_assert_eq(count_entries(), 1);
}

Test(fs_atomic, failure_leaves_target_untouched)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/file", dir);
    cr_assert_eq(cf_fs_write_atomic(p, "keep", 4, 0600, NULL), CF_OK);
    /* A directory where the target should be: rename fails. */
    char q[128];
    snprintf(q, sizeof(q), "%s/sub", dir);
    cr_assert_eq(mkdir(q, 0700), 0);
    char inner[160];
    snprintf(inner, sizeof(inner), "%s/x", q);
    int fd = open(inner, O_WRONLY | O_CREAT, 0600);
    cr_assert(fd >= 0);
    close(fd);
    cf_err e = {0};
    cr_assert_neq(cf_fs_write_atomic(q, "new", 3, 0600, &e), CF_OK);
    cr_assert_neq(e.msg[0], '\0');
    unlink(inner);
    rmdir(q);
    cr_assert_eq(count_entries(), 1); /* the temp file was removed */
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_fs_read_all(p, 100, &b, NULL), CF_OK);
    cr_assert_eq(memcmp(b.data, "keep", 4), 0);
    cf_buf_free(&b);
}

Test(fs_atomic, read_all_caps_and_pread_full_detects_short_files)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/file", dir);
    cr_assert_eq(cf_fs_write_atomic(p, "0123456789", 10, 0600, NULL), CF_OK);
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_fs_read_all(p, 9, &b, NULL), CF_ETOOBIG);
    cf_buf_free(&b);
    int fd = open(p, O_RDONLY);
    cr_assert(fd >= 0);
    char out[8];
    cr_assert_eq(cf_fs_pread_full(fd, out, 4, 6, NULL), CF_OK);
    cr_assert_eq(memcmp(out, "6789", 4), 0);
    cr_assert_eq(cf_fs_pread_full(fd, out, 5, 6, NULL), CF_EINTEGRITY);
    close(fd);
}
