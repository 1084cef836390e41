/*
 * bench_ceilings --out FILE: what this machine can do at most for the work a
 * Daybook sync does, measured in the same run as the rest of issue 8 so that
 * the server's figures can be read as a share of these ceilings.
 *
 * SQLite. The rows are shaped like the load generator's workload: 100 streams,
 * 5 rounds in which each stream gets a batch of 50 records, each a real ~450-byte
 * envelope (a 200-byte plaintext padded to 256, sealed and signed). The table
 * and its indexes are the server's own: the database file is created by the
 * store (dbk_store_open, server/store_sqlite.c), so its schema cannot drift from
 * what daybookd runs. The connection settings (WAL, synchronous=FULL,
 * secure_delete) and the insert and select statements are copied from that file
 * because it keeps them private; if the records table changes, the insert here
 * fails loudly rather than measuring something else.
 *
 *   sqlite_insert_rows_per_s   raw prepared INSERT, one transaction per round
 *                              (5,000 rows), in a temp dir on the same disk
 *   sqlite_select_rows_per_s   raw "stream = ? AND seq > ? ORDER BY seq LIMIT 500"
 *                              pages, every stream from zero, 3 passes: a pull
 *   store_push_rows_per_s      the same rows through dbk_store_push as the storage
 *                              worker runs it (a savepoint and an audit entry per
 *                              push, one transaction per round)
 *   store_pull_rows_per_s      the same reads through dbk_store_pull
 *   store_push1_rows_per_s     the same rows one record a push, the streams taking
 *                              turns (as incremental syncs push), 100 per transaction
 *   store_pull_interleaved_rows_per_s   dbk_store_pull of those: a stream's records
 *                              stored apart in time (what a layout in insertion order
 *                              would scatter; README, Performance)
 *
 * With --floor, only the floor of a push in CPU time (issue 20: "server CPU per
 * record against the verify+insert floor"), which a loaded machine distorts less
 * than wall-clock rates (the process's CPU clock, best of 3 trials):
 *   floor_verify_cpu_us        one Ed25519 verify of a row's envelope, as the
 *                              server does it (signing input built, then checked)
 *   floor_store_push_cpu_us    one row through dbk_store_push, as store_push above
 *   floor_push_cpu_us          the sum: what a pushed record costs at the least;
 *                              compare bench_load's daybook_push_cpu_ms_per_1k
 *                              (ms per 1,000 records = µs per record)
 *
 * libsodium. For each operation a sync performs, the raw primitive on inputs of
 * the real sizes, and where Daybook wraps it (dbk_envelope_seal/open,
 * dbk_grant_open, dbk_b64_*, the server's token hash) the wrapper on the same
 * input, so the ratio is Daybook's share of the primitive's rate. Each rate is
 * the best of 3 trials of at least 0.25 s (Argon2id: of 3 single runs).
 *
 * Benchmarks print; they never fail CI and are not ctest tests.
 */
#include "bench_rows.h"

#include "api.h"
#include "dbk_test.h"
#include "store.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAMS 100
#define ROUNDS 5
#define BATCH 50
#define ROWS (STREAMS * ROUNDS * BATCH)
#define PLAIN_BYTES 200    /* pads to 256: a 444-byte envelope, "~450 bytes" */
#define PULL_PAGE 500      /* api_records.c PULL_LIMIT_DEFAULT */
#define PULL_BYTES 1048576 /* api_records.c PULL_BYTES_DEFAULT */
#define PULL_PASSES 3
#define TRIALS 3
#define MIN_TRIAL_S 0.25

/* Copied from server/store_sqlite.c (open_path and Q_RECORD_UPSERT / Q_RECORDS_SINCE,
 * the latter without the grant filter an owner's pull skips). */
