/*
 * Sealing a revision of a record: its plaintext padded to a size bucket, encrypted
 * under the stream's key and signed with this account's identity key, stored here and
 * queued for push. book/ writes entries with it, and trust/heads.c the stream heads.
 */
#ifndef DBK_CLIENT_SEAL_H
#define DBK_CLIENT_SEAL_H

#include "session.h"

/*
 * The padded size (a multiple of 256, proto/CRYPTO.md section 4 "Size buckets") a
 * record of this plaintext, text_len bytes of compact JSON, is sealed at: records that
 * differ only in their outcome member (a craving's outcome, a check-in's use, a dose's
 * status) get the same one while that member is within the allowance.
 */
#define DBK_ENTRY_OUTCOME_ALLOWANCE 256u
size_t dbk_entry_bucket(const json_t *plaintext, size_t text_len);

/*
 * Seals plaintext as a new revision of record (a new record when record is NULL; its
 * id in *out_id) into the stream row st, under its epoch, stores it and queues it for
 * push. st must be read in the write transaction the caller holds (dbk_local_begin),
 * and the revision goes in with it: an epoch read before that transaction could be one
 * a revoke in another process has since rotated away (T5), and the revoked counselor
 * could read the record. Needs unlocked keys.
 * coarse: its clock to the minute, for a new record or a stream head (nothing competes
 * with it), else to the millisecond, for an edit, so that the later of two devices'
 * edits wins (store/session.h).
 */
int dbk_trust_seal_put(dbk_session *s, const dbk_local_stream *st, const dbk_id *record,
                       bool coarse, json_t *plaintext, dbk_id *out_id);

/* The first revision of record, an id this device drew at random and has never
 * written (a spooled craving's, book/spool.h): as dbk_trust_seal_put with record NULL,
 * its clock coarse, but under that id. The caller checked in its transaction that no
 * revision of it is held here. */
int dbk_trust_seal_put_new(dbk_session *s, const dbk_local_stream *st, const dbk_id *record,
                           json_t *plaintext);

/*
 * A craving's plaintext in the spool (book/spool.h): doc's compact JSON, its members in
 * their order, encrypted with XChaCha20-Poly1305 under the spool key
 * (dbk_unlock_spool_key) with ad bound to it, into *out (malloc'd, *len bytes); the
 * text is wiped. dbk_trust_spool_open: back into *doc (a new reference, an object);
 * DBK_E_DECRYPT when it does not open (a torn record, another key), DBK_E_CORRUPT
 * when it is no JSON object. The opened text is held in sodium_malloc memory. With doc
 * NULL, only whether it opens (the text wiped at once, never parsed).
 */
int dbk_trust_spool_seal(const unsigned char key[32], const unsigned char nonce[24],
                         const unsigned char *ad, size_t adlen, const json_t *doc,
                         unsigned char **out, size_t *len);
int dbk_trust_spool_open(const unsigned char key[32], const unsigned char nonce[24],
                         const unsigned char *ad, size_t adlen, const unsigned char *body,
                         size_t len, json_t **doc);

#endif
