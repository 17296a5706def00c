/*
 * html.h -- what the portal needs to speak HTML and HTTP forms safely:
 * a page writer that escapes by default, the parser of form bodies
 * (application/x-www-form-urlencoded) and query strings, and cookies.
 *
 * The writer's format has no way to put text into a page unescaped by
 * mistake: %s escapes (& < > " ' become entities, so one rule serves text
 * and quoted attribute values alike), and raw HTML needs %r, used only
 * for literals and fragments the portal built itself. Everything from a
 * user, a registry, the store or a vault goes through %s or %u.
 *
 * Forms and cookies are untrusted input: parsed through (pointer, length)
 * cursors into a bounded arena (PORTAL_FORM_MAX fields, PORTAL_FORM_BYTES
 * bytes); anything past the bounds, a bad %-escape or a NUL makes the
 * parse fail as a whole. tests/fuzz/fuzz_portal_form.c holds them to it.
 */
#ifndef CF_PORTAL_HTML_H
#define CF_PORTAL_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PORTAL_FORM_MAX 64
#define PORTAL_FORM_BYTES (64 * 1024)

/* ---- the page writer ---- */

typedef struct html {
    cf_buf b;
    int failed; /* sticky: out of memory or past the cap */
} html;

void html_init(html *h, size_t cap);
void html_free(html *h);
/* Appends fmt, where
 *   %s  a string, HTML-escaped (NULL prints nothing)
 *   %r  a string taken as HTML: literals and fragments built by the portal
 *   %u  a string percent-encoded as a URL component, then escaped
 *   %d  an int   %D  an int64_t   %%  a percent sign
 * Any other directive marks the writer failed. */
void html_put(html *h, const char *fmt, ...);

/* ---- forms (and query strings) ---- */

typedef struct form_field {
    const char *name, *value; /* NUL-terminated, in the arena */
} form_field;

typedef struct form {
    size_t n;
    form_field f[PORTAL_FORM_MAX];
    char arena[PORTAL_FORM_BYTES + 2 * PORTAL_FORM_MAX];
} form;

/* Parses name=value pairs joined by '&' ('+' is a space, %XX a byte).
 * -1 (and an empty form) when the input breaks a rule above. */
int form_parse(form *f, const char *data, size_t len);
/* The first value of name, or NULL. */
const char *form_get(const form *f, const char *name);
/* Calls fn for each value of name, in order; returns how many. */
size_t form_each(const form *f, const char *name, void (*fn)(void *cls, const char *value),
                 void *cls);

/* ---- cookies ---- */

/* The value of cookie `name` in a Cookie header into out (n bytes);
 * -1 when absent, malformed or too long. */
int cookie_get(const char *header, const char *name, char *out, size_t n);

#endif
