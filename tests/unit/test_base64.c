/* base64url without padding: RFC 4648 vectors and the strictness the wire relies on. */
#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

/* RFC 4648 §10 vectors, in the URL-safe alphabet without padding. */
static const struct {
    const char *bin, *text;
} rfc[] = {
    {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

static void
test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        char out[32];
        unsigned char bin[32];
        size_t n = strlen(rfc[i].bin), got = 99;
        assert_int_equal(dbk_b64_encode(out, sizeof out, (const unsigned char *)rfc[i].bin, n), 0);
        assert_string_equal(out, rfc[i].text);
        assert_int_equal(strlen(out), DBK_B64_ENCODED_LEN(n));
        assert_int_equal(dbk_b64_decode(bin, sizeof bin, &got, rfc[i].text, strlen(rfc[i].text)),
                         0);
        assert_int_equal(got, n);
        assert_memory_equal(bin, rfc[i].bin, n);
    }
}

static void
test_url_safe_alphabet(void **state)
{
    const unsigned char bin[] = {0xfb, 0xff, 0xbf};
    char out[8];
    (void)state;
    assert_int_equal(dbk_b64_encode(out, sizeof out, bin, sizeof bin), 0);
    assert_string_equal(out, "-_-_");
}

static void
test_rejects_non_canonical_input(void **state)
{
    static const char *bad[] = {
        "Zg==",     /* padding */
        "Zm9v\n",   /* whitespace */
        "Zm 9v",    /* inner whitespace */
        "Zm+v",     /* standard alphabet */
        "Zm/v",     /* standard alphabet */
        "Zh",       /* non-zero trailing bits: "Zg" is the only spelling of "f" */
        "Z",        /* impossible length */
        "Zm9vY",    /* impossible length */
        "Zm9v!",    /* junk */
        "\x80" "A", /* non-ASCII: libsodium 1.0.18 alone would read it as '_' */
        "Zm9\xff",  /* ... anywhere in the text */
        "Zm9\xc3\xa9", /* UTF-8 */
    };
    unsigned char bin[16];
    size_t got;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(dbk_b64_decode(bin, sizeof bin, &got, bad[i], strlen(bad[i])),
                         DBK_E_BAD_BASE64);
}

static void
test_caps(void **state)
{
    unsigned char bin[2];
    char small[4];
    size_t got;
    (void)state;
    assert_int_equal(dbk_b64_decode(bin, sizeof bin, &got, "Zm9v", 4), DBK_E_TOO_LARGE);
    assert_int_equal(dbk_b64_encode(small, sizeof small, (const unsigned char *)"foo", 3),
                     DBK_E_INVALID);
}

static void
test_decode_exact(void **state)
{
    unsigned char bin[3];
    (void)state;
    assert_int_equal(dbk_b64_decode_exact(bin, 3, "Zm9v", 4), 0);
    assert_memory_equal(bin, "foo", 3);
    assert_int_equal(dbk_b64_decode_exact(bin, 3, "Zm8", 3), DBK_E_BAD_BASE64);
    assert_int_equal(dbk_b64_decode_exact(bin, 2, "Zm9v", 4), DBK_E_BAD_BASE64);
}

static void
test_round_trip_all_lengths(void **state)
{
    unsigned char in[100], back[100];
    char text[200];
    (void)state;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t got;
        assert_int_equal(dbk_b64_encode(text, sizeof text, in, n), 0);
        assert_int_equal(dbk_b64_decode(back, sizeof back, &got, text, strlen(text)), 0);
        assert_int_equal(got, n);
        assert_memory_equal(back, in, n);
        assert_true(DBK_B64_DECODED_MAX(strlen(text)) >= n);
    }
}

/* The table decoder for public bytes accepts, rejects and decodes exactly as the
 * constant-time one, on valid text of every length, on text with one wrong byte or
 * non-canonical trailing bits, and on outputs one byte too small. */
static void
test_public_decoder_agrees(void **state)
{
    static const char pool[] = "AZaz09-_+/=. \"\x80\xff\n";
    unsigned char in[64], a[80], b[80];
    char text[128];
    uint32_t seed = 12345;
    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t n, la = 7, lb = 9, cap;
        int ra, rb;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 8) % sizeof in;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (unsigned char)(seed >> 16);
        }
        assert_int_equal(dbk_b64_encode(text, sizeof text, in, n), 0);
        seed = seed * 1103515245u + 12345u;
        if (round % 3 == 1 && strlen(text) > 0) /* one byte from a mixed pool */
            text[(seed >> 8) % strlen(text)] = pool[(seed >> 20) % (sizeof pool - 1)];
        if (round % 3 == 2 && strlen(text) % 4 >= 2) /* a trailing bit set */
            text[strlen(text) - 1] = "BCDEFGHIJKLMNOPQ"[(seed >> 8) % 16];
        cap = round % 5 == 4 && n > 0 ? n - 1 : sizeof a;
        ra = dbk_b64_decode(a, cap, &la, text, strlen(text));
        rb = dbk_b64_decode_public(b, cap, &lb, text, strlen(text));
        assert_int_equal(ra, rb);
        assert_int_equal(la, lb);
        if (ra == 0)
            assert_memory_equal(a, b, la);
    }
}

