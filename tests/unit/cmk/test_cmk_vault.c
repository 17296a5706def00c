/*
 * test_cmk_vault.c -- the CMK engine against a real keyvaultd (built as
 * build/keyvaultd, or $COFFER_KEYVAULTD), started per test on a free
 * loopback port with its own data directory. The vault's admin token is
 * accepted as a bearer for every key operation, so the test's token
 * function hands it out for the "good" identity and a wrong token for a
 * "bad" one.
 *
 * What it pins: creation refusals with their ARM codes and texts, the
 * round trip of C through wrapKey/unwrapKey, revocation (disabled key,
 * identity unassigned) locking the registry with the contract's lastError
 * and unlocking at the next check, automatic rotation to a new version
 * and manual rotation to another key without changing the KEK, and an
 * unreachable vault serving on from a loaded KEK but not from nothing.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test_tmpdir.h"
#include "base/buf.h"
#include "base/enc.h"
#include "base/log.h"
#include "cmk/cmk.h"
#include "cmk/vaultc.h"
#include "registry/keyring.h"
#include "store/meta.h"

#define CID_GOOD "11111111-1111-4111-8111-111111111111"
#define PID_GOOD "22222222-2222-4222-8222-222222222222"
#define CID_BAD "33333333-3333-4333-8333-333333333333"
#define PID_BAD "44444444-4444-4444-8444-444444444444"
#define V32 "0123456789abcdef0123456789abcdef"
#define REG_ID "0123456789abcdef0123456789abcdef"

static char dir[256], ca[600], admin_token[128];
static pid_t kv_pid;
static int kv_port;

static void kv_start(void)
{
    const char *bin = getenv("COFFER_KEYVAULTD") ? getenv("COFFER_KEYVAULTD") : "build/keyvaultd";
    if (access(bin, X_OK) != 0)
        cr_skip_test("%s not built", bin);
    char data[400], log[400];
    snprintf(data, sizeof(data), "%s/kv", dir);
    snprintf(log, sizeof(log), "%s/kv.log", dir);
    char listen[64] = "127.0.0.1:0";
    if (kv_port)
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", kv_port);
    kv_pid = fork();
    cr_assert(kv_pid >= 0);
    if (kv_pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl(bin, bin, "--data", data, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    /* wait for a "listening" line of this start (the log is appended to) */
    static int starts;
    int want = ++starts, seen = 0;
    for (int i = 0; i < 300 && seen < want; i++) {
        usleep(20000);
        FILE *f = fopen(log, "r");
        char line[2048];
        seen = 0;
        while (f && fgets(line, sizeof(line), f)) {
            const char *p = strstr(line, "\"msg\":\"listening\"");
            const char *q = p ? strstr(line, "\"port\":\"") : NULL;
            if (q) {
                kv_port = (int)strtol(q + 8, NULL, 10);
                seen++;
            }
        }
        if (f)
            fclose(f);
    }
    cr_assert_eq(seen, want, "keyvaultd did not start");
    cr_assert_gt(kv_port, 0, "keyvaultd did not start");
    snprintf(ca, sizeof(ca), "%s/tls/cert.pem", data);
    char tp[420];
    snprintf(tp, sizeof(tp), "%s/admin.token", data);
    FILE *f = fopen(tp, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(admin_token, sizeof(admin_token), f));
    fclose(f);
    admin_token[strcspn(admin_token, "\r\n")] = '\0';
}

static void kv_stop(void)
{
    if (kv_pid > 0) {
        kill(kv_pid, SIGTERM);
        waitpid(kv_pid, NULL, 0);
        kv_pid = 0;
    }
}

typedef struct resp {
    char body[8192];
    size_t len;
} resp;

static size_t rsink(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = s * n;
    if (r->len + k >= sizeof(r->body))
        k = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return s * n;
}

