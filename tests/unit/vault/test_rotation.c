/*
 * test_rotation.c -- ISO 8601 durations and rotation policy rules
 * (src/vault/rotation.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "vault/rotation.h"

#define DAY 86400LL

Test(vault_rotation, parses_iso8601_durations)
{
    int64_t s = 0;
    cr_assert_eq(vault_duration_parse("P30D", &s, NULL), CF_OK);
    cr_assert_eq(s, 30 * DAY);
    cr_assert_eq(vault_duration_parse("P2Y", &s, NULL), CF_OK);
    cr_assert_eq(s, 730 * DAY);
    cr_assert_eq(vault_duration_parse("P1M2W", &s, NULL), CF_OK);
    cr_assert_eq(s, 44 * DAY);
    cr_assert_eq(vault_duration_parse("PT1H30M5S", &s, NULL), CF_OK);
    cr_assert_eq(s, 5405);
    cr_assert_eq(vault_duration_parse("P1DT1S", &s, NULL), CF_OK);
    cr_assert_eq(s, DAY + 1);
}

Test(vault_rotation, rejects_malformed_durations)
{
    int64_t s = 0;
    const char *bad[] = {"",     "P",     "30D",  "PT",    "P1DT",         "PD",   "P1H",
                         "PT1D", "P1D1Y", "P-1D", "P1.5D", "P9999999999D", "P1D ", "p1d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(vault_duration_parse(bad[i], &s, NULL), CF_EINVAL, "accepted '%s'", bad[i]);
}

static cf_code norm(const char *text, unsigned min_s, json_t **out, cf_err *e)
{
    json_t *in = json_loads(text, 0, NULL);
    cr_assert_not_null(in);
    cf_code rc = vault_rotation_normalize(out, in, min_s, e);
    json_decref(in);
    return rc;
}

Test(vault_rotation, normalizes_action_type_spelling)
{
    json_t *p = NULL;
    cf_err e = {0};
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                      "\"action\":{\"type\":\"rotate\"}},{\"trigger\":{\"timeBeforeExpiry\":"
                      "\"P30D\"},\"action\":{\"type\":\"NOTIFY\"}}],\"attributes\":"
                      "{\"expiryTime\":\"P2Y\"}}",
                      7 * DAY, &p, &e),
                 CF_OK, "%s", e.msg);
    char *s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_str_eq(s, "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                        "\"action\":{\"type\":\"Rotate\"}},{\"trigger\":{\"timeBeforeExpiry\":"
                        "\"P30D\"},\"action\":{\"type\":\"Notify\"}}],\"attributes\":"
                        "{\"expiryTime\":\"P2Y\"}}");
    free(s);
    cr_assert_eq(vault_rotation_expiry(p), 730 * DAY);
    json_decref(p);
}

Test(vault_rotation, enforces_the_azure_rules)
{
    json_t *p = NULL;
    cf_err e = {0};
    /* two rotate actions */
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                      "\"action\":{\"type\":\"Rotate\"}},{\"trigger\":{\"timeAfterCreate\":"
                      "\"P80D\"},\"action\":{\"type\":\"Rotate\"}}]}",
                      7 * DAY, &p, &e),
                 CF_EINVAL);
    cf_err_clear(&e);
    /* timeAfterCreate on notify */
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                      "\"action\":{\"type\":\"Notify\"}}]}",
                      7 * DAY, &p, &e),
                 CF_EINVAL);
    cf_err_clear(&e);
    /* both triggers */
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\","
                      "\"timeBeforeExpiry\":\"P10D\"},\"action\":{\"type\":\"Rotate\"}}]}",
                      7 * DAY, &p, &e),
                 CF_EINVAL);
    cf_err_clear(&e);
    /* shorter than the minimum of 7 days */
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P6D\"},"
                      "\"action\":{\"type\":\"Rotate\"}}]}",
                      7 * DAY, &p, &e),
                 CF_EINVAL);
    cf_err_clear(&e);
    /* expiryTime under 28 days */
    cr_assert_eq(
        norm("{\"lifetimeActions\":[],\"attributes\":{\"expiryTime\":\"P27D\"}}", 7 * DAY, &p, &e),
        CF_EINVAL);
    cf_err_clear(&e);
    /* unknown action */
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                      "\"action\":{\"type\":\"Delete\"}}]}",
                      7 * DAY, &p, &e),
                 CF_EINVAL);
    /* with a lower configured minimum, short triggers pass (tests, demos) */
    cr_assert_eq(norm("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"PT2S\"},"
                      "\"action\":{\"type\":\"Rotate\"}}]}",
                      1, &p, NULL),
                 CF_OK);
    json_decref(p);
}

Test(vault_rotation, decides_rotate_after_create_and_notify_before_expiry)
{
    json_t *p = json_loads("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                           "\"action\":{\"type\":\"Rotate\"}},{\"trigger\":{\"timeBeforeExpiry\":"
                           "\"P30D\"},\"action\":{\"type\":\"Notify\"}}]}",
                           0, NULL);
    int64_t created = 1000000000;
    vault_rotation_due d = vault_rotation_decide(p, created, 0, created + 89 * DAY);
    cr_assert_eq(d.rotate, 0);
    cr_assert_eq(d.notify, 0);
    d = vault_rotation_decide(p, created, 0, created + 90 * DAY);
    cr_assert_eq(d.rotate, 1);
    cr_assert_eq(d.notify, 0, "no exp: nothing to notify about");
    int64_t exp = created + 365 * DAY;
    d = vault_rotation_decide(p, created, exp, exp - 31 * DAY);
    cr_assert_eq(d.notify, 0);
    d = vault_rotation_decide(p, created, exp, exp - 30 * DAY);
    cr_assert_eq(d.notify, 1);
    json_decref(p);
}

Test(vault_rotation, default_policy_is_notify_30_days_before_expiry)
{
    json_t *p = vault_rotation_default();
    json_t *la = json_array_get(json_object_get(p, "lifetimeActions"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(la, "action"), "type")),
                     "Notify");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(la, "trigger"), "timeBeforeExpiry")),
        "P30D");
    cr_assert_eq(vault_rotation_expiry(p), 0);
    json_decref(p);
}
