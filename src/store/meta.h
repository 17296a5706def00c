/*
 * meta.h -- the registry's metadata (DESIGN §4), on SQLite (the embedded
 * default: one database file, WAL, synchronous=FULL) or PostgreSQL,
 * chosen by the target meta_init is given. The functions are written once
 * over the SQL seam of db.h; each file meta_<tables>.c holds those of its
 * tables. Each worker thread has its own connection on first use with its
 * prepared statements cached; writes that must be atomic run in one
 * transaction; a write acknowledged to a client is durable (SQLite:
 * through an fsync of the WAL; PostgreSQL: committed).
 *
 * Tables (keyed by registry id and repository name text):
 *   registries   id, name, sku, login_server, encryption settings (ACR's
 *                property names, DESIGN §6), wrapped S, wrapped C, key state,
 *                the admin user (enabled, its two passwords wrapped under
 *                the SRK), anonymous pull, the credential epoch
 *   tokens       (registry_id, name) -> status, scope map (JSON), the HMACs
 *                of its two passwords (never the passwords)
 *   repositories (registry_id, name)
 *   blobs        (registry_id, digest) -> size: one sealed file per digest
 *                per registry (dedup within a registry, never across)
 *   repo_blobs   (registry_id, repo, digest): what a repository may read
 *   manifests    (registry_id, repo, digest) -> media type, size, artifact
 *                type, subject (for referrers). Never annotations: they are
 *                customer content (DESIGN §8), read from the sealed
 *                manifest itself when the referrers API needs them.
 *   manifest_refs what each manifest references (blobs, child manifests)
 *   tags         (registry_id, repo, tag) -> digest
 *   uploads      uuid -> registry_id, repo, created, claim generation
 *   shared_keys  name -> the fingerprint of a key every node must share
 * A manifest's bytes are a blob of the registry too (same sealed store).
 */
#ifndef CF_STORE_META_H
#define CF_STORE_META_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/keys.h"

#define META_ID_LEN 32 /* hex of 16 random bytes */
#define META_WRAPPED_MAX 1024

/* A listing's callback: each value in order; non-zero stops it. */
typedef int (*meta_each_fn)(void *cls, const char *value);

typedef struct meta_registry {
    char id[META_ID_LEN + 1];
    char name[64];
    char sku[16]; /* Basic | Standard | Premium */
    int64_t created_at;
    unsigned char wrapped_s[60];
    /* identity (DESIGN §7); user-assigned identities: meta_registry_identities */
    char identity_type[40]; /* None | UserAssigned | SystemAssigned | "SystemAssigned, UserAssigned"
                             */
    char system_client_id[40]; /* the system-assigned identity; "" when none */
    char system_principal_id[40];
    /* encryption (DESIGN §6, ACR's names) */
    int cmk;              /* encryption.status == enabled */
    size_t wrapped_c_len; /* 0: none */
    unsigned char wrapped_c[META_WRAPPED_MAX];
    char key_identifier[512];           /* as given: versioned or not */
    char versioned_key_identifier[512]; /* the version C is wrapped under */
    char key_identity[40];              /* client id, or "system" */
    int key_rotation_enabled;           /* key_identifier has no version */
    int64_t last_key_rotation;          /* unix seconds; 0: never */
    char key_status[16];                /* available | unavailable */
    int64_t last_key_check;             /* unix seconds; 0: never */
    char key_checked_by[24];            /* the node that wrote the state; "" */
    char last_error[512];               /* "" when none */
    /* data-plane authentication (docs/control-plane.md "Registry
     * authentication"): meta_registry_set_auth */
    int admin_enabled;  /* adminUserEnabled */
    int anonymous_pull; /* anonymousPullEnabled */
    /* bumped whenever a credential is revoked (admin user disabled, a
     * password regenerated, a token disabled or deleted): registry
     * tokens minted under an earlier epoch stop working */
    int64_t cred_epoch;
    int admin_pw_set[2]; /* password, password2 */
    unsigned char admin_pw[2][KEYS_WRAPPED_LEN];
    /* bytes of sealed objects the registry may hold (meta_registry_usage);
     * 0: no limit */
    int64_t storage_limit;
} meta_registry;

