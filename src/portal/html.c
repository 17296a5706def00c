/*
 * html.c -- see html.h.
 */
#include "portal/html.h"
#include "base/enc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void html_init(html *h, size_t cap)
{
    cf_buf_init(&h->b, cap);
    h->failed = 0;
}

void html_free(html *h)
{
    cf_buf_free(&h->b);
}

static void put(html *h, const char *p, size_t n)
{
    if (!h->failed && n > 0 && cf_buf_append(&h->b, p, n, NULL) != CF_OK)
        h->failed = 1;
}

static void put_escaped(html *h, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        }
        if (rep) {
            put(h, run, (size_t)(s - run));
            put(h, rep, strlen(rep));
            run = s + 1;
        }
    }
    put(h, run, (size_t)(s - run));
}

/* RFC 3986 unreserved characters stay; every other byte is %XX. The
 * result has no character HTML needs escaped. */
static void put_url(html *h, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            put(h, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(h, e, 3);
        }
    }
}

void html_put(html *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *run = fmt;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        put(h, run, (size_t)(p - run));
        char d = *++p;
        char num[32];
        const char *s;
        switch (d) {
        case 's':
            s = va_arg(ap, const char *);
            if (s)
                put_escaped(h, s);
            break;
        case 'r':
            s = va_arg(ap, const char *);
            if (s)
                put(h, s, strlen(s));
            break;
        case 'u':
            s = va_arg(ap, const char *);
            if (s)
                put_url(h, s);
            break;
        case 'd':
            snprintf(num, sizeof(num), "%d", va_arg(ap, int));
            put(h, num, strlen(num));
            break;
        case 'D':
            snprintf(num, sizeof(num), "%" PRId64, va_arg(ap, int64_t));
            put(h, num, strlen(num));
            break;
        case '%':
            put(h, "%", 1);
            break;
        default:
            h->failed = 1;
            va_end(ap);
            return;
        }
        run = p + 1;
    }
    put(h, run, strlen(run));
    va_end(ap);
}

/* ---- forms ---- */

/* Decodes [p, p+n) into the arena at *used; -1 on a bad escape, a NUL or
 * no room. */
static int decode(form *f, size_t *used, const char *p, size_t n, const char **out)
{
    size_t cap = sizeof(f->arena);
    char *dst = f->arena + *used;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = cf_hexval(p[i + 1]), lo = cf_hexval(p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || *used + w + 1 >= cap)
            return -1;
        dst[w++] = c;
    }
    dst[w] = '\0';
    *out = dst;
    *used += w + 1;
    return 0;
}

int form_parse(form *f, const char *data, size_t len)
{
    f->n = 0;
    size_t used = 0;
    if (len > PORTAL_FORM_BYTES)
        return -1;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && data[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && data[eq] != '=')
                eq++;
            if (f->n == PORTAL_FORM_MAX)
                goto bad;
            form_field *ff = &f->f[f->n];
            if (decode(f, &used, data + i, eq - i, &ff->name) != 0)
                goto bad;
            const char *v = eq < j ? data + eq + 1 : data + j;
            if (decode(f, &used, v, eq < j ? j - eq - 1 : 0, &ff->value) != 0)
                goto bad;
            f->n++;
        }
        i = j + 1;
    }
    return 0;
bad:
    f->n = 0;
    return -1;
}

const char *form_get(const form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0)
            return f->f[i].value;
    return NULL;
}

size_t form_each(const form *f, const char *name, void (*fn)(void *cls, const char *value),
                 void *cls)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0) {
            fn(cls, f->f[i].value);
            k++;
        }
    return k;
}

/* ---- cookies ---- */

int cookie_get(const char *header, const char *name, char *out, size_t n)
{
    if (header == NULL || n == 0)
        return -1;
    size_t nl = strlen(name);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *k = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t kl = (size_t)(p - k);
        while (kl > 0 && k[kl - 1] == ' ')
            kl--;
        if (*p != '=') {
            continue;
        }
        p++;
        const char *v = p;
        while (*p && *p != ';')
            p++;
        size_t vl = (size_t)(p - v);
        while (vl > 0 && v[vl - 1] == ' ')
            vl--;
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v++;
            vl -= 2;
        }
        if (kl == nl && memcmp(k, name, nl) == 0) {
            if (vl + 1 > n)
                return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
    }
    return -1;
}
