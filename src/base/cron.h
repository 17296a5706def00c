/*
 * cron.h -- the schedule of a task (docs/tasks.md "Schedules"): a cron
 * expression of exactly five fields, in UTC, as ACR tasks' timer triggers
 * and crontab(5) write them:
 *
 *   minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12)  day-of-week (0-7, 0 and 7
 * Sunday)
 *
 * A field is "*" or a comma list of items; an item is N, N-M, "*" / S,
 * N/S or N-M/S (S >= 1). Nothing else is accepted: no names (JAN, MON),
 * no "@daily" macros, no "?", "L", "W" or "#", no seconds field, no
 * leading, trailing or doubled spaces (one space or tab between fields),
 * at most CRON_MAX_LEN bytes. As in Vixie cron, when both day fields are
 * restricted a day matches either; when one is "*", only the other counts.
 *
 * Parsed through a (pointer, length) cursor: the input need not be
 * NUL-terminated (tests/fuzz/fuzz_cron.c).
 */
#ifndef CF_BASE_CRON_H
#define CF_BASE_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CRON_MAX_LEN 256

typedef struct cron_expr {
    uint64_t minutes; /* bit m: minute m */
    uint32_t hours;   /* bit h */
    uint32_t mdays;   /* bit d (1..31) */
    uint16_t months;  /* bit m (1..12) */
    uint8_t wdays;    /* bit d (0..6, Sunday 0) */
    int mday_star, wday_star;
} cron_expr;

/* CF_EINVAL with a message naming the field when s is not a valid
 * expression. */
cf_code cron_parse(cron_expr *out, const char *s, size_t len, cf_err *e);

/* The first minute strictly after `after` (unix seconds, UTC) that the
 * expression matches, as unix seconds; -1 when none comes within eight
 * years (a date that never exists: "0 0 30 2 *"). */
int64_t cron_next(const cron_expr *c, int64_t after);

#endif
