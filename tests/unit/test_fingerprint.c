/* Fingerprints and safety numbers: format, symmetry, and refusing substituted keys. */
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void
test_short_form_refuses_substitution(void **state)
{
    dbk_account_keys *real = dbk_account_keys_new(), *fake = dbk_account_keys_new();
    dbk_id id;
    char s[DBK_FP_SHORT_LEN + 1];
    (void)state;

    dbk_id_random(&id);
    dbk_fingerprint_short(s, &id, real->sign_pk, real->box_pk);
    assert_int_equal(strlen(s), DBK_FP_SHORT_LEN);
    assert_int_equal(dbk_fingerprint_check(s, strlen(s), &id, real->sign_pk, real->box_pk),
                     DBK_OK);
    /* Either key replaced, or both: refused. */
    assert_int_equal(dbk_fingerprint_check(s, strlen(s), &id, fake->sign_pk, real->box_pk),
                     DBK_E_FINGERPRINT);
    assert_int_equal(dbk_fingerprint_check(s, strlen(s), &id, real->sign_pk, fake->box_pk),
                     DBK_E_FINGERPRINT);
    assert_int_equal(dbk_fingerprint_check(s, strlen(s), &id, fake->sign_pk, fake->box_pk),
                     DBK_E_FINGERPRINT);
    assert_int_equal(dbk_fingerprint_check(s, strlen(s) - 1, &id, real->sign_pk, real->box_pk),
                     DBK_E_FINGERPRINT);
    dbk_account_keys_free(real);
    dbk_account_keys_free(fake);
}

static void
test_safety_number_format_and_symmetry(void **state)
{
    dbk_account_keys *a = dbk_account_keys_new(), *b = dbk_account_keys_new();
    dbk_id ia, ib;
    char da[DBK_SAFETY_DIGITS + 1], db[DBK_SAFETY_DIGITS + 1];
    char ab[DBK_SAFETY_NUMBER_LEN + 1], ba[DBK_SAFETY_NUMBER_LEN + 1];
    (void)state;

    dbk_id_random(&ia);
    dbk_id_random(&ib);
    dbk_safety_digits(da, &ia, a->sign_pk, a->box_pk);
    dbk_safety_digits(db, &ib, b->sign_pk, b->box_pk);
    assert_int_equal(strlen(da), DBK_SAFETY_DIGITS);
    assert_string_not_equal(da, db);
    dbk_safety_number(ab, da, db);
    dbk_safety_number(ba, db, da);
    assert_string_equal(ab, ba);
    assert_int_equal(strlen(ab), DBK_SAFETY_NUMBER_LEN);
    for (int i = 0; i < DBK_SAFETY_NUMBER_LEN; i++)
        assert_true(i % 6 == 5 ? ab[i] == ' ' : (ab[i] >= '0' && ab[i] <= '9'));
    dbk_account_keys_free(a);
    dbk_account_keys_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_form_refuses_substitution),
        cmocka_unit_test(test_safety_number_format_and_symmetry),
    };
    if (dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