/* One admin call to the vault; host: NULL for 127.0.0.1, else a vault name. */
static long admin(const char *method, const char *vault, const char *path, const char *body,
                  resp *out)
{
    char url[512], auth[200];
    if (vault)
        snprintf(url, sizeof(url), "https://%s.vault.localhost:%d%s", vault, kv_port, path);
    else
        snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", kv_port, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", admin_token);
    resp local;
    resp *r = out ? out : &local;
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rsink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s %s", method, url);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* Creates a key (body: the create request) and returns its versioned kid. */
static void create_key(char kid[512], const char *vault, const char *name, const char *body)
{
    char path[300];
    resp r;
    snprintf(path, sizeof(path), "/keys/%s/create?api-version=7.4", name);
    long st = admin("POST", vault, path, body, &r);
    cr_assert_eq(st, 200, "create key %s: %ld %s", name, st, r.body);
    const char *p = strstr(r.body, "\"kid\":\"");
    cr_assert_not_null(p);
    p += 7;
    size_t n = strcspn(p, "\"");
    cr_assert_lt(n, 512);
    memcpy(kid, p, n);
    kid[n] = '\0';
}

static void set_enabled(const char *kid, int enabled)
{
    vaultc_keyid id;
    cr_assert_eq(vaultc_keyid_parse(&id, kid, NULL), CF_OK);
    char path[300];
    snprintf(path, sizeof(path), "/keys/%s/%s?api-version=7.4", id.name, id.version);
    long st = admin("PATCH", NULL, path,
                    enabled ? "{\"attributes\":{\"enabled\":true}}"
                            : "{\"attributes\":{\"enabled\":false}}",
                    NULL);
    cr_assert_eq(st, 200);
}

static cf_code token_fn(const char *principal_id, const char *client_id, const char *resource,
                        char **out, cf_err *e)
{
    (void)resource;
    if (strcmp(client_id, CID_GOOD) == 0 && strcmp(principal_id, PID_GOOD) == 0)
        *out = strdup(admin_token);
    else
        *out = strdup("not-a-valid-token");
    return *out ? CF_OK : cf_err_set(e, CF_ENOMEM, "oom");
}

static void setup(void)
{
    vaultc_global_init(); /* first, as cofferd's main: libcurl's allocators (base/wipemem.h) */
    test_tmpdir_make(dir, sizeof(dir), "cmk");
    cf_log_threshold = getenv("CMK_TEST_LOGS") ? CF_LOG_DEBUG : CF_LOG_ERROR;
    kv_port = 0;
    kv_start();
    char p[400];
    snprintf(p, sizeof(p), "%s/meta.db", dir);
    cr_assert_eq(meta_init(p, NULL), CF_OK);
    snprintf(p, sizeof(p), "%s/srk", dir);
    cr_assert_eq(keyring_init(p, NULL), CF_OK);
    meta_identity good = {.name = "good", .client_id = CID_GOOD, .principal_id = PID_GOOD};
    meta_identity bad = {.name = "bad", .client_id = CID_BAD, .principal_id = PID_BAD};
    cr_assert_eq(meta_identity_create(&good, NULL), CF_OK);
    cr_assert_eq(meta_identity_create(&bad, NULL), CF_OK);
    cmk_config cfg = {.ca_file = ca, .check_interval_s = 3600, .timeout_s = 5, .token = token_fn};
    cr_assert_eq(cmk_start(&cfg, NULL), CF_OK);
    cr_assert_eq(admin("PATCH", NULL, "/vaults/default",
                       "{\"properties\":{\"enablePurgeProtection\":true}}", NULL),
                 200);
}

static void teardown(void)
{
    cmk_stop();
    keyring_shutdown();
    meta_shutdown();
    kv_stop();
    test_tmpdir_remove(dir);
}

TestSuite(cmk_vault, .init = setup, .fini = teardown, .timeout = 60);

static void new_registry(meta_registry *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", REG_ID);
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->sku, sizeof(r->sku), "Premium");
    snprintf(r->identity_type, sizeof(r->identity_type), "UserAssigned");
    cr_assert_eq(keyring_new_secret(r->wrapped_s, r->id, NULL), CF_OK);
}

static void key_url(char *out, size_t n, const char *name)
{
    snprintf(out, n, "https://127.0.0.1:%d/keys/%s", kv_port, name);
}

