/*
 * A scanner for the few JSON shapes of a push or sync body, so the server's loop
 * thread does not build a jansson tree (a heap string per envelope, then a copy) for
 * the bytes that are mostly base64url; and, built on it, dbk_fj_load, the client's
 * reader of the server's answers. It is deliberately narrow: strings with no escapes and
 * only printable ASCII, non-negative integers of at most 18 digits, objects and
 * arrays. Anything else makes the caller give up and parse the body with jansson
 * as before, so every error (and its code) still comes from that one strict path:
 * whatever this scanner accepts, jansson would accept with the same meaning.
 */
#ifndef DBK_FASTJSON_H
#define DBK_FASTJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dbk_fj {
    const char *p, *end;
} dbk_fj;

/* Skips JSON whitespace; true if c is next (and consumes it). */
bool dbk_fj_take(dbk_fj *x, char c);
/* Whether c is next, without consuming it (after whitespace). */
bool dbk_fj_peek(dbk_fj *x, char c);
/* A string of the narrow kind: *s points into the body, *n its length. */
bool dbk_fj_str(dbk_fj *x, const char **s, size_t *n);
/* The characters up to the next quote, unchecked (libc's memchr, many bytes a step):
 * only for a value the caller then checks byte by byte against a set that has no
 * quote, backslash, control or non-ASCII byte (an envelope's base64url, which the
 * decoder checks), so that whatever passes is a string dbk_fj_str would have taken
 * whole. An escaped quote ends the span early with its backslash inside the span,
 * where it fails the caller's check, and the body goes to jansson. */
bool dbk_fj_str_raw(dbk_fj *x, const char **s, size_t *n);
/* A non-negative integer without sign, fraction or exponent. */
bool dbk_fj_uint(dbk_fj *x, int64_t *v);
/* Only whitespace left. */
bool dbk_fj_end(dbk_fj *x);
/* Whether the string s[0..n) is the key k. */
bool dbk_fj_is(const char *s, size_t n, const char *k);

/*
 * The document text[0..len) as json_loadb(text, len, 0, ...) reads it, when it is of
 * the narrow kind: an object or array at the top, nested at most DBK_FJ_LOAD_DEPTH
 * deep, of objects, arrays, the strings above (keys of at most DBK_FJ_LOAD_KEY
 * bytes), the integers above, true, false and null, with JSON whitespace; the same
 * tree, a key given twice keeping its last value as jansson's does. NULL for anything
 * else (a negative or real number, an escape, a byte not printable ASCII, bad JSON)
 * and when memory runs out: the caller then reads the text with jansson, which
 * accepts or refuses it, and says why. jansson reads a byte at a time through its
 * stream layer; a pull answer is mostly base64url envelopes, read here eight bytes
 * a step and copied once.
 */
#define DBK_FJ_LOAD_DEPTH 32
#define DBK_FJ_LOAD_KEY 128
json_t *dbk_fj_load(const char *text, size_t len);

#endif
