/*
 * Unpadded base64url, strict. libsodium does the encoding; this file adds the
 * checks libsodium leaves to the caller so that every value has exactly one
 * spelling (a signature or id compared as text must not have two forms).
 */
#include "dbk/base64.h"
#include "dbk/error.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

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

/* 0..63 for the base64url alphabet, 0xFF for every other byte. */
static const unsigned char b64url_value[256] = {
#define X 0xFF
#define R16 X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X
    R16, R16,
    X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,           /* '-' */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,  /* '0'-'9' */
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,       /* 'A'-'O' */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63, /* 'P'-'Z', '_' */
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 'a'-'o' */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X, /* 'p'-'z' */
    R16, R16, R16, R16, R16, R16, R16, R16,
#undef R16
#undef X
};

int
dbk_b64_decode_public(unsigned char *bin, size_t bin_size, size_t *out_len, const char *text,
                      size_t n)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t full = n / 4, rest = n % 4, len = full * 3 + (rest ? rest - 1 : 0), o = 0;
    unsigned char bad = 0;

    *out_len = 0;
    if (rest == 1)
        return DBK_E_BAD_BASE64;
    if (len > bin_size) {
        /* The alphabet's error before the size's, as dbk_b64_decode finds them. */
        for (size_t i = 0; i < n; i++)
            bad |= b64url_value[t[i]];
        return bad & 0x80 ? DBK_E_BAD_BASE64 : DBK_E_TOO_LARGE;
    }
    /* One pass: the alphabet is checked on the values as they are decoded (a byte
     * outside it has the high bit of its value set), and bin's bytes are only
     * reported when every character was in it. */
    for (size_t i = 0; i < full; i++, t += 4) {
        unsigned char a = b64url_value[t[0]], b = b64url_value[t[1]], c = b64url_value[t[2]],
                      d = b64url_value[t[3]];
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        bad |= a | b | c | d;
        bin[o++] = (unsigned char)(v >> 16);
        bin[o++] = (unsigned char)(v >> 8);
        bin[o++] = (unsigned char)v;
    }
    if (rest >= 2) {
        unsigned char a = b64url_value[t[0]], b = b64url_value[t[1]],
                      c = rest == 3 ? b64url_value[t[2]] : 0;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        bad |= a | b | c;
        /* Canonical: the bits past the last whole byte are zero. */
        if ((bad & 0x80) || (rest == 2 && (v & 0xFFFF)) || (rest == 3 && (v & 0xFF)))
            return DBK_E_BAD_BASE64;
        bin[o++] = (unsigned char)(v >> 16);
        if (rest == 3)
            bin[o++] = (unsigned char)(v >> 8);
    }
    if (bad & 0x80)
        return DBK_E_BAD_BASE64;
    *out_len = o;
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

/* Every 12 bits of input as their two characters, so a group of 3 bytes takes two
 * lookups and two 2-byte stores, not four of each. */
/* clang-format off */
#define B64_ROW(c)                                                                  \
    {c, 'A'}, {c, 'B'}, {c, 'C'}, {c, 'D'}, {c, 'E'}, {c, 'F'}, {c, 'G'}, {c, 'H'}, \
    {c, 'I'}, {c, 'J'}, {c, 'K'}, {c, 'L'}, {c, 'M'}, {c, 'N'}, {c, 'O'}, {c, 'P'}, \
    {c, 'Q'}, {c, 'R'}, {c, 'S'}, {c, 'T'}, {c, 'U'}, {c, 'V'}, {c, 'W'}, {c, 'X'}, \
    {c, 'Y'}, {c, 'Z'}, {c, 'a'}, {c, 'b'}, {c, 'c'}, {c, 'd'}, {c, 'e'}, {c, 'f'}, \
    {c, 'g'}, {c, 'h'}, {c, 'i'}, {c, 'j'}, {c, 'k'}, {c, 'l'}, {c, 'm'}, {c, 'n'}, \
    {c, 'o'}, {c, 'p'}, {c, 'q'}, {c, 'r'}, {c, 's'}, {c, 't'}, {c, 'u'}, {c, 'v'}, \
    {c, 'w'}, {c, 'x'}, {c, 'y'}, {c, 'z'}, {c, '0'}, {c, '1'}, {c, '2'}, {c, '3'}, \
    {c, '4'}, {c, '5'}, {c, '6'}, {c, '7'}, {c, '8'}, {c, '9'}, {c, '-'}, {c, '_'}
/* clang-format on */
static const char b64url_pairs[4096][2] = {
    B64_ROW('A'), B64_ROW('B'), B64_ROW('C'), B64_ROW('D'), B64_ROW('E'), B64_ROW('F'),
    B64_ROW('G'), B64_ROW('H'), B64_ROW('I'), B64_ROW('J'), B64_ROW('K'), B64_ROW('L'),
    B64_ROW('M'), B64_ROW('N'), B64_ROW('O'), B64_ROW('P'), B64_ROW('Q'), B64_ROW('R'),
    B64_ROW('S'), B64_ROW('T'), B64_ROW('U'), B64_ROW('V'), B64_ROW('W'), B64_ROW('X'),
    B64_ROW('Y'), B64_ROW('Z'), B64_ROW('a'), B64_ROW('b'), B64_ROW('c'), B64_ROW('d'),
    B64_ROW('e'), B64_ROW('f'), B64_ROW('g'), B64_ROW('h'), B64_ROW('i'), B64_ROW('j'),
    B64_ROW('k'), B64_ROW('l'), B64_ROW('m'), B64_ROW('n'), B64_ROW('o'), B64_ROW('p'),
    B64_ROW('q'), B64_ROW('r'), B64_ROW('s'), B64_ROW('t'), B64_ROW('u'), B64_ROW('v'),
    B64_ROW('w'), B64_ROW('x'), B64_ROW('y'), B64_ROW('z'), B64_ROW('0'), B64_ROW('1'),
    B64_ROW('2'), B64_ROW('3'), B64_ROW('4'), B64_ROW('5'), B64_ROW('6'), B64_ROW('7'),
    B64_ROW('8'), B64_ROW('9'), B64_ROW('-'), B64_ROW('_')};
#undef B64_ROW

int
dbk_b64_encode_public(char *out, size_t out_size, const unsigned char *bin, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t full = len / 3, rest = len % 3, o = 0;

    if (out_size < sodium_base64_ENCODED_LEN(len, VARIANT))
        return DBK_E_INVALID;
    for (size_t i = 0; i < full; i++, bin += 3, o += 4) {
        uint32_t v = (uint32_t)bin[0] << 16 | (uint32_t)bin[1] << 8 | bin[2];
        memcpy(out + o, b64url_pairs[v >> 12], 2);
        memcpy(out + o + 2, b64url_pairs[v & 0xFFF], 2);
    }
    if (rest > 0) {
        uint32_t v = (uint32_t)bin[0] << 16 | (rest == 2 ? (uint32_t)bin[1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        if (rest == 2)
            out[o++] = alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return DBK_OK;
}
