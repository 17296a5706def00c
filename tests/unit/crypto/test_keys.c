/*
 * test_keys.c -- pins the key hierarchy: SRK file creation and refusal,
 * S wrap/unwrap binding, KEK derivation; and the daemons' admin token
 * files (cofferd base64url, keyvaultd hex): created once in a 0600 file,
 * read back unchanged, refused when others can read them or when they hold
 * anything but a token.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/enc.h"
#include "crypto/keys.h"
#include "../test_tmpdir.h"
#include "base/fs.h"
#include "seal_vectors.h"

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cf-keys-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "%s/srk", dir);
    unlink(cmd);
    rmdir(dir);
}

TestSuite(keys_srk, .init = mkdir_tmp, .fini = rm_tmp);

/* Entries of directory d other than . and .. (what `ls -A` lists). */
static int dir_entries(const char *d)
{
    DIR *dp = opendir(d);
    cr_assert_not_null(dp);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            count++;
    closedir(dp);
    return count;
}

Test(keys_srk, created_0600_then_loaded_identically)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/srk", dir);
    unsigned char a[32], b[32];
    cf_err e = {0};
    cr_assert_eq(keys_srk_load_or_create(path, a, &e), CF_OK, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600);
    cr_assert_eq(st.st_size, 32);
    cr_assert_eq(keys_srk_load_or_create(path, b, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(memcmp(a, b, 32), 0);
    /* Only the key file is left in the directory (no temp files). */
    cr_assert_eq(dir_entries(dir), 1);
}

Test(keys_srk, refuses_group_or_world_accessible)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/srk", dir);
    unsigned char a[32];
    cr_assert_eq(keys_srk_load_or_create(path, a, NULL), CF_OK);
    mode_t modes[] = {0640, 0604, 0660, 0602, 0620};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        cr_assert_eq(chmod(path, modes[i]), 0);
        cf_err e = {0};
        cr_assert_eq(keys_srk_load_or_create(path, a, &e), CF_EDENIED, "mode %o", modes[i]);
        cr_assert_neq(strstr(e.msg, "0600"), NULL);
    }
    cr_assert_eq(chmod(path, 0400), 0);
    cr_assert_eq(keys_srk_load_or_create(path, a, NULL), CF_OK);
}

Test(keys_srk, refuses_wrong_size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/srk", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "short", 5), 5);
    close(fd);
    unsigned char a[32];
    cr_assert_eq(keys_srk_load_or_create(path, a, NULL), CF_EINTEGRITY);
}

Test(keys_srk, concurrent_starters_agree_on_one_key)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/srk", dir);
    enum { N = 6 };
    int go[2], res[2];
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(res), 0);
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        cr_assert(kids[i] >= 0);
        if (kids[i] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0) /* wait until the parent closes go */
                _exit(3);
            unsigned char k[32];
            if (keys_srk_load_or_create(path, k, NULL) != CF_OK)
                _exit(2);
            _exit(write(res[1], k, 32) == 32 ? 0 : 4);
        }
    }
    close(go[0]);
    close(go[1]); /* all start together */
    close(res[1]);
    for (int i = 0; i < N; i++) {
        int st = 0;
        cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "starter %d failed", i);
    }
    unsigned char file_key[32], k[32];
    cr_assert_eq(keys_srk_load_or_create(path, file_key, NULL), CF_OK);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(read(res[0], k, 32), 32);
        cr_assert_eq(memcmp(k, file_key, 32), 0, "starter %d got another key", i);
    }
    close(res[0]);
    cr_assert_eq(dir_entries(dir), 1);
}

Test(keys_srk, refuses_a_directory)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/srk", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    unsigned char a[32];
    cr_assert_eq(keys_srk_load_or_create(path, a, NULL), CF_EINVAL);
    rmdir(path);
}

