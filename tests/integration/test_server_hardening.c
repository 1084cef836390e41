/*
 * daybookd under a hostile client, over real sockets (issue 14, server hardening):
 * bodies are not read before their head is accepted (token, route limit, quota);
 * quotas count everything an account makes the server keep, against that account.
 * Every server here runs with a 1 MiB quota per account.
 */
#include "tc.h"

#include "dbk/init.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int
start(void **state)
{
    static const char *const args[] = {"--quota-mb", "1", NULL};
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, args), 0);
    *state = s;
    return 0;
}

static int
stop(void **state)
{
    dbk_server *s = *state;
    if (s->pid > 0)
        assert_int_equal(dbk_server_stop(s), 0); /* clean drain, no leaks under ASan */
    dbk_server_cleanup(s);
    free(s);
    return 0;
}

/* The server's resident memory in KiB, from /proc. */
static long
rss_kib(const dbk_server *s)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    assert_true(kib > 0);
    return kib;
}

static void
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w, n -= (size_t)w;
    }
}

/*
 * Writes up to want bytes of body to each of fds, as fast as each connection takes
 * them, and stops when every one has taken all, failed, or taken nothing for a
 * while (its reader stopped reading). Returns the bytes written in all.
 */
static size_t
send_bodies(const int *fds, size_t n, size_t want)
{
    static char chunk[64 * 1024];
    size_t *sent = calloc(n, sizeof *sent), total = 0;
    bool *done = calloc(n, sizeof *done);
    struct pollfd *p = calloc(n, sizeof *p);

    memset(chunk, 'x', sizeof chunk);
    for (;;) {
        size_t live = 0;
        for (size_t i = 0; i < n; i++) {
            p[i].fd = done[i] ? -1 : fds[i];
            p[i].events = POLLOUT;
            live += !done[i];
        }
        if (live == 0 || poll(p, (nfds_t)n, 500) <= 0)
            break; /* all done, or no connection took a byte for half a second */
        for (size_t i = 0; i < n; i++) {
            if (done[i] || !(p[i].revents & (POLLOUT | POLLERR | POLLHUP)))
                continue;
            size_t k = want - sent[i] < sizeof chunk ? want - sent[i] : sizeof chunk;
            ssize_t w = send(fds[i], chunk, k, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                done[i] = true; /* closed or reset by the server */
            if (w > 0) {
                sent[i] += (size_t)w;
                total += (size_t)w;
            }
            if (sent[i] == want)
                done[i] = true;
        }
    }
    free(sent);
    free(done);
    free(p);
    return total;
}

/*
 * 40 connections with a made-up token each declare an 8 MB push and send 4 MiB of
 * it. Every one is answered 401 on its head and closed, and the server's memory
 * does not grow by what they sent (it grew by about 300 MB before the gate).
 */
#define FLOOD_CONNS 40
#define FLOOD_BODY (4u * 1024 * 1024)

static void
test_unauthenticated_bodies_are_not_read(void **state)
{
    dbk_server *s = *state;
    char head[512];
    int fds[FLOOD_CONNS];
    long before, after;
    size_t sent;
    int n = snprintf(head, sizeof head,
                     "POST /v1/streams/AAAAAAAAAAAAAAAAAAAAAA/records HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer %043d\r\nContent-Type: application/json\r\n"
                     "Content-Length: 8000000\r\n\r\n",
                     7);

    before = rss_kib(s);
    for (int i = 0; i < FLOOD_CONNS; i++) {
        assert_true((fds[i] = dbk_raw_connect(s->port)) >= 0);
        send_all(fds[i], head, (size_t)n);
    }
    sent = send_bodies(fds, FLOOD_CONNS, FLOOD_BODY);
    after = rss_kib(s);
    if (after - before > 32 * 1024)
        fail_msg("the server grew by %ld KiB for %zu KiB of unauthenticated bodies",
                 after - before, sent / 1024);
    for (int i = 0; i < FLOOD_CONNS; i++) {
        char *out = dbk_raw_read_all(fds[i], 10000);
        close(fds[i]);
        if (strncmp(out, "HTTP/1.1 401", 12) != 0 || strstr(out, "Connection: close") == NULL ||
            strstr(out, "\"code\":\"unauthenticated\"") == NULL)
            fail_msg("connection %d: expected 401 and close, got '%.60s'", i, out);
        free(out);
    }
    dbk_report("unauthenticated bodies", "40 connections, bad token, 8 MB declared, 4 MiB sent each",
               "%d answered 401 on the head and closed; %zu KiB sent, server grew %ld KiB",
               FLOOD_CONNS, sent / 1024, after - before);
}

/* Reads one response from fd: its status line, up to the end of its body. */
static void
expect_on(int fd, const char *status_line, const char *code)
{
    /* One response only: the caller sends nothing after the request it answers. */
    char buf[4096];
    size_t len = 0;
    const char *cl, *end;

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        assert_true(poll(&p, 1, 10000) == 1);
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        assert_true(r > 0);
        len += (size_t)r;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL && (cl = strstr(buf, "Content-Length: ")) &&
            (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10) <= len)
            break;
    }
    if (strncmp(buf, status_line, strlen(status_line)) != 0)
        fail_msg("expected '%s', got '%.60s'", status_line, buf);
    if (code != NULL) {
        char needle[64];
        snprintf(needle, sizeof needle, "\"code\":\"%s\"", code);
        assert_non_null(strstr(buf, needle));
    }
}

