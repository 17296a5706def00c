/*
 * test_coord.c -- what several nodes on one database rely on
 * (store/coord.h, docs/scale-out.md), on a real database: a SQLite file,
 * or a database of its own on a real PostgreSQL server with COFFER_TEST_PG
 * (test_db.h; scripts/test-all runs the store_meta suite on both):
 *   - an upload's claim generation grows with every claim;
 *   - shared key fingerprints: the first one is recorded, a different one
 *     refused;
 *   - a key rotation is stored only from the version the writer read;
 *   - a key state records the node that wrote it;
 *   - advisory locks: on PostgreSQL another session cannot take a lock
 *     this one holds, and can once it is released; on SQLite (one node)
 *     they are granted at once;
 *   - notifications: another node's NOTIFY reaches the subscriber, this
 *     node's own does not, and a listener whose session was cut resyncs;
 *   - a session the server ended while idle is replaced before use.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../test_db.h"
#include "../test_tmpdir.h"
#include "store/coord.h"
#include "store/meta.h"

#define REG "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define UUID "0f0e0d0c-0b0a-4908-8706-050403020100"

static char dir[256];
static char target[512];

static void setup(void)
{
    test_meta_open(dir, sizeof(dir), target, sizeof(target), "coord");
}

static void teardown(void)
{
    coord_stop();
    meta_set_node(NULL);
    test_meta_close(dir, target);
}

Test(store_meta, upload_claims_bump_the_generation, .init = setup, .fini = teardown)
{
    cr_assert_eq(meta_upload_create(UUID, REG, "app", NULL), CF_OK);
    int64_t g = -1, now = -1;
    cr_assert_eq(meta_upload_claim(UUID, &g, NULL), CF_OK);
    cr_assert_eq(g, 1);
    cr_assert_eq(meta_upload_claim(UUID, &g, NULL), CF_OK);
    cr_assert_eq(g, 2);
    cr_assert_eq(meta_upload_gen(UUID, &now, NULL), CF_OK);
    cr_assert_eq(now, 2);
    cr_assert_eq(meta_upload_claim("00000000-0000-4000-8000-000000000000", &g, NULL), CF_ENOTFOUND);
}

Test(store_meta, shared_key_fingerprints_are_recorded_once_then_compared, .init = setup,
     .fini = teardown)
{
    int first = 0;
    cr_assert_eq(meta_shared_key_check("service root key", "aa11", &first, NULL), CF_OK);
    cr_assert_eq(first, 1);
    cr_assert_eq(meta_shared_key_check("service root key", "aa11", &first, NULL), CF_OK);
    cr_assert_eq(first, 0);
    cf_err e = {0};
    cr_assert_eq(meta_shared_key_check("service root key", "bb22", &first, &e), CF_ECONFLICT);
    cr_assert(strstr(e.msg, "service root key") != NULL, "%s", e.msg);
    /* another key has a fingerprint of its own */
    cr_assert_eq(meta_shared_key_check("admin token", "bb22", &first, NULL), CF_OK);
    cr_assert_eq(first, 1);
}

static void cmk_row(meta_registry *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", REG);
    snprintf(r->name, sizeof(r->name), "coordreg1");
    snprintf(r->sku, sizeof(r->sku), "Premium");
    r->cmk = 1;
    r->wrapped_c_len = 4;
    memcpy(r->wrapped_c, "v1c1", 4);
    snprintf(r->key_identifier, sizeof(r->key_identifier), "https://kv/keys/k");
    snprintf(r->versioned_key_identifier, sizeof(r->versioned_key_identifier),
             "https://kv/keys/k/v1");
    snprintf(r->key_identity, sizeof(r->key_identity), "system");
    snprintf(r->key_status, sizeof(r->key_status), "available");
    snprintf(r->identity_type, sizeof(r->identity_type), "None");
}

Test(store_meta, a_key_rotation_is_stored_only_from_the_version_read, .init = setup,
     .fini = teardown)
{
    meta_registry r, got;
    cmk_row(&r);
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    meta_registry n1 = r, n2 = r;
    snprintf(n1.versioned_key_identifier, sizeof(n1.versioned_key_identifier),
             "https://kv/keys/k/v2");
    memcpy(n1.wrapped_c, "v2c1", 4);
    snprintf(n2.versioned_key_identifier, sizeof(n2.versioned_key_identifier),
             "https://kv/keys/k/v2");
    memcpy(n2.wrapped_c, "v2c2", 4);
    /* two nodes read v1 and rotate: one wins, the other is told */
    cr_assert_eq(meta_registry_swap_key(&n1, "https://kv/keys/k/v1", "system", NULL), CF_OK);
    cr_assert_eq(meta_registry_swap_key(&n2, "https://kv/keys/k/v1", "system", NULL), CF_ECONFLICT);
    cr_assert_eq(meta_registry_get_id(&got, REG, NULL), CF_OK);
    cr_assert_str_eq(got.versioned_key_identifier, "https://kv/keys/k/v2");
    cr_assert_eq(memcmp(got.wrapped_c, "v2c1", 4), 0, "the first writer's wrapping stays");
    /* and a change of identity is a change too */
    cr_assert_eq(meta_registry_swap_key(&n2, "https://kv/keys/k/v2", "other", NULL), CF_ECONFLICT);
}

