/* The client's local SQLite store; see local.h. */
#include "local.h"

#include "dbk/error.h"
#include "dbk/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOCAL_FILE DBK_LOCAL_FILE
/* How long a statement waits for another process's lock before it answers busy. */
#define BUSY_WAIT_MS 5000

/*
 * The schema in three parts, run in this order: the tables every profile has
 * (schema_head, schema_tail) and, between them, what only a counselor's commands read
 * (counselor_part), which a client's profile drops (client_part): chosen by the
 * profile's role, see apply_schema. A counselor's profile's schema is the three as one
 * text, the text of the schema before 2026-12-07, so its stamp is the same.
 */
static const char schema_head[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS streams ("
    "  id BLOB PRIMARY KEY, owner BLOB NOT NULL, kind INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL, cursor INTEGER NOT NULL DEFAULT 0) STRICT;"
    "CREATE TABLE IF NOT EXISTS grants ("
    "  stream BLOB NOT NULL, epoch INTEGER NOT NULL, grant_bytes BLOB NOT NULL,"
    "  PRIMARY KEY (stream, epoch)) STRICT;"
    "CREATE TABLE IF NOT EXISTS records ("
    "  stream BLOB NOT NULL, record BLOB NOT NULL, clock INTEGER NOT NULL,"
    "  device BLOB NOT NULL, envelope BLOB NOT NULL, current INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (record, clock, device)) STRICT;"
    "CREATE INDEX IF NOT EXISTS records_stream ON records(stream, current, clock);"
    "CREATE INDEX IF NOT EXISTS records_pending ON records(pending, clock);"
    "DROP INDEX IF EXISTS records_author;";

/*
 * A counselor's profile keeps the summaries of `clients` and `review` (report/summary.h),
 * the deletes their marks count (record_deletes, below), and the stream heads' counts
 * (dbk_local_record_count, dbk_local_authored_count): the current revisions of each
 * stream by author, kept by
 * the triggers below on every write to records, by any build, so a head costs two
 * lookups, not a count over the stream: `clients` checks the head of every client it
 * lists (counted over their records, 40 clients cost it 44M instructions more, 222.7M
 * -> 266.9M, issue 20), and each review the one of its client. The author account id
 * is the envelope's bytes 64 to 79 (substr is 1-based). The index these counts
 * replaced (records_author, above) goes.
 */
static const char counselor_part[] =
    "CREATE TABLE IF NOT EXISTS record_counts ("
    "  stream BLOB NOT NULL, author BLOB NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY (stream, author)) STRICT, WITHOUT ROWID;"
    "DROP TRIGGER IF EXISTS records_count_insert;"
    "CREATE TRIGGER records_count_insert AFTER INSERT ON records"
    "  WHEN NEW.current = 1 BEGIN"
    "  INSERT INTO record_counts(stream, author, n)"
    "    VALUES (NEW.stream, substr(NEW.envelope, 65, 16), 1)"
    "    ON CONFLICT(stream, author) DO UPDATE SET n = n + 1;"
    "  END;"
    "DROP TRIGGER IF EXISTS records_count_delete;"
    "CREATE TRIGGER records_count_delete AFTER DELETE ON records"
    "  WHEN OLD.current = 1 BEGIN"
    "  UPDATE record_counts SET n = n - 1"
    "    WHERE stream = OLD.stream AND author = substr(OLD.envelope, 65, 16);"
    "  END;"
    "DROP TRIGGER IF EXISTS records_count_update;"
    "CREATE TRIGGER records_count_update"
    "  AFTER UPDATE OF current, stream, envelope ON records"
    "  WHEN OLD.current = 1 OR NEW.current = 1 BEGIN"
    "  UPDATE record_counts SET n = n - 1"
    "    WHERE OLD.current = 1 AND stream = OLD.stream"
    "    AND author = substr(OLD.envelope, 65, 16);"
    "  INSERT INTO record_counts(stream, author, n)"
    "    SELECT NEW.stream, substr(NEW.envelope, 65, 16), 1 WHERE NEW.current = 1"
    "    ON CONFLICT(stream, author) DO UPDATE SET n = n + 1;"
    "  END;"
    /* The revisions ever deleted from each stream, for its mark (dbk_local_stream_mark):
     * SQLite gives a new row the greatest rowid plus one, so once the greatest is
     * deleted the next row takes its rowid, and a delete followed by an insert would
     * leave both the count and the greatest rowid as they were. */
    "CREATE TABLE IF NOT EXISTS record_deletes ("
    "  stream BLOB PRIMARY KEY, n INTEGER NOT NULL) STRICT, WITHOUT ROWID;"
    "DROP TRIGGER IF EXISTS records_mark_delete;"
    "CREATE TRIGGER records_mark_delete AFTER DELETE ON records BEGIN"
    "  INSERT INTO record_deletes(stream, n) VALUES (OLD.stream, 1)"
    "    ON CONFLICT(stream) DO UPDATE SET n = n + 1;"
    "  END;"
    "CREATE TABLE IF NOT EXISTS summaries (stream BLOB PRIMARY KEY, body BLOB NOT NULL) STRICT;";

/*
 * A client's profile keeps none of it. No client command reads a summary or a mark
 * (`clients` and `review` are a counselor's); the counts it reads only at `daybook sync`
 * (the heads of the streams it holds, and of its own to sign), where counting over the
 * records is a small part of the sync (3.8M of a client's 778M). The four triggers were
 * parsed at every open and the three that count run at every insert: 0.31M of a
 * craving's instructions (issue 20). Counted from the records, the counts are right
 * whatever build wrote them.
 */
static const char client_part[] = "DROP TRIGGER IF EXISTS records_count_insert;"
                                  "DROP TRIGGER IF EXISTS records_count_delete;"
                                  "DROP TRIGGER IF EXISTS records_count_update;"
                                  "DROP TABLE IF EXISTS record_counts;"
                                  "DROP TRIGGER IF EXISTS records_mark_delete;"
                                  "DROP TABLE IF EXISTS record_deletes;"
                                  "DROP TABLE IF EXISTS summaries;"
                                  /* Kept with a mark that now goes without its deletes. */
                                  "DELETE FROM meta WHERE key = '" DBK_LOCAL_ROLE_SEEN "';";

static const char schema_tail[] =
    "CREATE TABLE IF NOT EXISTS acts ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, stream BLOB NOT NULL, kind INTEGER NOT NULL,"
    "  grantee BLOB NOT NULL, epoch INTEGER NOT NULL, grant_bytes BLOB, at INTEGER NOT NULL,"
    "  acked INTEGER NOT NULL DEFAULT 0) STRICT;";

/* The counts the triggers keep, from the records themselves: run in the transaction
 * that applies the schema (apply_schema). */
static const char recount[] =
    "DELETE FROM record_counts;"
    "INSERT INTO record_counts(stream, author, n)"
    "  SELECT stream, substr(envelope, 65, 16), count(*) FROM records WHERE current = 1"
    "  GROUP BY 1, 2;";

/* Statements of the hot path, prepared once per connection (see cached()). */
enum { Q_CURRENT, Q_LEARN_SEQ, Q_DEMOTE, Q_INSERT, Q__COUNT };

/* A record's current revision (the greatest by clock and device, the primary key's last
 * row, found without reading the others): its clock, device, stream and author (the
 * envelope's bytes 64 to 79; substr is 1-based). */
#define CURRENT_SQL                                                                                \
    "SELECT clock, device, stream, substr(envelope, 65, 16) FROM records"                          \
    " WHERE record = ?1 AND current = 1 ORDER BY clock DESC, device DESC LIMIT 1"

/* prep's statements: more than the store has queries, so every one is kept. */
#define PC_SLOTS 48

struct dbk_local {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    struct {
        const char *sql;
        sqlite3_stmt *s;
        bool out; /* handed out by prep, not yet given back */
    } pc[PC_SLOTS];
    size_t npc;
    int wal_pages; /* frames in the write-ahead log after this connection's last commit */
    bool readonly; /* opened read-only: the profile has no write permission */
    bool has_counselor_part; /* the file has this build's counselor_part: counts, summaries */
    /* synchronous=NORMAL set (dbk_local_cache_begin) and FULL not yet set again: only the
     * cache's own transaction (in_cache) may commit; any other commit is refused
     * (not_synced_commit) until dbk_local_begin sets FULL again. */
    bool at_normal, in_cache;
    int full_rc; /* why FULL could not be set again, while at_normal (full_again) */
};

/* The profile file this process opened last, and whether a write to it was refused
 * because it is read-only (dbk_local_refused_write). */
static char opened_path[4200];
static bool write_refused;

/* Past this many frames a commit checkpoints the log into the database, as SQLite's own
 * automatic checkpoint does (its default). */
#define WAL_AUTOCHECKPOINT 1000
/* A log longer than this at close is checkpointed and truncated (see dbk_local_open). */
#define WAL_KEEP_PAGES 128
/* A transaction's dirty pages kept in the cache up to this many (4 KiB pages: 64 MiB)
 * before it spills to the log part way (see dbk_local_open). */
#define SPILL_PAGES_TEXT "16384"

static int
on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    dbk_local *L = arg;
    L->wal_pages = pages; /* a checkpoint copies the frames; they stay in the log */
    if (pages >= WAL_AUTOCHECKPOINT)
        (void)sqlite3_wal_checkpoint(db, name);
    return SQLITE_OK;
}

static int
map(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return DBK_OK;
    case SQLITE_FULL: return DBK_E_STORAGE_FULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return DBK_E_CORRUPT;
    case SQLITE_NOMEM: return DBK_E_NOMEM;
    case SQLITE_READONLY:
        write_refused = true;
        return DBK_E_IO;
    default: return DBK_E_IO;
    }
}

