/*
 * digest.c -- see digest.h. Hand-written matchers for the spec's digest
 * grammar: each walks the bytes once, with no backtracking.
 */
#include "crypto/digest.h"

#include <string.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

const char *oci_alg_name(oci_alg alg)
{
    return alg == OCI_ALG_SHA512 ? "sha512" : "sha256";
}

size_t oci_alg_raw_len(oci_alg alg)
{
    return alg == OCI_ALG_SHA512 ? 64 : 32;
}

const char *oci_digest_hex(const oci_digest *d)
{
    return d->text + 7; /* both names are 6 letters and a colon */
}

/* algorithm-component ([+._-] algorithm-component)*, components [a-z0-9]+ */
static int algorithm_valid(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    int need = 1; /* a component character is required next */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_lower_alnum(c)) {
            need = 0;
        } else if (c == '+' || c == '.' || c == '_' || c == '-') {
            if (need)
                return 0;
            need = 1;
        } else {
            return 0;
        }
    }
    return !need;
}

/* encoded: [a-zA-Z0-9=_-]+ */
static int encoded_valid(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!is_alnum(c) && c != '=' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

cf_code oci_digest_parse(oci_digest *out, const char *s, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    const char *colon = memchr(s, ':', len);
    if (colon == NULL)
        return cf_err_set(e, CF_EINVAL, "digest has no algorithm");
    size_t alen = (size_t)(colon - s), elen = len - alen - 1;
    if (!algorithm_valid(s, alen) || !encoded_valid(colon + 1, elen))
        return cf_err_set(e, CF_EINVAL, "malformed digest");
    size_t want;
    if (alen == 6 && memcmp(s, "sha256", 6) == 0) {
        out->alg = OCI_ALG_SHA256;
        want = 64;
    } else if (alen == 6 && memcmp(s, "sha512", 6) == 0) {
        out->alg = OCI_ALG_SHA512;
        want = 128;
    } else {
        return cf_err_set(e, CF_EUNSUPPORTED, "unsupported digest algorithm");
    }
    if (elen != want)
        return cf_err_set(e, CF_EINVAL, "digest has the wrong length for %s",
                          oci_alg_name(out->alg));
    for (size_t i = 0; i < elen; i++)
        if (!is_hex_lower(colon[1 + i]))
            return cf_err_set(e, CF_EINVAL, "digest is not lowercase hex");
    memcpy(out->text, s, len);
    out->text[len] = '\0';
    out->len = len;
    return CF_OK;
}

void oci_digest_from_raw(oci_digest *out, oci_alg alg, const unsigned char *raw)
{
    static const char hex[] = "0123456789abcdef";
    memset(out, 0, sizeof(*out));
    out->alg = alg;
    memcpy(out->text, oci_alg_name(alg), 6);
    out->text[6] = ':';
    size_t n = oci_alg_raw_len(alg);
    for (size_t i = 0; i < n; i++) {
        out->text[7 + 2 * i] = hex[raw[i] >> 4];
        out->text[8 + 2 * i] = hex[raw[i] & 15];
    }
    out->len = 7 + 2 * n;
    out->text[out->len] = '\0';
}
