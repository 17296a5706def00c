/*
 * registries.c -- the registries at a glance, creating one (with the
 * reference portal's customer-managed key flow: an identity, then a key
 * picked from a vault or pasted, versioned or not), and a registry's
 * overview with its repositories, filtered and paginated server-side.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portal/portal_int.h"
#include "store/meta.h"

/* ---- shared fragments ---- */

void portal_time(pq *q, const char *t)
{
    if (t == NULL || *t == '\0') {
        html_put(&q->h, "<span class=\"muted\">never</span>");
        return;
    }
    char shown[64];
    snprintf(shown, sizeof(shown), "%s", t);
    char *tee = strchr(shown, 'T');
    if (tee)
        *tee = ' ';
    size_t n = strlen(shown);
    if (n && shown[n - 1] == 'Z')
        snprintf(shown + n - 1, sizeof(shown) - n + 1, " UTC");
    html_put(&q->h, "<time datetime=\"%s\">%s</time>", t, shown);
}

void portal_size(pq *q, int64_t b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    char s[64];
    if (u == 0)
        snprintf(s, sizeof(s), "%" PRId64 " B", b);
    else
        snprintf(s, sizeof(s), "%.1f %s", v, units[u]);
    html_put(&q->h, "<span title=\"%D bytes\">%s</span>", b, s);
}

static int is_cmk(const json_t *reg)
{
    const char *st = jstr(reg, "properties.encryption.status");
    return st && strcmp(st, "enabled") == 0;
}

static int is_locked(const json_t *reg)
{
    const char *ks = jstr(reg, "properties.encryption.keyVaultProperties.keyStatus");
    return is_cmk(reg) && ks && strcmp(ks, "available") != 0;
}

void portal_key_status(pq *q, const json_t *reg)
{
    if (!is_cmk(reg)) {
        html_put(&q->h, "<span class=\"status ok\">Available <span class=\"muted\">"
                        "(service-managed key)</span></span>");
        return;
    }
    if (is_locked(reg))
        html_put(&q->h,
                 "<strong class=\"status locked\"><span aria-hidden=\"true\">&#x26A0;</span> "
                 "Locked: key unavailable</strong>");
    else
        html_put(&q->h, "<span class=\"status ok\"><span aria-hidden=\"true\">&#x2713;</span> "
                        "Available</span>");
}

static void encryption_cell(pq *q, const json_t *reg)
{
    if (!is_cmk(reg)) {
        html_put(&q->h, "Service-managed key");
        return;
    }
    const char *kid = jstr(reg, "properties.encryption.keyVaultProperties.keyIdentifier");
    html_put(&q->h, "Customer-managed key<br><code class=\"id\">%s</code>", kid);
}

/* ---- the list ---- */

void page_registries(pq *q)
{
    json_t *ans = NULL;
    unsigned st = papi_call(q, "GET", "/registries", NULL, &ans);
    if (st != 200) {
        papi_error_box(q, "Listing the registries", ans);
        json_decref(ans);
        portal_page(q, st, "Registries");
        return;
    }
    const json_t *arr = json_object_get(ans, "value");
    size_t n = json_array_size(arr), locked = 0, i;
    const json_t *reg;
    json_array_foreach(arr, i, reg) locked += is_locked(reg);
    html_put(&q->h, "<h1>Registries</h1><p><a class=\"button\" href=\"/portal/registries/new\">"
                    "Create a registry</a></p>");
    if (locked) {
        html_put(&q->h,
                 "<div class=\"alert\" role=\"alert\"><p><strong><span aria-hidden=\"true\">"
                 "&#x26A0;</span> %D of %D registries %r locked</strong>: their customer-managed "
                 "key is not accessible, so their content can be neither read nor written. "
                 "Nothing is lost: restore the key's access and they unlock at the next key "
                 "check.</p><ul>",
                 (int64_t)locked, (int64_t)n, locked == 1 ? "is" : "are");
        json_array_foreach(arr, i, reg) if (is_locked(reg))
            html_put(&q->h, "<li><a href=\"/portal/registries/%u/encryption\">%s</a>: %s</li>",
                     jstr(reg, "name"), jstr(reg, "name"),
                     jstr(reg, "properties.encryption.keyVaultProperties.lastError"));
        html_put(&q->h, "</ul></div>");
    }
    html_put(&q->h,
             "<table class=\"list\"><caption>%D registries, %D locked</caption><thead><tr>"
             "<th scope=\"col\">Name</th><th scope=\"col\">SKU</th><th scope=\"col\">Encryption"
             "</th><th scope=\"col\">Key status</th><th scope=\"col\">Last key check</th>"
             "<th scope=\"col\">Last error</th></tr></thead><tbody>",
             (int64_t)n, (int64_t)locked);
    json_array_foreach(arr, i, reg)
    {
        const char *name = jstr(reg, "name");
        html_put(&q->h,
                 "<tr%r><th scope=\"row\"><a href=\"/portal/registries/%u\">%s</a></th>"
                 "<td>%s</td><td>",
                 is_locked(reg) ? " class=\"locked\"" : "", name, name, jstr(reg, "sku.name"));
        encryption_cell(q, reg);
        html_put(&q->h, "</td><td>");
        portal_key_status(q, reg);
        html_put(&q->h, "</td><td>");
        if (is_cmk(reg))
            portal_time(
                q, jstr(reg, "properties.encryption.keyVaultProperties.lastKeyCheckTimestamp"));
        else
            html_put(&q->h, "<span class=\"muted\">not applicable</span>");
        const char *err = jstr(reg, "properties.encryption.keyVaultProperties.lastError");
        html_put(&q->h, "</td><td>%s</td></tr>", err ? err : "");
    }
    if (n == 0)
        html_put(&q->h, "<tr><td colspan=\"6\">No registry yet.</td></tr>");
    html_put(&q->h, "</tbody></table>");
    json_decref(ans);
    portal_page(q, 200, "Registries");
}