/* What a write is failed with when the commit hook refused it (not_synced_commit): why
 * FULL could not be set again (full_again: out of memory, mostly), not the hook's own
 * refusal, which read as an I/O error; else rc mapped. */
static int
map_write(dbk_local *L, int rc)
{
    if ((rc & 0xff) == SQLITE_CONSTRAINT &&
        sqlite3_extended_errcode(L->db) == SQLITE_CONSTRAINT_COMMITHOOK)
        return L->full_rc != DBK_OK ? L->full_rc : DBK_E_NOMEM;
    return map(rc);
}

static int
exec(dbk_local *L, const char *sql)
{
    return map_write(L, sqlite3_exec(L->db, sql, NULL, NULL, NULL));
}

static int full_again(dbk_local *L);

/*
 * Before a write outside any transaction: a connection left at synchronous=NORMAL
 * (a cache whose FULL could not be set again: dbk_local_cache_begin), whose commit the
 * hook would refuse (not_synced_commit), gets FULL set again first, as dbk_local_begin
 * does for a transaction, so the write commits synced. While it still cannot be, the
 * write is not made and why is returned (DBK_E_NOMEM, mostly, which the CLI says):
 * nothing stored before is lost, and the command can be run again.
 */
static int
synced_now(dbk_local *L)
{
    if (!L->at_normal || L->in_cache || !sqlite3_get_autocommit(L->db))
        return DBK_OK;
    return full_again(L);
}

/* synced_now before stepping s, unless s only reads. */
static int
synced_first(dbk_local *L, sqlite3_stmt *s)
{
    if (s == NULL || sqlite3_stmt_readonly(s))
        return DBK_OK;
    return synced_now(L);
}

/* A statement is parsed once per connection and kept (sqlite3_prepare is some 40,000
 * instructions, more than most of the queries: a review ran 218 of them, issue 20):
 * prep finds it by its text's address (each caller's is a literal) and hands it out
 * once at a time; unprep resets it and drops its bindings (which may point into the
 * caller's memory, and a statement left unreset would hold a read transaction). One
 * asked for again while handed out (a callback that re-enters the store with the same
 * query), or past the cache's room, is prepared on its own and finalized by unprep. */
