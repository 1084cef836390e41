/*
 * The PostgreSQL backend, through libpq, for one database shared by several
 * daybookd nodes. Its functions are the operations of store/backend.h with the
 * prefix pg_; the schema is store/schema.c's, the push and pull rules
 * store/rules.c's. docs/DESIGN.md ("Several nodes, one database") explains the design; the
 * invariants:
 *
 * - Only storage threads call in here (worker.c), never the event loop. Each
 *   thread has its own connection (pg_clone): the worker's pool.
 * - Statements are prepared once per connection (PQprepare, named q<N>, on first
 *   use), parameters and results travel in binary, every integer column is BIGINT.
 * - Round trips are what daybookd pays for on PostgreSQL beyond SQLite: statements
 *   that do not wait on each other's answers go in one (pipelines, pl_*), and
 *   BEGIN, SAVEPOINT and RELEASE wait for the next statement (defer). A token is
 *   read with its account and with the rows of the streams the job names
 *   (pg_expect_streams), a pull with its audit row's charge.
 * - The pull cursor: a push reads the stream's row with SELECT ... FOR UPDATE and
 *   keeps the lock to its commit, so a stream's sequence numbers are given and made
 *   visible in one order; "seq > since" never skips a record committed late. (A
 *   global serial would: see docs/DESIGN.md.)
 * - The lock order: no transaction waits for a row lock while it holds one taken by
 *   an earlier job of its group, so two groups (of two threads or two nodes) that
 *   reach the same streams in opposite orders cannot deadlock. A push takes its
 *   stream's row and then its payer's (push_start); while the transaction holds
 *   other locks it takes them only if free (SKIP LOCKED), and if one is not, what the
 *   transaction did so far is committed (tx_split) and they are waited for with
 *   nothing held. Any other statement that may wait (query_locks) commits the earlier
 *   jobs first in the same way. The token's extension and the device's last seen
 *   never wait: a row another transaction holds is left to it. What still waits
 *   holds only its own job's locks.
 * - The audit chain is one chain for the whole database. Entries are kept in
 *   memory during a transaction and chained just before COMMIT under an advisory
 *   lock (AUDIT_LOCK), so that lock is held only for those inserts and the commit,
 *   and its holder waits for no other lock: no deadlock through the chain. Index
 *   order is commit order. A savepoint rolled back drops its entries.
 * - Inserts that may meet an existing key say ON CONFLICT DO NOTHING and count the
 *   rows: a unique violation would abort the whole group's transaction.
 * - The database away: a statement that fails for the connection (SQLSTATE 08xxx,
 *   57Pxx, or no SQLSTATE at all), a deadlock, a serialization failure or a lock
 *   timeout gives DBK_E_STORE_UNAVAILABLE (503 store_unavailable with Retry-After).
 *   The next transaction reconnects, at most once a second; daybookd stays up.
 *
 * This file is built alone as daybookd-postgresql.so, the only part of the server
 * that links libpq; daybookd loads it with dlopen when a store URL is postgresql://
 * (store.c). Its one exported symbol is dbk_pg_module_table (backend.h); the functions of
 * the server core it calls are daybookd's own, exported to it (pg/host.sym).
 */
#include "../backend.h"
#include "../schema.h"
#include "../seen.h"

#include "dbk/bytes.h"
#include "dbk/error.h"
#include "dbk/log.h"
#include "dbk/version.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct pg_store pg_store;
#define DBK_BACKEND_TYPE pg_store
#define DBK_BACKEND_PREFIXED(name) pg_##name
DBK_BACKEND_DECLARE()

/* Advisory lock keys ("dbk" and a number): the schema's migrations, the audit chain. */
#define SCHEMA_LOCK 0x64626b0000000001LL
#define AUDIT_LOCK 0x64626b0000000002LL
#define RECONNECT_MS 1000
#define SP_MAX 64
#define DEFER_MAX 8
#define MAX_PARAMS 16
/* Last seen (pg_token_check): devices remembered per connection, 4-way by id, and
 * notes of one transaction at most (a group is at most 256 jobs). */
#define SEEN_SETS 1024
#define SEEN_TX_MAX 256
/* Stream rows read ahead for a job (pg_expect_streams). */
#define AHEAD_MAX DBK_STORE_EXPECT_MAX

/* Parameter types, one letter each: b bytea, i int8, t text, o bool. */
enum q {
    Q_META_GET,
    Q_META_ADD,
    Q_META_SET,
    Q_ACCOUNT_INSERT,
    Q_ACCOUNT_GET,
    Q_ACCOUNT_BUMP_GRANTS,
    Q_ACCOUNT_SET_BUNDLE,
    Q_ACCOUNT_ADD_BYTES,
    Q_ACCOUNT_ADD_BYTES_TRY,
    Q_CLIENTS_OF,
    Q_COUNSELORS,
    Q_DISABLED_GET,
    Q_DISABLED_PUT,
    Q_DISABLED_DELETE,
    Q_TOKENS_OF_ACCOUNT_DELETE,
    Q_INVITE_INSERT,
    Q_INVITE_BY_HASH,
    Q_INVITE_TAKE,
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
    Q_TOKEN_ACCOUNT,
    Q_TOKEN_DELETE,
    Q_TOKEN_EXTEND,
    Q_TOKENS_REVOKE_OTHERS,
    Q_DEVICE_TOUCH,
    Q_CHALLENGE_INSERT,
    Q_CHALLENGE_TAKE,
    Q_CHALLENGE_PURGE,
    Q_STREAM_INSERT,
    Q_STREAM_GET,
    Q_STREAM_LOCK,
    Q_STREAM_TRY,
    Q_PAYER_LOCK,
    Q_PAYER_TRY,
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
    Q_RECORDS_SINCE,
    Q_RECORDS_SINCE_CHARGE,
    Q_AUDIT_LOCK,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_OF_OWNER,
    Q_AUDIT_PAGE,
    Q__COUNT
};

#define ACCOUNT_COLS                                                                               \
    "id, role, name, sign_pk, box_pk, login_pk, bundle, generation, counselor, created_at,"        \
    " used_bytes, grants_seq"
#define INVITE_COLS "id, kind, secret_hash, counselor, name, created_at, expires_at, used_at"
#define STREAM_COLS "id, owner, kind, epoch, seq, rotation_pending"
#define GRANT_COLS "stream, grantee, epoch, grant_bytes, created_at, expires_at, revoked_at"
#define STREAM_LOCK_SQL "SELECT " STREAM_COLS " FROM streams WHERE id = $1 FOR NO KEY UPDATE"
/* The payer's row; no payer: the stream's owner. */
#define PAYER_LOCK_SQL                                                                             \
    "SELECT 1 FROM accounts WHERE id = coalesce($1, (SELECT owner FROM streams WHERE id = $2))"    \
    " FOR NO KEY UPDATE"
#define RECORDS_SINCE_SQL                                                                          \
    "records WHERE stream = $1 AND seq > $2 AND ($4 OR epoch IN (SELECT epoch FROM grants"         \
    " WHERE stream = $1 AND grantee = $5 AND revoked_at = 0"                                       \
    " AND (expires_at = 0 OR expires_at > $6))) ORDER BY seq LIMIT $3"
#define AUDIT_COLS                                                                                 \
    "idx, at, action, actor_role, actor, device, stream, owner, grantee, epoch, count,"            \
    " seq_from, seq_to, prev, hash"

