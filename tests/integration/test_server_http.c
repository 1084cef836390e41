/*
 * daybookd over real sockets: /healthz (and the store behind it), errors from the error
 * table, keep-alive and pipelining, HTTP limits, and a clean drain on SIGTERM.
 */
#include "dbk_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

static int
start(void **state)
{
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, NULL), 0);
    *state = s;
    return 0;
}

/* Every test ends with a clean drain: exit 0, loop closed, and no leaks under ASan. */
static int
stop(void **state)
{
    dbk_server *s = *state;
    if (s->pid > 0) {
        kill(s->pid, SIGCONT); /* a test that failed while the server was stopped */
        assert_int_equal(dbk_server_stop(s), 0);
    }
    dbk_server_cleanup(s);
    free(s);
    return 0;
}

static void
get(dbk_server *s, const char *method, const char *path, dbk_http_resp *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", s->base_url, path);
    assert_int_equal(dbk_http(method, url, NULL, NULL, 0, r), 0);
}

/* Asserts r is the JSON error body for code with the given status. */
static void
assert_error(const dbk_http_resp *r, long status, const char *code)
{
    json_t *j = dbk_http_json(r);
    assert_int_equal(r->status, status);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        code);
    assert_non_null(json_string_value(json_object_get(json_object_get(j, "error"), "message")));
    json_decref(j);
}

static void
test_healthz(void **state)
{
    dbk_server *s = *state;
    dbk_http_resp r;
    json_t *j;

    get(s, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Type: application/json"));
    j = dbk_http_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(j, "protocol")), 1);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "server_id"))), 22);
    assert_int_equal(json_integer_value(json_object_get(j, "restore_generation")), 1);
    assert_non_null(json_string_value(json_object_get(j, "version")));
    json_decref(j);
    dbk_http_resp_free(&r);

    get(s, "HEAD", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    dbk_http_resp_free(&r);
}

/* The store behind /healthz (SQLite): daybook.db moved away under the running server
 * (the server would keep writing to a file the next start does not find) makes
 * /healthz answer 503 store_unavailable with Retry-After; put back, 200 again. The
 * PostgreSQL twin, with the database stopped, is in integration.pg_nodes. */
