/*
 * activity.c -- a registry's activity: its key events (cmk/events.h) and
 * the vault's audit lines about its key, in one timeline, correlated by
 * time and by request id (a key event names the x-ms-request-id of the
 * vault calls that decided it; each is the requestId of one audit line).
 * And the key vault connection the activity and the key pickers use.
 *
 * The vault's audit log is the vault's: reading it takes the vault's
 * admin token, which the user gives on the Key vault page for this
 * session only (session.h). cofferd holds no vault credential otherwise.
 */
#define CF_LOG_MOD "portal"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "cmk/events.h"
#include "cmk/vaultc.h"
#include "portal/portal_int.h"
#include "store/meta.h"

#define VAULT_ANSWER_MAX (2u * 1024 * 1024)
#define ACTIVITY_MAX 200

int portal_vault_get(pq *q, const char *url, json_t **out, char *err, size_t errn)
{
    *out = NULL;
    cf_buf b;
    cf_buf_init(&b, VAULT_ANSWER_MAX);
    vaultc_opts o = {portal_vault_ca(), portal_vault_timeout(), NULL};
    vaultc_result r;
    cf_err e = {0};
    int rc = -1;
    if (vaultc_get(&b, &r, &o, q->who.vault_token, url, &e) != CF_OK) {
        snprintf(err, errn, "%s", e.msg);
    } else if ((*out = json_loadb((const char *)b.data, b.len, 0, NULL)) == NULL) {
        snprintf(err, errn, "the vault's answer is not JSON");
    } else {
        rc = 0;
    }
    cf_buf_free(&b);
    return rc;
}

/* ---- the key vault connection ---- */

void page_vault(pq *q, int post)
{
    if (post) {
        const char *url = form_get(&q->form, "url");
        const char *tok = form_get(&q->form, "token");
        if (form_get(&q->form, "disconnect")) {
            session_set_vault(q->sid, NULL, NULL);
            portal_flash(q, "Disconnected from the key vault; its token is wiped.");
            portal_redirect(q, "/portal/vault");
            return;
        }
        char u[256];
        snprintf(u, sizeof(u), "%s", url ? url : "");
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
            u[--n] = '\0';
        char err[400] = "";
        int ok = strncmp(u, "https://", 8) == 0 && tok && *tok && strlen(tok) < 128;
        if (!ok) {
            snprintf(err, sizeof(err), "give the vault's https:// address and its admin token");
        } else {
            snprintf(q->who.vault_url, sizeof(q->who.vault_url), "%s", u);
            snprintf(q->who.vault_token, sizeof(q->who.vault_token), "%s", tok);
            char probe[400];
            json_t *v = NULL;
            snprintf(probe, sizeof(probe), "%s/vaults?api-version=7.4", u);
            ok = portal_vault_get(q, probe, &v, err, sizeof(err)) == 0;
            json_decref(v);
        }
        if (ok) {
            session_set_vault(q->sid, u, tok);
            portal_flash(q, "Connected to the key vault at %s (for this session only).", u);
            portal_redirect(q, "/portal/vault");
            return;
        }
        OPENSSL_cleanse(q->who.vault_token, sizeof(q->who.vault_token));
        q->who.vault_url[0] = '\0';
        html_put(&q->h,
                 "<div class=\"error\" role=\"alert\"><p><strong>Not connected:</strong> "
                 "%s</p></div>",
                 err);
    }
    html_put(&q->h, "<h1>Key vault</h1><p>Connect the portal to a key vault to pick keys from "
                    "a list when you create a registry or change its key, and to see the "
                    "vault's audit lines on a registry's activity page. The vault's admin token "
                    "stays in this session's memory in cofferd, is wiped when you sign out or "
                    "disconnect, and is never stored.</p>");
    if (q->who.vault_url[0]) {
        html_put(&q->h,
                 "<p>Connected to <code>%s</code>.</p><form method=\"post\" "
                 "action=\"/portal/vault\">",
                 q->who.vault_url);
        portal_csrf(q);
        html_put(&q->h, "<input type=\"hidden\" name=\"disconnect\" value=\"1\"><button "
                        "type=\"submit\">Disconnect</button></form>");
        char url[400], err[400];
        json_t *vaults = NULL;
        snprintf(url, sizeof(url), "%s/vaults?api-version=7.4", q->who.vault_url);
        if (portal_vault_get(q, url, &vaults, err, sizeof(err)) == 0) {
            html_put(&q->h, "<table class=\"list\"><caption>Vaults</caption><thead><tr>"
                            "<th scope=\"col\">Name</th><th scope=\"col\">URI</th>"
                            "<th scope=\"col\">Purge protection</th><th scope=\"col\">Soft-delete "
                            "retention</th></tr></thead><tbody>");
            size_t i;
            const json_t *v;
            json_array_foreach(json_object_get(vaults, "value"), i, v) html_put(
                &q->h,
                "<tr><th scope=\"row\">%s</th><td><code>%s</code></td><td>%r</td>"
                "<td>%D days</td></tr>",
                jstr(v, "name"), jstr(v, "properties.vaultUri"),
                jtrue(v, "properties.enablePurgeProtection")
                    ? "on"
                    : "<strong>off</strong> (a customer-managed key needs it on)",
                (int64_t)json_integer_value(jget(v, "properties.softDeleteRetentionInDays")));
            html_put(&q->h, "</tbody></table>");
        } else {
            html_put(&q->h, "<p class=\"error\">The vault could not be listed: %s</p>", err);
        }
        json_decref(vaults);
    } else {
        html_put(&q->h, "<form method=\"post\" action=\"/portal/vault\" class=\"card\">");
        portal_csrf(q);
        html_put(&q->h, "<label for=\"vurl\">Vault address</label><input id=\"vurl\" name=\"url\" "
                        "required placeholder=\"https://127.0.0.1:8443\" size=\"50\">"
                        "<label for=\"vtok\">The vault's admin token</label><input id=\"vtok\" "
                        "name=\"token\" type=\"password\" required autocomplete=\"off\">"
                        "<button type=\"submit\">Connect</button></form>");
    }
    portal_page(q, 200, "Key vault");
}

