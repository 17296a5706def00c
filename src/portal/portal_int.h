/*
 * portal_int.h -- what the portal's files share: the request, the page
 * frame, the calls into the management API (and the one place where the
 * portal addresses its resources), and small JSON readers.
 */
#ifndef CF_PORTAL_PORTAL_INT_H
#define CF_PORTAL_PORTAL_INT_H

#include <stdint.h>

#include <jansson.h>

#include "http/server.h"
#include "portal/html.h"
#include "portal/portal.h"
#include "portal/session.h"

#define PORTAL_PAGE_MAX (4u * 1024 * 1024)
#define PORTAL_PAGE_SIZE 50 /* rows per page of a listing */

/* One request (r->user; freed when the request completes). */
typedef struct pq {
    http_req *r;
    char sid[PORTAL_SID_LEN + 1];
    portal_who who; /* valid when signed_in */
    int signed_in;
    form form;            /* the POST body */
    html h;               /* the page's main content, framed by portal_page */
    const char *nav;      /* "registries" | "identities" | "vault": the current section */
    const char *registry; /* a registry page: its name (the registry tabs) */
    const char *tab;      /* and the current tab */
} pq;

/* ---- portal.c: answers and the page frame ---- */

/* Sends q->h framed as a page (status, title). */
void portal_page(pq *q, unsigned status, const char *title);
/* 303 to location (a portal path). */
void portal_redirect(pq *q, const char *location);
/* A page with one message (status, title, text). */
void portal_message(pq *q, unsigned status, const char *title, const char *text);
/* The hidden CSRF field of a form. */
void portal_csrf(pq *q);
/* A message for the next page of this session. */
void portal_flash(pq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A query parameter ("" when absent). */
const char *portal_query(pq *q, const char *name);
/* The vault settings of the portal (CA, timeout). */
const char *portal_vault_ca(void);
unsigned portal_vault_timeout(void);
/* 1 for the operator (the admin token). */
int portal_is_operator(const pq *q);

/* ---- api.c: the management API, in process ---- */

/* The API path of a registry (suffix may be ""), or an identity: the one
 * place the portal addresses the management API's resources. */
void papi_registry_path(char *out, size_t n, const char *name, const char *suffix);
void papi_identity_path(char *out, size_t n, const char *name);
/* One call (body may be NULL, and is not taken). Returns the HTTP status
 * (500 when the call could not be made); *out the answer (the caller's,
 * may be NULL). */
unsigned papi_call(pq *q, const char *method, const char *path, const json_t *body, json_t **out);
/* An ARM error answer's code and message ("" when absent). */
const char *papi_error_code(const json_t *ans);
const char *papi_error_message(const json_t *ans);
/* Writes an error box for a refused call: its code and message as the
 * API words them. */
void papi_error_box(pq *q, const char *what, const json_t *ans);
/* Overwrites the password values in an answer before it is freed. */
void papi_wipe_passwords(json_t *ans);

/* A string member at a dotted path ("properties.encryption.status"), or
 * NULL. */
const char *jstr(const json_t *o, const char *path);
const json_t *jget(const json_t *o, const char *path);
int jtrue(const json_t *o, const char *path);
/* 1 when hay contains needle, in any case (the listings' filter). */
int portal_contains_ci(const char *hay, const char *needle);

/* ---- pages ---- */

void page_registries(pq *q);                   /* registries.c */
void page_registry_new(pq *q, int post);       /* registries.c */
void page_registry(pq *q, const char *name);   /* registries.c: overview + repositories */
void page_repository(pq *q, const char *name); /* content.c */
void page_manifest(pq *q, const char *name);   /* content.c */
void page_delete(pq *q, const char *name, int post, int is_manifest); /* content.c */
void page_encryption(pq *q, const char *name, const char *action);    /* encryption.c */
void page_identities(pq *q, const char *action);                      /* access.c */
void page_access(pq *q, const char *name, const char *action);        /* access.c */
void page_activity(pq *q, const char *name);                          /* activity.c */
void page_vault(pq *q, int post);                                     /* activity.c */

/* Shared fragments: a registry's key status as text and a tag that does
 * not rely on colour (registries.c). */
void portal_key_status(pq *q, const json_t *reg);
/* The registry's JSON from the management API; NULL after answering. */
json_t *portal_registry_get(pq *q, const char *name);
/* A time from the API (RFC 3339 or null) for people. */
void portal_time(pq *q, const char *rfc3339);
/* A size in bytes for people ("1.2 MiB (1234567 bytes)"). */
void portal_size(pq *q, int64_t bytes);

/* The keys of the session's vault connection as <option>s (value: the
 * key's identifier without a version); how many, or -1 (err says why). */
int portal_vault_key_options(pq *q, const char *selected, char *err, size_t errn);
/* vault.c-ish helpers (activity.c): GET url of the session's vault with
 * its token; *out parsed JSON. 0 on success, else -1 with a message. */
int portal_vault_get(pq *q, const char *url, json_t **out, char *err, size_t errn);

#endif