/* ---- create ---- */

/* The keys of the session's vault connection, as <option>s (value: the
 * key's non-versioned identifier); the number listed, or -1 when the
 * vault could not be listed (said in err). */
int portal_vault_key_options(pq *q, const char *selected, char *err, size_t errn)
{
    char url[600];
    snprintf(url, sizeof(url), "%s/vaults?api-version=7.4", q->who.vault_url);
    json_t *vaults = NULL;
    if (portal_vault_get(q, url, &vaults, err, errn) != 0)
        return -1;
    int count = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(vaults, "value"), i, v)
    {
        const char *uri = jstr(v, "properties.vaultUri");
        const char *vname = jstr(v, "name");
        if (uri == NULL || vname == NULL)
            continue;
        json_t *keys = NULL;
        char kerr[300];
        snprintf(url, sizeof(url), "%s%skeys?api-version=7.4", uri,
                 uri[strlen(uri) - 1] == '/' ? "" : "/");
        html_put(&q->h, "<optgroup label=\"vault %s%r\">", vname,
                 jtrue(v, "properties.enablePurgeProtection") ? "" : " (no purge protection)");
        if (portal_vault_get(q, url, &keys, kerr, sizeof(kerr)) == 0) {
            size_t j;
            const json_t *k;
            json_array_foreach(json_object_get(keys, "value"), j, k)
            {
                const char *kid = jstr(k, "kid");
                if (kid == NULL)
                    continue;
                const char *slash = strrchr(kid, '/');
                html_put(&q->h, "<option value=\"%s\"%r>%s / %s%r</option>", kid,
                         selected && strcmp(selected, kid) == 0 ? " selected" : "", vname,
                         slash ? slash + 1 : kid,
                         jtrue(k, "attributes.enabled") ? "" : " (disabled)");
                count++;
            }
        }
        json_decref(keys);
        html_put(&q->h, "</optgroup>");
    }
    json_decref(vaults);
    return count;
}

static const char *fv(const form *f, const char *name, const char *dflt)
{
    const char *v = f ? form_get(f, name) : NULL;
    return v ? v : dflt;
}

