/*
 * wipemem.h -- allocation functions that wipe a block before it goes back
 * to malloc, for the libraries whose buffers carry secrets in transit and
 * free them unwiped: libcurl (the request and download buffers of a vault
 * call hold a customer key's C, base64url in JSON, and the bearer token)
 * and jansson (its parser's buffer holds every string it reads).
 *
 * A process installs them once, at the start of main, before any other
 * call into those libraries and before any thread: both keep the first
 * allocators they are given (cf_wipe_install).
 */
#ifndef CF_BASE_WIPEMEM_H
#define CF_BASE_WIPEMEM_H

#include <stddef.h>

void *cf_wipe_malloc(size_t n);
void *cf_wipe_calloc(size_t count, size_t size);
/* Always moves the block (the old one is wiped, then freed). */
void *cf_wipe_realloc(void *p, size_t n);
char *cf_wipe_strdup(const char *s);
void cf_wipe_free(void *p);

/* curl_global_init and jansson's allocators with the functions above; 0,
 * or -1 when libcurl could not be initialised. Idempotent. */
int cf_wipe_install(void);

#endif
