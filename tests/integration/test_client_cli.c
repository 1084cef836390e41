/* The daybook binary: version, help, usage errors and "did you mean". */
#include "dbk_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static dbk_run_result
run(const char *a1, const char *a2)
{
    const char *argv[] = {dbk_bin("DAYBOOK"), a1, a2, NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    return r;
}

static void
test_version(void **state)
{
    (void)state;
    dbk_run_result r = run("--version", NULL);
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.out, "daybook ", 8);
    assert_non_null(strstr(r.out, "(protocol 1)"));
    dbk_run_result_free(&r);

    r = run("--json", "version");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "protocol")), 1);
    json_decref(j);
    dbk_run_result_free(&r);
}

static void
test_help(void **state)
{
    (void)state;
    dbk_run_result r = run("--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: daybook"));
    assert_non_null(strstr(r.out, "version"));
    assert_non_null(strstr(r.out, "exit codes"));
    dbk_run_result_free(&r);

    r = run("help", "version");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: daybook version"));
    dbk_run_result_free(&r);
}

static void
test_usage_errors(void **state)
{
    (void)state;
    dbk_run_result r = run(NULL, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "usage:"));
    dbk_run_result_free(&r);

    r = run("verison", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "did you mean 'version'?"));
    dbk_run_result_free(&r);

    r = run("--frobnicate", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unknown option"));
    dbk_run_result_free(&r);
}

static void
test_daybookd_version_and_help(void **state)
{
    (void)state;
    const char *v[] = {dbk_bin("DAYBOOKD"), "--version", NULL};
    const char *h[] = {dbk_bin("DAYBOOKD"), "serve", "--help", NULL};
    const char *bad[] = {dbk_bin("DAYBOOKD"), "serve", "--listen", "nonsense", NULL};
    dbk_run_result r;

    assert_int_equal(dbk_run(v, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.out, "daybookd ", 9);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_run(h, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "--data-dir"));
    dbk_run_result_free(&r);
    assert_int_equal(dbk_run(bad, NULL, 30, &r), 0);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "HOST:PORT"));
    dbk_run_result_free(&r);
}

static void
test_daybookd_config_file(void **state)
{
    char *dir = dbk_tmpdir("config");
    char conf[4096], bad[4096], data[4096];
    FILE *f;
    dbk_run_result r;
    (void)state;

    snprintf(conf, sizeof conf, "%s/ok.conf", dir);
    snprintf(bad, sizeof bad, "%s/bad.conf", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    f = fopen(bad, "w");
    fputs("# a comment\nlisten = 127.0.0.1:0\nquota-mb = lots\n", f);
    fclose(f);
    const char *argv_bad[] = {dbk_bin("DAYBOOKD"), "serve", "--config", bad, NULL};
    assert_int_equal(dbk_run(argv_bad, NULL, 30, &r), 0);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "quota-mb"));
    assert_non_null(strstr(r.err, "line 3"));
    dbk_run_result_free(&r);

    f = fopen(bad, "w");
    fputs("no-such-setting = 1\n", f);
    fclose(f);
    assert_int_equal(dbk_run(argv_bad, NULL, 30, &r), 0);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no-such-setting"));
    dbk_run_result_free(&r);

    /* A good file is read, and a flag overrides it (the bad listen address). */
    f = fopen(conf, "w");
    fputs("listen = not-an-address\nmetrics-public\n", f);
    fclose(f);
    const char *argv_ok[] = {dbk_bin("DAYBOOKD"), "serve", "--config", conf, "--data-dir", data,
                             "--listen", "nonsense", NULL};
    assert_int_equal(dbk_run(argv_ok, NULL, 30, &r), 0);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "'nonsense'")); /* the flag's value won, not the file's */
    dbk_run_result_free(&r);
    dbk_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_daybookd_version_and_help),
        cmocka_unit_test(test_daybookd_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
