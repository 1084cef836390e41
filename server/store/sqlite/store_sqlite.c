/*
 * The embedded default backend: one SQLite file, daybook.db, in WAL mode with
 * synchronous=FULL, so a commit that returned is on disk; daybookd serve moves that
 * sync out of the commit (dbk_store_defer_sync, below) and syncs before it answers.
 * Used only from the storage worker thread (and by admin commands before/without a
 * loop), apart from the checkpoint thread and dbk_store_sync (see below).
 *
 * Statements are prepared once and kept (SQLITE_PREPARE_PERSISTENT), indexed by
 * the Q_* enum; sql_of[] holds their text. The schema is store/schema.c's, the
 * push and pull rules store/rules.c's; this file is their SQLite I/O. Its functions
 * are the operations of store/backend.h with the prefix sq_.
 *
 * A full disk: SQLite answers SQLITE_FULL (DBK_E_STORAGE_FULL) and, for some
 * errors (SQLITE_FULL outside a statement journal, SQLITE_IOERR), rolls the whole
 * transaction back on its own. The savepoint and commit calls below notice that,
 * so no job of a group commit runs or is acknowledged outside the group's
 * transaction. The reserve file (dbk_store_reserve) gives reads room meanwhile.
 *
 * Last seen: a device's last_seen is the minute (Unix ms, a multiple of 60,000) in
 * which it last authenticated a request. The token check does not write it: it
 * notes the minute in a small table (st->seen, store/seen.h) and the row is written by a
 * later commit: the next one whose transaction writes anyway, or any one once a note
 * is a minute old or enough are waiting, or the close. A pull that finds nothing to
 * write then commits without an fsync, where each first pull of a minute used to
 * write a row and sync. Reads of last_seen through this handle (devices_of,
 * last_seen) write the waiting notes first, so what the API answers is exact to the
 * minute; a process that dies without closing loses at most the notes of its last
 * minute or so of requests (never anything but last_seen).
 *
 * Checkpoints (daybookd serve, dbk_store_checkpoints): SQLite's autocheckpoint
 * would copy the write-ahead log into daybook.db on the storage thread, inside the
 * commit that crossed 1,000 pages: reading the log back, writing the file and two
 * fsyncs, while every request of the next group waits. Instead a thread of this
 * store, on a connection of its own, runs PASSIVE checkpoints beside the commits
 * (struct ckpt below). A passive checkpoint never blocks the writer, but under a
 * steady stream of commits it rarely finds the log fully copied, and the log starts
 * over only then; so when the log reaches its bound, the storage thread copies the
 * rest itself and syncs daybook.db, every request waiting. That is kept short: the
 * thread runs again whenever it is idle near the bound, so little is left; it starts
 * daybook.db's writeback after each run, so that sync finds little to write; and a
 * run still going at the bound is not waited for (the log passes the bound by a
 * margin at most). Durability is SQLite's: a commit is in the log and synced before
 * it is acknowledged (by the commit under FULL, or by dbk_store_sync), a checkpoint
 * syncs the log before it copies and daybook.db before the log may start over (under
 * FULL and NORMAL alike), and a process killed mid-checkpoint replays the log at the
 * next open.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "../backend.h"
#include "../schema.h"
#include "../seen.h"
#include "pcache.h"
#include "walbuf.h"

#include "dbk/bytes.h"
#include "dbk/error.h"
#include "dbk/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

typedef struct sq_store sq_store;
#define DBK_BACKEND_TYPE sq_store
#define DBK_BACKEND_PREFIXED(name) sq_##name
DBK_BACKEND_DECLARE()

#define STORE_FILE "daybook.db"
#define RESERVE_FILE "daybook.reserve"

enum q {
    Q_META_GET,
    Q_META_PUT,
    Q_META_SET,
    Q_ACCOUNT_INSERT,
    Q_ACCOUNT_GET,
    Q_ACCOUNT_BUMP_GRANTS,
    Q_ACCOUNT_SET_BUNDLE,
    Q_ACCOUNT_ADD_BYTES,
    Q_ACCOUNT_USED,
    Q_ACCOUNT_ADD_WITHIN,
    Q_CLIENTS_OF,
    Q_COUNSELORS,
    Q_DISABLED_GET,
    Q_DISABLED_PUT,
    Q_DISABLED_DELETE,
    Q_TOKENS_OF_ACCOUNT_DELETE,
    Q_INVITE_INSERT,
    Q_INVITE_BY_HASH,
    Q_INVITE_MARK_USED,
    Q_INVITES_OF,
    Q_INVITES_PENDING,
    Q_INVITE_DELETE,
    Q_DEVICE_INSERT,
    Q_DEVICES_OF,
    Q_DEVICE_DELETE,
    Q_DEVICE_LAST_SEEN,
    Q_TOKENS_OF_DEVICE_DELETE,
    Q_TOKEN_INSERT,
    Q_TOKEN_GET,
    Q_TOKEN_DELETE,
    Q_TOKEN_EXTEND,
    Q_TOKENS_REVOKE_OTHERS,
    Q_DEVICE_TOUCH,
    Q_CHALLENGE_INSERT,
    Q_CHALLENGE_GET,
    Q_CHALLENGE_DELETE,
    Q_CHALLENGE_PURGE,
    Q_STREAM_INSERT,
    Q_STREAM_GET,
    Q_STREAMS_OWNED,
    Q_STREAMS_GRANTED,
    Q_STREAM_SET_SEQ,
    Q_STREAM_RAISE_EPOCH,
    Q_GRANT_INSERT,
    Q_GRANT_GET,
    Q_GRANT_KEEP_REVOKED,
    Q_GRANT_ANY,
    Q_GRANT_HELD,
    Q_EPOCH_CLOSED_AT,
    Q_EPOCH_CLOSE,
    Q_STREAM_SET_ROTATION,
    Q_GRANTS_OF_STREAM,
    Q_GRANTS_TO,
    Q_GRANT_REVOKE,
    Q_GRANT_LIVE,
    Q_GRANT_EXPIRED,
    Q_RECORD_GET,
    Q_RECORD_UPSERT,
    Q_RECORD_INSERT,
    Q_RECORDS_SINCE,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_OF_OWNER,
    Q_AUDIT_ALL,
    Q_DATA_VERSION,
    Q_BEGIN,
    Q_COMMIT,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q__COUNT
};

static const char *const sql_of[Q__COUNT] = {
    [Q_DATA_VERSION] = "PRAGMA data_version",
    /* The group's transaction and each job's savepoint, prepared once like the rest:
     * sqlite3_exec parsed and compiled them again for every job, about 10% of the
     * storage thread's instructions in an incremental sync (tests/bench). */
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_SAVEPOINT] = "SAVEPOINT job",
    [Q_RELEASE] = "RELEASE job",
    [Q_ROLLBACK_TO] = "ROLLBACK TO job",
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_PUT] = "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)",
    [Q_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [Q_ACCOUNT_INSERT] =
        "INSERT INTO accounts(id, role, name, sign_pk, box_pk, login_pk, bundle,"
        " generation, counselor, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    [Q_ACCOUNT_GET] = "SELECT id, role, name, sign_pk, box_pk, login_pk, bundle, generation,"
                      " counselor, created_at, used_bytes, grants_seq FROM accounts WHERE id = ?1",
    [Q_ACCOUNT_BUMP_GRANTS] = "UPDATE accounts SET grants_seq = grants_seq + 1 WHERE id = ?1",
    [Q_ACCOUNT_SET_BUNDLE] = "UPDATE accounts SET bundle = ?2, login_pk = ?3, generation = ?4"
                             " WHERE id = ?1",
    [Q_ACCOUNT_ADD_BYTES] = "UPDATE accounts SET used_bytes = used_bytes + ?2 WHERE id = ?1",
    [Q_ACCOUNT_USED] = "SELECT used_bytes FROM accounts WHERE id = ?1",
    /* ?3 - ?2: the quota less the checked charge, both positive, so it cannot overflow;
     * ?4: the checked charge and bytes charged beside it unchecked (a read row). */
    [Q_ACCOUNT_ADD_WITHIN] = "UPDATE accounts SET used_bytes = used_bytes + ?4"
                             " WHERE id = ?1 AND used_bytes <= ?3 - ?2",
    [Q_CLIENTS_OF] = "SELECT id, role, name, sign_pk, box_pk, login_pk, bundle, generation,"
                     " counselor, created_at, used_bytes, grants_seq FROM accounts"
                     " WHERE counselor = ?1 OR id IN (SELECT s.owner FROM grants g JOIN streams s"
                     " ON s.id = g.stream WHERE g.grantee = ?1 AND s.owner <> ?1)"
                     " ORDER BY created_at",
    [Q_COUNSELORS] = "SELECT id, role, name, sign_pk, box_pk, login_pk, bundle, generation,"
                     " counselor, created_at, used_bytes, grants_seq FROM accounts"
                     " WHERE role = 2 ORDER BY created_at",
    [Q_DISABLED_GET] = "SELECT disabled_at FROM disabled_accounts WHERE account = ?1",
    [Q_DISABLED_PUT] =
        "INSERT OR IGNORE INTO disabled_accounts(account, disabled_at) VALUES (?1, ?2)",
    [Q_DISABLED_DELETE] = "DELETE FROM disabled_accounts WHERE account = ?1",
    [Q_TOKENS_OF_ACCOUNT_DELETE] = "DELETE FROM tokens WHERE account = ?1",
    [Q_INVITE_INSERT] = "INSERT INTO invites(id, kind, secret_hash, counselor, name, created_at,"
                        " expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    [Q_INVITE_BY_HASH] = "SELECT id, kind, secret_hash, counselor, name, created_at, expires_at,"
                         " used_at FROM invites WHERE secret_hash = ?1",
    [Q_INVITE_MARK_USED] = "UPDATE invites SET used_at = ?2 WHERE id = ?1",
    [Q_INVITES_OF] = "SELECT id, kind, secret_hash, counselor, name, created_at, expires_at,"
                     " used_at FROM invites WHERE counselor = ?1 ORDER BY created_at",
    /* "used_at = 0" as written: the partial index invites_pending (schema.c). */
    [Q_INVITES_PENDING] = "SELECT id, kind, secret_hash, counselor, name, created_at, expires_at,"
                          " used_at FROM invites WHERE counselor = ?1 AND used_at = 0"
                          " AND expires_at > ?2 ORDER BY expires_at",
    [Q_INVITE_DELETE] = "DELETE FROM invites WHERE id = ?1 AND counselor = ?2",
    [Q_DEVICE_INSERT] = "INSERT INTO devices(id, account, name, created_at, last_seen)"
                        " VALUES (?1,?2,?3,?4,?4)",
    [Q_DEVICES_OF] = "SELECT id, account, name, created_at, last_seen FROM devices"
                     " WHERE account = ?1 ORDER BY created_at",
    [Q_DEVICE_LAST_SEEN] = "SELECT coalesce(max(last_seen), 0) FROM devices WHERE account = ?1",
    [Q_DEVICE_DELETE] = "DELETE FROM devices WHERE id = ?1 AND account = ?2",
    [Q_TOKENS_OF_DEVICE_DELETE] = "DELETE FROM tokens WHERE device = ?1",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens(hash, account, device, expires_at) VALUES (?1,?2,?3,?4)",
    [Q_TOKEN_GET] = "SELECT account, device, expires_at FROM tokens WHERE hash = ?1",
    [Q_TOKEN_DELETE] = "DELETE FROM tokens WHERE hash = ?1",
    [Q_TOKEN_EXTEND] = "UPDATE tokens SET expires_at = ?2 WHERE hash = ?1 AND expires_at < ?3",
    [Q_TOKENS_REVOKE_OTHERS] = "DELETE FROM tokens WHERE account = ?1 AND device <> ?2",
    [Q_DEVICE_TOUCH] = "UPDATE devices SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2",
    [Q_CHALLENGE_INSERT] = "INSERT INTO challenges(challenge, account, device, purpose,"
                           " expires_at) VALUES (?1,?2,?3,?4,?5)",
    [Q_CHALLENGE_GET] = "SELECT account, device, purpose, expires_at FROM challenges"
                        " WHERE challenge = ?1",
    [Q_CHALLENGE_DELETE] = "DELETE FROM challenges WHERE challenge = ?1",
    [Q_CHALLENGE_PURGE] = "DELETE FROM challenges WHERE expires_at < ?1",
    [Q_STREAM_INSERT] = "INSERT INTO streams(id, owner, kind, epoch) VALUES (?1,?2,?3,?4)",
    [Q_STREAM_GET] = "SELECT id, owner, kind, epoch, seq, rotation_pending FROM streams"
                     " WHERE id = ?1",
    [Q_STREAMS_OWNED] = "SELECT id, owner, kind, epoch, seq, rotation_pending FROM streams"
                        " WHERE owner = ?1 ORDER BY kind",
    [Q_STREAMS_GRANTED] = "SELECT DISTINCT s.id, s.owner, s.kind, s.epoch, s.seq,"
                          " s.rotation_pending FROM streams s JOIN grants g ON g.stream = s.id"
                          " WHERE g.grantee = ?1 AND g.revoked_at = 0 AND s.owner <> ?1"
                          " AND (g.expires_at = 0 OR g.expires_at > ?2) ORDER BY s.owner",
    /* Only from the head the push started from (sq_push): see authcache.h. */
    [Q_STREAM_SET_SEQ] = "UPDATE streams SET seq = ?2 WHERE id = ?1 AND seq = ?3",
    [Q_STREAM_RAISE_EPOCH] = "UPDATE streams SET epoch = ?2, rotation_pending = 0"
                             " WHERE id = ?1 AND epoch + 1 = ?2",
    [Q_GRANT_INSERT] = "INSERT OR REPLACE INTO grants(stream, grantee, epoch, grant_bytes,"
                       " created_at, expires_at) VALUES (?1,?2,?3,?4,?5,?6)",
    [Q_GRANT_KEEP_REVOKED] = "INSERT INTO grant_history SELECT stream, grantee, epoch,"
                             " grant_bytes, created_at, expires_at, revoked_at, closed_at"
                             " FROM grants WHERE stream = ?1 AND grantee = ?2 AND epoch = ?3"
                             " AND revoked_at <> 0",
    [Q_GRANT_GET] = "SELECT grant_bytes FROM grants WHERE stream = ?1 AND grantee = ?2"
                    " AND epoch = ?3",
    [Q_GRANT_HELD] = "SELECT 1 FROM grants WHERE stream = ?1 AND grantee = ?2 AND epoch = ?3",
    [Q_EPOCH_CLOSED_AT] = "SELECT g.closed_at FROM grants g JOIN streams s ON s.id = g.stream"
                          " WHERE g.stream = ?1 AND g.grantee = s.owner AND g.epoch = ?2",
    [Q_EPOCH_CLOSE] = "UPDATE grants SET closed_at = ?3 WHERE stream = ?1 AND epoch = ?2"
                      " AND grantee = (SELECT owner FROM streams WHERE id = ?1) AND closed_at = 0",
    [Q_GRANT_ANY] = "SELECT 1 FROM grants WHERE stream = ?1 AND grantee = ?2 LIMIT 1",
    [Q_STREAM_SET_ROTATION] = "UPDATE streams SET rotation_pending = 1 WHERE id = ?1",
    [Q_GRANTS_OF_STREAM] = "SELECT stream, grantee, epoch, grant_bytes, created_at, expires_at,"
                           " revoked_at FROM grants WHERE stream = ?1 UNION ALL"
                           " SELECT stream, grantee, epoch, grant_bytes, created_at, expires_at,"
                           " revoked_at FROM grant_history WHERE stream = ?1"
                           " ORDER BY 3, 2, 5",
    [Q_GRANTS_TO] = "SELECT stream, grantee, epoch, grant_bytes, created_at, expires_at,"
                    " revoked_at FROM grants WHERE grantee = ?1 ORDER BY stream, epoch",
    [Q_GRANT_REVOKE] = "UPDATE grants SET revoked_at = ?3 WHERE stream = ?1 AND grantee = ?2"
                       " AND revoked_at = 0",
    [Q_GRANT_LIVE] = "SELECT max(g.epoch) FROM grants g WHERE g.stream = ?1 AND g.grantee = ?2"
                     " AND g.revoked_at = 0 AND (g.expires_at = 0 OR g.expires_at > ?3)",
    [Q_GRANT_EXPIRED] = "SELECT 1 FROM grants WHERE stream = ?1 AND grantee = ?2"
                        " AND revoked_at = 0 AND expires_at <> 0 AND expires_at <= ?3 LIMIT 1",
    [Q_RECORD_GET] = "SELECT seq, clock, device, envelope, creator FROM records"
                     " WHERE stream = ?1 AND record = ?2",
    /* A revision moves its record to the new seq. ON CONFLICT names (stream, record)
     * alone: a seq already given (only from a stale head: sq_push's next is one past
     * the head it started from) fails the push (push_write, head_moved) instead of
     * replacing the record that holds it. */
    [Q_RECORD_UPSERT] = "INSERT INTO records(stream, record, seq, clock, device, epoch,"
                        " creator, envelope) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
                        " ON CONFLICT (stream, record) DO UPDATE SET seq = excluded.seq,"
                        " clock = excluded.clock, device = excluded.device,"
                        " epoch = excluded.epoch, creator = excluded.creator,"
                        " envelope = excluded.envelope",
    /* A record the stream does not hold yet, stored without reading first (sq_push);
     * nothing changes when it holds one. A seq already given fails, as above. */
    [Q_RECORD_INSERT] = "INSERT INTO records(stream, record, seq, clock, device, epoch,"
                        " creator, envelope) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
                        " ON CONFLICT (stream, record) DO NOTHING",
    [Q_RECORDS_SINCE] = "SELECT seq, envelope FROM records WHERE stream = ?1 AND seq > ?2"
                        " AND (?4 OR epoch IN (SELECT epoch FROM grants WHERE stream = ?1"
                        "   AND grantee = ?5 AND revoked_at = 0"
                        "   AND (expires_at = 0 OR expires_at > ?6)))"
                        " ORDER BY seq LIMIT ?3",
    [Q_AUDIT_LAST] = "SELECT idx, hash FROM audit ORDER BY idx DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit(idx, at, action, actor_role, actor, device, stream,"
                       " owner, grantee, epoch, count, seq_from, seq_to, prev, hash)"
                       " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [Q_AUDIT_OF_OWNER] = "SELECT idx, at, action, actor_role, actor, device, stream, owner,"
                         " grantee, epoch, count, seq_from, seq_to, prev, hash FROM audit"
                         " WHERE owner = ?1 AND idx > ?2 ORDER BY idx LIMIT ?3",
    [Q_AUDIT_ALL] = "SELECT idx, at, action, actor_role, actor, device, stream, owner,"
                    " grantee, epoch, count, seq_from, seq_to, prev, hash FROM audit"
                    " ORDER BY idx",
};

