/*
 * Network faults between the real daybook CLI and the real daybookd, through the TCP
 * proxy of tests/support/proxy.c: connections reset at random byte offsets in both
 * directions (among them after the server committed a push and before the client
 * heard of it), stalls longer than the client's timeout, and half-closed connections.
 * After each fault a sync through the clean proxy succeeds and every entry the client
 * logged is on the server exactly once; at the end the outbox is empty, the client's
 * log shows each entry, `daybookd check` passes and the client's SQLite file is intact.
 * Besides: a sync's requests share one connection, and its bearer token leaves no copy in
 * its heap (read from /proc/PID/mem while it is stopped).
 *
 * The offsets are random: the seed is printed, and DAYBOOK_TEST_SEED=N replays a run.
 */
#define _GNU_SOURCE /* memmem */
#include "tc.h"

#include "dbk/init.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* daybookd's idle and request timeouts here: short, so a dead connection ends soon. */
#define SERVER_TIMEOUT_MS 2000
/* The CLI's timeout in the stall test (DAYBOOK_NET_TIMEOUT_SECONDS; 60 s by default). */
#define CLIENT_TIMEOUT_S 3
/* On top of a timeout before it counts as not kept: process start-up under ASan, a
 * busy machine. Without the timeouts these waits would last the whole stall. */
#define SLACK_MS 2500
/* A stall outlasts both timeouts, so only they can end it. */
#define STALL_HOLD_MS 9000
/* The server closes a half-closed connection on the EOF itself, not by a timer. */
#define EOF_CLOSE_MS 1000

#define CUT_ROUNDS 24
#define RAW_ROUNDS 8
#define STALL_ROUNDS 4
#define HALF_ROUNDS 6

#define MARK "net-entry-"

struct fx {
    dbk_server srv;
    dbk_server via; /* the same server, as the CLI sees it: through the proxy */
    dbk_proxy *px;
    char *home;
    tc_account co;
    dbk_id me;
    int logged; /* entries written with the CLI, marked MARK0000, MARK0001... */
    uint64_t rng;
};

/* What a user would check after the faults. */
struct tally {
    int entries;    /* logged with the CLI */
    int lost;       /* logged and not on the server */
    int duplicates; /* extra copies of an entry, and envelopes stored more than once */
    int foreign;    /* records on the server that are none of the entries */
};

