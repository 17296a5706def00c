/*
 * test_tmpdir.h -- a fresh directory per test under /tmp, removed with
 * everything in it at teardown. For unit tests that need real files (a
 * SQLite database, sealed objects, an SRK).
 */
#ifndef COFFER_TEST_TMPDIR_H
#define COFFER_TEST_TMPDIR_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* dir (of n bytes) receives "/tmp/coffer-unit-<tag>-XXXXXX", created. */
static inline void test_tmpdir_make(char *dir, size_t n, const char *tag)
{
    snprintf(dir, n, "/tmp/coffer-unit-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(dir));
}

static int test_tmpdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static inline void test_tmpdir_remove(const char *dir)
{
    nftw(dir, test_tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
