/*
 * The storage interface: everything daybookd keeps goes through these calls. Two
 * backends implement it, each in its own folder: store/sqlite/ (one file, the
 * embedded default) and store/pg/ (PostgreSQL through libpq, for several daybookd
 * nodes on one database). What they share (the schema and its migrations, the push
 * and pull rules, the audit chain) is in store/; store/backend.h says how a backend
 * plugs in. Calls block; only the storage worker (worker.c) makes them,
 * inside the transaction and savepoints it manages, never the event loop.
 *
 * What the store holds is metadata and opaque bytes: public keys, key bundles
 * encrypted on the device, grants sealed to their grantee, envelopes. Nothing in
 * it can be decrypted with anything the server has.
 *
 * Every function returns DBK_OK or a negative dbk error: DBK_E_NOT_FOUND,
 * DBK_E_CONFLICT (unique key taken), DBK_E_STORAGE_FULL (disk full),
 * DBK_E_UNAVAILABLE (I/O error, busy), DBK_E_STORE_UNAVAILABLE (the database
 * server cannot be reached or asked the transaction to be retried) and the specific
 * ones each names.
 *
 * Lists come through a callback, one row at a time. Only the callbacks of
 * clients_of and counselors may call the store themselves (the caseload asks about
 * each client); every other list's callback must not: PostgreSQL passes those rows
 * as they arrive, with the connection busy until the last, so that no list is held
 * whole in memory. After an error the rows before it may have been passed.
 */
#ifndef DBK_SERVER_STORE_H
#define DBK_SERVER_STORE_H

#include "dbk/envelope.h"
#include "dbk/id.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DBK_ALIAS_MAX 64
#define DBK_NAME_MAX 64
#define DBK_HASH_BYTES 32

typedef struct dbk_store dbk_store;

/* Opens (creating if needed) dir/daybook.db. See store/schema.c for the schema. */
int dbk_store_open(const char *dir, dbk_store **out);
/*
 * Opens the store a URL names: "postgresql://..." or "postgres://..." (a libpq
 * connection URI; the schema is created or migrated if needed), or "sqlite:PATH" (the
 * SQLite file PATH, created if needed). DBK_E_INVALID for any other scheme.
 */
int dbk_store_open_url(const char *url, dbk_store **out);
/* Whether url names a PostgreSQL store. */
bool dbk_store_url_is_pg(const char *url);
/*
 * Loads the PostgreSQL backend, a module of its own (store/store.c says where it is
 * looked for), once per process. DBK_OK, or DBK_E_UNAVAILABLE with msg saying what
 * is missing and what to install. dbk_store_open_url and dbk_store_pg_restore load
 * it themselves; daybookd asks first to tell a missing module from a database away.
 */
int dbk_store_pg_load(char *msg, size_t msgsz);
/* "sqlite" or "postgresql". */
const char *dbk_store_backend(const dbk_store *st);
/* Opens the store file at path, which must exist (admin commands). */
int dbk_store_open_existing(const char *path, dbk_store **out);
/*
 * Another handle on the same store, for one more storage thread: a new connection
 * for PostgreSQL (the worker's pool); DBK_E_INVALID for SQLite, whose single writer
 * is one thread.
 */
int dbk_store_clone(dbk_store *st, dbk_store **out);
/*
 * Copies the backup at src (opened read-only and immutable: it is never changed)
 * to a new file dst, after checking it is a Daybook store; *server_id gets its id.
 * DBK_E_CORRUPT if src is not a Daybook store, DBK_E_IO if it cannot be read.
 */
int dbk_store_copy_backup(const char *src, const char *dst, dbk_id *server_id);
void dbk_store_close(dbk_store *st);

/* Transactions, driven by the worker only. When SQLite has rolled the transaction
 * back by itself (disk full, I/O error), the savepoint calls and the commit return
 * that error instead of running outside it. */
int dbk_store_tx_begin(dbk_store *st);
int dbk_store_tx_commit(dbk_store *st);
void dbk_store_tx_rollback(dbk_store *st);
int dbk_store_sp_begin(dbk_store *st);
int dbk_store_sp_release(dbk_store *st);
void dbk_store_sp_rollback(dbk_store *st);
/* Whether the transaction begun by dbk_store_tx_begin is still open (SQLite has not
 * rolled it back by itself). */
