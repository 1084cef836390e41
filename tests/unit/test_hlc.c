/* Hybrid logical clock: monotonic under a clock that jumps back, causal after a merge. */
#include "dbk/error.h"
#include "dbk/hlc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void
test_monotonic_when_the_wall_clock_goes_back(void **state)
{
    dbk_hlc h = {0};
    uint64_t prev = 0, wall = 1764000000000ULL;
    (void)state;
    for (int i = 0; i < 200000; i++) {
        /* Mostly stuck, sometimes backwards by a minute, sometimes forwards. */
        if (i % 1000 == 999)
            wall -= 60000;
        else if (i % 97 == 0)
            wall += 3;
        uint64_t c = dbk_hlc_local(&h, wall);
        assert_true(c > prev);
        prev = c;
    }
}

static void
test_local_after_receive_is_later(void **state)
{
    dbk_hlc phone = {0}, laptop = {0};
    uint64_t t = 1764000000000ULL;
    (void)state;
    /* The laptop's clock runs 10 minutes fast. */
    uint64_t from_laptop = dbk_hlc_local(&laptop, t + 600000);
    assert_int_equal(dbk_hlc_recv(&phone, t, from_laptop), DBK_OK);
    assert_true(dbk_hlc_local(&phone, t) > from_laptop);
}

static void
test_far_future_is_not_merged(void **state)
{
    dbk_hlc h = {dbk_hlc_pack(1000, 5)};
    uint64_t t = 1764000000000ULL;
    (void)state;
    assert_int_equal(dbk_hlc_recv(&h, t, dbk_hlc_pack(t + DBK_HLC_MAX_DRIFT_MS + 1, 0)),
                     DBK_E_INVALID);
    assert_int_equal(h.last, dbk_hlc_pack(1000, 5));
    assert_int_equal(dbk_hlc_recv(&h, t, dbk_hlc_pack(t + DBK_HLC_MAX_DRIFT_MS, 0)), DBK_OK);
}

static void
test_pack(void **state)
{
    (void)state;
    assert_int_equal(dbk_hlc_ms(dbk_hlc_pack(1764000000000ULL, 7)), 1764000000000ULL);
    assert_int_equal(dbk_hlc_pack(1, 0xffff) + 1, dbk_hlc_pack(2, 0));
    assert_true(dbk_hlc_wall_ms() > 1700000000000ULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_when_the_wall_clock_goes_back),
        cmocka_unit_test(test_local_after_receive_is_later),
        cmocka_unit_test(test_far_future_is_not_merged),
        cmocka_unit_test(test_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
