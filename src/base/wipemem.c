/*
 * wipemem.c -- see wipemem.h. The block's size is malloc_usable_size's:
 * the allocation and whatever slack the allocator gave with it.
 */
#include "base/wipemem.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

static void wipe_free(void *p)
{
    if (p == NULL)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

/* Always moves the block (the old one is wiped, then freed). */
static void *wipe_realloc(void *p, size_t n)
{
    if (p == NULL)
        return malloc(n);
    if (n == 0) {
        wipe_free(p);
        return NULL;
    }
    void *q = malloc(n);
    if (q == NULL)
        return NULL; /* p stays, as realloc leaves it */
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    wipe_free(p);
    return q;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int installed;

static void install(void)
{
    json_set_alloc_funcs(malloc, wipe_free);
    installed = curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free, wipe_realloc, strdup,
                                     calloc) == CURLE_OK
                    ? 0
                    : -1;
}

int cf_wipe_install(void)
{
    pthread_once(&once, install);
    return installed;
}
