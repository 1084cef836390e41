/*
 * The clinical records with the real CLIs against a real daybookd: the daily
 * check-in (one per day, a second one replaces it), the Timeline Followback
 * calendar with days filled in afterwards marked recalled, and the validated
 * measures with their published scores. What the client logs, the counselor sees
 * in the same calendar after both sync. The crisis card follows a reported use, a
 * strong craving and any answer but "not at all" to the PHQ-9's item 9. Bad input
 * is refused with exit 2 and a message naming the field, and changes nothing.
 */
#include "tc.h"

#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
    dbk_server srv;
    tc_cli_pair_t p;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
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

/* A local date days_ago before today (tc_days_ago: by the calendar, so a change of
 * daylight-saving time cannot move it), and its month. */
static void
local_date(int days_ago, char date[11], char month[8])
{
    tc_days_ago(days_ago, date);
    snprintf(month, 8, "%.7s", date);
}

/* The state and recalled flag of date in a `calendar --json` answer; fails when absent. */
static const char *
day_state(json_t *cal, const char *date, bool *recalled)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(cal, "days"), i, d)
        if (strcmp(json_string_value(json_object_get(d, "date")), date) == 0) {
            *recalled = json_is_true(json_object_get(d, "recalled"));
            return json_string_value(json_object_get(d, "state"));
        }
    fail_msg("no day %s in the calendar", date);
    return NULL;
}

static json_t *
calendar(const char *month, const char *client)
{
    return client ? tc_json_of(tc_cli("--json", "calendar", "--month", month, "--client", client, NULL),
                            "counselor calendar")
                  : tc_json_of(tc_cli("--json", "calendar", "--month", month, NULL), "calendar");
}

