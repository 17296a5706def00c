/*
 * meta_tasks.c -- see meta_tasks.h. The claim is the one subtle
 * statement: a conditional UPDATE whose row count says who won.
 */
#include "store/meta_tasks.h"

#include <stdio.h>
#include <string.h>

#include "store/meta_int.h"

const char meta_tasks_schema_sqlite[] =
    "CREATE TABLE IF NOT EXISTS tasks ("
    " registry_id TEXT NOT NULL, name TEXT NOT NULL, cmd TEXT NOT NULL, schedule TEXT,"
    " status TEXT NOT NULL, created_at INTEGER NOT NULL, next_run INTEGER NOT NULL,"
    " run_id TEXT, run_since INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (registry_id, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tasks_next ON tasks (next_run);"
    "CREATE TABLE IF NOT EXISTS task_runs ("
    " registry_id TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT, cmd TEXT NOT NULL,"
    " run_trigger TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL, log_size INTEGER NOT NULL,"
    " PRIMARY KEY (registry_id, run_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS task_runs_created ON task_runs (registry_id, created_at);";

#define T "TEXT COLLATE \"C\""
const char meta_tasks_schema_postgres[] =
    "CREATE TABLE tasks ("
    " registry_id " T " NOT NULL, name " T " NOT NULL, cmd " T " NOT NULL, schedule " T ","
    " status " T " NOT NULL, created_at BIGINT NOT NULL, next_run BIGINT NOT NULL,"
    " run_id " T ", run_since BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (registry_id, name));"
    "CREATE INDEX tasks_next ON tasks (next_run);"
    "CREATE TABLE task_runs ("
    " registry_id " T " NOT NULL, run_id " T " NOT NULL, task " T ", cmd " T " NOT NULL,"
    " run_trigger " T " NOT NULL, status " T " NOT NULL, created_at BIGINT NOT NULL,"
    " finished_at BIGINT NOT NULL, log_size BIGINT NOT NULL,"
    " PRIMARY KEY (registry_id, run_id));"
    "CREATE INDEX task_runs_created ON task_runs (registry_id, created_at);";
#undef T

#define TASK_COLS                                                                                  \
    "registry_id, name, cmd, schedule, status, created_at, next_run, run_id, run_since"

static void task_row(meta_task *t, db_stmt *st)
{
    memset(t, 0, sizeof(*t));
    db_column_copy(t->registry_id, sizeof(t->registry_id), st, 0);
    db_column_copy(t->name, sizeof(t->name), st, 1);
    db_column_copy(t->cmd, sizeof(t->cmd), st, 2);
    db_column_copy(t->schedule, sizeof(t->schedule), st, 3);
    const char *s = db_column_text(st, 4);
    t->enabled = s && strcmp(s, "enabled") == 0;
    t->created_at = db_column_int64(st, 5);
    t->next_run = db_column_int64(st, 6);
    db_column_copy(t->run_id, sizeof(t->run_id), st, 7);
    t->run_since = db_column_int64(st, 8);
}

static const char SQL_TASK_EXISTS[] = "SELECT 1 FROM tasks WHERE registry_id = ?1 AND name = ?2";
static const char SQL_TASK_PUT[] =
    "INSERT INTO tasks (registry_id, name, cmd, schedule, status, created_at, next_run)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (registry_id, name) DO UPDATE SET"
    " cmd = excluded.cmd, schedule = excluded.schedule, status = excluded.status,"
    " next_run = excluded.next_run";

cf_code meta_task_put(const meta_task *t, int *created, cf_err *e)
{
    META_CONN(c);
    cf_code rc = db_begin(c, e);
    if (rc != CF_OK)
        return rc;
    db_stmt *st = db_prepare(c, SQL_TASK_EXISTS, e);
    if (st == NULL)
        return db_end(c, META_FAIL_CODE, e);
    db_bind_text(st, 1, t->registry_id);
    db_bind_text(st, 2, t->name);
    rc = db_one_int(st, NULL, "task", e);
    int isnew = rc == CF_ENOTFOUND;
    if (isnew) {
        cf_err_clear(e);
        rc = CF_OK;
    }
    if (rc == CF_OK && (st = db_prepare(c, SQL_TASK_PUT, e)) == NULL)
        rc = META_FAIL_CODE;
    if (rc == CF_OK) {
        db_bind_text(st, 1, t->registry_id);
        db_bind_text(st, 2, t->name);
        db_bind_text(st, 3, t->cmd);
        db_bind_opt_text(st, 4, t->schedule);
        db_bind_text(st, 5, t->enabled ? "enabled" : "disabled");
        db_bind_int64(st, 6, t->created_at ? t->created_at : meta_now());
        db_bind_int64(st, 7, t->next_run);
        rc = db_run(st, e);
    }
    rc = db_end(c, rc, e);
    if (rc == CF_OK && created)
        *created = isnew;
    return rc;
}