static void new_form(pq *q, const form *f)
{
    const char *sku = fv(f, "sku", "Premium");
    const char *enc = fv(f, "encryption", "service");
    const char *src = fv(f, "keysource", q->who.vault_url[0] ? "vault" : "uri");
    const char *ident = fv(f, "identity", "");
    html_put(&q->h, "<form method=\"post\" action=\"/portal/registries/new\" class=\"wide\">");
    portal_csrf(q);
    html_put(&q->h,
             "<fieldset><legend>Basics</legend>"
             "<label for=\"name\">Registry name</label>"
             "<input id=\"name\" name=\"name\" required pattern=\"[A-Za-z0-9]{5,50}\" "
             "aria-describedby=\"name-help\" value=\"%s\">"
             "<p id=\"name-help\" class=\"help\">5 to 50 letters and digits.</p>"
             "<label for=\"sku\">SKU</label><select id=\"sku\" name=\"sku\">",
             fv(f, "name", ""));
    static const char *const skus[] = {"Basic", "Standard", "Premium"};
    for (int i = 0; i < 3; i++)
        html_put(&q->h, "<option%r>%s</option>", strcmp(sku, skus[i]) == 0 ? " selected" : "",
                 skus[i]);
    html_put(&q->h,
             "</select><p class=\"help\">A customer-managed key needs Premium.</p>"
             "<label class=\"check\"><input type=\"checkbox\" name=\"admin\" value=\"1\"%r> "
             "Enable the admin user</label></fieldset>",
             f && form_get(f, "admin") ? " checked" : "");
    html_put(&q->h,
             "<fieldset><legend>Encryption</legend>"
             "<p class=\"help\">Every registry is encrypted with a service-managed key. A "
             "customer-managed key adds a second layer held in your key vault: revoking it "
             "locks the registry. It can only be chosen now, at creation.</p>"
             "<label class=\"check\"><input type=\"radio\" name=\"encryption\" value=\"service\"%r>"
             " Service-managed key only</label>"
             "<label class=\"check\"><input type=\"radio\" name=\"encryption\" value=\"cmk\"%r>"
             " Customer-managed key</label></fieldset>",
             strcmp(enc, "cmk") ? " checked" : "", strcmp(enc, "cmk") == 0 ? " checked" : "");
    html_put(&q->h, "<fieldset><legend>Customer-managed key</legend>"
                    "<label for=\"identity\">Identity (user-assigned)</label>"
                    "<select id=\"identity\" name=\"identity\" aria-describedby=\"identity-help\">"
                    "<option value=\"\">(choose an identity)</option>");
    json_t *ids = NULL;
    papi_call(q, "GET", "/identities", NULL, &ids);
    size_t i;
    const json_t *id;
    json_array_foreach(json_object_get(ids, "value"), i, id)
    {
        const char *n = jstr(id, "name");
        html_put(&q->h, "<option value=\"%s\"%r>%s (client id %s)</option>", n,
                 strcmp(ident, n) == 0 ? " selected" : "", n, jstr(id, "clientId"));
    }
    json_decref(ids);
    html_put(&q->h,
             "</select><p id=\"identity-help\" class=\"help\">The registry reaches the vault as "
             "this identity: give its principal id <em>get</em>, <em>wrapKey</em> and "
             "<em>unwrapKey</em> on the key (<a href=\"/portal/identities\">identities</a>).</p>"
             "<fieldset><legend>Key</legend>");
    if (q->who.vault_url[0]) {
        html_put(
            &q->h,
            "<label class=\"check\"><input type=\"radio\" name=\"keysource\" value=\"vault\"%r>"
            " Select from a key vault</label>"
            "<label for=\"vaultkey\">Key</label><select id=\"vaultkey\" name=\"vaultkey\" "
            "aria-describedby=\"vaultkey-help\">",
            strcmp(src, "vault") == 0 ? " checked" : "");
        char err[400] = "";
        int n = portal_vault_key_options(q, fv(f, "vaultkey", NULL), err, sizeof(err));
        html_put(&q->h, "</select>");
        if (n < 0)
            html_put(&q->h, "<p class=\"error\">The vault could not be listed: %s</p>", err);
        html_put(&q->h,
                 "<p id=\"vaultkey-help\" class=\"help\">A key picked here is used without a "
                 "version: the registry follows the key's newest version by itself "
                 "(automatic rotation).</p>");
    } else {
        html_put(&q->h, "<p class=\"help\">To pick a key from a list, <a href=\"/portal/vault\">"
                        "connect a key vault</a> first.</p>");
    }
    html_put(&q->h,
             "<label class=\"check\"><input type=\"radio\" name=\"keysource\" value=\"uri\"%r>"
             " Enter a key URI</label>"
             "<label for=\"keyuri\">Key identifier</label>"
             "<input id=\"keyuri\" name=\"keyuri\" size=\"80\" aria-describedby=\"keyuri-help\" "
             "placeholder=\"https://vault.example:8443/keys/mykey\" value=\"%s\">"
             "<p id=\"keyuri-help\" class=\"help\">Without a version "
             "(<code>…/keys/NAME</code>): automatic rotation, the registry moves to each new "
             "version of the key. With a version (<code>…/keys/NAME/VERSION</code>): manual "
             "rotation, the registry stays on that version until you rotate it.</p>"
             "</fieldset></fieldset><p><button type=\"submit\">Create the registry</button></p>"
             "</form>",
             strcmp(src, "uri") == 0 ? " checked" : "", fv(f, "keyuri", ""));
}

