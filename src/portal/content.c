/*
 * content.c -- a registry's content in the portal: a repository's tags
 * (filtered and paginated server-side), a manifest (size, media type,
 * the platforms of an index, its referrers: signatures, SBOMs and other
 * artifacts), and deleting a tag or a manifest after a confirmation page.
 *
 * Listings come from the store's metadata, so they stay readable while a
 * registry is locked; what needs the content itself (an index's
 * platforms) and deletes need the registry's key, as on the data plane
 * (registry/content.h is the one delete both use).
 */
#define CF_LOG_MOD "portal"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "portal/portal_int.h"
#include "registry/content.h"
#include "registry/keyring.h"
#include "registry/manifest.h"
#include "registry/oci.h"
#include "store/meta.h"

/* The registry's row (for its id and key); NULL after answering 404. */
static meta_registry *registry_row(pq *q, const char *name)
{
    meta_registry *reg = calloc(1, sizeof(*reg));
    cf_err e = {0};
    if (reg && meta_registry_get(reg, name, &e) == CF_OK)
        return reg;
    free(reg);
    q->registry = NULL;
    portal_message(q, 404, "No such registry", "There is no registry of that name.");
    return NULL;
}

static void registry_free(meta_registry *reg)
{
    if (reg) {
        OPENSSL_cleanse(reg, sizeof(*reg));
        free(reg);
    }
}

/* The repository named in ?repo=, checked against the OCI grammar and
 * the store; NULL after answering. */
static const char *repo_arg(pq *q, const meta_registry *reg, const char *repo)
{
    if (!oci_name_valid(repo, strlen(repo))) {
        portal_message(q, 400, "Bad repository name", "That is not a repository name.");
        return NULL;
    }
    if (meta_repo_exists(reg->id, repo, NULL) != CF_OK) {
        portal_message(q, 404, "No such repository", "The registry has no such repository.");
        return NULL;
    }
    return repo;
}

static void repo_crumb(pq *q, const char *repo)
{
    html_put(&q->h,
             "<p class=\"up\"><a href=\"/portal/registries/%u\">All repositories</a> › "
             "<a href=\"/portal/registries/%u/repository?repo=%u\">%s</a></p>",
             q->registry, q->registry, repo, repo);
}

/* ---- tags ---- */

typedef struct tag_page {
    pq *q;
    const meta_registry *reg;
    const char *repo, *filter;
    int shown, more;
    char last[256], scanned[256];
} tag_page;

static int tag_row(void *cls, const char *tag)
{
    tag_page *p = cls;
    snprintf(p->scanned, sizeof(p->scanned), "%s", tag);
    if (!portal_contains_ci(tag, p->filter))
        return 0;
    if (p->shown == PORTAL_PAGE_SIZE) {
        p->more = 1;
        return 1;
    }
    meta_manifest m;
    if (meta_tag_get(&m, p->reg->id, p->repo, tag, NULL) != CF_OK)
        return 0; /* deleted while we list */
    pq *q = p->q;
    html_put(&q->h,
             "<tr><th scope=\"row\">%s</th><td><a href=\"/portal/registries/%u/manifest?repo=%u"
             "&amp;digest=%u\"><code>%s</code></a></td><td>%s</td><td>",
             tag, q->registry, p->repo, m.digest, m.digest, m.media_type);
    portal_size(q, m.size);
    html_put(&q->h,
             "</td><td><a href=\"/portal/registries/%u/delete-tag?repo=%u&amp;tag=%u\">"
             "Delete tag<span class=\"vh\"> %s</span></a></td></tr>",
             q->registry, p->repo, tag, tag);
    snprintf(p->last, sizeof(p->last), "%s", tag);
    p->shown++;
    return 0;
}

