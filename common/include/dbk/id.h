/*
 * Identifiers: 16 random bytes from libsodium's CSPRNG, made on the device that
 * creates the thing (so records can be created offline), written on the wire as
 * 22 characters of unpadded base64url. Ids are not secrets.
 */
#ifndef DBK_ID_H
#define DBK_ID_H

#include <stdbool.h>
#include <stddef.h>

#define DBK_ID_BYTES 16
#define DBK_ID_TEXT_LEN 22 /* characters, without the NUL */

typedef struct dbk_id {
    unsigned char b[DBK_ID_BYTES];
} dbk_id;

/* A fresh random id. Call sodium_init() first (dbk_init does). */
void dbk_id_random(dbk_id *id);
/* Writes the 22-character form and a NUL into out (DBK_ID_TEXT_LEN + 1 bytes). */
void dbk_id_to_text(const dbk_id *id, char out[DBK_ID_TEXT_LEN + 1]);
/* Parses exactly n characters. Returns 0 or DBK_E_BAD_BASE64. */
int dbk_id_from_text(dbk_id *id, const char *text, size_t n);
bool dbk_id_equal(const dbk_id *a, const dbk_id *b);
bool dbk_id_is_zero(const dbk_id *id);

#endif
