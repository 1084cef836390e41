/* The error table: unique numbers and codes, sane statuses, round trips. */
#include "dbk/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const struct {
    int num;
    const char *code;
    int status;
    const char *msg;
} all[] = {
#define X(name, num, code, status, msg) {num, code, status, msg},
    DBK_ERRORS(X)
#undef X
};
#define N (sizeof all / sizeof all[0])

static void
test_numbers_are_dense_and_ordered(void **state)
{
    (void)state;
    /* dbk_err_code relies on entry i having number -i. */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(all[i].num, -(int)i);
}

static void
test_codes_unique_and_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++)
            assert_string_not_equal(all[i].code, all[j].code);
        assert_int_equal(dbk_err_from_code(all[i].code), all[i].num);
        assert_string_equal(dbk_err_code(all[i].num), all[i].code);
        assert_int_equal(dbk_err_http_status(all[i].num), all[i].status);
        assert_string_equal(dbk_err_message(all[i].num), all[i].msg);
    }
}

static void
test_codes_are_snake_case_and_messages_sentences(void **state)
{
    (void)state;
    for (size_t i = 0; i < N; i++) {
        for (const char *p = all[i].code; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        size_t n = strlen(all[i].msg);
        assert_true(n > 3 && all[i].msg[n - 1] == '.');
        assert_true(all[i].msg[0] >= 'A' && all[i].msg[0] <= 'Z');
    }
}

static void
test_statuses(void **state)
{
    (void)state;
    assert_int_equal(dbk_err_http_status(DBK_OK), 200);
    for (size_t i = 1; i < N; i++)
        assert_true(all[i].status >= 400 && all[i].status <= 599);
    assert_int_equal(dbk_err_http_status(DBK_E_BAD_JSON), 400);
    assert_int_equal(dbk_err_http_status(DBK_E_UNAUTHENTICATED), 401);
    assert_int_equal(dbk_err_http_status(DBK_E_STALE), 409);
    assert_int_equal(dbk_err_http_status(DBK_E_RATE_LIMITED), 429);
    assert_int_equal(dbk_err_http_status(DBK_E_QUOTA), 507);
}

static void
test_unknown_numbers_and_codes(void **state)
{
    (void)state;
    assert_string_equal(dbk_err_code(-100000), "internal");
    assert_string_equal(dbk_err_code(5), "internal");
    assert_int_equal(dbk_err_http_status(-(int)N), 500);
    assert_int_equal(dbk_err_from_code("no_such_code"), DBK_E_INTERNAL);
    assert_int_equal(dbk_err_from_code(NULL), DBK_E_INTERNAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_are_dense_and_ordered),
        cmocka_unit_test(test_codes_unique_and_round_trip),
        cmocka_unit_test(test_codes_are_snake_case_and_messages_sentences),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_unknown_numbers_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
