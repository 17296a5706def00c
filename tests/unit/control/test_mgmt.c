/*
 * test_mgmt.c -- the management API's configuration: a bad tenant or an
 * admin token of the wrong length is refused (the token file itself:
 * keys_token_file_load, tests/unit/crypto/test_keys.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "control/mgmt.h"

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
