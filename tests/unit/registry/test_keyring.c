/*
 * test_keyring.c -- the one door to a registry's KEK: derived from the
 * wrapped S for a service-managed registry, refused with the reason when
 * locked, refused for a CMK registry until its C is supplied.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_tmpdir.h"
#include "registry/keyring.h"

static char dir[256];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "keyring");
    char srk[300];
    snprintf(srk, sizeof(srk), "%s/srk", dir);
    cr_assert_eq(keyring_init(srk, NULL), CF_OK);
}

static void teardown(void)
{
    keyring_shutdown();
    test_tmpdir_remove(dir);
}

TestSuite(registry_keyring, .init = setup, .fini = teardown);

static void new_registry(meta_registry *r, const char *id, int cmk)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->name, sizeof(r->name), "reg%s", id);
    r->cmk = cmk;
    cr_assert_eq(keyring_new_secret(r->wrapped_s, r->id, NULL), CF_OK);
}

Test(registry_keyring, service_managed_kek_is_stable_and_per_registry)
{
    meta_registry a, b;
    new_registry(&a, "aaaa", 0);
    new_registry(&b, "bbbb", 0);
    seal_kek k1, k2, k3;
    cr_assert_eq(keyring_kek(&k1, &a, NULL), CF_OK);
    cr_assert_eq(keyring_kek(&k2, &a, NULL), CF_OK);
    cr_assert_eq(keyring_kek(&k3, &b, NULL), CF_OK);
    cr_assert_eq(memcmp(k1.key, k2.key, sizeof(k1.key)), 0);
    cr_assert_neq(memcmp(k1.key, k3.key, sizeof(k1.key)), 0);
    cr_assert_str_eq(k1.registry_id, "aaaa");
    /* a wrapped S bound to another registry id does not unwrap */
    meta_registry c = a;
    snprintf(c.id, sizeof(c.id), "cccc");
    cf_err e = {0};
    cr_assert_neq(keyring_kek(&k1, &c, &e), CF_OK);
}

Test(registry_keyring, locked_registry_answers_the_reason)
{
    meta_registry a;
    new_registry(&a, "aaaa", 0);
    seal_kek k;
    cr_assert_eq(keyring_kek(&k, &a, NULL), CF_OK);
    keyring_lock("aaaa", CF_EDENIED, "customer key disabled in the vault");
    cf_err e = {0};
    cr_assert_eq(keyring_kek(&k, &a, &e), CF_EDENIED);
    cr_assert(strstr(e.msg, "customer key disabled in the vault") != NULL, "%s", e.msg);
    keyring_lock("aaaa", CF_EUNAVAIL, "key vault unreachable");
    cf_err u = {0};
    cr_assert_eq(keyring_kek(&k, &a, &u), CF_EUNAVAIL);
    cr_assert(strstr(u.msg, "key vault unreachable") != NULL, "%s", u.msg);
    keyring_forget("aaaa");
    cr_assert_eq(keyring_kek(&k, &a, NULL), CF_OK);
}

Test(registry_keyring, cmk_registry_needs_its_customer_secret)
{
    meta_registry a, plain;
    new_registry(&a, "aaaa", 1);
    seal_kek k, kc, kp;
    cf_err e = {0};
    cr_assert_eq(keyring_kek(&k, &a, &e), CF_EUNAVAIL);
    cr_assert(strstr(e.msg, "customer-managed key") != NULL, "%s", e.msg);
    unsigned char c[KEYS_SECRET_LEN];
    memset(c, 7, sizeof(c));
    cr_assert_eq(keyring_set_cmk(&a, c, NULL), CF_OK);
    cr_assert_eq(keyring_kek(&kc, &a, NULL), CF_OK);
    /* S alone gives another key: both layers are needed */
    plain = a;
    plain.cmk = 0;
    keyring_forget("aaaa");
    cr_assert_eq(keyring_kek(&kp, &plain, NULL), CF_OK);
    cr_assert_neq(memcmp(kc.key, kp.key, sizeof(kc.key)), 0);
}

Test(registry_keyring, derived_service_keys_are_stable_and_per_purpose)
{
    unsigned char a[KEYS_SECRET_LEN], a2[KEYS_SECRET_LEN], b[KEYS_SECRET_LEN];
    cr_assert_eq(keyring_derive(a, "coffer/v1/registry-token", NULL), CF_OK);
    cr_assert_eq(keyring_derive(a2, "coffer/v1/registry-token", NULL), CF_OK);
    cr_assert_eq(keyring_derive(b, "coffer/v1/credential-hmac", NULL), CF_OK);
    cr_assert_eq(memcmp(a, a2, sizeof(a)), 0, "same purpose, same key");
    cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "another purpose, another key");
    keyring_shutdown();
    cr_assert_eq(keyring_derive(a2, "coffer/v1/registry-token", NULL), CF_EUNAVAIL,
                 "no SRK, no key");
}