/*
 * The declared length is checked against the route's limit before the body comes:
 * a login body of 1 MB and a push larger than the account's remaining quota are
 * refused on their heads. A small body with a bad token is read and dropped, so the
 * connection serves the next request.
 */
static void
test_declared_length_checked_before_body(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char head[512];
    int fd, n;
    char *out;

    /* No token route: 1 MB declared is over its limit. */
    n = snprintf(head, sizeof head, "POST /v1/login/start HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n");
    out = dbk_raw(s->port, head, (size_t)n, false, 10000);
    if (strncmp(out, "HTTP/1.1 413", 12) != 0)
        fail_msg("1 MB login body: got '%.60s'", out);
    free(out);

    /* A small body with a bad token: 401, body dropped, connection kept. */
    fd = dbk_raw_connect(s->port);
    assert_true(fd >= 0);
    n = snprintf(head, sizeof head,
                 "POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %043d\r\n"
                 "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"streams\":1}"
                 "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 9);
    send_all(fd, head, (size_t)n);
    out = dbk_raw_read_all(fd, 10000);
    close(fd);
    if (strncmp(out, "HTTP/1.1 401", 12) != 0 || strstr(out, "\"code\":\"unauthenticated\"") == NULL ||
        strstr(out, "HTTP/1.1 200 OK") == NULL)
        fail_msg("a small body with a bad token, then a GET: got '%.60s'", out);
    free(out);

    /* An account with a 1 MiB quota declares a 4 MB push: refused on its head. */
    tc_new_counselor(s, &co, "Quota Counselor");
    tc_new_client(s, &cl, &co);
    fd = dbk_raw_connect(s->port);
    assert_true(fd >= 0);
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: 4000000\r\n\r\n",
                 tc_path("/v1/streams/%s/records", &cl.shared), cl.token);
    send_all(fd, head, (size_t)n);
    expect_on(fd, "HTTP/1.1 507", "quota_exceeded");
    close(fd);

    /* Within the quota the same account pushes as before. */
    dbk_id rec;
    long st;
    dbk_id_random(&rec);
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                             tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &rec,
                                         "{\"v\":1}"));
    json_decref(tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/records", &cl.shared), body, &st));
    json_decref(body);
    assert_int_equal(st, 200);
    tc_account_free(&cl);
    tc_account_free(&co);
}

static int64_t
used_bytes(dbk_server *s, tc_account *a)
{
    long st;
    json_t *r = tc_req(s, a, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    int64_t n = json_integer_value(json_object_get(r, "used_bytes"));
    json_decref(r);
    return n;
}

/* Pushes one record of about size bytes by author into owner's shared stream. */
static long
push_sized(dbk_server *s, tc_account *author, tc_account *owner, size_t size)
{
    char *text = malloc(size + 32);
    dbk_id rec;
    long st;
    int n = sprintf(text, "{\"v\":1,\"pad\":\"");
    memset(text + n, 'p', size);
    strcpy(text + n + size, "\"}");
    dbk_id_random(&rec);
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                             tc_envelope(author, &owner->shared, 1, owner->shared_key[1], &rec,
                                         text));
    json_t *r = tc_req(s, author, "POST", tc_path("/v1/streams/%s/records", &owner->shared), body,
                       &st);
    if (st != 200 && strcmp(tc_code(r), "quota_exceeded") != 0)
        fail_msg("push: %ld %s", st, tc_code(r));
    json_decref(r);
    json_decref(body);
    free(text);
    return st;
}