/* ---- activity ---- */

typedef struct item {
    const char *time;
    int vault; /* 0: a key event; 1: a vault audit line */
    const json_t *o;
} item;

static int by_time_desc(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = strcmp(y->time, x->time);
    return c ? c : x->vault - y->vault;
}

static int event_has_rid(const json_t *events, const char *rid)
{
    size_t i, j;
    const json_t *ev, *r;
    if (rid == NULL || *rid == '\0')
        return 0;
    json_array_foreach(json_object_get(events, "value"), i, ev) json_array_foreach(
        json_object_get(ev, "vaultRequestIds"), j,
        r) if (json_string_value(r) && strcmp(json_string_value(r), rid) == 0) return 1;
    return 0;
}

/* "name/0123abcd…" of a key identifier, the whole one in a title. */
static void key_cell(pq *q, const char *kid)
{
    const char *k = kid ? strstr(kid, "/keys/") : NULL;
    k = k ? k + 6 : kid ? kid : "";
    char s[160];
    const char *slash = strchr(k, '/');
    if (slash && strlen(slash + 1) > 8)
        snprintf(s, sizeof(s), "%.*s/%.8s\xe2\x80\xa6",
                 (int)(slash - k) > 120 ? 120 : (int)(slash - k), k, slash + 1);
    else
        snprintf(s, sizeof(s), "%.150s", k);
    html_put(&q->h, "<code title=\"%s\">%s</code>", kid, s);
}

/* The first 8 characters of a long id, the whole id in a title. */
static void short_id(pq *q, const char *id)
{
    char s[16];
    if (id == NULL)
        id = "";
    snprintf(s, sizeof(s), "%.8s%s", id, strlen(id) > 8 ? "\xe2\x80\xa6" : "");
    html_put(&q->h, "<code title=\"%s\">%s</code>", id, s);
}

