/*
 * troubleshoot.c -- see troubleshoot.h.
 */
#include "cmk/troubleshoot.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmk/vaultc.h"

static int has(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

static void add(cmk_step *out, size_t max, size_t *n, const char *cause, const char *fix)
{
    if (*n >= max)
        return;
    snprintf(out[*n].cause, sizeof(out[*n].cause), "%s", cause);
    snprintf(out[*n].fix, sizeof(out[*n].fix), "%s", fix);
    (*n)++;
}

/* The vault's name: from the vault's own message ("key vault 'NAME'"),
 * else the first label of a key identifier's host name, else "default"
 * (an address names the vault served by default). */
static void vault_name(char *out, size_t n, const cmk_state *s)
{
    const char *p = s->last_error ? strstr(s->last_error, "key vault '") : NULL;
    if (p) {
        p += 11;
        size_t l = strcspn(p, "'");
        snprintf(out, n, "%.*s", (int)(l < 64 ? l : 64), p);
        return;
    }
    vaultc_keyid id;
    snprintf(out, n, "default");
    if (s->key_identifier && vaultc_keyid_parse(&id, s->key_identifier, NULL) == 0) {
        const char *host = id.authority;
        size_t hl = strcspn(host, ":");
        int ip = host[0] == '[' || strspn(host, "0123456789.") == hl;
        const char *dot = memchr(host, '.', hl);
        if (!ip && dot && strncasecmp(host, "localhost", 9) != 0)
            snprintf(out, n, "%.*s", (int)(dot - host), host);
    }
}

size_t cmk_troubleshoot(cmk_step *out, size_t max, const cmk_state *s)
{
    size_t n = 0;
    const char *err = s->last_error && *s->last_error ? s->last_error : NULL;
    int locked = s->key_status && strcmp(s->key_status, "available") != 0;
    if (!locked && err == NULL)
        return 0;
    char vault[80], key[128] = "KEY", fix[640];
    vault_name(vault, sizeof(vault), s);
    vaultc_keyid id;
    if (s->key_identifier && vaultc_keyid_parse(&id, s->key_identifier, NULL) == 0)
        snprintf(key, sizeof(key), "%s", id.name);
    const char *reg = s->registry ? s->registry : "REGISTRY";
    const char *principal = s->principal && *s->principal ? s->principal : "<principal id>";

    if (has(err, "no longer exists")) {
        snprintf(fix, sizeof(fix),
                 "Give the registry another identity that the vault grants get, wrapKey and "
                 "unwrapKey, then move the key to it: coffer acr identity assign -n %s "
                 "--identities <identity>; coffer acr encryption rotate-key -n %s --identity "
                 "<its client id>",
                 reg, reg);
        add(out, max, &n, "The identity the registry uses to reach its key no longer exists.", fix);
    } else if (has(err, "no longer assigned")) {
        snprintf(fix, sizeof(fix),
                 "Assign it again: coffer acr identity assign -n %s --identities <identity> "
                 "(or rotate the key to another assigned identity first).",
                 reg);
        add(out, max, &n, "The identity the key uses is no longer assigned to the registry.", fix);
    }
    if (has(err, "disabled key") || has(err, "KeyDisabled")) {
        snprintf(fix, sizeof(fix),
                 "Enable the key again: coffer keyvault key set-attributes --vault-name %s -n %s "
                 "--enabled true",
                 vault, key);
        add(out, max, &n, "The key is disabled in the vault.", fix);
    }
    if (has(err, "KeyNotFound") || has(err, "404 ")) {
        snprintf(fix, sizeof(fix),
                 "Recover it while it is soft-deleted: coffer keyvault key recover --vault-name %s "
                 "-n %s (a purged key cannot come back: the registry's content is then lost).",
                 vault, key);
        add(out, max, &n, "The key (or the version in use) is deleted.", fix);
    }
    if (has(err, "does not have keys") || has(err, "ForbiddenByPolicy")) {
        snprintf(fix, sizeof(fix),
                 "Grant the identity access again: coffer keyvault set-policy -n %s --object-id "
                 "%s --key-permissions get wrapKey unwrapKey",
                 vault, principal);
        add(out, max, &n, "The vault's access policy no longer lets the identity use the key.",
            fix);
    }
    if (has(err, "401 ")) {
        add(out, max, &n, "The vault does not accept the registry service's identity token.",
            "Check that the vault trusts cofferd's identity issuer: its configuration's "
            "\"issuers\" must list cofferd's issuer URL and JWKS URL (docs/control-plane.md), "
            "and its tenant must match.");
    }
    if (has(err, "unreachable") || has(err, "could not be reached") || has(err, "timeout") ||
        has(err, "Timeout") || has(err, "resolve")) {
        add(out, max, &n, "The key vault could not be reached.",
            "Check that the vault is up and that cofferd reaches it: its address in the key "
            "identifier, the network between them, and cofferd's --vault-ca (the vault's CA). "
            "A registry whose key was loaded keeps serving meanwhile.");
    }
    if (has(err, "Automatic key rotation")) {
        add(out, max, &n, "The registry could not move to the key's newest version.",
            "Check that the new version is enabled, RSA, and allows wrapKey and unwrapKey; the "
            "registry keeps using its current version until it can.");
    }
    if (n == 0 && (locked || err)) {
        snprintf(fix, sizeof(fix),
                 "Check the key and the identity's access in the vault (get, wrapKey, "
                 "unwrapKey for object id %s), then check again.",
                 principal);
        add(out, max, &n, "The key could not be used.", fix);
    }
    snprintf(fix, sizeof(fix),
             "Once fixed, run a key check: \"Check now\" here, or coffer acr encryption check "
             "-n %s. The registry unlocks at once; nothing was deleted.",
             reg);
    if (locked)
        add(out, max, &n, "Then", fix);
    return n;
}
