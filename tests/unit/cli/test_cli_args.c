/*
 * test_cli_args.c -- pins the command line: option parsing, and that every
 * usage error exits 2 with the message and the verb's usage on stderr,
 * before any config is read or any server is called.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/verbs.h"

static const cli_opt spec[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "NAME"},
    {"sku", NULL, CLI_OPT_VALUE, 0, "SKU"},
    {"identities", NULL, CLI_OPT_MULTI, 0, "ID"},
    {"enable-purge-protection", NULL, CLI_OPT_BOOL, 0, "true|false"},
    {NULL},
};

static int parse(cli_args *a, cli_err *e, int argc, const char **argv)
{
    return cli_args_parse(a, spec, argc, (char **)argv, e);
}

Test(cli_args, values_short_aliases_and_equals_form)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"-n", "reg1", "--sku=Premium", "--query", "name", "-o", "tsv"};
    cr_assert_eq(parse(&a, &e, 7, argv), 0, "%s", e.msg);
    cr_assert_str_eq(cli_args_get(&a, "name"), "reg1");
    cr_assert_str_eq(cli_args_get(&a, "sku"), "Premium");
    cr_assert_str_eq(a.query, "name");
    cr_assert_eq(a.output, CLI_OUT_TSV);
    cr_assert_null(cli_args_get(&a, "identities"));
}

Test(cli_args, output_json_table_tsv)
{
    static const struct {
        const char *word;
        cli_format want;
    } cases[] = {{"json", CLI_OUT_JSON}, {"table", CLI_OUT_TABLE}, {"tsv", CLI_OUT_TSV}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_args a;
        cli_err e = {0};
        const char *argv[] = {"-n", "reg1", "-o", cases[i].word};
        cr_assert_eq(parse(&a, &e, 4, argv), 0, "%s: %s", cases[i].word, e.msg);
        cr_assert_eq(a.output, cases[i].want, "%s", cases[i].word);
        const char *argv2[] = {"--output=table", "-n", "reg1"};
        cr_assert_eq(parse(&a, &e, 3, argv2), 0, "%s", e.msg);
        cr_assert_eq(a.output, CLI_OUT_TABLE);
    }
}

Test(cli_args, multi_values_run_to_the_next_option)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"--identities", "[system]", "mi1", "/identities/mi2", "--name", "r"};
    cr_assert_eq(parse(&a, &e, 6, argv), 0, "%s", e.msg);
    int n;
    const char *const *v = cli_args_multi(&a, "identities", &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[0], "[system]");
    cr_assert_str_eq(v[2], "/identities/mi2");
    cr_assert_str_eq(cli_args_get(&a, "name"), "r");
}

Test(cli_args, boolean_takes_an_optional_value)
{
    cli_args a;
    cli_err e = {0};
    const char *alone[] = {"-n", "v", "--enable-purge-protection"};
    cr_assert_eq(parse(&a, &e, 3, alone), 0, "%s", e.msg);
    cr_assert_eq(cli_args_bool(&a, "enable-purge-protection", &e), 1);
    const char *off[] = {"--enable-purge-protection", "False", "-n", "v"};
    cr_assert_eq(parse(&a, &e, 4, off), 0, "%s", e.msg);
    cr_assert_eq(cli_args_bool(&a, "enable-purge-protection", &e), 0);
    cr_assert_eq(cli_args_bool(&a, "sku", &e), -1); /* absent */
}

Test(cli_args, missing_required_option)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"--sku", "Basic"};
    cr_assert_eq(parse(&a, &e, 2, argv), -1);
    cr_assert_eq(e.usage, 1);
    cr_assert_str_eq(e.msg, "the following arguments are required: --name/-n");
}

Test(cli_args, unknown_option_and_stray_word)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"-n", "x", "--colour", "red"};
    cr_assert_eq(parse(&a, &e, 4, argv), -1);
    cr_assert_str_eq(e.msg, "unrecognized arguments: --colour");
    cli_err e2 = {0};
    const char *argv2[] = {"-n", "x", "extra"};
    cr_assert_eq(parse(&a, &e2, 3, argv2), -1);
    cr_assert_str_eq(e2.msg, "unrecognized arguments: extra");
}

