/*
 * An enrollment whose answer is lost (proto/README.md 4.3, "A lost answer"): the
 * server commits POST /v1/enroll (account, streams, self-grants, device; the code used
 * up) and the device never reads the answer. The real daybook CLI talks to a real
 * daybookd through a small HTTP relay in this test that forwards each request and,
 * when armed, drops the connection to the CLI (RST) after reading the enrollment's
 * whole answer, so the server has committed; or holds that answer while the test
 * kills the CLI with SIGKILL; or drops the request before it reaches the server; or
 * answers GET /v1/accounts/{counselor}/keys with another counselor's keys, as a lying
 * server would.
 *
 *   lost answer      the same 'daybook enroll' again finishes: a working token (sync
 *                    works), one account, one device, one token on the server, one
 *                    POST /v1/enroll in all, the consent granted to the counselor once
 *   killed           the same after SIGKILL between the request and its answer
 *   lying keys       during that recovery the server gives keys that do not match the
 *                    link's fingerprint (another counselor's, then this one's listed
 *                    as another account's): refused, nothing shared; a later retry
 *                    with honest keys shares once
 *   on a terminal    one passphrase prompt, then the consent agreed to
 *   new code         after a lost answer, a new code: 409 for the account id, the same
 *                    recovery, the new code left unused
 *   other counselor  the new code is another counselor's: that counselor checked and
 *                    offered the consent, the first one given nothing, the user told
 *   counselor setup  the same setup link again signs the counselor in
 *   not this device  a code someone else used (never sent by this device, or sent but
 *                    never arrived) still fails with "already used or has expired",
 *                    and the profile stays unenrolled
 *
 * And a lying server (the relay's rules rewrite or make up answers), each counting
 * what leaked (the profile's server, token and counselor; grants of its streams): 0.
 *
 *   never sent       410 or 409 for a code this device never sent: no login at all;
 *                    sent but never arrived: the unknown account's offer, no proof
 *   KDF offer        weak parameters, or another salt, at the login: no proof sent
 *   login answer     another role, or another account's token: refused, then an
 *                    honest recovery finishes once
 *   on disk          neither code nor passphrase stored; the sent record goes
 *   restored server  the account restored away: used or expired, nothing shared, a
 *                    new code enrolls (SQLite only)
 *
 * Each of the first eight tests but the eighth fails without the recovery
 * (client/commands/cmd_enroll.c: the 410 of a retry told as a used code, as before);
 * the eighth passes either way, as it must. The terminal test also fails when the
 * recovery asks the passphrase twice. Each lying-server test fails when the defence it
 * names is removed (its comment says which).
 */
#define _GNU_SOURCE /* memmem */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/fingerprint.h"
#include "dbk/init.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- the relay ---- */

/* A rule for the requests that start with req (e.g. "POST /v1/login/start "): each
 * is counted, and with fn set, answered as fn makes it, from the server's answer
 * (forward) or from nothing (status 0, *body NULL), as a lying server would. */
typedef void relay_rewrite(void *arg, long *status, json_t **body);

struct relay_rule {
    char req[64];
    bool forward;
    relay_rewrite *fn;
    void *arg;
    int hits;
};

#define RELAY_RULES 6

enum relay_mode {
    RELAY_PASS,
    RELAY_LOSE, /* the enrollment's answer read from the server, then the CLI reset */
    RELAY_HOLD, /* the answer read, then nothing until released; then reset */
    RELAY_DROP, /* the enrollment's request never forwarded; the CLI reset */
};

struct relay {
    int lfd, port, target;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum relay_mode mode; /* one shot: back to PASS once it acted */
    bool held, release;
    int enrolls;        /* POST /v1/enroll requests that reached the server */
    int lost;           /* their answers the CLI did not get */
    char keys_req[128]; /* "GET /v1/accounts/<id>/keys " answered with keys_body */
    char *keys_body;
    struct relay_rule rules[RELAY_RULES];
    int nrules;
    int live; /* connection threads running */
    volatile bool stop;
};

static bool
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* One HTTP/1.1 message (head and a Content-Length body) from fd into *out (malloc'd,
 * NUL-terminated). False at the end of the connection. */
