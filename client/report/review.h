/*
 * The pre-session review of one client, computed from the loaded entries: one
 * JSON object that the text, JSON and HTML outputs all render (render.h), and
 * the period it covers.
 */
#ifndef DBK_CLIENT_REVIEW_H
#define DBK_CLIENT_REVIEW_H

#include "counselor.h"

/* A craving at or above this intensity (0-10) is flagged as high. */
#define DBK_REVIEW_HIGH_CRAVING 7
/* No entry for this many days is flagged. */
#define DBK_REVIEW_QUIET_DAYS 3
/* Without a session marker the review covers this many days. */
#define DBK_REVIEW_DEFAULT_DAYS 7


/* The review period. */
typedef struct dbk_review_period {
    int64_t from, to;      /* local day numbers, inclusive */
    const char *since;     /* "last-session", "date" or "default" */
    char last_session[40]; /* the marker's time, "" when none */
} dbk_review_period;

/*
 * The period from since: NULL or "last-session" (the day of the newest session
 * marker, else the last DBK_REVIEW_DEFAULT_DAYS days) or a date "YYYY-MM-DD"; to today.
 * DBK_E_INVALID for a malformed or future date.
 */
int dbk_review_period_make(const dbk_eu_list *l, const dbk_id *client, const char *since,
                       dbk_review_period *p);

/*
 * The review of client over the period, from the loaded entries (see
 * cmd_review.c for the output formats and the meaning of each figure).
 */
json_t *dbk_review_build(dbk_session *s, const dbk_eu_list *l, const dbk_id *client,
                      const char *label, const dbk_review_period *p);

#endif