/*
 * A push counts its envelope and its audit row against the pusher, exactly; a sync that
 * pushes an entry and pulls it back counts the same and the read's audit row.
 */
static void
test_quota_counts_push_and_audit_rows_exactly(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    long st;
    dbk_id rec;

    tc_new_counselor(s, &co, "Count Counselor");
    tc_new_client(s, &cl, &co);
    int64_t used0 = used_bytes(s, &cl);
    dbk_id_random(&rec);
    json_t *env = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &rec, "{\"v\":1}");
    int64_t len = (int64_t)strlen(json_string_value(env)) * 3 / 4; /* unpadded base64url */
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope", env);
    json_t *r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/records", &cl.shared), body, &st);
    assert_int_equal(st, 200);
    int64_t seq = json_integer_value(json_object_get(r, "high_seq"));
    json_decref(r);
    json_decref(body);
    int64_t used1 = used_bytes(s, &cl);
    if (used1 - used0 != len + 256)
        fail_msg("a push of a %lld-byte envelope counted %lld bytes, not %lld", (long long)len,
                 (long long)(used1 - used0), (long long)(len + 256));

    dbk_id_random(&rec);
    env = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &rec, "{\"v\":2}");
    len = (int64_t)strlen(json_string_value(env)) * 3 / 4;
    body = json_pack("{s:[{s:o, s:[{s:o}]}], s:[{s:o, s:I}]}", "push", "stream", tc_id(&cl.shared),
                     "records", "envelope", env, "pull", "stream", tc_id(&cl.shared), "since",
                     (json_int_t)seq);
    r = tc_req(s, &cl, "POST", "/v1/sync", body, &st);
    assert_int_equal(st, 200);
    json_t *pulled = json_object_get(json_array_get(json_object_get(r, "pull"), 0), "records");
    assert_int_equal(json_array_size(pulled), 1);
    json_decref(r);
    json_decref(body);
    int64_t used2 = used_bytes(s, &cl);
    if (used2 - used1 != len + 2 * 256)
        fail_msg("a sync pushing a %lld-byte envelope and pulling it counted %lld bytes, not %lld",
                 (long long)len, (long long)(used2 - used1), (long long)(len + 2 * 256));
    tc_account_free(&cl);
    tc_account_free(&co);
}

/*
 * Grants and audit rows count against the quota of the account that stores them, and
 * a grantee's writes into a client's stream count against the grantee: a counselor
 * that fills its own quota is refused, and the client still writes.
 */