static bool
read_msg(int fd, char **out, size_t *len)
{
    size_t cap = 4096, n = 0, need = 0;
    char *b = malloc(cap);

    for (;;) {
        if (need == 0 && n > 0) {
            b[n] = '\0';
            char *end = strstr(b, "\r\n\r\n");
            if (end != NULL) {
                size_t head = (size_t)(end - b) + 4, cl = 0;
                for (char *h = b; (h = strchr(h, '\n')) != NULL && h < end;)
                    if (strncasecmp(++h, "content-length:", 15) == 0)
                        cl = strtoul(h + 15, NULL, 10);
                need = head + cl;
            }
        }
        if (need > 0 && n >= need)
            break;
        if (n + 4096 + 1 > cap)
            b = realloc(b, cap *= 2);
        ssize_t r = recv(fd, b + n, cap - n - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(b);
            return false;
        }
        n += (size_t)r;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return true;
}

static void
reset(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static bool
write_json(int fd, long status, const char *body)
{
    char head[160];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %ld X\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      status, strlen(body));
    return write_all(fd, head, (size_t)hn) && write_all(fd, body, strlen(body));
}

/* The answer of rule ru, from the server's (resp, or NULL when not forwarded), to fd. */
static bool
write_rewritten(int fd, const struct relay_rule *ru, const char *resp)
{
    long status = 0;
    json_t *body = NULL;

    if (resp != NULL) {
        const char *b = strstr(resp, "\r\n\r\n");
        status = strtol(resp + 9, NULL, 10); /* "HTTP/1.1 200 ..." */
        body = b ? json_loads(b + 4, 0, NULL) : NULL;
    }
    ru->fn(ru->arg, &status, &body);
    char *text = body ? json_dumps(body, JSON_COMPACT) : strdup("");
    bool ok = write_json(fd, status, text);
    free(text);
    json_decref(body);
    return ok;
}

struct conn {
    struct relay *r;
    int fd;
};

static void *
conn_main(void *arg)
{
    struct conn *c = arg;
    struct relay *r = c->r;
    int cfd = c->fd, sfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target)};
    char *req = NULL, *resp = NULL;
    size_t reqlen, resplen;

    free(c);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(sfd, (struct sockaddr *)&a, sizeof a) != 0)
        shutdown(cfd, SHUT_RDWR); /* read_msg ends at once */
    while (read_msg(cfd, &req, &reqlen)) {
        bool enroll = strncmp(req, "POST /v1/enroll ", 16) == 0;
        enum relay_mode m = RELAY_PASS;
        char *sub = NULL;
        struct relay_rule ru = {.fn = NULL};

        pthread_mutex_lock(&r->mu);
        for (int i = 0; i < r->nrules; i++)
            if (strncmp(req, r->rules[i].req, strlen(r->rules[i].req)) == 0) {
                r->rules[i].hits++;
                ru = r->rules[i];
                break;
            }
        if (ru.fn != NULL && !ru.forward) { /* the server never sees it */
            pthread_mutex_unlock(&r->mu);
            bool ok = write_rewritten(cfd, &ru, NULL);
            free(req);
            req = NULL;
            if (!ok)
                break;
            continue;
        }
        if (enroll) {
            m = r->mode;
            r->mode = RELAY_PASS;
            if (m != RELAY_DROP)
                r->enrolls++;
        }
        if (r->keys_body != NULL && strncmp(req, r->keys_req, strlen(r->keys_req)) == 0)
            sub = strdup(r->keys_body);
        pthread_mutex_unlock(&r->mu);

        if (m == RELAY_DROP || !write_all(sfd, req, reqlen) || !read_msg(sfd, &resp, &resplen)) {
            free(sub);
            break;
        }
        if (m == RELAY_LOSE || m == RELAY_HOLD) {
            /* The server answered, so it committed: the CLI never hears of it. */
            pthread_mutex_lock(&r->mu);
            r->lost++;
            r->held = true;
            pthread_cond_broadcast(&r->cv);
            while (m == RELAY_HOLD && !r->release)
                pthread_cond_wait(&r->cv, &r->mu);
            pthread_mutex_unlock(&r->mu);
            free(resp);
            break;
        }
        if (sub != NULL || ru.fn != NULL) {
            bool ok = sub != NULL ? write_json(cfd, 200, sub) : write_rewritten(cfd, &ru, resp);
            free(sub);
            free(resp);
            free(req);
            req = NULL;
            if (!ok)
                break;
            continue;
        }
        bool ok = write_all(cfd, resp, resplen);
        free(resp);
        free(req);
        req = NULL;
        if (!ok)
            break;
    }
    free(req);
    reset(cfd);
    close(sfd);
    pthread_mutex_lock(&r->mu);
    r->live--;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void *
relay_main(void *arg)
{
    struct relay *r = arg;
    while (!r->stop) {
        struct pollfd p = {.fd = r->lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct conn *c = malloc(sizeof *c);
        pthread_t t;
        c->r = r;
        c->fd = fd;
        pthread_mutex_lock(&r->mu);
        r->live++;
        pthread_mutex_unlock(&r->mu);
        if (pthread_create(&t, NULL, conn_main, c) == 0)
            pthread_detach(t);
        else {
            close(fd);
            free(c);
            pthread_mutex_lock(&r->mu);
            r->live--;
            pthread_mutex_unlock(&r->mu);
        }
    }
    return NULL;
}

static void
relay_start(struct relay *r, int target)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;

    memset(r, 0, sizeof *r);
    r->target = target;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->lfd >= 0);
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 16), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&a, &al), 0);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->th, NULL, relay_main, r), 0);
}

static void
relay_arm(struct relay *r, enum relay_mode m)
{
    pthread_mutex_lock(&r->mu);
    r->mode = m;
    r->held = r->release = false;
    pthread_mutex_unlock(&r->mu);
}

/* Waits up to timeout_ms for a held answer; whether there is one. */
static bool
relay_wait_held(struct relay *r, int timeout_ms)
{
    long long end = dbk_now_ms() + timeout_ms;
    bool held;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        held = r->held;
        pthread_mutex_unlock(&r->mu);
        if (held || dbk_now_ms() > end)
            return held;
        usleep(20000);
    }
}

static void
relay_release(struct relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->release = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void
relay_keys(struct relay *r, const dbk_id *account, const char *body)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(account, t);
    pthread_mutex_lock(&r->mu);
    free(r->keys_body);
    r->keys_body = body ? strdup(body) : NULL;
    snprintf(r->keys_req, sizeof r->keys_req, "GET /v1/accounts/%s/keys ", t);
    pthread_mutex_unlock(&r->mu);
}

/* A rule (struct relay_rule) for requests starting with req; its index, for
 * relay_hits. fn NULL: only counted. */
static int
relay_on(struct relay *r, const char *req, bool forward, relay_rewrite *fn, void *arg)
{
    pthread_mutex_lock(&r->mu);
    assert_true(r->nrules < RELAY_RULES);
    int i = r->nrules++;
    snprintf(r->rules[i].req, sizeof r->rules[i].req, "%s", req);
    r->rules[i].forward = forward;
    r->rules[i].fn = fn;
    r->rules[i].arg = arg;
    r->rules[i].hits = 0;
    pthread_mutex_unlock(&r->mu);
    return i;
}

