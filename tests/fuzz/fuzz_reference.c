/*
 * fuzz_reference.c -- the name, tag and reference grammars and the
 * router on arbitrary bytes. Invariants: an accepted tag is a valid tag,
 * an accepted name never has an empty component, and the router's slices
 * stay inside the path it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/oci.h"
#include "registry/route.h"

static void inside(const char *base, size_t len, route_slice s)
{
    if (s.len == 0)
        return;
    if (s.p < base || s.p + s.len > base + len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    oci_reference r;
    if (oci_reference_parse(&r, s, size, NULL) == CF_OK && !r.is_digest &&
        !oci_tag_valid(r.tag, strlen(r.tag)))
        abort();
    if (oci_name_valid(s, size)) {
        if (size == 0 || s[0] == '/' || s[size - 1] == '/')
            abort();
        for (size_t i = 1; i < size; i++)
            if (s[i] == '/' && s[i - 1] == '/')
                abort();
    }
    (void)oci_registry_name_valid(s, size);
    /* the router wants a C string */
    char *path = malloc(size + 1);
    if (path == NULL)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    route rt;
    if (route_parse(&rt, path) != ROUTE_NONE) {
        size_t n = strlen(path);
        inside(path, n, rt.name);
        inside(path, n, rt.arg);
        route_slice reg, repo;
        if (route_split(&rt, "x.example", "example", &reg, &repo) == 0) {
            inside(path, n, repo);
        }
    }
    free(path);
    return 0;
}