static const char PRAGMAS[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;";
static const char INSERT_SQL[] =
    "INSERT OR REPLACE INTO records(stream, record, seq, clock, device,"
    " epoch, creator, envelope) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
static const char SELECT_SQL[] = "SELECT seq, envelope FROM records WHERE stream = ?1 AND seq > ?2"
                                 " ORDER BY seq LIMIT ?3";

static void
die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_ceilings: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* ---- the workload's rows ---- */

struct owner {
    dbk_id account, stream, device;
    dbk_account_keys *keys;
    unsigned char key[32];
};

struct row {
    unsigned char *env;
    size_t len;
    dbk_envelope_hdr hdr;
    int owner;
};

static struct owner owners[STREAMS];
static struct row rows[ROWS]; /* in load order: round, stream, item */

static void
make_rows(void)
{
    unsigned char plain[PLAIN_BYTES];
    uint64_t clock = (uint64_t)time(NULL) * 1000 << 16;
    size_t i = 0;

    /* JSON-like text; the bytes do not matter to SQLite or to the ciphers. */
    memset(plain, 'x', sizeof plain);
    memcpy(plain, "{\"type\":\"craving\",\"v\":1,\"note\":\"", 32);
    plain[PLAIN_BYTES - 2] = '"';
    plain[PLAIN_BYTES - 1] = '}';
    for (int u = 0; u < STREAMS; u++) {
        struct owner *o = &owners[u];
        dbk_id_random(&o->account);
        dbk_id_random(&o->stream);
        dbk_id_random(&o->device);
        if ((o->keys = dbk_account_keys_new()) == NULL)
            die("out of memory", NULL);
        randombytes_buf(o->key, sizeof o->key);
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int u = 0; u < STREAMS; u++)
            for (int k = 0; k < BATCH; k++, i++) {
                struct row *w = &rows[i];
                memset(&w->hdr, 0, sizeof w->hdr);
                w->owner = u;
                w->hdr.stream = owners[u].stream;
                dbk_id_random(&w->hdr.record);
                w->hdr.rev.clock = ++clock;
                w->hdr.rev.device = owners[u].device;
                w->hdr.epoch = 1;
                w->hdr.author = owners[u].account;
                if (dbk_envelope_seal(&w->hdr, owners[u].key, owners[u].keys->sign_sk, plain,
                                      sizeof plain, NULL, &w->env, &w->len) != DBK_OK)
                    die("cannot seal an envelope", NULL);
            }
}

/* ---- SQLite ---- */

/* A new store in a new temp dir, with the workload's accounts and streams. */
static dbk_store *
new_store(char **dir)
{
    dbk_store *st;
    int rc;

    *dir = dbk_tmpdir("bench-ceil");
    if ((rc = dbk_store_open(*dir, &st)) != DBK_OK)
        die("dbk_store_open", dbk_err_code(rc));
    if (dbk_store_tx_begin(st) != DBK_OK)
        die("begin", NULL);
    for (int u = 0; u < STREAMS; u++) {
        dbk_account a;
        dbk_stream s;
        memset(&a, 0, sizeof a);
        a.id = owners[u].account;
        a.role = DBK_ROLE_CLIENT;
        memcpy(a.sign_pk, owners[u].keys->sign_pk, 32);
        memcpy(a.box_pk, owners[u].keys->box_pk, 32);
        a.created_at = (int64_t)time(NULL) * 1000;
        memset(&s, 0, sizeof s);
        s.id = owners[u].stream;
        s.owner = owners[u].account;
        s.kind = DBK_STREAM_SHARED;
        s.epoch = 1;
        if ((rc = dbk_store_account_create(st, &a)) != DBK_OK ||
            (rc = dbk_store_stream_create(st, &s)) != DBK_OK)
            die("cannot create the accounts", dbk_err_code(rc));
    }
    if (dbk_store_tx_commit(st) != DBK_OK)
        die("commit", NULL);
    return st;
}

static sqlite3 *
open_raw(const char *dir)
{
    char path[4200];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/daybook.db", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        die("sqlite3_open_v2", sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, PRAGMAS, NULL, NULL, NULL) != SQLITE_OK)
        die("pragmas", sqlite3_errmsg(db));
    return db;
}

static void
exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(sql, sqlite3_errmsg(db));
}

