/* Random 128-bit identifiers and their text form. */
#include "dbk/id.h"
#include "dbk/base64.h"
#include "dbk/error.h"

#include <sodium.h>
#include <string.h>

void
dbk_id_random(dbk_id *id)
{
    randombytes_buf(id->b, sizeof id->b);
}

/* An id is public, never a secret: its text goes through the table-driven base64url
 * coders (base64.h, "_public"), not the constant-time ones kept for secrets, which
 * cost about ten times as many instructions (a sync decodes and encodes a few ids). */
void
dbk_id_to_text(const dbk_id *id, char out[DBK_ID_TEXT_LEN + 1])
{
    /* Cannot fail: the buffer is sized for exactly this input. */
    (void)dbk_b64_encode_public(out, DBK_ID_TEXT_LEN + 1, id->b, sizeof id->b);
}

int
dbk_id_from_text(dbk_id *id, const char *text, size_t n)
{
    size_t got = 0;
    int rc;

    /* As strict as dbk_b64_decode_exact: this length, the alphabet, canonical bits. */
    if (n != DBK_B64_ENCODED_LEN(sizeof id->b))
        return DBK_E_BAD_BASE64;
    rc = dbk_b64_decode_public(id->b, sizeof id->b, &got, text, n);
    if (rc == DBK_OK && got != sizeof id->b)
        return DBK_E_BAD_BASE64;
    return rc;
}

bool
dbk_id_equal(const dbk_id *a, const dbk_id *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

bool
dbk_id_is_zero(const dbk_id *id)
{
    return sodium_is_zero(id->b, sizeof id->b) == 1;
}
