/*
 * cron.c -- see cron.h. Each field becomes a bit set; cron_next walks
 * forward day by day until a day matches, then minute by minute within
 * it (at most 1440 steps a day, 8 years of days), all in UTC through
 * gmtime_r / timegm, so no time zone or DST is ever involved.
 */
#include "base/cron.h"

#include <time.h>

typedef struct field {
    const char *name;
    unsigned lo, hi;
} field;

static const field FIELDS[5] = {
    {"minute", 0, 59}, {"hour", 0, 23},       {"day-of-month", 1, 31},
    {"month", 1, 12},  {"day-of-week", 0, 7},
};

/* A decimal number of at most 3 digits at s[*i]; -1 when none. */
static int number(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    int v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - start < 3)
        v = v * 10 + (s[(*i)++] - '0');
    if (*i == start || (*i < len && s[*i] >= '0' && s[*i] <= '9'))
        return -1;
    return v;
}

/* One field s[0..len) into *bits. */
static cf_code parse_field(uint64_t *bits, const field *f, const char *s, size_t len, int *star,
                           cf_err *e)
{
    *bits = 0;
    *star = len == 1 && s[0] == '*';
    size_t i = 0;
    for (;;) {
        unsigned lo, hi, step = 1;
        if (i < len && s[i] == '*') {
            lo = f->lo;
            hi = f->hi;
            i++;
        } else {
            int a = number(s, len, &i);
            if (a < 0)
                goto bad;
            lo = hi = (unsigned)a;
            if (i < len && s[i] == '-') {
                i++;
                int b = number(s, len, &i);
                if (b < 0)
                    goto bad;
                hi = (unsigned)b;
            }
            if (lo < f->lo || hi > f->hi || lo > hi)
                return cf_err_set(e, CF_EINVAL,
                                  "invalid cron expression: %s value out of range %u-%u", f->name,
                                  f->lo, f->hi);
            if (i < len && s[i] == '/' && lo == hi)
                hi = f->hi; /* N/S: from N to the end */
        }
        if (i < len && s[i] == '/') {
            i++;
            int st = number(s, len, &i);
            if (st < 1)
                goto bad;
            step = (unsigned)st;
        }
        for (unsigned v = lo; v <= hi; v += step)
            *bits |= (uint64_t)1 << v;
        if (i == len)
            return CF_OK;
        if (s[i] != ',' || ++i == len)
            goto bad;
    }
bad:
    return cf_err_set(e, CF_EINVAL, "invalid cron expression: malformed %s field", f->name);
}

cf_code cron_parse(cron_expr *out, const char *s, size_t len, cf_err *e)
{
    *out = (cron_expr){0};
    if (len == 0 || len > CRON_MAX_LEN)
        return cf_err_set(e, CF_EINVAL,
                          "invalid cron expression: it must be 5 fields (minute hour "
                          "day-of-month month day-of-week), at most %d characters",
                          CRON_MAX_LEN);
    size_t i = 0;
    uint64_t bits[5];
    int star[5];
    for (int k = 0; k < 5; k++) {
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i == start || (k < 4 && i == len) || (k == 4 && i != len))
            return cf_err_set(e, CF_EINVAL,
                              "invalid cron expression: it must be exactly 5 fields separated "
                              "by one space (minute hour day-of-month month day-of-week, UTC)");
        if (parse_field(&bits[k], &FIELDS[k], s + start, i - start, &star[k], e) != CF_OK)
            return e ? e->code : CF_EINVAL;
        if (k < 4)
            i++; /* the one separator */
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    out->mday_star = star[2];
    out->wday_star = star[4];
    return CF_OK;
}

static int day_matches(const cron_expr *c, const struct tm *t)
{
    if (!(c->months & (1u << (t->tm_mon + 1))))
        return 0;
    int md = (c->mdays >> t->tm_mday) & 1, wd = (c->wdays >> t->tm_wday) & 1;
    if (c->mday_star || c->wday_star)
        return md && wd;
    return md || wd;
}

int64_t cron_next(const cron_expr *c, int64_t after)
{
    if (c->minutes == 0 || c->hours == 0)
        return -1;
    time_t t = (time_t)(after - (after % 60 + 60) % 60 + 60); /* the next whole minute */
    struct tm tm;
    for (int days = 0; days < 8 * 366 + 1; days++) {
        if (gmtime_r(&t, &tm) == NULL)
            return -1;
        if (day_matches(c, &tm)) {
            for (int h = tm.tm_hour; h < 24; h++) {
                if (!(c->hours & (1u << h)))
                    continue;
                for (int m = h == tm.tm_hour ? tm.tm_min : 0; m < 60; m++)
                    if (c->minutes & ((uint64_t)1 << m)) {
                        struct tm r = tm;
                        r.tm_hour = h;
                        r.tm_min = m;
                        r.tm_sec = 0;
                        return (int64_t)timegm(&r);
                    }
            }
        }
        /* midnight of the next day */
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_mday++;
        t = timegm(&tm);
    }
    return -1;
}
