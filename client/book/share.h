/*
 * Sharing the client's shared stream with a counselor under a consent: the grant
 * of the stream's current key, sealed to the counselor's X25519 key with the
 * consent inside (proto/CRYPTO.md section 5) and an end date from the consent,
 * sent to the server; and a copy of the consent kept in the client's private
 * stream (a "consent" record, the same document), so that 'daybook consent' can
 * show what was agreed on every device of the client, offline.
 */
#ifndef DBK_CLIENT_SHARE_H
#define DBK_CLIENT_SHARE_H

#include "session.h"

#include <jansson.h>

/*
 * The consents this client gave, newest per counselor, from its own copies: account id
 * text -> {consent (the document as agreed), expires_at (Unix ms, 0: no date)}. A key
 * rotation re-grants each remaining reader under exactly this (rule R10): the client
 * never signs wording it was not shown.
 */
int dbk_share_consents_given(dbk_session *s, json_t **out);
/* Keeps consent, once its grant was sent (dbk_sync_share_grant), as a "consent" record
 * in the private stream: what was agreed, on every device of the client. */
int dbk_share_keep_consent(dbk_session *s, const json_t *consent);

#endif
