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

struct hsm_ctx *vault_token_hsm(vault_token *t)
{
    (void)t;
    return NULL;
}
