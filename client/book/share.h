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

/* The counselor's keys from the server, checked against the fingerprint fp (the one the
 * invite carried, kept at enrollment): DBK_E_FINGERPRINT when they do not match. */
int dbk_sync_counselor_keys(dbk_session *s, const dbk_id *counselor, const char *fp,
                            unsigned char sign_pk[32], unsigned char box_pk[32]);
/*
 * The same check before enrolling, without a token: the server shows the keys of the
 * counselor whose invite CODE is pending, and uses nothing up (POST /v1/enroll/check).
 * DBK_E_GONE: the code is unknown, used or expired. DBK_E_FINGERPRINT: the keys, or the
 * account they belong to, are not the ones the link names.
 */
int dbk_sync_counselor_keys_by_code(dbk_session *s, const char *code, const dbk_id *counselor,
                                    const char *fp, unsigned char sign_pk[32],
                                    unsigned char box_pk[32]);
/* Grants the shared stream's current epoch to counselor under consent, ending at
 * expires_ms (0: none), sends the grant and keeps it as an acknowledged act. The caller
 * then keeps the consent (dbk_share_keep_consent). */
int dbk_sync_share_grant(dbk_session *s, const dbk_id *counselor, const unsigned char box_pk[32],
                         const json_t *consent, int64_t expires_ms);
/* The clinic's consent template (GET /v1/consent-template), or NULL (*tmpl) when the
 * server has none; DBK_E_UNAVAILABLE offline. */
int dbk_sync_consent_template(dbk_session *s, json_t **tmpl);
/* Where each grantee of the shared stream stands, from the server:
 * {grantee id: "active"|"revoked"|"expired"} (any active grant makes it active). New
 * reference; DBK_E_UNAVAILABLE offline. */
int dbk_sync_share_states(dbk_session *s, json_t **out);

#endif
