/*
 * Last seen's memory, one shape for both stores (seen.c): a set-associative table of
 * the devices seen lately, each with the minute it was last seen and the last minute
 * a committed transaction wrote for it. The rules around it are each store's own:
 * SQLite notes a minute and writes it with a later commit (minute > stored while the
 * note waits), PostgreSQL writes it with the request and keeps only what committed
 * (minute == stored always); see the "Last seen" comments of store_sqlite.c and
 * store_pg.c. A store embeds its table (it chooses how many sets) and owns it; only
 * its storage thread touches it.
 */
#ifndef DBK_SERVER_STORE_SEEN_H
#define DBK_SERVER_STORE_SEEN_H

#include "dbk/id.h"

#include <stddef.h>
#include <stdint.h>

#define DBK_SEEN_WAYS 4

typedef struct dbk_seen_way {
    dbk_id device;
    int64_t minute; /* the last minute seen (Unix ms, a multiple of 60,000); 0: empty */
    int64_t stored; /* the last minute a committed transaction wrote, or found written */
} dbk_seen_way;

/* The set device belongs to in a table of nsets sets, by its id's first four bytes. */
dbk_seen_way *dbk_seen_set(dbk_seen_way (*table)[DBK_SEEN_WAYS], size_t nsets,
                           const dbk_id *device);

/*
 * The way of set holding device, or NULL. Then *spare (when spare is not NULL) gets
 * the way a new device may take: the one seen longest ago (an empty way first) among
 * those whose minute is stored, never one still waiting; NULL when every way waits.
 */
dbk_seen_way *dbk_seen_find(dbk_seen_way *set, const dbk_id *device, dbk_seen_way **spare);

#endif
