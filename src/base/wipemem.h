/*
 * wipemem.h -- allocators that wipe a block before it goes back
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

/* curl_global_init, and jansson's allocators, with a free (and a
 * realloc) that wipes the block first; 0, or -1 when libcurl could not be
 * initialised. Idempotent. */
int cf_wipe_install(void);

#endif
