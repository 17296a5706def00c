/*
 * test_scheduler.c -- the scheduler's pass (src/vault/scheduler.c) against a
 * real store, audit log and software key engine, with the clock moved
 * forward: policy rotation, the once-per-version Notify, and the purge of
 * deleted keys, and of deleted vaults with their keys, whose retention has
 * passed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/api.h"
#include "vault/rotation.h"
#include "vault/scheduler.h"

static char dir[64];
static vault_config cfg;
static vault_app app;
static vault_master *master;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/vault-sched-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char p[128];
    cf_err e = {0};
    cr_assert_eq(vault_config_init(&cfg, NULL), CF_OK);
    unsigned char k[VAULT_MASTER_LEN] = {9};
    cr_assert_eq(vault_master_from_bytes(&master, k, NULL), CF_OK);
    app.cfg = &cfg;
    snprintf(p, sizeof(p), "%s/kv.db", dir);
    cr_assert_eq(vault_store_open(&app.store, p, &e), CF_OK, "%s", e.msg);
    snprintf(p, sizeof(p), "%s/audit.log", dir);
    cr_assert_eq(vault_audit_open(&app.audit, p, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(vault_engine_new(&app.engine, master, NULL, &e), CF_OK);
    cr_assert_eq(vault_api_ensure_default(&app, &e), CF_OK, "%s", e.msg);
}

static void teardown(void)
{
    vault_engine_free(app.engine);
    vault_audit_close(app.audit);
    vault_store_close(app.store);
    vault_master_free(master);
    vault_config_free(&cfg);
    const char *files[] = {"kv.db", "kv.db-wal", "kv.db-shm", "audit.log"};
    for (size_t i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(vault_scheduler, .init = setup, .fini = teardown);

static void create_ec_key(const char *name, int64_t exp)
{
    vault_keyver kv = {0};
    cf_err e = {0};
    snprintf(kv.vault, sizeof(kv.vault), "default");
    snprintf(kv.name, sizeof(kv.name), "%s", name);
    snprintf(kv.version, sizeof(kv.version), "0000000000000000000000000000000a");
    snprintf(kv.kty, sizeof(kv.kty), "EC");
    kv.enabled = 1;
    kv.exp = exp;
    kv.key_ops = json_pack("[ss]", "sign", "verify");
    cr_assert_eq(vault_engine_generate(app.engine, &kv, 0, 0, "P-256", &e), CF_OK, "%s", e.msg);
    cr_assert_not_null(kv.sealed, "a software key is stored sealed");
    cr_assert_eq(vault_store_version_add(app.store, &kv, &e), CF_OK, "%s", e.msg);
    vault_keyver_clear(&kv);
}

static size_t versions(const char *name)
{
    vault_keyver *rows = NULL;
    size_t n = 0;
    int more = 0;
    cr_assert_eq(
        vault_store_version_list(app.store, "default", name, NULL, 25, &rows, &n, &more, NULL),
        CF_OK);
    vault_keyvers_free(rows, n);
    return n;
}

static size_t audit_count(const char *op)
{
    json_t *res = NULL;
    vault_audit_filter f = {.operation = op, .limit = 100};
    cr_assert_eq(vault_audit_query(app.audit, &f, &res, NULL), CF_OK);
    size_t n = json_array_size(json_object_get(res, "value"));
    json_decref(res);
    return n;
}

Test(vault_scheduler, rotates_when_the_policy_trigger_passes)
{
    create_ec_key("rot", 0);
    json_t *in = json_loads("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P30D\"},"
                            "\"action\":{\"type\":\"Rotate\"}}],\"attributes\":{\"expiryTime\":"
                            "\"P90D\"}}",
                            0, NULL);
    json_t *pol = NULL;
    cr_assert_eq(vault_rotation_normalize(&pol, in, 7 * 86400, NULL), CF_OK);
    cr_assert_eq(vault_store_rotation_set(app.store, "default", "rot", pol, NULL), CF_OK);
    int64_t now = (int64_t)time(NULL);
    vault_scheduler_run_once(&app, now + 29 * 86400);
    cr_assert_eq(versions("rot"), 1);
    vault_scheduler_run_once(&app, now + 31 * 86400);
    cr_assert_eq(versions("rot"), 2);
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(app.store, "default", "rot", NULL, 0, &kv, NULL), CF_OK);
    cr_assert_str_eq(kv.kty, "EC");
    cr_assert(kv.exp >= now + 90 * 86400 - 5, "expiryTime sets exp on the new version");
    cr_assert_eq(json_array_size(kv.key_ops), 2);
    vault_keyver_clear(&kv);
    cr_assert_eq(audit_count("KeyRotateByPolicy"), 1);
    json_decref(in);
    json_decref(pol);
}

Test(vault_scheduler, notifies_once_per_version_before_expiry)
{
    int64_t now = (int64_t)time(NULL);
    create_ec_key("exp", now + 40 * 86400);
    json_t *pol = vault_rotation_default(); /* Notify 30 days before expiry */
    cr_assert_eq(vault_store_rotation_set(app.store, "default", "exp", pol, NULL), CF_OK);
    vault_scheduler_run_once(&app, now);
    cr_assert_eq(audit_count("KeyNearExpiry"), 0);
    vault_scheduler_run_once(&app, now + 11 * 86400);
    vault_scheduler_run_once(&app, now + 12 * 86400);
    cr_assert_eq(audit_count("KeyNearExpiry"), 1);
    cr_assert_eq(versions("exp"), 1, "notify never rotates");
    json_decref(pol);
}