/* Last seen (see the top): devices remembered, notes waiting at most, and when a
 * transaction that writes nothing else writes them anyway. */
#define SEEN_SETS 2048
#define SEEN_DIRTY_MAX 1024
#define SEEN_FLUSH_COUNT 256
#define SEEN_FLUSH_MS 60000

struct sq_store {
    dbk_store base; /* first: the operation table (store/backend.h) */
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    int sp_depth;
    char dir[4096];        /* where daybook.db is */
    int last_err;          /* the last error of this transaction (map_rc), or DBK_OK */
    bool in_tx;            /* between dbk_store_tx_begin and its commit or rollback */
    /* The audit chain's head as this transaction's last audit row left it, so the next
     * row of the group chains on without reading it back (sq_audit_append). Forgotten
     * when a transaction begins (another process may have written), ends, or rolls a
     * job back, and when a row fails. */
    bool audit_known;
    int64_t audit_last;
    unsigned char audit_hash[DBK_HASH_BYTES];
    int64_t reserve_bytes; /* 0: no reserve kept (admin commands) */
    atomic_bool full;      /* the reserve is used up: new records are refused */
    char file[4096];       /* the file opened, and its identity then (ping) */
    dev_t file_dev;
    ino_t file_ino;
    bool file_gone;        /* ping found it moved or unreadable (logged once) */
    /* Last seen (see the top): the devices seen lately (store/seen.h); a way whose
     * minute > stored is a note waiting in dirty[]. The notes not yet committed, and
     * since when. */
    dbk_seen_way seen[SEEN_SETS][DBK_SEEN_WAYS];
    dbk_seen_way *dirty[SEEN_DIRTY_MAX];
    size_t ndirty;
    int64_t dirty_since;     /* Unix ms of the oldest waiting note */
    int64_t changes_at_begin; /* sqlite3_total_changes64 when the transaction began */
    struct ckpt *ckpt;        /* the checkpoint thread, once started (see the top) */
    /* Deferred syncs (dbk_store_defer_sync): the log opened once more, to sync it from
     * the syncing thread; commits that wrote frames, counted by ckpt_hook; how many
     * of them the last sync covered (the syncing thread's). */
    int wal_fd;
    atomic_uint_fast64_t written;
    uint64_t synced;
    /* daybook.db opened once more, for the checkpoint thread's early writeback, or -1.
     * Closed only after SQLite's connections: closing any descriptor of a file drops
     * the process's POSIX locks on it, SQLite's included. */
    int db_fd;
};

static void reserve_release(sq_store *st);

/* ---- plumbing ---- */

static int
map_err(sq_store *st, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return DBK_OK;
    case SQLITE_FULL:
        reserve_release(st);
        return DBK_E_STORAGE_FULL;
    case SQLITE_CONSTRAINT: return DBK_E_CONFLICT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return DBK_E_CORRUPT;
    case SQLITE_NOMEM: return DBK_E_NOMEM;
    default:
        DBK_LOG(DBK_LOG_ERROR, "store_error", DBK_INT("sqlite_rc", rc),
                DBK_STR("sqlite", sqlite3_errmsg(st->db)));
        return DBK_E_UNAVAILABLE;
    }
}

static int
map_rc(sq_store *st, int rc)
{
    int err = map_err(st, rc);
    if (err != DBK_OK)
        st->last_err = err;
    return err;
}

static sqlite3_stmt *
q(sq_store *st, enum q id)
{
    if (st->q[id] == NULL &&
        sqlite3_prepare_v3(st->db, sql_of[id], -1, SQLITE_PREPARE_PERSISTENT, &st->q[id], NULL) !=
            SQLITE_OK) {
        DBK_LOG(DBK_LOG_ERROR, "store_prepare_failed", DBK_INT("query", id),
                DBK_STR("sqlite", sqlite3_errmsg(st->db)));
        return NULL;
    }
    sqlite3_reset(st->q[id]);
    sqlite3_clear_bindings(st->q[id]);
    return st->q[id];
}

static void
bind_id(sqlite3_stmt *s, int i, const dbk_id *id)
{
    sqlite3_bind_blob(s, i, id->b, DBK_ID_BYTES, SQLITE_STATIC);
}

/* A zero id is stored as NULL (no counselor). */
static void
bind_id_or_null(sqlite3_stmt *s, int i, const dbk_id *id)
{
    if (dbk_id_is_zero(id))
        sqlite3_bind_null(s, i);
    else
        bind_id(s, i, id);
}

static void
col_fixed(sqlite3_stmt *s, int i, unsigned char *out, size_t n)
{
    if ((size_t)sqlite3_column_bytes(s, i) == n)
        memcpy(out, sqlite3_column_blob(s, i), n);
    else
        memset(out, 0, n);
}

static void
col_id(sqlite3_stmt *s, int i, dbk_id *id)
{
    col_fixed(s, i, id->b, DBK_ID_BYTES);
}

static void
col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* Steps a statement that returns no rows. */
static int tx_open(sq_store *st);

/* Steps a write. Inside a transaction SQLite has already rolled back by itself, it
 * is not run: on its own it would commit outside the group. */
static int
run(sq_store *st, sqlite3_stmt *s)
{
    if (st->in_tx && tx_open(st) != DBK_OK)
        return tx_open(st);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? DBK_OK : map_rc(st, rc);
}

/* Steps s for its single row: DBK_OK (row ready), DBK_E_NOT_FOUND or an error. */
static int
one(sq_store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return DBK_OK;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? DBK_E_NOT_FOUND : map_rc(st, rc);
}

static int
exec(sq_store *st, const char *sql)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DBK_OK : map_rc(st, rc);
}

#define PREP(var, id)                                                                              \
    sqlite3_stmt *var = q(st, id);                                                                 \
    if (var == NULL)                                                                               \
    return DBK_E_UNAVAILABLE

/* One of the prepared statements that return no row (BEGIN, COMMIT, the savepoints). */
static int
exec_q(sq_store *st, enum q id)
{
    PREP(s, id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? DBK_OK : map_rc(st, rc);
}

/* ---- last seen (see the top) ---- */

static int64_t
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
seen_write(sq_store *st, const dbk_id *device, int64_t minute)
{
    PREP(t, Q_DEVICE_TOUCH);
    bind_id(t, 1, device);
    sqlite3_bind_int64(t, 2, minute);
    return run(st, t);
}

/* Notes that device authenticated a request at now (Unix ms). Writes its row at once,
 * as before, only when no room is left to note it. */
static int
seen_note(sq_store *st, const dbk_id *device, int64_t now)
{
    int64_t minute = now / 60000 * 60000;
    dbk_seen_way *spare = NULL,
                 *e = dbk_seen_find(dbk_seen_set(st->seen, SEEN_SETS, device), device, &spare);

    if (e != NULL && e->minute >= minute)
        return DBK_OK; /* this minute is written or waiting already */
    if (e == NULL) {
        if (spare == NULL)
            return seen_write(st, device, minute); /* the four ways all wait */
        e = spare;
        e->device = *device;
        e->minute = e->stored = 0;
    }
    if (e->minute <= e->stored) {
        if (st->ndirty == SEEN_DIRTY_MAX)
            return seen_write(st, device, minute);
        if (st->ndirty == 0)
            st->dirty_since = now;
        st->dirty[st->ndirty++] = e;
    }
    e->minute = minute;
    return DBK_OK;
}

/* Writes every waiting note into the open transaction. They wait on until a commit
 * of it returns (seen_committed): a job's savepoint or the group may still roll back. */
static int
seen_write_all(sq_store *st)
{
    int rc = DBK_OK;
    for (size_t i = 0; i < st->ndirty && rc == DBK_OK; i++)
        rc = seen_write(st, &st->dirty[i]->device, st->dirty[i]->minute);
    return rc;
}

static void
seen_committed(sq_store *st)
{
    for (size_t i = 0; i < st->ndirty; i++)
        st->dirty[i]->stored = st->dirty[i]->minute;
    st->ndirty = 0;
}

/* ---- open, transactions ---- */

static int
meta_get(sq_store *st, const char *key, void *out, size_t len)
{
    PREP(s, Q_META_GET);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = one(st, s);
    if (rc == DBK_OK) {
        rc = (size_t)sqlite3_column_bytes(s, 0) == len ? DBK_OK : DBK_E_CORRUPT;
        if (rc == DBK_OK)
            memcpy(out, sqlite3_column_blob(s, 0), len);
        sqlite3_reset(s);
    }
    return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
}

static int
meta_put(sq_store *st, enum q which, const char *key, const void *val, size_t len)
{
    PREP(s, which);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, val, (int)len, SQLITE_STATIC);
    return run(st, s);
}