static const struct query {
    const char *types;
    const char *sql;
} queries[Q__COUNT] = {
    [Q_META_GET] = {"t", "SELECT value FROM meta WHERE key = $1"},
    [Q_META_ADD] = {"tb", "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING"},
    [Q_META_SET] = {"tb", "INSERT INTO meta(key, value) VALUES ($1, $2)"
                          " ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
    [Q_ACCOUNT_INSERT] = {"bitbbbbibi",
                          "INSERT INTO accounts(id, role, name, sign_pk, box_pk, login_pk, bundle,"
                          " generation, counselor, created_at) VALUES"
                          " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING"},
    [Q_ACCOUNT_GET] = {"b", "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1"},
    [Q_ACCOUNT_BUMP_GRANTS] = {"b", "UPDATE accounts SET grants_seq = grants_seq + 1"
                                    " WHERE id = $1"},
    [Q_ACCOUNT_SET_BUNDLE] = {"bbbi", "UPDATE accounts SET bundle = $2, login_pk = $3,"
                                      " generation = $4 WHERE id = $1"},
    [Q_ACCOUNT_ADD_BYTES] = {"bi", "UPDATE accounts SET used_bytes = used_bytes + $2"
                                   " WHERE id = $1 RETURNING used_bytes"},
    /* The same, never waiting: no row when another transaction holds it (pg_charge). */
    [Q_ACCOUNT_ADD_BYTES_TRY] = {"bi", "UPDATE accounts SET used_bytes = used_bytes + $2"
                                       " WHERE id = (SELECT id FROM accounts WHERE id = $1"
                                       " FOR NO KEY UPDATE SKIP LOCKED) RETURNING used_bytes"},
    [Q_CLIENTS_OF] = {"b", "SELECT " ACCOUNT_COLS " FROM accounts WHERE counselor = $1"
                           " OR id IN (SELECT s.owner FROM grants g JOIN streams s"
                           " ON s.id = g.stream WHERE g.grantee = $1 AND s.owner <> $1)"
                           " ORDER BY created_at"},
    [Q_COUNSELORS] = {"", "SELECT " ACCOUNT_COLS " FROM accounts WHERE role = 2"
                          " ORDER BY created_at"},
    [Q_DISABLED_GET] = {"b", "SELECT disabled_at FROM disabled_accounts WHERE account = $1"},
    [Q_DISABLED_PUT] = {"bi", "INSERT INTO disabled_accounts(account, disabled_at)"
                              " VALUES ($1, $2) ON CONFLICT DO NOTHING"},
    [Q_DISABLED_DELETE] = {"b", "DELETE FROM disabled_accounts WHERE account = $1"},
    [Q_TOKENS_OF_ACCOUNT_DELETE] = {"b", "DELETE FROM tokens WHERE account = $1"},
    [Q_INVITE_INSERT] = {"bibbtii",
                         "INSERT INTO invites(id, kind, secret_hash, counselor, name, created_at,"
                         " expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING"},
    [Q_INVITE_BY_HASH] = {"b", "SELECT " INVITE_COLS " FROM invites WHERE secret_hash = $1"},
    /* One statement, so two nodes can never both use one code. */
    [Q_INVITE_TAKE] = {"bi", "UPDATE invites SET used_at = $2 WHERE secret_hash = $1"
                             " AND used_at = 0 AND expires_at > $2 RETURNING " INVITE_COLS},
    [Q_INVITES_OF] = {"b", "SELECT " INVITE_COLS " FROM invites WHERE counselor = $1"
                           " ORDER BY created_at"},
    /* "used_at = 0" as written: the partial index invites_pending (schema.c). */
    [Q_INVITES_PENDING] = {"bi", "SELECT " INVITE_COLS " FROM invites WHERE counselor = $1"
                                 " AND used_at = 0 AND expires_at > $2 ORDER BY expires_at"},
    [Q_INVITE_DELETE] = {"bb", "DELETE FROM invites WHERE id = $1 AND counselor = $2"},
    [Q_DEVICE_INSERT] = {"bbti", "INSERT INTO devices(id, account, name, created_at, last_seen)"
                                 " VALUES ($1,$2,$3,$4,$4) ON CONFLICT DO NOTHING"},
    [Q_DEVICES_OF] = {"b", "SELECT id, account, name, created_at, last_seen FROM devices"
                           " WHERE account = $1 ORDER BY created_at"},
    [Q_DEVICE_DELETE] = {"bb", "DELETE FROM devices WHERE id = $1 AND account = $2"},
    [Q_DEVICE_LAST_SEEN] = {"b", "SELECT coalesce(max(last_seen), 0) FROM devices"
                                 " WHERE account = $1"},
    [Q_TOKENS_OF_DEVICE_DELETE] = {"b", "DELETE FROM tokens WHERE device = $1"},
    [Q_TOKEN_INSERT] = {"bbbi", "INSERT INTO tokens(hash, account, device, expires_at)"
                                " VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING"},
    [Q_TOKEN_GET] = {"b", "SELECT account, device, expires_at FROM tokens WHERE hash = $1"},
    /* The token's account, asked with the token (pg_token_check, the account note). */
    [Q_TOKEN_ACCOUNT] = {"b", "SELECT " ACCOUNT_COLS " FROM accounts WHERE id ="
                              " (SELECT account FROM tokens WHERE hash = $1)"},
    [Q_TOKEN_DELETE] = {"b", "DELETE FROM tokens WHERE hash = $1"},
    /* Never waits: a row another transaction holds is left to it (lock order, above).
     * Should that one roll back, the token's next request slides it (pg_token_check
     * reads the row first: the slide stays due until one is committed). */
    [Q_TOKEN_EXTEND] = {"bii", "UPDATE tokens SET expires_at = $2 WHERE hash = (SELECT hash"
                               " FROM tokens WHERE hash = $1 AND expires_at < $3"
                               " FOR NO KEY UPDATE SKIP LOCKED)"},
    [Q_TOKENS_REVOKE_OTHERS] = {"bb", "DELETE FROM tokens WHERE account = $1 AND device <> $2"},
    /* Never waits, as the token's extension; says whether the minute is written now
     * (by this statement, or committed before it), not when another transaction holds
     * the row. */
    [Q_DEVICE_TOUCH] = {"bi", "WITH l AS (SELECT id FROM devices WHERE id = $1 AND last_seen < $2"
                              " FOR NO KEY UPDATE SKIP LOCKED), u AS (UPDATE devices"
                              " SET last_seen = $2 WHERE id IN (SELECT id FROM l) RETURNING 1)"
                              " SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM devices"
                              " WHERE id = $1 AND last_seen >= $2)"},
    [Q_CHALLENGE_INSERT] = {"bbbii", "INSERT INTO challenges(challenge, account, device,"
                                     " purpose, expires_at) VALUES ($1,$2,$3,$4,$5)"
                                     " ON CONFLICT DO NOTHING"},
    /* Taken and deleted in one statement: single use across every node. */
    [Q_CHALLENGE_TAKE] = {"b", "DELETE FROM challenges WHERE challenge = $1"
                               " RETURNING account, device, purpose, expires_at"},
    [Q_CHALLENGE_PURGE] = {"i", "DELETE FROM challenges WHERE expires_at < $1"},
    [Q_STREAM_INSERT] = {"bbii", "INSERT INTO streams(id, owner, kind, epoch)"
                                 " VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING"},
    [Q_STREAM_GET] = {"b", "SELECT " STREAM_COLS " FROM streams WHERE id = $1"},
    /* The push's lock: held to commit, it orders the stream's sequence numbers. NO KEY
     * UPDATE, as the UPDATE of its counter takes anyway. The payer's row (its
     * used_bytes) is locked with it, after it; the TRY forms never wait (push_start). */
    [Q_STREAM_LOCK] = {"b", STREAM_LOCK_SQL},
    [Q_STREAM_TRY] = {"b", STREAM_LOCK_SQL " SKIP LOCKED"},
    [Q_PAYER_LOCK] = {"bb", PAYER_LOCK_SQL},
    [Q_PAYER_TRY] = {"bb", PAYER_LOCK_SQL " SKIP LOCKED"},
    [Q_STREAMS_OWNED] = {"b", "SELECT " STREAM_COLS " FROM streams WHERE owner = $1"
                              " ORDER BY kind"},
    [Q_STREAMS_GRANTED] = {"bi", "SELECT DISTINCT s.id, s.owner, s.kind, s.epoch, s.seq,"
                                 " s.rotation_pending FROM streams s JOIN grants g"
                                 " ON g.stream = s.id WHERE g.grantee = $1 AND g.revoked_at = 0"
                                 " AND s.owner <> $1 AND (g.expires_at = 0 OR g.expires_at > $2)"
                                 " ORDER BY s.owner"},
    [Q_STREAM_SET_SEQ] = {"bi", "UPDATE streams SET seq = $2 WHERE id = $1"},
    [Q_STREAM_RAISE_EPOCH] = {"bi", "UPDATE streams SET epoch = $2, rotation_pending = 0"
                                    " WHERE id = $1 AND epoch + 1 = $2"},
    /* SQLite's INSERT OR REPLACE: a replaced row starts unrevoked and unclosed. */
    [Q_GRANT_INSERT] = {"bbibii",
                        "INSERT INTO grants(stream, grantee, epoch, grant_bytes, created_at,"
                        " expires_at) VALUES ($1,$2,$3,$4,$5,$6)"
                        " ON CONFLICT (stream, grantee, epoch) DO UPDATE SET"
                        " grant_bytes = excluded.grant_bytes, created_at = excluded.created_at,"
                        " expires_at = excluded.expires_at, revoked_at = 0, closed_at = 0"},
    [Q_GRANT_GET] = {"bbi", "SELECT grant_bytes FROM grants WHERE stream = $1 AND grantee = $2"
                            " AND epoch = $3"},
    [Q_GRANT_KEEP_REVOKED] = {"bbi",
                              "INSERT INTO grant_history SELECT stream, grantee, epoch,"
                              " grant_bytes, created_at, expires_at, revoked_at, closed_at"
                              " FROM grants WHERE stream = $1 AND grantee = $2 AND epoch = $3"
                              " AND revoked_at <> 0"},
    [Q_GRANT_ANY] = {"bb", "SELECT 1 FROM grants WHERE stream = $1 AND grantee = $2 LIMIT 1"},
    [Q_GRANT_HELD] = {"bbi", "SELECT 1 FROM grants WHERE stream = $1 AND grantee = $2"
                             " AND epoch = $3"},
    [Q_EPOCH_CLOSED_AT] = {"bi", "SELECT g.closed_at FROM grants g JOIN streams s"
                                 " ON s.id = g.stream WHERE g.stream = $1"
                                 " AND g.grantee = s.owner AND g.epoch = $2"},
    [Q_EPOCH_CLOSE] = {"bii", "UPDATE grants SET closed_at = $3 WHERE stream = $1"
                              " AND epoch = $2 AND grantee = (SELECT owner FROM streams"
                              " WHERE id = $1) AND closed_at = 0"},
    [Q_STREAM_SET_ROTATION] = {"b", "UPDATE streams SET rotation_pending = 1 WHERE id = $1"},
    [Q_GRANTS_OF_STREAM] = {"b", "SELECT " GRANT_COLS " FROM grants WHERE stream = $1"
                                 " UNION ALL SELECT " GRANT_COLS " FROM grant_history"
                                 " WHERE stream = $1 ORDER BY 3, 2, 5"},
    [Q_GRANTS_TO] = {"b", "SELECT " GRANT_COLS " FROM grants WHERE grantee = $1"
                          " ORDER BY stream, epoch"},
    [Q_GRANT_REVOKE] = {"bbi", "UPDATE grants SET revoked_at = $3 WHERE stream = $1"
                               " AND grantee = $2 AND revoked_at = 0"},
    [Q_GRANT_LIVE] = {"bbi", "SELECT max(epoch) FROM grants WHERE stream = $1 AND grantee = $2"
                             " AND revoked_at = 0 AND (expires_at = 0 OR expires_at > $3)"},
    [Q_GRANT_EXPIRED] = {"bbi", "SELECT 1 FROM grants WHERE stream = $1 AND grantee = $2"
                                " AND revoked_at = 0 AND expires_at <> 0 AND expires_at <= $3"
                                " LIMIT 1"},
    [Q_RECORD_GET] = {"bb", "SELECT seq, clock, device, envelope, creator FROM records"
                            " WHERE stream = $1 AND record = $2"},
    [Q_RECORD_UPSERT] = {"bbiibibb",
                         "INSERT INTO records(stream, record, seq, clock, device, epoch,"
                         " creator, envelope) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
                         " ON CONFLICT (stream, record) DO UPDATE SET seq = excluded.seq,"
                         " clock = excluded.clock, device = excluded.device,"
                         " epoch = excluded.epoch, creator = excluded.creator,"
                         " envelope = excluded.envelope"},
    [Q_RECORDS_SINCE] = {"biiobi", "SELECT seq, envelope FROM " RECORDS_SINCE_SQL},
    /* The same, and the payer ($8) charged $7 bytes (the reader's audit row) when it
     * gives a row, in the rows' snapshot: charged says so on every row. The payer's
     * row is never waited for: not charged when another transaction holds it, then
     * charged after the rows (pg_pull, the lock order at the top). */
    [Q_RECORDS_SINCE_CHARGE] = {"biiobiib",
                                "WITH r AS (SELECT seq, envelope FROM " RECORDS_SINCE_SQL "),"
                                " c AS (UPDATE accounts SET used_bytes = used_bytes + $7"
                                " WHERE id = (SELECT id FROM accounts WHERE id = $8"
                                " AND EXISTS (SELECT 1 FROM r) FOR NO KEY UPDATE SKIP LOCKED)"
                                " RETURNING 1)"
                                " SELECT seq, envelope, (SELECT count(*) FROM c) FROM r"
                                " ORDER BY seq"},
    [Q_AUDIT_LOCK] = {"i", "SELECT pg_advisory_xact_lock($1)"},
    [Q_AUDIT_LAST] = {"", "SELECT idx, hash FROM audit ORDER BY idx DESC LIMIT 1"},
    [Q_AUDIT_INSERT] = {"iiiibbbbbiiiibb",
                        "INSERT INTO audit(" AUDIT_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,"
                        "$10,$11,$12,$13,$14,$15)"},
    [Q_AUDIT_OF_OWNER] = {"bii", "SELECT " AUDIT_COLS " FROM audit WHERE owner = $1"
                                 " AND idx > $2 ORDER BY idx LIMIT $3"},
    [Q_AUDIT_PAGE] = {"ii", "SELECT " AUDIT_COLS " FROM audit WHERE idx > $1 ORDER BY idx"
                            " LIMIT $2"},
};

struct pg_store {
    dbk_store base; /* first: the operation table (store/backend.h) */
    PGconn *conn;
    char *url;
    bool prepared[Q__COUNT];
    int last_err;       /* the first error of this transaction, or DBK_OK */
    bool in_tx;         /* between tx_begin and its commit or rollback */
    bool away;          /* the last connection attempt failed (logged once) */
    int64_t retry_at;   /* no new connection attempt before (monotonic ms) */
    /* The audit entries of the open transaction, chained at commit. */
    dbk_audit_entry *pending;
    size_t npending, cap;
    size_t marks[SP_MAX]; /* npending at each open savepoint */
    int sp_depth;
    /* The lock order (the top): whether this transaction may hold a row lock, and
     * whether it did when the running job began (an earlier job's). */
    bool held, held_before;
    int64_t splits; /* tx_split's commits in this transaction (pg_tx_splits) */
    /* Statements no answer is waited for (SAVEPOINT, RELEASE): sent with the next
     * statement, in its round trip (pl_begin). */
    const char *defer[DEFER_MAX];
    int ndefer;
    /* Last seen (pg_token_check): the minute this connection last wrote for a device,
     * or found written, by committed transactions (store/seen.h; here minute and
     * stored are always equal); and what the open one wrote, kept once it commits. */
    dbk_seen_way seen[SEEN_SETS][DBK_SEEN_WAYS];
    struct pg_seen_note {
        dbk_id device;
        int64_t minute;
    } seen_tx[SEEN_TX_MAX];
    size_t nseen_tx;
    /* The account note: the row of a checked token's account, read in the token's
     * round trip (pg_token_check) for the account_get that follows it (api.c, every
     * authenticated job), served only if no statement was sent in between
     * (sent_at == sent) and only once. */
    uint64_t sent; /* statements and pipelines sent on this connection */
    uint64_t note_at;
    bool noted;
    dbk_account note;
    /* The streams the running job expects to ask access to (pg_expect_streams): asked
     * (want) with its token, their rows (ahead) answer pg_access once each, until the
     * job ends, pushes to the stream, or the transaction commits part way. */
    dbk_id want[AHEAD_MAX];
    size_t nwant;
    struct pg_ahead {
        dbk_id id;
        bool found;
        dbk_stream row;
    } ahead[AHEAD_MAX];
    size_t nahead;
};

static const dbk_store_ops pg_ops;

/* ---- parameters and columns ---- */

typedef struct params {
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    unsigned char num[MAX_PARAMS][8];
    int n;
} params;

static void
p_blob(params *p, const void *b, size_t len)
{
    p->v[p->n] = len ? b : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n++] = 1;
}

static void
p_id(params *p, const dbk_id *id)
{
    p_blob(p, id->b, DBK_ID_BYTES);
}

/* A zero id is stored as NULL (no counselor), as in SQLite. */
static void
p_id_or_null(params *p, const dbk_id *id)
{
    if (dbk_id_is_zero(id)) {
        p->v[p->n] = NULL;
        p->len[p->n] = 0;
        p->fmt[p->n++] = 1;
    } else {
        p_id(p, id);
    }
}

static void
p_i64(params *p, int64_t v)
{
    dbk_put_u64(p->num[p->n], (uint64_t)v);
    p_blob(p, p->num[p->n], 8);
}

static void
p_text(params *p, const char *s)
{
    p_blob(p, s, strlen(s));
}

static void
p_bool(params *p, bool b)
{
    p->num[p->n][0] = b ? 1 : 0;
    p_blob(p, p->num[p->n], 1);
}

static void
p_null(params *p)
{
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 1;
}

static int64_t
c_i64(const PGresult *r, int row, int col)
{
    const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
    switch (PQgetlength(r, row, col)) {
    case 8: return (int64_t)dbk_get_u64(v);
    case 4: return (int32_t)dbk_get_u32(v);
    case 2: return (int16_t)(v[0] << 8 | v[1]);
    case 1: return v[0];
    default: return 0; /* NULL */
    }
}

static void
c_fixed(const PGresult *r, int row, int col, unsigned char *out, size_t n)
{
    if (!PQgetisnull(r, row, col) && (size_t)PQgetlength(r, row, col) == n)
        memcpy(out, PQgetvalue(r, row, col), n);
    else
        memset(out, 0, n);
}

static void
c_id(const PGresult *r, int row, int col, dbk_id *id)
{
    c_fixed(r, row, col, id->b, DBK_ID_BYTES);
}

static void
c_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
    size_t len = (size_t)PQgetlength(r, row, col);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, PQgetvalue(r, row, col), len);
    out[len] = '\0';
}

/* ---- connection and errors ---- */

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The notices of CREATE ... IF NOT EXISTS would go to stderr: not a log line. */
static void
quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static bool
conn_ok(const pg_store *st)
{
    return st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK;
}

/* Maps a failed result (NULL: the call itself failed) to a dbk error. */
static int
fail(pg_store *st, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int err;

    if (!conn_ok(st) || state == NULL || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0)
        err = DBK_E_STORE_UNAVAILABLE; /* connection lost, server shutting down */
    else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
             strcmp(state, "55P03") == 0)
        err = DBK_E_STORE_UNAVAILABLE; /* serialization failure, deadlock, lock timeout */
    else if (strcmp(state, "53100") == 0)
        err = DBK_E_STORAGE_FULL;
    else if (strcmp(state, "53200") == 0)
        err = DBK_E_NOMEM;
    else if (strncmp(state, "23", 2) == 0)
        err = DBK_E_CONFLICT;
    else if (strcmp(state, "25P02") == 0 && st->last_err != DBK_OK)
        return st->last_err; /* an earlier statement of this transaction failed */
    else
        err = DBK_E_UNAVAILABLE;
    /* The SQLSTATE and the primary message only: a detail may quote values. */
    if (err != DBK_E_CONFLICT)
        DBK_LOG(err == DBK_E_STORE_UNAVAILABLE ? DBK_LOG_WARN : DBK_LOG_ERROR, "store_error",
                DBK_STR("sqlstate", state ? state : "none"),
                DBK_STR("pg", r && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                                  ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                                  : PQerrorMessage(st->conn)));
    if (st->last_err == DBK_OK)
        st->last_err = err;
    return err;
}

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_SAVEPOINT[] = "SAVEPOINT job";
static const char SQL_RELEASE[] = "RELEASE job";

/* Session settings of every connection: a lock is not waited on forever (a node
 * stopped while holding one), nor is a transaction left open. */
static const char SESSION_SQL[] = "SET lock_timeout = '10s';"
                                  "SET idle_in_transaction_session_timeout = '60s';";

/*
 * A usable connection, or DBK_E_STORE_UNAVAILABLE. A lost one is replaced, at most
 * once per RECONNECT_MS; the first failure and the return are logged.
 */
static int
ensure(pg_store *st)
{
    static const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "daybookd", st->url, NULL};
    PGresult *r;

    if (conn_ok(st))
        return DBK_OK;
    if (mono_ms() < st->retry_at)
        return DBK_E_STORE_UNAVAILABLE;
    if (st->conn != NULL)
        PQfinish(st->conn);
    memset(st->prepared, 0, sizeof st->prepared);
    st->ndefer = 0;
    /* The URL's own settings come after the defaults, so they win. */
    st->conn = PQconnectdbParams(keys, vals, 1);
    if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(st->conn, quiet_notices, NULL);
        r = PQexec(st->conn, SESSION_SQL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok) {
            if (st->away)
                DBK_LOG(DBK_LOG_WARN, "store_reconnected");
            st->away = false;
            return DBK_OK;
        }
    }
    if (!st->away)
        DBK_LOG(DBK_LOG_ERROR, "store_unreachable",
                DBK_STR("pg", st->conn ? PQerrorMessage(st->conn) : "out of memory"),
                DBK_STR("effect", "requests answered 503 store_unavailable; retrying"));
    st->away = true;
    st->retry_at = mono_ms() + RECONNECT_MS;
    return DBK_E_STORE_UNAVAILABLE;
}

static int flush(pg_store *st);

