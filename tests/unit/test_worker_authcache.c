/*
 * The storage thread's group (server/worker.c, run_group) and the auth cache
 * (server/authcache.h): a job refused having taught the cache nothing leaves it as it
 * was; a job rolled back after the cache learnt something, or failed in the store,
 * empties it. A real worker on a real SQLite store in a temp directory; jobs that
 * write to the cache and look in it as api.c's do, one group each (each submitted
 * from the done callback of the one before).
 */
#include "authcache.h"
#include "dbk_test.h"
#include "store.h"
#include "worker.h"

#include "dbk/error.h"
#include "dbk/id.h"
#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

enum step_kind {
    LEARN,         /* writes the stream entry, succeeds */
    LEARN_REFUSED, /* writes another stream's entry, then refused (403) */
    REFUSED,       /* refused (403), the cache untouched */
    STORE_FAILED,  /* fails in the store (500), the cache untouched */
    LOOK,          /* looks the stream up in the cache */
};

struct step {
    dbk_job job; /* first: the worker's view */
    enum step_kind kind;
    bool found; /* LOOK: the stream's entry was there */
};

static dbk_stream known, other;
static struct step *steps;
static size_t nsteps, next_step;
static dbk_worker *worker;

static void
step_run(dbk_job *job, dbk_store *st)
{
    struct step *s = (struct step *)job;
    dbk_stream out;
    (void)st;
    job->status = DBK_OK;
    switch (s->kind) {
    case LEARN:
        dbk_authcache_stream_put(&known);
        break;
    case LEARN_REFUSED:
        dbk_authcache_stream_put(&other);
        job->status = DBK_E_FORBIDDEN;
        break;
    case REFUSED:
        job->status = DBK_E_FORBIDDEN;
        break;
    case STORE_FAILED:
        job->status = DBK_E_INTERNAL;
        break;
    case LOOK:
        s->found = dbk_authcache_owned(&known.owner, &known.id, &out);
        break;
    }
}

static void
step_done(dbk_job *job)
{
    (void)job;
    if (next_step < nsteps)
        dbk_worker_submit(worker, &steps[next_step++].job);
    else
        dbk_worker_stop(worker);
}

/* Runs kinds in order on a new worker over a new store; found[i]: step i's LOOK. */
static void
run_steps(const enum step_kind *kinds, size_t n, bool *found)
{
    char *dir = dbk_tmpdir("worker-authcache");
    dbk_store *st = NULL;
    uv_loop_t loop;

    assert_int_equal(dbk_store_open(dir, &st), DBK_OK);
    assert_int_equal(uv_loop_init(&loop), 0);
    dbk_authcache_enable(true);
    steps = calloc(n, sizeof *steps);
    assert_non_null(steps);
    for (size_t i = 0; i < n; i++) {
        steps[i].kind = kinds[i];
        steps[i].job.run = step_run;
        steps[i].job.done = step_done;
    }
    nsteps = n;
    next_step = 1;
    assert_int_equal(dbk_worker_start(&worker, &loop, st, 1), 0);
    dbk_worker_submit(worker, &steps[0].job);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < n; i++)
        found[i] = steps[i].found;
    free(steps);
    steps = NULL;
    dbk_authcache_enable(false);
    assert_int_equal(uv_loop_close(&loop), 0);
    dbk_store_close(st);
    dbk_rmtree(dir);
    free(dir);
}

/* An entry learnt, looked up, then a job of kind, then looked up again: whether it is
 * still there. Each job is a group of its own, so only the job's end could empty it. */
static bool
kept_after(enum step_kind kind)
{
    const enum step_kind kinds[] = {LEARN, LOOK, kind, LOOK};
    bool found[4];
    run_steps(kinds, 4, found);
    assert_true(found[1]);
    return found[3];
}

/* A refusal that taught the cache nothing: the entry stays. */
static void
test_refused_keeps_the_cache(void **state)
{
    (void)state;
    assert_true(kept_after(REFUSED));
}

/* A job rolled back after the cache learnt something during it: emptied. */
static void
test_refused_after_learning_empties(void **state)
{
    (void)state;
    assert_false(kept_after(LEARN_REFUSED));
}

/* A job failed in the store, the cache untouched by it: emptied all the same. */
static void
test_store_failure_empties(void **state)
{
    (void)state;
    assert_false(kept_after(STORE_FAILED));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_keeps_the_cache),
        cmocka_unit_test(test_refused_after_learning_empties),
        cmocka_unit_test(test_store_failure_empties),
    };
    if (dbk_init() != 0)
        return 1;
    dbk_id_random(&known.id);
    dbk_id_random(&known.owner);
    known.seq = 7;
    dbk_id_random(&other.id);
    other.owner = known.owner;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
