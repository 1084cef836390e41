/*
 * Entries (records) as the commands see them: JSON plaintexts (proto/schemas/)
 * sealed into envelopes on write and opened on read. Moving them to and from
 * the server is sync/sync.h's work.
 */
#ifndef DBK_CLIENT_ENTRY_H
#define DBK_CLIENT_ENTRY_H

#include "seal.h" /* dbk_entry_bucket: the size a record is sealed at */
#include "session.h"

/* The current time as RFC 3339 with the local offset, and the IANA zone name. */
void dbk_now_rfc3339(char out[40]);
void dbk_local_tz(char *out, size_t cap);

/*
 * Seals plaintext (a JSON object) as a new revision of record (a new record when
 * record is NULL; its id is returned in *out_id) into this account's stream of
 * kind, stores it locally and queues it for sync. Needs unlocked keys.
 */
int dbk_entry_save(dbk_session *s, int kind, const dbk_id *record, json_t *plaintext,
                   dbk_id *out_id);
/*
 * The same into the stream with this id (a client's shared stream, for a counselor
 * who holds its grant), under the stream's current epoch. DBK_E_NOT_FOUND when the
 * stream or the key of its epoch is not held here.
 */
int dbk_entry_save_in(dbk_session *s, const dbk_id *stream, const dbk_id *record,
                      json_t *plaintext, dbk_id *out_id);

/*
 * Revisions this device wrote while its clock was more than a day ahead, which the
 * server refuses (proto/README.md section 10, check 6), written again with a clock
 * from now once the clock has been set right, the old ones dropped (no server ever
 * had them). *n: how many. Nothing changes while the clock is still wrong.
 */
int dbk_entry_restamp_ahead(dbk_session *s, size_t *n);

/* One opened entry. */
typedef struct dbk_entry {
    dbk_envelope_hdr hdr;
    json_t *doc;  /* the plaintext, parsed */
    bool pending; /* not yet acknowledged by the server */
    int kind;     /* the stream's kind */
    dbk_id owner; /* the stream's owner */
} dbk_entry;
typedef void (*dbk_entry_cb)(const dbk_entry *e, void *arg);
/* Opens every current entry of this account's streams, oldest first; entries that
 * do not open (wrong key, tampered) are counted in *bad, never shown. */
int dbk_entries(dbk_session *s, dbk_entry_cb cb, void *arg, size_t *bad);
/* The same for the streams owned by this account or by owner only. Opening an entry
 * costs a signature check, so a counselor reviewing one client opens that client's
 * entries, not the whole caseload's. */
int dbk_entries_owned(dbk_session *s, const dbk_id *owner, dbk_entry_cb cb, void *arg, size_t *bad);
/* The same, opening only the records want says yes to (the others are neither opened
 * nor counted): a review that knows from its summary which records it needs. */
typedef bool (*dbk_entry_want)(const dbk_local_record *r, void *arg);
int dbk_entries_owned_where(dbk_session *s, const dbk_id *owner, dbk_entry_want want,
                            void *want_arg, dbk_entry_cb cb, void *arg, size_t *bad);
/* The entries of one stream (oldest first, from its index: no sort), opening only the
 * records want says yes to (want NULL: all), and not opening a record whose plaintext
 * cached gives (a new reference to its parsed JSON; NULL: open it; cached may be
 * NULL): for a cache sealed to this account that holds exactly that revision's
 * plaintext as it was opened and verified (report/summary.h). */
typedef json_t *(*dbk_entry_cached)(const dbk_local_record *r, void *arg);
int dbk_entries_of_stream(dbk_session *s, const dbk_id *stream, dbk_entry_want want,
                          void *want_arg, dbk_entry_cached cached, void *cached_arg,
                          dbk_entry_cb cb, void *arg, size_t *bad);

#endif
