/*
 * The client's local store: one SQLite file, daybook.db, in the profile
 * directory (mode 0600 in a 0700 folder). It holds what the server holds, and
 * like the server it holds no plaintext: envelopes, grants sealed to this
 * account, the passphrase-encrypted key bundle, the bearer token sealed to this
 * account's own X25519 key. Plaintext exists only in memory after unlock.
 *
 * Tables (see local.c for the SQL):
 *   meta      key/value settings: account, device, role, server URL and id, ...
 *   streams   streams this account reads: owner, kind, epoch, pull cursor
 *   grants    grant bytes addressed to this account (stream keys inside)
 *   records   every revision this device has seen, envelope bytes; one per
 *             record is current (the newest), the others are kept losers
 *   outbox    revisions written here and not yet acknowledged by the server
 *   summaries per stream, the sealed summary of its entries a counselor's caseload and
 *             review are drawn from (report/summary.h): opaque here, sealed there
 *   acts      what this account did to its own streams' access, in the order it did
 *             it: each grant it signed (its bytes) and each revocation, and whether
 *             the server acknowledged it; re-sent in order until it has, and all
 *             again after a server restore (proto/TRUST.md T8)
 */
#ifndef DBK_CLIENT_LOCAL_H
#define DBK_CLIENT_LOCAL_H

#include "dbk/envelope.h"
#include "dbk/id.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dbk_local dbk_local;

/* The profile's SQLite file in its directory. */
#define DBK_LOCAL_FILE "daybook.db"

/* Where the profile lives: $DAYBOOK_HOME, else $XDG_DATA_HOME/daybook, else
 * ~/.local/share/daybook. Writes the path into out. */
int dbk_local_dir(char *out, size_t cap);

/* Opens (create: creating) the store in dir. DBK_E_NOT_FOUND when !create and
 * there is no profile; DBK_E_CORRUPT when the file is not a Daybook profile. */
int dbk_local_open(const char *dir, bool create, dbk_local **out);
void dbk_local_close(dbk_local *L);
/* A profile without write permission (no write bit, or not writable by this user) is
 * opened read-only, whatever build stamped its schema: reading works and every write
 * fails. The path of the profile file when this process tried to write to one that is
 * read-only (and was refused), else NULL. */
const char *dbk_local_refused_write(void);
/* Whether L was opened read-only (its profile has no write permission). */
bool dbk_local_read_only(const dbk_local *L);

int dbk_local_begin(dbk_local *L);
int dbk_local_commit(dbk_local *L);
void dbk_local_rollback(dbk_local *L);
/* Whether a transaction is open (begin was called and not yet committed or rolled back). */
bool dbk_local_in_tx(dbk_local *L);
/* A transaction that only groups writes each of which may stand alone, so that many
 * cost one commit (one sync of the disk) instead of one each. True when one was begun;
 * false when none is: the profile is read-only, a transaction is already open, or the
 * write lock was not taken within the busy wait. Then each write commits on its own,
 * as without it. */
bool dbk_local_group_begin(dbk_local *L);
/* Ends what dbk_local_group_begin began (began: its answer): what was written is
 * committed even when rc (the writes' result) is a failure, as each write alone would
 * have been. rc, else the commit's failure (then rolled back). */
int dbk_local_group_end(dbk_local *L, bool began, int rc);
/* dbk_local_group_begin/_end for writes of a cache, what can be made again from what
 * the file holds (the summaries, report/summary.h): their commit is not synced to the
 * disk (synchronous=NORMAL) and the setting is FULL again as it ends. In the
 * write-ahead log a commit not synced is lost only with the power, never with the
 * process, and then with all the log after it, never alone: what is lost is made
 * again; the next synced commit (any write of this profile but a cache's) syncs it
 * with its own. Nothing but cache writes may run between the two. When FULL cannot be
 * set again (after a BEGIN that failed, or at the end), no commit but a cache's is made
 * at NORMAL: each is refused (its write fails) until the next dbk_local_begin sets FULL.
 * dbk_local_synced: the connection's commits are synced (synchronous=FULL). */
bool dbk_local_cache_begin(dbk_local *L);
int dbk_local_cache_end(dbk_local *L, bool began, int rc);
bool dbk_local_synced(dbk_local *L);
/* A number that differs between two calls when another connection (another process)
 * committed to the profile between them (PRAGMA data_version); -1 when it cannot be
 * read, which callers take as "may have changed". */
int64_t dbk_local_data_version(dbk_local *L);

/* meta: blobs or text by key. get returns DBK_E_NOT_FOUND when absent. */
int dbk_local_put(dbk_local *L, const char *key, const void *val, size_t len);
int dbk_local_get(dbk_local *L, const char *key, void *val, size_t cap, size_t *len);
/* Removes key (no error when it is absent). */
int dbk_local_del(dbk_local *L, const char *key);
int dbk_local_put_text(dbk_local *L, const char *key, const char *val);
int dbk_local_get_text(dbk_local *L, const char *key, char *out, size_t cap);
/* dbk_local_put_text without waiting for another process's write lock: an error at once
 * when it is held, for a write that may as well not be made (a cache). */
