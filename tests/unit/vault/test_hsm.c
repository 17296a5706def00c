/*
 * test_hsm.c -- hsm.c against a real SoftHSM2 token. Each test gets a
 * fresh token in a temporary directory (softhsm2.conf + SOFTHSM2_CONF +
 * softhsm2-util --init-token, run with fork/exec), then exercises the
 * module as keyvaultd does. Results are checked with OpenSSL against the
 * public keys, and the token itself is asked whether private values are
 * readable.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "../vcrypto_helpers.h"
#include "vault/hsm.h"
#include "vault/keyops.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define LABEL "coffer-test"
#define PIN "1234"

static char DIR_[64];
static hsm *H;

static void run(char *const argv[])
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", argv[0]);
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        rm_rf(p);
    }
    closedir(d);
    rmdir(path);
}

static void token_setup(void)
{
    snprintf(DIR_, sizeof(DIR_), "/tmp/coffer-hsm-XXXXXX");
    cr_assert_not_null(mkdtemp(DIR_));
    char conf[128], tokens[128];
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", DIR_);
    snprintf(tokens, sizeof(tokens), "%s/tokens", DIR_);
    cr_assert_eq(mkdir(tokens, 0700), 0);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens);
    fclose(f);
    cr_assert_eq(setenv("SOFTHSM2_CONF", conf, 1), 0);
    char *argv[] = {"softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                    "--so-pin",      "5678",         NULL};
    run(argv);
    cf_err e = {0};
    cr_assert_eq(hsm_open(&H, MODULE, LABEL, PIN, &e), CF_OK, "%s", e.msg);
}

static void token_teardown(void)
{
    hsm_close(H);
    H = NULL;
    rm_rf(DIR_);
}

TestSuite(hsm_token, .init = token_setup, .fini = token_teardown);
TestSuite(hsm_rsa, .init = token_setup, .fini = token_teardown);
TestSuite(hsm_ec, .init = token_setup, .fini = token_teardown);
TestSuite(hsm_master, .init = token_setup, .fini = token_teardown);

Test(hsm_token, open_refuses_wrong_pin_unknown_label_and_bad_module)
{
    hsm *h = NULL;
    cf_err e = {0};
    /* H is logged in already; a second handle on the same module shares
     * the login, so test the refusals on a fresh process state: close H. */
    hsm_close(H);
    H = NULL;
    cr_assert_eq(hsm_open(&h, MODULE, LABEL, "0000", &e), CF_EAUTH, "%s", e.msg);
    cr_assert_null(h);
    cf_err_clear(&e);
    cr_assert_eq(hsm_open(&h, MODULE, "no-such-token", PIN, &e), CF_ENOTFOUND);
    cf_err_clear(&e);
    cr_assert_eq(hsm_open(&h, "/nonexistent/module.so", LABEL, PIN, &e), CF_EUNAVAIL);
    cr_assert_eq(hsm_open(&h, MODULE, LABEL, PIN, NULL), CF_OK);
    hsm_close(h);
}

/* A second PKCS#11 view of the same (already logged-in) module: dlopened
 * again, a session of the given flags on the test token. */
static CK_SESSION_HANDLE other_view(void **dl, CK_FUNCTION_LIST_PTR *fp, CK_FLAGS flags)
{
    *dl = dlopen(MODULE, RTLD_NOW);
    cr_assert_not_null(*dl);
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(*dl, "C_GetFunctionList");
    CK_FUNCTION_LIST_PTR f = NULL;
    cr_assert_eq(get(&f), CKR_OK);
    CK_ULONG n = 8;
    CK_SLOT_ID slots[8];
    cr_assert_eq(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    for (CK_ULONG i = 0; i < n && s == CK_INVALID_HANDLE; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, LABEL, 11) == 0)
            cr_assert_eq(f->C_OpenSession(slots[i], flags, NULL, NULL, &s), CKR_OK);
    }
    cr_assert_neq(s, CK_INVALID_HANDLE);
    *fp = f;
    return s;
}

/* The one object matching the two-attribute template t. */
static CK_OBJECT_HANDLE find_one(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *t)
{
    CK_OBJECT_HANDLE o;
    CK_ULONG found = 0;
    cr_assert_eq(f->C_FindObjectsInit(s, t, 2), CKR_OK);
    cr_assert_eq(f->C_FindObjects(s, &o, 1, &found), CKR_OK);
    f->C_FindObjectsFinal(s);
    cr_assert_eq(found, 1, "key object not found (or not logged in)");
    return o;
}

