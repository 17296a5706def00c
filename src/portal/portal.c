/*
 * portal.c -- the portal's front (portal.h): routing, sign-in and
 * sign-out, sessions and the CSRF rules, the page frame, the stylesheet.
 *
 * A request reads straight down: the path is the portal's; a credential in
 * the URL is refused before anything else; the stylesheet needs nothing;
 * every other page needs a session (else: a GET goes to the sign-in page,
 * a POST is refused with 401); a POST must come from the portal's own
 * origin and carry the session's CSRF token (else 403, nothing changed);
 * then the page's handler runs and answers one HTML page or a redirect.
 */
#define CF_LOG_MOD "portal"
#include "portal/portal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "control/mgmt_int.h"
#include "portal/portal_int.h"
#include "registry/credentials.h"
#include "store/meta.h"

#define COOKIE "coffer_session"

extern const char portal_css[];
extern const char portal_css_etag[];

static struct {
    char vault_ca[1024];
    unsigned vault_timeout_s;
} conf;

cf_code portal_configure(const portal_config *c, cf_err *e)
{
    if (c->vault_ca && strlen(c->vault_ca) >= sizeof(conf.vault_ca))
        return cf_err_set(e, CF_EINVAL, "portal: vault CA path too long");
    snprintf(conf.vault_ca, sizeof(conf.vault_ca), "%s", c->vault_ca ? c->vault_ca : "");
    conf.vault_timeout_s = c->vault_timeout_s ? c->vault_timeout_s : 10;
    return CF_OK;
}

void portal_shutdown(void)
{
    session_clear_all();
}

const char *portal_vault_ca(void)
{
    return conf.vault_ca[0] ? conf.vault_ca : NULL;
}

unsigned portal_vault_timeout(void)
{
    return conf.vault_timeout_s ? conf.vault_timeout_s : 10;
}

int portal_path(const char *path)
{
    return strncmp(path, "/portal", 7) == 0 && (path[7] == '\0' || path[7] == '/');
}

int portal_is_operator(const pq *q)
{
    return q->signed_in && q->who.role == PORTAL_OPERATOR;
}

const char *portal_query(pq *q, const char *name)
{
    const char *v = http_req_query(q->r, name);
    return v ? v : "";
}

/* ---- answers ---- */

