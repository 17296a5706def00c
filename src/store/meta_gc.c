/*
 * meta_gc.c -- the metadata side of garbage collection and retention
 * (registry/gc.h has the protocol; docs/operations.md the operator's
 * view): which links, blobs and untagged manifests a collection may
 * remove, removing them one digest at a time in a transaction that looks
 * again, the refresh of a link's grace period, and the retention_policies
 * table.
 *
 * Reachability is per repository, as reads are: a repository may read a
 * blob while it holds a link to it (repo_blobs). A link is garbage when
 * no manifest of that repository references the digest and the link is
 * older than the grace period (linked_at: made by an upload or a mount,
 * refreshed by a pusher's HEAD). A blob row goes when nothing of the
 * registry uses the digest any more (meta_blob_gc): then its sealed
 * object is the caller's to remove, under the digest's lock.
 *
 * The race with a manifest PUT is closed by a row lock on PostgreSQL (on
 * SQLite every write transaction is BEGIN IMMEDIATE, so they are serial
 * anyway): a collection takes the blob row FOR UPDATE before it looks at
 * the references again, a manifest PUT takes each referenced blob row
 * FOR SHARE before it checks its links (meta_manifests.c). Whichever
 * comes second waits for the first to commit and then, with READ
 * COMMITTED's fresh snapshot for its next statement, sees what the first
 * did: the collection sees the new references and keeps the link, or the
 * PUT sees the link gone and answers MANIFEST_BLOB_UNKNOWN.
 */
#define CF_LOG_MOD "meta"
#include <stdio.h>
#include <string.h>

#include "store/meta_int.h"

static int pg(const db *c)
{
    return db_engine_of(c) == DB_POSTGRES;
}

/* ---- a link's grace period ---- */

static const char SQL_LINK_AGE[] =
    "SELECT l.linked_at FROM repo_blobs l JOIN blobs b ON b.registry_id = l.registry_id AND"
    " b.digest = l.digest WHERE l.registry_id = ?1 AND l.repo = ?2 AND l.digest = ?3";
static const char SQL_LINK_TOUCH[] =
    "UPDATE repo_blobs SET linked_at = ?4 WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3"
    " AND linked_at < ?5";

cf_code meta_blob_touch(const char *reg, const char *repo, const char *digest, int64_t fresh_s,
                        cf_err *e)
{
    META_CONN(c);
    int64_t at = 0, now = meta_now();
    {
        META_STMT(st, c, SQL_LINK_AGE);
        db_bind_text(st, 1, reg);
        db_bind_text(st, 2, repo);
        db_bind_text(st, 3, digest);
        cf_code rc = db_one_int(st, &at, "blob", e);
        if (rc != CF_OK || at >= now - fresh_s)
            return rc;
    }
    META_STMT(up, c, SQL_LINK_TOUCH);
    db_bind_text(up, 1, reg);
    db_bind_text(up, 2, repo);
    db_bind_text(up, 3, digest);
    db_bind_int64(up, 4, now);
    db_bind_int64(up, 5, now - fresh_s);
    cf_code rc = db_run(up, e);
    if (rc != CF_OK || db_changes(up) > 0)
        return rc;
    /* another request refreshed it, or a collection removed it */
    META_STMT(again, c, SQL_LINK_AGE);
    db_bind_text(again, 1, reg);
    db_bind_text(again, 2, repo);
    db_bind_text(again, 3, digest);
    return db_one_int(again, NULL, "blob", e);
}

/* ---- collecting links and blobs ---- */

/* a link no manifest of its repository references, older than ?2 */
#define LINK_GARBAGE(l)                                                                            \
    l ".linked_at < ?2 AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.registry_id = " l     \
      ".registry_id AND r.repo = " l ".repo AND r.ref = " l ".digest)"

static const char SQL_GC_DIGESTS[] = "SELECT DISTINCT l.digest FROM repo_blobs l"
                                     " WHERE l.registry_id = ?1 AND " LINK_GARBAGE(
                                         "l") " AND l.digest > ?3 ORDER BY l.digest LIMIT ?4";

cf_code meta_gc_digests(const char *reg, int64_t cutoff, const char *after, int64_t n,
                        meta_each_fn fn, void *cls, int *more, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_GC_DIGESTS);
    db_bind_text(st, 1, reg);
    db_bind_int64(st, 2, cutoff);
    db_bind_text(st, 3, after ? after : "");
    db_bind_int64(st, 4, n + 1);
    return meta_each_text(st, n, fn, cls, more, e);
}

static const char SQL_BLOB_LOCK_SQLITE[] =
    "SELECT size FROM blobs WHERE registry_id = ?1 AND digest = ?2";
