/*
 * cmk.c -- the customer-managed key engine (see cmk.h, DESIGN §2 and §6,
 * docs/cmk.md "The key check loop").
 *
 * State, per CMK registry, in a table of slots under `mu` (mlock'ed
 * chunks, base/locked.h):
 * C (the 32-byte customer layer secret, present only while the vault
 * grants unwrapKey), whether it is still pending (prepared for a registry
 * whose row is not inserted yet), when it was loaded, and the last state
 * that was logged (one log line per change of state, never per check).
 *
 * Invariant: a non-pending slot has C exactly when the keyring holds the
 * registry's KEK. Every place that wipes C calls keyring_lock (revoked,
 * not loaded) or keyring_forget (deleted) in the same critical section,
 * and every place that sets C first succeeded in keyring_set_cmk.
 *
 * Vault work on a registry row (a check, a rotation, a forced check) runs
 * under `op_mu`, so a check never writes a state computed from a row that
 * a rotation has just replaced. The checker thread takes it per registry,
 * not per round, so a management call waits for at most one vault call.
 *
 * Outcome of a check (docs/cmk.md "The key check loop", step 3):
 *   ok        C (re)loaded, "available", lastError null; with automatic
 *             rotation, the key's newest version is looked up and C
 *             re-wrapped under it when it changed;
 *   denied    401/403/404 from the vault, or the identity gone: C and KEK
 *             wiped, the registry locked with CF_EDENIED, "unavailable";
 *   transient no answer, 429, 5xx, a malformed answer: a loaded KEK keeps
 *             serving ("available", lastError says so); never loaded:
 *             locked with CF_EUNAVAIL, "unavailable".
 */
#define CF_LOG_MOD "cmk"
#include "cmk/cmk.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base/enc.h"
#include "base/locked.h"
#include "base/log.h"
#include "base/metrics.h"
#include "cmk/events.h"
#include "cmk/vaultc.h"
#include "crypto/keys.h"
#include "registry/keyring.h"
#include "store/coord.h"

#define CMK_MAX 4096
#define DEFAULT_RESOURCE "https://vault.azure.net"

enum { ST_NONE = 0, ST_AVAILABLE, ST_DENIED, ST_DEGRADED, ST_UNAVAILABLE };

typedef struct slot {
    char id[META_ID_LEN + 1];
    int used;
    int have_c;
    int pending; /* prepared by cmk_prepare, not committed yet */
    unsigned char c[KEYS_SECRET_LEN];
    int64_t loaded_at;
    int logged;           /* ST_*: the last state logged */
    char rids[200];       /* pending: the vault's request ids of its enrollment */
    char name[64];        /* the registry's name (metrics, readiness) */
    int64_t checked_at;   /* this node's last check, unix seconds */
    int64_t checked_mono; /* the same, monotonic ms (rate of pokes) */
    /* this node could not load a key another node serves (the row says
     * available, checked recently): the node is not ready */
    int behind;
    /* this process wrote the row's key state (key_checked_by is this node
     * because of this life, not an earlier one) */
    int wrote_row;
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;    /* slots */
static pthread_mutex_t op_mu = PTHREAD_MUTEX_INITIALIZER; /* vault work on a row */
static cf_locked slots = CF_LOCKED_INIT(slot, 64, CMK_MAX);

static slot *slot_at(size_t i)
{
    return cf_locked_at(&slots, i);
}

static struct {
    char *ca_file;
    char *resource;
    unsigned interval_s;
    unsigned timeout_s;
    cmk_token_fn token;
} conf;
/* conf is written by cmk_start while the management API already serves
 * (it starts first: the issuer's URL names its port), so its threads read
 * conf only after an acquire load of conf_ready (set by cmk_start once conf
 * is complete, cleared by cmk_stop before conf is freed). */
static atomic_int conf_ready;

static pthread_mutex_t th_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t th_cv;
static pthread_t th;
static int th_running;
static atomic_int stopping;
/* a first round of checks has completed since the start */
static atomic_int first_round;

/* Registries to check before the next round (cmk_poke), under th_mu; when
 * more are asked for than fit, the next round starts at once instead. */
#define POKE_MAX 256
static char pokes[POKE_MAX][META_ID_LEN + 1];
static int64_t poked_at[POKE_MAX]; /* mono ms */
static size_t npokes;
static int poke_all;

/* ---- small helpers ---- */

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void fmt_ts(char out[32], int64_t t)
{
    cf_rfc3339(out, 32, t);
}

/* Whether cmk_start has published conf (see conf_ready). */
static int engine_ready(void)
{
    return atomic_load_explicit(&conf_ready, memory_order_acquire);
}

static int is_cancelled(void)
{
    return atomic_load(&stopping);
}

static vaultc_opts vopts(void)
{
    vaultc_opts o = {conf.ca_file, conf.timeout_s ? conf.timeout_s : 10, is_cancelled};
    return o;
}

/* snprintf for texts that may be cut (a lastError has 511 characters). */
static void textf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void textf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* Drops the final periods of a text that a sentence continues. */
static void trim_period(char *t)
{
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == '.')
        t[--n] = '\0';
}

/* "<status> <code>: <message>", or the transport's message. */
static void describe(char *out, size_t n, const vaultc_result *r)
{
    if (r->status)
        textf(out, n, "%ld %s: %s", r->status, r->code, r->message);
    else
        textf(out, n, "%s", r->message);
}