static void
test_healthz_checks_the_store(void **state)
{
    dbk_server *s = *state;
    dbk_http_resp r;
    char file[4200], moved[4300];

    if (dbk_test_pg())
        skip(); /* a file of the SQLite store */
    snprintf(file, sizeof file, "%s/daybook.db", s->data_dir);
    snprintf(moved, sizeof moved, "%s.moved", file);
    assert_int_equal(rename(file, moved), 0);
    get(s, "GET", "/healthz", &r);
    assert_error(&r, 503, "store_unavailable");
    assert_non_null(strstr(r.headers, "Retry-After:"));
    dbk_http_resp_free(&r);
    get(s, "GET", "/healthz", &r); /* still not, and the server is still up */
    assert_error(&r, 503, "store_unavailable");
    dbk_http_resp_free(&r);

    assert_int_equal(rename(moved, file), 0);
    get(s, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    dbk_http_resp_free(&r);
    char *log = dbk_server_log(s);
    assert_non_null(strstr(log, "event=store_unreachable"));
    assert_non_null(strstr(log, "event=store_reconnected"));
    free(log);
}

static void
test_unknown_path_and_method(void **state)
{
    dbk_server *s = *state;
    dbk_http_resp r;

    get(s, "GET", "/nope", &r);
    assert_error(&r, 404, "not_found");
    dbk_http_resp_free(&r);
    get(s, "GET", "/healthz/extra", &r);
    assert_error(&r, 404, "not_found");
    dbk_http_resp_free(&r);
    get(s, "DELETE", "/healthz", &r);
    assert_error(&r, 405, "method_not_allowed");
    dbk_http_resp_free(&r);
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void
test_keep_alive_and_pipelining(void **state)
{
    dbk_server *s = *state;
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *out = dbk_raw(s->port, req, sizeof req - 1, false, 5000);

    assert_non_null(out);
    assert_int_equal(count(out, "HTTP/1.1 200 OK"), 2);
    assert_int_equal(count(out, "HTTP/1.1 404 Not Found"), 1);
    /* Responses come in request order. */
    assert_true(strstr(out, "404") > strstr(out, "200"));
    assert_int_equal(count(out, "Connection: close"), 1);
    free(out);
}

/*
 * A request the storage thread answers (a sync whose made-up token the head gate
 * looks up: 401), its body and 600 requests pipelined behind it (21 KB, more
 * than the connection keeps aside while a request is handled), then a half-close,
 * all sent before the first answer. Every request is answered, in order, and the
 * connection closes only after the last answer: the bytes and the EOF read while
 * the first request was handled wait for it.
 */
#define NEXT_N 600

static void
test_pipelined_behind_the_worker_and_half_closed(void **state)
{
    dbk_server *s = *state;
    const char body[] = "{\"pull\":[]}";
    const char next[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t cap = 512 + NEXT_N * sizeof next, n;
    char *req = malloc(cap), *out;

    assert_non_null(req);
    n = (size_t)snprintf(req, cap,
                         "POST /v1/sync HTTP/1.1\r\nHost: x\r\n"
                         "Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         sizeof body - 1, body);
    for (int i = 0; i < NEXT_N; i++) {
        memcpy(req + n, next, sizeof next - 1);
        n += sizeof next - 1;
    }
    assert_true(NEXT_N * (sizeof next - 1) > 16 * 1024);
    out = dbk_raw(s->port, req, n, true, 10000);
    assert_non_null(out);
    assert_int_equal(strncmp(out, "HTTP/1.1 401", 12), 0);
    assert_non_null(strstr(out, "\"code\":\"unauthenticated\""));
    assert_int_equal(count(out, "HTTP/1.1 401"), 1);
    assert_int_equal(count(out, "HTTP/1.1 200 OK"), NEXT_N);
    free(out);
    free(req);
}

/*
 * One connection's pipelined requests that are answered at once do not hold up the
 * others. Connection A pipelines FAIR_N requests answered at once (404s, with a
 * /metrics every FAIR_EVERY-th, which tells the open connections); connection B asks
 * for one, and closes. The server polls the other connections between batches of A's
 * requests (DBK_HTTP_PIPELINE_PER_TURN of them), so B is read, answered and gone while
 * A still has most of its answers to get. (Before, every kept-aside request of A was
 * answered in one loop turn, and B waited for the last of them.)
 *
 * The order is the server's alone, never the test's scheduling: the server is stopped
 * (SIGSTOP) while all of A's requests arrive and B connects and sends, and continued
 * once the kernel has taken every byte. Its first poll then reads A (the first answer
 * goes out, the rest is kept aside) and accepts B, whose socket it can read only at
 * its next poll: after one batch of A's answers, or, without the bound, after all of
 * them. A's own answers tell which: its /metrics samples say 2 connections while B is
 * there, then 1 once B was answered and closed.
 */
#define FAIR_N 200
#define FAIR_EVERY 8
/* B must be gone before A's answer number FAIR_GONE_BY: with 8 a turn it is gone by
 * about the 18th (B read at the second poll, answered, closed a turn later). */
#define FAIR_GONE_BY 64

/* Waits (bounded) until the kernel has delivered all fd sent: nothing left unacked. */
static void
wait_sent(int fd)
{
    int left = -1;
    for (int i = 0; i < 10000 && left != 0; i++) {
        assert_int_equal(ioctl(fd, SIOCOUTQ, &left), 0);
        if (left != 0)
            usleep(1000);
    }
    assert_int_equal(left, 0);
}

/* Stops the server and waits (bounded) until every thread of it is stopped. */
static void
server_sigstop(dbk_server *s)
{
    int st = 0;
    pid_t r = 0;
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    for (int i = 0; i < 10000 && r == 0; i++)
        if ((r = waitpid(s->pid, &st, WUNTRACED | WNOHANG)) == 0)
            usleep(1000);
    assert_int_equal(r, s->pid);
    assert_true(WIFSTOPPED(st));
}

/* Reads a and b until both close (bounded); each reply malloc'd into out[]. Reading
 * both as they come keeps A's socket from filling, which would pause A by itself. */
static void
read_both(int a, int b, char *out[2])
{
    int fds[2] = {a, b};
    size_t len[2] = {0, 0};
    bool open[2] = {true, true};
    long long deadline = dbk_now_ms() + 30000;

    out[0] = calloc(1, 1);
    out[1] = calloc(1, 1);
    while ((open[0] || open[1]) && dbk_now_ms() < deadline) {
        struct pollfd p[2] = {{open[0] ? a : -1, POLLIN, 0}, {open[1] ? b : -1, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0)
            break;
        for (int i = 0; i < 2; i++) {
            char tmp[65536];
            ssize_t r;
            if (!open[i] || p[i].revents == 0)
                continue;
            if ((r = read(fds[i], tmp, sizeof tmp)) <= 0) {
                open[i] = false;
                continue;
            }
            out[i] = realloc(out[i], len[i] + (size_t)r + 1);
            assert_non_null(out[i]);
            memcpy(out[i] + len[i], tmp, (size_t)r);
            len[i] += (size_t)r;
            out[i][len[i]] = '\0';
        }
    }
    assert_false(open[0] || open[1]);
}

/* One whole answer from fd (bounded wait), by its Content-Length; malloc'd. */
static char *
read_answer(int fd)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap), *end;
    assert_non_null(buf);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strstr(buf, "Content-Length: ");
            assert_true(cl != NULL && cl < end);
            if (len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
                return buf;
        }
        assert_int_equal(poll(&p, 1, 10000), 1);
        r = read(fd, buf + len, cap - 1 - len);
        assert_true(r > 0);
        len += (size_t)r;
    }
}

/* The open connections a /metrics answer tells. */
static int
open_connections(const char *answer)
{
    const char *c = strstr(answer, "\ndaybook_connections ");
    assert_non_null(c);
    return atoi(c + 21);
}

static void
test_pipelined_answers_leave_room_for_others(void **state)
{
    dbk_server *s = *state;
    const char nope[] = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    const char metrics[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    const char last[] = "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const char b_req[] = "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t cap = FAIR_N * sizeof last, n = 0;
    char *req = malloc(cap), *out[2], *warm;
    int a, b, answer = 0, b_there = 0, b_gone = 0;

    assert_non_null(req);
    for (int i = 0; i < FAIR_N; i++) {
        const char *r = i == FAIR_N - 1 ? last : i % FAIR_EVERY == 3 ? metrics : nope;
        memcpy(req + n, r, strlen(r));
        n += strlen(r);
    }
    /* Read whole by the server's first read, before it answers any. */
    assert_true(n <= 16 * 1024);

    /* A is accepted and idle before the server stops: the metrics answer proves it. */
    a = dbk_raw_connect(s->port);
    assert_true(a >= 0);
    assert_int_equal(write(a, metrics, sizeof metrics - 1), (ssize_t)(sizeof metrics - 1));
    warm = read_answer(a);
    assert_int_equal(open_connections(warm), 1);
    free(warm);

    server_sigstop(s);
    assert_int_equal(write(a, req, n), (ssize_t)n);
    b = dbk_raw_connect(s->port); /* queued for accept: the stopped server cannot take it */
    assert_true(b >= 0);
    assert_int_equal(write(b, b_req, sizeof b_req - 1), (ssize_t)(sizeof b_req - 1));
    wait_sent(a);
    wait_sent(b);
    assert_int_equal(kill(s->pid, SIGCONT), 0);

    read_both(a, b, out);
    close(a);
    close(b);
    assert_int_equal(strncmp(out[1], "HTTP/1.1 404", 12), 0);
    assert_int_equal(count(out[1], "HTTP/1.1 "), 1);
    /* Every one of A's requests is answered, in order, and the last closes. */
    assert_int_equal(count(out[0], "HTTP/1.1 404"), FAIR_N - FAIR_N / FAIR_EVERY);
    assert_int_equal(count(out[0], "HTTP/1.1 200 OK"), FAIR_N / FAIR_EVERY);
    assert_int_equal(count(out[0], "Connection: close"), 1);
    /* A's answers, in order: which of its samples saw B, and from which on B was gone. */
    for (const char *p = out[0]; (p = strstr(p, "HTTP/1.1 ")) != NULL; p += 9) {
        answer++;
        if (strncmp(p + 9, "200", 3) == 0) {
            int open_now = open_connections(p);
            assert_true(open_now == 1 || open_now == 2);
            if (open_now == 2 && b_there == 0)
                b_there = answer;
            if (open_now == 1 && b_there != 0 && b_gone == 0)
                b_gone = answer;
        }
    }
    assert_int_equal(answer, FAIR_N);
    if (b_there == 0)
        fail_msg("no answer of A saw B connected");
    if (b_gone == 0)
        fail_msg("B was answered only after all %d of A's pipelined answers", FAIR_N);
    if (b_gone > FAIR_GONE_BY)
        fail_msg("B was gone only by A's answer %d of %d (bound %d)", b_gone, FAIR_N, FAIR_GONE_BY);
    free(out[0]);
    free(out[1]);
    free(req);
}

/* Sends raw bytes and checks the status line and error code of the reply. */
static void
expect_raw(dbk_server *s, const char *req, size_t len, const char *status_line, const char *code)
{
    char *out = dbk_raw(s->port, req, len, false, 5000);
    char needle[64];
    assert_non_null(out);
    if (strncmp(out, status_line, strlen(status_line)) != 0)
        fail_msg("expected '%s', got '%.80s'", status_line, out);
    snprintf(needle, sizeof needle, "\"code\":\"%s\"", code);
    assert_non_null(strstr(out, needle));
    assert_non_null(strstr(out, "Connection: close"));
    free(out);
}

/* The bytes the server's end of connection fd has received and not yet read, from
 * /proc/net/tcp (IPv4, loopback); -1 while the kernel lists no such socket. */
static long
server_unread(const dbk_server *s, int fd)
{
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    char line[512];
    long unread = -1;
    FILE *f;

    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    assert_non_null(f = fopen("/proc/net/tcp", "r"));
    while (unread < 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned int lport, rport;
        unsigned long rx;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %*x:%lx", &lport, &rport, &rx) == 3 &&
            (int)lport == s->port && rport == ntohs(me.sin_port))
            unread = (long)rx;
    }
    fclose(f);
    return unread;
}

/* Waits (bounded) until the server has read everything sent on fd so far: so that what
 * is sent next comes in another read, however late the server is scheduled. */
static void
wait_server_read(const dbk_server *s, int fd)
{
    long unread = -1;
    wait_sent(fd);
    for (int i = 0; i < 10000 && (unread = server_unread(s, fd)) != 0; i++)
        usleep(1000);
    assert_int_equal(unread, 0);
}

static void
test_malformed_and_oversized_requests(void **state)
{
    dbk_server *s = *state;
    char *big;
    size_t n;

    expect_raw(s, "HELLO\r\n\r\n", 9, "HTTP/1.1 400", "bad_http");
    expect_raw(s, "GET / HTTP/9.9\r\n\r\n", 18, "HTTP/1.1 400", "bad_http");
    expect_raw(s, "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 33, "HTTP/1.1 400", "bad_http");

    /* A target over 2 KiB. */
    big = malloc(8192);
    n = (size_t)sprintf(big, "GET /");
    memset(big + n, 'a', 4000);
    n += 4000;
    n += (size_t)sprintf(big + n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_raw(s, big, n, "HTTP/1.1 414", "uri_too_long");

    /* Headers over 16 KiB in all. */
    free(big);
    big = malloc(40000);
    n = (size_t)sprintf(big, "GET /healthz HTTP/1.1\r\n");
    for (int i = 0; i < 20; i++) {
        n += (size_t)sprintf(big + n, "X-Pad: ");
        memset(big + n, 'b', 1000);
        n += 1000;
        n += (size_t)sprintf(big + n, "\r\n");
    }
    n += (size_t)sprintf(big + n, "\r\n");
    expect_raw(s, big, n, "HTTP/1.1 431", "headers_too_large");

    /* Headers that fill the buffer exactly to its last byte, then another header:
     * the check must not wrap around (a heap overflow once). */
    for (size_t fill = 16370; fill <= 16390; fill++) {
        n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nA: ");
        memset(big + n, 'v', fill);
        n += fill;
        n += (size_t)sprintf(big + n, "\r\nBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB: x\r\n\r\n");
        expect_raw(s, big, n, "HTTP/1.1 431", "headers_too_large");
    }

    /* Too many header lines. */
    n = (size_t)sprintf(big, "GET /healthz HTTP/1.1\r\n");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(big + n, "X-H%d: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    expect_raw(s, big, n, "HTTP/1.1 431", "headers_too_large");
    free(big);

    /* A declared body over the cap is refused before it is read. */
    const char huge[] = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
    expect_raw(s, huge, sizeof huge - 1, "HTTP/1.1 413", "payload_too_large");

    /* A request cut off half-way, then the client goes away: nothing to answer. */
    char *out = dbk_raw(s->port, "GET /hea", 8, true, 2000);
    assert_string_equal(out, "");
    free(out);

    /* After all that, the server still serves. */
    dbk_http_resp r;
    get(s, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    dbk_http_resp_free(&r);
}

/*
 * RFC 9112 section 5.2: a header line that starts with a blank (obs-fold) is refused
 * with 400, not joined to the header before it. Section 7.1.2: trailer fields of a
 * chunked body are dropped, never merged into the headers, so a Content-Type (or an
 * Authorization) sent after the body is not seen as one.
 */
static void
test_obs_fold_refused_and_trailers_dropped(void **state)
{
    dbk_server *s = *state;
    const char fold[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n";
    const char fold_tab[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fold:\r\n\tb\r\n\r\n";
    const char fold_host[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n  y\r\n\r\n";
    const char trailer_ct[] = "POST /v1/login/start HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "2\r\n{}\r\n0\r\nContent-Type: application/json\r\n\r\n";
    char *big, *out;
    size_t n;

    expect_raw(s, fold, sizeof fold - 1, "HTTP/1.1 400", "bad_http");
    expect_raw(s, fold_tab, sizeof fold_tab - 1, "HTTP/1.1 400", "bad_http");
    expect_raw(s, fold_host, sizeof fold_host - 1, "HTTP/1.1 400", "bad_http");
    /* Blanks inside a value are not a fold. */
    {
        const char blanks[] = "GET /healthz HTTP/1.1\r\nX-A:  a  b\r\nConnection: close\r\n\r\n";
        out = dbk_raw(s->port, blanks, sizeof blanks - 1, false, 5000);
    }
    assert_non_null(out);
    assert_int_equal(strncmp(out, "HTTP/1.1 200", 12), 0);
    free(out);

    /* The fold split over two reads: the server sees the line break in one read and
     * the blank in the next. */
    int fd = dbk_raw_connect(s->port);
    assert_true(fd >= 0);
    const char part1[] = "GET /healthz HTTP/1.1\r\nX-Fold: a\r\n";
    assert_int_equal(write(fd, part1, sizeof part1 - 1), (ssize_t)(sizeof part1 - 1));
    wait_server_read(s, fd);
    assert_int_equal(write(fd, " b\r\n\r\n", 6), 6);
    out = dbk_raw_read_all(fd, 5000);
    close(fd);
    assert_non_null(out);
    if (strncmp(out, "HTTP/1.1 400", 12) != 0)
        fail_msg("fold split over reads: got '%.40s'", out);
    free(out);

    /* Content-Type only in the trailer: the body is not JSON as far as the server
     * knows (415), where a merged trailer would have made it a login request. */
    expect_raw(s, trailer_ct, sizeof trailer_ct - 1, "HTTP/1.1 415", "unsupported_media_type");

    /* Trailers are dropped but bounded: 20 KiB of them is headers_too_large. */
    big = malloc(40000);
    n = (size_t)sprintf(big, "POST /v1/login/start HTTP/1.1\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n");
    for (int i = 0; i < 20; i++) {
        n += (size_t)sprintf(big + n, "X-T%d: ", i);
        memset(big + n, 't', 1000);
        n += 1000;
        n += (size_t)sprintf(big + n, "\r\n");
    }
    n += (size_t)sprintf(big + n, "\r\n");
    expect_raw(s, big, n, "HTTP/1.1 431", "headers_too_large");
    free(big);
}

static void
test_files_are_private(void **state)
{
    dbk_server *s = *state;
    struct stat st;
    char path[4096];

    assert_int_equal(stat(s->data_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* The store's file, or on PostgreSQL the URL the data dir remembers. */
    snprintf(path, sizeof path, "%s/%s", s->data_dir, dbk_test_pg() ? "store.url" : "daybook.db");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
}

static void
test_sigterm_drains_and_exits_zero(void **state)
{
    dbk_server *s = *state;
    char *log;

    assert_int_equal(dbk_server_stop(s), 0);
    log = dbk_server_log(s);
    assert_non_null(strstr(log, "event=listening"));
    assert_non_null(strstr(log, "event=draining"));
    assert_non_null(strstr(log, "event=stopped"));
    assert_null(strstr(log, "loop_not_closed"));
    free(log);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz, start, stop),
        cmocka_unit_test_setup_teardown(test_healthz_checks_the_store, start, stop),
        cmocka_unit_test_setup_teardown(test_unknown_path_and_method, start, stop),
        cmocka_unit_test_setup_teardown(test_keep_alive_and_pipelining, start, stop),
        cmocka_unit_test_setup_teardown(test_pipelined_answers_leave_room_for_others, start, stop),
        cmocka_unit_test_setup_teardown(test_pipelined_behind_the_worker_and_half_closed, start,
                                        stop),
        cmocka_unit_test_setup_teardown(test_malformed_and_oversized_requests, start, stop),
        cmocka_unit_test_setup_teardown(test_obs_fold_refused_and_trailers_dropped, start, stop),
        cmocka_unit_test_setup_teardown(test_files_are_private, start, stop),
        cmocka_unit_test_setup_teardown(test_sigterm_drains_and_exits_zero, start, stop),
    };
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
