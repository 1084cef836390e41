/*
 * When a validated measure is due. The counselor schedules a measure for a client
 * (a "measure_schedule" record in the client's shared stream: the instrument and
 * every how many days, PHQ-9 weekly, BAM every 30 days); the client answers it
 * ("measure" records). A schedule is due on its start day and then every_days after
 * the client's last answer of that instrument; overdue is due before today. A
 * stopped schedule (active false) is never due. Pure: entries in, days out.
 */
#ifndef DBK_CLIENT_MEASURE_PLAN_H
#define DBK_CLIENT_MEASURE_PLAN_H

#include "entries.h"
#include "measures.h"

#include <stdbool.h>
#include <stdint.h>

#define DBK_MEASURE_EVERY_MAX 365

typedef struct dbk_measure_sched {
    const dbk_eu_entry *e;  /* the schedule's record (newest revision) */
    const dbk_measure *m;
    int every_days;         /* 1 .. DBK_MEASURE_EVERY_MAX */
    bool active;
    int64_t start;          /* day number */
    int64_t last;           /* the owner's last answer of m, INT64_MIN when none */
    int64_t due;            /* the day the next answer is due */
} dbk_measure_sched;

/* The measure schedules of owner among the entries of l, the newest per instrument,
 * stopped ones included; *out is malloc'd (NULL when none). */
int dbk_measure_schedules(const dbk_eu_list *l, const dbk_id *owner, dbk_measure_sched **out,
                          size_t *n);
/* A measure record's instrument and its score, recomputed from its answers (readers
 * never take the score the writer stored). false when it does not score. */
bool dbk_measure_rescore(const json_t *doc, const dbk_measure **m, dbk_measure_score *sc,
                         int64_t *day);
/* Whether s asks for an answer on today (due today or overdue). */
bool dbk_measure_is_due(const dbk_measure_sched *s, int64_t today);

#endif
