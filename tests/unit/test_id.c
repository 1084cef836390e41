/* Random ids: text form, parsing, uniqueness. */
#include "dbk/error.h"
#include "dbk/id.h"
#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void
test_text_round_trip(void **state)
{
    dbk_id a, b;
    char text[DBK_ID_TEXT_LEN + 1];
    (void)state;
    dbk_id_random(&a);
    dbk_id_to_text(&a, text);
    assert_int_equal(strlen(text), DBK_ID_TEXT_LEN);
    assert_int_equal(dbk_id_from_text(&b, text, strlen(text)), 0);
    assert_true(dbk_id_equal(&a, &b));
}

static void
test_known_value(void **state)
{
    dbk_id id;
    char text[DBK_ID_TEXT_LEN + 1];
    (void)state;
    for (int i = 0; i < DBK_ID_BYTES; i++)
        id.b[i] = (unsigned char)i;
    dbk_id_to_text(&id, text);
    assert_string_equal(text, "AAECAwQFBgcICQoLDA0ODw");
}

static void
test_rejects_wrong_lengths_and_junk(void **state)
{
    dbk_id id;
    (void)state;
    assert_int_equal(dbk_id_from_text(&id, "AAECAwQFBgcICQoLDA0ODw", 21), DBK_E_BAD_BASE64);
    assert_int_equal(dbk_id_from_text(&id, "AAECAwQFBgcICQoLDA0ODwA", 23), DBK_E_BAD_BASE64);
    assert_int_equal(dbk_id_from_text(&id, "AAECAwQFBgcICQoLDA0OD$", 22), DBK_E_BAD_BASE64);
    /* Last character with non-zero unused bits: a second spelling of the same id. */
    assert_int_equal(dbk_id_from_text(&id, "AAECAwQFBgcICQoLDA0ODx", 22), DBK_E_BAD_BASE64);
}

static void
test_random_ids_differ_and_are_not_zero(void **state)
{
    dbk_id ids[64];
    (void)state;
    for (int i = 0; i < 64; i++) {
        dbk_id_random(&ids[i]);
        assert_false(dbk_id_is_zero(&ids[i]));
        for (int j = 0; j < i; j++)
            assert_false(dbk_id_equal(&ids[i], &ids[j]));
    }
    memset(&ids[0], 0, sizeof ids[0]);
    assert_true(dbk_id_is_zero(&ids[0]));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_round_trip),
        cmocka_unit_test(test_known_value),
        cmocka_unit_test(test_rejects_wrong_lengths_and_junk),
        cmocka_unit_test(test_random_ids_differ_and_are_not_zero),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
