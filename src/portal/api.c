/*
 * api.c -- the portal's way into the management API: in process, through
 * the API's own routing and handlers (mgmt_call), so a page shows exactly
 * what `coffer` would, and a change is refused with the words the API
 * uses. Resource paths are built here and nowhere else in the portal.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "control/mgmt.h"
#include "portal/portal_int.h"

void papi_registry_path(char *out, size_t n, const char *name, const char *suffix)
{
    snprintf(out, n, "/registries/%s%s", name, suffix ? suffix : "");
}

void papi_identity_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "/identities/%s", name);
}

unsigned papi_call(pq *q, const char *method, const char *path, const json_t *body, json_t **out)
{
    unsigned status = 0;
    json_t *ans = NULL;
    cf_err e = {0};
    if (mgmt_call(method, path, body, q->r->request_id, &status, &ans, &e) != CF_OK) {
        ans = json_pack("{s:{s:s,s:s}}", "error", "code", "InternalError", "message", e.msg);
        status = 500;
    }
    if (out)
        *out = ans;
    else
        json_decref(ans);
    return status;
}

const json_t *jget(const json_t *o, const char *path)
{
    char key[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_is_object(o) ? json_object_get(o, key) : NULL;
        path += n;
        if (*path == '.')
            path++;
    }
    return o;
}

const char *jstr(const json_t *o, const char *path)
{
    return json_string_value(jget(o, path));
}

int jtrue(const json_t *o, const char *path)
{
    return json_is_true(jget(o, path));
}

const char *papi_error_code(const json_t *ans)
{
    const char *s = jstr(ans, "error.code");
    return s ? s : "";
}

const char *papi_error_message(const json_t *ans)
{
    const char *s = jstr(ans, "error.message");
    return s ? s : "";
}

void papi_error_box(pq *q, const char *what, const json_t *ans)
{
    html_put(&q->h,
             "<div class=\"error\" role=\"alert\"><p><strong>%s refused:</strong> "
             "<code>%s</code></p><p>%s</p></div>",
             what, papi_error_code(ans), papi_error_message(ans));
}

static void wipe_string(json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        OPENSSL_cleanse((void *)s, strlen(s));
    }
}

void papi_wipe_passwords(json_t *ans)
{
    json_t *pws = json_object_get(ans, "passwords");
    size_t i;
    json_t *p;
    json_array_foreach(pws, i, p) wipe_string(json_object_get(p, "value"));
}

int portal_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}
