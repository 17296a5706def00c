/*
 * test_meta.c -- the metadata store on a real database: a SQLite file, or
 * a database of its own on a real PostgreSQL server when COFFER_TEST_PG is
 * set (test_db.h): manifests and tags, pagination, referrers with the
 * artifactType filter, deletes and what they leave for the blob store to
 * remove. The tests that read the SQLite file itself run on SQLite only.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "store/meta.h"

#include <sqlite3.h>

#define REG "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define M1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define M2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define L1 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static char dir[256];
static char target[512];

static void setup(void)
{
    test_meta_open(dir, sizeof(dir), target, sizeof(target), "meta");
}

static void teardown(void)
{
    test_meta_close(dir, target);
}

/* the test reads the SQLite file itself (a skipped test gets no
 * teardown: the database goes first) */
#define SQLITE_ONLY()                                                                              \
    do {                                                                                           \
        if (test_db_pg()) {                                                                        \
            teardown();                                                                            \
            cr_skip_test("reads the SQLite file");                                                 \
        }                                                                                          \
    } while (0)

TestSuite(store_meta, .init = setup, .fini = teardown);

static void put(const char *repo, const char *digest, const char *tag, const char *subject,
                const char *artifact_type)
{
    const char *refs[] = {L1};
    const int ism[] = {0};
    meta_manifest_put_args a = {
        .reg = REG,
        .repo = repo,
        .digest = digest,
        .media_type = "application/vnd.oci.image.manifest.v1+json",
        .artifact_type = artifact_type,
        .subject = subject,
        .size = 100,
        .tag = tag,
        .nrefs = 1,
        .ref_digests = refs,
        .ref_is_manifest = ism,
    };
    cr_assert_eq(meta_manifest_put(&a, NULL), CF_OK);
}

typedef struct {
    char v[8][64];
    int n;
} list;

static int collect(void *cls, const char *value)
{
    list *l = cls;
    if (l->n < 8)
        snprintf(l->v[l->n++], 64, "%s", value);
    return 0;
}

static int count(void *cls, const meta_referrer *r)
{
    cr_assert_str_eq(r->digest, M2);
    (*(int *)cls)++;
    return 0;
}

static int seen(void *cls, const char *uuid, const char *r)
{
    (void)uuid;
    (void)r;
    (*(int *)cls)++;
    return 0;
}

Test(store_meta, registry_names_are_unique_and_case_insensitive)
{
    meta_registry r = {0}, g;
    snprintf(r.id, sizeof(r.id), "%s", REG);
    snprintf(r.name, sizeof(r.name), "Demo1");
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    cr_assert_eq(meta_registry_get(&g, "demo1", NULL), CF_OK);
    cr_assert_str_eq(g.id, REG);
    cr_assert_str_eq(g.name, "demo1");
    cr_assert_eq(g.cmk, 0);
    cr_assert_str_eq(g.sku, "Premium");
    cr_assert_eq(meta_registry_get(&g, "DEMO1", NULL), CF_OK);
    snprintf(r.id, sizeof(r.id), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_EEXISTS);
    cr_assert_eq(meta_registry_get(&g, "other", NULL), CF_ENOTFOUND);
}

Test(store_meta, tags_paginate_in_order)
{
    put("app", M1, "b", NULL, NULL);
    put("app", M1, "a", NULL, NULL);
    put("app", M1, "c", NULL, NULL);
    list l = {0};
    int more = 0;
    cr_assert_eq(meta_tags_list(REG, "app", NULL, 2, collect, &l, &more, NULL), CF_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.v[0], "a");
    cr_assert_str_eq(l.v[1], "b");
    cr_assert_eq(more, 1);
    list l2 = {0};
    cr_assert_eq(meta_tags_list(REG, "app", "b", 2, collect, &l2, &more, NULL), CF_OK);
    cr_assert_eq(l2.n, 1);
    cr_assert_str_eq(l2.v[0], "c");
    cr_assert_eq(more, 0);
    meta_manifest m;
    cr_assert_eq(meta_tag_get(&m, REG, "app", "c", NULL), CF_OK);
    cr_assert_str_eq(m.digest, M1);
    cr_assert_eq(m.size, 100);
}

