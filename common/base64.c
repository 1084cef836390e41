/*
 * Unpadded base64url, strict. libsodium does the encoding; this file adds the
 * checks libsodium leaves to the caller so that every value has exactly one
 * spelling (a signature or id compared as text must not have two forms).
 */
#include "dbk/base64.h"
#include "dbk/error.h"

#include <sodium.h>

#define VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

int
dbk_b64_encode(char *out, size_t out_size, const unsigned char *bin, size_t len)
{
    if (out_size < sodium_base64_ENCODED_LEN(len, VARIANT))
        return DBK_E_INVALID;
    sodium_bin2base64(out, out_size, bin, len, VARIANT);
    return DBK_OK;
}

int
dbk_b64_decode(unsigned char *bin, size_t bin_size, size_t *out_len, const char *text, size_t n)
{
    const char *end = NULL;
    size_t len = 0;

    *out_len = 0;
    if (n % 4 == 1) /* no unpadded base64 string has this length */
        return DBK_E_BAD_BASE64;
    /* Check the alphabet ourselves: libsodium 1.0.18 reads bytes 0x80-0xFF through a
     * signed char and decodes them as '_' (found by tests/fuzz/fuzz_base64). */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return DBK_E_BAD_BASE64;
    }
    if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > bin_size)
        return DBK_E_TOO_LARGE;
    /* sodium_base642bin rejects non-canonical trailing bits in this variant. */
    if (sodium_base642bin(bin, bin_size, text, n, NULL, &len, &end, VARIANT) != 0 ||
        end != text + n)
        return DBK_E_BAD_BASE64;
    *out_len = len;
    return DBK_OK;
}

int
dbk_b64_decode_exact(unsigned char *bin, size_t want, const char *text, size_t n)
{
    size_t got = 0;
    int rc;

    if (n != DBK_B64_ENCODED_LEN(want))
        return DBK_E_BAD_BASE64;
    rc = dbk_b64_decode(bin, want, &got, text, n);
    if (rc == DBK_OK && got != want)
        return DBK_E_BAD_BASE64;
    return rc;
}
