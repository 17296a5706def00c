/*
 * fuzz_portal_form.c -- the portal's parsers of untrusted input: form
 * bodies (and query strings) and the Cookie header. Invariants: a parse
 * either fails whole or yields at most PORTAL_FORM_MAX NUL-terminated
 * fields inside the arena; cookie_get never writes past its buffer and
 * returns a value no longer than the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portal/html.h"

static form f;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (form_parse(&f, (const char *)data, size) == 0) {
        if (f.n > PORTAL_FORM_MAX)
            abort();
        for (size_t i = 0; i < f.n; i++) {
            const char *a = f.arena, *z = f.arena + sizeof(f.arena);
            if (f.f[i].name < a || f.f[i].name >= z || f.f[i].value < a || f.f[i].value >= z)
                abort();
            if (strlen(f.f[i].value) > size || form_get(&f, f.f[i].name) == NULL)
                abort();
        }
    } else if (f.n != 0) {
        abort();
    }
    char *h = malloc(size + 1);
    if (h == NULL)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';
    char v[48];
    memset(v, 0x5a, sizeof(v));
    if (cookie_get(h, "coffer_session", v, 44) == 0 && strlen(v) > size)
        abort();
    if (v[44] != 0x5a || v[47] != 0x5a)
        abort();
    free(h);
    return 0;
}
