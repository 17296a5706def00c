/*
 * test_auth.c -- registry tokens (mint, verify, every tampering refused),
 * Docker scope strings, Basic headers, scope maps, the challenge.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/buf.h"
#include "base/enc.h"
#include "registry/auth.h"

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcdef";
static const int64_t NOW = 1900000000;
#define RID "0123456789abcdef0123456789abcdef"
#define AUD "127.0.0.1:5000" /* the data plane's service */

static void setup(void)
{
    auth_set_key(KEY);
}

static void teardown(void)
{
    auth_shutdown();
}

static auth_claims sample(void)
{
    auth_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "reader");
    snprintf(c.aud, sizeof(c.aud), AUD);
    snprintf(c.rid, sizeof(c.rid), RID);
    c.kind = AUTH_TOKEN;
    c.cep = 7;
    c.naccess = 1;
    snprintf(c.access[0].name, sizeof(c.access[0].name), "demo1/app");
    c.access[0].actions = AUTH_PULL;
    return c;
}

static char *mint(const auth_claims *c, int64_t now)
{
    char *t = NULL;
    cf_err e = {0};
    cr_assert_eq(auth_token_mint(&t, c, now, &e), CF_OK, "%s", e.msg);
    return t;
}

static cf_code verify(const char *t, int64_t now, auth_claims *out, cf_err *e)
{
    return auth_token_verify(out, t, strlen(t), now, AUD, e);
}

static char *b64url(const void *p, size_t len)
{
    cf_buf b;
    cf_buf_init(&b, 0);
    cr_assert_eq(cf_b64url_encode(&b, p, len, NULL), CF_OK);
    return (char *)cf_buf_detach(&b, NULL);
}

/* header.payload signed with KEY (a forger who knows the key would still
 * be refused for anything but our header). */
static char *forge(const char *header_json, const char *payload_json, const unsigned char *key)
{
    char *h = b64url(header_json, strlen(header_json));
    char *p = b64url(payload_json, strlen(payload_json));
    size_t n = strlen(h) + strlen(p) + 2;
    char *hp = malloc(n);
    snprintf(hp, n, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, 32, (unsigned char *)hp, strlen(hp), mac, &ml);
    char *s = b64url(mac, sizeof(mac));
    size_t m = strlen(hp) + strlen(s) + 2;
    char *t = malloc(m);
    snprintf(t, m, "%s.%s", hp, s);
    free(h);
    free(p);
    free(hp);
    free(s);
    return t;
}

static const char PAYLOAD[] =
    "{\"iss\":\"coffer\",\"sub\":\"reader\",\"aud\":\"" AUD
    "\",\"iat\":1900000000,\"nbf\":1900000000,"
    "\"exp\":1900003600,\"jti\":\"j\",\"rid\":\"" RID "\",\"cep\":7,\"kind\":\"token\","
    "\"access\":[{\"type\":\"repository\",\"name\":\"demo1/app\",\"actions\":[\"pull\"]}]}";

TestSuite(registry_auth, .init = setup, .fini = teardown);

Test(registry_auth, mint_verify_round_trip)
{
    auth_claims c = sample();
    c.naccess = 2;
    snprintf(c.access[1].name, sizeof(c.access[1].name), "demo1/other");
    c.access[1].actions = AUTH_PUSH | AUTH_DELETE | AUTH_META;
    char *t = mint(&c, NOW);
    auth_claims v;
    cf_err e = {0};
    cr_assert_eq(verify(t, NOW, &v, &e), CF_OK, "%s", e.msg);
    cr_assert_str_eq(v.sub, "reader");
    cr_assert_str_eq(v.aud, "127.0.0.1:5000");
    cr_assert_str_eq(v.rid, RID);
    cr_assert_eq(v.kind, AUTH_TOKEN);
    cr_assert_eq(v.cep, 7);
    cr_assert_eq(v.exp, NOW + AUTH_TOKEN_TTL);
    cr_assert_eq(v.naccess, 2);
    cr_assert_eq(auth_claims_actions(&v, "demo1/app"), AUTH_PULL);
    cr_assert_eq(auth_claims_actions(&v, "demo1/other"), AUTH_PUSH | AUTH_DELETE | AUTH_META);
    cr_assert_eq(auth_claims_actions(&v, "demo1/ap"), 0);
    cr_assert_eq(auth_claims_check(&v, RID, 7, NULL), CF_OK);
    /* the header is exactly {"alg":"HS256","typ":"JWT"} */
    cr_assert_eq(strncmp(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);
    free(t);
}

Test(registry_auth, a_forged_token_with_our_header_verifies)
{
    /* the test's forge() is right: with our header and key, it passes */
    char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PAYLOAD, KEY);
    auth_claims v;
    cf_err e = {0};
    cr_assert_eq(verify(t, NOW, &v, &e), CF_OK, "%s", e.msg);
    free(t);
}