static void expect_refusal(meta_registry *reg, const char *kid, const char *identity, int status,
                           const char *code, const char *text)
{
    cmk_fail f;
    cf_err e = {0};
    cr_assert_neq(cmk_prepare(reg, kid, identity, &f, &e), CF_OK, "%s accepted", kid);
    cr_assert_eq(f.status, status, "%s: %d %s %s", kid, f.status, f.code, f.message);
    cr_assert_str_eq(f.code, code, "%s: %s", kid, f.message);
    cr_assert(strstr(f.message, text) != NULL, "%s: '%s' lacks '%s'", kid, f.message, text);
    cr_assert_eq(strncmp(e.msg, f.message, sizeof(e.msg) - 1), 0);
    cr_assert_eq(reg->cmk, 0);
    cr_assert_eq(reg->wrapped_c_len, 0);
}

Test(cmk_vault, creation_refuses_unfit_keys)
{
    meta_registry reg;
    new_registry(&reg, "refusals");
    char kid[512], url[512], want[2048];

    create_key(kid, NULL, "ec1", "{\"kty\":\"EC\",\"crv\":\"P-256\"}");
    key_url(url, sizeof(url), "ec1");
    snprintf(want, sizeof(want),
             "Key '%s' is of type EC: a customer-managed key must be RSA or RSA-HSM.", kid);
    expect_refusal(&reg, url, CID_GOOD, 400, "KeyTypeNotSupported", want);

    create_key(kid, NULL, "signonly",
               "{\"kty\":\"RSA\",\"key_size\":2048,\"key_ops\":[\"sign\",\"verify\",\"wrapKey\"]}");
    key_url(url, sizeof(url), "signonly");
    expect_refusal(&reg, url, CID_GOOD, 400, "KeyOperationsNotAllowed", "does not allow unwrapKey");

    create_key(kid, NULL, "off", "{\"kty\":\"RSA\",\"key_size\":2048}");
    set_enabled(kid, 0);
    expect_refusal(&reg, kid, CID_GOOD, 400, "KeyDisabled", "is disabled");

    cr_assert_eq(admin("PUT", NULL, "/vaults/nopurge",
                       "{\"properties\":{\"tenantId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\"}}",
                       NULL),
                 201);
    create_key(kid, "nopurge", "k", "{\"kty\":\"RSA\",\"key_size\":2048}");
    snprintf(url, sizeof(url), "https://nopurge.vault.localhost:%d/keys/k", kv_port);
    expect_refusal(&reg, url, CID_GOOD, 400, "PurgeProtectionRequired", "Recoverable+Purgeable");

    create_key(kid, NULL, "k1", "{\"kty\":\"RSA\",\"key_size\":2048}");
    key_url(url, sizeof(url), "k1");
    snprintf(want, sizeof(want),
             "Failed to access KeyId '%s'. Verify that identity '" CID_BAD
             "' has 'Get, Wrap Key, Unwrap Key' permission on key '%s'. Vault answered 401 "
             "Unauthorized: ",
             url, url);
    expect_refusal(&reg, url, CID_BAD, 400, "KeyVaultAccessDenied", want);

    key_url(url, sizeof(url), "nosuchkey");
    expect_refusal(&reg, url, CID_GOOD, 400, "KeyVaultAccessDenied",
                   "Vault answered 404 KeyNotFound");

    expect_refusal(&reg, "https://127.0.0.1:1/keys/k1", CID_GOOD, 502, "KeyVaultUnavailable",
                   "The key vault at 127.0.0.1:1 could not be reached");
    expect_refusal(&reg, "http://127.0.0.1/keys/k1", CID_GOOD, 400, "InvalidKeyIdentifier",
                   "https://");
    key_url(url, sizeof(url), "k1");
    expect_refusal(&reg, url, "55555555-5555-4555-8555-555555555555", 400, "IdentityRequired",
                   "identity 55555555-5555-4555-8555-555555555555 no longer exists");
    expect_refusal(&reg, url, "system", 400, "IdentityRequired", "system-assigned");
}

static void row(meta_registry *out)
{
    cr_assert_eq(meta_registry_get_id(out, REG_ID, NULL), CF_OK);
}