static sqlite3_stmt *
prep(dbk_local *L, const char *sql)
{
    sqlite3_stmt *s = NULL;
    size_t i;
    for (i = 0; i < L->npc; i++)
        if (L->pc[i].sql == sql && !L->pc[i].out && strcmp(sqlite3_sql(L->pc[i].s), sql) == 0) {
            L->pc[i].out = true;
            return L->pc[i].s;
        }
    bool keep = L->npc < PC_SLOTS;
    if (sqlite3_prepare_v3(L->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    if (keep && s != NULL) {
        L->pc[L->npc].sql = sql;
        L->pc[L->npc].s = s;
        L->pc[L->npc++].out = true;
    }
    return s;
}

/* Gives back a statement prep handed out: kept ones reset, others finalized. */
static void
unprep(dbk_local *L, sqlite3_stmt *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < L->npc; i++)
        if (L->pc[i].s == s) {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            L->pc[i].out = false;
            return;
        }
    sqlite3_finalize(s);
}

/* Steps a statement that returns no rows, then gives it back. */
static int
done(dbk_local *L, sqlite3_stmt *s)
{
    int rc = synced_first(L, s);
    if (rc != DBK_OK) {
        unprep(L, s);
        return rc;
    }
    rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    unprep(L, s);
    return rc == SQLITE_DONE ? DBK_OK : map_write(L, rc ? rc : SQLITE_ERROR);
}

/*
 * A statement of dbk_local_record_put, which a cold sync runs for every record it
 * receives (tens of thousands): prepared on first use and kept, instead of being
 * parsed again each time. The caller resets it (done_cached) before the next use;
 * nothing it calls re-enters the same statement.
 */
static sqlite3_stmt *
cached(dbk_local *L, int slot, const char *sql)
{
    if (L->q[slot] == NULL && sqlite3_prepare_v3(L->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                 &L->q[slot], NULL) != SQLITE_OK) {
        sqlite3_finalize(L->q[slot]);
        L->q[slot] = NULL;
    }
    return L->q[slot];
}

/* Steps a cached statement that returns no rows, then resets it and drops its
 * bindings (which may point into the caller's memory). */
static int
done_cached(dbk_local *L, sqlite3_stmt *s)
{
    int rc = synced_first(L, s);
    if (rc == DBK_OK)
        rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    if (s != NULL) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    return rc == SQLITE_DONE ? DBK_OK : rc < 0 ? rc : map_write(L, rc ? rc : SQLITE_ERROR);
}

static void
bind_id(sqlite3_stmt *s, int i, const dbk_id *id)
{
    sqlite3_bind_blob(s, i, id->b, DBK_ID_BYTES, SQLITE_TRANSIENT);
}

static void
col_id(sqlite3_stmt *s, int i, dbk_id *id)
{
    if (sqlite3_column_bytes(s, i) == DBK_ID_BYTES)
        memcpy(id->b, sqlite3_column_blob(s, i), DBK_ID_BYTES);
    else
        memset(id->b, 0, DBK_ID_BYTES);
}

/* Whether column i holds id's 16 bytes, as SQLite compares a blob with it. */
static bool
col_is(sqlite3_stmt *s, int i, const dbk_id *id)
{
    const void *b = sqlite3_column_blob(s, i);
    return sqlite3_column_bytes(s, i) == DBK_ID_BYTES && b != NULL &&
           memcmp(b, id->b, DBK_ID_BYTES) == 0;
}

/* This build's schema for a counselor's profile or another's (part, its middle), as a
 * number: FNV-1a of its text, 31 bits, never 0 (a new file's
 * user_version). Any change to the text changes it. */
static int
schema_stamp(const char *part)
{
    const char *const parts[] = {schema_head, part, schema_tail};
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (const char *p = parts[i]; *p != '\0'; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
    h &= 0x7fffffff;
    return h != 0 ? (int)h : 1;
}

/*
 * A read-only profile stamped by another build is read as it is: nothing can be
 * written to it, and nothing is. What this build's queries read that the other's
 * schema may lack is made up in a view of the connection's own (temporary) schema,
 * which comes before the file's table of the same name: the deletes (record_deletes),
 * when the file has no such table. The stream heads' counts are counted from the
 * records (L->has_counselor_part is false), whatever that build kept.
 */
static int
read_older_schema(dbk_local *L)
{
    sqlite3_stmt *s = prep(L, "SELECT 1 FROM sqlite_schema WHERE name = 'record_deletes'");
    bool has_deletes = s != NULL && sqlite3_step(s) == SQLITE_ROW;
    unprep(L, s);
    if (!has_deletes)
        return exec(L, "CREATE TEMP VIEW record_deletes(stream, n) AS SELECT NULL, 0 WHERE 0;");
    return DBK_OK;
}

/*
 * Runs the schema's statements only when the file was not stamped with this build's
 * schema for its role (PRAGMA user_version, read from the file's header): parsing them
 * all on every open (the triggers most) was a fixed cost of each command (issue 20).
 * The role is the profile's meta "role" (none in a new file): a counselor's profile
 * keeps the stream heads' counts, summaries and deletes (counselor_part), any other
 * drops them (client_part); a role set after the open (a counselor's enroll or login)
 * applies its part at once, in the transaction that sets it (dbk_local_set_role).
 * The statements run in one transaction with the stamp and, where the counts are
 * kept, with the counts taken again from the records (recount), so no write is ever
 * missed by them: a file made before record_counts, last opened by a build whose schema
 * differs (its own statements are idempotent too, and its triggers, if any, kept
 * counting under it), or whose role changed. Each trigger is dropped and made again,
 * so a changed body never sits under an old one. A read-only file is not changed:
 * read_older_schema instead. L->has_counselor_part says whether the file's counts and
 * summaries are this build's to read.
 */
/* The schema's statements for a profile that keeps (keep) or drops the counselor's part,
 * the counts taken again where kept, and the stamp: in the caller's transaction. */
static int
schema_run(dbk_local *L, bool keep)
{
    const char *part = keep ? counselor_part : client_part;
    char stamp[48];
    int rc;
    snprintf(stamp, sizeof stamp, "PRAGMA user_version=%d", schema_stamp(part));
    if ((rc = exec(L, schema_head)) == DBK_OK && (rc = exec(L, part)) == DBK_OK &&
        (rc = exec(L, schema_tail)) == DBK_OK && (!keep || (rc = exec(L, recount)) == DBK_OK))
        rc = exec(L, stamp);
    return rc;
}

static int
apply_schema(dbk_local *L, bool readonly)
{
    bool keep = dbk_local_get_int(L, "role", DBK_ROLE_NONE) == DBK_ROLE_COUNSELOR;
    int want = schema_stamp(keep ? counselor_part : client_part), have = -1, rc;
    sqlite3_stmt *s = prep(L, "PRAGMA user_version");
    if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
        have = sqlite3_column_int(s, 0);
    unprep(L, s);
    if (have == want) {
        L->has_counselor_part = keep;
        return DBK_OK;
    }
    if (readonly)
        return read_older_schema(L);
    if ((rc = exec(L, "BEGIN IMMEDIATE")) != DBK_OK)
        return rc;
    if ((rc = schema_run(L, keep)) == DBK_OK)
        rc = exec(L, "COMMIT");
    if (rc != DBK_OK)
        (void)exec(L, "ROLLBACK");
    L->has_counselor_part = rc == DBK_OK && keep;
    return rc;
}

int
dbk_local_set_role(dbk_local *L, int role)
{
    bool keep = role == DBK_ROLE_COUNSELOR, own = !dbk_local_in_tx(L);
    int rc;
    if (own && (rc = dbk_local_begin(L)) != DBK_OK)
        return rc;
    rc = dbk_local_put_int(L, "role", role);
    if (rc == DBK_OK && keep != L->has_counselor_part && (rc = schema_run(L, keep)) == DBK_OK)
        L->has_counselor_part = keep;
    if (own)
        rc = rc == DBK_OK ? exec(L, "COMMIT") : rc;
    if (own && rc != DBK_OK)
        dbk_local_rollback(L);
    return rc;
}

/* Whether path may be written: it has a write bit and this user may write it; a file
 * that is not there counts as writable unless must_exist. */
static bool
writable(const char *path, bool must_exist)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return !must_exist;
    return (sb.st_mode & 0222) != 0 && access(path, W_OK) == 0;
}

/* Whether the profile file path, its log and its shared memory may all be written (a
 * log or shared memory not made yet counts as writable). */
static bool
profile_writable(const char *path)
{
    char side[4210];
    if (!writable(path, true))
        return false;
    snprintf(side, sizeof side, "%s-wal", path);
    if (!writable(side, false))
        return false;
    snprintf(side, sizeof side, "%s-shm", path);
    return writable(side, false);
}

int
dbk_local_dir(char *out, size_t cap)
{
    const char *d = getenv("DAYBOOK_HOME"), *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
    int n;
    if (d && *d)
        n = snprintf(out, cap, "%s", d);
    else if (x && *x)
        n = snprintf(out, cap, "%s/daybook", x);
    else if (h && *h)
        n = snprintf(out, cap, "%s/.local/share/daybook", h);
    else
        return DBK_E_IO;
    return n > 0 && (size_t)n < cap ? DBK_OK : DBK_E_IO;
}

/*
 * SQLite as one command uses it: one connection, on one thread (SQLITE_OPEN_NOMUTEX),
 * and no count of the memory it holds, which took a process-wide mutex at every
 * allocation (4,500 in one `daybook craving`). Nothing here reads that count or sets a
 * heap limit. Set before SQLite's first use in the process; after it, a no-op.
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/*
 * The write-ahead log's name made durable once, when the log is made, not at every
 * command. SQLite's unix VFS opens the log with O_CREAT each time and so takes it for
 * new: the first sync of each connection then syncs the directory too (an fsync a
 * `daybook craving` paid every time, though the log, kept between commands, was there
 * all along). This VFS, the unix one with only xOpen wrapped, opens an existing log
 * without SQLITE_OPEN_CREATE, so SQLite does not sync the directory for it; a log it
 * has to make it makes, then syncs the directory before the first frame can be
 * written to it. So the log's entry in the directory is on disk before any commit in
 * the log is, whichever connection (a reader too) made it, and a commit is durable
 * once the log is synced, as before. Nothing else differs from the unix VFS.
 */
static sqlite3_vfs local_vfs;
#define LOCAL_VFS "daybook-unix"

/* 0, or -1 when the directory of path could not be synced. */
static int
sync_dir_of(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
        return -1;
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int
local_vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    sqlite3_vfs *unix_vfs = vfs->pAppData;
    sqlite3_int64 size = 0;
    int rc;

    if (name == NULL || (flags & SQLITE_OPEN_WAL) == 0 || (flags & SQLITE_OPEN_CREATE) == 0)
        return unix_vfs->xOpen(unix_vfs, name, f, flags, out);
    bool there = unix_vfs->xOpen(unix_vfs, name, f, flags & ~SQLITE_OPEN_CREATE, out) == SQLITE_OK;
    if (!there && (rc = unix_vfs->xOpen(unix_vfs, name, f, flags, out)) != SQLITE_OK)
        return rc;
    /* A log there with frames had its name made durable when it was made. One made now,
     * or found empty (made by another process that never synced it: a reader, a tool, a
     * crash between making it and its sync, this open's own failure below; or truncated
     * by a checkpoint), has its name synced before the first frame goes in. */
    if (there && f->pMethods->xFileSize(f, &size) == SQLITE_OK && size > 0)
        return SQLITE_OK;
    if (sync_dir_of(name) == 0)
        return SQLITE_OK;
    /* Not durable by name: no commit may go to this log. */
    f->pMethods->xClose(f);
    f->pMethods = NULL;
    return SQLITE_IOERR_DIR_FSYNC;
}

/* The commit hook: a commit that would not be synced to the disk (the connection left at
 * synchronous=NORMAL by a cache whose FULL could not be set again) is turned into a
 * rollback, its write failing, unless it is the cache's own. */
static int
not_synced_commit(void *arg)
{
    const dbk_local *L = arg;
    return L->at_normal && !L->in_cache;
}

/* synchronous=FULL set again after a cache (dbk_local_cache_begin): L->at_normal stays
 * while it cannot be, every commit but the cache's refused (not_synced_commit). */
static int
full_again(dbk_local *L)
{
    int rc = exec(L, "PRAGMA synchronous=FULL");
    if (rc == DBK_OK)
        L->at_normal = false;
    L->full_rc = rc;
    return rc;
}

static void
sqlite_setup(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    if (unix_vfs != NULL) {
        local_vfs = *unix_vfs;
        local_vfs.zName = LOCAL_VFS;
        local_vfs.pAppData = unix_vfs;
        local_vfs.xOpen = local_vfs_open;
        local_vfs.pNext = NULL;
        (void)sqlite3_vfs_register(&local_vfs, 0);
    }
}

int
dbk_local_open(const char *dir, bool create, dbk_local **out)
{
    char path[4200];
    struct stat sb;
    dbk_local *L;
    int rc;

    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, LOCAL_FILE);
    if (!create && stat(path, &sb) != 0)
        return DBK_E_NOT_FOUND;
    if (create && dbk_mkdirs(dir) != 0)
        return DBK_E_IO;
    /* A profile its owner made read-only (no write bit, or none for this user, on the
     * file, its log or its shared memory) is opened read-only, by root too, whom the
     * mode alone would not stop: commands that only read work, and a write is refused
     * (dbk_local_refused_write). */
    bool readonly = !create && !profile_writable(path);
    snprintf(opened_path, sizeof opened_path, "%s", path);
    L = calloc(1, sizeof *L);
    if (L == NULL)
        return DBK_E_NOMEM;
    pthread_once(&sqlite_once, sqlite_setup);
    L->readonly = readonly;
    if (sqlite3_open_v2(path, &L->db,
                        (readonly ? SQLITE_OPEN_READONLY
                                  : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)) |
                            SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                        sqlite3_vfs_find(LOCAL_VFS) != NULL ? LOCAL_VFS : NULL) != SQLITE_OK) {
        dbk_local_close(L);
        return DBK_E_IO;
    }
    sqlite3_busy_timeout(L->db, BUSY_WAIT_MS);
    /* Most commands write one entry and exit. The write-ahead log is kept between them
     * (not checkpointed, truncated and deleted at every close, then made again with a
     * sync of the directory): a commit is then one sync of the log. It is checkpointed
     * as it grows (WAL_AUTOCHECKPOINT pages), and journal_size_limit bounds it. But the
     * next process to open the file reads every frame of the log to rebuild its index
     * (the shared memory goes with the last connection), and then takes none of it as
     * checkpointed: a log of thousands of frames (a sync, an import) made each later
     * command read megabytes and copy them all back at its commit. So a connection that
     * leaves more than WAL_KEEP_PAGES in the log checkpoints and truncates it at close. */
    /* cache_spill at SPILL_PAGES: a transaction larger than the page cache (2 MB: a
     * sync round applies up to PULL_MAX_BYTES, 4 MB, of envelopes) wrote its dirty
     * pages to the log part way through, again at each spill, the leaves of the
     * records' key index (by random record ids) every time: half the pwrites of a
     * counselor's cold sync (150k of them, 79k without). A transaction's dirty pages now
     * stay in the cache until its commit up to SPILL_PAGES (64 MiB), well above a sync
     * round's; only a transaction that grows with the profile goes past it and spills as
     * before, so memory stays bounded: the schema run at the first open by another
     * build (apply_schema: an index made or dropped over every record, each page
     * secure_delete frees zeroed) and a role set on a counselor's profile that goes
     * client (dbk_local_set_role: the summaries dropped). */
    int on = 1;
    sqlite3_db_config(L->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_file_control(L->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
    sqlite3_wal_hook(L->db, on_wal_commit, L);
    sqlite3_commit_hook(L->db, not_synced_commit, L);
    if ((!readonly && (rc = exec(L, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                    "PRAGMA secure_delete=ON; PRAGMA journal_size_limit=4194304;"
                                    "PRAGMA cache_spill=" SPILL_PAGES_TEXT ";")) != DBK_OK) ||
        (rc = apply_schema(L, readonly)) != DBK_OK) {
        struct statvfs vfs;
        dbk_local_close(L);
        /* A full disk also fails here (the WAL's shared memory file): say so, rather than
         * calling an intact profile damaged. */
        if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < 256 * 1024)
            return DBK_E_STORAGE_FULL;
        return rc;
    }
    *out = L;
    return DBK_OK;
}

