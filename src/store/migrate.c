/*
 * migrate.c -- `cofferd migrate` (migrate.h): an embedded installation
 * copied into PostgreSQL and an S3 bucket.
 *
 *   cofferd migrate --from-data DIR [--database postgresql://...]
 *                   [--objects s3://BUCKET[/PREFIX] [--s3-...]]
 *
 * The order is the daemon's own rule, objects before the metadata that
 * points at them:
 *
 *   1. objects: every blob and manifest the source's metadata names is
 *      copied as its sealed bytes (never decrypted: the bucket receives
 *      exactly what the files hold, so no key is needed, not even the
 *      customer's), then read back from the destination and its SHA-256
 *      compared with the source file's. An object already at the
 *      destination with the same size and hash is not copied again: a
 *      second run after a failure resumes where the first stopped;
 *   2. metadata: every table of the source (uploads aside: an upload in
 *      progress is not carried over; its client pushes again) is copied
 *      row by row with ON CONFLICT DO NOTHING (a second run adds what is
 *      missing), in transactions of 500 rows; then each table is verified
 *      on both sides: same row count, same SHA-256 over every row in the
 *      same order (ORDER BY every column, NULLS FIRST on both engines);
 *   3. a summary; exit 0 only when everything verified.
 *
 * "Every object's digest re-checked" is, for sealed objects, the hash of
 * the sealed bytes read back from the bucket: a bit-identical copy of an
 * object that authenticates is an object that authenticates (the seal
 * binds it to its registry and object id, not to where it lies). Opening
 * each object with the registry's keys would need the customer's key of
 * every CMK registry (the vault) and would prove nothing more; the e2e
 * test pulls the migrated images back bit-identical instead.
 *
 * The source must not change meanwhile: stop cofferd first. The keys
 * (DIR/keys/, DIR/admin.token) stay in DIR; the migrated service runs
 * with --data DIR and the new --database and --objects.
 */
#define CF_LOG_MOD "migrate"
#include "store/migrate.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/enc.h"
#include "base/log.h"
#include "store/meta_int.h"
#include "store/objects.h"
#include "store/s3_opts.h"

#define CHUNK ((size_t)1 << 20)
#define ROWS_PER_TX 500
#define MAX_COLS 32

typedef struct stats {
    unsigned long objects, copied, skipped, missing, mismatched;
    unsigned long long bytes;
    unsigned long tables, rows, rows_there, bad_tables;
} stats;

static void usage(FILE *f)
{
    fprintf(f, "usage: cofferd migrate --from-data DIR [--database postgresql://USER@HOST/DB]\n"
               "                       [--objects s3://BUCKET[/PREFIX] [--s3-endpoint URL]\n"
               "                        [--s3-region R] [--s3-url-style path|virtual]\n"
               "                        [--s3-ca FILE] [--s3-credentials FILE]]\n"
               "                       [--log-level LEVEL]\n"
               "Copies an embedded installation (DIR/cofferd.db, DIR/registries/) into\n"
               "PostgreSQL and an S3 bucket, sealed objects as they are, then verifies\n"
               "every object (SHA-256 of the bytes read back) and every table (row counts\n"
               "and a hash of all rows). Resumable: run it again after a failure. Stop\n"
               "cofferd first; afterwards run it with --data DIR and the same --database\n"
               "and --objects (docs/storage.md).\n");
}

/* ---- objects ---- */

static cf_code raw_hash(objects_raw *r, unsigned char out[32], unsigned char *buf, cf_err *e)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return cf_err_ssl(e, "sha256");
    }
    uint64_t size = objects_raw_size(r);
    cf_code rc = CF_OK;
    for (uint64_t off = 0; rc == CF_OK && off < size;) {
        size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        rc = objects_raw_read(r, off, buf, n, e);
        if (rc == CF_OK && EVP_DigestUpdate(c, buf, n) != 1)
            rc = cf_err_ssl(e, "sha256");
        off += n;
    }
    unsigned int len = 0;
    if (rc == CF_OK && EVP_DigestFinal_ex(c, out, &len) != 1)
        rc = cf_err_ssl(e, "sha256");
    EVP_MD_CTX_free(c);
    return rc;
}

/* The hash of key on store s; CF_ENOTFOUND when absent. */
static cf_code key_hash(objects_store *s, const char *key, unsigned char out[32], uint64_t *size,
                        unsigned char *buf, cf_err *e)
{
    objects_raw *r = NULL;
    cf_code rc = objects_raw_open(&r, s, key, e);
    if (rc != CF_OK)
        return rc;
    *size = objects_raw_size(r);
    rc = raw_hash(r, out, buf, e);
    objects_raw_free(r);
    return rc;
}

