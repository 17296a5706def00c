/*
 * req.c -- see req.h.
 */
#include "vault/req.h"

#include <string.h>
#include <strings.h>

#include "base/enc.h"

#define MAX_VALUE_B64 (64 * 1024)

static int name_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
            return 0;
    }
    return 1;
}

int vault_name_valid_key(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 127 && name_chars_ok(s, n);
}

int vault_name_valid_vault(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 3 && n <= 24 && name_chars_ok(s, n);
}

int vault_version_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static const char *const KEY_OPS[] = {"encrypt", "decrypt",   "sign",   "verify",
                                      "wrapKey", "unwrapKey", "import", "export"};

cf_code vault_key_ops_parse(json_t **out, const json_t *in, cf_err *e)
{
    if (!json_is_array(in) || json_array_size(in) > 16)
        return cf_err_set(e, CF_EINVAL, "key_ops must be an array of operation names");
    unsigned bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)in, i, v)
    {
        const char *s = json_string_value(v);
        size_t k;
        for (k = 0; s && k < sizeof(KEY_OPS) / sizeof(KEY_OPS[0]); k++)
            if (strcasecmp(s, KEY_OPS[k]) == 0)
                break;
        if (s == NULL || k == sizeof(KEY_OPS) / sizeof(KEY_OPS[0]))
            return cf_err_set(e, CF_EINVAL, "key_ops[%zu]: unknown key operation", i);
        bits |= 1u << k;
    }
    json_t *a = json_array();
    for (size_t k = 0; a && k < sizeof(KEY_OPS) / sizeof(KEY_OPS[0]); k++)
        if (bits & (1u << k))
            json_array_append_new(a, json_string(KEY_OPS[k]));
    if (a == NULL)
        return cf_err_set(e, CF_ENOMEM, "out of memory");
    *out = a;
    return CF_OK;
}

int vault_key_ops_has(const json_t *key_ops, const char *op)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)key_ops, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strcasecmp(s, op) == 0)
            return 1;
    }
    return 0;
}

static cf_code load(json_t **out, const char *text, size_t len, cf_err *e)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return cf_err_set(e, CF_EINVAL, "The request body is not valid JSON: %.120s", je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return cf_err_set(e, CF_EINVAL, "The request body must be a JSON object");
    }
    *out = j;
    return CF_OK;
}

static const json_t *field(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

static cf_code parse_time(const json_t *v, const char *name, int *has, int64_t *out, cf_err *e)
{
    if (v == NULL)
        return CF_OK;
    if (json_is_null(v)) {
        *has = 1;
        *out = 0;
        return CF_OK;
    }
    /* IntDate: integer seconds; SDKs may send a number with a fraction */
    double d = json_is_integer(v) ? (double)json_integer_value(v)
               : json_is_real(v)  ? json_real_value(v)
                                  : -1;
    if (d < 0 || d > 253402300799.0)
        return cf_err_set(e, CF_EINVAL, "attributes.%s must be an IntDate (seconds since 1970)",
                          name);
    *has = 1;
    *out = (int64_t)d;
    return CF_OK;
}

static cf_code parse_attrs(vault_attrs *a, const json_t *in, cf_err *e)
{
    memset(a, 0, sizeof(*a));
    if (in == NULL)
        return CF_OK;
    if (!json_is_object(in))
        return cf_err_set(e, CF_EINVAL, "attributes must be an object");
    const json_t *en = json_object_get(in, "enabled");
    if (en && !json_is_null(en)) {
        if (!json_is_boolean(en))
            return cf_err_set(e, CF_EINVAL, "attributes.enabled must be a boolean");
        a->has_enabled = 1;
        a->enabled = json_is_true(en);
    }
    const json_t *ex = field(in, "exportable");
    if (ex && (!json_is_boolean(ex) || json_is_true(ex)))
        return cf_err_set(e, CF_EINVAL, "exportable keys are not supported by this vault");
    cf_code rc = parse_time(json_object_get(in, "nbf"), "nbf", &a->has_nbf, &a->nbf, e);
    if (rc == CF_OK)
        rc = parse_time(json_object_get(in, "exp"), "exp", &a->has_exp, &a->exp, e);
    if (rc == CF_OK && a->nbf && a->exp && a->exp <= a->nbf)
        rc = cf_err_set(e, CF_EINVAL, "attributes.exp must be after attributes.nbf");
    return rc;
}

static cf_code parse_tags(json_t **out, const json_t *in, cf_err *e)
{
    *out = NULL;
    if (in == NULL)
        return CF_OK;
    if (!json_is_object(in) || json_object_size(in) > VAULT_MAX_TAGS)
        return cf_err_set(e, CF_EINVAL, "tags must be an object of at most %d string values",
                          VAULT_MAX_TAGS);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        if (strlen(k) == 0 || strlen(k) > 512 || !json_is_string(v) || json_string_length(v) > 256)
            return cf_err_set(e, CF_EINVAL,
                              "tags: names are 1-512 characters, values strings of at most 256");
    }
    *out = json_deep_copy(in);
    return CF_OK;
}

