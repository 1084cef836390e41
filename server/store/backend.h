/*
 * What a storage backend provides, and what every backend shares.
 *
 * server/store.h is the one interface the rest of the server sees. Each backend
 * (sqlite/, pg/) implements the same operations on its own struct, whose first
 * member is a dbk_store holding the operation table; store.c forwards each
 * dbk_store_* call through that table. DBK_STORE_OPS is the list of operations,
 * written once: it makes the table's members, the forwarding functions in store.c,
 * and each backend's adapters (DBK_STORE_BACKEND below), so a backend that lacks an
 * operation or gets its signature wrong does not compile.
 *
 * What is decided once for both backends lives beside this header: the schema and
 * its migrations (schema.c), the rules of a push and a pull and the audit chain
 * (rules.c), and the copy and comparison of whole stores (migrate.c). The PostgreSQL
 * backend is a separate module (see dbk_pg_module below); the functions of those
 * files it calls are exported to it by daybookd and listed in pg/host.sym.
 */
#ifndef DBK_SERVER_STORE_BACKEND_H
#define DBK_SERVER_STORE_BACKEND_H

#include "store.h"

#define DBK_UNPAREN(...) __VA_ARGS__

/*
 * X(return type, name, (parameters after st), (arguments after st)) for operations
 * that return a value; V(name, params, args) for those that return nothing. Both
 * lists of parameters start with a comma when they are not empty.
 */