/* Copies one object (unless the destination has it, identical) and
 * verifies it. */
static cf_code copy_object(objects_store *src, objects_store *dst, const char *key, stats *st,
                           unsigned char *buf, cf_err *e)
{
    unsigned char hs[32], hd[32];
    uint64_t ss = 0, ds = 0;
    cf_code rc = key_hash(src, key, hs, &ss, buf, e);
    if (rc == CF_ENOTFOUND) {
        st->missing++;
        cf_log(CF_LOG_ERROR, "object missing in the source", "key", key, NULL);
        cf_err_clear(e);
        return CF_OK; /* reported; the verification fails at the end */
    }
    if (rc != CF_OK)
        return rc;
    st->objects++;
    cf_err de = {0};
    uint64_t have = 0;
    if (objects_store_stat(dst, key, &have, NULL, &de) == CF_OK && have == ss &&
        key_hash(dst, key, hd, &ds, buf, &de) == CF_OK && memcmp(hs, hd, 32) == 0) {
        st->skipped++;
        return CF_OK; /* copied by an earlier run */
    }
    objects_raw *r = NULL;
    rc = objects_raw_open(&r, src, key, e);
    if (rc == CF_OK)
        rc = objects_raw_put(dst, key, r, e);
    objects_raw_free(r);
    if (rc == CF_OK)
        rc = key_hash(dst, key, hd, &ds, buf, e);
    if (rc != CF_OK)
        return rc;
    if (ds != ss || memcmp(hs, hd, 32) != 0) {
        st->mismatched++;
        cf_log(CF_LOG_ERROR, "object differs after the copy", "key", key, NULL);
        return CF_OK;
    }
    st->copied++;
    st->bytes += ss;
    if (st->copied % 100 == 0) {
        char n[24];
        snprintf(n, sizeof(n), "%lu", st->copied);
        cf_log(CF_LOG_INFO, "objects copied", "count", n, NULL);
    }
    return CF_OK;
}

static cf_code copy_objects(db *c, objects_store *src, objects_store *dst, stats *st, cf_err *e)
{
    static const char SQL[] = "SELECT registry_id, digest FROM blobs ORDER BY registry_id, digest";
    db_stmt *q = db_prepare(c, SQL, e);
    if (q == NULL)
        return e->code ? e->code : CF_EIO;
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = CF_OK;
    int s;
    while (rc == CF_OK && (s = db_step(q, e)) == DB_ROW) {
        char reg[80], dg[OCI_DIGEST_MAX + 1], key[OBJECTS_KEY_MAX];
        db_column_copy(reg, sizeof(reg), q, 0);
        db_column_copy(dg, sizeof(dg), q, 1);
        oci_digest d;
        if (oci_digest_parse(&d, dg, strlen(dg), NULL) != CF_OK) {
            st->missing++;
            cf_log(CF_LOG_ERROR, "malformed digest in the source", "digest", dg, NULL);
            continue;
        }
        objects_blob_key(key, sizeof(key), reg, &d);
        rc = copy_object(src, dst, key, st, buf, e);
    }
    if (rc == CF_OK && s < 0)
        rc = (cf_code)s;
    db_reset(q);
    free(buf);
    return rc;
}

/* ---- metadata ---- */

/* SQL texts live until the end: the statement cache is keyed by address. */
static char *keep[256];
static int nkeep;

static const char *kept(char *s)
{
    if (s == NULL || nkeep == (int)(sizeof(keep) / sizeof(keep[0]))) {
        free(s);
        return NULL;
    }
    keep[nkeep++] = s;
    return s;
}

static void kept_free(void)
{
    for (int i = 0; i < nkeep; i++)
        free(keep[i]);
    nkeep = 0;
}

typedef struct table {
    char name[64];
    int ncols;
    char col[MAX_COLS][64];
    int is_blob[MAX_COLS];
} table;