static cf_code reject_release_policy(const json_t *body, cf_err *e)
{
    if (field(body, "release_policy"))
        return cf_err_set(e, CF_EINVAL, "release_policy is not supported by this vault");
    return CF_OK;
}

/* What create and import share: key_ops (read from ops_in: the body of a
 * create, the JWK of an import), attributes and tags of body b; a
 * release_policy is refused. */
static cf_code parse_key_props(json_t **key_ops, vault_attrs *attrs, json_t **tags,
                               const json_t *ops_in, const json_t *b, cf_err *e)
{
    const json_t *ops = field(ops_in, "key_ops");
    cf_code rc = CF_OK;
    if ((ops && (rc = vault_key_ops_parse(key_ops, ops, e)) != CF_OK) ||
        (rc = parse_attrs(attrs, field(b, "attributes"), e)) != CF_OK ||
        (rc = parse_tags(tags, field(b, "tags"), e)) != CF_OK)
        return rc;
    return reject_release_policy(b, e);
}

void vault_create_req_free(vault_create_req *r)
{
    json_decref(r->key_ops);
    json_decref(r->tags);
    memset(r, 0, sizeof(*r));
}

cf_code vault_req_create(vault_create_req *out, const char *text, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    json_t *b = NULL;
    cf_code rc = load(&b, text, len, e);
    if (rc != CF_OK)
        return rc;
    const json_t *kty = field(b, "kty");
    const char *k = json_string_value(kty);
    if (k == NULL) {
        rc = cf_err_set(e, CF_EINVAL, "kty is required (RSA, RSA-HSM, EC, EC-HSM)");
        goto out;
    }
    if (strcmp(k, "RSA") == 0 || strcmp(k, "RSA-HSM") == 0 || strcmp(k, "EC") == 0 ||
        strcmp(k, "EC-HSM") == 0) {
        memcpy(out->kty, k, strlen(k) + 1);
    } else if (strcmp(k, "oct") == 0 || strcmp(k, "oct-HSM") == 0) {
        rc = cf_err_set(e, CF_EINVAL, "Symmetric (oct) keys are not supported by this vault");
        goto out;
    } else {
        rc = cf_err_set(e, CF_EINVAL, "Invalid kty '%.32s' (RSA, RSA-HSM, EC, EC-HSM)", k);
        goto out;
    }
    int is_rsa = k[0] == 'R';
    const json_t *ks = field(b, "key_size");
    const json_t *pe = field(b, "public_exponent");
    const json_t *crv = field(b, "crv");
    if (is_rsa) {
        out->key_size = 2048;
        if (ks) {
            json_int_t n = json_is_integer(ks) ? json_integer_value(ks) : 0;
            if (n != 2048 && n != 3072 && n != 4096) {
                rc = cf_err_set(e, CF_EINVAL, "key_size must be 2048, 3072 or 4096");
                goto out;
            }
            out->key_size = (int)n;
        }
        out->public_exponent = 65537;
        if (pe) {
            json_int_t n = json_is_integer(pe) ? json_integer_value(pe) : 0;
            if (n != 65537 && n != 3) {
                rc = cf_err_set(e, CF_EINVAL, "public_exponent must be 65537 or 3");
                goto out;
            }
            out->public_exponent = (long)n;
        }
        if (crv) {
            rc = cf_err_set(e, CF_EINVAL, "crv applies to EC keys only");
            goto out;
        }
    } else {
        const char *c = crv ? json_string_value(crv) : "P-256";
        if (c == NULL ||
            (strcmp(c, "P-256") != 0 && strcmp(c, "P-384") != 0 && strcmp(c, "P-521") != 0)) {
            rc = cf_err_set(e, CF_EINVAL, "crv must be P-256, P-384 or P-521");
            goto out;
        }
        memcpy(out->crv, c, strlen(c) + 1);
        if (ks || pe) {
            rc = cf_err_set(e, CF_EINVAL, "key_size and public_exponent apply to RSA keys only");
            goto out;
        }
    }
    rc = parse_key_props(&out->key_ops, &out->attrs, &out->tags, b, b, e);
out:
    json_decref(b);
    return rc;
}

void vault_import_req_free(vault_import_req *r)
{
    json_decref(r->jwk);
    json_decref(r->key_ops);
    json_decref(r->tags);
    memset(r, 0, sizeof(*r));
}

cf_code vault_req_import(vault_import_req *out, const char *text, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    json_t *b = NULL;
    cf_code rc = load(&b, text, len, e);
    if (rc != CF_OK)
        return rc;
    const json_t *key = field(b, "key");
    if (!json_is_object(key)) {
        rc = cf_err_set(e, CF_EINVAL, "key (a JSON Web Key) is required");
        goto out;
    }
    const json_t *hsm = field(b, "Hsm");
    if (hsm && !json_is_boolean(hsm)) {
        rc = cf_err_set(e, CF_EINVAL, "Hsm must be a boolean");
        goto out;
    }
    out->hsm = json_is_true(hsm);
    out->jwk = json_deep_copy(key);
    json_object_del(out->jwk, "key_ops");
    json_object_del(out->jwk, "kid");
    rc = parse_key_props(&out->key_ops, &out->attrs, &out->tags, key, b, e);
out:
    json_decref(b);
    return rc;
}

