/*
 * The counselor's local summary cache (issue 20): per stream of a client, one small
 * record per current entry (its day, type, clock, craving intensity and outcome,
 * and the Read first items it would carry forward), so that 'daybook clients' draws
 * the caseload and 'daybook review' picks the entries it must open without
 * decrypting the whole history. Per stream of this account's own (session markers,
 * notes, aliases), the same records with each one's plaintext kept whole, so that a
 * review reads them without opening them (dbk_report_summary_own). Per stream of a
 * client, beside its summary, its documents: each current record's plaintext kept
 * whole, in a row of its own that 'daybook clients' never reads, so that a review
 * reads the entries it shows without verifying and decrypting them one by one.
 *
 * Invariants:
 * - Sealed on disk (store/local.h table summaries) with XChaCha20-Poly1305 under a
 *   key derived (BLAKE2b) from this account's X25519 secret key, the stream's id and
 *   epoch and (of a client's stream) the stream key of that epoch: nothing of it is
 *   readable without the keys that read the entries themselves, and a summary written under another
 * epoch (a rotation, a revocation) or another account does not open, so it is rebuilt.
 * - Believed only when it matches the records: its format version, the hash of the
 *   clinic's risk phrases it was screened with, and the stream's revision count and
 *   greatest rowid. New revisions are applied one by one (dbk_report_summary_refresh,
 *   run after every sync); anything else (a count that does not add up, a summary
 *   that does not open or parse, entries that did not open) rebuilds the stream's
 *   summary from its records. A summary is never a reason to show less than the
 *   records say: when in doubt, rebuild. A client stream's documents have their own
 *   mark and are brought up to date the same way, by 'daybook sync' (in the pass that
 *   updates the summaries: each new revision is opened once for both) and by the
 *   review of that client ('daybook clients' leaves them as they are); a record's
 *   document is used only when it is of exactly the record's current revision (record
 *   and clock), and a record without one, or whose document does not parse as a JSON
 *   object (no cache of ours holds one; nothing is said of it), is opened as before. When the
 * documents hold every current record of the stream (their mark is the store's, none failed to
 * open), a review reads the stream from them alone, each revision's header included, without
 * walking the store's records; only whether a revision it shows is still pending (in the outbox) is
 * asked of the store, once per stream.
 * - A flagged entry's Read first items are kept as the review would make them for an
 *   entry before its period, so that a review need not open old flagged entries; they
 *   are computed by the same code (read_first.c), with the same risk phrases (their
 *   hash is checked), and any change to that code bumps DBK_SUMMARY_VERSION. Whether
 *   the counselor has discussed one is decided at each review, not kept here.
 * - DAYBOOK_NO_SUMMARY=1 in the environment turns it off (the caseload and review
 *   are then computed from every entry, as before), which the tests compare against.
 */
#ifndef DBK_CLIENT_SUMMARY_H
#define DBK_CLIENT_SUMMARY_H

#include "review.h"

/* Bumped whenever what a summary holds or how it is computed changes (risk.c's list
 * included): summaries of another version are rebuilt. */
#define DBK_SUMMARY_VERSION 3 /* 3: entries by a writer not allowed kept as marks */

enum dbk_sum_type {
    DBK_SUM_OTHER = 0,
    DBK_SUM_CRAVING,
    DBK_SUM_JOURNAL,
    DBK_SUM_CHECKIN,
    DBK_SUM_MEASURE,
    DBK_SUM_CHECKLIST_DAY,
    DBK_SUM_TOMBSTONE,
    DBK_SUM_ATTENDANCE, /* a session the counselor marked attended: it ticks a streak too */
};

enum dbk_sum_flag {
    DBK_SUM_BY_OWNER = 1,  /* written by the stream's owner (the client) */
    DBK_SUM_HAS_DAY = 2,   /* dbk_eu_entry_day gave a day */
    DBK_SUM_INTENSITY = 4, /* a craving whose intensity reads on the 0-10 scale */
    DBK_SUM_USED = 8,      /* a craving with outcome "used" */
    /* Signed by someone who may not write it in this stream (entries.c): left out of
     * every figure, like an entry that does not open, and kept only as this mark (no
     * other flag) so that the caseload's row counts it (dbk_report_summary_unopened). */
    DBK_SUM_FOREIGN = 16,
};

