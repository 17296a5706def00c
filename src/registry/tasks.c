/*
 * tasks.c -- see tasks.h. A run is: claim (tasks), record the run
 * (Running), take the registry's KEK, execute the command writing its log
 * into a capped secret buffer, seal the log as one object, record the
 * outcome, release the claim. The command's words point into one copy of
 * the --cmd text; nothing is ever given to a shell.
 */
#define CF_LOG_MOD "tasks"
#include "registry/tasks.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/cron.h"
#include "base/log.h"
#include "base/ticker.h"
#include "crypto/digest.h"
#include "registry/content.h"
#include "registry/import.h"
#include "registry/keyring.h"
#include "store/objects.h"

#define MAX_WORDS 64
#define MAX_FILTERS 8

/* ---- the test clock ---- */

static char clock_path[1024];

int64_t tasks_now(void)
{
    int64_t now = (int64_t)time(NULL);
    if (clock_path[0] == '\0')
        return now;
    FILE *f = fopen(clock_path, "r");
    if (f == NULL)
        return now;
    long long off = 0;
    if (fscanf(f, "%lld", &off) != 1)
        off = 0;
    fclose(f);
    return now + (int64_t)off;
}

/* ---- commands ---- */

typedef struct words {
    char buf[META_TASK_CMD_MAX];
    char *w[MAX_WORDS];
    int n;
} words;

static cf_code split(words *ws, const char *cmd, cf_err *e)
{
    size_t len = strlen(cmd);
    if (len >= sizeof(ws->buf))
        return cf_err_set(e, CF_EINVAL, "the command is longer than %d bytes",
                          META_TASK_CMD_MAX - 1);
    ws->n = 0;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (cmd[i] == ' ' || cmd[i] == '\t'))
            i++;
        if (i == len)
            break;
        if (ws->n == MAX_WORDS)
            return cf_err_set(e, CF_EINVAL, "the command has more than %d words", MAX_WORDS);
        ws->w[ws->n++] = ws->buf + o;
        while (i < len && cmd[i] != ' ' && cmd[i] != '\t') {
            if (cmd[i] == '\'' || cmd[i] == '"') {
                char q = cmd[i++];
                while (i < len && cmd[i] != q)
                    ws->buf[o++] = cmd[i++];
                if (i == len)
                    return cf_err_set(e, CF_EINVAL, "the command has an unterminated %c quote", q);
                i++;
            } else if ((unsigned char)cmd[i] < 0x20) {
                return cf_err_set(e, CF_EINVAL, "the command has a control character");
            } else {
                ws->buf[o++] = cmd[i++];
            }
        }
        ws->buf[o++] = '\0';
    }
    return CF_OK;
}

typedef struct purge_args {
    int nfilters;
    regex_t repo_re[MAX_FILTERS], tag_re[MAX_FILTERS];
    char filter[MAX_FILTERS][512];
    int64_t ago;
    int have_ago;
    int untagged, dry_run;
    long keep;
} purge_args;

static void purge_args_free(purge_args *p)
{
    for (int i = 0; i < p->nfilters; i++) {
        regfree(&p->repo_re[i]);
        regfree(&p->tag_re[i]);
    }
    p->nfilters = 0;
}

/* "30d", "1d12h", "10m", "0s": digits and a unit, repeated. */
static int parse_duration(const char *s, int64_t *out)
{
    int64_t total = 0;
    if (*s == '\0')
        return -1;
    while (*s) {
        int64_t v = 0;
        const char *start = s;
        while (*s >= '0' && *s <= '9' && s - start < 7)
            v = v * 10 + (*s++ - '0');
        if (s == start)
            return -1;
        int64_t unit = *s == 'd' ? 86400 : *s == 'h' ? 3600 : *s == 'm' ? 60 : *s == 's' ? 1 : 0;
        if (unit == 0)
            return -1;
        s++;
        total += v * unit;
        if (total > (int64_t)100 * 365 * 86400)
            return -1;
    }
    *out = total;
    return 0;
}