/* Inserts every row, committing each per_tx rows; returns rows/s. Leaves the store in *dir. */
static double
raw_insert(size_t per_tx, char **dir)
{
    dbk_store *st = new_store(dir);
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t seq[STREAMS] = {0};
    double t0, t1;

    dbk_store_close(st);
    db = open_raw(*dir);
    if (sqlite3_prepare_v2(db, INSERT_SQL, -1, &q, NULL) != SQLITE_OK)
        die("the records table is not what this benchmark expects", sqlite3_errmsg(db));
    t0 = br_now();
    exec(db, "BEGIN IMMEDIATE");
    for (size_t i = 0; i < ROWS; i++) {
        const struct row *w = &rows[i];
        sqlite3_bind_blob(q, 1, w->hdr.stream.b, DBK_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(q, 2, w->hdr.record.b, DBK_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, ++seq[w->owner]);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)w->hdr.rev.clock);
        sqlite3_bind_blob(q, 5, w->hdr.rev.device.b, DBK_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(q, 6, w->hdr.epoch);
        sqlite3_bind_blob(q, 7, w->hdr.author.b, DBK_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(q, 8, w->env, (int)w->len, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE)
            die("insert", sqlite3_errmsg(db));
        sqlite3_reset(q);
        if ((i + 1) % per_tx == 0) {
            exec(db, "COMMIT");
            if (i + 1 < ROWS)
                exec(db, "BEGIN IMMEDIATE");
        }
    }
    if (ROWS % per_tx != 0)
        exec(db, "COMMIT");
    t1 = br_now();
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ROWS / (t1 - t0);
}

/* Every stream from seq 0 in pages, PULL_PASSES times; returns rows/s. */
static double
raw_select(const char *dir)
{
    sqlite3 *db = open_raw(dir);
    sqlite3_stmt *q;
    size_t got = 0, bytes = 0;
    double t0, t1;

    if (sqlite3_prepare_v2(db, SELECT_SQL, -1, &q, NULL) != SQLITE_OK)
        die("select", sqlite3_errmsg(db));
    t0 = br_now();
    for (int p = 0; p < PULL_PASSES; p++)
        for (int u = 0; u < STREAMS; u++) {
            int64_t since = 0;
            for (;;) {
                int n = 0;
                sqlite3_bind_blob(q, 1, owners[u].stream.b, DBK_ID_BYTES, SQLITE_STATIC);
                sqlite3_bind_int64(q, 2, since);
                sqlite3_bind_int64(q, 3, PULL_PAGE);
                while (sqlite3_step(q) == SQLITE_ROW) {
                    since = sqlite3_column_int64(q, 0);
                    bytes += (size_t)sqlite3_column_bytes(q, 1); /* reads the blob */
                    n++;
                }
                sqlite3_reset(q);
                got += (size_t)n;
                if (n < PULL_PAGE)
                    break;
            }
        }
    t1 = br_now();
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (got != (size_t)ROWS * PULL_PASSES || bytes == 0)
        die("the select did not read every row", NULL);
    return (double)got / (t1 - t0);
}

/* Seconds of this process's CPU. */
static double
cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The CPU seconds of the last store_push (its wall-clock rate is what it returns). */
static double store_push_cpu_s;

/* One push of n rows of stream u in a savepoint with its audit entry, as the storage
 * worker runs it. */
static void
push_rows(dbk_store *st, int u, const struct row *w, int n)
{
    dbk_push_item items[BATCH];
    dbk_push_batch b;
    dbk_audit_entry e;
    int rc;

    memset(items, 0, sizeof items);
    for (int k = 0; k < n; k++) {
        items[k].env = w[k].env;
        items[k].len = w[k].len;
        items[k].hdr = w[k].hdr;
    }
    memset(&b, 0, sizeof b);
    b.stream = owners[u].stream;
    b.quota = 256LL * 1024 * 1024;
    b.items = items;
    b.n = (size_t)n;
    if ((rc = dbk_store_sp_begin(st)) != DBK_OK || (rc = dbk_store_push(st, &b)) != DBK_OK)
        die("dbk_store_push", dbk_err_code(rc));
    memset(&e, 0, sizeof e);
    e.at = (int64_t)time(NULL) * 1000;
    e.action = DBK_AUDIT_WRITE;
    e.actor_role = DBK_ROLE_CLIENT;
    e.actor = e.owner = owners[u].account;
    e.device = owners[u].device;
    e.stream = owners[u].stream;
    e.epoch = 1;
    e.count = (uint32_t)b.nstored;
    e.seq_from = b.seq_from;
    e.seq_to = b.seq_to;
    if ((rc = dbk_store_audit_append(st, &e)) != DBK_OK ||
        (rc = dbk_store_sp_release(st)) != DBK_OK)
        die("audit", dbk_err_code(rc));
}

/*
 * The rows through the store. With per == BATCH, as the load generator's push phase
 * does: one transaction per round, each push one stream's batch. With per == 1, as
 * incremental syncs do: every push one record, the streams taking turns (each stream's
 * records interleaved with the other 99 streams' in the order stored), one transaction
 * per turn of all streams; a pull then shows whether a layout keeps a stream's
 * records together when they were not pushed together.
 */
static double
store_push(char **dir, int per)
{
    dbk_store *st = new_store(dir);
    double t0, t1, c0;

    t0 = br_now();
    c0 = cpu_now();
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < BATCH; k += per) {
            if (dbk_store_tx_begin(st) != DBK_OK)
                die("begin", NULL);
            for (int u = 0; u < STREAMS; u++)
                push_rows(st, u, &rows[((size_t)r * STREAMS + (size_t)u) * BATCH + (size_t)k], per);
            if (dbk_store_tx_commit(st) != DBK_OK)
                die("commit", NULL);
        }
    t1 = br_now();
    store_push_cpu_s = cpu_now() - c0;
    dbk_store_close(st);
    return ROWS / (t1 - t0);
}