static int
relay_hits(struct relay *r, int rule)
{
    pthread_mutex_lock(&r->mu);
    int n = r->rules[rule].hits;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Rules from the first one at index from on are dropped: those requests pass again. */
static void
relay_rules_off(struct relay *r, int from)
{
    pthread_mutex_lock(&r->mu);
    r->nrules = from;
    pthread_mutex_unlock(&r->mu);
}

static int
relay_count(struct relay *r, const int *what)
{
    pthread_mutex_lock(&r->mu);
    int n = *what;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Stops accepting and waits for the connection threads, which end when the CLI's
 * side closes (every CLI run has ended by then). False if some still run after 10 s:
 * the caller must then not free r. */
static bool
relay_stop(struct relay *r)
{
    long long end = dbk_now_ms() + 10000;
    int live;

    relay_release(r);
    r->stop = true;
    pthread_join(r->th, NULL);
    close(r->lfd);
    do {
        pthread_mutex_lock(&r->mu);
        live = r->live;
        pthread_mutex_unlock(&r->mu);
        if (live > 0)
            usleep(20000);
    } while (live > 0 && dbk_now_ms() < end);
    if (live == 0)
        free(r->keys_body);
    return live == 0;
}

/* ---- fixture ---- */

struct fx {
    dbk_server srv, via; /* via: the same server as the CLI sees it, through the relay */
    struct relay relay;
    char *home;
    tc_account co;
    dbk_id me;
    char *uri;
};

/* 'daybook init' in $DAYBOOK_HOME; *me the new account's id. */
static void
init_profile(dbk_id *me)
{
    json_t *j = tc_json_of(tc_cli("--json", "init", NULL), "init");
    const char *a = json_string_value(json_object_get(j, "account"));
    assert_non_null(a);
    assert_int_equal(dbk_id_from_text(me, a, strlen(a)), 0);
    json_decref(j);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    relay_start(&f->relay, f->srv.port);
    f->via = f->srv; /* shares dir and data_dir: never cleaned up itself */
    f->via.port = f->relay.port;
    snprintf(f->via.base_url, sizeof f->via.base_url, "http://127.0.0.1:%d", f->via.port);
    f->home = dbk_tmpdir("enrolllost");
    setenv("DAYBOOK_HOME", f->home, 1);
    tc_passphrase_file(f->home, "a long client passphrase");
    unsetenv("DAYBOOK_NET_TIMEOUT_SECONDS");

    tc_new_counselor(&f->srv, &f->co, "Counselor L");
    init_profile(&f->me);
    /* The link names the relay's port: every request of the CLI goes through it. */
    f->uri = tc_invite_uri(&f->via, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    bool drained = relay_stop(&f->relay);
    dbk_server_cleanup(&f->srv);
    dbk_rmtree(f->home);
    free(f->home);
    free(f->uri);
    tc_account_free(&f->co);
    if (drained)
        free(f); /* else a relay thread may still read it: leaked, not freed under it */
    return 0;
}

static void
hex_of(const dbk_id *id, char hex[2 * DBK_ID_BYTES + 1])
{
    for (int i = 0; i < DBK_ID_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", id->b[i]);
}

/* A count on the server's store (its SQLite file, or its PostgreSQL database) with
 * ids spliced in as blob literals: in sql, each "%s" gets a's hex, then b's (b may be
 * NULL when sql has one). */
static long long
count_of(struct fx *f, const char *sql, const dbk_id *a, const dbk_id *b)
{
    char hex[2][2 * DBK_ID_BYTES + 1], out[512];
    size_t n = 0, k = 0;

    hex_of(a, hex[0]);
    if (b != NULL)
        hex_of(b, hex[1]);
    for (const char *p = sql; *p != '\0' && n + 2 * DBK_ID_BYTES + 1 < sizeof out; p++) {
        if (p[0] == '%' && p[1] == 's' && k < (b != NULL ? 2u : 1u)) {
            memcpy(out + n, hex[k++], 2 * DBK_ID_BYTES);
            n += 2 * DBK_ID_BYTES;
            p++;
        } else
            out[n++] = *p;
    }
    out[n] = '\0';
    return dbk_server_int(&f->srv, out);
}

/* Grants of the client's streams to accounts other than itself. */
#define SHARED_SQL                                                                                 \
    "SELECT count(*) FROM grants WHERE grantee <> x'%s' AND stream IN "                            \
    "(SELECT id FROM streams WHERE owner = x'%s')"

/* The first enrollment with its answer lost: it fails, the server holds the account. */
static void
lose_first_answer(struct fx *f)
{
    relay_arm(&f->relay, RELAY_LOSE);
    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    if (r.status == 0)
        fail_msg("enroll with its answer lost succeeded: %s", r.out);
    assert_non_null(strstr(r.err, "run the same 'daybook enroll' again"));
    dbk_run_result_free(&r);
    assert_int_equal(relay_count(&f->relay, &f->relay.lost), 1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     1);
    /* The profile knows an enrollment was sent: sync says how to finish it. */
    r = tc_cli("sync", NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "with the same code"));
    dbk_run_result_free(&r);
    /* The recovery below opens the keys with the passphrase, as on a device whose
     * cache ran out or was restarted: the enroll above left them cached. */
    tc_ok(tc_cli("lock", NULL), "lock");
}

/* What a user and the clinic would check once the device is enrolled: a sync works,
 * the server holds one of each for the account, one enrollment request in all, and
 * the counselor holds the shared stream's key by one grant, with the consent. */
static void
check_enrolled_once(struct fx *f, int enroll_requests)
{
    unsigned char key[32], pk[32];
    char *consent = NULL;
    dbk_id stream;
    long st;

    tc_ok(tc_cli("journal", "-m", "after the lost answer", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync after recovery");
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     1);
    assert_int_equal(
        count_of(f, "SELECT count(*) FROM devices WHERE account = x'%s'", &f->me, NULL), 1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM tokens WHERE account = x'%s'", &f->me, NULL),
                     1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM streams WHERE owner = x'%s'", &f->me, NULL),
                     2);
    assert_int_equal(relay_count(&f->relay, &f->relay.enrolls), enroll_requests);
    assert_int_equal(count_of(f, SHARED_SQL, &f->me, &f->me), 1);
    assert_true(tc_counselor_stream(&f->srv, &f->co, &f->me, &stream, key, pk, &consent));
    assert_non_null(consent);
    assert_non_null(strstr(consent, "right_to_revoke"));
    free(consent);
    /* The counselor's caseload lists the client once, with the grant active. */
    json_t *cl = tc_req(&f->srv, &f->co, "GET", "/v1/caseload", NULL, &st);
    assert_int_equal(st, 200);
    json_t *items = json_object_get(cl, "clients"), *it;
    size_t i, seen = 0;
    char me[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(&f->me, me);
    json_array_foreach(items, i, it)
    {
        const char *acct = json_string_value(json_object_get(it, "account"));
        const char *gs = json_string_value(json_object_get(it, "grant_state"));
        if (acct != NULL && strcmp(acct, me) == 0 && gs != NULL && strcmp(gs, "active") == 0)
            seen++;
    }
    json_decref(cl);
    assert_int_equal(seen, 1);
}

static void
test_lost_answer_recovers(void **state)
{
    struct fx *f = *state;
    lose_first_answer(f);
    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll again after the lost answer: exit %d: %s%s", r.status, r.out, r.err);
    assert_non_null(strstr(r.out, "matches the code"));
    assert_non_null(strstr(r.out, "Safety number"));
    dbk_run_result_free(&r);
    check_enrolled_once(f, 1);
    dbk_report("enrollment answer lost",
               "relay resets the CLI after daybookd answered POST /v1/enroll; same enroll again",
               "recovered by login: 1 account, 1 device, 1 token, 1 enroll request, consent "
               "granted once");
}

static void
test_killed_before_answer_recovers(void **state)
{
    struct fx *f = *state;
    const char *daybook = getenv("DAYBOOK");
    int st;

    assert_non_null(daybook);
    relay_arm(&f->relay, RELAY_HOLD);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execl(daybook, daybook, "enroll", f->uri, "--yes", (char *)NULL);
        _exit(127);
    }
    /* The server answered (committed); the CLI waits for the answer and is killed. */
    assert_true(relay_wait_held(&f->relay, 60000));
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    relay_release(&f->relay);
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     1);

    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll again after SIGKILL: exit %d: %s%s", r.status, r.out, r.err);
    dbk_run_result_free(&r);
    check_enrolled_once(f, 1);
}

/* The server lists keys (of keys, under the account id listed) for the link's
 * counselor during a recovery: refused as not the code's, nothing shared. */
static void
keys_refused(struct fx *f, const dbk_id *listed, const dbk_account_keys *keys)
{
    char cid[DBK_ID_TEXT_LEN + 1], s[DBK_B64_ENCODED_LEN(32) + 1], b[DBK_B64_ENCODED_LEN(32) + 1];
    char body[512];

    dbk_id_to_text(listed, cid);
    dbk_b64_encode(s, sizeof s, keys->sign_pk, 32);
    dbk_b64_encode(b, sizeof b, keys->box_pk, 32);
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"role\":\"counselor\",\"name\":\"Counselor L\","
             "\"ed25519_pk\":\"%s\",\"x25519_pk\":\"%s\"}",
             cid, s, b);
    relay_keys(&f->relay, &f->co.id, body);
    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "does not match"));
    dbk_run_result_free(&r);
    /* Nothing shared: no grant of the client's streams to anyone but itself. */
    assert_int_equal(count_of(f, SHARED_SQL, &f->me, &f->me), 0);
    {
        unsigned char key[32], pk[32];
        dbk_id stream;
        assert_false(tc_counselor_stream(&f->srv, &f->co, &f->me, &stream, key, pk, NULL));
    }
}