static int
schema_exec(void *ctx, const char *sql)
{
    return exec(ctx, sql);
}

static int
schema_meta_add(void *ctx, const char *key, const void *val, size_t len)
{
    return meta_put(ctx, Q_META_PUT, key, val, len);
}

static int
schema_meta_get(void *ctx, const char *key, void *val, size_t len)
{
    return meta_get(ctx, key, val, len);
}

static int
schema_meta_set(void *ctx, const char *key, const void *val, size_t len)
{
    return meta_put(ctx, Q_META_SET, key, val, len);
}

static int
init_schema(sq_store *st)
{
    const dbk_schema_io io = {st, schema_exec, schema_meta_add, schema_meta_get,
                              schema_meta_set};
    int rc;

    if ((rc = exec(st, "BEGIN IMMEDIATE")) != DBK_OK)
        return rc;
    if ((rc = dbk_schema_apply(&io, DBK_DIALECT_SQLITE)) == DBK_OK)
        rc = exec(st, "COMMIT");
    if (rc != DBK_OK)
        exec(st, "ROLLBACK");
    return rc;
}

/*
 * The page cache of each connection, in KiB (PRAGMA cache_size=-N): a bound, filled
 * only as pages are read. SQLite's default, 2 MiB (500 pages), is smaller than
 * what 65 syncing clients touch: a record's id goes into its stream's part of
 * records_record at a place set by the random id, so each stream's leaves of that
 * index, of records and of audit_owner, and the trees above them are the working set
 * (about 1,800 pages, 7 MiB, in 2 s of tests/bench's sync phase). With the default
 * every incremental sync re-read about nine pages from daybook.db with pread. It
 * costs RSS up to the bound once the file is larger, never more: 8 MiB holds that
 * working set and keeps daybookd under the 32 MiB the README's RSS target allows
 * after tests/bench's push and pull (about 30 MiB; 40 with 16 MiB, which synced
 * 1.16x as many a second in two alternating pairs of bench_load).
 */
#define CACHE_KIB_TEXT "8192"

/*
 * The statement journal of each job's savepoint (the pages it changed, as they were,
 * for ROLLBACK TO) is kept in memory up to this many bytes, as one buffer of this
 * size; past it SQLite moves it to a temporary file. A job of a group commit changes
 * a few pages (an incremental sync about 7, 28 KiB), so it stays in memory, and a
 * statement that changes a whole table (a migration) spills instead of growing the
 * heap. With temp_store=MEMORY the journal was kept in memory
 * without a bound, in chunks of 1 KiB: about 36 allocations and frees a job, and
 * 13k instructions a sync to release the savepoint that freed them (tests/bench).
 */
#define STMT_JOURNAL_BYTES (1024 * 1024)

/*
 * SQLite's memory statistics off, for the process: with them on (the default), every
 * sqlite3_malloc and sqlite3_free takes a process-wide mutex to count bytes and
 * highwater marks that daybookd never reads (no sqlite3_status, sqlite3_memory_used
 * or soft heap limit). An incremental sync makes about 115 of each on the storage
 * thread (a job's statement journal, its pages, lookaside misses). Both, and the page
 * cache's layer (pcache.h), must be set before SQLite initialises, so before the
 * first open; if something opened SQLite earlier in this process, sqlite3_config
 * refuses and nothing changes (the journal then spills past SQLite's default of
 * 64 KiB, and each commit walks the page cache: only slower).
 */
static void
sq_config_once(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STMT_JOURNAL_BYTES);
    if (dbk_pcache_install() != SQLITE_OK) /* before the VFS's, which initialises SQLite */
        DBK_LOG(DBK_LOG_WARN, "pcache_off", DBK_STR("effect", "each commit walks the page cache"));
    if (dbk_walbuf_register() != SQLITE_OK)
        DBK_LOG(DBK_LOG_WARN, "walbuf_off", DBK_STR("effect", "two writes per log frame"));
}

/* The VFS of every connection to daybook.db (walbuf.h), or SQLite's default. */
static const char *
sq_vfs(void)
{
    return sqlite3_vfs_find(DBK_WALBUF_VFS) != NULL ? DBK_WALBUF_VFS : NULL;
}

static int
open_path(const char *path, bool create, sq_store **out)
{
    sq_store *st;
    int rc;

    static pthread_once_t config_once = PTHREAD_ONCE_INIT;
    *out = NULL;
    (void)pthread_once(&config_once, sq_config_once);
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return DBK_E_NOMEM;
    st->wal_fd = -1;
    st->db_fd = -1;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                            SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                        sq_vfs()) != SQLITE_OK) {
        DBK_LOG(DBK_LOG_ERROR, "store_open_failed", DBK_STR("path", path),
                DBK_STR("sqlite", sqlite3_errmsg(st->db)));
        sq_close(st);
        return DBK_E_IO;
    }
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    /* temp_store=FILE: the statement journal of each job's savepoint is then SQLite's
     * bounded one, in memory up to STMT_JOURNAL_BYTES in one buffer (above). MEMORY
     * would keep it in 1 KiB chunks, allocated and freed by every job. */
    if ((rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                       "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
                       "PRAGMA temp_store=FILE;"
                       "PRAGMA cache_size=-" CACHE_KIB_TEXT ";")) != DBK_OK ||
        (rc = init_schema(st)) != DBK_OK) {
        sq_close(st);
        return rc;
    }
    struct stat sb;
    snprintf(st->file, sizeof st->file, "%s", path);
    if (stat(path, &sb) == 0) {
        st->file_dev = sb.st_dev;
        st->file_ino = sb.st_ino;
    }
    *out = st;
    return DBK_OK;
}

static const dbk_store_ops sq_ops;

int
dbk_sqlite_open(const char *dir, dbk_store **out)
{
    char path[4096];
    sq_store *st;
    int rc;
    *out = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE) >= sizeof path)
        return DBK_E_IO;
    if ((rc = open_path(path, true, &st)) != DBK_OK)
        return rc;
    snprintf(st->dir, sizeof st->dir, "%s", dir);
    st->base.ops = &sq_ops;
    *out = &st->base;
    return DBK_OK;
}

int
dbk_sqlite_open_path(const char *path, bool create, dbk_store **out)
{
    sq_store *st;
    int rc;
    char *slash;
    *out = NULL;
    if ((rc = open_path(path, create, &st)) != DBK_OK)
        return rc;
    /* The reserve file, if one is asked for, goes beside the file. */
    snprintf(st->dir, sizeof st->dir, "%s", path);
    if ((slash = strrchr(st->dir, '/')) != NULL)
        *slash = '\0';
    else
        snprintf(st->dir, sizeof st->dir, ".");
    st->base.ops = &sq_ops;
    *out = &st->base;
    return DBK_OK;
}

static int
sq_clone(sq_store *st, dbk_store **out)
{
    (void)st;
    *out = NULL;
    return DBK_E_INVALID; /* one writer: SQLite's worker is one thread */
}

/* ---- checkpoints off the storage thread (see the top) ---- */

struct ckpt {
    pthread_t thread;
    pthread_mutex_t lock; /* guards the fields below but the counts; held by the storage
                           * thread through its own checkpoint, so none starts meanwhile */
    pthread_cond_t wake;  /* the thread: work or stop */
    pthread_cond_t idle;  /* the storage thread: the thread's run has ended */
    sqlite3 *db;          /* the thread's connection; used by it alone */
    int step;             /* pages not yet copied at which the thread runs */
    int max_pages;        /* pages in the log at which the storage thread copies */
    int margin;           /* within this many pages below the bound the thread runs again
                           * whenever it is idle; the storage thread lets the log pass the
                           * bound by as much while a run goes on */
    int db_fd;            /* the store's db_fd: daybook.db, or -1 (no writeback) */
    int copied;           /* pages of the log copied by the last run */
    bool wanted, running, stopping;
    /* Checkpoints by the thread, by the storage thread, the pages of the log the
     * latter found left to copy and the time they held it (ns); read by /metrics
     * without the lock. */
    atomic_uint_fast64_t runs, own_runs, own_pages, own_ns;
    atomic_uint_fast64_t *written; /* the store's count of commits that wrote frames */
};

static void *
ckpt_main(void *arg)
{
    struct ckpt *c = arg;
#if defined(__linux__)
    /* Named as the worker's threads are (server/worker.c), so top -H and tests/bench's
     * CPU rows show it apart from libuv's pool. */
    (void)prctl(PR_SET_NAME, "dbk-ckpt", 0, 0, 0);
#endif
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        c->wanted = false;
        c->running = true;
        pthread_mutex_unlock(&c->lock);
        int log = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) /* BUSY: another process checkpoints */
            DBK_LOG(DBK_LOG_WARN, "checkpoint_failed", DBK_INT("sqlite_rc", rc),
                    DBK_STR("sqlite", sqlite3_errmsg(c->db)));
#if defined(__linux__)
        /* What the run copied is in daybook.db's page cache, written out by the
         * storage thread's sync at the bound unless the kernel has written it first:
         * start that now, without waiting for it, so the sync finds little but the
         * storage thread's own copy left to write. Nothing waits on it, and no
         * guarantee rests on it: the sync at the bound still covers every page. */
        if (rc == SQLITE_OK && copied > 0 && c->db_fd >= 0)
            (void)sync_file_range(c->db_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
        pthread_mutex_lock(&c->lock);
        c->running = false;
        atomic_fetch_add(&c->runs, 1);
        if (rc == SQLITE_OK)
            c->copied = copied;
        pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/*
 * SQLite calls this on the storage thread after each commit, with the pages now in
 * the log (counted since it last started over). It wakes the thread once `step`
 * pages wait to be copied, and near the bound (within `margin`) whenever the thread
 * is idle and a few pages wait, so that the storage thread finds little left. At the
 * bound, once no run is going (or the log is `margin` past the bound: then it waits
 * for the run to end), it copies the rest on this connection: with no other writer
 * and no reader that is every page, so the next transaction starts the log over.
 */
static int
ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct ckpt *c = arg;
    (void)name;
    /* SQLite calls this hook after exactly the commits that wrote frames to the log,
     * whatever wrote them (rows, a pragma, an index): the count dbk_store_sync
     * compares, bumped before the commit returns to the worker. */
    atomic_fetch_add(c->written, 1);
    pthread_mutex_lock(&c->lock);
    if (pages < c->copied)
        c->copied = 0; /* the log started over */
    if (pages >= c->max_pages && (!c->running || pages - c->max_pages >= c->margin)) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (c->running)
            pthread_cond_wait(&c->idle, &c->lock);
        int log = 0, copied = 0;
        atomic_fetch_add(&c->own_pages, (uint64_t)(pages - c->copied));
        if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
            SQLITE_OK)
            c->copied = copied;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        atomic_fetch_add(&c->own_ns, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                                                (t1.tv_nsec - t0.tv_nsec)));
        atomic_fetch_add(&c->own_runs, 1);
        c->wanted = false; /* a run asked for before would find this copy's work done */
    } else if (!c->running &&
               (pages - c->copied >= c->step ||
                (pages >= c->max_pages - c->margin && pages - c->copied >= c->margin / 8))) {
        c->wanted = true;
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->lock);
    return SQLITE_OK;
}

static void
ckpt_stop(sq_store *st)
{
    struct ckpt *c = st->ckpt;
    if (c == NULL)
        return;
    /* The storage thread has stopped (its worker is joined before the store closes);
     * the hook goes first, so no commit of the close below wakes a thread that is gone. */
    sqlite3_wal_hook(st->db, NULL, NULL);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    DBK_LOG(DBK_LOG_INFO, "checkpoints", DBK_INT("background", (int64_t)atomic_load(&c->runs)),
            DBK_INT("storage_thread", (int64_t)atomic_load(&c->own_runs)));
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->idle);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
    st->ckpt = NULL;
    sqlite3_wal_autocheckpoint(st->db, 1000); /* SQLite's own again, for the close */
}

