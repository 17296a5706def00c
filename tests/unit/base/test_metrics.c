/*
 * test_metrics.c -- the Prometheus exposition (base/metrics.h): counters
 * and histograms by label set, label values that cannot break the format,
 * a bounded number of series, collectors' families after the built-in
 * ones.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/metrics.h"

static void reset(void)
{
    metrics_reset();
}

TestSuite(base_metrics, .init = reset, .fini = reset);

static char *render(cf_buf *b)
{
    cf_buf_init(b, 0);
    cr_assert_eq(metrics_render(b, NULL), CF_OK);
    return (char *)b->data;
}

Test(base_metrics, requests_count_by_route_method_and_code)
{
    metrics_http_observe("data", "manifest", "GET", 200, 0.002, 0, 512);
    metrics_http_observe("data", "manifest", "GET", 200, 0.004, 0, 512);
    metrics_http_observe("data", "upload", "PATCH", 202, 0.3, 70000, 0);
    cf_buf b;
    const char *t = render(&b);
    cr_assert(strstr(t, "# TYPE coffer_http_requests_total counter\n") != NULL);
    cr_assert(strstr(t, "coffer_http_requests_total{listener=\"data\",route=\"manifest\","
                        "method=\"GET\",code=\"200\"} 2\n") != NULL,
              "%s", t);
    cr_assert(strstr(t, "coffer_http_received_bytes_total{listener=\"data\",route=\"upload\"} "
                        "70000\n") != NULL);
    cr_assert(strstr(t, "coffer_http_sent_bytes_total{listener=\"data\",route=\"manifest\"} "
                        "1024\n") != NULL);
    /* the histogram: cumulative buckets, +Inf = count, the sum */
    cr_assert(strstr(t, "coffer_http_request_duration_seconds_bucket{listener=\"data\","
                        "route=\"manifest\",le=\"0.001\"} 0\n") != NULL);
    cr_assert(strstr(t, "coffer_http_request_duration_seconds_bucket{listener=\"data\","
                        "route=\"manifest\",le=\"0.005\"} 2\n") != NULL);
    cr_assert(strstr(t, "coffer_http_request_duration_seconds_bucket{listener=\"data\","
                        "route=\"upload\",le=\"0.25\"} 0\n") != NULL);
    cr_assert(strstr(t, "coffer_http_request_duration_seconds_bucket{listener=\"data\","
                        "route=\"upload\",le=\"+Inf\"} 1\n") != NULL);
    cr_assert(strstr(t, "coffer_http_request_duration_seconds_count{listener=\"data\","
                        "route=\"manifest\"} 2\n") != NULL);
    cr_assert(strstr(t, "coffer_http_request_duration_seconds_sum{listener=\"data\","
                        "route=\"manifest\"} 0.006\n") != NULL,
              "%s", t);
    cf_buf_free(&b);
}

Test(base_metrics, label_values_from_callers_cannot_break_the_format)
{
    metrics_http_observe("data", "x\"} 1\ncoffer_evil 9 #", "BREW\n", 418, 0, 0, 0);
    cf_buf b;
    const char *t = render(&b);
    cr_assert_null(strstr(t, "coffer_evil 9"));
    cr_assert(strstr(t, "route=\"x___1_coffer_evil_9__\",method=\"other\",code=\"418\"} 1\n") !=
                  NULL,
              "%s", t);
    cf_buf_free(&b);
}

Test(base_metrics, series_are_bounded)
{
    char route[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(route, sizeof(route), "r%d", i);
        metrics_vault_observe(route, "ok", 0.01);
    }
    cf_buf b;
    const char *t = render(&b);
    size_t series = 0;
    for (const char *p = t; (p = strstr(p, "\ncoffer_vault_requests_total{")) != NULL; p++)
        series++;
    cr_assert_leq(series, 1024);
    cr_assert(strstr(t, "coffer_vault_requests_total{overflow=\"true\"} ") != NULL,
              "what does not fit is counted, not lost");
    cf_buf_free(&b);
}

static void collector(cf_buf *out)
{
    metrics_family(out, "coffer_test_gauge", "gauge", "A test gauge.");
    cf_buf_appendf(out, NULL, "coffer_test_gauge{registry=\"");
    metrics_label_value(out, "a\"b\\c\nd");
    cf_buf_appendf(out, NULL, "\"} 1\n");
}

Test(base_metrics, collectors_write_their_families_with_escaped_labels)
{
    metrics_add_collector(collector);
    metrics_count_db_error("unavailable");
    metrics_count_objects_error("install");
    cf_buf b;
    const char *t = render(&b);
    cr_assert(strstr(t, "coffer_database_errors_total{kind=\"unavailable\"} 1\n") != NULL);
    cr_assert(strstr(t, "coffer_object_store_errors_total{operation=\"install\"} 1\n") != NULL);
    cr_assert(strstr(t, "# HELP coffer_test_gauge A test gauge.\n# TYPE coffer_test_gauge gauge\n"
                        "coffer_test_gauge{registry=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL,
              "%s", t);
    cf_buf_free(&b);
}