static void
test_lying_keys_during_recovery(void **state)
{
    struct fx *f = *state;
    tc_account other;

    tc_new_counselor(&f->srv, &other, "Counselor M");
    lose_first_answer(f);
    /* The server lists another counselor's keys under this counselor's id; then this
     * counselor's own keys, but as another account's (a second recovery, refused
     * again: the code's fingerprint names this counselor's id too). */
    keys_refused(f, &f->co.id, other.keys);
    keys_refused(f, &other.id, f->co.keys);

    /* Honest keys again: the same code finishes, once. */
    relay_keys(&f->relay, &f->co.id, NULL);
    {
        /* --json says what a first enrollment says: the role and the safety number. */
        json_t *j = tc_json_of(tc_cli("--json", "enroll", f->uri, "--yes", NULL),
                               "enroll with honest keys");
        assert_string_equal(json_string_value(json_object_get(j, "role")), "client");
        assert_int_equal(strlen(json_string_value(json_object_get(j, "safety_number"))),
                         DBK_SAFETY_NUMBER_LEN);
        json_decref(j);
    }
    check_enrolled_once(f, 1);
    tc_account_free(&other);
}

/* The recovery on a terminal: one passphrase prompt (the login key, and the keys it
 * unlocks), then the consent shown and agreed to, as on a first enrollment. */
static void
test_recovery_on_a_terminal(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {getenv("DAYBOOK"), "enroll", f->uri, NULL};
    const dbk_pty_step steps[] = {
        {"Daybook passphrase:", "a long client passphrase\n"},
        {"Type yes to agree:", "yes\n"},
        {NULL, NULL},
    };
    char keep[4200];
    dbk_pty_result r;

    assert_non_null(argv[0]);
    lose_first_answer(f);
    snprintf(keep, sizeof keep, "%s", getenv("DAYBOOK_PASSPHRASE_FILE"));
    unsetenv("DAYBOOK_PASSPHRASE_FILE");
    assert_int_equal(dbk_pty_run(argv, steps, 60, &r), 0);
    setenv("DAYBOOK_PASSPHRASE_FILE", keep, 1);
    if (r.steps_done != 2 || r.status != 0)
        fail_msg("terminal: %zu of 2 steps, exit %d:\n%s", r.steps_done, r.status, r.out);
    const char *first = strstr(r.out, "Daybook passphrase:");
    assert_non_null(first);
    assert_null(strstr(first + 1, "Daybook passphrase:"));
    assert_non_null(strstr(r.out, "Safety number"));
    dbk_pty_result_free(&r);
    check_enrolled_once(f, 1);
}

/* After a lost answer the counselor gives a new code: the server refuses this account
 * id (409) without using the new code, and the device recovers the same way. */
