/*
 * The book: every current entry of the account's streams opened into memory
 * (oldest first), every revision of one record, and the day and text helpers
 * the views share. Nothing here prints; the checklist is book/checklist.h and the
 * craving counts book/counts.h.
 */
#ifndef DBK_CLIENT_ENTRIES_UTIL_H
#define DBK_CLIENT_ENTRIES_UTIL_H

#include "entry.h"

#include <stdio.h>

/* ---- entries in memory ---- */

typedef struct dbk_eu_entry {
    dbk_envelope_hdr hdr;
    json_t *doc;      /* the plaintext, parsed (owned by the list) */
    const char *type; /* doc's "type", "" when missing */
    bool pending;     /* not yet acknowledged by the server */
    int kind;         /* DBK_LOCAL_SHARED or DBK_LOCAL_PRIVATE */
    bool mine;        /* the stream is this account's own */
    dbk_id owner;     /* the stream's owner (a client's, for a counselor) */
} dbk_eu_entry;

typedef struct dbk_eu_list {
    dbk_eu_entry *v; /* oldest revision clock first */
    size_t n, cap;
    size_t bad; /* entries that did not open, or whose author may not write them */
    size_t foreign_author; /* of those, signed by someone other than an allowed author */
} dbk_eu_list;

/* Opens (unlocking if needed) every current entry of the account's streams. */
int dbk_eu_load(dbk_session *s, dbk_eu_list *out);
/* Only the entries of the streams this account or owner owns (dbk_entries_owned). */
int dbk_eu_load_owned(dbk_session *s, const dbk_id *owner, dbk_eu_list *out);
/* Only the records of those streams that want says yes to (entry.h). */
int dbk_eu_load_owned_where(dbk_session *s, const dbk_id *owner, dbk_entry_want want,
                            void *want_arg, dbk_eu_list *out);
/* The entries of one stream (entry.h dbk_entries_of_stream: want and cached may be
 * NULL); lists of several streams are put together in order with dbk_eu_merge. */
int dbk_eu_load_stream(dbk_session *s, const dbk_id *stream, dbk_entry_want want, void *want_arg,
                       dbk_entry_cached cached, void *cached_arg, dbk_eu_list *out);
void dbk_eu_free(dbk_eu_list *l);
/* Adds one entry whose plaintext the caller has (a cache sealed to this account that
 * holds exactly its current revision, as opened and verified: report/summary.h) to l,
 * as if opened: a stream head is skipped, an entry whose author may not write it is
 * left out and counted; one whose doc is no object is counted bad. The caller keeps
 * its reference to e->doc (l takes its own). Entries must come in clock order; once
 * done, the caller adds l->foreign_author to l->bad, as dbk_eu_load does. */
int dbk_eu_add(dbk_session *s, dbk_eu_list *l, const dbk_entry *e);
/* Adds from's entries to into (their docs shared, a reference each), keeping into
 * oldest revision clock first, and its counts of entries left out. */
int dbk_eu_merge(dbk_eu_list *into, const dbk_eu_list *from);
/* One stored revision opened (verified, decrypted, parsed) as the list's entries are;
 * NULL when it does not open. A new reference. */
json_t *dbk_eu_open_record(dbk_session *s, const dbk_local_record *r);
/* n stored revisions opened as dbk_eu_open_record opens each: docs[i] is its
 * document or NULL when it does not open, checked exactly as one by one. The
 * signature checks and decryption run on up to DBK_EU_OPEN_THREADS threads (a cold
 * sync's summaries open tens of thousands); keys are looked up on the caller's. */
#define DBK_EU_OPEN_THREADS 4
void dbk_eu_open_records(dbk_session *s, const dbk_local_record *r, size_t n, json_t **docs);

/*
 * Revisions checked ahead, on threads of their own, while the caller goes on (a cold
 * sync: while the rounds wait on the server and store what came, not after them).
 * dbk_eu_opener_add, on the session's thread, looks up the author's key and queues a
 * copy; a worker checks its signature (dbk_envelope_verify, the Ed25519 verify that is
 * most of opening) and keeps a BLAKE2b-256 hash of the envelope. dbk_eu_open_records_pre
 * then skips the signature check (dbk_envelope_open_verified) only for exactly that
 * revision (record, clock, device), envelope (the hash of the stored bytes) and author
 * key (looked up again then), and checks everything else as dbk_eu_open_records does:
 * what it gives is what opening the stored revision then gives. NULL when no thread
 * could be started (then nothing is checked ahead).
 */
typedef struct dbk_eu_opener dbk_eu_opener;
dbk_eu_opener *dbk_eu_opener_start(dbk_session *s);
void dbk_eu_opener_add(dbk_eu_opener *o, const dbk_local_record *r);
/* Slots its table walked past so far, over every lookup: what a test holds to the
 * number of revisions, whatever ids their authors chose (not a figure to act on). */
size_t dbk_eu_opener_probes(const dbk_eu_opener *o);
/* The bytes it holds now, at most 256 MiB: the revisions' copies, the jobs and their
 * index, the table it looks them up in once finished (each allocation counted whole). */
size_t dbk_eu_opener_held(const dbk_eu_opener *o);
/* The threads stopped and what they kept freed. o may be NULL. */
void dbk_eu_opener_free(dbk_eu_opener *o);
/* dbk_eu_open_records, taking what pre checked ahead (pre may be NULL). */
void dbk_eu_open_records_pre(dbk_session *s, dbk_eu_opener *pre, const dbk_local_record *r,
                             size_t n, json_t **docs);

/* ---- revisions ---- */

typedef struct dbk_eu_rev {
    dbk_envelope_hdr hdr;
    bool current, pending;
    json_t *doc; /* NULL when this revision does not open */
} dbk_eu_rev;

/* Every revision of record kept on this device, current first, each opened. */
int dbk_eu_revisions(dbk_session *s, const dbk_id *record, dbk_eu_rev **out, size_t *n);
void dbk_eu_revisions_free(dbk_eu_rev *v, size_t n);

/* ---- days, text, output ---- */

/* Today's local day number (daycount.h). */
int64_t dbk_eu_today(void);
/* The local day an entry belongs to: occurred_at, written_at, date or deleted_at
 * (the date as written, in the writer's local offset). */
bool dbk_eu_entry_day(const json_t *doc, int64_t *day);
/* "shared" or "private". */
const char *dbk_eu_stream_name(int kind);
/* The revision clock's wall time as local "YYYY-MM-DD HH:MM". */
void dbk_eu_clock_text(uint64_t clock, char out[32]);
/* A craving's intensity on the 0-10 scale (1-100 values are divided by 10). */
bool dbk_eu_intensity10(const json_t *craving, double *out);
/* Wipes and frees a string that held plaintext. */
void dbk_eu_wipe_free(char *s);
/* Edit distance of two short strings (99 when either is over 64 characters). */
size_t dbk_eu_distance(const char *a, const char *b);

#endif