static void check(void)
{
    cf_err e = {0};
    cr_assert_eq(cmk_check_now(REG_ID, &e), CF_OK, "%s", e.msg);
}

Test(cmk_vault, lifecycle_revoke_restore_rotate_outage)
{
    meta_registry reg, r;
    char v1[512], v2[512], k2[512], url[512], want[2048];
    create_key(v1, NULL, "k1", "{\"kty\":\"RSA\",\"key_size\":2048}");
    key_url(url, sizeof(url), "k1");
    new_registry(&reg, "lifecycle");

    /* creation: C wrapped under the current version, the KEK only after commit */
    cmk_fail f;
    cf_err e = {0};
    cr_assert_eq(cmk_prepare(&reg, url, CID_GOOD, &f, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(reg.cmk, 1);
    cr_assert_str_eq(reg.key_identifier, url);
    cr_assert_str_eq(reg.versioned_key_identifier, v1);
    cr_assert_str_eq(reg.key_identity, CID_GOOD);
    cr_assert_eq(reg.key_rotation_enabled, 1);
    cr_assert_eq(reg.wrapped_c_len, 256);
    cr_assert_str_eq(reg.key_status, "available");
    seal_kek kek0, kek;
    cr_assert_eq(keyring_kek(&kek0, &reg, NULL), CF_EUNAVAIL);
    const char *names[] = {"good"};
    cr_assert_eq(meta_registry_create(&reg, names, 1, NULL), CF_OK);
    cmk_commit(&reg);
    cr_assert_eq(keyring_kek(&kek0, &reg, NULL), CF_OK);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available");
    cr_assert_str_eq(r.last_error, "");
    cr_assert_gt(r.last_key_check, 0);

    /* revocation: the key disabled locks the registry with the vault's words */
    set_enabled(v1, 0);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "unavailable");
    snprintf(want, sizeof(want),
             "The vault refused unwrapKey on %s for identity " CID_GOOD
             ": 403 Forbidden: Operation unwrapKey is not allowed on a disabled key.",
             v1);
    cr_assert_str_eq(r.last_error, want);
    cf_err ke = {0};
    cr_assert_eq(keyring_kek(&kek, &reg, &ke), CF_EDENIED);
    cr_assert(strstr(ke.msg, "its customer-managed key is not accessible: The vault refused") !=
                  NULL,
              "%s", ke.msg);
    /* nothing to re-wrap while revoked */
    cr_assert_eq(cmk_rotate(REG_ID, NULL, NULL, &f, NULL), CF_ECONFLICT);
    cr_assert_eq(f.status, 409);
    cr_assert_str_eq(f.code, "KeyUnavailable");
    cr_assert(strstr(f.message, want) != NULL, "%s", f.message);

    /* restored at the next check, same KEK */
    set_enabled(v1, 1);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available");
    cr_assert_str_eq(r.last_error, "");
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_OK);
    cr_assert_eq(memcmp(&kek, &kek0, sizeof(kek)), 0);

    /* automatic rotation: a new version is followed; the old one may go */
    create_key(v2, NULL, "k1", "{\"kty\":\"RSA\",\"key_size\":2048}");
    cr_assert_str_neq(v1, v2);
    check();
    row(&r);
    cr_assert_str_eq(r.versioned_key_identifier, v2);
    cr_assert_str_eq(r.key_identifier, url);
    cr_assert_gt(r.last_key_rotation, 0);
    cr_assert_str_eq(r.last_error, "");
    set_enabled(v1, 0);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available", "%s", r.last_error);
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_OK);
    cr_assert_eq(memcmp(&kek, &kek0, sizeof(kek)), 0);

    /* manual rotation to another key, versioned: rotation turns off */
    create_key(k2, NULL, "k2", "{\"kty\":\"RSA\",\"key_size\":3072}");
    cr_assert_eq(cmk_rotate(REG_ID, k2, NULL, &f, &e), CF_OK, "%s", f.message);
    row(&r);
    cr_assert_str_eq(r.key_identifier, k2);
    cr_assert_str_eq(r.versioned_key_identifier, k2);
    cr_assert_eq(r.key_rotation_enabled, 0);
    cr_assert_eq(r.wrapped_c_len, 384);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available", "%s", r.last_error);
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_OK);
    cr_assert_eq(memcmp(&kek, &kek0, sizeof(kek)), 0);
    /* rotation to an identity the vault refuses changes nothing */
    cr_assert_eq(cmk_rotate(REG_ID, NULL, CID_BAD, &f, NULL), CF_EDENIED);
    cr_assert_str_eq(f.code, "KeyVaultAccessDenied");
    row(&r);
    cr_assert_str_eq(r.key_identity, CID_GOOD);

    /* the identity taken away from the registry: denied */
    cr_assert_eq(meta_registry_set_identities(&reg, NULL, 0, NULL), CF_OK);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "unavailable");
    cr_assert_str_eq(r.last_error, "identity " CID_GOOD " is no longer assigned to registry "
                                   "lifecycle");
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_EDENIED);
    /* ... and then deleted */
    cr_assert_eq(meta_identity_delete("good", NULL), CF_OK);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "unavailable");
    cr_assert_str_eq(r.last_error, "identity " CID_GOOD " no longer exists");
    meta_identity good = {.name = "good", .client_id = CID_GOOD, .principal_id = PID_GOOD};
    cr_assert_eq(meta_identity_create(&good, NULL), CF_OK);
    cr_assert_eq(meta_registry_set_identities(&reg, names, 1, NULL), CF_OK);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available");
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_OK);

    /* the vault down: a loaded KEK keeps serving, and says so */
    kv_stop();
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available");
    cr_assert_eq(strncmp(r.last_error, "Key vault unreachable at ", 25), 0, "%s", r.last_error);
    cr_assert(strstr(r.last_error, "; serving from the key loaded at ") != NULL, "%s",
              r.last_error);
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_OK);
    /* ... but nothing is served from nothing (as after a restart) */
    cmk_forget(REG_ID);
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "unavailable");
    cr_assert_eq(strncmp(r.last_error, "Key vault unreachable at ", 25), 0, "%s", r.last_error);
    cr_assert_null(strstr(r.last_error, "serving"));
    cr_assert_eq(keyring_kek(&kek, &reg, &ke), CF_EUNAVAIL);
    /* the vault back on the same port: unlocked at the next check */
    kv_start();
    check();
    row(&r);
    cr_assert_str_eq(r.key_status, "available", "%s", r.last_error);
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_OK);
    cr_assert_eq(memcmp(&kek, &kek0, sizeof(kek)), 0);
}