static cf_code refuse(cmk_fail *f, cf_err *e, int status, const char *code, cf_code cc,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static cf_code refuse(cmk_fail *f, cf_err *e, int status, const char *code, cf_code cc,
                      const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (f) {
        f->status = status;
        textf(f->code, sizeof(f->code), "%s", code);
        textf(f->message, sizeof(f->message), "%s", msg);
    }
    return cf_err_set(e, cc, "%s", msg);
}

/* ---- slots (under mu) ---- */

static slot *slot_find(const char *id)
{
    for (size_t i = 0; i < slots.n; i++)
        if (slot_at(i)->used && strcmp(slot_at(i)->id, id) == 0)
            return slot_at(i);
    return NULL;
}

static slot *slot_get(const char *id)
{
    slot *s = slot_find(id);
    if (s)
        return s;
    for (size_t i = 0; i < slots.n; i++)
        if (!slot_at(i)->used) {
            s = slot_at(i);
            break;
        }
    if (s == NULL)
        s = cf_locked_add(&slots);
    if (s) {
        memset(s, 0, sizeof(*s));
        textf(s->id, sizeof(s->id), "%s", id);
        s->used = 1;
    }
    return s;
}

static void slot_wipe_c(slot *s)
{
    OPENSSL_cleanse(s->c, sizeof(s->c));
    s->have_c = 0;
    s->pending = 0;
    s->loaded_at = 0;
}

static void slot_free(slot *s)
{
    OPENSSL_cleanse(s, sizeof(*s));
}

/* ---- identities and tokens ---- */

typedef struct who {
    char client[40];
    char principal[40];
    int system;
} who;

typedef struct assigned_ctx {
    const char *name;
    int found;
} assigned_ctx;

static int assigned_cb(void *cls, const char *name)
{
    assigned_ctx *a = cls;
    if (strcmp(a->name, name) == 0) {
        a->found = 1;
        return 1;
    }
    return 0;
}

/* identity: "system" or a client id. CF_ENOTFOUND (message: the cause, a
 * lastError) when the identity is gone or (check_assigned) no longer
 * assigned to the registry; other codes: the database failed. */
static cf_code resolve(who *w, const meta_registry *reg, const char *identity, int check_assigned,
                       cf_err *e)
{
    memset(w, 0, sizeof(*w));
    if (strcmp(identity, "system") == 0) {
        if (reg->system_client_id[0] == '\0' || reg->system_principal_id[0] == '\0')
            return cf_err_set(e, CF_ENOTFOUND,
                              "the system-assigned identity of registry %s no longer exists",
                              reg->name);
        textf(w->client, sizeof(w->client), "%s", reg->system_client_id);
        textf(w->principal, sizeof(w->principal), "%s", reg->system_principal_id);
        w->system = 1;
        return CF_OK;
    }
    meta_identity mi;
    cf_err ie = {0};
    cf_code rc = meta_identity_by_client(&mi, identity, &ie);
    if (rc == CF_ENOTFOUND)
        return cf_err_set(e, CF_ENOTFOUND, "identity %s no longer exists", identity);
    if (rc != CF_OK)
        return cf_err_set(e, rc, "%s", ie.msg);
    if (check_assigned) {
        assigned_ctx a = {mi.name, 0};
        rc = meta_registry_identities(reg->id, assigned_cb, &a, &ie);
        if (rc != CF_OK)
            return cf_err_set(e, rc, "%s", ie.msg);
        if (!a.found)
            return cf_err_set(e, CF_ENOTFOUND, "identity %s is no longer assigned to registry %s",
                              mi.client_id, reg->name);
    }
    textf(w->client, sizeof(w->client), "%s", mi.client_id);
    textf(w->principal, sizeof(w->principal), "%s", mi.principal_id);
    return CF_OK;
}

static cf_code mint(char **tok, const who *w, cf_err *e)
{
    *tok = NULL;
    if (conf.token == NULL)
        return cf_err_set(e, CF_EUNAVAIL, "no token issuer is configured");
    cf_err te = {0};
    cf_code rc = conf.token(w->principal, w->client,
                            conf.resource ? conf.resource : DEFAULT_RESOURCE, tok, &te);
    if (rc != CF_OK || *tok == NULL) {
        free(*tok);
        *tok = NULL;
        return cf_err_set(e, rc != CF_OK ? rc : CF_EUNAVAIL,
                          "cannot get a token for identity %s: %s", w->client,
                          te.msg[0] ? te.msg : "no token");
    }
    return CF_OK;
}

static void token_free(char *tok)
{
    if (tok) {
        OPENSSL_cleanse(tok, strlen(tok));
        free(tok);
    }
}

/* ---- key checks against the rules of DESIGN §6 ---- */

static int key_refused(const vaultc_key *k, cmk_fail *f, cf_err *e)
{
    if (strcmp(k->kty, "RSA") != 0 && strcmp(k->kty, "RSA-HSM") != 0) {
        refuse(f, e, 400, "KeyTypeNotSupported", CF_EINVAL,
               "Key '%s' is of type %s: a customer-managed key must be RSA or RSA-HSM.", k->kid,
               k->kty);
        return 1;
    }
    if (!k->enabled) {
        refuse(f, e, 400, "KeyDisabled", CF_EINVAL,
               "Key '%s' is disabled: enable it in the key vault (coffer keyvault key "
               "set-attributes --enabled true) or use another key.",
               k->kid);
        return 1;
    }
    if (!k->op_wrap || !k->op_unwrap) {
        refuse(f, e, 400, "KeyOperationsNotAllowed", CF_EINVAL,
               "Key '%s' does not allow %s: a customer-managed key needs the key operations "
               "wrapKey and unwrapKey.",
               k->kid,
               !k->op_wrap && !k->op_unwrap ? "wrapKey and unwrapKey"
               : !k->op_wrap                ? "wrapKey"
                                            : "unwrapKey");
        return 1;
    }
    if (k->recovery_level[0] == '\0' || strstr(k->recovery_level, "Purgeable") != NULL) {
        refuse(f, e, 400, "PurgeProtectionRequired", CF_EINVAL,
               "Key '%s' is in a key vault without purge protection (recoveryLevel %s): enable "
               "purge protection on the vault (coffer keyvault update --enable-purge-protection "
               "true) so the key cannot be purged while the registry depends on it.",
               k->kid, k->recovery_level[0] ? k->recovery_level : "unknown");
        return 1;
    }
    return 0;
}

/* A vault failure during creation or rotation, as the management API
 * answers it. kid: the key the call was about. */
static cf_code vault_refusal(cmk_fail *f, cf_err *e, const vaultc_result *r, const char *kid,
                             const char *client, const char *authority)
{
    char cause[512];
    describe(cause, sizeof(cause), r);
    if (r->cls == VAULTC_DENIED)
        return refuse(f, e, 400, "KeyVaultAccessDenied", CF_EDENIED,
                      "Failed to access KeyId '%s'. Verify that identity '%s' has 'Get, Wrap Key, "
                      "Unwrap Key' permission on key '%s'. Vault answered %s",
                      kid, client, kid, cause);
    return refuse(
        f, e, 502, "KeyVaultUnavailable", CF_EUNAVAIL, "The key vault at %s %s: %s", authority,
        r->cls == VAULTC_INVALID ? "gave an unusable answer" : "could not be reached", cause);
}

/* What creation and rotation share: check key_identifier as `identity`
 * sees it, wrap c under its current version, prove one unwrap. */
typedef struct enrolled {
    char key_identifier[512];
    char versioned[512];
    char identity[40]; /* "system" or the canonical client id */
    int rotation_enabled;
    unsigned char wrapped[META_WRAPPED_MAX];
    size_t wrapped_len;
    char rids[200]; /* the vault's request ids of the calls (key events) */
} enrolled;

static cf_code enroll(enrolled *out, const meta_registry *reg, const char *key_identifier,
                      const char *identity, const unsigned char c[KEYS_SECRET_LEN], cmk_fail *f,
                      cf_err *e)
{
    memset(out, 0, sizeof(*out));
    vaultc_keyid id, vid;
    cf_err pe = {0};
    if (vaultc_keyid_parse(&id, key_identifier, &pe) != CF_OK ||
        vaultc_keyid_format(out->key_identifier, sizeof(out->key_identifier), &id, 1, &pe) != CF_OK)
        return refuse(f, e, 400, "InvalidKeyIdentifier", CF_EINVAL,
                      "The key identifier '%s' is not valid: %s. Expected "
                      "https://host[:port]/keys/<name>[/<32 hex digit version>].",
                      key_identifier ? key_identifier : "", pe.msg);
    who w;
    cf_err ie = {0};
    cf_code rc = resolve(&w, reg, identity, 0, &ie);
    if (rc == CF_ENOTFOUND)
        return refuse(f, e, 400, "IdentityRequired", CF_EINVAL,
                      "The key cannot be accessed: %s. Give a user-assigned identity assigned to "
                      "the registry (its client id), or \"system\" for its system-assigned "
                      "identity.",
                      ie.msg);
    if (rc != CF_OK)
        return refuse(f, e, 500, "InternalServerError", rc, "%s", ie.msg);
    textf(out->identity, sizeof(out->identity), "%s", w.system ? "system" : w.client);
    char *tok = NULL;
    if ((rc = mint(&tok, &w, &ie)) != CF_OK)
        return refuse(f, e, 500, "InternalServerError", rc, "%s", ie.msg);

    vaultc_opts o = vopts();
    vaultc_result r;
    vaultc_key k;
    unsigned char back[KEYS_SECRET_LEN];
    cf_code grc = vaultc_get_key(&k, &r, &o, tok, out->key_identifier, NULL);
    cmk_request_ids_add(out->rids, sizeof(out->rids), r.request_id);
    if (grc != CF_OK) {
        rc = vault_refusal(f, e, &r, out->key_identifier, w.client, id.authority);
        goto out;
    }
    /* the vault's kid names this very key, with a version */
    if (vaultc_keyid_parse(&vid, k.kid, NULL) != CF_OK || vid.version[0] == '\0' ||
        strcmp(vid.authority, id.authority) != 0 || strcasecmp(vid.name, id.name) != 0 ||
        (id.version[0] && strcasecmp(vid.version, id.version) != 0)) {
        r.cls = VAULTC_INVALID;
        r.status = 0;
        textf(r.message, sizeof(r.message), "it answered for key '%.300s' instead", k.kid);
        rc = vault_refusal(f, e, &r, out->key_identifier, w.client, id.authority);
        goto out;
    }
    textf(vid.authority, sizeof(vid.authority), "%s", id.authority);
    vaultc_keyid_format(out->versioned, sizeof(out->versioned), &vid, 1, NULL);
    textf(k.kid, sizeof(k.kid), "%s", out->versioned);
    if (key_refused(&k, f, e)) {
        rc = CF_EINVAL;
        goto out;
    }
    grc = vaultc_wrap(out->wrapped, sizeof(out->wrapped), &out->wrapped_len, NULL, &r, &o, tok,
                      out->versioned, c, NULL);
    cmk_request_ids_add(out->rids, sizeof(out->rids), r.request_id);
    if (grc != CF_OK) {
        rc = vault_refusal(f, e, &r, out->versioned, w.client, id.authority);
        goto out;
    }
    grc = vaultc_unwrap(back, &r, &o, tok, out->versioned, out->wrapped, out->wrapped_len, NULL);
    cmk_request_ids_add(out->rids, sizeof(out->rids), r.request_id);
    if (grc != CF_OK) {
        rc = vault_refusal(f, e, &r, out->versioned, w.client, id.authority);
        goto out;
    }
    if (CRYPTO_memcmp(back, c, KEYS_SECRET_LEN) != 0) {
        r.cls = VAULTC_INVALID;
        r.status = 0;
        textf(r.message, sizeof(r.message), "unwrapKey did not give back what wrapKey wrapped");
        rc = vault_refusal(f, e, &r, out->versioned, w.client, id.authority);
        goto out;
    }
    out->rotation_enabled = id.version[0] == '\0';
    rc = CF_OK;
out:
    OPENSSL_cleanse(back, sizeof(back));
    token_free(tok);
    return rc;
}

/* ---- one key check ---- */

static const char *state_name(int st)
{
    switch (st) {
    case ST_AVAILABLE:
        return "available";
    case ST_DENIED:
        return "denied";
    case ST_DEGRADED:
        return "vault unreachable, serving from the loaded key";
    case ST_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

static void log_state(int st, const meta_registry *reg, const char *client, const char *err)
{
    if (st == ST_AVAILABLE)
        cf_log(CF_LOG_INFO, "customer-managed key available", "registry", reg->name, "key",
               reg->versioned_key_identifier, "identity", client, NULL);
    else
        cf_log(CF_LOG_WARN,
               st == ST_DENIED     ? "customer-managed key denied; registry locked"
               : st == ST_DEGRADED ? "key vault unreachable; serving from the loaded key"
                                   : "customer-managed key unavailable; registry locked",
               "registry", reg->name, "key", reg->versioned_key_identifier, "identity", client,
               "state", state_name(st), "error", err, NULL);
}

/* Automatic rotation (the registry follows the key's newest version),
 * after a successful unwrap of c. A failure leaves the registry on its
 * current version and is described in note. Under op_mu. */
static void follow_newest(meta_registry *reg, const who *w, const unsigned char c[KEYS_SECRET_LEN],
                          int64_t now, char *note, size_t note_n, char *rids, size_t rids_n)
{
    vaultc_keyid cur, base, nid;
    char base_url[512], ts[32], cause[512];
    fmt_ts(ts, now);
    if (vaultc_keyid_parse(&cur, reg->versioned_key_identifier, NULL) != CF_OK ||
        vaultc_keyid_parse(&base, reg->key_identifier, NULL) != CF_OK)
        return;
    base.version[0] = '\0';
    vaultc_keyid_format(base_url, sizeof(base_url), &base, 0, NULL);
    char *tok = NULL;
    cf_err ie = {0};
    if (mint(&tok, w, &ie) != CF_OK) {
        textf(note, note_n, "Automatic key rotation check failed at %s: %s; still using %s", ts,
              ie.msg, reg->versioned_key_identifier);
        return;
    }
    vaultc_opts o = vopts();
    vaultc_result r;
    vaultc_key k;
    unsigned char back[KEYS_SECRET_LEN];
    meta_registry nr;
    coord_hold rot;
    int locked = 0;
    cf_code grc = vaultc_get_key(&k, &r, &o, tok, base_url, NULL);
    cmk_request_ids_add(rids, rids_n, r.request_id);
    if (grc != CF_OK) {
        describe(cause, sizeof(cause), &r);
        textf(note, note_n,
              "Automatic key rotation check failed at %s: the vault answered GET %s with %s; "
              "still using %s",
              ts, base_url, cause, reg->versioned_key_identifier);
        goto out;
    }
    if (vaultc_keyid_parse(&nid, k.kid, NULL) != CF_OK || nid.version[0] == '\0' ||
        strcmp(nid.authority, base.authority) != 0 || strcasecmp(nid.name, base.name) != 0) {
        textf(note, note_n,
              "Automatic key rotation check failed at %s: the vault answered for key '%.200s'; "
              "still using %s",
              ts, k.kid, reg->versioned_key_identifier);
        goto out;
    }
    if (strcasecmp(nid.version, cur.version) == 0)
        goto out; /* nothing new */
    /* One node rotates (the rotation lock, not waited for); the others see
     * the row rotated at their next check. Under the lock the row is read
     * again: another node may have rotated since this check read it. */
    int got = 0;
    if (coord_try_lock(COORD_ROTATION, reg->id, &got, &rot, &ie) != CF_OK || !got)
        goto out;
    locked = 1;
    if (meta_registry_get_id(&nr, reg->id, &ie) != CF_OK)
        goto out;
    if (strcmp(nr.versioned_key_identifier, reg->versioned_key_identifier) != 0 ||
        strcmp(nr.key_identity, reg->key_identity) != 0) {
        memcpy(reg->versioned_key_identifier, nr.versioned_key_identifier,
               sizeof(reg->versioned_key_identifier));
        memcpy(reg->wrapped_c, nr.wrapped_c, sizeof(reg->wrapped_c));
        reg->wrapped_c_len = nr.wrapped_c_len;
        reg->last_key_rotation = nr.last_key_rotation;
        goto out; /* rotated by another node */
    }
    textf(nid.authority, sizeof(nid.authority), "%s", base.authority);
    nr = *reg;
    vaultc_keyid_format(nr.versioned_key_identifier, sizeof(nr.versioned_key_identifier), &nid, 1,
                        NULL);
    textf(k.kid, sizeof(k.kid), "%s", nr.versioned_key_identifier);
    cf_err ke = {0};
    if (key_refused(&k, NULL, &ke)) {
        textf(note, note_n, "Automatic key rotation refused at %s: %s Still using %s", ts, ke.msg,
              reg->versioned_key_identifier);
        goto out;
    }
    grc = vaultc_wrap(nr.wrapped_c, sizeof(nr.wrapped_c), &nr.wrapped_c_len, NULL, &r, &o, tok,
                      nr.versioned_key_identifier, c, NULL);
    cmk_request_ids_add(rids, rids_n, r.request_id);
    if (grc == CF_OK) {
        grc = vaultc_unwrap(back, &r, &o, tok, nr.versioned_key_identifier, nr.wrapped_c,
                            nr.wrapped_c_len, NULL);
        cmk_request_ids_add(rids, rids_n, r.request_id);
    }
    if (grc != CF_OK) {
        describe(cause, sizeof(cause), &r);
        textf(note, note_n, "Automatic key rotation to %s failed at %s: %s; still using %s",
              nr.versioned_key_identifier, ts, cause, reg->versioned_key_identifier);
        goto out;
    }
    if (CRYPTO_memcmp(back, c, KEYS_SECRET_LEN) != 0) {
        textf(note, note_n,
              "Automatic key rotation to %s failed at %s: unwrapKey did not give back what "
              "wrapKey wrapped; still using %s",
              nr.versioned_key_identifier, ts, reg->versioned_key_identifier);
        goto out;
    }
    nr.last_key_rotation = now;
    cf_code src =
        meta_registry_swap_key(&nr, reg->versioned_key_identifier, reg->key_identity, &ie);
    if (src == CF_ECONFLICT)
        goto out; /* another writer (a rotate-key) got there first */
    if (src != CF_OK) {
        textf(note, note_n, "Automatic key rotation to %s failed at %s: %s; still using %s",
              nr.versioned_key_identifier, ts, ie.msg, reg->versioned_key_identifier);
        goto out;
    }
    coord_notify("key.rotated", reg->id);
    cf_log(CF_LOG_INFO, "key rotated", "registry", reg->name, "from", reg->versioned_key_identifier,
           "to", nr.versioned_key_identifier, "mode", "automatic", NULL);
    char msg[1200];
    textf(msg, sizeof(msg), "Automatic rotation from %s to %s", reg->versioned_key_identifier,
          nr.versioned_key_identifier);
    cmk_event ev = {
        reg->id,           reg->name, "rotated", "available", nr.versioned_key_identifier,
        reg->key_identity, msg,       rids};
    cmk_events_record(&ev);
    memcpy(reg->versioned_key_identifier, nr.versioned_key_identifier,
           sizeof(reg->versioned_key_identifier));
    memcpy(reg->wrapped_c, nr.wrapped_c, sizeof(reg->wrapped_c));
    reg->wrapped_c_len = nr.wrapped_c_len;
    reg->last_key_rotation = now;
out:
    if (locked)
        coord_unlock(&rot);
    OPENSSL_cleanse(back, sizeof(back));
    OPENSSL_cleanse(&nr, sizeof(nr));
    token_free(tok);
}

enum { OUT_OK, OUT_DENIED, OUT_TRANSIENT };

/* After this process wrote registry id's key state (its slot, if still
 * there: the write was outside mu) */
static void mark_row_written(const char *id)
{
    pthread_mutex_lock(&mu);
    slot *s = slot_find(id);
    if (s)
        s->wrote_row = 1;
    pthread_mutex_unlock(&mu);
}

/* One check of registry id; writes the outcome to the row. Under op_mu.
 * A key event is recorded when the state changed, or always when the
 * check was asked for (manual). */
/* Why a check runs: the round, a check asked for (check-now), or another
 * node's news (a poke). */
enum { CHECK_ROUND = 0, CHECK_MANUAL = 1, CHECK_POKED = 2 };

static cf_code check_one(const char *id, int mode, cf_err *e)
{
    meta_registry reg;
    int64_t now = now_s();
    int64_t started = mono_ms();
    int manual = mode == CHECK_MANUAL;
    char ts[32], loaded_ts[32], cause[512] = "", err[512] = "", sentence[512], reason[1024];
    fmt_ts(ts, now);
    unsigned char c[KEYS_SECRET_LEN];
    char rids[200] = "";
    int outcome;
    who w;
    cf_err ie = {0};
    cf_code rc;
    /* A refusal of the version the row named when it was read may only
     * mean that another node rotated the key since and the old version
     * was disabled: then the check runs again on the new row, and a
     * rotation never locks a node (docs/scale-out.md). */
    for (int attempt = 0;; attempt++) {
        rc = meta_registry_get_id(&reg, id, e);
        if (rc != CF_OK)
            return rc;
        if (!reg.cmk || reg.wrapped_c_len == 0)
            return cf_err_set(e, CF_EINVAL, "registry %s has no customer-managed key", reg.name);
        rids[0] = cause[0] = err[0] = '\0';
        int vault_denied = 0;
        rc = resolve(&w, &reg, reg.key_identity, 1, &ie);
        if (rc == CF_ENOTFOUND) {
            outcome = OUT_DENIED;
            textf(err, sizeof(err), "%s", ie.msg);
            textf(w.client, sizeof(w.client), "%s", reg.key_identity);
        } else if (rc != CF_OK) {
            outcome = OUT_TRANSIENT;
            textf(cause, sizeof(cause), "%s", ie.msg);
            textf(w.client, sizeof(w.client), "%s", reg.key_identity);
        } else {
            char *tok = NULL;
            if (mint(&tok, &w, &ie) != CF_OK) {
                outcome = OUT_TRANSIENT;
                textf(cause, sizeof(cause), "%s", ie.msg);
            } else {
                vaultc_opts o = vopts();
                vaultc_result r;
                (void)vaultc_unwrap(c, &r, &o, tok, reg.versioned_key_identifier, reg.wrapped_c,
                                    reg.wrapped_c_len, NULL);
                cmk_request_ids_add(rids, sizeof(rids), r.request_id);
                token_free(tok);
                describe(cause, sizeof(cause), &r);
                outcome = r.cls == VAULTC_OK       ? OUT_OK
                          : r.cls == VAULTC_DENIED ? OUT_DENIED
                                                   : OUT_TRANSIENT;
                vault_denied = outcome == OUT_DENIED;
                if (outcome == OUT_DENIED && strcmp(r.inner, "ForbiddenByFirewall") == 0)
                    /* the reference's "HTTP 403 after enabling a key vault firewall" (its
                     * troubleshooting §3.2): say so first, then the vault's own words */
                    textf(err, sizeof(err),
                          "The key vault's firewall refused unwrapKey on %s for identity %s (%ld "
                          "ForbiddenByFirewall): allow the registry's address (coffer keyvault "
                          "network-rule add) or let trusted services bypass the firewall (coffer "
                          "keyvault update --bypass AzureServices). The vault said: %s",
                          reg.versioned_key_identifier, w.client, r.status, r.message);
                else if (outcome == OUT_DENIED)
                    textf(err, sizeof(err), "The vault refused unwrapKey on %s for identity %s: %s",
                          reg.versioned_key_identifier, w.client, cause);
            }
        }
        if (!vault_denied || attempt > 0)
            break;
        meta_registry now_row;
        if (meta_registry_get_id(&now_row, id, NULL) != CF_OK ||
            (strcmp(now_row.versioned_key_identifier, reg.versioned_key_identifier) == 0 &&
             now_row.wrapped_c_len == reg.wrapped_c_len &&
             memcmp(now_row.wrapped_c, reg.wrapped_c, reg.wrapped_c_len) == 0 &&
             strcmp(now_row.key_identity, reg.key_identity) == 0))
            break;
        cf_log(CF_LOG_INFO, "key rotated meanwhile; checking the new version", "registry", reg.name,
               "from", reg.versioned_key_identifier, "to", now_row.versioned_key_identifier, NULL);
    }
    if (atomic_load(&stopping) && outcome != OUT_OK) {
        OPENSSL_cleanse(c, sizeof(c));
        return cf_err_set(e, CF_EUNAVAIL, "stopping");
    }

    int st;
    pthread_mutex_lock(&mu);
    slot *s = slot_get(id);
    if (s == NULL) {
        pthread_mutex_unlock(&mu);
        OPENSSL_cleanse(c, sizeof(c));
        keyring_lock(id, CF_EUNAVAIL, "too many customer-managed key registries in memory");
        return cf_err_set(e, CF_ENOMEM, "too many customer-managed key registries in memory");
    }
    if (outcome == OUT_OK) {
        st = ST_AVAILABLE;
        if (!s->have_c || s->pending || CRYPTO_memcmp(s->c, c, sizeof(c)) != 0) {
            cf_err ke = {0};
            if (keyring_set_cmk(&reg, c, &ke) == CF_OK) {
                memcpy(s->c, c, sizeof(c));
                s->have_c = 1;
                s->pending = 0;
                s->loaded_at = now;
            } else {
                slot_wipe_c(s);
                st = ST_UNAVAILABLE;
                textf(err, sizeof(err),
                      "The key was unwrapped but the registry key could not "
                      "be derived: %s",
                      ke.msg);
                textf(reason, sizeof(reason), "its customer-managed key is not loaded: %s", err);
                keyring_lock(id, CF_EUNAVAIL, reason);
            }
        }
    } else if (outcome == OUT_DENIED) {
        st = ST_DENIED;
        slot_wipe_c(s);
        textf(sentence, sizeof(sentence), "%s", err);
        trim_period(sentence);
        textf(reason, sizeof(reason),
              "its customer-managed key is not accessible: %s. Nothing is lost; restore the "
              "key's access and the registry unlocks at the next key check (coffer acr "
              "encryption show -n %s).",
              sentence, reg.name);
        keyring_lock(id, CF_EDENIED, reason);
    } else if (s->have_c && !s->pending) {
        st = ST_DEGRADED;
        fmt_ts(loaded_ts, s->loaded_at);
        textf(err, sizeof(err),
              "Key vault unreachable at %s: %s; serving from the key loaded at %s", ts, cause,
              loaded_ts);
    } else {
        st = ST_UNAVAILABLE;
        slot_wipe_c(s);
        textf(err, sizeof(err), "Key vault unreachable at %s: %s", ts, cause);
        textf(sentence, sizeof(sentence), "%s", err);
        trim_period(sentence);
        textf(reason, sizeof(reason),
              "its customer-managed key is not loaded: %s. Nothing is lost; the registry "
              "unlocks at the next key check that reaches the vault (coffer acr encryption "
              "show -n %s).",
              sentence, reg.name);
        keyring_lock(id, CF_EUNAVAIL, reason);
    }
    int changed = s->logged != st;
    int was = s->logged;
    s->logged = st;
    textf(s->name, sizeof(s->name), "%s", reg.name);
    s->checked_at = now;
    s->checked_mono = started;
    /* another node serves this key (the row says so, recently): this
     * node, which could not load it, is behind (not ready), and its view
     * does not overwrite theirs in the row. A row this node wrote in an
     * earlier life (before a restart) says nothing of the others: on a
     * shared database it stands for them until one of them writes (a node
     * restarted while the vault hangs would otherwise turn ready at its
     * first check and write "unavailable" over the others' "available");
     * on SQLite there are no others. */
    int64_t fresh = 2 * (int64_t)(conf.interval_s ? conf.interval_s : 60) + 5;
    int this_life = strcmp(reg.key_checked_by, meta_node()) == 0 &&
                    (strcmp(meta_engine(), "postgres") != 0 || s->wrote_row);
    s->behind = st == ST_UNAVAILABLE && strcmp(reg.key_status, "available") == 0 &&
                reg.key_checked_by[0] != '\0' && !this_life && reg.last_key_check > 0 &&
                now - reg.last_key_check <= fresh;
    int keep_row = s->behind;
    pthread_mutex_unlock(&mu);
    /* a real change (not this node's first check) that this node found
     * itself: the other nodes check this registry now rather than at their
     * next round (a change found because of such news is not passed on:
     * one notification per change, one vault call per node) */
    if (changed && was != ST_NONE && mode != CHECK_POKED)
        coord_notify("key.changed", id);

    char checked_key[512];
    textf(checked_key, sizeof(checked_key), "%s", reg.versioned_key_identifier);
    if (st == ST_AVAILABLE && reg.key_rotation_enabled && !atomic_load(&stopping)) {
        char frids[200] = "";
        follow_newest(&reg, &w, c, now, err, sizeof(err), frids, sizeof(frids));
        /* a look cut by this node's own shutdown (the vault call aborts
         * when stopping is set) says nothing of the vault: it is neither a
         * failed rotation nor the registry's lastError */
        if (atomic_load(&stopping))
            err[0] = '\0';
        if (err[0]) {
            cmk_event fev = {reg.id,      reg.name,    "rotation-failed",
                             "available", checked_key, reg.key_identity,
                             err,         frids};
            cmk_events_record(&fev);
        }
    }
    OPENSSL_cleanse(c, sizeof(c));
    if (changed)
        log_state(st, &reg, w.client, err);
    if (changed || manual) {
        cmk_event ev = {reg.id,
                        reg.name,
                        "check",
                        st == ST_DEGRADED    ? "degraded"
                        : st == ST_AVAILABLE ? "available"
                        : st == ST_DENIED    ? "denied"
                                             : "unavailable",
                        checked_key,
                        reg.key_identity,
                        err[0] ? err : NULL,
                        rids};
        cmk_events_record(&ev);
    }
    int ok = st == ST_AVAILABLE || st == ST_DEGRADED;
    if (keep_row)
        return CF_OK;
    rc = meta_registry_set_key_state(id, ok ? "available" : "unavailable", now, err, e);
    if (rc == CF_OK)
        mark_row_written(id);
    return rc;
}

/* ---- the checker thread ---- */

typedef struct idlist {
    char (*ids)[META_ID_LEN + 1];
    size_t n, cap;
} idlist;

static int collect_cb(void *cls, const meta_registry *r)
{
    idlist *l = cls;
    if (!r->cmk)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *p = realloc(l->ids, cap * sizeof(*l->ids));
        if (p == NULL)
            return 1;
        l->ids = p;
        l->cap = cap;
    }
    textf(l->ids[l->n++], META_ID_LEN + 1, "%s", r->id);
    return 0;
}

/* Slots whose registry row is gone (deleted while a check was running):
 * wiped, and the keyring told to forget. */
static void sweep(void)
{
    idlist l = {0};
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < slots.n; i++) {
        if (!slot_at(i)->used || slot_at(i)->pending)
            continue;
        if (l.n == l.cap) {
            size_t cap = l.cap ? l.cap * 2 : 16;
            void *p = realloc(l.ids, cap * sizeof(*l.ids));
            if (p == NULL)
                break;
            l.ids = p;
            l.cap = cap;
        }
        textf(l.ids[l.n++], META_ID_LEN + 1, "%s", slot_at(i)->id);
    }
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < l.n; i++) {
        meta_registry reg;
        if (meta_registry_get_id(&reg, l.ids[i], NULL) == CF_ENOTFOUND)
            cmk_forget(l.ids[i]);
    }
    free(l.ids);
}

