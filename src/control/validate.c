/*
 * validate.c -- the management API's input rules (see validate.h). Each
 * function decides from its argument alone; the handlers turn a refusal
 * into the ARM error the contract names.
 */
#include "control/validate.h"

#include "cmk/vaultc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/enc.h"
#include "crypto/keys.h"

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int ctl_identity_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < CTL_IDENTITY_NAME_MIN || n > CTL_IDENTITY_NAME_MAX || !is_alnum(s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

int ctl_registry_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 5 || n > 50)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]))
            return 0;
    return 1;
}

int ctl_uuid_valid(const char *s)
{
    if (s == NULL || strlen(s) != CTL_UUID_LEN)
        return 0;
    for (size_t i = 0; i < CTL_UUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return 0;
    }
    return 1;
}

cf_code ctl_uuid_v4(char out[CTL_UUID_LEN + 1], cf_err *e)
{
    unsigned char b[16];
    cf_code rc = keys_random(b, sizeof(b), e);
    if (rc != CF_OK)
        return rc;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char hex[33];
    cf_hex_encode(hex, b, sizeof(b));
    snprintf(out, CTL_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return CF_OK;
}

const char *ctl_sku_canonical(const char *s)
{
    static const char *const skus[] = {"Basic", "Standard", "Premium"};
    for (size_t i = 0; s && i < sizeof(skus) / sizeof(skus[0]); i++)
        if (strcasecmp(s, skus[i]) == 0)
            return skus[i];
    return NULL;
}

const char *ctl_identity_type_name(int flags)
{
    switch (flags & (CTL_ID_SYSTEM | CTL_ID_USER)) {
    case CTL_ID_SYSTEM:
        return "SystemAssigned";
    case CTL_ID_USER:
        return "UserAssigned";
    case CTL_ID_SYSTEM | CTL_ID_USER:
        return "SystemAssigned, UserAssigned";
    default:
        return "None";
    }
}

/* One word of a type, [p, p+n) trimmed: its bit, or -1. */
static int type_word(const char *p, size_t n)
{
    while (n && *p == ' ')
        p++, n--;
    while (n && p[n - 1] == ' ')
        n--;
    if (n == 14 && strncasecmp(p, "SystemAssigned", n) == 0)
        return CTL_ID_SYSTEM;
    if (n == 12 && strncasecmp(p, "UserAssigned", n) == 0)
        return CTL_ID_USER;
    return -1;
}

const char *ctl_identity_type_canonical(const char *s, int *flags)
{
    int f = 0;
    if (s == NULL || strlen(s) > 64)
        return NULL;
    if (strcasecmp(s, "None") == 0) {
        *flags = 0;
        return ctl_identity_type_name(0);
    }
    const char *comma = strchr(s, ',');
    int a = type_word(s, comma ? (size_t)(comma - s) : strlen(s));
    if (a < 0)
        return NULL;
    f = a;
    if (comma) {
        if (strchr(comma + 1, ',') != NULL)
            return NULL;
        int b = type_word(comma + 1, strlen(comma + 1));
        if (b < 0 || b == a)
            return NULL;
        f |= b;
    }
    *flags = f;
    return ctl_identity_type_name(f);
}

const char *ctl_identity_ref_name(const char *ref)
{
    size_t p = sizeof(CTL_IDENTITY_PREFIX) - 1;
    if (ref == NULL || strncasecmp(ref, CTL_IDENTITY_PREFIX, p) != 0)
        return NULL;
    return ctl_identity_name_valid(ref + p) ? ref + p : NULL;
}

int ctl_key_identifier_valid(const char *s, int *versioned)
{
    /* one parser for key identifiers: the vault client's (src/cmk/vaultc.c) */
    vaultc_keyid id;
    if (s == NULL || strlen(s) > CTL_KEY_ID_MAX || vaultc_keyid_parse(&id, s, NULL) != CF_OK)
        return 0;
    if (versioned)
        *versioned = id.version[0] != '\0';
    return 1;
}

void ctl_rfc3339(char *out, size_t cap, int64_t unix_s)
{
    cf_rfc3339(out, cap, unix_s);
}

int ctl_token_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 5 || n > 50)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Length of the path component at s ([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*),
 * ending at '/' or the end of the string; 0 when malformed. */
static size_t component(const char *s)
{
    size_t i = 0;
    if (!is_lower_alnum(s[i]))
        return 0;
    while (is_lower_alnum(s[i]))
        i++;
    while (s[i] != '\0' && s[i] != '/') {
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += s[i + 1] == '_' ? 2 : 1;
        else if (s[i] == '-')
            while (s[i] == '-')
                i++;
        else
            return 0;
        if (!is_lower_alnum(s[i]))
            return 0;
        while (is_lower_alnum(s[i]))
            i++;
    }
    return i;
}

int ctl_repository_name_valid(const char *s)
{
    if (s == NULL || strlen(s) > 255)
        return 0;
    for (;;) {
        size_t n = component(s);
        if (n == 0)
            return 0;
        s += n;
        if (*s == '\0')
            return 1;
        s++; /* '/' */
    }
}

int ctl_scope_repository_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= 3 && strcmp(s + n - 2, "/*") == 0) {
        char prefix[256];
        if (n - 2 >= sizeof(prefix))
            return 0;
        memcpy(prefix, s, n - 2);
        prefix[n - 2] = '\0';
        return ctl_repository_name_valid(prefix);
    }
    return ctl_repository_name_valid(s);
}

int ctl_token_action_valid(const char *s)
{
    static const char *const ok[] = {"content/read", "content/write", "content/delete",
                                     "metadata/read"};
    for (size_t i = 0; s && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(s, ok[i]) == 0)
            return 1;
    return 0;
}
