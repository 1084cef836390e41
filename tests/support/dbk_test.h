/*
 * Test support for integration tests: real processes, real sockets, real files.
 *
 *   dbk_tmpdir        a fresh directory under $TMPDIR, removed by dbk_rmtree
 *   dbk_server_start  runs the real daybookd on 127.0.0.1, port 0, and waits
 *                     until it listens (it writes its port to a file)
 *   dbk_server_stop   SIGTERM, then waits; returns the exit status
 *   dbk_run           runs a program to completion, capturing stdout and stderr
 *   dbk_http          one HTTP request with libcurl
 *   dbk_raw           raw bytes over TCP, for requests curl will not send
 *   dbk_proxy_*       a TCP proxy that cuts, stalls and half-closes connections
 *
 * Every wait is bounded so a hung server fails the test instead of hanging CI.
 */
#ifndef DBK_TEST_H
#define DBK_TEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * DAYBOOK_UNLOCK_SECONDS for the CLI a test runs: the kernel keyring's key cache on,
 * as every user has it (900 s unless set), so a test's commands pay Argon2id once a
 * profile, not once a command (it was two thirds of the suite's CPU). Kept two
 * minutes: what a test leaves in this uid's keyring goes by itself soon after. "0"
 * (the cache off, as before) when this uid's keyring quota is small (a user other than
 * root: kernel.keys.maxbytes, 20,000 bytes by default, some twenty accounts' keys), so
 * the tests that keep keys on purpose still find room. The tests of the passphrase
 * path itself (the cache off, --no-key-cache, a lock) set it as they need.
 */
const char *dbk_test_unlock_seconds(void);
#define DBK_TEST_UNLOCK_SECONDS dbk_test_unlock_seconds()

/* Returns a malloc'd path of a new empty directory, mode 0700. Aborts on failure. */
char *dbk_tmpdir(const char *tag);
/* rm -rf path (only under the temp directory). */
void dbk_rmtree(const char *path);
/* The path of a binary from the environment variable var (set by ctest). Aborts if unset. */
const char *dbk_bin(const char *var);

typedef struct dbk_server {
    pid_t pid;
    int port;
    char *dir;      /* temp dir: data/, port, stderr.log */
    char *data_dir;
    char base_url[64];
    char *store_url; /* PostgreSQL runs (dbk_test_pg): this server's own database */
    const char *const *env; /* NAME=value entries over the test's environment (the
                             * caller's, kept while the server may restart), or NULL */
} dbk_server;

/*
 * Starts daybookd serve with --data-dir DIR/data and extra arguments (NULL-terminated,
 * may be NULL). Returns 0 when it answers, -1 if it exited or did not listen in time.
 * When the suite runs on PostgreSQL (dbk_test_pg), the server gets a new database of
 * its own (--store), which its data dir remembers, so admin commands given
 * --data-dir reach it too.
 */
int dbk_server_start(dbk_server *s, const char *const *extra_args);
/* The same with env (NULL-terminated NAME=value entries, each replacing the test's
 * own of that name) in daybookd's environment, at this start and every restart. */
int dbk_server_start_env(dbk_server *s, const char *const *extra_args, const char *const *env);
/* Starts daybookd again on the same directory and port (after stop or kill). */
int dbk_server_restart(dbk_server *s, const char *const *extra_args);
/* Sends SIGTERM and waits up to 20 s. Returns the exit status, or -1 if it had to be killed. */
int dbk_server_stop(dbk_server *s);
/* SIGKILL, and reap. */
void dbk_server_kill(dbk_server *s);
/* Frees and removes the temp dir (and drops a PostgreSQL server's database). */
void dbk_server_cleanup(dbk_server *s);

/* ---- PostgreSQL (support/pg.c) ---- */

/* Whether this run's daybookd keep their data in PostgreSQL: DAYBOOK_TEST_STORE is
 * "postgresql" (integration.pg.*). Tests of the SQLite file itself skip then. */
bool dbk_test_pg(void);
/* A libpq URL of database db in the cluster of a pg_cluster.sh state file (NULL: the
 * suite's, $DAYBOOK_PG_CLUSTER). malloc'd. */
char *dbk_pg_url(const char *state, const char *db);
/* A new empty database in that cluster; its URL, malloc'd. */
char *dbk_pg_create_db(const char *state);
void dbk_pg_drop_db(const char *state, const char *url);
/* Runs sql on the cluster's postgres database; false if it failed (said on stderr). */
bool dbk_pg_exec(const char *state, const char *sql);
/* Runs sql on the database at url (a test editing a server's store behind its back,
 * as others edit daybook.db; SQLite's blob literals x'..' are accepted); the rows it
 * changed, or -1 (said on stderr). */
long dbk_pg_exec_db(const char *url, const char *sql);
/* The first row of a query on the database at url: column i, exactly len[i] bytes, into
 * out[i]. SQLite's blob literals x'..' are accepted in both. False if not so. */
bool dbk_pg_row(const char *url, const char *sql, unsigned char *const *out, const size_t *len,
                int ncols);
/* The integer in the first column of a query's first row (-1: no row or NULL); aborts
 * when the query fails. x'..' accepted as above. */
long long dbk_pg_int(const char *url, const char *sql);
/* The same on the store of server s, its SQLite file (read-only, waiting out a writer)
 * or its PostgreSQL database: sql in SQLite's dialect. */
long long dbk_server_int(const dbk_server *s, const char *sql);
/* Runs sql (SQLite's dialect) on the store of server s, stopped by the caller: its SQLite
 * file or its PostgreSQL database, as a test edits a server's store behind its back. The
 * rows it changed, or -1 (said on stderr). */
long dbk_server_exec(const dbk_server *s, const char *sql);
/* The server's stderr so far (malloc'd, NUL-terminated). */
char *dbk_server_log(const dbk_server *s);

typedef struct dbk_run_result {
    int status; /* exit code, or 128+signal */
    char *out;  /* malloc'd, NUL-terminated */
    char *err;
} dbk_run_result;

/*
 * A program on a pseudo-terminal (pty.c): each step waits until the output after the
 * previous step's text holds expect, then types send (may be NULL). The list ends
 * with a step whose expect is NULL.
 */
typedef struct dbk_pty_step {
    const char *expect;
    const char *send;
} dbk_pty_step;

typedef struct dbk_pty_result {
    int status;        /* exit code, or 128+signal; -1 if it did not end */
    char *out;         /* everything the terminal showed, malloc'd (CR LF line ends) */
    size_t steps_done; /* steps whose text was seen */
    bool timed_out;
} dbk_pty_result;

/* Runs argv (argv[0] a path) on a terminal with the test's environment. 0, or -1 when
 * the terminal could not be made. */
int dbk_pty_run(const char *const *argv, const dbk_pty_step *steps, int timeout_s,
                dbk_pty_result *r);
void dbk_pty_result_free(dbk_pty_result *r);

/* A monotonic clock in milliseconds, for deadlines. */
long long dbk_now_ms(void);
/* Debian's libfaketime (package libfaketime), to move a process's wall clock: its path
 * into out, or false (out "") when it is not installed (scripts/deps.sh --test). */
bool dbk_faketime_lib(char *out, size_t cap);
/* ASAN_OPTIONS as the test has it, with verify_asan_link_order=0 added, into out: a
 * preloaded library (libfaketime) comes before ASan's runtime, which ASan accepts so. */
void dbk_asan_options_preloaded(char *out, size_t cap);
/* Waits for pid up to timeout_ms; returns its exit code (128+signal when killed), or -1. */
int dbk_wait_pid(pid_t pid, int timeout_ms);

/* Runs argv (argv[0] is a path) with stdin from in (may be NULL), waiting up to timeout_s. */
int dbk_run(const char *const *argv, const char *in, int timeout_s, dbk_run_result *r);
void dbk_run_result_free(dbk_run_result *r);

/* The plaintext check (support/plaincheck.c): dbk_run notes each profile a successful
 * daybook run used; dbk_rmtree dumps those under path before removing it. */
void dbk_plaincheck_note(const char *const *argv, int status);
void dbk_plaincheck_before_rm(const char *path);
/* A test that damages a profile on purpose takes it out of the check. */
void dbk_plaincheck_forget(const char *home);

typedef struct dbk_http_resp {
    long status;
    char *body;        /* malloc'd, NUL-terminated */
    size_t body_len;
    char *headers;     /* raw header block, malloc'd */
} dbk_http_resp;

/* method, url; body may be NULL. headers is NULL or a NULL-terminated list of "Name: v". */
int dbk_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t body_len, dbk_http_resp *r);
void dbk_http_resp_free(dbk_http_resp *r);
/* Parses r->body as JSON or fails the test. */
json_t *dbk_http_json(const dbk_http_resp *r);

