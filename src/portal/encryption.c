/*
 * encryption.c -- a registry's encryption in the portal: the key, its
 * current version, the rotation mode, the last rotation and key check,
 * "Check now" with the troubleshooting steps (cmk/troubleshoot.h), and
 * the reference portal's "Change key" (rotate-key): another version,
 * another key (picked from a vault or pasted) and/or another identity.
 * Both go through the management API, as `coffer acr encryption` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmk/troubleshoot.h"
#include "portal/portal_int.h"

#define KVP "properties.encryption.keyVaultProperties."

/* The registry's user-assigned identity with client id `client`: its
 * resource id (the key of userAssignedIdentities) and principal id. */
static const char *assigned(const json_t *reg, const char *client, const char **principal)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)jget(reg, "identity.userAssignedIdentities"), k, v)
    {
        const char *c = jstr(v, "clientId");
        if (c && client && strcasecmp(c, client) == 0) {
            if (principal)
                *principal = jstr(v, "principalId");
            return k;
        }
    }
    return NULL;
}

static void identity_text(pq *q, const json_t *reg, const char *ident)
{
    if (ident && strcmp(ident, "system") == 0) {
        html_put(&q->h, "the registry's system-assigned identity (principal id <code>%s</code>)",
                 jstr(reg, "identity.principalId"));
        return;
    }
    const char *principal = NULL;
    const char *rid = assigned(reg, ident, &principal);
    const char *slash = rid ? strrchr(rid, '/') : NULL;
    html_put(&q->h, "%s (client id <code>%s</code>, principal id <code>%s</code>)",
             slash ? slash + 1 : "unknown identity", ident, principal ? principal : "unknown");
}

static void troubleshooting(pq *q, const json_t *reg)
{
    const char *ident = jstr(reg, KVP "identity");
    const char *principal = NULL;
    if (ident && strcmp(ident, "system") == 0)
        principal = jstr(reg, "identity.principalId");
    else
        assigned(reg, ident, &principal);
    cmk_state s = {.registry = jstr(reg, "name"),
                   .key_status = jstr(reg, KVP "keyStatus"),
                   .last_error = jstr(reg, KVP "lastError"),
                   .key_identifier = jstr(reg, KVP "keyIdentifier"),
                   .identity = ident,
                   .principal = principal};
    cmk_step steps[8];
    size_t n = cmk_troubleshoot(steps, 8, &s);
    if (n == 0)
        return;
    html_put(&q->h, "<section aria-labelledby=\"ts\" class=\"troubleshoot\"><h2 id=\"ts\">"
                    "Troubleshooting</h2><ol>");
    for (size_t i = 0; i < n; i++)
        html_put(&q->h, "<li><p><strong>%s</strong></p><p>%s</p></li>", steps[i].cause,
                 steps[i].fix);
    html_put(&q->h, "</ol></section>");
}

/* "Choose a key" fields (shared by nothing else, kept together). */
static void key_fields(pq *q)
{
    html_put(&q->h, "<fieldset><legend>Key</legend>"
                    "<label class=\"check\"><input type=\"radio\" name=\"keysource\" "
                    "value=\"keep\" checked> Keep the current key</label>");
    if (q->who.vault_url[0]) {
        html_put(&q->h, "<label class=\"check\"><input type=\"radio\" name=\"keysource\" "
                        "value=\"vault\"> Select from a key vault</label><label "
                        "for=\"vaultkey\">Key</label><select id=\"vaultkey\" name=\"vaultkey\">");
        char err[400] = "";
        if (portal_vault_key_options(q, NULL, err, sizeof(err)) < 0)
            html_put(&q->h, "</select><p class=\"error\">The vault could not be listed: %s</p>",
                     err);
        else
            html_put(&q->h, "</select>");
        html_put(&q->h, "<p class=\"help\">A key picked here is used without a version: "
                        "automatic rotation.</p>");
    }
    html_put(&q->h,
             "<label class=\"check\"><input type=\"radio\" name=\"keysource\" value=\"uri\"> "
             "Enter a key URI</label><label for=\"keyuri\">Key identifier</label>"
             "<input id=\"keyuri\" name=\"keyuri\" size=\"80\" aria-describedby=\"keyuri-help\">"
             "<p id=\"keyuri-help\" class=\"help\">Without a version: automatic rotation (the "
             "registry follows the key's newest version). With a version: manual rotation (it "
             "stays on that version until the next rotate-key). The current key's name with a "
             "new version moves to that version now.</p></fieldset>");
}