/* --insecure turns TLS verification off, so it is accepted by its full
 * name only: no abbreviation, no value, no short form. */
Test(cli_args, insecure_only_by_its_full_name)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"-n", "x", "--insecure"};
    cr_assert_eq(parse(&a, &e, 3, argv), 0, "%s", e.msg);
    cr_assert_eq(a.insecure, 1);
    const char *argv0[] = {"-n", "x"};
    cr_assert_eq(parse(&a, &e, 2, argv0), 0, "%s", e.msg);
    cr_assert_eq(a.insecure, 0);
    const char *bad[] = {"--insec", "--insecure=true", "-k", "--insecure-tls"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cli_err e2 = {0};
        const char *argv2[] = {"-n", "x", bad[i]};
        cr_assert_eq(parse(&a, &e2, 3, argv2), -1, "accepted %s", bad[i]);
        cr_assert(strstr(e2.msg, "unrecognized arguments") != NULL, "%s", e2.msg);
    }
}

Test(cli_args, value_missing_or_given_twice)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"--sku", "-n", "x"};
    cr_assert_eq(parse(&a, &e, 3, argv), -1);
    cr_assert_str_eq(e.msg, "argument --sku: expected one argument");
    cli_err e2 = {0};
    const char *argv2[] = {"-n", "x", "--name", "y"};
    cr_assert_eq(parse(&a, &e2, 4, argv2), -1);
    cr_assert_str_eq(e2.msg, "argument --name: given more than once");
    cli_err e3 = {0};
    const char *argv3[] = {"-n", "x", "--identities"};
    cr_assert_eq(parse(&a, &e3, 3, argv3), -1);
    cr_assert_str_eq(e3.msg, "argument --identities: expected at least one argument");
}

Test(cli_args, help_wins_over_errors)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"--bogus", "-h"};
    cr_assert_eq(parse(&a, &e, 2, argv), 0);
    cr_assert_eq(a.help, 1);
}

/* ---------------------------------------------------------------- cli_main */

typedef struct run_result {
    int code;
    char *out, *err;
} run_result;

