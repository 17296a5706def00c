/*
 * fuzz_authz.c -- the management plane's authorization on arbitrary
 * bytes: the input is split at its first NUL into a scope-or-pattern and
 * an id-or-action (the second part from a request path, the attacker's).
 * Invariants: a scope covers itself; two scopes that cover each other are
 * the same id (case and trailing slashes aside); a pattern without '*'
 * matches only itself (case aside); authz_action_of never overruns and
 * ends its text; the built-in roles' evaluation terminates (role patterns
 * hold at most two stars; so do the fuzzed ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/armid.h"
#include "control/authz.h"

static size_t trimmed(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char buf[1026];
    memcpy(buf, data, size);
    buf[size] = '\0';
    buf[size + 1] = '\0';
    const char *a = buf, *b = buf + strlen(buf) + 1;
    if (b > buf + size)
        b = buf + size; /* no NUL: b is empty */
    if (!arm_scope_covers(a, a) || !arm_scope_covers(b, b))
        abort();
    if (arm_scope_covers(a, b) && arm_scope_covers(b, a) &&
        !(trimmed(a) == trimmed(b) && strncasecmp(a, b, trimmed(a)) == 0))
        abort();
    int stars = 0;
    for (const char *p = a; *p; p++)
        stars += *p == '*';
    if (stars <= 2) {
        int m = arm_action_match(a, b);
        if (stars == 0 && m != (strcasecmp(a, b) == 0))
            abort();
        if (!arm_action_match(a, a) && stars == 0)
            abort();
    }
    static const char *const methods[] = {"GET", "PUT", "PATCH", "DELETE", "POST"};
    char out[96];
    for (size_t i = 0; i < 5; i++) {
        memset(out, 'x', sizeof(out));
        if (authz_action_of(out, sizeof(out), "Microsoft.ContainerRegistry", "registries", b,
                            methods[i]) == 0 &&
            memchr(out, '\0', sizeof(out)) == NULL)
            abort();
    }
    const authz_grant g[] = {{a, authz_role_find("Reader")}, {a, authz_role_find("Owner")}};
    (void)authz_allows(g, 2, b, b);
    (void)authz_sees(g, 2, b);
    return 0;
}