/* The token's own answer on private values: a second PKCS#11 view of the
 * same (already logged-in) module. */
static void assert_not_extractable(CK_OBJECT_CLASS cls, const char *id_hex, const char *label,
                                   CK_ATTRIBUTE_TYPE secret_attr)
{
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s = other_view(&dl, &f, CKF_SERIAL_SESSION);
    unsigned char id[16];
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, 16}};
    if (id_hex) {
        cr_assert_eq(cf_hex_decode(id, 16, id_hex, 32, NULL), CF_OK);
    } else {
        t[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    }
    CK_OBJECT_HANDLE o = find_one(f, s, t);
    unsigned char buf[1024];
    CK_ATTRIBUTE a = {secret_attr, buf, sizeof(buf)};
    CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);
    cr_assert_eq(rv, CKR_ATTRIBUTE_SENSITIVE, "token released a private value (rv 0x%lx)", rv);
    cr_assert_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, tok = CK_FALSE;
    CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sens, sizeof(sens)},
                            {CKA_EXTRACTABLE, &extr, sizeof(extr)},
                            {CKA_TOKEN, &tok, sizeof(tok)}};
    cr_assert_eq(f->C_GetAttributeValue(s, o, flags, 3), CKR_OK);
    cr_assert_eq(sens, CK_TRUE);
    cr_assert_eq(extr, CK_FALSE);
    cr_assert_eq(tok, CK_TRUE);
    f->C_CloseSession(s);
    dlclose(dl);
}

static void decrypt_round_trip(const char *id, EVP_PKEY *pub, keyops_enc_alg alg, size_t len)
{
    unsigned char msg[512];
    for (size_t i = 0; i < len; i++)
        msg[i] = (unsigned char)(i * 7 + 1);
    cf_buf ct, pt;
    cf_buf_init(&ct, 0);
    cf_buf_init(&pt, 0);
    pt.secret = 1;
    cr_assert_eq(keyops_wrap(&ct, pub, alg, msg, len, NULL), CF_OK);
    cf_err e = {0};
    cr_assert_eq(hsm_key_decrypt(&pt, H, id, alg, ct.data, ct.len, &e), CF_OK, "%s len %zu: %s",
                 keyops_enc_alg_name(alg), len, e.msg);
    cr_assert_eq(pt.len, len, "%s", keyops_enc_alg_name(alg));
    cr_assert(len == 0 || memcmp(pt.data, msg, len) == 0);
    /* tampered: one bit anywhere, one code, one message, no output */
    size_t spots[] = {0, ct.len / 2, ct.len - 1};
    for (int i = 0; i < 3; i++) {
        ct.data[spots[i]] ^= 0x10;
        cf_buf_reset(&pt);
        cf_err te = {0};
        cr_assert_eq(hsm_key_decrypt(&pt, H, id, alg, ct.data, ct.len, &te), CF_EINTEGRITY,
                     "%s tampered at %zu", keyops_enc_alg_name(alg), spots[i]);
        cr_assert_str_eq(te.msg, "decryption failed");
        cr_assert_eq(pt.len, 0);
        ct.data[spots[i]] ^= 0x10;
    }
    cf_err te = {0};
    cr_assert_eq(hsm_key_decrypt(&pt, H, id, alg, ct.data, ct.len - 1, &te), CF_EINTEGRITY);
    cr_assert_str_eq(te.msg, "decryption failed");
    cf_buf_free(&ct);
    cf_buf_free(&pt);
}

static void sign_and_verify(const char *id, EVP_PKEY *pub, keyops_sig_alg alg)
{
    unsigned char d[64];
    size_t dl = keyops_sig_alg_digest_len(alg);
    vc_sha(d, dl == 32 ? "SHA256" : dl == 48 ? "SHA384" : "SHA512", "hsm", 3);
    cf_buf sig;
    cf_buf_init(&sig, 0);
    cf_err e = {0};
    cr_assert_eq(hsm_key_sign(&sig, H, id, alg, d, dl, &e), CF_OK, "%s: %s",
                 keyops_sig_alg_name(alg), e.msg);
    int ok = 0;
    cr_assert_eq(keyops_verify(&ok, pub, alg, d, dl, sig.data, sig.len, NULL), CF_OK);
    cr_assert_eq(ok, 1, "%s signature from the token does not verify", keyops_sig_alg_name(alg));
    d[3] ^= 1;
    cr_assert_eq(keyops_verify(&ok, pub, alg, d, dl, sig.data, sig.len, NULL), CF_OK);
    cr_assert_eq(ok, 0);
    cf_buf_free(&sig);
}