bool dbk_store_tx_alive(dbk_store *st);
/*
 * How many times the transaction begun by dbk_store_tx_begin was committed and begun
 * again so far, each time before a job waits for a row lock (PostgreSQL's lock
 * order, pg/store_pg.c tx_split): what the jobs before that job did is durable even
 * when the transaction fails later. 0 after dbk_store_tx_begin; SQLite: always 0.
 */
int64_t dbk_store_tx_splits(dbk_store *st);
/*
 * Inside the transaction begun by dbk_store_tx_begin: a number that changes when
 * another process (an admin command on the live file) has committed to the store
 * since this handle last asked; this handle's own commits do not move it (SQLite's
 * PRAGMA data_version). Caches of what the store says (server/authcache.h) are
 * dropped when it moves. PostgreSQL, whose nodes all write: DBK_E_UNAVAILABLE
 * (nothing is cached there).
 */
int dbk_store_data_version(dbk_store *st, int64_t *out);

/*
 * The reserve for a full disk (daybookd serve): a file of bytes beside
 * daybook.db, deleted as soon as SQLite reports the disk full so that reads, which
 * write audit entries, still find room. Returns DBK_OK, or DBK_E_STORAGE_FULL
 * when there is no room for it now (the store then starts as full).
 */
int dbk_store_reserve(dbk_store *st, int64_t bytes);
/*
 * Checkpoints off the storage thread (daybookd serve; SQLite): a thread of the
 * store's own, on a connection of its own, copies the write-ahead log into
 * daybook.db while the storage thread goes on committing, so a commit no longer
 * pays for a checkpoint. The storage thread checkpoints itself only when the log
 * has reached wal_max_bytes and no run of the thread is going (it copies what is
 * left, so the log starts over); it waits for a run only once the log is a margin
 * past the bound (an eighth of it, 512 pages at most): the log stays within
 * wal_max_bytes plus that margin plus one group. Stopped by dbk_store_close. DBK_OK,
 * or an error (the store then checkpoints on the storage thread as before).
 * PostgreSQL: nothing to do.
 */
int dbk_store_checkpoints(dbk_store *st, int64_t wal_max_bytes);
/* What dbk_store_checkpoints has done so far, for /metrics; any thread. The storage
 * thread's checkpoints hold every request while they run, for a time that grows
 * with the pages of the log they find left to copy. DBK_OK, or DBK_E_UNAVAILABLE
 * when no thread checkpoints (PostgreSQL, or not started). */
typedef struct dbk_checkpoint_counts {
    uint64_t thread;        /* runs of the checkpoint thread */
    uint64_t storage;       /* checkpoints of the storage thread (at the bound) */
    uint64_t storage_pages; /* the pages of the log they found left to copy */
    uint64_t storage_ns;    /* the time they held the storage thread, waits included */
    uint64_t bound_pages;   /* the bound (wal_max_bytes), in pages */
} dbk_checkpoint_counts;
int dbk_store_checkpoint_counts(dbk_store *st, dbk_checkpoint_counts *out);
/*
 * The commit's sync, taken out of the commit (daybookd serve; SQLite): from now on
 * dbk_store_tx_commit writes the transaction to the write-ahead log without waiting
 * for the disk, and nothing committed may be acknowledged until a later
 * dbk_store_sync has returned DBK_OK. That lets the storage thread run the next group
 * while another thread syncs, and one sync cover every group committed before it.
 * DBK_OK, or an error: commits then sync as before (PostgreSQL always).
 */
int dbk_store_defer_sync(dbk_store *st);
/* Any one thread at a time, beside the storage thread: makes every transaction
 * committed before the call durable (one fdatasync of the log; none when nothing was
 * written since the last). DBK_OK, or DBK_E_IO. Without defer_sync: DBK_OK. */
int dbk_store_sync(dbk_store *st);
/* Before storing new records: DBK_OK, or DBK_E_STORAGE_FULL while the reserve is
 * used up and the disk has no room to make it again. */
int dbk_store_room(dbk_store *st);
/* Whether new records are being refused for a full disk; any thread. */
bool dbk_store_full(dbk_store *st);
/* Whether the store can be reached, for /healthz, inside a transaction of the worker:
 * a real read of the store (PostgreSQL: a round trip to the database), and for SQLite
 * also that daybook.db is still the file that was opened, where it was opened (a file
 * moved or deleted under a running server takes writes that the next start does not
 * find). DBK_OK, or DBK_E_STORE_UNAVAILABLE / the read's error. */
