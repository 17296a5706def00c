/*
 * test_cli_imageref.c -- image references as the acr verbs take them
 * (imageref.h): NAME:TAG and NAME@DIGEST as az parses them (the tag after
 * the last '/', `latest` by default where az has it), and which registry a
 * name without --registry names: REGISTRY/REPO, or a registry's login
 * server (path or host routed) before /REPO.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cli/imageref.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

Test(cli_imageref, names_tags_and_digests)
{
    cli_image m;
    cli_err e = {0};
    cr_assert_eq(cli_image_parse(&m, "team/app:v1", 1, 1, "--image", &e), 0, "%s", e.msg);
    cr_assert_str_eq(m.name, "team/app");
    cr_assert_str_eq(m.tag, "v1");
    cr_assert_str_eq(m.digest, "");
    cr_assert_eq(cli_image_parse(&m, "team/app@" D64, 1, 1, "--image", &e), 0, "%s", e.msg);
    cr_assert_str_eq(m.name, "team/app");
    cr_assert_str_eq(m.tag, "");
    cr_assert_str_eq(m.digest, D64);
    cr_assert_eq(cli_image_parse(&m, "app", 1, 1, "--image", &e), 0);
    cr_assert_str_eq(m.tag, "latest", "az's default tag");
    cr_assert_eq(cli_image_parse(&m, "app", 0, 0, "--name", &e), 0);
    cr_assert_str_eq(m.tag, "", "no default where az has none");
    /* a port's colon is not a tag's */
    cr_assert_eq(cli_image_parse(&m, "127.0.0.1:5000/reg1/app", 0, 0, "--name", &e), 0);
    cr_assert_str_eq(m.name, "127.0.0.1:5000/reg1/app");
    cr_assert_str_eq(m.tag, "");
    cr_assert_eq(cli_image_parse(&m, "127.0.0.1:5000/reg1/app:v2", 1, 1, "--name", &e), 0);
    cr_assert_str_eq(m.name, "127.0.0.1:5000/reg1/app");
    cr_assert_str_eq(m.tag, "v2");
}

Test(cli_imageref, refuses_malformed_references_as_usage_errors)
{
    static const char *const bad[] = {
        "app@sha256:abc",
        "app@md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "app:",
        ":v1",
        "app:-v1",
        "app:v 1",
        "team/",
        "app@" D64 "0",
        "@" D64};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cli_image m;
        cli_err e = {0};
        cr_assert_eq(cli_image_parse(&m, bad[i], 1, 1, "--image", &e), -1, "'%s'", bad[i]);
        cr_assert(e.usage, "'%s' is a usage error", bad[i]);
        cr_assert(strstr(e.msg, "--image") != NULL, "%s", e.msg);
    }
    cli_image m;
    cli_err e = {0};
    cr_assert_eq(cli_image_parse(&m, "app@" D64, 0, 0, "--name", &e), -1, "no digest here");
}

Test(cli_imageref, a_name_says_its_registry)
{
    static const char *const ls[] = {"127.0.0.1:5000/reg1", "127.0.0.1:5000/reg10",
                                     "reg2.registry.example"};
    static const char *const names[] = {"reg1", "reg10", "reg2"};
    const char *reg, *repo;
    size_t rl;
    cli_err e = {0};
    cr_assert_eq(cli_image_split("reg1/team/app", NULL, NULL, 0, &reg, &rl, &repo, &e), 0);
    cr_assert_eq(rl, 4);
    cr_assert_eq(strncmp(reg, "reg1", rl), 0);
    cr_assert_str_eq(repo, "team/app");
    cr_assert_eq(cli_image_split("127.0.0.1:5000/reg10/app", ls, names, 3, &reg, &rl, &repo, &e),
                 0);
    cr_assert_str_eq(reg, "reg10", "the longest login server, not reg1's prefix");
    cr_assert_str_eq(repo, "app");
    cr_assert_eq(cli_image_split("https://reg2.registry.example/team/app", ls, names, 3, &reg, &rl,
                                 &repo, &e),
                 0);
    cr_assert_str_eq(reg, "reg2");
    cr_assert_str_eq(repo, "team/app");
    cr_assert_eq(cli_image_has_host("localhost/reg1/app"), 1);
    cr_assert_eq(cli_image_has_host("reg1/app"), 0);

    cli_err u = {0};
    cr_assert_eq(cli_image_split("app", NULL, NULL, 0, &reg, &rl, &repo, &u), -1);
    cr_assert(u.usage);
    cli_err f = {0};
    cr_assert_eq(cli_image_split("127.0.0.1:6000/reg1/app", ls, names, 3, &reg, &rl, &repo, &f),
                 -1);
    cr_assert_str_eq(f.code, "RegistryNotFound");
    cli_err g = {0};
    cr_assert_eq(cli_image_split("127.0.0.1:5000/reg1", ls, names, 3, &reg, &rl, &repo, &g), -1,
                 "a login server with no repository");
}
