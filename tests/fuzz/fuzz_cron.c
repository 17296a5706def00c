/*
 * fuzz_cron.c -- cron_parse (base/cron.h) on arbitrary bytes (no NUL
 * assumed), then cron_next from a fixed and a fuzzed instant.
 * Invariants: an accepted expression has at least one bit in each field
 * within its range; cron_next returns -1 or a whole minute strictly after
 * its argument, which it matches (its minute and hour bits are set).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cron_expr c;
    if (cron_parse(&c, (const char *)data, size, NULL) != CF_OK)
        return 0;
    if (size > CRON_MAX_LEN || c.minutes == 0 || c.minutes >> 60 || c.hours == 0 || c.hours >> 24 ||
        (c.mdays & 1) || c.mdays == 0 || (c.months & 1) || c.months >> 13 || c.months == 0 ||
        c.wdays == 0 || c.wdays >> 7)
        abort();
    int64_t after = 1796386233;
    for (size_t i = 0; i < size && i < 4; i++)
        after += (int64_t)data[i] * 86400 * 7;
    int64_t n = cron_next(&c, after);
    if (n == -1)
        return 0;
    if (n <= after || n % 60 != 0)
        abort();
    time_t t = (time_t)n;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || !(c.minutes & ((uint64_t)1 << tm.tm_min)) ||
        !(c.hours & (1u << tm.tm_hour)) || !(c.months & (1u << (tm.tm_mon + 1))))
        abort();
    return 0;
}