struct pull_sink {
    size_t n, bytes;
};

static void
on_record(int64_t seq, const unsigned char *env, size_t len, void *arg)
{
    struct pull_sink *k = arg;
    (void)seq;
    (void)env;
    k->n++;
    k->bytes += len;
}

static double
store_pull(const char *dir)
{
    dbk_store *st;
    struct pull_sink k = {0, 0};
    int64_t now = (int64_t)time(NULL) * 1000;
    double t0, t1;
    int rc;

    if ((rc = dbk_store_open(dir, &st)) != DBK_OK)
        die("dbk_store_open", dbk_err_code(rc));
    t0 = br_now();
    for (int p = 0; p < PULL_PASSES; p++)
        for (int u = 0; u < STREAMS; u++) {
            int64_t since = 0;
            bool more = true;
            while (more) {
                size_t bytes = 0;
                if ((rc = dbk_store_pull(st, &owners[u].stream, NULL, now, since, PULL_PAGE,
                                         PULL_BYTES, on_record, &k, &more, &since, &bytes, NULL)) !=
                    DBK_OK)
                    die("dbk_store_pull", dbk_err_code(rc));
            }
        }
    t1 = br_now();
    dbk_store_close(st);
    if (k.n != (size_t)ROWS * PULL_PASSES)
        die("the store's pull did not give every row", NULL);
    return (double)k.n / (t1 - t0);
}

static double
best_of(double a, double b)
{
    return a > b ? a : b;
}

static void
bench_sqlite(br_table *t)
{
    double ins = 0, ins50 = 0, sel = 0, push = 0, pull = 0, push1 = 0, pull1 = 0;
    char *dir;

    for (int i = 0; i < TRIALS; i++) {
        ins = best_of(ins, raw_insert((size_t)STREAMS * BATCH, &dir));
        sel = best_of(sel, raw_select(dir));
        dbk_rmtree(dir);
        free(dir);
        ins50 = best_of(ins50, raw_insert(BATCH, &dir));
        dbk_rmtree(dir);
        free(dir);
        push = best_of(push, store_push(&dir, BATCH));
        pull = best_of(pull, store_pull(dir));
        dbk_rmtree(dir);
        free(dir);
        push1 = best_of(push1, store_push(&dir, 1));
        pull1 = best_of(pull1, store_pull(dir));
        dbk_rmtree(dir);
        free(dir);
    }
    br_add(t, "sqlite_insert_rows_per_s",
           "SQLite ceiling: insert 25,000 444-byte envelope rows (100 streams), server schema, "
           "WAL + synchronous=FULL, 5,000 rows per transaction",
           ins, "rows/s", NULL);
    br_add(t, "sqlite_insert_batch50_rows_per_s",
           "SQLite, the same rows committed per 50-row push (one fsync per push)", ins50, "rows/s",
           "sqlite_insert_rows_per_s");
    br_add(t, "sqlite_select_rows_per_s",
           "SQLite ceiling: select by stream and seq > N, 500-row pages, 3 passes over all "
           "streams (a pull)",
           sel, "rows/s", NULL);
    br_add(t, "store_push_rows_per_s",
           "daybookd's store (dbk_store_push + audit, savepoint per push), same rows and "
           "transactions",
           push, "rows/s", "sqlite_insert_rows_per_s");
    br_add(t, "store_pull_rows_per_s", "daybookd's store (dbk_store_pull), same reads", pull,
           "rows/s", "sqlite_select_rows_per_s");
    br_add(t, "store_push1_rows_per_s",
           "daybookd's store, the same rows one record a push, the streams taking turns "
           "(an incremental sync's push), 100 pushes per transaction",
           push1, "rows/s", "store_push_rows_per_s");
    br_add(t, "store_pull_interleaved_rows_per_s",
           "daybookd's store (dbk_store_pull), the same reads of those interleaved rows", pull1,
           "rows/s", "store_pull_rows_per_s");
}

/* ---- libsodium ---- */

/* What the operations work on, made once, checked before timing. */
static struct material {
    dbk_envelope_hdr hdr;
    unsigned char key[32];
    dbk_account_keys *author, *grantee;
    unsigned char plain[PLAIN_BYTES];
    unsigned char padded[DBK_PAD_BLOCK], ad[DBK_ENV_AD_BYTES], nonce[24];
    unsigned char ct[DBK_PAD_BLOCK + 16], out[DBK_PAD_BLOCK + 16];
    unsigned char *env;
    size_t env_len;
    unsigned char sig_in[DBK_ENV_SIG_DOMAIN_BYTES + 512], sig[64];
    size_t sig_len;
    unsigned char *grant;
    size_t grant_len;
    dbk_grant_hdr ghdr;
    unsigned char gsig_in[DBK_GRANT_SIG_DOMAIN_BYTES + 2048];
    size_t gsig_len;
    unsigned char opened[2048];
    char b64[1024];
    size_t b64_len;
    unsigned char bin[1024];
    unsigned char token[32], hash[32];
    char *passphrase;
    dbk_kdf_params kdf;
} M;