Test(store_meta, referrers_filter_by_artifact_type)
{
    put("app", M1, "v1", NULL, NULL);
    put("app", M2, NULL, M1, "application/vnd.example.sbom");
    int n = 0;
    cr_assert_eq(meta_referrers(REG, "app", M1, NULL, count, &n, NULL), CF_OK);
    cr_assert_eq(n, 1);
    n = 0;
    cr_assert_eq(meta_referrers(REG, "app", M1, "application/vnd.example.sbom", count, &n, NULL),
                 CF_OK);
    cr_assert_eq(n, 1);
    n = 0;
    cr_assert_eq(meta_referrers(REG, "app", M1, "application/other", count, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
    n = 0;
    cr_assert_eq(meta_referrers(REG, "other", M1, NULL, count, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
}

Test(store_meta, manifest_delete_takes_tags_and_frees_unused_bytes)
{
    put("app", M1, "v1", NULL, NULL);
    put("other", M1, "v1", NULL, NULL);
    int orphaned = -1;
    cr_assert_eq(meta_manifest_delete(REG, "app", M1, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 0); /* "other" still has it */
    meta_manifest m;
    cr_assert_eq(meta_tag_get(&m, REG, "app", "v1", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_manifest_delete(REG, "app", M1, &orphaned, NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_manifest_delete(REG, "other", M1, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 1);
    cr_assert_eq(meta_blob_stat(REG, NULL, M1, NULL, NULL), CF_ENOTFOUND);
}

Test(store_meta, tag_delete_keeps_the_manifest)
{
    put("app", M1, "v1", NULL, NULL);
    cr_assert_eq(meta_tag_delete(REG, "app", "v1", NULL), CF_OK);
    cr_assert_eq(meta_tag_delete(REG, "app", "v1", NULL), CF_ENOTFOUND);
    meta_manifest m;
    cr_assert_eq(meta_manifest_get(&m, REG, "app", M1, NULL), CF_OK);
}

Test(store_meta, a_referenced_layer_outlives_its_link)
{
    cr_assert_eq(meta_blob_commit(REG, "app", L1, 5, NULL, NULL), CF_OK);
    put("app", M1, "v1", NULL, NULL); /* references L1 */
    int orphaned = -1;
    cr_assert_eq(meta_blob_unlink(REG, "app", L1, &orphaned, NULL), CF_OK);
    cr_assert_eq(orphaned, 0);
    cr_assert_eq(meta_blob_stat(REG, NULL, L1, NULL, NULL), CF_OK);
}

Test(store_meta, uploads_are_found_and_listed_by_age)
{
    cr_assert_eq(meta_upload_create("u1", REG, "app", NULL), CF_OK);
    char reg[META_ID_LEN + 1], repo[64];
    cr_assert_eq(meta_upload_get("u1", reg, repo, sizeof(repo), NULL), CF_OK);
    cr_assert_str_eq(repo, "app");
    cr_assert_eq(meta_upload_get("u2", reg, repo, sizeof(repo), NULL), CF_ENOTFOUND);
    int n = 0;
    cr_assert_eq(meta_upload_each_older(time(NULL) + 10, seen, &n, NULL), CF_OK);
    cr_assert_eq(n, 1);
    n = 0;
    cr_assert_eq(meta_upload_each_older(time(NULL) - 10, seen, &n, NULL), CF_OK);
    cr_assert_eq(n, 0);
}

/* ---- control plane: identities, registry identity and key settings ---- */

static void identity(meta_identity *id, const char *name, char hex)
{
    memset(id, 0, sizeof(*id));
    snprintf(id->name, sizeof(id->name), "%s", name);
    snprintf(id->client_id, sizeof(id->client_id), "%c%c%c%c%c%c%c%c-0000-4000-8000-00000000000c",
             hex, hex, hex, hex, hex, hex, hex, hex);
    snprintf(id->principal_id, sizeof(id->principal_id),
             "%c%c%c%c%c%c%c%c-0000-4000-8000-00000000000b", hex, hex, hex, hex, hex, hex, hex,
             hex);
    snprintf(id->tenant_id, sizeof(id->tenant_id), "00000000-0000-0000-0000-000000000000");
}

static void cmk_registry(meta_registry *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", REG);
    snprintf(r->name, sizeof(r->name), "cmkreg1");
    snprintf(r->sku, sizeof(r->sku), "Premium");
    snprintf(r->identity_type, sizeof(r->identity_type), "UserAssigned");
    memset(r->wrapped_s, 0x5a, sizeof(r->wrapped_s));
    r->cmk = 1;
    r->wrapped_c_len = 384;
    memset(r->wrapped_c, 0xc3, r->wrapped_c_len);
    snprintf(r->key_identifier, sizeof(r->key_identifier), "https://v.example:8443/keys/k");
    snprintf(r->versioned_key_identifier, sizeof(r->versioned_key_identifier),
             "https://v.example:8443/keys/k/0123456789abcdef0123456789abcdef");
    snprintf(r->key_identity, sizeof(r->key_identity), "aaaaaaaa-0000-4000-8000-00000000000c");
    r->key_rotation_enabled = 1;
    snprintf(r->key_status, sizeof(r->key_status), "available");
}

Test(store_meta, identities_are_unique_by_name_client_and_principal)
{
    meta_identity a, b, g;
    identity(&a, "mi-one", 'a');
    cr_assert_eq(meta_identity_create(&a, NULL), CF_OK);
    cr_assert_eq(meta_identity_create(&a, NULL), CF_EEXISTS);
    identity(&b, "mi-two", 'a'); /* same client id under another name */
    cr_assert_eq(meta_identity_create(&b, NULL), CF_EEXISTS);
    cr_assert_eq(meta_identity_by_client(&g, "AAAAAAAA-0000-4000-8000-00000000000C", NULL), CF_OK);
    cr_assert_str_eq(g.name, "mi-one");
    cr_assert_eq(meta_identity_by_principal(&g, a.principal_id, NULL), CF_OK);
    cr_assert_str_eq(g.client_id, a.client_id);
    cr_assert_eq(meta_identity_get(&g, "mi-none", NULL), CF_ENOTFOUND);
}

Test(store_meta, cmk_registry_round_trips_every_key_field)
{
    meta_identity a;
    identity(&a, "mi-one", 'a');
    cr_assert_eq(meta_identity_create(&a, NULL), CF_OK);
    meta_registry r, g;
    cmk_registry(&r);
    const char *ids[] = {"mi-one"};
    cr_assert_eq(meta_registry_create(&r, ids, 1, NULL), CF_OK);
    cr_assert_eq(meta_registry_get(&g, "cmkreg1", NULL), CF_OK);
    cr_assert_eq(g.cmk, 1);
    cr_assert_eq(g.wrapped_c_len, 384);
    cr_assert_eq(memcmp(g.wrapped_c, r.wrapped_c, 384), 0);
    cr_assert_str_eq(g.versioned_key_identifier, r.versioned_key_identifier);
    cr_assert_str_eq(g.key_identity, r.key_identity);
    cr_assert_str_eq(g.identity_type, "UserAssigned");
    cr_assert_eq(g.key_rotation_enabled, 1);
    cr_assert_gt(g.created_at, 0);

    /* rotation rewrites the key fields; a check stores its outcome */
    snprintf(r.versioned_key_identifier, sizeof(r.versioned_key_identifier),
             "https://v.example:8443/keys/k/fedcba9876543210fedcba9876543210");
    r.last_key_rotation = 1700000000;
    memset(r.wrapped_c, 0xd4, r.wrapped_c_len);
    cr_assert_eq(meta_registry_set_key(&r, NULL), CF_OK);
    cr_assert_eq(meta_registry_set_key_state(REG, "unavailable", 1700000100, "403 Forbidden", NULL),
                 CF_OK);
    cr_assert_eq(meta_registry_get_id(&g, REG, NULL), CF_OK);
    cr_assert_str_eq(g.versioned_key_identifier, r.versioned_key_identifier);
    cr_assert_eq(g.wrapped_c[0], 0xd4);
    cr_assert_eq(g.last_key_rotation, 1700000000);
    cr_assert_str_eq(g.key_status, "unavailable");
    cr_assert_eq(g.last_key_check, 1700000100);
    cr_assert_str_eq(g.last_error, "403 Forbidden");
    cr_assert_eq(meta_registry_set_key_state(REG, "available", 1700000200, NULL, NULL), CF_OK);
    cr_assert_eq(meta_registry_get_id(&g, REG, NULL), CF_OK);
    cr_assert_str_eq(g.last_error, "");
    cr_assert_eq(
        meta_registry_set_key_state("ffffffffffffffffffffffffffffffff", "available", 1, NULL, NULL),
        CF_ENOTFOUND);
}

Test(store_meta, an_assigned_identity_cannot_be_deleted)
{
    meta_identity a, b;
    identity(&a, "mi-one", 'a');
    identity(&b, "mi-two", 'b');
    cr_assert_eq(meta_identity_create(&a, NULL), CF_OK);
    cr_assert_eq(meta_identity_create(&b, NULL), CF_OK);
    meta_registry r;
    cmk_registry(&r);
    const char *ids[] = {"mi-one", "mi-two"};
    cr_assert_eq(meta_registry_create(&r, ids, 2, NULL), CF_OK);
    list l = {0};
    cr_assert_eq(meta_registry_identities(REG, collect, &l, NULL), CF_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(meta_identity_delete("mi-two", NULL), CF_ECONFLICT);
    /* unassign mi-two; it can go then, mi-one still cannot */
    cr_assert_eq(meta_registry_set_identities(&r, ids, 1, NULL), CF_OK);
    cr_assert_eq(meta_identity_delete("mi-two", NULL), CF_OK);
    cr_assert_eq(meta_identity_delete("mi-two", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_identity_delete("mi-one", NULL), CF_ECONFLICT);
}

Test(store_meta, deleting_a_registry_leaves_no_row_and_no_wrapped_key_in_the_file)
{
    meta_registry r, g;
    cmk_registry(&r);
    /* a marker only the wrapped secrets carry */
    memcpy(r.wrapped_s, "WRAPPED-S-MARKER-0123456789", 27);
    memcpy(r.wrapped_c, "WRAPPED-C-MARKER-0123456789", 27);
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    put("app", M1, "v1", NULL, NULL);
    cr_assert_eq(meta_registry_delete(REG, NULL), CF_OK);
    cr_assert_eq(meta_registry_get_id(&g, REG, NULL), CF_ENOTFOUND);
    meta_manifest m;
    cr_assert_eq(meta_tag_get(&m, REG, "app", "v1", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_registry_delete(REG, NULL), CF_ENOTFOUND);
    if (test_db_pg())
        return;      /* the rest reads the SQLite file */
    meta_shutdown(); /* checkpoint and close: the file alone must be clean */
    char path[300];
    snprintf(path, sizeof(path), "%s/cofferd.db", dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    cr_assert_null(memmem(buf, n, "WRAPPED-S-MARKER", 16), "wrapped S survives in the file");
    cr_assert_null(memmem(buf, n, "WRAPPED-C-MARKER", 16), "wrapped C survives in the file");
    snprintf(path, sizeof(path), "%s/cofferd.db", dir);
    cr_assert_eq(meta_init(path, NULL), CF_OK); /* for teardown */
}

/* ---- authentication: admin user, anonymous pull, epoch, tokens ---- */

Test(store_meta, registry_auth_settings_default_off_and_round_trip)
{
    meta_registry r, g;
    cmk_registry(&r);
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    cr_assert_eq(meta_registry_get_id(&g, REG, NULL), CF_OK);
    cr_assert_eq(g.admin_enabled, 0);
    cr_assert_eq(g.anonymous_pull, 0);
    cr_assert_eq(g.cred_epoch, 0);
    cr_assert_eq(g.admin_pw_set[0] | g.admin_pw_set[1], 0);

    g.admin_enabled = 1;
    g.anonymous_pull = 1;
    g.cred_epoch = 7;
    g.admin_pw_set[0] = 1;
    memset(g.admin_pw[0], 0xa1, sizeof(g.admin_pw[0]));
    g.admin_pw_set[1] = 1;
    memset(g.admin_pw[1], 0xa2, sizeof(g.admin_pw[1]));
    cr_assert_eq(meta_registry_set_auth(&g, NULL), CF_OK);
    meta_registry h;
    cr_assert_eq(meta_registry_get(&h, "cmkreg1", NULL), CF_OK);
    cr_assert_eq(h.admin_enabled, 1);
    cr_assert_eq(h.anonymous_pull, 1);
    cr_assert_eq(h.cred_epoch, 7);
    cr_assert(h.admin_pw_set[0] && h.admin_pw_set[1]);
    cr_assert_eq(memcmp(h.admin_pw[0], g.admin_pw[0], sizeof(h.admin_pw[0])), 0);
    cr_assert_eq(memcmp(h.admin_pw[1], g.admin_pw[1], sizeof(h.admin_pw[1])), 0);
    /* the other fields are untouched */
    cr_assert_str_eq(h.versioned_key_identifier, r.versioned_key_identifier);
    cr_assert_eq(memcmp(h.wrapped_s, r.wrapped_s, sizeof(h.wrapped_s)), 0);

    /* disabling keeps the passwords; a password can be cleared */
    h.admin_enabled = 0;
    h.admin_pw_set[1] = 0;
    cr_assert_eq(meta_registry_set_auth(&h, NULL), CF_OK);
    cr_assert_eq(meta_registry_get_id(&g, REG, NULL), CF_OK);
    cr_assert_eq(g.admin_enabled, 0);
    cr_assert(g.admin_pw_set[0]);
    cr_assert_not(g.admin_pw_set[1]);

    snprintf(h.id, sizeof(h.id), "ffffffffffffffffffffffffffffffff");
    cr_assert_eq(meta_registry_set_auth(&h, NULL), CF_ENOTFOUND);
}

Test(store_meta, registry_create_stores_the_auth_fields)
{
    meta_registry r, g;
    cmk_registry(&r);
    r.admin_enabled = 1;
    r.cred_epoch = 3;
    r.admin_pw_set[1] = 1;
    memset(r.admin_pw[1], 0x11, sizeof(r.admin_pw[1]));
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    cr_assert_eq(meta_registry_get_id(&g, REG, NULL), CF_OK);
    cr_assert_eq(g.admin_enabled, 1);
    cr_assert_eq(g.cred_epoch, 3);
    cr_assert_not(g.admin_pw_set[0]);
    cr_assert(g.admin_pw_set[1]);
    cr_assert_eq(g.admin_pw[1][59], 0x11);
}

static void token(meta_token *t, const char *reg, const char *name)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->registry_id, sizeof(t->registry_id), "%s", reg);
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->enabled = 1;
    snprintf(t->scope, sizeof(t->scope),
             "[{\"repository\":\"app\",\"actions\":[\"content/read\"]}]");
}

typedef struct {
    char names[8][64];
    int n;
} token_list;

static int collect_token(void *cls, const meta_token *t)
{
    token_list *l = cls;
    if (l->n < 8)
        snprintf(l->names[l->n++], 64, "%s", t->name);
    return 0;
}

Test(store_meta, tokens_put_get_list_delete)
{
    meta_token t, g;
    token(&t, REG, "tok-b");
    int created = -1;
    cr_assert_eq(meta_token_put(&t, &created, NULL), CF_OK);
    cr_assert_eq(created, 1);
    cr_assert_eq(meta_token_get(&g, REG, "tok-b", NULL), CF_OK);
    cr_assert_eq(g.enabled, 1);
    cr_assert_str_eq(g.scope, t.scope);
    cr_assert_not(g.pw_set[0] || g.pw_set[1]);
    cr_assert_gt(g.created_at, 0);

    /* replace: a password, disabled; created_at kept by the caller */
    g.enabled = 0;
    g.pw_set[1] = 1;
    memset(g.pw_hmac[1], 0x42, 32);
    g.pw_created[1] = 1700000000;
    cr_assert_eq(meta_token_put(&g, &created, NULL), CF_OK);
    cr_assert_eq(created, 0);
    meta_token h;
    cr_assert_eq(meta_token_get(&h, REG, "tok-b", NULL), CF_OK);
    cr_assert_eq(h.enabled, 0);
    cr_assert_not(h.pw_set[0]);
    cr_assert(h.pw_set[1]);
    cr_assert_eq(h.pw_hmac[1][31], 0x42);
    cr_assert_eq(h.pw_created[1], 1700000000);
    cr_assert_eq(h.created_at, g.created_at);

    /* per registry, listed by name */
    token(&t, REG, "tok-a");
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    token(&t, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "tok-c");
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    token_list l = {0};
    cr_assert_eq(meta_token_each(REG, collect_token, &l, NULL), CF_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.names[0], "tok-a");
    cr_assert_str_eq(l.names[1], "tok-b");
    cr_assert_eq(meta_token_get(&g, REG, "tok-c", NULL), CF_ENOTFOUND);

    cr_assert_eq(meta_token_delete(REG, "tok-a", NULL), CF_OK);
    cr_assert_eq(meta_token_delete(REG, "tok-a", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_token_get(&g, REG, "tok-a", NULL), CF_ENOTFOUND);
}

Test(store_meta, deleting_a_registry_deletes_its_tokens_and_admin_passwords)
{
    meta_registry r;
    cmk_registry(&r);
    r.admin_pw_set[0] = 1;
    memcpy(r.admin_pw[0], "ADMIN-PW-MARKER-0123456789", 26);
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    meta_token t;
    token(&t, REG, "tok-a");
    t.pw_set[0] = 1;
    memcpy(t.pw_hmac[0], "TOKEN-HMAC-MARKER-01234567", 26);
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    token(&t, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "tok-a");
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    cr_assert_eq(meta_registry_delete(REG, NULL), CF_OK);
    meta_token g;
    cr_assert_eq(meta_token_get(&g, REG, "tok-a", NULL), CF_ENOTFOUND);
    cr_assert_eq(meta_token_get(&g, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "tok-a", NULL), CF_OK);
    if (test_db_pg())
        return; /* the rest reads the SQLite file */
    meta_shutdown();
    char path[300];
    snprintf(path, sizeof(path), "%s/cofferd.db", dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    cr_assert_null(memmem(buf, n, "ADMIN-PW-MARKER", 15), "admin password survives in the file");
    cr_assert_null(memmem(buf, n, "TOKEN-HMAC-MARKER", 17), "token HMAC survives in the file");
    cr_assert_eq(meta_init(path, NULL), CF_OK); /* for teardown */
}

Test(store_meta, an_older_database_gains_the_auth_columns_and_the_tokens_table)
{
    SQLITE_ONLY();
    meta_shutdown();
    char path[300];
    snprintf(path, sizeof(path), "%s/old.db", dir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    /* the registries table as the first control-plane release made it */
    cr_assert_eq(
        sqlite3_exec(db,
                     "CREATE TABLE registries (id TEXT PRIMARY KEY, name TEXT NOT NULL"
                     " UNIQUE, sku TEXT NOT NULL DEFAULT 'Premium', login_server TEXT,"
                     " created_at INTEGER NOT NULL, identity TEXT, encryption_status"
                     " TEXT NOT NULL DEFAULT 'disabled', key_identifier TEXT,"
                     " versioned_key_identifier TEXT, key_identity TEXT,"
                     " key_rotation_enabled INTEGER NOT NULL DEFAULT 0,"
                     " last_key_rotation INTEGER, key_status TEXT NOT NULL DEFAULT"
                     " 'available', last_key_check INTEGER, last_error TEXT, wrapped_s"
                     " BLOB NOT NULL, wrapped_c BLOB);"
                     "INSERT INTO registries (id, name, created_at, wrapped_s) VALUES ('" REG
                     "', 'oldreg1', 1, zeroblob(60));",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(meta_init(path, NULL), CF_OK);
    meta_registry g;
    cr_assert_eq(meta_registry_get(&g, "oldreg1", NULL), CF_OK);
    cr_assert_eq(g.admin_enabled, 0);
    cr_assert_eq(g.cred_epoch, 0);
    g.cred_epoch = 2;
    cr_assert_eq(meta_registry_set_auth(&g, NULL), CF_OK);
    meta_token t;
    token(&t, REG, "tok-a");
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    /* a second start finds everything in place */
    meta_shutdown();
    cr_assert_eq(meta_init(path, NULL), CF_OK);
    cr_assert_eq(meta_registry_get(&g, "oldreg1", NULL), CF_OK);
    cr_assert_eq(g.cred_epoch, 2);
}
