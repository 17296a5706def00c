/*
 * meta.c -- opens and closes the metadata store (meta.h) and holds its
 * schema: the versioned migrations db_store_open applies at start, the
 * same for both engines but for the DDL's types.
 *
 * Migration 1 is the schema as it was when migrations became versioned.
 * On SQLite it keeps the shape it always had: CREATE TABLE IF NOT EXISTS
 * of the first tables, then the columns added since, one ALTER each (an
 * older database gains what it lacks; "duplicate column" means it has it).
 * On PostgreSQL it is the whole schema in its own types: BIGINT for every
 * integer (unix seconds outgrow INTEGER in 2038), BYTEA for blobs, and
 * text COLLATE "C" so that ordering and pagination compare bytes, as
 * SQLite does. A later change is a new entry at the end of `migrations`,
 * with its DDL for both engines. Migration 2 adds arm.c's tables
 * (subscriptions, resource groups, where each resource lives); which
 * resources go into the default group is arm_store_init's business.
 * Migration 3 is what several nodes on one database share (below).
 *
 * Migration 4 (repository verbs and quotas, docs/control-plane.md
 * "Repositories" and "Usage"): a registry's storage limit (0: none), a
 * tag's creation time (NULL for tags pushed before: their update time
 * stands in), and an index of tags by digest (a manifest's tags).
 */
#define CF_LOG_MOD "meta"
#include "store/arm.h"
#include "store/meta_int.h"
#include "store/meta_tasks.h"

#include <stdio.h>
#include <time.h>

db_store *meta_store;

int64_t meta_now(void)
{
    return (int64_t)time(NULL);
}

static const char v1_sqlite[] =
    "CREATE TABLE IF NOT EXISTS registries ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, sku TEXT NOT NULL DEFAULT 'Premium',"
    " login_server TEXT, created_at INTEGER NOT NULL,"
    " identity TEXT,"
    " encryption_status TEXT NOT NULL DEFAULT 'disabled',"
    " key_identifier TEXT, versioned_key_identifier TEXT, key_identity TEXT,"
    " key_rotation_enabled INTEGER NOT NULL DEFAULT 0, last_key_rotation INTEGER,"
    " key_status TEXT NOT NULL DEFAULT 'available', last_key_check INTEGER, last_error TEXT,"
    " wrapped_s BLOB NOT NULL, wrapped_c BLOB);"
    "CREATE TABLE IF NOT EXISTS identities ("
    " name TEXT PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, principal_id TEXT NOT NULL UNIQUE,"
    " tenant_id TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS registry_identities ("
    " registry_id TEXT NOT NULL, identity TEXT NOT NULL,"
    " PRIMARY KEY (registry_id, identity)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS registry_identities_identity ON registry_identities (identity);"
    "CREATE TABLE IF NOT EXISTS repositories ("
    " registry_id TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blobs ("
    " registry_id TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, PRIMARY KEY (registry_id, digest)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS repo_blobs ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs (registry_id, digest);"
    "CREATE TABLE IF NOT EXISTS manifests ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " media_type TEXT NOT NULL, size INTEGER NOT NULL, artifact_type TEXT,"
    " subject TEXT, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifests_subject ON manifests (registry_id, repo, subject);"
    "CREATE INDEX IF NOT EXISTS manifests_digest ON manifests (registry_id, digest);"
    "CREATE TABLE IF NOT EXISTS manifest_refs ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " ref TEXT NOT NULL, is_manifest INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest, ref)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifest_refs_ref ON manifest_refs (registry_id, ref);"
    "CREATE TABLE IF NOT EXISTS tags ("
    " registry_id TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY (registry_id, repo, tag)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tokens ("
    " registry_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, scope TEXT NOT NULL,"
    " pw1_hmac BLOB, pw2_hmac BLOB, pw1_created INTEGER, pw2_created INTEGER,"
    " created_at INTEGER NOT NULL, PRIMARY KEY (registry_id, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS uploads ("
    " uuid TEXT PRIMARY KEY, registry_id TEXT NOT NULL, repo TEXT NOT NULL,"
    " created_at INTEGER NOT NULL) WITHOUT ROWID;";

static const char *const v1_sqlite_added[] = {
    "ALTER TABLE registries ADD COLUMN system_client_id TEXT",
    "ALTER TABLE registries ADD COLUMN system_principal_id TEXT",
    "ALTER TABLE registries ADD COLUMN admin_enabled INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE registries ADD COLUMN anonymous_pull INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE registries ADD COLUMN admin_pw1 BLOB",
    "ALTER TABLE registries ADD COLUMN admin_pw2 BLOB",
    "ALTER TABLE registries ADD COLUMN cred_epoch INTEGER NOT NULL DEFAULT 0",
};