static const char SQL_BLOB_LOCK_PG[] =
    "SELECT size FROM blobs WHERE registry_id = ?1 AND digest = ?2 FOR UPDATE";
static const char SQL_BLOB_SHARE_PG[] =
    "SELECT size FROM blobs WHERE registry_id = ?1 AND digest = ?2 FOR SHARE";

/* Locks the blob row (PostgreSQL; SQLite's write transaction holds the
 * database); *size its size, 0 when there is no row. */
static cf_code blob_row_lock(db *c, const char *reg, const char *digest, int share, int64_t *size,
                             cf_err *e)
{
    const char *sql = !pg(c) ? SQL_BLOB_LOCK_SQLITE : share ? SQL_BLOB_SHARE_PG : SQL_BLOB_LOCK_PG;
    META_STMT(st, c, sql);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, digest);
    *size = 0;
    cf_code rc = db_one_int(st, size, "blob", e);
    if (rc == CF_ENOTFOUND && e)
        memset(e, 0, sizeof(*e));
    return rc == CF_ENOTFOUND ? CF_OK : rc;
}

cf_code meta_blob_share(db *c, const char *reg, const char *digest, int *exists, cf_err *e)
{
    int64_t size = -1;
    const char *sql = pg(c) ? SQL_BLOB_SHARE_PG : SQL_BLOB_LOCK_SQLITE;
    META_STMT(st, c, sql);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, digest);
    cf_code rc = db_one_int(st, &size, "blob", e);
    *exists = rc == CF_OK;
    if (rc == CF_ENOTFOUND) {
        if (e)
            memset(e, 0, sizeof(*e));
        rc = CF_OK;
    }
    return rc;
}

static const char SQL_GC_LINKS_DELETE[] =
    "DELETE FROM repo_blobs WHERE registry_id = ?1 AND digest = ?3 AND " LINK_GARBAGE("repo_blobs");

cf_code meta_gc_collect(const char *reg, const char *digest, int64_t cutoff, int64_t *links,
                        int *orphaned, int64_t *size, cf_err *e)
{
    *links = 0;
    *orphaned = 0;
    *size = 0;
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    rc = blob_row_lock(c, reg, digest, 0, size, e);
    if (rc == CF_OK) {
        db_stmt *st = db_prepare(c, SQL_GC_LINKS_DELETE, e);
        if (st == NULL) {
            rc = META_FAIL_CODE;
        } else {
            db_bind_text(st, 1, reg);
            db_bind_int64(st, 2, cutoff);
            db_bind_text(st, 3, digest);
            rc = db_run(st, e);
            *links = db_changes(st);
        }
    }
    if (rc == CF_OK && *links > 0)
        rc = meta_blob_gc(c, reg, digest, orphaned, e);
    return db_end(c, rc, e);
}

/* the blobs a collection would free now: every link garbage, and nothing
 * else of the registry using the digest */
static const char SQL_GC_ESTIMATE[] =
    "SELECT count(*), coalesce(sum(b.size), 0) FROM blobs b WHERE b.registry_id = ?1"
    " AND EXISTS (SELECT 1 FROM repo_blobs l WHERE l.registry_id = b.registry_id"
    " AND l.digest = b.digest)"
    " AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.registry_id = b.registry_id"
    " AND l.digest = b.digest AND l.linked_at >= ?2)"
    " AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.registry_id = b.registry_id"
    " AND m.digest = b.digest)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.registry_id = b.registry_id"
    " AND r.ref = b.digest)";
static const char SQL_GC_LINKS_COUNT[] =
    "SELECT count(*) FROM repo_blobs l WHERE l.registry_id = ?1 AND " LINK_GARBAGE("l");

