/*
 * access.c -- identities (user-assigned managed identities: list, create,
 * delete) and a registry's access keys (its admin user and its tokens).
 * Passwords are shown once, in the answer to the POST that asked for
 * them (never stored by the portal, never in a URL, the page not cached),
 * and wiped from memory once the page is built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portal/portal_int.h"

/* ---- identities ---- */

static void used_by(pq *q, const json_t *regs, const char *id_path)
{
    size_t i;
    const json_t *reg;
    int n = 0;
    json_array_foreach(json_object_get(regs, "value"), i, reg)
    {
        const json_t *uai = jget(reg, "identity.userAssignedIdentities");
        if (id_path && json_object_get(uai, id_path)) {
            html_put(&q->h, "%r<a href=\"/portal/registries/%u\">%s</a>", n ? ", " : "",
                     jstr(reg, "name"), jstr(reg, "name"));
            n++;
        }
    }
    if (n == 0)
        html_put(&q->h, "<span class=\"muted\">no registry</span>");
}

static void identities_list(pq *q, unsigned status)
{
    json_t *ids = NULL, *regs = NULL;
    papi_call(q, "GET", "/identities", NULL, &ids);
    papi_call(q, "GET", "/registries", NULL, &regs);
    html_put(&q->h, "<h1>Identities</h1><p>User-assigned managed identities: a registry reaches "
                    "its customer-managed key as one of them. Grant its <em>principal id</em> "
                    "get, wrapKey and unwrapKey in the vault; registries name its "
                    "<em>client id</em>.</p>"
                    "<table class=\"list\"><caption>Identities</caption><thead><tr>"
                    "<th scope=\"col\">Name</th><th scope=\"col\">Client id</th>"
                    "<th scope=\"col\">Principal id</th><th scope=\"col\">Assigned to</th>"
                    "<th scope=\"col\">Actions</th></tr></thead><tbody>");
    size_t i;
    const json_t *id;
    json_array_foreach(json_object_get(ids, "value"), i, id)
    {
        html_put(&q->h,
                 "<tr><th scope=\"row\">%s</th><td><code>%s</code></td><td><code>%s</code></td>"
                 "<td>",
                 jstr(id, "name"), jstr(id, "clientId"), jstr(id, "principalId"));
        used_by(q, regs, jstr(id, "id"));
        html_put(&q->h,
                 "</td><td><a href=\"/portal/identities?delete=%u\">Delete<span class=\"vh\"> "
                 "%s</span></a></td></tr>",
                 jstr(id, "name"), jstr(id, "name"));
    }
    if (json_array_size(json_object_get(ids, "value")) == 0)
        html_put(&q->h, "<tr><td colspan=\"5\">No identity yet.</td></tr>");
    html_put(&q->h, "</tbody></table><form method=\"post\" action=\"/portal/identities/create\" "
                    "class=\"card\"><h2>Create an identity</h2>");
    portal_csrf(q);
    html_put(&q->h, "<label for=\"idname\">Name</label><input id=\"idname\" name=\"name\" "
                    "required pattern=\"[A-Za-z0-9][A-Za-z0-9_-]{2,127}\">"
                    "<button type=\"submit\">Create</button></form>");
    json_decref(ids);
    json_decref(regs);
    portal_page(q, status, "Identities");
}