static void row_event(pq *q, const json_t *ev, const json_t *vault_lines)
{
    const char *state = jstr(ev, "state");
    int bad = state && strcmp(state, "available") != 0;
    html_put(&q->h, "<tr><td>");
    portal_time(q, jstr(ev, "time"));
    html_put(&q->h, "</td><td>Registry</td><td>%s</td><td>%r%s%r</td><td>", jstr(ev, "event"),
             bad ? "<strong>" : "", state, bad ? "</strong>" : "");
    key_cell(q, jstr(ev, "key"));
    html_put(&q->h, "</td><td>identity ");
    short_id(q, jstr(ev, "identity"));
    html_put(&q->h, "</td><td>%s</td><td>", jstr(ev, "message"));
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(ev, "vaultRequestIds"), i, r)
    {
        const char *rid = json_string_value(r);
        int seen = 0;
        size_t j;
        const json_t *l;
        json_array_foreach(vault_lines, j, l) if (jstr(l, "requestId") &&
                                                  strcmp(jstr(l, "requestId"), rid) == 0) seen = 1;
        html_put(&q->h, "%r", i ? "<br>" : "");
        if (seen)
            html_put(&q->h, "<a href=\"#v-%u\">", rid);
        short_id(q, rid);
        if (seen)
            html_put(&q->h, "</a>");
    }
    html_put(&q->h, "</td></tr>");
}

static void row_vault(pq *q, const json_t *l, const json_t *events)
{
    const char *rid = jstr(l, "requestId");
    const char *res = jstr(l, "result");
    const char *key = jstr(l, "key"), *ver = jstr(l, "version");
    int ok = res && strcmp(res, "success") == 0;
    int matched = event_has_rid(events, rid);
    html_put(&q->h, "<tr id=\"v-%u\"%r><td>", rid ? rid : "", matched ? " class=\"matched\"" : "");
    portal_time(q, jstr(l, "time"));
    html_put(&q->h, "</td><td>Vault %s</td><td>%s</td><td>%r%s %D%r</td><td>", jstr(l, "vault"),
             jstr(l, "operation"), ok ? "" : "<strong>", res,
             (int64_t)json_integer_value(json_object_get(l, "status")), ok ? "" : "</strong>");
    if (key && *key) {
        char kid[400];
        snprintf(kid, sizeof(kid), "/keys/%.150s%s%.64s", key, ver && *ver ? "/" : "",
                 ver ? ver : "");
        key_cell(q, kid);
    }
    html_put(&q->h, "</td><td>caller ");
    short_id(q, jstr(l, "objectId"));
    html_put(&q->h, "</td><td>%r</td><td>",
             matched ? "the vault's record of a call of a registry key event" : "");
    short_id(q, rid);
    html_put(&q->h, "</td></tr>");
}

/* The vault's audit lines about the registry's key: every call by the
 * identity the key uses (objectId = its principal id), and the vault's
 * other lines about the same key or its access policies. */
static json_t *vault_lines(pq *q, const char *principal, const char *key_name, char *err,
                           size_t errn)
{
    json_t *all = json_array();
    char url[700];
    json_t *mine = NULL, *theirs = NULL;
    snprintf(url, sizeof(url), "%s/audit?objectId=%s&limit=%d", q->who.vault_url,
             principal ? principal : "none", ACTIVITY_MAX);
    if (portal_vault_get(q, url, &mine, err, errn) != 0) {
        json_decref(all);
        return NULL;
    }
    size_t i;
    json_t *l;
    const char *vault = NULL;
    json_array_foreach(json_object_get(mine, "value"), i, l)
    {
        json_array_append(all, l);
        if (vault == NULL)
            vault = jstr(l, "vault");
    }
    if (vault) {
        char ev[200];
        snprintf(ev, sizeof(ev), "%s", vault);
        snprintf(url, sizeof(url), "%s/audit?vault=%s&limit=%d", q->who.vault_url, ev,
                 ACTIVITY_MAX * 5);
        char e2[300];
        if (portal_vault_get(q, url, &theirs, e2, sizeof(e2)) == 0) {
            json_array_foreach(json_object_get(theirs, "value"), i, l)
            {
                const char *oid = jstr(l, "objectId"), *k = jstr(l, "key");
                const char *op = jstr(l, "operation");
                int about = (k && key_name && strcasecmp(k, key_name) == 0) ||
                            (op && strcmp(op, "VaultAccessPolicy") == 0);
                if (about && !(oid && principal && strcasecmp(oid, principal) == 0))
                    json_array_append(all, l);
            }
        }
    }
    json_decref(mine);
    json_decref(theirs);
    return all;
}