static void
op_aead_seal(void)
{
    crypto_aead_xchacha20poly1305_ietf_encrypt(M.ct, NULL, M.padded, sizeof M.padded, M.ad,
                                               sizeof M.ad, NULL, M.nonce, M.key);
}

static void
op_aead_open(void)
{
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(M.out, NULL, NULL, M.ct, sizeof M.ct, M.ad,
                                                   sizeof M.ad, M.nonce, M.key) != 0)
        die("aead open failed", NULL);
}

static void
op_sign(void)
{
    crypto_sign_detached(M.sig, NULL, M.sig_in, M.sig_len, M.author->sign_sk);
}

static void
op_verify(void)
{
    if (crypto_sign_verify_detached(M.env + M.env_len - 64, M.sig_in, M.sig_len,
                                    M.author->sign_pk) != 0)
        die("verify failed", NULL);
}

/* The primitives of one envelope, without Daybook's framing: nonce, AEAD, signature. */
static void
op_env_seal_prims(void)
{
    randombytes_buf(M.nonce, sizeof M.nonce);
    op_aead_seal();
    op_sign();
}

static void
op_env_open_prims(void)
{
    op_verify();
    op_aead_open();
}

static void
op_dbk_seal(void)
{
    unsigned char *env;
    size_t len;
    if (dbk_envelope_seal(&M.hdr, M.key, M.author->sign_sk, M.plain, sizeof M.plain, NULL, &env,
                          &len) != DBK_OK)
        die("dbk_envelope_seal failed", NULL);
    free(env);
}

static void
op_dbk_open(void)
{
    dbk_envelope_expect x = {&M.hdr.stream, &M.hdr.record, M.hdr.epoch, &M.hdr.author,
                             M.author->sign_pk};
    unsigned char *plain;
    size_t plen;
    if (dbk_envelope_open(M.env, M.env_len, &x, M.key, &plain, &plen) != DBK_OK)
        die("dbk_envelope_open failed", NULL);
    dbk_plaintext_free(plain, plen);
}

static void
op_box_seal_open(void)
{
    size_t sealed_len = M.grant_len - DBK_GRANT_OVERHEAD;
    if (crypto_box_seal_open(M.opened, M.grant + DBK_GRANT_HEADER_BYTES, sealed_len,
                             M.grantee->box_pk, M.grantee->box_sk) != 0)
        die("box seal open failed", NULL);
}

static void
op_grant_prims(void)
{
    if (crypto_sign_verify_detached(M.grant + M.grant_len - 64, M.gsig_in, M.gsig_len,
                                    M.author->sign_pk) != 0)
        die("grant verify failed", NULL);
    op_box_seal_open();
}

static void
op_dbk_grant_open(void)
{
    dbk_grant_expect e = {&M.ghdr.owner,     M.author->sign_pk, &M.ghdr.grantee,
                          M.grantee->box_pk, M.grantee->box_sk, 0};
    dbk_grant_hdr h;
    unsigned char key[32];
    char *consent;
    if (dbk_grant_open(M.grant, M.grant_len, &e, &h, key, &consent) != DBK_OK)
        die("dbk_grant_open failed", NULL);
    sodium_memzero(key, sizeof key);
    free(consent);
}

static void
op_hash_token(void)
{
    crypto_generichash(M.hash, sizeof M.hash, M.token, sizeof M.token, NULL, 0);
}

static void
op_dbk_token_hash(void)
{
    dbk_api_token_hash(M.hash, M.token, sizeof M.token);
}