Test(hsm_rsa, generates_a_sensitive_key_pair_and_decrypts_and_signs_in_the_token)
{
    char id[HSM_ID_HEX_LEN + 1];
    EVP_PKEY *pub = NULL, *again = NULL;
    cf_err e = {0};
    cr_assert_eq(hsm_key_generate_rsa(id, &pub, H, 2048, "k1", &e), CF_OK, "%s", e.msg);
    cr_assert_eq(strlen(id), 32);
    cr_assert_eq(EVP_PKEY_get_bits(pub), 2048);
    cr_assert_eq(hsm_key_public(&again, H, id, NULL), CF_OK);
    cr_assert_eq(EVP_PKEY_eq(pub, again), 1);
    assert_not_extractable(CKO_PRIVATE_KEY, id, NULL, CKA_PRIVATE_EXPONENT);

    cr_assert_eq(hsm_oaep256_native(H), -1);
    /* OAEP-256: SoftHSM 2.6.1 refuses SHA-256 OAEP, so this exercises the
     * raw RSA + software decoding path; lengths 0, 1, 32 and the maximum */
    decrypt_round_trip(id, pub, KEYOPS_RSA_OAEP_256, 32);
    cr_assert_eq(hsm_oaep256_native(H), 0);
    decrypt_round_trip(id, pub, KEYOPS_RSA_OAEP_256, 0);
    decrypt_round_trip(id, pub, KEYOPS_RSA_OAEP_256, 1);
    decrypt_round_trip(id, pub, KEYOPS_RSA_OAEP_256, 256 - 66);
    decrypt_round_trip(id, pub, KEYOPS_RSA_OAEP, 32);
    decrypt_round_trip(id, pub, KEYOPS_RSA1_5, 32);
    /* a SHA-1 OAEP ciphertext is not an OAEP-256 one */
    cf_buf ct, pt;
    cf_buf_init(&ct, 0);
    cf_buf_init(&pt, 0);
    cr_assert_eq(keyops_wrap(&ct, pub, KEYOPS_RSA_OAEP, (const unsigned char *)"x", 1, NULL),
                 CF_OK);
    cr_assert_eq(hsm_key_decrypt(&pt, H, id, KEYOPS_RSA_OAEP_256, ct.data, ct.len, &e),
                 CF_EINTEGRITY);
    cf_buf_free(&ct);
    cf_buf_free(&pt);

    sign_and_verify(id, pub, KEYOPS_RS256);
    sign_and_verify(id, pub, KEYOPS_RS384);
    sign_and_verify(id, pub, KEYOPS_RS512);
    sign_and_verify(id, pub, KEYOPS_PS256);
    sign_and_verify(id, pub, KEYOPS_PS512);
    cf_buf sig;
    cf_buf_init(&sig, 0);
    unsigned char d[32] = {0};
    cr_assert_eq(hsm_key_sign(&sig, H, id, KEYOPS_ES256, d, 32, NULL), CF_EINVAL);
    cr_assert_eq(hsm_key_sign(&sig, H, id, KEYOPS_RS256, d, 31, NULL), CF_EINVAL);
    cf_buf_free(&sig);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(again);
}