Test(registry_auth, refuses_other_algorithms_and_headers)
{
    const char *headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k\"}",
        "{\"alg\":\"HS256\"}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *t = forge(headers[i], PAYLOAD, KEY);
        auth_claims v;
        cf_err e = {0};
        cr_assert_eq(verify(t, NOW, &v, &e), CF_EAUTH, "%s accepted", headers[i]);
        cr_assert_str_eq(e.msg, "token algorithm not allowed");
        free(t);
    }
    /* alg none with an empty signature */
    char *h = b64url("{\"alg\":\"none\"}", 14);
    char *p = b64url(PAYLOAD, strlen(PAYLOAD));
    char t[4096];
    snprintf(t, sizeof(t), "%s.%s.", h, p);
    auth_claims v;
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    free(h);
    free(p);
}

Test(registry_auth, refuses_bad_signatures)
{
    unsigned char other[32];
    memset(other, 'k', sizeof(other));
    char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PAYLOAD, other);
    auth_claims v;
    cf_err e = {0};
    cr_assert_eq(verify(t, NOW, &v, &e), CF_EAUTH);
    cr_assert_str_eq(e.msg, "token signature invalid");
    free(t);

    auth_claims c = sample();
    t = mint(&c, NOW);
    size_t n = strlen(t);
    /* flip one signature character */
    char saved = t[n - 2];
    t[n - 2] = saved == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    t[n - 2] = saved;
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_OK);
    /* a payload character changed: the HMAC no longer matches */
    char *dot = strchr(t, '.');
    saved = dot[5];
    dot[5] = saved == 'a' ? 'b' : 'a';
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    dot[5] = saved;
    /* truncated: no signature, half a signature, two parts, empty */
    char *last = strrchr(t, '.');
    cr_assert_eq(auth_token_verify(&v, t, (size_t)(last - t) + 1, NOW, AUD, NULL), CF_EAUTH);
    cr_assert_eq(auth_token_verify(&v, t, n - 10, NOW, AUD, NULL), CF_EAUTH);
    cr_assert_eq(auth_token_verify(&v, t, (size_t)(last - t), NOW, AUD, NULL), CF_EAUTH);
    cr_assert_eq(auth_token_verify(&v, t, 0, NOW, AUD, NULL), CF_EAUTH);
    /* a fourth part */
    char four[AUTH_TOKEN_MAX + 16];
    snprintf(four, sizeof(four), "%s.x", t);
    cr_assert_eq(verify(four, NOW, &v, NULL), CF_EAUTH);
    free(t);
}

Test(registry_auth, refuses_under_another_key)
{
    auth_claims c = sample();
    char *t = mint(&c, NOW);
    unsigned char other[32];
    memset(other, 1, sizeof(other));
    auth_set_key(other); /* a restart with another SRK */
    auth_claims v;
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    free(t);
}

Test(registry_auth, expiry_and_not_before_with_skew)
{
    auth_claims c = sample();
    char *t = mint(&c, NOW);
    auth_claims v;
    cf_err e = {0};
    cr_assert_eq(verify(t, NOW + AUTH_TOKEN_TTL + AUTH_SKEW - 1, &v, NULL), CF_OK);
    cr_assert_eq(verify(t, NOW + AUTH_TOKEN_TTL + AUTH_SKEW, &v, &e), CF_EAUTH);
    cr_assert_str_eq(e.msg, "token expired");
    cr_assert_eq(verify(t, NOW - AUTH_SKEW, &v, NULL), CF_OK);
    cf_err_clear(&e);
    cr_assert_eq(verify(t, NOW - AUTH_SKEW - 1, &v, &e), CF_EAUTH);
    cr_assert_str_eq(e.msg, "token not yet valid");
    free(t);
}