void vault_update_req_free(vault_update_req *r)
{
    json_decref(r->key_ops);
    json_decref(r->tags);
    memset(r, 0, sizeof(*r));
}

cf_code vault_req_update(vault_update_req *out, const char *text, size_t len, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    json_t *b = NULL;
    cf_code rc = load(&b, text, len, e);
    if (rc != CF_OK)
        return rc;
    const json_t *ops = field(b, "key_ops");
    if (ops && (rc = vault_key_ops_parse(&out->key_ops, ops, e)) != CF_OK)
        goto out;
    if ((rc = parse_attrs(&out->attrs, field(b, "attributes"), e)) != CF_OK)
        goto out;
    if (json_object_get(b, "tags")) {
        out->has_tags = 1;
        if ((rc = parse_tags(&out->tags, field(b, "tags"), e)) != CF_OK)
            goto out;
    }
    rc = reject_release_policy(b, e);
out:
    json_decref(b);
    return rc;
}

void vault_op_req_free(vault_op_req *r)
{
    cf_buf_free(&r->value);
    cf_buf_free(&r->digest);
    memset(r, 0, sizeof(*r));
}

static cf_code b64_field(cf_buf *out, const json_t *b, const char *name, cf_err *e)
{
    const json_t *v = field(b, name);
    if (!json_is_string(v))
        return cf_err_set(e, CF_EINVAL, "%s (base64url) is required", name);
    size_t n = json_string_length(v);
    if (n > MAX_VALUE_B64)
        return cf_err_set(e, CF_ETOOBIG, "%s is too long", name);
    if (cf_b64url_decode(out, json_string_value(v), n, NULL) != CF_OK)
        return cf_err_set(e, CF_EINVAL, "%s is not valid base64url", name);
    return CF_OK;
}

cf_code vault_req_op(vault_op_req *out, const char *text, size_t len, int verify, cf_err *e)
{
    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->value, MAX_VALUE_B64);
    cf_buf_init(&out->digest, MAX_VALUE_B64);
    out->value.secret = 1;
    json_t *b = NULL;
    cf_code rc = load(&b, text, len, e);
    if (rc != CF_OK)
        return rc;
    const char *alg = json_string_value(field(b, "alg"));
    if (alg == NULL || strlen(alg) == 0 || strlen(alg) >= sizeof(out->alg)) {
        rc = cf_err_set(e, CF_EINVAL, "alg is required");
        goto out;
    }
    memcpy(out->alg, alg, strlen(alg) + 1);
    if ((rc = b64_field(&out->value, b, "value", e)) != CF_OK)
        goto out;
    if (verify && (rc = b64_field(&out->digest, b, "digest", e)) != CF_OK)
        goto out;
    if (field(b, "iv") || field(b, "aad") || field(b, "tag"))
        rc = cf_err_set(e, CF_EINVAL, "iv, aad and tag apply to symmetric keys only");
out:
    json_decref(b);
    return rc;
}

/* ---- $skiptoken ---- */

cf_code vault_skiptoken_encode(char *out, size_t n, const char *kind, const char *last, cf_err *e)
{
    char raw[200];
    int k = snprintf(raw, sizeof(raw), "%s:%s", kind, last);
    if (k < 0 || (size_t)k >= sizeof(raw))
        return cf_err_set(e, CF_EINVAL, "skiptoken: item name too long");
    cf_buf b;
    cf_buf_init(&b, VAULT_SKIPTOKEN_MAX);
    cf_code rc = cf_b64url_encode(&b, (const unsigned char *)raw, (size_t)k, e);
    if (rc == CF_OK && b.len >= n)
        rc = cf_err_set(e, CF_EINVAL, "skiptoken: no room");
    if (rc == CF_OK) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    cf_buf_free(&b);
    return rc;
}

cf_code vault_skiptoken_decode(char *last, size_t n, const char *kind, const char *token, cf_err *e)
{
    size_t tl = strlen(token), kl = strlen(kind);
    cf_buf b;
    cf_buf_init(&b, VAULT_SKIPTOKEN_MAX);
    cf_code rc = CF_EINVAL;
    if (tl == 0 || tl > VAULT_SKIPTOKEN_MAX || cf_b64url_decode(&b, token, tl, NULL) != CF_OK)
        goto out;
    /* "<kind>:<last>", no NUL inside */
    if (b.len <= kl + 1 || memcmp(b.data, kind, kl) != 0 || b.data[kl] != ':' ||
        memchr(b.data, '\0', b.len) != NULL)
        goto out;
    size_t vl = b.len - kl - 1;
    if (vl >= n)
        goto out;
    memcpy(last, b.data + kl + 1, vl);
    last[vl] = '\0';
    if (strcmp(kind, "versions") == 0 ? vault_version_valid(last) : vault_name_valid_key(last))
        rc = CF_OK;
out:
    cf_buf_free(&b);
    if (rc != CF_OK) {
        if (n > 0)
            last[0] = '\0';
        return cf_err_set(e, CF_EINVAL, "invalid $skiptoken");
    }
    return CF_OK;
}
