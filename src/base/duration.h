/*
 * duration.h -- a length of time as operators write it: a whole number
 * with an optional unit, "90", "90s", "15m", "24h", "7d" (seconds when
 * there is none). The CLI's `acr gc --grace` and cofferd's --gc-grace
 * read it the same way.
 */
#ifndef CF_BASE_DURATION_H
#define CF_BASE_DURATION_H

#include <stdint.h>

/* *out = seconds; -1 when s is malformed or longer than max_s. */
int cf_duration_parse(const char *s, int64_t max_s, int64_t *out);

#endif
