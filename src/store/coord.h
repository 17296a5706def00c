/*
 * coord.h -- coordination of the cofferd nodes that share one metadata
 * database (docs/scale-out.md), with PostgreSQL's own tools and nothing
 * else (no gossip, no node list, no leader):
 *
 *   - advisory locks, session level, on the calling thread's connection
 *     (pg_try_advisory_lock(ns, key)): one writer of an upload at a time,
 *     one install or removal of a digest's object at a time, one rotation
 *     of a registry's key, one janitor pass in the cluster, one garbage
 *     collection of a registry (registry/gc.h). A node that
 *     dies loses its locks with its sessions (the server sees the socket
 *     close, or its TCP keepalive gives up: the session options set it to
 *     about 25 s);
 *   - NOTIFY on the channel "coffer" to tell the other nodes that
 *     something they cache changed (a registry created or deleted, a key
 *     rotated, a key's state changed): payload "<node> <event> <arg>";
 *   - one listener thread per node, LISTEN on a connection of its own,
 *     that hands the other nodes' notifications to the subscribers. A
 *     notification sent while the listener's connection was down is lost,
 *     so after every (re)connection the subscribers' resync runs: they
 *     re-read what they cache (the poll fallback; each subscriber also
 *     polls on its own schedule). The listener checks its connection
 *     every few seconds, so a silently dead one is noticed.
 *
 * On SQLite there is one node: locks are granted at once, notify and the
 * listener do nothing, and the in-process mutexes of each module are all
 * the coordination there is.
 */
#ifndef CF_STORE_COORD_H
#define CF_STORE_COORD_H

#include <stdint.h>

#include "base/err.h"

/* Lock namespaces (the first key of pg_try_advisory_lock(int, int)). */
typedef enum {
    COORD_UPLOAD = 0x636f0001,   /* one request writes an upload */
    COORD_DIGEST = 0x636f0002,   /* install / remove a digest's object */
    COORD_ROTATION = 0x636f0003, /* rotate a registry's key */
    COORD_JANITOR = 0x636f0004,  /* the janitor's pass */
    COORD_GC = 0x636f0005,       /* a collection of one registry (registry/gc.h) */
} coord_ns;

/* A lock held by the calling thread (on its connection of that moment). */
typedef struct coord_hold {
    int ns;
    int32_t key;
    uint64_t serial; /* the connection it was taken on (db_serial) */
    int held;
} coord_hold;

/* 1 when the metadata is on PostgreSQL (several nodes may share it). */
int coord_clustered(void);
/* This process's node id (16 hex digits, random at start). */
const char *coord_node(void);

/* Tries once: *got = 1 and h filled when this thread now holds
 * (ns, key); 0 when another session holds it. Errors: the database. */
cf_code coord_try_lock(coord_ns ns, const char *key, int *got, coord_hold *h, cf_err *e);
/* Waits up to wait_ms for the lock (retrying); CF_ECONFLICT when it
 * stayed taken, other codes: the database. */
cf_code coord_lock(coord_ns ns, const char *key, unsigned wait_ms, coord_hold *h, cf_err *e);
/* 1 while h is still held: the thread's connection is the one it was
 * taken on (a replaced connection lost its session's locks). */
int coord_still_held(const coord_hold *h);
/* Releases h (a no-op when not held or when its session is gone). */
void coord_unlock(coord_hold *h);

/* The uploads' cluster-wide claim (uploads.h upload_coord): the upload's
 * advisory lock, taken without waiting, and its generation in the
 * uploads table. */
struct upload_coord;
const struct upload_coord *coord_uploads(void);

/* Tells the other nodes: event (a short word) about arg (an id). Best
 * effort: a failure is logged; the receivers' polling covers it. */
void coord_notify(const char *event, const char *arg);

/* A subscriber: on_event for every notification of another node, resync
 * after the listener (re)connected (it may have missed some). Called on
 * the listener thread: hand work over, do not block. */
typedef struct coord_subscriber {
    void (*on_event)(const char *event, const char *arg);
    void (*on_resync)(void);
} coord_subscriber;
/* Before coord_start; at most 4. */
void coord_subscribe(const coord_subscriber *s);
/* Starts the listener (PostgreSQL only). */
cf_code coord_start(cf_err *e);
void coord_stop(void);

#endif
