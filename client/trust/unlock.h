/*
 * Unlocking: the account's two secret keys are opened from the key bundle with
 * the passphrase and cached in the kernel's user keyring for a limited time
 * (DAYBOOK_UNLOCK_SECONDS, default 900), never on disk. The passphrase comes from
 * DAYBOOK_PASSPHRASE_FILE (first line), DAYBOOK_PASSPHRASE_FD, or the terminal.
 */
#ifndef DBK_CLIENT_UNLOCK_H
#define DBK_CLIENT_UNLOCK_H

#include "session.h"

/* Reads the passphrase (see above); confirm asks twice on a terminal. The buffer
 * is sodium_malloc'd: free with dbk_passphrase_free. */
int dbk_passphrase_read(const char *prompt, bool confirm, char **out);
void dbk_passphrase_free(char *p);

/* Unlocks the account keys: from the keyring cache, else with the passphrase.
 * DBK_E_PASSPHRASE on a wrong one. */
int dbk_unlock(dbk_session *s);
/* Unlocks from the keyring cache only, never asking: DBK_E_NOT_FOUND when the keys
 * are not cached (help-now must not wait on a passphrase). */
int dbk_unlock_cached(dbk_session *s);
/* Puts the unlocked keys in the keyring cache. */
void dbk_unlock_cache(dbk_session *s);
/* Forgets the cached keys, and the stream keys kept beside them. DBK_E_IO when the
 * kernel refused to forget one (it stays until its timeout). */
int dbk_unlock_forget(dbk_session *s);

/* The keys of the account's own streams kept beside its keys in the keyring (unlock.c
 * says why and how they are checked), only while the cache is on and with s->keys
 * unlocked. The caller keeps a key only once it opened it from a self-grant whose
 * signature it checked (trust/stream_key.c), with grant_hash the BLAKE2b-256 of that
 * grant's bytes, and takes one only for the hash of the grant it holds now for that
 * stream and epoch: true and the key in key when one was kept for exactly that. */
bool dbk_unlock_kept_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                                const unsigned char grant_hash[32], unsigned char key[32]);
void dbk_unlock_keep_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                                const unsigned char grant_hash[32], const unsigned char key[32]);

/* The key a craving is spooled under (book/spool.h), derived from the account's secret
 * box key. dbk_unlock_spool_key: from the keyring's entry of account alone, with no
 * session and no profile opened; DBK_E_NOT_FOUND when the keys are not cached (locked,
 * expired, the cache off) or the entry fails its check. dbk_unlock_spool_key_of: from
 * s->keys (unlocked). The caller wipes key. */
int dbk_unlock_spool_key(const dbk_id *account, unsigned char key[32]);
int dbk_unlock_spool_key_of(const dbk_session *s, unsigned char key[32]);

#endif
