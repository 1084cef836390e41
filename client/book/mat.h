/*
 * Medication for addiction treatment (MAT) and its adherence. A counselor or
 * prescriber sets a schedule (a "medication" record in the client's shared stream:
 * generic name, dose, frequency, observed at the clinic or take-home); the client
 * confirms doses ("dose" records, or the check-in's medication answer). Adherence
 * over a period counts the doses due, taken, missed and unconfirmed: a dose nobody
 * reported is never assumed taken.
 *
 * Doses due: daily 1 a day, twice_daily 2 a day; weekly 1 in each 7 days and
 * monthly 1 in each 28 days from the schedule's start (extended-release naltrexone
 * and buprenorphine injections are given every 4 weeks). A check-in's "medication"
 * speaks for every daily or twice-daily medication that day: taken (all doses),
 * partly (one dose missed), missed (all missed); "none" says none is prescribed and
 * confirms nothing. A dose record names its medication and counts for that one.
 */
#ifndef DBK_CLIENT_MAT_H
#define DBK_CLIENT_MAT_H

#include "entries.h"

#include <stdint.h>

typedef struct dbk_med {
    const dbk_eu_entry *e; /* the schedule's record */
    const char *name, *dose, *frequency, *supervision;
    bool active;
    int64_t start; /* day number */
} dbk_med;

typedef struct dbk_mat_adherence {
    unsigned due, taken, missed, unconfirmed;
    int64_t missed_days[62]; /* the days with a missed dose, oldest first */
    size_t nmissed_days;
} dbk_mat_adherence;

/* The medication schedules of owner among the entries of l (newest revision of each
 * record; stopped ones too, with active false). *out is malloc'd. */
int dbk_mat_schedules(const dbk_eu_list *l, const dbk_id *owner, dbk_med **out, size_t *n);
/* The schedule named name (case-insensitive) among meds, or NULL. */
const dbk_med *dbk_mat_find(const dbk_med *meds, size_t n, const char *name);
/* Adherence to m over days from..to (inclusive), from the entries of l of owner. */
void dbk_mat_adherence_of(const dbk_eu_list *l, const dbk_id *owner, const dbk_med *m,
                          int64_t from, int64_t to, dbk_mat_adherence *out);
/* The most days a client's date runs after this device's: the widest gap between time
 * zones (UTC+14 against UTC-12, 26 hours) and a clock ahead within the server's one-day
 * bound. */
#define DBK_MAT_AHEAD_DAYS 3
/* The last day of adherence figures that end today: today, or a later day (at most
 * DBK_MAT_AHEAD_DAYS later) owner reported a dose or a check-in on, its date ahead of
 * this device's. Such a day counts as its own, with its own date (the review, 'med'):
 * folded into today, a dose taken would hide a dose missed. */
int64_t dbk_mat_last_day(const dbk_eu_list *l, const dbk_id *owner, int64_t today);
/* Whether frequency is one this module knows. */
bool dbk_mat_frequency_ok(const char *frequency);

#endif
