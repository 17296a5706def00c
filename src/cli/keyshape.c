/*
 * keyshape.c -- see keyshape.h.
 */
#include "cli/keyshape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/enc.h"

/* A Unix time as Python's datetime.isoformat() of a UTC time; null when
 * the member is absent. */
static json_t *az_time(const json_t *t)
{
    if (!json_is_integer(t))
        return json_null();
    time_t s = (time_t)json_integer_value(t);
    struct tm tm;
    char out[40];
    if (gmtime_r(&s, &tm) == NULL ||
        strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0)
        return json_null();
    return json_string(out);
}

/* A member or null (new reference). */
static json_t *or_null(const json_t *v)
{
    return v ? json_deep_copy(v) : json_null();
}

/* base64url (the wire) -> standard base64 with padding (what az prints
 * for the key's bytes: base64.b64encode). null when absent or malformed. */
static json_t *std_b64(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL)
        return json_null();
    cf_buf raw;
    cf_buf_init(&raw, 0);
    json_t *out = json_null();
    if (cf_b64url_decode(&raw, s, json_string_length(v), NULL) == 0 && raw.len <= 4096) {
        char enc[4 * ((4096 + 2) / 3) + 1];
        int n = EVP_EncodeBlock((unsigned char *)enc, raw.data, (int)raw.len);
        if (n >= 0) {
            json_decref(out);
            out = json_stringn(enc, (size_t)n);
        }
    }
    cf_buf_free(&raw);
    return out;
}

static json_t *az_attributes(const json_t *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "created", az_time(json_object_get(a, "created")));
    json_object_set_new(o, "enabled", or_null(json_object_get(a, "enabled")));
    json_object_set_new(o, "expires", az_time(json_object_get(a, "exp")));
    json_object_set_new(o, "exportable", or_null(json_object_get(a, "exportable")));
    json_object_set_new(o, "hsmPlatform", or_null(json_object_get(a, "hsmPlatform")));
    json_object_set_new(o, "notBefore", az_time(json_object_get(a, "nbf")));
    json_object_set_new(o, "recoverableDays", or_null(json_object_get(a, "recoverableDays")));
    json_object_set_new(o, "recoveryLevel", or_null(json_object_get(a, "recoveryLevel")));
    json_object_set_new(o, "updated", az_time(json_object_get(a, "updated")));
    return o;
}

/* The JWK as az prints the SDK's JsonWebKey: every field, bytes in
 * standard base64, key_ops as keyOps, sorted. */
static json_t *az_jwk(const json_t *k)
{
    static const char *const bytes[] = {"d", "dp", "dq", "e", "k", "n",
                                        "p", "q",  "qi", "t", "x", "y"};
    json_t *o = json_object();
    json_object_set_new(o, "crv", or_null(json_object_get(k, "crv")));
    for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
        if (strcmp(bytes[i], "k") == 0) {
            json_object_set_new(o, "k", std_b64(json_object_get(k, "k")));
            json_object_set_new(o, "keyOps", or_null(json_object_get(k, "key_ops")));
            json_object_set_new(o, "kid", or_null(json_object_get(k, "kid")));
            json_object_set_new(o, "kty", or_null(json_object_get(k, "kty")));
            continue;
        }
        json_object_set_new(o, bytes[i], std_b64(json_object_get(k, bytes[i])));
    }
    return o;
}

/* deletedDate, recoveryId, scheduledPurgeDate of a deleted key, when the
 * wire carries them, in az's sorted places. */
static void deleted_fields(json_t *o, const json_t *w, const char *after)
{
    if (json_object_get(w, "recoveryId") == NULL)
        return;
    if (strcmp(after, "attributes") == 0)
        json_object_set_new(o, "deletedDate", az_time(json_object_get(w, "deletedDate")));
    else if (strcmp(after, "managed") == 0)
        json_object_set_new(o, "recoveryId", or_null(json_object_get(w, "recoveryId")));
    else if (strcmp(after, "releasePolicy") == 0)
        json_object_set_new(o, "scheduledPurgeDate",
                            az_time(json_object_get(w, "scheduledPurgeDate")));
}

json_t *cli_key_az(const json_t *w)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "attributes", az_attributes(json_object_get(w, "attributes")));
    deleted_fields(o, w, "attributes");
    json_object_set_new(o, "key", az_jwk(json_object_get(w, "key")));
    json_object_set_new(o, "managed", or_null(json_object_get(w, "managed")));
    deleted_fields(o, w, "managed");
    json_object_set_new(o, "releasePolicy", or_null(json_object_get(w, "release_policy")));
    deleted_fields(o, w, "releasePolicy");
    json_object_set_new(o, "tags", or_null(json_object_get(w, "tags")));
    return o;
}

json_t *cli_key_item_az(const json_t *w)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    const char *kid = json_string_value(json_object_get(w, "kid"));
    json_object_set_new(o, "attributes", az_attributes(json_object_get(w, "attributes")));
    deleted_fields(o, w, "attributes");
    json_object_set_new(o, "kid", or_null(json_object_get(w, "kid")));
    json_object_set_new(o, "managed", or_null(json_object_get(w, "managed")));
    /* the name: the path segment after /keys/ (az: kid.split('/')[4]) */
    const char *k = kid ? strstr(kid, "/keys/") : NULL;
    if (k) {
        k += 6;
        size_t n = strcspn(k, "/");
        json_object_set_new(o, "name", json_stringn(k, n));
    } else {
        json_object_set_new(o, "name", json_null());
    }
    deleted_fields(o, w, "managed");
    json_object_set_new(o, "releasePolicy", or_null(json_object_get(w, "release_policy")));
    deleted_fields(o, w, "releasePolicy");
    json_object_set_new(o, "tags", or_null(json_object_get(w, "tags")));
    return o;
}
