/*
 * Unpadded base64url, strict: every value has exactly one spelling (a signature or
 * id compared as text must not have two forms). libsodium does the constant-time
 * encoding and decoding; this file adds the checks it leaves to the caller. The
 * _public decoder is table-driven, for public bytes only (pushed envelopes).
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

/* For keys and tokens: libsodium's decoder, which runs in time independent of the
 * characters (a hand-written one was measured and not kept: README, Performance). */
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
        end != text + n) {
        sodium_memzero(bin, bin_size); /* no part of a rejected secret left behind */
        return DBK_E_BAD_BASE64;
    }
    *out_len = len;
    return DBK_OK;
}

/* The base64url value of the character c, or 0xFF outside the alphabet; a constant
 * expression, so the tables below are built by the compiler. */
#define B64V(c)                                                                                    \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                        \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                   \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                   \
     : (c) == '-'               ? 62                                                               \
     : (c) == '_'               ? 63                                                               \
                                : 0xFF)
/* A character's value already in its place among a group's three bytes, for each of
 * the group's four positions: OR-ing the four gives the group's bytes, b0 | b1 << 8 |
 * b2 << 16, and a character outside the alphabet sets bit 24 (B64_BAD), which no
 * valid character touches. So a group costs four lookups and three ORs, and the
 * alphabet is checked by OR-ing the groups' words together (issue 20). */
#define B64_BAD 0x01000000u
#define B64P0(c) (B64V(c) == 0xFF ? B64_BAD : (uint32_t)B64V(c) << 2)
#define B64P1(c)                                                                                   \
    (B64V(c) == 0xFF ? B64_BAD : (uint32_t)B64V(c) >> 4 | ((uint32_t)B64V(c) & 15) << 12)
#define B64P2(c)                                                                                   \
    (B64V(c) == 0xFF ? B64_BAD : ((uint32_t)B64V(c) >> 2) << 8 | ((uint32_t)B64V(c) & 3) << 22)
#define B64P3(c) (B64V(c) == 0xFF ? B64_BAD : (uint32_t)B64V(c) << 16)
#define B64_4(M, i) M(i), M(i + 1), M(i + 2), M(i + 3)
#define B64_16(M, i) B64_4(M, i), B64_4(M, i + 4), B64_4(M, i + 8), B64_4(M, i + 12)
#define B64_64(M, i) B64_16(M, i), B64_16(M, i + 16), B64_16(M, i + 32), B64_16(M, i + 48)
#define B64_256(M) B64_64(M, 0), B64_64(M, 64), B64_64(M, 128), B64_64(M, 192)
static const uint32_t b64url_at[4][256] = {
    {B64_256(B64P0)}, {B64_256(B64P1)}, {B64_256(B64P2)}, {B64_256(B64P3)}};

/* The group of four characters at t, as b64url_at's OR. */
static inline uint32_t
b64_group(const unsigned char *t)
{
    return b64url_at[0][t[0]] | b64url_at[1][t[1]] | b64url_at[2][t[2]] | b64url_at[3][t[3]];
}

int
dbk_b64_decode_public(unsigned char *bin, size_t bin_size, size_t *out_len, const char *text,
                      size_t n)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t full = n / 4, rest = n % 4, len = full * 3 + (rest ? rest - 1 : 0), o = 0;
    uint32_t bad = 0;

    *out_len = 0;
    if (rest == 1)
        return DBK_E_BAD_BASE64;
    if (len > bin_size) {
        /* The alphabet's error before the size's, as dbk_b64_decode finds them. */
        for (size_t i = 0; i < n; i++)
            bad |= b64url_at[0][t[i]];
        return bad & B64_BAD ? DBK_E_BAD_BASE64 : DBK_E_TOO_LARGE;
    }
    /* One pass: the alphabet is checked on the groups as they are decoded, and bin's
     * bytes are only reported when every character was in it. Two groups a turn,
     * their six bytes written as one word's first six where bin has room for eight
     * (the two past them are written again by the next turn, or by the tail). */
    for (; full >= 2 && len - o >= 8; full -= 2, t += 8, o += 6) {
        uint32_t g = b64_group(t), h = b64_group(t + 4);
        uint64_t w = (uint64_t)g | (uint64_t)h << 24;
        bad |= g | h;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(bin + o, &w, 8); /* w's bytes are in memory order: one store */
#else
        for (int k = 0; k < 8; k++)
            bin[o + (size_t)k] = (unsigned char)(w >> (8 * k));
#endif
    }
    for (; full > 0; full--, t += 4) {
        uint32_t g = b64_group(t);
        bad |= g;
        bin[o++] = (unsigned char)g;
        bin[o++] = (unsigned char)(g >> 8);
        bin[o++] = (unsigned char)(g >> 16);
    }
    if (rest >= 2) {
        uint32_t g = b64url_at[0][t[0]] | b64url_at[1][t[1]] | (rest == 3 ? b64url_at[2][t[2]] : 0);
        bad |= g;
        /* Canonical: the bits past the last whole byte are zero. */
        if ((bad & B64_BAD) || (rest == 2 && (g & 0xFF00)) || (rest == 3 && (g & 0xFF0000)))
            return DBK_E_BAD_BASE64;
        bin[o++] = (unsigned char)g;
        if (rest == 3)
            bin[o++] = (unsigned char)(g >> 8);
    }
    if (bad & B64_BAD)
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
