/*
 * test_cli_config.c -- pins the coffer client's configuration: the file
 * format, what it refuses, the environment overrides, token files, and how
 * a vault name becomes the keys API's base URL.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../test_tmpdir.h"
#include "cli/config.h"

static char dir[128];
static const char *vars[] = {"COFFER_CONFIG",
                             "COFFER_URL",
                             "COFFER_TOKEN",
                             "COFFER_CA",
                             "COFFER_VAULT_URL",
                             "COFFER_VAULT_TOKEN",
                             "COFFER_VAULT_CA",
                             "COFFER_VAULT_DOMAIN",
                             "COFFER_SUBSCRIPTION",
                             "COFFER_DEFAULTS_GROUP",
                             "COFFER_DEFAULTS_LOCATION"};

static void setup(void)
{
    test_tmpdir_make(dir, sizeof(dir), "cliconf");
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("HOME", dir, 1); /* no ~/.config/coffer/config there */
}

static void teardown(void)
{
    test_tmpdir_remove(dir);
}

/* Writes text to DIR/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

TestSuite(cli_config, .init = setup, .fini = teardown);

Test(cli_config, defaults_without_a_file)
{
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.url, "http://127.0.0.1:5001");
    cr_assert_str_eq(c.vault_url, "https://127.0.0.1:8443");
    cr_assert_str_eq(c.vault_domain, "vault.localhost");
    cr_assert_null(c.token);
    cr_assert_null(c.vault_token);
    cr_assert_null(c.vault_ca);
    cr_assert_null(c.ca);
    cli_config_free(&c);
}

Test(cli_config, reads_keys_comments_and_spacing)
{
    setenv("COFFER_CONFIG",
           write_file("cfg",
                      "# a comment\n\n  url =  http://10.0.0.1:5001/  \n"
                      "token=abc\nca = /etc/coffer-ca.pem\nvault_url = https://kv.example:9443\n"
                      "vault_token = vt\nvault_ca = /etc/ca.pem\nvault_domain = vault.test\n"),
           1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.url, "http://10.0.0.1:5001"); /* trailing slash dropped */
    cr_assert_str_eq(c.token, "abc");
    cr_assert_str_eq(c.ca, "/etc/coffer-ca.pem");
    cr_assert_str_eq(c.vault_url, "https://kv.example:9443");
    cr_assert_str_eq(c.vault_token, "vt");
    cr_assert_str_eq(c.vault_ca, "/etc/ca.pem");
    cr_assert_str_eq(c.vault_domain, "vault.test");
    cli_config_free(&c);
}

Test(cli_config, environment_overrides_the_file)
{
    setenv(
        "COFFER_CONFIG",
        write_file("cfg",
                   "url = http://a:1\ntoken = filetoken\nca = /fca.pem\nvault_url = https://b:2\n"
                   "vault_token = filevt\nvault_ca = /f.pem\nvault_domain = f.test\n"),
        1);
    setenv("COFFER_URL", "http://envhost:5001", 1);
    setenv("COFFER_TOKEN", "envtoken", 1);
    setenv("COFFER_CA", "/envca.pem", 1);
    setenv("COFFER_VAULT_URL", "https://envkv:8443", 1);
    setenv("COFFER_VAULT_TOKEN", "envvt", 1);
    setenv("COFFER_VAULT_CA", "/env.pem", 1);
    setenv("COFFER_VAULT_DOMAIN", "env.test", 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.url, "http://envhost:5001");
    cr_assert_str_eq(c.token, "envtoken");
    cr_assert_str_eq(c.ca, "/envca.pem");
    cr_assert_str_eq(c.vault_url, "https://envkv:8443");
    cr_assert_str_eq(c.vault_token, "envvt");
    cr_assert_str_eq(c.vault_ca, "/env.pem");
    cr_assert_str_eq(c.vault_domain, "env.test");
    cli_config_free(&c);
}

Test(cli_config, empty_environment_variable_counts_as_unset)
{
    setenv("COFFER_CONFIG", write_file("cfg", "url = http://filehost:1\n"), 1);
    setenv("COFFER_URL", "", 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.url, "http://filehost:1");
    cli_config_free(&c);
}

