/*
 * troubleshoot.h -- what to do about a CMK registry's key state: from the
 * state `acr encryption check` reports (keyStatus, lastError) to the
 * likely cause and the fix, as the reference's troubleshooting guide
 * (acr-cmk.md §3) would give it, with coffer's commands. The portal's
 * encryption page shows these steps after "Check now".
 *
 * Pure: the causes are read from lastError's text, which cmk.c writes
 * (the vault's own status, code and message are in it), so a new cause
 * there needs a line here; tests/unit/cmk/test_troubleshoot.c pins each.
 */
#ifndef CF_CMK_TROUBLESHOOT_H
#define CF_CMK_TROUBLESHOOT_H

#include <stddef.h>

typedef struct cmk_step {
    char cause[256];
    char fix[640];
} cmk_step;

typedef struct cmk_state {
    const char *registry;
    const char *key_status;     /* available | unavailable */
    const char *last_error;     /* NULL or "" when none */
    const char *key_identifier; /* as configured (versioned or not) */
    const char *identity;       /* client id, or "system" */
    const char *principal;      /* the identity's principal (object) id, or NULL */
} cmk_state;

/* Fills at most max steps, the likeliest first; returns how many. No
 * step when the key is available without an error. */
size_t cmk_troubleshoot(cmk_step *out, size_t max, const cmk_state *s);

#endif