/* splitmix64: small, and the same sequence on every machine for a seed. */
static uint64_t
rnd(struct fx *f)
{
    uint64_t z = (f->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t
below(struct fx *f, size_t n)
{
    return n > 0 ? (size_t)(rnd(f) % n) : 0;
}

static uint64_t
seed(void)
{
    const char *v = getenv("DAYBOOK_TEST_SEED");
    uint64_t s = v != NULL && *v != '\0' ? strtoull(v, NULL, 10)
                                         : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    print_message("seed %llu (DAYBOOK_TEST_SEED=%llu replays this run)\n", (unsigned long long)s,
                  (unsigned long long)s);
    return s;
}

static int
setup(void **state)
{
    static const char *const args[] = {"--idle-timeout-ms", STR(SERVER_TIMEOUT_MS),
                                       "--request-timeout-ms", STR(SERVER_TIMEOUT_MS), NULL};
    struct fx *f = calloc(1, sizeof *f);
    char pass[4096], *uri;
    dbk_run_result r;
    json_t *j;
    FILE *p;

    assert_non_null(f);
    assert_int_equal(dbk_server_start(&f->srv, args), 0);
    f->px = dbk_proxy_start(f->srv.port);
    f->via = f->srv; /* shares dir and data_dir: never cleaned up itself */
    f->via.port = dbk_proxy_port(f->px);
    snprintf(f->via.base_url, sizeof f->via.base_url, "http://127.0.0.1:%d", f->via.port);

    f->home = dbk_tmpdir("netfault");
    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    p = fopen(pass, "w");
    assert_non_null(p);
    fputs("a long client passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_HOME", f->home, 1);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    /* Keys cached in the kernel keyring (no Argon2id per command); teardown locks. */
    setenv("DAYBOOK_UNLOCK_SECONDS", "300", 1);
    unsetenv("DAYBOOK_NET_TIMEOUT_SECONDS");

    tc_new_counselor(&f->srv, &f->co, "Counselor N");
    r = tc_cli("--json", "init", NULL);
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    const char *a = json_string_value(json_object_get(j, "account"));
    assert_non_null(a);
    assert_int_equal(dbk_id_from_text(&f->me, a, strlen(a)), 0);
    json_decref(j);
    dbk_run_result_free(&r);
    /* The invite names the proxy's port: every request of the CLI goes through it. */
    uri = tc_invite_uri(&f->via, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "enroll");
    free(uri);
    tc_ok(tc_cli("unlock", NULL), "unlock");
    f->rng = seed();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    dbk_run_result r = tc_cli("lock", NULL);

    dbk_run_result_free(&r);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
    unsetenv("DAYBOOK_NET_TIMEOUT_SECONDS");
    dbk_proxy_stop(f->px);
    dbk_server_cleanup(&f->srv);
    dbk_rmtree(f->home);
    free(f->home);
    tc_account_free(&f->co);
    free(f);
    return 0;
}

/* One entry with the CLI: cravings and journal entries in turn, each with its mark. */
static void
log_entry(struct fx *f)
{
    char mark[32], n[8];

    snprintf(mark, sizeof mark, MARK "%04d", f->logged);
    snprintf(n, sizeof n, "%d", f->logged % 8);
    if (f->logged % 2 == 0)
        tc_ok(tc_cli("craving", "--intensity", n, "--outcome", "resisted", "--note", mark, NULL),
              "craving");
    else
        tc_ok(tc_cli("journal", "-m", mark, NULL), "journal");
    f->logged++;
}

/* A sync through the clean proxy: it succeeds and leaves nothing waiting. Returns how
 * many entries it sent (acknowledged now, stored now or before). */
static int
clean_sync(struct fx *f)
{
    dbk_run_result r;
    json_t *j;
    int pushed;

    dbk_proxy_arm(f->px, NULL);
    r = tc_cli("--json", "sync", NULL);
    j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    if (j == NULL || json_integer_value(json_object_get(j, "pending")) != 0)
        fail_msg("sync through the clean proxy: exit %d: %s%s", r.status, r.out, r.err);
    pushed = (int)json_integer_value(json_object_get(j, "pushed"));
    json_decref(j);
    dbk_run_result_free(&r);
    assert_true(dbk_proxy_wait_idle(f->px, 10000));
    return pushed;
}

/*
 * Where the second answer starts in down (what the proxy kept of the answers): past the
 * first final answer's status line, at the next status line. An interim 1xx answer (a
 * "100 Continue") belongs to the answer after it: libcurl (7.88) sends "Expect:
 * 100-continue" with a body over 1 MiB (EXPECT_100_THRESHOLD; the pushes here are a few
 * KiB, a long offline backlog's are not), and daybookd answers it. NULL when down holds
 * fewer than two answers.
 */
static const char *
second_answer(const char *down)
{
    const char *at = down;
    while ((at = strstr(at, "HTTP/1.1 ")) != NULL && at[9] == '1')
        at++; /* an interim answer */
    return at != NULL ? strstr(at + 1, "HTTP/1.1 ") : NULL;
}

/* Where the second request (answer) starts in what was kept of dir: the first one's size
 * (a sync's requests share one connection). */
static size_t
first_exchange(struct fx *f, dbk_proxy_dir dir)
{
    size_t len;
    char *kept = dbk_proxy_captured(f->px, dir, &len);
    const char *two = NULL;
    if (kept != NULL && dir == DBK_PROXY_DOWN)
        two = second_answer(kept);
    else if (kept != NULL && (two = strstr(kept, "\r\nHost: ")) != NULL)
        two = strstr(two + 1, "\r\nHost: ");
    assert_non_null(two);
    if (dir == DBK_PROXY_UP) /* back to the start of its request line */
        while (two > kept && two[-1] != '\n')
            two--;
    size_t n = (size_t)(two - kept);
    free(kept);
    return n;
}

/* Bytes each way of the first request of a sync pushing two entries, its push: where
 * offsets fall. */
static void
measure(struct fx *f, size_t size[2])
{
    /* First the day's once-only records (the consent's copy made at enrollment, the
     * first journal entry's tick of "journaling"), so the sync measured below carries
     * the two entries alone, as every later one does. */
    log_entry(f);
    log_entry(f);
    clean_sync(f);
    log_entry(f);
    log_entry(f);
    dbk_proxy_capture(f->px, 4u << 20);
    clean_sync(f);
    /* An answer preceded by a 100 Continue is one answer (second_answer). */
    static const char two_answers[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
                                      "HTTP/1.1 200 OK\r\n";
    assert_ptr_equal(second_answer(two_answers), strstr(two_answers, "{}") + 2);
    size[DBK_PROXY_UP] = first_exchange(f, DBK_PROXY_UP);
    size[DBK_PROXY_DOWN] = first_exchange(f, DBK_PROXY_DOWN);
    dbk_proxy_capture(f->px, 0);
    assert_true(size[DBK_PROXY_UP] > 0 && size[DBK_PROXY_DOWN] > 0);
}

/*
 * `daybook sync` with fault armed. Returns whether it fired; *st gets the proxy's
 * figures once the connection is over, *ms how long the CLI ran. A fault that fired
 * must have failed the sync with a message that nothing is lost, unless expect_ok.
 */
static bool
faulted_sync(struct fx *f, const dbk_proxy_fault *fault, bool expect_ok, dbk_proxy_stats *st,
             long *ms)
{
    dbk_proxy_stats before;
    dbk_run_result r;
    long long t0;
    bool fired;

    dbk_proxy_stats_get(f->px, &before);
    dbk_proxy_arm(f->px, fault);
    t0 = dbk_now_ms();
    r = tc_cli("--json", "sync", NULL);
    *ms = (long)(dbk_now_ms() - t0);
    dbk_proxy_arm(f->px, NULL); /* a fault that did not fire must not hit the next sync */
    assert_true(dbk_proxy_wait_idle(f->px, STALL_HOLD_MS + 5000));
    dbk_proxy_stats_get(f->px, st);
    fired = st->fired > before.fired;
    if (fired && expect_ok && r.status != 0)
        fail_msg("sync through a passing fault failed: %s", r.err);
    if (fired && !expect_ok && (r.status != 1 || strstr(r.err, "nothing is lost") == NULL))
        fail_msg("sync through a fault: exit %d, stdout %s, stderr %s", r.status, r.out, r.err);
    if (!fired && r.status != 0) /* the offset was past this sync's bytes */
        fail_msg("sync with a fault that did not fire: %s", r.err);
    dbk_run_result_free(&r);
    return fired;
}

/*
 * What the counselor's device can read of the client's shared stream, entry by entry:
 * each mark counted. Each stored write takes the next sequence number of the stream,
 * and the client only ever creates entries here, so a stream whose high_seq exceeds
 * its records stored some envelope twice.
 */
static struct tally
server_tally(struct fx *f)
{
    struct tally t = {.entries = f->logged};
    int *seen = calloc((size_t)f->logged + 1, sizeof *seen);
    unsigned char key[32], pk[32];
    long long since = 0, high = 0;
    int records = 0, heads = 0;
    bool more = true;
    tc_account author;
    dbk_id stream;

    assert_non_null(seen);
    assert_true(tc_counselor_stream(&f->srv, &f->co, &f->me, &stream, key, pk, NULL));
    memset(&author, 0, sizeof author);
    author.id = f->me;
    author.keys = dbk_account_keys_from_secrets(key, key); /* only sign_pk is used */
    memcpy(author.keys->sign_pk, pk, 32);
    while (more) {
        char path[256];
        long st;
        size_t i;
        json_t *resp, *e;

        snprintf(path, sizeof path, "%s?since=%lld", tc_path("/v1/streams/%s/records", &stream),
                 since);
        resp = tc_req(&f->srv, &f->co, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        json_array_foreach(json_object_get(resp, "records"), i, e) {
            char *pt = tc_open(json_string_value(json_object_get(e, "envelope")), &author, &stream,
                               1, key);
            json_t *doc = pt ? json_loads(pt, 0, NULL) : NULL;
            const char *m = json_string_value(json_object_get(doc, "note"));
            int idx;
            if (m == NULL)
                m = json_string_value(json_object_get(doc, "text"));
            const char *type = json_string_value(json_object_get(doc, "type"));
            if (m != NULL && sscanf(m, MARK "%d", &idx) == 1 && idx >= 0 && idx < f->logged)
                seen[idx]++;
            else if (type != NULL && strcmp(type, "head") == 0)
                heads++; /* the stream head (proto/TRUST.md T12) */
            else if (type == NULL || strcmp(type, "checklist_day") != 0)
                t.foreign++; /* a journal entry's own tick of "journaling" is not foreign */
            records++;
            json_decref(doc);
            free(pt);
        }
        since = json_integer_value(json_object_get(resp, "next"));
        high = json_integer_value(json_object_get(resp, "high_seq"));
        more = json_is_true(json_object_get(resp, "more"));
        json_decref(resp);
    }
    dbk_account_keys_free(author.keys);
    for (int i = 0; i < f->logged; i++) {
        t.lost += seen[i] == 0;
        t.duplicates += seen[i] > 1 ? seen[i] - 1 : 0;
    }
    /* One seq per record, and one per head revision but the stored one: the client
     * writes a new head after each record it adds (T12), which replaces the last. */
    int head_gaps = heads > 0 ? records - heads - 1 : 0;
    if (high > records + head_gaps)
        t.duplicates += (int)(high - records - head_gaps);
    free(seen);
    return t;
}

/* One check after a fault. *worst keeps the most entries lost (or copies too many) at
 * any check, so a loss is counted once however many checks see it again. */
static void
check_round(struct fx *f, struct tally *worst)
{
    struct tally t = server_tally(f);
    worst->entries = t.entries;
    worst->lost = t.lost > worst->lost ? t.lost : worst->lost;
    worst->duplicates = t.duplicates > worst->duplicates ? t.duplicates : worst->duplicates;
    worst->foreign = t.foreign > worst->foreign ? t.foreign : worst->foreign;
    if (t.foreign != 0)
        fail_msg("%d records on the server are none of the client's entries", t.foreign);
}

static void
client_integrity(const char *home, char *out, size_t cap)
{
    char path[4200];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    snprintf(path, sizeof path, "%s/daybook.db", home);
    snprintf(out, cap, "cannot open the local file");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/*
 * The end of every scenario: the outbox is empty, the client's log shows each entry,
 * the client's file passes PRAGMA integrity_check, and after a clean stop the server's
 * passes `daybookd check` (integrity and the audit chain).
 */
static void
final_checks(struct fx *f)
{
    const char *argv[] = {dbk_bin("DAYBOOKD"), "check", "--data-dir", f->srv.data_dir, NULL};
    char integrity[256];
    dbk_run_result r;
    json_t *j;

    r = tc_cli("--json", "status", NULL);
    assert_int_equal(r.status, 0);
    if (strstr(r.out, "\"pending\":0") == NULL)
        fail_msg("the outbox is not empty: %s", r.out);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "log", "--type", "craving", NULL);
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    size_t shown = json_array_size(j);
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "log", "--type", "journal", NULL);
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    shown += json_array_size(j);
    assert_int_equal(shown, (size_t)f->logged);
    json_decref(j);
    dbk_run_result_free(&r);
    client_integrity(f->home, integrity, sizeof integrity);
    assert_string_equal(integrity, "ok");

    assert_int_equal(dbk_server_stop(&f->srv), 0); /* drains although connections died */
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("daybookd check: %s%s", r.out, r.err);
    dbk_run_result_free(&r);
}

/*
 * Connections reset (RST both ways) at random byte offsets of the request or of the
 * response. A reset response means the server had committed the push and the client
 * heard nothing: the next sync sends the same envelopes again, and they must not be
 * stored twice. A reset request stored nothing: the entries must stay in the outbox.
 */
static void
test_cuts_at_random_offsets(void **state)
{
    struct fx *f = *state;
    struct tally worst = {0};
    int cuts[2] = {0, 0}, whole_answer = 0, resent = 0;
    size_t size[2];

    measure(f, size);
    for (int round = 0; round < CUT_ROUNDS; round++) {
        dbk_proxy_fault fault = {.kind = DBK_PROXY_CUT};
        dbk_proxy_stats st;
        long ms;

        log_entry(f);
        log_entry(f);
        fault.dir = (rnd(f) & 1) ? DBK_PROXY_DOWN : DBK_PROXY_UP;
        /* A quarter of the response cuts lose the whole answer, not only part of it. */
        fault.after =
            fault.dir == DBK_PROXY_DOWN && below(f, 4) == 0 ? 0 : below(f, size[fault.dir]);
        bool fired = faulted_sync(f, &fault, false, &st, &ms);
        int pushed = clean_sync(f);
        if (fired) {
            cuts[fault.dir]++;
            whole_answer += fault.dir == DBK_PROXY_DOWN && fault.after == 0;
            /* The server had them; daybook never heard so and sent them again. */
            resent += fault.dir == DBK_PROXY_DOWN ? pushed : 0;
        }
        check_round(f, &worst);
    }
    print_message("%d cuts in requests, %d in responses (%d before the first byte)\n",
                  cuts[DBK_PROXY_UP], cuts[DBK_PROXY_DOWN], whole_answer);
    dbk_report("network cuts",
               "TCP proxy between daybook and daybookd resets the connection at a random byte "
               "of the request or of the answer (sent after the server committed); a clean "
               "sync after each",
               "%d cuts (%d in requests, %d in answers, after which daybook re-sent %d entries "
               "the server already held); %d entries, all checked after every cut: losses: %d, "
               "duplicates: %d",
               cuts[0] + cuts[1], cuts[DBK_PROXY_UP], cuts[DBK_PROXY_DOWN], resent, worst.entries,
               worst.lost, worst.duplicates);
    assert_int_equal(worst.lost, 0);
    assert_int_equal(worst.duplicates, 0);
    assert_true(cuts[DBK_PROXY_UP] > 0 && cuts[DBK_PROXY_DOWN] > 0);
    final_checks(f);
}

/* POST /v1/streams/{stream}/records through the proxy; the parsed answer, or NULL when
 * no whole answer arrived. */
static json_t *
raw_push(struct fx *f, const tc_account *cl, const char *url, const char *body, long *status)
{
    char auth[128];
    const char *hdrs[] = {auth, NULL};
    dbk_http_resp r;
    json_t *j = NULL;

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", cl->token);
    *status = 0;
    if (dbk_http("POST", url, hdrs, body, strlen(body), &r) == 0) {
        *status = r.status;
        j = dbk_http_json(&r);
    }
    dbk_http_resp_free(&r);
    assert_true(dbk_proxy_wait_idle(f->px, 10000));
    return j;
}

/* How many results of a push answer say `result`. */
static int
results_say(json_t *resp, const char *result)
{
    size_t i;
    json_t *e;
    int n = 0;
    json_array_foreach(json_object_get(resp, "results"), i, e) {
        n += strcmp(json_string_value(json_object_get(e, "result")), result) == 0;
    }
    return n;
}

/*
 * The protocol under the CLI, with real envelopes: a push whose answer is reset after
 * the server committed is sent again, and every record is stored once ("duplicate" on
 * the retry, its sequence number unchanged); a push reset mid-request stored nothing
 * ("stored" on the retry).
 */
static void
test_push_answer_lost_after_commit(void **state)
{
    enum { PER_PUSH = 5 };
    struct fx *f = *state;
    tc_account cl;
    dbk_id ids[(RAW_ROUNDS + 1) * PER_PUSH];
    int n = 0, lost_answers = 0, cut_requests = 0, redone = 0, restored = 0;
    int lost = 0, duplicates = 0;
    size_t size[2] = {0, 0};
    char url[512];
    long st;

    clean_sync(f); /* the CLI's own records from enrollment (its copy of the consent) */
    tc_new_client(&f->srv, &cl, &f->co);
    snprintf(url, sizeof url, "%s%s", f->via.base_url,
             tc_path("/v1/streams/%s/records", &cl.shared));
    for (int round = 0; round <= RAW_ROUNDS; round++) {
        json_t *recs = json_array(), *body, *resp;
        dbk_proxy_fault fault = {.kind = DBK_PROXY_CUT};
        dbk_proxy_stats ps;
        char *text;

        for (int k = 0; k < PER_PUSH; k++, n++) {
            char pt[96];
            dbk_id_random(&ids[n]);
            snprintf(pt, sizeof pt, "{\"type\":\"journal\",\"v\":1,\"text\":\"raw %d\"}", n);
            json_array_append_new(
                recs, json_pack("{s:o}", "envelope",
                                tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &ids[n], pt)));
        }
        body = json_pack("{s:o}", "records", recs);
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (round == 0) { /* a clean push first: the size of an answer */
            dbk_proxy_arm(f->px, NULL);
            resp = raw_push(f, &cl, url, text, &st);
            assert_int_equal(st, 200);
            assert_int_equal(results_say(resp, "stored"), PER_PUSH);
            json_decref(resp);
            dbk_proxy_stats_get(f->px, &ps);
            size[DBK_PROXY_UP] = ps.first_up;
            size[DBK_PROXY_DOWN] = ps.first_down;
            free(text);
            continue;
        }
        /* Odd rounds cut the request, even ones the answer (half of them before its
         * first byte); the server answers only after its commit. */
        fault.dir = round % 2 ? DBK_PROXY_UP : DBK_PROXY_DOWN;
        fault.after = fault.dir == DBK_PROXY_DOWN && round % 4 == 0 ? 0 : below(f, size[fault.dir]);
        dbk_proxy_stats_get(f->px, &ps);
        int fired = ps.fired;
        dbk_proxy_arm(f->px, &fault);
        resp = raw_push(f, &cl, url, text, &st);
        dbk_proxy_arm(f->px, NULL);
        dbk_proxy_stats_get(f->px, &ps);
        assert_int_equal(ps.fired, fired + 1);
        assert_null(resp); /* no whole answer came back */
        resp = raw_push(f, &cl, url, text, &st);
        assert_int_equal(st, 200);
        if (fault.dir == DBK_PROXY_DOWN) {
            lost_answers++;
            redone += results_say(resp, "duplicate"); /* a second copy shows below */
        } else {
            cut_requests++;
            restored += results_say(resp, "stored"); /* nothing was kept of half a push */
        }
        json_decref(resp);
        free(text);
    }
    /* The stream as its owner reads it: each record once, one sequence number each. */
    {
        int *seen = calloc((size_t)n, sizeof *seen), records = 0;
        long long since = 0, high = 0;
        bool more = true;
        assert_non_null(seen);
        while (more) {
            char path[256];
            size_t i;
            json_t *e, *resp;
            snprintf(path, sizeof path, "%s?since=%lld",
                     tc_path("/v1/streams/%s/records", &cl.shared), since);
            resp = tc_req(&f->srv, &cl, "GET", path, NULL, &st);
            assert_int_equal(st, 200);
            json_array_foreach(json_object_get(resp, "records"), i, e) {
                char *pt = tc_open(json_string_value(json_object_get(e, "envelope")), &cl,
                                   &cl.shared, 1, cl.shared_key[1]);
                const char *m = pt != NULL ? strstr(pt, "raw ") : NULL;
                int k = -1;
                assert_non_null(m);
                assert_int_equal(sscanf(m, "raw %d", &k), 1);
                assert_true(k >= 0 && k < n);
                seen[k]++;
                records++;
                free(pt);
            }
            since = json_integer_value(json_object_get(resp, "next"));
            high = json_integer_value(json_object_get(resp, "high_seq"));
            more = json_is_true(json_object_get(resp, "more"));
            json_decref(resp);
        }
        for (int k = 0; k < n; k++) {
            lost += seen[k] == 0;
            duplicates += seen[k] > 1 ? seen[k] - 1 : 0;
        }
        if (high > records)
            duplicates += (int)(high - records);
        free(seen);
    }
    dbk_report("acknowledgement lost after commit",
               "a push of real envelopes through the TCP proxy, its answer reset after the "
               "server committed (or its request reset midway), then sent again",
               "%d records checked; %d pushes lost their answer, on retry %d records were "
               "already stored; %d pushes cut midway stored nothing until sent again; "
               "losses: %d, duplicates: %d",
               n, lost_answers, redone, cut_requests, lost, duplicates);
    assert_int_equal(lost, 0);
    assert_int_equal(duplicates, 0);
    assert_int_equal(redone, lost_answers * PER_PUSH); /* committed before the answer */
    assert_int_equal(restored, cut_requests * PER_PUSH);
    tc_account_free(&cl);
    final_checks(f);
}

/*
 * The network stops moving for longer than anyone waits: once with the answer held
 * (the server committed, the client hears nothing) and once with the request held
 * midway (the server has part of it). `daybook sync` gives up by its own timeout
 * with a message and exit 1, and the next sync succeeds; daybookd closes the dead
 * connection by its idle or request timeout. A short stall is only slowness.
 */
static void
test_stalls_end_by_timeouts(void **state)
{
    struct fx *f = *state;
    struct tally worst = {0};
    dbk_proxy_fault fault = {.kind = DBK_PROXY_STALL, .dir = DBK_PROXY_DOWN, .hold_ms = 300};
    dbk_proxy_stats st;
    long ms, worst_client = 0, worst_server = 0;
    int stalls = 0, server_kept = 0;
    size_t size[2];

    setenv("DAYBOOK_NET_TIMEOUT_SECONDS", STR(CLIENT_TIMEOUT_S), 1);
    measure(f, size);
    log_entry(f);
    assert_true(faulted_sync(f, &fault, true, &st, &ms)); /* late, and fine */
    check_round(f, &worst);
    for (int round = 0; round < STALL_ROUNDS; round++) {
        fault.dir = round % 2 ? DBK_PROXY_UP : DBK_PROXY_DOWN;
        fault.after = below(f, size[fault.dir]);
        fault.hold_ms = STALL_HOLD_MS;
        log_entry(f);
        log_entry(f);
        assert_true(faulted_sync(f, &fault, false, &st, &ms));
        stalls++;
        print_message("stall %s after %zu bytes: daybook gave up after %ld ms, daybookd closed "
                      "its end after %ld ms\n",
                      fault.dir == DBK_PROXY_UP ? "in the request" : "in the answer", fault.after,
                      ms, st.server_closed_ms);
        worst_client = ms > worst_client ? ms : worst_client;
        if (st.server_closed_ms < 0)
            server_kept++; /* still open when the stall ended */
        else if (st.server_closed_ms > worst_server)
            worst_server = st.server_closed_ms;
        clean_sync(f);
        check_round(f, &worst);
    }
    dbk_report("network stalls",
               "TCP proxy stops all traffic of a sync for longer than the client's and the "
               "server's timeouts, midway through the request or the answer; a clean sync after "
               "each",
               "%d stalls: daybook sync failed after at most %.1f s (timeout %d s) and the next "
               "one succeeded; daybookd closed %d of the %d dead connections, within %.1f s "
               "(timeouts %.1f s); %d entries, all checked after every stall: losses: %d, "
               "duplicates: %d",
               stalls, (double)worst_client / 1000, CLIENT_TIMEOUT_S, stalls - server_kept, stalls,
               (double)worst_server / 1000, (double)SERVER_TIMEOUT_MS / 1000, worst.entries,
               worst.lost, worst.duplicates);
    assert_true(worst_client >= CLIENT_TIMEOUT_S * 1000 - 500); /* by the timeout, not else */
    assert_true(worst_client <= CLIENT_TIMEOUT_S * 1000 + SLACK_MS);
    assert_int_equal(server_kept, 0);
    assert_true(worst_server <= SERVER_TIMEOUT_MS + SLACK_MS);
    assert_int_equal(worst.lost, 0);
    assert_int_equal(worst.duplicates, 0);
    final_checks(f);
}

/*
 * Half-closed connections: toward daybookd midway through the request (it reads EOF
 * and must close at once, storing nothing), and toward daybook midway through the
 * answer (the server committed; the client must not take half an answer, not even
 * half a header block, for one).
 */
static void
test_half_closed_connections(void **state)
{
    struct fx *f = *state;
    struct tally worst = {0};
    int halves[2] = {0, 0}, server_kept = 0;
    long worst_server = 0;
    size_t size[2];

    measure(f, size);
    for (int round = 0; round < HALF_ROUNDS; round++) {
        dbk_proxy_fault fault = {.kind = DBK_PROXY_HALF_CLOSE};
        dbk_proxy_stats st;
        long ms;

        fault.dir = round % 2 ? DBK_PROXY_DOWN : DBK_PROXY_UP;
        /* The first answer ends inside its header block, past the status line and
         * before Content-Length ("HTTP/1.1 200 OK\r\n" is 17 bytes, Content-Type the
         * next 32): libcurl takes that and EOF for a whole answer with no body. */
        fault.after = round == 1 ? 17 + below(f, 32) : below(f, size[fault.dir]);
        log_entry(f);
        log_entry(f);
        if (faulted_sync(f, &fault, false, &st, &ms)) {
            halves[fault.dir]++;
            if (fault.dir == DBK_PROXY_UP && st.server_closed_ms < 0)
                server_kept++; /* open until the CLI left, and the proxy with it */
            else if (fault.dir == DBK_PROXY_UP && st.server_closed_ms > worst_server)
                worst_server = st.server_closed_ms;
        }
        clean_sync(f);
        check_round(f, &worst);
    }
    dbk_report("half-closed connections",
               "TCP proxy half-closes (shutdown SHUT_WR) toward daybookd midway through the "
               "request, or toward daybook midway through the answer; a clean sync after each",
               "%d half-closes (%d toward the server, which closed %d of those connections "
               "itself, within %ld ms; %d toward the client); %d entries, all checked after "
               "every half-close: losses: %d, duplicates: %d",
               halves[0] + halves[1], halves[DBK_PROXY_UP], halves[DBK_PROXY_UP] - server_kept,
               worst_server, halves[DBK_PROXY_DOWN], worst.entries, worst.lost, worst.duplicates);
    assert_true(halves[DBK_PROXY_UP] > 0 && halves[DBK_PROXY_DOWN] > 0);
    assert_int_equal(server_kept, 0);
    assert_true(worst_server <= EOF_CLOSE_MS);
    assert_int_equal(worst.lost, 0);
    assert_int_equal(worst.duplicates, 0);
    final_checks(f);
}

/* The header block of the first request in sent (what the proxy kept) whose request
 * line starts with line, from that line to its blank line; "" when there is none. */
static void
request_head(const char *sent, const char *line, char *out, size_t cap)
{
    const char *at = strstr(sent, line), *end = at != NULL ? strstr(at, "\r\n\r\n") : NULL;
    size_t n = end != NULL ? (size_t)(end - at) : 0;
    n = n < cap - 1 ? n : cap - 1;
    memcpy(out, at != NULL ? at : "", n);
    out[n] = '\0';
}

/* Of sent: the token went with the requests that need it, and not with the request
 * that must not carry it (help-lines: dbk_net_call with_token false), which `daybook
 * sync` makes last, on the connection its token requests used. */
static void
token_only_where_asked(const char *sent)
{
    char pushed[4096], help[4096];
    request_head(sent, "POST /v1/sync ", pushed, sizeof pushed);
    request_head(sent, "GET /v1/help-lines ", help, sizeof help);
    if (pushed[0] == '\0' || help[0] == '\0' ||
        strstr(sent, "POST /v1/sync ") > strstr(sent, "GET /v1/help-lines "))
        fail_msg("the sync's requests are not the ones expected: %.2000s", sent);
    assert_non_null(strstr(pushed, "\r\nAuthorization: Bearer "));
    if (strstr(help, "Authorization") != NULL)
        fail_msg("the bearer token went with a request made without it:\n%s", help);
}

/*
 * A command's requests share one connection: a sync that pushes and pulls (grants,
 * streams, the sync rounds: several requests) opens exactly one TCP connection to the
 * server, where a libcurl handle per request opened one per request (and over HTTPS
 * one TLS handshake each). Counted by the proxy, in front of the real daybookd. On
 * that one connection, the token goes only with the requests made with it.
 */
static void
test_one_connection_per_command(void **state)
{
    struct fx *f = *state;
    dbk_proxy_stats before, after;

    log_entry(f);
    clean_sync(f);
    log_entry(f);
    dbk_proxy_arm(f->px, NULL);
    dbk_proxy_stats_get(f->px, &before);
    dbk_proxy_capture(f->px, 4u << 20);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    assert_true(dbk_proxy_wait_idle(f->px, 10000));
    dbk_proxy_stats_get(f->px, &after);
    size_t len;
    char *sent = dbk_proxy_captured(f->px, DBK_PROXY_UP, &len);
    dbk_proxy_capture(f->px, 0);
    assert_non_null(sent);
    token_only_where_asked(sent);
    free(sent);
    json_t *j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    if (j == NULL || json_integer_value(json_object_get(j, "pushed")) < 1)
        fail_msg("sync: exit %d: %s%s", r.status, r.out, r.err);
    json_decref(j);
    dbk_run_result_free(&r);
    dbk_report("one connection per command",
               "`daybook sync` that pushes one entry and pulls, through a TCP proxy that counts "
               "the connections it accepts",
               "%d TCP connection(s) for the whole sync", after.connections - before.connections);
    assert_int_equal(after.connections - before.connections, 1);
    final_checks(f);
}

/* Copies of needle in [from, to) of pid's memory, read from /proc/PID/mem. */
static int
copies_in(int mem, unsigned long from, unsigned long to, const char *needle)
{
    size_t n = strlen(needle), len = to - from;
    char *buf = malloc(len);
    int count = 0;
    assert_non_null(buf);
    assert_int_equal(pread(mem, buf, len, (off_t)from), (ssize_t)len);
    for (const char *at = buf; (at = memmem(at, len - (size_t)(at - buf), needle, n)) != NULL; at++)
        count++;
    free(buf);
    return count;
}

/* Copies of needle in pid's heap ([heap] in /proc/PID/maps, the main thread's arena,
 * where every request is made) and, in *arenas, in its other anonymous writable
 * mappings (other threads' arenas, their stacks). */
static int
heap_copies(pid_t pid, const char *needle, int *arenas)
{
    char path[64], line[512];
    unsigned long from, to;
    int heap = -1;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int mem = open(path, O_RDONLY);
    assert_non_null(maps);
    assert_true(mem >= 0);
    *arenas = 0;
    while (fgets(line, sizeof line, maps) != NULL) {
        char perms[8] = "", name[256] = "";
        unsigned long off, inode;
        int got =
            sscanf(line, "%lx-%lx %7s %lx %*s %lu %255s", &from, &to, perms, &off, &inode, name);
        if (got < 5 || perms[0] != 'r' || perms[1] != 'w')
            continue;
        if (strcmp(name, "[heap]") == 0)
            heap = copies_in(mem, from, to, needle);
        else if (inode == 0 && name[0] == '\0')
            *arenas += copies_in(mem, from, to, needle);
    }
    fclose(maps);
    close(mem);
    assert_true(heap >= 0);
    return heap;
}

/* The bearer token the proxy saw on the first request that carried one. */
static void
token_sent(struct fx *f, char *out, size_t cap)
{
    size_t len;
    char *sent = dbk_proxy_captured(f->px, DBK_PROXY_UP, &len);
    const char *at = sent != NULL ? strstr(sent, "\r\nAuthorization: Bearer ") : NULL;
    assert_non_null(at);
    at += strlen("\r\nAuthorization: Bearer ");
    size_t n = strcspn(at, "\r\n");
    assert_true(n >= 16 && n < cap);
    memcpy(out, at, n);
    out[n] = '\0';
    free(sent);
}

/* The copies of the token found while a `daybook sync` that pushed one entry was
 * stopped (DAYBOOK_TEST_NET_STOP): the most left after any of its requests, and those
 * left once its network was closed; in its heap and in its other anonymous mappings. */
struct left {
    int heap, arenas;         /* after a request, the most */
    int heap_end, arenas_end; /* at dbk_net_close */
    int stops;
};

/* Waits (60 s at most) until pid stops or exits; its status in *st. */
static void
wait_stop(pid_t pid, int *st)
{
    long long end = dbk_now_ms() + 60000;
    while (waitpid(pid, st, WUNTRACED | WNOHANG) == 0) {
        if (dbk_now_ms() > end)
            kill(pid, SIGKILL); /* and fails below */
        usleep(5000);
    }
}

/* What is counted at each stop of a stopped sync: needle (the token, taken from the
 * proxy at the first stop when f is set and needle is still empty) and its copies. */
struct watch {
    struct fx *f;
    char needle[128];
    struct left l;
};

static void
count_at_stop(pid_t pid, struct watch *w)
{
    int heap, arenas;
    if (w->needle[0] == '\0' && w->f != NULL) /* the first request, the grants', carries it */
        token_sent(w->f, w->needle, sizeof w->needle);
    assert_true(w->needle[0] != '\0');
    heap = heap_copies(pid, w->needle, &arenas);
    w->l.heap = heap > w->l.heap ? heap : w->l.heap;
    w->l.arenas = arenas > w->l.arenas ? arenas : w->l.arenas;
    w->l.heap_end = heap; /* the last stop is dbk_net_close's */
    w->l.arenas_end = arenas;
    w->l.stops++;
}

/*
 * `daybook --json sync` (the profile DAYBOOK_HOME names), stopped (SIGSTOP,
 * DAYBOOK_TEST_NET_STOP=how) after each request, once it freed what that request used,
 * and once its network is closed (the session closed, libcurl ended): w's needle
 * counted at each stop. It must then finish and succeed.
 */
static void
stopped_sync(const char *how, struct watch *w)
{
    const char *daybook = dbk_bin("DAYBOOK");
    pid_t pid, parent = getpid();
    int st = 0;

    setenv("DAYBOOK_TEST_NET_STOP", how, 1);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        /* Killed with this test, should it end while the sync is stopped: a stopped
         * orphan would hold ctest's pipe open until its timeout. */
        int null = open("/dev/null", O_WRONLY);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent || null < 0 ||
            dup2(null, STDOUT_FILENO) < 0)
            _exit(127);
        execl(daybook, "daybook", "--json", "sync", (char *)NULL);
        _exit(127);
    }
    unsetenv("DAYBOOK_TEST_NET_STOP");
    for (wait_stop(pid, &st); WIFSTOPPED(st); wait_stop(pid, &st)) {
        count_at_stop(pid, w);
        kill(pid, SIGCONT);
    }
    sodium_memzero(w->needle, sizeof w->needle);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(w->l.stops >= 3); /* requests, and the close */
}

