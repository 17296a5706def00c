/*
 * registry_gc.c -- a registry's retention policy and garbage collection
 * on the management API (docs/control-plane.md "Retention and garbage
 * collection"; the protocol: registry/gc.h).
 *
 * The retention policy is ACR's properties.policies.retentionPolicy
 * {days, status, lastUpdatedTime} of the registry resource, changed by a
 * PATCH of the registry (`az acr config retention update` sends exactly
 * that). ACR has no garbage-collection call of its own (it reclaims
 * behind the scenes); coffer's is an action on the registry in ARM's
 * style, POST .../registries/{name}/garbageCollect with
 * {"dryRun": bool, "gracePeriodSeconds": N}, answering what was (or would
 * be) freed.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "control/validate.h"
#include "registry/gc.h"

#define RETENTION_DAYS_MAX 365
#define GRACE_MAX_S (365LL * 86400)

int registries_policies_parse(http_req *r, const json_t *props, reg_policies *out)
{
    memset(out, 0, sizeof(*out));
    out->days = -1;
    out->enabled = -1;
    const json_t *pol = props ? json_object_get(props, "policies") : NULL;
    if (pol == NULL || json_is_null(pol))
        return 0;
    if (!json_is_object(pol)) {
        mgmt_fail(r, 400, "InvalidRequest", "properties.policies must be an object.");
        return -1;
    }
    const json_t *ret = json_object_get(pol, "retentionPolicy");
    if (ret == NULL || json_is_null(ret))
        return 0;
    if (!json_is_object(ret)) {
        mgmt_fail(r, 400, "InvalidRequest",
                  "properties.policies.retentionPolicy must be an object.");
        return -1;
    }
    const json_t *days = json_object_get(ret, "days");
    const json_t *status = json_object_get(ret, "status");
    if (days && !json_is_null(days)) {
        if (!json_is_integer(days) || json_integer_value(days) < 0 ||
            json_integer_value(days) > RETENTION_DAYS_MAX) {
            mgmt_fail(r, 400, "InvalidRequest",
                      "properties.policies.retentionPolicy.days must be an integer from 0 to %d.",
                      RETENTION_DAYS_MAX);
            return -1;
        }
        out->days = json_integer_value(days);
    }
    if (status && !json_is_null(status)) {
        const char *v = json_is_string(status) ? json_string_value(status) : "";
        if (strcasecmp(v, "enabled") == 0) {
            out->enabled = 1;
        } else if (strcasecmp(v, "disabled") == 0) {
            out->enabled = 0;
        } else {
            mgmt_fail(r, 400, "InvalidRequest",
                      "properties.policies.retentionPolicy.status must be 'enabled' or "
                      "'disabled'.");
            return -1;
        }
    }
    out->given = out->days >= 0 || out->enabled >= 0;
    return 0;
}

cf_code registries_policies_apply(const char *reg_id, const reg_policies *p, cf_err *e)
{
    if (!p->given)
        return CF_OK;
    meta_retention cur;
    cf_code rc = meta_retention_get(reg_id, &cur, e);
    if (rc != CF_OK)
        return rc;
    if (p->days >= 0)
        cur.days = p->days;
    if (p->enabled >= 0)
        cur.enabled = p->enabled;
    cur.updated_at = 0; /* now */
    return meta_retention_set(reg_id, &cur, e);
}

json_t *registries_policies_json(const char *reg_id)
{
    meta_retention ret;
    cf_err e = {0};
    if (meta_retention_get(reg_id, &ret, &e) != CF_OK) {
        cf_log(CF_LOG_WARN, "cannot read the retention policy", "registry", reg_id, "error", e.msg,
               NULL);
        ret.enabled = 0;
        ret.days = META_RETENTION_DAYS_DEFAULT;
        ret.updated_at = 0;
    }
    json_t *rj = json_pack("{s:I,s:s}", "days", (json_int_t)ret.days, "status",
                           ret.enabled ? "enabled" : "disabled");
    if (rj && ret.updated_at) {
        char t[40];
        ctl_rfc3339(t, sizeof(t), ret.updated_at);
        json_object_set_new(rj, "lastUpdatedTime", json_string(t));
    }
    /* ACR's other policies: coffer has none of them on, content trust
     * included (never on a CMK registry) */
    return json_pack("{s:{s:s},s:{s:s,s:s},s:o,s:{s:s}}", "quarantinePolicy", "status", "disabled",
                     "trustPolicy", "type", "Notary", "status", "disabled", "retentionPolicy", rj,
                     "exportPolicy", "status", "enabled");
}

static json_t *report_json(const gc_report *g)
{
    return json_pack("{s:b,s:I,s:{s:s,s:I},s:{s:I,s:I},s:I,s:{s:I,s:I}}", "dryRun", g->dry_run,
                     "gracePeriodSeconds", (json_int_t)g->grace_s, "retentionPolicy", "status",
                     g->retention_enabled ? "enabled" : "disabled", "days",
                     (json_int_t)g->retention_days, "untaggedManifests", "count",
                     (json_int_t)g->manifests, "bytes", (json_int_t)g->manifest_bytes,
                     "repositoryLinks", (json_int_t)g->links, "blobs", "count",
                     (json_int_t)g->blobs, "bytes", (json_int_t)g->bytes);
}

/* How long an operator's run waits for another collection of the
 * registry (the janitor's, another node's) to finish. */
#define GC_WAIT_MS 60000

void registries_gc(http_req *r, const mgmt_scope *s, const char *name)
{
    if (strcmp(r->method, "POST") != 0) {
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                  r->path);
        return;
    }
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    int dry_run = 0;
    int64_t grace = -1;
    const json_t *dr = json_object_get(body, "dryRun");
    const json_t *gp = json_object_get(body, "gracePeriodSeconds");
    if (dr && !json_is_null(dr)) {
        if (!json_is_boolean(dr)) {
            json_decref(body);
            mgmt_fail(r, 400, "InvalidRequest", "dryRun must be true or false.");
            return;
        }
        dry_run = json_is_true(dr);
    }
    if (gp && !json_is_null(gp)) {
        if (!json_is_integer(gp) || json_integer_value(gp) < 0 ||
            json_integer_value(gp) > GRACE_MAX_S) {
            json_decref(body);
            mgmt_fail(r, 400, "InvalidRequest",
                      "gracePeriodSeconds must be an integer from 0 to %lld.", GRACE_MAX_S);
            return;
        }
        grace = json_integer_value(gp);
    }
    json_decref(body);
    meta_registry reg;
    if (registries_lookup(r, s, name, &reg) != 0)
        return;
    char id[META_ID_LEN + 1], rname[64];
    snprintf(id, sizeof(id), "%s", reg.id);
    snprintf(rname, sizeof(rname), "%s", reg.name);
    OPENSSL_cleanse(&reg, sizeof(reg));
    gc_report g;
    cf_err e = {0};
    cf_code rc = gc_registry_collect(id, grace, dry_run, GC_WAIT_MS, &g, &e);
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "garbage collection");
        return;
    }
    if (!dry_run) {
        char m[24], b[24], by[24];
        snprintf(m, sizeof(m), "%lld", (long long)g.manifests);
        snprintf(b, sizeof(b), "%lld", (long long)g.blobs);
        snprintf(by, sizeof(by), "%lld", (long long)g.bytes);
        cf_log(CF_LOG_INFO, "garbage collection run", "request_id", r->request_id, "registry",
               rname, "manifests", m, "blobs", b, "bytes", by, NULL);
    }
    mgmt_reply(r, 200, report_json(&g));
}
