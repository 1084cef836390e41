/*
 * Sync with the server: grants first (they carry the stream keys), then the
 * outbox pushed and every stream pulled, in as few round trips as the server's
 * page limits allow. A revision is acknowledged only once the server committed it;
 * until then it stays in the outbox, so a cut sync can always be run again.
 */
#ifndef DBK_CLIENT_SYNC_H
#define DBK_CLIENT_SYNC_H

#include "session.h"

/* Fetches the grants addressed to this account (stream keys), the streams they open
 * and their owners' identity keys. */
int dbk_refresh_grants(dbk_session *s);

typedef struct dbk_sync_stats {
    size_t pushed, pulled, failed_streams;
    int64_t pending; /* left in the outbox */
    /* What the server refused with (a DBK_E_*), DBK_OK if nothing: the error of a
     * stream's push entry, or of the whole request. Tells the server's full disk
     * (storage_full) from this device's, which fails with the same code. */
    int server_error;
} dbk_sync_stats;

/* Pushes the outbox and pulls every stream until nothing more comes. */
int dbk_sync(dbk_session *s, dbk_sync_stats *st);

#endif