static const char SQL_TASK_GET[] =
    "SELECT " TASK_COLS " FROM tasks WHERE registry_id = ?1 AND name = ?2";

cf_code meta_task_get(meta_task *out, const char *reg, const char *name, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TASK_GET);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, name);
    int rc = db_step(st, e);
    if (rc == DB_ROW)
        task_row(out, st);
    db_reset(st);
    if (rc == DB_DONE)
        return cf_err_set(e, CF_ENOTFOUND, "task not found");
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static cf_code each_task(db_stmt *st, int (*fn)(void *cls, const meta_task *t), void *cls,
                         cf_err *e)
{
    meta_task t;
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        task_row(&t, st);
        if (fn(cls, &t) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static const char SQL_TASK_EACH[] =
    "SELECT " TASK_COLS " FROM tasks WHERE registry_id = ?1 ORDER BY name";

cf_code meta_task_each(const char *reg, int (*fn)(void *cls, const meta_task *t), void *cls,
                       cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TASK_EACH);
    db_bind_text(st, 1, reg);
    return each_task(st, fn, cls, e);
}

static const char SQL_TASK_DUE[] = "SELECT " TASK_COLS " FROM tasks WHERE next_run > 0"
                                   " AND next_run <= ?1 AND status = 'enabled'"
                                   " ORDER BY next_run LIMIT 1000";

cf_code meta_task_each_due(int64_t now, int (*fn)(void *cls, const meta_task *t), void *cls,
                           cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TASK_DUE);
    db_bind_int64(st, 1, now);
    return each_task(st, fn, cls, e);
}

static const char SQL_TASK_DELETE[] = "DELETE FROM tasks WHERE registry_id = ?1 AND name = ?2";

cf_code meta_task_delete(const char *reg, const char *name, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TASK_DELETE);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, name);
    cf_code rc = db_run(st, e);
    if (rc == CF_OK && db_changes(st) == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "task not found");
    return rc;
}

static const char SQL_TASK_CLAIM[] =
    "UPDATE tasks SET run_id = ?3, run_since = ?4,"
    " next_run = CASE WHEN ?6 = 1 THEN ?7 ELSE next_run END"
    " WHERE registry_id = ?1 AND name = ?2 AND (run_id IS NULL OR run_since < ?5)"
    " AND (?6 = 0 OR (next_run > 0 AND next_run <= ?4))";

cf_code meta_task_claim(const char *reg, const char *name, const char *run_id, int64_t now,
                        int64_t stale_before, int due, int64_t next, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_TASK_CLAIM);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, run_id);
    db_bind_int64(st, 4, now);
    db_bind_int64(st, 5, stale_before);
    db_bind_int64(st, 6, due ? 1 : 0);
    db_bind_int64(st, 7, next);
    cf_code rc = db_run(st, e);
    if (rc != CF_OK || db_changes(st) == 1)
        return rc;
    meta_task t;
    if ((rc = meta_task_get(&t, reg, name, e)) != CF_OK)
        return rc;
    return cf_err_set(e, CF_ECONFLICT,
                      due ? "the scheduled run was taken by another node or is not due"
                          : "run %s of this task is in progress",
                      t.run_id);
}

static const char SQL_TASK_RELEASE[] = "UPDATE tasks SET run_id = NULL, run_since = 0"
                                       " WHERE registry_id = ?1 AND name = ?2 AND run_id = ?3";

cf_code meta_task_release(const char *reg, const char *name, const char *run_id, cf_err *e)
{
    META_CONN(c);
    return meta_run3(c, SQL_TASK_RELEASE, reg, name, run_id, NULL, e);
}

#define RUN_COLS                                                                                   \
    "registry_id, run_id, task, cmd, run_trigger, status, created_at, finished_at, log_size"

static void run_row(meta_task_run *r, db_stmt *st)
{
    memset(r, 0, sizeof(*r));
    db_column_copy(r->registry_id, sizeof(r->registry_id), st, 0);
    db_column_copy(r->run_id, sizeof(r->run_id), st, 1);
    db_column_copy(r->task, sizeof(r->task), st, 2);
    db_column_copy(r->cmd, sizeof(r->cmd), st, 3);
    db_column_copy(r->trigger, sizeof(r->trigger), st, 4);
    db_column_copy(r->status, sizeof(r->status), st, 5);
    r->created_at = db_column_int64(st, 6);
    r->finished_at = db_column_int64(st, 7);
    r->log_size = db_column_int64(st, 8);
}

static const char SQL_RUN_PUT[] =
    "INSERT INTO task_runs (" RUN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (registry_id, run_id) DO UPDATE SET status = excluded.status,"
    " finished_at = excluded.finished_at, log_size = excluded.log_size";