bool
dbk_local_read_only(const dbk_local *L)
{
    return L->readonly;
}

const char *
dbk_local_refused_write(void)
{
    return write_refused ? opened_path : NULL;
}

void
dbk_local_close(dbk_local *L)
{
    if (L == NULL)
        return;
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(L->q[i]);
    for (size_t i = 0; i < L->npc; i++)
        sqlite3_finalize(L->pc[i].s);
    if (L->db != NULL && L->wal_pages > WAL_KEEP_PAGES) {
        /* Not waiting: with another process reading, it is left for a later close. */
        sqlite3_busy_timeout(L->db, 0);
        (void)sqlite3_wal_checkpoint_v2(L->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    sqlite3_close(L->db);
    free(L);
}

int
dbk_local_begin(dbk_local *L)
{
    int rc;
    if (L->at_normal && !L->in_cache && (rc = full_again(L)) != DBK_OK)
        return rc;
    return exec(L, "BEGIN IMMEDIATE");
}

int
dbk_local_commit(dbk_local *L)
{
    return exec(L, "COMMIT");
}

void
dbk_local_rollback(dbk_local *L)
{
    if (sqlite3_get_autocommit(L->db))
        return;
    exec(L, "ROLLBACK");
    /* A role set in the transaction (dbk_local_set_role) is undone with its part. */
    sqlite3_stmt *s = prep(L, "PRAGMA user_version");
    if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
        L->has_counselor_part = sqlite3_column_int(s, 0) == schema_stamp(counselor_part);
    unprep(L, s);
}

bool
dbk_local_in_tx(dbk_local *L)
{
    return !sqlite3_get_autocommit(L->db);
}

bool
dbk_local_group_begin(dbk_local *L)
{
    return !L->readonly && !dbk_local_in_tx(L) && dbk_local_begin(L) == DBK_OK;
}

int
dbk_local_group_end(dbk_local *L, bool began, int rc)
{
    int crc;
    if (!began || !dbk_local_in_tx(L))
        return rc; /* none begun, or SQLite ended it (a full disk): each write said so */
    if ((crc = dbk_local_commit(L)) != DBK_OK) {
        dbk_local_rollback(L);
        return rc != DBK_OK ? rc : crc;
    }
    return rc;
}

bool
dbk_local_cache_begin(dbk_local *L)
{
    /* The setting is the connection's: changed only outside any transaction, so a
     * transaction someone else began keeps the FULL its commit was opened under. */
    if (L->readonly || dbk_local_in_tx(L))
        return false;
    /* Marked before: a pragma that fails (out of memory) may have set it all the same. */
    L->at_normal = true;
    if (exec(L, "PRAGMA synchronous=NORMAL") == DBK_OK) {
        L->in_cache = true;
        if (dbk_local_begin(L) == DBK_OK)
            return true;
    }
    /* Not begun: FULL again at once; while it cannot be, no commit outside a cache is
     * made at NORMAL (not_synced_commit), and the next transaction tries again. */
    L->in_cache = false;
    (void)full_again(L);
    return false;
}

int
dbk_local_cache_end(dbk_local *L, bool began, int rc)
{
    rc = dbk_local_group_end(L, began, rc);
    if (!began)
        return rc;
    L->in_cache = false;
    /* Back to FULL before any other write of this connection: a failure to is said. */
    int src = full_again(L);
    return rc != DBK_OK ? rc : src;
}

int64_t
dbk_local_data_version(dbk_local *L)
{
    sqlite3_stmt *s = prep(L, "PRAGMA data_version");
    int64_t v = s != NULL && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    unprep(L, s);
    return v;
}

bool
dbk_local_synced(dbk_local *L)
{
    sqlite3_stmt *s = prep(L, "PRAGMA synchronous");
    bool full = s != NULL && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) >= 2;
    unprep(L, s);
    return full;
}

/* ---- meta ---- */

int
dbk_local_put(dbk_local *L, const char *key, const void *val, size_t len)
{
    /* An upsert, not INSERT OR REPLACE: the row is changed where it is, so its key's
     * entry in the table's index (sqlite_autoindex_meta_1) stays as it was, where a
     * replace deleted the row and inserted it under a new rowid, rewriting that index
     * too: a page more in the log at every commit that stores a value (a craving
     * stores the clock and the head's count). */
    sqlite3_stmt *s = prep(L, "INSERT INTO meta(key, value) VALUES (?1, ?2)"
                              " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (s == NULL)
        return DBK_E_IO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, val, (int)len, SQLITE_STATIC);
    return done(L, s);
}

int
dbk_local_del(dbk_local *L, const char *key)
{
    sqlite3_stmt *s = prep(L, "DELETE FROM meta WHERE key = ?1");
    if (s == NULL)
        return DBK_E_IO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return done(L, s);
}

int
dbk_local_get(dbk_local *L, const char *key, void *val, size_t cap, size_t *len)
{
    sqlite3_stmt *s = prep(L, "SELECT value FROM meta WHERE key = ?1");
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        rc = n <= cap ? DBK_OK : DBK_E_CORRUPT;
        if (rc == DBK_OK) {
            if (n > 0) /* an empty value's blob is NULL */
                memcpy(val, sqlite3_column_blob(s, 0), n);
            if (len)
                *len = n;
        }
    } else {
        rc = rc == SQLITE_DONE ? DBK_E_NOT_FOUND : map(rc);
    }
    unprep(L, s);
    return rc;
}

