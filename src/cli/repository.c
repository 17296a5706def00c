/*
 * repository.c -- `coffer acr repository` and `coffer acr manifest`: a
 * registry's repositories, tags and manifests, as az prints them
 * (docs/cli.md "acr repository", "acr manifest").
 *
 * az reaches these through the registry's data plane (/acr/v1/...) with a
 * token it exchanges for the caller's Azure AD login; coffer's CLI holds
 * cofferd's management token instead, so it calls the management API's
 * repository endpoints (docs/control-plane.md "Repositories"), which answer
 * ACR's attribute shapes, and works whether or not the registry's admin
 * user is enabled. What az does on the client side, this does too: it
 * follows the pages of a list (`--top` stops early), turns tags and
 * manifests into az's short forms unless `--detail`, resolves `--image
 * REPO:TAG` to its digest before deleting the manifest, and asks before a
 * delete unless `--yes` (without a terminal, it refuses, as az does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/imageref.h"
#include "cli/verbs.h"

#define PAGE 100

/* A repository name as it may appear in a path: the grammar's characters
 * (cofferd checks the grammar itself). */
static int repo_chars_ok(const char *s)
{
    if (*s == '\0' || strlen(s) > 255)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
              *s == '-' || *s == '/'))
            return 0;
    return 1;
}

/* The ARM path of registry reg (reg_len bytes) into base: in -g, else
 * found in the subscription, as every acr verb (cli_registry_path). */
static int reg_base(cli_ctx *c, const cli_args *a, const char *reg, size_t reg_len, char *base,
                    size_t n, cli_err *e)
{
    char name[128];
    if (reg_len == 0 || reg_len >= sizeof(name))
        return cli_usage(e, "'%.*s' is not a registry name", (int)(reg_len > 64 ? 64 : reg_len),
                         reg);
    memcpy(name, reg, reg_len);
    name[reg_len] = '\0';
    return cli_resource_path(c, a, cli_mgmt, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY, name, 0, base, n,
                             e);
}

/* "BASE/repositories[/REPO][SUFFIX]" into p (base: reg_base's). */
static int repo_path(char *p, size_t n, const char *base, const char *repo, const char *suffix,
                     cli_err *e)
{
    if (strlen(base) >= n)
        return cli_usage(e, "a name is too long");
    snprintf(p, n, "%s", base);
    if (repo && !repo_chars_ok(repo))
        return cli_usage(e,
                         "'%.200s' is not a repository name (lower-case letters, digits, '.', "
                         "'_', '-' and '/')",
                         repo);
    size_t have = strlen(p);
    int w = snprintf(p + have, n - have, "/repositories%s%s%s", repo ? "/" : "", repo ? repo : "",
                     suffix ? suffix : "");
    if (w < 0 || (size_t)w >= n - have)
        return cli_usage(e, "a name is too long");
    return 0;
}

/* GET path?n=…, then each nextLink: the `member` arrays of every page
 * joined, at most top items (top 0: all). */
static int get_all(cli_ctx *c, const char *path, const char *member, long top, json_t **out,
                   cli_err *e)
{
    char url[2048];
    long want = top > 0 && top < PAGE ? top : PAGE;
    snprintf(url, sizeof(url), "%s?n=%ld", path, want);
    json_t *all = json_array();
    for (;;) {
        json_t *r = NULL;
        if (cli_mgmt(c, "GET", url, NULL, &r, e)) {
            json_decref(all);
            return -1;
        }
        json_t *items = json_object_get(r, member);
        if (!json_is_array(items)) {
            json_decref(r);
            json_decref(all);
            return cli_fail(e, "InvalidResponse", "the answer to GET %.200s has no %s list", path,
                            member);
        }
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v)
        {
            if (top > 0 && (long)json_array_size(all) >= top)
                break;
            json_array_append(all, v);
        }
        /* the next page of the same list: path?last=... */
        const char *next = json_string_value(json_object_get(r, "nextLink"));
        int more = next && strncmp(next, path, strlen(path)) == 0 && next[strlen(path)] == '?' &&
                   strlen(next) < sizeof(url) && (top <= 0 || (long)json_array_size(all) < top);
        if (more)
            snprintf(url, sizeof(url), "%s", next);
        json_decref(r);
        if (!more)
            break;
    }
    *out = all;
    return 0;
}

