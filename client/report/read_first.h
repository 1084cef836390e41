/*
 * The review's Read first box, the changes to entries already reviewed, and the
 * counselor's kept copies those changes are measured against (read_first.c).
 * The review (review.h) calls these; they need nothing of it but the period.
 */
#ifndef DBK_CLIENT_READ_FIRST_H
#define DBK_CLIENT_READ_FIRST_H

#include "period.h"
#include "risk.h"

/* Read first: a craving at or above this, a journal mood (1-5) at or below this. */
#define DBK_REVIEW_RISK_CRAVING 9
#define DBK_REVIEW_LOW_MOOD 2
/* A check-in's mood (0-10) at or below this is flagged as low. */
#define DBK_REVIEW_LOW_CHECKIN_MOOD 3
/* Missed MAT doses on this many days in a row or more are their own Read first item. */
#define DBK_REVIEW_MISSED_STREAK 2
/* What the Read first box says of itself, in every format. */
#define DBK_REVIEW_DECISION_SUPPORT                                                            \
    "Decision support: flags from word lists and thresholds, not a diagnosis. You decide."

/*
 * The Read first items of client entries from before the period that the review did
 * not open: the summary cache (summary.h) keeps, for each flagged entry, what
 * dbk_review_entry_marks gave for it, and the review takes those in its place.
 */
typedef struct dbk_review_carried {
    dbk_id record;
    uint64_t clock; /* the revision's, for the order */
    char *when;     /* the entry's time as written (dbk_review_when_key), for the order */
    json_t *items;  /* its items, each carried forward and not discussed */
} dbk_review_carried;

/* A client craving from before the period that the review did not open either: what
 * the trend against the previous period counts of it (from the summary cache). */
typedef struct dbk_review_closed {
    uint64_t clock; /* the revision's: the trend sums in the order of the entries */
    int64_t day;
    double intensity; /* on the 0-10 scale, as dbk_eu_intensity10 read it */
} dbk_review_closed;

typedef struct dbk_review_carried_list {
    dbk_review_carried *v;
    size_t n, cap;
    dbk_review_closed *cravings; /* oldest clock first */
    size_t ncravings, capcravings;
} dbk_review_carried_list;

void dbk_review_carried_free(dbk_review_carried_list *c);

/* The Read first box (read_first.c): flagged entries (those opened, and those carried
 * from the summary, may be NULL), carried forward until discussed, missed medication,
 * changes, silent days; most urgent first. */
json_t *dbk_review_read_first(const dbk_eu_list *l, const dbk_id *client,
                              const dbk_review_period *p, const dbk_risk_extra *extra,
                              const dbk_eu_entry *const *flaggable, size_t n,
                              const dbk_review_carried_list *carried, const json_t *engagement,
                              const json_t *medication, const json_t *changes);

/* The Read first items entry e raises as an entry from before the period not yet
 * discussed (what it carries forward): how many, of which risk and use (the caseload
 * summary, summary.h, keeps these instead of the entry), and, when items is not NULL,
 * the items themselves (a new reference). */
void dbk_review_entry_marks(const dbk_eu_entry *e, const dbk_risk_extra *extra, int *nitems,
                            int *nrisk, int *nuse, json_t **items);
/* The record ids the counselor marked discussed for client, as {id: at} (new reference). */
json_t *dbk_review_discussed(const dbk_eu_list *l, const dbk_id *client);
/* The most items the box shows (the most urgent first). */
#define DBK_REVIEW_ITEMS_MAX 60

/* The entries in kept that the client removed or edited since, with the change
 * in the period: [{kind "removed"|"edited", record, when, text, as_reviewed}]. */
json_t *dbk_review_changes(const dbk_eu_list *l, const dbk_id *client,
                           const dbk_review_period *p, const json_t *kept);

/* The counselor's copies of the client's entries they reviewed (new reference, {}
 * when none). */
int dbk_review_kept_load(dbk_session *s, const dbk_id *client, json_t **kept);
/*
 * What a review shown leaves behind, in one commit: the period's client journal
 * entries and cravings not kept yet added to the kept copies (the copy as first
 * reviewed stays) and the counselor's reviewed record revised
 * (dbk_co_reviewed_mark, book/reviewed.h). When the record cannot be written the
 * copies are still saved on their own and *mark_failed says which failed; a client
 * the counselor cannot write to (DBK_E_NOT_FOUND) is no failure.
 */
int dbk_review_remember(dbk_session *s, const dbk_id *client, const dbk_eu_list *l,
                        const dbk_review_period *p, json_t *kept, bool *mark_failed);

#endif
