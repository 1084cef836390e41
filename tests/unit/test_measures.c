/*
 * The validated measures (client/book/measures.c) against their published scoring:
 * the PHQ-9's and GAD-7's totals and severity bands at every band boundary
 * (Kroenke 2001, Spitzer 2006), PHQ-9 item 9 flagged at any answer but 0, and the
 * BAM's Use, Risk and Protective composites with the VA manual's day intervals and
 * cut-offs. Item counts and wording are checked against the published instruments.
 */
#include "daycount.h"
#include "measure_plan.h"
#include "measures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* PHQ-9 answers for items 1-9 summing to total, item 9 as given, and no answer to the
 * difficulty question (-1). */
static void
phq9_with_total(int total, int item9, int out[10])
{
    int left = total - item9;
    for (int i = 0; i < 8; i++) {
        out[i] = left > 3 ? 3 : left;
        left -= out[i];
    }
    out[8] = item9;
    out[9] = -1;
}

static void
test_phq9_items_and_bands(void **state)
{
    static const struct {
        int total;
        const char *band;
    } cases[] = {
        {0, "minimal"},  {4, "minimal"},   {5, "mild"},  {9, "mild"},
        {10, "moderate"}, {14, "moderate"}, {15, "moderately severe"},
        {19, "moderately severe"}, {20, "severe"}, {27, "severe"},
    };
    const dbk_measure *m = dbk_measure_find("phq9");
    dbk_measure_score sc;
    int a[10];
    (void)state;

    assert_non_null(m);
    assert_int_equal(m->nitems, 10); /* 9 scored items and the difficulty question */
    assert_string_equal(m->loinc, "44249-1");
    assert_string_equal(m->items[8].text,
                        "Thoughts that you would be better off dead or of hurting yourself in "
                        "some way");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        phq9_with_total(cases[i].total, cases[i].total == 27 ? 3 : 0, a);
        assert_true(dbk_measure_score_answers(m, a, 10, &sc));
        assert_int_equal(sc.total, cases[i].total);
        assert_string_equal(sc.band, cases[i].band);
    }
    /* The difficulty question is reported, never added to the total. */
    phq9_with_total(9, 0, a);
    a[9] = 3;
    assert_true(dbk_measure_score_answers(m, a, 10, &sc));
    assert_int_equal(sc.total, 9);
}

static void
test_phq9_item9_flags_at_any_answer(void **state)
{
    const dbk_measure *m = dbk_measure_find("phq9");
    dbk_measure_score sc;
    int a[10];
    (void)state;

    phq9_with_total(0, 0, a);
    assert_true(dbk_measure_score_answers(m, a, 10, &sc));
    assert_false(sc.self_harm);
    /* A total of 1 ("minimal") with item 9 at "several days" is still flagged. */
    phq9_with_total(1, 1, a);
    assert_true(dbk_measure_score_answers(m, a, 10, &sc));
    assert_string_equal(sc.band, "minimal");
    assert_true(sc.self_harm);
}

static void
test_gad7_bands(void **state)
{
    static const struct {
        int answers[8];
        int total;
        const char *band;
    } cases[] = {
        {{0, 0, 0, 0, 0, 0, 0, -1}, 0, "minimal"},
        {{1, 1, 1, 1, 0, 0, 0, -1}, 4, "minimal"},
        {{1, 1, 1, 1, 1, 0, 0, 0}, 5, "mild"},
        {{2, 2, 2, 1, 1, 1, 0, 1}, 9, "mild"},
        {{2, 2, 2, 2, 1, 1, 0, 2}, 10, "moderate"},
        {{3, 3, 2, 2, 2, 2, 0, 2}, 14, "moderate"},
        {{3, 3, 3, 2, 2, 2, 0, 3}, 15, "severe"},
        {{3, 3, 3, 3, 3, 3, 3, 3}, 21, "severe"},
    };
    const dbk_measure *m = dbk_measure_find("gad7");
    dbk_measure_score sc;
    (void)state;

    assert_non_null(m);
    assert_int_equal(m->nitems, 8);
    assert_string_equal(m->loinc, "69737-5");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(dbk_measure_score_answers(m, cases[i].answers, 8, &sc));
        assert_int_equal(sc.total, cases[i].total);
        assert_string_equal(sc.band, cases[i].band);
        assert_false(sc.self_harm);
    }
}

