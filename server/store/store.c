/*
 * The front of server/store.h: chooses a backend when a store is opened, then
 * forwards every call to it through its operation table (backend.h).
 *
 * SQLite is linked in. PostgreSQL is a module, daybookd-postgresql.so, loaded here
 * the first time a postgresql:// URL is opened, so that daybookd on SQLite never
 * maps libpq and the libraries it drags in (docs/DESIGN.md, "The PostgreSQL
 * module"). Where the module is looked for, in this order, and nowhere else:
 *
 * 1. the directory of the running executable (/proc/self/exe): a build tree, where
 *    the module is built beside daybookd (tests run it from there);
 * 2. that directory joined with DBK_PG_MODULE_RELDIR, the install's
 *    libdir/daybook relative to its sbindir ("../lib/daybook"): an installed
 *    daybookd, under whatever prefix or DESTDIR it was installed.
 *
 * No environment variable or setting names another place: whoever could set it
 * could make daybookd, and the clinical data it holds, run any code. Both places
 * belong to the install (or build tree) that holds the executable, with the same
 * owner, so they are as trusted as daybookd itself. The first place that has the
 * file wins; if it does not load, that is the error (no falling through to an older
 * copy elsewhere).
 *
 * The module is opened with RTLD_NOW, so a symbol it lacks fails here rather than in
 * the middle of a request, and never closed (its stores live until exit).
 */
#include "backend.h"

#include "dbk/error.h"
#include "dbk/log.h"
#include "dbk/version.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DBK_PG_MODULE
#define DBK_PG_MODULE "daybookd-postgresql.so"
#endif
#ifndef DBK_PG_MODULE_RELDIR
#define DBK_PG_MODULE_RELDIR "../lib/daybook"
#endif
/* What to tell an operator whose daybookd has no usable module. */
#define PG_MODULE_HINT                                                                             \
    "install the daybookd-postgresql package (Debian), or build with libpq (libpq-dev) and "       \
    "`cmake --install`; a SQLite store needs neither"

static pthread_once_t pg_once = PTHREAD_ONCE_INIT;
static const dbk_pg_module *pg_module;
static char pg_error[4096 * 2 + 512];

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

/* The directory of the running executable into dir. */
static bool
exe_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap);
    char *slash;
    if (n <= 0 || (size_t)n >= cap)
        return false;
    dir[n] = '\0';
    if ((slash = strrchr(dir, '/')) == NULL)
        return false;
    slash[slash == dir ? 1 : 0] = '\0';
    return true;
}

/* Loads and checks the module at path (which exists); on failure says why in
 * pg_error. */
static void
pg_load_from(const char *path)
{
    const dbk_pg_module *m;
    const char *why;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        why = dlerror();
        snprintf(pg_error, sizeof pg_error, "cannot load the PostgreSQL module %s: %s: %s", path,
                 why ? why : "?",
                 why && strstr(why, "libpq") ? "install libpq (Debian: libpq5)" : PG_MODULE_HINT);
        return;
    }
    m = (const dbk_pg_module *)dlsym(h, DBK_PG_MODULE_SYMBOL);
    if (m == NULL || m->version == NULL || strcmp(m->version, DBK_VERSION) != 0 ||
        m->ops_size != sizeof(dbk_store_ops) || m->open == NULL || m->restore == NULL) {
        snprintf(pg_error, sizeof pg_error,
                 "the PostgreSQL module %s is not this daybookd's (version %s, want %s): "
                 "install daybookd-postgresql of the same version as daybookd",
                 path, m && m->version ? m->version : "unknown", DBK_VERSION);
        dlclose(h);
        return;
    }
    pg_module = m;
}

static void
pg_load(void)
{
    char dir[4096], first[4096 + 64], second[4096 * 2];
    struct stat sb;

    if (!exe_dir(dir, sizeof dir)) {
        snprintf(pg_error, sizeof pg_error,
                 "cannot find the PostgreSQL module %s: /proc/self/exe does not name "
                 "daybookd's directory",
                 DBK_PG_MODULE);
        return;
    }
    snprintf(first, sizeof first, "%s/%s", dir, DBK_PG_MODULE);
    if (stat(first, &sb) == 0) {
        pg_load_from(first);
        return;
    }
    snprintf(second, sizeof second, "%s/%s", dir, DBK_PG_MODULE_RELDIR);
    {
        /* The same path without "..", for the message and dlerror's. */
        char *real = realpath(second, NULL);
        if (real != NULL) {
            snprintf(second, sizeof second, "%s", real);
            free(real);
        }
    }
    size_t len = strlen(second);
    snprintf(second + len, sizeof second - len, "/%s", DBK_PG_MODULE);
    if (stat(second, &sb) == 0) {
        pg_load_from(second);
        return;
    }
    snprintf(pg_error, sizeof pg_error,
             "a postgresql:// store needs the PostgreSQL module %s, which is in neither "
             "%s nor %.*s: %s",
             DBK_PG_MODULE, dir, (int)len, second, PG_MODULE_HINT);
}

int
dbk_store_pg_load(char *msg, size_t msgsz)
{
    pthread_once(&pg_once, pg_load);
    if (pg_module != NULL)
        return DBK_OK;
    if (msg != NULL && msgsz > 0)
        snprintf(msg, msgsz, "%s", pg_error);
    return DBK_E_UNAVAILABLE;
}

/* The module, or NULL after logging why (callers that did not ask dbk_store_pg_load
 * first still leave a reason in the log). */
static const dbk_pg_module *
pg_get(void)
{
    if (dbk_store_pg_load(NULL, 0) == DBK_OK)
        return pg_module;
    DBK_LOG(DBK_LOG_ERROR, "store_module", DBK_STR("error", pg_error));
    return NULL;
}

int
dbk_store_pg_restore(const char *url, const char *archive, int64_t *generation, char *msg,
                     size_t msgsz)
{
    const dbk_pg_module *m = pg_get();
    if (m == NULL) {
        snprintf(msg, msgsz, "%s", pg_error);
        return DBK_E_UNAVAILABLE;
    }
    return m->restore(url, archive, generation, msg, msgsz);
}

int
dbk_store_open_url(const char *url, dbk_store **out)
{
    const dbk_pg_module *m;
    *out = NULL;
    if (dbk_store_url_is_pg(url))
        return (m = pg_get()) != NULL ? m->open(url, out) : DBK_E_UNAVAILABLE;
    if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0')
        return dbk_sqlite_open_path(url + 7, true, out);
    return DBK_E_INVALID;
}

const char *
dbk_store_backend(const dbk_store *st)
{
    return st->ops->name;
}