/* Prepares query id on this connection if it is not yet (its name is q<id>). */
static int
prepare(pg_store *st, enum q id, char name[16])
{
    PGresult *r;
    int rc = DBK_OK;

    if (!conn_ok(st)) {
        if (st->last_err == DBK_OK)
            st->last_err = DBK_E_STORE_UNAVAILABLE;
        return DBK_E_STORE_UNAVAILABLE;
    }
    snprintf(name, 16, "q%d", (int)id);
    if (!st->prepared[id]) {
        Oid types[MAX_PARAMS];
        /* A PREPARE that fails in a transaction aborts it as any statement does, up to
         * the innermost savepoint the server has: the deferred SAVEPOINT and RELEASE go
         * first (once per statement and connection), so that is the job's own and the
         * job fails alone (its ROLLBACK TO), never the job before it, whose RELEASE
         * would have waited. */
        if (st->ndefer > 0 && (rc = flush(st)) != DBK_OK)
            return rc;
        int n = (int)strlen(queries[id].types);
        for (int i = 0; i < n; i++)
            switch (queries[id].types[i]) {
            case 'b': types[i] = 17; break; /* bytea */
            case 'i': types[i] = 20; break; /* int8 */
            case 't': types[i] = 25; break; /* text */
            default: types[i] = 16; break;  /* bool */
            }
        st->sent++;
        r = PQprepare(st->conn, name, queries[id].sql, n, types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = fail(st, r);
        else
            st->prepared[id] = true;
        PQclear(r);
    }
    return rc;
}

/* ---- pipelines: several statements, one round trip ----
 *
 * libpq's pipeline mode: statements are sent one after another and their results
 * read in order after one Sync, so the statements of a step that do not wait on
 * each other's answers (a push's reads of its records, then its writes; the audit
 * chain's inserts and the COMMIT) cost one round trip together, where each cost its
 * own: a send, a poll and a receive on daybookd's side and a wake-up of both
 * processes, which was most of what daybookd spent on a record beyond SQLite. The
 * server runs them in order, each with its own snapshot as if sent alone. Inside
 * the transaction the Sync commits nothing; a statement that fails aborts the
 * transaction as it would alone, and the ones after it are skipped
 * (PGRES_PIPELINE_ABORTED) instead of failing one by one. Statements are prepared
 * before the pipeline starts: PQprepare waits for its answer, which a pipeline
 * cannot. */
#define PIPE_MAX 72

typedef struct pline {
    bool open;               /* in pipeline mode: pl_end must read it to its end */
    int pre;                 /* deferred statements sent first (st->defer) */
    int n;                   /* statements sent after them */
    int rc;                  /* the first failure */
    PGresult *res[PIPE_MAX]; /* their results, in order; NULL for a failed or skipped one */
} pline;

/* Prepares every query of ids on this connection that is not yet. */
static int
prepare_all(pg_store *st, const enum q *ids, size_t n)
{
    char name[16];
    int rc = DBK_OK;
    for (size_t i = 0; i < n && rc == DBK_OK; i++)
        rc = prepare(st, ids[i], name);
    return rc;
}

static void pl_abandon(pg_store *st);

static int
pl_begin(pg_store *st, pline *pl)
{
    pl->n = pl->pre = 0;
    pl->rc = DBK_OK;
    pl->open = false;
    if (!conn_ok(st)) {
        if (st->last_err == DBK_OK)
            st->last_err = DBK_E_STORE_UNAVAILABLE;
        return pl->rc = DBK_E_STORE_UNAVAILABLE;
    }
    st->sent++;
    if (!PQenterPipelineMode(st->conn)) {
        pl->rc = fail(st, NULL);
        if (st->ndefer > 0)
            pl_abandon(st); /* deferred statements lost: as one that failed (pl_end) */
        return pl->rc;
    }
    pl->open = true;
    for (int i = 0; i < st->ndefer && pl->rc == DBK_OK; i++) {
        if (!PQsendQueryParams(st->conn, st->defer[i], 0, NULL, NULL, NULL, NULL, 1))
            pl->rc = fail(st, NULL);
        else
            pl->pre++;
    }
    if (pl->pre < st->ndefer) { /* one could not be sent: as one that failed (pl_end) */
        pl->open = false;
        pl_abandon(st);
    }
    st->ndefer = 0;
    return pl->rc;
}

/* Queues prepared query id (prepare_all first); a failure shows in pl_end. */
static void
pl_send(pg_store *st, pline *pl, enum q id, const params *p)
{
    char name[16];
    if (pl->rc != DBK_OK || !pl->open)
        return;
    if (pl->n == PIPE_MAX || !st->prepared[id]) {
        pl->rc = DBK_E_INTERNAL;
        return;
    }
    snprintf(name, sizeof name, "q%d", (int)id);
    if (!PQsendQueryPrepared(st->conn, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                             p ? p->fmt : NULL, 1))
        pl->rc = fail(st, NULL);
    else
        pl->res[pl->n++] = NULL;
}

/* Queues a statement without parameters (COMMIT). */
static void
pl_send_sql(pg_store *st, pline *pl, const char *sql)
{
    if (pl->rc != DBK_OK || !pl->open)
        return;
    if (pl->n == PIPE_MAX) {
        pl->rc = DBK_E_INTERNAL;
        return;
    }
    if (!PQsendQueryParams(st->conn, sql, 0, NULL, NULL, NULL, NULL, 1))
        pl->rc = fail(st, NULL);
    else
        pl->res[pl->n++] = NULL;
}

/* A connection whose pipeline could not be read to its end cannot be trusted with
 * the next statement: it is dropped, and the next transaction connects again. */
static void
pl_abandon(pg_store *st)
{
    PQfinish(st->conn);
    st->conn = NULL;
    st->ndefer = 0;
    if (st->last_err == DBK_OK)
        st->last_err = DBK_E_STORE_UNAVAILABLE;
}

typedef void (*row_fn)(const PGresult *r, int i, void *arg);

/* Sends the pipeline and reads every result (pl->res, for pl_clear). DBK_OK when
 * every statement succeeded, else the first failure. The rows of statement `rows`
 * (its index among those sent after the deferred ones; -1: none) go to each_row as
 * they arrive (single-row mode, as each() reads them) instead of into pl->res. */
static int
pl_end_rows(pg_store *st, pline *pl, int rows, row_fn each_row, void *arg)
{
    int i = 0, nulls = 0, target = rows < 0 ? -1 : pl->pre + rows;
    bool synced = false, deferred_failed = false, between = true;

    if (!pl->open)
        return pl->rc != DBK_OK ? pl->rc : DBK_E_STORE_UNAVAILABLE;
    pl->open = false;
    if (!PQpipelineSync(st->conn)) {
        if (pl->rc == DBK_OK)
            pl->rc = fail(st, NULL);
        pl_abandon(st);
        return pl->rc;
    }
    /* Each statement's results end with a NULL; the Sync's result ends the pipeline.
     * Two NULLs in a row: nothing more is coming (the connection is lost). */
    while (!synced) {
        /* Between two statements' results (after the NULL that ends the one before):
         * the next one's mode may be chosen. Should it be refused, the rows come whole
         * (PGRES_TUPLES_OK, below): the same rows, held at once. */
        if (between && i == target)
            PQsetSingleRowMode(st->conn);
        PGresult *r = PQgetResult(st->conn);
        between = r == NULL;
        if (r == NULL) {
            if (++nulls == 2)
                break;
            continue;
        }
        nulls = 0;
        switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
            synced = true;
            PQclear(r);
            break;
        case PGRES_SINGLE_TUPLE: /* one row of statement target; its end follows */
            if (i == target && pl->rc == DBK_OK)
                each_row(r, 0, arg);
            PQclear(r);
            break;
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
            if (i == target) {
                for (int k = 0; k < PQntuples(r) && pl->rc == DBK_OK; k++)
                    each_row(r, k, arg);
                i++;
                PQclear(r);
                break;
            }
            if (i >= pl->pre && i - pl->pre < pl->n) {
                pl->res[i++ - pl->pre] = r;
                break;
            }
            i++;
            PQclear(r);
            break;
        default: /* the failure, or PGRES_PIPELINE_ABORTED after it */
            if (pl->rc == DBK_OK)
                pl->rc = fail(st, r);
            deferred_failed |= i < pl->pre;
            i++;
            PQclear(r);
            break;
        }
    }
    /* Every statement answered (a result or a failure), or none is trusted. A deferred
     * one that failed (an earlier job's RELEASE, this job's SAVEPOINT) leaves the
     * savepoints other than the jobs believe: this job's ROLLBACK TO would undo the
     * job before it, already answered as stored. The transaction goes whole. */
    if (!synced || i != pl->pre + pl->n || deferred_failed || !PQexitPipelineMode(st->conn)) {
        if (pl->rc == DBK_OK)
            pl->rc = fail(st, NULL);
        pl_abandon(st);
    }
    return pl->rc;
}

static int
pl_end(pg_store *st, pline *pl)
{
    return pl_end_rows(st, pl, -1, NULL, NULL);
}

static void
pl_clear(pline *pl)
{
    for (int i = 0; i < pl->n; i++) {
        PQclear(pl->res[i]);
        pl->res[i] = NULL;
    }
    pl->n = 0;
}

/* Sends the deferred statements now, for a statement that cannot carry them. */
static int
flush(pg_store *st)
{
    pline pl;
    int rc;
    if (st->ndefer == 0)
        return DBK_OK;
    pl_begin(st, &pl);
    rc = pl_end(st, &pl);
    pl_clear(&pl);
    return rc;
}

/* sql (a constant), sent with the next statement. */
static int
defer(pg_store *st, const char *sql)
{
    int rc;
    if (st->ndefer == DEFER_MAX && (rc = flush(st)) != DBK_OK)
        return rc;
    st->defer[st->ndefer++] = sql;
    return DBK_OK;
}

/* What a query does with row locks, for the lock order (the top). */
enum lk {
    LK_NONE,   /* a read */
    LK_NOWAIT, /* takes locks, never waits for another transaction's */
    LK_WAIT,   /* may wait */
};

/* Decided once per query, from its rule or its SQL text (query_locks). */
static enum lk
query_locks_of(enum q id)
{
    switch (id) {
    case Q_TOKEN_EXTEND:
    case Q_DEVICE_TOUCH:
    case Q_STREAM_TRY:
    case Q_PAYER_TRY: /* SKIP LOCKED */
    case Q_STREAM_LOCK:
    case Q_PAYER_LOCK: /* push_start's own rule */
    case Q_ACCOUNT_ADD_BYTES_TRY: /* SKIP LOCKED */
    case Q_RECORDS_SINCE_CHARGE:
    case Q_RECORD_UPSERT:
    case Q_STREAM_SET_SEQ: /* rows the push holds already */
    case Q_AUDIT_INSERT:   /* under the chain's lock, at commit */
        return LK_NOWAIT;
    case Q_AUDIT_LOCK:
        return LK_NONE; /* at commit, after every row lock (the top) */
    default:
        return strncmp(queries[id].sql, "SELECT ", 7) == 0 &&
                       strstr(queries[id].sql, " FOR ") == NULL
                   ? LK_NONE
                   : LK_WAIT;
    }
}

static unsigned char query_lk[Q__COUNT];
static pthread_once_t query_lk_once = PTHREAD_ONCE_INIT;

static void
query_lk_build(void)
{
    for (int i = 0; i < Q__COUNT; i++)
        query_lk[i] = (unsigned char)query_locks_of((enum q)i);
}

/* query_locks_of, read from a table made at the first call of any thread. */
static enum lk
query_locks(enum q id)
{
    pthread_once(&query_lk_once, query_lk_build);
    return (enum lk)query_lk[id];
}

static PGresult *audit_commit(pg_store *st, int *rc);
static void seen_committed(pg_store *st);
static bool begin_waits(const pg_store *st);
static int tx_open(pg_store *st);
static int simple(pg_store *st, const char *sql);

/*
 * Commits what the transaction did so far and begins the next one, the open
 * savepoints made again (sent with the next statement): for a job about to wait for
 * a row lock while the transaction holds others (the lock order, at the top). The
 * jobs before the running one are stored then, and answered with the group with
 * their own results even if the rest of it fails later (the worker asks
 * pg_tx_splits after each job); what the running one did before (its token's last
 * seen, a sync's earlier streams, each released in its own savepoint) is committed
 * with them and no longer undone by its savepoint, which now covers what it does
 * after. Its audit entries so far are committed too: should it fail later, or the
 * rest of the group, it is answered with the failure although that part is stored
 * (a sync sent again finds its earlier streams' records duplicates). A failure of
 * this COMMIT ends the transaction: every job since the last split fails, and a
 * COMMIT that went through but whose answer is lost makes jobs answered 503 that
 * were stored (a push sent again is a duplicate).
 */
static int
tx_split(pg_store *st)
{
    PGresult *r;
    int rc, depth = st->sp_depth;

    if ((rc = tx_open(st)) != DBK_OK)
        return rc;
    /* SAVEPOINTs or RELEASEs not sent: the COMMIT ends them all (a BEGIN not sent
     * goes with it). */
    st->ndefer = begin_waits(st) ? 1 : 0;
    if ((r = audit_commit(st, &rc)) == NULL)
        return rc != DBK_OK ? rc : DBK_E_UNAVAILABLE;
    if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = st->last_err != DBK_OK ? st->last_err : DBK_E_UNAVAILABLE;
    PQclear(r);
    if (rc != DBK_OK)
        return rc;
    st->splits++;
    st->nahead = 0; /* read before the commit */
    seen_committed(st);
    st->held = st->held_before = false;
    DBK_LOG(DBK_LOG_DEBUG, "store_split", DBK_INT("savepoints", depth));
    if ((rc = defer(st, SQL_BEGIN)) != DBK_OK)
        return rc;
    for (int i = 0; i < depth && rc == DBK_OK; i++) {
        st->marks[i] = 0;
        rc = defer(st, SQL_SAVEPOINT);
    }
    return rc;
}

