/*
 * Validated measures: the PHQ-9 (depression), the GAD-7 (anxiety) and the VA's
 * Brief Addiction Monitor (BAM), each with its published items, answer options and
 * scoring. Pure: no profile, no clock, no I/O, so every rule is unit-tested from the
 * published worked examples (tests/unit/test_measures.c).
 *
 * Sources and licences:
 *   PHQ-9  Kroenke, Spitzer & Williams, J Gen Intern Med 2001;16:606-613. Free to
 *          use (the copyright holder requires no permission to reproduce or
 *          distribute). Severity: 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19
 *          moderately severe, 20-27 severe. Item 9 (thoughts of being better off
 *          dead or of self-harm) is flagged whenever its answer is not 0.
 *   GAD-7  Spitzer, Kroenke, Williams & Lowe, Arch Intern Med 2006;166:1092-1097.
 *          Free to use. Severity: 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21
 *          severe.
 *   BAM    Cacciola et al., J Subst Abuse Treat 2013;44(3):256-263, and the VA
 *          CESATE manual (public domain, a work of the US government). 17 items
 *          about the past 30 days; item 7 has parts A-G. Day counts (0-30) are kept
 *          as answered and scored in the manual's intervals: 0 days = 0, 1-3 = 1,
 *          4-8 = 2, 9-15 = 3, 16-30 = 4; the other items are scored 0-4 as
 *          answered (item 14, income: no = 0, yes = 4). Composites: Use = items 4,
 *          5, 6 (0-12; any use, 1 or more, is clinically significant); Risk =
 *          items 1, 2, 3, 8, 11, 15 (0-24; 12 or more); Protective = items 9, 10,
 *          12, 13, 14, 16 (0-24; 12 or less). Items 7A-7G and 17 are in no
 *          composite. Item 5 is not asked, and scores 0, when item 4 is 0.
 */
#ifndef DBK_CLIENT_MEASURES_H
#define DBK_CLIENT_MEASURES_H

#include <stdbool.h>
#include <stddef.h>

#define DBK_MEASURE_ITEMS_MAX 24

/* How an item is answered. */
typedef enum {
    DBK_ANSWER_FREQ4,   /* not at all (0) .. nearly every day (3): PHQ-9, GAD-7 */
    DBK_ANSWER_DAYS30,  /* a number of days, 0..30 */
    DBK_ANSWER_LIKERT5, /* 0..4 with the item's own five labels */
    DBK_ANSWER_YESNO4,  /* no (0) or yes (4) */
    DBK_ANSWER_DIFF4,   /* PHQ-9's difficulty question: not difficult (0) .. extremely (3) */
} dbk_answer_kind;

typedef struct dbk_measure_item {
    const char *id;   /* "1" .. "9", "7a" .. "7g", "difficulty" */
    const char *text; /* the published wording */
    dbk_answer_kind kind;
    const char *const *labels; /* LIKERT5's five labels, else NULL */
    bool scored;               /* counts in the total (PHQ-9, GAD-7) */
} dbk_measure_item;

typedef struct dbk_measure {
    const char *id;    /* "phq9", "gad7", "bam": the record's "instrument" */
    const char *name;  /* "PHQ-9" */
    const char *stem;  /* the instruction read before the items */
    const char *loinc; /* the panel's LOINC code, NULL when none */
    size_t nitems;
    const dbk_measure_item *items;
} dbk_measure;

/* The measure with this id, or NULL. */
const dbk_measure *dbk_measure_find(const char *id);
/* Every measure, for listings: *n of them. */
const dbk_measure *const *dbk_measure_all(size_t *n);

/* The range of one item's answer: [0, *max]. */
int dbk_measure_item_max(const dbk_measure_item *it);
/* The label of an answer (a static string), or NULL for day counts. */
const char *dbk_measure_answer_label(const dbk_measure_item *it, int answer);

typedef struct dbk_measure_score {
    int total;          /* PHQ-9 0..27, GAD-7 0..21; BAM: -1 (no total is validated) */
    const char *band;   /* "minimal", "mild", ...; NULL for the BAM */
    int use, risk, protective; /* BAM composites; -1 for the others */
    bool use_flag, risk_flag, protective_flag; /* past the published cut-offs */
    bool self_harm;     /* PHQ-9 item 9 answered other than 0 */
} dbk_measure_score;

/*
 * Scores answers (one per item of m, in order; -1 for an item not asked, allowed
 * only for BAM item 5 when item 4 is 0 and PHQ-9's difficulty question). Returns
 * false, leaving *out unspecified, when an answer is out of its range or missing.
 */
bool dbk_measure_score_answers(const dbk_measure *m, const int *answers, size_t n,
                               dbk_measure_score *out);
/* The BAM's interval score (0..4) of a day count (0..30). */
int dbk_measure_bam_days(int days);

#endif
