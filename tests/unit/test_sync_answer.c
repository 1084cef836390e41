/*
 * The load generator's sync-answer walker (tests/bench/sync_answer.c), which reads
 * daybookd's sync answers without jansson, against jansson itself: for each answer,
 * valid or not, both say whether it is one JSON object whose "pull" holds exactly two
 * objects with an integer "next" each, and read the same cursors. The answers: a
 * daybookd answer and every truncation of it, and hand-made ones, malformed and
 * wrongly typed. A few differences are by design (the walker does not check what a
 * string holds, nor keys other than "pull" and "next"): they are listed apart, with
 * what the walker says.
 */
#include "../bench/sync_answer.h"

#include <jansson.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* What the generator asked of jansson before: the same question, from its tree. */
static bool
by_jansson(const char *body, size_t len, int64_t next[2])
{
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    json_t *pull = json_object_get(j, "pull");
    bool ok = json_is_object(j) && json_is_array(pull) && json_array_size(pull) == 2;
    for (size_t i = 0; ok && i < 2; i++) {
        json_t *item = json_array_get(pull, i), *n = json_object_get(item, "next");
        if ((ok = json_is_object(item) && json_is_integer(n)))
            next[i] = json_integer_value(n);
    }
    json_decref(j);
    return ok;
}

/* The walker on body[0..len), followed by a digit it must not read (a truncated
 * cursor would take it). */
static bool
by_walker(const char *body, size_t len, int64_t next[2])
{
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    copy[len] = '9';
    bool ok = bl_sync_answer_read(copy, len, next);
    free(copy);
    return ok;
}

/* Both on one answer; fails unless they agree. Returns their verdict. */
static bool
agree(const char *body, size_t len)
{
    int64_t a[2] = {-1, -1}, b[2] = {-1, -1};
    bool ref = by_jansson(body, len, a), got = by_walker(body, len, b);
    if (ref != got)
        fail_msg("jansson %s, the walker %s: %.*s", ref ? "accepts" : "refuses",
                 got ? "accepts" : "refuses", (int)len, body);
    if (ref && (a[0] != b[0] || a[1] != b[1]))
        fail_msg("cursors %lld %lld by jansson, %lld %lld by the walker: %.*s", (long long)a[0],
                 (long long)a[1], (long long)b[0], (long long)b[1], (int)len, body);
    return ref;
}

/* An answer as daybookd writes it (api_records.c, op_sync): a push entry, two pull
 * entries with records, the server's fields. */
static const char answer[] =
    "{\"push\":[{\"stream\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"results\":[{\"record\":"
    "\"BBBBBBBBBBBBBBBBBBBBBB\",\"result\":\"stored\",\"seq\":41}],\"high_seq\":41}],"
    "\"pull\":[{\"stream\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"records\":[{\"seq\":40,\"envelope\":"
    "\"ZGF5Ym9vaw-_\"},{\"seq\":41,\"envelope\":\"eA\"}],\"next\":41,\"more\":false,"
    "\"high_seq\":41,\"epoch\":1,\"rotation_pending\":false},"
    "{\"stream\":\"CCCCCCCCCCCCCCCCCCCCCC\",\"records\":[],\"next\":7,\"more\":true,"
    "\"high_seq\":9000000000,\"epoch\":3,\"rotation_pending\":true}],"
    "\"server_id\":\"DDDDDDDDDDDDDDDDDDDDDD\",\"restore_generation\":0,\"grants_seq\":12}";

static void
test_answer_and_every_truncation(void **state)
{
    (void)state;
    size_t n = strlen(answer);
    int64_t next[2];
    assert_true(agree(answer, n));
    assert_true(by_walker(answer, n, next));
    assert_int_equal(next[0], 41);
    assert_int_equal(next[1], 7);
    for (size_t len = 0; len < n; len++)
        assert_false(agree(answer, len));
}

