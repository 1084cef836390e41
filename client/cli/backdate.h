/*
 * Entries logged late: `craving --at TIME`, `journal --at TIME` and
 * `check/uncheck --date DATE`. A time may be at most DBK_BD_FUTURE_SECONDS
 * ahead of now (clock skew), and at most DBK_BD_PAST_DAYS back.
 */
#ifndef DBK_CLIENT_BACKDATE_H
#define DBK_CLIENT_BACKDATE_H

#include <stdbool.h>
#include <stdint.h>

#define DBK_BD_FUTURE_SECONDS 300
#define DBK_BD_PAST_DAYS 365

/*
 * TIME for --at: RFC 3339 with an offset (2026-11-20T18:40:00-05:00, or Z), kept
 * as written; or YYYY-MM-DD, 12:00 local time that day (now, when that is today
 * and noon has not come yet). Into out, as RFC 3339. On a bad or out-of-range
 * time, says why on stderr (naming opt) and returns false.
 */
bool dbk_bd_time(const char *opt, const char *arg, char out[40]);

/* Seconds since the epoch of an RFC 3339 date-time with its offset (an entry's
 * occurred_at or written_at); false when t is not one. */
bool dbk_bd_epoch(const char *t, int64_t *epoch);

/* DATE for --date: YYYY-MM-DD, not after today, at most DBK_BD_PAST_DAYS back;
 * its day number (daycount.h). Says why on stderr and returns false otherwise. */
bool dbk_bd_day(const char *opt, const char *arg, int64_t today, int64_t *day);

#endif