/* A check asked for between rounds (cmk_poke at `at`): run unless a
 * check of the registry started after the news (it saw the change). */
static void check_poked(const char *id, int64_t at)
{
    pthread_mutex_lock(&mu);
    slot *s = slot_find(id);
    int covered = s && s->checked_mono >= at;
    pthread_mutex_unlock(&mu);
    if (covered)
        return;
    cf_err ce = {0};
    pthread_mutex_lock(&op_mu);
    cf_code rc = check_one(id, CHECK_POKED, &ce);
    pthread_mutex_unlock(&op_mu);
    if (rc != CF_OK && rc != CF_ENOTFOUND && rc != CF_EINVAL && !atomic_load(&stopping))
        cf_log(CF_LOG_ERROR, "key check failed", "registry_id", id, "error", ce.msg, NULL);
}

/* The keys this node could not load because their vault did not answer:
 * *behind, one that another node serves; *unloaded, any. */
static void lacking(int *behind, int *unloaded)
{
    *behind = *unloaded = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < slots.n; i++) {
        const slot *s = slot_at(i);
        if (!s->used || s->pending)
            continue;
        *behind |= s->behind;
        *unloaded |= s->logged == ST_UNAVAILABLE;
    }
    pthread_mutex_unlock(&mu);
}

/* The wait before the next round. A key another node serves and this one
 * lacks: 2 s, so the node catches up soon after its vault answers. A key
 * no node could load (a vault, or the issuer whose JWKS it needs, still
 * starting: a cluster restarted as a whole): 2 s, doubling up to the
 * interval, so the registry unlocks seconds after the vault answers and a
 * vault that is gone for good is asked once per interval, as before. */