Test(cmk_vault, vaultc_round_trip_and_tls_trust)
{
    char kid[512];
    create_key(kid, NULL, "rt", "{\"kty\":\"RSA\",\"key_size\":2048}");
    vaultc_opts o = {ca, 5, NULL};
    vaultc_result r;
    vaultc_key k;
    cr_assert_eq(vaultc_get_key(&k, &r, &o, admin_token, kid, NULL), CF_OK, "%s", r.message);
    cr_assert_str_eq(k.kid, kid);
    cr_assert_str_eq(k.kty, "RSA");
    cr_assert_eq(k.enabled, 1);
    cr_assert_eq(k.op_wrap & k.op_unwrap, 1);
    cr_assert_str_eq(k.recovery_level, "Recoverable");

    unsigned char c[32], back[32], w[600];
    size_t wl = 0;
    for (int i = 0; i < 32; i++)
        c[i] = (unsigned char)(i * 7 + 1);
    char wkid[VAULTC_KID_MAX];
    cr_assert_eq(vaultc_wrap(w, sizeof(w), &wl, wkid, &r, &o, admin_token, kid, c, NULL), CF_OK,
                 "%s", r.message);
    cr_assert_eq(wl, 256);
    cr_assert_str_eq(wkid, kid);
    cr_assert_eq(vaultc_unwrap(back, &r, &o, admin_token, kid, w, wl, NULL), CF_OK, "%s",
                 r.message);
    cr_assert_eq(memcmp(back, c, 32), 0);
    w[10] ^= 1;
    cr_assert_neq(vaultc_unwrap(back, &r, &o, admin_token, kid, w, wl, NULL), CF_OK);
    cr_assert_neq(r.cls, VAULTC_OK);

    /* the vault's self-signed certificate is not in the system bundle */
    vaultc_opts sys = {NULL, 5, NULL};
    cr_assert_eq(vaultc_get_key(&k, &r, &sys, admin_token, kid, NULL), CF_EUNAVAIL);
    cr_assert_eq(r.cls, VAULTC_TRANSIENT);
    cr_assert(strstr(r.message, "certificate") != NULL || strstr(r.message, "SSL") != NULL, "%s",
              r.message);
}