/*
 * What regcomp is asked to build, bounded before it is asked. glibc's
 * regcomp expands 'x+' to 'xx*' and 'x{n,m}' to m copies of x, so
 * repetitions that are stacked or nested multiply the size of its tree:
 * each '+' of 'a++++...' doubles it, and eighty of them ask for more
 * memory than any machine has (found by fuzz_task_cmd). A repetition of
 * what can match the empty string ('()+', '(a?)+', '(^)*') makes its
 * epsilon closures explode: five '+' after '()' took 14 s. So, before
 * regcomp:
 *  - a repetition must follow something that consumes a character: not
 *    another repetition ('a**', which POSIX leaves undefined), not a
 *    group that can match nothing, not '^', '$' or glibc's zero-width
 *    escapes (\b \B \< \> \` \');
 *  - a ')' closes a '(' of the expression (it is wrapped in ^(...)$, which
 *    a stray ')' would otherwise end, un-anchoring the rest);
 *  - ere_size_check's bound on the nodes of the tree (ERE_NODES_MAX)
 *    holds, counting a group's copies for each repetition around it;
 *  - no back-reference (\1..\9, a glibc extension whose matching time is
 *    exponential).
 * The syntax walked is what regcomp takes with REG_EXTENDED: bracket
 * expressions (with [:class:], [=e=], [.c.]), escapes, groups,
 * alternation, '*', '+', '?' and intervals. Returns NULL when the
 * expression may go to regcomp, else why not.
 */
#define ERE_NODES_MAX 2000
#define ERE_DEPTH_MAX 32

static size_t ere_bracket_end(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && s[j] == '^')
        j++;
    if (j < len && s[j] == ']')
        j++;
    while (j < len && s[j] != ']') {
        if (s[j] == '[' && j + 1 < len && (s[j + 1] == ':' || s[j + 1] == '=' || s[j + 1] == '.')) {
            char close = s[j + 1];
            j += 2;
            while (j + 1 < len && !(s[j] == close && s[j + 1] == ']'))
                j++;
            j += 2;
        } else {
            j++;
        }
    }
    return j < len ? j + 1 : len;
}

/* '{n}', '{n,}', '{n,m}', '{,m}' at s[i]: the copies of the atom that
 * regcomp makes (the larger bound, plus one for an open end), whether the
 * result can match nothing (*empty: n is 0), and the index after '}'; 0
 * when it is not a well-formed interval (regcomp decides what it is). */
static uint64_t ere_interval(const char *s, size_t len, size_t i, size_t *after, int *empty)
{
    uint64_t n[2] = {0, 0};
    int k = 0, digits[2] = {0, 0};
    size_t j = i + 1;
    for (; j < len && s[j] != '}'; j++) {
        if (s[j] == ',' && k == 0) {
            k = 1;
        } else if (s[j] >= '0' && s[j] <= '9') {
            n[k] = n[k] * 10 + (uint64_t)(s[j] - '0'); /* leading zeros count for nothing */
            if (n[k] > 1000000)
                n[k] = 1000000;
            digits[k]++;
        } else {
            return 0;
        }
    }
    if (j == len || (digits[0] == 0 && k == 0))
        return 0; /* '{,m}' is '{0,m}' to glibc */
    *after = j + 1;
    *empty = n[0] == 0;
    if (k == 0)
        return n[0] > 0 ? n[0] : 1;
    return digits[1] ? (n[1] > n[0] ? n[1] : n[0]) + 1 : n[0] + 1;
}

/* One group being walked: the nodes so far, the last atom's nodes, and
 * whether the last atom, the alternative so far and any finished
 * alternative can match the empty string. */
typedef struct ere_frame {
    uint64_t total, last;
    int last_empty, seq_before, seq_empty, alt_empty, last_rep, have_last;
} ere_frame;

static void ere_frame_open(ere_frame *f)
{
    memset(f, 0, sizeof(*f));
    f->seq_empty = f->seq_before = 1;
}

