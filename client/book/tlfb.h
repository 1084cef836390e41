/*
 * The Timeline Followback calendar (Sobell & Sobell): each day of a period marked
 * as a use day, an abstinent day or a day with no report, built from the client's
 * check-ins and cravings. A day is a use day when any check-in or craving of that
 * day reports use; it is abstinent only when a check-in for it says there was no
 * use (a resisted craving says nothing about the rest of the day). A day whose
 * status comes only from a check-in filled in afterwards is marked recalled, as the
 * method asks: days recalled later are kept apart from days recorded on the day.
 *
 * The counts are the ones programs report: days abstinent, days of use, days with
 * no report, the percentage of days abstinent among the days reported, and the
 * longest and current runs of abstinent days, where a day with no report ends a
 * run (it is never assumed abstinent).
 */
#ifndef DBK_CLIENT_TLFB_H
#define DBK_CLIENT_TLFB_H

#include "entries.h"

#include <stdint.h>

typedef enum { DBK_TLFB_NONE = 0, DBK_TLFB_ABSTINENT, DBK_TLFB_USED } dbk_tlfb_state;

typedef struct dbk_tlfb_day {
    dbk_tlfb_state state;
    bool recalled; /* the status comes only from check-ins filled in afterwards */
} dbk_tlfb_day;

typedef struct dbk_tlfb {
    int64_t first;      /* day number of days[0] (daycount.h) */
    size_t n;           /* days first .. first + n - 1 */
    dbk_tlfb_day *days; /* malloc'd */
} dbk_tlfb;

typedef struct dbk_tlfb_counts {
    unsigned abstinent, used, unreported, recalled;
    unsigned longest_run; /* abstinent days in a row */
    unsigned current_run; /* ending on the last day (or the day before, if it has no report) */
    double pct_abstinent; /* of the days reported; -1 when none is */
} dbk_tlfb_counts;

/* Marks days first..last (inclusive) from the entries of l in streams owned by owner
 * (NULL: this account's own). DBK_E_NOMEM or DBK_OK. */
int dbk_tlfb_build(const dbk_eu_list *l, const dbk_id *owner, int64_t first, int64_t last,
                   dbk_tlfb *out);
void dbk_tlfb_free(dbk_tlfb *t);
/* Folds one report of a day into the calendar (the building block of dbk_tlfb_build;
 * pure, for tests): used or not, and whether it was recalled afterwards. A craving
 * reports use only (abstinent is false for a resisted craving). */
void dbk_tlfb_mark(dbk_tlfb *t, int64_t day, bool used, bool abstinent, bool recalled);
void dbk_tlfb_count(const dbk_tlfb *t, dbk_tlfb_counts *out);

#endif
