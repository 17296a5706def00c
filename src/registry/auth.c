/*
 * auth.c -- registry tokens (HS256 JWTs), Docker scopes, Basic headers,
 * scope maps and the challenge. See auth.h for the rules; the invariant
 * worth repeating: a token is trusted only after its header matched the
 * one fixed header byte for byte and its HMAC matched in constant time;
 * nothing in it is looked at before that except its length.
 */
#include "registry/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/buf.h"
#include "base/enc.h"
#include "crypto/keys.h"
#include "registry/keyring.h"

/* base64url of {"alg":"HS256","typ":"JWT"}: the only header minted or accepted */
static const char HEADER_B64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static unsigned char k_token[32];
static int have_key;

cf_code auth_init(cf_err *e)
{
    unsigned char k[32];
    cf_code rc = keyring_derive(k, "coffer/v1/registry-token", e);
    if (rc == CF_OK)
        auth_set_key(k);
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

void auth_set_key(const unsigned char key[32])
{
    memcpy(k_token, key, sizeof(k_token));
    have_key = 1;
}

void auth_shutdown(void)
{
    OPENSSL_cleanse(k_token, sizeof(k_token));
    have_key = 0;
}

static cf_code hmac(unsigned char out[32], const char *data, size_t len, cf_err *e)
{
    unsigned int olen = 0;
    if (!have_key)
        return cf_err_set(e, CF_EUNAVAIL, "registry token key not loaded");
    if (HMAC(EVP_sha256(), k_token, sizeof(k_token), (const unsigned char *)data, len, out,
             &olen) == NULL ||
        olen != 32)
        return cf_err_ssl(e, "HMAC-SHA256");
    return CF_OK;
}

/* ---- actions ---- */

static const struct {
    unsigned bit;
    const char *name;
} TOKEN_ACTIONS[] = {
    {AUTH_PULL, "pull"},
    {AUTH_PUSH, "push"},
    {AUTH_DELETE, "delete"},
    {AUTH_META, "metadata_read"},
};

static unsigned token_action(const char *s)
{
    for (size_t i = 0; i < sizeof(TOKEN_ACTIONS) / sizeof(TOKEN_ACTIONS[0]); i++)
        if (strcmp(s, TOKEN_ACTIONS[i].name) == 0)
            return TOKEN_ACTIONS[i].bit;
    return 0;
}

unsigned auth_grant(unsigned requested, unsigned allowed)
{
    unsigned g = requested & allowed;
    if ((requested & AUTH_PULL) && !(allowed & AUTH_PULL))
        g |= allowed & AUTH_META;
    return g;
}

/* ---- mint ---- */

static json_t *claims_json(const auth_claims *c, const char *jti)
{
    static const char *KIND[] = {"anonymous", "admin", "token"};
    json_t *acc = json_array();
    for (size_t i = 0; acc && i < c->naccess; i++) {
        json_t *acts = json_array();
        for (size_t j = 0; acts && j < sizeof(TOKEN_ACTIONS) / sizeof(TOKEN_ACTIONS[0]); j++)
            if (c->access[i].actions & TOKEN_ACTIONS[j].bit)
                json_array_append_new(acts, json_string(TOKEN_ACTIONS[j].name));
        json_array_append_new(acc, json_pack("{s:s,s:s,s:o}", "type", "repository", "name",
                                             c->access[i].name, "actions", acts));
    }
    int kind = c->kind >= AUTH_ANONYMOUS && c->kind <= AUTH_TOKEN ? c->kind : AUTH_ANONYMOUS;
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:I,s:s,s:o}", "iss", "coffer", "sub",
                     c->sub, "aud", c->aud, "iat", (json_int_t)c->iat, "nbf", (json_int_t)c->nbf,
                     "exp", (json_int_t)c->exp, "jti", jti, "rid", c->rid, "cep",
                     (json_int_t)c->cep, "kind", KIND[kind], "access", acc);
}

