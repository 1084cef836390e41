/*
 * The store's schema and its migrations, one text for SQLite and PostgreSQL; see
 * schema.h for the spelling. The tables:
 *
 *   meta               server id, restore generation, the secret of fake salts,
 *                      schema_version
 *   accounts           public keys, the encrypted key bundle, quota use, grants_seq
 *   invites            setup codes and client invites (hashed secrets)
 *   devices, tokens    devices and their tokens (hashed)
 *   challenges         login challenges, single use: in the store, so a login
 *                      begun on one daybookd finishes on another
 *   streams            one row per stream; `seq` is the last sequence number given,
 *                      taken under the row's lock (the pull cursor, rules.c)
 *   grants, grant_history   key grants and the revoked ones a later grant replaced
 *   records            the current envelope of each record, with its seq
 *   audit              the hash-chained access log (proto/README.md section 14)
 *   disabled_accounts  counselors an administrator disabled
 *
 * Migration 1 is the schema as it was before versions were counted: every statement
 * says IF NOT EXISTS and it runs at every open, because SQLite stores made before
 * disabled_accounts existed say version 1 without that table. Later migrations run
 * once, when the stored version is below theirs: 2 indexes the invites by counselor,
 * 3 keys the records by (stream, seq).
 */
#include "schema.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

const dbk_migration dbk_migrations[] = {
    {1, "CREATE TABLE IF NOT EXISTS meta ("
        "  key TEXT PRIMARY KEY, value %B NOT NULL)%S;"
        "CREATE TABLE IF NOT EXISTS accounts ("
        "  id %B PRIMARY KEY, role %I NOT NULL, name TEXT NOT NULL,"
        "  sign_pk %B NOT NULL, box_pk %B NOT NULL, login_pk %B NOT NULL,"
        "  bundle %B NOT NULL, generation %I NOT NULL, counselor %B,"
        "  created_at %I NOT NULL, used_bytes %I NOT NULL DEFAULT 0,"
        "  grants_seq %I NOT NULL DEFAULT 0)%S;"
        "CREATE INDEX IF NOT EXISTS accounts_counselor ON accounts(counselor);"
        "CREATE TABLE IF NOT EXISTS invites ("
        "  id %B PRIMARY KEY, kind %I NOT NULL, secret_hash %B NOT NULL UNIQUE,"
        "  counselor %B, name TEXT NOT NULL, created_at %I NOT NULL,"
        "  expires_at %I NOT NULL, used_at %I NOT NULL DEFAULT 0)%S;"
        "CREATE TABLE IF NOT EXISTS devices ("
        "  id %B PRIMARY KEY, account %B NOT NULL, name TEXT NOT NULL,"
        "  created_at %I NOT NULL, last_seen %I NOT NULL)%S;"
        "CREATE TABLE IF NOT EXISTS tokens ("
        "  hash %B PRIMARY KEY, account %B NOT NULL, device %B NOT NULL,"
        "  expires_at %I NOT NULL)%S;"
        "CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device);"
        "CREATE TABLE IF NOT EXISTS challenges ("
        "  challenge %B PRIMARY KEY, account %B NOT NULL, device %B NOT NULL,"
        "  purpose %I NOT NULL, expires_at %I NOT NULL)%S;"
        "CREATE TABLE IF NOT EXISTS streams ("
        "  id %B PRIMARY KEY, owner %B NOT NULL, kind %I NOT NULL,"
        "  epoch %I NOT NULL, seq %I NOT NULL DEFAULT 0,"
        "  rotation_pending %I NOT NULL DEFAULT 0)%S;"
        "CREATE INDEX IF NOT EXISTS streams_owner ON streams(owner);"
        "CREATE TABLE IF NOT EXISTS grants ("
        "  stream %B NOT NULL, grantee %B NOT NULL, epoch %I NOT NULL,"
        "  grant_bytes %B NOT NULL, created_at %I NOT NULL, expires_at %I NOT NULL,"
        "  revoked_at %I NOT NULL DEFAULT 0,"
        "  closed_at %I NOT NULL DEFAULT 0," /* on the owner's self-grant: epoch closed */
        "  PRIMARY KEY (stream, grantee, epoch))%S;"
        "CREATE INDEX IF NOT EXISTS grants_grantee ON grants(grantee);"
        /* Revoked grants that a later grant for the same (stream, grantee, epoch)
         * replaced: the consent history is kept, never overwritten. */
        "CREATE TABLE IF NOT EXISTS grant_history ("
        "  stream %B NOT NULL, grantee %B NOT NULL, epoch %I NOT NULL,"
        "  grant_bytes %B NOT NULL, created_at %I NOT NULL, expires_at %I NOT NULL,"
        "  revoked_at %I NOT NULL, closed_at %I NOT NULL DEFAULT 0)%S;"
        "CREATE INDEX IF NOT EXISTS grant_history_stream ON grant_history(stream);"
        "CREATE TABLE IF NOT EXISTS records ("
        "  stream %B NOT NULL, record %B NOT NULL, seq %I NOT NULL,"
        "  clock %I NOT NULL, device %B NOT NULL, epoch %I NOT NULL,"
        "  creator %B NOT NULL, envelope %B NOT NULL,"
        "  PRIMARY KEY (stream, record))%W;"
        /* records_seq(stream, seq) was here: migration 3 replaces the table and it.
         * Every store made before version 3 has that index already. */
        "CREATE TABLE IF NOT EXISTS audit ("
        "  idx %I PRIMARY KEY, at %I NOT NULL, action %I NOT NULL,"
        "  actor_role %I NOT NULL, actor %B NOT NULL, device %B NOT NULL,"
        "  stream %B NOT NULL, owner %B NOT NULL, grantee %B NOT NULL,"
        "  epoch %I NOT NULL, count %I NOT NULL, seq_from %I NOT NULL,"
        "  seq_to %I NOT NULL, prev %B NOT NULL, hash %B NOT NULL)%S;"
        "CREATE INDEX IF NOT EXISTS audit_owner ON audit(owner, idx);"
        /* Counselors an administrator disabled (daybookd counselor disable). */
        "CREATE TABLE IF NOT EXISTS disabled_accounts ("
        "  account %B PRIMARY KEY, disabled_at %I NOT NULL)%S;"},
    /* A counselor's invites without reading every invite of the server: the list
     * in the order made, and the pending ones (a new invite counts them against the
     * limit, an enrollment check compares each) without the used ones. An invite
     * that expired unused stays in invites_pending, below the range a read asks for.
     * A query uses the partial index only if it says "used_at = 0" in those words. */
    {2, "CREATE INDEX IF NOT EXISTS invites_counselor ON invites(counselor, created_at);"
        "CREATE INDEX IF NOT EXISTS invites_pending ON invites(counselor, expires_at)"
        " WHERE used_at = 0"},
    /* Records kept in seq order within a stream: a pull (seq > ?, ORDER BY seq) reads
     * consecutive leaves and a push appends at its stream's end. The table was keyed
     * by (stream, record), a random id, with an index records_seq(stream, seq), so a
     * pull walked that index and read each record at a random place of the table: a
     * page read per record once the table outgrew the page cache. The lookup and the
     * upsert of a record by its id go through records_record. The rows are copied
     * whole (the same columns, in the same order), in the transaction of the open;
     * PostgreSQL gets the same table, its heap being in insertion order anyway. */
    {3, "CREATE TABLE records_by_seq ("
        "  stream %B NOT NULL, record %B NOT NULL, seq %I NOT NULL,"
        "  clock %I NOT NULL, device %B NOT NULL, epoch %I NOT NULL,"
        "  creator %B NOT NULL, envelope %B NOT NULL,"
        "  PRIMARY KEY (stream, seq))%W;"
        "INSERT INTO records_by_seq(stream, record, seq, clock, device, epoch, creator,"
        "  envelope) SELECT stream, record, seq, clock, device, epoch, creator, envelope"
        "  FROM records ORDER BY stream, seq;"
        "DROP TABLE records;"
        "ALTER TABLE records_by_seq RENAME TO records;"
        "CREATE UNIQUE INDEX records_record ON records(stream, record)"},
};
const size_t dbk_nmigrations = sizeof dbk_migrations / sizeof dbk_migrations[0];

