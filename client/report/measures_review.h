/*
 * The validated measures in the counselor's review: schedules with what is due or
 * overdue, and the period's scores beside the published cut-offs (measures_review.c).
 */
#ifndef DBK_CLIENT_MEASURES_REVIEW_H
#define DBK_CLIENT_MEASURES_REVIEW_H

#include "entries.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* {"schedules": [...], "scores": [...], "cutoffs": {...}} for client over the days
 * from..to (inclusive; overdue counts to to). */
json_t *dbk_review_measures(const dbk_eu_list *l, const dbk_id *client, int64_t from,
                            int64_t to);
/* The "measures" block as text, and as an HTML section; nothing when it is empty. */
void dbk_report_text_measures(FILE *o, const json_t *measures);
void dbk_report_html_measures(FILE *o, const json_t *measures);

#endif
