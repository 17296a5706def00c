/*
 * test_cli_keyshape.c -- keys printed as az prints them (src/cli/keyshape.c):
 * member names, order, times and byte encodings from a wire KeyBundle.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/keyshape.h"

static char *shaped(json_t *(*fn)(const json_t *), const char *wire)
{
    json_t *w = json_loads(wire, 0, NULL);
    cr_assert_not_null(w, "bad test JSON: %s", wire);
    json_t *o = fn(w);
    cr_assert_not_null(o);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_decref(w);
    return t;
}

Test(cli_keyshape, key_bundle_becomes_az_key_output)
{
    char *t = shaped(cli_key_az,
                     "{\"key\":{\"kid\":\"https://v/keys/k/01\",\"kty\":\"RSA\",\"key_ops\":"
                     "[\"wrapKey\"],\"n\":\"-_8\",\"e\":\"AQAB\"},\"attributes\":{\"enabled\":true,"
                     "\"exp\":86400,\"created\":0,\"updated\":1,\"recoveryLevel\":\"Recoverable\","
                     "\"recoverableDays\":7,\"exportable\":false},\"tags\":{\"a\":\"b\"}}");
    cr_assert_str_eq(
        t,
        "{\"attributes\":{\"created\":\"1970-01-01T00:00:00+00:00\",\"enabled\":true,"
        "\"expires\":\"1970-01-02T00:00:00+00:00\",\"exportable\":false,\"hsmPlatform\":null,"
        "\"notBefore\":null,\"recoverableDays\":7,\"recoveryLevel\":\"Recoverable\","
        "\"updated\":\"1970-01-01T00:00:01+00:00\"},\"key\":{\"crv\":null,\"d\":null,\"dp\":null,"
        "\"dq\":null,\"e\":\"AQAB\",\"k\":null,\"keyOps\":[\"wrapKey\"],\"kid\":"
        "\"https://v/keys/k/01\",\"kty\":\"RSA\",\"n\":\"+/8=\",\"p\":null,\"q\":null,\"qi\":"
        "null,\"t\":null,\"x\":null,\"y\":null},\"managed\":null,\"releasePolicy\":null,"
        "\"tags\":{\"a\":\"b\"}}");
    free(t);
}

Test(cli_keyshape, deleted_key_and_list_items_keep_az_order)
{
    char *t = shaped(cli_key_az, "{\"key\":{},\"attributes\":{},\"recoveryId\":\"https://v/"
                                 "deletedkeys/k\",\"deletedDate\":0,\"scheduledPurgeDate\":60}");
    cr_assert(strstr(t, "\"attributes\":{") == t + 1, "%s", t);
    const char *order[] = {"\"attributes\"",
                           "\"deletedDate\":\"1970-01-01T00:00:00+00:00\"",
                           "\"key\"",
                           "\"managed\"",
                           "\"recoveryId\"",
                           "\"releasePolicy\"",
                           "\"scheduledPurgeDate\":\"1970-01-01T00:01:00+00:00\"",
                           "\"tags\""};
    const char *at = t;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *p = strstr(at, order[i]);
        cr_assert_not_null(p, "%s after position %td in %s", order[i], at - t, t);
        at = p;
    }
    free(t);
    t = shaped(cli_key_item_az, "{\"kid\":\"https://v.vault.localhost:1/keys/mykey\","
                                "\"attributes\":{\"enabled\":false}}");
    cr_assert(strstr(t, "\"kid\":\"https://v.vault.localhost:1/keys/mykey\",\"managed\":null,"
                        "\"name\":\"mykey\",\"releasePolicy\":null,\"tags\":null}") != NULL,
              "%s", t);
    free(t);
}

Test(cli_keyshape, malformed_members_become_null)
{
    char *t = shaped(cli_key_az, "{\"key\":{\"n\":\"not base64url!\",\"key_ops\":7},"
                                 "\"attributes\":{\"created\":\"yesterday\"}}");
    cr_assert(strstr(t, "\"n\":null") != NULL, "%s", t);
    cr_assert(strstr(t, "\"created\":null") != NULL, "%s", t);
    cr_assert(strstr(t, "\"keyOps\":7") != NULL, "passed through as given: %s", t);
    free(t);
    t = shaped(cli_key_item_az, "[]");
    cr_assert(strstr(t, "\"name\":null") != NULL, "%s", t);
    free(t);
}