#define DBK_STORE_OPS(X, V)                                                                        \
    V(close, (), ())                                                                               \
    X(int, tx_begin, (), ())                                                                       \
    X(int, tx_commit, (), ())                                                                      \
    V(tx_rollback, (), ())                                                                         \
    X(int, sp_begin, (), ())                                                                       \
    X(int, sp_release, (), ())                                                                     \
    V(sp_rollback, (), ())                                                                         \
    X(bool, tx_alive, (), ())                                                                      \
    X(int64_t, tx_splits, (), ())                                                                  \
    X(int, data_version, (, int64_t *out), (, out))                                                \
    X(int, reserve, (, int64_t bytes), (, bytes))                                                  \
    X(int, checkpoints, (, int64_t wal_max_bytes), (, wal_max_bytes))                              \
    X(int, checkpoint_counts, (, dbk_checkpoint_counts *out), (, out))                             \
    X(int, defer_sync, (), ())                                                                     \
    X(int, sync, (), ())                                                                           \
    X(int, room, (), ())                                                                           \
    X(bool, full, (), ())                                                                          \
    X(int, ping, (), ())                                                                           \
    X(int, clone, (, dbk_store **out), (, out))                                                    \
    X(int, server_info, (, dbk_server_info *out), (, out))                                         \
    X(int, restore_prepare, (, int64_t above, int64_t *gen), (, above, gen))                       \
    X(int, account_create, (, const dbk_account *a), (, a))                                        \
    X(int, account_get, (, const dbk_id *id, dbk_account *out), (, id, out))                       \
    X(int, bump_grants_seq, (, const dbk_id *id), (, id))                                          \
    X(int, charge, (, const dbk_id *id, int64_t bytes, int64_t quota), (, id, bytes, quota))       \
    X(int, account_set_bundle,                                                                     \
      (, const dbk_id *id, const unsigned char bundle[148], const unsigned char login_pk[32],      \
       uint32_t generation),                                                                       \
      (, id, bundle, login_pk, generation))                                                        \
    X(int, clients_of, (, const dbk_id *c, dbk_account_cb cb, void *arg), (, c, cb, arg))          \
    X(int, counselors, (, dbk_account_cb cb, void *arg), (, cb, arg))                              \
    X(int, account_disabled, (, const dbk_id *id, int64_t *at), (, id, at))                        \
    X(int, account_set_disabled, (, const dbk_id *id, bool disabled, int64_t at),                  \
      (, id, disabled, at))                                                                        \
    X(int, invite_create, (, const dbk_invite *inv), (, inv))                                      \
    X(int, invite_use,                                                                             \
      (, const unsigned char hash[DBK_HASH_BYTES], int64_t now, dbk_invite *out),                  \
      (, hash, now, out))                                                                          \
    X(int, invites_of, (, const dbk_id *c, dbk_invite_cb cb, void *arg), (, c, cb, arg))           \
    X(int, invites_pending, (, const dbk_id *c, int64_t now, dbk_invite_cb cb, void *arg),         \
      (, c, now, cb, arg))                                                                         \
    X(int, invite_delete, (, const dbk_id *c, const dbk_id *id), (, c, id))                        \
    X(int, device_add, (, const dbk_device *d), (, d))                                             \
    X(int, devices_of, (, const dbk_id *a, dbk_device_cb cb, void *arg), (, a, cb, arg))           \
    X(int, last_seen, (, const dbk_id *a, int64_t *out), (, a, out))                               \
    X(int, device_revoke, (, const dbk_id *a, const dbk_id *d), (, a, d))                          \
    X(int, token_add,                                                                              \
      (, const unsigned char hash[DBK_HASH_BYTES], const dbk_id *a, const dbk_id *d,               \
       int64_t expires_at),                                                                        \
      (, hash, a, d, expires_at))                                                                  \
    X(int, token_check,                                                                            \
      (, const unsigned char hash[DBK_HASH_BYTES], int64_t now, dbk_id *a, dbk_id *d),             \
      (, hash, now, a, d))                                                                         \
    X(int, token_delete, (, const unsigned char hash[DBK_HASH_BYTES]), (, hash))                   \
    X(int, tokens_revoke_others, (, const dbk_id *a, const dbk_id *keep, int64_t *count),          \
      (, a, keep, count))                                                                          \
    X(int, challenge_add,                                                                          \
      (, const unsigned char ch[32], const dbk_id *a, const dbk_id *d, enum dbk_purpose p,         \
       int64_t expires_at),                                                                        \
      (, ch, a, d, p, expires_at))                                                                 \
    X(int, challenge_take,                                                                         \
      (, const unsigned char ch[32], const dbk_id *a, const dbk_id *d, enum dbk_purpose p,         \
       int64_t now),                                                                               \
      (, ch, a, d, p, now))                                                                        \
    X(int, stream_create, (, const dbk_stream *s), (, s))                                          \
    X(int, stream_get, (, const dbk_id *id, dbk_stream *out), (, id, out))                         \
    X(int, streams_for, (, const dbk_id *a, int64_t now, dbk_stream_cb cb, void *arg),             \
      (, a, now, cb, arg))                                                                         \
    X(int, grant_put, (, const dbk_grant_row *g, int64_t now, bool *identical),                    \
      (, g, now, identical))                                                                       \
    X(int, grant_held, (, const dbk_id *s, const dbk_id *g, uint32_t epoch), (, s, g, epoch))      \
    X(int, grant_get,                                                                              \
      (, const dbk_id *s, const dbk_id *g, uint32_t epoch, unsigned char **out, size_t *len),      \
      (, s, g, epoch, out, len))                                                                   \
    X(int, grants_of_stream, (, const dbk_id *s, dbk_grant_cb cb, void *arg), (, s, cb, arg))      \
    X(int, grants_to, (, const dbk_id *g, int64_t now, dbk_grant_cb cb, void *arg),                \
      (, g, now, cb, arg))                                                                         \
    X(int, grant_revoke, (, const dbk_id *s, const dbk_id *g, int64_t now), (, s, g, now))         \
    X(int, access,                                                                                 \
      (, const dbk_id *a, const dbk_id *s, int64_t now, dbk_stream *str, bool *is_owner,           \
       bool *can_write),                                                                           \
      (, a, s, now, str, is_owner, can_write))                                                     \
    V(expect_streams, (, const dbk_id *ids, size_t n), (, ids, n))                                 \
    X(int, push, (, dbk_push_batch *b), (, b))                                                     \
    X(int, pull,                                                                                   \
      (, const dbk_id *s, const dbk_id *reader, int64_t now, int64_t since, size_t limit,          \
       size_t max_bytes, dbk_record_cb cb, void *arg, bool *more, int64_t *last_seq,               \
       size_t *bytes_out, dbk_pull_charge *charge),                                                \
      (, s, reader, now, since, limit, max_bytes, cb, arg, more, last_seq, bytes_out, charge))     \
    X(int, audit_append, (, dbk_audit_entry *e), (, e))                                            \
    X(int, audit_of_owner,                                                                         \
      (, const dbk_id *o, int64_t since, size_t limit, dbk_audit_cb cb, void *arg, bool *more),    \
      (, o, since, limit, cb, arg, more))                                                          \
    X(int, audit_verify, (, int64_t *checked, int64_t *bad_index), (, checked, bad_index))         \
    X(int, backup, (, const char *path), (, path))                                                 \
    X(int, check, (, char *msg, size_t msgsz), (, msg, msgsz))                                     \
    X(int, table_rows, (, const dbk_table *t, dbk_row_cb cb, void *arg), (, t, cb, arg))           \
    X(int, table_insert, (, const dbk_table *t, const dbk_value *row), (, t, row))                \
    X(int, table_clear, (, const dbk_table *t), (, t))