static void
test_new_code_after_lost_answer(void **state)
{
    struct fx *f = *state;
    long st;

    lose_first_answer(f);
    char *uri2 = tc_invite_uri(&f->via, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    dbk_run_result r = tc_cli("enroll", uri2, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll with a new code after the lost answer: exit %d: %s%s", r.status, r.out,
                 r.err);
    dbk_run_result_free(&r);
    free(uri2);
    check_enrolled_once(f, 2); /* the second refused with 409, creating nothing */
    json_t *inv = tc_req(&f->srv, &f->co, "GET", "/v1/invites", NULL, &st);
    assert_int_equal(st, 200);
    json_t *it;
    size_t i, pending = 0;
    json_array_foreach(json_object_get(inv, "invites"), i, it)
    {
        const char *state_ = json_string_value(json_object_get(it, "state"));
        if (state_ != NULL && strcmp(state_, "pending") == 0)
            pending++;
    }
    json_decref(inv);
    assert_int_equal(pending, 1); /* the new code was not used up */
}

/* A counselor's setup whose answer is lost: the same setup link again signs in. */
static void
test_counselor_setup_recovers(void **state)
{
    struct fx *f = *state;
    char home[4200], link[512];
    dbk_id me;

    snprintf(home, sizeof home, "%s/counselor", f->home);
    setenv("DAYBOOK_HOME", home, 1);
    init_profile(&me);
    snprintf(link, sizeof link, "daybook://setup?server=http%%3A%%2F%%2F127.0.0.1%%3A%d&code=%s",
             f->relay.port, tc_setup_code(&f->srv, "Counselor S"));

    relay_arm(&f->relay, RELAY_LOSE);
    dbk_run_result r = tc_cli("enroll", link, NULL);
    assert_int_not_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &me, NULL), 1);
    r = tc_cli("enroll", link, NULL);
    if (r.status != 0)
        fail_msg("setup again after the lost answer: exit %d: %s%s", r.status, r.out, r.err);
    assert_non_null(strstr(r.out, "Counselor account ready"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    tc_ok(tc_cli("invite", NULL), "counselor invite");
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &me, NULL), 1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM devices WHERE account = x'%s'", &me, NULL),
                     1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM streams WHERE owner = x'%s'", &me, NULL), 1);
    /* A setup code has no check before it is used: the retry sent it again, and the
     * server answered 410, creating nothing. */
    assert_int_equal(relay_count(&f->relay, &f->relay.enrolls), 2);
    setenv("DAYBOOK_HOME", f->home, 1);
}

/* The code of f's link (22 characters after "code="). */
static void
code_of(const char *uri, char code[DBK_ID_TEXT_LEN + 1])
{
    const char *c = strstr(uri, "code=");
    assert_non_null(c);
    memcpy(code, c + 5, DBK_ID_TEXT_LEN);
    code[DBK_ID_TEXT_LEN] = '\0';
}

static void
test_code_used_by_another(void **state)
{
    struct fx *f = *state;
    tc_account thief, late;
    char code[DBK_ID_TEXT_LEN + 1];
    long st;

    /* Never sent by this device: someone else used it first. */
    code_of(f->uri, code);
    tc_account_init(&thief, false, "another passphrase");
    json_decref(tc_enroll(&f->srv, &thief, code, &st));
    assert_int_equal(st, 201);
    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "already used or has expired"));
    dbk_run_result_free(&r);
    assert_int_equal(relay_count(&f->relay, &f->relay.enrolls), 0);

    /* Sent by this device, but its request never arrived; then someone else used it.
     * The login finds no such account: the same clear answer, nothing enrolled. */
    char *uri2 = tc_invite_uri(&f->via, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    relay_arm(&f->relay, RELAY_DROP);
    r = tc_cli("enroll", uri2, "--yes", NULL);
    assert_int_not_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     0);
    code_of(uri2, code);
    tc_account_init(&late, false, "a third passphrase");
    json_decref(tc_enroll(&f->srv, &late, code, &st));
    assert_int_equal(st, 201);
    r = tc_cli("enroll", uri2, "--yes", NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "already used or has expired"));
    dbk_run_result_free(&r);
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     0);
    assert_int_equal(
        count_of(f, "SELECT count(*) FROM devices WHERE account = x'%s'", &f->me, NULL), 0);
    r = tc_cli("sync", NULL);
    assert_int_not_equal(r.status, 0);
    dbk_run_result_free(&r);
    free(uri2);
    tc_account_free(&thief);
    tc_account_free(&late);
}

/* ---- a lying server during a recovery ---- */

/* What a lying server answers (relay_rewrite): an error with this code and status. */
struct lie {
    long status;
    const char *code;
};

static void
lie_error(void *arg, long *status, json_t **body)
{
    const struct lie *l = arg;
    json_decref(*body);
    *status = l->status;
    *body = json_pack("{s:{s:s, s:s}}", "error", "code", l->code, "message", "lie");
}

/* The login's offer with KDF parameters below the floors (same salt). */
static void
lie_weak_kdf(void *arg, long *status, json_t **body)
{
    (void)arg;
    json_t *kdf = json_object_get(*body, "kdf");
    assert_int_equal(*status, 200);
    json_object_set_new(kdf, "opslimit", json_integer(1));
    json_object_set_new(kdf, "memlimit", json_integer(8192));
}

/* The login's offer with the server's own salt: what an unknown account gets. */
static void
lie_other_salt(void *arg, long *status, json_t **body)
{
    unsigned char salt[16];
    char b[DBK_B64_ENCODED_LEN(16) + 1];
    (void)arg;
    assert_int_equal(*status, 200);
    randombytes_buf(salt, sizeof salt);
    dbk_b64_encode(b, sizeof b, salt, sizeof salt);
    json_object_set_new(json_object_get(*body, "kdf"), "salt", json_string(b));
}

/* The login's answer with fields replaced by arg's (keys and values, NULL-ended). */
static void
lie_field(void *arg, long *status, json_t **body)
{
    const char *const *kv = arg;
    for (; *status == 200 && kv[0] != NULL; kv += 2)
        json_object_set_new(*body, kv[0], json_string(kv[1]));
}

/* One value from the profile's meta table into out (NUL-terminated), its length, or -1
 * when absent. */
