/*
 * store.h -- keyvaultd's state in SQLite (DIR/keyvault.db, WAL,
 * synchronous=FULL: an acknowledged write survives kill -9).
 *
 *   vaults        name (case-insensitive), tenant, retention days, purge
 *                 protection, access policies (JSON, policy.h's form),
 *                 network rules (JSON, netacl.h's form); deleted_date and
 *                 scheduled_purge set while the whole vault is soft-deleted
 *   keys          one row per key name in a vault; deleted_date and
 *                 scheduled_purge set while soft-deleted; rotation policy
 *   key_versions  per version: kty, key_ops, enabled/nbf/exp, created/
 *                 updated, tags, the public JWK, and either the sealed
 *                 private key (master.h) or the PKCS#11 id of an HSM key
 *
 * One connection behind a mutex: every function is one short statement or
 * one transaction, far below the cost of the RSA operation it serves.
 * Names are compared case-insensitively (COLLATE NOCASE), as in Azure.
 */
#ifndef CF_VAULT_STORE_H
#define CF_VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

typedef struct vault_store vault_store;

typedef struct vault_info {
    char name[32];
    char tenant_id[260];
    int retention_days;
    int purge_protection;
    int64_t created, updated;
    json_t *policies;                      /* owned; array */
    json_t *network_acls;                  /* owned; object, or NULL: the defaults */
    int64_t deleted_date, scheduled_purge; /* 0 unless the vault is soft-deleted */
} vault_info;

typedef struct vault_keyver {
    int64_t key_id;
    char vault[32];
    char name[128]; /* as first created */
    char version[33];
    char kty[16];    /* RSA, RSA-HSM, EC, EC-HSM */
    json_t *key_ops; /* owned; array of strings */
    int enabled;
    int64_t nbf, exp; /* 0: not set */
    int64_t created, updated;
    json_t *tags;          /* owned; object or NULL */
    json_t *jwk;           /* owned; public JWK without kid and key_ops */
    unsigned char *sealed; /* owned; sealed private key or NULL */
    size_t sealed_len;
    char hsm_id[130];                      /* "" unless an HSM key */
    int64_t deleted_date, scheduled_purge; /* 0 unless the key is deleted */
    int64_t seq;
} vault_keyver;

typedef struct vault_rotation {
    int64_t key_id;
    char vault[32];
    char name[128];
    json_t *policy; /* owned */
} vault_rotation;

cf_code vault_store_open(vault_store **out, const char *path, cf_err *e);
void vault_store_close(vault_store *s);

/* Vaults. put: *created = 1 when new; CF_ECONFLICT when the name is held
 * by a soft-deleted vault (put never touches one). get and list see live
 * vaults only (a soft-deleted one is CF_ENOTFOUND); the _deleted variants
 * see soft-deleted ones only. */
cf_code vault_store_vault_put(vault_store *s, const vault_info *v, int *created, cf_err *e);
cf_code vault_store_vault_get(vault_store *s, const char *name, vault_info *out, cf_err *e);
cf_code vault_store_vault_get_deleted(vault_store *s, const char *name, vault_info *out, cf_err *e);
cf_code vault_store_vault_list(vault_store *s, json_t **names, cf_err *e);
cf_code vault_store_vault_list_deleted(vault_store *s, json_t **names, cf_err *e);
/* Soft-deletes a live vault with everything in it (its keys keep their own
 * state): CF_ENOTFOUND when there is no live vault of that name. */
cf_code vault_store_vault_delete(vault_store *s, const char *name, int64_t now, int64_t purge_at,
                                 cf_err *e);
/* Makes a soft-deleted vault live again, unchanged. */
cf_code vault_store_vault_recover(vault_store *s, const char *name, cf_err *e);
/* Removes a soft-deleted vault and every key in it, in one transaction.
 * *key_names and *hsm_ids (each may be NULL) receive the names of the keys
 * removed (to forget cached material) and the HSM ids of their versions
 * (to destroy in the token). */
cf_code vault_store_vault_purge(vault_store *s, const char *name, json_t **key_names,
                                json_t **hsm_ids, cf_err *e);
