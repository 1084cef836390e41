/*
 * A library frees its blocks as any C code does, leaving their bytes in freed heap
 * until reused. The client hands these to the libraries that hold its secrets and
 * plaintext: libcurl (client/sync/net.c, curl_global_init_mem: the bearer token's
 * header line, requests, answers) and jansson (client/main.c, json_set_alloc_funcs:
 * the token in login's answer, every decrypted document parsed into a tree). Every
 * block they see is glibc's (malloc, calloc and strdup stay the C library's own), so
 * malloc_usable_size gives its whole size. The server never holds plaintext and keeps
 * the plain free.
 */
#include "dbk/wipe.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void
dbk_wiping_free(void *p)
{
    if (p != NULL) {
        sodium_memzero(p, malloc_usable_size(p));
        free(p);
    }
}

void *
dbk_wiping_realloc(void *p, size_t n)
{
    size_t old;
    void *np;
    if (p == NULL)
        return malloc(n);
    old = malloc_usable_size(p);
    if ((np = malloc(n > 0 ? n : 1)) == NULL)
        return NULL;
    memcpy(np, p, old < n ? old : n);
    dbk_wiping_free(p);
    return np;
}