int
dbk_local_put_text(dbk_local *L, const char *key, const char *val)
{
    return dbk_local_put(L, key, val, strlen(val));
}

int
dbk_local_put_text_nowait(dbk_local *L, const char *key, const char *val)
{
    int rc;
    sqlite3_busy_timeout(L->db, 0);
    rc = dbk_local_put_text(L, key, val);
    sqlite3_busy_timeout(L->db, BUSY_WAIT_MS);
    return rc;
}

int
dbk_local_get_text(dbk_local *L, const char *key, char *out, size_t cap)
{
    size_t n = 0;
    int rc = cap ? dbk_local_get(L, key, out, cap - 1, &n) : DBK_E_INVALID;
    if (rc == DBK_OK)
        out[n] = '\0';
    return rc;
}

int
dbk_local_put_int(dbk_local *L, const char *key, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return dbk_local_put_text(L, key, buf);
}

int64_t
dbk_local_get_int(dbk_local *L, const char *key, int64_t dflt)
{
    char buf[24];
    return dbk_local_get_text(L, key, buf, sizeof buf) == DBK_OK ? strtoll(buf, NULL, 10) : dflt;
}

bool
dbk_local_has_prefix(dbk_local *L, const char *prefix)
{
    size_t n = strlen(prefix);
    char *end = malloc(n + 1);
    sqlite3_stmt *s;
    bool any = true;
    if (end == NULL || n == 0 || (unsigned char)prefix[n - 1] == 0xff) {
        free(end);
        return true;
    }
    memcpy(end, prefix, n + 1);
    end[n - 1]++; /* the first text past every key that begins with prefix */
    if ((s = prep(L, "SELECT 1 FROM meta WHERE key >= ?1 AND key < ?2 LIMIT 1")) != NULL) {
        sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, end, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        any = rc != SQLITE_DONE;
        unprep(L, s);
    }
    free(end);
    return any;
}

/* ---- streams and grants ---- */

int
dbk_local_stream_put(dbk_local *L, const dbk_local_stream *st)
{
    sqlite3_stmt *s = prep(L, "INSERT INTO streams(id, owner, kind, epoch, cursor)"
                              " VALUES (?1,?2,?3,?4,?5) ON CONFLICT(id) DO UPDATE SET"
                              " owner = excluded.owner, kind = excluded.kind,"
                              " epoch = excluded.epoch, cursor = excluded.cursor");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, &st->id);
    bind_id(s, 2, &st->owner);
    sqlite3_bind_int(s, 3, st->kind);
    sqlite3_bind_int64(s, 4, st->epoch);
    sqlite3_bind_int64(s, 5, st->cursor);
    return done(L, s);
}

