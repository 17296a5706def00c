/*
 * rotation.c -- see rotation.h.
 */
#include "vault/rotation.h"

#include <string.h>
#include <strings.h>

#define DUR_MAX_S (100LL * 365 * 86400)

cf_code vault_duration_parse(const char *s, int64_t *out_s, cf_err *e)
{
    if (s == NULL || s[0] != 'P' || s[1] == '\0' || strlen(s) > 64)
        return cf_err_set(e, CF_EINVAL, "'%.64s' is not an ISO 8601 duration", s ? s : "");
    const char *p = s + 1;
    int in_time = 0, any = 0;
    int64_t total = 0;
    /* units must appear in order; track the last one seen */
    static const char DATE_UNITS[] = "YMWD", TIME_UNITS[] = "HMS";
    int last = -1;
    while (*p) {
        if (*p == 'T') {
            if (in_time || p[1] == '\0')
                goto bad;
            in_time = 1;
            last = -1;
            p++;
            continue;
        }
        if (*p < '0' || *p > '9')
            goto bad;
        int64_t n = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 9)
                goto bad;
            n = n * 10 + (*p - '0');
            p++;
        }
        const char *units = in_time ? TIME_UNITS : DATE_UNITS;
        const char *u = *p ? strchr(units, *p) : NULL;
        if (u == NULL || (int)(u - units) <= last)
            goto bad;
        last = (int)(u - units);
        int64_t mult;
        if (!in_time)
            mult = *p == 'Y'   ? 365 * 86400LL
                   : *p == 'M' ? 30 * 86400LL
                   : *p == 'W' ? 7 * 86400LL
                               : 86400LL;
        else
            mult = *p == 'H' ? 3600 : *p == 'M' ? 60 : 1;
        total += n * mult;
        if (total > DUR_MAX_S)
            goto bad;
        any = 1;
        p++;
    }
    if (!any)
        goto bad;
    *out_s = total;
    return CF_OK;
bad:
    return cf_err_set(e, CF_EINVAL, "'%.64s' is not an ISO 8601 duration", s);
}

static cf_code parse_action(const json_t *la, size_t idx, unsigned min_s, int *is_rotate,
                            json_t **out, cf_err *e)
{
    if (!json_is_object(la))
        return cf_err_set(e, CF_EINVAL, "lifetimeActions[%zu] must be an object", idx);
    const json_t *trig = json_object_get(la, "trigger");
    const json_t *act = json_object_get(la, "action");
    const char *type = json_string_value(json_object_get(act, "type"));
    if (!json_is_object(trig) || !json_is_object(act) || type == NULL)
        return cf_err_set(e, CF_EINVAL, "lifetimeActions[%zu] needs a trigger and an action type",
                          idx);
    if (strcasecmp(type, "rotate") == 0)
        *is_rotate = 1;
    else if (strcasecmp(type, "notify") == 0)
        *is_rotate = 0;
    else
        return cf_err_set(e, CF_EINVAL,
                          "lifetimeActions[%zu]: action type must be Rotate or Notify", idx);
    const json_t *tac = json_object_get(trig, "timeAfterCreate");
    const json_t *tbe = json_object_get(trig, "timeBeforeExpiry");
    if (json_is_null(tac))
        tac = NULL;
    if (json_is_null(tbe))
        tbe = NULL;
    if ((tac == NULL) == (tbe == NULL))
        return cf_err_set(e, CF_EINVAL,
                          "lifetimeActions[%zu]: exactly one of timeAfterCreate, timeBeforeExpiry",
                          idx);
    if (tac && !*is_rotate)
        return cf_err_set(e, CF_EINVAL,
                          "lifetimeActions[%zu]: timeAfterCreate applies to Rotate only", idx);
    const json_t *d = tac ? tac : tbe;
    int64_t secs;
    cf_code rc = vault_duration_parse(json_string_value(d), &secs, e);
    if (rc != CF_OK)
        return rc;
    if (secs < (int64_t)min_s)
        return cf_err_set(e, CF_EINVAL,
                          "lifetimeActions[%zu]: the trigger must be at least %u seconds "
                          "(%u days)",
                          idx, min_s, min_s / 86400);
    *out = json_pack("{s:{s:s},s:{s:s}}", "trigger", tac ? "timeAfterCreate" : "timeBeforeExpiry",
                     json_string_value(d), "action", "type", *is_rotate ? "Rotate" : "Notify");
    return *out ? CF_OK : cf_err_set(e, CF_ENOMEM, "out of memory");
}