void page_repository(pq *q, const char *name)
{
    meta_registry *reg = registry_row(q, name);
    if (reg == NULL)
        return;
    const char *repo = repo_arg(q, reg, portal_query(q, "repo"));
    if (repo == NULL) {
        registry_free(reg);
        return;
    }
    const char *filter = portal_query(q, "q");
    const char *after = portal_query(q, "after");
    repo_crumb(q, repo);
    html_put(&q->h,
             "<h1>Repository %s</h1><form method=\"get\" class=\"filter\" role=\"search\">"
             "<input type=\"hidden\" name=\"repo\" value=\"%s\">"
             "<label for=\"q\">Filter tags</label> <input id=\"q\" name=\"q\" type=\"search\" "
             "value=\"%s\"> <button type=\"submit\">Filter</button></form>"
             "<table class=\"list\"><caption>Tags</caption><thead><tr><th scope=\"col\">Tag</th>"
             "<th scope=\"col\">Manifest digest</th><th scope=\"col\">Media type</th>"
             "<th scope=\"col\">Size</th><th scope=\"col\">Actions</th></tr></thead><tbody>",
             repo, repo, filter);
    tag_page p = {.q = q, .reg = reg, .repo = repo, .filter = filter};
    snprintf(p.scanned, sizeof(p.scanned), "%s", after);
    int more = 1;
    cf_err e = {0};
    while (more && !p.more) {
        char cursor[256];
        snprintf(cursor, sizeof(cursor), "%s", p.scanned);
        if (meta_tags_list(reg->id, repo, cursor[0] ? cursor : NULL, 1000, tag_row, &p, &more,
                           &e) != CF_OK) {
            html_put(&q->h, "<tr><td colspan=\"5\">The tags could not be listed: %s</td></tr>",
                     e.msg);
            break;
        }
    }
    if (p.shown == 0)
        html_put(&q->h, "<tr><td colspan=\"5\">%s</td></tr>",
                 filter[0] ? "No tag matches the filter." : "No tag.");
    html_put(&q->h, "</tbody></table><p class=\"pager\">");
    if (after[0])
        html_put(&q->h,
                 "<a href=\"/portal/registries/%u/repository?repo=%u&amp;q=%u\">First page</a> ",
                 q->registry, repo, filter);
    if (p.more)
        html_put(&q->h,
                 "<a href=\"/portal/registries/%u/repository?repo=%u&amp;q=%u&amp;after=%u\" "
                 "rel=\"next\">Next page</a>",
                 q->registry, repo, filter, p.last);
    html_put(&q->h, "</p>");
    registry_free(reg);
    portal_page(q, 200, repo);
}

/* ---- a manifest ---- */

static const char *artifact_kind(const char *at, const char *mt)
{
    const char *t = at && *at ? at : mt ? mt : "";
    if (strcasestr(t, "signature") || strcasestr(t, "notary") || strcasestr(t, "cosign"))
        return "Signature";
    if (strcasestr(t, "spdx") || strcasestr(t, "cyclonedx") || strcasestr(t, "sbom"))
        return "SBOM";
    if (strcasestr(t, "attestation") || strcasestr(t, "in-toto"))
        return "Attestation";
    return "Artifact";
}

typedef struct ref_ctx {
    pq *q;
    const char *repo;
    int n;
} ref_ctx;

static int referrer_row(void *cls, const meta_referrer *m)
{
    ref_ctx *x = cls;
    pq *q = x->q;
    html_put(&q->h,
             "<tr><td>%s</td><td>%s</td><td><a href=\"/portal/registries/%u/manifest?repo=%u"
             "&amp;digest=%u\"><code>%s</code></a></td><td>",
             artifact_kind(m->artifact_type, m->media_type),
             m->artifact_type ? m->artifact_type : "", q->registry, x->repo, m->digest, m->digest);
    portal_size(q, m->size);
    html_put(&q->h, "</td></tr>");
    x->n++;
    return 0;
}

/* What the manifest's content says: an index's platforms, an image's
 * config and layers. Needs the key. */
