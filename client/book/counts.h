/*
 * Craving figures: triggers, coping strategies and outcomes counted over the
 * entries, for trends and a counselor's review.
 */
#ifndef DBK_CLIENT_COUNTS_H
#define DBK_CLIENT_COUNTS_H

#include "entries.h"

typedef struct dbk_eu_count {
    char kind[48];
    const char *value; /* inside an entry's doc */
    int n, resisted;
} dbk_eu_count;

typedef struct dbk_eu_counts {
    dbk_eu_count *v;
    size_t n, cap;
} dbk_eu_counts;

/* Counts one more (kind, value); NULL when out of memory. */
dbk_eu_count *dbk_eu_counts_bump(dbk_eu_counts *c, const char *kind, const char *value);
/* Most counted first; ties by kind, then value. */
void dbk_eu_counts_sort(dbk_eu_counts *c);
void dbk_eu_counts_free(dbk_eu_counts *c);
/* A craving's triggers: each distinct value of each kind once ("halt" included),
 * withdrawal as ("withdrawal", ""). */
void dbk_eu_count_triggers(dbk_eu_counts *c, const json_t *triggers);
/* A craving's coping strategies, each distinct one once, with whether the craving
 * was resisted (kind ""). */
void dbk_eu_count_coping(dbk_eu_counts *c, const json_t *craving);
/* The craving's outcome.result ("resisted", "used") or NULL. */
const char *dbk_eu_outcome(const json_t *craving);

#endif