static const char *ere_size_check(const char *s, size_t len)
{
    ere_frame fr[ERE_DEPTH_MAX + 1];
    int d = 0;
    ere_frame_open(&fr[0]);
    size_t i = 0;
    while (i < len) {
        ere_frame *f = &fr[d];
        uint64_t atom = 1, copies = 0;
        int atom_empty = 0, rep_empty = 0;
        size_t next = i + 1, after = 0;
        char c = s[i];
        if (c == '\\' && i + 1 < len && s[i + 1] >= '1' && s[i + 1] <= '9')
            return "back-references (\\1 to \\9) are not supported";
        if (c == '\\') {
            atom_empty = i + 1 < len && strchr("bB<>`'", s[i + 1]) != NULL;
            next = i + 2;
        } else if (c == '[') {
            next = ere_bracket_end(s, len, i);
        } else if (c == '(') {
            if (d == ERE_DEPTH_MAX)
                return "its groups are nested too deeply";
            ere_frame_open(&fr[++d]);
            i = next;
            continue;
        } else if (c == ')') {
            if (d == 0)
                return "a ')' closes no '('";
            atom = f->total + 1;
            atom_empty = f->alt_empty || f->seq_empty;
            f = &fr[--d];
        } else if (c == '|') {
            f->total++;
            f->alt_empty |= f->seq_empty;
            f->seq_empty = f->seq_before = 1;
            f->have_last = f->last_rep = 0;
            f->last = 0;
            i = next;
            continue;
        } else if (c == '^' || c == '$') {
            atom_empty = 1;
        } else if (c == '*' || c == '?') {
            copies = 1;
            rep_empty = 1;
        } else if (c == '+') {
            copies = 2;
        } else if (c == '{' && (copies = ere_interval(s, len, i, &after, &rep_empty)) != 0) {
            next = after;
        }
        if (copies && f->have_last) {
            if (f->last_rep)
                return "a repetition follows a repetition";
            if (f->last_empty)
                return "a repetition applies to something that can match the empty string";
            uint64_t grown = f->last * copies + 1;
            f->total += grown - f->last;
            f->last = grown;
            f->last_rep = 1;
            f->last_empty = rep_empty;
        } else { /* an atom; a leading repetition is one to glibc, or an error */
            f->seq_before = f->seq_empty;
            f->total += atom;
            f->last = atom;
            f->last_empty = atom_empty;
            f->last_rep = 0;
            f->have_last = 1;
        }
        /* the alternative can match nothing while each of its atoms can */
        f->seq_empty = f->seq_before && f->last_empty;
        if (f->total > ERE_NODES_MAX)
            return "it is too complex (repetitions stacked or nested multiply its size)";
        i = next;
    }
    return NULL;
}

static cf_code compile(regex_t *re, const char *expr, size_t len, const char *what, cf_err *e)
{
    char anchored[600];
    if (len > 500)
        return cf_err_set(e, CF_EINVAL, "--filter: the %s expression is too long", what);
    const char *why = ere_size_check(expr, len);
    if (why)
        return cf_err_set(e, CF_EINVAL, "--filter: the %s expression '%.*s' is refused: %s", what,
                          (int)(len > 100 ? 100 : len), expr, why);
    snprintf(anchored, sizeof(anchored), "^(%.*s)$", (int)len, expr);
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char m[128];
        regerror(rc, re, m, sizeof(m));
        return cf_err_set(e, CF_EINVAL, "--filter: invalid %s expression '%.*s': %s", what,
                          (int)(len > 100 ? 100 : len), expr, m);
    }
    return CF_OK;
}