static void
op_b64_encode(void)
{
    sodium_bin2base64(M.b64, sizeof M.b64, M.env, M.env_len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
op_dbk_b64_encode(void)
{
    if (dbk_b64_encode(M.b64, sizeof M.b64, M.env, M.env_len) != DBK_OK)
        die("dbk_b64_encode failed", NULL);
}

static void
op_b64_decode(void)
{
    size_t len;
    if (sodium_base642bin(M.bin, sizeof M.bin, M.b64, M.b64_len, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != M.env_len)
        die("base64 decode failed", NULL);
}

static void
op_dbk_b64_decode(void)
{
    size_t len;
    if (dbk_b64_decode(M.bin, sizeof M.bin, &len, M.b64, M.b64_len) != DBK_OK || len != M.env_len)
        die("dbk_b64_decode failed", NULL);
}

/* The server's decoder of pushed envelopes (public bytes: table lookup). */
static void
op_dbk_b64_decode_public(void)
{
    size_t len;
    if (dbk_b64_decode_public(M.bin, sizeof M.bin, &len, M.b64, M.b64_len) != DBK_OK ||
        len != M.env_len)
        die("dbk_b64_decode_public failed", NULL);
}

static void
op_argon2id(void)
{
    dbk_pass_keys *pk;
    if (dbk_pass_keys_derive(M.passphrase, strlen(M.passphrase), &M.kdf, &pk) != DBK_OK)
        die("Argon2id failed", NULL);
    dbk_pass_keys_free(pk);
}

/* Best ops/s of TRIALS trials of at least min_s seconds, in chunks of chunk calls. */
static double
rate(void (*op)(void), int chunk, double min_s)
{
    double best = 0;
    for (int t = 0; t < TRIALS; t++) {
        double t0 = br_now(), el;
        long n = 0;
        do {
            for (int k = 0; k < chunk; k++)
                op();
            n += chunk;
        } while ((el = br_now() - t0) < min_s);
        best = best_of(best, (double)n / el);
    }
    return best;
}

static void
make_material(void)
{
    static const char consent[] =
        "{\"type\":\"consent\",\"v\":1,\"patient\":{\"account_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"},"
        "\"disclosed_by\":[{\"kind\":\"client\"}],\"information\":{\"description\":\"My "
        "cravings, the journal entries I share, and my coping-skills checklist.\","
        "\"record_types\":[\"craving\",\"journal\",\"checklist_day\",\"checklist_def\"]},"
        "\"recipient\":{\"name\":\"my counselor\",\"account_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"},"
        "\"purpose\":\"So my counselor can review my between-session records for my "
        "treatment.\",\"right_to_revoke\":\"I may revoke this consent at any time in Daybook; "
        "what was already read stays read.\",\"expires\":{\"event\":\"my discharge from the "
        "program\"},\"signed_at\":\"2026-11-20T18:40:00-05:00\",\"redisclosure_notice\":\"42 "
        "CFR part 2 prohibits unauthorized use or disclosure of these records.\"}";
    size_t padded_len;

    memset(&M.hdr, 0, sizeof M.hdr);
    dbk_id_random(&M.hdr.stream);
    dbk_id_random(&M.hdr.record);
    dbk_id_random(&M.hdr.rev.device);
    dbk_id_random(&M.hdr.author);
    M.hdr.rev.clock = (uint64_t)time(NULL) * 1000 << 16;
    M.hdr.epoch = 1;
    randombytes_buf(M.key, sizeof M.key);
    if ((M.author = dbk_account_keys_new()) == NULL || (M.grantee = dbk_account_keys_new()) == NULL)
        die("out of memory", NULL);
    memset(M.plain, 'x', sizeof M.plain);
    memcpy(M.padded, M.plain, sizeof M.plain);
    if (dbk_pad(M.padded, sizeof M.plain, sizeof M.padded, &padded_len) != DBK_OK ||
        padded_len != sizeof M.padded)
        die("padding", NULL);
    if (dbk_envelope_seal(&M.hdr, M.key, M.author->sign_sk, M.plain, sizeof M.plain, NULL, &M.env,
                          &M.env_len) != DBK_OK)
        die("seal", NULL);
    dbk_envelope_ad(M.env, M.ad);
    memcpy(M.nonce, M.env + DBK_ENV_AD_PREFIX, sizeof M.nonce);
    memcpy(M.ct, M.env + DBK_ENV_HEADER_BYTES, sizeof M.ct);
    if (M.env_len != DBK_ENV_OVERHEAD + sizeof M.ct)
        die("unexpected envelope size", NULL);
    M.sig_len = dbk_envelope_signing_input(M.env, M.env_len, M.sig_in);

    memset(&M.ghdr, 0, sizeof M.ghdr);
    M.ghdr.stream = M.hdr.stream;
    M.ghdr.epoch = 1;
    M.ghdr.owner = M.hdr.author;
    dbk_id_random(&M.ghdr.grantee);
    M.ghdr.created_at = (uint64_t)time(NULL) * 1000;
    if (dbk_grant_seal(&M.ghdr, M.key, consent, sizeof consent - 1, M.grantee->box_pk,
                       M.author->sign_sk, &M.grant, &M.grant_len) != DBK_OK ||
        M.grant_len > sizeof M.gsig_in - DBK_GRANT_SIG_DOMAIN_BYTES)
        die("grant", NULL);
    M.gsig_len = dbk_grant_signing_input(M.grant, M.grant_len, M.gsig_in);

    randombytes_buf(M.token, sizeof M.token);
    dbk_b64_encode(M.b64, sizeof M.b64, M.env, M.env_len);
    M.b64_len = strlen(M.b64);
    M.passphrase = "a passphrase of a realistic length";
    dbk_kdf_params_new(&M.kdf);

    /* Every operation once, so a wrong input fails here and not as a fast error path. */
    op_aead_seal();
    op_aead_open();
    op_verify();
    op_dbk_open();
    op_grant_prims();
    op_dbk_grant_open();
    op_b64_decode();
    op_dbk_b64_decode();
    op_dbk_b64_decode_public();
}

static void
bench_sodium(br_table *t)
{
    char label[200];

    make_material();
    br_add(t, "sodium_aead_seal_per_s",
           "XChaCha20-Poly1305 seal of an envelope's 256-byte padded plaintext (103-byte AD)",
           rate(op_aead_seal, 64, MIN_TRIAL_S), "ops/s", NULL);
    br_add(t, "sodium_aead_open_per_s", "XChaCha20-Poly1305 open of the same (256 + 16 bytes)",
           rate(op_aead_open, 64, MIN_TRIAL_S), "ops/s", NULL);
    snprintf(label, sizeof label, "Ed25519 sign of an envelope's signing input (%zu bytes)",
             M.sig_len);
    br_add(t, "sodium_sign_per_s", label, rate(op_sign, 16, MIN_TRIAL_S), "ops/s", NULL);
    br_add(t, "sodium_verify_per_s",
           "Ed25519 verify of the same (server: every pushed record; reader: every entry)",
           rate(op_verify, 16, MIN_TRIAL_S), "ops/s", NULL);
    br_add(t, "sodium_envelope_seal_prims_per_s",
           "the primitives of one envelope seal: 24-byte nonce + AEAD seal + Ed25519 sign",
           rate(op_env_seal_prims, 16, MIN_TRIAL_S), "ops/s", NULL);
    snprintf(label, sizeof label,
             "dbk_envelope_seal: pad, frame, seal, sign a %d-byte plaintext (%zu-byte envelope)",
             PLAIN_BYTES, M.env_len);
    br_add(t, "dbk_envelope_seal_per_s", label, rate(op_dbk_seal, 16, MIN_TRIAL_S), "ops/s",
           "sodium_envelope_seal_prims_per_s");
    br_add(t, "sodium_envelope_open_prims_per_s",
           "the primitives of one envelope open: Ed25519 verify + AEAD open",
           rate(op_env_open_prims, 16, MIN_TRIAL_S), "ops/s", NULL);
    br_add(t, "dbk_envelope_open_per_s",
           "dbk_envelope_open: parse, check author, verify, decrypt, unpad, copy",
           rate(op_dbk_open, 16, MIN_TRIAL_S), "ops/s", "sodium_envelope_open_prims_per_s");
    snprintf(label, sizeof label,
             "X25519 sealed box open of a grant's key + consent (%zu sealed bytes)",
             M.grant_len - DBK_GRANT_OVERHEAD);
    br_add(t, "sodium_box_seal_open_per_s", label, rate(op_box_seal_open, 16, MIN_TRIAL_S), "ops/s",
           NULL);
    br_add(t, "sodium_grant_open_prims_per_s",
           "the primitives of one grant open: Ed25519 verify + sealed box open",
           rate(op_grant_prims, 16, MIN_TRIAL_S), "ops/s", NULL);
    br_add(t, "dbk_grant_open_per_s",
           "dbk_grant_open: parse, verify, open, check the sealed key and consent JSON",
           rate(op_dbk_grant_open, 16, MIN_TRIAL_S), "ops/s", "sodium_grant_open_prims_per_s");
    br_add(t, "sodium_generichash_token_per_s",
           "BLAKE2b-256 of a 32-byte bearer token (one per request)",
           rate(op_hash_token, 256, MIN_TRIAL_S), "ops/s", NULL);
    br_add(t, "dbk_api_token_hash_per_s",
           "daybookd's token hash (BLAKE2b-256, domain prefix + token, incremental API)",
           rate(op_dbk_token_hash, 256, MIN_TRIAL_S), "ops/s", "sodium_generichash_token_per_s");
    snprintf(label, sizeof label, "base64url encode of a %zu-byte envelope (libsodium)", M.env_len);
    br_add(t, "sodium_b64_encode_per_s", label, rate(op_b64_encode, 256, MIN_TRIAL_S), "ops/s",
           NULL);
    br_add(t, "dbk_b64_encode_per_s", "dbk_b64_encode of the same",
           rate(op_dbk_b64_encode, 256, MIN_TRIAL_S), "ops/s", "sodium_b64_encode_per_s");
    snprintf(label, sizeof label, "base64url decode of the same (%zu characters, libsodium)",
             M.b64_len);
    br_add(t, "sodium_b64_decode_per_s", label, rate(op_b64_decode, 256, MIN_TRIAL_S), "ops/s",
           NULL);
    br_add(t, "dbk_b64_decode_per_s", "dbk_b64_decode of the same (strict: alphabet checked)",
           rate(op_dbk_b64_decode, 256, MIN_TRIAL_S), "ops/s", "sodium_b64_decode_per_s");
    br_add(t, "dbk_b64_decode_public_per_s",
           "dbk_b64_decode_public of the same (the server's, for pushed envelopes: as strict, "
           "by table lookup; dbk_b64_decode stays for keys and tokens)",
           rate(op_dbk_b64_decode_public, 256, MIN_TRIAL_S), "ops/s", "sodium_b64_decode_per_s");
    /* Not per record: once per unlock, which is why `daybook unlock` exists. */
    br_add(t, "sodium_argon2id_per_s",
           "Argon2id at Daybook's default (3 passes, 64 MiB): once per unlock, never per record",
           rate(op_argon2id, 1, 0), "ops/s", NULL);
}

/* --floor: a pushed record's least CPU, verify + insert (the comment at the top). */
static void
bench_floor(br_table *t)
{
    double verify = 1e9, push = 1e9;
    unsigned char *in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + DBK_ENV_MAX_BYTES);
    char *dir;

    if (in == NULL)
        die("out of memory", NULL);
    for (int k = 0; k < TRIALS; k++) {
        double c0 = cpu_now();
        for (size_t i = 0; i < ROWS; i++) {
            const struct row *w = &rows[i];
            size_t n = dbk_envelope_signing_input(w->env, w->len, in);
            if (crypto_sign_verify_detached(w->env + w->len - crypto_sign_BYTES, in, n,
                                            owners[w->owner].keys->sign_pk) != 0)
                die("verify failed", NULL);
        }
        verify = fmin(verify, (cpu_now() - c0) / ROWS * 1e6);
        (void)store_push(&dir, BATCH);
        push = fmin(push, store_push_cpu_s / ROWS * 1e6);
        dbk_rmtree(dir);
        free(dir);
    }
    free(in);
    br_add(t, "floor_verify_cpu_us", "CPU per record: Ed25519 verify of its envelope", verify,
           "us", NULL);
    br_add(t, "floor_store_push_cpu_us",
           "CPU per record: dbk_store_push + audit, 5,000 rows per transaction", push, "us",
           NULL);
    br_add(t, "floor_push_cpu_us", "CPU per record: the verify+insert floor of a push",
           verify + push, "us", NULL);
}