int dbk_store_ping(dbk_store *st);

/* ---- server identity ---- */

typedef struct dbk_server_info {
    dbk_id server_id;
    int64_t restore_generation;
    unsigned char secret[32]; /* keys the fake KDF salts of unknown accounts; never leaves */
} dbk_server_info;

int dbk_store_server_info(dbk_store *st, dbk_server_info *out);
/*
 * Prepares a store copied from a backup to serve again (daybookd restore): its
 * restore generation becomes greater than both its own and `above` (the live
 * store's), and every token, login challenge, pending invite and setup code is
 * deleted, so nothing revoked after the backup comes back through them.
 */
int dbk_store_restore_prepare(dbk_store *st, int64_t above, int64_t *new_generation);

/* ---- accounts ---- */

enum dbk_role { DBK_ROLE_CLIENT = 1, DBK_ROLE_COUNSELOR = 2 };

typedef struct dbk_account {
    dbk_id id;
    enum dbk_role role;
    char name[DBK_NAME_MAX + 1]; /* a counselor's display name; empty for clients */
    unsigned char sign_pk[32];
    unsigned char box_pk[32];
    unsigned char login_pk[32];
    unsigned char bundle[148];
    uint32_t generation;
    dbk_id counselor; /* a client's enrolling counselor; zero for counselors */
    int64_t created_at;
    int64_t used_bytes;
    int64_t grants_seq; /* bumped when a grant where this account is owner or grantee changes */
} dbk_account;

int dbk_store_account_create(dbk_store *st, const dbk_account *a);
int dbk_store_account_get(dbk_store *st, const dbk_id *id, dbk_account *out);
/*
 * Counts bytes (may be negative) against the account's quota: used_bytes grows by
 * bytes. DBK_E_QUOTA when bytes > 0 and used_bytes would pass quota; the caller's
 * savepoint then undoes it. Everything an account makes the server keep is counted
 * (envelopes through push, grants, audit rows), by the account that caused it.
 */
int dbk_store_charge(dbk_store *st, const dbk_id *id, int64_t bytes, int64_t quota);
/* What one audit row costs its actor: the 124-byte entry, its two hashes, the row. */
#define DBK_AUDIT_ROW_BYTES 256

/* Increments the account's grants_seq (proto/README.md section 12). */
int dbk_store_bump_grants_seq(dbk_store *st, const dbk_id *id);
/* Replaces bundle, login key and generation (passphrase change). */
int dbk_store_account_set_bundle(dbk_store *st, const dbk_id *id, const unsigned char bundle[148],
                                 const unsigned char login_pk[32], uint32_t generation);
/* The clients whose enrolling counselor is counselor, for the caseload. */
typedef void (*dbk_account_cb)(const dbk_account *a, void *arg);
int dbk_store_clients_of(dbk_store *st, const dbk_id *counselor, dbk_account_cb cb, void *arg);
/* Every counselor account, oldest first (daybookd counselor list). */
int dbk_store_counselors(dbk_store *st, dbk_account_cb cb, void *arg);
/*
 * An administrator's switch on an account (daybookd counselor disable/enable).
 * Disabling ends every token of the account at once and makes login answer
 * forbidden; it moves no grant and no key: what the account may read is still
 * decided by the clients' consents alone. *at is 0 when the account is enabled.
 */
int dbk_store_account_disabled(dbk_store *st, const dbk_id *id, int64_t *at);
int dbk_store_account_set_disabled(dbk_store *st, const dbk_id *id, bool disabled, int64_t at);

/* ---- invites and setup codes ---- */

enum dbk_invite_kind { DBK_INVITE_COUNSELOR_SETUP = 1, DBK_INVITE_CLIENT = 2 };

typedef struct dbk_invite {
    dbk_id id;
    enum dbk_invite_kind kind;
    unsigned char secret_hash[DBK_HASH_BYTES]; /* BLAKE2b of the one-time secret */
    dbk_id counselor; /* who invited (client invites) */
    char name[DBK_NAME_MAX + 1]; /* the counselor's name (setup) or a label */
    int64_t created_at, expires_at, used_at;
} dbk_invite;

