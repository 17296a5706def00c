/*
 * enc.h -- hex and base64url (RFC 4648 §5, no padding: the encoding of
 * JWK, JWT and the Key Vault protocol), and RFC 3339 times. Decoders are
 * strict: they reject padding, whitespace, characters outside the alphabet
 * and non-canonical trailing bits, so one value has exactly one encoding.
 */
#ifndef CF_BASE_ENC_H
#define CF_BASE_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* The value of one hex digit (either case), or -1. */
int cf_hexval(char c);

/* out must have room for 2*len+1 bytes; lowercase. */
void cf_hex_encode(char *out, const unsigned char *in, size_t len);
/* Decodes exactly out_len bytes from 2*out_len hex digits (either case). */
cf_code cf_hex_decode(unsigned char *out, size_t out_len, const char *in, size_t in_len, cf_err *e);

size_t cf_b64url_encoded_len(size_t len);
/* Appends the encoding (no NUL counted) to out. */
cf_code cf_b64url_encode(cf_buf *out, const unsigned char *in, size_t len, cf_err *e);
/* Appends the decoded bytes to out. */
cf_code cf_b64url_decode(cf_buf *out, const char *in, size_t len, cf_err *e);

/* 32-bit big-endian integers in stored formats (checkpoints, states). */
void cf_be32_put(unsigned char *p, uint32_t v);
uint32_t cf_be32_get(const unsigned char *p);

/* "2026-11-29T08:43:52Z" (UTC, seconds) for unix time t; out holds 21+ bytes. */
void cf_rfc3339(char *out, size_t n, int64_t t);

#endif
