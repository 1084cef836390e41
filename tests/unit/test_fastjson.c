/*
 * common/fastjson.c: the narrow scanner of push and sync bodies. Its string reader
 * looks at eight bytes at a time; these tests hold it to the byte-by-byte rule it
 * replaced (a string of printable ASCII with no quote inside, no backslash, no
 * control), for every position of every kind of byte, at every alignment, so a
 * string the fast path accepts is one jansson reads with the same meaning.
 *
 * dbk_fj_load, the client's reader of answers, is held to jansson: whatever it reads,
 * json_loadb reads as the same tree (same types, same values, same key order); what
 * it must read (the usual answers) it reads; and hostile or broken documents (each
 * byte of an answer replaced, every cut, deep nesting, odd numbers and literals) are
 * either refused or read as jansson reads them.
 */
#include "dbk/fastjson.h"

#include <stdio.h>
#include <stdlib.h>

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

/* ---- dbk_fj_load ---- */

/* A pull answer as daybookd writes it (api_records.c), envelopes shortened. */
static const char answer[] =
    "{\"push\":[],\"pull\":[{\"stream\":\"AAECAwQFBgcICQoLDA0ODw\",\"records\":["
    "{\"seq\":1,\"envelope\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8\"},"
    "{\"seq\":2,\"envelope\":\"MDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk9QUVJTVFVW\"}],"
    "\"next\":2,\"more\":false,\"high_seq\":900,\"epoch\":1,\"rotation_pending\":null},"
    "{\"stream\":\"EBESExQVFhcYGRobHB0eHw\",\"records\":[],\"next\":0,\"more\":true,"
    "\"epoch\":0}],\"grants_seq\":123456789012345678}";

/* The invariant: what dbk_fj_load reads, jansson reads as the same tree, keys in the
 * same order. Returns whether dbk_fj_load read it. */
