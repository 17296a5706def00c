/*
 * token.c -- see token.h. Until hsm.h lands (branch vcrypto) the token
 * cannot be opened and HSM keys are refused with a clear message.
 */
#define CF_LOG_MOD "vault.token"
#include "vault/token.h"

#include <stdlib.h>

struct vault_token {
    int unused;
};

cf_code vault_token_open(vault_token **out, const vault_config *cfg, cf_err *e)
{
    (void)out;
    (void)cfg;
    return cf_err_set(e, CF_EUNSUPPORTED, "PKCS#11 support is not built in yet");
}

void vault_token_close(vault_token *t)
{
    free(t);
}

cf_code vault_token_master(vault_master **out, vault_token *t, const char *wrapped_path,
                           cf_err *e)
{
    (void)out;
    (void)t;
    (void)wrapped_path;
    return cf_err_set(e, CF_EUNSUPPORTED, "PKCS#11 master key is not built in yet");
}

cf_code vault_token_generate(char id[VAULT_TOKEN_ID_MAX], EVP_PKEY **pub, vault_token *t,
                             int is_rsa, int bits, const char *crv, const char *label, cf_err *e)
{
    (void)id, (void)pub, (void)t, (void)is_rsa, (void)bits, (void)crv, (void)label;
    return cf_err_set(e, CF_EUNAVAIL, "PKCS#11 support is not built in yet");
}

cf_code vault_token_decrypt(cf_buf *out, vault_token *t, const char *id, keyops_enc_alg alg,
                            const unsigned char *in, size_t in_len, cf_err *e)
{
    (void)out, (void)t, (void)id, (void)alg, (void)in, (void)in_len;
    return cf_err_set(e, CF_EUNAVAIL, "PKCS#11 support is not built in yet");
}

cf_code vault_token_sign(cf_buf *out, vault_token *t, const char *id, keyops_sig_alg alg,
                         const unsigned char *digest, size_t digest_len, cf_err *e)
{
    (void)out, (void)t, (void)id, (void)alg, (void)digest, (void)digest_len;
    return cf_err_set(e, CF_EUNAVAIL, "PKCS#11 support is not built in yet");
}

cf_code vault_token_destroy(vault_token *t, const char *id, cf_err *e)
{
    (void)t, (void)id;
    return cf_err_set(e, CF_EUNAVAIL, "PKCS#11 support is not built in yet");
}
