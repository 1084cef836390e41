/*
 * What the client and the counselor exchange with the server about each other: the
 * counselor's keys (believed as trust/ decides, against the fingerprint the counselor
 * gave in person), the grant of the client's shared stream under a consent and where
 * each grant stands, the clinic's consent template, the counselor's caseload and name.
 * Fetched or sent only: the consent's copy is book/'s (dbk_share_keep_consent), and
 * what is shown is the commands'.
 */
#ifndef DBK_CLIENT_SHARING_H
#define DBK_CLIENT_SHARING_H

#include "session.h"

#include <jansson.h>

/* The counselor's keys from the server, believed only if trust/ finds them the
 * counselor's and matching the fingerprint fp (the one the invite carried, kept at
 * enrollment; dbk_trust_enrolled_counselor): DBK_E_FINGERPRINT when they do not, or
 * when the answer holds no such keys. */
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

/* GET /v1/caseload: the "clients" array (new reference). */
int dbk_sync_caseload(dbk_session *s, json_t **clients);
/* The same for client alone (GET /v1/caseload?account=; the whole caseload from a
 * server older than that): the server's word, as the whole caseload is, and an array
 * the caller searches for client as it would the whole one. */
int dbk_sync_caseload_of(dbk_session *s, const dbk_id *client, json_t **clients);
/* This counselor's display name as the server holds it (GET /v1/account) into out;
 * "" and an error when it cannot be had. Informational (rule R9): what a client is
 * told goes in a link beside the fingerprint. */
int dbk_sync_my_name(dbk_session *s, char *out, size_t cap);

#endif