static void rotate_form(pq *q, const json_t *reg)
{
    html_put(&q->h,
             "<section aria-labelledby=\"rot\"><h2 id=\"rot\">Change key (rotate-key)"
             "</h2><form method=\"post\" action=\"/portal/registries/%u/encryption/rotate\">",
             q->registry);
    portal_csrf(q);
    key_fields(q);
    html_put(&q->h, "<fieldset><legend>Identity</legend><label for=\"identity\">Identity that "
                    "reaches the key</label><select id=\"identity\" name=\"identity\">"
                    "<option value=\"\">Keep the current identity</option>");
    if (jstr(reg, "identity.principalId"))
        html_put(&q->h, "<option value=\"[system]\">The registry's system-assigned identity"
                        "</option>");
    json_t *ids = NULL;
    papi_call(q, "GET", "/identities", NULL, &ids);
    size_t i;
    const json_t *id;
    json_array_foreach(json_object_get(ids, "value"), i, id)
        html_put(&q->h, "<option value=\"%s\">%s (client id %s)</option>", jstr(id, "name"),
                 jstr(id, "name"), jstr(id, "clientId"));
    json_decref(ids);
    html_put(&q->h, "</select><p class=\"help\">The identity needs get, wrapKey and unwrapKey on "
                    "the key; one not yet assigned to the registry is assigned with the "
                    "change.</p></fieldset><p><button type=\"submit\">Rotate the key</button></p>"
                    "</form></section>");
}

static void show(pq *q, const json_t *reg, unsigned status)
{
    html_put(&q->h, "<h1>Encryption</h1>");
    if (strcmp(jstr(reg, "properties.encryption.status") ? jstr(reg, "properties.encryption.status")
                                                         : "",
               "enabled") != 0) {
        html_put(&q->h, "<p>This registry is encrypted with a service-managed key only. A "
                        "customer-managed key can only be chosen when a registry is created.</p>");
        portal_page(q, status, "Encryption");
        return;
    }
    int rot = jtrue(reg, KVP "keyRotationEnabled");
    html_put(&q->h, "<dl class=\"props\"><dt>Key status</dt><dd>");
    portal_key_status(q, reg);
    html_put(&q->h,
             "</dd><dt>Key identifier</dt><dd><code class=\"id\">%s</code></dd>"
             "<dt>Current version</dt><dd><code class=\"id\">%s</code></dd>"
             "<dt>Rotation</dt><dd>%r</dd><dt>Identity</dt><dd>",
             jstr(reg, KVP "keyIdentifier"), jstr(reg, KVP "versionedKeyIdentifier"),
             rot ? "automatic: the registry follows the key's newest version"
                 : "manual: the registry stays on this version until the next rotate-key");
    identity_text(q, reg, jstr(reg, KVP "identity"));
    html_put(&q->h, "</dd><dt>Last rotation</dt><dd>");
    portal_time(q, jstr(reg, KVP "lastKeyRotationTimestamp"));
    html_put(&q->h, "</dd><dt>Last key check</dt><dd>");
    portal_time(q, jstr(reg, KVP "lastKeyCheckTimestamp"));
    const char *err = jstr(reg, KVP "lastError");
    html_put(&q->h, "</dd><dt>Last error</dt><dd>%s</dd></dl>", err ? err : "none");
    troubleshooting(q, reg);
    if (portal_is_operator(q)) {
        html_put(&q->h, "<form method=\"post\" action=\"/portal/registries/%u/encryption/check\">",
                 q->registry);
        portal_csrf(q);
        html_put(&q->h, "<button type=\"submit\">Check now</button> <span class=\"help\">runs one "
                        "key check against the vault, as coffer acr encryption check does</span>"
                        "</form>");
        rotate_form(q, reg);
    }
    portal_page(q, status, "Encryption");
}