/* Soft-deleted vaults whose scheduled purge date is <= now: array of names. */
cf_code vault_store_vault_purge_due(vault_store *s, int64_t now, json_t **out, cf_err *e);
void vault_info_clear(vault_info *v);

/* Keys. add_version creates the key row when the name is new; CF_ECONFLICT
 * when the name is soft-deleted. kv->vault/name/version and fields set by
 * the caller; created/updated/seq filled in. */
cf_code vault_store_version_add(vault_store *s, vault_keyver *kv, cf_err *e);
/* version NULL or "": the latest. Deleted keys: CF_ENOTFOUND unless
 * want_deleted (then only deleted ones are found). */
cf_code vault_store_version_get(vault_store *s, const char *vault, const char *name,
                                const char *version, int want_deleted, vault_keyver *out,
                                cf_err *e);
/* Writes enabled, nbf, exp, key_ops, tags; sets updated. */
cf_code vault_store_version_update(vault_store *s, vault_keyver *kv, cf_err *e);
/* The latest version of each key, names ordered (case-insensitively);
 * keyset paging: at most limit keys whose name sorts after `after` (NULL
 * or "": from the first). *more = 1 when rows follow. *out: array of
 * vault_keyver, *n entries. */
cf_code vault_store_key_list(vault_store *s, const char *vault, int deleted, const char *after,
                             size_t limit, vault_keyver **out, size_t *n, int *more, cf_err *e);
/* The versions of a live key, oldest first; keyset paging: the versions
 * created after version `after` (NULL or "": from the first; an unknown
 * version: none). */
cf_code vault_store_version_list(vault_store *s, const char *vault, const char *name,
                                 const char *after, size_t limit, vault_keyver **out, size_t *n,
                                 int *more, cf_err *e);
void vault_keyvers_free(vault_keyver *a, size_t n);
void vault_keyver_clear(vault_keyver *kv);

cf_code vault_store_key_delete(vault_store *s, const char *vault, const char *name, int64_t now,
                               int64_t purge_at, cf_err *e);
cf_code vault_store_key_recover(vault_store *s, const char *vault, const char *name, cf_err *e);
/* Removes every version; *hsm_ids (may be NULL) receives the HSM ids of
 * the purged versions to destroy in the token. */
cf_code vault_store_key_purge(vault_store *s, const char *vault, const char *name, json_t **hsm_ids,
                              cf_err *e);

/* Rotation policies. get: *policy NULL when none is set. */
cf_code vault_store_rotation_get(vault_store *s, const char *vault, const char *name,
                                 json_t **policy, cf_err *e);
cf_code vault_store_rotation_set(vault_store *s, const char *vault, const char *name,
                                 const json_t *policy, cf_err *e);
/* Live keys having a policy, in live vaults. */
cf_code vault_store_rotation_list(vault_store *s, vault_rotation **out, size_t *n, cf_err *e);
void vault_rotations_free(vault_rotation *a, size_t n);
/* Deleted keys whose scheduled purge date is <= now: array of [vault, name]. */
cf_code vault_store_purge_due(vault_store *s, int64_t now, json_t **out, cf_err *e);
/* Marks a version notified (the Notify action fires once per version). */
cf_code vault_store_version_notified(vault_store *s, int64_t key_id, const char *version,
                                     int *was_notified, cf_err *e);

/* For the modules that keep tables of their own in the vault's database
 * (arm.c: where each vault lives; rbac.c: role assignments). script runs
 * several statements without parameters (a schema); query runs one with
 * its parameters bound as in prepared statements here ("t" text, "i"
 * int64_t, one letter per ?N) and hands every row to fn (may be NULL;
 * non-zero stops the walk); *changes (may be NULL) receives the rows a
 * write changed. Both run under the store's lock: fn must not call the
 * store. */
typedef struct vault_row vault_row;
const char *vault_row_text(const vault_row *r, int col); /* NULL for SQL NULL */
int64_t vault_row_int(const vault_row *r, int col);
cf_code vault_store_script(vault_store *s, const char *sql, cf_err *e);
cf_code vault_store_query(vault_store *s, int (*fn)(void *cls, const vault_row *r), void *cls,
                          int *changes, cf_err *e, const char *sql, const char *fmt, ...);

#endif
