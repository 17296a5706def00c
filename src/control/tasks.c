/*
 * tasks.c -- registry tasks in the management API (docs/tasks.md,
 * docs/control-plane.md "Tasks"), below the registry's ARM path or the
 * legacy /registries/{r}:
 *
 *   GET    /registries/{r}/tasks                     the tasks
 *   PUT    /registries/{r}/tasks/{t}   {"properties":{"cmd","schedule","status"}}
 *   GET|DELETE /registries/{r}/tasks/{t}
 *   POST   /registries/{r}/tasks/{t}/run             runs it now, answers the finished run
 *   GET    /registries/{r}/tasks/{t}/runs            its runs, newest first
 *   POST   /registries/{r}/scheduleRun {"cmd"}       a quick run (ACR's name), finished
 *   GET    /registries/{r}/runs ; GET .../runs/{id}  runs
 *   GET    /registries/{r}/runs/{id}/log             {"runId","log"}: the unsealed log
 *
 * A run is executed in the request (the answer is the finished run, as
 * `az acr run` waits for it). The command is checked in full when a task
 * is stored (400 InvalidRequest naming what is wrong), the schedule too
 * (base/cron.h). A registry whose key is unavailable starts no run and
 * shows no log: 409 KeyUnavailable with the reason, as the rest of the
 * management API says it.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/cron.h"
#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"
#include "registry/tasks.h"

#define RUNS_LIST_MAX 1000

static json_t *task_json(const meta_registry *reg, const meta_task *t)
{
    char id[ARM_ID_MAX + 80], rid[ARM_ID_MAX], created[32], next[32] = "";
    mgmt_resource_id(rid, ARM_KIND_REGISTRY, reg->name, NULL);
    snprintf(id, sizeof(id), "%s/tasks/%s", rid, t->name);
    ctl_rfc3339(created, sizeof(created), t->created_at);
    if (t->next_run)
        ctl_rfc3339(next, sizeof(next), t->next_run);
    json_t *props =
        json_pack("{s:s,s:s,s:s,s:s}", "status", t->enabled ? "Enabled" : "Disabled", "cmd", t->cmd,
                  "creationDate", created, "provisioningState", "Succeeded");
    if (props == NULL)
        return NULL;
    json_object_set_new(props, "schedule", t->schedule[0] ? json_string(t->schedule) : json_null());
    json_object_set_new(props, "nextRunTime", next[0] ? json_string(next) : json_null());
    json_object_set_new(props, "runInProgress",
                        t->run_id[0] ? json_string(t->run_id) : json_null());
    return json_pack("{s:s,s:s,s:s,s:o}", "id", id, "name", t->name, "type",
                     "Microsoft.ContainerRegistry/registries/tasks", "properties", props);
}

static json_t *run_json(const meta_registry *reg, const meta_task_run *r)
{
    char created[32], finished[32] = "";
    ctl_rfc3339(created, sizeof(created), r->created_at);
    if (r->finished_at)
        ctl_rfc3339(finished, sizeof(finished), r->finished_at);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "runId", r->run_id, "status", r->status,
                  "cmd", r->cmd, "trigger", r->trigger, "registry", reg->name, "createTime",
                  created, "logSize", (json_int_t)r->log_size, "logRetentionHours",
                  (json_int_t)((reg->cmk ? TASKS_RETENTION_CMK : TASKS_RETENTION) / 3600));
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "task", r->task[0] ? json_string(r->task) : json_null());
    json_object_set_new(j, "runType", json_string(r->task[0] ? "TaskRun" : "QuickRun"));
    json_object_set_new(j, "finishTime", finished[0] ? json_string(finished) : json_null());
    return j;
}

static void fail_key(http_req *r, const meta_registry *reg, const cf_err *e, const char *what)
{
    if (e->code == CF_EUNAVAIL || e->code == CF_EDENIED) {
        mgmt_fail(r, 409, "KeyUnavailable", "The key of registry %s is not available, so %s: %s",
                  reg->name, what, e->msg);
        return;
    }
    mgmt_fail_err(r, e, what);
}

static void fail_cmd(http_req *r, const cf_err *e)
{
    if (e->code == CF_EUNSUPPORTED)
        mgmt_fail(r, 400, "NotSupported", "%s", e->msg);
    else if (e->code == CF_EINVAL)
        mgmt_fail(r, 400, "InvalidRequest", "Invalid --cmd: %s", e->msg);
    else
        mgmt_fail_err(r, e, "check command");
}

static void reply_run(http_req *r, const meta_registry *reg, const meta_task_run *run)
{
    json_t *j = run_json(reg, run);
    if (j == NULL)
        mgmt_fail(r, 500, "InternalError", "out of memory");
    else
        mgmt_reply(r, 200, j);
}

static void do_run(http_req *r, const meta_registry *reg, const char *task, const char *cmd)
{
    meta_task_run run;
    cf_err e = {0};
    if (tasks_run(&run, reg, task, cmd, "Manual", 0, 0, &e) != CF_OK) {
        if (e.code == CF_EINVAL || e.code == CF_EUNSUPPORTED)
            fail_cmd(r, &e);
        else
            fail_key(r, reg, &e, "no run can start");
        return;
    }
    reply_run(r, reg, &run);
}

static void task_put(http_req *r, const meta_registry *reg, const char *name)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    meta_task *t = calloc(1, sizeof(*t));
    json_t *props = json_object_get(body, "properties");
    const char *cmd = json_string_value(json_object_get(props, "cmd"));
    json_t *sched = json_object_get(props, "schedule");
    const char *status = json_string_value(json_object_get(props, "status"));
    cf_err e = {0};
    if (t == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        goto out;
    }
    if (cmd == NULL) {
        mgmt_fail(r, 400, "InvalidRequest", "properties.cmd (the command to run) is required.");
        goto out;
    }
    if (tasks_cmd_check(cmd, NULL, 1, &e) != CF_OK) {
        fail_cmd(r, &e);
        goto out;
    }
    if (sched && !json_is_null(sched) && !json_is_string(sched)) {
        mgmt_fail(r, 400, "InvalidRequest", "properties.schedule must be a cron expression.");
        goto out;
    }
    const char *s = json_string_value(sched);
    cron_expr c;
    if (s && cron_parse(&c, s, strlen(s), &e) != CF_OK) {
        mgmt_fail(r, 400, "InvalidRequest", "properties.schedule: %s", e.msg);
        goto out;
    }
    if (status && strcasecmp(status, "enabled") != 0 && strcasecmp(status, "disabled") != 0) {
        mgmt_fail(r, 400, "InvalidRequest", "properties.status must be Enabled or Disabled.");
        goto out;
    }
    snprintf(t->registry_id, sizeof(t->registry_id), "%s", reg->id);
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->cmd, sizeof(t->cmd), "%s", cmd);
    snprintf(t->schedule, sizeof(t->schedule), "%s", s ? s : "");
    t->enabled = status == NULL || strcasecmp(status, "enabled") == 0;
    t->created_at = tasks_now();
    t->next_run = s && t->enabled ? cron_next(&c, tasks_now()) : 0;
    if (t->next_run < 0)
        t->next_run = 0;
    int created = 0;
    if (meta_task_put(t, &created, &e) != CF_OK || meta_task_get(t, reg->id, name, &e) != CF_OK) {
        mgmt_fail_err(r, &e, "store task");
        goto out;
    }
    cf_log(CF_LOG_INFO, created ? "task created" : "task updated", "request_id", r->request_id,
           "registry", reg->name, "task", name, NULL);
    json_t *j = task_json(reg, t);
    if (j == NULL)
        mgmt_fail(r, 500, "InternalError", "out of memory");
    else
        mgmt_reply(r, created ? 201 : 200, j);
out:
    free(t);
    json_decref(body);
}

typedef struct list_ctx {
    const meta_registry *reg;
    json_t *arr;
    int failed;
} list_ctx;

static int add_task(void *cls, const meta_task *t)
{
    list_ctx *l = cls;
    json_t *j = task_json(l->reg, t);
    if (j == NULL || json_array_append_new(l->arr, j) != 0)
        return l->failed = 1;
    return 0;
}

static int add_run(void *cls, const meta_task_run *run)
{
    list_ctx *l = cls;
    json_t *j = run_json(l->reg, run);
    if (j == NULL || json_array_append_new(l->arr, j) != 0)
        return l->failed = 1;
    return 0;
}

static void reply_list(http_req *r, list_ctx *l, cf_code rc, cf_err *e, const char *what)
{
    if (rc != CF_OK || l->failed || l->arr == NULL) {
        json_decref(l->arr);
        if (e->code == CF_OK)
            cf_err_set(e, CF_ENOMEM, "out of memory");
        mgmt_fail_err(r, e, what);
        return;
    }
    mgmt_reply(r, 200, json_pack("{s:o}", "value", l->arr));
}

static void task_not_found(http_req *r, const meta_registry *reg, const char *name)
{
    mgmt_fail(r, 404, "ResourceNotFound", "The task '%.64s' was not found in registry '%s'.", name,
              reg->name);
}

static void tasks_one(http_req *r, const meta_registry *reg, const char *name, const char *action)
{
    int get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    cf_err e = {0};
    if (!ctl_token_name_valid(name)) {
        if (strcmp(r->method, "PUT") == 0)
            mgmt_fail(r, 400, "InvalidName",
                      "The task name '%.64s' is invalid: it must be 5-50 letters, digits and "
                      "dashes.",
                      name);
        else
            task_not_found(r, reg, name);
        return;
    }
    if (action == NULL && strcmp(r->method, "PUT") == 0) {
        task_put(r, reg, name);
        return;
    }
    if (action == NULL && strcmp(r->method, "DELETE") == 0) {
        if (meta_task_delete(reg->id, name, &e) != CF_OK) {
            if (e.code == CF_ENOTFOUND)
                task_not_found(r, reg, name);
            else
                mgmt_fail_err(r, &e, "delete task");
            return;
        }
        cf_log(CF_LOG_INFO, "task deleted", "request_id", r->request_id, "registry", reg->name,
               "task", name, NULL);
        mgmt_reply(r, 200, NULL);
        return;
    }
    if ((action == NULL || strcmp(action, "runs") == 0) ? !get : !post) {
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed here.", r->method);
        return;
    }
    meta_task *t = malloc(sizeof(*t));
    if (t == NULL) {
        mgmt_fail(r, 500, "InternalError", "out of memory");
        return;
    }
    if (meta_task_get(t, reg->id, name, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            task_not_found(r, reg, name);
        else
            mgmt_fail_err(r, &e, "task lookup");
    } else if (action == NULL) {
        json_t *j = task_json(reg, t);
        if (j == NULL)
            mgmt_fail(r, 500, "InternalError", "out of memory");
        else
            mgmt_reply(r, 200, j);
    } else if (strcmp(action, "runs") == 0) {
        list_ctx l = {.reg = reg, .arr = json_array()};
        cf_code rc = meta_task_run_each(reg->id, name, RUNS_LIST_MAX, add_run, &l, &e);
        reply_list(r, &l, rc, &e, "list runs");
    } else {
        do_run(r, reg, name, t->cmd);
    }
    free(t);
}

static void runs_handle(http_req *r, const meta_registry *reg, const char *id, const char *action)
{
    cf_err e = {0};
    if (strcmp(r->method, "GET") != 0) {
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed here.", r->method);
        return;
    }
    if (id == NULL) {
        list_ctx l = {.reg = reg, .arr = json_array()};
        cf_code rc = meta_task_run_each(reg->id, NULL, RUNS_LIST_MAX, add_run, &l, &e);
        reply_list(r, &l, rc, &e, "list runs");
        return;
    }
    meta_task_run run;
    if (strlen(id) >= META_RUN_ID_MAX || meta_task_run_get(&run, reg->id, id, &e) != CF_OK) {
        if (e.code == CF_OK || e.code == CF_ENOTFOUND)
            mgmt_fail(r, 404, "ResourceNotFound",
                      "The run '%.32s' was not found in registry '%s' (logs are kept %d hours "
                      "on this registry).",
                      id, reg->name, (reg->cmk ? TASKS_RETENTION_CMK : TASKS_RETENTION) / 3600);
        else
            mgmt_fail_err(r, &e, "run lookup");
        return;
    }
    if (action == NULL) {
        reply_run(r, reg, &run);
        return;
    }
    cf_buf log;
    cf_buf_init(&log, 0);
    log.secret = 1;
    if (tasks_log_read(reg, run.run_id, &log, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND)
            mgmt_fail(r, 404, "ResourceNotFound", "The run '%s' has no log.", run.run_id);
        else
            fail_key(r, reg, &e, "its task logs cannot be read");
    } else {
        json_t *j = json_pack("{s:s,s:s%}", "runId", run.run_id, "log",
                              log.data ? (const char *)log.data : "", log.len);
        if (j == NULL)
            mgmt_fail(r, 500, "InternalError", "out of memory");
        else
            mgmt_reply_secret(r, 200, j);
    }
    cf_buf_free(&log);
}

static void schedule_run(http_req *r, const meta_registry *reg)
{
    if (strcmp(r->method, "POST") != 0) {
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed here.", r->method);
        return;
    }
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    const char *cmd = json_string_value(json_object_get(body, "cmd"));
    if (cmd == NULL)
        mgmt_fail(r, 400, "InvalidRequest", "cmd (the command to run) is required.");
    else
        do_run(r, reg, NULL, cmd);
    json_decref(body);
}

int tasks_route(http_req *r, const mgmt_scope *s, const char *registry, const char *const *rest,
                int nrest)
{
    int tasks = strcmp(rest[0], "tasks") == 0, runs = strcmp(rest[0], "runs") == 0;
    int quick = nrest == 1 && strcmp(rest[0], "scheduleRun") == 0;
    if (!(tasks && nrest <= 3) && !(runs && nrest <= 3) && !quick)
        return 0;
    if (nrest == 3 && ((tasks && strcmp(rest[2], "run") != 0 && strcmp(rest[2], "runs") != 0) ||
                       (runs && strcmp(rest[2], "log") != 0)))
        return 0;
    meta_registry reg;
    pthread_mutex_lock(&mgmt_mu);
    int found = registries_lookup(r, s, registry, &reg) == 0;
    pthread_mutex_unlock(&mgmt_mu);
    if (!found)
        return 1;
    if (quick) {
        schedule_run(r, &reg);
    } else if (tasks && nrest == 1) {
        if (strcmp(r->method, "GET") != 0) {
            mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed here.", r->method);
        } else {
            list_ctx l = {.reg = &reg, .arr = json_array()};
            cf_err e = {0};
            cf_code rc = meta_task_each(reg.id, add_task, &l, &e);
            reply_list(r, &l, rc, &e, "list tasks");
        }
    } else if (tasks) {
        tasks_one(r, &reg, rest[1], nrest == 3 ? rest[2] : NULL);
    } else {
        runs_handle(r, &reg, nrest >= 2 ? rest[1] : NULL, nrest == 3 ? rest[2] : NULL);
    }
    OPENSSL_cleanse(&reg, sizeof(reg));
    return 1;
}
