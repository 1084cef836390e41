/*
 * Sync with the server: grants first (they carry the stream keys), then the
 * outbox pushed and every stream pulled, in as few round trips as the server's
 * page limits allow. A revision is acknowledged only once the server committed it;
 * until then it stays in the outbox, so a cut sync can always be run again.
 */
#ifndef DBK_CLIENT_SYNC_H
#define DBK_CLIENT_SYNC_H

#include "session.h"
#include "trust.h"

/* Fetches the grants addressed to this account (stream keys), the streams they open
 * and their owners' identity keys, and hands each to trust/ to keep or refuse; what
 * it refused, and where the server's listing of streams disagrees with what this
 * device knows, is counted in *r (may be NULL). */
int dbk_refresh_grants(dbk_session *s, dbk_trust_report *r);

/* A stream of another account this one read until its owner revoked the grant or the
 * grant's end date passed: reported by one sync, then no longer pulled (until the
 * owner grants again). */
typedef struct dbk_sync_ended {
    dbk_id owner;
    int64_t at_ms; /* revoked_at, the end date, or when the server first refused */
    bool expired;  /* the consent's end date passed (else revoked) */
} dbk_sync_ended;

#define DBK_SYNC_ENDED_MAX 64

typedef struct dbk_sync_stats {
    size_t pushed, pulled, failed_streams;
    dbk_sync_ended ended[DBK_SYNC_ENDED_MAX]; /* newly ended, each told once */
    size_t nended;
    int64_t pending; /* left in the outbox */
    /* What the server refused with (a DBK_E_*), DBK_OK if nothing: the error of a
     * stream's push entry, or of the whole request. Tells the server's full disk
     * (storage_full) from this device's, which fails with the same code. */
    int server_error;
    dbk_trust_report trust; /* what the server offered that this device refused */
} dbk_sync_stats;

/* The keys the server lists now for account (GET /v1/accounts/{id}/keys): a hint, for
 * trust/ to compare with its pins. */
int dbk_sync_account_keys(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32],
                          unsigned char box_pk[32]);

/* Pushes the outbox and pulls every stream until nothing more comes. */
int dbk_sync(dbk_session *s, dbk_sync_stats *st);

/*
 * The streams of others this account reads or read, as the last grants refresh left
 * them: [{owner, expires_at (Unix ms, 0 none), ended_at (0 while active), ended
 * ("revoked", "expired" or "")}]. New reference.
 */
int dbk_sync_consents(dbk_session *s, json_t **out);

#endif