Test(hsm_rsa, keys_survive_reopen_and_destroy_removes_them)
{
    char id[HSM_ID_HEX_LEN + 1];
    EVP_PKEY *pub = NULL, *again = NULL;
    cr_assert_eq(hsm_key_generate_rsa(id, &pub, H, 2048, "k2", NULL), CF_OK);
    hsm_close(H);
    cr_assert_eq(hsm_open(&H, MODULE, LABEL, PIN, NULL), CF_OK);
    cr_assert_eq(hsm_key_public(&again, H, id, NULL), CF_OK);
    cr_assert_eq(EVP_PKEY_eq(pub, again), 1);
    decrypt_round_trip(id, pub, KEYOPS_RSA_OAEP_256, 32);
    cr_assert_eq(hsm_key_destroy(H, id, NULL), CF_OK);
    EVP_PKEY_free(again);
    again = NULL;
    cr_assert_eq(hsm_key_public(&again, H, id, NULL), CF_ENOTFOUND);
    cr_assert_eq(hsm_key_destroy(H, id, NULL), CF_ENOTFOUND);
    cf_buf pt;
    cf_buf_init(&pt, 0);
    unsigned char c[256] = {1};
    cr_assert_eq(hsm_key_decrypt(&pt, H, id, KEYOPS_RSA_OAEP, c, 256, NULL), CF_ENOTFOUND);
    cr_assert_eq(hsm_key_decrypt(&pt, H, "zz", KEYOPS_RSA_OAEP, c, 256, NULL), CF_EINVAL);
    cr_assert_eq(hsm_key_generate_rsa(id, &again, H, 1024, "small", NULL), CF_EINVAL);
    EVP_PKEY_free(pub);
}

static void mgf1(unsigned char *out, size_t len, const unsigned char *seed, size_t seed_len)
{
    unsigned char in[600], md[32];
    memcpy(in, seed, seed_len);
    for (unsigned c = 0; len > 0; c++) {
        in[seed_len] = (unsigned char)(c >> 24);
        in[seed_len + 1] = (unsigned char)(c >> 16);
        in[seed_len + 2] = (unsigned char)(c >> 8);
        in[seed_len + 3] = (unsigned char)c;
        vc_sha(md, "SHA256", in, seed_len + 4);
        size_t n = len < 32 ? len : 32;
        memcpy(out, md, n);
        out += n;
        len -= n;
    }
}

enum em_fault { EM_OK, EM_Y_NONZERO, EM_BAD_LHASH, EM_PS_GARBAGE, EM_NO_SEPARATOR };

/* A hand-made OAEP-SHA-256 encoding (RFC 8017 §7.1.1) of msg, optionally
 * broken in one way, raw-RSA encrypted with the public key: feeds the
 * software decoder exactly the fault we want. */
static cf_buf craft(EVP_PKEY *pub, const unsigned char *msg, size_t mlen, enum em_fault fault)
{
    size_t k = (size_t)EVP_PKEY_get_size(pub), db_len = k - 33;
    unsigned char em[512], db[512], seed[32], mask[512];
    memset(db, 0, sizeof(db));
    vc_sha(db, "SHA256", "", 0);
    if (fault == EM_BAD_LHASH)
        db[5] ^= 1;
    if (fault != EM_NO_SEPARATOR)
        db[db_len - mlen - 1] = 0x01;
    if (fault == EM_PS_GARBAGE)
        db[40] = 0x02;
    memcpy(db + db_len - mlen, msg, mlen);
    cr_assert_eq(RAND_bytes(seed, 32), 1);
    mgf1(mask, db_len, seed, 32);
    for (size_t i = 0; i < db_len; i++)
        em[33 + i] = db[i] ^ mask[i];
    mgf1(mask, 32, em + 33, db_len);
    for (size_t i = 0; i < 32; i++)
        em[1 + i] = seed[i] ^ mask[i];
    em[0] = fault == EM_Y_NONZERO ? 0x01 : 0x00;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    cr_assert_eq(EVP_PKEY_encrypt_init(ctx), 1);
    cr_assert_gt(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 0);
    cf_buf ct;
    cf_buf_init(&ct, 0);
    cr_assert_eq(cf_buf_reserve(&ct, k, NULL), CF_OK);
    size_t n = k;
    cr_assert_eq(EVP_PKEY_encrypt(ctx, ct.data, &n, em, k), 1);
    ct.len = n;
    EVP_PKEY_CTX_free(ctx);
    return ct;
}

