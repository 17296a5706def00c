/*
 * tasks.h -- registry tasks (docs/tasks.md): built-in commands run now
 * (`coffer acr run`, `acr task run`) or on a cron schedule by cofferd,
 * each run's log sealed under the registry's keys.
 *
 * Commands are built in and parsed here, never handed to a shell. The
 * words of --cmd are split on blanks, with '...' and "..." quoting (no
 * escapes, no expansion); a leading "acr" is accepted as az writes it:
 *
 *   purge --filter REPO_ERE:TAG_ERE... --ago DURATION [--untagged] [--keep N] [--dry-run]
 *
 * (ACR's acr purge: the tags of repositories whose name matches REPO_ERE
 * and whose name matches TAG_ERE, last changed before now - DURATION, are
 * deleted except the newest N per repository; --untagged then deletes the
 * manifests of those repositories left without a tag and older than the
 * same cutoff. Both expressions are POSIX extended regular expressions
 * (regcomp REG_EXTENDED), anchored at both ends. DURATION: digits and a
 * unit d, h, m or s, repeated: 30d, 1d12h, 0d.) Deletes go through the
 * data plane's own delete (content.h, meta_tag_delete): purge removes
 * tags and manifests, never blobs; garbage collection reclaims those.
 *
 *   import --source [SCHEME://]HOST/REPO[:TAG|@DIGEST] [--image REPO[:TAG]]
 *          [--username U --password P]
 *
 * (ACR's az acr import; import.h.) A password is accepted only in a quick
 * run, never in a stored task's command.
 *
 * One run per task at a time (meta_tasks.h's claim). A run's log is held
 * in memory while it runs (at most TASKS_LOG_MAX bytes) and then sealed
 * as the object registries/<id>/tasklogs/<run id> with the registry's
 * KEK, like a blob: on a CMK registry whose key is revoked it cannot be
 * read. Logs (and their runs) are kept 24 hours on a CMK registry, 30
 * days otherwise, then the tasks thread removes them.
 *
 * The clock of the schedules and of the retention is tasks_now():
 * time(NULL) plus an offset in seconds read from a file given to
 * cofferd as --test-clock-file (test only, never in production: it lets
 * an e2e test move the tasks' time forward without waiting).
 */
#ifndef CF_REGISTRY_TASKS_H
#define CF_REGISTRY_TASKS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/meta.h"
#include "store/meta_tasks.h"

#define TASKS_LOG_MAX (1024 * 1024)
#define TASKS_RETENTION_CMK (24 * 3600)
#define TASKS_RETENTION (30 * 24 * 3600)
/* a claim older than this belongs to a node that died */
#define TASKS_CLAIM_LEASE (6 * 3600)

/* Starts the thread that runs due tasks and expires logs, every tick_s
 * seconds; clock_file (may be NULL) is the test clock's offset file. */
cf_code tasks_start(unsigned tick_s, const char *clock_file, cf_err *e);
void tasks_stop(void);
int64_t tasks_now(void);

/* Checks a command: CF_EINVAL with a message saying what is wrong;
 * *kind (may be NULL) receives its name ("purge", "import"). stored: the
 * command of a task (kept in the database), where no password may be. */
cf_code tasks_cmd_check(const char *cmd, const char **kind, int stored, cf_err *e);

/* Runs cmd on registry reg now, to the end: as task `task` (NULL: a
 * quick run) after claiming it (CF_ECONFLICT while another run of it
 * goes on), `due` for a scheduled run (next: its following time).
 * *out is the finished run (its status Succeeded or Failed: a command
 * that fails is a run that failed, not an error); errors: the claim, the
 * registry's key (CF_EUNAVAIL / CF_EDENIED: no run), the store. */
cf_code tasks_run(meta_task_run *out, const meta_registry *reg, const char *task, const char *cmd,
                  const char *trigger, int due, int64_t next, cf_err *e);

/* The run's log, unsealed into out (a secret buffer). CF_ENOTFOUND for
 * an unknown or expired run; the keyring's error when the registry's key
 * is unavailable. */
cf_code tasks_log_read(const meta_registry *reg, const char *run_id, cf_buf *out, cf_err *e);

/* One pass now: due tasks, then expired logs (the thread's loop). */
void tasks_tick(void);
/* Removes the registry's runs and logs older than its retention at now. */
unsigned tasks_expire(const meta_registry *reg, int64_t now);

#endif
