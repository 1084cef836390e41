/*
 * server/fastjson.c: the narrow scanner of push and sync bodies. Its string reader
 * looks at eight bytes at a time; these tests hold it to the byte-by-byte rule it
 * replaced (a string of printable ASCII with no quote inside, no backslash, no
 * control), for every position of every kind of byte, at every alignment, so a
 * string the fast path accepts is one jansson reads with the same meaning.
 */
#include "fastjson.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* The rule, one byte at a time: the reader as it was before it read words. */
static bool
ref_str(dbk_fj *x, const char **s, size_t *n)
{
    const char *q;
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
    if (x->p == x->end || *x->p != '"')
        return false;
    x->p++;
    for (q = x->p; q < x->end && *q != '"'; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
            return false;
    if (q == x->end)
        return false;
    *s = x->p;
    *n = (size_t)(q - x->p);
    x->p = q + 1;
    return true;
}

static bool
in_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* dbk_fj_str_raw's contract (fastjson.h), against the rule: every string the rule
 * takes, raw takes the same; and a span raw takes whose bytes are all base64url (what
 * the push path then checks) is one the rule takes, so the fast path of a push body
 * accepts nothing the rule would not. */
static void
raw_agrees(const char *buf, size_t len, bool ref_ok, const char *s, size_t n, const char *after)
{
    dbk_fj c = {buf, buf + len};
    const char *sc = NULL;
    size_t nc = 0;
    bool rc = dbk_fj_str_raw(&c, &sc, &nc);

    if (ref_ok) {
        assert_true(rc);
        assert_ptr_equal(sc, s);
        assert_int_equal(nc, n);
        assert_ptr_equal(c.p, after);
    }
    if (rc && in_b64url(sc, nc))
        assert_true(ref_ok);
}

/* Both readers on the same bytes: the same answer, the same string, the same place. */
static void
agree(const char *buf, size_t len)
{
    dbk_fj a = {buf, buf + len}, b = {buf, buf + len};
    const char *sa = NULL, *sb = NULL;
    size_t na = 0, nb = 0;
    bool ra = dbk_fj_str(&a, &sa, &na), rb = ref_str(&b, &sb, &nb);

    assert_int_equal(ra, rb);
    if (ra) {
        assert_ptr_equal(sa, sb);
        assert_int_equal(na, nb);
        assert_ptr_equal(a.p, b.p);
    }
    raw_agrees(buf, len, rb, sb, nb, b.p);
}

/* One odd byte at each place of a long plain string, quoted or not at the end, at
 * each of eight alignments: every lane of every word, and the byte tail. */
static void
test_each_byte_at_each_place(void **state)
{
    /* The edges of each class the reader tells apart, and plain base64url. */
    static const unsigned char odd[] = {'"',  '\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x5b, 0x5d,
                                        0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 'A',  '_',  '-'};
    char buf[96];
    (void)state;
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len <= 40; len++) {
            for (size_t at = 0; at <= len; at++) {
                for (size_t k = 0; k < sizeof odd; k++) {
                    for (int closed = 0; closed < 2; closed++) {
                        char *s = buf + align;
                        size_t n = 0;
                        s[n++] = '"';
                        for (size_t i = 0; i < len; i++)
                            s[n++] = (char)('A' + i % 26);
                        if (at < len)
                            s[1 + at] = (char)odd[k];
                        if (closed)
                            s[n++] = '"';
                        s[n++] = ','; /* what follows a value in a body */
                        agree(s, n - 1);
                        agree(s, n);
                    }
                }
            }
        }
    }
}

/* Two odd bytes anywhere in strings of random length, from a seeded generator. */
static void
test_random_strings(void **state)
{
    static const char pool[] = "\"\\\x01\x1f\x7f\x80\xff ~Az09-_";
    char buf[80];
    uint32_t seed = 20261206;
    (void)state;
    for (int round = 0; round < 200000; round++) {
        size_t len, n = 0, align;
        seed = seed * 1103515245u + 12345u;
        len = (seed >> 8) % 64;
        align = (seed >> 20) % 8;
        buf[align + n++] = ' ';
        buf[align + n++] = '"';
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[align + n++] = (seed >> 16) % 16 == 0 ? pool[(seed >> 8) % (sizeof pool - 1)]
                                                      : (char)('a' + (seed >> 20) % 26);
        }
        if (round % 2)
            buf[align + n++] = '"';
        agree(buf + align, n);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_byte_at_each_place),
        cmocka_unit_test(test_random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
