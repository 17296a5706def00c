/*
 * duration.c -- see duration.h. Digits, then at most one unit letter;
 * nothing else (no sign, no space, no fraction), and no overflow: the
 * value is checked against max_s before it is multiplied.
 */
#include "base/duration.h"

#include <stddef.h>

int cf_duration_parse(const char *s, int64_t max_s, int64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    int64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > max_s)
            return -1;
    }
    int64_t unit = 1;
    switch (*s) {
    case '\0':
        break;
    case 's':
        s++;
        break;
    case 'm':
        unit = 60;
        s++;
        break;
    case 'h':
        unit = 3600;
        s++;
        break;
    case 'd':
        unit = 86400;
        s++;
        break;
    default:
        return -1;
    }
    if (*s != '\0' || v > max_s / unit)
        return -1;
    *out = v * unit;
    return 0;
}
