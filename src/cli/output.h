/*
 * output.h -- what a coffer command prints: its JSON result, narrowed by
 * --query and shaped by -o.
 *
 * --query is a small JMESPath subset, enough for what az users write in
 * scripts: a dotted path of keys (`key.kid`), quoted keys for names that
 * are not identifiers (`identity.userAssignedIdentities."/identities/mi".clientId`),
 * indexes (`[0].name`, `[-1]`), and a projection over an array (`[].name`,
 * `[*].kid`, `*` over an object's values; `@` is the node itself) that applies the rest of the path
 * to each element and drops the ones that yield nothing. A path that does not exist yields nothing
 * (no output, exit 0, as az). A malformed query is a usage error.
 *
 * -o json (default): the value with 2-space indentation. -o tsv: a scalar
 * bare on one line (strings unquoted, null as an empty line); an object as
 * its scalar values joined by tabs on one line (nested values skipped); an
 * array as one such line per element.
 */
#ifndef CF_CLI_OUTPUT_H
#define CF_CLI_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

#include "cli/error.h"

/* Checks the syntax of query q (usage error when malformed). */
int cli_query_check(const char *q, cli_err *e);
/* Evaluates q over root: *out is a new reference, or NULL when the path
 * yields nothing. */
int cli_query_eval(const json_t *root, const char *q, json_t **out, cli_err *e);
/* Prints v (NULL prints nothing) as JSON or TSV. */
int cli_output_print(FILE *f, const json_t *v, int tsv);

#endif