Test(hsm_rsa, software_oaep256_decoder_accepts_only_well_formed_encodings)
{
    char id[HSM_ID_HEX_LEN + 1];
    EVP_PKEY *pub = NULL;
    cr_assert_eq(hsm_key_generate_rsa(id, &pub, H, 2048, "oaep", NULL), CF_OK);
    const unsigned char msg[] = "thirty-two bytes of wrapped key!";
    struct {
        enum em_fault fault;
        size_t mlen;
    } cases[] = {{EM_OK, 32},          {EM_OK, 0},           {EM_OK, 190},
                 {EM_Y_NONZERO, 32},   {EM_BAD_LHASH, 32},   {EM_PS_GARBAGE, 32},
                 {EM_NO_SEPARATOR, 0}, {EM_NO_SEPARATOR, 32}};
    unsigned char big[190];
    memset(big, 0xab, sizeof(big));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const unsigned char *m = cases[i].mlen > 32 ? big : msg;
        cf_buf ct = craft(pub, m, cases[i].mlen, cases[i].fault), pt;
        cf_buf_init(&pt, 0);
        cf_err e = {0};
        cf_code rc = hsm_key_decrypt(&pt, H, id, KEYOPS_RSA_OAEP_256, ct.data, ct.len, &e);
        if (cases[i].fault == EM_OK) {
            cr_assert_eq(rc, CF_OK, "case %zu: %s", i, e.msg);
            cr_assert_eq(pt.len, cases[i].mlen, "case %zu", i);
            cr_assert(pt.len == 0 || memcmp(pt.data, m, pt.len) == 0, "case %zu", i);
        } else {
            cr_assert_eq(rc, CF_EINTEGRITY, "case %zu accepted", i);
            cr_assert_str_eq(e.msg, "decryption failed");
            cr_assert_eq(pt.len, 0);
        }
        cf_buf_free(&pt);
        cf_buf_free(&ct);
    }
    cr_assert_eq(hsm_oaep256_native(H), 0);
    EVP_PKEY_free(pub);
}

struct worker {
    const char *id;
    EVP_PKEY *pub;
    int ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    w->ok = 1;
    for (int i = 0; i < 5; i++) {
        unsigned char msg[32];
        memset(msg, i, sizeof(msg));
        cf_buf ct, pt;
        cf_buf_init(&ct, 0);
        cf_buf_init(&pt, 0);
        if (keyops_wrap(&ct, w->pub, KEYOPS_RSA_OAEP_256, msg, 32, NULL) != CF_OK ||
            hsm_key_decrypt(&pt, H, w->id, KEYOPS_RSA_OAEP_256, ct.data, ct.len, NULL) != CF_OK ||
            pt.len != 32 || memcmp(pt.data, msg, 32) != 0)
            w->ok = 0;
        cf_buf_free(&ct);
        cf_buf_free(&pt);
    }
    return NULL;
}

Test(hsm_rsa, concurrent_decrypts_share_the_handle)
{
    char id[HSM_ID_HEX_LEN + 1];
    EVP_PKEY *pub = NULL;
    cr_assert_eq(hsm_key_generate_rsa(id, &pub, H, 2048, "k3", NULL), CF_OK);
    pthread_t t[10];
    struct worker w[10];
    for (int i = 0; i < 10; i++) { /* more threads than pooled sessions */
        w[i] = (struct worker){.id = id, .pub = pub};
        cr_assert_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
        cr_assert(w[i].ok, "worker %d failed", i);
    }
    EVP_PKEY_free(pub);
}

Test(hsm_ec, generates_keys_on_each_curve_and_signs_in_jose_form)
{
    const char *crv[] = {"P-256", "P-384", "P-521"};
    const keyops_sig_alg algs[] = {KEYOPS_ES256, KEYOPS_ES384, KEYOPS_ES512};
    for (int i = 0; i < 3; i++) {
        char id[HSM_ID_HEX_LEN + 1];
        EVP_PKEY *pub = NULL, *again = NULL;
        cf_err e = {0};
        cr_assert_eq(hsm_key_generate_ec(id, &pub, H, crv[i], "ec", &e), CF_OK, "%s", e.msg);
        cr_assert_eq(hsm_key_public(&again, H, id, NULL), CF_OK);
        cr_assert_eq(EVP_PKEY_eq(pub, again), 1);
        sign_and_verify(id, pub, algs[i]);
        if (i == 0) {
            assert_not_extractable(CKO_PRIVATE_KEY, id, NULL, CKA_VALUE);
            cf_buf out;
            cf_buf_init(&out, 0);
            unsigned char d[48] = {0};
            cr_assert_eq(hsm_key_sign(&out, H, id, KEYOPS_ES384, d, 48, NULL), CF_EINVAL);
            cr_assert_eq(hsm_key_sign(&out, H, id, KEYOPS_RS256, d, 32, NULL), CF_EINVAL);
            cr_assert_eq(hsm_key_decrypt(&out, H, id, KEYOPS_RSA_OAEP, d, 32, NULL), CF_EINVAL);
            cf_buf_free(&out);
        }
        EVP_PKEY_free(pub);
        EVP_PKEY_free(again);
    }
    EVP_PKEY *pub = NULL;
    char id[HSM_ID_HEX_LEN + 1];
    cr_assert_eq(hsm_key_generate_ec(id, &pub, H, "P-256K", "bad", NULL), CF_EINVAL);
}