typedef struct dbk_sum_rec {
    dbk_id record;
    uint64_t clock;
    int64_t day;
    uint16_t intensity10x; /* the 0-10 intensity times 10 */
    uint8_t type, flags;
    uint8_t nitems, nrisk, nuse; /* Read first items it carries forward (read_first.h) */
    /* Those items themselves, when it carries any: JSON {"when", "items"} (the entry's
     * time as written, for the order, and what dbk_review_entry_marks gave) at xoff in
     * the summary's extra, xlen bytes; xlen 0 when none are kept. */
    uint32_t xoff, xlen;
} dbk_sum_rec;

/* One stream's summary in memory. */
typedef struct dbk_sum {
    dbk_id stream, owner;
    int64_t rows, max_rowid; /* the store's mark when it was made */
    size_t nbad;             /* current records that did not open (then it is rebuilt) */
    dbk_sum_rec *v;          /* sorted by record id */
    size_t n, cap;
    char *extra; /* the records' carried items (dbk_sum_rec xoff, xlen) */
    size_t nextra, capextra;
} dbk_sum;

/* Whether summaries are used (not turned off by DAYBOOK_NO_SUMMARY). */
bool dbk_report_summary_on(void);

/*
 * Brings the summary of every stream, and the documents of every client stream, up
 * to date with its records (applying new revisions, or rebuilding), and saves what
 * changed. Unlocks.
 */
int dbk_report_summary_refresh(dbk_session *s);
/* The same, taking the signature checks pre made ahead (book/entries.h dbk_eu_opener:
 * a counselor's 'daybook sync' checks what each round pulls while the next one is on
 * its way) for exactly the revisions, bytes and keys it checked; pre may be NULL. */
int dbk_report_summary_refresh_pre(dbk_session *s, dbk_eu_opener *pre);

/*
 * This account's own entries, as dbk_eu_load_owned(s, &s->account) gives them, the
 * plaintext of each from the summary of its stream (which, for this account's own
 * streams, keeps every current record's plaintext whole) when that summary holds
 * exactly its current revision, opened otherwise. Without summaries (or when they
 * cannot be brought up to date) every entry is opened.
 */
int dbk_report_summary_own(dbk_session *s, dbk_eu_list *out);

/* The up-to-date summaries of the streams owner owns (of every client, owner NULL; this
 * account's own, owner the account) (refreshed as above if needed):
 * *out an array of *n, freed (and wiped: they are clinical) with
 * dbk_report_summary_free. */
int dbk_report_summary_of(dbk_session *s, const dbk_id *owner, dbk_sum **out, size_t *n);
void dbk_report_summary_free(dbk_sum *v, size_t n);
/* What of owner's streams among sums did not open (their nbad), the return, and was
 * signed by someone who may not write it (DBK_SUM_FOREIGN), *foreign: what the
 * caseload's row says it is missing, as dbk_eu_list's bad and foreign_author. */
size_t dbk_report_summary_unopened(const dbk_sum *sums, size_t n, const dbk_id *owner,
                                   size_t *foreign);
/* The record's entry in a summary, or NULL. */
const dbk_sum_rec *dbk_report_summary_find(const dbk_sum *sum, const dbk_id *record);

/*
 * What the review of client over the period p needs, opened: this account's own
 * streams in full, and of the client's streams every record but the client's own
 * cravings, journal entries and checklist days from before the period that are not
 * the client's first or last entry, lie before the checklist's last run of days, and
 * did not change since kept. Of those left closed, the cravings and journal entries
 * that carry Read first items forward are in *carried with the items the summary kept
 * for them, and the cravings of the previous period (p->from minus the period's
 * length), which the trend counts, in carried->cravings with their day and intensity
 * (for dbk_review_build); one whose items cannot be read is opened. What is not left
 * closed is read from the stream's documents (brought up to date first), and opened
 * only when they do not hold its current revision. With carried NULL
 * the previous period is opened too. own: this account's
 * own entries when the caller opened them already (dbk_eu_load_owned with this
 * account), put into *out as they are instead of being opened again; may be NULL.
 * Falls back to every record when a summary is missing.
 */
int dbk_report_summary_load(dbk_session *s, const dbk_id *client, const dbk_review_period *p,
                            const json_t *kept, const dbk_eu_list *own, dbk_eu_list *out,
                            dbk_review_carried_list *carried);

#endif