int dbk_store_invite_create(dbk_store *st, const dbk_invite *inv);
/* Marks the invite with this secret hash used at now. DBK_E_UNAUTHENTICATED if unknown,
 * DBK_E_GONE if used or expired. */
int dbk_store_invite_use(dbk_store *st, const unsigned char hash[DBK_HASH_BYTES], int64_t now,
                         dbk_invite *out);
typedef void (*dbk_invite_cb)(const dbk_invite *inv, void *arg);
/* Every invite counselor made, used and expired ones included, oldest first (the
 * counselor's list of invites). */
int dbk_store_invites_of(dbk_store *st, const dbk_id *counselor, dbk_invite_cb cb, void *arg);
/*
 * The invites of counselor still pending at now (not used, expires_at > now), in
 * order of expiry: what a new invite and an enrollment check look at. Through an
 * index of pending invites, so it costs what is pending (at most the counselor's
 * pending limit), not every invite the counselor ever made.
 */
int dbk_store_invites_pending(dbk_store *st, const dbk_id *counselor, int64_t now,
                              dbk_invite_cb cb, void *arg);
int dbk_store_invite_delete(dbk_store *st, const dbk_id *counselor, const dbk_id *id);

/* ---- devices, tokens and login challenges ---- */

typedef struct dbk_device {
    dbk_id id;
    dbk_id account;
    char name[DBK_NAME_MAX + 1];
    int64_t created_at, last_seen;
} dbk_device;

int dbk_store_device_add(dbk_store *st, const dbk_device *d);
typedef void (*dbk_device_cb)(const dbk_device *d, void *arg);
int dbk_store_devices_of(dbk_store *st, const dbk_id *account, dbk_device_cb cb, void *arg);
/* When any device of account was last seen (per minute), 0 if never. */
int dbk_store_last_seen(dbk_store *st, const dbk_id *account, int64_t *out);
/* Deletes the device and every token it holds. */
int dbk_store_device_revoke(dbk_store *st, const dbk_id *account, const dbk_id *device);

/* Tokens are stored as BLAKE2b hashes; the token itself never reaches the store. */
int dbk_store_token_add(dbk_store *st, const unsigned char hash[DBK_HASH_BYTES],
                        const dbk_id *account, const dbk_id *device, int64_t expires_at);
/* DBK_E_UNAUTHENTICATED if unknown or expired. Touches the device's last_seen. */
int dbk_store_token_check(dbk_store *st, const unsigned char hash[DBK_HASH_BYTES], int64_t now,
                          dbk_id *account, dbk_id *device);
int dbk_store_token_delete(dbk_store *st, const unsigned char hash[DBK_HASH_BYTES]);
/* Deletes the tokens of every device of account but keep; *count gets how many. */
int dbk_store_tokens_revoke_others(dbk_store *st, const dbk_id *account, const dbk_id *keep,
                                   int64_t *count);

enum dbk_purpose { DBK_PURPOSE_LOGIN = 1, DBK_PURPOSE_CHANGE_PASSPHRASE = 2 };

/* Stores a login challenge for (account, device, purpose); the account may not exist. */
int dbk_store_challenge_add(dbk_store *st, const unsigned char challenge[32],
                            const dbk_id *account, const dbk_id *device, enum dbk_purpose purpose,
                            int64_t expires_at);
/* Deletes the challenge (single use, whatever happens next) and checks it was issued for
 * (account, device, purpose) and has not expired. DBK_E_GONE otherwise. */
int dbk_store_challenge_take(dbk_store *st, const unsigned char challenge[32],
                             const dbk_id *account, const dbk_id *device,
                             enum dbk_purpose purpose, int64_t now);

/* ---- streams and grants ---- */

enum dbk_stream_kind { DBK_STREAM_SHARED = 1, DBK_STREAM_PRIVATE = 2 };

typedef struct dbk_stream {
    dbk_id id;
    dbk_id owner;
    enum dbk_stream_kind kind;
    uint32_t epoch;
    int64_t seq;           /* high_seq: the last sequence number assigned */
    bool rotation_pending; /* a grant was revoked; no writes until the owner rotates */
} dbk_stream;

int dbk_store_stream_create(dbk_store *st, const dbk_stream *s);
int dbk_store_stream_get(dbk_store *st, const dbk_id *id, dbk_stream *out);
typedef void (*dbk_stream_cb)(const dbk_stream *s, void *arg);
/* Streams account owns, then streams it holds a live grant for. */
int dbk_store_streams_for(dbk_store *st, const dbk_id *account, int64_t now, dbk_stream_cb cb,
                          void *arg);

