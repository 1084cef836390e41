/*
 * The front of server/store.h: chooses a backend when a store is opened, then
 * forwards every call to it through its operation table (backend.h).
 */
#include "backend.h"

#include "dbk/error.h"

#include <string.h>

#define DBK_FORWARD_X(ret, name, params, args)                                                     \
    ret dbk_store_##name(dbk_store *st DBK_UNPAREN params)                                         \
    {                                                                                              \
        return st->ops->name(st DBK_UNPAREN args);                                                 \
    }
/* The operations that return nothing accept NULL (close, as free does). */
#define DBK_FORWARD_V(name, params, args)                                                          \
    void dbk_store_##name(dbk_store *st DBK_UNPAREN params)                                        \
    {                                                                                              \
        if (st != NULL)                                                                            \
            st->ops->name(st DBK_UNPAREN args);                                                    \
    }

DBK_STORE_OPS(DBK_FORWARD_X, DBK_FORWARD_V)

int
dbk_store_open(const char *dir, dbk_store **out)
{
    return dbk_sqlite_open(dir, out);
}

int
dbk_store_open_existing(const char *path, dbk_store **out)
{
    return dbk_sqlite_open_path(path, false, out);
}

int
dbk_store_copy_backup(const char *src, const char *dst, dbk_id *server_id)
{
    return dbk_sqlite_copy_backup(src, dst, server_id);
}

bool
dbk_store_url_is_pg(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

int
dbk_store_open_url(const char *url, dbk_store **out)
{
    *out = NULL;
    if (dbk_store_url_is_pg(url))
        return dbk_pg_open(url, out);
    if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0')
        return dbk_sqlite_open_path(url + 7, true, out);
    return DBK_E_INVALID;
}

const char *
dbk_store_backend(const dbk_store *st)
{
    return st->ops->name;
}