static unsigned next_wait(unsigned *backoff_s, unsigned interval_s, int listed)
{
    int behind, unloaded;
    lacking(&behind, &unloaded);
    unsigned b = *backoff_s;
    *backoff_s = !unloaded ? 0 : b == 0 ? 2 : b >= interval_s ? interval_s : 2 * b;
    unsigned w = interval_s;
    if ((behind || !listed) && w > 2)
        w = 2;
    if (unloaded && *backoff_s < w)
        w = *backoff_s;
    return w;
}

static void *run(void *arg)
{
    (void)arg;
    unsigned backoff_s = 0;
    while (!atomic_load(&stopping)) {
        idlist l = {0};
        cf_err e = {0};
        if (meta_registry_each(collect_cb, &l, &e) != CF_OK)
            cf_log(CF_LOG_ERROR, "cannot list registries for key checks", "error", e.msg, NULL);
        for (size_t i = 0; i < l.n && !atomic_load(&stopping); i++) {
            cf_err ce = {0};
            pthread_mutex_lock(&op_mu);
            cf_code rc = check_one(l.ids[i], CHECK_ROUND, &ce);
            pthread_mutex_unlock(&op_mu);
            if (rc != CF_OK && rc != CF_ENOTFOUND && !atomic_load(&stopping))
                cf_log(CF_LOG_ERROR, "key check failed", "registry_id", l.ids[i], "error", ce.msg,
                       NULL);
        }
        free(l.ids);
        if (!atomic_load(&stopping))
            sweep();
        if (e.code == CF_OK)
            atomic_store(&first_round, 1);

        unsigned wait_s =
            next_wait(&backoff_s, conf.interval_s ? conf.interval_s : 60, e.code == CF_OK);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_s;
        pthread_mutex_lock(&th_mu);
        while (!atomic_load(&stopping)) {
            if (poke_all) {
                poke_all = 0;
                npokes = 0;
                break; /* a whole round now */
            }
            if (npokes > 0) {
                char(*ids)[META_ID_LEN + 1] = malloc(npokes * sizeof(*ids));
                int64_t *ats = malloc(npokes * sizeof(*ats));
                size_t n = ids && ats ? npokes : 0;
                if (n) {
                    memcpy(ids, pokes, n * sizeof(*ids));
                    memcpy(ats, poked_at, n * sizeof(*ats));
                }
                npokes = 0;
                pthread_mutex_unlock(&th_mu);
                for (size_t i = 0; i < n && !atomic_load(&stopping); i++)
                    check_poked(ids[i], ats[i]);
                free(ids);
                free(ats);
                pthread_mutex_lock(&th_mu);
                continue;
            }
            if (pthread_cond_timedwait(&th_cv, &th_mu, &until) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&th_mu);
    }
    return NULL;
}

void cmk_poke(const char *registry_id)
{
    if (!engine_ready() || registry_id == NULL || strlen(registry_id) != META_ID_LEN)
        return;
    pthread_mutex_lock(&th_mu);
    int have = 0;
    for (size_t i = 0; i < npokes && !have; i++)
        have = strcmp(pokes[i], registry_id) == 0;
    if (!have) {
        if (npokes < POKE_MAX) {
            poked_at[npokes] = mono_ms();
            textf(pokes[npokes++], META_ID_LEN + 1, "%s", registry_id);
        } else {
            poke_all = 1;
        }
    }
    if (th_running)
        pthread_cond_broadcast(&th_cv);
    pthread_mutex_unlock(&th_mu);
}

void cmk_poke_all(void)
{
    if (!engine_ready())
        return;
    pthread_mutex_lock(&th_mu);
    poke_all = 1;
    if (th_running)
        pthread_cond_broadcast(&th_cv);
    pthread_mutex_unlock(&th_mu);
}

int cmk_keys_ready(char *why, size_t cap)
{
    if (!engine_ready()) {
        textf(why, cap, "key checks are not running");
        return 0;
    }
    if (!atomic_load(&first_round)) {
        textf(why, cap, "the first round of key checks has not finished");
        return 0;
    }
    int ok = 1;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < slots.n && ok; i++) {
        if (slot_at(i)->used && !slot_at(i)->pending && slot_at(i)->behind) {
            ok = 0;
            textf(why, cap,
                  "the customer-managed key of registry %s is not loaded on this node (its vault "
                  "did not answer) while other nodes serve it",
                  slot_at(i)->name);
        }
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

/* Other nodes' news (store/coord.h), on the listener thread. */
static void on_event(const char *event, const char *arg)
{
    if (strcmp(event, "registry.deleted") == 0)
        cmk_forget(arg);
    else if (strcmp(event, "registry.created") == 0 || strcmp(event, "key.changed") == 0 ||
             strcmp(event, "key.rotated") == 0)
        cmk_poke(arg);
}

static void on_resync(void)
{
    cmk_poke_all();
}

static const coord_subscriber subscriber = {on_event, on_resync};

/* The key states as metrics: one series per state per CMK registry this
 * node checked (1 for the current one), and the time of the last check. */
static void collect(cf_buf *out)
{
    static const char *const states[] = {"available", "denied", "degraded", "unavailable"};
    static const int codes[] = {ST_AVAILABLE, ST_DENIED, ST_DEGRADED, ST_UNAVAILABLE};
    metrics_family(out, "coffer_cmk_key_state", "gauge",
                   "Customer-managed key state of each CMK registry as this node's last check "
                   "found it (1 for the current state).");
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < slots.n; i++) {
        const slot *sl = slot_at(i);
        if (!sl->used || sl->pending || sl->logged == ST_NONE)
            continue;
        for (size_t k = 0; k < 4; k++) {
            cf_buf_appendf(out, NULL, "%s", "coffer_cmk_key_state{registry=\"");
            metrics_label_value(out, sl->name);
            cf_buf_appendf(out, NULL, "\",state=\"%s\"} %d\n", states[k], sl->logged == codes[k]);
        }
    }
    metrics_family(out, "coffer_cmk_key_last_check_timestamp_seconds", "gauge",
                   "When this node last checked each CMK registry's key (unix seconds).");
    for (size_t i = 0; i < slots.n; i++) {
        const slot *sl = slot_at(i);
        if (!sl->used || sl->pending || sl->checked_at == 0)
            continue;
        cf_buf_appendf(out, NULL, "%s", "coffer_cmk_key_last_check_timestamp_seconds{registry=\"");
        metrics_label_value(out, sl->name);
        cf_buf_appendf(out, NULL, "\"} %lld\n", (long long)sl->checked_at);
    }
    pthread_mutex_unlock(&mu);
}

/* A request found a CMK registry this node never loaded: load it now
 * (once: concurrent requests wait for the first one's check under op_mu,
 * then find the registry known). */
static void keyring_miss(const char *registry_id)
{
    if (!engine_ready() || atomic_load(&stopping))
        return;
    pthread_mutex_lock(&op_mu);
    if (!keyring_known(registry_id)) {
        cf_err ce = {0};
        cf_code rc = check_one(registry_id, CHECK_POKED, &ce);
        if (rc != CF_OK && rc != CF_ENOTFOUND && rc != CF_EINVAL)
            cf_log(CF_LOG_WARN, "key load on first use failed", "registry_id", registry_id, "error",
                   ce.msg, NULL);
    }
    pthread_mutex_unlock(&op_mu);
}

/* ---- the interface ---- */

cf_code cmk_start(const cmk_config *cfg, cf_err *e)
{
    if (th_running)
        return cf_err_set(e, CF_ECONFLICT, "the key engine is already running");
    if (cfg == NULL || cfg->token == NULL)
        return cf_err_set(e, CF_EINVAL, "the key engine needs a token function");
    if (cfg->check_interval_s < 1 || cfg->check_interval_s > 86400)
        return cf_err_set(e, CF_EINVAL, "key check interval must be 1..86400 seconds");
    vaultc_global_init();
    cf_code erc = cmk_events_open(cfg->events_path, e);
    if (erc != CF_OK)
        return erc;
    free(conf.ca_file);
    free(conf.resource);
    conf.ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    conf.resource = strdup(cfg->resource ? cfg->resource : DEFAULT_RESOURCE);
    if ((cfg->ca_file && conf.ca_file == NULL) || conf.resource == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    conf.interval_s = cfg->check_interval_s;
    conf.timeout_s = cfg->timeout_s ? cfg->timeout_s : 10;
    conf.token = cfg->token;
    atomic_store(&stopping, 0);
    atomic_store(&first_round, 0);
    atomic_store_explicit(&conf_ready, 1, memory_order_release);
    coord_subscribe(&subscriber);
    keyring_set_miss_hook(keyring_miss);
    static int collecting;
    if (!collecting)
        metrics_add_collector(collect);
    collecting = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&th_cv, &ca);
    pthread_condattr_destroy(&ca);
    int err = pthread_create(&th, NULL, run, NULL);
    if (err != 0) {
        atomic_store(&conf_ready, 0);
        pthread_cond_destroy(&th_cv);
        return cf_err_os(e, err, "cannot start the key check thread");
    }
    th_running = 1;
    cf_log(CF_LOG_INFO, "key checks started", NULL);
    return CF_OK;
}

void cmk_stop(void)
{
    keyring_set_miss_hook(NULL);
    atomic_store(&conf_ready, 0);
    if (th_running) {
        pthread_mutex_lock(&th_mu);
        atomic_store(&stopping, 1);
        pthread_cond_broadcast(&th_cv);
        pthread_mutex_unlock(&th_mu);
        pthread_join(th, NULL);
        pthread_cond_destroy(&th_cv);
        th_running = 0;
    }
    atomic_store(&stopping, 1);
    pthread_mutex_lock(&op_mu);
    pthread_mutex_lock(&mu);
    cf_locked_free(&slots);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&op_mu);
    free(conf.ca_file);
    free(conf.resource);
    memset(&conf, 0, sizeof(conf));
    cmk_events_close();
}