Test(keys_secret, wrap_roundtrip_bound_to_registry_and_srk)
{
    unsigned char srk[32], s[32], w[KEYS_WRAPPED_LEN], out[32];
    cr_assert_eq(keys_random(srk, 32, NULL), CF_OK);
    cr_assert_eq(keys_random(s, 32, NULL), CF_OK);
    cf_err e = {0};
    cr_assert_eq(keys_secret_wrap(w, srk, "reg1", s, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(keys_secret_unwrap(out, srk, "reg1", w, &e), CF_OK, "%s", e.msg);
    cr_assert_eq(memcmp(out, s, 32), 0);
    cr_assert_eq(keys_secret_unwrap(out, srk, "reg2", w, NULL), CF_EINTEGRITY);
    unsigned char srk2[32];
    memcpy(srk2, srk, 32);
    srk2[0] ^= 1;
    cr_assert_eq(keys_secret_unwrap(out, srk2, "reg1", w, NULL), CF_EINTEGRITY);
    for (size_t i = 0; i < KEYS_WRAPPED_LEN; i++) {
        w[i] ^= 0x80;
        cr_assert_eq(keys_secret_unwrap(out, srk, "reg1", w, NULL), CF_EINTEGRITY, "byte %zu", i);
        w[i] ^= 0x80;
    }
    /* Two wraps of one secret differ (random nonce). */
    unsigned char w2[KEYS_WRAPPED_LEN];
    cr_assert_eq(keys_secret_wrap(w2, srk, "reg1", s, NULL), CF_OK);
    cr_assert_neq(memcmp(w, w2, KEYS_WRAPPED_LEN), 0);
}

Test(keys_kek, depends_on_s_c_and_registry)
{
    unsigned char s[32], c[32];
    memset(s, 1, 32);
    memset(c, 2, 32);
    seal_kek a, b, d, f;
    cr_assert_eq(keys_kek_derive(&a, s, NULL, "reg1", NULL), CF_OK);
    cr_assert_str_eq(a.registry_id, "reg1");
    cr_assert_eq(keys_kek_derive(&b, s, c, "reg1", NULL), CF_OK);
    cr_assert_eq(keys_kek_derive(&d, s, NULL, "reg2", NULL), CF_OK);
    cr_assert_neq(memcmp(a.key, b.key, 32), 0);
    cr_assert_neq(memcmp(a.key, d.key, 32), 0);
    cr_assert_eq(keys_kek_derive(&f, s, NULL, "reg1", NULL), CF_OK);
    cr_assert_eq(memcmp(a.key, f.key, 32), 0);
    cr_assert_eq(keys_kek_derive(&f, s, NULL, "", NULL), CF_EINVAL);
}

/* ---- known-answer vectors (seal_vectors.h) ---- */

static void seq(unsigned char *p, size_t n, unsigned char start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(start + i);
}

Test(keys_vectors, kek_derivation)
{
    unsigned char s[32], c[32];
    seq(s, 32, 0x40);
    seq(c, 32, 0x60);
    seal_kek k;
    char hex[65];
    cr_assert_eq(keys_kek_derive(&k, s, NULL, VEC_REGISTRY, NULL), CF_OK);
    cf_hex_encode(hex, k.key, 32);
    cr_assert_str_eq(hex, vec_kek_s_hex);
    cr_assert_eq(keys_kek_derive(&k, s, c, VEC_REGISTRY, NULL), CF_OK);
    cf_hex_encode(hex, k.key, 32);
    cr_assert_str_eq(hex, vec_kek_sc_hex);
}

Test(keys_vectors, s_wrap)
{
    unsigned char srk[32], s[32], nonce[12], w[KEYS_WRAPPED_LEN], out[32];
    seq(srk, 32, 0x80);
    seq(s, 32, 0x40);
    seq(nonce, 12, 0xd0);
    cr_assert_eq(keys_secret_wrap_nonce(w, srk, VEC_REGISTRY, s, nonce, NULL), CF_OK);
    char hex[2 * KEYS_WRAPPED_LEN + 1];
    cf_hex_encode(hex, w, KEYS_WRAPPED_LEN);
    cr_assert_str_eq(hex, vec_wrapped_s_hex);
    unsigned char vec[KEYS_WRAPPED_LEN];
    cr_assert_eq(
        cf_hex_decode(vec, sizeof(vec), vec_wrapped_s_hex, strlen(vec_wrapped_s_hex), NULL), CF_OK);
    cr_assert_eq(keys_secret_unwrap(out, srk, VEC_REGISTRY, vec, NULL), CF_OK);
    cr_assert_eq(memcmp(out, s, 32), 0);
}

/* ---- admin token files ---- */

static char tdir[256];
static char tpath[320];

static void token_setup(void)
{
    test_tmpdir_make(tdir, sizeof(tdir), "token");
    snprintf(tpath, sizeof(tpath), "%s/admin.token", tdir);
}

static void token_teardown(void)
{
    test_tmpdir_remove(tdir);
}

TestSuite(keys_token_file, .init = token_setup, .fini = token_teardown);

Test(keys_token_file, created_once_0600_and_read_back_in_either_encoding)
{
    static const struct {
        keys_token_enc enc;
        size_t len;
        const char *alphabet;
    } cases[] = {
        {KEYS_TOKEN_B64URL, 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
        {KEYS_TOKEN_HEX, 64, "0123456789abcdef"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char p[400], a[80], b[80];
        snprintf(p, sizeof(p), "%s/t%zu", tdir, k);
        int created = 0;
        cf_err e = {0};
        cr_assert_eq(keys_token_file_load(p, cases[k].enc, a, sizeof(a), &created, &e), CF_OK, "%s",
                     e.msg);
        cr_assert_eq(created, 1);
        cr_assert_eq(strlen(a), cases[k].len);
        cr_assert_eq(keys_token_len(cases[k].enc), cases[k].len);
        cr_assert_eq(strspn(a, cases[k].alphabet), cases[k].len);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600);
        cr_assert_eq(keys_token_file_load(p, cases[k].enc, b, sizeof(b), &created, NULL), CF_OK);
        cr_assert_eq(created, 0);
        cr_assert_str_eq(a, b);
        /* another file, another token */
        snprintf(p, sizeof(p), "%s/other%zu", tdir, k);
        cr_assert_eq(keys_token_file_load(p, cases[k].enc, b, sizeof(b), NULL, NULL), CF_OK);
        cr_assert_str_neq(a, b);
    }
}

Test(keys_token_file, token_without_newline_is_accepted)
{
    const char tok[] = "abcdefghijABCDEFGHIJ0123456789-_abcdefghijk";
    cr_assert_eq(strlen(tok), 43);
    cr_assert_eq(cf_fs_write_atomic(tpath, tok, strlen(tok), 0600, NULL), CF_OK);
    char out[KEYS_TOKEN_B64URL_LEN + 1];
    cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_B64URL, out, sizeof(out), NULL, NULL),
                 CF_OK);
    cr_assert_str_eq(out, tok);
}

Test(keys_token_file, readable_or_malformed_token_is_refused)
{
    char out[KEYS_TOKEN_HEX_LEN + 1];
    cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_B64URL, out, sizeof(out), NULL, NULL),
                 CF_OK);
    cr_assert_eq(chmod(tpath, 0640), 0);
    cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_B64URL, out, sizeof(out), NULL, NULL),
                 CF_EDENIED);

    const char *bad[] = {"short\n", "abcdefghijABCDEFGHIJ0123456789+/abcdefghijk\n",
                         "abcdefghijABCDEFGHIJ0123456789-_abcdefghijkl\n", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cf_fs_write_atomic(tpath, bad[i], strlen(bad[i]), 0600, NULL), CF_OK);
        cf_err e = {0};
        cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_B64URL, out, sizeof(out), NULL, &e),
                     CF_EINVAL, "case %zu", i);
    }
    /* a hex token file holds 64 lowercase hex digits, nothing else */
    char hex[66];
    memset(hex, 'a', 64);
    hex[64] = '\n';
    hex[65] = '\0';
    cr_assert_eq(cf_fs_write_atomic(tpath, hex, 65, 0600, NULL), CF_OK);
    cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_HEX, out, sizeof(out), NULL, NULL), CF_OK);
    hex[3] = 'G';
    cr_assert_eq(cf_fs_write_atomic(tpath, hex, 65, 0600, NULL), CF_OK);
    cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_HEX, out, sizeof(out), NULL, NULL),
                 CF_EINVAL);
    /* a buffer too small for the token is refused before the file is read */
    char small[10];
    cr_assert_eq(keys_token_file_load(tpath, KEYS_TOKEN_HEX, small, sizeof(small), NULL, NULL),
                 CF_EINVAL);
}
