/*
 * engine.c -- see engine.h. Placeholder until keyops.h / jwk.h / hsm.h
 * land on branch vcrypto: every key operation is refused cleanly.
 */
#define CF_LOG_MOD "vault.engine"
#include "vault/engine.h"

#include <stdlib.h>
#include <string.h>

struct vault_engine {
    const vault_master *master;
    vault_token *token;
};

cf_code vault_engine_new(vault_engine **out, const vault_master *master, vault_token *hsm,
                         cf_err *e)
{
    vault_engine *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    g->master = master;
    g->token = hsm;
    *out = g;
    return CF_OK;
}

void vault_engine_free(vault_engine *g)
{
    free(g);
}

int vault_engine_has_hsm(const vault_engine *g)
{
    return g->token != NULL;
}

cf_code vault_engine_generate(vault_engine *g, vault_keyver *kv, int key_size,
                              long public_exponent, const char *crv, cf_err *e)
{
    (void)g, (void)kv, (void)key_size, (void)public_exponent, (void)crv;
    return cf_err_set(e, CF_EUNSUPPORTED, "key generation is not built in yet");
}

cf_code vault_engine_import(vault_engine *g, vault_keyver *kv, const json_t *jwk,
                            int *has_private, cf_err *e)
{
    (void)g, (void)kv, (void)jwk, (void)has_private;
    return cf_err_set(e, CF_EUNSUPPORTED, "key import is not built in yet");
}

cf_code vault_engine_op(vault_engine *g, const vault_keyver *kv, vault_op op, const char *alg,
                        const unsigned char *in, size_t in_len, const unsigned char *sig,
                        size_t sig_len, cf_buf *out, int *verified, cf_err *e)
{
    (void)g, (void)kv, (void)op, (void)alg, (void)in, (void)in_len, (void)sig, (void)sig_len;
    (void)out, (void)verified;
    return cf_err_set(e, CF_EUNSUPPORTED, "key operations are not built in yet");
}

void vault_engine_forget(vault_engine *g, const char *vault, const char *name)
{
    (void)g, (void)vault, (void)name;
}

cf_code vault_engine_destroy_hsm(vault_engine *g, const char *hsm_id, cf_err *e)
{
    (void)g, (void)hsm_id;
    return cf_err_set(e, CF_EUNSUPPORTED, "no HSM");
}

int vault_engine_rsa_bits(const json_t *jwk)
{
    const char *n = json_string_value(json_object_get(jwk, "n"));
    if (n == NULL)
        return 0;
    size_t len = strlen(n);
    return (int)((len * 6) / 8) * 8;
}
