/*
 * policy.c -- see policy.h.
 */
#include "vault/policy.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static const char *const PERMS[] = {
    "all",
    "encrypt",
    "decrypt",
    "wrapKey",
    "unwrapKey",
    "sign",
    "verify",
    "get",
    "list",
    "create",
    "update",
    "import",
    "delete",
    "backup",
    "restore",
    "recover",
    "purge",
    "release",
    "rotate",
    "getrotationpolicy",
    "setrotationpolicy",
};
#define N_PERMS (sizeof(PERMS) / sizeof(PERMS[0]))

#define MAX_ID_LEN 256

static int perm_index(const char *name)
{
    for (size_t i = 0; i < N_PERMS; i++)
        if (strcasecmp(name, PERMS[i]) == 0)
            return (int)i;
    return -1;
}

const char *vault_perm_canonical(const char *name)
{
    int i = name ? perm_index(name) : -1;
    return i < 0 ? NULL : PERMS[i];
}

/* Bit set of permissions <-> JSON array in canonical order. */
static json_t *perms_to_json(uint32_t bits)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < N_PERMS; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(PERMS[i]));
    return a;
}

static cf_code perms_from_json(uint32_t *out, const json_t *a, size_t idx, cf_err *e)
{
    uint32_t bits = 0;
    size_t i;
    json_t *v;
    if (a == NULL) {
        *out = 0;
        return CF_OK;
    }
    if (!json_is_array(a) || json_array_size(a) > 64)
        return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu].permissions.keys must be an array",
                          idx);
    json_array_foreach(a, i, v)
    {
        int p = json_is_string(v) ? perm_index(json_string_value(v)) : -1;
        if (p < 0)
            return cf_err_set(e, CF_EINVAL,
                              "accessPolicies[%zu].permissions.keys[%zu]: unknown key permission",
                              idx, i);
        bits |= 1u << p;
    }
    *out = bits;
    return CF_OK;
}

static int valid_id(const json_t *v)
{
    if (!json_is_string(v))
        return 0;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n > MAX_ID_LEN || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == ';' || c == '\'')
            return 0;
    }
    return 1;
}

/* One entry -> a new normalized entry. */
static cf_code entry_normalize(json_t **out, const json_t *in, size_t idx, cf_err *e)
{
    if (!json_is_object(in))
        return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu] must be an object", idx);
    const char *k;
    json_t *v;
    const json_t *tenant = NULL, *oid = NULL, *app = NULL, *perms = NULL;
    json_object_foreach((json_t *)in, k, v)
    {
        if (strcmp(k, "tenantId") == 0)
            tenant = v;
        else if (strcmp(k, "objectId") == 0)
            oid = v;
        else if (strcmp(k, "applicationId") == 0)
            app = json_is_null(v) ? NULL : v;
        else if (strcmp(k, "permissions") == 0)
            perms = v;
        else
            return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu]: unknown property '%.64s'", idx,
                              k);
    }
    if (!valid_id(oid))
        return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu].objectId is required", idx);
    if (tenant && !valid_id(tenant))
        return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu].tenantId is invalid", idx);
    if (app && !valid_id(app))
        return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu].applicationId is invalid", idx);
    uint32_t bits = 0;
    if (perms) {
        if (!json_is_object(perms))
            return cf_err_set(e, CF_EINVAL, "accessPolicies[%zu].permissions must be an object",
                              idx);
        json_object_foreach((json_t *)perms, k, v)
        {
            if (strcmp(k, "keys") == 0) {
                cf_code rc = perms_from_json(&bits, v, idx, e);
                if (rc != CF_OK)
                    return rc;
            } else if (strcmp(k, "secrets") == 0 || strcmp(k, "certificates") == 0 ||
                       strcmp(k, "storage") == 0) {
                /* accepted for ARM compatibility, not stored: this vault holds keys only */
                if (!json_is_array(v))
                    return cf_err_set(e, CF_EINVAL,
                                      "accessPolicies[%zu].permissions.%s must be an array", idx,
                                      k);
            } else {
                return cf_err_set(e, CF_EINVAL,
                                  "accessPolicies[%zu].permissions: unknown property '%.64s'", idx,
                                  k);
            }
        }
    }
    json_t *o = json_object();
    json_t *p = json_object();
    if (o == NULL || p == NULL) {
        json_decref(o);
        json_decref(p);
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    json_object_set_new(o, "tenantId", json_string(tenant ? json_string_value(tenant) : ""));
    json_object_set_new(o, "objectId", json_string(json_string_value(oid)));
    if (app)
        json_object_set_new(o, "applicationId", json_string(json_string_value(app)));
    json_object_set_new(p, "keys", perms_to_json(bits));
    json_object_set_new(o, "permissions", p);
    *out = o;
    return CF_OK;
}

static const char *str_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int same_identity(const json_t *a, const json_t *b)
{
    return strcasecmp(str_of(a, "objectId"), str_of(b, "objectId")) == 0 &&
           strcasecmp(str_of(a, "applicationId"), str_of(b, "applicationId")) == 0;
}

