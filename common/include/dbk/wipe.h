/* free and realloc that wipe a heap block before giving it back (common/wipe.c). */
#ifndef DBK_WIPE_H
#define DBK_WIPE_H

#include <stddef.h>

/* free(p) after sodium_memzero over the whole block glibc handed out
 * (malloc_usable_size). p NULL, or from the C library's malloc family. */
void dbk_wiping_free(void *p);

/* realloc as malloc, copy, wipe, free: glibc's realloc may move a block and leave the
 * old one unwiped. On failure p is untouched, as realloc leaves it. */
void *dbk_wiping_realloc(void *p, size_t n);

#endif
