/*
 * The store's schema, written once for both backends (schema.c).
 *
 * Each migration is SQL in a neutral spelling that dbk_schema_render turns into a
 * dialect: %B a byte string (SQLite BLOB, PostgreSQL BYTEA), %I a 64-bit integer
 * (INTEGER, BIGINT), %S the table options (SQLite STRICT, nothing), %W the options of
 * a table keyed by its primary key alone (STRICT, WITHOUT ROWID; nothing). A store
 * records the last version applied in meta.schema_version; opening applies what is
 * newer, in one transaction, and refuses a store newer than this build knows.
 */
#ifndef DBK_SERVER_STORE_SCHEMA_H
#define DBK_SERVER_STORE_SCHEMA_H

#include "store.h"

enum dbk_dialect { DBK_DIALECT_SQLITE = 1, DBK_DIALECT_PG = 2 };

typedef struct dbk_migration {
    int version;
    const char *sql; /* neutral spelling; statements separated by ';' */
} dbk_migration;

extern const dbk_migration dbk_migrations[];
extern const size_t dbk_nmigrations;
/* The version the last migration brings a store to. */
#define DBK_SCHEMA_VERSION 3

/* The SQL of m in dialect d, malloc'd (NULL when out of memory). */
char *dbk_schema_render(const dbk_migration *m, enum dbk_dialect d);

/* How dbk_schema_apply reaches a backend's store (ctx is the backend's). */
typedef struct dbk_schema_io {
    void *ctx;
    int (*exec)(void *ctx, const char *sql); /* one or more statements */
    /* meta: add stores key = value unless key is there; get wants exactly len bytes
     * (DBK_E_CORRUPT otherwise, or when key is missing); set stores or replaces. */
    int (*meta_add)(void *ctx, const char *key, const void *val, size_t len);
    int (*meta_get)(void *ctx, const char *key, void *val, size_t len);
    int (*meta_set)(void *ctx, const char *key, const void *val, size_t len);
} dbk_schema_io;

/*
 * Brings a store to DBK_SCHEMA_VERSION, inside a transaction the caller holds (and,
 * for a database shared by several daybookd, a lock so one runs it at a time): the
 * migrations it lacks, and for a new store its identity (a random server id and
 * secret, restore generation 1). DBK_E_VERSION for a store newer than this build.
 */
int dbk_schema_apply(const dbk_schema_io *io, enum dbk_dialect d);

/* Every table, parents before children (the order a copy inserts in). */
extern const dbk_table dbk_tables[];
extern const size_t dbk_ntables;

#endif