typedef struct dbk_grant_row {
    dbk_id stream, grantee;
    uint32_t epoch;
    int64_t created_at, expires_at, revoked_at;
    const unsigned char *grant; /* valid during the callback */
    size_t grant_len;
} dbk_grant_row;

/* Stores (or replaces) a grant. A self-grant for epoch + 1 advances the stream's
 * epoch and clears a pending rotation. *identical is set if the same bytes were
 * already stored. */
int dbk_store_grant_put(dbk_store *st, const dbk_grant_row *g, int64_t now, bool *identical);
/* DBK_OK if grantee holds or held a grant on stream for epoch, else DBK_E_NOT_FOUND. */
int dbk_store_grant_held(dbk_store *st, const dbk_id *stream, const dbk_id *grantee,
                         uint32_t epoch);
/* The grant bytes stored for (stream, grantee, epoch), malloc'd; DBK_E_NOT_FOUND. */
int dbk_store_grant_get(dbk_store *st, const dbk_id *stream, const dbk_id *grantee,
                        uint32_t epoch, unsigned char **out, size_t *len);
typedef void (*dbk_grant_cb)(const dbk_grant_row *g, void *arg);
int dbk_store_grants_of_stream(dbk_store *st, const dbk_id *stream, dbk_grant_cb cb, void *arg);
int dbk_store_grants_to(dbk_store *st, const dbk_id *grantee, int64_t now, dbk_grant_cb cb,
                        void *arg);
/* Revokes every grant of stream to grantee at now; access ends at once and the
 * stream becomes rotation-pending. DBK_E_NOT_FOUND if grantee never had one,
 * DBK_E_GONE if every grant was already revoked (nothing changed). */
int dbk_store_grant_revoke(dbk_store *st, const dbk_id *stream, const dbk_id *grantee,
                           int64_t now);
/* How account may use stream: DBK_OK if it owns it or holds an active grant (any
 * epoch), DBK_E_EXPIRED if its only grants have passed their end date, else
 * DBK_E_FORBIDDEN (also for a stream that does not exist). *str gets
 * the stream; *is_owner whether account owns it; *can_write whether it owns it or
 * holds an active grant for the current epoch. */
int dbk_store_access(dbk_store *st, const dbk_id *account, const dbk_id *stream, int64_t now,
                     dbk_stream *str, bool *is_owner, bool *can_write);
/* The most streams a job's hint names (dbk_store_expect_streams). */
#define DBK_STORE_EXPECT_MAX 32
/* The streams the running job will ask access to (a hint, at most the first
 * DBK_STORE_EXPECT_MAX): a
 * backend may read their rows with the job's first statement (PostgreSQL: one round
 * trip fewer for each) and answer dbk_store_access for each of them once from that
 * read, until the job pushes to it. Given before the job's first statement. */
void dbk_store_expect_streams(dbk_store *st, const dbk_id *ids, size_t n);

/* ---- records ---- */

enum dbk_push_result { DBK_PUSH_STORED = 1, DBK_PUSH_DUPLICATE, DBK_PUSH_SUPERSEDED };
enum dbk_expect { DBK_EXPECT_ANY = 0, DBK_EXPECT_REVISION, DBK_EXPECT_NONE };

typedef struct dbk_push_item {
    const unsigned char *env;
    size_t len;
    dbk_envelope_hdr hdr;       /* parsed and signature-checked by the caller */
    enum dbk_expect expect_kind;
    dbk_revision expect;        /* with DBK_EXPECT_REVISION */
    /* results */
    enum dbk_push_result result;
    int64_t seq;
    bool has_current;           /* the stored revision, for superseded and stale items */
    dbk_revision current;
    bool stale;
} dbk_push_item;

