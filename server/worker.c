/*
 * The storage thread and its group commit; see worker.h.
 *
 * Three queues, all guarded by w->lock: `in` (submitted, FIFO), `unsynced`
 * (committed, waiting for the sync thread) and `out` (finished, waiting for the
 * loop). The loop is woken with a uv_async handle; libuv may coalesce several
 * wake-ups into one callback, which is why the callback drains the whole `out` queue.
 *
 * The sync thread (a store that defers its commits' sync, dbk_store_defer_sync:
 * SQLite): the storage thread commits a group without waiting for the disk and
 * goes on with the next one, while this thread takes every group committed so far,
 * syncs once for all of them (dbk_store_sync), and only then hands them to the loop.
 * So no response is sent before its commit is on disk, as before, and the groups
 * that pile up during one sync share the next. A group ends early, once it has run
 * GROUP_SPLIT_MIN jobs, when the sync thread is idle (run_group): what ran is
 * committed and its sync starts at once, beside the rest of the group, which is run
 * next as a group of its own; else the first jobs of a long group would wait for
 * its last ones while the disk idles (README, Performance). Each part is answered
 * after a sync that began after its commit, as before, and a job that reads what an
 * earlier part wrote is in a later commit, so its sync covers that part too. Were a
 * sync to fail, what it covered might not be on disk while the store's next
 * transactions build on it, so daybookd stops there (abort, as PostgreSQL does on a
 * failed fsync): nothing unsynced was acknowledged, and the next start recovers what
 * the disk has.
 *
 * The prep threads (worker.h, dbk_prep) have a queue and a lock of their own,
 * prep_lock, so the loop's hand-offs to them never wait behind the storage thread's
 * lock. A prep thread is woken only when one sleeps and none was woken already for
 * the queued preps; one that finishes takes the next prep without sleeping. A
 * prepared job waits in `ready` until PREP_HAND_ON have gathered or no prep is
 * queued, then they go to the storage thread together (one lock, one signal).
 *
 * Every thread runs at the process's priority. Tried and not kept (tests/bench's
 * bench_load, A/B pairs against the code before, on a host loaded by other work):
 * the prep threads (and SQLite's checkpoint thread) 5 nice steps lower cut the
 * storage thread's runnable-but-waiting share of the sync phase (median 0.28-0.35
 * from 0.37-0.42) but moved no sync figure beyond the noise, and pushes, where the
 * verifies are the work, ran 15-25% slower (medians of 3-5 runs); SCHED_BATCH for the
 * prep threads, and a 0.1 ms EEVDF slice (sched_setattr) for the storage thread, moved
 * nothing; signalling each condition after its mutex is let go cut the prep threads'
 * lock waits (strace: 0.69 -> 0.04 a sync, all futex calls 4.7 -> 3.9) but no A/B
 * figure. Such a change needs SystemCallFilter=setpriority / sched_setattr in
 * deploy/daybookd.service, whose filter denies @resources.
 */
#include "worker.h"
#include "authcache.h"
#include "limits.h"

#include "dbk/error.h"
#include "dbk/log.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>

#define PREP_THREADS_MAX 8
/* Prepared jobs handed to the storage thread at once, at most (prep_main). */
#define PREP_HAND_ON 8
/* Jobs a group runs, at least, before it may end early to meet an idle sync thread
 * (run_group). */
#define GROUP_SPLIT_MIN 4

struct worker_thread {
    dbk_worker *w;
    dbk_store *st; /* the worker's store for the first, a clone of it for the others */
    uv_thread_t thread;
};

struct dbk_worker {
    uv_loop_t *loop;
    dbk_store *st;
    struct worker_thread threads[DBK_WORKER_THREADS_MAX];
    int nthreads;
    uv_mutex_t lock;
    uv_cond_t cond;
    uv_async_t async;
    dbk_job *in_head, *in_tail;
    dbk_job *unsynced_head, *unsynced_tail;
    dbk_job *out_head, *out_tail;
    size_t pending;
    bool stopping;
    uint64_t commits, jobs;
    uint64_t commit_failures; /* groups whose own commit (or begin) failed */
    /* The sync thread, when the store defers its commits' sync (see the top). */
    bool deferred, sync_stopping;
    atomic_bool syncing; /* the sync thread is in dbk_store_sync (run_group reads it) */
    uv_thread_t sync_thread;
    uv_cond_t sync_cond;
    /* The prep threads and their queue (see the top), under prep_lock. */
    uv_mutex_t prep_lock;
    uv_cond_t prep_cond;
    dbk_prep *prep_head, *prep_tail;
    size_t prep_queued; /* preps in the queue */
    size_t prep_jobs;   /* jobs submitted to prep and not yet handed on, for /metrics */
    int prep_sleeping;  /* prep threads waiting on prep_cond */
    int prep_woken;     /* of those, signalled and not yet running */
    bool prep_stopping;
    dbk_job *ready_head, *ready_tail; /* prepared, not yet handed on (prep_main) */
    size_t nready;
    uv_thread_t prep_threads[PREP_THREADS_MAX];
    int nprep;
};

