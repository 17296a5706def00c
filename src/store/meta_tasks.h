/*
 * meta_tasks.h -- the metadata of registry tasks (docs/tasks.md): tasks
 * and their runs, on either engine (meta_tasks.c, migration 7).
 *
 *   tasks      (registry_id, name) -> the command text, the schedule (a
 *              cron expression or NULL), status, the next scheduled run
 *              (unix seconds, 0: none), and the claim: the run in progress
 *              (run_id) and since when
 *   task_runs  (registry_id, run_id) -> the task (NULL for a quick run:
 *              acr run / acr import), the command's name, the trigger,
 *              status, times, the size of its sealed log
 *
 * One run per task at a time, once in a cluster: a run starts only by
 * claiming its task's row with one conditional UPDATE (no claim held, or
 * one older than the lease: its node died); a scheduled run's claim also
 * moves next_run on, so of the nodes that see a tick due exactly one
 * wins it. That works the same on SQLite and PostgreSQL, needs no
 * advisory lock, and survives a node's death through the lease.
 */
#ifndef CF_STORE_META_TASKS_H
#define CF_STORE_META_TASKS_H

#include <stdint.h>

#include "base/err.h"
#include "store/meta.h"

#define META_TASK_CMD_MAX 2048
#define META_RUN_ID_MAX 24

extern const char meta_tasks_schema_sqlite[];
extern const char meta_tasks_schema_postgres[];

typedef struct meta_task {
    char registry_id[META_ID_LEN + 1];
    char name[64];
    char cmd[META_TASK_CMD_MAX];
    char schedule[260]; /* "" when none */
    int enabled;
    int64_t created_at;
    int64_t next_run;             /* 0: none */
    char run_id[META_RUN_ID_MAX]; /* the run holding the claim; "" when none */
    int64_t run_since;
} meta_task;

/* Inserts or replaces the task's definition (cmd, schedule, enabled,
 * next_run; a claim is kept); *created (may be NULL) = 1 when new. */
cf_code meta_task_put(const meta_task *t, int *created, cf_err *e);
cf_code meta_task_get(meta_task *out, const char *reg, const char *name, cf_err *e);
cf_code meta_task_each(const char *reg, int (*fn)(void *cls, const meta_task *t), void *cls,
                       cf_err *e);
cf_code meta_task_delete(const char *reg, const char *name, cf_err *e);
/* Claims the task for run_id at `now`: CF_ECONFLICT when another run
 * holds a claim taken at or after stale_before. due = 1 (a scheduled
 * run): only when next_run is set and <= now, which becomes next (so
 * one node wins the tick). CF_ENOTFOUND when the task is gone. */
cf_code meta_task_claim(const char *reg, const char *name, const char *run_id, int64_t now,
                        int64_t stale_before, int due, int64_t next, cf_err *e);
/* Drops run_id's claim (none when another holds it). */
cf_code meta_task_release(const char *reg, const char *name, const char *run_id, cf_err *e);
/* Enabled tasks with next_run set and <= now, every registry. */
cf_code meta_task_each_due(int64_t now, int (*fn)(void *cls, const meta_task *t), void *cls,
                           cf_err *e);

typedef struct meta_task_run {
    char registry_id[META_ID_LEN + 1];
    char run_id[META_RUN_ID_MAX];
    char task[64];                   /* "" for a quick run */
    char cmd[16];                    /* purge | import */
    char trigger[16];                /* Manual | Timer */
    char status[16];                 /* Running | Succeeded | Failed */
    int64_t created_at, finished_at; /* finished 0 while running */
    int64_t log_size;
} meta_task_run;

cf_code meta_task_run_put(const meta_task_run *r, cf_err *e);
cf_code meta_task_run_get(meta_task_run *out, const char *reg, const char *run_id, cf_err *e);
/* The registry's runs, newest first (task NULL: every run), at most n. */
cf_code meta_task_run_each(const char *reg, const char *task, int64_t n,
                           int (*fn)(void *cls, const meta_task_run *r), void *cls, cf_err *e);
/* Runs of the registry created before `before`, oldest first, at most n. */
cf_code meta_task_run_each_older(const char *reg, int64_t before, int64_t n,
                                 int (*fn)(void *cls, const meta_task_run *r), void *cls,
                                 cf_err *e);
cf_code meta_task_run_delete(const char *reg, const char *run_id, cf_err *e);

/* purge's view of a repository-rich registry: every tag with its
 * manifest and last change, by repository then newest first. */
typedef struct meta_purge_tag {
    const char *repo, *tag, *digest;
    int64_t updated_at;
} meta_purge_tag;
cf_code meta_purge_tags(const char *reg, int (*fn)(void *cls, const meta_purge_tag *t), void *cls,
                        cf_err *e);
/* Manifests of the registry that no tag names and no other manifest of
 * their repository references (so an index's children stay while it
 * does), created before `before`, by repository. */
cf_code meta_purge_untagged(const char *reg, int64_t before,
                            int (*fn)(void *cls, const meta_purge_tag *t), void *cls, cf_err *e);

#endif