cf_code auth_token_mint(char **out, const auth_claims *in, int64_t now, cf_err *e)
{
    *out = NULL;
    auth_claims c = *in;
    c.iat = now;
    c.nbf = now;
    c.exp = now + AUTH_TOKEN_TTL;
    if (c.naccess > AUTH_MAX_ACCESS)
        return cf_err_set(e, CF_EINVAL, "too many access entries");
    unsigned char rnd[16];
    char jti[33];
    cf_code rc = keys_random(rnd, sizeof(rnd), e);
    if (rc != CF_OK)
        return rc;
    cf_hex_encode(jti, rnd, sizeof(rnd));
    json_t *j = claims_json(&c, jti);
    char *payload = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (payload == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    cf_buf b;
    cf_buf_init(&b, AUTH_TOKEN_MAX);
    unsigned char mac[32];
    rc = cf_buf_appendf(&b, e, "%s.", HEADER_B64);
    if (rc == CF_OK)
        rc = cf_b64url_encode(&b, (const unsigned char *)payload, strlen(payload), e);
    free(payload);
    if (rc == CF_OK)
        rc = hmac(mac, (const char *)b.data, b.len, e);
    if (rc == CF_OK)
        rc = cf_buf_append(&b, ".", 1, e);
    if (rc == CF_OK)
        rc = cf_b64url_encode(&b, mac, sizeof(mac), e);
    if (rc != CF_OK) {
        cf_buf_free(&b);
        return rc;
    }
    *out = (char *)cf_buf_detach(&b, NULL);
    return CF_OK;
}

/* ---- verify ---- */

static cf_code malformed(cf_err *e, const char *what)
{
    return cf_err_set(e, CF_EAUTH, "token malformed: %s", what);
}

static int get_int(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int get_str(json_t *o, const char *k, char *out, size_t cap)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static cf_code parse_claims(auth_claims *c, json_t *j, cf_err *e)
{
    char iss[16], kind[16];
    if (!json_is_object(j))
        return malformed(e, "claims are not an object");
    if (get_str(j, "iss", iss, sizeof(iss)) != 0 || strcmp(iss, "coffer") != 0)
        return cf_err_set(e, CF_EAUTH, "token issuer not trusted");
    if (get_str(j, "sub", c->sub, sizeof(c->sub)) != 0 ||
        get_str(j, "aud", c->aud, sizeof(c->aud)) != 0 ||
        get_str(j, "rid", c->rid, sizeof(c->rid)) != 0 ||
        get_str(j, "kind", kind, sizeof(kind)) != 0 || get_int(j, "iat", &c->iat) != 0 ||
        get_int(j, "nbf", &c->nbf) != 0 || get_int(j, "exp", &c->exp) != 0 ||
        get_int(j, "cep", &c->cep) != 0)
        return malformed(e, "missing or mistyped claim");
    if (strcmp(kind, "admin") == 0)
        c->kind = AUTH_ADMIN;
    else if (strcmp(kind, "token") == 0)
        c->kind = AUTH_TOKEN;
    else if (strcmp(kind, "anonymous") == 0)
        c->kind = AUTH_ANONYMOUS;
    else
        return malformed(e, "unknown kind");
    json_t *acc = json_object_get(j, "access");
    if (!json_is_array(acc) || json_array_size(acc) > AUTH_MAX_ACCESS)
        return malformed(e, "access");
    size_t i;
    json_t *a;
    json_array_foreach(acc, i, a)
    {
        auth_access *x = &c->access[c->naccess];
        char type[16];
        json_t *acts = json_object_get(a, "actions");
        if (!json_is_object(a) || get_str(a, "type", type, sizeof(type)) != 0 ||
            strcmp(type, "repository") != 0 || get_str(a, "name", x->name, sizeof(x->name)) != 0 ||
            !json_is_array(acts) || json_array_size(acts) > 8)
            return malformed(e, "access entry");
        x->actions = 0;
        size_t k;
        json_t *v;
        json_array_foreach(acts, k, v)
        {
            if (!json_is_string(v))
                return malformed(e, "access action");
            x->actions |= token_action(json_string_value(v));
        }
        c->naccess++;
    }
    return CF_OK;
}

cf_code auth_token_verify(auth_claims *out, const char *tok, size_t len, int64_t now,
                          const char *aud, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > AUTH_TOKEN_MAX)
        return malformed(e, "length");
    const char *d1 = memchr(tok, '.', len);
    if (d1 == NULL)
        return malformed(e, "not three parts");
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
        return malformed(e, "not three parts");
    /* exactly our header: refuses none, HS512, RS256, kid, jku, crit, ... */
    if ((size_t)(d1 - tok) != sizeof(HEADER_B64) - 1 ||
        memcmp(tok, HEADER_B64, sizeof(HEADER_B64) - 1) != 0)
        return cf_err_set(e, CF_EAUTH, "token algorithm not allowed");
    cf_buf sig;
    cf_buf_init(&sig, 64);
    const char *s = d2 + 1;
    size_t slen = len - (size_t)(s - tok);
    cf_err de = {0};
    if (cf_b64url_decode(&sig, s, slen, &de) != CF_OK || sig.len != 32) {
        cf_buf_free(&sig);
        return cf_err_set(e, CF_EAUTH, "token signature invalid");
    }
    unsigned char mac[32];
    cf_code rc = hmac(mac, tok, (size_t)(d2 - tok), e);
    if (rc != CF_OK) {
        cf_buf_free(&sig);
        return rc;
    }
    int same = CRYPTO_memcmp(mac, sig.data, 32) == 0;
    cf_buf_free(&sig);
    if (!same)
        return cf_err_set(e, CF_EAUTH, "token signature invalid");
    /* authentic from here on: we minted it */
    cf_buf pl;
    cf_buf_init(&pl, AUTH_TOKEN_MAX);
    if (cf_b64url_decode(&pl, d1 + 1, (size_t)(d2 - d1 - 1), &de) != CF_OK) {
        cf_buf_free(&pl);
        return malformed(e, "payload encoding");
    }
    json_t *j = json_loadb((const char *)pl.data, pl.len, JSON_REJECT_DUPLICATES, NULL);
    cf_buf_free(&pl);
    if (j == NULL)
        return malformed(e, "payload is not JSON");
    rc = parse_claims(out, j, e);
    json_decref(j);
    if (rc != CF_OK)
        return rc;
    if (aud == NULL || strcmp(out->aud, aud) != 0)
        return cf_err_set(e, CF_EAUTH, "token is for another service");
    if (now >= out->exp + AUTH_SKEW)
        return cf_err_set(e, CF_EAUTH, "token expired");
    if (now + AUTH_SKEW < out->nbf)
        return cf_err_set(e, CF_EAUTH, "token not yet valid");
    return CF_OK;
}

cf_code auth_claims_check(const auth_claims *c, const char *rid, int64_t cep, cf_err *e)
{
    if (rid == NULL || c->rid[0] == '\0' || strcmp(c->rid, rid) != 0)
        return cf_err_set(e, CF_EAUTH, "token is for another registry");
    if (c->cep != cep)
        return cf_err_set(e, CF_EAUTH, "token credentials were revoked");
    return CF_OK;
}

unsigned auth_claims_actions(const auth_claims *c, const char *name)
{
    unsigned a = 0;
    for (size_t i = 0; i < c->naccess && i < AUTH_MAX_ACCESS; i++)
        if (strcmp(c->access[i].name, name) == 0)
            a |= c->access[i].actions;
    return a;
}

/* ---- scopes ---- */

static unsigned scope_actions(const char *s, size_t len)
{
    unsigned a = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        size_t n = j - i;
        const char *w = s + i;
        if (n == 4 && memcmp(w, "pull", 4) == 0)
            a |= AUTH_PULL;
        else if (n == 4 && memcmp(w, "push", 4) == 0)
            a |= AUTH_PUSH;
        else if (n == 6 && memcmp(w, "delete", 6) == 0)
            a |= AUTH_DELETE;
        else if (n == 1 && w[0] == '*')
            a |= AUTH_PULL | AUTH_PUSH | AUTH_DELETE;
        i = j + 1;
    }
    return a;
}

