/*
 * Calendar days as whole numbers, and checklist streaks. Pure functions with no
 * dependencies (no clock, no time zone), so the streak rule is unit-tested on
 * its own: tests/integration/test_client_entries.c includes daycount.c.
 */
#ifndef DBK_CLIENT_DAYCOUNT_H
#define DBK_CLIENT_DAYCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
int64_t dbk_day_from_civil(int64_t y, unsigned m, unsigned d);
/* "YYYY-MM-DD" (only the first 10 characters are read: a date-time works too)
 * into a day number. false when it is not a real date. */
bool dbk_day_parse(const char *text, int64_t *day);
/* The day number as "YYYY-MM-DD". */
void dbk_day_format(int64_t day, char out[11]);

/*
 * The current streak of one checklist item: how many consecutive days, ending
 * today, it was checked. A streak is still alive on a day not yet checked: when
 * today is not checked, the run ending yesterday is returned (so a morning does
 * not show every streak as broken). days lists the days it was checked, in any
 * order, duplicates allowed; days after today are ignored.
 */
unsigned dbk_streak(const int64_t *days, size_t n, int64_t today);

#endif