char *
dbk_schema_render(const dbk_migration *m, enum dbk_dialect d)
{
    static const char *const sqlite_words[] = {"BLOB", "INTEGER", " STRICT",
                                               " STRICT, WITHOUT ROWID"};
    static const char *const pg_words[] = {"BYTEA", "BIGINT", "", ""};
    const char *const *w = d == DBK_DIALECT_PG ? pg_words : sqlite_words;
    size_t cap = strlen(m->sql) * 2 + 1, n = 0; /* every token grows by at most 2x */
    char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    for (const char *p = m->sql; *p != '\0'; p++) {
        const char *word = NULL;
        if (p[0] == '%') {
            switch (p[1]) {
            case 'B': word = w[0]; break;
            case 'I': word = w[1]; break;
            case 'S': word = w[2]; break;
            case 'W': word = w[3]; break;
            default: break;
            }
        }
        if (word == NULL) {
            out[n++] = *p;
            continue;
        }
        size_t len = strlen(word);
        if (n + len + 1 > cap) { /* " STRICT, WITHOUT ROWID" is longer than twice "%W" */
            char *bigger = realloc(out, cap = (cap + len) * 2);
            if (bigger == NULL) {
                free(out);
                return NULL;
            }
            out = bigger;
        }
        memcpy(out + n, word, len);
        n += len;
        p++;
    }
    out[n] = '\0';
    return out;
}

static int
apply_one(const dbk_schema_io *io, const dbk_migration *m, enum dbk_dialect d)
{
    char *sql = dbk_schema_render(m, d);
    int rc;
    if (sql == NULL)
        return DBK_E_NOMEM;
    rc = io->exec(io->ctx, sql);
    free(sql);
    return rc;
}