/* Opens the store: target is a SQLite file path (created if missing) or
 * a PostgreSQL URI ("postgres://..." / "postgresql://..."). Applies the
 * schema migrations the database lacks. CF_EUNAVAIL when the server
 * cannot be reached. */
cf_code meta_init(const char *target, cf_err *e);
/* Closes every connection still open. */
void meta_shutdown(void);
/* This node's id (several nodes on one database: docs/scale-out.md),
 * recorded with the key states it writes; "" until set. */
void meta_set_node(const char *id);
const char *meta_node(void);
/* One round trip to the database (readiness): CF_OK when it answers. */
cf_code meta_ping(cf_err *e);
/* "sqlite" or "postgres" ("" before meta_init). */
const char *meta_engine(void);
/* The schema version this build migrates to. */
int meta_schema_version(void);

cf_code meta_registry_get(meta_registry *out, const char *name, cf_err *e); /* by name */
cf_code meta_registry_get_id(meta_registry *out, const char *id, cf_err *e);
/* Inserts a registry with every field of r and its user-assigned
 * identities (names, may be 0), in one transaction. CF_EEXISTS if the
 * name is taken. */
cf_code meta_registry_create(const meta_registry *r, const char *const *identities, size_t n,
                             cf_err *e);
/* Replaces the registry's identity settings: type, system identity ids
 * ("" for none) and the set of user-assigned identity names. */
cf_code meta_registry_set_identities(const meta_registry *r, const char *const *identities,
                                     size_t n, cf_err *e);
/* The names of the registry's user-assigned identities, by name. */
cf_code meta_registry_identities(const char *registry_id, int (*fn)(void *cls, const char *name),
                                 void *cls, cf_err *e);
cf_code meta_registry_set_sku(const char *registry_id, const char *sku, cf_err *e);
/* Stores r's key settings (key_identifier, versioned_key_identifier,
 * key_identity, key_rotation_enabled, last_key_rotation, wrapped C). */
cf_code meta_registry_set_key(const meta_registry *r, cf_err *e);
/* meta_registry_set_key only while the row still has the versioned key
 * identifier and identity the caller read (a rotation run once however
 * many nodes try): CF_ECONFLICT when another writer changed them. */
cf_code meta_registry_swap_key(const meta_registry *r, const char *expect_versioned,
                               const char *expect_identity, cf_err *e);
/* Stores the outcome of a key check (and this node as its author). */
cf_code meta_registry_set_key_state(const char *registry_id, const char *key_status,
                                    int64_t checked, const char *last_error, cf_err *e);
/* Stores r's authentication settings: admin_enabled, anonymous_pull,
 * admin_pw_set/admin_pw (a password not set is stored as NULL) and
 * cred_epoch. CF_ENOTFOUND for an unknown registry id. */
cf_code meta_registry_set_auth(const meta_registry *r, cf_err *e);
/* Stores r->storage_limit (0: none). */
cf_code meta_registry_set_storage_limit(const char *registry_id, int64_t limit, cf_err *e);
/* What the registry stores: its blob rows (blobs and manifests, each
 * digest once) and the sum of their sizes. Sealed, a blob of n bytes
 * takes seal_sealed_size(n) on disk (a header, and a tag per segment):
 * *full_segments is the sum over blobs of n / segment, from which the
 * caller computes the sealed total exactly (registry/usage.h). */
typedef struct meta_usage {
    int64_t blobs, bytes, full_segments;
} meta_usage;
cf_code meta_registry_usage(meta_usage *out, const char *registry_id, int64_t segment, cf_err *e);
/* Deletes the registry, its tokens and every row of it, overwriting its
 * wrapped S, C and admin passwords first (secure_delete, then a WAL checkpoint) so that neither
 * survives in the database file. */
cf_code meta_registry_delete(const char *registry_id, cf_err *e);

