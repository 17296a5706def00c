/*
 * meta_repos.c -- a repository's details, from metadata alone: ACR's
 * repository, tag and manifest attributes (what `coffer acr repository
 * show|show-tags|show-manifests` and `acr manifest list-metadata` print,
 * src/control/repositories.c), and what deleting a whole repository
 * walks. meta_repo_info_get, meta_tags_info, meta_manifests_info,
 * meta_manifest_tags, meta_repo_blobs, meta_repo_delete_if_empty of
 * meta.h.
 *
 * Times are the store's: a repository's created_at (its first blob or
 * manifest), a manifest's created_at (its first push into the
 * repository), a tag's created_at (its first push; NULL for tags written
 * before migration 2, when its updated_at stands in) and updated_at (the
 * last push of the tag). A manifest's last update is the latest change of
 * a tag pointing to it, a repository's the latest of all of these.
 * Listings are by name (tags) or digest (manifests) with a `last` cursor,
 * as the distribution API's, so a page costs the same wherever it starts.
 */
#define CF_LOG_MOD "meta"
#include "store/meta_int.h"

#include <string.h>

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
    int64_t m = a > b ? a : b;
    return m > c ? m : c;
}

static const char SQL_REPO_INFO[] =
    "SELECT r.created_at,"
    " (SELECT COUNT(*) FROM manifests m WHERE m.registry_id = r.registry_id AND m.repo = r.name),"
    " (SELECT COUNT(*) FROM tags t WHERE t.registry_id = r.registry_id AND t.repo = r.name),"
    " (SELECT MAX(m.created_at) FROM manifests m"
    "   WHERE m.registry_id = r.registry_id AND m.repo = r.name),"
    " (SELECT MAX(t.updated_at) FROM tags t WHERE t.registry_id = r.registry_id AND t.repo = "
    "r.name)"
    " FROM repositories r WHERE r.registry_id = ?1 AND r.name = ?2";

cf_code meta_repo_info_get(meta_repo_info *out, const char *reg, const char *repo, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    META_CONN(c);
    META_STMT(st, c, SQL_REPO_INFO);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    int rc = db_step(st, e);
    if (rc == DB_ROW) {
        out->created_at = db_column_int64(st, 0);
        out->manifest_count = db_column_int64(st, 1);
        out->tag_count = db_column_int64(st, 2);
        out->last_update = max3(out->created_at, db_column_int64(st, 3), db_column_int64(st, 4));
    }
    db_reset(st);
    if (rc == DB_DONE)
        return cf_err_set(e, CF_ENOTFOUND, "repository not found");
    return rc == DB_ROW ? CF_OK : (cf_code)rc;
}

/* Runs a listing whose LIMIT asked for n + 1 rows: fn gets the first n;
 * *more (may be NULL) = 1 when there was another. */