/* A new store's identity; an existing store keeps its own (meta_add adds only). */
static int
identity(const dbk_schema_io *io)
{
    dbk_id server_id;
    unsigned char gen[8], ver[8], secret[32];
    int rc;

    dbk_id_random(&server_id);
    randombytes_buf(secret, sizeof secret);
    dbk_put_u64(gen, 1);
    dbk_put_u64(ver, 1); /* what migration 1 made; raised below */
    if ((rc = io->meta_add(io->ctx, "server_id", server_id.b, sizeof server_id.b)) == DBK_OK &&
        (rc = io->meta_add(io->ctx, "restore_generation", gen, sizeof gen)) == DBK_OK &&
        (rc = io->meta_add(io->ctx, "server_secret", secret, sizeof secret)) == DBK_OK)
        rc = io->meta_add(io->ctx, "schema_version", ver, sizeof ver);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int
dbk_schema_apply(const dbk_schema_io *io, enum dbk_dialect d)
{
    unsigned char ver[8];
    int64_t have;
    int rc;

    if ((rc = apply_one(io, &dbk_migrations[0], d)) != DBK_OK || (rc = identity(io)) != DBK_OK ||
        (rc = io->meta_get(io->ctx, "schema_version", ver, sizeof ver)) != DBK_OK)
        return rc;
    have = (int64_t)dbk_get_u64(ver);
    if (have > DBK_SCHEMA_VERSION)
        return DBK_E_VERSION; /* made by a newer daybookd: do not touch it */
    for (size_t i = 1; i < dbk_nmigrations; i++)
        if (dbk_migrations[i].version > have &&
            (rc = apply_one(io, &dbk_migrations[i], d)) != DBK_OK)
            return rc;
    if (have == DBK_SCHEMA_VERSION)
        return DBK_OK;
    dbk_put_u64(ver, DBK_SCHEMA_VERSION);
    return io->meta_set(io->ctx, "schema_version", ver, sizeof ver);
}

/* ---- the tables, for daybookd migrate (migrate.c) ---- */

#define I DBK_COL_INT
#define B DBK_COL_BLOB
#define T DBK_COL_TEXT
#define COLS(name) cols_##name, sizeof cols_##name / sizeof cols_##name[0]

static const dbk_column cols_meta[] = {{"key", T}, {"value", B}};
static const dbk_column cols_accounts[] = {
    {"id", B},        {"role", I},     {"name", T},       {"sign_pk", B},
    {"box_pk", B},    {"login_pk", B}, {"bundle", B},     {"generation", I},
    {"counselor", B}, {"created_at", I}, {"used_bytes", I}, {"grants_seq", I}};
static const dbk_column cols_invites[] = {{"id", B},         {"kind", I},       {"secret_hash", B},
                                          {"counselor", B},  {"name", T},       {"created_at", I},
                                          {"expires_at", I}, {"used_at", I}};
static const dbk_column cols_devices[] = {
    {"id", B}, {"account", B}, {"name", T}, {"created_at", I}, {"last_seen", I}};
static const dbk_column cols_tokens[] = {
    {"hash", B}, {"account", B}, {"device", B}, {"expires_at", I}};
static const dbk_column cols_challenges[] = {
    {"challenge", B}, {"account", B}, {"device", B}, {"purpose", I}, {"expires_at", I}};
static const dbk_column cols_streams[] = {{"id", B},    {"owner", B}, {"kind", I},
                                          {"epoch", I}, {"seq", I},   {"rotation_pending", I}};
static const dbk_column cols_grants[] = {
    {"stream", B},     {"grantee", B},    {"epoch", I},      {"grant_bytes", B},
    {"created_at", I}, {"expires_at", I}, {"revoked_at", I}, {"closed_at", I}};
static const dbk_column cols_records[] = {{"stream", B}, {"record", B}, {"seq", I},
                                          {"clock", I},  {"device", B}, {"epoch", I},
                                          {"creator", B}, {"envelope", B}};
static const dbk_column cols_audit[] = {
    {"idx", I},      {"at", I},      {"action", I},   {"actor_role", I}, {"actor", B},
    {"device", B},   {"stream", B},  {"owner", B},    {"grantee", B},    {"epoch", I},
    {"count", I},    {"seq_from", I}, {"seq_to", I},  {"prev", B},       {"hash", B}};
static const dbk_column cols_disabled[] = {{"account", B}, {"disabled_at", I}};

#undef I
#undef B
#undef T

/* Text keys are ASCII, compared byte by byte in both (PostgreSQL: COLLATE "C"). */
const dbk_table dbk_tables[] = {
    {"meta", COLS(meta), "key"},
    {"accounts", COLS(accounts), "id"},
    {"invites", COLS(invites), "id"},
    {"devices", COLS(devices), "id"},
    {"tokens", COLS(tokens), "hash"},
    {"challenges", COLS(challenges), "challenge"},
    {"streams", COLS(streams), "id"},
    {"grants", COLS(grants), "stream, grantee, epoch"},
    {"grant_history", cols_grants, sizeof cols_grants / sizeof cols_grants[0],
     "stream, grantee, epoch, created_at, revoked_at, grant_bytes"},
    {"records", COLS(records), "stream, record"},
    {"audit", COLS(audit), "idx"},
    {"disabled_accounts", COLS(disabled), "account"},
};
const size_t dbk_ntables = sizeof dbk_tables / sizeof dbk_tables[0];
