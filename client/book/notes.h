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
 * A record can reach this device before the key that opens it: the key of its stream's
 * epoch (a self-grant the server lists late, a rotation made on another device) or its
 * author's signing key. The mark passes it all the same, so it is kept apart: a row
 * past the mark whose keys are not both here is not opened but listed in wait (its
 * rowid; "notes_waiting" in the profile's meta), and each later news offers the listed
 * rows again; one whose keys came is opened then, shown once if it is a note or a
 * skill, and leaves the list. The list is rebuilt at each news from the rows still held
 * (a row replaced by a newer revision, which is past the mark itself, drops out), so it
 * prunes itself; it holds at most DBK_NOTES_WAIT_MAX rows, those that reached this
 * device first (rows served later cannot push a listed one out, whatever clocks their
 * headers say), and rows beyond are counted (over): a row left out of a full list is
 * passed for good, news never, though 'daybook notes' still shows it. A row that never
 * opens is never news, but neither is it lost in silence: the sync says how many wait
 * for their key at every sync while they do ("waiting" in its --json), and 'daybook
 * notes' shows the note once its key comes. A row whose keys are here but that does
 * not open (damaged, forged) is not waited for: opening counts it bad, as every reader
 * does.
 */
#define DBK_NOTES_WAIT_MAX 64
typedef struct {
    int64_t rowid;
    uint64_t clock;
    int64_t wait[DBK_NOTES_WAIT_MAX]; /* rows past the mark still waiting for a key */
    size_t nwait;
    size_t over; /* waiting rows beyond the bound, not listed (next only) */
    bool unread; /* the kept list could not be read (an I/O error): nothing is kept */
} dbk_notes_mark;
void dbk_notes_seen(dbk_session *s, dbk_notes_mark *out);
/* Keeps next (as dbk_notes_load_news made it) as the mark: its list of waiting rows,
 * then its rowid when past seen's (as dbk_notes_seen read it). Nothing, and DBK_E_IO,
 * when seen's list could not be read (seen->unread). */
int dbk_notes_mark_seen(dbk_session *s, const dbk_notes_mark *seen, const dbk_notes_mark *next);
/*
 * The entries a sync's news reads (commands/cmd_sync.c), opened as dbk_eu_load opens
 * them: this account's private streams whole (its consents) and, of its other streams,
 * only what someone else wrote and was stored after seen, or waits in seen's list,
 * and whose keys are here (what dbk_notes_from_counselor(s, out) then returns); *next,
 * the mark to remember once they are shown, with the rows still waiting. Chosen by the
 * author of their stored headers and the row they are stored in, before they are
 * verified: dbk_notes_from_counselor checks the author again on the then signed field,
 * and what is chosen is opened and verified as dbk_eu_load would, so the news are the
 * same without opening the client's own history (that was 94 % of a sync's
 * instructions). A header a server changed does not open either way.
 */
int dbk_notes_load_news(dbk_session *s, const dbk_notes_mark *seen, dbk_eu_list *out,
                        dbk_notes_mark *next);
/* The notes (not skills) from counselors in l written in the 7 days up to today
 * (a local day number), oldest first, as dbk_notes_from_counselor. New reference. */
json_t *dbk_notes_recent(dbk_session *s, const dbk_eu_list *l, int64_t today);

#endif