typedef struct dbk_push_batch {
    dbk_id stream;
    int64_t quota;              /* bytes the payer may store */
    dbk_id payer;               /* who the bytes stored count against: the pushing account,
                                 * so a grantee's writes count against the grantee; zero:
                                 * the stream's owner */
    dbk_push_item *items;
    size_t n;
    /* The stream's row as the caller's access check took it in this same transaction
     * (from the store or the storage thread's cache, authcache.h), or NULL. A backend
     * with one writer may take it instead of reading the row again (SQLite); one that
     * must lock the row reads it anyway (PostgreSQL). */
    const dbk_stream *known;
    int64_t also_charge; /* bytes the payer is also charged when a record is stored (the
                          * push's audit row): a backend that counts them with the
                          * records, one statement, sets also_charged; else the caller
                          * charges them itself */
    int64_t read_row_charge; /* the owner's read row of this stream that the same sync
                              * is about to write: charged in the same statement, where
                              * also_charged, outside the quota's check (reads are served
                              * over quota); a backend that does so sets read_row_charged
                              * (SQLite; PostgreSQL charges a read row with its read) */
    bool also_charged, read_row_charged;
    int64_t high_seq;
    uint32_t epoch;
    bool rotation_pending;
    size_t nstored;
    int64_t seq_from, seq_to;
    bool epoch_stale;           /* DBK_E_STALE because of epochs, not expected revisions */
    bool head_moved;            /* known's seq was not the store's: the caller's cached
                                 * row is stale (authcache.h). With DBK_E_INTERNAL (the
                                 * push undone), or with DBK_OK when nothing was stored
                                 * (high_seq and epoch then the store's, read again) */
} dbk_push_batch;

/*
 * Stores a batch into one stream, all or nothing, in request order
 * (proto/README.md sections 9-10). The caller has checked that it may push and
 * that each envelope's signature is its author's. Errors: DBK_E_STALE (an
 * epoch that is not accepted: .epoch_stale; or expected revisions that do not
 * match: those items have .stale), DBK_E_CONFLICT (same revision, other bytes),
 * DBK_E_FORBIDDEN (an author who is not the owner writing a record it did not
 * create, or at an epoch it never held), DBK_E_QUOTA, DBK_E_INTERNAL with .head_moved
 * (known's head not the store's, whether the seq it gives is free or a record's;
 * nothing of the push kept by the caller). A push that stores nothing answers the
 * store's head, not known's: DBK_OK, with .head_moved when they differ.
 */
int dbk_store_push(dbk_store *st, dbk_push_batch *b);

typedef void (*dbk_record_cb)(int64_t seq, const unsigned char *env, size_t len, void *arg);
/* The bytes of the audit row a pull that gives records makes, charged to payer (never
 * refused: a read is served even over quota). A backend that counts them with the
 * read, one statement, sets charged when it gave records; else the caller charges
 * them itself, as for a push's (dbk_push_batch.also_charge). */
typedef struct dbk_pull_charge {
    dbk_id payer;
    int64_t bytes;
    bool charged; /* result */
} dbk_pull_charge;
/*
 * Envelopes of stream with seq > since in seq order, at most limit of them and at
 * most max_bytes (but at least one). A reader that does not own the stream gets
 * only envelopes of epochs it holds an active grant for (reader NULL: owner).
 * *more is set when more remain; *last_seq is the seq of the last one given
 * (since if none); *bytes_out adds the bytes given. charge may be NULL.
 */
int dbk_store_pull(dbk_store *st, const dbk_id *stream, const dbk_id *reader, int64_t now,
                   int64_t since, size_t limit, size_t max_bytes, dbk_record_cb cb, void *arg,
                   bool *more, int64_t *last_seq, size_t *bytes_out, dbk_pull_charge *charge);

/* ---- audit ---- */

/* proto/README.md section 14: the 124-byte entry and its chained hash. */
enum dbk_audit_action { DBK_AUDIT_READ = 1, DBK_AUDIT_WRITE = 2, DBK_AUDIT_GRANT = 3,
                        DBK_AUDIT_REVOKE = 4 };

typedef struct dbk_audit_entry {
    int64_t index, at;
    enum dbk_audit_action action;
    enum dbk_role actor_role;
    dbk_id actor, device, stream, owner, grantee;
    uint32_t epoch, count;
    int64_t seq_from, seq_to;
    unsigned char prev[DBK_HASH_BYTES], hash[DBK_HASH_BYTES];
} dbk_audit_entry;

/* Appends e (index, prev and hash are filled in) to the chain. */
int dbk_store_audit_append(dbk_store *st, dbk_audit_entry *e);
typedef void (*dbk_audit_cb)(const dbk_audit_entry *e, void *arg);
/* Entries about streams owner owns with index > since, oldest first, at most limit;
 * *more when more remain. */