static void
append(dbk_job **head, dbk_job **tail, dbk_job *first, dbk_job *last)
{
    if (*tail)
        (*tail)->next = first;
    else
        *head = first;
    *tail = last;
}

/* Jobs first..last to the loop's queue, and the loop woken; w->lock is held on entry
 * and on return (it is let go while the loop is woken). */
static void
hand_to_loop(dbk_worker *w, dbk_job *first, dbk_job *last)
{
    append(&w->out_head, &w->out_tail, first, last);
    uv_mutex_unlock(&w->lock);
    uv_async_send(&w->async);
    uv_mutex_lock(&w->lock);
}

/* Names the calling thread as /proc/PID/task/TID/comm and top show it, so a profile
 * or the load generator can tell the loop, storage, sync and prep threads apart. */
static void
name_thread(const char *name)
{
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

/* Runs one group: its jobs in one transaction, each in a savepoint. What the storage
 * thread caches of the store (authcache.h) is forgotten when another process wrote
 * to it since the last group, and whenever something it learnt may be undone: a job
 * rolled back after the cache learnt something during it, a savepoint that could not
 * begin or be released, a job that failed in the store (a 5xx), a group that failed.
 * A job refused having taught the cache nothing leaves it: a stranger's made-up
 * tokens and a device's stale pushes then cost the other devices nothing. A store
 * that commits the jobs so far before a job waits for a lock (dbk_store_tx_splits)
 * has made them durable: a failure after that fails only the jobs from that one on.
 * *split_commits: how many commits the store made inside the group (its splits),
 * besides the group's own; *failed, whether the group's own transaction failed to
 * begin or to commit. */
static dbk_job *
run_group(dbk_worker *w, dbk_store *st, dbk_job *group, int64_t *split_commits, bool *failed)
{
    int rc = dbk_store_tx_begin(st);
    int64_t splits = 0;
    dbk_job *undone = group; /* the first job a failed commit undoes */
    dbk_job *rest = NULL;
    size_t ran = 0;

    if (rc == DBK_OK) {
        int64_t version = 0;
        int vrc = dbk_store_data_version(st, &version);
        dbk_authcache_data_version(vrc, version);
    } else {
        dbk_authcache_invalidate();
    }
    for (dbk_job *j = group; j != NULL; j = j->next) {
        if (rc != DBK_OK) {
            j->status = rc;
            continue;
        }
        j->status = dbk_store_sp_begin(st);
        if (j->status != DBK_OK) {
            dbk_authcache_invalidate();
            continue;
        }
        uint64_t learnt = dbk_authcache_learnt();
        j->run(j, st);
        int64_t now = dbk_store_tx_splits(st);
        if (now != splits) {
            splits = now;
            undone = j;
        }
        if (j->status != DBK_OK) {
            dbk_store_sp_rollback(st);
            /* A refusal (4xx) undoes only the job's own writes; a store's failure
             * (5xx) may have undone more (SQLite rolls a whole transaction back on
             * some I/O errors), so it forgets everything as before. */
            if (dbk_authcache_learnt() != learnt || dbk_err_http_status(j->status) >= 500)
                dbk_authcache_invalidate();
        } else if ((j->status = dbk_store_sp_release(st)) != DBK_OK) {
            dbk_authcache_invalidate();
        }
        /* The sync thread idle: commit what ran, so its sync starts now and overlaps
         * the rest, which goes back to the queue's head (thread_main), not wait for
         * the whole group. */
        if (++ran >= GROUP_SPLIT_MIN && j->next != NULL && w->deferred &&
            !atomic_load_explicit(&w->syncing, memory_order_relaxed)) {
            rest = j->next;
            j->next = NULL;
            break;
        }
    }
    if (rc == DBK_OK && (rc = dbk_store_tx_commit(st)) != DBK_OK) {
        /* Nothing of this group is durable but what a split committed: every job from
         * the last split on reports the failure, those before it their own result. */
        DBK_LOG(DBK_LOG_ERROR, "commit_failed", DBK_STR("code", dbk_err_code(rc)),
                DBK_INT("splits", splits));
        dbk_store_tx_rollback(st);
        dbk_authcache_invalidate();
        for (dbk_job *j = undone; j != NULL; j = j->next)
            j->status = rc;
    }
    *split_commits = splits;
    *failed = rc != DBK_OK;
    return rest;
}

static void
thread_main(void *arg)
{
    struct worker_thread *t = arg;
    dbk_worker *w = t->w;

    name_thread("dbk-store");
    uv_mutex_lock(&w->lock);
    for (;;) {
        while (w->in_head == NULL && !w->stopping)
            uv_cond_wait(&w->cond, &w->lock);
        if (w->in_head == NULL && w->stopping)
            break;
        /* Take up to DBK_GROUP_COMMIT_MAX jobs as one group. */
        dbk_job *first = w->in_head, *last = first;
        size_t n = 1;
        while (last->next != NULL && n < DBK_GROUP_COMMIT_MAX) {
            last = last->next;
            n++;
        }
        w->in_head = last->next;
        if (w->in_head == NULL)
            w->in_tail = NULL;
        last->next = NULL;
        uv_mutex_unlock(&w->lock);

        int64_t split_commits = 0;
        bool failed = false;
        dbk_job *rest = run_group(w, t->st, first, &split_commits, &failed);

        uv_mutex_lock(&w->lock);
        if (rest != NULL) { /* ahead of what came since, in the order they came */
            last->next = w->in_head;
            w->in_head = rest;
            if (w->in_tail == NULL)
                w->in_tail = last;
            for (last = first, n = 1; last->next != NULL; last = last->next)
                n++;
        }
        /* A split committed too; a group whose commit failed did not. */
        w->commits += (failed ? 0u : 1u) + (uint64_t)split_commits;
        w->commit_failures += failed ? 1u : 0u;
        w->jobs += n;
        if (w->deferred) {
            append(&w->unsynced_head, &w->unsynced_tail, first, last);
            uv_cond_signal(&w->sync_cond);
            continue; /* the lock is held, as the loop wants */
        }
        hand_to_loop(w, first, last);
    }
    uv_mutex_unlock(&w->lock);
}

/* The sync thread (see the top): every group committed so far, one sync, then the
 * loop. Runs until the storage thread has stopped and nothing waits. */
static void
sync_main(void *arg)
{
    dbk_worker *w = arg;

    name_thread("dbk-sync");
    uv_mutex_lock(&w->lock);
    for (;;) {
        while (w->unsynced_head == NULL && !w->sync_stopping)
            uv_cond_wait(&w->sync_cond, &w->lock);
        if (w->unsynced_head == NULL)
            break;
        dbk_job *first = w->unsynced_head, *last = w->unsynced_tail;
        w->unsynced_head = w->unsynced_tail = NULL;
        atomic_store_explicit(&w->syncing, true, memory_order_relaxed);
        uv_mutex_unlock(&w->lock);

        /* Their commits returned before they were queued: this sync covers them. */
        if (dbk_store_sync(w->st) != DBK_OK) {
            DBK_LOG(DBK_LOG_ERROR, "stopping", DBK_STR("reason", "the log could not be synced"),
                    DBK_STR("effect", "nothing unsynced was acknowledged; restart recovers"));
            abort();
        }
        atomic_store_explicit(&w->syncing, false, memory_order_relaxed);

        uv_mutex_lock(&w->lock);
        hand_to_loop(w, first, last);
    }
    uv_mutex_unlock(&w->lock);
}

static void
on_async(uv_async_t *a)
{
    dbk_worker *w = a->data;
    dbk_job *j;

    size_t n = 0;

    uv_mutex_lock(&w->lock);
    j = w->out_head;
    w->out_head = w->out_tail = NULL;
    for (dbk_job *k = j; k != NULL; k = k->next)
        n++;
    w->pending -= n; /* one lock for the batch, not one per job */
    uv_mutex_unlock(&w->lock);
    while (j != NULL) {
        dbk_job *next = j->next;
        j->next = NULL;
        j->done(j); /* may free j */
        j = next;
    }
}

/* Jobs first..last (n of them, linked) to the storage thread's queue. */
static void
queue_jobs(dbk_worker *w, dbk_job *first, dbk_job *last, size_t n)
{
    for (dbk_job *j = first; j != NULL; j = j->next)
        j->status = 0;
    uv_mutex_lock(&w->lock);
    append(&w->in_head, &w->in_tail, first, last);
    w->pending += n;
    uv_cond_signal(&w->cond);
    uv_mutex_unlock(&w->lock);
}

/*
 * Prepared jobs go on together, as they did from a loop turn: a group then holds
 * several, not one at a time (fewer commits), yet none waits for more than
 * PREP_HAND_ON others, nor for anything once no prep is queued (a job may wait for
 * the preps being run when it was ready, at most one each). prep_lock is held on
 * entry and on return.
 */
static void
hand_on(dbk_worker *w)
{
    if (w->ready_head == NULL || (w->prep_head != NULL && w->nready < PREP_HAND_ON))
        return;
    dbk_job *first = w->ready_head, *last = w->ready_tail;
    size_t n = w->nready;
    w->ready_head = w->ready_tail = NULL;
    w->nready = 0;
    uv_mutex_unlock(&w->prep_lock);
    queue_jobs(w, first, last, n);
    uv_mutex_lock(&w->prep_lock);
    w->prep_jobs -= n; /* counted in pending now (a moment twice, never not at all) */
}

/* A prep thread: runs preps until told to stop and the queue is empty; a job whose
 * preps have all run is handed on to the storage thread (hand_on). */
static void
prep_main(void *arg)
{
    dbk_worker *w = arg;

    name_thread("dbk-prep");
    uv_mutex_lock(&w->prep_lock);
    for (;;) {
        while (w->prep_head == NULL && !w->prep_stopping) {
            w->prep_sleeping++;
            uv_cond_wait(&w->prep_cond, &w->prep_lock);
            w->prep_sleeping--;
            if (w->prep_woken > 0)
                w->prep_woken--;
        }
        if (w->prep_head == NULL)
            break;
        dbk_prep *p = w->prep_head;
        w->prep_head = p->next;
        if (w->prep_head == NULL)
            w->prep_tail = NULL;
        w->prep_queued--;
        hand_on(w); /* what is ready need not wait for this prep */
        uv_mutex_unlock(&w->prep_lock);

        dbk_job *job = p->job;
        p->run(p);

        uv_mutex_lock(&w->prep_lock);
        if (--job->prep_left == 0) { /* p may be gone once the job is handed on */
            job->next = NULL;
            append(&w->ready_head, &w->ready_tail, job, job);
            w->nready++;
        }
        hand_on(w);
    }
    uv_mutex_unlock(&w->prep_lock);
}

void
dbk_worker_submit_prepared(dbk_worker *w, dbk_job *job, dbk_prep *first)
{
    dbk_prep *last = first;
    size_t n = 0;

    /* No prep thread could start, or no prep: the storage thread does it all. A job
     * queued here with no prep would never be handed on. */
    if (w->nprep == 0 || first == NULL) {
        dbk_worker_submit(w, job);
        return;
    }
    for (dbk_prep *p = first; p != NULL; p = p->next) {
        p->job = job;
        last = p;
        n++;
    }
    uv_mutex_lock(&w->prep_lock);
    job->prep_left = n;
    w->prep_jobs++;
    if (w->prep_tail != NULL)
        w->prep_tail->next = first;
    else
        w->prep_head = first;
    w->prep_tail = last;
    w->prep_queued += n;
    /* Wake sleepers only for preps no woken thread will take. */
    while ((size_t)w->prep_woken < w->prep_queued && w->prep_woken < w->prep_sleeping) {
        w->prep_woken++;
        uv_cond_signal(&w->prep_cond);
    }
    uv_mutex_unlock(&w->prep_lock);
}

int
dbk_worker_start(dbk_worker **out, uv_loop_t *loop, dbk_store *st, int threads)
{
    dbk_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return DBK_E_NOMEM;
    w->loop = loop;
    w->st = st;
    /* Room for reads on a full disk; without it the server starts refusing new records
     * (logged), and still serves. */
    (void)dbk_store_reserve(st, DBK_STORE_RESERVE_BYTES);
    uv_mutex_init(&w->lock);
    uv_cond_init(&w->cond);
    uv_mutex_init(&w->prep_lock);
    uv_cond_init(&w->prep_cond);
    uv_async_init(loop, &w->async, on_async);
    w->async.data = w;
    if (threads < 1)
        threads = 1;
    if (threads > DBK_WORKER_THREADS_MAX)
        threads = DBK_WORKER_THREADS_MAX;
    for (int i = 0; i < threads; i++) {
        struct worker_thread *t = &w->threads[i];
        t->w = w;
        t->st = st;
        /* SQLite has no clones (one writer): it keeps one thread. */
        if (i > 0 && dbk_store_clone(st, &t->st) != DBK_OK)
            break;
        if (uv_thread_create(&t->thread, thread_main, t) != 0) {
            if (i > 0)
                dbk_store_close(t->st);
            break;
        }
        w->nthreads++;
    }
    if (w->nthreads == 0) {
        uv_close((uv_handle_t *)&w->async, NULL);
        return DBK_E_INTERNAL; /* the handle's memory is reclaimed at loop close */
    }
    /* One storage thread on a store that can defer its sync: syncs on a thread of
     * their own. Decided before any job is submitted; else commits sync themselves. */
    uv_cond_init(&w->sync_cond);
    atomic_init(&w->syncing, false);
    if (w->nthreads == 1 && dbk_store_defer_sync(st) == DBK_OK) {
        uv_mutex_lock(&w->lock);
        w->deferred = uv_thread_create(&w->sync_thread, sync_main, w) == 0;
        uv_mutex_unlock(&w->lock);
        if (!w->deferred) {
            DBK_LOG(DBK_LOG_ERROR, "sync_thread_failed");
            abort(); /* commits no longer sync: serving without the thread would lose data */
        }
    }
    /* One prep thread per core; if none starts, jobs go to the storage thread with
     * their preps not run (dbk_worker_submit_prepared). */
    unsigned int nprep = uv_available_parallelism();
    if (nprep > PREP_THREADS_MAX)
        nprep = PREP_THREADS_MAX;
    for (unsigned int i = 0; i < nprep; i++) {
        if (uv_thread_create(&w->prep_threads[w->nprep], prep_main, w) != 0)
            break;
        w->nprep++;
    }
    *out = w;
    return DBK_OK;
}

void
dbk_worker_submit(dbk_worker *w, dbk_job *job)
{
    job->next = NULL;
    queue_jobs(w, job, job, 1);
}

size_t
dbk_worker_pending(dbk_worker *w)
{
    size_t n;
    uv_mutex_lock(&w->prep_lock);
    n = w->prep_jobs;
    uv_mutex_unlock(&w->prep_lock);
    uv_mutex_lock(&w->lock);
    n += w->pending;
    uv_mutex_unlock(&w->lock);
    return n;
}

void
dbk_worker_counts(dbk_worker *w, uint64_t *commits, uint64_t *failures, uint64_t *jobs)
{
    uv_mutex_lock(&w->lock);
    *commits = w->commits;
    *failures = w->commit_failures;
    *jobs = w->jobs;
    uv_mutex_unlock(&w->lock);
}

static void
on_closed(uv_handle_t *h)
{
    dbk_worker *w = h->data;
    uv_mutex_destroy(&w->lock);
    uv_cond_destroy(&w->cond);
    uv_mutex_destroy(&w->prep_lock);
    uv_cond_destroy(&w->prep_cond);
    uv_cond_destroy(&w->sync_cond);
    free(w);
}

void
dbk_worker_stop(dbk_worker *w)
{
    /* The prep threads first: they finish their queue into the storage thread's. */
    uv_mutex_lock(&w->prep_lock);
    w->prep_stopping = true;
    uv_cond_broadcast(&w->prep_cond);
    uv_mutex_unlock(&w->prep_lock);
    for (int i = 0; i < w->nprep; i++)
        uv_thread_join(&w->prep_threads[i]);
    uv_mutex_lock(&w->lock);
    w->stopping = true;
    uv_cond_broadcast(&w->cond);
    uv_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++) {
        uv_thread_join(&w->threads[i].thread);
        if (i > 0)
            dbk_store_close(w->threads[i].st);
    }
    if (w->deferred) { /* after the storage thread: it syncs the last groups, then ends */
        uv_mutex_lock(&w->lock);
        w->sync_stopping = true;
        uv_cond_signal(&w->sync_cond);
        uv_mutex_unlock(&w->lock);
        uv_thread_join(&w->sync_thread);
    }
    on_async(&w->async); /* deliver what finished after the last wake-up */
    uv_close((uv_handle_t *)&w->async, on_closed);
}
