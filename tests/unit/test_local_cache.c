/*
 * The profile's cache transaction (client/store/local.c dbk_local_cache_begin) under
 * failing allocations: SQLite's allocator fails every allocation from the Nth on, for
 * each N in turn, while a cache transaction begins. Whatever fails, no write of real
 * data may then be committed with the connection left at synchronous=NORMAL (a commit
 * not synced to the disk, lost with the power). Counted: such commits (leaks, 0), and
 * the cases where FULL could not be set again at once (stuck: the case tested); then a
 * write outside a transaction, allocations failing still, must fail as out of memory
 * (what the CLI says), not with the commit hook's refusal (an I/O error), nothing stored
 * before lost; and once memory is back, be made, synced.
 */
#include "local.h"

#include "dbk/error.h"
#include "dbk_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

static sqlite3_mem_methods real;
static bool armed;
static int left; /* allocations that succeed once armed */

static void *
fail_malloc(int n)
{
    if (armed && left-- <= 0)
        return NULL;
    return real.xMalloc(n);
}

static void *
fail_realloc(void *p, int n)
{
    if (armed && left-- <= 0)
        return NULL;
    return real.xRealloc(p, n);
}

/* This run's temp directory (dbk_tmpdir), removed by main after the test, failed or
 * not: a failed assertion returns to the runner, never past main. */
static char *dir;

static void
test_cache_never_leaves_normal(void **state)
{
    (void)state;
    dbk_local *L;
    int leaked = 0, stuck = 0, unclear = 0, failed = 0, last = -1;

    assert_int_equal(dbk_local_open(dir, true, &L), DBK_OK);
    assert_int_equal(dbk_local_put_int(L, "real", -1), DBK_OK); /* its statement kept */
    for (int n = 0; n < 400; n++) {
        left = n;
        armed = true;
        bool began = dbk_local_cache_begin(L);
        armed = false;
        if (began) {
            assert_int_equal(dbk_local_cache_end(L, true, DBK_OK), DBK_OK);
            continue;
        }
        if (dbk_local_synced(L))
            continue;
        stuck++;
        /* A write of real data now, outside any cache, while FULL still cannot be set
         * (every allocation failing): never committed at NORMAL, and failed with why
         * (out of memory, which the CLI says), not the commit hook's refusal (an I/O
         * error), what was stored before kept. */
        left = 0;
        armed = true;
        int rc = dbk_local_put_int(L, "real", n);
        armed = false;
        bool synced = dbk_local_synced(L);
        if (rc == DBK_OK && !synced)
            leaked++;
        else if (rc != DBK_OK && rc != DBK_E_NOMEM)
            unclear++;
        if (rc != DBK_OK && dbk_local_get_int(L, "real", -2) != last)
            failed++;
        /* Memory back: the write is made, synced (FULL set again first). */
        rc = dbk_local_put_int(L, "real", n);
        if (rc != DBK_OK || !dbk_local_synced(L)) {
            printf("stuck at %d: a write once memory is back: %s (synced: %d)\n", n,
                   dbk_err_message(rc), dbk_local_synced(L));
            failed++;
        }
        /* The next transaction sets FULL again. */
        assert_int_equal(dbk_local_begin(L), DBK_OK);
        assert_true(dbk_local_synced(L));
        assert_int_equal(dbk_local_commit(L), DBK_OK);
        assert_int_equal(dbk_local_put_int(L, "real", n), DBK_OK);
        last = n;
    }
    printf("allocation faults while a cache began: FULL not set again at once %d; "
           "writes then committed at NORMAL %d; failed with another error than out of "
           "memory %d; writes failed once memory was back, or a stored value lost %d\n",
           stuck, leaked, unclear, failed);
    dbk_local_close(L);
    assert_true(stuck > 0);
    assert_int_equal(leaked, 0);
    assert_int_equal(unclear, 0);
    assert_int_equal(failed, 0);
}

int
main(void)
{
    sqlite3_mem_methods m;
    /* Before SQLite starts: every allocation through the wrapper, none from a
     * connection's own lookaside pool, which would not fail. */
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real) != SQLITE_OK)
        return 1;
    m = real;
    m.xMalloc = fail_malloc;
    m.xRealloc = fail_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_never_leaves_normal),
    };
    dir = dbk_tmpdir("cache");
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    dbk_rmtree(dir);
    free(dir);
    return failed;
}