static void
test_checkin_calendar_measures(void **state)
{
    struct fx *f = *state;
    char today[11], mtoday[8], d2[11], m2[8], d3[11], m3[8], d4[11], m4[8];
    bool recalled;
    json_t *j;
    dbk_run_result r;

    local_date(0, today, mtoday);
    local_date(2, d2, m2);
    local_date(3, d3, m3);
    local_date(4, d4, m4);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    /* Today's check-in, then a second one that replaces it (one per day). */
    j = tc_json_of(tc_cli("--json", "checkin", "--mood", "6", "--craving", "3", "--no-use", "--meds",
                    "taken", "--sleep", "7", "--no-risky", NULL),
                "checkin");
    assert_false(json_is_true(json_object_get(j, "updated")));
    assert_false(json_is_true(json_object_get(j, "recalled")));
    json_decref(j);
    r = tc_cli("checkin", "--mood", "4", "--craving", "8", "--no-use", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "replacing that day's"));
    assert_non_null(strstr(r.out, "988")); /* a strong craving: the crisis card */
    dbk_run_result_free(&r);

    /* Days filled in afterwards: a use 3 days ago, abstinent 2 days ago; 4 days ago a
     * craving ending in use, logged late (recorded, not recalled). */
    tc_ok(tc_cli("calendar", "fill", d3, "--used", "--substance", "alcohol", NULL), "fill used");
    tc_ok(tc_cli("calendar", "fill", d2, "--abstinent", NULL), "fill abstinent");
    char at[40];
    snprintf(at, sizeof at, "%sT20:00:00Z", d4);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--at", at, NULL),
          "late craving");

    j = calendar(mtoday, NULL);
    assert_string_equal(day_state(j, today, &recalled), "abstinent");
    assert_false(recalled);
    json_decref(j);
    j = calendar(m3, NULL);
    assert_string_equal(day_state(j, d3, &recalled), "used");
    assert_true(recalled);
    json_decref(j);
    j = calendar(m2, NULL);
    assert_string_equal(day_state(j, d2, &recalled), "abstinent");
    assert_true(recalled);
    json_decref(j);
    j = calendar(m4, NULL);
    assert_string_equal(day_state(j, d4, &recalled), "used");
    assert_false(recalled);
    json_decref(j);
    if (strcmp(mtoday, m4) == 0) { /* the counts, when the four days share a month */
        j = calendar(mtoday, NULL);
        json_t *c = json_object_get(j, "counts");
        assert_int_equal(json_integer_value(json_object_get(c, "used")), 2);
        assert_int_equal(json_integer_value(json_object_get(c, "abstinent")), 2);
        assert_int_equal(json_integer_value(json_object_get(c, "recalled")), 2);
        /* Yesterday has no report: the current run is today alone. */
        assert_int_equal(json_integer_value(json_object_get(c, "current_run")), 1);
        json_decref(j);
    }
    r = tc_cli("calendar", "--month", mtoday, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Mo   Tu   We   Th   Fr   Sa   Su"));
    assert_non_null(strstr(r.out, "no report"));
    dbk_run_result_free(&r);

    /* PHQ-9: 9 items at "several days" is 9, mild; item 9 above 0 brings the card. */
    j = tc_json_of(tc_cli("--json", "measure", "phq9", "--answers", "1,1,1,1,1,1,1,1,1,-", NULL),
                "phq9");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 9);
    assert_string_equal(json_string_value(json_object_get(j, "band")), "mild");
    assert_true(json_is_true(json_object_get(j, "self_harm")));
    json_decref(j);
    r = tc_cli("measure", "phq9", "--answers", "2,2,2,2,2,2,2,2,0,2", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "PHQ-9 score: 16 (moderately severe)"));
    assert_null(strstr(r.out, "988")); /* item 9 at 0: no card for the score alone */
    dbk_run_result_free(&r);
    j = tc_json_of(tc_cli("--json", "measure", "bam", "--answers",
                    "3,10,4,0,-,2,0,0,0,0,2,0,0,2,2,12,5,1,0,0,3,20,2", NULL),
                "bam");
    assert_int_equal(json_integer_value(json_object_get(j, "use")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "risk")), 15);
    assert_int_equal(json_integer_value(json_object_get(j, "protective")), 10);
    json_decref(j);

    /* Bad input: exit 2, the field named, nothing written. */
    r = tc_cli("checkin", "--mood", "11", "--no-use", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--mood"));
    dbk_run_result_free(&r);
    r = tc_cli("measure", "phq9", "--answers", "4,1,1,1,1,1,1,1,1,-", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "item 1 takes 0 to 3"));
    dbk_run_result_free(&r);
    r = tc_cli("measure", "phq9", "--answers", "1,1,1", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "give 10 answers"));
    dbk_run_result_free(&r);
    r = tc_cli("measure", "phq2", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("calendar", "--month", "2026-13", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("calendar", "fill", "2999-01-01", "--used", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    j = tc_json_of(tc_cli("--json", "log", NULL), "log");
    size_t checkins = 0, measures = 0, i;
    json_t *e;
    json_array_foreach(j, i, e) {
        const char *type = json_string_value(json_object_get(json_object_get(e, "entry"), "type"));
        checkins += type && strcmp(type, "checkin") == 0;
        measures += type && strcmp(type, "measure") == 0;
    }
    json_decref(j);
    assert_int_equal(checkins, 3); /* today's (one, replaced), and two filled in */
    assert_int_equal(measures, 3);

    /* The FHIR export: tests/fhir/validate.mjs (fhir.validate) checks it against the
     * official R4 schema. Here: what a user can see without a validator. */
    const char *art = getenv("DAYBOOK_ARTIFACTS");
    char bundle[4200];
    snprintf(bundle, sizeof bundle, "%s/bundle.json", art ? art : f->p.home);
    unlink(bundle);
    j = tc_json_of(tc_cli("--json", "export", "--format", "fhir", "--out", bundle, NULL), "export fhir");
    assert_int_equal(json_integer_value(json_object_get(j, "entries")), 1 + 3 + 3);
    json_decref(j);
    json_t *b = json_load_file(bundle, 0, NULL);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "resourceType")), "Bundle");
    char *text = json_dumps(b, 0);
    assert_non_null(strstr(text, "loinc.org/q/44249-1")); /* the PHQ-9 panel */
    assert_non_null(strstr(text, "\"44261-6\""));      /* and its total score */
    assert_non_null(strstr(text, "\"42CFRPart2\""));
    assert_non_null(strstr(text, "\"alcohol\""));    /* what the recalled check-in said */
    free(text);
    json_decref(b);

    /* The counselor sees the same days after both sync. */
    tc_ok(tc_cli("sync", NULL), "client sync");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    j = calendar(m3, f->p.client_id);
    assert_string_equal(day_state(j, d3, &recalled), "used");
    assert_true(recalled);
    json_decref(j);
    j = calendar(mtoday, f->p.client_id);
    assert_string_equal(day_state(j, today, &recalled), "abstinent");
    json_decref(j);
}

