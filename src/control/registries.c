/*
 * registries.c -- the registry resource of the management API (DESIGN §5,
 * §6; ACR's names): create, read, list, update (SKU, identities, key
 * rotation), delete, and "check the key now".
 *
 * Every request is validated in full before anything changes; a refusal
 * is the contract's ARM code and nothing is written. Creation is one
 * function for both doors (PUT /registries/{name} and `cofferd --registry`):
 * a fresh S under the SRK, the object directory, and for a CMK registry
 * cmk_prepare (the vault checks and the wrapped C), then the row and its
 * identities in one transaction, then cmk_commit (cmk_abort and the
 * directory removed when the row could not be written).
 *
 * Authentication settings (docs/control-plane.md "Registry
 * authentication"): adminUserEnabled creates the
 * admin user's two passwords the first time it is enabled (wrapped under
 * the SRK, credentials.h); disabling it keeps them but bumps the
 * registry's credential epoch, as regenerating one does, so that registry
 * tokens minted before stop working. anonymousPullEnabled is refused on
 * Basic registries, as ACR does. listCredentials and regenerateCredential
 * are the admin user's `az acr credential show|renew`.
 *
 * Deletion wipes the wrapped S and C in the database (meta_registry_delete),
 * forgets the KEK and C in memory, then removes the sealed objects: what
 * is left anywhere (backups included) can no longer be decrypted.
 */
#define CF_LOG_MOD "mgmt"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base/enc.h"
#include "base/log.h"
#include "cmk/cmk.h"
#include "control/authz.h"
#include "control/mgmt_int.h"
#include "control/validate.h"
#include "crypto/keys.h"
#include "registry/credentials.h"
#include "registry/keyring.h"
#include "store/coord.h"
#include "store/objects.h"

#define MAX_UAI 16
#define SYSTEM_IDENTITY "system"
#define TYPE_REGISTRY ARM_NS_REGISTRY "/" ARM_TYPE_REGISTRY

/* ---- creation, shared by both doors ---- */

typedef struct reg_new {
    const char *name;
    const char *sku;        /* canonical; NULL: Premium */
    int id_flags;           /* CTL_ID_* */
    const char *const *uai; /* user-assigned identity names */
    size_t n_uai;
    const char *key_identifier; /* NULL: service-managed encryption */
    const char *key_identity;   /* client id or "system" */
    int admin_enabled;          /* adminUserEnabled */
    int anonymous_pull;         /* anonymousPullEnabled */
    int64_t storage_limit;      /* storageLimit; 0: none */
    const arm_group *group;     /* where it goes; NULL: the default group */
    const char *location;       /* NULL: the group's */
} reg_new;

/* Removes every object of registry id (objects.h). */
static void remove_registry_dir(const char *id)
{
    cf_err e = {0};
    if (objects_current() != NULL && objects_registry_remove(id, &e) != CF_OK)
        cf_log(CF_LOG_WARN, "cannot remove the registry's objects", "registry", id, "error", e.msg,
               NULL);
}

/* Makes the admin user's passwords that reg does not have yet. */
static cf_code admin_passwords_ensure(meta_registry *reg, cf_err *e)
{
    for (int i = 0; i < 2; i++) {
        if (reg->admin_pw_set[i])
            continue;
        char pw[44];
        cf_code rc = cred_admin_new(pw, reg->admin_pw[i], reg->id, i + 1, e);
        OPENSSL_cleanse(pw, sizeof(pw));
        if (rc != CF_OK)
            return rc;
        reg->admin_pw_set[i] = 1;
    }
    return CF_OK;
}

/* Creates the registry; *out receives its row. f (may be NULL) receives
 * the vault's refusal when cmk_prepare fails. */
static cf_code registry_create(meta_registry *out, const reg_new *p, cmk_fail *f, cf_err *e)
{
    meta_registry *reg = out;
    int placed = 0;
    memset(reg, 0, sizeof(*reg));
    unsigned char rid[16];
    cf_code rc = keys_random(rid, sizeof(rid), e);
    if (rc != CF_OK)
        return rc;
    cf_hex_encode(reg->id, rid, sizeof(rid));
    for (size_t i = 0; p->name[i] && i < sizeof(reg->name) - 1; i++)
        reg->name[i] =
            (char)((p->name[i] >= 'A' && p->name[i] <= 'Z') ? p->name[i] + 32 : p->name[i]);
    snprintf(reg->sku, sizeof(reg->sku), "%s", p->sku ? p->sku : "Premium");
    reg->created_at = (int64_t)time(NULL);
    snprintf(reg->identity_type, sizeof(reg->identity_type), "%s",
             ctl_identity_type_name(p->id_flags));
    if (p->id_flags & CTL_ID_SYSTEM) {
        rc = ctl_uuid_v4(reg->system_client_id, e);
        if (rc == CF_OK)
            rc = ctl_uuid_v4(reg->system_principal_id, e);
        if (rc != CF_OK)
            return rc;
    }
    snprintf(reg->key_status, sizeof(reg->key_status), "available");
    reg->anonymous_pull = p->anonymous_pull;
    reg->admin_enabled = p->admin_enabled;
    reg->storage_limit = p->storage_limit;
    rc = keyring_new_secret(reg->wrapped_s, reg->id, e);
    if (rc == CF_OK && reg->admin_enabled)
        rc = admin_passwords_ensure(reg, e);
    if (rc == CF_OK)
        rc = objects_registry_prepare(reg->id, e);
    if (rc != CF_OK)
        goto fail;
    /* the placement before the row: a crash between leaves only a
     * placement, which the next start sweeps */
    arm_group dg;
    const arm_group *g = p->group;
    if (g == NULL) {
        rc = arm_group_get(&dg, arm_default_sub(), arm_default_group(), e);
        if (rc != CF_OK)
            goto fail;
        g = &dg;
    }
    rc = arm_place_put(ARM_KIND_REGISTRY, reg->name, g->sub, g->name,
                       p->location && *p->location ? p->location : g->location, e);
    if (rc != CF_OK)
        goto fail;
    placed = 1;
    if (p->key_identifier) {
        reg->cmk = 1;
        rc = cmk_prepare(reg, p->key_identifier, p->key_identity, f, e);
        if (rc != CF_OK)
            goto fail;
    }
    rc = meta_registry_create(reg, p->uai, p->n_uai, e);
    if (rc != CF_OK) {
        if (reg->cmk)
            cmk_abort(reg->id);
        goto fail;
    }
    if (reg->cmk)
        cmk_commit(reg);
    /* the other nodes load a CMK registry's key now, not at their next
     * round of checks */
    coord_notify("registry.created", reg->id);
    OPENSSL_cleanse(reg->wrapped_s, sizeof(reg->wrapped_s));
    OPENSSL_cleanse(reg->wrapped_c, sizeof(reg->wrapped_c));
    OPENSSL_cleanse(reg->admin_pw, sizeof(reg->admin_pw));
    return CF_OK;
fail:
    if (placed && rc != CF_EEXISTS) {
        cf_err pe = {0};
        arm_place_delete(ARM_KIND_REGISTRY, reg->name, &pe);
    }
    remove_registry_dir(reg->id);
    OPENSSL_cleanse(reg, sizeof(*reg));
    return rc;
}