/* Occurrences of pat (n bytes) in this process's writable memory, read
 * through /proc/self/mem (so freed heap is read as it lies, and the
 * sanitizers' poisoning does not stop the read), except at skip. Mappings
 * over 1 GiB (the sanitizers' shadow and reserved arenas) are left out. */
static int occurrences(const unsigned char *pat, size_t n, const void *skip)
{
    const size_t cap = (size_t)1 << 20;
    unsigned char *buf =
        mmap(NULL, cap + n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(buf != MAP_FAILED);
    FILE *maps = fopen("/proc/self/maps", "r");
    int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    cr_assert(maps != NULL && fd >= 0);
    int found = 0;
    char line[512];
    while (fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
            perms[1] != 'w' || hi - lo > (1ul << 30) || lo == (unsigned long)buf)
            continue;
        for (unsigned long at = lo; at < hi; at += cap) {
            size_t want = hi - at < cap + n ? hi - at : cap + n; /* n more: a match across */
            ssize_t got = pread(fd, buf, want, (off_t)at);
            if (got <= 0)
                break;
            for (unsigned char *p = buf; (size_t)(p - buf) < (size_t)got; p++) {
                p = memmem(p, (size_t)got - (size_t)(p - buf), pat, n);
                if (p == NULL)
                    break;
                unsigned long where = at + (unsigned long)(p - buf);
                if ((size_t)(p - buf) < cap && where != (unsigned long)skip)
                    found++;
            }
        }
    }
    fclose(maps);
    close(fd);
    explicit_bzero(buf, cap + n);
    munmap(buf, cap + n);
    return found;
}

/* Copies of either half of pat (a copy's first bytes may be overwritten
 * by the allocator's own bookkeeping once freed, the rest still there). */
static int halves(const unsigned char *pat, size_t n)
{
    return occurrences(pat, n / 2, pat) + occurrences(pat + n / 2, n - n / 2, pat + n / 2);
}

/* C travels to the vault (wrapKey) and back (unwrapKey) as base64url in
 * JSON over TLS. The request, the TLS records, libcurl's buffers and the
 * JSON parser's all held that text; none may keep it once the call
 * returns, or C outlives its wipe on revocation in freed memory. */
Test(cmk_vault, no_copy_of_the_secret_outlives_a_vault_call)
{
    char kid[512];
    create_key(kid, NULL, "nocopy", "{\"kty\":\"RSA\",\"key_size\":2048}");
    vaultc_opts o = {ca, 5, NULL};
    vaultc_result r;
    unsigned char c[32], back[32], w[600];
    cr_assert_eq(RAND_bytes(c, sizeof(c)), 1);
    unsigned char pat[64];
    size_t n;
    {
        cf_buf t;
        cf_buf_init(&t, 0);
        t.secret = 1;
        cr_assert_eq(cf_b64url_encode(&t, c, sizeof(c), NULL), CF_OK);
        n = t.len;
        cr_assert(n <= sizeof(pat));
        memcpy(pat, t.data, n);
        cf_buf_free(&t);
    }
    cr_assert_eq(halves(pat, n), 0, "the pattern is new");
    size_t wl = 0;
    cr_assert_eq(vaultc_wrap(w, sizeof(w), &wl, NULL, &r, &o, admin_token, kid, c, NULL), CF_OK,
                 "%s", r.message);
    int after_wrap = halves(pat, n);
    cr_assert_eq(vaultc_unwrap(back, &r, &o, admin_token, kid, w, wl, NULL), CF_OK, "%s",
                 r.message);
    cr_assert_eq(memcmp(back, c, sizeof(c)), 0, "the round trip works");
    int after_unwrap = halves(pat, n);
    cr_assert_eq(after_wrap + after_unwrap, 0,
                 "copies of C's base64url left after wrapKey: %d, after unwrapKey: %d", after_wrap,
                 after_unwrap);
}

