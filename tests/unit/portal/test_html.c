/*
 * test_html.c -- the portal's HTML writer escapes everything by default,
 * and its form and cookie parsers take only well-formed input.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "portal/html.h"

static const char *text(html *h)
{
    cr_assert_eq(h->failed, 0);
    cr_assert_eq(cf_buf_append(&h->b, "", 1, NULL), CF_OK);
    return (const char *)h->b.data;
}

Test(portal_html, escapes_text_and_attributes_by_default)
{
    html h;
    html_init(&h, 0);
    html_put(&h, "<p title=\"%s\">%s</p>", "a\"b'c", "<script>&x</script>");
    cr_assert_str_eq(text(&h),
                     "<p title=\"a&quot;b&#39;c\">&lt;script&gt;&amp;x&lt;/script&gt;</p>");
    html_free(&h);
}

Test(portal_html, raw_numbers_and_urls)
{
    html h;
    html_init(&h, 0);
    html_put(&h, "%r|%d|%D|%u|100%%|%s", "<b>", -3, (int64_t)1 << 40, "a b/c?d&e=\"<",
             (const char *)NULL);
    cr_assert_str_eq(text(&h), "<b>|-3|1099511627776|a%20b%2Fc%3Fd%26e%3D%22%3C|100%|");
    html_free(&h);
}

Test(portal_html, unknown_directive_and_cap_fail_the_writer)
{
    html h;
    html_init(&h, 0);
    html_put(&h, "%x", 1);
    cr_assert_eq(h.failed, 1);
    html_free(&h);
    html_init(&h, 8);
    html_put(&h, "%s", "0123456789");
    cr_assert_eq(h.failed, 1);
    html_free(&h);
}

Test(portal_form, parses_pairs_plus_and_escapes)
{
    static form f;
    const char *in = "csrf=abc&name=my+reg&key=https%3A%2F%2Fkv%2Fkeys%2Fk&flag&action=a&action=b";
    cr_assert_eq(form_parse(&f, in, strlen(in)), 0);
    cr_assert_str_eq(form_get(&f, "csrf"), "abc");
    cr_assert_str_eq(form_get(&f, "name"), "my reg");
    cr_assert_str_eq(form_get(&f, "key"), "https://kv/keys/k");
    cr_assert_str_eq(form_get(&f, "flag"), "");
    cr_assert_str_eq(form_get(&f, "action"), "a");
    cr_assert_null(form_get(&f, "missing"));
}

Test(portal_form, refuses_bad_escapes_nuls_and_too_many_fields)
{
    static form f;
    cr_assert_eq(form_parse(&f, "a=%4", 4), -1);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(form_parse(&f, "a=%zz", 5), -1);
    cr_assert_eq(form_parse(&f, "a=%00", 5), -1);
    cr_assert_eq(form_parse(&f, "a=b\0c", 5), -1);
    char many[PORTAL_FORM_MAX * 4 + 8];
    size_t n = 0;
    for (int i = 0; i <= PORTAL_FORM_MAX; i++, n += 4)
        memcpy(many + n, "x=1&", 4);
    cr_assert_eq(form_parse(&f, many, n), -1);
    cr_assert_eq(form_parse(&f, many, n - 8), 0, "one field fewer than the cap parses");
}

Test(portal_cookie, finds_the_named_cookie_only)
{
    char v[64];
    cr_assert_eq(cookie_get("a=1; coffer_session=XYZ; b=2", "coffer_session", v, sizeof(v)), 0);
    cr_assert_str_eq(v, "XYZ");
    cr_assert_eq(cookie_get("xcoffer_session=1", "coffer_session", v, sizeof(v)), -1);
    cr_assert_eq(cookie_get("coffer_session=\"q\"", "coffer_session", v, sizeof(v)), 0);
    cr_assert_str_eq(v, "q");
    cr_assert_eq(cookie_get("coffer_session=0123456789", "coffer_session", v, 4), -1);
    cr_assert_eq(cookie_get(NULL, "coffer_session", v, sizeof(v)), -1);
    cr_assert_eq(cookie_get("junk; ;;=", "coffer_session", v, sizeof(v)), -1);
}
