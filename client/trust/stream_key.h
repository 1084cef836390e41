/*
 * The symmetric key of a stream at an epoch, from the grant this account holds.
 */
#ifndef DBK_CLIENT_STREAM_KEY_H
#define DBK_CLIENT_STREAM_KEY_H

#include "session.h"

/* The stream key for (stream, epoch) from the grants this account holds. Opened
 * once per session and kept in locked memory that is wiped on close; the keys of the
 * account's own streams are also kept across commands beside the unlocked keys
 * (dbk_unlock_keep_stream_key, unlock.h). */
int dbk_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                           unsigned char key[32]);
/* The same for the stream row st its caller has just read from this profile (its
 * owner says whose grant it is), without reading the row again. */
int dbk_stream_key_of(dbk_session *s, const dbk_local_stream *st, uint32_t epoch,
                      unsigned char key[32]);

/* The consent document sealed in the grant of (stream, epoch) this account holds,
 * after the same checks as dbk_stream_key (new reference). */
int dbk_stream_consent(dbk_session *s, const dbk_id *stream, uint32_t epoch, json_t **consent);

#endif