static uint32_t entry_bits(const json_t *entry)
{
    uint32_t bits = 0;
    (void)perms_from_json(&bits, json_object_get(json_object_get(entry, "permissions"), "keys"), 0,
                          NULL);
    return bits;
}

static void entry_set_bits(json_t *entry, uint32_t bits)
{
    json_object_set_new(json_object_get(entry, "permissions"), "keys", perms_to_json(bits));
}

cf_code vault_policy_normalize(json_t **out, const json_t *in, cf_err *e)
{
    if (!json_is_array(in))
        return cf_err_set(e, CF_EINVAL, "accessPolicies must be an array");
    if (json_array_size(in) > VAULT_POLICY_MAX_ENTRIES)
        return cf_err_set(e, CF_EINVAL, "too many access policies (at most %d)",
                          VAULT_POLICY_MAX_ENTRIES);
    json_t *a = json_array();
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)in, i, v)
    {
        json_t *n = NULL;
        cf_code rc = entry_normalize(&n, v, i, e);
        if (rc != CF_OK) {
            json_decref(a);
            return rc;
        }
        /* two entries for one identity in one request: merge them */
        size_t j;
        json_t *w;
        int merged = 0;
        json_array_foreach(a, j, w)
        {
            if (same_identity(w, n)) {
                entry_set_bits(w, entry_bits(w) | entry_bits(n));
                merged = 1;
                break;
            }
        }
        if (merged)
            json_decref(n);
        else
            json_array_append_new(a, n);
    }
    *out = a;
    return CF_OK;
}

cf_code vault_policy_apply(json_t **out, const json_t *current, const json_t *change,
                           vault_policy_op op, cf_err *e)
{
    if (op == VAULT_POLICY_REPLACE) {
        *out = json_deep_copy(change);
        return *out ? CF_OK : cf_err_set(e, CF_ENOMEM, "out of memory");
    }
    json_t *a = json_deep_copy(current ? current : json_array());
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    size_t i;
    json_t *c;
    json_array_foreach((json_t *)change, i, c)
    {
        size_t j;
        json_t *w;
        int found = 0;
        json_array_foreach(a, j, w)
        {
            if (!same_identity(w, c))
                continue;
            found = 1;
            uint32_t bits = entry_bits(c);
            if (op == VAULT_POLICY_ADD) {
                entry_set_bits(w, entry_bits(w) | bits);
                if (json_string_length(json_object_get(c, "tenantId")) > 0)
                    json_object_set(w, "tenantId", json_object_get(c, "tenantId"));
            } else {
                uint32_t left = bits ? entry_bits(w) & ~bits : 0;
                if (left == 0)
                    json_array_remove(a, j);
                else
                    entry_set_bits(w, left);
            }
            break;
        }
        if (!found && op == VAULT_POLICY_REMOVE) {
            /* az keyvault delete-policy's refusal: a revocation that
             * matched nothing must not look like one that worked */
            const char *app = str_of(c, "applicationId");
            json_decref(a);
            return cf_err_set(e, CF_ENOTFOUND,
                              "No matching policies found: no access policy for object id "
                              "'%.256s'%s%.256s%s",
                              str_of(c, "objectId"), *app ? " with application id '" : "", app,
                              *app ? "'" : "");
        }
        if (!found && op == VAULT_POLICY_ADD) {
            if (json_array_size(a) >= VAULT_POLICY_MAX_ENTRIES) {
                json_decref(a);
                return cf_err_set(e, CF_EINVAL, "too many access policies (at most %d)",
                                  VAULT_POLICY_MAX_ENTRIES);
            }
            json_array_append_new(a, json_deep_copy(c));
        }
    }
    *out = a;
    return CF_OK;
}

int vault_tenant_allows(const char *vault_tid, const char *token_tid)
{
    int vault_has = vault_tid && *vault_tid && strcasecmp(vault_tid, VAULT_TENANT_NONE) != 0;
    int token_has = token_tid && *token_tid;
    if (!vault_has || !token_has)
        return 1;
    return strcasecmp(vault_tid, token_tid) == 0;
}

int vault_policy_allows(const json_t *policies, const char *oid, const char *appid,
                        const char *perm)
{
    int p = perm ? perm_index(perm) : -1;
    if (p < 0 || oid == NULL || *oid == '\0')
        return 0;
    size_t i;
    json_t *w;
    json_array_foreach((json_t *)policies, i, w)
    {
        if (strcasecmp(str_of(w, "objectId"), oid) != 0)
            continue;
        const char *app = str_of(w, "applicationId");
        if (*app && (appid == NULL || strcasecmp(app, appid) != 0))
            continue;
        uint32_t bits = entry_bits(w);
        if (bits & (1u << 0 /* all */) || bits & (1u << p))
            return 1;
    }
    return 0;
}