int dbk_local_put_text_nowait(dbk_local *L, const char *key, const char *val);
int dbk_local_put_int(dbk_local *L, const char *key, int64_t v);
int64_t dbk_local_get_int(dbk_local *L, const char *key, int64_t dflt);
/* Whether some key begins with prefix (true when that cannot be read: the caller then
 * asks key by key). One lookup in the key's index: a caller that would ask one key per
 * stream asks this first. */
bool dbk_local_has_prefix(dbk_local *L, const char *prefix);

enum dbk_local_kind { DBK_LOCAL_SHARED = 1, DBK_LOCAL_PRIVATE = 2 };
/* The profile's role, as its meta "role" holds it (a number): a counselor's profile
 * keeps the stream heads' counts in the file, a client's counts them when asked
 * (dbk_local_record_count). */
enum { DBK_ROLE_NONE = 0, DBK_ROLE_CLIENT = 1, DBK_ROLE_COUNSELOR = 2 };
/* Sets the profile's role (meta "role") and, in the same transaction (the caller's, or
 * its own), the schema's part for it: a counselor's counts (taken again from the
 * records), summaries and deletes made, a client's dropped. So the rest of the process
 * that enrolled or logged in meets the tables of the role it has, not of the role the
 * profile had when it was opened. */
int dbk_local_set_role(dbk_local *L, int role);

typedef struct dbk_local_stream {
    dbk_id id, owner;
    int kind;
    uint32_t epoch;
    int64_t cursor; /* the last seq pulled */
} dbk_local_stream;

int dbk_local_stream_put(dbk_local *L, const dbk_local_stream *s);
/* Forgets a stream, its grants and records (a counselor's unused shared stream). */
int dbk_local_stream_drop(dbk_local *L, const dbk_id *id);
int dbk_local_stream_get(dbk_local *L, const dbk_id *id, dbk_local_stream *out);
/* The stream of this kind owned by owner. */
int dbk_local_stream_of(dbk_local *L, const dbk_id *owner, int kind, dbk_local_stream *out);
typedef void (*dbk_local_stream_cb)(const dbk_local_stream *s, void *arg);
int dbk_local_streams(dbk_local *L, dbk_local_stream_cb cb, void *arg);

int dbk_local_grant_put(dbk_local *L, const dbk_id *stream, uint32_t epoch,
                        const unsigned char *grant, size_t len);
/* The grant bytes for (stream, epoch), malloc'd. */
int dbk_local_grant_get(dbk_local *L, const dbk_id *stream, uint32_t epoch, unsigned char **out,
                        size_t *len);

/* DBK_ACT_END: a grant of an epoch the grantee held, ending a moment after it was
 * signed, sent just before a revocation so that the grantee holds the end signed
 * (proto/TRUST.md T8); a server that refuses it does not hold the revocation back. */
enum dbk_local_act_kind { DBK_ACT_GRANT = 1, DBK_ACT_REVOKE = 2, DBK_ACT_END = 3 };

typedef struct dbk_local_act {
    int64_t seq; /* order of the acts; set by the store */
    dbk_id stream, grantee;
    int kind;       /* DBK_ACT_* */
    uint32_t epoch; /* a grant's epoch; a revocation's: the stream's epoch then */
    const unsigned char *grant; /* DBK_ACT_GRANT, DBK_ACT_END: the signed grant bytes */
    size_t len;
    int64_t at_ms;
    bool acked; /* the server answered it */
} dbk_local_act;

int dbk_local_act_add(dbk_local *L, const dbk_local_act *a);
typedef void (*dbk_local_act_cb)(const dbk_local_act *a, void *arg);
/* The acts in order (only those the server has not acknowledged when pending_only);
 * a->grant is valid during the callback. */
int dbk_local_acts(dbk_local *L, bool pending_only, dbk_local_act_cb cb, void *arg);
int dbk_local_act_acked(dbk_local *L, int64_t seq);
/* The seq of the act added last on this connection. */
int64_t dbk_local_act_last(dbk_local *L);
/* After a server restore: every act is to be checked against the server again. */
int dbk_local_acts_unack_all(dbk_local *L);

typedef struct dbk_local_record {
    dbk_envelope_hdr hdr;
    const unsigned char *env; /* valid during the callback */
    size_t len;
    bool current;
    bool pending; /* in the outbox */
    int64_t seq;  /* the server's seq, 0 if not acknowledged yet */
    int64_t rowid; /* the row's place in the store (0 unless the query says it) */
} dbk_local_record;

/*
 * Stores a revision (idempotent). Keeps exactly one current revision per record:
 * the greatest by dbk_revision_cmp. *became_current tells whether this one is.
 * With outbox, also queues it for push.
 */
int dbk_local_record_put(dbk_local *L, const unsigned char *env, size_t len, int64_t seq,
                         bool outbox, bool *became_current);
/* The first revision of a record whose id this device just drew at random (128 bits:
 * no revision of it can be held): stored as its current revision and queued for push,
 * without the lookup of a current one dbk_local_record_put makes (that statement,
 * prepared and run, was 2 % of a `daybook craving`'s instructions). */
