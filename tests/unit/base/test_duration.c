/*
 * test_duration.c -- durations as operators write them (base/duration.h):
 * `acr gc --grace` and cofferd's --gc-grace.
 */
#include <criterion/criterion.h>

#include "base/duration.h"

Test(base_duration, units_and_bare_seconds)
{
    int64_t s = -1;
    cr_assert_eq(cf_duration_parse("0s", 100, &s), 0);
    cr_assert_eq(s, 0);
    cr_assert_eq(cf_duration_parse("90", 100, &s), 0);
    cr_assert_eq(s, 90);
    cr_assert_eq(cf_duration_parse("15m", 86400, &s), 0);
    cr_assert_eq(s, 900);
    cr_assert_eq(cf_duration_parse("24h", 86400, &s), 0);
    cr_assert_eq(s, 86400);
    cr_assert_eq(cf_duration_parse("7d", 7 * 86400, &s), 0);
    cr_assert_eq(s, 7 * 86400);
}

Test(base_duration, refuses_malformed_and_too_long)
{
    int64_t s = 42;
    const char *bad[] = {"", "s", "-1s", "1.5h", "1 h", "1hh", "1w", "h1", "+5", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(cf_duration_parse(bad[i], 86400, &s), -1, "%s", bad[i]);
    cr_assert_eq(cf_duration_parse(NULL, 86400, &s), -1);
    cr_assert_eq(cf_duration_parse("2d", 86400, &s), -1, "longer than the maximum");
    cr_assert_eq(cf_duration_parse("99999999999999999999999", 86400, &s), -1, "no overflow");
    cr_assert_eq(s, 42, "untouched on refusal");
}
