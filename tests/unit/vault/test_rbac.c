/*
 * test_rbac.c -- Key Vault RBAC (src/vault/rbac.c): Azure's built-in key
 * roles and what their data actions allow, ARM's wildcard match, role
 * lookups by name, GUID and definition id; then, on a real store, the
 * assignments at a vault's and a key's scope, and the migration that puts
 * the vaults of a database made before resource groups into the default
 * group (src/vault/arm.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../test_tmpdir.h"
#include "vault/arm.h"
#include "vault/rbac.h"

#define ENC_USER "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#define OFFICER "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
#define ADMIN "00482a5a-887f-4fb3-b363-3b7fe8e74483"
#define READER "21090545-7ca7-4776-b22c-e363652d74d2"

static int role_allows_perm(const char *role, const char *perm)
{
    const vault_role *r = vault_role_find(role);
    cr_assert_not_null(r, "%s", role);
    return vault_role_allows(r, vault_rbac_action(perm));
}

Test(vault_rbac, encryption_user_reads_wraps_and_unwraps_only)
{
    const char *yes[] = {"get", "list", "wrapKey", "unwrapKey"};
    const char *no[] = {"create",
                        "import",
                        "update",
                        "delete",
                        "recover",
                        "purge",
                        "encrypt",
                        "decrypt",
                        "sign",
                        "verify",
                        "rotate",
                        "getrotationpolicy",
                        "setrotationpolicy",
                        "release"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        cr_assert(role_allows_perm("Key Vault Crypto Service Encryption User", yes[i]), "%s",
                  yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        cr_assert_not(role_allows_perm("Key Vault Crypto Service Encryption User", no[i]), "%s",
                      no[i]);
}

Test(vault_rbac, officer_and_administrator_do_everything_with_keys)
{
    const char *all[] = {"get",
                         "list",
                         "create",
                         "import",
                         "update",
                         "delete",
                         "recover",
                         "purge",
                         "backup",
                         "restore",
                         "encrypt",
                         "decrypt",
                         "wrapKey",
                         "unwrapKey",
                         "sign",
                         "verify",
                         "release",
                         "rotate",
                         "getrotationpolicy",
                         "setrotationpolicy"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        cr_assert(role_allows_perm("Key Vault Crypto Officer", all[i]), "%s", all[i]);
        cr_assert(role_allows_perm("Key Vault Administrator", all[i]), "%s", all[i]);
    }
}

Test(vault_rbac, reader_reads_metadata_but_never_uses_a_key)
{
    cr_assert(role_allows_perm(READER, "get"));
    cr_assert(role_allows_perm(READER, "getrotationpolicy"));
    cr_assert_not(role_allows_perm(READER, "unwrapKey"));
    cr_assert_not(role_allows_perm(READER, "create"));
    cr_assert(role_allows_perm("Key Vault Crypto User", "decrypt"));
    cr_assert_not(role_allows_perm("Key Vault Crypto User", "create"));
    cr_assert_not(role_allows_perm("Key Vault Crypto User", "rotate"));
}

Test(vault_rbac, finds_roles_by_name_guid_and_definition_id)
{
    const vault_role *r = vault_role_find("key vault crypto service encryption user");
    cr_assert_not_null(r);
    cr_assert_str_eq(r->id, ENC_USER);
    cr_assert_eq(vault_role_find(ENC_USER), r);
    cr_assert_eq(vault_role_find("/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/providers/"
                                 "Microsoft.Authorization/roleDefinitions/" ENC_USER),
                 r);
    cr_assert_eq(vault_role_find("/providers/Microsoft.Authorization/roleDefinitions/" OFFICER),
                 vault_role_find("Key Vault Crypto Officer"));
    cr_assert_null(vault_role_find("Owner"));
    cr_assert_null(vault_role_find("/providers/Microsoft.Authorization/roleAssignments/" ADMIN));
    cr_assert_null(vault_role_find(NULL));
    cr_assert_null(vault_rbac_action("nosuchpermission"));
}

Test(vault_rbac, wildcards_match_as_arm_matches)
{
    cr_assert(vault_rbac_match("Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/keys/"
                                                              "unwrap/action"));
    cr_assert(vault_rbac_match("Microsoft.KeyVault/vaults/*/read",
                               "microsoft.keyvault/VAULTS/keys/read"));
    cr_assert_not(vault_rbac_match("Microsoft.KeyVault/vaults/*/read",
                                   "Microsoft.KeyVault/vaults/keys/unwrap/action"));
    cr_assert_not(vault_rbac_match("Microsoft.KeyVault/vaults/keys/read",
                                   "Microsoft.KeyVault/vaults/keys/read/more"));
    cr_assert(vault_rbac_match("*", "anything"));
    cr_assert(vault_rbac_match("a*b*c", "a-b-b-c"));
    cr_assert_not(vault_rbac_match("a*b*c", "a-b-b-d"));
}