/* Writes text to a file under dir; returns its path (static buffer). */
static const char *
write_text(const char *dir, const char *name, const char *text)
{
    static char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The safety plan written by the client, changed by the counselor, each change kept
 * with its author; a heading that is no section is refused and changes nothing. */
static void
test_plans(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;
    json_t *j;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("plan", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Safety plan\n  Not written yet"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("plan", "set", "safety", "--from",
                 write_text(f->p.home, "safety.txt",
                            "# my plan\n## Warning signs that a crisis may be developing\n"
                            "- Not sleeping\n- Pulling away from people\n"
                            "## People I can ask for help\nMy sister Ana\n"),
                 NULL),
          "client sets the safety plan");
    r = tc_cli("plan", "set", "safety", "--from",
            write_text(f->p.home, "bad.txt", "## Things I like\n- x\n"), NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "'Things I like' is not a section of the Safety plan"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("sync", NULL), "client sync");

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("plan", "show", "safety", "--client", f->p.client_id, "--text", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "- Pulling away from people\n"));
    /* The counselor adds the crisis line in session, from the text the client wrote. */
    char text[8192];
    snprintf(text, sizeof text, "%s- 988 Suicide & Crisis Lifeline\n", r.out);
    char *at = strstr(text, "## Making the environment safe");
    assert_non_null(at); /* the crisis line goes under professionals, before this heading */
    memmove(at + strlen("- 988 Suicide & Crisis Lifeline\n"), at, strlen(at) + 1);
    memcpy(at, "- 988 Suicide & Crisis Lifeline\n", strlen("- 988 Suicide & Crisis Lifeline\n"));
    text[strlen(text) - strlen("- 988 Suicide & Crisis Lifeline\n")] = '\0';
    dbk_run_result_free(&r);
    tc_ok(tc_cli("plan", "set", "safety", "--client", f->p.client_id, "--from",
                 write_text(f->p.home, "safety2.txt", text), NULL),
          "counselor changes the safety plan");
    tc_ok(tc_cli("sync", NULL), "counselor sync 2");

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("sync", NULL), "client sync 2");
    j = tc_json_of(tc_cli("--json", "plan", "show", "safety", NULL), "plan json");
    json_t *sec = json_object_get(json_object_get(j, "safety"), "sections");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sec, "professionals"), 0)),
                        "988 Suicide & Crisis Lifeline");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sec, "help_contacts"), 0)),
                        "My sister Ana");
    assert_int_equal(json_array_size(json_object_get(sec, "warning_signs")), 2);
    json_decref(j);
    r = tc_cli("plan", "show", "safety", NULL);
    assert_non_null(strstr(r.out, "Last changed by your counselor"));
    dbk_run_result_free(&r);
    j = tc_json_of(tc_cli("--json", "plan", "history", "safety", NULL), "plan history");
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "by")),
                        "your counselor");
    assert_true(json_is_true(json_object_get(json_array_get(j, 0), "current")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "by")), "you");
    json_decref(j);
}

/* MAT: the counselor sets a daily take-home schedule that began 4 days ago; the client
 * confirms today's dose, says yesterday's was missed, and a check-in 3 days ago says
 * taken; the day 4 days ago has no report. Adherence over 5 days: 5 due, 2 taken,
 * 1 missed, 2 unconfirmed (never assumed taken); the counselor sees the same. */
