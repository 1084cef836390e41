/*
 * The load generator's parts (issue 8), shared by bench_load.c and its helpers:
 *
 *   bl_pool   a fixed number of keep-alive HTTP/1.1 connections to one port on
 *             127.0.0.1, driven by libuv, one request in flight per connection
 *             (no pipelining), so the pool size is the bound on requests in flight.
 *             Responses are parsed with llhttp, the parser daybookd itself uses.
 *             The pool counts every byte it writes and reads: bytes on the wire.
 *   bl_proc   the servers under test as child processes: spawned with
 *             PR_SET_PDEATHSIG so they die with the generator, stopped with a
 *             bounded wait, measured through /proc (CPU time, VmRSS, VmHWM).
 *
 * Nothing here knows a protocol; bench_load.c builds the requests.
 */
#ifndef DBK_BENCH_LOAD_H
#define DBK_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

/* ---- HTTP client pool ---- */

typedef struct bl_pool bl_pool;
typedef struct bl_req bl_req;

/*
 * Called on the loop thread when the whole response has arrived: status is its
 * HTTP status, body its body (valid only during the call). The request may be
 * submitted again from here.
 */
typedef void (*bl_done_cb)(bl_req *r, int status, const char *body, size_t len);

struct bl_req {
    const char *data; /* the whole request, head and body; the caller owns it and */
    size_t len;       /* keeps it alive until done has run */
    bl_done_cb done;
    void *arg;
    uint64_t latency_ns; /* first byte written to last byte read; set before done */
    /* the pool's */
    uint64_t started_ns;
    bl_req *next;
};

/* Opens nothing yet: connections are made when requests need them. NULL on failure. */
bl_pool *bl_pool_new(uv_loop_t *loop, int port, int nconns);
/* Queues r; it is written as soon as a connection is free. */
void bl_pool_submit(bl_pool *p, bl_req *r);
/* Requests queued or in flight. */
size_t bl_pool_busy(const bl_pool *p);
/* Bytes written and read so far, headers included. */
void bl_pool_bytes(const bl_pool *p, uint64_t *sent, uint64_t *received);
/* A transport failure (connection refused or cut mid-response, bad HTTP), or NULL. */
const char *bl_pool_error(const bl_pool *p);
/*
 * Runs the loop until nothing is queued or in flight, a failure, or timeout_ms.
 * Returns 0, or -1 (the reason is in bl_pool_error, or a timeout).
 */
int bl_pool_drain(bl_pool *p, uint64_t timeout_ms);
/* Closes every connection and frees the pool once they are closed (runs the loop). */
void bl_pool_free(bl_pool *p);

/* One request, waited for: status and a malloc'd body (NUL-terminated). -1 on failure. */
int bl_call(bl_pool *p, const char *data, size_t len, int *status, char **body);

/* ---- processes ---- */

/*
 * Starts argv[0] (a path) in cwd with stdin from /dev/null and stdout and stderr
 * appended to log_path. The child is killed if the generator dies. Returns the pid
 * or -1.
 */
pid_t bl_spawn(const char *const *argv, const char *cwd, const char *log_path);
/* SIGTERM, waits up to timeout_ms, then SIGKILL. Returns the exit status or -1. */
int bl_stop(pid_t pid, int timeout_ms);
/* Kills every child still running (atexit and on SIGINT/SIGTERM). */
void bl_kill_all(void);
/* Whether pid is still running (reaps it when it has exited). */
bool bl_alive(pid_t pid);
/* Runs argv to completion (up to timeout_s) and returns its stdout, malloc'd, or NULL. */
char *bl_run(const char *const *argv, int timeout_s);

/* utime + stime of pid, in milliseconds. -1 on failure. */
double bl_cpu_ms(pid_t pid);
/* One thread of a process, as /proc/PID/task/TID says: its name and CPU time. */
typedef struct bl_thread_cpu {
    int tid;
    char comm[16];
    double user_ms, sys_ms;
    long vcsw, nvcsw; /* context switches: voluntary (it waited), involuntary (preempted) */
    long long wchar;  /* bytes it wrote with write, pwrite, writev (send not counted) */
    /* /proc/PID/task/TID/schedstat: time on a CPU and time runnable but waiting for
     * one (ns), so the rest of the wall time is time asleep; -1 if unknown. */
    long long run_ns, runq_ns;
} bl_thread_cpu;
/* The threads of pid, at most max of them into out. Returns how many, or -1. */
int bl_threads_cpu(pid_t pid, bl_thread_cpu *out, int max);
/* VmRSS and VmHWM of pid, in KiB. -1 on failure. */
int bl_mem_kib(pid_t pid, long *rss, long *hwm);
/* Bytes a directory tree occupies on disk (allocated blocks, like du). -1 on failure. */
int64_t bl_du(const char *dir);
/* A port on 127.0.0.1 that was free a moment ago. */
int bl_free_port(void);

/* Monotonic clock. */
static inline uint64_t
bl_now_ns(void)
{
    return uv_hrtime();
}

#endif