static void security_headers(http_resp *resp)
{
    http_resp_header(resp, "Cache-Control", "no-store");
    http_resp_header(resp, "Content-Security-Policy",
                     "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                     "frame-ancestors 'none'; base-uri 'none'");
    http_resp_header(resp, "X-Frame-Options", "DENY");
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    /* same-origin, not no-referrer: under no-referrer a browser sends
     * "Origin: null" on the portal's own POSTs, which same_origin refuses */
    http_resp_header(resp, "Referrer-Policy", "same-origin");
}

static void send_html(pq *q, unsigned status, html *doc, const char *set_cookie)
{
    if (doc->failed) {
        http_resp *resp = http_resp_bytes(500, "page too large\n", 15, "text/plain");
        security_headers(resp);
        http_req_respond(q->r, resp);
        return;
    }
    http_resp *resp = http_resp_bytes(status, doc->b.data ? (const char *)doc->b.data : "",
                                      doc->b.len, "text/html; charset=utf-8");
    security_headers(resp);
    if (set_cookie)
        http_resp_header(resp, "Set-Cookie", set_cookie);
    http_req_respond(q->r, resp);
}

static void nav_item(html *d, const char *cur, const char *id, const char *href, const char *label)
{
    html_put(d, "<li><a href=\"%r\"%r>%s</a></li>", href,
             cur && strcmp(cur, id) == 0 ? " aria-current=\"page\"" : "", label);
}

static void page_with_cookie(pq *q, unsigned status, const char *title, const char *set_cookie)
{
    html d;
    html_init(&d, PORTAL_PAGE_MAX);
    html_put(&d,
             "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<title>%s · coffer portal</title>"
             "<link rel=\"stylesheet\" href=\"/portal/static/portal.css?v=%r\"></head><body>"
             "<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\">"
             "<p class=\"brand\"><a href=\"/portal/\">coffer</a> <span>portal</span></p>",
             title, portal_css_etag);
    if (q->signed_in) {
        html_put(&d, "<nav aria-label=\"Main\"><ul>");
        if (q->who.role == PORTAL_OPERATOR) {
            nav_item(&d, q->nav, "registries", "/portal/registries", "Registries");
            nav_item(&d, q->nav, "identities", "/portal/identities", "Identities");
            nav_item(&d, q->nav, "vault", "/portal/vault", "Key vault");
        } else {
            char href[200];
            snprintf(href, sizeof(href), "/portal/registries/%s", q->who.registry);
            nav_item(&d, q->nav, "registries", href, q->who.registry);
        }
        html_put(&d,
                 "</ul></nav><form class=\"signout\" method=\"post\" action=\"/portal/signout\">"
                 "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                 "<span>Signed in as %s</span> <button type=\"submit\">Sign out</button></form>",
                 q->who.csrf,
                 q->who.role == PORTAL_OPERATOR ? "the operator (admin token)" : q->who.registry);
    }
    html_put(&d, "</header><main id=\"main\" tabindex=\"-1\">");
    if (q->registry) {
        static const struct {
            const char *id, *suffix, *label;
            int operator_only;
        } tabs[] = {{"overview", "", "Repositories", 0},
                    {"encryption", "/encryption", "Encryption", 0},
                    {"access", "/access", "Access keys", 1},
                    {"activity", "/activity", "Activity", 0}};
        html_put(&d, "<nav aria-label=\"Breadcrumb\" class=\"crumbs\"><ol>");
        if (q->who.role == PORTAL_OPERATOR)
            html_put(&d, "<li><a href=\"/portal/registries\">Registries</a></li>");
        html_put(&d, "<li><a href=\"/portal/registries/%u\">%s</a></li></ol></nav>", q->registry,
                 q->registry);
        html_put(&d, "<nav aria-label=\"Registry\" class=\"tabs\"><ul>");
        for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
            if (tabs[i].operator_only && q->who.role != PORTAL_OPERATOR)
                continue;
            html_put(&d, "<li><a href=\"/portal/registries/%u%r\"%r>%s</a></li>", q->registry,
                     tabs[i].suffix,
                     q->tab && strcmp(q->tab, tabs[i].id) == 0 ? " aria-current=\"page\"" : "",
                     tabs[i].label);
        }
        html_put(&d, "</ul></nav>");
    }
    if (q->signed_in && q->who.flash[0])
        html_put(&d, "<div class=\"flash\" role=\"status\"><p>%s</p></div>", q->who.flash);
    if (q->h.failed)
        d.failed = 1;
    else if (!d.failed && q->h.b.len && cf_buf_append(&d.b, q->h.b.data, q->h.b.len, NULL) != CF_OK)
        d.failed = 1;
    html_put(&d, "</main><footer><p>coffer · every page here is served by cofferd itself; "
                 "nothing is fetched from anywhere else.</p></footer></body></html>\n");
    send_html(q, status, &d, set_cookie);
    html_free(&d);
}

void portal_page(pq *q, unsigned status, const char *title)
{
    page_with_cookie(q, status, title, NULL);
}

void portal_message(pq *q, unsigned status, const char *title, const char *text)
{
    html_free(&q->h);
    html_init(&q->h, PORTAL_PAGE_MAX);
    html_put(&q->h, "<h1>%s</h1><p class=\"message\">%s</p>", title, text);
    if (!q->signed_in)
        html_put(&q->h, "<p><a href=\"/portal/signin\">Sign in</a></p>");
    portal_page(q, status, title);
}

void portal_redirect(pq *q, const char *location)
{
    http_resp *resp = http_resp_new(303);
    security_headers(resp);
    http_resp_header(resp, "Location", location);
    http_req_respond(q->r, resp);
}