/* The token's copies in the heap of a `daybook sync` pushing one entry (stopped_sync). */
static struct left
token_left_after_sync(struct fx *f, const char *how)
{
    struct watch w = {.f = f};

    log_entry(f);
    dbk_proxy_arm(f->px, NULL);
    dbk_proxy_capture(f->px, 4u << 20);
    stopped_sync(how, &w);
    dbk_proxy_capture(f->px, 0);
    assert_true(dbk_proxy_wait_idle(f->px, 10000));
    return w.l;
}

/* The figures of a heap test: what whose blocks wiped (wiped) and on the plain free
 * (plain, DAYBOOK_TEST_NET_STOP=stop-unwiped) left. */
static void
report_left(const char *what, const char *setup, const char *whose, struct left wiped,
            struct left plain)
{
    dbk_report(what, setup,
               "%s blocks wiped as freed: at most %d copies in [heap] and %d in other "
               "anonymous mappings after a request (%d stops), %d and %d at the end; with "
               "the plain free: %d and %d after a request, %d and %d at the end",
               whose, wiped.heap, wiped.arenas, wiped.stops, wiped.heap_end, wiped.arenas_end,
               plain.heap, plain.arenas, plain.heap_end, plain.arenas_end);
}

/*
 * The bearer token leaves no copy in the heap of a `daybook sync`, neither after any of
 * its requests nor once its network is closed: libcurl's blocks (the header list, the
 * request it built, its buffers) are wiped as it frees them (net.c,
 * curl_global_init_mem). Read from /proc/PID/mem while the process is stopped. The same
 * sync with libcurl on the plain free (DAYBOOK_TEST_NET_STOP=stop-unwiped) must leave
 * copies, or this test could not see the leak it guards against.
 */
