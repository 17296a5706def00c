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
 *
 * -o table (az's): columns aligned with spaces, a header and a line of
 * dashes under it, cells as in tsv (control characters as spaces, widths
 * in characters, not bytes).
 *   - an array of objects: one row per element. The columns are the verb's
 *     own (cli_column: a header and a --query path per column, az's table
 *     transformers; they also apply to the array of a {"value":[...]}
 *     object, as az's do) unless --query reshaped the result; otherwise, as az,
 *     every scalar member in the order first seen, except id, type and
 *     etag, headed by its name with a capital first letter.
 *   - an array of scalars, or a scalar: one column, "Result".
 *   - an object: two columns, Property and Value, one row per leaf; the
 *     property is the leaf's --query path (`properties.loginServer`,
 *     `passwords[0].value`), an array of scalars one row (values joined by
 *     ", ").
 * An empty array prints nothing.
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
typedef enum { CLI_OUT_JSON = 0, CLI_OUT_TSV = 1, CLI_OUT_TABLE = 2 } cli_format;

/* A column of a verb's table: its header and the --query path of its cell
 * in each element. Arrays of them end with a NULL header. */
typedef struct cli_column {
    const char *header;
    const char *path;
} cli_column;

/* Prints v (NULL prints nothing) as JSON, TSV or a table; cols (may be
 * NULL) are the table's columns when v is an array. */
int cli_output_print(FILE *f, const json_t *v, cli_format fmt, const cli_column *cols);

#endif