static int
sq_checkpoints(sq_store *st, int64_t wal_max_bytes)
{
    struct ckpt *c;
    int64_t page = 4096, pages;
    sqlite3_stmt *ps;

    if (st->ckpt != NULL || wal_max_bytes <= 0)
        return DBK_OK;
    if (sqlite3_prepare_v2(st->db, "PRAGMA page_size", -1, &ps, NULL) == SQLITE_OK) {
        if (sqlite3_step(ps) == SQLITE_ROW && sqlite3_column_int64(ps, 0) > 0)
            page = sqlite3_column_int64(ps, 0);
        sqlite3_finalize(ps);
    }
    if ((c = calloc(1, sizeof *c)) == NULL)
        return DBK_E_NOMEM;
    /* The bound in pages of the log; the thread runs once half of it waits to be
     * copied. A group writes every page it touched, and the same pages (a stream's
     * leaves, the accounts and streams rows, the audit's tail) again in the next
     * groups: a run copies each page once however often the log holds it, so a run
     * every half bound copies far fewer pages per commit than one every eighth did
     * (tests/bench's sync phase: the checkpoint thread's CPU per sync 37 -> 14 us).
     * The storage thread still copies at the bound what the thread has not, up to
     * one step of log, with every request waiting, most of it its sync of daybook.db
     * (SQLite syncs it only in a checkpoint that finds nothing left to copy). A run
     * every quarter (half as many pages left) shortened that wait little, for three
     * times the thread's runs; the thread syncing daybook.db after each run shortened
     * it by about a fifth under load but moved no whole-phase figure, and was taken
     * out: more syncs for no measured gain (README, Performance). What shortened it
     * is three changes together (tests/bench's sync phase, ten alternating pairs at
     * load 3 to 11: the storage thread's checkpoint time per 1,000 syncs 23 to 50 ms
     * -> 10 to 34, lower in nine): it no longer waits at the bound for a run still going
     * (that was half its wait once the thread ran near the bound), the thread runs
     * again near the bound (pages left 825 -> 440), and the thread starts
     * daybook.db's writeback after each run, so the storage thread's sync of the file
     * finds less to write. The log passes its bound by at most the margin and a group. */
    pages = wal_max_bytes / page;
    c->max_pages = pages < 64 ? 64 : pages > INT32_MAX ? INT32_MAX : (int)pages;
    c->step = c->max_pages / 2;
    c->margin = c->max_pages / 8 < 512 ? c->max_pages / 8 : 512;
    c->written = &st->written;
    if (st->db_fd < 0)
        st->db_fd = open(st->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    c->db_fd = st->db_fd;
    if (sqlite3_open_v2(st->file, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
                                              SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        DBK_LOG(DBK_LOG_WARN, "checkpoint_thread_off", DBK_STR("sqlite", sqlite3_errmsg(c->db)),
                DBK_STR("effect", "checkpoints on the storage thread"));
        sqlite3_close(c->db);
        free(c);
        return DBK_E_IO;
    }
    sqlite3_wal_autocheckpoint(c->db, 0);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->idle, NULL);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        sqlite3_close(c->db);
        pthread_cond_destroy(&c->idle);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return DBK_E_INTERNAL;
    }
    st->ckpt = c;
    /* Replaces SQLite's autocheckpoint, which is a hook of its own. */
    sqlite3_wal_hook(st->db, ckpt_hook, c);
    return DBK_OK;
}

static int
sq_checkpoint_counts(sq_store *st, dbk_checkpoint_counts *out)
{
    struct ckpt *c = st->ckpt; /* set before serving, freed after (sq_close) */
    if (c == NULL)
        return DBK_E_UNAVAILABLE;
    out->thread = atomic_load(&c->runs);
    out->storage = atomic_load(&c->own_runs);
    out->storage_pages = atomic_load(&c->own_pages);
    out->storage_ns = atomic_load(&c->own_ns);
    out->bound_pages = (uint64_t)c->max_pages;
    return DBK_OK;
}

/* ---- the commit's sync, deferred (store.h) ---- */

/*
 * In WAL mode synchronous=NORMAL differs from FULL only in that a commit does not
 * sync the log; checkpoints still sync the log before copying it and daybook.db
 * before the log starts over. The sync a commit skips is done by dbk_store_sync,
 * with fdatasync on a descriptor of the same log file, before anything of the
 * commit is acknowledged: the log is one file for as long as this connection is
 * open (SQLite deletes it only at the last close), and a crash before the sync
 * loses a suffix of the log's transactions, never one in the middle (each frame's
 * checksum covers the ones before it), none of them acknowledged.
 */
static bool
in_wal_mode(sq_store *st)
{
    sqlite3_stmt *ps;
    bool wal = false;
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode", -1, &ps, NULL) != SQLITE_OK)
        return false;
    if (sqlite3_step(ps) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(ps, 0);
        wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    }
    sqlite3_finalize(ps);
    return wal;
}

static int
sq_defer_sync(sq_store *st)
{
    char path[4200];
    struct stat sb;
    if (st->wal_fd >= 0)
        return DBK_OK;
    /* Which commits wrote is counted by the checkpoint thread's hook (ckpt_hook); and
     * the argument above holds in WAL mode only, so both are checked, not assumed. */
    if (st->ckpt == NULL || !in_wal_mode(st))
        return DBK_E_IO;
    /* SQLite made the log when this connection first read. */
    if ((size_t)snprintf(path, sizeof path, "%s-wal", st->file) >= sizeof path ||
        (st->wal_fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return DBK_E_IO;
    if (fstat(st->wal_fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        exec(st, "PRAGMA synchronous=NORMAL") != DBK_OK) {
        close(st->wal_fd);
        st->wal_fd = -1;
        return DBK_E_IO;
    }
    return DBK_OK;
}

static int
sq_sync(sq_store *st)
{
    uint64_t w = atomic_load(&st->written);
    if (st->wal_fd < 0 || w == st->synced)
        return DBK_OK;
    if (fdatasync(st->wal_fd) != 0) {
        DBK_LOG(DBK_LOG_ERROR, "wal_sync_failed", DBK_STR("error", strerror(errno)));
        return DBK_E_IO;
    }
    st->synced = w;
    return DBK_OK;
}

static void
sq_close(sq_store *st)
{
    if (st == NULL)
        return;
    ckpt_stop(st);
    if (st->wal_fd >= 0) /* what the close writes is synced by SQLite again */
        exec(st, "PRAGMA synchronous=FULL");
    /* The last notes of last seen, in a transaction of their own. */
    if (st->ndirty > 0 && !st->in_tx && exec(st, "BEGIN IMMEDIATE") == DBK_OK) {
        if (seen_write_all(st) != DBK_OK || exec(st, "COMMIT") != DBK_OK)
            exec(st, "ROLLBACK");
    }
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    if (st->wal_fd >= 0)
        close(st->wal_fd);
    if (st->db_fd >= 0)
        close(st->db_fd);
    free(st);
}

static int
sq_tx_begin(sq_store *st)
{
    int rc;
    st->sp_depth = 0;
    st->last_err = DBK_OK;
    st->audit_known = false;
    st->changes_at_begin = sqlite3_total_changes64(st->db);
    rc = exec_q(st, Q_BEGIN);
    st->in_tx = rc == DBK_OK;
    return rc;
}

/*
 * DBK_OK while the transaction begun by dbk_store_tx_begin is open. After SQLite
 * rolled it back by itself, the error that did it: the work of every job before
 * is gone, and a SAVEPOINT now would open a transaction of its own whose RELEASE
 * commits it outside the group.
 */
static int
tx_open(sq_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        return DBK_OK;
    /* Only an error that can end a transaction explains it; an ordinary one earlier in
     * the group (a conflict) must not be handed to every job. */
    switch (st->last_err) {
    case DBK_E_STORAGE_FULL:
    case DBK_E_NOMEM:
    case DBK_E_CORRUPT:
    case DBK_E_IO: return st->last_err;
    default: return DBK_E_UNAVAILABLE;
    }
}

static bool
sq_tx_alive(sq_store *st)
{
    return st->in_tx && tx_open(st) == DBK_OK;
}

/* One writer: its transaction never needs committing early. */
static int64_t
sq_tx_splits(sq_store *st)
{
    (void)st;
    return 0;
}

/* A statement is no round trip here: each access check reads its row. */
static void
sq_expect_streams(sq_store *st, const dbk_id *ids, size_t n)
{
    (void)st;
    (void)ids;
    (void)n;
}

static int
sq_tx_commit(sq_store *st)
{
    int rc = tx_open(st);
    bool seen = false;
    /* Last seen's notes ride along when this commit writes anyway (its sync is paid),
     * else once they are many or a minute old. An error leaves them waiting. */
    if (rc == DBK_OK && st->ndirty > 0 &&
        (sqlite3_total_changes64(st->db) != st->changes_at_begin ||
         st->ndirty >= SEEN_FLUSH_COUNT || wall_ms() - st->dirty_since >= SEEN_FLUSH_MS))
        seen = seen_write_all(st) == DBK_OK;
    if (rc == DBK_OK)
        rc = tx_open(st);
    if (rc == DBK_OK)
        rc = exec_q(st, Q_COMMIT);
    st->in_tx = !sqlite3_get_autocommit(st->db); /* a failed COMMIT leaves it open */
    st->audit_known = false;
    if (rc == DBK_OK && seen)
        seen_committed(st);
    return rc;
}

static void
sq_tx_rollback(sq_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        exec(st, "ROLLBACK");
    st->in_tx = false;
    st->audit_known = false;
}

static int
sq_data_version(sq_store *st, int64_t *out)
{
    int rc;
    PREP(s, Q_DATA_VERSION);
    if ((rc = one(st, s)) != DBK_OK)
        return rc;
    *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return DBK_OK;
}

static int
sq_sp_begin(sq_store *st)
{
    int rc = tx_open(st);
    return rc != DBK_OK ? rc : exec_q(st, Q_SAVEPOINT);
}

static int
sq_sp_release(sq_store *st)
{
    int rc = tx_open(st);
    return rc != DBK_OK ? rc : exec_q(st, Q_RELEASE);
}

static void
sq_sp_rollback(sq_store *st)
{
    st->audit_known = false; /* the job's rows, if any, are undone */
    if (tx_open(st) != DBK_OK)
        return; /* nothing left to roll back */
    if (exec_q(st, Q_ROLLBACK_TO) != DBK_OK) {
        /* The job's writes could not be undone alone (out of memory, I/O): releasing
         * the savepoint would keep them in the group. End the whole transaction
         * instead; the group's COMMIT then fails through tx_open and no job of it is
         * acknowledged. */
        int err = st->last_err != DBK_OK ? st->last_err : DBK_E_IO;
        exec(st, "ROLLBACK");
        st->last_err = err;
        return;
    }
    exec_q(st, Q_RELEASE);
}

/* ---- the reserve for a full disk ---- */

static int
reserve_path(const sq_store *st, char *path, size_t cap)
{
    return (size_t)snprintf(path, cap, "%s/%s", st->dir, RESERVE_FILE) < cap ? DBK_OK
                                                                              : DBK_E_IO;
}

/* Deletes the reserve once SQLite has found the disk full (worker thread). */
static void
reserve_release(sq_store *st)
{
    char path[4200];
    if (st->reserve_bytes == 0 || atomic_exchange(&st->full, true))
        return;
    if (reserve_path(st, path, sizeof path) == DBK_OK)
        unlink(path);
    DBK_LOG(DBK_LOG_ERROR, "storage_full", DBK_STR("data_dir", st->dir),
            DBK_STR("effect", "new records refused with 507 storage_full; reads go on"),
            DBK_INT("reserve_released_bytes", st->reserve_bytes));
}

/*
 * Makes the reserve file if the disk has room for it and half as much again beside
 * it, so that making it does not itself fill the disk, and a disk just freed by a
 * checkpoint does not flap between full and not. (It once asked for room twice over:
 * on a 24 MiB disk with 10 MiB of records, 16 MiB free was never reached again, and
 * a server that had found the disk full refused writes for good.)
 */
static int
reserve_make(sq_store *st)
{
    char path[4200];
    struct stat sb;
    struct statvfs v;
    int fd, rc;

    if (reserve_path(st, path, sizeof path) != DBK_OK)
        return DBK_E_IO;
    /* Kept from an earlier run: already allocated. */
    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= st->reserve_bytes &&
        (int64_t)sb.st_blocks * 512 >= st->reserve_bytes)
        return DBK_OK;
    if (statvfs(st->dir, &v) != 0 ||
        (int64_t)v.f_bavail * (int64_t)v.f_frsize < st->reserve_bytes + st->reserve_bytes / 2)
        return DBK_E_STORAGE_FULL;
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno == ENOSPC ? DBK_E_STORAGE_FULL : DBK_E_IO;
    rc = posix_fallocate(fd, 0, (off_t)st->reserve_bytes);
    close(fd);
    if (rc != 0) {
        unlink(path);
        return rc == ENOSPC ? DBK_E_STORAGE_FULL : DBK_E_IO;
    }
    return DBK_OK;
}

/*
 * The reserve file cannot be written for a reason other than space (permissions, a
 * read-only or odd data dir): refusing every push as "disk full" would be wrong, so
 * daybookd goes on without the reserve, and says so.
 */
static int
reserve_give_up(sq_store *st)
{
    st->reserve_bytes = 0;
    atomic_store(&st->full, false);
    DBK_LOG(DBK_LOG_WARN, "storage_reserve_off", DBK_STR("data_dir", st->dir),
            DBK_STR("effect", "no room kept for reads on a full disk"),
            DBK_STR("reason", "cannot write " RESERVE_FILE));
    return DBK_OK;
}

static int
sq_reserve(sq_store *st, int64_t bytes)
{
    int rc;
    st->reserve_bytes = bytes;
    atomic_store(&st->full, false);
    if ((rc = reserve_make(st)) == DBK_OK)
        return DBK_OK;
    if (rc != DBK_E_STORAGE_FULL)
        return reserve_give_up(st);
    atomic_store(&st->full, true);
    DBK_LOG(DBK_LOG_ERROR, "storage_full", DBK_STR("data_dir", st->dir),
            DBK_STR("effect", "new records refused with 507 storage_full; reads go on"),
            DBK_STR("reason", rc == DBK_E_STORAGE_FULL ? "no room for the reserve file"
                                                       : "cannot write the reserve file"));
    return rc;
}

static int
sq_room(sq_store *st)
{
    if (st->reserve_bytes == 0 || !atomic_load(&st->full))
        return DBK_OK;
    int rc = reserve_make(st);
    if (rc == DBK_E_IO)
        return reserve_give_up(st);
    if (rc != DBK_OK)
        return DBK_E_STORAGE_FULL;
    atomic_store(&st->full, false);
    DBK_LOG(DBK_LOG_WARN, "storage_ok", DBK_STR("data_dir", st->dir),
            DBK_STR("effect", "new records accepted again"));
    return DBK_OK;
}

static bool
sq_full(sq_store *st)
{
    return st->reserve_bytes != 0 && atomic_load(&st->full);
}

/* The file is still where it was opened, the same file, readable and writable, and a
 * row of it reads. A store that fails this keeps working on what it has open, but
 * what it writes would not be found at the next start: /healthz says 503. */
static int
sq_ping(sq_store *st)
{
    struct stat sb;
    unsigned char id[DBK_ID_BYTES];
    bool gone = stat(st->file, &sb) != 0 || sb.st_dev != st->file_dev ||
                sb.st_ino != st->file_ino || access(st->file, R_OK | W_OK) != 0;
    if (gone != st->file_gone)
        DBK_LOG(gone ? DBK_LOG_ERROR : DBK_LOG_WARN,
                gone ? "store_unreachable" : "store_reconnected", DBK_STR("path", st->file),
                DBK_STR("effect", gone ? "/healthz answers 503 store_unavailable" : "/healthz ok"));
    st->file_gone = gone;
    if (gone)
        return DBK_E_STORE_UNAVAILABLE;
    return meta_get(st, "server_id", id, sizeof id);
}

/* ---- server identity ---- */

static int
sq_server_info(sq_store *st, dbk_server_info *out)
{
    unsigned char gen[8];
    int rc;
    if ((rc = meta_get(st, "server_id", out->server_id.b, DBK_ID_BYTES)) != DBK_OK ||
        (rc = meta_get(st, "restore_generation", gen, sizeof gen)) != DBK_OK ||
        (rc = meta_get(st, "server_secret", out->secret, sizeof out->secret)) != DBK_OK)
        return rc;
    out->restore_generation = (int64_t)dbk_get_u64(gen);
    return DBK_OK;
}

static int
sq_restore_prepare(sq_store *st, int64_t above, int64_t *out)
{
    unsigned char gen[8];
    int rc;

    if ((rc = exec(st, "BEGIN IMMEDIATE")) != DBK_OK)
        return rc;
    if ((rc = meta_get(st, "restore_generation", gen, sizeof gen)) == DBK_OK) {
        int64_t g = (int64_t)dbk_get_u64(gen);
        *out = (g > above ? g : above) + 1;
        dbk_put_u64(gen, (uint64_t)*out);
        rc = meta_put(st, Q_META_SET, "restore_generation", gen, sizeof gen);
    }
    if (rc == DBK_OK)
        rc = exec(st, "DELETE FROM tokens; DELETE FROM challenges;"
                      "DELETE FROM invites WHERE used_at = 0;");
    if (rc == DBK_OK)
        return exec(st, "COMMIT");
    exec(st, "ROLLBACK");
    return rc;
}

/* ---- accounts ---- */

static void
read_account(sqlite3_stmt *s, dbk_account *a)
{
    memset(a, 0, sizeof *a);
    col_id(s, 0, &a->id);
    a->role = (enum dbk_role)sqlite3_column_int(s, 1);
    col_text(s, 2, a->name, sizeof a->name);
    col_fixed(s, 3, a->sign_pk, 32);
    col_fixed(s, 4, a->box_pk, 32);
    col_fixed(s, 5, a->login_pk, 32);
    col_fixed(s, 6, a->bundle, sizeof a->bundle);
    a->generation = (uint32_t)sqlite3_column_int64(s, 7);
    col_id(s, 8, &a->counselor);
    a->created_at = sqlite3_column_int64(s, 9);
    a->used_bytes = sqlite3_column_int64(s, 10);
    a->grants_seq = sqlite3_column_int64(s, 11);
}

static int
sq_account_create(sq_store *st, const dbk_account *a)
{
    PREP(s, Q_ACCOUNT_INSERT);
    bind_id(s, 1, &a->id);
    sqlite3_bind_int(s, 2, (int)a->role);
    sqlite3_bind_text(s, 3, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, a->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, a->box_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, a->login_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, a->bundle, sizeof a->bundle, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, a->generation);
    bind_id_or_null(s, 9, &a->counselor);
    sqlite3_bind_int64(s, 10, a->created_at);
    return run(st, s);
}

static int
account_by(sq_store *st, sqlite3_stmt *s, dbk_account *out)
{
    int rc = one(st, s);
    if (rc == DBK_OK) {
        read_account(s, out);
        sqlite3_reset(s);
    }
    return rc;
}

static int
sq_account_get(sq_store *st, const dbk_id *id, dbk_account *out)
{
    PREP(s, Q_ACCOUNT_GET);
    bind_id(s, 1, id);
    return account_by(st, s, out);
}

static int
sq_bump_grants_seq(sq_store *st, const dbk_id *id)
{
    PREP(s, Q_ACCOUNT_BUMP_GRANTS);
    bind_id(s, 1, id);
    return run(st, s);
}

static int sq_charge_more(sq_store *st, const dbk_id *id, int64_t bytes, int64_t more,
                          int64_t quota);

static int
sq_charge(sq_store *st, const dbk_id *id, int64_t bytes, int64_t quota)
{
    return sq_charge_more(st, id, bytes, 0, quota);
}

/* bytes checked against the quota, and more (>= 0) added in the same statement without
 * the check: refused, nothing is charged. */
static int
sq_charge_more(sq_store *st, const dbk_id *id, int64_t bytes, int64_t more, int64_t quota)
{
    /* A push charges two or three times (its records, its audit row, a read's audit
     * row). Where a quota can refuse, the check and the charge are one statement;
     * the count is read only when it refused, to tell a quota from a missing account. */
    int rc;
    if (bytes > 0 && quota < INT64_MAX) {
        PREP(w, Q_ACCOUNT_ADD_WITHIN);
        bind_id(w, 1, id);
        sqlite3_bind_int64(w, 2, bytes);
        sqlite3_bind_int64(w, 3, quota);
        sqlite3_bind_int64(w, 4, bytes + more);
        if ((rc = run(st, w)) != DBK_OK)
            return rc;
        if (sqlite3_changes(st->db) == 1)
            return DBK_OK;
        PREP(u, Q_ACCOUNT_USED);
        bind_id(u, 1, id);
        if ((rc = one(st, u)) != DBK_OK)
            return rc;
        sqlite3_reset(u);
        return DBK_E_QUOTA;
    }
    PREP(s, Q_ACCOUNT_ADD_BYTES);
    bind_id(s, 1, id);
    sqlite3_bind_int64(s, 2, bytes + more);
    if ((rc = run(st, s)) != DBK_OK)
        return rc;
    return sqlite3_changes(st->db) == 1 ? DBK_OK : DBK_E_NOT_FOUND;
}

static int
sq_account_set_bundle(sq_store *st, const dbk_id *id, const unsigned char bundle[148],
                             const unsigned char login_pk[32], uint32_t generation)
{
    PREP(s, Q_ACCOUNT_SET_BUNDLE);
    bind_id(s, 1, id);
    sqlite3_bind_blob(s, 2, bundle, 148, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, login_pk, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, generation);
    int rc = run(st, s);
    return rc == DBK_OK && sqlite3_changes(st->db) == 0 ? DBK_E_NOT_FOUND : rc;
}

static int
sq_clients_of(sq_store *st, const dbk_id *counselor, dbk_account_cb cb, void *arg)
{
    dbk_account a;
    int rc;
    PREP(s, Q_CLIENTS_OF);
    bind_id(s, 1, counselor);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_account(s, &a);
        cb(&a, arg);
    }
    sqlite3_reset(s);
    return map_rc(st, rc);
}

static int
sq_counselors(sq_store *st, dbk_account_cb cb, void *arg)
{
    dbk_account a;
    int rc;
    PREP(s, Q_COUNSELORS);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_account(s, &a);
        cb(&a, arg);
    }
    sqlite3_reset(s);
    return map_rc(st, rc);
}

