/*
 * test_mgmt.c -- the management API's admin token file: created once with
 * 43 base64url characters in a 0600 file, read back unchanged, refused
 * when others can read it or when it holds anything but a token.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../test_tmpdir.h"
#include "base/fs.h"
#include "control/mgmt.h"

static char dir[256];
static char path[320];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "mgmt");
    snprintf(path, sizeof(path), "%s/admin.token", dir);
}

static void teardown(void)
{
    test_tmpdir_remove(dir);
}

TestSuite(control_mgmt, .init = setup, .fini = teardown);

Test(control_mgmt, admin_token_is_created_once_and_read_back)
{
    char a[MGMT_ADMIN_TOKEN_LEN + 1], b[MGMT_ADMIN_TOKEN_LEN + 1];
    cf_err e = {0};
    cr_assert_eq(mgmt_admin_token_load(path, a, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(strlen(a), 43);
    cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(mgmt_admin_token_load(path, b, NULL), CF_OK);
    cr_assert_str_eq(a, b);

    /* another directory, another token */
    char other[340];
    snprintf(other, sizeof(other), "%s/other.token", dir);
    cr_assert_eq(mgmt_admin_token_load(other, b, NULL), CF_OK);
    cr_assert_str_neq(a, b);
}

Test(control_mgmt, admin_token_without_newline_is_accepted)
{
    const char tok[] = "abcdefghijABCDEFGHIJ0123456789-_abcdefghijk";
    cr_assert_eq(strlen(tok), 43);
    cr_assert_eq(cf_fs_write_atomic(path, tok, strlen(tok), 0600, NULL), CF_OK);
    char out[MGMT_ADMIN_TOKEN_LEN + 1];
    cr_assert_eq(mgmt_admin_token_load(path, out, NULL), CF_OK);
    cr_assert_str_eq(out, tok);
}

Test(control_mgmt, readable_or_malformed_admin_token_is_refused)
{
    char out[MGMT_ADMIN_TOKEN_LEN + 1];
    cr_assert_eq(mgmt_admin_token_load(path, out, NULL), CF_OK);
    cr_assert_eq(chmod(path, 0640), 0);
    cr_assert_eq(mgmt_admin_token_load(path, out, NULL), CF_EDENIED);

    const char *bad[] = {"short\n", "abcdefghijABCDEFGHIJ0123456789+/abcdefghijk\n",
                         "abcdefghijABCDEFGHIJ0123456789-_abcdefghijkl\n", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cf_fs_write_atomic(path, bad[i], strlen(bad[i]), 0600, NULL), CF_OK);
        cf_err e = {0};
        cr_assert_eq(mgmt_admin_token_load(path, out, &e), CF_EINVAL, "case %zu", i);
    }
}

Test(control_mgmt, configure_refuses_a_bad_tenant_or_token)
{
    char tok[MGMT_ADMIN_TOKEN_LEN + 1];
    memset(tok, 'a', MGMT_ADMIN_TOKEN_LEN);
    tok[MGMT_ADMIN_TOKEN_LEN] = '\0';
    mgmt_config c = {.admin_token = tok, .tenant = "nope", .data_addr = "127.0.0.1:5000"};
    cr_assert_eq(mgmt_configure(&c, NULL), CF_EINVAL);
    c.tenant = MGMT_DEFAULT_TENANT;
    cr_assert_eq(mgmt_configure(&c, NULL), CF_OK);
    c.admin_token = "short";
    cr_assert_eq(mgmt_configure(&c, NULL), CF_EINVAL);
    mgmt_shutdown();
}