typedef struct dbk_store_ops {
    const char *name; /* "sqlite", "postgresql" */
#define DBK_X_MEMBER(ret, name, params, args) ret (*name)(dbk_store * st DBK_UNPAREN params);
#define DBK_V_MEMBER(name, params, args) void (*name)(dbk_store * st DBK_UNPAREN params);
    DBK_STORE_OPS(DBK_X_MEMBER, DBK_V_MEMBER)
#undef DBK_X_MEMBER
#undef DBK_V_MEMBER
} dbk_store_ops;

/* The head of every backend's struct. */
struct dbk_store {
    const dbk_store_ops *ops;
};

/*
 * In a backend's file, with DBK_BACKEND_TYPE and DBK_BACKEND_PREFIXED(name) defined:
 * DBK_BACKEND_DECLARE() declares its functions (static) before they are used.
 */
#define DBK_BACKEND_DECL_X(ret, name, params, args)                                                \
    static ret DBK_BACKEND_PREFIXED(name)(DBK_BACKEND_TYPE * st DBK_UNPAREN params);
#define DBK_BACKEND_DECL_V(name, params, args)                                                     \
    static void DBK_BACKEND_PREFIXED(name)(DBK_BACKEND_TYPE * st DBK_UNPAREN params);
#define DBK_BACKEND_DECLARE() DBK_STORE_OPS(DBK_BACKEND_DECL_X, DBK_BACKEND_DECL_V)

/*
 * In a backend's file, after its functions PREFIX_<op>(TYPE *st, ...): the adapters
 * from dbk_store * and the table PREFIX_ops. TYPE's first member is a dbk_store.
 */
#define DBK_BACKEND_X(ret, name, params, args)                                                     \
    static ret dbk_backend_##name(dbk_store *st DBK_UNPAREN params)                                \
    {                                                                                              \
        return DBK_BACKEND_PREFIXED(name)((DBK_BACKEND_TYPE *)st DBK_UNPAREN args);               \
    }
#define DBK_BACKEND_V(name, params, args)                                                          \
    static void dbk_backend_##name(dbk_store *st DBK_UNPAREN params)                               \
    {                                                                                              \
        DBK_BACKEND_PREFIXED(name)((DBK_BACKEND_TYPE *)st DBK_UNPAREN args);                      \
    }