void page_activity(pq *q, const char *name)
{
    json_t *reg = portal_registry_get(q, name);
    if (reg == NULL)
        return;
    meta_registry *mr = calloc(1, sizeof(*mr));
    json_t *events = NULL, *vlines = NULL;
    cf_err e = {0};
    if (mr == NULL || meta_registry_get(mr, name, &e) != CF_OK ||
        cmk_events_query(mr->id, ACTIVITY_MAX, &events, &e) != CF_OK) {
        if (mr)
            OPENSSL_cleanse(mr, sizeof(*mr));
        free(mr);
        json_decref(reg);
        portal_message(q, 500, "Activity", "The key events could not be read.");
        return;
    }
    OPENSSL_cleanse(mr, sizeof(*mr));
    free(mr);
    html_put(&q->h, "<h1>Activity</h1><p>The registry's key events (key checks that changed its "
                    "state or were asked for, rotations) and the vault's audit lines about its "
                    "key, newest first. A key event names the vault's request id of each call "
                    "that decided it: the same id is the vault audit line's <em>requestId</em>"
                    ", linked below.</p>");
    const char *ident = jstr(reg, "properties.encryption.keyVaultProperties.identity");
    const char *principal = NULL;
    if (ident && strcmp(ident, "system") == 0) {
        principal = jstr(reg, "identity.principalId");
    } else if (ident) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)jget(reg, "identity.userAssignedIdentities"), k,
                            v) if (jstr(v, "clientId") && strcasecmp(jstr(v, "clientId"), ident) ==
                                                              0) principal = jstr(v, "principalId");
    }
    char kname[128] = "";
    vaultc_keyid kid;
    const char *ki = jstr(reg, "properties.encryption.keyVaultProperties.keyIdentifier");
    if (ki && vaultc_keyid_parse(&kid, ki, NULL) == CF_OK)
        snprintf(kname, sizeof(kname), "%s", kid.name);
    char verr[400] = "";
    if (q->who.vault_url[0] && ident)
        vlines = vault_lines(q, principal, kname, verr, sizeof(verr));
    if (!ident)
        html_put(&q->h, "<p>This registry has no customer-managed key: no key events.</p>");
    else if (!q->who.vault_url[0])
        html_put(&q->h, "<p class=\"note\">The vault's audit lines are not shown: <a "
                        "href=\"/portal/vault\">connect the key vault</a> (its admin token reads "
                        "its audit log).</p>");
    else if (vlines == NULL)
        html_put(&q->h, "<p class=\"error\">The vault's audit log could not be read: %s</p>", verr);
    const json_t *evs = json_object_get(events, "value");
    size_t ne = json_array_size(evs), nv = json_array_size(vlines), n = 0, i;
    item *items = calloc(ne + nv + 1, sizeof(*items));
    const json_t *o;
    json_array_foreach(evs, i, o) if (items && jstr(o, "time")) items[n++] =
        (item){jstr(o, "time"), 0, o};
    json_array_foreach(vlines, i, o) if (items && jstr(o, "time")) items[n++] =
        (item){jstr(o, "time"), 1, o};
    qsort(items, n, sizeof(*items), by_time_desc);
    html_put(&q->h,
             "<table class=\"list activity\"><caption>%D key events, %D vault audit lines"
             "</caption><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Source</th>"
             "<th scope=\"col\">Event or operation</th><th scope=\"col\">State or result</th>"
             "<th scope=\"col\">Key</th><th scope=\"col\">Identity or caller</th>"
             "<th scope=\"col\">Details</th><th scope=\"col\">Vault request id</th></tr></thead>"
             "<tbody>",
             (int64_t)ne, (int64_t)nv);
    for (size_t k = 0; k < n && k < ACTIVITY_MAX * 2; k++) {
        if (items[k].vault)
            row_vault(q, items[k].o, events);
        else
            row_event(q, items[k].o, vlines);
    }
    if (n == 0)
        html_put(&q->h, "<tr><td colspan=\"8\">Nothing yet.</td></tr>");
    html_put(&q->h, "</tbody></table>");
    free(items);
    json_decref(events);
    json_decref(vlines);
    json_decref(reg);
    portal_page(q, 200, "Activity");
}
