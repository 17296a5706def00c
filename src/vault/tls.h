/*
 * tls.h -- the vault's TLS certificate. keyvaultd serves TLS only. Unless
 * the config names a certificate and key, the first start creates a
 * self-signed one in DIR/tls/: cert.pem (the file clients trust as their
 * CA) and key.pem (0600). The certificate is an ECDSA P-256 one valid for
 * ten years with SAN = DNS:localhost, DNS:*.<vault_domain>, IP:127.0.0.1,
 * IP:::1. Later starts load the files as they are.
 */
#ifndef CF_VAULT_TLS_H
#define CF_VAULT_TLS_H

#include "base/buf.h"
#include "base/err.h"

/* Creates DIR/tls/{cert,key}.pem when absent. */
cf_code vault_tls_ensure(const char *dir, const char *vault_domain, cf_err *e);
/* Loads PEM text (NUL-terminated in the buffers; key buffer is secret). */
cf_code vault_tls_load(const char *cert_path, const char *key_path, cf_buf *cert, cf_buf *key,
                       cf_err *e);

#endif
