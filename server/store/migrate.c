/*
 * daybookd migrate: a whole store copied into another backend, then proved equal.
 *
 * The copy goes through the tables of schema.c, row by row (dbk_store_table_rows,
 * dbk_store_table_insert), inside one transaction of the target, so a failed copy
 * leaves nothing half-made. The proof reads both stores again: per table, the
 * number of rows and a BLAKE2b hash of every value in the table's order (the same
 * order in both backends, schema.c), and the target's audit chain verified link by
 * link. Ids, keys, envelopes and hashes are copied as bytes, never re-encoded.
 */
#include "backend.h"
#include "schema.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <string.h>

struct table_hash {
    const dbk_table *t;
    crypto_generichash_state h;
    int64_t rows;
};

/* Each value as (type, null, 8-byte integer or 8-byte length and bytes): the same
 * table in two backends hashes the same. */
static int
hash_row(const dbk_value *row, void *arg)
{
    struct table_hash *th = arg;
    unsigned char head[10];
    for (size_t i = 0; i < th->t->ncols; i++) {
        head[0] = (unsigned char)th->t->cols[i].type;
        head[1] = row[i].null;
        if (th->t->cols[i].type == DBK_COL_INT)
            dbk_put_u64(head + 2, row[i].null ? 0 : (uint64_t)row[i].i);
        else
            dbk_put_u64(head + 2, row[i].null ? 0 : (uint64_t)row[i].len);
        crypto_generichash_update(&th->h, head, sizeof head);
        if (th->t->cols[i].type != DBK_COL_INT && !row[i].null && row[i].len > 0)
            crypto_generichash_update(&th->h, row[i].p, row[i].len);
    }
    th->rows++;
    return 0;
}

static int
table_hash(dbk_store *st, const dbk_table *t, int64_t *rows, unsigned char out[DBK_HASH_BYTES])
{
    struct table_hash th = {.t = t};
    int rc;
    crypto_generichash_init(&th.h, NULL, 0, DBK_HASH_BYTES);
    crypto_generichash_update(&th.h, (const unsigned char *)t->name, strlen(t->name) + 1);
    rc = dbk_store_table_rows(st, t, hash_row, &th);
    crypto_generichash_final(&th.h, out, DBK_HASH_BYTES);
    *rows = th.rows;
    return rc;
}

int
dbk_store_compare(dbk_store *a, dbk_store *b, dbk_migrate_report *rep)
{
    int64_t bad;
    int rc, result = DBK_OK;

    rep->ntables = 0;
    for (size_t i = 0; i < dbk_ntables && i < DBK_MIGRATE_TABLES_MAX; i++) {
        dbk_migrate_table *m = &rep->tables[rep->ntables++];
        m->name = dbk_tables[i].name;
        if ((rc = table_hash(a, &dbk_tables[i], &m->from_rows, m->from_hash)) != DBK_OK ||
            (rc = table_hash(b, &dbk_tables[i], &m->to_rows, m->to_hash)) != DBK_OK)
            return rc;
        if (m->from_rows != m->to_rows ||
            sodium_memcmp(m->from_hash, m->to_hash, DBK_HASH_BYTES) != 0)
            result = DBK_E_CORRUPT;
    }
    if ((rc = dbk_store_audit_verify(b, &rep->audit_checked, &bad)) != DBK_OK)
        return rc;
    return result;
}

struct copy {
    dbk_store *to;
    const dbk_table *t;
    int64_t rows;
};

static int
copy_row(const dbk_value *row, void *arg)
{
    struct copy *c = arg;
    c->rows++;
    return dbk_store_table_insert(c->to, c->t, row);
}

static int
count_row(const dbk_value *row, void *arg)
{
    (void)row;
    ++*(int64_t *)arg;
    return 0;
}

/* The target holds nothing but the identity it made when opened. */
static int
target_empty(dbk_store *to)
{
    for (size_t i = 0; i < dbk_ntables; i++) {
        int64_t n = 0;
        int rc;
        if (strcmp(dbk_tables[i].name, "meta") == 0)
            continue;
        if ((rc = dbk_store_table_rows(to, &dbk_tables[i], count_row, &n)) != DBK_OK)
            return rc;
        if (n > 0)
            return DBK_E_CONFLICT;
    }
    return DBK_OK;
}

int
dbk_store_migrate(dbk_store *from, dbk_store *to, dbk_migrate_report *rep)
{
    int rc;

    memset(rep, 0, sizeof *rep);
    if ((rc = dbk_store_tx_begin(to)) != DBK_OK)
        return rc;
    if ((rc = target_empty(to)) == DBK_OK)
        rc = dbk_store_table_clear(to, &dbk_tables[0]); /* meta: the source's identity */
    for (size_t i = 0; i < dbk_ntables && rc == DBK_OK; i++) {
        struct copy c = {to, &dbk_tables[i], 0};
        rc = dbk_store_table_rows(from, &dbk_tables[i], copy_row, &c);
    }
    if (rc == DBK_OK)
        rc = dbk_store_tx_commit(to);
    if (rc != DBK_OK) {
        dbk_store_tx_rollback(to);
        return rc;
    }
    return dbk_store_compare(from, to, rep);
}
