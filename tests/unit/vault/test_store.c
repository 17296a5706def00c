/*
 * test_store.c -- keyvaultd's SQLite store (src/vault/store.c) on a real
 * database file: vaults, versions, soft delete / recover / purge, paging,
 * rotation policies.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vault/store.h"

static char dir[64];
static vault_store *st;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/vault-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/kv.db", dir);
    cf_err e = {0};
    cr_assert_eq(vault_store_open(&st, path, &e), CF_OK, "%s", e.msg);
    vault_info v = {0};
    snprintf(v.name, sizeof(v.name), "default");
    snprintf(v.tenant_id, sizeof(v.tenant_id), "t");
    v.retention_days = 90;
    v.policies = json_array();
    int created = 0;
    cr_assert_eq(vault_store_vault_put(st, &v, &created, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(created, 1);
    vault_info_clear(&v);
}

static void teardown(void)
{
    vault_store_close(st);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "%s/kv.db", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/kv.db-wal", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/kv.db-shm", dir);
    unlink(cmd);
    rmdir(dir);
}

static void add_version(const char *name, const char *version, const char *secret)
{
    vault_keyver kv = {0};
    snprintf(kv.vault, sizeof(kv.vault), "default");
    snprintf(kv.name, sizeof(kv.name), "%s", name);
    snprintf(kv.version, sizeof(kv.version), "%s", version);
    snprintf(kv.kty, sizeof(kv.kty), "RSA");
    kv.enabled = 1;
    kv.key_ops = json_pack("[s]", "unwrapKey");
    kv.jwk = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", "AQAB", "e", "AQAB");
    kv.sealed = (unsigned char *)strdup(secret);
    kv.sealed_len = strlen(secret);
    cf_err e = {0};
    cr_assert_eq(vault_store_version_add(st, &kv, &e), CF_OK, "%s", e.msg);
    vault_keyver_clear(&kv);
}

TestSuite(vault_store, .init = setup, .fini = teardown);

Test(vault_store, latest_version_and_case_insensitive_names)
{
    add_version("Cmk", "00000000000000000000000000000001", "s1");
    add_version("cmk", "00000000000000000000000000000002", "s2");
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(st, "DEFAULT", "CMK", NULL, 0, &kv, NULL), CF_OK);
    cr_assert_str_eq(kv.version, "00000000000000000000000000000002");
    cr_assert_str_eq(kv.name, "Cmk", "the name keeps its first spelling");
    cr_assert_eq(kv.sealed_len, 2);
    cr_assert_eq(memcmp(kv.sealed, "s2", 2), 0);
    vault_keyver_clear(&kv);
    cr_assert_eq(vault_store_version_get(st, "default", "cmk", "00000000000000000000000000000001",
                                         0, &kv, NULL),
                 CF_OK);
    cr_assert_eq(memcmp(kv.sealed, "s1", 2), 0);
    vault_keyver_clear(&kv);
    cr_assert_eq(vault_store_version_get(st, "default", "nope", NULL, 0, &kv, NULL), CF_ENOTFOUND);
}

Test(vault_store, soft_delete_hides_blocks_name_and_recovers)
{
    add_version("k", "00000000000000000000000000000001", "s");
    cr_assert_eq(vault_store_key_delete(st, "default", "k", 100, 200, NULL), CF_OK);
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(st, "default", "k", NULL, 0, &kv, NULL), CF_ENOTFOUND);
    cr_assert_eq(vault_store_version_get(st, "default", "k", NULL, 1, &kv, NULL), CF_OK);
    cr_assert_eq(kv.deleted_date, 100);
    cr_assert_eq(kv.scheduled_purge, 200);
    vault_keyver_clear(&kv);
    /* the name cannot be reused while deleted */
    vault_keyver nv = {0};
    snprintf(nv.vault, sizeof(nv.vault), "default");
    snprintf(nv.name, sizeof(nv.name), "K");
    snprintf(nv.version, sizeof(nv.version), "00000000000000000000000000000002");
    snprintf(nv.kty, sizeof(nv.kty), "RSA");
    nv.jwk = json_object();
    cf_err e = {0};
    cr_assert_eq(vault_store_version_add(st, &nv, &e), CF_ECONFLICT);
    cr_assert(strstr(e.msg, "deleted but recoverable") != NULL, "%s", e.msg);
    vault_keyver_clear(&nv);
    /* purge is due at 200, not at 199 */
    json_t *due = NULL;
    cr_assert_eq(vault_store_purge_due(st, 199, &due, NULL), CF_OK);
    cr_assert_eq(json_array_size(due), 0);
    json_decref(due);
    cr_assert_eq(vault_store_purge_due(st, 200, &due, NULL), CF_OK);
    cr_assert_eq(json_array_size(due), 1);
    json_decref(due);
    cr_assert_eq(vault_store_key_recover(st, "default", "k", NULL), CF_OK);
    cr_assert_eq(vault_store_version_get(st, "default", "k", NULL, 0, &kv, NULL), CF_OK);
    vault_keyver_clear(&kv);
    cr_assert_eq(vault_store_key_recover(st, "default", "k", NULL), CF_ENOTFOUND);
}

