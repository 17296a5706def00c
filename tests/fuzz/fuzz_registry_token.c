/*
 * fuzz_registry_token.c -- libFuzzer target: what a client controls in
 * registry authentication, through each parser of auth.c: the bytes as a
 * bearer token (auth_token_verify under a fixed key, service and clock), as an
 * Authorization: Basic header, as a Docker scope string, as a stored
 * scope map and as a Host header. Seeds in corpus/registry_token: a valid
 * token for the fixed key, alg none / HS512 / RS256 headers, a truncated
 * token, Basic headers (valid, bad base64, no colon), scopes, scope maps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/auth.h"

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcdef";
#define NOW 1900000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auth_set_key(KEY);
    const char *s = (const char *)data;

    auth_claims c;
    if (auth_token_verify(&c, s, size, NOW, "127.0.0.1:5000", NULL) == CF_OK) {
        /* only a token signed with KEY gets here: its claims are bounded */
        if (c.naccess > AUTH_MAX_ACCESS || c.exp + AUTH_SKEW <= NOW || c.nbf > NOW + AUTH_SKEW)
            __builtin_trap();
        for (size_t i = 0; i < c.naccess; i++)
            if (strnlen(c.access[i].name, sizeof(c.access[i].name)) == sizeof(c.access[i].name) ||
                (c.access[i].actions & ~AUTH_ALL) != 0)
                __builtin_trap();
    }

    char user[AUTH_USER_MAX], pass[AUTH_PASS_MAX];
    if (auth_basic_parse(user, pass, s, size, NULL) == CF_OK) {
        if (user[0] == '\0' || strchr(user, ':') != NULL || strlen(user) >= AUTH_USER_MAX ||
            strlen(pass) >= AUTH_PASS_MAX)
            __builtin_trap();
    }

    auth_scope sc;
    if (auth_scope_parse(&sc, s, size, NULL) == CF_OK) {
        if (sc.type != AUTH_SCOPE_REPOSITORY && sc.type != AUTH_SCOPE_CATALOG)
            __builtin_trap();
        if ((sc.actions & ~AUTH_ALL) != 0 || sc.name[0] == '\0')
            __builtin_trap();
    }

    /* NUL-terminated views: a scope map as stored, a Host header */
    char *z = malloc(size + 1);
    if (z == NULL)
        return 0;
    memcpy(z, data, size);
    z[size] = '\0';
    if ((auth_scope_map_actions(z, "app") & ~AUTH_ALL) != 0)
        __builtin_trap();
    if (auth_host_valid(z)) {
        char ch[1024];
        auth_challenge_args a = {.scheme = "http",
                                 .host = z,
                                 .service = auth_service_valid(z) ? z : "127.0.0.1:5000",
                                 .name = "demo1/app",
                                 .need = AUTH_PUSH,
                                 .from = "demo1/src"};
        auth_challenge(ch, sizeof(ch), &a);
        if (strncmp(ch, "Bearer realm=\"http://", 21) != 0)
            __builtin_trap();
    }
    free(z);
    return 0;
}