static void
test_no_token_left_in_heap(void **state)
{
    struct fx *f = *state;

#if defined(__SANITIZE_ADDRESS__)
    /* Under AddressSanitizer the heap is its allocator's (freed blocks held in its
     * quarantine, terabytes of shadow among the anonymous mappings), not glibc's
     * [heap] that this test reads; the wiping itself runs in every other test there. */
    skip();
#endif
    clean_sync(f); /* the day's once-only records: the syncs below are alike */
    struct left plain = token_left_after_sync(f, "stop-unwiped");
    struct left wiped = token_left_after_sync(f, "stop");
    report_left("token in freed heap",
                "`daybook sync` pushing one entry, stopped after each request and at the end; "
                "its memory read from /proc/PID/mem and searched for the bearer token it sent",
                "libcurl's", wiped, plain);
    assert_true(plain.heap + plain.arenas > 0);
    assert_int_equal(wiped.heap + wiped.arenas, 0);
    assert_int_equal(wiped.heap_end + wiped.arenas_end, 0);
    final_checks(f);
}

/* Entries opened by the counselor's sync in test_no_entry_left_in_heap. With one, its
 * freed blocks were all reused or given back to the system by the end of the sync (0
 * copies left with the plain free too, 4 runs of 4); with 20, 8 copies were left. */
