/*
 * The client's trends over the last N local days (today included), what `daybook
 * trends` shows: craving intensity per day (count, mean, peak, and a sparkline of
 * each day's strongest), the top triggers, which coping strategies were followed by
 * resisting, the cravings that ended in use, and the checklist completion per item.
 * Intensities are on the 0-10 scale (1-100 values divided by 10).
 *
 * dbk_trends computes the figures as one JSON object (what `--json` prints);
 * dbk_trends_text renders that object for a person. The renderer computes nothing.
 */
#ifndef DBK_CLIENT_TRENDS_H
#define DBK_CLIENT_TRENDS_H

#include "checklist.h"
#include "entries.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* The figures of the days days ending with today, or NULL when out of memory. A craving
 * or checklist day dated after today (the client's date ran ahead of this device's)
 * counts today, as in the counselor's review. */
json_t *dbk_trends(const dbk_eu_list *l, const dbk_checklist *ck, int64_t today, long days);
/* The figures as text, for a terminal or a file. */
void dbk_trends_text(FILE *o, const json_t *t);

#endif