static cf_code parse_purge(purge_args *p, words *ws, int first, cf_err *e)
{
    memset(p, 0, sizeof(*p));
    p->keep = 0;
    cf_code rc = CF_OK;
    for (int i = first; i < ws->n && rc == CF_OK; i++) {
        const char *w = ws->w[i], *v = i + 1 < ws->n ? ws->w[i + 1] : NULL;
        if (strcmp(w, "--untagged") == 0) {
            p->untagged = 1;
        } else if (strcmp(w, "--dry-run") == 0) {
            p->dry_run = 1;
        } else if (strcmp(w, "--filter") == 0 && v) {
            i++;
            const char *colon = strrchr(v, ':');
            if (colon == NULL || colon == v || colon[1] == '\0')
                rc = cf_err_set(e, CF_EINVAL, "--filter wants REPOSITORY_REGEX:TAG_REGEX");
            else if (p->nfilters == MAX_FILTERS)
                rc = cf_err_set(e, CF_EINVAL, "at most %d --filter", MAX_FILTERS);
            else if ((rc = compile(&p->repo_re[p->nfilters], v, (size_t)(colon - v), "repository",
                                   e)) == CF_OK) {
                rc = compile(&p->tag_re[p->nfilters], colon + 1, strlen(colon + 1), "tag", e);
                if (rc != CF_OK)
                    regfree(&p->repo_re[p->nfilters]);
                else
                    snprintf(p->filter[p->nfilters++], sizeof(p->filter[0]), "%s", v);
            }
        } else if (strcmp(w, "--ago") == 0 && v) {
            i++;
            if (parse_duration(v, &p->ago) != 0)
                rc = cf_err_set(e, CF_EINVAL,
                                "--ago wants a duration such as 30d, 1d12h, 10m or 0d");
            p->have_ago = 1;
        } else if (strcmp(w, "--keep") == 0 && v) {
            i++;
            char *end;
            p->keep = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || p->keep < 0 || p->keep > 1000000)
                rc = cf_err_set(e, CF_EINVAL, "--keep wants a number of tags (0..1000000)");
        } else {
            rc = cf_err_set(e, CF_EINVAL, "purge: unknown or incomplete argument '%.64s'", w);
        }
    }
    if (rc == CF_OK && p->nfilters == 0)
        rc = cf_err_set(e, CF_EINVAL, "purge needs at least one --filter REPO:TAG");
    if (rc == CF_OK && !p->have_ago)
        rc = cf_err_set(e, CF_EINVAL, "purge needs --ago DURATION (e.g. 30d; 0d: any age)");
    if (rc != CF_OK)
        purge_args_free(p);
    return rc;
}

/* import's words into a (pointers into ws). */
static cf_code parse_import(import_args *a, words *ws, int first, cf_err *e)
{
    memset(a, 0, sizeof(*a));
    for (int i = first; i < ws->n; i += 2) { /* --option value pairs */
        const char *w = ws->w[i], *v = i + 1 < ws->n ? ws->w[i + 1] : NULL;
        const char **slot = strcmp(w, "--source") == 0     ? &a->source
                            : strcmp(w, "--image") == 0    ? &a->image
                            : strcmp(w, "-t") == 0         ? &a->image
                            : strcmp(w, "--username") == 0 ? &a->username
                            : strcmp(w, "-u") == 0         ? &a->username
                            : strcmp(w, "--password") == 0 ? &a->password
                            : strcmp(w, "-p") == 0         ? &a->password
                                                           : NULL;
        if (slot == NULL || v == NULL)
            return cf_err_set(e, CF_EINVAL, "import: unknown or incomplete argument '%.64s'", w);
        *slot = v;
    }
    return import_check(a, e);
}

/* The command's first word after an optional "acr". */
static int command_start(const words *ws)
{
    return ws->n > 0 && strcmp(ws->w[0], "acr") == 0 ? 1 : 0;
}