/* --top N (1..100000); 0 when absent. */
static int top_of(const cli_args *a, long *top, cli_err *e)
{
    *top = 0;
    return cli_args_int(a, "top", 1, 100000, top, e) < 0 ? -1 : 0;
}

/* Before any call: a delete without --yes needs a terminal to ask on
 * (az's user_confirmation refuses otherwise). */
static int confirm_possible(const cli_args *a, cli_err *e)
{
    int yes = cli_args_bool(a, "yes", e);
    if (yes == -2)
        return -1;
    if (yes != 1 && !isatty(STDIN_FILENO))
        return cli_usage(e, "Unable to prompt for confirmation as no tty available. Use --yes.");
    return 0;
}

/* --yes, else a y/n answer on the terminal: 1 to go on, 0 when the answer
 * is no (nothing is deleted, nothing printed). */
static int confirm(cli_ctx *c, const cli_args *a, const char *question, cli_err *e)
{
    if (cli_args_bool(a, "yes", e) == 1)
        return 1;
    fprintf(c->err, "%s (y/n): ", question);
    fflush(c->err);
    char line[16];
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

/* --repository R xor --image IMAGE (az's usage error otherwise). */
static int repo_or_image(const cli_args *a, const char **repo, cli_image *img, int *is_image,
                         cli_err *e)
{
    *repo = cli_args_get(a, "repository");
    const char *image = cli_args_get(a, "image");
    if ((*repo == NULL) == (image == NULL))
        return cli_usage(e, "Usage error: --image IMAGE | --repository REPOSITORY");
    *is_image = image != NULL;
    if (image && cli_image_parse(img, image, 1, 1, "--image", e))
        return -1;
    return 0;
}

/* ---- acr repository ---- */

static int run_list(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *reg = cli_args_get(a, "name");
    char base[1024], p[1024];
    long top;
    if (top_of(a, &top, e) || reg_base(c, a, reg, strlen(reg), base, sizeof(base), e) ||
        repo_path(p, sizeof(p), base, NULL, NULL, e))
        return -1;
    return get_all(c, p, "repositories", top, res, e);
}

/* GET one tag's or manifest's attributes: body.tag / body.manifest. */
static int get_member(cli_ctx *c, const char *path, const char *member, json_t **res, cli_err *e)
{
    json_t *r = NULL;
    if (cli_mgmt(c, "GET", path, NULL, &r, e))
        return -1;
    json_t *v = json_object_get(r, member);
    *res = v ? json_incref(v) : NULL;
    json_decref(r);
    if (*res == NULL)
        return cli_fail(e, "InvalidResponse", "the answer to GET %.200s has no %s", path, member);
    return 0;
}

/* The attributes --image names: a tag's (REPO:TAG) or a manifest's
 * (REPO@DIGEST), as az's repository show and manifest show-metadata. */
static int image_attributes(cli_ctx *c, const char *base, const char *repo, const cli_image *img,
                            json_t **res, cli_err *e)
{
    char suffix[200], p[1024];
    snprintf(suffix, sizeof(suffix), "/%s/%s", img->digest[0] ? "_manifests" : "_tags",
             img->digest[0] ? img->digest : img->tag);
    if (repo_path(p, sizeof(p), base, repo, suffix, e))
        return -1;
    return get_member(c, p, img->digest[0] ? "manifest" : "tag", res, e);
}

static int run_show(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *reg = cli_args_get(a, "name"), *repo;
    cli_image img;
    int is_image;
    char base[1024], p[1024];
    if (repo_or_image(a, &repo, &img, &is_image, e) ||
        reg_base(c, a, reg, strlen(reg), base, sizeof(base), e))
        return -1;
    if (is_image)
        return image_attributes(c, base, img.name, &img, res, e);
    if (repo_path(p, sizeof(p), base, repo, NULL, e))
        return -1;
    return cli_mgmt(c, "GET", p, NULL, res, e);
}

/* Every page of a repository's `member` ("tags" or "manifests"), and
 * whether --detail asks for the attributes as they are. */
static int repo_list(cli_ctx *c, const cli_args *a, const char *member, json_t **all, int *detail,
                     cli_err *e)
{
    const char *reg = cli_args_get(a, "name"), *repo = cli_args_get(a, "repository");
    char base[1024], p[1024], suffix[16];
    long top;
    snprintf(suffix, sizeof(suffix), "/_%s", member);
    *detail = cli_args_bool(a, "detail", e);
    if (*detail == -2 || top_of(a, &top, e) ||
        reg_base(c, a, reg, strlen(reg), base, sizeof(base), e) ||
        repo_path(p, sizeof(p), base, repo, suffix, e))
        return -1;
    return get_all(c, p, member, top, all, e);
}

static int run_show_tags(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *all = NULL;
    int detail;
    if (repo_list(c, a, "tags", &all, &detail, e))
        return -1;
    if (detail == 1) {
        *res = all;
        return 0;
    }
    /* az's short form: the names */
    json_t *names = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t) json_array_append(names, json_object_get(t, "name"));
    json_decref(all);
    *res = names;
    return 0;
}

