/*
 * What the storage thread last learnt from the store about a token and about who
 * owns a stream, kept so that a push, pull or sync does not ask again within the
 * same minute (issue 20: a one-entry sync was ten SQLite statements, four of them
 * the token check and the caller's account). The storage thread only: the checks
 * stay where they were, in the order the worker runs jobs, so a cached answer is
 * an answer the store gave earlier in that same order, with nothing in between that
 * could have changed it.
 *
 * What moves the generation (forgets everything), always on the storage thread:
 *   - any job other than a push, pull, sync or GET, when it starts: logins,
 *     logouts, device revocations, grants and their revocations, rotations,
 *     account changes (api.c, job_run). Every write to tokens, devices, accounts,
 *     grants or a stream's epoch is one of these.
 *   - any job whose savepoint was rolled back after the cache learnt something
 *     while it ran (dbk_authcache_learnt: an entry written, a head moved), or that
 *     failed in the store (a 5xx), or whose savepoint could not begin or be
 *     released, and a group whose commit failed or that could not begin
 *     (worker.c): what was cached during it may be undone. A job refused (a 4xx)
 *     having taught the cache nothing (a token not found, a push judged stale or
 *     forbidden on cached entries) undoes only writes the cache never saw, so what
 *     it holds from earlier jobs stays true.
 *   - another process's commit to the store file, seen at the start of each group
 *     (dbk_store_data_version): `daybookd counselor disable` on a live server ends
 *     the counselor's sessions by deleting its tokens from outside.
 * So a token logged out, a device revoked or an account disabled is refused by
 * the first request the worker runs after that change, as without the cache, and
 * never after its acknowledgement.
 *
 * A token entry holds the account and device of a token checked by a committed
 * push, pull or sync, and is used only in the same wall-clock minute as that check
 * (so the device's per-minute last_seen it wrote is what the check would write now;
 * the token's once-a-day expiry slide waits at most until the next minute). A
 * stream entry holds a stream's owner, kind, epoch, rotation flag and seq, and
 * answers only its owner's access check, for a push and for a pull (a grantee's
 * access has an end date and a reading window: always the store). Its seq is the
 * head the store gave with the entry, moved on by every push of the stream that
 * this thread stored (dbk_authcache_stream_seq, after the push's savepoint is
 * released): a stream's seq changes only by a push, pushes run only here, and a
 * push undone later (its job's savepoint, its group's commit) moves the generation.
 * The push takes the row from here too (dbk_push_batch.known). Should these rules ever
 * fail, a head other than the store's fails the push (its stream's seq is moved on
 * only from the head it started from, sq_push) and empties the cache, rather than
 * store a record at a seq that readers have passed: a new revision leaves its
 * record's old seq free, so the (stream, seq) key alone would not refuse it. A push
 * that stores nothing (a duplicate) has no such step: it reads the store's head and
 * answers that, and empties the cache when it was not the cached one.
 *
 * ONE PROCESS, ONE STORAGE THREAD: enabled for SQLite only. On PostgreSQL several
 * nodes write the same database and several threads run jobs; it stays off and
 * every function is a no-op there. It was weighed (2026-12) and left off because no
 * cheap invalidation rule is correct there: the rule above needs every change to
 * tokens, devices, accounts, grants and epochs to be seen before the next job that
 * could use an entry, and on PostgreSQL another node makes those changes.
 *   - A version counter in the database, bumped by each such write and read at the
 *     start of each group as data_version is on SQLite, is not enough: SQLite's group
 *     holds the file's write lock, so nobody commits while it runs, but another node
 *     commits at any time, and a revocation acknowledged while a group ran would not
 *     be seen by that group's later jobs. Read before each job, it is a round trip
 *     per job (about what it saves: the token check, its account and the rows of
 *     the request's streams are one round trip on PostgreSQL, see
 *     pg_token_check), and it makes one row every such write on every node waits
 *     for.
 *   - LISTEN/NOTIFY arrives when the listening connection reads it, not when the
 *     revoking node's COMMIT returns, so it leaves a window after the
 *     acknowledgement.
 *   - Several storage threads would also need one cache each, or a lock; and a job
 *     of another kind on one thread would not invalidate another thread's cache.
 * What PostgreSQL saves instead is per connection and needs no invalidation:
 * pg_token_check sends the expiry slide only when the row it read is due, and the
 * last-seen write once a minute per device (last_seen only moves forward).
 */
#ifndef DBK_SERVER_AUTHCACHE_H
#define DBK_SERVER_AUTHCACHE_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

/* Before the worker starts (main.c), never after. */
void dbk_authcache_enable(bool on);
bool dbk_authcache_enabled(void);

/* Forgets every entry (above for when). Storage thread; no-op when off. */
void dbk_authcache_invalidate(void);
/* The store's data_version at the start of a group: forgets every entry when it moved
 * since the last group, or when the store could not say (rc != DBK_OK). */
void dbk_authcache_data_version(int rc, int64_t version);
/* How many times the check above found the store changed from outside (or could not
 * say), counting the first group; storage thread. A job reads it when it runs, and
 * the loop's "nothing new" answers trust a token checked under a count only while no
 * later job has brought a larger one back (api.c, dbk_api_fast_auth). */
uint64_t dbk_authcache_outside(void);

/* A token checked at `now` by the store for a push, pull or sync: its account (as
 * read then) and device. */
void dbk_authcache_token_put(const unsigned char hash[32], int64_t now, const dbk_account *me,
                             const dbk_id *device);
/* True with the account and device when hash was checked in the same minute as now
 * and nothing since moved the generation. */
bool dbk_authcache_token_get(const unsigned char hash[32], int64_t now, dbk_account *me,
                             dbk_id *device);

/* How many entries were written or moved so far (token_put, stream_put, stream_seq);
 * only grows. The storage thread compares it around a job (worker.c). */
uint64_t dbk_authcache_learnt(void);

/* A stream as the store gave it in the running transaction, its seq included. */
void dbk_authcache_stream_put(const dbk_stream *s);
/* A push of stream stored and released up to seq (its high_seq): the entry's head. */
void dbk_authcache_stream_seq(const dbk_id *stream, int64_t seq);
/* True with *out, its seq the stream's head, when stream is known and owned by
 * account. */
bool dbk_authcache_owned(const dbk_id *account, const dbk_id *stream, dbk_stream *out);

#endif