cf_code auth_scope_parse(auth_scope *out, const char *s, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    const char *c1 = memchr(s, ':', len);
    const char *c2 = NULL;
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == ':') {
            c2 = s + i - 1;
            break;
        }
    if (c1 == NULL || c2 == c1)
        return cf_err_set(e, CF_EINVAL, "scope is not type:name:actions");
    size_t tl = (size_t)(c1 - s), nl = (size_t)(c2 - c1 - 1);
    const char *acts = c2 + 1;
    size_t al = len - (size_t)(acts - s);
    if (tl == 8 && memcmp(s, "registry", 8) == 0) {
        if (nl != 7 || memcmp(c1 + 1, "catalog", 7) != 0)
            return cf_err_set(e, CF_EINVAL, "unknown registry scope");
        out->type = AUTH_SCOPE_CATALOG;
        memcpy(out->name, "catalog", 8);
        out->actions = AUTH_META;
        return CF_OK;
    }
    if (tl != 10 || memcmp(s, "repository", 10) != 0)
        return cf_err_set(e, CF_EINVAL, "unknown scope type");
    if (nl > AUTH_NAME_MAX || !oci_name_valid(c1 + 1, nl))
        return cf_err_set(e, CF_EINVAL, "invalid repository name in scope");
    out->type = AUTH_SCOPE_REPOSITORY;
    memcpy(out->name, c1 + 1, nl);
    out->name[nl] = '\0';
    out->actions = scope_actions(acts, al);
    return CF_OK;
}