#define T "TEXT COLLATE \"C\""
static const char v1_postgres[] =
    "CREATE TABLE registries ("
    " id " T " PRIMARY KEY, name " T " NOT NULL UNIQUE, sku " T " NOT NULL DEFAULT 'Premium',"
    " login_server " T ", created_at BIGINT NOT NULL,"
    " identity " T ","
    " encryption_status " T " NOT NULL DEFAULT 'disabled',"
    " key_identifier " T ", versioned_key_identifier " T ", key_identity " T ","
    " key_rotation_enabled BIGINT NOT NULL DEFAULT 0, last_key_rotation BIGINT,"
    " key_status " T " NOT NULL DEFAULT 'available', last_key_check BIGINT, last_error " T ","
    " wrapped_s BYTEA NOT NULL, wrapped_c BYTEA,"
    " system_client_id " T ", system_principal_id " T ","
    " admin_enabled BIGINT NOT NULL DEFAULT 0, anonymous_pull BIGINT NOT NULL DEFAULT 0,"
    " admin_pw1 BYTEA, admin_pw2 BYTEA, cred_epoch BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE identities ("
    " name " T " PRIMARY KEY, client_id " T " NOT NULL UNIQUE, principal_id " T
    " NOT NULL UNIQUE, tenant_id " T " NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE registry_identities ("
    " registry_id " T " NOT NULL, identity " T " NOT NULL,"
    " PRIMARY KEY (registry_id, identity));"
    "CREATE INDEX registry_identities_identity ON registry_identities (identity);"
    "CREATE TABLE repositories ("
    " registry_id " T " NOT NULL, name " T " NOT NULL, created_at BIGINT NOT NULL,"
    " PRIMARY KEY (registry_id, name));"
    "CREATE TABLE blobs ("
    " registry_id " T " NOT NULL, digest " T " NOT NULL, size BIGINT NOT NULL,"
    " created_at BIGINT NOT NULL, PRIMARY KEY (registry_id, digest));"
    "CREATE TABLE repo_blobs ("
    " registry_id " T " NOT NULL, repo " T " NOT NULL, digest " T " NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest));"
    "CREATE INDEX repo_blobs_digest ON repo_blobs (registry_id, digest);"
    "CREATE TABLE manifests ("
    " registry_id " T " NOT NULL, repo " T " NOT NULL, digest " T " NOT NULL,"
    " media_type " T " NOT NULL, size BIGINT NOT NULL, artifact_type " T ","
    " subject " T ", created_at BIGINT NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest));"
    "CREATE INDEX manifests_subject ON manifests (registry_id, repo, subject);"
    "CREATE INDEX manifests_digest ON manifests (registry_id, digest);"
    "CREATE TABLE manifest_refs ("
    " registry_id " T " NOT NULL, repo " T " NOT NULL, digest " T " NOT NULL,"
    " ref " T " NOT NULL, is_manifest BIGINT NOT NULL,"
    " PRIMARY KEY (registry_id, repo, digest, ref));"
    "CREATE INDEX manifest_refs_ref ON manifest_refs (registry_id, ref);"
    "CREATE TABLE tags ("
    " registry_id " T " NOT NULL, repo " T " NOT NULL, tag " T " NOT NULL, digest " T
    " NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (registry_id, repo, tag));"
    "CREATE TABLE tokens ("
    " registry_id " T " NOT NULL, name " T " NOT NULL, status " T " NOT NULL, scope " T
    " NOT NULL, pw1_hmac BYTEA, pw2_hmac BYTEA, pw1_created BIGINT, pw2_created BIGINT,"
    " created_at BIGINT NOT NULL, PRIMARY KEY (registry_id, name));"
    "CREATE TABLE uploads ("
    " uuid " T " PRIMARY KEY, registry_id " T " NOT NULL, repo " T " NOT NULL,"
    " created_at BIGINT NOT NULL);"
    "CREATE INDEX uploads_created ON uploads (created_at);";

/* Version 3 (several nodes on one database, docs/scale-out.md): an
 * upload's claim generation (bumped by every request that takes it, so a
 * node knows whether its in-memory copy is still the latest), the node
 * whose key check wrote a registry's key state, and the fingerprints
 * every node's copy of the shared keys must have. */
static const char v3_sqlite[] =
    "CREATE TABLE IF NOT EXISTS shared_keys ("
    " name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, created_at INTEGER NOT NULL)"
    " WITHOUT ROWID;";
static const char *const v3_sqlite_added[] = {
    "ALTER TABLE uploads ADD COLUMN gen INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE registries ADD COLUMN key_checked_by TEXT",
};
static const char v3_postgres[] =
    "ALTER TABLE uploads ADD COLUMN gen BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE registries ADD COLUMN key_checked_by " T ";"
    "CREATE TABLE shared_keys ("
    " name " T " PRIMARY KEY, fingerprint " T " NOT NULL, created_at BIGINT NOT NULL);";
static const char v4_sqlite[] =
    "CREATE INDEX IF NOT EXISTS tags_digest ON tags (registry_id, repo, digest);";
