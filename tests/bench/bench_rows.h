/*
 * The figures bench_ceilings and bench_client report: a list of rows written
 * as one JSON object and printed as a table.
 *
 *   {"part": "ceilings", "rows": [{"key": "sodium_sign_per_s", "label": "...",
 *     "value": 12345.6, "unit": "ops/s", "baseline_key": "...", "ratio": 0.98}]}
 *
 * A row with a baseline gets ratio = value / the baseline row's value, computed
 * when the table is written, so a reader sees a share of a ceiling (rates) or a
 * multiple of a floor (times) without doing arithmetic. Absolute figures drift
 * on shared machines; ratios measured in the same run drift much less.
 */
#ifndef DBK_BENCH_ROWS_H
#define DBK_BENCH_ROWS_H

#include <stddef.h>
#include <stdio.h>

#define BR_MAX_ROWS 96

typedef struct br_row {
    char key[64];
    char label[200];
    char unit[16];
    char baseline[64]; /* "" when none */
    double value;
} br_row;

typedef struct br_table {
    const char *part;
    br_row rows[BR_MAX_ROWS];
    size_t n;
} br_table;

void br_init(br_table *t, const char *part);
/* Adds a row (baseline may be NULL). A key added twice replaces the earlier row. */
void br_add(br_table *t, const char *key, const char *label, double value, const char *unit,
            const char *baseline);
/* The value of key, or -1 when there is no such row. */
double br_get(const br_table *t, const char *key);
/* Writes the JSON object to path. Returns 0, or -1 (and says why on stderr). */
int br_write_json(const br_table *t, const char *path);
/* A readable table: label, value and unit, ratio to the baseline. */
void br_print(const br_table *t, FILE *out);

/* Monotonic seconds. */
double br_now(void);

#endif