static int run_show_manifests(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    json_t *all = NULL;
    int detail;
    if (repo_list(c, a, "manifests", &all, &detail, e))
        return -1;
    if (detail == 1) {
        *res = all;
        return 0;
    }
    /* az's short form: digest, tags, timestamp (the last update) */
    json_t *short_form = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(all, i, m)
    {
        json_t *tags = json_object_get(m, "tags");
        json_array_append_new(short_form,
                              json_pack("{s:O,s:o,s:O}", "digest", json_object_get(m, "digest"),
                                        "tags", tags ? json_incref(tags) : json_array(),
                                        "timestamp", json_object_get(m, "lastUpdateTime")));
    }
    json_decref(all);
    *res = short_form;
    return 0;
}

/* The digest an image reference names: its own, or its tag's. */
static int image_digest(cli_ctx *c, const char *base, const char *repo, const cli_image *img,
                        char *out, size_t n, cli_err *e)
{
    if (img->digest[0]) {
        snprintf(out, n, "%s", img->digest);
        return 0;
    }
    json_t *t = NULL;
    if (image_attributes(c, base, repo, img, &t, e))
        return -1;
    const char *d = json_string_value(json_object_get(t, "digest"));
    if (d == NULL || strlen(d) >= n) {
        json_decref(t);
        return cli_fail(e, "InvalidResponse", "the tag '%s' has no digest", img->tag);
    }
    snprintf(out, n, "%s", d);
    json_decref(t);
    return 0;
}