static cf_code each_row(db_stmt *st, int64_t n, int (*row)(db_stmt *st, void *cls), void *cls,
                        int *more, cf_err *e)
{
    int rc;
    int64_t got = 0;
    if (more)
        *more = 0;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (got == n) {
            if (more)
                *more = 1;
            break;
        }
        got++;
        if (row(st, cls) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

/* A listing of repo: the row named `one`, or a page of n after `last`;
 * CF_ENOTFOUND (`missing`) when `one` names no row. */
static cf_code listing(const char *sql_one, const char *sql_page, const char *reg, const char *repo,
                       const char *one, const char *last, int64_t n,
                       int (*row)(db_stmt *st, void *cls), void *cls, const int64_t *rows,
                       int *more, const char *missing, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, one ? sql_one : sql_page);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_text(st, 3, one ? one : last ? last : "");
    if (one == NULL)
        db_bind_int64(st, 4, n + 1);
    cf_code rc = each_row(st, one ? 1 : n, row, cls, more, e);
    if (rc == CF_OK && one && *rows == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "%s", missing);
    return rc;
}

/* ---- tags ---- */

#define TAG_COLS "SELECT tag, digest, COALESCE(created_at, updated_at), updated_at FROM tags"
static const char SQL_TAGS_PAGE[] = TAG_COLS " WHERE registry_id = ?1 AND repo = ?2 AND tag > ?3"
                                             " ORDER BY tag LIMIT ?4";
static const char SQL_TAG_ONE[] = TAG_COLS " WHERE registry_id = ?1 AND repo = ?2 AND tag = ?3";

typedef struct {
    int (*fn)(void *cls, const meta_tag_info *t);
    void *cls;
    int64_t rows;
} tag_each;

static int tag_row(db_stmt *st, void *cls)
{
    tag_each *x = cls;
    const char *tag = db_column_text(st, 0), *digest = db_column_text(st, 1);
    meta_tag_info t = {.tag = tag ? tag : "",
                       .digest = digest ? digest : "",
                       .created_at = db_column_int64(st, 2),
                       .updated_at = db_column_int64(st, 3)};
    x->rows++;
    return x->fn(x->cls, &t);
}

cf_code meta_tags_info(const char *reg, const char *repo, const char *tag, const char *last,
                       int64_t n, int (*fn)(void *cls, const meta_tag_info *t), void *cls,
                       int *more, cf_err *e)
{
    tag_each x = {.fn = fn, .cls = cls};
    return listing(SQL_TAG_ONE, SQL_TAGS_PAGE, reg, repo, tag, last, n, tag_row, &x, &x.rows, more,
                   "tag unknown", e);
}

/* ---- manifests ---- */

#define MANIFEST_COLS                                                                              \
    "SELECT m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.created_at,"             \
    " (SELECT MAX(t.updated_at) FROM tags t WHERE t.registry_id = m.registry_id"                   \
    "   AND t.repo = m.repo AND t.digest = m.digest),"                                             \
    " (SELECT COALESCE(SUM(b.size), 0) FROM manifest_refs f JOIN blobs b"                          \
    "   ON b.registry_id = f.registry_id AND b.digest = f.ref"                                     \
    "   WHERE f.registry_id = m.registry_id AND f.repo = m.repo AND f.digest = m.digest)"          \
    " FROM manifests m"
static const char SQL_MANIFESTS_PAGE[] = MANIFEST_COLS
    " WHERE m.registry_id = ?1 AND m.repo = ?2 AND m.digest > ?3 ORDER BY m.digest LIMIT ?4";
static const char SQL_MANIFEST_ONE[] =
    MANIFEST_COLS " WHERE m.registry_id = ?1 AND m.repo = ?2 AND m.digest = ?3";

typedef struct {
    int (*fn)(void *cls, const meta_manifest_info *m);
    void *cls;
    int64_t rows;
} manifest_each;

static int manifest_row(db_stmt *st, void *cls)
{
    manifest_each *x = cls;
    const char *digest = db_column_text(st, 0), *mt = db_column_text(st, 1);
    meta_manifest_info m = {.digest = digest ? digest : "",
                            .media_type = mt ? mt : "",
                            .artifact_type = db_column_text(st, 2),
                            .subject = db_column_text(st, 3),
                            .size = db_column_int64(st, 4),
                            .created_at = db_column_int64(st, 5),
                            .refs_size = db_column_int64(st, 7)};
    int64_t tagged = db_column_int64(st, 6);
    m.last_update = tagged > m.created_at ? tagged : m.created_at;
    x->rows++;
    return x->fn(x->cls, &m);
}

cf_code meta_manifests_info(const char *reg, const char *repo, const char *digest, const char *last,
                            int64_t n, int (*fn)(void *cls, const meta_manifest_info *m), void *cls,
                            int *more, cf_err *e)
{
    manifest_each x = {.fn = fn, .cls = cls};
    return listing(SQL_MANIFEST_ONE, SQL_MANIFESTS_PAGE, reg, repo, digest, last, n, manifest_row,
                   &x, &x.rows, more, "manifest unknown", e);
}

static const char SQL_MANIFEST_TAGS[] = "SELECT tag FROM tags WHERE registry_id = ?1 AND repo = ?2"
                                        " AND digest = ?3 ORDER BY tag";

cf_code meta_manifest_tags(const char *reg, const char *repo, const char *digest, meta_each_fn fn,
                           void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_MANIFEST_TAGS);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_text(st, 3, digest);
    int more;
    return meta_each_text(st, INT64_MAX, fn, cls, &more, e);
}

/* ---- deleting a repository ---- */

static const char SQL_REPO_ROOTS[] =
    "SELECT m.digest FROM manifests m WHERE m.registry_id = ?1 AND m.repo = ?2"
    " AND NOT EXISTS (SELECT 1 FROM manifest_refs f WHERE f.registry_id = ?1 AND f.repo = ?2"
    " AND f.ref = m.digest) ORDER BY m.digest LIMIT ?3";

cf_code meta_repo_manifest_roots(const char *reg, const char *repo, int64_t n, meta_each_fn fn,
                                 void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REPO_ROOTS);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    db_bind_int64(st, 3, n);
    int more;
    return meta_each_text(st, n, fn, cls, &more, e);
}

static const char SQL_REPO_BLOBS[] = "SELECT digest FROM repo_blobs WHERE registry_id = ?1"
                                     " AND repo = ?2 AND digest > ?3 ORDER BY digest LIMIT ?4";

cf_code meta_repo_blobs(const char *reg, const char *repo, const char *last, int64_t n,
                        meta_each_fn fn, void *cls, int *more, cf_err *e)
{
    return meta_each_page(SQL_REPO_BLOBS, reg, repo, last, n, fn, cls, more, e);
}

static const char SQL_REPO_DELETE_EMPTY[] =
    "DELETE FROM repositories WHERE registry_id = ?1 AND name = ?2"
    " AND NOT EXISTS (SELECT 1 FROM manifests WHERE registry_id = ?1 AND repo = ?2)"
    " AND NOT EXISTS (SELECT 1 FROM tags WHERE registry_id = ?1 AND repo = ?2)"
    " AND NOT EXISTS (SELECT 1 FROM repo_blobs WHERE registry_id = ?1 AND repo = ?2)";

cf_code meta_repo_delete_if_empty(const char *reg, const char *repo, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_REPO_DELETE_EMPTY);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, repo);
    cf_code rc = db_run(st, e);
    if (rc != CF_OK || db_changes(st) > 0)
        return rc;
    rc = meta_repo_exists(reg, repo, e);
    return rc == CF_OK ? cf_err_set(e, CF_ECONFLICT, "repository %s is not empty", repo) : rc;
}
