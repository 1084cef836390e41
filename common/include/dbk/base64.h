/*
 * base64url without padding (RFC 4648 §5), the only text encoding of binary data
 * on Daybook's wire. Encoding is libsodium's sodium_bin2base64 with the variant
 * fixed, so every caller agrees; decoding is strict: padding, whitespace and
 * non-canonical trailing bits are errors. dbk_b64_encode and dbk_b64_decode run in
 * time independent of the bytes (keys, tokens); the _public pair do not.
 */
#ifndef DBK_BASE64_H
#define DBK_BASE64_H

#include <stddef.h>

/* Characters needed to encode n bytes, not counting the terminating NUL. */
#define DBK_B64_ENCODED_LEN(n) (((n) / 3) * 4 + (((n) % 3) ? ((n) % 3) + 1 : 0))
/* Upper bound of bytes a string of n characters decodes to. */
#define DBK_B64_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/*
 * Encodes bin[0..len) into out, which holds out_size bytes, and NUL-terminates it.
 * Returns 0, or DBK_E_INVALID when out is too small.
 */
int dbk_b64_encode(char *out, size_t out_size, const unsigned char *bin, size_t len);

/*
 * Decodes the n characters of text into bin (capacity bin_size); stores the number
 * of bytes in *out_len. Returns 0, DBK_E_BAD_BASE64 for anything but canonical
 * unpadded base64url, or DBK_E_TOO_LARGE when bin is too small.
 */
int dbk_b64_decode(unsigned char *bin, size_t bin_size, size_t *out_len, const char *text,
                   size_t n);

/*
 * The same decoder, as strict (the same inputs accepted, the same bytes and errors),
 * but by table lookup: its time depends on the text. Only for public bytes such as
 * envelopes (ciphertext and signatures), where it is several times faster than the
 * constant-time path; never for keys or tokens. On an error, bin may hold part of
 * the text's bytes (it decodes and checks in one pass); *out_len is then 0.
 */
int dbk_b64_decode_public(unsigned char *bin, size_t bin_size, size_t *out_len,
                          const char *text, size_t n);

/*
 * dbk_b64_encode's output, byte for byte, by table lookup: its time depends on the
 * bytes. Only for public bytes such as envelopes, where libsodium's constant-time
 * encoder cost about 65 instructions a character (most of a pull's CPU in the
 * server); never for keys or tokens.
 */
int dbk_b64_encode_public(char *out, size_t out_size, const unsigned char *bin, size_t len);

/* Decodes text that must be exactly want bytes long: fixed-size ids and keys. */
int dbk_b64_decode_exact(unsigned char *bin, size_t want, const char *text, size_t n);

#endif
