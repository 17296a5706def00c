/*
 * armid.c -- ARM resource ids and paths (see armid.h). The parser walks the
 * path segment by segment through a (pointer, length) cursor, never past
 * n bytes and never relying on a NUL.
 */
#include "base/armid.h"

#include <stdio.h>
#include <string.h>

typedef struct seg {
    const char *p;
    size_t n;
} seg;

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int seg_is(seg s, const char *word)
{
    size_t n = strlen(word);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)word[i]))
            return 0;
    return 1;
}

static int seg_copy(char *dst, size_t cap, seg s)
{
    if (s.n == 0 || s.n >= cap || memchr(s.p, '\0', s.n) != NULL)
        return -1;
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return 0;
}

int arm_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

int arm_uuid_valid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t d = 0, i;
    for (i = 0; s[i] && i < 36; i++) {
        char c = s[i];
        if (d < 4 && (int)i == dash[d]) {
            if (c != '-')
                return 0;
            d++;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return i == 36 && s[36] == '\0';
}

int arm_group_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= ARM_GROUP_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '(' || c == ')' || c == '-'))
            return 0;
    }
    return n > 0 && s[n - 1] != '.';
}

/* Splits path[0..n) into segments; -1 unless it starts with '/' and no
 * segment is empty. At most max segments: the rest stays in *rest_at (the
 * offset of the first unsplit '/', n when none). */
static int split(const char *path, size_t n, seg *out, int max, size_t *rest_at)
{
    if (n == 0 || path[0] != '/')
        return -1;
    int k = 0;
    size_t i = 1;
    *rest_at = n;
    while (i <= n) {
        if (k == max) {
            *rest_at = i - 1;
            return k;
        }
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        if (j == i)
            return -1; /* empty segment (or trailing '/') */
        out[k].p = path + i;
        out[k].n = j - i;
        k++;
        if (j == n)
            break;
        i = j + 1;
        if (i == n)
            return -1; /* trailing '/' */
    }
    return k;
}

int arm_path_parse(arm_path *out, const char *path, size_t n)
{
    seg s[8];
    size_t rest_at;
    memset(out, 0, sizeof(*out));
    int k = split(path, n, s, 8, &rest_at);
    if (k < 1 || !seg_is(s[0], "subscriptions"))
        goto bad;
    if (k == 1) {
        out->kind = ARM_SUBSCRIPTIONS;
        return rest_at == n ? 0 : -1;
    }
    if (seg_copy(out->sub, sizeof(out->sub), s[1]) || !arm_uuid_valid(out->sub))
        goto bad;
    int i = 2;
    if (k == 2) {
        out->kind = ARM_SUBSCRIPTION;
        return 0;
    }
    if (seg_is(s[2], "resourceGroups")) {
        if (k == 3) {
            out->kind = ARM_GROUPS;
            return 0;
        }
        if (seg_copy(out->group, sizeof(out->group), s[3]) || !arm_group_name_valid(out->group))
            goto bad;
        if (k == 4) {
            out->kind = ARM_GROUP;
            return 0;
        }
        if (k == 5 && seg_is(s[4], "resources") && rest_at == n) {
            out->kind = ARM_GROUP_RESOURCES;
            return 0;
        }
        i = 4;
    }
    /* providers/NS/TYPE[/NAME[REST]] */
    if (k < i + 3 || !seg_is(s[i], "providers") || seg_copy(out->ns, sizeof(out->ns), s[i + 1]) ||
        seg_copy(out->type, sizeof(out->type), s[i + 2]))
        goto bad;
    if (k == i + 3) {
        if (rest_at != n)
            goto bad;
        out->kind = ARM_TYPE_LIST;
        return 0;
    }
    if (out->group[0] == '\0' || seg_copy(out->name, sizeof(out->name), s[i + 3]))
        goto bad; /* a resource lives in a group */
    out->kind = ARM_RESOURCE;
    /* what follows the name: the segments split beyond it, then the rest */
    const char *tail = s[i + 3].p + s[i + 3].n;
    size_t tn = (size_t)(path + n - tail);
    if (tn >= sizeof(out->rest) || memchr(tail, '\0', tn) != NULL)
        goto bad;
    for (size_t j = 0; j < tn; j++) /* no empty segment, no trailing '/' */
        if (tail[j] == '/' && (j + 1 == tn || tail[j + 1] == '/'))
            goto bad;
    memcpy(out->rest, tail, tn);
    out->rest[tn] = '\0';
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

int arm_path_is(const arm_path *p, const char *ns, const char *type)
{
    return (p->kind == ARM_RESOURCE || p->kind == ARM_TYPE_LIST) && arm_eq(p->ns, ns) &&
           arm_eq(p->type, type);
}

int arm_id_format(char *out, size_t cap, const char *sub, const char *group, const char *ns,
                  const char *type, const char *name)
{
    int w = snprintf(out, cap, "/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s", sub, group,
                     ns, type, name);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

int arm_authz_split(const char *path, char *scope, size_t cap, const char **tail)
{
    static const char marker[] = "/providers/Microsoft.Authorization/";
    const size_t mn = sizeof(marker) - 1;
    for (const char *p = path; *p; p++) {
        size_t i = 0;
        while (i < mn && p[i] && lower((unsigned char)p[i]) == lower((unsigned char)marker[i]))
            i++;
        if (i < mn)
            continue;
        size_t sn = (size_t)(p - path);
        if (sn >= cap)
            return -1;
        memcpy(scope, path, sn);
        scope[sn] = '\0';
        *tail = p + mn;
        return 0;
    }
    return -1;
}

/* '*' at p: a run of anything; a segment that is only '*' may also
 * stand for nothing (its two slashes for one). */
static int action_match(const char *p, const char *s, int depth)
{
    if (depth > 8)
        return 0; /* role patterns hold one or two stars */
    for (;;) {
        if (*p == '*') {
            const char *after = p + 1;
            /* a lone-star segment standing for nothing */
            if (*after == '/' && action_match(after + 1, s, depth + 1))
                return 1;
            for (const char *t = s;; t++) {
                if (action_match(after, t, depth + 1))
                    return 1;
                if (*t == '\0')
                    return 0;
            }
        }
        if (*s == '\0')
            return *p == '\0';
        if (*p == '\0' || lower((unsigned char)*p) != lower((unsigned char)*s))
            return 0;
        p++;
        s++;
    }
}

int arm_action_match(const char *pattern, const char *action)
{
    return pattern && action && action_match(pattern, action, 0);
}

int arm_scope_covers(const char *scope, const char *id)
{
    size_t sn = strlen(scope), in = strlen(id);
    while (sn > 0 && scope[sn - 1] == '/')
        sn--;
    while (in > 0 && id[in - 1] == '/')
        in--;
    if (sn == 0)
        return 1; /* the root scope */
    if (in < sn)
        return 0;
    for (size_t i = 0; i < sn; i++)
        if (lower((unsigned char)scope[i]) != lower((unsigned char)id[i]))
            return 0;
    return in == sn || id[sn] == '/';
}
