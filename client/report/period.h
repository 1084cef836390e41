/*
 * The review period, and an entry's time as the review shows it. The review
 * (review.h) and its Read first box (read_first.h) both stand on this header,
 * so neither needs the other's to know what period it covers.
 */
#ifndef DBK_CLIENT_PERIOD_H
#define DBK_CLIENT_PERIOD_H

#include "counselor.h"

/* A time as the review shows it: "YYYY-MM-DD HH:MM ZONE". */
#define DBK_REVIEW_WHEN_MAX 96
/* Without a session marker the review covers this many days. */
#define DBK_REVIEW_DEFAULT_DAYS 7

/* The review period. */
typedef struct dbk_review_period {
    int64_t from, to;      /* local day numbers, inclusive */
    const char *since;     /* "last-session", "date" or "default" */
    char last_session[40]; /* the marker's time, "" when none */
    int64_t enrolled_day;  /* the client's enrollment day, INT64_MIN when unknown */
} dbk_review_period;

/*
 * The period from since: NULL or "last-session" (the day of the newest session
 * marker, else the last DBK_REVIEW_DEFAULT_DAYS days) or a date "YYYY-MM-DD"; to today.
 * DBK_E_INVALID for a malformed or future date.
 */
int dbk_review_period_make(const dbk_eu_list *l, const dbk_id *client, const char *since,
                       dbk_review_period *p);

/*
 * The day an entry of day d counts on in period p: d itself, or p->to when d is after
 * it. An entry's day is the client's (the date it was written with); a client in a time
 * zone ahead of this device's, or whose clock runs ahead within the server's bound,
 * writes on what is still yesterday here. Such an entry is in the review, risk
 * language and lapses included, counted today, never left after the period's end.
 */
int64_t dbk_review_day_in(const dbk_review_period *p, int64_t d);

/* The time key of doc (occurred_at, written_at) with the client's zone at writing:
 * its "tz" name, else the offset it was written with. */
void dbk_review_when(const json_t *doc, const char *key, char out[DBK_REVIEW_WHEN_MAX]);

/* The key of an entry's time for its type: written_at (journal), occurred_at
 * (craving), recorded_at (checkin), answered_at (measure). */
const char *dbk_review_when_key(const char *type);

#endif