/* ---- Basic ---- */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with padding (RFC 4648 §4), strict: a length multiple
 * of 4, padding only at the end, zero trailing bits. Returns the decoded
 * length or -1. */
static long b64_decode(unsigned char *out, size_t cap, const char *in, size_t len)
{
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)in[i + k];
            if (ch == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_val(ch)) < 0)
                return -1;
        }
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
                          ((unsigned long)v[2] << 6) | (unsigned long)v[3];
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        size_t n = 3 - (size_t)pad;
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        if (o + n > cap)
            return -2;
        memcpy(out + o, b, n);
        o += n;
    }
    return (long)o;
}

cf_code auth_basic_parse(char user[AUTH_USER_MAX], char pass[AUTH_PASS_MAX], const char *hdr,
                         size_t len, cf_err *e)
{
    user[0] = '\0';
    pass[0] = '\0';
    if (len > AUTH_HEADER_MAX)
        return cf_err_set(e, CF_ETOOBIG, "authorization header too long");
    if (len < 6 || strncasecmp(hdr, "Basic ", 6) != 0)
        return cf_err_set(e, CF_EINVAL, "not Basic credentials");
    size_t i = 6;
    while (i < len && hdr[i] == ' ')
        i++;
    size_t end = len;
    while (end > i && hdr[end - 1] == ' ')
        end--;
    unsigned char raw[AUTH_USER_MAX + AUTH_PASS_MAX + 1];
    long n = b64_decode(raw, sizeof(raw), hdr + i, end - i);
    if (n == -2)
        return cf_err_set(e, CF_ETOOBIG, "credentials too long");
    if (n < 0)
        return cf_err_set(e, CF_EINVAL, "credentials are not base64");
    cf_code rc = CF_OK;
    const unsigned char *colon = memchr(raw, ':', (size_t)n);
    if (colon == NULL || memchr(raw, '\0', (size_t)n) != NULL) {
        rc = cf_err_set(e, CF_EINVAL, "credentials are not user:password");
        goto out;
    }
    size_t ul = (size_t)(colon - raw), pl = (size_t)n - ul - 1;
    if (ul == 0) {
        rc = cf_err_set(e, CF_EINVAL, "empty user name");
        goto out;
    }
    if (ul >= AUTH_USER_MAX || pl >= AUTH_PASS_MAX) {
        rc = cf_err_set(e, CF_ETOOBIG, "credentials too long");
        goto out;
    }
    memcpy(user, raw, ul);
    user[ul] = '\0';
    memcpy(pass, colon + 1, pl);
    pass[pl] = '\0';
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* ---- scope maps ---- */

static int repo_matches(const char *pattern, const char *repo)
{
    size_t pl = strlen(pattern);
    if (pl >= 2 && pattern[pl - 2] == '/' && pattern[pl - 1] == '*')
        return strncmp(repo, pattern, pl - 1) == 0 && repo[pl - 1] != '\0';
    return strcmp(pattern, repo) == 0;
}

unsigned auth_scope_map_actions(const char *scope_json, const char *repo)
{
    static const struct {
        const char *name;
        unsigned bit;
    } MAP[] = {{"content/read", AUTH_PULL},
               {"content/write", AUTH_PUSH},
               {"content/delete", AUTH_DELETE},
               {"metadata/read", AUTH_META}};
    if (scope_json == NULL || repo == NULL)
        return 0;
    json_t *j = json_loads(scope_json, 0, NULL);
    unsigned a = 0;
    size_t i;
    json_t *ent;
    if (!json_is_array(j)) {
        json_decref(j);
        return 0;
    }
    json_array_foreach(j, i, ent)
    {
        json_t *r = json_object_get(ent, "repository");
        json_t *acts = json_object_get(ent, "actions");
        if (!json_is_string(r) || !json_is_array(acts) || !repo_matches(json_string_value(r), repo))
            continue;
        size_t k;
        json_t *v;
        json_array_foreach(acts, k, v)
        {
            for (size_t m = 0; json_is_string(v) && m < sizeof(MAP) / sizeof(MAP[0]); m++)
                if (strcmp(json_string_value(v), MAP[m].name) == 0)
                    a |= MAP[m].bit;
        }
    }
    json_decref(j);
    return a;
}

/* ---- the challenge ---- */

int auth_host_valid(const char *host)
{
    if (host == NULL)
        return 0;
    size_t len = strlen(host);
    if (len == 0 || len >= AUTH_SERVICE_MAX)
        return 0;
    size_t i = 0;
    if (host[0] == '[') {
        for (i = 1; i < len && host[i] != ']'; i++)
            if (!((host[i] >= '0' && host[i] <= '9') || (host[i] >= 'a' && host[i] <= 'f') ||
                  (host[i] >= 'A' && host[i] <= 'F') || host[i] == ':' || host[i] == '.'))
                return 0;
        if (i == len || i == 1)
            return 0;
        i++; /* past ']' */
    } else {
        for (; i < len && host[i] != ':'; i++)
            if (!((host[i] >= '0' && host[i] <= '9') || (host[i] >= 'a' && host[i] <= 'z') ||
                  (host[i] >= 'A' && host[i] <= 'Z') || host[i] == '.' || host[i] == '-'))
                return 0;
        if (i == 0 || host[0] == '.' || host[0] == '-')
            return 0;
    }
    if (i == len)
        return 1;
    if (host[i] != ':' || len - i - 1 == 0 || len - i - 1 > 5)
        return 0;
    unsigned long port = 0;
    for (i++; i < len; i++) {
        if (host[i] < '0' || host[i] > '9')
            return 0;
        port = port * 10 + (unsigned long)(host[i] - '0');
    }
    return port <= 65535;
}

int auth_service_valid(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len >= AUTH_SERVICE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

void auth_challenge(char *out, size_t cap, const auth_challenge_args *a)
{
    int n = snprintf(out, cap, "Bearer realm=\"%s://%s/oauth2/token\",service=\"%s\"", a->scheme,
                     a->host, a->service);
    if (n < 0 || (size_t)n >= cap)
        return;
    if (a->name) {
        const char *acts = (a->need & AUTH_PUSH)     ? "pull,push"
                           : (a->need & AUTH_DELETE) ? "delete"
                                                     : "pull";
        int m =
            snprintf(out + n, cap - (size_t)n, ",scope=\"repository:%s:%s%s%s%s\"", a->name, acts,
                     a->from ? " repository:" : "", a->from ? a->from : "", a->from ? ":pull" : "");
        if (m < 0 || (size_t)m >= cap - (size_t)n)
            return;
        n += m;
    }
    if (a->error)
        snprintf(out + n, cap - (size_t)n, ",error=\"%s\"", a->error);
}