static const char *const v4_sqlite_added[] = {
    "ALTER TABLE registries ADD COLUMN storage_limit INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tags ADD COLUMN created_at INTEGER",
};
static const char v4_postgres[] =
    "ALTER TABLE registries ADD COLUMN IF NOT EXISTS storage_limit BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN IF NOT EXISTS created_at BIGINT;"
    "CREATE INDEX IF NOT EXISTS tags_digest ON tags (registry_id, repo, digest);";
/* Version 5 (garbage collection and retention, docs/operations.md): when
 * each repository link of a blob was last made or refreshed (a blob
 * upload, a mount, a HEAD by a pusher: the grace period counts from it;
 * links that exist at the migration count from the migration), and each
 * registry's retention policy (ACR's policies.retentionPolicy: untagged
 * manifests older than `days` are deleted by the collections while
 * enabled). Version 4 is another branch's. */
static const char v5_sqlite[] =
    "CREATE TABLE IF NOT EXISTS retention_policies ("
    " registry_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, days INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifests_created ON manifests (registry_id, created_at);";
/* after the SQL above, in order; a column already there is no error (a
 * migration applied again is harmless, as the others) */
static const char *const v5_sqlite_added[] = {
    "ALTER TABLE repo_blobs ADD COLUMN linked_at INTEGER NOT NULL DEFAULT 0",
    "UPDATE repo_blobs SET linked_at = CAST(strftime('%s', 'now') AS INTEGER)"
    " WHERE linked_at = 0",
};
static const char v5_postgres[] =
    "ALTER TABLE repo_blobs ADD COLUMN IF NOT EXISTS linked_at BIGINT NOT NULL DEFAULT 0;"
    "UPDATE repo_blobs SET linked_at = CAST(extract(epoch FROM now()) AS BIGINT)"
    " WHERE linked_at = 0;"
    "CREATE TABLE IF NOT EXISTS retention_policies ("
    " registry_id " T " PRIMARY KEY, enabled BIGINT NOT NULL, days BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS manifests_created ON manifests (registry_id, created_at);";
#undef T

static const db_migration migrations[] = {
    {.version = 1,
     .sqlite = v1_sqlite,
     .postgres = v1_postgres,
     .add_columns = v1_sqlite_added,
     .n_add_columns = sizeof(v1_sqlite_added) / sizeof(v1_sqlite_added[0])},
    /* subscriptions, resource groups, placements (arm.c) */
    {.version = 2, .sqlite = arm_schema_sqlite, .postgres = arm_schema_postgres},
    {.version = 3,
     .sqlite = v3_sqlite,
     .postgres = v3_postgres,
     .add_columns = v3_sqlite_added,
     .n_add_columns = sizeof(v3_sqlite_added) / sizeof(v3_sqlite_added[0])},
    /* storage limit, tag creation times, tags by digest (repositories) */
    {.version = 4,
     .sqlite = v4_sqlite,
     .postgres = v4_postgres,
     .add_columns = v4_sqlite_added,
     .n_add_columns = sizeof(v4_sqlite_added) / sizeof(v4_sqlite_added[0])},
    /* garbage collection and retention */
    {.version = 5,
     .sqlite = v5_sqlite,
     .postgres = v5_postgres,
     .add_columns = v5_sqlite_added,
     .n_add_columns = sizeof(v5_sqlite_added) / sizeof(v5_sqlite_added[0])},
    /* management principals and role assignments (arm.c, docs/security.md) */
    {.version = 6, .sqlite = arm_authz_schema_sqlite, .postgres = arm_authz_schema_postgres},
    /* tasks and their runs (meta_tasks.c) */
    {.version = 7, .sqlite = meta_tasks_schema_sqlite, .postgres = meta_tasks_schema_postgres},
};

int meta_schema_version(void)
{
    return migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version;
}

cf_code meta_init(const char *target, cf_err *e)
{
    meta_shutdown();
    return db_store_open(&meta_store, target, migrations,
                         sizeof(migrations) / sizeof(migrations[0]), e);
}

cf_code meta_store_open(db_store **out, const char *target, cf_err *e)
{
    return db_store_open(out, target, migrations, sizeof(migrations) / sizeof(migrations[0]), e);
}

void meta_shutdown(void)
{
    db_store_close(meta_store);
    meta_store = NULL;
}

static char node_id[24];

void meta_set_node(const char *id)
{
    snprintf(node_id, sizeof(node_id), "%s", id ? id : "");
}

const char *meta_node(void)
{
    return node_id;
}

static const char SQL_PING[] = "SELECT 1";

cf_code meta_ping(cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_PING);
    return db_one_int(st, NULL, "ping", e);
}

const char *meta_engine(void)
{
    if (meta_store == NULL)
        return "";
    return db_store_engine(meta_store) == DB_POSTGRES ? "postgres" : "sqlite";
}
