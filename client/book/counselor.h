/*
 * What the counselor's commands (clients, review, session done, note) share:
 * clients named by alias or id prefix, the session markers kept in the counselor's private stream, and writing a record
 * into a client's shared stream with the key from the client's grant. The
 * pre-session review is computed in report/review.c; the caseload is fetched by
 * sync/sharing.c (dbk_sync_caseload).
 *
 * Aliases are the counselor's own names for clients. They are cached on this
 * device sealed to the account's own X25519 key in the local meta
 * ("client_aliases"), and each change is an alias record (proto/schemas/
 * alias.schema.json) in the counselor's private stream, so its other devices learn
 * it at sync; the server holds only the encrypted record.
 */
#ifndef DBK_CLIENT_COUNSELOR_H
#define DBK_CLIENT_COUNSELOR_H

#include "entries.h"
#include "trust.h"

/*
 * A JSON object kept in the local meta under key, sealed to this account's own
 * X25519 key (crypto_box_seal): readable only after unlock, never sent. get gives
 * {} when there is none (new reference); cap bounds the stored size.
 */
int dbk_co_sealed_get(dbk_session *s, const char *key, size_t cap, json_t **out);
int dbk_co_sealed_put(dbk_session *s, const char *key, const json_t *doc);

/* The aliases, {account id text: name} (new reference; {} when none). */
int dbk_co_aliases(dbk_session *s, json_t **out);
/* The same from this account's own entries already opened (dbk_eu_load_owned with
 * this account), so that a command that opens them anyway does not open them twice. */
int dbk_co_aliases_in(dbk_session *s, const dbk_eu_list *own, json_t **out);
int dbk_co_aliases_save(dbk_session *s, const json_t *aliases);
/* Clients with no alias yet get the name they signed their consent with (patient.name,
 * from the grant sealed to this counselor). *learned counts them. */
int dbk_co_learn_names(dbk_session *s, size_t *learned);
/* The alias of id, else the first 8 characters of its text form. */
void dbk_co_label(const json_t *aliases, const dbk_id *id, char *out, size_t cap);


/* The client's shared stream on this device. */
int dbk_co_client_stream(dbk_session *s, const dbk_id *client, dbk_local_stream *out);

/*
 * Whether the server withholds records of the client's shared stream: the records this
 * device holds against the counts the client signed in the stream's head
 * (dbk_trust_stream_head, proto/TRUST.md T12), added to r. For what a counselor is shown
 * of one client, the review and a caseload row, after a pull that checked no heads
 * (dbk_sync_pull_first). Nonzero when nothing was checked (no shared stream of the
 * client here, or the store failed). dbk_co_withheld_warn: whether r holds what the
 * counselor must be warned of (records withheld, or a head older than one this device
 * saw); dbk_co_withheld_json: r as the JSON says it, {records, cannot_tell,
 * rolled_back, none_seen}, a new reference (none_seen: no entry and no signed head of
 * the client's seen here, so cannot_tell too, never "nothing withheld"); r NULL: a
 * check that could not run, {records: null, cannot_tell: true}.
 */
int dbk_co_withheld(dbk_session *s, const dbk_id *client, dbk_trust_report *r);
bool dbk_co_withheld_warn(const dbk_trust_report *r);
json_t *dbk_co_withheld_json(const dbk_trust_report *r);

/* The newest session marker for client in l (the counselor's private stream):
 * its "at" copied into at. false when there is none. */
bool dbk_co_last_session(const dbk_eu_list *l, const dbk_id *client, char at[40]);
/* The record of that marker (NULL when none): 'session undo' removes it. */
const dbk_eu_entry *dbk_co_last_session_entry(const dbk_eu_list *l, const dbk_id *client);

/*
 * Saves doc as a new record into stream (a client's shared stream), sealed under its
 * current epoch with the key from the grant this account holds, and queues it for
 * sync. DBK_E_NOT_FOUND when no key for that epoch is held.
 */
int dbk_co_save_into(dbk_session *s, const dbk_id *stream, json_t *doc, dbk_id *out_id);

/* Remembers (and recalls, "" when unknown) the grant state the caseload last gave. */
void dbk_co_state_put(dbk_session *s, const dbk_id *client, const char *state);
void dbk_co_state_get(dbk_session *s, const dbk_id *client, char *out, size_t cap);
/* Whether the end of client's sharing rests on the client's own signature (a signed end,
 * proto/TRUST.md T8), not on the server's "revoked" or "expired" alone; *ends_ms: when
 * it ends, as the client signed it. */
bool dbk_co_end_signed(dbk_session *s, const dbk_id *client, int64_t *ends_ms);

/* The client's enrollment day (local day number) from their caseload entry,
 * remembered for offline use; INT64_MIN when never known. entry may be NULL. */
int64_t dbk_co_enrolled_day(dbk_session *s, const json_t *entry, const dbk_id *client);

/* A day number as a local date, and "YYYY-MM-DD HH:MM" for Unix ms. */
void dbk_co_ms_text(int64_t ms, char out[32]);

#endif
