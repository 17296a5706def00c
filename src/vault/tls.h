/*
 * tls.h -- the vault's TLS certificate. keyvaultd serves TLS only. Unless
 * the config names a certificate and key, the first start creates a
 * self-signed one in DIR/tls/: cert.pem (the file clients trust as their
 * CA) and key.pem (0600). The certificate is an ECDSA P-256 one valid for
 * ten years with SAN = DNS:localhost, DNS:*.<vault_domain>, IP:127.0.0.1,
 * IP:::1. Later starts load the files as they are. Serving them (the
 * protocol policy, reloads) is http/tls.h's, shared with cofferd.
 */
#ifndef CF_VAULT_TLS_H
#define CF_VAULT_TLS_H

#include "base/buf.h"
#include "base/err.h"

/* Creates DIR/tls/{cert,key}.pem when absent. */
cf_code vault_tls_ensure(const char *dir, const char *vault_domain, cf_err *e);

#endif