void portal_csrf(pq *q)
{
    html_put(&q->h, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", q->who.csrf);
}

void portal_flash(pq *q, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    session_set_flash(q->sid, msg);
}

/* ---- the stylesheet ---- */

static void serve_css(pq *q)
{
    const char *inm = http_req_header(q->r, "If-None-Match");
    char etag[64];
    snprintf(etag, sizeof(etag), "\"%s\"", portal_css_etag);
    http_resp *resp = inm && strcmp(inm, etag) == 0
                          ? http_resp_new(304)
                          : http_resp_bytes(200, portal_css, strlen(portal_css), "text/css");
    http_resp_header(resp, "ETag", etag);
    http_resp_header(resp, "Cache-Control", "public, max-age=86400");
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    http_req_respond(q->r, resp);
}

/* ---- who is asking ---- */

/* A credential in the URL ends up in browser history, proxy logs and
 * Referer headers: refused whatever it is, before anything else. */
static const char *const url_secrets[] = {"token", "access_token", "admin_token", "password",
                                          "csrf",  "session",      "sid",         "secret",
                                          COOKIE,  "vault_token"};

static int url_has_secret(http_req *r)
{
    for (size_t i = 0; i < sizeof(url_secrets) / sizeof(url_secrets[0]); i++)
        if (http_req_query(r, url_secrets[i]) != NULL)
            return 1;
    return 0;
}

/* A POST from the portal's own pages: the browser's Origin (when it
 * sends one) is this listener, and Sec-Fetch-Site (when it sends one)
 * says same-origin. SameSite=Strict already keeps the cookie off
 * cross-site requests; this also refuses a same-site page of another
 * origin (another port of this host). */
static int same_origin(pq *q)
{
    const char *sfs = http_req_header(q->r, "Sec-Fetch-Site");
    if (sfs && strcmp(sfs, "same-origin") != 0)
        return 0;
    const char *origin = http_req_header(q->r, "Origin");
    if (origin == NULL)
        return 1;
    const char *host = http_req_header(q->r, "Host");
    if (host == NULL)
        return 0;
    char want[512];
    snprintf(want, sizeof(want), "%s://%s", http_req_tls(q->r) ? "https" : "http", host);
    return strcasecmp(origin, want) == 0;
}

/* An admin user's session lasts while its registry, its admin user and
 * its credentials stay as they were at sign-in: disabling the admin user
 * or regenerating a password (which bumps the epoch) ends it. */
static int admin_session_valid(const portal_who *w)
{
    meta_registry *reg = malloc(sizeof(*reg));
    int ok = 0;
    if (reg && meta_registry_get(reg, w->registry, NULL) == CF_OK)
        ok = strcmp(reg->id, w->registry_id) == 0 && reg->admin_enabled &&
             reg->cred_epoch == w->cred_epoch;
    if (reg)
        OPENSSL_cleanse(reg, sizeof(*reg));
    free(reg);
    return ok;
}

static void load_session(pq *q)
{
    char sid[PORTAL_SID_LEN + 8];
    if (cookie_get(http_req_header(q->r, "Cookie"), COOKIE, sid, sizeof(sid)) != 0)
        return;
    if (session_get(&q->who, sid) != 0)
        return;
    if (q->who.role == PORTAL_REGISTRY_ADMIN && !admin_session_valid(&q->who)) {
        session_destroy(sid);
        OPENSSL_cleanse(&q->who, sizeof(q->who));
        return;
    }
    memcpy(q->sid, sid, sizeof(q->sid));
    q->sid[PORTAL_SID_LEN] = '\0';
    q->signed_in = 1;
}

static int csrf_ok(pq *q)
{
    const char *t = form_get(&q->form, "csrf");
    return t && strlen(t) == PORTAL_SID_LEN && CRYPTO_memcmp(t, q->who.csrf, PORTAL_SID_LEN) == 0;
}

/* ---- sign-in and sign-out ---- */

static void signin_form(pq *q, unsigned status, const char *error)
{
    html_put(&q->h, "<h1>Sign in</h1>");
    if (error)
        html_put(
            &q->h,
            "<div class=\"error\" role=\"alert\"><p><strong>Not signed in:</strong> %s</p></div>",
            error);
    html_put(
        &q->h,
        "<div class=\"cols\"><form method=\"post\" action=\"/portal/signin\" class=\"card\">"
        "<h2>Operator</h2><p>With the management API's admin token "
        "(<code>DIR/admin.token</code> of cofferd).</p>"
        "<input type=\"hidden\" name=\"kind\" value=\"operator\">"
        "<label for=\"token\">Admin token</label>"
        "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" "
        "required><button type=\"submit\">Sign in as the operator</button></form>"
        "<form method=\"post\" action=\"/portal/signin\" class=\"card\">"
        "<h2>Registry admin user</h2><p>The registry's name and one of its admin user's "
        "passwords: you see that registry only.</p>"
        "<input type=\"hidden\" name=\"kind\" value=\"admin\">"
        "<label for=\"username\">Registry (user name)</label>"
        "<input id=\"username\" name=\"username\" autocomplete=\"username\" required>"
        "<label for=\"password\">Password</label>"
        "<input id=\"password\" name=\"password\" type=\"password\" "
        "autocomplete=\"current-password\" required>"
        "<button type=\"submit\">Sign in to the registry</button></form></div>");
    portal_page(q, status, "Sign in");
}

static void set_cookie(char *out, size_t n, pq *q, const char *value, int clear)
{
    snprintf(out, n, COOKIE "=%s; Path=/portal/; HttpOnly; SameSite=Strict%s%s", value,
             http_req_tls(q->r) ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

static void signin_post(pq *q)
{
    const char *kind = form_get(&q->form, "kind");
    portal_who w;
    memset(&w, 0, sizeof(w));
    const char *fail = "the admin token is not right.";
    if (kind && strcmp(kind, "admin") == 0) {
        const char *user = form_get(&q->form, "username");
        const char *pw = form_get(&q->form, "password");
        fail = "invalid username or password.";
        meta_registry *reg = calloc(1, sizeof(*reg));
        cred_who cw;
        int ok = reg && user && pw && meta_registry_get(reg, user, NULL) == CF_OK &&
                 cred_check(&cw, reg, user, pw, NULL) == CF_OK && cw.kind == CRED_ADMIN;
        if (ok) {
            w.role = PORTAL_REGISTRY_ADMIN;
            snprintf(w.registry, sizeof(w.registry), "%s", reg->name);
            snprintf(w.registry_id, sizeof(w.registry_id), "%s", reg->id);
            w.cred_epoch = reg->cred_epoch;
        }
        if (reg)
            OPENSSL_cleanse(reg, sizeof(*reg));
        free(reg);
    } else {
        const char *tok = form_get(&q->form, "token");
        if (tok && strlen(tok) == MGMT_ADMIN_TOKEN_LEN &&
            CRYPTO_memcmp(tok, mgmt_g.admin, MGMT_ADMIN_TOKEN_LEN) == 0)
            w.role = PORTAL_OPERATOR;
    }
    if (w.role == 0) {
        cf_log(CF_LOG_WARN, "portal sign-in refused", "request_id", q->r->request_id, "peer",
               http_req_peer(q->r), "kind",
               kind && strcmp(kind, "admin") == 0 ? "admin" : "operator", NULL);
        signin_form(q, 401, fail);
        return;
    }
    char sid[PORTAL_SID_LEN + 1], cookie[200];
    cf_err e = {0};
    if (session_create(sid, &w, &e) != CF_OK) {
        portal_message(q, 500, "Sign-in failed", e.msg);
        return;
    }
    cf_log(CF_LOG_INFO, "portal sign-in", "request_id", q->r->request_id, "peer",
           http_req_peer(q->r), "role", w.role == PORTAL_OPERATOR ? "operator" : "admin",
           "registry", w.registry, NULL);
    set_cookie(cookie, sizeof(cookie), q, sid, 0);
    OPENSSL_cleanse(sid, sizeof(sid));
    http_resp *resp = http_resp_new(303);
    security_headers(resp);
    http_resp_header(resp, "Set-Cookie", cookie);
    http_resp_header(resp, "Location", "/portal/");
    OPENSSL_cleanse(cookie, sizeof(cookie));
    http_req_respond(q->r, resp);
}

static void signout_post(pq *q)
{
    session_destroy(q->sid);
    char cookie[200];
    set_cookie(cookie, sizeof(cookie), q, "", 1);
    q->signed_in = 0;
    html_put(&q->h, "<h1>Signed out</h1><p>The session is over; its cookie no longer works.</p>"
                    "<p><a href=\"/portal/signin\">Sign in again</a></p>");
    page_with_cookie(q, 200, "Signed out", cookie);
}

/* ---- routing ---- */

typedef struct route_parts {
    char buf[512];
    const char *seg[6];
    int n;
} route_parts;

/* The path after "/portal/", split at '/'; -1 when too long or deep. */
static int split(route_parts *p, const char *path)
{
    p->n = 0;
    const char *rest = path + 7;
    if (*rest == '/')
        rest++;
    size_t n = strlen(rest);
    if (n >= sizeof(p->buf))
        return -1;
    memcpy(p->buf, rest, n + 1);
    char *s = p->buf;
    while (*s) {
        if (p->n == 6)
            return -1;
        p->seg[p->n++] = s;
        char *slash = strchr(s, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        s = slash + 1;
    }
    return 0;
}

static int is(const route_parts *p, int i, const char *s)
{
    return i < p->n && strcmp(p->seg[i], s) == 0;
}

static void not_found(pq *q)
{
    portal_message(q, 404, "Not found", "There is no portal page at this address.");
}

static void forbidden(pq *q)
{
    portal_message(q, 403, "Not allowed",
                   "A registry's admin user sees only its own registry's content; this page is "
                   "the operator's.");
}

static void route(pq *q, int post)
{
    route_parts p;
    if (split(&p, q->r->path) != 0) {
        not_found(q);
        return;
    }
    int op = portal_is_operator(q);
    if (p.n == 0) {
        if (post) {
            not_found(q);
            return;
        }
        char to[200];
        if (op)
            snprintf(to, sizeof(to), "/portal/registries");
        else
            snprintf(to, sizeof(to), "/portal/registries/%s", q->who.registry);
        portal_redirect(q, to);
        return;
    }
    if (is(&p, 0, "signout") && p.n == 1) {
        if (post)
            signout_post(q);
        else
            portal_message(q, 405, "Sign out", "Sign out with the button at the top of a page.");
        return;
    }
    if (is(&p, 0, "identities") && p.n <= 2) {
        if (!op) {
            forbidden(q);
            return;
        }
        q->nav = "identities";
        page_identities(q, post ? (p.n == 2 ? p.seg[1] : "create") : NULL);
        return;
    }
    if (is(&p, 0, "vault") && p.n == 1) {
        if (!op) {
            forbidden(q);
            return;
        }
        q->nav = "vault";
        page_vault(q, post);
        return;
    }
    if (!is(&p, 0, "registries")) {
        not_found(q);
        return;
    }
    q->nav = "registries";
    if (p.n == 1) {
        if (!op) {
            forbidden(q);
            return;
        }
        if (post)
            not_found(q);
        else
            page_registries(q);
        return;
    }
    if (is(&p, 1, "new") && p.n == 2) {
        if (!op)
            forbidden(q);
        else
            page_registry_new(q, post);
        return;
    }
    const char *name = p.seg[1];
    if (!op && strcasecmp(name, q->who.registry) != 0) {
        forbidden(q);
        return;
    }
    q->registry = name;
    if (p.n == 2) {
        q->tab = "overview";
        if (post)
            not_found(q);
        else
            page_registry(q, name);
        return;
    }
    const char *what = p.seg[2];
    if (strcmp(what, "repository") == 0 && p.n == 3 && !post) {
        q->tab = "overview";
        page_repository(q, name);
    } else if (strcmp(what, "manifest") == 0 && p.n == 3 && !post) {
        q->tab = "overview";
        page_manifest(q, name);
    } else if ((strcmp(what, "delete-tag") == 0 || strcmp(what, "delete-manifest") == 0) &&
               p.n == 3) {
        q->tab = "overview";
        page_delete(q, name, post, strcmp(what, "delete-manifest") == 0);
    } else if (strcmp(what, "encryption") == 0 && p.n <= 4) {
        q->tab = "encryption";
        if (post && !op)
            forbidden(q);
        else if (post && p.n == 4)
            page_encryption(q, name, p.seg[3]);
        else if (!post && p.n == 3)
            page_encryption(q, name, NULL);
        else
            not_found(q);
    } else if (strcmp(what, "access") == 0 && p.n <= 4) {
        q->tab = "access";
        if (!op)
            forbidden(q);
        else if (post && p.n == 4)
            page_access(q, name, p.seg[3]);
        else if (!post && p.n == 3)
            page_access(q, name, NULL);
        else
            not_found(q);
    } else if (strcmp(what, "activity") == 0 && p.n == 3 && !post) {
        q->tab = "activity";
        page_activity(q, name);
    } else {
        not_found(q);
    }
}

static void pq_done(http_req *r, int ok)
{
    (void)ok;
    pq *q = r->user;
    if (q == NULL)
        return;
    html_free(&q->h);
    OPENSSL_cleanse(q, sizeof(*q));
    free(q);
    r->user = NULL;
}

static void handle(pq *q, int post)
{
    http_req *r = q->r;
    if (strcmp(r->path, "/portal/static/portal.css") == 0) {
        if (post)
            not_found(q);
        else
            serve_css(q);
        return;
    }
    load_session(q);
    if (strcmp(r->path, "/portal/signin") == 0) {
        if (!post) {
            if (q->signed_in)
                portal_redirect(q, "/portal/");
            else
                signin_form(q, 200, NULL);
        } else if (!same_origin(q)) {
            q->signed_in = 0;
            portal_message(q, 403, "Refused", "A sign-in must come from the portal's own page.");
        } else {
            q->signed_in = 0;
            signin_post(q);
        }
        return;
    }
    if (!q->signed_in) {
        if (post) {
            portal_message(q, 401, "Not signed in",
                           "This change needs a session: sign in first. Nothing was changed.");
            return;
        }
        portal_redirect(q, "/portal/signin");
        return;
    }
    if (post && (!same_origin(q) || !csrf_ok(q))) {
        cf_log(CF_LOG_WARN, "portal request refused (cross-site or no CSRF token)", "request_id",
               r->request_id, "path", r->path, "peer", http_req_peer(r), NULL);
        portal_message(q, 403, "Refused",
                       "This change did not come from a portal page of this session (its CSRF "
                       "token or origin is wrong). Nothing was changed; reload the page and try "
                       "again.");
        return;
    }
    route(q, post);
}

static void body_end(http_req *r)
{
    pq *q = r->user;
    if (r->body_too_big) {
        portal_message(q, 413, "Too large", "The form is larger than 64 KiB.");
        return;
    }
    if (form_parse(&q->form, (const char *)r->body.data, r->body.len) != 0) {
        portal_message(q, 400, "Bad form", "The form could not be read.");
        return;
    }
    handle(q, 1);
}

void portal_handle(http_req *r)
{
    pq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        http_req_respond(r, http_resp_new(500));
        return;
    }
    q->r = r;
    r->user = q;
    r->on_done = pq_done;
    html_init(&q->h, PORTAL_PAGE_MAX);
    if (strcmp(r->path, "/portal") == 0) {
        portal_redirect(q, "/portal/");
        return;
    }
    if (url_has_secret(r)) {
        cf_log(CF_LOG_WARN, "portal request with a credential in its URL refused", "request_id",
               r->request_id, "path", r->path, "peer", http_req_peer(r), NULL);
        portal_message(q, 400, "Refused",
                       "Credentials are never accepted in a URL (browser history, proxies' logs "
                       "and Referer headers keep URLs). Sign in with the form.");
        return;
    }
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (get) {
        handle(q, 0);
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        portal_message(q, 405, "Not allowed", "The portal answers GET and POST only.");
        return;
    }
    if (http_req_content_length(r) > PORTAL_FORM_BYTES) {
        portal_message(q, 413, "Too large", "The form is larger than 64 KiB.");
        return;
    }
    http_req_collect(r, PORTAL_FORM_BYTES, body_end);
}
