/*
 * Stream heads in memory, so the daily sync of a device that has nothing new is
 * answered on the loop thread: no job for the worker, no SQLite transaction, no
 * allocation per stream (api_records.c, "nothing new"; docs/DESIGN.md, "Nothing
 * new").
 *
 * An entry says: after a committed group, this stream (owned by owner) had this
 * high seq, epoch and rotation flag. Entries are written only on the loop thread,
 * from the done callbacks of push, pull and sync jobs whose group COMMITTED; the
 * worker runs groups one after the other and the loop runs their done callbacks in
 * that order, so a later head never gives way to an earlier one, and a head is
 * never ahead of what is durable. A head that is behind (a commit whose done
 * callback has not run yet) is still a true answer: that push has not been
 * acknowledged to anyone, so answering before it is as if the pull came first.
 *
 * An entry is trusted only while the generation has not moved since it was
 * written. Every job other than a push, pull, sync or GET (grants, revocations,
 * rotations, logins, logouts, device and account changes, anything that writes)
 * moves it when it finishes, so nothing this process did to access or to an epoch
 * is missed. GET routes only read. The generation is one for all streams: a login
 * anywhere sends every stream's next sync to the worker once (a generation per
 * account would keep more heads under heavy login traffic; not done yet).
 *
 * ONE PROCESS ONLY. Enabled for the SQLite store, whose file one `daybookd serve`
 * owns (its data directory is locked), and whose heads only that process moves
 * (the admin commands that write to a live file change accounts, never records).
 * A store shared by several daybookd nodes (PostgreSQL, issue 18) leaves it
 * disabled: a head moved by another node would be answered as "nothing new" here.
 */
#ifndef DBK_SERVER_HEADS_H
#define DBK_SERVER_HEADS_H

#include "dbk/id.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct dbk_head {
    dbk_id owner;
    int64_t seq; /* the stream's high_seq */
    uint32_t epoch;
    bool rotation_pending;
} dbk_head;

/* Off until enabled; see above for when it may be. Loop thread only, like the rest. */
void dbk_heads_enable(bool on);
bool dbk_heads_enabled(void);

/* The generation now; moved by dbk_heads_invalidate. */
uint64_t dbk_heads_gen(void);
/* Forgets every head (by moving the generation). */
void dbk_heads_invalidate(void);

/* Records stream's committed head. */
void dbk_heads_put(const dbk_id *stream, const dbk_head *h);
/* True with *out when a trusted head of stream is known. */
bool dbk_heads_get(const dbk_id *stream, dbk_head *out);

#endif