static int
profile_meta(const struct fx *f, const char *key, char *out, size_t cap)
{
    char path[4300];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;

    snprintf(path, sizeof path, "%s/daybook.db", f->home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_bytes(st, 0);
        snprintf(out, cap, "%.*s", n, (const char *)sqlite3_column_blob(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* What a refused recovery (or enrollment) must leave: the profile enrolled nowhere and
 * holding no token, the counselor neither pinned nor granted anything. Returns what
 * leaked, counted: 0 is the only right answer. */
static int
leaked(struct fx *f)
{
    char v[512];
    int n = 0;
    n += profile_meta(f, "server", v, sizeof v) > 0;
    n += profile_meta(f, "token", v, sizeof v) >= 0;
    n += profile_meta(f, "counselor", v, sizeof v) >= 0;
    n += (int)count_of(f, SHARED_SQL, &f->me, &f->me);
    return n;
}

/* The same enroll again with one lying rule (after the rules from index keep on are
 * dropped): it fails, saying said when not NULL, and nothing leaked. */
static void
enroll_refused(struct fx *f, int keep, const char *req, bool forward, relay_rewrite *fn, void *arg,
               const char *said)
{
    relay_rules_off(&f->relay, keep);
    relay_on(&f->relay, req, forward, fn, arg);
    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    if (r.status == 0)
        fail_msg("enroll with a lie at %s succeeded: %s%s", req, r.out, r.err);
    if (said != NULL)
        assert_non_null(strstr(r.err, said));
    dbk_run_result_free(&r);
    assert_int_equal(leaked(f), 0);
}

/* A server that calls a code used (410), or this account's id taken (409), when this
 * device never sent it: told as it is, and the device never logs in (no login proof,
 * no passphrase asked for). The same code again, now that it was sent but never
 * reached the server (a lie, again): the device asks the server as a recovery, finds
 * no such account, and sends no login proof either. Fails when the recovery runs on
 * any 410 or 409 (the sent record not asked), or when it signs the challenge of an
 * offer whose KDF parameters are not the ones it sent. */
static void
test_lie_used_code_never_sent(void **state)
{
    struct fx *f = *state;
    static struct lie gone = {410, "gone"}, conflict = {409, "conflict"};
    int starts = relay_on(&f->relay, "POST /v1/login/start ", true, NULL, NULL);
    int finishes = relay_on(&f->relay, "POST /v1/login/finish ", true, NULL, NULL);
    int rules = f->relay.nrules;

    /* 410 at the check before the code is used, then 409 at the enrollment itself. */
    enroll_refused(f, rules, "POST /v1/enroll/check ", false, lie_error, &gone,
                   "already used or has expired");
    enroll_refused(f, rules, "POST /v1/enroll ", false, lie_error, &conflict, NULL);
    assert_int_equal(relay_hits(&f->relay, starts), 0); /* never asked */

    /* Sent now (the 409 was to a request the server never saw): a 410 for it makes the
     * device ask, and the server has no such account. */
    enroll_refused(f, rules, "POST /v1/enroll ", false, lie_error, &gone,
                   "already used or has expired");
    assert_int_equal(relay_hits(&f->relay, starts), 1);
    assert_int_equal(relay_hits(&f->relay, finishes), 0); /* no login proof sent */
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     0);

    /* The code was never used: with the server honest again, it enrolls, once. */
    relay_rules_off(&f->relay, rules);
    tc_ok(tc_cli("enroll", f->uri, "--yes", NULL), "honest enroll after the lies");
    check_enrolled_once(f, 1);
    dbk_report("enrollment recovery: used code or taken id, never sent",
               "relay answers 410 at /v1/enroll/check and 409, then 410, at /v1/enroll",
               "0 logins on the unsent code, 0 login proofs on the sent one, 0 leaked; then "
               "one honest enrollment");
}

/* During a recovery the server offers its own KDF parameters: below the floors (a
 * cheap derivation), or a salt other than the one sent (an unknown account's). The
 * device sends no login proof for either, and nothing is enrolled; then the honest
 * offer recovers once. Fails when the device signs for an offer whose parameters are
 * not those it sent. */
static void
test_lie_kdf_during_recovery(void **state)
{
    struct fx *f = *state;
    int finishes = relay_on(&f->relay, "POST /v1/login/finish ", true, NULL, NULL);
    int rules = f->relay.nrules;

    lose_first_answer(f);
    enroll_refused(f, rules, "POST /v1/login/start ", true, lie_weak_kdf, NULL, NULL);
    assert_int_equal(relay_hits(&f->relay, finishes), 0);
    enroll_refused(f, rules, "POST /v1/login/start ", true, lie_other_salt, NULL,
                   "already used or has expired");
    assert_int_equal(relay_hits(&f->relay, finishes), 0);

    relay_rules_off(&f->relay, rules);
    tc_ok(tc_cli("enroll", f->uri, "--yes", NULL), "recovery with the honest offer");
    assert_int_equal(relay_hits(&f->relay, finishes), 1);
    check_enrolled_once(f, 1);
    dbk_report("enrollment recovery: the server's own KDF offer",
               "login/start rewritten: opslimit 1 memlimit 8192; then another salt",
               "0 login proofs sent, 0 leaked; the honest offer then recovers once");
}

/* The login that stands in for the lost answer answers for another role, or with a
 * token and an id of another account: refused, nothing stored or shared; a second
 * recovery, honest, then finishes once. Fails without the role check, and without
 * the check that the token opens this account (cmd_enroll.c token_is_mine): then the
 * profile keeps the other account's token, the server and the counselor (3 leaked). */
static void
test_lie_login_answer(void **state)
{
    struct fx *f = *state;
    static const char *role[] = {"role", "counselor", NULL};
    static char account[DBK_ID_TEXT_LEN + 1];
    static const char *acct[] = {"account", account, "token", NULL, NULL};
    tc_account other;
    int rules = f->relay.nrules;

    tc_new_client(&f->srv, &other, &f->co); /* its token is the one offered */
    dbk_id_to_text(&other.id, account);
    acct[3] = other.token;
    lose_first_answer(f);

    enroll_refused(f, rules, "POST /v1/login/finish ", true, lie_field, (void *)role, NULL);
    enroll_refused(f, rules, "POST /v1/login/finish ", true, lie_field, (void *)acct, NULL);

    relay_rules_off(&f->relay, rules);
    tc_ok(tc_cli("enroll", f->uri, "--yes", NULL), "a second recovery, honest");
    check_enrolled_once(f, 1);
    tc_account_free(&other);
    dbk_report("enrollment recovery: the login's answer lies",
               "login/finish rewritten: role counselor for a client; another account's id",
               "0 tokens stored, 0 grants, 0 pins; a later honest recovery finishes once");
}

/* Whether the file at path (absent: no) holds needle's bytes anywhere. */
static bool
file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    size_t len = 0, cap = 1 << 16, got;
    char *all;
    bool has;

    if (fp == NULL)
        return false;
    all = malloc(cap);
    assert_non_null(all);
    while ((got = fread(all + len, 1, cap - len, fp)) > 0)
        if ((len += got) == cap)
            assert_non_null(all = realloc(all, cap *= 2));
    fclose(fp);
    has = memmem(all, len, needle, strlen(needle)) != NULL;
    free(all);
    return has;
}

/* The code and the passphrase are never on disk, the record of the sent enrollment is
 * (a hash and the server), and it goes once the recovery stores its answer. Fails
 * when the record stays after the recovery. */
static void
test_sent_record_on_disk(void **state)
{
    struct fx *f = *state;
    char code[DBK_ID_TEXT_LEN + 1], v[512], path[4300];
    const char *files[] = {"daybook.db", "daybook.db-wal"};

    code_of(f->uri, code);
    lose_first_answer(f);
    assert_int_equal(profile_meta(f, "enroll_sent", v, sizeof v), 32);
    assert_int_equal(profile_meta(f, "enroll_sent_server", v, sizeof v),
                     (int)strlen("http://127.0.0.1:") +
                         snprintf(path, sizeof path, "%d", f->relay.port));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", f->home, files[i]);
        assert_false(file_has(path, code));
        assert_false(file_has(path, "a long client passphrase"));
    }
    tc_ok(tc_cli("enroll", f->uri, "--yes", NULL), "recovery");
    assert_int_equal(profile_meta(f, "enroll_sent", v, sizeof v), -1);
    assert_int_equal(profile_meta(f, "enroll_sent_server", v, sizeof v), -1);
    check_enrolled_once(f, 1);
}

/* Runs sql on the profile's own database file (a real SQLite file, as the CLI opens it). */
static void
profile_exec(const struct fx *f, const char *sql)
{
    char path[4300];
    sqlite3 *db = NULL;

    snprintf(path, sizeof path, "%s/daybook.db", f->home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A write of the recovery's answer that fails (the profile's role refused by a trigger,
 * as a full disk would refuse it): the recovery fails and keeps nothing of the answer,
 * not the token without the role, and the record stays; the same enroll once the writes
 * succeed again finishes it. Fails when a failed write is ignored and the token
 * committed without it (the recovery then says it enrolled). */
static void
test_failed_write_keeps_nothing(void **state)
{
    struct fx *f = *state;
    char v[512];

    lose_first_answer(f);
    profile_exec(f, "CREATE TRIGGER refuse_role BEFORE INSERT ON meta WHEN NEW.key = 'role' "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END");
    dbk_run_result r = tc_cli("enroll", f->uri, "--yes", NULL);
    int status = r.status;
    dbk_run_result_free(&r);
    int left = leaked(f), role = profile_meta(f, "role", v, sizeof v);
    int record = profile_meta(f, "enroll_sent", v, sizeof v);
    profile_exec(f, "DROP TRIGGER refuse_role");
    dbk_report("enrollment recovery with a failed write",
               "answer lost; the profile's role refused while the recovery stores its answer; "
               "then the same enroll",
               "exit %d, %d leaked, role %s, sent record %s; then recovered once", status, left,
               role >= 0 ? "stored" : "absent", record == 32 ? "kept" : "gone");
    if (status == 0)
        fail_msg("the recovery said it enrolled though the role was not stored");
    assert_int_equal(left, 0);
    assert_int_equal(record, 32);
    tc_ok(tc_cli("enroll", f->uri, "--yes", NULL), "recovery once the writes succeed");
    check_enrolled_once(f, 1);
}

/* A server restored from a backup taken before the enrollment: the code is gone with
 * every pending invite, and so is the account. The device asks, finds no such account,
 * says the code is used or expired, sends no login proof and shares nothing; a new
 * code from the counselor then enrolls it once. Fails when the device signs an offer
 * whose KDF parameters are not the ones it sent (the unknown account's fake ones). */
static void
test_restored_server_forgot_the_account(void **state)
{
    struct fx *f = *state;
    char backup[4300];
    dbk_run_result r;

    if (dbk_test_pg()) {
        skip(); /* a backup of the SQLite file; the PostgreSQL restore is restore_storm's */
        return;
    }
    int finishes = relay_on(&f->relay, "POST /v1/login/finish ", true, NULL, NULL);
    snprintf(backup, sizeof backup, "%s/backup.db", f->home);
    const char *bk[] = {dbk_bin("DAYBOOKD"), "backup", backup, "--data-dir", f->srv.data_dir, NULL};
    assert_int_equal(dbk_run(bk, NULL, 60, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    lose_first_answer(f);

    assert_int_equal(dbk_server_stop(&f->srv), 0);
    const char *rs[] = {dbk_bin("DAYBOOKD"), "restore",       backup,
                        "--data-dir",        f->srv.data_dir, NULL};
    assert_int_equal(dbk_run(rs, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("restore: %s", r.err);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
    assert_int_equal(count_of(f, "SELECT count(*) FROM accounts WHERE id = x'%s'", &f->me, NULL),
                     0);

    r = tc_cli("enroll", f->uri, "--yes", NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "already used or has expired"));
    dbk_run_result_free(&r);
    assert_int_equal(relay_hits(&f->relay, finishes), 0);
    assert_int_equal(leaked(f), 0);

    f->co.token[0] = '\0'; /* the restore ended every session */
    assert_int_equal(tc_login(&f->srv, &f->co, "counselor passphrase", NULL), 200);
    char *uri2 = tc_invite_uri(&f->via, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    r = tc_cli("enroll", uri2, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll with a new code after the restore: %s%s", r.out, r.err);
    dbk_run_result_free(&r);
    free(uri2);
    check_enrolled_once(f, 2); /* the lost one (restored away) and the new one */
    dbk_report("enrollment recovery against a restored server",
               "answer lost, server restored from a backup taken before it, same code again",
               "\"already used or has expired\", 0 login proofs, 0 leaked; a new code "
               "enrolls once");
}

/* The link uri with the counselor's own name (by=, R11) appended; malloc'd. */
static char *
with_by(const char *uri, const char *by)
{
    char *out = NULL;
    assert_true(asprintf(&out, "%s&by=%s", uri, by) > 0);
    return out;
}

/* Whether the profile's counselor (the one its consent goes to) is id. */
static bool
profile_counselor_is(const struct fx *f, const dbk_id *id)
{
    char path[4300];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool is = false;

    snprintf(path, sizeof path, "%s/daybook.db", f->home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'counselor'", -1, &st, NULL),
        SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        is = sqlite3_column_bytes(st, 0) == DBK_ID_BYTES &&
             memcmp(sqlite3_column_blob(st, 0), id->b, DBK_ID_BYTES) == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return is;
}

/* Counselor co's caseload entries for the client, and how many have an active grant. */
static size_t
caseload_entries(struct fx *f, const tc_account *co, size_t *active)
{
    long st;
    json_t *cl = tc_req(&f->srv, co, "GET", "/v1/caseload", NULL, &st), *it;
    char me[DBK_ID_TEXT_LEN + 1];
    size_t i, n = 0;

    assert_int_equal(st, 200);
    dbk_id_to_text(&f->me, me);
    *active = 0;
    json_array_foreach(json_object_get(cl, "clients"), i, it)
    {
        const char *acct = json_string_value(json_object_get(it, "account"));
        const char *gs = json_string_value(json_object_get(it, "grant_state"));
        if (acct == NULL || strcmp(acct, me) != 0)
            continue;
        n++;
        *active += gs != NULL && strcmp(gs, "active") == 0;
    }
    json_decref(cl);
    return n;
}

/*
 * After a lost answer, a new code from another counselor (proto/README.md 4.3): the
 * server refuses this account id (409), and the device recovers the account as with
 * its first counselor's new code. The user was handed this code with its counselor's
 * fingerprint: that counselor's keys are checked against it, pinned and offered the
 * consent; the first counselor, whose account the server made and who never got a
 * consent, gets nothing and is not trusted, and the user is told. The new code stays
 * unused, and a try refused with 409 (it created nothing) leaves the earlier try's
 * record, so a try after a failed recovery still knows whose code made the account.
 * Fails without the notice of the other counselor (client/commands/cmd_enroll.c,
 * said_other_counselor), and without the record kept (sent_restore).
 */
static void
test_new_code_from_another_counselor(void **state)
{
    struct fx *f = *state;
    tc_account other;
    unsigned char key[32], pk[32];
    char *consent = NULL;
    dbk_id stream;
    size_t active;
    long st;

    char *first = with_by(f->uri, "Dana%20R.");
    free(f->uri);
    f->uri = first;
    lose_first_answer(f);
    tc_new_counselor(&f->srv, &other, "Counselor N");
    char *bare = tc_invite_uri(&f->via, &other, other.keys->sign_pk, other.keys->box_pk);
    char *uri2 = with_by(bare, "Nico%20B.");
    free(bare);

    /* The recovery refused once (the login's answer is another role's): the record of
     * the first try is kept, and the next try still knows whose code that was. */
    static const char *const role[] = {"role", "counselor", NULL};
    int rule = relay_on(&f->relay, "POST /v1/login/finish ", true, lie_field, (void *)role);
    dbk_run_result r = tc_cli("enroll", uri2, "--yes", NULL);
    assert_int_not_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(relay_hits(&f->relay, rule), 1);
    assert_int_equal(leaked(f), 0);
    relay_rules_off(&f->relay, 0);

    r = tc_cli("enroll", uri2, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll with another counselor's code after the lost answer: exit %d: %s%s",
                 r.status, r.out, r.err);
    if (strstr(r.out, "first made with a code from Dana R.") == NULL ||
        strstr(r.out, "Nothing was shared with them") == NULL ||
        strstr(r.out, "counselor of this code (Nico B.)") == NULL)
        fail_msg("the other counselor not told: %s", r.out);
    assert_non_null(strstr(r.out, "matches the code"));
    dbk_run_result_free(&r);
    free(uri2);

    tc_ok(tc_cli("journal", "-m", "after the recovery", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync after recovery");
    assert_int_equal(relay_count(&f->relay, &f->relay.enrolls), 3); /* two refused with 409 */
    assert_int_equal(
        count_of(f, "SELECT count(*) FROM devices WHERE account = x'%s'", &f->me, NULL), 1);
    /* The code's counselor: pinned, and the one grant with the consent. */
    assert_true(profile_counselor_is(f, &other.id));
    assert_int_equal(count_of(f, SHARED_SQL, &f->me, &f->me), 1);
    assert_true(tc_counselor_stream(&f->srv, &other, &f->me, &stream, key, pk, &consent));
    assert_non_null(consent);
    free(consent);
    assert_int_equal(caseload_entries(f, &other, &active), 1);
    assert_int_equal(active, 1);
    /* The first counselor: their caseload lists the account the server made, with
     * nothing shared and nothing readable. */
    assert_false(tc_counselor_stream(&f->srv, &f->co, &f->me, &stream, key, pk, NULL));
    assert_int_equal(count_of(f,
                              "SELECT count(*) FROM grants WHERE grantee = x'%s' AND stream IN "
                              "(SELECT id FROM streams WHERE owner = x'%s')",
                              &f->co.id, &f->me),
                     0);
    caseload_entries(f, &f->co, &active);
    assert_int_equal(active, 0);
    /* The new code was not used up. */
    json_t *inv = tc_req(&f->srv, &other, "GET", "/v1/invites", NULL, &st), *it;
    size_t i, pending = 0;
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(inv, "invites"), i, it)
    {
        const char *state_ = json_string_value(json_object_get(it, "state"));
        pending += state_ != NULL && strcmp(state_, "pending") == 0;
    }
    json_decref(inv);
    assert_int_equal(pending, 1);
    tc_account_free(&other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lost_answer_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_before_answer_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_keys_during_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_on_a_terminal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_code_after_lost_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_code_from_another_counselor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counselor_setup_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_used_by_another, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lie_used_code_never_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lie_kdf_during_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lie_login_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sent_record_on_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_server_forgot_the_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_nothing, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