int
dbk_local_stream_drop(dbk_local *L, const dbk_id *id)
{
    static const char *const sql[] = {"DELETE FROM streams WHERE id = ?1",
                                      "DELETE FROM grants WHERE stream = ?1",
                                      "DELETE FROM records WHERE stream = ?1",
                                      "DELETE FROM summaries WHERE stream = ?1"};
    /* Summaries are a counselor's (counselor_part): a client's profile has none. */
    size_t n = L->has_counselor_part ? 4 : 3;
    int rc = DBK_OK;
    for (size_t i = 0; i < n && rc == DBK_OK; i++) {
        sqlite3_stmt *s = prep(L, sql[i]);
        if (s == NULL)
            return DBK_E_IO;
        bind_id(s, 1, id);
        rc = done(L, s);
    }
    return rc;
}

static void
read_stream(sqlite3_stmt *s, dbk_local_stream *o)
{
    col_id(s, 0, &o->id);
    col_id(s, 1, &o->owner);
    o->kind = sqlite3_column_int(s, 2);
    o->epoch = (uint32_t)sqlite3_column_int64(s, 3);
    o->cursor = sqlite3_column_int64(s, 4);
}

static int
one_stream(dbk_local *L, sqlite3_stmt *s, dbk_local_stream *out)
{
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_stream(s, out);
    unprep(L, s);
    return rc == SQLITE_ROW ? DBK_OK : rc == SQLITE_DONE ? DBK_E_NOT_FOUND : map(rc);
}

int
dbk_local_stream_get(dbk_local *L, const dbk_id *id, dbk_local_stream *out)
{
    sqlite3_stmt *s = prep(L, "SELECT id, owner, kind, epoch, cursor FROM streams WHERE id = ?1");
    if (s)
        bind_id(s, 1, id);
    return one_stream(L, s, out);
}

int
dbk_local_stream_of(dbk_local *L, const dbk_id *owner, int kind, dbk_local_stream *out)
{
    sqlite3_stmt *s = prep(L, "SELECT id, owner, kind, epoch, cursor FROM streams"
                              " WHERE owner = ?1 AND kind = ?2");
    if (s) {
        bind_id(s, 1, owner);
        sqlite3_bind_int(s, 2, kind);
    }
    return one_stream(L, s, out);
}

int
dbk_local_streams(dbk_local *L, dbk_local_stream_cb cb, void *arg)
{
    sqlite3_stmt *s = prep(L, "SELECT id, owner, kind, epoch, cursor FROM streams ORDER BY kind");
    dbk_local_stream st;
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_stream(s, &st);
        cb(&st, arg);
    }
    unprep(L, s);
    return map(rc);
}

int
dbk_local_grant_put(dbk_local *L, const dbk_id *stream, uint32_t epoch, const unsigned char *g,
                    size_t len)
{
    sqlite3_stmt *s = prep(L, "INSERT OR REPLACE INTO grants(stream, epoch, grant_bytes)"
                              " VALUES (?1,?2,?3)");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, stream);
    sqlite3_bind_int64(s, 2, epoch);
    sqlite3_bind_blob(s, 3, g, (int)len, SQLITE_STATIC);
    return done(L, s);
}

int
dbk_local_grant_get(dbk_local *L, const dbk_id *stream, uint32_t epoch, unsigned char **out,
                    size_t *len)
{
    sqlite3_stmt *s = prep(L, "SELECT grant_bytes FROM grants WHERE stream = ?1 AND epoch = ?2");
    int rc;
    *out = NULL;
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, stream);
    sqlite3_bind_int64(s, 2, epoch);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *len = (size_t)sqlite3_column_bytes(s, 0);
        *out = malloc(*len ? *len : 1);
        if (*out)
            memcpy(*out, sqlite3_column_blob(s, 0), *len);
        rc = *out ? DBK_OK : DBK_E_NOMEM;
    } else {
        rc = rc == SQLITE_DONE ? DBK_E_NOT_FOUND : map(rc);
    }
    unprep(L, s);
    return rc;
}

/* ---- acts: what this account did to its streams' access, in order ---- */

int
dbk_local_act_add(dbk_local *L, const dbk_local_act *a)
{
    sqlite3_stmt *s = prep(L, "INSERT INTO acts(stream, kind, grantee, epoch, grant_bytes, at)"
                              " VALUES (?1,?2,?3,?4,?5,?6)");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, &a->stream);
    sqlite3_bind_int(s, 2, a->kind);
    bind_id(s, 3, &a->grantee);
    sqlite3_bind_int64(s, 4, a->epoch);
    if (a->grant != NULL)
        sqlite3_bind_blob(s, 5, a->grant, (int)a->len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, a->at_ms);
    return done(L, s);
}

int
dbk_local_acts(dbk_local *L, bool pending_only, dbk_local_act_cb cb, void *arg)
{
    sqlite3_stmt *s = prep(L, pending_only
                                  ? "SELECT seq, stream, kind, grantee, epoch, grant_bytes, at,"
                                    " acked FROM acts WHERE acked = 0 ORDER BY seq"
                                  : "SELECT seq, stream, kind, grantee, epoch, grant_bytes, at,"
                                    " acked FROM acts ORDER BY seq");
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        dbk_local_act a;
        memset(&a, 0, sizeof a);
        a.seq = sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) == DBK_ID_BYTES)
            memcpy(a.stream.b, sqlite3_column_blob(s, 1), DBK_ID_BYTES);
        a.kind = sqlite3_column_int(s, 2);
        if (sqlite3_column_bytes(s, 3) == DBK_ID_BYTES)
            memcpy(a.grantee.b, sqlite3_column_blob(s, 3), DBK_ID_BYTES);
        a.epoch = (uint32_t)sqlite3_column_int64(s, 4);
        a.grant = sqlite3_column_blob(s, 5);
        a.len = (size_t)sqlite3_column_bytes(s, 5);
        a.at_ms = sqlite3_column_int64(s, 6);
        a.acked = sqlite3_column_int(s, 7) != 0;
        cb(&a, arg);
    }
    unprep(L, s);
    return map(rc);
}

int64_t
dbk_local_act_last(dbk_local *L)
{
    return (int64_t)sqlite3_last_insert_rowid(L->db);
}

int
dbk_local_act_acked(dbk_local *L, int64_t seq)
{
    sqlite3_stmt *s = prep(L, "UPDATE acts SET acked = 1 WHERE seq = ?1");
    if (s == NULL)
        return DBK_E_IO;
    sqlite3_bind_int64(s, 1, seq);
    return done(L, s);
}

int
dbk_local_acts_unack_all(dbk_local *L)
{
    int rc = synced_now(L);
    return rc != DBK_OK ? rc : exec(L, "UPDATE acts SET acked = 0;");
}

/* ---- records ---- */

/* Stores the revision h of env (nothing if that revision is already there). */
static int
insert_revision(dbk_local *L, const dbk_envelope_hdr *h, const unsigned char *env, size_t len,
                bool current, int64_t seq, bool outbox)
{
    sqlite3_stmt *s =
        cached(L, Q_INSERT,
               "INSERT OR IGNORE INTO records(stream, record, clock, device, envelope, current,"
               " seq, pending) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, &h->stream);
    bind_id(s, 2, &h->record);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)h->rev.clock);
    bind_id(s, 4, &h->rev.device);
    sqlite3_bind_blob(s, 5, env, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, current);
    sqlite3_bind_int64(s, 7, seq);
    sqlite3_bind_int(s, 8, outbox);
    return done_cached(L, s);
}

