/*
 * The craving spool (docs/DESIGN.md, "Logging a craving"): `daybook craving` with the
 * keys unlocked appends the craving to cravings.spool beside the SQLite profile
 * (store/spool_file.h), encrypted under a key derived from the account's secret box
 * key (trust/unlock.h dbk_unlock_spool_key) and fdatasync'd, without opening the
 * profile or signing; "Saved" is said only after that sync. The next command that
 * has the keys and reads entries (or syncs) folds the spool into the profile: each
 * craving saved as an entry (sealed, signed, with the revision clock) under the id
 * it was given when it was spooled, all in one write transaction, a craving already
 * held skipped, and the spool cut back only after the commit.
 *
 * What a craving needs to know without the profile (the account, that the profile is
 * a client's) is the spool's header, written by each fold, so kept current by every
 * command that reads entries; when it is missing or not a client's, or the keys are
 * not cached, the craving is saved in the profile as before.
 */
#ifndef DBK_CLIENT_SPOOL_H
#define DBK_CLIENT_SPOOL_H

#include "session.h"
#include "spool_file.h"

#include <jansson.h>

/*
 * Opens dir's spool and takes its lock (spool_file.h) when its header says a client's
 * and names dir's profile file: true, f open and locked until the caller's
 * dbk_spool_file_close (dbk_spool_add leaves it open). Else false, f closed: the
 * craving is saved in the profile. Never held across a prompt, nor while the profile
 * is opened: a fold takes the same lock.
 */
bool dbk_spool_take(dbk_spool_file *f, const char *dir);
/*
 * Appends doc, for this account's stream of kind, to f (from dbk_spool_take), durably;
 * its entry id in *id; f stays open and locked (the caller closes it). DBK_E_NOT_FOUND when the
 * spool cannot take it (the keys not cached), DBK_E_TOO_LARGE when it is full or doc too long,
 * DBK_E_IO when the disk refused it (the record is then not in the file): in each,
 * nothing was spooled and the caller saves doc in the profile. DBK_E_INTERNAL when it
 * may be in the file though its sync failed: the caller reports it not saved.
 */
int dbk_spool_add(dbk_spool_file *f, int kind, const json_t *doc, dbk_id *id);
/* How many cravings wait in s's spool to be folded: whole records, not under another
 * account's header, whose ids the profile does not hold yet (a fold that kept a record
 * that does not open leaves the folded ones in the file). No keys needed: ids are in
 * the clear. A record that does not open counts until it is moved away. */
size_t dbk_spool_count(dbk_session *s);
/*
 * Folds s's spool into the profile (unlocking s if it holds cravings, before taking the
 * spool's lock: a craving is never held up by a passphrase prompt) and writes the
 * spool's header for s's role and account, making the spool if it is a client's and
 * there is none. *folded (may be NULL): how many cravings were saved. A torn last
 * record (a craving being written when its process died, never acknowledged) is
 * dropped, and a craving that does not open kept; each is counted in the news below
 * for the command to say. Not inside a transaction.
 */
int dbk_spool_fold(dbk_session *s, size_t *folded);

/* What this process's folds dropped or left (commands.c dbk_cmd_tell_after says it):
 * torn tails dropped; cravings that do not open, kept in the spool at path; whether a
 * spool there holds another account's cravings. */
typedef struct dbk_spool_news {
    size_t torn, kept;
    bool foreign;
    char path[4200];
} dbk_spool_news;
const dbk_spool_news *dbk_spool_news_get(void);

#endif
