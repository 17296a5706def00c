/*
 * meta_uploads.c -- the uploads table: a blob upload a client will come
 * back to (uuid -> registry, repository, creation time), meta_upload_* of
 * meta.h. The row goes in the transaction that commits the blob
 * (meta_blob_commit), on cancel, or when the janitor expires it.
 */
#define CF_LOG_MOD "meta"
#include <stdlib.h>
#include <string.h>

#include "store/meta_int.h"

static const char SQL_UPLOAD_INSERT[] =
    "INSERT INTO uploads (uuid, registry_id, repo, created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_UPLOAD_GET[] = "SELECT registry_id, repo FROM uploads WHERE uuid = ?1";
static const char SQL_UPLOAD_CLAIM[] =
    "UPDATE uploads SET gen = gen + 1 WHERE uuid = ?1 RETURNING gen";
static const char SQL_UPLOAD_GEN[] = "SELECT gen FROM uploads WHERE uuid = ?1";
static const char SQL_UPLOAD_OLDER[] =
    "SELECT uuid, registry_id FROM uploads WHERE created_at < ?1 LIMIT 1000";

cf_code meta_upload_create(const char *uuid, const char *reg, const char *repo, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_UPLOAD_INSERT);
    db_bind_text(st, 1, uuid);
    db_bind_text(st, 2, reg);
    db_bind_text(st, 3, repo);
    db_bind_int64(st, 4, meta_now());
    return db_run(st, e);
}

cf_code meta_upload_get(const char *uuid, char reg[META_ID_LEN + 1], char *repo, size_t repo_cap,
                        cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_UPLOAD_GET);
    db_bind_text(st, 1, uuid);
    int rc = db_step(st, e);
    cf_code out = CF_OK;
    if (rc == DB_ROW) {
        db_column_copy(reg, META_ID_LEN + 1, st, 0);
        db_column_copy(repo, repo_cap, st, 1);
    } else if (rc == DB_DONE) {
        out = cf_err_set(e, CF_ENOTFOUND, "upload unknown");
    } else {
        out = (cf_code)rc;
    }
    db_reset(st);
    return out;
}

cf_code meta_upload_claim(const char *uuid, int64_t *gen, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_UPLOAD_CLAIM);
    db_bind_text(st, 1, uuid);
    return db_one_int(st, gen, "upload", e);
}

cf_code meta_upload_gen(const char *uuid, int64_t *gen, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_UPLOAD_GEN);
    db_bind_text(st, 1, uuid);
    return db_one_int(st, gen, "upload", e);
}

cf_code meta_upload_delete(const char *uuid, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, META_SQL_UPLOAD_DELETE);
    db_bind_text(st, 1, uuid);
    return db_run(st, e);
}

cf_code meta_upload_each_older(int64_t before,
                               int (*fn)(void *cls, const char *uuid, const char *reg), void *cls,
                               cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_UPLOAD_OLDER);
    db_bind_int64(st, 1, before);
    /* copy the rows out first: fn may write to the same table */
    char(*rows)[2][META_ID_LEN + 8] = NULL;
    size_t n = 0, cap = 0;
    int rc;
    cf_code out = CF_OK;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            void *nr = realloc(rows, nc * sizeof(*rows));
            if (nr == NULL) {
                out = cf_err_set(e, CF_ENOMEM, "out of memory");
                break;
            }
            rows = nr;
            cap = nc;
        }
        db_column_copy(rows[n][0], sizeof(rows[n][0]), st, 0);
        db_column_copy(rows[n][1], sizeof(rows[n][1]), st, 1);
        n++;
    }
    if (out == CF_OK && rc < 0)
        out = (cf_code)rc;
    db_reset(st);
    for (size_t i = 0; out == CF_OK && i < n; i++)
        if (fn(cls, rows[i][0], rows[i][1]) != 0)
            break;
    free(rows);
    return out;
}

/* ---- shared_keys ---- */

static const char SQL_SHARED_KEY_INSERT[] =
    "INSERT INTO shared_keys (name, fingerprint, created_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO NOTHING";
static const char SQL_SHARED_KEY_GET[] = "SELECT fingerprint FROM shared_keys WHERE name = ?1";

cf_code meta_shared_key_check(const char *name, const char *fingerprint, int *first, cf_err *e)
{
    META_CONN(c);
    META_STMT(ins, c, SQL_SHARED_KEY_INSERT);
    db_bind_text(ins, 1, name);
    db_bind_text(ins, 2, fingerprint);
    db_bind_int64(ins, 3, meta_now());
    int rc = db_step(ins, e);
    int64_t added = rc == DB_DONE ? db_changes(ins) : 0;
    db_reset(ins);
    if (rc < 0)
        return (cf_code)rc;
    *first = added > 0;
    META_STMT(st, c, SQL_SHARED_KEY_GET);
    db_bind_text(st, 1, name);
    rc = db_step(st, e);
    cf_code out = CF_OK;
    if (rc == DB_ROW) {
        const char *have = db_column_text(st, 0);
        if (have == NULL || strcmp(have, fingerprint) != 0)
            out = cf_err_set(e, CF_ECONFLICT, "%s differs from the one recorded (%.16s...)", name,
                             have ? have : "");
    } else {
        out =
            rc == DB_DONE ? cf_err_set(e, CF_EIO, "shared key %s not recorded", name) : (cf_code)rc;
    }
    db_reset(st);
    return out;
}