/* The parser's side alone, with the answer's members in Azure's order
 * (kid, then value: keyvaultd writes value first, and a longer kid after
 * it overwrites the parser's buffer, which hides the copy from the test
 * above). jansson keeps the last strings it read in its lexer's buffer
 * and frees it unwiped unless its allocators wipe (base/wipemem.h). */
Test(cmk_vault, parsing_an_unwrap_answer_leaves_no_copy_of_the_secret)
{
    unsigned char c[32], out[33];
    cr_assert_eq(RAND_bytes(c, sizeof(c)), 1);
    unsigned char pat[64];
    size_t n, got = 0;
    cf_buf body;
    cf_buf_init(&body, 0);
    body.secret = 1;
    cr_assert_eq(
        cf_buf_append(&body, "{\"kid\":\"https://v.vault.azure.net/keys/k/" V32 "\",\"value\":\"",
                      strlen("{\"kid\":\"https://v.vault.azure.net/keys/k/" V32 "\",\"value\":\""),
                      NULL),
        CF_OK);
    size_t at = body.len;
    cr_assert_eq(cf_b64url_encode(&body, c, sizeof(c), NULL), CF_OK);
    n = body.len - at;
    cr_assert(n <= sizeof(pat));
    memcpy(pat, body.data + at, n);
    cr_assert_eq(cf_buf_append(&body, "\"}", 2, NULL), CF_OK);
    cr_assert_eq(
        vaultc_parse_op(out, sizeof(out), &got, NULL, (const char *)body.data, body.len, NULL),
        CF_OK);
    cf_buf_free(&body);
    cr_assert_eq(got, sizeof(c));
    cr_assert_eq(memcmp(out, c, sizeof(c)), 0);
    int left = halves(pat, n);
    cr_assert_eq(left, 0, "copies of the value's base64url left by the parser: %d", left);
}

Test(cmk_vault, restart_loads_keys_in_the_background_and_stops_promptly)
{
    meta_registry reg;
    char v1[512], url[512];
    create_key(v1, NULL, "k1", "{\"kty\":\"RSA\",\"key_size\":2048}");
    key_url(url, sizeof(url), "k1");
    new_registry(&reg, "restarted");
    cmk_fail f;
    cr_assert_eq(cmk_prepare(&reg, url, CID_GOOD, &f, NULL), CF_OK, "%s", f.message);
    const char *names[] = {"good"};
    cr_assert_eq(meta_registry_create(&reg, names, 1, NULL), CF_OK);
    cmk_commit(&reg);
    seal_kek kek0, kek;
    cr_assert_eq(keyring_kek(&kek0, &reg, NULL), CF_OK);

    /* "restart": the engine and the registry's KEK gone */
    cmk_stop();
    keyring_forget(REG_ID);
    cr_assert_eq(keyring_kek(&kek, &reg, NULL), CF_EUNAVAIL);
    cmk_config cfg = {.ca_file = ca, .check_interval_s = 3600, .timeout_s = 5, .token = token_fn};
    cr_assert_eq(cmk_start(&cfg, NULL), CF_OK);
    int ok = 0;
    for (int i = 0; i < 250 && !ok; i++) {
        usleep(20000);
        ok = keyring_kek(&kek, &reg, NULL) == CF_OK;
    }
    cr_assert(ok, "the first background check did not load the key");
    cr_assert_eq(memcmp(&kek, &kek0, sizeof(kek)), 0);

    /* the thread now sleeps for an hour; stopping does not wait for it */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cmk_stop();
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_assert_lt(s, 1.0, "cmk_stop took %.2f s", s);
}