cf_code meta_task_run_put(const meta_task_run *r, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_RUN_PUT);
    db_bind_text(st, 1, r->registry_id);
    db_bind_text(st, 2, r->run_id);
    db_bind_opt_text(st, 3, r->task);
    db_bind_text(st, 4, r->cmd);
    db_bind_text(st, 5, r->trigger);
    db_bind_text(st, 6, r->status);
    db_bind_int64(st, 7, r->created_at);
    db_bind_int64(st, 8, r->finished_at);
    db_bind_int64(st, 9, r->log_size);
    return db_run(st, e);
}

static const char SQL_RUN_GET[] =
    "SELECT " RUN_COLS " FROM task_runs WHERE registry_id = ?1 AND run_id = ?2";

cf_code meta_task_run_get(meta_task_run *out, const char *reg, const char *run_id, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_RUN_GET);
    db_bind_text(st, 1, reg);
    db_bind_text(st, 2, run_id);
    int rc = db_step(st, e);
    if (rc == DB_ROW)
        run_row(out, st);
    db_reset(st);
    if (rc == DB_DONE)
        return cf_err_set(e, CF_ENOTFOUND, "run not found");
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static cf_code each_run(db_stmt *st, int (*fn)(void *cls, const meta_task_run *r), void *cls,
                        cf_err *e)
{
    meta_task_run r;
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        run_row(&r, st);
        if (fn(cls, &r) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static const char SQL_RUN_EACH[] = "SELECT " RUN_COLS " FROM task_runs WHERE registry_id = ?1"
                                   " AND (CAST(?2 AS TEXT) IS NULL OR task = CAST(?2 AS TEXT))"
                                   " ORDER BY created_at DESC, run_id DESC LIMIT ?3";

cf_code meta_task_run_each(const char *reg, const char *task, int64_t n,
                           int (*fn)(void *cls, const meta_task_run *r), void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_RUN_EACH);
    db_bind_text(st, 1, reg);
    db_bind_opt_text(st, 2, task);
    db_bind_int64(st, 3, n);
    return each_run(st, fn, cls, e);
}

static const char SQL_RUN_OLDER[] = "SELECT " RUN_COLS " FROM task_runs WHERE registry_id = ?1"
                                    " AND created_at < ?2 ORDER BY created_at LIMIT ?3";

cf_code meta_task_run_each_older(const char *reg, int64_t before, int64_t n,
                                 int (*fn)(void *cls, const meta_task_run *r), void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_RUN_OLDER);
    db_bind_text(st, 1, reg);
    db_bind_int64(st, 2, before);
    db_bind_int64(st, 3, n);
    return each_run(st, fn, cls, e);
}

static const char SQL_RUN_DELETE[] = "DELETE FROM task_runs WHERE registry_id = ?1 AND run_id = ?2";

cf_code meta_task_run_delete(const char *reg, const char *run_id, cf_err *e)
{
    META_CONN(c);
    return meta_run3(c, SQL_RUN_DELETE, reg, run_id, NULL, NULL, e);
}

static cf_code each_purge(db_stmt *st, int (*fn)(void *cls, const meta_purge_tag *t), void *cls,
                          cf_err *e)
{
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW) {
        meta_purge_tag t = {db_column_text(st, 0), db_column_text(st, 1), db_column_text(st, 2),
                            db_column_int64(st, 3)};
        if (t.repo == NULL || t.tag == NULL || t.digest == NULL)
            continue;
        if (fn(cls, &t) != 0)
            break;
    }
    db_reset(st);
    return rc < 0 ? (cf_code)rc : CF_OK;
}

static const char SQL_PURGE_TAGS[] = "SELECT repo, tag, digest, updated_at FROM tags"
                                     " WHERE registry_id = ?1 ORDER BY repo, updated_at DESC, tag";

cf_code meta_purge_tags(const char *reg, int (*fn)(void *cls, const meta_purge_tag *t), void *cls,
                        cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_PURGE_TAGS);
    db_bind_text(st, 1, reg);
    return each_purge(st, fn, cls, e);
}

static const char SQL_PURGE_UNTAGGED[] =
    "SELECT m.repo, '', m.digest, m.created_at FROM manifests m WHERE m.registry_id = ?1"
    " AND m.created_at < ?2"
    " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.registry_id = m.registry_id"
    "  AND t.repo = m.repo AND t.digest = m.digest)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.registry_id = m.registry_id"
    "  AND r.repo = m.repo AND r.ref = m.digest)"
    " ORDER BY m.repo, m.created_at";

cf_code meta_purge_untagged(const char *reg, int64_t before,
                            int (*fn)(void *cls, const meta_purge_tag *t), void *cls, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, SQL_PURGE_UNTAGGED);
    db_bind_text(st, 1, reg);
    db_bind_int64(st, 2, before);
    return each_purge(st, fn, cls, e);
}