static int ident_ok(const char *s)
{
    if (*s == '\0' || strlen(s) >= 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static cf_code table_columns(db *c, table *t, cf_err *e)
{
    char *sql = NULL;
    if (asprintf(&sql, "SELECT name, upper(type) FROM pragma_table_info('%s') ORDER BY cid",
                 t->name) < 0)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    const char *q = kept(sql);
    db_stmt *st = q ? db_prepare(c, q, e) : NULL;
    if (st == NULL)
        return e->code ? e->code : CF_ENOMEM;
    int s;
    t->ncols = 0;
    while ((s = db_step(st, e)) == DB_ROW) {
        if (t->ncols == MAX_COLS) {
            db_reset(st);
            return cf_err_set(e, CF_EUNSUPPORTED, "table %s has more than %d columns", t->name,
                              MAX_COLS);
        }
        db_column_copy(t->col[t->ncols], sizeof(t->col[0]), st, 0);
        const char *type = db_column_text(st, 1);
        t->is_blob[t->ncols] = type && strstr(type, "BLOB") != NULL;
        if (!ident_ok(t->col[t->ncols])) {
            db_reset(st);
            return cf_err_set(e, CF_EINVAL, "unexpected column name in %s", t->name);
        }
        t->ncols++;
    }
    db_reset(st);
    return s < 0 ? (cf_code)s : CF_OK;
}

/* "c1, c2, ..." (with prefix/suffix around each) */
static char *col_list(const table *t, const char *pre, const char *post)
{
    size_t cap = (size_t)t->ncols * (64 + strlen(pre) + strlen(post) + 4) + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (int i = 0; i < t->ncols; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s%s%s%s", i ? ", " : "", pre, t->col[i], post);
    return s;
}

static cf_code copy_rows(db *src, db *dst, const table *t, stats *st, cf_err *e)
{
    char *cols = col_list(t, "", ""), *sel = NULL, *ins = NULL, *params = NULL;
    cf_code rc = CF_OK;
    size_t pcap = (size_t)t->ncols * 6 + 1, po = 0;
    params = malloc(pcap);
    if (cols == NULL || params == NULL) {
        free(cols);
        free(params);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    for (int i = 0; i < t->ncols; i++)
        po += (size_t)snprintf(params + po, pcap - po, "%s?%d", i ? ", " : "", i + 1);
    /* typeof() tells each value's storage class (NULL vs 0 vs '') */
    char *typed = NULL;
    size_t tcap = (size_t)t->ncols * 150 + 1, to = 0;
    typed = malloc(tcap);
    if (typed)
        for (int i = 0; i < t->ncols; i++)
            to += (size_t)snprintf(typed + to, tcap - to, "%stypeof(%s), %s", i ? ", " : "",
                                   t->col[i], t->col[i]);
    if (typed == NULL || asprintf(&sel, "SELECT %s FROM %s", typed, t->name) < 0 ||
        asprintf(&ins, "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING", t->name, cols,
                 params) < 0)
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    free(typed);
    free(cols);
    free(params);
    const char *qs = rc == CF_OK ? kept(sel) : (free(sel), NULL);
    const char *qi = rc == CF_OK ? kept(ins) : (free(ins), NULL);
    if (rc != CF_OK || qs == NULL || qi == NULL)
        return rc != CF_OK ? rc : cf_err_set(e, CF_ENOMEM, "out of memory");
    db_stmt *s = db_prepare(src, qs, e);
    if (s == NULL)
        return e->code ? e->code : CF_EIO;
    int in_tx = 0, n = 0, r;
    while ((r = db_step(s, e)) == DB_ROW) {
        if (!in_tx) {
            rc = db_begin(dst, e);
            if (rc != CF_OK)
                break;
            in_tx = 1;
        }
        db_stmt *w = db_prepare(dst, qi, e);
        if (w == NULL) {
            rc = e->code ? e->code : CF_EIO;
            break;
        }
        for (int i = 0; i < t->ncols; i++) {
            const char *ty = db_column_text(s, 2 * i);
            if (ty == NULL || strcmp(ty, "null") == 0) {
                db_bind_text(w, i + 1, NULL);
            } else if (strcmp(ty, "integer") == 0) {
                db_bind_int64(w, i + 1, db_column_int64(s, 2 * i + 1));
            } else if (strcmp(ty, "blob") == 0) {
                size_t bn = 0;
                const void *p = db_column_blob(s, 2 * i + 1, &bn);
                db_bind_blob(w, i + 1, p ? p : "", bn);
            } else {
                db_bind_text(w, i + 1, db_column_text(s, 2 * i + 1));
            }
        }
        rc = db_run(w, e);
        if (rc != CF_OK)
            break;
        if (db_changes(w) > 0)
            st->rows++;
        else
            st->rows_there++; /* copied by an earlier run */
        if (++n % ROWS_PER_TX == 0) {
            rc = db_end(dst, CF_OK, e);
            in_tx = 0;
            if (rc != CF_OK)
                break;
        }
    }
    if (rc == CF_OK && r < 0)
        rc = (cf_code)r;
    db_reset(s);
    if (in_tx)
        rc = db_end(dst, rc, e);
    return rc;
}

/* SHA-256 over every row of t in one order, and the row count. */
static cf_code table_digest(db *c, const table *t, unsigned char out[32], int64_t *count, cf_err *e)
{
    char *cols = col_list(t, "", ""), *order = col_list(t, "", " NULLS FIRST"), *sql = NULL;
    cf_code rc = CF_OK;
    if (cols == NULL || order == NULL ||
        asprintf(&sql, "SELECT %s FROM %s ORDER BY %s", cols, t->name, order) < 0)
        rc = cf_err_set(e, CF_ENOMEM, "out of memory");
    free(cols);
    free(order);
    const char *q = rc == CF_OK ? kept(sql) : (free(sql), NULL);
    if (q == NULL)
        return rc != CF_OK ? rc : cf_err_set(e, CF_ENOMEM, "out of memory");
    db_stmt *s = db_prepare(c, q, e);
    if (s == NULL)
        return e->code ? e->code : CF_EIO;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        db_reset(s);
        return cf_err_ssl(e, "sha256");
    }
    *count = 0;
    int r;
    while ((r = db_step(s, e)) == DB_ROW) {
        (*count)++;
        for (int i = 0; i < t->ncols; i++) {
            /* a NULL is "N"; a value is "V" length ‖ bytes */
            const void *p;
            size_t n = 0;
            if (t->is_blob[i]) {
                p = db_column_blob(s, i, &n);
                if (p == NULL && db_column_text(s, i) != NULL)
                    p = ""; /* an empty blob, not NULL */
            } else {
                p = db_column_text(s, i);
                n = p ? strlen(p) : 0;
            }
            unsigned char tag[9] = {p ? 'V' : 'N'};
            for (int k = 0; k < 8; k++)
                tag[1 + k] = (unsigned char)((uint64_t)n >> (56 - 8 * k));
            EVP_DigestUpdate(h, tag, p ? 9 : 1);
            if (p && n)
                EVP_DigestUpdate(h, p, n);
        }
    }
    unsigned int len = 0;
    EVP_DigestFinal_ex(h, out, &len);
    EVP_MD_CTX_free(h);
    db_reset(s);
    return r < 0 ? (cf_code)r : rc;
}

static cf_code copy_metadata(db *src, db *dst, stats *st, cf_err *e)
{
    static const char TABLES[] = "SELECT name FROM sqlite_master WHERE type = 'table' AND name"
                                 " NOT IN ('schema_version', 'uploads') AND name NOT LIKE"
                                 " 'sqlite%' ORDER BY name";
    table tabs[64];
    int nt = 0, r;
    db_stmt *q = db_prepare(src, TABLES, e);
    if (q == NULL)
        return e->code ? e->code : CF_EIO;
    while ((r = db_step(q, e)) == DB_ROW && nt < 64) {
        memset(&tabs[nt], 0, sizeof(tabs[nt]));
        db_column_copy(tabs[nt].name, sizeof(tabs[nt].name), q, 0);
        if (!ident_ok(tabs[nt].name)) {
            db_reset(q);
            return cf_err_set(e, CF_EINVAL, "unexpected table name in the source");
        }
        nt++;
    }
    db_reset(q);
    if (r < 0)
        return (cf_code)r;
    for (int i = 0; i < nt; i++) {
        table *t = &tabs[i];
        cf_code rc = table_columns(src, t, e);
        if (rc == CF_OK)
            rc = copy_rows(src, dst, t, st, e);
        if (rc != CF_OK) {
            cf_err_set(e, rc, "table %s: %s", t->name, e->msg);
            return rc;
        }
        unsigned char a[32], b[32];
        int64_t na = 0, nb = 0;
        rc = table_digest(src, t, a, &na, e);
        if (rc == CF_OK)
            rc = table_digest(dst, t, b, &nb, e);
        if (rc != CF_OK)
            return rc;
        char sa[24], sb[24];
        snprintf(sa, sizeof(sa), "%lld", (long long)na);
        snprintf(sb, sizeof(sb), "%lld", (long long)nb);
        st->tables++;
        if (na != nb || memcmp(a, b, 32) != 0) {
            st->bad_tables++;
            cf_log(CF_LOG_ERROR, "table differs after the copy", "table", t->name, "source_rows",
                   sa, "destination_rows", sb, NULL);
        } else {
            cf_log(CF_LOG_INFO, "table copied and verified", "table", t->name, "rows", sa, NULL);
        }
    }
    return CF_OK;
}

/* ---- main ---- */

int migrate_main(int argc, char **argv)
{
    const char *from = NULL, *database = NULL;
    s3_opts so = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--from-data") == 0 && has)
            from = argv[++i];
        else if (strcmp(a, "--database") == 0 && has)
            database = argv[++i];
        else if (strcmp(a, "--objects") == 0 && has)
            so.objects = argv[++i];
        else if (strcmp(a, "--s3-endpoint") == 0 && has)
            so.endpoint = argv[++i];
        else if (strcmp(a, "--s3-region") == 0 && has)
            so.region = argv[++i];
        else if (strcmp(a, "--s3-url-style") == 0 && has)
            so.url_style = argv[++i];
        else if (strcmp(a, "--s3-ca") == 0 && has)
            so.ca_file = argv[++i];
        else if (strcmp(a, "--s3-credentials") == 0 && has)
            so.credentials = argv[++i];
        else if (strcmp(a, "--log-level") == 0 && has) {
            if (cf_log_level_parse(argv[++i], &cf_log_threshold) != 0) {
                fprintf(stderr, "cofferd migrate: unknown log level '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "cofferd migrate: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (from == NULL || (database == NULL && so.objects == NULL)) {
        usage(stderr);
        return 2;
    }
    if (database && !db_target_is_postgres(database)) {
        fprintf(stderr, "cofferd migrate: --database wants a postgresql:// URI\n");
        return 2;
    }
    if (database && db_uri_has_password(database)) {
        fprintf(stderr, "cofferd migrate: --database: no password on the command line; put it in"
                        " ~/.pgpass or the file PGPASSFILE names\n");
        return 2;
    }
    if (so.objects && !s3_opts_is_s3(so.objects)) {
        fprintf(stderr, "cofferd migrate: --objects wants s3://BUCKET[/PREFIX]\n");
        return 2;
    }
    umask(077);
    signal(SIGPIPE, SIG_IGN);
    char path[4096];
    snprintf(path, sizeof(path), "%s/cofferd.db", from);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "cofferd migrate: %s: %s (not an embedded data directory)\n", path,
                strerror(errno));
        return 1;
    }
    int status = 1;
    cf_err e = {0};
    stats st = {0};
    db_store *src = NULL;
    objects_store *osrc = NULL, *odst = NULL;
    int meta_up = 0;
    if (meta_store_open(&src, path, &e) != CF_OK)
        goto out;
    db *sc = db_get(src, &e);
    if (sc == NULL)
        goto out;
    if (so.objects) {
        if (objects_store_files(&osrc, from, &e) != CF_OK ||
            s3_opts_store(&odst, from, &so, &e) != CF_OK)
            goto out;
        cf_log(CF_LOG_INFO, "copying objects", "from", from, "to", objects_store_where(odst), NULL);
        if (copy_objects(sc, osrc, odst, &st, &e) != CF_OK)
            goto out;
    }
    if (database) {
        if (meta_init(database, &e) != CF_OK)
            goto out;
        meta_up = 1;
        db *dc = db_get(meta_store, &e);
        if (dc == NULL)
            goto out;
        cf_log(CF_LOG_INFO, "copying metadata", "from", path, "to", "postgresql", NULL);
        if (copy_metadata(sc, dc, &st, &e) != CF_OK)
            goto out;
    }
    status = (st.missing || st.mismatched || st.bad_tables) ? 1 : 0;
    printf("objects: %lu verified (%lu copied, %llu bytes; %lu already there), %lu missing in "
           "the source, %lu differing\n",
           st.objects, st.copied, st.bytes, st.skipped, st.missing, st.mismatched);
    printf("metadata: %lu tables verified, %lu rows copied (%lu already there), %lu tables "
           "differing\n",
           st.tables, st.rows, st.rows_there, st.bad_tables);
    if (status == 0)
        printf("verified. Start cofferd with --data %s%s%s%s%s\n", from,
               database ? " --database " : "", database ? database : "",
               so.objects ? " --objects " : "", so.objects ? so.objects : "");
    else
        printf("NOT verified: see the errors above; fix them and run migrate again\n");
out:
    if (status == 1 && e.code != CF_OK) {
        cf_log(CF_LOG_ERROR, "migration failed", "error", e.msg, NULL);
        fprintf(stderr, "cofferd migrate: %s\n", e.msg);
    }
    if (meta_up)
        meta_shutdown();
    db_store_close(src);
    kept_free();
    objects_store_free(osrc);
    objects_store_free(odst);
    return status;
}