/* ---- on a store ---- */

static char dir[256];
static vault_store *st;
static vault_config cfg;
static vault_app app;

static void put_vault(const char *name)
{
    vault_info v = {0};
    snprintf(v.name, sizeof(v.name), "%s", name);
    snprintf(v.tenant_id, sizeof(v.tenant_id), "t");
    v.retention_days = 90;
    v.policies = json_array();
    int created = 0;
    cr_assert_eq(vault_store_vault_put(st, &v, &created, NULL), CF_OK);
    vault_info_clear(&v);
}

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "rbac");
    char path[300];
    snprintf(path, sizeof(path), "%s/kv.db", dir);
    cf_err e = {0};
    cr_assert_eq(vault_store_open(&st, path, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(vault_config_init(&cfg, NULL), CF_OK);
    app = (vault_app){.cfg = &cfg, .store = st};
}

static void teardown(void)
{
    vault_store_close(st);
    vault_config_free(&cfg);
    test_tmpdir_remove(dir);
}

TestSuite(vault_rbac_store, .init = setup, .fini = teardown);

Test(vault_rbac_store, migration_places_existing_vaults_in_the_default_group)
{
    put_vault("default");
    put_vault("Old-Vault");
    int migrated = -1;
    cr_assert_eq(vault_arm_init(&app, &migrated, NULL), CF_OK);
    cr_assert_eq(migrated, 2);
    vault_place p;
    vault_arm_get(&app, "old-vault", &p);
    cr_assert_str_eq(p.sub, "00000000-0000-0000-0000-000000000000");
    cr_assert_str_eq(p.group, "default");
    cr_assert_eq(p.rbac, 0);
    char id[ARM_ID_MAX];
    vault_arm_id(&app, "Old-Vault", id);
    cr_assert_str_eq(id, "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                         "default/providers/Microsoft.KeyVault/vaults/Old-Vault");
    cr_assert_eq(vault_arm_init(&app, &migrated, NULL), CF_OK);
    cr_assert_eq(migrated, 0);
}

static void assign(const char *id, const char *vault, const char *key, const char *oid,
                   const char *role)
{
    cr_assert_eq(vault_store_query(st, NULL, NULL, NULL, NULL,
                                   "INSERT INTO role_assignments(id,vault,key_name,principal_id,"
                                   "principal_type,role_id,description,created) "
                                   "VALUES(?1,?2,?3,?4,'ServicePrincipal',?5,NULL,1)",
                                   "ttttt", id, vault, key, oid, role),
                 CF_OK);
}

#define OID "0498ef16-e09f-4d4c-98b3-16bb1e8cdde0"

Test(vault_rbac_store, assignments_at_the_vault_and_at_a_key)
{
    put_vault("kv1");
    cr_assert_eq(vault_arm_init(&app, NULL, NULL), CF_OK);
    cr_assert_eq(vault_rbac_init(&app, NULL), CF_OK);
    cr_assert_not(vault_rbac_allows(&app, "kv1", "k1", OID, "unwrapKey"));
    assign("11111111-0000-4000-8000-000000000001", "kv1", "k1", OID, ENC_USER);
    cr_assert(vault_rbac_allows(&app, "kv1", "k1", OID, "unwrapKey"));
    cr_assert(vault_rbac_allows(&app, "KV1", "K1", OID, "get"));           /* names ignore case */
    cr_assert_not(vault_rbac_allows(&app, "kv1", "k2", OID, "unwrapKey")); /* another key */
    cr_assert_not(vault_rbac_allows(&app, "kv1", "", OID, "list"));        /* the vault */
    cr_assert_not(vault_rbac_allows(&app, "kv1", "k1", OID, "create"));
    cr_assert_not(
        vault_rbac_allows(&app, "kv1", "k1", "aaaaaaaa-e09f-4d4c-98b3-16bb1e8cdde0", "unwrapKey"));
    assign("11111111-0000-4000-8000-000000000002", "kv1", "", OID, OFFICER);
    cr_assert(vault_rbac_allows(&app, "kv1", "k2", OID, "create"));
    cr_assert(vault_rbac_allows(&app, "kv1", "", OID, "list"));
    /* a deleted vault's assignments go with it */
    vault_arm_forget(&app, "kv1");
    cr_assert_not(vault_rbac_allows(&app, "kv1", "k1", OID, "unwrapKey"));
}