int dbk_local_record_put_new(dbk_local *L, const unsigned char *env, size_t len);
typedef void (*dbk_local_record_cb)(const dbk_local_record *r, void *arg);
/* How many revisions of record wait in the outbox (-1 on error). */
int64_t dbk_local_pending_of(dbk_local *L, const dbk_id *record);
/* How many distinct record ids of stream are held here, except the one given (none when
 * except is NULL; -1 on error): the stream head's count (proto/TRUST.md T12). */
int64_t dbk_local_record_count(dbk_local *L, const dbk_id *stream, const dbk_id *except);
/* Of those, how many have a current revision whose author is the given account (-1 on
 * error): the head's "own" count. The author is read from the envelope's clear header
 * (CRYPTO.md section 4: bytes 64 to 79) by SQLite itself, so nothing is decoded here.
 * In a counselor's profile both are kept by triggers as records are written: a lookup,
 * not a count; a client's counts them over the stream (only sync asks). */
int64_t dbk_local_authored_count(dbk_local *L, const dbk_id *stream, const dbk_id *except,
                                 const dbk_id *author);
/* Current revisions of stream (all streams if NULL), oldest clock first. */
int dbk_local_records(dbk_local *L, const dbk_id *stream, dbk_local_record_cb cb, void *arg);
/* Current revisions of the streams owned by a or b, oldest clock first: a counselor's
 * review reads one client's streams and its own, not the whole caseload. */
int dbk_local_records_owned(dbk_local *L, const dbk_id *a, const dbk_id *b, dbk_local_record_cb cb,
                            void *arg);
/* Every revision of one record, current first. */
int dbk_local_revisions(dbk_local *L, const dbk_id *record, dbk_local_record_cb cb, void *arg);
/* The current revisions of stream that wait in the outbox (from the outbox's index: a
 * stream with none costs one lookup). */
int dbk_local_pending_in(dbk_local *L, const dbk_id *stream, dbk_local_record_cb cb, void *arg);

/* Pending revisions, oldest first, at most limit. */
int dbk_local_outbox(dbk_local *L, size_t limit, dbk_local_record_cb cb, void *arg);
int64_t dbk_local_outbox_count(dbk_local *L);
/* The server acknowledged this revision (stored, duplicate or superseded). */
int dbk_local_outbox_done(dbk_local *L, const dbk_id *record, const dbk_revision *rev,
                          int64_t seq);
/* The greatest revision clock held here that is at most at_most (0 if none). */
int dbk_local_max_clock(dbk_local *L, uint64_t at_most, uint64_t *out);
/* Removes a revision no server has acknowledged (pending, seq 0) from this device;
 * DBK_E_NOT_FOUND if there is no such pending revision. */
int dbk_local_revision_drop_pending(dbk_local *L, const dbk_id *record, const dbk_revision *rev);
/* Takes stream's pending revisions out of the outbox and keeps them here: writes of a
 * grantee into a stream whose access ended, which no server will take again. The
 * number taken goes to *n. */
int dbk_local_outbox_abandon(dbk_local *L, const dbk_id *stream, int64_t *n);
/* After a server restore: every revision this account may write goes back in the outbox. */
int dbk_local_outbox_requeue_all(dbk_local *L);

/* ---- summaries (report/summary.h seals and reads them) ---- */

/* The sealed summary of stream, malloc'd; DBK_E_NOT_FOUND when there is none. */
int dbk_local_summary_get(dbk_local *L, const dbk_id *stream, unsigned char **out, size_t *len);
int dbk_local_summary_put(dbk_local *L, const dbk_id *stream, const unsigned char *body,
                          size_t len);
/* The mark of stream's revisions: *rows, how many are held here plus twice how many
 * were ever deleted, and the greatest rowid among them. A revision stored adds one
 * to *rows and has a rowid above the mark, unless one was deleted (then *rows has
 * grown by more than the revisions stored above the mark): so a mark that is the same
 * means nothing changed, and one whose *rows grew by exactly the revisions stored
 * above the old rowid means only those were added (report/summary.c). */
int dbk_local_stream_mark(dbk_local *L, const dbk_id *stream, int64_t *rows, int64_t *max_rowid);
/* Whether this profile keeps the marks (a counselor's: a client's counts no deletes).
 * What is kept against a mark in the meta key DBK_LOCAL_ROLE_SEEN (book/role.c) is
 * forgotten when the profile stops keeping them. */
bool dbk_local_has_marks(const dbk_local *L);
#define DBK_LOCAL_ROLE_SEEN "role_seen"
/* Every revision of stream stored after rowid (current or not), in rowid order, with
 * r->rowid set. */
int dbk_local_records_after(dbk_local *L, const dbk_id *stream, int64_t rowid,
                            dbk_local_record_cb cb, void *arg);
/* Current revisions of one stream, oldest clock first, with r->rowid set. */
int dbk_local_records_of(dbk_local *L, const dbk_id *stream, dbk_local_record_cb cb, void *arg);

#endif
