/*
 * The consents a client gave, as its own records: sharing the shared stream with a
 * counselor sends a grant of the stream's current key with the consent inside
 * (proto/CRYPTO.md section 5; sync/sharing.h, dbk_sync_share_grant), and this keeps
 * a copy of the consent in the client's private stream (a "consent" record, the same
 * document), so that 'daybook consent' can show what was agreed on every device of
 * the client, offline. Nothing here talks to the server.
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