static int
usage(void)
{
    fprintf(stderr, "usage: bench_ceilings --out FILE [--floor]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *out = NULL;
    bool floor_only = false;
    br_table t;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--floor") == 0)
            floor_only = true;
        else
            return usage();
    }
    if (out == NULL)
        return usage();
    if (dbk_init() != 0)
        die("libsodium failed to initialise", NULL);
    br_init(&t, "ceilings");
    fprintf(stderr, "bench_ceilings: sealing %d envelopes...\n", ROWS);
    make_rows();
    if (floor_only) {
        bench_floor(&t);
        br_print(&t, stdout);
        for (int u = 0; u < STREAMS; u++)
            dbk_account_keys_free(owners[u].keys);
        for (size_t i = 0; i < ROWS; i++)
            free(rows[i].env);
        return br_write_json(&t, out) == 0 ? 0 : 1;
    }
    fprintf(stderr, "bench_ceilings: SQLite (%d trials)...\n", TRIALS);
    bench_sqlite(&t);
    fprintf(stderr, "bench_ceilings: libsodium...\n");
    bench_sodium(&t);
    br_print(&t, stdout);
    for (int u = 0; u < STREAMS; u++)
        dbk_account_keys_free(owners[u].keys);
    for (size_t i = 0; i < ROWS; i++)
        free(rows[i].env);
    dbk_account_keys_free(M.author);
    dbk_account_keys_free(M.grantee);
    free(M.env);
    free(M.grant);
    return br_write_json(&t, out) == 0 ? 0 : 1;
}