static int
sq_account_disabled(sq_store *st, const dbk_id *id, int64_t *at)
{
    PREP(s, Q_DISABLED_GET);
    bind_id(s, 1, id);
    int rc = one(st, s);
    *at = 0;
    if (rc == DBK_OK) {
        *at = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
}

static int
sq_account_set_disabled(sq_store *st, const dbk_id *id, bool disabled, int64_t at)
{
    int rc;
    if (!disabled) {
        PREP(d, Q_DISABLED_DELETE);
        bind_id(d, 1, id);
        return run(st, d);
    }
    {
        PREP(s, Q_DISABLED_PUT);
        bind_id(s, 1, id);
        sqlite3_bind_int64(s, 2, at);
        if ((rc = run(st, s)) != DBK_OK)
            return rc;
    }
    /* Every device's session ends now, not when its token would have expired. */
    PREP(t, Q_TOKENS_OF_ACCOUNT_DELETE);
    bind_id(t, 1, id);
    return run(st, t);
}

/* ---- invites ---- */

static void
read_invite(sqlite3_stmt *s, dbk_invite *inv)
{
    memset(inv, 0, sizeof *inv);
    col_id(s, 0, &inv->id);
    inv->kind = (enum dbk_invite_kind)sqlite3_column_int(s, 1);
    col_fixed(s, 2, inv->secret_hash, DBK_HASH_BYTES);
    col_id(s, 3, &inv->counselor);
    col_text(s, 4, inv->name, sizeof inv->name);
    inv->created_at = sqlite3_column_int64(s, 5);
    inv->expires_at = sqlite3_column_int64(s, 6);
    inv->used_at = sqlite3_column_int64(s, 7);
}

static int
sq_invite_create(sq_store *st, const dbk_invite *inv)
{
    PREP(s, Q_INVITE_INSERT);
    bind_id(s, 1, &inv->id);
    sqlite3_bind_int(s, 2, (int)inv->kind);
    sqlite3_bind_blob(s, 3, inv->secret_hash, DBK_HASH_BYTES, SQLITE_STATIC);
    bind_id_or_null(s, 4, &inv->counselor);
    sqlite3_bind_text(s, 5, inv->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, inv->created_at);
    sqlite3_bind_int64(s, 7, inv->expires_at);
    return run(st, s);
}

static int
sq_invite_use(sq_store *st, const unsigned char hash[DBK_HASH_BYTES], int64_t now,
                     dbk_invite *out)
{
    int rc;
    {
        PREP(s, Q_INVITE_BY_HASH);
        sqlite3_bind_blob(s, 1, hash, DBK_HASH_BYTES, SQLITE_STATIC);
        rc = one(st, s);
        if (rc == DBK_E_NOT_FOUND)
            return DBK_E_UNAUTHENTICATED;
        if (rc != DBK_OK)
            return rc;
        read_invite(s, out);
        sqlite3_reset(s);
    }
    if (out->used_at != 0 || out->expires_at <= now)
        return DBK_E_GONE;
    PREP(u, Q_INVITE_MARK_USED);
    bind_id(u, 1, &out->id);
    sqlite3_bind_int64(u, 2, now);
    out->used_at = now;
    return run(st, u);
}

static int
invites_each(sq_store *st, sqlite3_stmt *s, dbk_invite_cb cb, void *arg)
{
    dbk_invite inv;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_invite(s, &inv);
        cb(&inv, arg);
    }
    sqlite3_reset(s);
    return map_rc(st, rc);
}

static int
sq_invites_of(sq_store *st, const dbk_id *counselor, dbk_invite_cb cb, void *arg)
{
    PREP(s, Q_INVITES_OF);
    bind_id(s, 1, counselor);
    return invites_each(st, s, cb, arg);
}

static int
sq_invites_pending(sq_store *st, const dbk_id *counselor, int64_t now, dbk_invite_cb cb,
                   void *arg)
{
    PREP(s, Q_INVITES_PENDING);
    bind_id(s, 1, counselor);
    sqlite3_bind_int64(s, 2, now);
    return invites_each(st, s, cb, arg);
}

static int
sq_invite_delete(sq_store *st, const dbk_id *counselor, const dbk_id *id)
{
    PREP(s, Q_INVITE_DELETE);
    bind_id(s, 1, id);
    bind_id(s, 2, counselor);
    int rc = run(st, s);
    return rc == DBK_OK && sqlite3_changes(st->db) == 0 ? DBK_E_NOT_FOUND : rc;
}

/* ---- devices, tokens, challenges ---- */

static int
sq_device_add(sq_store *st, const dbk_device *d)
{
    PREP(s, Q_DEVICE_INSERT);
    bind_id(s, 1, &d->id);
    bind_id(s, 2, &d->account);
    sqlite3_bind_text(s, 3, d->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, d->created_at);
    return run(st, s);
}

static int
sq_devices_of(sq_store *st, const dbk_id *account, dbk_device_cb cb, void *arg)
{
    dbk_device d;
    int rc = seen_write_all(st); /* what this answers includes the waiting notes */
    if (rc != DBK_OK)
        return rc;
    PREP(s, Q_DEVICES_OF);
    bind_id(s, 1, account);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&d, 0, sizeof d);
        col_id(s, 0, &d.id);
        col_id(s, 1, &d.account);
        col_text(s, 2, d.name, sizeof d.name);
        d.created_at = sqlite3_column_int64(s, 3);
        d.last_seen = sqlite3_column_int64(s, 4);
        cb(&d, arg);
    }
    sqlite3_reset(s);
    return map_rc(st, rc);
}