cf_code cmk_prepare(meta_registry *reg, const char *key_identifier, const char *identity,
                    cmk_fail *f, cf_err *e)
{
    if (f)
        memset(f, 0, sizeof(*f));
    if (!engine_ready())
        return refuse(f, e, 503, "ServiceUnavailable", CF_EUNAVAIL,
                      "The key engine of the service is starting; try again.");
    if (identity == NULL || *identity == '\0')
        return refuse(f, e, 400, "IdentityRequired", CF_EINVAL,
                      "A customer-managed key needs keyVaultProperties.identity: the client id of "
                      "a user-assigned identity of the registry.");
    unsigned char c[KEYS_SECRET_LEN];
    cf_err re = {0};
    if (keys_random(c, sizeof(c), &re) != CF_OK)
        return refuse(f, e, 500, "InternalServerError", CF_ECRYPTO, "%s", re.msg);
    enrolled *en = malloc(sizeof(*en));
    if (en == NULL) {
        OPENSSL_cleanse(c, sizeof(c));
        return refuse(f, e, 500, "InternalServerError", CF_ENOMEM, "out of memory");
    }
    cf_code rc = enroll(en, reg, key_identifier, identity, c, f, e);
    if (rc != CF_OK)
        goto out;
    pthread_mutex_lock(&mu);
    slot *s = slot_get(reg->id);
    if (s) {
        slot_wipe_c(s);
        memcpy(s->c, c, sizeof(c));
        s->have_c = 1;
        s->pending = 1;
        textf(s->rids, sizeof(s->rids), "%s", en->rids);
    }
    pthread_mutex_unlock(&mu);
    if (s == NULL) {
        rc = refuse(f, e, 500, "InternalServerError", CF_ENOMEM,
                    "too many customer-managed key registries in memory");
        goto out;
    }
    int64_t now = now_s();
    reg->cmk = 1;
    memcpy(reg->wrapped_c, en->wrapped, en->wrapped_len);
    reg->wrapped_c_len = en->wrapped_len;
    textf(reg->key_identifier, sizeof(reg->key_identifier), "%s", en->key_identifier);
    textf(reg->versioned_key_identifier, sizeof(reg->versioned_key_identifier), "%s",
          en->versioned);
    textf(reg->key_identity, sizeof(reg->key_identity), "%s", en->identity);
    reg->key_rotation_enabled = en->rotation_enabled;
    reg->last_key_rotation = 0;
    textf(reg->key_status, sizeof(reg->key_status), "available");
    reg->last_key_check = now;
    reg->last_error[0] = '\0';
out:
    OPENSSL_cleanse(c, sizeof(c));
    OPENSSL_cleanse(en, sizeof(*en));
    free(en);
    return rc;
}