int
dbk_local_record_put(dbk_local *L, const unsigned char *env, size_t len, int64_t seq, bool outbox,
                     bool *became_current)
{
    dbk_envelope_hdr h;
    dbk_revision cur;
    bool have_cur = false;
    sqlite3_stmt *s;
    int rc;

    *became_current = false;
    if ((rc = dbk_envelope_parse(env, len, &h)) != DBK_OK)
        return rc;
    /* The current revision is the greatest by (clock, device): the primary key's last
     * row, found without reading the others (a stream head has one revision per entry
     * written, and each write used to read them all). */
    s = cached(L, Q_CURRENT, CURRENT_SQL);
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, &h.record);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        have_cur = true;
        cur.clock = (uint64_t)sqlite3_column_int64(s, 0);
        col_id(s, 1, &cur.device);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    /* A failed read (busy, I/O, corrupt) is not "no current revision": going on would
     * store a second current one. */
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return map(rc);
    *became_current = !have_cur || dbk_revision_cmp(&h.rev, &cur) > 0;
    if (have_cur && dbk_revision_cmp(&h.rev, &cur) == 0) {
        /* Already here: only learn the server's seq. */
        s = cached(L, Q_LEARN_SEQ,
                   "UPDATE records SET seq = max(seq, ?3) WHERE record = ?1 AND clock = ?2");
        if (s == NULL)
            return DBK_E_IO;
        bind_id(s, 1, &h.record);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)h.rev.clock);
        sqlite3_bind_int64(s, 3, seq);
        *became_current = false;
        return done_cached(L, s);
    }
    if (*became_current && have_cur) { /* (no current revision: nothing to demote) */
        s = cached(L, Q_DEMOTE, "UPDATE records SET current = 0"
                                " WHERE record = ?1 AND clock = ?2 AND device = ?3");
        if (s == NULL)
            return DBK_E_IO;
        bind_id(s, 1, &h.record);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)cur.clock);
        bind_id(s, 3, &cur.device);
        if ((rc = done_cached(L, s)) != DBK_OK)
            return rc;
    }
    return insert_revision(L, &h, env, len, *became_current, seq, outbox);
}

int
dbk_local_record_put_new(dbk_local *L, const unsigned char *env, size_t len)
{
    dbk_envelope_hdr h;
    int rc = dbk_envelope_parse(env, len, &h);
    return rc != DBK_OK ? rc : insert_revision(L, &h, env, len, true, 0, true);
}

static int
each_record(dbk_local *L, sqlite3_stmt *s, dbk_local_record_cb cb, void *arg)
{
    dbk_local_record r;
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.env = sqlite3_column_blob(s, 0);
        r.len = (size_t)sqlite3_column_bytes(s, 0);
        r.current = sqlite3_column_int(s, 1) != 0;
        r.seq = sqlite3_column_int64(s, 2);
        r.pending = sqlite3_column_int(s, 3) != 0;
        r.rowid = sqlite3_column_count(s) > 4 ? sqlite3_column_int64(s, 4) : 0;
        if (dbk_envelope_parse(r.env, r.len, &r.hdr) == DBK_OK)
            cb(&r, arg);
    }
    unprep(L, s);
    return map(rc);
}

int
dbk_local_records_owned(dbk_local *L, const dbk_id *a, const dbk_id *b, dbk_local_record_cb cb,
                        void *arg)
{
    sqlite3_stmt *s = prep(L, "SELECT envelope, current, seq, pending FROM records"
                              " WHERE current = 1 AND stream IN"
                              " (SELECT id FROM streams WHERE owner = ?1 OR owner = ?2)"
                              " ORDER BY clock");
    if (s) {
        bind_id(s, 1, a);
        bind_id(s, 2, b);
    }
    return each_record(L, s, cb, arg);
}

/* The rows of sql, whose one parameter ?1 is id (left NULL when id is NULL). */
static int
each_record_of(dbk_local *L, const char *sql, const dbk_id *id, dbk_local_record_cb cb, void *arg)
{
    sqlite3_stmt *s = prep(L, sql);
    if (s && id)
        bind_id(s, 1, id);
    return each_record(L, s, cb, arg);
}

int
dbk_local_revisions(dbk_local *L, const dbk_id *record, dbk_local_record_cb cb, void *arg)
{
    return each_record_of(L,
                          "SELECT envelope, current, seq, pending FROM records"
                          " WHERE record = ?1 ORDER BY current DESC, clock DESC",
                          record, cb, arg);
}

int
dbk_local_pending_in(dbk_local *L, const dbk_id *stream, dbk_local_record_cb cb, void *arg)
{
    return each_record_of(L,
                          "SELECT envelope, current, seq, pending FROM records"
                          " WHERE pending = 1 AND stream = ?1 AND current = 1",
                          stream, cb, arg);
}

int
dbk_local_records(dbk_local *L, const dbk_id *stream, dbk_local_record_cb cb, void *arg)
{
    return each_record_of(L,
                          "SELECT envelope, current, seq, pending FROM records"
                          " WHERE current = 1 AND (?1 IS NULL OR stream = ?1) ORDER BY clock",
                          stream, cb, arg);
}

int64_t
dbk_local_pending_of(dbk_local *L, const dbk_id *record)
{
    sqlite3_stmt *s = prep(L, "SELECT count(*) FROM records WHERE pending = 1 AND record = ?1");
    int64_t n = -1;
    if (s) {
        bind_id(s, 1, record);
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
    }
    unprep(L, s);
    return n;
}

/*
 * The stream head's counts: the current revisions of stream (of one author, or of all
 * when author is NULL), less the record except (none when NULL) if its current
 * revision is in stream (and by that author). Two lookups: the current revision through
 * record_put's statement (one per record id, whatever the stream: record_put keeps one), and the
 * counts: in a counselor's profile the stream's rows of record_counts, one per author, summed here
 * (in one statement with subqueries the two cost 230,000 instructions to prepare,
 * issue 20); in any other (L->has_counselor_part false) counted over the stream's current
 * rows (records_stream; the author from each row's envelope). -1 on error.
 */
static int64_t
head_count(dbk_local *L, const dbk_id *stream, const dbk_id *except, const dbk_id *author)
{
    sqlite3_stmt *s = cached(L, Q_CURRENT, CURRENT_SQL);
    int64_t n = 0;
    int rc;

    if (s == NULL)
        return -1;
    if (except != NULL) {
        bind_id(s, 1, except);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW)
            n = col_is(s, 2, stream) && (author == NULL || col_is(s, 3, author)) ? -1 : 0;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return -1;
    }
    if (!L->has_counselor_part) {
        s = author == NULL
                ? prep(L, "SELECT count(*) FROM records WHERE stream = ?1 AND current = 1")
                : prep(L, "SELECT count(*) FROM records WHERE stream = ?1 AND current = 1"
                          " AND substr(envelope, 65, 16) = ?2");
        if (s == NULL)
            return -1;
        bind_id(s, 1, stream);
        if (author != NULL)
            bind_id(s, 2, author);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW)
            n += sqlite3_column_int64(s, 0);
        unprep(L, s);
        return rc == SQLITE_ROW ? n : -1;
    }
    if ((s = prep(L, "SELECT author, n FROM record_counts WHERE stream = ?1")) == NULL)
        return -1;
    bind_id(s, 1, stream);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (author == NULL || col_is(s, 0, author))
            n += sqlite3_column_int64(s, 1);
    unprep(L, s);
    return rc == SQLITE_DONE ? n : -1;
}