static int
sq_last_seen(sq_store *st, const dbk_id *account, int64_t *out)
{
    int rc0 = seen_write_all(st); /* what this answers includes the waiting notes */
    if (rc0 != DBK_OK)
        return rc0;
    PREP(s, Q_DEVICE_LAST_SEEN);
    bind_id(s, 1, account);
    int rc = one(st, s);
    *out = 0;
    if (rc == DBK_OK) {
        *out = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    return rc;
}

static int
sq_device_revoke(sq_store *st, const dbk_id *account, const dbk_id *device)
{
    int rc;
    {
        PREP(s, Q_DEVICE_DELETE);
        bind_id(s, 1, device);
        bind_id(s, 2, account);
        if ((rc = run(st, s)) != DBK_OK)
            return rc;
        if (sqlite3_changes(st->db) == 0)
            return DBK_E_NOT_FOUND;
    }
    PREP(t, Q_TOKENS_OF_DEVICE_DELETE);
    bind_id(t, 1, device);
    return run(st, t);
}

static int
sq_token_add(sq_store *st, const unsigned char hash[DBK_HASH_BYTES], const dbk_id *account,
                    const dbk_id *device, int64_t expires_at)
{
    PREP(s, Q_TOKEN_INSERT);
    sqlite3_bind_blob(s, 1, hash, DBK_HASH_BYTES, SQLITE_STATIC);
    bind_id(s, 2, account);
    bind_id(s, 3, device);
    sqlite3_bind_int64(s, 4, expires_at);
    return run(st, s);
}

static int
sq_token_check(sq_store *st, const unsigned char hash[DBK_HASH_BYTES], int64_t now,
                      dbk_id *account, dbk_id *device)
{
    int64_t expires;
    int rc;
    {
        PREP(s, Q_TOKEN_GET);
        sqlite3_bind_blob(s, 1, hash, DBK_HASH_BYTES, SQLITE_STATIC);
        rc = one(st, s);
        if (rc == DBK_E_NOT_FOUND)
            return DBK_E_UNAUTHENTICATED;
        if (rc != DBK_OK)
            return rc;
        col_id(s, 0, account);
        col_id(s, 1, device);
        expires = sqlite3_column_int64(s, 2);
        sqlite3_reset(s);
    }
    if (expires <= now)
        return DBK_E_UNAUTHENTICATED;
    {
        /* Tokens expire after 30 days unused: slide the expiry, at most once a day. */
        const int64_t ttl = 30LL * 24 * 3600 * 1000, day = 24LL * 3600 * 1000;
        PREP(x, Q_TOKEN_EXTEND);
        sqlite3_bind_blob(x, 1, hash, DBK_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(x, 2, now + ttl);
        sqlite3_bind_int64(x, 3, now + ttl - day);
        if ((rc = run(st, x)) != DBK_OK)
            return rc;
    }
    /* Last seen, to the minute: noted, and written by a later commit (see the top). */
    return seen_note(st, device, now);
}

static int
sq_token_delete(sq_store *st, const unsigned char hash[DBK_HASH_BYTES])
{
    PREP(s, Q_TOKEN_DELETE);
    sqlite3_bind_blob(s, 1, hash, DBK_HASH_BYTES, SQLITE_STATIC);
    return run(st, s);
}

static int
sq_tokens_revoke_others(sq_store *st, const dbk_id *account, const dbk_id *keep,
                               int64_t *count)
{
    PREP(s, Q_TOKENS_REVOKE_OTHERS);
    bind_id(s, 1, account);
    bind_id(s, 2, keep);
    int rc = run(st, s);
    *count = rc == DBK_OK ? sqlite3_changes(st->db) : 0;
    return rc;
}

static int
sq_challenge_add(sq_store *st, const unsigned char challenge[32], const dbk_id *account,
                        const dbk_id *device, enum dbk_purpose purpose, int64_t expires_at)
{
    int rc;
    {
        PREP(p, Q_CHALLENGE_PURGE);
        sqlite3_bind_int64(p, 1, expires_at - 10 * 60000); /* keep the table small */
        if ((rc = run(st, p)) != DBK_OK)
            return rc;
    }
    PREP(s, Q_CHALLENGE_INSERT);
    sqlite3_bind_blob(s, 1, challenge, 32, SQLITE_STATIC);
    bind_id(s, 2, account);
    bind_id(s, 3, device);
    sqlite3_bind_int(s, 4, (int)purpose);
    sqlite3_bind_int64(s, 5, expires_at);
    return run(st, s);
}

static int
sq_challenge_take(sq_store *st, const unsigned char challenge[32], const dbk_id *account,
                         const dbk_id *device, enum dbk_purpose purpose, int64_t now)
{
    dbk_id a, d;
    int p;
    int64_t expires;
    int rc;
    {
        PREP(s, Q_CHALLENGE_GET);
        sqlite3_bind_blob(s, 1, challenge, 32, SQLITE_STATIC);
        rc = one(st, s);
        if (rc == DBK_E_NOT_FOUND)
            return DBK_E_GONE;
        if (rc != DBK_OK)
            return rc;
        col_id(s, 0, &a);
        col_id(s, 1, &d);
        p = sqlite3_column_int(s, 2);
        expires = sqlite3_column_int64(s, 3);
        sqlite3_reset(s);
    }
    PREP(del, Q_CHALLENGE_DELETE);
    sqlite3_bind_blob(del, 1, challenge, 32, SQLITE_STATIC);
    if ((rc = run(st, del)) != DBK_OK)
        return rc;
    if (expires <= now || p != (int)purpose || !dbk_id_equal(&a, account) ||
        !dbk_id_equal(&d, device))
        return DBK_E_GONE;
    return DBK_OK;
}

/* ---- streams and grants ---- */

static void
read_stream(sqlite3_stmt *s, dbk_stream *out)
{
    col_id(s, 0, &out->id);
    col_id(s, 1, &out->owner);
    out->kind = (enum dbk_stream_kind)sqlite3_column_int(s, 2);
    out->epoch = (uint32_t)sqlite3_column_int64(s, 3);
    out->seq = sqlite3_column_int64(s, 4);
    out->rotation_pending = sqlite3_column_int(s, 5) != 0;
}

static int
sq_stream_create(sq_store *st, const dbk_stream *str)
{
    PREP(s, Q_STREAM_INSERT);
    bind_id(s, 1, &str->id);
    bind_id(s, 2, &str->owner);
    sqlite3_bind_int(s, 3, (int)str->kind);
    sqlite3_bind_int64(s, 4, str->epoch);
    return run(st, s);
}

static int
sq_stream_get(sq_store *st, const dbk_id *id, dbk_stream *out)
{
    PREP(s, Q_STREAM_GET);
    bind_id(s, 1, id);
    int rc = one(st, s);
    if (rc == DBK_OK) {
        read_stream(s, out);
        sqlite3_reset(s);
    }
    return rc;
}

static int
sq_streams_for(sq_store *st, const dbk_id *account, int64_t now, dbk_stream_cb cb,
                      void *arg)
{
    dbk_stream str;
    int rc;
    {
        PREP(s, Q_STREAMS_OWNED);
        bind_id(s, 1, account);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            read_stream(s, &str);
            cb(&str, arg);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return map_rc(st, rc);
    }
    PREP(g, Q_STREAMS_GRANTED);
    bind_id(g, 1, account);
    sqlite3_bind_int64(g, 2, now);
    while ((rc = sqlite3_step(g)) == SQLITE_ROW) {
        read_stream(g, &str);
        cb(&str, arg);
    }
    sqlite3_reset(g);
    return map_rc(st, rc);
}

/* Marks epoch closed at `at` (if it is not already): envelopes made later at that
 * epoch are refused (proto/README.md section 7). */
static int
epoch_close(sq_store *st, const dbk_id *stream, uint32_t epoch, int64_t at)
{
    PREP(s, Q_EPOCH_CLOSE);
    bind_id(s, 1, stream);
    sqlite3_bind_int64(s, 2, epoch);
    sqlite3_bind_int64(s, 3, at);
    return run(st, s);
}

static int
sq_grant_put(sq_store *st, const dbk_grant_row *g, int64_t now, bool *identical)
{
    unsigned char *old = NULL;
    size_t old_len = 0;
    int rc = sq_grant_get(st, &g->stream, &g->grantee, g->epoch, &old, &old_len);

    *identical = rc == DBK_OK && old_len == g->grant_len && memcmp(old, g->grant, old_len) == 0;
    free(old);
    if (rc != DBK_OK && rc != DBK_E_NOT_FOUND)
        return rc;
    if (*identical)
        return DBK_OK;
    {
        PREP(k, Q_GRANT_KEEP_REVOKED); /* a revoked row being replaced goes to history */
        bind_id(k, 1, &g->stream);
        bind_id(k, 2, &g->grantee);
        sqlite3_bind_int64(k, 3, g->epoch);
        if ((rc = run(st, k)) != DBK_OK)
            return rc;
    }
    {
        PREP(s, Q_GRANT_INSERT);
        bind_id(s, 1, &g->stream);
        bind_id(s, 2, &g->grantee);
        sqlite3_bind_int64(s, 3, g->epoch);
        sqlite3_bind_blob(s, 4, g->grant, (int)g->grant_len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, g->created_at);
        sqlite3_bind_int64(s, 6, g->expires_at);
        if ((rc = run(st, s)) != DBK_OK)
            return rc;
    }
    PREP(e, Q_STREAM_RAISE_EPOCH); /* changes only for a self-grant of epoch + 1 */
    bind_id(e, 1, &g->stream);
    sqlite3_bind_int64(e, 2, g->epoch);
    if ((rc = run(st, e)) != DBK_OK)
        return rc;
    if (sqlite3_changes(st->db) > 0 && g->epoch > 1)
        return epoch_close(st, &g->stream, g->epoch - 1, now);
    return DBK_OK;
}

static int
sq_grant_get(sq_store *st, const dbk_id *stream, const dbk_id *grantee, uint32_t epoch,
                    unsigned char **out, size_t *len)
{
    PREP(s, Q_GRANT_GET);
    bind_id(s, 1, stream);
    bind_id(s, 2, grantee);
    sqlite3_bind_int64(s, 3, epoch);
    int rc = one(st, s);
    *out = NULL;
    *len = 0;
    if (rc != DBK_OK)
        return rc;
    *len = (size_t)sqlite3_column_bytes(s, 0);
    *out = malloc(*len ? *len : 1);
    if (*out != NULL)
        memcpy(*out, sqlite3_column_blob(s, 0), *len);
    sqlite3_reset(s);
    return *out ? DBK_OK : DBK_E_NOMEM;
}

static int
each_grant(sq_store *st, sqlite3_stmt *s, dbk_grant_cb cb, void *arg)
{
    dbk_grant_row g;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        col_id(s, 0, &g.stream);
        col_id(s, 1, &g.grantee);
        g.epoch = (uint32_t)sqlite3_column_int64(s, 2);
        g.grant = sqlite3_column_blob(s, 3);
        g.grant_len = (size_t)sqlite3_column_bytes(s, 3);
        g.created_at = sqlite3_column_int64(s, 4);
        g.expires_at = sqlite3_column_int64(s, 5);
        g.revoked_at = sqlite3_column_int64(s, 6);
        cb(&g, arg);
    }
    sqlite3_reset(s);
    return map_rc(st, rc);
}

static int
sq_grants_of_stream(sq_store *st, const dbk_id *stream, dbk_grant_cb cb, void *arg)
{
    PREP(s, Q_GRANTS_OF_STREAM);
    bind_id(s, 1, stream);
    return each_grant(st, s, cb, arg);
}

static int
sq_grants_to(sq_store *st, const dbk_id *grantee, int64_t now, dbk_grant_cb cb, void *arg)
{
    (void)now; /* every grant, with its state computed by the caller */
    PREP(s, Q_GRANTS_TO);
    bind_id(s, 1, grantee);
    return each_grant(st, s, cb, arg);
}

static int
sq_grant_revoke(sq_store *st, const dbk_id *stream, const dbk_id *grantee, int64_t now)
{
    int rc;
    {
        PREP(s, Q_GRANT_REVOKE);
        bind_id(s, 1, stream);
        bind_id(s, 2, grantee);
        sqlite3_bind_int64(s, 3, now);
        if ((rc = run(st, s)) != DBK_OK)
            return rc;
        if (sqlite3_changes(st->db) == 0) {
            /* Revoking again changes nothing (DBK_E_GONE tells the caller so);
             * revoking someone who never had a grant is DBK_E_NOT_FOUND. */
            PREP(a, Q_GRANT_ANY);
            bind_id(a, 1, stream);
            bind_id(a, 2, grantee);
            rc = one(st, a);
            if (rc == DBK_OK)
                sqlite3_reset(a);
            return rc == DBK_OK ? DBK_E_GONE : rc;
        }
    }
    {
        dbk_stream str;
        if ((rc = sq_stream_get(st, stream, &str)) != DBK_OK ||
            (rc = epoch_close(st, stream, str.epoch, now)) != DBK_OK)
            return rc;
    }
    PREP(r, Q_STREAM_SET_ROTATION);
    bind_id(r, 1, stream);
    return run(st, r);
}

static int
sq_grant_held(sq_store *st, const dbk_id *stream, const dbk_id *grantee, uint32_t epoch)
{
    PREP(s, Q_GRANT_HELD);
    bind_id(s, 1, stream);
    bind_id(s, 2, grantee);
    sqlite3_bind_int64(s, 3, epoch);
    int rc = one(st, s);
    if (rc == DBK_OK)
        sqlite3_reset(s);
    return rc;
}

/* 0 if epoch is open (or unknown), else when it closed. */
static int
epoch_closed_at(sq_store *st, const dbk_id *stream, uint32_t epoch, int64_t *out)
{
    PREP(s, Q_EPOCH_CLOSED_AT);
    bind_id(s, 1, stream);
    sqlite3_bind_int64(s, 2, epoch);
    int rc = one(st, s);
    *out = 0;
    if (rc == DBK_OK) {
        *out = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
}

static int
sq_access(sq_store *st, const dbk_id *account, const dbk_id *stream, int64_t now,
                 dbk_stream *str, bool *is_owner, bool *can_write)
{
    int rc = sq_stream_get(st, stream, str);

    *is_owner = *can_write = false;
    if (rc == DBK_E_NOT_FOUND)
        return DBK_E_FORBIDDEN; /* the same answer as "exists but not yours" */
    if (rc != DBK_OK)
        return rc;
    if (dbk_id_equal(&str->owner, account)) {
        *is_owner = *can_write = true;
        return DBK_OK;
    }
    PREP(s, Q_GRANT_LIVE);
    bind_id(s, 1, stream);
    bind_id(s, 2, account);
    sqlite3_bind_int64(s, 3, now);
    rc = one(st, s);
    if (rc != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        sqlite3_reset(s);
        /* No active grant: say "expired" when that is why (README section 8). */
        PREP(x, Q_GRANT_EXPIRED);
        bind_id(x, 1, stream);
        bind_id(x, 2, account);
        sqlite3_bind_int64(x, 3, now);
        rc = one(st, x);
        if (rc == DBK_OK)
            sqlite3_reset(x);
        return rc == DBK_OK ? DBK_E_EXPIRED : rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
    }
    *can_write = (uint32_t)sqlite3_column_int64(s, 0) == str->epoch;
    sqlite3_reset(s);
    return DBK_OK;
}

/* ---- records ---- */

/* One record's row written at seq: the upsert (replacing the stream's row of that record)
 * or the insert of a record the stream does not hold (nothing changes if it does). */
static int
record_write(sq_store *st, enum q which, const dbk_id *stream, const dbk_push_item *it, int64_t seq,
             const dbk_id *creator)
{
    PREP(u, which);
    bind_id(u, 1, stream);
    bind_id(u, 2, &it->hdr.record);
    sqlite3_bind_int64(u, 3, seq);
    sqlite3_bind_int64(u, 4, (sqlite3_int64)it->hdr.rev.clock);
    bind_id(u, 5, &it->hdr.rev.device);
    sqlite3_bind_int64(u, 6, it->hdr.epoch);
    bind_id(u, 7, creator);
    sqlite3_bind_blob(u, 8, it->env, (int)it->len, SQLITE_STATIC);
    return run(st, u);
}

/* record_write for a push that started from head: a row refused at the seq it was given
 * (the records' key, (stream, seq); the record's own id is the statement's ON CONFLICT)
 * means that head was behind the store's, as only a stale known can be. That is said
 * as head_moved, for the caller to forget the head, not as a conflict of contents. */
static int
push_write(sq_store *st, dbk_push_batch *b, enum q which, const dbk_push_item *it, int64_t seq,
           const dbk_id *creator, int64_t head)
{
    dbk_stream now;
    int rc = record_write(st, which, &b->stream, it, seq, creator);
    if (rc != DBK_E_CONFLICT || sq_stream_get(st, &b->stream, &now) != DBK_OK || now.seq == head)
        return rc;
    b->head_moved = true;
    return DBK_E_INTERNAL;
}

/* Closed epochs: an envelope may use an epoch no later than the current one, made (by
 * its clock) before that epoch closed. Each item that may not is marked (it->stale),
 * and *stale said. A batch's items nearly always share one epoch: it is looked up once
 * per run of equal epochs, not once per item. The current epoch is closed only by a
 * revocation, which marks the rotation pending in the same transaction
 * (sq_grant_revoke), and the flag is cleared only by a new epoch
 * (Q_STREAM_RAISE_EPOCH): without the flag, it is open. */
static int
epochs_check(sq_store *st, dbk_push_batch *b, const dbk_stream *str, bool *stale)
{
    bool have = false;
    uint32_t looked = 0;
    int64_t closed = 0;
    int rc;

    *stale = false;
    for (size_t i = 0; i < b->n; i++) {
        dbk_push_item *it = &b->items[i];
        if (it->hdr.epoch > str->epoch) {
            it->stale = *stale = true;
            continue;
        }
        if (it->hdr.epoch == str->epoch && !str->rotation_pending)
            continue;
        if (!have || it->hdr.epoch != looked) {
            have = true;
            looked = it->hdr.epoch;
            if ((rc = epoch_closed_at(st, &b->stream, looked, &closed)) != DBK_OK)
                return rc;
        }
        if (closed != 0 && (int64_t)(it->hdr.rev.clock >> 16) >= closed)
            it->stale = *stale = true;
    }
    return DBK_OK;
}

/* The row the stream holds of the item's record into *cur (cur->exists false when it holds none),
 * its envelope's length into *old_len and its creator into *creator. */
static int
record_read(sq_store *st, const dbk_id *stream, const dbk_push_item *it, dbk_stored_record *cur,
            int64_t *old_len, dbk_id *creator)
{
    PREP(g, Q_RECORD_GET);
    bind_id(g, 1, stream);
    bind_id(g, 2, &it->hdr.record);
    int rc = one(st, g);
    if (rc == DBK_E_NOT_FOUND)
        return DBK_OK;
    if (rc != DBK_OK)
        return rc;
    cur->exists = true;
    cur->seq = sqlite3_column_int64(g, 0);
    cur->current.clock = (uint64_t)sqlite3_column_int64(g, 1);
    col_id(g, 2, &cur->current.device);
    *old_len = sqlite3_column_bytes(g, 3);
    cur->same_bytes =
        (size_t)*old_len == it->len && memcmp(sqlite3_column_blob(g, 3), it->env, it->len) == 0;
    col_id(g, 4, &cur->creator);
    *creator = cur->creator;
    sqlite3_reset(g);
    return DBK_OK;
}

/* A push that stored nothing answers with the head it was given (known), which no
 * compare-and-set of streams.seq checks then (sq_push's last step): the store's head is
 * read instead, and one other than known's (the caller's cache behind, authcache.h) is
 * answered and said (head_moved), so that the caller empties its cache; never a head
 * that readers have passed. A duplicate push (a response lost, the same records sent
 * again) pays the read. */
static int
known_head_checked(sq_store *st, dbk_push_batch *b)
{
    dbk_stream now;
    int rc;
    if (b->known == NULL)
        return DBK_OK; /* read in this push */
    if ((rc = sq_stream_get(st, &b->stream, &now)) != DBK_OK)
        return rc;
    if (now.seq != b->high_seq) {
        b->head_moved = true;
        b->high_seq = now.seq;
        b->epoch = now.epoch;
        b->rotation_pending = now.rotation_pending;
    }
    return DBK_OK;
}

/* One stream's push (backend.h), in the rules' order (rules.c): the head, the epochs,
 * each item stored or judged, the owner's bytes, the head moved. Over 80 lines: each
 * step reads the head and the next seq the one before left, which split functions
 * would pass around as a struct of their own. */
static int
sq_push(sq_store *st, dbk_push_batch *b)
{
    dbk_stream str;
    int64_t added = 0, head;
    bool stale = false;
    int rc;

    b->head_moved = false;
    /* The row as the caller's access check took it in this transaction (its seq kept
     * by every push this thread stored, authcache.h), else as the store has it: one
     * writer, so the same row. */
    if (b->known != NULL)
        str = *b->known;
    else if ((rc = sq_stream_get(st, &b->stream, &str)) != DBK_OK)
        return rc;
    head = str.seq;
    b->epoch = str.epoch;
    b->rotation_pending = str.rotation_pending;
    b->nstored = 0;
    b->seq_from = b->seq_to = 0;
    if ((rc = epochs_check(st, b, &str, &stale)) != DBK_OK)
        return rc;
    if (stale) {
        b->epoch_stale = true;
        b->high_seq = str.seq;
        return DBK_E_STALE;
    }
    for (size_t i = 0; i < b->n; i++) {
        dbk_push_item *it = &b->items[i];
        dbk_stored_record cur = {.exists = false};
        int64_t old_len = 0;
        dbk_id creator = it->hdr.author;
        bool author_is_owner = dbk_id_equal(&it->hdr.author, &str.owner);
        bool inserted = false;
        /* the seq this item takes if stored, by its insert or its upsert alike */
        int64_t next = str.seq + 1;

        /* A non-owner author writes only at epochs it was given (and, rules.c, only
         * records it created). */
        if (!author_is_owner) {
            rc = sq_grant_held(st, &b->stream, &it->hdr.author, it->hdr.epoch);
            if (rc != DBK_OK)
                return rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
        }
        /* A new record (a sync's usual push) is stored by its insert alone: a record
         * the stream does not hold is stored whatever its revision, unless the item
         * expects one (rules.c). The insert changes nothing when the stream holds the
         * record; it is read then, and judged as before. */
        if (it->expect_kind != DBK_EXPECT_REVISION) {
            if ((rc = push_write(st, b, Q_RECORD_INSERT, it, next, &creator, head)) != DBK_OK)
                return rc;
            inserted = sqlite3_changes(st->db) == 1;
        }
        if (!inserted && (rc = record_read(st, &b->stream, it, &cur, &old_len, &creator)) != DBK_OK)
            return rc;
        rc = dbk_push_decide(it, &cur, author_is_owner);
        if (rc < 0)
            return rc;
        /* A record the stream did not hold is stored (rules.c); were it ever judged
         * otherwise, its row already holds next: the push fails (the job is undone)
         * rather than keep a record the answer does not name. */
        if (inserted && rc != DBK_PUSH_DO_STORE) {
            DBK_LOG(DBK_LOG_ERROR, "push_insert_not_stored", DBK_INT("decision", rc));
            return DBK_E_INTERNAL;
        }
        if (rc == DBK_PUSH_DO_STALE)
            stale = true;
        if (rc != DBK_PUSH_DO_STORE)
            continue;
        it->seq = str.seq = next;
        if (b->nstored++ == 0)
            b->seq_from = it->seq;
        b->seq_to = it->seq;
        added += (int64_t)it->len - old_len;
        if (!inserted &&
            (rc = push_write(st, b, Q_RECORD_UPSERT, it, it->seq, &creator, head)) != DBK_OK)
            return rc;
        it->has_current = true;
        it->current = it->hdr.rev;
    }
    b->high_seq = str.seq;
    if (stale)
        return DBK_E_STALE;
    if (b->nstored == 0)
        return known_head_checked(st, b);
    /* The audit row's bytes with the records', one statement where that refuses exactly
     * what two would: the records adding bytes, the total is checked as the audit row's
     * charge was. A push that shrinks its records is charged twice, as before: its audit
     * row is checked against the quota after the shrink, which one unchecked negative
     * charge would skip. A read row the caller is about to write (read_row_charge)
     * rides along unchecked, as its own charge would be. */
    b->also_charged = b->also_charge > 0 && added >= 0;
    if ((rc = sq_charge_more(st, dbk_id_is_zero(&b->payer) ? &str.owner : &b->payer,
                             b->also_charged ? added + b->also_charge : added,
                             b->also_charged ? b->read_row_charge : 0, b->quota)) != DBK_OK)
        return rc;
    b->read_row_charged = b->also_charged && b->read_row_charge > 0;
    /* A head taken (known) other than the store's: where the seqs it gave were
     * records' the writes above were refused (push_write); where they were free (a new
     * revision leaves one) it would have stored the records at seqs readers may have
     * passed: the push fails here instead, and its caller undoes it. */
    PREP(q2, Q_STREAM_SET_SEQ);
    bind_id(q2, 1, &b->stream);
    sqlite3_bind_int64(q2, 2, str.seq);
    sqlite3_bind_int64(q2, 3, head);
    if ((rc = run(st, q2)) != DBK_OK)
        return rc;
    b->head_moved = sqlite3_changes(st->db) != 1;
    return b->head_moved ? DBK_E_INTERNAL : DBK_OK;
}

static int
sq_pull(sq_store *st, const dbk_id *stream, const dbk_id *reader, int64_t now, int64_t since,
        size_t limit, size_t max_bytes, dbk_record_cb cb, void *arg, bool *more, int64_t *last_seq,
        size_t *bytes_out, dbk_pull_charge *charge)
{
    size_t count = 0, bytes = 0;
    int rc;

    if (charge != NULL)
        charge->charged = false; /* the caller's (one writer: no round trip to save) */
    *more = false;
    *last_seq = since;
    PREP(s, Q_RECORDS_SINCE);
    bind_id(s, 1, stream);
    sqlite3_bind_int64(s, 2, since);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1); /* one more tells whether more remain */
    sqlite3_bind_int(s, 4, reader == NULL);
    if (reader != NULL)
        bind_id(s, 5, reader);
    sqlite3_bind_int64(s, 6, now);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        if (!dbk_pull_takes(count, bytes, len, limit, max_bytes)) {
            *more = true;
            break;
        }
        *last_seq = sqlite3_column_int64(s, 0);
        cb(*last_seq, sqlite3_column_blob(s, 1), len, arg);
        count++;
        bytes += len;
    }
    sqlite3_reset(s);
    *bytes_out += bytes;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? DBK_OK : map_rc(st, rc);
}