void page_identities(pq *q, const char *action)
{
    const char *name = form_get(&q->form, "name");
    char path[300];
    json_t *ans = NULL;
    if (action == NULL) {
        const char *del = portal_query(q, "delete");
        if (*del == '\0') {
            identities_list(q, 200);
            return;
        }
        html_put(&q->h,
                 "<h1>Delete an identity</h1><div class=\"alert\"><p>Delete identity "
                 "<strong>%s</strong>? Its ids are gone for good: a vault's access policy "
                 "for it then grants nobody. An identity a registry still uses is "
                 "refused.</p></div><form method=\"post\" action=\"/portal/identities/"
                 "delete\">",
                 del);
        portal_csrf(q);
        html_put(&q->h,
                 "<input type=\"hidden\" name=\"name\" value=\"%s\"><button type=\"submit\" "
                 "class=\"danger\">Delete</button> <a href=\"/portal/identities\">Cancel</a>"
                 "</form>",
                 del);
        portal_page(q, 200, "Delete an identity");
        return;
    }
    if (name == NULL || *name == '\0') {
        portal_message(q, 400, "Identities", "Give a name.");
        return;
    }
    papi_identity_path(path, sizeof(path), name);
    int create = strcmp(action, "create") == 0;
    if (!create && strcmp(action, "delete") != 0) {
        portal_message(q, 404, "Not found", "There is no such action.");
        return;
    }
    unsigned st = papi_call(q, create ? "PUT" : "DELETE", path, NULL, &ans);
    if (st == 200 || st == 201) {
        if (create)
            portal_flash(q, "Identity %s %s: client id %s, principal id %s.", name,
                         st == 201 ? "created" : "already exists", jstr(ans, "clientId"),
                         jstr(ans, "principalId"));
        else
            portal_flash(q, "Identity %s deleted.", name);
        json_decref(ans);
        portal_redirect(q, "/portal/identities");
        return;
    }
    papi_error_box(q, create ? "Creating the identity" : "Deleting the identity", ans);
    json_decref(ans);
    identities_list(q, st);
}

/* ---- a registry's access keys ---- */

static void passwords_box(pq *q, json_t *ans, const char *title)
{
    html_put(&q->h,
             "<section class=\"secret\" aria-labelledby=\"pw\"><h2 id=\"pw\">%s</h2>"
             "<p><strong>Shown once:</strong> copy them now. The portal does not keep them; "
             "this page is not cached.</p><dl class=\"props\"><dt>User name</dt>"
             "<dd><code>%s</code></dd>",
             title, jstr(ans, "username"));
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(ans, "passwords"), i, p)
        html_put(&q->h, "<dt>%s</dt><dd><code class=\"pw\">%s</code></dd>", jstr(p, "name"),
                 jstr(p, "value"));
    html_put(&q->h, "</dl></section>");
    papi_wipe_passwords(ans);
}

static void scope_text(pq *q, const json_t *scope)
{
    size_t i, j;
    const json_t *s, *a;
    json_array_foreach(scope, i, s)
    {
        html_put(&q->h, "%r<code>%s</code>: ", i ? "<br>" : "", jstr(s, "repository"));
        json_array_foreach(json_object_get(s, "actions"), j, a)
            html_put(&q->h, "%r%s", j ? ", " : "", json_string_value(a));
    }
}