static void
test_quota_counts_grants_and_grantee_writes(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, cl2;
    long st = 0;
    int rounds, pushes;

    tc_new_counselor(s, &co, "Quota Counselor");
    tc_new_client(s, &cl, &co);
    tc_new_client(s, &cl2, &co);
    /* The self-grant, the grant to the counselor and its audit row are counted. */
    assert_true(used_bytes(s, &cl) > 2 * 100 + 256); /* 256: an audit row (store.h) */

    /* Re-sealed grants (new bytes each time) until the quota says no. */
    int64_t used0 = used_bytes(s, &cl2), first = 0;
    for (rounds = 0; rounds < 200; rounds++) {
        json_t *grants = json_array();
        for (int i = 0; i < 64; i++) {
            json_t *g = tc_grant_json(&cl2, &cl2.shared, 1, cl2.shared_key[1], &co.id,
                                      co.keys->box_pk);
            first += (int64_t)strlen(json_string_value(g)) * 3 / 4 + 256; /* grant, audit row */
            json_array_append_new(grants, g);
        }
        json_t *body = json_pack("{s:o}", "grants", grants);
        json_t *r = tc_req(s, &cl2, "POST", tc_path("/v1/streams/%s/grants", &cl2.shared), body,
                           &st);
        json_decref(body);
        if (rounds == 0 && used_bytes(s, &cl2) - used0 < first - 64 * 2)
            fail_msg("64 grants of %lld bytes with their audit rows counted as %lld",
                     (long long)first, (long long)(used_bytes(s, &cl2) - used0));
        if (st != 200) {
            assert_int_equal(st, 507);
            assert_string_equal(tc_code(r), "quota_exceeded");
            json_decref(r);
            break;
        }
        json_decref(r);
    }
    if (st != 507)
        fail_msg("200 rounds of 64 grants were all stored outside a 1 MiB quota");
    assert_true(used_bytes(s, &cl2) <= 1024 * 1024);

    /* The counselor writes 200 KB notes into the client's stream until its own quota
     * is used up: the client's quota is untouched and the client still writes. */
    int64_t before = used_bytes(s, &cl);
    for (pushes = 0; pushes < 10; pushes++)
        if ((st = push_sized(s, &co, &cl, 200 * 1000)) != 200)
            break;
    assert_int_equal(st, 507);
    assert_true(pushes >= 3);
    assert_true(used_bytes(s, &co) > 3 * 200 * 1000);
    int64_t grown = used_bytes(s, &cl) - before;
    if (grown >= 4096)
        fail_msg("the counselor's notes were counted against the client: %lld bytes",
                 (long long)grown);
    assert_int_equal(push_sized(s, &cl, &cl, 1000), 200);
    dbk_report("quota", "a client re-granting 64 grants a request; a counselor writing 200 KB notes "
               "into a client's stream, 1 MiB quota",
               "grants refused with 507 after %d requests; the counselor refused after %d notes; "
               "the client's quota charged for the notes: %lld bytes",
               rounds, pushes, (long long)grown);
    tc_account_free(&cl2);
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* One POST of body to path over a connection from src (a loopback address: Linux
 * routes all of 127/8 to lo, so a test can play another source); returns the status. */
static int
post_from(const dbk_server *s, const char *src, const char *path, const char *body)
{
    char req[1024], buf[4096];
    size_t len = 0;
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    assert_true(fd >= 0);
    assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
    to.sin_port = htons((uint16_t)s->port);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof from), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     path, strlen(body), body);
    send_all(fd, req, (size_t)n);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        assert_true(poll(&p, 1, 10000) == 1);
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0 || (len += (size_t)r) == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &status), 1);
    close(fd);
    return status;
}

/*
 * Nobody can lock an account out of logging in by knowing its id (proto/README.md
 * R12): another source that spends the account's login attempts, and more, is
 * limited itself, and the account's owner, from its own address, still logs in.
 */
static void
test_others_failures_never_block_a_login(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    int refused = 0, tries = 40;

    tc_new_counselor(s, &co, "Login Limit Counselor");
    tc_new_client(s, &cl, &co);
    json_t *b = json_pack("{s:o, s:o}", "account", tc_id(&cl.id), "device", tc_id(&co.device));
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    for (int i = 0; i < tries; i++) {
        int st = post_from(s, "127.0.0.2", "/v1/login/start", body);
        assert_true(st == 200 || st == 429);
        refused += st == 429;
    }
    free(body);
    long own = tc_login(s, &cl, cl.passphrase, NULL);
    dbk_report("login limit per source",
               "another address sends 40 login starts for a client's account id; then the "
               "client logs in from its own address",
               "the other address refused: %d of %d; the client's own login: %ld (blocked: %d)",
               refused, tries, own, own == 200 ? 0 : 1);
    assert_true(refused > 0); /* the other source is limited */
    assert_int_equal(own, 200);
    tc_account_free(&co);
    tc_account_free(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unauthenticated_bodies_are_not_read, start, stop),
        cmocka_unit_test_setup_teardown(test_declared_length_checked_before_body, start, stop),
        cmocka_unit_test_setup_teardown(test_quota_counts_grants_and_grantee_writes, start, stop),
        cmocka_unit_test_setup_teardown(test_quota_counts_push_and_audit_rows_exactly, start, stop),
        cmocka_unit_test_setup_teardown(test_others_failures_never_block_a_login, start, stop),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
