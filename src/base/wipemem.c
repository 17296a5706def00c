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

void *cf_wipe_malloc(size_t n)
{
    return malloc(n);
}

void *cf_wipe_calloc(size_t count, size_t size)
{
    return calloc(count, size);
}

void cf_wipe_free(void *p)
{
    if (p == NULL)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

void *cf_wipe_realloc(void *p, size_t n)
{
    if (p == NULL)
        return malloc(n);
    if (n == 0) {
        cf_wipe_free(p);
        return NULL;
    }
    void *q = malloc(n);
    if (q == NULL)
        return NULL; /* p stays, as realloc leaves it */
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    cf_wipe_free(p);
    return q;
}

char *cf_wipe_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int installed;

static void install(void)
{
    json_set_alloc_funcs(cf_wipe_malloc, cf_wipe_free);
    installed = curl_global_init_mem(CURL_GLOBAL_DEFAULT, cf_wipe_malloc, cf_wipe_free,
                                     cf_wipe_realloc, cf_wipe_strdup, cf_wipe_calloc) == CURLE_OK
                    ? 0
                    : -1;
}

int cf_wipe_install(void)
{
    pthread_once(&once, install);
    return installed;
}