static void access_page(pq *q, const json_t *reg, json_t *secret, const char *secret_title,
                        unsigned status)
{
    const char *name = jstr(reg, "name");
    html_put(&q->h, "<h1>Access keys</h1>");
    if (secret)
        passwords_box(q, secret, secret_title);
    int admin = jtrue(reg, "properties.adminUserEnabled");
    html_put(&q->h,
             "<section aria-labelledby=\"adm\"><h2 id=\"adm\">Admin user</h2><p>The admin user "
             "(user name <code>%s</code>) may push, pull and delete in every repository. It is "
             "<strong>%r</strong>.</p><form method=\"post\" action=\"/portal/registries/%u/access/"
             "admin\">",
             name, admin ? "enabled" : "disabled", name);
    portal_csrf(q);
    html_put(&q->h,
             "<input type=\"hidden\" name=\"enabled\" value=\"%r\"><button type=\"submit\">%r"
             "</button></form>",
             admin ? "0" : "1", admin ? "Disable the admin user" : "Enable the admin user");
    if (admin) {
        html_put(&q->h, "<form method=\"post\" action=\"/portal/registries/%u/access/show\">",
                 name);
        portal_csrf(q);
        html_put(&q->h, "<button type=\"submit\">Show the passwords</button></form>");
        for (int i = 0; i < 2; i++) {
            html_put(&q->h,
                     "<form method=\"post\" action=\"/portal/registries/%u/access/"
                     "regenerate\">",
                     name);
            portal_csrf(q);
            html_put(&q->h,
                     "<input type=\"hidden\" name=\"name\" value=\"%r\"><button type=\"submit\">"
                     "Regenerate %r</button></form>",
                     i ? "password2" : "password", i ? "password2" : "password");
        }
    }
    html_put(&q->h, "</section>");
    char path[300];
    json_t *toks = NULL;
    papi_registry_path(path, sizeof(path), name, "/tokens");
    papi_call(q, "GET", path, NULL, &toks);
    html_put(&q->h, "<section aria-labelledby=\"tok\"><h2 id=\"tok\">Tokens</h2>"
                    "<table class=\"list\"><caption>Repository-scoped tokens</caption><thead><tr>"
                    "<th scope=\"col\">Name</th><th scope=\"col\">Status</th>"
                    "<th scope=\"col\">Scope</th><th scope=\"col\">Passwords</th>"
                    "<th scope=\"col\">Actions</th></tr></thead><tbody>");
    size_t i, j;
    const json_t *t, *p;
    json_array_foreach(json_object_get(toks, "value"), i, t)
    {
        const char *tn = jstr(t, "name");
        html_put(&q->h, "<tr><th scope=\"row\">%s</th><td>%s</td><td>", tn,
                 jstr(t, "properties.status"));
        scope_text(q, jget(t, "properties.scope"));
        html_put(&q->h, "</td><td>");
        json_array_foreach(jget(t, "properties.credentials.passwords"), j, p)
        {
            html_put(&q->h, "%r%s (", j ? "<br>" : "", jstr(p, "name"));
            portal_time(q, jstr(p, "creationTime"));
            html_put(&q->h, ")");
        }
        html_put(&q->h, "</td><td>");
        for (int k = 1; k <= 2; k++) {
            html_put(&q->h,
                     "<form method=\"post\" action=\"/portal/registries/%u/access/"
                     "password\" class=\"inline\">",
                     name);
            portal_csrf(q);
            html_put(&q->h,
                     "<input type=\"hidden\" name=\"token\" value=\"%s\"><input type=\"hidden\" "
                     "name=\"name\" value=\"password%d\"><button type=\"submit\">New password%d"
                     "<span class=\"vh\"> for %s</span></button></form> ",
                     tn, k, k, tn);
        }
        html_put(&q->h,
                 "<form method=\"post\" action=\"/portal/registries/%u/access/"
                 "delete-token\" class=\"inline\">",
                 name);
        portal_csrf(q);
        html_put(&q->h,
                 "<input type=\"hidden\" name=\"token\" value=\"%s\"><label class=\"check\">"
                 "<input type=\"checkbox\" name=\"confirm\" value=\"1\" required> sure</label> "
                 "<button type=\"submit\" class=\"danger\">Delete<span class=\"vh\"> %s</span>"
                 "</button></form></td></tr>",
                 tn, tn);
    }
    if (json_array_size(json_object_get(toks, "value")) == 0)
        html_put(&q->h, "<tr><td colspan=\"5\">No token.</td></tr>");
    json_decref(toks);
    html_put(&q->h,
             "</tbody></table><form method=\"post\" action=\"/portal/registries/%u/access/"
             "create-token\" class=\"card\"><h3>Create a token</h3>",
             name);
    portal_csrf(q);
    html_put(&q->h, "<label for=\"tname\">Name</label><input id=\"tname\" name=\"token\" required "
                    "pattern=\"[A-Za-z0-9-]{5,50}\"><label for=\"trepo\">Repository (or PREFIX/*)"
                    "</label><input id=\"trepo\" name=\"repository\" required>"
                    "<fieldset><legend>Actions</legend>"
                    "<label class=\"check\"><input type=\"checkbox\" name=\"action\" "
                    "value=\"content/read\" checked> content/read (pull)</label>"
                    "<label class=\"check\"><input type=\"checkbox\" name=\"action\" "
                    "value=\"content/write\"> content/write (push)</label>"
                    "<label class=\"check\"><input type=\"checkbox\" name=\"action\" "
                    "value=\"content/delete\"> content/delete</label>"
                    "<label class=\"check\"><input type=\"checkbox\" name=\"action\" "
                    "value=\"metadata/read\"> metadata/read (tags list, catalog)</label></fieldset>"
                    "<button type=\"submit\">Create the token and its password</button></form>"
                    "</section>");
    portal_page(q, status, "Access keys");
}

static void add_action(void *cls, const char *v)
{
    json_array_append_new((json_t *)cls, json_string(v));
}