cf_code registries_ensure(const char *name, int *created, cf_err *e)
{
    *created = 0;
    if (!ctl_registry_name_valid(name))
        return cf_err_set(e, CF_EINVAL, "registry name '%.64s' is invalid: " CTL_REGISTRY_NAME_RULE,
                          name);
    meta_registry reg;
    cf_err ge = {0};
    if (meta_registry_get(&reg, name, &ge) == CF_OK)
        return objects_registry_prepare(reg.id, e);
    if (ge.code != CF_ENOTFOUND)
        return cf_err_set(e, ge.code, "%s", ge.msg);
    reg_new p = {.name = name};
    pthread_mutex_lock(&mgmt_mu);
    cf_err ce = {0};
    cf_code rc = registry_create(&reg, &p, NULL, &ce);
    pthread_mutex_unlock(&mgmt_mu);
    if (rc == CF_OK)
        *created = 1;
    else if (rc == CF_EEXISTS && meta_registry_get(&reg, name, NULL) == CF_OK)
        return objects_registry_prepare(reg.id, e); /* another node, starting too */
    else
        cf_err_set(e, rc, "%s", ce.msg);
    return rc;
}

/* ---- the registry JSON ---- */

typedef struct uai_ctx {
    json_t *obj;
    cf_err e;
} uai_ctx;

static int uai_add(void *cls, const char *name)
{
    uai_ctx *u = cls;
    meta_identity id;
    char ref[ARM_ID_MAX];
    mgmt_resource_id(ref, ARM_KIND_IDENTITY, name, NULL);
    if (meta_identity_get(&id, name, &u->e) != CF_OK)
        return 1;
    json_object_set_new(
        u->obj, ref,
        json_pack("{s:s,s:s}", "principalId", id.principal_id, "clientId", id.client_id));
    return 0;
}

static json_t *time_or_null(int64_t t)
{
    if (t <= 0)
        return json_null();
    char b[32];
    ctl_rfc3339(b, sizeof(b), t);
    return json_string(b);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

void registries_login_server(char *out, size_t n, const meta_registry *reg)
{
    if (mgmt_g.login_domain[0])
        snprintf(out, n, "%s.%s", reg->name, mgmt_g.login_domain);
    else
        snprintf(out, n, "%s/%s", mgmt_g.data_addr, reg->name);
}

static json_t *registry_json(const meta_registry *reg, cf_err *e)
{
    json_t *identity =
        json_pack("{s:s}", "type", reg->identity_type[0] ? reg->identity_type : "None");
    if (identity == NULL) {
        cf_err_set(e, CF_ENOMEM, "out of memory");
        return NULL;
    }
    if (reg->system_client_id[0]) {
        json_object_set_new(identity, "principalId", json_string(reg->system_principal_id));
        json_object_set_new(identity, "tenantId", json_string(mgmt_g.tenant));
        json_object_set_new(identity, "clientId", json_string(reg->system_client_id));
    }
    uai_ctx u = {.obj = json_object()};
    if (meta_registry_identities(reg->id, uai_add, &u, &u.e) != CF_OK || u.e.code != CF_OK) {
        cf_err_set(e, u.e.code ? u.e.code : CF_EIO, "registry identities: %s", u.e.msg);
        json_decref(u.obj);
        json_decref(identity);
        return NULL;
    }
    if (json_object_size(u.obj) > 0)
        json_object_set_new(identity, "userAssignedIdentities", u.obj);
    else
        json_decref(u.obj);

    json_t *kvp = json_null();
    if (reg->cmk)
        kvp =
            json_pack("{s:s,s:s,s:s,s:b,s:o,s:s,s:o,s:o}", "keyIdentifier", reg->key_identifier,
                      "versionedKeyIdentifier", reg->versioned_key_identifier, "identity",
                      reg->key_identity, "keyRotationEnabled", reg->key_rotation_enabled,
                      "lastKeyRotationTimestamp", time_or_null(reg->last_key_rotation), "keyStatus",
                      reg->key_status[0] ? reg->key_status : "unavailable", "lastKeyCheckTimestamp",
                      time_or_null(reg->last_key_check), "lastError", str_or_null(reg->last_error));
    char login[400], rid[ARM_ID_MAX], created[32];
    registries_login_server(login, sizeof(login), reg);
    arm_place place;
    int placed = mgmt_resource_id(rid, ARM_KIND_REGISTRY, reg->name, &place);
    ctl_rfc3339(created, sizeof(created), reg->created_at);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:o,s:{s:s,s:s,s:s,s:{s:s,s:o}}}", "id", rid, "name",
                  reg->name, "type", "Microsoft.ContainerRegistry/registries", "sku", "name",
                  reg->sku, "tier", reg->sku, "identity", identity, "properties", "loginServer",
                  login, "creationDate", created, "provisioningState", "Succeeded", "encryption",
                  "status", reg->cmk ? "enabled" : "disabled", "keyVaultProperties", kvp);
    if (j == NULL) {
        cf_err_set(e, CF_ENOMEM, "out of memory");
        return NULL;
    }
    json_t *props = json_object_get(j, "properties");
    json_object_set_new(props, "adminUserEnabled", json_boolean(reg->admin_enabled));
    json_object_set_new(props, "anonymousPullEnabled", json_boolean(reg->anonymous_pull));
    json_object_set_new(props, "storageLimit",
                        reg->storage_limit > 0 ? json_integer(reg->storage_limit) : json_null());
    /* ACR's policies: the retention policy is coffer's (registry_gc.c) */
    json_object_set_new(props, "policies", registries_policies_json(reg->id));
    json_object_set_new(props, "publicNetworkAccess", json_string("Enabled"));
    json_object_set_new(props, "zoneRedundancy", json_string("Disabled"));
    if (placed) {
        json_object_set_new(j, "location", json_string(place.location));
        json_object_set_new(j, "resourceGroup", json_string(place.group));
    }
    json_object_set_new(j, "tags", json_object());
    return j;
}

