/*
 * The PostgreSQL side of the test support (dbk_test.h): which store the integration
 * tests run daybookd on, and a fresh database per server in the throwaway cluster
 * of tests/support/pg_cluster.sh.
 *
 * DAYBOOK_TEST_STORE=postgresql (set by ctest for integration.pg.*) makes every
 * dbk_server_start use a database of its own, made here and dropped by
 * dbk_server_cleanup; DAYBOOK_PG_CLUSTER names the cluster's state file.
 */
#include "dbk_test.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
dbk_test_pg(void)
{
    const char *s = getenv("DAYBOOK_TEST_STORE");
    return s != NULL && strcmp(s, "postgresql") == 0;
}

/* The cluster's directory from a state file of pg_cluster.sh, in out. */
static bool
cluster_dir(const char *state, char *out, size_t cap)
{
    FILE *f = state ? fopen(state, "r") : NULL;
    bool ok = false;
    if (f != NULL) {
        ok = fgets(out, (int)cap, f) != NULL;
        fclose(f);
    }
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0] == '/';
}

char *
dbk_pg_url(const char *state, const char *db)
{
    char dir[1024], url[2048];
    if (!cluster_dir(state ? state : getenv("DAYBOOK_PG_CLUSTER"), dir, sizeof dir)) {
        fprintf(stderr, "test support: no PostgreSQL cluster (DAYBOOK_PG_CLUSTER)\n");
        abort();
    }
    snprintf(url, sizeof url, "postgresql:///%s?host=%s/sock&user=daybook", db, dir);
    return strdup(url);
}

/* Runs sql on the cluster's postgres database; false (and a message) if it fails. */
bool
dbk_pg_exec(const char *state, const char *sql)
{
    char *url = dbk_pg_url(state, "postgres");
    PGconn *c = PQconnectdb(url);
    bool ok = false;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "test support: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    } else {
        fprintf(stderr, "test support: cannot reach the cluster: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    free(url);
    return ok;
}

char *
dbk_pg_create_db(const char *state)
{
    static unsigned counter;
    char name[64], sql[128];
    snprintf(name, sizeof name, "dbk_%ld_%u_%u", (long)getpid(), ++counter,
             (unsigned)(rand() & 0xffff));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (!dbk_pg_exec(state, sql))
        abort();
    return dbk_pg_url(state, name);
}

void
dbk_pg_drop_db(const char *state, const char *url)
{
    const char *p = url ? strstr(url, ":///") : NULL;
    char name[64], sql[128];
    if (p == NULL)
        return;
    p += 4;
    size_t n = strcspn(p, "?");
    if (n == 0 || n >= sizeof name)
        return;
    memcpy(name, p, n);
    name[n] = '\0';
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    (void)dbk_pg_exec(state, sql);
}

/* sql with SQLite's blob literals x'..' written as PostgreSQL's '\x..'::bytea. */
static char *
pg_dialect(const char *sql)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 4 + 16), *o = out; /* x'' (3) becomes 12 */
    if (out == NULL)
        abort();
    for (const char *p = sql; *p != '\0';) {
        if ((*p == 'x' || *p == 'X') && p[1] == '\'' && (p == sql || !isalnum((unsigned char)p[-1]))) {
            const char *end = strchr(p + 2, '\'');
            if (end == NULL)
                break;
            o += sprintf(o, "'\\x%.*s'::bytea", (int)(end - p - 2), p + 2);
            p = end + 1;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

long
dbk_pg_exec_db(const char *url, const char *sql_sqlite)
{
    PGconn *c = PQconnectdb(url);
    long changed = -1;
    char *sql = pg_dialect(sql_sqlite);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
            changed = strtol(PQcmdTuples(r), NULL, 10);
        else
            fprintf(stderr, "test support: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    } else {
        fprintf(stderr, "test support: cannot reach the database: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    free(sql);
    return changed;
}

bool
dbk_pg_row(const char *url, const char *sql_sqlite, unsigned char *const *out, const size_t *len,
           int ncols)
{
    PGconn *c = PQconnectdb(url);
    char *sql = pg_dialect(sql_sqlite);
    bool ok = false;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1 && PQnfields(r) >= ncols;
        for (int i = 0; ok && i < ncols; i++) {
            ok = (size_t)PQgetlength(r, 0, i) == len[i];
            if (ok)
                memcpy(out[i], PQgetvalue(r, 0, i), len[i]);
        }
        if (!ok)
            fprintf(stderr, "test support: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    free(sql);
    return ok;
}

long long
dbk_pg_int(const char *url, const char *sql_sqlite)
{
    PGconn *c = PQconnectdb(url);
    char *sql = pg_dialect(sql_sqlite);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "test support: %s: %s", sql, PQerrorMessage(c));
            abort();
        }
        if (PQntuples(r) >= 1 && PQnfields(r) >= 1 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    } else {
        fprintf(stderr, "test support: cannot reach the database: %s", PQerrorMessage(c));
        abort();
    }
    PQfinish(c);
    free(sql);
    return v;
}

long
dbk_server_exec(const dbk_server *s, const char *sql)
{
    char path[4200], *err = NULL;
    sqlite3 *db = NULL;
    long changed = -1;
    if (dbk_test_pg())
        return dbk_pg_exec_db(s->store_url, sql);
    snprintf(path, sizeof path, "%s/daybook.db", s->data_dir);
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
        changed = sqlite3_changes(db);
    else
        fprintf(stderr, "test support: %s: %s\n", sql,
                err  ? err
                : db ? sqlite3_errmsg(db)
                     : "no memory");
    sqlite3_free(err);
    sqlite3_close(db);
    return changed;
}

long long
dbk_server_int(const dbk_server *s, const char *sql)
{
    char path[4200];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (dbk_test_pg())
        return dbk_pg_int(s->store_url, sql);
    snprintf(path, sizeof path, "%s/daybook.db", s->data_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "test support: %s: %s\n", sql, db ? sqlite3_errmsg(db) : "no memory");
        abort();
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}