static void
test_out_of_range_and_missing_are_refused(void **state)
{
    const dbk_measure *phq = dbk_measure_find("phq9");
    int a[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, -1};
    dbk_measure_score sc;
    (void)state;

    a[3] = 4;
    assert_false(dbk_measure_score_answers(phq, a, 10, &sc));
    a[3] = -1; /* a scored item left out */
    assert_false(dbk_measure_score_answers(phq, a, 10, &sc));
    a[3] = 0;
    assert_false(dbk_measure_score_answers(phq, a, 9, &sc)); /* wrong count */
    assert_true(dbk_measure_score_answers(phq, a, 10, &sc));
    assert_null(dbk_measure_find("phq2"));
}

static void
test_bam_day_intervals(void **state)
{
    static const int days[] = {0, 1, 3, 4, 8, 9, 15, 16, 30};
    static const int score[] = {0, 1, 1, 2, 2, 3, 3, 4, 4};
    (void)state;
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
        assert_int_equal(dbk_measure_bam_days(days[i]), score[i]);
}

/* BAM answers in item order: 1, 2, 3, 4, 5, 6, 7a-7g, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17. */
static void
test_bam_composites(void **state)
{
    const dbk_measure *m = dbk_measure_find("bam");
    dbk_measure_score sc;
    (void)state;

    assert_non_null(m);
    assert_int_equal(m->nitems, 23); /* 17 items, item 7 in seven parts */
    /* A client in early recovery: fair health (3), 10 bad nights (3), 4 upset days (2),
     * no drinking (item 5 not asked), 2 days of drug use (1), opiates 2 days, moderate
     * cravings (2), somewhat confident (2: "moderately"), 12 meetings (3), 5 risky days (2),
     * spirituality slightly (1), 0 days working (0), income no (0), considerable conflict (3),
     * 20 days with supportive people (4), moderately satisfied (2). */
    int a[23] = {3, 10, 4, 0, -1, 2, 0, 0, 0, 0, 2, 0, 0, 2, 2, 12, 5, 1, 0, 0, 3, 20, 2};
    assert_true(dbk_measure_score_answers(m, a, 23, &sc));
    assert_int_equal(sc.total, -1);
    assert_null(sc.band);
    assert_int_equal(sc.use, 0 + 0 + 1);                  /* items 4, 5, 6 */
    assert_int_equal(sc.risk, 3 + 3 + 2 + 2 + 2 + 3);     /* items 1, 2, 3, 8, 11, 15 */
    assert_int_equal(sc.protective, 2 + 3 + 1 + 0 + 0 + 4); /* items 9, 10, 12, 13, 14, 16 */
    assert_true(sc.use_flag);        /* any use */
    assert_true(sc.risk_flag);       /* 15 >= 12 */
    assert_true(sc.protective_flag); /* 10 <= 12 */

    /* Abstinent, well supported: no flags. Income yes scores 4. */
    int b[23] = {1, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 30, 0, 4, 20, 4, 0, 30, 4};
    assert_true(dbk_measure_score_answers(m, b, 23, &sc));
    assert_int_equal(sc.use, 0);
    assert_int_equal(sc.risk, 1);
    assert_int_equal(sc.protective, 4 + 4 + 4 + 4 + 4 + 4);
    assert_false(sc.use_flag);
    assert_false(sc.risk_flag);
    assert_false(sc.protective_flag);

    /* Item 5 may be left out only when item 4 is 0; income is no (0) or yes (4). */
    b[3] = 2;
    assert_false(dbk_measure_score_answers(m, b, 23, &sc));
    b[4] = 0;
    assert_true(dbk_measure_score_answers(m, b, 23, &sc));
    assert_int_equal(sc.use, 1);
    b[19] = 2;
    assert_false(dbk_measure_score_answers(m, b, 23, &sc));
}

static void
test_labels(void **state)
{
    const dbk_measure *m = dbk_measure_find("bam");
    (void)state;
    assert_string_equal(dbk_measure_answer_label(&m->items[0], 0), "Excellent");
    assert_string_equal(dbk_measure_answer_label(&m->items[13], 4), "Extremely");
    assert_string_equal(dbk_measure_answer_label(&m->items[19], 4), "Yes");
    assert_null(dbk_measure_answer_label(&m->items[1], 3)); /* a day count has no label */
    m = dbk_measure_find("phq9");
    assert_string_equal(dbk_measure_answer_label(&m->items[0], 2), "More than half the days");
    assert_null(dbk_measure_answer_label(&m->items[0], 4));
}

