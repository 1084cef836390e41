/*
 * The pre-session review of one client, computed from the loaded entries: one
 * JSON object that the text, JSON and HTML outputs all render (render.h). The
 * period it covers is in period.h, the Read first box it ends with in read_first.h.
 */
#ifndef DBK_CLIENT_REVIEW_H
#define DBK_CLIENT_REVIEW_H

#include "period.h"
#include "read_first.h"

/* A craving at or above this intensity (0-10) is flagged as high. */
#define DBK_REVIEW_HIGH_CRAVING 7
/* No entry for this many days is flagged. */
#define DBK_REVIEW_QUIET_DAYS 3
/* The checklist item that stands for medication when no MAT schedule is set. */
#define DBK_REVIEW_MED_ITEM "took_medication"
/* review and clients pull first, each request bounded by this; the data is
 * called stale when the last successful sync is older than this. */
#define DBK_REVIEW_PULL_TIMEOUT_S 8
#define DBK_REVIEW_STALE_HOURS 4

/*
 * The review of client over the period, from the loaded entries (see
 * cmd_review.c for the output formats and the meaning of each figure). kept: the
 * counselor's copies of entries already reviewed (dbk_review_kept_load), may be
 * NULL. carried: the Read first items of old entries not in l (from the summary
 * cache, dbk_report_summary_load), may be NULL. The clinic's extra risk phrases are
 * read from the profile (risk.h).
 */
json_t *dbk_review_build(dbk_session *s, const dbk_eu_list *l, const dbk_id *client,
                         const char *label, const dbk_review_period *p, const json_t *kept,
                         const dbk_review_carried_list *carried);

/*
 * Pulls first unless offline (a sync, as 'daybook sync' makes it: the grants are
 * fetched again when the server's grants_seq moved; each request bounded by
 * DBK_REVIEW_PULL_TIMEOUT_S) and says how fresh the data is: {as_of (the last
 * successful sync, local time, or null), as_of_unix, pulled, offline, stale,
 * refused_revisions, refused_grants}. A failed pull is no error: the data is shown as it is, marked
 * offline; one the server answered but not for every stream is not current (stale).
 * Forged revisions the pull refused (sync.h forged_revisions) are counted, and key
 * grants its grants refresh refused (trust.h bad_grants, replaced_grants); the caller
 * says so (cli/output.h dbk_out_warn_forged, dbk_out_warn_refused_grants).
 */
json_t *dbk_review_freshen(dbk_session *s, bool offline);

/*
 * How fresh what this device holds of client is, not the whole device's: fresh
 * (dbk_review_freshen's) narrowed to the client's streams and this account's own (me:
 * they hold the session markers and notes), from stale and pulled_at (sync.h
 * dbk_sync_stale_owners). {as_of, as_of_unix (the last sync that answered when every one
 * of those streams was pulled by it, else the oldest time one of them was last brought
 * up to date, or its reading ended), pulled (online, and those streams all pulled by
 * the last sync), offline, stale (not pulled, or older than DBK_REVIEW_STALE_HOURS),
 * stale_after_hours, scope: "client"}: a client whose stream keeps failing is stale with
 * its own "as of", one whose streams were pulled is current whatever another's do. A new
 * reference.
 */
json_t *dbk_review_freshness_of(const json_t *fresh, const json_t *stale, int64_t pulled_at,
                                const dbk_id *client, const dbk_id *me);

/*
 * Clients this device stopped reading (a refused pull, or grants listed revoked:
 * sync.h) whom caseload, the server's answered now, lists as sharing (grant_state
 * "active"; only, when not NULL, that client alone): a server restored, or one that
 * says two things, with no new grants_seq to make this device look again. The grants
 * are fetched again and, an end undone, the data pulled again (*fresh replaced by
 * dbk_review_freshen's, its refused_revisions and refused_grants counting both pulls';
 * *forged_again: the revisions the pull again refused, the caller's to say, 0 when it
 * did not pull again).
 * Still ended: *fresh is not current (pulled false, stale true, reading_ended_at: the
 * latest end, Unix ms). *refused_grants: the key grants refused by the grants fetched
 * again and by the pull again (also added to *fresh's refused_grants), for the caller
 * to say (cli/output.h dbk_out_warn_refused_grants). Returns those still ended, a new
 * object of account -> when their reading ended here (Unix ms), for the caller to say;
 * empty when none.
 */
json_t *dbk_review_readings_ended(dbk_session *s, const json_t *caseload, const dbk_id *only,
                                  json_t **fresh, size_t *forged_again, size_t *refused_grants);

#endif