void page_access(pq *q, const char *name, const char *action)
{
    json_t *reg = portal_registry_get(q, name);
    if (reg == NULL)
        return;
    if (action == NULL) {
        access_page(q, reg, NULL, NULL, 200);
        json_decref(reg);
        return;
    }
    const form *f = &q->form;
    char path[400];
    json_t *ans = NULL, *body = NULL;
    unsigned st;
    const char *title = NULL, *what = "The change";
    const char *tok = form_get(f, "token");
    if (strcmp(action, "admin") == 0) {
        const char *en = form_get(f, "enabled");
        body = json_pack("{s:{s:b}}", "properties", "adminUserEnabled", en && strcmp(en, "1") == 0);
        papi_registry_path(path, sizeof(path), name, "");
        st = papi_call(q, "PATCH", path, body, &ans);
        what = "Changing the admin user";
        if (st == 200) {
            json_decref(reg);
            reg = ans;
            ans = NULL;
            portal_flash(q, "The admin user is now %s.",
                         jtrue(reg, "properties.adminUserEnabled") ? "enabled" : "disabled");
        }
    } else if (strcmp(action, "show") == 0 || strcmp(action, "regenerate") == 0) {
        int regen = strcmp(action, "regenerate") == 0;
        if (regen)
            body = json_pack("{s:s}", "name", form_get(f, "name") ? form_get(f, "name") : "");
        papi_registry_path(path, sizeof(path), name,
                           regen ? "/regenerateCredential" : "/listCredentials");
        st = papi_call(q, "POST", path, body, &ans);
        title = regen ? "New admin password" : "Admin user passwords";
        what = regen ? "Regenerating the password" : "Showing the passwords";
    } else if ((strcmp(action, "password") == 0 || strcmp(action, "create-token") == 0) && tok) {
        int create = strcmp(action, "create-token") == 0;
        char tpath[200];
        snprintf(tpath, sizeof(tpath), "/tokens/%s", tok);
        papi_registry_path(path, sizeof(path), name, tpath);
        st = 200;
        if (create) {
            json_t *acts = json_array();
            form_each(f, "action", add_action, acts);
            const char *repo = form_get(f, "repository");
            body = json_pack("{s:{s:s,s:[{s:s,s:o}]}}", "properties", "status", "enabled", "scope",
                             "repository", repo ? repo : "", "actions", acts);
            st = papi_call(q, "PUT", path, body, &ans);
            what = "Creating the token";
            json_decref(body);
            body = NULL;
            if (st == 201 || st == 200) {
                json_decref(ans);
                ans = NULL;
                st = 200;
            }
        }
        if (st == 200) {
            snprintf(tpath, sizeof(tpath), "/tokens/%s/generateCredentials", tok);
            papi_registry_path(path, sizeof(path), name, tpath);
            body =
                json_pack("{s:s}", "name",
                          create ? "password1" : (form_get(f, "name") ? form_get(f, "name") : ""));
            st = papi_call(q, "POST", path, body, &ans);
            title = "Token password";
            if (!create)
                what = "Generating the password";
        }
    } else if (strcmp(action, "delete-token") == 0 && tok) {
        char tpath[200];
        snprintf(tpath, sizeof(tpath), "/tokens/%s", tok);
        papi_registry_path(path, sizeof(path), name, tpath);
        st = form_get(f, "confirm") ? papi_call(q, "DELETE", path, NULL, &ans) : 400;
        what = "Deleting the token";
        if (st == 400 && ans == NULL)
            ans = json_pack("{s:{s:s,s:s}}", "error", "code", "InvalidRequest", "message",
                            "Tick the box to confirm the deletion.");
        if (st == 200)
            portal_flash(q, "Token %s deleted: its passwords no longer work.", tok);
    } else {
        json_decref(reg);
        portal_message(q, 404, "Not found", "There is no such action.");
        return;
    }
    json_decref(body);
    if (st == 200 && title) {
        access_page(q, reg, ans, title, 200); /* wipes the passwords */
    } else if (st == 200) {
        char to[300];
        snprintf(to, sizeof(to), "/portal/registries/%s/access", name);
        portal_redirect(q, to);
    } else {
        papi_error_box(q, what, ans);
        access_page(q, reg, NULL, NULL, st);
    }
    json_decref(ans);
    json_decref(reg);
}