int64_t
dbk_local_record_count(dbk_local *L, const dbk_id *stream, const dbk_id *except)
{
    /* Every record has exactly one current revision, so the records are the current
     * rows (which record_counts holds by author); less the one given, if held. */
    return head_count(L, stream, except, NULL);
}

int64_t
dbk_local_authored_count(dbk_local *L, const dbk_id *stream, const dbk_id *except,
                         const dbk_id *author)
{
    /* The record left out is the stream head, which keeps every revision it ever had:
     * its current one is found from the newest down. */
    return head_count(L, stream, except, author);
}

int
dbk_local_outbox(dbk_local *L, size_t limit, dbk_local_record_cb cb, void *arg)
{
    sqlite3_stmt *s = prep(L, "SELECT envelope, current, seq, pending FROM records"
                              " WHERE pending = 1 ORDER BY clock LIMIT ?1");
    if (s)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
    return each_record(L, s, cb, arg);
}

int64_t
dbk_local_outbox_count(dbk_local *L)
{
    sqlite3_stmt *s = prep(L, "SELECT count(*) FROM records WHERE pending = 1");
    int64_t n = -1;
    if (s && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    unprep(L, s);
    return n;
}

int
dbk_local_outbox_done(dbk_local *L, const dbk_id *record, const dbk_revision *rev, int64_t seq)
{
    sqlite3_stmt *s = prep(L, "UPDATE records SET pending = 0, seq = max(seq, ?4)"
                              " WHERE record = ?1 AND clock = ?2 AND device = ?3");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, record);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)rev->clock);
    bind_id(s, 3, &rev->device);
    sqlite3_bind_int64(s, 4, seq);
    return done(L, s);
}

int
dbk_local_outbox_abandon(dbk_local *L, const dbk_id *stream, int64_t *n)
{
    sqlite3_stmt *s = prep(L, "UPDATE records SET pending = 0 WHERE stream = ?1 AND pending = 1");
    int rc;
    *n = 0;
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, stream);
    if ((rc = done(L, s)) == DBK_OK)
        *n = sqlite3_changes(L->db);
    return rc;
}

int
dbk_local_outbox_requeue_all(dbk_local *L)
{
    int rc = synced_now(L);
    return rc != DBK_OK ? rc
                        : exec(L, "UPDATE records SET pending = 1 WHERE current = 1;"
                                  "UPDATE streams SET cursor = 0;");
}

int
dbk_local_revision_drop_pending(dbk_local *L, const dbk_id *record, const dbk_revision *rev)
{
    /* Only a revision no server has acknowledged (pending, no seq) can go: it exists
     * on this device alone. If it was current, the greatest remaining one becomes so
     * (BLOB order is dbk_revision_cmp's unsigned byte order for the device). */
    sqlite3_stmt *s = prep(L, "DELETE FROM records WHERE record = ?1 AND clock = ?2"
                              " AND device = ?3 AND pending = 1 AND seq = 0");
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, record);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)rev->clock);
    bind_id(s, 3, &rev->device);
    if ((rc = done(L, s)) != DBK_OK)
        return rc;
    if (sqlite3_changes(L->db) == 0)
        return DBK_E_NOT_FOUND;
    s = prep(L, "UPDATE records SET current = 1 WHERE rowid = (SELECT rowid FROM records"
                " WHERE record = ?1 ORDER BY clock DESC, device DESC LIMIT 1)"
                " AND NOT EXISTS (SELECT 1 FROM records WHERE record = ?1 AND current = 1)");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, record);
    return done(L, s);
}

int
dbk_local_max_clock(dbk_local *L, uint64_t at_most, uint64_t *out)
{
    sqlite3_stmt *s = prep(L, "SELECT coalesce(max(clock), 0) FROM records WHERE clock <= ?1");
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)at_most);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(s, 0);
    unprep(L, s);
    return rc == SQLITE_ROW ? DBK_OK : map(rc);
}

/* ---- summaries ---- */

int
dbk_local_summary_get(dbk_local *L, const dbk_id *stream, unsigned char **out, size_t *len)
{
    sqlite3_stmt *s = prep(L, "SELECT body FROM summaries WHERE stream = ?1");
    int rc;
    *out = NULL, *len = 0;
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, stream);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        if ((*out = malloc(n ? n : 1)) == NULL) {
            unprep(L, s);
            return DBK_E_NOMEM;
        }
        memcpy(*out, sqlite3_column_blob(s, 0), n);
        *len = n;
        unprep(L, s);
        return DBK_OK;
    }
    unprep(L, s);
    return rc == SQLITE_DONE ? DBK_E_NOT_FOUND : map(rc);
}

int
dbk_local_summary_put(dbk_local *L, const dbk_id *stream, const unsigned char *body, size_t len)
{
    sqlite3_stmt *s = prep(L, "INSERT OR REPLACE INTO summaries(stream, body) VALUES (?1, ?2)");
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, stream);
    sqlite3_bind_blob(s, 2, body, (int)len, SQLITE_STATIC);
    return done(L, s);
}

bool
dbk_local_has_marks(const dbk_local *L)
{
    return L->has_counselor_part;
}

int
dbk_local_stream_mark(dbk_local *L, const dbk_id *stream, int64_t *rows, int64_t *max_rowid)
{
    /* Both from the records_stream index (it holds the rowid); each revision ever
     * deleted adds two (record_deletes), so a delete is never hidden by the insert
     * that takes its rowid again, nor counted as one revision stored after the mark. */
    sqlite3_stmt *s = prep(L, "SELECT count(*) + 2 * coalesce((SELECT n FROM record_deletes"
                              " WHERE stream = ?1), 0), coalesce(max(rowid), 0) FROM records"
                              " WHERE stream = ?1");
    int rc;
    if (s == NULL)
        return DBK_E_IO;
    bind_id(s, 1, stream);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *rows = sqlite3_column_int64(s, 0);
        *max_rowid = sqlite3_column_int64(s, 1);
    }
    unprep(L, s);
    return rc == SQLITE_ROW ? DBK_OK : map(rc);
}

int
dbk_local_records_after(dbk_local *L, const dbk_id *stream, int64_t rowid, dbk_local_record_cb cb,
                        void *arg)
{
    sqlite3_stmt *s = prep(L, "SELECT envelope, current, seq, pending, rowid FROM records"
                              " WHERE stream = ?1 AND rowid > ?2 ORDER BY rowid");
    if (s) {
        bind_id(s, 1, stream);
        sqlite3_bind_int64(s, 2, rowid);
    }
    return each_record(L, s, cb, arg);
}

int
dbk_local_records_of(dbk_local *L, const dbk_id *stream, dbk_local_record_cb cb, void *arg)
{
    return each_record_of(L,
                          "SELECT envelope, current, seq, pending, rowid FROM records"
                          " WHERE stream = ?1 AND current = 1 ORDER BY clock",
                          stream, cb, arg);
}
