/*
 * This account's exchanges with the server outside sync: the login challenge, the
 * account as the server holds it, the passphrase's key bundle, devices and invites
 * (enrollment is sync/enroll.h). Each function fetches or sends one thing and hands it back, or an
 * error code: a DBK_E_* the server named in its answer, DBK_E_UNAVAILABLE when it
 * named none or could not be reached. None prints, and none decides whether to
 * believe what came back: that is trust/'s (dbk_trust_login_server,
 * dbk_trust_account_bundle).
 */
#ifndef DBK_CLIENT_ACCOUNT_H
#define DBK_CLIENT_ACCOUNT_H

#include "session.h"

#include "dbk/keys.h"

#include <jansson.h>

/* What POST /v1/login/start answered, decoded but not yet believed: the KDF
 * parameters and the server's id go to dbk_trust_login_server. */
typedef struct dbk_sync_login_offer {
    dbk_kdf_params kdf;
    int kdf_alg;
    unsigned char challenge[32];
    dbk_id server_id;
} dbk_sync_login_offer;

/* POST /v1/login/start for this account and device; purpose: "login" or
 * "change_passphrase". DBK_E_BAD_JSON when a field is missing or the wrong size. */
int dbk_sync_login_start(dbk_session *s, const char *purpose, dbk_sync_login_offer *o);
/* POST /v1/login/finish with the signed challenge: *resp the answer ({token, role,
 * restore_generation}), a new reference; NULL on an error. */
int dbk_sync_login_finish(dbk_session *s, const unsigned char ch[32],
                          const unsigned char sig[64], json_t **resp);

/* GET /v1/account: this account as the server holds it ({name, counselor, bundle,
 * ed25519_pk, restore_generation, ...}), a new reference in *acct. */
int dbk_sync_account(dbk_session *s, json_t **acct);
/* The same answer's key bundle and the identity key the server lists beside it,
 * decoded (DBK_E_BAD_JSON when either is missing or the wrong size), for
 * dbk_trust_account_bundle; *acct the whole answer (new reference, NULL on error). */
int dbk_sync_account_bundle(dbk_session *s, unsigned char bundle[DBK_BUNDLE_BYTES],
                            unsigned char sign_pk[32], json_t **acct);
/* The name the server gives account (GET /v1/accounts/{id}/keys), a hint only:
 * DBK_E_NOT_FOUND when it gives none, whatever the reason; another error only when
 * the server could not be asked. */
int dbk_sync_account_name(dbk_session *s, const dbk_id *account, char *out, size_t cap);
/* PUT /v1/account/bundle: the new bundle and login key, under a challenge signed
 * with the old passphrase's login key (purpose "change_passphrase"). */
int dbk_sync_put_bundle(dbk_session *s, const unsigned char ch[32], const unsigned char sig[64],
                        const unsigned char bundle[DBK_BUNDLE_BYTES],
                        const unsigned char login_pk[32]);

/* GET /v1/devices: [{device, name, current}], a new reference (NULL when the answer
 * lists none). */
int dbk_sync_devices(dbk_session *s, json_t **devices);
/* DELETE /v1/devices/{device}: the device can no longer sync. */
int dbk_sync_device_remove(dbk_session *s, const char *device);

/* POST /v1/invites (counselors): {code, expires_at}, a new reference; any refusal is
 * DBK_E_UNAVAILABLE. */
int dbk_sync_invite(dbk_session *s, json_t **invite);

#endif