cf_code meta_gc_estimate(const char *reg, int64_t cutoff, int64_t *links, int64_t *blobs,
                         int64_t *bytes, cf_err *e)
{
    META_CONN(c);
    *links = *blobs = *bytes = 0;
    {
        META_STMT(st, c, SQL_GC_LINKS_COUNT);
        db_bind_text(st, 1, reg);
        db_bind_int64(st, 2, cutoff);
        cf_code rc = db_one_int(st, links, "links", e);
        if (rc != CF_OK)
            return rc;
    }
    META_STMT(st, c, SQL_GC_ESTIMATE);
    db_bind_text(st, 1, reg);
    db_bind_int64(st, 2, cutoff);
    int rc = db_step(st, e);
    if (rc == DB_ROW) {
        *blobs = db_column_int64(st, 0);
        *bytes = db_column_int64(st, 1);
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

/* ---- retention: untagged manifests ---- */

/* untagged: no tag, no manifest of the repository (an index) references
 * it, and no subject still there (a referrer stays with its subject) */
#define UNTAGGED(m)                                                                                \
    m ".created_at < ?2"                                                                           \
      " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.registry_id = " m                             \
      ".registry_id AND t.repo = " m ".repo AND t.digest = " m ".digest)"                          \
      " AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.registry_id = " m                    \
      ".registry_id AND r.repo = " m ".repo AND r.ref = " m ".digest)"                             \
      " AND (" m ".subject IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s WHERE"                 \
      " s.registry_id = " m ".registry_id AND s.repo = " m ".repo AND s.digest = " m ".subject))"

static const char SQL_UNTAGGED[] =
    "SELECT m.repo, m.digest, m.size FROM manifests m WHERE m.registry_id = ?1 AND " UNTAGGED(
        "m") " AND (m.repo > ?3 OR (m.repo = ?3 AND m.digest > ?4)) ORDER BY m.repo, m.digest"
             " LIMIT ?5";

cf_code meta_untagged_each(const char *reg, int64_t cutoff, const char *after_repo,
                           const char *after_digest, int64_t n, meta_untagged_fn fn, void *cls,
                           int *more, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_UNTAGGED);
    db_bind_text(st, 1, reg);
    db_bind_int64(st, 2, cutoff);
    db_bind_text(st, 3, after_repo ? after_repo : "");
    db_bind_text(st, 4, after_digest ? after_digest : "");
    db_bind_int64(st, 5, n + 1);
    int rc;
    int64_t got = 0;
    *more = 0;
    while ((rc = db_step(st, e)) == DB_ROW) {
        if (got == n) {
            *more = 1;
            break;
        }
        got++;
        const char *repo = db_column_text(st, 0), *digest = db_column_text(st, 1);
        if (fn(cls, repo ? repo : "", digest ? digest : "", db_column_int64(st, 2)) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static const char SQL_UNTAGGED_DELETE[] =
    "DELETE FROM manifests WHERE registry_id = ?1 AND repo = ?3 AND digest = ?4 AND " UNTAGGED(
        "manifests");
static const char SQL_REFS_OF_DELETE[] =
    "DELETE FROM manifest_refs WHERE registry_id = ?1 AND repo = ?2 AND digest = ?3";

cf_code meta_untagged_delete(const char *reg, const char *repo, const char *digest, int64_t cutoff,
                             int *deleted, int *orphaned, cf_err *e)
{
    *deleted = 0;
    *orphaned = 0;
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    int64_t size = 0;
    rc = blob_row_lock(c, reg, digest, 0, &size, e);
    if (rc == CF_OK) {
        db_stmt *st = db_prepare(c, SQL_UNTAGGED_DELETE, e);
        if (st == NULL) {
            rc = META_FAIL_CODE;
        } else {
            db_bind_text(st, 1, reg);
            db_bind_int64(st, 2, cutoff);
            db_bind_text(st, 3, repo);
            db_bind_text(st, 4, digest);
            rc = db_run(st, e);
            *deleted = db_changes(st) > 0;
        }
    }
    if (rc == CF_OK && *deleted)
        rc = meta_run3(c, SQL_REFS_OF_DELETE, reg, repo, digest, NULL, e);
    if (rc == CF_OK && *deleted)
        rc = meta_blob_gc(c, reg, digest, orphaned, e);
    if (rc != CF_OK)
        *deleted = *orphaned = 0;
    return db_end(c, rc, e);
}

/* ---- the retention policy ---- */

static const char SQL_RETENTION_GET[] =
    "SELECT enabled, days, updated_at FROM retention_policies WHERE registry_id = ?1";
static const char SQL_RETENTION_PUT[] =
    "INSERT INTO retention_policies (registry_id, enabled, days, updated_at)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (registry_id) DO UPDATE SET"
    " enabled = excluded.enabled, days = excluded.days, updated_at = excluded.updated_at";

cf_code meta_retention_get(const char *reg, meta_retention *out, cf_err *e)
{
    out->enabled = 0;
    out->days = META_RETENTION_DAYS_DEFAULT;
    out->updated_at = 0;
    META_CONN(c);
    META_STMT(st, c, SQL_RETENTION_GET);
    db_bind_text(st, 1, reg);
    int rc = db_step(st, e);
    if (rc == DB_ROW) {
        out->enabled = db_column_int64(st, 0) != 0;
        out->days = db_column_int64(st, 1);
        out->updated_at = db_column_int64(st, 2);
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

cf_code meta_retention_set(const char *reg, const meta_retention *p, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_RETENTION_PUT);
    db_bind_text(st, 1, reg);
    db_bind_int64(st, 2, p->enabled ? 1 : 0);
    db_bind_int64(st, 3, p->days);
    db_bind_int64(st, 4, p->updated_at ? p->updated_at : meta_now());
    return db_run(st, e);
}