/* ---- audit ---- */

static int
sq_audit_append(sq_store *st, dbk_audit_entry *e)
{
    unsigned char last_hash[DBK_HASH_BYTES] = {0};
    int64_t last = 0;
    int rc;

    /* Within one open transaction nothing but this connection writes the table: the
     * head the last row of it left is the head (a group writes two rows a sync). */
    if (st->audit_known && st->in_tx && !sqlite3_get_autocommit(st->db)) {
        last = st->audit_last;
        memcpy(last_hash, st->audit_hash, DBK_HASH_BYTES);
    } else {
        PREP(l, Q_AUDIT_LAST);
        rc = one(st, l);
        if (rc == DBK_OK) {
            last = sqlite3_column_int64(l, 0);
            col_fixed(l, 1, last_hash, DBK_HASH_BYTES);
            sqlite3_reset(l);
        } else if (rc != DBK_E_NOT_FOUND) {
            return rc;
        }
    }
    dbk_audit_chain_next(e, last, last_hash);
    PREP(s, Q_AUDIT_INSERT);
    sqlite3_bind_int64(s, 1, e->index);
    sqlite3_bind_int64(s, 2, e->at);
    sqlite3_bind_int(s, 3, (int)e->action);
    sqlite3_bind_int(s, 4, (int)e->actor_role);
    bind_id(s, 5, &e->actor);
    bind_id(s, 6, &e->device);
    bind_id(s, 7, &e->stream);
    bind_id(s, 8, &e->owner);
    bind_id(s, 9, &e->grantee);
    sqlite3_bind_int64(s, 10, e->epoch);
    sqlite3_bind_int64(s, 11, e->count);
    sqlite3_bind_int64(s, 12, e->seq_from);
    sqlite3_bind_int64(s, 13, e->seq_to);
    sqlite3_bind_blob(s, 14, e->prev, DBK_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(s, 15, e->hash, DBK_HASH_BYTES, SQLITE_STATIC);
    rc = run(st, s);
    st->audit_known = rc == DBK_OK && st->in_tx;
    if (st->audit_known) {
        st->audit_last = e->index;
        memcpy(st->audit_hash, e->hash, DBK_HASH_BYTES);
    }
    return rc;
}

static void
read_audit(sqlite3_stmt *s, dbk_audit_entry *e)
{
    e->index = sqlite3_column_int64(s, 0);
    e->at = sqlite3_column_int64(s, 1);
    e->action = (enum dbk_audit_action)sqlite3_column_int(s, 2);
    e->actor_role = (enum dbk_role)sqlite3_column_int(s, 3);
    col_id(s, 4, &e->actor);
    col_id(s, 5, &e->device);
    col_id(s, 6, &e->stream);
    col_id(s, 7, &e->owner);
    col_id(s, 8, &e->grantee);
    e->epoch = (uint32_t)sqlite3_column_int64(s, 9);
    e->count = (uint32_t)sqlite3_column_int64(s, 10);
    e->seq_from = sqlite3_column_int64(s, 11);
    e->seq_to = sqlite3_column_int64(s, 12);
    col_fixed(s, 13, e->prev, DBK_HASH_BYTES);
    col_fixed(s, 14, e->hash, DBK_HASH_BYTES);
}

static int
sq_audit_of_owner(sq_store *st, const dbk_id *owner, int64_t since, size_t limit,
                         dbk_audit_cb cb, void *arg, bool *more)
{
    dbk_audit_entry e;
    size_t n = 0;
    int rc;

    *more = false;
    PREP(s, Q_AUDIT_OF_OWNER);
    bind_id(s, 1, owner);
    sqlite3_bind_int64(s, 2, since);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        read_audit(s, &e);
        cb(&e, arg);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? DBK_OK : map_rc(st, rc);
}

static int
sq_audit_verify(sq_store *st, int64_t *checked, int64_t *bad_index)
{
    dbk_audit_walk w;
    dbk_audit_entry e;
    int rc, bad = DBK_OK;

    dbk_audit_walk_init(&w);
    PREP(s, Q_AUDIT_ALL);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_audit(s, &e);
        if ((bad = dbk_audit_walk_step(&w, &e)) != DBK_OK)
            break;
    }
    sqlite3_reset(s);
    *checked = w.checked;
    *bad_index = w.bad_index;
    return bad != DBK_OK ? bad : map_rc(st, rc);
}