static run_result run_cli(int argc, const char **argv)
{
    run_result r = {0};
    size_t no = 0, ne = 0;
    FILE *out = open_memstream(&r.out, &no), *err = open_memstream(&r.err, &ne);
    r.code = cli_main(argc, (char **)argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* Any config read would fail with exit 1: usage errors must come first. */
static void no_config(void)
{
    setenv("COFFER_CONFIG", "/nonexistent/coffer-unit-test.config", 1);
}

TestSuite(cli_main, .init = no_config);

static void expect_usage(int argc, const char **argv, const char *msg, const char *usage)
{
    run_result r = run_cli(argc, argv);
    cr_assert_eq(r.code, 2, "exit %d, stderr: %s", r.code, r.err);
    cr_assert_not_null(strstr(r.err, msg), "stderr: %s", r.err);
    cr_assert_not_null(strstr(r.err, usage), "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "");
    run_free(&r);
}

Test(cli_main, identity_and_key_must_be_given_together)
{
    const char *a1[] = {"coffer", "acr", "create", "-n", "reg1", "--identity", "mi"};
    expect_usage(7, a1, "Usage error: --identity and --key-encryption-key must be both supplied",
                 "usage: coffer acr create --name/-n NAME");
    const char *a2[] = {"coffer",
                        "acr",
                        "create",
                        "-n",
                        "reg1",
                        "--key-encryption-key",
                        "https://127.0.0.1:8443/keys/k"};
    expect_usage(7, a2, "must be both supplied", "usage: coffer acr create");
}

Test(cli_main, required_options)
{
    const char *a1[] = {"coffer", "keyvault", "key", "show", "--vault-name", "default"};
    expect_usage(6, a1, "the following arguments are required: --name/-n",
                 "usage: coffer keyvault key show --vault-name VAULT --name/-n KEY");
    const char *a2[] = {"coffer", "keyvault", "set-policy", "-n", "v", "--object-id", "o"};
    expect_usage(7, a2, "required: --key-permissions", "usage: coffer keyvault set-policy");
    const char *a3[] = {"coffer", "acr", "encryption", "rotate-key", "-n", "reg1"};
    expect_usage(6, a3, "give --key-encryption-key, --identity or both",
                 "usage: coffer acr encryption rotate-key");
    const char *a4[] = {"coffer", "keyvault", "update", "-n", "v"};
    expect_usage(5, a4,
                 "give --enable-purge-protection, --enable-rbac-authorization, --retention-days, "
                 "--default-action or --bypass",
                 "usage: coffer keyvault update");
}

Test(cli_main, invalid_values)
{
    const char *a1[] = {"coffer", "acr", "create", "-n", "reg1", "--sku", "Gold"};
    expect_usage(7, a1, "argument --sku: invalid choice: 'Gold'", "usage: coffer acr create");
    const char *a2[] = {"coffer", "keyvault", "key", "create", "--vault-name",
                        "v",      "-n",       "k",   "--kty",  "DSA"};
    expect_usage(10, a2, "argument --kty: invalid choice", "usage: coffer keyvault key create");
    const char *a3[] = {"coffer", "keyvault", "key", "create", "--vault-name",
                        "v",      "-n",       "k",   "--size", "big"};
    expect_usage(10, a3, "argument --size: 'big' is not an integer",
                 "usage: coffer keyvault key create");
    const char *a4[] = {"coffer", "keyvault", "key", "set-attributes", "--vault-name",
                        "v",      "-n",       "k",   "--enabled",      "maybe"};
    expect_usage(10, a4, "argument --enabled: invalid value 'maybe'",
                 "usage: coffer keyvault key set-attributes");
    const char *a5[] = {"coffer", "keyvault", "create", "-n", "v", "--retention-days", "3"};
    expect_usage(7, a5, "argument --retention-days: '3' is not an integer in 7..90",
                 "usage: coffer keyvault create");
    const char *a6[] = {"coffer", "identity", "show", "-n", "mi", "-o", "yaml"};
    expect_usage(
        7, a6, "argument --output/-o: invalid choice: 'yaml' (choose from 'json', 'table', 'tsv')",
        "usage: coffer identity show --name/-n NAME [--resource-group/-g GROUP] [--query PATH] "
        "[-o json|table|tsv]");
    const char *a7[] = {"coffer", "identity", "show", "-n", "mi", "--query", "a..b"};
    expect_usage(7, a7, "argument --query: invalid query 'a..b'", "usage: coffer identity show");
    const char *a8[] = {"coffer", "keyvault", "key", "show", "--vault-name", "a.b/c", "-n", "k"};
    expect_usage(8, a8, "argument --vault-name: 'a.b/c' is not a vault name",
                 "usage: coffer keyvault key show");
}

Test(cli_main, unknown_groups_and_verbs)
{
    const char *a1[] = {"coffer", "registry", "list"};
    expect_usage(3, a1, "'registry' is not a coffer group", "usage: coffer GROUP COMMAND");
    const char *a2[] = {"coffer", "acr", "encryption", "spin"};
    expect_usage(4, a2, "'spin' is not a command of 'coffer acr encryption'",
                 "usage: coffer acr encryption COMMAND");
    const char *a3[] = {"coffer", "keyvault", "key"};
    expect_usage(3, a3, "coffer keyvault key: error: a command is required", "set-attributes");
    const char *a4[] = {"coffer", "acr", "show", "extra", "-n", "x"};
    expect_usage(6, a4, "unrecognized arguments: extra", "usage: coffer acr show");
    run_result r = run_cli(1, (const char *[]){"coffer"});
    cr_assert_eq(r.code, 2);
    cr_assert_not_null(strstr(r.err, "usage: coffer GROUP COMMAND"));
    run_free(&r);
}

Test(cli_main, help_goes_to_stdout_with_exit_0)
{
    run_result r = run_cli(2, (const char *[]){"coffer", "--help"});
    cr_assert_eq(r.code, 0);
    static const char *all[] = {"coffer identity create",
                                "coffer identity list",
                                "coffer acr create",
                                "coffer acr update",
                                "coffer acr encryption rotate-key",
                                "coffer acr encryption check",
                                "coffer acr identity assign",
                                "coffer acr identity remove",
                                "coffer keyvault set-policy",
                                "coffer keyvault delete-policy",
                                "coffer keyvault key list-deleted",
                                "coffer keyvault key set-attributes",
                                "coffer keyvault key rotate",
                                "coffer keyvault key purge"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cr_assert_not_null(strstr(r.out, all[i]), "missing %s", all[i]);
    cr_assert_str_eq(r.err, "");
    run_free(&r);

    r = run_cli(3, (const char *[]){"coffer", "acr", "--help"});
    cr_assert_eq(r.code, 0);
    cr_assert_not_null(strstr(r.out, "usage: coffer acr COMMAND"));
    cr_assert_not_null(strstr(r.out, "encryption"));
    run_free(&r);

    r = run_cli(5, (const char *[]){"coffer", "acr", "encryption", "rotate-key", "-h"});
    cr_assert_eq(r.code, 0);
    cr_assert_not_null(strstr(r.out, "usage: coffer acr encryption rotate-key --name/-n NAME "
                                     "[--resource-group/-g GROUP] [--key-encryption-key KEY_URI]"),
                       "%s", r.out);
    run_free(&r);
}

Test(cli_main, version)
{
    run_result r = run_cli(2, (const char *[]){"coffer", "--version"});
    cr_assert_eq(r.code, 0);
    cr_assert_eq(strncmp(r.out, "coffer ", 7), 0);
    run_free(&r);
}

Test(cli_main, config_errors_exit_1_in_the_error_format)
{
    const char *argv[] = {"coffer", "identity", "show", "-n", "mi"};
    run_result r = run_cli(5, argv);
    cr_assert_eq(r.code, 1);
    cr_assert_eq(strncmp(r.err, "ERROR: (ConfigError) cannot read the config file", 48), 0, "%s",
                 r.err);
    run_free(&r);
}

Test(cli_main, connection_errors_exit_1_without_the_token)
{
    setenv("COFFER_CONFIG", "/dev/null", 1);
    setenv("COFFER_URL", "http://127.0.0.1:1", 1);
    setenv("COFFER_TOKEN", "VERY-SECRET-TOKEN", 1);
    const char *argv[] = {"coffer", "identity", "list"};
    run_result r = run_cli(3, argv);
    unsetenv("COFFER_URL");
    unsetenv("COFFER_TOKEN");
    cr_assert_eq(r.code, 1);
    /* the first call asks for the current subscription */
    cr_assert_eq(
        strncmp(r.err, "ERROR: (ConnectionError) cannot reach 127.0.0.1:1/subscriptions", 63), 0,
        "%s", r.err);
    cr_assert_null(strstr(r.err, "VERY-SECRET-TOKEN"));
    cr_assert_str_eq(r.out, "");
    run_free(&r);
}

Test(cli_main, missing_token_is_reported_before_any_call)
{
    setenv("COFFER_CONFIG", "/dev/null", 1);
    unsetenv("COFFER_VAULT_TOKEN");
    /* with its subscription configured, a vault listing needs only keyvaultd */
    setenv("COFFER_SUBSCRIPTION", "00000000-0000-0000-0000-000000000000", 1);
    const char *argv[] = {"coffer", "keyvault", "list"};
    run_result r = run_cli(3, argv);
    unsetenv("COFFER_SUBSCRIPTION");
    cr_assert_eq(r.code, 1);
    cr_assert_not_null(strstr(r.err, "ERROR: (ConfigError) no token for the key vault"), "%s",
                       r.err);
    cr_assert_not_null(strstr(r.err, "COFFER_VAULT_TOKEN"), "%s", r.err);
    run_free(&r);
}

/* ---- registry authentication verbs (docs/cli.md "acr credential", "acr token") ---- */

static const cli_opt token_spec[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "TOKEN"},
    {"registry", "r", CLI_OPT_VALUE, 1, "REGISTRY"},
    {"repository", NULL, CLI_OPT_MULTI, 1, "REPO ACTION..."},
    {0},
};

Test(cli_args, a_repeated_multi_option_keeps_its_occurrences_apart)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"-n",           "ci-push",       "--repository", "app",
                          "content/read", "content/write", "-r",           "reg1",
                          "--repository", "team/*",        "metadata/read"};
    cr_assert_eq(cli_args_parse(&a, token_spec, 11, (char **)argv, &e), 0, "%s", e.msg);
    const char *const *v;
    int n;
    cr_assert_eq(cli_args_occurrence(&a, "repository", 0, &v, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[0], "app");
    cr_assert_str_eq(v[2], "content/write");
    cr_assert_eq(cli_args_occurrence(&a, "repository", 1, &v, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[0], "team/*");
    cr_assert_str_eq(v[1], "metadata/read");
    cr_assert_eq(cli_args_occurrence(&a, "repository", 2, &v, &n), -1);
    cr_assert_eq(cli_args_occurrence(&a, "name", 0, &v, &n), -1); /* not multi-valued */

    json_t *scope = cli_token_scope(&a, &e);
    cr_assert_not_null(scope, "%s", e.msg);
    char *s = json_dumps(scope, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_str_eq(s,
                     "[{\"repository\":\"app\",\"actions\":[\"content/read\",\"content/write\"]},"
                     "{\"repository\":\"team/*\",\"actions\":[\"metadata/read\"]}]");
    free(s);
    json_decref(scope);
}

Test(cli_args, an_empty_second_occurrence_is_a_usage_error)
{
    cli_args a;
    cli_err e = {0};
    const char *argv[] = {"--repository", "app", "content/read", "--repository", "-n", "t1234"};
    cr_assert_eq(cli_args_parse(&a, token_spec, 6, (char **)argv, &e), -1);
    cr_assert_not_null(strstr(e.msg, "argument --repository: expected at least one argument"), "%s",
                       e.msg);
}

Test(cli_main, token_scopes_need_known_actions)
{
    const char *a1[] = {"coffer",  "acr", "token", "create",       "-n",
                        "ci-pull", "-r",  "reg1",  "--repository", "app"};
    expect_usage(10, a1, "expected a repository and at least one action",
                 "usage: coffer acr token create --name/-n TOKEN");
    const char *a2[] = {"coffer", "acr",  "token",        "create", "-n",  "ci-pull",
                        "-r",     "reg1", "--repository", "app",    "pull"};
    expect_usage(11, a2, "invalid action 'pull'", "usage: coffer acr token create");
    const char *a3[] = {"coffer", "acr", "token", "create", "-n", "ci-pull", "-r", "reg1"};
    expect_usage(8, a3, "the following arguments are required: --repository",
                 "usage: coffer acr token create");
}

Test(cli_main, auth_flags_of_acr_update_and_credential_renew)
{
    const char *a1[] = {"coffer", "acr", "update", "-n", "reg1"};
    expect_usage(5, a1, "give --sku, --admin-enabled, --anonymous-pull-enabled or --storage-limit",
                 "usage: coffer acr update");
    const char *a2[] = {"coffer", "acr", "update", "-n", "reg1", "--admin-enabled", "yes"};
    expect_usage(7, a2, "unrecognized arguments: yes", "usage: coffer acr update");
    const char *a3[] = {"coffer", "acr", "update", "-n", "reg1", "--admin-enabled=maybe"};
    expect_usage(6, a3, "argument --admin-enabled: invalid value 'maybe'",
                 "usage: coffer acr update");
    const char *a4[] = {"coffer", "acr",  "credential",      "renew",
                        "-n",     "reg1", "--password-name", "password3"};
    expect_usage(8, a4, "argument --password-name: invalid choice: 'password3'",
                 "usage: coffer acr credential renew");
    const char *a5[] = {"coffer", "acr", "credential", "renew", "-n", "reg1"};
    expect_usage(6, a5, "required: --password-name", "usage: coffer acr credential renew");
    const char *a6[] = {"coffer", "acr", "token", "credential", "generate", "-n", "ci-pull"};
    expect_usage(7, a6, "required: --registry/-r", "usage: coffer acr token credential generate");
}

Test(cli_main, usage_errors_of_the_repository_verbs)
{
    const char *a1[] = {"coffer", "acr", "update", "-n", "reg1", "--storage-limit", "1.5GB"};
    expect_usage(7, a1, "argument --storage-limit: '1.5GB' is not a size",
                 "usage: coffer acr update");
    const char *a2[] = {"coffer", "acr", "repository", "show", "-n", "reg1"};
    expect_usage(6, a2, "Usage error: --image IMAGE | --repository REPOSITORY",
                 "usage: coffer acr repository show");
    const char *a3[] = {"coffer", "acr", "repository", "show-tags", "-n", "reg1"};
    expect_usage(6, a3, "required: --repository", "usage: coffer acr repository show-tags");
    const char *a4[] = {"coffer", "acr", "manifest", "delete", "-n", "reg1/app@sha256:12", "--yes"};
    expect_usage(7, a4, "argument --name: 'reg1/app@sha256:12' is not NAME@DIGEST",
                 "usage: coffer acr manifest delete");
    const char *a5[] = {"coffer", "acr", "manifest", "list-metadata", "-n", "app"};
    expect_usage(6, a5, "'app' names no registry", "usage: coffer acr manifest list-metadata");
    const char *a6[] = {"coffer", "acr", "login", "-n", "reg1", "-u", "tok1"};
    expect_usage(7, a6, "--username and --password must be both supplied",
                 "usage: coffer acr login");
    const char *a7[] = {"coffer", "acr", "repository", "list", "-n", "reg1", "--top", "0"};
    expect_usage(8, a7, "argument --top: '0' is not an integer",
                 "usage: coffer acr repository list");
}

/* ---- --storage-limit SIZE ---- */

Test(cli_size, units_as_the_docs_list_them)
{
    int64_t v = -1;
    cr_assert_eq(cli_size_parse("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(cli_size_parse("none", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(cli_size_parse("1048576", &v), 0);
    cr_assert_eq(v, 1048576);
    cr_assert_eq(cli_size_parse("10B", &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(cli_size_parse("5MB", &v), 0);
    cr_assert_eq(v, 5000000);
    cr_assert_eq(cli_size_parse("5mib", &v), 0);
    cr_assert_eq(v, 5 << 20);
    cr_assert_eq(cli_size_parse("2 GiB", &v), 0);
    cr_assert_eq(v, (int64_t)2 << 30);
    cr_assert_eq(cli_size_parse("3k", &v), 0);
    cr_assert_eq(v, 3000);
    cr_assert_eq(cli_size_parse("1TiB", &v), 0);
    cr_assert_eq(v, (int64_t)1 << 40);
    cr_assert_eq(cli_size_parse("4096TiB", &v), 0);
    cr_assert_eq(v, (int64_t)1 << 52);
}

Test(cli_size, refuses_what_is_not_a_size)
{
    static const char *const bad[] = {
        "",       "-1",   "1.5GiB", "GiB",        "12 parsecs",
        "1  GiB", "0x10", " 1",     "5000000TiB", "99999999999999999999",
        "1GiBx",  "+3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 42;
        cr_assert_eq(cli_size_parse(bad[i], &v), -1, "'%s'", bad[i]);
        cr_assert_eq(v, 42, "'%s' left the output alone", bad[i]);
    }
    cr_assert_eq(cli_size_parse(NULL, &(int64_t){0}), -1);
}

/* cli_args holds CLI_MAX_OPTS options: every verb's list must fit (a list
 * one longer overflowed nvals when its last option was given). */
Test(cli_args, every_verb_fits_cli_max_opts)
{
    const cli_verb *const tables[] = {
        cli_identity_verbs,
        cli_acr_verbs,
        cli_acr_encryption_verbs,
        cli_acr_identity_verbs,
        cli_acr_credential_verbs,
        cli_acr_token_verbs,
        cli_acr_token_credential_verbs,
        cli_keyvault_verbs,
        cli_keyvault_key_verbs,
        cli_keyvault_network_rule_verbs,
        cli_group_verbs,
        cli_account_verbs,
        cli_configure_verbs,
        cli_role_assignment_verbs,
        cli_role_definition_verbs,
        cli_acr_repository_verbs,
        cli_acr_manifest_verbs,
    };
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const cli_verb *v = tables[t]; v->name; v++) {
            int n = 0;
            while (v->opts[n].name)
                n++;
            cr_expect(n <= CLI_MAX_OPTS, "verb '%s' has %d options (CLI_MAX_OPTS %d)", v->name, n,
                      CLI_MAX_OPTS);
        }
}