/* DELETE the manifest an image reference names (with its tags). */
static int delete_image(cli_ctx *c, const cli_args *a, const char *base, const char *repo,
                        const cli_image *img, json_t **res, cli_err *e)
{
    char digest[160], suffix[200], p[1024], q[512];
    if (image_digest(c, base, repo, img, digest, sizeof(digest), e))
        return -1;
    snprintf(q, sizeof(q),
             "Are you sure you want to delete the artifact '%s' of repository '%.200s' and all "
             "its tags?",
             digest, repo);
    int go = confirm(c, a, q, e);
    if (go <= 0)
        return go;
    snprintf(suffix, sizeof(suffix), "/_manifests/%s", digest);
    if (repo_path(p, sizeof(p), base, repo, suffix, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *reg = cli_args_get(a, "name"), *repo;
    cli_image img;
    int is_image;
    char base[1024], p[1024], q[512];
    if (repo_or_image(a, &repo, &img, &is_image, e) || confirm_possible(a, e) ||
        reg_base(c, a, reg, strlen(reg), base, sizeof(base), e))
        return -1;
    if (is_image)
        return delete_image(c, a, base, img.name, &img, res, e);
    if (repo_path(p, sizeof(p), base, repo, NULL, e))
        return -1;
    snprintf(q, sizeof(q),
             "Are you sure you want to delete the repository '%.200s' and all images under it?",
             repo);
    int go = confirm(c, a, q, e);
    if (go <= 0)
        return go;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

static int run_untag(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    const char *reg = cli_args_get(a, "name");
    cli_image img;
    char base[1024], suffix[200], p[1024];
    if (cli_image_parse(&img, cli_args_get(a, "image"), 0, 1, "--image", e) ||
        reg_base(c, a, reg, strlen(reg), base, sizeof(base), e))
        return -1;
    snprintf(suffix, sizeof(suffix), "/_tags/%s", img.tag);
    if (repo_path(p, sizeof(p), base, img.name, suffix, e))
        return -1;
    return cli_delete_quiet(c, cli_mgmt, p, res, e);
}

/* ---- acr manifest ---- */

/* The registry (its ARM path into base, reg_base's) and repository of
 * `acr manifest ... [-r REG] -n NAME`: with -r, NAME is the repository;
 * without, NAME starts with the registry or its login server
 * (imageref.h), matched among the registries of -g, else of the
 * subscription. */
static int manifest_target(cli_ctx *c, const cli_args *a, const char *name, char *base,
                           size_t base_n, const char **repo, cli_err *e)
{
    const char *r = cli_args_get(a, "registry"), *rg;
    size_t rl;
    if (r) {
        if (cli_image_has_host(name))
            return cli_usage(e,
                             "argument --name: with --registry, give the repository alone, not "
                             "'%.200s'",
                             name);
        *repo = name;
        return reg_base(c, a, r, strlen(r), base, base_n, e);
    }
    if (!cli_image_has_host(name))
        return cli_image_split(name, NULL, NULL, 0, &rg, &rl, repo, e) ||
                       reg_base(c, a, rg, rl, base, base_n, e)
                   ? -1
                   : 0;
    /* a login server: match it against the registries' */
    const char *group;
    char p[1024];
    json_t *regs = NULL;
    if (cli_resource_group(c, a, 0, &group, e) ||
        cli_collection_path(c, group, ARM_NS_REGISTRY, ARM_TYPE_REGISTRY, p, sizeof(p), e) ||
        cli_list_values(c, cli_mgmt, p, &regs, e))
        return -1;
    size_t n = json_array_size(regs);
    const char **ls = calloc(n ? n : 1, sizeof(*ls)), **names = calloc(n ? n : 1, sizeof(*names));
    int rc = -1;
    if (ls == NULL || names == NULL) {
        cli_fail(e, "OutOfMemory", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *g = json_array_get(regs, i);
        ls[i] = json_string_value(json_object_get(json_object_get(g, "properties"), "loginServer"));
        names[i] = json_string_value(json_object_get(g, "name"));
        if (ls[i] == NULL || names[i] == NULL)
            ls[i] = names[i] = "";
    }
    if (cli_image_split(name, ls, names, n, &rg, &rl, repo, e))
        goto out;
    /* the id of the registry matched */
    const char *id = NULL;
    for (size_t i = 0; i < n && id == NULL; i++)
        if (names[i] == rg || (strlen(names[i]) == rl && strncmp(names[i], rg, rl) == 0))
            id = json_string_value(json_object_get(json_array_get(regs, i), "id"));
    if (id == NULL || strlen(id) >= base_n) {
        cli_fail(e, "InvalidResponse", "the registry of '%.200s' has no id", name);
        goto out;
    }
    snprintf(base, base_n, "%s", id);
    rc = 0;
out:
    free(ls);
    free(names);
    json_decref(regs);
    return rc;
}

/* -n of acr manifest list-metadata: a repository, no tag or digest. */
static int run_list_metadata(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    cli_image img;
    char base[1024], p[1024];
    const char *repo;
    long top;
    if (top_of(a, &top, e) || cli_image_parse(&img, cli_args_get(a, "name"), 0, 0, "--name", e))
        return -1;
    if (img.tag[0])
        return cli_usage(e, "argument --name: give a repository, without a tag or digest");
    if (manifest_target(c, a, img.name, base, sizeof(base), &repo, e) ||
        repo_path(p, sizeof(p), base, repo, "/_manifests", e))
        return -1;
    return get_all(c, p, "manifests", top, res, e);
}

static int run_show_metadata(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    cli_image img;
    char base[1024];
    const char *repo;
    if (cli_image_parse(&img, cli_args_get(a, "name"), 1, 1, "--name", e) ||
        manifest_target(c, a, img.name, base, sizeof(base), &repo, e))
        return -1;
    return image_attributes(c, base, repo, &img, res, e);
}

static int run_manifest_delete(cli_ctx *c, const cli_args *a, json_t **res, cli_err *e)
{
    cli_image img;
    char base[1024];
    const char *repo;
    if (cli_image_parse(&img, cli_args_get(a, "name"), 1, 1, "--name", e) ||
        confirm_possible(a, e) || manifest_target(c, a, img.name, base, sizeof(base), &repo, e))
        return -1;
    return delete_image(c, a, base, repo, &img, res, e);
}

/* ---- the tables ---- */

static const cli_opt list_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"top", NULL, CLI_OPT_VALUE, 0, "N"},
    {0},
};
static const cli_opt show_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"repository", NULL, CLI_OPT_VALUE, 0, "REPOSITORY"},
    {"image", NULL, CLI_OPT_VALUE, 0, "REPOSITORY:TAG|REPOSITORY@DIGEST"},
    {0},
};
static const cli_opt tags_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "REGISTRY"},          CLI_OPT_GROUP,
    {"repository", NULL, CLI_OPT_VALUE, 1, "REPOSITORY"}, {"top", NULL, CLI_OPT_VALUE, 0, "N"},
    {"detail", NULL, CLI_OPT_BOOL, 0, "true|false"},      {0},
};
static const cli_opt delete_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"repository", NULL, CLI_OPT_VALUE, 0, "REPOSITORY"},
    {"image", NULL, CLI_OPT_VALUE, 0, "REPOSITORY:TAG|REPOSITORY@DIGEST"},
    {"yes", "y", CLI_OPT_BOOL, 0, "true|false"},
    {0},
};
static const cli_opt untag_opts[] = {
    {"name", "n", CLI_OPT_VALUE, 1, "REGISTRY"},
    CLI_OPT_GROUP,
    {"image", NULL, CLI_OPT_VALUE, 1, "REPOSITORY:TAG"},
    {0},
};
static const cli_opt mlist_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 0, "REGISTRY"},
    CLI_OPT_GROUP,
    {"name", "n", CLI_OPT_VALUE, 1, "REPOSITORY|REGISTRY/REPOSITORY"},
    {"top", NULL, CLI_OPT_VALUE, 0, "N"},
    {0},
};
static const cli_opt mshow_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 0, "REGISTRY"},
    CLI_OPT_GROUP,
    {"name", "n", CLI_OPT_VALUE, 1, "[REGISTRY/]REPOSITORY:TAG|[REGISTRY/]REPOSITORY@DIGEST"},
    {0},
};
static const cli_opt mdelete_opts[] = {
    {"registry", "r", CLI_OPT_VALUE, 0, "REGISTRY"},
    CLI_OPT_GROUP,
    {"name", "n", CLI_OPT_VALUE, 1, "[REGISTRY/]REPOSITORY:TAG|[REGISTRY/]REPOSITORY@DIGEST"},
    {"yes", "y", CLI_OPT_BOOL, 0, "true|false"},
    {0},
};