cf_code tasks_cmd_check(const char *cmd, const char **kind, int stored, cf_err *e)
{
    words *ws = malloc(sizeof(*ws));
    if (ws == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = split(ws, cmd, e);
    int s = command_start(ws);
    if (rc == CF_OK && s >= ws->n)
        rc = cf_err_set(e, CF_EINVAL, "the command is empty: give 'purge ...'");
    if (rc == CF_OK && strcmp(ws->w[s], "purge") == 0) {
        purge_args *p = malloc(sizeof(*p));
        if (p == NULL)
            rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        else if ((rc = parse_purge(p, ws, s + 1, e)) == CF_OK)
            purge_args_free(p);
        free(p);
        if (rc == CF_OK && kind)
            *kind = "purge";
    } else if (rc == CF_OK && strcmp(ws->w[s], "import") == 0) {
        import_args ia;
        rc = parse_import(&ia, ws, s + 1, e);
        if (rc == CF_OK && stored && ia.password)
            rc = cf_err_set(e, CF_EINVAL,
                            "a task stores its command: give a password to an import only in a "
                            "quick run (coffer acr import, coffer acr run), never in a task");
        if (rc == CF_OK && kind)
            *kind = "import";
    } else if (rc == CF_OK) {
        rc = cf_err_set(e, CF_EINVAL,
                        "unknown command '%.64s': the built-in commands are purge and import",
                        ws->w[s]);
    }
    if (ws)
        OPENSSL_cleanse(ws, sizeof(*ws));
    free(ws);
    return rc;
}

/* ---- purge ---- */

typedef struct purge_tag {
    char *repo, *tag, *digest;
} purge_tag;

typedef struct purge_run {
    const purge_args *p;
    int64_t cutoff;
    cf_buf *log;
    char repo[512]; /* the repository being counted */
    long matched;   /* its matching tags seen so far (newest first) */
    purge_tag *v;
    size_t n, cap;
    int overflow;
} purge_run;

static int repo_matches(const purge_args *p, const char *repo, int *which)
{
    for (int i = 0; i < p->nfilters; i++)
        if (regexec(&p->repo_re[i], repo, 0, NULL, 0) == 0) {
            if (which)
                *which = i;
            return 1;
        }
    return 0;
}

static int tag_matches(const purge_args *p, const char *repo, const char *tag)
{
    for (int i = 0; i < p->nfilters; i++)
        if (regexec(&p->repo_re[i], repo, 0, NULL, 0) == 0 &&
            regexec(&p->tag_re[i], tag, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

#define PURGE_MAX 100000 /* deletions one run collects; the next run goes on */

/* Room for one more element of size `elem` in the array *v of n (*cap
 * allocated); -1 when out of memory (*v unchanged). */
static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, nc * elem);
    if (nv == NULL)
        return -1;
    *v = nv;
    *cap = nc;
    return 0;
}

static int collect(purge_run *pr, const meta_purge_tag *t)
{
    if (pr->n == PURGE_MAX) {
        pr->overflow = 1;
        return 1;
    }
    if (grow((void **)&pr->v, &pr->cap, pr->n, sizeof(*pr->v)) != 0)
        return 1;
    purge_tag *d = &pr->v[pr->n];
    d->repo = strdup(t->repo);
    d->tag = strdup(t->tag);
    d->digest = strdup(t->digest);
    if (!d->repo || !d->tag || !d->digest) {
        free(d->repo);
        free(d->tag);
        free(d->digest);
        return 1;
    }
    pr->n++;
    return 0;
}

static int on_tag(void *cls, const meta_purge_tag *t)
{
    purge_run *pr = cls;
    if (strcmp(pr->repo, t->repo) != 0) {
        snprintf(pr->repo, sizeof(pr->repo), "%s", t->repo);
        pr->matched = 0;
    }
    if (!tag_matches(pr->p, t->repo, t->tag))
        return 0;
    if (pr->matched++ < pr->p->keep || t->updated_at >= pr->cutoff)
        return 0;
    return collect(pr, t);
}

static int on_untagged(void *cls, const meta_purge_tag *t)
{
    purge_run *pr = cls;
    if (!repo_matches(pr->p, t->repo, NULL))
        return 0;
    return collect(pr, t);
}

static void purge_list_free(purge_run *pr)
{
    for (size_t i = 0; i < pr->n; i++) {
        free(pr->v[i].repo);
        free(pr->v[i].tag);
        free(pr->v[i].digest);
    }
    pr->n = 0;
}

static cf_code run_purge(const meta_registry *reg, const purge_args *p, int64_t now, cf_buf *log,
                         cf_err *e)
{
    purge_run pr = {.p = p, .cutoff = now - p->ago, .log = log};
    long tags = 0, manifests = 0;
    const char *verb = p->dry_run ? "Would delete" : "Deleted";
    for (int i = 0; i < p->nfilters; i++)
        cf_buf_appendf(log, NULL, "purge: filter %s\n", p->filter[i]);
    cf_buf_appendf(log, NULL, "purge: older than %lld seconds, keep %ld%s%s\n", (long long)p->ago,
                   p->keep, p->untagged ? ", untagged manifests too" : "",
                   p->dry_run ? ", dry run" : "");
    cf_code rc = meta_purge_tags(reg->id, on_tag, &pr, e);
    for (size_t i = 0; rc == CF_OK && i < pr.n; i++) {
        cf_err de = {0};
        if (!p->dry_run && meta_tag_delete(reg->id, pr.v[i].repo, pr.v[i].tag, &de) != CF_OK) {
            if (de.code == CF_ENOTFOUND)
                continue; /* deleted meanwhile */
            cf_buf_appendf(log, NULL, "Cannot delete tag %s:%s: %s\n", pr.v[i].repo, pr.v[i].tag,
                           de.msg);
            rc = cf_err_set(e, de.code, "%s", de.msg);
            break;
        }
        tags++;
        cf_buf_appendf(log, NULL, "%s tag %s:%s (%s)\n", verb, pr.v[i].repo, pr.v[i].tag,
                       pr.v[i].digest);
    }
    purge_list_free(&pr);
    if (rc == CF_OK && p->untagged && !p->dry_run)
        rc = meta_purge_untagged(reg->id, pr.cutoff, on_untagged, &pr, e);
    else if (rc == CF_OK && p->untagged) {
        /* a dry run: what the tags' deletion would leave untagged is
         * counted among the manifests without a tag today */
        rc = meta_purge_untagged(reg->id, pr.cutoff, on_untagged, &pr, e);
    }
    for (size_t i = 0; rc == CF_OK && i < pr.n; i++) {
        oci_digest d;
        cf_err de = {0};
        if (oci_digest_parse(&d, pr.v[i].digest, strlen(pr.v[i].digest), &de) != CF_OK)
            continue;
        if (!p->dry_run && content_manifest_delete(reg->id, pr.v[i].repo, &d, &de) != CF_OK) {
            if (de.code == CF_ENOTFOUND)
                continue;
            cf_buf_appendf(log, NULL, "Cannot delete manifest %s@%s: %s\n", pr.v[i].repo,
                           pr.v[i].digest, de.msg);
            rc = cf_err_set(e, de.code, "%s", de.msg);
            break;
        }
        manifests++;
        cf_buf_appendf(log, NULL, "%s manifest %s@%s\n", verb, pr.v[i].repo, pr.v[i].digest);
    }
    purge_list_free(&pr);
    free(pr.v);
    if (pr.overflow)
        cf_buf_appendf(log, NULL, "purge: stopped after %d deletions; run it again\n", PURGE_MAX);
    cf_buf_appendf(log, NULL, "Number of %s tags: %ld\nNumber of %s manifests: %ld\n",
                   p->dry_run ? "to be deleted" : "deleted", tags,
                   p->dry_run ? "to be deleted" : "deleted", manifests);
    return rc;
}

/* ---- runs ---- */

static void log_key(char *out, size_t cap, const char *reg_id, const char *run_id)
{
    snprintf(out, cap, "registries/%s/tasklogs/%s", reg_id, run_id);
}

static void new_run_id(char out[META_RUN_ID_MAX])
{
    unsigned char r[5];
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    snprintf(out, META_RUN_ID_MAX, "cf%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4]);
}

cf_code tasks_run(meta_task_run *out, const meta_registry *reg, const char *task, const char *cmd,
                  const char *trigger, int due, int64_t next, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    int64_t now = tasks_now();
    seal_kek kek;
    words *ws = NULL;
    purge_args *pa = NULL;
    cf_buf log;
    cf_buf_init(&log, TASKS_LOG_MAX);
    log.secret = 1;
    int claimed = 0, recorded = 0, have_kek = 0;
    snprintf(out->registry_id, sizeof(out->registry_id), "%s", reg->id);
    new_run_id(out->run_id);
    snprintf(out->task, sizeof(out->task), "%s", task ? task : "");
    snprintf(out->trigger, sizeof(out->trigger), "%s", trigger);
    snprintf(out->status, sizeof(out->status), "Running");
    out->created_at = now;
    const char *kind = "purge";
    cf_code rc = tasks_cmd_check(cmd, &kind, 0, e);
    if (rc != CF_OK)
        goto out;
    snprintf(out->cmd, sizeof(out->cmd), "%s", kind);
    /* the key first: a locked registry starts no run */
    if ((rc = keyring_kek(&kek, reg, e)) != CF_OK)
        goto out;
    have_kek = 1;
    if (task && (rc = meta_task_claim(reg->id, task, out->run_id, now, now - TASKS_CLAIM_LEASE, due,
                                      next, e)) != CF_OK)
        goto out;
    claimed = task != NULL;
    if ((rc = meta_task_run_put(out, e)) != CF_OK)
        goto out;
    recorded = 1;
    cf_log(CF_LOG_INFO, "task run started", "registry", reg->name, "task", task ? task : "",
           "run_id", out->run_id, "trigger", trigger, NULL);
    ws = malloc(sizeof(*ws));
    pa = malloc(sizeof(*pa));
    if (ws == NULL || pa == NULL) {
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
        goto out;
    }
    split(ws, cmd, NULL);
    cf_buf_appendf(&log, NULL, "run %s of %s on registry %s, trigger %s\n", out->run_id,
                   task ? task : "a quick run", reg->name, trigger);
    cf_err ce = {0};
    cf_code cr;
    if (strcmp(kind, "import") == 0) {
        import_args ia;
        cr = parse_import(&ia, ws, command_start(ws) + 1, &ce);
        if (cr == CF_OK)
            cr = import_run(reg, &kek, &ia, &log, &ce);
    } else if ((cr = parse_purge(pa, ws, command_start(ws) + 1, &ce)) == CF_OK) {
        cr = run_purge(reg, pa, now, &log, &ce);
        purge_args_free(pa);
    }
    if (cr != CF_OK)
        cf_buf_appendf(&log, NULL, "error: %s\n", ce.msg);
    cf_buf_appendf(&log, NULL, "run %s %s\n", out->run_id, cr == CF_OK ? "succeeded" : "failed");
    snprintf(out->status, sizeof(out->status), "%s", cr == CF_OK ? "Succeeded" : "Failed");
    char key[OBJECTS_KEY_MAX];
    log_key(key, sizeof(key), reg->id, out->run_id);
    if ((rc = objects_put_sealed(key, &kek, log.data, log.len, e)) != CF_OK) {
        snprintf(out->status, sizeof(out->status), "Failed");
        cf_log(CF_LOG_WARN, "task log not stored", "run_id", out->run_id, "error", e->msg, NULL);
    } else {
        out->log_size = (int64_t)log.len;
    }
    out->finished_at = tasks_now();
    cf_err fe = {0};
    if (meta_task_run_put(out, &fe) != CF_OK && rc == CF_OK)
        rc = cf_err_set(e, fe.code, "%s", fe.msg);
    cf_log(CF_LOG_INFO, "task run finished", "registry", reg->name, "run_id", out->run_id, "status",
           out->status, NULL);
out:
    if (rc != CF_OK && recorded) {
        snprintf(out->status, sizeof(out->status), "Failed");
        out->finished_at = tasks_now();
        meta_task_run_put(out, NULL);
    }
    if (claimed)
        meta_task_release(reg->id, task, out->run_id, NULL);
    if (have_kek)
        OPENSSL_cleanse(&kek, sizeof(kek));
    cf_buf_free(&log);
    if (ws)
        OPENSSL_cleanse(ws, sizeof(*ws));
    free(ws);
    free(pa);
    return rc;
}

cf_code tasks_log_read(const meta_registry *reg, const char *run_id, cf_buf *out, cf_err *e)
{
    meta_task_run r;
    cf_code rc = meta_task_run_get(&r, reg->id, run_id, e);
    if (rc != CF_OK)
        return rc;
    seal_kek kek;
    if ((rc = keyring_kek(&kek, reg, e)) != CF_OK)
        return rc;
    char key[OBJECTS_KEY_MAX];
    log_key(key, sizeof(key), reg->id, r.run_id);
    rc = objects_get_sealed(key, &kek, TASKS_LOG_MAX, out, e);
    OPENSSL_cleanse(&kek, sizeof(kek));
    return rc;
}

/* ---- the thread: schedules and retention ---- */

typedef struct due_list {
    meta_task *v;
    size_t n, cap;
} due_list;

static int add_due(void *cls, const meta_task *t)
{
    due_list *l = cls;
    if (grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v)) != 0)
        return 1;
    l->v[l->n++] = *t;
    return 0;
}

static int expire_one(void *cls, const meta_task_run *r)
{
    unsigned *n = cls;
    char key[OBJECTS_KEY_MAX];
    log_key(key, sizeof(key), r->registry_id, r->run_id);
    cf_err e = {0};
    cf_code rc = objects_remove_key(key, &e);
    if (rc != CF_OK && rc != CF_ENOTFOUND) {
        cf_log(CF_LOG_WARN, "task log not removed", "run_id", r->run_id, "error", e.msg, NULL);
        return 0;
    }
    if (meta_task_run_delete(r->registry_id, r->run_id, NULL) == CF_OK) {
        (*n)++;
        cf_log(CF_LOG_INFO, "task log expired", "run_id", r->run_id, NULL);
    }
    return 0;
}

unsigned tasks_expire(const meta_registry *reg, int64_t now)
{
    unsigned n = 0;
    int64_t keep = reg->cmk ? TASKS_RETENTION_CMK : TASKS_RETENTION;
    meta_task_run_each_older(reg->id, now - keep, 1000, expire_one, &n, NULL);
    return n;
}

static int expire_registry(void *cls, const meta_registry *r)
{
    tasks_expire(r, *(const int64_t *)cls);
    return 0;
}

void tasks_tick(void)
{
    int64_t now = tasks_now();
    due_list l = {0};
    cf_err e = {0};
    if (meta_task_each_due(now, add_due, &l, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "tasks: cannot list due tasks", "error", e.msg, NULL);
    for (size_t i = 0; i < l.n; i++) {
        meta_task *t = &l.v[i];
        cron_expr c;
        int64_t next = 0;
        if (cron_parse(&c, t->schedule, strlen(t->schedule), NULL) == CF_OK)
            next = cron_next(&c, now);
        if (next < 0)
            next = 0;
        meta_registry reg;
        meta_task_run run;
        cf_err re = {0};
        if (meta_registry_get_id(&reg, t->registry_id, &re) != CF_OK)
            continue;
        if (tasks_run(&run, &reg, t->name, t->cmd, "Timer", 1, next, &re) != CF_OK &&
            re.code != CF_ECONFLICT) {
            /* the tick is not retried: move to the next one */
            meta_task_claim(t->registry_id, t->name, "skipped", now, now - TASKS_CLAIM_LEASE, 1,
                            next, NULL);
            meta_task_release(t->registry_id, t->name, "skipped", NULL);
            cf_log(CF_LOG_WARN, "scheduled task run not started", "registry", reg.name, "task",
                   t->name, "error", re.msg, NULL);
        }
        OPENSSL_cleanse(&reg, sizeof(reg));
    }
    free(l.v);
    cf_err xe = {0};
    meta_registry_each(expire_registry, &now, &xe);
}

static cf_ticker *ticker;

static void tick_once(void *arg)
{
    (void)arg;
    tasks_tick();
}

cf_code tasks_start(unsigned tick_s, const char *clock_file, cf_err *e)
{
    snprintf(clock_path, sizeof(clock_path), "%s", clock_file ? clock_file : "");
    return cf_ticker_start(&ticker, "tasks", (tick_s ? tick_s : 1) * 1000, 0, tick_once, NULL, e);
}

void tasks_stop(void)
{
    cf_ticker_stop(ticker);
    ticker = NULL;
}
