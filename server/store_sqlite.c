/*
 * The embedded default backend: one SQLite file, daybook.db, in WAL mode with
 * synchronous=FULL, so a commit that returned is on disk.
 */
#include "store.h"

#include "dbk/error.h"
#include "dbk/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_FILE "daybook.db"
#define SCHEMA_VERSION 1

struct dbk_store {
    sqlite3 *db;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL"
    ") STRICT;";

static int
exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        DBK_LOG(DBK_LOG_ERROR, "store_error", DBK_STR("sqlite", sqlite3_errmsg(db)));
        return DBK_E_IO;
    }
    return DBK_OK;
}

static int
meta_get(sqlite3 *db, const char *key, void *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = DBK_E_CORRUPT;

    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return DBK_E_IO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len) {
        memcpy(out, sqlite3_column_blob(st, 0), len);
        rc = DBK_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int
meta_put_new(sqlite3 *db, const char *key, const void *val, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return DBK_E_IO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? DBK_OK : DBK_E_IO;
    sqlite3_finalize(st);
    return rc;
}

static int
init_schema(sqlite3 *db)
{
    dbk_id server_id;
    unsigned char gen[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char ver[8] = {0, 0, 0, 0, 0, 0, 0, SCHEMA_VERSION};
    int rc;

    dbk_id_random(&server_id);
    if ((rc = exec(db, "BEGIN IMMEDIATE")) != DBK_OK)
        return rc;
    if ((rc = exec(db, schema_sql)) == DBK_OK &&
        (rc = meta_put_new(db, "server_id", server_id.b, sizeof server_id.b)) == DBK_OK &&
        (rc = meta_put_new(db, "restore_generation", gen, sizeof gen)) == DBK_OK &&
        (rc = meta_put_new(db, "schema_version", ver, sizeof ver)) == DBK_OK)
        return exec(db, "COMMIT");
    exec(db, "ROLLBACK");
    return rc;
}

int
dbk_store_open(const char *dir, dbk_store **out)
{
    char path[4096];
    dbk_store *st;
    int rc;

    *out = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE) >= sizeof path)
        return DBK_E_IO;
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return DBK_E_NOMEM;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK) {
        DBK_LOG(DBK_LOG_ERROR, "store_open_failed", DBK_STR("path", path),
                DBK_STR("sqlite", sqlite3_errmsg(st->db)));
        dbk_store_close(st);
        return DBK_E_IO;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if ((rc = exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                           "PRAGMA foreign_keys=ON;")) != DBK_OK ||
        (rc = init_schema(st->db)) != DBK_OK) {
        dbk_store_close(st);
        return rc;
    }
    *out = st;
    return DBK_OK;
}

void
dbk_store_close(dbk_store *st)
{
    if (st == NULL)
        return;
    sqlite3_close(st->db);
    free(st);
}

int
dbk_store_server_info(dbk_store *st, dbk_id *server_id, int64_t *restore_generation)
{
    unsigned char gen[8];
    int rc;

    if ((rc = meta_get(st->db, "server_id", server_id->b, sizeof server_id->b)) != DBK_OK ||
        (rc = meta_get(st->db, "restore_generation", gen, sizeof gen)) != DBK_OK)
        return rc;
    *restore_generation = 0;
    for (int i = 0; i < 8; i++)
        *restore_generation = (*restore_generation << 8) | gen[i];
    return DBK_OK;
}
