/* key=value logging: format, quoting, caps, levels. */
#include "dbk/error.h"
#include "dbk/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *buf;
static size_t buflen;
static FILE *mem;

static int
setup(void **state)
{
    (void)state;
    mem = open_memstream(&buf, &buflen);
    dbk_log_set_output(mem);
    dbk_log_set_level(DBK_LOG_INFO);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    dbk_log_set_output(NULL);
    fclose(mem);
    free(buf);
    buf = NULL;
    return 0;
}

/* The line after "ts=... " */
static const char *
after_ts(void)
{
    fflush(mem);
    assert_non_null(buf);
    assert_memory_equal(buf, "ts=", 3);
    const char *sp = strchr(buf, ' ');
    assert_non_null(sp);
    return sp + 1;
}

static void
test_plain_fields(void **state)
{
    (void)state;
    DBK_LOG(DBK_LOG_INFO, "listening", DBK_STR("addr", "127.0.0.1"), DBK_INT("port", 8470));
    assert_string_equal(after_ts(), "level=info event=listening addr=127.0.0.1 port=8470\n");
}

static void
test_quoting_and_escapes(void **state)
{
    (void)state;
    DBK_LOG(DBK_LOG_WARN, "x", DBK_STR("a", "two words"), DBK_STR("b", "k=v"),
            DBK_STR("c", "q\"\\"), DBK_STR("d", "line\nbreak"), DBK_STR("e", ""));
    assert_string_equal(after_ts(), "level=warn event=x a=\"two words\" b=\"k=v\" c=\"q\\\"\\\\\" "
                                    "d=\"line\\x0abreak\" e=\"\"\n");
}

static void
test_one_line_even_with_hostile_values(void **state)
{
    (void)state;
    DBK_LOG(DBK_LOG_ERROR, "evil\nevent=forged", DBK_STR("v", "a\r\nlevel=error"));
    fflush(mem);
    assert_int_equal(strchr(buf, '\n'), buf + buflen - 1);
}

static void
test_long_values_are_cut(void **state)
{
    char big[1000];
    (void)state;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    DBK_LOG(DBK_LOG_INFO, "big", DBK_STR("v", big));
    const char *line = after_ts();
    assert_non_null(strstr(line, "..."));
    assert_true(strlen(line) < 300);
}

static void
test_level_filter(void **state)
{
    (void)state;
    DBK_LOG(DBK_LOG_DEBUG, "hidden");
    fflush(mem);
    assert_int_equal(buflen, 0);
    dbk_log_set_level(DBK_LOG_DEBUG);
    DBK_LOG(DBK_LOG_DEBUG, "shown");
    fflush(mem);
    assert_non_null(strstr(buf, "event=shown"));
    dbk_log_set_level(DBK_LOG_OFF);
    assert_false(dbk_log_enabled(DBK_LOG_ERROR));
}

static void
test_parse_level(void **state)
{
    enum dbk_log_level l;
    (void)state;
    assert_int_equal(dbk_log_parse_level("warn", &l), 0);
    assert_int_equal(l, DBK_LOG_WARN);
    assert_int_equal(dbk_log_parse_level("loud", &l), DBK_E_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting_and_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_line_even_with_hostile_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_values_are_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_level, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
