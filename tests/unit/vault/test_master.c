/*
 * test_master.c -- sealing of private keys under the master key
 * (src/vault/master.c): round trip, binding to vault/key/version, and the
 * master key file's creation and checks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "vault/master.h"

static vault_master *fixed(unsigned char b)
{
    unsigned char k[VAULT_MASTER_LEN];
    memset(k, b, sizeof(k));
    vault_master *m = NULL;
    cr_assert_eq(vault_master_from_bytes(&m, k, NULL), CF_OK);
    return m;
}

Test(vault_master, seal_round_trip_and_case_insensitive_place)
{
    vault_master *m = fixed(7);
    const unsigned char pt[] = "private key DER";
    cf_buf s, o;
    cf_buf_init(&s, 0);
    cf_buf_init(&o, 0);
    cr_assert_eq(vault_master_seal(m, "default", "CMK", "abc", pt, sizeof(pt), &s, NULL), CF_OK);
    cr_assert_eq(s.len, 4 + 12 + sizeof(pt) + 16);
    cr_assert_eq(vault_master_unseal(m, "DEFAULT", "cmk", "ABC", s.data, s.len, &o, NULL), CF_OK);
    cr_assert_eq(o.len, sizeof(pt));
    cr_assert_eq(memcmp(o.data, pt, sizeof(pt)), 0);
    cf_buf_free(&s);
    cf_buf_free(&o);
    vault_master_free(m);
}

Test(vault_master, sealed_blob_is_bound_to_its_place_and_key)
{
    vault_master *m = fixed(7), *other = fixed(8);
    const unsigned char pt[] = "secret";
    cf_buf s, o;
    cf_buf_init(&s, 0);
    cf_buf_init(&o, 0);
    cr_assert_eq(vault_master_seal(m, "v1", "k", "1", pt, sizeof(pt), &s, NULL), CF_OK);
    cr_assert_eq(vault_master_unseal(m, "v2", "k", "1", s.data, s.len, &o, NULL), CF_EINTEGRITY);
    cr_assert_eq(vault_master_unseal(m, "v1", "k2", "1", s.data, s.len, &o, NULL), CF_EINTEGRITY);
    cr_assert_eq(vault_master_unseal(m, "v1", "k", "2", s.data, s.len, &o, NULL), CF_EINTEGRITY);
    /* separators matter: ("v1","k1") is not ("v1k","1") */
    cr_assert_eq(vault_master_unseal(m, "v1k", "", "1", s.data, s.len, &o, NULL), CF_EINTEGRITY);
    cr_assert_eq(vault_master_unseal(other, "v1", "k", "1", s.data, s.len, &o, NULL),
                 CF_EINTEGRITY);
    s.data[20] ^= 1;
    cr_assert_eq(vault_master_unseal(m, "v1", "k", "1", s.data, s.len, &o, NULL), CF_EINTEGRITY);
    cr_assert_eq(vault_master_unseal(m, "v1", "k", "1", s.data, 10, &o, NULL), CF_EINTEGRITY);
    cr_assert_eq(o.len, 0, "nothing released on failure");
    cf_buf_free(&s);
    cf_buf_free(&o);
    vault_master_free(m);
    vault_master_free(other);
}

Test(vault_master, key_file_created_private_then_reloaded)
{
    char dir[] = "/tmp/vault-master-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/master.key", dir);
    vault_master *a = NULL, *b = NULL;
    cr_assert_eq(vault_master_file(&a, path, NULL), CF_OK);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(st.st_size, 32);
    cr_assert_eq(vault_master_file(&b, path, NULL), CF_OK);
    cr_assert_eq(memcmp(a->key, b->key, 32), 0);
    vault_master_free(b);
    b = NULL;
    chmod(path, 0644);
    cf_err e = {0};
    cr_assert_eq(vault_master_file(&b, path, &e), CF_EDENIED, "%s", e.msg);
    chmod(path, 0600);
    cr_assert_eq(truncate(path, 31), 0);
    cr_assert_eq(vault_master_file(&b, path, NULL), CF_EINTEGRITY);
    vault_master_free(a);
    unlink(path);
    rmdir(dir);
}
