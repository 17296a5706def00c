/*
 * test_session.c -- the portal's sessions: a cookie value finds its
 * session (and only it), the CSRF token is per session and random, a
 * flash is taken once, and sign-out and a vault disconnect forget.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "portal/session.h"

Test(portal_session, create_get_destroy)
{
    portal_who w = {.role = PORTAL_OPERATOR}, got, got2;
    char sid[PORTAL_SID_LEN + 1], sid2[PORTAL_SID_LEN + 1];
    cf_err e = {0};
    cr_assert_eq(session_create(sid, &w, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(session_create(sid2, &w, &e), CF_OK);
    cr_assert_eq(strlen(sid), PORTAL_SID_LEN);
    cr_assert_neq(strcmp(sid, sid2), 0);
    cr_assert_eq(session_get(&got, sid), 0);
    cr_assert_eq(session_get(&got2, sid2), 0);
    cr_assert_eq(got.role, PORTAL_OPERATOR);
    cr_assert_eq(strlen(got.csrf), PORTAL_SID_LEN);
    cr_assert_neq(strcmp(got.csrf, got2.csrf), 0, "one CSRF token per session");
    cr_assert_neq(strcmp(got.csrf, sid), 0, "the CSRF token is not the session id");
    char forged[PORTAL_SID_LEN + 1];
    memcpy(forged, sid, sizeof(forged));
    forged[0] = forged[0] == 'A' ? 'B' : 'A';
    cr_assert_eq(session_get(&got, forged), -1);
    cr_assert_eq(session_get(&got, "short"), -1);
    cr_assert_eq(session_get(&got, NULL), -1);
    session_destroy(sid);
    cr_assert_eq(session_get(&got, sid), -1, "signed out");
    cr_assert_eq(session_get(&got, sid2), 0, "the other session lives on");
    session_clear_all();
    cr_assert_eq(session_get(&got, sid2), -1);
}

Test(portal_session, flash_once_and_vault_forgotten)
{
    portal_who w = {.role = PORTAL_REGISTRY_ADMIN}, got;
    snprintf(w.registry, sizeof(w.registry), "myreg1");
    snprintf(w.vault_token, sizeof(w.vault_token), "not kept from the caller");
    char sid[PORTAL_SID_LEN + 1];
    cr_assert_eq(session_create(sid, &w, NULL), CF_OK);
    cr_assert_eq(session_get(&got, sid), 0);
    cr_assert_str_eq(got.registry, "myreg1");
    cr_assert_str_eq(got.vault_token, "", "a new session has no vault connection");
    session_set_flash(sid, "done");
    cr_assert_eq(session_get(&got, sid), 0);
    cr_assert_str_eq(got.flash, "done");
    cr_assert_eq(session_get(&got, sid), 0);
    cr_assert_str_eq(got.flash, "", "taken once");
    session_set_vault(sid, "https://kv:8443", "tok");
    cr_assert_eq(session_get(&got, sid), 0);
    cr_assert_str_eq(got.vault_url, "https://kv:8443");
    cr_assert_str_eq(got.vault_token, "tok");
    session_set_vault(sid, NULL, NULL);
    cr_assert_eq(session_get(&got, sid), 0);
    cr_assert_str_eq(got.vault_url, "");
    cr_assert_str_eq(got.vault_token, "");
    session_clear_all();
}
