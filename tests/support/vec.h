/*
 * Helpers for proto/vectors/ files: lowercase hex, and typed field access on the
 * JSON cases. A missing or malformed field aborts: vector files are test input.
 */
#ifndef DBK_TEST_VEC_H
#define DBK_TEST_VEC_H

#include "dbk/id.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of bin, malloc'd. */
char *dbk_hex(const unsigned char *bin, size_t len);
/* A JSON string of the hex of bin (new reference). */
json_t *dbk_jhex(const unsigned char *bin, size_t len);
/* A JSON string of the decimal value of v (new reference). */
json_t *dbk_ju64(uint64_t v);

/* The bytes of hex field key of case c, malloc'd; *len gets their count. */
unsigned char *dbk_vec_bytes(json_t *c, const char *key, size_t *len);
/* The hex field key decoded into out, which must be exactly n bytes. */
void dbk_vec_fixed(json_t *c, const char *key, unsigned char *out, size_t n);
void dbk_vec_id(json_t *c, const char *key, dbk_id *id);
/* A decimal-string (or integer) field as uint64. */
uint64_t dbk_vec_u64(json_t *c, const char *key);
const char *dbk_vec_str(json_t *c, const char *key);
/* Loads dir/name, aborting if it is missing or not JSON. */
json_t *dbk_vec_load(const char *dir, const char *name);

#endif
