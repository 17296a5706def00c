/*
 * args.h -- the options of one coffer verb, parsed az-style.
 *
 * After the group and verb words come options: `--name VALUE` (or
 * `--name=VALUE`, or a short alias `-n VALUE`); a multi-valued option takes
 * every following word up to the next option (`--key-permissions get
 * wrapKey`); a boolean option takes an optional true/false
 * (`--enable-purge-protection` alone means true). The global options
 * --query PATH, -o/--output json|table|tsv, -h/--help and --insecure
 * (spelled out: no alias, no value) are accepted by every verb. Anything
 * else is a usage error naming the offending word; a missing required
 * option is one too ("the following arguments are required").
 * Values point into argv (or at static "true"/"false"); nothing is copied.
 */
#ifndef CF_CLI_ARGS_H
#define CF_CLI_ARGS_H

#include <stdint.h>

#include "cli/error.h"
#include "cli/output.h"

#define CLI_MAX_OPTS 16 /* options of one verb (test_cli_args checks every verb) */
#define CLI_MAX_VALS 32

typedef enum { CLI_OPT_VALUE, CLI_OPT_MULTI, CLI_OPT_BOOL } cli_opt_kind;

typedef struct cli_opt {
    const char *name; /* long name without "--" */
    const char *shrt; /* short alias without "-", or NULL */
    cli_opt_kind kind;
    int required;
    const char *meta; /* metavar for usage text */
} cli_opt;

/* The option lists most verbs share: just "--name/-n NAME", and none. */
extern const cli_opt cli_name_opts[];
extern const cli_opt cli_no_opts[];

typedef struct cli_args {
    const cli_opt *spec; /* terminated by a NULL name */
    int nvals[CLI_MAX_OPTS];
    const char *vals[CLI_MAX_OPTS][CLI_MAX_VALS];
    /* 1 at the first value of each occurrence of a multi-valued option */
    unsigned char starts[CLI_MAX_OPTS][CLI_MAX_VALS];
    const char *query; /* --query, or NULL */
    cli_format output; /* -o json|table|tsv */
    int help;          /* -h/--help seen */
    int insecure;      /* --insecure: TLS certificates not verified */
} cli_args;

/* Parses argv[0..argc) against spec. Help stops parsing (a->help = 1,
 * returns 0) so `--help` works whatever else is on the line. */
int cli_args_parse(cli_args *a, const cli_opt *spec, int argc, char **argv, cli_err *e);

/* The (first) value of option `name`, or NULL when absent. */
const char *cli_args_get(const cli_args *a, const char *name);
/* The values of a multi-valued option (count in *n; 0 when absent). */
const char *const *cli_args_multi(const cli_args *a, const char *name, int *n);
/* The k-th occurrence (from 0) of a multi-valued option given several
 * times (`--repository app content/read --repository web content/write`):
 * its values in *vals, their count in *n. Returns 0, or -1 when there is
 * no k-th occurrence. */
int cli_args_occurrence(const cli_args *a, const char *name, int k, const char *const **vals,
                        int *n);
/* A boolean option: 1 true, 0 false, -1 absent; a word other than
 * true/false (any case) is a usage error (returns -2). */
int cli_args_bool(const cli_args *a, const char *name, cli_err *e);
/* An integer option within [min, max]: 0 and *out, 1 when absent, -1 usage error. */
int cli_args_int(const cli_args *a, const char *name, long min, long max, long *out, cli_err *e);

/* A size as `acr update --storage-limit` takes it: digits with an
 * optional unit, any case, an optional space between: B, K/KB, M/MB, G/GB,
 * T/TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024); "none" or
 * 0 is 0 (no limit). 0, or -1 for anything else (no sign, no fraction,
 * nothing past CLI_SIZE_MAX). Pure. */
#define CLI_SIZE_MAX ((int64_t)1 << 62)
int cli_size_parse(const char *s, int64_t *out);

#endif