/* Runs a prepared query; the result (rows or a command's) or NULL with *rc set. */
static PGresult *
run(pg_store *st, enum q id, const params *p, int *rc)
{
    char name[16];
    PGresult *r;
    enum lk lk = query_locks(id);

    /* The first statement of a job that may wait, while an earlier job's locks are
     * held: those are committed first. */
    if (lk == LK_WAIT && st->in_tx && st->held_before && (*rc = tx_split(st)) != DBK_OK)
        return NULL;
    if ((*rc = prepare(st, id, name)) != DBK_OK)
        return NULL;
    if (lk != LK_NONE && st->in_tx)
        st->held = true;  /* even when it fails: a lock taken before the failure */
    if (st->ndefer > 0) { /* with them, in one round trip */
        pline pl;
        pl_begin(st, &pl);
        pl_send(st, &pl, id, p);
        if ((*rc = pl_end(st, &pl)) != DBK_OK) {
            pl_clear(&pl);
            return NULL;
        }
        r = pl.res[0];
        pl.res[0] = NULL;
        pl_clear(&pl);
        return r;
    }
    st->sent++;
    r = PQexecPrepared(st->conn, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                       p ? p->fmt : NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        *rc = fail(st, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* A write: DBK_OK and *changed (may be NULL) the rows it touched. */
static int
exec_q(pg_store *st, enum q id, const params *p, int64_t *changed)
{
    int rc;
    PGresult *r = run(st, id, p, &rc);
    if (r == NULL)
        return rc;
    if (changed != NULL)
        *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return DBK_OK;
}

/* A query for one row: the result, or NULL with *rc DBK_E_NOT_FOUND or an error. */
static PGresult *
one(pg_store *st, enum q id, const params *p, int *rc)
{
    PGresult *r = run(st, id, p, rc);
    if (r != NULL && PQntuples(r) == 0) {
        PQclear(r);
        *rc = DBK_E_NOT_FOUND;
        return NULL;
    }
    return r;
}

/* Statements without parameters (transactions, savepoints, the schema). */
static int
simple(pg_store *st, const char *sql)
{
    PGresult *r;
    int rc = DBK_OK;
    if (!conn_ok(st))
        return DBK_E_STORE_UNAVAILABLE;
    if ((rc = flush(st)) != DBK_OK)
        return rc;
    st->sent++;
    r = PQexec(st->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = fail(st, r);
    PQclear(r);
    return rc;
}

/* ---- open, transactions ---- */

static int
meta_get(pg_store *st, const char *key, void *out, size_t len)
{
    params p = {.n = 0};
    int rc;
    p_text(&p, key);
    PGresult *r = one(st, Q_META_GET, &p, &rc);
    if (r == NULL)
        return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
    rc = (size_t)PQgetlength(r, 0, 0) == len ? DBK_OK : DBK_E_CORRUPT;
    if (rc == DBK_OK)
        memcpy(out, PQgetvalue(r, 0, 0), len);
    PQclear(r);
    return rc;
}

static int
meta_put(pg_store *st, enum q which, const char *key, const void *val, size_t len)
{
    params p = {.n = 0};
    p_text(&p, key);
    p_blob(&p, val, len);
    return exec_q(st, which, &p, NULL);
}

static int
schema_exec(void *ctx, const char *sql)
{
    return simple(ctx, sql);
}

static int
schema_meta_add(void *ctx, const char *key, const void *val, size_t len)
{
    return meta_put(ctx, Q_META_ADD, key, val, len);
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

/*
 * The schema version the database holds, or 0 when it has no schema yet (or it cannot
 * be read: init_schema then takes the long way and says why).
 */
static int64_t
stored_version(pg_store *st)
{
    PGresult *r = PQexecParams(st->conn, "SELECT value FROM meta WHERE key = 'schema_version'",
                               0, NULL, NULL, NULL, NULL, 1);
    int64_t v = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 8)
        v = (int64_t)dbk_get_u64((const unsigned char *)PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/*
 * Creates or migrates the schema; one node at a time (SCHEMA_LOCK). A database already
 * at this version is left alone without a lock or a DDL statement: CREATE INDEX IF NOT
 * EXISTS still locks its table, and a node starting while others serve deadlocked
 * with their pushes (integration.pg_nodes).
 */
static int
init_schema(pg_store *st)
{
    const dbk_schema_io io = {st, schema_exec, schema_meta_add, schema_meta_get,
                              schema_meta_set};
    char lock[64];
    int64_t have = stored_version(st);
    int rc;

    if (have == DBK_SCHEMA_VERSION)
        return DBK_OK;
    if (have > DBK_SCHEMA_VERSION)
        return DBK_E_VERSION; /* made by a newer daybookd: do not touch it */
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)SCHEMA_LOCK);
    if ((rc = simple(st, "BEGIN")) != DBK_OK)
        return rc;
    if ((rc = simple(st, lock)) == DBK_OK &&
        (rc = dbk_schema_apply(&io, DBK_DIALECT_PG)) == DBK_OK)
        rc = simple(st, "COMMIT");
    if (rc != DBK_OK)
        simple(st, "ROLLBACK");
    st->last_err = DBK_OK;
    return rc;
}

static int
connect_store(const char *url, pg_store **out)
{
    pg_store *st = calloc(1, sizeof *st);
    *out = NULL;
    if (st == NULL || (st->url = strdup(url)) == NULL) {
        free(st);
        return DBK_E_NOMEM;
    }
    st->base.ops = &pg_ops;
    if (ensure(st) != DBK_OK) {
        pg_close(st);
        return DBK_E_STORE_UNAVAILABLE;
    }
    *out = st;
    return DBK_OK;
}

static int
pg_open_url(const char *url, dbk_store **out)
{
    pg_store *st;
    int rc;

    *out = NULL;
    if ((rc = connect_store(url, &st)) != DBK_OK)
        return rc;
    if ((rc = init_schema(st)) != DBK_OK) {
        pg_close(st);
        return rc;
    }
    *out = &st->base;
    return DBK_OK;
}

static int
pg_clone(pg_store *st, dbk_store **out)
{
    pg_store *c;
    int rc = connect_store(st->url, &c);
    *out = rc == DBK_OK ? &c->base : NULL;
    return rc;
}

static void
pg_close(pg_store *st)
{
    if (st->conn != NULL)
        PQfinish(st->conn);
    if (st->url != NULL) {
        sodium_memzero(st->url, strlen(st->url)); /* it may hold a password */
        free(st->url);
    }
    free(st->pending);
    free(st);
}

/* ---- last seen (pg_token_check) ----
 *
 * A device's last_seen is the minute of its last authenticated request (proto/README
 * section 5), and every node must answer it so: the row is written in the request's
 * own transaction, as before, never noted for later as the SQLite store does (a note
 * on one node would be invisible to another node's GET /v1/devices or caseload until
 * written). What is saved is the statement: once a committed transaction of this
 * connection wrote a device's minute, or found it written (by another node), its
 * later requests in that minute send nothing, where each sent an UPDATE that changed
 * no row. last_seen only moves forward, so what was found stays true. */

/* Whether a committed transaction wrote device's minute, or a later one. */
static bool
seen_current(pg_store *st, const dbk_id *device, int64_t minute)
{
    const dbk_seen_way *e =
        dbk_seen_find(dbk_seen_set(st->seen, SEEN_SETS, device), device, NULL);
    return e != NULL && e->stored >= minute;
}

/* After the COMMIT returned: what the transaction wrote is what the database holds
 * (or less than it). A full set gives up the way seen longest ago. */
static void
seen_committed(pg_store *st)
{
    for (size_t i = 0; i < st->nseen_tx; i++) {
        const struct pg_seen_note *n = &st->seen_tx[i];
        dbk_seen_way *spare = NULL,
                     *e = dbk_seen_find(dbk_seen_set(st->seen, SEEN_SETS, &n->device),
                                        &n->device, &spare);
        if (e == NULL)
            e = spare; /* never NULL here: no way waits */
        if (e != NULL && e->minute < n->minute) {
            e->device = n->device;
            e->minute = e->stored = n->minute;
        }
    }
    st->nseen_tx = 0;
}

static int
pg_tx_begin(pg_store *st)
{
    int rc;
    st->last_err = DBK_OK;
    st->npending = 0;
    st->nseen_tx = 0;
    st->sp_depth = 0;
    st->ndefer = 0;
    st->in_tx = false;
    st->held = st->held_before = false;
    st->splits = 0;
    st->noted = false;
    st->nahead = st->nwant = 0;
    /* Sent with the first statement (defer), as a job's savepoint is. */
    if ((rc = ensure(st)) != DBK_OK || (rc = defer(st, SQL_BEGIN)) != DBK_OK)
        return rc;
    st->in_tx = true;
    return DBK_OK;
}

/* Whether the transaction's BEGIN waits to be sent with its first statement. */
static bool
begin_waits(const pg_store *st)
{
    return st->ndefer > 0 && st->defer[0] == SQL_BEGIN;
}

/* Nodes share the database and every one of them writes: no number here could say
 * that nobody else did, so nothing is cached on PostgreSQL (store.h). */
static int
pg_data_version(pg_store *st, int64_t *out)
{
    (void)st;
    *out = 0;
    return DBK_E_UNAVAILABLE;
}

/* DBK_OK while the transaction can go on; else the error that ended it. */
static int
tx_open(pg_store *st)
{
    if (conn_ok(st) && (PQtransactionStatus(st->conn) == PQTRANS_INTRANS ||
                        (PQtransactionStatus(st->conn) == PQTRANS_IDLE && begin_waits(st))))
        return DBK_OK;
    if (!conn_ok(st))
        return DBK_E_STORE_UNAVAILABLE;
    return st->last_err != DBK_OK ? st->last_err : DBK_E_UNAVAILABLE;
}

static bool
pg_tx_alive(pg_store *st)
{
    return st->in_tx && tx_open(st) == DBK_OK;
}

static int64_t
pg_tx_splits(pg_store *st)
{
    return st->splits;
}

static void read_audit(const PGresult *r, int row, dbk_audit_entry *e);
static void read_stream(const PGresult *r, int i, dbk_stream *out);

static void
send_audit_insert(pg_store *st, pline *pl, const dbk_audit_entry *e)
{
    params p = {.n = 0};
    p_i64(&p, e->index);
    p_i64(&p, e->at);
    p_i64(&p, (int64_t)e->action);
    p_i64(&p, (int64_t)e->actor_role);
    p_id(&p, &e->actor);
    p_id(&p, &e->device);
    p_id(&p, &e->stream);
    p_id(&p, &e->owner);
    p_id(&p, &e->grantee);
    p_i64(&p, e->epoch);
    p_i64(&p, e->count);
    p_i64(&p, e->seq_from);
    p_i64(&p, e->seq_to);
    p_blob(&p, e->prev, DBK_HASH_BYTES);
    p_blob(&p, e->hash, DBK_HASH_BYTES);
    pl_send(st, pl, Q_AUDIT_INSERT, &p);
}

/* At most this many audit inserts in one pipeline (the last ones with the COMMIT). */
#define AUDIT_CHUNK (PIPE_MAX - 1)

/*
 * Chains the transaction's audit entries after the chain's head and commits. The
 * chain's lock (AUDIT_LOCK) and its head are asked in one round trip, the head read
 * by its own statement once the lock is held; the inserts and the COMMIT go in
 * another, so the lock, which every node's commits wait for, is held for one round
 * trip and the commit's flush, not one round trip per entry. Returns the COMMIT's
 * result (NULL with *rc set when it was not reached).
 */
static PGresult *
audit_commit(pg_store *st, int *rc)
{
    static const enum q used[] = {Q_AUDIT_LOCK, Q_AUDIT_LAST, Q_AUDIT_INSERT};
    unsigned char last_hash[DBK_HASH_BYTES] = {0};
    int64_t last = 0;
    params p = {.n = 0};
    pline pl;
    size_t from = 0;

    if (st->npending > 0) {
        if ((*rc = prepare_all(st, used, sizeof used / sizeof used[0])) != DBK_OK)
            return NULL;
        pl_begin(st, &pl);
        p_i64(&p, AUDIT_LOCK);
        pl_send(st, &pl, Q_AUDIT_LOCK, &p);
        pl_send(st, &pl, Q_AUDIT_LAST, NULL);
        if ((*rc = pl_end(st, &pl)) == DBK_OK && PQntuples(pl.res[1]) > 0) {
            last = c_i64(pl.res[1], 0, 0);
            c_fixed(pl.res[1], 0, 1, last_hash, DBK_HASH_BYTES);
        }
        pl_clear(&pl);
        if (*rc != DBK_OK)
            return NULL;
        for (size_t i = 0; i < st->npending; i++) {
            dbk_audit_entry *e = &st->pending[i];
            dbk_audit_chain_next(e, last, last_hash);
            last = e->index;
            memcpy(last_hash, e->hash, DBK_HASH_BYTES);
        }
    }
    for (;;) {
        size_t to = st->npending - from > AUDIT_CHUNK ? from + AUDIT_CHUNK : st->npending;
        bool commit = to == st->npending;
        PGresult *r = NULL;
        pl_begin(st, &pl);
        for (size_t i = from; i < to; i++)
            send_audit_insert(st, &pl, &st->pending[i]);
        if (commit)
            pl_send_sql(st, &pl, "COMMIT");
        if ((*rc = pl_end(st, &pl)) == DBK_OK && commit) {
            r = pl.res[pl.n - 1];
            pl.res[pl.n - 1] = NULL;
        }
        pl_clear(&pl);
        if (*rc != DBK_OK || commit) {
            if (*rc == DBK_OK)
                st->npending = 0;
            return r;
        }
        from = to;
    }
}

static int
pg_tx_commit(pg_store *st)
{
    PGresult *r;
    int rc = tx_open(st);

    if (rc != DBK_OK)
        return rc; /* the worker rolls back */
    if (begin_waits(st) && st->ndefer == 1 && st->npending == 0) {
        st->ndefer = 0; /* nothing was sent: nothing to commit */
        st->in_tx = false;
        return DBK_OK;
    }
    if ((r = audit_commit(st, &rc)) == NULL)
        return rc != DBK_OK ? rc : DBK_E_UNAVAILABLE; /* not committed: the worker rolls back */
    if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = st->last_err != DBK_OK ? st->last_err : DBK_E_UNAVAILABLE; /* it rolled back */
    PQclear(r);
    if (rc == DBK_OK)
        seen_committed(st);
    st->in_tx = conn_ok(st) && PQtransactionStatus(st->conn) != PQTRANS_IDLE;
    return rc;
}

static void
pg_tx_rollback(pg_store *st)
{
    st->ndefer = 0; /* what they would have done goes with the rest */
    if (conn_ok(st) && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        simple(st, "ROLLBACK");
    st->in_tx = false;
    st->npending = 0;
    st->sp_depth = 0;
    st->nseen_tx = 0;
    st->noted = false;
    st->nahead = st->nwant = 0;
}

/* A job's savepoint is sent with its first statement (defer): a job that sends none,
 * as a sync answered without a write, costs no round trip for it. */
static int
pg_sp_begin(pg_store *st)
{
    int rc = tx_open(st);
    if (rc == DBK_OK && st->sp_depth == SP_MAX)
        rc = DBK_E_INTERNAL;
    if (rc == DBK_OK && st->sp_depth == 0) {
        st->held_before = st->held; /* a job begins: what is held is earlier jobs' */
        st->nahead = st->nwant = 0; /* read ahead for the job before */
    }
    if (rc == DBK_OK && (rc = defer(st, SQL_SAVEPOINT)) == DBK_OK)
        st->marks[st->sp_depth++] = st->npending;
    return rc;
}

/* Its release goes with the next statement (the next job's, or the COMMIT); a
 * savepoint not sent yet is dropped instead: nothing ran under it. */
static int
pg_sp_release(pg_store *st)
{
    int rc = tx_open(st);
    if (rc != DBK_OK)
        return rc;
    if (st->ndefer > 0 && st->defer[st->ndefer - 1] == SQL_SAVEPOINT)
        st->ndefer--;
    else if ((rc = defer(st, SQL_RELEASE)) != DBK_OK)
        return rc;
    if (st->sp_depth > 0)
        st->sp_depth--;
    return DBK_OK;
}

static void
pg_sp_rollback(pg_store *st)
{
    if (st->sp_depth > 0)
        st->npending = st->marks[--st->sp_depth]; /* its audit entries go too */
    st->nseen_tx = 0; /* its last-seen writes too (and others': they are only sent again) */
    if (st->ndefer > 0 && st->defer[st->ndefer - 1] == SQL_SAVEPOINT) {
        st->ndefer--; /* never sent: nothing ran under it */
        return;
    }
    if (!conn_ok(st) || PQtransactionStatus(st->conn) == PQTRANS_IDLE)
        return;
    /* Nothing is deferred while the transaction has failed (sp_begin and sp_release
     * refuse it), so these are not skipped behind an earlier failure. */
    if (defer(st, "ROLLBACK TO job") == DBK_OK && defer(st, SQL_RELEASE) == DBK_OK)
        flush(st);
    if (conn_ok(st) && PQtransactionStatus(st->conn) == PQTRANS_INTRANS)
        st->last_err = DBK_OK; /* the failure is undone with the savepoint */
}

/* No reserve file: PostgreSQL's disk is the database server's (disk_full is
 * SQLSTATE 53100, answered 507 storage_full). */
static int
pg_reserve(pg_store *st, int64_t bytes)
{
    (void)st;
    (void)bytes;
    return DBK_OK;
}

static int
pg_checkpoints(pg_store *st, int64_t wal_max_bytes)
{
    (void)st;
    (void)wal_max_bytes;
    return DBK_OK; /* PostgreSQL checkpoints by itself */
}

static int
pg_checkpoint_counts(pg_store *st, dbk_checkpoint_counts *out)
{
    (void)st;
    (void)out;
    return DBK_E_UNAVAILABLE; /* PostgreSQL checkpoints by itself */
}

static int
pg_defer_sync(pg_store *st)
{
    (void)st;
    return DBK_E_INVALID; /* a commit returns once PostgreSQL has it on disk */
}

static int
pg_sync(pg_store *st)
{
    (void)st;
    return DBK_OK;
}

static int
pg_room(pg_store *st)
{
    (void)st;
    return DBK_OK;
}

static bool
pg_full(pg_store *st)
{
    (void)st;
    return false;
}

/* A round trip to the database (the server id); 503 store_unavailable when it is away. */
static int
pg_ping(pg_store *st)
{
    unsigned char id[DBK_ID_BYTES];
    return meta_get(st, "server_id", id, sizeof id);
}

/* ---- server identity ---- */

static int
pg_server_info(pg_store *st, dbk_server_info *out)
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
pg_restore_prepare(pg_store *st, int64_t above, int64_t *out)
{
    unsigned char gen[8];
    int rc;

    if ((rc = ensure(st)) != DBK_OK || (rc = simple(st, "BEGIN")) != DBK_OK)
        return rc;
    if ((rc = meta_get(st, "restore_generation", gen, sizeof gen)) == DBK_OK) {
        int64_t g = (int64_t)dbk_get_u64(gen);
        *out = (g > above ? g : above) + 1;
        dbk_put_u64(gen, (uint64_t)*out);
        rc = meta_put(st, Q_META_SET, "restore_generation", gen, sizeof gen);
    }
    if (rc == DBK_OK)
        rc = simple(st, "DELETE FROM tokens; DELETE FROM challenges;"
                        "DELETE FROM invites WHERE used_at = 0;");
    if (rc == DBK_OK)
        return simple(st, "COMMIT");
    simple(st, "ROLLBACK");
    return rc;
}

/* ---- accounts ---- */

static void
read_account(const PGresult *r, int i, dbk_account *a)
{
    memset(a, 0, sizeof *a);
    c_id(r, i, 0, &a->id);
    a->role = (enum dbk_role)c_i64(r, i, 1);
    c_text(r, i, 2, a->name, sizeof a->name);
    c_fixed(r, i, 3, a->sign_pk, 32);
    c_fixed(r, i, 4, a->box_pk, 32);
    c_fixed(r, i, 5, a->login_pk, 32);
    c_fixed(r, i, 6, a->bundle, sizeof a->bundle);
    a->generation = (uint32_t)c_i64(r, i, 7);
    c_id(r, i, 8, &a->counselor);
    a->created_at = c_i64(r, i, 9);
    a->used_bytes = c_i64(r, i, 10);
    a->grants_seq = c_i64(r, i, 11);
}

/* An insert that says ON CONFLICT DO NOTHING: DBK_E_CONFLICT when the key was taken. */
static int
insert(pg_store *st, enum q id, const params *p)
{
    int64_t n = 0;
    int rc = exec_q(st, id, p, &n);
    return rc == DBK_OK && n == 0 ? DBK_E_CONFLICT : rc;
}

static int
pg_account_create(pg_store *st, const dbk_account *a)
{
    params p = {.n = 0};
    p_id(&p, &a->id);
    p_i64(&p, (int64_t)a->role);
    p_text(&p, a->name);
    p_blob(&p, a->sign_pk, 32);
    p_blob(&p, a->box_pk, 32);
    p_blob(&p, a->login_pk, 32);
    p_blob(&p, a->bundle, sizeof a->bundle);
    p_i64(&p, a->generation);
    p_id_or_null(&p, &a->counselor);
    p_i64(&p, a->created_at);
    return insert(st, Q_ACCOUNT_INSERT, &p);
}

static int
pg_account_get(pg_store *st, const dbk_id *id, dbk_account *out)
{
    params p = {.n = 0};
    int rc;
    if (st->noted && st->note_at == st->sent && dbk_id_equal(&st->note.id, id)) {
        st->noted = false;
        *out = st->note;
        return DBK_OK;
    }
    st->noted = false;
    p_id(&p, id);
    PGresult *r = one(st, Q_ACCOUNT_GET, &p, &rc);
    if (r != NULL) {
        read_account(r, 0, out);
        PQclear(r);
    }
    return rc;
}

static int
pg_bump_grants_seq(pg_store *st, const dbk_id *id)
{
    params p = {.n = 0};
    p_id(&p, id);
    return exec_q(st, Q_ACCOUNT_BUMP_GRANTS, &p, NULL);
}

static int
pg_charge(pg_store *st, const dbk_id *id, int64_t bytes, int64_t quota)
{
    /* Added and read in one statement, as a push does; a refusal is undone by the
     * caller's savepoint. The account's row is one another transaction may hold (its
     * push, its own audit row): while an earlier job's locks are held it is only
     * taken if free, else run() commits them first and it is waited for (the lock
     * order, at the top). */
    params p = {.n = 0};
    int rc;
    PGresult *r = NULL;
    p_id(&p, id);
    p_i64(&p, bytes);
    if (st->in_tx && st->held_before && (r = run(st, Q_ACCOUNT_ADD_BYTES_TRY, &p, &rc)) == NULL)
        return rc;
    if (r != NULL && PQntuples(r) == 0) {
        PQclear(r);
        r = NULL;
    }
    if (r == NULL && (r = one(st, Q_ACCOUNT_ADD_BYTES, &p, &rc)) == NULL)
        return rc;
    int64_t used = c_i64(r, 0, 0);
    PQclear(r);
    return bytes > 0 && used > quota ? DBK_E_QUOTA : DBK_OK;
}

static int
pg_account_set_bundle(pg_store *st, const dbk_id *id, const unsigned char bundle[148],
                      const unsigned char login_pk[32], uint32_t generation)
{
    params p = {.n = 0};
    int64_t n = 0;
    p_id(&p, id);
    p_blob(&p, bundle, 148);
    p_blob(&p, login_pk, 32);
    p_i64(&p, generation);
    int rc = exec_q(st, Q_ACCOUNT_SET_BUNDLE, &p, &n);
    return rc == DBK_OK && n == 0 ? DBK_E_NOT_FOUND : rc;
}

/*
 * Runs a query and calls each_row for every row, as each arrives: libpq's single-row
 * mode, so no result is held whole (a list that grows with accounts or records would
 * otherwise sit in one PGresult, and its pages stay in the storage thread's malloc
 * arena after it is freed). The connection is busy until the last row: each_row must
 * not run a query (store.h says which callbacks may not call the store). After an
 * error the rows before it have been passed; the caller's answer is the error.
 */
static int
each(pg_store *st, enum q id, const params *p, row_fn each_row, void *arg)
{
    char name[16];
    PGresult *r;
    int rc;

    if ((rc = prepare(st, id, name)) != DBK_OK)
        return rc;
    /* Deferred statements (an earlier job's RELEASE, this one's SAVEPOINT) go first,
     * in the same round trip, as run() sends them. */
    if (st->ndefer > 0) {
        pline pl;
        pl_begin(st, &pl);
        pl_send(st, &pl, id, p);
        rc = pl_end_rows(st, &pl, 0, each_row, arg);
        pl_clear(&pl);
        return rc;
    }
    st->sent++;
    if (!PQsendQueryPrepared(st->conn, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                             p ? p->fmt : NULL, 1))
        return fail(st, NULL); /* nothing sent: any result waiting is not this query's */
    if (!PQsetSingleRowMode(st->conn)) {
        rc = fail(st, NULL);
        while ((r = PQgetResult(st->conn)) != NULL) /* this query's results, read whole */
            PQclear(r);
        return rc;
    }
    while ((r = PQgetResult(st->conn)) != NULL) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_SINGLE_TUPLE && rc == DBK_OK)
            each_row(r, 0, arg);
        else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && rc == DBK_OK)
            rc = fail(st, r);
        PQclear(r);
    }
    return rc;
}

/* The same, with the result whole before the first callback, for the lists whose
 * callbacks run queries of their own (the caseload's clients, the counselors). */
static int
each_whole(pg_store *st, enum q id, const params *p, row_fn each_row, void *arg)
{
    int rc;
    PGresult *r = run(st, id, p, &rc);
    if (r == NULL)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        each_row(r, i, arg);
    PQclear(r);
    return DBK_OK;
}

struct account_each {
    dbk_account_cb cb;
    void *arg;
};

static void
account_row(const PGresult *r, int i, void *arg)
{
    struct account_each *e = arg;
    dbk_account a;
    read_account(r, i, &a);
    e->cb(&a, e->arg);
}

static int
pg_clients_of(pg_store *st, const dbk_id *counselor, dbk_account_cb cb, void *arg)
{
    struct account_each e = {cb, arg};
    params p = {.n = 0};
    p_id(&p, counselor);
    return each_whole(st, Q_CLIENTS_OF, &p, account_row, &e);
}

static int
pg_counselors(pg_store *st, dbk_account_cb cb, void *arg)
{
    struct account_each e = {cb, arg};
    return each_whole(st, Q_COUNSELORS, NULL, account_row, &e);
}

static int
pg_account_disabled(pg_store *st, const dbk_id *id, int64_t *at)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, id);
    PGresult *r = one(st, Q_DISABLED_GET, &p, &rc);
    *at = 0;
    if (r != NULL) {
        *at = c_i64(r, 0, 0);
        PQclear(r);
    }
    return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
}