int dbk_store_audit_of_owner(dbk_store *st, const dbk_id *owner, int64_t since, size_t limit,
                             dbk_audit_cb cb, void *arg, bool *more);
/* The chained hash of e from e->prev (for the server's check and clients'). */
void dbk_audit_hash(const dbk_audit_entry *e, unsigned char out[DBK_HASH_BYTES]);
/* Recomputes the whole chain. DBK_E_CORRUPT with *bad_index at the first broken link. */
int dbk_store_audit_verify(dbk_store *st, int64_t *checked, int64_t *bad_index);

/* ---- admin ---- */

/* SQLite online backup of the whole store to path (a new file). */
int dbk_store_backup(dbk_store *st, const char *path);
/* The engine's own check (SQLite: PRAGMA integrity_check; PostgreSQL: the
 * relations between tables) and the audit chain. */
int dbk_store_check(dbk_store *st, char *msg, size_t msgsz);

/* ---- whole tables (daybookd migrate; store/migrate.c) ---- */

enum dbk_col_type { DBK_COL_INT = 1, DBK_COL_BLOB, DBK_COL_TEXT };

typedef struct dbk_column {
    const char *name;
    enum dbk_col_type type;
} dbk_column;

/* A table as both backends hold it (store/schema.c lists them all). */
typedef struct dbk_table {
    const char *name;
    const dbk_column *cols;
    size_t ncols;
    const char *order; /* the columns that order its rows the same way in every backend */
} dbk_table;

/* One column's value: i for DBK_COL_INT, (p, len) for blobs and text; null. */
typedef struct dbk_value {
    bool null;
    int64_t i;
    const unsigned char *p;
    size_t len;
} dbk_value;

/* Called with each row (ncols values, valid during the call); a non-zero return stops. */
typedef int (*dbk_row_cb)(const dbk_value *row, void *arg);
/* Every row of t in t->order. */
int dbk_store_table_rows(dbk_store *st, const dbk_table *t, dbk_row_cb cb, void *arg);
/* Inserts one row of t as it is (the copy of a store). */
int dbk_store_table_insert(dbk_store *st, const dbk_table *t, const dbk_value *row);
/* Deletes every row of t (a copy replaces the new store's own identity in meta). */
int dbk_store_table_clear(dbk_store *st, const dbk_table *t);

/* What daybookd migrate found, table by table (store/migrate.c). */
typedef struct dbk_migrate_table {
    const char *name;
    int64_t from_rows, to_rows;
    unsigned char from_hash[DBK_HASH_BYTES], to_hash[DBK_HASH_BYTES];
} dbk_migrate_table;

#define DBK_MIGRATE_TABLES_MAX 32

typedef struct dbk_migrate_report {
    dbk_migrate_table tables[DBK_MIGRATE_TABLES_MAX];
    size_t ntables;
    int64_t audit_checked; /* entries of the copy's audit chain that verify */
} dbk_migrate_report;

/*
 * Copies every table of from into to, in one transaction of to, which must hold no
 * account, stream, record or audit entry yet (DBK_E_CONFLICT otherwise); to takes
 * from's identity (server id, secret, restore generation), so clients see the same
 * server. Then compares them (dbk_store_compare).
 */
int dbk_store_migrate(dbk_store *from, dbk_store *to, dbk_migrate_report *rep);
/*
 * Counts and hashes every table of a and b (BLAKE2b over the rows in the same order)
 * and verifies b's audit chain. DBK_OK when every count and hash agree and the chain
 * verifies; DBK_E_CORRUPT otherwise, with rep saying where.
 */
int dbk_store_compare(dbk_store *a, dbk_store *b, dbk_migrate_report *rep);

/*
 * PostgreSQL's restore (daybookd restore with a postgresql:// store): archive is a
 * pg_dump custom-format file (daybookd backup). Refuses while a daybookd node is
 * connected to the database, and an archive of another server; restores it with
 * pg_restore in one transaction (the live data stays as it was if that fails), then
 * raises the restore generation above both and deletes tokens, challenges and
 * pending invites (dbk_store_restore_prepare). msg says what happened or why not.
 */
int dbk_store_pg_restore(const char *url, const char *archive, int64_t *generation, char *msg,
                         size_t msgsz);

#endif