/* Registry tokens (ACR's tokens with an inline scope map). */
typedef struct meta_token {
    char registry_id[META_ID_LEN + 1];
    char name[64];
    int enabled;
    char scope[4096]; /* JSON array as stored: [{"repository":"app","actions":["content/read"]}] */
    int pw_set[2];    /* password1, password2 */
    unsigned char pw_hmac[2][32];
    int64_t pw_created[2]; /* unix seconds; 0 when not set */
    int64_t created_at;
} meta_token;
/* Inserts or replaces (every field of t); *created (may be NULL) = 1 when
 * the token did not exist. A created_at of 0 is stored as now. */
cf_code meta_token_put(const meta_token *t, int *created, cf_err *e);
/* CF_ENOTFOUND when the registry has no such token. */
cf_code meta_token_get(meta_token *out, const char *registry_id, const char *name, cf_err *e);
/* The registry's tokens by name; stops when fn != 0. */
cf_code meta_token_each(const char *registry_id, int (*fn)(void *cls, const meta_token *t),
                        void *cls, cf_err *e);
/* CF_ENOTFOUND when the registry has no such token. */
cf_code meta_token_delete(const char *registry_id, const char *name, cf_err *e);

/* Managed identities (user-assigned), DESIGN §7. */
typedef struct meta_identity {
    char name[130];
    char client_id[40];
    char principal_id[40];
    char tenant_id[40];
    int64_t created_at;
} meta_identity;
/* CF_EEXISTS when the name is taken. */
cf_code meta_identity_create(const meta_identity *id, cf_err *e);
cf_code meta_identity_get(meta_identity *out, const char *name, cf_err *e);
cf_code meta_identity_by_client(meta_identity *out, const char *client_id, cf_err *e);
cf_code meta_identity_by_principal(meta_identity *out, const char *principal_id, cf_err *e);
cf_code meta_identity_each(int (*fn)(void *cls, const meta_identity *id), void *cls, cf_err *e);
/* CF_ECONFLICT while a registry has it assigned; CF_ENOTFOUND. */
cf_code meta_identity_delete(const char *name, cf_err *e);

/* Calls fn for every registry id (for the janitor); stops when fn != 0. */
cf_code meta_registry_each(int (*fn)(void *cls, const meta_registry *r), void *cls, cf_err *e);

/* CF_OK with *size when the blob is linked into repo (or, with repo NULL,
 * exists in the registry); CF_ENOTFOUND otherwise. */
cf_code meta_blob_stat(const char *reg, const char *repo, const char *digest, int64_t *size,
                       cf_err *e);
/* One transaction: the blob row (if new), the repository, the link, and
 * the upload row removed (upload may be NULL). */
cf_code meta_blob_commit(const char *reg, const char *repo, const char *digest, int64_t size,
                         const char *upload, cf_err *e);
/* Removes the link; *orphaned = 1 when the blob row went too (no other
 * link, manifest or reference uses it) and its file may be removed.
 * CF_ENOTFOUND when the link did not exist. */
cf_code meta_blob_unlink(const char *reg, const char *repo, const char *digest, int *orphaned,
                         cf_err *e);

/* Garbage collection and retention (meta_gc.c; the protocol is in
 * registry/gc.h). */

/* A pusher's HEAD of a blob its repository links: the link's grace period
 * starts again when it is older than fresh_s seconds. CF_ENOTFOUND when
 * the repository has no such blob (any more). */
cf_code meta_blob_touch(const char *reg, const char *repo, const char *digest, int64_t fresh_s,
                        cf_err *e);
/* The digests (ascending, after `after`) that have at least one garbage
 * link: older than cutoff (unix seconds) and referenced by no manifest of
 * its repository. At most n; *more when others remain. */
cf_code meta_gc_digests(const char *reg, int64_t cutoff, const char *after, int64_t n,
                        meta_each_fn fn, void *cls, int *more, cf_err *e);
/* One transaction, the blob row locked first: removes the garbage links
 * of digest (*links), then the blob row when nothing uses it
 * (*orphaned = 1; *size its size): its object is then the caller's to
 * remove, still under the digest's lock. */
cf_code meta_gc_collect(const char *reg, const char *digest, int64_t cutoff, int64_t *links,
                        int *orphaned, int64_t *size, cf_err *e);
