/*
 * The pre-session review of one client, computed from the loaded entries: one
 * JSON object that the text, JSON and HTML outputs all render (render.h), and
 * the period it covers.
 */
#ifndef DBK_CLIENT_REVIEW_H
#define DBK_CLIENT_REVIEW_H

#include "counselor.h"
#include "risk.h"

/* A craving at or above this intensity (0-10) is flagged as high. */
#define DBK_REVIEW_HIGH_CRAVING 7
/* No entry for this many days is flagged. */
#define DBK_REVIEW_QUIET_DAYS 3
/* Read first: a craving at or above this, a journal mood (1-5) at or below this. */
#define DBK_REVIEW_RISK_CRAVING 9
#define DBK_REVIEW_LOW_MOOD 2
/* A check-in's mood (0-10) at or below this is flagged as low. */
#define DBK_REVIEW_LOW_CHECKIN_MOOD 3
/* Missed MAT doses on this many days in a row or more are their own Read first item. */
#define DBK_REVIEW_MISSED_STREAK 2
/* The checklist item that stands for medication when no MAT schedule is set. */
#define DBK_REVIEW_MED_ITEM "took_medication"
/* What the Read first box says of itself, in every format. */
#define DBK_REVIEW_DECISION_SUPPORT                                                            \
    "Decision support: flags from word lists and thresholds, not a diagnosis. You decide."
/* review and clients pull first, each request bounded by this; the data is
 * called stale when the last successful sync is older than this. */
#define DBK_REVIEW_PULL_TIMEOUT_S 8
#define DBK_REVIEW_STALE_HOURS 4
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
 * The review of client over the period, from the loaded entries (see
 * cmd_review.c for the output formats and the meaning of each figure). kept: the
 * counselor's copies of entries already reviewed (dbk_review_kept_load), may be
 * NULL. The clinic's extra risk phrases are read from the profile (risk.h).
 */
json_t *dbk_review_build(dbk_session *s, const dbk_eu_list *l, const dbk_id *client,
                         const char *label, const dbk_review_period *p, const json_t *kept);

/* The time key of doc (occurred_at, written_at) with the client's zone at writing:
 * its "tz" name, else the offset it was written with. */
void dbk_review_when(const json_t *doc, const char *key, char out[DBK_REVIEW_WHEN_MAX]);

/* The key of an entry's time for its type: written_at (journal), occurred_at
 * (craving), recorded_at (checkin), answered_at (measure). */
const char *dbk_review_when_key(const char *type);

/* The Read first box (read_first.c): flagged entries, carried forward until
 * discussed, missed medication, changes, silent days; most urgent first. */
json_t *dbk_review_read_first(const dbk_eu_list *l, const dbk_id *client,
                              const dbk_review_period *p, const dbk_risk_extra *extra,
                              const dbk_eu_entry *const *flaggable, size_t n,
                              const json_t *engagement, const json_t *medication,
                              const json_t *changes);

/* The entries in kept that the client removed or edited since, with the change
 * in the period: [{kind "removed"|"edited", record, when, text, as_reviewed}]. */
json_t *dbk_review_changes(const dbk_eu_list *l, const dbk_id *client,
                           const dbk_review_period *p, const json_t *kept);

/*
 * Pulls first unless offline (grants, then a sync, each request bounded by
 * DBK_REVIEW_PULL_TIMEOUT_S) and says how fresh the data is: {as_of (the last
 * successful sync, local time, or null), as_of_unix, pulled, offline, stale}.
 * A failed pull is no error: the data is shown as it is, marked offline.
 */
json_t *dbk_review_freshen(dbk_session *s, bool offline);

/* The counselor's copies of the client's entries they reviewed (new reference, {}
 * when none), and adding the period's entries not yet kept (the first copy stays). */
int dbk_review_kept_load(dbk_session *s, const dbk_id *client, json_t **kept);
int dbk_review_kept_save(dbk_session *s, const dbk_id *client, const dbk_eu_list *l,
                         const dbk_review_period *p, json_t *kept);

#endif