#define DBK_BACKEND_ENTRY(ret, name, params, args) .name = dbk_backend_##name,
#define DBK_BACKEND_VENTRY(name, params, args) .name = dbk_backend_##name,
#define DBK_BACKEND_TABLE(table, label)                                                            \
    DBK_STORE_OPS(DBK_BACKEND_X, DBK_BACKEND_V)                                                    \
    static const dbk_store_ops table = {.name = label,                                             \
                                        DBK_STORE_OPS(DBK_BACKEND_ENTRY, DBK_BACKEND_VENTRY)};

/* ---- the backends' constructors (store.c chooses) ---- */

int dbk_sqlite_open(const char *dir, dbk_store **out);
int dbk_sqlite_open_path(const char *path, bool create, dbk_store **out);
int dbk_sqlite_copy_backup(const char *src, const char *dst, dbk_id *server_id);

/*
 * The PostgreSQL backend is a module, daybookd-postgresql.so (pg/store_pg.c), that
 * store.c loads with dlopen the first time a postgresql:// URL is opened. It exports
 * one symbol, DBK_PG_MODULE_SYMBOL, of this type. store.c refuses a module whose
 * version or operation table is not this build's (a module left from another
 * version would call through the wrong table).
 */
#define DBK_PG_MODULE_SYMBOL "dbk_pg_module_table"
typedef struct dbk_pg_module {
    const char *version; /* DBK_VERSION of its build */
    size_t ops_size;     /* sizeof(dbk_store_ops) of its build */
    /* url: a libpq connection URI (postgresql://...). */
    int (*open)(const char *url, dbk_store **out);
    /* dbk_store_pg_restore (store.h). */
    int (*restore)(const char *url, const char *archive, int64_t *generation, char *msg,
                   size_t msgsz);
} dbk_pg_module;

/* ---- rules shared by both backends (rules.c) ---- */

/*
 * What a push does with one item, given what is stored for its record. The order of
 * the checks is the protocol's (proto/README.md sections 9-10): authorship first
 * (DBK_E_FORBIDDEN), then the expected revision (stale), then same bytes
 * (duplicate), same revision with other bytes (DBK_E_CONFLICT), an older revision
 * (superseded), else stored with the stream's next sequence number.
 */
enum dbk_push_action { DBK_PUSH_DO_STORE, DBK_PUSH_DO_SKIP, DBK_PUSH_DO_STALE };

typedef struct dbk_stored_record {
    bool exists;
    bool same_bytes;      /* the stored envelope is byte for byte the pushed one */
    dbk_revision current; /* when exists */
    dbk_id creator;       /* who created the record (the first author) */
    int64_t seq;
} dbk_stored_record;

/* Sets it->result (skip), it->stale (stale); returns the action, or DBK_E_FORBIDDEN /
 * DBK_E_CONFLICT. author_is_owner: the item's author owns the stream. */
int dbk_push_decide(dbk_push_item *it, const dbk_stored_record *cur, bool author_is_owner);

/* Whether a pull that has given count records (bytes in all) takes one more of len
 * bytes: at most limit records and max_bytes, but always at least one. */
bool dbk_pull_takes(size_t count, size_t bytes, size_t len, size_t limit, size_t max_bytes);

/* The audit chain, checked entry by entry in index order (audit verify, check). */
typedef struct dbk_audit_walk {
    unsigned char prev[DBK_HASH_BYTES];
    int64_t expect, checked, bad_index;
} dbk_audit_walk;
void dbk_audit_walk_init(dbk_audit_walk *w);
/* DBK_OK, or DBK_E_CORRUPT (w->bad_index set) at the first broken link. */
int dbk_audit_walk_step(dbk_audit_walk *w, const dbk_audit_entry *e);
/* Fills e->index, e->prev and e->hash to follow (last_index, last_hash). */
void dbk_audit_chain_next(dbk_audit_entry *e, int64_t last_index,
                          const unsigned char last_hash[DBK_HASH_BYTES]);

#endif
