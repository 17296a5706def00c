/*
 * cli.c -- the coffer command line: finds the group and verb, parses the
 * verb's options, runs it, and prints its result or its error.
 *
 * A line is `coffer GROUP... VERB [options]`: the leading words (up to the
 * first word that starts with '-') name the group and the verb; the longest
 * group that matches wins ("acr encryption show" is the encryption group's
 * show, not acr's). A group whose verb has an empty name is a command of
 * its own (`coffer configure --defaults group=G`). Exit codes: 0 success, 1 an operation failed
 * (`ERROR: (<Code>) <message>` on stderr), 2 a usage error (message and
 * usage on stderr). `--help` anywhere prints help on stdout and exits 0.
 */
#include <string.h>

#include "base/version.h"
#include "cli/output.h"
#include "cli/verbs.h"

static const cli_group groups[] = {
    {"identity", "User-assigned managed identities (cofferd).", cli_identity_verbs},
    {"acr", "Registries (cofferd).", cli_acr_verbs},
    {"acr encryption", "A registry's customer-managed key.", cli_acr_encryption_verbs},
    {"acr identity", "A registry's managed identities.", cli_acr_identity_verbs},
    {"acr credential", "A registry's admin user.", cli_acr_credential_verbs},
    {"acr token", "Repository-scoped tokens of a registry.", cli_acr_token_verbs},
    {"acr token credential", "A token's passwords.", cli_acr_token_credential_verbs},
    {"acr gc", "Garbage collection of a registry (docs/operations.md).", cli_acr_gc_verbs},
    {"acr config retention", "A registry's retention policy for untagged manifests.",
     cli_acr_config_retention_verbs},
    {"acr repository", "A registry's repositories, tags and images.", cli_acr_repository_verbs},
    {"acr manifest", "A registry's manifests.", cli_acr_manifest_verbs},
    {"acr task", "A registry's tasks: built-in commands on a schedule, runs and their logs.",
     cli_acr_task_verbs},
    {"keyvault", "Vaults, their access policies and soft delete (keyvaultd).", cli_keyvault_verbs},
    {"keyvault key", "Keys in a vault (keyvaultd).", cli_keyvault_key_verbs},
    {"keyvault network-rule", "A vault's network rules (keyvaultd).",
     cli_keyvault_network_rule_verbs},
    {"group", "Resource groups (cofferd).", cli_group_verbs},
    {"account", "Subscriptions (cofferd).", cli_account_verbs},
    {"configure", "The client's defaults (config file).", cli_configure_verbs},
    {"role assignment",
     "Role assignments: management roles (cofferd), Key Vault roles (keyvaultd).",
     cli_role_assignment_verbs},
    {"role definition", "The built-in roles (cofferd's, then keyvaultd's).",
     cli_role_definition_verbs},
    {"ad sp", "Service principals: a tenant's management credentials (cofferd).", cli_ad_sp_verbs},
    {"ad sp credential", "A service principal's password.", cli_ad_sp_credential_verbs},
    {"login", "Log in as a service principal.", cli_login_verbs},
    {"logout", "Forget coffer login's credentials.", cli_logout_verbs},
    {"deployment group", "ARM template deployments to a resource group (docs/templates.md).",
     cli_deployment_group_verbs},
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

/* Number of words in a group name. */
static int group_words(const cli_group *g)
{
    int n = 1;
    for (const char *p = g->name; *p; p++)
        n += *p == ' ';
    return n;
}

/* Whether words[0..k) spell group g. */
static int group_matches(const cli_group *g, char **words, int nwords)
{
    int k = group_words(g);
    if (k > nwords)
        return 0;
    const char *p = g->name;
    for (int i = 0; i < k; i++) {
        size_t l = strlen(words[i]);
        if (strncmp(p, words[i], l) != 0 || (p[l] != ' ' && p[l] != '\0'))
            return 0;
        p += l + (p[l] == ' ');
    }
    return 1;
}

static void print_usage_line(FILE *f, const cli_group *g, const cli_verb *v)
{
    fprintf(f, "usage: coffer %s%s%s", g->name, v->name[0] ? " " : "", v->name);
    for (const cli_opt *o = v->opts; o->name; o++) {
        fputc(' ', f);
        if (!o->required)
            fputc('[', f);
        fprintf(f, "--%s", o->name);
        if (o->shrt)
            fprintf(f, "/-%s", o->shrt);
        if (o->kind == CLI_OPT_VALUE)
            fprintf(f, " %s", o->meta);
        else if (o->kind == CLI_OPT_MULTI)
            fprintf(f, " %s [%s ...]", o->meta, o->meta);
        else
            fprintf(f, " [%s]", o->meta);
        if (!o->required)
            fputc(']', f);
    }
    fputs(" [--query PATH] [-o json|table|tsv]\n", f);
}

static void print_verb_help(FILE *f, const cli_group *g, const cli_verb *v)
{
    print_usage_line(f, g, v);
    fprintf(f,
            "\n%s\n\nexample:\n  %s\n\nglobal options:\n"
            "  --query PATH       print only PATH of the result (e.g. key.kid, [0].name, [].id)\n"
            "  -o json|table|tsv  output format (default json)\n"
            "  --insecure         do not verify the servers' TLS certificates (tests only)\n"
            "  -h, --help         this help\n",
            v->summary, v->example);
}

static void print_group_help(FILE *f, const cli_group *g)
{
    fprintf(f, "usage: coffer %s COMMAND [options]\n\n%s\n\ncommands:\n", g->name, g->summary);
    for (const cli_verb *v = g->verbs; v->name; v++)
        fprintf(f, "  %-16s %s\n", v->name, v->summary);
    size_t gl = strlen(g->name);
    int sub = 0;
    for (size_t i = 0; i < NGROUPS; i++) {
        if (strncmp(groups[i].name, g->name, gl) == 0 && groups[i].name[gl] == ' ') {
            if (!sub++)
                fputs("\nsubgroups:\n", f);
            fprintf(f, "  %-16s %s\n", groups[i].name + gl + 1, groups[i].summary);
        }
    }
    fprintf(f, "\nSee 'coffer %s COMMAND --help'.\n", g->name);
}

static void print_top_help(FILE *f)
{
    fputs(
        "usage: coffer GROUP COMMAND [options] [--query PATH] [-o json|table|tsv]\n"
        "       coffer --version | coffer [GROUP] --help\n\n"
        "The command-line client of cofferd (resource groups, registries, identities) and\n"
        "keyvaultd (vaults, role assignments, keys), with az's verbs. Config: $COFFER_CONFIG or\n"
        "~/.config/coffer/config (url, token, token_file, ca, vault_url, vault_token,\n"
        "vault_token_file, vault_ca, vault_domain, subscription, group, location); environment:\n"
        "COFFER_URL COFFER_TOKEN COFFER_CA COFFER_VAULT_URL COFFER_VAULT_TOKEN COFFER_VAULT_CA\n"
        "COFFER_VAULT_DOMAIN COFFER_SUBSCRIPTION COFFER_DEFAULTS_GROUP COFFER_DEFAULTS_LOCATION.\n"
        "TLS certificates are verified (ca, vault_ca: the CA files; --insecure, by that name\n"
        "only, skips it). Exit codes: 0 ok, 1 failed, 2 usage error.\n",
        f);
    for (size_t i = 0; i < NGROUPS; i++) {
        fprintf(f, "\n%s -- %s\n", groups[i].name, groups[i].summary);
        for (const cli_verb *v = groups[i].verbs; v->name; v++)
            fprintf(f, "  coffer %s%s%s\n", groups[i].name, v->name[0] ? " " : "", v->name);
    }
}

static int run_verb(cli_ctx *c, const cli_group *g, const cli_verb *v, int argc, char **argv)
{
    cli_args a;
    cli_err e = {0};
    json_t *res = NULL, *shown = NULL;
    int code = 0;
    if (cli_args_parse(&a, v->opts, argc, argv, &e) == 0 && a.help) {
        print_verb_help(c->out, g, v);
        return 0;
    }
    if (!e.set && a.insecure) {
        c->insecure = 1;
        fputs("WARNING: --insecure: the servers' TLS certificates are not verified; anyone on "
              "the path can read and change this exchange, tokens included\n",
              c->err);
    }
    if (e.set || (a.query && cli_query_check(a.query, &e)) || v->run(c, &a, &res, &e))
        goto fail;
    if (a.query) {
        if (cli_query_eval(res, a.query, &shown, &e))
            goto fail;
    } else {
        shown = res ? json_incref(res) : NULL;
    }
    /* the verb's table columns fit its own result, not what --query made of it */
    cli_output_print(c->out, shown, a.output, a.query ? NULL : v->table);
    goto out;
fail:
    if (e.usage) {
        fprintf(c->err, "coffer %s%s%s: error: %s\n", g->name, v->name[0] ? " " : "", v->name,
                e.msg);
        print_usage_line(c->err, g, v);
        code = 2;
    } else {
        fprintf(c->err, "ERROR: (%s) %s\n", e.code, e.msg);
        code = 1;
    }
out:
    json_decref(res);
    json_decref(shown);
    return code;
}

static int has_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    cli_ctx c = {.out = out, .err = err};
    int nwords = 0, code;
    char **words = argv + 1;
    if (argc < 2) {
        print_top_help(err);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        fprintf(out, "coffer %s\n", COFFER_VERSION);
        return 0;
    }
    while (1 + nwords < argc && argv[1 + nwords][0] != '-')
        nwords++;
    const cli_group *g = NULL;
    for (size_t i = 0; i < NGROUPS; i++)
        if (group_matches(&groups[i], words, nwords) &&
            (g == NULL || group_words(&groups[i]) > group_words(g)))
            g = &groups[i];
    int rest = argc - 1 - nwords;
    char **restv = argv + 1 + nwords;
    if (g == NULL) {
        if (nwords == 0 && has_help(rest, restv)) {
            print_top_help(out);
            return 0;
        }
        if (nwords == 0)
            fprintf(err, "coffer: error: unrecognized arguments: %.200s\n", argv[1]);
        else
            fprintf(err, "coffer: error: '%.200s' is not a coffer group. See 'coffer --help'.\n",
                    words[0]);
        print_top_help(err);
        return 2;
    }
    int gw = group_words(g);
    const cli_verb *v = NULL;
    if (nwords > gw)
        for (v = g->verbs; v->name && strcmp(v->name, words[gw]) != 0; v++)
            ;
    else if (g->verbs[0].name && g->verbs[0].name[0] == '\0')
        v = &g->verbs[0]; /* a group that is its own command (coffer configure) */
    if (v == NULL || v->name == NULL) {
        if (nwords == gw && has_help(rest, restv)) {
            print_group_help(out, g);
            return 0;
        }
        if (nwords == gw)
            fprintf(err, "coffer %s: error: a command is required\n", g->name);
        else
            fprintf(err, "coffer %s: error: '%.200s' is not a command of 'coffer %s'\n", g->name,
                    words[gw], g->name);
        print_group_help(err, g);
        return 2;
    }
    if (nwords > gw + 1) {
        fprintf(err, "coffer %s %s: error: unrecognized arguments: %.200s\n", g->name, v->name,
                words[gw + 1]);
        print_usage_line(err, g, v);
        return 2;
    }
    code = run_verb(&c, g, v, rest, restv);
    if (c.cfg_loaded)
        cli_config_free(&c.cfg);
    return code;
}
