/*
 * meta_manifests.c -- the manifests, manifest_refs and tags tables:
 * meta_manifest_*, meta_tag_*, meta_tags_list and meta_referrers of
 * meta.h. A manifest's bytes are a blob of its registry (a row in blobs,
 * meta_blobs.c), so putting one inserts that row in the same transaction
 * and deleting one may orphan it.
 */
#define CF_LOG_MOD "meta"
#include <string.h>

#include "store/meta_int.h"

static const char SQL_MANIFEST_GET[] = "SELECT media_type, size, digest FROM manifests"
                                       " WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_TAG_GET[] =
    "SELECT m.media_type, m.size, m.digest FROM tags t JOIN manifests m ON"
    " m.registry_id = t.registry_id AND m.repo = t.repo AND m.digest = t.digest"
    " WHERE t.registry_id = ?1 AND t.repo = ?2 AND t.tag = ?3";

static cf_code manifest_row(meta_manifest *out, db_stmt *st, cf_err *e)
{
    int rc = db_step(st, e);
    cf_code r = CF_OK;
    memset(out, 0, sizeof(*out));
    if (rc == DB_ROW) {
        db_column_copy(out->media_type, sizeof(out->media_type), st, 0);
        out->size = db_column_int64(st, 1);
        db_column_copy(out->digest, sizeof(out->digest), st, 2);
    } else if (rc == DB_DONE) {
        r = cf_err_set(e, CF_ENOTFOUND, "manifest unknown");
    } else {
        r = (cf_code)rc;
    }
    db_reset(st);
    return r;
}

static cf_code manifest_get(meta_manifest *out, const char *sql, const char *reg, const char *repo,
                            const char *key, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, sql);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_text(st, 3, key);
    return manifest_row(out, st, e);
}

cf_code meta_manifest_get(meta_manifest *out, const char *reg, const char *repo, const char *digest,
                          cf_err *e)
{
    return manifest_get(out, SQL_MANIFEST_GET, reg, repo, digest, e);
}

cf_code meta_tag_get(meta_manifest *out, const char *reg, const char *repo, const char *tag,
                     cf_err *e)
{
    return manifest_get(out, SQL_TAG_GET, reg, repo, tag, e);
}

static const char SQL_MANIFEST_UPSERT[] =
    "INSERT INTO manifests (registry_id, repo, digest, media_type, size, artifact_type, subject,"
    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (registry_id, repo, digest) DO NOTHING";
static const char SQL_REF_INSERT[] = "INSERT INTO manifest_refs (registry_id, repo, digest, ref,"
                                     " is_manifest) VALUES (?1, ?2, ?3, ?4, ?5)"
                                     " ON CONFLICT DO NOTHING";
/* a tag keeps its created_at when it moves */
static const char SQL_TAG_UPSERT[] =
    "INSERT INTO tags (registry_id, repo, tag, digest, updated_at, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
    " ON CONFLICT (registry_id, repo, tag) DO UPDATE SET digest = excluded.digest,"
    " updated_at = excluded.updated_at";

static cf_code manifest_rows(db *c, const meta_manifest_put_args *a, cf_err *e)
{
    META_STMT(st, c, SQL_MANIFEST_UPSERT);
    db_bind_text(st, 1, a->reg);
    db_bind_text(st, 2, a->repo);
    db_bind_text(st, 3, a->digest);
    db_bind_text(st, 4, a->media_type);
    db_bind_int64(st, 5, a->size);
    db_bind_opt_text(st, 6, a->artifact_type);
    db_bind_text(st, 7, a->subject);
    db_bind_int64(st, 8, meta_now());
    cf_code rc = db_run(st, e);
    for (size_t i = 0; rc == CF_OK && i < a->nrefs; i++) {
        META_STMT(rs, c, SQL_REF_INSERT);
        db_bind_text(rs, 1, a->reg);
        db_bind_text(rs, 2, a->repo);
        db_bind_text(rs, 3, a->digest);
        db_bind_text(rs, 4, a->ref_digests[i]);
        db_bind_int64(rs, 5, a->ref_is_manifest[i]);
        rc = db_run(rs, e);
    }
    if (rc == CF_OK && a->tag) {
        META_STMT(ts, c, SQL_TAG_UPSERT);
        db_bind_text(ts, 1, a->reg);
        db_bind_text(ts, 2, a->repo);
        db_bind_text(ts, 3, a->tag);
        db_bind_text(ts, 4, a->digest);
        db_bind_int64(ts, 5, meta_now());
        rc = db_run(ts, e);
    }
    return rc;
}

static const char SQL_LINK_HAS[] =
    "SELECT 1 FROM repo_blobs WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_MANIFEST_HAS[] =
    "SELECT 1 FROM manifests WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";

/* The references the repository must have, against a concurrent
 * collection (meta_gc.c): first every blob row locked (shared), then,
 * each check a statement of its own (a fresh snapshot on PostgreSQL, taken
 * after any collection that held a row committed), the links and child
 * manifests looked for. */