#define MARKED_ENTRIES 12

/* The client writes MARKED_ENTRIES journal entries holding a new marker and syncs; the
 * counselor's `daybook --json sync` (stopped_sync, DAYBOOK_TEST_NET_STOP=how) pulls and
 * opens them for the caseload's summaries, printing none of their text (book/entries.c
 * parse_plain: jansson's json_loadb): the marker's copies. */
static struct left
entry_left_after_sync(tc_pair_fx *f, const char *how)
{
    struct watch w = {.f = NULL};
    unsigned char r[8];
    char hex[2 * sizeof r + 1], text[256];

    randombytes_buf(r, sizeof r);
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(w.needle, sizeof w.needle, "heap-marker-%s", hex);
    /* The marker well inside the text: a freed block's first 16 bytes are glibc's own
     * (the free list's links), which would hide a marker at the start. */
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (int i = 0; i < MARKED_ENTRIES; i++) {
        snprintf(text, sizeof text, "went to group tonight, felt fine after: %s (%d)", w.needle, i);
        tc_ok(tc_cli("journal", "-m", text, NULL), "journal");
    }
    tc_ok(tc_cli("sync", NULL), "client sync");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    stopped_sync(how, &w);
    return w.l;
}

/*
 * A client's entry, decrypted by the counselor's `daybook sync` for the caseload's
 * summaries, leaves no copy of its text in that process's memory once its network is
 * closed: jansson's blocks (the document's tree: main.c, json_set_alloc_funcs) are wiped
 * as it frees them, as libcurl's are. With jansson and libcurl on the plain free
 * (stop-unwiped) copies are left, or this test could not see what it guards against.
 * Only the end is asserted: between requests the pulled documents are still in use.
 */
static void
test_no_entry_left_in_heap(void **state)
{
    tc_pair_fx *f = *state;

#if defined(__SANITIZE_ADDRESS__)
    skip(); /* its allocator's heap, not glibc's: see test_no_token_left_in_heap */
#endif
    struct left plain = entry_left_after_sync(f, "stop-unwiped");
    struct left wiped = entry_left_after_sync(f, "stop");
    report_left("entry text in freed heap",
                "a client's journal entries with a new marker, synced; the counselor's "
                "`daybook --json sync` that opens them for the summaries, stopped after each "
                "request and at the end; its memory searched for the marker",
                "jansson's and libcurl's", wiped, plain);
    assert_true(plain.heap_end + plain.arenas_end > 0);
    assert_int_equal(wiped.heap_end + wiped.arenas_end, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cuts_at_random_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_answer_lost_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalls_end_by_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_closed_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_connection_per_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_token_left_in_heap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_entry_left_in_heap, tc_pair_setup,
                                        tc_pair_teardown),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
