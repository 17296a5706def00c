/*
 * test_cli_authfile.c -- where `acr login` writes and how (authfile.h):
 * the default paths podman and skopeo read, an entry set among others
 * that are kept, mode 0600, directories made, and a file that is not an
 * auth file refused and left as it was.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test_tmpdir.h"
#include "cli/authfile.h"

static char dir[256];

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "authfile");
}

static void teardown(void)
{
    test_tmpdir_remove(dir);
}

TestSuite(cli_authfile, .init = setup, .fini = teardown);

static json_t *load(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    cr_assert_not_null(j, "%s: %s", path, je.text);
    return j;
}

Test(cli_authfile, default_paths_follow_the_environment)
{
    char p[512];
    setenv("REGISTRY_AUTH_FILE", "/x/auth.json", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    cr_assert_eq(cli_authfile_path(p, sizeof(p)), 0);
    cr_assert_str_eq(p, "/x/auth.json");
    setenv("REGISTRY_AUTH_FILE", "", 1);
    cr_assert_eq(cli_authfile_path(p, sizeof(p)), 0);
    cr_assert_str_eq(p, "/run/user/7/containers/auth.json");
    unsetenv("REGISTRY_AUTH_FILE");
    unsetenv("XDG_RUNTIME_DIR");
    cr_assert_eq(cli_authfile_path(p, sizeof(p)), 0);
    char want[64];
    snprintf(want, sizeof(want), "/run/containers/%u/auth.json", (unsigned)getuid());
    cr_assert_str_eq(p, want);
    cr_assert_eq(cli_authfile_path(p, 8), -1, "too long for the buffer");

    setenv("DOCKER_CONFIG", dir, 1);
    cr_assert_eq(cli_docker_config_path(p, sizeof(p)), 0, "absent");
    char cfg[512];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    FILE *f = fopen(cfg, "w");
    fputs("{}", f);
    fclose(f);
    cr_assert_eq(cli_docker_config_path(p, sizeof(p)), 1);
    cr_assert_str_eq(p, cfg);
    unsetenv("DOCKER_CONFIG");
}

Test(cli_authfile, sets_one_entry_and_keeps_the_rest)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/auth.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"auths\":{\"other:5000\":{\"auth\":\"b3RoZXI6eA==\"},\"127.0.0.1:5000/reg1\":"
          "{\"auth\":\"old\"}},\"credHelpers\":{\"gcr.io\":\"gcloud\"},\"credsStore\":\"pass\"}",
          f);
    fclose(f);
    chmod(path, 0644);
    char store[32];
    cli_err e = {0};
    cr_assert_eq(
        cli_authfile_store(path, "127.0.0.1:5000/reg1", "reg1", "pa:ss", store, sizeof(store), &e),
        0, "%s", e.msg);
    cr_assert_str_eq(store, "pass");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    json_t *j = load(path);
    json_t *auths = json_object_get(j, "auths");
    cr_assert_eq(json_object_size(auths), 2);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(auths, "other:5000"), "auth")),
        "b3RoZXI6eA==");
    /* base64("reg1:pa:ss"): the password may hold a colon */
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(auths, "127.0.0.1:5000/reg1"), "auth")),
        "cmVnMTpwYTpzcw==");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "credHelpers"), "gcr.io")), "gcloud");
    json_decref(j);
}

Test(cli_authfile, makes_the_file_and_its_directory)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/xdg/containers/auth.json", dir);
    cli_err e = {0};
    cr_assert_eq(cli_authfile_store(path, "reg.example", "u", "p", NULL, 0, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char d2[512];
    snprintf(d2, sizeof(d2), "%s/xdg/containers", dir);
    cr_assert_eq(stat(d2, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    json_t *j = load(path);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(j, "auths"), "reg.example"), "auth")),
                     "dTpw");
    json_decref(j);
}

Test(cli_authfile, refuses_a_file_that_is_not_an_auth_file)
{
    static const char *const bad[] = {"[1,2]", "{\"auths\":[]}", "{not json", "{\"a\":1,\"a\":2}"};
    char path[512];
    snprintf(path, sizeof(path), "%s/auth.json", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        cli_err e = {0};
        cr_assert_eq(cli_authfile_store(path, "reg.example", "u", "p", NULL, 0, &e), -1, "%s",
                     bad[i]);
        cr_assert_str_eq(e.code, "ConfigError");
        char got[64] = {0};
        f = fopen(path, "r");
        cr_assert_not_null(fgets(got, sizeof(got), f));
        fclose(f);
        cr_assert_str_eq(got, bad[i], "left unchanged");
    }
}
