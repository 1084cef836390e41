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
/* Entries waiting in the outbox, stream heads (trust.h) not counted (-1 on error). */
int64_t dbk_sync_pending(dbk_session *s);

/* A stream of another account this one read until its owner revoked the grant or the
 * grant's end date passed: reported by one sync, then no longer pulled (until the
 * owner grants again). */
typedef struct dbk_sync_ended {
    dbk_id owner;
    int64_t at_ms; /* revoked_at, the end date, or when the server first refused */
    bool expired;  /* the consent's end date passed (else revoked) */
} dbk_sync_ended;

#define DBK_SYNC_ENDED_MAX 64

/*
 * What this account did to its streams' access (grants, revocations, rotations; the
 * acts of store/local.h), sent to the server in order until it acknowledged each:
 * an act the server already holds is not sent again, a revocation only while the
 * server shows a grant it covered active (so after a restore from an older backup a
 * revoked counselor loses its grant again and the stream goes back to its newest
 * epoch). See rotate.c.
 */
typedef struct dbk_sync_acts_result {
    size_t sent;      /* acknowledged now */
    size_t pending;   /* still waiting for the server */
    size_t conflicts; /* a rotation another device of this account made at the same epoch */
    int error;        /* why the first act left waiting was not taken, DBK_OK if none */
} dbk_sync_acts_result;

typedef struct dbk_sync_stats {
    size_t pushed, pulled, failed_streams;
    /* Streams asked for that the server's answers did not bring up to date: left out of
     * an answer, answered with an error (other than a reading that ended), or still with
     * more to pull when the rounds ran out. Then "last_sync" is not moved: what this
     * device holds is as of the last sync that pulled every stream, and a review built on
     * it is not current (report/review.c dbk_review_freshen). */
    size_t unpulled;
    /* The rounds ran out with more to pull (counted in unpulled too): 'daybook sync'
     * says to sync again. */
    bool cut_short;
    /* Revisions pulled that would have replaced the current revision of a record held
     * here but are not its author's (the signature does not hold under the author's key
     * as this device knows it; or, for a record the stream's owner wrote last, no key
     * is known for the author): refused, not stored, so a server cannot take away an
     * entry this device holds by serving a newer revision of it. */
    size_t forged_revisions;
    dbk_sync_ended ended[DBK_SYNC_ENDED_MAX]; /* newly ended, each told once */
    size_t nended;
    int64_t pending; /* left in the outbox */
    /* Written here into another's stream whose access ended before they were sent: no
     * server will take them, so they left the outbox (kept on this device). */
    int64_t undeliverable;
    /* What the server refused with (a DBK_E_*), DBK_OK if nothing: the error of a
     * stream's push entry, or of the whole request. Tells the server's full disk
     * (storage_full) from this device's, which fails with the same code. */
    int server_error;
    dbk_trust_report trust; /* what the server offered that this device refused */
    dbk_sync_acts_result acts; /* who may read: what was sent, what still waits */
} dbk_sync_stats;

/* The keys the server lists now for account (GET /v1/accounts/{id}/keys): a hint, for
 * trust/ to compare with its pins. */
int dbk_sync_account_keys(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32],
                          unsigned char box_pk[32]);

/* Pushes the outbox and pulls every stream until nothing more comes. */
int dbk_sync(dbk_session *s, dbk_sync_stats *st);

/*
 * Told of each revision a pull stored as its record's current one, on the session's
 * thread, inside the answer's transaction (which may yet be rolled back: nothing may
 * take it as stored), r->env valid during the call. For work a caller above can start
 * while the rounds still wait on the server: a counselor's 'daybook sync' opens what
 * came for its summaries (book/entries.h dbk_eu_opener) while the next round is on its
 * way. sync/ calls nothing above it; this is how it hands what it pulled up.
 */
typedef struct dbk_sync_hook {
    void (*pulled)(void *arg, const dbk_local_record *r);
    void *arg;
} dbk_sync_hook;
/* dbk_sync, telling hook (may be NULL) what it pulled. */
int dbk_sync_with(dbk_session *s, dbk_sync_stats *st, const dbk_sync_hook *hook);
/* The same without, at the end, the check of every stream held here against its
 * owner's signed head (trust.h, proto/TRUST.md T12): for the pull a command makes
 * before it shows what it read, when it checks the streams it shows itself (the
 * review checks its client's, dbk_trust_stream_head); st->trust counts no withheld
 * records then. */
int dbk_sync_pull_first(dbk_session *s, dbk_sync_stats *st);

/*
 * How fresh what this device holds is, per owner, not one time for the whole device:
 * *pulled_at the time (Unix s, 0 never) of the last sync the server answered, and *stale
 * (a new object) owner id text -> the time (Unix s) what this device holds of that
 * owner's streams is as of, for each owner one of whose streams that sync did not bring
 * up to date (left out, failed, refused yet listed active, more to come; the oldest time
 * it was last brought up to date) or whose reading ended here (when it ended, if
 * earlier). An owner not in *stale had every stream pulled by that sync.
 */
int dbk_sync_stale_owners(dbk_session *s, json_t **stale, int64_t *pulled_at);
/* Drops stream from this device (store/local.h dbk_local_stream_drop) with its mark
 * of not being brought up to date, in one transaction (the caller's, or its own). */
int dbk_sync_stream_drop(dbk_session *s, const dbk_id *stream);

/* The clinic's help lines as the server lists them now (GET /v1/help-lines; no token
 * needed), for trust/help_pin.h to pin or compare: *lines a new reference, or NULL
 * with an error code. */
int dbk_sync_help_lines(dbk_session *s, json_t **lines);

/*
 * The streams of others this account reads or read, as the last grants refresh left
 * them: [{owner, expires_at (Unix ms, 0 none), ended_at (0 while active), ended
 * ("revoked", "expired" or "")}]. New reference.
 */
int dbk_sync_consents(dbk_session *s, json_t **out);
/* Whether a reading of any stream ever ended here (an end recorded, even one undone
 * since): when not, no stream dbk_sync_consents lists has an ended_at, and a caller
 * that wants only those need not walk the streams (3 lookups a client). */
bool dbk_sync_ends_recorded(dbk_session *s);

int dbk_sync_acts(dbk_session *s, dbk_sync_acts_result *r);
/* How many acts wait for the server (-1 on a local error); with list, each as
 * {act: "grant"|"revoke", account, epoch, at}. */
int64_t dbk_sync_acts_pending(dbk_session *s, json_t **list);

typedef struct dbk_sync_revoke_result {
    size_t regranted, skipped; /* readers given the new key; left out for want of pins */
    uint32_t epoch;            /* the stream's epoch now */
    bool already;              /* target held no key: nothing was changed */
    dbk_sync_acts_result acts; /* what the server took of it */
} dbk_sync_revoke_result;

/*
 * Ends target's access to stream (one of this account's): the revocation and a
 * rotation to a new key granted to every reader of trust/'s dbk_trust_readers (listed:
 * the grantees the server shows active, as id texts, may be NULL; consents: id text ->
 * {consent, expires_at}, the consent each reader was given, which its new grant carries
 * unchanged, see book/share.h; a reader without one is skipped), made on this device
 * first and then sent. A
 * failure to send leaves them waiting (r->acts), to be sent by the next sync; new
 * entries are sealed under the new key either way. when: the consents' time.
 */
int dbk_sync_revoke(dbk_session *s, const dbk_id *stream, const dbk_id *target, const json_t *listed,
                    const json_t *consents, const char *when, dbk_sync_revoke_result *r);

#endif