void cmk_commit(const meta_registry *reg)
{
    pthread_mutex_lock(&mu);
    slot *s = slot_find(reg->id);
    if (s && s->pending && s->have_c) {
        cf_err e = {0};
        if (keyring_set_cmk(reg, s->c, &e) == CF_OK) {
            s->pending = 0;
            s->loaded_at = now_s();
            s->logged = ST_AVAILABLE;
            cf_log(CF_LOG_INFO, "customer-managed key available", "registry", reg->name, "key",
                   reg->versioned_key_identifier, "identity", reg->key_identity, NULL);
            cmk_event ev = {reg->id,
                            reg->name,
                            "enabled",
                            "available",
                            reg->versioned_key_identifier,
                            reg->key_identity,
                            reg->key_rotation_enabled
                                ? "Customer-managed key enabled (automatic rotation)"
                                : "Customer-managed key enabled (manual rotation)",
                            s->rids};
            cmk_events_record(&ev);
        } else {
            slot_wipe_c(s);
            keyring_lock(reg->id, CF_EUNAVAIL,
                         "its customer-managed key is not loaded yet (next key check)");
            cf_log(CF_LOG_ERROR, "cannot load the new registry's key", "registry", reg->name,
                   "error", e.msg, NULL);
        }
    }
    pthread_mutex_unlock(&mu);
}

