/*
 * sharedkeys.c -- see sharedkeys.h.
 */
#define CF_LOG_MOD "cofferd"
#include "control/sharedkeys.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/enc.h"
#include "base/log.h"
#include "crypto/keys.h"
#include "registry/keyring.h"
#include "store/meta.h"

#define FP_BYTES 16

static cf_code srk_fingerprint(char out[2 * FP_BYTES + 1], cf_err *e)
{
    unsigned char k[KEYS_SECRET_LEN];
    cf_code rc = keyring_derive(k, "coffer/v1/srk-fingerprint", e);
    if (rc == CF_OK)
        cf_hex_encode(out, k, FP_BYTES);
    keys_wipe(k, sizeof(k));
    return rc;
}

static cf_code token_fingerprint(char out[2 * FP_BYTES + 1], const char *token, cf_err *e)
{
    unsigned char k[KEYS_SECRET_LEN], mac[32];
    unsigned int n = 0;
    cf_code rc = keyring_derive(k, "coffer/v1/admin-token-fingerprint", e);
    if (rc == CF_OK && HMAC(EVP_sha256(), k, sizeof(k), (const unsigned char *)token, strlen(token),
                            mac, &n) == NULL)
        rc = cf_err_ssl(e, "admin token fingerprint");
    if (rc == CF_OK)
        cf_hex_encode(out, mac, FP_BYTES);
    keys_wipe(k, sizeof(k));
    keys_wipe(mac, sizeof(mac));
    return rc;
}

static cf_code one(const char *name, const char *fp, const char *file, cf_err *e)
{
    int first = 0;
    cf_err ce = {0};
    cf_code rc = meta_shared_key_check(name, fp, &first, &ce);
    if (rc == CF_ECONFLICT)
        return cf_err_set(e, CF_ECONFLICT,
                          "this node's %s is not the one of the other nodes sharing this "
                          "database: give every node the same %s (docs/scale-out.md)",
                          name, file);
    if (rc != CF_OK)
        return cf_err_set(e, rc, "shared keys: %s", ce.msg);
    if (first)
        cf_log(CF_LOG_INFO, "shared key fingerprint recorded", "key", name, NULL);
    return CF_OK;
}

cf_code sharedkeys_check_issuer(const char *issuer_kid, cf_err *e)
{
    return one("identity issuer key", issuer_kid, "DIR/keys/issuer (with the same SRK)", e);
}

cf_code sharedkeys_check(const char *admin_token, cf_err *e)
{
    char fp[2 * FP_BYTES + 1];
    cf_code rc = srk_fingerprint(fp, e);
    if (rc == CF_OK)
        rc = one("service root key", fp, "DIR/keys/srk", e);
    if (rc == CF_OK)
        rc = token_fingerprint(fp, admin_token, e);
    if (rc == CF_OK)
        rc = one("admin token", fp, "DIR/admin.token", e);
    return rc;
}
