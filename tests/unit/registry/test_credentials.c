/*
 * test_credentials.c -- registry credentials: admin passwords wrapped per
 * registry and slot and revealed back, token passwords kept as HMACs, and
 * cred_check's answers (either password, disabled users refused, a wrong
 * user and a wrong password indistinguishable).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_tmpdir.h"
#include "registry/credentials.h"
#include "registry/keyring.h"

#define RID "0123456789abcdef0123456789abcdef"

static char dir[256];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "cred");
    char p[300];
    snprintf(p, sizeof(p), "%s/srk", dir);
    cr_assert_eq(keyring_init(p, NULL), CF_OK);
    snprintf(p, sizeof(p), "%s/cofferd.db", dir);
    cr_assert_eq(meta_init(p, NULL), CF_OK);
    cr_assert_eq(cred_init(NULL), CF_OK);
}

static void teardown(void)
{
    meta_shutdown();
    keyring_shutdown();
    test_tmpdir_remove(dir);
}

TestSuite(registry_credentials, .init = setup, .fini = teardown);

static int is_b64url(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    }
    return 1;
}

Test(registry_credentials, admin_password_is_43_chars_and_reveals_only_for_its_slot)
{
    char pw[44], back[44], other[44];
    unsigned char w[KEYS_WRAPPED_LEN], w2[KEYS_WRAPPED_LEN];
    cr_assert_eq(cred_admin_new(pw, w, RID, 1, NULL), CF_OK);
    cr_assert_eq(strlen(pw), 43);
    cr_assert(is_b64url(pw));
    cr_assert_eq(cred_admin_reveal(back, w, RID, 1, NULL), CF_OK);
    cr_assert_str_eq(back, pw);
    cr_assert_eq(cred_admin_new(other, w2, RID, 2, NULL), CF_OK);
    cr_assert_str_neq(other, pw);
    /* bound to the registry and the slot */
    cr_assert_neq(cred_admin_reveal(back, w, RID, 2, NULL), CF_OK);
    cr_assert_neq(cred_admin_reveal(back, w, "ffffffffffffffffffffffffffffffff", 1, NULL), CF_OK);
    cr_assert_eq(cred_admin_new(pw, w, RID, 3, NULL), CF_EINVAL);
    /* the wrapped form does not contain the password's bytes */
    cr_assert_null(memmem(w2, sizeof(w2), other, 8));
}

Test(registry_credentials, hmac_is_keyed_by_the_srk_and_deterministic)
{
    unsigned char a[32], b[32], c[32];
    cr_assert_eq(cred_hmac(a, "secret", 6, NULL), CF_OK);
    cr_assert_eq(cred_hmac(b, "secret", 6, NULL), CF_OK);
    cr_assert_eq(cred_hmac(c, "secreT", 6, NULL), CF_OK);
    cr_assert_eq(memcmp(a, b, 32), 0);
    cr_assert_neq(memcmp(a, c, 32), 0);
    /* another SRK: another key */
    keyring_shutdown();
    char p[300];
    snprintf(p, sizeof(p), "%s/srk2", dir);
    cr_assert_eq(keyring_init(p, NULL), CF_OK);
    cr_assert_eq(cred_hmac(b, "secret", 6, NULL), CF_OK);
    cr_assert_neq(memcmp(a, b, 32), 0);

    char pw[44];
    unsigned char h[32];
    cr_assert_eq(cred_token_password_new(pw, h, NULL), CF_OK);
    cr_assert_eq(strlen(pw), 43);
    cr_assert(is_b64url(pw));
    cr_assert_eq(cred_hmac(a, pw, strlen(pw), NULL), CF_OK);
    cr_assert_eq(memcmp(a, h, 32), 0);
}

static void registry(meta_registry *r, char pw1[44], char pw2[44])
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), RID);
    snprintf(r->name, sizeof(r->name), "credreg1");
    snprintf(r->sku, sizeof(r->sku), "Premium");
    cr_assert_eq(keyring_new_secret(r->wrapped_s, r->id, NULL), CF_OK);
    r->admin_enabled = 1;
    cr_assert_eq(cred_admin_new(pw1, r->admin_pw[0], r->id, 1, NULL), CF_OK);
    cr_assert_eq(cred_admin_new(pw2, r->admin_pw[1], r->id, 2, NULL), CF_OK);
    r->admin_pw_set[0] = r->admin_pw_set[1] = 1;
    cr_assert_eq(meta_registry_create(r, NULL, 0, NULL), CF_OK);
}