Test(store_meta, a_key_state_records_the_node_that_wrote_it, .init = setup, .fini = teardown)
{
    meta_registry r, got;
    cmk_row(&r);
    cr_assert_eq(meta_registry_create(&r, NULL, 0, NULL), CF_OK);
    meta_set_node("node0000aaaa1111");
    cr_assert_eq(meta_registry_set_key_state(REG, "unavailable", 1234, "vault down", NULL), CF_OK);
    cr_assert_eq(meta_registry_get_id(&got, REG, NULL), CF_OK);
    cr_assert_str_eq(got.key_checked_by, "node0000aaaa1111");
    cr_assert_str_eq(got.key_status, "unavailable");
    cr_assert_eq(got.last_key_check, 1234);
}

typedef struct {
    coord_ns ns;
    const char *key;
    int got;
    cf_code rc;
} lock_try;

/* another session: a thread of its own has a connection of its own */
static void *try_elsewhere(void *arg)
{
    lock_try *t = arg;
    coord_hold h;
    t->rc = coord_try_lock(t->ns, t->key, &t->got, &h, NULL);
    if (t->got)
        coord_unlock(&h);
    return NULL;
}

static int got_elsewhere(coord_ns ns, const char *key)
{
    lock_try t = {ns, key, -1, CF_OK};
    pthread_t th;
    pthread_create(&th, NULL, try_elsewhere, &t);
    pthread_join(th, NULL);
    cr_assert_eq(t.rc, CF_OK);
    return t.got;
}

Test(store_meta, advisory_locks_keep_other_sessions_out_until_released, .init = setup,
     .fini = teardown)
{
    coord_hold h;
    int got = 0;
    cr_assert_eq(coord_try_lock(COORD_UPLOAD, UUID, &got, &h, NULL), CF_OK);
    cr_assert_eq(got, 1);
    cr_assert(coord_still_held(&h));
    if (test_db_pg()) {
        cr_assert_eq(got_elsewhere(COORD_UPLOAD, UUID), 0, "held by this session");
        cr_assert_eq(got_elsewhere(COORD_DIGEST, UUID), 1, "another namespace is free");
    } else {
        cr_assert_eq(got_elsewhere(COORD_UPLOAD, UUID), 1, "one node: granted at once");
    }
    coord_unlock(&h);
    cr_assert(!coord_still_held(&h));
    cr_assert_eq(got_elsewhere(COORD_UPLOAD, UUID), 1, "released");
}

static atomic_int events, resyncs;
static char last_event[64], last_arg[64];

static void on_event(const char *event, const char *arg)
{
    snprintf(last_event, sizeof(last_event), "%s", event);
    snprintf(last_arg, sizeof(last_arg), "%s", arg);
    atomic_fetch_add(&events, 1);
}

static void on_resync(void)
{
    atomic_fetch_add(&resyncs, 1);
}

static void sql(const char *q)
{
    PGconn *c = PQconnectdb(target);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, q);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
              "%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static int wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 100 && atomic_load(v) < want; i++)
        usleep(50000);
    return atomic_load(v) >= want;
}

Test(store_meta, another_nodes_notifications_reach_the_subscriber, .init = setup, .fini = teardown)
{
    if (!test_db_pg()) {
        /* one node: nothing to listen to, and no listener runs */
        cr_assert_eq(coord_start(NULL), CF_OK);
        coord_notify("key.changed", REG);
        return;
    }
    atomic_store(&events, 0);
    atomic_store(&resyncs, 0);
    meta_set_node("nodecoordtest001");
    coord_subscriber s = {on_event, on_resync};
    coord_subscribe(&s);
    cr_assert_eq(coord_start(NULL), CF_OK);
    usleep(300000); /* the listener connects and LISTENs */
    /* this node's own notification is not handed back */
    coord_notify("key.changed", REG);
    /* another node's is */
    sql("SELECT pg_notify('coffer', 'ffffffffffffffff key.rotated " REG "')");
    cr_assert(wait_for(&events, 1), "the notification arrived");
    usleep(200000);
    cr_assert_eq(atomic_load(&events), 1, "only the other node's");
    cr_assert_str_eq(last_event, "key.rotated");
    cr_assert_str_eq(last_arg, REG);
    /* the listener's session cut: it reconnects and resyncs */
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
        "'cofferd-listener-nodecoordtest001'");
    cr_assert(wait_for(&resyncs, 1), "a resync after the reconnection");
    sql("SELECT pg_notify('coffer', 'ffffffffffffffff registry.deleted " REG "')");
    cr_assert(wait_for(&events, 2), "notifications arrive again");
    cr_assert_str_eq(last_event, "registry.deleted");
}

/* A session the server ended while this thread's connection sat idle (a
 * node's idle connections reset when a partition heals, an administrator's
 * pg_terminate_backend, a server restart) is replaced before the next
 * statement, instead of failing that statement (a 503 to a client). */
Test(store_meta, a_session_ended_while_idle_is_replaced_before_use, .init = setup, .fini = teardown)
{
    if (!test_db_pg())
        return; /* a file: no session to lose */
    cr_assert_eq(meta_upload_create(UUID, REG, "app", NULL), CF_OK);
    int64_t g = -1;
    cr_assert_eq(meta_upload_gen(UUID, &g, NULL), CF_OK);
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    usleep(200000); /* the server's goodbye reaches the idle socket */
    cf_err e = {0};
    cr_assert_eq(meta_upload_gen(UUID, &g, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(g, 0);
}
