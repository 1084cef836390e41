/*
 * Percent-encoding of a value inside a daybook:// link (RFC 3986: everything but
 * the unreserved characters A-Z a-z 0-9 - . _ ~ is written as %XX), so a server
 * URL with '&' or '=' in it cannot change what the link says.
 */
#ifndef DBK_PCT_H
#define DBK_PCT_H

#include <stddef.h>

/* The longest server base URL a link carries, with its NUL (the CLI keeps it in a
 * buffer of this size). */
#define DBK_URL_MAX 512

/* Appends the encoding of in to out (a NUL-terminated string of capacity cap).
 * DBK_OK, or DBK_E_INVALID if it does not fit (out is then unchanged). */
int dbk_pct_append(char *out, size_t cap, const char *in);

#endif
