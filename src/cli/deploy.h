/*
 * deploy.h -- what the deployment verbs (deploy.c) and the resource kinds
 * they deploy (kinds.c) share.
 *
 * A deployment plans each resource of a bound template (template.h) in
 * dependency order: it evaluates the resource's body, checks it against
 * what coffer's resource of that type has (kind.check: the template path
 * of any value at fault), reads the resource as it is now (kind.get, NULL
 * when it does not exist), and compares the two in one comparable shape
 * that the kind builds from each side (kind.want, kind.have): only what
 * the template says is compared, lists that are sets are sorted, names and
 * ids are compared as ARM compares them. No difference: NoChange; else
 * Modify (or Create), applied by kind.apply with the same client calls the
 * verbs of that resource use (cli_mgmt, cli_vault_mgmt, cli_vault_keys).
 */
#ifndef CF_CLI_DEPLOY_H
#define CF_CLI_DEPLOY_H

#include "cli/template.h"
#include "cli/verbs.h"

enum { DEPLOY_VALIDATE, DEPLOY_WHATIF, DEPLOY_CREATE };

typedef struct deploy deploy;
typedef struct dres dres;

typedef struct deploy_kind {
    const char *type; /* "Microsoft.KeyVault/vaults/keys" */
    /* Checks the evaluated body (x->body): values of the wrong shape, or
     * that coffer does not have, fail with their template path; what is
     * accepted and ignored becomes a note. */
    int (*check)(deploy *d, dres *x, cli_err *e);
    /* The resource now (new reference in *cur), NULL when absent. */
    int (*get)(deploy *d, const char *id, const char *name, json_t **cur, cli_err *e);
    /* The comparable shapes of the template's resource and of cur. */
    json_t *(*want)(deploy *d, dres *x);
    json_t *(*have)(deploy *d, dres *x);
    /* Creates (x->cur NULL) or changes the resource; *after: as get. */
    int (*apply)(deploy *d, dres *x, json_t **after, cli_err *e);
    /* What reference() gives of a resource in state s (new reference). */
    json_t *(*ref)(const json_t *s);
} deploy_kind;

struct dres {
    size_t idx;
    const tpl_resource *r;
    const deploy_kind *k;
    json_t *body, *unknown; /* evaluated (template.h) */
    json_t *cur;            /* before (NULL: absent) */
    json_t *want, *have;    /* comparable */
    json_t *delta;          /* [{path, before, after}] */
    const char *change;     /* Create, Modify, NoChange (NULL: not planned) */
    json_t *after;          /* state for reference() */
    int applied;
};

struct deploy {
    cli_ctx *c;
    tpl *t;
    int mode;
    int planning; /* the validation pass: every reference() is unknown */
    const char *group;
    dres *res;
    size_t n;
    json_t *notes;
    json_t *keep; /* the group and subscription the site's strings point into */
};

/* The kind of type (case-insensitive), or NULL. */
const deploy_kind *deploy_kind_find(const char *type);

/* A note (deduplicated) on what was accepted and not acted on. */
void deploy_note(deploy *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether the value at path (relative to the resource) is not known yet. */
int deploy_unknown(const dres *x, const char *path);
/* An InvalidTemplate-style error at x's path + "." + rel. */
int deploy_bad(dres *x, cli_err *e, const char *code, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* GET path through call; a 404 gives *out NULL and no error. */
int deploy_get_opt(deploy *d, cli_call_fn call, const char *path, json_t **out, cli_err *e);
/* The planned resource of the template whose id is id, or NULL. */
dres *deploy_find(deploy *d, const char *id);

#endif