static void
test_mat(void **state)
{
    struct fx *f = *state;
    char start[11], d1[11], d3[11], m[8];
    dbk_run_result r;
    json_t *j, *a;

    local_date(4, start, m);
    local_date(1, d1, m);
    local_date(3, d3, m);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("med", "set", f->p.client_id, "buprenorphine", "--dose", "8 mg", "--frequency",
            "hourly", "--take-home", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--frequency (daily, twice_daily, weekly or monthly)"));
    dbk_run_result_free(&r);
    /* An account id may begin with '-' (one in 64 does): it is the client, not options
     * (the one this profile has not heard of is said to be unknown by that id). */
    r = tc_cli("med", "set", "-owYGTvag7PuDs6z_MPGzA", "buprenorphine", "--dose", "8 mg",
               "--frequency", "daily", "--take-home", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "no client '-owYGTvag7PuDs6z_MPGzA'"));
    dbk_run_result_free(&r);
    r = tc_cli("med", "stop", "-owYGTvag7PuDs6z_MPGzA", "buprenorphine", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "no client '-owYGTvag7PuDs6z_MPGzA'"));
    dbk_run_result_free(&r);
    /* And one in 4096 begins with "--": still the client, not an unknown option. */
    r = tc_cli("med", "stop", "--wYGTvag7PuDs6z_MPGzA", "buprenorphine", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "no client '--wYGTvag7PuDs6z_MPGzA'"));
    dbk_run_result_free(&r);
    r = tc_cli("review", "--wYGTvag7PuDs6z_MPGzA", "--offline", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "--wYGTvag7PuDs6z_MPGzA"));
    assert_null(strstr(r.err, "unrecognized option"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("med", "set", f->p.client_id, "buprenorphine", "--dose", "8 mg", "--frequency",
                 "daily", "--take-home", "--start", start, NULL),
          "med set");
    tc_ok(tc_cli("sync", NULL), "counselor sync 2");

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("sync", NULL), "client sync");
    tc_ok(tc_cli("med", "take", NULL), "take today");
    tc_ok(tc_cli("med", "take", "Buprenorphine", "--date", d1, "--missed", NULL),
          "missed yesterday");
    tc_ok(tc_cli("checkin", "--date", d3, "--no-use", "--meds", "taken", NULL), "checkin d3");
    r = tc_cli("med", "take", "methadone", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no such medication"));
    dbk_run_result_free(&r);
    j = tc_json_of(tc_cli("--json", "med", "--days", "5", NULL), "med");
    assert_int_equal(json_array_size(j), 1);
    a = json_object_get(json_array_get(j, 0), "adherence");
    assert_int_equal(json_integer_value(json_object_get(a, "due")), 5);
    assert_int_equal(json_integer_value(json_object_get(a, "taken")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "missed")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "unconfirmed")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "missed_days"), 0)), d1);
    json_decref(j);
    tc_ok(tc_cli("sync", NULL), "client sync 2");

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync 3");
    j = tc_json_of(tc_cli("--json", "med", "--client", f->p.client_id, "--days", "5", NULL), "co med");
    a = json_object_get(json_array_get(j, 0), "adherence");
    assert_int_equal(json_integer_value(json_object_get(a, "missed")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "taken")), 2);
    json_decref(j);
    tc_ok(tc_cli("med", "stop", f->p.client_id, "buprenorphine", NULL), "med stop");
    j = tc_json_of(tc_cli("--json", "med", "--client", f->p.client_id, NULL), "co med stopped");
    assert_false(json_is_true(json_object_get(json_array_get(j, 0), "active")));
    json_decref(j);
}

/* The entries of a JSON array whose "instrument" is ins. */
static size_t
count_instrument(const json_t *arr, const char *ins)
{
    size_t i, n = 0;
    json_t *x;
    json_array_foreach(arr, i, x)
        n += strcmp(json_string_value(json_object_get(x, "instrument")), ins) == 0;
    return n;
}

/*
 * Scheduled measures (issue 19): the counselor schedules a weekly PHQ-9 that began
 * three days ago; the client's 'today' and 'measure due' say it is overdue until the
 * client answers it, and then that it is next due in a week. The counselor's review
 * shows the schedule, when it was last answered, and the score beside its cut-off,
 * in JSON and in text.
 */
