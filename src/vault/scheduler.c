/*
 * scheduler.c -- see scheduler.h.
 */
#define CF_LOG_MOD "vault.scheduler"
#include "vault/scheduler.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/ticker.h"
#include "vault/rotation.h"

struct vault_scheduler {
    vault_app *app;
    cf_ticker *ticker;
};

static void audit_event(vault_app *app, const char *vault, const char *op, const char *key,
                        const char *version, unsigned status)
{
    vault_audit_event ev = {.vault = vault,
                            .object_id = "scheduler",
                            .app_id = "keyvaultd",
                            .operation = op,
                            .key = key,
                            .version = version,
                            .status = status,
                            .request_id = "",
                            .peer = ""};
    (void)vault_audit_write(app->audit, &ev, NULL);
}

static void run_rotations(vault_app *app, int64_t now)
{
    vault_rotation *rows = NULL;
    size_t n = 0;
    cf_err e = {0};
    if (vault_store_rotation_list(app->store, &rows, &n, &e) != CF_OK) {
        cf_log(CF_LOG_ERROR, "rotation scan failed", "error", e.msg, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        vault_keyver kv = {0};
        cf_err ge = {0};
        if (vault_store_version_get(app->store, rows[i].vault, rows[i].name, NULL, 0, &kv, &ge) !=
            CF_OK)
            continue;
        vault_rotation_due d = vault_rotation_decide(rows[i].policy, kv.created, kv.exp, now);
        if (d.notify) {
            int was = 1;
            if (vault_store_version_notified(app->store, kv.key_id, kv.version, &was, NULL) ==
                    CF_OK &&
                !was) {
                cf_log(CF_LOG_WARN, "key near expiry", "vault", kv.vault, "key", kv.name, "version",
                       kv.version, NULL);
                audit_event(app, kv.vault, "KeyNearExpiry", kv.name, kv.version, 200);
            }
        }
        if (d.rotate) {
            vault_keyver nv = {0};
            cf_err re = {0};
            if (vault_api_rotate(app, kv.vault, kv.name, &nv, &re) == CF_OK) {
                cf_log(CF_LOG_INFO, "key rotated by policy", "vault", kv.vault, "key", kv.name,
                       "version", nv.version, NULL);
                audit_event(app, kv.vault, "KeyRotateByPolicy", kv.name, nv.version, 200);
            } else {
                cf_log(CF_LOG_ERROR, "policy rotation failed", "vault", kv.vault, "key", kv.name,
                       "error", re.msg, NULL);
                audit_event(app, kv.vault, "KeyRotateByPolicy", kv.name, "", 500);
            }
            vault_keyver_clear(&nv);
        }
        vault_keyver_clear(&kv);
    }
    vault_rotations_free(rows, n);
}

static void run_purges(vault_app *app, int64_t now)
{
    json_t *due = NULL;
    cf_err e = {0};
    if (vault_store_purge_due(app->store, now, &due, &e) != CF_OK) {
        cf_log(CF_LOG_ERROR, "purge scan failed", "error", e.msg, NULL);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(due, i, row)
    {
        const char *vault = json_string_value(json_array_get(row, 0));
        const char *name = json_string_value(json_array_get(row, 1));
        cf_err pe = {0};
        if (vault_api_purge_key(app, vault, name, &pe) != CF_OK) {
            cf_log(CF_LOG_ERROR, "scheduled purge failed", "key", name, "error", pe.msg, NULL);
            continue;
        }
        cf_log(CF_LOG_INFO, "deleted key purged after retention", "vault", vault, "key", name,
               NULL);
        audit_event(app, vault, "KeyPurgeScheduled", name, "", 204);
    }
    json_decref(due);
    /* whole vaults past their retention, with everything in them */
    due = NULL;
    if (vault_store_vault_purge_due(app->store, now, &due, &e) != CF_OK) {
        cf_log(CF_LOG_ERROR, "vault purge scan failed", "error", e.msg, NULL);
        return;
    }
    json_array_foreach(due, i, row)
    {
        const char *vault = json_string_value(row);
        cf_err pe = {0};
        if (vault_api_purge_vault(app, vault, &pe) != CF_OK) {
            cf_log(CF_LOG_ERROR, "scheduled vault purge failed", "vault", vault, "error", pe.msg,
                   NULL);
            continue;
        }
        cf_log(CF_LOG_INFO, "deleted vault purged after retention", "vault", vault, NULL);
        audit_event(app, vault, "VaultPurgeScheduled", "", "", 200);
    }
    json_decref(due);
}

void vault_scheduler_run_once(vault_app *app, int64_t now)
{
    run_rotations(app, now);
    run_purges(app, now);
}

static void tick(void *arg)
{
    vault_scheduler *s = arg;
    vault_scheduler_run_once(s->app, (int64_t)time(NULL));
}

cf_code vault_scheduler_start(vault_scheduler **out, vault_app *app, cf_err *e)
{
    vault_scheduler *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    s->app = app;
    cf_code rc = cf_ticker_start(&s->ticker, "scheduler", app->cfg->scheduler_interval_s * 1000u, 1,
                                 tick, s, e);
    if (rc != CF_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return CF_OK;
}

void vault_scheduler_stop(vault_scheduler *s)
{
    if (s == NULL)
        return;
    cf_ticker_stop(s->ticker);
    free(s);
}
