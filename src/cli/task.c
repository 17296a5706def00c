/*
 * task.c -- `coffer acr task` and `coffer acr run` (docs/cli.md "acr
 * task", docs/tasks.md): a registry's tasks, shaped like az's.
 *
 *   acr task create -n T -r R --cmd "purge ..." [--schedule "0 3 * * *"] [--status
 * Enabled|Disabled] acr task show|delete|run -n T -r R ; acr task list -r R acr task list-runs -r R
 * [-n T] ; acr task logs -r R --run-id ID acr run -r R --cmd "purge ..."      (a quick run, as `az
 * acr run --cmd`)
 *
 * `task run` and `acr run` wait for the run and print it (runId, status);
 * `task logs` prints the run's log as text, as az does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/verbs.h"

/* The path of the registry's tasks (suffix "/tasks", "/runs", ...),
 * then /name when given. */
static int tpath(cli_ctx *c, const cli_args *a, const char *suffix, const char *name,
                 const char *tail, char *p, size_t n, cli_err *e)
{
    if (cli_registry_path(c, a, "registry", 0, suffix, p, n, e))
        return -1;
    if (name && cli_path_add(p, n, "/", name, e))
        return -1;
    return tail ? cli_path_add(p, n, tail, NULL, e) : 0;
}

static int run_create(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    const char *status = cli_args_get(a, "status"), *sched = cli_args_get(a, "schedule");
    if (status && strcasecmp(status, "Enabled") != 0 && strcasecmp(status, "Disabled") != 0)
        return cli_usage(e,
                         "argument --status: invalid choice '%.32s' (choose from 'Enabled', "
                         "'Disabled')",
                         status);
    if (tpath(c, a, "/tasks", cli_args_get(a, "name"), NULL, p, sizeof(p), e))
        return -1;
    json_t *body = json_pack("{s:{s:s,s:s}}", "properties", "cmd", cli_args_get(a, "cmd"), "status",
                             status ? status : "Enabled");
    if (sched)
        json_object_set_new(json_object_get(body, "properties"), "schedule", json_string(sched));
    int rc = cli_mgmt(c, "PUT", p, body, res, e);
    json_decref(body);
    return rc;
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (tpath(c, a, "/tasks", cli_args_get(a, "name"), NULL, p, sizeof(p), e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (tpath(c, a, "/tasks", cli_args_get(a, "name"), NULL, p, sizeof(p), e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (tpath(c, a, "/tasks", NULL, NULL, p, sizeof(p), e))
        return -1;
    return cli_list_values(c, cli_mgmt, p, res, e);
}

static int run_run(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (tpath(c, a, "/tasks", cli_args_get(a, "name"), "/run", p, sizeof(p), e))
        return -1;
    return cli_mgmt(c, "POST", p, NULL, res, e);
}

static int run_list_runs(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    const char *name = cli_args_get(a, "name");
    if (tpath(c, a, name ? "/tasks" : "/runs", name, name ? "/runs" : NULL, p, sizeof(p), e))
        return -1;
    return cli_list_values(c, cli_mgmt, p, res, e);
}

static int run_logs(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (tpath(c, a, "/runs", cli_args_get(a, "run-id"), "/log", p, sizeof(p), e))
        return -1;
    json_t *j = NULL;
    if (cli_mgmt(c, "GET", p, NULL, &j, e))
        return -1;
    const char *log = json_string_value(json_object_get(j, "log"));
    if (log)
        fputs(log, c->out);
    json_decref(j);
    *res = NULL;
    return 0;
}

int cli_acr_run(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024];
    if (tpath(c, a, "/scheduleRun", NULL, NULL, p, sizeof(p), e))
        return -1;
    json_t *body = json_pack("{s:s}", "cmd", cli_args_get(a, "cmd"));
    int rc = cli_mgmt(c, "POST", p, body, res, e);
    json_decref(body);
    return rc;
}

/* Appends " NAME 'VALUE'" to cmd: quoted so the task's splitter reads one
 * word (a value with both kinds of quote cannot be said). */
static int add_word(char *cmd, size_t cap, const char *name, const char *v, cli_err *e)
{
    if (v == NULL)
        return 0;
    char q = strchr(v, '\'') ? '"' : '\'';
    if (strchr(v, q))
        return cli_usage(e, "argument %s: a value cannot hold both ' and \"", name);
    size_t used = strlen(cmd);
    if ((size_t)snprintf(cmd + used, cap - used, " %s %c%s%c", name, q, v, q) >= cap - used)
        return cli_usage(e, "argument %s: too long", name);
    return 0;
}

int cli_acr_import(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    char p[1024], cmd[2048] = "import";
    const char *user = cli_args_get(a, "username"), *pw = cli_args_get(a, "password");
    if ((user == NULL) != (pw == NULL))
        return cli_usage(e, "give --username and --password together");
    int rc = add_word(cmd, sizeof(cmd), "--source", cli_args_get(a, "source"), e) ||
             add_word(cmd, sizeof(cmd), "--image", cli_args_get(a, "image"), e) ||
             add_word(cmd, sizeof(cmd), "--username", user, e) ||
             add_word(cmd, sizeof(cmd), "--password", pw, e);
    if (rc == 0 && cli_registry_path(c, a, "name", 0, "/scheduleRun", p, sizeof(p), e))
        rc = -1;
    json_t *body = rc == 0 ? json_pack("{s:s}", "cmd", cmd) : NULL;
    memset(cmd, 0, sizeof(cmd));
    if (rc != 0)
        return -1;
    rc = cli_mgmt(c, "POST", p, body, res, e);
    json_t *v = json_object_get(body, "cmd");
    if (json_is_string(v))
        memset((char *)json_string_value(v), 0, json_string_length(v));
    json_decref(body);
    return rc;
}

const cli_opt cli_acr_import_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"source", NULL, CLI_OPT_VALUE, 1, "HOST/REPO:TAG"},
    {"image", "t", CLI_OPT_VALUE, 0, "REPO:TAG"},
    {"username", "u", CLI_OPT_VALUE, 0, "USER"},
    {"password", "p", CLI_OPT_VALUE, 0, "PASSWORD"},
    {0},
};

const cli_opt cli_acr_run_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"cmd", NULL, CLI_OPT_VALUE, 1, "COMMAND"},
    {0},
};
static const cli_opt create_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "TASK"},
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"cmd", NULL, CLI_OPT_VALUE, 1, "COMMAND"},
    {"schedule", NULL, CLI_OPT_VALUE, 0, "CRON"},
    {"status", NULL, CLI_OPT_VALUE, 0, "Enabled|Disabled"},
    {0},
};
static const cli_opt task_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "TASK"},
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt list_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {0},
};
static const cli_opt runs_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"name", "n", CLI_OPT_VALUE, 0, "TASK"},
    {0},
};
static const cli_opt logs_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"run-id", NULL, CLI_OPT_VALUE, 1, "RUN_ID"},
    {0},
};