/* What meta_gc_collect would remove now, over the registry. */
cf_code meta_gc_estimate(const char *reg, int64_t cutoff, int64_t *links, int64_t *blobs,
                         int64_t *bytes, cf_err *e);

/* Untagged manifests created before cutoff: no tag, no manifest of their
 * repository referencing them, no subject still present. In (repo,
 * digest) order after (after_repo, after_digest); at most n. */
typedef int (*meta_untagged_fn)(void *cls, const char *repo, const char *digest, int64_t size);
cf_code meta_untagged_each(const char *reg, int64_t cutoff, const char *after_repo,
                           const char *after_digest, int64_t n, meta_untagged_fn fn, void *cls,
                           int *more, cf_err *e);
/* Deletes manifest (repo, digest) only if it is still untagged and older
 * than cutoff, with its references (*deleted); *orphaned as for
 * meta_manifest_delete. */
cf_code meta_untagged_delete(const char *reg, const char *repo, const char *digest, int64_t cutoff,
                             int *deleted, int *orphaned, cf_err *e);

/* ACR's retention policy (policies.retentionPolicy): untagged manifests
 * older than `days` are deleted by the collections while enabled. A
 * registry without a row has the default: disabled, 7 days. */
#define META_RETENTION_DAYS_DEFAULT 7
typedef struct meta_retention {
    int enabled;
    int64_t days;       /* 0..365 */
    int64_t updated_at; /* unix seconds; 0: never set */
} meta_retention;
cf_code meta_retention_get(const char *reg, meta_retention *out, cf_err *e);
/* updated_at 0 is stored as now. */
cf_code meta_retention_set(const char *reg, const meta_retention *p, cf_err *e);

typedef struct meta_manifest {
    char media_type[256];
    int64_t size;
    char digest[140];
} meta_manifest;

cf_code meta_manifest_get(meta_manifest *out, const char *reg, const char *repo, const char *digest,
                          cf_err *e);
cf_code meta_tag_get(meta_manifest *out, const char *reg, const char *repo, const char *tag,
                     cf_err *e);

typedef struct meta_manifest_put_args {
    const char *reg, *repo, *digest, *media_type, *artifact_type, *subject;
    int64_t size;
    const char *tag; /* NULL when pushed by digest */
    size_t nrefs;
    const char *const *ref_digests;
    const int *ref_is_manifest;
    /* per reference, 1 when the repository must have it (a blob it links,
     * a manifest of it); NULL: none checked */
    const int *ref_required;
} meta_manifest_put_args;
/* In one transaction: the references that must be there are checked (on
 * PostgreSQL under a share lock of their blob rows, against a concurrent
 * collection: meta_gc.c), then the rows written. CF_ENOTFOUND, with the
 * missing reference's digest in the message, when one is not there. */
cf_code meta_manifest_put(const meta_manifest_put_args *a, cf_err *e);
/* Deletes the manifest, its tags and references; *orphaned as for
 * meta_blob_unlink (for its bytes). */
cf_code meta_manifest_delete(const char *reg, const char *repo, const char *digest, int *orphaned,
                             cf_err *e);
cf_code meta_tag_delete(const char *reg, const char *repo, const char *tag, cf_err *e);

/* Paginated listings: fn receives each value in order; at most n values after
 * `last` (exclusive, may be NULL); *more set when more remain. */
cf_code meta_tags_list(const char *reg, const char *repo, const char *last, int64_t n,
                       meta_each_fn fn, void *cls, int *more, cf_err *e);
/* reg NULL: every registry, names as "<registry>/<repo>". */
cf_code meta_catalog(const char *reg, const char *last, int64_t n, meta_each_fn fn, void *cls,
                     int *more, cf_err *e);
cf_code meta_repo_exists(const char *reg, const char *repo, cf_err *e);

/* ---- a repository's details (meta_repos.c): ACR's repository, tag and
 * manifest attributes, from metadata alone ---- */
