/* Random 128-bit identifiers and their text form. */
#include "dbk/id.h"
#include "dbk/base64.h"

#include <sodium.h>
#include <string.h>

void
dbk_id_random(dbk_id *id)
{
    randombytes_buf(id->b, sizeof id->b);
}

void
dbk_id_to_text(const dbk_id *id, char out[DBK_ID_TEXT_LEN + 1])
{
    /* Cannot fail: the buffer is sized for exactly this input. */
    (void)dbk_b64_encode(out, DBK_ID_TEXT_LEN + 1, id->b, sizeof id->b);
}

int
dbk_id_from_text(dbk_id *id, const char *text, size_t n)
{
    return dbk_b64_decode_exact(id->b, sizeof id->b, text, n);
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
