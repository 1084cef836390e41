/*
 * The clinic's help lines (common/helplines.c, proto/README.md section 4.4): what
 * daybookd accepts in its help-line setting, and the short hash a counselor's link
 * carries. The golden hashes were computed independently of this code (Python's
 * hashlib.blake2b, digest_size 16, over the layout the spec gives), so a change to
 * the byte layout fails here before it splits counselors' and clients' devices.
 */
#include "dbk/error.h"
#include "dbk/helplines.h"
#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static json_t *
two_lines(void)
{
    return json_pack("[{s:s, s:s}, {s:s, s:s}]", "number", "555-0100", "label",
                     "Riverside on-call, 24/7", "number", "555-0199", "label",
                     "Riverside front desk");
}

static void
test_hash_matches_the_spec(void **state)
{
    char h[DBK_HELP_HASH_LEN + 1];
    json_t *l = two_lines(), *none = json_array();
    (void)state;
    assert_int_equal(dbk_help_lines_hash(h, l), DBK_OK);
    assert_string_equal(h, "4w6tVzv9968ENk9miswX7w");
    assert_int_equal(dbk_help_lines_hash(h, none), DBK_OK);
    assert_string_equal(h, "Vh4p9050pS2XiCqdbYMBFg"); /* "no clinic numbers" is vouched for too */
    /* Order is part of what the counselor saw. */
    json_t *swapped = json_pack("[O, O]", json_array_get(l, 1), json_array_get(l, 0));
    assert_int_equal(dbk_help_lines_hash(h, swapped), DBK_OK);
    assert_string_not_equal(h, "4w6tVzv9968ENk9miswX7w");
    json_decref(swapped);
    json_decref(none);
    json_decref(l);
}

static void
test_check_refuses_what_a_card_cannot_show(void **state)
{
    char why[160];
    (void)state;
    const char *bad[] = {
        "[{\"number\":\"555-0100\"}]",                                 /* no label */
        "[{\"number\":\"555-0100\",\"label\":\"x\",\"extra\":1}]",     /* unknown field */
        "[{\"number\":\"call us\",\"label\":\"x\"}]",                  /* letters */
        "[{\"number\":\"+-()\",\"label\":\"x\"}]",                     /* no digit */
        "[{\"number\":\"123456789012345678901\",\"label\":\"x\"}]",    /* 21 bytes */
        "[{\"number\":\"988\",\"label\":\"\"}]",                       /* empty label */
        "[{\"number\":\"988\",\"label\":\"a\\u001b[2Jb\"}]",           /* ESC: clears screens */
        "[{\"number\":\"988\",\"label\":\"a\\u009bb\"}]",              /* C1 CSI */
        "{\"number\":\"988\",\"label\":\"x\"}",                        /* not a list */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *l = json_loads(bad[i], 0, NULL);
        assert_non_null(l);
        if (dbk_help_lines_check(l, why, sizeof why) != DBK_E_INVALID)
            fail_msg("accepted %s", bad[i]);
        json_decref(l);
    }
    json_t *five = json_array();
    for (int i = 0; i < 5; i++)
        json_array_append_new(five, json_pack("{s:s, s:s}", "number", "988", "label", "x"));
    assert_int_equal(dbk_help_lines_check(five, why, sizeof why), DBK_E_INVALID);
    json_decref(five);
    json_t *ok = json_loads("[{\"number\":\"+1 (555) 010-0100\",\"label\":\"Línea de ayuda\"}]",
                            0, NULL);
    assert_int_equal(dbk_help_lines_check(ok, why, sizeof why), DBK_OK);
    json_decref(ok);
}

static void
test_setting_parses(void **state)
{
    char why[160];
    json_t *l = json_array();
    (void)state;
    assert_int_equal(dbk_help_line_parse("  555-0100 |  Riverside on-call, 24/7 ", l, why,
                                         sizeof why),
                     DBK_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "number")),
                        "555-0100");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "label")),
                        "Riverside on-call, 24/7");
    assert_int_equal(dbk_help_line_parse("555-0100 Riverside", l, why, sizeof why),
                     DBK_E_INVALID);
    assert_non_null(strstr(why, "NUMBER | LABEL"));
    assert_int_equal(dbk_help_line_parse("555-0100 | \xff\xfe", l, why, sizeof why),
                     DBK_E_INVALID);
    assert_int_equal(json_array_size(l), 1); /* a refused line leaves the list as it was */
    json_decref(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_the_spec),
        cmocka_unit_test(test_check_refuses_what_a_card_cannot_show),
        cmocka_unit_test(test_setting_parses),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