/* ---- admin ---- */

/* fdatasync of path through a descriptor of this process: it flushes every write to
 * the file, whichever process made it. A file that is not there has nothing to flush. */
static int
sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = DBK_OK;
    if (fd < 0)
        return errno == ENOENT ? DBK_OK : DBK_E_IO;
    if (fdatasync(fd) != 0) {
        DBK_LOG(DBK_LOG_ERROR, "backup_sync_failed", DBK_STR("error", strerror(errno)));
        rc = DBK_E_IO;
    }
    close(fd);
    return rc;
}

/*
 * daybookd backup, while daybookd serve may be committing to the same file. The
 * copy is one snapshot, and holds only what is durable:
 *
 * - The snapshot is this connection's read transaction, begun first and held until
 *   the copy is done, and the copy is one sqlite3_backup_step of every page, which
 *   reads inside the transaction it finds open. SQLite restarts a step-wise backup
 *   from page 1 whenever another connection wrote between steps (each step would
 *   begin a read transaction of its own), which under steady pushes may never end.
 * - The server commits with synchronous=NORMAL and syncs the log on its sync
 *   thread before it answers (dbk_store_defer_sync), so the log can hold commits
 *   that are not on disk yet, none acknowledged. A snapshot sees every commit up to
 *   the log's last frame as the snapshot began; those frames were written to the
 *   log file before the wal-index said so, and no writer starts the log over while
 *   this snapshot reads it. The fdatasync of the log below comes after the snapshot
 *   began, so everything the copy holds was on disk before a page of it was read.
 *   The pages read from daybook.db came from the log by a checkpoint, which syncs
 *   the log before it copies (under NORMAL too); daybook.db is synced as well, so
 *   the copy never depends on a write that is still in the page cache.
 *
 * Without the sync, a power cut could take from the live store a commit the backup
 * holds (a push never acknowledged, which the device sends again and which gets
 * another seq): the backup would not be a state the server ever durably had. While
 * the snapshot is held, checkpoints (all passive) cannot copy past it, so the log
 * may grow past --wal-max-mb for as long as the copy takes.
 */
static int
sq_backup(sq_store *st, const char *path)
{
    char wal[4200];
    sqlite3 *dst = NULL;
    sqlite3_backup *b = NULL;
    int rc, step = SQLITE_ERROR;

    if ((size_t)snprintf(wal, sizeof wal, "%s-wal", st->file) >= sizeof wal)
        return DBK_E_IO;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        sqlite3_close(dst);
        return DBK_E_IO;
    }
    /* BEGIN is deferred: the snapshot starts at the first read, and is checked. */
    rc = exec(st, "BEGIN; SELECT count(*) FROM sqlite_schema;");
    if (rc == DBK_OK && sqlite3_txn_state(st->db, "main") != SQLITE_TXN_READ)
        rc = DBK_E_IO;
    if (rc == DBK_OK && (rc = sync_path(wal)) == DBK_OK)
        rc = sync_path(st->file);
    if (rc == DBK_OK && (b = sqlite3_backup_init(dst, "main", st->db, "main")) == NULL)
        rc = DBK_E_IO;
    if (rc == DBK_OK) {
        step = sqlite3_backup_step(b, -1);
        rc = step == SQLITE_DONE ? DBK_OK : step == SQLITE_FULL ? DBK_E_STORAGE_FULL : DBK_E_IO;
    }
    sqlite3_backup_finish(b);
    if (!sqlite3_get_autocommit(st->db))
        exec(st, "COMMIT"); /* a read transaction: ends the snapshot */
    if (sqlite3_close(dst) != SQLITE_OK && rc == DBK_OK)
        rc = DBK_E_IO;
    return rc;
}

int
dbk_sqlite_copy_backup(const char *src, const char *dst, dbk_id *server_id)
{
    char uri[4200];
    sqlite3 *in = NULL, *out = NULL;
    sqlite3_stmt *q = NULL;
    sqlite3_backup *b;
    int rc = DBK_E_CORRUPT;

    /* immutable: no locks, no -shm, no WAL recovery written next to the backup. */
    if ((size_t)snprintf(uri, sizeof uri, "file:%s?mode=ro&immutable=1", src) >= sizeof uri)
        return DBK_E_IO;
    if (sqlite3_open_v2(uri, &in, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        sqlite3_close(in);
        return DBK_E_IO;
    }
    if (sqlite3_prepare_v2(in, "SELECT value FROM meta WHERE key = 'server_id'", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == DBK_ID_BYTES) {
        memcpy(server_id->b, sqlite3_column_blob(q, 0), DBK_ID_BYTES);
        rc = DBK_OK;
    }
    sqlite3_finalize(q);
    if (rc == DBK_OK) {
        rc = DBK_E_IO;
        if (sqlite3_open_v2(dst, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ==
                SQLITE_OK &&
            (b = sqlite3_backup_init(out, "main", in, "main")) != NULL) {
            int step = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
            rc = step == SQLITE_DONE ? DBK_OK : step == SQLITE_FULL ? DBK_E_STORAGE_FULL : DBK_E_IO;
        }
        if (sqlite3_close(out) != SQLITE_OK && rc == DBK_OK)
            rc = DBK_E_IO;
    }
    sqlite3_close(in);
    return rc;
}

static int
sq_check(sq_store *st, char *msg, size_t msgsz)
{
    sqlite3_stmt *s = NULL;
    int64_t checked, bad;
    int rc;

    if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
        return DBK_E_UNAVAILABLE;
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
        snprintf(msg, msgsz, "integrity_check: %s",
                 rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : "failed");
        sqlite3_finalize(s);
        return DBK_E_CORRUPT;
    }
    sqlite3_finalize(s);
    if ((rc = sq_audit_verify(st, &checked, &bad)) != DBK_OK) {
        snprintf(msg, msgsz, "audit chain broken at entry %lld", (long long)bad);
        return rc;
    }
    snprintf(msg, msgsz, "integrity ok; audit chain ok (%lld entries)", (long long)checked);
    return DBK_OK;
}

/* ---- whole tables (daybookd migrate) ---- */

/* "SELECT a, b FROM t ORDER BY o" or "INSERT INTO t(a, b) VALUES (?, ?)" into buf. */
static int
table_sql(const dbk_table *t, bool insert, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, insert ? "INSERT INTO %s(" : "SELECT ", t->name);
    for (size_t i = 0; i < t->ncols && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", t->cols[i].name);
    if (n < cap && insert) {
        n += (size_t)snprintf(buf + n, cap - n, ") VALUES (");
        for (size_t i = 0; i < t->ncols && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s?", i ? ", " : "");
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ")");
    } else if (n < cap) {
        n += (size_t)snprintf(buf + n, cap - n, " FROM %s ORDER BY %s", t->name, t->order);
    }
    return n < cap ? DBK_OK : DBK_E_INTERNAL;
}

static int
sq_table_rows(sq_store *st, const dbk_table *t, dbk_row_cb cb, void *arg)
{
    char sql[1024];
    dbk_value v[32];
    sqlite3_stmt *s = NULL;
    int rc;

    if (t->ncols > 32 || table_sql(t, false, sql, sizeof sql) != DBK_OK)
        return DBK_E_INTERNAL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return map_rc(st, sqlite3_errcode(st->db));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (size_t i = 0; i < t->ncols; i++) {
            int c = (int)i;
            memset(&v[i], 0, sizeof v[i]);
            v[i].null = sqlite3_column_type(s, c) == SQLITE_NULL;
            if (t->cols[i].type == DBK_COL_INT) {
                v[i].i = sqlite3_column_int64(s, c);
            } else {
                v[i].p = t->cols[i].type == DBK_COL_TEXT ? sqlite3_column_text(s, c)
                                                         : sqlite3_column_blob(s, c);
                v[i].len = (size_t)sqlite3_column_bytes(s, c);
            }
        }
        if ((rc = cb(v, arg)) != 0) {
            sqlite3_finalize(s);
            return rc;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? DBK_OK : map_rc(st, rc);
}

static int
sq_table_insert(sq_store *st, const dbk_table *t, const dbk_value *row)
{
    char sql[1024];
    sqlite3_stmt *s = NULL;
    int rc;

    if (table_sql(t, true, sql, sizeof sql) != DBK_OK)
        return DBK_E_INTERNAL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return map_rc(st, sqlite3_errcode(st->db));
    for (size_t i = 0; i < t->ncols; i++) {
        int c = (int)i + 1;
        if (row[i].null)
            sqlite3_bind_null(s, c);
        else if (t->cols[i].type == DBK_COL_INT)
            sqlite3_bind_int64(s, c, row[i].i);
        else if (t->cols[i].type == DBK_COL_TEXT)
            sqlite3_bind_text(s, c, (const char *)row[i].p, (int)row[i].len, SQLITE_STATIC);
        else
            sqlite3_bind_blob(s, c, row[i].p ? (const void *)row[i].p : "", (int)row[i].len,
                              SQLITE_STATIC);
    }
    rc = run(st, s);
    sqlite3_finalize(s);
    return rc;
}

static int
sq_table_clear(sq_store *st, const dbk_table *t)
{
    char sql[128];
    if ((size_t)snprintf(sql, sizeof sql, "DELETE FROM %s", t->name) >= sizeof sql)
        return DBK_E_INTERNAL;
    return exec(st, sql);
}

DBK_BACKEND_TABLE(sq_ops, "sqlite")
