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
 * I/O error), every job of the group is failed with the commit's error. With SQLite
 * the sync is a thread of its own (worker.c): the storage thread commits and goes
 * on with the next group, and one sync covers every group committed before it.
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
};

#define DBK_WORKER_THREADS_MAX 32

/* Starts the worker thread on st, with st's reserve for a full disk (store.h), and
 * up to threads - 1 more on clones of st when the store has them (PostgreSQL's
 * pool; SQLite runs one). done callbacks run on loop. */
int dbk_worker_start(dbk_worker **out, uv_loop_t *loop, dbk_store *st, int threads);

/* Queues job; its done callback runs later on the loop. Never blocks on disk. */
void dbk_worker_submit(dbk_worker *w, dbk_job *job);

/* Jobs queued or running, for /metrics. */
size_t dbk_worker_pending(dbk_worker *w);
/* Transactions committed and jobs run so far, for /metrics. */
void dbk_worker_counts(dbk_worker *w, uint64_t *commits, uint64_t *jobs);

/*
 * Finishes every queued job, stops the thread and closes the loop handle;
 * call from the loop thread once no more jobs will be submitted. The worker is
 * freed when its handle has closed (during the next loop iteration).
 */
void dbk_worker_stop(dbk_worker *w);

#endif