Test(registry_credentials, admin_user_accepts_either_password_while_enabled)
{
    meta_registry r;
    char pw1[44], pw2[44];
    registry(&r, pw1, pw2);
    cred_who who;
    cr_assert_eq(cred_check(&who, &r, "credreg1", pw1, NULL), CF_OK);
    cr_assert_eq(who.kind, CRED_ADMIN);
    cr_assert_str_eq(who.name, "credreg1");
    cr_assert_eq(cred_check(&who, &r, "credreg1", pw2, NULL), CF_OK);

    cf_err e1 = {0}, e2 = {0}, e3 = {0};
    cr_assert_eq(cred_check(&who, &r, "credreg1", "wrong", &e1), CF_EAUTH);
    cr_assert_eq(cred_check(&who, &r, "nobody", pw1, &e2), CF_EAUTH);
    /* a prefix of the password is not the password */
    char pre[44];
    snprintf(pre, sizeof(pre), "%.42s", pw1);
    cr_assert_eq(cred_check(&who, &r, "credreg1", pre, &e3), CF_EAUTH);
    cr_assert_str_eq(e1.msg, e2.msg);
    cr_assert_str_eq(e1.msg, e3.msg);

    /* disabled: refused, with the same answer */
    r.admin_enabled = 0;
    cf_err e4 = {0};
    cr_assert_eq(cred_check(&who, &r, "credreg1", pw1, &e4), CF_EAUTH);
    cr_assert_str_eq(e4.msg, e1.msg);
    /* a cleared password no longer works, the other still does */
    r.admin_enabled = 1;
    r.admin_pw_set[0] = 0;
    cr_assert_eq(cred_check(&who, &r, "credreg1", pw1, NULL), CF_EAUTH);
    cr_assert_eq(cred_check(&who, &r, "credreg1", pw2, NULL), CF_OK);
}

Test(registry_credentials, tokens_accept_their_passwords_while_enabled)
{
    meta_registry r;
    char pw1[44], pw2[44];
    registry(&r, pw1, pw2);
    meta_token t;
    memset(&t, 0, sizeof(t));
    snprintf(t.registry_id, sizeof(t.registry_id), RID);
    snprintf(t.name, sizeof(t.name), "ci-pull");
    t.enabled = 1;
    snprintf(t.scope, sizeof(t.scope), "[{\"repository\":\"app\",\"actions\":[\"content/read\"]}]");
    char tp1[44], tp2[44];
    cr_assert_eq(cred_token_password_new(tp1, t.pw_hmac[0], NULL), CF_OK);
    cr_assert_eq(cred_token_password_new(tp2, t.pw_hmac[1], NULL), CF_OK);
    t.pw_set[0] = t.pw_set[1] = 1;
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);

    cred_who who;
    cr_assert_eq(cred_check(&who, &r, "ci-pull", tp1, NULL), CF_OK);
    cr_assert_eq(who.kind, CRED_TOKEN);
    cr_assert_str_eq(who.name, "ci-pull");
    cr_assert_str_eq(who.scope, t.scope);
    cr_assert_eq(cred_check(&who, &r, "ci-pull", tp2, NULL), CF_OK);
    cr_assert_eq(cred_check(&who, &r, "ci-pull", pw1, NULL), CF_EAUTH);
    /* a token's password is not the admin's, nor another token's */
    cr_assert_eq(cred_check(&who, &r, "credreg1", tp1, NULL), CF_EAUTH);
    cr_assert_eq(cred_check(&who, &r, "ci-push", tp1, NULL), CF_EAUTH);
    /* another registry's token of the same name does not count */
    meta_registry o = r;
    snprintf(o.id, sizeof(o.id), "ffffffffffffffffffffffffffffffff");
    snprintf(o.name, sizeof(o.name), "otherreg");
    cr_assert_eq(cred_check(&who, &o, "ci-pull", tp1, NULL), CF_EAUTH);

    /* disabled, or its password cleared: refused */
    t.enabled = 0;
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    cr_assert_eq(cred_check(&who, &r, "ci-pull", tp1, NULL), CF_EAUTH);
    t.enabled = 1;
    t.pw_set[0] = 0;
    cr_assert_eq(meta_token_put(&t, NULL, NULL), CF_OK);
    cr_assert_eq(cred_check(&who, &r, "ci-pull", tp1, NULL), CF_EAUTH);
    cr_assert_eq(cred_check(&who, &r, "ci-pull", tp2, NULL), CF_OK);
    /* empty and oversized users */
    cr_assert_eq(cred_check(&who, &r, "", tp2, NULL), CF_EAUTH);
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(cred_check(&who, &r, big, tp2, NULL), CF_EAUTH);
}

Test(registry_credentials, an_absent_registry_is_checked_and_refused_like_a_wrong_password)
{
    meta_registry r;
    char pw1[44], pw2[44];
    registry(&r, pw1, pw2);
    cred_who who;
    cf_err e1 = {0}, e2 = {0};
    /* reg NULL: the registry does not exist; nothing it is given matches */
    cr_assert_eq(cred_check(&who, NULL, "credreg1", pw1, &e1), CF_EAUTH);
    cr_assert_eq(cred_check(&who, &r, "credreg1", "wrong", &e2), CF_EAUTH);
    cr_assert_str_eq(e1.msg, e2.msg);
    cr_assert_eq(who.kind, 0);
    cr_assert_eq(cred_check(&who, NULL, "nobody", "x", NULL), CF_EAUTH);
    cr_assert_eq(cred_check(&who, NULL, "", "x", NULL), CF_EAUTH);
}
