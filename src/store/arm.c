/*
 * arm.c -- subscriptions, resource groups and placements (see arm.h).
 * Every statement is a static string in the SQL both engines of the
 * metadata store accept (db.h); the tables are migration 2 of meta.c,
 * whose DDL is here. Subscription ids and group keys are stored lower
 * case, so that lookups compare as ARM does without an engine's collation.
 */
#define CF_LOG_MOD "arm"
#include "store/arm.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "store/meta_int.h"

const char arm_schema_sqlite[] =
    "CREATE TABLE IF NOT EXISTS subscriptions ("
    " id TEXT PRIMARY KEY, display_name TEXT NOT NULL, tenant_id TEXT NOT NULL,"
    " state TEXT NOT NULL, is_default INTEGER NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS resource_groups ("
    " subscription_id TEXT NOT NULL, name_key TEXT NOT NULL, name TEXT NOT NULL,"
    " location TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " PRIMARY KEY (subscription_id, name_key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS resource_placements ("
    " kind TEXT NOT NULL, name TEXT NOT NULL, subscription_id TEXT NOT NULL,"
    " group_key TEXT NOT NULL, location TEXT NOT NULL, PRIMARY KEY (kind, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS resource_placements_group"
    " ON resource_placements (subscription_id, group_key);";

#define T "TEXT COLLATE \"C\""
const char arm_schema_postgres[] =
    "CREATE TABLE subscriptions ("
    " id " T " PRIMARY KEY, display_name " T " NOT NULL, tenant_id " T " NOT NULL,"
    " state " T " NOT NULL, is_default BIGINT NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE resource_groups ("
    " subscription_id " T " NOT NULL, name_key " T " NOT NULL, name " T " NOT NULL,"
    " location " T " NOT NULL, created_at BIGINT NOT NULL,"
    " PRIMARY KEY (subscription_id, name_key));"
    "CREATE TABLE resource_placements ("
    " kind " T " NOT NULL, name " T " NOT NULL, subscription_id " T " NOT NULL,"
    " group_key " T " NOT NULL, location " T " NOT NULL, PRIMARY KEY (kind, name));"
    "CREATE INDEX resource_placements_group ON resource_placements (subscription_id, group_key);";

const char arm_authz_schema_postgres[] =
    "CREATE TABLE IF NOT EXISTS mgmt_principals ("
    " object_id " T " PRIMARY KEY, app_id " T " NOT NULL UNIQUE, subscription_id " T " NOT NULL,"
    " display_name " T " NOT NULL, secret_hash " T " NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mgmt_role_assignments ("
    " id " T " PRIMARY KEY, scope " T " NOT NULL, scope_key " T " NOT NULL,"
    " principal_id " T " NOT NULL, role_id " T " NOT NULL, created_by " T " NOT NULL,"
    " created_at BIGINT NOT NULL, UNIQUE (scope_key, principal_id, role_id));"
    "CREATE INDEX IF NOT EXISTS mgmt_role_assignments_principal ON mgmt_role_assignments "
    "(principal_id);";
#undef T

const char arm_authz_schema_sqlite[] =
    "CREATE TABLE IF NOT EXISTS mgmt_principals ("
    " object_id TEXT PRIMARY KEY, app_id TEXT NOT NULL UNIQUE, subscription_id TEXT NOT NULL,"
    " display_name TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mgmt_role_assignments ("
    " id TEXT PRIMARY KEY, scope TEXT NOT NULL, scope_key TEXT NOT NULL,"
    " principal_id TEXT NOT NULL, role_id TEXT NOT NULL, created_by TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, UNIQUE (scope_key, principal_id, role_id));"
    "CREATE INDEX IF NOT EXISTS mgmt_role_assignments_principal"
    " ON mgmt_role_assignments (principal_id);";

/* ---- one statement: texts and integers in, rows out ---- */

typedef struct param {
    int is_int;
    const char *text;
    int64_t i;
} param;

#define PT(s) ((param){0, (s), 0})
#define PI(v) ((param){1, NULL, (int64_t)(v)})

/* Runs sql with p[0..n) as ?1..?n; fn (may be NULL) gets each row and stops
 * the walk by returning non-zero (it must not call the store: its
 * statement is the one a nested call would reuse); *changes (may be NULL)
 * the rows a write changed. */
static cf_code run(const char *sql, const param *p, int n, int (*fn)(void *cls, db_stmt *st),
                   void *cls, int64_t *changes, cf_err *e)
{
    META_CONN(c);
    META_STMT(st, c, sql);
    for (int i = 0; i < n; i++) {
        if (p[i].is_int)
            db_bind_int64(st, i + 1, p[i].i);
        else
            db_bind_text(st, i + 1, p[i].text);
    }
    int rc;
    while ((rc = db_step(st, e)) == DB_ROW)
        if (fn && fn(cls, st) != 0)
            break;
    cf_code out = rc < 0 ? (cf_code)rc : CF_OK;
    if (out == CF_OK && changes)
        *changes = db_changes(st);
    db_reset(st);
    return out;
}

static const char *col_text(db_stmt *st, int i)
{
    return db_column_text(st, i);
}

static char default_sub[ARM_SUB_MAX + 1];
static char default_group[ARM_GROUP_MAX + 1];

const char *arm_default_sub(void)
{
    return default_sub;
}

const char *arm_default_group(void)
{
    return default_group;
}

static void lower_copy(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap; i++)
        dst[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    dst[i] = '\0';
}

static void text_copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- subscriptions ---- */

static const char SQL_SUB_INSERT[] =
    "INSERT INTO subscriptions (id, display_name, tenant_id, state, is_default, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING";
static const char SQL_SUB_UPDATE[] =
    "UPDATE subscriptions SET display_name = ?2, state = ?3 WHERE id = ?1";
static const char SQL_SUB_GET[] = "SELECT id, display_name, tenant_id, state, is_default,"
                                  " created_at FROM subscriptions WHERE id = ?1";
static const char SQL_SUB_ALL[] = "SELECT id, display_name, tenant_id, state, is_default,"
                                  " created_at FROM subscriptions ORDER BY id";
static const char SQL_SUB_DEFAULT[] =
    "UPDATE subscriptions SET is_default = CASE WHEN id = ?1 THEN 1 ELSE 0 END";

static int sub_row(void *cls, db_stmt *r)
{
    arm_subscription *s = cls;
    text_copy(s->id, sizeof(s->id), col_text(r, 0));
    text_copy(s->display_name, sizeof(s->display_name), col_text(r, 1));
    text_copy(s->tenant_id, sizeof(s->tenant_id), col_text(r, 2));
    text_copy(s->state, sizeof(s->state), col_text(r, 3));
    s->is_default = (int)db_column_int64(r, 4);
    s->created_at = db_column_int64(r, 5);
    return 1;
}

cf_code arm_sub_put(const arm_subscription *s, int *created, cf_err *e)
{
    char id[ARM_SUB_MAX + 1];
    lower_copy(id, sizeof(id), s->id);
    int64_t changes = 0;
    param p[] = {PT(id),
                 PT(s->display_name),
                 PT(s->tenant_id),
                 PT(s->state[0] ? s->state : "Enabled"),
                 PI(s->is_default),
                 PI(s->created_at ? s->created_at : now_s())};
    cf_code rc = run(SQL_SUB_INSERT, p, 6, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0) {
        param u[] = {PT(id), PT(s->display_name), PT(s->state[0] ? s->state : "Enabled")};
        rc = run(SQL_SUB_UPDATE, u, 3, NULL, NULL, NULL, e);
    }
    if (created)
        *created = rc == CF_OK && changes > 0;
    return rc;
}

cf_code arm_sub_get(arm_subscription *out, const char *id, cf_err *e)
{
    char key[ARM_SUB_MAX + 1];
    lower_copy(key, sizeof(key), id);
    memset(out, 0, sizeof(*out));
    param p[] = {PT(key)};
    cf_code rc = run(SQL_SUB_GET, p, 1, sub_row, out, NULL, e);
    if (rc == CF_OK && out->id[0] == '\0')
        rc = cf_err_set(e, CF_ENOTFOUND, "subscription %s not found", id);
    return rc;
}

typedef struct sub_walk {
    arm_subscription row;
    int (*fn)(void *cls, const arm_subscription *s);
    void *cls;
} sub_walk;

static int sub_each_row(void *cls, db_stmt *r)
{
    sub_walk *w = cls;
    sub_row(&w->row, r);
    return w->fn(w->cls, &w->row);
}

cf_code arm_sub_each(int (*fn)(void *cls, const arm_subscription *s), void *cls, cf_err *e)
{
    sub_walk w = {.fn = fn, .cls = cls};
    return run(SQL_SUB_ALL, NULL, 0, sub_each_row, &w, NULL, e);
}

/* ---- resource groups ---- */

static const char SQL_GROUP_INSERT[] =
    "INSERT INTO resource_groups (subscription_id, name_key, name, location, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (subscription_id, name_key) DO NOTHING";
static const char SQL_GROUP_GET[] = "SELECT subscription_id, name, location, created_at"
                                    " FROM resource_groups WHERE subscription_id = ?1 AND"
                                    " name_key = ?2";
static const char SQL_GROUP_ALL[] = "SELECT subscription_id, name, location, created_at"
                                    " FROM resource_groups WHERE subscription_id = ?1"
                                    " ORDER BY name_key";
static const char SQL_GROUP_USED[] = "SELECT count(*) FROM resource_placements"
                                     " WHERE subscription_id = ?1 AND group_key = ?2";
static const char SQL_GROUP_DELETE[] =
    "DELETE FROM resource_groups WHERE subscription_id = ?1 AND name_key = ?2";

static int group_row(void *cls, db_stmt *r)
{
    arm_group *g = cls;
    text_copy(g->sub, sizeof(g->sub), col_text(r, 0));
    text_copy(g->name, sizeof(g->name), col_text(r, 1));
    text_copy(g->location, sizeof(g->location), col_text(r, 2));
    g->created_at = db_column_int64(r, 3);
    return 1;
}

cf_code arm_group_get(arm_group *out, const char *sub, const char *name, cf_err *e)
{
    char s[ARM_SUB_MAX + 1], k[ARM_GROUP_MAX + 1];
    lower_copy(s, sizeof(s), sub);
    lower_copy(k, sizeof(k), name);
    memset(out, 0, sizeof(*out));
    param p[] = {PT(s), PT(k)};
    cf_code rc = run(SQL_GROUP_GET, p, 2, group_row, out, NULL, e);
    if (rc == CF_OK && out->name[0] == '\0')
        rc = cf_err_set(e, CF_ENOTFOUND, "resource group %s not found", name);
    return rc;
}

cf_code arm_group_put(const arm_group *g, int *created, cf_err *e)
{
    char s[ARM_SUB_MAX + 1], k[ARM_GROUP_MAX + 1];
    lower_copy(s, sizeof(s), g->sub);
    lower_copy(k, sizeof(k), g->name);
    int64_t changes = 0;
    param p[] = {PT(s), PT(k), PT(g->name), PT(g->location),
                 PI(g->created_at ? g->created_at : now_s())};
    cf_code rc = run(SQL_GROUP_INSERT, p, 5, NULL, NULL, &changes, e);
    if (created)
        *created = rc == CF_OK && changes > 0;
    if (rc != CF_OK || changes > 0)
        return rc;
    arm_group cur;
    if ((rc = arm_group_get(&cur, g->sub, g->name, e)) != CF_OK)
        return rc;
    if (!arm_eq(cur.location, g->location))
        return cf_err_set(e, CF_ECONFLICT,
                          "Invalid resource group location '%s'. The Resource group already "
                          "exists in location '%s'.",
                          g->location, cur.location);
    return CF_OK;
}

typedef struct group_walk {
    arm_group row;
    int (*fn)(void *cls, const arm_group *g);
    void *cls;
} group_walk;

static int group_each_row(void *cls, db_stmt *r)
{
    group_walk *w = cls;
    group_row(&w->row, r);
    return w->fn(w->cls, &w->row);
}

cf_code arm_group_each(const char *sub, int (*fn)(void *cls, const arm_group *g), void *cls,
                       cf_err *e)
{
    char s[ARM_SUB_MAX + 1];
    lower_copy(s, sizeof(s), sub);
    group_walk w = {.fn = fn, .cls = cls};
    param p[] = {PT(s)};
    return run(SQL_GROUP_ALL, p, 1, group_each_row, &w, NULL, e);
}

static int one_count(void *cls, db_stmt *r)
{
    *(int64_t *)cls = db_column_int64(r, 0);
    return 1;
}

cf_code arm_group_delete(const char *sub, const char *name, cf_err *e)
{
    char s[ARM_SUB_MAX + 1], k[ARM_GROUP_MAX + 1];
    lower_copy(s, sizeof(s), sub);
    lower_copy(k, sizeof(k), name);
    param p[] = {PT(s), PT(k)};
    int64_t used = 0;
    int64_t changes = 0;
    cf_code rc = run(SQL_GROUP_USED, p, 2, one_count, &used, NULL, e);
    if (rc == CF_OK && used > 0)
        return cf_err_set(e, CF_ECONFLICT, "resource group %s still holds %lld resource%s", name,
                          (long long)used, used == 1 ? "" : "s");
    if (rc == CF_OK)
        rc = run(SQL_GROUP_DELETE, p, 2, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "resource group %s not found", name);
    return rc;
}

/* ---- placements ---- */

static const char SQL_PLACE_PUT[] =
    "INSERT INTO resource_placements (kind, name, subscription_id, group_key, location)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, name) DO UPDATE SET"
    " subscription_id = ?3, group_key = ?4, location = ?5";
static const char SQL_PLACE_GET[] =
    "SELECT p.subscription_id, g.name, p.location FROM resource_placements p"
    " JOIN resource_groups g ON g.subscription_id = p.subscription_id AND"
    " g.name_key = p.group_key WHERE p.kind = ?1 AND p.name = ?2";
static const char SQL_PLACE_DELETE[] = "DELETE FROM resource_placements WHERE kind = ?1 AND"
                                       " name = ?2";
static const char SQL_PLACE_IN_GROUP[] =
    "SELECT p.kind, p.name, p.subscription_id, g.name, p.location FROM resource_placements p"
    " JOIN resource_groups g ON g.subscription_id = p.subscription_id AND"
    " g.name_key = p.group_key WHERE p.subscription_id = ?1 AND (CAST(?2 AS TEXT) = '' OR "
    "p.group_key = ?2)"
    " AND (CAST(?3 AS TEXT) = '' OR p.kind = ?3) ORDER BY p.kind, p.name";

cf_code arm_place_put(const char *kind, const char *name, const char *sub, const char *group,
                      const char *location, cf_err *e)
{
    char s[ARM_SUB_MAX + 1], k[ARM_GROUP_MAX + 1];
    lower_copy(s, sizeof(s), sub);
    lower_copy(k, sizeof(k), group);
    param p[] = {PT(kind), PT(name), PT(s), PT(k), PT(location)};
    return run(SQL_PLACE_PUT, p, 5, NULL, NULL, NULL, e);
}

static int place_row(void *cls, db_stmt *r)
{
    arm_place *o = cls;
    text_copy(o->sub, sizeof(o->sub), col_text(r, 0));
    text_copy(o->group, sizeof(o->group), col_text(r, 1));
    text_copy(o->location, sizeof(o->location), col_text(r, 2));
    return 1;
}

cf_code arm_place_get(arm_place *out, const char *kind, const char *name, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    param p[] = {PT(kind), PT(name)};
    cf_code rc = run(SQL_PLACE_GET, p, 2, place_row, out, NULL, e);
    if (rc == CF_OK && out->sub[0] == '\0')
        rc = cf_err_set(e, CF_ENOTFOUND, "%s %s has no resource group", kind, name);
    return rc;
}

cf_code arm_place_delete(const char *kind, const char *name, cf_err *e)
{
    param p[] = {PT(kind), PT(name)};
    return run(SQL_PLACE_DELETE, p, 2, NULL, NULL, NULL, e);
}

typedef struct place_walk {
    int (*fn)(void *cls, const char *kind, const char *name, const arm_place *p);
    void *cls;
} place_walk;

static int place_each_row(void *cls, db_stmt *r)
{
    place_walk *w = cls;
    arm_place p;
    char kind[16], name[160];
    text_copy(kind, sizeof(kind), col_text(r, 0));
    text_copy(name, sizeof(name), col_text(r, 1));
    text_copy(p.sub, sizeof(p.sub), col_text(r, 2));
    text_copy(p.group, sizeof(p.group), col_text(r, 3));
    text_copy(p.location, sizeof(p.location), col_text(r, 4));
    return w->fn(w->cls, kind, name, &p);
}

cf_code arm_place_each(const char *sub, const char *group, const char *kind,
                       int (*fn)(void *cls, const char *kind, const char *name, const arm_place *p),
                       void *cls, cf_err *e)
{
    char s[ARM_SUB_MAX + 1], k[ARM_GROUP_MAX + 1];
    lower_copy(s, sizeof(s), sub);
    lower_copy(k, sizeof(k), group ? group : "");
    place_walk w = {.fn = fn, .cls = cls};
    param p[] = {PT(s), PT(k), PT(kind ? kind : "")};
    return run(SQL_PLACE_IN_GROUP, p, 3, place_each_row, &w, NULL, e);
}

int arm_place_in(const arm_place *p, const char *sub, const char *group)
{
    return arm_eq(p->sub, sub) && (group == NULL || arm_eq(p->group, group));
}

/* ---- start: the default subscription and group, the migration ---- */

static const char SQL_MIGRATE_IDENTITIES[] =
    "INSERT INTO resource_placements (kind, name, subscription_id, group_key, location)"
    " SELECT 'identity', name, CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT)"
    " FROM identities WHERE name NOT IN"
    " (SELECT name FROM resource_placements WHERE kind = 'identity')";
static const char SQL_MIGRATE_REGISTRIES[] =
    "INSERT INTO resource_placements (kind, name, subscription_id, group_key, location)"
    " SELECT 'registry', name, CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT)"
    " FROM registries WHERE name NOT IN"
    " (SELECT name FROM resource_placements WHERE kind = 'registry')";
static const char SQL_SWEEP_IDENTITIES[] =
    "DELETE FROM resource_placements WHERE kind = 'identity' AND name NOT IN"
    " (SELECT name FROM identities)";
static const char SQL_SWEEP_REGISTRIES[] =
    "DELETE FROM resource_placements WHERE kind = 'registry' AND name NOT IN"
    " (SELECT name FROM registries)";

typedef struct init_ctx {
    const arm_defaults *d;
    int migrated;
} init_ctx;

static cf_code init_tx(void *cls, cf_err *e)
{
    init_ctx *x = cls;
    const arm_defaults *d = x->d;
    arm_subscription s = {0};
    snprintf(s.id, sizeof(s.id), "%s", d->sub);
    snprintf(s.display_name, sizeof(s.display_name), "coffer");
    snprintf(s.tenant_id, sizeof(s.tenant_id), "%s", d->tenant);
    s.is_default = 1;
    cf_code rc;
    int created = 0;
    arm_subscription cur;
    cf_err ge = {0};
    if (arm_sub_get(&cur, d->sub, &ge) == CF_OK) {
        s = cur; /* keep its name and state */
    } else if ((rc = arm_sub_put(&s, &created, e)) != CF_OK) {
        return rc;
    }
    param def[] = {PT(default_sub)};
    if ((rc = run(SQL_SUB_DEFAULT, def, 1, NULL, NULL, NULL, e)) != CF_OK)
        return rc;
    arm_group g = {0};
    snprintf(g.sub, sizeof(g.sub), "%s", default_sub);
    snprintf(g.name, sizeof(g.name), "%s", d->group);
    snprintf(g.location, sizeof(g.location), "%s", d->location);
    arm_group have;
    if (arm_group_get(&have, g.sub, g.name, &ge) != CF_OK &&
        (rc = arm_group_put(&g, NULL, e)) != CF_OK)
        return rc;
    char k[ARM_GROUP_MAX + 1];
    lower_copy(k, sizeof(k), d->group);
    param p[] = {PT(default_sub), PT(k), PT(d->location)};
    int64_t n1 = 0, n2 = 0;
    if ((rc = run(SQL_SWEEP_IDENTITIES, NULL, 0, NULL, NULL, NULL, e)) != CF_OK ||
        (rc = run(SQL_SWEEP_REGISTRIES, NULL, 0, NULL, NULL, NULL, e)) != CF_OK ||
        (rc = run(SQL_MIGRATE_IDENTITIES, p, 3, NULL, NULL, &n1, e)) != CF_OK ||
        (rc = run(SQL_MIGRATE_REGISTRIES, p, 3, NULL, NULL, &n2, e)) != CF_OK)
        return rc;
    x->migrated = (int)(n1 + n2);
    return CF_OK;
}

cf_code arm_store_init(const arm_defaults *d, int *migrated, cf_err *e)
{
    if (d->sub == NULL || !arm_uuid_valid(d->sub))
        return cf_err_set(e, CF_EINVAL, "the default subscription must be a UUID");
    if (d->group == NULL || !arm_group_name_valid(d->group))
        return cf_err_set(e, CF_EINVAL, "the default resource group name is invalid");
    lower_copy(default_sub, sizeof(default_sub), d->sub);
    snprintf(default_group, sizeof(default_group), "%s", d->group);
    init_ctx x = {.d = d};
    /* one transaction: the default subscription and group, the sweep and
     * the placements */
    db *c = db_get(meta_store, e);
    if (c == NULL)
        return META_FAIL_CODE;
    cf_code rc = db_begin(c, e);
    if (rc == CF_OK)
        rc = db_end(c, init_tx(&x, e), e);
    if (rc == CF_OK && migrated)
        *migrated = x.migrated;
    if (rc == CF_OK && x.migrated > 0) {
        char n[16];
        snprintf(n, sizeof(n), "%d", x.migrated);
        cf_log(CF_LOG_INFO, "resources placed in the default resource group", "count", n,
               "subscription", default_sub, "group", default_group, NULL);
    }
    return rc;
}

/* ---- principals ---- */

static const char SQL_PRINCIPAL_ADD[] =
    "INSERT INTO mgmt_principals (object_id, app_id, subscription_id, display_name, secret_hash,"
    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
static const char SQL_PRINCIPAL_GET[] =
    "SELECT object_id, app_id, subscription_id, display_name, secret_hash, created_at"
    " FROM mgmt_principals WHERE object_id = ?1 OR app_id = ?1";
static const char SQL_PRINCIPAL_ALL[] =
    "SELECT object_id, app_id, subscription_id, display_name, secret_hash, created_at"
    " FROM mgmt_principals WHERE ?1 = '' OR subscription_id = ?1 ORDER BY display_name, object_id";
static const char SQL_PRINCIPAL_DELETE[] = "DELETE FROM mgmt_principals WHERE object_id = ?1";
static const char SQL_PRINCIPAL_ROLES_DELETE[] =
    "DELETE FROM mgmt_role_assignments WHERE principal_id = ?1";

static const char SQL_PRINCIPAL_SECRET[] =
    "UPDATE mgmt_principals SET secret_hash = ?2 WHERE object_id = ?1";

static int principal_row(void *cls, db_stmt *r)
{
    arm_principal *p = cls;
    text_copy(p->object_id, sizeof(p->object_id), col_text(r, 0));
    text_copy(p->app_id, sizeof(p->app_id), col_text(r, 1));
    text_copy(p->sub, sizeof(p->sub), col_text(r, 2));
    text_copy(p->display_name, sizeof(p->display_name), col_text(r, 3));
    text_copy(p->secret_hash, sizeof(p->secret_hash), col_text(r, 4));
    p->created_at = db_column_int64(r, 5);
    return 1;
}

cf_code arm_principal_add(const arm_principal *p, cf_err *e)
{
    char oid[ARM_SUB_MAX + 1], app[ARM_SUB_MAX + 1], sub[ARM_SUB_MAX + 1];
    lower_copy(oid, sizeof(oid), p->object_id);
    lower_copy(app, sizeof(app), p->app_id);
    lower_copy(sub, sizeof(sub), p->sub);
    int64_t changes = 0;
    param q[] = {PT(oid),
                 PT(app),
                 PT(sub),
                 PT(p->display_name),
                 PT(p->secret_hash),
                 PI(p->created_at ? p->created_at : now_s())};
    cf_code rc = run(SQL_PRINCIPAL_ADD, q, 6, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0)
        rc = cf_err_set(e, CF_EEXISTS, "a principal with that id exists");
    return rc;
}

cf_code arm_principal_get(arm_principal *out, const char *id, cf_err *e)
{
    char key[ARM_SUB_MAX + 1];
    lower_copy(key, sizeof(key), id);
    memset(out, 0, sizeof(*out));
    param q[] = {PT(key)};
    cf_code rc = run(SQL_PRINCIPAL_GET, q, 1, principal_row, out, NULL, e);
    if (rc == CF_OK && out->object_id[0] == '\0')
        rc = cf_err_set(e, CF_ENOTFOUND, "principal %s not found", id);
    return rc;
}

cf_code arm_principal_secret_set(const char *object_id, const char *secret_hash, cf_err *e)
{
    char oid[ARM_SUB_MAX + 1];
    lower_copy(oid, sizeof(oid), object_id);
    int64_t changes = 0;
    param q[] = {PT(oid), PT(secret_hash)};
    cf_code rc = run(SQL_PRINCIPAL_SECRET, q, 2, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "principal %s not found", object_id);
    return rc;
}

static cf_code principal_delete_tx(void *cls, cf_err *e)
{
    const char *oid = cls;
    param q[] = {PT(oid)};
    int64_t changes = 0;
    cf_code rc = run(SQL_PRINCIPAL_ROLES_DELETE, q, 1, NULL, NULL, NULL, e);
    if (rc == CF_OK)
        rc = run(SQL_PRINCIPAL_DELETE, q, 1, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "principal %s not found", oid);
    return rc;
}

cf_code arm_principal_delete(const char *object_id, cf_err *e)
{
    char oid[ARM_SUB_MAX + 1];
    lower_copy(oid, sizeof(oid), object_id);
    db *c = db_get(meta_store, e);
    if (c == NULL)
        return META_FAIL_CODE;
    cf_code rc = db_begin(c, e);
    if (rc == CF_OK)
        rc = db_end(c, principal_delete_tx(oid, e), e);
    return rc;
}

typedef struct principal_walk {
    arm_principal row;
    int (*fn)(void *cls, const arm_principal *p);
    void *cls;
} principal_walk;

static int principal_each_row(void *cls, db_stmt *r)
{
    principal_walk *w = cls;
    principal_row(&w->row, r);
    return w->fn(w->cls, &w->row);
}

cf_code arm_principal_each(const char *sub, int (*fn)(void *cls, const arm_principal *p), void *cls,
                           cf_err *e)
{
    char key[ARM_SUB_MAX + 1];
    lower_copy(key, sizeof(key), sub ? sub : "");
    principal_walk w = {.fn = fn, .cls = cls};
    param q[] = {PT(key)};
    cf_code rc = run(SQL_PRINCIPAL_ALL, q, 1, principal_each_row, &w, NULL, e);
    memset(&w.row, 0, sizeof(w.row));
    return rc;
}

/* ---- role assignments ---- */

static const char SQL_ROLE_ADD[] =
    "INSERT INTO mgmt_role_assignments (id, scope, scope_key, principal_id, role_id, created_by,"
    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
#define ROLE_COLS "SELECT id, scope, principal_id, role_id, created_by, created_at"
static const char SQL_ROLE_GET[] = ROLE_COLS " FROM mgmt_role_assignments WHERE id = ?1";
static const char SQL_ROLE_ALL[] = ROLE_COLS " FROM mgmt_role_assignments"
                                             " WHERE ?1 = '' OR principal_id = ?1"
                                             " ORDER BY scope_key, id";
#undef ROLE_COLS
static const char SQL_ROLE_DELETE[] = "DELETE FROM mgmt_role_assignments WHERE id = ?1";
static const char SQL_ROLE_FORGET[] =
    "DELETE FROM mgmt_role_assignments WHERE scope_key = ?1 OR substr(scope_key, 1, ?2) = ?3";

static int role_row(void *cls, db_stmt *r)
{
    arm_role_assignment *a = cls;
    text_copy(a->id, sizeof(a->id), col_text(r, 0));
    text_copy(a->scope, sizeof(a->scope), col_text(r, 1));
    text_copy(a->principal_id, sizeof(a->principal_id), col_text(r, 2));
    text_copy(a->role_id, sizeof(a->role_id), col_text(r, 3));
    text_copy(a->created_by, sizeof(a->created_by), col_text(r, 4));
    a->created_at = db_column_int64(r, 5);
    return 1;
}

cf_code arm_role_add(const arm_role_assignment *a, cf_err *e)
{
    char id[ARM_SUB_MAX + 1], key[ARM_ID_MAX], pid[ARM_SUB_MAX + 1], rid[ARM_SUB_MAX + 1];
    lower_copy(id, sizeof(id), a->id);
    lower_copy(key, sizeof(key), a->scope);
    lower_copy(pid, sizeof(pid), a->principal_id);
    lower_copy(rid, sizeof(rid), a->role_id);
    int64_t changes = 0;
    param q[] = {PT(id),
                 PT(a->scope),
                 PT(key),
                 PT(pid),
                 PT(rid),
                 PT(a->created_by),
                 PI(a->created_at ? a->created_at : now_s())};
    cf_code rc = run(SQL_ROLE_ADD, q, 7, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0)
        rc = cf_err_set(e, CF_EEXISTS, "the role assignment already exists");
    return rc;
}

cf_code arm_role_get(arm_role_assignment *out, const char *id, cf_err *e)
{
    char key[ARM_SUB_MAX + 1];
    lower_copy(key, sizeof(key), id);
    memset(out, 0, sizeof(*out));
    param q[] = {PT(key)};
    cf_code rc = run(SQL_ROLE_GET, q, 1, role_row, out, NULL, e);
    if (rc == CF_OK && out->id[0] == '\0')
        rc = cf_err_set(e, CF_ENOTFOUND, "role assignment %s not found", id);
    return rc;
}

cf_code arm_role_delete(const char *id, cf_err *e)
{
    char key[ARM_SUB_MAX + 1];
    lower_copy(key, sizeof(key), id);
    int64_t changes = 0;
    param q[] = {PT(key)};
    cf_code rc = run(SQL_ROLE_DELETE, q, 1, NULL, NULL, &changes, e);
    if (rc == CF_OK && changes == 0)
        rc = cf_err_set(e, CF_ENOTFOUND, "role assignment %s not found", id);
    return rc;
}

typedef struct role_walk {
    arm_role_assignment row;
    int (*fn)(void *cls, const arm_role_assignment *a);
    void *cls;
} role_walk;

static int role_each_row(void *cls, db_stmt *r)
{
    role_walk *w = cls;
    role_row(&w->row, r);
    return w->fn(w->cls, &w->row);
}

cf_code arm_role_each(const char *principal, int (*fn)(void *cls, const arm_role_assignment *a),
                      void *cls, cf_err *e)
{
    char key[ARM_SUB_MAX + 1];
    lower_copy(key, sizeof(key), principal ? principal : "");
    role_walk w = {.fn = fn, .cls = cls};
    param q[] = {PT(key)};
    return run(SQL_ROLE_ALL, q, 1, role_each_row, &w, NULL, e);
}

cf_code arm_role_forget(const char *scope, cf_err *e)
{
    char key[ARM_ID_MAX], below[ARM_ID_MAX + 1];
    lower_copy(key, sizeof(key), scope);
    snprintf(below, sizeof(below), "%s/", key);
    param q[] = {PT(key), PI(strlen(below)), PT(below)};
    return run(SQL_ROLE_FORGET, q, 3, NULL, NULL, NULL, e);
}