Test(registry_auth, bound_to_registry_and_credential_epoch)
{
    auth_claims c = sample();
    char *t = mint(&c, NOW);
    auth_claims v;
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_OK);
    cf_err e = {0};
    cr_assert_eq(auth_claims_check(&v, "ffffffffffffffffffffffffffffffff", 7, &e), CF_EAUTH);
    cr_assert_str_eq(e.msg, "token is for another registry");
    cf_err_clear(&e);
    cr_assert_eq(auth_claims_check(&v, RID, 8, &e), CF_EAUTH);
    cr_assert_str_eq(e.msg, "token credentials were revoked");
    cr_assert_eq(auth_claims_check(&v, RID, 6, NULL), CF_EAUTH);
    free(t);
    /* a token without a registry (anonymous, no scope) binds to none */
    c.rid[0] = '\0';
    t = mint(&c, NOW);
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_OK);
    cr_assert_eq(auth_claims_check(&v, "", 7, NULL), CF_EAUTH);
    free(t);
}

Test(registry_auth, missing_action_grants_nothing)
{
    auth_claims c = sample();
    char *t = mint(&c, NOW);
    auth_claims v;
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_OK);
    unsigned a = auth_claims_actions(&v, "demo1/app");
    cr_assert(a & AUTH_PULL);
    cr_assert_eq(a & AUTH_PUSH, 0);
    cr_assert_eq(a & AUTH_DELETE, 0);
    cr_assert_eq(auth_claims_actions(&v, "demo2/app"), 0);
    cr_assert_eq(auth_claims_actions(&v, "app"), 0);
    free(t);
}

Test(registry_auth, refuses_malformed_claims_even_when_signed)
{
    const char *payloads[] = {
        "[]",
        "{\"iss\":\"other\",\"sub\":\"a\"}",
        "{\"iss\":\"coffer\"}",
        /* exp as a string */
        "{\"iss\":\"coffer\",\"sub\":\"r\",\"aud\":\"x\",\"iat\":1,\"nbf\":1,\"exp\":\"9\","
        "\"rid\":\"r\",\"cep\":1,\"kind\":\"admin\",\"access\":[]}",
        /* unknown kind */
        "{\"iss\":\"coffer\",\"sub\":\"r\",\"aud\":\"x\",\"iat\":1,\"nbf\":1,\"exp\":1900003600,"
        "\"rid\":\"r\",\"cep\":1,\"kind\":\"root\",\"access\":[]}",
        /* access entry of another type */
        "{\"iss\":\"coffer\",\"sub\":\"r\",\"aud\":\"x\",\"iat\":1,\"nbf\":1,\"exp\":1900003600,"
        "\"rid\":\"r\",\"cep\":1,\"kind\":\"admin\",\"access\":[{\"type\":\"registry\","
        "\"name\":\"catalog\",\"actions\":[\"*\"]}]}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i], KEY);
        auth_claims v;
        cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH, "payload %zu accepted", i);
        free(t);
    }
}

Test(registry_auth, refuses_without_a_key)
{
    auth_claims c = sample();
    char *t = mint(&c, NOW);
    auth_shutdown();
    auth_claims v;
    cr_assert_neq(verify(t, NOW, &v, NULL), CF_OK);
    free(t);
}

Test(registry_auth, refuses_a_huge_token)
{
    size_t n = AUTH_TOKEN_MAX + 1;
    char *t = malloc(n + 1);
    memset(t, 'a', n);
    t[n] = '\0';
    auth_claims v;
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    free(t);
}

/* ---- scopes ---- */

static auth_scope scope(const char *s, cf_code want)
{
    auth_scope sc;
    cf_err e = {0};
    cr_assert_eq(auth_scope_parse(&sc, s, strlen(s), &e), want, "%s: %s", s, e.msg);
    return sc;
}