static int
pg_account_set_disabled(pg_store *st, const dbk_id *id, bool disabled, int64_t at)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, id);
    if (!disabled)
        return exec_q(st, Q_DISABLED_DELETE, &p, NULL);
    p_i64(&p, at);
    if ((rc = exec_q(st, Q_DISABLED_PUT, &p, NULL)) != DBK_OK)
        return rc;
    p.n = 1; /* every device's session ends now */
    return exec_q(st, Q_TOKENS_OF_ACCOUNT_DELETE, &p, NULL);
}

/* ---- invites ---- */

static void
read_invite(const PGresult *r, int i, dbk_invite *inv)
{
    memset(inv, 0, sizeof *inv);
    c_id(r, i, 0, &inv->id);
    inv->kind = (enum dbk_invite_kind)c_i64(r, i, 1);
    c_fixed(r, i, 2, inv->secret_hash, DBK_HASH_BYTES);
    c_id(r, i, 3, &inv->counselor);
    c_text(r, i, 4, inv->name, sizeof inv->name);
    inv->created_at = c_i64(r, i, 5);
    inv->expires_at = c_i64(r, i, 6);
    inv->used_at = c_i64(r, i, 7);
}

static int
pg_invite_create(pg_store *st, const dbk_invite *inv)
{
    params p = {.n = 0};
    p_id(&p, &inv->id);
    p_i64(&p, (int64_t)inv->kind);
    p_blob(&p, inv->secret_hash, DBK_HASH_BYTES);
    p_id_or_null(&p, &inv->counselor);
    p_text(&p, inv->name);
    p_i64(&p, inv->created_at);
    p_i64(&p, inv->expires_at);
    return insert(st, Q_INVITE_INSERT, &p);
}

static int
pg_invite_use(pg_store *st, const unsigned char hash[DBK_HASH_BYTES], int64_t now,
              dbk_invite *out)
{
    params p = {.n = 0};
    PGresult *r;
    int rc;

    p_blob(&p, hash, DBK_HASH_BYTES);
    p_i64(&p, now);
    if ((r = one(st, Q_INVITE_TAKE, &p, &rc)) != NULL) {
        read_invite(r, 0, out);
        PQclear(r);
        return DBK_OK;
    }
    if (rc != DBK_E_NOT_FOUND)
        return rc;
    p.n = 1; /* not taken: unknown, or used or expired? */
    if ((r = one(st, Q_INVITE_BY_HASH, &p, &rc)) == NULL)
        return rc == DBK_E_NOT_FOUND ? DBK_E_UNAUTHENTICATED : rc;
    read_invite(r, 0, out);
    PQclear(r);
    return DBK_E_GONE;
}

struct invite_each {
    dbk_invite_cb cb;
    void *arg;
};

static void
invite_row(const PGresult *r, int i, void *arg)
{
    struct invite_each *e = arg;
    dbk_invite inv;
    read_invite(r, i, &inv);
    e->cb(&inv, e->arg);
}

static int
pg_invites_of(pg_store *st, const dbk_id *counselor, dbk_invite_cb cb, void *arg)
{
    struct invite_each e = {cb, arg};
    params p = {.n = 0};
    p_id(&p, counselor);
    return each(st, Q_INVITES_OF, &p, invite_row, &e);
}

static int
pg_invites_pending(pg_store *st, const dbk_id *counselor, int64_t now, dbk_invite_cb cb,
                   void *arg)
{
    struct invite_each e = {cb, arg};
    params p = {.n = 0};
    p_id(&p, counselor);
    p_i64(&p, now);
    return each(st, Q_INVITES_PENDING, &p, invite_row, &e);
}

static int
pg_invite_delete(pg_store *st, const dbk_id *counselor, const dbk_id *id)
{
    params p = {.n = 0};
    int64_t n = 0;
    p_id(&p, id);
    p_id(&p, counselor);
    int rc = exec_q(st, Q_INVITE_DELETE, &p, &n);
    return rc == DBK_OK && n == 0 ? DBK_E_NOT_FOUND : rc;
}

/* ---- devices, tokens, challenges ---- */

static int
pg_device_add(pg_store *st, const dbk_device *d)
{
    params p = {.n = 0};
    p_id(&p, &d->id);
    p_id(&p, &d->account);
    p_text(&p, d->name);
    p_i64(&p, d->created_at);
    return insert(st, Q_DEVICE_INSERT, &p);
}

struct device_each {
    dbk_device_cb cb;
    void *arg;
};

static void
device_row(const PGresult *r, int i, void *arg)
{
    struct device_each *e = arg;
    dbk_device d;
    memset(&d, 0, sizeof d);
    c_id(r, i, 0, &d.id);
    c_id(r, i, 1, &d.account);
    c_text(r, i, 2, d.name, sizeof d.name);
    d.created_at = c_i64(r, i, 3);
    d.last_seen = c_i64(r, i, 4);
    e->cb(&d, e->arg);
}

static int
pg_devices_of(pg_store *st, const dbk_id *account, dbk_device_cb cb, void *arg)
{
    struct device_each e = {cb, arg};
    params p = {.n = 0};
    p_id(&p, account);
    return each(st, Q_DEVICES_OF, &p, device_row, &e);
}

