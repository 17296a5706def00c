/*
 * test_troubleshoot.c -- from a registry's lastError (as cmk.c writes it,
 * with the vault's own words) to the cause and the fix the portal shows.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cmk/troubleshoot.h"

static size_t run(cmk_step *st, const char *status, const char *err)
{
    cmk_state s = {.registry = "myreg1",
                   .key_status = status,
                   .last_error = err,
                   .key_identifier = "https://kv1.vault.localhost:8443/keys/k1",
                   .identity = "c1",
                   .principal = "p-123"};
    return cmk_troubleshoot(st, 8, &s);
}

Test(cmk_troubleshoot, nothing_when_available)
{
    cmk_step st[8];
    cr_assert_eq(run(st, "available", NULL), 0);
    cr_assert_eq(run(st, "available", ""), 0);
}

Test(cmk_troubleshoot, access_policy_removed)
{
    cmk_step st[8];
    size_t n =
        run(st, "unavailable",
            "The vault refused unwrapKey on https://kv1.vault.localhost:8443/keys/k1/abc for "
            "identity c1: 403 Forbidden: The user, group or application 'appid=c1;oid=p-123' "
            "does not have keys unwrapKey permission on key vault 'kv1'. For help ...");
    cr_assert_eq(n, 2);
    cr_assert(strstr(st[0].cause, "access policy") != NULL);
    cr_assert_str_eq(st[0].fix, "Grant the identity access again: coffer keyvault set-policy -n "
                                "kv1 --object-id p-123 --key-permissions get wrapKey unwrapKey");
    cr_assert(strstr(st[1].fix, "coffer acr encryption check -n myreg1") != NULL);
}

Test(cmk_troubleshoot, disabled_deleted_identity_and_unreachable)
{
    cmk_step st[8];
    run(st, "unavailable",
        "The vault refused unwrapKey on x for identity c1: 403 Forbidden: Operation unwrapKey is "
        "not allowed on a disabled key.");
    cr_assert(strstr(st[0].fix, "key set-attributes --vault-name kv1 -n k1 --enabled true") !=
              NULL);
    run(st, "unavailable",
        "The vault refused unwrapKey on x for identity c1: 404 KeyNotFound: gone");
    cr_assert(strstr(st[0].fix, "coffer keyvault key recover --vault-name kv1 -n k1") != NULL);
    run(st, "unavailable", "identity c1 no longer exists");
    cr_assert(strstr(st[0].cause, "no longer exists") != NULL);
    run(st, "unavailable", "identity c1 is no longer assigned to registry myreg1");
    cr_assert(strstr(st[0].fix, "coffer acr identity assign -n myreg1") != NULL);
    size_t n = run(st, "available",
                   "Key vault unreachable at 2026-01-01T00:00:00Z: Couldn't connect to server; "
                   "serving from the key loaded at ...");
    cr_assert_eq(n, 1, "degraded: one step, no unlock step");
    cr_assert(strstr(st[0].cause, "could not be reached") != NULL);
}

Test(cmk_troubleshoot, vault_name_from_an_address_is_default)
{
    cmk_step st[8];
    cmk_state s = {.registry = "r",
                   .key_status = "unavailable",
                   .last_error =
                       "403 Forbidden: Operation unwrapKey is not allowed on a disabled key.",
                   .key_identifier = "https://127.0.0.1:8443/keys/k9"};
    cr_assert_geq(cmk_troubleshoot(st, 8, &s), 1);
    cr_assert(strstr(st[0].fix, "--vault-name default -n k9") != NULL, "%s", st[0].fix);
}
