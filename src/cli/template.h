/*
 * template.h -- ARM deployment templates (docs/templates.md): the JSON
 * shape `az deployment group create --template-file` takes, the subset
 * coffer deploys, read and evaluated without any I/O.
 *
 *   { "$schema": ..., "contentVersion": ...,
 *     "parameters": { NAME: { "type", "defaultValue", "allowedValues",
 *                             "minLength", "maxLength", "minValue", "maxValue" } },
 *     "variables":  { NAME: value },
 *     "resources":  [ { "type", "apiVersion", "name", "location", "dependsOn",
 *                       "sku", "identity", "properties", "tags" } ],
 *     "outputs":    { NAME: { "type", "value" } } }
 *
 * Any string may be an expression (expr.h), object keys included. The
 * life of a template: tpl_parse checks its shape; tpl_bind gives the
 * parameters their values (given, or defaults), evaluates every resource's
 * type, name and id, resolves dependsOn, finds the implicit dependencies
 * (a reference() to another resource of the template) and orders the
 * resources so that each comes after what it depends on (a cycle is an
 * error); then the deployer evaluates each resource's body in that order
 * (tpl_resource_eval), answering reference() through tpl_site, and the
 * outputs last.
 *
 * Every error is InvalidTemplate (or OutOfMemory) and starts with the
 * template path of the value at fault:
 * `resources[4].properties.encryption.keyVaultProperties.keyIdentifier: ...`.
 * Bounds: 4 MiB of template (ARM's limit), 256 parameters, variables,
 * outputs and resources each, 64 levels of nesting; expressions as expr.h.
 */
#ifndef CF_CLI_TEMPLATE_H
#define CF_CLI_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "cli/error.h"

#define TPL_MAX_BYTES (4 << 20)
#define TPL_MAX_ITEMS 256
#define TPL_MAX_DEPTH 64
#define TPL_ID_MAX 1024
#define TPL_PATH_MAX 512

typedef struct tpl tpl;

/* Where the template is deployed, and how reference() reads a resource. */
typedef struct tpl_site {
    const char *sub;      /* subscription id */
    const char *sub_name; /* its display name */
    const char *tenant;   /* its tenant id */
    const char *group;    /* resource group */
    const char *location; /* the group's location */
    /* reference(): the resource with ARM id `id`, which is resource
     * `index` of the template (-1: not in the template). Returns 0 with
     * *out set, or NULL when it does not exist yet (what-if) -- its value
     * is then unknown; -1 on error (e set). `full`: the whole resource,
     * else what ARM's reference() gives (its properties). */
    int (*reference)(void *cls, long index, const char *id, int full, json_t **out, cli_err *e);
    void *cls;
} tpl_site;

/* A resource of the template, once bound. */
typedef struct tpl_resource {
    char type[256];      /* "Microsoft.KeyVault/vaults/keys", as written */
    char name[512];      /* "vault1/key1" */
    char id[TPL_ID_MAX]; /* its ARM id */
    const char *api_version;
    char path[32]; /* "resources[3]" */
} tpl_resource;

/* Reads and checks the shape of text[0..n). */
int tpl_parse(tpl **out, const char *text, size_t n, cli_err *e);

/* Binds the parameters -- `typed`: {name: value} (a parameters file);
 * `text`: {name: "string"} from name=value words, converted to the
 * parameter's type (either may be NULL) -- then evaluates and orders the
 * resources. The site's strings are borrowed until tpl_free. */
int tpl_bind(tpl *t, const json_t *typed, const json_t *text, const tpl_site *site, cli_err *e);

size_t tpl_resource_count(const tpl *t);
const tpl_resource *tpl_resource_at(const tpl *t, size_t i);
/* The deployment order: tpl_resource_count indexes. */
const size_t *tpl_order(const tpl *t);
/* The indexes resource i depends on (explicitly or through reference()). */
const size_t *tpl_resource_deps(const tpl *t, size_t i, size_t *n);

/* Resource i's body evaluated: {location, sku, identity, properties,
 * tags, kind} as given (new reference in *body). *unknown gets the paths
 * (relative to the resource: "properties.encryption.keyVaultProperties.
 * identity") of the values not known yet, an array (new reference). */
int tpl_resource_eval(tpl *t, size_t i, json_t **body, json_t **unknown, cli_err *e);

/* The outputs {name: {type, value}} (new reference; {} when none). */
int tpl_outputs(tpl *t, json_t **out, cli_err *e);
/* The parameters as ARM's deployment shows them: {name: {type, value}},
 * secure values left out (new reference). */
json_t *tpl_parameters(const tpl *t);

void tpl_free(tpl *t);

/* "PREFIX: message" into e's message (a template path in front of an
 * error raised below it). */
void tpl_err_prefix(cli_err *e, const char *prefix);

#endif