/* Answers both must read alike: true when valid, with the cursors compared. */
static const char *const cases[] = {
    /* valid */
    "{\"pull\":[{\"next\":1},{\"next\":2}]}",
    " \t\r\n{ \"pull\" : [ { \"next\" : 0 } , { \"next\" : -0 } ] } \n",
    "{\"pull\":[{\"next\":-5},{\"next\":9223372036854775807}]}",
    "{\"pull\":[{\"next\":1,\"records\":[{\"next\":\"x\"}]},{\"records\":[[]],\"next\":2}]}",
    "{\"x\":{\"pull\":3},\"pull\":[{\"next\":1},{\"next\":2}],\"y\":[1.5e-3,-2E+2,0.0,1e2]}",
    "{\"pull\":[{\"next\":1,\"s\":\"a\\\"b\\\\\"},{\"next\":2,\"t\":\"\\u00e9\\n\"}]}",
    "{\"pull\":[{\"next\":1,\"n\":null,\"t\":true,\"f\":false},{\"next\":2}]}",
    "{\"\":0,\"pull\":[{\"next\":1},{\"next\":2}]}",
    /* malformed */
    "",
    " ",
    "{",
    "}",
    "{\"pull\":[{\"next\":1},{\"next\":2}]",
    "{\"pull\":[{\"next\":1},{\"next\":2}]}}",
    "{\"pull\":[{\"next\":1},{\"next\":2}]} x",
    "{\"pull\":[{\"next\":1},{\"next\":2}],}",
    "{\"pull\":[{\"next\":1},{\"next\":2},]}",
    "{\"pull\":[{\"next\":1},,{\"next\":2}]}",
    "{\"pull\" [{\"next\":1},{\"next\":2}]}",
    "{pull:[{\"next\":1},{\"next\":2}]}",
    "{'pull':[{\"next\":1},{\"next\":2}]}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":tru}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":nul}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":True}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":\"open}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":\"ends in \\\"}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":[}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":{]}",
    /* numbers */
    "{\"pull\":[{\"next\":01},{\"next\":2}]}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":01}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":-01}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":1.}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":.5}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":1e}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":1e+}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":-}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":+1}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":-inf}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":-nan}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":0x10}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":99999999999999999999}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":-99999999999999999999}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":1e400}",
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":1e-400}",
    "{\"pull\":[{\"next\":99999999999999999999},{\"next\":2}]}",
    "{\"pull\":[{\"next\":9223372036854775808},{\"next\":2}]}",
    "{\"pull\":[{\"next\":-9223372036854775808},{\"next\":2}]}",
    /* wrongly typed or shaped */
    "[]",
    "\"pull\"",
    "7",
    "null",
    "[{\"pull\":[{\"next\":1},{\"next\":2}]}]",
    "{}",
    "{\"pull\":null}",
    "{\"pull\":{\"next\":1}}",
    "{\"pull\":[]}",
    "{\"pull\":[{\"next\":1}]}",
    "{\"pull\":[{\"next\":1},{\"next\":2},{\"next\":3}]}",
    "{\"pull\":[{\"next\":1},[{\"next\":2}]]}",
    "{\"pull\":[{\"next\":1},\"next\"]}",
    "{\"pull\":[{\"next\":1},{}]}",
    "{\"pull\":[{\"next\":1},{\"more\":true}]}",
    "{\"pull\":[{\"next\":1},{\"next\":\"2\"}]}",
    "{\"pull\":[{\"next\":1},{\"next\":2.0}]}",
    "{\"pull\":[{\"next\":1},{\"next\":2e0}]}",
    "{\"pull\":[{\"next\":1},{\"next\":true}]}",
    "{\"pull\":[{\"next\":1},{\"next\":null}]}",
    "{\"pull\":[{\"next\":1},{\"next\":[2]}]}",
    "{\"pull\":[{\"next\":1},{\"next\":{\"v\":2}}]}",
    "{\"pull\":[{\"next\":1},{\"records\":[{\"next\":2}]}]}",
    "{\"x\":{\"pull\":[{\"next\":1},{\"next\":2}]}}",
    /* a key twice: refused by both (jansson asked to) */
    "{\"pull\":[{\"next\":1},{\"next\":2}],\"pull\":[{\"next\":1},{\"next\":2}]}",
    "{\"pull\":[{\"next\":1,\"next\":3},{\"next\":2}]}",
};

static void
test_hand_made_answers(void **state)
{
    (void)state;
    size_t valid = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        valid += agree(cases[i], strlen(cases[i]));
    assert_int_equal(valid, 10); /* the first eight, 1e-400 (0 to jansson) and INT64_MIN */
}

/* A byte NUL inside the text, where json_loadb stops: both refuse. */
static void
test_nul_inside(void **state)
{
    (void)state;
    static const char with_nul[] = "{\"pull\":[{\"next\":1},{\"next\":2}]\0}";
    assert_false(agree(with_nul, sizeof with_nul - 1));
}

/* The differences by design, with what the walker says: it reads only the structure
 * of strings and only the keys it looks for (daybookd writes neither escaped keys nor
 * raw control characters), and refuses nesting deeper than a sync answer's. */
static void
test_differences_by_design(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        bool walker;
    } diff[] = {
        {"{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":\"\\q\"}", true},   /* bad escape */
        {"{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":\"\x01\"}", true},  /* control */
        {"{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":\"\xff\"}", true},  /* not UTF-8 */
        {"{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":0,\"x\":0}", true}, /* other key twice */
        {"{\"pull\":[{\"ne\\u0078t\":1},{\"next\":2}]}", false},          /* escaped key */
        {"{\"pull\":[{\"next\":1},{\"next\":2}],\"x\":"
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         false}, /* 33 deep */
    };
    int64_t next[2];
    for (size_t i = 0; i < sizeof diff / sizeof diff[0]; i++) {
        size_t n = strlen(diff[i].body);
        assert_int_equal(by_walker(diff[i].body, n, next), diff[i].walker);
        assert_int_equal(by_jansson(diff[i].body, n, next), !diff[i].walker);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_and_every_truncation),
        cmocka_unit_test(test_hand_made_answers),
        cmocka_unit_test(test_nul_inside),
        cmocka_unit_test(test_differences_by_design),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