static void manifest_body(pq *q, const meta_registry *reg, const char *repo, const meta_manifest *m,
                          const oci_digest *d)
{
    seal_kek kek;
    cf_err e = {0};
    if (keyring_kek(&kek, reg, &e) != CF_OK) {
        char why[1100];
        if (keyring_reason(reg->id, why, sizeof(why)) == 0)
            snprintf(why, sizeof(why), "%s", e.msg);
        html_put(&q->h,
                 "<p class=\"alert\"><strong>Content not readable:</strong> the registry is "
                 "locked: %s</p>",
                 why);
        return;
    }
    unsigned char *buf = NULL;
    cf_code rc = content_manifest_read(reg->id, &kek, d, m->size, &buf, &e);
    OPENSSL_cleanse(&kek, sizeof(kek));
    if (rc != CF_OK) {
        html_put(&q->h, "<p class=\"error\">The manifest could not be read: %s</p>", e.msg);
        return;
    }
    json_t *j = json_loadb((const char *)buf, (size_t)m->size, 0, NULL);
    OPENSSL_cleanse(buf, (size_t)m->size);
    free(buf);
    manifest_kind k = manifest_kind_of(m->media_type, strlen(m->media_type));
    size_t i;
    const json_t *c;
    if (manifest_is_index(k)) {
        html_put(&q->h, "<table class=\"list\"><caption>Platforms</caption><thead><tr>"
                        "<th scope=\"col\">Platform</th><th scope=\"col\">Manifest</th>"
                        "<th scope=\"col\">Media type</th><th scope=\"col\">Size</th></tr>"
                        "</thead><tbody>");
        json_array_foreach(json_object_get(j, "manifests"), i, c)
        {
            const char *os = jstr(c, "platform.os"), *arch = jstr(c, "platform.architecture");
            const char *var = jstr(c, "platform.variant");
            const char *cd = jstr(c, "digest");
            html_put(&q->h, "<tr><td>%s%r%s%r%s</td><td>", os ? os : "(none)", arch ? "/" : "",
                     arch, var ? "/" : "", var);
            if (cd && meta_manifest_get(&(meta_manifest){0}, reg->id, repo, cd, NULL) == CF_OK)
                html_put(&q->h,
                         "<a href=\"/portal/registries/%u/manifest?repo=%u&amp;digest=%u\">"
                         "<code>%s</code></a>",
                         q->registry, repo, cd, cd);
            else
                html_put(&q->h, "<code>%s</code>", cd);
            html_put(&q->h, "</td><td>%s</td><td>", jstr(c, "mediaType"));
            json_int_t sz = json_integer_value(json_object_get(c, "size"));
            portal_size(q, (int64_t)sz);
            html_put(&q->h, "</td></tr>");
        }
        html_put(&q->h, "</tbody></table>");
    } else if (j) {
        const char *at = jstr(j, "artifactType");
        html_put(&q->h, "<dl class=\"props\"><dt>Config</dt><dd>%s</dd>",
                 jstr(j, "config.mediaType"));
        if (at)
            html_put(&q->h, "<dt>Artifact type</dt><dd>%s</dd>", at);
        int64_t total = 0;
        size_t nl = json_array_size(json_object_get(j, "layers"));
        json_array_foreach(json_object_get(j, "layers"), i, c) total +=
            (int64_t)json_integer_value(json_object_get(c, "size"));
        html_put(&q->h, "<dt>Layers</dt><dd>%D, ", (int64_t)nl);
        portal_size(q, total);
        html_put(&q->h, " in all</dd>");
        if (jstr(j, "subject.digest"))
            html_put(&q->h,
                     "<dt>Refers to</dt><dd><a href=\"/portal/registries/%u/manifest?repo=%u"
                     "&amp;digest=%u\"><code>%s</code></a></dd>",
                     q->registry, repo, jstr(j, "subject.digest"), jstr(j, "subject.digest"));
        html_put(&q->h, "</dl>");
    }
    json_decref(j);
}

void page_manifest(pq *q, const char *name)
{
    meta_registry *reg = registry_row(q, name);
    if (reg == NULL)
        return;
    const char *repo = repo_arg(q, reg, portal_query(q, "repo"));
    const char *dg = portal_query(q, "digest");
    oci_digest d;
    meta_manifest m;
    if (repo == NULL) {
        registry_free(reg);
        return;
    }
    if (oci_digest_parse(&d, dg, strlen(dg), NULL) != CF_OK ||
        meta_manifest_get(&m, reg->id, repo, d.text, NULL) != CF_OK) {
        registry_free(reg);
        portal_message(q, 404, "No such manifest", "The repository has no such manifest.");
        return;
    }
    repo_crumb(q, repo);
    html_put(&q->h,
             "<h1>Manifest</h1><dl class=\"props\"><dt>Digest</dt><dd><code>%s</code></dd>"
             "<dt>Repository</dt><dd>%s</dd><dt>Media type</dt><dd>%s</dd><dt>Size</dt><dd>",
             d.text, repo, m.media_type);
    portal_size(q, m.size);
    html_put(&q->h, "</dd></dl>");
    manifest_body(q, reg, repo, &m, &d);
    html_put(&q->h, "<table class=\"list\"><caption>Referrers (signatures, SBOMs and other "
                    "artifacts that refer to this manifest)</caption><thead><tr>"
                    "<th scope=\"col\">Kind</th><th scope=\"col\">Artifact type</th>"
                    "<th scope=\"col\">Digest</th><th scope=\"col\">Size</th></tr></thead><tbody>");
    ref_ctx x = {.q = q, .repo = repo};
    cf_err e = {0};
    if (meta_referrers(reg->id, repo, d.text, NULL, referrer_row, &x, &e) != CF_OK)
        html_put(&q->h, "<tr><td colspan=\"4\">The referrers could not be listed: %s</td></tr>",
                 e.msg);
    else if (x.n == 0)
        html_put(&q->h, "<tr><td colspan=\"4\">None.</td></tr>");
    html_put(&q->h,
             "</tbody></table><p><a class=\"button danger\" href=\"/portal/registries/%u/"
             "delete-manifest?repo=%u&amp;digest=%u\">Delete this manifest</a></p>",
             q->registry, repo, d.text);
    registry_free(reg);
    portal_page(q, 200, "Manifest");
}