static int
pg_last_seen(pg_store *st, const dbk_id *account, int64_t *out)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, account);
    PGresult *r = one(st, Q_DEVICE_LAST_SEEN, &p, &rc);
    *out = 0;
    if (r != NULL) {
        *out = c_i64(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

static int
pg_device_revoke(pg_store *st, const dbk_id *account, const dbk_id *device)
{
    params p = {.n = 0};
    int64_t n = 0;
    int rc;
    p_id(&p, device);
    p_id(&p, account);
    if ((rc = exec_q(st, Q_DEVICE_DELETE, &p, &n)) != DBK_OK)
        return rc;
    if (n == 0)
        return DBK_E_NOT_FOUND;
    p.n = 1;
    return exec_q(st, Q_TOKENS_OF_DEVICE_DELETE, &p, NULL);
}

static int
pg_token_add(pg_store *st, const unsigned char hash[DBK_HASH_BYTES], const dbk_id *account,
             const dbk_id *device, int64_t expires_at)
{
    params p = {.n = 0};
    p_blob(&p, hash, DBK_HASH_BYTES);
    p_id(&p, account);
    p_id(&p, device);
    p_i64(&p, expires_at);
    return insert(st, Q_TOKEN_INSERT, &p);
}

static int
pg_token_check(pg_store *st, const unsigned char hash[DBK_HASH_BYTES], int64_t now,
               dbk_id *account, dbk_id *device)
{
    static const enum q used[] = {Q_TOKEN_GET, Q_TOKEN_ACCOUNT, Q_STREAM_GET};
    const int64_t ttl = 30LL * 24 * 3600 * 1000, day = 24LL * 3600 * 1000;
    params p = {.n = 0};
    int64_t expires, minute;
    pline pl;
    bool noted;
    int rc;

    /* The token and its account in one round trip (with the deferred statements): the
     * account is what the job asks next (the account note, pg_store). */
    size_t nwant = st->nwant;

    st->noted = false;
    st->nwant = 0;
    if ((rc = prepare_all(st, used, nwant > 0 ? 3 : 2)) != DBK_OK)
        return rc;
    p_blob(&p, hash, DBK_HASH_BYTES);
    pl_begin(st, &pl);
    pl_send(st, &pl, Q_TOKEN_GET, &p);
    pl_send(st, &pl, Q_TOKEN_ACCOUNT, &p);
    for (size_t i = 0; i < nwant; i++) { /* the streams the job expects (read ahead) */
        params s = {.n = 0};
        p_id(&s, &st->want[i]);
        pl_send(st, &pl, Q_STREAM_GET, &s);
    }
    if ((rc = pl_end(st, &pl)) != DBK_OK || PQntuples(pl.res[0]) == 0) {
        pl_clear(&pl);
        return rc != DBK_OK ? rc : DBK_E_UNAUTHENTICATED;
    }
    c_id(pl.res[0], 0, 0, account);
    c_id(pl.res[0], 0, 1, device);
    expires = c_i64(pl.res[0], 0, 2);
    if ((noted = PQntuples(pl.res[1]) > 0))
        read_account(pl.res[1], 0, &st->note);
    for (size_t i = 0; i < nwant; i++) {
        struct pg_ahead *a = &st->ahead[i];
        a->id = st->want[i];
        if ((a->found = PQntuples(pl.res[2 + i]) > 0))
            read_stream(pl.res[2 + i], 0, &a->row);
    }
    st->nahead = nwant;
    pl_clear(&pl);
    if (expires <= now)
        return DBK_E_UNAUTHENTICATED;
    /* Tokens expire after 30 days unused: slide the expiry, at most once a day. The
     * row just read says whether the UPDATE's condition holds (another node can only
     * have moved it later since), so the statement is sent only when it does. */
    if (expires < now + ttl - day) {
        p_i64(&p, now + ttl);
        p_i64(&p, now + ttl - day);
        if ((rc = exec_q(st, Q_TOKEN_EXTEND, &p, NULL)) != DBK_OK)
            return rc;
    }
    /* Last seen, to the minute, written with this request (see "last seen" above). */
    minute = now / 60000 * 60000;
    if (!seen_current(st, device, minute)) {
        p.n = 0;
        p_id(&p, device);
        p_i64(&p, minute);
        PGresult *r = one(st, Q_DEVICE_TOUCH, &p, &rc);
        if (r == NULL)
            return rc;
        bool written = c_i64(r, 0, 0) > 0;
        PQclear(r);
        if (written && st->in_tx && st->nseen_tx < SEEN_TX_MAX)
            st->seen_tx[st->nseen_tx++] = (struct pg_seen_note){*device, minute};
    }
    /* The slide and the last seen write neither accounts nor tokens' accounts: the
     * note is still the account as read with the token. */
    st->noted = noted && dbk_id_equal(&st->note.id, account);
    st->note_at = st->sent;
    return DBK_OK;
}

static int
pg_token_delete(pg_store *st, const unsigned char hash[DBK_HASH_BYTES])
{
    params p = {.n = 0};
    p_blob(&p, hash, DBK_HASH_BYTES);
    return exec_q(st, Q_TOKEN_DELETE, &p, NULL);
}

static int
pg_tokens_revoke_others(pg_store *st, const dbk_id *account, const dbk_id *keep, int64_t *count)
{
    params p = {.n = 0};
    p_id(&p, account);
    p_id(&p, keep);
    *count = 0;
    return exec_q(st, Q_TOKENS_REVOKE_OTHERS, &p, count);
}

static int
pg_challenge_add(pg_store *st, const unsigned char challenge[32], const dbk_id *account,
                 const dbk_id *device, enum dbk_purpose purpose, int64_t expires_at)
{
    params p = {.n = 0};
    int rc;
    p_i64(&p, expires_at - 10 * 60000); /* keep the table small */
    if ((rc = exec_q(st, Q_CHALLENGE_PURGE, &p, NULL)) != DBK_OK)
        return rc;
    p.n = 0;
    p_blob(&p, challenge, 32);
    p_id(&p, account);
    p_id(&p, device);
    p_i64(&p, (int64_t)purpose);
    p_i64(&p, expires_at);
    return insert(st, Q_CHALLENGE_INSERT, &p);
}

static int
pg_challenge_take(pg_store *st, const unsigned char challenge[32], const dbk_id *account,
                  const dbk_id *device, enum dbk_purpose purpose, int64_t now)
{
    params p = {.n = 0};
    dbk_id a, d;
    int64_t purp, expires;
    int rc;

    p_blob(&p, challenge, 32);
    PGresult *r = one(st, Q_CHALLENGE_TAKE, &p, &rc);
    if (r == NULL)
        return rc == DBK_E_NOT_FOUND ? DBK_E_GONE : rc;
    c_id(r, 0, 0, &a);
    c_id(r, 0, 1, &d);
    purp = c_i64(r, 0, 2);
    expires = c_i64(r, 0, 3);
    PQclear(r);
    if (expires <= now || purp != (int64_t)purpose || !dbk_id_equal(&a, account) ||
        !dbk_id_equal(&d, device))
        return DBK_E_GONE;
    return DBK_OK;
}

/* ---- streams and grants ---- */

static void
read_stream(const PGresult *r, int i, dbk_stream *out)
{
    c_id(r, i, 0, &out->id);
    c_id(r, i, 1, &out->owner);
    out->kind = (enum dbk_stream_kind)c_i64(r, i, 2);
    out->epoch = (uint32_t)c_i64(r, i, 3);
    out->seq = c_i64(r, i, 4);
    out->rotation_pending = c_i64(r, i, 5) != 0;
}

static int
pg_stream_create(pg_store *st, const dbk_stream *s)
{
    params p = {.n = 0};
    p_id(&p, &s->id);
    p_id(&p, &s->owner);
    p_i64(&p, (int64_t)s->kind);
    p_i64(&p, s->epoch);
    return insert(st, Q_STREAM_INSERT, &p);
}

static int
stream_by(pg_store *st, enum q which, const dbk_id *id, dbk_stream *out)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, id);
    PGresult *r = one(st, which, &p, &rc);
    if (r != NULL) {
        read_stream(r, 0, out);
        PQclear(r);
    }
    return rc;
}

static int
pg_stream_get(pg_store *st, const dbk_id *id, dbk_stream *out)
{
    return stream_by(st, Q_STREAM_GET, id, out);
}

struct stream_each {
    dbk_stream_cb cb;
    void *arg;
};

static void
stream_row(const PGresult *r, int i, void *arg)
{
    struct stream_each *e = arg;
    dbk_stream s;
    read_stream(r, i, &s);
    e->cb(&s, e->arg);
}

static int
pg_streams_for(pg_store *st, const dbk_id *account, int64_t now, dbk_stream_cb cb, void *arg)
{
    struct stream_each e = {cb, arg};
    params p = {.n = 0};
    int rc;
    p_id(&p, account);
    if ((rc = each(st, Q_STREAMS_OWNED, &p, stream_row, &e)) != DBK_OK)
        return rc;
    p_i64(&p, now);
    return each(st, Q_STREAMS_GRANTED, &p, stream_row, &e);
}

/* Marks epoch closed at `at` (if it is not already): envelopes made later at that
 * epoch are refused (proto/README.md section 7). */
static int
epoch_close(pg_store *st, const dbk_id *stream, uint32_t epoch, int64_t at)
{
    params p = {.n = 0};
    p_id(&p, stream);
    p_i64(&p, epoch);
    p_i64(&p, at);
    return exec_q(st, Q_EPOCH_CLOSE, &p, NULL);
}

static int
pg_grant_put(pg_store *st, const dbk_grant_row *g, int64_t now, bool *identical)
{
    unsigned char *old = NULL;
    size_t old_len = 0;
    params p = {.n = 0};
    int64_t raised = 0;
    int rc = pg_grant_get(st, &g->stream, &g->grantee, g->epoch, &old, &old_len);

    *identical = rc == DBK_OK && old_len == g->grant_len && memcmp(old, g->grant, old_len) == 0;
    free(old);
    if (rc != DBK_OK && rc != DBK_E_NOT_FOUND)
        return rc;
    if (*identical)
        return DBK_OK;
    p_id(&p, &g->stream);
    p_id(&p, &g->grantee);
    p_i64(&p, g->epoch);
    if ((rc = exec_q(st, Q_GRANT_KEEP_REVOKED, &p, NULL)) != DBK_OK) /* revoked: history */
        return rc;
    p_blob(&p, g->grant, g->grant_len);
    p_i64(&p, g->created_at);
    p_i64(&p, g->expires_at);
    if ((rc = exec_q(st, Q_GRANT_INSERT, &p, NULL)) != DBK_OK)
        return rc;
    p.n = 0;
    p_id(&p, &g->stream);
    p_i64(&p, g->epoch);
    if ((rc = exec_q(st, Q_STREAM_RAISE_EPOCH, &p, &raised)) != DBK_OK) /* self-grant, +1 */
        return rc;
    if (raised > 0 && g->epoch > 1)
        return epoch_close(st, &g->stream, g->epoch - 1, now);
    return DBK_OK;
}

static int
pg_grant_get(pg_store *st, const dbk_id *stream, const dbk_id *grantee, uint32_t epoch,
             unsigned char **out, size_t *len)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, stream);
    p_id(&p, grantee);
    p_i64(&p, epoch);
    PGresult *r = one(st, Q_GRANT_GET, &p, &rc);
    *out = NULL;
    *len = 0;
    if (r == NULL)
        return rc;
    *len = (size_t)PQgetlength(r, 0, 0);
    *out = malloc(*len ? *len : 1);
    if (*out != NULL)
        memcpy(*out, PQgetvalue(r, 0, 0), *len);
    PQclear(r);
    return *out ? DBK_OK : DBK_E_NOMEM;
}

struct grant_each {
    dbk_grant_cb cb;
    void *arg;
};

static void
grant_row(const PGresult *r, int i, void *arg)
{
    struct grant_each *e = arg;
    dbk_grant_row g;
    c_id(r, i, 0, &g.stream);
    c_id(r, i, 1, &g.grantee);
    g.epoch = (uint32_t)c_i64(r, i, 2);
    g.grant = (const unsigned char *)PQgetvalue(r, i, 3);
    g.grant_len = (size_t)PQgetlength(r, i, 3);
    g.created_at = c_i64(r, i, 4);
    g.expires_at = c_i64(r, i, 5);
    g.revoked_at = c_i64(r, i, 6);
    e->cb(&g, e->arg);
}

static int
pg_grants_of_stream(pg_store *st, const dbk_id *stream, dbk_grant_cb cb, void *arg)
{
    struct grant_each e = {cb, arg};
    params p = {.n = 0};
    p_id(&p, stream);
    return each(st, Q_GRANTS_OF_STREAM, &p, grant_row, &e);
}

static int
pg_grants_to(pg_store *st, const dbk_id *grantee, int64_t now, dbk_grant_cb cb, void *arg)
{
    struct grant_each e = {cb, arg};
    params p = {.n = 0};
    (void)now; /* every grant, with its state computed by the caller */
    p_id(&p, grantee);
    return each(st, Q_GRANTS_TO, &p, grant_row, &e);
}

static int
pg_grant_revoke(pg_store *st, const dbk_id *stream, const dbk_id *grantee, int64_t now)
{
    params p = {.n = 0};
    int64_t n = 0;
    dbk_stream str;
    int rc;

    p_id(&p, stream);
    p_id(&p, grantee);
    p_i64(&p, now);
    if ((rc = exec_q(st, Q_GRANT_REVOKE, &p, &n)) != DBK_OK)
        return rc;
    if (n == 0) {
        /* Revoking again changes nothing (DBK_E_GONE tells the caller so);
         * revoking someone who never had a grant is DBK_E_NOT_FOUND. */
        p.n = 2;
        PGresult *r = one(st, Q_GRANT_ANY, &p, &rc);
        PQclear(r);
        return r != NULL ? DBK_E_GONE : rc;
    }
    if ((rc = pg_stream_get(st, stream, &str)) != DBK_OK ||
        (rc = epoch_close(st, stream, str.epoch, now)) != DBK_OK)
        return rc;
    p.n = 1;
    return exec_q(st, Q_STREAM_SET_ROTATION, &p, NULL);
}

static int
pg_grant_held(pg_store *st, const dbk_id *stream, const dbk_id *grantee, uint32_t epoch)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, stream);
    p_id(&p, grantee);
    p_i64(&p, epoch);
    PGresult *r = one(st, Q_GRANT_HELD, &p, &rc);
    PQclear(r);
    return rc;
}

/* 0 if epoch is open (or unknown), else when it closed. */
static int
epoch_closed_at(pg_store *st, const dbk_id *stream, uint32_t epoch, int64_t *out)
{
    params p = {.n = 0};
    int rc;
    p_id(&p, stream);
    p_i64(&p, epoch);
    PGresult *r = one(st, Q_EPOCH_CLOSED_AT, &p, &rc);
    *out = 0;
    if (r != NULL) {
        *out = c_i64(r, 0, 0);
        PQclear(r);
    }
    return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
}

static void
pg_expect_streams(pg_store *st, const dbk_id *ids, size_t n)
{
    st->nahead = st->nwant = 0;
    for (size_t i = 0; i < n && st->nwant < AHEAD_MAX; i++) {
        size_t k = 0;
        while (k < st->nwant && !dbk_id_equal(&st->want[k], &ids[i]))
            k++;
        if (k == st->nwant)
            st->want[st->nwant++] = ids[i];
    }
}

/* Whether stream's row was read ahead for this job: then *rc is DBK_OK with the row,
 * or DBK_E_NOT_FOUND when there is none; each is given once. */
static bool
ahead_take(pg_store *st, const dbk_id *stream, dbk_stream *out, int *rc)
{
    for (size_t i = 0; i < st->nahead; i++) {
        struct pg_ahead *a = &st->ahead[i];
        if (!dbk_id_equal(&a->id, stream))
            continue;
        *rc = a->found ? DBK_OK : DBK_E_NOT_FOUND;
        if (a->found)
            *out = a->row;
        *a = st->ahead[--st->nahead];
        return true;
    }
    return false;
}