Test(cli_config, token_files_are_read_and_trimmed)
{
    char cfg[512];
    const char *tf = write_file("admin.token", "s3cret-token\n");
    char tfp[256];
    snprintf(tfp, sizeof(tfp), "%s", tf);
    const char *vtf = write_file("vault.token", "vault-secret  \n\n");
    snprintf(cfg, sizeof(cfg), "token_file = %s\nvault_token_file = %s\n", tfp, vtf);
    setenv("COFFER_CONFIG", write_file("cfg", cfg), 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.token, "s3cret-token");
    cr_assert_str_eq(c.vault_token, "vault-secret");
    cli_config_free(&c);
}

Test(cli_config, environment_token_wins_over_a_token_file)
{
    setenv("COFFER_CONFIG", write_file("cfg", "token_file = /nonexistent/token\n"), 1);
    setenv("COFFER_TOKEN", "from-env", 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg); /* the file is never read */
    cr_assert_str_eq(c.token, "from-env");
    cli_config_free(&c);
}

Test(cli_config, missing_token_file_is_an_error_naming_the_file)
{
    setenv("COFFER_CONFIG", write_file("cfg", "vault_token_file = /nonexistent/vt\n"), 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_str_eq(e.code, "ConfigError");
    cr_assert_not_null(strstr(e.msg, "/nonexistent/vt"), "%s", e.msg);
    cr_assert_eq(e.usage, 0);
}

Test(cli_config, refuses_unknown_keys_with_the_line)
{
    setenv("COFFER_CONFIG", write_file("cfg", "url = http://a:1\n# x\nvault_urll = https://b\n"),
           1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_str_eq(e.code, "ConfigError");
    cr_assert_not_null(strstr(e.msg, ":3: unknown key 'vault_urll'"), "%s", e.msg);
}

Test(cli_config, refuses_a_line_without_equals_and_an_empty_value)
{
    cli_config c = {0};
    cli_err e = {0};
    cr_assert_eq(cli_config_parse(&c, "url http://a\n", "f", &e), -1);
    cr_assert_not_null(strstr(e.msg, "f:1: expected 'key = value'"), "%s", e.msg);
    cli_config_free(&c);
    cli_err e2 = {0};
    cr_assert_eq(cli_config_parse(&c, "\n\ntoken =   \n", "f", &e2), -1);
    cr_assert_not_null(strstr(e2.msg, "f:3: 'token' has no value"), "%s", e2.msg);
    cli_config_free(&c);
}

Test(cli_config, refuses_token_and_token_file_together)
{
    cli_config c = {0};
    cli_err e = {0};
    cr_assert_eq(cli_config_parse(&c, "token = a\ntoken_file = /x\n", "f", &e), -1);
    cr_assert_not_null(strstr(e.msg, "token or token_file, not both"), "%s", e.msg);
    cli_config_free(&c);
    cli_err e2 = {0};
    cr_assert_eq(cli_config_parse(&c, "vault_token_file = /x\nvault_token = a\n", "f", &e2), -1);
    cr_assert_not_null(strstr(e2.msg, "vault_token or vault_token_file"), "%s", e2.msg);
    cli_config_free(&c);
}

Test(cli_config, error_messages_never_carry_the_token)
{
    setenv("COFFER_CONFIG", write_file("cfg", "token = TOPSECRET\nbogus = 1\n"), 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_null(strstr(e.msg, "TOPSECRET"), "%s", e.msg);
}

Test(cli_config, named_config_file_must_exist)
{
    setenv("COFFER_CONFIG", "/nonexistent/coffer.config", 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_str_eq(e.code, "ConfigError");
    cr_assert_not_null(strstr(e.msg, "/nonexistent/coffer.config"), "%s", e.msg);
}

Test(cli_config, default_file_under_home_is_read)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/.config", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/.config/coffer", dir);
    mkdir(p, 0700);
    write_file(".config/coffer/config", "url = http://home:7\n");
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.url, "http://home:7");
    cli_config_free(&c);
}

Test(cli_config, urls_must_have_the_right_scheme)
{
    setenv("COFFER_VAULT_URL", "http://127.0.0.1:8443", 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_not_null(strstr(e.msg, "vault_url"), "%s", e.msg);
    unsetenv("COFFER_VAULT_URL");
    setenv("COFFER_URL", "ftp://x", 1);
    cli_err e2 = {0};
    cr_assert_eq(cli_config_load(&c, &e2), -1);
    cr_assert_not_null(strstr(e2.msg, "url 'ftp://x'"), "%s", e2.msg);
}

Test(cli_config, vault_base_urls)
{
    setenv("COFFER_VAULT_URL", "https://127.0.0.1:9443/", 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    char *u = NULL;
    cr_assert_eq(cli_config_vault_base(&c, "default", &u, &e), 0);
    cr_assert_str_eq(u, "https://127.0.0.1:9443");
    free(u);
    cr_assert_eq(cli_config_vault_base(&c, "myvault", &u, &e), 0);
    cr_assert_str_eq(u, "https://myvault.vault.localhost:9443");
    free(u);
    cli_config_free(&c);

    setenv("COFFER_VAULT_URL", "https://[::1]:7443", 1);
    setenv("COFFER_VAULT_DOMAIN", "kv.test", 1);
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_eq(cli_config_vault_base(&c, "v-2", &u, &e), 0);
    cr_assert_str_eq(u, "https://v-2.kv.test:7443");
    free(u);
    cli_config_free(&c);

    setenv("COFFER_VAULT_URL", "https://kv.example", 1);
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_eq(cli_config_vault_base(&c, "abc", &u, &e), 0);
    cr_assert_str_eq(u, "https://abc.kv.test");
    free(u);
    cli_config_free(&c);
}

Test(cli_config, vault_names_cannot_change_the_host)
{
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    char *u = NULL;
    cr_assert_eq(cli_config_vault_base(&c, "evil.example.com/x", &u, &e), -1);
    cr_assert_null(u);
    cr_assert_eq(e.usage, 1);
    cr_assert_not_null(strstr(e.msg, "--vault-name"), "%s", e.msg);
    cli_config_free(&c);
}

Test(cli_config, defaults_of_subscription_group_and_location)
{
    const char *p = write_file("c", "subscription = AAAA0A0A-BB1B-CC2C-DD3D-EEEEEE4E4E4E\n"
                                    "group = myresourcegroup\nlocation = eastus\n");
    setenv("COFFER_CONFIG", p, 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.subscription, "AAAA0A0A-BB1B-CC2C-DD3D-EEEEEE4E4E4E");
    cr_assert_str_eq(c.group, "myresourcegroup");
    cr_assert_str_eq(c.location, "eastus");
    cli_config_free(&c);
    setenv("COFFER_DEFAULTS_GROUP", "other", 1);
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.group, "other");
    cli_config_free(&c);
    unsetenv("COFFER_DEFAULTS_GROUP");
}

Test(cli_config, refuses_a_subscription_that_is_no_uuid_and_a_bad_group)
{
    setenv("COFFER_CONFIG", write_file("c", "subscription = mysubscription\n"), 1);
    cli_config c;
    cli_err e = {0};
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_str_eq(e.code, "ConfigError");
    cr_assert_not_null(strstr(e.msg, "mysubscription"));
    memset(&e, 0, sizeof(e));
    setenv("COFFER_CONFIG", write_file("c", "group = my/group\n"), 1);
    cr_assert_eq(cli_config_load(&c, &e), -1);
    cr_assert_not_null(strstr(e.msg, "not a resource group name"));
}

Test(cli_config, write_replaces_one_key_and_keeps_the_rest)
{
    const char *p = write_file("c", "# mine\nurl = http://127.0.0.1:9\ngroup = old\n"
                                    "token = SECRET\n");
    setenv("COFFER_CONFIG", p, 1);
    cli_err e = {0};
    cr_assert_eq(cli_config_write("group", "new", &e), 0, "%s", e.msg);
    cr_assert_eq(cli_config_write("location", "eastus", &e), 0, "%s", e.msg);
    cli_config c;
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.group, "new");
    cr_assert_str_eq(c.location, "eastus");
    cr_assert_str_eq(c.url, "http://127.0.0.1:9");
    cr_assert_str_eq(c.token, "SECRET");
    cli_config_free(&c);
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);
    /* an empty value removes the key */
    cr_assert_eq(cli_config_write("group", "", &e), 0, "%s", e.msg);
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_null(c.group);
    cli_config_free(&c);
    FILE *f = fopen(p, "r");
    char text[512] = {0};
    cr_assert_gt(fread(text, 1, sizeof(text) - 1, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(text, "# mine\n"));
    cr_assert_null(strstr(text, "group"));
}

Test(cli_config, write_creates_the_default_file_under_home)
{
    cli_err e = {0};
    cr_assert_eq(cli_config_write("group", "g1", &e), 0, "%s", e.msg);
    char p[256];
    snprintf(p, sizeof(p), "%s/.config/coffer/config", dir);
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);
    cli_config c;
    cr_assert_eq(cli_config_load(&c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.group, "g1");
    cli_config_free(&c);
}
