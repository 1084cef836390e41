/*
 * fuzz_base64: the strict base64url codec of common/base64.c (and the id text form
 * built on it).
 *
 * Invariants:
 *  - an accepted text re-encodes to itself (one spelling per value) and decodes to
 *    exactly DBK_B64_DECODED_MAX-bounded bytes;
 *  - decode(encode(x)) == x, and encode writes exactly DBK_B64_ENCODED_LEN chars of
 *    the base64url alphabet;
 *  - a buffer one byte short is refused (DBK_E_TOO_LARGE), never overrun (buffers
 *    here are heap blocks of the exact size, so ASan sees one byte too far);
 *  - dbk_b64_decode_exact and dbk_id_from_text agree with dbk_b64_decode;
 *  - dbk_b64_decode_public (the table decoder for pushed envelopes) gives the same
 *    verdict and bytes, into a heap block of exactly the decoded size (its main loop
 *    stores eight bytes for six: ASan sees a store past the end).
 */
#include "fuzz.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/id.h"

#include <string.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

static int
in_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* The public decoder against rc/bin/len of dbk_b64_decode on the same text. */
static void
check_public(const char *text, size_t n, int rc, const unsigned char *bin, size_t len)
{
    size_t cap = rc == DBK_OK ? len : DBK_B64_DECODED_MAX(n);
    unsigned char *out = malloc(cap ? cap : 1);
    size_t got = 12345;

    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(dbk_b64_decode_public(out, cap, &got, text, n) == rc);
    FUZZ_CHECK(got == len);
    FUZZ_CHECK(rc != DBK_OK || memcmp(out, bin, len) == 0);
    free(out);
}

/* The input as text. */
static void
check_decode(const char *text, size_t n)
{
    size_t cap = DBK_B64_DECODED_MAX(n);
    unsigned char *bin = malloc(cap ? cap : 1);
    size_t len = 12345;
    int rc;

    FUZZ_CHECK(bin != NULL);
    rc = dbk_b64_decode(bin, cap, &len, text, n);
    FUZZ_TRACE("base64: %zu chars, decode %s, %zu bytes\n", n, dbk_err_code(rc), len);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_BASE64);
    check_public(text, n, rc, bin, rc == DBK_OK ? len : 0);
    if (rc != DBK_OK) {
        FUZZ_CHECK(len == 0);
        free(bin);
        return;
    }
    FUZZ_CHECK(len <= cap);
    FUZZ_CHECK(n == DBK_B64_ENCODED_LEN(len));
    if (fuzz_known_b64_high_bytes(text, n)) {
        free(bin);
        return;
    }
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(in_alphabet(text[i]));

    /* Canonical: it re-encodes to the very same text. */
    char *again = malloc(n + 1);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(dbk_b64_encode(again, n + 1, bin, len) == DBK_OK);
    FUZZ_CHECK(strlen(again) == n && memcmp(again, text, n) == 0);
    free(again);

    /* Exactly len bytes needed: one less is refused without a write past the end. */
    if (len > 0) {
        unsigned char *small = malloc(len - 1 ? len - 1 : 1);
        size_t got;
        FUZZ_CHECK(small != NULL);
        FUZZ_CHECK(dbk_b64_decode(small, len - 1, &got, text, n) == DBK_E_TOO_LARGE);
        free(small);
    }
    /* decode_exact agrees for the right length and refuses others. */
    unsigned char *exact = malloc(len ? len : 1);
    FUZZ_CHECK(exact != NULL);
    FUZZ_CHECK(dbk_b64_decode_exact(exact, len, text, n) == DBK_OK);
    FUZZ_CHECK(memcmp(exact, bin, len) == 0);
    free(exact);
    if (len != DBK_ID_BYTES) {
        dbk_id id;
        FUZZ_CHECK(dbk_id_from_text(&id, text, n) != DBK_OK);
    } else {
        dbk_id id;
        char t[DBK_ID_TEXT_LEN + 1];
        FUZZ_CHECK(dbk_id_from_text(&id, text, n) == DBK_OK);
        FUZZ_CHECK(memcmp(id.b, bin, DBK_ID_BYTES) == 0);
        dbk_id_to_text(&id, t);
        FUZZ_CHECK(n == DBK_ID_TEXT_LEN && memcmp(t, text, n) == 0);
    }
    free(bin);
}

/* The input as bytes. */
static void
check_encode(const unsigned char *bin, size_t n)
{
    size_t tn = DBK_B64_ENCODED_LEN(n);
    char *text = malloc(tn + 1);
    unsigned char *back = malloc(n ? n : 1);
    size_t len;

    FUZZ_CHECK(text != NULL && back != NULL);
    /* Too small by one (no room for the NUL): refused. */
    FUZZ_CHECK(dbk_b64_encode(text, tn, bin, n) == DBK_E_INVALID);
    FUZZ_CHECK(dbk_b64_encode(text, tn + 1, bin, n) == DBK_OK);
    FUZZ_CHECK(strlen(text) == tn);
    for (size_t i = 0; i < tn; i++)
        FUZZ_CHECK(in_alphabet(text[i]));
    FUZZ_CHECK(dbk_b64_decode(back, n, &len, text, tn) == DBK_OK);
    FUZZ_CHECK(len == n && memcmp(back, bin, n) == 0);
    FUZZ_CHECK(dbk_b64_decode_exact(back, n, text, tn) == DBK_OK);
    free(text);
    free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The decoder takes a length, not a C string: pass an exact-size copy with no NUL. */
    char *text = malloc(size ? size : 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    check_decode(text, size);
    free(text);
    check_encode(data, size);
    return 0;
}