static void
test_measure_schedule(void **state)
{
    struct fx *f = *state;
    char start[11], today[11], next[11], m[8];
    dbk_run_result r;
    json_t *j;

    local_date(3, start, m);
    local_date(0, today, m);
    local_date(-7, next, m);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("measure", "schedule", f->p.client_id, "phq9", "--every", "0", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--every is a number of days"));
    dbk_run_result_free(&r);
    r = tc_cli("measure", "schedule", f->p.client_id, "audit", "--every", "7", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    tc_ok(tc_cli("measure", "schedule", f->p.client_id, "phq9", "--every", "7", "--start", start,
                 NULL),
          "schedule phq9");
    tc_ok(tc_cli("measure", "schedule", f->p.client_id, "bam", "--every", "30", NULL),
          "schedule bam");
    tc_ok(tc_cli("measure", "unschedule", f->p.client_id, "bam", NULL), "unschedule bam");
    tc_ok(tc_cli("sync", NULL), "counselor sync 2");

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("sync", NULL), "client sync");
    j = tc_json_of(tc_cli("--json", "today", NULL), "today");
    json_t *due = json_object_get(j, "measures_due");
    assert_int_equal(json_array_size(due), 1); /* the BAM was stopped */
    assert_int_equal(count_instrument(due, "phq9"), 1);
    assert_true(json_is_true(json_object_get(json_array_get(due, 0), "overdue")));
    json_decref(j);
    r = tc_cli("today", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "PHQ-9  overdue: daybook measure phq9"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("measure", "phq9", "--answers", "2,2,2,2,1,1,1,1,0,1", NULL), "answer phq9");
    j = tc_json_of(tc_cli("--json", "today", NULL), "today after");
    assert_int_equal(json_array_size(json_object_get(j, "measures_due")), 0);
    json_decref(j);
    j = tc_json_of(tc_cli("--json", "measure", "due", NULL), "measure due");
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "last_answered")),
                        today);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "due")), next);
    json_decref(j);
    tc_ok(tc_cli("sync", NULL), "client sync 2");

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    j = tc_json_of(tc_cli("--json", "review", f->p.client_id, NULL), "review");
    json_t *ms = json_object_get(j, "measures");
    json_t *sc = json_array_get(json_object_get(ms, "scores"), 0);
    assert_int_equal(count_instrument(json_object_get(ms, "schedules"), "phq9"), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ms, "schedules"), 0), "last_answered")),
                        today);
    assert_int_equal(json_integer_value(json_object_get(sc, "total")), 12);
    assert_string_equal(json_string_value(json_object_get(sc, "band")), "moderate");
    assert_true(json_is_true(json_object_get(sc, "over_cutoff")));
    json_decref(j);
    r = tc_cli("review", f->p.client_id, "--offline", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "MEASURES"));
    assert_non_null(strstr(r.out, "PHQ-9 12 (moderate)  PAST CUT-OFF"));
    dbk_run_result_free(&r);
}

/*
 * A group session (issue 19): the counselor marks it attended for two clients at
 * once; each client's checklist shows "attended treatment" ticked that day, and the
 * counselor's review lists the session. A name that is no client is reported and the
 * others are still marked.
 */
static void
test_group_session(void **state)
{
    struct fx *f = *state;
    char home2[4200], id2[DBK_ID_TEXT_LEN + 1], today[11], m[8];
    dbk_run_result r;
    json_t *j;
    size_t i;

    local_date(0, today, m);
    /* A second client of the same counselor. */
    tc_cli_another_client(&f->p, "client2", home2, sizeof home2, id2);
    tc_ok(tc_cli("sync", NULL), "client2 sync");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("sync", NULL), "client sync");

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("session", "group", f->p.client_id, id2, "nobody-at-all", "--topic",
               "Relapse prevention", NULL);
    assert_int_equal(r.status, 1); /* one was not marked, and it says which */
    assert_non_null(strstr(r.out, "marked attended for 2 clients"));
    assert_non_null(strstr(r.err, "nobody-at-all"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("sync", NULL), "counselor sync 2");

    const char *homes[2] = {f->p.client_home, home2};
    for (int c = 0; c < 2; c++) {
        setenv("DAYBOOK_HOME", homes[c], 1);
        tc_ok(tc_cli("sync", NULL), "client sync 2");
        j = tc_json_of(tc_cli("--json", "today", NULL), "today");
        bool ticked = false;
        json_t *it;
        json_array_foreach(json_object_get(j, "items"), i, it)
            if (strcmp(json_string_value(json_object_get(it, "id")), "attended_treatment") == 0)
                ticked = json_is_true(json_object_get(it, "checked"));
        json_decref(j);
        if (!ticked)
            fail_msg("client %d: the group session is not on today's checklist", c + 1);
    }

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    j = tc_json_of(tc_cli("--json", "review", id2, "--offline", NULL), "review");
    json_t *sessions = json_object_get(json_object_get(j, "checklist"), "sessions_attended");
    assert_int_equal(json_array_size(sessions), 1);
    assert_string_equal(json_string_value(json_array_get(sessions, 0)), today);
    json_decref(j);
    r = tc_cli("review", f->p.client_id, "--offline", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "group sessions attended (marked by a counselor):"));
    dbk_run_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkin_calendar_measures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_session, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