Test(registry_auth, scope_strings)
{
    auth_scope s = scope("repository:demo1/app:pull", CF_OK);
    cr_assert_eq(s.type, AUTH_SCOPE_REPOSITORY);
    cr_assert_str_eq(s.name, "demo1/app");
    cr_assert_eq(s.actions, AUTH_PULL);
    s = scope("repository:demo1/team/app:pull,push", CF_OK);
    cr_assert_str_eq(s.name, "demo1/team/app");
    cr_assert_eq(s.actions, AUTH_PULL | AUTH_PUSH);
    s = scope("repository:a:delete", CF_OK);
    cr_assert_eq(s.actions, AUTH_DELETE);
    s = scope("repository:a:*", CF_OK);
    cr_assert_eq(s.actions, AUTH_PULL | AUTH_PUSH | AUTH_DELETE);
    s = scope("repository:a:pull,frobnicate,,", CF_OK);
    cr_assert_eq(s.actions, AUTH_PULL);
    s = scope("repository:a:", CF_OK);
    cr_assert_eq(s.actions, 0);
    s = scope("registry:catalog:*", CF_OK);
    cr_assert_eq(s.type, AUTH_SCOPE_CATALOG);
    scope("repository:Demo/App:pull", CF_EINVAL);
    scope("repository::pull", CF_EINVAL);
    scope("repository:a", CF_EINVAL);
    scope("repository", CF_EINVAL);
    scope("", CF_EINVAL);
    scope("registry:other:*", CF_EINVAL);
    scope("image:a:pull", CF_EINVAL);
    scope("repository:host:5000/a:pull", CF_EINVAL);
}

Test(registry_auth, grant_is_the_intersection)
{
    cr_assert_eq(auth_grant(AUTH_PULL | AUTH_PUSH, AUTH_PULL), AUTH_PULL);
    cr_assert_eq(auth_grant(AUTH_PULL | AUTH_PUSH, AUTH_ALL), AUTH_PULL | AUTH_PUSH);
    cr_assert_eq(auth_grant(AUTH_PUSH, AUTH_PULL | AUTH_META), 0);
    cr_assert_eq(auth_grant(AUTH_PULL, AUTH_META), AUTH_META);
    cr_assert_eq(auth_grant(AUTH_PULL, 0), 0);
}

/* ---- Basic ---- */

static cf_code basic(const char *h, char *user, char *pass)
{
    return auth_basic_parse(user, pass, h, strlen(h), NULL);
}

Test(registry_auth, basic_headers)
{
    char u[AUTH_USER_MAX], p[AUTH_PASS_MAX];
    /* base64("demo1:s3cret:with:colons") */
    cr_assert_eq(basic("Basic ZGVtbzE6czNjcmV0OndpdGg6Y29sb25z", u, p), CF_OK);
    cr_assert_str_eq(u, "demo1");
    cr_assert_str_eq(p, "s3cret:with:colons");
    cr_assert_eq(basic("basic   ZGVtbzE6eA==", u, p), CF_OK); /* demo1:x */
    cr_assert_str_eq(u, "demo1");
    cr_assert_str_eq(p, "x");
    cr_assert_eq(basic("Basic ZGVtbzE6", u, p), CF_OK); /* demo1: (empty password) */
    cr_assert_str_eq(p, "");
    /* malformed base64: bad characters, missing padding, padding inside,
     * base64url alphabet, non-canonical trailing bits */
    cr_assert_eq(basic("Basic ZGVtbzE6eA", u, p), CF_EINVAL);
    cr_assert_eq(basic("Basic ZGVt=bzE6eA==", u, p), CF_EINVAL);
    cr_assert_eq(basic("Basic ZGVtbzE6e!==", u, p), CF_EINVAL);
    cr_assert_eq(basic("Basic ZGVtbzE6eB==", u, p), CF_EINVAL);
    cr_assert_eq(basic("Basic _-_-", u, p), CF_EINVAL);
    cr_assert_eq(basic("Basic ", u, p), CF_EINVAL);
    cr_assert_eq(basic("Basic", u, p), CF_EINVAL);
    /* no colon; empty user; NUL inside */
    cr_assert_eq(basic("Basic ZGVtbzE=", u, p), CF_EINVAL);     /* demo1 */
    cr_assert_eq(basic("Basic OnBhc3M=", u, p), CF_EINVAL);     /* :pass */
    cr_assert_eq(basic("Basic ZGVtAG8xOng=", u, p), CF_EINVAL); /* dem\0o1:x */
    /* other schemes */
    cr_assert_eq(basic("Bearer abc", u, p), CF_EINVAL);
    cr_assert_eq(basic("Digest ZGVtbzE6eA==", u, p), CF_EINVAL);
    cr_assert_str_eq(u, "");
}