typedef struct meta_repo_info {
    int64_t created_at;
    int64_t last_update; /* the latest manifest push or tag change; created_at at least */
    int64_t manifest_count, tag_count;
} meta_repo_info;
/* CF_ENOTFOUND when the registry has no such repository. */
cf_code meta_repo_info_get(meta_repo_info *out, const char *reg, const char *repo, cf_err *e);
typedef struct meta_tag_info {
    const char *tag, *digest;
    int64_t created_at, updated_at;
} meta_tag_info;
/* The repository's tags by name after `last` (NULL: from the first), at
 * most n; *more when there are others; fn's strings live until it
 * returns. tag not NULL: only that one (CF_ENOTFOUND when absent). */
cf_code meta_tags_info(const char *reg, const char *repo, const char *tag, const char *last,
                       int64_t n, int (*fn)(void *cls, const meta_tag_info *t), void *cls,
                       int *more, cf_err *e);
typedef struct meta_manifest_info {
    const char *digest, *media_type, *artifact_type, *subject;
    int64_t size;
    int64_t created_at;
    int64_t last_update; /* the latest change of a tag pointing to it, else created_at */
    int64_t refs_size;   /* the sizes of the blobs and manifests it references */
} meta_manifest_info;
/* The repository's manifests by digest, as meta_tags_info (digest not
 * NULL: only that one). */
cf_code meta_manifests_info(const char *reg, const char *repo, const char *digest, const char *last,
                            int64_t n, int (*fn)(void *cls, const meta_manifest_info *m), void *cls,
                            int *more, cf_err *e);
/* The tags pointing to manifest digest of repo, by name. */
cf_code meta_manifest_tags(const char *reg, const char *repo, const char *digest, meta_each_fn fn,
                           void *cls, cf_err *e);
/* Up to n manifests of repo that no manifest of it references (so an
 * index goes before its children), by digest. */
cf_code meta_repo_manifest_roots(const char *reg, const char *repo, int64_t n, meta_each_fn fn,
                                 void *cls, cf_err *e);
/* The digests of repo's blob links, after `last`, at most n. */
cf_code meta_repo_blobs(const char *reg, const char *repo, const char *last, int64_t n,
                        meta_each_fn fn, void *cls, int *more, cf_err *e);
/* Removes the repository's row when nothing is left in it (no manifest,
 * tag or blob link): CF_ECONFLICT when something is (a push came in). An
 * upload in progress does not keep it: completing one makes the row again. */
cf_code meta_repo_delete_if_empty(const char *reg, const char *repo, cf_err *e);

typedef struct meta_referrer {
    const char *digest, *media_type, *artifact_type;
    int64_t size;
} meta_referrer;
cf_code meta_referrers(const char *reg, const char *repo, const char *subject,
                       const char *artifact_type, int (*fn)(void *cls, const meta_referrer *r),
                       void *cls, cf_err *e);

cf_code meta_upload_create(const char *uuid, const char *reg, const char *repo, cf_err *e);
/* CF_ENOTFOUND for an unknown uuid. */
cf_code meta_upload_get(const char *uuid, char reg[META_ID_LEN + 1], char *repo, size_t repo_cap,
                        cf_err *e);
cf_code meta_upload_delete(const char *uuid, cf_err *e);
/* A request takes the upload (several nodes: docs/scale-out.md): its
 * generation, bumped, into *gen. CF_ENOTFOUND for an unknown uuid. */
cf_code meta_upload_claim(const char *uuid, int64_t *gen, cf_err *e);
/* The upload's generation now (CF_ENOTFOUND: unknown). */
cf_code meta_upload_gen(const char *uuid, int64_t *gen, cf_err *e);

/* Records the fingerprint of shared key `name` when none is recorded;
 * CF_ECONFLICT when another one is (this node's copy differs from the
 * other nodes'). *first = 1 when this call recorded it. */
cf_code meta_shared_key_check(const char *name, const char *fingerprint, int *first, cf_err *e);
/* Uploads created before `before` (unix seconds). */
cf_code meta_upload_each_older(int64_t before,
                               int (*fn)(void *cls, const char *uuid, const char *reg), void *cls,
                               cf_err *e);

#endif
