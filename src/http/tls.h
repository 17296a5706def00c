/*
 * tls.h -- TLS for every listener of both daemons (docs/tls.md): one
 * protocol and cipher policy, a certificate read from files, and its
 * reload without a restart and without dropping a connection.
 *
 * libmicrohttpd does TLS through GnuTLS. A listener with TLS gives MHD a
 * certificate callback instead of a fixed certificate, so the certificate
 * can change while the server runs:
 *
 *   - An http_tls holds the current "generation": the certificate chain
 *     and private key parsed from the files, reference-counted.
 *   - When MHD accepts a connection (its connection-notify callback), the
 *     connection takes a reference to the generation current at that
 *     instant; GnuTLS asks for the certificate during the handshake
 *     (gnutls_certificate_retrieve_function2) and gets that generation's;
 *     the reference is dropped when the connection closes. GnuTLS never
 *     frees what the callback returns, so a generation lives exactly as
 *     long as the connections that use it.
 *   - A reload parses the files into a new generation and, only when it is
 *     complete and its key matches its certificate, makes it current. A
 *     reload that fails (a half-written file, a key that does not match)
 *     keeps the current one. Connections already open finish on the old
 *     certificate; connections accepted afterwards get the new one. No
 *     request is lost and nothing listens again.
 *
 * Reloads happen on SIGHUP and when either file changes (device, inode,
 * size or modification time, checked every HTTP_TLS_POLL_S seconds through
 * stat, so a renamed-over file, a replaced symlink such as an ACME
 * client's live/ link, or a rewrite all count). http_tls_wait_stop() runs
 * that loop in the main thread until SIGTERM or SIGINT.
 *
 * Policy (HTTP_TLS_PRIORITIES): TLS 1.3 and TLS 1.2 only; ECDHE key
 * exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305, no CBC, no
 * static RSA, no SHA-1 signatures; the server's order wins.
 *
 * Where plain HTTP is allowed: only on loopback (http_host_is_loopback),
 * unless an operator says otherwise by name (cofferd --insecure-plain-http).
 */
#ifndef CF_HTTP_TLS_H
#define CF_HTTP_TLS_H

#include <signal.h>
#include <stddef.h>

#include "base/err.h"

#define HTTP_TLS_PRIORITIES                                                                        \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"                                                  \
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"                     \
    "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"                                                             \
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"                                  \
    "-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1:%SERVER_PRECEDENCE"

#define HTTP_TLS_POLL_S 1
#define HTTP_TLS_MAX_CHAIN 16
#define HTTP_TLS_FPR_LEN 64 /* SHA-256 of the leaf certificate, hex */

typedef struct http_tls http_tls;
struct MHD_OptionItem;

/* Reads cert_file (PEM: the server certificate, then its intermediates)
 * and key_file (PEM; it must not be readable by group or others), checks
 * that the key is the certificate's, and holds them. name labels the log
 * lines ("data", "management", "keyvaultd"). */
cf_code http_tls_open(http_tls **out, const char *name, const char *cert_file, const char *key_file,
                      cf_err *e);
/* Reads the files again now; on failure the current certificate stays. */
cf_code http_tls_reload(http_tls *t, cf_err *e);
/* Reloads when either file changed since the last attempt. Returns 1 when
 * a new certificate is in use, 0 when nothing changed, -1 when the files
 * changed but could not be used (e says why; the old one stays, and the
 * same files are not tried again until they change). */
int http_tls_check(http_tls *t, cf_err *e);
/* The current certificate's SHA-256 fingerprint, lowercase hex. */
void http_tls_fingerprint(http_tls *t, char out[HTTP_TLS_FPR_LEN + 1]);
/* Frees t once no connection uses it (stop the servers first). NULL ok. */
void http_tls_free(http_tls *t);

/* Appends to ops the MHD options that serve t with the policy (at most 3);
 * returns how many. The server must also pass MHD_USE_TLS. */
int http_tls_mhd_options(http_tls *t, struct MHD_OptionItem *ops);

/* The main thread's loop: waits for a signal of `set` (which must hold
 * SIGHUP, SIGTERM and SIGINT, blocked in every thread), reloading every
 * certificate of ts (each listed once; n may be 0) on SIGHUP and when its
 * files change, and logging each reload. Returns the stopping signal
 * (SIGTERM or SIGINT). */
int http_tls_wait_stop(const sigset_t *set, http_tls *const *ts, size_t n);

/* Whether host (len bytes; "[::1]" brackets allowed) is a loopback
 * address: "localhost", 127.0.0.0/8 or ::1. */
int http_host_is_loopback(const char *host, size_t len);
/* Whether an http:// or https:// URL names a loopback host. */
int http_url_is_loopback(const char *url);

#endif