/* The constant-time decoder against libsodium's sodium_base642bin alone, the decoder
 * it wraps, on ASCII text (libsodium 1.0.18 misreads bytes 0x80-0xFF): valid text of
 * every length up to 64 bytes, with one byte from a mixed pool or a trailing bit set;
 * the same verdict and the same bytes. On a rejected text nothing is left in bin. */
static void
test_decoder_agrees_with_libsodium(void **state)
{
    static const char pool[] = "AZaz09-_+/=. \"\n\t@[`{";
    unsigned char in[64], a[80], b[80];
    char text[128];
    uint32_t seed = 777;
    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t n, la = 7, lb = 9, tn;
        const char *end = NULL;
        int ra, rb;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 8) % sizeof in;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (unsigned char)(seed >> 16);
        }
        assert_int_equal(dbk_b64_encode(text, sizeof text, in, n), 0);
        tn = strlen(text);
        seed = seed * 1103515245u + 12345u;
        if (round % 3 == 1 && tn > 0)
            text[(seed >> 8) % tn] = pool[(seed >> 20) % (sizeof pool - 1)];
        if (round % 3 == 2 && tn % 4 >= 2)
            text[tn - 1] = "BCDEFGHIJKLMNOPQ"[(seed >> 8) % 16];
        memset(a, 0x5A, sizeof a);
        ra = dbk_b64_decode(a, sizeof a, &la, text, tn);
        rb = sodium_base642bin(b, sizeof b, text, tn, NULL, &lb, &end,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
                     end == text + tn
                 ? 0
                 : -1;
        assert_int_equal(ra == 0, rb == 0);
        if (ra == 0) {
            assert_int_equal(la, lb);
            assert_int_equal(la, n);
            assert_memory_equal(a, b, la);
        } else {
            assert_int_equal(la, 0);
            for (size_t i = 0; i < sizeof a; i++) /* wiped, or never written */
                assert_true(a[i] == 0 || a[i] == 0x5A);
        }
    }
}

/* The public decoder on envelope-sized text (several turns of its two-group loop,
 * then its tail): every byte value at every place of a 600-character text of each
 * length mod 4 agrees with the constant-time decoder; and with bin exactly the
 * decoded size inside a larger buffer, nothing past bin_size is written (the loop
 * writes eight bytes for six). */
static void
test_public_decoder_long(void **state)
{
    unsigned char in[450], a[460], b[460 + 16];
    char text[640];
    (void)state;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 441; n <= 450; n++) {
        size_t tn, la, lb, want;
        assert_int_equal(dbk_b64_encode(text, sizeof text, in, n), 0);
        tn = strlen(text);
        for (size_t at = 0; at < tn; at += (at < 24 || at + 24 > tn) ? 1 : 7) {
            char keep = text[at];
            for (int c = 0; c < 256; c++) {
                text[at] = (char)c;
                int ra = dbk_b64_decode(a, sizeof a, &la, text, tn);
                int rb = dbk_b64_decode_public(b, sizeof b, &lb, text, tn);
                assert_int_equal(ra, rb);
                assert_int_equal(la, lb);
                if (ra == 0)
                    assert_memory_equal(a, b, la);
            }
            text[at] = keep;
        }
        want = n;
        memset(b, 0xA5, sizeof b);
        assert_int_equal(dbk_b64_decode_public(b, want, &lb, text, tn), 0);
        assert_int_equal(lb, n);
        assert_memory_equal(b, in, n);
        for (size_t i = n; i < sizeof b; i++)
            assert_int_equal(b[i], 0xA5);
        assert_int_equal(dbk_b64_decode_public(b, want - 1, &lb, text, tn), DBK_E_TOO_LARGE);
    }
}

/* The public encoder writes what the constant-time one writes, for every length
 * up to 3 blocks past a typical envelope, and refuses the same short buffers. */
static void
test_public_encoder_agrees(void **state)
{
    unsigned char in[460];
    char a[640], b[640];
    uint32_t seed = 54321;
    (void)state;
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (unsigned char)(seed >> 16);
        }
        memset(a, '#', sizeof a);
        memset(b, '#', sizeof b);
        assert_int_equal(dbk_b64_encode(a, sizeof a, in, n), 0);
        assert_int_equal(dbk_b64_encode_public(b, sizeof b, in, n), 0);
        assert_string_equal(a, b);
        assert_int_equal(dbk_b64_encode_public(b, strlen(a), in, n), DBK_E_INVALID);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_safe_alphabet),
        cmocka_unit_test(test_rejects_non_canonical_input),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_decode_exact),
        cmocka_unit_test(test_round_trip_all_lengths),
        cmocka_unit_test(test_public_decoder_agrees),
        cmocka_unit_test(test_public_decoder_long),
        cmocka_unit_test(test_decoder_agrees_with_libsodium),
        cmocka_unit_test(test_public_encoder_agrees),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