static int
pg_access(pg_store *st, const dbk_id *account, const dbk_id *stream, int64_t now,
          dbk_stream *str, bool *is_owner, bool *can_write)
{
    params p = {.n = 0};
    PGresult *r;
    int rc;

    if (!ahead_take(st, stream, str, &rc))
        rc = pg_stream_get(st, stream, str);
    *is_owner = *can_write = false;
    if (rc == DBK_E_NOT_FOUND)
        return DBK_E_FORBIDDEN; /* the same answer as "exists but not yours" */
    if (rc != DBK_OK)
        return rc;
    if (dbk_id_equal(&str->owner, account)) {
        *is_owner = *can_write = true;
        return DBK_OK;
    }
    p_id(&p, stream);
    p_id(&p, account);
    p_i64(&p, now);
    if ((r = one(st, Q_GRANT_LIVE, &p, &rc)) == NULL)
        return rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
    if (PQgetisnull(r, 0, 0)) {
        PQclear(r);
        /* No active grant: say "expired" when that is why (README section 8). */
        if ((r = one(st, Q_GRANT_EXPIRED, &p, &rc)) != NULL) {
            PQclear(r);
            return DBK_E_EXPIRED;
        }
        return rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
    }
    *can_write = (uint32_t)c_i64(r, 0, 0) == str->epoch;
    PQclear(r);
    return DBK_OK;
}

/* ---- records ---- */

/* What is stored for it's record (cur), and its envelope's length, from its row in r
 * (no row: nothing stored). */
static void
read_current(const PGresult *r, const dbk_push_item *it, dbk_stored_record *cur, int64_t *old_len)
{
    memset(cur, 0, sizeof *cur);
    *old_len = 0;
    if (PQntuples(r) == 0)
        return;
    cur->exists = true;
    cur->seq = c_i64(r, 0, 0);
    cur->current.clock = (uint64_t)c_i64(r, 0, 1);
    c_id(r, 0, 2, &cur->current.device);
    *old_len = PQgetlength(r, 0, 3);
    cur->same_bytes =
        (size_t)*old_len == it->len && memcmp(PQgetvalue(r, 0, 3), it->env, it->len) == 0;
    c_id(r, 0, 4, &cur->creator);
}

static void
send_record_get(pg_store *st, pline *pl, const dbk_id *stream, const dbk_push_item *it)
{
    params p = {.n = 0};
    p_id(&p, stream);
    p_id(&p, &it->hdr.record);
    pl_send(st, pl, Q_RECORD_GET, &p);
}

static void
send_record_put(pg_store *st, pline *pl, const dbk_id *stream, const dbk_push_item *it,
                const dbk_id *creator)
{
    params p = {.n = 0};
    p_id(&p, stream);
    p_id(&p, &it->hdr.record);
    p_i64(&p, it->seq);
    p_i64(&p, (int64_t)it->hdr.rev.clock);
    p_id(&p, &it->hdr.rev.device);
    p_i64(&p, it->hdr.epoch);
    p_id(&p, creator);
    p_blob(&p, it->env, it->len);
    pl_send(st, pl, Q_RECORD_UPSERT, &p);
}

/* Closed epochs: an envelope may use an epoch no later than the current one, made (by
 * its clock) before that epoch closed. Sets .stale on those it refuses. The first
 * item's epoch was looked up with the stream's lock (first_closed). */
static int
check_epochs(pg_store *st, dbk_push_batch *b, const dbk_stream *str, int64_t first_closed,
             bool *stale)
{
    bool have = b->n > 0; /* one look-up per run of equal epochs */
    uint32_t looked = b->n > 0 ? b->items[0].hdr.epoch : 0;
    int64_t closed = first_closed;
    for (size_t i = 0; i < b->n; i++) {
        dbk_push_item *it = &b->items[i];
        int rc;
        if (it->hdr.epoch > str->epoch) {
            it->stale = *stale = true;
            continue;
        }
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

/* Items of one push read and written together: at most PUSH_CHUNK, their records
 * distinct (a record pushed twice in one batch must read what its first put wrote:
 * its second item starts the next chunk). */
#define PUSH_CHUNK 64

static size_t
chunk_end(const dbk_push_batch *b, size_t from)
{
    size_t i = from;
    for (; i < b->n && i - from < PUSH_CHUNK; i++)
        for (size_t k = from; k < i; k++)
            if (dbk_id_equal(&b->items[k].hdr.record, &b->items[i].hdr.record))
                return i;
    return i;
}

/* The stream's row and its payer's, locked in that order, and the first epoch's close
 * and the first chunk's records read after the locks are held, in one round trip.
 * With try, neither lock is waited for: *taken says whether both were had (the lock
 * order, at the top). */
static int
push_start(pg_store *st, dbk_push_batch *b, pline *pl, size_t first_end, dbk_stream *str,
           int64_t *first_closed, bool try, bool *taken)
{
    params p = {.n = 0};
    int rc;

    pl_begin(st, pl);
    p_id(&p, &b->stream);
    pl_send(st, pl, try ? Q_STREAM_TRY : Q_STREAM_LOCK, &p);
    p.n = 0;
    p_id_or_null(&p, &b->payer);
    p_id(&p, &b->stream);
    pl_send(st, pl, try ? Q_PAYER_TRY : Q_PAYER_LOCK, &p);
    p.n = 0;
    p_id(&p, &b->stream);
    if (b->n > 0) {
        p_i64(&p, b->items[0].hdr.epoch);
        pl_send(st, pl, Q_EPOCH_CLOSED_AT, &p);
    }
    for (size_t i = 0; i < first_end; i++)
        send_record_get(st, pl, &b->stream, &b->items[i]);
    st->held = true;
    if ((rc = pl_end(st, pl)) != DBK_OK)
        return rc;
    *taken = PQntuples(pl->res[0]) > 0 && PQntuples(pl->res[1]) > 0;
    if (try && !*taken)
        return DBK_OK;
    if (PQntuples(pl->res[0]) == 0)
        return DBK_E_NOT_FOUND;
    read_stream(pl->res[0], 0, str);
    *first_closed = b->n > 0 && PQntuples(pl->res[2]) > 0 ? c_i64(pl->res[2], 0, 0) : 0;
    return DBK_OK;
}

/*
 * Round trips: one for the lock, the epoch and the records' rows, one for the writes
 * (the records, the owner's bytes, the stream's counter), per chunk of PUSH_CHUNK
 * items; each item of a grantee adds one (its grant). A push was two per item. Over 80
 * lines: what a chunk sends and what its answers are read for stay side by side.
 */
static int
pg_push(pg_store *st, dbk_push_batch *b)
{
    static const enum q used[] = {Q_STREAM_LOCK,   Q_STREAM_TRY,        Q_PAYER_LOCK,
                                  Q_PAYER_TRY,     Q_EPOCH_CLOSED_AT,   Q_RECORD_GET,
                                  Q_RECORD_UPSERT, Q_ACCOUNT_ADD_BYTES, Q_STREAM_SET_SEQ};
    dbk_stream str, ahead;
    pline pl;
    params p = {.n = 0};
    int64_t added = 0, first_closed = 0;
    size_t from = 0, end = chunk_end(b, 0);
    int first_get = 3; /* pl.res index of the chunk's first record read */
    bool stale = false, try = st->held, taken = false;
    int rc;

    b->head_moved = false; /* the row is read under its lock: known is not taken */
    ahead_take(st, &b->stream, &ahead, &rc); /* read before this write: no longer given */
    if ((rc = prepare_all(st, used, sizeof used / sizeof used[0])) != DBK_OK)
        return rc;
    /* The stream's row stays locked to commit: the cursor's guarantee (rules.c). While
     * the transaction holds other locks, its locks are only taken if free; if not, what
     * it did so far is committed and they are waited for with nothing held. */
    rc = push_start(st, b, &pl, end, &str, &first_closed, try, &taken);
    if (rc == DBK_OK && try && !taken) {
        pl_clear(&pl);
        if ((rc = tx_split(st)) == DBK_OK)
            rc = push_start(st, b, &pl, end, &str, &first_closed, false, &taken);
    }
    if (rc == DBK_OK) {
        b->epoch = str.epoch;
        b->rotation_pending = str.rotation_pending;
        b->nstored = 0;
        b->seq_from = b->seq_to = 0;
        b->also_charged = false;
        rc = check_epochs(st, b, &str, first_closed, &stale);
    }
    if (rc == DBK_OK && stale) {
        b->epoch_stale = true;
        b->high_seq = str.seq;
        rc = DBK_E_STALE;
    }
    while (rc == DBK_OK && from < b->n) {
        dbk_id creator[PUSH_CHUNK];
        bool put[PUSH_CHUNK];
        pline w;
        if (first_get < 0) { /* the chunk's reads, after the last chunk's writes */
            pl_clear(&pl);
            pl_begin(st, &pl);
            for (size_t i = from; i < end; i++)
                send_record_get(st, &pl, &b->stream, &b->items[i]);
            if ((rc = pl_end(st, &pl)) != DBK_OK)
                break;
            first_get = 0;
        }
        /* What each item does, in request order (a grantee's grant is asked here). */
        for (size_t i = from; i < end && rc == DBK_OK; i++) {
            dbk_push_item *it = &b->items[i];
            dbk_stored_record cur;
            int64_t old_len;
            bool author_is_owner = dbk_id_equal(&it->hdr.author, &str.owner);

            put[i - from] = false;
            read_current(pl.res[first_get + (int)(i - from)], it, &cur, &old_len);
            if (!author_is_owner &&
                (rc = pg_grant_held(st, &b->stream, &it->hdr.author, it->hdr.epoch)) != DBK_OK) {
                rc = rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
                break;
            }
            if ((rc = dbk_push_decide(it, &cur, author_is_owner)) < 0)
                break;
            if (rc == DBK_PUSH_DO_STALE)
                stale = true;
            if (rc != DBK_PUSH_DO_STORE) {
                rc = DBK_OK;
                continue;
            }
            rc = DBK_OK;
            it->seq = ++str.seq;
            if (b->nstored++ == 0)
                b->seq_from = it->seq;
            b->seq_to = it->seq;
            added += (int64_t)it->len - old_len;
            put[i - from] = true;
            creator[i - from] = cur.exists ? cur.creator : it->hdr.author;
            it->has_current = true;
            it->current = it->hdr.rev;
        }
        if (rc != DBK_OK)
            break;
        /* Its writes; with the last chunk's, the payer's bytes, added and read in one
         * statement (two nodes adding at once both see the sum), and the counter. The
         * audit row's bytes go with the records' (also_charge) where that refuses
         * exactly what two statements would, as on SQLite (sq_push): the records
         * adding bytes, the total is checked as the audit row's charge was; a push
         * that shrinks its records is charged by the caller after it. */
        bool last = end == b->n && !stale && b->nstored > 0;
        pl_begin(st, &w);
        for (size_t i = from; i < end; i++)
            if (put[i - from])
                send_record_put(st, &w, &b->stream, &b->items[i], &creator[i - from]);
        if (last) {
            b->also_charged = b->also_charge > 0 && added >= 0;
            if (b->also_charged)
                added += b->also_charge;
            p_id(&p, dbk_id_is_zero(&b->payer) ? &str.owner : &b->payer);
            p_i64(&p, added);
            pl_send(st, &w, Q_ACCOUNT_ADD_BYTES, &p);
            p.n = 0;
            p_id(&p, &b->stream);
            p_i64(&p, str.seq);
            pl_send(st, &w, Q_STREAM_SET_SEQ, &p);
        }
        if ((rc = pl_end(st, &w)) == DBK_OK && last) {
            const PGresult *r = w.res[w.n - 2];
            if (PQntuples(r) == 0) {
                rc = DBK_E_NOT_FOUND;
            } else if (added > 0 && c_i64(r, 0, 0) > b->quota) {
                b->high_seq = str.seq;
                rc = DBK_E_QUOTA;
            }
        }
        pl_clear(&w);
        from = end;
        end = chunk_end(b, from);
        first_get = -1;
    }
    pl_clear(&pl);
    if (rc != DBK_OK)
        return rc;
    b->high_seq = str.seq;
    return stale ? DBK_E_STALE : DBK_OK;
}

struct pull_each {
    size_t limit, max_bytes, count, bytes;
    dbk_record_cb cb;
    void *arg;
    bool more, charged;
    int64_t last_seq;
};

/* One row of a pull: passed on while the page has room; the rest only marks more. */
static void
pull_row(const PGresult *r, int i, void *arg)
{
    struct pull_each *e = arg;
    size_t len = (size_t)PQgetlength(r, i, 1);
    if (e->count == 0 && !e->more && PQnfields(r) > 2)
        e->charged = c_i64(r, i, 2) > 0;
    if (e->more || !dbk_pull_takes(e->count, e->bytes, len, e->limit, e->max_bytes)) {
        e->more = true;
        return;
    }
    e->last_seq = c_i64(r, i, 0);
    e->cb(e->last_seq, (const unsigned char *)PQgetvalue(r, i, 1), len, e->arg);
    e->count++;
    e->bytes += len;
}

static int
pg_pull(pg_store *st, const dbk_id *stream, const dbk_id *reader, int64_t now, int64_t since,
        size_t limit, size_t max_bytes, dbk_record_cb cb, void *arg, bool *more, int64_t *last_seq,
        size_t *bytes_out, dbk_pull_charge *charge)
{
    struct pull_each e = {limit, max_bytes, 0, 0, cb, arg, false, false, since};
    params p = {.n = 0};
    int rc;

    if (charge != NULL)
        charge->charged = false;
    *more = false;
    *last_seq = since;
    p_id(&p, stream);
    p_i64(&p, since);
    p_i64(&p, (int64_t)limit + 1); /* one more tells whether more remain */
    p_bool(&p, reader == NULL);
    if (reader != NULL)
        p_id(&p, reader);
    else
        p_null(&p);
    p_i64(&p, now);
    /* The audit row's charge with the read: one round trip where two were. It is made
     * when a row comes, and the caller audits when one is given: the first row always
     * is (dbk_pull_takes, limit and max_bytes at least 1). */
    if (charge != NULL) {
        p_i64(&p, charge->bytes);
        p_id(&p, &charge->payer);
        if (st->in_tx)
            st->held = true; /* the payer's row, when charged */
    }
    if ((rc = each(st, charge ? Q_RECORDS_SINCE_CHARGE : Q_RECORDS_SINCE, &p, pull_row, &e)) !=
        DBK_OK)
        return rc;
    /* Rows given, the payer's row held by another transaction: charged now, waiting for
     * it as pg_charge does (after committing the group so far if this one holds locks
     * of earlier jobs). */
    if (charge != NULL && e.count > 0 && !e.charged &&
        (rc = pg_charge(st, &charge->payer, charge->bytes, INT64_MAX)) != DBK_OK)
        return rc;
    if (charge != NULL)
        charge->charged = e.count > 0;
    *more = e.more;
    *last_seq = e.last_seq;
    *bytes_out += e.bytes;
    return DBK_OK;
}

/* ---- audit ---- */

static int
pg_audit_append(pg_store *st, dbk_audit_entry *e)
{
    int rc;
    if (!st->in_tx) { /* on its own: a transaction of its own */
        if ((rc = pg_tx_begin(st)) != DBK_OK)
            return rc;
        if ((rc = pg_audit_append(st, e)) == DBK_OK && (rc = pg_tx_commit(st)) == DBK_OK)
            return DBK_OK;
        pg_tx_rollback(st);
        return rc;
    }
    if ((rc = tx_open(st)) != DBK_OK)
        return rc;
    if (st->npending == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        dbk_audit_entry *p = realloc(st->pending, cap * sizeof *p);
        if (p == NULL)
            return DBK_E_NOMEM;
        st->pending = p;
        st->cap = cap;
    }
    /* Index, prev and hash are known at commit, or at a split's (audit_commit). */
    st->pending[st->npending++] = *e;
    return DBK_OK;
}

static void
read_audit(const PGresult *r, int i, dbk_audit_entry *e)
{
    e->index = c_i64(r, i, 0);
    e->at = c_i64(r, i, 1);
    e->action = (enum dbk_audit_action)c_i64(r, i, 2);
    e->actor_role = (enum dbk_role)c_i64(r, i, 3);
    c_id(r, i, 4, &e->actor);
    c_id(r, i, 5, &e->device);
    c_id(r, i, 6, &e->stream);
    c_id(r, i, 7, &e->owner);
    c_id(r, i, 8, &e->grantee);
    e->epoch = (uint32_t)c_i64(r, i, 9);
    e->count = (uint32_t)c_i64(r, i, 10);
    e->seq_from = c_i64(r, i, 11);
    e->seq_to = c_i64(r, i, 12);
    c_fixed(r, i, 13, e->prev, DBK_HASH_BYTES);
    c_fixed(r, i, 14, e->hash, DBK_HASH_BYTES);
}

struct audit_each {
    size_t limit, count;
    dbk_audit_cb cb;
    void *arg;
};

static void
audit_row(const PGresult *r, int i, void *arg)
{
    struct audit_each *e = arg;
    dbk_audit_entry a;
    if (e->count++ >= e->limit)
        return; /* the one more asked for: more remain */
    read_audit(r, i, &a);
    e->cb(&a, e->arg);
}

static int
pg_audit_of_owner(pg_store *st, const dbk_id *owner, int64_t since, size_t limit,
                  dbk_audit_cb cb, void *arg, bool *more)
{
    struct audit_each e = {limit, 0, cb, arg};
    params p = {.n = 0};
    int rc;

    *more = false;
    p_id(&p, owner);
    p_i64(&p, since);
    p_i64(&p, (int64_t)limit + 1);
    if ((rc = each(st, Q_AUDIT_OF_OWNER, &p, audit_row, &e)) != DBK_OK)
        return rc;
    *more = e.count > limit;
    return DBK_OK;
}

/* The whole chain, a page at a time (it may be long). */
static int
pg_audit_verify(pg_store *st, int64_t *checked, int64_t *bad_index)
{
    const int64_t page = 10000;
    dbk_audit_walk w;
    dbk_audit_entry e;
    int64_t after = 0;
    int rc = DBK_OK;

    dbk_audit_walk_init(&w);
    for (;;) {
        params p = {.n = 0};
        p_i64(&p, after);
        p_i64(&p, page);
        PGresult *r = run(st, Q_AUDIT_PAGE, &p, &rc);
        if (r == NULL)
            break;
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == DBK_OK; i++) {
            read_audit(r, i, &e);
            rc = dbk_audit_walk_step(&w, &e);
            after = e.index;
        }
        PQclear(r);
        if (rc != DBK_OK || n < page)
            break;
    }
    *checked = w.checked;
    *bad_index = w.bad_index;
    return rc;
}

/* ---- admin ---- */

/* Runs argv (argv[0] on PATH) and waits: DBK_OK if it exited 0. */
static int
run_tool(const char *const *argv)
{
    extern char **environ;
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
        return DBK_E_IO;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return DBK_E_IO;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? DBK_OK : DBK_E_IO;
}

/* pg_dump's custom format to path: one consistent snapshot, while nodes serve.
 * Restore it with daybookd restore (pg_restore into the database). */
static int
pg_backup(pg_store *st, const char *path)
{
    char file[4200];
    const char *argv[] = {"pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                          file, st->url, NULL};
    if ((size_t)snprintf(file, sizeof file, "--file=%s", path) >= sizeof file)
        return DBK_E_IO;
    return run_tool(argv);
}

/*
 * What SQLite's integrity_check stands for here: the relations the server relies on.
 * Every record's stream exists and its seq is within the stream's counter and unique
 * (the index says so); every grant's stream exists; every stream's owner exists.
 */
static const struct {
    const char *what, *sql;
} checks[] = {
    {"records without their stream, or past its seq",
     "SELECT count(*) FROM records r LEFT JOIN streams s ON s.id = r.stream"
     " WHERE s.id IS NULL OR r.seq < 1 OR r.seq > s.seq"},
    {"grants of unknown streams",
     "SELECT count(*) FROM grants g LEFT JOIN streams s ON s.id = g.stream WHERE s.id IS NULL"},
    {"streams of unknown accounts",
     "SELECT count(*) FROM streams s LEFT JOIN accounts a ON a.id = s.owner WHERE a.id IS NULL"},
    {"missing server identity",
     "SELECT 4 - count(*) FROM meta WHERE key IN ('server_id', 'restore_generation',"
     " 'server_secret', 'schema_version')"},
};

static int
pg_check(pg_store *st, char *msg, size_t msgsz)
{
    int64_t checked, bad;
    int rc;

    if ((rc = ensure(st)) != DBK_OK) {
        snprintf(msg, msgsz, "cannot reach the database: %s", dbk_err_message(rc));
        return rc;
    }
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        PGresult *r = PQexecParams(st->conn, checks[i].sql, 0, NULL, NULL, NULL, NULL, 0);
        long long n = -1;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (n != 0) {
            snprintf(msg, msgsz, "integrity: %s (%lld)", checks[i].what, n);
            return DBK_E_CORRUPT;
        }
    }
    if ((rc = pg_audit_verify(st, &checked, &bad)) != DBK_OK) {
        snprintf(msg, msgsz, "audit chain broken at entry %lld", (long long)bad);
        return rc;
    }
    snprintf(msg, msgsz, "integrity ok; audit chain ok (%lld entries)", (long long)checked);
    return DBK_OK;
}

/* ---- whole tables (daybookd migrate) ---- */

static int
table_sql(const dbk_table *t, bool insert_sql, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, insert_sql ? "INSERT INTO %s(" : "SELECT ", t->name);
    for (size_t i = 0; i < t->ncols && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", t->cols[i].name);
    if (n < cap && insert_sql) {
        n += (size_t)snprintf(buf + n, cap - n, ") VALUES (");
        for (size_t i = 0; i < t->ncols && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s$%zu", i ? ", " : "", i + 1);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ")");
    } else if (n < cap) {
        /* Text sorts byte by byte, as in SQLite, whatever the database's collation. */
        bool text_key = strcmp(t->order, "key") == 0;
        n += (size_t)snprintf(buf + n, cap - n, " FROM %s ORDER BY %s%s", t->name, t->order,
                              text_key ? " COLLATE \"C\"" : "");
    }
    return n < cap ? DBK_OK : DBK_E_INTERNAL;
}

/* Row by row (PQsetSingleRowMode): a table may be larger than memory. */
static int
pg_table_rows(pg_store *st, const dbk_table *t, dbk_row_cb cb, void *arg)
{
    char sql[1024];
    dbk_value v[32];
    PGresult *r;
    int rc = DBK_OK, stop = 0;

    if (t->ncols > 32 || table_sql(t, false, sql, sizeof sql) != DBK_OK)
        return DBK_E_INTERNAL;
    if ((rc = ensure(st)) != DBK_OK)
        return rc;
    if (!PQsendQueryParams(st->conn, sql, 0, NULL, NULL, NULL, NULL, 1) ||
        !PQsetSingleRowMode(st->conn))
        return fail(st, NULL);
    while ((r = PQgetResult(st->conn)) != NULL) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_SINGLE_TUPLE && stop == 0) {
            for (size_t i = 0; i < t->ncols; i++) {
                memset(&v[i], 0, sizeof v[i]);
                v[i].null = PQgetisnull(r, 0, (int)i);
                if (t->cols[i].type == DBK_COL_INT) {
                    v[i].i = c_i64(r, 0, (int)i);
                } else {
                    v[i].p = (const unsigned char *)PQgetvalue(r, 0, (int)i);
                    v[i].len = (size_t)PQgetlength(r, 0, (int)i);
                }
            }
            stop = cb(v, arg);
        } else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && rc == DBK_OK) {
            rc = fail(st, r);
        }
        PQclear(r);
    }
    return stop != 0 ? stop : rc;
}

