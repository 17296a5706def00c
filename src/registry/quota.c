/*
 * quota.c -- a registry's storage figure and limit (see quota.h).
 *
 * The figure is one aggregate over the registry's blob rows (count, sum of
 * sizes, sum of whole segments), turned into sealed bytes with the sealed
 * format's own size function, so it can never drift from what a counter
 * kept beside every insert and delete would have to track. It is read
 * only for registries that have a limit, or when asked (show-usage).
 */
#define CF_LOG_MOD "quota"
#include "registry/quota.h"

#include <inttypes.h>
#include <stdio.h>

#include "crypto/seal.h"

#define SEGMENT ((int64_t)1 << SEAL_DEFAULT_LOG2_SEGMENT)

int64_t quota_sealed_total(const meta_usage *u)
{
    /* seal_sealed_size(n) = n + per_object + (n / SEGMENT) * per_segment */
    int64_t per_object = (int64_t)seal_sealed_size(0, 0);
    int64_t per_segment = (int64_t)seal_sealed_size((uint64_t)SEGMENT, 0) - SEGMENT - per_object;
    return u->bytes + u->blobs * per_object + u->full_segments * per_segment;
}

cf_code quota_usage_get(quota_usage *out, const char *registry_id, cf_err *e)
{
    meta_usage u;
    cf_code rc = meta_registry_usage(&u, registry_id, SEGMENT, e);
    if (rc != CF_OK)
        return rc;
    out->objects = u.blobs;
    out->bytes = u.bytes;
    out->sealed = quota_sealed_total(&u);
    return CF_OK;
}

/* 1.5 GiB, 300 MiB, 12 KiB, 100 bytes: for messages */
static void human(char *out, size_t n, int64_t v)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (v < 1024) {
        snprintf(out, n, "%" PRId64 " bytes", v);
        return;
    }
    double d = (double)v;
    size_t u = 0;
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(out, n, "%.1f %s", d, units[u]);
}

int64_t quota_sealed_size(int64_t n)
{
    return (int64_t)seal_sealed_size(n > 0 ? (uint64_t)n : 0, 0);
}

cf_code quota_deny(const meta_registry *reg, int64_t used, int64_t adding, cf_err *e)
{
    char h_used[32], h_limit[32], add[48] = "";
    human(h_used, sizeof(h_used), used);
    human(h_limit, sizeof(h_limit), reg->storage_limit);
    if (adding > 0)
        snprintf(add, sizeof(add), ", this push adds %" PRId64, adding);
    return cf_err_set(e, CF_EDENIED,
                      "storage limit reached: registry %s stores %" PRId64 " of its %" PRId64
                      " bytes (%s of %s)%s; delete images or raise the limit",
                      reg->name, used, reg->storage_limit, h_used, h_limit, add);
}

cf_code quota_room(int64_t *room, const meta_registry *reg, int64_t adding, cf_err *e)
{
    if (room)
        *room = INT64_MAX;
    if (reg->storage_limit <= 0)
        return CF_OK;
    quota_usage u;
    cf_code rc = quota_usage_get(&u, reg->id, e);
    if (rc != CF_OK)
        return rc;
    int64_t left = reg->storage_limit - u.sealed;
    if (room)
        *room = left;
    if (adding > 0 ? adding <= left : left > 0)
        return CF_OK;
    return quota_deny(reg, u.sealed, adding, e);
}