void page_registry_new(pq *q, int post)
{
    if (!post) {
        html_put(&q->h, "<h1>Create a registry</h1>");
        new_form(q, NULL);
        portal_page(q, 200, "Create a registry");
        return;
    }
    const form *f = &q->form;
    const char *name = fv(f, "name", "");
    int cmk = strcmp(fv(f, "encryption", ""), "cmk") == 0;
    json_t *body = json_pack("{s:{s:s},s:{s:b}}", "sku", "name", fv(f, "sku", "Premium"),
                             "properties", "adminUserEnabled", form_get(f, "admin") != NULL);
    json_t *ans = NULL;
    unsigned st = 0;
    const char *what = "Creating the registry";
    if (cmk) {
        const char *ident = fv(f, "identity", "");
        const char *kid = strcmp(fv(f, "keysource", ""), "vault") == 0 ? fv(f, "vaultkey", "")
                                                                       : fv(f, "keyuri", "");
        json_t *idj = NULL;
        char path[300];
        if (*ident == '\0') {
            ans = json_pack("{s:{s:s,s:s}}", "error", "code", "IdentityRequired", "message",
                            "A customer-managed key needs an identity: choose one.");
            st = 400;
        } else {
            papi_identity_path(path, sizeof(path), ident);
            st = papi_call(q, "GET", path, NULL, &idj);
        }
        if (st == 200) {
            json_t *uai = json_object();
            json_object_set_new(uai, jstr(idj, "id"), json_object());
            json_object_set_new(
                body, "identity",
                json_pack("{s:s,s:o}", "type", "UserAssigned", "userAssignedIdentities", uai));
            json_object_set_new(json_object_get(body, "properties"), "encryption",
                                json_pack("{s:s,s:{s:s,s:s}}", "status", "enabled",
                                          "keyVaultProperties", "keyIdentifier", kid, "identity",
                                          jstr(idj, "clientId")));
            st = 0;
        } else if (ans == NULL) {
            ans = idj;
            idj = NULL;
            what = "Looking up the identity";
        }
        json_decref(idj);
    }
    if (st == 0) {
        char path[300];
        papi_registry_path(path, sizeof(path), name, "");
        st = papi_call(q, "PUT", path, body, &ans);
    }
    json_decref(body);
    if (st == 201) {
        json_decref(ans);
        portal_flash(q, "Registry %s created.", name);
        char to[300];
        snprintf(to, sizeof(to), "/portal/registries/%s", name);
        portal_redirect(q, to);
        return;
    }
    html_put(&q->h, "<h1>Create a registry</h1>");
    papi_error_box(q, what, ans);
    json_decref(ans);
    new_form(q, f);
    portal_page(q, st >= 400 ? st : 400, "Create a registry");
}

/* ---- a registry: overview and repositories ---- */

typedef struct repo_page {
    pq *q;
    const char *filter;
    int shown;
    int more;
    char last[512];    /* the last name shown: the next page starts after it */
    char scanned[512]; /* the last name read from the store */
} repo_page;

static int repo_row(void *cls, const char *name)
{
    repo_page *p = cls;
    snprintf(p->scanned, sizeof(p->scanned), "%s", name);
    if (!portal_contains_ci(name, p->filter))
        return 0;
    if (p->shown == PORTAL_PAGE_SIZE) {
        p->more = 1;
        return 1;
    }
    html_put(&p->q->h, "<li><a href=\"/portal/registries/%u/repository?repo=%u\">%s</a></li>",
             p->q->registry, name, name);
    snprintf(p->last, sizeof(p->last), "%s", name);
    p->shown++;
    return 0;
}

#define SCAN_BATCH 1000

/* One page of the repositories whose name contains `q` (any case), after
 * `after` (keyset pagination): the store is read in batches of
 * SCAN_BATCH names, in name order, until the page is full and one more
 * match shows there is a next page. Memory: one page. */
