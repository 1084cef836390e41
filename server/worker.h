/*
 * The storage worker: the one thread that touches the store, so the event loop
 * never waits on disk.
 *
 * Requests become jobs. The worker takes every job that is waiting (up to
 * DBK_GROUP_COMMIT_MAX), runs them in ONE transaction, each inside its own
 * savepoint so a job that fails rolls back alone, and commits once: that is the
 * group commit, one fsync for many requests. Only after the commit is on disk does
 * the loop learn the results (job->done), so a response that says "stored" is
 * only ever sent for data that is on disk. If the commit itself fails (disk full,
 * I/O error, a lost connection), every job of the group is failed with the commit's
 * error, but those a store committed already within the group (PostgreSQL, before a
 * job waits for a lock: dbk_store_tx_splits), which keep their own results; the job
 * that was running then fails with the rest. With SQLite the sync is a thread of its
 * own (worker.c): the storage thread commits and goes on with the next group, and
 * one sync covers every group committed before it.
 *
 * A store that allows several connections (PostgreSQL) gets several such threads,
 * each with its own handle (dbk_store_clone): the pool. They take groups from the
 * same queue; each group is still one transaction. SQLite has one thread.
 */
#ifndef DBK_SERVER_WORKER_H
#define DBK_SERVER_WORKER_H

#include "store.h"

#include <uv.h>

#define DBK_GROUP_COMMIT_MAX 256

typedef struct dbk_worker dbk_worker;
typedef struct dbk_job dbk_job;

struct dbk_job {
    /* Runs on the worker thread inside a savepoint. Sets job->status: 0, or a
     * negative dbk error, which rolls back what run did. */
    void (*run)(dbk_job *job, dbk_store *st);
    /* Runs on the loop thread after the group's commit (or its failure). */
    void (*done)(dbk_job *job);
    int status;
    dbk_job *next; /* the worker's queues */
    size_t prep_left; /* dbk_worker_submit_prepared: its preps not yet run */
};

/*
 * Work done for a job before the storage thread takes it (a push's signatures,
 * api_records.c), on the worker's prep threads, one per core: in parallel with the
 * storage thread and with each other. The job is queued for the storage thread
 * from the prep threads, with the other jobs prepared meanwhile (up to 8, or
 * every one once no prep is queued): the loop is not woken between the two
 * stages (it was, when this ran on libuv's thread pool: an eventfd write, a loop
 * turn and the pool's mutex per request).
 */
typedef struct dbk_prep dbk_prep;
struct dbk_prep {
    void (*run)(dbk_prep *p); /* on a prep thread; touches only what is its own */
    dbk_job *job;             /* set by dbk_worker_submit_prepared */
    dbk_prep *next;           /* the caller's list of a job's preps, then the worker's queue */
};

#define DBK_WORKER_THREADS_MAX 32

/* Starts the worker thread on st, with st's reserve for a full disk (store.h), and
 * up to threads - 1 more on clones of st when the store has them (PostgreSQL's
 * pool; SQLite runs one). done callbacks run on loop. */
int dbk_worker_start(dbk_worker **out, uv_loop_t *loop, dbk_store *st, int threads);

/* Queues job; its done callback runs later on the loop. Never blocks on disk. */
void dbk_worker_submit(dbk_worker *w, dbk_job *job);

/* Runs the preps first, first->next, ... on the prep threads, then queues job as
 * dbk_worker_submit does. Called from the loop; never blocks on disk. When no prep
 * thread could start, the job is queued with its preps not run: a prep must only
 * save the storage thread work it would otherwise do (api_records.c's verify). */
void dbk_worker_submit_prepared(dbk_worker *w, dbk_job *job, dbk_prep *first);

/* Jobs at their preps, queued or running: a gauge for /metrics, nothing more. The
 * stop does not read it: daybookd drains first, and the drain ends only once every
 * request has been answered (http.c frees no connection whose handler has not
 * responded), so a push still at its preps holds it; then dbk_worker_stop finishes
 * what is left, preps first (the uses noted for the store, api.c). */
size_t dbk_worker_pending(dbk_worker *w);
/* Transactions committed (a group's own commit and the store's splits inside one),
 * groups whose own commit (or begin) failed, and jobs run so far, for /metrics. */
void dbk_worker_counts(dbk_worker *w, uint64_t *commits, uint64_t *failures, uint64_t *jobs);

/*
 * Finishes every queued prep and job, stops the threads and closes the loop handle;
 * call from the loop thread once no more jobs will be submitted. The worker is
 * freed when its handle has closed (during the next loop iteration).
 */
void dbk_worker_stop(dbk_worker *w);

#endif