static bool
load_agrees(const char *buf, size_t len)
{
    json_t *f = dbk_fj_load(buf, len), *j = json_loadb(buf, len, 0, NULL);
    bool read = f != NULL;
    if (f != NULL) {
        char *a, *b;
        if (j == NULL || !json_equal(f, j))
            fail_msg("read what jansson does not read so: %.*s", (int)len, buf);
        a = json_dumps(f, JSON_COMPACT);
        b = json_dumps(j, JSON_COMPACT);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    json_decref(f);
    json_decref(j);
    return read;
}

static bool
load_agrees_str(const char *text)
{
    return load_agrees(text, strlen(text));
}

/* What the client receives every day is read here, not left to jansson. */
static void
test_load_reads_answers(void **state)
{
    static const char *const docs[] = {
        answer,
        "{}",
        "[]",
        " \t\r\n{ \"a\" : [ 1 , 0 , true , false , null , \"\" ] }\n ",
        "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many requests\"}}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", /* 32 deep */
        "{\"a\":1,\"b\":2,\"a\":3}", /* jansson keeps the last, in the first place */
        "{\"\":999999999999999999}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
        if (!load_agrees_str(docs[i]))
            fail_msg("not read: %s", docs[i]);
}

/* What the narrow reader does not know goes to jansson: refused here whatever jansson
 * then says of it (it reads some, refuses others). Over 80 lines: most of it is the
 * table of documents, one a line, read best whole. */
static void
test_load_leaves_the_rest(void **state)
{
    static const char *const docs[] = {
        /* jansson reads these; they are not of the narrow kind */
        "[-1]",
        "[1.5]",
        "[1e3]",
        "[1E3]",
        "[0.0]",
        "[-0]",
        "[1000000000000000000]",
        "[\"\\u0041\"]",
        "[\"a\\\"b\"]",
        "[\"\\n\"]",
        "[\"\xc3\xa9\"]",
        "{\"\\u0061\":1}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", /* 33 deep */
        /* nor these, which jansson refuses */
        "",
        " ",
        "1",
        "\"a\"",
        "true",
        "null",
        "[",
        "{",
        "]",
        "}",
        "[1,]",
        "[,1]",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{1:2}",
        "{\"a\":1,}",
        "[01]",
        "[00]",
        "[1.]",
        "[.5]",
        "[+1]",
        "[1a]",
        "[truex]",
        "[tru]",
        "[nul]",
        "[fals]",
        "[True]",
        "[NaN]",
        "[Infinity]",
        "[\"abc]",
        "[\"a\x01\"]",
        "[\"a\x7f\"]",
        "[\"\xff\"]",
        "{}{}",
        "[] x",
        "[]]",
        "\xef\xbb\xbf[]",
        "[1]\x00",
        "[\"a\"\"b\"]",
        "[1 2]",
        "{\"a\":1 \"b\":2}",
        "['a']",
        "[\x0b]",
        "[\x0c]",
        "/*c*/[]",
        "[1]//",
    };
    (void)state;
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        size_t len = strlen(docs[i]) + (strcmp(docs[i], "[1]\x00") == 0 ? 1 : 0);
        if (dbk_fj_load(docs[i], len) != NULL)
            fail_msg("read: %s", docs[i]);
    }
    /* A key longer than DBK_FJ_LOAD_KEY, and one at the limit. */
    {
        char doc[DBK_FJ_LOAD_KEY + 16];
        for (size_t k = DBK_FJ_LOAD_KEY; k <= DBK_FJ_LOAD_KEY + 1; k++) {
            size_t n = 0;
            doc[n++] = '{', doc[n++] = '"';
            memset(doc + n, 'k', k);
            n += k;
            memcpy(doc + n, "\":1}", 4);
            n += 4;
            assert_int_equal(load_agrees(doc, n), k == DBK_FJ_LOAD_KEY);
        }
    }
}

/* Nesting far past any limit: refused without recursing into it (no stack to spare
 * under ASan otherwise), and jansson refuses it too. */
static void
test_load_deep(void **state)
{
    size_t n = 1000000;
    char *doc = malloc(2 * n);
    (void)state;
    assert_non_null(doc);
    memset(doc, '[', n);
    memset(doc + n, ']', n);
    assert_null(dbk_fj_load(doc, 2 * n));
    for (size_t i = 0; i < n; i++)
        doc[i] = i % 2 ? '[' : '{'; /* {[{[ ...: keys missing; refused all the same */
    assert_null(dbk_fj_load(doc, 2 * n));
    free(doc);
}

/* Every cut of an answer, and every byte of it replaced by each byte that means
 * something to a JSON reader (or nothing): read as jansson reads it, or refused. The
 * text is copied to a block of exactly its length, so ASan sees a read past it. */
static void
test_load_hostile_answers(void **state)
{
    static const unsigned char repl[] = {0x00, 0x01, '\t', '\n', ' ', '"', ',',  '-',  '.',
                                         '0',  '1',  '9',  ':',  'E', '[', '\\', ']',  'e',
                                         'f',  'n',  't',  'u',  '{', '}', 0x7f, 0x80, 0xff};
    size_t len = strlen(answer), accepted = 0;
    (void)state;
    for (size_t cut = 0; cut <= len; cut++) {
        char *doc = malloc(cut ? cut : 1);
        assert_non_null(doc);
        memcpy(doc, answer, cut);
        accepted += load_agrees(doc, cut);
        free(doc);
    }
    assert_int_equal(accepted, 1); /* the whole answer only */
    for (size_t at = 0; at < len; at++)
        for (size_t k = 0; k < sizeof repl; k++) {
            char *doc = malloc(len);
            assert_non_null(doc);
            memcpy(doc, answer, len);
            doc[at] = (char)repl[k];
            (void)load_agrees(doc, len);
            free(doc);
        }
}

/* Random documents from a small grammar with mistakes mixed in: whatever is read is
 * read as jansson reads it, and most well-formed ones are read. */
static size_t
gen_doc(char *out, size_t cap, uint32_t *seed, int depth)
{
    static const char *const atoms[] = {"0",    "7",         "123456789012345678",
                                        "true", "false",     "null",
                                        "\"\"", "\"AbC-_\"", "-1",
                                        "2.5",  "1e2",       "\"\\/\"",
                                        "01",   "tru",       "\"x",
                                        ",",    ":",         " "};
    size_t n = 0, items;
    *seed = *seed * 1103515245u + 12345u;
    if (depth > 3 || (*seed >> 16) % 3 == 0) {
        const char *a = atoms[(*seed >> 8) % ((*seed >> 24) % 8 == 0 ? 18 : 8)];
        if (strlen(a) < cap)
            memcpy(out, a, n = strlen(a));
        return n;
    }
    bool obj = (*seed >> 12) % 2;
    items = (*seed >> 20) % 4;
    if (cap < 64)
        return 0;
    out[n++] = obj ? '{' : '[';
    for (size_t i = 0; i < items && cap - n > 64; i++) {
        if (i > 0)
            out[n++] = ',';
        if (obj)
            n += (size_t)snprintf(out + n, cap - n, "\"k%zu\":", i % 3); /* repeats some */
        n += gen_doc(out + n, cap - n - 2, seed, depth + 1);
    }
    out[n++] = obj ? '}' : ']';
    return n;
}

static void
test_load_random_documents(void **state)
{
    uint32_t seed = 20261207;
    size_t read = 0;
    (void)state;
    for (int round = 0; round < 50000; round++) {
        char doc[4096];
        size_t n = gen_doc(doc, sizeof doc, &seed, 0);
        read += load_agrees(doc, n);
    }
    assert_true(read > 5000); /* the generator does reach the narrow kind */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_byte_at_each_place),
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_load_reads_answers),
        cmocka_unit_test(test_load_leaves_the_rest),
        cmocka_unit_test(test_load_deep),
        cmocka_unit_test(test_load_hostile_answers),
        cmocka_unit_test(test_load_random_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