cf_code vault_rotation_normalize(json_t **out, const json_t *in, unsigned min_s, cf_err *e)
{
    if (!json_is_object(in))
        return cf_err_set(e, CF_EINVAL, "the rotation policy must be an object");
    const json_t *las = json_object_get(in, "lifetimeActions");
    const json_t *attrs = json_object_get(in, "attributes");
    if (las != NULL && !json_is_null(las) && !json_is_array(las))
        return cf_err_set(e, CF_EINVAL, "lifetimeActions must be an array");
    if (json_array_size(las) > 2)
        return cf_err_set(e, CF_EINVAL, "at most two lifetimeActions: one Rotate, one Notify");
    json_t *res = json_object();
    json_t *arr = json_array();
    json_t *oattrs = json_object();
    json_object_set_new(res, "lifetimeActions", arr);
    json_object_set_new(res, "attributes", oattrs);
    int seen_rotate = 0, seen_notify = 0;
    size_t i;
    json_t *la;
    cf_code rc = CF_OK;
    json_array_foreach((json_t *)las, i, la)
    {
        int is_rotate = 0;
        json_t *a = NULL;
        if ((rc = parse_action(la, i, min_s, &is_rotate, &a, e)) != CF_OK)
            goto out;
        if ((is_rotate && seen_rotate) || (!is_rotate && seen_notify)) {
            json_decref(a);
            rc = cf_err_set(e, CF_EINVAL, "at most one Rotate and one Notify action");
            goto out;
        }
        seen_rotate |= is_rotate;
        seen_notify |= !is_rotate;
        json_array_append_new(arr, a);
    }
    if (attrs != NULL && !json_is_null(attrs)) {
        if (!json_is_object(attrs)) {
            rc = cf_err_set(e, CF_EINVAL, "attributes must be an object");
            goto out;
        }
        const json_t *et = json_object_get(attrs, "expiryTime");
        if (et != NULL && !json_is_null(et)) {
            int64_t secs;
            if ((rc = vault_duration_parse(json_string_value(et), &secs, e)) != CF_OK)
                goto out;
            if (secs < 4 * (int64_t)min_s) {
                rc = cf_err_set(e, CF_EINVAL, "expiryTime must be at least %u days",
                                4 * min_s / 86400);
                goto out;
            }
            json_object_set_new(oattrs, "expiryTime", json_string(json_string_value(et)));
        }
    }
out:
    if (rc != CF_OK) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return CF_OK;
}

json_t *vault_rotation_default(void)
{
    return json_pack("{s:[{s:{s:s},s:{s:s}}],s:{}}", "lifetimeActions", "trigger",
                     "timeBeforeExpiry", "P30D", "action", "type", "Notify", "attributes");
}

int64_t vault_rotation_expiry(const json_t *policy)
{
    const char *et =
        json_string_value(json_object_get(json_object_get(policy, "attributes"), "expiryTime"));
    int64_t s = 0;
    if (et == NULL || vault_duration_parse(et, &s, NULL) != CF_OK)
        return 0;
    return s;
}

vault_rotation_due vault_rotation_decide(const json_t *policy, int64_t created, int64_t exp,
                                         int64_t now)
{
    vault_rotation_due d = {0, 0};
    size_t i;
    json_t *la;
    json_array_foreach(json_object_get(policy, "lifetimeActions"), i, la)
    {
        const json_t *trig = json_object_get(la, "trigger");
        const char *type =
            json_string_value(json_object_get(json_object_get(la, "action"), "type"));
        const char *tac = json_string_value(json_object_get(trig, "timeAfterCreate"));
        const char *tbe = json_string_value(json_object_get(trig, "timeBeforeExpiry"));
        int64_t secs;
        int fire = 0;
        if (tac && vault_duration_parse(tac, &secs, NULL) == CF_OK)
            fire = now >= created + secs;
        else if (tbe && exp > 0 && vault_duration_parse(tbe, &secs, NULL) == CF_OK)
            fire = now >= exp - secs;
        if (!fire || type == NULL)
            continue;
        if (strcasecmp(type, "rotate") == 0)
            d.rotate = 1;
        else if (strcasecmp(type, "notify") == 0)
            d.notify = 1;
    }
    return d;
}