static void reply_registry(http_req *r, unsigned status, const char *name)
{
    meta_registry reg;
    cf_err e = {0};
    json_t *j = NULL;
    if (meta_registry_get(&reg, name, &e) == CF_OK)
        j = registry_json(&reg, &e);
    OPENSSL_cleanse(&reg, sizeof(reg));
    if (j == NULL) {
        mgmt_fail_err(r, &e, "registry");
        return;
    }
    mgmt_reply(r, status, j);
}

/* ---- the request body ---- */

/* What a PUT or PATCH body asks for; strings point into the JSON. */
typedef struct reg_body {
    const char *sku; /* canonical; NULL when absent */
    int has_identity;
    int id_flags;
    const char *uai[MAX_UAI]; /* names */
    meta_identity uai_id[MAX_UAI];
    size_t n_uai;
    int has_encryption;
    int enc_status; /* -1 absent, 0 disabled, 1 enabled */
    int has_kvp;
    const char *key_identifier; /* NULL when absent */
    const char *key_identity;   /* NULL when absent */
    char key_identity_norm[40]; /* lower case client id, or "system" */
    int admin;                  /* properties.adminUserEnabled: -1 absent, 0, 1 */
    int anon;                   /* properties.anonymousPullEnabled: -1 absent, 0, 1 */
    reg_policies policies;      /* properties.policies.retentionPolicy */
    int64_t limit;              /* properties.storageLimit: -1 absent, 0 none, bytes */
} reg_body;

static int bad(http_req *r, const char *code, const char *msg)
{
    mgmt_fail(r, 400, code, "%s", msg);
    return -1;
}

