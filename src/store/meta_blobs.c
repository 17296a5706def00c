/*
 * meta_blobs.c -- the blobs, repositories and repo_blobs tables: what a
 * registry stores (one sealed object per digest, deduplicated within the
 * registry) and what each repository may read of it. meta_blob_* of
 * meta.h, and the row helpers meta_manifests.c shares (meta_int.h).
 *
 * A blob row goes when nothing in its registry uses the digest any more:
 * no link, no manifest with that digest, no manifest referencing it. The
 * caller then removes its object, under the digest's lock (objects.h).
 */
#define CF_LOG_MOD "meta"
#include "store/meta_int.h"

static const char SQL_BLOB_IN_REPO[] =
    "SELECT b.size FROM repo_blobs l JOIN blobs b ON b.registry_id = l.registry_id AND"
    " b.digest = l.digest WHERE l.registry_id = ?1 AND l.repo = ?2 AND l.digest = ?3";
static const char SQL_BLOB_IN_REG[] =
    "SELECT size FROM blobs WHERE registry_id = ?1 AND digest = ?2";

cf_code meta_blob_stat(const char *reg, const char *repo, const char *digest, int64_t *size,
                       cf_err *e)
{
    META_CONN(c);
    if (repo) {
        META_STMT(st, c, SQL_BLOB_IN_REPO);
        db_bind_text(st, 1, reg);
        db_bind_text(st, 2, repo);
        db_bind_text(st, 3, digest);
        return db_one_int(st, size, "blob", e);
    }
    META_STMT(st, c, SQL_BLOB_IN_REG);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, digest);
    return db_one_int(st, size, "blob", e);
}

static const char SQL_BLOB_INSERT[] =
    "INSERT INTO blobs (registry_id, digest, size, created_at) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT DO NOTHING";
static const char SQL_REPO_INSERT[] =
    "INSERT INTO repositories (registry_id, name, created_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT DO NOTHING";
/* a link made again (a second upload of the digest, a mount) starts its
 * grace period again (meta_gc.c) */
static const char SQL_LINK_INSERT[] =
    "INSERT INTO repo_blobs (registry_id, repo, digest, linked_at) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (registry_id, repo, digest) DO UPDATE SET linked_at = excluded.linked_at";
const char META_SQL_UPLOAD_DELETE[] = "DELETE FROM uploads WHERE uuid = ?1";

cf_code meta_blob_row_insert(db *c, const char *reg, const char *digest, int64_t size, cf_err *e)
{
    META_STMT(st, c, SQL_BLOB_INSERT);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, size);
    db_bind_int64(st, 4, meta_now());
    return db_run(st, e);
}

cf_code meta_repo_row_insert(db *c, const char *reg, const char *repo, cf_err *e)
{
    META_STMT(st, c, SQL_REPO_INSERT);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_int64(st, 3, meta_now());
    return db_run(st, e);
}

cf_code meta_run3(db *c, const char *sql, const char *a, const char *b, const char *d,
                  int64_t *changed, cf_err *e)
{
    META_STMT(st, c, sql);
    db_bind_text(st, 1, a);
    db_bind_text(st, 2, b);
    db_bind_text(st, 3, d);
    cf_code rc = db_run(st, e);
    if (changed)
        *changed = db_changes(st);
    return rc;
}

cf_code meta_run3_one(db *c, const char *sql, const char *a, const char *b, const char *d,
                      const char *missing, cf_err *e)
{
    int64_t changed = 0;
    cf_code rc = meta_run3(c, sql, a, b, d, &changed, e);
    if (rc == CF_OK && changed == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "%s", missing);
    return rc;
}

cf_code meta_blob_commit(const char *reg, const char *repo, const char *digest, int64_t size,
                         const char *upload, cf_err *e)
{
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = meta_blob_row_insert(c, reg, digest, size, e);
    if (rc == CF_OK)
        rc = meta_repo_row_insert(c, reg, repo, e);
    if (rc == CF_OK) {
        db_stmt *st = db_prepare(c, SQL_LINK_INSERT, e);
        if (st == NULL) {
            rc = META_FAIL_CODE;
        } else {
            db_bind_text(st, 1, reg);
            db_bind_text(st, 2, repo);
            db_bind_text(st, 3, digest);
            db_bind_int64(st, 4, meta_now());
            rc = db_run(st, e);
        }
    }
    if (rc == CF_OK && upload) {
        db_stmt *st = db_prepare(c, META_SQL_UPLOAD_DELETE, e);
        if (st == NULL) {
            rc = META_FAIL_CODE;
        } else {
            db_bind_text(st, 1, upload);
            rc = db_run(st, e);
        }
    }
    return db_end(c, rc, e);
}

static const char SQL_LINK_DELETE[] =
    "DELETE FROM repo_blobs WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
/* the blob row goes when nothing in the registry uses the digest */
static const char SQL_BLOB_DELETE_IF_UNUSED[] =
    "DELETE FROM blobs WHERE registry_id = ?1 AND digest = ?2"
    " AND NOT EXISTS (SELECT 1 FROM repo_blobs WHERE registry_id = ?1 AND digest = ?2)"
    " AND NOT EXISTS (SELECT 1 FROM manifests WHERE registry_id = ?1 AND digest = ?2)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_refs WHERE registry_id = ?1 AND ref = ?2)";

cf_code meta_blob_gc(db *c, const char *reg, const char *digest, int *orphaned, cf_err *e)
{
    META_STMT(st, c, SQL_BLOB_DELETE_IF_UNUSED);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, digest);
    cf_code rc = db_run(st, e);
    if (rc == CF_OK && orphaned)
        *orphaned = db_changes(st) > 0;
    return rc;
}

cf_code meta_blob_unlink(const char *reg, const char *repo, const char *digest, int *orphaned,
                         cf_err *e)
{
    *orphaned = 0;
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = meta_run3_one(c, SQL_LINK_DELETE, reg, repo, digest, "blob not found", e);
    if (rc == CF_OK)
        rc = meta_blob_gc(c, reg, digest, orphaned, e);
    return db_end(c, rc, e);
}

static const char SQL_REPO_EXISTS[] =
    "SELECT 1 FROM repositories WHERE registry_id = ?1 AND name = ?2";

cf_code meta_repo_exists(const char *reg, const char *repo, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REPO_EXISTS);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    return db_one_int(st, NULL, "repository", e);
}

static const char SQL_CATALOG_REG[] = "SELECT name FROM repositories WHERE registry_id = ?1"
                                      " AND name > ?2 ORDER BY name LIMIT ?3";
/* no alias in WHERE: PostgreSQL does not see select-list names there */
static const char SQL_CATALOG_ALL[] =
    "SELECT g.name || '/' || p.name FROM repositories p JOIN registries g"
    " ON g.id = p.registry_id WHERE g.name || '/' || p.name > ?1 ORDER BY 1 LIMIT ?2";

cf_code meta_catalog(const char *reg, const char *last, int64_t n, meta_each_fn fn, void *cls,
                     int *more, cf_err *e)
{
    META_CONN(c);
    if (reg) {
        META_STMT(st, c, SQL_CATALOG_REG);
        db_bind_text(st, 1, reg);
        db_bind_text(st, 2, last ? last : "");
        db_bind_int64(st, 3, n + 1);
        return meta_each_text(st, n, fn, cls, more, e);
    }
    META_STMT(st, c, SQL_CATALOG_ALL);
    db_bind_text(st, 1, last ? last : "");
    db_bind_int64(st, 2, n + 1);
    return meta_each_text(st, n, fn, cls, more, e);
}
