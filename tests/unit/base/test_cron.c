#include <criterion/criterion.h>
#include <string.h>

#include "base/cron.h"

static int64_t next(const char *expr, int64_t after)
{
    cron_expr c;
    cf_err e = {0};
    cr_assert_eq(cron_parse(&c, expr, strlen(expr), &e), CF_OK, "%s: %s", expr, e.msg);
    return cron_next(&c, after);
}

static void refused(const char *expr)
{
    cron_expr c;
    cf_err e = {0};
    cr_assert_eq(cron_parse(&c, expr, strlen(expr), &e), CF_EINVAL, "accepted: '%s'", expr);
    cr_assert(strstr(e.msg, "invalid cron expression") != NULL, "%s", e.msg);
}

/* 2026-12-04 12:10:33 UTC, a Friday */
#define FRI 1796386233

Test(cron, daily_at_three_is_the_next_three_oclock_utc)
{
    cr_assert_eq(next("0 3 * * *", FRI), 1796439600);                /* Sat 2026-12-05 03:00 */
    cr_assert_eq(next("0 3 * * *", 1796439600), 1796439600 + 86400); /* strictly after */
}

Test(cron, every_minute_and_steps)
{
    cr_assert_eq(next("* * * * *", FRI), 1796386260);
    cr_assert_eq(next("*/15 * * * *", FRI), 1796386500);    /* 12:15 */
    cr_assert_eq(next("5-59/20 * * * *", FRI), 1796387100); /* 12:25 */
    cr_assert_eq(next("10,40 12 * * *", FRI), 1796388000);  /* 12:40 */
    cr_assert_eq(next("30/10 * * * *", FRI), 1796387400);   /* 12:30 */
}

Test(cron, day_fields_or_when_both_restricted_and_otherwise_and)
{
    /* the 1st of the month OR a Monday: Monday 2026-12-07 comes first */
    cr_assert_eq(next("0 0 1 * 1", FRI), 1796601600);
    /* Sunday as 0 and as 7 */
    cr_assert_eq(next("0 0 * * 0", FRI), 1796515200); /* Sun 2026-12-06 */
    cr_assert_eq(next("0 0 * * 7", FRI), 1796515200);
    /* the 1st of January 2027, a Friday */
    cr_assert_eq(next("0 0 1 1 *", FRI), 1798761600);
}

Test(cron, a_date_that_never_comes_has_no_next)
{
    cr_assert_eq(next("0 0 30 2 *", FRI), -1);
    cr_assert_eq(next("0 0 29 2 *", FRI), 1835395200); /* 2028-02-29 */
}

Test(cron, refuses_what_is_not_five_strict_fields)
{
    refused("");
    refused("0 3 * *");
    refused("0 3 * * * *");
    refused(" 0 3 * * *");
    refused("0 3 * * * ");
    refused("0  3 * * *");
    refused("60 3 * * *");
    refused("0 24 * * *");
    refused("0 3 0 * *");
    refused("0 3 32 * *");
    refused("0 3 * 13 *");
    refused("0 3 * * 8");
    refused("0 3 * JAN *");
    refused("0 3 * * MON");
    refused("@daily");
    refused("0 3 ? * *");
    refused("0 3 L * *");
    refused("*/0 * * * *");
    refused("5-1 * * * *");
    refused("1, * * * *");
    refused(",1 * * * *");
    refused("1-2-3 * * * *");
    refused("0001 * * * *");
    refused("-1 * * * *");
    refused("*/ * * * *");
    refused("**/2 * * * *");
}

Test(cron, input_need_not_be_nul_terminated)
{
    const char buf[] = "0 3 * * *XYZ";
    cron_expr c;
    cr_assert_eq(cron_parse(&c, buf, 9, NULL), CF_OK);
    cr_assert_eq(cron_parse(&c, buf, 10, NULL), CF_EINVAL);
}