/* Optional string member; -1 (answered) when present and not a string. */
static int opt_string(http_req *r, const json_t *obj, const char *key, const char *where,
                      const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        mgmt_fail(r, 400, "InvalidRequest", "%s.%s must be a string.", where, key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* Optional boolean member into *out (-1 when absent); -1 (answered) when
 * present and not a boolean. */
static int opt_bool(http_req *r, const json_t *obj, const char *key, const char *where, int *out)
{
    json_t *v = json_object_get(obj, key);
    *out = -1;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        mgmt_fail(r, 400, "InvalidRequest", "%s.%s must be true or false.", where, key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* Optional object member; -1 (answered) when present and not an object. */
static int opt_object(http_req *r, const json_t *obj, const char *key, const char *where,
                      json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        mgmt_fail(r, 400, "InvalidRequest", "%s%s%s must be an object.", where, *where ? "." : "",
                  key);
        return -1;
    }
    *out = v;
    return 0;
}

/* properties.storageLimit: bytes of sealed objects (docs/control-plane.md
 * "Usage and the storage limit"), 0 for none; *out -1 when absent (or
 * null). -1 (answered) for anything but an integer 0..2^62. */
static int opt_limit(http_req *r, const json_t *props, int64_t *out)
{
    json_t *v = json_object_get(props, "storageLimit");
    *out = -1;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > ((json_int_t)1 << 62)) {
        mgmt_fail(r, 400, "InvalidRequest",
                  "properties.storageLimit must be a number of bytes (an integer from 0, no "
                  "limit, to 2^62).");
        return -1;
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int parse_body(http_req *r, const json_t *body, reg_body *b)
{
    memset(b, 0, sizeof(*b));
    b->enc_status = -1;
    b->admin = b->anon = -1;
    b->limit = -1;
    json_t *sku, *identity, *props, *enc = NULL, *kvp = NULL;
    if (opt_object(r, body, "sku", "", &sku) || opt_object(r, body, "identity", "", &identity) ||
        opt_object(r, body, "properties", "", &props))
        return -1;
    if (sku) {
        const char *name;
        if (opt_string(r, sku, "name", "sku", &name))
            return -1;
        if (name == NULL || (b->sku = ctl_sku_canonical(name)) == NULL) {
            mgmt_fail(r, 400, "InvalidSku",
                      "The SKU '%.64s' is not valid: use Basic, Standard or Premium.",
                      name ? name : "");
            return -1;
        }
    }
    if (identity) {
        const char *type;
        json_t *uai;
        if (opt_string(r, identity, "type", "identity", &type) ||
            opt_object(r, identity, "userAssignedIdentities", "identity", &uai))
            return -1;
        b->has_identity = 1;
        if (type == NULL) {
            b->id_flags = uai && json_object_size(uai) ? CTL_ID_USER : 0;
        } else if (ctl_identity_type_canonical(type, &b->id_flags) == NULL) {
            mgmt_fail(r, 400, "InvalidRequest",
                      "identity.type '%.64s' is not one of None, SystemAssigned, UserAssigned, "
                      "'SystemAssigned, UserAssigned'.",
                      type);
            return -1;
        }
        int want_user = (b->id_flags & CTL_ID_USER) != 0;
        size_t n = uai ? json_object_size(uai) : 0;
        if (want_user && n == 0)
            return bad(r, "InvalidRequest",
                       "identity.type UserAssigned needs identity.userAssignedIdentities.");
        if (!want_user && n > 0)
            return bad(r, "InvalidRequest",
                       "identity.userAssignedIdentities is given but identity.type does not "
                       "include UserAssigned.");
        if (n > MAX_UAI) {
            mgmt_fail(r, 400, "InvalidRequest", "At most %d user-assigned identities.", MAX_UAI);
            return -1;
        }
        const char *ref;
        json_t *v;
        json_object_foreach(uai, ref, v)
        {
            arm_path ap;
            if (!(json_is_object(v) || json_is_null(v)) ||
                (ctl_identity_ref_name(ref) == NULL &&
                 (arm_path_parse(&ap, ref, strlen(ref)) != 0 || ap.kind != ARM_RESOURCE ||
                  !arm_path_is(&ap, ARM_NS_IDENTITY, ARM_TYPE_IDENTITY) || ap.rest[0]))) {
                mgmt_fail(r, 400, "InvalidRequest",
                          "identity.userAssignedIdentities keys must be identity resource ids "
                          "(/subscriptions/SUB/resourceGroups/GROUP/providers/"
                          "Microsoft.ManagedIdentity/userAssignedIdentities/NAME, or "
                          "/identities/NAME) with an object value; got '%.300s'.",
                          ref);
                return -1;
            }
            /* using an identity takes a role on it (Managed Identity
             * Operator's assign action), checked on the id as given before
             * anything is looked up, as ARM does */
            if (ctl_identity_ref_name(ref) == NULL &&
                mgmt_authorize(r, ref, AUTHZ_ASSIGN_IDENTITY) != 0)
                return -1;
            cf_err e = {0};
            char iid[ARM_ID_MAX];
            cf_code irc = identity_ref_resolve(ref, &b->uai_id[b->n_uai], &e);
            if (irc == CF_OK) {
                mgmt_resource_id(iid, ARM_KIND_IDENTITY, b->uai_id[b->n_uai].name, NULL);
                if (!mgmt_can_see(iid)) /* another tenant's: as a missing one */
                    irc = cf_err_set(&e, CF_ENOTFOUND, "not found");
                else if (mgmt_authorize(r, iid, AUTHZ_ASSIGN_IDENTITY) != 0)
                    return -1;
            }
            if (irc != CF_OK) {
                if (e.code == CF_ENOTFOUND)
                    mgmt_fail(r, 400, "IdentityNotFound",
                              "The user-assigned identity '%.300s' does not exist.", ref);
                else
                    mgmt_fail_err(r, &e, "identity lookup");
                return -1;
            }
            int dup = 0;
            for (size_t i = 0; i < b->n_uai; i++)
                dup |= strcmp(b->uai[i], b->uai_id[b->n_uai].name) == 0;
            if (dup)
                continue; /* the same identity under both of its names */
            b->uai[b->n_uai] = b->uai_id[b->n_uai].name;
            b->n_uai++;
        }
    }
    if (props && (opt_object(r, props, "encryption", "properties", &enc) ||
                  opt_bool(r, props, "adminUserEnabled", "properties", &b->admin) ||
                  opt_bool(r, props, "anonymousPullEnabled", "properties", &b->anon) ||
                  opt_limit(r, props, &b->limit)))
        return -1;
    if (registries_policies_parse(r, props, &b->policies) != 0)
        return -1;
    if (enc) {
        const char *status;
        b->has_encryption = 1;
        if (opt_string(r, enc, "status", "properties.encryption", &status) ||
            opt_object(r, enc, "keyVaultProperties", "properties.encryption", &kvp))
            return -1;
        if (status) {
            if (strcasecmp(status, "enabled") == 0)
                b->enc_status = 1;
            else if (strcasecmp(status, "disabled") == 0)
                b->enc_status = 0;
            else
                return bad(r, "InvalidRequest",
                           "properties.encryption.status must be 'enabled' or 'disabled'.");
        }
    }
    if (kvp) {
        b->has_kvp = 1;
        const char *where = "properties.encryption.keyVaultProperties";
        if (opt_string(r, kvp, "keyIdentifier", where, &b->key_identifier) ||
            opt_string(r, kvp, "identity", where, &b->key_identity))
            return -1;
        if (b->key_identity) {
            if (strcasecmp(b->key_identity, SYSTEM_IDENTITY) == 0 ||
                strcmp(b->key_identity, "[system]") == 0) {
                snprintf(b->key_identity_norm, sizeof(b->key_identity_norm), SYSTEM_IDENTITY);
            } else if (ctl_uuid_valid(b->key_identity)) {
                for (size_t i = 0; i <= CTL_UUID_LEN; i++) {
                    char c = b->key_identity[i];
                    b->key_identity_norm[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
                }
            } else {
                mgmt_fail(r, 400, "IdentityRequired",
                          "keyVaultProperties.identity '%.64s' must be the client id of a "
                          "user-assigned identity of the registry, or 'system'.",
                          b->key_identity);
                return -1;
            }
        }
    }
    return 0;
}

/* Is the key identity (client id or "system") among these identities? */
static int identity_assigned(const char *key_identity, int flags, const meta_identity *ids,
                             size_t n)
{
    if (strcmp(key_identity, SYSTEM_IDENTITY) == 0)
        return (flags & CTL_ID_SYSTEM) != 0;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(ids[i].client_id, key_identity) == 0)
            return 1;
    return 0;
}

/* keyVaultProperties.identity is a client id; a UUID that is an
 * identity's principal (object) id instead (what a vault's access policy
 * names, and what an old version of the reference's tutorial passed) is
 * refused saying what was expected. reg: the registry (its system
 * identity), or NULL at creation. Returns 1 after responding. */
static int principal_id_given(http_req *r, const char *ident, const meta_registry *reg)
{
    meta_identity mi;
    if (strcmp(ident, SYSTEM_IDENTITY) == 0)
        return 0;
    if (meta_identity_by_principal(&mi, ident, NULL) == CF_OK) {
        char rid[ARM_ID_MAX];
        mgmt_resource_id(rid, ARM_KIND_IDENTITY, mi.name, NULL);
        mgmt_fail(r, 400, "IdentityRequired",
                  "'%s' is the principal (object) id of identity '%s': keyVaultProperties.identity "
                  "expected a client id or resource id (its client id is %s, its resource id %s).",
                  ident, mi.name, mi.client_id, rid);
        return 1;
    }
    if (reg && reg->system_principal_id[0] && strcasecmp(reg->system_principal_id, ident) == 0) {
        mgmt_fail(r, 400, "IdentityRequired",
                  "'%s' is the principal (object) id of the system-assigned identity of registry "
                  "'%s': keyVaultProperties.identity expected a client id or resource id ('system' "
                  "names the system-assigned identity; coffer: --identity [system]).",
                  ident, reg->name);
        return 1;
    }
    return 0;
}

static int check_key_identifier(http_req *r, const char *kid)
{
    if (kid == NULL || !ctl_key_identifier_valid(kid, NULL)) {
        mgmt_fail(r, 400, "InvalidKeyIdentifier",
                  "The key identifier '%.300s' is not valid: it must be "
                  "https://host[:port]/keys/<name>[/<32-hex version>].",
                  kid ? kid : "");
        return -1;
    }
    return 0;
}

static void fail_cmk(http_req *r, const cmk_fail *f, const cf_err *e, const char *what)
{
    /* the refusal's full text (ACR's KeyVaultAccessDenied text outgrows a
     * cf_err's message) */
    if (f->status > 0 && f->code[0])
        mgmt_fail(r, (unsigned)f->status, f->code, "%s", f->message[0] ? f->message : e->msg);
    else
        mgmt_fail_err(r, e, what);
}

static void anonymous_pull_refused(http_req *r)
{
    bad(r, "AnonymousPullNotSupported",
        "Anonymous pull is only available for Standard and Premium registries.");
}

/* ---- handlers ---- */

static void registry_put(http_req *r, const mgmt_scope *s, const char *name)
{
    if (!ctl_registry_name_valid(name)) {
        mgmt_fail(r, 400, "InvalidName",
                  "The registry name '%.64s' is invalid: " CTL_REGISTRY_NAME_RULE ".", name);
        return;
    }
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    reg_body b;
    arm_group g;
    pthread_mutex_lock(&mgmt_mu);
    if (mgmt_scope_group(r, s, &g) != 0 || parse_body(r, body, &b) != 0)
        goto out;
    const char *location = json_string_value(json_object_get(body, "location"));
    int cmk = b.enc_status == 1 || (b.has_kvp && b.enc_status != 0);
    if (b.has_kvp && b.enc_status == 0) {
        bad(r, "InvalidRequest",
            "properties.encryption.status is 'disabled' but keyVaultProperties are given.");
        goto out;
    }
    if (cmk) {
        if (b.sku && strcmp(b.sku, "Premium") != 0) {
            bad(r, "CmkRequiresPremium",
                "Customer-managed key encryption is only available for Premium registries.");
            goto out;
        }
        if (!b.has_kvp || b.key_identity == NULL) {
            bad(r, "IdentityRequired",
                "Customer-managed key encryption needs "
                "properties.encryption.keyVaultProperties.identity: the client id of a "
                "user-assigned identity of the registry (or 'system').");
            goto out;
        }
        if (!identity_assigned(b.key_identity_norm, b.id_flags, b.uai_id, b.n_uai)) {
            if (principal_id_given(r, b.key_identity_norm, NULL))
                goto out;
            if (strcmp(b.key_identity_norm, SYSTEM_IDENTITY) == 0)
                bad(r, "IdentityRequired",
                    "keyVaultProperties.identity is 'system' but identity.type does not include "
                    "SystemAssigned.");
            else
                mgmt_fail(r, 400, "IdentityRequired",
                          "The identity '%s' is not a user-assigned identity of the registry: "
                          "list it in identity.userAssignedIdentities.",
                          b.key_identity_norm);
            goto out;
        }
        if (check_key_identifier(r, b.key_identifier) != 0)
            goto out;
    }
    if (b.anon == 1 && b.sku && strcmp(b.sku, "Basic") == 0) {
        anonymous_pull_refused(r);
        goto out;
    }
    meta_registry reg;
    cf_err e = {0};
    if (meta_registry_get(&reg, name, &e) == CF_OK) {
        mgmt_fail(r, 409, "AlreadyExists", "The registry '%s' already exists.", reg.name);
        goto out;
    }
    if (e.code != CF_ENOTFOUND) {
        mgmt_fail_err(r, &e, "registry lookup");
        goto out;
    }
    cf_err_clear(&e);
    reg_new p = {.name = name,
                 .sku = b.sku,
                 .id_flags = b.has_identity ? b.id_flags : 0,
                 .uai = b.uai,
                 .n_uai = b.n_uai,
                 .key_identifier = cmk ? b.key_identifier : NULL,
                 .key_identity = cmk ? b.key_identity_norm : NULL,
                 .admin_enabled = b.admin == 1,
                 .anonymous_pull = b.anon == 1,
                 .storage_limit = b.limit > 0 ? b.limit : 0,
                 .group = &g,
                 .location = location};
    cmk_fail f = {0};
    if (registry_create(&reg, &p, &f, &e) != CF_OK) {
        if (e.code == CF_EEXISTS)
            mgmt_fail(r, 409, "AlreadyExists", "The registry '%s' already exists.", name);
        else
            fail_cmk(r, &f, &e, "create registry");
        goto out;
    }
    cf_log(CF_LOG_INFO, "registry created", "request_id", r->request_id, "registry", reg.name,
           "sku", reg.sku, "encryption", cmk ? "customer-managed" : "service-managed", NULL);
    reply_registry(r, 201, reg.name);
out:
    pthread_mutex_unlock(&mgmt_mu);
    json_decref(body);
}

typedef struct names_ctx {
    meta_identity ids[MAX_UAI];
    size_t n;
    cf_err e;
} names_ctx;

static int names_add(void *cls, const char *name)
{
    names_ctx *c = cls;
    if (c->n == MAX_UAI)
        return 1;
    if (meta_identity_get(&c->ids[c->n], name, &c->e) != CF_OK)
        return 1;
    c->n++;
    return 0;
}

static void identity_in_use(http_req *r, const meta_registry *reg)
{
    const char *client =
        strcmp(reg->key_identity, SYSTEM_IDENTITY) == 0 ? reg->system_client_id : reg->key_identity;
    mgmt_fail(r, 400, "IdentityInUse",
              "Identity '%s' is used to access the customer-managed key of registry '%s'. Rotate "
              "the key to another identity first: coffer acr encryption rotate-key -n %s "
              "--identity <another identity>",
              client, reg->name, reg->name);
}

static void registry_patch(http_req *r, const mgmt_scope *s, const char *name)
{
    json_t *body = mgmt_body(r);
    if (body == NULL)
        return;
    reg_body b;
    meta_registry reg, nreg;
    names_ctx cur = {0};
    cf_err e = {0};
    int identities_changed = 0;
    pthread_mutex_lock(&mgmt_mu);
    memset(&nreg, 0, sizeof(nreg));
    if (registries_lookup(r, s, name, &reg) != 0 || parse_body(r, body, &b) != 0)
        goto out;
    if (meta_registry_identities(reg.id, names_add, &cur, &cur.e) != CF_OK || cur.e.code != CF_OK) {
        mgmt_fail_err(r, &cur.e, "registry identities");
        goto out;
    }
    /* the identity set after this request */
    int cur_flags = 0;
    if (strstr(reg.identity_type, "SystemAssigned"))
        cur_flags |= CTL_ID_SYSTEM;
    if (strstr(reg.identity_type, "UserAssigned"))
        cur_flags |= CTL_ID_USER;
    int flags = b.has_identity ? b.id_flags : cur_flags;
    const meta_identity *ids = b.has_identity ? b.uai_id : cur.ids;
    size_t n_ids = b.has_identity ? b.n_uai : cur.n;

    /* encryption */
    const char *new_kid = NULL, *new_ident = NULL;
    if (b.has_encryption) {
        if (b.enc_status == 0 && reg.cmk) {
            bad(r, "CmkCannotBeDisabled",
                "Customer-managed key encryption cannot be disabled once it is enabled.");
            goto out;
        }
        if (!reg.cmk && (b.enc_status == 1 || b.has_kvp)) {
            bad(r, "CmkOnlyAtCreation",
                "Customer-managed key encryption can only be enabled when a registry is "
                "created.");
            goto out;
        }
        if (reg.cmk && b.has_kvp) {
            if (b.key_identifier && check_key_identifier(r, b.key_identifier) != 0)
                goto out;
            new_kid = b.key_identifier;
            if (b.key_identity) {
                if (!identity_assigned(b.key_identity_norm, flags, ids, n_ids)) {
                    if (principal_id_given(r, b.key_identity_norm, &reg))
                        goto out;
                    mgmt_fail(r, 400, "IdentityRequired",
                              "The identity '%s' is not assigned to registry '%s'%s.",
                              b.key_identity_norm, reg.name,
                              strcmp(b.key_identity_norm, SYSTEM_IDENTITY) == 0
                                  ? ": enable its system-assigned identity first"
                                  : ": assign it first (coffer acr identity assign)");
                    goto out;
                }
                new_ident = b.key_identity_norm;
            }
        }
    }
    if (b.sku && reg.cmk && strcmp(b.sku, "Premium") != 0) {
        bad(r, "CmkRequiresPremium",
            "Customer-managed key encryption is only available for Premium registries.");
        goto out;
    }
    /* anonymous pull after this request, on the SKU after this request */
    if ((b.anon == 1 || (b.anon == -1 && reg.anonymous_pull)) &&
        strcmp(b.sku ? b.sku : reg.sku, "Basic") == 0) {
        anonymous_pull_refused(r);
        goto out;
    }
    /* the key's identity must stay assigned */
    if (reg.cmk && b.has_identity) {
        const char *key_ident = new_ident ? new_ident : reg.key_identity;
        if (!identity_assigned(key_ident, flags, ids, n_ids)) {
            identity_in_use(r, &reg);
            goto out;
        }
    }

    /* apply: identities, then the key (undoing the identities if the vault
     * refuses), then the SKU */
    nreg = reg;
    if (b.has_identity) {
        snprintf(nreg.identity_type, sizeof(nreg.identity_type), "%s",
                 ctl_identity_type_name(flags));
        if (!(flags & CTL_ID_SYSTEM)) {
            nreg.system_client_id[0] = nreg.system_principal_id[0] = '\0';
        } else if (!(cur_flags & CTL_ID_SYSTEM) || reg.system_client_id[0] == '\0') {
            if (ctl_uuid_v4(nreg.system_client_id, &e) != CF_OK ||
                ctl_uuid_v4(nreg.system_principal_id, &e) != CF_OK) {
                mgmt_fail_err(r, &e, "system identity");
                goto out;
            }
        }
        if (meta_registry_set_identities(&nreg, b.uai, b.n_uai, &e) != CF_OK) {
            mgmt_fail_err(r, &e, "registry identities");
            goto out;
        }
        identities_changed = 1;
    }
    if (reg.cmk && b.has_kvp && (new_kid || new_ident)) {
        cmk_fail f = {0};
        if (cmk_rotate(reg.id, new_kid, new_ident, &f, &e) != CF_OK) {
            if (identities_changed) {
                const char *old[MAX_UAI];
                for (size_t i = 0; i < cur.n; i++)
                    old[i] = cur.ids[i].name;
                cf_err ue = {0};
                if (meta_registry_set_identities(&reg, old, cur.n, &ue) != CF_OK)
                    cf_log(CF_LOG_ERROR, "cannot restore the registry's identities", "registry",
                           reg.name, "error", ue.msg, NULL);
            }
            fail_cmk(r, &f, &e, "rotate key");
            goto out;
        }
        cf_log(CF_LOG_INFO, "registry key rotated", "request_id", r->request_id, "registry",
               reg.name, "key", new_kid ? new_kid : reg.key_identifier, "identity",
               new_ident ? new_ident : reg.key_identity, NULL);
    }
    if (b.sku && strcmp(b.sku, reg.sku) != 0) {
        if (meta_registry_set_sku(reg.id, b.sku, &e) != CF_OK) {
            mgmt_fail_err(r, &e, "registry sku");
            goto out;
        }
    }
    if (b.limit != -1 && b.limit != reg.storage_limit) {
        if (meta_registry_set_storage_limit(reg.id, b.limit, &e) != CF_OK) {
            mgmt_fail_err(r, &e, "registry storage limit");
            goto out;
        }
        char lim[24];
        snprintf(lim, sizeof(lim), "%lld", (long long)b.limit);
        cf_log(CF_LOG_INFO, "registry storage limit updated", "request_id", r->request_id,
               "registry", reg.name, "storage_limit", b.limit ? lim : "none", NULL);
    }
    if (b.admin != -1 || b.anon != -1) {
        /* the row as it is now (the key rotation may have changed it) */
        meta_registry a;
        if (meta_registry_get_id(&a, reg.id, &e) != CF_OK) {
            mgmt_fail_err(r, &e, "registry lookup");
            goto out;
        }
        int changed = 0;
        if (b.admin == 1 && !a.admin_enabled) {
            a.admin_enabled = 1;
            changed = 1;
            if (admin_passwords_ensure(&a, &e) != CF_OK) {
                OPENSSL_cleanse(&a, sizeof(a));
                mgmt_fail_err(r, &e, "admin user passwords");
                goto out;
            }
        } else if (b.admin == 0 && a.admin_enabled) {
            a.admin_enabled = 0;
            a.cred_epoch++; /* registry tokens of the admin user stop at once */
            changed = 1;
        }
        if (b.anon != -1 && b.anon != a.anonymous_pull) {
            a.anonymous_pull = b.anon;
            changed = 1;
        }
        cf_code arc = changed ? meta_registry_set_auth(&a, &e) : CF_OK;
        OPENSSL_cleanse(&a, sizeof(a));
        if (arc != CF_OK) {
            mgmt_fail_err(r, &e, "registry authentication settings");
            goto out;
        }
        if (changed)
            cf_log(CF_LOG_INFO, "registry authentication updated", "request_id", r->request_id,
                   "registry", reg.name, "admin_user",
                   b.admin == -1 ? "unchanged"
                   : b.admin     ? "enabled"
                                 : "disabled",
                   "anonymous_pull",
                   b.anon == -1 ? "unchanged"
                   : b.anon     ? "enabled"
                                : "disabled",
                   NULL);
    }
    if (b.policies.given) {
        if (registries_policies_apply(reg.id, &b.policies, &e) != CF_OK) {
            mgmt_fail_err(r, &e, "retention policy");
            goto out;
        }
        cf_log(CF_LOG_INFO, "retention policy updated", "request_id", r->request_id, "registry",
               reg.name, NULL);
    }
    cf_log(CF_LOG_INFO, "registry updated", "request_id", r->request_id, "registry", reg.name,
           NULL);
    reply_registry(r, 200, reg.name);
out:
    pthread_mutex_unlock(&mgmt_mu);
    OPENSSL_cleanse(&reg, sizeof(reg));
    OPENSSL_cleanse(&nreg, sizeof(nreg));
    json_decref(body);
}

cf_code registries_delete_one(const meta_registry *reg, cf_err *e)
{
    cf_code rc = meta_registry_delete(reg->id, e);
    if (rc == CF_OK) {
        if (reg->cmk)
            cmk_forget(reg->id);
        keyring_forget(reg->id);
        remove_registry_dir(reg->id);
        coord_notify("registry.deleted", reg->id);
        mgmt_roles_forget(ARM_KIND_REGISTRY, reg->name);
        cf_err pe = {0};
        if (arm_place_delete(ARM_KIND_REGISTRY, reg->name, &pe) != CF_OK)
            cf_log(CF_LOG_WARN, "cannot remove the registry's placement", "registry", reg->name,
                   "error", pe.msg, NULL);
    }
    return rc;
}

static void registry_delete(http_req *r, const mgmt_scope *s, const char *name)
{
    meta_registry reg;
    cf_err e = {0};
    pthread_mutex_lock(&mgmt_mu);
    if (registries_lookup(r, s, name, &reg) != 0) {
        pthread_mutex_unlock(&mgmt_mu);
        return;
    }
    cf_code rc = registries_delete_one(&reg, &e);
    pthread_mutex_unlock(&mgmt_mu);
    if (rc != CF_OK) {
        mgmt_fail_err(r, &e, "delete registry");
    } else {
        cf_log(CF_LOG_INFO, "registry deleted", "request_id", r->request_id, "registry", reg.name,
               NULL);
        mgmt_reply(r, 200, NULL);
    }
    OPENSSL_cleanse(&reg, sizeof(reg));
}

static void registry_check(http_req *r, const mgmt_scope *s, const char *name)
{
    meta_registry reg;
    cf_err e = {0};
    if (registries_lookup(r, s, name, &reg) != 0)
        return;
    if (!reg.cmk) {
        mgmt_fail(r, 400, "CmkNotEnabled", "The registry '%s' does not use a customer-managed key.",
                  reg.name);
        return;
    }
    /* the outcome of the check (available or not) is in the row; only a
     * failure to run it at all is an error here */
    cf_code rc = cmk_check_now(reg.id, &e);
    if (rc == CF_ENOMEM || rc == CF_EIO || rc == CF_EUNSUPPORTED || rc == CF_ENOTFOUND ||
        rc == CF_ENOSPACE) {
        mgmt_fail_err(r, &e, "key check");
        return;
    }
    reply_registry(r, 200, reg.name);
}

typedef struct list_ctx {
    const mgmt_scope *s;
    json_t *arr;
    cf_err e;
} list_ctx;

static int list_add(void *cls, const meta_registry *reg)
{
    list_ctx *l = cls;
    arm_place p;
    char id[ARM_ID_MAX];
    int placed = mgmt_resource_id(id, ARM_KIND_REGISTRY, reg->name, &p);
    if ((l->s->sub && !(placed && mgmt_scope_has(l->s, &p))) || !mgmt_can_see(id))
        return 0;
    json_t *j = registry_json(reg, &l->e);
    if (j == NULL)
        return 1;
    json_array_append_new(l->arr, j);
    return 0;
}

void registries_handle(http_req *r, const mgmt_scope *s, const char *name, int check)
{
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (check) {
        if (strcmp(r->method, "POST") != 0)
            mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                      r->path);
        else
            registry_check(r, s, name);
        return;
    }
    if (name == NULL) {
        if (!get) {
            mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                      r->path);
            return;
        }
        list_ctx l = {.s = s, .arr = json_array()};
        cf_err e = {0};
        if (l.arr == NULL || meta_registry_each(list_add, &l, &e) != CF_OK || l.e.code) {
            json_decref(l.arr);
            mgmt_fail_err(r, l.e.code ? &l.e : &e, "list registries");
            return;
        }
        mgmt_reply(r, 200, json_pack("{s:o}", "value", l.arr));
        return;
    }
    if (get) {
        meta_registry reg;
        if (registries_lookup(r, s, name, &reg) != 0)
            return;
        reply_registry(r, 200, reg.name);
        OPENSSL_cleanse(&reg, sizeof(reg));
        return;
    }
    if (strcmp(r->method, "PUT") == 0)
        registry_put(r, s, name);
    else if (strcmp(r->method, "PATCH") == 0)
        registry_patch(r, s, name);
    else if (strcmp(r->method, "DELETE") == 0)
        registry_delete(r, s, name);
    else
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                  r->path);
}

/* ---- shared with tokens.c ---- */

int registries_lookup(http_req *r, const mgmt_scope *s, const char *name, meta_registry *out)
{
    cf_err e = {0};
    arm_place p;
    if (!ctl_registry_name_valid(name) || meta_registry_get(out, name, &e) != CF_OK) {
        if (e.code == CF_ENOTFOUND || e.code == CF_OK)
            mgmt_not_found(r, s, TYPE_REGISTRY, name);
        else
            mgmt_fail_err(r, &e, "registry lookup");
        OPENSSL_cleanse(out, sizeof(*out));
        return -1;
    }
    if (mgmt_place_lookup(r, s, ARM_KIND_REGISTRY, TYPE_REGISTRY, out->name, &p) != 0) {
        OPENSSL_cleanse(out, sizeof(*out));
        return -1;
    }
    return 0;
}

cf_code registries_bump_epoch(const char *registry_id, cf_err *e)
{
    meta_registry reg;
    cf_code rc = meta_registry_get_id(&reg, registry_id, e);
    if (rc == CF_OK) {
        reg.cred_epoch++;
        rc = meta_registry_set_auth(&reg, e);
    }
    OPENSSL_cleanse(&reg, sizeof(reg));
    return rc;
}

/* ---- the admin user's credentials ---- */

/* {"username":NAME,"passwords":[{"name":"password","value"},{"name":"password2","value"}]} */
static json_t *credentials_json(const meta_registry *reg, cf_err *e)
{
    static const char *const names[2] = {"password", "password2"};
    json_t *arr = json_array();
    if (arr == NULL) {
        cf_err_set(e, CF_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (!reg->admin_pw_set[i])
            continue;
        char pw[44];
        if (cred_admin_reveal(pw, reg->admin_pw[i], reg->id, i + 1, e) != CF_OK) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_pack("{s:s,s:s}", "name", names[i], "value", pw));
        OPENSSL_cleanse(pw, sizeof(pw));
    }
    return json_pack("{s:s,s:o}", "username", reg->name, "passwords", arr);
}

static void credentials_reply(http_req *r, const meta_registry *reg)
{
    cf_err e = {0};
    json_t *j = credentials_json(reg, &e);
    if (j == NULL)
        mgmt_fail_err(r, &e, "admin user credentials");
    else
        mgmt_reply_secret(r, 200, j);
}

static void admin_disabled(http_req *r, const meta_registry *reg)
{
    mgmt_fail(r, 409, "AdminUserDisabled",
              "The admin user of registry '%s' is disabled: enable it first (coffer acr update "
              "-n %s --admin-enabled true).",
              reg->name, reg->name);
}

void registries_credentials(http_req *r, const mgmt_scope *s, const char *name, const char *action)
{
    if (strcmp(r->method, "POST") != 0) {
        mgmt_fail(r, 405, "MethodNotAllowed", "The method %s is not allowed on %s.", r->method,
                  r->path);
        return;
    }
    int regen = strcmp(action, "regenerateCredential") == 0;
    json_t *body = NULL;
    int which = 0;
    if (regen) {
        if ((body = mgmt_body(r)) == NULL)
            return;
        json_t *n = json_object_get(body, "name");
        const char *v = json_is_string(n) ? json_string_value(n) : "";
        which = strcmp(v, "password") == 0 ? 1 : strcmp(v, "password2") == 0 ? 2 : 0;
        json_decref(body);
        if (which == 0) {
            bad(r, "InvalidRequest", "name must be 'password' or 'password2'.");
            return;
        }
    }
    meta_registry reg;
    pthread_mutex_lock(&mgmt_mu);
    if (registries_lookup(r, s, name, &reg) != 0)
        goto out;
    if (!reg.admin_enabled) {
        admin_disabled(r, &reg);
        goto out;
    }
    cf_err e = {0};
    if (regen) {
        char pw[44];
        cf_code rc = cred_admin_new(pw, reg.admin_pw[which - 1], reg.id, which, &e);
        OPENSSL_cleanse(pw, sizeof(pw));
        reg.admin_pw_set[which - 1] = 1;
        reg.cred_epoch++; /* tokens minted with the old password stop at once */
        if (rc == CF_OK)
            rc = meta_registry_set_auth(&reg, &e);
        if (rc != CF_OK) {
            mgmt_fail_err(r, &e, "regenerate credential");
            goto out;
        }
        cf_log(CF_LOG_INFO, "admin password regenerated", "request_id", r->request_id, "registry",
               reg.name, "password", which == 1 ? "password" : "password2", NULL);
    } else if (!reg.admin_pw_set[0] || !reg.admin_pw_set[1]) {
        /* enabled before its passwords existed (cannot happen through the
         * API; make them rather than answer half) */
        if (admin_passwords_ensure(&reg, &e) != CF_OK ||
            meta_registry_set_auth(&reg, &e) != CF_OK) {
            mgmt_fail_err(r, &e, "admin user passwords");
            goto out;
        }
    }
    credentials_reply(r, &reg);
out:
    pthread_mutex_unlock(&mgmt_mu);
    OPENSSL_cleanse(&reg, sizeof(reg));
}