static void repositories(pq *q, const char *reg_id)
{
    const char *filter = portal_query(q, "q");
    const char *after = portal_query(q, "after");
    html_put(&q->h,
             "<section aria-labelledby=\"repos\"><h2 id=\"repos\">Repositories</h2>"
             "<form method=\"get\" class=\"filter\" role=\"search\">"
             "<label for=\"q\">Filter by name</label> <input id=\"q\" name=\"q\" type=\"search\" "
             "value=\"%s\"> <button type=\"submit\">Filter</button></form><ul class=\"repos\">",
             filter);
    repo_page p = {.q = q, .filter = filter};
    snprintf(p.scanned, sizeof(p.scanned), "%s", after);
    int more = 1;
    while (more && !p.more) {
        cf_err e = {0};
        char cursor[512];
        snprintf(cursor, sizeof(cursor), "%s", p.scanned);
        if (meta_catalog(reg_id, cursor[0] ? cursor : NULL, SCAN_BATCH, repo_row, &p, &more, &e) !=
            CF_OK) {
            html_put(&q->h,
                     "</ul><p class=\"error\">The repositories could not be listed: %s</p>"
                     "</section>",
                     e.msg);
            return;
        }
    }
    if (p.shown == 0)
        html_put(&q->h, "<li>%s</li>",
                 filter[0] ? "No repository matches the filter." : "No repository yet.");
    html_put(&q->h, "</ul><p class=\"pager\">");
    if (after[0])
        html_put(&q->h, "<a href=\"/portal/registries/%u?q=%u\">First page</a> ", q->registry,
                 filter);
    if (p.more)
        html_put(&q->h,
                 "<a href=\"/portal/registries/%u?q=%u&amp;after=%u\" rel=\"next\">"
                 "Next page</a>",
                 q->registry, filter, p.last);
    html_put(&q->h, "</p></section>");
}

/* The registry's JSON from the API; NULL after answering (404, ...). */
json_t *portal_registry_get(pq *q, const char *name)
{
    char path[300];
    papi_registry_path(path, sizeof(path), name, "");
    json_t *ans = NULL;
    unsigned st = papi_call(q, "GET", path, NULL, &ans);
    if (st == 200)
        return ans;
    q->registry = NULL;
    if (st == 404) {
        json_decref(ans);
        portal_message(q, 404, "No such registry", "There is no registry of that name.");
        return NULL;
    }
    papi_error_box(q, "Reading the registry", ans);
    json_decref(ans);
    portal_page(q, st, "Registry");
    return NULL;
}

void page_registry(pq *q, const char *name)
{
    json_t *reg = portal_registry_get(q, name);
    if (reg == NULL)
        return;
    meta_registry *mr = calloc(1, sizeof(*mr));
    cf_err e = {0};
    if (mr == NULL || meta_registry_get(mr, name, &e) != CF_OK) {
        free(mr);
        json_decref(reg);
        portal_message(q, 500, "Registry", "The registry could not be read from the store.");
        return;
    }
    html_put(&q->h, "<h1>Registry %s</h1>", jstr(reg, "name"));
    if (is_locked(reg))
        html_put(&q->h,
                 "<div class=\"alert\" role=\"alert\"><p><strong><span aria-hidden=\"true\">"
                 "&#x26A0;</span> This registry is locked.</strong> %s</p><p>Its repositories "
                 "and tags stay listed; content cannot be read, pushed or deleted until the key "
                 "is accessible again. <a href=\"/portal/registries/%u/encryption\">Encryption "
                 "and troubleshooting</a></p></div>",
                 jstr(reg, "properties.encryption.keyVaultProperties.lastError"), name);
    html_put(&q->h,
             "<dl class=\"props\"><dt>Login server</dt><dd><code>%s</code></dd>"
             "<dt>SKU</dt><dd>%s</dd><dt>Created</dt><dd>",
             jstr(reg, "properties.loginServer"), jstr(reg, "sku.name"));
    portal_time(q, jstr(reg, "properties.creationDate"));
    html_put(&q->h, "</dd><dt>Encryption</dt><dd>");
    encryption_cell(q, reg);
    html_put(&q->h, "</dd><dt>Key status</dt><dd>");
    portal_key_status(q, reg);
    html_put(&q->h, "</dd><dt>Admin user</dt><dd>%s</dd><dt>Anonymous pull</dt><dd>%s</dd></dl>",
             jtrue(reg, "properties.adminUserEnabled") ? "enabled" : "disabled",
             jtrue(reg, "properties.anonymousPullEnabled") ? "enabled" : "disabled");
    repositories(q, mr->id);
    free(mr);
    json_decref(reg);
    portal_page(q, 200, name);
}