static cf_code refs_check(db *c, const meta_manifest_put_args *a, cf_err *e)
{
    if (a->ref_required == NULL)
        return CF_OK;
    cf_code rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < a->nrefs; i++) {
        int exists = 1;
        if (a->ref_required[i])
            rc = meta_blob_share(c, a->reg, a->ref_digests[i], &exists, e);
        if (rc == CF_OK && !exists)
            rc = CF_ENOTFOUND;
        if (rc == CF_ENOTFOUND)
            return cf_err_set(e, CF_ENOTFOUND, "%s %s unknown to the repository",
                              a->ref_is_manifest[i] ? "manifest" : "blob", a->ref_digests[i]);
    }
    for (size_t i = 0; rc == CF_OK && i < a->nrefs; i++) {
        if (!a->ref_required[i])
            continue;
        META_STMT(st, c, a->ref_is_manifest[i] ? SQL_MANIFEST_HAS : SQL_LINK_HAS);
        db_bind_text(st, 1, a->reg);
        db_bind_text(st, 2, a->repo);
        db_bind_text(st, 3, a->ref_digests[i]);
        rc = db_one_int(st, NULL, "reference", e);
        if (rc == CF_ENOTFOUND && e)
            memset(e, 0, sizeof(*e)); /* this message, not db_one_int's */
        if (rc == CF_ENOTFOUND)
            return cf_err_set(e, CF_ENOTFOUND, "%s %s unknown to the repository",
                              a->ref_is_manifest[i] ? "manifest" : "blob", a->ref_digests[i]);
    }
    return rc;
}

cf_code meta_manifest_put(const meta_manifest_put_args *a, cf_err *e)
{
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = refs_check(c, a, e);
    if (rc == CF_OK)
        rc = meta_blob_row_insert(c, a->reg, a->digest, a->size, e);
    if (rc == CF_OK)
        rc = meta_repo_row_insert(c, a->reg, a->repo, e);
    if (rc == CF_OK)
        rc = manifest_rows(c, a, e);
    return db_end(c, rc, e);
}

static const char SQL_MANIFEST_DELETE[] =
    "DELETE FROM manifests WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_TAGS_OF_DELETE[] =
    "DELETE FROM tags WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";
static const char SQL_REFS_OF_DELETE[] =
    "DELETE FROM manifest_refs WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";

cf_code meta_manifest_delete(const char *reg, const char *repo, const char *digest, int *orphaned,
                             cf_err *e)
{
    *orphaned = 0;
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = meta_run3_one(c, SQL_MANIFEST_DELETE, reg, repo, digest, "manifest unknown", e);
    if (rc == CF_OK)
        rc = meta_run3(c, SQL_TAGS_OF_DELETE, reg, repo, digest, NULL, e);
    if (rc == CF_OK)
        rc = meta_run3(c, SQL_REFS_OF_DELETE, reg, repo, digest, NULL, e);
    if (rc == CF_OK)
        rc = meta_blob_gc(c, reg, digest, orphaned, e);
    return db_end(c, rc, e);
}

static const char SQL_TAG_DELETE[] =
    "DELETE FROM tags WHERE registry_id = ?1 AND repo = ?2 AND tag = ?3";

cf_code meta_tag_delete(const char *reg, const char *repo, const char *tag, cf_err *e)
{
    META_CONN(c);
    return meta_run3_one(c, SQL_TAG_DELETE, reg, repo, tag, "tag unknown", e);
}

cf_code meta_each_text(db_stmt *st, int64_t n, meta_each_fn fn, void *cls, int *more, cf_err *e)
{
    int rc;
    int64_t got = 0;
    *more = 0;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (got == n) {
            *more = 1;
            break;
        }
        const char *t = db_column_text(st, 0);
        got++;
        if (fn(cls, t ? t : "") != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static const char SQL_TAGS_LIST[] = "SELECT tag FROM tags WHERE registry_id = ?1 AND repo = ?2"
                                    " AND tag > ?3 ORDER BY tag LIMIT ?4";

cf_code meta_each_page(const char *sql, const char *reg, const char *repo, const char *last,
                       int64_t n, meta_each_fn fn, void *cls, int *more, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, sql);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_text(st, 3, last ? last : "");
    db_bind_int64(st, 4, n + 1);
    return meta_each_text(st, n, fn, cls, more, e);
}

cf_code meta_tags_list(const char *reg, const char *repo, const char *last, int64_t n,
                       meta_each_fn fn, void *cls, int *more, cf_err *e)
{
    return meta_each_page(SQL_TAGS_LIST, reg, repo, last, n, fn, cls, more, e);
}

/* CAST: PostgreSQL cannot infer the type of a parameter that is only
 * tested for NULL */
static const char SQL_REFERRERS[] =
    "SELECT digest, media_type, artifact_type, size FROM manifests"
    " WHERE registry_id = ?1 AND repo = ?2 AND subject = ?3"
    " AND (CAST(?4 AS TEXT) IS NULL OR artifact_type = CAST(?4 AS TEXT))"
    " ORDER BY created_at, digest LIMIT 10000";

cf_code meta_referrers(const char *reg, const char *repo, const char *subject,
                       const char *artifact_type, int (*fn)(void *cls, const meta_referrer *r),
                       void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REFERRERS);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_text(st, 3, subject);
    db_bind_text(st, 4, artifact_type);
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        meta_referrer r = {
            .digest = db_column_text(st, 0),
            .media_type = db_column_text(st, 1),
            .artifact_type = db_column_text(st, 2),
            .size = db_column_int64(st, 3),
        };
        if (fn(cls, &r) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}