Test(registry_auth, basic_refuses_huge_input)
{
    char u[AUTH_USER_MAX], p[AUTH_PASS_MAX];
    /* a header past the cap */
    size_t n = AUTH_HEADER_MAX + 100;
    char *h = malloc(n + 1);
    memcpy(h, "Basic ", 6);
    memset(h + 6, 'A', n - 6);
    h[n] = '\0';
    cr_assert_eq(auth_basic_parse(u, p, h, n, NULL), CF_ETOOBIG);
    /* under the header cap but decoding past the credential caps */
    n = 6 + 1200;
    h[n] = '\0';
    cr_assert_eq(auth_basic_parse(u, p, h, n, NULL), CF_ETOOBIG);
    free(h);
    /* a user name of 64 bytes */
    char raw[80];
    memset(raw, 'u', 64);
    memcpy(raw + 64, ":p", 3);
    char *b = NULL;
    {
        /* standard base64 via OpenSSL */
        unsigned char out[200];
        int ol = EVP_EncodeBlock(out, (unsigned char *)raw, 66);
        b = malloc((size_t)ol + 7);
        snprintf(b, (size_t)ol + 7, "Basic %s", out);
    }
    cr_assert_eq(basic(b, u, p), CF_ETOOBIG);
    free(b);
}

/* ---- scope maps ---- */

Test(registry_auth, scope_maps)
{
    const char *m = "[{\"repository\":\"app\",\"actions\":[\"content/read\"]},"
                    "{\"repository\":\"team/*\",\"actions\":[\"content/read\",\"content/write\"]},"
                    "{\"repository\":\"app\",\"actions\":[\"metadata/read\"]},"
                    "{\"repository\":\"ops\",\"actions\":[\"content/delete\",\"bogus\"]}]";
    cr_assert_eq(auth_scope_map_actions(m, "app"), AUTH_PULL | AUTH_META);
    cr_assert_eq(auth_scope_map_actions(m, "team/x"), AUTH_PULL | AUTH_PUSH);
    cr_assert_eq(auth_scope_map_actions(m, "team/x/y"), AUTH_PULL | AUTH_PUSH);
    cr_assert_eq(auth_scope_map_actions(m, "team"), 0);
    cr_assert_eq(auth_scope_map_actions(m, "teamx/y"), 0);
    cr_assert_eq(auth_scope_map_actions(m, "app2"), 0);
    cr_assert_eq(auth_scope_map_actions(m, "ap"), 0);
    cr_assert_eq(auth_scope_map_actions(m, "ops"), AUTH_DELETE);
    cr_assert_eq(auth_scope_map_actions("not json", "app"), 0);
    cr_assert_eq(auth_scope_map_actions("{}", "app"), 0);
    cr_assert_eq(auth_scope_map_actions(NULL, "app"), 0);
}

/* ---- challenge ---- */

Test(registry_auth, hosts)
{
    cr_assert(auth_host_valid("127.0.0.1:5000"));
    cr_assert(auth_host_valid("localhost"));
    cr_assert(auth_host_valid("demo1.registry.example:443"));
    cr_assert(auth_host_valid("[::1]:5000"));
    cr_assert(auth_host_valid("[::1]"));
    cr_assert(!auth_host_valid(""));
    cr_assert(!auth_host_valid(NULL));
    cr_assert(!auth_host_valid("a\",realm=\"http://evil"));
    cr_assert(!auth_host_valid("host:port"));
    cr_assert(!auth_host_valid("host:99999"));
    cr_assert(!auth_host_valid("host:"));
    cr_assert(!auth_host_valid(":80"));
    cr_assert(!auth_host_valid("a b"));
    cr_assert(!auth_host_valid("[::1"));
    cr_assert(!auth_host_valid("[]:80"));
    cr_assert(!auth_host_valid("evil.com/path"));
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert(!auth_host_valid(big));
}