static void rotate(pq *q, json_t *reg)
{
    const form *f = &q->form;
    const char *src = form_get(f, "keysource");
    const char *uri = form_get(f, "keyuri");
    const char *ident = form_get(f, "identity");
    json_t *kvp = json_object();
    json_t *body =
        json_pack("{s:{s:{s:o}}}", "properties", "encryption", "keyVaultProperties", kvp);
    json_t *ans = NULL;
    unsigned st = 0;
    const char *vk = form_get(f, "vaultkey");
    if (src && strcmp(src, "uri") == 0 && uri && *uri)
        json_object_set_new(kvp, "keyIdentifier", json_string(uri));
    else if (src && strcmp(src, "vault") == 0 && vk && *vk)
        json_object_set_new(kvp, "keyIdentifier", json_string(vk));
    if (ident && strcmp(ident, "[system]") == 0) {
        json_object_set_new(kvp, "identity", json_string("system"));
    } else if (ident && *ident) {
        char path[300];
        json_t *idj = NULL;
        papi_identity_path(path, sizeof(path), ident);
        st = papi_call(q, "GET", path, NULL, &idj);
        if (st == 200) {
            const char *client = jstr(idj, "clientId");
            json_object_set_new(kvp, "identity", json_string(client));
            if (assigned(reg, client, NULL) == NULL) {
                /* assign it in the same change: the API puts the identities
                 * back if the vault refuses the key for it */
                json_t *uai = json_object();
                const char *k;
                json_t *v;
                json_object_foreach((json_t *)jget(reg, "identity.userAssignedIdentities"), k, v)
                    json_object_set_new(uai, k, json_object());
                json_object_set_new(uai, jstr(idj, "id"), json_object());
                json_object_set_new(body, "identity",
                                    json_pack("{s:s,s:o}", "type",
                                              jstr(reg, "identity.principalId")
                                                  ? "SystemAssigned, UserAssigned"
                                                  : "UserAssigned",
                                              "userAssignedIdentities", uai));
            }
            st = 0;
            json_decref(idj);
        } else {
            ans = idj;
        }
    }
    if (st == 0 && json_object_size(kvp) == 0) {
        st = 400;
        ans = json_pack("{s:{s:s,s:s}}", "error", "code", "InvalidRequest", "message",
                        "Choose a new key, another identity, or both.");
    }
    if (st == 0) {
        char path[300];
        papi_registry_path(path, sizeof(path), q->registry, "");
        st = papi_call(q, "PATCH", path, body, &ans);
    }
    json_decref(body);
    if (st == 200) {
        portal_flash(q, "Key rotated: the registry now uses %s.",
                     jstr(ans, KVP "versionedKeyIdentifier"));
        json_decref(ans);
        char to[300];
        snprintf(to, sizeof(to), "/portal/registries/%s/encryption", q->registry);
        portal_redirect(q, to);
        return;
    }
    papi_error_box(q, "Rotating the key", ans);
    json_decref(ans);
    show(q, reg, st >= 400 ? st : 400);
}

void page_encryption(pq *q, const char *name, const char *action)
{
    json_t *reg = portal_registry_get(q, name);
    if (reg == NULL)
        return;
    if (action == NULL) {
        show(q, reg, 200);
    } else if (strcmp(action, "check") == 0) {
        char path[300];
        json_t *ans = NULL;
        papi_registry_path(path, sizeof(path), name, "/encryption/check");
        unsigned st = papi_call(q, "POST", path, NULL, &ans);
        if (st == 200) {
            const char *ks = jstr(ans, KVP "keyStatus");
            const char *err = jstr(ans, KVP "lastError");
            if (ks && strcmp(ks, "available") == 0)
                portal_flash(q, "Key check done: the key is available.%s%s", err ? " Note: " : "",
                             err ? err : "");
            else
                portal_flash(q, "Key check done: the key is unavailable, the registry stays "
                                "locked. See the troubleshooting steps.");
            json_decref(ans);
            char to[300];
            snprintf(to, sizeof(to), "/portal/registries/%s/encryption", name);
            portal_redirect(q, to);
        } else {
            papi_error_box(q, "The key check", ans);
            json_decref(ans);
            show(q, reg, st);
        }
    } else if (strcmp(action, "rotate") == 0) {
        rotate(q, reg);
    } else {
        portal_message(q, 404, "Not found", "There is no such action.");
    }
    json_decref(reg);
}
