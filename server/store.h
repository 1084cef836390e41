/*
 * The storage interface: everything daybookd keeps goes through these calls,
 * so a second backend (PostgreSQL, per DESIGN.md) is one more file beside
 * store_sqlite.c. Calls block; the server makes them from its worker threads,
 * never from the event loop.
 */
#ifndef DBK_SERVER_STORE_H
#define DBK_SERVER_STORE_H

#include "dbk/id.h"

#include <stdint.h>

typedef struct dbk_store dbk_store;

/*
 * Opens (creating if needed, mode 0600) the store in directory dir, which must
 * exist. A new store gets a random server id and restore generation 1.
 * Returns 0, DBK_E_IO when the file cannot be opened, or DBK_E_CORRUPT.
 */
int dbk_store_open(const char *dir, dbk_store **out);
void dbk_store_close(dbk_store *st);

/* The server's identity, fixed at creation, and its restore generation. */
int dbk_store_server_info(dbk_store *st, dbk_id *server_id, int64_t *restore_generation);

#endif
