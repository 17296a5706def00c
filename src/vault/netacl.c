/*
 * netacl.c -- see netacl.h.
 */
#include "vault/netacl.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Parses "a.b.c.d" or "a.b.c.d/n" (n 0..32, decimal parts without signs
 * or spaces) from s[0..len). 0 on success. */
static int parse_cidr(const char *s, size_t len, uint32_t *addr, unsigned *prefix)
{
    size_t i = 0;
    uint32_t a = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
            nd++;
        }
        if (nd == 0 || nd > 3 || v > 255)
            return -1;
        a = (a << 8) | v;
        if (part < 3) {
            if (i >= len || s[i] != '.')
                return -1;
            i++;
        }
    }
    unsigned p = 32;
    if (i < len && s[i] == '/') {
        i++;
        unsigned v = 0, nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 3) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
            nd++;
        }
        if (nd == 0 || nd > 2 || v > 32)
            return -1;
        p = v;
    }
    if (i != len)
        return -1;
    *addr = a;
    *prefix = p;
    return 0;
}

static uint32_t mask_of(unsigned prefix)
{
    return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

json_t *vault_netacl_default(void)
{
    return json_pack("{s:s,s:s,s:[],s:[]}", "bypass", "AzureServices", "defaultAction", "Allow",
                     "ipRules", "virtualNetworkRules");
}

/* One of two spellings (case-insensitively) into its canonical form. */
static cf_code pick(const char **out, const json_t *v, const char *what, const char *a,
                    const char *b, cf_err *e)
{
    const char *s = json_string_value(v);
    if (s && strcasecmp(s, a) == 0)
        *out = a;
    else if (s && strcasecmp(s, b) == 0)
        *out = b;
    else
        return cf_err_set(e, CF_EINVAL, "networkAcls.%s must be '%s' or '%s'", what, a, b);
    return CF_OK;
}

/* ipRules from a request into a new normalized array (deduplicated). */
static cf_code ip_rules(json_t **out, const json_t *in, cf_err *e)
{
    if (!json_is_array(in))
        return cf_err_set(e, CF_EINVAL, "networkAcls.ipRules must be an array");
    if (json_array_size(in) > VAULT_NETACL_MAX_IP_RULES)
        return cf_err_set(e, CF_EINVAL, "networkAcls.ipRules: at most %d rules",
                          VAULT_NETACL_MAX_IP_RULES);
    json_t *a = json_array();
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    size_t i;
    json_t *r;
    json_array_foreach((json_t *)in, i, r)
    {
        const json_t *v = json_object_get(r, "value");
        uint32_t addr;
        unsigned prefix;
        if (!json_is_object(r) || json_object_size(r) != 1 || !json_is_string(v) ||
            parse_cidr(json_string_value(v), json_string_length(v), &addr, &prefix) != 0) {
            json_decref(a);
            return cf_err_set(e, CF_EINVAL,
                              "networkAcls.ipRules[%zu] must be {\"value\": an IPv4 address or "
                              "CIDR range such as 192.0.2.7 or 10.1.0.0/16}",
                              i);
        }
        if ((addr & ~mask_of(prefix)) != 0) {
            json_decref(a);
            return cf_err_set(e, CF_EINVAL,
                              "networkAcls.ipRules[%zu]: '%.40s' has host bits set (the range "
                              "starts at %u.%u.%u.%u/%u)",
                              i, json_string_value(v), (addr & mask_of(prefix)) >> 24,
                              ((addr & mask_of(prefix)) >> 16) & 255,
                              ((addr & mask_of(prefix)) >> 8) & 255, addr & mask_of(prefix) & 255,
                              prefix);
        }
        char canon[24];
        snprintf(canon, sizeof(canon), "%u.%u.%u.%u/%u", addr >> 24, (addr >> 16) & 255,
                 (addr >> 8) & 255, addr & 255, prefix);
        int dup = 0;
        size_t j;
        json_t *w;
        json_array_foreach(a, j, w)
        {
            if (strcmp(json_string_value(json_object_get(w, "value")), canon) == 0)
                dup = 1;
        }
        if (!dup)
            json_array_append_new(a, json_pack("{s:s}", "value", canon));
    }
    *out = a;
    return CF_OK;
}

cf_code vault_netacl_apply(json_t **out, const json_t *current, const json_t *change, cf_err *e)
{
    *out = NULL;
    json_t *cur = current ? json_deep_copy(current) : vault_netacl_default();
    if (cur == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_code rc = CF_OK;
    if (change != NULL && !json_is_null(change) && !json_is_object(change)) {
        rc = cf_err_set(e, CF_EINVAL, "networkAcls must be an object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)change, k, v)
    {
        const char *word;
        json_t *rules = NULL;
        if (json_is_null(v))
            continue; /* ARM: a null member is an absent one */
        if (strcmp(k, "bypass") == 0) {
            if ((rc = pick(&word, v, k, "AzureServices", "None", e)) != CF_OK)
                goto out;
            json_object_set_new(cur, k, json_string(word));
        } else if (strcmp(k, "defaultAction") == 0) {
            if ((rc = pick(&word, v, k, "Allow", "Deny", e)) != CF_OK)
                goto out;
            json_object_set_new(cur, k, json_string(word));
        } else if (strcmp(k, "ipRules") == 0) {
            if ((rc = ip_rules(&rules, v, e)) != CF_OK)
                goto out;
            json_object_set_new(cur, k, rules);
        } else if (strcmp(k, "virtualNetworkRules") == 0) {
            if (!json_is_array(v) || json_array_size(v) != 0) {
                rc = cf_err_set(e, CF_EINVAL,
                                "networkAcls.virtualNetworkRules: coffer has no virtual networks; "
                                "allow client addresses with ipRules");
                goto out;
            }
        } else {
            rc = cf_err_set(e, CF_EINVAL, "networkAcls: unknown property '%.64s'", k);
            goto out;
        }
    }
    /* a stored object is trusted, but keep the canonical member order */
    *out = json_pack("{s:O,s:O,s:O,s:[]}", "bypass", json_object_get(cur, "bypass"),
                     "defaultAction", json_object_get(cur, "defaultAction"), "ipRules",
                     json_object_get(cur, "ipRules"), "virtualNetworkRules");
    if (*out == NULL)
        rc = cf_err_set(e, CF_EINVAL, "networkAcls: incomplete rules");
out:
    json_decref(cur);
    return rc;
}

/* The peer's IPv4 address (an IPv4-mapped IPv6 one too); 0 when none. */
static int peer_v4(const char *peer, uint32_t *out)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (peer == NULL)
        return 0;
    if (inet_pton(AF_INET, peer, &a4) == 1) {
        *out = ntohl(a4.s_addr);
        return 1;
    }
    if (inet_pton(AF_INET6, peer, &a6) == 1 && IN6_IS_ADDR_V4MAPPED(&a6)) {
        const unsigned char *b = a6.s6_addr + 12;
        *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        return 1;
    }
    return 0;
}

int vault_netacl_allows(const json_t *acls, const char *peer, int trusted)
{
    const char *action = json_string_value(json_object_get(acls, "defaultAction"));
    if (acls == NULL || action == NULL || strcmp(action, "Deny") != 0)
        return 1;
    const char *bypass = json_string_value(json_object_get(acls, "bypass"));
    if (trusted && bypass && strcmp(bypass, "AzureServices") == 0)
        return 1;
    uint32_t addr;
    if (!peer_v4(peer, &addr))
        return 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(acls, "ipRules"), i, r)
    {
        const json_t *v = json_object_get(r, "value");
        uint32_t net;
        unsigned prefix;
        if (json_is_string(v) &&
            parse_cidr(json_string_value(v), json_string_length(v), &net, &prefix) == 0 &&
            (addr & mask_of(prefix)) == (net & mask_of(prefix)))
            return 1;
    }
    return 0;
}