/* Destroys the private key behind hsm's back (another PKCS#11 view). */
static void destroy_behind_the_back(const char *id_hex)
{
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s = other_view(&dl, &f, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    unsigned char id[16];
    cr_assert_eq(cf_hex_decode(id, 16, id_hex, 32, NULL), CF_OK);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, 16}};
    CK_OBJECT_HANDLE o = find_one(f, s, t);
    cr_assert_eq(f->C_DestroyObject(s, o), CKR_OK);
    f->C_CloseSession(s);
    dlclose(dl);
}

Test(hsm_ec, a_key_deleted_elsewhere_is_not_found_not_misused)
{
    char id[HSM_ID_HEX_LEN + 1];
    EVP_PKEY *pub = NULL;
    cr_assert_eq(hsm_key_generate_ec(id, &pub, H, "P-256", "gone", NULL), CF_OK);
    sign_and_verify(id, pub, KEYOPS_ES256); /* caches the object handle */
    destroy_behind_the_back(id);
    cf_buf sig;
    cf_buf_init(&sig, 0);
    unsigned char d[32] = {7};
    cf_err e = {0};
    cr_assert_eq(hsm_key_sign(&sig, H, id, KEYOPS_ES256, d, 32, &e), CF_ENOTFOUND, "%s", e.msg);
    cr_assert_eq(sig.len, 0);
    cf_buf_free(&sig);
    EVP_PKEY_free(pub);
}

Test(hsm_master, wraps_and_unwraps_secrets_bound_to_aad)
{
    unsigned char secret[32], w[HSM_WRAPPED_LEN] = {0}, w2[HSM_WRAPPED_LEN], back[32];
    memset(secret, 0x5a, sizeof(secret));
    const unsigned char aad[] = "vault:default";
    cf_err e = {0};
    cr_assert_eq(hsm_master_unwrap(back, H, "coffer-master", aad, 13, w, &e), CF_ENOTFOUND);
    cf_err_clear(&e);
    cr_assert_eq(hsm_master_wrap(w, H, "coffer-master", aad, 13, secret, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(hsm_master_wrap(w2, H, "coffer-master", aad, 13, secret, NULL), CF_OK);
    cr_assert(memcmp(w, w2, sizeof(w)) != 0, "fresh nonce per wrap");
    assert_not_extractable(CKO_SECRET_KEY, NULL, "coffer-master", CKA_VALUE);
    cr_assert(memcmp(w + 12, secret, 32) != 0);
    cr_assert_eq(hsm_master_unwrap(back, H, "coffer-master", aad, 13, w, NULL), CF_OK);
    cr_assert(memcmp(back, secret, 32) == 0);
    cr_assert_eq(hsm_master_unwrap(back, H, "coffer-master", aad, 12, w, NULL), CF_EINTEGRITY);
    w[20] ^= 1;
    cr_assert_eq(hsm_master_unwrap(back, H, "coffer-master", aad, 13, w, NULL), CF_EINTEGRITY);
    w[20] ^= 1;
    w[HSM_WRAPPED_LEN - 1] ^= 1;
    cr_assert_eq(hsm_master_unwrap(back, H, "coffer-master", aad, 13, w, NULL), CF_EINTEGRITY);
    w[HSM_WRAPPED_LEN - 1] ^= 1;
    /* another key (another label) cannot open it; the same key after a
     * reopen can */
    cr_assert_eq(hsm_master_wrap(w2, H, "other", NULL, 0, secret, NULL), CF_OK);
    cr_assert_eq(hsm_master_unwrap(back, H, "other", aad, 13, w, NULL), CF_EINTEGRITY);
    hsm_close(H);
    cr_assert_eq(hsm_open(&H, MODULE, LABEL, PIN, NULL), CF_OK);
    memset(back, 0, sizeof(back));
    cr_assert_eq(hsm_master_unwrap(back, H, "coffer-master", aad, 13, w, NULL), CF_OK);
    cr_assert(memcmp(back, secret, 32) == 0);
}