static void challenge(char *out, size_t cap, const char *scheme, const char *host, const char *name,
                      unsigned need, const char *from, const char *error)
{
    auth_challenge_args a = {.scheme = scheme,
                             .host = host,
                             .service = "registry.example",
                             .name = name,
                             .need = need,
                             .from = from,
                             .error = error};
    auth_challenge(out, cap, &a);
}

Test(registry_auth, challenge_text)
{
    char c[1024];
    /* the realm follows the Host; the service is the one fixed at start */
    challenge(c, sizeof(c), "http", "127.0.0.1:5000", "demo1/app", AUTH_PULL, NULL, NULL);
    cr_assert_str_eq(c, "Bearer realm=\"http://127.0.0.1:5000/oauth2/token\","
                        "service=\"registry.example\",scope=\"repository:demo1/app:pull\"");
    challenge(c, sizeof(c), "http", "h", "a", AUTH_PUSH, NULL, "insufficient_scope");
    cr_assert_str_eq(c, "Bearer realm=\"http://h/oauth2/token\",service=\"registry.example\","
                        "scope=\"repository:a:pull,push\",error=\"insufficient_scope\"");
    challenge(c, sizeof(c), "http", "h", "a", AUTH_DELETE, NULL, NULL);
    cr_assert_str_eq(c, "Bearer realm=\"http://h/oauth2/token\",service=\"registry.example\","
                        "scope=\"repository:a:delete\"");
    challenge(c, sizeof(c), "https", "h", NULL, 0, NULL, NULL);
    cr_assert_str_eq(c, "Bearer realm=\"https://h/oauth2/token\",service=\"registry.example\"");
}

Test(registry_auth, challenge_of_a_mount_asks_pull_on_its_source)
{
    /* as CNCF Distribution: both scopes, space-separated, in one parameter */
    char c[1024];
    challenge(c, sizeof(c), "http", "h", "demo1/dst", AUTH_PUSH, "demo1/src", NULL);
    cr_assert_str_eq(c, "Bearer realm=\"http://h/oauth2/token\",service=\"registry.example\","
                        "scope=\"repository:demo1/dst:pull,push repository:demo1/src:pull\"");
}

Test(registry_auth, service_names)
{
    cr_assert(auth_service_valid("127.0.0.1:5000"));
    cr_assert(auth_service_valid("registry.example.com"));
    cr_assert(auth_service_valid("[::1]:5000"));
    cr_assert(auth_service_valid("coffer_registry-1"));
    cr_assert_not(auth_service_valid(""));
    cr_assert_not(auth_service_valid(NULL));
    cr_assert_not(auth_service_valid("a\"b"));
    cr_assert_not(auth_service_valid("a b"));
    cr_assert_not(auth_service_valid("a,b"));
    char big[AUTH_SERVICE_MAX + 1];
    memset(big, 'a', sizeof(big) - 1);
    big[AUTH_SERVICE_MAX] = '\0';
    cr_assert_not(auth_service_valid(big));
    big[AUTH_SERVICE_MAX - 1] = '\0';
    cr_assert(auth_service_valid(big));
}

Test(registry_auth, a_token_for_another_service_is_refused)
{
    /* docs/security.md: the data plane mints tokens for its own service
     * only and accepts no other aud, whoever signed them */
    auth_claims c = sample();
    snprintf(c.aud, sizeof(c.aud), "evil.example");
    char *t = mint(&c, NOW);
    auth_claims v;
    cf_err e = {0};
    cr_assert_eq(verify(t, NOW, &v, &e), CF_EAUTH);
    cr_assert_str_eq(e.msg, "token is for another service");
    cr_assert_eq(auth_token_verify(&v, t, strlen(t), NOW, "evil.example", NULL), CF_OK);
    cr_assert_eq(auth_token_verify(&v, t, strlen(t), NOW, NULL, NULL), CF_EAUTH);
    free(t);
    /* a prefix or a longer name is another service */
    snprintf(c.aud, sizeof(c.aud), AUD "0");
    t = mint(&c, NOW);
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    free(t);
    snprintf(c.aud, sizeof(c.aud), "127.0.0.1:500");
    t = mint(&c, NOW);
    cr_assert_eq(verify(t, NOW, &v, NULL), CF_EAUTH);
    free(t);
}