Test(vault_scheduler, purges_deleted_keys_after_the_retention)
{
    create_ec_key("gone", 0);
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(vault_store_key_delete(app.store, "default", "gone", now, now + 7 * 86400, NULL),
                 CF_OK);
    vault_scheduler_run_once(&app, now + 7 * 86400 - 1);
    vault_keyver kv = {0};
    cr_assert_eq(vault_store_version_get(app.store, "default", "gone", NULL, 1, &kv, NULL), CF_OK);
    vault_keyver_clear(&kv);
    vault_scheduler_run_once(&app, now + 7 * 86400);
    cr_assert_eq(vault_store_version_get(app.store, "default", "gone", NULL, 1, &kv, NULL),
                 CF_ENOTFOUND);
    cr_assert_eq(audit_count("KeyPurgeScheduled"), 1);
}

/* a soft-deleted vault goes, with every key in it, once its scheduled
 * purge date has passed (purge protection only stops an early purge) */
Test(vault_scheduler, purges_deleted_vaults_with_their_keys_after_the_retention)
{
    vault_info v = {0};
    snprintf(v.name, sizeof(v.name), "kvgone");
    snprintf(v.tenant_id, sizeof(v.tenant_id), "t");
    v.retention_days = 7;
    v.purge_protection = 1;
    v.policies = json_array();
    int created = 0;
    cr_assert_eq(vault_store_vault_put(app.store, &v, &created, NULL), CF_OK);
    vault_info_clear(&v);
    vault_keyver kv = {0};
    cf_err e = {0};
    snprintf(kv.vault, sizeof(kv.vault), "kvgone");
    snprintf(kv.name, sizeof(kv.name), "inside");
    snprintf(kv.version, sizeof(kv.version), "0000000000000000000000000000000b");
    snprintf(kv.kty, sizeof(kv.kty), "EC");
    kv.enabled = 1;
    kv.key_ops = json_pack("[ss]", "sign", "verify");
    cr_assert_eq(vault_engine_generate(app.engine, &kv, 0, 0, "P-256", &e), CF_OK, "%s", e.msg);
    cr_assert_eq(vault_store_version_add(app.store, &kv, &e), CF_OK, "%s", e.msg);
    vault_keyver_clear(&kv);
    int64_t now = (int64_t)time(NULL);
    cr_assert_eq(vault_store_vault_delete(app.store, "kvgone", now, now + 7 * 86400, NULL), CF_OK);
    vault_scheduler_run_once(&app, now + 7 * 86400 - 1);
    cr_assert_eq(vault_store_vault_get_deleted(app.store, "kvgone", &v, NULL), CF_OK);
    vault_info_clear(&v);
    vault_scheduler_run_once(&app, now + 7 * 86400);
    cr_assert_eq(vault_store_vault_get_deleted(app.store, "kvgone", &v, NULL), CF_ENOTFOUND);
    cr_assert_eq(vault_store_version_get(app.store, "kvgone", "inside", NULL, 0, &kv, NULL),
                 CF_ENOTFOUND);
    cr_assert_eq(audit_count("VaultPurgeScheduled"), 1);
}