static int
pg_table_insert(pg_store *st, const dbk_table *t, const dbk_value *row)
{
    char sql[1024];
    const char *vals[32];
    int lens[32], fmts[32];
    unsigned char nums[32][8];
    PGresult *r;
    int rc = DBK_OK;

    if (t->ncols > 32 || table_sql(t, true, sql, sizeof sql) != DBK_OK)
        return DBK_E_INTERNAL;
    if (!conn_ok(st))
        return DBK_E_STORE_UNAVAILABLE;
    for (size_t i = 0; i < t->ncols; i++) {
        fmts[i] = 1;
        if (row[i].null) {
            vals[i] = NULL;
            lens[i] = 0;
        } else if (t->cols[i].type == DBK_COL_INT) {
            dbk_put_u64(nums[i], (uint64_t)row[i].i);
            vals[i] = (const char *)nums[i];
            lens[i] = 8;
        } else {
            vals[i] = row[i].len ? (const char *)row[i].p : "";
            lens[i] = (int)row[i].len;
        }
    }
    /* Types from the columns: int8 for integers (binary), bytea and text as sent. */
    Oid types[32];
    for (size_t i = 0; i < t->ncols; i++)
        types[i] = t->cols[i].type == DBK_COL_INT ? 20 : t->cols[i].type == DBK_COL_TEXT ? 25 : 17;
    r = PQexecParams(st->conn, sql, (int)t->ncols, types, vals, lens, fmts, 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = fail(st, r);
    PQclear(r);
    return rc;
}

static int
pg_table_clear(pg_store *st, const dbk_table *t)
{
    char sql[128];
    if ((size_t)snprintf(sql, sizeof sql, "DELETE FROM %s", t->name) >= sizeof sql)
        return DBK_E_INTERNAL;
    return simple(st, sql);
}

/* ---- restore (daybookd restore) ---- */

/* Runs argv and keeps up to cap - 1 bytes of its standard output in buf. */
static int
run_capture(const char *const *argv, char *buf, size_t cap)
{
    extern char **environ;
    posix_spawn_file_actions_t fa;
    int fd[2], status;
    size_t n = 0;
    pid_t pid;

    if (pipe(fd) != 0)
        return DBK_E_IO;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    int spawned = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (spawned != 0) {
        close(fd[0]);
        return DBK_E_IO;
    }
    for (;;) {
        char tmp[4096];
        ssize_t r = read(fd[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t take = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
        memcpy(buf + n, tmp, take);
        n += take;
    }
    buf[n] = '\0';
    close(fd[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return DBK_E_IO;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? DBK_OK : DBK_E_IO;
}

/* The server id in the meta rows of an archive: pg_restore prints them as COPY text,
 * "server_id<TAB>\\x<32 hex digits>". */
static int
archive_server_id(const char *archive, dbk_id *id)
{
    const char *argv[] = {"pg_restore", "--data-only", "--table=meta", "--file=-", archive, NULL};
    static char out[65536];
    const char *p;

    if (run_capture(argv, out, sizeof out) != DBK_OK)
        return DBK_E_CORRUPT;
    for (p = out; (p = strstr(p, "server_id\t")) != NULL; p++) {
        const char *h = p + 10;
        while (*h == '\\')
            h++;
        if (*h++ != 'x')
            continue;
        for (size_t i = 0; i < DBK_ID_BYTES; i++) {
            unsigned int byte;
            if (sscanf(h + 2 * i, "%2x", &byte) != 1)
                return DBK_E_CORRUPT;
            id->b[i] = (unsigned char)byte;
        }
        return DBK_OK;
    }
    return DBK_E_CORRUPT;
}

/* One number from a query of one row and column, or -1. */
static long long
scalar(pg_store *st, const char *sql)
{
    PGresult *r = PQexecParams(st->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* dbk_store_pg_restore (store.h), through the module's table. */
static int
pg_restore_archive(const char *url, const char *archive, int64_t *generation, char *msg,
                   size_t msgsz)
{
    const char *list[] = {"pg_restore", "--list", archive, NULL};
    char dbname[4200], scratch[256];
    dbk_id backup_id;
    dbk_server_info live;
    int64_t floor = 0;
    pg_store *st = NULL;
    int rc;

    if ((size_t)snprintf(dbname, sizeof dbname, "--dbname=%s", url) >= sizeof dbname)
        return DBK_E_INVALID;
    if (run_capture(list, scratch, sizeof scratch) != DBK_OK ||
        archive_server_id(archive, &backup_id) != DBK_OK) {
        snprintf(msg, msgsz, "%s is not a usable Daybook backup (a pg_dump archive of a "
                             "Daybook store, from daybookd backup)", archive);
        return DBK_E_CORRUPT;
    }
    if ((rc = connect_store(url, &st)) != DBK_OK) {
        snprintf(msg, msgsz, "cannot reach the database");
        return rc;
    }
    /* Every node must be stopped: they would serve from the old store meanwhile. */
    long long nodes = scalar(st, "SELECT count(*) FROM pg_stat_activity WHERE"
                                 " datname = current_database() AND application_name ="
                                 " 'daybookd' AND pid <> pg_backend_pid()");
    if (nodes != 0) {
        snprintf(msg, msgsz, "daybookd is serving this database (%lld connections). Stop it "
                             "first, on every node", nodes);
        pg_close(st);
        return DBK_E_CONFLICT;
    }
    if (scalar(st, "SELECT count(*) FROM pg_tables WHERE tablename = 'meta'"
                   " AND schemaname = current_schema()") == 1) {
        if ((rc = pg_server_info(st, &live)) == DBK_OK &&
            !dbk_id_equal(&live.server_id, &backup_id)) {
            snprintf(msg, msgsz, "%s is a backup of another server; refusing", archive);
            rc = DBK_E_CONFLICT;
        }
        floor = live.restore_generation;
        sodium_memzero(&live, sizeof live);
        if (rc != DBK_OK) {
            pg_close(st);
            return rc;
        }
    }
    {
        const char *argv[] = {"pg_restore", "--clean", "--if-exists", "--single-transaction",
                              "--no-owner", "--no-privileges", "--exit-on-error", dbname,
                              archive, NULL};
        if (run_tool(argv) != DBK_OK) {
            snprintf(msg, msgsz, "pg_restore failed; the live store is unchanged");
            pg_close(st);
            return DBK_E_IO;
        }
    }
    /* An archive of an older daybookd is migrated; then nothing revoked since the
     * backup comes back through a token, a challenge or an invite. */
    if ((rc = init_schema(st)) != DBK_OK ||
        (rc = pg_restore_prepare(st, floor, generation)) != DBK_OK)
        snprintf(msg, msgsz, "restored, but preparing it failed (%s); run restore again",
                 dbk_err_message(rc));
    pg_close(st);
    return rc;
}

DBK_BACKEND_TABLE(pg_ops, "postgresql")

/* The module's one exported symbol (everything else is hidden): what store.c checks
 * and calls after dlopen. */
__attribute__((visibility("default"))) const dbk_pg_module dbk_pg_module_table = {
    .version = DBK_VERSION,
    .ops_size = sizeof(dbk_store_ops),
    .open = pg_open_url,
    .restore = pg_restore_archive,
};