static const cli_column task_table[] = {
    {"Name", "name"},
    {"Status", "properties.status"},
    {"Schedule", "properties.schedule"},
    {"NextRunTime", "properties.nextRunTime"},
    {0},
};
static const cli_column run_table[] = {
    {"RunId", "runId"},
    {"Task", "task"},
    {"Status", "status"},
    {"Trigger", "trigger"},
    {"Started", "createTime"},
    {"Finished", "finishTime"},
    {0},
};

const cli_verb cli_acr_task_verbs[] = {
    {"create",
     "Create (or replace) a task running a built-in command (purge), on a cron schedule (5 "
     "fields, UTC) when --schedule is given.",
     create_opts, run_create,
     "coffer acr task create -n nightly-purge -r myregistry --schedule \"0 3 * * *\" --cmd "
     "\"acr purge --filter 'app:.*' --ago 30d --untagged\"",
     NULL},
    {"show", "Show a task.", task_opts, run_show,
     "coffer acr task show -n nightly-purge -r myregistry", NULL},
    {"list", "List a registry's tasks.", list_opts, run_list, "coffer acr task list -r myregistry",
     task_table},
    {"delete", "Delete a task (its runs' logs stay until they expire).", task_opts, run_delete,
     "coffer acr task delete -n nightly-purge -r myregistry", NULL},
    {"run", "Run a task now and wait for the run (one run per task at a time).", task_opts, run_run,
     "coffer acr task run -n nightly-purge -r myregistry", NULL},
    {"list-runs", "List a registry's runs (of one task with -n), newest first.", runs_opts,
     run_list_runs, "coffer acr task list-runs -r myregistry -o table", run_table},
    {"logs",
     "Print a run's log (kept 24 hours on a registry with a customer-managed key, 30 days "
     "otherwise).",
     logs_opts, run_logs, "coffer acr task logs -r myregistry --run-id cf0123456789", NULL},
    {0},
};
