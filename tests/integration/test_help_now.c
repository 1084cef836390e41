/*
 * `daybook help-now` with the real daybook and daybookd (issue 15): the client's
 * safety plan first, then the clinic's own numbers, then the national lines, all
 * offline. The clinic's numbers come from daybookd's help-line setting, reach the
 * client at enrollment, and are pinned against the hash in the counselor's link
 * (proto/README.md section 4.4). The server is an adversary: one that lists other
 * numbers after enrollment (here: daybookd restarted on the same data with another
 * help-line) is not followed, and the client is warned; one that changes them
 * between the invite and the enrollment is caught by the link's hash.
 */
#include "tc.h"

#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The third line is as wide as a line may be: a 20-byte number, a 55-byte label. */
static const char *const clinic_a[] = {
    "--help-line", "555-0100 | Riverside on-call, 24/7",
    "--help-line", "555-0199 | Riverside front desk",
    "--help-line", "+1 (555) 010-0100 99 | Riverside IOP after-hours line: a nurse answers all day",
    NULL};
static const char *const clinic_b[] = {"--help-line", "555-0666 | Call this number instead",
                                       NULL};

struct fx {
    dbk_server srv;
    tc_cli_pair_t p;
};

static bool
contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

static void
must_contain(const char *hay, const char *needle)
{
    if (!contains(hay, needle))
        fail_msg("output lacks \"%s\":\n%s", needle, hay ? hay : "(null)");
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, clinic_a), 0);
    tc_cli_pair(&f->srv, &f->p);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    tc_pair_end(&f->srv, &f->p);
    free(f);
    return 0;
}

/* Every line of text fits 80 columns (code points). */
static void
fits_80(const char *text)
{
    size_t c = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            c = 0;
        else if (((unsigned char)*p & 0xC0) != 0x80 && ++c > 80)
            fail_msg("a line is wider than 80 columns:\n%s", text);
    }
}

/* daybook help-now as the client of home; the result's output is checked and freed
 * by the caller. */
static dbk_run_result
help_now(const char *home, const char *flag)
{
    setenv("DAYBOOK_HOME", home, 1);
    dbk_run_result r = tc_cli("help-now", flag, NULL);
    if (r.status != 0)
        fail_msg("help-now: exit %d: %s", r.status, r.err);
    return r;
}

/*
 * The numbers the clinic set reach the client at enrollment and show before the
 * national lines, with the server gone; a server that lists others later is
 * refused at sync, loudly, and help-now keeps the pinned ones and says so.
 */
static void
test_clinic_numbers_pinned_at_enrollment(void **state)
{
    struct fx *f = *state;
    dbk_run_result r = help_now(f->p.client_home, NULL);
    must_contain(r.out, "555-0100");
    must_contain(r.out, "Riverside on-call, 24/7");
    must_contain(r.out, "555-0199");
    must_contain(r.out, "a nurse answers all day");
    fits_80(r.out);
    assert_true(strstr(r.out, "555-0100") < strstr(r.out, "988"));
    assert_false(contains(r.out, "other clinic numbers"));
    dbk_run_result_free(&r);

    /* Offline: the server is down and the card is the same. */
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    r = help_now(f->p.client_home, NULL);
    must_contain(r.out, "555-0100");
    must_contain(r.out, "988");
    dbk_run_result_free(&r);

    /* The server comes back listing other numbers: the client keeps the pinned ones. */
    assert_int_equal(dbk_server_restart(&f->srv, clinic_b), 0);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.err, "other numbers for 'daybook help-now'");
    must_contain(r.err, "keeps the ones from enrollment");
    dbk_run_result_free(&r);
    r = help_now(f->p.client_home, NULL);
    must_contain(r.out, "555-0100");
    assert_false(contains(r.out, "555-0666"));
    must_contain(r.out, "listed other clinic numbers");
    fits_80(r.out);
    dbk_run_result_free(&r);

    /* The clinic's own numbers again: the warning goes. */
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_int_equal(dbk_server_restart(&f->srv, clinic_a), 0);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    assert_false(contains(r.err, "help-now"));
    dbk_run_result_free(&r);
    r = help_now(f->p.client_home, NULL);
    assert_false(contains(r.out, "listed other clinic numbers"));
    dbk_run_result_free(&r);
}

/*
 * The counselor's invite carries the hash of the numbers the counselor is shown; a
 * server that lists others by the time the client enrolls gets none of them onto
 * the client's card.
 */
static void
test_numbers_changed_before_enrollment_are_refused(void **state)
{
    struct fx *f = *state;
    char home[4300], uri[1024];

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("invite", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "555-0100"); /* the counselor sees what the client will get */
    dbk_run_result_free(&r);
    json_t *j = tc_json_of(tc_cli("--json", "invite", NULL), "invite");
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    must_contain(uri, "&help=");

    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_int_equal(dbk_server_restart(&f->srv, clinic_b), 0);
    snprintf(home, sizeof home, "%s/late-client", f->p.home);
    setenv("DAYBOOK_HOME", home, 1);
    tc_ok(tc_cli("init", NULL), "init");
    r = tc_cli("enroll", uri, "--yes", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.err, "not the ones\nyour counselor's code vouches for");
    dbk_run_result_free(&r);
    r = help_now(home, NULL);
    assert_false(contains(r.out, "555-0666"));
    must_contain(r.out, "988");
    dbk_run_result_free(&r);
}

/* Once the client has a safety plan, help-now shows it first (with the passphrase,
 * as the keys are not cached here), then the clinic's numbers, then 988. */
static void
test_safety_plan_comes_first(void **state)
{
    struct fx *f = *state;
    char path[4300];
    FILE *p;

    snprintf(path, sizeof path, "%s/safety.txt", f->p.home);
    assert_non_null(p = fopen(path, "w"));
    fputs("## Warning signs that a crisis may be developing\n- Not sleeping\n"
          "## People I can ask for help\n- My sister Ana\n",
          p);
    fclose(p);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("plan", "set", "safety", "--from", path, NULL), "plan set");
    assert_int_equal(dbk_server_stop(&f->srv), 0); /* offline from here */

    dbk_run_result r = help_now(f->p.client_home, "--plan");
    must_contain(r.out, "Your safety plan");
    const char *ana = strstr(r.out, "My sister Ana"), *clinic = strstr(r.out, "555-0100"),
               *lifeline = strstr(r.out, "988");
    assert_non_null(ana);
    assert_non_null(clinic);
    assert_non_null(lifeline);
    assert_true(ana < clinic && clinic < lifeline);
    must_contain(r.out, "Not sleeping");
    dbk_run_result_free(&r);

    /* Without --plan and with the keys not cached, the numbers do not wait. */
    tc_ok(tc_cli("lock", NULL), "lock");
    r = help_now(f->p.client_home, NULL);
    must_contain(r.out, "help-now --plan");
    must_contain(r.out, "555-0100");
    assert_false(contains(r.out, "My sister Ana"));
    dbk_run_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clinic_numbers_pinned_at_enrollment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_numbers_changed_before_enrollment_are_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_safety_plan_comes_first, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