/*
 * Connects to 127.0.0.1:port, writes req[0..len), half-closes if shut_wr, and reads
 * until the peer closes or timeout_ms passes. Returns the malloc'd reply (may be "").
 */
char *dbk_raw(int port, const char *req, size_t len, bool shut_wr, int timeout_ms);
/* Connects and returns the socket, for tests that talk slowly. */
int dbk_raw_connect(int port);
/* Reads what arrives until close or timeout; malloc'd. */
char *dbk_raw_read_all(int fd, int timeout_ms);
/* One HTTP message from fd, pre (n bytes) already read: to the end of its headers and
 * then of its body (Content-Length), or until the peer closes. Malloc'd,
 * NUL-terminated; *len its bytes, *body where the body begins (0: no header end). */
char *dbk_raw_message(int fd, const char *pre, size_t n, size_t *len, size_t *body);

/*
 * One row of README's "Reliability" table: what was tried, how, and the result
 * (printf format), e.g. dbk_report("server killed mid-write", "kill -9 during a push
 * storm", "%d acknowledged records checked, losses: %d", n, lost). See report.c.
 */
void dbk_report(const char *what, const char *how, const char *result_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A TCP proxy on 127.0.0.1 (port 0) in front of a port of 127.0.0.1, run in a thread
 * of the test, for network faults (proxy.c). It passes bytes through until the test
 * arms a fault; the first connection that carries more than `after` bytes in the
 * fault's direction gets it (once), then traffic passes through again.
 */
typedef struct dbk_proxy dbk_proxy;

typedef enum dbk_proxy_dir {
    DBK_PROXY_UP,   /* client -> server: the request */
    DBK_PROXY_DOWN, /* server -> client: the response */
} dbk_proxy_dir;

typedef enum dbk_proxy_kind {
    DBK_PROXY_PASS,       /* nothing armed */
    DBK_PROXY_CUT,        /* `after` bytes go through, then both sides get an RST */
    DBK_PROXY_STALL,      /* `after` bytes go through, then nothing moves for hold_ms */
    DBK_PROXY_HALF_CLOSE, /* `after` bytes go through, then shutdown(SHUT_WR) toward the
                             receiving side; the other direction carries on */
} dbk_proxy_kind;

typedef struct dbk_proxy_fault {
    dbk_proxy_kind kind;
    dbk_proxy_dir dir;
    size_t after;
    int hold_ms; /* STALL only; at most 60000 */
} dbk_proxy_fault;

typedef struct dbk_proxy_stats {
    int connections; /* accepted since the start */
    int fired;       /* faults that fired since the start */
    int open;        /* connections open now */
    /* Bytes each way of the first connection accepted since the last dbk_proxy_arm. */
    size_t first_up, first_down;
    /* Since the last fault fired: ms until each side closed its end by itself (FIN or
     * RST seen by the proxy), or -1 while it has not. */
    long client_closed_ms, server_closed_ms;
} dbk_proxy_stats;

/* Starts the proxy toward 127.0.0.1:target_port. Fails the test if it cannot. */
dbk_proxy *dbk_proxy_start(int target_port);
int dbk_proxy_port(const dbk_proxy *p);
/* Arms f (one shot), or passes through when f is NULL or PASS. Resets first_up/down. */
void dbk_proxy_arm(dbk_proxy *p, const dbk_proxy_fault *f);
void dbk_proxy_stats_get(dbk_proxy *p, dbk_proxy_stats *out);
/* Keeps the first max bytes each way from now on (0: stops keeping them). */
void dbk_proxy_capture(dbk_proxy *p, size_t max);
/* A copy of what was kept of dir (UP: the requests; NUL-terminated, *len bytes; free
 * it), or NULL. */
char *dbk_proxy_captured(dbk_proxy *p, dbk_proxy_dir dir, size_t *len);
/* Waits up to timeout_ms until no connection is open; returns whether none is. */
bool dbk_proxy_wait_idle(dbk_proxy *p, int timeout_ms);
/* Resets every connection, ends the thread (within ~100 ms) and frees p. NULL is a no-op. */
void dbk_proxy_stop(dbk_proxy *p);

#endif