void cmk_abort(const char *registry_id)
{
    pthread_mutex_lock(&mu);
    slot *s = slot_find(registry_id);
    if (s && s->pending)
        slot_free(s);
    pthread_mutex_unlock(&mu);
}

cf_code cmk_rotate(const char *registry_id, const char *new_key_identifier,
                   const char *new_identity, cmk_fail *f, cf_err *e)
{
    if (f)
        memset(f, 0, sizeof(*f));
    if (!engine_ready())
        return refuse(f, e, 503, "ServiceUnavailable", CF_EUNAVAIL,
                      "The key engine of the service is starting; try again.");
    meta_registry *reg = malloc(sizeof(*reg));
    enrolled *en = malloc(sizeof(*en));
    unsigned char c[KEYS_SECRET_LEN];
    cf_code rc;
    if (reg == NULL || en == NULL) {
        free(reg);
        free(en);
        return refuse(f, e, 500, "InternalServerError", CF_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&op_mu);
    cf_err ge = {0};
    /* one rotation of a registry at a time in the whole cluster */
    coord_hold rot;
    int locked = 0;
    rc = coord_lock(COORD_ROTATION, registry_id, 30000, &rot, &ge);
    if (rc != CF_OK) {
        rc = refuse(f, e, 409, "Conflict", CF_ECONFLICT,
                    "Another rotation of this registry's key is running; try again (%s).", ge.msg);
        goto out;
    }
    locked = 1;
    rc = meta_registry_get_id(reg, registry_id, &ge);
    if (rc == CF_ENOTFOUND) {
        rc = refuse(f, e, 404, "ResourceNotFound", CF_ENOTFOUND, "%s", ge.msg);
        goto out;
    }
    if (rc != CF_OK) {
        rc = refuse(f, e, 500, "InternalServerError", rc, "%s", ge.msg);
        goto out;
    }
    if (!reg->cmk) {
        rc = refuse(f, e, 400, "CmkNotEnabled", CF_EINVAL,
                    "Registry %s is not encrypted with a customer-managed key.", reg->name);
        goto out;
    }
    pthread_mutex_lock(&mu);
    slot *s = slot_find(registry_id);
    int have = s && s->have_c && !s->pending;
    if (have)
        memcpy(c, s->c, sizeof(c));
    pthread_mutex_unlock(&mu);
    if (!have) {
        rc = refuse(f, e, 409, "KeyUnavailable", CF_ECONFLICT,
                    "The customer-managed key of registry %s is not available, so it cannot be "
                    "rotated: %s. Restore access to the current key first (coffer acr encryption "
                    "check -n %s).",
                    reg->name, reg->last_error[0] ? reg->last_error : "it is not loaded yet",
                    reg->name);
        goto out;
    }
    const char *kid = new_key_identifier ? new_key_identifier : reg->key_identifier;
    const char *ident = new_identity ? new_identity : reg->key_identity;
    if ((rc = enroll(en, reg, kid, ident, c, f, e)) != CF_OK)
        goto out;
    char from[512], from_identity[40];
    textf(from, sizeof(from), "%s", reg->versioned_key_identifier);
    textf(from_identity, sizeof(from_identity), "%s", reg->key_identity);
    int64_t now = now_s();
    textf(reg->key_identifier, sizeof(reg->key_identifier), "%s", en->key_identifier);
    textf(reg->versioned_key_identifier, sizeof(reg->versioned_key_identifier), "%s",
          en->versioned);
    textf(reg->key_identity, sizeof(reg->key_identity), "%s", en->identity);
    reg->key_rotation_enabled = en->rotation_enabled;
    reg->last_key_rotation = now;
    memcpy(reg->wrapped_c, en->wrapped, en->wrapped_len);
    reg->wrapped_c_len = en->wrapped_len;
    if ((rc = meta_registry_swap_key(reg, from, from_identity, &ge)) != CF_OK) {
        rc = rc == CF_ECONFLICT
                 ? refuse(f, e, 409, "Conflict", CF_ECONFLICT,
                          "The registry's key was rotated meanwhile; read it again and retry.")
                 : refuse(f, e, 500, "InternalServerError", rc, "%s", ge.msg);
        goto out;
    }
    coord_notify("key.rotated", registry_id);
    cf_err se = {0};
    int wrote = meta_registry_set_key_state(registry_id, "available", now, NULL, &se) == CF_OK;
    if (!wrote)
        cf_log(CF_LOG_ERROR, "cannot store the key state", "registry", reg->name, "error", se.msg,
               NULL);
    pthread_mutex_lock(&mu);
    if ((s = slot_find(registry_id)) != NULL) {
        s->logged = ST_AVAILABLE;
        s->wrote_row |= wrote;
    }
    pthread_mutex_unlock(&mu);
    cf_log(CF_LOG_INFO, "key rotated", "registry", reg->name, "from", from, "to",
           reg->versioned_key_identifier, "identity", reg->key_identity, "mode", "manual", NULL);
    char msg[1200];
    textf(msg, sizeof(msg), "Key rotated (rotate-key) from %s to %s, %s rotation", from,
          reg->versioned_key_identifier, reg->key_rotation_enabled ? "automatic" : "manual");
    cmk_event ev = {
        reg->id,           reg->name, "rotated", "available", reg->versioned_key_identifier,
        reg->key_identity, msg,       en->rids};
    cmk_events_record(&ev);
out:
    if (locked)
        coord_unlock(&rot);
    pthread_mutex_unlock(&op_mu);
    OPENSSL_cleanse(c, sizeof(c));
    OPENSSL_cleanse(en, sizeof(*en));
    free(en);
    free(reg);
    return rc;
}

cf_code cmk_check_now(const char *registry_id, cf_err *e)
{
    if (!engine_ready())
        return cf_err_set(e, CF_EUNAVAIL, "the key engine is not running");
    pthread_mutex_lock(&op_mu);
    cf_code rc = check_one(registry_id, CHECK_MANUAL, e);
    pthread_mutex_unlock(&op_mu);
    return rc;
}

void cmk_forget(const char *registry_id)
{
    pthread_mutex_lock(&op_mu);
    pthread_mutex_lock(&mu);
    slot *s = slot_find(registry_id);
    if (s)
        slot_free(s);
    keyring_forget(registry_id);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&op_mu);
}
