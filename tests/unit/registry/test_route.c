/*
 * test_route.c -- the data plane router and the registry split.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "registry/route.h"

static int slice_eq(route_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

Test(registry_route, base_and_catalog)
{
    route r;
    cr_assert_eq(route_parse(&r, "/v2/"), ROUTE_BASE);
    cr_assert_eq(route_parse(&r, "/v2"), ROUTE_BASE);
    cr_assert_eq(route_parse(&r, "/v2/_catalog"), ROUTE_CATALOG);
    cr_assert_eq(route_parse(&r, "/v3/"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2x/a/tags/list"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/oauth2/token"), ROUTE_TOKEN);
    cr_assert_eq(route_parse(&r, "/oauth2/token/"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/oauth2"), ROUTE_NONE);
}

Test(registry_route, endpoints_with_names)
{
    route r;
    cr_assert_eq(route_parse(&r, "/v2/demo1/app/tags/list"), ROUTE_TAGS);
    cr_assert(slice_eq(r.name, "demo1/app"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/a/b/manifests/latest"), ROUTE_MANIFEST);
    cr_assert(slice_eq(r.name, "demo1/a/b"));
    cr_assert(slice_eq(r.arg, "latest"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/app/blobs/sha256:abc"), ROUTE_BLOB);
    cr_assert(slice_eq(r.arg, "sha256:abc"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/app/blobs/uploads/"), ROUTE_UPLOAD_START);
    cr_assert(slice_eq(r.name, "demo1/app"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/app/blobs/uploads"), ROUTE_UPLOAD_START);
    cr_assert(slice_eq(r.name, "demo1/app"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/app/blobs/uploads/1234-uuid"), ROUTE_UPLOAD);
    cr_assert(slice_eq(r.arg, "1234-uuid"));
    cr_assert(slice_eq(r.name, "demo1/app"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/app/referrers/sha256:abc"), ROUTE_REFERRERS);
    cr_assert(slice_eq(r.arg, "sha256:abc"));
}

Test(registry_route, names_may_contain_endpoint_words)
{
    route r;
    cr_assert_eq(route_parse(&r, "/v2/demo1/blobs/manifests/v1"), ROUTE_MANIFEST);
    cr_assert(slice_eq(r.name, "demo1/blobs"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/manifests/tags/list"), ROUTE_TAGS);
    cr_assert(slice_eq(r.name, "demo1/manifests"));
    cr_assert_eq(route_parse(&r, "/v2/demo1/tags/blobs/uploads/"), ROUTE_UPLOAD_START);
    cr_assert(slice_eq(r.name, "demo1/tags"));
}

Test(registry_route, refuses_missing_parts)
{
    route r;
    cr_assert_eq(route_parse(&r, "/v2/manifests/v1"), ROUTE_NONE); /* no name */
    cr_assert_eq(route_parse(&r, "/v2/tags/list"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2/blobs/uploads/"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2/app/manifests/"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2/app/blobs/"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2/app"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2/app/unknown/x"), ROUTE_NONE);
    cr_assert_eq(route_parse(&r, "/v2//manifests/v1"), ROUTE_NONE);
}

Test(registry_route, path_routing_takes_first_component)
{
    route r;
    route_slice reg, repo;
    route_parse(&r, "/v2/demo1/team/app/manifests/v1");
    cr_assert_eq(route_split(&r, "localhost:5000", NULL, &reg, &repo), 0);
    cr_assert(slice_eq(reg, "demo1"));
    cr_assert(slice_eq(repo, "team/app"));
    route_parse(&r, "/v2/app/manifests/v1");
    cr_assert_eq(route_split(&r, "localhost:5000", NULL, &reg, &repo), -1);
}

Test(registry_route, host_routing_takes_the_whole_name)
{
    route r;
    route_slice reg, repo;
    route_parse(&r, "/v2/team/app/manifests/v1");
    cr_assert_eq(route_split(&r, "Demo1.Registry.Local:5000", "registry.local", &reg, &repo), 0);
    cr_assert(slice_eq(reg, "Demo1"));
    cr_assert(slice_eq(repo, "team/app"));
    /* a host that is not <name>.<domain> falls back to the path */
    cr_assert_eq(route_split(&r, "other.example:5000", "registry.local", &reg, &repo), 0);
    cr_assert(slice_eq(reg, "team"));
    cr_assert(slice_eq(repo, "app"));
    cr_assert_eq(route_split(&r, "a.b.registry.local", "registry.local", &reg, &repo), 0);
    cr_assert(slice_eq(reg, "team"));
    cr_assert_eq(route_host_registry("registry.local", "registry.local", &reg), -1);
    cr_assert_eq(route_host_registry(NULL, "registry.local", &reg), -1);
}