/* ---- deletes ---- */

void page_delete(pq *q, const char *name, int post, int is_manifest)
{
    meta_registry *reg = registry_row(q, name);
    if (reg == NULL)
        return;
    const form *f = &q->form;
    const char *repo_in = post ? form_get(f, "repo") : portal_query(q, "repo");
    const char *what = post ? form_get(f, is_manifest ? "digest" : "tag")
                            : portal_query(q, is_manifest ? "digest" : "tag");
    const char *repo = repo_arg(q, reg, repo_in ? repo_in : "");
    if (repo == NULL || what == NULL) {
        registry_free(reg);
        if (repo)
            portal_message(q, 400, "Delete", "Say what to delete.");
        return;
    }
    oci_digest d;
    meta_manifest m;
    int exists = is_manifest ? oci_digest_parse(&d, what, strlen(what), NULL) == CF_OK &&
                                   meta_manifest_get(&m, reg->id, repo, d.text, NULL) == CF_OK
                             : meta_tag_get(&m, reg->id, repo, what, NULL) == CF_OK;
    if (!exists) {
        registry_free(reg);
        portal_message(q, 404, "Nothing to delete",
                       is_manifest ? "The repository has no such manifest."
                                   : "The repository has no such tag.");
        return;
    }
    char back[600];
    snprintf(back, sizeof(back), "/portal/registries/%s/repository?repo=%s", name, repo);
    if (!post) {
        repo_crumb(q, repo);
        html_put(&q->h, "<h1>Delete %r</h1><div class=\"alert\"><p>",
                 is_manifest ? "a manifest" : "a tag");
        if (is_manifest)
            html_put(&q->h,
                     "Delete manifest <code>%s</code> of repository <strong>%s</strong>? Every "
                     "tag that points at it goes with it. This cannot be undone.",
                     d.text, repo);
        else
            html_put(&q->h,
                     "Delete tag <strong>%s</strong> of repository <strong>%s</strong>? The "
                     "manifest it points at (<code>%s</code>) stays, reachable by its digest.",
                     what, repo, m.digest);
        html_put(&q->h, "</p></div><form method=\"post\" action=\"/portal/registries/%u/%r\">",
                 q->registry, is_manifest ? "delete-manifest" : "delete-tag");
        portal_csrf(q);
        html_put(
            &q->h,
            "<input type=\"hidden\" name=\"repo\" value=\"%s\"><input type=\"hidden\" "
            "name=\"%r\" value=\"%s\"><button type=\"submit\" class=\"danger\">Delete</button> "
            "<a href=\"/portal/registries/%u/repository?repo=%u\">Cancel</a></form>",
            repo, is_manifest ? "digest" : "tag", what, q->registry, repo);
        registry_free(reg);
        portal_page(q, 200, "Delete");
        return;
    }
    /* as on the data plane: a locked registry's content is not deleted */
    seal_kek kek;
    cf_err e = {0};
    if (keyring_kek(&kek, reg, &e) != CF_OK) {
        char why[1100];
        if (keyring_reason(reg->id, why, sizeof(why)) == 0)
            snprintf(why, sizeof(why), "%s", e.msg);
        registry_free(reg);
        html_put(&q->h,
                 "<h1>Not deleted</h1><div class=\"error\" role=\"alert\"><p>The registry is "
                 "locked: %s</p></div>",
                 why);
        portal_page(q, 403, "Not deleted");
        return;
    }
    OPENSSL_cleanse(&kek, sizeof(kek));
    cf_code rc = is_manifest ? content_manifest_delete(reg->id, repo, &d, &e)
                             : meta_tag_delete(reg->id, repo, what, &e);
    if (rc != CF_OK) {
        registry_free(reg);
        html_put(&q->h, "<h1>Not deleted</h1><div class=\"error\" role=\"alert\"><p>%s</p></div>",
                 e.msg);
        portal_page(q, rc == CF_ENOTFOUND ? 404 : 500, "Not deleted");
        return;
    }
    cf_log(CF_LOG_INFO, is_manifest ? "manifest deleted (portal)" : "tag deleted (portal)",
           "request_id", q->r->request_id, "registry", reg->name, "repository", repo,
           is_manifest ? "digest" : "tag", what, "by",
           q->who.role == PORTAL_OPERATOR ? "operator" : "admin user", NULL);
    registry_free(reg);
    portal_flash(q, "%s %s deleted from %s.", is_manifest ? "Manifest" : "Tag", what, repo);
    portal_redirect(q, back);
}