const cli_verb cli_acr_repository_verbs[] = {
    {"list", "List the repositories of a registry, by name.", list_opts, run_list,
     "coffer acr repository list -n myregistry -o tsv", NULL},
    {"show",
     "Show a repository's attributes (--repository), or an image's: a tag's (--image "
     "REPO:TAG) or a manifest's (--image REPO@DIGEST).",
     show_opts, run_show, "coffer acr repository show -n myregistry --image app:v1", NULL},
    {"show-tags", "List a repository's tags (--detail: their attributes).", tags_opts,
     run_show_tags, "coffer acr repository show-tags -n myregistry --repository app --detail",
     NULL},
    {"show-manifests",
     "List a repository's manifests: digest, tags, timestamp (--detail: their attributes).",
     tags_opts, run_show_manifests,
     "coffer acr repository show-manifests -n myregistry --repository app", NULL},
    {"delete",
     "Delete a repository and everything in it (--repository), or the manifest an image names "
     "with all its tags (--image).",
     delete_opts, run_delete, "coffer acr repository delete -n myregistry --image app:v1 --yes",
     NULL},
    {"untag", "Remove a tag; the manifest it pointed to stays.", untag_opts, run_untag,
     "coffer acr repository untag -n myregistry --image app:old", NULL},
    {0},
};

const cli_verb cli_acr_manifest_verbs[] = {
    {"list-metadata", "List the attributes of a repository's manifests.", mlist_opts,
     run_list_metadata, "coffer acr manifest list-metadata -r myregistry -n app", NULL},
    {"show-metadata", "Show the attributes of a tag (REPO:TAG) or a manifest (REPO@DIGEST).",
     mshow_opts, run_show_metadata, "coffer acr manifest show-metadata -r myregistry -n app:v1",
     NULL},
    {"delete", "Delete a manifest (a tag names its manifest) and all its tags.", mdelete_opts,
     run_manifest_delete,
     "coffer acr manifest delete -n myregistry/app@sha256:0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef --yes",
     NULL},
    {0},
};
