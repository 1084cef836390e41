/*
 * Stream heads in memory, so the daily sync of a device that has nothing new is
 * answered on the loop thread: no job for the worker, no SQLite transaction, no
 * allocation per stream (api_records.c, "nothing new"; docs/DESIGN.md, "Nothing
 * new").
 *
 * An entry says: after a committed group, this stream (owned by owner) had this
 * high seq, epoch and rotation flag. Entries are written only on the loop thread,
 * from the done callbacks of push, pull and sync jobs whose group COMMITTED (and of
 * an enroll, for the account's new, empty streams, after it forgot the account's
 * older heads: so a device's first sync with nothing new needs no job either); the
 * worker runs groups one after the other and the loop runs their done callbacks in
 * that order, so a later head never gives way to an earlier one, and a head is
 * never ahead of what is durable. A head that is behind (a commit whose done
 * callback has not run yet) is still a true answer: that push has not been
 * acknowledged to anyone, so answering before it is as if the pull came first.
 *
 * An entry is trusted only while nothing that may change its answer has happened
 * since it was written: its stamp (dbk_heads_stamp of the stream's owner) is made
 * of a global generation and the generation of the owner's account (below), and
 * either one moving makes it untrusted. Every job other than a push, pull, sync or GET that
 * reached the worker moves one of them when it finishes: the generation of each
 * account it names as affected (dbk_api_affects: its own, and for a grant or a
 * revocation the grantee's too, whose grants_seq moved), or, for a job that names
 * none, the global one, which forgets every head. So a login, a logout or a grant
 * by one account forgets only what that account and its grantee could be answered
 * from memory, and nothing this process did to access or to an epoch is missed.
 * GET routes only read.
 *
 * What may change a "nothing new" answer for stream S of owner O, asked by O (the
 * only answer given from memory): S's head (pushes, which write it here; O's
 * rotation, which only O can do; a revocation on S, which only O can do), O's
 * tokens and devices (O's logins, logouts, revocations, passphrase change), and O's
 * grants_seq (a grant or revocation where O is the owner or the grantee). Each is
 * either a push or a job that names O.
 *
 * Account generations live in a fixed table of counters; each account has two of
 * them, picked by two groups of its id's bytes, and moving the account's generation
 * moves both. An entry keeps both as they were (with the global generation) and
 * stays trusted while either is unchanged: moving an account's generation moves
 * both, so nothing of it stays trusted, while another account that shares one of its
 * counters forgets nothing of it unless it shares the other too, so the share of
 * accounts that forget because of others' logins and grants is about the square of
 * what it was with one counter each (where 9,000 enrollments, each moving its own
 * account's, sent one in four of 10,000 accounts' syncs back to the worker;
 * enrollments move none now, api_accounts.c). Account ids are chosen by clients, so
 * one may share both counters on purpose: that costs the other account speed (its
 * syncs go to the worker), never a stale answer.
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

/* What a head of owner's streams, or a token of owner's, is trusted under: the global
 * generation plus each of owner's two counters (all only grow); a = 0 for none. */
typedef struct dbk_stamp {
    uint64_t a, b;
} dbk_stamp;
dbk_stamp dbk_heads_stamp(const dbk_id *owner);
/* Whether what was written under was stamped so for owner is still trusted: the global
 * generation has not moved, and one of owner's counters has not either. */
bool dbk_heads_stamp_holds(const dbk_id *owner, dbk_stamp was);
/* Forgets every head (by moving the global generation). */
void dbk_heads_invalidate(void);
/* Forgets the heads of account's streams and what account's tokens may answer. */
void dbk_heads_invalidate_account(const dbk_id *account);

/* Records stream's committed head. */
void dbk_heads_put(const dbk_id *stream, const dbk_head *h);
/* True with *out when a trusted head of stream is known. */
bool dbk_heads_get(const dbk_id *stream, dbk_head *out);

#endif