Test(vault_store, purge_removes_every_version_and_reports_hsm_ids)
{
    add_version("k", "00000000000000000000000000000001", "s");
    cr_assert_eq(vault_store_key_delete(st, "default", "k", 1, 2, NULL), CF_OK);
    json_t *ids = NULL;
    cr_assert_eq(vault_store_key_purge(st, "default", "k", &ids, NULL), CF_OK);
    cr_assert_eq(json_array_size(ids), 0);
    json_decref(ids);
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(st, "default", "k", NULL, 1, &kv, NULL), CF_ENOTFOUND);
    /* the name is free again */
    add_version("k", "00000000000000000000000000000009", "s");
}

Test(vault_store, lists_page_in_name_order)
{
    const char *names[] = {"c", "a", "b"};
    for (int i = 0; i < 3; i++)
        add_version(names[i], "00000000000000000000000000000001", "s");
    add_version("a", "00000000000000000000000000000002", "s");
    vault_keyver *rows = NULL;
    size_t n = 0;
    int more = 0;
    cr_assert_eq(vault_store_key_list(st, "default", 0, NULL, 2, &rows, &n, &more, NULL), CF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(more, 1);
    cr_assert_str_eq(rows[0].name, "a");
    cr_assert_str_eq(rows[0].version, "00000000000000000000000000000002", "latest per key");
    cr_assert_null(rows[0].sealed, "lists never carry private material");
    vault_keyvers_free(rows, n);
    cr_assert_eq(vault_store_key_list(st, "default", 0, "B", 2, &rows, &n, &more, NULL), CF_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(more, 0);
    cr_assert_str_eq(rows[0].name, "c");
    vault_keyvers_free(rows, n);
    cr_assert_eq(vault_store_version_list(st, "default", "a", NULL, 25, &rows, &n, &more, NULL),
                 CF_OK);
    cr_assert_eq(n, 2);
    vault_keyvers_free(rows, n);
}

static void list_names(const char *after, size_t limit, const char *want, int want_more)
{
    vault_keyver *rows = NULL;
    size_t n = 0;
    int more = -1;
    cr_assert_eq(vault_store_key_list(st, "default", 0, after, limit, &rows, &n, &more, NULL),
                 CF_OK);
    char got[1024] = "";
    for (size_t i = 0; i < n && i < 5; i++) {
        size_t k = strlen(got);
        snprintf(got + k, sizeof(got) - k, "%s%.128s", i ? "," : "", rows[i].name);
    }
    cr_assert_str_eq(got, want, "after %s", after ? after : "(start)");
    cr_assert_eq(more, want_more, "after %s", after ? after : "(start)");
    vault_keyvers_free(rows, n);
}

Test(vault_store, keyset_paging_neither_skips_nor_repeats_when_keys_change_between_pages)
{
    const char *names[] = {"a", "b", "C", "d", "e"};
    for (int i = 0; i < 5; i++)
        add_version(names[i], "00000000000000000000000000000001", "s");
    list_names(NULL, 2, "a,b", 1);
    /* a key sorting before the cursor comes: an offset of 2 would repeat b */
    add_version("a0", "00000000000000000000000000000001", "s");
    list_names("b", 2, "C,d", 1);
    /* two keys of the earlier pages go: an offset of 4 would skip e */
    cr_assert_eq(vault_store_key_delete(st, "default", "a", 1, 2, NULL), CF_OK);
    cr_assert_eq(vault_store_key_delete(st, "default", "a0", 1, 2, NULL), CF_OK);
    list_names("d", 2, "e", 0);
    /* the cursor compares like the names: case-insensitively */
    list_names("c", 5, "d,e", 0);
    list_names("zzz", 5, "", 0);
    /* deleted keys page the same way */
    vault_keyver *rows = NULL;
    size_t n = 0;
    int more = 0;
    cr_assert_eq(vault_store_key_list(st, "default", 1, "a", 5, &rows, &n, &more, NULL), CF_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(rows[0].name, "a0");
    vault_keyvers_free(rows, n);
    cr_assert_eq(vault_store_key_list(st, "default", 1, NULL, 1, &rows, &n, &more, NULL), CF_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(more, 1);
    cr_assert_str_eq(rows[0].name, "a");
    vault_keyvers_free(rows, n);
}

Test(vault_store, version_paging_continues_after_the_last_version)
{
    const char *v[] = {"f0000000000000000000000000000001", "10000000000000000000000000000002",
                       "a0000000000000000000000000000003"};
    for (int i = 0; i < 3; i++)
        add_version("k", v[i], "s");
    vault_keyver *rows = NULL;
    size_t n = 0;
    int more = 0;
    cr_assert_eq(vault_store_version_list(st, "default", "k", NULL, 2, &rows, &n, &more, NULL),
                 CF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(more, 1);
    cr_assert_str_eq(rows[1].version, v[1], "creation order, not version order");
    vault_keyvers_free(rows, n);
    add_version("k", "00000000000000000000000000000004", "s");
    cr_assert_eq(vault_store_version_list(st, "default", "k", v[1], 2, &rows, &n, &more, NULL),
                 CF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(more, 0);
    cr_assert_str_eq(rows[0].version, v[2]);
    cr_assert_str_eq(rows[1].version, "00000000000000000000000000000004");
    vault_keyvers_free(rows, n);
    /* a version the key does not have: nothing */
    cr_assert_eq(vault_store_version_list(st, "default", "k", "0000000000000000000000000000dead", 2,
                                          &rows, &n, &more, NULL),
                 CF_OK);
    cr_assert_eq(n, 0);
    vault_keyvers_free(rows, n);
}

Test(vault_store, rotation_policy_round_trip)
{
    add_version("k", "00000000000000000000000000000001", "s");
    json_t *p = NULL;
    cr_assert_eq(vault_store_rotation_get(st, "default", "k", &p, NULL), CF_OK);
    cr_assert_null(p);
    json_t *pol = json_pack("{s:[]}", "lifetimeActions");
    cr_assert_eq(vault_store_rotation_set(st, "default", "k", pol, NULL), CF_OK);
    json_decref(pol);
    cr_assert_eq(vault_store_rotation_get(st, "default", "k", &p, NULL), CF_OK);
    cr_assert_not_null(json_object_get(p, "lifetimeActions"));
    json_decref(p);
    vault_rotation *rows = NULL;
    size_t n = 0;
    cr_assert_eq(vault_store_rotation_list(st, &rows, &n, NULL), CF_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(rows[0].name, "k");
    vault_rotations_free(rows, n);
}

static void put_vault(const char *name, int purge_protection)
{
    vault_info v = {0};
    snprintf(v.name, sizeof(v.name), "%s", name);
    snprintf(v.tenant_id, sizeof(v.tenant_id), "t");
    v.retention_days = 7;
    v.purge_protection = purge_protection;
    v.policies = json_pack("[{s:s}]", "objectId", "o1");
    v.network_acls = json_pack("{s:s}", "defaultAction", "Deny");
    int created = 0;
    cf_err e = {0};
    cr_assert_eq(vault_store_vault_put(st, &v, &created, &e), CF_OK, "%s", e.msg);
    vault_info_clear(&v);
}

/* a key version in vault `vault` (add_version writes to "default") */
static void add_version_in(const char *vault, const char *name, const char *hsm_id)
{
    vault_keyver kv = {0};
    snprintf(kv.vault, sizeof(kv.vault), "%s", vault);
    snprintf(kv.name, sizeof(kv.name), "%s", name);
    snprintf(kv.version, sizeof(kv.version), "00000000000000000000000000000001");
    snprintf(kv.kty, sizeof(kv.kty), "RSA-HSM");
    snprintf(kv.hsm_id, sizeof(kv.hsm_id), "%s", hsm_id);
    kv.enabled = 1;
    kv.jwk = json_object();
    cf_err e = {0};
    cr_assert_eq(vault_store_version_add(st, &kv, &e), CF_OK, "%s", e.msg);
    vault_keyver_clear(&kv);
}

Test(vault_store, deleted_vault_is_hidden_holds_its_name_and_recovers_unchanged)
{
    put_vault("kv1", 1);
    add_version_in("kv1", "cmk", "aa01");
    json_t *pol = json_pack("{s:[]}", "lifetimeActions");
    cr_assert_eq(vault_store_rotation_set(st, "kv1", "cmk", pol, NULL), CF_OK);
    json_decref(pol);
    cr_assert_eq(vault_store_vault_delete(st, "KV1", 100, 200, NULL), CF_OK);
    cr_assert_eq(vault_store_vault_delete(st, "kv1", 100, 200, NULL), CF_ENOTFOUND, "only once");
    cr_assert_eq(vault_store_vault_delete(st, "absent", 100, 200, NULL), CF_ENOTFOUND);
    vault_info v = {0};
    cr_assert_eq(vault_store_vault_get(st, "kv1", &v, NULL), CF_ENOTFOUND);
    cr_assert_eq(vault_store_vault_get_deleted(st, "kv1", &v, NULL), CF_OK);
    cr_assert_eq(v.deleted_date, 100);
    cr_assert_eq(v.scheduled_purge, 200);
    vault_info_clear(&v);
    cr_assert_eq(vault_store_vault_get_deleted(st, "default", &v, NULL), CF_ENOTFOUND);
    json_t *names = NULL;
    cr_assert_eq(vault_store_vault_list(st, &names, NULL), CF_OK);
    cr_assert_eq(json_array_size(names), 1, "only default is live");
    json_decref(names);
    cr_assert_eq(vault_store_vault_list_deleted(st, &names, NULL), CF_OK);
    cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "kv1");
    json_decref(names);
    /* its keys are not rotated by the scheduler while it is deleted */
    vault_rotation *rows = NULL;
    size_t n = 9;
    cr_assert_eq(vault_store_rotation_list(st, &rows, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
    vault_rotations_free(rows, n);
    /* the name is held: a put is refused and changes nothing */
    vault_info nv = {0};
    snprintf(nv.name, sizeof(nv.name), "kv1");
    snprintf(nv.tenant_id, sizeof(nv.tenant_id), "other");
    nv.retention_days = 90;
    int created = 0;
    cr_assert_eq(vault_store_vault_put(st, &nv, &created, NULL), CF_ECONFLICT);
    vault_info_clear(&nv);
    /* recover: everything as it was */
    cr_assert_eq(vault_store_vault_recover(st, "kv1", NULL), CF_OK);
    cr_assert_eq(vault_store_vault_recover(st, "kv1", NULL), CF_ENOTFOUND);
    cr_assert_eq(vault_store_vault_get(st, "kv1", &v, NULL), CF_OK);
    cr_assert_str_eq(v.tenant_id, "t");
    cr_assert_eq(v.purge_protection, 1);
    cr_assert_eq(v.deleted_date, 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v.policies, 0), "objectId")),
                     "o1");
    cr_assert_str_eq(json_string_value(json_object_get(v.network_acls, "defaultAction")), "Deny");
    vault_info_clear(&v);
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(st, "kv1", "cmk", NULL, 0, &kv, NULL), CF_OK);
    vault_keyver_clear(&kv);
}

Test(vault_store, purging_a_deleted_vault_removes_every_key_and_reports_them)
{
    put_vault("kv2", 0);
    add_version_in("kv2", "a", "aa01");
    add_version_in("kv2", "b", "bb02");
    cr_assert_eq(vault_store_key_delete(st, "kv2", "b", 10, 20, NULL), CF_OK);
    add_version("k", "00000000000000000000000000000001", "s"); /* in default: untouched */
    cr_assert_eq(vault_store_vault_purge(st, "kv2", NULL, NULL, NULL), CF_ENOTFOUND,
                 "a live vault is not purged");
    cr_assert_eq(vault_store_vault_delete(st, "kv2", 100, 200, NULL), CF_OK);
    json_t *due = NULL;
    cr_assert_eq(vault_store_vault_purge_due(st, 199, &due, NULL), CF_OK);
    cr_assert_eq(json_array_size(due), 0);
    json_decref(due);
    cr_assert_eq(vault_store_vault_purge_due(st, 200, &due, NULL), CF_OK);
    cr_assert_eq(json_array_size(due), 1);
    json_decref(due);
    json_t *names = NULL, *ids = NULL;
    cr_assert_eq(vault_store_vault_purge(st, "kv2", &names, &ids, NULL), CF_OK);
    cr_assert_eq(json_array_size(names), 2);
    cr_assert_eq(json_array_size(ids), 2);
    json_decref(names);
    json_decref(ids);
    vault_info v = {0};
    cr_assert_eq(vault_store_vault_get_deleted(st, "kv2", &v, NULL), CF_ENOTFOUND);
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(st, "kv2", "b", NULL, 1, &kv, NULL), CF_ENOTFOUND);
    cr_assert_eq(vault_store_version_get(st, "default", "k", NULL, 0, &kv, NULL), CF_OK);
    vault_keyver_clear(&kv);
    /* the name is free again, with no key left in it */
    put_vault("kv2", 0);
    cr_assert_eq(vault_store_version_get(st, "kv2", "a", NULL, 0, &kv, NULL), CF_ENOTFOUND);
}

/* a database written by a keyvaultd of schema 1 opens, keeps its vaults
 * and gains the columns of schema 2 */
Test(vault_store, a_schema_1_database_is_migrated)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/v1.db", dir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE vaults(name TEXT PRIMARY KEY COLLATE NOCASE, tenant_id "
                              "TEXT NOT NULL, retention_days INTEGER NOT NULL, purge_protection "
                              "INTEGER NOT NULL, policies TEXT NOT NULL, created INTEGER NOT NULL, "
                              "updated INTEGER NOT NULL);"
                              "INSERT INTO vaults VALUES('old','t',30,1,'[]',1,1);"
                              "PRAGMA user_version=1;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    vault_store *old = NULL;
    cf_err e = {0};
    cr_assert_eq(vault_store_open(&old, path, &e), CF_OK, "%s", e.msg);
    vault_info v = {0};
    cr_assert_eq(vault_store_vault_get(old, "old", &v, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(v.retention_days, 30);
    cr_assert_null(v.network_acls);
    vault_info_clear(&v);
    cr_assert_eq(vault_store_vault_delete(old, "old", 1, 2, NULL), CF_OK);
    vault_store_close(old);
    /* and opens again, already migrated */
    cr_assert_eq(vault_store_open(&old, path, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(vault_store_vault_get_deleted(old, "old", &v, NULL), CF_OK);
    vault_info_clear(&v);
    vault_store_close(old);
    char p2[200];
    unlink(path);
    snprintf(p2, sizeof(p2), "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof(p2), "%s-shm", path);
    unlink(p2);
}
