/*
 * test_tasks_cmd.c -- purge's --filter expressions: what users write is
 * accepted; what would make glibc's regcomp take gigabytes or minutes
 * (stacked or nested repetitions, repetitions of what matches nothing,
 * found by fuzz_task_cmd) and what would escape the anchoring are refused
 * at once, with the reason.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "registry/tasks.h"

static cf_code check(const char *filter, cf_err *e)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "acr purge --filter '%s' --ago 30d", filter);
    const char *kind = NULL;
    memset(e, 0, sizeof(*e));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cf_code rc = tasks_cmd_check(cmd, &kind, 1, e);
    clock_gettime(CLOCK_MONOTONIC, &b);
    /* a guard against a hang, not a speed assertion: each of these
     * compiles in well under a millisecond, the unbounded ones took
     * 14 s and more */
    cr_assert_lt(b.tv_sec - a.tv_sec, 5, "'%s' took %ld s", filter, (long)(b.tv_sec - a.tv_sec));
    if (rc == CF_OK)
        cr_assert_str_eq(kind, "purge");
    return rc;
}

Test(tasks_cmd, the_filters_users_write_are_accepted)
{
    static const char *ok[] = {
        "library/.*:.*",
        "app:v[0-9]+\\.[0-9]+(-rc[0-9]+)?",
        "[a-z]+(/[a-z0-9._-]+)*:[a-zA-Z0-9_.-]{1,128}",
        "team-(a|b|c)/.*:(latest|stable|nightly-[0-9]{8})",
        "(x[a-z]*[0-9]?){100}:.*",
        "((a+)+)+:.*",
        "[]a^-]+:[^/]*",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cf_err e;
        cr_assert_eq(check(ok[i], &e), CF_OK, "'%s': %s", ok[i], e.msg);
    }
}

Test(tasks_cmd, expressions_regcomp_cannot_bound_are_refused_with_the_reason)
{
    static const struct {
        const char *filter, *why;
    } bad[] = {
        /* fuzz_task_cmd's out-of-memory: 1.2 GB in regcomp's tree */
        {"a/b+++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++:(x|y)+",
         "a repetition follows a repetition"},
        /* its timeout: the stray ')' ends the ^( ) wrapper, then '()+++++' */
        {")+++++m+++++++a+++/b:x", "a ')' closes no '('"},
        {"a)|(.*:x", "a ')' closes no '('"},
        {"x:()+", "can match the empty string"},
        {"(a?)+:x", "can match the empty string"},
        {"(a|b?)*:x", "can match the empty string"},
        {"(a{0,3})+:x", "can match the empty string"},
        {"(^)*:x", "can match the empty string"},
        {"a**:x", "a repetition follows a repetition"},
        {"(((a{50}){50}){50}):x", "too complex"},
        {"((a?b){0000000000001000}){1000}:x", "too complex"},
        {"(a)\\1:x", "back-references"},
        {"((((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))):x", "nested"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_err e;
        cr_assert_eq(check(bad[i].filter, &e), CF_EINVAL, "'%s' accepted", bad[i].filter);
        cr_assert(strstr(e.msg, bad[i].why) != NULL, "'%s': '%s' does not say '%s'", bad[i].filter,
                  e.msg, bad[i].why);
    }
}

Test(tasks_cmd, a_malformed_expression_is_regcomps_error)
{
    cf_err e;
    cr_assert_eq(check("a{1:x", &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "invalid repository expression") != NULL, "%s", e.msg);
    cr_assert_eq(check("x:[a-", &e), CF_EINVAL);
    cr_assert(strstr(e.msg, "invalid tag expression") != NULL, "%s", e.msg);
}