/* An entry of owner's in a hand-made list: type and doc (owned by the list). */
static void
add_entry(dbk_eu_entry *e, const dbk_id *owner, json_t *doc)
{
    memset(e, 0, sizeof *e);
    e->owner = *owner;
    e->doc = doc;
    e->type = json_string_value(json_object_get(doc, "type"));
    e->kind = DBK_LOCAL_SHARED;
}

/* When a scheduled measure is due (measure_plan.h): on its start day; then every_days
 * after the last answer; an answer before the start does not put it off; the newest
 * schedule of an instrument wins; a stopped one is never due; another client's answer
 * counts for nothing. */
static void
test_schedule_due(void **state)
{
    dbk_id me, other;
    dbk_eu_entry v[6];
    dbk_eu_list l = {v, 0, 6, 0, 0};
    dbk_measure_sched *s = NULL;
    size_t n;
    int64_t start, d;
    (void)state;

    memset(&me, 1, sizeof me);
    memset(&other, 2, sizeof other);
    assert_true(dbk_day_parse("2026-12-01", &start));
    add_entry(&v[l.n++], &me, json_pack("{s:s, s:i, s:s, s:i, s:b, s:s}", "type",
                                        "measure_schedule", "v", 1, "instrument", "phq9",
                                        "every_days", 14, "active", 1, "start_date", "2026-11-01"));
    /* The newer schedule of the same instrument wins: weekly from 2026-12-01. */
    add_entry(&v[l.n++], &me, json_pack("{s:s, s:i, s:s, s:i, s:b, s:s}", "type",
                                        "measure_schedule", "v", 1, "instrument", "phq9",
                                        "every_days", 7, "active", 1, "start_date", "2026-12-01"));
    add_entry(&v[l.n++], &me, json_pack("{s:s, s:i, s:s, s:i, s:b, s:s}", "type",
                                        "measure_schedule", "v", 1, "instrument", "bam",
                                        "every_days", 30, "active", 0, "start_date", "2026-11-01"));
    /* An answer before the start, and another client's answer after it. */
    add_entry(&v[l.n++], &me, json_pack("{s:s, s:i, s:s, s:s}", "type", "measure", "v", 1,
                                        "instrument", "phq9", "answered_at",
                                        "2026-11-20T10:00:00-05:00"));
    add_entry(&v[l.n++], &other, json_pack("{s:s, s:i, s:s, s:s}", "type", "measure", "v", 1,
                                           "instrument", "phq9", "answered_at",
                                           "2026-12-02T10:00:00-05:00"));
    assert_int_equal(dbk_measure_schedules(&l, &me, &s, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].m->id, "phq9");
    assert_int_equal(s[0].every_days, 7);
    assert_int_equal(s[0].due, start);            /* not put off by the earlier answer */
    assert_false(dbk_measure_is_due(&s[0], start - 1));
    assert_true(dbk_measure_is_due(&s[0], start));
    assert_true(dbk_measure_is_due(&s[0], start + 3)); /* overdue */
    assert_false(dbk_measure_is_due(&s[1], start + 100)); /* the stopped BAM */
    free(s);

    /* Answered on 2026-12-03: next due a week later. */
    add_entry(&v[l.n++], &me, json_pack("{s:s, s:i, s:s, s:s}", "type", "measure", "v", 1,
                                        "instrument", "phq9", "answered_at",
                                        "2026-12-03T21:00:00+01:00"));
    assert_int_equal(dbk_measure_schedules(&l, &me, &s, &n), 0);
    assert_true(dbk_day_parse("2026-12-03", &d));
    assert_int_equal(s[0].last, d);
    assert_int_equal(s[0].due, d + 7);
    assert_false(dbk_measure_is_due(&s[0], d + 6));
    assert_true(dbk_measure_is_due(&s[0], d + 7));
    free(s);
    for (size_t i = 0; i < l.n; i++)
        json_decref(v[i].doc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phq9_items_and_bands),
        cmocka_unit_test(test_phq9_item9_flags_at_any_answer),
        cmocka_unit_test(test_gad7_bands),
        cmocka_unit_test(test_out_of_range_and_missing_are_refused),
        cmocka_unit_test(test_bam_day_intervals),
        cmocka_unit_test(test_bam_composites),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_schedule_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
