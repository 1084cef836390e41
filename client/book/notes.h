/*
 * What comes back to a client from its counselor: the notes the counselor chose to
 * share (counselor-note records with visible_to_client, written into the client's
 * shared stream) and the coping skills the counselor assigned (checklist_def items
 * with source "counselor"), each marked with the counselor's name as the client's
 * device knows it (from enrollment). A note the counselor keeps for its own record
 * lives in the counselor's private stream and never reaches the client.
 */
#ifndef DBK_CLIENT_NOTES_H
#define DBK_CLIENT_NOTES_H

#include "entries.h"

/* The counselor's name for author (the one enrolled with), else "your counselor". */
void dbk_notes_author(dbk_session *s, const dbk_id *author, char *out, size_t cap);
/* The name of the counselor this client enrolled with, else "your counselor". */
void dbk_notes_counselor(dbk_session *s, char *out, size_t cap);
/*
 * The notes and assigned skills from counselors in l, oldest first: [{"id", "kind":
 * "note"|"skill", "text", "by", "by_name", "at", "clock"}] ("at" is when the note was
 * written, "" for a skill). New reference.
 */
json_t *dbk_notes_from_counselor(dbk_session *s, const dbk_eu_list *l);
/*
 * What a sync's news has shown: the local rowid of the last record someone else wrote
 * into this account's streams that it looked at. Records are stored here in the order
 * they arrive, whatever their authors' clocks: a note a counselor wrote offline, or
 * on a device whose clock was behind, arrives after a note with a later clock and
 * must still be news. A profile from before that mark (rowid < 0) has the highest
 * revision clock shown instead, used once.
 *
 * Not yet handled (noticed in sessions 18 and 19, left): a record that does not open
 * when the news looks at it (its stream key or its author's key arrives only at a later
 * sync: a grant the server lists late, a rotation made on another device) is passed by
 * the mark and never becomes news. The fix meant: the news filter also checks that
 * the key of (stream, epoch) and the author's signing key are there (dbk_stream_key is
 * cached per session); a wanted row without them is kept in a bounded list in meta
 * (rowids, rebuilt at each news from the rows still held, so it prunes itself) and
 * offered again until it opens, once. Its test needs a real record that reaches a
 * client's device before its key does (a second device of the client, a rotation, the
 * server's grant listing withheld for one sync), which did not fit session 19: a
 * second device of the client that logged in while the server left the shared stream's
 * self-grant out of GET /v1/grants, then listed it again with grants_seq raised, still
 * had not opened the counselor's note two syncs later (`daybook notes`: none), so how a
 * device takes a self-grant listed late is to be read first.
 */
typedef struct {
    int64_t rowid;
    uint64_t clock;
} dbk_notes_mark;
void dbk_notes_seen(dbk_session *s, dbk_notes_mark *out);
/* Keeps rowid as the mark when it is past seen (as dbk_notes_seen read it). */
int dbk_notes_mark_seen(dbk_session *s, const dbk_notes_mark *seen, int64_t rowid);
/*
 * The entries a sync's news reads (commands/cmd_sync.c), opened as dbk_eu_load opens
 * them: this account's private streams whole (its consents) and, of its other streams,
 * only what someone else wrote and was stored after seen (what
 * dbk_notes_from_counselor(s, out) then returns); *upto, the mark to remember once
 * they are shown. Chosen by the author of their stored headers and the row they are
 * stored in, before they are verified: dbk_notes_from_counselor checks the author
 * again on the then signed field, and what is chosen is opened and verified as
 * dbk_eu_load would, so the news are the same without opening the client's own
 * history (that was 94 % of a sync's instructions). A header a server changed does
 * not open either way.
 */
int dbk_notes_load_news(dbk_session *s, const dbk_notes_mark *seen, dbk_eu_list *out,
                        int64_t *upto);
/* The notes (not skills) from counselors in l written in the 7 days up to today
 * (a local day number), oldest first, as dbk_notes_from_counselor. New reference. */
json_t *dbk_notes_recent(dbk_session *s, const dbk_eu_list *l, int64_t today);

#endif
